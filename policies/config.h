/* SPDX-License-Identifier: Apache-2.0 */
/* config: the validated, immutable policy configuration (DESIGN §6) and pure lookups on it. */
#ifndef TG_CONFIG_H
#define TG_CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "enforce.h"

struct claims;
struct psl;
struct strmap;

enum unregistered_mode { UNREGISTERED_FIRST_COME, UNREGISTERED_DENY };
enum external_name_public { EXTNAME_PUBLIC_ALLOW, EXTNAME_PUBLIC_DENY };

/* An IPv4 or IPv6 prefix from services.externalIPCIDRs. */
struct cidr {
	int           family;   /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned      prefix;
};

/*
 * A "{tenant}" template split once at load: prefix + tenant + suffix (both owned, either may
 * be ""). A plain name without "{tenant}" (only tenantIngressClass allows one) has
 * suffix == NULL and expands to prefix for every tenant. prefix == NULL: no template at all
 * (tenantIngressClass absent: not enforced).
 */
struct name_template {
	char *prefix;
	char *suffix;
};

struct quota_item {
	char *resource;   /* e.g. "requests.cpu" */
	char *quantity;   /* e.g. "5", "4Gi" */
};

struct tenant {
	char              *name;
	char             **custom_domains;     /* normalised patterns */
	size_t             n_custom_domains;
	char              *ingress_class;      /* NULL: tenantIngressClass, if any */
	char             **backend_namespaces; /* extra namespaces it may route to */
	size_t             n_backend_namespaces;
	/* NULL: baseline.resourceQuota. Else complete: the baseline with the tenant's own
	 * resourceQuota entries replacing or adding resources (merged at load). */
	struct quota_item *quota;
	size_t             n_quota;
	char             **registry_namespaces; /* registry (Nacos) namespaces it owns; none
	                                         * listed: the one named like the tenant */
	size_t             n_registry_namespaces;
	bool               from_object;        /* from a Tenant object, not the config file */
	struct enforcement enforcement;        /* tenants[].enforcement / spec.enforcement */
};

struct config {
	char                  *system_domain;      /* normalised */
	char                  *entry_namespace;
	struct name_template   tenant_namespace;   /* "{tenant}-gateway" */
	enum unregistered_mode unregistered;
	char                  *system_cert_secret;
	struct name_template   tenant_cert_secret; /* "{tenant}-custom-cert" */
	int                    gateway_port;
	char                  *cluster_domain;
	char                 **admin_groups;
	size_t                 n_admin_groups;
	char                 **admin_users;
	size_t                 n_admin_users;
	/* entryWriters.secrets: may write Secrets in the entry namespace (cert-manager) */
	char                 **entry_secret_writer_users;
	size_t                 n_entry_secret_writer_users;
	char                 **entry_secret_writer_groups;
	size_t                 n_entry_secret_writer_groups;
	struct name_template   tenant_ingress_class; /* prefix NULL: not enforced */
	char                 **service_types;        /* allowed in tenant namespaces */
	size_t                 n_service_types;
	struct cidr           *external_ip_cidrs;    /* host bits are zero */
	size_t                 n_external_ip_cidrs;
	enum external_name_public external_name_public;
	struct quota_item     *quota;                /* baseline.resourceQuota */
	size_t                 n_quota;
	bool                   route_sync;           /* routeSync: one Ingress per tenant */
	char                  *entry_ingress_class;  /* the unified entry's class (nginx) */
	/* ingress.deniedAnnotations / ingress.allowedAnnotations: glob patterns over annotation
	 * keys, on top of (and exempting from) the built-in ingress-nginx snippet patterns. */
	char                 **denied_annotations;
	size_t                 n_denied_annotations;
	char                 **allowed_annotations;
	size_t                 n_allowed_annotations;
	char                 **registry_types;       /* registries.allowedTypes: McpBridge types */
	size_t                 n_registry_types;
	struct enforcement     enforcement;          /* enforcement: {default, rules} */
	unsigned               audit_interval;       /* audit.interval, seconds (serve) */
	struct tenant         *tenants;              /* the file's tenants, then Tenant objects */
	size_t                 n_tenants;

	/* Derived at load, owned here. */
	struct strmap         *tenant_by_name;  /* name -> index + 1 into tenants */
	struct claims         *reservations;    /* customDomains, owner = tenant index */
	const struct psl      *psl;             /* public suffixes (borrowed); NULL: unchecked */
	uint64_t               generation;      /* set by whoever installs the config */
};

/* Frees everything the config owns; NULL is fine. */
void config_free(struct config *cfg);

/* The tenant called `name`, or NULL (borrowed). */
const struct tenant *config_tenant(const struct config *cfg, const char *name);
/* Index of t in cfg->tenants. */
uint32_t config_tenant_index(const struct config *cfg, const struct tenant *t);

/*
 * If `value` fits template t with a non-empty {tenant} part, copies that part into out and
 * returns true. Always false for a plain or absent template: it names no tenant.
 */
