/* SPDX-License-Identifier: Apache-2.0 */
/* yamljson: libyaml events to jansson values, with a pointer-keyed table of source lines. */
#include "yamljson.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "strmap.h"

#define YAMLJSON_MAX_DEPTH 64

#define TAG_STR   "tag:yaml.org,2002:str"
#define TAG_INT   "tag:yaml.org,2002:int"
#define TAG_FLOAT "tag:yaml.org,2002:float"
#define TAG_BOOL  "tag:yaml.org,2002:bool"
#define TAG_NULL  "tag:yaml.org,2002:null"
#define TAG_MAP   "tag:yaml.org,2002:map"
#define TAG_SEQ   "tag:yaml.org,2002:seq"

/*
 * Lines are kept in a strmap keyed by raw bytes: 'v' + the value's address for values, and
 * 'k' + the object's address + the key for mapping keys. The table is only meaningful
 * while the converted documents are alive (addresses are reused after a free).
 */
struct yamljson_lines {
	struct strmap *map;
};

struct ctx {
	const char            *name;
	yaml_parser_t          parser;
	struct yamljson_lines *lines;   /* NULL: caller wants no lines */
	char                  *err;
	size_t                 errsz;
	bool                   failed;
};

static void
fail(struct ctx *c, size_t line0, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Records the first error only: later ones are consequences of it. */
static void
fail(struct ctx *c, size_t line0, const char *fmt, ...)
{
	if (c->failed)
		return;
	c->failed = true;
	int n = snprintf(c->err, c->errsz, "%s:%zu: ", c->name, line0 + 1);
	if (n < 0 || (size_t)n >= c->errsz)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errsz - (size_t)n, fmt, ap);
	va_end(ap);
}

/* jansson keeps true/false/null as shared singletons: their lines cannot be told apart. */
static bool
is_singleton(const json_t *v)
{
	return json_is_true(v) || json_is_false(v) || json_is_null(v);
}

static int
lines_put(struct ctx *c, const json_t *v, size_t line0)
{
	unsigned char key[1 + sizeof(v)];

	if (c->lines == NULL || is_singleton(v))
		return 0;
	key[0] = 'v';
	memcpy(key + 1, &v, sizeof(v));
	if (strmap_setn(c->lines->map, (const char *)key, sizeof(key),
	    (void *)(uintptr_t)(line0 + 1)) != 0) {
		fail(c, line0, "out of memory");
		return -1;
	}
	return 0;
}

/* Builds the key for (object, name) in buf; returns its length or 0 when it does not fit. */
static size_t
key_of(const json_t *obj, const char *name, unsigned char *buf, size_t bufsz)
{
	size_t nl = strlen(name), need = 1 + sizeof(obj) + nl;
	if (need > bufsz)
		return 0;
	buf[0] = 'k';
	memcpy(buf + 1, &obj, sizeof(obj));
	memcpy(buf + 1 + sizeof(obj), name, nl);
	return need;
}

static int
lines_put_key(struct ctx *c, const json_t *obj, const char *name, size_t line0)
{
	unsigned char small[256], *buf = small;
	size_t need = 1 + sizeof(obj) + strlen(name), n;
	int rc = 0;

	if (c->lines == NULL)
		return 0;
	if (need > sizeof(small) && (buf = malloc(need)) == NULL)
		goto nomem;
	n = key_of(obj, name, buf, need > sizeof(small) ? need : sizeof(small));
	if (strmap_setn(c->lines->map, (const char *)buf, n, (void *)(uintptr_t)(line0 + 1)) != 0)
		goto nomem;
out:
	if (buf != small)
		free(buf);
	return rc;
nomem:
	fail(c, line0, "out of memory");
	rc = -1;
	goto out;
}

unsigned
yamljson_line(const struct yamljson_lines *lines, const json_t *v)
{
	unsigned char key[1 + sizeof(v)];

	if (lines == NULL || v == NULL || is_singleton(v))
		return 0;
	key[0] = 'v';
	memcpy(key + 1, &v, sizeof(v));
	return (unsigned)(uintptr_t)strmap_getn(lines->map, (const char *)key, sizeof(key));
}

