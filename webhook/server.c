/* SPDX-License-Identifier: Apache-2.0 */
/* server: the HTTPS admission endpoint (libmicrohttpd + GnuTLS) around review_handle. */
#include "server.h"

#include <gnutls/gnutls.h>
#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dynbuf.h"
#include "connlimit.h"
#include "fileio.h"
#include "log.h"
#include "metrics.h"
#include "review.h"
#include "tlsreload.h"
#include "tlspush.h"
#include "workpool.h"

#define SERVER_DEFAULT_LISTEN  "0.0.0.0:8443"
#define SERVER_DEFAULT_THREADS 2u
#define SERVER_MAX_THREADS     256u
#define SERVER_CONN_LIMIT      1024
/*
 * Per-connection pool for the request line, headers and the read buffer. The body never
 * lives there (it is copied out chunk by chunk into its own capped buffer), so the pool only
 * has to hold the headers and bounds the chunk size, hence the callbacks a large body takes.
 * libmicrohttpd zeroes the whole pool after every request on a keep-alive connection: at
 * 64 KiB that memset was ~5% of the server's CPU; 16 KiB still takes the apiserver's headers
 * (a bearer token included) many times over.
 */
#define SERVER_CONN_MEMORY     (16 * 1024)
/* The apiserver gives a webhook at most 30 s; a review still running after this is stuck. */
#define SERVER_DRAIN_SECONDS   25
#define SERVER_PEM_MAX         (1024 * 1024)
/* A response body is copied into libmicrohttpd's buffer this much at a time (a TLS record). */
#define SERVER_RESPONSE_BLOCK  16384u
#define SERVER_TLS_PRIORITIES  "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
/*
 * Validations that may write claims are decided on a pool (see review_start): its threads
 * wait on the apiserver, not on the CPU, so several per worker; a queue a few budgets deep.
 */
#define SERVER_POOL_PER_WORKER 4u
#define SERVER_POOL_QUEUE      64u

#define JSON_TYPE    "application/json"
#define TEXT_TYPE    "text/plain; charset=utf-8"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * One listening port, the callbacks' argument: the webhook port, or with health_listen the
 * health port (probes and /metrics), which asks no client certificate and so has limits of
 * its own (never cert_handshake).
 */
struct server_port {
	struct server            *s;
	struct connlimit         *limits;
	bool                      health;
};

struct server {
	struct server_opts        opts;
	struct server_hooks       hooks;
	bool                      client_auth;
	struct sockaddr_storage   addr;
	char                     *ca;         /* the client CA's PEM, or NULL */
	size_t                    ca_len;
	struct MHD_Daemon        *daemon;     /* NULL until server_start */
	struct sockaddr_storage   health_addr;
	struct MHD_Daemon        *health;     /* with health_listen, once started */
	struct server_port        port, health_port;
	struct workpool          *pool;       /* with a hooks.after: the validations' deciders */

	/* Owner thread's own (server_tls_reload). */
	struct fileio_stamp       cert_stamp, key_stamp;
	struct tlsreload_info     tls;        /* the certificate being served */

	size_t                    body_max;   /* larger bodies get 413 */
	atomic_uint               active;     /* requests between first call and completion */
	atomic_bool               draining;
};

enum route { ROUTE_NONE, ROUTE_VALIDATE, ROUTE_MUTATE, ROUTE_HEALTHZ, ROUTE_READYZ, ROUTE_METRICS };

static const struct route_def {
	const char *path;
	enum route  route;
	bool        post;    /* POST only; otherwise GET (and HEAD) only */
	const char *allow;
} routes[] = {
	{ "/validate", ROUTE_VALIDATE, true,  "POST" },
	{ "/mutate",   ROUTE_MUTATE,   true,  "POST" },
	{ "/healthz",  ROUTE_HEALTHZ,  false, "GET, HEAD" },
	{ "/readyz",   ROUTE_READYZ,   false, "GET, HEAD" },
	{ "/metrics",  ROUTE_METRICS,  false, "GET, HEAD" },
};

/* A review decided (review_decide), until serve_review answers it. */
struct review_result {
	struct review_summary sum;
	enum review_status    rs;
	const char           *why;      /* not ready: the hooks' reason */
	char                 *out;      /* the response (malloc'd), or NULL */
	size_t                outlen;
	char                  err[512];
	long                  us;
};

/* Where a review is: decided on the worker, or on the pool with its connection suspended. */
enum review_stage { STAGE_NONE, STAGE_POOLED, STAGE_DECIDED };

/* Per request: allocated on the first callback, freed in the completion callback. */
struct request_ctx {
	enum route route;
	bool       answered;   /* a response is queued: ignore whatever else arrives */
	bool       head;       /* HEAD: the response goes without its body */
	bool       too_big;
	struct dynbuf body;    /* at most `max` bytes */
	size_t     max;
	size_t     dropped;    /* bytes read past the cap and thrown away */
	enum review_stage     stage;
	struct review_result  res;
	struct server        *srv;    /* for the pool's job */
	struct MHD_Connection *conn;
};

