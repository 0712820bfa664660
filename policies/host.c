/* SPDX-License-Identifier: Apache-2.0 */
/* host: one host semantics for every rule, index and mutation. */
#include "host.h"

#include <string.h>

static bool
all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/*
 * A label inet_aton(3) reads as a number: decimal, octal (leading 0) or "0x" hex. glibc's
 * resolver and Envoy's getaddrinfo mode turn a name made only of such labels ("0x7f000001",
 * "0x7f.0.0.1") into an address instead of asking DNS.
 */
static bool
numeric_label(const char *s, size_t n)
{
	if (n >= 2 && s[0] == '0' && s[1] == 'x') {
		for (size_t i = 2; i < n; i++)
			if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
				return false;
		return true;
	}
	return all_digits(s, n);
}

int
host_normalize(const char *in, char *out, size_t outsz, const char **why)
{
	size_t n = in ? strlen(in) : 0;

	if (n > 0 && in[n - 1] == '.')
		n--;                       /* one trailing dot: the absolute form of the same name */
	if (n == 0) {
		*why = "is empty";
		return -1;
	}
	if (n >= HOST_MAX || n >= outsz) {
		*why = "is longer than 253 characters";
		return -1;
	}
	if (in[0] == '[' || strchr(in, ':') != NULL) {
		*why = "is an IP address or has a port; use a DNS name";
		return -1;
	}
	size_t label = 0, labels = 0, last_start = 0;
	bool numeric_name = true;
	for (size_t i = 0; i <= n; i++) {
		char c = i < n ? in[i] : '.';
		if (c == '.') {
			if (label == 0) {
				*why = "has an empty label";
				return -1;
			}
			if (label > 63) {
				*why = "has a label longer than 63 characters";
				return -1;
			}
			const char *l = out + i - label;
			if (!(label == 1 && l[0] == '*') && (l[0] == '-' || l[label - 1] == '-')) {
				*why = "has a label that starts or ends with '-'";
				return -1;
			}
			if (!numeric_label(l, label))
				numeric_name = false;
			last_start = i - label;
			labels++;
			label = 0;
			if (i < n)
				out[i] = '.';
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == '*') {
			if (i != 0 || n < 2 || in[1] != '.') {
				*why = i == 0 && n == 1 ? "is a bare '*'; use '*.domain'" :
				    "has '*' other than as the whole first label";
				return -1;
			}
		} else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
			*why = (unsigned char)c >= 0x80 ?
			    "has non-ASCII characters; use the punycode (xn--) form" :
			    "has a character outside a-z, 0-9, '-' and '.'";
			return -1;
		}
		out[i] = c;
		label++;
	}
	out[n] = '\0';
	/* A name whose labels are all numbers (inet_aton's forms), or whose last label is
	 * decimal, reads as an IP address. */
	if ((numeric_name && labels <= 4) || all_digits(out + last_start, n - last_start)) {
		*why = "is an IP address; use a DNS name";
		return -1;
	}
	return 0;
}

bool
host_is_loopback(const char *h)
{
	return strcmp(h, "localhost") == 0 || host_is_below(h, "localhost");
}

bool
host_is_wildcard(const char *h)
{
	return h[0] == '*' && h[1] == '.';
}

bool
host_is_below(const char *host, const char *domain)
{
	size_t hl = strlen(host), dl = strlen(domain);
	return hl > dl + 1 && host[hl - dl - 1] == '.' && memcmp(host + hl - dl, domain, dl) == 0;
}

/* True when host equals domain or is below it. */
static bool
at_or_below(const char *host, const char *domain)
{
	return strcmp(host, domain) == 0 || host_is_below(host, domain);
}

bool
host_covers(const char *p, const char *q)
{
	if (!host_is_wildcard(p))
		return strcmp(p, q) == 0;
	/* *.d covers x below d, and *.e when e is d or below it. */
	const char *d = p + 2;
	if (host_is_wildcard(q))
		return at_or_below(q + 2, d);
	return host_is_below(q, d);
}

bool
host_overlap(const char *a, const char *b)
{
	bool wa = host_is_wildcard(a), wb = host_is_wildcard(b);
	if (!wa && !wb)
		return strcmp(a, b) == 0;
	if (wa && wb)
		return at_or_below(a + 2, b + 2) || at_or_below(b + 2, a + 2);
	return wa ? host_is_below(b, a + 2) : host_is_below(a, b + 2);
}
