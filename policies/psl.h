/* SPDX-License-Identifier: Apache-2.0 */
/* psl: the Public Suffix List (publicsuffix.org) as a lookup table, parsed from its text. */
#ifndef TG_PSL_H
#define TG_PSL_H
#include <stdbool.h>
#include <stddef.h>

/* Where Debian's publicsuffix package installs the list. */
#define PSL_FILE "/usr/share/publicsuffix/public_suffix_list.dat"

struct psl;

/*
 * Parses the list's text (`len` bytes, the file format: "//" comments, one rule a line,
 * "*." wildcard and "!" exception rules; internationalised rules are skipped, hosts here
 * are ASCII). A new table, or NULL with the reason in err (no rules, out of memory).
 */
struct psl *psl_parse(const char *text, size_t len, char *err, size_t errsz);
void psl_free(struct psl *p);

/* Length of the public suffix at the end of normalised `name` (the PSL algorithm, with "*"
 * as the default rule: an unlisted top-level label is a suffix). */
size_t psl_suffix_len(const struct psl *p, const char *name);

/* True when `name` is itself a public suffix ("io", "co.uk", "github.io"). */
bool psl_is_suffix(const struct psl *p, const char *name);

/* True when the top-level label `tld` has a rule of its own ("com", or "*.ck"): a delegated
 * TLD, not just the default rule. */
bool psl_is_listed_tld(const struct psl *p, const char *tld);

/*
 * The registrable domain of `name` (its public suffix plus one label) into out; false when
 * name is a public suffix itself or out is too small.
 */
bool psl_registrable(const struct psl *p, const char *name, char *out, size_t outsz);

#endif
