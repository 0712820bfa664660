/* SPDX-License-Identifier: Apache-2.0 */
/* test_config: the config loader's defaults, strictness and messages, and config lookups. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "claims.h"
#include "config.h"
#include "config_load.h"
#include "testhelp.h"

static char err[1024];

static struct config *
load(const char *text)
{
	return config_load_buffer("t.yaml", text, strlen(text), err, sizeof(err));
}

/* Asserts `text` is refused with "t.yaml:LINE:" and `word` in the message. */
static void
expect_error(const char *descr, const char *text, unsigned line, const char *word)
{
	char d[2048], where[32];
	struct config *cfg = load(text);

	snprintf(d, sizeof(d), "%s: refused", descr);
	test_cond(d, cfg == NULL);
	if (line)
		snprintf(where, sizeof(where), "t.yaml:%u: ", line);
	else
		snprintf(where, sizeof(where), "t.yaml: ");
	snprintf(d, sizeof(d), "%s: message has \"%s\" and \"%s\" (got: %s)", descr, where, word,
	    err);
	test_cond(d, strncmp(err, where, strlen(where)) == 0 && strstr(err, word) != NULL);
	config_free(cfg);
}

static bool
has(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static const char *
quota_of(const struct quota_item *q, size_t n, const char *res)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(q[i].resource, res) == 0)
			return q[i].quantity;
	return "";
}

static void
test_default(void)
{
	struct config *cfg = config_load_default(err, sizeof(err));
	char buf[128];

	test_cond("default loads", cfg != NULL);
	if (cfg == NULL) {
		printf("  %s\n", err);
		return;
	}
	test_cond("systemDomain", strcmp(cfg->system_domain, "aigw.example.com") == 0);
	test_cond("entryNamespace", strcmp(cfg->entry_namespace, "higress-system") == 0);
	test_cond("tenantNamespace split", strcmp(cfg->tenant_namespace.prefix, "") == 0 &&
	    strcmp(cfg->tenant_namespace.suffix, "-gateway") == 0);
	test_cond("unregisteredDomains", cfg->unregistered == UNREGISTERED_FIRST_COME);
	test_cond("systemCertSecret", strcmp(cfg->system_cert_secret,
	    "system-wildcard-cert") == 0);
	test_cond("tenantCertSecret", template_expand(&cfg->tenant_cert_secret, "tenant1", buf,
	    sizeof(buf)) && strcmp(buf, "tenant1-custom-cert") == 0);
	test_cond("gatewayPort", cfg->gateway_port == 80);
	test_cond("clusterDomain", strcmp(cfg->cluster_domain, "cluster.local") == 0);
	test_cond("admin groups", cfg->n_admin_groups == 1 &&
	    strcmp(cfg->admin_groups[0], "system:masters") == 0);
	test_cond("admin users", cfg->n_admin_users == 1 && strcmp(cfg->admin_users[0],
	    "system:serviceaccount:tenantguard-system:tenantguard") == 0);
	test_cond("tenant ingress class higress (reference 5.2)",
	    template_expand(&cfg->tenant_ingress_class, "tenant1", buf, sizeof(buf)) &&
	    strcmp(buf, "higress") == 0);
	test_cond("entry ingress class nginx (reference 3.3)",
	    strcmp(cfg->entry_ingress_class, "nginx") == 0);
	test_cond("no extra annotation patterns", cfg->n_denied_annotations == 0 &&
	    cfg->n_allowed_annotations == 0);
	test_cond("service types default", cfg->n_service_types == 2 &&
	    has(cfg->service_types, 2, "ClusterIP") && has(cfg->service_types, 2, "ExternalName"));
	test_cond("no external IPs", cfg->n_external_ip_cidrs == 0);
	test_cond("public ExternalNames allowed", cfg->external_name_public == EXTNAME_PUBLIC_ALLOW);
	test_cond("baseline quota", cfg->n_quota == 5 &&
	    strcmp(quota_of(cfg->quota, cfg->n_quota, "requests.cpu"), "5") == 0 &&
	    strcmp(quota_of(cfg->quota, cfg->n_quota, "limits.cpu"), "5") == 0 &&
	    strcmp(quota_of(cfg->quota, cfg->n_quota, "requests.memory"), "4Gi") == 0 &&
	    strcmp(quota_of(cfg->quota, cfg->n_quota, "limits.memory"), "4Gi") == 0 &&
	    strcmp(quota_of(cfg->quota, cfg->n_quota, "requests.storage"), "10Gi") == 0);
	test_cond("two tenants", cfg->n_tenants == 2);
	if (cfg->n_tenants == 2) {
		const struct tenant *t1 = &cfg->tenants[0], *t2 = &cfg->tenants[1];
		test_cond("tenant1", strcmp(t1->name, "tenant1") == 0 && t1->n_custom_domains == 1 &&
		    strcmp(t1->custom_domains[0], "*.customer.com") == 0);
		test_cond("tenant1 backend", t1->n_backend_namespaces == 1 &&
		    strcmp(t1->backend_namespaces[0], "default") == 0);
		test_cond("tenant1 uses baseline", t1->quota == NULL && t1->ingress_class == NULL);
		test_cond("tenant2", strcmp(t2->name, "tenant2") == 0 && t2->n_custom_domains == 1 &&
		    strcmp(t2->custom_domains[0], "*.client.com") == 0 &&
		    t2->n_backend_namespaces == 0);
		test_cond("config_tenant", config_tenant(cfg, "tenant2") == t2 &&
		    config_tenant(cfg, "tenant3") == NULL);
		test_cond("config_tenant_index", config_tenant_index(cfg, t2) == 1);
		uint32_t owner = CLAIMS_NO_OWNER;
		test_cond("reservations indexed", claims_find(cfg->reservations, "shop.client.com",
		    CLAIMS_OVERLAP, CLAIMS_NO_OWNER, &owner, 1) == 1 && owner == 1);
	}
	config_free(cfg);
}

