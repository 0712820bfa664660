/* SPDX-License-Identifier: Apache-2.0 */
/* state: host claims of live objects, filed in a claims index under interned owner keys. */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claimfields.h"
#include "claims.h"
#include "config.h"
#include "host.h"
#include "jsonget.h"
#include "owner.h"
#include "strmap.h"
#include "tenantobj.h"

#define STATE_KEY_MAX 768   /* "Kind/namespace/name": 63 + 253 + 253 and separators fit */

/* One claim as it was filed. */
struct state_claim {
	char    *pattern;
	uint32_t owner;
};

/* The claims one state_add_object filed for an object; a key's records chain oldest first. */
struct state_record {
	struct state_record *next;
	struct state_claim  *v;     /* &one until a second claim */
	size_t               n, cap;
	struct state_claim   one;   /* most objects claim one host: no second allocation */
};

struct state *
state_new(void)
{
	struct state *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	st->claims = claims_new();
	st->owner_ids = strmap_new();
	st->records = strmap_new();
	if (st->claims == NULL || st->owner_ids == NULL || st->records == NULL) {
		state_free(st);
		return NULL;
	}
	return st;
}

int
state_reserve(struct state *st, size_t n)
{
	return claims_reserve(st->claims, n) == 0 && strmap_reserve(st->records, n) == 0 ? 0 : -1;
}

static void
record_free(struct state_record *rec)
{
	for (size_t i = 0; i < rec->n; i++)
		free(rec->v[i].pattern);
	if (rec->v != &rec->one)
		free(rec->v);
	free(rec);
}

static void
records_free(const char *key, void *value, void *arg)
{
	(void)key;
	(void)arg;
	for (struct state_record *r = value, *next; r != NULL; r = next) {
		next = r->next;
		record_free(r);
	}
}

