/* SPDX-License-Identifier: Apache-2.0 */
/* rules_tenant: Tenant objects (tenantguard.io) — names, reserved domains, domains in use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "config.h"
#include "owner.h"
#include "policy.h"
#include "rules.h"
#include "state.h"
#include "tenantobj.h"

#define IN_USE_LISTED 5   /* objects a tenant-domain-in-use message names */

/* One (object, host) of the tenant that only a dropped domain covers. */
struct use {
	const char *object;   /* "Kind/namespace/name", borrowed from the state */
	const char *pattern;
};

struct in_use {
	const char          *dropped;
	const struct tenant *kept;     /* the new object's domains (normalised) */
	struct use          *v;
	size_t               n, cap;
	bool                 nomem;
};

static void
collect_use(const char *object, const char *pattern, void *arg)
{
	struct in_use *u = arg;

	if (u->nomem || !host_covers(u->dropped, pattern))
		return;
	for (size_t i = 0; i < u->kept->n_custom_domains; i++)
		if (host_covers(u->kept->custom_domains[i], pattern))
			return;
	if (u->n == u->cap) {
		size_t ncap = u->cap ? u->cap * 2 : 16;
		struct use *nv = realloc(u->v, ncap * sizeof(*nv));
		if (nv == NULL) {
			u->nomem = true;
			return;
		}
		u->v = nv;
		u->cap = ncap;
	}
	u->v[u->n++] = (struct use){ object, pattern };
}

static int
use_order(const void *a, const void *b)
{
	const struct use *x = a, *y = b;
	int c = strcmp(x->object, y->object);
	return c != 0 ? c : strcmp(x->pattern, y->pattern);
}

/* "Ingress/ns/name" as the message shows it: "Ingress ns/name". */
static void
append_object(char *buf, size_t bufsz, const struct use *use, bool first)
{
	size_t len = strlen(buf);
	const char *slash = strchr(use->object, '/');
	if (len >= bufsz || slash == NULL)
		return;
	snprintf(buf + len, bufsz - len, "%s%.*s %s (%s)", first ? "" : ", ",
	    (int)(slash - use->object), use->object, slash + 1, use->pattern);
}

/*
 * UPDATE: a domain the old object reserved and the new one drops may not strand the hosts of
 * the tenant's objects that only it covers (their routes would pass to first come).
 */
static void
check_dropped(struct rule_ctx *ctx, const struct tenant *now, uint32_t owner)
{
	struct tenant old = { 0 };
	char err[256], norm[HOST_MAX];
	const char *why;

	if (owner == CLAIMS_NO_OWNER ||
	    tenantobj_read(ctx->cfg, ctx->req->old_object, &old, err, sizeof(err)) != 0)
		goto out;   /* nothing of it is held, or the old object said nothing readable */
	for (size_t i = 0; i < old.n_custom_domains; i++) {
		struct in_use u = { .dropped = norm, .kept = now };
		bool kept = false;
		if (host_normalize(old.custom_domains[i], norm, sizeof(norm), &why) != 0)
			continue;
		for (size_t j = 0; j < now->n_custom_domains && !kept; j++)
			kept = strcmp(now->custom_domains[j], norm) == 0;
		if (kept)
			continue;
		state_owner_objects(ctx->st, owner, collect_use, &u);
		if (u.nomem) {
			rules_internal(ctx, RULE_TENANT_DOMAIN_IN_USE, "out of memory listing the "
			    "objects that use '%s'", norm);
		} else if (u.n > 0) {
			char list[520] = "";
			size_t objects = 0;
			qsort(u.v, u.n, sizeof(*u.v), use_order);
			for (size_t k = 0; k < u.n; k++) {
				if (k > 0 && strcmp(u.v[k].object, u.v[k - 1].object) == 0)
					continue;   /* one object, named once with its first host */
				if (objects++ < IN_USE_LISTED)
					append_object(list, sizeof(list), &u.v[k], objects == 1);
			}
			if (objects > IN_USE_LISTED) {
				size_t len = strlen(list);
				if (len < sizeof(list))
					snprintf(list + len, sizeof(list) - len, " and %zu more",
					    objects - IN_USE_LISTED);
			}
			rules_violation(ctx, RULE_TENANT_DOMAIN_IN_USE, norm, "spec.customDomains no "
			    "longer lists '%s', but objects of tenant %s still use hosts only it "
			    "covers: %s; move or delete them first, or keep the domain", norm,
			    now->name, list);
		}
		free(u.v);
	}
out:
	config_tenant_clear(&old);
}

void
rules_tenant(struct rule_ctx *ctx, const json_t *obj)
{
	const struct config *cfg = ctx->cfg;
	struct tenant t = { 0 };
	char err[512], norm[HOST_MAX], key[300];
	const char *why = NULL;
	uint32_t other, ids[1];

	if (tenantobj_read(cfg, obj, &t, err, sizeof(err)) != 0) {
		rules_invalid(ctx, "%s", err);
		goto out;
	}
	if (config_check_tenant_names(cfg, &t, NULL, err, sizeof(err)) != 0) {
		rules_invalid(ctx, "%s", err);
		goto out;
	}
	const struct tenant *same = config_tenant(cfg, t.name);
	if (same != NULL && !same->from_object) {
		rules_invalid(ctx, "tenant %s is defined in the config file; remove it there "
		    "before managing it as a Tenant object", t.name);
		goto out;
	}
	/* On UPDATE (or a re-create) the tenant is in cfg already: its own domains are no clash. */
	uint32_t self = same != NULL ? config_tenant_index(cfg, same) : CLAIMS_NO_OWNER;
	snprintf(key, sizeof(key), "tenant/%s", t.name);
	uint32_t me = state_owner_lookup(ctx->st, key);

	for (size_t i = 0; i < t.n_custom_domains; i++) {
		const char *d = t.custom_domains[i];
		enum config_domain_fault f = config_check_domain(cfg, d, self, norm, sizeof(norm),
		    &why, &other);
		switch (f) {
		case DOMAIN_INVALID:
			rules_violation(ctx, RULE_HOST_INVALID, d, "spec.customDomains[%zu] '%s' %s; use a "
			    "DNS name or a *.domain pattern", i, d, why);
			continue;
		case DOMAIN_SYSTEM:
			rules_violation(ctx, RULE_HOST_OWNERSHIP, norm, "spec.customDomains[%zu] '%s' touches "
			    "the system domain %s, which belongs to the platform; reserve domains "
			    "outside it", i, d, cfg->system_domain);
			break;
		case DOMAIN_RESERVED:
			rules_violation(ctx, RULE_HOST_OWNERSHIP, norm, "spec.customDomains[%zu] '%s' "
			    "overlaps a domain reserved by another tenant; choose a domain no other "
			    "tenant reserves", i, d);
			break;
		case DOMAIN_OK:
			if (claims_find(ctx->st->claims, norm, CLAIMS_OVERLAP, me, ids, 1) > 0)
				rules_violation(ctx, RULE_HOST_COLLISION, norm, "spec.customDomains[%zu] '%s' "
				    "overlaps a host already claimed by another tenant or namespace; "
				    "choose another domain", i, d);
			break;
		}
		/* Normalised, so the dropped-domain check compares like with like. */
		char *s = strcmp(norm, d) != 0 ? strdup(norm) : NULL;
		if (s != NULL) {
			free(t.custom_domains[i]);
			t.custom_domains[i] = s;
		}
	}
	if (ctx->req->op == OP_UPDATE && obj == ctx->req->object)
		check_dropped(ctx, &t, me);
out:
	config_tenant_clear(&t);
}
