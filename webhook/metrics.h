/* SPDX-License-Identifier: Apache-2.0 */
/* metrics: the process's counters and gauges, rendered in the Prometheus text format. */
#ifndef TG_METRICS_H
#define TG_METRICS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ruleid.h"

struct review_summary;

/*
 * One registry per process, updated with relaxed atomics: every function is thread-safe and
 * never blocks. Label values come from a fixed vocabulary (kinds, operations and rule ids
 * outside it are counted as "other"), so the number of series is bounded by construction.
 */

enum metrics_webhook { METRICS_VALIDATE, METRICS_MUTATE };

/*
 * Counts one review in tenantguard_reviews_total and observes `micros` in
 * tenantguard_review_duration_seconds. `s` (borrowed) describes the decision; with `failed`
 * no decision was reached (bad input, internal error) and s may be zeroed. A denial with code
 * 500 counts as decision="error", an allowed review as rule="none".
 */
void metrics_review(enum metrics_webhook w, const struct review_summary *s, bool failed,
    long micros);

/* Counts one HTTP response in tenantguard_http_requests_total{code}. */
void metrics_http(int code);
/* Counts one accepted connection in tenantguard_http_connections_total. */
void metrics_connection(void);

/* Why connlimit refused or cut a connection (tenantguard_http_connections_cut_total{reason}). */
enum metrics_cut { METRICS_CUT_PER_IP, METRICS_CUT_HANDSHAKE, METRICS_CUT_HEADERS,
	METRICS_CUT_REQUEST, METRICS_CUT_CLIENT_CERT, METRICS_CUT_N };
void metrics_connection_cut(enum metrics_cut why);
/* The most connections one address has held at once (tenantguard_http_connections_per_address_peak). */
void metrics_connections_peak(unsigned held);

/* A config was installed: sets the generation gauge and last_reload_success to 1. */
void metrics_config_loaded(uint64_t generation);
/* A (re)load failed: counts it and sets last_reload_success to 0. */
void metrics_config_failed(void);
/* Size of the installed state snapshot. */
void metrics_state(size_t objects, size_t claims);

/*
 * A serving certificate was installed: sets tenantguard_tls_cert_not_after_seconds to the
 * leaf's expiry (Unix time) and, with `reload` (not the first load), counts one in
 * tenantguard_tls_reloads_total.
 */
void metrics_tls_installed(int64_t not_after, bool reload);
/* A new certificate and key pair was refused: counts tenantguard_tls_reload_failures_total. */
void metrics_tls_failed(void);

/*
 * Live cluster state (serve with a kubeconfig or in-cluster). Kinds are the informers'
 * (Ingress, HTTPRoute, Namespace, Tenant, Service, NetworkPolicy, ResourceQuota, the other
 * host-binding kinds and IngressClass; anything else is ignored). The tenantguard_live_* series and
 * tenantguard_watch_restarts_total appear once metrics_live_enable has been called.
 * synced_at is a CLOCK_MONOTONIC second at which the kind was last known current (a LIST
 * finished, an event or bookmark arrived, a watch ended normally); 0: never.
 */
void metrics_live_enable(void);
void metrics_live_kind(const char *kind, size_t objects, uint64_t restarts, int64_t synced_at);
void metrics_live_claims(size_t claims, bool ready);
/* How many cluster-default IngressClasses are the entry's (defaultclass.h). */
void metrics_default_entry_class(size_t n);
/*
 * How many fallback policy objects the reconciler's last apply could not write or prune
 * (serve --fallback-policies); tenantguard_fallback_policies_failed is left out until then.
 */
void metrics_fallback_failed(size_t n);
/* The API client's requests so far, and whether this replica leads the reconciler (1/0, or
 * -1 when none runs: tenantguard_reconciler_leader is then left out). */
void metrics_live_client(uint64_t requests, int leader);

/* One (tenant, rule) count of the last audit; tenant "" is the entry or an outside namespace. */
struct metrics_violation {
	const char  *tenant;
	enum rule_id rule;
	size_t       count;
};

/*
 * The periodic audit finished (serve with live state): tenantguard_violations{tenant,rule}
 * becomes v[0..n) (copied; pairs absent now disappear), with
 * tenantguard_audit_last_run_timestamp_seconds (Unix time) and
 * tenantguard_audit_duration_seconds. The series appear after the first call. Unlike the
 * counters this takes a mutex, held only to copy.
 */
void metrics_audit(const struct metrics_violation *v, size_t n, int64_t last_run,
    double seconds);

/* The exposition text: malloc'd, NUL-terminated, length in *len; NULL when out of memory. */
char *metrics_render(size_t *len);

#endif
