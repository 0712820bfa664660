/* SPDX-License-Identifier: Apache-2.0 */
/* leader: leader election on a coordination.k8s.io/v1 Lease, one thread per candidate. */
#include "leader.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jsonget.h"
#include "kube.h"
#include "log.h"
#include "monotime.h"

#define LEADER_LEASE_S      15
#define LEADER_RENEW_S      10
#define LEADER_RETRY_MS     2000
#define LEADER_POLL_MS      100    /* the stop flag and the deadline are looked at this often */
#define LEADER_ID_MAX       256
#define LEADER_API          "/apis/coordination.k8s.io/v1/namespaces/"

enum { TRY_ERROR = -1, TRY_OTHER = 0, TRY_HOLD = 1 };

struct leader {
	struct kube_client *kc;
	char *ns, *name, *identity;
	char *coll, *path;             /* the namespace's Leases; our Lease */
	unsigned lease_s;
	int64_t renew_ms, retry_ms;
	void (*on_change)(bool leading, void *arg);
	void *arg;
	pthread_t thread;
	volatile int stop;
	atomic_bool leading;
	_Atomic int64_t deadline;      /* CLOCK_MONOTONIC ms: leading only before it */

	/* The thread's own. */
	bool lead;                     /* what on_change was last told */
	json_t *mine;                  /* the Lease as our last successful write left it */
	char seen_rv[128];             /* the record last seen, and when we first saw it */
	int64_t seen_at;
	char holder[LEADER_ID_MAX];    /* its holder, "" when none */
	unsigned seed;
};

/* The wall-clock time as a Kubernetes MicroTime: "2026-11-27T16:00:00.000000Z". */
static void
micro_time(char *out, size_t outsz)
{
	struct timespec ts;
	struct tm tm;
	char base[24];   /* "2026-11-27T16:00:00" */

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outsz, "%s.%06dZ", base, (int)(ts.tv_nsec / 1000 % 1000000));
}

/* A DNS-1123 name, so that it goes into a URL as it is. */
static bool
dns_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 253 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789.-") == n;
}

/* Notes the record seen; a new resourceVersion restarts the clock of its expiry. */
static void
seen(struct leader *l, const json_t *lease)
{
	const char *rv = jsonget_str(json_object_get(lease, "metadata"), "resourceVersion");
	const char *holder = jsonget_str(json_object_get(lease, "spec"), "holderIdentity");

	if (rv == NULL)
		rv = "";
	if (strcmp(rv, l->seen_rv) != 0) {
		snprintf(l->seen_rv, sizeof(l->seen_rv), "%s", rv);
		l->seen_at = monotime_ms();
	}
	snprintf(l->holder, sizeof(l->holder), "%s", holder ? holder : "");
}

/* After a successful write of ours: `lease` (borrowed) is what the apiserver stored. */
static void
wrote(struct leader *l, json_t *lease)
{
	json_decref(l->mine);
	l->mine = json_incref(lease);
	seen(l, lease);
}

/*
 * The Lease to write to hold it from now on: `base` (borrowed; NULL: a new Lease) with us
 * as its holder. acquireTime and leaseTransitions change only when the holder does.
 * New reference, NULL when out of memory.
 */
