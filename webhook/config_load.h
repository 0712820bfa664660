/* SPDX-License-Identifier: Apache-2.0 */
/* config_load: reads a config document (YAML, or JSON) into a validated struct config. */
#ifndef TG_CONFIG_LOAD_H
#define TG_CONFIG_LOAD_H
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
 * resourceQuota replaces the whole map). Quantities given as YAML numbers are kept as their
 * shortest decimal text ("2.5"). Returns a new config (config_free) or NULL with the reason
 * in err.
 */
struct config *config_load_buffer(const char *name, const char *buf, size_t len, char *err,
    size_t errsz);
/* config_load_buffer on the file's content (at most 1 MiB); `path` names it in messages. */
struct config *config_load_file(const char *path, char *err, size_t errsz);
/* config_load_buffer("built-in default", config_default_yaml). */
struct config *config_load_default(char *err, size_t errsz);

#endif
