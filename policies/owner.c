/* SPDX-License-Identifier: Apache-2.0 */
/* owner: who owns a host pattern — the platform, a tenant by name or reservation, or first come. */
#include <stdio.h>
#include <string.h>

#include "claims.h"
#include "config.h"
#include "firstcome.h"
#include "host.h"
#include "owner.h"
#include "policy.h"
#include "psl.h"
#include "rules.h"
#include "state.h"

bool
owner_touches_system(const struct config *cfg, const char *pattern)
{
	const char *sys = cfg->system_domain;
	const char *name = host_is_wildcard(pattern) ? pattern + 2 : pattern;
	if (strcmp(name, sys) == 0 || host_is_below(name, sys))
		return true;
	return host_is_wildcard(pattern) && host_is_below(sys, name);
}

/*
 * For a pattern at or below the system domain: the tenant label (the one just left of the
 * system domain) copied into label, or "" for the platform's own names (apex, "*.apex").
 */
static void
system_label(const struct config *cfg, const char *pattern, char *label, size_t labelsz)
{
	const char *name = host_is_wildcard(pattern) ? pattern + 2 : pattern;
	size_t nl = strlen(name), sl = strlen(cfg->system_domain);
	label[0] = '\0';
	if (nl <= sl + 1)
		return;
	size_t end = nl - sl - 1, start = end;
	while (start > 0 && name[start - 1] != '.')
		start--;
	snprintf(label, labelsz, "%.*s", (int)(end - start), name + start);
}

const struct tenant *
owner_bridge_tenant(const struct config *cfg, const char *service)
{
	static const char suffix[] = "-gateway";
	char name[HOST_MAX];
	size_t n = service ? strlen(service) : 0;
	if (n <= sizeof(suffix) - 1 || n >= sizeof(name) ||
	    strcmp(service + n - (sizeof(suffix) - 1), suffix) != 0)
		return NULL;
	snprintf(name, sizeof(name), "%.*s", (int)(n - (sizeof(suffix) - 1)), service);
	return config_tenant(cfg, name);
}

/* The one tenant among up to n state owners, or NULL when none or several hold claims. */
static const struct tenant *
sole_tenant(const struct config *cfg, const struct state *st, const uint32_t *ids, size_t n)
{
	if (n != 1 || ids[0] >= st->n_owners)
		return NULL;
	const char *key = st->owners[ids[0]];
	return strncmp(key, "tenant/", 7) == 0 ? config_tenant(cfg, key + 7) : NULL;
}

const struct tenant *
owner_of_route(const struct config *cfg, const struct state *st, const char *pattern, char *why,
    size_t whysz)
{
	uint32_t ids[2];
	size_t n;

	if (owner_touches_system(cfg, pattern)) {
		char label[64];
		system_label(cfg, pattern, label, sizeof(label));
		const struct tenant *t = label[0] ? config_tenant(cfg, label) : NULL;
		if (t == NULL)
			snprintf(why, whysz, "belongs to the platform, not to a tenant");
		return t;
	}
	n = claims_find(cfg->reservations, pattern, CLAIMS_OVERLAP, CLAIMS_NO_OWNER, ids, 2);
	if (n > 0) {
		uint32_t cover[2];
		size_t nc = claims_find(cfg->reservations, pattern, CLAIMS_COVER, CLAIMS_NO_OWNER,
		    cover, 2);
		if (n == 1 && nc == 1)
			return &cfg->tenants[cover[0]];
		snprintf(why, whysz, "spans domains reserved by %s",
		    n > 1 ? "several tenants" : "a tenant without being inside the reservation");
		return NULL;
	}
	n = claims_find(st->claims, pattern, CLAIMS_OVERLAP, CLAIMS_NO_OWNER, ids, 2);
	const struct tenant *t = sole_tenant(cfg, st, ids, n);
	if (t == NULL)
		snprintf(why, whysz, n == 0 ?
		    "is neither reserved nor claimed by any tenant" :
		    "is not claimed by exactly one tenant");
	return t;
}

