/* SPDX-License-Identifier: Apache-2.0 */
/* test_statejson: JSON state walked object by object sees what the YAML reader sees. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "claims.h"
#include "config.h"
#include "config_load.h"
#include "state.h"
#include "statefile.h"
#include "statejson.h"
#include "testhelp.h"

static char err[1024];

/* What keep collects: the objects, and whether each one's text is where the walk said. */
struct kept {
	const char *text;
	json_t     *out;
	bool        spans;
};

static int
keep(json_t *obj, size_t i, size_t start, size_t end, void *arg)
{
	struct kept *k = arg;
	/* text[start, end) is the object alone, nothing before or after it */
	json_t *again = start < end ? json_loadb(k->text + start, end - start,
	    JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL) : NULL;

	k->spans &= again != NULL && json_equal(again, obj) && k->text[start] != ' ';
	json_decref(again);
	/* the index counts every object the walk saw, in order */
	if (i != json_array_size(k->out))
		return -1;
	return json_array_append(k->out, obj) == 0 ? 0 : -1;
}

/* The objects statejson_each hands out for text, as an array; *rc its answer, *spans
 * whether each one's start and end bound its text. */
static json_t *
walk(const char *text, bool scratch, int *rc, bool *spans)
{
	struct kept k = { text, json_array(), true };
	*rc = statejson_each(text, strlen(text), NULL, scratch, keep, &k);
	*spans = k.spans;
	return k.out;
}

static int
count_only(json_t *obj, size_t i, size_t start, size_t end, void *arg)
{
	(void)start;
	(void)end;
	(void)i;
	size_t *n = arg;
	*n += json_is_object(obj) && json_object_get(obj, "kind") != NULL;
	return 0;
}

static void
expect_objects(const char *descr, const char *text, const char *want_json)
{
	char d[512];
	int rc;
	bool spans;
	json_t *got = walk(text, false, &rc, &spans), *want = json_loads(want_json, 0, NULL);

	snprintf(d, sizeof(d), "%s: walked", descr);
	test_cond(d, rc == 0);
	snprintf(d, sizeof(d), "%s: the objects, in order", descr);
	test_cond(d, want != NULL && json_equal(got, want));
	snprintf(d, sizeof(d), "%s: each object's text where the walk says", descr);
	test_cond(d, spans);
	json_decref(got);
	json_decref(want);

	/* In the arena the same walk sees as many objects (none may be kept there). */
	size_t n = 0, m = 0;
	rc = statejson_each(text, strlen(text), NULL, true, count_only, &n);
	want = json_loads(want_json, 0, NULL);
	for (size_t i = 0; i < json_array_size(want); i++)
		m += json_object_get(json_array_get(want, i), "kind") != NULL;
	snprintf(d, sizeof(d), "%s: the same walk in the arena", descr);
	test_cond(d, rc == 0 && n == m);
	json_decref(want);
}

static void
expect_declined(const char *descr, const char *text)
{
	char d[512];
	int rc;
	bool spans;
	json_t *got = walk(text, false, &rc, &spans);

	snprintf(d, sizeof(d), "%s: left to the YAML reader", descr);
	test_cond(d, rc == STATEJSON_NOT_JSON);
	json_decref(got);
}

