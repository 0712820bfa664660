/* SPDX-License-Identifier: Apache-2.0 */
/* mutate: the patches of DESIGN §3 — bridges for the unified ingress, TLS defaults, tenant labels. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "names.h"
#include "host.h"
#include "owner.h"
#include "policy.h"
#include "rules.h"
#include "state.h"


/* Appends the RFC 6901 form of `token` ('~' as "~0", '/' as "~1") to a pointer being built. */
static void
pointer_append(char *ptr, size_t ptrsz, const char *token)
{
	size_t n = strlen(ptr);
	if (n + 1 < ptrsz)
		ptr[n++] = '/';
	for (const char *c = token; *c != '\0' && n + 2 < ptrsz; c++) {
		if (*c == '~' || *c == '/') {
			ptr[n++] = '~';
			ptr[n++] = *c == '~' ? '0' : '1';
		} else {
			ptr[n++] = *c;
		}
	}
	ptr[n] = '\0';
}

/* Adds one operation (value: new reference, stolen). 0, or -1 on allocation failure. */
static int
patch_op(json_t *patch, const char *op, const char *path, json_t *value)
{
	json_t *o = json_pack("{s:s, s:s, s:o}", "op", op, "path", path, "value", value);
	return o != NULL && json_array_append_new(patch, o) == 0 ? 0 : -1;
}

static json_t *
bridge_port(const struct config *cfg)
{
	return json_pack("{s:i}", "number", cfg->gateway_port);
}

/* Points every path of rule `r` (index i) at tenant t's bridge, with the fewest operations. */
static int
route_rule(const struct config *cfg, json_t *patch, const json_t *r, size_t i,
    const struct tenant *t)
{
	char bridge[300], base[128], path[200];
	const json_t *p;
	size_t j;

	snprintf(bridge, sizeof(bridge), "%s-gateway", t->name);
	json_array_foreach(jsonget_path(r, "http.paths"), j, p) {
		const json_t *svc = jsonget_path(p, "backend.service");
		const json_t *port = json_object_get(svc, "port");
		snprintf(base, sizeof(base), "/spec/rules/%zu/http/paths/%zu/backend", i, j);
		if (!json_is_object(p))
			continue;
		if (!json_is_object(svc)) {
			json_t *b = json_pack("{s:{s:s, s:o}}", "service", "name", bridge, "port",
			    bridge_port(cfg));
			if (patch_op(patch, json_object_get(p, "backend") ? "replace" : "add", base, b) != 0)
				return -1;
			continue;
		}
		const char *name = jsonget_str(svc, "name");
		if (name == NULL || strcmp(name, bridge) != 0) {
			snprintf(path, sizeof(path), "%s/service/name", base);
			if (patch_op(patch, name ? "replace" : "add", path, json_string(bridge)) != 0)
				return -1;
		}
		const json_t *num = json_object_get(port, "number");
		if (!json_is_object(port) || json_object_size(port) != 1 || !json_is_integer(num) ||
		    json_integer_value(num) != cfg->gateway_port) {
			snprintf(path, sizeof(path), "%s/service/port", base);
			if (patch_op(patch, port ? "replace" : "add", path, bridge_port(cfg)) != 0)
				return -1;
		}
	}
	return 0;
}

/* True when the normalised host is the system domain or below it. */
static bool
is_system_host(const struct config *cfg, const char *host)
{
	const char *name = host_is_wildcard(host) ? host + 2 : host;
	return strcmp(name, cfg->system_domain) == 0 || host_is_below(name, cfg->system_domain);
}

/* The certificate a tls entry without secretName should use, or false when it is not clear. */
static bool
default_secret(const struct config *cfg, const struct state *st, const json_t *hosts, char *out,
    size_t outsz)
{
	const struct tenant *owner = NULL;
	size_t n_system = 0, i;
	const json_t *h;
	char norm[HOST_MAX], why[200];
	const char *bad;

	if (json_array_size(hosts) == 0)
		return false;
	json_array_foreach(hosts, i, h) {
		if (!json_is_string(h) || host_normalize(json_string_value(h), norm, sizeof(norm),
		    &bad) != 0)
			return false;
		if (is_system_host(cfg, norm)) {
			n_system++;
			continue;
		}
		const struct tenant *t = owner_of_route(cfg, st, norm, why, sizeof(why));
		if (t == NULL || (owner != NULL && owner != t))
			return false;
		owner = t;
	}
	if (n_system == json_array_size(hosts)) {
		snprintf(out, outsz, "%s", cfg->system_cert_secret);
		return true;
	}
	return n_system == 0 && template_expand(&cfg->tenant_cert_secret, owner->name, out, outsz);
}