/* Per connection: its limits, and with client certificates the verdict, found once. */
enum peer_auth { PEER_UNCHECKED, PEER_VERIFIED, PEER_REFUSED };

struct conn_ctx {
	enum peer_auth        auth;
	struct connlimit_conn lim;
	struct tlspush        push;
};

/* ---- TLS ---- */

/* An expiry as RFC 3339 UTC, for the log. */
static void
time_text(time_t t, char *out, size_t outsz)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, outsz, "%lld", (long long)t);
}

/* Logs the certificate now served; `what` says how it came ("loaded", "reloaded"). */
static void
tls_log_installed(const struct server *s, const char *what)
{
	char until[64];

	time_text(s->tls.not_after, until, sizeof(until));
	log_info("TLS certificate %s from %s and %s: %s, %u in the chain, expires %s, sha256 %s",
	    what, s->opts.tls_cert, s->opts.tls_key, s->tls.subject, s->tls.chain_len, until,
	    s->tls.sha256);
	if (s->tls.not_after <= time(NULL))
		log_warnx("TLS certificate %s expired at %s; serving it anyway", s->opts.tls_cert,
		    until);
}

/*
 * A failure is counted once per change since the files are only read again once they change
 * again. Both files are stamped before they are read, so a write that lands during the read
 * is seen the next time.
 */
void
server_tls_reload(struct server *s, bool force)
{
	bool cert_changed = fileio_changed(s->opts.tls_cert, &s->cert_stamp);
	bool key_changed = fileio_changed(s->opts.tls_key, &s->key_stamp);
	char err[PATH_MAX + 1024], until[64];

	if (!cert_changed && !key_changed && !force)
		return;
	/* s->tls changes only when the new pair is installed. */
	if (tlsreload_install(s->opts.tls_cert, s->opts.tls_key, &s->tls, err,
	    sizeof(err)) != 0) {
		metrics_tls_failed();
		time_text(s->tls.not_after, until, sizeof(until));
		log_warnx("TLS reload refused: %s; still serving %s (expires %s, sha256 %s)", err,
		    s->tls.subject, until, s->tls.sha256);
		return;
	}
	metrics_tls_installed((int64_t)s->tls.not_after, true);
	tls_log_installed(s, "reloaded");
}

/* ---- responses ---- */

/* The connection's own state (server_connection), or NULL. */
static struct conn_ctx *
conn_ctx_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci != NULL ? ci->socket_context : NULL;
}

static ssize_t
body_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	/* libmicrohttpd asks for at most what is left (total_size - pos). */
	memcpy(buf, (const char *)cls + pos, max);
	return (ssize_t)max;
}

/*
 * A response over `body` (freed with it for MHD_RESPMEM_MUST_FREE, else borrowed for its
 * life). Given as a reader rather than a buffer: libmicrohttpd 0.9.75 sends the headers of a
 * buffer response under 1400 bytes corked and pushes the body with a setsockopt(TCP_NODELAY)
 * each time; for a reader it pushes the headers, and TCP_NODELAY is set once per connection.
 */
static struct MHD_Response *
response_new(char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	if (len == 0)
		return MHD_create_response_from_buffer(0, body, mode);
	return MHD_create_response_from_callback(len, len < SERVER_RESPONSE_BLOCK ? len :
	    SERVER_RESPONSE_BLOCK, body_read, body, mode == MHD_RESPMEM_MUST_FREE ? free : NULL);
}

/*
 * Queues a response and counts it. `mode` says whether body is ours to free (it is freed even
 * when queueing fails). During shutdown every response closes its connection, so a client
 * does not send its next request to a server about to stop. MHD_NO makes libmicrohttpd drop
 * the connection: the apiserver then applies its failurePolicy, never an accidental allow.
 */
static enum MHD_Result
respond(struct server *s, struct MHD_Connection *conn, struct request_ctx *rq, unsigned code,
    const char *type, char *body, size_t len, enum MHD_ResponseMemoryMode mode, const char *allow)
{
	struct MHD_Response *r = response_new(body, len, mode);
	struct conn_ctx *cc;
	enum MHD_Result ret = MHD_NO;

	if (r == NULL) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		log_warnx("response %u: out of memory", code);
		return MHD_NO;
	}
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) == MHD_YES &&
	    (allow == NULL || MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow) == MHD_YES) &&
	    (!atomic_load(&s->draining) ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close") == MHD_YES))
		ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	if (ret != MHD_YES) {
		log_warnx("response %u could not be queued", code);
		return MHD_NO;
	}
	/* The headers' record waits for the body's: one send (tlspush.h). */
	if (len > 0 && !rq->head && (cc = conn_ctx_of(conn)) != NULL)
		tlspush_hold(&cc->push);
	rq->answered = true;
	metrics_http((int)code);
	return MHD_YES;
}

