/* SPDX-License-Identifier: Apache-2.0 */
/* vap: the stateless rules as ValidatingAdmissionPolicies, enforced while tenantguard is away. */
#include "vap.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"

#define VAP_API "admissionregistration.k8s.io/v1"

/*
 * Appends `item` to the CEL list literal of strings in out ("['a', 'b']", opened by the
 * first call with *len 0 and closed by cel_close). The items are DNS labels, type names and
 * CIDRs: nothing to quote. -1 when out is full.
 */
static int
cel_add(char *out, size_t outsz, size_t *len, const char *item)
{
	int n = snprintf(out + *len, outsz - *len, "%s'%s'", *len ? ", " : "[", item);

	if (n < 0 || (size_t)n >= outsz - *len)
		return -1;
	*len += (size_t)n;
	return 0;
}

static int
cel_close(char *out, size_t outsz, size_t len)
{
	int n = snprintf(out + len, outsz - len, "%s]", len ? "" : "[");

	return n < 0 || (size_t)n >= outsz - len ? -1 : 0;
}

/* The webhook's own scope: every namespace but the excluded ones (manifests/webhooks.yaml). */
static json_t *
binding(const char *name)
{
	return json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s, s:[s], s:{s:{s:[{s:s, s:s, s:[s, s]}]}}}}",
	    "apiVersion", VAP_API, "kind", "ValidatingAdmissionPolicyBinding",
	    "metadata", "name", name, "labels", "app.kubernetes.io/name", "tenantguard",
	    "spec", "policyName", name, "validationActions", "Deny",
	    "matchResources", "namespaceSelector", "matchExpressions",
	    "key", "kubernetes.io/metadata.name", "operator", "NotIn", "values",
	    "kube-system", "tenantguard-system");
}

static json_t *
policy(const char *name, json_t *variables, json_t *validations)
{
	return json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s, s:{s:[{s:[s], s:[s], s:[s], s:[s, s]}]}, "
	    "s:o, s:o}}",
	    "apiVersion", VAP_API, "kind", "ValidatingAdmissionPolicy",
	    "metadata", "name", name, "labels", "app.kubernetes.io/name", "tenantguard",
	    "spec", "failurePolicy", "Fail", "matchConstraints", "resourceRules",
	    "apiGroups", "", "apiVersions", "v1", "resources", "services",
	    "operations", "CREATE", "UPDATE",
	    "variables", variables, "validations", validations);
}

/* service-type: rules_service.c, for the namespaces of the config's tenants. */
static json_t *
service_type(const struct config *cfg)
{
	char nss[16384], types[1024], expr[20000], nsbuf[128];
	size_t nl = 0, tl = 0;

	for (size_t i = 0; i < cfg->n_tenants; i++)
		if (!cfg->tenants[i].from_object &&
		    template_expand(&cfg->tenant_namespace, cfg->tenants[i].name, nsbuf, sizeof(nsbuf)) &&
		    cel_add(nss, sizeof(nss), &nl, nsbuf) != 0)
			return NULL;
	for (size_t i = 0; i < cfg->n_service_types; i++)
		if (cel_add(types, sizeof(types), &tl, cfg->service_types[i]) != 0)
			return NULL;
	if (cel_close(nss, sizeof(nss), nl) != 0 || cel_close(types, sizeof(types), tl) != 0)
		return NULL;
	snprintf(expr, sizeof(expr), "!(request.namespace in %s) || variables.type in %s || "
	    "variables.oldType == variables.type", nss, types);
	return policy("tenantguard-service-type",
	    json_pack("[{s:s, s:s}, {s:s, s:s}]",
	    "name", "type", "expression",
	    "has(object.spec.type) ? object.spec.type : 'ClusterIP'",
	    "name", "oldType", "expression",
	    "oldObject == null ? '' : has(oldObject.spec.type) ? oldObject.spec.type : 'ClusterIP'"),
	    json_pack("[{s:s, s:s, s:s}]", "expression", expr, "messageExpression",
	    "'[service-type] Service ' + request.namespace + '/' + object.metadata.name + "
	    "': type ' + variables.type + ' is not allowed in tenant namespaces; traffic enters "
	    "through the unified ingress (use ClusterIP)'", "reason", "Forbidden"));
}

/* service-external-ips: every externalIP in services.externalIPCIDRs, unless already there. */
static json_t *
service_external_ips(const struct config *cfg)
{
	char cidrs[8192], ok[9000], expr[20000], text[64];
	size_t n = cfg->n_external_ip_cidrs, cl = 0;

	for (size_t i = 0; i < n; i++) {
		const struct cidr *c = &cfg->external_ip_cidrs[i];
		char addr[INET6_ADDRSTRLEN];

		if (inet_ntop(c->family, c->addr, addr, sizeof(addr)) == NULL)
			return NULL;
		snprintf(text, sizeof(text), "%s/%u", addr, c->prefix);
		if (cel_add(cidrs, sizeof(cidrs), &cl, text) != 0)
			return NULL;
	}
	if (cel_close(cidrs, sizeof(cidrs), cl) != 0)
		return NULL;
	if (n == 0)
		snprintf(ok, sizeof(ok), "ip in variables.oldIPs");
	else
		snprintf(ok, sizeof(ok), "ip in variables.oldIPs || (isIP(ip) && %s.exists(c, "
		    "cidr(c).containsIP(ip)))", cidrs);
	snprintf(expr, sizeof(expr), "variables.ips.all(ip, %s)", ok);
	char msg[12000];
	snprintf(msg, sizeof(msg), "'[service-external-ips] Service ' + request.namespace + '/' + "
	    "object.metadata.name + ': spec.externalIPs \\'' + variables.ips.filter(ip, !(%s))[0] + "
	    "'\\' is not in an allowed range (services.externalIPCIDRs%s); externalIPs can intercept "
	    "other workloads\\' traffic (CVE-2020-8554)'", ok, n ? "" : " is empty");
	return policy("tenantguard-service-external-ips",
	    json_pack("[{s:s, s:s}, {s:s, s:s}]",
	    "name", "ips", "expression",
	    "has(object.spec.externalIPs) ? object.spec.externalIPs : []",
	    "name", "oldIPs", "expression",
	    "oldObject != null && has(oldObject.spec.externalIPs) ? oldObject.spec.externalIPs : []"),
	    json_pack("[{s:s, s:s, s:s}]", "expression", expr, "messageExpression", msg,
	    "reason", "Forbidden"));
}

json_t *
vap_policies(const struct config *cfg)
{
	json_t *out = json_array();
	json_t *p;

	if (out == NULL)
		return NULL;
	if ((p = service_type(cfg)) == NULL || json_array_append_new(out, p) != 0 ||
	    json_array_append_new(out, binding("tenantguard-service-type")) != 0 ||
	    (p = service_external_ips(cfg)) == NULL || json_array_append_new(out, p) != 0 ||
	    json_array_append_new(out, binding("tenantguard-service-external-ips")) != 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}
