/* SPDX-License-Identifier: Apache-2.0 */
/* config_load: strict YAML/JSON config reader; every error points at "file:line". */
#include "config_load.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "certs_cmd.h"
#include "config.h"
#include "enforce.h"
#include "fileio.h"
#include "host.h"
#include "psl_load.h"
#include "tenantobj.h"
#include "yamljson.h"

#define CONFIG_MAX_BYTES (1024 * 1024)

const char config_default_yaml[] =
	"systemDomain: aigw.example.com\n"
	"entryNamespace: higress-system\n"
	"tenantNamespace: \"{tenant}-gateway\"\n"
	"unregisteredDomains: first-come\n"
	"systemCertSecret: system-wildcard-cert\n"
	"tenantCertSecret: \"{tenant}-custom-cert\"\n"
	"gatewayPort: 80\n"
	"clusterDomain: cluster.local\n"
	"admins:\n"
	"  groups: [system:masters]\n"
	"  users: [system:serviceaccount:tenantguard-system:tenantguard]\n"
	"# the reference's classes: tenant Ingresses use higress (§5.2), the entry nginx (§3.3)\n"
	"tenantIngressClass: higress\n"
	"entryIngressClass: nginx\n"
	"tenants:\n"
	"  - name: tenant1\n"
	"    customDomains: [\"*.customer.com\"]\n"
	"    # the reference's tenant1-api-ingress routes to tenant1-service in `default`\n"
	"    backendNamespaces: [default]\n"
	"  - name: tenant2\n"
	"    customDomains: [\"*.client.com\"]\n";

/* Defaults for keys a config file may leave out (DESIGN §4, §6). */
static const char *const default_service_types[] = { "ClusterIP", "ExternalName" };
/*
 * McpBridge registry types (Higress): Nacos is confined to the tenant's own namespaces,
 * static and dns hold only what the tenant writes into them (dns names are checked like
 * ExternalNames); consul, zookeeper and eureka are shared registries with no tenant boundary
 * tenantguard can verify, so they are off unless configured.
 */
static const char *const default_registry_types[] = { "nacos", "nacos2", "nacos3", "static",
	"dns" };
static const char *const known_registry_types[] = { "nacos", "nacos2", "nacos3", "static",
	"dns", "consul", "zookeeper", "eureka" };
/* The reference's unified entry is ingress-nginx (§3.3). */
static const char default_entry_class[] = "nginx";
static const char *const known_service_types[] = {
	"ClusterIP", "NodePort", "LoadBalancer", "ExternalName",
};
static const struct { const char *resource, *quantity; } default_quota[] = {
	{ "requests.cpu", "5" },
	{ "limits.cpu", "5" },
	{ "requests.memory", "4Gi" },
	{ "limits.memory", "4Gi" },
	{ "requests.storage", "10Gi" },
};

struct loader {
	const char            *name;
	struct yamljson_lines *lines;
	char                  *err;
	size_t                 errsz;
};

static int lfail(struct loader *ld, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "name:line: reason" (or "name: reason" without a line); always returns -1. */
static int
lfail(struct loader *ld, unsigned line, const char *fmt, ...)
{
	int n = line ? snprintf(ld->err, ld->errsz, "%s:%u: ", ld->name, line) :
	    snprintf(ld->err, ld->errsz, "%s: ", ld->name);
	if (n >= 0 && (size_t)n < ld->errsz) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ld->err + n, ld->errsz - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Line of obj[key]: where the key is written, else where the mapping starts. */
static unsigned
key_line(const struct loader *ld, const json_t *obj, const char *key)
{
	unsigned l = yamljson_key_line(ld->lines, obj, key);
	return l ? l : yamljson_line(ld->lines, obj);
}

/* Line of an array item, falling back to the array's (null items have no line of their own). */
static unsigned
item_line(const struct loader *ld, const json_t *arr, const json_t *item)
{
	unsigned l = yamljson_line(ld->lines, item);
	return l ? l : yamljson_line(ld->lines, arr);
}

static const char *
type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "a mapping";
	case JSON_ARRAY: return "a list";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "a value";
}

/* Refuses keys outside `allowed`, suggesting the right spelling of a near miss. */
static int
check_keys(struct loader *ld, const json_t *obj, const char *where,
    const char *const *allowed, size_t n)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		const char *hint = NULL;
		size_t i;
		for (i = 0; i < n; i++) {
			if (strcmp(key, allowed[i]) == 0)
				break;
			if (strcasecmp(key, allowed[i]) == 0)
				hint = allowed[i];
		}
		if (i < n)
			continue;
		if (hint)
			return lfail(ld, key_line(ld, obj, key), "unknown key \"%s\" in %s "
			    "(did you mean \"%s\"?)", key, where, hint);
		return lfail(ld, key_line(ld, obj, key), "unknown key \"%s\" in %s", key, where);
	}
	return 0;
}

static char *
xstrdup(struct loader *ld, const char *s)
{
	char *d = strdup(s);
	if (d == NULL)
		lfail(ld, 0, "out of memory");
	return d;
}

/*
 * obj[key] as a new non-empty string in *out. Absent: *out = NULL, and an error when
 * `required`. `what` names the key in messages.
 */
