/* SPDX-License-Identifier: Apache-2.0 */
/* reconcile: server-side apply of each tenant's objects, by the replica holding the Lease. */
#include "reconcile.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "baseline.h"
#include "claimfields.h"
#include "claims.h"
#include "claimstore.h"
#include "config.h"
#include "host.h"
#include "jsonget.h"
#include "kube.h"
#include "leader.h"
#include "live.h"
#include "log.h"
#include "metrics.h"
#include "names.h"
#include "state.h"
#include "strmap.h"
#include "vap.h"

#define TENANT_API     "tenantguard.io/v1alpha1"
#define STATUS_HOSTS   100   /* status.hosts lists at most this many */
#define NAME_MAX_LEN   256
#define RETRY_MAX_MS   30000 /* failed applies are retried after 1 s, doubling up to this */

struct reconciler {
	struct kube_client *kc;
	struct live        *lv;
	struct leader      *leader;
	bool              (*ready)(void *);
	void               *ready_arg;
	char                identity[256];
	pthread_t           thread;
	bool                started;

	pthread_mutex_t     lock;       /* the fields up to `status` */
	pthread_cond_t      cond;
	bool                stop;
	bool                all;        /* every tenant is due, and a sweep for orphans */
	struct strmap      *due;        /* tenant name -> (void *)(uintptr_t)DUE_* flags */
	json_t             *rejected;   /* Tenant name -> reason it is not in the config */

	struct strmap      *status;     /* the thread's: tenant -> last status written (char *) */

	/* reconciler_fallback_policies: set once, read by the thread under `lock`. */
	bool                fallback;
	const char *const  *fallback_excluded;
	size_t              n_fallback_excluded;
};

/* What one pass needs of a tenant, copied out of a config so no read view is held. */
/* What is due for a tenant: only its routes (its hosts changed), or everything. */
#define DUE_ROUTES 1u
#define DUE_ALL    3u

struct want {
	char    name[NAME_MAX_LEN];
	char    ns[NAME_MAX_LEN];
	char    entry_ns[NAME_MAX_LEN];
	bool    from_object;
	bool    route_sync;
	json_t *objects;        /* namespace, NetworkPolicy, ResourceQuota, bridge */
	json_t *reservations;   /* its customDomains */
};

