/* SPDX-License-Identifier: Apache-2.0 */
/* test_liveobj: the live cache's encoding gives back the trimmed tree the cache kept before. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_load.h"
#include "liveobj.h"
#include "state.h"
#include "testhelp.h"

#define MF "\"managedFields\":[{\"manager\":\"kubectl-client-side-apply\",\"operation\":" \
    "\"Update\",\"apiVersion\":\"v1\",\"time\":\"2026-12-01T21:52:37Z\",\"fieldsType\":" \
    "\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{\"f:labels\":{\".\":{}}},\"f:spec\":{}}}]"
#define MD(name, ns) "\"name\":\"" name "\",\"namespace\":\"" ns "\",\"uid\":" \
    "\"e17c8103-1d0c-4081-93a6-0a943e13df4b\",\"resourceVersion\":\"4711\",\"generation\":3," \
    "\"creationTimestamp\":\"2026-12-01T21:52:37Z\",\"labels\":{\"app\":\"x\"}"
#define LAST "\"kubectl.kubernetes.io/last-applied-configuration\":\"{\\\"apiVersion\\\":" \
    "\\\"v1\\\",\\\"kind\\\":\\\"X\\\"}\\n\""

/*
 * One object of every kind the informers watch (informer.c), as the apiserver returns it:
 * managedFields, status, labels, annotations with kubectl's last-applied copy, and values of
 * every JSON type, escapes and UTF-8 among them.
 */
