/* SPDX-License-Identifier: Apache-2.0 */
/* audit_cmd: reads the cluster's objects (a file or LISTs), audits them, prints the report. */
#include "audit_cmd.h"

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "config.h"
#include "config_load.h"
#include "jsonout.h"
#include "kube.h"
#include "statefile.h"

/* What the audit reads from an apiserver; optional APIs are looked up in discovery first. */
static const struct {
	const char *group_path;   /* discovery document, or NULL for APIs always served */
	const char *resource;
	const char *path;
} sources[] = {
	{ NULL, "namespaces", "/api/v1/namespaces" },
	{ NULL, "ingresses", "/apis/networking.k8s.io/v1/ingresses" },
	{ "/apis/gateway.networking.k8s.io/v1", "httproutes",
	  "/apis/gateway.networking.k8s.io/v1/httproutes" },
	{ NULL, "services", "/api/v1/services" },
	/* Only TLS Secrets carry anything the rules look at. */
	{ NULL, "secrets", "/api/v1/secrets?fieldSelector=type%3Dkubernetes.io%2Ftls" },
	{ "/apis/tenantguard.io/v1alpha1", "tenants", "/apis/tenantguard.io/v1alpha1/tenants" },
};

static void
usage(void)
{
	fprintf(stderr, "usage: tenantguard audit [--config F] (--kubeconfig F | --state F) "
	    "[--output table|json]\n");
}

static int
keep(const json_t *obj, void *arg)
{
	return json_array_append(arg, (json_t *)obj);
}

/* Every object the audit looks at, LISTed from the kubeconfig's apiserver; NULL with err. */
static json_t *
list_cluster(const char *kubeconfig, char *err, size_t errsz)
{
	struct kube_client *kc = kube_client_new_kubeconfig(kubeconfig, err, errsz);
	json_t *objects = json_array();
	char rv[64];

	if (kc == NULL || objects == NULL) {
		if (objects == NULL)
			snprintf(err, errsz, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < sizeof(sources) / sizeof(*sources); i++) {
		char why[512];
		if (sources[i].group_path != NULL) {
			int s = kube_served(kc, sources[i].group_path, sources[i].resource, why,
			    sizeof(why));
			if (s < 0) {
				snprintf(err, errsz, "discovery %s: %s", sources[i].group_path, why);
				goto fail;
			}
			if (s == 0)
				continue;   /* not installed: nothing of that kind exists */
		}
		if (kube_list(kc, sources[i].path, keep, objects, rv, sizeof(rv), why,
		    sizeof(why)) != KUBE_OK) {
			snprintf(err, errsz, "LIST %s: %s", sources[i].path, why);
			goto fail;
		}
	}
	kube_client_free(kc);
	return objects;
fail:
	kube_client_free(kc);
	json_decref(objects);
	return NULL;
}

static void
print_table(const struct audit_report *r)
{
	size_t wk = 4, wo = 16, wr = 4;
	char obj[400];

	for (size_t i = 0; i < r->n; i++) {
		const struct audit_entry *e = &r->v[i];
		size_t lo = strlen(e->namespace) + strlen(e->name) + (e->namespace[0] ? 1 : 0);
		wk = strlen(e->kind) > wk ? strlen(e->kind) : wk;
		wo = lo > wo ? lo : wo;
		size_t lr = strlen(ruleid_name(e->rule));
		wr = lr > wr ? lr : wr;
	}
	if (r->n > 0)
		printf("%-*s  %-*s  %-*s  %s\n", (int)wk, "KIND", (int)wo, "NAMESPACE/NAME", (int)wr,
		    "RULE", "MESSAGE");
	for (size_t i = 0; i < r->n; i++) {
		const struct audit_entry *e = &r->v[i];
		snprintf(obj, sizeof(obj), "%s%s%s", e->namespace, e->namespace[0] ? "/" : "",
		    e->name);
		printf("%-*s  %-*s  %-*s  %s\n", (int)wk, e->kind, (int)wo, obj, (int)wr, ruleid_name(e->rule),
		    e->message);
	}
	if (r->n == 0) {
		printf("no violations in %zu objects\n", r->objects);
		return;
	}
	/* The summary: how many of each rule, in the order they first appear. */
	printf("%zu violation%s in %zu objects:", r->n, r->n == 1 ? "" : "s", r->objects);
	for (size_t i = 0; i < r->n; i++) {
		size_t j, count = 0;
		for (j = 0; j < i && r->v[j].rule != r->v[i].rule; j++)
			;
		if (j < i)
			continue;
		for (j = i; j < r->n; j++)
			count += r->v[j].rule == r->v[i].rule;
		printf("%s %s %zu", i ? "," : "", ruleid_name(r->v[i].rule), count);
	}
	printf("\n");
}

static int
print_json(const struct audit_report *r)
{
	json_t *doc = json_pack("{s:[], s:{s:I, s:I, s:{}}}", "violations", "summary", "objects",
	    (json_int_t)r->objects, "violations", (json_int_t)r->n, "rules");
	json_t *list = json_object_get(doc, "violations");
	json_t *rules = json_object_get(json_object_get(doc, "summary"), "rules");
	int rc = doc != NULL ? 0 : -1;

	for (size_t i = 0; rc == 0 && i < r->n; i++) {
		const struct audit_entry *e = &r->v[i];
		const char *rule = ruleid_name(e->rule);
		json_t *count = json_object_get(rules, rule);
		rc = json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kind",
		    e->kind, "namespace", e->namespace, "name", e->name, "tenant", e->tenant, "rule",
		    rule, "message", e->message));
		if (rc == 0)
			rc = json_object_set_new(rules, rule, json_integer(count ?
			    json_integer_value(count) + 1 : 1));
	}
	char *text = rc == 0 ? json_dumps(doc, JSON_INDENT(2)) : NULL;
	if (text != NULL)
		printf("%s\n", text);
	free(text);
	json_decref(doc);
	return text != NULL ? 0 : -1;
}