/* Marks `what` (DUE_*) due for `tenant`, or with tenant NULL a full pass. */
static void
mark(struct reconciler *r, const char *tenant, unsigned what)
{
	pthread_mutex_lock(&r->lock);
	if (tenant == NULL) {
		r->all = true;
	} else {
		uintptr_t was = (uintptr_t)strmap_get(r->due, tenant);
		if (strmap_set(r->due, tenant, (void *)(was | what)) != 0)
			r->all = true;   /* out of memory: a full pass covers it */
	}
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static const char *
label_of(const json_t *obj, const char *key)
{
	return jsonget_str(jsonget_path(obj, "metadata.labels"), key);
}

void
reconciler_notify(struct reconciler *r, const char *kind, const char *type, const json_t *obj)
{
	struct live_view v;
	char tenant[NAME_MAX_LEN] = "";
	const char *ns, *name, *lb;
	unsigned what = DUE_ALL;

	(void)type;
	if (r == NULL)
		return;
	if (obj == NULL) {   /* a full list: anything may have changed */
		mark(r, NULL, DUE_ALL);
		return;
	}
	ns = jsonget_str(json_object_get(obj, "metadata"), "namespace");
	name = jsonget_str(json_object_get(obj, "metadata"), "name");
	if (name == NULL)
		return;
	lb = label_of(obj, NAMES_MANAGED_BY_KEY);
	if (strcmp(kind, "Tenant") == 0) {
		snprintf(tenant, sizeof(tenant), "%s", name);
	} else if (lb != NULL && strcmp(lb, NAMES_MANAGED_BY) == 0 &&
	    label_of(obj, NAMES_TENANT_LABEL) != NULL) {
		snprintf(tenant, sizeof(tenant), "%s", label_of(obj, NAMES_TENANT_LABEL));
	} else if (live_read_begin(r->lv, &v) == 0) {
		const struct tenant *t = NULL;
		if (strcmp(kind, "Namespace") == 0)
			t = config_namespace_tenant(v.cfg, name);
		else if (claimfields_kind_of(obj) != CLAIM_KIND_NONE && v.cfg->route_sync &&
		    ns != NULL) {
			t = config_namespace_tenant(v.cfg, ns);   /* its hosts feed the routes */
			what = DUE_ROUTES;
		}
		if (t != NULL)
			snprintf(tenant, sizeof(tenant), "%s", t->name);
		live_read_end(r->lv, &v);
	}
	if (tenant[0] != '\0')
		mark(r, tenant, what);
}

void
reconciler_config_changed(struct reconciler *r, const json_t *rejected)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	json_decref(r->rejected);
	r->rejected = rejected != NULL ? json_deep_copy(rejected) : NULL;
	r->all = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void
reconciler_fallback_policies(struct reconciler *r, const char *const *excluded, size_t n)
{
	pthread_mutex_lock(&r->lock);
	r->fallback = true;
	r->fallback_excluded = excluded;
	r->n_fallback_excluded = n;
	r->all = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

bool
reconciler_leading(struct reconciler *r)
{
	return r != NULL && r->leader != NULL && leader_is(r->leader);
}

static void
on_leader(bool leading, void *arg)
{
	if (leading)
		mark(arg, NULL, DUE_ALL);
}

/* ---- the Kubernetes side ---------------------------------------------------------------- */

/* The URL of obj (one of the kinds tenantguard writes). -1 for any other kind. */
static int
object_path(const json_t *obj, char *out, size_t outsz)
{
	static const struct { const char *kind, *prefix, *plural; } kinds[] = {
		{ "Namespace", "/api/v1", "namespaces" },
		{ "Service", "/api/v1", "services" },
		{ "ResourceQuota", "/api/v1", "resourcequotas" },
		{ "NetworkPolicy", "/apis/networking.k8s.io/v1", "networkpolicies" },
		{ "Ingress", "/apis/networking.k8s.io/v1", "ingresses" },
		{ "ValidatingAdmissionPolicy", "/apis/admissionregistration.k8s.io/v1",
		    "validatingadmissionpolicies" },
		{ "ValidatingAdmissionPolicyBinding", "/apis/admissionregistration.k8s.io/v1",
		    "validatingadmissionpolicybindings" },
	};
	const char *kind = jsonget_str(obj, "kind");
	const char *ns = jsonget_str(json_object_get(obj, "metadata"), "namespace");
	const char *name = jsonget_str(json_object_get(obj, "metadata"), "name");
	int n = -1;

	for (size_t i = 0; kind != NULL && name != NULL && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kind, kinds[i].kind) != 0)
			continue;
		n = ns != NULL ? snprintf(out, outsz, "%s/namespaces/%s/%s/%s", kinds[i].prefix, ns,
		    kinds[i].plural, name) : snprintf(out, outsz, "%s/%s/%s", kinds[i].prefix,
		    kinds[i].plural, name);
	}
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

static void
now_rfc3339(char *out, size_t outsz)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* An Event on Tenant `name` (uid) saying what was done. Failures are logged, not fatal. */
static void
post_event(struct reconciler *r, const char *name, const char *uid, const char *type,
    const char *reason, const char *message)
{
	char ts[40], prefix[NAME_MAX_LEN + 2], err[512];
	json_t *ev, *resp = NULL;

	now_rfc3339(ts, sizeof(ts));
	snprintf(prefix, sizeof(prefix), "%s.", name);
	ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s}, s:s, s:s, s:s, s:{s:s}, "
	    "s:s, s:s, s:i, s:s, s:s}",
	    "apiVersion", "v1", "kind", "Event",
	    "metadata", "generateName", prefix, "namespace", "default",
	    "involvedObject", "apiVersion", TENANT_API, "kind", "Tenant", "name", name, "uid", uid,
	    "type", type, "reason", reason, "message", message,
	    "source", "component", "tenantguard",
	    "firstTimestamp", ts, "lastTimestamp", ts, "count", 1,
	    "reportingComponent", "tenantguard", "reportingInstance", r->identity);
	if (ev == NULL)
		return;
	int st = kube_create(r->kc, "/api/v1/namespaces/default/events", ev, &resp, err, sizeof(err));
	if (st != 201 && st != 200)
		log_warnx("reconcile: event on Tenant %s: %s", name, err);
	json_decref(resp);
	json_decref(ev);
}

static const char *
meta_str(const json_t *obj, const char *key)
{
	return jsonget_str(json_object_get(obj, "metadata"), key);
}

/*
 * Applies one object. `cached` is the live cache's copy (borrowed, may be NULL): when the
 * apply created the object or changed what the cache holds, *what says so ("created",
 * "restored"), else "". 0, or -1 with err.
 */
static int
apply_one(struct reconciler *r, const json_t *obj, const json_t *cached, const char **what,
    char *err, size_t errsz)
{
	char path[1024];
	json_t *body = NULL;
	int st;

	*what = "";
	if (object_path(obj, path, sizeof(path)) != 0) {
		snprintf(err, errsz, "no API path for the object");
		return -1;
	}
	st = kube_apply(r->kc, path, obj, RECONCILE_FIELD_MANAGER, &body, err, errsz);
	if (st == 201) {
		*what = "created";
	} else if (st == 200) {
		const char *was = cached != NULL ? meta_str(cached, "resourceVersion") : NULL;
		const char *now = meta_str(body, "resourceVersion");
		if (was == NULL || (now != NULL && strcmp(was, now) != 0))
			*what = cached == NULL ? "created" : "restored";
	}
	json_decref(body);
	return st == 200 || st == 201 ? 0 : -1;
}