static const char *const objects[] = {
	"{\"kind\":\"Ingress\",\"apiVersion\":\"networking.k8s.io/v1\",\"metadata\":{" MD("shop",
	"tenant1-gateway") ",\"annotations\":{\"higress.io/destination\":\"a.b.svc:80\"," LAST
	",\"z\":\"last\"}," MF "},\"spec\":{\"ingressClassName\":\"higress\",\"tls\":[{\"hosts\":"
	"[\"shop.customer.com\"],\"secretName\":\"c\"}],\"rules\":[{\"host\":\"shop.customer.com\","
	"\"http\":{\"paths\":[{\"path\":\"/\",\"pathType\":\"Prefix\",\"backend\":{\"service\":{"
	"\"name\":\"tenant1-gateway\",\"port\":{\"number\":80}}}}]}},{\"host\":"
	"\"api.tenant1.aigw.example.com\"}]},\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":"
	"\"10.0.0.1\"}]}}}",
	"{\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"tenant1-gateway\","
	"\"uid\":\"u\",\"resourceVersion\":\"9\",\"creationTimestamp\":\"2026-12-01T21:52:37Z\","
	"\"labels\":{\"kubernetes.io/metadata.name\":\"tenant1-gateway\",\"tenantguard.io/tenant\":"
	"\"tenant1\"},\"annotations\":{" LAST "}," MF "},\"spec\":{\"finalizers\":[\"kubernetes\"]},"
	"\"status\":{\"phase\":\"Active\"}}",
	"{\"apiVersion\":\"gateway.networking.k8s.io/v1\",\"kind\":\"HTTPRoute\",\"metadata\":{"
	MD("r", "tenant1-gateway") "," MF "},\"spec\":{\"parentRefs\":[{\"name\":\"gw\"}],"
	"\"hostnames\":[\"r.tenant1.aigw.example.com\",\"*.customer.com\"],\"rules\":[{\"matches\":"
	"[{\"path\":{\"type\":\"PathPrefix\",\"value\":\"/\"}}],\"backendRefs\":[{\"name\":\"s\","
	"\"port\":8080,\"weight\":1}]}]},\"status\":{\"parents\":[]}}",
	"{\"apiVersion\":\"gateway.networking.k8s.io/v1\",\"kind\":\"GRPCRoute\",\"metadata\":{"
	MD("g", "tenant1-gateway") "},\"spec\":{\"hostnames\":[\"g.customer.com\"]},\"status\":{}}",
	"{\"apiVersion\":\"gateway.networking.k8s.io/v1alpha2\",\"kind\":\"TLSRoute\",\"metadata\":{"
	MD("t", "tenant1-gateway") "},\"spec\":{\"hostnames\":[\"t.customer.com\"]}}",
	"{\"apiVersion\":\"gateway.networking.k8s.io/v1\",\"kind\":\"Gateway\",\"metadata\":{"
	MD("gw", "tenant1-gateway") ",\"annotations\":{" LAST "}},\"spec\":{\"gatewayClassName\":"
	"\"higress\",\"listeners\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"HTTP\","
	"\"hostname\":\"*.tenant1.aigw.example.com\",\"allowedRoutes\":{\"namespaces\":{\"from\":"
	"\"Same\"}}}]},\"status\":{\"conditions\":[{\"type\":\"Accepted\",\"status\":\"True\"}]}}",
	"{\"apiVersion\":\"gateway.networking.k8s.io/v1\",\"kind\":\"ListenerSet\",\"metadata\":{"
	MD("ls", "tenant1-gateway") "},\"spec\":{\"parentRef\":{\"name\":\"gw\"},\"listeners\":["
	"{\"name\":\"a\",\"port\":443,\"protocol\":\"HTTPS\",\"hostname\":\"ls.customer.com\"}]}}",
	"{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":\"VirtualService\",\"metadata\":{"
	MD("vs", "tenant1-gateway") "," MF "},\"spec\":{\"hosts\":[\"vs.customer.com\"],\"http\":"
	"[{\"route\":[{\"destination\":{\"host\":\"s\",\"port\":{\"number\":80}},\"weight\":100}],"
	"\"timeout\":\"1.5s\",\"retries\":{\"attempts\":3,\"perTryTimeout\":\"0.5s\"}}]}}",
	"{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":\"Gateway\",\"metadata\":{"
	MD("ig", "tenant1-gateway") "},\"spec\":{\"selector\":{\"higress\":"
	"\"tenant1-gateway-higress-gateway\"},\"servers\":[{\"port\":{\"number\":80,\"name\":"
	"\"http\",\"protocol\":\"HTTP\"},\"hosts\":[\"./ig.customer.com\"]}]}}",
	"{\"apiVersion\":\"tenantguard.io/v1alpha1\",\"kind\":\"Tenant\",\"metadata\":{\"name\":"
	"\"newco\",\"uid\":\"u\",\"resourceVersion\":\"5\",\"generation\":2,\"creationTimestamp\":"
	"\"2026-12-01T21:52:37Z\"," MF "},\"spec\":{\"customDomains\":[\"*.newco.com\"],"
	"\"resourceQuota\":{\"requests.cpu\":\"2\"}},\"status\":{\"violationCount\":0,"
	"\"violations\":[]}}",
	"{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"IngressClass\",\"metadata\":{\"name\":"
	"\"higress\",\"resourceVersion\":\"3\",\"annotations\":{"
	"\"ingressclass.kubernetes.io/is-default-class\":\"true\"," LAST "}," MF "},\"spec\":{"
	"\"controller\":\"higress.io/higress-controller\"}}",
	"{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{" MD("s", "tenant1-gateway")
	",\"annotations\":{\"a\":\"b\"}," MF "},\"spec\":{\"type\":\"ExternalName\",\"externalName\":"
	"\"x.example.com\",\"ports\":[{\"port\":80,\"targetPort\":8080,\"protocol\":\"TCP\"}],"
	"\"externalIPs\":[],\"sessionAffinity\":\"None\",\"publishNotReadyAddresses\":false,"
	"\"ipFamilyPolicy\":null},\"status\":{\"loadBalancer\":{}}}",
	"{\"kind\":\"NetworkPolicy\",\"apiVersion\":\"networking.k8s.io/v1\",\"metadata\":{"
	MD("tenantguard-isolation", "tenant1-gateway") "},\"spec\":{\"podSelector\":{},"
	"\"ingress\":[{\"from\":[{\"podSelector\":{}},{\"namespaceSelector\":{\"matchLabels\":{"
	"\"kubernetes.io/metadata.name\":\"higress-system\"}}}]}],\"policyTypes\":[\"Ingress\"]}}",
	"{\"kind\":\"ResourceQuota\",\"apiVersion\":\"v1\",\"metadata\":{"
	MD("tenantguard-quota", "tenant1-gateway") "},\"spec\":{\"hard\":{\"limits.cpu\":\"5\","
	"\"requests.memory\":\"4Gi\"}},\"status\":{\"hard\":{\"limits.cpu\":\"5\"},\"used\":{"
	"\"limits.cpu\":\"0\"}}}",
	/* Values of every kind and the escapes a dump must get right. */
	"{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"odd\",\"namespace\":"
	"\"default\",\"labels\":{\"q\\\"uote\":\"back\\\\slash\\/\",\"ctl\":\"\\t\\n\\u0001\\u001f\","
	"\"utf8\":\"\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80\",\"esc\":\"\\u00e9\\ud83d\\ude00\"}},"
	"\"spec\":{\"reals\":[0.1,-2.5e-300,1e300,3.141592653589793,-0.0,1.0],\"ints\":["
	"9223372036854775807,-9223372036854775808,0],\"flags\":[true,false,null],\"empty\":"
	"{\"o\":{},\"a\":[],\"s\":\"\"},\"deep\":[[[[[[[[[[{\"k\":[[[]]]}]]]]]]]]]]}}",
};

/*
 * What the cache kept before the encoding (live_trim, as it was): a deep copy without status
 * and managedFields, with annotations only on Ingresses (kubectl's copy emptied) and
 * IngressClasses. The reference the new trim and the encoding are held to.
 */
static json_t *
old_trim(const json_t *obj)
{
	json_t *c = json_deep_copy(obj), *md, *annos;
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	const char *la = "kubectl.kubernetes.io/last-applied-configuration";

	json_object_del(c, "status");
	if ((md = json_object_get(c, "metadata")) != NULL) {
		json_object_del(md, "managedFields");
		annos = json_object_get(md, "annotations");
		if (kind == NULL || (strcmp(kind, "Ingress") != 0 && strcmp(kind, "IngressClass") != 0))
			json_object_del(md, "annotations");
		else if (strcmp(kind, "Ingress") == 0 && json_is_object(annos) &&
		    json_object_get(annos, la) != NULL)
			json_object_set_new(annos, la, json_string(""));
	}
	return c;
}