enum host_verdict
owner_check(const struct rule_ctx *ctx, const struct tenant *as_tenant, const char *pattern,
    char *why, size_t whysz)
{
	const struct config *cfg = ctx->cfg;
	const struct tenant *t = as_tenant ? as_tenant : ctx->tenant;
	uint32_t tidx = t ? config_tenant_index(cfg, t) : CLAIMS_NO_OWNER;
	uint32_t ids[2];

	if (owner_touches_system(cfg, pattern)) {
		char label[64];
		system_label(cfg, pattern, label, sizeof(label));
		if (t != NULL && strcmp(label, t->name) == 0)
			return HOST_OK;
		if (t != NULL)
			snprintf(why, whysz, "belongs to another tenant or to the platform");
		else
			snprintf(why, whysz, "is in the system domain %s, which only tenants and the "
			    "platform may use", cfg->system_domain);
		return HOST_FOREIGN;
	}
	if (claims_find(cfg->reservations, pattern, CLAIMS_OVERLAP, tidx, ids, 1) > 0) {
		snprintf(why, whysz, "overlaps a domain reserved by another tenant");
		return HOST_FOREIGN;
	}
	if (t != NULL && claims_find(cfg->reservations, pattern, CLAIMS_COVER, CLAIMS_NO_OWNER,
	    ids, 1) == 1 && ids[0] == tidx)
		return HOST_OK;   /* reserved for this tenant: first-come does not apply */
	if (t != NULL && ctx->cfg->unregistered == UNREGISTERED_DENY) {
		snprintf(why, whysz, "is not reserved for tenant %s and unregistered domains are "
		    "denied", t->name);
		return HOST_UNREGISTERED;
	}
	uint32_t me = ctx->owner_id;
	if (as_tenant != NULL) {
		char key[300];
		snprintf(key, sizeof(key), "tenant/%s", as_tenant->name);
		me = state_owner_lookup(ctx->st, key);
	}
	if (claims_find(ctx->older->claims, pattern, CLAIMS_OVERLAP, me, ids, 1) > 0) {
		snprintf(why, whysz, "overlaps a host already claimed by another %s",
		    t != NULL ? "tenant or namespace" : "namespace or tenant");
		return HOST_COLLISION;
	}
	/* After the collision: what the live claim store answers in that order, too. */
	if (firstcome_public_suffix(cfg, pattern)) {
		snprintf(why, whysz, "%s the public suffix %s, which nobody can claim",
		    host_is_wildcard(pattern) ? "spans every domain under" : "is",
		    host_is_wildcard(pattern) ? pattern + 2 : pattern);
		return HOST_FOREIGN;
	}
	return HOST_OK;
}

/* Copies the label of `name` ending at `end` (exclusive) into ns; false if there is none. */
static bool
label_before(const char *name, size_t end, char *ns, size_t nssz)
{
	size_t start = end;
	while (start > 0 && name[start - 1] != '.')
		start--;
	if (start == end)
		return false;
	snprintf(ns, nssz, "%.*s", (int)(end - start), name + start);
	return true;
}

/* "x.ns.svc" / "x.ns.pod" (at least three labels) names ns; the two-label forms name nothing. */
static enum cluster_name
svc_or_pod(const char *name, size_t len, char *ns, size_t nssz)
{
	size_t end = len - 4;   /* the dot before "svc" / "pod" */
	if (memchr(name, '.', end) == NULL)
		return CLUSTER_NAME_OTHER;
	return label_before(name, end, ns, nssz) ? CLUSTER_NAME_NS : CLUSTER_NAME_OTHER;
}

static bool
ends_with_label(const char *name, size_t len, const char *label)
{
	size_t n = strlen(label);
	return len > n && name[len - n - 1] == '.' && memcmp(name + len - n, label, n) == 0;
}

enum cluster_name
owner_cluster_name(const struct config *cfg, const char *host, char *ns, size_t nssz)
{
	const char *cd = cfg->cluster_domain;
	size_t len = strlen(host);

	/* localhost is no Service either: the asking pod itself (or, with hostNetwork, the node). */
	if (strcmp(host, cd) == 0 || host_is_loopback(host))
		return CLUSTER_NAME_OTHER;
	if (host_is_below(host, cd))
		len -= strlen(cd) + 1;   /* judge the part before ".<cd>" */
	else if (memchr(host, '.', len) == NULL)
		return CLUSTER_NAME_OWN;
	if (ends_with_label(host, len, "svc") || ends_with_label(host, len, "pod"))
		return svc_or_pod(host, len, ns, nssz);
	if (len < strlen(host))
		return CLUSTER_NAME_OTHER;   /* any other name under the cluster domain */
	const char *tld = strrchr(host, '.') + 1;
	if (cfg->psl == NULL || psl_is_listed_tld(cfg->psl, tld))
		return CLUSTER_NAME_PUBLIC;
	snprintf(ns, nssz, "%s", tld);   /* "svc.ns" -> "svc.ns.svc.<cd>" by the search path */
	return CLUSTER_NAME_NS;
}

bool
owner_backend_ns_allowed(const struct rule_ctx *ctx, const char *ns)
{
	const struct tenant *t = ctx->tenant;
	if (ns == NULL || strcmp(ns, ctx->req->namespace) == 0)
		return true;
	for (size_t i = 0; i < t->n_backend_namespaces; i++)
		if (strcmp(t->backend_namespaces[i], ns) == 0)
			return true;
	return false;
}
