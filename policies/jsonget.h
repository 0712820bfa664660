/* SPDX-License-Identifier: Apache-2.0 */
/* jsonget: read-only accessors over Kubernetes objects that tolerate missing members. */
#ifndef TG_JSONGET_H
#define TG_JSONGET_H
#include <jansson.h>

/*
 * A set of members to read from an object: an array ended by a NULL key; sub names the members
 * wanted of that member's value (of each element when it is an array), NULL all of it. What a
 * reader of part of an object declares it reads, so a decoder may skip the rest (jsonskim).
 */
struct jsonget_fields {
	const char                  *key;
	const struct jsonget_fields *sub;
};

/* obj[key] when it is a string, else NULL (borrowed). */
const char *jsonget_str(const json_t *obj, const char *key);
/* The value at a dotted path of object keys ("metadata.labels"), or NULL (borrowed). */
const json_t *jsonget_path(const json_t *obj, const char *dotted);

#endif
