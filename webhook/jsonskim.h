/* SPDX-License-Identifier: Apache-2.0 */
/* jsonskim: JSON values decoded into jansson, skipping (but validating) unwanted members. */
#ifndef TG_JSONSKIM_H
#define TG_JSONSKIM_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "jsonget.h"

/* A cursor over JSON text; p, len and pos are the caller's to read and move. */
struct jsonskim {
	const char *p;
	size_t      len, pos;
	/* Scratch for duplicate-key checks, grown as needed and kept across values. */
	struct jsonskim_key *keys;
	size_t               n_keys, cap_keys;
	char                *kbuf;   /* keys with escapes, decoded */
	size_t               n_kbuf, cap_kbuf;
	int                  depth;
};

void jsonskim_init(struct jsonskim *s, const char *buf, size_t len);
/* Frees the scratch; the text stays the caller's. */
void jsonskim_release(struct jsonskim *s);

/* Moves pos past white space. */
void jsonskim_ws(struct jsonskim *s);

/*
 * The JSON value at pos (white space before it skipped) as a new jansson reference, pos moved
 * past it; NULL when the text there is not a value jansson's json_loadb would accept with
 * JSON_REJECT_DUPLICATES (then pos is anywhere). Of every object at a level of keep, only
 * the members it names are decoded (each with its sub), the others are only checked; keep
 * NULL decodes everything. Allocates through jansson's allocator (so, in an arena scope, in
 * the arena).
 */
json_t *jsonskim_value(struct jsonskim *s, const struct jsonget_fields *keep);

#endif
