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

/* Per-kind checks of one object (the new one, or the old one for grandfathering). */
void rules_ingress(struct rule_ctx *ctx, const json_t *obj);
void rules_httproute(struct rule_ctx *ctx, const json_t *obj);
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

#endif
