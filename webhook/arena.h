/* SPDX-License-Identifier: Apache-2.0 */
/* arena: a per-thread bump allocator behind jansson for the length of one review. */
#ifndef TG_ARENA_H
#define TG_ARENA_H
#include <stdbool.h>

/*
 * Installs the arena as jansson's allocator (once per process; safe to call repeatedly).
 * Outside an arena scope every jansson allocation still goes to malloc/free.
 */
void arena_install(void);

/*
 * Opens this thread's scope: until arena_end(), jansson allocations on this thread are bump
 * allocated and frees are no-ops. Nothing allocated inside may outlive arena_end(), and
 * nothing allocated outside may be freed inside. Scopes do not nest.
 */
void arena_begin(void);
/* Closes the scope and reclaims everything allocated in it at once. */
void arena_end(void);

/*
 * Suspends this thread's scope (jansson allocations and frees go to malloc/free again) for
 * code that keeps or frees jansson memory with the plain allocator, such as the API client;
 * what it allocates must not be freed after arena_resume(). Returns what arena_resume takes.
 */
bool arena_pause(void);
void arena_resume(bool was);

/* Frees the chunk this thread's arena keeps between scopes: for a thread about to end. */
void arena_release(void);

#endif