static int
get_string(struct loader *ld, const json_t *obj, const char *key, const char *what,
    bool required, char **out)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL) {
		if (required)
			return lfail(ld, yamljson_line(ld->lines, obj), "%s is required", what);
		return 0;
	}
	if (!json_is_string(v))
		return lfail(ld, key_line(ld, obj, key), "%s must be a string, not %s", what,
		    type_name(v));
	if (json_string_length(v) == 0)
		return lfail(ld, key_line(ld, obj, key), "%s must not be empty", what);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return lfail(ld, key_line(ld, obj, key), "%s contains a NUL character", what);
	*out = xstrdup(ld, json_string_value(v));
	return *out ? 0 : -1;
}

/* Like get_string, with `def` copied when the key is absent. */
static int
get_string_def(struct loader *ld, const json_t *obj, const char *key, const char *what,
    const char *def, char **out)
{
	if (get_string(ld, obj, key, what, false, out) != 0)
		return -1;
	if (*out == NULL && (*out = xstrdup(ld, def)) == NULL)
		return -1;
	return 0;
}

/* obj[key] as a boolean, `def` when absent. */
static int
get_bool(struct loader *ld, const json_t *obj, const char *key, bool def, bool *out)
{
	json_t *v = json_object_get(obj, key);

	*out = def;
	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return lfail(ld, key_line(ld, obj, key), "%s must be true or false, not %s", key,
		    type_name(v));
	*out = json_is_true(v);
	return 0;
}

/* obj[key] as a mapping (borrowed) or NULL when absent; -1 on a wrong type. */
static int
get_object(struct loader *ld, const json_t *obj, const char *key, const char *what,
    json_t **out)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_object(v))
		return lfail(ld, key_line(ld, obj, key), "%s must be a mapping, not %s", what,
		    type_name(v));
	*out = v;
	return 0;
}

/* obj[key] as a list (borrowed) or NULL when absent; -1 on a wrong type. */
static int
get_array(struct loader *ld, const json_t *obj, const char *key, const char *what,
    json_t **out)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_array(v))
		return lfail(ld, key_line(ld, obj, key), "%s must be a list, not %s", what,
		    type_name(v));
	*out = v;
	return 0;
}

/*
 * obj[key], a list of non-empty strings, into a new vector. Absent (or obj NULL): the
 * `n_def` strings of `def`. Each item is passed to `check` (may be NULL), which returns
 * NULL or the reason it is refused; repeated items are refused too.
 */
static int
get_strings(struct loader *ld, const json_t *obj, const char *key, const char *what,
    const char *const *def, size_t n_def, const char *(*check)(const char *s), char ***out,
    size_t *n_out)
{
	json_t *arr = NULL, *item;
	size_t i, n;
	char **v;

	*out = NULL;
	*n_out = 0;
	if (obj != NULL && get_array(ld, obj, key, what, &arr) != 0)
		return -1;
	n = arr ? json_array_size(arr) : n_def;
	if ((v = calloc(n ? n : 1, sizeof(*v))) == NULL)
		return lfail(ld, 0, "out of memory");
	*out = v;
	if (arr == NULL) {
		for (i = 0; i < n_def; i++) {
			if ((v[i] = xstrdup(ld, def[i])) == NULL)
				return -1;
			(*n_out)++;
		}
		return 0;
	}
	json_array_foreach(arr, i, item) {
		unsigned line = item_line(ld, arr, item);
		if (!json_is_string(item))
			return lfail(ld, line, "%s must be a list of strings; item %zu is %s", what,
			    i + 1, type_name(item));
		const char *s = json_string_value(item);
		if (*s == '\0' || strlen(s) != json_string_length(item))
			return lfail(ld, line, "%s: item %zu is empty or has a NUL character", what,
			    i + 1);
		const char *why = check ? check(s) : NULL;
		if (why != NULL)
			return lfail(ld, line, "%s: \"%s\" %s", what, s, why);
		for (size_t j = 0; j < i; j++)
			if (strcmp(v[j], s) == 0)
				return lfail(ld, line, "%s lists \"%s\" twice", what, s);
		if ((v[i] = xstrdup(ld, s)) == NULL)
			return -1;
		(*n_out)++;
	}
	return 0;
}

static const char *
check_dns_label(const char *s)
{
	return config_is_dns_label(s) ? NULL :
	    "is not a DNS-1123 label (lower-case a-z, 0-9 and '-', at most 63 characters)";
}

static const char *
check_service_type(const char *s)
{
	for (size_t i = 0; i < sizeof(known_service_types) / sizeof(*known_service_types); i++)
		if (strcmp(s, known_service_types[i]) == 0)
			return NULL;
	return "is not a Service type (ClusterIP, NodePort, LoadBalancer, ExternalName)";
}

/* A normalised host (not a pattern) in a new string. */
static int
get_host(struct loader *ld, const json_t *obj, const char *key, const char *def, char **out)
{
	char norm[HOST_MAX];
	const char *why = NULL;

	if (get_string_def(ld, obj, key, key, def, out) != 0)
		return -1;
	if (*out == NULL)
		return lfail(ld, yamljson_line(ld->lines, obj), "%s is required", key);
	if (host_normalize(*out, norm, sizeof(norm), &why) != 0)
		return lfail(ld, key_line(ld, obj, key), "%s \"%s\" %s", key, *out, why);
	if (host_is_wildcard(norm))
		return lfail(ld, key_line(ld, obj, key), "%s \"%s\" must be a domain, not a "
		    "wildcard pattern", key, *out);
	free(*out);
	*out = xstrdup(ld, norm);
	return *out ? 0 : -1;
}

