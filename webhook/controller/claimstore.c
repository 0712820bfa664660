/* SPDX-License-Identifier: Apache-2.0 */
/* claimstore: first-come host claims made durable in the apiserver before a review allows them. */
#include "claimstore.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "claims.h"
#include "host.h"
#include "jsonget.h"
#include "kube.h"
#include "log.h"
#include "psl.h"
#include "psl_load.h"
#include "monotime.h"
#include "strmap.h"

#define CLAIM_PREFIX   "tg-claim-"
#define WILD_ESCAPE    "_wild_."
#define CLAIM_ATTEMPTS 10        /* GET + write rounds before a busy domain is an error */
#define CLAIM_STRIPES  64
/* When each pattern of a claim ConfigMap was last claimed: a JSON object {data key: unix
 * seconds} in this annotation. The reaper leaves a pattern alone for the grace period after,
 * so a claim allowed a moment ago is not released before its object reaches the live state. */
#define CLAIMED_AT_KEY "tenantguard.io/claimed-at"

struct claimstore {
	struct kube_client *kc;
	struct psl         *psl;
	/* One claim of a registrable domain at a time in this process (overlapping patterns
	 * share their domain); domains hash onto CLAIM_STRIPES locks. */
	pthread_mutex_t     stripes[CLAIM_STRIPES];

	/* The reaper (claimstore_reaper_start): its thread and what it remembers. */
	int               (*holds)(void *arg, const char *pattern, const char *owner);
	void               *holds_arg;
	unsigned            interval_s, grace_s;
	struct strmap      *missing;  /* "cm\npattern\nowner" -> (void *)(first seen missing + 1) */
	pthread_t           reaper;
	bool                reaper_on;
	bool                reaper_stop;  /* under reaper_lock */
	pthread_mutex_t     reaper_lock;
	pthread_cond_t      reaper_cond;
};

/* The lock of registrable domain `reg`. */
static pthread_mutex_t *
stripe(struct claimstore *cs, const char *reg)
{
	return &cs->stripes[strmap_hash(reg, strlen(reg)) % CLAIM_STRIPES];
}

struct claimstore *
claimstore_new(struct kube_client *kc, const char *psl_file, char *err, size_t errsz)
{
	struct claimstore *cs = calloc(1, sizeof(*cs));
	if (cs == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	if ((cs->psl = psl_load(psl_file, err, errsz)) == NULL) {
		free(cs);
		return NULL;
	}
	cs->kc = kc;
	for (size_t i = 0; i < CLAIM_STRIPES; i++)
		pthread_mutex_init(&cs->stripes[i], NULL);
	pthread_mutex_init(&cs->reaper_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cs->reaper_cond, &ca);
	pthread_condattr_destroy(&ca);
	return cs;
}

void
claimstore_free(struct claimstore *cs)
{
	if (cs == NULL)
		return;
	claimstore_reaper_stop(cs);
	psl_free(cs->psl);
	for (size_t i = 0; i < CLAIM_STRIPES; i++)
		pthread_mutex_destroy(&cs->stripes[i]);
	pthread_mutex_destroy(&cs->reaper_lock);
	pthread_cond_destroy(&cs->reaper_cond);
	free(cs);
}

bool
claimstore_registrable(const struct claimstore *cs, const char *name, char *out, size_t outsz)
{
	return psl_registrable(cs->psl, name, out, outsz);
}

/* ConfigMap data key of a pattern, and back. */
static void
pattern_key(const char *pattern, char *out, size_t outsz)
{
	if (host_is_wildcard(pattern))
		snprintf(out, outsz, "%s%s", WILD_ESCAPE, pattern + 2);
	else
		snprintf(out, outsz, "%s", pattern);
}

static void
key_pattern(const char *key, char *out, size_t outsz)
{
	size_t n = sizeof(WILD_ESCAPE) - 1;
	if (strncmp(key, WILD_ESCAPE, n) == 0)
		snprintf(out, outsz, "*.%s", key + n);
	else
		snprintf(out, outsz, "%s", key);
}

enum claim_result { CLAIM_OK, CLAIM_COLLISION, CLAIM_ERROR };

/* Another owner's pattern in data that overlaps `pattern`? */
static bool
data_collides(const json_t *data, const char *pattern, const char *owner)
{
	const char *key;
	const json_t *v;
	char other[HOST_MAX + 8];
	json_object_foreach((json_t *)data, key, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), owner) == 0)
			continue;
		key_pattern(key, other, sizeof(other));
		if (host_overlap(other, pattern))
			return true;
	}
	return false;
}