static void
test_shapes(void)
{
	expect_objects("List", " {\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":"
	    "[{\"kind\":\"A\",\"metadata\":{\"name\":\"a\"}}, {\"kind\":\"B\"}]}\n",
	    "[{\"kind\":\"A\",\"metadata\":{\"name\":\"a\"}},{\"kind\":\"B\"}]");
	/* kubectl get -o json writes the members sorted: items before kind */
	expect_objects("kind after items", "{\"apiVersion\":\"v1\",\"items\":[{\"kind\":\"A\"}],"
	    "\"kind\":\"IngressList\",\"metadata\":{\"resourceVersion\":\"7\"}}",
	    "[{\"kind\":\"A\"}]");
	expect_objects("empty List", "{\"kind\":\"List\",\"items\":[]}", "[]");
	expect_objects("null items", "{\"kind\":\"List\",\"items\":null}", "[]");
	expect_objects("array", "[ {\"kind\":\"A\"} ,{\"kind\":\"B\",\"n\":[1,2.5,\"x\\\"]\"]}]",
	    "[{\"kind\":\"A\"},{\"kind\":\"B\",\"n\":[1,2.5,\"x\\\"]\"]}]");
	expect_objects("elements as they are", "[null, 3, {\"kind\":\"A\"}]",
	    "[null, 3, {\"kind\":\"A\"}]");
	expect_objects("one object", "{\"kind\":\"Ingress\",\"metadata\":{\"name\":\"x\"}}",
	    "[{\"kind\":\"Ingress\",\"metadata\":{\"name\":\"x\"}}]");
	expect_objects("a List-kind without items is one object", "{\"kind\":\"List\"}",
	    "[{\"kind\":\"List\"}]");
	expect_objects("an items string of a non-List", "{\"kind\":\"A\",\"items\":\"x\"}",
	    "[{\"kind\":\"A\",\"items\":\"x\"}]");
	expect_objects("empty array", " [ ] ", "[]");
}

static void
test_declined(void)
{
	expect_declined("YAML", "kind: List\nitems: []\n");
	expect_declined("empty", "  \n");
	expect_declined("scalar", "42");
	expect_declined("trailing text", "{\"kind\":\"A\"} x");
	expect_declined("two documents", "{\"kind\":\"A\"}\n---\n{\"kind\":\"B\"}\n");
	expect_declined("duplicate member", "{\"kind\":\"List\",\"kind\":\"List\",\"items\":[]}");
	expect_declined("duplicate items", "{\"kind\":\"List\",\"items\":[],\"items\":[]}");
	expect_declined("duplicate key in an item", "[{\"kind\":\"A\",\"kind\":\"B\"}]");
	expect_declined("items not a list", "{\"kind\":\"List\",\"items\":{}}");
	expect_declined("an object with an items array", "{\"kind\":\"A\",\"items\":[1]}");
	expect_declined("cut short", "{\"kind\":\"List\",\"items\":[{\"kind\":\"A\"}");
	expect_declined("missing comma", "[{\"kind\":\"A\"} {\"kind\":\"B\"}]");
	expect_declined("bare key", "{kind:\"A\"}");
	expect_declined("trailing comma", "[{\"kind\":\"A\"},]");
}

/* A stop from the callback comes back as it was. */
static int
stop_second(json_t *obj, size_t i, size_t start, size_t end, void *arg)
{
	(void)start;
	(void)end;
	(void)obj;
	(void)arg;
	return i == 1 ? -1 : 0;
}

static void
test_stop(void)
{
	const char *t = "[{\"kind\":\"A\"},{\"kind\":\"B\"},{\"kind\":\"C\"}]";
	test_cond("the callback's answer stops the walk",
	    statejson_each(t, strlen(t), NULL, true, stop_second, NULL) == -1);
}