enum tmpl_rule {
	TMPL_LABEL,       /* {tenant} exactly once, expands to a DNS-1123 label */
	TMPL_SUBDOMAIN,   /* {tenant} exactly once, expands to a DNS-1123 subdomain */
	TMPL_OPTIONAL,    /* {tenant} at most once, expands to a DNS-1123 subdomain */
};

/*
 * obj[key] (or `def`) split at "{tenant}" into t. The expansion for a one-character tenant
 * must be a valid name already, so a template cannot be fixed only by a lucky tenant name.
 */
static int
get_template(struct loader *ld, const json_t *obj, const char *key, const char *def,
    enum tmpl_rule rule, struct name_template *t)
{
	static const char mark[] = "{tenant}";
	char *s = NULL, buf[512];
	int rc = -1;

	if (get_string(ld, obj, key, key, false, &s) != 0)
		goto out;
	if (s == NULL && def == NULL) {
		rc = 0;   /* absent and optional: prefix stays NULL */
		goto out;
	}
	if (s == NULL && (s = xstrdup(ld, def)) == NULL)
		goto out;
	unsigned line = key_line(ld, obj, key);
	char *at = strstr(s, mark);
	if (at == NULL && rule != TMPL_OPTIONAL) {
		lfail(ld, line, "%s \"%s\" must contain {tenant}", key, s);
		goto out;
	}
	if (at != NULL && strstr(at + 1, mark) != NULL) {
		lfail(ld, line, "%s \"%s\" must contain {tenant} only once", key, s);
		goto out;
	}
	if (at != NULL) {
		*at = '\0';
		t->prefix = xstrdup(ld, s);
		t->suffix = xstrdup(ld, at + strlen(mark));
		*at = '{';
		if (t->prefix == NULL || t->suffix == NULL)
			goto out;
	} else if ((t->prefix = xstrdup(ld, s)) == NULL) {
		goto out;
	}
	bool ok = template_expand(t, "a", buf, sizeof(buf)) &&
	    (rule == TMPL_LABEL ? config_is_dns_label(buf) : config_is_dns_subdomain(buf));
	if (!ok) {
		lfail(ld, line, "%s \"%s\" does not give a valid %s (\"%s\" for tenant \"a\")",
		    key, s, rule == TMPL_LABEL ? "namespace name (DNS-1123 label)" :
		    "name (DNS-1123 subdomain)", buf);
		goto out;
	}
	rc = 0;
out:
	free(s);
	return rc;
}

/*
 * Parses "addr/prefix" with inet_pton; host bits must be zero so the intent is unambiguous.
 * Returns NULL, or why not (a static string, or `hint` when it names the likely network).
 */
static const char *
parse_cidr(const char *s, struct cidr *c, char *hint, size_t hintsz)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');

	if (slash == NULL)
		return "is not a CIDR (address/prefix, e.g. 203.0.113.0/24)";
	size_t al = (size_t)(slash - s);
	if (al == 0 || al >= sizeof(addr))
		return "has an invalid address";
	memcpy(addr, s, al);
	addr[al] = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, addr, c->addr) == 1)
		c->family = AF_INET;
	else if (inet_pton(AF_INET6, addr, c->addr) == 1)
		c->family = AF_INET6;
	else
		return "has an invalid IPv4 or IPv6 address";
	const char *p = slash + 1;
	unsigned max = c->family == AF_INET ? 32 : 128, prefix = 0;
	if (*p == '\0' || strlen(p) > 3)
		return "has an invalid prefix length";
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return "has an invalid prefix length";
		prefix = prefix * 10 + (unsigned)(*p - '0');
	}
	if (prefix > max)
		return c->family == AF_INET ? "has a prefix length over 32" :
		    "has a prefix length over 128";
	c->prefix = prefix;
	bool host_bits = false;
	for (size_t i = 0; i < max / 8; i++) {
		unsigned keep = prefix >= (i + 1) * 8 ? 8 : prefix > i * 8 ? prefix - (unsigned)i * 8 : 0;
		unsigned char mask = (unsigned char)(keep ? 0xff << (8 - keep) : 0);
		if (c->addr[i] & (unsigned char)~mask)
			host_bits = true;
		c->addr[i] &= mask;
	}
	if (host_bits) {
		/* Say which network was probably meant: the address with its host bits cleared. */
		char net[INET6_ADDRSTRLEN];
		if (inet_ntop(c->family, c->addr, net, sizeof(net)) == NULL)
			return "has host bits set after the prefix length";
		snprintf(hint, hintsz, "has host bits set after the prefix length (did you mean "
		    "%s/%u?)", net, prefix);
		return hint;
	}
	return NULL;
}

