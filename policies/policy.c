/* SPDX-License-Identifier: Apache-2.0 */
/* policy: builds the request context, applies the who-may-write rules, then the per-kind rules. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "claims.h"
#include "config.h"
#include "names.h"
#include "policy.h"
#include "rules.h"
#include "state.h"


typedef void (*kind_rules)(struct rule_ctx *, const json_t *);

/* The kinds tenantguard decides on; everything else is allowed untouched. */
static const struct {
	const char *group;
	const char *kind;
	kind_rules  rules;   /* NULL: only the who-may-write rules apply */
} kinds[] = {
	{ "networking.k8s.io",         "Ingress",       rules_ingress },
	{ "gateway.networking.k8s.io", "HTTPRoute",     rules_route },
	{ "gateway.networking.k8s.io", "GRPCRoute",     rules_route },
	{ "gateway.networking.k8s.io", "TLSRoute",      rules_route },
	{ "gateway.networking.k8s.io", "Gateway",       rules_listeners },
	{ "gateway.networking.k8s.io", "ListenerSet",   rules_listeners },
	{ "networking.istio.io",       "VirtualService", rules_virtualservice },
	{ "networking.istio.io",       "Gateway",       rules_istio_gateway },
	{ "",                          "Service",       rules_service },
	{ "",                          "Secret",        rules_secret },
	{ "",                          "Namespace",     rules_namespace },
	{ "tenantguard.io",            "Tenant",        rules_tenant },
	{ "networking.higress.io",     "McpBridge",     rules_mcpbridge },
	{ "networking.k8s.io",         "NetworkPolicy", NULL },
	{ "",                          "ResourceQuota", NULL },
};

static void
vadd(struct rule_ctx *ctx, enum rule_id rule, int code, const char *subject, const char *fmt,
    va_list ap)
{
	struct violations *o = ctx->out;
	if (o->n >= RULES_MAX_VIOLATIONS)
		return;
	struct violation *v = &o->v[o->n++];
	v->rule = rule;
	v->code = code;
	decision_text_fit(v->subject, sizeof(v->subject),
	    snprintf(v->subject, sizeof(v->subject), "%s", subject ? subject : ""));
	decision_text_fit(v->message, sizeof(v->message),
	    vsnprintf(v->message, sizeof(v->message), fmt, ap));
}

void
rules_violation(struct rule_ctx *ctx, enum rule_id rule, const char *subject, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vadd(ctx, rule, 403, subject, fmt, ap);
	va_end(ap);
}

void
rules_internal(struct rule_ctx *ctx, enum rule_id rule, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vadd(ctx, rule, 500, "internal", fmt, ap);
	va_end(ap);
}

void
rules_invalid(struct rule_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vadd(ctx, RULE_REQUEST_INVALID, 400, "", fmt, ap);
	va_end(ap);
}

void
rules_warn(struct rule_ctx *ctx, const char *fmt, ...)
{
	struct violations *o = ctx->out;
	va_list ap;
	if (o->n_warnings >= RULES_MAX_WARNINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(o->warnings[o->n_warnings++], sizeof(o->warnings[0]), fmt, ap);
	va_end(ap);
}

static const char *
meta_str(const json_t *obj, const char *path)
{
	return json_string_value(jsonget_path(json_object_get(obj, "metadata"), path));
}

static const char *
label(const json_t *obj, const char *key)
{
	return jsonget_str(jsonget_path(obj, "metadata.labels"), key);
}

/* Objects the webhook owns: the baseline in tenant namespaces, anything labelled as ours. */
static bool
is_managed(const struct rule_ctx *ctx, const char *kind, const json_t *obj)
{
	const char *v = label(obj, NAMES_MANAGED_BY_KEY);
	const char *name = ctx->req->name;
	if (v != NULL && strcmp(v, NAMES_MANAGED_BY) == 0)
		return true;
	if (ctx->ns_class != NS_TENANT || name == NULL)
		return false;
	return (strcmp(kind, "NetworkPolicy") == 0 && strcmp(name, NAMES_NETWORK_POLICY) == 0) ||
	    (strcmp(kind, "ResourceQuota") == 0 && strcmp(name, NAMES_QUOTA) == 0);
}

/*
 * The first tenantguard.io/ key whose value differs between the old and new metadata map, or
 * NULL. `truthful` is the one value of tenantguard.io/tenant that is no change at all: the
 * tenant the namespace name already designates (what the mutating webhook sets).
 */
static const char *
prefixed_key_changed(const json_t *old_map, const json_t *new_map, const char *truthful)
{
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)new_map, k, v) {
		if (strncmp(k, NAMES_TENANT_PREFIX, sizeof(NAMES_TENANT_PREFIX) - 1) != 0 ||
		    json_equal(v, json_object_get(old_map, k)))
			continue;
		if (truthful != NULL && strcmp(k, NAMES_TENANT_LABEL) == 0 && json_is_string(v) &&
		    strcmp(json_string_value(v), truthful) == 0)
			continue;
		return k;
	}
	json_object_foreach((json_t *)old_map, k, v)
		if (strncmp(k, NAMES_TENANT_PREFIX, sizeof(NAMES_TENANT_PREFIX) - 1) == 0 &&
		    json_object_get(new_map, k) == NULL)
			return k;
	return NULL;
}