/* The claimed-at map of a ConfigMap (new reference; an empty object when absent or unusable). */
static json_t *
claimed_at_get(const json_t *cm)
{
	const char *s = jsonget_str(jsonget_path(cm, "metadata.annotations"), CLAIMED_AT_KEY);
	json_t *m = s != NULL ? json_loads(s, JSON_REJECT_DUPLICATES, NULL) : NULL;
	if (json_is_object(m))
		return m;
	json_decref(m);
	return json_object();
}

/* Stores map `m` (borrowed) as the claimed-at annotation of cm. 0, or -1 out of memory. */
static int
claimed_at_put(json_t *cm, const json_t *m)
{
	json_t *meta = json_object_get(cm, "metadata"), *ann;
	char *text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	int rc = -1;
	if (text == NULL || !json_is_object(meta))
		goto out;
	ann = json_object_get(meta, "annotations");
	if (!json_is_object(ann)) {
		if ((ann = json_object()) == NULL || json_object_set_new(meta, "annotations", ann) != 0)
			goto out;
	}
	rc = json_object_set_new(ann, CLAIMED_AT_KEY, json_string(text));
out:
	free(text);
	return rc;
}

/* Records in cm that `key` was claimed now (wall clock: replicas compare it). */
static int
claimed_at_touch(json_t *cm, const char *key)
{
	json_t *m = claimed_at_get(cm);
	int rc = m == NULL || json_object_set_new(m, key, json_integer((json_int_t)time(NULL))) != 0 ?
	    -1 : claimed_at_put(cm, m);
	json_decref(m);
	return rc;
}

/*
 * Claims `pattern` for `owner` in ConfigMap `name`: GET it; 404 → create; another owner's
 * overlapping pattern → collision; else add the pattern with an update carrying the
 * resourceVersion. AlreadyExists and Conflict start over from the GET.
 */
/* Milliseconds left until `deadline` (CLOCK_MONOTONIC); 0 once it has passed. */
static long
budget_left(const struct timespec *deadline)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long)(deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? ms : 0;
}

void
claimstore_budget(struct timespec *deadline)
{
	clock_gettime(CLOCK_MONOTONIC, deadline);
	deadline->tv_sec += CLAIMSTORE_BUDGET_MS / 1000;
	deadline->tv_nsec += (CLAIMSTORE_BUDGET_MS % 1000) * 1000000L;
	if (deadline->tv_nsec >= 1000000000L) {
		deadline->tv_sec++;
		deadline->tv_nsec -= 1000000000L;
	}
}

/* kube_call within the review's claim budget; -1 with the reason once it is spent. */
static int
claim_call(struct claimstore *cs, const char *method, const char *path, const json_t *obj,
    const struct timespec *deadline, json_t **body, char *err, size_t errsz)
{
	struct kube_call_opts o = { .timeout_ms = budget_left(deadline) };

	*body = NULL;
	if (o.timeout_ms == 0) {
		snprintf(err, errsz, "no answer within the claim budget of %d ms", CLAIMSTORE_BUDGET_MS);
		return -1;
	}
	return kube_call(cs->kc, method, path, obj, &o, body, err, errsz);
}