/* The same cluster as JSON (streamed) and as YAML (read whole) gives the same claims. */
static void
test_load_same(void)
{
	struct config *cfg = config_load_default(err, sizeof(err));
	char jpath[64], ypath[64];
	struct state *js, *ys;

	if (cfg == NULL)
		return;
	test_write_tmp(jpath, sizeof(jpath), "tg-statejson", "{\"apiVersion\":\"v1\",\"items\":["
	    "{\"kind\":\"Ingress\",\"metadata\":{\"name\":\"web\",\"namespace\":\"tenant1-gateway\","
	    "\"managedFields\":[{\"manager\":\"kubectl\"}]},\"spec\":{\"rules\":[{\"host\":"
	    "\"shop.customer.com\"}],\"tls\":[{\"hosts\":[\"tls.newco.com\"]}]}},"
	    "{\"kind\":\"Ingress\",\"metadata\":{\"name\":\"other\",\"namespace\":\"team-a\"},"
	    "\"spec\":{\"rules\":[{\"host\":\"app.newco.com\"}]},\"status\":{}},"
	    "{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"team-a\"}}],\"kind\":\"List\"}");
	test_write_tmp(ypath, sizeof(ypath), "tg-statejson", "kind: List\nitems:\n"
	    "- kind: Ingress\n  metadata: {name: web, namespace: tenant1-gateway}\n"
	    "  spec:\n    rules: [{host: shop.customer.com}]\n    tls: [{hosts: [tls.newco.com]}]\n"
	    "- kind: Ingress\n  metadata: {name: other, namespace: team-a}\n"
	    "  spec: {rules: [{host: app.newco.com}]}\n"
	    "- kind: Namespace\n  metadata: {name: team-a}\n");
	js = statefile_load(cfg, jpath, err, sizeof(err));
	test_cond("JSON state loads", js != NULL);
	ys = statefile_load(cfg, ypath, err, sizeof(err));
	test_cond("YAML state loads", ys != NULL);
	if (js != NULL && ys != NULL) {
		test_cond("as many objects", js->n_objects == 3 && ys->n_objects == 3);
		test_cond("as many claims", claims_count(js->claims) == 3 &&
		    claims_count(ys->claims) == 3);
		const char *hosts[] = { "shop.customer.com", "tls.newco.com", "app.newco.com" };
		const char *owners[] = { "tenant/tenant1", "tenant/tenant1", "namespace/team-a" };
		for (size_t i = 0; i < 3; i++) {
			uint32_t jo = state_owner_lookup(js, owners[i]);
			uint32_t yo = state_owner_lookup(ys, owners[i]);
			test_cond(hosts[i], jo != CLAIMS_NO_OWNER && yo != CLAIMS_NO_OWNER &&
			    claims_holds(js->claims, hosts[i], jo) &&
			    claims_holds(ys->claims, hosts[i], yo));
		}
	}
	state_free(js);
	state_free(ys);

	/* A bad object in a streamed List is named as the YAML path names it. */
	unlink(jpath);
	test_write_tmp(jpath, sizeof(jpath), "tg-statejson", "{\"kind\":\"List\",\"items\":[{\"kind\":\"Ingress\","
	    "\"metadata\":{\"name\":\"a\"}},{\"kind\":\"Ingress\",\"metadata\":{}}]}");
	js = statefile_load(cfg, jpath, err, sizeof(err));
	test_cond("a bad object refuses the file, named", js == NULL &&
	    strstr(err, jpath) != NULL && strstr(err, "object [1] (Ingress) has no metadata.name"));
	state_free(js);

	/* JSON the walk declines still loads, through the YAML reader. */
	unlink(jpath);
	test_write_tmp(jpath, sizeof(jpath), "tg-statejson", "{\"kind\":\"Ingress\",\"items\":[1],\"metadata\":"
	    "{\"name\":\"x\",\"namespace\":\"team-a\"},\"spec\":{\"rules\":[{\"host\":\"b.newco.com\"}]}}");
	js = statefile_load(cfg, jpath, err, sizeof(err));
	test_cond("declined JSON loads the YAML way", js != NULL && js->n_objects == 1 &&
	    claims_count(js->claims) == 1);
	state_free(js);
	/* and a duplicate key is refused with the YAML reader's line */
	unlink(jpath);
	test_write_tmp(jpath, sizeof(jpath), "tg-statejson", "{\"kind\":\"List\",\n\"items\":[{\"kind\":\"A\",\n"
	    "\"kind\":\"B\"}]}");
	js = statefile_load(cfg, jpath, err, sizeof(err));
	test_cond("a duplicate key is refused with its line", js == NULL &&
	    strstr(err, ":3:") != NULL);
	state_free(js);
	unlink(jpath);
	unlink(ypath);
	config_free(cfg);
}

/* What a state files, as text: "owner object pattern" lines, sorted. */
struct filed {
	json_t     *lines;
	const char *owner;
};

static void
filed_claim(const char *key, const char *pattern, void *arg)
{
	struct filed *f = arg;
	char line[1024];
	snprintf(line, sizeof(line), "%s %s %s", f->owner, key, pattern);
	json_array_append_new(f->lines, json_string(line));
}

