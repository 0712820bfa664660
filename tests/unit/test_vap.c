/* SPDX-License-Identifier: Apache-2.0 */
/* test_vap: the fallback policies' CEL and bindings, rule by rule, from a config and a Tenant. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "config_load.h"
#include "testhelp.h"
#include "vap.h"

static const json_t *
object(const json_t *objs, const char *kind, const char *name)
{
	size_t i;
	const json_t *o;

	json_array_foreach(objs, i, o) {
		const char *k = json_string_value(json_object_get(o, "kind"));
		const char *n = json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
		if (k && n && strcmp(k, kind) == 0 && strcmp(n, name) == 0)
			return o;
	}
	return NULL;
}

/* The expression of variable `name` of policy tenantguard-<rule>, or "". */
static const char *
var(const json_t *objs, const char *rule, const char *name)
{
	char pname[96];
	size_t i;
	const json_t *v;

	snprintf(pname, sizeof(pname), "tenantguard-%s", rule);
	json_array_foreach(json_object_get(json_object_get(object(objs, "ValidatingAdmissionPolicy",
	    pname), "spec"), "variables"), i, v)
		if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0)
			return json_string_value(json_object_get(v, "expression"));
	return "";
}

/* Field `f` (expression, messageExpression) of the policy's one validation, or "". */
static const char *
validation(const json_t *objs, const char *rule, const char *f)
{
	char pname[96];

	snprintf(pname, sizeof(pname), "tenantguard-%s", rule);
	const char *s = json_string_value(json_object_get(json_array_get(json_object_get(
	    json_object_get(object(objs, "ValidatingAdmissionPolicy", pname), "spec"),
	    "validations"), 0), f));
	return s ? s : "";
}

/* The binding's action and namespace selector as "Deny NotIn a,b,c", or "" when absent. */
static void
binding_text(const json_t *objs, const char *name, char *out, size_t outsz)
{
	const json_t *b = object(objs, "ValidatingAdmissionPolicyBinding", name), *v;
	const json_t *spec = json_object_get(b, "spec");
	const json_t *me = json_array_get(json_object_get(json_object_get(json_object_get(spec,
	    "matchResources"), "namespaceSelector"), "matchExpressions"), 0);
	size_t len, i;

	out[0] = '\0';
	if (b == NULL)
		return;
	len = (size_t)snprintf(out, outsz, "%s %s ", json_string_value(json_array_get(
	    json_object_get(spec, "validationActions"), 0)),
	    json_string_value(json_object_get(me, "operator")));
	json_array_foreach(json_object_get(me, "values"), i, v)
		if (len < outsz)
			len += (size_t)snprintf(out + len, outsz - len, "%s%s", i ? "," : "",
			    json_string_value(v));
}

static bool
has(const char *hay, const char *needle)
{
	bool ok = strstr(hay, needle) != NULL;
	if (!ok)
		printf("  missing %s\n  in %s\n", needle, hay);
	return ok;
}

static bool
binding_is(const json_t *objs, const char *name, const char *want)
{
	char got[1024];

	binding_text(objs, name, got, sizeof(got));
	if (strcmp(got, want) != 0)
		printf("  binding %s: got '%s', want '%s'\n", name, got, want);
	return strcmp(got, want) == 0;
}

static json_t *
tenant_obj(const char *name, const char *created, const char *spec_json)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", "tenantguard.io/v1alpha1",
	    "kind", "Tenant", "metadata", "name", name, "creationTimestamp", created, "spec",
	    json_loads(spec_json, 0, NULL));
}

