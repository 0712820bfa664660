/* SPDX-License-Identifier: Apache-2.0 */
/* bench_review: in-process cost of one typical tenant Ingress review against N existing claims. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "arena.h"
#include "claims.h"
#include "config.h"
#include "fileio.h"
#include "policy.h"
#include "config_load.h"
#include "review.h"
#include "state.h"

#define HOSTS_PER_INGRESS 10

/* A typical tenant Ingress: a system host, a reserved custom host, a first-come host, TLS. */
static const char review_body[] =
    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
    "\"uid\":\"bench\",\"kind\":{\"group\":\"networking.k8s.io\",\"version\":\"v1\","
    "\"kind\":\"Ingress\"},\"resource\":{\"group\":\"networking.k8s.io\",\"version\":\"v1\","
    "\"resource\":\"ingresses\"},\"name\":\"shop\",\"namespace\":\"tenant1-gateway\","
    "\"operation\":\"CREATE\",\"userInfo\":{\"username\":\"alice\",\"groups\":"
    "[\"system:authenticated\"]},\"object\":{\"apiVersion\":\"networking.k8s.io/v1\","
    "\"kind\":\"Ingress\",\"metadata\":{\"name\":\"shop\",\"namespace\":\"tenant1-gateway\","
    "\"annotations\":{\"higress.io/destination\":\"shop.tenant1-gateway.svc.cluster.local:80\"}},"
    "\"spec\":{\"ingressClassName\":\"higress\",\"tls\":[{\"hosts\":[\"shop.customer.com\"],"
    "\"secretName\":\"shop-cert\"}],\"rules\":["
    "{\"host\":\"api.tenant1.aigw.example.com\",\"http\":{\"paths\":[{\"path\":\"/\","
    "\"pathType\":\"Prefix\",\"backend\":{\"service\":{\"name\":\"tenant1-gateway\","
    "\"port\":{\"number\":80}}}}]}},"
    "{\"host\":\"shop.customer.com\",\"http\":{\"paths\":[{\"path\":\"/\",\"pathType\":\"Prefix\","
    "\"backend\":{\"service\":{\"name\":\"tenant1-gateway\",\"port\":{\"number\":80}}}}]}},"
    "{\"host\":\"www.shop-newco.io\",\"http\":{\"paths\":[{\"path\":\"/\",\"pathType\":\"Prefix\","
    "\"backend\":{\"service\":{\"name\":\"tenant1-gateway\",\"port\":{\"number\":80}}}}]}}]}},"
    "\"oldObject\":null,\"dryRun\":false}}";


/* Adds Ingresses until the state holds `target` claims, spread over 1000 outside namespaces. */
static int
fill(struct state *st, const struct config *cfg, size_t target)
{
	static size_t next;   /* Ingresses added so far: sizes grow, the state is kept */
	char err[256], host[128];
	for (size_t i = next; i * HOSTS_PER_INGRESS < target; i = ++next) {
		json_t *rules = json_array();
		for (size_t h = 0; h < HOSTS_PER_INGRESS; h++) {
			size_t n = i * HOSTS_PER_INGRESS + h;
			snprintf(host, sizeof(host), "%s%zu.app%zu.domain%zu.com", n % 7 ? "svc" : "*.x",
			    n, n / 50, n / 1000);
			json_array_append_new(rules, json_pack("{s:s}", "host", host));
		}
		char ns[32], name[32];
		snprintf(ns, sizeof(ns), "team-%zu", i % 1000);
		snprintf(name, sizeof(name), "ing-%zu", i);
		json_t *obj = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:o}}", "apiVersion",
		    "networking.k8s.io/v1", "kind", "Ingress", "metadata", "name", name, "namespace", ns,
		    "spec", "rules", rules);
		int rc = state_add_object(st, cfg, obj, err, sizeof(err));
		json_decref(obj);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/*
 * The floor any JSON webhook pays for this body: jansson's parse and serialise of it, with
 * the same allocator the review uses. Reviews are reported as a ratio to it.
 */
static double
measure_json_floor(const char *body, size_t len, int iters)
{
	double best = 1e18;
	for (int round = 0; round < 5; round++) {
		double t0 = bench_now_us();
		for (int i = 0; i < iters; i++) {
			arena_begin();
			json_t *root = json_loadb(body, len, 0, NULL);
			char *text = json_dumps(root, JSON_COMPACT);
			if (root == NULL || text == NULL) {
				fprintf(stderr, "bench: jansson failed\n");
				exit(1);
			}
			arena_end();
		}
		double us = (bench_now_us() - t0) / iters;
		if (us < best)
			best = us;
	}
	return best;
}

