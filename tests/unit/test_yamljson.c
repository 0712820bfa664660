/* SPDX-License-Identifier: Apache-2.0 */
/* test_yamljson: scalar resolution, refusals and source lines of the YAML reader. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "testhelp.h"
#include "yamljson.h"

static char err[512];

/* The string value of v, or "" when v is not a string. */
static const char *
sv(const json_t *v)
{
	const char *s = json_string_value(v);
	return s ? s : "";
}

static json_t *
load(const char *text, struct yamljson_lines **lines)
{
	return yamljson_load("t.yaml", text, strlen(text), lines, err, sizeof(err));
}

/* The first document of text, as a new reference (NULL on error). */
static json_t *
load1(const char *text)
{
	json_t *docs = load(text, NULL), *doc = NULL;
	if (docs != NULL) {
		doc = json_incref(json_array_get(docs, 0));
		json_decref(docs);
	}
	return doc;
}

static void
expect_fail(const char *descr, const char *text, const char *where, const char *word)
{
	struct yamljson_lines *lines = NULL;
	json_t *docs = load(text, &lines);
	char d[1024];

	snprintf(d, sizeof(d), "%s: refused", descr);
	test_cond(d, docs == NULL && lines == NULL);
	snprintf(d, sizeof(d), "%s: message has \"%s\" and \"%s\" (got: %s)", descr, where, word,
	    err);
	test_cond(d, strstr(err, where) != NULL && strstr(err, word) != NULL);
	json_decref(docs);
	yamljson_lines_free(lines);
}

static void
test_scalars(void)
{
	json_t *d = load1(
	    "dec: 42\nneg: -7\nplus: +3\nhex: 0x1F\noct: 0o17\noct11: 017\nzero: 0\n"
	    "f1: 1.5\nf2: .5\nf3: 1e3\nf4: -2.5E-2\n"
	    "t1: true\nt2: True\nt3: TRUE\nf5: false\nf6: FALSE\n"
	    "yes: yes\nno: no\non: on\noff: off\ny: y\nnorway: NO\n"
	    "n1: ~\nn2: null\nn3: Null\nn4:\n"
	    "s1: '1'\ns2: \"true\"\ns3: 08\ns4: 1:30\ns5: 1_000\ns6: hello world\n"
	    "s7: !!str 12\ns8: ! 12\ni9: !!int \"12\"\ns9: |\n  block\nf7: !!float 1\n"
	    "big: 9223372036854775807\nsmall: -9223372036854775808\n");

	test_cond("scalars load", d != NULL);
	if (d == NULL) {
		printf("  %s\n", err);
		return;
	}
	test_cond("decimal int", json_integer_value(json_object_get(d, "dec")) == 42);
	test_cond("negative int", json_integer_value(json_object_get(d, "neg")) == -7);
	test_cond("plus int", json_integer_value(json_object_get(d, "plus")) == 3);
	test_cond("hex int", json_integer_value(json_object_get(d, "hex")) == 31);
	test_cond("0o octal int", json_integer_value(json_object_get(d, "oct")) == 15);
	test_cond("YAML 1.1 octal int", json_integer_value(json_object_get(d, "oct11")) == 15);
	test_cond("zero", json_is_integer(json_object_get(d, "zero")));
	test_cond("float 1.5", json_real_value(json_object_get(d, "f1")) == 1.5);
	test_cond("float .5", json_real_value(json_object_get(d, "f2")) == 0.5);
	test_cond("float 1e3 (JSON number form)", json_real_value(json_object_get(d, "f3")) == 1000);
	test_cond("float -2.5E-2", json_is_real(json_object_get(d, "f4")));
	test_cond("true", json_is_true(json_object_get(d, "t1")));
	test_cond("True", json_is_true(json_object_get(d, "t2")));
	test_cond("TRUE", json_is_true(json_object_get(d, "t3")));
	test_cond("false", json_is_false(json_object_get(d, "f5")));
	test_cond("FALSE", json_is_false(json_object_get(d, "f6")));
	test_cond("yes stays a string (and is a string key)",
	    json_is_string(json_object_get(d, "yes")));
	test_cond("no stays a string", json_is_string(json_object_get(d, "no")));
	test_cond("on stays a string", json_is_string(json_object_get(d, "on")));
	test_cond("off stays a string", json_is_string(json_object_get(d, "off")));
	test_cond("y stays a string", json_is_string(json_object_get(d, "y")));
	test_cond("Norway: NO stays \"NO\"",
	    strcmp(sv(json_object_get(d, "norway")), "NO") == 0);
	test_cond("~ is null", json_is_null(json_object_get(d, "n1")));
	test_cond("null is null", json_is_null(json_object_get(d, "n2")));
	test_cond("Null is null", json_is_null(json_object_get(d, "n3")));
	test_cond("empty is null", json_is_null(json_object_get(d, "n4")));
	test_cond("single-quoted '1' is a string",
	    strcmp(sv(json_object_get(d, "s1")), "1") == 0);
	test_cond("double-quoted \"true\" is a string", json_is_string(json_object_get(d, "s2")));
	test_cond("08 (not octal) is a string", json_is_string(json_object_get(d, "s3")));
	test_cond("1:30 (sexagesimal) is a string", json_is_string(json_object_get(d, "s4")));
	test_cond("1_000 is a string", json_is_string(json_object_get(d, "s5")));
	test_cond("plain text with a space", strcmp(sv(json_object_get(d, "s6")), "hello world") == 0);
	test_cond("!!str 12 is a string", json_is_string(json_object_get(d, "s7")));
	test_cond("! 12 is a string", json_is_string(json_object_get(d, "s8")));
	test_cond("!!int \"12\" is an int", json_integer_value(json_object_get(d, "i9")) == 12);
	test_cond("!!float 1 is a float", json_real_value(json_object_get(d, "f7")) == 1.0);
	test_cond("block scalar is a string", strcmp(sv(json_object_get(d, "s9")), "block\n") == 0);
	test_cond("INT64_MAX", json_integer_value(json_object_get(d, "big")) == INT64_MAX);
	test_cond("INT64_MIN", json_integer_value(json_object_get(d, "small")) == INT64_MIN);
	json_decref(d);

	d = load1("80: a\ntrue: b\n");
	test_cond("keys are their literal text", d != NULL &&
	    json_is_string(json_object_get(d, "80")) && json_is_string(json_object_get(d, "true")));
	json_decref(d);
}