static enum MHD_Result
respond_text(struct server *s, struct MHD_Connection *conn, struct request_ctx *rq,
    unsigned code, const char *text)
{
	return respond(s, conn, rq, code, TEXT_TYPE, (char *)text, strlen(text),
	    MHD_RESPMEM_PERSISTENT, NULL);
}

static enum MHD_Result respond_error(struct server *s, struct MHD_Connection *conn,
    struct request_ctx *rq, unsigned code, const char *allow, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* A JSON error body {"error":"..."} built with jansson, so the message is escaped. */
static enum MHD_Result
respond_error(struct server *s, struct MHD_Connection *conn, struct request_ctx *rq,
    unsigned code, const char *allow, const char *fmt, ...)
{
	static const char fallback[] = "{\"error\":\"out of memory\"}";
	char raw[1024], msg[1024];
	json_t *j;
	char *body = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	log_utf8_clean(raw, msg, sizeof(msg));
	j = json_pack("{s:s}", "error", msg);
	if (j != NULL)
		body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (body == NULL)
		return respond(s, conn, rq, code, JSON_TYPE, (char *)fallback, sizeof(fallback) - 1,
		    MHD_RESPMEM_PERSISTENT, allow);
	return respond(s, conn, rq, code, JSON_TYPE, body, strlen(body), MHD_RESPMEM_MUST_FREE,
	    allow);
}

/* ---- client certificates ---- */

/*
 * Verifies the client's certificate chain against --client-ca, for client authentication
 * (a serving certificate of the same CA does not do). libmicrohttpd only *requests* a
 * certificate when given a trust store, so "none sent" arrives here as an error.
 */
static bool
peer_verify(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	char peer[NI_MAXHOST], why[512];

	if (ci == NULL || ci->tls_session == NULL) {
		log_warnx("client certificate: no TLS session");
		return false;
	}
	if (connlimit_client_verify((gnutls_session_t)ci->tls_session, why, sizeof(why)))
		return true;
	connlimit_client_addr(conn, peer, sizeof(peer));
	log_warnx("client %s refused: %s", peer, why);
	return false;
}

/* peer_verify, remembered for the connection (a TLS session's peer does not change). */
static bool
peer_verified(struct MHD_Connection *conn)
{
	struct conn_ctx *cc = conn_ctx_of(conn);
	bool ok;

	if (cc != NULL && cc->auth != PEER_UNCHECKED)
		return cc->auth == PEER_VERIFIED;
	ok = peer_verify(conn);
	if (cc != NULL)
		cc->auth = ok ? PEER_VERIFIED : PEER_REFUSED;
	return ok;
}

/* Counts connections and puts each under its limits (connlimit). */
static void
server_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	struct server_port *p = cls;
	struct conn_ctx *cc;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		metrics_connection();
		/* Without its context a connection would have no deadline: it is refused. */
		if ((cc = calloc(1, sizeof(*cc))) == NULL) {
			connlimit_refuse(conn);
		} else if (connlimit_conn_start(p->limits, &cc->lim, conn) == 0) {
			/* The sending side (the session is gnutls_deinit'd before CLOSED). */
			tlspush_attach(&cc->push, cc->lim.session, cc->lim.fd);
		}
		*socket_context = cc;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		cc = *socket_context;
		if (cc != NULL) {
			connlimit_conn_end(&cc->lim);
			tlspush_clear(&cc->push);
		}
		free(cc);
		*socket_context = NULL;
	}
}

/* The connection's limits, or NULL. */
static struct connlimit_conn *
conn_limits(struct MHD_Connection *conn)
{
	struct conn_ctx *cc = conn_ctx_of(conn);

	return cc != NULL ? &cc->lim : NULL;
}

/* ---- requests ---- */

/* True for "application/json", in any case, with or without parameters ("; charset=utf-8"). */
static bool
content_type_json(const char *ct)
{
	static const char want[] = "application/json";
	size_t n;

	if (ct == NULL)
		return false;
	ct += strspn(ct, " \t");
	n = strcspn(ct, ";");
	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	return n == sizeof(want) - 1 && strncasecmp(ct, want, n) == 0;
}

/* Content-Length as a number capped at 2 * max + 1; -1 when absent or not a number. */
static long long
content_length(struct MHD_Connection *conn, size_t max)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	long long n = 0;

	if (v == NULL || *v == '\0')
		return -1;
	for (; *v >= '0' && *v <= '9'; v++)
		if ((n = n * 10 + (*v - '0')) > 2 * (long long)max)
			n = 2 * (long long)max + 1;   /* keeps scanning without overflow */
	return *v == '\0' ? n : -1;
}

/*
 * Appends a chunk of the body. Past the cap (a chunked body has no Content-Length to refuse
 * up front) the rest is read and dropped so the client still gets its 413, but only up to
 * another cap's worth; beyond that the connection is cut.
 */
