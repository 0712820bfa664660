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

void
rules_istio_gateway(struct rule_ctx *ctx, const json_t *obj)
{
	const json_t *spec = json_object_get(obj, "spec");
	const json_t *servers = json_object_get(spec, "servers"), *sv, *h;
	char where[64], norm[HOST_MAX];
	size_t i, j;

	if ((spec != NULL && !json_is_object(spec)) ||
	    (servers != NULL && !json_is_array(servers))) {
		rules_invalid(ctx, "spec must be an object and spec.servers a list");
		return;
	}
	json_array_foreach(servers, i, sv)
		if (!json_is_object(sv) || !string_array(json_object_get(sv, "hosts"))) {
			rules_invalid(ctx, "spec.servers[%zu].hosts must be a list of strings", i);
			return;
		}
	if (ctx->ns_class == NS_ENTRY)
		return;   /* admins only there (entry-admin) */
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
