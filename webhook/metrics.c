/* SPDX-License-Identifier: Apache-2.0 */
/* metrics: the process's counters and gauges, rendered in the Prometheus text format. */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dynbuf.h"
#include "monotime.h"
#include "review.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The label vocabularies; the last entry of each is where unknown values go. */
static const char *const webhook_names[] = { "validate", "mutate" };
static const char *const kind_names[] = {
	"Ingress", "HTTPRoute", "Service", "Secret", "Namespace", "NetworkPolicy", "ResourceQuota",
	"Tenant", "McpBridge", "GRPCRoute", "TLSRoute", "Gateway", "ListenerSet", "VirtualService",
	"other",
};
static const char *const op_names[] = { "CREATE", "UPDATE", "DELETE", "CONNECT", "other" };
static const char *const decision_names[] = { "allowed", "denied", "error", "warned",
    "audited" };
static const int http_codes[] = { 200, 400, 403, 404, 405, 413, 415, 500, 503 };

enum { DEC_ALLOWED, DEC_DENIED, DEC_ERROR, DEC_WARNED, DEC_AUDITED };

#define N_WEBHOOK NELEM(webhook_names)
#define N_KIND    NELEM(kind_names)
#define N_OP      NELEM(op_names)
#define N_DEC     NELEM(decision_names)
#define N_RULE    RULE_COUNT   /* the rule label: ruleid.h, "none" for no rule */
#define N_CODE    (NELEM(http_codes) + 1)   /* + "other" */

/* Upper bounds of the duration buckets in microseconds (0.0001 s .. 1 s), +Inf after them. */
static const long bucket_us[] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
};
#define N_BUCKET (NELEM(bucket_us) + 1)

static _Atomic uint64_t reviews[N_WEBHOOK][N_KIND][N_OP][N_DEC][N_RULE];
static _Atomic uint64_t duration_bucket[N_WEBHOOK][N_BUCKET];   /* not cumulative */
static _Atomic uint64_t duration_sum_us[N_WEBHOOK];
static _Atomic uint64_t http_requests[N_CODE];
static _Atomic uint64_t http_connections;
static _Atomic uint64_t http_cuts[METRICS_CUT_N];
static _Atomic uint64_t http_per_address_peak;
static const char *const cut_names[METRICS_CUT_N] = { "per_ip", "handshake_deadline",
    "header_deadline", "request_deadline", "client_cert" };
static _Atomic uint64_t config_generation;
static _Atomic uint64_t config_failures;
static atomic_int       config_last_success;
static _Atomic uint64_t state_objects;
static _Atomic uint64_t state_claims;
static _Atomic uint64_t tls_reloads;
static _Atomic uint64_t tls_failures;
static _Atomic int64_t  tls_not_after;

static const char *const live_kinds[] = { "Ingress", "HTTPRoute", "Namespace", "Tenant",
    "Service", "NetworkPolicy", "ResourceQuota", "GRPCRoute", "TLSRoute", "Gateway",
    "ListenerSet", "VirtualService", "Gateway.networking.istio.io", "IngressClass" };
#define N_LIVE NELEM(live_kinds)
static atomic_int       live_enabled;
static _Atomic uint64_t live_objects[N_LIVE];
static _Atomic uint64_t live_restarts[N_LIVE];
static _Atomic int64_t  live_synced_at[N_LIVE];
static _Atomic uint64_t live_claims;
static atomic_int       live_ready;

/* The last audit's result: replaced whole by metrics_audit, read by the renderer. */
static pthread_mutex_t  audit_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	bool   ran;
	char (*tenant)[64];
	enum rule_id *rule;
	size_t *count;
	size_t  n;
	int64_t last_run;
	double  seconds;
} audit;

static void
bump(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static uint64_t
get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* Index of `v` in names[0..n-1), or n-1 ("other"/the catch-all) when it is not there. */
static size_t
vocab_index(const char *const *names, size_t n, const char *v)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (strcmp(names[i], v) == 0)
			return i;
	return n - 1;
}

