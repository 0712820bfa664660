/* SPDX-License-Identifier: Apache-2.0 */
/* config: lookups on the immutable configuration and the cross-field checks that finish it. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "host.h"
#include "psl.h"
#include "strmap.h"

static void
free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
free_quota(struct quota_item *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(q[i].resource);
		free(q[i].quantity);
	}
	free(q);
}

static void
free_template(struct name_template *t)
{
	free(t->prefix);
	free(t->suffix);
	t->prefix = t->suffix = NULL;
}

void
config_tenant_clear(struct tenant *t)
{
	free(t->name);
	free_strv(t->custom_domains, t->n_custom_domains);
	free(t->ingress_class);
	free_strv(t->backend_namespaces, t->n_backend_namespaces);
	free_quota(t->quota, t->n_quota);
	free_strv(t->registry_namespaces, t->n_registry_namespaces);
	memset(t, 0, sizeof(*t));
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->system_domain);
	free(cfg->entry_namespace);
	free_template(&cfg->tenant_namespace);
	free(cfg->system_cert_secret);
	free(cfg->entry_ingress_class);
	free_strv(cfg->denied_annotations, cfg->n_denied_annotations);
	free_strv(cfg->allowed_annotations, cfg->n_allowed_annotations);
	free_template(&cfg->tenant_cert_secret);
	free(cfg->cluster_domain);
	free_strv(cfg->admin_groups, cfg->n_admin_groups);
	free_strv(cfg->admin_users, cfg->n_admin_users);
	free_strv(cfg->entry_secret_writer_users, cfg->n_entry_secret_writer_users);
	free_strv(cfg->entry_secret_writer_groups, cfg->n_entry_secret_writer_groups);
	free_template(&cfg->tenant_ingress_class);
	free_strv(cfg->service_types, cfg->n_service_types);
	free_strv(cfg->registry_types, cfg->n_registry_types);
	free(cfg->external_ip_cidrs);
	free_quota(cfg->quota, cfg->n_quota);
	for (size_t i = 0; i < cfg->n_tenants; i++)
		config_tenant_clear(&cfg->tenants[i]);
	free(cfg->tenants);
	strmap_free(cfg->tenant_by_name);
	claims_free(cfg->reservations);
	free(cfg);
}

const struct tenant *
config_tenant(const struct config *cfg, const char *name)
{
	if (cfg->tenant_by_name == NULL || name == NULL)
		return NULL;
	/* An index, not a pointer: config_add_tenant may move the array. */
	uintptr_t id = (uintptr_t)strmap_get(cfg->tenant_by_name, name);
	return id == 0 ? NULL : &cfg->tenants[id - 1];
}

uint32_t
config_tenant_index(const struct config *cfg, const struct tenant *t)
{
	return (uint32_t)(t - cfg->tenants);
}

bool
template_match(const struct name_template *t, const char *value, char *out, size_t outsz)
{
	/* A plain template (no {tenant}) names no tenant, so there is nothing to extract. */
	if (t->prefix == NULL || t->suffix == NULL || value == NULL)
		return false;
	size_t pl = strlen(t->prefix), sl = strlen(t->suffix), vl = strlen(value);
	if (vl <= pl + sl || strncmp(value, t->prefix, pl) != 0 ||
	    memcmp(value + vl - sl, t->suffix, sl) != 0)
		return false;
	size_t n = vl - pl - sl;
	if (n >= outsz)
		return false;
	memcpy(out, value + pl, n);
	out[n] = '\0';
	return true;
}

bool
template_expand(const struct name_template *t, const char *tenant, char *out, size_t outsz)
{
	if (t->prefix == NULL)
		return false;
	int n = t->suffix == NULL ? snprintf(out, outsz, "%s", t->prefix) :
	    snprintf(out, outsz, "%s%s%s", t->prefix, tenant, t->suffix);
	return n >= 0 && (size_t)n < outsz;
}

bool
config_tenant_class(const struct config *cfg, const struct tenant *t, char *out, size_t outsz)
{
	if (t->ingress_class != NULL) {
		int n = snprintf(out, outsz, "%s", t->ingress_class);
		return n >= 0 && (size_t)n < outsz;
	}
	return template_expand(&cfg->tenant_ingress_class, t->name, out, outsz);
}

bool
config_tenant_registry_ns(const struct tenant *t, const char *ns)
{
	if (t->n_registry_namespaces == 0)
		return strcmp(t->name, ns) == 0;
	for (size_t i = 0; i < t->n_registry_namespaces; i++)
		if (strcmp(t->registry_namespaces[i], ns) == 0)
			return true;
	return false;
}