/* A number written in YAML as its quantity string: the shortest form that reads back. */
static void
number_text(const json_t *v, char *buf, size_t bufsz)
{
	if (json_is_integer(v)) {
		snprintf(buf, bufsz, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return;
	}
	double d = json_real_value(v);
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, bufsz, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

static int
quota_set(struct loader *ld, struct quota_item **q, size_t *n, size_t *cap,
    const char *resource, const char *quantity)
{
	if (config_quota_set(q, n, cap, resource, quantity) != 0)
		return lfail(ld, 0, "out of memory");
	return 0;
}

/*
 * Reads the quota mapping `map` on top of the items already in *q (a tenant's quota starts
 * as a copy of the baseline, so it overrides resource by resource).
 */
static int
get_quota(struct loader *ld, const json_t *map, const char *what, struct quota_item **q,
    size_t *n, size_t *cap)
{
	const char *res;
	json_t *v;
	char num[64];

	json_object_foreach((json_t *)map, res, v) {
		unsigned line = key_line(ld, map, res);
		const char *qty;
		if (!config_is_resource_name(res))
			return lfail(ld, line, "%s: \"%s\" is not a resource name", what, res);
		if (json_is_string(v)) {
			qty = json_string_value(v);
		} else if (json_is_integer(v) || json_is_real(v)) {
			number_text(v, num, sizeof(num));
			qty = num;
		} else {
			return lfail(ld, line, "%s: %s must be a quantity (string or number), not %s",
			    what, res, type_name(v));
		}
		if (!config_is_quantity(qty))
			return lfail(ld, line, "%s: %s \"%s\" is not a non-negative quantity "
			    "(e.g. \"5\", \"500m\", \"4Gi\")", what, res, qty);
		if (quota_set(ld, q, n, cap, res, qty) != 0)
			return -1;
	}
	return 0;
}

static int
load_admins(struct loader *ld, struct config *cfg, const json_t *top)
{
	static const char *const keys[] = { "groups", "users" };
	static const char *const def_groups[] = { "system:masters" };
	json_t *admins;

	if (get_object(ld, top, "admins", "admins", &admins) != 0)
		return -1;
	if (admins != NULL && check_keys(ld, admins, "admins", keys, 2) != 0)
		return -1;
	/*
	 * No admins key: cluster admins (system:masters) only. A written admins key means
	 * exactly the lists written, so an operator can drop system:masters.
	 */
	if (get_strings(ld, admins, "groups", "admins.groups", admins ? NULL : def_groups,
	    admins ? 0 : 1, NULL,
	    &cfg->admin_groups, &cfg->n_admin_groups) != 0 ||
	    get_strings(ld, admins, "users", "admins.users", NULL, 0, NULL,
	    &cfg->admin_users, &cfg->n_admin_users) != 0)
		return -1;
	return 0;
}

/*
 * entryWriters.secrets: identities besides the admins that may write Secrets in the entry
 * namespace, where the tenants' custom certificates live (cert-manager's controller issues
 * them there). Only entry-admin is lifted for them: tls-secret and tls-secret-hosts still
 * decide which names a certificate under which Secret name may carry.
 */
static int
load_entry_writers(struct loader *ld, struct config *cfg, const json_t *top)
{
	static const char *const keys[] = { "secrets" };
	static const char *const who[] = { "users", "groups" };
	json_t *writers, *secrets = NULL;

	if (get_object(ld, top, "entryWriters", "entryWriters", &writers) != 0 ||
	    (writers != NULL && (check_keys(ld, writers, "entryWriters", keys, 1) != 0 ||
	    get_object(ld, writers, "secrets", "entryWriters.secrets", &secrets) != 0)) ||
	    (secrets != NULL && check_keys(ld, secrets, "entryWriters.secrets", who, 2) != 0))
		return -1;
	return get_strings(ld, secrets, "users", "entryWriters.secrets.users", NULL, 0, NULL,
	    &cfg->entry_secret_writer_users, &cfg->n_entry_secret_writer_users) != 0 ||
	    get_strings(ld, secrets, "groups", "entryWriters.secrets.groups", NULL, 0, NULL,
	    &cfg->entry_secret_writer_groups, &cfg->n_entry_secret_writer_groups) != 0 ? -1 : 0;
}

static int
load_services(struct loader *ld, struct config *cfg, const json_t *top)
{
	static const char *const keys[] = { "allowedTypes", "externalIPCIDRs",
		"externalNamePublic" };
	json_t *svc, *cidrs = NULL, *item;
	char *mode = NULL;
	size_t i;

	if (get_object(ld, top, "services", "services", &svc) != 0)
		return -1;
	if (svc != NULL && check_keys(ld, svc, "services", keys, 3) != 0)
		return -1;
	if (get_strings(ld, svc, "allowedTypes", "services.allowedTypes", default_service_types, 2,
	    check_service_type, &cfg->service_types, &cfg->n_service_types) != 0)
		return -1;
	if (svc != NULL && get_array(ld, svc, "externalIPCIDRs", "services.externalIPCIDRs",
	    &cidrs) != 0)
		return -1;
	if (cidrs != NULL && json_array_size(cidrs) > 0) {
		cfg->external_ip_cidrs = calloc(json_array_size(cidrs), sizeof(struct cidr));
		if (cfg->external_ip_cidrs == NULL)
			return lfail(ld, 0, "out of memory");
		json_array_foreach(cidrs, i, item) {
			unsigned line = item_line(ld, cidrs, item);
			if (!json_is_string(item))
				return lfail(ld, line, "services.externalIPCIDRs must be a list of "
				    "strings; item %zu is %s", i + 1, type_name(item));
			char hint[128];
			const char *why = parse_cidr(json_string_value(item),
			    &cfg->external_ip_cidrs[i], hint, sizeof(hint));
			if (why != NULL)
				return lfail(ld, line, "services.externalIPCIDRs: \"%s\" %s",
				    json_string_value(item), why);
			cfg->n_external_ip_cidrs++;
		}
	}
	cfg->external_name_public = EXTNAME_PUBLIC_ALLOW;
	if (svc != NULL && get_string(ld, svc, "externalNamePublic",
	    "services.externalNamePublic", false, &mode) != 0)
		return -1;
	if (mode != NULL) {
		int rc = 0;
		if (strcmp(mode, "deny") == 0)
			cfg->external_name_public = EXTNAME_PUBLIC_DENY;
		else if (strcmp(mode, "allow") != 0)
			rc = lfail(ld, key_line(ld, svc, "externalNamePublic"),
			    "services.externalNamePublic \"%s\" must be allow or deny", mode);
		free(mode);
		return rc;
	}
	return 0;
}

/* An annotation key glob: key characters (prefix/name) and the wildcards '*' and '?'. */
static const char *
check_annotation_glob(const char *s)
{
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-_./*?", *p) != NULL))
			return "is not an annotation key pattern (key characters, '*' and '?')";
	return NULL;
}

static const char *
check_registry_type(const char *s)
{
	for (size_t i = 0; i < sizeof(known_registry_types) / sizeof(*known_registry_types); i++)
		if (strcmp(s, known_registry_types[i]) == 0)
			return NULL;
	return "is not a McpBridge registry type (nacos, nacos2, nacos3, static, dns, consul, "
	    "zookeeper, eureka)";
}

/* A Nacos namespace id: printable, no white space or '/', at most 128 characters. */
static const char *
check_registry_ns(const char *s)
{
	if (strlen(s) > 128)
		return "is longer than 128 characters";
	for (const char *p = s; *p; p++)
		if (*p <= ' ' || *p == '/' || (unsigned char)*p >= 0x7f)
			return "is not a registry namespace id (printable, no spaces or '/')";
	return NULL;
}

static int
load_registries(struct loader *ld, struct config *cfg, const json_t *top)
{
	static const char *const keys[] = { "allowedTypes" };
	json_t *reg;

	if (get_object(ld, top, "registries", "registries", &reg) != 0)
		return -1;
	if (reg != NULL && check_keys(ld, reg, "registries", keys, 1) != 0)
		return -1;
	return get_strings(ld, reg, "allowedTypes", "registries.allowedTypes",
	    default_registry_types, sizeof(default_registry_types) / sizeof(*default_registry_types),
	    check_registry_type, &cfg->registry_types, &cfg->n_registry_types);
}

static int
load_ingress(struct loader *ld, struct config *cfg, const json_t *top)
{
	static const char *const keys[] = { "deniedAnnotations", "allowedAnnotations" };
	json_t *ing;

	if (get_object(ld, top, "ingress", "ingress", &ing) != 0)
		return -1;
	if (ing != NULL && check_keys(ld, ing, "ingress", keys, 2) != 0)
		return -1;
	return get_strings(ld, ing, "deniedAnnotations", "ingress.deniedAnnotations", NULL, 0,
	    check_annotation_glob, &cfg->denied_annotations, &cfg->n_denied_annotations) != 0 ||
	    get_strings(ld, ing, "allowedAnnotations", "ingress.allowedAnnotations", NULL, 0,
	    check_annotation_glob, &cfg->allowed_annotations, &cfg->n_allowed_annotations) != 0 ?
	    -1 : 0;
}

static int
load_baseline(struct loader *ld, struct config *cfg, const json_t *top)
{
	static const char *const keys[] = { "resourceQuota" };
	json_t *base, *rq = NULL;
	size_t cap = 0;

	if (get_object(ld, top, "baseline", "baseline", &base) != 0)
		return -1;
	if (base != NULL && (check_keys(ld, base, "baseline", keys, 1) != 0 ||
	    get_object(ld, base, "resourceQuota", "baseline.resourceQuota", &rq) != 0))
		return -1;
	if (rq != NULL)   /* written: exactly what is written, so a resource can be left out */
		return get_quota(ld, rq, "baseline.resourceQuota", &cfg->quota, &cfg->n_quota,
		    &cap);
	for (size_t i = 0; i < sizeof(default_quota) / sizeof(*default_quota); i++)
		if (quota_set(ld, &cfg->quota, &cfg->n_quota, &cap, default_quota[i].resource,
		    default_quota[i].quantity) != 0)
			return -1;
	return 0;
}

/* obj[key], an enforcement block, into *e; errors point at the key at fault. */
static int
get_enforcement(struct loader *ld, const json_t *obj, const char *what, struct enforcement *e)
{
	const json_t *at, *v = json_object_get(obj, "enforcement");
	const char *at_key;
	char msg[512];

	if (enforce_read(v, what, e, &at, &at_key, msg, sizeof(msg)) == 0)
		return 0;
	return lfail(ld, at_key ? key_line(ld, at, at_key) : key_line(ld, obj, "enforcement"),
	    "%s", msg);
}

/* audit: {interval}, a duration ("30s", "5m", "1h"); default 5 minutes. */
static int
load_audit(struct loader *ld, struct config *cfg, const json_t *top)
{
	static const char *const keys[] = { "interval" };
	json_t *audit;
	char *text = NULL;
	long long secs = 0;

	cfg->audit_interval = 300;
	if (get_object(ld, top, "audit", "audit", &audit) != 0)
		return -1;
	if (audit == NULL)
		return 0;
	if (check_keys(ld, audit, "audit", keys, sizeof(keys) / sizeof(*keys)) != 0 ||
	    get_string(ld, audit, "interval", "audit.interval", false, &text) != 0)
		return -1;
	if (text == NULL)
		return 0;
	int rc = 0;
	if (certs_parse_duration(text, &secs) != 0 || secs < 1 || secs > 86400)
		rc = lfail(ld, key_line(ld, audit, "interval"), "audit.interval \"%s\" must be a "
		    "duration from 1s to 24h, such as 30s or 5m", text);
	else
		cfg->audit_interval = (unsigned)secs;
	free(text);
	return rc;
}

static int
load_tenant(struct loader *ld, const struct config *cfg, const json_t *obj, size_t idx,
    struct tenant *t)
{
	static const char *const keys[] = { "name", "customDomains", "ingressClass",
		"backendNamespaces", "resourceQuota", "enforcement", "registryNamespaces" };
	json_t *rq;
	char what[64];

	snprintf(what, sizeof(what), "tenants[%zu]", idx);
	if (!json_is_object(obj))
		return lfail(ld, yamljson_line(ld->lines, obj), "%s must be a mapping, not %s",
		    what, type_name(obj));
	if (check_keys(ld, obj, what, keys, sizeof(keys) / sizeof(*keys)) != 0 ||
	    get_string(ld, obj, "name", "tenant name", true, &t->name) != 0)
		return -1;
	if (!config_is_dns_label(t->name))
		return lfail(ld, key_line(ld, obj, "name"), "tenant name \"%s\" %s", t->name,
		    check_dns_label(t->name));
	/* Host syntax and overlaps are checked by config_finish, which points at the item. */
	if (get_strings(ld, obj, "customDomains", "customDomains", NULL, 0, NULL,
	    &t->custom_domains, &t->n_custom_domains) != 0 ||
	    get_string(ld, obj, "ingressClass", "ingressClass", false, &t->ingress_class) != 0 ||
	    get_strings(ld, obj, "backendNamespaces", "backendNamespaces", NULL, 0,
	    check_dns_label, &t->backend_namespaces, &t->n_backend_namespaces) != 0 ||
	    get_strings(ld, obj, "registryNamespaces", "registryNamespaces", NULL, 0,
	    check_registry_ns, &t->registry_namespaces, &t->n_registry_namespaces) != 0 ||
	    get_object(ld, obj, "resourceQuota", "resourceQuota", &rq) != 0)
		return -1;
	snprintf(what, sizeof(what), "tenants[%zu].enforcement", idx);
	if (get_enforcement(ld, obj, what, &t->enforcement) != 0)
		return -1;
	if (t->ingress_class != NULL && !config_is_dns_subdomain(t->ingress_class))
		return lfail(ld, key_line(ld, obj, "ingressClass"), "ingressClass \"%s\" is not a "
		    "valid IngressClass name (DNS-1123 subdomain)", t->ingress_class);
	if (rq != NULL) {
		size_t cap = 0;
		for (size_t i = 0; i < cfg->n_quota; i++)
			if (quota_set(ld, &t->quota, &t->n_quota, &cap, cfg->quota[i].resource,
			    cfg->quota[i].quantity) != 0)
				return -1;
		snprintf(what, sizeof(what), "tenants[%zu].resourceQuota", idx);
		if (get_quota(ld, rq, what, &t->quota, &t->n_quota, &cap) != 0)
			return -1;
	}
	return 0;
}

static int
load_tenants(struct loader *ld, struct config *cfg, const json_t *top)
{
	json_t *arr, *item;
	size_t i;

	if (get_array(ld, top, "tenants", "tenants", &arr) != 0)
		return -1;
	if (arr == NULL)
		return lfail(ld, yamljson_line(ld->lines, top), "tenants is required "
		    "(an empty list is fine)");
	if (json_array_size(arr) == 0)
		return 0;
	cfg->tenants = calloc(json_array_size(arr), sizeof(*cfg->tenants));
	if (cfg->tenants == NULL)
		return lfail(ld, 0, "out of memory");
	json_array_foreach(arr, i, item) {
		/* Counted first, so config_free releases a half-filled entry. */
		cfg->n_tenants++;
		if (load_tenant(ld, cfg, item, i, &cfg->tenants[i]) != 0)
			return -1;
	}
	return 0;
}

/* Turns a config_finish fault into "name:line:", pointing at the tenant or its domain. */
static int
finish(struct loader *ld, struct config *cfg, const json_t *top)
{
	struct config_where where;
	char msg[512];
	unsigned line = 0;

	if (config_finish_where(cfg, &where, msg, sizeof(msg)) == 0)
		return 0;
	json_t *tenants = json_object_get(top, "tenants");
	json_t *t = where.tenant != SIZE_MAX ? json_array_get(tenants, where.tenant) : NULL;
	if (t != NULL && where.key != NULL) {
		json_t *list = json_object_get(t, where.key);
		line = item_line(ld, list, json_array_get(list, where.item));
	}
	if (t != NULL && line == 0) {
		line = key_line(ld, t, "name");
	}
	if (line == 0)
		line = key_line(ld, top, "tenants");
	return lfail(ld, line, "%s", msg);
}

static int
load_top(struct loader *ld, struct config *cfg, const json_t *top)
{
	static const char *const keys[] = {
		"systemDomain", "entryNamespace", "tenantNamespace", "unregisteredDomains",
		"systemCertSecret", "tenantCertSecret", "gatewayPort", "clusterDomain", "admins",
		"tenantIngressClass", "services", "baseline", "routeSync", "entryIngressClass",
		"entryWriters", "ingress", "registries",
		"tenants", "enforcement", "audit",
	};
	char *mode = NULL;
	json_t *port;

	if (check_keys(ld, top, "the config", keys, sizeof(keys) / sizeof(*keys)) != 0)
		return -1;
	if (json_object_get(top, "systemDomain") == NULL)
		return lfail(ld, yamljson_line(ld->lines, top), "systemDomain is required");
	if (get_host(ld, top, "systemDomain", NULL, &cfg->system_domain) != 0 ||
	    get_string_def(ld, top, "entryNamespace", "entryNamespace", "higress-system",
	    &cfg->entry_namespace) != 0)
		return -1;
	if (!config_is_dns_label(cfg->entry_namespace))
		return lfail(ld, key_line(ld, top, "entryNamespace"), "entryNamespace \"%s\" %s",
		    cfg->entry_namespace, check_dns_label(cfg->entry_namespace));
	if (get_template(ld, top, "tenantNamespace", "{tenant}-gateway", TMPL_LABEL,
	    &cfg->tenant_namespace) != 0)
		return -1;
	if (get_string(ld, top, "unregisteredDomains", "unregisteredDomains", false, &mode) != 0)
		return -1;
	cfg->unregistered = UNREGISTERED_FIRST_COME;
	if (mode != NULL) {
		bool ok = true;
		if (strcmp(mode, "deny") == 0)
			cfg->unregistered = UNREGISTERED_DENY;
		else if (strcmp(mode, "first-come") != 0)
			ok = false;
		if (!ok)
			lfail(ld, key_line(ld, top, "unregisteredDomains"), "unregisteredDomains "
			    "\"%s\" must be first-come or deny", mode);
		free(mode);
		if (!ok)
			return -1;
	}
	if (get_string_def(ld, top, "systemCertSecret", "systemCertSecret",
	    "system-wildcard-cert", &cfg->system_cert_secret) != 0)
		return -1;
	if (!config_is_dns_subdomain(cfg->system_cert_secret))
		return lfail(ld, key_line(ld, top, "systemCertSecret"), "systemCertSecret \"%s\" "
		    "is not a valid Secret name (DNS-1123 subdomain)", cfg->system_cert_secret);
	if (get_template(ld, top, "tenantCertSecret", "{tenant}-custom-cert", TMPL_SUBDOMAIN,
	    &cfg->tenant_cert_secret) != 0)
		return -1;
	cfg->gateway_port = 80;
	if ((port = json_object_get(top, "gatewayPort")) != NULL) {
		unsigned line = key_line(ld, top, "gatewayPort");
		if (!json_is_integer(port))
			return lfail(ld, line, "gatewayPort must be an integer, not %s",
			    type_name(port));
		if (json_integer_value(port) < 1 || json_integer_value(port) > 65535)
			return lfail(ld, line, "gatewayPort %" JSON_INTEGER_FORMAT " is out of "
			    "range 1..65535", json_integer_value(port));
		cfg->gateway_port = (int)json_integer_value(port);
	}
	if (get_string_def(ld, top, "entryIngressClass", "entryIngressClass",
	    default_entry_class, &cfg->entry_ingress_class) != 0)
		return -1;
	if (!config_is_dns_subdomain(cfg->entry_ingress_class))
		return lfail(ld, key_line(ld, top, "entryIngressClass"), "entryIngressClass \"%s\" "
		    "is not a valid IngressClass name (DNS-1123 subdomain)", cfg->entry_ingress_class);
	if (get_bool(ld, top, "routeSync", false, &cfg->route_sync) != 0 ||
	    get_host(ld, top, "clusterDomain", "cluster.local", &cfg->cluster_domain) != 0 ||
	    load_admins(ld, cfg, top) != 0 ||
	    load_entry_writers(ld, cfg, top) != 0 ||
	    get_template(ld, top, "tenantIngressClass", NULL, TMPL_OPTIONAL,
	    &cfg->tenant_ingress_class) != 0 ||
	    load_services(ld, cfg, top) != 0 ||
	    load_ingress(ld, cfg, top) != 0 ||
	    load_registries(ld, cfg, top) != 0 ||
	    load_baseline(ld, cfg, top) != 0 ||
	    get_enforcement(ld, top, "enforcement", &cfg->enforcement) != 0 ||
	    load_audit(ld, cfg, top) != 0 ||
	    load_tenants(ld, cfg, top) != 0)
		return -1;
	return finish(ld, cfg, top);
}

struct config *
config_load_buffer(const char *name, const char *buf, size_t len, char *err, size_t errsz)
{
	struct loader ld = { .name = name, .err = err, .errsz = errsz };
	struct config *cfg = NULL;
	json_t *docs;
	int rc = -1;

	docs = yamljson_load(name, buf, len, &ld.lines, err, errsz);
	if (docs == NULL)
		return NULL;
	size_t n = json_array_size(docs);
	json_t *top = json_array_get(docs, 0);
	if (n == 0 || json_is_null(top)) {
		lfail(&ld, 0, "the config is empty");
		goto out;
	}
	if (n > 1) {
		unsigned line = yamljson_line(ld.lines, json_array_get(docs, 1));
		lfail(&ld, line, "the config must be one document, not %zu", n);
		goto out;
	}
	if (!json_is_object(top)) {
		lfail(&ld, yamljson_line(ld.lines, top), "the config must be a mapping, not %s",
		    type_name(top));
		goto out;
	}
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
		lfail(&ld, 0, "out of memory");
		goto out;
	}
	/* Before the tenants: a reservation of a public suffix is refused at load. */
	if ((cfg->psl = psl_shared(err, errsz)) == NULL)
		goto out;
	rc = load_top(&ld, cfg, top);
out:
	if (rc != 0) {
		config_free(cfg);
		cfg = NULL;
	}
	json_decref(docs);
	yamljson_lines_free(ld.lines);
	return cfg;
}

/* metadata.creationTimestamp (RFC 3339 in UTC, so it sorts as text), then the name. */
static int
tenant_order(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
	const json_t *mx = json_object_get(x, "metadata"), *my = json_object_get(y, "metadata");
	const char *tx = json_string_value(json_object_get(mx, "creationTimestamp"));
	const char *ty = json_string_value(json_object_get(my, "creationTimestamp"));
	const char *nx = json_string_value(json_object_get(mx, "name"));
	const char *ny = json_string_value(json_object_get(my, "name"));
	int c = strcmp(tx ? tx : "", ty ? ty : "");
	return c != 0 ? c : strcmp(nx ? nx : "", ny ? ny : "");
}

/* Records why a Tenant object was left out; keyed by its name ("" when it has none). */
static int
reject(json_t *rejected, const json_t *obj, const char *why)
{
	const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"),
	    "name"));
	if (rejected == NULL)
		return 0;
	return json_object_set_new(rejected, name ? name : "", json_string(why));
}

