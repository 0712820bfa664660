/* SPDX-License-Identifier: Apache-2.0 */
/* vap: the stateless rules as ValidatingAdmissionPolicies, enforced while tenantguard is away. */
#include "vap.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "enforce.h"
#include "names.h"

#define VAP_API "admissionregistration.k8s.io/v1"

/*
 * A growing CEL text with a sticky failure (policies/ cannot reach webhook/dynbuf; the
 * texts grow with the number of tenants, so no fixed buffer fits them all).
 */
struct cel {
	char  *s;
	size_t len, cap;
	bool   failed;
};

static void cel_addf(struct cel *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
cel_addf(struct cel *b, const char *fmt, ...)
{
	va_list ap;

	while (!b->failed) {
		va_start(ap, fmt);
		int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if (b->s != NULL && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 512;
		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (p == NULL) {
			b->failed = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
}

/* `s` as a CEL string literal: user and group names may hold quotes and backslashes. */
static void
cel_quote(struct cel *b, const char *s)
{
	cel_addf(b, "'");
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\'' || c == '\\')
			cel_addf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			cel_addf(b, "\\x%02x", c);
		else
			cel_addf(b, "%c", c);
	}
	cel_addf(b, "'");
}

static void
cel_list(struct cel *b, char *const *items, size_t n)
{
	cel_addf(b, "[");
	for (size_t i = 0; i < n; i++) {
		cel_addf(b, "%s", i ? ", " : "");
		cel_quote(b, items[i]);
	}
	cel_addf(b, "]");
}

/* The text as a JSON string (new reference) and b emptied; NULL when anything failed. */
static json_t *
cel_json(struct cel *b)
{
	json_t *j = b->failed || b->s == NULL ? NULL : json_string(b->s);

	free(b->s);
	memset(b, 0, sizeof(*b));
	return j;
}

/* The tenants' namespaces as a CEL map to their tenant: identity is the name, never a label. */
static void
cel_tenant_map(struct cel *b, const struct config *cfg)
{
	char ns[256];
	size_t n = 0;

	cel_addf(b, "{");
	for (size_t i = 0; i < cfg->n_tenants; i++)
		if (template_expand(&cfg->tenant_namespace, cfg->tenants[i].name, ns, sizeof(ns))) {
			cel_addf(b, "%s", n++ ? ", " : "");
			cel_quote(b, ns);
			cel_addf(b, ": ");
			cel_quote(b, cfg->tenants[i].name);
		}
	cel_addf(b, "}");
}

/* A request by an admin (admins.users / admins.groups): the webhook's config_is_admin. */
static void
cel_admin(struct cel *b, const struct config *cfg)
{
	cel_addf(b, "request.userInfo.username in ");
	cel_list(b, cfg->admin_users, cfg->n_admin_users);
	cel_addf(b, " || (has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in ");
	cel_list(b, cfg->admin_groups, cfg->n_admin_groups);
	cel_addf(b, "))");
}

/* Kubernetes' namespace controller and garbage collector deleting (policy.c's cleanup). */
static const char cel_cleanup[] =
	"request.operation == 'DELETE' && request.userInfo.username in "
	"['system:serviceaccount:kube-system:namespace-controller', "
	"'system:serviceaccount:kube-system:generic-garbage-collector', "
	"'system:kube-controller-manager']";

/* "Kind ns/name" (or "Namespace name"), as the webhook describes the object. */
static const char cel_desc[] =
	"request.kind.kind + ' ' + (request.kind.kind == 'Namespace' ? '' : "
	"request.namespace + '/') + request.name";

/* ---- the objects -------------------------------------------------------------------- */

/* What the webhook's rules cover (manifests/webhooks.yaml), for the who-may-write rules. */
static json_t *
all_resources(void)
{
	return json_pack("[{s:[s], s:[s], s:[s, s], s:[s, s, s]}, {s:[s], s:[s], s:[s, s, s, s], "
	    "s:[s, s, s]}, {s:[s], s:[s], s:[s, s, s, s, s], s:[s, s, s]}, "
	    "{s:[s], s:[s], s:[s, s], s:[s, s, s]}, {s:[s], s:[s], s:[s], s:[s, s]}]",
	    "apiGroups", "networking.k8s.io", "apiVersions", "v1",
	    "resources", "ingresses", "networkpolicies", "operations", "CREATE", "UPDATE", "DELETE",
	    "apiGroups", "", "apiVersions", "v1",
	    "resources", "services", "secrets", "resourcequotas", "namespaces",
	    "operations", "CREATE", "UPDATE", "DELETE",
	    "apiGroups", "gateway.networking.k8s.io", "apiVersions", "*",
	    "resources", "httproutes", "grpcroutes", "tlsroutes", "gateways", "listenersets",
	    "operations", "CREATE", "UPDATE", "DELETE",
	    "apiGroups", "networking.istio.io", "apiVersions", "*",
	    "resources", "virtualservices", "gateways", "operations", "CREATE", "UPDATE", "DELETE",
	    "apiGroups", "networking.higress.io", "apiVersions", "*",
	    "resources", "mcpbridges", "operations", "CREATE", "UPDATE");
}

/* CREATE and UPDATE of one core or networking.k8s.io v1 resource. */
static json_t *
resources(const char *group, const char *resource)
{
	return json_pack("[{s:[s], s:[s], s:[s], s:[s, s]}]", "apiGroups", group, "apiVersions", "v1",
	    "resources", resource, "operations", "CREATE", "UPDATE");
}

/*
 * One policy, or NULL when `ok` is false (a variable failed: var_add) or anything else
 * fails. `rules` (resourceRules), `variables` and the two CEL texts are stolen, NULL ones
 * included; `only_ns` (may be NULL) limits it to that namespace.
 */
static json_t *
policy(enum rule_id rule, json_t *rules, const char *only_ns, json_t *variables, bool ok,
    json_t *expr, json_t *msg)
{
	char name[96];
	json_t *mc = NULL, *p = NULL;

	snprintf(name, sizeof(name), "tenantguard-%s", ruleid_name(rule));
	if (ok)
		mc = json_pack("{s:o}", "resourceRules", rules);
	else
		json_decref(rules);
	if (mc != NULL && only_ns != NULL && json_object_set_new(mc, "namespaceSelector",
	    json_pack("{s:[{s:s, s:s, s:[s]}]}", "matchExpressions", "key",
	    "kubernetes.io/metadata.name", "operator", "In", "values", only_ns)) != 0) {
		json_decref(mc);
		mc = NULL;
	}
	if (mc != NULL)
		p = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s, s:O, s:O, s:[{s:O, s:O, s:s}]}}",
		    "apiVersion", VAP_API, "kind", "ValidatingAdmissionPolicy",
		    "metadata", "name", name, "labels", "app.kubernetes.io/name", "tenantguard",
		    "spec", "failurePolicy", "Fail", "matchConstraints", mc, "variables", variables,
		    "validations", "expression", expr, "messageExpression", msg, "reason",
		    "Forbidden");
	json_decref(mc);
	json_decref(variables);
	json_decref(expr);
	json_decref(msg);
	return p;
}