/* The default config written as JSON. */
static const char default_json[] =
	"{\n"
	"  \"systemDomain\": \"aigw.example.com\",\n"
	"  \"entryNamespace\": \"higress-system\",\n"
	"  \"tenantNamespace\": \"{tenant}-gateway\",\n"
	"  \"unregisteredDomains\": \"first-come\",\n"
	"  \"systemCertSecret\": \"system-wildcard-cert\",\n"
	"  \"tenantCertSecret\": \"{tenant}-custom-cert\",\n"
	"  \"gatewayPort\": 80,\n"
	"  \"clusterDomain\": \"cluster.local\",\n"
	"  \"admins\": {\"groups\": [\"system:masters\"],\n"
	"     \"users\": [\"system:serviceaccount:tenantguard-system:tenantguard\"]},\n"
	"  \"tenantIngressClass\": \"higress\",\n"
	"  \"entryIngressClass\": \"nginx\",\n"
	"  \"tenants\": [\n"
	"    {\"name\": \"tenant1\", \"customDomains\": [\"*.customer.com\"],\n"
	"     \"backendNamespaces\": [\"default\"]},\n"
	"    {\"name\": \"tenant2\", \"customDomains\": [\"*.client.com\"]}\n"
	"  ]\n"
	"}\n";

static bool
strv_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

static bool
opt_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool
quota_eq(const struct quota_item *a, size_t na, const struct quota_item *b, size_t nb)
{
	if (na != nb || (a == NULL) != (b == NULL))
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i].resource, b[i].resource) != 0 ||
		    strcmp(a[i].quantity, b[i].quantity) != 0)
			return false;
	return true;
}

static bool
template_eq(const struct name_template *a, const struct name_template *b)
{
	return opt_eq(a->prefix, b->prefix) && opt_eq(a->suffix, b->suffix);
}

/* Field-by-field equality of two loaded configs (derived tables excluded). */
static bool
config_eq(const struct config *a, const struct config *b)
{
	if (strcmp(a->system_domain, b->system_domain) || strcmp(a->entry_namespace,
	    b->entry_namespace) || !template_eq(&a->tenant_namespace, &b->tenant_namespace) ||
	    a->unregistered != b->unregistered ||
	    strcmp(a->system_cert_secret, b->system_cert_secret) ||
	    !template_eq(&a->tenant_cert_secret, &b->tenant_cert_secret) ||
	    a->gateway_port != b->gateway_port || strcmp(a->cluster_domain, b->cluster_domain) ||
	    !strv_eq(a->admin_groups, a->n_admin_groups, b->admin_groups, b->n_admin_groups) ||
	    !strv_eq(a->admin_users, a->n_admin_users, b->admin_users, b->n_admin_users) ||
	    !template_eq(&a->tenant_ingress_class, &b->tenant_ingress_class) ||
	    !strv_eq(a->service_types, a->n_service_types, b->service_types, b->n_service_types) ||
	    a->n_external_ip_cidrs != b->n_external_ip_cidrs ||
	    (a->n_external_ip_cidrs && memcmp(a->external_ip_cidrs, b->external_ip_cidrs,
	    a->n_external_ip_cidrs * sizeof(struct cidr)) != 0) ||
	    a->external_name_public != b->external_name_public ||
	    !quota_eq(a->quota, a->n_quota, b->quota, b->n_quota) || a->n_tenants != b->n_tenants)
		return false;
	for (size_t i = 0; i < a->n_tenants; i++) {
		const struct tenant *x = &a->tenants[i], *y = &b->tenants[i];
		if (strcmp(x->name, y->name) || !opt_eq(x->ingress_class, y->ingress_class) ||
		    !strv_eq(x->custom_domains, x->n_custom_domains, y->custom_domains,
		    y->n_custom_domains) ||
		    !strv_eq(x->backend_namespaces, x->n_backend_namespaces, y->backend_namespaces,
		    y->n_backend_namespaces) || !quota_eq(x->quota, x->n_quota, y->quota, y->n_quota))
			return false;
	}
	return true;
}

static void
test_json_same(void)
{
	struct config *y = config_load_default(err, sizeof(err));
	struct config *j = load(default_json);

	test_cond("JSON config loads", j != NULL);
	if (j == NULL)
		printf("  %s\n", err);
	test_cond("YAML and JSON load identically", y && j && config_eq(y, j));
	config_free(y);
	config_free(j);

	/* A fuller config, once in YAML and once as JSON. */
	y = load("systemDomain: GW.Example.ORG.\n"
	    "tenantIngressClass: \"{tenant}-higress\"\n"
	    "services:\n  allowedTypes: [ClusterIP]\n"
	    "  externalIPCIDRs: [\"10.0.0.0/8\", \"2001:db8::/32\"]\n"
	    "  externalNamePublic: deny\n"
	    "baseline:\n  resourceQuota: {requests.cpu: 2, limits.cpu: 2.5, pods: \"10\"}\n"
	    "tenants:\n- name: a1\n  customDomains: [API.Shop.COM.]\n  ingressClass: special\n"
	    "  resourceQuota: {requests.cpu: 500m, count/services: 3}\n");
	j = load("{\"systemDomain\": \"GW.Example.ORG.\", \"tenantIngressClass\": \"{tenant}-higress\","
	    "\"services\": {\"allowedTypes\": [\"ClusterIP\"], \"externalIPCIDRs\": [\"10.0.0.0/8\","
	    "\"2001:db8::/32\"], \"externalNamePublic\": \"deny\"}, \"baseline\": {\"resourceQuota\":"
	    "{\"requests.cpu\": 2, \"limits.cpu\": 2.5, \"pods\": \"10\"}}, \"tenants\": [{\"name\": "
	    "\"a1\", \"customDomains\": [\"API.Shop.COM.\"], \"ingressClass\": \"special\","
	    "\"resourceQuota\": {\"requests.cpu\": \"500m\", \"count/services\": 3}}]}");
	test_cond("full YAML loads", y != NULL);
	test_cond("full JSON loads", j != NULL);
	test_cond("full YAML and JSON load identically", y && j && config_eq(y, j));
	if (y != NULL) {
		char buf[64];
		const struct tenant *t = &y->tenants[0];
		test_cond("system domain normalised", strcmp(y->system_domain, "gw.example.org") == 0);
		test_cond("custom domain normalised", strcmp(t->custom_domains[0], "api.shop.com") == 0);
		test_cond("ingress class template", template_expand(&y->tenant_ingress_class, "a1",
		    buf, sizeof(buf)) && strcmp(buf, "a1-higress") == 0);
		test_cond("tenant ingress class", strcmp(t->ingress_class, "special") == 0);
		test_cond("CIDR v4", y->external_ip_cidrs[0].family == AF_INET &&
		    y->external_ip_cidrs[0].prefix == 8 && y->external_ip_cidrs[0].addr[0] == 10);
		test_cond("CIDR v6", y->external_ip_cidrs[1].family == AF_INET6 &&
		    y->external_ip_cidrs[1].prefix == 32 && y->external_ip_cidrs[1].addr[0] == 0x20 &&
		    y->external_ip_cidrs[1].addr[3] == 0xb8);
		test_cond("extname deny", y->external_name_public == EXTNAME_PUBLIC_DENY);
		test_cond("numbers as quantities", y->n_quota == 3 &&
		    strcmp(quota_of(y->quota, y->n_quota, "requests.cpu"), "2") == 0 &&
		    strcmp(quota_of(y->quota, y->n_quota, "limits.cpu"), "2.5") == 0 &&
		    strcmp(quota_of(y->quota, y->n_quota, "pods"), "10") == 0);
		test_cond("tenant quota overrides the baseline per resource", t->n_quota == 4 &&
		    strcmp(quota_of(t->quota, t->n_quota, "requests.cpu"), "500m") == 0 &&
		    strcmp(quota_of(t->quota, t->n_quota, "limits.cpu"), "2.5") == 0 &&
		    strcmp(quota_of(t->quota, t->n_quota, "count/services"), "3") == 0);
		test_cond("admins default: system:masters", y->n_admin_groups == 1 &&
		    y->n_admin_users == 0);
	}
	config_free(y);
	config_free(j);

	y = load("systemDomain: a.io\ntenantIngressClass: higress\ntenants: []\n");
	char buf[64];
	test_cond("plain ingress class", y && y->tenant_ingress_class.suffix == NULL &&
	    template_expand(&y->tenant_ingress_class, "x", buf, sizeof(buf)) &&
	    strcmp(buf, "higress") == 0 &&
	    !template_match(&y->tenant_ingress_class, "higress", buf, sizeof(buf)));
	test_cond("empty tenants list", y && y->n_tenants == 0);
	config_free(y);
}

