/* SPDX-License-Identifier: Apache-2.0 */
/* owner: who owns a host, a bridge Service name or a cluster Service address. */
#ifndef TG_OWNER_H
#define TG_OWNER_H
#include <stdbool.h>
#include <stddef.h>

struct config;
struct rule_ctx;
struct state;
struct tenant;

/* Verdict of host ownership for one normalised pattern (see owner.c). */
enum host_verdict {
	HOST_OK,
	HOST_FOREIGN,      /* another tenant's, the platform's, overlaps a reservation, or a
	                    * first-come claim of a public suffix (firstcome_public_suffix) */
	HOST_UNREGISTERED, /* nobody reserved it and unregisteredDomains is deny */
	HOST_COLLISION,    /* first-come: another owner holds an overlapping live claim */
};

/*
 * Decides whether the owner described by ctx (its tenant, or the outside namespace) may claim
 * `pattern`; `as_tenant` overrides ctx->tenant when non-NULL (entry-namespace certificates).
 * On refusal writes a sentence (without the host) into why; it never names another tenant.
 */
enum host_verdict owner_check(const struct rule_ctx *ctx, const struct tenant *as_tenant,
    const char *pattern, char *why, size_t whysz);

/* The tenant that owns `pattern` by the registry or a live first-come claim, or NULL. */
const struct tenant *owner_of_route(const struct config *cfg, const struct state *st,
    const char *pattern, char *why, size_t whysz);

/* True when `pattern` is the system domain, below it, or covers part of it. */
bool owner_touches_system(const struct config *cfg, const char *pattern);

/* Tenant named by a bridge Service name "<tenant>-gateway", or NULL. */
const struct tenant *owner_bridge_tenant(const struct config *cfg, const char *service);

/* What a DNS name resolves to from a pod in the cluster (see owner_cluster_name). */
enum cluster_name {
	CLUSTER_NAME_PUBLIC,   /* a name outside the cluster */
	CLUSTER_NAME_OWN,      /* one label: the asker's own namespace, by the search path */
	CLUSTER_NAME_NS,       /* a Service or pod name in the namespace copied to ns */
	CLUSTER_NAME_OTHER,    /* under clusterDomain (or cluster-only) with no namespace */
};

/*
 * Classifies normalised host `host` as a pod's resolver sees it (search path
 * "<ns>.svc.<cd> svc.<cd> <cd>", so a short name is tried inside the cluster first):
 * "x.ns.svc[.<cd>]" and "x.ns.pod[.<cd>]" name namespace ns; any other name under <cd>, and
 * localhost with the names below it (host_is_loopback), is OTHER; "svc.ns" (or "host.sub.ns") whose last label is no top-level domain of the public
 * suffix list resolves as "svc.ns.svc.<cd>", so it names namespace ns. Names ending in a
 * listed top-level domain are PUBLIC (cfg->psl NULL: only the .svc/.pod forms are cluster
 * names).
 */
enum cluster_name owner_cluster_name(const struct config *cfg, const char *host, char *ns,
    size_t nssz);

/*
 * True when a tenant (ctx->tenant, not NULL) may send traffic into namespace `ns`: its own
 * namespace and its configured backendNamespaces. NULL (no namespace named) is its own.
 */
bool owner_backend_ns_allowed(const struct rule_ctx *ctx, const char *ns);

#endif
