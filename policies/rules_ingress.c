/* SPDX-License-Identifier: Apache-2.0 */
/* rules_ingress: hosts, classes and backends of Ingress and Gateway API HTTPRoute objects. */
#include <stdio.h>
#include <string.h>

#include "claims.h"
#include "config.h"
#include "host.h"
#include "owner.h"
#include "policy.h"
#include "rules.h"

/* What a tenant may use, for the second half of a host denial. */
static void
allowed_hosts(const struct rule_ctx *ctx, char *out, size_t outsz)
{
	const struct tenant *t = ctx->tenant;
	if (t == NULL) {
		snprintf(out, outsz, "this namespace may use custom domains no tenant has reserved");
		return;
	}
	int n = snprintf(out, outsz, "tenant %s may use %s.%s and hosts under it", t->name, t->name,
	    ctx->cfg->system_domain);
	for (size_t i = 0; i < t->n_custom_domains && n > 0 && (size_t)n < outsz; i++)
		n += snprintf(out + n, outsz - (size_t)n, ", %s", t->custom_domains[i]);
	if (n > 0 && (size_t)n < outsz && ctx->cfg->unregistered == UNREGISTERED_FIRST_COME)
		snprintf(out + n, outsz - (size_t)n, ", and custom domains nobody has claimed");
}

/*
 * Checks one host a tenant or outside namespace claims. `where` says where it was found.
 * Writes the normalised host to norm (empty when invalid).
 */
static void
check_claimed_host(struct rule_ctx *ctx, const json_t *h, const char *where, char *norm)
{
	char why[300], allowed[600];
	const char *bad;

	norm[0] = '\0';
	if (!json_is_string(h)) {
		rules_invalid(ctx, "%s must be a string", where);
		return;
	}
	const char *raw = json_string_value(h);
	if (host_normalize(raw, norm, HOST_MAX, &bad) != 0) {
		rules_violation(ctx, RULE_HOST_INVALID, raw, "%s '%s' %s", where, raw, bad);
		norm[0] = '\0';
		return;
	}
	switch (owner_check(ctx, NULL, norm, why, sizeof(why))) {
	case HOST_OK:
		return;
	case HOST_COLLISION:
		rules_violation(ctx, RULE_HOST_COLLISION, norm, "%s '%s' %s; choose another host",
		    where, norm, why);
		return;
	case HOST_FOREIGN:
	case HOST_UNREGISTERED:
		allowed_hosts(ctx, allowed, sizeof(allowed));
		rules_violation(ctx, RULE_HOST_OWNERSHIP, norm, "%s '%s' %s; %s", where, norm, why,
		    allowed);
		return;
	}
}

/* Namespaces a tenant may send traffic to: its own and its configured backendNamespaces. */
static bool
backend_ns_allowed(const struct rule_ctx *ctx, const char *ns)
{
	const struct tenant *t = ctx->tenant;
	if (ns == NULL || strcmp(ns, ctx->req->namespace) == 0)
		return true;
	for (size_t i = 0; i < t->n_backend_namespaces; i++)
		if (strcmp(t->backend_namespaces[i], ns) == 0)
			return true;
	return false;
}

/*
 * The namespace a higress.io/destination target names ("svc.ns.svc[.clusterDomain][:port]",
 * optionally behind a "NN% " weight), copied to ns; false for targets outside the cluster.
 */
static bool
destination_namespace(const struct config *cfg, const char *line, size_t len, char *ns, size_t nssz)
{
	char target[HOST_MAX + 16], host[HOST_MAX];
	const char *why, *pct = memchr(line, '%', len);
	if (pct != NULL) {
		len -= (size_t)(pct + 1 - line);
		line = pct + 1;
	}
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
		len--;
	if (len == 0 || len >= sizeof(target))
		return false;
	memcpy(target, line, len);
	target[len] = '\0';
	char *colon = strrchr(target, ':');
	if (colon != NULL)
		*colon = '\0';
	return host_normalize(target, host, sizeof(host), &why) == 0 &&
	    owner_service_namespace(cfg, host, ns, nssz);
}

static void
check_destination(struct rule_ctx *ctx, const json_t *obj)
{
	const char *dest = jsonget_str(jsonget_path(obj, "metadata.annotations"), "higress.io/destination");
	char ns[64];
	if (dest == NULL || ctx->tenant == NULL)
		return;
	for (const char *p = dest; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (destination_namespace(ctx->cfg, p, len, ns, sizeof(ns)) &&
		    !backend_ns_allowed(ctx, ns))
			rules_violation(ctx, RULE_BACKEND_NAMESPACE, ns, "annotation higress.io/destination "
			    "targets namespace '%s'; tenant %s may route only to its own namespace%s",
			    ns, ctx->tenant->name, ctx->tenant->n_backend_namespaces ?
			    " and its configured backendNamespaces" : "");
		p += len + (nl ? 1 : 0);
	}
}

