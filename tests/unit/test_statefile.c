/* SPDX-License-Identifier: Apache-2.0 */
/* test_statefile: the --state file shapes (List, array, YAML stream) and their refusals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "claims.h"
#include "config.h"
#include "config_load.h"
#include "state.h"
#include "statefile.h"
#include "testhelp.h"

static char err[1024];
static char path[64];

static json_t *
read_text(const char *text)
{
	test_write_tmp(path, sizeof(path), "tg-state", text);
	json_t *objs = statefile_read_objects(path, err, sizeof(err));
	unlink(path);
	return objs;
}

static const char *
name_of(const json_t *objs, size_t i)
{
	const char *s = json_string_value(json_object_get(json_object_get(
	    json_array_get(objs, i), "metadata"), "name"));
	return s ? s : "";
}

static void
expect_fail(const char *descr, const char *text, const char *word)
{
	char d[2048];
	json_t *objs = read_text(text);

	snprintf(d, sizeof(d), "%s: refused", descr);
	test_cond(d, objs == NULL);
	snprintf(d, sizeof(d), "%s: message names the file and has \"%s\" (got: %s)", descr,
	    word, err);
	test_cond(d, strncmp(err, "/tmp/tg-state-", 14) == 0 && strstr(err, word) != NULL);
	json_decref(objs);
}

static void
test_shapes(void)
{
	json_t *objs = read_text("{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": ["
	    "{\"kind\": \"Namespace\", \"metadata\": {\"name\": \"a\"}},"
	    "{\"kind\": \"Service\", \"metadata\": {\"name\": \"b\", \"namespace\": \"a\"}}]}");
	test_cond("JSON List", json_array_size(objs) == 2 && strcmp(name_of(objs, 1), "b") == 0);
	json_decref(objs);

	objs = read_text("apiVersion: networking.k8s.io/v1\nkind: IngressList\nitems:\n"
	    "- kind: Ingress\n  metadata: {name: x, namespace: default}\n");
	test_cond("YAML *List", json_array_size(objs) == 1 && strcmp(name_of(objs, 0), "x") == 0);
	json_decref(objs);

	objs = read_text("kind: List\nitems:\n");
	test_cond("List with no items", json_is_array(objs) && json_array_size(objs) == 0);
	json_decref(objs);

	objs = read_text("[{\"kind\": \"Namespace\", \"metadata\": {\"name\": \"n1\"}},"
	    " {\"kind\": \"Namespace\", \"metadata\": {\"name\": \"n2\"}}]");
	test_cond("JSON array", json_array_size(objs) == 2 && strcmp(name_of(objs, 0), "n1") == 0);
	json_decref(objs);

	objs = read_text("---\nkind: Namespace\nmetadata: {name: a}\n---\n---\n"
	    "kind: Namespace\nmetadata:\n  name: b\n...\n");
	test_cond("YAML stream, empty documents skipped", json_array_size(objs) == 2 &&
	    strcmp(name_of(objs, 1), "b") == 0);
	json_decref(objs);

	objs = read_text("kind: Namespace\nmetadata: {name: only}\n");
	test_cond("one object", json_array_size(objs) == 1);
	json_decref(objs);

	objs = read_text("");
	test_cond("empty file: no objects", json_is_array(objs) && json_array_size(objs) == 0);
	json_decref(objs);

	objs = read_text("kind: Namespace\nmetadata: {name: a}\n---\nkind: List\nitems:\n"
	    "- kind: Namespace\n  metadata: {name: b}\n");
	test_cond("a List inside a stream is flattened", json_array_size(objs) == 2);
	json_decref(objs);
}

static void
test_refusals(void)
{
	expect_fail("item without kind", "[{\"kind\": \"A\", \"metadata\": {\"name\": \"a\"}},"
	    " {\"metadata\": {\"name\": \"b\"}}]", "object [1] has no kind");
	expect_fail("item without name", "kind: List\nitems:\n- kind: A\n  metadata: {}\n",
	    "object [0] (A) has no metadata.name");
	expect_fail("item not a mapping", "- kind: A\n  metadata: {name: a}\n- 5\n",
	    "object [1] is not a mapping");
	expect_fail("items not a list", "kind: List\nitems: {a: 1}\n", "must be a list");
	expect_fail("YAML error has a line", "kind: A\nmetadata: {name: [\n", ":3:");
	expect_fail("duplicate key", "kind: A\nkind: B\nmetadata: {name: a}\n", "duplicate");

	json_t *objs = statefile_read_objects("/nonexistent/state.yaml", err, sizeof(err));
	test_cond("missing file", objs == NULL && strstr(err, "/nonexistent/state.yaml: ") != NULL);
	json_decref(objs);
}

static void
test_build(void)
{
	struct config *cfg = config_load_default(err, sizeof(err));
	struct state *st;

	if (cfg == NULL)
		return;
	test_write_tmp(path, sizeof(path), "tg-state", "kind: List\nitems:\n"
	    "- apiVersion: networking.k8s.io/v1\n  kind: Ingress\n"
	    "  metadata: {name: web, namespace: tenant1-gateway}\n"
	    "  spec:\n    rules:\n    - host: shop.customer.com\n"
	    "- kind: Namespace\n  metadata: {name: tenant1-gateway}\n");
	st = statefile_load(cfg, path, err, sizeof(err));
	unlink(path);
	test_cond("state loads", st != NULL);
	if (st != NULL) {
		test_cond("objects counted", st->n_objects == 2);
		uint32_t id = state_owner_lookup(st, "tenant/tenant1"), owner = CLAIMS_NO_OWNER;
		test_cond("tenant1 owns the host", id != CLAIMS_NO_OWNER &&
		    claims_find(st->claims, "shop.customer.com", CLAIMS_OVERLAP, CLAIMS_NO_OWNER,
		    &owner, 1) == 1 && owner == id);
	}
	state_free(st);

	json_t *bad = json_pack("[{s:s}]", "kind", "Ingress");
	st = statefile_from_objects(cfg, bad, err, sizeof(err));
	test_cond("statefile_from_objects checks shape", st == NULL && strstr(err, "object [0]"));
	state_free(st);
	json_decref(bad);

	bad = json_pack("{s:s}", "kind", "List");
	st = statefile_from_objects(cfg, bad, err, sizeof(err));
	test_cond("statefile_from_objects wants an array", st == NULL);
	state_free(st);
	json_decref(bad);
	config_free(cfg);
}

/*
 * statefile_open + statefile_index (review's streamed read) against statefile_read_objects +
 * statefile_select_tenants + statefile_from_objects (everything decoded and kept): the same
 * refusals word for word, the same Tenant objects whole, the same index.
 */