static void
test_json_input(void)
{
	json_t *d = load1("{\"a\": [1, 2.5, \"s\", true, null, \"yes\"], \"b\": {\"c\": \"d\"},"
	    " \"e\": \"1\"}");
	json_t *a = json_object_get(d, "a");

	test_cond("JSON loads", d != NULL);
	test_cond("JSON int", json_integer_value(json_array_get(a, 0)) == 1);
	test_cond("JSON real", json_real_value(json_array_get(a, 1)) == 2.5);
	test_cond("JSON string", json_is_string(json_array_get(a, 2)));
	test_cond("JSON true", json_is_true(json_array_get(a, 3)));
	test_cond("JSON null", json_is_null(json_array_get(a, 4)));
	test_cond("JSON \"yes\" string", json_is_string(json_array_get(a, 5)));
	test_cond("JSON nested object", strcmp(sv(json_object_get(
	    json_object_get(d, "b"), "c")), "d") == 0);
	test_cond("JSON quoted number stays a string", json_is_string(json_object_get(d, "e")));
	json_decref(d);
}

static void
test_refusals(void)
{
	char deep[512];
	size_t n = 0;

	expect_fail("duplicate key", "a: 1\nb: 2\na: 3\n", "t.yaml:3:", "duplicate");
	expect_fail("duplicate key names the first line", "a: 1\nb: 2\na: 3\n", "t.yaml:3:",
	    "line 1");
	expect_fail("duplicate key in JSON", "{\"a\": 1,\n \"a\": 2}", "t.yaml:2:", "duplicate");
	expect_fail("alias", "a: &x 1\nb: *x\n", "t.yaml:1:", "anchor");
	expect_fail("alias alone", "a: 1\nb: *x\n", "t.yaml:", "");
	expect_fail("merge key with alias", "base: &b {x: 1}\nc:\n  <<: *b\n", "t.yaml:1:",
	    "anchor");
	expect_fail("non-scalar key", "? [a]\n: 1\n", "t.yaml:1:", "keys must be strings");
	expect_fail("integer out of range", "a: 99999999999999999999\n", "t.yaml:1:",
	    "out of range");
	expect_fail(".inf", "a: 1\nb: .inf\n", "t.yaml:2:", "JSON");
	expect_fail("unknown tag", "a: !foo x\n", "t.yaml:1:", "tag");
	expect_fail("!!binary tag", "a: !!binary aGk=\n", "t.yaml:1:", "tag");
	expect_fail("!!int on text", "a: !!int x\n", "t.yaml:1:", "not a valid int");
	expect_fail("syntax error", "a: [1, 2\nb: c\n", "t.yaml:", "");
	expect_fail("bad indentation", "a:\n  b: 1\n c: 2\n", "t.yaml:3:", "");

	for (int i = 0; i < 64; i++)
		deep[n++] = '[';
	for (int i = 0; i < 64; i++)
		deep[n++] = ']';
	deep[n] = '\0';
	json_t *docs = load(deep, NULL);
	test_cond("64 levels are fine", docs != NULL);
	json_decref(docs);
	n = 0;
	for (int i = 0; i < 65; i++)
		deep[n++] = '[';
	for (int i = 0; i < 65; i++)
		deep[n++] = ']';
	deep[n] = '\0';
	expect_fail("65 levels", deep, "t.yaml:1:", "deeper than 64");
	expect_fail("65 levels of mappings",
	    "a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: "
	    "{a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: "
	    "{a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: {a: "
	    "{a: {a: {a: {a: {a: 1}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}"
	    "}}}}}\n", "t.yaml:1:", "deeper");
}

