/* SPDX-License-Identifier: Apache-2.0 */
/* server: the HTTPS admission endpoint (libmicrohttpd + GnuTLS) around review_handle. */
#include "server.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "claims.h"
#include "claimstore.h"
#include "config.h"
#include "config_load.h"
#include "connlimit.h"
#include "fileio.h"
#include "informer.h"
#include "jsonget.h"
#include "kube.h"
#include "live.h"
#include "log.h"
#include "metrics.h"
#include "reconcile.h"
#include "review.h"
#include "state.h"
#include "state_load.h"
#include "strmap.h"
#include "tlsreload.h"

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
#define SERVER_TLS_PRIORITIES  "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

#define JSON_TYPE    "application/json"
#define TEXT_TYPE    "text/plain; charset=utf-8"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* A config shared by the snapshots built on it; freed with the last reference. */
struct cfg_ref {
	atomic_uint    refs;
	struct config *cfg;
};

/*
 * What one review decides against: a config and the state built with it. Immutable once
 * installed; a request holds a reference for the duration of review_handle, so a reload
 * never waits for readers and readers never see a half-built snapshot.
 */
struct snapshot {
	atomic_uint     refs;
	struct cfg_ref *cref;
	struct state   *st;
};

/* Enough of a file's identity to notice an edit, a replacement or a swapped symlink. */
struct file_stamp {
	bool        present;
	struct stat link;                 /* lstat of the path as given */
	struct stat target;               /* stat of where it resolves */
	char        resolved[PATH_MAX];
};

struct server {
	const struct server_opts *opts;
	bool                      client_auth;
	size_t                    body_max;   /* larger bodies get 413 */
	struct connlimit         *limits;

	pthread_mutex_t           snap_lock;  /* guards `snap` (the pointer, not the snapshot) */
	struct snapshot          *snap;       /* NULL until a config and a state are loaded */

	/* Reloader's own, touched by the main thread only. */
	struct cfg_ref           *cref;       /* the last good config */
	uint64_t                  generation;
	struct file_stamp         cfg_stamp, state_stamp;
	struct file_stamp         cert_stamp, key_stamp;
	struct tlsreload_info     tls;        /* the certificate being served */

