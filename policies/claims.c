/* SPDX-License-Identifier: Apache-2.0 */
/* claims: suffix-keyed hash index with per-owner counts at every node. */
#include "claims.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "strmap.h"

/* owner -> count; two entries inline (the common case), a probing table beyond that. */
struct owner_count {
	uint32_t owner;
	uint32_t count;
};

struct ownerset {
	uint32_t n;    /* distinct owners */
	uint32_t cap;  /* 0: inline; else table size (power of two) */
	union {
		struct owner_count inl[2];
		struct owner_count *tab;
	} u;
};

struct node {
	struct ownerset exact;  /* claims of the name itself */
	struct ownerset wild;   /* claims of "*.name" */
	struct ownerset below;  /* claims of names strictly below this one */
	char            name[]; /* the node's key in nodes (which borrows it) */
};

/* The ancestors of the name claims_add filed last, parent first: the next name's are often the same. */
#define CHAIN_MAX 16

struct claims {
	struct strmap *nodes;   /* suffix -> struct node */
	size_t         count;
	struct node   *chain[CHAIN_MAX];
	size_t         chain_n;   /* 0: none kept (a node was dropped, or a deeper name) */
};

#define EMPTY CLAIMS_NO_OWNER

static struct owner_count *
table_slot(struct owner_count *tab, uint32_t cap, uint32_t owner)
{
	uint32_t i = (owner * 2654435761u) & (cap - 1);
	while (tab[i].owner != EMPTY && tab[i].owner != owner)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static int
table_resize(struct ownerset *s, uint32_t ncap, const struct owner_count *from, uint32_t nfrom)
{
	struct owner_count *tab = malloc(sizeof(*tab) * ncap);
	if (tab == NULL)
		return -1;
	for (uint32_t i = 0; i < ncap; i++)
		tab[i].owner = EMPTY;
	for (uint32_t i = 0; i < nfrom; i++)
		if (from[i].owner != EMPTY)
			*table_slot(tab, ncap, from[i].owner) = from[i];
	s->u.tab = tab;
	s->cap = ncap;
	return 0;
}

static int
ownerset_add(struct ownerset *s, uint32_t owner)
{
	if (s->cap == 0) {
		for (uint32_t i = 0; i < s->n; i++)
			if (s->u.inl[i].owner == owner) {
				s->u.inl[i].count++;
				return 0;
			}
		if (s->n < 2) {
			s->u.inl[s->n++] = (struct owner_count){ owner, 1 };
			return 0;
		}
		struct owner_count old[2] = { s->u.inl[0], s->u.inl[1] };
		if (table_resize(s, 8, old, 2) != 0)
			return -1;
	}
	struct owner_count *slot = table_slot(s->u.tab, s->cap, owner);
	if (slot->owner == owner) {
		slot->count++;
		return 0;
	}
	if ((s->n + 1) * 4 > s->cap * 3) {
		struct owner_count *old = s->u.tab;
		uint32_t oldcap = s->cap;
		if (table_resize(s, oldcap * 2, old, oldcap) != 0)
			return -1;
		free(old);
		slot = table_slot(s->u.tab, s->cap, owner);
	}
	*slot = (struct owner_count){ owner, 1 };
	s->n++;
	return 0;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void
table_delete(struct owner_count *tab, uint32_t cap, struct owner_count *hole)
{
	uint32_t i = (uint32_t)(hole - tab);
	for (uint32_t j = (i + 1) & (cap - 1); tab[j].owner != EMPTY; j = (j + 1) & (cap - 1)) {
		uint32_t home = (tab[j].owner * 2654435761u) & (cap - 1);
		/* Move j into the hole unless its home lies cyclically in (i, j]. */
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!stays) {
			tab[i] = tab[j];
			i = j;
		}
	}
	tab[i].owner = EMPTY;
}

static int
ownerset_remove(struct ownerset *s, uint32_t owner)
{
	if (s->cap == 0) {
		for (uint32_t i = 0; i < s->n; i++)
			if (s->u.inl[i].owner == owner) {
				if (--s->u.inl[i].count == 0)
					s->u.inl[i] = s->u.inl[--s->n];
				return 0;
			}
		return -1;
	}
	struct owner_count *slot = table_slot(s->u.tab, s->cap, owner);
	if (slot->owner != owner)
		return -1;
	if (--slot->count == 0) {
		table_delete(s->u.tab, s->cap, slot);
		s->n--;
	}
	return 0;
}

static uint32_t
ownerset_count(const struct ownerset *s, uint32_t owner)
{
	if (s->cap == 0) {
		for (uint32_t i = 0; i < s->n; i++)
			if (s->u.inl[i].owner == owner)
				return s->u.inl[i].count;
		return 0;
	}
	const struct owner_count *slot = table_slot(s->u.tab, s->cap, owner);
	return slot->owner == owner ? slot->count : 0;
}

static void
ownerset_release(struct ownerset *s)
{
	if (s->cap != 0)
		free(s->u.tab);
}

/* Appends owners of s other than `exclude` not yet in out[]; returns the new count. */
static size_t
ownerset_collect(const struct ownerset *s, uint32_t exclude, uint32_t *out, size_t n, size_t max)
{
	if (s->n == 0 || n >= max ||
	    (s->n == 1 && exclude != EMPTY && ownerset_count(s, exclude) > 0))
		return n;
	uint32_t len = s->cap == 0 ? s->n : s->cap;
	const struct owner_count *e = s->cap == 0 ? s->u.inl : s->u.tab;
	/* At most max+1 useful owners exist among the first entries found: stop early. */
	for (uint32_t i = 0; i < len && n < max; i++) {
		if (e[i].owner == EMPTY || e[i].owner == exclude)
			continue;
		bool seen = false;
		for (size_t k = 0; k < n; k++)
			seen |= out[k] == e[i].owner;
		if (!seen)
			out[n++] = e[i].owner;
	}
	return n;
}

struct claims *
claims_new(void)
{
	struct claims *c = calloc(1, sizeof(*c));
	if (c == NULL || (c->nodes = strmap_new_borrowed()) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

int
claims_reserve(struct claims *c, size_t n)
{
	return strmap_reserve(c->nodes, n);
}

static void
node_free(const char *key, void *value, void *arg)
{
	struct node *nd = value;
	(void)key;
	(void)arg;
	ownerset_release(&nd->exact);
	ownerset_release(&nd->wild);
	ownerset_release(&nd->below);
	free(nd);
}

void
claims_free(struct claims *c)
{
	if (c == NULL)
		return;
	strmap_each(c->nodes, node_free, NULL);
	strmap_free(c->nodes);
	free(c);
}

static struct node *
node_get(struct claims *c, const char *name, bool create)
{
	size_t len = strlen(name);
	struct node *nd = strmap_getn(c->nodes, name, len);
	if (nd != NULL || !create)
		return nd;
	if ((nd = calloc(1, sizeof(*nd) + len + 1)) == NULL)
		return NULL;
	memcpy(nd->name, name, len + 1);
	if (strmap_setn(c->nodes, nd->name, len, nd) != 0) {
		free(nd);
		return NULL;
	}
	return nd;
}

static bool
node_empty(const struct node *nd)
{
	return nd->exact.n == 0 && nd->wild.n == 0 && nd->below.n == 0;
}

static void
node_drop_if_empty(struct claims *c, const char *name, struct node *nd)
{
	if (node_empty(nd)) {
		c->chain_n = 0;   /* it may be one of them */
		strmap_del(c->nodes, name);
		node_free(name, nd, NULL);
	}
}

/* The suffix after the first label of name, or NULL at the last label. */
static const char *
parent_of(const char *name)
{
	const char *dot = strchr(name, '.');
	return dot ? dot + 1 : NULL;
}

static const char *
name_of(const char *pattern)
{
	return host_is_wildcard(pattern) ? pattern + 2 : pattern;
}

/*
 * Counts owner below every ancestor of name: through the ancestors kept from the last call
 * when name has the same parent (a List of one tenant's hosts does, one after another),
 * else looked up, and kept. 0, or -1 (then none of them counts it).
 */
static int
ancestors_add(struct claims *c, const char *name, uint32_t owner)
{
	const char *parent = parent_of(name);
	size_t n = 0;

	if (parent == NULL)
		return 0;
	if (c->chain_n == 0 || strcmp(c->chain[0]->name, parent) != 0) {
		c->chain_n = 0;
		for (const char *p = parent; p != NULL; p = parent_of(p)) {
			struct node *anc = node_get(c, p, true);
			if (anc == NULL)
				return -1;
			if (n < CHAIN_MAX)
				c->chain[n] = anc;
			n++;
		}
		c->chain_n = n <= CHAIN_MAX ? n : 0;
		if (c->chain_n == 0) {
			/* Too deep to keep: counted by lookup. */
			for (const char *p = parent; p != NULL; p = parent_of(p))
				if (ownerset_add(&node_get(c, p, false)->below, owner) != 0) {
					for (const char *q = parent; q != p; q = parent_of(q))
						ownerset_remove(&node_get(c, q, false)->below, owner);
					return -1;
				}
			return 0;
		}
	}
	for (size_t i = 0; i < c->chain_n; i++)
		if (ownerset_add(&c->chain[i]->below, owner) != 0) {
			while (i-- > 0)
				ownerset_remove(&c->chain[i]->below, owner);
			return -1;
		}
	return 0;
}

int
claims_add(struct claims *c, const char *pattern, uint32_t owner)
{
	const char *name = name_of(pattern);
	struct node *nd = node_get(c, name, true);
	if (nd == NULL)
		return -1;
	if (ownerset_add(host_is_wildcard(pattern) ? &nd->wild : &nd->exact, owner) != 0)
		return -1;
	if (ancestors_add(c, name, owner) != 0) {
		/* Undo the part already counted so the index stays consistent. */
		ownerset_remove(host_is_wildcard(pattern) ? &nd->wild : &nd->exact, owner);
		node_drop_if_empty(c, name, nd);
		return -1;
	}
	c->count++;
	return 0;
}

int
claims_remove(struct claims *c, const char *pattern, uint32_t owner)
{
	const char *name = name_of(pattern);
	struct node *nd = node_get(c, name, false);
	if (nd == NULL ||
	    ownerset_remove(host_is_wildcard(pattern) ? &nd->wild : &nd->exact, owner) != 0)
		return -1;
	node_drop_if_empty(c, name, nd);
	for (const char *p = parent_of(name); p != NULL; p = parent_of(p)) {
		struct node *anc = node_get(c, p, false);
		if (anc != NULL) {
			ownerset_remove(&anc->below, owner);
			node_drop_if_empty(c, p, anc);
		}
	}
	c->count--;
	return 0;
}

size_t
claims_find(const struct claims *c, const char *pattern, enum claims_mode mode,
    uint32_t exclude, uint32_t *out, size_t max)
{
	bool wild = host_is_wildcard(pattern);
	const char *name = name_of(pattern);
	size_t n = 0;
	struct node *nd = strmap_get(c->nodes, name);

	if (nd != NULL) {
		/* x is hit by claims of x; *.d by claims of *.d and, when overlapping, anything below d. */
		n = ownerset_collect(wild ? &nd->wild : &nd->exact, exclude, out, n, max);
		if (wild && mode == CLAIMS_OVERLAP)
			n = ownerset_collect(&nd->below, exclude, out, n, max);
	}
	/* Wildcards of strict ancestors cover the pattern either way. */
	for (const char *p = parent_of(name); p != NULL && n < max; p = parent_of(p)) {
		struct node *anc = strmap_get(c->nodes, p);
		if (anc != NULL)
			n = ownerset_collect(&anc->wild, exclude, out, n, max);
	}
	return n;
}

bool
claims_holds(const struct claims *c, const char *pattern, uint32_t owner)
{
	const struct node *nd;
	if (owner == CLAIMS_NO_OWNER || (nd = strmap_get(c->nodes, name_of(pattern))) == NULL)
		return false;
	return ownerset_count(host_is_wildcard(pattern) ? &nd->wild : &nd->exact, owner) > 0;
}

size_t
claims_count(const struct claims *c)
{
	return c->count;
}
