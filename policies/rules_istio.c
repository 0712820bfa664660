/* SPDX-License-Identifier: Apache-2.0 */
/* rules_istio: Istio VirtualService and Gateway hosts, which Higress serves (enableIstioAPI). */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "host.h"
#include "owner.h"
#include "policy.h"
#include "rules.h"

static bool
string_array(const json_t *v)
{
	const json_t *e;
	size_t i;
	if (v == NULL)
		return true;
	if (!json_is_array(v))
		return false;
	json_array_foreach(v, i, e)
		if (!json_is_string(e))
			return false;
	return true;
}

static void
catch_all(struct rule_ctx *ctx, const char *where)
{
	rules_violation(ctx, RULE_HOST_OWNERSHIP, "*", "%s '*' matches every host, other tenants' "
	    "included; name the hosts%s", where, ctx->tenant ? " the tenant owns" : "");
}

/*
 * One VirtualService host. Istio expands a name without dots to a Service of the
 * VirtualService's namespace and treats cluster Service names as mesh-internal: neither is
 * a public host, but one naming another namespace's Service would take over that Service's
 * traffic in the mesh. Every other name is a claim, like an Ingress host.
 */
static void
vs_host(struct rule_ctx *ctx, const json_t *h, size_t i)
{
	char where[64], norm[HOST_MAX], ns[64];
	const char *raw = json_string_value(h), *why;

	snprintf(where, sizeof(where), "spec.hosts[%zu]", i);
	if (strcmp(raw, "*") == 0) {
		catch_all(ctx, where);
		return;
	}
	if (host_normalize(raw, norm, sizeof(norm), &why) != 0) {
		rules_claimed_host(ctx, h, where, norm);   /* host-invalid, with the reason */
		return;
	}
	switch (owner_cluster_name(ctx->cfg, norm, ns, sizeof(ns))) {
	case CLUSTER_NAME_OWN:
		return;
	case CLUSTER_NAME_NS:
		if (ctx->tenant == NULL || owner_backend_ns_allowed(ctx, ns))
			return;
		rules_violation(ctx, RULE_HOST_OWNERSHIP, norm, "%s '%s' is a Service name in "
		    "namespace '%s': a VirtualService for it would take over that Service's traffic; "
		    "tenant %s may name Services of its own namespaces", where, norm, ns,
		    ctx->tenant->name);
		return;
	case CLUSTER_NAME_OTHER:
		if (ctx->tenant != NULL)
			rules_violation(ctx, RULE_HOST_OWNERSHIP, norm, "%s '%s' is a cluster-internal "
			    "name outside tenant %s's namespaces", where, norm, ctx->tenant->name);
		return;
	case CLUSTER_NAME_PUBLIC:
		rules_claimed_host(ctx, h, where, norm);
		return;
	}
}

/* spec.gateways: "mesh", "name" (own namespace) or "namespace/name". */
static void
vs_gateways(struct rule_ctx *ctx, const json_t *gws)
{
	const json_t *g;
	size_t i;
	json_array_foreach(gws, i, g) {
		const char *s = json_string_value(g), *slash = strchr(s, '/');
		char ns[64];
		if (slash == NULL)
			continue;
		snprintf(ns, sizeof(ns), "%.*s", (int)(slash - s), s);
		if (strcmp(ns, ctx->req->namespace) != 0)
			rules_violation(ctx, RULE_BACKEND_NAMESPACE, ns, "spec.gateways[%zu] '%s' binds "
			    "to a Gateway in namespace '%s'; tenant %s binds to its own Gateways only",
			    i, s, ns, ctx->tenant->name);
	}
}