unsigned
yamljson_key_line(const struct yamljson_lines *lines, const json_t *obj, const char *key)
{
	unsigned char small[256], *buf = small;
	size_t need, n;
	unsigned line;

	if (lines == NULL || obj == NULL || key == NULL)
		return 0;
	need = 1 + sizeof(obj) + strlen(key);
	if (need > sizeof(small) && (buf = malloc(need)) == NULL)
		return 0;
	n = key_of(obj, key, buf, need > sizeof(small) ? need : sizeof(small));
	line = (unsigned)(uintptr_t)strmap_getn(lines->map, (const char *)buf, n);
	if (buf != small)
		free(buf);
	return line;
}

void
yamljson_lines_free(struct yamljson_lines *lines)
{
	if (lines == NULL)
		return;
	strmap_free(lines->map);
	free(lines);
}

/* Fetches the next event; false (with the error recorded) when the parser fails. */
static bool
next_event(struct ctx *c, yaml_event_t *ev)
{
	if (yaml_parser_parse(&c->parser, ev))
		return true;
	const char *problem = c->parser.problem ? c->parser.problem : "cannot parse YAML";
	if (c->parser.context)
		fail(c, c->parser.problem_mark.line, "%s %s", problem, c->parser.context);
	else
		fail(c, c->parser.problem_mark.line, "%s", problem);
	return false;
}

static bool
is_digits(const char *s, const char *set)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (strchr(set, *s) == NULL)
			return false;
	return true;
}

static bool
is_null_text(const char *s)
{
	return *s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* 1 true, 0 false, -1 not a boolean. The YAML 1.1 yes/no/on/off forms are left strings. */
static int
bool_text(const char *s)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
		return 1;
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
		return 0;
	return -1;
}

/*
 * Integer forms: decimal "[-+]?(0|[1-9][0-9]*)", "0x" hex, "0o" octal and the YAML 1.1 octal
 * "0[0-7]+". 1 parsed, 0 not an integer, -1 an integer out of range.
 */
static int
int_text(const char *s, json_int_t *out)
{
	const char *p = s;
	bool neg = false;
	int base = 10;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
	    is_digits(p + 2, "0123456789abcdefABCDEF")) {
		base = 16;
		p += 2;
	} else if (p[0] == '0' && p[1] == 'o' && is_digits(p + 2, "01234567")) {
		base = 8;
		p += 2;
	} else if (p[0] == '0' && p[1] != '\0' && is_digits(p + 1, "01234567")) {
		base = 8;
		p += 1;
	} else if (!is_digits(p, "0123456789") || (p[0] == '0' && p[1] != '\0')) {
		return 0;
	}
	errno = 0;
	char *end;
	unsigned long long u = strtoull(p, &end, base);
	if (errno == ERANGE || *end != '\0')
		return -1;
	if (neg) {
		if (u > (unsigned long long)INT64_MAX + 1)
			return -1;
		*out = u == (unsigned long long)INT64_MAX + 1 ? INT64_MIN : -(json_int_t)u;
	} else {
		if (u > (unsigned long long)INT64_MAX)
			return -1;
		*out = (json_int_t)u;
	}
	return 1;
}

/*
 * Floats as YAML 1.2 core, which covers every JSON number ("[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)
 * ([eE][-+]?[0-9]+)?"), but only with a dot or an exponent. 1 parsed, 0 not a float, -1
 * special or out of range (JSON has no infinities or NaNs).
 */
static int
float_text(const char *s, double *out)
{
	const char *p = s;
	size_t digits = 0;

	if (*p == '-' || *p == '+')
		p++;
	if (strcmp(p, ".inf") == 0 || strcmp(p, ".Inf") == 0 || strcmp(p, ".INF") == 0 ||
	    strcmp(s, ".nan") == 0 || strcmp(s, ".NaN") == 0 || strcmp(s, ".NAN") == 0)
		return -1;
	while (*p >= '0' && *p <= '9') {
		p++;
		digits++;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			p++;
			digits++;
		}
	}
	/* Without a dot or an exponent it is no float: "08" stays a string, as in YAML 1.1. */
	if (digits == 0 || (*p != 'e' && *p != 'E' && strchr(s, '.') == NULL))
		return 0;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!is_digits(p, "0123456789"))
			return 0;
		p += strlen(p);
	}
	if (*p != '\0')
		return 0;
	errno = 0;
	char *end;
	double d = strtod(s, &end);
	if (*end != '\0' || !isfinite(d) || (errno == ERANGE && d != 0.0))
		return -1;
	*out = d;
	return 1;
}

