/* SPDX-License-Identifier: Apache-2.0 */
/* fileio: a whole file or stream read into memory under a size cap, fixed by the caller. */
#include "fileio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FILEIO_FIRST_ALLOC ((size_t)64 * 1024)

/* Moves the n bytes read so far into a new buffer of nsize, wiping the old one. */
static char *
fileio_grow(char *buf, size_t n, size_t nsize)
{
	char *nb = malloc(nsize);

	/* Not realloc: it could leave an unwiped copy of key material in freed memory. */
	if (nb == NULL)
		return NULL;
	if (buf != NULL) {
		memcpy(nb, buf, n);
		explicit_bzero(buf, n);
		free(buf);
	}
	return nb;
}

/* fileio_read_stream, with the first buffer `first` bytes (0: FILEIO_FIRST_ALLOC). */
static char *
read_stream(FILE *f, const char *name, size_t cap, size_t first, size_t *len, char *err,
    size_t errsz)
{
	char *buf = NULL;
	size_t n = 0, size = 0;

	for (;;) {
		if (n == size) {
			/* Room for cap + 1 bytes tells "too big" from "exactly at the cap". */
			if (size > cap) {
				snprintf(err, errsz, "%s: larger than %zu bytes", name, cap);
				goto fail;
			}
			size_t nsize = size ? size * 2 : first ? first : FILEIO_FIRST_ALLOC;
			if (nsize > cap + 1)
				nsize = cap + 1;
			char *nb = fileio_grow(buf, n, nsize);
			if (nb == NULL) {
				snprintf(err, errsz, "%s: out of memory", name);
				goto fail;
			}
			buf = nb;
			size = nsize;
		}
		size_t got = fread(buf + n, 1, size - n, f);
		if (got == 0) {
			if (ferror(f)) {
				snprintf(err, errsz, "%s: %s", name, strerror(errno));
				goto fail;
			}
			break;
		}
		n += got;
	}
	/* The last fread found the end with room left, so n < size. */
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	if (buf != NULL) {
		explicit_bzero(buf, n);
		free(buf);
	}
	return NULL;
}

char *
fileio_read_stream(FILE *f, const char *name, size_t cap, size_t *len, char *err,
    size_t errsz)
{
	return read_stream(f, name, cap, 0, len, err, errsz);
}

char *
fileio_read(const char *path, size_t cap, size_t *len, char *err, size_t errsz)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	if (f == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	/*
	 * A regular file's size is only the first buffer's (one more byte finds the end): it
	 * grows as usual if the file grew meanwhile. It spares a 30 MB state file eight rounds
	 * of copying and wiping.
	 */
	struct stat sb;
	size_t first = fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
	    (size_t)sb.st_size < cap ? (size_t)sb.st_size + 1 : 0;
	buf = read_stream(f, path, cap, first, len, err, errsz);
	fclose(f);
	return buf;
}
