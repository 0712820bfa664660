/* SPDX-License-Identifier: Apache-2.0 */
/* test_ndjson: the watch stream splitter gives the same events however the stream is cut. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ndjson.h"
#include "testhelp.h"

/* The lines one run handed out, joined with '\n' into one string. */
struct got {
	char *text;
	size_t len, cap;
	int lines;
	int stop_at;   /* return 7 from the callback on this line (1-based); 0: never */
};

static int
collect(const char *line, size_t len, void *arg)
{
	struct got *g = arg;

	if (g->len + len + 2 > g->cap) {
		g->cap = (g->len + len + 2) * 2;
		g->text = realloc(g->text, g->cap);
	}
	memcpy(g->text + g->len, line, len);
	g->len += len;
	g->text[g->len++] = '\n';
	g->text[g->len] = '\0';
	g->lines++;
	return g->stop_at == g->lines ? 7 : 0;
}

static void
got_reset(struct got *g)
{
	free(g->text);
	memset(g, 0, sizeof(*g));
}

/* Feeds `s` cut at the given positions (ascending, in (0, len)), then finishes. */
static int
feed_cut(const char *s, size_t len, const size_t *cuts, size_t ncuts, struct got *g)
{
	struct ndjson *nd = ndjson_new(1 << 20);
	size_t at = 0;
	int rc = 0;

	for (size_t i = 0; i <= ncuts && rc == 0; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		rc = ndjson_feed(nd, s + at, end - at, collect, g);
		at = end;
	}
	if (rc == 0)
		rc = ndjson_finish(nd, collect, g);
	ndjson_free(nd);
	return rc;
}

/* A watch stream as the apiserver writes it, with the odd shapes a proxy could add. */
static const char stream[] =
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\","
    "\"resourceVersion\":\"101\"},\"data\":{\"k\":\"line1\\nline2\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\","
    "\"resourceVersion\":\"102\"},\"data\":{\"k\":\"\xc3\xa9t\xc3\xa9 \\u2603\"}}}\r\n"
    "\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":"
    "{\"resourceVersion\":\"150\"}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\","
    "\"resourceVersion\":\"151\"}}}\n"
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\","
    "\"message\":\"too old resource version: 5 (232)\"}}\n";

static const char short_stream[] =
    "{\"type\":\"ADDED\",\"object\":{\"a\":1}}\n\n"
    "{\"type\":\"BOOKMARK\",\"object\":{}}\r\n"
    "{\"type\":\"DELETED\",\"object\":{\"b\":[2]}}";   /* no final newline: finish gives it */

/* Every line decodes to an event with a type and an object, as kube_watch expects. */
static int
all_events(const char *text, int *count)
{
	const char *p = text;
	*count = 0;
	while (*p) {
		const char *nl = strchr(p, '\n');
		json_t *ev = json_loadb(p, (size_t)(nl - p), JSON_REJECT_DUPLICATES, NULL);
		int good = ev && json_is_string(json_object_get(ev, "type")) &&
		    json_is_object(json_object_get(ev, "object"));
		json_decref(ev);
		if (!good)
			return 0;
		(*count)++;
		p = nl + 1;
	}
	return 1;
}

static void
test_every_split(void)
{
	struct got whole = { 0 }, g = { 0 };
	size_t len = sizeof(stream) - 1;
	int n, bad2 = 0, bad1 = 0;

	test_cond("whole stream: fed at once gives 5 lines", feed_cut(stream, len, NULL, 0,
	    &whole) == 0 && whole.lines == 5);
	test_cond("whole stream: each line is an event (CR and empty line gone)",
	    all_events(whole.text, &n) && n == 5);
	test_cond("whole stream: the embedded \\n escape stays inside its line",
	    strstr(whole.text, "line1\\nline2") != NULL);

	/* Two chunks, cut at every byte position. */
	for (size_t i = 1; i < len; i++) {
		got_reset(&g);
		if (feed_cut(stream, len, &i, 1, &g) != 0 || strcmp(g.text, whole.text) != 0) {
			if (bad2++ == 0)
				printf("  first bad 2-way cut at %zu\n", i);
		}
	}
	test_cond("2-way cuts at all positions give the same events", bad2 == 0);

	/* One byte at a time. */
	size_t cuts[sizeof(stream)];
	for (size_t i = 1; i < len; i++)
		cuts[i - 1] = i;
	got_reset(&g);
	bad1 = feed_cut(stream, len, cuts, len - 1, &g) != 0 || strcmp(g.text, whole.text) != 0;
	test_cond("byte-by-byte feeding gives the same events", bad1 == 0);
	got_reset(&g);
	got_reset(&whole);
}

