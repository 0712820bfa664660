/* SPDX-License-Identifier: Apache-2.0 */
/* test_live: the left-right live cache: incremental updates, relists, and readers under writes. */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "claimfields.h"
#include "claims.h"
#include "config.h"
#include "config_load.h"
#include "live.h"
#include "liveobj.h"
#include "state.h"
#include "testhelp.h"

/* An Ingress in `ns` named `name` with a rule for each host (NULL-terminated), rv "rv". */
static json_t *
ingress(const char *ns, const char *name, const char *rv, const char *const *hosts)
{
	json_t *rules = json_array();

	for (; *hosts != NULL; hosts++)
		json_array_append_new(rules, json_pack("{s:s}", "host", *hosts));
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:[{}]}, s:{s:o}, s:{}}",
	    "apiVersion", "networking.k8s.io/v1", "kind", "Ingress",
	    "metadata", "namespace", ns, "name", name, "resourceVersion", rv, "managedFields",
	    "spec", "rules", rules, "status");
}

/* Whether some owner holds a claim overlapping `host` in the view's state. */
static bool
claimed(const struct live_view *v, const char *host)
{
	uint32_t out[4];

	return claims_find(v->st->claims, host, CLAIMS_OVERLAP, CLAIMS_NO_OWNER, out, 4) > 0;
}

static bool
claimed_now(struct live *lv, const char *host)
{
	struct live_view v;
	bool r;

	if (live_read_begin(lv, &v) != 0)
		return false;
	r = claimed(&v, host);
	live_read_end(lv, &v);
	return r;
}

/* Owner key of the claim on `host`, "" when none. */
static const char *
owner_of(struct live *lv, const char *host, char *buf, size_t bufsz)
{
	struct live_view v;
	uint32_t out[4];

	buf[0] = '\0';
	if (live_read_begin(lv, &v) != 0)
		return buf;
	if (claims_find(v.st->claims, host, CLAIMS_OVERLAP, CLAIMS_NO_OWNER, out, 4) == 1)
		snprintf(buf, bufsz, "%s", v.st->owners[out[0]]);
	live_read_end(lv, &v);
	return buf;
}

/* A relist of the objects of `list` (a JSON array, borrowed), as the informer makes one. */
static int
relist(struct live *lv, const char *kind, const json_t *list, char *err, size_t errsz)
{
	struct live_relist *r = live_relist_new();
	size_t i;
	const json_t *o;
	int rc = r != NULL ? 0 : -1;

	json_array_foreach(list, i, o)
		if (rc == 0)
			rc = live_relist_add(r, o);
	if (rc == 0)
		rc = live_relist_apply(lv, kind, r, err, errsz);
	live_relist_free(r);
	return rc;
}

static int releases;
static void
count_release(void *arg)
{
	(void)arg;
	releases++;
}