/*
 * Kubernetes' own namespace controller and garbage collector: when a tenant namespace or a
 * Tenant is deleted they delete what tenantguard made; refusing them would leave namespaces
 * stuck in Terminating. For deletions they pass the rules admins bypass (entry-admin,
 * managed-object); only deletions, and only these identities (per-controller service
 * accounts, or the controller-manager's own user without --use-service-account-credentials).
 */
static bool
is_cluster_cleanup(const struct request *req)
{
	static const char *const users[] = {
		"system:serviceaccount:kube-system:namespace-controller",
		"system:serviceaccount:kube-system:generic-garbage-collector",
		"system:kube-controller-manager",
	};
	if (req->op != OP_DELETE || req->username == NULL)
		return false;
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		if (strcmp(req->username, users[i]) == 0)
			return true;
	return false;
}

/*
 * The rules admins bypass: who may write where (DESIGN §2). The first match that its
 * enforcement mode does not relax denies; a relaxed one lets the next rules speak.
 */
static void
who_may_write(struct rule_ctx *ctx, const char *kind, struct decision *out)
{
	const struct request *req = ctx->req;
	const struct config *cfg = ctx->cfg;
	if (ctx->admin || is_cluster_cleanup(req))
		return;
	if (ctx->ns_class == NS_ENTRY && !(strcmp(kind, "Secret") == 0 &&
	    config_is_entry_secret_writer(cfg, req->username, req->groups, req->n_groups)) &&
	    decision_enforce(out, cfg, ctx->tenant, 403,
	    RULE_ENTRY_ADMIN, "%s: only platform admins may change objects in the entry namespace "
	    "%s; tenants configure routes in their own namespace", ctx->object_desc,
	    cfg->entry_namespace))
		return;
	if ((req->op == OP_UPDATE || req->op == OP_DELETE || req->op == OP_CREATE) &&
	    (is_managed(ctx, kind, req->object) || is_managed(ctx, kind, req->old_object)) &&
	    decision_enforce(out, cfg, ctx->tenant, 403, RULE_MANAGED_OBJECT, "%s is managed by "
	    "tenantguard; only platform admins may %s it", ctx->object_desc,
	    req->op == OP_DELETE ? "delete" : req->op == OP_CREATE ? "create" : "change"))
		return;
	if (strcmp(kind, "Namespace") == 0 && req->op != OP_DELETE) {
		const json_t *o = req->old_object, *n = req->object;
		const char *truthful = ctx->tenant ? ctx->tenant->name : NULL;
		const char *key = prefixed_key_changed(jsonget_path(o, "metadata.labels"),
		    jsonget_path(n, "metadata.labels"), truthful);
		const char *what = "label";
		if (key == NULL) {
			key = prefixed_key_changed(jsonget_path(o, "metadata.annotations"),
			    jsonget_path(n, "metadata.annotations"), NULL);
			what = "annotation";
		}
		if (key != NULL)
			decision_enforce(out, cfg, ctx->tenant, 403, RULE_TENANT_LABEL, "%s: %s %s may be "
			    "set, changed or removed only by platform admins; tenant identity comes from "
			    "the namespace name", ctx->object_desc, what, key);
	}
}