static int
delete_object(struct reconciler *r, const json_t *obj)
{
	char path[1024], err[512];
	json_t *body = NULL;
	int st;

	if (object_path(obj, path, sizeof(path)) != 0)
		return -1;
	st = kube_delete(r->kc, path, NULL, &body, err, sizeof(err));
	json_decref(body);
	if (st != 200 && st != 202 && st != 404) {
		log_warnx("reconcile: delete %s: %s", path, err);
		return -1;
	}
	if (st != 404)
		log_info("reconcile: deleted %s", path);
	return 0;
}

/*
 * Makes every object of `objs` a dependent of the ClusterRole RECONCILE_FALLBACK_OWNER, which
 * the chart renders only with fallbackPolicies.enabled: uninstalling the release or turning
 * the option off deletes the policies by garbage collection, so none outlives tenantguard.
 * Without that ClusterRole they are applied ownerless (and logged).
 */
static void
own_fallback(struct reconciler *r, json_t *objs)
{
	char err[512];
	json_t *role = NULL, *o;
	size_t i;
	int st = kube_get(r->kc, "/apis/rbac.authorization.k8s.io/v1/clusterroles/"
	    RECONCILE_FALLBACK_OWNER, &role, err, sizeof(err));
	const char *uid = st == 200 ? meta_str(role, "uid") : NULL;

	if (uid == NULL) {
		log_warnx("reconcile: fallback policies: ClusterRole %s: %s; applied without an owner, "
		    "they outlive tenantguard", RECONCILE_FALLBACK_OWNER, st == 200 ? "no uid" : err);
	} else {
		json_array_foreach(objs, i, o)
			json_object_set_new(json_object_get(o, "metadata"), "ownerReferences",
			    json_pack("[{s:s, s:s, s:s, s:s}]", "apiVersion", "rbac.authorization.k8s.io/v1",
			    "kind", "ClusterRole", "name", RECONCILE_FALLBACK_OWNER, "uid", uid));
	}
	json_decref(role);
}

/*
 * The fallback policies (vap.h) from the live config, file and Tenant-object tenants alike,
 * applied server-side, and the override bindings a new render no longer has deleted: so the
 * apiserver keeps enforcing the stateless rules for every tenant while no replica answers.
 * A failure is logged and retried by the next full pass (a config change or the resync).
 */
static void
apply_fallback(struct reconciler *r, const char *const *excluded, size_t n_excluded)
{
	const char *const *names = vap_binding_names();
	struct live_view v;
	json_t *objs, *o;
	const char *what;
	char err[512];
	size_t i, failed = 0;

	if (live_read_begin(r->lv, &v) != 0)
		return;
	objs = vap_policies(v.cfg, excluded, n_excluded);
	live_read_end(r->lv, &v);
	if (objs == NULL) {
		log_warnx("reconcile: fallback policies: out of memory");
		metrics_fallback_failed(1);
		return;
	}
	own_fallback(r, objs);
	json_array_foreach(objs, i, o)
		if (apply_one(r, o, NULL, &what, err, sizeof(err)) != 0) {
			log_warnx("reconcile: fallback %s %s: %s", jsonget_str(o, "kind"),
			    meta_str(o, "name"), err);
			failed++;
		}
	for (; *names != NULL; names++) {
		bool kept = false;
		json_array_foreach(objs, i, o)
			kept = kept || (strcmp(jsonget_str(o, "kind"), "ValidatingAdmissionPolicyBinding")
			    == 0 && strcmp(meta_str(o, "name"), *names) == 0);
		json_t *gone = kept ? NULL : json_pack("{s:s, s:{s:s}}", "kind",
		    "ValidatingAdmissionPolicyBinding", "metadata", "name", *names);
		if (gone != NULL && delete_object(r, gone) != 0)
			failed++;
		json_decref(gone);
	}
	if (failed == 0)
		log_info("reconcile: fallback policies applied (%zu objects)", json_array_size(objs));
	metrics_fallback_failed(failed);
	json_decref(objs);
}

/* ---- one tenant ------------------------------------------------------------------------- */

static void
want_clear(struct want *w)
{
	json_decref(w->objects);
	json_decref(w->reservations);
	memset(w, 0, sizeof(*w));
}