#define SD "systemDomain: aigw.example.com\n"
#define T1 "tenants:\n- name: t1\n"

static void
test_errors(void)
{
	struct config *cfg;

	/* document shape */
	expect_error("empty file", "", 0, "empty");
	expect_error("comments only", "# nothing\n", 0, "empty");
	expect_error("not a mapping", "- a\n- b\n", 1, "mapping");
	expect_error("scalar document", "hello\n", 1, "mapping");
	expect_error("two documents", SD T1 "---\n" SD T1, 5, "one document");
	expect_error("YAML syntax", SD "tenants: [\n", 3, "");
	expect_error("duplicate key", SD T1 "systemDomain: b.io\n", 4, "duplicate");

	/* unknown keys */
	expect_error("unknown top key", SD T1 "tenantNamespaces: x\n", 4, "unknown key");
	expect_error("misspelt key gets a hint", "systemdomain: a.io\n" T1, 1, "systemDomain");
	expect_error("unknown tenant key", SD T1 "  customDomain: [a.com]\n", 4, "unknown key");
	expect_error("unknown admins key", SD T1 "admins:\n  group: [x]\n", 5, "unknown key");
	expect_error("unknown services key", SD T1 "services:\n  types: [x]\n", 5, "unknown key");
	expect_error("unknown baseline key", SD T1 "baseline:\n  quota: {}\n", 5, "unknown key");

	/* required keys and empty strings */
	expect_error("no systemDomain", T1, 1, "systemDomain is required");
	expect_error("no tenants", SD "gatewayPort: 80\n", 1, "tenants is required");
	expect_error("empty systemDomain", "systemDomain: \"\"\n" T1, 1, "empty");
	expect_error("null systemDomain", "systemDomain:\n" T1, 1, "must be a string");
	expect_error("no tenant name", SD "tenants:\n- customDomains: [a.com]\n", 3, "required");
	expect_error("empty tenant name", SD "tenants:\n- name: \"\"\n", 3, "empty");
	expect_error("empty entryNamespace", SD T1 "entryNamespace: ''\n", 4, "empty");
	expect_error("empty admin user", SD T1 "admins:\n  users: [\"\"]\n", 5, "empty");

	/* wrong types */
	expect_error("systemDomain number", "systemDomain: 5\n" T1, 1, "must be a string");
	expect_error("tenants a mapping", SD "tenants: {a: 1}\n", 2, "must be a list");
	expect_error("tenant a string", SD "tenants:\n- t1\n", 3, "must be a mapping");
	expect_error("gatewayPort string", SD T1 "gatewayPort: \"80\"\n", 4, "integer");
	expect_error("gatewayPort float", SD T1 "gatewayPort: 80.5\n", 4, "integer");
	expect_error("customDomains a string", SD T1 "  customDomains: a.com\n", 4,
	    "must be a list");
	expect_error("customDomains item a number", SD T1 "  customDomains:\n  - a.com\n  - 5\n",
	    6, "list of strings");
	expect_error("admins a list", SD T1 "admins: [x]\n", 4, "must be a mapping");
	expect_error("admin groups a string", SD T1 "admins:\n  groups: x\n", 5, "must be a list");
	expect_error("services a string", SD T1 "services: none\n", 4, "must be a mapping");
	expect_error("quota a list", SD T1 "baseline:\n  resourceQuota: [1]\n", 5,
	    "must be a mapping");
	expect_error("quota value a list", SD T1 "baseline:\n  resourceQuota:\n    pods: [1]\n", 6,
	    "quantity");
	expect_error("ingressClass a list", SD T1 "  ingressClass: [a]\n", 4, "must be a string");
	expect_error("yes is not a bool here", SD T1 "unregisteredDomains: yes\n", 4,
	    "first-come or deny");

	/* templates */
	expect_error("tenantNamespace without {tenant}", SD T1 "tenantNamespace: gateway\n", 4,
	    "{tenant}");
	expect_error("tenantNamespace with {tenant} twice", SD T1
	    "tenantNamespace: \"{tenant}-{tenant}\"\n", 4, "only once");
	expect_error("tenantNamespace not a label", SD T1 "tenantNamespace: \"{tenant}.gw\"\n", 4,
	    "DNS-1123 label");
	expect_error("tenantNamespace upper case", SD T1 "tenantNamespace: \"GW-{tenant}\"\n", 4,
	    "DNS-1123");
	expect_error("tenantNamespace too long for a tenant", SD
	    "tenantNamespace: \"{tenant}-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n"
	    "tenants:\n- name: abcdefghijklmnop\n", 4, "DNS-1123 label");
	expect_error("tenantCertSecret without {tenant}", SD T1 "tenantCertSecret: cert\n", 4,
	    "{tenant}");
	expect_error("tenantCertSecret invalid", SD T1 "tenantCertSecret: \"{tenant}_cert\"\n", 4,
	    "DNS-1123 subdomain");
	expect_error("tenantIngressClass twice", SD T1
	    "tenantIngressClass: \"{tenant}{tenant}\"\n", 4, "only once");
	expect_error("tenantIngressClass invalid", SD T1 "tenantIngressClass: Bad_Class\n", 4,
	    "DNS-1123 subdomain");
	expect_error("tenantNamespace is the entry namespace", SD
	    "tenantNamespace: \"{tenant}-system\"\ntenants:\n- name: higress\n", 4,
	    "entry namespace");

	/* enums and ranges */
	expect_error("unregisteredDomains", SD T1 "unregisteredDomains: maybe\n", 4,
	    "first-come or deny");
	expect_error("externalNamePublic", SD T1 "services:\n  externalNamePublic: sometimes\n",
	    5, "allow or deny");
	expect_error("allowedTypes", SD T1 "services:\n  allowedTypes:\n  - ClusterIP\n"
	    "  - Headless\n", 7, "not a Service type");
	expect_error("allowedTypes twice", SD T1 "services:\n  allowedTypes: [ClusterIP,\n"
	    "    ClusterIP]\n", 6, "twice");
	expect_error("gatewayPort 0", SD T1 "gatewayPort: 0\n", 4, "1..65535");
	expect_error("gatewayPort 65536", SD T1 "gatewayPort: 65536\n", 4, "1..65535");

	/* names and hosts */
	expect_error("systemDomain IP", "systemDomain: 10.0.0.1\n" T1, 1, "IP address");
	expect_error("systemDomain wildcard", "systemDomain: \"*.example.com\"\n" T1, 1,
	    "wildcard");
	expect_error("systemDomain bad char", "systemDomain: a_b.com\n" T1, 1, "character");
	expect_error("clusterDomain invalid", SD T1 "clusterDomain: \"cluster..local\"\n", 4,
	    "empty label");
	expect_error("entryNamespace invalid", SD T1 "entryNamespace: Higress\n", 4, "DNS-1123");
	expect_error("systemCertSecret invalid", SD T1 "systemCertSecret: a/b\n", 4, "Secret name");
	expect_error("custom domain with * inside", SD T1 "  customDomains:\n  - ok.com\n"
	    "  - \"a.*.com\"\n", 6, "'*'");
	expect_error("custom domain IP", SD T1 "  customDomains: [\"192.168.1.1\"]\n", 4,
	    "IP address");
	expect_error("custom domain empty label", SD T1 "  customDomains: [\"a..com\"]\n", 4,
	    "empty label");
	expect_error("custom domain bare *", SD T1 "  customDomains: [\"*\"]\n", 4, "bare");
	expect_error("custom domain twice", SD T1 "  customDomains: [a.com, a.com]\n", 4, "twice");
	expect_error("tenant name not a label", SD "tenants:\n- name: Tenant_1\n", 3, "DNS-1123");
	expect_error("tenant name too long", SD "tenants:\n- name: "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 3, "DNS-1123");
	expect_error("tenant name makes no Service name", SD "tenants:\n- name: 1abc\n", 3,
	    "Service name");
	expect_error("backend namespace invalid", SD T1 "  backendNamespaces: [Default]\n", 4,
	    "DNS-1123");
	expect_error("backend namespace is the entry namespace", SD T1
	    "  backendNamespaces: [default, higress-system]\n", 4, "entry namespace");
	expect_error("backend namespace of another tenant", SD T1
	    "  backendNamespaces: [t2-gateway]\n- name: t2\n", 4, "namespace of tenant \"t2\"");
	expect_error("backend namespace of a future tenant", SD T1
	    "  backendNamespaces: [t9-gateway]\n", 4, "namespace of tenant \"t9\"");
	cfg = load(SD T1 "  backendNamespaces: [t1-gateway, default]\n- name: t2\n"
	    "  backendNamespaces: [default]\n");
	test_cond("own namespace and a shared one are fine as backends", cfg != NULL);
	config_free(cfg);
	expect_error("tenant ingressClass invalid", SD T1 "  ingressClass: \"a b\"\n", 4,
	    "IngressClass");
	expect_error("duplicate tenants", SD T1 "- name: t2\n- name: t1\n", 5, "twice");

	/* reservations */
	expect_error("overlapping reservations", SD "tenants:\n- name: t1\n"
	    "  customDomains: [\"*.customer.com\"]\n- name: t2\n  customDomains:\n"
	    "  - other.com\n  - API.customer.com\n", 8, "overlaps");
	cfg = load(SD "tenants:\n- name: t1\n  customDomains: [\"*.customer.com\"]\n"
	    "- name: t2\n  customDomains: [\"api.customer.com\"]\n");
	test_cond("overlap message names both tenants and both patterns", cfg == NULL &&
	    strstr(err, "\"t1\"") && strstr(err, "\"t2\"") && strstr(err, "*.customer.com") &&
	    strstr(err, "api.customer.com"));
	config_free(cfg);
	expect_error("nested wildcards overlap", SD "tenants:\n- name: t1\n"
	    "  customDomains: [\"*.a.shop.com\"]\n- name: t2\n  customDomains: [\"*.shop.com\"]\n",
	    6, "overlaps");
	expect_error("same exact host", SD "tenants:\n- name: t1\n  customDomains: [x.com]\n"
	    "- name: t2\n  customDomains: [X.com.]\n", 6, "overlaps");
	expect_error("reservation is the system domain", SD T1
	    "  customDomains: [aigw.example.com]\n", 4, "system domain");
	expect_error("reservation under the system domain", SD T1
	    "  customDomains: [shop.aigw.example.com]\n", 4, "falls under");
	expect_error("wildcard under the system domain", SD T1
	    "  customDomains: [\"*.aigw.example.com\"]\n", 4, "system domain");
	expect_error("wildcard tenant subdomain", SD T1
	    "  customDomains: [\"*.t1.aigw.example.com\"]\n", 4, "system domain");
	expect_error("reservation covering the system domain", SD T1
	    "  customDomains: [\"*.example.com\"]\n", 4, "covers");

	/* external IP CIDRs */
	expect_error("CIDR host bits", SD T1 "services:\n  externalIPCIDRs: [\"10.0.0.1/8\"]\n", 5,
	    "host bits");
	expect_error("CIDR v6 host bits", SD T1 "services:\n  externalIPCIDRs: [\"2001:db8::1/64\"]\n",
	    5, "host bits");
	expect_error("CIDR without prefix", SD T1 "services:\n  externalIPCIDRs: [10.0.0.0]\n", 5,
	    "not a CIDR");
	expect_error("CIDR bad address", SD T1 "services:\n  externalIPCIDRs: [\"300.0.0.0/8\"]\n", 5,
	    "address");
	expect_error("CIDR prefix too long", SD T1
	    "services:\n  externalIPCIDRs: [\"10.0.0.0/33\"]\n", 5, "over 32");
	expect_error("CIDR v6 prefix too long", SD T1
	    "services:\n  externalIPCIDRs: [\"2001:db8::/129\"]\n", 5, "over 128");
	expect_error("CIDR bad prefix", SD T1 "services:\n  externalIPCIDRs: [\"10.0.0.0/x\"]\n", 5,
	    "prefix");

	/* quotas */
	expect_error("negative quantity", SD T1 "baseline:\n  resourceQuota:\n"
	    "    requests.cpu: -1\n", 6, "quantity");
	expect_error("bad quantity suffix", SD T1 "baseline:\n  resourceQuota:\n"
	    "    requests.memory: 4GB\n", 6, "quantity");
	expect_error("bad resource name", SD T1 "baseline:\n  resourceQuota:\n"
	    "    \"requests cpu\": 1\n", 6, "resource name");
	expect_error("tenant quota bad quantity", SD T1 "  resourceQuota: {pods: lots}\n", 4,
	    "quantity");
}

