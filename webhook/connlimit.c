/* SPDX-License-Identifier: Apache-2.0 */
/* connlimit: bounds a client cannot stretch, per connection of the HTTPS endpoint. */
#include "connlimit.h"

#include <errno.h>
#include <gnutls/x509.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "metrics.h"
#include "strmap.h"

#define CONNLIMIT_CLOCK_SLACK_MS 250

struct connlimit {
	struct connlimit_opts o;
	pthread_mutex_t       lock;       /* guards per_addr and peak */
	struct strmap        *per_addr;   /* numeric address -> connections held (uintptr_t) */
	unsigned              peak;
};

/*
 * Per worker thread (libmicrohttpd keeps a connection on the thread that accepted it, and
 * calls every hook of it there): how long it has been busy in access callbacks, which
 * deadlines do not count.
 */
static _Thread_local int64_t thread_stall_ms, thread_work_start;

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct connlimit *
connlimit_new(const struct connlimit_opts *o)
{
	struct connlimit *cl = calloc(1, sizeof(*cl));

	if (cl == NULL)
		return NULL;
	cl->o = *o;
	if (cl->o.header_secs == 0)
		cl->o.header_secs = CONNLIMIT_DEFAULT_HEADER;
	if (cl->o.request_secs == 0)
		cl->o.request_secs = CONNLIMIT_DEFAULT_REQUEST;
	if (cl->o.idle_secs == 0)
		cl->o.idle_secs = CONNLIMIT_DEFAULT_IDLE;
	if ((cl->per_addr = strmap_new()) == NULL) {
		free(cl);
		return NULL;
	}
	pthread_mutex_init(&cl->lock, NULL);
	return cl;
}

void
connlimit_free(struct connlimit *cl)
{
	if (cl == NULL)
		return;
	strmap_free(cl->per_addr);
	pthread_mutex_destroy(&cl->lock);
	free(cl);
}

const struct connlimit_opts *
connlimit_opts(const struct connlimit *cl)
{
	return &cl->o;
}

/* ---- deadlines ---- */

/* The deadline of the phase c is in, in ms after c->start_ms; 0: none (waits on idle). */
static int64_t
phase_budget_ms(const struct connlimit_conn *c)
{
	switch (c->phase) {
	case CONNLIMIT_HANDSHAKE:
	case CONNLIMIT_HEADERS:
		return (int64_t)c->cl->o.header_secs * 1000;
	case CONNLIMIT_BODY:
		return (int64_t)c->cl->o.request_secs * 1000;
	case CONNLIMIT_ANSWERING:
	case CONNLIMIT_IDLE:
		break;
	}
	return 0;
}

static enum metrics_cut
phase_reason(const struct connlimit_conn *c)
{
	return c->phase == CONNLIMIT_HANDSHAKE ? METRICS_CUT_HANDSHAKE :
	    c->phase == CONNLIMIT_HEADERS ? METRICS_CUT_HEADERS : METRICS_CUT_REQUEST;
}

/* Time the client has had since its deadline started, the worker's stalls left out. */
static int64_t
elapsed(const struct connlimit_conn *c, int64_t now)
{
	return now - c->start_ms - (thread_stall_ms - c->stall_ms);
}

static bool
overdue(const struct connlimit_conn *c, int64_t now)
{
	int64_t budget = phase_budget_ms(c);

	return budget > 0 && elapsed(c, now) >= budget;
}

/* A new deadline starts now. */
static void
restart(struct connlimit_conn *c, int64_t now)
{
	c->start_ms = now;
	c->stall_ms = thread_stall_ms;
}

/*
 * libmicrohttpd's timeout counts from its last activity (io_ms): set to what is left of the
 * deadline from there (rounded up to whole seconds), it also closes a connection that goes
 * silent. A trickle resets that timer, so the transport (tl_pull) checks the deadline on
 * every read.
 */
static void
arm(struct connlimit_conn *c, int64_t now)
{
	int64_t budget = phase_budget_ms(c);
	int64_t left = budget > 0 ? budget - elapsed(c, now) + (now - c->io_ms) :
	    (int64_t)c->cl->o.idle_secs * 1000;
	unsigned secs = left <= 1000 ? 1u : (unsigned)((left + 999) / 1000);

	MHD_set_connection_option(c->conn, MHD_CONNECTION_OPTION_TIMEOUT, secs);
}