/* Copies what the config says of tenant `name` into w. 1 found, 0 not a tenant, -1 error. */
static int
want_load(struct reconciler *r, const char *name, struct want *w)
{
	struct live_view v;
	const struct tenant *t;
	int rc = 0;

	memset(w, 0, sizeof(*w));
	if (live_read_begin(r->lv, &v) != 0)
		return -1;
	if ((t = config_tenant(v.cfg, name)) == NULL)
		goto out;
	rc = -1;
	snprintf(w->name, sizeof(w->name), "%s", t->name);
	snprintf(w->entry_ns, sizeof(w->entry_ns), "%s", v.cfg->entry_namespace);
	w->from_object = t->from_object;
	w->route_sync = v.cfg->route_sync;
	if (!template_expand(&v.cfg->tenant_namespace, t->name, w->ns, sizeof(w->ns)))
		goto out;
	json_t *base = baseline_objects(v.cfg, t);
	w->objects = json_array();
	w->reservations = json_array();
	if (base == NULL || w->objects == NULL || w->reservations == NULL ||
	    json_array_append_new(w->objects, baseline_namespace(v.cfg, t)) != 0 ||
	    json_array_extend(w->objects, base) != 0 ||
	    json_array_append_new(w->objects, baseline_bridge(v.cfg, t)) != 0) {
		json_decref(base);
		goto out;
	}
	json_decref(base);
	for (size_t i = 0; i < t->n_custom_domains; i++)
		if (json_array_append_new(w->reservations, json_string(t->custom_domains[i])) != 0)
			goto out;
	rc = 1;
out:
	live_read_end(r->lv, &v);
	if (rc != 1) {
		json_decref(w->objects);
		json_decref(w->reservations);
		w->objects = w->reservations = NULL;
	}
	return rc;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* The keys of object `set`, sorted, as a new array of strings (NULL: out of memory). */
static json_t *
sorted_keys(const json_t *set)
{
	size_t n = json_object_size(set), i = 0;
	json_t **v = calloc(n ? n : 1, sizeof(*v)), *out = json_array();
	const char *k;
	const json_t *val;

	if (v == NULL || out == NULL)
		goto fail;
	json_object_foreach((json_t *)set, k, val)
		if ((v[i++] = json_string(k)) == NULL)
			goto fail;
	qsort(v, n, sizeof(*v), cmp_str);
	for (i = 0; i < n; i++) {
		if (json_array_append_new(out, v[i]) != 0) {
			v[i] = NULL;
			goto fail;
		}
		v[i] = NULL;
	}
	free(v);
	return out;
fail:
	for (i = 0; v != NULL && i < n; i++)
		json_decref(v[i]);
	free(v);
	json_decref(out);
	return NULL;
}

/* state_owner_objects' callback: the custom hosts of objects in the tenant's own namespace. */
struct held {
	const struct config *cfg;
	const struct want   *w;
	json_t              *set;   /* pattern -> null: a set, so each host costs O(1) */
	int                  rc;
};

static void
held_one(const char *object, const char *pattern, void *arg)
{
	struct held *h = arg;
	const char *ns = strchr(object, '/');
	size_t len = strlen(h->w->ns), i;
	json_t *res;

	/* Only the tenant's own objects: entry-namespace routes (ours too) are filed under it. */
	if (h->rc != 0 || ns == NULL || strncmp(ns + 1, h->w->ns, len) != 0 || ns[1 + len] != '/')
		return;
	if (strcmp(pattern, h->cfg->system_domain) == 0 || host_is_below(pattern, h->cfg->system_domain))
		return;
	json_array_foreach(h->w->reservations, i, res)
		if (host_covers(json_string_value(res), pattern))
			return;
	if (h->rc == 0 && json_object_get(h->set, pattern) == NULL)
		h->rc = json_object_set_new(h->set, pattern, json_null());
}

/*
 * The hosts tenant w holds, sorted, as *hosts (new array): its reservations and the custom
 * hosts its namespace's objects hold in the live state (system hosts and hosts a reservation
 * covers left out). With routeSync, *routes (new reference) is its routes Ingress. 0, or -1.
 */
static int
held_hosts(struct reconciler *r, const struct want *w, json_t **hosts, json_t **routes)
{
	struct live_view v;
	struct held h = { NULL, w, json_object(), 0 };
	char owner[NAME_MAX_LEN + 16];
	json_t *res;
	size_t i;

	*hosts = *routes = NULL;
	json_array_foreach(w->reservations, i, res)
		if (h.set != NULL && json_object_set_new(h.set, json_string_value(res), json_null()) != 0)
			h.rc = -1;
	if (h.set == NULL || h.rc != 0 || live_read_begin(r->lv, &v) != 0) {
		json_decref(h.set);
		return -1;
	}
	h.cfg = v.cfg;
	state_owner_key(v.cfg, w->ns, owner, sizeof(owner));
	uint32_t id = state_owner_lookup(v.st, owner);
	if (id != CLAIMS_NO_OWNER)
		state_owner_objects(v.st, id, held_one, &h);
	const struct tenant *t = config_tenant(v.cfg, w->name);
	if (h.rc == 0 && (*hosts = sorted_keys(h.set)) != NULL && w->route_sync && t != NULL)
		*routes = baseline_routes(v.cfg, t, *hosts);
	live_read_end(r->lv, &v);
	json_decref(h.set);
	if (h.rc != 0 || *hosts == NULL || (w->route_sync && t != NULL && *routes == NULL)) {
		json_decref(*hosts);
		json_decref(*routes);
		*hosts = *routes = NULL;
		return -1;
	}
	return 0;
}

/* The Tenant object called name among `tenants` (borrowed), or NULL. */
static const json_t *
tenant_object(const json_t *tenants, const char *name)
{
	size_t i;
	const json_t *o;

	json_array_foreach(tenants, i, o)
		if (meta_str(o, "name") != NULL && strcmp(meta_str(o, "name"), name) == 0)
			return o;
	return NULL;
}

/* Sets metadata.ownerReferences of obj to the Tenant (controller, no blocking). */
static void
set_owner(json_t *obj, const char *name, const char *uid)
{
	json_object_set_new(json_object_get(obj, "metadata"), "ownerReferences",
	    json_pack("[{s:s, s:s, s:s, s:s, s:b, s:b}]", "apiVersion", TENANT_API, "kind", "Tenant",
	    "name", name, "uid", uid, "controller", 1, "blockOwnerDeletion", 0));
}

/* Writes status of Tenant `name` when it differs from what this replica wrote last. */
static void
write_status(struct reconciler *r, const char *name, const char *ns, const json_t *hosts,
    bool ready, const char *reason, const char *message, json_int_t generation)
{
	char ts[40], path[512], err[512];
	json_t *st, *obj, *body = NULL;
	char *text;

	st = json_pack("{s:s, s:O, s:I, s:[{s:s, s:s, s:s, s:s, s:I}]}",
	    "namespace", ns, "hosts", hosts, "observedGeneration", generation,
	    "conditions", "type", "Ready", "status", ready ? "True" : "False", "reason", reason,
	    "message", message, "observedGeneration", generation);
	if (st == NULL)
		return;
	text = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
	const char *last = strmap_get(r->status, name);
	if (text == NULL || (last != NULL && strcmp(last, text) == 0)) {
		free(text);
		json_decref(st);
		return;
	}
	now_rfc3339(ts, sizeof(ts));
	json_object_set_new(json_array_get(json_object_get(st, "conditions"), 0),
	    "lastTransitionTime", json_string(ts));
	obj = json_pack("{s:s, s:s, s:{s:s}, s:o}", "apiVersion", TENANT_API, "kind", "Tenant",
	    "metadata", "name", name, "status", st);
	snprintf(path, sizeof(path), "/apis/%s/tenants/%s/status", TENANT_API, name);
	int code = obj != NULL ? kube_apply(r->kc, path, obj, RECONCILE_FIELD_MANAGER, &body, err,
	    sizeof(err)) : -1;
	json_decref(body);
	json_decref(obj);
	if (code == 200 || code == 201) {
		free(strmap_get(r->status, name));
		if (strmap_set(r->status, name, text) == 0)
			text = NULL;
		else
			strmap_del(r->status, name);
	} else {
		log_warnx("reconcile: status of Tenant %s: %s", name, err);
	}
	free(text);
}

/* Does obj carry an owner reference to Tenant `name`? */
static bool
owned_by_tenant(const json_t *obj, const char *name)
{
	const json_t *ref;
	size_t i;

	json_array_foreach(jsonget_path(obj, "metadata.ownerReferences"), i, ref)
		if (jsonget_str(ref, "kind") != NULL && strcmp(jsonget_str(ref, "kind"), "Tenant") == 0 &&
		    jsonget_str(ref, "name") != NULL && strcmp(jsonget_str(ref, "name"), name) == 0)
			return true;
	return false;
}

/*
 * Deletes what tenantguard made for a tenant that is gone: everything labelled for it, and the
 * namespace it created for a Tenant object (what the garbage collector does too, but it sees
 * the objects of a new CRD only after its next discovery, up to 30 s later). A namespace of a
 * config-file tenant is never deleted: a config edit must not take a tenant's workloads.
 */
static void
sweep(struct reconciler *r, const char *only)
{
	static const char *const kinds[] = { "NetworkPolicy", "ResourceQuota", "Service", "Ingress",
	    "Namespace" };
	struct live_view v;

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		/* Its own only: every Ingress of the cluster decoded whole would be a second cache. */
		json_t *objs = live_list_labelled(r->lv, kinds[k], NULL, NAMES_MANAGED_BY_KEY,
		    NAMES_MANAGED_BY), *o;
		size_t i;

		json_array_foreach(objs, i, o) {
			const char *by = label_of(o, NAMES_MANAGED_BY_KEY), *t = label_of(o, NAMES_TENANT_LABEL);
			bool gone;
			if (by == NULL || strcmp(by, NAMES_MANAGED_BY) != 0 || t == NULL ||
			    (only != NULL && strcmp(t, only) != 0) ||
			    (strcmp(kinds[k], "Namespace") == 0 && !owned_by_tenant(o, t)))
				continue;
			if (live_read_begin(r->lv, &v) != 0)
				break;
			gone = config_tenant(v.cfg, t) == NULL;
			live_read_end(r->lv, &v);
			/*
			 * A Tenant object that exists is not gone, even when the config does not have
			 * it (yet: it is rebuilt a moment after the Tenant arrives; or it was rejected).
			 */
			json_t *tobj = gone ? live_get(r->lv, "Tenant", "", t) : NULL;
			gone = gone && tobj == NULL;
			json_decref(tobj);
			if (gone)
				delete_object(r, o);
		}
		json_decref(objs);
	}
}