/* Route destinations (http, tls, tcp): a cluster name must stay in the tenant's reach. */
static void
vs_destinations(struct rule_ctx *ctx, const json_t *spec)
{
	static const char *const sections[] = { "http", "tls", "tcp" };
	for (size_t s = 0; s < sizeof(sections) / sizeof(*sections); s++) {
		const json_t *routes = json_object_get(spec, sections[s]), *r, *d;
		size_t i, j;
		json_array_foreach(routes, i, r)
			json_array_foreach(json_object_get(r, "route"), j, d) {
				const char *host = jsonget_str(json_object_get(d, "destination"), "host");
				char norm[HOST_MAX], ns[64];
				const char *why;
				if (host == NULL || host_normalize(host, norm, sizeof(norm), &why) != 0)
					continue;
				enum cluster_name c = owner_cluster_name(ctx->cfg, norm, ns, sizeof(ns));
				if ((c == CLUSTER_NAME_NS && !owner_backend_ns_allowed(ctx, ns)) ||
				    c == CLUSTER_NAME_OTHER)
					rules_violation(ctx, RULE_BACKEND_NAMESPACE, norm, "spec.%s[%zu].route[%zu]"
					    " sends traffic to '%s', outside tenant %s's namespaces",
					    sections[s], i, j, norm, ctx->tenant->name);
			}
	}
}

void
rules_virtualservice(struct rule_ctx *ctx, const json_t *obj)
{
	const json_t *spec = json_object_get(obj, "spec");
	const json_t *hosts = json_object_get(spec, "hosts"), *gws = json_object_get(spec, "gateways");
	const json_t *h;
	size_t i;

	if ((spec != NULL && !json_is_object(spec)) || !string_array(hosts) || !string_array(gws)) {
		rules_invalid(ctx, "spec.hosts and spec.gateways must be lists of strings");
		return;
	}
	if (ctx->ns_class == NS_ENTRY)
		return;   /* admins only there (entry-admin) */
	json_array_foreach(hosts, i, h)
		vs_host(ctx, h, i);
	if (ctx->tenant == NULL)
		return;
	vs_gateways(ctx, gws);
	vs_destinations(ctx, spec);
}

/*
 * Higress labels its gateway pods "higress: <release namespace>-<gateway name>" (its chart's
 * gateway.selectorLabels; the controller's own Gateways select
 * higress=higress-system-higress-gateway), and also "app: <gateway name>", the same in every
 * namespace. Istio applies a Gateway's selector to gateway pods of every namespace unless
 * PILOT_SCOPE_GATEWAY_TO_NAMESPACE is set, so a tenant's Gateway must name its own gateway by
 * that namespaced label.
 */
#define HIGRESS_GATEWAY_LABEL "higress"

/* True when label value v names a gateway of namespace ns: "<ns>-<name>". */
static bool
names_gateway_of(const char *v, const char *ns)
{
	size_t n = strlen(ns);
	return strncmp(v, ns, n) == 0 && v[n] == '-' && v[n + 1] != '\0';
}

/*
 * The namespace other than `own` (NULL: none) whose gateway label value v names: the entry
 * namespace or a tenant's. "tenant1-gateway-x-gateway-higress-gateway" starts with
 * tenant1-gateway- but is tenant "tenant1-gateway-x"'s: the longest namespace named wins.
 */
static bool
names_other_gateway(const struct config *cfg, const char *v, const char *own)
{
	size_t own_len = own != NULL ? strlen(own) : 0;
	char ns[64];

	if (names_gateway_of(v, cfg->entry_namespace) &&
	    (own == NULL || strcmp(cfg->entry_namespace, own) != 0))
		return true;
	for (size_t i = 0; i < cfg->n_tenants; i++) {
		if (!template_expand(&cfg->tenant_namespace, cfg->tenants[i].name, ns, sizeof(ns)))
			continue;
		if ((own == NULL || (strcmp(ns, own) != 0 && strlen(ns) > own_len)) &&
		    names_gateway_of(v, ns))
			return true;
	}
	return false;
}

/*
 * spec.selector: which gateway pods take this Gateway's servers. In a tenant namespace only
 * its own Higress gateway (higress: <namespace>-<name>); outside, anything but every gateway
 * (an empty selector) or the entry's or a tenant's.
 */
