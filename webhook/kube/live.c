/* SPDX-License-Identifier: Apache-2.0 */
/* live: left-right copies of the cluster state, kept current by incremental writer operations. */
#include "live.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "claims.h"
#include "collide.h"
#include "config.h"
#include "host.h"
#include "jsonget.h"
#include "liveobj.h"
#include "state.h"
#include "strmap.h"

#define LIVE_KINDS   16     /* distinct kinds counted (the informers' 14 fit); more share the last */
#define LIVE_KEY_MAX 768    /* "Kind/namespace/name": 63 + 253 + 253 and separators fit */

/* A config and how to let go of it. */
struct live_cfg {
	const struct config *cfg;
	void               (*release)(void *);
	void                *arg;
};

/* One copy. Only the writer changes it, and only while no reader can be inside. */
struct live_side {
	const struct config *cfg;
	struct state        *st;
};

/* Reader counters on their own cache lines, so the two sides do not share one. */
struct live_counter {
	atomic_long n;
	char        pad[64 - sizeof(atomic_long)];
};

struct live_kind {
	char          name[32];
	atomic_size_t n;
};

struct live {
	atomic_int          active;
	struct live_counter readers[2];
	struct live_side    side[2];

	pthread_mutex_t     wlock;     /* everything below is the writer's */
	struct live_cfg    *cur;       /* the config both sides are built with, or NULL */
	struct strmap      *objects;   /* "Kind/ns/name" -> struct liveobj (owned) */
	/*
	 * Keys of stored objects whose claims neither side holds: each collides with an older
	 * object of another owner (admitted because warn/audit relaxed the host-collision). The
	 * first owner keeps the claim, as the audit judges it; the audit still sees the object.
	 */
	struct strmap      *shadowed;
	bool                broken;    /* an operation failed half-way: rebuild before the next */
	struct live_kind    kinds[LIVE_KINDS];
	atomic_size_t       claims;
};

/*
 * One pending change: remove `old` (borrowed from the map) and/or add `new` (owned), whose
 * trimmed tree is `tree` when the caller had one (owned; else each side decodes what it
 * files). The flags say whether old is shadowed and whether new is, as the first side
 * decided it.
 */
struct change {
	char           *key;
	struct liveobj *old;
	struct liveobj *new;
	json_t         *tree;
	bool            old_shadowed, new_shadowed;
};

struct batch {
	struct change *v;
	size_t         n, cap;
};

struct live *
live_new(void)
{
	struct live *lv = calloc(1, sizeof(*lv));

	if (lv == NULL)
		return NULL;
	atomic_init(&lv->active, 0);
	atomic_init(&lv->readers[0].n, 0);
	atomic_init(&lv->readers[1].n, 0);
	atomic_init(&lv->claims, 0);
	for (size_t i = 0; i < LIVE_KINDS; i++)
		atomic_init(&lv->kinds[i].n, 0);
	pthread_mutex_init(&lv->wlock, NULL);
	lv->objects = strmap_new();
	lv->shadowed = strmap_new();
	lv->side[0].st = state_new();
	lv->side[1].st = state_new();
	if (lv->objects == NULL || lv->shadowed == NULL || lv->side[0].st == NULL ||
	    lv->side[1].st == NULL) {
		live_free(lv);
		return NULL;
	}
	return lv;
}

static void
object_free(const char *key, void *value, void *arg)
{
	(void)key;
	(void)arg;
	liveobj_free(value);
}

static void
cfg_release(struct live_cfg *c)
{
	if (c == NULL)
		return;
	if (c->release != NULL)
		c->release(c->arg);
	free(c);
}

void
live_free(struct live *lv)
{
	if (lv == NULL)
		return;
	if (lv->objects != NULL) {
		strmap_each(lv->objects, object_free, NULL);
		strmap_free(lv->objects);
	}
	strmap_free(lv->shadowed);
	state_free(lv->side[0].st);
	state_free(lv->side[1].st);
	cfg_release(lv->cur);
	pthread_mutex_destroy(&lv->wlock);
	free(lv);
}

/* ---- readers ---- */