static enum claim_result
claim_one(struct claimstore *cs, const char *name, const char *pattern, const char *owner,
    bool dry_run, const struct timespec *deadline, char *err, size_t errsz)
{
	char path[512], coll[128], key[HOST_MAX + 16];
	snprintf(coll, sizeof(coll), "/api/v1/namespaces/%s/configmaps", CLAIMSTORE_NAMESPACE);
	snprintf(path, sizeof(path), "%s/%s", coll, name);
	pattern_key(pattern, key, sizeof(key));

	for (int attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
		json_t *body = NULL, *resp = NULL;
		int st = claim_call(cs, "GET", path, NULL, deadline, &body, err, errsz);
		if (st == 404) {
			json_decref(body);
			if (dry_run)
				return CLAIM_OK;
			json_t *cm = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s}}",
			    "apiVersion", "v1", "kind", "ConfigMap",
			    "metadata", "name", name, "namespace", CLAIMSTORE_NAMESPACE,
			    "labels", "app.kubernetes.io/managed-by", "tenantguard",
			    "data", key, owner);
			if (cm == NULL || claimed_at_touch(cm, key) != 0) {
				json_decref(cm);
				snprintf(err, errsz, "out of memory");
				return CLAIM_ERROR;
			}
			st = claim_call(cs, "POST", coll, cm, deadline, &resp, err, errsz);
			json_decref(cm);
			json_decref(resp);
			if (st == 201 || st == 200)
				return CLAIM_OK;
			if (st == 409)
				continue;   /* created by someone else meanwhile: read theirs */
			return CLAIM_ERROR;
		}
		if (st != 200 || !json_is_object(body)) {
			json_decref(body);
			if (st == 200)
				snprintf(err, errsz, "GET ConfigMap %s: not a JSON object", name);
			return CLAIM_ERROR;
		}
		json_t *data = json_object_get(body, "data");
		if (data != NULL && !json_is_object(data)) {
			json_decref(body);
			snprintf(err, errsz, "ConfigMap %s: data is not an object", name);
			return CLAIM_ERROR;
		}
		if (data != NULL && data_collides(data, pattern, owner)) {
			json_decref(body);
			return CLAIM_COLLISION;
		}
		const char *held = data != NULL ? jsonget_str(data, key) : NULL;
		/*
		 * A re-claim gets here only when the live state does not hold the claim yet (see
		 * claimstore_claim): then a release round could be about to remove it, and the
		 * fresh claimed-at time (and the write's new resourceVersion, which fails that
		 * round's update) keeps it. Without a reaper nothing is released: no write.
		 */
		if (dry_run || (held != NULL && strcmp(held, owner) == 0 && cs->holds == NULL)) {
			json_decref(body);
			return CLAIM_OK;   /* a re-claim, or a dry run that would succeed */
		}
		if (data == NULL) {
			if ((data = json_object()) == NULL || json_object_set_new(body, "data", data) != 0) {
				json_decref(body);
				snprintf(err, errsz, "out of memory");
				return CLAIM_ERROR;
			}
		}
		if (json_object_set_new(data, key, json_string(owner)) != 0 ||
		    claimed_at_touch(body, key) != 0) {
			json_decref(body);
			snprintf(err, errsz, "out of memory");
			return CLAIM_ERROR;
		}
		st = claim_call(cs, "PUT", path, body, deadline, &resp, err, errsz);
		json_decref(body);
		json_decref(resp);
		if (st == 200)
			return CLAIM_OK;
		if (st == 409 || st == 404)
			continue;   /* changed or deleted since the GET: decide again */
		return CLAIM_ERROR;
	}
	snprintf(err, errsz, "ConfigMap %s: still conflicting after %d attempts", name,
	    CLAIM_ATTEMPTS);
	return CLAIM_ERROR;
}

