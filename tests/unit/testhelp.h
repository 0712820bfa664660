/* SPDX-License-Identifier: Apache-2.0 */
/* testhelp: the whole unit-test framework (after Redis' testhelp.h). */
#ifndef TG_TESTHELP_H
#define TG_TESTHELP_H
#include <stdio.h>

static int test_passed, test_failed;

/* Records one named assertion; prints failures with their location. */
#define test_cond(descr, cond) do { \
	if (cond) { test_passed++; } \
	else { test_failed++; printf("FAIL %s (%s:%d)\n", (descr), __FILE__, __LINE__); } \
} while (0)

/* Prints the summary line tests/run.sh adds up; returns the exit status for main. */
#define test_report() ( \
	printf("%d passed, %d failed\n", test_passed, test_failed), test_failed ? 1 : 0)

#endif
