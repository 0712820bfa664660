/* SPDX-License-Identifier: Apache-2.0 */
/* fileio: a whole file or stream read into memory under a size cap; a file's change stamp. */
#ifndef TG_FILEIO_H
#define TG_FILEIO_H
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

/*
 * Reads the file at `path` whole, refusing more than `cap` bytes (cap < SIZE_MAX). Returns a
 * new buffer (free() it) of *len bytes plus a terminating NUL, or NULL with "path: reason"
 * in err: the system's reason, "out of memory" or "larger than CAP bytes". A path of "-" is
 * the file of that name, not stdin: reading a stream is fileio_read_stream's job.
 *
 * The size is never taken from the file system (it may change, or be a pipe): the buffer
 * grows as bytes arrive. Every buffer given up on the way, and the buffer on failure, is
 * wiped first, so the file may hold key material; wiping the result is the caller's part.
 */
char *fileio_read(const char *path, size_t cap, size_t *len, char *err, size_t errsz);

/*
 * fileio_read for a stream already open (borrowed, left open), e.g. stdin, read to its end;
 * `name` stands for it in err.
 */
char *fileio_read_stream(FILE *f, const char *name, size_t cap, size_t *len, char *err,
    size_t errsz);

/* Enough of a file's identity to notice an edit, a replacement or a swapped symlink. */
struct fileio_stamp {
	bool        present;
	struct stat link;                 /* lstat of the path as given */
	struct stat target;               /* stat of where it resolves */
	char        resolved[PATH_MAX];
};

/*
 * Takes a new stamp of `path` into *old and says whether it differs. Both the path and its
 * resolved target count: a ConfigMap or Secret volume replaces the file by swapping the
 * `..data` symlink of a directory, which leaves the path itself untouched.
 */
bool fileio_changed(const char *path, struct fileio_stamp *old);

#endif