static void
test_every_three_way_split(void)
{
	struct got whole = { 0 }, g = { 0 };
	size_t len = sizeof(short_stream) - 1, combos = 0;
	int bad = 0, n;

	feed_cut(short_stream, len, NULL, 0, &whole);
	test_cond("short stream: 3 events, the last one without a newline",
	    whole.lines == 3 && all_events(whole.text, &n) && n == 3);
	for (size_t i = 1; i < len; i++) {
		for (size_t j = i; j < len; j++) {   /* j == i: an empty middle chunk */
			size_t cuts[2] = { i, j };
			got_reset(&g);
			combos++;
			if (feed_cut(short_stream, len, cuts, 2, &g) != 0 ||
			    strcmp(g.text, whole.text) != 0) {
				if (bad++ == 0)
					printf("  first bad 3-way cut at %zu,%zu\n", i, j);
			}
		}
	}
	char d[128];
	snprintf(d, sizeof(d), "3-way cuts at all %zu position pairs give the same events", combos);
	test_cond(d, bad == 0);
	got_reset(&g);
	got_reset(&whole);
}

static void
test_limits(void)
{
	struct got g = { 0 };
	struct ndjson *nd = ndjson_new(16);

	test_cond("a line of exactly max_line bytes passes",
	    ndjson_feed(nd, "0123456789abcdef\n", 17, collect, &g) == 0 && g.lines == 1);
	test_cond("max_line + 1 in one chunk is refused",
	    ndjson_feed(nd, "0123456789abcdefX\n", 18, collect, &g) == NDJSON_TOO_LONG);
	test_cond("the splitter stays failed", ndjson_feed(nd, "ok\n", 3, collect, &g) ==
	    NDJSON_TOO_LONG && g.lines == 1);
	ndjson_free(nd);

	nd = ndjson_new(16);
	int rc = ndjson_feed(nd, "0123456789", 10, collect, &g);
	test_cond("an unfinished line under the limit is kept", rc == 0 && ndjson_pending(nd) == 10);
	rc = ndjson_feed(nd, "abcdefg", 7, collect, &g);
	test_cond("an unfinished line is refused as soon as it passes the limit, before its "
	    "newline", rc == NDJSON_TOO_LONG);
	ndjson_free(nd);

	nd = ndjson_new(16);
	ndjson_feed(nd, "0123456789", 10, collect, &g);
	rc = ndjson_feed(nd, "abcdefg\n", 8, collect, &g);
	test_cond("an overlong line completed across chunks is refused", rc == NDJSON_TOO_LONG);
	ndjson_free(nd);
	got_reset(&g);
}

static void
test_partial_and_stop(void)
{
	struct got g = { 0 };
	struct ndjson *nd = ndjson_new(1024);

	int rc = ndjson_feed(nd, "{\"a\":1}\n{\"b\"", 12, collect, &g);
	test_cond("partial last line: the complete one is out, the rest kept",
	    rc == 0 && g.lines == 1 && ndjson_pending(nd) == 4);
	rc = ndjson_feed(nd, ":2}", 3, collect, &g);
	test_cond("partial last line: still kept without a newline",
	    rc == 0 && g.lines == 1 && ndjson_pending(nd) == 7);
	rc = ndjson_feed(nd, "\n", 1, collect, &g);
	test_cond("partial last line: completed by the next chunk",
	    rc == 0 && g.lines == 2 && strcmp(g.text, "{\"a\":1}\n{\"b\":2}\n") == 0 &&
	    ndjson_pending(nd) == 0);
	rc = ndjson_finish(nd, collect, &g);
	test_cond("finish with nothing pending hands out nothing", rc == 0 && g.lines == 2);
	ndjson_free(nd);
	got_reset(&g);

	nd = ndjson_new(1024);
	g.stop_at = 2;
	rc = ndjson_feed(nd, "1\n2\n3\n", 6, collect, &g);
	test_cond("a callback's non-zero return stops the feed and is returned",
	    rc == 7 && g.lines == 2);
	ndjson_free(nd);
	got_reset(&g);

	nd = ndjson_new(1024);
	rc = ndjson_feed(nd, "\n\r\n\n", 4, collect, &g);
	test_cond("empty lines (also \"\\r\\n\") are skipped", rc == 0 && g.lines == 0);
	ndjson_free(nd);
	got_reset(&g);
}

/* A 16 MiB line in 4 KiB chunks: re-scanning the held bytes per chunk would take ~32 GiB of
 * memchr; one pass takes milliseconds. */
static void
test_linear(void)
{
	size_t big = (size_t)16 << 20, chunk = 4096;
	char *s = malloc(big + 1);
	struct got g = { 0 };
	struct ndjson *nd = ndjson_new(big);
	int rc = 0;

	memset(s, 'x', big);
	s[big] = '\n';
	clock_t t0 = clock();
	for (size_t at = 0; at < big + 1 && rc == 0; at += chunk)
		rc = ndjson_feed(nd, s + at, at + chunk > big + 1 ? big + 1 - at : chunk, collect, &g);
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	char d[128];
	snprintf(d, sizeof(d), "a 16 MiB line in 4 KiB chunks arrives whole, in one pass (%.2f s)",
	    secs);
	test_cond(d, rc == 0 && g.lines == 1 && g.len == big + 1 && secs < 5.0);
	ndjson_free(nd);
	free(s);
	got_reset(&g);
}

int
main(void)
{
	test_every_split();
	test_every_three_way_split();
	test_limits();
	test_partial_and_stop();
	test_linear();
	return test_report();
}
