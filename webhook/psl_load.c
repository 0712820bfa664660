/* SPDX-License-Identifier: Apache-2.0 */
/* psl_load: reads the Public Suffix List file and hands its text to the pure parser. */
#include "psl_load.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "fileio.h"
#include "psl.h"

/* The list is about 250 KB; anything far larger is not it. */
#define PSL_MAX_BYTES (8u * 1024 * 1024)

struct psl *
psl_load(const char *path, char *err, size_t errsz)
{
	char why[512];
	size_t len = 0;
	const char *file = path != NULL ? path : PSL_FILE;
	char *text = fileio_read(file, PSL_MAX_BYTES, &len, why, sizeof(why));
	struct psl *p;

	if (text == NULL) {
		snprintf(err, errsz, "public suffix list: %s (install the publicsuffix package)",
		    why);
		return NULL;
	}
	p = psl_parse(text, len, why, sizeof(why));
	free(text);
	if (p == NULL)
		snprintf(err, errsz, "public suffix list %s: %s", file, why);
	return p;
}

static pthread_once_t shared_once = PTHREAD_ONCE_INIT;
static struct psl *shared;
static char shared_err[600];

static void
shared_load(void)
{
	shared = psl_load(NULL, shared_err, sizeof(shared_err));
}

const struct psl *
psl_shared(char *err, size_t errsz)
{
	pthread_once(&shared_once, shared_load);
	if (shared == NULL)
		snprintf(err, errsz, "%s", shared_err);
	return shared;
}
