/* SPDX-License-Identifier: Apache-2.0 */
/* rules_namespace: a tenant namespace exists only for a configured tenant. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "policy.h"
#include "rules.h"

void
rules_namespace(struct rule_ctx *ctx, const json_t *obj)
{
	const struct config *cfg = ctx->cfg;
	const char *name = jsonget_str(json_object_get(obj, "metadata"), "name");
	char tenant[254];

	if (ctx->req->op != OP_CREATE || name == NULL)
		return;
	/* The name is the identity: a "<x>-gateway" namespace would be tenant x's. */
	if (template_match(&cfg->tenant_namespace, name, tenant, sizeof(tenant)) &&
	    config_tenant(cfg, tenant) == NULL)
		rules_violation(ctx, RULE_NAMESPACE_TENANT, name, "the name matches the tenant namespace "
		    "template %s%s%s but '%s' is not a configured tenant; add the tenant first or "
		    "choose another name", cfg->tenant_namespace.prefix, "{tenant}",
		    cfg->tenant_namespace.suffix, tenant);
}
