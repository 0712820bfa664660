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

/* The ExternalName bridge Service of every tenant, in the entry namespace (new reference). */
json_t *baseline_bridges(const struct config *cfg);

#endif