static json_t *
lease_held(struct leader *l, const json_t *base)
{
	char now[40];
	json_t *o, *spec;

	micro_time(now, sizeof(now));
	if (base != NULL)
		o = json_deep_copy(base);
	else
		o = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "coordination.k8s.io/v1",
		    "kind", "Lease", "metadata", "name", l->name, "namespace", l->ns);
	if (o == NULL)
		return NULL;
	spec = json_object_get(o, "spec");
	if (!json_is_object(spec)) {
		spec = json_object();
		if (json_object_set_new(o, "spec", spec) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	const char *holder = jsonget_str(spec, "holderIdentity");
	bool ours = holder != NULL && strcmp(holder, l->identity) == 0;
	json_int_t transitions = json_integer_value(json_object_get(spec, "leaseTransitions"));
	int rc = 0;

	if (!ours || json_object_get(spec, "acquireTime") == NULL)
		rc |= json_object_set_new(spec, "acquireTime", json_string(now));
	if (!ours)
		rc |= json_object_set_new(spec, "leaseTransitions",
		    json_integer(base != NULL ? transitions + 1 : 0));
	rc |= json_object_set_new(spec, "holderIdentity", json_string(l->identity));
	rc |= json_object_set_new(spec, "leaseDurationSeconds", json_integer(l->lease_s));
	rc |= json_object_set_new(spec, "renewTime", json_string(now));
	if (rc != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The Lease `base` (borrowed) given up: no holder, expiring in a second. New reference. */
static json_t *
lease_released(const json_t *base)
{
	char now[40];
	json_t *o = json_deep_copy(base), *spec = json_object_get(o, "spec");

	if (o == NULL || !json_is_object(spec)) {
		json_decref(o);
		return NULL;
	}
	micro_time(now, sizeof(now));
	json_object_del(spec, "holderIdentity");
	if (json_object_set_new(spec, "leaseDurationSeconds", json_integer(1)) != 0 ||
	    json_object_set_new(spec, "acquireTime", json_string(now)) != 0 ||
	    json_object_set_new(spec, "renewTime", json_string(now)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* How long one request may take: while leading, no longer than our deadline. */
static long
call_timeout(struct leader *l)
{
	if (!l->lead)
		return (long)l->renew_ms;
	int64_t left = atomic_load(&l->deadline) - monotime_ms();
	return left > 0 ? (long)left : 1;
}

/* PUTs `next` (taken) over our Lease; 200 makes it ours (wrote). Returns the status. */
static int
put_lease(struct leader *l, json_t *next, const struct kube_call_opts *o, char *err,
    size_t errsz)
{
	json_t *resp = NULL;
	int st;

	if (next == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	st = kube_call(l->kc, "PUT", l->path, next, o, &resp, err, errsz);
	if (st == 200 && !json_is_object(resp)) {
		snprintf(err, errsz, "PUT %s: an answer without the Lease", l->path);
		st = -1;
	}
	if (st == 200)
		wrote(l, resp);
	json_decref(resp);
	json_decref(next);
	return st;
}

/*
 * One attempt to acquire or renew, as client-go's tryAcquireOrRenew. TRY_HOLD: the Lease is
 * ours now; TRY_OTHER: another holds it (l->holder says who) or won a race; TRY_ERROR: err
 * says why.
 */
static int
attempt(struct leader *l, char *err, size_t errsz)
{
	struct kube_call_opts o = { .stop = &l->stop, .timeout_ms = call_timeout(l) };
	json_t *cur = NULL, *resp = NULL;
	int st, rc = TRY_ERROR;

	/* While leading, renew on top of our own last write: one request, no GET. */
	if (l->lead && l->mine != NULL) {
		st = put_lease(l, lease_held(l, l->mine), &o, err, errsz);
		if (st == 200)
			return TRY_HOLD;
		if (st < 0)
			return TRY_ERROR;
		json_decref(l->mine);   /* stale: someone else wrote; look first */
		l->mine = NULL;
		o.timeout_ms = call_timeout(l);
	}

	st = kube_call(l->kc, "GET", l->path, NULL, &o, &cur, err, errsz);
	if (st == 404) {
		json_t *next = lease_held(l, NULL);
		if (next == NULL) {
			snprintf(err, errsz, "out of memory");
			goto out;
		}
		st = kube_call(l->kc, "POST", l->coll, next, &o, &resp, err, errsz);
		json_decref(next);
		if (st == 201 && json_is_object(resp)) {
			wrote(l, resp);
			rc = TRY_HOLD;
		} else if (st == 409) {
			l->holder[0] = '\0';   /* created by another meanwhile: we will see whom */
			rc = TRY_OTHER;
		}
		goto out;
	}
	if (st != 200 || !json_is_object(cur))
		goto out;
	seen(l, cur);
	json_int_t dur = json_integer_value(json_object_get(json_object_get(cur, "spec"),
	    "leaseDurationSeconds"));
	if (l->holder[0] != '\0' && strcmp(l->holder, l->identity) != 0 &&
	    monotime_ms() - l->seen_at < (int64_t)dur * 1000) {
		rc = TRY_OTHER;
		goto out;
	}
	o.timeout_ms = call_timeout(l);
	st = put_lease(l, lease_held(l, cur), &o, err, errsz);
	rc = st == 200 ? TRY_HOLD : st == 409 ? TRY_OTHER : TRY_ERROR;
out:
	json_decref(cur);
	json_decref(resp);
	return rc;
}

static void
notify(struct leader *l, bool leading)
{
	if (l->on_change != NULL)
		l->on_change(leading, l->arg);
}

/* We no longer lead: said before anything else happens, so no one overlaps with us. */
static void
lose(struct leader *l, const char *why)
{
	l->lead = false;
	atomic_store(&l->leading, false);
	json_decref(l->mine);
	l->mine = NULL;
	log_info("leader: lost lease %s/%s as %s: %s", l->ns, l->name, l->identity, why);
	notify(l, false);
}

/* Sleeps about `ms` in short steps, leaving when stopped or, while leading, at the deadline. */
static void
nap(struct leader *l, int64_t ms)
{
	int64_t end = monotime_ms() + ms;

	while (!l->stop) {
		int64_t now = monotime_ms(), step = end - now;
		if (l->lead && now >= atomic_load(&l->deadline)) {
			lose(l, "no renewal within the renew deadline");
			return;
		}
		if (step <= 0)
			return;
		if (step > LEADER_POLL_MS)
			step = LEADER_POLL_MS;
		if (l->lead && atomic_load(&l->deadline) - now < step)
			step = atomic_load(&l->deadline) - now;
		struct timespec ts = { 0, (long)step * 1000000L };
		nanosleep(&ts, NULL);
	}
}

/*
 * Steps down at leader_stop: on_change(false) first (when we lead), then the Lease goes to
 * no one, guarded by its resourceVersion. A write of ours cut short by the stop may have
 * been done, so on a conflict we look once more and release what is still ours.
 */
static void
step_down(struct leader *l)
{
	struct kube_call_opts o = { .timeout_ms = (long)l->renew_ms };
	char err[1024];
	json_t *cur = NULL;
	int st = -1;

	if (l->lead) {
		l->lead = false;
		atomic_store(&l->leading, false);
		notify(l, false);
	}
	if (l->mine != NULL)
		st = put_lease(l, lease_released(l->mine), &o, err, sizeof(err));
	if (st == 409 || l->mine == NULL) {
		st = kube_call(l->kc, "GET", l->path, NULL, &o, &cur, err, sizeof(err));
		const char *holder = jsonget_str(json_object_get(cur, "spec"), "holderIdentity");
		if (st == 200 && holder != NULL && strcmp(holder, l->identity) == 0)
			st = put_lease(l, lease_released(cur), &o, err, sizeof(err));
		else if (st == 200) {
			st = 0;
			snprintf(err, sizeof(err), "held by %s meanwhile", holder ? holder : "no one");
		}
		json_decref(cur);
	}
	if (st == 200)
		log_info("leader: released lease %s/%s as %s", l->ns, l->name, l->identity);
	else
		log_warnx("leader: released lease %s/%s as %s without writing it (%s); it expires "
		    "in %u s", l->ns, l->name, l->identity, err, l->lease_s);
}

static void *
leader_main(void *arg)
{
	struct leader *l = arg;
	char err[1024], last_err[1024] = "", last_holder[LEADER_ID_MAX] = "";

	while (!l->stop) {
		int64_t t0 = monotime_ms();

		err[0] = '\0';
		int rc = attempt(l, err, sizeof(err));
		if (l->stop) {
			if (rc == TRY_HOLD && !l->lead)
				step_down(l);   /* won just now: give it back unannounced */
			break;
		}
		if (rc == TRY_HOLD) {
			/* Others count from when they see this write: later than t0. */
			atomic_store(&l->deadline, t0 + l->renew_ms);
			last_err[0] = '\0';
			if (!l->lead) {
				l->lead = true;
				atomic_store(&l->leading, true);
				log_info("leader: acquired lease %s/%s as %s", l->ns, l->name, l->identity);
				notify(l, true);
			}
		} else {
			if (rc == TRY_ERROR && strcmp(err, last_err) != 0) {
				log_warnx("leader: lease %s/%s: %s", l->ns, l->name, err);
				snprintf(last_err, sizeof(last_err), "%s", err);
			} else if (rc == TRY_OTHER) {
				last_err[0] = '\0';   /* the apiserver answered: log the next error */
			}
			if (rc == TRY_OTHER && l->holder[0] != '\0' &&
			    strcmp(l->holder, l->identity) != 0) {
				if (l->lead) {
					char why[LEADER_ID_MAX + 32];
					snprintf(why, sizeof(why), "now held by %s", l->holder);
					lose(l, why);
				} else if (strcmp(l->holder, last_holder) != 0) {
					log_info("leader: lease %s/%s is held by %s", l->ns, l->name,
					    l->holder);
				}
				snprintf(last_holder, sizeof(last_holder), "%s", l->holder);
			}
		}
		/* Candidates that started together should not keep asking together. */
		int64_t ms = l->lead ? l->retry_ms :
		    l->retry_ms + l->retry_ms * (rand_r(&l->seed) % 200) / 1000;
		nap(l, ms);
	}
	if (l->lead)
		step_down(l);
	return NULL;
}

/* Frees l and what it owns (no thread may be running). NULL is fine. */
static void
leader_free(struct leader *l)
{
	if (l == NULL)
		return;
	json_decref(l->mine);
	free(l->ns);
	free(l->name);
	free(l->identity);
	free(l->coll);
	free(l->path);
	free(l);
}

struct leader *
leader_start(struct kube_client *kc, const char *ns, const char *name, const char *identity,
    const struct leader_opts *opts, void (*on_change)(bool leading, void *arg), void *arg,
    char *err, size_t errsz)
{
	struct leader_opts o = opts ? *opts : (struct leader_opts){ 0 };
	struct leader *l;

	if (o.lease_seconds == 0)
		o.lease_seconds = LEADER_LEASE_S;
	if (o.renew_deadline_seconds == 0)
		o.renew_deadline_seconds = LEADER_RENEW_S;
	if (o.retry_ms == 0)
		o.retry_ms = LEADER_RETRY_MS;
	if (!dns_name(ns) || !dns_name(name)) {
		snprintf(err, errsz, "leader: lease \"%s/%s\": not a namespace and a name", ns, name);
		return NULL;
	}
	if (identity[0] == '\0' || strlen(identity) >= LEADER_ID_MAX) {
		snprintf(err, errsz, "leader: the identity must have 1 to %d characters",
		    LEADER_ID_MAX - 1);
		return NULL;
	}
	if (o.lease_seconds <= o.renew_deadline_seconds ||
	    (uint64_t)o.renew_deadline_seconds * 1000 * 10 <= (uint64_t)o.retry_ms * 12 ||
	    o.lease_seconds > 86400) {
		snprintf(err, errsz, "leader: lease %u s, renew deadline %u s, retry %u ms: the lease "
		    "must outlast the renew deadline, which must exceed 1.2 retry periods",
		    o.lease_seconds, o.renew_deadline_seconds, o.retry_ms);
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL)
		goto nomem;
	l->kc = kc;
	l->lease_s = o.lease_seconds;
	l->renew_ms = (int64_t)o.renew_deadline_seconds * 1000;
	l->retry_ms = o.retry_ms;
	l->on_change = on_change;
	l->arg = arg;
	l->seed = (unsigned)time(NULL) ^ (unsigned)getpid() ^ (unsigned)(uintptr_t)l;
	atomic_init(&l->leading, false);
	atomic_init(&l->deadline, 0);
	l->ns = strdup(ns);
	l->name = strdup(name);
	l->identity = strdup(identity);
	if (l->ns == NULL || l->name == NULL || l->identity == NULL)
		goto nomem;
	size_t n = strlen(LEADER_API) + strlen(ns) + strlen("/leases/") + strlen(name) + 1;
	if ((l->coll = malloc(n)) == NULL || (l->path = malloc(n)) == NULL)
		goto nomem;
	snprintf(l->coll, n, "%s%s/leases", LEADER_API, ns);
	snprintf(l->path, n, "%s/%s", l->coll, name);
	if (pthread_create(&l->thread, NULL, leader_main, l) != 0) {
		snprintf(err, errsz, "leader: cannot start a thread");
		goto fail;
	}
	return l;
nomem:
	snprintf(err, errsz, "leader: out of memory");
fail:
	leader_free(l);
	return NULL;
}

bool
leader_is(struct leader *l)
{
	return atomic_load(&l->leading) && monotime_ms() < atomic_load(&l->deadline);
}

void
leader_stop(struct leader *l)
{
	if (l == NULL)
		return;
	l->stop = 1;
	pthread_join(l->thread, NULL);
	leader_free(l);
}

void
leader_default_identity(char *out, size_t outsz)
{
	const char *pod = getenv("POD_NAME");
	char host[256];

	if (pod != NULL && pod[0] != '\0') {
		snprintf(out, outsz, "%s", pod);
		return;
	}
	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(out, outsz, "%s_%ld", host, (long)getpid());
}
