/* SPDX-License-Identifier: Apache-2.0 */
/* base64: encoder and strict decoder (padding required, no whitespace), as encoding/json writes. */
#include "base64.h"

#include <stdlib.h>

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
value_of(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int
base64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
	if (len % 4 != 0)
		return -1;
	unsigned char *buf = malloc(len / 4 * 3 + 1);
	size_t n = 0;
	if (buf == NULL)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		size_t pad = 0;
		for (size_t k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + k];
			if (c == '=' && i + 4 == len && k >= 2) {
				pad++;
				v[k] = 0;
				continue;
			}
			if (pad > 0 || (v[k] = value_of(c)) < 0) {
				free(buf);
				return -1;
			}
		}
		unsigned triple = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 |
		    (unsigned)v[3];
		buf[n++] = (unsigned char)(triple >> 16);
		if (pad < 2)
			buf[n++] = (unsigned char)(triple >> 8);
		if (pad < 1)
			buf[n++] = (unsigned char)triple;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}

char *
base64_encode(const unsigned char *in, size_t len)
{
	char *out = malloc((len + 2) / 3 * 4 + 1);
	size_t n = 0;
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		unsigned triple = (unsigned)in[i] << 16 |
		    (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < len ? in[i + 2] : 0u);
		out[n++] = alphabet[triple >> 18 & 63];
		out[n++] = alphabet[triple >> 12 & 63];
		out[n++] = i + 1 < len ? alphabet[triple >> 6 & 63] : '=';
		out[n++] = i + 2 < len ? alphabet[triple & 63] : '=';
	}
	out[n] = '\0';
	return out;
}