int
live_read_begin(struct live *lv, struct live_view *v)
{
	int a;

	/*
	 * Announce first, then check the side is still the active one: the writer flips
	 * `active` before it waits for the old side's count, so either it sees this reader or
	 * this reader sees the flip and moves over (all seq_cst).
	 */
	for (;;) {
		a = atomic_load(&lv->active);
		atomic_fetch_add(&lv->readers[a].n, 1);
		if (atomic_load(&lv->active) == a)
			break;
		atomic_fetch_sub(&lv->readers[a].n, 1);
	}
	if (lv->side[a].cfg == NULL) {
		atomic_fetch_sub(&lv->readers[a].n, 1);
		return -1;
	}
	v->cfg = lv->side[a].cfg;
	v->st = lv->side[a].st;
	v->side = a;
	return 0;
}

void
live_read_end(struct live *lv, const struct live_view *v)
{
	atomic_fetch_sub(&lv->readers[v->side].n, 1);
}

/* ---- the writer's side of the protocol ---- */

/* Waits until no reader is inside `side`; readers stay a few microseconds. */
static void
drain(struct live *lv, int side)
{
	struct timespec pause = { 0, 20 * 1000 };

	for (unsigned spins = 0; atomic_load(&lv->readers[side].n) != 0; spins++) {
		if (spins < 64)
			sched_yield();
		else
			nanosleep(&pause, NULL);
	}
}

/*
 * The inactive side is free: once the last flip's drain finished, a reader that counts
 * itself in there finds `active` different and leaves without touching it.
 */
static int
inactive(struct live *lv)
{
	return 1 - atomic_load(&lv->active);
}

/* Makes `side` the active one and waits for the readers of the other to leave; returns it. */
static int
flip(struct live *lv, int side)
{
	int old = 1 - side;

	atomic_store(&lv->active, side);
	drain(lv, old);
	return old;
}

static void
claims_gauge(struct live *lv)
{
	const struct state *st = lv->side[atomic_load(&lv->active)].st;

	atomic_store(&lv->claims, st->claims != NULL ? claims_count(st->claims) : 0);
}

/* ---- the object map ---- */

/* state_object_key of obj into key; -1 when kind or name is missing (or the key too long). */
static int
object_key(const json_t *obj, char *key, size_t keysz)
{
	const char *kind = jsonget_str(obj, "kind");
	const char *name = jsonget_str(json_object_get(obj, "metadata"), "name");

	if (kind == NULL || name == NULL || *kind == '\0' || *name == '\0')
		return -1;
	return state_object_key(obj, key, keysz) ? 0 : -1;
}

/*
 * What the writer reads of a stored object to file or unfile its claims: the claim index's
 * members (state.h), decoded from the text alone (new reference; NULL when out of memory).
 */
static json_t *
object_claims_tree(const struct liveobj *o)
{
	return liveobj_decode(o, state_object_fields);
}

static struct live_kind *
kind_slot(struct live *lv, const char *kind, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < LIVE_KINDS && lv->kinds[i].name[0] != '\0'; i++)
		if (strlen(lv->kinds[i].name) == len && memcmp(lv->kinds[i].name, kind, len) == 0)
			return &lv->kinds[i];
	if (i + 1 < LIVE_KINDS && len < sizeof(lv->kinds[i].name)) {
		memcpy(lv->kinds[i].name, kind, len);
		lv->kinds[i].name[len] = '\0';
		return &lv->kinds[i];
	}
	return &lv->kinds[LIVE_KINDS - 1];
}

static void
kind_count(struct live *lv, const char *key, long delta)
{
	struct live_kind *k = kind_slot(lv, key, strcspn(key, "/"));

	if (delta > 0)
		atomic_fetch_add(&k->n, (size_t)delta);
	else if (delta < 0)
		atomic_fetch_sub(&k->n, (size_t)-delta);
}

size_t
live_objects(struct live *lv, const char *kind)
{
	size_t n = 0;

	for (size_t i = 0; i < LIVE_KINDS; i++)
		if (kind == NULL || strcmp(lv->kinds[i].name, kind) == 0)
			n += atomic_load(&lv->kinds[i].n);
	return n;
}

size_t
live_claims(struct live *lv)
{
	return atomic_load(&lv->claims);
}

struct list_arg {
	const char *prefix;   /* "Kind/" or "Kind/ns/" */
	size_t      len;
	const char *label, *value;   /* label NULL: every object */
	json_t     *out;
	int         rc;
};

