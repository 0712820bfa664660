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
	HOST_FOREIGN,      /* belongs to another tenant, the platform, or overlaps a reservation */
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

/*
 * The namespace a cluster Service address "svc.ns.svc[.clusterDomain]" points into, copied
 * to ns; false for names outside the cluster.
 */
bool owner_service_namespace(const struct config *cfg, const char *host, char *ns, size_t nssz);

#endif