static enum MHD_Result
body_append(struct request_ctx *rq, const char *data, size_t n)
{
	int rc = rq->too_big ? DYNBUF_TOOBIG : dynbuf_add(&rq->body, data, n);

	if (rc == DYNBUF_TOOBIG) {
		if (!rq->too_big) {
			rq->too_big = true;
			rq->dropped = rq->body.len;
			dynbuf_free(&rq->body);
		}
		rq->dropped += n;
		return rq->dropped > 2 * rq->max ? MHD_NO : MHD_YES;
	}
	if (rc != DYNBUF_OK) {
		log_warnx("request body: out of memory");
		return MHD_NO;
	}
	return MHD_YES;
}

static long
micros_between(const struct timespec *a, const struct timespec *b)
{
	return (long)(b->tv_sec - a->tv_sec) * 1000000L + (b->tv_nsec - a->tv_nsec) / 1000;
}

/*
 * Decides the complete body of a /validate or /mutate request against the hooks' view into
 * rq->res. Touches nothing of the connection: it runs on the worker or on the pool.
 */
static void
review_decide(struct server *s, struct request_ctx *rq)
{
	bool mutate = rq->route == ROUTE_MUTATE;
	struct review_result *r = &rq->res;
	struct server_view view;
	struct timespec t0, t1;

	memset(r, 0, sizeof(*r));
	r->rs = REVIEW_NO_MEMORY;
	memset(&view, 0, sizeof(view));
	if (s->hooks.view_begin(s->hooks.arg, &view, &r->why) == 0) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		r->rs = review_handle_with(view.cfg, view.st, mutate,
		    rq->body.p != NULL ? rq->body.p : "", rq->body.len, time(NULL),
		    mutate ? NULL : s->hooks.after, s->hooks.arg, &r->out, &r->outlen, &r->sum,
		    r->err, sizeof(r->err));
		clock_gettime(CLOCK_MONOTONIC, &t1);
		s->hooks.view_end(s->hooks.arg, &view);
		r->us = micros_between(&t0, &t1);
	}
	dynbuf_free(&rq->body);   /* up to 7 MiB that the response no longer needs */
}

/*
 * A decided review (rq->res): log, count and answer once. No view (not ready) and no
 * response are both 500: fail closed.
 */
static enum MHD_Result
serve_review(struct server *s, struct MHD_Connection *conn, struct request_ctx *rq)
{
	enum metrics_webhook w = rq->route == ROUTE_MUTATE ? METRICS_MUTATE : METRICS_VALIDATE;
	const struct review_summary *sum = &rq->res.sum;
	enum review_status rs = rq->res.rs;
	const char *why = rq->res.why, *err = rq->res.err;
	char *out = rq->res.out;
	size_t outlen = rq->res.outlen;
	long us = rq->res.us;
	enum MHD_Result ret;

	rq->res.out = NULL;   /* ours now */
	metrics_review(w, sum, why != NULL || rs != REVIEW_OK || out == NULL, us);
	if (why != NULL) {
		log_warnx("review refused: %s", why);
		ret = respond_error(s, conn, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
		    "not ready: %s", why);
	} else if (rs == REVIEW_OK && out != NULL) {
		log_decision(sum, us);
		ret = respond(s, conn, rq, MHD_HTTP_OK, JSON_TYPE, out, outlen,
		    MHD_RESPMEM_MUST_FREE, NULL);
		out = NULL;   /* respond took it */
	} else if (rs == REVIEW_BAD_INPUT) {
		log_warnx("review refused: %s", err);
		ret = respond_error(s, conn, rq, MHD_HTTP_BAD_REQUEST, NULL, "%s", err);
	} else {
		/* REVIEW_NO_MEMORY, or anything else that left no response: fail closed. */
		log_warnx("review failed: %s", rs == REVIEW_NO_MEMORY ? "out of memory" :
		    "no response encoded");
		ret = respond_error(s, conn, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
		    "internal error: no decision");
	}
	free(out);
	return ret;
}

/* On the pool: decides, then hands the connection back to its worker, which answers. */
static void
review_job(void *arg)
{
	struct request_ctx *rq = arg;

	review_decide(rq->srv, rq);
	rq->stage = STAGE_DECIDED;   /* seen by the worker: resuming takes libmicrohttpd's lock */
	MHD_resume_connection(rq->conn);
}

/*
 * A validation that may write claims can wait on the apiserver for the claim budget, and a
 * worker that waited with it would read none of its other connections meanwhile (their
 * deadlines and libmicrohttpd's timeouts run on). So it is decided on the pool with its
 * connection suspended (no timeout runs while suspended; libmicrohttpd restarts it on
 * resume), and the worker keeps serving; once resumed, libmicrohttpd calls back and it is
 * answered here. Everything else, or a full pool, is decided on the worker at once.
 */