void
state_free(struct state *st)
{
	if (st == NULL)
		return;
	claims_free(st->claims);
	strmap_free(st->owner_ids);
	for (size_t i = 0; i < st->n_owners; i++) {
		free(st->owners[i]);
		if (st->owner_objects != NULL)
			strmap_free(st->owner_objects[i]);
	}
	free(st->owners);
	free(st->owner_objects);
	if (st->records != NULL) {
		strmap_each(st->records, records_free, NULL);
		strmap_free(st->records);
	}
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
	struct strmap **sets = realloc(st->owner_objects, sizeof(*sets) * (st->n_owners + 1));
	if (sets == NULL)
		return -1;
	st->owner_objects = sets;
	sets[st->n_owners] = NULL;   /* made when the owner's first object is recorded */
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

/* Files one claim and records it in rec; 0 or -1 (then nothing of it was filed). */
static int
claim_add(struct state *st, struct state_record *rec, const char *pattern, const char *owner)
{
	uint32_t id;
	if (owner_intern(st, owner, &id) != 0)
		return -1;
	if (rec->n == rec->cap) {
		size_t ncap = rec->cap * 2;
		struct state_claim *nv = malloc(ncap * sizeof(*nv));
		if (nv == NULL)
			return -1;
		memcpy(nv, rec->v, rec->n * sizeof(*nv));
		if (rec->v != &rec->one)
			free(rec->v);
		rec->v = nv;
		rec->cap = ncap;
	}
	char *p = strdup(pattern);
	if (p == NULL || claims_add(st->claims, pattern, id) != 0) {
		free(p);
		return -1;
	}
	rec->v[rec->n++] = (struct state_claim){ p, id };
	return 0;
}

/* Takes the claims of rec out of the index; -1 when one of them was not there. */
static int
record_unfile(struct state *st, const struct state_record *rec)
{
	int rc = 0;
	for (size_t i = 0; i < rec->n; i++)
		if (claims_remove(st->claims, rec->v[i].pattern, rec->v[i].owner) != 0)
			rc = -1;
	return rc;
}

static bool
record_has_owner(const struct state_record *rec, uint32_t owner)
{
	for (size_t i = 0; i < rec->n; i++)
		if (rec->v[i].owner == owner)
			return true;
	return false;
}

/*
 * Unlinks rec from the chain of `key` and drops key from the object sets of the owners no
 * other record of the key holds; rec itself stays the caller's.
 */
static void
record_unlink(struct state *st, const char *key, struct state_record *rec)
{
	struct state_record *head = strmap_get(st->records, key), **pp = &head;

	while (*pp != NULL && *pp != rec)
		pp = &(*pp)->next;
	if (*pp == rec)
		*pp = rec->next;
	if (head == NULL)
		strmap_del(st->records, key);
	else
		strmap_set(st->records, key, head);   /* an existing key: never allocates */
	for (size_t i = 0; i < rec->n; i++) {
		uint32_t o = rec->v[i].owner;
		bool held = false;
		for (const struct state_record *r = head; r != NULL && !held; r = r->next)
			held = record_has_owner(r, o);
		if (!held && st->owner_objects[o] != NULL)
			strmap_del(st->owner_objects[o], key);
	}
}

/* Appends rec to the chain of `key` and adds key to its owners' object sets; 0 or -1. */
static int
record_link(struct state *st, const char *key, struct state_record *rec)
{
	struct state_record *head = strmap_get(st->records, key);

	if (head == NULL) {
		if (strmap_set(st->records, key, rec) != 0)
			return -1;
	} else {
		while (head->next != NULL)
			head = head->next;
		head->next = rec;
	}
	for (size_t i = 0; i < rec->n; i++) {
		struct strmap **set = &st->owner_objects[rec->v[i].owner];
		if ((*set == NULL && (*set = strmap_new()) == NULL) ||
		    strmap_set(*set, key, (void *)1) != 0) {
			record_unlink(st, key, rec);
			return -1;
		}
	}
	return 0;
}

static int
visit_host(struct state *st, struct state_record *rec, const json_t *h, const char *owner)
{
	char norm[HOST_MAX];
	const char *why;
	if (!json_is_string(h) || host_normalize(json_string_value(h), norm, sizeof(norm), &why) != 0)
		return 0;   /* an invalid host claims nothing */
	return claim_add(st, rec, norm, owner);
}

struct visit {
	struct state        *st;
	struct state_record *rec;
	const char          *owner;
};

static int
visit_claim(const char *host, void *arg)
{
	struct visit *v = arg;
	char norm[HOST_MAX];
	const char *why;
	if (host_normalize(host, norm, sizeof(norm), &why) != 0)
		return 0;   /* an invalid host claims nothing */
	return claim_add(v->st, v->rec, norm, v->owner);
}

/* Files the claims of obj, recording each in rec; 0 or -1. */
static int
visit_object(struct state *st, const struct config *cfg, const json_t *obj,
    struct state_record *rec)
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
				if (claim_add(st, rec, norm, owner) != 0)
					return -1;
			} else if (visit_host(st, rec, host, owner) != 0)
				return -1;
		}
		/* TLS hosts choose certificates at the entry; elsewhere they claim the host too. */
		if (!entry)
			json_array_foreach(jsonget_path(obj, "spec.tls"), i, e)
				json_array_foreach(json_object_get(e, "hosts"), j, h)
					if (visit_host(st, rec, h, owner) != 0)
						return -1;
	} else {
		/* Every other kind that binds hosts: routes, listeners, Istio hosts (claimfields). */
		struct visit v = { st, rec, owner };
		return claimfields_each(cfg, obj, visit_claim, &v);
	}
	return 0;
}

/*
 * What visit_object, entry_rule_owner, claimfields_each, tenantobj_is_tenant and
 * state_object_key read: a reader that adds a field adds it here (test_statefile compares
 * the index of trimmed and whole objects of every claim kind).
 */
static const struct jsonget_fields service_fields[] = { { "name", NULL }, { NULL, NULL } };
static const struct jsonget_fields backend_fields[] = {
	{ "service", service_fields }, { NULL, NULL } };
static const struct jsonget_fields path_fields[] = { { "backend", backend_fields }, { NULL, NULL } };
static const struct jsonget_fields http_fields[] = { { "paths", path_fields }, { NULL, NULL } };
static const struct jsonget_fields rule_fields[] = {
	{ "host", NULL }, { "http", http_fields }, { NULL, NULL } };
