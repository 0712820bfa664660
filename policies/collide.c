/* SPDX-License-Identifier: Apache-2.0 */
/* collide: each first-come claim an object filed, looked up among the other owners' claims. */
#include "collide.h"

#include <stdbool.h>
#include <string.h>

#include "claims.h"
#include "config.h"
#include "jsonget.h"
#include "owner.h"
#include "state.h"

#define COLLIDE_KEY_MAX 768   /* "Kind/namespace/name", as state.c files it */

struct walk {
	const struct config *cfg;
	const struct state  *st;
	collide_fn           fn;
	void                *arg;
	size_t               n;
};

static void
one_claim(const char *pattern, uint32_t owner, void *arg)
{
	struct walk *w = arg;
	uint32_t ids[16], resv[1];

	if (owner_touches_system(w->cfg, pattern) ||
	    claims_find(w->cfg->reservations, pattern, CLAIMS_OVERLAP, CLAIMS_NO_OWNER, resv, 1) > 0)
		return;
	size_t n = claims_find(w->st->claims, pattern, CLAIMS_OVERLAP, owner, ids, 16);
	for (size_t i = 0; i < n; i++) {
		if (w->fn != NULL)
			w->fn(w->arg, pattern, ids[i]);
		w->n++;
	}
}

size_t
collide_object(const struct config *cfg, const struct state *st, const json_t *obj,
    collide_fn fn, void *arg)
{
	const char *ns = jsonget_str(json_object_get(obj, "metadata"), "namespace");
	struct walk w = { cfg, st, fn, arg, 0 };
	char key[COLLIDE_KEY_MAX];

	if (ns == NULL || strcmp(ns, cfg->entry_namespace) == 0 ||
	    !state_object_key(obj, key, sizeof(key)))
		return 0;
	state_object_claims(st, key, one_claim, &w);
	return w.n;
}
