/* SPDX-License-Identifier: Apache-2.0 */
/* statejson: the objects of a JSON state document, parsed by jansson one object at a time. */
#ifndef TG_STATEJSON_H
#define TG_STATEJSON_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "jsonget.h"

/* statejson_each's answer when buf is not one JSON document of the shapes it streams. */
#define STATEJSON_NOT_JSON 1

/* Whether kind (borrowed, may be NULL) names a Kubernetes list: "List" or any "*List". */
bool statejson_list_kind(const json_t *kind);

/*
 * Called with each object (borrowed: valid during the call only), its index from 0 and where
 * its text is: from start (its first byte) to end, just past it (how far the walk has come),
 * so a reader that skimmed it can decode that text whole; 0 goes on, anything else stops the
 * walk and is what statejson_each returns.
 */
typedef int (*statejson_fn)(json_t *obj, size_t i, size_t start, size_t end, void *arg);

/*
 * Walks the objects of the JSON document in buf (len bytes): the items of a List (kind
 * "List" or any "*List" with items; a null items is empty), the elements of an array, or
 * one other object, exactly the objects the YAML reader would see in the same text. Each
 * item is parsed on its own (what json_loadb with JSON_REJECT_DUPLICATES accepts) and freed
 * after fn, so memory holds one object at a time, not the document's tree. Of a streamed
 * item only the members keep names are built (jsonskim; NULL: all of it), the rest only
 * checked; one object that is the whole document is built whole. With scratch, every item is allocated in
 * this thread's arena (arena.h): fn must then keep no jansson reference to it, and the
 * caller must not be inside an arena scope.
 *
 * Returns 0 when fn saw every object, fn's nonzero answer when it stopped, or
 * STATEJSON_NOT_JSON when buf is anything else: not JSON, another JSON value, duplicate
 * keys, a List whose items are not an array, trailing text, or fn stopped on an item of a
 * List whose kind comes after its items (it might not have been a List). Then fn may
 * already have seen some objects: the caller throws their effect away and reads buf as
 * YAML, whose reader names the line of what is wrong.
 */
int statejson_each(const char *buf, size_t len, const struct jsonget_fields *keep, bool scratch,
    statejson_fn fn, void *arg);

#endif
