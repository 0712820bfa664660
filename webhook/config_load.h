/* SPDX-License-Identifier: Apache-2.0 */
/* config_load: reads a config document (YAML, or JSON) into a validated struct config. */
#ifndef TG_CONFIG_LOAD_H
#define TG_CONFIG_LOAD_H
#include <jansson.h>
#include <stddef.h>

struct config;

/* The built-in default document: the reference architecture's example. */
extern const char config_default_yaml[];

/*
 * Parses and validates a config document; `name` is used in messages ("name:line: reason",
 * or "name: reason" for a file-level fault such as an empty document). Strict: unknown
 * keys, wrong types, bad templates, overlapping reservations and reservations under the
 * system domain are errors. `systemDomain` and `tenants` (may be []) are required; absent
 * keys take DESIGN §6 defaults: entryNamespace higress-system, tenantNamespace
 * "{tenant}-gateway", unregisteredDomains first-come, systemCertSecret system-wildcard-cert,
 * tenantCertSecret "{tenant}-custom-cert", gatewayPort 80, clusterDomain cluster.local,
 * admins {groups: [system:masters], users: []} (a written admins key replaces both lists),
 * tenantIngressClass not enforced, services {allowedTypes: [ClusterIP, ExternalName],
 * externalIPCIDRs: [], externalNamePublic: allow}, baseline.resourceQuota requests.cpu "5",
 * limits.cpu "5", requests.memory 4Gi, limits.memory 4Gi, requests.storage 10Gi (a written
 * resourceQuota replaces the whole map), routeSync false (true: the reconciler keeps one
 * Ingress per tenant in the entry namespace). Quantities given as YAML numbers are kept as their
 * shortest decimal text ("2.5"). Returns a new config (config_free) or NULL with the reason
 * in err.
 */
struct config *config_load_buffer(const char *name, const char *buf, size_t len, char *err,
    size_t errsz);
/* config_load_buffer on the file's content (at most 1 MiB); `path` names it in messages. */
struct config *config_load_file(const char *path, char *err, size_t errsz);
/* config_load_buffer("built-in default", config_default_yaml). */
struct config *config_load_default(char *err, size_t errsz);

/*
 * config_load_buffer, then the Tenant objects of `tenants` (a JSON array, borrowed; NULL:
 * none) added as tenants with from_object set, oldest first (metadata.creationTimestamp,
 * then name), each read as a file tenant is (resourceQuota merged over the baseline). A
 * Tenant that is malformed, whose name a config-file tenant has, or whose domains overlap
 * an earlier tenant's or touch the system domain is left out and reported in `rejected`
 * (a JSON object, borrowed, may be NULL: metadata.name -> one-sentence reason); the others
 * still load. Only a bad config document (or running out of memory) fails the load.
 */
struct config *config_load_buffer_tenants(const char *name, const char *buf, size_t len,
    const json_t *tenants, json_t *rejected, char *err, size_t errsz);
/* config_load_file with Tenant objects, as config_load_buffer_tenants. */
struct config *config_load_file_tenants(const char *path, const json_t *tenants,
    json_t *rejected, char *err, size_t errsz);
/* config_load_default with Tenant objects, as config_load_buffer_tenants. */
struct config *config_load_default_tenants(const json_t *tenants, json_t *rejected,
    char *err, size_t errsz);

#endif