static void
test_incremental(const struct config *cfg)
{
	static const char *const h1[] = { "app.newco.com", NULL };
	static const char *const h2[] = { "www.newco.com", NULL };
	struct live *lv = live_new();
	struct live_view v;
	char err[256], buf[128];
	json_t *o;

	test_cond("live_new", lv != NULL);
	test_cond("no config yet: readers are refused", live_read_begin(lv, &v) != 0);
	o = ingress("tenant2-gateway", "app", "1", h1);
	test_cond("an object before the config is kept", live_upsert(lv, o, err, sizeof(err)) == 0);
	json_decref(o);
	test_cond("config installed: both copies built from the map",
	    live_set_config(lv, cfg, count_release, NULL) == 0);
	test_cond("the early object's host is claimed by tenant2",
	    strcmp(owner_of(lv, "app.newco.com", buf, sizeof(buf)), "tenant/tenant2") == 0);
	test_cond("a wildcard query overlaps it", claimed_now(lv, "*.newco.com"));
	test_cond("one Ingress, one claim", live_objects(lv, "Ingress") == 1 && live_claims(lv) == 1);

	o = ingress("tenant2-gateway", "app", "2", h2);
	test_cond("MODIFIED", live_upsert(lv, o, err, sizeof(err)) == 0);
	json_decref(o);
	test_cond("MODIFIED: the old host is freed", !claimed_now(lv, "app.newco.com"));
	test_cond("MODIFIED: the new host is claimed", claimed_now(lv, "www.newco.com"));
	test_cond("MODIFIED: still one object and one claim",
	    live_objects(lv, "Ingress") == 1 && live_claims(lv) == 1);

	o = ingress("tenant2-gateway", "app", "3", h2);
	test_cond("DELETED", live_delete(lv, o, err, sizeof(err)) == 0);
	test_cond("DELETED again is a no-op", live_delete(lv, o, err, sizeof(err)) == 0);
	json_decref(o);
	test_cond("DELETED: the host is freed", !claimed_now(lv, "www.newco.com"));
	test_cond("DELETED: nothing left", live_objects(lv, "Ingress") == 0 && live_claims(lv) == 0);

	/* Relist: a, b present; then b changed, c new, a gone. */
	{
		static const char *const ha[] = { "a.example.org", NULL };
		static const char *const hb[] = { "b.example.org", NULL };
		static const char *const hb2[] = { "b2.example.org", NULL };
		static const char *const hc[] = { "c.example.org", NULL };
		json_t *l1 = json_pack("[o,o]", ingress("tenant1-gateway", "a", "10", ha),
		    ingress("tenant1-gateway", "b", "11", hb));
		json_t *l2 = json_pack("[o,o]", ingress("tenant1-gateway", "b", "12", hb2),
		    ingress("default", "c", "13", hc));

		test_cond("relist 1", relist(lv, "Ingress", l1, err, sizeof(err)) == 0);
		test_cond("relist 1: a and b claimed", claimed_now(lv, "a.example.org") &&
		    claimed_now(lv, "b.example.org") && live_objects(lv, "Ingress") == 2);
		test_cond("relist 2", relist(lv, "Ingress", l2, err, sizeof(err)) == 0);
		test_cond("relist 2: a (gone) and b's old host freed",
		    !claimed_now(lv, "a.example.org") && !claimed_now(lv, "b.example.org"));
		test_cond("relist 2: b's new host and c claimed, c by its namespace",
		    claimed_now(lv, "b2.example.org") &&
		    strcmp(owner_of(lv, "c.example.org", buf, sizeof(buf)), "namespace/default") == 0);
		test_cond("relist 2: two objects, two claims",
		    live_objects(lv, "Ingress") == 2 && live_claims(lv) == 2);
		json_decref(l1);
		json_decref(l2);
	}
	test_cond("other kinds are counted apart", live_objects(lv, "Namespace") == 0);

	/* Istio's Gateway is keyed apart from Gateway API's: its informer's relist keeps it. */
	{
		json_t *none = json_array(), *l = json_pack("[{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:[{s:[s]}]}}]",
		    "apiVersion", "networking.istio.io/v1", "kind", "Gateway", "metadata",
		    "namespace", "tenant1-gateway", "name", "gw", "resourceVersion", "20", "spec",
		    "servers", "hosts", "./istio.example.org");

		test_cond("relist of Istio Gateways",
		    relist(lv, CLAIMFIELDS_ISTIO_GATEWAY, l, err, sizeof(err)) == 0);
		test_cond("relist of Istio Gateways: stored and claimed",
		    live_objects(lv, CLAIMFIELDS_ISTIO_GATEWAY) == 1 &&
		    claimed_now(lv, "istio.example.org"));
		test_cond("a Gateway API relist leaves them alone",
		    relist(lv, "Gateway", none, err, sizeof(err)) == 0 &&
		    live_objects(lv, CLAIMFIELDS_ISTIO_GATEWAY) == 1);
		json_decref(none);
		json_decref(l);
	}
	live_free(lv);
	test_cond("the config is released once, by live_free", releases == 1);
}

/* ---- readers under a busy writer ---- */

#define READERS 3
#define ROUNDS  999     /* ends on a delete (r % 3 == 2) */

struct hammer {
	struct live *lv;
	atomic_bool  done;
	atomic_long  reads, torn;
};

/*
 * One object holds two hosts of a pair; the writer adds, moves and deletes it. A reader must
 * see both hosts of a pair or neither, and the object count must agree with what it sees.
 */