static void
expect_open_same(const struct config *cfg, const char *descr, const char *text)
{
	char d[2600], oerr[1024], nerr[1024];
	json_t *objs, *tenants = NULL;
	struct statefile *sf;
	struct state *old = NULL, *neu = NULL;

	test_write_tmp(path, sizeof(path), "tg-state", text);
	objs = statefile_read_objects(path, oerr, sizeof(oerr));
	sf = statefile_open(path, true, nerr, sizeof(nerr));
	unlink(path);
	snprintf(d, sizeof(d), "%s: read alike (%s | %s)", descr, objs ? "ok" : oerr,
	    sf ? "ok" : nerr);
	test_cond(d, (objs == NULL) == (sf == NULL) && (objs != NULL || strcmp(oerr, nerr) == 0));
	if (objs != NULL && sf != NULL) {
		tenants = statefile_select_tenants(objs);
		snprintf(d, sizeof(d), "%s: the same Tenant objects, whole (%zu)", descr,
		    json_array_size(tenants));
		test_cond(d, json_equal(tenants, statefile_tenants(sf)));
		struct audit_source src;
		statefile_audit_source(sf, &src);
		bool same = src.n == json_array_size(objs);
		for (size_t i = 0; same && i < json_array_size(objs); i++) {
			const json_t *o = json_array_get(objs, i);
			const char *c = jsonget_str(json_object_get(o, "metadata"), "creationTimestamp");
			const char *sc = src.created(src.arg, i);
			json_t *one = src.object(src.arg, i, NULL);
			same = json_equal(one, o) && (c == NULL ? sc == NULL : sc != NULL &&
			    strcmp(c, sc) == 0);
			json_decref(one);
		}
		snprintf(d, sizeof(d), "%s: object by object, the same objects and times", descr);
		test_cond(d, same);
		old = statefile_from_objects(cfg, objs, oerr, sizeof(oerr));
		neu = statefile_index(sf, cfg, nerr, sizeof(nerr));
		snprintf(d, sizeof(d), "%s: indexed alike", descr);
		test_cond(d, old != NULL && neu != NULL && old->n_objects == neu->n_objects &&
		    claims_count(old->claims) == claims_count(neu->claims));
	}
	state_free(old);
	state_free(neu);
	statefile_close(sf);
	json_decref(tenants);
	json_decref(objs);
}