static void
test_lookups(void)
{
	struct config *cfg = config_load_default(err, sizeof(err));
	struct name_template t = { .prefix = "tg-", .suffix = "-ns" };
	struct name_template plain = { .prefix = "higress", .suffix = NULL };
	struct name_template none = { 0 };
	char out[64], small[4];

	if (cfg == NULL)
		return;
	test_cond("template_match", template_match(&t, "tg-acme-ns", out, sizeof(out)) &&
	    strcmp(out, "acme") == 0);
	test_cond("template_match: empty tenant part", !template_match(&t, "tg--ns", out,
	    sizeof(out)));
	test_cond("template_match: wrong prefix", !template_match(&t, "xg-acme-ns", out,
	    sizeof(out)));
	test_cond("template_match: wrong suffix", !template_match(&t, "tg-acme-nx", out,
	    sizeof(out)));
	test_cond("template_match: prefix and suffix overlap", !template_match(&t, "tg-ns", out,
	    sizeof(out)));
	test_cond("template_match: too small", !template_match(&t, "tg-acme-ns", small,
	    sizeof(small)));
	test_cond("template_match: plain template names no tenant",
	    !template_match(&plain, "higress", out, sizeof(out)));
	test_cond("template_match: absent", !template_match(&none, "x", out, sizeof(out)));
	test_cond("template_expand", template_expand(&t, "acme", out, sizeof(out)) &&
	    strcmp(out, "tg-acme-ns") == 0);
	test_cond("template_expand: too small", !template_expand(&t, "acme", small,
	    sizeof(small)));
	test_cond("template_expand: plain", template_expand(&plain, "acme", out, sizeof(out)) &&
	    strcmp(out, "higress") == 0);
	test_cond("template_expand: absent", !template_expand(&none, "acme", out, sizeof(out)));

	test_cond("namespace tenant1", config_namespace_tenant(cfg, "tenant1-gateway") ==
	    &cfg->tenants[0]);
	test_cond("namespace tenant2", config_namespace_tenant(cfg, "tenant2-gateway") ==
	    &cfg->tenants[1]);
	test_cond("namespace of unknown tenant", config_namespace_tenant(cfg, "tenant3-gateway") ==
	    NULL);
	test_cond("bare -gateway", config_namespace_tenant(cfg, "-gateway") == NULL);
	test_cond("outside namespace", config_namespace_tenant(cfg, "default") == NULL);
	test_cond("entry namespace", config_namespace_tenant(cfg, "higress-system") == NULL);
	test_cond("a suffix that only looks alike", config_namespace_tenant(cfg,
	    "tenant1-gateways") == NULL);

	const char *masters[] = { "system:authenticated", "system:masters" };
	const char *plain_groups[] = { "system:authenticated" };
	test_cond("admin by group", config_is_admin(cfg, "bob", masters, 2));
	test_cond("admin by user", config_is_admin(cfg,
	    "system:serviceaccount:tenantguard-system:tenantguard", plain_groups, 1));
	test_cond("not admin", !config_is_admin(cfg, "alice", plain_groups, 1));
	test_cond("not admin, no user or groups", !config_is_admin(cfg, NULL, NULL, 0));
	test_cond("group name is not a user name", !config_is_admin(cfg, "system:masters", NULL, 0));
	config_free(cfg);
}