static void *
reader(void *arg)
{
	struct hammer *h = arg;
	struct live_view v;

	while (!atomic_load(&h->done)) {
		if (live_read_begin(h->lv, &v) != 0)
			continue;
		bool a1 = claimed(&v, "x1.pair-a.com"), a2 = claimed(&v, "x2.pair-a.com");
		bool b1 = claimed(&v, "x1.pair-b.com"), b2 = claimed(&v, "x2.pair-b.com");
		size_t n = v.st->n_objects;

		if (a1 != a2 || b1 != b2 || (a1 && b1) || (n == 1) != (a1 || b1))
			atomic_fetch_add(&h->torn, 1);
		live_read_end(h->lv, &v);
		atomic_fetch_add(&h->reads, 1);
	}
	return NULL;
}

static void
test_concurrent(const struct config *cfg, const struct config *cfg2)
{
	static const char *const pa[] = { "x1.pair-a.com", "x2.pair-a.com", NULL };
	static const char *const pb[] = { "x1.pair-b.com", "x2.pair-b.com", NULL };
	struct hammer h = { .lv = live_new() };
	pthread_t th[READERS];
	char err[256], rv[16];
	int failures = 0;

	atomic_init(&h.done, false);
	atomic_init(&h.reads, 0);
	atomic_init(&h.torn, 0);
	live_set_config(h.lv, cfg, NULL, NULL);
	for (int i = 0; i < READERS; i++)
		pthread_create(&th[i], NULL, reader, &h);
	for (int r = 0; r < ROUNDS; r++) {
		json_t *o;

		snprintf(rv, sizeof(rv), "%d", r);
		o = ingress("tenant1-gateway", "pair", rv, r % 3 == 1 ? pb : pa);
		if (r % 3 == 2)
			failures += live_delete(h.lv, o, err, sizeof(err)) != 0;
		else
			failures += live_upsert(h.lv, o, err, sizeof(err)) != 0;
		json_decref(o);
		if (r % 500 == 250)   /* a config change rebuilds both copies under the readers */
			failures += live_set_config(h.lv, r % 1000 == 250 ? cfg2 : cfg, NULL, NULL) != 0;
	}
	atomic_store(&h.done, true);
	for (int i = 0; i < READERS; i++)
		pthread_join(th[i], NULL);
	printf("# %d writes, %ld reads by %d readers, %ld torn\n", ROUNDS,
	    (long)atomic_load(&h.reads), READERS, (long)atomic_load(&h.torn));
	test_cond("every write succeeded", failures == 0);
	test_cond("readers ran alongside the writer", atomic_load(&h.reads) > ROUNDS);
	test_cond("no reader ever saw half of a pair or a count that disagrees",
	    atomic_load(&h.torn) == 0);
	test_cond("after the last round (a delete) nothing is claimed",
	    live_claims(h.lv) == 0 && live_objects(h.lv, NULL) == 0);
	live_free(h.lv);
}

/* ---- a relaxed collision: the oldest owner keeps the claim ---- */

/* ingress() created at `ts` (RFC 3339). */
static json_t *
ingress_at(const char *ns, const char *name, const char *ts, const char *const *hosts)
{
	json_t *o = ingress(ns, name, "1", hosts);

	json_object_set_new(json_object_get(o, "metadata"), "creationTimestamp", json_string(ts));
	return o;
}

static void
put(struct live *lv, json_t *o)
{
	char err[256];

	if (live_upsert(lv, o, err, sizeof(err)) != 0)
		printf("live_upsert: %s\n", err);
	json_decref(o);
}

static void
drop(struct live *lv, json_t *o)
{
	char err[256];

	if (live_delete(lv, o, err, sizeof(err)) != 0)
		printf("live_delete: %s\n", err);
	json_decref(o);
}

static bool
owned_by(struct live *lv, const char *host, const char *owner)
{
	char buf[128];

	return strcmp(owner_of(lv, host, buf, sizeof(buf)), owner) == 0;
}

static const char *const shared[] = { "shop.newco.com", NULL };
static const char *const shared_and_own[] = { "shop.newco.com", "only.newco.com", NULL };
#define T1 "2026-01-01T00:00:01Z"
#define T2 "2026-01-01T00:00:02Z"
#define T3 "2026-01-01T00:00:03Z"