int
main(void)
{
	static const char doc[] =
	    "systemDomain: aigw.example.com\n"
	    "entryIngressClass: nginx\n"
	    "tenantIngressClass: higress\n"
	    "admins: {groups: [system:masters], users: [\"o'neil\\\\x\"]}\n"
	    "entryWriters: {secrets: {users: [cert-manager]}}\n"
	    "services: {allowedTypes: [ClusterIP], externalIPCIDRs: [192.0.2.0/24]}\n"
	    "ingress: {deniedAnnotations: [\"*.example.io/*\", \"x?y\"], allowedAnnotations: [safe-snippet]}\n"
	    "enforcement: {rules: {ingress-annotation: warn}}\n"
	    "tenants:\n"
	    "  - {name: tenant1, ingressClass: t1-class}\n"
	    "  - {name: tenant2, enforcement: {rules: {service-type: warn}}}\n";
	const char *excluded[] = { "kube-system", "tenantguard-system", "monitoring" };
	char err[512];
	json_t *tenants = json_array(), *rejected = json_object(), *objs = NULL;
	struct config *cfg;

	json_array_append_new(tenants, tenant_obj("tenant3", "2024-01-01T00:00:00Z",
	    "{\"enforcement\": {\"default\": \"audit\"}}"));
	cfg = config_load_buffer_tenants("test", doc, sizeof(doc) - 1, tenants, rejected, err,
	    sizeof(err));
	test_cond("config with a Tenant object loads", cfg != NULL && cfg->n_tenants == 3);
	if (cfg == NULL) {
		printf("  %s\n", err);
		goto out;
	}
	objs = vap_policies(cfg, excluded, 3);
	test_cond("rendered", objs != NULL);
	if (objs == NULL)
		goto out;

	/* Every policy: admissionregistration v1, fails closed, message starting [rule-id]. */
	static const char *const rules[] = { "service-type", "service-external-ips", "ingress-class",
	    "ingress-annotation", "entry-admin", "managed-object", "tenant-label",
	    "namespace-tenant" };
	for (size_t i = 0; i < sizeof(rules) / sizeof(*rules); i++) {
		char name[96], prefix[64];
		snprintf(name, sizeof(name), "tenantguard-%s", rules[i]);
		snprintf(prefix, sizeof(prefix), "'[%s] ", rules[i]);
		const json_t *p = object(objs, "ValidatingAdmissionPolicy", name);
		test_cond(name, p != NULL && strcmp(json_string_value(json_object_get(p, "apiVersion")),
		    "admissionregistration.k8s.io/v1") == 0 && strcmp(json_string_value(
		    json_object_get(json_object_get(p, "spec"), "failurePolicy")), "Fail") == 0 &&
		    strncmp(validation(objs, rules[i], "messageExpression"), prefix, strlen(prefix)) == 0);
	}
	size_t n_bind = 0, i;
	const json_t *o;
	json_array_foreach(objs, i, o) {
		const char *k = json_string_value(json_object_get(o, "kind"));
		const char *n = json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
		bool known = false;
		if (strcmp(k, "ValidatingAdmissionPolicyBinding") != 0)
			continue;
		n_bind++;
		for (const char *const *b = vap_binding_names(); *b != NULL; b++)
			known = known || strcmp(*b, n) == 0;
		test_cond("every binding is one vap_binding_names lists (so the leader can prune it)",
		    known);
	}
	test_cond("8 policies; a binding per rule, per rule one for tenant3 (audit), one for tenant2 (warn)",
	    json_array_size(objs) == 8 + n_bind && n_bind == 8 + 8 + 1);

	/* Tenants from the file and from Tenant objects, by namespace name. */
	test_cond("service-type: every tenant's namespace, Tenant objects' too",
	    has(var(objs, "service-type", "tenants"), "{'tenant1-gateway': 'tenant1', "
	    "'tenant2-gateway': 'tenant2', 'tenant3-gateway': 'tenant3'}"));
	test_cond("service-type: the allowed types and grandfathering of the old type",
	    has(validation(objs, "service-type", "expression"), "variables.type in ['ClusterIP'] || "
	    "variables.oldType == variables.type"));
	test_cond("service-external-ips: the CIDRs, and the old object's addresses",
	    has(validation(objs, "service-external-ips", "expression"), "ip in variables.oldIPs || "
	    "(isIP(ip) && ['192.0.2.0/24'].exists(c, cidr(c).containsIP(ip)))"));

	/* ingress-class: a tenant's own class over the template, the entry's class refused. */
	test_cond("ingress-class: tenant1's ingressClass, the template's higress for the others",
	    has(var(objs, "ingress-class", "classes"), "{'tenant1-gateway': 't1-class', "
	    "'tenant2-gateway': 'higress', 'tenant3-gateway': 'higress'}"));
	test_cond("ingress-class: the entry class by either marker",
	    has(var(objs, "ingress-class", "bad"), "object.spec.ingressClassName == 'nginx' ? "
	    "[object.spec.ingressClassName]") &&
	    has(var(objs, "ingress-class", "bad"), "object.metadata.annotations['kubernetes.io/"
	    "ingress.class'] == 'nginx'"));
	test_cond("ingress-class: no class at all is the subject ''",
	    has(var(objs, "ingress-class", "bad"), "!has(object.spec.ingressClassName) && "
	    "!(has(object.metadata.annotations) && 'kubernetes.io/ingress.class' in "
	    "object.metadata.annotations) ? ['']"));
	test_cond("ingress-class: tenant namespaces only; the old object's same violation passes",
	    has(validation(objs, "ingress-class", "expression"), "variables.tenant == '' || "
	    "size(variables.bad) == 0 || (oldObject != null && variables.oldBad == variables.bad)"));

	/* ingress-annotation: globs as anchored, case-folded RE2, the glob named in the message. */
	const char *denied = var(objs, "ingress-annotation", "denied");
	test_cond("ingress-annotation: the built-in snippet globs",
	    has(denied, "['*-snippet', r'(?i)^.*-snippet$']") &&
	    has(denied, "['*-snippets', r'(?i)^.*-snippets$']"));
	test_cond("ingress-annotation: deniedAnnotations, '.' and '/' escaped, '?' one character",
	    has(denied, "['*.example.io/*', r'(?i)^.*\\x{2e}example\\x{2e}io\\x{2f}.*$']") &&
	    has(denied, "['x?y', r'(?i)^x.y$']"));
	test_cond("ingress-annotation: allowedAnnotations exempt",
	    strcmp(var(objs, "ingress-annotation", "allowed"), "[r'(?i)^safe-snippet$']") == 0);
	test_cond("ingress-annotation: not in the entry namespace; keys the old object had pass",
	    has(var(objs, "ingress-annotation", "bad"), "request.namespace == 'higress-system' ? [] : "
	    "variables.annotations.filter(k, !(k in variables.oldAnnotations) &&"));

	/* Who may write: admins, quoted exactly; entry writers; the cluster's cleanup. */
	test_cond("entry-admin: admins' names as CEL literals (quote and backslash escaped)",
	    has(var(objs, "entry-admin", "admin"), "request.userInfo.username in ['o\\'neil\\\\x'] || "
	    "(has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in "
	    "['system:masters']))"));
	test_cond("entry-admin: entryWriters.secrets for Secrets only",
	    has(var(objs, "entry-admin", "secretWriter"), "request.resource.resource == 'secrets' && "
	    "(request.userInfo.username in ['cert-manager']"));
	const json_t *ea = object(objs, "ValidatingAdmissionPolicy", "tenantguard-entry-admin");
	test_cond("entry-admin: only the entry namespace, for every kind the webhook decides on",
	    strcmp(json_string_value(json_array_get(json_object_get(json_array_get(json_object_get(
	    json_object_get(json_object_get(json_object_get(ea, "spec"), "matchConstraints"),
	    "namespaceSelector"), "matchExpressions"), 0), "values"), 0)), "higress-system") == 0 &&
	    json_array_size(json_object_get(json_object_get(json_object_get(ea, "spec"),
	    "matchConstraints"), "resourceRules")) == 5);
	test_cond("entry-admin: the namespace controller and garbage collector may delete",
	    has(validation(objs, "entry-admin", "expression"), "request.operation == 'DELETE' && "
	    "request.userInfo.username in ['system:serviceaccount:kube-system:namespace-controller'"));
	test_cond("managed-object: the label, or a tenant's baseline by name",
	    has(var(objs, "managed-object", "baseline"), "request.namespace in variables.tenants && "
	    "((request.kind.kind == 'NetworkPolicy' && request.name == 'tenantguard-isolation') || "
	    "(request.kind.kind == 'ResourceQuota' && request.name == 'tenantguard-quota'))") &&
	    has(var(objs, "managed-object", "managed"), "o.metadata.labels['app.kubernetes.io/"
	    "managed-by'] == 'tenantguard'"));
	test_cond("tenant-label: tenantguard.io/ keys set, changed or removed; the truthful label",
	    has(var(objs, "tenant-label", "changedLabels"), "k.startsWith('tenantguard.io/')") &&
	    has(var(objs, "tenant-label", "changedLabels"), "!(k == 'tenantguard.io/tenant' && "
	    "variables.tenant != '' && variables.labels[k] == variables.tenant)") &&
	    has(var(objs, "tenant-label", "changedLabels"), "+ variables.old_labels.filter(k, "
	    "k.startsWith('tenantguard.io/') && !(k in variables.labels))") &&
	    !strstr(var(objs, "tenant-label", "changedAnnotations"), "variables.tenant"));
	test_cond("tenant-label: admins bypass it", strncmp(validation(objs, "tenant-label",
	    "expression"), "variables.admin || ", 19) == 0);
	test_cond("namespace-tenant: the template's parts, CREATE only, known tenants and the reconciler pass",
	    strcmp(var(objs, "namespace-tenant", "templated"), "variables.name.startsWith('') && "
	    "variables.name.endsWith('-gateway') && size(variables.name) > 8") == 0 &&
	    has(validation(objs, "namespace-tenant", "expression"), "request.operation != 'CREATE' "
	    "|| request.userInfo.username == 'system:serviceaccount:tenantguard-system:tenantguard' "
	    "|| !variables.templated || variables.name in variables.tenants") &&
	    has(validation(objs, "namespace-tenant", "messageExpression"),
	    "variables.name.substring(0, size(variables.name) - 8)"));

	/* Modes: the config's per rule, tenants' overrides (file and Tenant object) apart. */
	test_cond("service-type: deny everywhere but the exclusions and the overriding tenants",
	    binding_is(objs, "tenantguard-service-type",
	    "Deny NotIn kube-system,tenantguard-system,monitoring,tenant2-gateway,tenant3-gateway"));
	test_cond("service-type: tenant2's warn", binding_is(objs, "tenantguard-service-type-warn",
	    "Warn In tenant2-gateway"));
	test_cond("service-type: tenant3's (Tenant object) audit default",
	    binding_is(objs, "tenantguard-service-type-audit", "Audit In tenant3-gateway"));
	test_cond("ingress-annotation: the config's warn, tenant3 audit",
	    binding_is(objs, "tenantguard-ingress-annotation",
	    "Warn NotIn kube-system,tenantguard-system,monitoring,tenant3-gateway") &&
	    binding_is(objs, "tenantguard-ingress-annotation-audit", "Audit In tenant3-gateway") &&
	    object(objs, "ValidatingAdmissionPolicyBinding", "tenantguard-ingress-annotation-deny") ==
	    NULL && object(objs, "ValidatingAdmissionPolicyBinding",
	    "tenantguard-ingress-annotation-warn") == NULL);
	test_cond("entry-admin: deny, tenant3's audit binding is harmless (no tenant there)",
	    binding_is(objs, "tenantguard-entry-admin",
	    "Deny NotIn kube-system,tenantguard-system,monitoring,tenant3-gateway"));
out:
	json_decref(objs);
	json_decref(tenants);
	json_decref(rejected);
	config_free(cfg);
	return test_report();
}
