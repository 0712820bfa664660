/* SPDX-License-Identifier: Apache-2.0 */
/* process: `serve` start-up, signals, reloads, snapshots and the live-state wiring. */
#include "process.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auditor.h"
#include "claims.h"
#include "claimstore.h"
#include "config.h"
#include "config_load.h"
#include "declog.h"
#include "defaultclass.h"
#include "fileio.h"
#include "firstcome.h"
#include "informer.h"
#include "jsonget.h"
#include "kube.h"
#include "live.h"
#include "log.h"
#include "metrics.h"
#include "reconcile.h"
#include "server.h"
#include "state.h"
#include "statefile.h"
#include "strmap.h"

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
struct process {
	const struct process_opts *opts;
	struct server             *srv;       /* the HTTPS endpoint */

	pthread_mutex_t           snap_lock;  /* guards `snap` (the pointer, not the snapshot) */
	struct snapshot          *snap;       /* NULL until a config and a state are loaded */

	/* Reloader's own, touched by the main thread only. */
	struct cfg_ref           *cref;       /* the last good config */
	uint64_t                  generation;
	struct fileio_stamp       cfg_stamp, state_stamp;

	/* Live cluster state (--kubeconfig or in-cluster); all NULL with --state. */
	struct kube_client       *kc;
	struct live              *live;
	struct informers         *inf;
	struct claimstore        *cs;         /* durable first-come claims */
	struct reconciler        *rec;        /* tenant objects (leader only writes) */
	struct auditor           *aud;        /* periodic audit of the caches */
	struct defaultclass      *dc;         /* is the cluster's default IngressClass the entry's */
	_Atomic(struct informers *) inf_pub;  /* `inf` for other threads, once started */
	pthread_t                 main_thread;
	/* Tenant changes seen by the informer, and how many of them the config reflects: the
	 * live state is current only when both agree (a Tenant's reservations are policy). */
	atomic_uint               tenants_wanted, tenants_loaded;
	struct strmap            *tenant_gens;    /* Tenant informer thread: name -> generation */
	char                     *tenants_seen;   /* main thread: what the config was built from */
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
snapshot_get(struct process *s)
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
snapshot_install(struct process *s, struct state *st)
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
tenant_changed(struct process *s, const char *type, const json_t *obj)
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

/* The IngressClasses against the installed config (defaultclass_check). */
static void
default_class_check(struct process *s, const char *type)
{
	struct snapshot *sn = snapshot_get(s);

	defaultclass_check(s->dc, s->live, sn != NULL ? sn->cref->cfg : NULL, type);
	snapshot_put(sn);
}

/*
 * Informer notifications: Tenant changes wake the main thread to rebuild the config (and
 * until it has, the live state is not current); every change goes to the reconciler.
 */
static void
live_notify(void *arg, const char *kind, const char *type, const json_t *obj)
{
	struct process *s = arg;

	if (strcmp(kind, "Tenant") == 0 && tenant_changed(s, type, obj)) {
		atomic_fetch_add(&s->tenants_wanted, 1);
		pthread_kill(s->main_thread, SIGUSR1);
	}
	reconciler_notify(s->rec, kind, type, obj);
	if (strcmp(kind, "IngressClass") == 0)
		default_class_check(s, type);
	if (strcmp(type, "LISTED") == 0)
		auditor_kick(s->aud);   /* a full resync: audit what it brought */
}

/*
 * Whether decisions may rest on the live state: every informer has listed, and the config
 * has every Tenant change the informer has seen (else a Tenant's reservations could be missing
 * for a moment: fail closed). Reviews, /readyz, the claim reaper and the reconciler ask this.
 */
static bool
live_current(struct process *s)
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

/* The auditor's hooks: the reconciler's leader writes status; the config of the snapshot. */
static bool
audit_leading(void *arg)
{
	return reconciler_leading(((struct process *)arg)->rec);
}

static const struct config *
audit_config_get(void *arg, void **ref)
{
	struct snapshot *sn = snapshot_get(arg);
	*ref = sn;
	return sn != NULL ? sn->cref->cfg : NULL;
}

static void
audit_config_put(void *ref)
{
	snapshot_put(ref);
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
reload(struct process *s, bool force, unsigned *want)
{
	const char *cpath = s->opts->config_path, *spath = s->opts->state_path;
	const char *cname = cpath != NULL ? cpath : "(built-in)";
	bool first = s->cref == NULL, cfg_changed = false, st_changed = false;
	struct config *cfg = NULL;
	struct state *st;
	char err[1024];

	if (cpath != NULL)
		cfg_changed = fileio_changed(cpath, &s->cfg_stamp);
	if (spath != NULL)
		st_changed = fileio_changed(spath, &s->state_stamp);
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
	st = spath != NULL ? statefile_load(s->cref->cfg, spath, err, sizeof(err)) : state_new();
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
	if (cfg != NULL && s->dc != NULL)
		default_class_check(s, NULL);   /* the entry class may have changed */
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
process_reload(struct process *s, bool force)
{
	unsigned want = atomic_load(&s->tenants_wanted);
	int rc = reload(s, force, &want);

	atomic_store(&s->tenants_loaded, want);
	return rc;
}

/*
 * The reaper's question (claimstore_reaper_start): does the live state hold exactly `pattern`
 * for `owner`? 1 or 0; -1 while it is not synced. pattern NULL: only whether it is synced.
 */
static int
claim_held(void *arg, const char *pattern, const char *owner)
{
	struct process *s = arg;
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
live_open(struct process *s)
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
	if ((s->live = live_new()) == NULL || (s->dc = defaultclass_new()) == NULL) {
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

/* ---- what the endpoint asks (server_hooks) ---- */

/* The live view, or the installed snapshot with a reference taken. */
static int
hook_view_begin(void *arg, struct server_view *v, const char **why)
{
	struct process *s = arg;
	struct live_view lv;
	struct snapshot *sn;

	if (s->live != NULL) {
		/* Fail closed until the cluster is known: an empty index would allow collisions. */
		if (!live_current(s) || live_read_begin(s->live, &lv) != 0) {
			*why = "cluster state not synced yet";
			return -1;
		}
		v->cfg = lv.cfg;
		v->st = lv.st;
		v->side = lv.side;
		return 0;
	}
	if ((sn = snapshot_get(s)) == NULL) {
		*why = "no config and state loaded";
		return -1;
	}
	v->cfg = sn->cref->cfg;
	v->st = sn->st;
	v->ref = sn;
	return 0;
}

static void
hook_view_end(void *arg, const struct server_view *v)
{
	struct process *s = arg;

	if (s->live != NULL) {
		struct live_view lv = { .cfg = v->cfg, .st = v->st, .side = v->side };

		live_read_end(s->live, &lv);
	} else {
		snapshot_put(v->ref);
	}
}

static const char *
hook_not_ready(void *arg)
{
	struct process *s = arg;
	struct snapshot *sn = snapshot_get(s);
	bool loaded = sn != NULL;

	snapshot_put(sn);
	if (!loaded)
		return "not ready: config and state not loaded\n";
	if (s->live != NULL && !live_current(s))
		return "not ready: cluster state not synced yet\n";
	return NULL;
}

/* One review's claims: the store, and the budget they share (claimstore_budget). */
struct claim_budget {
	struct claimstore *cs;
	struct timespec    deadline;
};

/* firstcome_claim_fn over the claim store. */
static enum firstcome_result
claim_durable(void *arg, const char *pattern, const char *owner, bool dry_run, char *err,
    size_t errsz)
{
	struct claim_budget *b = arg;

	return claimstore_claim(b->cs, pattern, owner, dry_run, &b->deadline, err, errsz);
}

/* review_after_fn: an allowed request's first-come claims made durable before it is allowed. */
static void
hook_claim_after(void *arg, const struct config *cfg, const struct request *req,
    struct decision *d)
{
	struct process *s = arg;
	struct claim_budget b = { .cs = s->cs };

	claimstore_budget(&b.deadline);
	firstcome_review(cfg, req, d, claim_durable, &b);
}

static void
hook_metrics_refresh(void *arg)
{
	struct process *s = arg;

	if (s->inf != NULL) {
		informers_metrics(s->inf);
		metrics_state(live_objects(s->live, NULL), live_claims(s->live));
		metrics_live_client(kube_client_requests(s->kc),
		    s->rec == NULL ? -1 : reconciler_leading(s->rec) ? 1 : 0);
	}
}

/* ---- start-up ---- */

int
process_run(const struct process_opts *o)
{
	struct process s = { .opts = o };
	struct server_opts so = {
		.listen = o->listen, .tls_cert = o->tls_cert, .tls_key = o->tls_key,
		.client_ca = o->client_ca, .threads = o->threads, .limits = o->limits,
		.body_max = o->body_max, .health_listen = o->health_listen,
	};
	struct server_hooks hooks = {
		.arg = &s, .view_begin = hook_view_begin, .view_end = hook_view_end,
		.not_ready = hook_not_ready, .metrics_refresh = hook_metrics_refresh,
	};
	char err[1024];
	struct sigaction ign;
	sigset_t sigs;
	int status = 1, sig;

	pthread_mutex_init(&s.snap_lock, NULL);

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

	if ((s.srv = server_new(&so)) == NULL)
		goto out;
	if ((o->kubeconfig != NULL || o->in_cluster) && live_open(&s) != 0)
		goto out;
	if (process_reload(&s, true) != 0)
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
		if (s.rec != NULL && o->fallback_policies)
			reconciler_fallback_policies(s.rec, o->fallback_excluded, o->n_fallback_excluded);
		struct auditor_hooks ah = { s.kc, s.live, live_synced, audit_leading,
			audit_config_get, audit_config_put, &s };
		if ((s.aud = auditor_start(&ah, err, sizeof(err))) == NULL) {
			log_warnx("audit: %s", err);
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
		hooks.after = hook_claim_after;
	}
	(void)declog_start(DECLOG_FLUSH_MS);   /* without its thread, lines go out at once */
	if (server_start(s.srv, &hooks) != 0)
		goto out;

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
		process_reload(&s, sig == SIGHUP);
		server_tls_reload(s.srv, sig == SIGHUP);
	}
	log_info("%s: draining %u requests in flight", sig == SIGTERM ? "SIGTERM" : "SIGINT",
	    server_active(s.srv));
	server_stop(s.srv, &sigs);
	log_info("stopped");
	status = 0;
out:
	/* The endpoint first: once it is gone no request reads the live copies. */
	server_free(s.srv);
	declog_stop();                  /* the workers are gone: their last lines are written */
	claimstore_reaper_stop(s.cs);   /* it reads them too */
	auditor_stop(s.aud);            /* it reads the caches and asks the reconciler */
	reconciler_stop(s.rec);         /* before the informers raise the client's stop flag */
	informers_stop(s.inf);
	live_free(s.live);
	defaultclass_free(s.dc);
	claimstore_free(s.cs);
	kube_client_free(s.kc);
	snapshot_put(s.snap);
	cref_put(s.cref);
	free(s.tenants_seen);
	strmap_free(s.tenant_gens);
	pthread_mutex_destroy(&s.snap_lock);
	return status;
}
