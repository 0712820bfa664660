/* SPDX-License-Identifier: Apache-2.0 */
/* strmap: linear-probing hash map with tombstones; load kept under 0.7. */
#include "strmap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* 24 bytes: the slot tables of the big maps are a fair share of the index's memory. */
struct slot {
	char     *key;     /* NULL: empty; TOMBSTONE: deleted */
	void     *value;
	uint32_t  hash;    /* the low half of the key's hash: the slot and a cheap compare */
	uint32_t  len;     /* keys are far below 4 GiB */
};

struct strmap {
	struct slot *slots;
	size_t       cap;   /* power of two */
	size_t       used;  /* live entries */
	size_t       dead;  /* tombstones */
	bool         borrowed;   /* keys are the caller's, not copies */
};

static char tombstone_mark;
#define TOMBSTONE (&tombstone_mark)

uint64_t
strmap_hash(const char *key, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ULL;
	}
	return h;
}

struct strmap *
strmap_new(void)
{
	struct strmap *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->cap = 16;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	if (m->slots == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

struct strmap *
strmap_new_borrowed(void)
{
	struct strmap *m = strmap_new();
	if (m != NULL)
		m->borrowed = true;
	return m;
}

void
strmap_free(struct strmap *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->cap && !m->borrowed; i++)
		if (m->slots[i].key != NULL && m->slots[i].key != TOMBSTONE)
			free(m->slots[i].key);
	free(m->slots);
	free(m);
}

static struct slot *
find(const struct strmap *m, const char *key, size_t len, uint32_t h)
{
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct slot *s = &m->slots[i];
		if (s->key == NULL)
			return NULL;
		if (s->key != TOMBSTONE && s->hash == h && s->len == len &&
		    memcmp(s->key, key, len) == 0)
			return s;
	}
}

void *
strmap_getn(const struct strmap *m, const char *key, size_t len)
{
	struct slot *s = find(m, key, len, (uint32_t)strmap_hash(key, len));
	return s ? s->value : NULL;
}

void *
strmap_get(const struct strmap *m, const char *key)
{
	return strmap_getn(m, key, strlen(key));
}

/*
 * A zeroed slot table. One of 2 MiB or more starts on a 2 MiB boundary, so that the kernel
 * can back it with transparent huge pages: a 100k-entry map otherwise takes a page fault
 * per 4 KiB as it fills, which dominated loading a big state (as calloc gives it, its
 * mapping starts anywhere).
 */
#define SLOTS_HUGE ((size_t)2 << 20)

static struct slot *
slots_new(size_t n)
{
	size_t bytes = n * sizeof(struct slot);
	struct slot *s;

	if (bytes < SLOTS_HUGE)
		return calloc(n, sizeof(struct slot));
	bytes = (bytes + SLOTS_HUGE - 1) / SLOTS_HUGE * SLOTS_HUGE;   /* as aligned_alloc wants */
	if ((s = aligned_alloc(SLOTS_HUGE, bytes)) != NULL)
		memset(s, 0, bytes);
	return s;
}

static int
rehash(struct strmap *m, size_t ncap)
{
	struct slot *ns = slots_new(ncap);
	if (ns == NULL)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		struct slot *s = &m->slots[i];
		if (s->key == NULL || s->key == TOMBSTONE)
			continue;
		size_t j = s->hash & (ncap - 1);
		while (ns[j].key != NULL)
			j = (j + 1) & (ncap - 1);
		ns[j] = *s;
	}
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
	m->dead = 0;
	return 0;
}

static int
grow(struct strmap *m)
{
	return rehash(m, m->used * 2 + 1 > m->cap / 2 ? m->cap * 2 : m->cap);
}

int
strmap_reserve(struct strmap *m, size_t n)
{
	size_t ncap = m->cap;

	while ((n + 1) * 10 > ncap * 7)
		ncap *= 2;
	return ncap == m->cap ? 0 : rehash(m, ncap);
}

/*
 * The slot key[0..len) (hash h) is in, or the one it goes to (a tombstone on its chain, else
 * the empty slot ending it): one probe sequence for a get-or-insert.
 */
static struct slot *
place(struct strmap *m, const char *key, size_t len, uint32_t h, bool *found)
{
	size_t mask = m->cap - 1;
	struct slot *free_slot = NULL;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct slot *s = &m->slots[i];
		if (s->key == NULL) {
			*found = false;
			return free_slot != NULL ? free_slot : s;
		}
		if (s->key == TOMBSTONE) {
			if (free_slot == NULL)
				free_slot = s;
		} else if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) {
			*found = true;
			return s;
		}
	}
}

void **
strmap_upsertn(struct strmap *m, const char *key, size_t len, bool *created)
{
	uint32_t h = (uint32_t)strmap_hash(key, len);
	bool found;
	struct slot *s = place(m, key, len, h, &found);

	if (found) {
		*created = false;
		return &s->value;
	}
	if ((m->used + m->dead + 1) * 10 > m->cap * 7) {
		if (grow(m) != 0)
			return NULL;
		s = place(m, key, len, h, &found);
	}
	char *copy = (char *)key;
	if (!m->borrowed) {
		if ((copy = malloc(len + 1)) == NULL)
			return NULL;
		memcpy(copy, key, len);
		copy[len] = '\0';
	}
	if (s->key == TOMBSTONE)
		m->dead--;
	*s = (struct slot){ copy, NULL, h, (uint32_t)len };
	m->used++;
	*created = true;
	return &s->value;
}

int
strmap_setn(struct strmap *m, const char *key, size_t len, void *value)
{
	bool created;
	void **v = strmap_upsertn(m, key, len, &created);

	if (v == NULL)
		return -1;
	*v = value;
	return 0;
}

int
strmap_rekey(struct strmap *m, const char *key)
{
	size_t len = strlen(key);
	struct slot *s = find(m, key, len, (uint32_t)strmap_hash(key, len));

	if (s == NULL || !m->borrowed)
		return -1;
	s->key = (char *)key;
	return 0;
}

int
strmap_set(struct strmap *m, const char *key, void *value)
{
	return strmap_setn(m, key, strlen(key), value);
}

void *
strmap_del(struct strmap *m, const char *key)
{
	size_t len = strlen(key);
	struct slot *s = find(m, key, len, (uint32_t)strmap_hash(key, len));
	if (s == NULL)
		return NULL;
	void *v = s->value;
	if (!m->borrowed)
		free(s->key);
	s->key = TOMBSTONE;
	s->value = NULL;
	m->used--;
	m->dead++;
	return v;
}

size_t
strmap_count(const struct strmap *m)
{
	return m->used;
}

void
strmap_each(const struct strmap *m, void (*fn)(const char *, void *, void *), void *arg)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key != NULL && m->slots[i].key != TOMBSTONE)
			fn(m->slots[i].key, m->slots[i].value, arg);
}