void
metrics_review(enum metrics_webhook w, const struct review_summary *s, bool failed, long micros)
{
	size_t k = vocab_index(kind_names, N_KIND, s->kind);
	size_t o = vocab_index(op_names, N_OP, s->operation);
	size_t d, r, b;

	if ((unsigned)w >= N_WEBHOOK)
		return;
	if (failed || (!s->allowed && s->code >= 500))
		d = DEC_ERROR;
	else if (s->allowed && s->relaxed == ENFORCE_WARN)
		d = DEC_WARNED;    /* allowed, with the would-be denial as a warning */
	else if (s->allowed && s->relaxed == ENFORCE_AUDIT)
		d = DEC_AUDITED;
	else if (s->allowed)
		d = DEC_ALLOWED;
	else
		d = DEC_DENIED;
	/* An internal error outside every rule (decision_fail) counts as error with rule "none". */
	r = d == DEC_ALLOWED || (unsigned)s->rule >= N_RULE ? RULE_NONE : (size_t)s->rule;
	bump(&reviews[w][k][o][d][r]);

	if (micros < 0)
		micros = 0;
	for (b = 0; b < NELEM(bucket_us) && micros > bucket_us[b]; b++)
		;
	bump(&duration_bucket[w][b]);
	atomic_fetch_add_explicit(&duration_sum_us[w], (uint64_t)micros, memory_order_relaxed);
}

void
metrics_audit(const struct metrics_violation *v, size_t n, int64_t last_run, double seconds)
{
	char (*tenant)[64] = calloc(n ? n : 1, sizeof(*tenant));
	enum rule_id *rule = calloc(n ? n : 1, sizeof(*rule));
	size_t *count = calloc(n ? n : 1, sizeof(*count));

	if (tenant == NULL || rule == NULL || count == NULL) {
		free(tenant);
		free(rule);
		free(count);
		return;   /* the previous audit's figures stay */
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(tenant[i], sizeof(tenant[i]), "%s", v[i].tenant);
		rule[i] = v[i].rule;
		count[i] = v[i].count;
	}
	pthread_mutex_lock(&audit_lock);
	free(audit.tenant);
	free(audit.rule);
	free(audit.count);
	audit.tenant = tenant;
	audit.rule = rule;
	audit.count = count;
	audit.n = n;
	audit.last_run = last_run;
	audit.seconds = seconds;
	audit.ran = true;
	pthread_mutex_unlock(&audit_lock);
}

void
metrics_http(int code)
{
	size_t i;

	for (i = 0; i < NELEM(http_codes) && http_codes[i] != code; i++)
		;
	bump(&http_requests[i]);
}

void
metrics_connection(void)
{
	bump(&http_connections);
}

void
metrics_connection_cut(enum metrics_cut why)
{
	if ((unsigned)why < METRICS_CUT_N)
		bump(&http_cuts[why]);
}

void
metrics_connections_peak(unsigned held)
{
	atomic_store_explicit(&http_per_address_peak, held, memory_order_relaxed);
}

void
metrics_config_loaded(uint64_t generation)
{
	atomic_store(&config_generation, generation);
	atomic_store(&config_last_success, 1);
}

void
metrics_config_failed(void)
{
	bump(&config_failures);
	atomic_store(&config_last_success, 0);
}

void
metrics_state(size_t objects, size_t claims)
{
	atomic_store(&state_objects, (uint64_t)objects);
	atomic_store(&state_claims, (uint64_t)claims);
}

void
metrics_tls_installed(int64_t not_after, bool reload)
{
	atomic_store(&tls_not_after, not_after);
	if (reload)
		bump(&tls_reloads);
}

void
metrics_tls_failed(void)
{
	bump(&tls_failures);
}

/* The rendered text is a dynbuf (its failure sticks) of at most this many bytes. */
#define METRICS_TEXT_MAX ((size_t)16 * 1024 * 1024)