/* Appends variable `name` = the CEL text in b (emptied); marks *ok false on failure. */
static void
var_add(json_t *vars, const char *name, struct cel *b, bool *ok)
{
	json_t *e = cel_json(b);

	if (vars == NULL || e == NULL ||
	    json_array_append_new(vars, json_pack("{s:s, s:o}", "name", name, "expression", e)) != 0)
		*ok = false;
}

/* ---- the rules ---------------------------------------------------------------------- */

/* service-type: rules_service.c, in the tenants' namespaces. */
static json_t *
service_type(const struct config *cfg)
{
	struct cel b = { 0 };
	json_t *vars = json_array(), *expr, *msg;
	bool ok = true;

	cel_tenant_map(&b, cfg);
	var_add(vars, "tenants", &b, &ok);
	cel_addf(&b, "has(object.spec.type) ? object.spec.type : 'ClusterIP'");
	var_add(vars, "type", &b, &ok);
	cel_addf(&b, "oldObject == null ? '' : has(oldObject.spec.type) ? oldObject.spec.type : "
	    "'ClusterIP'");
	var_add(vars, "oldType", &b, &ok);
	cel_addf(&b, "!(request.namespace in variables.tenants) || variables.type in ");
	cel_list(&b, cfg->service_types, cfg->n_service_types);
	cel_addf(&b, " || variables.oldType == variables.type");
	expr = cel_json(&b);
	cel_addf(&b, "'[service-type] Service ' + request.namespace + '/' + object.metadata.name + "
	    "': type ' + variables.type + ' is not allowed in tenant namespaces; traffic enters "
	    "through the unified ingress (use ClusterIP)'");
	msg = cel_json(&b);
	return policy(RULE_SERVICE_TYPE, resources("", "services"), NULL, vars, ok, expr, msg);
}