static void
check_class(struct rule_ctx *ctx, const json_t *obj)
{
	const struct config *cfg = ctx->cfg;
	char want[254];
	const struct tenant *t = ctx->tenant;
	if (t == NULL)
		return;
	if (t->ingress_class != NULL)
		snprintf(want, sizeof(want), "%s", t->ingress_class);
	else if (cfg->tenant_ingress_class.prefix == NULL ||
	    !template_expand(&cfg->tenant_ingress_class, t->name, want, sizeof(want)))
		return;   /* not configured */
	/* Controllers differ in which marker wins, so every marker present must name the class. */
	const char *spec_cls = jsonget_str(json_object_get(obj, "spec"), "ingressClassName");
	const char *anno_cls = jsonget_str(jsonget_path(obj, "metadata.annotations"),
	    "kubernetes.io/ingress.class");
	const char *bad = spec_cls != NULL && strcmp(spec_cls, want) != 0 ? spec_cls :
	    anno_cls != NULL && strcmp(anno_cls, want) != 0 ? anno_cls : NULL;
	if (bad != NULL || (spec_cls == NULL && anno_cls == NULL))
		rules_violation(ctx, RULE_INGRESS_CLASS, bad ? bad : "", "ingress class '%s' is not "
		    "tenant %s's class; set spec.ingressClassName: %s", bad ? bad : "(none)",
		    t->name, want);
}

/* A unified-Ingress rule must route a host its tenant owns to that tenant's bridge only. */
static void
check_entry_rule(struct rule_ctx *ctx, const json_t *rule, size_t idx, const char *host)
{
	char why[200];
	const struct config *cfg = ctx->cfg;
	const json_t *paths = jsonget_path(rule, "http.paths"), *p;
	size_t i;

	if (host[0] == '\0') {
		rules_violation(ctx, RULE_ENTRY_ROUTE, "", "rule %zu has no host, so it would route every "
		    "host; name the host it routes", idx);
		return;
	}
	const struct tenant *t = owner_of_route(cfg, ctx->st, host, why, sizeof(why));
	if (t == NULL) {
		rules_violation(ctx, RULE_ENTRY_ROUTE, host, "host '%s' %s, so the unified ingress cannot "
		    "route it; reserve it for a tenant or let the tenant claim it first", host, why);
		return;
	}
	if (paths != NULL && !json_is_array(paths)) {
		rules_invalid(ctx, "spec.rules[%zu].http.paths must be an array", idx);
		return;
	}
	json_array_foreach(paths, i, p) {
		const json_t *svc = jsonget_path(p, "backend.service");
		const char *name = jsonget_str(svc, "name");
		const json_t *port = jsonget_path(svc, "port.number");
		const struct tenant *to = owner_bridge_tenant(cfg, name);
		if (to != t) {
			rules_violation(ctx, RULE_ENTRY_ROUTE, host, "host '%s' belongs to tenant %s but "
			    "path %zu routes to '%s'; route it to the bridge Service %s-gateway", host,
			    t->name, i, name ? name : "(no service)", t->name);
			return;
		}
		if (port != NULL && json_integer_value(port) != cfg->gateway_port) {
			rules_violation(ctx, RULE_ENTRY_ROUTE, host, "host '%s' routes to port %lld of "
			    "%s-gateway; the bridge listens on %d", host,
			    (long long)json_integer_value(port), t->name, cfg->gateway_port);
			return;
		}
	}
}

