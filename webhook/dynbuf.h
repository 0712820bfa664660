/* SPDX-License-Identifier: Apache-2.0 */
/* dynbuf: a growable byte buffer with its size cap fixed at init (curl's dynbuf model). */
#ifndef TG_DYNBUF_H
#define TG_DYNBUF_H
#include <stddef.h>

enum {
	DYNBUF_OK     = 0,
	DYNBUF_NOMEM  = -1,   /* an allocation failed */
	DYNBUF_TOOBIG = -2,   /* the content would exceed the cap */
};

/*
 * The content is always NUL-terminated once anything was added (the terminator is not
 * counted in len, nor against the cap). A failure sticks: every later add returns it and
 * changes nothing, while what was added before it stays readable until dynbuf_free. Read the
 * fields; change them only through these functions.
 */
struct dynbuf {
	char  *p;        /* NULL until the first add */
	size_t len;
	size_t cap;      /* allocated bytes */
	size_t max;      /* the cap: len never exceeds it */
	int    failed;   /* DYNBUF_OK, or the first failure */
};

/* An empty buffer whose content may grow to `max` bytes; allocates nothing. */
void dynbuf_init(struct dynbuf *b, size_t max);
/* Frees the memory, back to empty and unfailed with the same cap. */
void dynbuf_free(struct dynbuf *b);
/* Empties the content and keeps the memory for reuse; a failure still sticks. */
void dynbuf_reset(struct dynbuf *b);

/* Appends n bytes; may reallocate. DYNBUF_OK or the (sticky) failure. */
int dynbuf_add(struct dynbuf *b, const void *mem, size_t n);
/* Appends printf output; may reallocate. DYNBUF_OK or the (sticky) failure. */
int dynbuf_addf(struct dynbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes room for `n` more bytes in one allocation (an announced size); may reallocate. */
int dynbuf_reserve(struct dynbuf *b, size_t n);

/*
 * Hands the content over (free() it) with its length in *len (may be NULL): a NUL-terminated
 * string, "" for an empty buffer. NULL when out of memory or failed; the buffer is empty after.
 */
char *dynbuf_take(struct dynbuf *b, size_t *len);

#endif
