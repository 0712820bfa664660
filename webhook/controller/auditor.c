/* SPDX-License-Identifier: Apache-2.0 */
/* auditor: one thread auditing the live caches on a timer, publishing what it finds. */
#include "auditor.h"

#include <jansson.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "config.h"
#include "kube.h"
#include "live.h"
#include "log.h"
#include "metrics.h"
#include "strmap.h"

#define TENANT_API "tenantguard.io/v1alpha1"

/*
 * The kinds the informers cache, which the audit reads: Services whole, Ingresses with their
 * annotations. Secrets are not cached (tls-secret, tls-secret-hosts are the CLI's).
 */
static const char *const kinds[] = { "Namespace", "Ingress", "HTTPRoute", "Service", "Tenant" };

struct auditor {
	struct auditor_hooks h;
	pthread_t            thread;
	pthread_mutex_t      lock;
	pthread_cond_t       cond;
	bool                 stop, kicked;
	struct strmap       *written;   /* the thread's: tenant -> status text last written */
};

/* Every cached object the rules look at, one array (new reference); NULL when out of memory. */
static json_t *
cached_objects(struct live *lv)
{
	json_t *all = json_array();
	for (size_t i = 0; all != NULL && i < sizeof(kinds) / sizeof(*kinds); i++) {
		json_t *some = live_list(lv, kinds[i], NULL);
		if (some == NULL || json_array_extend(all, some) != 0) {
			json_decref(some);
			json_decref(all);
			return NULL;
		}
		json_decref(some);
	}
	return all;
}

/* tenantguard_violations{tenant,rule}: one count per (tenant, rule) pair of the report. */
static void
publish_metrics(const struct audit_report *r, double seconds)
{
	struct metrics_violation *v = calloc(r->n ? r->n : 1, sizeof(*v));
	size_t n = 0;

	if (v == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		size_t j;
		for (j = 0; j < n; j++)
			if (strcmp(v[j].tenant, r->v[i].tenant) == 0 &&
			    v[j].rule == r->v[i].rule)
				break;
		if (j == n)
			v[n++] = (struct metrics_violation){ r->v[i].tenant, r->v[i].rule, 0 };
		v[j].count++;
	}
	metrics_audit(v, n, (int64_t)time(NULL), seconds);
	free(v);
}

static void
status_forget(const char *key, void *value, void *arg)
{
	(void)key;
	(void)arg;
	free(value);
}

/* Applies Tenant `name`'s status.violations and violationCount when they changed. */
static void
write_status(struct auditor *a, const char *name, const struct audit_report *r)
{
	json_t *list = json_array(), *obj;
	size_t count = 0;
	char path[512], err[512];

	for (size_t i = 0; list != NULL && i < r->n; i++) {
		const struct audit_entry *e = &r->v[i];
		if (strcmp(e->tenant, name) != 0)
			continue;
		if (count++ < AUDITOR_STATUS_MAX)
			json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s}", "kind",
			    e->kind, "namespace", e->namespace, "name", e->name, "rule", ruleid_name(e->rule),
			    "message", e->message));
	}
	obj = json_pack("{s:s, s:s, s:{s:s}, s:{s:I, s:o}}", "apiVersion", TENANT_API, "kind",
	    "Tenant", "metadata", "name", name, "status", "violationCount", (json_int_t)count,
	    "violations", list);
	char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	const char *last = strmap_get(a->written, name);
	if (text == NULL || (last != NULL && strcmp(last, text) == 0)) {
		free(text);
		json_decref(obj);
		return;
	}
	snprintf(path, sizeof(path), "/apis/%s/tenants/%s/status", TENANT_API, name);
	json_t *body = NULL;
	int code = kube_apply(a->h.kc, path, obj, AUDITOR_FIELD_MANAGER, &body, err, sizeof(err));
	json_decref(body);
	json_decref(obj);
	if (code == 200 || code == 201) {
		free(strmap_get(a->written, name));
		if (strmap_set(a->written, name, text) == 0)
			return;
		strmap_del(a->written, name);
	} else {
		log_warnx("audit: status of Tenant %s: %s", name, err);
	}
	free(text);
}

/* One audit of the caches; returns the next interval in seconds. */
static unsigned
audit_once(struct auditor *a)
{
	void *ref = NULL;
	const struct config *cfg = a->h.config_get(a->h.arg, &ref);
	unsigned interval = cfg != NULL ? cfg->audit_interval : 300;
	struct audit_report r = { 0 };
	struct timespec t0, t1;
	char err[512];

	json_t *objects = cfg != NULL ? cached_objects(a->h.lv) : NULL;
	if (objects == NULL) {
		if (cfg != NULL)
			log_warnx("audit: out of memory copying the caches");
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = audit_run(cfg, objects, time(NULL), &r, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc != 0) {
		log_warnx("audit: %s", err);
		goto out;
	}
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	publish_metrics(&r, secs);
	log_info("audit: %zu violations in %zu objects (%.3f s)", r.n, r.objects, secs);
	if (a->h.leading != NULL && a->h.leading(a->h.arg))
		for (size_t i = 0; i < cfg->n_tenants; i++)
			if (cfg->tenants[i].from_object)   /* config-file tenants have no object */
				write_status(a, cfg->tenants[i].name, &r);
out:
	audit_report_clear(&r);
	json_decref(objects);
	/*
	 * Every cached object was decoded whole for the rules (~11 KB an Ingress) and is freed
	 * now: give that heap back, or this thread's arena keeps it at its peak.
	 */
	malloc_trim(0);
	if (ref != NULL)
		a->h.config_put(ref);
	return interval;
}

static void *
auditor_main(void *arg)
{
	struct auditor *a = arg;
	struct timespec next;

	pthread_mutex_lock(&a->lock);
	while (!a->stop) {
		if (!a->h.ready(a->h.arg)) {
			clock_gettime(CLOCK_MONOTONIC, &next);
			next.tv_nsec += 200 * 1000000L;   /* not synced yet: look again soon */
			if (next.tv_nsec >= 1000000000L) {
				next.tv_sec++;
				next.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&a->cond, &a->lock, &next);
			continue;
		}
		a->kicked = false;
		pthread_mutex_unlock(&a->lock);
		unsigned interval = audit_once(a);
		pthread_mutex_lock(&a->lock);
		clock_gettime(CLOCK_MONOTONIC, &next);
		next.tv_sec += interval;
		while (!a->stop && !a->kicked &&
		    pthread_cond_timedwait(&a->cond, &a->lock, &next) == 0)
			;
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

struct auditor *
auditor_start(const struct auditor_hooks *h, char *err, size_t errsz)
{
	struct auditor *a = calloc(1, sizeof(*a));
	pthread_condattr_t ca;

	if (a == NULL || (a->written = strmap_new()) == NULL) {
		free(a);
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	a->h = *h;
	pthread_mutex_init(&a->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&a->thread, NULL, auditor_main, a) != 0) {
		snprintf(err, errsz, "cannot start the audit thread");
		pthread_cond_destroy(&a->cond);
		pthread_mutex_destroy(&a->lock);
		strmap_free(a->written);
		free(a);
		return NULL;
	}
	return a;
}

void
auditor_kick(struct auditor *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	a->kicked = true;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->lock);
}

void
auditor_stop(struct auditor *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	strmap_each(a->written, status_forget, NULL);
	strmap_free(a->written);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
	free(a);
}
