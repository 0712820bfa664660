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
#include "ruleid.h"

struct config;
struct state;
struct request;
struct tenant;

enum ns_class { NS_TENANT, NS_ENTRY, NS_OUTSIDE };

/* One broken rule, keyed by (rule, subject) so UPDATE can tell old violations from new. */
struct violation {
	enum rule_id rule;
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
	const struct state   *older;       /* first-come collisions: st, or the audit's objects
	                                    * created before this one (same owner ids as st) */
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
void rules_violation(struct rule_ctx *ctx, enum rule_id rule, const char *subject, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));
/* Reports that the rule could not be evaluated (code 500: the apiserver's failurePolicy decides). */
void rules_internal(struct rule_ctx *ctx, enum rule_id rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reports a shape error (request-invalid, code 400). */
void rules_invalid(struct rule_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rules_warn(struct rule_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The audit's view of one existing object `req->object` (a CREATE request built for it): the
 * per-kind rules only, into *out — who may write (entry-admin, managed-object, tenant-label)
 * concerns a request's author, which an existing object no longer has. First-come
 * collisions are looked up in `older`, everything else in st. desc receives the object's
 * description ("Ingress ns/name"). Returns the object's tenant (NULL: none).
 */
const struct tenant *policy_audit_object(const struct config *cfg, const struct state *st,
    const struct state *older, const struct request *req, time_t now, struct violations *out,
    char *desc, size_t descsz);

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