	/* Live cluster state (--kubeconfig or in-cluster); all NULL with --state. */
	struct kube_client       *kc;
	struct live              *live;
	struct informers         *inf;
	struct claimstore        *cs;         /* durable first-come claims */
	struct reconciler        *rec;        /* tenant objects (leader only writes) */
	_Atomic(struct informers *) inf_pub;  /* `inf` for other threads, once started */
	pthread_t                 main_thread;
	/* Tenant changes seen by the informer, and how many of them the config reflects: the
	 * live state is current only when both agree (a Tenant's reservations are policy). */
	atomic_uint               tenants_wanted, tenants_loaded;
	struct strmap            *tenant_gens;    /* Tenant informer thread: name -> generation */
	char                     *tenants_seen;   /* main thread: what the config was built from */

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

/* Per request: allocated on the first callback, freed in the completion callback. */
struct request_ctx {
	enum route route;
	bool       answered;   /* a response is queued: ignore whatever else arrives */
	bool       too_big;
	char      *body;       /* NUL-terminated, at most `max` bytes */
	size_t     len, cap, max;
	size_t     dropped;    /* bytes read past the cap and thrown away */
};

/* Per connection: its limits, and with client certificates the verdict, found once. */
enum peer_auth { PEER_UNCHECKED, PEER_VERIFIED, PEER_REFUSED };

struct conn_ctx {
	enum peer_auth        auth;
	struct connlimit_conn lim;
};

/* ---- snapshots ---- */

static struct cfg_ref *
cref_get(struct cfg_ref *c)
{
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

static void
cref_put(struct cfg_ref *c)
{
	if (c != NULL && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
		config_free(c->cfg);
		free(c);
	}
}

static void
snapshot_put(struct snapshot *sn)
{
	if (sn != NULL && atomic_fetch_sub_explicit(&sn->refs, 1, memory_order_acq_rel) == 1) {
		state_free(sn->st);
		cref_put(sn->cref);
		free(sn);
	}
}

/* live_set_config's release callback. */
static void
live_cref_put(void *c)
{
	cref_put(c);
}

/* The installed snapshot with a reference taken (snapshot_put it), or NULL. */
static struct snapshot *
snapshot_get(struct server *s)
{
	struct snapshot *sn;

	pthread_mutex_lock(&s->snap_lock);
	sn = s->snap;
	if (sn != NULL)
		atomic_fetch_add_explicit(&sn->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&s->snap_lock);
	return sn;
}

/* Installs (s->cref, st) as the snapshot; takes st. 0, or -1 when out of memory. */
static int
snapshot_install(struct server *s, struct state *st)
{
	struct snapshot *sn = malloc(sizeof(*sn)), *old;

	if (sn == NULL) {
		log_warn("snapshot");
		state_free(st);
		return -1;
	}
	atomic_init(&sn->refs, 1);
	sn->cref = cref_get(s->cref);
	sn->st = st;
	pthread_mutex_lock(&s->snap_lock);
	old = s->snap;
	s->snap = sn;
	pthread_mutex_unlock(&s->snap_lock);
	snapshot_put(old);
	metrics_config_loaded(sn->cref->cfg->generation);
	if (s->live == NULL)
		metrics_state(st->n_objects, st->claims != NULL ? claims_count(st->claims) : 0);
	return 0;
}

/* ---- reloading ---- */

static bool
stat_same(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * Takes a new stamp of `path` into *old and says whether it differs. Both the path and its
 * resolved target count: a ConfigMap volume replaces the file by swapping the `..data`
 * symlink of a directory, which leaves the path itself untouched.
 */
static bool
file_changed(const char *path, struct file_stamp *old)
{
	struct file_stamp now;
	bool changed;

	memset(&now, 0, sizeof(now));
	now.present = lstat(path, &now.link) == 0 && realpath(path, now.resolved) != NULL &&
	    stat(now.resolved, &now.target) == 0;
	if (!now.present)
		memset(&now, 0, sizeof(now));
	changed = now.present != old->present ||
	    (now.present && (!stat_same(&now.link, &old->link) ||
	    !stat_same(&now.target, &old->target) || strcmp(now.resolved, old->resolved) != 0));
	*old = now;
	return changed;
}

/*
 * What the config takes from the Tenant objects (name, creation time, spec, in the live
 * cache's order-free form) as text, with the objects in *tenants (new reference). NULL when
 * out of memory.
 */
static char *
tenants_fingerprint(struct live *lv, json_t **tenants)
{
	json_t *all = live_list(lv, "Tenant", ""), *keep = json_object(), *o;
	char *text = NULL;
	size_t i;

	*tenants = all;
	if (all == NULL || keep == NULL)
		goto out;
	json_array_foreach(all, i, o) {
		const json_t *md = json_object_get(o, "metadata");
		json_t *e = json_pack("{s:O?, s:O?}", "created",
		    json_object_get(md, "creationTimestamp"), "spec", json_object_get(o, "spec"));
		if (e == NULL || json_object_set_new(keep, jsonget_str(md, "name") ?
		    jsonget_str(md, "name") : "", e) != 0)
			goto out;
	}
	text = json_dumps(keep, JSON_COMPACT | JSON_SORT_KEYS);
out:
	json_decref(keep);
	if (text == NULL) {
		json_decref(all);
		*tenants = NULL;
	}
	return text;
}

/* A Tenant left out of the config is an error an admin must see: logged at every load. */
static void
tenants_rejected_log(const json_t *rejected)
{
	const char *name;
	const json_t *why;

	json_object_foreach((json_t *)rejected, name, why)
		log_warnx("Tenant %s is not in effect: %s", name, json_string_value(why));
}

/*
 * Whether a Tenant event can change the config: a relist, a new or deleted Tenant, or a new
 * metadata.generation (the spec; status writes keep it). Called on the Tenant informer's
 * thread only, which owns s->tenant_gens.
 */
static bool
tenant_changed(struct server *s, const char *type, const json_t *obj)
{
	const char *name = jsonget_str(json_object_get(obj, "metadata"), "name");
	uintptr_t gen = (uintptr_t)json_integer_value(jsonget_path(obj, "metadata.generation")) + 1;

	if (obj == NULL || name == NULL || s->tenant_gens == NULL)
		return true;
	if (strcmp(type, "DELETED") == 0) {
		strmap_del(s->tenant_gens, name);
		return true;
	}
	if ((uintptr_t)strmap_get(s->tenant_gens, name) == gen)
		return false;
	if (strmap_set(s->tenant_gens, name, (void *)gen) != 0)
		strmap_del(s->tenant_gens, name);   /* out of memory: counts as a change next time */
	return true;
}

/*
 * Informer notifications: Tenant changes wake the main thread to rebuild the config (and
 * until it has, the live state is not current); every change goes to the reconciler.
 */
static void
live_notify(void *arg, const char *kind, const char *type, const json_t *obj)
{
	struct server *s = arg;

	if (strcmp(kind, "Tenant") == 0 && tenant_changed(s, type, obj)) {
		atomic_fetch_add(&s->tenants_wanted, 1);
		pthread_kill(s->main_thread, SIGUSR1);
	}
	reconciler_notify(s->rec, kind, type, obj);
}

/*
 * Whether decisions may rest on the live state: every informer has listed, and the config
 * has every Tenant change the informer has seen (else a Tenant's reservations could be missing
 * for a moment: fail closed). Reviews, /readyz, the claim reaper and the reconciler ask this.
 */
static bool
live_current(struct server *s)
{
	struct informers *inf = atomic_load(&s->inf_pub);

	return inf != NULL && informers_synced(inf) &&
	    atomic_load(&s->tenants_loaded) == atomic_load(&s->tenants_wanted);
}

/* live_current for the reconciler. */
static bool
live_synced(void *arg)
{
	return live_current(arg);
}

/*
 * Loads what changed since the last call (everything on the first call or when `force`) and
 * installs a new snapshot. A config that fails keeps the last good one; a good config whose
 * state fails becomes the base for the next state load, while the old snapshot stays in
 * service. Failures are logged and counted. Returns -1 only when there is no config at all
 * (the first load failed), else 0. *want is the count of Tenant changes to take in; it is
 * lowered to what was taken when they could not be.
 */
static int
reload(struct server *s, bool force, unsigned *want)
{
	const char *cpath = s->opts->config_path, *spath = s->opts->state_path;
	const char *cname = cpath != NULL ? cpath : "(built-in)";
	bool first = s->cref == NULL, cfg_changed = false, st_changed = false;
	struct config *cfg = NULL;
	struct state *st;
	char err[1024];

	if (cpath != NULL)
		cfg_changed = file_changed(cpath, &s->cfg_stamp);
	if (spath != NULL)
		st_changed = file_changed(spath, &s->state_stamp);
	if (first || force)
		cfg_changed = st_changed = true;
	json_t *tenants = NULL, *rejected = NULL;
	if (s->live != NULL && (*want != atomic_load(&s->tenants_loaded) || cfg_changed)) {
		/* Tenant objects are part of the config; a status-only change is not a change. */
		char *seen = tenants_fingerprint(s->live, &tenants);
		if (seen == NULL) {
			log_warnx("Tenant objects: out of memory; the config stays as it is");
			*want = atomic_load(&s->tenants_loaded);   /* not reflected: tried again */
		} else if (s->tenants_seen == NULL || strcmp(seen, s->tenants_seen) != 0) {
			free(s->tenants_seen);
			s->tenants_seen = seen;
			cfg_changed = st_changed = true;
		} else {
			free(seen);
		}
	}
	/* From here the Tenant changes up to *want are dealt with (a bad config file keeps the
	 * last good config, logged: waiting for it would only make every replica unready). */
	if (!cfg_changed && !st_changed) {
		json_decref(tenants);
		return 0;
	}

	if (cfg_changed) {
		err[0] = '\0';
		rejected = json_object();
		cfg = cpath != NULL ? config_load_file_tenants(cpath, tenants, rejected, err,
		    sizeof(err)) : config_load_default_tenants(tenants, rejected, err, sizeof(err));
		json_decref(tenants);
		tenants = NULL;
		if (cfg != NULL)
			tenants_rejected_log(rejected);
		if (cfg == NULL) {
			json_decref(rejected);
			rejected = NULL;
			metrics_config_failed();
			if (first) {
				log_warnx("config %s: %s", cname, err);
				return -1;
			}
			/* s->snap is written by this thread only: reading it here needs no lock. */
			log_warnx("config %s: %s; still serving config generation %llu", cname, err,
			    s->snap != NULL ? (unsigned long long)s->snap->cref->cfg->generation : 0ull);
			if (!st_changed)
				return 0;
		} else {
			struct cfg_ref *c = malloc(sizeof(*c));

			if (c == NULL) {
				log_warn("config %s", cname);
				config_free(cfg);
				json_decref(rejected);
				metrics_config_failed();
				return first ? -1 : 0;
			}
			cfg->generation = ++s->generation;
			atomic_init(&c->refs, 1);
			c->cfg = cfg;
			cref_put(s->cref);
			s->cref = c;
			/* The live index holds its own reference: both copies are rebuilt with it. */
			if (s->live != NULL && live_set_config(s->live, cfg, live_cref_put,
			    cref_get(c)) != 0) {
				log_warnx("config %s: out of memory rebuilding the live claim index; "
				    "it keeps the previous config", cname);
				metrics_config_failed();
			}
			reconciler_config_changed(s->rec, rejected);
		}
	}
	json_decref(tenants);
	json_decref(rejected);

	/* The state is rebuilt with every new config: owners are attributed through it. */
	err[0] = '\0';
	st = spath != NULL ? state_load_file(s->cref->cfg, spath, err, sizeof(err)) : state_new();
	if (st == NULL) {
		metrics_config_failed();
		if (spath == NULL)
			log_warnx("state: out of memory");
		else
			log_warnx("state %s: %s; %s", spath, err, s->snap != NULL ?
			    "still serving the last good config and state" : "not ready until it loads");
		return 0;
	}
	if (snapshot_install(s, st) != 0) {
		metrics_config_failed();
		return 0;
	}
	if (s->live != NULL)
		log_info("loaded config generation %llu from %s, state live from the apiserver",
		    (unsigned long long)s->cref->cfg->generation, cname);
	else
		log_info("loaded config generation %llu from %s, state %s: %zu objects",
		    (unsigned long long)s->cref->cfg->generation, cname,
		    spath != NULL ? spath : "(empty)", st->n_objects);
	return 0;
}

/* reload, then records which Tenant changes the config now reflects (live_current). */
static int
server_reload(struct server *s, bool force)
{
	unsigned want = atomic_load(&s->tenants_wanted);
	int rc = reload(s, force, &want);

	atomic_store(&s->tenants_loaded, want);
	return rc;
}

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
	    what, s->opts->tls_cert, s->opts->tls_key, s->tls.subject, s->tls.chain_len, until,
	    s->tls.sha256);
	if (s->tls.not_after <= time(NULL))
		log_warnx("TLS certificate %s expired at %s; serving it anyway", s->opts->tls_cert,
		    until);
}

/*
 * Installs the TLS certificate and key again when either file changed (every time with
 * `force`). A pair that fails to load or whose key does not match keeps the one being
 * served; the failure is logged and counted once per change, since the files are only read
 * again once they change again. Both files are stamped before they are read, so a write
 * that lands during the read is seen the next time.
 */
static void
server_tls_reload(struct server *s, bool force)
{
	bool cert_changed = file_changed(s->opts->tls_cert, &s->cert_stamp);
	bool key_changed = file_changed(s->opts->tls_key, &s->key_stamp);
	char err[PATH_MAX + 1024], until[64];

	if (!cert_changed && !key_changed && !force)
		return;
	/* s->tls changes only when the new pair is installed. */
	if (tlsreload_install(s->opts->tls_cert, s->opts->tls_key, &s->tls, err,
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
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
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

static void
peer_name(struct MHD_Connection *conn, char *out, size_t outsz)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char host[NI_MAXHOST];
	socklen_t len;

	snprintf(out, outsz, "?");
	if (ci == NULL || ci->client_addr == NULL)
		return;
	len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
	if (getnameinfo(ci->client_addr, len, host, sizeof(host), NULL, 0, NI_NUMERICHOST) == 0)
		snprintf(out, outsz, "%s", host);
}

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
	peer_name(conn, peer, sizeof(peer));
	log_warnx("client %s refused: %s", peer, why);
	return false;
}

/* peer_verify, remembered for the connection (a TLS session's peer does not change). */
static bool
peer_verified(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_ctx *cc = ci != NULL ? ci->socket_context : NULL;
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
	struct server *s = cls;
	struct conn_ctx *cc;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		metrics_connection();
		/* Without its context a connection would have no deadline: it is refused. */
		if ((cc = calloc(1, sizeof(*cc))) == NULL)
			connlimit_refuse(conn);
		else
			(void)connlimit_conn_start(s->limits, &cc->lim, conn);
		*socket_context = cc;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		cc = *socket_context;
		if (cc != NULL)
			connlimit_conn_end(&cc->lim);
		free(cc);
		*socket_context = NULL;
	}
}

/* The connection's limits, or NULL. */
static struct connlimit_conn *
conn_limits(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_ctx *cc = ci != NULL ? ci->socket_context : NULL;

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

/* Room for `want` bytes and a terminator, never beyond the cap. -1 when out of memory. */
static int
body_reserve(struct request_ctx *rq, size_t want)
{
	size_t ncap;
	char *nb;

	if (want + 1 <= rq->cap)
		return 0;
	ncap = rq->cap < 16384 ? 16384 : rq->cap * 2;
	if (ncap < want + 1)
		ncap = want + 1;
	if (ncap > rq->max + 1)
		ncap = rq->max + 1;
	if ((nb = realloc(rq->body, ncap)) == NULL)
		return -1;
	rq->body = nb;
	rq->cap = ncap;
	return 0;
}

static void
body_free(struct request_ctx *rq)
{
	free(rq->body);
	rq->body = NULL;
	rq->len = rq->cap = 0;
}

/*
 * Appends a chunk of the body. Past the cap (a chunked body has no Content-Length to refuse
 * up front) the rest is read and dropped so the client still gets its 413, but only up to
 * another cap's worth; beyond that the connection is cut.
 */
static enum MHD_Result
body_append(struct request_ctx *rq, const char *data, size_t n)
{
	if (!rq->too_big && n > rq->max - rq->len) {
		rq->too_big = true;
		rq->dropped = rq->len;
		body_free(rq);
	}
	if (rq->too_big) {
		rq->dropped += n;
		return rq->dropped > 2 * rq->max ? MHD_NO : MHD_YES;
	}
	if (body_reserve(rq, rq->len + n) != 0) {
		log_warnx("request body: out of memory");
		return MHD_NO;
	}
	memcpy(rq->body + rq->len, data, n);
	rq->len += n;
	rq->body[rq->len] = '\0';
	return MHD_YES;
}

static long
micros_between(const struct timespec *a, const struct timespec *b)
{
	return (long)(b->tv_sec - a->tv_sec) * 1000000L + (b->tv_nsec - a->tv_nsec) / 1000;
}

/* What claim_after needs: the claim store, and when the request arrived (its budget). */
struct claim_arg {
	struct claimstore *cs;
	struct timespec    since;
};

/* review_after_fn: makes an allowed request's first-come claims durable (claimstore). */
static void
claim_after(void *arg, const struct config *cfg, const struct request *req, struct decision *d)
{
	struct claim_arg *ca = arg;

	claimstore_review(ca->cs, cfg, req, d, &ca->since);
}

/* The complete body of a /validate or /mutate request: decide, log, count, answer. */
static enum MHD_Result
serve_review(struct server *s, struct MHD_Connection *conn, struct request_ctx *rq)
{
	bool mutate = rq->route == ROUTE_MUTATE;
	enum metrics_webhook w = mutate ? METRICS_MUTATE : METRICS_VALIDATE;
	struct review_summary sum;
	struct snapshot *sn;
	struct live_view view;
	struct timespec t0, t1;
	enum review_status rs;
	char *out = NULL, err[512] = "";
	size_t outlen = 0;
	long us;

	struct claim_arg ca = { .cs = s->cs };

	connlimit_request_since(conn_limits(conn), &ca.since);
	memset(&sum, 0, sizeof(sum));
	if (s->live != NULL) {
		/* Fail closed until the cluster is known: an empty index would allow collisions. */
		if (!live_current(s) || live_read_begin(s->live, &view) != 0) {
			metrics_review(w, &sum, true, 0);
			log_warnx("review refused: cluster state not synced yet");
			return respond_error(s, conn, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
			    "not ready: cluster state not synced yet");
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		rs = review_handle_with(view.cfg, view.st, mutate, rq->body != NULL ? rq->body : "",
		    rq->len, time(NULL), mutate ? NULL : claim_after, &ca, &out, &outlen, &sum,
		    err, sizeof(err));
		clock_gettime(CLOCK_MONOTONIC, &t1);
		live_read_end(s->live, &view);
	} else {
		if ((sn = snapshot_get(s)) == NULL) {
			metrics_review(w, &sum, true, 0);
			log_warnx("review refused: no config and state loaded");
			return respond_error(s, conn, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
			    "not ready: no config and state loaded");
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		rs = review_handle(sn->cref->cfg, sn->st, mutate, rq->body != NULL ? rq->body : "",
		    rq->len, time(NULL), &out, &outlen, &sum, err, sizeof(err));
		clock_gettime(CLOCK_MONOTONIC, &t1);
		snapshot_put(sn);
	}
	body_free(rq);   /* up to body_max bytes that the response no longer needs */
	us = micros_between(&t0, &t1);

	if (rs == REVIEW_OK && out != NULL) {
		metrics_review(w, &sum, false, us);
		log_decision(&sum, us);
		return respond(s, conn, rq, MHD_HTTP_OK, JSON_TYPE, out, outlen,
		    MHD_RESPMEM_MUST_FREE, NULL);
	}
	free(out);
	metrics_review(w, &sum, true, us);
	if (rs == REVIEW_BAD_INPUT) {
		log_warnx("review refused: %s", err);
		return respond_error(s, conn, rq, MHD_HTTP_BAD_REQUEST, NULL, "%s", err);
	}
	/* REVIEW_NO_MEMORY, or anything else that left no response: fail closed. */
	log_warnx("review failed: %s", rs == REVIEW_NO_MEMORY ? "out of memory" :
	    "no response encoded");
	return respond_error(s, conn, rq, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
	    "internal error: no decision");
}

static enum MHD_Result
serve_metrics(struct server *s, struct MHD_Connection *conn, struct request_ctx *rq)
{
	size_t len = 0;
	char *text;

	if (s->inf != NULL) {
		informers_metrics(s->inf);
		metrics_state(live_objects(s->live, NULL), live_claims(s->live));
		metrics_live_client(kube_client_requests(s->kc),
		    s->rec == NULL ? -1 : reconciler_leading(s->rec) ? 1 : 0);
	}
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
request_begin(struct server *s, struct MHD_Connection *conn, struct request_ctx *rq,
    const char *url, const char *method)
{
	const struct route_def *rd = route_find(url);
	bool is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
	    strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	bool is_probe;
	const char *expect;
	long long cl;

	rq->route = rd != NULL ? rd->route : ROUTE_NONE;
	/* The kubelet's probes carry no client certificate; everything else needs one. */
	is_probe = rq->route == ROUTE_HEALTHZ || rq->route == ROUTE_READYZ;
	if (s->client_auth && !is_probe && !peer_verified(conn))
		return respond_error(s, conn, rq, MHD_HTTP_FORBIDDEN, NULL,
		    "a client certificate issued by the configured CA is required");
	if (rd == NULL)
		return respond_error(s, conn, rq, MHD_HTTP_NOT_FOUND, NULL,
		    "not found; the routes are /validate, /mutate, /healthz, /readyz and /metrics");
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
	if (cl > 0 && body_reserve(rq, (size_t)cl) != 0) {
		log_warnx("request body: out of memory");
		return MHD_NO;
	}
	return MHD_YES;
}

/* The last callback of a request: the body (if any) is complete. */
static enum MHD_Result
request_finish(struct server *s, struct MHD_Connection *conn, struct request_ctx *rq)
{
	struct snapshot *sn;
	bool ready;

	connlimit_body_done(conn_limits(conn));
	if (rq->too_big)
		return respond_error(s, conn, rq, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
		    "request body larger than %zu bytes", rq->max);
	switch (rq->route) {
	case ROUTE_VALIDATE:
	case ROUTE_MUTATE:
		return serve_review(s, conn, rq);
	case ROUTE_HEALTHZ:
		return respond_text(s, conn, rq, MHD_HTTP_OK, "ok\n");
	case ROUTE_READYZ:
		sn = snapshot_get(s);
		ready = sn != NULL;
		snapshot_put(sn);
		if (ready && s->live != NULL && !live_current(s))
			return respond_text(s, conn, rq, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "not ready: cluster state not synced yet\n");
		return ready ? respond_text(s, conn, rq, MHD_HTTP_OK, "ok\n") :
		    respond_text(s, conn, rq, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "not ready: config and state not loaded\n");
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
	struct server *s = cls;
	struct request_ctx *rq = *req_cls;

	(void)version;
	if (rq == NULL) {
		if ((rq = calloc(1, sizeof(*rq))) == NULL) {
			log_warnx("request: out of memory");
			return MHD_NO;
		}
		*req_cls = rq;
		rq->max = s->body_max;
		atomic_fetch_add(&s->active, 1);
		connlimit_headers_done(conn_limits(conn));
		return request_begin(s, conn, rq, url, method);
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
	connlimit_work_begin();
	enum MHD_Result r = request_finish(s, conn, rq);
	connlimit_work_end();
	return r;
}

static void
server_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct server *s = cls;
	struct request_ctx *rq = *req_cls;

	(void)toe;
	connlimit_request_done(conn_limits(conn));
	if (rq == NULL)
		return;
	body_free(rq);
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
server_start(struct server *s, const struct sockaddr_storage *addr, const char *ca,
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
	    MHD_USE_ITC;   /* MHD_quiesce_daemon needs the inter-thread channel */
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
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, connlimit_opts(s->limits)->idle_secs, NULL);
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, SERVER_CONN_MEMORY, NULL);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, server_completed, s);
	OPT(MHD_OPTION_NOTIFY_CONNECTION, server_connection, s);
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
	/* The port is used by the socket address; passing it too puts it in libmicrohttpd's messages. */
	port = ntohs(addr->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)addr)->sin6_port :
	    ((const struct sockaddr_in *)addr)->sin_port);
	/* Variadic, the form microhttpd.h documents for it: a function pointer, not a void *. */
	return MHD_start_daemon(flags, port, NULL, NULL, server_access, s, MHD_OPTION_ARRAY, opts,
	    MHD_OPTION_HTTPS_CERT_CALLBACK2, cert_cb, MHD_OPTION_END);
}

/*
 * Stops accepting, waits (up to SERVER_DRAIN_SECONDS, or until another signal) for the
 * requests already begun, then stops the daemon. MHD_stop_daemon alone would close
 * connections whose request is still being received.
 */
static void
server_drain(struct server *s, struct MHD_Daemon *d, const sigset_t *sigs)
{
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
	MHD_stop_daemon(d);
	if (lsock != MHD_INVALID_SOCKET)
		close(lsock);
}

/*
 * The reaper's question (claimstore_reaper_start): does the live state hold exactly `pattern`
 * for `owner`? 1 or 0; -1 while it is not synced. pattern NULL: only whether it is synced.
 */
static int
claim_held(void *arg, const char *pattern, const char *owner)
{
	struct server *s = arg;
	struct live_view view;
	int held;

	if (!live_current(s) || live_read_begin(s->live, &view) != 0)
		return -1;
	held = pattern == NULL ||
	    claims_holds(view.st->claims, pattern, state_owner_lookup(view.st, owner));
	live_read_end(s->live, &view);
	return held;
}

/* The API client and the (empty) live cache, before the first config load. 0, or -1 logged. */
static int
live_open(struct server *s)
{
	char err[1024], desc[1024];

	s->kc = s->opts->kubeconfig != NULL ?
	    kube_client_new_kubeconfig(s->opts->kubeconfig, err, sizeof(err)) :
	    kube_client_new_in_cluster(NULL, err, sizeof(err));
	if (s->kc == NULL) {
		log_warnx("live cluster state: %s", err);
		return -1;
	}
	kube_client_describe(s->kc, desc, sizeof(desc));
	log_info("live cluster state from %s", desc);
	if ((s->live = live_new()) == NULL) {
		log_warnx("live cluster state: out of memory");
		return -1;
	}
	if ((s->cs = claimstore_new(s->kc, NULL, err, sizeof(err))) == NULL) {
		log_warnx("claim store: %s", err);
		return -1;
	}
	log_info("first-come host claims are made durable in %s ConfigMaps", CLAIMSTORE_NAMESPACE);
	return 0;
}

int
server_run(const struct server_opts *o)
{
	struct server s = { .opts = o, .client_auth = o->client_ca != NULL,
	    .body_max = o->body_max != 0 ? o->body_max : SERVER_DEFAULT_BODY_MAX };
	struct connlimit_opts lim = o->limits;
	const char *listen = o->listen != NULL ? o->listen : SERVER_DEFAULT_LISTEN;
	unsigned threads = o->threads != 0 ? o->threads : SERVER_DEFAULT_THREADS;
	char *ca = NULL, err[PATH_MAX + 1024];
	size_t ca_len = 0;
	struct sockaddr_storage addr;
	socklen_t addrlen = 0;
	struct MHD_Daemon *d = NULL;
	const union MHD_DaemonInfo *di;
	struct sigaction ign;
	sigset_t sigs;
	int status = 1, sig;

	pthread_mutex_init(&s.snap_lock, NULL);
	atomic_init(&s.active, 0);
	atomic_init(&s.draining, false);

	/* Before any thread exists, so that only this thread ever takes these signals. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);   /* live_notify: Tenant objects changed */
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, NULL);

	if (o->tls_cert == NULL || o->tls_key == NULL) {
		log_warnx("serve needs --tls-cert and --tls-key (see `tenantguard certs`)");
		goto out;
	}
	if (threads > SERVER_MAX_THREADS) {
		log_warnx("--threads %u: at most %u", threads, SERVER_MAX_THREADS);
		goto out;
	}
	if (parse_listen(listen, &addr, &addrlen) != 0)
		goto out;
	if (MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK2) != MHD_YES) {
		log_warnx("this libmicrohttpd has no MHD_OPTION_HTTPS_CERT_CALLBACK2 (it needs GnuTLS "
		    "3.6.3 or later): cannot serve a reloadable certificate");
		goto out;
	}
	/* Stamped first, so that a change made while they are read is noticed by the poll. */
	(void)file_changed(o->tls_cert, &s.cert_stamp);
	(void)file_changed(o->tls_key, &s.key_stamp);
	if (tlsreload_install(o->tls_cert, o->tls_key, &s.tls, err, sizeof(err)) != 0) {
		log_warnx("TLS %s", err);
		goto out;
	}
	metrics_tls_installed((int64_t)s.tls.not_after, false);
	tls_log_installed(&s, "loaded");
	if (o->client_ca != NULL && (ca = read_pem("client CA", o->client_ca, &ca_len)) == NULL)
		goto out;
	if ((o->kubeconfig != NULL || o->in_cluster) && live_open(&s) != 0)
		goto out;
	if (server_reload(&s, true) != 0)
		goto out;
	if (s.live != NULL) {
		s.main_thread = pthread_self();
		if ((s.tenant_gens = strmap_new()) == NULL) {
			log_warnx("out of memory");
			goto out;
		}
		if (!o->no_reconcile && (s.rec = reconciler_start(s.kc, s.live, NULL,
		    o->lease_seconds, live_synced, &s, err, sizeof(err))) == NULL) {
			log_warnx("reconciler: %s", err);
			goto out;
		}
		if ((s.inf = informers_start(s.kc, s.live, live_notify, &s)) == NULL)
			goto out;
		atomic_store(&s.inf_pub, s.inf);
	}
	if (s.cs != NULL) {
		unsigned grace = o->claim_grace != 0 ? o->claim_grace : CLAIMSTORE_GRACE;
		unsigned every = grace < CLAIMSTORE_REAP_INTERVAL ? grace : CLAIMSTORE_REAP_INTERVAL;
		if (claimstore_reaper_start(s.cs, claim_held, &s, every, grace, err, sizeof(err)) != 0) {
			log_warnx("claim store: %s", err);
			goto out;
		}
		log_info("claims no live object holds are released after %u s (checked every %u s)",
		    grace, every);
	}

