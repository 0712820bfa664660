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

static int
keep(json_t *obj, size_t i, void *arg)
{
	json_t *out = arg;
	/* the index counts every object the walk saw, in order */
	if (i != json_array_size(out))
		return -1;
	return json_array_append(out, obj) == 0 ? 0 : -1;
}

/* The objects statejson_each hands out for text, as an array; *rc its answer. */
static json_t *
walk(const char *text, bool scratch, int *rc)
{
	json_t *out = json_array();
	*rc = statejson_each(text, strlen(text), scratch, keep, out);
	return out;
}

static int
count_only(json_t *obj, size_t i, void *arg)
{
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
	json_t *got = walk(text, false, &rc), *want = json_loads(want_json, 0, NULL);

	snprintf(d, sizeof(d), "%s: walked", descr);
	test_cond(d, rc == 0);
	snprintf(d, sizeof(d), "%s: the objects, in order", descr);
	test_cond(d, want != NULL && json_equal(got, want));
	json_decref(got);
	json_decref(want);

	/* In the arena the same walk sees as many objects (none may be kept there). */
	size_t n = 0, m = 0;
	rc = statejson_each(text, strlen(text), true, count_only, &n);
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
	json_t *got = walk(text, false, &rc);

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
stop_second(json_t *obj, size_t i, void *arg)
{
	(void)obj;
	(void)arg;
	return i == 1 ? -1 : 0;
}

static void
test_stop(void)
{
	const char *t = "[{\"kind\":\"A\"},{\"kind\":\"B\"},{\"kind\":\"C\"}]";
	test_cond("the callback's answer stops the walk",
	    statejson_each(t, strlen(t), true, stop_second, NULL) == -1);
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

int
main(void)
{
	test_shapes();
	test_declined();
	test_stop();
	test_load_same();
	return test_report();
}
