/* SPDX-License-Identifier: Apache-2.0 */
/* fileio: a whole file or stream read into memory under a size cap; a file's change stamp. */
#include "fileio.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILEIO_FIRST_ALLOC ((size_t)64 * 1024)
#define FILEIO_PREFAULT_MIN ((size_t)4 * 1024 * 1024)

/*
 * Faults in a large buffer's pages at once, in huge pages where the kernel has them: filling
 * a 30 MB state file page by page took ~7,500 faults, most of the read's time on this VM.
 * Only advice: on a kernel without it the pages fault in as they are written.
 */
static void
prefault(char *buf, size_t size)
{
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t a, b;

	if (size < FILEIO_PREFAULT_MIN || page <= 0)
		return;
	a = ((uintptr_t)buf + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
	b = ((uintptr_t)buf + size) & ~((uintptr_t)page - 1);
	if (b <= a)
		return;
#ifdef MADV_HUGEPAGE
	(void)madvise((void *)a, b - a, MADV_HUGEPAGE);
#endif
#ifdef MADV_POPULATE_WRITE
	(void)madvise((void *)a, b - a, MADV_POPULATE_WRITE);
#endif
}

/* Moves the n bytes read so far into a new buffer of nsize, wiping the old one. */
static char *
fileio_grow(char *buf, size_t n, size_t nsize)
{
	char *nb = malloc(nsize);

	/* Not realloc: it could leave an unwiped copy of key material in freed memory. */
	if (nb == NULL)
		return NULL;
	prefault(nb, nsize);
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

static bool
stat_same(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

bool
fileio_changed(const char *path, struct fileio_stamp *old)
{
	struct fileio_stamp now;
	bool changed;

	memset(&now, 0, sizeof(now));
	now.present = lstat(path, &now.link) == 0 && realpath(path, now.resolved) != NULL &&
	    stat(now.resolved, &now.target) == 0;
	if (!now.present)
		memset(&now, 0, sizeof(now));
	changed = now.present != old->present ||
	    (now.present && (!stat_same(&now.link, &old->link) ||
	    !stat_same(&now.target, &old->target) || strcmp(now.resolved, old->resolved) != 0));
	*old = now;
	return changed;
}
