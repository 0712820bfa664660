/* SPDX-License-Identifier: Apache-2.0 */
/* jsonout: the response and log text, written once, byte for byte what jansson would dump. */
#include "jsonout.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void
jsonout_init(struct jsonout *o, size_t max)
{
	dynbuf_init(&o->b, max);
	o->failed = false;
}

void
jsonout_raw(struct jsonout *o, const char *s, size_t n)
{
	if (!o->failed && dynbuf_add(&o->b, s, n) != DYNBUF_OK)
		o->failed = true;
}

void
jsonout_lit(struct jsonout *o, const char *s)
{
	jsonout_raw(o, s, strlen(s));
}

/* Length of the valid UTF-8 character at p (1-4), or 0: jansson's utf8_check rules. */
static size_t
utf8_char_len(const unsigned char *p)
{
	size_t n;
	unsigned cp, min;

	if (*p < 0x80)
		return 1;
	if ((*p & 0xe0) == 0xc0)
		n = 2, cp = *p & 0x1f, min = 0x80;
	else if ((*p & 0xf0) == 0xe0)
		n = 3, cp = *p & 0x0f, min = 0x800;
	else if ((*p & 0xf8) == 0xf0)
		n = 4, cp = *p & 0x07, min = 0x10000;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {   /* a NUL ends the string here: not a continuation */
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void
jsonout_str(struct jsonout *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s, *run;

	if (s == NULL) {
		o->failed = true;
		return;
	}
	jsonout_raw(o, "\"", 1);
	while (*p != '\0' && !o->failed) {
		char esc[6] = { '\\', 'u', '0', '0', 0, 0 };
		size_t elen = 2;

		for (run = p; *p >= 0x20 && *p != '"' && *p != '\\'; ) {
			size_t n = utf8_char_len(p);

			if (n == 0) {
				o->failed = true;
				return;
			}
			p += n;
		}
		jsonout_raw(o, (const char *)run, (size_t)(p - run));
		if (*p == '\0')
			break;
		switch (*p) {
		case '"':  esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 0xf];
			elen = 6;
			break;
		}
		jsonout_raw(o, esc, elen);
		p++;
	}
	jsonout_raw(o, "\"", 1);
}
