/* SPDX-License-Identifier: Apache-2.0 */
/* rules_gateway: Gateway API Gateway and ListenerSet listeners bind hosts like Ingress rules. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "host.h"
#include "owner.h"
#include "policy.h"
#include "rules.h"

void
rules_listeners(struct rule_ctx *ctx, const json_t *obj)
{
	const json_t *spec = json_object_get(obj, "spec");
	const json_t *listeners = json_object_get(spec, "listeners"), *l, *h;
	char where[64], norm[HOST_MAX];
	size_t i;

	if ((spec != NULL && !json_is_object(spec)) ||
	    (listeners != NULL && !json_is_array(listeners))) {
		rules_invalid(ctx, "spec must be an object and spec.listeners a list");
		return;
	}
	if (ctx->ns_class == NS_ENTRY)
		return;   /* admins only there (entry-admin) */
	json_array_foreach(listeners, i, l) {
		if (!json_is_object(l)) {
			rules_invalid(ctx, "spec.listeners[%zu] must be an object", i);
			return;
		}
		/* No hostname: the listener takes its routes' hostnames, which are claims. */
		if ((h = json_object_get(l, "hostname")) == NULL || json_is_null(h))
			continue;
		snprintf(where, sizeof(where), "spec.listeners[%zu].hostname", i);
		rules_claimed_host(ctx, h, where, norm);
	}
	/* A ListenerSet adds listeners to its parent: another namespace's is another tenant's. */
	const char *pns = jsonget_str(json_object_get(spec, "parentRef"), "namespace");
	if (ctx->tenant != NULL && pns != NULL && strcmp(pns, ctx->req->namespace) != 0)
		rules_violation(ctx, RULE_BACKEND_NAMESPACE, pns, "spec.parentRef names a Gateway in "
		    "namespace '%s'; tenant %s's listeners attach to its own Gateways only", pns,
		    ctx->tenant->name);
}
