/* SPDX-License-Identifier: Apache-2.0 */
/* test_claims: the claim index answers exactly what a scan with host_overlap would. */
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "host.h"
#include "testhelp.h"

#define N_PATTERNS 400

static const char *labels[] = { "a", "b", "c", "api", "x" };
static const char *tops[] = { "customer.com", "client.com", "com", "example.org" };

static void
random_pattern(char *out, size_t outsz, unsigned *seed)
{
	int depth = rand_r(seed) % 3;
	int n = snprintf(out, outsz, "%s", rand_r(seed) % 3 == 0 ? "*." : "");
	for (int i = 0; i < depth; i++)
		n += snprintf(out + n, outsz - (size_t)n, "%s.", labels[rand_r(seed) % 5]);
	snprintf(out + n, outsz - (size_t)n, "%s", tops[rand_r(seed) % 4]);
}

int
main(void)
{
	struct claims *c = claims_new();
	uint32_t out[4];

	test_cond("empty index finds nothing",
	    claims_find(c, "a.customer.com", CLAIMS_OVERLAP, CLAIMS_NO_OWNER, out, 4) == 0);
	claims_add(c, "*.customer.com", 1);
	test_cond("exact under wildcard overlaps",
	    claims_find(c, "a.b.customer.com", CLAIMS_OVERLAP, CLAIMS_NO_OWNER, out, 4) == 1 &&
	    out[0] == 1);
	test_cond("owner excluded", claims_find(c, "a.customer.com", CLAIMS_OVERLAP, 1, out, 4) == 0);
	test_cond("apex does not overlap wildcard",
	    claims_find(c, "customer.com", CLAIMS_OVERLAP, CLAIMS_NO_OWNER, out, 4) == 0);
	test_cond("claims_holds: the exact pattern and owner",
	    claims_holds(c, "*.customer.com", 1));
	test_cond("claims_holds: not another owner, nor CLAIMS_NO_OWNER",
	    !claims_holds(c, "*.customer.com", 2) && !claims_holds(c, "*.customer.com", CLAIMS_NO_OWNER));
	test_cond("claims_holds: not a covered or covering pattern, nor the apex",
	    !claims_holds(c, "a.customer.com", 1) && !claims_holds(c, "*.a.customer.com", 1) &&
	    !claims_holds(c, "customer.com", 1) && !claims_holds(c, "*.com", 1));
	claims_add(c, "customer.com", 2);
	test_cond("claims_holds: exact name and wildcard of one node kept apart",
	    claims_holds(c, "customer.com", 2) && !claims_holds(c, "customer.com", 1) &&
	    !claims_holds(c, "*.customer.com", 2));
	claims_remove(c, "customer.com", 2);
	test_cond("claims_holds: false once removed", !claims_holds(c, "customer.com", 2));
	test_cond("wider wildcard overlaps narrower",
	    claims_find(c, "*.com", CLAIMS_OVERLAP, CLAIMS_NO_OWNER, out, 4) == 1);
	test_cond("wider wildcard is not covered",
	    claims_find(c, "*.com", CLAIMS_COVER, CLAIMS_NO_OWNER, out, 4) == 0);
	test_cond("narrower wildcard is covered",
	    claims_find(c, "*.eu.customer.com", CLAIMS_COVER, CLAIMS_NO_OWNER, out, 4) == 1);
	claims_add(c, "app.customer.com", 2);
	claims_add(c, "app.customer.com", 2);
	test_cond("two owners found under *.customer.com",
	    claims_find(c, "*.customer.com", CLAIMS_OVERLAP, CLAIMS_NO_OWNER, out, 4) == 2);
	test_cond("count is with multiplicity", claims_count(c) == 3);
	claims_remove(c, "app.customer.com", 2);
	test_cond("one removal keeps the second claim",
	    claims_find(c, "*.customer.com", CLAIMS_OVERLAP, 1, out, 4) == 1 && out[0] == 2);
	claims_remove(c, "app.customer.com", 2);
	test_cond("second removal frees it",
	    claims_find(c, "*.customer.com", CLAIMS_OVERLAP, 1, out, 4) == 0);
	test_cond("removing what is not there fails", claims_remove(c, "zzz.com", 9) == -1);
	claims_remove(c, "*.customer.com", 1);
	test_cond("empty again", claims_count(c) == 0 &&
	    claims_find(c, "*.com", CLAIMS_OVERLAP, CLAIMS_NO_OWNER, out, 4) == 0);

	/* Many owners on one node switch to the table representation; removals keep it exact. */
	for (uint32_t o = 0; o < 100; o++)
		claims_add(c, "shared.example.org", o);
	test_cond("100 owners: a query excluding one still finds others",
	    claims_find(c, "*.example.org", CLAIMS_OVERLAP, 5, out, 2) == 2);
	for (uint32_t o = 0; o < 100; o++)
		if (o != 42)
			claims_remove(c, "shared.example.org", o);
	test_cond("after removals only owner 42 remains",
	    claims_find(c, "shared.example.org", CLAIMS_OVERLAP, CLAIMS_NO_OWNER, out, 4) == 1 &&
	    out[0] == 42);
	claims_remove(c, "shared.example.org", 42);

	/* Property: the index agrees with a brute-force scan over random patterns and owners. */
	char pats[N_PATTERNS][64];
	uint32_t owners[N_PATTERNS];
	unsigned seed = 12345;
	int mismatches = 0;
	for (int i = 0; i < N_PATTERNS; i++) {
		random_pattern(pats[i], sizeof(pats[i]), &seed);
		owners[i] = (uint32_t)(rand_r(&seed) % 6);
		claims_add(c, pats[i], owners[i]);
	}
	for (int i = 0; i < N_PATTERNS / 2; i++)   /* remove every other one */
		claims_remove(c, pats[2 * i], owners[2 * i]);
	for (int q = 0; q < 300; q++) {
		char qp[64];
		random_pattern(qp, sizeof(qp), &seed);
		uint32_t ex = (uint32_t)(rand_r(&seed) % 6);
		for (int mode = 0; mode < 2; mode++) {
			bool expect[6] = { false };
			for (int i = 1; i < N_PATTERNS; i += 2)
				if (owners[i] != ex && (mode == 0 ? host_overlap(qp, pats[i]) :
				    host_covers(pats[i], qp)))
					expect[owners[i]] = true;
			int n_expect = 0;
			for (int o = 0; o < 6; o++)
				n_expect += expect[o];
			uint32_t got[6];
			size_t n = claims_find(c, qp, mode == 0 ? CLAIMS_OVERLAP : CLAIMS_COVER, ex, got, 6);
			bool same = (int)n == n_expect;
			for (size_t k = 0; k < n && same; k++)
				same = got[k] < 6 && expect[got[k]];
			if (!same)
				mismatches++;
		}
	}
	test_cond("index agrees with a brute-force scan (600 queries)", mismatches == 0);
	claims_free(c);

	/*
	 * claims_add keeps the last name's ancestors for the next name with the same parent; a
	 * removal that drops them must not leave the next add counting into freed nodes (ASan).
	 */
	c = claims_new();
	test_cond("siblings share the kept ancestors", claims_add(c, "a.kept.com", 1) == 0 &&
	    claims_add(c, "b.kept.com", 2) == 0 &&
	    claims_find(c, "*.kept.com", CLAIMS_OVERLAP, CLAIMS_NO_OWNER, out, 4) == 2);
	test_cond("removing both drops the ancestors", claims_remove(c, "a.kept.com", 1) == 0 &&
	    claims_remove(c, "b.kept.com", 2) == 0 && claims_count(c) == 0 &&
	    claims_find(c, "*.kept.com", CLAIMS_OVERLAP, CLAIMS_NO_OWNER, out, 4) == 0);
	test_cond("a sibling after that counts in new ancestors", claims_add(c, "c.kept.com", 3) == 0 &&
	    claims_find(c, "*.kept.com", CLAIMS_OVERLAP, CLAIMS_NO_OWNER, out, 4) == 1 &&
	    out[0] == 3 && claims_find(c, "*.com", CLAIMS_OVERLAP, 3, out, 4) == 0);
	claims_free(c);
	return test_report();
}
