/* SPDX-License-Identifier: Apache-2.0 */
/* server: the HTTPS admission endpoint (libmicrohttpd + GnuTLS) around review_handle. */
#ifndef TG_SERVER_H
#define TG_SERVER_H
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "connlimit.h"
#include "review.h"

/* Every string is borrowed until server_free. */
struct server_opts {
	const char *listen;       /* "HOST:PORT" or "[V6ADDR]:PORT"; NULL: "0.0.0.0:8443" */
	const char *tls_cert;     /* PEM serving certificate (chain, leaf first); required */
	const char *tls_key;      /* PEM private key of the leaf; required */
	const char *client_ca;    /* PEM CA bundle: review and /metrics requests must present a
	                             client certificate it verifies (403 otherwise); NULL: none */
	const char *health_listen;/* "HOST:PORT": /healthz, /readyz and /metrics there (TLS with
	                             the serving pair, no client certificate asked), and only
	                             /validate and /mutate on `listen`; NULL: all on `listen` */
	unsigned    threads;      /* worker threads; 0: 2 */
	struct connlimit_opts limits;   /* per-address limit, deadlines (connlimit.h) */
	size_t      body_max;     /* request body cap in bytes; 0: REVIEW_BODY_MAX */
};

/* What one review decides against, borrowed from the hooks' owner until view_end. */
struct server_view {
	const struct config *cfg;
	const struct state  *st;
	void                *ref;    /* the owner's, for view_end */
	int                  side;   /* the owner's, for view_end */
};

/*
 * What the endpoint asks of the process that runs it; every function is called from the
 * worker threads with `arg`, and must be thread-safe.
 */
struct server_hooks {
	void *arg;
	/* Fills *v and returns 0, or returns -1 with why ("cluster state not synced yet") when
	 * no review may be decided now: the review then fails closed with 500. */
	int  (*view_begin)(void *arg, struct server_view *v, const char **why);
	void (*view_end)(void *arg, const struct server_view *v);
	/* NULL when ready, else the /readyz text ("not ready: ...\n"). */
	const char *(*not_ready)(void *arg);
	/* Run after an allowing validation (review_handle_with), with `arg`; NULL: none. */
	review_after_fn after;
	/* Brings the gauges up to date before /metrics renders them; NULL: nothing to do. */
	void (*metrics_refresh)(void *arg);
};

/*
 * Checks the options and loads what the endpoint needs before anything else starts: the
 * listen address, the TLS certificate and key (installed for the handshakes, tlsreload.h) and
 * the client CA. NULL when it cannot serve, the reason logged.
 */
struct server *server_new(const struct server_opts *o);

/*
 * Starts serving /validate, /mutate (POST application/json, at most body_max bytes),
 * /healthz, /readyz and /metrics on worker threads (the last three on their own thread and
 * port with health_listen); `h` is copied. 0, or -1 logged (a busy port).
 */
int server_start(struct server *s, const struct server_hooks *h);

/*
 * Installs the TLS certificate and key again when either file changed (every time with
 * `force`): a new pair reaches new handshakes once it parses and the key matches, while
 * connections already open keep theirs; a bad pair keeps the one being served, logged and
 * counted once per change. Called from the thread that owns `s`.
 */
void server_tls_reload(struct server *s, bool force);

/* Requests between their first callback and their completion. */
unsigned server_active(const struct server *s);

/*
 * Stops accepting, waits (up to 25 s, or until SIGTERM or SIGINT arrives among the blocked
 * `sigs`) for the requests already begun, then stops the worker threads.
 */
void server_stop(struct server *s, const sigset_t *sigs);

/* Stops the threads if still running and frees s (NULL: nothing). */
void server_free(struct server *s);

#endif
