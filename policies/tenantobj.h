/* SPDX-License-Identifier: Apache-2.0 */
/* tenantobj: a Tenant object (tenantguard.io/v1alpha1) read into a struct tenant. */
#ifndef TG_TENANTOBJ_H
#define TG_TENANTOBJ_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct config;
struct tenant;

#define TENANTOBJ_GROUP "tenantguard.io"
#define TENANTOBJ_KIND  "Tenant"

/* True for an object of kind Tenant in group tenantguard.io (any version). */
bool tenantobj_is_tenant(const json_t *obj);

/*
 * Reads Tenant `obj` (borrowed) into *t, which the caller zeroed: name = metadata.name,
 * spec.customDomains (as written; config_check_domain validates them), spec.backendNamespaces,
 * spec.resourceQuota merged over cfg's baseline, spec.enforcement, from_object = true.
 * Checks the shape only (unknown spec keys, wrong types, repeated items, bad quantities,
 * enforcement modes and rule ids); names and domains
 * are config_add_tenant's. 0, or -1 with one sentence in err; either way t's contents are
 * the caller's (config_tenant_clear).
 */
int tenantobj_read(const struct config *cfg, const json_t *obj, struct tenant *t, char *err,
    size_t errsz);

#endif