bool template_match(const struct name_template *t, const char *value, char *out, size_t outsz);
/*
 * Expands template t for `tenant` into out (a plain template gives its name); returns false
 * if it does not fit or t is absent.
 */
bool template_expand(const struct name_template *t, const char *tenant, char *out, size_t outsz);

/*
 * The IngressClass tenant t's Ingresses must use (its ingressClass, else tenantIngressClass
 * expanded) into out; false when none is configured.
 */
bool config_tenant_class(const struct config *cfg, const struct tenant *t, char *out,
    size_t outsz);

/* True when registry namespace `ns` is tenant t's (its registryNamespaces, else its name). */
bool config_tenant_registry_ns(const struct tenant *t, const char *ns);
/*
 * The first registry namespace tenant t would own that a tenant of cfg other than the one
 * called t->name owns already, or NULL (borrowed from t).
 */
const char *config_registry_ns_taken(const struct config *cfg, const struct tenant *t);

/* The tenant whose namespace is `ns` (by name, never by label), or NULL. */
const struct tenant *config_namespace_tenant(const struct config *cfg, const char *ns);
/* True when `user`, or one of the `n_groups` groups, is configured as an admin. */
bool config_is_admin(const struct config *cfg, const char *user, const char *const *groups,
    size_t n_groups);
/* True when `user` or one of its groups is in entryWriters.secrets. */
bool config_is_entry_secret_writer(const struct config *cfg, const char *user,
    const char *const *groups, size_t n_groups);

/*
 * Finishes a config whose plain fields are filled: builds the lookup tables and checks the
 * cross-field rules (tenant names, overlapping reservations, reservations under the system
 * domain). 0, or -1 with a sentence in err.
 */
int config_finish(struct config *cfg, char *err, size_t errsz);

/* Where config_finish_where found its fault, in config-file terms. */
struct config_where {
	size_t      tenant;  /* index into cfg->tenants; SIZE_MAX: not one tenant's */
	const char *key;     /* its list at fault: "customDomains", "backendNamespaces" or NULL */
	size_t      item;    /* index into that list */
};

/*
 * config_finish, also reporting which tenant entry (and list item) is at fault so a loader
 * can point at its source line. `where` may be NULL. Also normalises system_domain and
 * every custom domain in place (the strings may be replaced).
 */
int config_finish_where(struct config *cfg, struct config_where *where, char *err,
    size_t errsz);

/*
 * Adds tenant *t to a finished config, with the checks config_finish applies to a file
 * tenant (names, domains normalised in place, none under the system domain, no overlap with
 * another tenant's reservation) and none of an existing tenant's name. On success the config
 * takes t's contents (and t is zeroed); on -1 they stay t's (config_tenant_clear) and err
 * holds one sentence. The tenants array may move: pointers into it are then stale.
 */
int config_add_tenant(struct config *cfg, struct tenant *t, char *err, size_t errsz);

/* Frees what a tenant owns and zeroes it. */
void config_tenant_clear(struct tenant *t);

/*
 * Checks the names a tenant implies (its own, its namespace, gateway Service, bridge target,
 * certificate Secret, ingress class) and its backend namespaces; a bad backend namespace's
 * index goes to *bad (may be NULL). 0, or -1 with a sentence in err.
 */
int config_check_tenant_names(const struct config *cfg, const struct tenant *t, size_t *bad,
    char *err, size_t errsz);

enum config_domain_fault {
	DOMAIN_OK,
	DOMAIN_INVALID,   /* not a DNS name or wildcard pattern */
	DOMAIN_SYSTEM,    /* the system domain, under it, or covering it */
	DOMAIN_RESERVED,  /* overlaps another tenant's reservation */
	DOMAIN_PUBLIC,    /* a public suffix ("io", "co.uk") or a wildcard over one: every
	                   * registrable domain under it, everyone's */
};

/*
 * Normalises custom domain `pattern` into norm and checks it as a reservation of the tenant
 * with index `self` (CLAIMS_NO_OWNER: one not in cfg yet). DOMAIN_INVALID sets *why;
 * DOMAIN_RESERVED sets *other to the index of the tenant it overlaps.
 */
enum config_domain_fault config_check_domain(const struct config *cfg, const char *pattern,
    uint32_t self, char *norm, size_t normsz, const char **why, uint32_t *other);

/*
 * Sets `resource` to `quantity` in the growable quota list (*q, *n, capacity *cap),
 * replacing an existing entry. May reallocate. 0, or -1 when out of memory.
 */
int config_quota_set(struct quota_item **q, size_t *n, size_t *cap, const char *resource,
    const char *quantity);
/* Kubernetes resource.Quantity syntax, unsigned: digits[.digits] then a suffix or exponent. */
bool config_is_quantity(const char *s);
/* A resource name as ResourceQuota takes it: "requests.cpu", "count/pods", "x.io/gpu". */
bool config_is_resource_name(const char *s);

/* True for a DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters. */
bool config_is_dns_label(const char *s);
/* True for a DNS-1123 subdomain: dot-separated labels, at most 253 characters. */
bool config_is_dns_subdomain(const char *s);

#endif