static int
by_text(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static char *
filed_text(const struct state *st)
{
	struct filed f = { json_array(), NULL };
	size_t n, total = 1;

	for (uint32_t o = 0; o < st->n_owners; o++) {
		f.owner = st->owners[o];
		state_owner_objects(st, o, filed_claim, &f);
	}
	n = json_array_size(f.lines);
	const char **v = calloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		v[i] = json_string_value(json_array_get(f.lines, i));
		total += strlen(v[i]) + 1;
	}
	qsort(v, n, sizeof(*v), by_text);
	char *out = calloc(1, total), *at = out;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(v[i]);
		memcpy(at, v[i], len);
		at[len] = '\n';
		at += len + 1;
	}
	free(v);
	json_decref(f.lines);
	return out;
}

/*
 * statefile_load builds only state_object_fields of each item: for every kind that claims,
 * the index is the one the whole objects give (statefile_read_objects keeps everything).
 */
static void
test_trimmed_same(void)
{
	struct config *cfg = config_load_default(err, sizeof(err));
	char path[64];
	const char *extra = "\"annotations\":{\"a\":\"b\"},\"labels\":{\"x\":\"y\"},"
	    "\"managedFields\":[{\"manager\":\"kubectl\",\"fieldsV1\":{\"f:spec\":{}}}]";
	char text[8192];

	if (cfg == NULL)
		return;
	snprintf(text, sizeof(text), "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":["
	    /* a tenant's Ingress: rule and TLS hosts */
	    "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",\"metadata\":{\"name\":\"web\","
	    "\"namespace\":\"tenant1-gateway\",%s},\"spec\":{\"ingressClassName\":\"higress\","
	    "\"rules\":[{\"host\":\"shop.customer.com\",\"http\":{\"paths\":[{\"path\":\"/\"}]}}],"
	    "\"tls\":[{\"hosts\":[\"tls.newco.com\",\"*.w.newco.com\"],\"secretName\":\"s\"}]},"
	    "\"status\":{\"loadBalancer\":{}}},"
	    /* the unified entry Ingress: one rule by its bridge backend, one by its host's owner */
	    "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",\"metadata\":{\"name\":\"entry\","
	    "\"namespace\":\"%s\",%s},\"spec\":{\"rules\":["
	    "{\"host\":\"api.bridged.example.org\",\"http\":{\"paths\":[{\"path\":\"/\",\"backend\":"
	    "{\"service\":{\"name\":\"tenant2-gateway\",\"port\":{\"number\":80}}}}]}},"
	    "{\"host\":\"www.customer.com\",\"http\":{\"paths\":[{\"backend\":{\"service\":"
	    "{\"name\":\"web\"}}}]}},{\"host\":\"plain.entry.example.org\"}]}},"
	    "{\"apiVersion\":\"gateway.networking.k8s.io/v1\",\"kind\":\"HTTPRoute\",\"metadata\":"
	    "{\"name\":\"r\",\"namespace\":\"team-a\",%s},\"spec\":{\"hostnames\":[\"r.newco.com\"],"
	    "\"rules\":[{\"backendRefs\":[{\"name\":\"x\"}]}]}},"
	    "{\"apiVersion\":\"gateway.networking.k8s.io/v1\",\"kind\":\"GRPCRoute\",\"metadata\":"
	    "{\"name\":\"g\",\"namespace\":\"team-a\"},\"spec\":{\"hostnames\":[\"g.newco.com\"]}},"
	    "{\"apiVersion\":\"gateway.networking.k8s.io/v1alpha2\",\"kind\":\"TLSRoute\",\"metadata\":"
	    "{\"name\":\"t\",\"namespace\":\"team-b\"},\"spec\":{\"hostnames\":[\"t.newco.com\"]}},"
	    "{\"apiVersion\":\"gateway.networking.k8s.io/v1\",\"kind\":\"Gateway\",\"metadata\":"
	    "{\"name\":\"gw\",\"namespace\":\"team-b\"},\"spec\":{\"gatewayClassName\":\"higress\","
	    "\"listeners\":[{\"name\":\"l\",\"hostname\":\"gw.newco.com\",\"port\":443}]}},"
	    "{\"apiVersion\":\"gateway.networking.k8s.io/v1\",\"kind\":\"ListenerSet\",\"metadata\":"
	    "{\"name\":\"ls\",\"namespace\":\"team-b\"},\"spec\":{\"listeners\":[{\"hostname\":"
	    "\"ls.newco.com\"}]}},"
	    "{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":\"VirtualService\",\"metadata\":"
	    "{\"name\":\"vs\",\"namespace\":\"team-a\"},\"spec\":{\"hosts\":[\"vs.newco.com\",\"short\","
	    "\"x.team-a.svc.cluster.local\"],\"http\":[{\"route\":[]}]}},"
	    "{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":\"Gateway\",\"metadata\":"
	    "{\"name\":\"igw\",\"namespace\":\"team-a\"},\"spec\":{\"servers\":[{\"hosts\":"
	    "[\"team-a/ig.newco.com\",\"*\"],\"port\":{\"number\":80}}]}},"
	    "{\"apiVersion\":\"tenantguard.io/v1alpha1\",\"kind\":\"Tenant\",\"metadata\":"
	    "{\"name\":\"tenant9\"},\"spec\":{\"domains\":[\"t9.example.net\"]}},"
	    "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"team-a\"}}]}",
	    extra, cfg->entry_namespace, extra, extra);
	test_write_tmp(path, sizeof(path), "tg-statejson", text);

	struct state *trimmed = statefile_load(cfg, path, err, sizeof(err));
	json_t *objects = statefile_read_objects(path, err, sizeof(err));
	struct state *whole = objects != NULL ?
	    statefile_from_objects(cfg, objects, err, sizeof(err)) : NULL;
	test_cond("the trimmed and the whole objects load", trimmed != NULL && whole != NULL);
	if (trimmed != NULL && whole != NULL) {
		char *t = filed_text(trimmed), *w = filed_text(whole);
		test_cond("as many objects, trimmed or whole", trimmed->n_objects == 11 &&
		    whole->n_objects == 11);
		test_cond("every kind filed claims (13 hosts)",
		    claims_count(whole->claims) == 13);
		test_cond("the same claims under the same owners and objects, trimmed or whole",
		    strcmp(t, w) == 0 && claims_count(trimmed->claims) == claims_count(whole->claims));
		test_cond("the bridge backend gives the entry rule to its tenant",
		    strstr(t, "tenant/tenant2 Ingress/") != NULL);
		if (strcmp(t, w) != 0)
			printf("trimmed:\n%swhole:\n%s", t, w);
		free(t);
		free(w);
	}
	state_free(trimmed);
	state_free(whole);
	json_decref(objects);
	unlink(path);
	config_free(cfg);
}

/* Past the sample the tables are sized for the whole file: every object is still filed. */
static void
test_many(void)
{
	struct config *cfg = config_load_default(err, sizeof(err));
	enum { N = 3000 };
	size_t cap = (size_t)N * 200 + 64, at = 0;
	char *text = malloc(cap), path[64];

	if (cfg == NULL || text == NULL)
		return;
	at += (size_t)snprintf(text, cap, "{\"kind\":\"List\",\"items\":[");
	for (int i = 0; i < N; i++)
		at += (size_t)snprintf(text + at, cap - at, "%s{\"apiVersion\":\"networking.k8s.io/v1\","
		    "\"kind\":\"Ingress\",\"metadata\":{\"name\":\"i%d\",\"namespace\":\"team-%d\"},"
		    "\"spec\":{\"rules\":[{\"host\":\"h%d.app%d.newco.com\"}]}}", i ? "," : "", i, i % 7,
		    i, i / 50);
	snprintf(text + at, cap - at, "]}");
	test_write_tmp(path, sizeof(path), "tg-statejson", text);
	struct state *st = statefile_load(cfg, path, err, sizeof(err));
	test_cond("3000 objects load, past the sizing sample", st != NULL && st->n_objects == N &&
	    claims_count(st->claims) == N);
	test_cond("the first and the last are filed under their namespaces", st != NULL &&
	    claims_holds(st->claims, "h0.app0.newco.com", state_owner_lookup(st, "namespace/team-0")) &&
	    claims_holds(st->claims, "h2999.app59.newco.com",
	    state_owner_lookup(st, "namespace/team-3")));
	state_free(st);
	unlink(path);
	free(text);
	config_free(cfg);
}

int
main(void)
{
	test_shapes();
	test_declined();
	test_stop();
	test_load_same();
	test_trimmed_same();
	test_many();
	return test_report();
}
