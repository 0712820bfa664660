/* SPDX-License-Identifier: Apache-2.0 */
/* vap: the stateless rules as ValidatingAdmissionPolicies, enforced while tenantguard is away. */
#ifndef TG_VAP_H
#define TG_VAP_H
#include <jansson.h>
#include <stddef.h>

struct config;

/*
 * ValidatingAdmissionPolicy + ValidatingAdmissionPolicyBinding objects
 * (admissionregistration.k8s.io/v1) for the rules that need no cluster state, from `cfg`
 * and every tenant in it (the file's and the Tenant objects'): service-type,
 * service-external-ips, ingress-class, ingress-annotation, entry-admin, managed-object,
 * tenant-label and namespace-tenant. Each denies exactly what tenantguard denies for that
 * rule — admins bypass the three rules they bypass in the webhook, a violation the old
 * object already had is let through — with a message that starts with the same
 * "[rule-id] ", so the apiserver itself keeps refusing them when the webhook is down.
 *
 * Enforcement modes become bindings: `tenantguard-<rule>` carries the config's mode for the
 * rule (validationActions Deny, Warn or Audit) in every namespace but the `n_excluded`
 * `excluded` ones (the webhooks' exclusions) and those of tenants that set another mode;
 * `tenantguard-<rule>-<mode>` selects those tenants' namespaces for their mode. A JSON
 * array (new reference), or NULL when out of memory.
 */
json_t *vap_policies(const struct config *cfg, const char *const *excluded, size_t n_excluded);

/*
 * The names of every binding vap_policies can render for any config, one after another
 * ("tenantguard-service-type-warn", ...): whoever applies them deletes those of the list a
 * new render no longer holds. Borrowed; the array ends with NULL.
 */
const char *const *vap_binding_names(void);

#endif
