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
	const char *pattern;   /* in its record's block */
	uint32_t    owner;
};

/*
 * The claims one state_add_object filed for an object, in one allocation: this header, the
 * claims, the object's key and the patterns. A key's records chain oldest first; the maps
 * (records, every owner's object set) borrow the key of the chain's head.
 */
struct state_record {
	struct state_record *next;
	const char          *key;
	size_t               n;
	struct state_claim   v[];
};

/* The claims of one object while it is visited, before its record is built. */
#define FILING_INLINE 8
struct filing_claim {
	size_t   off;     /* of the pattern in text */
	uint32_t owner;
};
struct filing {
	struct filing_claim *v;
	size_t               n, cap;
	char                *text;
	size_t               len, tcap;
	struct filing_claim  v0[FILING_INLINE];
	char                 text0[FILING_INLINE * 64];
};

struct state *
state_new(void)
{
	struct state *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	st->claims = claims_new();
	st->owner_ids = strmap_new();
	st->records = strmap_new_borrowed();
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
records_free(const char *key, void *value, void *arg)
{
	(void)key;
	(void)arg;
	for (struct state_record *r = value, *next; r != NULL; r = next) {
		next = r->next;
		free(r);
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

/*
 * The strings of parts[0..n), separated by sep (when not '\0'), into out; false (out holds a
 * truncated copy) when they do not fit. Every object's keys are made this way: snprintf's
 * format parsing was a visible part of walking a big state file.
 */
static bool
join(char *out, size_t outsz, char sep, const char *const *parts, size_t n)
{
	size_t len = 0;
	bool fits = outsz > 0;

	for (size_t i = 0; i < n && fits; i++) {
		size_t plen = strlen(parts[i]);
		if (i > 0 && sep != '\0') {
			if (len + 1 >= outsz)
				fits = false;
			else
				out[len++] = sep;
		}
		if (fits && len + plen >= outsz) {
			plen = outsz - 1 - len;
			fits = false;
		}
		memcpy(out + len, parts[i], plen);
		len += plen;
	}
	if (outsz > 0)
		out[len] = '\0';
	return fits;
}

void
state_owner_key(const struct config *cfg, const char *ns, char *out, size_t outsz)
{
	const struct tenant *t = config_namespace_tenant(cfg, ns);
	const char *parts[2] = { t != NULL ? "tenant/" : "namespace/", t != NULL ? t->name : ns };

	(void)join(out, outsz, '\0', parts, 2);
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

static void
filing_init(struct filing *f)
{
	f->v = f->v0;
	f->cap = FILING_INLINE;
	f->text = f->text0;
	f->tcap = sizeof(f->text0);
	f->n = f->len = 0;
}

static void
filing_release(struct filing *f)
{
	if (f->v != f->v0)
		free(f->v);
	if (f->text != f->text0)
		free(f->text);
}

/* Grows *buf (first the inline `first`) to hold need elements of size sz; 0 or -1. */
static int
filing_grow(void **buf, size_t *cap, size_t need, size_t sz, void *first)
{
	size_t ncap = *cap;
	void *nb;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	if ((nb = *buf == first ? malloc(ncap * sz) : realloc(*buf, ncap * sz)) == NULL)
		return -1;
	if (*buf == first)
		memcpy(nb, first, *cap * sz);
	*buf = nb;
	*cap = ncap;
	return 0;
}

/*
 * Files one claim of the object being visited, under owner key `owner`, and notes it in f
 * (later claims of the object see it, as the rules of an entry Ingress do); 0 or -1.
 */
static int
claim_add(struct state *st, struct filing *f, const char *pattern, const char *owner)
{
	uint32_t id;
	size_t plen = strlen(pattern) + 1;

	if (owner_intern(st, owner, &id) != 0 ||
	    filing_grow((void **)&f->v, &f->cap, f->n + 1, sizeof(*f->v), f->v0) != 0 ||
	    filing_grow((void **)&f->text, &f->tcap, f->len + plen, 1, f->text0) != 0 ||
	    claims_add(st->claims, pattern, id) != 0)
		return -1;
	memcpy(f->text + f->len, pattern, plen);
	f->v[f->n++] = (struct filing_claim){ f->len, id };
	f->len += plen;
	return 0;
}

/* The record of a visited object: key, claims and patterns in one block; NULL (ENOMEM). */
static struct state_record *
record_new(const char *key, const struct filing *f)
{
	size_t klen = strlen(key) + 1;
	struct state_record *rec = malloc(sizeof(*rec) + f->n * sizeof(rec->v[0]) + klen + f->len);

	if (rec == NULL)
		return NULL;
	char *text = (char *)&rec->v[f->n];
	memcpy(text, key, klen);
	memcpy(text + klen, f->text, f->len);
	rec->next = NULL;
	rec->key = text;
	rec->n = f->n;
	for (size_t i = 0; i < f->n; i++)
		rec->v[i] = (struct state_claim){ text + klen + f->v[i].off, f->v[i].owner };
	return rec;
}

static bool
record_has_owner(const struct state_record *rec, uint32_t owner)
{
	for (size_t i = 0; i < rec->n; i++)
		if (rec->v[i].owner == owner)
			return true;
	return false;
}

static bool
chain_has_owner(const struct state_record *head, uint32_t owner)
{
	for (const struct state_record *r = head; r != NULL; r = r->next)
		if (record_has_owner(r, owner))
			return true;
	return false;
}

/*
 * Unlinks rec from its key's chain and drops the key from the object sets of the owners no
 * other record of the key holds; when rec was the head, the maps move to the new head's key.
 * rec itself stays the caller's.
 */
static void
record_unlink(struct state *st, struct state_record *rec)
{
	struct state_record *head = strmap_get(st->records, rec->key), **pp = &head;
	bool was_head = head == rec;

	while (*pp != NULL && *pp != rec)
		pp = &(*pp)->next;
	if (*pp == rec)
		*pp = rec->next;
	for (size_t i = 0; i < rec->n; i++) {
		uint32_t o = rec->v[i].owner;
		if (!chain_has_owner(head, o) && st->owner_objects[o] != NULL)
			strmap_del(st->owner_objects[o], rec->key);
	}
	if (head == NULL) {
		strmap_del(st->records, rec->key);
		return;
	}
	strmap_set(st->records, rec->key, head);   /* an existing key: never allocates */
	if (!was_head)
		return;
	(void)strmap_rekey(st->records, head->key);
	for (const struct state_record *r = head; r != NULL; r = r->next)
		for (size_t i = 0; i < r->n; i++)
			if (st->owner_objects[r->v[i].owner] != NULL)
				(void)strmap_rekey(st->owner_objects[r->v[i].owner], head->key);
}

/* Appends rec to the chain of its key and adds the key to its owners' object sets; 0 or -1. */
static int
record_link(struct state *st, struct state_record *rec)
{
	bool created;
	void **slot = strmap_upsertn(st->records, rec->key, strlen(rec->key), &created);
	const char *key = rec->key;

	if (slot == NULL)
		return -1;
	if (created) {
		*slot = rec;
	} else {
		struct state_record *r = *slot;
		key = r->key;   /* the head's, which the maps borrow */
		while (r->next != NULL)
			r = r->next;
		r->next = rec;
	}
	for (size_t i = 0; i < rec->n; i++) {
		struct strmap **set = &st->owner_objects[rec->v[i].owner];
		if ((*set == NULL && (*set = strmap_new_borrowed()) == NULL) ||
		    strmap_set(*set, key, (void *)1) != 0) {
			record_unlink(st, rec);
			return -1;
		}
	}
	return 0;
}

/* state_extract's output: strings one after another; len counts on past cap. */
struct xbuf {
	char   *p;
	size_t  len, cap;
};

static void
xbuf_put(struct xbuf *x, const char *str)
{
	size_t n = strlen(str) + 1;
	if (x->len + n <= x->cap)
		memcpy(x->p + x->len, str, n);
	x->len += n;
}

/* Where a visit puts the claims it finds: filed into st at once (noted in f), or written to x. */
struct sink {
	struct state  *st;
	struct filing *f;
	struct xbuf   *x;
};

static int
sink_claim(struct sink *k, const char *pattern, const char *owner)
{
	if (k->x == NULL)
		return claim_add(k->st, k->f, pattern, owner);
	xbuf_put(k->x, owner);
	xbuf_put(k->x, pattern);
	return 0;
}

static int
visit_host(struct sink *k, const json_t *h, const char *owner)
{
	char norm[HOST_MAX];
	const char *why;
	if (!json_is_string(h) || host_normalize(json_string_value(h), norm, sizeof(norm), &why) != 0)
		return 0;   /* an invalid host claims nothing */
	return sink_claim(k, norm, owner);
}

struct visit {
	struct sink *k;
	const char  *owner;
};

static int
visit_claim(const char *host, void *arg)
{
	struct visit *v = arg;
	char norm[HOST_MAX];
	const char *why;
	if (host_normalize(host, norm, sizeof(norm), &why) != 0)
		return 0;   /* an invalid host claims nothing */
	return sink_claim(v->k, norm, v->owner);
}

/* An entry Ingress's rules are attributed against the claims filed so far (entry_rule_owner). */
static bool
reads_state(const struct config *cfg, const json_t *obj)
{
	const char *kind = jsonget_str(obj, "kind");
	const char *ns = jsonget_str(json_object_get(obj, "metadata"), "namespace");

	return kind != NULL && ns != NULL && strcmp(kind, "Ingress") == 0 &&
	    strcmp(ns, cfg->entry_namespace) == 0;
}

/* Puts the claims of obj into k (k->st is read only for an object that reads_state); 0 or -1. */
static int
visit_object(const struct config *cfg, const json_t *obj, struct sink *k)
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
		const json_t *spec = json_object_get(obj, "spec");
		json_array_foreach(json_object_get(spec, "rules"), i, e) {
			const json_t *host = json_object_get(e, "host");
			if (entry) {
				char norm[HOST_MAX];
				const char *why;
				if (!json_is_string(host) || host_normalize(json_string_value(host),
				    norm, sizeof(norm), &why) != 0)
					continue;
				entry_rule_owner(cfg, k->st, e, norm, owner, sizeof(owner));
				if (sink_claim(k, norm, owner) != 0)
					return -1;
			} else if (visit_host(k, host, owner) != 0)
				return -1;
		}
		/* TLS hosts choose certificates at the entry; elsewhere they claim the host too. */
		if (!entry)
			json_array_foreach(json_object_get(spec, "tls"), i, e)
				json_array_foreach(json_object_get(e, "hosts"), j, h)
					if (visit_host(k, h, owner) != 0)
						return -1;
	} else {
		/* Every other kind that binds hosts: routes, listeners, Istio hosts (claimfields). */
		struct visit v = { k, owner };
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

/* The same without a rule's paths: only an entry Ingress's rules read them (entry_rule_owner). */
static const struct jsonget_fields extract_rule_fields[] = { { "host", NULL }, { NULL, NULL } };
static const struct jsonget_fields extract_spec_fields[] = {
	{ "rules", extract_rule_fields },
	{ "tls", hosts_fields },
	{ "hostnames", NULL },
	{ "listeners", listener_fields },
	{ "hosts", NULL },
	{ "servers", hosts_fields },
	{ NULL, NULL },
};
const struct jsonget_fields state_extract_fields[] = {
	{ "apiVersion", NULL },
	{ "kind", NULL },
	{ "metadata", metadata_fields },
	{ "spec", extract_spec_fields },
	{ NULL, NULL },
};

bool
state_object_key(const json_t *obj, char *out, size_t outsz)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const char *kind = claimfields_key_kind(obj), *ns = jsonget_str(meta, "namespace");
	const char *name = jsonget_str(meta, "name");
	const char *parts[3] = { kind ? kind : "", ns ? ns : "", name ? name : "" };

	return join(out, outsz, '/', parts, 3);
}

/* Takes the claims f holds back out of the index and releases f; -1 with err. */
static int
filing_undo(struct state *st, struct filing *f, char *err, size_t errsz)
{
	for (size_t i = 0; i < f->n; i++)
		(void)claims_remove(st->claims, f->text + f->v[i].off, f->v[i].owner);
	filing_release(f);
	snprintf(err, errsz, "out of memory while indexing claims");
	return -1;
}

/*
 * Builds the record of what f holds (filed already) under key and links it; on failure takes
 * the claims back out. Releases f. 0, or -1 with err.
 */
static int
file_record(struct state *st, const char *key, struct filing *f, char *err, size_t errsz)
{
	struct state_record *rec = NULL;

	if (f->n > 0 && ((rec = record_new(key, f)) == NULL || record_link(st, rec) != 0)) {
		free(rec);
		return filing_undo(st, f, err, errsz);
	}
	filing_release(f);
	st->n_objects++;
	return 0;
}

size_t
state_extract(const struct config *cfg, const json_t *obj, char *buf, size_t bufsz)
{
	char key[STATE_KEY_MAX];
	struct xbuf x = { buf, 0, bufsz };
	struct sink k = { NULL, NULL, &x };

	if (!state_object_key(obj, key, sizeof(key)) || reads_state(cfg, obj))
		return 0;
	xbuf_put(&x, key);
	/* Tenant objects configure tenants; they hold no claims themselves. */
	if (!tenantobj_is_tenant(obj))
		(void)visit_object(cfg, obj, &k);   /* writing out cannot fail */
	return x.len;
}

int
state_add_extract(struct state *st, const char *buf, size_t len, char *err, size_t errsz)
{
	const char *key = buf, *p = buf + strlen(buf) + 1, *end = buf + len;
	struct filing f;

	filing_init(&f);
	while (p < end) {
		const char *owner = p, *pattern = owner + strlen(owner) + 1;
		p = pattern + strlen(pattern) + 1;
		if (claim_add(st, &f, pattern, owner) != 0)
			return filing_undo(st, &f, err, errsz);
	}
	return file_record(st, key, &f, err, errsz);
}

/* The objects that read the state as they are filed: their claims go in one by one. */
static int
add_reading(struct state *st, const struct config *cfg, const json_t *obj, char *err,
    size_t errsz)
{
	char key[STATE_KEY_MAX];
	struct filing f;
	struct sink k = { st, &f, NULL };

	if (!state_object_key(obj, key, sizeof(key))) {
		snprintf(err, errsz, "the object's kind, namespace and name are too long");
		return -1;
	}
	filing_init(&f);
	if (visit_object(cfg, obj, &k) != 0)
		return filing_undo(st, &f, err, errsz);
	return file_record(st, key, &f, err, errsz);
}

#define STATE_EXTRACT_INLINE 2048

int
state_add_object(struct state *st, const struct config *cfg, const json_t *obj, char *err,
    size_t errsz)
{
	char buf[STATE_EXTRACT_INLINE], *big;
	size_t n = state_extract(cfg, obj, buf, sizeof(buf));
	int rc;

	if (n == 0)
		return add_reading(st, cfg, obj, err, errsz);
	if (n <= sizeof(buf))
		return state_add_extract(st, buf, n, err, errsz);
	if ((big = malloc(n)) == NULL) {
		snprintf(err, errsz, "out of memory while indexing claims");
		return -1;
	}
	(void)state_extract(cfg, obj, big, n);
	rc = state_add_extract(st, big, n, err, errsz);
	free(big);
	return rc;
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
	for (size_t i = 0; i < rec->n; i++)
		if (claims_remove(st->claims, rec->v[i].pattern, rec->v[i].owner) != 0)
			rc = -1;
	record_unlink(st, rec);
	free(rec);
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
