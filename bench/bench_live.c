/* SPDX-License-Identifier: Apache-2.0 */
/* bench_live: heap of the live cache per Ingress, fed as the informers feed it, by part. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "config.h"
#include "config_load.h"
#include "live.h"
#include "liveobj.h"
#include "state.h"

/*
 * `bench_live [N]` (N = 20000) loads N Ingresses into a live cache as the informer does (the
 * LIST's pages parsed by jansson, each item handed to live_relist_add, then one
 * live_relist_apply) and prints the heap it keeps per Ingress (mallinfo2 before and after,
 * malloc_trim'd as the informer does) and the RSS that grew, then what the parts cost alone:
 * `cache` one stored object, `state_side` one of the two left-right claim indexes (a state
 * built alone from the same objects), `rest` the remainder (the object map's slots and
 * keys); `tree_before` is the trimmed jansson tree the cache kept per object before it kept
 * their text. The second line is CPU per object: jansson parsing the pages alone, then the
 * informer's list and apply (their sum over the parse is the ratio to watch), a rebuild
 * (a new config), live_list (the audit's copy) and one watch event (live_upsert).
 */

/*
 * What the apiserver returns for one of bench_scale.sh's Ingresses (3 hosts, one path each),
 * as `kubectl apply` leaves it: uid, resourceVersion, generation, creationTimestamp, labels,
 * kubectl's last-applied copy and managedFields (the fixtures' shape, bench/fixtures), and the
 * empty status. `rv` distinguishes versions of one object.
 */
static json_t *
ingress(size_t i, size_t rv)
{
	char ns[32], name[32], uid[40], rvs[24], ts[32], host[3][64], last[1024];
	json_t *rules = json_array();

	snprintf(ns, sizeof(ns), "team-%zu", i % 100);
	snprintf(name, sizeof(name), "ing-%zu", i);
	snprintf(uid, sizeof(uid), "%08x-1d0c-4081-93a6-%012zx", (unsigned)(i * 2654435761u), i);
	snprintf(rvs, sizeof(rvs), "%zu", 1000 + i * 3 + rv);
	snprintf(ts, sizeof(ts), "2026-12-01T%02zu:%02zu:%02zuZ", i / 3600 % 24, i / 60 % 60, i % 60);
	for (size_t j = 0; j < 3; j++) {
		snprintf(host[j], sizeof(host[j]), "s%zu-%zu.app%zu.domain%zu.com", i, j + rv, i,
		    i % 500);
		json_array_append_new(rules, json_pack("{s:s, s:{s:[{s:s, s:s, s:{s:{s:s, s:{s:i}}}}]}}",
		    "host", host[j], "http", "paths", "path", "/", "pathType", "Prefix", "backend",
		    "service", "name", "app", "port", "number", 80));
	}
	snprintf(last, sizeof(last), "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\","
	    "\"metadata\":{\"labels\":{\"app.kubernetes.io/name\":\"app\"},\"name\":\"%s\","
	    "\"namespace\":\"%s\"},\"spec\":{\"rules\":[{\"host\":\"%s\",\"http\":{\"paths\":"
	    "[{\"backend\":{\"service\":{\"name\":\"app\",\"port\":{\"number\":80}}},\"path\":\"/\","
	    "\"pathType\":\"Prefix\"}]}},{\"host\":\"%s\",\"http\":{\"paths\":[{\"backend\":"
	    "{\"service\":{\"name\":\"app\",\"port\":{\"number\":80}}},\"path\":\"/\",\"pathType\":"
	    "\"Prefix\"}]}},{\"host\":\"%s\",\"http\":{\"paths\":[{\"backend\":{\"service\":{\"name\":"
	    "\"app\",\"port\":{\"number\":80}}},\"path\":\"/\",\"pathType\":\"Prefix\"}]}}]}}\n",
	    name, ns, host[0], host[1], host[2]);
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:i, s:s, s:{s:s, s:s}, s:{s:s}, "
	    "s:[{s:s, s:s, s:s, s:s, s:s, s:{s:{s:{s:{}, s:{}}, s:{s:{}}}, s:{s:{}}}}]}, "
	    "s:{s:o}, s:{s:{}}}",
	    "apiVersion", "networking.k8s.io/v1", "kind", "Ingress",
	    "metadata", "name", name, "namespace", ns, "uid", uid, "resourceVersion", rvs,
	    "generation", 1, "creationTimestamp", ts,
	    "labels", "app.kubernetes.io/name", "app", "app.kubernetes.io/part-of", "bench",
	    "annotations", "kubectl.kubernetes.io/last-applied-configuration", last,
	    "managedFields", "manager", "kubectl-client-side-apply", "operation", "Update",
	    "apiVersion", "networking.k8s.io/v1", "time", ts, "fieldsType", "FieldsV1",
	    "fieldsV1", "f:metadata", "f:annotations", ".",
	    "f:kubectl.kubernetes.io/last-applied-configuration", "f:labels", "f:app.kubernetes.io/name",
	    "f:spec", "f:rules",
	    "spec", "rules", rules, "status", "loadBalancer");
}