/* Resolves one scalar event to a new value; NULL with the error recorded. */
static json_t *
scalar_value(struct ctx *c, const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length, line0 = ev->start_mark.line;
	const char *tag = (const char *)ev->data.scalar.tag;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	json_int_t i;
	double d;
	int r;

	if (tag != NULL && strcmp(tag, "!") != 0 && strcmp(tag, TAG_STR) != 0 &&
	    strcmp(tag, TAG_INT) != 0 && strcmp(tag, TAG_FLOAT) != 0 &&
	    strcmp(tag, TAG_BOOL) != 0 && strcmp(tag, TAG_NULL) != 0) {
		fail(c, line0, "unsupported tag \"%s\"", tag);
		return NULL;
	}
	/* Quoted, block and "!"/"!!str"-tagged scalars are strings; only plain ones resolve. */
	bool resolve = (plain && tag == NULL) || (tag != NULL && strcmp(tag, "!") != 0 &&
	    strcmp(tag, TAG_STR) != 0);
	if (resolve && strlen(s) == len) {
		if ((tag == NULL || strcmp(tag, TAG_NULL) == 0) && is_null_text(s))
			return json_null();
		if ((tag == NULL || strcmp(tag, TAG_BOOL) == 0) && (r = bool_text(s)) >= 0)
			return json_boolean(r);
		if (tag == NULL || strcmp(tag, TAG_INT) == 0) {
			if ((r = int_text(s, &i)) > 0)
				return json_integer(i);
			if (r < 0) {
				fail(c, line0, "integer \"%s\" is out of range", s);
				return NULL;
			}
		}
		if (tag == NULL || strcmp(tag, TAG_FLOAT) == 0) {
			if ((r = float_text(s, &d)) > 0)
				return json_real(d);
			if (tag != NULL && r == 0 && int_text(s, &i) > 0)
				return json_real((double)i);   /* "!!float 1" */
			if (r < 0) {
				fail(c, line0, "number \"%s\" cannot be represented in JSON", s);
				return NULL;
			}
		}
		if (tag == NULL)
			goto string;
	}
	if (resolve && tag != NULL) {
		fail(c, line0, "\"%.64s\" is not a valid %s", s, tag + strlen("tag:yaml.org,2002:"));
		return NULL;
	}
string:;
	json_t *v = json_stringn(s, len);
	if (v == NULL)
		fail(c, line0, "string is not valid UTF-8");
	return v;
}

static json_t *parse_node(struct ctx *c, yaml_event_t *ev, int depth);

/* Refuses anchors: with aliases refused they are useless, and they hint at a merge attempt. */
static bool
check_anchor(struct ctx *c, const yaml_char_t *anchor, size_t line0)
{
	if (anchor == NULL)
		return true;
	fail(c, line0, "anchors and aliases are not supported (&%s)", (const char *)anchor);
	return false;
}

static json_t *
parse_sequence(struct ctx *c, size_t line0, int depth)
{
	json_t *arr = json_array();
	yaml_event_t ev;

	if (arr == NULL) {
		fail(c, line0, "out of memory");
		return NULL;
	}
	for (;;) {
		if (!next_event(c, &ev))
			goto bad;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return arr;
		}
		json_t *item = parse_node(c, &ev, depth);
		yaml_event_delete(&ev);
		if (item == NULL)
			goto bad;
		if (json_array_append_new(arr, item) != 0) {
			fail(c, line0, "out of memory");
			goto bad;
		}
	}
bad:
	json_decref(arr);
	return NULL;
}