/* service-external-ips: every externalIP in services.externalIPCIDRs, unless already there. */
static json_t *
service_external_ips(const struct config *cfg)
{
	struct cel b = { 0 }, ok_ip = { 0 };
	json_t *vars = json_array(), *expr, *msg;
	size_t n = cfg->n_external_ip_cidrs;
	bool ok = true;

	cel_addf(&ok_ip, "ip in variables.oldIPs");
	if (n > 0) {
		cel_addf(&ok_ip, " || (isIP(ip) && [");
		for (size_t i = 0; i < n; i++) {
			const struct cidr *c = &cfg->external_ip_cidrs[i];
			char addr[INET6_ADDRSTRLEN];
			if (inet_ntop(c->family, c->addr, addr, sizeof(addr)) == NULL)
				ok_ip.failed = true;
			else
				cel_addf(&ok_ip, "%s'%s/%u'", i ? ", " : "", addr, c->prefix);
		}
		cel_addf(&ok_ip, "].exists(c, cidr(c).containsIP(ip)))");
	}
	const char *okt = ok_ip.failed || ok_ip.s == NULL ? "" : ok_ip.s;
	cel_addf(&b, "has(object.spec.externalIPs) ? object.spec.externalIPs : []");
	var_add(vars, "ips", &b, &ok);
	cel_addf(&b, "oldObject != null && has(oldObject.spec.externalIPs) ? "
	    "oldObject.spec.externalIPs : []");
	var_add(vars, "oldIPs", &b, &ok);
	cel_addf(&b, "variables.ips.all(ip, %s)", okt);
	expr = cel_json(&b);
	cel_addf(&b, "'[service-external-ips] Service ' + request.namespace + '/' + "
	    "object.metadata.name + ': spec.externalIPs \\'' + variables.ips.filter(ip, !(%s))[0] + "
	    "'\\' is not in an allowed range (services.externalIPCIDRs%s); externalIPs can intercept "
	    "other workloads\\' traffic (CVE-2020-8554)'", okt, n ? "" : " is empty");
	msg = cel_json(&b);
	ok = ok && !ok_ip.failed;
	free(ok_ip.s);
	return policy(RULE_SERVICE_EXTERNAL_IPS, resources("", "services"), NULL, vars, ok, expr,
	    msg);
}

/*
 * ingress-class's offending marker of object `o` as a list: [] when it passes, else [the
 * class] ([''] for no class at all), the subject the webhook grandfathers by (check_class).
 */
static void
cel_class_subject(struct cel *b, const struct config *cfg, const char *o)
{
	const char *e = cfg->entry_ingress_class;

	cel_addf(b, "%s == null ? [] : ", o);
	if (e != NULL) {
		cel_addf(b, "has(%s.spec.ingressClassName) && %s.spec.ingressClassName == ", o, o);
		cel_quote(b, e);
		cel_addf(b, " ? [%s.spec.ingressClassName] : ", o);
		cel_addf(b, "has(%s.metadata.annotations) && 'kubernetes.io/ingress.class' in "
		    "%s.metadata.annotations && %s.metadata.annotations['kubernetes.io/ingress.class'] "
		    "== ", o, o, o);
		cel_quote(b, e);
		cel_addf(b, " ? [%s.metadata.annotations['kubernetes.io/ingress.class']] : ", o);
	}
	cel_addf(b, "!has(%s.spec.ingressClassName) && !(has(%s.metadata.annotations) && "
	    "'kubernetes.io/ingress.class' in %s.metadata.annotations) ? [''] : "
	    "variables.want == '' ? [] : "
	    "has(%s.spec.ingressClassName) && %s.spec.ingressClassName != variables.want ? "
	    "[%s.spec.ingressClassName] : "
	    "has(%s.metadata.annotations) && 'kubernetes.io/ingress.class' in "
	    "%s.metadata.annotations && %s.metadata.annotations['kubernetes.io/ingress.class'] != "
	    "variables.want ? [%s.metadata.annotations['kubernetes.io/ingress.class']] : []",
	    o, o, o, o, o, o, o, o, o, o);
}

