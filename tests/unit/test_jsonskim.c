/* SPDX-License-Identifier: Apache-2.0 */
/* test_jsonskim: jsonskim accepts and builds what json_loadb does, and only the named members. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonskim.h"
#include "testhelp.h"

/* The value of text by jsonskim (keep), NULL when it refuses it or leaves text after it. */
static json_t *
skim(const char *text, size_t len, const struct jsonget_fields *keep)
{
	struct jsonskim s;
	json_t *v;

	jsonskim_init(&s, text, len);
	v = jsonskim_value(&s, keep);
	jsonskim_ws(&s);
	if (v != NULL && s.pos != len) {
		json_decref(v);
		v = NULL;
	}
	jsonskim_release(&s);
	return v;
}

/* jsonskim and jansson agree on text: both refuse it, or both build equal values. */
static void
same_as_jansson(const char *descr, const char *text, size_t len, bool accepted)
{
	char d[512];
	json_error_t e;
	json_t *want = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
	json_t *got = skim(text, len, NULL);

	snprintf(d, sizeof(d), "%s: %s, as jansson", descr, accepted ? "accepted" : "refused");
	test_cond(d, (want != NULL) == accepted && (got != NULL) == accepted);
	if (accepted) {
		snprintf(d, sizeof(d), "%s: the same value as jansson", descr);
		test_cond(d, json_equal(got, want) && json_typeof(got) == json_typeof(want));
	}
	json_decref(want);
	json_decref(got);
}

#define SAME(descr, lit, ok) same_as_jansson(descr, lit, sizeof(lit) - 1, ok)

static void
test_grammar(void)
{
	SAME("an object", "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}", true);
	SAME("white space everywhere", " \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\" : { } , \"c\" : [ ] } ", true);
	SAME("an empty key", "{\"\":1}", true);
	SAME("a missing comma", "{\"a\":1 \"b\":2}", false);
	SAME("a trailing comma", "[1,]", false);
	SAME("a trailing comma in an object", "{\"a\":1,}", false);
	SAME("an unquoted key", "{a:1}", false);
	SAME("a bare word", "[tru]", false);
	SAME("an unclosed array", "[1,2", false);
	SAME("an unclosed string", "[\"abc", false);
	SAME("nothing", "", false);
}

static void
test_strings(void)
{
	SAME("every escape", "[\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"]", true);
	SAME("\\u escapes", "[\"\\u00e9\\u20AC\\u0041\"]", true);
	SAME("a surrogate pair", "[\"\\ud83d\\ude00\"]", true);
	SAME("a lone high surrogate", "[\"\\ud83d\"]", false);
	SAME("a high surrogate and no low one", "[\"\\ud83d\\u0041\"]", false);
	SAME("a lone low surrogate", "[\"\\ude00\"]", false);
	SAME("\\u0000", "[\"a\\u0000b\"]", false);
	SAME("a short \\u", "[\"\\u12\"]", false);
	SAME("an unknown escape", "[\"\\x\"]", false);
	SAME("a raw control character", "[\"a\tb\"]", false);
	SAME("raw UTF-8", "[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"]", true);
	SAME("an overlong sequence", "[\"\xc0\x80\"]", false);
	SAME("an encoded surrogate", "[\"\xed\xa0\x80\"]", false);
	SAME("beyond U+10FFFF", "[\"\xf4\x90\x80\x80\"]", false);
	SAME("a stray continuation byte", "[\"\x80\"]", false);
	SAME("a cut sequence", "[\"\xe2\x82\"]", false);
	SAME("DEL is text", "[\"\x7f\"]", true);
	SAME("a long escaped string", "[\"\\\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\\"\"]",
	    true);
	/* A NUL byte in the text ends nothing: it is a control character inside a string. */
	same_as_jansson("a raw NUL", "[\"a\0b\"]", 6, false);
}