static void
cut(struct connlimit_conn *c, enum metrics_cut why)
{
	if (!c->refused) {
		c->refused = true;
		metrics_connection_cut(why);
	}
}

/* ---- the TLS transport ---- */

static ssize_t
tl_pull(gnutls_transport_ptr_t p, void *buf, size_t n)
{
	struct connlimit_conn *c = p;
	int64_t now = mono_ms();
	ssize_t r;

	if (overdue(c, now))
		cut(c, phase_reason(c));
	if (c->refused) {
		errno = ECONNRESET;
		return -1;
	}
	r = recv(c->fd, buf, n, 0);
	/* libmicrohttpd counts no activity during the handshake, only from its end. */
	if (r > 0 && c->phase != CONNLIMIT_HANDSHAKE)
		c->io_ms = now;
	if (r > 0 && c->phase == CONNLIMIT_IDLE) {
		/* A kept-alive connection's next request starts with its first byte. */
		c->phase = CONNLIMIT_HEADERS;
		restart(c, now);
		arm(c, now);
	}
	return r;
}

/* Only asked for with handshake or record timeouts, which libmicrohttpd leaves off. */
static int
tl_pull_timeout(gnutls_transport_ptr_t p, unsigned ms)
{
	const struct connlimit_conn *c = p;
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

	return poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
}

bool
connlimit_client_verify(gnutls_session_t session, char *why, size_t whysz)
{
	gnutls_typed_vdata_st purpose = {
		.type = GNUTLS_DT_KEY_PURPOSE_OID,
		.data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT,
	};
	gnutls_datum_t text = { NULL, 0 };
	unsigned status = 0;
	int rc = gnutls_certificate_verify_peers(session, &purpose, 1, &status);

	if (rc == 0 && status == 0)
		return true;
	if (rc < 0) {
		snprintf(why, whysz, "%s", gnutls_strerror(rc));
	} else if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text,
	    0) == 0) {
		snprintf(why, whysz, "%s", (const char *)text.data);
		gnutls_free(text.data);
	} else {
		snprintf(why, whysz, "certificate status 0x%x", status);
	}
	return false;
}

/*
 * After the client's Finished: the handshake is done (its deadline runs on into the headers),
 * and with cert_handshake a client without a valid certificate is turned away here, before
 * it can hold a connection slot with requests that would only be answered 403.
 */
static int
tl_handshake_done(gnutls_session_t session, unsigned htype, unsigned when, unsigned incoming,
    const gnutls_datum_t *msg)
{
	struct connlimit_conn *c = gnutls_transport_get_ptr(session);
	char why[256];

	(void)when;
	(void)msg;
	if (htype != GNUTLS_HANDSHAKE_FINISHED || !incoming || c == NULL)
		return 0;
	if (c->cl->o.cert_handshake && !connlimit_client_verify(session, why, sizeof(why))) {
		cut(c, METRICS_CUT_CLIENT_CERT);
		return GNUTLS_E_CERTIFICATE_ERROR;
	}
	c->phase = CONNLIMIT_HEADERS;
	c->io_ms = mono_ms();   /* libmicrohttpd's activity mark once the handshake is done */
	arm(c, c->io_ms);
	return 0;
}

/* ---- connections ---- */

static void
refuse(struct connlimit_conn *c)
{
	c->refused = true;
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);   /* libmicrohttpd reads the end and closes it */
}

