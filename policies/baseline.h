/* SPDX-License-Identifier: Apache-2.0 */
/* baseline: the objects tenantguard keeps in every tenant namespace and the entry bridges (DESIGN §4). */
#ifndef TG_BASELINE_H
#define TG_BASELINE_H
#include <jansson.h>

struct config;
struct tenant;

/*
 * NetworkPolicy tenantguard-isolation (ingress from the same namespace and the entry namespace,
 * selected by kubernetes.io/metadata.name) and ResourceQuota tenantguard-quota (the tenant's
 * quota, else baseline.resourceQuota) for tenant t, as a JSON array of objects (new reference),
 * or NULL on allocation failure.
 */
json_t *baseline_objects(const struct config *cfg, const struct tenant *t);

/* The ExternalName bridge Service of tenant t in the entry namespace (new reference), or NULL. */
json_t *baseline_bridge(const struct config *cfg, const struct tenant *t);
/* The bridge of every tenant (new reference). */
json_t *baseline_bridges(const struct config *cfg);

/*
 * The tenant namespace as tenantguard keeps it: the tenantguard.io/tenant label and the Pod
 * Security "restricted" labels (new reference), or NULL.
 */
json_t *baseline_namespace(const struct config *cfg, const struct tenant *t);

/*
 * routeSync: Ingress tenantguard-routes-T in the entry namespace routing the tenant's system
 * wildcard and every host of `hosts` (a JSON array of normalised patterns, borrowed: its
 * custom hosts) to its bridge, with TLS from systemCertSecret and tenantCertSecret (DESIGN §3)
 * and entryIngressClass as its class, if set.
 * New reference, or NULL.
 */
json_t *baseline_routes(const struct config *cfg, const struct tenant *t, const json_t *hosts);

#endif