/* Bytes the heap has handed out (main arena and mmapped chunks). */
static size_t
heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

static double
now_ms(void)
{
	return bench_now_us() / 1e3;
}

static void
die(const char *what, const char *err)
{
	fprintf(stderr, "bench_live: %s: %s\n", what, err);
	exit(1);
}

/* The LIST's pages as the apiserver sends them: 500 items each, compact JSON. */
#define PAGE 500
static char **
page_texts(size_t n)
{
	char **texts = calloc(n / PAGE + 2, sizeof(*texts));

	for (size_t first = 0, p = 0; texts != NULL && first < n; first += PAGE, p++) {
		json_t *items = json_array(), *page;

		for (size_t i = first; items != NULL && i < n && i < first + PAGE; i++)
			if (json_array_append_new(items, ingress(i, 0)) != 0)
				die("list", "out of memory");
		page = json_pack("{s:s, s:s, s:{s:s}, s:o}", "kind", "IngressList", "apiVersion",
		    "networking.k8s.io/v1", "metadata", "resourceVersion", "1", "items", items);
		if (page == NULL || (texts[p] = json_dumps(page, JSON_COMPACT)) == NULL)
			die("list", "out of memory");
		json_decref(page);
	}
	if (texts == NULL)
		die("list", "out of memory");
	return texts;
}

static void
page_texts_free(char **texts)
{
	for (size_t p = 0; texts[p] != NULL; p++)
		free(texts[p]);
	free(texts);
}

/*
 * The LIST as kube_list hands it over: each page's text parsed whole by jansson, every item
 * passed to fn, the page freed (so what the cache keeps lands among the pages' garbage, as
 * in `serve`).
 */
static void
list_pages(char **texts, int (*fn)(const json_t *, void *), void *arg)
{
	for (size_t p = 0; texts[p] != NULL; p++) {
		json_t *page = json_loads(texts[p], JSON_REJECT_DUPLICATES, NULL), *it;
		size_t i;

		if (page == NULL)
			die("list", "out of memory");
		json_array_foreach(json_object_get(page, "items"), i, it)
			if (fn(it, arg) != 0)
				die("list", "out of memory");
		json_decref(page);
	}
}

static int
parse_only(const json_t *obj, void *arg)
{
	(void)obj;
	(void)arg;
	return 0;
}

static int
relist_add(const json_t *obj, void *arg)
{
	return live_relist_add(arg, obj);
}

/* The LIST as the informer collects it: each item trimmed and encoded as it arrives. */
static struct live_relist *
list_items(char **texts)
{
	struct live_relist *r = live_relist_new();

	if (r == NULL)
		die("list", "out of memory");
	list_pages(texts, relist_add, r);
	return r;
}

/*
 * Heap per object of n Ingresses kept as `keep` makes them (a trimmed jansson tree, as the
 * cache kept them before, or its encoding), beside one another as the cache holds them.
 */
static size_t
kept_bytes(size_t n, void *(*keep)(const json_t *), void (*drop)(void *))
{
	void **v = calloc(n, sizeof(*v));
	size_t h0 = heap_bytes(), h;

	for (size_t i = 0; v != NULL && i < n; i++) {
		json_t *raw = ingress(i, 0), *t = liveobj_trim(raw);
		if (t == NULL || (v[i] = keep(t)) == NULL)
			die("kept_bytes", "out of memory");
		json_decref(t);
		json_decref(raw);
	}
	if (v == NULL)
		die("kept_bytes", "out of memory");
	h = heap_bytes() - h0;
	for (size_t i = 0; i < n; i++)
		drop(v[i]);
	free(v);
	malloc_trim(0);
	return h / n;
}