	lim.cert_handshake = lim.cert_handshake && s.client_auth;
	if ((s.limits = connlimit_new(&lim)) == NULL) {
		log_warnx("out of memory");
		goto out;
	}
	if ((d = server_start(&s, &addr, ca, threads)) == NULL) {
		log_warnx("cannot serve HTTPS on %s (the reason is logged above)", listen);
		goto out;
	}
	di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	log_info("listening on %s (port %u), %u threads, client certificates %s", listen,
	    di != NULL ? (unsigned)di->port : 0u, threads, ca != NULL ? "required" : "not asked");
	{
		const struct connlimit_opts *l = connlimit_opts(s.limits);

		log_info("limits: %u connections per address (0: none), %u s for the handshake and "
		    "headers, %u s per request, %u s idle, bodies up to %zu bytes%s", l->per_ip,
		    l->header_secs, l->request_secs, l->idle_secs, s.body_max, l->cert_handshake ?
		    ", no valid client certificate: closed at the handshake" : "");
	}

	/*
	 * The main thread waits for signals and, once a second, looks for changed files: the
	 * config, the state, the TLS certificate and key.
	 */
	for (;;) {
		struct timespec tick = { 1, 0 };

		sig = sigtimedwait(&sigs, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig < 0 && errno != EAGAIN && errno != EINTR)
			log_warn("sigtimedwait");
		server_reload(&s, sig == SIGHUP);
		server_tls_reload(&s, sig == SIGHUP);
	}
	log_info("%s: draining %u requests in flight", sig == SIGTERM ? "SIGTERM" : "SIGINT",
	    atomic_load(&s.active));
	server_drain(&s, d, &sigs);
	d = NULL;
	log_info("stopped");
	status = 0;
out:
	if (d != NULL)
		MHD_stop_daemon(d);
	/* No request is running any more: nothing reads the live copies. */
	claimstore_reaper_stop(s.cs);   /* it reads them too */
	reconciler_stop(s.rec);         /* before the informers raise the client's stop flag */
	informers_stop(s.inf);
	live_free(s.live);
	claimstore_free(s.cs);
	kube_client_free(s.kc);
	snapshot_put(s.snap);
	cref_put(s.cref);
	tlsreload_clear();   /* the daemon, and every session with it, is gone by now */
	connlimit_free(s.limits);
	pem_free(ca, ca_len);
	free(s.tenants_seen);
	strmap_free(s.tenant_gens);
	pthread_mutex_destroy(&s.snap_lock);
	return status;
}