static void
test_files(void)
{
	static const char *const names[] = {
		"tests/configs/deny.yaml", "tests/configs/strict.yaml", "tests/configs/three.yaml",
	};
	struct config *cfg;
	char buf[64];

	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		cfg = config_load_file(names[i], err, sizeof(err));
		snprintf(buf, sizeof(buf), "%s loads", names[i]);
		test_cond(buf, cfg != NULL);
		if (cfg == NULL) {
			printf("  %s\n", err);
			continue;
		}
		if (i == 0)
			test_cond("deny.yaml denies", cfg->unregistered == UNREGISTERED_DENY &&
			    cfg->n_tenants == 2);
		if (i == 1)
			test_cond("strict.yaml", cfg->tenant_ingress_class.suffix == NULL &&
			    strcmp(cfg->tenant_ingress_class.prefix, "higress") == 0 &&
			    strcmp(cfg->tenants[1].ingress_class, "tenant2-class") == 0 &&
			    cfg->n_external_ip_cidrs == 2 && cfg->n_service_types == 3 &&
			    cfg->external_name_public == EXTNAME_PUBLIC_DENY);
		if (i == 2)
			test_cond("three.yaml", cfg->n_tenants == 4 &&
			    config_tenant(cfg, "team-a") != NULL &&
			    config_namespace_tenant(cfg, "tenant3-gateway") != NULL);
		config_free(cfg);
	}
	cfg = config_load_file("tests/configs/no-such-file.yaml", err, sizeof(err));
	test_cond("missing file", cfg == NULL && strstr(err, "no-such-file.yaml: ") != NULL);
	config_free(cfg);
}