/* Status of a Tenant object left out of the config (or shadowed by a config-file tenant). */
static void
status_rejected(struct reconciler *r, const char *name, const char *why, json_int_t gen)
{
	json_t *none = json_array();

	write_status(r, name, "", none, false, "Rejected", why, gen);
	json_decref(none);
}

/*
 * Applies w's namespace, baseline and bridge; owned by Tenant `uid` (NULL: a config-file
 * tenant). A failure's description goes to `failed` (left alone otherwise).
 */
static void
apply_objects(struct reconciler *r, const struct want *w, const char *uid, char *failed,
    size_t failedsz)
{
	char err[512], msg[1024];
	const char *what;
	json_t *o;
	size_t i;

	json_array_foreach(w->objects, i, o) {
		const char *kind = jsonget_str(o, "kind"), *ns = meta_str(o, "namespace");
		json_t *cached = live_get(r->lv, kind, ns != NULL ? ns : "", meta_str(o, "name"));
		bool ours = true;
		if (strcmp(kind, "Namespace") == 0) {
			/* Only a namespace tenantguard creates is marked as its own and owned. */
			const char *by = cached != NULL ? label_of(cached, NAMES_MANAGED_BY_KEY) : NULL;
			ours = cached == NULL || (by != NULL && strcmp(by, NAMES_MANAGED_BY) == 0);
			if (ours)
				json_object_set_new((json_t *)jsonget_path(o, "metadata.labels"),
				    NAMES_MANAGED_BY_KEY, json_string(NAMES_MANAGED_BY));
		}
		if (uid != NULL && ours)
			set_owner(o, w->name, uid);
		if (apply_one(r, o, cached, &what, err, sizeof(err)) != 0) {
			log_warnx("reconcile: tenant %s: apply %s %s: %s", w->name, kind,
			    meta_str(o, "name"), err);
			snprintf(failed, failedsz, "%s %s: %s", kind, meta_str(o, "name"), err);
		} else if (what[0] != '\0') {
			snprintf(msg, sizeof(msg), "%s %s %s%s%s", what, kind, ns != NULL ? ns : "",
			    ns != NULL ? "/" : "", meta_str(o, "name"));
			log_info("reconcile: tenant %s: %s", w->name, msg);
			if (uid != NULL)
				post_event(r, w->name, uid, "Normal", what[0] == 'c' ? "Created" : "Restored",
				    msg);
		}
		json_decref(cached);
	}
}

