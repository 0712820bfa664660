/* SPDX-License-Identifier: Apache-2.0 */
/* baseline: rendered from the config alone, so every replica renders the same objects. */
#include "baseline.h"

#include <stdio.h>

#include "config.h"
#include "names.h"


static json_t *
labels(const char *tenant)
{
	return json_pack("{s:s, s:s}", NAMES_MANAGED_BY_KEY, NAMES_MANAGED_BY, NAMES_TENANT_LABEL, tenant);
}

json_t *
baseline_objects(const struct config *cfg, const struct tenant *t)
{
	char ns[256];
	json_t *hard = json_object(), *out = NULL;
	const struct quota_item *q = t->quota ? t->quota : cfg->quota;
	size_t n = t->quota ? t->n_quota : cfg->n_quota;

	if (hard == NULL || !template_expand(&cfg->tenant_namespace, t->name, ns, sizeof(ns)))
		goto out;
	for (size_t i = 0; i < n; i++)
		if (json_object_set_new(hard, q[i].resource, json_string(q[i].quantity)) != 0)
			goto out;
	/* Pods of the namespace itself and of the entry namespace may connect; nobody else. */
	out = json_pack("[{s:s, s:s, s:{s:s, s:s, s:o}, s:{s:{}, s:[s], s:[{s:[{s:{}}, "
	    "{s:{s:{s:s}}}]}]}}, {s:s, s:s, s:{s:s, s:s, s:o}, s:{s:O}}]",
	    "apiVersion", "networking.k8s.io/v1", "kind", "NetworkPolicy",
	    "metadata", "name", NAMES_NETWORK_POLICY, "namespace", ns, "labels", labels(t->name),
	    "spec", "podSelector", "policyTypes", "Ingress", "ingress", "from", "podSelector",
	    "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name", cfg->entry_namespace,
	    "apiVersion", "v1", "kind", "ResourceQuota",
	    "metadata", "name", NAMES_QUOTA, "namespace", ns, "labels", labels(t->name),
	    "spec", "hard", hard);
out:
	json_decref(hard);
	return out;
}

json_t *
baseline_bridge(const struct config *cfg, const struct tenant *t)
{
	char ns[256], name[300], target[600];

	if (!template_expand(&cfg->tenant_namespace, t->name, ns, sizeof(ns)))
		return NULL;
	snprintf(name, sizeof(name), "%s-gateway", t->name);
	snprintf(target, sizeof(target), "%s-gateway.%s.svc.%s", t->name, ns, cfg->cluster_domain);
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:o}, s:{s:s, s:s, s:[{s:s, s:i, s:s}]}}",
	    "apiVersion", "v1", "kind", "Service",
	    "metadata", "name", name, "namespace", cfg->entry_namespace, "labels", labels(t->name),
	    "spec", "type", "ExternalName", "externalName", target, "ports",
	    "name", "http", "port", cfg->gateway_port, "protocol", "TCP");
}

json_t *
baseline_bridges(const struct config *cfg)
{
	json_t *out = json_array();

	for (size_t i = 0; out != NULL && i < cfg->n_tenants; i++) {
		json_t *svc = baseline_bridge(cfg, &cfg->tenants[i]);
		if (svc == NULL || json_array_append_new(out, svc) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

json_t *
baseline_namespace(const struct config *cfg, const struct tenant *t)
{
	char ns[256];
	json_t *lb;

	if (!template_expand(&cfg->tenant_namespace, t->name, ns, sizeof(ns)))
		return NULL;
	/* Pod Security "restricted": a tenant's Higress runs unprivileged, like every pod there. */
	lb = json_pack("{s:s, s:s, s:s, s:s, s:s}", NAMES_TENANT_LABEL, t->name,
	    "pod-security.kubernetes.io/enforce", "restricted",
	    "pod-security.kubernetes.io/enforce-version", "latest",
	    "pod-security.kubernetes.io/audit", "restricted",
	    "pod-security.kubernetes.io/warn", "restricted");
	return json_pack("{s:s, s:s, s:{s:s, s:o}}", "apiVersion", "v1", "kind", "Namespace",
	    "metadata", "name", ns, "labels", lb);
}

/* One rule: `host` → the tenant's bridge on gatewayPort. */
static json_t *
route_rule(const struct config *cfg, const char *host, const char *bridge)
{
	return json_pack("{s:s, s:{s:[{s:s, s:s, s:{s:{s:s, s:{s:i}}}}]}}", "host", host,
	    "http", "paths", "path", "/", "pathType", "Prefix", "backend", "service",
	    "name", bridge, "port", "number", cfg->gateway_port);
}

json_t *
baseline_routes(const struct config *cfg, const struct tenant *t, const json_t *hosts)
{
	char name[300], bridge[300], sys[512], secret[300];
	json_t *rules = json_array(), *custom = json_array(), *tls = NULL, *out = NULL, *h;
	size_t i;

	snprintf(name, sizeof(name), "%s%s", NAMES_ROUTES_PREFIX, t->name);
	snprintf(bridge, sizeof(bridge), "%s-gateway", t->name);
	snprintf(sys, sizeof(sys), "*.%s.%s", t->name, cfg->system_domain);
	if (rules == NULL || custom == NULL ||
	    !template_expand(&cfg->tenant_cert_secret, t->name, secret, sizeof(secret)) ||
	    json_array_append_new(rules, route_rule(cfg, sys, bridge)) != 0)
		goto out;
	json_array_foreach(hosts, i, h) {
		if (json_array_append_new(rules, route_rule(cfg, json_string_value(h), bridge)) != 0 ||
		    json_array_append(custom, h) != 0)
			goto out;
	}
	tls = json_pack("[{s:[s], s:s}]", "hosts", sys, "secretName", cfg->system_cert_secret);
	if (tls == NULL || (json_array_size(custom) > 0 && json_array_append_new(tls,
	    json_pack("{s:O, s:s}", "hosts", custom, "secretName", secret)) != 0))
		goto out;
	out = json_pack("{s:s, s:s, s:{s:s, s:s, s:o}, s:{s:O, s:O}}",
	    "apiVersion", "networking.k8s.io/v1", "kind", "Ingress",
	    "metadata", "name", name, "namespace", cfg->entry_namespace, "labels", labels(t->name),
	    "spec", "tls", tls, "rules", rules);
	if (out != NULL && cfg->entry_ingress_class != NULL &&
	    json_object_set_new(json_object_get(out, "spec"), "ingressClassName",
	    json_string(cfg->entry_ingress_class)) != 0) {
		json_decref(out);
		out = NULL;
	}
out:
	json_decref(rules);
	json_decref(custom);
	json_decref(tls);
	return out;
}