enum firstcome_result
claimstore_claim(struct claimstore *cs, const char *pattern, const char *owner, bool dry_run,
    const struct timespec *deadline, char *err, size_t errsz)
{
	char reg[HOST_MAX], name[HOST_MAX + 16];
	enum claim_result r;
	struct timespec until;
	long left;

	/*
	 * The owner's live objects hold exactly this pattern already (an update of an existing
	 * Ingress, a re-apply): every replica's index has it, the reaper keeps it, and any other
	 * owner's overlapping claim is refused by the index — no request.
	 */
	if (cs->holds != NULL && cs->holds(cs->holds_arg, pattern, owner) == 1)
		return FIRSTCOME_WON;
	if (!claimstore_registrable(cs, host_is_wildcard(pattern) ? pattern + 2 : pattern, reg,
	    sizeof(reg)))
		return FIRSTCOME_PUBLIC_SUFFIX;
	snprintf(name, sizeof(name), "%s%s", CLAIM_PREFIX, reg);
	pthread_mutex_t *lock = stripe(cs, reg);
	/* Another review of the same domain may be stuck in a hanging write: wait no longer
	 * than this review's own budget (timedlock takes CLOCK_REALTIME). */
	left = budget_left(deadline);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += left / 1000;
	until.tv_nsec += (left % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	if (pthread_mutex_timedlock(lock, &until) != 0) {
		snprintf(err, errsz, "another claim under %s held its lock for the whole budget of "
		    "%d ms", reg, CLAIMSTORE_BUDGET_MS);
		r = CLAIM_ERROR;
	} else {
		r = claim_one(cs, name, pattern, owner, dry_run, deadline, err, errsz);
		pthread_mutex_unlock(lock);
	}
	if (r == CLAIM_ERROR)
		log_warnx("claim of host '%s' for %s in %s/%s failed: %s", pattern, owner,
		    CLAIMSTORE_NAMESPACE, name, err);
	return r == CLAIM_OK ? FIRSTCOME_WON : r == CLAIM_COLLISION ? FIRSTCOME_LOST :
	    FIRSTCOME_ERROR;
}

/* ---- release ----------------------------------------------------------------------------- */

static int
collect_item(const json_t *obj, void *arg)
{
	return json_array_append((json_t *)arg, (json_t *)obj) == 0 ? 0 : -1;
}

/*
 * One ConfigMap of a round: every (pattern, owner) the live state does not hold goes into
 * `next` with the time it was first seen missing (from cs->missing); those missing for longer
 * than the grace period are removed in one update. -1 only when out of memory.
 */
static int
reap_one(struct claimstore *cs, json_t *cm, struct strmap *next, time_t now)
{
	const char *name = jsonget_str(json_object_get(cm, "metadata"), "name");
	json_t *data = json_object_get(cm, "data");
	const char *key;
	json_t *v;
	char pattern[HOST_MAX + 8], mkey[2 * HOST_MAX + 400];
	json_t *drop = NULL, *claimed_at;
	time_t wall = time(NULL);
	int rc = 0;

	if (name == NULL || strncmp(name, CLAIM_PREFIX, sizeof(CLAIM_PREFIX) - 1) != 0 ||
	    !json_is_object(data))
		return 0;
	if ((claimed_at = claimed_at_get(cm)) == NULL)
		return -1;
	json_object_foreach(data, key, v) {
		if (!json_is_string(v))
			continue;
		const char *owner = json_string_value(v);
		key_pattern(key, pattern, sizeof(pattern));
		if (cs->holds(cs->holds_arg, pattern, owner) != 0)
			continue;   /* held (a claim that reappeared is not carried into `next`) */
		snprintf(mkey, sizeof(mkey), "%s\n%s\n%s", name, pattern, owner);
		uintptr_t first = (uintptr_t)strmap_get(cs->missing, mkey);
		if (first == 0)
			first = (uintptr_t)now + 1;
		if (strmap_set(next, mkey, (void *)first) != 0) {
			rc = -1;
			goto out;
		}
		if (now - (time_t)(first - 1) < (time_t)cs->grace_s)
			continue;
		json_int_t at = json_integer_value(json_object_get(claimed_at, key));
		if (at > 0 && wall - (time_t)at < (time_t)cs->grace_s)
			continue;   /* (re-)claimed lately: its object may not be live yet */
		if ((drop == NULL && (drop = json_array()) == NULL) ||
		    json_array_append_new(drop, json_string(key)) != 0) {
			rc = -1;
			goto out;
		}
	}
	if (drop == NULL)
		goto out;

	char path[512], err[1024] = "";
	json_t *resp = NULL;
	size_t i;
	json_array_foreach(drop, i, v) {
		json_object_del(data, json_string_value(v));
		json_object_del(claimed_at, json_string_value(v));
	}
	if (claimed_at_put(cm, claimed_at) != 0) {
		rc = -1;
		goto out;
	}
	json_object_del(cm, "status");
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", CLAIMSTORE_NAMESPACE,
	    name);
	pthread_mutex_t *lock = stripe(cs, name + sizeof(CLAIM_PREFIX) - 1);
	struct timespec deadline;
	/*
	 * Within a review's budget too: reviews of the domain wait for this lock, and a release
	 * the apiserver leaves hanging must not hold them up past theirs (kube_call's own 60 s).
	 */
	pthread_mutex_lock(lock);
	claimstore_budget(&deadline);
	int st = claim_call(cs, "PUT", path, cm, &deadline, &resp, err, sizeof(err));
	pthread_mutex_unlock(lock);
	json_decref(resp);
	if (st == 200) {
		json_array_foreach(drop, i, v) {
			key_pattern(json_string_value(v), pattern, sizeof(pattern));
			log_info("claim of host '%s' released from %s/%s: no live object has held it "
			    "for %u s", pattern, CLAIMSTORE_NAMESPACE, name, cs->grace_s);
		}
	} else if (st == 409) {
		log_info("claim release in %s/%s: changed meanwhile, retried next round",
		    CLAIMSTORE_NAMESPACE, name);
	} else if (st != 404) {
		log_warnx("claim release in %s/%s failed (HTTP %d): %s", CLAIMSTORE_NAMESPACE, name,
		    st, err);
	}
out:
	json_decref(drop);
	json_decref(claimed_at);
	return rc;
}

