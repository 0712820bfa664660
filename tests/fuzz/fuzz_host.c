/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_host: two host names or patterns (the input cut at its first newline) through
 * host_normalize, host_covers and host_overlap, with the properties the claim rules rest on:
 * normalising is idempotent, overlap is symmetric and reflexive, covers is reflexive, and
 * covers implies overlaps.
 */
#include <string.h>

#include "fuzz.h"
#include "host.h"

static bool
norm(const char *in, char *out)
{
	const char *why = NULL;
	char again[HOST_MAX];

	if (host_normalize(in, out, HOST_MAX, &why) != 0) {
		FUZZ_ASSERT(why != NULL && why[0] != '\0', "'%s' refused without a reason", in);
		return false;
	}
	FUZZ_ASSERT(host_normalize(out, again, sizeof(again), &why) == 0,
	    "'%s' normalised to '%s', which is refused: %s", in, out, why);
	FUZZ_ASSERT(strcmp(out, again) == 0, "not idempotent: '%s' -> '%s' -> '%s'", in, out, again);
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char a_in[512], b_in[512], a[HOST_MAX], b[HOST_MAX];
	const char *nl = memchr(data, '\n', size);
	size_t alen = nl != NULL ? (size_t)(nl - (const char *)data) : size;
	size_t blen = nl != NULL ? size - alen - 1 : 0;

	if (alen >= sizeof(a_in) || blen >= sizeof(b_in))
		return 0;
	memcpy(a_in, data, alen);
	a_in[alen] = '\0';
	memcpy(b_in, nl != NULL ? nl + 1 : "", blen);
	b_in[blen] = '\0';
	if (strlen(a_in) != alen || strlen(b_in) != blen)
		return 0;   /* a NUL inside: not a string the API could carry */
	if (!norm(a_in, a) || !norm(b_in, b))
		return 0;
	FUZZ_ASSERT(host_overlap(a, a) && host_covers(a, a), "'%s' not reflexive", a);
	FUZZ_ASSERT(host_overlap(a, b) == host_overlap(b, a), "overlap('%s', '%s') not symmetric",
	    a, b);
	FUZZ_ASSERT(!host_covers(a, b) || host_overlap(a, b), "'%s' covers '%s' without overlap",
	    a, b);
	FUZZ_ASSERT(!host_covers(b, a) || host_overlap(a, b), "'%s' covers '%s' without overlap",
	    b, a);
	FUZZ_ASSERT(!(host_covers(a, b) && host_covers(b, a)) || strcmp(a, b) == 0,
	    "'%s' and '%s' cover each other but differ", a, b);
	return 0;
}