static const struct jsonget_fields hosts_fields[] = { { "hosts", NULL }, { NULL, NULL } };
static const struct jsonget_fields listener_fields[] = { { "hostname", NULL }, { NULL, NULL } };
static const struct jsonget_fields spec_fields[] = {
	{ "rules", rule_fields },              /* Ingress */
	{ "tls", hosts_fields },               /* Ingress */
	{ "hostnames", NULL },                 /* HTTPRoute, GRPCRoute, TLSRoute */
	{ "listeners", listener_fields },      /* Gateway, ListenerSet */
	{ "hosts", NULL },                     /* VirtualService */
	{ "servers", hosts_fields },           /* Istio Gateway */
	{ NULL, NULL },
};
static const struct jsonget_fields metadata_fields[] = {
	{ "name", NULL }, { "namespace", NULL }, { NULL, NULL } };
const struct jsonget_fields state_object_fields[] = {
	{ "apiVersion", NULL },
	{ "kind", NULL },
	{ "metadata", metadata_fields },
	{ "spec", spec_fields },
	{ NULL, NULL },
};

bool
state_object_key(const json_t *obj, char *out, size_t outsz)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const char *kind = claimfields_key_kind(obj), *ns = jsonget_str(meta, "namespace");
	const char *name = jsonget_str(meta, "name");
	int n = snprintf(out, outsz, "%s/%s/%s", kind ? kind : "", ns ? ns : "",
	    name ? name : "");
	return n >= 0 && (size_t)n < outsz;
}

int
state_add_object(struct state *st, const struct config *cfg, const json_t *obj, char *err,
    size_t errsz)
{
	char key[STATE_KEY_MAX];
	struct state_record *rec;

	if (!state_object_key(obj, key, sizeof(key))) {
		snprintf(err, errsz, "the object's kind, namespace and name are too long");
		return -1;
	}
	if ((rec = calloc(1, sizeof(*rec))) == NULL)
		goto nomem;
	rec->v = &rec->one;
	rec->cap = 1;
	/* Tenant objects configure tenants; they hold no claims themselves. */
	if (!tenantobj_is_tenant(obj) && visit_object(st, cfg, obj, rec) != 0)
		goto undo;
	if (rec->n == 0)
		record_free(rec);
	else if (record_link(st, key, rec) != 0)
		goto undo;
	st->n_objects++;
	return 0;
undo:
	record_unfile(st, rec);
	record_free(rec);
nomem:
	snprintf(err, errsz, "out of memory while indexing claims");
	return -1;
}

int
state_remove_object(struct state *st, const struct config *cfg, const json_t *obj)
{
	char key[STATE_KEY_MAX];
	struct state_record *rec;
	int rc = 0;

	(void)cfg;   /* what was filed is recorded: today's config may attribute otherwise */
	if (st->n_objects > 0)
		st->n_objects--;
	if (!state_object_key(obj, key, sizeof(key)) || (rec = strmap_get(st->records, key)) == NULL)
		return 0;   /* it filed no claims */
	rc = record_unfile(st, rec);
	record_unlink(st, key, rec);
	record_free(rec);
	return rc;
}

struct owner_walk {
	const struct state *st;
	uint32_t            owner;
	state_claim_fn      fn;
	void               *arg;
};

static void
owner_object(const char *key, void *value, void *arg)
{
	const struct owner_walk *w = arg;
	(void)value;
	for (const struct state_record *r = strmap_get(w->st->records, key); r; r = r->next)
		for (size_t i = 0; i < r->n; i++)
			if (r->v[i].owner == w->owner)
				w->fn(key, r->v[i].pattern, w->arg);
}

size_t
state_owner_objects(const struct state *st, uint32_t owner, state_claim_fn fn, void *arg)
{
	struct owner_walk w = { st, owner, fn, arg };

	if (owner >= st->n_owners || st->owner_objects[owner] == NULL)
		return 0;
	if (fn != NULL)
		strmap_each(st->owner_objects[owner], owner_object, &w);
	return strmap_count(st->owner_objects[owner]);
}

size_t
state_object_claims(const struct state *st, const char *key, state_filed_fn fn, void *arg)
{
	size_t n = 0;

	for (const struct state_record *r = strmap_get(st->records, key); r != NULL; r = r->next)
		for (size_t i = 0; i < r->n; i++, n++)
			fn(r->v[i].pattern, r->v[i].owner, arg);
	return n;
}
