/* SPDX-License-Identifier: Apache-2.0 */
/* state: host claims of live objects, filed in a claims index under interned owner keys. */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "config.h"
#include "host.h"
#include "rules.h"
#include "strmap.h"

struct state *
state_new(void)
{
	struct state *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	st->claims = claims_new();
	st->owner_ids = strmap_new();
	if (st->claims == NULL || st->owner_ids == NULL) {
		state_free(st);
		return NULL;
	}
	return st;
}

void
state_free(struct state *st)
{
	if (st == NULL)
		return;
	claims_free(st->claims);
	strmap_free(st->owner_ids);
	for (size_t i = 0; i < st->n_owners; i++)
		free(st->owners[i]);
	free(st->owners);
	free(st);
}

void
state_owner_key(const struct config *cfg, const char *ns, char *out, size_t outsz)
{
	const struct tenant *t = config_namespace_tenant(cfg, ns);
	if (t != NULL)
		snprintf(out, outsz, "tenant/%s", t->name);
	else
		snprintf(out, outsz, "namespace/%s", ns);
}

uint32_t
state_owner_lookup(const struct state *st, const char *key)
{
	uintptr_t id = (uintptr_t)strmap_get(st->owner_ids, key);
	return id == 0 ? CLAIMS_NO_OWNER : (uint32_t)(id - 1);
}

static int
owner_intern(struct state *st, const char *key, uint32_t *id)
{
	*id = state_owner_lookup(st, key);
	if (*id != CLAIMS_NO_OWNER)
		return 0;
	char **grown = realloc(st->owners, sizeof(*grown) * (st->n_owners + 1));
	if (grown == NULL)
		return -1;
	st->owners = grown;
	if ((grown[st->n_owners] = strdup(key)) == NULL)
		return -1;
	if (strmap_set(st->owner_ids, key, (void *)(uintptr_t)(st->n_owners + 1)) != 0) {
		free(grown[st->n_owners]);
		return -1;
	}
	*id = (uint32_t)st->n_owners++;
	return 0;
}

/*
 * A rule of the unified Ingress belongs to the tenant it routes to: the tenant of its bridge
 * backend, else the registered owner of its host; otherwise to the entry namespace itself.
 */
static void
entry_rule_owner(const struct config *cfg, const struct state *st, const json_t *rule,
    const char *host, char *out, size_t outsz)
{
	const json_t *paths = jsonget_path(rule, "http.paths");
	size_t i;
	const json_t *p;
	char why[256];

	json_array_foreach(paths, i, p) {
		const struct tenant *t = owner_bridge_tenant(cfg,
		    jsonget_str(jsonget_path(p, "backend.service"), "name"));
		if (t != NULL) {
			snprintf(out, outsz, "tenant/%s", t->name);
			return;
		}
	}
	const struct tenant *t = host ? owner_of_route(cfg, st, host, why, sizeof(why)) : NULL;
	if (t != NULL)
		snprintf(out, outsz, "tenant/%s", t->name);
	else
		snprintf(out, outsz, "namespace/%s", cfg->entry_namespace);
}

typedef int (*claim_fn)(struct state *st, const char *pattern, const char *owner);

static int
claim_add(struct state *st, const char *pattern, const char *owner)
{
	uint32_t id;
	if (owner_intern(st, owner, &id) != 0)
		return -1;
	return claims_add(st->claims, pattern, id);
}

static int
claim_remove(struct state *st, const char *pattern, const char *owner)
{
	uint32_t id = state_owner_lookup(st, owner);
	return id == CLAIMS_NO_OWNER ? -1 : claims_remove(st->claims, pattern, id);
}

static int
visit_host(struct state *st, claim_fn fn, const json_t *h, const char *owner)
{
	char norm[HOST_MAX];
	const char *why;
	if (!json_is_string(h) || host_normalize(json_string_value(h), norm, sizeof(norm), &why) != 0)
		return 0;   /* an invalid host claims nothing */
	return fn(st, norm, owner);
}

/* Walks the claims of obj and applies fn to each; 0 or -1. */
static int
visit_object(struct state *st, const struct config *cfg, const json_t *obj, claim_fn fn)
{
	const char *kind = jsonget_str(obj, "kind");
	const char *ns = jsonget_str(json_object_get(obj, "metadata"), "namespace");
	char owner[300];
	size_t i, j;
	const json_t *e, *h;

	if (kind == NULL || ns == NULL)
		return 0;
	bool entry = strcmp(ns, cfg->entry_namespace) == 0;
	state_owner_key(cfg, ns, owner, sizeof(owner));

	if (strcmp(kind, "Ingress") == 0) {
		json_array_foreach(jsonget_path(obj, "spec.rules"), i, e) {
			const json_t *host = json_object_get(e, "host");
			if (entry) {
				char norm[HOST_MAX];
				const char *why;
				if (!json_is_string(host) || host_normalize(json_string_value(host),
				    norm, sizeof(norm), &why) != 0)
					continue;
				entry_rule_owner(cfg, st, e, norm, owner, sizeof(owner));
				if (fn(st, norm, owner) != 0)
					return -1;
			} else if (visit_host(st, fn, host, owner) != 0)
				return -1;
		}
		/* TLS hosts choose certificates at the entry; elsewhere they claim the host too. */
		if (!entry)
			json_array_foreach(jsonget_path(obj, "spec.tls"), i, e)
				json_array_foreach(json_object_get(e, "hosts"), j, h)
					if (visit_host(st, fn, h, owner) != 0)
						return -1;
	} else if (strcmp(kind, "HTTPRoute") == 0) {
		json_array_foreach(jsonget_path(obj, "spec.hostnames"), i, h)
			if (visit_host(st, fn, h, owner) != 0)
				return -1;
	}
	return 0;
}

int
state_add_object(struct state *st, const struct config *cfg, const json_t *obj, char *err,
    size_t errsz)
{
	if (visit_object(st, cfg, obj, claim_add) != 0) {
		snprintf(err, errsz, "out of memory while indexing claims");
		return -1;
	}
	st->n_objects++;
	return 0;
}

int
state_remove_object(struct state *st, const struct config *cfg, const json_t *obj)
{
	int rc = visit_object(st, cfg, obj, claim_remove);
	if (st->n_objects > 0)
		st->n_objects--;
	return rc;
}