/* A Tenant object as the apiserver returns it. */
static json_t *
tenant_obj(const char *name, const char *created, const char *spec_json)
{
	json_t *spec = spec_json ? json_loads(spec_json, 0, NULL) : NULL;
	json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "tenantguard.io/v1alpha1",
	    "kind", "Tenant", "metadata", "name", name, "creationTimestamp", created);
	if (spec != NULL)
		json_object_set_new(o, "spec", spec);
	return o;
}

static const char *
reason(const json_t *rejected, const char *name)
{
	const char *s = json_string_value(json_object_get(rejected, name));
	return s ? s : "";
}

static void
test_tenant_objects(void)
{
	json_t *objs = json_array(), *rejected = json_object();
	struct config *cfg;

	json_array_append_new(objs, tenant_obj("tenant4", "2024-03-01T00:00:00Z",
	    "{\"customDomains\": [\"*.NewCo.com.\"]}"));
	json_array_append_new(objs, tenant_obj("tenant3", "2024-02-01T00:00:00Z",
	    "{\"customDomains\": [\"*.newco.com\", \"api.other.com\"],"
	    " \"backendNamespaces\": [\"shared\"], \"resourceQuota\": {\"limits.cpu\": \"8\","
	    " \"pods\": 20}}"));
	json_array_append_new(objs, tenant_obj("tenant1", "2024-01-01T00:00:00Z", NULL));
	json_array_append_new(objs, tenant_obj("shop", "2024-01-02T00:00:00Z",
	    "{\"customDomains\": [\"a.shop.customer.com\"]}"));
	json_array_append_new(objs, tenant_obj("sys", "2024-01-03T00:00:00Z",
	    "{\"customDomains\": [\"x.aigw.example.com\"]}"));
	json_array_append_new(objs, tenant_obj("bad", "2024-01-04T00:00:00Z",
	    "{\"customDomains\": \"a.com\"}"));
	json_array_append_new(objs, tenant_obj("star", "2024-01-05T00:00:00Z",
	    "{\"customDomains\": [\"a.*.com\"]}"));
	json_array_append_new(objs, tenant_obj("Upper", "2024-01-06T00:00:00Z", NULL));
	json_array_append_new(objs, tenant_obj("quota", "2024-01-07T00:00:00Z",
	    "{\"resourceQuota\": {\"pods\": \"lots\"}}"));
	json_array_append_new(objs, tenant_obj("empty", "2024-01-08T00:00:00Z", "{}"));
	json_array_append_new(objs, tenant_obj("suffix", "2024-01-09T00:00:00Z",
	    "{\"customDomains\": [\"*.co.uk\"]}"));

	cfg = config_load_default_tenants(objs, rejected, err, sizeof(err));
	test_cond("default with Tenant objects loads", cfg != NULL);
	if (cfg == NULL) {
		printf("  %s\n", err);
		goto out;
	}
	const struct tenant *t3 = config_tenant(cfg, "tenant3");
	const struct tenant *t4 = config_tenant(cfg, "tenant4");
	const struct tenant *t1 = config_tenant(cfg, "tenant1");
	test_cond("file tenants first, then objects oldest first", cfg->n_tenants == 4 &&
	    strcmp(cfg->tenants[2].name, "empty") == 0 && &cfg->tenants[3] == t3);
	test_cond("tenant3 from its object", t3 != NULL && t3->from_object &&
	    t3->n_custom_domains == 2 && strcmp(t3->custom_domains[0], "*.newco.com") == 0 &&
	    t3->n_backend_namespaces == 1 && strcmp(t3->backend_namespaces[0], "shared") == 0);
	test_cond("tenant3 quota merged over the baseline", t3 && t3->n_quota == 6 &&
	    strcmp(quota_of(t3->quota, t3->n_quota, "limits.cpu"), "8") == 0 &&
	    strcmp(quota_of(t3->quota, t3->n_quota, "requests.cpu"), "5") == 0 &&
	    strcmp(quota_of(t3->quota, t3->n_quota, "pods"), "20") == 0);
	test_cond("file tenant keeps its origin", t1 && !t1->from_object);
	test_cond("tenant3 namespace recognised", config_namespace_tenant(cfg,
	    "tenant3-gateway") == t3);
	uint32_t owner = CLAIMS_NO_OWNER;
	test_cond("tenant3 reservations indexed", claims_find(cfg->reservations, "x.newco.com",
	    CLAIMS_OVERLAP, CLAIMS_NO_OWNER, &owner, 1) == 1 && t3 &&
	    owner == config_tenant_index(cfg, t3));
	test_cond("younger overlapping tenant4 left out", t4 == NULL &&
	    strstr(reason(rejected, "tenant4"), "overlaps") != NULL);
	test_cond("a file tenant's name", strstr(reason(rejected, "tenant1"),
	    "defined in both the config file and a Tenant object") != NULL);
	test_cond("overlap with a file tenant", config_tenant(cfg, "shop") == NULL &&
	    strstr(reason(rejected, "shop"), "*.customer.com") != NULL);
	test_cond("under the system domain", strstr(reason(rejected, "sys"), "system domain"));
	test_cond("customDomains not a list", strstr(reason(rejected, "bad"), "must be a list"));
	test_cond("invalid pattern", strstr(reason(rejected, "star"), "a.*.com"));
	test_cond("bad name", strstr(reason(rejected, "Upper"), "DNS-1123"));
	test_cond("bad quantity", strstr(reason(rejected, "quota"), "quantity"));
	test_cond("a public suffix reservation left out, with the reason",
	    config_tenant(cfg, "suffix") == NULL &&
	    strstr(reason(rejected, "suffix"), "public suffix \"co.uk\"") != NULL);
	test_cond("exactly the bad ones rejected", json_object_size(rejected) == 9);
	config_free(cfg);

	/* A broken file still fails the whole load; NULL tenants is the plain loader. */
	cfg = config_load_buffer_tenants("t.yaml", "tenants: []\n", 12, objs, NULL, err,
	    sizeof(err));
	test_cond("a bad file fails despite good Tenants", cfg == NULL &&
	    strstr(err, "systemDomain is required") != NULL);
	cfg = config_load_buffer_tenants("t.yaml", SD "tenants: []\n", strlen(SD) + 12, NULL,
	    NULL, err, sizeof(err));
	test_cond("no Tenant objects", cfg && cfg->n_tenants == 0 && !cfg->route_sync);
	config_free(cfg);
	cfg = load(SD "routeSync: true\ntenants: []\n");
	test_cond("routeSync", cfg && cfg->route_sync);
	config_free(cfg);
	expect_error("routeSync not a bool", SD "routeSync: yes\ntenants: []\n", 2,
	    "true or false");
	cfg = load(SD "entryIngressClass: nginx\ntenants: []\n");
	test_cond("entryIngressClass", cfg && cfg->entry_ingress_class &&
	    strcmp(cfg->entry_ingress_class, "nginx") == 0);
	config_free(cfg);
	cfg = load(SD "tenants: []\n");
	test_cond("entryIngressClass absent: the reference's nginx", cfg &&
	    strcmp(cfg->entry_ingress_class, "nginx") == 0);
	config_free(cfg);
	expect_error("tenantIngressClass equal to the entry class",
	    SD "tenantIngressClass: nginx\n" T1, 4, "entryIngressClass");
	expect_error("a tenant's ingressClass equal to the entry class",
	    SD "entryIngressClass: public\n" T1 "  ingressClass: public\n", 4, "entryIngressClass");
	cfg = load(SD "ingress:\n  deniedAnnotations: [\"a.io/*\", \"b.io/x?\"]\n"
	    "  allowedAnnotations: [nginx.ingress.kubernetes.io/configuration-snippet]\n" T1);
	test_cond("ingress annotation patterns", cfg && cfg->n_denied_annotations == 2 &&
	    strcmp(cfg->denied_annotations[1], "b.io/x?") == 0 && cfg->n_allowed_annotations == 1);
	config_free(cfg);
	expect_error("a wildcard over a public suffix", SD T1 "  customDomains: [\"*.io\"]\n", 4,
	    "public suffix \"io\"");
	expect_error("a two-label public suffix", SD T1 "  customDomains:\n  - a.com\n"
	    "  - \"*.co.uk\"\n", 6, "public suffix \"co.uk\"");
	expect_error("a bare public suffix", SD T1 "  customDomains: [co.uk]\n", 4,
	    "is the public suffix");
	expect_error("a private-section suffix (github.io)", SD T1 "  customDomains: [\"*.github.io\"]\n",
	    4, "public suffix");
	cfg = load(SD T1 "  customDomains: [\"*.newco.io\", shop.example.co.uk]\n");
	test_cond("registered domains under public suffixes may be reserved", cfg != NULL);
	config_free(cfg);
	cfg = load(SD T1 "  registryNamespaces: [t1-prod, \"9f2c-uuid\"]\n"
	    "- name: t2\n");
	test_cond("registryNamespaces replace the tenant's name", cfg &&
	    config_tenant_registry_ns(&cfg->tenants[0], "9f2c-uuid") &&
	    !config_tenant_registry_ns(&cfg->tenants[0], "t1") &&
	    config_tenant_registry_ns(&cfg->tenants[1], "t2"));
	test_cond("registry types default: nacos, static, dns; not consul", cfg &&
	    has(cfg->registry_types, cfg->n_registry_types, "nacos") &&
	    has(cfg->registry_types, cfg->n_registry_types, "dns") &&
	    !has(cfg->registry_types, cfg->n_registry_types, "consul"));
	config_free(cfg);
	expect_error("a registry namespace that is another tenant's name",
	    SD T1 "- name: t2\n  registryNamespaces: [t1]\n", 4, "registry namespace \"t1\"");
	expect_error("two tenants listing one registry namespace",
	    SD T1 "  registryNamespaces: [shared]\n- name: t2\n  registryNamespaces: [shared]\n", 5,
	    "registry namespace \"shared\"");
	expect_error("a registry namespace with a slash", SD T1 "  registryNamespaces: [a/b]\n", 4,
	    "registry namespace id");
	expect_error("an unknown registry type", SD "registries:\n  allowedTypes: [kafka]\n" T1, 3,
	    "registry type");
	cfg = load(SD "registries:\n  allowedTypes: [nacos, consul]\n" T1);
	test_cond("registries.allowedTypes as written", cfg && cfg->n_registry_types == 2 &&
	    has(cfg->registry_types, 2, "consul"));
	config_free(cfg);
	expect_error("unknown ingress key", SD "ingress:\n  denied: [x]\n" T1, 3, "unknown key");
	expect_error("annotation pattern with a space", SD "ingress:\n  deniedAnnotations:\n"
	    "  - \"a b\"\n" T1, 4, "annotation key pattern");
	expect_error("entryIngressClass not a name", SD "entryIngressClass: Nginx_1\ntenants: []\n",
	    2, "not a valid IngressClass name");
out:
	json_decref(objs);
	json_decref(rejected);
}