/*
 * Whether the cached routes Ingress already is `want`: the same spec and owner references,
 * and every label of ours. (The apiserver adds nothing to an Ingress spec; anything else
 * differs and is applied.)
 */
static bool
same_routes(const json_t *want, const json_t *cached)
{
	const json_t *wl = jsonget_path(want, "metadata.labels"), *v;
	const json_t *cl = jsonget_path(cached, "metadata.labels");
	const char *k;

	if (cached == NULL || !json_equal(json_object_get(want, "spec"), json_object_get(cached, "spec")))
		return false;
	json_object_foreach((json_t *)wl, k, v)
		if (!json_equal(v, json_object_get(cl, k)))
			return false;
	const json_t *wo = jsonget_path(want, "metadata.ownerReferences");
	const json_t *co = jsonget_path(cached, "metadata.ownerReferences");
	return wo == NULL ? co == NULL : co != NULL && json_equal(wo, co);
}

/*
 * routeSync: applies w's routes Ingress (`routes`, may be NULL), or removes it when routeSync
 * is off. `n_custom` counts its first-come hosts, for the event.
 */
static void
apply_routes(struct reconciler *r, const struct want *w, json_t *routes, size_t n_custom,
    const char *uid, char *failed, size_t failedsz)
{
	char rname[NAME_MAX_LEN + 32], err[512], msg[1024];
	const char *what;
	json_t *cached;

	snprintf(rname, sizeof(rname), "%s%s", NAMES_ROUTES_PREFIX, w->name);
	cached = live_get(r->lv, "Ingress", w->entry_ns, rname);
	if (routes == NULL) {
		if (cached != NULL)
			delete_object(r, cached);
		json_decref(cached);
		return;
	}
	if (uid != NULL)
		set_owner(routes, w->name, uid);
	if (same_routes(routes, cached)) {
		json_decref(cached);   /* the common case of a tenant's Ingress event: no request */
		return;
	}
	if (apply_one(r, routes, cached, &what, err, sizeof(err)) != 0) {
		log_warnx("reconcile: tenant %s: apply Ingress %s: %s", w->name, rname, err);
		snprintf(failed, failedsz, "Ingress %s: %s", rname, err);
	} else if (what[0] != '\0') {
		snprintf(msg, sizeof(msg), "routes Ingress %s/%s %s: %zu custom hosts", w->entry_ns,
		    rname, what[0] == 'c' ? "created" : "updated", n_custom);
		log_info("reconcile: tenant %s: %s", w->name, msg);
		if (uid != NULL)
			post_event(r, w->name, uid, "Normal", "Routes", msg);
	}
	json_decref(cached);
}