static void
test_documents(void)
{
	json_t *docs = load("", NULL);
	test_cond("empty stream: no documents", json_is_array(docs) && json_array_size(docs) == 0);
	json_decref(docs);

	docs = load("# only a comment\n", NULL);
	test_cond("comment only: no documents", json_array_size(docs) == 0);
	json_decref(docs);

	docs = load("a: 1\n---\nb: 2\n---\n", NULL);
	test_cond("three documents", json_array_size(docs) == 3);
	test_cond("first document", json_integer_value(json_object_get(json_array_get(docs, 0),
	    "a")) == 1);
	test_cond("second document", json_integer_value(json_object_get(json_array_get(docs, 1),
	    "b")) == 2);
	test_cond("empty document is null", json_is_null(json_array_get(docs, 2)));
	json_decref(docs);

	docs = load("--- [1]\n--- x\n...\n", NULL);
	test_cond("explicit documents", json_array_size(docs) == 2 &&
	    json_is_string(json_array_get(docs, 1)));
	json_decref(docs);
}

static void
test_lines(void)
{
	struct yamljson_lines *lines = NULL;
	json_t *docs = load("a: 1\nb:\n  c: [x,\n    y]\n  d: z\n  e: null\n---\nf: 2\n", &lines);
	json_t *d = json_array_get(docs, 0), *b = json_object_get(d, "b");
	json_t *c = json_object_get(b, "c");

	test_cond("lines load", docs != NULL && lines != NULL);
	test_cond("document line", yamljson_line(lines, d) == 1);
	test_cond("scalar line", yamljson_line(lines, json_object_get(d, "a")) == 1);
	test_cond("block mapping starts on its first key", yamljson_line(lines, b) == 3);
	test_cond("key line of b", yamljson_key_line(lines, d, "b") == 2);
	test_cond("flow sequence line", yamljson_line(lines, c) == 3);
	test_cond("second item line", yamljson_line(lines, json_array_get(c, 1)) == 4);
	test_cond("d line", yamljson_line(lines, json_object_get(b, "d")) == 5);
	test_cond("null has no line of its own", yamljson_line(lines, json_object_get(b, "e")) == 0);
	test_cond("but its key has", yamljson_key_line(lines, b, "e") == 6);
	test_cond("unknown key", yamljson_key_line(lines, b, "zz") == 0);
	test_cond("second document line", yamljson_line(lines, json_object_get(
	    json_array_get(docs, 1), "f")) == 8);
	test_cond("NULL table", yamljson_line(NULL, d) == 0);
	json_decref(docs);
	yamljson_lines_free(lines);
}

int
main(void)
{
	test_scalars();
	test_json_input();
	test_refusals();
	test_documents();
	test_lines();
	return test_report();
}
