/* SPDX-License-Identifier: Apache-2.0 */
/* state: the cluster objects policies decide against, reduced to an indexed set of host claims. */
#ifndef TG_STATE_H
#define TG_STATE_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonget.h"

struct config;
struct claims;

struct state {
	struct claims  *claims;        /* live claims; owner = index into owners */
	struct strmap  *owner_ids;     /* owner key ("tenant/NAME", "namespace/NAME") -> id + 1 */
	char          **owners;        /* id -> owner key */
	size_t          n_owners;
	size_t          n_objects;
	/* What state_add_object filed, so removal takes back exactly that. */
	struct strmap  *records;       /* "Kind/namespace/name" -> its records, oldest first */
	struct strmap **owner_objects; /* owner id -> set of object keys holding its claims */
};

/* A new empty state; NULL on allocation failure. */
struct state *state_new(void);
void state_free(struct state *st);
/*
 * Makes room for about n objects of one host each, so that filing them grows no table on
 * the way (a hint: more or fewer still work). 0, or -1 when out of memory (st unchanged).
 */
int state_reserve(struct state *st, size_t n);

/*
 * Owner key of claims made in namespace `ns`: "tenant/NAME" for a tenant namespace,
 * "namespace/NS" otherwise (the entry namespace attributes per rule, see state.c).
 */
void state_owner_key(const struct config *cfg, const char *ns, char *out, size_t outsz);

/* Id of an owner key, or CLAIMS_NO_OWNER when it holds nothing. */
uint32_t state_owner_lookup(const struct state *st, const char *key);

/*
 * The key an object is filed under: "Kind/namespace/name" ("Kind//name" for cluster-scoped
 * objects; a missing part is empty). false when it does not fit outsz.
 */
bool state_object_key(const json_t *obj, char *out, size_t outsz);

/*
 * Files the claims of one Kubernetes object (Ingress hosts and TLS hosts, HTTPRoute
 * hostnames; other kinds, Tenant objects included, hold none) under their owner, as DESIGN
 * §1 attributes them with cfg, and records them under the object's key
 * "Kind/namespace/name". Objects with invalid hosts contribute their valid hosts only.
 * 0, or -1 with err (then nothing was filed).
 */
int state_add_object(struct state *st, const struct config *cfg, const json_t *obj,
    char *err, size_t errsz);
/*
 * What state_add_object would file for obj, worked out from the config alone and written to
 * buf (bufsz bytes): its key and each claim's pattern and owner, for state_add_extract to
 * file later (on another thread, say, while this one reads the next object). Returns the
 * size it needs: when that is more than bufsz, buf holds nothing usable (call again with
 * that much). 0 for an object only state_add_object can file: one whose key does not fit, or
 * an Ingress of the entry namespace, whose rules are attributed against the claims filed
 * before them.
 */
size_t state_extract(const struct config *cfg, const json_t *obj, char *buf, size_t bufsz);
/*
 * Files what state_extract wrote (len bytes of it), exactly as state_add_object files the
 * object. 0, or -1 with err (then nothing was filed).
 */
int state_add_extract(struct state *st, const char *buf, size_t len, char *err, size_t errsz);
/*
 * Every member of an object that state_add_object reads (and what a state file's loader needs
 * to name an object): an object reduced to these files exactly the claims the whole one does.
 */
extern const struct jsonget_fields state_object_fields[];
/*
 * What state_extract reads: state_object_fields without a rule's paths. An object reduced to
 * these gives the extract the whole one does, whenever state_extract gives one (not 0).
 */
extern const struct jsonget_fields state_extract_fields[];
/*
 * Removes exactly the claims state_add_object recorded for the object with obj's key, even
 * when the config or the object's content has changed since (an object added twice under
 * one key is removed oldest first). `cfg` is unused and kept for callers. 0, or -1 when the
 * index disagreed with the record (the record is dropped regardless).
 */
int state_remove_object(struct state *st, const struct config *cfg, const json_t *obj);

/* Called with the key "Kind/namespace/name" of an object and one pattern it claims. */
typedef void (*state_claim_fn)(const char *object, const char *pattern, void *arg);

/*
 * The objects holding claims of `owner`: calls fn (may be NULL) for each of their claims of
 * that owner, objects in no particular order, and returns how many objects there are. Costs
 * the owner's claims, not all objects'.
 */
size_t state_owner_objects(const struct state *st, uint32_t owner, state_claim_fn fn,
    void *arg);

/* Called with one pattern an object claims and the id of the owner it is filed under. */
typedef void (*state_filed_fn)(const char *pattern, uint32_t owner, void *arg);

/*
 * The claims state_add_object filed for the object with key `key` ("Kind/namespace/name"):
 * calls fn for each, and returns how many there are. Costs that object's claims.
 */
size_t state_object_claims(const struct state *st, const char *key, state_filed_fn fn,
    void *arg);

#endif