/*
 * One tenant's pass over `what` (DUE_*). -1 when something could not be applied (retried
 * soon), else 0.
 */
static int
reconcile_tenant(struct reconciler *r, const char *name, unsigned what, const json_t *tenants,
    const json_t *rejected)
{
	struct want w;
	const json_t *tobj = tenant_object(tenants, name);
	const char *uid = tobj != NULL ? meta_str(tobj, "uid") : NULL;
	const char *why = jsonget_str(rejected, name);
	json_int_t gen = json_integer_value(jsonget_path(tobj, "metadata.generation"));
	json_t *hosts = NULL, *routes = NULL;
	char failed[1400] = "";
	int rc = want_load(r, name, &w);

	if (rc < 0)
		return -1;
	if (rc == 0) {   /* not a tenant (any more) */
		sweep(r, name);
		if (uid != NULL && why != NULL)
			status_rejected(r, name, why, gen);
		return 0;
	}
	if (!w.from_object) {
		/* A config-file tenant: nothing owns its objects; a Tenant of the same name is
		 * shadowed by it. */
		if (tobj != NULL && why != NULL)
			status_rejected(r, name, why, gen);
		uid = NULL;
	} else if (uid == NULL) {
		/* Its Tenant is gone and the config will follow: applying now would strip the
		 * owner references, and the sweep would no longer know the namespace as its. */
		want_clear(&w);
		return 0;
	}
	if (what == DUE_ALL)
		apply_objects(r, &w, uid, failed, sizeof(failed));
	if (held_hosts(r, &w, &hosts, &routes) != 0)
		snprintf(failed, sizeof(failed), "hosts of %s: out of memory", w.ns);
	else
		apply_routes(r, &w, routes, json_array_size(hosts) - json_array_size(w.reservations),
		    uid, failed, sizeof(failed));
	if (uid != NULL && hosts != NULL) {
		while (json_array_size(hosts) > STATUS_HOSTS)
			json_array_remove(hosts, json_array_size(hosts) - 1);
		if (failed[0] != '\0')
			write_status(r, name, w.ns, hosts, false, "ApplyFailed", failed, gen);
		else
			write_status(r, name, w.ns, hosts, true, "Reconciled", w.route_sync ?
			    "namespace, baseline, bridge and routes are applied" :
			    "namespace, baseline and bridge are applied", gen);
	}
	json_decref(hosts);
	json_decref(routes);
	want_clear(&w);
	return failed[0] != '\0' ? -1 : 0;
}

/* ---- the thread ------------------------------------------------------------------------- */

/* Adds `what` to work[name] (a JSON object of DUE_* flags). 0, or -1 out of memory. */
static int
work_add(json_t *work, const char *name, unsigned what)
{
	json_int_t was = json_integer_value(json_object_get(work, name));

	return json_object_set_new(work, name, json_integer(was | (json_int_t)what));
}

static void
collect_due(const char *key, void *value, void *arg)
{
	work_add(arg, key, (unsigned)(uintptr_t)value);
}