/* The decision alone (policy_validate on a decoded request), as the server's core cost. */
static double
measure_decision(const struct config *cfg, const struct state *st, int iters)
{
	char err[256];
	struct request req;
	struct decision d;
	double best = 1e18;
	json_t *root = review_decode(review_body, sizeof(review_body) - 1, &req, err, sizeof(err));
	if (root == NULL) {
		fprintf(stderr, "bench: %s\n", err);
		exit(1);
	}
	for (int round = 0; round < 5; round++) {
		double t0 = bench_now_us();
		for (int i = 0; i < iters; i++) {
			policy_validate(cfg, st, &req, 1767225600, &d);
			if (!d.allowed) {
				fprintf(stderr, "bench: denied: %s\n", d.message);
				exit(1);
			}
		}
		double us = (bench_now_us() - t0) / iters;
		if (us < best)
			best = us;
	}
	review_request_clear(&req);
	json_decref(root);
	return best;
}

/* review_handle whole (decode, decide, encode); allowed is the verdict body must get. */
static double
measure(const struct config *cfg, const struct state *st, const char *body, size_t len,
    int iters)
{
	char err[256];
	struct review_summary sum;
	double best = 1e18;
	/* Best of 5 rounds: the cost of the code, not of whatever else the machine did. */
	for (int round = 0; round < 5; round++) {
		double t0 = bench_now_us();
		for (int i = 0; i < iters; i++) {
			char *out;
			size_t outlen;
			if (review_handle(cfg, st, false, body, len, 1767225600, &out, &outlen, &sum,
			    err, sizeof(err)) != REVIEW_OK || !sum.allowed) {
				fprintf(stderr, "bench: review failed: %s %s\n", err, out ? out : "");
				exit(1);
			}
			free(out);
		}
		double us = (bench_now_us() - t0) / iters;
		if (us < best)
			best = us;
	}
	return best;
}

/*
 * What the real apiserver sends for `kubectl apply` of an Ingress (bench/capture_bodies.sh):
 * managedFields, the last-applied annotation and, on UPDATE, oldObject. Each body against
 * jansson merely parsing and serialising the same bytes: at or below 1.0, nothing of it is
 * parsed or serialised twice. The small body is repeated beside them for the same state.
 */
static int
measure_fixtures(const struct config *cfg, const struct state *st, int iters)
{
	static const char *const names[] = { "create", "update" };
	const char *dir = getenv("BENCH_FIXTURES") ? getenv("BENCH_FIXTURES") : "bench/fixtures";
	char path[512], err[512];
	size_t len;

	for (size_t i = 0; i <= sizeof(names) / sizeof(names[0]); i++) {
		const char *name = i == 0 ? "small" : names[i - 1];
		char *body = NULL;
		if (i == 0) {
			len = sizeof(review_body) - 1;
		} else {
			snprintf(path, sizeof(path), "%s/review-ingress-%s.json", dir, name);
			if ((body = fileio_read(path, 8u << 20, &len, err, sizeof(err))) == NULL) {
				fprintf(stderr, "bench: %s\n", err);
				return 1;
			}
		}
		const char *b = body != NULL ? body : review_body;
		double json_us = measure_json_floor(b, len, iters / 4);
		double us = measure(cfg, st, b, len, iters / 4);
		printf("bench: body=%s bytes=%zu claims=%zu us_per_review=%.2f jansson_us=%.2f "
		    "ratio_vs_json_baseline=%.2f%s\n", name, len, claims_count(st->claims), us,
		    json_us, us / json_us, i == 0 ? " # the body above; the next: kubectl apply, "
		    "as the apiserver sends it" : "");
		fflush(stdout);
		free(body);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const size_t sizes[] = { 0, 10000, 100000, 1000000 };
	char err[512];
	int iters = argc > 1 ? atoi(argv[1]) : 20000;
	struct config *cfg = config_load_default(err, sizeof(err));
	struct state *st = state_new();
	double base = 0, floor_us;

	if (cfg == NULL || st == NULL) {
		fprintf(stderr, "bench: %s\n", err);
		return 1;
	}
	floor_us = measure_json_floor(review_body, sizeof(review_body) - 1, iters);
	printf("bench: baseline=jansson_parse_and_dump body_bytes=%zu us=%.2f\n",
	    sizeof(review_body) - 1, floor_us);
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		if (fill(st, cfg, sizes[s]) != 0) {
			fprintf(stderr, "bench: out of memory at %zu claims\n", sizes[s]);
			return 1;
		}
		double us = measure(cfg, st, review_body, sizeof(review_body) - 1, iters);
		double dec = measure_decision(cfg, st, iters);
		if (s == 0)
			base = us;
		printf("bench: claims=%zu us_per_review=%.2f rss_mb=%ld ratio_vs_0=%.2f "
		    "ratio_vs_json_baseline=%.2f us_per_decision=%.2f\n",
		    sizes[s], us, bench_rss_kb() / 1024, us / base, us / floor_us, dec);
		fflush(stdout);
	}
	int rc = measure_fixtures(cfg, st, iters);
	state_free(st);
	config_free(cfg);
	return rc;
}