/* The i-th registry namespace tenant t owns (its name when it lists none). */
static const char *
registry_ns_at(const struct tenant *t, size_t i)
{
	return t->n_registry_namespaces == 0 ? t->name : t->registry_namespaces[i];
}

static size_t
registry_ns_count(const struct tenant *t)
{
	return t->n_registry_namespaces == 0 ? 1 : t->n_registry_namespaces;
}

const char *
config_registry_ns_taken(const struct config *cfg, const struct tenant *t)
{
	for (size_t j = 0; j < registry_ns_count(t); j++)
		for (size_t k = 0; k < cfg->n_tenants; k++) {
			const struct tenant *o = &cfg->tenants[k];
			if (o->name != NULL && strcmp(o->name, t->name) != 0 &&
			    config_tenant(cfg, o->name) == o &&
			    config_tenant_registry_ns(o, registry_ns_at(t, j)))
				return registry_ns_at(t, j);
		}
	return NULL;
}

const struct tenant *
config_namespace_tenant(const struct config *cfg, const char *ns)
{
	char name[HOST_MAX];

	if (!template_match(&cfg->tenant_namespace, ns, name, sizeof(name)))
		return NULL;
	return config_tenant(cfg, name);
}

static bool
in_list(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

bool
config_is_admin(const struct config *cfg, const char *user, const char *const *groups,
    size_t n_groups)
{
	/* Admin lists are a handful of names; a scan is cheaper than a map here. */
	if (user != NULL && in_list(cfg->admin_users, cfg->n_admin_users, user))
		return true;
	for (size_t i = 0; i < n_groups; i++)
		if (groups[i] != NULL && in_list(cfg->admin_groups, cfg->n_admin_groups, groups[i]))
			return true;
	return false;
}

bool
config_is_entry_secret_writer(const struct config *cfg, const char *user,
    const char *const *groups, size_t n_groups)
{
	if (user != NULL &&
	    in_list(cfg->entry_secret_writer_users, cfg->n_entry_secret_writer_users, user))
		return true;
	for (size_t i = 0; i < n_groups; i++)
		if (groups[i] != NULL && in_list(cfg->entry_secret_writer_groups,
		    cfg->n_entry_secret_writer_groups, groups[i]))
			return true;
	return false;
}

int
config_quota_set(struct quota_item **q, size_t *n, size_t *cap, const char *resource,
    const char *quantity)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*q)[i].resource, resource) == 0) {
			char *s = strdup(quantity);
			if (s == NULL)
				return -1;
			free((*q)[i].quantity);
			(*q)[i].quantity = s;
			return 0;
		}
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		struct quota_item *nq = realloc(*q, ncap * sizeof(*nq));
		if (nq == NULL)
			return -1;
		*q = nq;
		*cap = ncap;
	}
	struct quota_item *it = &(*q)[*n];
	it->resource = strdup(resource);
	it->quantity = it->resource ? strdup(quantity) : NULL;
	if (it->quantity == NULL) {
		free(it->resource);
		return -1;
	}
	(*n)++;
	return 0;
}

bool
config_is_quantity(const char *s)
{
	const char *p = s;
	size_t digits = 0;

	if (*p == '+')
		p++;
	while ((*p >= '0' && *p <= '9') || *p == '.') {
		if (*p != '.')
			digits++;
		p++;
	}
	if (digits == 0 || strchr(s, '.') != strrchr(s, '.'))
		return false;
	static const char *const suffixes[] = {
		"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E",
	};
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(*suffixes); i++)
		if (strcmp(p, suffixes[i]) == 0)
			return true;
	if (*p != 'e' && *p != 'E')
		return false;
	p++;
	if (*p == '+' || *p == '-')
		p++;
	if (*p == '\0')
		return false;
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

bool
config_is_resource_name(const char *s)
{
	if (*s == '\0' || strlen(s) > 253)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' || *s == '/' || *s == '_'))
			return false;
	return true;
}

bool
config_is_dns_label(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && !(c == '-' && i > 0 && i < n - 1))
			return false;
	}
	return true;
}

bool
config_is_dns_subdomain(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 253)
		return false;
	char label[64];
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		size_t len = i - start;
		if (len == 0 || len > 63)
			return false;
		memcpy(label, s + start, len);
		label[len] = '\0';
		if (!config_is_dns_label(label))
			return false;
		start = i + 1;
	}
	return true;
}

/* Services must carry DNS-1035 names: a DNS-1123 label that starts with a letter. */
static bool
is_dns1035_label(const char *s)
{
	return config_is_dns_label(s) && s[0] >= 'a' && s[0] <= 'z';
}

