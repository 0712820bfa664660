/* SPDX-License-Identifier: Apache-2.0 */
/* liveobj: cached objects trimmed without copying, stored as compact JSON text. */
#include "liveobj.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonskim.h"

#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"
#define LIVEOBJ_NO_RV UINT32_MAX

/* The text, NUL, then resourceVersion and creationTimestamp, each NUL-terminated. */
struct liveobj {
	uint32_t len;       /* of the text */
	uint32_t rv;        /* offset in data, or LIVEOBJ_NO_RV */
	uint32_t created;   /* offset in data */
	char     data[];
};

/* A shallow copy of the object `from` without the member `drop` (may be NULL). */
static json_t *
copy_without(const json_t *from, const char *drop)
{
	json_t *c = json_object(), *v;
	const char *k;

	if (c == NULL)
		return NULL;
	json_object_foreach((json_t *)from, k, v)
		if ((drop == NULL || strcmp(k, drop) != 0) && json_object_set(c, k, v) != 0) {
			json_decref(c);
			return NULL;
		}
	return c;
}

/*
 * metadata as the cache keeps it. An Ingress's annotations are rules' input (class, snippets,
 * destinations, the configured globs): the periodic audit needs them. kubectl's copy of the
 * whole object is kept as a key only, so a glob naming it still matches. An IngressClass
 * says it is the default in an annotation (defaultclass.h); there are a handful of them,
 * cluster-scoped.
 */
static json_t *
trim_metadata(const json_t *md, const char *kind)
{
	bool ingress = kind != NULL && strcmp(kind, "Ingress") == 0;
	bool keep = ingress || (kind != NULL && strcmp(kind, "IngressClass") == 0);
	json_t *c = json_object(), *v;
	const char *k;

	if (c == NULL)
		return NULL;
	json_object_foreach((json_t *)md, k, v) {
		json_t *annos = NULL;
		int rc;

		if (strcmp(k, "managedFields") == 0 || (!keep && strcmp(k, "annotations") == 0))
			continue;
		if (ingress && strcmp(k, "annotations") == 0 && json_is_object(v) &&
		    json_object_get(v, LAST_APPLIED) != NULL) {
			/* In place, so the annotations keep their order. */
			if ((annos = copy_without(v, NULL)) == NULL ||
			    json_object_set_new(annos, LAST_APPLIED, json_string("")) != 0) {
				json_decref(annos);
				json_decref(c);
				return NULL;
			}
			rc = json_object_set_new(c, k, annos);
		} else {
			rc = json_object_set(c, k, v);
		}
		if (rc != 0) {
			json_decref(c);
			return NULL;
		}
	}
	return c;
}

json_t *
liveobj_trim(const json_t *obj)
{
	const char *kind = jsonget_str(obj, "kind");
	json_t *c, *v;
	const char *k;

	if (!json_is_object(obj))
		return json_incref((json_t *)obj);
	if ((c = json_object()) == NULL)
		return NULL;
	json_object_foreach((json_t *)obj, k, v) {
		int rc;

		if (strcmp(k, "status") == 0)
			continue;
		if (strcmp(k, "metadata") == 0 && json_is_object(v))
			rc = json_object_set_new(c, k, trim_metadata(v, kind));
		else
			rc = json_object_set(c, k, v);
		if (rc != 0) {   /* set_new of NULL fails too */
			json_decref(c);
			return NULL;
		}
	}
	return c;
}

/* Growing buffer for json_dump_callback; `o` is the object being written. */
struct enc {
	struct liveobj *o;
	size_t          used, cap;   /* bytes of data */
	int             nomem;
};

static int
enc_add(const char *buf, size_t size, void *arg)
{
	struct enc *e = arg;

	if (size > e->cap - e->used) {
		size_t ncap = e->cap;
		while (size > ncap - e->used)
			ncap *= 2;
		struct liveobj *n = ncap < UINT32_MAX ? realloc(e->o, sizeof(*n) + ncap) : NULL;
		if (n == NULL) {
			e->nomem = 1;
			return -1;
		}
		e->o = n;
		e->cap = ncap;
	}
	memcpy(e->o->data + e->used, buf, size);
	e->used += size;
	return 0;
}

struct liveobj *
liveobj_new(const json_t *obj)
{
	const json_t *md = json_object_get(obj, "metadata");
	const char *rv = jsonget_str(md, "resourceVersion");
	const char *created = jsonget_str(md, "creationTimestamp");
	struct enc e = { malloc(sizeof(struct liveobj) + 1024), 0, 1024, 0 };
	struct liveobj *o;

	if (e.o == NULL)
		return NULL;
	/* Compact, members in their order; reals with 17 digits, which read back exactly. */
	if (json_dump_callback(obj, enc_add, &e, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
		goto fail;
	e.o->len = (uint32_t)e.used;
	if (enc_add("", 1, &e) != 0)
		goto fail;
	e.o->rv = LIVEOBJ_NO_RV;
	if (rv != NULL) {
		e.o->rv = (uint32_t)e.used;
		if (enc_add(rv, strlen(rv) + 1, &e) != 0)
			goto fail;
	}
	e.o->created = (uint32_t)e.used;
	if (enc_add(created != NULL ? created : "", created != NULL ? strlen(created) + 1 : 1,
	    &e) != 0)
		goto fail;
	/* Shrinking in place: glibc splits the chunk, it does not move it. */
	o = realloc(e.o, sizeof(*o) + e.used);
	return o != NULL ? o : e.o;
fail:
	free(e.o);
	return NULL;
}

void
liveobj_free(struct liveobj *o)
{
	free(o);
}

json_t *
liveobj_decode(const struct liveobj *o, const struct jsonget_fields *keep)
{
	struct jsonskim s;
	json_t *v;

	jsonskim_init(&s, o->data, o->len);
	v = jsonskim_value(&s, keep);
	jsonskim_release(&s);
	return v;
}

const char *
liveobj_rv(const struct liveobj *o)
{
	return o->rv == LIVEOBJ_NO_RV ? NULL : o->data + o->rv;
}

const char *
liveobj_created(const struct liveobj *o)
{
	return o->data + o->created;
}

size_t
liveobj_size(const struct liveobj *o)
{
	return sizeof(*o) + o->created + strlen(o->data + o->created) + 1;
}
