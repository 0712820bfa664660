/* SPDX-License-Identifier: Apache-2.0 */
/* statefile: the --state file (List, JSON array or YAML stream) into a struct state. */
#include "statefile.h"

#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "audit.h"
#include "fileio.h"
#include "jsonskim.h"
#include "state.h"
#include "stateload.h"
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
keep_object(json_t *obj, size_t i, size_t start, size_t end, void *arg)
{
	(void)start;
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
		if (stateload_check(obj, i, msg, sizeof(msg)) != 0) {
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
		if (stateload_object(st, cfg, obj, i, err, errsz) != 0) {
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


/*
 * A JSON file is indexed object by object as statejson decodes it (each in the arena), so
 * the load never holds more than the file's bytes, one object and the index; anything else
 * goes the YAML way, through the whole tree. The one loader of both statefile_load and
 * statefile_index; "path: reason" in err.
 */
static struct state *
index_text(const struct config *cfg, const char *path, const char *buf, size_t len, char *err,
    size_t errsz)
{
	char msg[512];
	struct state *st = NULL;
	json_t *objects = NULL;

	if ((st = state_new()) == NULL) {
		snprintf(err, errsz, "%s: out of memory", path);
		goto out;
	}
	msg[0] = '\0';
	switch (stateload_json(st, cfg, buf, len, msg, sizeof(msg))) {
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
	return st;
}

/*
 * The heap the load churned through is handed back to the system at the end (malloc_trim):
 * a replica's resident size is then about the index, not the high-water mark of reading it.
 */
struct state *
statefile_load(const struct config *cfg, const char *path, char *err, size_t errsz)
{
	size_t len = 0;
	char *buf = fileio_read(path, STATE_MAX_BYTES, &len, err, errsz);
	struct state *st = buf != NULL ? index_text(cfg, path, buf, len, err, errsz) : NULL;

	free(buf);
	malloc_trim(0);
	return st;
}

/* Where an object of a JSON file is, and when it was created (audit's order). */
struct statefile_place {
	size_t start, end;
	char  *created;   /* metadata.creationTimestamp, NULL when it has none */
};

/* A state file read once for review or audit: see statefile_open. */
struct statefile {
	char   *path;
	char   *text;      /* a JSON file's bytes, for index_text; NULL once read as YAML */
	size_t  len;
	json_t *objects;   /* a YAML file's objects, whole */
	json_t *tenants;   /* its Tenant objects, whole */
	struct statefile_place *places;   /* a JSON file's objects, when asked for */
	size_t                  n_places, cap_places;
};

/*
 * What check_object and tenantobj_is_tenant read, and audit's order: all the gathering pass
 * builds of an item.
 */
static const struct jsonget_fields gather_metadata[] = {
	{ "name", NULL }, { "creationTimestamp", NULL }, { NULL, NULL } };
static const struct jsonget_fields gather_fields[] = {
	{ "apiVersion", NULL }, { "kind", NULL }, { "metadata", gather_metadata }, { NULL, NULL } };

struct gather_arg {
	struct statefile *sf;
	bool              places;   /* note every object's place */
	char             *err;      /* the first object check_object refuses, said here */
	size_t            errsz;
	bool              bad;
};

/* Notes where object i is; -1 when out of memory. */
static int
place_add(struct statefile *sf, const json_t *obj, size_t start, size_t end)
{
	const char *c = jsonget_str(json_object_get(obj, "metadata"), "creationTimestamp");

	if (sf->n_places == sf->cap_places) {
		size_t cap = sf->cap_places ? sf->cap_places * 2 : 1024;
		struct statefile_place *grown = realloc(sf->places, cap * sizeof(*grown));
		if (grown == NULL)
			return -1;
		sf->places = grown;
		sf->cap_places = cap;
	}
	struct statefile_place *p = &sf->places[sf->n_places];
	p->start = start;
	p->end = end;
	p->created = NULL;
	if (c != NULL && (p->created = strdup(c)) == NULL)
		return -1;
	sf->n_places++;
	return 0;
}

/*
 * statejson_each's callback for statefile_open: every item checked as parse_objects checks
 * it, a Tenant decoded whole from its text. A bad object does not stop the walk: only a walk
 * that reaches the end proves the text JSON; one that does not goes to the YAML reader, which
 * names the line of what is wrong, as statefile_read_objects has it.
 */
static int
gather_object(json_t *obj, size_t i, size_t start, size_t end, void *arg)
{
	struct gather_arg *g = arg;
	struct jsonskim c;
	json_t *whole;
	bool was;

	if (g->bad)
		return 0;
	if (stateload_check(obj, i, g->err, g->errsz) != 0) {
		g->bad = true;
		return 0;
	}
	if (g->places && place_add(g->sf, obj, start, end) != 0)
		return -1;
	if (!tenantobj_is_tenant(obj))
		return 0;
	was = arena_pause();   /* kept past the item: not in the walk's arena */
	jsonskim_init(&c, g->sf->text + start, end - start);
	whole = jsonskim_value(&c, NULL);   /* the walk checked this text: NULL is out of memory */
	jsonskim_release(&c);
	int rc = whole != NULL && json_array_append_new(g->sf->tenants, whole) == 0 ? 0 : -1;
	arena_resume(was);
	return rc;
}

/* Drops the places noted (a walk that gave up, or the file closed). */
static void
places_clear(struct statefile *sf)
{
	for (size_t i = 0; i < sf->n_places; i++)
		free(sf->places[i].created);
	free(sf->places);
	sf->places = NULL;
	sf->n_places = sf->cap_places = 0;
}

struct statefile *
statefile_open(const char *path, bool places, char *err, size_t errsz)
{
	struct statefile *sf = calloc(1, sizeof(*sf));
	char msg[512];
	struct gather_arg g = { sf, places, msg, sizeof(msg), false };
	int rc;

	if (sf == NULL || (sf->path = strdup(path)) == NULL ||
	    (sf->tenants = json_array()) == NULL) {
		snprintf(err, errsz, "%s: out of memory", path);
		goto fail;
	}
	if ((sf->text = fileio_read(path, STATE_MAX_BYTES, &sf->len, err, errsz)) == NULL)
		goto fail;
	msg[0] = '\0';
	rc = statejson_each(sf->text, sf->len, gather_fields, true, gather_object, &g);
	if (rc == 0 && !g.bad)
		return sf;
	if (rc != STATEJSON_NOT_JSON) {   /* JSON with a bad object, or out of memory */
		snprintf(err, errsz, "%s: %s", path, rc == 0 ? msg : "out of memory");
		goto fail;
	}
	/* YAML (or JSON statejson does not stream): the whole tree, kept for statefile_index. */
	places_clear(sf);
	json_decref(sf->tenants);
	sf->tenants = NULL;
	if ((sf->objects = parse_objects(path, sf->text, sf->len, false, err, errsz)) == NULL)
		goto fail;
	free(sf->text);
	sf->text = NULL;
	if ((sf->tenants = statefile_select_tenants(sf->objects)) == NULL) {
		snprintf(err, errsz, "%s: out of memory", path);
		goto fail;
	}
	return sf;
fail:
	statefile_close(sf);
	return NULL;
}

const json_t *
statefile_tenants(const struct statefile *sf)
{
	return sf->tenants;
}

struct state *
statefile_index(const struct statefile *sf, const struct config *cfg, char *err, size_t errsz)
{
	char msg[512];
	struct state *st;

	if (sf->text != NULL)
		return index_text(cfg, sf->path, sf->text, sf->len, err, errsz);
	if ((st = statefile_from_objects(cfg, sf->objects, msg, sizeof(msg))) == NULL)
		snprintf(err, errsz, "%s: %s", sf->path, msg);
	return st;
}

/* audit_source's callbacks over a statefile (arg). */
static const char *
source_created(void *arg, size_t i)
{
	const struct statefile *sf = arg;

	if (sf->text != NULL)
		return sf->places[i].created;
	return jsonget_str(json_object_get(json_array_get(sf->objects, i), "metadata"),
	    "creationTimestamp");
}

static json_t *
source_object(void *arg, size_t i, const struct jsonget_fields *keep)
{
	const struct statefile *sf = arg;
	struct jsonskim c;
	json_t *obj;

	if (sf->text == NULL)
		return json_incref(json_array_get(sf->objects, i));
	/* statefile_open checked this text: NULL is out of memory. */
	jsonskim_init(&c, sf->text + sf->places[i].start, sf->places[i].end - sf->places[i].start);
	obj = jsonskim_value(&c, keep);
	jsonskim_release(&c);
	return obj;
}

void
statefile_audit_source(struct statefile *sf, struct audit_source *src)
{
	src->n = sf->text != NULL ? sf->n_places : json_array_size(sf->objects);
	src->created = source_created;
	src->object = source_object;
	src->arg = sf;
}

void
statefile_close(struct statefile *sf)
{
	if (sf == NULL)
		return;
	places_clear(sf);
	free(sf->path);
	free(sf->text);
	json_decref(sf->objects);
	json_decref(sf->tenants);
	free(sf);
}