static void *keep_tree(const json_t *t) { return json_deep_copy(t); }
static void drop_tree(void *v) { json_decref(v); }
static void *keep_enc(const json_t *t) { return liveobj_new(t); }
static void drop_enc(void *v) { liveobj_free(v); }

int
main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
	struct config *cfg;
	struct live *lv;
	struct state *st;
	char err[512];
	double t0, t_parse, t_list, t_relist, t_rebuild, t_dump, t_event;
	size_t h0, h_live, h_side;
	long r0, r1;

	if (n == 0)
		die("usage", "bench_live [INGRESSES]");
	if ((cfg = config_load_default(err, sizeof(err))) == NULL)
		die("config", err);
	/* One side as the live cache builds it, alone: what state_add_object keeps per object. */
	h0 = heap_bytes();
	if ((st = state_new()) == NULL)
		die("state", "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_t *raw = ingress(i, 0), *t = liveobj_trim(raw);
		if (t == NULL || state_add_object(st, cfg, t, err, sizeof(err)) != 0)
			die("state", err);
		json_decref(t);
		json_decref(raw);
	}
	h_side = heap_bytes() - h0;
	state_free(st);
	malloc_trim(0);

	/* A stored object: the tree the cache kept before, and its encoding now. */
	size_t tree_b = kept_bytes(n, keep_tree, drop_tree), enc_b = kept_bytes(n, keep_enc, drop_enc);

	/* The informer's path: live_new, the config, then the initial LIST. */
	char **texts = page_texts(n);
	t0 = now_ms();
	list_pages(texts, parse_only, NULL);
	t_parse = now_ms() - t0;
	malloc_trim(0);
	h0 = heap_bytes();
	r0 = bench_rss_kb();
	if ((lv = live_new()) == NULL || live_set_config(lv, cfg, NULL, NULL) != 0)
		die("live", "out of memory");
	t0 = now_ms();
	struct live_relist *items = list_items(texts);
	t_list = now_ms() - t0;
	t0 = now_ms();
	if (live_relist_apply(lv, "Ingress", items, err, sizeof(err)) != 0)
		die("live_relist_apply", err);
	t_relist = now_ms() - t0;
	live_relist_free(items);
	malloc_trim(0);
	h_live = heap_bytes() - h0;
	r1 = bench_rss_kb();
	page_texts_free(texts);
	if (live_objects(lv, "Ingress") != n || live_claims(lv) != 3 * n)
		die("live", "the cache does not hold every Ingress and claim");

	/* What the other writers and readers cost: a config rebuild, the audit's copy, events. */
	t0 = now_ms();
	if (live_set_config(lv, cfg, NULL, NULL) != 0)
		die("live_set_config", "out of memory");
	t_rebuild = now_ms() - t0;
	t0 = now_ms();
	json_t *all = live_list(lv, "Ingress", NULL);
	t_dump = now_ms() - t0;
	if (all == NULL || json_array_size(all) != n)
		die("live_list", "wrong count");
	json_decref(all);
	size_t events = n < 5000 ? n : 5000;
	t0 = now_ms();
	for (size_t i = 0; i < events; i++) {
		json_t *o = ingress(i, 1);
		if (live_upsert(lv, o, err, sizeof(err)) != 0)
			die("live_upsert", err);
		json_decref(o);
	}
	t_event = now_ms() - t0;

	size_t per = h_live / n, side = h_side / n;
	double us = 1000 / (double)n;
	printf("bench: live ingresses=%zu bytes_per_ingress=%zu kb_per_1k=%zu rss_kb_per_1k=%ld "
	    "cache=%zu state_side=%zu state_sides=2 rest=%ld tree_before=%zu\n",
	    n, per, h_live * 1000 / n / 1024, (r1 - r0) * 1000 / (long)n, enc_b, side,
	    (long)per - (long)(2 * side + enc_b), tree_b);
	printf("bench: live ingresses=%zu us_per_object: jansson_page_parse=%.1f list=%.1f "
	    "relist_apply=%.1f rebuild=%.1f live_list=%.1f upsert=%.1f list_and_apply_over_parse=%.2f\n",
	    n, t_parse * us, t_list * us, t_relist * us, t_rebuild * us, t_dump * us,
	    t_event * 1000 / (double)events, (t_list + t_relist) / t_parse);
	live_free(lv);
	config_free(cfg);
	return 0;
}
