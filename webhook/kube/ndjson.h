/* SPDX-License-Identifier: Apache-2.0 */
/* ndjson: splits a byte stream arriving in chunks into newline-terminated lines, bounded. */
#ifndef TG_NDJSON_H
#define TG_NDJSON_H
#include <stddef.h>

/*
 * A watch response is one JSON document per line, delivered in chunks cut anywhere. The
 * splitter scans every byte once: complete lines inside a chunk are handed out in place,
 * and only the unfinished tail of a chunk is copied, so a chunk never makes it re-scan
 * what it already holds (it holds no newline, by construction).
 */
struct ndjson;

/* Called once per complete line: the bytes without "\n" (and without a "\r" before it),
 * borrowed until the call returns, not NUL-terminated. Empty lines are skipped. Return 0
 * to go on; any other value stops ndjson_feed, which returns it. */
typedef int (*ndjson_line_fn)(const char *line, size_t len, void *arg);

/* A new splitter refusing lines longer than max_line bytes; NULL when out of memory. */
struct ndjson *ndjson_new(size_t max_line);
void ndjson_free(struct ndjson *nd);

/* What ndjson_feed and ndjson_finish return besides 0 and a callback's value. */
#define NDJSON_TOO_LONG (-1) /* a line exceeds max_line; the splitter stays failed */
#define NDJSON_NOMEM (-2)    /* the buffer for an unfinished line could not grow */

/*
 * Feeds `len` bytes, calling `line` for every line they complete, in order. The unfinished
 * last line is kept (the buffer may reallocate) for the next feed. Returns 0, a line
 * callback's non-zero value (the rest of the chunk is dropped), NDJSON_TOO_LONG or
 * NDJSON_NOMEM; after a negative return every further feed returns it again.
 */
int ndjson_feed(struct ndjson *nd, const char *data, size_t len, ndjson_line_fn line,
    void *arg);

/*
 * The stream has ended: hands out an unfinished last line (as if "\n" had followed) and
 * empties the splitter. Returns what ndjson_feed would.
 */
int ndjson_finish(struct ndjson *nd, ndjson_line_fn line, void *arg);

/* Bytes of the unfinished last line held right now. */
size_t ndjson_pending(const struct ndjson *nd);

#endif