/*
 * ingress-class: a tenant Ingress names its tenant's class, never the entry's, and names one.
 * A class-less Ingress is refused even where the config sets a tenant class: while tenantguard
 * answers, its mutating webhook has set the class before any validation (policies included)
 * sees the object; while it is away nothing sets it, and the cluster's default class —
 * possibly the entry's — would serve it. That is what the validating webhook decides on the
 * final object too.
 */
static json_t *
ingress_class(const struct config *cfg)
{
	struct cel b = { 0 };
	json_t *vars = json_array(), *expr, *msg;
	char cls[256], ns[256];
	size_t n = 0;
	bool ok = true;

	cel_tenant_map(&b, cfg);
	var_add(vars, "tenants", &b, &ok);
	cel_addf(&b, "request.namespace in variables.tenants ? variables.tenants[request.namespace] "
	    ": ''");
	var_add(vars, "tenant", &b, &ok);
	cel_addf(&b, "{");
	for (size_t i = 0; i < cfg->n_tenants; i++)
		if (config_tenant_class(cfg, &cfg->tenants[i], cls, sizeof(cls)) &&
		    template_expand(&cfg->tenant_namespace, cfg->tenants[i].name, ns, sizeof(ns))) {
			cel_addf(&b, "%s", n++ ? ", " : "");
			cel_quote(&b, ns);
			cel_addf(&b, ": ");
			cel_quote(&b, cls);
		}
	cel_addf(&b, "}");
	var_add(vars, "classes", &b, &ok);
	cel_addf(&b, "request.namespace in variables.classes ? variables.classes[request.namespace] "
	    ": ''");
	var_add(vars, "want", &b, &ok);
	cel_class_subject(&b, cfg, "object");
	var_add(vars, "bad", &b, &ok);
	cel_class_subject(&b, cfg, "oldObject");
	var_add(vars, "oldBad", &b, &ok);
	cel_addf(&b, "variables.tenant == '' || size(variables.bad) == 0 || "
	    "(oldObject != null && variables.oldBad == variables.bad)");
	expr = cel_json(&b);
	cel_addf(&b, "'[ingress-class] Ingress ' + request.namespace + '/' + object.metadata.name + "
	    "': ' + (");
	if (cfg->entry_ingress_class != NULL) {
		cel_addf(&b, "variables.bad[0] == ");
		cel_quote(&b, cfg->entry_ingress_class);
		cel_addf(&b, " ? 'ingress class \\'' + variables.bad[0] + '\\' is the unified entry\\'s "
		    "class: the entry controller every tenant shares would serve this Ingress itself, "
		    "bypassing the unified ingress; ' : ");
	}
	cel_addf(&b, "variables.bad[0] == '' ? 'the Ingress names no ingress class, so the "
	    "IngressClass the cluster marks default would serve it (possibly the entry\\'s); ' : "
	    "'ingress class \\'' + variables.bad[0] + '\\' is not tenant ' + variables.tenant + "
	    "'\\'s class; ') + (variables.want != '' ? 'set spec.ingressClassName: ' + "
	    "variables.want : 'set spec.ingressClassName to the class of tenant ' + "
	    "variables.tenant + '\\'s own Higress')");
	msg = cel_json(&b);
	return policy(RULE_INGRESS_CLASS, resources("networking.k8s.io", "ingresses"), NULL,
	    vars, ok, expr, msg);
}

/*
 * Glob `g` (rules_annotation.c: '*' any run, '?' one character, ASCII case-folded) as an
 * anchored RE2 pattern in a CEL raw string. Letters, digits, '-' and '_' stand for
 * themselves, '.' is escaped, anything else is written as \x{HH}: no character of a config
 * value can end the literal.
 */
static void
cel_glob(struct cel *b, const char *g)
{
	cel_addf(b, "r'(?i)^");
	for (; *g != '\0'; g++) {
		unsigned char c = (unsigned char)*g;
		if (c == '*')
			cel_addf(b, ".*");
		else if (c == '?')
			cel_addf(b, ".");
		else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_')
			cel_addf(b, "%c", c);
		else
			cel_addf(b, "\\x{%02x}", c);
	}
	cel_addf(b, "$'");
}

/* The built-in denied globs: rules_annotation.c's builtin_denied. */
static const char *const snippet_globs[] = { "*-snippet", "*-snippets" };