static json_t *
parse_mapping(struct ctx *c, size_t line0, int depth)
{
	json_t *obj = json_object();
	yaml_event_t ev;
	char *key = NULL;

	if (obj == NULL) {
		fail(c, line0, "out of memory");
		return NULL;
	}
	for (;;) {
		if (!next_event(c, &ev))
			goto bad;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return obj;
		}
		size_t kline0 = ev.start_mark.line;
		if (ev.type != YAML_SCALAR_EVENT) {
			fail(c, kline0, ev.type == YAML_ALIAS_EVENT ?
			    "anchors and aliases are not supported" : "mapping keys must be strings");
			yaml_event_delete(&ev);
			goto bad;
		}
		if (!check_anchor(c, ev.data.scalar.anchor, kline0)) {
			yaml_event_delete(&ev);
			goto bad;
		}
		/* A key is its literal text: "80:" or "true:" are the strings "80" and "true". */
		if (strlen((const char *)ev.data.scalar.value) != ev.data.scalar.length) {
			fail(c, kline0, "mapping key contains a NUL character");
			yaml_event_delete(&ev);
			goto bad;
		}
		key = strdup((const char *)ev.data.scalar.value);
		yaml_event_delete(&ev);
		if (key == NULL) {
			fail(c, kline0, "out of memory");
			goto bad;
		}
		if (json_object_get(obj, key) != NULL) {
			unsigned first = c->lines ? yamljson_key_line(c->lines, obj, key) : 0;
			if (first)
				fail(c, kline0, "duplicate key \"%s\" (first at line %u)", key, first);
			else
				fail(c, kline0, "duplicate key \"%s\"", key);
			goto bad;
		}
		if (!next_event(c, &ev))
			goto bad;
		json_t *val = parse_node(c, &ev, depth);
		yaml_event_delete(&ev);
		if (val == NULL)
			goto bad;
		if (json_object_set_new(obj, key, val) != 0) {
			fail(c, kline0, "key \"%s\" is not valid UTF-8", key);
			goto bad;
		}
		if (lines_put_key(c, obj, key, kline0) != 0)
			goto bad;
		free(key);
		key = NULL;
	}
bad:
	free(key);
	json_decref(obj);
	return NULL;
}

/* Converts the node that starts with `ev` (borrowed); depth counts enclosing collections. */
static json_t *
parse_node(struct ctx *c, yaml_event_t *ev, int depth)
{
	size_t line0 = ev->start_mark.line;
	json_t *v = NULL;
	const char *tag;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		if (!check_anchor(c, ev->data.scalar.anchor, line0))
			return NULL;
		v = scalar_value(c, ev);
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
		const yaml_char_t *anchor = seq ? ev->data.sequence_start.anchor :
		    ev->data.mapping_start.anchor;
		tag = (const char *)(seq ? ev->data.sequence_start.tag : ev->data.mapping_start.tag);
		if (!check_anchor(c, anchor, line0))
			return NULL;
		if (tag != NULL && strcmp(tag, "!") != 0 && strcmp(tag, seq ? TAG_SEQ : TAG_MAP) != 0) {
			fail(c, line0, "unsupported tag \"%s\"", tag);
			return NULL;
		}
		if (depth >= YAMLJSON_MAX_DEPTH) {
			fail(c, line0, "nesting deeper than %d levels", YAMLJSON_MAX_DEPTH);
			return NULL;
		}
		v = seq ? parse_sequence(c, line0, depth + 1) : parse_mapping(c, line0, depth + 1);
		break;
	}
	case YAML_ALIAS_EVENT:
		fail(c, line0, "anchors and aliases are not supported (*%s)",
		    (const char *)ev->data.alias.anchor);
		return NULL;
	default:
		fail(c, line0, "unexpected YAML event");
		return NULL;
	}
	if (v != NULL && lines_put(c, v, line0) != 0) {
		json_decref(v);
		return NULL;
	}
	return v;
}

json_t *
yamljson_load(const char *name, const char *buf, size_t len, struct yamljson_lines **lines,
    char *err, size_t errsz)
{
	struct ctx c = { .name = name, .err = err, .errsz = errsz };
	json_t *docs = NULL, *doc;
	yaml_event_t ev;
	bool parser_ready = false, done = false;

	if (lines != NULL)
		*lines = NULL;
	if (errsz > 0)
		err[0] = '\0';
	if (lines != NULL) {
		c.lines = calloc(1, sizeof(*c.lines));
		if (c.lines == NULL || (c.lines->map = strmap_new()) == NULL) {
			fail(&c, 0, "out of memory");
			goto out;
		}
	}
	if ((docs = json_array()) == NULL || !yaml_parser_initialize(&c.parser)) {
		fail(&c, 0, "out of memory");
		goto out;
	}
	parser_ready = true;
	yaml_parser_set_input_string(&c.parser, (const unsigned char *)buf, len);
	while (!done) {
		if (!next_event(&c, &ev))
			goto out;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT: {
			yaml_event_t node;
			yaml_event_delete(&ev);
			if (!next_event(&c, &node))
				goto out;
			doc = parse_node(&c, &node, 0);
			yaml_event_delete(&node);
			if (doc == NULL)
				goto out;
			if (json_array_append_new(docs, doc) != 0) {
				fail(&c, 0, "out of memory");
				goto out;
			}
			if (!next_event(&c, &ev))
				goto out;
			if (ev.type != YAML_DOCUMENT_END_EVENT) {
				fail(&c, ev.start_mark.line, "unexpected content after the document");
				yaml_event_delete(&ev);
				goto out;
			}
			break;
		}
		default:   /* STREAM_START */
			break;
		}
		yaml_event_delete(&ev);
	}
