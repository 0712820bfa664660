/* SPDX-License-Identifier: Apache-2.0 */
/* test_baseline: the objects the reconciler applies, field by field, from the config alone. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "config.h"
#include "config_load.h"
#include "testhelp.h"

/* The string at a dotted path of keys and array indexes ("spec.tls.0.secretName"). */
static const char *
str(const json_t *obj, const char *path)
{
	const json_t *v = obj;

	while (v != NULL && *path != '\0') {
		char part[64];
		size_t n = strcspn(path, ".");

		if (n >= sizeof(part))
			return NULL;
		memcpy(part, path, n);
		part[n] = '\0';
		v = json_is_array(v) ? json_array_get(v, strtoul(part, NULL, 10)) : json_object_get(v, part);
		path += n + (path[n] == '.');
	}
	return json_string_value(v);
}

static bool
eq(const char *got, const char *want)
{
	return got != NULL && strcmp(got, want) == 0;
}

static bool
is(const json_t *obj, const char *path, const char *want)
{
	return eq(str(obj, path), want);
}

int
main(void)
{
	char err[512];
	static const char doc[] =
	    "systemDomain: aigw.example.com\n"
	    "entryIngressClass: nginx\n"
	    "baseline: {resourceQuota: {limits.cpu: \"5\", requests.memory: 4Gi}}\n"
	    "tenants:\n"
	    "  - {name: tenant1, customDomains: [\"*.customer.com\"], resourceQuota: {limits.cpu: \"8\"}}\n"
	    "  - {name: tenant2}\n";
	struct config *cfg = config_load_buffer("test", doc, sizeof(doc) - 1, err, sizeof(err));
	test_cond("config loads", cfg != NULL);
	if (cfg == NULL)
		return test_report();
	const struct tenant *t1 = config_tenant(cfg, "tenant1"), *t2 = config_tenant(cfg, "tenant2");

	json_t *ns = baseline_namespace(cfg, t1);
	test_cond("namespace tenant1-gateway", is(ns, "metadata.name", "tenant1-gateway"));
	const json_t *lb = json_object_get(json_object_get(ns, "metadata"), "labels");
	test_cond("namespace: tenant label",
	    eq(json_string_value(json_object_get(lb, "tenantguard.io/tenant")), "tenant1"));
	test_cond("namespace: Pod Security restricted, enforced, audited and warned",
	    eq(json_string_value(json_object_get(lb, "pod-security.kubernetes.io/enforce")), "restricted") &&
	    eq(json_string_value(json_object_get(lb, "pod-security.kubernetes.io/audit")), "restricted") &&
	    eq(json_string_value(json_object_get(lb, "pod-security.kubernetes.io/warn")), "restricted"));
	test_cond("namespace: no managed-by (only a namespace tenantguard creates gets it)",
	    json_object_get(lb, "app.kubernetes.io/managed-by") == NULL);
	json_decref(ns);

	json_t *base = baseline_objects(cfg, t1);
	const json_t *np = json_array_get(base, 0), *rq = json_array_get(base, 1);
	test_cond("NetworkPolicy tenantguard-isolation in tenant1-gateway",
	    is(np, "kind", "NetworkPolicy") && is(np, "metadata.name", "tenantguard-isolation") &&
	    is(np, "metadata.namespace", "tenant1-gateway"));
	test_cond("NetworkPolicy: from its own pods and the entry namespace by metadata.name",
	    json_object_size(json_object_get(json_object_get(np, "spec"), "podSelector")) == 0 &&
	    is(np, "spec.policyTypes.0", "Ingress") &&
	    json_array_size(json_object_get(json_array_get(json_object_get(json_object_get(np, "spec"),
	    "ingress"), 0), "from")) == 2);
	const json_t *hard = json_object_get(json_object_get(rq, "spec"), "hard");
	test_cond("ResourceQuota: the tenant's limits.cpu over the baseline",
	    eq(json_string_value(json_object_get(hard, "limits.cpu")), "8") &&
	    eq(json_string_value(json_object_get(hard, "requests.memory")), "4Gi") &&
	    json_object_size(hard) == 2);
	json_decref(base);
	base = baseline_objects(cfg, t2);
	hard = json_object_get(json_object_get(json_array_get(base, 1), "spec"), "hard");
	test_cond("ResourceQuota of a tenant without override: the baseline",
	    eq(json_string_value(json_object_get(hard, "limits.cpu")), "5"));
	json_decref(base);

	json_t *br = baseline_bridge(cfg, t2);
	test_cond("bridge higress-system/tenant2-gateway → its gateway Service",
	    is(br, "metadata.namespace", "higress-system") && is(br, "metadata.name", "tenant2-gateway") &&
	    is(br, "spec.type", "ExternalName") &&
	    is(br, "spec.externalName", "tenant2-gateway.tenant2-gateway.svc.cluster.local"));
	json_decref(br);

	json_t *hosts = json_pack("[s, s]", "*.customer.com", "app.newco.com");
	json_t *rt = baseline_routes(cfg, t1, hosts);
	const json_t *rules = json_object_get(json_object_get(rt, "spec"), "rules");
	const json_t *tls = json_object_get(json_object_get(rt, "spec"), "tls");
	test_cond("routes tenantguard-routes-tenant1 in the entry namespace, class nginx",
	    is(rt, "metadata.name", "tenantguard-routes-tenant1") &&
	    is(rt, "metadata.namespace", "higress-system") && is(rt, "spec.ingressClassName", "nginx"));
	test_cond("routes: system wildcard first, then the hosts, each to the bridge",
	    json_array_size(rules) == 3 && is(rules, "0.host", "*.tenant1.aigw.example.com") &&
	    is(rules, "1.host", "*.customer.com") && is(rules, "2.host", "app.newco.com") &&
	    is(rules, "2.http.paths.0.backend.service.name", "tenant1-gateway"));
	test_cond("routes TLS: system-wildcard-cert for the system wildcard, tenant1-custom-cert for the rest",
	    json_array_size(tls) == 2 && is(tls, "0.secretName", "system-wildcard-cert") &&
	    is(tls, "0.hosts.0", "*.tenant1.aigw.example.com") &&
	    is(tls, "1.secretName", "tenant1-custom-cert") && is(tls, "1.hosts.1", "app.newco.com"));
	json_decref(rt);
	json_t *none = json_array();
	rt = baseline_routes(cfg, t2, none);
	test_cond("routes without custom hosts: one rule, one TLS entry",
	    json_array_size(json_object_get(json_object_get(rt, "spec"), "rules")) == 1 &&
	    json_array_size(json_object_get(json_object_get(rt, "spec"), "tls")) == 1);
	json_decref(rt);
	json_decref(none);
	json_decref(hosts);
	config_free(cfg);
	return test_report();
}