/* ingress-annotation: controller-configuration keys outside the entry namespace. */
static json_t *
ingress_annotation(const struct config *cfg)
{
	struct cel b = { 0 };
	json_t *vars = json_array(), *expr, *msg;
	size_t n = 0;
	bool ok = true;

	cel_addf(&b, "has(object.metadata.annotations) ? object.metadata.annotations : {}");
	var_add(vars, "annotations", &b, &ok);
	cel_addf(&b, "oldObject != null && has(oldObject.metadata.annotations) ? "
	    "oldObject.metadata.annotations : {}");
	var_add(vars, "oldAnnotations", &b, &ok);
	/* [glob as written, its pattern]: the message names the glob, as the webhook does. */
	cel_addf(&b, "[");
	for (size_t i = 0; i < sizeof(snippet_globs) / sizeof(*snippet_globs); i++, n++) {
		cel_addf(&b, "%s[", n ? ", " : "");
		cel_quote(&b, snippet_globs[i]);
		cel_addf(&b, ", ");
		cel_glob(&b, snippet_globs[i]);
		cel_addf(&b, "]");
	}
	for (size_t i = 0; i < cfg->n_denied_annotations; i++, n++) {
		cel_addf(&b, "%s[", n ? ", " : "");
		cel_quote(&b, cfg->denied_annotations[i]);
		cel_addf(&b, ", ");
		cel_glob(&b, cfg->denied_annotations[i]);
		cel_addf(&b, "]");
	}
	cel_addf(&b, "]");
	var_add(vars, "denied", &b, &ok);
	cel_addf(&b, "[");
	for (size_t i = 0; i < cfg->n_allowed_annotations; i++) {
		cel_addf(&b, "%s", i ? ", " : "");
		cel_glob(&b, cfg->allowed_annotations[i]);
	}
	cel_addf(&b, "]");
	var_add(vars, "allowed", &b, &ok);
	/* A key the old object had violated there too: grandfathered, like the webhook. */
	cel_addf(&b, "request.namespace == ");
	cel_quote(&b, cfg->entry_namespace);
	cel_addf(&b, " ? [] : variables.annotations.filter(k, !(k in variables.oldAnnotations) && "
	    "variables.denied.exists(d, k.matches(d[1])) && "
	    "!variables.allowed.exists(a, k.matches(a)))");
	var_add(vars, "bad", &b, &ok);
	cel_addf(&b, "size(variables.bad) == 0");
	expr = cel_json(&b);
	cel_addf(&b, "'[ingress-annotation] Ingress ' + request.namespace + '/' + "
	    "object.metadata.name + ': annotation ' + variables.bad[0] + ' (matching \\'' + "
	    "variables.denied.filter(d, variables.bad[0].matches(d[1]))[0][0] + '\\') injects "
	    "configuration into an ingress controller other tenants share; remove it (platform "
	    "admins can allow a reviewed key with ingress.allowedAnnotations)'");
	msg = cel_json(&b);
	return policy(RULE_INGRESS_ANNOTATION, resources("networking.k8s.io", "ingresses"),
	    NULL, vars, ok, expr, msg);
}

/* entry-admin: only admins write in the entry namespace (entryWriters.secrets: Secrets too). */
static json_t *
entry_admin(const struct config *cfg)
{
	struct cel b = { 0 };
	json_t *vars = json_array(), *expr, *msg;
	bool ok = true;

	cel_admin(&b, cfg);
	var_add(vars, "admin", &b, &ok);
	cel_addf(&b, "request.resource.group == '' && request.resource.resource == 'secrets' && "
	    "(request.userInfo.username in ");
	cel_list(&b, cfg->entry_secret_writer_users, cfg->n_entry_secret_writer_users);
	cel_addf(&b, " || (has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in ");
	cel_list(&b, cfg->entry_secret_writer_groups, cfg->n_entry_secret_writer_groups);
	cel_addf(&b, ")))");
	var_add(vars, "secretWriter", &b, &ok);
	cel_addf(&b, "variables.admin || variables.secretWriter || (%s)", cel_cleanup);
	expr = cel_json(&b);
	cel_addf(&b, "'[entry-admin] ' + %s + ': only platform admins may change objects in the "
	    "entry namespace ' + ", cel_desc);
	cel_quote(&b, cfg->entry_namespace);
	cel_addf(&b, " + '; tenants configure routes in their own namespace'");
	msg = cel_json(&b);
	return policy(RULE_ENTRY_ADMIN, all_resources(), cfg->entry_namespace, vars, ok, expr, msg);
}