static int
mutate_unified_ingress(const struct config *cfg, const struct state *st, const json_t *obj,
    json_t *patch)
{
	const json_t *spec = json_object_get(obj, "spec"), *r, *tls;
	char norm[HOST_MAX], why[200], secret[300], path[64];
	const char *bad;
	size_t i;

	json_array_foreach(json_object_get(spec, "rules"), i, r) {
		const char *host = jsonget_str(r, "host");
		if (host == NULL || host_normalize(host, norm, sizeof(norm), &bad) != 0)
			continue;
		/* A host nobody owns is left as written: /validate explains it (entry-route). */
		const struct tenant *t = owner_of_route(cfg, st, norm, why, sizeof(why));
		if (t != NULL && route_rule(cfg, patch, r, i, t) != 0)
			return -1;
	}
	json_array_foreach(json_object_get(spec, "tls"), i, tls) {
		if (!json_is_object(tls) || json_object_get(tls, "secretName") != NULL ||
		    !default_secret(cfg, st, json_object_get(tls, "hosts"), secret, sizeof(secret)))
			continue;
		snprintf(path, sizeof(path), "/spec/tls/%zu/secretName", i);
		if (patch_op(patch, "add", path, json_string(secret)) != 0)
			return -1;
	}
	return 0;
}

/* Sets metadata.labels[tenantguard.io/tenant] = tenant, creating the map when absent. */
static int
label_tenant(const json_t *obj, const char *tenant, json_t *patch)
{
	const json_t *labels = jsonget_path(obj, "metadata.labels");
	const char *have = jsonget_str(labels, NAMES_TENANT_LABEL);
	char path[128] = "/metadata/labels";

	if (have != NULL && strcmp(have, tenant) == 0)
		return 0;
	if (!json_is_object(json_object_get(obj, "metadata")))
		return 0;   /* nothing sensible to patch; /validate refuses the shape */
	if (!json_is_object(labels))
		return patch_op(patch, labels ? "replace" : "add", path,
		    json_pack("{s:s}", NAMES_TENANT_LABEL, tenant));
	pointer_append(path, sizeof(path), NAMES_TENANT_LABEL);
	return patch_op(patch, json_object_get(labels, NAMES_TENANT_LABEL) ? "replace" : "add", path,
	    json_string(tenant));
}

void
policy_mutate(const struct config *cfg, const struct state *st, const struct request *req,
    time_t now, struct decision *out)
{
	const char *kind = req->kind;
	json_t *patch;
	int rc = 0;

	(void)now;
	decision_init(out);
	if (req->op != OP_CREATE && req->op != OP_UPDATE)
		return;   /* never a patch on DELETE or CONNECT */
	if (req->subresource[0] != '\0' || !json_is_object(req->object))
		return;
	bool ingress = strcmp(kind, "Ingress") == 0 && strcmp(req->group, "networking.k8s.io") == 0;
	bool service = strcmp(kind, "Service") == 0 && req->group[0] == '\0';
	bool ns_obj = strcmp(kind, "Namespace") == 0 && req->group[0] == '\0';
	if (!ingress && !service && !ns_obj)
		return;
	if ((patch = json_array()) == NULL) {
		decision_fail(out, "out of memory while building the patch");
		return;
	}
	const char *ns = ns_obj ? req->name : req->namespace;
	const struct tenant *t = config_namespace_tenant(cfg, ns);
	if (ingress && strcmp(ns, cfg->entry_namespace) == 0)
		rc = mutate_unified_ingress(cfg, st, req->object, patch);
	else if (t != NULL)
		rc = label_tenant(req->object, t->name, patch);
	if (rc != 0) {
		json_decref(patch);
		decision_fail(out, "out of memory while building the patch");
		return;
	}
	if (json_array_size(patch) == 0)
		json_decref(patch);
	else
		out->patch = patch;
}