#define TENANT(name, more) "{\"apiVersion\":\"tenantguard.io/v1alpha1\",\"kind\":\"Tenant\"," \
	"\"metadata\":{\"name\":\"" name "\",\"creationTimestamp\":\"2024-01-0" name "\"" more "}," \
	"\"spec\":{\"customDomains\":[\"*." name ".example.net\"]," \
	"\"x\":[1,2.5e3,true,null,{\"y\":\"}]\\\"\\u00e9\"}]}}"
#define INGRESS(name) "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\"," \
	"\"metadata\":{\"name\":\"" name "\",\"namespace\":\"team-a\"},\"spec\":{\"rules\":" \
	"[{\"host\":\"" name ".newco.com\"}]}}"

static void
test_open(void)
{
	struct config *cfg = config_load_default(err, sizeof(err));
	char nerr[1024];

	if (cfg == NULL)
		return;
	expect_open_same(cfg, "List, Tenants first, between and last", "{\"kind\":\"List\","
	    "\"items\":[" TENANT("ta", "") "," INGRESS("a") ", " TENANT("tb", ",\"uid\":\"u\"") ","
	    INGRESS("b") "," TENANT("tc", "") "]}");
	expect_open_same(cfg, "kind after items", "{\"apiVersion\":\"v1\",\"items\":[ "
	    TENANT("ta", "") " ,\n " INGRESS("a") "],\"kind\":\"List\",\"metadata\":{}}");
	expect_open_same(cfg, "array", " [\n" INGRESS("a") ",\n\t" TENANT("ta", "") "\n]\n");
	expect_open_same(cfg, "one Tenant object", "\n" TENANT("ta", "") "\n");
	expect_open_same(cfg, "no Tenants", "[" INGRESS("a") "," INGRESS("b") "]");
	expect_open_same(cfg, "empty List", "{\"kind\":\"List\",\"items\":null}");
	expect_open_same(cfg, "YAML stream", "apiVersion: tenantguard.io/v1alpha1\nkind: Tenant\n"
	    "metadata: {name: ta}\nspec: {customDomains: ['*.ta.example.net']}\n---\n"
	    "kind: List\nitems:\n- " INGRESS("a") "\n");
	expect_open_same(cfg, "a JSON object without a kind", "[" TENANT("ta", "") ","
	    "{\"metadata\":{\"name\":\"b\"}}," INGRESS("a") "]");
	expect_open_same(cfg, "a JSON object that is not a mapping", "{\"kind\":\"List\","
	    "\"items\":[" INGRESS("a") ",[1]]}");
	expect_open_same(cfg, "without a name, kind after items", "{\"items\":[{\"kind\":\"A\","
	    "\"metadata\":{}}],\"kind\":\"List\"}");
	/* JSON until a syntax error: the YAML reader's message, not the bad object's */
	expect_open_same(cfg, "a bad object, then broken text", "{\"kind\":\"List\",\"items\":["
	    "{\"kind\":\"A\"}, {\"kind\": ");
	expect_open_same(cfg, "duplicate key", "[{\"kind\":\"A\",\"kind\":\"B\",\"metadata\":"
	    "{\"name\":\"a\"}}]");
	expect_open_same(cfg, "YAML refusal", "- kind: A\n  metadata: {name: a}\n- 5\n");
	expect_open_same(cfg, "YAML error", "kind: A\nmetadata: {name: [\n");

	struct statefile *sf = statefile_open("/nonexistent/state.json", false, nerr, sizeof(nerr));
	test_cond("open: missing file", sf == NULL &&
	    strstr(nerr, "/nonexistent/state.json: ") != NULL);
	config_free(cfg);
}

int
main(void)
{
	test_shapes();
	test_refusals();
	test_build();
	test_open();
	return test_report();
}