/* A label value as the exposition format wants it: \\, \" and \n escaped. */
static void
text_label(struct dynbuf *t, const char *name, const char *value, bool first)
{
	dynbuf_addf(t, "%s%s=\"", first ? "" : ",", name);
	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '\\')
			dynbuf_addf(t, "\\\\");
		else if (*p == '"')
			dynbuf_addf(t, "\\\"");
		else if (*p == '\n')
			dynbuf_addf(t, "\\n");
		else
			dynbuf_add(t, p, 1);
	}
	dynbuf_addf(t, "\"");
}

static void
text_help(struct dynbuf *t, const char *name, const char *type, const char *help)
{
	dynbuf_addf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One metric without labels: its HELP/TYPE header and its value. */
static void
text_metric(struct dynbuf *t, const char *name, const char *type, const char *help, long long v)
{
	text_help(t, name, type, help);
	dynbuf_addf(t, "%s %lld\n", name, v);
}

static void
render_reviews(struct dynbuf *t)
{
	text_help(t, "tenantguard_reviews_total", "counter",
	    "Admission reviews answered, by webhook, kind, operation, decision and rule.");
	for (size_t w = 0; w < N_WEBHOOK; w++)
	for (size_t k = 0; k < N_KIND; k++)
	for (size_t o = 0; o < N_OP; o++)
	for (size_t d = 0; d < N_DEC; d++)
	for (size_t r = 0; r < N_RULE; r++) {
		uint64_t v = get(&reviews[w][k][o][d][r]);

		/* Only series that happened: the full product is thousands of zeros. */
		if (v == 0)
			continue;
		dynbuf_addf(t, "tenantguard_reviews_total{");
		text_label(t, "webhook", webhook_names[w], true);
		text_label(t, "kind", kind_names[k], false);
		text_label(t, "operation", op_names[o], false);
		text_label(t, "decision", decision_names[d], false);
		text_label(t, "rule", ruleid_name((enum rule_id)r), false);
		dynbuf_addf(t, "} %llu\n", (unsigned long long)v);
	}
}

static void
render_durations(struct dynbuf *t)
{
	const char *name = "tenantguard_review_duration_seconds";

	text_help(t, name, "histogram", "Time spent deciding one review (decode, decide, encode).");
	for (size_t w = 0; w < N_WEBHOOK; w++) {
		uint64_t cum = 0;

		for (size_t b = 0; b < N_BUCKET; b++) {
			cum += get(&duration_bucket[w][b]);
			dynbuf_addf(t, "%s_bucket{", name);
			text_label(t, "webhook", webhook_names[w], true);
			if (b < NELEM(bucket_us))
				dynbuf_addf(t, ",le=\"%g\"} %llu\n", (double)bucket_us[b] / 1e6,
				    (unsigned long long)cum);
			else
				dynbuf_addf(t, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
		}
		dynbuf_addf(t, "%s_sum{webhook=\"%s\"} %.6f\n", name, webhook_names[w],
		    (double)get(&duration_sum_us[w]) / 1e6);
		dynbuf_addf(t, "%s_count{webhook=\"%s\"} %llu\n", name, webhook_names[w],
		    (unsigned long long)cum);
	}
}

void
metrics_live_enable(void)
{
	atomic_store(&live_enabled, 1);
}

void
metrics_live_kind(const char *kind, size_t objects, uint64_t restarts, int64_t synced_at)
{
	for (size_t i = 0; i < N_LIVE; i++) {
		if (strcmp(live_kinds[i], kind) != 0)
			continue;
		atomic_store(&live_objects[i], (uint64_t)objects);
		atomic_store(&live_restarts[i], restarts);
		atomic_store(&live_synced_at[i], synced_at);
	}
}

void
metrics_live_claims(size_t claims, bool ready)
{
	atomic_store(&live_claims, (uint64_t)claims);
	atomic_store(&live_ready, ready ? 1 : 0);
}

static _Atomic uint64_t default_entry_classes;

void
metrics_default_entry_class(size_t n)
{
	atomic_store(&default_entry_classes, (uint64_t)n);
}

static _Atomic int64_t fallback_failed = -1;   /* -1: no apply yet */

void
metrics_fallback_failed(size_t n)
{
	atomic_store(&fallback_failed, (int64_t)n);
}

static _Atomic uint64_t api_requests;
static atomic_int       leading = -1;   /* -1: no reconciler */

void
metrics_live_client(uint64_t requests, int leader)
{
	atomic_store(&api_requests, requests);
	atomic_store(&leading, leader);
}

static void
render_live(struct dynbuf *t)
{
	int64_t now = monotime_s();

	text_help(t, "tenantguard_live_ready", "gauge",
	    "1 once every required informer finished its first full LIST.");
	dynbuf_addf(t, "tenantguard_live_ready %d\n", atomic_load(&live_ready));
	text_help(t, "tenantguard_live_objects", "gauge", "Objects in the live cache, by kind.");
	for (size_t i = 0; i < N_LIVE; i++)
		dynbuf_addf(t, "tenantguard_live_objects{kind=\"%s\"} %llu\n", live_kinds[i],
		    (unsigned long long)get(&live_objects[i]));
	text_help(t, "tenantguard_apiserver_requests_total", "counter",
	    "Requests this process sent to the apiserver (lists, watches, claims, applies, ...).");
	dynbuf_addf(t, "tenantguard_apiserver_requests_total %llu\n",
	    (unsigned long long)get(&api_requests));
	if (atomic_load(&leading) >= 0) {
		text_help(t, "tenantguard_reconciler_leader", "gauge",
		    "1 while this replica holds the reconciler's Lease (and writes).");
		dynbuf_addf(t, "tenantguard_reconciler_leader %d\n", atomic_load(&leading));
	}
	if (atomic_load(&fallback_failed) >= 0)
		text_metric(t, "tenantguard_fallback_policies_failed", "gauge", "Fallback policy "
		    "objects (ValidatingAdmissionPolicies and bindings) the last apply could not write "
		    "or prune: while this is not 0 the apiserver's fallback rules may be stale or "
		    "missing.", (long long)atomic_load(&fallback_failed));
	text_metric(t, "tenantguard_ingressclass_default_entry", "gauge", "Cluster-default "
	    "IngressClasses that are the unified entry's (by name or controller): class-less "
	    "Ingresses go to the shared entry controller while this is not 0.",
	    (long long)get(&default_entry_classes));
	text_help(t, "tenantguard_live_claims", "gauge", "Host claims in the live claim index.");
	dynbuf_addf(t, "tenantguard_live_claims %llu\n", (unsigned long long)get(&live_claims));
	text_help(t, "tenantguard_watch_restarts_total", "counter",
	    "Watches that ended in an error or 410 Gone and were resumed or relisted, by kind.");
	for (size_t i = 0; i < N_LIVE; i++)
		dynbuf_addf(t, "tenantguard_watch_restarts_total{kind=\"%s\"} %llu\n", live_kinds[i],
		    (unsigned long long)get(&live_restarts[i]));
	text_help(t, "tenantguard_live_last_sync_age_seconds", "gauge",
	    "Seconds since the kind's cache was last known current (kinds not synced yet are "
	    "left out).");
	for (size_t i = 0; i < N_LIVE; i++) {
		int64_t at = atomic_load(&live_synced_at[i]);

		if (at > 0)
			dynbuf_addf(t, "tenantguard_live_last_sync_age_seconds{kind=\"%s\"} %lld\n",
			    live_kinds[i], (long long)(now - at));
	}
}

static void
render_audit(struct dynbuf *t)
{
	pthread_mutex_lock(&audit_lock);
	if (audit.ran) {
		text_help(t, "tenantguard_violations", "gauge", "Violations the last audit found "
		    "among existing objects, by tenant (\"\": entry or outside namespaces) and rule.");
		for (size_t i = 0; i < audit.n; i++) {
			dynbuf_addf(t, "tenantguard_violations{");
			text_label(t, "tenant", audit.tenant[i], true);
			text_label(t, "rule", ruleid_name(audit.rule[i]), false);
			dynbuf_addf(t, "} %zu\n", audit.count[i]);
		}
		text_metric(t, "tenantguard_audit_last_run_timestamp_seconds", "gauge",
		    "When the last audit of existing objects finished, in seconds since the Unix "
		    "epoch.", (long long)audit.last_run);
		text_help(t, "tenantguard_audit_duration_seconds", "gauge",
		    "How long the last audit of existing objects took.");
		dynbuf_addf(t, "tenantguard_audit_duration_seconds %.6f\n", audit.seconds);
	}
	pthread_mutex_unlock(&audit_lock);
}

char *
metrics_render(size_t *len)
{
	struct dynbuf t;

	dynbuf_init(&t, METRICS_TEXT_MAX);
	render_reviews(&t);
	render_durations(&t);

	text_help(&t, "tenantguard_http_requests_total", "counter", "HTTP responses, by status code.");
	for (size_t i = 0; i < N_CODE; i++) {
		if (i < NELEM(http_codes))
			dynbuf_addf(&t, "tenantguard_http_requests_total{code=\"%d\"} %llu\n",
			    http_codes[i], (unsigned long long)get(&http_requests[i]));
		else
			dynbuf_addf(&t, "tenantguard_http_requests_total{code=\"other\"} %llu\n",
			    (unsigned long long)get(&http_requests[i]));
	}

	text_metric(&t, "tenantguard_http_connections_total", "counter",
	    "TCP connections accepted (keep-alive connections carry many requests).",
	    (long long)get(&http_connections));
	text_help(&t, "tenantguard_http_connections_cut_total", "counter",
	    "Connections refused or cut before their request was read, by reason.");
	for (size_t i = 0; i < METRICS_CUT_N; i++)
		dynbuf_addf(&t, "tenantguard_http_connections_cut_total{reason=\"%s\"} %llu\n",
		    cut_names[i], (unsigned long long)get(&http_cuts[i]));
	text_metric(&t, "tenantguard_http_connections_per_address_peak", "gauge",
	    "The most connections one client address has held at once (sizes --max-conns-per-ip).",
	    (long long)get(&http_per_address_peak));

	text_metric(&t, "tenantguard_config_generation", "gauge",
	    "Generation of the installed config (1 for the first load).",
	    (long long)get(&config_generation));
	text_metric(&t, "tenantguard_config_reload_failures_total", "counter",
	    "Config or state loads that failed; the last good snapshot stayed in use.",
	    (long long)get(&config_failures));
	text_metric(&t, "tenantguard_config_last_reload_success", "gauge",
	    "1 when the last load attempt succeeded, 0 when it failed.",
	    (long long)atomic_load(&config_last_success));
	text_metric(&t, "tenantguard_state_objects", "gauge", "Cluster objects in the installed state.",
	    (long long)get(&state_objects));
	text_metric(&t, "tenantguard_state_claims", "gauge", "Host claims in the installed state.",
	    (long long)get(&state_claims));

	text_metric(&t, "tenantguard_tls_reloads_total", "counter",
	    "Serving certificate and key pairs installed after start-up.",
	    (long long)get(&tls_reloads));
	text_metric(&t, "tenantguard_tls_reload_failures_total", "counter",
	    "New certificate and key pairs refused (unreadable, not parsable, key not matching); "
	    "the previous pair stayed in use.", (long long)get(&tls_failures));
	text_metric(&t, "tenantguard_tls_cert_not_after_seconds", "gauge",
	    "Expiry of the serving certificate (the leaf), in seconds since the Unix epoch.",
	    (long long)atomic_load(&tls_not_after));

	if (atomic_load(&live_enabled))
		render_live(&t);
	render_audit(&t);

	return dynbuf_take(&t, len);
}