/* One round: list, compare with the live state, release. */
static void
reap_round(struct claimstore *cs)
{
	char path[512], rv[128], err[1024] = "";
	json_t *items = json_array(), *cm;
	struct strmap *next = NULL;
	size_t i;

	if (items == NULL)
		return;
	/* Not before the live state is ready: everything would look missing. */
	if (cs->holds(cs->holds_arg, NULL, NULL) < 0)
		goto out;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps?labelSelector="
	    "app.kubernetes.io%%2Fmanaged-by%%3Dtenantguard", CLAIMSTORE_NAMESPACE);
	if (kube_list(cs->kc, path, collect_item, items, rv, sizeof(rv), err, sizeof(err)) != KUBE_OK) {
		log_warnx("claim release: listing %s ConfigMaps: %s", CLAIMSTORE_NAMESPACE, err);
		goto out;
	}
	if ((next = strmap_new()) == NULL)
		goto out;
	time_t now = (time_t)monotime_s();
	json_array_foreach(items, i, cm) {
		if (reap_one(cs, cm, next, now) != 0) {
			strmap_free(next);
			goto out;
		}
	}
	strmap_free(cs->missing);
	cs->missing = next;
out:
	json_decref(items);
}

static void *
reaper_main(void *arg)
{
	struct claimstore *cs = arg;
	pthread_mutex_lock(&cs->reaper_lock);
	while (!cs->reaper_stop) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += cs->interval_s;
		while (!cs->reaper_stop &&
		    pthread_cond_timedwait(&cs->reaper_cond, &cs->reaper_lock, &until) == 0)
			;
		if (cs->reaper_stop)
			break;
		pthread_mutex_unlock(&cs->reaper_lock);
		reap_round(cs);
		pthread_mutex_lock(&cs->reaper_lock);
	}
	pthread_mutex_unlock(&cs->reaper_lock);
	return NULL;
}

int
claimstore_reaper_start(struct claimstore *cs,
    int (*holds)(void *arg, const char *pattern, const char *owner), void *arg,
    unsigned interval_s, unsigned grace_s, char *err, size_t errsz)
{
	if (cs->reaper_on) {
		snprintf(err, errsz, "claim reaper already running");
		return -1;
	}
	if ((cs->missing = strmap_new()) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	cs->holds = holds;
	cs->holds_arg = arg;
	cs->interval_s = interval_s != 0 ? interval_s : 1;
	cs->grace_s = grace_s;
	cs->reaper_stop = false;
	int rc = pthread_create(&cs->reaper, NULL, reaper_main, cs);
	if (rc != 0) {
		strmap_free(cs->missing);
		cs->missing = NULL;
		snprintf(err, errsz, "claim reaper thread: %s", strerror(rc));
		return -1;
	}
	cs->reaper_on = true;
	return 0;
}

void
claimstore_reaper_stop(struct claimstore *cs)
{
	if (cs == NULL || !cs->reaper_on)
		return;
	pthread_mutex_lock(&cs->reaper_lock);
	cs->reaper_stop = true;
	pthread_cond_signal(&cs->reaper_cond);
	pthread_mutex_unlock(&cs->reaper_lock);
	pthread_join(cs->reaper, NULL);
	cs->reaper_on = false;
	strmap_free(cs->missing);
	cs->missing = NULL;
}
