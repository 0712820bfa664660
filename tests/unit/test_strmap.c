/* SPDX-License-Identifier: Apache-2.0 */
/* test_strmap: copied and borrowed keys, growth, deletion. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"
#include "testhelp.h"

struct entry {
	int  n;
	char name[16];
};

static void
key_is_the_values(const char *key, void *value, void *arg)
{
	int *same = arg;
	*same += key == ((struct entry *)value)->name;
}

static void
key_is_a_copy(const char *key, void *value, void *arg)
{
	int *copies = arg;
	*copies += key != ((struct entry *)value)->name && strcmp(key, ((struct entry *)value)->name) == 0;
}

static void
test_keys(bool borrowed)
{
	enum { N = 1000 };
	struct strmap *m = borrowed ? strmap_new_borrowed() : strmap_new();
	struct entry *e = calloc(N, sizeof(*e));
	int ok = 1, count = 0;

	for (int i = 0; i < N; i++) {
		e[i].n = i;
		snprintf(e[i].name, sizeof(e[i].name), "k%d", i);
		ok &= strmap_set(m, e[i].name, &e[i]) == 0;
	}
	test_cond(borrowed ? "borrowed: every key set through growth" : "copied: every key set",
	    ok && strmap_count(m) == N);
	for (int i = 0; i < N; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%d", i);
		ok &= strmap_get(m, k) == &e[i];
	}
	test_cond(borrowed ? "borrowed: found by an equal key" : "copied: found by an equal key", ok);
	strmap_each(m, borrowed ? key_is_the_values : key_is_a_copy, &count);
	test_cond(borrowed ? "borrowed: the map keeps the caller's pointers" :
	    "copied: the map keeps copies", count == N);
	for (int i = 0; i < N; i += 2)
		ok &= strmap_del(m, e[i].name) == &e[i];
	test_cond(borrowed ? "borrowed: half deleted" : "copied: half deleted",
	    ok && strmap_count(m) == N / 2 && strmap_get(m, "k2") == NULL && strmap_get(m, "k3") == &e[3]);
	strmap_free(m);   /* frees no borrowed key: ASan would see the entries' memory freed twice */
	free(e);
}

/* A reserved map holds what was there and everything added after. */
static void
test_reserve(void)
{
	struct strmap *m = strmap_new();
	char k[32];
	int ok = 1;

	for (long i = 0; i < 10; i++) {
		snprintf(k, sizeof(k), "early%ld", i);
		ok &= strmap_set(m, k, (void *)(i + 1)) == 0;
	}
	test_cond("reserve for 5000", strmap_reserve(m, 5000) == 0 && strmap_reserve(m, 10) == 0);
	for (long i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "late%ld", i);
		ok &= strmap_set(m, k, (void *)(i + 1)) == 0;
	}
	for (long i = 0; i < 10; i++) {
		snprintf(k, sizeof(k), "early%ld", i);
		ok &= strmap_get(m, k) == (void *)(i + 1);
	}
	for (long i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "late%ld", i);
		ok &= strmap_get(m, k) == (void *)(i + 1);
	}
	test_cond("every key found after reserving", ok && strmap_count(m) == 5010);
	strmap_free(m);
}

int
main(void)
{
	test_keys(false);
	test_keys(true);
	test_reserve();
	return test_report();
}
