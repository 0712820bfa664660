/* SPDX-License-Identifier: Apache-2.0 */
/* dynbuf: a growable byte buffer with its size cap fixed at init (curl's dynbuf model). */
#include "dynbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DYNBUF_FIRST_ALLOC 512

void
dynbuf_init(struct dynbuf *b, size_t max)
{
	b->p = NULL;
	b->len = b->cap = 0;
	b->max = max;
	b->failed = DYNBUF_OK;
}

void
dynbuf_free(struct dynbuf *b)
{
	free(b->p);
	dynbuf_init(b, b->max);
}

void
dynbuf_reset(struct dynbuf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

static int
fail(struct dynbuf *b, int code)
{
	b->failed = code;
	return code;
}

int
dynbuf_reserve(struct dynbuf *b, size_t n)
{
	size_t want, ncap;
	char *np;

	if (b->failed != DYNBUF_OK)
		return b->failed;
	if (n > b->max - b->len)
		return fail(b, DYNBUF_TOOBIG);
	want = b->len + n + 1;   /* the terminator too: max is below SIZE_MAX */
	if (want <= b->cap)
		return DYNBUF_OK;
	ncap = b->cap != 0 ? b->cap : DYNBUF_FIRST_ALLOC;
	while (ncap < want)
		ncap = ncap > (b->max + 1) / 2 ? b->max + 1 : ncap * 2;
	if ((np = realloc(b->p, ncap)) == NULL)
		return fail(b, DYNBUF_NOMEM);
	b->p = np;
	b->cap = ncap;
	return DYNBUF_OK;
}

int
dynbuf_add(struct dynbuf *b, const void *mem, size_t n)
{
	int rc = dynbuf_reserve(b, n);

	if (rc != DYNBUF_OK)
		return rc;
	if (n > 0)
		memcpy(b->p + b->len, mem, n);
	b->len += n;
	b->p[b->len] = '\0';
	return DYNBUF_OK;
}

int
dynbuf_addf(struct dynbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	if (b->failed != DYNBUF_OK)
		return b->failed;
	/* Straight into the spare room when it fits, else once more after growing. */
	va_start(ap, fmt);
	n = vsnprintf(b->p != NULL ? b->p + b->len : NULL, b->p != NULL ? b->cap - b->len : 0,
	    fmt, ap);
	va_end(ap);
	if (n < 0)
		return fail(b, DYNBUF_NOMEM);
	if (b->p != NULL && (size_t)n < b->cap - b->len) {
		if ((size_t)n > b->max - b->len) {
			b->p[b->len] = '\0';
			return fail(b, DYNBUF_TOOBIG);
		}
		b->len += (size_t)n;
		return DYNBUF_OK;
	}
	if ((rc = dynbuf_reserve(b, (size_t)n)) != DYNBUF_OK)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return DYNBUF_OK;
}

char *
dynbuf_take(struct dynbuf *b, size_t *len)
{
	char *p;

	if (b->failed == DYNBUF_OK && b->p == NULL)
		(void)dynbuf_reserve(b, 0);
	if (b->failed != DYNBUF_OK) {
		dynbuf_free(b);
		return NULL;
	}
	b->p[b->len] = '\0';
	p = b->p;
	if (len != NULL)
		*len = b->len;
	b->p = NULL;
	dynbuf_free(b);
	return p;
}