static const struct jsonget_fields labels_fields[] = { { "labels", NULL }, { NULL, NULL } };
static const struct jsonget_fields metadata_labels[] = {
	{ "metadata", labels_fields }, { NULL, NULL } };

/* Whether o's metadata.labels[label] is value, read with its labels alone decoded. */
static int
has_label(const struct liveobj *o, const char *label, const char *value)
{
	json_t *t = liveobj_decode(o, metadata_labels);
	const char *v = jsonget_str(jsonget_path(t, "metadata.labels"), label);
	int r = t == NULL ? -1 : v != NULL && strcmp(v, value) == 0;

	json_decref(t);
	return r;
}

static void
list_one(const char *key, void *value, void *arg)
{
	struct list_arg *la = arg;
	json_t *c;

	if (la->rc != 0 || strncmp(key, la->prefix, la->len) != 0)
		return;
	if (la->label != NULL) {
		int r = has_label(value, la->label, la->value);
		if (r < 0)
			la->rc = -1;
		if (r != 1)
			return;
	}
	if ((c = liveobj_decode(value, NULL)) == NULL || json_array_append_new(la->out, c) != 0)
		la->rc = -1;
}

json_t *
live_get(struct live *lv, const char *kind, const char *ns, const char *name)
{
	char key[LIVE_KEY_MAX];
	json_t *c = NULL;
	int n = snprintf(key, sizeof(key), "%s/%s/%s", kind, ns != NULL ? ns : "", name);

	if (n < 0 || (size_t)n >= sizeof(key))
		return NULL;
	pthread_mutex_lock(&lv->wlock);
	const struct liveobj *o = strmap_get(lv->objects, key);
	if (o != NULL)
		c = liveobj_decode(o, NULL);
	pthread_mutex_unlock(&lv->wlock);
	return c;
}

json_t *
live_list_labelled(struct live *lv, const char *kind, const char *ns, const char *label,
    const char *value)
{
	char prefix[LIVE_KEY_MAX];
	struct list_arg la = { prefix, 0, label, value, json_array(), 0 };
	int n = ns != NULL ? snprintf(prefix, sizeof(prefix), "%s/%s/", kind, ns) :
	    snprintf(prefix, sizeof(prefix), "%s/", kind);

	if (la.out == NULL || n < 0 || (size_t)n >= sizeof(prefix)) {
		json_decref(la.out);
		return NULL;
	}
	la.len = (size_t)n;
	pthread_mutex_lock(&lv->wlock);
	strmap_each(lv->objects, list_one, &la);
	pthread_mutex_unlock(&lv->wlock);
	if (la.rc != 0) {
		json_decref(la.out);
		return NULL;
	}
	return la.out;
}

json_t *
live_list(struct live *lv, const char *kind, const char *ns)
{
	return live_list_labelled(lv, kind, ns, NULL, NULL);
}

/* ---- batches ---- */

static int
batch_push(struct batch *b, const char *key, struct liveobj *old, struct liveobj *new,
    json_t *tree)
{
	if (b->n == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 8;
		struct change *nv = realloc(b->v, ncap * sizeof(*nv));

		if (nv == NULL)
			return -1;
		b->v = nv;
		b->cap = ncap;
	}
	if ((b->v[b->n].key = strdup(key)) == NULL)
		return -1;
	b->v[b->n].old = old;
	b->v[b->n].new = new;
	b->v[b->n].tree = tree;
	b->v[b->n].old_shadowed = b->v[b->n].new_shadowed = false;
	b->n++;
	return 0;
}

/* Frees the batch; the `new` objects still in it (not committed) are released too. */
static void
batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->v[i].key);
		liveobj_free(b->v[i].new);
		json_decref(b->v[i].tree);
	}
	free(b->v);
	b->v = NULL;
	b->n = b->cap = 0;
}

/* ---- the oldest owner keeps a claim ---- */

/* Older first: creationTimestamp (RFC 3339 in UTC sorts as text), then the key. */
static int
age_cmp(const struct liveobj *a, const char *akey, const struct liveobj *b, const char *bkey)
{
	int c = strcmp(liveobj_created(a), liveobj_created(b));
	return c != 0 ? c : strcmp(akey, bkey);
}

enum shadow {
	SHADOW_NONE,      /* collides with nothing: keeps its claims */
	SHADOW_YES,       /* every object it collides with is older: it keeps none */
	SHADOW_REORDER,   /* it is older than an object holding a colliding claim: rebuild */
};