/* managed-object: what tenantguard made (labelled, or a tenant's baseline) is admins' only. */
static json_t *
managed_object(const struct config *cfg)
{
	struct cel b = { 0 };
	json_t *vars = json_array(), *expr, *msg;
	bool ok = true;

	cel_admin(&b, cfg);
	var_add(vars, "admin", &b, &ok);
	cel_tenant_map(&b, cfg);
	var_add(vars, "tenants", &b, &ok);
	cel_addf(&b, "request.namespace in variables.tenants && ((request.kind.kind == "
	    "'NetworkPolicy' && request.name == '%s') || (request.kind.kind == 'ResourceQuota' && "
	    "request.name == '%s'))", NAMES_NETWORK_POLICY, NAMES_QUOTA);
	var_add(vars, "baseline", &b, &ok);
	cel_addf(&b, "variables.baseline || [object, oldObject].exists(o, o != null && "
	    "has(o.metadata.labels) && '%s' in o.metadata.labels && o.metadata.labels['%s'] == "
	    "'%s')", NAMES_MANAGED_BY_KEY, NAMES_MANAGED_BY_KEY, NAMES_MANAGED_BY);
	var_add(vars, "managed", &b, &ok);
	cel_addf(&b, "!variables.managed || variables.admin || (%s)", cel_cleanup);
	expr = cel_json(&b);
	cel_addf(&b, "'[managed-object] ' + %s + ' is managed by tenantguard; only platform admins "
	    "may ' + (request.operation == 'DELETE' ? 'delete' : request.operation == 'CREATE' ? "
	    "'create' : 'change') + ' it'", cel_desc);
	msg = cel_json(&b);
	return policy(RULE_MANAGED_OBJECT, all_resources(), NULL, vars, ok, expr, msg);
}

/*
 * The tenantguard.io/ keys of metadata map `m` whose value the request sets, changes or
 * removes; `truthful` (CEL, or NULL) is the one tenantguard.io/tenant value that is no change.
 */
static void
cel_changed(struct cel *b, const char *m, const char *truthful)
{
	cel_addf(b, "variables.%s.filter(k, k.startsWith('%s') && !(k in variables.old_%s && "
	    "variables.old_%s[k] == variables.%s[k])", m, NAMES_TENANT_PREFIX, m, m, m);
	if (truthful != NULL)
		cel_addf(b, " && !(k == '%s' && %s != '' && variables.%s[k] == %s)", NAMES_TENANT_LABEL,
		    truthful, m, truthful);
	cel_addf(b, ") + variables.old_%s.filter(k, k.startsWith('%s') && !(k in variables.%s))",
	    m, NAMES_TENANT_PREFIX, m);
}

/* tenant-label: tenantguard.io/ labels and annotations of a Namespace are admins' only. */
static json_t *
tenant_label(const struct config *cfg)
{
	static const char *const maps[] = { "labels", "annotations" };
	struct cel b = { 0 };
	json_t *vars = json_array(), *expr, *msg;
	bool ok = true;

	cel_admin(&b, cfg);
	var_add(vars, "admin", &b, &ok);
	cel_tenant_map(&b, cfg);
	var_add(vars, "tenants", &b, &ok);
	cel_addf(&b, "object.metadata.name in variables.tenants ? "
	    "variables.tenants[object.metadata.name] : ''");
	var_add(vars, "tenant", &b, &ok);
	for (size_t i = 0; i < 2; i++) {
		char name[32];
		cel_addf(&b, "has(object.metadata.%s) ? object.metadata.%s : {}", maps[i], maps[i]);
		var_add(vars, maps[i], &b, &ok);
		cel_addf(&b, "oldObject != null && has(oldObject.metadata.%s) ? "
		    "oldObject.metadata.%s : {}", maps[i], maps[i]);
		snprintf(name, sizeof(name), "old_%s", maps[i]);
		var_add(vars, name, &b, &ok);
	}
	cel_changed(&b, "labels", "variables.tenant");
	var_add(vars, "changedLabels", &b, &ok);
	cel_changed(&b, "annotations", NULL);
	var_add(vars, "changedAnnotations", &b, &ok);
	cel_addf(&b, "variables.admin || size(variables.changedLabels) + "
	    "size(variables.changedAnnotations) == 0");
	expr = cel_json(&b);
	cel_addf(&b, "'[tenant-label] Namespace ' + object.metadata.name + ': ' + "
	    "(size(variables.changedLabels) > 0 ? 'label ' + variables.changedLabels[0] : "
	    "'annotation ' + variables.changedAnnotations[0]) + ' may be set, changed or removed "
	    "only by platform admins; tenant identity comes from the namespace name'");
	msg = cel_json(&b);
	return policy(RULE_TENANT_LABEL, resources("", "namespaces"), NULL, vars, ok, expr, msg);
}