out:
	if (parser_ready)
		yaml_parser_delete(&c.parser);
	if (c.failed) {
		json_decref(docs);
		yamljson_lines_free(c.lines);
		return NULL;
	}
	if (lines != NULL)
		*lines = c.lines;
	return docs;
}

/* Words that a YAML 1.1 reader (kubectl's included) would not read back as a string. */
static bool
needs_quotes(const char *s)
{
	static const char *const words[] = { "y", "yes", "n", "no", "true", "false", "on", "off",
		"null", "~" };
	if (s[0] == '\0' || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	    s[0] == '_' || s[0] == '/'))
		return true;
	for (const char *c = s; *c != '\0'; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		    *c == '_' || *c == '.' || *c == '/' || *c == '-'))
			return true;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(s, words[i]) == 0)
			return true;
	return false;
}

static int
emit_scalar(yaml_emitter_t *em, const char *text, bool quoted)
{
	yaml_event_t ev;
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text),
	    !quoted, quoted, quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_PLAIN_SCALAR_STYLE))
		return -1;
	return yaml_emitter_emit(em, &ev) ? 0 : -1;
}

static int
emit_value(yaml_emitter_t *em, const json_t *v)
{
	yaml_event_t ev;
	char num[64];
	const char *k;
	const json_t *child;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
		    !yaml_emitter_emit(em, &ev))
			return -1;
		json_object_foreach((json_t *)v, k, child)
			if (emit_scalar(em, k, needs_quotes(k)) != 0 || emit_value(em, child) != 0)
				return -1;
		return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev) ? 0 : -1;
	case JSON_ARRAY:
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
		    YAML_BLOCK_SEQUENCE_STYLE) || !yaml_emitter_emit(em, &ev))
			return -1;
		json_array_foreach(v, i, child)
			if (emit_value(em, child) != 0)
				return -1;
		return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev) ? 0 : -1;
	case JSON_STRING:
		return emit_scalar(em, json_string_value(v), needs_quotes(json_string_value(v)));
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return emit_scalar(em, num, false);
	case JSON_REAL:
		snprintf(num, sizeof(num), "%.17g", json_real_value(v));
		return emit_scalar(em, num, false);
	case JSON_TRUE:
		return emit_scalar(em, "true", false);
	case JSON_FALSE:
		return emit_scalar(em, "false", false);
	case JSON_NULL:
		return emit_scalar(em, "null", false);
	}
	return -1;
}

static int
emit_to_buffer(void *data, unsigned char *buffer, size_t size)
{
	FILE *f = data;
	return fwrite(buffer, 1, size, f) == size;
}

int
yamljson_dump(const json_t *docs, FILE *out, char *err, size_t errsz)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	const json_t *doc;
	size_t i;
	int rc = -1;

	if (!yaml_emitter_initialize(&em)) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	yaml_emitter_set_output(&em, emit_to_buffer, out);
	yaml_emitter_set_unicode(&em, 1);
	if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) ||
	    !yaml_emitter_emit(&em, &ev))
		goto out;
	json_array_foreach(docs, i, doc) {
		if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, i == 0) ||
		    !yaml_emitter_emit(&em, &ev) || emit_value(&em, doc) != 0 ||
		    !yaml_document_end_event_initialize(&ev, 1) || !yaml_emitter_emit(&em, &ev))
			goto out;
	}
	if (yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev))
		rc = 0;
out:
	if (rc != 0)
		snprintf(err, errsz, "YAML output failed: %s", em.problem ? em.problem : "write error");
	yaml_emitter_delete(&em);
	return rc;
}
