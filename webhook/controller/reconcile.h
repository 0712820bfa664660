/* SPDX-License-Identifier: Apache-2.0 */
/* reconcile: keeps every tenant's namespace, baseline, bridge and routes as the config says. */
#ifndef TG_RECONCILE_H
#define TG_RECONCILE_H
#include <jansson.h>
#include <stdbool.h>

struct kube_client;
struct live;

#define RECONCILE_FIELD_MANAGER "tenantguard"
#define RECONCILE_LEASE_NAME    "tenantguard-reconciler"
#define RECONCILE_RESYNC        300  /* seconds between full passes (events drive the rest) */
/* The chart's ClusterRole of fallbackPolicies, owner of the policies the leader applies. */
#define RECONCILE_FALLBACK_OWNER "tenantguard-fallback-policies"

/*
 * One thread, in every replica; only the holder of the Lease tenantguard-system/
 * tenantguard-reconciler writes (leader.c). For each tenant of the live config it applies,
 * server-side with field manager "tenantguard" and force:
 *   - the tenant namespace (baseline_namespace; labelled managed-by and owned by the Tenant
 *     object only when tenantguard creates it);
 *   - NetworkPolicy tenantguard-isolation and ResourceQuota tenantguard-quota;
 *   - the ExternalName bridge in the entry namespace;
 *   - with routeSync, Ingress tenantguard-routes-T in the entry namespace (else it is removed).
 * Objects of a Tenant object carry an owner reference to it (garbage collection when it is
 * deleted); objects labelled for a tenant that no longer exists are deleted explicitly (not
 * namespaces: those go only by garbage collection). Work is driven by the informers
 * (reconciler_notify: a change of a tenant's objects re-applies that tenant within
 * milliseconds) and by a full pass every RECONCILE_RESYNC seconds. Tenant objects get
 * events for what was created or restored, and a status (namespace, hosts, Ready).
 */
struct reconciler;

/*
 * Starts the thread and the leader election on `kc` and `lv` (borrowed; they must outlive
 * reconciler_stop, and the client's stop flag must stay down until then). `identity` names
 * this replica in the Lease (copied; NULL: $POD_NAME or host_pid); lease_seconds 0 takes
 * the default. No pass runs before ready(ready_arg) says the live cache is synced (an empty
 * cache would drop routes and miss objects). NULL with the reason in err.
 */
struct reconciler *reconciler_start(struct kube_client *kc, struct live *lv,
    const char *identity, unsigned lease_seconds, bool (*ready)(void *), void *ready_arg,
    char *err, size_t errsz);

/*
 * An informer saw a change (informer_notify_fn's arguments): marks the tenants it concerns.
 * Cheap and thread-safe; NULL r is fine.
 */
void reconciler_notify(struct reconciler *r, const char *kind, const char *type,
    const json_t *obj);

/*
 * A new config is live: every tenant is due. `rejected` (borrowed, may be NULL) maps the names
 * of Tenant objects left out of it to the reason, for their status.
 */
void reconciler_config_changed(struct reconciler *r, const json_t *rejected);

/*
 * Also keeps the fallback ValidatingAdmissionPolicies (vap.h) current on every full pass
 * while leading: rendered from the live config (the file's tenants and the Tenant objects'),
 * bindings leaving out the `n` `excluded` namespaces (borrowed: they must outlive r). Sets
 * a full pass due.
 */
void reconciler_fallback_policies(struct reconciler *r, const char *const *excluded, size_t n);

/* Whether this replica holds the Lease now. */
bool reconciler_leading(struct reconciler *r);

/* Stops the thread (releasing the Lease if held) and frees it. NULL is fine. */
void reconciler_stop(struct reconciler *r);

#endif