struct holders {
	struct live          *lv;
	const struct state   *st;
	const struct liveobj *obj;
	const char           *key;
	const char         *pattern;   /* the colliding claim being looked at */
	bool                newer;     /* a holder is younger than obj (or unknown) */
};

static void
holder_claim(const char *object, const char *pattern, void *arg)
{
	struct holders *h = arg;

	if (h->newer || strcmp(object, h->key) == 0 || !host_overlap(pattern, h->pattern))
		return;
	const struct liveobj *o = strmap_get(h->lv->objects, object);
	if (o == NULL || age_cmp(o, object, h->obj, h->key) > 0)
		h->newer = true;
}

static void
holder_owner(void *arg, const char *pattern, uint32_t holder)
{
	struct holders *h = arg;

	h->pattern = pattern;
	state_owner_objects(h->st, holder, holder_claim, h);
}

/*
 * What obj (tree: its claims' members), filed in sd under key, must become; the holders' ages
 * come from the map.
 */
static enum shadow
shadow_of(struct live *lv, const struct live_side *sd, const struct liveobj *obj,
    const json_t *tree, const char *key)
{
	struct holders h = { lv, sd->st, obj, key, NULL, false };

	if (collide_object(sd->cfg, sd->st, tree, holder_owner, &h) == 0)
		return SHADOW_NONE;
	return h.newer ? SHADOW_REORDER : SHADOW_YES;
}

/*
 * Applies every change to one side; -1 when any of them failed (it goes on regardless). The
 * first side decides which new objects are shadowed (each is filed, then taken out again
 * when it collides with older objects only), the second follows; *reorder is set when a new
 * object is older than one it collides with, which only a rebuild in age order settles.
 */
static int
batch_apply(struct live *lv, struct live_side *sd, struct batch *b, bool first, bool *reorder)
{
	char err[256];
	int rc = 0;

	for (size_t i = 0; i < b->n; i++) {
		struct change *c = &b->v[i];
		bool unfile = c->old != NULL && !c->old_shadowed;
		bool file = c->new != NULL && (first || !c->new_shadowed);
		const json_t *t = c->tree;
		json_t *decoded = NULL;

		if (!unfile && !file)
			continue;
		/*
		 * Unfiling needs only the key (state_remove_object takes back what was recorded
		 * under it), which new, old and the tree share: one tree serves both.
		 */
		if (t == NULL && (t = decoded = object_claims_tree(c->new != NULL ? c->new :
		    c->old)) == NULL) {
			rc = -1;
			continue;
		}
		if (unfile && state_remove_object(sd->st, sd->cfg, t) != 0)
			rc = -1;
		if (!file) {
			json_decref(decoded);
			continue;
		}
		if (state_add_object(sd->st, sd->cfg, t, err, sizeof(err)) != 0) {
			rc = -1;
		} else if (first) {
			enum shadow sh = shadow_of(lv, sd, c->new, t, c->key);
			*reorder |= sh == SHADOW_REORDER;
			if (sh == SHADOW_YES) {
				c->new_shadowed = true;
				if (state_remove_object(sd->st, sd->cfg, t) != 0)
					rc = -1;
			}
		}
		json_decref(decoded);
	}
	return rc;
}

struct stale_arg {
	struct live      *lv;
	struct live_side *sd;
	bool              stale;
};

/* Files a shadowed object in the writer's side for a moment, to see what it collides with. */
static void
stale_one(const char *key, void *value, void *arg)
{
	struct stale_arg *sa = arg;
	const struct liveobj *obj = strmap_get(sa->lv->objects, key);
	json_t *t = obj != NULL ? object_claims_tree(obj) : NULL;
	char err[256];

	(void)value;
	if (sa->stale || t == NULL || state_add_object(sa->sd->st, sa->sd->cfg, t, err,
	    sizeof(err)) != 0) {
		sa->stale = true;   /* when it already was, or on failure: a rebuild settles it */
		json_decref(t);
		return;
	}
	sa->stale = shadow_of(sa->lv, sa->sd, obj, t, key) != SHADOW_YES;
	if (state_remove_object(sa->sd->st, sa->sd->cfg, t) != 0)
		sa->stale = true;
	json_decref(t);
}