static void
gateway_selector(struct rule_ctx *ctx, const json_t *sel)
{
	const char *ns = ctx->req->namespace;
	const char *v = jsonget_str(sel, HIGRESS_GATEWAY_LABEL);

	if (json_object_size(sel) == 0) {
		rules_violation(ctx, RULE_BACKEND_NAMESPACE, "spec.selector", "spec.selector is empty: "
		    "it selects the gateway pods of every namespace; select %s with %s: %s-<gateway>",
		    ctx->tenant ? "the tenant's own gateway" : "a gateway", HIGRESS_GATEWAY_LABEL, ns);
		return;
	}
	if (ctx->tenant == NULL) {
		if (v != NULL && names_other_gateway(ctx->cfg, v, NULL))
			rules_violation(ctx, RULE_BACKEND_NAMESPACE, v, "spec.selector %s: %s selects "
			    "a tenant's or the entry's gateway pods; a Gateway outside them may not "
			    "program them", HIGRESS_GATEWAY_LABEL, v);
		return;
	}
	if (v == NULL) {
		rules_violation(ctx, RULE_BACKEND_NAMESPACE, "spec.selector", "spec.selector does not "
		    "name the gateway by Higress's %s label: other labels (app: higress-gateway, "
		    "istio: ingressgateway) select gateway pods of every namespace; add %s: "
		    "%s-<gateway> (tenant %s's own gateway)", HIGRESS_GATEWAY_LABEL,
		    HIGRESS_GATEWAY_LABEL, ns, ctx->tenant->name);
		return;
	}
	if (!names_gateway_of(v, ns) || names_other_gateway(ctx->cfg, v, ns))
		rules_violation(ctx, RULE_BACKEND_NAMESPACE, v, "spec.selector %s: %s names another "
		    "namespace's gateway; tenant %s's Gateways select its own: %s: %s-<gateway>",
		    HIGRESS_GATEWAY_LABEL, v, ctx->tenant->name, HIGRESS_GATEWAY_LABEL, ns);
}

void
rules_istio_gateway(struct rule_ctx *ctx, const json_t *obj)
{
	const json_t *spec = json_object_get(obj, "spec");
	const json_t *servers = json_object_get(spec, "servers"), *sv, *h;
	const json_t *sel = json_object_get(spec, "selector"), *lv;
	const char *lk;
	char where[64], norm[HOST_MAX];
	size_t i, j;

	if ((spec != NULL && !json_is_object(spec)) ||
	    (servers != NULL && !json_is_array(servers)) ||
	    (sel != NULL && !json_is_object(sel))) {
		rules_invalid(ctx, "spec must be an object, spec.servers a list and spec.selector a "
		    "map of labels");
		return;
	}
	json_object_foreach((json_t *)sel, lk, lv)
		if (!json_is_string(lv)) {
			rules_invalid(ctx, "spec.selector.%s must be a string", lk);
			return;
		}
	json_array_foreach(servers, i, sv)
		if (!json_is_object(sv) || !string_array(json_object_get(sv, "hosts"))) {
			rules_invalid(ctx, "spec.servers[%zu].hosts must be a list of strings", i);
			return;
		}
	if (ctx->ns_class == NS_ENTRY)
		return;   /* admins only there (entry-admin) */
	gateway_selector(ctx, sel);
	json_array_foreach(servers, i, sv)
		json_array_foreach(json_object_get(sv, "hosts"), j, h) {
			const char *s = json_string_value(h), *slash = strchr(s, '/');
			snprintf(where, sizeof(where), "spec.servers[%zu].hosts[%zu]", i, j);
			if (slash != NULL && ctx->tenant != NULL) {
				/* "namespace/host": "." is the Gateway's own; "*" or another is not. */
				char ns[64];
				snprintf(ns, sizeof(ns), "%.*s", (int)(slash - s), s);
				if (strcmp(ns, ".") != 0 && strcmp(ns, ctx->req->namespace) != 0)
					rules_violation(ctx, RULE_BACKEND_NAMESPACE, ns, "%s '%s' lets "
					    "VirtualServices of namespace '%s' bind it; tenant %s's Gateways "
					    "take its own namespace's only (write ./host)", where, s, ns,
					    ctx->tenant->name);
			}
			const char *host = slash ? slash + 1 : s;
			if (strcmp(host, "*") == 0) {
				catch_all(ctx, where);
				continue;
			}
			json_t *hv = json_string(host);
			if (hv == NULL) {
				rules_internal(ctx, RULE_HOST_OWNERSHIP, "out of memory");
				return;
			}
			rules_claimed_host(ctx, hv, where, norm);
			json_decref(hv);
		}
}
