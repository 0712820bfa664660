/* SPDX-License-Identifier: Apache-2.0 */
/* strmap: open-addressing hash map from strings to pointers (keys copied, values borrowed). */
#ifndef TG_STRMAP_H
#define TG_STRMAP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strmap;

/* New empty map; NULL on allocation failure. */
struct strmap *strmap_new(void);
/*
 * A map that keeps the caller's key pointers instead of copies: each key must stay valid and
 * unchanged while it is in the map (typically it lives inside its value). One allocation per
 * entry fewer, for maps with many entries.
 */
struct strmap *strmap_new_borrowed(void);
/* Frees the map and its key copies; values are the caller's. */
void strmap_free(struct strmap *m);
/* Value stored under key[0..len), or NULL. */
void *strmap_getn(const struct strmap *m, const char *key, size_t len);
void *strmap_get(const struct strmap *m, const char *key);
/* Sets key (copied) to value; replaces an existing value. May reallocate. 0 or -1 (ENOMEM). */
int strmap_setn(struct strmap *m, const char *key, size_t len, void *value);
int strmap_set(struct strmap *m, const char *key, void *value);
/*
 * The value slot of key[0..len), made (holding NULL, *created true) when the key is not
 * there: a get-or-insert in one probe. The pointer is good until the map next changes.
 * NULL (ENOMEM, the map unchanged).
 */
void **strmap_upsertn(struct strmap *m, const char *key, size_t len, bool *created);
/*
 * In a borrowed map, makes the entry whose key equals `key` keep `key` itself from now on
 * (when the string it borrowed is about to go). 0, or -1 when absent or the map is not borrowed.
 */
int strmap_rekey(struct strmap *m, const char *key);
/*
 * Makes room for n entries in all (growing the table once, to the size n insertions would
 * reach anyway). May reallocate. 0 or -1 (ENOMEM, the map unchanged).
 */
int strmap_reserve(struct strmap *m, size_t n);
/* Removes key; returns its value or NULL. */
void *strmap_del(struct strmap *m, const char *key);
size_t strmap_count(const struct strmap *m);
/* Calls fn for every entry, in no particular order. */
void strmap_each(const struct strmap *m, void (*fn)(const char *key, void *value, void *arg), void *arg);
/* FNV-1a, exposed for the few callers that hash their own keys. */
uint64_t strmap_hash(const char *key, size_t len);

#endif