/*
 * After objects left the index: whether a shadowed object lost an older holder it collided
 * with (it may take its claims now, which a rebuild in age order settles). Uses the inactive
 * side, which no reader enters; it is left as it was.
 */
static bool
shadow_stale(struct live *lv)
{
	struct stale_arg sa = { lv, &lv->side[inactive(lv)], false };

	if (strmap_count(lv->shadowed) == 0)
		return false;
	strmap_each(lv->shadowed, stale_one, &sa);
	return sa.stale;
}

/* Moves the batch into the map: the new objects in, the old ones released. */
static int
batch_commit(struct live *lv, struct batch *b)
{
	int rc = 0;

	for (size_t i = 0; i < b->n; i++) {
		struct change *c = &b->v[i];

		if (c->new != NULL) {
			/* Replacing a value never allocates; only a new key can fail. */
			if (strmap_set(lv->objects, c->key, c->new) != 0) {
				liveobj_free(c->new);  /* the copies now hold claims the map lacks */
				c->old = NULL;         /* still the map's */
				rc = -1;
			} else if (c->old == NULL) {
				kind_count(lv, c->key, 1);
			}
		} else if (c->old != NULL) {
			strmap_del(lv->objects, c->key);
			kind_count(lv, c->key, -1);
		}
		c->new = NULL;
		liveobj_free(c->old);
		c->old = NULL;
	}
	return rc;
}

/* ---- rebuilding ---- */

/* One stored object, for filing them oldest first. */
struct aged {
	const char           *key;
	const struct liveobj *obj;
};

struct aged_list {
	struct aged *v;
	size_t       n;
};

static void
collect_aged(const char *key, void *value, void *arg)
{
	struct aged_list *al = arg;

	al->v[al->n++] = (struct aged){ key, value };
}

static int
aged_order(const void *a, const void *b)
{
	const struct aged *x = a, *y = b;
	return age_cmp(x->obj, x->key, y->obj, y->key);
}

/*
 * A new state of every stored object, built with cfg, oldest first: an object colliding with
 * older ones is taken out again and its key added to `shadowed` (when not NULL), as the audit
 * judges first-come claims. NULL when out of memory.
 */
static struct state *
build_state(struct live *lv, const struct config *cfg, struct strmap *shadowed)
{
	struct aged_list al = { calloc(strmap_count(lv->objects) + 1, sizeof(struct aged)), 0 };
	struct state *st = state_new();
	char err[256];

	if (al.v == NULL || st == NULL)
		goto fail;
	strmap_each(lv->objects, collect_aged, &al);
	qsort(al.v, al.n, sizeof(*al.v), aged_order);
	for (size_t i = 0; i < al.n; i++) {
		json_t *t = object_claims_tree(al.v[i].obj);
		bool ok = t != NULL && state_add_object(st, cfg, t, err, sizeof(err)) == 0;

		if (ok && collide_object(cfg, st, t, NULL, NULL) != 0)
			ok = state_remove_object(st, cfg, t) == 0 &&
			    (shadowed == NULL || strmap_set(shadowed, al.v[i].key, (void *)1) == 0);
		json_decref(t);
		if (!ok)
			goto fail;
	}
	free(al.v);
	return st;
fail:
	free(al.v);
	state_free(st);
	return NULL;
}

/*
 * Rebuilds both sides with `c` (NULL: the current config). Both states are built before the
 * flip, so a failure leaves the sides as they were. Writer lock held.
 */
static int
rebuild(struct live *lv, struct live_cfg *c)
{
	const struct config *cfg = c != NULL ? c->cfg : lv->cur->cfg;
	struct strmap *shadowed = strmap_new();
	struct state *s1 = shadowed ? build_state(lv, cfg, shadowed) : NULL;
	struct state *s2 = s1 ? build_state(lv, cfg, NULL) : NULL;
	int in, old;

	if (s1 == NULL || s2 == NULL) {
		state_free(s1);
		state_free(s2);
		strmap_free(shadowed);
		return -1;
	}
	strmap_free(lv->shadowed);
	lv->shadowed = shadowed;
	in = inactive(lv);
	state_free(lv->side[in].st);
	lv->side[in] = (struct live_side){ cfg, s1 };
	old = flip(lv, in);
	state_free(lv->side[old].st);
	lv->side[old] = (struct live_side){ cfg, s2 };
	if (c != NULL) {
		cfg_release(lv->cur);   /* no side and no reader refers to it any more */
		lv->cur = c;
	}
	lv->broken = false;
	claims_gauge(lv);
	return 0;
}

