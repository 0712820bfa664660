/* SPDX-License-Identifier: Apache-2.0 */
/* jsonout: JSON text written straight into a growing buffer, escaped as jansson dumps it. */
#ifndef TG_JSONOUT_H
#define TG_JSONOUT_H
#include <stdbool.h>
#include <stddef.h>

#include "dynbuf.h"

/*
 * For the texts written on every review (the response, the decision log line): no jansson
 * values are built and nothing is serialised twice (DESIGN §7). A failure (out of memory, or
 * a string that is not valid UTF-8, which jansson would refuse too) sticks: later calls do
 * nothing and `failed` stays set. Start with jsonout_init; the text is in `b` (dynbuf.h:
 * dynbuf_take or dynbuf_free it).
 */
struct jsonout {
	struct dynbuf b;
	bool          failed;
};

/* An empty text of at most `max` bytes. */
void jsonout_init(struct jsonout *o, size_t max);

/* Appends n bytes as they are; may reallocate. */
void jsonout_raw(struct jsonout *o, const char *s, size_t n);
/* Appends a NUL-terminated literal as it is (keys with their punctuation, numbers). */
void jsonout_lit(struct jsonout *o, const char *s);
/* Appends `s` as a quoted JSON string, escaped as jansson's compact dump escapes it. NULL or
 * invalid UTF-8 fails. */
void jsonout_str(struct jsonout *o, const char *s);

#endif
