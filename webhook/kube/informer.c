/* SPDX-License-Identifier: Apache-2.0 */
/* informer: LIST then WATCH per resource, relist on 410, backoff on errors, into a live cache. */
#include "informer.h"

#include <jansson.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "claimfields.h"
#include "jsonget.h"
#include "kube.h"
#include "live.h"
#include "log.h"
#include "metrics.h"
#include "monotime.h"

#define INFORMER_WATCH_SECONDS     300   /* the server ends a watch after this; we resume */
#define INFORMER_DISCOVERY_RETRY_MS 30000 /* an absent API group is looked for again */

struct informers;

struct informer {
	struct informers *set;
	const char       *kind;
	char              path[192];     /* the collection, all namespaces */
	const char       *group;         /* "/apis/<group>" to discover a version in, or NULL */
	const char       *versions;      /* the group's versions to try, preferred first */
	const char       *resource;      /* the resource's name in the discovery document */
	char              group_path[128]; /* the version discovery found served */
	pthread_t         thread;
	bool              started;
	atomic_bool       synced;        /* the first full LIST is in, or discovery found none */
	_Atomic uint64_t  restarts;
	_Atomic int64_t   synced_at;     /* CLOCK_MONOTONIC seconds; 0: never */
	bool              progressed;    /* the current watch delivered an event */
	bool              failing;       /* the last watch failed: say when one works again */
	unsigned          seed;          /* backoff jitter, this thread's own */
};

#define N_INFORMERS 14
/* Only what tenantguard manages: its baseline, bridges, routes (tenants cannot set this label
 * on objects the managed-object rule guards, and a removed label reads as a deletion). */
#define MANAGED_SELECTOR "?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dtenantguard"

struct informers {
	struct kube_client *kc;
	struct live        *lv;
	informer_notify_fn  notify;
	void               *notify_arg;
	volatile int        stop;
	struct informer     inf[N_INFORMERS];
};

/* Sleeps `ms`, in 100 ms steps so a stop is noticed quickly. False when stopped. */
static bool
nap(struct informers *set, unsigned ms)
{
	struct timespec step = { 0, 100 * 1000 * 1000 };

	for (unsigned slept = 0; slept < ms && !set->stop; slept += 100)
		nanosleep(&step, NULL);
	return !set->stop;
}

static void
touched(struct informer *in)
{
	atomic_store(&in->synced_at, monotime_s());
}

/*
 * kube_list's item callback: each object into the relist `arg`, trimmed and encoded as the
 * cache keeps it, so a LIST of 100k objects holds their compact text, not every page's
 * trees (nor their managedFields and last-applied annotations) until the last page is in.
 */
static int
collect(const json_t *obj, void *arg)
{
	return live_relist_add(arg, obj);
}

/* kube_watch's event callback: the cache follows every event, one at a time. */
static int
on_event(const char *type, const json_t *obj, void *arg)
{
	struct informer *in = arg;
	char err[256];
	int rc = 0;

	if (in->failing)
		log_info("informer %s: watch resumed", in->kind);
	in->failing = false;
	in->progressed = true;

	if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0)
		rc = live_upsert(in->set->lv, obj, err, sizeof(err));
	else if (strcmp(type, "DELETED") == 0)
		rc = live_delete(in->set->lv, obj, err, sizeof(err));
	if (rc != 0)
		log_warnx("informer %s: %s event: %s", in->kind, type, err);
	else if (in->set->notify != NULL && strcmp(type, "BOOKMARK") != 0)
		in->set->notify(in->set->notify_arg, in->kind, type, obj);
	touched(in);
	return 0;
}

/* Whether the APIGroup document `group` lists version v (n bytes) as served. */
static bool
group_has_version(const json_t *group, const char *v, size_t n)
{
	const json_t *e;
	size_t i;

	json_array_foreach(json_object_get(group, "versions"), i, e) {
		const char *have = jsonget_str(e, "version");
		if (have != NULL && strlen(have) == n && memcmp(have, v, n) == 0)
			return true;
	}
	return false;
}

/*
 * Whether the API serves the resource in one of the informer's versions, the first served in
 * the order given (a cluster may serve only an older one: TLSRoute as v1alpha2 on older
 * experimental channels); sets path and group_path to it. One GET of the group document
 * (404: the group is not served), then one per version it lists. 1 yes, 0 no, -1 when
 * discovery failed (err).
 */
