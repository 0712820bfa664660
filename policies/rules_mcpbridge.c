/* SPDX-License-Identifier: Apache-2.0 */
/* rules_mcpbridge: a tenant's Higress McpBridge reads only its own registry namespaces (reference §5.1). */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "host.h"
#include "owner.h"
#include "policy.h"
#include "rules.h"

static bool
type_allowed(const struct config *cfg, const char *type)
{
	for (size_t i = 0; i < cfg->n_registry_types; i++)
		if (strcmp(cfg->registry_types[i], type) == 0)
			return true;
	return false;
}

/*
 * Nacos: the namespace is nacosNamespaceId (nacosNamespace is its display name, and the
 * reference's §5.1 writes "namespace"); none at all is Nacos's "public" namespace, which
 * every client of the server shares.
 */
static void
check_nacos(struct rule_ctx *ctx, const json_t *reg, size_t i)
{
	static const char *const keys[] = { "nacosNamespaceId", "nacosNamespace", "namespace" };
	const struct tenant *t = ctx->tenant;
	bool named = false;

	for (size_t k = 0; k < sizeof(keys) / sizeof(*keys); k++) {
		const json_t *v = json_object_get(reg, keys[k]);
		if (v == NULL)
			continue;
		if (!json_is_string(v)) {
			rules_invalid(ctx, "spec.registries[%zu].%s must be a string", i, keys[k]);
			return;
		}
		const char *ns = json_string_value(v);
		named = true;
		if (!config_tenant_registry_ns(t, ns))
			rules_violation(ctx, RULE_REGISTRY_NAMESPACE, ns, "spec.registries[%zu].%s "
			    "'%s' is not a registry namespace of tenant %s; use %s", i, keys[k], ns,
			    t->name, t->n_registry_namespaces ? "one of its registryNamespaces" :
			    t->name);
	}
	if (!named)
		rules_violation(ctx, RULE_REGISTRY_NAMESPACE, "public", "spec.registries[%zu] names "
		    "no Nacos namespace, so it reads 'public', which every tenant shares; set "
		    "nacosNamespaceId: %s", i, t->n_registry_namespaces ?
		    t->registry_namespaces[0] : t->name);
}

/* dns: every name in domain (comma-separated) must stay inside what the tenant may reach. */
static void
check_dns(struct rule_ctx *ctx, const char *domain, size_t i)
{
	char name[HOST_MAX + 1], host[HOST_MAX], ns[64];
	const char *why;

	for (const char *p = domain; *p != '\0';) {
		size_t n = strcspn(p, ",");
		const char *s = p;
		size_t len = n;
		while (len > 0 && (*s == ' ' || *s == '\t')) {
			s++;
			len--;
		}
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		p += n + (p[n] == ',' ? 1 : 0);
		if (len == 0 || len >= sizeof(name))
			continue;
		memcpy(name, s, len);
		name[len] = '\0';
		char *colon = strrchr(name, ':');
		if (colon != NULL)
			*colon = '\0';
		if (host_normalize(name, host, sizeof(host), &why) != 0)
			continue;   /* an address, not a name: static reach, like an Endpoint */
		enum cluster_name c = owner_cluster_name(ctx->cfg, host, ns, sizeof(ns));
		if ((c == CLUSTER_NAME_NS && !owner_backend_ns_allowed(ctx, ns)) ||
		    c == CLUSTER_NAME_OTHER)
			rules_violation(ctx, RULE_REGISTRY_NAMESPACE, host, "spec.registries[%zu] "
			    "(dns) resolves '%s', a cluster name outside tenant %s's namespaces", i,
			    host, ctx->tenant->name);
	}
}

void
rules_mcpbridge(struct rule_ctx *ctx, const json_t *obj)
{
	const json_t *spec = json_object_get(obj, "spec");
	const json_t *regs = json_object_get(spec, "registries"), *r;
	size_t i;

	if ((spec != NULL && !json_is_object(spec)) || (regs != NULL && !json_is_array(regs))) {
		rules_invalid(ctx, "spec must be an object and spec.registries a list");
		return;
	}
	if (ctx->tenant == NULL)
		return;   /* the entry namespace is admins' (entry-admin); outside, no tenant */
	json_array_foreach(regs, i, r) {
		const char *type = jsonget_str(r, "type");
		if (!json_is_object(r) || type == NULL) {
			rules_invalid(ctx, "spec.registries[%zu] must be an object with a string type", i);
			return;
		}
		if (!type_allowed(ctx->cfg, type)) {
			rules_violation(ctx, RULE_REGISTRY_NAMESPACE, type, "spec.registries[%zu] has "
			    "type %s, which is not in registries.allowedTypes: a shared registry of "
			    "that type has no tenant boundary tenantguard can check", i, type);
			continue;
		}
		if (strncmp(type, "nacos", 5) == 0)
			check_nacos(ctx, r, i);
		else if (strcmp(type, "dns") == 0 && jsonget_str(r, "domain") != NULL)
			check_dns(ctx, jsonget_str(r, "domain"), i);
	}
}
