/* SPDX-License-Identifier: Apache-2.0 */
/* ndjson: splits a byte stream arriving in chunks into newline-terminated lines, bounded. */
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "ndjson.h"

struct ndjson {
	struct dynbuf line;   /* the unfinished line: never holds a '\n'; at most max_line */
	size_t max_line;
	int failed;           /* 0, or the negative code every later call returns */
};

struct ndjson *
ndjson_new(size_t max_line)
{
	struct ndjson *nd = calloc(1, sizeof(*nd));

	if (nd != NULL) {
		nd->max_line = max_line;
		dynbuf_init(&nd->line, max_line);
	}
	return nd;
}

void
ndjson_free(struct ndjson *nd)
{
	if (nd == NULL)
		return;
	dynbuf_free(&nd->line);
	free(nd);
}

size_t
ndjson_pending(const struct ndjson *nd)
{
	return nd->line.len;
}

/* Appends to the unfinished line; the caller has checked that the result fits max_line. */
static int
append(struct ndjson *nd, const char *data, size_t len)
{
	return dynbuf_add(&nd->line, data, len) == DYNBUF_OK ? 0 : -1;
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
	dynbuf_free(&nd->line);
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
			if (len > nd->max_line - nd->line.len)
				return fail(nd, NDJSON_TOO_LONG);
			if (append(nd, data, len) < 0)
				return fail(nd, NDJSON_NOMEM);
			return 0;
		}
		size_t n = (size_t)(nl - data);
		if (n > nd->max_line - nd->line.len)
			return fail(nd, NDJSON_TOO_LONG);
		int rc;
		if (nd->line.len == 0) {
			rc = emit(data, n, line, arg);   /* whole line inside this chunk: no copy */
		} else {
			if (append(nd, data, n) < 0)
				return fail(nd, NDJSON_NOMEM);
			rc = emit(nd->line.p, nd->line.len, line, arg);
			dynbuf_reset(&nd->line);
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
	size_t n = nd->line.len;
	int rc = emit(nd->line.p, n, line, arg);

	dynbuf_reset(&nd->line);
	return rc;
}
