/* SPDX-License-Identifier: Apache-2.0 */
/* rules_annotation: Ingress annotations that program a shared controller or reach another namespace. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "host.h"
#include "owner.h"
#include "policy.h"
#include "rules.h"

/*
 * Always refused outside the entry namespace: ingress-nginx's *-snippet annotations (and
 * NGINX Inc's *-snippets) paste raw nginx configuration into the controller every tenant
 * shares (CVE-2021-25742, CVE-2023-5044; the IngressNightmare family). Matched on the whole
 * key, so a controller started with another --annotations-prefix is covered too.
 */
static const char *const builtin_denied[] = { "*-snippet", "*-snippets" };

/* The prefixes under which Higress reads its annotations (ParseStringASAP: both). */
static const char *const ref_prefixes[] = { "higress.io/", "nginx.ingress.kubernetes.io/" };

/*
 * Annotations whose value names a Service or a Secret as "[namespace/]name[:port]" (Higress
 * util.ParseServiceInfo / SplitNamespacedName; ingress-nginx reads the Secret ones the same
 * way). A namespace part is a reach into that namespace.
 */
static const char *const ref_names[] = {
	"mirror-target-service", "default-backend", "proxy-ssl-secret", "auth-tls-secret",
	"auth-secret",
};

/* Glob match, '*' any run (also across '/' and '.'), '?' one character, ASCII case-folded. */
static bool
glob_match(const char *g, const char *s)
{
	const char *star = NULL, *resume = NULL;
	while (*s != '\0') {
		char a = *g >= 'A' && *g <= 'Z' ? (char)(*g - 'A' + 'a') : *g;
		char b = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
		if (*g == '*') {
			star = g++;
			resume = s;
		} else if (*g != '\0' && (*g == '?' || a == b)) {
			g++;
			s++;
		} else if (star != NULL) {
			g = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*g == '*')
		g++;
	return *g == '\0';
}

static bool
glob_any(char *const *globs, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (glob_match(globs[i], key))
			return true;
	return false;
}

/* The first pattern refusing `key`, or NULL when it is allowed. */
static const char *
denied_by(const struct config *cfg, const char *key)
{
	const char *hit = NULL;
	for (size_t i = 0; i < sizeof(builtin_denied) / sizeof(*builtin_denied) && !hit; i++)
		if (glob_match(builtin_denied[i], key))
			hit = builtin_denied[i];
	for (size_t i = 0; i < cfg->n_denied_annotations && !hit; i++)
		if (glob_match(cfg->denied_annotations[i], key))
			hit = cfg->denied_annotations[i];
	if (hit != NULL && glob_any(cfg->allowed_annotations, cfg->n_allowed_annotations, key))
		return NULL;
	return hit;
}

static void
reach_violation(struct rule_ctx *ctx, const char *key, const char *ns)
{
	rules_violation(ctx, RULE_BACKEND_NAMESPACE, ns, "annotation %s targets namespace '%s'; "
	    "tenant %s may route only to its own namespace%s", key, ns, ctx->tenant->name,
	    ctx->tenant->n_backend_namespaces ? " and its configured backendNamespaces" : "");
}

/*
 * Higress resolves names ending in a registry type through the tenant's own McpBridge
 * registries ("svc.GROUP.ns-id.nacos", "name.static", "name.dns"), not through cluster DNS;
 * what those may reach is the registry-namespace rule's business.
 */
static const char *const registry_suffixes[] = {
	"nacos", "nacos2", "nacos3", "consul", "zookeeper", "eureka", "static", "dns",
};

/* A cluster name that host (normalised) gives, checked against what the tenant may reach. */
static void
check_cluster_host(struct rule_ctx *ctx, const char *key, const char *host, bool registries)
{
	char ns[64];
	const char *tld = strrchr(host, '.');
	for (size_t i = 0; registries && tld && i < sizeof(registry_suffixes) /
	    sizeof(*registry_suffixes); i++)
		if (strcmp(tld + 1, registry_suffixes[i]) == 0)
			return;
	switch (owner_cluster_name(ctx->cfg, host, ns, sizeof(ns))) {
	case CLUSTER_NAME_NS:
		if (!owner_backend_ns_allowed(ctx, ns))
			reach_violation(ctx, key, ns);
		return;
	case CLUSTER_NAME_OTHER:
		rules_violation(ctx, RULE_BACKEND_NAMESPACE, host, "annotation %s targets '%s', a "
		    "cluster-internal name outside tenant %s's namespaces; use "
		    "<service>.<namespace>.svc.%s", key, host, ctx->tenant->name,
		    ctx->cfg->cluster_domain);
		return;
	case CLUSTER_NAME_OWN:
	case CLUSTER_NAME_PUBLIC:
		return;
	}
}

/*
 * The address of one higress.io/destination line ("[NN%] host[:port] [subset]"), normalised
 * into host; false when it is not a host name.
 */
static bool
destination_host(const char *line, size_t len, char *host, size_t hostsz)
{
	char target[HOST_MAX + 16];
	const char *why, *pct = memchr(line, '%', len);
	size_t n = 0;
	if (pct != NULL) {
		len -= (size_t)(pct + 1 - line);
		line = pct + 1;
	}
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	/* The address is the first field; a subset may follow it. */
	while (n < len && line[n] != ' ' && line[n] != '\t' && line[n] != '\r')
		n++;
	if (n == 0 || n >= sizeof(target))
		return false;
	memcpy(target, line, n);
	target[n] = '\0';
	char *colon = strrchr(target, ':');
	if (colon != NULL)
		*colon = '\0';
	return host_normalize(target, host, hostsz, &why) == 0 && !host_is_wildcard(host);
}

static void
check_destination(struct rule_ctx *ctx, const char *dest)
{
	char host[HOST_MAX];
	for (const char *p = dest; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (destination_host(p, len, host, sizeof(host)))
			check_cluster_host(ctx, "higress.io/destination", host, true);
		p += len + (nl ? 1 : 0);
	}
}

/* "[namespace/]name[:port]": the namespace part, if any, must be one the tenant may reach. */
static void
check_namespaced_ref(struct rule_ctx *ctx, const char *key, const char *value)
{
	char ns[256];
	const char *slash = strchr(value, '/');
	if (slash == NULL)
		return;   /* the Ingress's own namespace */
	size_t n = (size_t)(slash - value);
	while (n > 0 && (*value == ' ' || *value == '\t')) {
		value++;
		n--;
	}
	if (n >= sizeof(ns))
		n = sizeof(ns) - 1;
	memcpy(ns, value, n);
	ns[n] = '\0';
	if (!owner_backend_ns_allowed(ctx, ns))
		reach_violation(ctx, key, ns);
}

/* A host annotation (mirror-target-fqdn): a cluster DNS name must stay in reach. */
static void
check_host_ref(struct rule_ctx *ctx, const char *key, const char *value)
{
	char host[HOST_MAX];
	const char *why;
	if (host_normalize(value, host, sizeof(host), &why) == 0 && !host_is_wildcard(host))
		check_cluster_host(ctx, key, host, false);
}

/* The part of `key` after one of Higress's prefixes, or NULL. */
static const char *
ref_suffix(const char *key)
{
	for (size_t i = 0; i < sizeof(ref_prefixes) / sizeof(*ref_prefixes); i++) {
		size_t n = strlen(ref_prefixes[i]);
		if (strncmp(key, ref_prefixes[i], n) == 0)
			return key + n;
	}
	return NULL;
}

static void
check_reference(struct rule_ctx *ctx, const char *key, const char *value)
{
	const char *name = ref_suffix(key);
	if (name == NULL)
		return;
	if (strcmp(key, "higress.io/destination") == 0) {
		check_destination(ctx, value);
		return;
	}
	if (strcmp(name, "mirror-target-fqdn") == 0) {
		check_host_ref(ctx, key, value);
		return;
	}
	for (size_t i = 0; i < sizeof(ref_names) / sizeof(*ref_names); i++)
		if (strcmp(name, ref_names[i]) == 0) {
			check_namespaced_ref(ctx, key, value);
			return;
		}
}

void
rules_ingress_annotations(struct rule_ctx *ctx, const json_t *obj)
{
	const json_t *annos = jsonget_path(obj, "metadata.annotations"), *v;
	const char *key;

	if (ctx->ns_class == NS_ENTRY || !json_is_object(annos))
		return;   /* the entry namespace is admin land (entry-admin) */
	json_object_foreach((json_t *)annos, key, v) {
		const char *value = json_string_value(v);
		const char *glob = denied_by(ctx->cfg, key);
		if (glob != NULL)
			rules_violation(ctx, RULE_INGRESS_ANNOTATION, key, "annotation %s (matching "
			    "'%s') injects configuration into an ingress controller other tenants "
			    "share; remove it (platform admins can allow a reviewed key with "
			    "ingress.allowedAnnotations)", key, glob);
		if (ctx->tenant != NULL && value != NULL)
			check_reference(ctx, key, value);
	}
}