static void
test_oldest_owner(const struct config *cfg, const struct config *cfg2)
{
	struct live *lv = live_new();

	live_set_config(lv, cfg, NULL, NULL);
	put(lv, ingress_at("tenant1-gateway", "first", T1, shared));
	put(lv, ingress_at("tenant2-gateway", "later", T2, shared_and_own));
	test_cond("oldest: the first owner alone holds the shared host",
	    owned_by(lv, "shop.newco.com", "tenant/tenant1"));
	test_cond("oldest: the later object's other host protects nothing either",
	    !claimed_now(lv, "only.newco.com"));
	test_cond("oldest: the later object is still stored (the audit reports it)",
	    live_objects(lv, "Ingress") == 2 && live_claims(lv) == 1);
	json_t *stored = live_get(lv, "Ingress", "tenant2-gateway", "later");
	test_cond("oldest: live_get returns it", stored != NULL);
	json_decref(stored);

	put(lv, ingress_at("tenant1-gateway", "more", T3, shared));
	test_cond("oldest: the first owner adds the host again: same owner, no collision",
	    owned_by(lv, "shop.newco.com", "tenant/tenant1") && live_claims(lv) == 2);
	drop(lv, ingress_at("tenant1-gateway", "more", T3, shared));

	/* An update of the later object keeps it out. */
	put(lv, ingress_at("tenant2-gateway", "later", T2, shared_and_own));
	test_cond("oldest: an update of the later object changes nothing",
	    owned_by(lv, "shop.newco.com", "tenant/tenant1") && !claimed_now(lv, "only.newco.com"));

	test_cond("oldest: a new config rebuilds oldest first",
	    live_set_config(lv, cfg2, NULL, NULL) == 0 &&
	    owned_by(lv, "shop.newco.com", "tenant/tenant1") && !claimed_now(lv, "only.newco.com"));

	drop(lv, ingress_at("tenant1-gateway", "first", T1, shared));
	test_cond("oldest: once the first owner's object is gone the later one takes its claims",
	    owned_by(lv, "shop.newco.com", "tenant/tenant2") &&
	    owned_by(lv, "only.newco.com", "tenant/tenant2"));
	put(lv, ingress_at("tenant1-gateway", "first", T3, shared));
	test_cond("oldest: recreated (now the younger), it takes nothing back",
	    owned_by(lv, "shop.newco.com", "tenant/tenant2") && live_claims(lv) == 2);
	live_free(lv);

	/* The older object arrives second (another informer, a relist): it still wins. */
	lv = live_new();
	live_set_config(lv, cfg, NULL, NULL);
	put(lv, ingress_at("tenant2-gateway", "later", T2, shared_and_own));
	put(lv, ingress_at("default", "unrelated", T3, (const char *const[]){ "x.other.org", NULL }));
	put(lv, ingress_at("tenant1-gateway", "first", T1, shared));
	test_cond("oldest: the older object arriving second takes the claim",
	    owned_by(lv, "shop.newco.com", "tenant/tenant1") &&
	    !claimed_now(lv, "only.newco.com") && claimed_now(lv, "x.other.org") &&
	    live_claims(lv) == 2);
	live_free(lv);

	/* One relist holding both, the younger first. */
	lv = live_new();
	live_set_config(lv, cfg, NULL, NULL);
	{
		char err[256];
		json_t *l = json_pack("[o,o]", ingress_at("tenant2-gateway", "later", T2,
		    shared_and_own), ingress_at("tenant1-gateway", "first", T1, shared));
		test_cond("oldest: relist", relist(lv, "Ingress", l, err, sizeof(err)) == 0);
		test_cond("oldest: relist keeps the oldest owner",
		    owned_by(lv, "shop.newco.com", "tenant/tenant1") && !claimed_now(lv, "only.newco.com"));
		json_decref(l);
	}
	live_free(lv);

	/* Created in the same second: the name decides, as in the audit. */
	lv = live_new();
	live_set_config(lv, cfg, NULL, NULL);
	put(lv, ingress_at("tenant2-gateway", "b", T1, shared));
	put(lv, ingress_at("tenant1-gateway", "a", T1, shared));
	test_cond("oldest: same second, tenant1-gateway/a before tenant2-gateway/b",
	    owned_by(lv, "shop.newco.com", "tenant/tenant1") && live_claims(lv) == 1);
	live_free(lv);
}