static int
discover(struct informer *in, char *err, size_t errsz)
{
	const char *v = in->versions;
	json_t *group = NULL;
	int status, rc = 0;

	status = kube_get(in->set->kc, in->group, &group, err, errsz);
	if (status != 200) {
		json_decref(group);
		return status == 404 ? 0 : -1;
	}
	while (*v != '\0' && rc == 0) {
		size_t n = strcspn(v, " ");

		if (group_has_version(group, v, n)) {
			snprintf(in->group_path, sizeof(in->group_path), "%s/%.*s", in->group, (int)n, v);
			rc = kube_served(in->set->kc, in->group_path, in->resource, err, errsz);
			if (rc == 1)
				snprintf(in->path, sizeof(in->path), "%s/%s", in->group_path, in->resource);
		}
		v += n + (v[n] == ' ');
	}
	json_decref(group);
	return rc;
}

/* The first full LIST or a relist: the cache's objects of this kind become the list's. */
static int
relist(struct informer *in, char *rv, size_t rvsz, char *err, size_t errsz)
{
	struct timespec t0, t1;
	struct live_relist *items = live_relist_new();
	int rc;

	if (items == NULL) {
		snprintf(err, errsz, "out of memory");
		return KUBE_ERROR;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = kube_list(in->set->kc, in->path, collect, items, rv, rvsz, err, errsz);
	if (rc == KUBE_OK && live_relist_apply(in->set->lv, in->kind, items, err, errsz) != 0)
		rc = KUBE_ERROR;
	if (rc == KUBE_OK) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		log_info("informer %s: %s %zu objects in %ld ms (resourceVersion %s)", in->kind,
		    atomic_load(&in->synced) ? "relisted" : "synced", live_relist_count(items),
		    (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000), rv);
		touched(in);
		/* Notify first: whoever waits for `synced` then also sees what the list changed. */
		if (in->set->notify != NULL)
			in->set->notify(in->set->notify_arg, in->kind, "LISTED", NULL);
		atomic_store(&in->synced, true);
	}
	live_relist_free(items);
	malloc_trim(0);   /* the pages' trees are freed: give their heap back */
	return rc;
}

static void *
informer_main(void *arg)
{
	struct informer *in = arg;
	struct informers *set = in->set;
	bool listed = false, discovered = in->group == NULL, absent_logged = false;
	unsigned attempt = 0;
	char rv[128] = "", err[1024];
	int rc;

	while (!set->stop) {
		if (!discovered) {
			rc = discover(in, err, sizeof(err));
			if (rc == 1) {
				discovered = true;
				log_info("informer %s: %s is served; listing it", in->kind, in->group_path);
				continue;
			}
			if (rc == 0) {
				/* Nothing to wait for: an absent API holds no objects. */
				atomic_store(&in->synced, true);
				if (!absent_logged)
					log_info("informer %s: %s (%s) not served (no CRD); looking again "
					    "every %d s", in->kind, in->group, in->versions,
					    INFORMER_DISCOVERY_RETRY_MS / 1000);
				absent_logged = true;
				nap(set, INFORMER_DISCOVERY_RETRY_MS);
			} else {
				log_warnx("informer %s: discovery: %s", in->kind, err);
				nap(set, kube_backoff_next(attempt++, &in->seed));
			}
			continue;
		}
		if (!listed) {
			rc = relist(in, rv, sizeof(rv), err, sizeof(err));
			if (rc == KUBE_OK) {
				listed = true;
				attempt = 0;
			} else if (rc == KUBE_GONE) {
				log_info("informer %s: list snapshot expired (410); listing again", in->kind);
			} else if (rc == KUBE_ERROR) {
				log_warnx("informer %s: list: %s", in->kind, err);
				nap(set, kube_backoff_next(attempt++, &in->seed));
				/* The served version may have changed (a CRD upgrade): look again. */
				discovered = in->group == NULL;
			}
			continue;
		}
		in->progressed = false;
		rc = kube_watch(set->kc, in->path, rv, sizeof(rv), INFORMER_WATCH_SECONDS, on_event,
		    in, &set->stop, err, sizeof(err));
		/* A watch that worked for a while ends the previous outage's backoff. */
		if (in->progressed)
			attempt = 0;
		switch (rc) {
		case KUBE_OK:       /* the server's timeout: resume where it stopped */
			touched(in);
			attempt = 0;
			break;
		case KUBE_GONE:
			atomic_fetch_add(&in->restarts, 1);
			log_info("informer %s: watch from resourceVersion %s expired (410); relisting",
			    in->kind, rv);
			listed = false;
			break;
		case KUBE_ERROR:
			atomic_fetch_add(&in->restarts, 1);
			log_warnx("informer %s: watch: %s; resuming from resourceVersion %s", in->kind,
			    err, rv);
			in->failing = true;
			nap(set, kube_backoff_next(attempt++, &in->seed));
			break;
		default:            /* KUBE_STOPPED */
			break;
		}
	}
	return NULL;
}

