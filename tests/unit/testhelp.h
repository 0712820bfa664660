/* SPDX-License-Identifier: Apache-2.0 */
/* testhelp: the whole unit-test framework (after Redis' testhelp.h). */
#ifndef TG_TESTHELP_H
#define TG_TESTHELP_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int test_passed, test_failed;

/* Records one named assertion; prints failures with their location. */
#define test_cond(descr, cond) do { \
	if (cond) { test_passed++; } \
	else { test_failed++; printf("FAIL %s (%s:%d)\n", (descr), __FILE__, __LINE__); } \
} while (0)

/* Prints the summary line tests/run.sh adds up; returns the exit status for main. */
#define test_report() ( \
	printf("%d passed, %d failed\n", test_passed, test_failed), test_failed ? 1 : 0)

/* Writes text to a fresh temporary file named after prefix; its name is left in
 * path (empty when the file could not be written). Returns whether it was. */
static inline int
test_write_tmp(char *path, size_t pathsz, const char *prefix, const char *text)
{
	snprintf(path, pathsz, "/tmp/%s-XXXXXX", prefix);
	int fd = mkstemp(path);
	if (fd < 0) {
		path[0] = '\0';
		return 0;
	}
	size_t n = strlen(text);
	int ok = write(fd, text, n) == (ssize_t)n;
	close(fd);
	if (!ok)
		path[0] = '\0';
	return ok;
}

#endif
