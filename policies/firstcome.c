/* SPDX-License-Identifier: Apache-2.0 */
/* firstcome: which hosts of an allowed request are new first-come claims, and their verdicts. */
#include "firstcome.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "claims.h"
#include "config.h"
#include "host.h"
#include "jsonget.h"
#include "owner.h"
#include "policy.h"
#include "state.h"

/* Adds a host's normalised form to pats (n of cap) unless invalid or already there. */
static int
collect(const json_t *h, char (**pats)[HOST_MAX], size_t *n, size_t *cap)
{
	char norm[HOST_MAX];
	const char *why;
	if (!json_is_string(h) || host_normalize(json_string_value(h), norm, sizeof(norm), &why) != 0)
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

void
firstcome_review(const struct config *cfg, const struct request *req, struct decision *d,
    firstcome_claim_fn claim, void *arg)
{
	const json_t *obj = req->object, *e, *h;
	char (*pats)[HOST_MAX] = NULL;
	size_t n = 0, cap = 0, i, j;
	int rc = 0;
	bool ingress;

	if (!d->allowed || obj == NULL || (req->op != OP_CREATE && req->op != OP_UPDATE) ||
	    (req->subresource != NULL && req->subresource[0] != '\0'))
		return;
	ingress = strcmp(req->kind, "Ingress") == 0 && strcmp(req->group, "networking.k8s.io") == 0;
	if (!ingress && !(strcmp(req->kind, "HTTPRoute") == 0 &&
	    strcmp(req->group, "gateway.networking.k8s.io") == 0))
		return;
	if (req->namespace == NULL || strcmp(req->namespace, cfg->entry_namespace) == 0)
		return;   /* the entry namespace routes hosts others hold; it claims none first-come */

	if (ingress) {
		json_array_foreach(jsonget_path(obj, "spec.rules"), i, e)
			if (rc == 0 && json_object_get(e, "host") != NULL)
				rc = collect(json_object_get(e, "host"), &pats, &n, &cap);
		json_array_foreach(jsonget_path(obj, "spec.tls"), i, e)
			json_array_foreach(json_object_get(e, "hosts"), j, h)
				if (rc == 0)
					rc = collect(h, &pats, &n, &cap);
	} else {
		json_array_foreach(jsonget_path(obj, "spec.hostnames"), i, h)
			if (rc == 0)
				rc = collect(h, &pats, &n, &cap);
	}
	if (rc != 0) {
		free(pats);
		decision_deny(d, 500, RULE_HOST_COLLISION,
		    "out of memory collecting the hosts to claim");
		return;
	}

	char owner[300], err[1024];
	uint32_t ids[1];
	state_owner_key(cfg, req->namespace, owner, sizeof(owner));
	for (i = 0; i < n && d->allowed; i++) {
		const char *p = pats[i];
		/* Only first-come patterns: not the system domain's, not under any reservation. */
		if (owner_touches_system(cfg, p) ||
		    claims_find(cfg->reservations, p, CLAIMS_OVERLAP, CLAIMS_NO_OWNER, ids, 1) > 0)
			continue;
		err[0] = '\0';
		switch (claim(arg, p, owner, req->dry_run, err, sizeof(err))) {
		case FIRSTCOME_WON:
			break;
		case FIRSTCOME_LOST:
			decision_deny(d, 403, RULE_HOST_COLLISION, "host '%s' overlaps a host already "
			    "claimed by another tenant or namespace; choose another host", p);
			break;
		case FIRSTCOME_PUBLIC_SUFFIX:
			decision_deny(d, 403, RULE_HOST_OWNERSHIP, "host '%s' %s the public suffix %s, "
			    "which nobody can claim; claim names under a registered domain", p,
			    host_is_wildcard(p) ? "spans every domain under" : "is",
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
