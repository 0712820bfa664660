/* SPDX-License-Identifier: Apache-2.0 */
/* collide: the first-come claims of a filed object that overlap another owner's. */
#ifndef TG_COLLIDE_H
#define TG_COLLIDE_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct state;

/* One collision: the object's `pattern` overlaps a claim of owner `holder` (a state id). */
typedef void (*collide_fn)(void *arg, const char *pattern, uint32_t holder);

/*
 * The collisions DESIGN §1 calls host-collision, as the rules find them (owner.c), of the
 * object `obj` already filed in `st` (state_add_object): for each of its claims, unless it
 * touches the system domain or overlaps a reservation (host-ownership decides those), every
 * other owner holding an overlapping claim in st, reported through fn (may be NULL). Objects
 * of the entry namespace collide with nothing (their rules route to tenants: entry-route
 * decides). Returns how many were reported. Costs the object's claims.
 */
size_t collide_object(const struct config *cfg, const struct state *st, const json_t *obj,
    collide_fn fn, void *arg);

#endif
