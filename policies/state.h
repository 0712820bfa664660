/* SPDX-License-Identifier: Apache-2.0 */
/* state: the cluster objects policies decide against, reduced to an indexed set of host claims. */
#ifndef TG_STATE_H
#define TG_STATE_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct claims;

struct state {
	struct claims *claims;      /* live claims; owner = index into owners */
	struct strmap *owner_ids;   /* owner key ("tenant/NAME", "namespace/NAME") -> id + 1 */
	char         **owners;      /* id -> owner key */
	size_t         n_owners;
	size_t         n_objects;
};

/* A new empty state; NULL on allocation failure. */
struct state *state_new(void);
void state_free(struct state *st);

/*
 * Owner key of claims made in namespace `ns`: "tenant/NAME" for a tenant namespace,
 * "namespace/NS" otherwise (the entry namespace attributes per rule, see state.c).
 */
void state_owner_key(const struct config *cfg, const char *ns, char *out, size_t outsz);

/* Id of an owner key, or CLAIMS_NO_OWNER when it holds nothing. */
uint32_t state_owner_lookup(const struct state *st, const char *key);

/*
 * Files the claims of one Kubernetes object (Ingress hosts and TLS hosts, HTTPRoute
 * hostnames; other kinds hold none) under their owner, as DESIGN §1 attributes them.
 * Objects with invalid hosts contribute their valid hosts only. 0, or -1 with err.
 */
int state_add_object(struct state *st, const struct config *cfg, const json_t *obj,
    char *err, size_t errsz);
/* Removes the claims state_add_object filed for the same object. */
int state_remove_object(struct state *st, const struct config *cfg, const json_t *obj);

#endif