void
rules_ingress(struct rule_ctx *ctx, const json_t *obj)
{
	const json_t *spec = json_object_get(obj, "spec");
	const json_t *rules = json_object_get(spec, "rules"), *tls = json_object_get(spec, "tls");
	const json_t *r, *t, *h;
	char where[64], norm[HOST_MAX];
	size_t i, j;

	if (spec != NULL && !json_is_object(spec)) {
		rules_invalid(ctx, "spec must be an object");
		return;
	}
	if ((rules != NULL && !json_is_array(rules)) || (tls != NULL && !json_is_array(tls))) {
		rules_invalid(ctx, "spec.rules and spec.tls must be arrays");
		return;
	}
	json_array_foreach(rules, i, r) {
		h = json_object_get(r, "host");
		if (!json_is_object(r) || (h != NULL && !json_is_string(h))) {
			rules_invalid(ctx, "spec.rules[%zu] must be an object with a string host", i);
			return;
		}
	}
	json_array_foreach(tls, i, t) {
		const json_t *hosts = json_object_get(t, "hosts");
		if (!json_is_object(t) || (hosts != NULL && !json_is_array(hosts))) {
			rules_invalid(ctx, "spec.tls[%zu].hosts must be an array of strings", i);
			return;
		}
		json_array_foreach(hosts, j, h)
			if (!json_is_string(h)) {
				rules_invalid(ctx, "spec.tls[%zu].hosts[%zu] must be a string", i, j);
				return;
			}
	}

	if (ctx->ns_class == NS_ENTRY) {
		/* A default backend answers hosts nobody routed: no tenant owns all of those. */
		const struct tenant *dt = owner_bridge_tenant(ctx->cfg,
		    jsonget_str(jsonget_path(spec, "defaultBackend.service"), "name"));
		if (dt != NULL)
			rules_violation(ctx, RULE_ENTRY_ROUTE, "defaultBackend", "spec.defaultBackend sends "
			    "every host no rule matches to tenant %s's bridge; use a platform backend "
			    "or route the tenant's hosts with rules", dt->name);
		json_array_foreach(rules, i, r) {
			const char *raw = jsonget_str(r, "host"), *bad;
			norm[0] = '\0';
			if (raw != NULL && host_normalize(raw, norm, sizeof(norm), &bad) != 0) {
				rules_violation(ctx, RULE_HOST_INVALID, raw, "spec.rules[%zu].host '%s' %s", i,
				    raw, bad);
				continue;
			}
			check_entry_rule(ctx, r, i, norm);
		}
		json_array_foreach(tls, i, t)
			json_array_foreach(json_object_get(t, "hosts"), j, h) {
				const char *bad;
				if (host_normalize(json_string_value(h), norm, sizeof(norm), &bad) != 0)
					rules_violation(ctx, RULE_HOST_INVALID, json_string_value(h),
					    "spec.tls[%zu].hosts[%zu] '%s' %s", i, j, json_string_value(h), bad);
			}
		return;
	}

	json_array_foreach(rules, i, r) {
		snprintf(where, sizeof(where), "spec.rules[%zu].host", i);
		h = json_object_get(r, "host");
		if (h == NULL) {
			/* A rule without a host answers for every host, other tenants' included. */
			if (ctx->ns_class == NS_TENANT)
				rules_violation(ctx, RULE_HOST_OWNERSHIP, "", "spec.rules[%zu] has no host, "
				    "so it would match every host; set a host tenant %s owns", i,
				    ctx->tenant->name);
			continue;
		}
		check_claimed_host(ctx, h, where, norm);
	}
	json_array_foreach(tls, i, t)
		json_array_foreach(json_object_get(t, "hosts"), j, h) {
			snprintf(where, sizeof(where), "spec.tls[%zu].hosts[%zu]", i, j);
			check_claimed_host(ctx, h, where, norm);
		}
	check_class(ctx, obj);
	check_destination(ctx, obj);
}

void
rules_httproute(struct rule_ctx *ctx, const json_t *obj)
{
	const json_t *spec = json_object_get(obj, "spec");
	const json_t *hostnames = json_object_get(spec, "hostnames"), *rules, *r, *b, *h;
	char where[64], norm[HOST_MAX];
	size_t i, j;

	if ((spec != NULL && !json_is_object(spec)) ||
	    (hostnames != NULL && !json_is_array(hostnames))) {
		rules_invalid(ctx, "spec.hostnames must be an array of strings");
		return;
	}
	if (ctx->ns_class == NS_ENTRY)
		return;   /* admins only there (entry-admin), and no tenant claims */
	json_array_foreach(hostnames, i, h) {
		snprintf(where, sizeof(where), "spec.hostnames[%zu]", i);
		check_claimed_host(ctx, h, where, norm);
	}
	if (ctx->tenant == NULL)
		return;
	rules = json_object_get(spec, "rules");
	json_array_foreach(rules, i, r)
		json_array_foreach(json_object_get(r, "backendRefs"), j, b) {
			const char *ns = jsonget_str(b, "namespace");
			if (!backend_ns_allowed(ctx, ns))
				rules_violation(ctx, RULE_BACKEND_NAMESPACE, ns, "spec.rules[%zu].backendRefs[%zu] "
				    "targets namespace '%s'; tenant %s may route only to its own namespace%s",
				    i, j, ns, ctx->tenant->name, ctx->tenant->n_backend_namespaces ?
				    " and its configured backendNamespaces" : "");
		}
}
