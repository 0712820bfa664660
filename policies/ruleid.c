/* SPDX-License-Identifier: Apache-2.0 */
/* ruleid: the rule ids of DESIGN §2, one table for the rules, the decision log and metrics. */
#include "ruleid.h"

#include <stddef.h>

static const char *const names[RULE_COUNT] = {
	[RULE_NONE]                  = "none",
	[RULE_HOST_OWNERSHIP]        = "host-ownership",
	[RULE_HOST_COLLISION]        = "host-collision",
	[RULE_HOST_INVALID]          = "host-invalid",
	[RULE_INGRESS_CLASS]         = "ingress-class",
	[RULE_BACKEND_NAMESPACE]     = "backend-namespace",
	[RULE_ENTRY_ROUTE]           = "entry-route",
	[RULE_ENTRY_ADMIN]           = "entry-admin",
	[RULE_SERVICE_EXTERNAL_IPS]  = "service-external-ips",
	[RULE_SERVICE_TYPE]          = "service-type",
	[RULE_SERVICE_EXTERNAL_NAME] = "service-external-name",
	[RULE_TLS_SECRET]            = "tls-secret",
	[RULE_TLS_SECRET_HOSTS]      = "tls-secret-hosts",
	[RULE_MANAGED_OBJECT]        = "managed-object",
	[RULE_TENANT_LABEL]          = "tenant-label",
	[RULE_NAMESPACE_TENANT]      = "namespace-tenant",
	[RULE_REQUEST_INVALID]       = "request-invalid",
	[RULE_TENANT_DOMAIN_IN_USE]  = "tenant-domain-in-use",
	[RULE_INGRESS_ANNOTATION]    = "ingress-annotation",
	[RULE_REGISTRY_NAMESPACE]    = "registry-namespace",
};

const char *
ruleid_name(enum rule_id r)
{
	return (unsigned)r < RULE_COUNT && names[r] != NULL ? names[r] : names[RULE_NONE];
}
