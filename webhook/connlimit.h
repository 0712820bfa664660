/* SPDX-License-Identifier: Apache-2.0 */
/* connlimit: bounds a client cannot stretch, per connection of the HTTPS endpoint. */
#ifndef TG_CONNLIMIT_H
#define TG_CONNLIMIT_H
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * libmicrohttpd's own timeout measures inactivity only: every byte a client trickles resets
 * it. connlimit takes the TLS transport of each connection (its GnuTLS pull/push functions
 * and a handshake hook) to add what a hostile client on the pod network must not be able to
 * stretch: connections per address, a deadline for the TLS handshake plus the request
 * headers, one for the whole request, and optionally no connection at all without a valid
 * client certificate. Each refusal or cut is counted by reason (metrics_connection_cut).
 */

#define CONNLIMIT_DEFAULT_PER_IP   128   /* see README "Connection limits and deadlines" */
#define CONNLIMIT_DEFAULT_HEADER   3     /* seconds: TLS handshake + request headers */
#define CONNLIMIT_DEFAULT_REQUEST  5     /* seconds: a request's first byte to its last */
#define CONNLIMIT_DEFAULT_IDLE     30    /* seconds a kept-alive connection may wait */

struct connlimit_opts {
	unsigned per_ip;          /* connections one address may hold; 0: no limit */
	unsigned header_secs;     /* from accept (or a kept-alive request's first byte) */
	unsigned request_secs;    /* from the same start to the last byte of the body */
	unsigned idle_secs;       /* between requests (libmicrohttpd's connection timeout) */
	bool     cert_handshake;  /* with a client CA: close when the handshake brought no valid
	                             client certificate */
};

struct connlimit;

/* Per connection, owned by the caller (zeroed, then connlimit_conn_start). */
enum connlimit_phase { CONNLIMIT_HANDSHAKE, CONNLIMIT_HEADERS, CONNLIMIT_BODY,
	CONNLIMIT_ANSWERING, CONNLIMIT_IDLE };

struct connlimit_conn {
	struct connlimit       *cl;
	struct MHD_Connection  *conn;
	gnutls_session_t        session;
	int                     fd;
	enum connlimit_phase    phase;
	int64_t                 start_ms;    /* when the current deadline started */
	int64_t                 stall_ms;    /* the worker's stalls before it (connlimit_work_*) */
	int64_t                 io_ms;       /* libmicrohttpd's last activity, as it counts it */
	bool                    counted;     /* holds one of its address's slots */
	bool                    refused;     /* refused or cut: every read fails */
	char                    addr[48];    /* numeric address, the per-address key */
};

/*
 * New limits for one daemon (`o` is copied; zero fields take the defaults above, except
 * per_ip, where 0 is no limit, and cert_handshake). NULL when out of memory.
 */
struct connlimit *connlimit_new(const struct connlimit_opts *o);
void connlimit_free(struct connlimit *cl);
/* The options in effect (defaults filled in); borrowed. */
const struct connlimit_opts *connlimit_opts(const struct connlimit *cl);

/*
 * At MHD_CONNECTION_NOTIFY_STARTED: takes over the receiving side of the connection's TLS
 * transport (its transport pointer is c; on 0 give the session its push function next:
 * tlspush_attach) and starts its handshake deadline. A connection over its address's limit
 * is refused (counted; its socket shut down, so libmicrohttpd closes it at once); -1 then,
 * else 0.
 */
int connlimit_conn_start(struct connlimit *cl, struct connlimit_conn *c,
    struct MHD_Connection *conn);
/* Refuses a connection that cannot be put under its limits (no memory for its context). */
void connlimit_refuse(struct MHD_Connection *conn);
/* The client's numeric address into out ("?" when libmicrohttpd does not know it). */
void connlimit_client_addr(struct MHD_Connection *conn, char *out, size_t outsz);
/* At MHD_CONNECTION_NOTIFY_CLOSED: gives the address's slot back, counts a silent cut. */
void connlimit_conn_end(struct connlimit_conn *c);

/* When the current request arrived (CLOCK_MONOTONIC): its first byte, or the accept. */
void connlimit_request_since(const struct connlimit_conn *c, struct timespec *out);

/* The request's headers are in (the first access callback): the request deadline runs on. */
void connlimit_headers_done(struct connlimit_conn *c);
/* The body is complete (the last access callback): nothing more to read for this request. */
void connlimit_body_done(struct connlimit_conn *c);
/* The request completed (MHD_OPTION_NOTIFY_COMPLETED): the connection idles until the next. */
void connlimit_request_done(struct connlimit_conn *c);

/*
 * Around an access callback that may take long (a review decided on the worker: a large
 * body, or a claim when the server's review pool is full): the worker reads no other
 * connection meanwhile, and that time does not count against their deadlines (a client is
 * cut for being slow, not for the server being busy).
 */
void connlimit_work_begin(void);
void connlimit_work_end(void);

/*
 * Verifies the peer's client certificate chain for client authentication (a serving
 * certificate of the same CA does not do). true when valid; else false with the reason.
 */
bool connlimit_client_verify(gnutls_session_t session, char *why, size_t whysz);

#endif
