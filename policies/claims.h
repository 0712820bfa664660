/* SPDX-License-Identifier: Apache-2.0 */
/* claims: index of host claims (pattern, owner) answering overlap queries in O(labels). */
#ifndef TG_CLAIMS_H
#define TG_CLAIMS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Every claim is filed under its name's node (the pattern without "*."), and every ancestor
 * suffix node counts, per owner, the claims below it. A query walks the suffixes of one
 * pattern, so its cost depends on the number of labels, never on the number of claims.
 */
struct claims;

#define CLAIMS_NO_OWNER UINT32_MAX

enum claims_mode {
	CLAIMS_OVERLAP,  /* claims that share at least one host with the pattern */
	CLAIMS_COVER,    /* claims that cover every host of the pattern */
};

struct claims *claims_new(void);
void claims_free(struct claims *c);

/*
 * Adds one claim of normalised `pattern` by `owner`. Claims are counted, so the same
 * pattern added twice by one owner must be removed twice. 0, or -1 on allocation failure.
 */
int claims_add(struct claims *c, const char *pattern, uint32_t owner);
/* Removes one claim added by claims_add; -1 when there is none. */
int claims_remove(struct claims *c, const char *pattern, uint32_t owner);

/*
 * Writes to out[] up to `max` distinct owners, other than `exclude`, with a claim that
 * overlaps (or covers) normalised `pattern`; returns how many it wrote.
 */
size_t claims_find(const struct claims *c, const char *pattern, enum claims_mode mode,
    uint32_t exclude, uint32_t *out, size_t max);

/* Does `owner` hold a claim of exactly normalised `pattern` (not merely an overlapping one)? */
bool claims_holds(const struct claims *c, const char *pattern, uint32_t owner);

/* Number of claims held (with multiplicity). */
size_t claims_count(const struct claims *c);

/* Makes room for n names in the index (see strmap_reserve); 0 or -1. */
int claims_reserve(struct claims *c, size_t n);

#endif