static void
set_where(struct config_where *w, size_t tenant, const char *key, size_t item)
{
	if (w != NULL) {
		w->tenant = tenant;
		w->key = key;
		w->item = item;
	}
}

/* The first of t's reservations that overlaps `pattern`; only ever called after a hit. */
static const char *
overlapping_domain(const struct tenant *t, const char *pattern)
{
	for (size_t i = 0; i < t->n_custom_domains; i++)
		if (host_overlap(t->custom_domains[i], pattern))
			return t->custom_domains[i];
	return "?";
}

/*
 * Checks that every name a tenant implies is one Kubernetes accepts, and that its backend
 * namespaces stay its own; a bad backend namespace is reported through *bad.
 */
int
config_check_tenant_names(const struct config *cfg, const struct tenant *t, size_t *bad,
    char *err, size_t errsz)
{
	char buf[512];

	if (!config_is_dns_label(t->name)) {
		snprintf(err, errsz, "tenant name \"%s\" is not a DNS-1123 label "
		    "(lower-case a-z, 0-9 and '-', at most 63 characters)", t->name);
		return -1;
	}
	/* The gateway Service and the entry bridge are both named "{tenant}-gateway". */
	int n = snprintf(buf, sizeof(buf), "%s-gateway", t->name);
	if (n < 0 || (size_t)n >= sizeof(buf) || !is_dns1035_label(buf)) {
		snprintf(err, errsz, "tenant name \"%s\" does not make a valid Service name "
		    "\"%s-gateway\" (must start with a letter, at most 63 characters)", t->name,
		    t->name);
		return -1;
	}
	char ns[256];
	if (!template_expand(&cfg->tenant_namespace, t->name, ns, sizeof(ns)) ||
	    !config_is_dns_label(ns)) {
		snprintf(err, errsz, "tenant \"%s\": tenantNamespace gives \"%s\", which is not a "
		    "DNS-1123 label", t->name, ns);
		return -1;
	}
	if (cfg->entry_namespace != NULL && strcmp(ns, cfg->entry_namespace) == 0) {
		snprintf(err, errsz, "tenant \"%s\": its namespace \"%s\" is the entry namespace",
		    t->name, ns);
		return -1;
	}
	if (cfg->cluster_domain != NULL) {
		n = snprintf(buf, sizeof(buf), "%s-gateway.%s.svc.%s", t->name, ns,
		    cfg->cluster_domain);
		if (n < 0 || (size_t)n > 253) {
			snprintf(err, errsz, "tenant \"%s\": bridge target \"%s-gateway.%s.svc.%s\" "
			    "is longer than 253 characters", t->name, t->name, ns, cfg->cluster_domain);
			return -1;
		}
	}
	if (cfg->tenant_cert_secret.prefix != NULL &&
	    (!template_expand(&cfg->tenant_cert_secret, t->name, buf, sizeof(buf)) ||
	    !config_is_dns_subdomain(buf))) {
		snprintf(err, errsz, "tenant \"%s\": tenantCertSecret gives an invalid Secret "
		    "name", t->name);
		return -1;
	}
	const char *cls = t->ingress_class;
	if (cls == NULL && cfg->tenant_ingress_class.prefix != NULL) {
		if (!template_expand(&cfg->tenant_ingress_class, t->name, buf, sizeof(buf)))
			buf[0] = '\0';
		cls = buf;
	}
	if (cls != NULL && !config_is_dns_subdomain(cls)) {
		snprintf(err, errsz, "tenant \"%s\": ingress class \"%s\" is not a valid "
		    "IngressClass name", t->name, cls);
		return -1;
	}
	/* The entry's controller is shared by every tenant: no tenant may be served by it. */
	if (cls != NULL && cfg->entry_ingress_class != NULL &&
	    strcmp(cls, cfg->entry_ingress_class) == 0) {
		snprintf(err, errsz, "tenant \"%s\": ingress class \"%s\" is entryIngressClass, "
		    "the unified entry's class; give tenants their own", t->name, cls);
		return -1;
	}
	for (size_t i = 0; i < t->n_backend_namespaces; i++) {
		const char *b = t->backend_namespaces[i];
		char other[256];

		if (bad != NULL)
			*bad = i;
		if (!config_is_dns_label(b)) {
			snprintf(err, errsz, "tenant \"%s\": backend namespace \"%s\" is not a "
			    "DNS-1123 label", t->name, b);
			return -1;
		}
		/*
		 * Routing into the entry namespace or another tenant's namespace would cross the
		 * isolation the webhook exists for; a tenant added later must not inherit it.
		 */
		if (cfg->entry_namespace != NULL && strcmp(b, cfg->entry_namespace) == 0) {
			snprintf(err, errsz, "tenant \"%s\": backend namespace \"%s\" is the entry "
			    "namespace", t->name, b);
			return -1;
		}
		if (template_match(&cfg->tenant_namespace, b, other, sizeof(other)) &&
		    strcmp(other, t->name) != 0) {
			snprintf(err, errsz, "tenant \"%s\": backend namespace \"%s\" is the "
			    "namespace of tenant \"%s\"", t->name, b, other);
			return -1;
		}
	}
	return 0;
}

