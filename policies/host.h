/* SPDX-License-Identifier: Apache-2.0 */
/* host: normalisation, validation and matching of host names and wildcard patterns (DESIGN §1). */
#ifndef TG_HOST_H
#define TG_HOST_H
#include <stdbool.h>
#include <stddef.h>

#define HOST_MAX 254   /* 253 characters and the terminating NUL */

/*
 * Normalises `in` into `out` (lower-case, one trailing dot removed) and validates it as a
 * DNS name or a wildcard pattern "*.d" (the `*` only as the whole first label, matching any
 * depth). Returns 0, or -1 with a static sentence in *why (IP addresses, also inet_aton's
 * numeric forms such as "0x7f000001", empty labels, `*`
 * elsewhere, characters outside [a-z0-9-], labels over 63 or names over 253 characters).
 */
int host_normalize(const char *in, char *out, size_t outsz, const char **why);

/*
 * True for "localhost" and every name below it (normalised): resolvers answer them with the
 * loopback address (RFC 6761), which from a gateway pod is the pod itself, or the node with
 * hostNetwork.
 */
bool host_is_loopback(const char *h);

/* True for a normalised pattern "*.d". */
bool host_is_wildcard(const char *h);

/* True when normalised `host` ends in "." + `domain` (strictly below it). */
bool host_is_below(const char *host, const char *domain);

/* True when pattern `p` covers every host covered by pattern `q` (p ⊇ q). */
bool host_covers(const char *p, const char *q);

/* True when some host is covered by both normalised patterns (DESIGN §1). */
bool host_overlap(const char *a, const char *b);

#endif