int
live_set_config(struct live *lv, const struct config *cfg, void (*release)(void *),
    void *release_arg)
{
	struct live_cfg *c = malloc(sizeof(*c));
	int rc;

	if (c == NULL) {
		if (release != NULL)
			release(release_arg);
		return -1;
	}
	*c = (struct live_cfg){ cfg, release, release_arg };
	pthread_mutex_lock(&lv->wlock);
	rc = rebuild(lv, c);
	pthread_mutex_unlock(&lv->wlock);
	if (rc != 0)
		cfg_release(c);
	return rc;
}

/*
 * Applies a batch to both sides, left-right, then moves it into the map. Before a config
 * exists only the map changes. Writer lock held. Takes the batch's new objects.
 */
static int
write_batch(struct live *lv, struct batch *b, char *err, size_t errsz)
{
	bool reorder = false, left = false;
	int rc = 0, in, old;

	if (b->n == 0)
		return 0;
	if (lv->cur == NULL)
		return batch_commit(lv, b);
	if (lv->broken && rebuild(lv, NULL) != 0) {
		snprintf(err, errsz, "out of memory rebuilding the claim index");
		return -1;
	}
	for (size_t i = 0; i < b->n; i++)
		b->v[i].old_shadowed = b->v[i].old != NULL &&
		    strmap_get(lv->shadowed, b->v[i].key) != NULL;
	in = inactive(lv);
	if (batch_apply(lv, &lv->side[in], b, true, &reorder) != 0)
		rc = -1;
	old = flip(lv, in);
	if (batch_apply(lv, &lv->side[old], b, false, &reorder) != 0)
		rc = -1;
	for (size_t i = 0; i < b->n; i++) {
		const struct change *c = &b->v[i];
		left |= c->old != NULL && !c->old_shadowed;
		if (c->old_shadowed)
			strmap_del(lv->shadowed, c->key);
		if (c->new_shadowed && strmap_set(lv->shadowed, c->key, (void *)1) != 0)
			rc = -1;
	}
	if (batch_commit(lv, b) != 0)
		rc = -1;
	/* An older object came in after a younger one it collides with, or a shadowed object
	 * may have lost what it collided with: file everything again, oldest first. */
	if (rc == 0 && (reorder || (left && shadow_stale(lv))))
		rc = -1;
	if (rc != 0) {
		/* Remove and add disagreed with the index (or memory ran out), or the age order
		 * needs it: start again from the map, which is the truth, so the two sides never
		 * drift apart. */
		lv->broken = true;
		if (rebuild(lv, NULL) != 0) {
			snprintf(err, errsz, "the claim index could not be updated (out of memory)");
			return -1;
		}
	}
	claims_gauge(lv);
	return 0;
}

int
live_upsert(struct live *lv, const json_t *obj, char *err, size_t errsz)
{
	struct batch b = { 0 };
	char key[LIVE_KEY_MAX];
	struct liveobj *enc;
	json_t *tree;
	int rc = -1;

	if (object_key(obj, key, sizeof(key)) != 0) {
		snprintf(err, errsz, "object without kind or metadata.name");
		return -1;
	}
	if ((tree = liveobj_trim(obj)) == NULL || (enc = liveobj_new(tree)) == NULL) {
		json_decref(tree);
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	pthread_mutex_lock(&lv->wlock);
	if (batch_push(&b, key, strmap_get(lv->objects, key), enc, tree) != 0) {
		liveobj_free(enc);
		json_decref(tree);
		snprintf(err, errsz, "out of memory");
	} else {
		rc = write_batch(lv, &b, err, errsz);
	}
	pthread_mutex_unlock(&lv->wlock);
	batch_free(&b);
	return rc;
}

int
live_delete(struct live *lv, const json_t *obj, char *err, size_t errsz)
{
	struct batch b = { 0 };
	char key[LIVE_KEY_MAX];
	struct liveobj *old;
	int rc = 0;

	if (object_key(obj, key, sizeof(key)) != 0) {
		snprintf(err, errsz, "object without kind or metadata.name");
		return -1;
	}
	pthread_mutex_lock(&lv->wlock);
	if ((old = strmap_get(lv->objects, key)) != NULL) {
		/* The event's object has the stored one's key: what unfiling needs. */
		if (batch_push(&b, key, old, NULL, json_incref((json_t *)obj)) != 0) {
			json_decref((json_t *)obj);
			snprintf(err, errsz, "out of memory");
			rc = -1;
		} else {
			rc = write_batch(lv, &b, err, errsz);
		}
	}
	pthread_mutex_unlock(&lv->wlock);
	batch_free(&b);
	return rc;
}

/* ---- relists ---- */

struct relist_item {
	char           *key;
	struct liveobj *obj;   /* NULL once a batch took it */
};

struct live_relist {
	struct relist_item *v;
	size_t              n, cap;
};

struct live_relist *
live_relist_new(void)
{
	return calloc(1, sizeof(struct live_relist));
}

void
live_relist_free(struct live_relist *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].key);
		liveobj_free(r->v[i].obj);
	}
	free(r->v);
	free(r);
}