/* metadata, its labels and its annotations must be what the API defines: maps of strings. */
static bool
metadata_invalid(const json_t *obj, const char *desc, struct decision *out)
{
	static const char *const maps[] = { "labels", "annotations" };
	const json_t *meta = json_object_get(obj, "metadata");
	if (obj == NULL)
		return false;
	if (!json_is_object(meta)) {
		decision_deny(out, 400, RULE_REQUEST_INVALID, "%s: metadata must be an object", desc);
		return true;
	}
	for (size_t i = 0; i < 2; i++) {
		const json_t *m = json_object_get(meta, maps[i]), *v;
		const char *k;
		if (m == NULL || json_is_null(m))
			continue;
		if (!json_is_object(m)) {
			decision_deny(out, 400, RULE_REQUEST_INVALID, "%s: metadata.%s must be a map of "
			    "strings", desc, maps[i]);
			return true;
		}
		json_object_foreach((json_t *)m, k, v)
			if (!json_is_string(v)) {
				decision_deny(out, 400, RULE_REQUEST_INVALID, "%s: metadata.%s[%s] must be a "
				    "string", desc, maps[i], k);
				return true;
			}
	}
	return false;
}

static bool
violation_in(const struct violations *old, const struct violation *v)
{
	for (size_t i = 0; i < old->n; i++)
		if (old->v[i].rule == v->rule && strcmp(old->v[i].subject, v->subject) == 0)
			return true;
	return false;
}

/*
 * Relaxes violation v when its enforcement mode is warn or audit (true: it does not deny). A
 * relaxed host collision keeps the claim with its first owner: the pattern is marked never
 * to be claimed first-come. A Tenant's domain colliding with a first-come claim is never
 * relaxed: admitting it would reserve the domain, which takes the hosts from their owner.
 */
static bool
relax(const struct rule_ctx *ctx, const char *kind, const struct violation *v,
    struct decision *out)
{
	bool collision = v->rule == RULE_HOST_COLLISION;
	if (collision && strcmp(kind, "Tenant") == 0)
		return false;
	enum enforce_mode m = enforce_mode_for(ctx->cfg, ctx->tenant, v->rule, v->code);
	if (m == ENFORCE_DENY)
		return false;
	decision_relax(out, m, v->rule, "%s: %s", ctx->object_desc, v->message);
	if (collision)
		decision_unclaimed(out, v->subject);
	return true;
}

/* The index of req's kind in kinds[], or the size of kinds[] when tenantguard ignores it. */
static size_t
kind_index(const struct request *req)
{
	size_t k;
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		if (strcmp(kinds[k].kind, req->kind) == 0 && strcmp(kinds[k].group, req->group) == 0)
			break;
	return k;
}

/* The request context: who asks, which namespace class and tenant, the owner, the name. */
static void
ctx_init(struct rule_ctx *ctx, const struct config *cfg, const struct state *st,
    const struct state *older, const struct request *req, time_t now, char *desc,
    size_t descsz)
{
	const char *kind = req->kind;
	memset(ctx, 0, sizeof(*ctx));
	ctx->cfg = cfg;
	ctx->st = st;
	ctx->older = older;
	ctx->req = req;
	ctx->now = now;
	ctx->admin = config_is_admin(cfg, req->username, req->groups, req->n_groups);
	/* A Namespace is judged as the namespace it is. */
	const char *ns = strcmp(kind, "Namespace") == 0 ? req->name : req->namespace;
	ctx->tenant = config_namespace_tenant(cfg, ns);
	ctx->ns_class = ctx->tenant ? NS_TENANT :
	    strcmp(ns, cfg->entry_namespace) == 0 ? NS_ENTRY : NS_OUTSIDE;
	ctx->tenant_idx = ctx->tenant ? config_tenant_index(cfg, ctx->tenant) : CLAIMS_NO_OWNER;
	char key[300];
	state_owner_key(cfg, ns, key, sizeof(key));
	ctx->owner_id = state_owner_lookup(st, key);
	if (req->namespace[0] != '\0' && strcmp(kind, "Namespace") != 0)
		snprintf(desc, descsz, "%s %s/%s", kind, req->namespace, req->name);
	else
		snprintf(desc, descsz, "%s %s", kind, req->name);
	ctx->object_desc = desc;
}

static const char *
op_name(enum operation op)
{
	static const char *const names[] = { "CREATE", "UPDATE", "DELETE", "CONNECT" };
	return names[op];
}

