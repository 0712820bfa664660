/* SPDX-License-Identifier: Apache-2.0 */
/* rules: what the per-kind rule modules share — the request context and the violation list. */
#ifndef TG_RULES_H
#define TG_RULES_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "host.h"
#include "jsonget.h"

struct config;
struct state;
struct request;
struct tenant;

enum ns_class { NS_TENANT, NS_ENTRY, NS_OUTSIDE };

/*
 * Rule ids added for the tenant escape paths (issue 11, DESIGN §2); the older ids are still
 * written where they are used. One place, so a rule-id table can take them over as they are.
 */
#define RULE_INGRESS_ANNOTATION "ingress-annotation"
#define RULE_REGISTRY_NAMESPACE "registry-namespace"

/* One broken rule, keyed by (rule, subject) so UPDATE can tell old violations from new. */
struct violation {
	const char *rule;
	int         code;
	char        subject[HOST_MAX + 64];
	char        message[700];
};

#define RULES_MAX_VIOLATIONS 32
#define RULES_MAX_WARNINGS   16

struct violations {
	struct violation v[RULES_MAX_VIOLATIONS];
	size_t           n;
	char             warnings[RULES_MAX_WARNINGS][128];
	size_t           n_warnings;
};

/* Everything a rule module may look at; built once per request by policy.c. */
struct rule_ctx {
	const struct config  *cfg;
	const struct state   *st;
	const struct request *req;
	time_t                now;
	bool                  admin;
	enum ns_class         ns_class;
	const struct tenant  *tenant;      /* NS_TENANT: the namespace's tenant */
	uint32_t              tenant_idx;
	uint32_t              owner_id;    /* the namespace's owner in st, or CLAIMS_NO_OWNER */
	const char           *object_desc; /* "Ingress tenant1-gateway/name" */
	struct violations    *out;         /* where the module reports; swapped for oldObject */
};

/* Reports a violation; `subject` identifies the offending value for grandfathering. */
void rules_violation(struct rule_ctx *ctx, const char *rule, const char *subject, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));
/* Reports that the rule could not be evaluated (code 500: the apiserver's failurePolicy decides). */
void rules_internal(struct rule_ctx *ctx, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reports a shape error (request-invalid, code 400). */
void rules_invalid(struct rule_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rules_warn(struct rule_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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
 * "x.ns.svc[.<cd>]" and "x.ns.pod[.<cd>]" name namespace ns; any other name under <cd> is
 * OTHER; "svc.ns" (or "host.sub.ns") whose last label is no top-level domain of the public
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

/*
 * Ingress annotations (rules_annotation.c), in tenant and outside namespaces: keys that
 * inject controller configuration (ingress-nginx *-snippet and ingress.deniedAnnotations,
 * unless ingress.allowedAnnotations lets them through: ingress-annotation) and, in tenant
 * namespaces, Higress/ingress-nginx annotations naming a Service or Secret in a namespace
 * the tenant may not reach (backend-namespace).
 */
void rules_ingress_annotations(struct rule_ctx *ctx, const json_t *obj);

/* Per-kind checks of one object (the new one, or the old one for grandfathering). */
void rules_ingress(struct rule_ctx *ctx, const json_t *obj);
/* Gateway API routes (HTTPRoute, GRPCRoute, TLSRoute): hostnames, parentRefs, backendRefs. */
void rules_route(struct rule_ctx *ctx, const json_t *obj);
/* Gateway API Gateway and ListenerSet: listener hostnames, a ListenerSet's parent. */
void rules_listeners(struct rule_ctx *ctx, const json_t *obj);
/* Istio VirtualService: hosts, gateways, route destinations (rules_istio.c). */
void rules_virtualservice(struct rule_ctx *ctx, const json_t *obj);
/* Istio Gateway: servers[].hosts as "namespace/host". */
void rules_istio_gateway(struct rule_ctx *ctx, const json_t *obj);
/*
 * Checks one host a tenant or outside namespace claims (host-invalid, host-ownership,
 * host-collision); `where` says where it was found. The normalised host goes to norm
 * (empty when invalid).
 */
void rules_claimed_host(struct rule_ctx *ctx, const json_t *h, const char *where, char *norm);
void rules_service(struct rule_ctx *ctx, const json_t *obj);
void rules_secret(struct rule_ctx *ctx, const json_t *obj);
void rules_namespace(struct rule_ctx *ctx, const json_t *obj);
/*
 * Tenant objects (tenantguard.io): shape and names (request-invalid, also for a config-file
 * tenant's name), each customDomains entry (host-invalid, host-ownership for the system
 * domain or another tenant's reservation, host-collision with another owner's live claim)
 * and, on UPDATE, a dropped domain still used by the tenant's objects (tenant-domain-in-use).
 */
void rules_tenant(struct rule_ctx *ctx, const json_t *obj);
/*
 * Higress McpBridge (networking.higress.io) in a tenant namespace: registry types outside
 * registries.allowedTypes, Nacos namespaces the tenant does not own (or none: "public"),
 * dns registries resolving cluster names outside its namespaces (registry-namespace).
 */
void rules_mcpbridge(struct rule_ctx *ctx, const json_t *obj);

#endif