struct informers *
informers_start(struct kube_client *kc, struct live *lv, informer_notify_fn notify, void *arg)
{
	/* Gateway API and Istio kinds in every version their projects served, newest first. */
#define GWAPI "/apis/gateway.networking.k8s.io", "v1 v1beta1 v1alpha3 v1alpha2"
#define ISTIO "/apis/networking.istio.io", "v1 v1beta1 v1alpha3"
	static const struct {
		const char *kind, *path, *group, *versions, *resource;
	} defs[N_INFORMERS] = {
		{ "Ingress", "/apis/networking.k8s.io/v1/ingresses", NULL, NULL, NULL },
		{ "Namespace", "/api/v1/namespaces", NULL, NULL, NULL },
		{ "HTTPRoute", NULL, GWAPI, "httproutes" },
		/* Every other kind with a host-binding field (claimfields.h), when served. */
		{ "GRPCRoute", NULL, GWAPI, "grpcroutes" },
		{ "TLSRoute", NULL, GWAPI, "tlsroutes" },
		{ "Gateway", NULL, GWAPI, "gateways" },
		{ "ListenerSet", NULL, GWAPI, "listenersets" },
		{ "VirtualService", NULL, ISTIO, "virtualservices" },
		{ CLAIMFIELDS_ISTIO_GATEWAY, NULL, ISTIO, "gateways" },
		{ "Tenant", NULL, "/apis/tenantguard.io", "v1alpha1", "tenants" },
		/* Which class the cluster gives class-less Ingresses (defaultclass.h). */
		{ "IngressClass", NULL, "/apis/networking.k8s.io", "v1", "ingressclasses" },
		/* Every Service: the periodic audit judges them (service-type, -external-ips,
		 * -external-name); the reconciler still touches only its own (labelled). */
		{ "Service", "/api/v1/services", NULL, NULL, NULL },
		{ "NetworkPolicy", "/apis/networking.k8s.io/v1/networkpolicies" MANAGED_SELECTOR,
		  NULL, NULL, NULL },
		{ "ResourceQuota", "/api/v1/resourcequotas" MANAGED_SELECTOR, NULL, NULL, NULL },
	};
#undef GWAPI
#undef ISTIO
	struct informers *set = calloc(1, sizeof(*set));
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&seed;

	if (set == NULL)
		return NULL;
	set->kc = kc;
	set->lv = lv;
	set->notify = notify;
	set->notify_arg = arg;
	kube_client_set_stop(kc, &set->stop);
	for (size_t i = 0; i < N_INFORMERS; i++) {
		struct informer *in = &set->inf[i];

		in->set = set;
		in->kind = defs[i].kind;
		if (defs[i].path != NULL)
			snprintf(in->path, sizeof(in->path), "%s", defs[i].path);
		in->group = defs[i].group;
		in->versions = defs[i].versions;
		in->resource = defs[i].resource;
		in->seed = seed + (unsigned)i * 7919u;
		atomic_init(&in->synced, false);
		atomic_init(&in->restarts, 0);
		atomic_init(&in->synced_at, 0);
	}
	for (size_t i = 0; i < N_INFORMERS; i++) {
		if (pthread_create(&set->inf[i].thread, NULL, informer_main, &set->inf[i]) != 0) {
			log_warnx("informer %s: cannot start a thread", set->inf[i].kind);
			informers_stop(set);
			return NULL;
		}
		set->inf[i].started = true;
	}
	metrics_live_enable();
	return set;
}

bool
informers_synced(struct informers *set)
{
	for (size_t i = 0; i < N_INFORMERS; i++)
		if (!atomic_load(&set->inf[i].synced))
			return false;
	return true;
}

void
informers_metrics(struct informers *set)
{
	for (size_t i = 0; i < N_INFORMERS; i++) {
		struct informer *in = &set->inf[i];

		metrics_live_kind(in->kind, live_objects(set->lv, in->kind),
		    atomic_load(&in->restarts), atomic_load(&in->synced_at));
	}
	metrics_live_claims(live_claims(set->lv), informers_synced(set));
}

void
informers_stop(struct informers *set)
{
	if (set == NULL)
		return;
	set->stop = 1;
	for (size_t i = 0; i < N_INFORMERS; i++)
		if (set->inf[i].started)
			pthread_join(set->inf[i].thread, NULL);
	kube_client_set_stop(set->kc, NULL);
	free(set);
}