/*
 * tenantguard's own ServiceAccount (the chart installs it as tenantguard in
 * tenantguard-system, and refuses any other namespace).
 */
#define VAP_SELF "system:serviceaccount:tenantguard-system:tenantguard"

/*
 * namespace-tenant: a namespace named by the tenant template exists only for a tenant. The
 * reconciler creates a new Tenant object's namespace at once, while the policy learns of the
 * tenant only once the leader has applied it and the apiserver has loaded it (a second or
 * two): its own creations are exempt — it creates namespaces only for tenants of its live
 * config, where the webhook, which decides from that config, would never refuse them.
 */
static json_t *
namespace_tenant(const struct config *cfg)
{
	const struct name_template *t = &cfg->tenant_namespace;
	struct cel b = { 0 };
	json_t *vars = json_array(), *expr, *msg;
	size_t pl = strlen(t->prefix), sl = strlen(t->suffix);
	bool ok = true;

	cel_tenant_map(&b, cfg);
	var_add(vars, "tenants", &b, &ok);
	cel_addf(&b, "object.metadata.name");
	var_add(vars, "name", &b, &ok);
	cel_addf(&b, "variables.name.startsWith(");
	cel_quote(&b, t->prefix);
	cel_addf(&b, ") && variables.name.endsWith(");
	cel_quote(&b, t->suffix);
	cel_addf(&b, ") && size(variables.name) > %zu", pl + sl);
	var_add(vars, "templated", &b, &ok);
	cel_addf(&b, "request.operation != 'CREATE' || request.userInfo.username == '%s' || "
	    "!variables.templated || variables.name in variables.tenants", VAP_SELF);
	expr = cel_json(&b);
	cel_addf(&b, "'[namespace-tenant] Namespace ' + variables.name + ': the name matches the "
	    "tenant namespace template ' + ");
	struct cel tmpl = { 0 };
	cel_addf(&tmpl, "%s{tenant}%s", t->prefix, t->suffix);
	cel_quote(&b, tmpl.failed || tmpl.s == NULL ? "" : tmpl.s);
	free(tmpl.s);
	cel_addf(&b, " + ' but \\'' + variables.name.substring(%zu, size(variables.name) - %zu) + "
	    "'\\' is not a configured tenant; add the tenant first or choose another name'", pl, sl);
	msg = cel_json(&b);
	return policy(RULE_NAMESPACE_TENANT, resources("", "namespaces"), NULL, vars, ok, expr,
	    msg);
}

/* ---- bindings ------------------------------------------------------------------------ */

static const char *const action_names[] = {
	[ENFORCE_DENY] = "Deny", [ENFORCE_WARN] = "Warn", [ENFORCE_AUDIT] = "Audit",
};

/* Every binding name vap_policies may render (vap_binding_names). */
static const char *const binding_names[] = {
#define VAP_RULE_BINDINGS(id) "tenantguard-" id, "tenantguard-" id "-deny", \
	"tenantguard-" id "-warn", "tenantguard-" id "-audit"
	VAP_RULE_BINDINGS("service-type"), VAP_RULE_BINDINGS("service-external-ips"),
	VAP_RULE_BINDINGS("ingress-class"), VAP_RULE_BINDINGS("ingress-annotation"),
	VAP_RULE_BINDINGS("entry-admin"), VAP_RULE_BINDINGS("managed-object"),
	VAP_RULE_BINDINGS("tenant-label"), VAP_RULE_BINDINGS("namespace-tenant"),
#undef VAP_RULE_BINDINGS
	NULL,
};

const char *const *
vap_binding_names(void)
{
	return binding_names;
}

