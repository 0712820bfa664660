/* SPDX-License-Identifier: Apache-2.0 */
/* live: the cluster's objects as two left-right state copies that readers never wait for. */
#ifndef TG_LIVE_H
#define TG_LIVE_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct config;
struct state;

/*
 * Left-right: two `struct state` copies, each built with the same config. Readers enter the
 * active copy with two atomic operations and never block; one writer at a time (a mutex)
 * applies an operation to the inactive copy, flips `active`, waits until the readers still in
 * the old copy have left, then applies the same operation to it. A writer-only map keyed
 * "Kind/namespace/name" keeps the last object seen (compact, liveobj.h), so an update or
 * delete removes exactly the claims the previous version added: incremental, never a rebuild
 * per event. A new config rebuilds both copies from that map.
 */
struct live;

/* What a reader decides against: a config and the state built with it, both borrowed. */
struct live_view {
	const struct config *cfg;
	const struct state  *st;
	int                  side;   /* for live_read_end */
};

/* New empty cache with no config (live_read_begin fails until live_set_config). NULL: ENOMEM. */
struct live *live_new(void);
/* Frees it and every object it holds; no reader or writer may be running. */
void live_free(struct live *lv);

/*
 * Installs `cfg` (borrowed until release(release_arg) is called, which happens once neither
 * copy nor any reader uses it any more, at the latest in live_free) and rebuilds both copies
 * from the stored objects with it. 0, or -1 when out of memory (the old config stays).
 */
int live_set_config(struct live *lv, const struct config *cfg, void (*release)(void *),
    void *release_arg);

/*
 * Enters the active copy: fills *v, or returns -1 when no config is installed yet. Wait-free
 * for practical purposes (it retries only while a writer flips). Every successful call must
 * be paired with live_read_end on the same thread, soon: the writer waits for it.
 */
int live_read_begin(struct live *lv, struct live_view *v);
void live_read_end(struct live *lv, const struct live_view *v);

/*
 * Writer operations (thread-safe: they take the writer lock). `obj` is borrowed; the cache
 * keeps the part liveobj_trim keeps, encoded (liveobj.h). Objects need kind and
 * metadata.name; namespace may be absent (cluster-scoped). 0, or -1 with the reason in err;
 * on an indexing failure both copies are rebuilt from the map so they never diverge.
 */
int live_upsert(struct live *lv, const json_t *obj, char *err, size_t errsz);
int live_delete(struct live *lv, const json_t *obj, char *err, size_t errsz);

/*
 * A LIST on its way into the cache (what a relist does): each item is trimmed and encoded as
 * it arrives, so a LIST of 100k objects holds their compact text, never all their trees.
 */
struct live_relist;

/* New empty relist; NULL when out of memory. */
struct live_relist *live_relist_new(void);
void live_relist_free(struct live_relist *r);
/*
 * Adds one listed object (borrowed). An object without kind or metadata.name is left out
 * (0). 0, or -1 when out of memory.
 */
int live_relist_add(struct live_relist *r, const json_t *obj);
/* Objects added (those left out not counted). */
size_t live_relist_count(const struct live_relist *r);
/*
 * Replaces every stored object of `kind` (the kind part of the cache's "Kind/ns/name" keys,
 * CLAIMFIELDS_ISTIO_GATEWAY for Istio's Gateway) with the relist's objects of that kind:
 * objects whose resourceVersion did not change are left alone; the rest is removed and
 * added incrementally, in one flip. Once per relist: it takes the objects it stores. 0, or
 * -1 with the reason in err.
 */
int live_relist_apply(struct live *lv, const char *kind, struct live_relist *r, char *err,
    size_t errsz);

/*
 * Copies of the stored objects of `kind` in namespace `ns` (NULL: every namespace; "" for
 * cluster-scoped objects) as a JSON array (new reference), or NULL when out of memory. They
 * are trimmed like every stored object (liveobj_trim), decoded afresh. Takes the
 * writer lock and visits every stored object: for the reconciler, never the request path,
 * and never between live_read_begin and live_read_end (the writer may be waiting for it).
 */
json_t *live_list(struct live *lv, const char *kind, const char *ns);
/*
 * live_list of the objects whose metadata.labels[label] is `value` only: the others are looked
 * at with their labels alone decoded, never built whole (what the reconciler's sweep of every
 * Ingress for its own needs). Same rules as live_list.
 */
json_t *live_list_labelled(struct live *lv, const char *kind, const char *ns, const char *label,
    const char *value);
/* A copy of one stored object (new reference), or NULL when absent. Same rules as live_list. */
json_t *live_get(struct live *lv, const char *kind, const char *ns, const char *name);

/* Stored objects of `kind` (NULL: all), and claims in the active copy. Thread-safe. */
size_t live_objects(struct live *lv, const char *kind);
size_t live_claims(struct live *lv);

#endif
