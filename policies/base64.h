/* SPDX-License-Identifier: Apache-2.0 */
/* base64: standard alphabet (RFC 4648 §4), strict decoding, as Kubernetes stores Secret data. */
#ifndef TG_BASE64_H
#define TG_BASE64_H
#include <stddef.h>

/* Decodes `in` into a new buffer (*out, malloc'd, NUL-terminated for convenience). -1 if not base64. */
int base64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen);
/* Encodes into a new NUL-terminated string, or NULL on allocation failure. */
char *base64_encode(const unsigned char *in, size_t len);

#endif
