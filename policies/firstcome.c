/* SPDX-License-Identifier: Apache-2.0 */
/* firstcome: which hosts of an allowed request are new first-come claims, and their verdicts. */
#include "firstcome.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "claimfields.h"
#include "claims.h"
#include "config.h"
#include "host.h"
#include "jsonget.h"
#include "owner.h"
#include "policy.h"
#include "psl.h"
#include "state.h"

struct collected {
	char  (*pats)[HOST_MAX];
	size_t n, cap;
};

/* Adds a host's normalised form to the patterns unless invalid or already there. */
static int
collect(const char *host, void *arg)
{
	struct collected *c = arg;
	char (**pats)[HOST_MAX] = &c->pats;
	size_t *n = &c->n, *cap = &c->cap;
	char norm[HOST_MAX];
	const char *why;
	if (host_normalize(host, norm, sizeof(norm), &why) != 0)
		return 0;   /* policy_validate denies invalid hosts */
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*pats)[i], norm) == 0)
			return 0;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		char (*p)[HOST_MAX] = realloc(*pats, nc * sizeof(**pats));
		if (p == NULL)
			return -1;
		*pats = p;
		*cap = nc;
	}
	memcpy((*pats)[(*n)++], norm, sizeof(norm));
	return 0;
}

bool
firstcome_public_suffix(const struct config *cfg, const char *pattern)
{
	char reg[HOST_MAX];

	return cfg->psl != NULL && !psl_registrable(cfg->psl, host_is_wildcard(pattern) ?
	    pattern + 2 : pattern, reg, sizeof(reg));
}

void
firstcome_review(const struct config *cfg, const struct request *req, struct decision *d,
    firstcome_claim_fn claim, void *arg)
{
	const json_t *obj = req->object;
	struct collected c = { NULL, 0, 0 };
	size_t i;
	int rc;

	if (!d->allowed || obj == NULL || (req->op != OP_CREATE && req->op != OP_UPDATE) ||
	    (req->subresource != NULL && req->subresource[0] != '\0'))
		return;
	/* Every kind with a host-binding field (claimfields): Ingress, routes, listeners, Istio. */
	if (claimfields_kind(req->group, req->kind) == CLAIM_KIND_NONE)
		return;
	if (req->namespace == NULL || strcmp(req->namespace, cfg->entry_namespace) == 0)
		return;   /* the entry namespace routes hosts others hold; it claims none first-come */

	rc = claimfields_each(cfg, obj, collect, &c);
	char (*pats)[HOST_MAX] = c.pats;
	size_t n = c.n;
	if (rc != 0) {
		free(pats);
		decision_deny(d, 500, RULE_HOST_COLLISION,
		    "out of memory collecting the hosts to claim");
		return;
	}

	char owner[300], err[1024];
	uint32_t ids[1];
	const struct tenant *tenant = config_namespace_tenant(cfg, req->namespace);
	state_owner_key(cfg, req->namespace, owner, sizeof(owner));
	for (i = 0; i < n && d->allowed; i++) {
		const char *p = pats[i];
		/* A relaxed collision got the object in; the claim stays with its first owner. */
		if (decision_is_unclaimed(d, p))
			continue;
		/* Only first-come patterns: not the system domain's, not under any reservation. */
		if (owner_touches_system(cfg, p) ||
		    claims_find(cfg->reservations, p, CLAIMS_OVERLAP, CLAIMS_NO_OWNER, ids, 1) > 0)
			continue;
		err[0] = '\0';
		switch (claim(arg, p, owner, req->dry_run, err, sizeof(err))) {
		case FIRSTCOME_WON:
			break;
		/* Relaxed by the mode: admitted, and the store wrote nothing for it. */
		case FIRSTCOME_LOST:
			decision_enforce(d, cfg, tenant, 403, RULE_HOST_COLLISION, "host '%s' overlaps a "
			    "host already claimed by another tenant or namespace; choose another host", p);
			break;
		case FIRSTCOME_PUBLIC_SUFFIX:
			decision_enforce(d, cfg, tenant, 403, RULE_HOST_OWNERSHIP, "host '%s' %s the "
			    "public suffix %s, which nobody can claim; claim names under a registered "
			    "domain", p, host_is_wildcard(p) ? "spans every domain under" : "is",
			    host_is_wildcard(p) ? p + 2 : p);
			break;
		case FIRSTCOME_ERROR:
			decision_deny(d, 500, RULE_HOST_COLLISION, "host '%s' could not be claimed: the "
			    "apiserver could not be asked (%s)", p, err);
			break;
		}
	}
	free(pats);
}
