/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_ndjson: a watch stream cut into chunks anywhere (the cut points come from the input's
 * first byte) must split into exactly the lines a one-shot split of the whole stream gives:
 * same lines, same order, "\r\n" and empty lines handled alike, and the same verdict on a
 * line over the limit.
 */
#include <string.h>

#include "fuzz.h"
#include "ndjson.h"

#define MAX_LINE 256

struct lines {
	char   buf[1 << 16];
	size_t len;
	size_t n;
};

static int
collect(const char *line, size_t len, void *arg)
{
	struct lines *l = arg;

	FUZZ_ASSERT(len > 0 && len <= MAX_LINE, "a line of %zu bytes handed out", len);
	FUZZ_ASSERT(memchr(line, '\n', len) == NULL, "a newline inside a line");
	if (l->len + len + 1 <= sizeof(l->buf)) {
		memcpy(l->buf + l->len, line, len);
		l->buf[l->len + len] = '\n';
		l->len += len + 1;
	}
	l->n++;
	return 0;
}

/* The reference: split on "\n", drop one "\r" ending a line, skip empty lines. */
static int
reference(const char *s, size_t n, struct lines *l)
{
	size_t start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '\n')
			continue;
		size_t len = i - start;
		if (len > MAX_LINE)   /* the limit counts the "\r" too */
			return NDJSON_TOO_LONG;
		if (len > 0 && s[start + len - 1] == '\r')
			len--;
		if (len > 0)
			collect(s + start, len, l);
		start = i + 1;
	}
	return 0;
}

static struct lines got, want;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ndjson *nd;
	unsigned step;
	int rc = 0, wrc;
	size_t off;

	if (size < 1 || size > 8192)
		return 0;
	step = data[0] % 17 + 1;
	data++;
	size--;
	/* Only the counts: clearing the two 64 KiB buffers cost more than the split. */
	got.len = got.n = want.len = want.n = 0;
	wrc = reference((const char *)data, size, &want);
	FUZZ_ASSERT((nd = ndjson_new(MAX_LINE)) != NULL, "no memory");
	for (off = 0; off < size && rc == 0;) {
		size_t n = size - off < step ? size - off : step;
		rc = ndjson_feed(nd, (const char *)data + off, n, collect, &got);
		off += n;
		step = step * 7 % 23 + 1;   /* uneven chunks */
	}
	if (rc == 0)
		rc = ndjson_finish(nd, collect, &got);
	ndjson_free(nd);
	FUZZ_ASSERT(rc == wrc, "verdict %d, a one-shot split gives %d", rc, wrc);
	if (rc == 0)
		FUZZ_ASSERT(got.n == want.n && got.len == want.len &&
		    memcmp(got.buf, want.buf, got.len) == 0, "%zu lines, a one-shot split gives %zu",
		    got.n, want.n);
	return 0;
}
