/* SPDX-License-Identifier: Apache-2.0 */
/* auditor: serve's periodic audit of the informers' caches, into metrics and Tenant status. */
#ifndef TG_AUDITOR_H
#define TG_AUDITOR_H
#include <stdbool.h>
#include <stddef.h>

struct config;
struct kube_client;
struct live;

#define AUDITOR_FIELD_MANAGER "tenantguard-audit"   /* not the reconciler's: SSA would drop
                                                     * the fields the other one owns */
#define AUDITOR_STATUS_MAX    20                    /* status.violations entries per Tenant */

/* What the auditor borrows from the server (everything must outlive auditor_stop). */
struct auditor_hooks {
	struct kube_client *kc;
	struct live        *lv;
	bool (*ready)(void *arg);     /* the caches are current: an audit may run */
	bool (*leading)(void *arg);   /* this replica writes Tenant status; NULL: never */
	/* The current config with a reference held (put it back with config_put), or NULL. */
	const struct config *(*config_get)(void *arg, void **ref);
	void (*config_put)(void *ref);
	void *arg;
};

struct auditor;

/*
 * Starts the thread: once ready, and then every audit.interval of the current config (or at
 * auditor_kick), it audits the objects the informers cache (audit.h; no apiserver request
 * for it), publishes tenantguard_violations{tenant,rule}, _audit_last_run_timestamp_seconds
 * and _audit_duration_seconds, and on the leader writes each Tenant object's
 * status.violations (the first AUDITOR_STATUS_MAX) and status.violationCount, server-side
 * with AUDITOR_FIELD_MANAGER, when they changed. NULL with the reason in err.
 */
struct auditor *auditor_start(const struct auditor_hooks *h, char *err, size_t errsz);
/* A full resync happened: audit again soon. Thread-safe, cheap; NULL is fine. */
void auditor_kick(struct auditor *a);
/* Stops and joins the thread, frees it. NULL is fine. */
void auditor_stop(struct auditor *a);

#endif