static enum MHD_Result
review_start(struct server *s, struct MHD_Connection *conn, struct request_ctx *rq)
{
	if (rq->stage == STAGE_DECIDED)
		return serve_review(s, conn, rq);
	if (s->pool != NULL && rq->route == ROUTE_VALIDATE && rq->stage == STAGE_NONE) {
		rq->stage = STAGE_POOLED;
		rq->srv = s;
		rq->conn = conn;
		MHD_suspend_connection(conn);   /* first: the job may resume it at once */
		if (workpool_submit(s->pool, review_job, rq) == 0)
			return MHD_YES;
		MHD_resume_connection(conn);
		rq->stage = STAGE_NONE;
	}
	review_decide(s, rq);
	return serve_review(s, conn, rq);
}

static enum MHD_Result
serve_metrics(struct server *s, struct MHD_Connection *conn, struct request_ctx *rq)
{
	size_t len = 0;
	char *text;

	if (s->hooks.metrics_refresh != NULL)
		s->hooks.metrics_refresh(s->hooks.arg);
	text = metrics_render(&len);

	if (text == NULL)
		return respond_error(s, conn, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
		    "out of memory");
	return respond(s, conn, rq, MHD_HTTP_OK, METRICS_TYPE, text, len, MHD_RESPMEM_MUST_FREE,
	    NULL);
}

static const struct route_def *
route_find(const char *url)
{
	/* libmicrohttpd strips the query already; this keeps "?timeout=10s" out regardless. */
	size_t n = strcspn(url, "?");

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strlen(routes[i].path) == n && memcmp(routes[i].path, url, n) == 0)
			return &routes[i];
	return NULL;
}

/*
 * The first callback of a request, when its headers are in: everything that can be refused
 * without the body is refused here, and libmicrohttpd then skips the body and closes the
 * connection. Answers that keep the connection open wait for the last callback: a response
 * queued this early always ends the connection.
 */
static enum MHD_Result
request_begin(struct server *s, bool health, struct MHD_Connection *conn, struct request_ctx *rq,
    const char *url, const char *method)
{
	const struct route_def *rd = route_find(url);
	bool split = s->opts.health_listen != NULL;
	bool is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
	    strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	bool is_probe;
	const char *expect;
	long long cl;

	/*
	 * With a health port every route lives on one port: the probes and /metrics there (no
	 * client certificate asked), reviews, which may write claims, only on the webhook port.
	 */
	if (rd != NULL && split && rd->post == health)
		rd = NULL;
	rq->route = rd != NULL ? rd->route : ROUTE_NONE;
	/* The kubelet's probes carry no client certificate; everything else needs one. */
	is_probe = rq->route == ROUTE_HEALTHZ || rq->route == ROUTE_READYZ;
	if (s->client_auth && !health && !is_probe && !peer_verified(conn))
		return respond_error(s, conn, rq, MHD_HTTP_FORBIDDEN, NULL,
		    "a client certificate issued by the configured CA is required");
	if (rd == NULL)
		return respond_error(s, conn, rq, MHD_HTTP_NOT_FOUND, NULL,
		    "not found; the routes here are %s", health ? "/healthz, /readyz and /metrics" :
		    split ? "/validate and /mutate" :
		    "/validate, /mutate, /healthz, /readyz and /metrics");
	if (rd->post ? strcmp(method, MHD_HTTP_METHOD_POST) != 0 : !is_get)
		return respond_error(s, conn, rq, MHD_HTTP_METHOD_NOT_ALLOWED, rd->allow,
		    "method not allowed on %s; use %s", rd->path, rd->allow);
	if (!rd->post)
		return MHD_YES;

	if (!content_type_json(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE)))
		return respond_error(s, conn, rq, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, NULL,
		    "Content-Type must be application/json");
	cl = content_length(conn, rq->max);
	/*
	 * Refused before the body only when the client waits for a go-ahead (Expect:
	 * 100-continue) or the body is far too large: answering while the client is still
	 * sending makes the kernel reset the connection over the unread body, and the client
	 * loses the 413. Up to twice the cap the body is read, dropped, then answered.
	 */
	expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
	if (cl > 2 * (long long)rq->max ||
	    (cl > (long long)rq->max && expect != NULL && strcasecmp(expect, "100-continue") == 0))
		return respond_error(s, conn, rq, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
		    "request body larger than %zu bytes", rq->max);
	if (cl > (long long)rq->max) {
		rq->too_big = true;
		return MHD_YES;
	}
	/* The announced size in one allocation instead of a series of reallocs. */
	if (cl > 0 && dynbuf_reserve(&rq->body, (size_t)cl) != DYNBUF_OK) {
		log_warnx("request body: out of memory");
		return MHD_NO;
	}
	return MHD_YES;
}