void
policy_validate(const struct config *cfg, const struct state *st, const struct request *req,
    time_t now, struct decision *out)
{
	struct violations now_v, old_v;
	struct rule_ctx ctx;
	char desc[600];
	const char *kind = req->kind;
	size_t k;

	decision_init(out);
	if (req->subresource[0] != '\0' || req->op == OP_CONNECT)
		return;   /* status and other subresources carry no policy */
	if ((k = kind_index(req)) == sizeof(kinds) / sizeof(kinds[0]))
		return;

	ctx_init(&ctx, cfg, st, st, req, now, desc, sizeof(desc));

	/* Shape first: a decision about an object we cannot read would be a guess. */
	const json_t *obj = req->object, *old = req->old_object;
	if (req->op != OP_DELETE && !json_is_object(obj)) {
		decision_deny(out, 400, RULE_REQUEST_INVALID, "%s: request.object is missing or not an "
		    "object on %s", desc, op_name(req->op));
		return;
	}
	if ((req->op == OP_UPDATE || req->op == OP_DELETE) && old != NULL && !json_is_object(old)) {
		decision_deny(out, 400, RULE_REQUEST_INVALID, "%s: request.oldObject is not an object", desc);
		return;
	}
	if (obj != NULL && jsonget_str(obj, "kind") != NULL && strcmp(jsonget_str(obj, "kind"), kind) != 0) {
		decision_deny(out, 400, RULE_REQUEST_INVALID, "%s: object kind %s does not match the "
		    "request kind", desc, jsonget_str(obj, "kind"));
		return;
	}
	if (obj != NULL && meta_str(obj, "namespace") != NULL && req->namespace[0] != '\0' &&
	    strcmp(meta_str(obj, "namespace"), req->namespace) != 0) {
		decision_deny(out, 400, RULE_REQUEST_INVALID, "%s: object namespace %s does not match the "
		    "request namespace", desc, meta_str(obj, "namespace"));
		return;
	}

	if (metadata_invalid(obj, desc, out) || metadata_invalid(old, desc, out))
		return;

	who_may_write(&ctx, kind, out);
	if (!out->allowed || req->op == OP_DELETE || kinds[k].rules == NULL)
		return;

	/* UPDATE: what the old object already violated is reported, not enforced (DESIGN §1). */
	old_v.n = old_v.n_warnings = 0;   /* tens of kilobytes: reset the counts, not the buffers */
	if (req->op == OP_UPDATE && json_is_object(old)) {
		ctx.out = &old_v;
		kinds[k].rules(&ctx, old);
	}
	now_v.n = now_v.n_warnings = 0;
	ctx.out = &now_v;
	kinds[k].rules(&ctx, obj);

	size_t denied = 0;
	for (size_t i = 0; i < now_v.n; i++) {
		const struct violation *v = &now_v.v[i];
		if (v->rule != RULE_REQUEST_INVALID && v->code != 500 && violation_in(&old_v, v)) {
			decision_warn(out, "pre-existing [%s] %s: %s", ruleid_name(v->rule), v->subject,
			    v->message);
			continue;
		}
		if (relax(&ctx, kind, v, out))
			continue;
		if (denied++ == 0) {
			decision_deny(out, v->code, v->rule, "%s: %s", desc, v->message);
			continue;
		}
		/* The first violation is explained; the others are named so one fix is not a surprise. */
		size_t len = strlen(out->message);
		if (len < sizeof(out->message))
			decision_text_fit(out->message + len, sizeof(out->message) - len,
			    snprintf(out->message + len, sizeof(out->message) - len, "%s[%s] %s",
			    denied == 2 ? " (also: " : "; ", ruleid_name(v->rule), v->subject));
	}
	if (denied > 1) {
		size_t len = strlen(out->message);
		if (len < sizeof(out->message))
			snprintf(out->message + len, sizeof(out->message) - len, ")");
	}
	for (size_t i = 0; i < now_v.n_warnings; i++)
		decision_warn(out, "%s", now_v.warnings[i]);
}

const struct tenant *
policy_audit_object(const struct config *cfg, const struct state *st,
    const struct state *older, const struct request *req, time_t now, struct violations *out,
    char *desc, size_t descsz)
{
	struct rule_ctx ctx;
	struct decision meta;
	size_t k = kind_index(req);

	out->n = out->n_warnings = 0;
	ctx_init(&ctx, cfg, st, older, req, now, desc, descsz);
	if (k == sizeof(kinds) / sizeof(kinds[0]) || kinds[k].rules == NULL ||
	    !json_is_object(req->object))
		return ctx.tenant;
	decision_init(&meta);
	if (metadata_invalid(req->object, desc, &meta)) {
		ctx.out = out;
		/* The sentence without its "[request-invalid] <desc>: " prefix. */
		const char *m = strstr(meta.message, ": ");
		rules_invalid(&ctx, "%s", m ? m + 2 : meta.message);
		return ctx.tenant;
	}
	ctx.out = out;
	kinds[k].rules(&ctx, req->object);
	return ctx.tenant;
}
