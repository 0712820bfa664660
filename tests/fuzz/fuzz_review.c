/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_review: any bytes through review_handle, validate and mutate, with a three-tenant
 * config and a state that holds hosts, as the server runs it. A body of odd length meets the
 * same config with warn and audit enforcement (mutations flip the parity, so both are
 * explored). A body that decodes as an AdmissionReview must get a decision: a response with
 * the request's uid and `allowed`, never a 500 (no decision) and never REVIEW_NO_MEMORY.
 */
#include <jansson.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "config_load.h"
#include "fileio.h"
#include "fuzz.h"
#include "review.h"
#include "state.h"
#include "statefile.h"

/* [0]: tests/configs/three.yaml as it is; [1]: the same with enforcement modes. */
static struct config *cfg[2];
static struct state *st[2];

/* What [1] adds: warn by default, audit and deny for some rules (the rule's wins). */
static const char enforcement_yaml[] =
    "enforcement:\n"
    "  default: warn\n"
    "  rules: {host-ownership: audit, tls-secret-hosts: audit, service-type: deny}\n";

/*
 * Objects that make the state non-trivial: claims by an Ingress, a Gateway listener, an
 * HTTPRoute, a VirtualService and an Istio Gateway (the #11 kinds), a tenant's Namespace.
 */
static const char state_json[] =
    "[{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",\"metadata\":{\"name\":"
    "\"a\",\"namespace\":\"tenant1-gateway\"},\"spec\":{\"rules\":[{\"host\":"
    "\"api.tenant1.aigw.example.com\"},{\"host\":\"*.shop.customer1.com\"}]}},"
    "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",\"metadata\":{\"name\":"
    "\"b\",\"namespace\":\"tenant2-gateway\"},\"spec\":{\"rules\":[{\"host\":"
    "\"www.unregistered-example.net\"}]}},"
    "{\"apiVersion\":\"gateway.networking.k8s.io/v1\",\"kind\":\"Gateway\",\"metadata\":"
    "{\"name\":\"g\",\"namespace\":\"tenant2-gateway\"},\"spec\":{\"gatewayClassName\":"
    "\"higress\",\"listeners\":[{\"name\":\"l\",\"port\":443,\"protocol\":\"HTTPS\","
    "\"hostname\":\"*.api.client.com\"}]}},"
    "{\"apiVersion\":\"gateway.networking.k8s.io/v1\",\"kind\":\"HTTPRoute\",\"metadata\":"
    "{\"name\":\"r\",\"namespace\":\"tenant1-gateway\"},\"spec\":{\"hostnames\":"
    "[\"shop.customer.com\"]}},"
    "{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":\"VirtualService\",\"metadata\":"
    "{\"name\":\"v\",\"namespace\":\"tenant3-gateway\"},\"spec\":{\"hosts\":"
    "[\"api.client3.io\"]}},"
    "{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":\"Gateway\",\"metadata\":"
    "{\"name\":\"ig\",\"namespace\":\"tenant3-gateway\"},\"spec\":{\"servers\":[{"
    "\"port\":{\"number\":443,\"name\":\"https\",\"protocol\":\"HTTPS\"},\"hosts\":"
    "[\"./www.shop.example.org\"]}]}},"
    "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"tenant1-gateway\","
    "\"labels\":{\"tenantguard.io/tenant\":\"tenant1\"}}}]";

static void
setup(void)
{
	char err[1024], path[4096], *text, *both;
	const char *root = getenv("TG_FUZZ_ROOT");
	size_t len;
	json_t *objs;

	snprintf(path, sizeof(path), "%s/tests/configs/three.yaml", root ? root : ".");
	if ((text = fileio_read(path, 1 << 20, &len, err, sizeof(err))) == NULL ||
	    (both = malloc(len + sizeof(enforcement_yaml))) == NULL) {
		fprintf(stderr, "fuzz_review: %s (set TG_FUZZ_ROOT to the repository)\n", err);
		exit(1);
	}
	memcpy(both, text, len);
	memcpy(both + len, enforcement_yaml, sizeof(enforcement_yaml));
	cfg[0] = config_load_buffer(path, text, len, err, sizeof(err));
	cfg[1] = cfg[0] ? config_load_buffer("three.yaml + enforcement", both,
	    len + sizeof(enforcement_yaml) - 1, err, sizeof(err)) : NULL;
	free(text);
	free(both);
	objs = json_loads(state_json, 0, NULL);
	for (int i = 0; i < 2; i++)
		if (cfg[i] == NULL || objs == NULL ||
		    (st[i] = statefile_from_objects(cfg[i], objs, err, sizeof(err))) == NULL) {
			fprintf(stderr, "fuzz_review: config or state: %s\n", err);
			exit(1);
		}
	json_decref(objs);
}

/* One pass; `decodes` is whether the body is an AdmissionReview review_decode accepts. */
static void
one(int c, const char *body, size_t len, bool mutate, bool decodes)
{
	struct review_summary sum;
	char *out = NULL, err[512];
	size_t outlen = 0;
	enum review_status rs;
	json_t *resp;

	/* Now, not a fixed date: the seeds' TLS Secrets are made when seed.py runs. */
	rs = review_handle(cfg[c], st[c], mutate, body, len, time(NULL), &out, &outlen, &sum, err,
	    sizeof(err));
	FUZZ_ASSERT(rs != REVIEW_NO_MEMORY, "no response encoded");
	if (decodes) {
		FUZZ_ASSERT(rs == REVIEW_OK, "a decodable review was refused as bad input: %s", err);
		resp = json_loadb(out, outlen, 0, NULL);
		FUZZ_ASSERT(resp != NULL, "the response is not JSON");
		FUZZ_ASSERT(json_is_boolean(json_object_get(json_object_get(resp, "response"),
		    "allowed")), "no response.allowed");
		FUZZ_ASSERT(sum.allowed || sum.code != 500, "no decision (500): %s", out);
		json_decref(resp);
	} else {
		FUZZ_ASSERT(rs == REVIEW_BAD_INPUT && out == NULL, "an undecodable body was answered");
	}
	free(out);
}

/*
 * The body is decoded here once, to know what to expect. Most mutated inputs are not
 * JSON: validate and mutate share their decoding, so such a body goes through validate only.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct request req;
	json_t *doc;
	int c = (int)(size % 2);

	if (cfg[0] == NULL)
		setup();
	doc = review_decode((const char *)data, size, &req, err, sizeof(err));
	review_request_clear(&req);
	json_decref(doc);
	one(c, (const char *)data, size, false, doc != NULL);
	if (doc != NULL)
		one(c, (const char *)data, size, true, true);
	return 0;
}
