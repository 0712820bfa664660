/* SPDX-License-Identifier: Apache-2.0 */
/* strmap: linear-probing hash map with tombstones; load kept under 0.7. */
#include "strmap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	char     *key;     /* NULL: empty; TOMBSTONE: deleted */
	size_t    len;
	uint64_t  hash;
	void     *value;
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
find(const struct strmap *m, const char *key, size_t len, uint64_t h)
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
	struct slot *s = find(m, key, len, strmap_hash(key, len));
	return s ? s->value : NULL;
}

void *
strmap_get(const struct strmap *m, const char *key)
{
	return strmap_getn(m, key, strlen(key));
}

static int
rehash(struct strmap *m, size_t ncap)
{
	struct slot *ns = calloc(ncap, sizeof(*ns));
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

int
strmap_setn(struct strmap *m, const char *key, size_t len, void *value)
{
	uint64_t h = strmap_hash(key, len);
	struct slot *s = find(m, key, len, h);
	if (s != NULL) {
		s->value = value;
		return 0;
	}
	if ((m->used + m->dead + 1) * 10 > m->cap * 7 && grow(m) != 0)
		return -1;
	char *copy = (char *)key;
	if (!m->borrowed) {
		if ((copy = malloc(len + 1)) == NULL)
			return -1;
		memcpy(copy, key, len);
		copy[len] = '\0';
	}
	size_t mask = m->cap - 1;
	size_t i = h & mask;
	while (m->slots[i].key != NULL && m->slots[i].key != TOMBSTONE)
		i = (i + 1) & mask;
	if (m->slots[i].key == TOMBSTONE)
		m->dead--;
	m->slots[i] = (struct slot){ copy, len, h, value };
	m->used++;
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
	struct slot *s = find(m, key, len, strmap_hash(key, len));
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
