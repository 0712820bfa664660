/* SPDX-License-Identifier: Apache-2.0 */
/* process: `serve` start-up, signals, reloads, snapshots and the live-state wiring. */
#ifndef TG_PROCESS_H
#define TG_PROCESS_H
#include <stdbool.h>
#include <stddef.h>

#include "connlimit.h"

#define PROCESS_FALLBACK_EXCLUDED_MAX 64

/* Every string is borrowed for the duration of process_run. */
struct process_opts {
	const char *listen;       /* "HOST:PORT" or "[V6ADDR]:PORT"; NULL: "0.0.0.0:8443" */
	const char *tls_cert;     /* PEM serving certificate (chain, leaf first); required */
	const char *tls_key;      /* PEM private key of the leaf; required */
	const char *client_ca;    /* PEM CA bundle: review and /metrics requests must present a
	                             client certificate it verifies (403 otherwise); NULL: none */
	const char *health_listen;/* the probes' and /metrics' own port (server_opts); NULL: none */
	const char *config_path;  /* NULL: the built-in default config */
	const char *state_path;   /* NULL: an empty state (or the live state, below) */
	const char *kubeconfig;   /* live cluster state from the apiserver of this kubeconfig */
	bool        in_cluster;   /* live cluster state from the pod's service account */
	unsigned    claim_grace;  /* seconds before a claim no live object holds is released;
	                             0: CLAIMSTORE_GRACE */
	unsigned    threads;      /* worker threads; 0: 2 */
	bool        no_reconcile; /* live state without the tenant reconciler (and its Lease) */
	unsigned    lease_seconds;/* the reconciler's Lease duration; 0: leader.c's default */
	struct connlimit_opts limits;   /* per-address limit, deadlines (connlimit.h) */
	size_t      body_max;     /* request body cap in bytes; 0: REVIEW_BODY_MAX */
	bool        fallback_policies; /* the reconciler leader keeps the VAP fallback (vap.h) */
	const char *fallback_excluded[PROCESS_FALLBACK_EXCLUDED_MAX]; /* its bindings leave out */
	size_t      n_fallback_excluded;
};

/*
 * Runs `tenantguard serve`: the HTTPS endpoint (server.h) serves /validate, /mutate,
 * /healthz, /readyz and /metrics until SIGTERM or SIGINT; then it stops accepting, lets the
 * requests in flight finish (up to 25 s) and returns 0. Every second the config and state
 * files are reloaded when they changed (SIGHUP forces it); a bad new file keeps the last good
 * snapshot. The TLS certificate and key are watched the same way (server_tls_reload).
 * Returns 1 when it cannot start: a bad config, an unreadable or mismatched certificate and
 * key, a bad listen address, a busy port; the reason is logged. A state file that fails at
 * start-up is not fatal: /readyz answers 503 and reviews 500 until a good one appears.
 *
 * With `kubeconfig` or `in_cluster` the state comes from the apiserver instead of a file
 * (live.h, informer.h): /readyz answers 503 and reviews 500 until every required informer
 * finished its first LIST and the config has every Tenant change seen; a new config rebuilds
 * the live claim index. The claim store (and its reaper) and, unless `no_reconcile`, the
 * tenant reconciler are started here. A client that cannot be configured (unreadable
 * kubeconfig, no service-account token) is a start-up failure.
 *
 * Blocks SIGTERM, SIGINT, SIGHUP and SIGUSR1 in the calling thread before any worker thread
 * exists (workers inherit the mask, so the signals reach only this thread) and leaves them
 * blocked on return, so a second signal during shutdown cannot kill the process. Ignores
 * SIGPIPE.
 */
int process_run(const struct process_opts *o);

#endif
