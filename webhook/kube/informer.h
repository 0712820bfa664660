/* SPDX-License-Identifier: Apache-2.0 */
/* informer: one LIST-then-WATCH thread per resource, feeding a live cache. */
#ifndef TG_INFORMER_H
#define TG_INFORMER_H
#include <jansson.h>
#include <stdbool.h>

struct kube_client;
struct live;

/*
 * The informers of one process: Ingresses (networking.k8s.io/v1, all namespaces), Namespaces,
 * tenantguard.io Tenants and every other kind that binds hosts (claimfields.h: Gateway API
 * HTTPRoute, GRPCRoute, TLSRoute, Gateway, ListenerSet; Istio VirtualService and Gateway, in
 * their v1 versions), each only while the API serves it (discovery is retried every 30 s
 * while it does not), every Service (the periodic audit judges them), and what tenantguard
 * manages — NetworkPolicies and ResourceQuotas labelled app.kubernetes.io/managed-by=tenantguard.
 * Each thread LISTs, hands the whole list to live_replace_kind, then WATCHes from the list's
 * resourceVersion with bookmarks and a 300 s server timeout, event by event; a 410 relists,
 * any other failure retries after a jittered backoff, resuming the watch where it stopped.
 */
struct informers;

/*
 * Called on an informer's thread after the live cache took a change: `type` is the watch
 * event (ADDED, MODIFIED, DELETED; obj borrowed for the call) or LISTED after a full list or
 * relist of `kind` (obj NULL). It must return quickly (mark work, signal a thread).
 */
typedef void (*informer_notify_fn)(void *arg, const char *kind, const char *type,
    const json_t *obj);

/*
 * Starts the threads on `kc` and `lv` (both borrowed; they must outlive informers_stop),
 * calling notify(arg, ...) (may be NULL) after each change. The client's stop flag is set to
 * the informers' own. NULL when a thread cannot start.
 */
struct informers *informers_start(struct kube_client *kc, struct live *lv,
    informer_notify_fn notify, void *arg);
/*
 * True once every informer finished its first full LIST, or found its API not served.
 * Thread-safe.
 */
bool informers_synced(struct informers *inf);
/*
 * Publishes tenantguard_live_* and tenantguard_watch_restarts_total through metrics.c.
 * Thread-safe; called before the metrics are rendered.
 */
void informers_metrics(struct informers *inf);
/* Raises the stop flag, joins every thread (within about a second) and frees it all. */
void informers_stop(struct informers *inf);

#endif