/* True when pattern p shares a host with the system domain or anything below it. */
static bool
touches_system(const char *p, const char *sd)
{
	char wild_sd[HOST_MAX + 2];
	snprintf(wild_sd, sizeof(wild_sd), "*.%s", sd);
	return host_overlap(p, sd) || host_overlap(p, wild_sd);
}

enum config_domain_fault
config_check_domain(const struct config *cfg, const char *pattern, uint32_t self, char *norm,
    size_t normsz, const char **why, uint32_t *other)
{
	if (host_normalize(pattern, norm, normsz, why) != 0)
		return DOMAIN_INVALID;
	if (touches_system(norm, cfg->system_domain))
		return DOMAIN_SYSTEM;
	if (cfg->psl != NULL && psl_is_suffix(cfg->psl, host_is_wildcard(norm) ? norm + 2 : norm))
		return DOMAIN_PUBLIC;
	if (claims_find(cfg->reservations, norm, CLAIMS_OVERLAP, self, other, 1) > 0)
		return DOMAIN_RESERVED;
	return DOMAIN_OK;
}

/*
 * Checks tenant `idx` against the tenants before it (their names and reservations are
 * indexed) and normalises its domains in place; nothing is indexed yet. 0 or -1.
 */
static int
tenant_check(struct config *cfg, size_t idx, struct config_where *where, char *err,
    size_t errsz)
{
	struct tenant *t = &cfg->tenants[idx];
	char norm[HOST_MAX];
	const char *why = NULL;
	size_t bad = SIZE_MAX;
	uint32_t other;

	if (t->name == NULL) {
		snprintf(err, errsz, "tenant %zu has no name", idx + 1);
		set_where(where, idx, NULL, 0);
		return -1;
	}
	if (config_check_tenant_names(cfg, t, &bad, err, errsz) != 0) {
		set_where(where, idx, bad == SIZE_MAX ? NULL : "backendNamespaces", bad);
		return -1;
	}
	const struct tenant *dup = config_tenant(cfg, t->name);
	if (dup != NULL) {
		snprintf(err, errsz, "tenant \"%s\" %s", t->name,
		    dup->from_object == t->from_object ? "is listed twice" :
		    "is defined in both the config file and a Tenant object");
		set_where(where, idx, NULL, 0);
		return -1;
	}
	/* A registry namespace holds one tenant's services: it may not be another's too. */
	const char *taken = config_registry_ns_taken(cfg, t);
	if (taken != NULL) {
		snprintf(err, errsz, "tenant \"%s\": registry namespace \"%s\" is another "
		    "tenant's", t->name, taken);
		set_where(where, idx, NULL, 0);
		return -1;
	}
	for (size_t j = 0; j < t->n_custom_domains; j++) {
		const char *d = t->custom_domains[j];
		enum config_domain_fault f = config_check_domain(cfg, d, (uint32_t)idx, norm,
		    sizeof(norm), &why, &other);
		set_where(where, idx, "customDomains", j);
		if (f == DOMAIN_INVALID) {
			snprintf(err, errsz, "tenant \"%s\": customDomain \"%s\" %s", t->name, d, why);
			return -1;
		}
		if (strcmp(norm, d) != 0) {
			char *s = strdup(norm);
			if (s == NULL) {
				snprintf(err, errsz, "out of memory");
				return -1;
			}
			free(t->custom_domains[j]);
			t->custom_domains[j] = s;
		}
		d = t->custom_domains[j];
		if (f == DOMAIN_SYSTEM) {
			snprintf(err, errsz, "tenant \"%s\": customDomain \"%s\" %s the system "
			    "domain \"%s\", which belongs to the platform", t->name, d,
			    host_covers(d, cfg->system_domain) ? "covers" :
			    strcmp(d, cfg->system_domain) == 0 ? "is" : "falls under",
			    cfg->system_domain);
			return -1;
		}
		if (f == DOMAIN_PUBLIC) {
			snprintf(err, errsz, "tenant \"%s\": customDomain \"%s\" %s the public "
			    "suffix \"%s\", which would give one tenant everybody's domains under it; "
			    "reserve a registered domain", t->name, d, host_is_wildcard(d) ?
			    "spans every domain under" : "is", host_is_wildcard(d) ? d + 2 : d);
			return -1;
		}
		if (f == DOMAIN_RESERVED) {
			const struct tenant *o = &cfg->tenants[other];
			snprintf(err, errsz, "tenant \"%s\": customDomain \"%s\" overlaps "
			    "\"%s\" reserved by tenant \"%s\"", t->name, d,
			    overlapping_domain(o, d), o->name);
			return -1;
		}
	}
	set_where(where, SIZE_MAX, NULL, 0);
	return 0;
}