static void
ts_add_ms(struct timespec *t, long ms)
{
	t->tv_sec += ms / 1000;
	t->tv_nsec += (ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

static bool
ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/*
 * Waits for work: new marks run at once; a full pass every RECONCILE_RESYNC seconds; tenants
 * whose apply failed again at `retry_at` (a second after the first failure, doubling while
 * they keep failing, up to RETRY_MAX_MS: a missing entry namespace must not turn into a
 * request storm, and must not hold up other tenants).
 */
static void *
reconcile_main(void *arg)
{
	struct reconciler *r = arg;
	struct timespec next, retry_at, now;
	unsigned streak = 0;          /* passes in a row with a failed apply */
	json_t *retry = json_object(); /* tenants to try again at retry_at: name -> DUE_* */

	clock_gettime(CLOCK_MONOTONIC, &next);
	next.tv_sec += RECONCILE_RESYNC;
	retry_at = next;
	pthread_mutex_lock(&r->lock);
	for (;;) {
		const struct timespec *until = json_object_size(retry) > 0 &&
		    ts_before(&retry_at, &next) ? &retry_at : &next;
		while (!r->stop && !r->all && strmap_count(r->due) == 0 &&
		    pthread_cond_timedwait(&r->cond, &r->lock, until) == 0)
			;
		if (r->stop)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!ts_before(&now, &next)) {
			r->all = true;
			next = now;
			next.tv_sec += RECONCILE_RESYNC;
		}
		bool all = r->all;
		json_t *work = json_object(), *rejected = json_incref(r->rejected);
		struct strmap *fresh = strmap_new();
		if (work != NULL && fresh != NULL) {
			strmap_each(r->due, collect_due, work);
			strmap_free(r->due);
			r->due = fresh;
		} else {
			strmap_free(fresh);
			all = true;   /* out of memory: the due set stays, a full pass covers it */
		}
		r->all = false;
		pthread_mutex_unlock(&r->lock);

		if (!r->ready(r->ready_arg)) {
			/* Not synced yet: keep the work; look again in 100 ms. */
			json_decref(work);
			json_decref(rejected);
			pthread_mutex_lock(&r->lock);
			r->all = true;
			struct timespec soon = now;
			ts_add_ms(&soon, 100);
			pthread_cond_timedwait(&r->cond, &r->lock, &soon);
			continue;
		}
		if (work != NULL && !ts_before(&now, &retry_at)) {
			json_object_update(work, retry);   /* (retries are DUE_ALL) */
			json_object_clear(retry);
		}
		if (leader_is(r->leader) && work != NULL) {
			struct live_view v;
			if (all && live_read_begin(r->lv, &v) == 0) {
				for (size_t i = 0; i < v.cfg->n_tenants; i++)
					work_add(work, v.cfg->tenants[i].name, DUE_ALL);
				live_read_end(r->lv, &v);
			}
			/* The fallback first: a new tenant's objects then go unguarded the least. */
			pthread_mutex_lock(&r->lock);
			bool fallback = r->fallback;
			pthread_mutex_unlock(&r->lock);
			if (all && fallback)
				apply_fallback(r, r->fallback_excluded, r->n_fallback_excluded);
			json_t *tenants = live_list(r->lv, "Tenant", ""), *v_what;
			const char *name;
			size_t failed = 0;
			json_object_foreach(work, name, v_what) {
				if (!leader_is(r->leader))
					break;
				if (json_object_get(retry, name) != NULL)
					continue;   /* failed lately: at retry_at, not before */
				if (reconcile_tenant(r, name, (unsigned)json_integer_value(v_what), tenants,
				    rejected) != 0) {
					json_object_set_new(retry, name, json_integer(DUE_ALL));
					failed++;
				}
			}
			if (all && leader_is(r->leader))
				sweep(r, NULL);
			json_decref(tenants);
			if (failed > 0) {
				streak++;
				retry_at = now;
				ts_add_ms(&retry_at, streak > 5 ? RETRY_MAX_MS : 1000L << (streak - 1));
			} else if (json_object_size(retry) == 0) {
				streak = 0;
			}
		}
		json_decref(work);
		json_decref(rejected);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	json_decref(retry);
	return NULL;
}

static void
status_free(const char *key, void *value, void *arg)
{
	(void)key;
	(void)arg;
	free(value);
}

struct reconciler *
reconciler_start(struct kube_client *kc, struct live *lv, const char *identity,
    unsigned lease_seconds, bool (*ready)(void *), void *ready_arg, char *err, size_t errsz)
{
	struct reconciler *r = calloc(1, sizeof(*r));
	struct leader_opts lo = { 0 };
	pthread_condattr_t ca;

	if (r == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	r->kc = kc;
	r->lv = lv;
	r->ready = ready;
	r->ready_arg = ready_arg;
	if (identity != NULL)
		snprintf(r->identity, sizeof(r->identity), "%s", identity);
	else
		leader_default_identity(r->identity, sizeof(r->identity));
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	r->all = true;
	if ((r->due = strmap_new()) == NULL || (r->status = strmap_new()) == NULL) {
		snprintf(err, errsz, "out of memory");
		reconciler_stop(r);
		return NULL;
	}
	/* client-go's proportions: 15 s lease, 10 s renew deadline, 2 s retry. */
	lo.lease_seconds = lease_seconds;
	lo.renew_deadline_seconds = lease_seconds * 2 / 3;
	lo.retry_ms = lease_seconds * 2000 / 15;
	r->leader = leader_start(kc, CLAIMSTORE_NAMESPACE, RECONCILE_LEASE_NAME, r->identity,
	    lease_seconds != 0 ? &lo : NULL, on_leader, r, err, errsz);
	if (r->leader == NULL) {
		reconciler_stop(r);
		return NULL;
	}
	if (pthread_create(&r->thread, NULL, reconcile_main, r) != 0) {
		snprintf(err, errsz, "cannot start the reconciler thread");
		reconciler_stop(r);
		return NULL;
	}
	r->started = true;
	log_info("reconciler: started as %s (Lease %s/%s)", r->identity, CLAIMSTORE_NAMESPACE,
	    RECONCILE_LEASE_NAME);
	return r;
}

void
reconciler_stop(struct reconciler *r)
{
	if (r == NULL)
		return;
	if (r->started) {
		pthread_mutex_lock(&r->lock);
		r->stop = true;
		pthread_cond_signal(&r->cond);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
	}
	leader_stop(r->leader);   /* releases the Lease: another replica takes over at once */
	if (r->status != NULL) {
		strmap_each(r->status, status_free, NULL);
		strmap_free(r->status);
	}
	strmap_free(r->due);
	json_decref(r->rejected);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
