/* SPDX-License-Identifier: Apache-2.0 */
/* jsonget: read-only accessors over Kubernetes objects that tolerate missing members. */
#ifndef TG_JSONGET_H
#define TG_JSONGET_H
#include <jansson.h>

/* obj[key] when it is a string, else NULL (borrowed). */
const char *jsonget_str(const json_t *obj, const char *key);
/* The value at a dotted path of object keys ("metadata.labels"), or NULL (borrowed). */
const json_t *jsonget_path(const json_t *obj, const char *dotted);

#endif