static void
test_numbers(void)
{
	SAME("integers", "[0,-0,7,-12,123456789012345678]", true);
	SAME("the largest json_int_t", "[9223372036854775807,-9223372036854775808]", true);
	SAME("an integer beyond json_int_t", "[9223372036854775808]", false);
	SAME("a negative integer beyond json_int_t", "[-9223372036854775809]", false);
	SAME("a long integer", "[123456789012345678901234567890]", false);
	SAME("reals", "[1.5,-0.25,1e3,1E-3,2.5e+10,0.0]", true);
	SAME("a real that overflows", "[1e400]", false);
	SAME("a real that underflows", "[1e-400]", true);
	SAME("a leading zero", "[01]", false);
	SAME("a bare minus", "[-]", false);
	SAME("a dot without digits", "[1.]", false);
	SAME("a leading dot", "[.5]", false);
	SAME("an exponent without digits", "[1e]", false);
	SAME("a plus sign", "[+1]", false);
	SAME("a number and a word", "[1x]", false);
}

static void
test_duplicates_and_depth(void)
{
	SAME("a duplicate key", "{\"a\":1,\"a\":2}", false);
	SAME("a duplicate key deep down", "{\"a\":[{\"b\":{\"c\":1,\"c\":1}}]}", false);
	SAME("a duplicate through an escape", "{\"a\":1,\"\\u0061\":2}", false);
	SAME("the same key in sibling objects", "[{\"a\":1},{\"a\":2}]", true);
	SAME("a key of the parent again inside", "{\"a\":{\"a\":{\"a\":1}}}", true);

	/* jansson's depth limit is 2048 nested arrays or objects. */
	for (size_t depth = 2047; depth <= 2049; depth++) {
		char *t = malloc(2 * depth + 1), d[64];
		memset(t, '[', depth);
		memset(t + depth, ']', depth);
		t[2 * depth] = '\0';
		snprintf(d, sizeof(d), "%zu nested arrays", depth);
		same_as_jansson(d, t, 2 * depth, depth <= 2048);
		free(t);
	}
}

static const struct jsonget_fields inner[] = { { "c", NULL }, { NULL, NULL } };
static const struct jsonget_fields top[] = {
	{ "a", NULL }, { "b", inner }, { "e", inner }, { NULL, NULL } };

static void
expect_kept(const char *descr, const char *text, const char *want_json)
{
	char d[512];
	json_t *got = skim(text, strlen(text), top);
	json_t *want = want_json != NULL ? json_loads(want_json, 0, NULL) : NULL;

	snprintf(d, sizeof(d), "%s", descr);
	test_cond(d, want_json == NULL ? got == NULL : got != NULL && json_equal(got, want));
	json_decref(got);
	json_decref(want);
}

static void
test_keep(void)
{
	expect_kept("only the named members, at every level",
	    "{\"a\":{\"x\":1,\"y\":[2]},\"b\":{\"c\":2,\"d\":3},\"e\":[{\"c\":1,\"x\":2},{\"z\":1}],\"f\":9}",
	    "{\"a\":{\"x\":1,\"y\":[2]},\"b\":{\"c\":2},\"e\":[{\"c\":1},{}]}");
	expect_kept("a member named but not an object is kept as it is",
	    "{\"b\":[1,\"c\"],\"e\":\"s\"}", "{\"b\":[1,\"c\"],\"e\":\"s\"}");
	expect_kept("a skipped member with a duplicate key is still refused",
	    "{\"a\":1,\"z\":{\"q\":1,\"q\":2}}", NULL);
	expect_kept("a skipped member with \\u0000 is still refused",
	    "{\"a\":1,\"z\":\"\\u0000\"}", NULL);
	expect_kept("a skipped member with a bad number is still refused",
	    "{\"a\":1,\"z\":[1e400]}", NULL);
	expect_kept("a skipped member with bad UTF-8 is still refused",
	    "{\"a\":1,\"z\":\"\xc0\x80\"}", NULL);
	expect_kept("a skipped member with a syntax error is still refused",
	    "{\"a\":1,\"z\":[1,]}", NULL);
	expect_kept("a skipped member that repeats a kept key is refused",
	    "{\"a\":1,\"b\":{},\"a\":2}", NULL);
}

int
main(void)
{
	test_grammar();
	test_strings();
	test_numbers();
	test_duplicates_and_depth();
	test_keep();
	return test_report();
}
