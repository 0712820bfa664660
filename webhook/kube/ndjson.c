/* SPDX-License-Identifier: Apache-2.0 */
/* ndjson: splits a byte stream arriving in chunks into newline-terminated lines, bounded. */
#include <stdlib.h>
#include <string.h>

#include "ndjson.h"

struct ndjson {
	char *buf;       /* the unfinished line: never holds a '\n' */
	size_t len;
	size_t cap;
	size_t max_line;
	int failed;      /* 0, or the negative code every later call returns */
};

struct ndjson *
ndjson_new(size_t max_line)
{
	struct ndjson *nd = calloc(1, sizeof(*nd));

	if (nd != NULL)
		nd->max_line = max_line;
	return nd;
}

void
ndjson_free(struct ndjson *nd)
{
	if (nd == NULL)
		return;
	free(nd->buf);
	free(nd);
}

size_t
ndjson_pending(const struct ndjson *nd)
{
	return nd->len;
}

/* Appends to the unfinished line; the caller has checked that the result fits max_line. */
static int
append(struct ndjson *nd, const char *data, size_t len)
{
	size_t need = nd->len + len;

	if (need > nd->cap) {
		size_t cap = nd->cap ? nd->cap : 4096;
		while (cap < need)
			cap = cap > nd->max_line / 2 ? nd->max_line : cap * 2;
		char *b = realloc(nd->buf, cap);
		if (b == NULL)
			return -1;
		nd->buf = b;
		nd->cap = cap;
	}
	memcpy(nd->buf + nd->len, data, len);
	nd->len = need;
	return 0;
}

/* Hands one line out, without a trailing '\r'; empty lines are not worth a call. */
static int
emit(const char *l, size_t n, ndjson_line_fn line, void *arg)
{
	if (n > 0 && l[n - 1] == '\r')
		n--;
	return n > 0 ? line(l, n, arg) : 0;
}

static int
fail(struct ndjson *nd, int code)
{
	nd->failed = code;
	nd->len = 0;
	return code;
}

int
ndjson_feed(struct ndjson *nd, const char *data, size_t len, ndjson_line_fn line, void *arg)
{
	if (nd->failed)
		return nd->failed;
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		if (nl == NULL) {
			/* Refused as soon as it cannot fit, before its end: memory stays bounded. */
			if (len > nd->max_line - nd->len)
				return fail(nd, NDJSON_TOO_LONG);
			if (append(nd, data, len) < 0)
				return fail(nd, NDJSON_NOMEM);
			return 0;
		}
		size_t n = (size_t)(nl - data);
		if (n > nd->max_line - nd->len)
			return fail(nd, NDJSON_TOO_LONG);
		int rc;
		if (nd->len == 0) {
			rc = emit(data, n, line, arg);   /* whole line inside this chunk: no copy */
		} else {
			if (append(nd, data, n) < 0)
				return fail(nd, NDJSON_NOMEM);
			rc = emit(nd->buf, nd->len, line, arg);
			nd->len = 0;
		}
		data = nl + 1;
		len -= n + 1;
		if (rc != 0)
			return rc;
	}
	return 0;
}

int
ndjson_finish(struct ndjson *nd, ndjson_line_fn line, void *arg)
{
	if (nd->failed)
		return nd->failed;
	size_t n = nd->len;
	nd->len = 0;
	return emit(nd->buf, n, line, arg);
}