/* Indexes tenant `idx` (checked) by name and reservations; on failure indexes nothing. */
static int
tenant_index(struct config *cfg, size_t idx, char *err, size_t errsz)
{
	struct tenant *t = &cfg->tenants[idx];
	size_t j;

	if (strmap_set(cfg->tenant_by_name, t->name, (void *)(uintptr_t)(idx + 1)) != 0)
		goto nomem;
	for (j = 0; j < t->n_custom_domains; j++)
		if (claims_add(cfg->reservations, t->custom_domains[j], (uint32_t)idx) != 0)
			break;
	if (j == t->n_custom_domains)
		return 0;
	while (j-- > 0)
		claims_remove(cfg->reservations, t->custom_domains[j], (uint32_t)idx);
	strmap_del(cfg->tenant_by_name, t->name);
nomem:
	snprintf(err, errsz, "out of memory");
	return -1;
}

int
config_finish_where(struct config *cfg, struct config_where *where, char *err, size_t errsz)
{
	char norm[HOST_MAX];
	const char *why = NULL;

	set_where(where, SIZE_MAX, NULL, 0);
	strmap_free(cfg->tenant_by_name);
	claims_free(cfg->reservations);
	cfg->tenant_by_name = NULL;
	cfg->reservations = NULL;

	if (cfg->system_domain == NULL ||
	    host_normalize(cfg->system_domain, norm, sizeof(norm), &why) != 0 ||
	    host_is_wildcard(norm)) {
		snprintf(err, errsz, "systemDomain \"%s\" %s", cfg->system_domain ?
		    cfg->system_domain : "", why ? why : "must be a host name, not a pattern");
		return -1;
	}
	if (strcmp(norm, cfg->system_domain) != 0) {
		char *s = strdup(norm);
		if (s == NULL)
			goto nomem;
		free(cfg->system_domain);
		cfg->system_domain = s;
	}
	if (cfg->tenant_namespace.prefix == NULL || cfg->tenant_namespace.suffix == NULL) {
		snprintf(err, errsz, "tenantNamespace must contain {tenant}");
		return -1;
	}
	if (cfg->n_tenants > CLAIMS_NO_OWNER - 1) {
		snprintf(err, errsz, "too many tenants");
		return -1;
	}
	cfg->tenant_by_name = strmap_new();
	cfg->reservations = claims_new();
	if (cfg->tenant_by_name == NULL || cfg->reservations == NULL)
		goto nomem;

	for (size_t i = 0; i < cfg->n_tenants; i++)
		if (tenant_check(cfg, i, where, err, errsz) != 0 ||
		    tenant_index(cfg, i, err, errsz) != 0)
			return -1;
	return 0;
nomem:
	snprintf(err, errsz, "out of memory");
	return -1;
}

int
config_add_tenant(struct config *cfg, struct tenant *t, char *err, size_t errsz)
{
	size_t idx = cfg->n_tenants;

	if (idx >= CLAIMS_NO_OWNER - 1) {
		snprintf(err, errsz, "too many tenants");
		return -1;
	}
	struct tenant *grown = realloc(cfg->tenants, (idx + 1) * sizeof(*grown));
	if (grown == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	cfg->tenants = grown;
	grown[idx] = *t;
	/* Checked in place (domains are normalised there), counted only once indexed. */
	if (tenant_check(cfg, idx, NULL, err, errsz) != 0 ||
	    tenant_index(cfg, idx, err, errsz) != 0) {
		*t = grown[idx];
		return -1;
	}
	cfg->n_tenants++;
	memset(t, 0, sizeof(*t));
	return 0;
}

int
config_finish(struct config *cfg, char *err, size_t errsz)
{
	return config_finish_where(cfg, NULL, err, errsz);
}
