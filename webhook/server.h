/* SPDX-License-Identifier: Apache-2.0 */
/* server: the HTTPS admission endpoint (libmicrohttpd + GnuTLS) around review_handle. */
#ifndef TG_SERVER_H
#define TG_SERVER_H
#include <stdbool.h>
#include <stddef.h>

#include "connlimit.h"

/* Every string is borrowed for the duration of server_run. */
struct server_opts {
	const char *listen;       /* "HOST:PORT" or "[V6ADDR]:PORT"; NULL: "0.0.0.0:8443" */
	const char *tls_cert;     /* PEM serving certificate (chain, leaf first); required */
	const char *tls_key;      /* PEM private key of the leaf; required */
	const char *client_ca;    /* PEM CA bundle: review and /metrics requests must present a
	                             client certificate it verifies (403 otherwise); NULL: none */
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
	size_t      body_max;     /* request body cap in bytes; 0: SERVER_DEFAULT_BODY_MAX */
};

/*
 * What the apiserver can send: etcd refuses a value over 1.5 MiB (--max-request-bytes), and
 * an UPDATE review carries the object and its oldObject, each at most that much as JSON for
 * JSON-stored kinds (CRDs: HTTPRoute, Tenant); a Secret's data is capped at 1 MiB, 1.33 MiB
 * in base64, so 2.7 MiB for both. 3 MiB of objects plus the review's envelope fits in 4 MiB.
 */
#define SERVER_DEFAULT_BODY_MAX ((size_t)4 * 1024 * 1024)

/*
 * Serves /validate, /mutate (POST application/json, at most body_max bytes), /healthz, /readyz and
 * /metrics until SIGTERM or SIGINT, then stops accepting, lets the requests in flight finish
 * (up to 25 s) and returns 0. Every second it reloads the config and state files when they
 * changed (SIGHUP forces it); a bad new file keeps the last good snapshot. The TLS certificate
 * and key are watched the same way (the path and where it resolves, as a Secret volume swaps
 * a `..data` symlink): a new pair is installed for new handshakes once it parses and the key
 * matches the certificate, while connections already open keep theirs; a bad pair keeps the
 * one being served, logged and counted once per change. Returns 1 when it cannot start: a
 * bad config, an unreadable or mismatched certificate and key, a bad listen address, a busy
 * port; the reason is logged. A state file that fails at start-up is not fatal: /readyz
 * answers 503 and reviews 500 until a good one appears.
 *
 * With `kubeconfig` or `in_cluster` the state comes from the apiserver instead of a file
 * (live.h, informer.h): /readyz answers 503 and reviews 500 until every required informer
 * finished its first LIST; a new config rebuilds the live claim index. A client that cannot
 * be configured (unreadable kubeconfig, no service-account token) is a start-up failure.
 *
 * Blocks SIGTERM, SIGINT and SIGHUP in the calling thread before any worker thread exists
 * (workers inherit the mask, so the signals reach only this thread) and leaves them blocked
 * on return, so a second signal during shutdown cannot kill the process. Ignores SIGPIPE.
 */
int server_run(const struct server_opts *o);

#endif
