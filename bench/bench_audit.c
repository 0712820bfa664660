/* SPDX-License-Identifier: Apache-2.0 */
/* bench_audit: CPU of `tenantguard audit` over a large cluster, as a ratio to indexing it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "base64.h"
#include "certgen.h"
#include "config.h"
#include "config_load.h"
#include "state.h"
#include "statefile.h"

#define TENANTS   100
#define INGRESSES 10000   /* 3 hosts each: 30,000 hosts */
/* Every OWN_CERT-th Ingress has a certificate of its own: the reference layout (a wildcard
 * per tenant, a few more), then a Secret per Ingress. */
static const int own_cert[] = { 20, 1 };

static double
cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
die(const char *what, const char *err)
{
	fprintf(stderr, "bench_audit: %s: %s\n", what, err);
	exit(1);
}

/* A config of TENANTS tenants, tenant<i> reserving *.cust<i>.com. */
static struct config *
make_config(void)
{
	size_t cap = 1 << 16, len = 0;
	char *text = malloc(cap), err[512];
	len += (size_t)snprintf(text + len, cap - len, "systemDomain: aigw.example.com\ntenants:\n");
	for (int t = 0; t < TENANTS; t++)
		len += (size_t)snprintf(text + len, cap - len,
		    "  - {name: tenant%d, customDomains: [\"*.cust%d.com\"]}\n", t, t);
	struct config *cfg = config_load_buffer("bench", text, len, err, sizeof(err));
	free(text);
	if (cfg == NULL)
		die("config", err);
	return cfg;
}

/* tls.crt / tls.key (base64 PEM) of one certificate for *.cust<t>.com, valid a year. */
static json_t *
tls_data(int t)
{
	char dns[64], err[256], *crt, *key;
	const char *names[] = { dns };
	time_t now = time(NULL);
	snprintf(dns, sizeof(dns), "*.cust%d.com", t);
	struct certgen_spec s = { .dns = names, .n_dns = 1, .cn = dns, .not_before = now - 3600,
		.not_after = now + 365 * 86400 };
	if (certgen_issue(&s, &crt, &key, err, sizeof(err)) != 0)
		die("certificate", err);
	char *c64 = base64_encode((unsigned char *)crt, strlen(crt));
	char *k64 = base64_encode((unsigned char *)key, strlen(key));
	json_t *d = json_pack("{s:s, s:s}", "tls.crt", c64, "tls.key", k64);
	free(crt);
	free(key);
	free(c64);
	free(k64);
	return d;
}

/*
 * Per Ingress: a system host, a reserved custom host, a first-come host and a Service. TLS as
 * the reference lays it out: each tenant's wildcard Secret {tenant}-custom-cert, which its
 * Ingresses name, and for every `every`-th Ingress a certificate of its own. Every Secret is a
 * distinct certificate, parsed and matched against its key.
 */
static json_t *
make_objects(int every, size_t *n_secrets)
{
	json_t *objs = json_array();
	char ns[64], name[64], h1[128], h2[128], h3[128], ts[32], secret[64];

	*n_secrets = 0;
	for (int t = 0; t < TENANTS; t++) {
		snprintf(ns, sizeof(ns), "tenant%d-gateway", t);
		snprintf(name, sizeof(name), "tenant%d-custom-cert", t);
		json_array_append_new(objs, json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:o}",
		    "apiVersion", "v1", "kind", "Secret", "metadata", "name", name, "namespace", ns,
		    "type", "kubernetes.io/tls", "data", tls_data(t)));
		(*n_secrets)++;
	}
	for (int i = 0; i < INGRESSES; i++) {
		int t = i % TENANTS;
		snprintf(ns, sizeof(ns), "tenant%d-gateway", t);
		snprintf(name, sizeof(name), "app-%d", i);
		snprintf(h1, sizeof(h1), "api-%d.tenant%d.aigw.example.com", i, t);
		snprintf(h2, sizeof(h2), "shop-%d.cust%d.com", i, t);
		snprintf(h3, sizeof(h3), "www.app%d-tenant%d.io", i, t);
		snprintf(ts, sizeof(ts), "2026-01-01T%02d:%02d:%02dZ", i / 3600, i / 60 % 60, i % 60);
		if (i % every == 0)
			snprintf(secret, sizeof(secret), "%s", name);
		else
			snprintf(secret, sizeof(secret), "tenant%d-custom-cert", t);
		json_array_append_new(objs, json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:[{s:s}, "
		    "{s:s}, {s:s}], s:[{s:[s], s:s}]}}", "apiVersion", "networking.k8s.io/v1", "kind",
		    "Ingress", "metadata", "name", name, "namespace", ns, "creationTimestamp", ts,
		    "spec", "ingressClassName", "higress", "rules", "host", h1, "host", h2, "host", h3, "tls", "hosts", h2,
		    "secretName", secret));
		json_array_append_new(objs, json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:[{s:i}]}}",
		    "apiVersion", "v1", "kind", "Service", "metadata", "name", name, "namespace", ns,
		    "spec", "type", "ClusterIP", "ports", "port", 80));
		if (i % every == 0) {
			json_array_append_new(objs, json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:o}",
			    "apiVersion", "v1", "kind", "Secret", "metadata", "name", name, "namespace",
			    ns, "type", "kubernetes.io/tls", "data", tls_data(t)));
			(*n_secrets)++;
		}
	}
	return objs;
}

/* Audits objs best of 3 (the cost of the code, not of whatever else the machine did). */
static void
bench_one(const struct config *cfg, int every)
{
	size_t n_secrets;
	json_t *objs = make_objects(every, &n_secrets);
	char err[512];
	double best_index = 1e18, best_audit = 1e18;
	size_t violations = 0;

	for (int round = 0; round < 3; round++) {
		double t0 = cpu_s();
		struct state *st = statefile_from_objects(cfg, objs, err, sizeof(err));
		double t1 = cpu_s();
		if (st == NULL)
			die("index", err);
		state_free(st);
		struct audit_report r = { 0 };
		double t2 = cpu_s();
		if (audit_run(cfg, objs, time(NULL), &r, err, sizeof(err)) != 0)
			die("audit", err);
		double t3 = cpu_s();
		violations = r.n;
		if (r.n > 0)
			fprintf(stderr, "bench_audit: first violation: %s %s/%s [%s] %s\n", r.v[0].kind,
			    r.v[0].namespace, r.v[0].name, ruleid_name(r.v[0].rule), r.v[0].message);
		audit_report_clear(&r);
		best_index = t1 - t0 < best_index ? t1 - t0 : best_index;
		best_audit = t3 - t2 < best_audit ? t3 - t2 : best_audit;
	}
	if (violations != 0) {
		fprintf(stderr, "bench_audit: the clean cluster has %zu violations\n", violations);
		exit(1);
	}
	printf("bench: audit ingresses=%d hosts=%d services=%d secrets=%zu cpu_s=%.3f "
	    "index_cpu_s=%.3f ratio_vs_index=%.1f budget_cpu_s=1.0 %s\n", INGRESSES, INGRESSES * 3,
	    INGRESSES, n_secrets, best_audit, best_index, best_audit / best_index,
	    best_audit < 1.0 ? "ok" : "OVER");
	json_decref(objs);
}

int
main(void)
{
	struct config *cfg = make_config();

	for (size_t i = 0; i < sizeof(own_cert) / sizeof(*own_cert); i++)
		bench_one(cfg, own_cert[i]);
	config_free(cfg);
	return 0;
}
