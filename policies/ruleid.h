/* SPDX-License-Identifier: Apache-2.0 */
/* ruleid: the rule ids of DESIGN §2, one table for the rules, the decision log and metrics. */
#ifndef TG_RULEID_H
#define TG_RULEID_H

/*
 * In DESIGN §2's order. RULE_NONE is "no rule": an allowed review, or an internal error
 * (code 500) outside every rule's evaluation.
 */
enum rule_id {
	RULE_NONE,
	RULE_HOST_OWNERSHIP,
	RULE_HOST_COLLISION,
	RULE_HOST_INVALID,
	RULE_INGRESS_CLASS,
	RULE_BACKEND_NAMESPACE,
	RULE_ENTRY_ROUTE,
	RULE_ENTRY_ADMIN,
	RULE_SERVICE_EXTERNAL_IPS,
	RULE_SERVICE_TYPE,
	RULE_SERVICE_EXTERNAL_NAME,
	RULE_TLS_SECRET,
	RULE_TLS_SECRET_HOSTS,
	RULE_MANAGED_OBJECT,
	RULE_TENANT_LABEL,
	RULE_NAMESPACE_TENANT,
	RULE_REQUEST_INVALID,
	RULE_TENANT_DOMAIN_IN_USE,
	RULE_INGRESS_ANNOTATION,
	RULE_REGISTRY_NAMESPACE,
	RULE_COUNT
};

/* The id as DESIGN writes it ("host-ownership"); "none" for RULE_NONE and out-of-range values. */
const char *ruleid_name(enum rule_id r);

#endif