/* The last callback of a request: the body (if any) is complete. */
static enum MHD_Result
request_finish(struct server *s, struct MHD_Connection *conn, struct request_ctx *rq)
{
	const char *why;

	connlimit_body_done(conn_limits(conn));
	if (rq->too_big)
		return respond_error(s, conn, rq, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
		    "request body larger than %zu bytes", rq->max);
	switch (rq->route) {
	case ROUTE_VALIDATE:
	case ROUTE_MUTATE:
		return review_start(s, conn, rq);
	case ROUTE_HEALTHZ:
		return respond_text(s, conn, rq, MHD_HTTP_OK, "ok\n");
	case ROUTE_READYZ:
		why = s->hooks.not_ready(s->hooks.arg);
		return why == NULL ? respond_text(s, conn, rq, MHD_HTTP_OK, "ok\n") :
		    respond_text(s, conn, rq, MHD_HTTP_SERVICE_UNAVAILABLE, why);
	case ROUTE_METRICS:
		return serve_metrics(s, conn, rq);
	case ROUTE_NONE:
		break;
	}
	/* request_begin answered every other route; never leave a request without an answer. */
	return respond_error(s, conn, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "internal error");
}

static enum MHD_Result
server_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	struct server_port *p = cls;
	struct server *s = p->s;
	struct request_ctx *rq = *req_cls;

	(void)version;
	if (rq == NULL) {
		if ((rq = calloc(1, sizeof(*rq))) == NULL) {
			log_warnx("request: out of memory");
			return MHD_NO;
		}
		rq->max = s->body_max;
		rq->head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
		dynbuf_init(&rq->body, rq->max);
		*req_cls = rq;
		atomic_fetch_add(&s->active, 1);
		connlimit_headers_done(conn_limits(conn));
		return request_begin(s, p->health, conn, rq, url, method);
	}
	if (rq->answered) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		enum MHD_Result r = body_append(rq, upload_data, *upload_data_size);

		*upload_data_size = 0;
		return r;
	}
	/* A review may take its worker for a while (a claim): not on other clients' clocks. */
	connlimit_work_begin();
	enum MHD_Result r = request_finish(s, conn, rq);
	connlimit_work_end();
	return r;
}

static void
server_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct server *s = ((struct server_port *)cls)->s;
	struct request_ctx *rq = *req_cls;

	(void)toe;
	connlimit_request_done(conn_limits(conn));
	if (rq == NULL)
		return;
	dynbuf_free(&rq->body);
	free(rq->res.out);   /* decided but never answered (the connection went first) */
	free(rq);
	*req_cls = NULL;
	atomic_fetch_sub(&s->active, 1);
}

static void
server_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	log_vwarnx(fmt, ap);
}

/* ---- start-up ---- */

/* A whole PEM file as a NUL-terminated string (malloc'd; pem_free), or NULL, logged. */
static char *
read_pem(const char *what, const char *path, size_t *lenp)
{
	char err[PATH_MAX + 128];
	char *buf = fileio_read(path, SERVER_PEM_MAX, lenp, err, sizeof(err));

	if (buf == NULL) {
		log_warnx("%s %s", what, err);
		return NULL;
	}
	if (*lenp == 0) {
		log_warnx("%s %s: empty", what, path);
		free(buf);
		return NULL;
	}
	return buf;
}

/* Key material is wiped before it is released. */
static void
pem_free(char *pem, size_t len)
{
	if (pem != NULL) {
		explicit_bzero(pem, len);
		free(pem);
	}
}

/*
 * "HOST:PORT", "[V6]:PORT" or ":PORT" (all IPv4 interfaces) into *ss. 0, or -1 logged.
 * HOST may be a name; the first address it resolves to is used.
 */
static int
parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *sslen)
{
	char host[256];
	const char *port, *h = spec;
	size_t hlen;
	unsigned long p = 0;
	struct addrinfo hints, *res = NULL;
	int rc;

	if (*spec == '[') {
		const char *close = strchr(spec, ']');

		if (close == NULL || close[1] != ':') {
			log_warnx("listen %s: expected [ADDRESS]:PORT", spec);
			return -1;
		}
		h = spec + 1;
		hlen = (size_t)(close - h);
		port = close + 2;
	} else {
		const char *colon = strrchr(spec, ':');

		if (colon == NULL || memchr(spec, ':', (size_t)(colon - spec)) != NULL) {
			log_warnx("listen %s: expected HOST:PORT (IPv6 as [ADDRESS]:PORT)", spec);
			return -1;
		}
		hlen = (size_t)(colon - spec);
		port = colon + 1;
	}
	if (hlen >= sizeof(host)) {
		log_warnx("listen %s: host name too long", spec);
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (*port == '\0' || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
	    (p = strtoul(port, NULL, 10)) > 65535) {
		log_warnx("listen %s: the port must be a number from 0 to 65535", spec);
		return -1;
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if ((rc = getaddrinfo(hlen > 0 ? host : "0.0.0.0", NULL, &hints, &res)) != 0 ||
	    res == NULL) {
		log_warnx("listen %s: %s", spec, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)p);
	else
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)p);
	return 0;
}

/*
 * The certificate and key come from tlsreload_retrieve at every handshake rather than once
 * from memory, so a reload reaches new connections without restarting the daemon.
 */
