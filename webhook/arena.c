/* SPDX-License-Identifier: Apache-2.0 */
/* arena: jansson's many small allocations of one review, freed in one step (DESIGN §7). */
#include "arena.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#define ARENA_CHUNK (64 * 1024)

struct chunk {
	struct chunk *next;
	size_t        used;
	size_t        size;
	max_align_t   data[];
};

struct arena {
	bool          active;
	struct chunk *head;   /* current chunk; the first one is kept between scopes */
};

static _Thread_local struct arena arena;
static pthread_once_t installed = PTHREAD_ONCE_INIT;

static struct chunk *
chunk_new(size_t size, struct chunk *next)
{
	struct chunk *c = malloc(sizeof(*c) + size);
	if (c != NULL) {
		c->next = next;
		c->used = 0;
		c->size = size;
	}
	return c;
}

static void *
arena_malloc(size_t n)
{
	if (!arena.active)
		return malloc(n);
	n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	struct chunk *c = arena.head;
	if (c == NULL || c->size - c->used < n) {
		c = chunk_new(n > ARENA_CHUNK ? n : ARENA_CHUNK, arena.head);
		if (c == NULL)
			return NULL;
		arena.head = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

static void
arena_free(void *p)
{
	if (!arena.active)
		free(p);
	/* Inside a scope everything goes at arena_end(). */
}

static void
install(void)
{
	json_set_alloc_funcs(arena_malloc, arena_free);
}

void
arena_install(void)
{
	pthread_once(&installed, install);
}

/*
 * Under AddressSanitizer the arena stays closed: ASan then sees every jansson allocation
 * on its own, which is worth more in the tests than exercising the bump allocator. gcc says
 * so with __SANITIZE_ADDRESS__, clang (the fuzz build) only through __has_feature.
 */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_UNDER_ASAN
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(ARENA_UNDER_ASAN)
#define ARENA_ENABLED false
#else
#define ARENA_ENABLED true
#endif

void
arena_begin(void)
{
	arena_install();
	arena.active = ARENA_ENABLED;
}

void
arena_end(void)
{
	/* Keep the oldest chunk (the tail) for the next review; release the rest. */
	struct chunk *c = arena.head, *keep = NULL;
	while (c != NULL) {
		struct chunk *next = c->next;
		if (next == NULL && c->size == ARENA_CHUNK) {
			keep = c;
			keep->used = 0;
		} else {
			free(c);
		}
		c = next;
	}
	arena.head = keep;
	arena.active = false;
}

bool
arena_pause(void)
{
	bool was = arena.active;
	arena.active = false;
	return was;
}

void
arena_resume(bool was)
{
	arena.active = was;
}

void
arena_release(void)
{
	arena_end();
	free(arena.head);
	arena.head = NULL;
}