/* entryWriters.secrets: who besides the admins may write Secrets in the entry namespace. */
static void
test_entry_writers(void)
{
	const char *groups[] = { "system:authenticated", "issuers" };
	struct config *cfg = load(SD "entryWriters:\n  secrets:\n"
	    "    users: [system:serviceaccount:cert-manager:cert-manager]\n"
	    "    groups: [issuers]\n" T1);

	test_cond("entryWriters loads", cfg != NULL);
	if (cfg != NULL) {
		test_cond("entryWriters: a listed user",
		    config_is_entry_secret_writer(cfg, "system:serviceaccount:cert-manager:cert-manager",
		    NULL, 0));
		test_cond("entryWriters: a listed group", config_is_entry_secret_writer(cfg, "bob",
		    groups, 2));
		test_cond("entryWriters: anyone else is not", !config_is_entry_secret_writer(cfg,
		    "system:serviceaccount:cert-manager:cainjector", groups, 1));
		test_cond("entryWriters: not an admin", !config_is_admin(cfg,
		    "system:serviceaccount:cert-manager:cert-manager", NULL, 0));
	}
	config_free(cfg);
	cfg = load(SD T1);
	test_cond("entryWriters absent: nobody", cfg && cfg->n_entry_secret_writer_users == 0 &&
	    cfg->n_entry_secret_writer_groups == 0);
	config_free(cfg);
	expect_error("entryWriters a list", SD "entryWriters: [x]\n" T1, 2, "must be a mapping");
	expect_error("unknown entryWriters key", SD "entryWriters:\n  ingresses: {}\n" T1, 3,
	    "unknown key");
	expect_error("unknown entryWriters.secrets key",
	    SD "entryWriters:\n  secrets:\n    user: [x]\n" T1, 4, "unknown key");
	expect_error("entryWriters.secrets.users a string",
	    SD "entryWriters:\n  secrets:\n    users: x\n" T1, 4, "must be a list");
	expect_error("empty entry writer group",
	    SD "entryWriters:\n  secrets:\n    groups: [\"\"]\n" T1, 4, "empty");
}