static struct MHD_Daemon *
daemon_start(struct server_port *p, const struct sockaddr_storage *addr, const char *ca,
    unsigned threads)
{
	/*
	 * poll(), not epoll: libmicrohttpd 0.9.75 (Debian 12's, and 0.9.76..1.0.1 alike) keeps a
	 * connection "read-ready" while gnutls_handshake returns GNUTLS_E_AGAIN (only the record
	 * layer's EAGAIN clears the flag), so in epoll mode a TLS record that arrives in part (5
	 * bytes of a header are enough) puts the worker into epoll_wait(..., 0) + recv -> EAGAIN
	 * until the connection times out: one core per worker for any client that cares to.
	 * poll() is level-triggered and asks the socket again; with connections bounded per
	 * client and per worker, its O(connections) scan costs nothing measurable.
	 */
	unsigned flags = MHD_USE_TLS | MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
	    MHD_USE_ITC |   /* MHD_quiesce_daemon needs the inter-thread channel */
	    MHD_ALLOW_SUSPEND_RESUME;   /* review_start */
	gnutls_certificate_retrieve_function3 *cert_cb = tlsreload_retrieve;   /* type-checked */
	struct MHD_OptionItem opts[16];
	size_t n = 0;
	uint16_t port;

	if (addr->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)addr;

		/* "[::]" means every address, IPv4 included, as it does for other servers. */
		flags |= IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr) ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
	}
#define OPT(o, v, p) (opts[n++] = (struct MHD_OptionItem){ (o), (intptr_t)(v), (void *)(p) })
	/* First, or libmicrohttpd prints the messages of the options before it to stderr. */
	OPT(MHD_OPTION_EXTERNAL_LOGGER, server_mhd_log, NULL);
	OPT(MHD_OPTION_SOCK_ADDR, 0, addr);
	OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, SERVER_TLS_PRIORITIES);
	if (ca != NULL) {
		OPT(MHD_OPTION_HTTPS_MEM_TRUST, 0, ca);
	}
	if (threads > 1)
		OPT(MHD_OPTION_THREAD_POOL_SIZE, threads, NULL);
	OPT(MHD_OPTION_CONNECTION_LIMIT, SERVER_CONN_LIMIT, NULL);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, connlimit_opts(p->limits)->idle_secs, NULL);
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, SERVER_CONN_MEMORY, NULL);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, server_completed, p);
	OPT(MHD_OPTION_NOTIFY_CONNECTION, server_connection, p);
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
	/* The port is used by the socket address; passing it too puts it in libmicrohttpd's messages. */
	port = ntohs(addr->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)addr)->sin6_port :
	    ((const struct sockaddr_in *)addr)->sin_port);
	/* Variadic, the form microhttpd.h documents for it: a function pointer, not a void *. */
	return MHD_start_daemon(flags, port, NULL, NULL, server_access, p, MHD_OPTION_ARRAY, opts,
	    MHD_OPTION_HTTPS_CERT_CALLBACK2, cert_cb, MHD_OPTION_END);
}

/* MHD_stop_daemon alone would close connections whose request is still being received. */
void
server_stop(struct server *s, const sigset_t *sigs)
{
	struct MHD_Daemon *d = s->daemon;
	struct timespec start, now, tick = { 0, 50 * 1000 * 1000 };
	MHD_socket lsock;
	int sig;

	atomic_store(&s->draining, true);
	lsock = MHD_quiesce_daemon(d);
	/*
	 * Refuse new connections at once instead of leaving them in the backlog until they time
	 * out. The descriptor itself stays open until MHD_stop_daemon, as libmicrohttpd asks.
	 */
	if (lsock != MHD_INVALID_SOCKET)
		shutdown(lsock, SHUT_RDWR);
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (atomic_load(&s->active) > 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= SERVER_DRAIN_SECONDS) {
			log_warnx("%u requests still in flight after %d s: stopping anyway",
			    atomic_load(&s->active), SERVER_DRAIN_SECONDS);
			break;
		}
		sig = sigtimedwait(sigs, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT) {
			log_warnx("%s again: stopping with %u requests in flight", strsignal(sig),
			    atomic_load(&s->active));
			break;
		}
	}
	/* Every pooled review decided and its connection resumed: libmicrohttpd must not be
	 * stopped with a connection suspended. */
	workpool_free(s->pool);
	s->pool = NULL;
	MHD_stop_daemon(d);
	s->daemon = NULL;
	if (lsock != MHD_INVALID_SOCKET)
		close(lsock);
	if (s->health != NULL)   /* the probes answer until the reviews are done */
		MHD_stop_daemon(s->health);
	s->health = NULL;
}