/*
 * Adds the Tenant objects to a loaded file config, oldest first; each one that cannot be
 * added is reported in `rejected` and left out. -1 only when memory runs out.
 */
static int
merge_tenants(struct config *cfg, const json_t *tenants, json_t *rejected, char *err,
    size_t errsz)
{
	size_t n = json_array_size(tenants), i;
	const json_t **v = calloc(n ? n : 1, sizeof(*v));
	char why[512];
	int rc = 0;

	if (v == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++)
		v[i] = json_array_get(tenants, i);
	qsort(v, n, sizeof(*v), tenant_order);
	for (i = 0; i < n && rc == 0; i++) {
		struct tenant t = { 0 };
		if (tenantobj_read(cfg, v[i], &t, why, sizeof(why)) != 0 ||
		    config_add_tenant(cfg, &t, why, sizeof(why)) != 0) {
			if (strcmp(why, "out of memory") == 0) {
				snprintf(err, errsz, "out of memory");
				rc = -1;
			} else if (reject(rejected, v[i], why) != 0) {
				snprintf(err, errsz, "out of memory");
				rc = -1;
			}
		}
		config_tenant_clear(&t);
	}
	free(v);
	return rc;
}

struct config *
config_load_buffer_tenants(const char *name, const char *buf, size_t len,
    const json_t *tenants, json_t *rejected, char *err, size_t errsz)
{
	struct config *cfg = config_load_buffer(name, buf, len, err, errsz);

	if (cfg != NULL && tenants != NULL && merge_tenants(cfg, tenants, rejected, err,
	    errsz) != 0) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

struct config *
config_load_file_tenants(const char *path, const json_t *tenants, json_t *rejected,
    char *err, size_t errsz)
{
	struct config *cfg;
	size_t len = 0;
	char *buf = fileio_read(path, CONFIG_MAX_BYTES, &len, err, errsz);

	if (buf == NULL)
		return NULL;
	cfg = config_load_buffer_tenants(path, buf, len, tenants, rejected, err, errsz);
	free(buf);
	return cfg;
}

struct config *
config_load_default_tenants(const json_t *tenants, json_t *rejected, char *err, size_t errsz)
{
	return config_load_buffer_tenants("built-in default", config_default_yaml,
	    sizeof(config_default_yaml) - 1, tenants, rejected, err, errsz);
}

struct config *
config_load_file(const char *path, char *err, size_t errsz)
{
	return config_load_file_tenants(path, NULL, NULL, err, errsz);
}

struct config *
config_load_default(char *err, size_t errsz)
{
	return config_load_default_tenants(NULL, NULL, err, errsz);
}