void
connlimit_client_addr(struct MHD_Connection *conn, char *out, size_t outsz)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	socklen_t len;

	snprintf(out, outsz, "?");
	if (ci == NULL || ci->client_addr == NULL)
		return;
	len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
	if (getnameinfo(ci->client_addr, len, out, (socklen_t)outsz, NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(out, outsz, "?");
}

/* Takes one of the address's slots; false when it holds per_ip already (or no memory). */
static bool
slot_take(struct connlimit *cl, const char *addr)
{
	uintptr_t held;
	bool ok = false;

	pthread_mutex_lock(&cl->lock);
	held = (uintptr_t)strmap_get(cl->per_addr, addr);
	if ((cl->o.per_ip == 0 || held < cl->o.per_ip) &&
	    strmap_set(cl->per_addr, addr, (void *)(held + 1)) == 0) {
		ok = true;
		if (held + 1 > cl->peak) {
			cl->peak = (unsigned)(held + 1);
			metrics_connections_peak(cl->peak);
		}
	}
	pthread_mutex_unlock(&cl->lock);
	return ok;
}

static void
slot_give(struct connlimit *cl, const char *addr)
{
	uintptr_t held;

	pthread_mutex_lock(&cl->lock);
	held = (uintptr_t)strmap_get(cl->per_addr, addr);
	if (held <= 1)
		strmap_del(cl->per_addr, addr);
	else
		(void)strmap_set(cl->per_addr, addr, (void *)(held - 1));   /* replaces: no allocation */
	pthread_mutex_unlock(&cl->lock);
}

void
connlimit_refuse(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *fd =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

	if (fd != NULL)
		shutdown(fd->connect_fd, SHUT_RDWR);
}

int
connlimit_conn_start(struct connlimit *cl, struct connlimit_conn *c, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *fd =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	const union MHD_ConnectionInfo *tls =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);

	c->cl = cl;
	c->conn = conn;
	c->fd = fd != NULL ? fd->connect_fd : -1;
	c->phase = CONNLIMIT_HANDSHAKE;
	restart(c, mono_ms());
	c->io_ms = c->start_ms;
	connlimit_client_addr(conn, c->addr, sizeof(c->addr));
	if (c->fd < 0 || tls == NULL || tls->tls_session == NULL) {
		refuse(c);
		return -1;
	}
	c->session = tls->tls_session;
	if (!slot_take(cl, c->addr)) {
		metrics_connection_cut(METRICS_CUT_PER_IP);
		refuse(c);
		return -1;
	}
	c->counted = true;
	/* The receiving side; tlspush_attach takes the sending side after this. */
	gnutls_transport_set_ptr(c->session, c);
	gnutls_transport_set_pull_function(c->session, tl_pull);
	gnutls_transport_set_pull_timeout_function(c->session, tl_pull_timeout);
	gnutls_handshake_set_hook_function(c->session, GNUTLS_HANDSHAKE_FINISHED, GNUTLS_HOOK_POST,
	    tl_handshake_done);
	arm(c, c->start_ms);
	return 0;
}

void
connlimit_conn_end(struct connlimit_conn *c)
{
	if (c == NULL || c->cl == NULL)
		return;
	/*
	 * Closed by libmicrohttpd's timeout, which arm() set to the deadline: a silent client.
	 * Its clock started a little before ours (at accept), hence the slack.
	 */
	if (!c->refused && overdue(c, mono_ms() + CONNLIMIT_CLOCK_SLACK_MS))
		cut(c, phase_reason(c));
	if (c->counted)
		slot_give(c->cl, c->addr);
	c->counted = false;
}

void
connlimit_work_begin(void)
{
	thread_work_start = mono_ms();
}

/*
 * The stall is over: it does not count against this worker's other connections' deadlines.
 * Their libmicrohttpd timeouts are not re-armed from here: a connection libmicrohttpd has
 * closed in this round is off its timeout list but not yet freed (its CLOSED notice comes
 * later), and setting its timeout would put a soon-freed connection back on that list (an
 * ASan SEGV in MHD_get_timeout, seen in run_faults).
 */
void
connlimit_work_end(void)
{
	thread_stall_ms += mono_ms() - thread_work_start;
}

void
connlimit_request_since(const struct connlimit_conn *c, struct timespec *out)
{
	int64_t ms = c != NULL && c->cl != NULL ? c->start_ms : mono_ms();

	out->tv_sec = (time_t)(ms / 1000);
	out->tv_nsec = (long)(ms % 1000) * 1000000L;
}

void
connlimit_headers_done(struct connlimit_conn *c)
{
	int64_t now = mono_ms();

	if (c == NULL || c->cl == NULL)
		return;
	if (c->phase == CONNLIMIT_IDLE || c->phase == CONNLIMIT_ANSWERING)
		restart(c, now);   /* a request read out of what the last one left buffered */
	c->phase = CONNLIMIT_BODY;
	arm(c, now);
}

void
connlimit_body_done(struct connlimit_conn *c)
{
	if (c == NULL || c->cl == NULL)
		return;
	c->phase = CONNLIMIT_ANSWERING;
	arm(c, mono_ms());
}

void
connlimit_request_done(struct connlimit_conn *c)
{
	if (c == NULL || c->cl == NULL)
		return;
	c->phase = CONNLIMIT_IDLE;
	arm(c, mono_ms());
}