struct server *
server_new(const struct server_opts *o)
{
	const char *listen = o->listen != NULL ? o->listen : SERVER_DEFAULT_LISTEN;
	struct server *s;
	socklen_t addrlen = 0;
	char err[PATH_MAX + 1024];

	if (o->tls_cert == NULL || o->tls_key == NULL) {
		log_warnx("serve needs --tls-cert and --tls-key (see `tenantguard certs`)");
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("server");
		return NULL;
	}
	s->opts = *o;
	s->opts.listen = listen;
	if (s->opts.threads == 0)
		s->opts.threads = SERVER_DEFAULT_THREADS;
	s->client_auth = o->client_ca != NULL;
	s->body_max = o->body_max != 0 ? o->body_max : REVIEW_BODY_MAX;
	atomic_init(&s->active, 0);
	atomic_init(&s->draining, false);
	if (s->opts.threads > SERVER_MAX_THREADS) {
		log_warnx("--threads %u: at most %u", s->opts.threads, SERVER_MAX_THREADS);
		goto fail;
	}
	if (parse_listen(listen, &s->addr, &addrlen) != 0 || (o->health_listen != NULL &&
	    parse_listen(o->health_listen, &s->health_addr, &addrlen) != 0))
		goto fail;
	if (MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK2) != MHD_YES) {
		log_warnx("this libmicrohttpd has no MHD_OPTION_HTTPS_CERT_CALLBACK2 (it needs GnuTLS "
		    "3.6.3 or later): cannot serve a reloadable certificate");
		goto fail;
	}
	/* Stamped first, so that a change made while they are read is noticed by the poll. */
	(void)fileio_changed(o->tls_cert, &s->cert_stamp);
	(void)fileio_changed(o->tls_key, &s->key_stamp);
	if (tlsreload_install(o->tls_cert, o->tls_key, &s->tls, err, sizeof(err)) != 0) {
		log_warnx("TLS %s", err);
		goto fail;
	}
	metrics_tls_installed((int64_t)s->tls.not_after, false);
	tls_log_installed(s, "loaded");
	if (o->client_ca != NULL &&
	    (s->ca = read_pem("client CA", o->client_ca, &s->ca_len)) == NULL)
		goto fail;
	struct connlimit_opts lim = o->limits;
	lim.cert_handshake = lim.cert_handshake && s->client_auth;
	s->port = (struct server_port){ .s = s, .limits = connlimit_new(&lim) };
	lim.cert_handshake = false;
	s->health_port = (struct server_port){ .s = s, .health = true,
	    .limits = o->health_listen != NULL ? connlimit_new(&lim) : NULL };
	if (s->port.limits == NULL || (o->health_listen != NULL && s->health_port.limits == NULL)) {
		log_warnx("out of memory");
		goto fail;
	}
	return s;
fail:
	server_free(s);
	return NULL;
}

int
server_start(struct server *s, const struct server_hooks *h)
{
	const union MHD_DaemonInfo *di;

	s->hooks = *h;
	if (h->after != NULL && (s->pool = workpool_new(s->opts.threads * SERVER_POOL_PER_WORKER,
	    SERVER_POOL_QUEUE)) == NULL) {
		log_warnx("cannot start the review pool: out of memory or threads");
		return -1;
	}
	if ((s->daemon = daemon_start(&s->port, &s->addr, s->ca, s->opts.threads)) == NULL) {
		log_warnx("cannot serve HTTPS on %s (the reason is logged above)", s->opts.listen);
		return -1;
	}
	/* One thread: probes and scrapes are a few requests a minute. */
	if (s->opts.health_listen != NULL &&
	    (s->health = daemon_start(&s->health_port, &s->health_addr, NULL, 1)) == NULL) {
		log_warnx("cannot serve HTTPS on %s (the reason is logged above)",
		    s->opts.health_listen);
		return -1;
	}
	di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	log_info("listening on %s (port %u), %u threads, client certificates %s", s->opts.listen,
	    di != NULL ? (unsigned)di->port : 0u, s->opts.threads,
	    s->ca != NULL ? "required" : "not asked");
	if (s->health != NULL) {
		di = MHD_get_daemon_info(s->health, MHD_DAEMON_INFO_BIND_PORT);
		log_info("health and metrics on %s (port %u), no client certificate asked; "
		    "%s serves /validate and /mutate only", s->opts.health_listen,
		    di != NULL ? (unsigned)di->port : 0u, s->opts.listen);
	}
	const struct connlimit_opts *l = connlimit_opts(s->port.limits);
	log_info("limits: %u connections per address (0: none), %u s for the handshake and "
	    "headers, %u s per request, %u s idle, bodies up to %zu bytes%s", l->per_ip,
	    l->header_secs, l->request_secs, l->idle_secs, s->body_max, l->cert_handshake ?
	    ", no valid client certificate: closed at the handshake" : "");
	return 0;
}

unsigned
server_active(const struct server *s)
{
	return atomic_load(&s->active);
}

void
server_free(struct server *s)
{
	if (s == NULL)
		return;
	workpool_free(s->pool);
	if (s->daemon != NULL)
		MHD_stop_daemon(s->daemon);
	if (s->health != NULL)
		MHD_stop_daemon(s->health);
	tlsreload_clear();   /* the daemons, and every session with them, are gone by now */
	connlimit_free(s->port.limits);
	connlimit_free(s->health_port.limits);
	pem_free(s->ca, s->ca_len);
	free(s);
}