int
audit_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state", required_argument, NULL, 's' },
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL, *state_path = NULL, *kubeconfig = NULL, *output = "table";
	const char *key;
	json_t *objects = NULL, *tenants = NULL, *rejected = NULL, *why;
	struct statefile *sf = NULL;
	struct config *cfg = NULL;
	struct audit_report r = { 0 };
	char err[1024];
	int c, rc = 2;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 's': state_path = optarg; break;
		case 'k': kubeconfig = optarg; break;
		case 'o': output = optarg; break;
		default: usage(); return 2;
		}
	}
	if (optind != argc || (state_path == NULL) == (kubeconfig == NULL) ||
	    (strcmp(output, "table") != 0 && strcmp(output, "json") != 0)) {
		usage();
		return 2;
	}
	/* A file's objects are never held as one tree: each is decoded from its text when needed. */
	if (state_path != NULL)
		sf = statefile_open(state_path, true, err, sizeof(err));
	else
		objects = list_cluster(kubeconfig, err, sizeof(err));
	if (sf == NULL && objects == NULL) {
		fprintf(stderr, "tenantguard: audit: %s\n", err);
		goto out;
	}
	/* Tenant objects add tenants, as the server merges them. */
	if ((objects != NULL && (tenants = statefile_select_tenants(objects)) == NULL) ||
	    (rejected = json_object()) == NULL) {
		fprintf(stderr, "tenantguard: audit: out of memory\n");
		goto out;
	}
	const json_t *merged = sf != NULL ? statefile_tenants(sf) : tenants;
	cfg = config_path ? config_load_file_tenants(config_path, merged, rejected, err,
	    sizeof(err)) : config_load_default_tenants(merged, rejected, err, sizeof(err));
	if (cfg == NULL) {
		fprintf(stderr, "tenantguard: config: %s\n", err);
		goto out;
	}
	json_object_foreach(rejected, key, why)
		fprintf(stderr, "tenantguard: audit: Tenant %s left out of the config: %s\n", key,
		    json_string_value(why));
	struct audit_source src;
	if (sf != NULL)
		statefile_audit_source(sf, &src);
	if ((sf != NULL ? audit_run_each(cfg, &src, time(NULL), &r, err, sizeof(err)) :
	    audit_run(cfg, objects, time(NULL), &r, err, sizeof(err))) != 0) {
		fprintf(stderr, "tenantguard: audit: %s\n", err);
		goto out;
	}
	if (strcmp(output, "json") == 0 ? print_json(&r) != 0 : (print_table(&r), false)) {
		fprintf(stderr, "tenantguard: audit: out of memory\n");
		goto out;
	}
	rc = r.n > 0 ? 1 : 0;
out:
	audit_report_clear(&r);
	config_free(cfg);
	statefile_close(sf);
	json_decref(objects);
	json_decref(tenants);
	json_decref(rejected);
	return rc;
}