size_t
live_relist_count(const struct live_relist *r)
{
	return r->n;
}

int
live_relist_add(struct live_relist *r, const json_t *obj)
{
	char key[LIVE_KEY_MAX];
	json_t *tree;
	struct liveobj *enc;

	if (object_key(obj, key, sizeof(key)) != 0)
		return 0;   /* not an object the cache can file: the relist leaves it out */
	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 64;
		struct relist_item *nv = realloc(r->v, ncap * sizeof(*nv));

		if (nv == NULL)
			return -1;
		r->v = nv;
		r->cap = ncap;
	}
	tree = liveobj_trim(obj);
	enc = tree != NULL ? liveobj_new(tree) : NULL;
	json_decref(tree);
	if (enc == NULL)
		return -1;
	if ((r->v[r->n].key = strdup(key)) == NULL) {
		liveobj_free(enc);
		return -1;
	}
	r->v[r->n++].obj = enc;
	return 0;
}

struct gone_arg {
	struct live   *lv;
	const char    *prefix;   /* "Kind/" */
	size_t         plen;
	struct strmap *seen;     /* keys of the new list */
	struct batch  *b;
	int            rc;
};

static void
collect_gone(const char *key, void *value, void *arg)
{
	struct gone_arg *g = arg;

	if (strncmp(key, g->prefix, g->plen) == 0 && strmap_get(g->seen, key) == NULL &&
	    batch_push(g->b, key, value, NULL, NULL) != 0)
		g->rc = -1;
}

int
live_relist_apply(struct live *lv, const char *kind, struct live_relist *r, char *err,
    size_t errsz)
{
	struct batch b = { 0 };
	struct strmap *seen = strmap_new_borrowed();   /* keys: the relist's */
	char prefix[64];
	size_t plen;
	int rc = -1;

	snprintf(err, errsz, "out of memory");
	if (seen == NULL)
		return -1;
	/* The key's kind, which is the informer's (Istio's Gateway is keyed apart). */
	snprintf(prefix, sizeof(prefix), "%s/", kind);
	plen = strlen(prefix);
	pthread_mutex_lock(&lv->wlock);
	for (size_t i = 0; i < r->n; i++) {
		struct relist_item *it = &r->v[i];
		struct liveobj *old;

		if (strncmp(it->key, prefix, plen) != 0 || strmap_get(seen, it->key) != NULL)
			continue;
		if (strmap_set(seen, it->key, (void *)1) != 0)
			goto out;
		old = strmap_get(lv->objects, it->key);
		if (old != NULL && liveobj_rv(old) != NULL && liveobj_rv(it->obj) != NULL &&
		    strcmp(liveobj_rv(old), liveobj_rv(it->obj)) == 0)
			continue;   /* unchanged since we saw it */
		if (batch_push(&b, it->key, old, it->obj, NULL) != 0)
			goto out;
		it->obj = NULL;
	}
	{
		struct gone_arg g = { lv, prefix, plen, seen, &b, 0 };

		strmap_each(lv->objects, collect_gone, &g);
		if (g.rc != 0)
			goto out;
	}
	rc = write_batch(lv, &b, err, errsz);
out:
	pthread_mutex_unlock(&lv->wlock);
	batch_free(&b);
	strmap_free(seen);
	return rc;
}