/* The reconciler's sweep lists its own objects only, each as live_list gives it. */
static void
test_labelled(const struct config *cfg)
{
	static const char *const h[] = { "own.example.org", NULL };
	static const char *const h2[] = { "other.example.org", NULL };
	struct live *lv = live_new();
	char err[256];
	json_t *mine = ingress("tenant1-gateway", "mine", "1", h);
	json_t *other = ingress("tenant1-gateway", "other", "2", h2);

	json_object_set_new(json_object_get(mine, "metadata"), "labels",
	    json_pack("{s:s, s:s}", "app", "x", "app.kubernetes.io/managed-by", "tenantguard"));
	json_object_set_new(json_object_get(other, "metadata"), "labels",
	    json_pack("{s:s}", "app.kubernetes.io/managed-by", "helm"));
	live_set_config(lv, cfg, NULL, NULL);
	test_cond("labelled: two Ingresses stored", live_upsert(lv, mine, err, sizeof(err)) == 0 &&
	    live_upsert(lv, other, err, sizeof(err)) == 0 && live_objects(lv, "Ingress") == 2);
	json_t *all = live_list(lv, "Ingress", NULL);
	json_t *own = live_list_labelled(lv, "Ingress", NULL, "app.kubernetes.io/managed-by",
	    "tenantguard");
	json_t *none = live_list_labelled(lv, "Ingress", NULL, "app", "y");
	const json_t *want = NULL, *o;
	size_t i;

	json_array_foreach(all, i, o)
		if (strcmp(json_string_value(jsonget_path(o, "metadata.name")) ?
		    json_string_value(jsonget_path(o, "metadata.name")) : "", "mine") == 0)
			want = o;
	test_cond("labelled: only the object labelled so, whole as live_list has it",
	    json_array_size(own) == 1 && want != NULL && json_equal(json_array_get(own, 0), want));
	test_cond("labelled: a value nobody has lists nothing",
	    none != NULL && json_array_size(none) == 0);
	json_decref(all);
	json_decref(own);
	json_decref(none);
	json_decref(mine);
	json_decref(other);
	live_free(lv);
}

/* What the cache keeps of an object: what the periodic audit's rules read. */
static void
test_trim(void)
{
	json_t *ing = json_pack("{s:s, s:{s:s, s:{s:s, s:s}, s:[{}]}, s:{}}", "kind", "Ingress",
	    "metadata", "name", "a", "annotations", "nginx.ingress.kubernetes.io/server-snippet",
	    "return 200;", "kubectl.kubernetes.io/last-applied-configuration", "{\"big\": 1}",
	    "managedFields", "status");
	json_t *svc = json_pack("{s:s, s:{s:s, s:{s:s}}, s:{s:s, s:[s]}}", "kind", "Service",
	    "metadata", "name", "s", "annotations", "a", "b", "spec", "type", "NodePort",
	    "externalIPs", "203.0.113.9");
	json_t *ti = liveobj_trim(ing), *ts = liveobj_trim(svc);
	const json_t *annos = json_object_get(json_object_get(ti, "metadata"), "annotations");

	test_cond("trim: an Ingress keeps its annotations",
	    json_string_value(json_object_get(annos, "nginx.ingress.kubernetes.io/server-snippet")) &&
	    strcmp(json_string_value(json_object_get(annos,
	    "nginx.ingress.kubernetes.io/server-snippet")), "return 200;") == 0);
	test_cond("trim: kubectl's last-applied copy is kept as a key only", json_is_string(
	    json_object_get(annos, "kubectl.kubernetes.io/last-applied-configuration")) &&
	    json_string_length(json_object_get(annos,
	    "kubectl.kubernetes.io/last-applied-configuration")) == 0);
	test_cond("trim: no managedFields, no status", json_object_get(json_object_get(ti,
	    "metadata"), "managedFields") == NULL && json_object_get(ti, "status") == NULL);
	test_cond("trim: a Service keeps its spec, not its annotations",
	    json_object_get(json_object_get(ts, "metadata"), "annotations") == NULL &&
	    json_equal(json_object_get(ts, "spec"), json_object_get(svc, "spec")));
	json_decref(ing);
	json_decref(svc);
	json_decref(ti);
	json_decref(ts);
}

int
main(void)
{
	char err[512];
	struct config *cfg = config_load_default(err, sizeof(err));
	struct config *cfg2 = config_load_default(err, sizeof(err));

	test_cond("default config loads", cfg != NULL && cfg2 != NULL);
	if (cfg == NULL || cfg2 == NULL)
		return test_report();
	test_incremental(cfg);
	test_concurrent(cfg, cfg2);
	test_oldest_owner(cfg, cfg2);
	test_trim();
	test_labelled(cfg);
	config_free(cfg);
	config_free(cfg2);
	return test_report();
}
