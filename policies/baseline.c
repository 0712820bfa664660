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
baseline_bridges(const struct config *cfg)
{
	json_t *out = json_array();
	char ns[256], name[300], target[600];

	for (size_t i = 0; out != NULL && i < cfg->n_tenants; i++) {
		const struct tenant *t = &cfg->tenants[i];
		if (!template_expand(&cfg->tenant_namespace, t->name, ns, sizeof(ns)))
			continue;
		snprintf(name, sizeof(name), "%s-gateway", t->name);
		snprintf(target, sizeof(target), "%s-gateway.%s.svc.%s", t->name, ns,
		    cfg->cluster_domain);
		json_t *svc = json_pack("{s:s, s:s, s:{s:s, s:s, s:o}, s:{s:s, s:s, s:[{s:s, s:i, "
		    "s:s}]}}", "apiVersion", "v1", "kind", "Service",
		    "metadata", "name", name, "namespace", cfg->entry_namespace, "labels",
		    labels(t->name), "spec", "type", "ExternalName", "externalName", target, "ports",
		    "name", "http", "port", cfg->gateway_port, "protocol", "TCP");
		if (svc == NULL || json_array_append_new(out, svc) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}
