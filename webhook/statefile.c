/* SPDX-License-Identifier: Apache-2.0 */
/* statefile: the --state file (List, JSON array or YAML stream) into a struct state. */
#include "statefile.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "state.h"
#include "tenantobj.h"
#include "yamljson.h"

#define STATE_MAX_BYTES (64u * 1024 * 1024)

/* A Kubernetes list: "List" or any "*List" kind that carries items. */
static bool
is_list(const json_t *doc)
{
	const char *kind = json_string_value(json_object_get(doc, "kind"));
	size_t n = kind ? strlen(kind) : 0;
	return n >= 4 && strcmp(kind + n - 4, "List") == 0 &&
	    json_object_get(doc, "items") != NULL;
}

/* Checks the shape every consumer relies on: a mapping with kind and metadata.name. */
static int
check_object(const json_t *obj, size_t i, char *err, size_t errsz)
{
	const json_t *kind = json_object_get(obj, "kind");
	const json_t *name = json_object_get(json_object_get(obj, "metadata"), "name");

	if (!json_is_object(obj)) {
		snprintf(err, errsz, "object [%zu] is not a mapping", i);
		return -1;
	}
	if (!json_is_string(kind) || json_string_length(kind) == 0) {
		snprintf(err, errsz, "object [%zu] has no kind", i);
		return -1;
	}
	if (!json_is_string(name) || json_string_length(name) == 0) {
		snprintf(err, errsz, "object [%zu] (%s) has no metadata.name", i,
		    json_string_value(kind));
		return -1;
	}
	return 0;
}

/* Appends the objects of one document (a List, an array or one object) to out. */
static int
collect(json_t *out, json_t *doc, char *err, size_t errsz)
{
	json_t *items = doc, *item;
	size_t i;

	if (json_is_object(doc) && is_list(doc)) {
		items = json_object_get(doc, "items");
		if (json_is_null(items))
			return 0;   /* "items:" with nothing under it: an empty list */
		if (!json_is_array(items)) {
			snprintf(err, errsz, "the items of a %s must be a list",
			    json_string_value(json_object_get(doc, "kind")));
			return -1;
		}
	}
	if (!json_is_array(items))
		return json_array_append(out, doc) == 0 ? 0 : -1;
	json_array_foreach(items, i, item)
		if (json_array_append(out, item) != 0)
			return -1;
	return 0;
}

json_t *
statefile_read_objects(const char *path, char *err, size_t errsz)
{
	json_t *docs = NULL, *objects = NULL, *doc, *obj;
	char msg[512];
	size_t len = 0, i;
	char *buf = fileio_read(path, STATE_MAX_BYTES, &len, err, errsz);

	if (buf == NULL)
		return NULL;
	/* No line table: a 64 MiB state would double its memory for messages we do not need. */
	if ((docs = yamljson_load(path, buf, len, NULL, err, errsz)) == NULL)
		goto out;
	if ((objects = json_array()) == NULL) {
		snprintf(err, errsz, "%s: out of memory", path);
		goto out;
	}
	json_array_foreach(docs, i, doc) {
		if (json_is_null(doc))
			continue;   /* "---" separators with nothing between them */
		msg[0] = '\0';
		if (collect(objects, doc, msg, sizeof(msg)) != 0) {
			snprintf(err, errsz, "%s: %s", path, msg[0] ? msg : "out of memory");
			goto fail;
		}
	}
	json_array_foreach(objects, i, obj)
		if (check_object(obj, i, msg, sizeof(msg)) != 0) {
			snprintf(err, errsz, "%s: %s", path, msg);
			goto fail;
		}
	goto out;
fail:
	json_decref(objects);
	objects = NULL;
out:
	json_decref(docs);
	free(buf);
	return objects;
}

struct state *
statefile_from_objects(const struct config *cfg, const json_t *objects, char *err, size_t errsz)
{
	struct state *st;
	json_t *obj;
	char msg[512];
	size_t i;

	if (!json_is_array(objects)) {
		snprintf(err, errsz, "the objects must be a list");
		return NULL;
	}
	if ((st = state_new()) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	json_array_foreach(objects, i, obj) {
		if (check_object(obj, i, err, errsz) != 0)
			goto fail;
		msg[0] = '\0';
		if (state_add_object(st, cfg, obj, msg, sizeof(msg)) != 0) {
			snprintf(err, errsz, "object [%zu] (%s %s): %s", i,
			    json_string_value(json_object_get(obj, "kind")),
			    json_string_value(json_object_get(json_object_get(obj, "metadata"),
			    "name")), msg[0] ? msg : "cannot be added");
			goto fail;
		}
	}
	return st;
fail:
	state_free(st);
	return NULL;
}

json_t *
statefile_select_tenants(const json_t *objects)
{
	json_t *out = json_array(), *obj;
	size_t i;

	if (out == NULL)
		return NULL;
	json_array_foreach(objects, i, obj)
		if (tenantobj_is_tenant(obj) && json_array_append(out, obj) != 0) {
			json_decref(out);
			return NULL;
		}
	return out;
}

struct state *
statefile_load(const struct config *cfg, const char *path, char *err, size_t errsz)
{
	char msg[512];
	json_t *objects = statefile_read_objects(path, err, errsz);

	if (objects == NULL)
		return NULL;
	struct state *st = statefile_from_objects(cfg, objects, msg, sizeof(msg));
	if (st == NULL)
		snprintf(err, errsz, "%s: %s", path, msg);
	json_decref(objects);
	return st;
}
