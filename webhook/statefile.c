/* SPDX-License-Identifier: Apache-2.0 */
/* statefile: the --state file (List, JSON array or YAML stream) into a struct state. */
#include "statefile.h"

#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "fileio.h"
#include "state.h"
#include "statejson.h"
#include "tenantobj.h"
#include "yamljson.h"

#define STATE_MAX_BYTES (64u * 1024 * 1024)

/* A Kubernetes list: "List" or any "*List" kind that carries items. */
static bool
is_list(const json_t *doc)
{
	return statejson_list_kind(json_object_get(doc, "kind")) &&
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

/* statejson_each's callback for statefile_read_objects: every object kept, in order. */
static int
keep_object(json_t *obj, size_t i, size_t end, void *arg)
{
	(void)end;
	(void)i;
	return json_array_append(arg, obj) == 0 ? 0 : -1;
}

/* The objects of a YAML stream (or of JSON statejson does not stream), into out. */
static int
read_yaml(const char *path, const char *buf, size_t len, json_t *out, char *err, size_t errsz)
{
	json_t *docs, *doc;
	char msg[512];
	size_t i;

	/* No line table: a 64 MiB state would double its memory for messages we do not need. */
	if ((docs = yamljson_load(path, buf, len, NULL, err, errsz)) == NULL)
		return -1;
	json_array_foreach(docs, i, doc) {
		if (json_is_null(doc))
			continue;   /* "---" separators with nothing between them */
		msg[0] = '\0';
		if (collect(out, doc, msg, sizeof(msg)) != 0) {
			snprintf(err, errsz, "%s: %s", path, msg[0] ? msg : "out of memory");
			json_decref(docs);
			return -1;
		}
	}
	json_decref(docs);
	return 0;
}

/*
 * The checked objects of a state file's bytes as one array (new reference), or NULL with
 * "path: reason" in err. JSON (what kubectl get -o json writes) is decoded by jansson,
 * unless json is false (statejson already declined it); anything else by libyaml.
 */
static json_t *
parse_objects(const char *path, const char *buf, size_t len, bool json, char *err,
    size_t errsz)
{
	json_t *objects = json_array(), *obj;
	char msg[512];
	size_t i;
	int rc = json ? statejson_each(buf, len, NULL, false, keep_object, objects) :
	    STATEJSON_NOT_JSON;

	if (objects == NULL || (rc != 0 && rc != STATEJSON_NOT_JSON)) {
		snprintf(err, errsz, "%s: out of memory", path);
		goto fail;
	}
	if (rc == STATEJSON_NOT_JSON) {
		json_array_clear(objects);
		if (read_yaml(path, buf, len, objects, err, errsz) != 0)
			goto fail;
	}
	json_array_foreach(objects, i, obj)
		if (check_object(obj, i, msg, sizeof(msg)) != 0) {
			snprintf(err, errsz, "%s: %s", path, msg);
			goto fail;
		}
	return objects;
fail:
	json_decref(objects);
	return NULL;
}

json_t *
statefile_read_objects(const char *path, char *err, size_t errsz)
{
	size_t len = 0;
	char *buf = fileio_read(path, STATE_MAX_BYTES, &len, err, errsz);
	json_t *objects = buf != NULL ? parse_objects(path, buf, len, true, err, errsz) : NULL;

	free(buf);
	return objects;
}

/* Checks one object and files its claims; 0, or -1 with "object [i] ..." in err. */
static int
add_object(struct state *st, const struct config *cfg, const json_t *obj, size_t i,
    char *err, size_t errsz)
{
	char msg[512];

	if (check_object(obj, i, err, errsz) != 0)
		return -1;
	msg[0] = '\0';
	if (state_add_object(st, cfg, obj, msg, sizeof(msg)) != 0) {
		snprintf(err, errsz, "object [%zu] (%s %s): %s", i,
		    json_string_value(json_object_get(obj, "kind")),
		    json_string_value(json_object_get(json_object_get(obj, "metadata"),
		    "name")), msg[0] ? msg : "cannot be added");
		return -1;
	}
	return 0;
}

struct state *
statefile_from_objects(const struct config *cfg, const json_t *objects, char *err, size_t errsz)
{
	struct state *st;
	json_t *obj;
	size_t i;

	if (!json_is_array(objects)) {
		snprintf(err, errsz, "the objects must be a list");
		return NULL;
	}
	if ((st = state_new()) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	json_array_foreach(objects, i, obj)
		if (add_object(st, cfg, obj, i, err, errsz) != 0) {
			state_free(st);
			return NULL;
		}
	return st;
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

/* What stream_object needs: the state being built and where a failure is said. */
struct stream_arg {
	struct state        *st;
	const struct config *cfg;
	size_t               len;   /* of the text */
	char                *err;
	size_t               errsz;
};

/* After this many objects their average size predicts how many the file holds. */
#define STATEFILE_SAMPLE 1024

static int
stream_object(json_t *obj, size_t i, size_t end, void *arg)
{
	struct stream_arg *a = arg;

	/*
	 * The index's tables are sized once for the whole file, as the first objects predict
	 * it, instead of doubling their way there (each doubling a new table to fault in and
	 * fill: 60% more page faults at 100k objects). Only a hint: a wrong guess still loads.
	 */
	if (i + 1 == STATEFILE_SAMPLE && end > 0)
		(void)state_reserve(a->st, (size_t)((double)a->len / (double)end * STATEFILE_SAMPLE));
	return add_object(a->st, a->cfg, obj, i, a->err, a->errsz);
}

/*
 * A JSON file is indexed object by object as statejson decodes it (each in the arena), so
 * the load never holds more than the file's bytes, one object and the index; anything else
 * goes the YAML way, through the whole tree. Either way the heap the load churned through is
 * handed back to the system at the end (malloc_trim): a replica's resident size is then
 * about the index, not the high-water mark of reading it.
 */
struct state *
statefile_load(const struct config *cfg, const char *path, char *err, size_t errsz)
{
	char msg[512];
	size_t len = 0;
	char *buf = fileio_read(path, STATE_MAX_BYTES, &len, err, errsz);
	struct state *st = NULL;
	json_t *objects = NULL;

	if (buf == NULL)
		return NULL;
	if ((st = state_new()) == NULL) {
		snprintf(err, errsz, "%s: out of memory", path);
		goto out;
	}
	struct stream_arg a = { st, cfg, len, msg, sizeof(msg) };
	msg[0] = '\0';
	switch (statejson_each(buf, len, state_object_fields, true, stream_object, &a)) {
	case 0:
		goto out;
	case STATEJSON_NOT_JSON:
		break;
	default:
		snprintf(err, errsz, "%s: %s", path, msg[0] ? msg : "out of memory");
		state_free(st);
		st = NULL;
		goto out;
	}
	state_free(st);   /* what the JSON walk filed before it gave up */
	st = NULL;
	if ((objects = parse_objects(path, buf, len, false, err, errsz)) == NULL)
		goto out;
	if ((st = statefile_from_objects(cfg, objects, msg, sizeof(msg))) == NULL)
		snprintf(err, errsz, "%s: %s", path, msg);
out:
	json_decref(objects);
	free(buf);
	malloc_trim(0);
	return st;
}
