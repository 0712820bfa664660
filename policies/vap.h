/* SPDX-License-Identifier: Apache-2.0 */
/* vap: the stateless rules as ValidatingAdmissionPolicies, enforced while tenantguard is away. */
#ifndef TG_VAP_H
#define TG_VAP_H
#include <jansson.h>

struct config;

/*
 * ValidatingAdmissionPolicy + ValidatingAdmissionPolicyBinding pairs
 * (admissionregistration.k8s.io/v1) for the rules that need no cluster state, from `cfg`:
 * service-type (tenant namespaces of the config's tenants) and service-external-ips. Each
 * denies exactly what tenantguard denies (a violation the old object already had is let
 * through, as tenantguard grandfathers it) with a message that starts with the same
 * "[rule-id] ", so the apiserver itself keeps refusing them when the webhook is down. A JSON
 * array (new reference), or NULL when out of memory.
 */
json_t *vap_policies(const struct config *cfg);

#endif
