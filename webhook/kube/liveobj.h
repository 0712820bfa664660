/* SPDX-License-Identifier: Apache-2.0 */
/* liveobj: one object of the live cache, kept as compact JSON text and decoded on demand. */
#ifndef TG_LIVEOBJ_H
#define TG_LIVEOBJ_H
#include <jansson.h>
#include <stddef.h>

#include "jsonget.h"

/*
 * A jansson tree costs ~11 KB for an Ingress of three hosts as the apiserver returns it
 * (trimmed): every object, array and string is its own allocation, and an object's hash
 * table comes on top. Its compact text is under 1 KB, in one allocation. The cache's
 * writer decodes only the members the claim index reads (state_object_fields), the
 * reconciler and the audit the whole object (live_list, live_get), none of them on the
 * admission request path, which reads the left-right states only. The two fields the
 * writer compares on every change, resourceVersion and creationTimestamp, are kept beside
 * the text, so comparing them decodes nothing.
 */
struct liveobj;

/*
 * The part of an object the cache keeps and the rules read (new reference; NULL when out of
 * memory): obj without status and metadata.managedFields, and without metadata.annotations
 * except an Ingress's (kubectl's last-applied copy of the object emptied) and an
 * IngressClass's (is-default-class is one). Members it keeps are shared with obj, not
 * copied: read it, never change it.
 */
json_t *liveobj_trim(const json_t *obj);

/*
 * The encoding of `obj` (borrowed; normally liveobj_trim's result, which it does not trim
 * again), or NULL when out of memory. Decoding gives an object equal to obj (json_equal,
 * members in the same order) for every tree jansson's json_loadb can produce, which is
 * every tree the API client hands over: strings without NUL, depth at most 2048.
 */
struct liveobj *liveobj_new(const json_t *obj);
void liveobj_free(struct liveobj *o);

/*
 * The object (new reference), NULL when out of memory. Of every object at a level of keep
 * only the members it names are built (jsonskim's rule); keep NULL: the whole object.
 */
json_t *liveobj_decode(const struct liveobj *o, const struct jsonget_fields *keep);

/* metadata.resourceVersion (NULL when it had none) and creationTimestamp ("" when none). */
const char *liveobj_rv(const struct liveobj *o);
const char *liveobj_created(const struct liveobj *o);

/* Bytes of the encoding (what one allocation holds, without malloc's own overhead). */
size_t liveobj_size(const struct liveobj *o);

#endif
