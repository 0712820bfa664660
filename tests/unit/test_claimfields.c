/* SPDX-License-Identifier: Apache-2.0 */
/* test_claimfields: every host-binding field of every kind, and the claims state files from them. */
#include <stdio.h>
#include <string.h>

#include "claimfields.h"
#include "claims.h"
#include "config.h"
#include "config_load.h"
#include "state.h"
#include "testhelp.h"

static char err[1024];

struct got {
	char list[512];
};

static int
add(const char *host, void *arg)
{
	struct got *g = arg;
	size_t n = strlen(g->list);
	snprintf(g->list + n, sizeof(g->list) - n, "%s%s", n ? " " : "", host);
	return 0;
}

static void
hosts_are(const struct config *cfg, const char *descr, const char *json, const char *want)
{
	json_error_t je;
	json_t *o = json_loads(json, 0, &je);
	struct got g = { "" };
	char d[700];

	claimfields_each(cfg, o, add, &g);
	snprintf(d, sizeof(d), "%s: [%s] (got [%s])", descr, want, g.list);
	test_cond(d, o != NULL && strcmp(g.list, want) == 0);
	json_decref(o);
}

static void
test_fields(const struct config *cfg)
{
	hosts_are(cfg, "Ingress rules and TLS hosts",
	    "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",\"spec\":{\"rules\":"
	    "[{\"host\":\"a.io\"},{}],\"tls\":[{\"hosts\":[\"b.io\"]}]}}", "a.io b.io");
	hosts_are(cfg, "GRPCRoute hostnames (v1beta1)",
	    "{\"apiVersion\":\"gateway.networking.k8s.io/v1beta1\",\"kind\":\"GRPCRoute\","
	    "\"spec\":{\"hostnames\":[\"g.io\", 5]}}", "g.io");
	hosts_are(cfg, "TLSRoute hostnames (v1alpha2)",
	    "{\"apiVersion\":\"gateway.networking.k8s.io/v1alpha2\",\"kind\":\"TLSRoute\","
	    "\"spec\":{\"hostnames\":[\"t.io\"]}}", "t.io");
	hosts_are(cfg, "Gateway listeners, hostless ones skipped",
	    "{\"apiVersion\":\"gateway.networking.k8s.io/v1\",\"kind\":\"Gateway\",\"spec\":"
	    "{\"listeners\":[{\"hostname\":\"l.io\"},{\"name\":\"any\"}]}}", "l.io");
	hosts_are(cfg, "ListenerSet listeners",
	    "{\"apiVersion\":\"gateway.networking.k8s.io/v1\",\"kind\":\"ListenerSet\",\"spec\":"
	    "{\"listeners\":[{\"hostname\":\"s.io\"}]}}", "s.io");
	hosts_are(cfg, "VirtualService: public names only, no '*'",
	    "{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":\"VirtualService\",\"spec\":"
	    "{\"hosts\":[\"web\",\"web.ns.svc.cluster.local\",\"web.ns\",\"*\",\"v.io\","
	    "\"*.w.io\"]}}", "v.io *.w.io");
	hosts_are(cfg, "Istio Gateway: the host part of namespace/host",
	    "{\"apiVersion\":\"networking.istio.io/v1alpha3\",\"kind\":\"Gateway\",\"spec\":"
	    "{\"servers\":[{\"hosts\":[\"./i.io\",\"ns/j.io\",\"k.io\",\"./*\"]}]}}",
	    "i.io j.io k.io");
	hosts_are(cfg, "a Service binds no host",
	    "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"spec\":{\"hostnames\":[\"x.io\"]}}", "");
	test_cond("Gateway API and Istio Gateways are told apart",
	    claimfields_kind("gateway.networking.k8s.io", "Gateway") == CLAIM_KIND_LISTENERS &&
	    claimfields_kind("networking.istio.io", "Gateway") == CLAIM_KIND_ISTIO_GATEWAY &&
	    claimfields_kind("example.com", "Gateway") == CLAIM_KIND_NONE);
}

static json_t *
obj(const char *json)
{
	json_error_t je;
	return json_loads(json, 0, &je);
}

static void
test_state(const struct config *cfg)
{
	struct state *st = state_new();
	json_t *gw = obj("{\"apiVersion\":\"gateway.networking.k8s.io/v1\",\"kind\":\"Gateway\","
	    "\"metadata\":{\"name\":\"gw\",\"namespace\":\"tenant2-gateway\"},\"spec\":"
	    "{\"listeners\":[{\"hostname\":\"shop.newco.io\"}]}}");
	json_t *ig = obj("{\"apiVersion\":\"networking.istio.io/v1\",\"kind\":\"Gateway\","
	    "\"metadata\":{\"name\":\"gw\",\"namespace\":\"tenant2-gateway\"},\"spec\":"
	    "{\"servers\":[{\"hosts\":[\"./pay.newco.io\"]}]}}");
	uint32_t ids[2];

	test_cond("both Gateways filed", st && state_add_object(st, cfg, gw, err, sizeof(err)) == 0 &&
	    state_add_object(st, cfg, ig, err, sizeof(err)) == 0);
	test_cond("a wildcard overlaps both claims",
	    claims_find(st->claims, "*.newco.io", CLAIMS_OVERLAP, CLAIMS_NO_OWNER, ids, 2) == 1 &&
	    claims_count(st->claims) == 2);
	test_cond("removing the Istio Gateway takes back only its claim",
	    state_remove_object(st, cfg, ig) == 0 && claims_count(st->claims) == 1 &&
	    claims_find(st->claims, "shop.newco.io", CLAIMS_OVERLAP, CLAIMS_NO_OWNER, ids, 1) == 1);
	test_cond("keyed apart", strcmp(claimfields_key_kind(ig), CLAIMFIELDS_ISTIO_GATEWAY) == 0 &&
	    strcmp(claimfields_key_kind(gw), "Gateway") == 0);
	json_decref(gw);
	json_decref(ig);
	state_free(st);
}

int
main(void)
{
	struct config *cfg = config_load_default(err, sizeof(err));
	test_cond("default config", cfg != NULL);
	if (cfg != NULL) {
		test_fields(cfg);
		test_state(cfg);
	}
	config_free(cfg);
	return test_report();
}
