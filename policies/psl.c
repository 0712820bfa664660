/* SPDX-License-Identifier: Apache-2.0 */
/* psl: Public Suffix List rules in a hash set, and the list's matching algorithm. */
#include "psl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "strmap.h"

#define PSL_LINE_MAX 512

struct psl {
	struct strmap *rules;   /* rules as written: "co.uk", "*.ck", "!www.ck" -> (void *)1 */
};

void
psl_free(struct psl *p)
{
	if (p == NULL)
		return;
	strmap_free(p->rules);
	free(p);
}

struct psl *
psl_parse(const char *text, size_t len, char *err, size_t errsz)
{
	struct psl *p = calloc(1, sizeof(*p));
	char line[PSL_LINE_MAX];
	size_t n = 0;

	if (p == NULL || (p->rules = strmap_new()) == NULL)
		goto nomem;
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - text) : len, ll = 0;
		bool ascii = true;
		/* A rule is the line up to its first white space. */
		while (at + ll < end && text[at + ll] != ' ' && text[at + ll] != '\t' &&
		    text[at + ll] != '\r')
			ll++;
		if (ll > 0 && ll < sizeof(line) && !(ll >= 2 && text[at] == '/' && text[at + 1] == '/')) {
			for (size_t i = 0; i < ll; i++) {
				char c = text[at + i];
				if ((unsigned char)c >= 0x80)
					ascii = false;
				line[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
			}
			line[ll] = '\0';
			if (ascii) {
				if (strmap_set(p->rules, line, (void *)1) != 0)
					goto nomem;
				n++;
			}
		}
		at = end + 1;
	}
	if (n == 0) {
		snprintf(err, errsz, "no rules in it");
		psl_free(p);
		return NULL;
	}
	return p;
nomem:
	snprintf(err, errsz, "out of memory");
	psl_free(p);
	return NULL;
}

size_t
psl_suffix_len(const struct psl *p, const char *name)
{
	char rule[HOST_MAX + 2];
	size_t len = strlen(name);
	/* Suffixes from the whole name down to its last label: the first rule found prevails. */
	for (const char *s = name; s != NULL; s = strchr(s, '.') ? strchr(s, '.') + 1 : NULL) {
		const char *parent = strchr(s, '.');
		snprintf(rule, sizeof(rule), "!%s", s);
		if (strmap_get(p->rules, rule) != NULL)
			return parent != NULL ? strlen(parent + 1) : 0;
		if (strmap_get(p->rules, s) != NULL)
			return strlen(s);
		if (parent != NULL) {
			snprintf(rule, sizeof(rule), "*.%s", parent + 1);
			if (strmap_get(p->rules, rule) != NULL)
				return strlen(s);
		}
	}
	const char *last = strrchr(name, '.');
	return last != NULL ? strlen(last + 1) : len;
}

bool
psl_is_suffix(const struct psl *p, const char *name)
{
	return name[0] != '\0' && psl_suffix_len(p, name) == strlen(name);
}

bool
psl_is_listed_tld(const struct psl *p, const char *tld)
{
	char rule[HOST_MAX + 2];
	snprintf(rule, sizeof(rule), "*.%s", tld);
	return strmap_get(p->rules, tld) != NULL || strmap_get(p->rules, rule) != NULL;
}

bool
psl_registrable(const struct psl *p, const char *name, char *out, size_t outsz)
{
	size_t len = strlen(name), ps = psl_suffix_len(p, name);
	if (ps == 0 || ps >= len)
		return false;
	/* name[len - ps - 1] is the dot before the suffix: take one more label. */
	size_t start = len - ps - 1;
	while (start > 0 && name[start - 1] != '.')
		start--;
	if (len - start >= outsz)
		return false;
	memcpy(out, name + start, len - start + 1);
	return true;
}