/* A binding of `rule`'s policy with `mode`'s action on the namespaces `op` (In/NotIn) `values`. */
static json_t *
binding(enum rule_id rule, const char *suffix, enum enforce_mode mode, const char *op,
    json_t *values)
{
	char name[96], policy_name[96];

	snprintf(policy_name, sizeof(policy_name), "tenantguard-%s", ruleid_name(rule));
	snprintf(name, sizeof(name), "%s%s", policy_name, suffix);
	return json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s, s:[s], s:{s:{s:[{s:s, s:s, s:o}]}}}}",
	    "apiVersion", VAP_API, "kind", "ValidatingAdmissionPolicyBinding",
	    "metadata", "name", name, "labels", "app.kubernetes.io/name", "tenantguard",
	    "spec", "policyName", policy_name, "validationActions", action_names[mode],
	    "matchResources", "namespaceSelector", "matchExpressions",
	    "key", "kubernetes.io/metadata.name", "operator", op, "values", values);
}

/*
 * `rule`'s bindings into out: the config's mode everywhere but the excluded namespaces and
 * those of tenants with another mode, then one binding per other mode in use. -1 when out
 * of memory.
 */
static int
bindings(json_t *out, const struct config *cfg, enum rule_id rule, const char *const *excluded,
    size_t n_excluded)
{
	static const char *const suffixes[] = {
		[ENFORCE_DENY] = "-deny", [ENFORCE_WARN] = "-warn", [ENFORCE_AUDIT] = "-audit",
	};
	enum enforce_mode def = enforce_mode_for(cfg, NULL, rule, 403);
	json_t *rest = json_array(), *by_mode[3] = { json_array(), json_array(), json_array() };
	char ns[256];
	int rc = -1;

	if (rest == NULL || by_mode[0] == NULL || by_mode[1] == NULL || by_mode[2] == NULL)
		goto out;
	for (size_t i = 0; i < n_excluded; i++)
		if (json_array_append_new(rest, json_string(excluded[i])) != 0)
			goto out;
	for (size_t i = 0; i < cfg->n_tenants; i++) {
		enum enforce_mode m = enforce_mode_for(cfg, &cfg->tenants[i], rule, 403);
		if (m == def ||
		    !template_expand(&cfg->tenant_namespace, cfg->tenants[i].name, ns, sizeof(ns)))
			continue;
		if (json_array_append_new(rest, json_string(ns)) != 0 ||
		    json_array_append_new(by_mode[m], json_string(ns)) != 0)
			goto out;
	}
	if (json_array_append_new(out, binding(rule, "", def, "NotIn", json_incref(rest))) != 0)
		goto out;
	for (int m = 0; m < 3; m++)
		if (json_array_size(by_mode[m]) > 0 && json_array_append_new(out, binding(rule,
		    suffixes[m], (enum enforce_mode)m, "In", json_incref(by_mode[m]))) != 0)
			goto out;
	rc = 0;
out:
	json_decref(rest);
	for (int m = 0; m < 3; m++)
		json_decref(by_mode[m]);
	return rc;
}

json_t *
vap_policies(const struct config *cfg, const char *const *excluded, size_t n_excluded)
{
	static const struct {
		enum rule_id rule;
		json_t    *(*render)(const struct config *);
	} rules[] = {
		{ RULE_SERVICE_TYPE,         service_type },
		{ RULE_SERVICE_EXTERNAL_IPS, service_external_ips },
		{ RULE_INGRESS_CLASS,        ingress_class },
		{ RULE_INGRESS_ANNOTATION,   ingress_annotation },
		{ RULE_ENTRY_ADMIN,          entry_admin },
		{ RULE_MANAGED_OBJECT,       managed_object },
		{ RULE_TENANT_LABEL,         tenant_label },
		{ RULE_NAMESPACE_TENANT,     namespace_tenant },
	};
	json_t *out = json_array();

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(rules) / sizeof(*rules); i++) {
		/* A plain tenantNamespace (no {tenant}) names no tenant: namespace-tenant is moot. */
		if (rules[i].rule == RULE_NAMESPACE_TENANT && (cfg->tenant_namespace.prefix == NULL ||
		    cfg->tenant_namespace.suffix == NULL))
			continue;
		if (json_array_append_new(out, rules[i].render(cfg)) != 0 ||
		    bindings(out, cfg, rules[i].rule, excluded, n_excluded) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}
