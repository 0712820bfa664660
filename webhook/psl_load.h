/* SPDX-License-Identifier: Apache-2.0 */
/* psl_load: the Public Suffix List read from its file. */
#ifndef TG_PSL_LOAD_H
#define TG_PSL_LOAD_H
#include <stddef.h>

struct psl;

/* The list in file `path` (NULL: PSL_FILE), new; NULL with "public suffix list PATH: reason". */
struct psl *psl_load(const char *path, char *err, size_t errsz);

/*
 * The list in PSL_FILE, loaded on the first call and kept for the life of the process
 * (borrowed: never free it); every config shares it. NULL with the reason in err, also on
 * later calls after a failed first one.
 */
const struct psl *psl_shared(char *err, size_t errsz);

#endif
