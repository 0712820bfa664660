/* SPDX-License-Identifier: Apache-2.0 */
/* statejson: a JSON state document walked object by object, each decoded by jsonskim. */
/*
 * A 100k-object List read whole (through libyaml, or even jansson) is a tree many times the
 * file's size that is built only to be thrown away once the claims are indexed; here only the
 * List's own small members and one item at a time are ever decoded, at the position where it
 * starts, and of an item only the members its reader names.
 */
#include "statejson.h"

#include <string.h>

#include "arena.h"
#include "jsonskim.h"

/* The next byte after white space, or 0 at the end. */
static char
peek(struct jsonskim *c)
{
	jsonskim_ws(c);
	return c->pos < c->len ? c->p[c->pos] : '\0';
}

/* The array at the cursor, element by element into fn. */
static int
each_element(struct jsonskim *c, const struct jsonget_fields *keep, bool scratch,
    statejson_fn fn, void *arg, size_t *n)
{
	c->pos++;   /* '[' */
	if (peek(c) == ']') {
		c->pos++;
		return 0;
	}
	for (;;) {
		if (scratch)
			arena_begin();
		jsonskim_ws(c);
		size_t start = c->pos;
		json_t *v = jsonskim_value(c, keep);
		int rc = v == NULL ? STATEJSON_NOT_JSON : fn(v, (*n)++, start, c->pos, arg);
		/* In the arena, freeing the tree node by node would only walk it: arena_end frees. */
		bool was = scratch && arena_pause();
		if (!was)
			json_decref(v);
		if (scratch)
			arena_end();
		if (rc != 0)
			return rc;
		char next = peek(c);
		c->pos++;
		if (next == ']')
			return 0;
		if (next != ',')
			return STATEJSON_NOT_JSON;
	}
}

bool
statejson_list_kind(const json_t *kind)
{
	size_t n = json_string_length(kind);
	return json_is_string(kind) && n >= 4 && strcmp(json_string_value(kind) + n - 4, "List") == 0;
}

/*
 * The object at the cursor: its members decoded one by one into top, except an "items"
 * array, which goes to fn element by element (*streamed then says so).
 */
static int
each_member(struct jsonskim *c, json_t *top, bool *streamed, const struct jsonget_fields *keep,
    bool scratch, statejson_fn fn, void *arg, size_t *n)
{
	c->pos++;   /* '{' */
	if (peek(c) == '}') {
		c->pos++;
		return 0;
	}
	for (;;) {
		if (peek(c) != '"')
			return STATEJSON_NOT_JSON;
		json_t *key = jsonskim_value(c, NULL);
		const char *k = json_string_value(key);
		int rc = 0;

		if (k == NULL || peek(c) != ':' || json_object_get(top, k) != NULL ||
		    (*streamed && strcmp(k, "items") == 0)) {
			json_decref(key);
			return STATEJSON_NOT_JSON;   /* not a member, or a duplicate key */
		}
		c->pos++;
		if (strcmp(k, "items") == 0 && peek(c) == '[') {
			/* Before its kind (kubectl sorts the members) the List is only likely: if fn
			 * refuses an item, the document may still be one object that has items. */
			bool sure = statejson_list_kind(json_object_get(top, "kind"));
			*streamed = true;
			rc = each_element(c, keep, scratch, fn, arg, n);
			if (rc != 0 && !sure)
				rc = STATEJSON_NOT_JSON;
		} else {
			json_t *v = jsonskim_value(c, NULL);
			if (v == NULL || json_object_set_new(top, k, v) != 0)
				rc = STATEJSON_NOT_JSON;
		}
		json_decref(key);
		if (rc != 0)
			return rc;
		char next = peek(c);
		c->pos++;
		if (next == '}')
			return 0;
		if (next != ',')
			return STATEJSON_NOT_JSON;
	}
}

/* Whether only white space is left. */
static bool
at_end(struct jsonskim *c)
{
	jsonskim_ws(c);
	return c->pos == c->len;
}

static int
walk(struct jsonskim *c, const struct jsonget_fields *keep, bool scratch, statejson_fn fn,
    void *arg)
{
	size_t n = 0, start;
	bool streamed = false;
	json_t *top;
	int rc;

	switch (peek(c)) {
	case '[':
		rc = each_element(c, keep, scratch, fn, arg, &n);
		return rc != 0 ? rc : at_end(c) ? 0 : STATEJSON_NOT_JSON;
	case '{':
		break;
	default:
		return STATEJSON_NOT_JSON;
	}
	if ((top = json_object()) == NULL)
		return STATEJSON_NOT_JSON;
	start = c->pos;
	rc = each_member(c, top, &streamed, keep, scratch, fn, arg, &n);
	if (rc == 0 && !at_end(c))
		rc = STATEJSON_NOT_JSON;   /* text after the document */
	if (rc == 0) {
		const json_t *items = json_object_get(top, "items");
		bool list = statejson_list_kind(json_object_get(top, "kind")) && (streamed || items != NULL);

		if (list && !streamed && !json_is_null(items))
			rc = STATEJSON_NOT_JSON;   /* items that are not a list: the YAML reader says so */
		else if (!list && streamed)
			rc = STATEJSON_NOT_JSON;   /* an object that merely has an items array */
		else if (!list)
			rc = fn(top, 0, start, c->pos, arg);
	}
	json_decref(top);
	return rc;
}

int
statejson_each(const char *buf, size_t len, const struct jsonget_fields *keep, bool scratch,
    statejson_fn fn, void *arg)
{
	struct jsonskim c;
	int rc;

	jsonskim_init(&c, buf, len);
	rc = walk(&c, keep, scratch, fn, arg);
	jsonskim_release(&c);
	return rc;
}