#define ENF_BASE "systemDomain: aigw.example.com\ntenants:\n  - name: t1\n"

/* enforcement / tenants[].enforcement / audit.interval: read strictly, resolved by precedence. */
static void
test_enforcement(void)
{
	struct config *cfg = load(ENF_BASE);
	test_cond("no enforcement: every rule denies",
	    cfg != NULL && enforce_mode_for(cfg, &cfg->tenants[0], RULE_SERVICE_TYPE, 403) ==
	    ENFORCE_DENY && cfg->audit_interval == 300);
	config_free(cfg);

	cfg = load("systemDomain: aigw.example.com\n"
	    "enforcement: {default: audit, rules: {tls-secret: warn, host-collision: deny}}\n"
	    "audit: {interval: 30s}\n"
	    "tenants:\n"
	    "  - name: t1\n"
	    "    enforcement: {rules: {tls-secret: deny}}\n"
	    "  - name: t2\n"
	    "    enforcement: {default: warn, rules: {host-collision: audit}}\n");
	test_cond("enforcement loads", cfg != NULL);
	if (cfg != NULL) {
		const struct tenant *t1 = &cfg->tenants[0], *t2 = &cfg->tenants[1];
		test_cond("audit.interval 30s", cfg->audit_interval == 30);
		test_cond("config default", enforce_mode_for(cfg, NULL, RULE_SERVICE_TYPE, 403) ==
		    ENFORCE_AUDIT);
		test_cond("config rule over default", enforce_mode_for(cfg, NULL, RULE_TLS_SECRET, 403) ==
		    ENFORCE_WARN);
		test_cond("tenant rule over config rule", enforce_mode_for(cfg, t1, RULE_TLS_SECRET, 403) ==
		    ENFORCE_DENY);
		test_cond("tenant without a default: the config's rule", enforce_mode_for(cfg, t1,
		    RULE_HOST_COLLISION, 403) == ENFORCE_DENY);
		test_cond("tenant default over config rule", enforce_mode_for(cfg, t2, RULE_TLS_SECRET,
		    403) == ENFORCE_WARN);
		test_cond("tenant rule over tenant default", enforce_mode_for(cfg, t2,
		    RULE_HOST_COLLISION, 403) == ENFORCE_AUDIT);
		test_cond("code 400 is never relaxed", enforce_mode_for(cfg, t2, RULE_REQUEST_INVALID,
		    400) == ENFORCE_DENY);
		test_cond("code 500 is never relaxed", enforce_mode_for(cfg, t2, RULE_TLS_SECRET, 500) ==
		    ENFORCE_DENY);
	}
	config_free(cfg);

	expect_error("unknown enforcement key", ENF_BASE "enforcement: {defualt: warn}\n", 4,
	    "unknown key \"defualt\"");
	expect_error("bad default mode", ENF_BASE "enforcement:\n  default: dryrun\n", 5,
	    "deny, warn or audit");
	expect_error("unknown rule id", ENF_BASE "enforcement:\n  rules:\n    tls-secrets: warn\n",
	    6, "\"tls-secrets\" is not a rule id");
	expect_error("request-invalid cannot be relaxed",
	    ENF_BASE "enforcement:\n  rules:\n    request-invalid: warn\n", 6, "always enforced");
	expect_error("bad rule mode", ENF_BASE "enforcement:\n  rules:\n    tls-secret: allow\n", 6,
	    "enforcement.rules.tls-secret must be deny, warn or audit");
	expect_error("enforcement not a mapping", ENF_BASE "enforcement: warn\n", 4,
	    "must be a mapping");
	expect_error("tenant enforcement checked too", ENF_BASE "    enforcement: {default: off}\n",
	    4, "tenants[0].enforcement.default");
	expect_error("audit.interval malformed", ENF_BASE "audit: {interval: soon}\n", 4,
	    "audit.interval");
	expect_error("audit.interval zero", ENF_BASE "audit: {interval: 0s}\n", 4,
	    "audit.interval");
	expect_error("unknown audit key", ENF_BASE "audit: {period: 5m}\n", 4,
	    "unknown key \"period\" in audit");
}

int
main(void)
{
	test_default();
	test_json_same();
	test_errors();
	test_lookups();
	test_files();
	test_tenant_objects();
	test_entry_writers();
	test_enforcement();
	return test_report();
}