/* Equal, and with members in the same order (the dumps, unsorted, are the same text). */
static bool
same(const json_t *a, const json_t *b)
{
	char *x = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
	char *y = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
	bool r = x != NULL && y != NULL && strcmp(x, y) == 0 && json_equal(a, b);

	free(x);
	free(y);
	return r;
}

struct claim_list {
	char   text[1024];
	size_t len;
};

static void
add_claim(const char *pattern, uint32_t owner, void *arg)
{
	struct claim_list *l = arg;
	int n = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s@%u ", pattern, owner);

	if (n > 0 && (size_t)n < sizeof(l->text) - l->len)
		l->len += (size_t)n;
}

/* The claims obj files in a fresh state, as text ("" when none or on failure). */
static void
claims_of(const struct config *cfg, const json_t *obj, struct claim_list *l)
{
	struct state *st = state_new();
	char key[768], err[256];

	l->len = 0;
	l->text[0] = '\0';
	if (st != NULL && state_object_key(obj, key, sizeof(key)) &&
	    state_add_object(st, cfg, obj, err, sizeof(err)) == 0)
		state_object_claims(st, key, add_claim, l);
	state_free(st);
}

static void
test_round_trip(const struct config *cfg)
{
	size_t claiming = 0;

	for (size_t i = 0; i < sizeof(objects) / sizeof(*objects); i++) {
		json_error_t je;
		json_t *obj = json_loads(objects[i], JSON_REJECT_DUPLICATES, &je);
		char what[1400];
		const char *kind = json_string_value(json_object_get(obj, "kind"));

		snprintf(what, sizeof(what), "object %zu (%s) parses", i, obj ? kind : je.text);
		test_cond(what, obj != NULL);
		if (obj == NULL)
			continue;
		json_t *want = old_trim(obj), *t = liveobj_trim(obj);
		struct liveobj *o = t != NULL ? liveobj_new(t) : NULL;
		json_t *back = o != NULL ? liveobj_decode(o, NULL) : NULL;
		json_t *part = o != NULL ? liveobj_decode(o, state_object_fields) : NULL;
		struct claim_list whole, skim;

		snprintf(what, sizeof(what), "%s: trimmed as the cache trimmed it before", kind);
		test_cond(what, t != NULL && same(t, want));
		snprintf(what, sizeof(what), "%s: decoded, the trimmed tree again", kind);
		test_cond(what, back != NULL && same(back, want));
		claims_of(cfg, want, &whole);
		claims_of(cfg, part, &skim);
		snprintf(what, sizeof(what), "%s: its claim members alone file the same claims (%s)",
		    kind, whole.text);
		test_cond(what, part != NULL && strcmp(whole.text, skim.text) == 0);
		claiming += whole.len > 0;
		snprintf(what, sizeof(what), "%s: resourceVersion and creationTimestamp beside it",
		    kind);
		const json_t *md = json_object_get(obj, "metadata");
		const char *rv = json_string_value(json_object_get(md, "resourceVersion"));
		const char *ct = json_string_value(json_object_get(md, "creationTimestamp"));
		test_cond(what, o != NULL && (rv == NULL ? liveobj_rv(o) == NULL :
		    liveobj_rv(o) != NULL && strcmp(liveobj_rv(o), rv) == 0) &&
		    strcmp(liveobj_created(o), ct != NULL ? ct : "") == 0);
		snprintf(what, sizeof(what), "%s: the trim changed nothing it shares", kind);
		json_t *again = json_loads(objects[i], JSON_REJECT_DUPLICATES, NULL);
		test_cond(what, same(obj, again));
		json_decref(again);
		json_decref(part);
		json_decref(back);
		liveobj_free(o);
		json_decref(t);
		json_decref(want);
		json_decref(obj);
	}
	test_cond("the eight kinds with host fields each filed claims", claiming == 8);
}

/* The text is what the cache holds: far smaller than the tree, as the header promises. */
static void
test_compact(void)
{
	json_t *obj = json_loads(objects[0], 0, NULL), *t = liveobj_trim(obj);
	struct liveobj *o = liveobj_new(t);
	char *dump = json_dumps(t, JSON_COMPACT);

	test_cond("an Ingress: its encoding is its compact text and two short fields",
	    o != NULL && dump != NULL && liveobj_size(o) < strlen(dump) + 64 &&
	    liveobj_size(o) > strlen(dump));
	free(dump);
	liveobj_free(o);
	json_decref(t);
	json_decref(obj);
}

int
main(void)
{
	char err[512];
	struct config *cfg = config_load_default(err, sizeof(err));

	test_cond("default config loads", cfg != NULL);
	if (cfg == NULL)
		return test_report();
	test_round_trip(cfg);
	test_compact();
	config_free(cfg);
	return test_report();
}
