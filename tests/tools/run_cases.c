/* SPDX-License-Identifier: Apache-2.0 */
/* run_cases: runs every table case under a directory through review_handle() and checks it. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base64.h"
#include "certgen.h"
#include "config.h"
#include "config_load.h"
#include "review.h"
#include "state.h"
#include "state_load.h"
#include "strmap.h"

static int passed, failed;
static const char *configs_dir = "tests/configs";
static char **files;
static size_t n_files;
static struct strmap *config_cache;   /* name -> struct config* */

static int
collect(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	size_t n = strlen(path);
	if (type == FTW_F && n > 5 && strcmp(path + n - 5, ".json") == 0) {
		files = realloc(files, sizeof(*files) * (n_files + 1));
		files[n_files++] = strdup(path);
	}
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
fail(const char *id, const char *fmt, const char *detail)
{
	failed++;
	printf("FAIL %s: ", id);
	printf(fmt, detail);
	printf("\n");
}

static const struct config *
get_config(const json_t *spec, char *err, size_t errsz, struct config **owned)
{
	*owned = NULL;
	if (spec == NULL || json_is_string(spec)) {
		const char *name = spec ? json_string_value(spec) : "default";
		struct config *cfg = strmap_get(config_cache, name);
		if (cfg != NULL)
			return cfg;
		if (strcmp(name, "default") == 0) {
			cfg = config_load_default(err, errsz);
		} else {
			char path[512];
			snprintf(path, sizeof(path), "%s/%s.yaml", configs_dir, name);
			cfg = config_load_file(path, err, errsz);
		}
		if (cfg != NULL)
			strmap_set(config_cache, name, cfg);
		return cfg;
	}
	char *text = json_dumps(spec, 0);
	*owned = config_load_buffer("inline config", text, strlen(text), err, errsz);
	free(text);
	return *owned;
}

/* Replaces {"$tls": {...}} data with freshly generated tls.crt / tls.key. */
static int
make_tls(const json_t *spec, time_t now, json_t **data, char *err, size_t errsz)
{
	const char *dns[16];
	size_t n_dns = 0, i;
	const json_t *v;
	json_array_foreach(json_object_get(spec, "dns"), i, v)
		if (n_dns < 16)
			dns[n_dns++] = json_string_value(v);
	json_int_t nb = json_integer_value(json_object_get(spec, "notBefore"));
	json_int_t na = json_integer_value(json_object_get(spec, "notAfter"));
	if (json_object_get(spec, "notBefore") == NULL)
		nb = -3600;
	if (json_object_get(spec, "notAfter") == NULL)
		na = 90 * 86400;
	const char *key_mode = json_string_value(json_object_get(spec, "key"));
	const char *garbage = json_string_value(json_object_get(spec, "garbage"));
	bool chain = json_is_true(json_object_get(spec, "chain"));

	char *ca_pem = NULL, *cert_pem = NULL, *key_pem = NULL;
	X509 *ca = NULL;
	EVP_PKEY *ca_key = NULL, *other = NULL;
	int rc = -1;
	struct certgen_spec s = { .dns = dns, .n_dns = n_dns, .cn = n_dns ? dns[0] : "case",
	    .not_before = now + nb, .not_after = now + na };
	if (chain) {
		struct certgen_spec cs = { .cn = "case CA", .not_before = now - 86400,
		    .not_after = now + 3650 * 86400L, .is_ca = true };
		if (certgen_make(&cs, &ca, &ca_key, err, errsz) != 0)
			goto out;
		ca_pem = certgen_cert_pem(ca);
		s.issuer_cert = ca;
		s.issuer_key = ca_key;
	}
	if (certgen_issue(&s, &cert_pem, &key_pem, err, errsz) != 0)
		goto out;
	if (key_mode != NULL && strcmp(key_mode, "other") == 0) {
		free(key_pem);
		if (certgen_ec_key(&other) != 0 || (key_pem = certgen_key_pem(other)) == NULL)
			goto out;
	}
	size_t clen = strlen(cert_pem) + (ca_pem ? strlen(ca_pem) : 0);
	char *full = malloc(clen + 1);
	snprintf(full, clen + 1, "%s%s", cert_pem, ca_pem ? ca_pem : "");
	const char *crt_bytes = full, *key_bytes = key_pem;
	if (garbage != NULL && strcmp(garbage, "cert") == 0)
		crt_bytes = "this is not a certificate\n";
	if (garbage != NULL && strcmp(garbage, "key") == 0)
		key_bytes = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";
	char *c64 = base64_encode((const unsigned char *)crt_bytes, strlen(crt_bytes));
	char *k64 = base64_encode((const unsigned char *)key_bytes, strlen(key_bytes));
	*data = json_pack("{s:s, s:s}", "tls.crt", c64, "tls.key", k64);
	free(c64);
	free(k64);
	free(full);
	rc = *data ? 0 : -1;
out:
	free(ca_pem);
	free(cert_pem);
	free(key_pem);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(other);
	return rc;
}

static int
expand_tls(json_t *v, time_t now, char *err, size_t errsz)
{
	const char *k;
	json_t *child;
	size_t i;
	if (json_is_object(v)) {
		json_t *data = json_object_get(v, "data");
		const json_t *spec = json_object_get(data, "$tls");
		if (spec != NULL) {
			json_t *nd;
			if (make_tls(spec, now, &nd, err, errsz) != 0)
				return -1;
			json_object_set_new(v, "data", nd);
		}
		json_object_foreach(v, k, child)
			if (expand_tls(child, now, err, errsz) != 0)
				return -1;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child)
			if (expand_tls(child, now, err, errsz) != 0)
				return -1;
	}
	return 0;
}

/* Fills the request fields a case may leave out (see tests/cases/README.md). */
static void
fill_request(json_t *req, const char *uid)
{
	const json_t *obj = json_object_get(req, "object");
	if (!json_is_object(obj))
		obj = json_object_get(req, "oldObject");
	const char *api = json_string_value(json_object_get(obj, "apiVersion"));
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	const json_t *meta = json_object_get(obj, "metadata");

	if (json_object_get(req, "uid") == NULL)
		json_object_set_new(req, "uid", json_string(uid));
	if (json_object_get(req, "kind") == NULL && api != NULL && kind != NULL) {
		const char *slash = strchr(api, '/');
		json_t *k = slash ? json_pack("{s:s%, s:s, s:s}", "group", api, (size_t)(slash - api),
		    "version", slash + 1, "kind", kind) :
		    json_pack("{s:s, s:s, s:s}", "group", "", "version", api, "kind", kind);
		json_object_set_new(req, "kind", k);
	}
	if (json_object_get(req, "operation") == NULL)
		json_object_set_new(req, "operation", json_string("CREATE"));
	if (json_object_get(req, "name") == NULL && json_object_get(meta, "name") != NULL)
		json_object_set(req, "name", json_object_get(meta, "name"));
	if (json_object_get(req, "namespace") == NULL && json_object_get(meta, "namespace") != NULL)
		json_object_set(req, "namespace", json_object_get(meta, "namespace"));
	if (json_object_get(req, "userInfo") == NULL)
		json_object_set_new(req, "userInfo", json_pack("{s:s, s:[s]}", "username", "alice",
		    "groups", "system:authenticated"));
}

static time_t
parse_time(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (s == NULL || strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL)
		return time(NULL);
	return timegm(&tm);
}

static bool
contains(const char *hay, const char *needle)
{
	return hay != NULL && needle != NULL && strstr(hay, needle) != NULL;
}

static void
run_case(const char *id, const json_t *c, const json_t *shared)
{
	char err[1024], detail[2048];
	struct config *owned_cfg = NULL;
	struct state *st = NULL;
	json_t *review = NULL, *resp_doc = NULL, *state_objs = NULL;
	char *body = NULL, *out = NULL;
	size_t outlen;
	const json_t *expect = json_object_get(c, "expect");
	const json_t *cfg_spec = json_object_get(c, "config");
	const json_t *state_spec = json_object_get(c, "state");
	time_t now = parse_time(json_string_value(json_object_get(c, "now")));
	bool mutate = json_is_true(json_object_get(c, "mutate"));
	bool ok = true;

	if (cfg_spec == NULL)
		cfg_spec = json_object_get(shared, "config");
	if (state_spec == NULL)
		state_spec = json_object_get(shared, "state");
	if (!json_is_object(expect) || !json_is_boolean(json_object_get(expect, "allowed"))) {
		fail(id, "%s", "case has no expect.allowed");
		goto out;
	}
	const struct config *cfg = get_config(cfg_spec, err, sizeof(err), &owned_cfg);
	if (cfg == NULL) {
		fail(id, "config: %s", err);
		goto out;
	}
	state_objs = state_spec ? json_deep_copy(state_spec) : json_array();
	if (expand_tls(state_objs, now, err, sizeof(err)) != 0 ||
	    (st = state_from_objects(cfg, state_objs, err, sizeof(err))) == NULL) {
		fail(id, "state: %s", err);
		goto out;
	}
	const json_t *rv = json_object_get(c, "review");
	if (json_is_string(rv)) {
		body = strdup(json_string_value(rv));
	} else {
		if (rv != NULL) {
			review = json_deep_copy(rv);
		} else {
			json_t *req = json_deep_copy(json_object_get(c, "request"));
			if (req == NULL) {
				fail(id, "%s", "case has neither request nor review");
				goto out;
			}
			fill_request(req, id);
			review = json_pack("{s:s, s:s, s:o}", "apiVersion", "admission.k8s.io/v1",
			    "kind", "AdmissionReview", "request", req);
		}
		if (expand_tls(review, now, err, sizeof(err)) != 0) {
			fail(id, "tls: %s", err);
			goto out;
		}
		body = json_dumps(review, JSON_COMPACT);
	}

	struct review_summary sum;
	enum review_status rs = review_handle(cfg, st, mutate, body, strlen(body), now, &out,
	    &outlen, &sum, err, sizeof(err));
	if (json_is_true(json_object_get(expect, "badInput"))) {
		if (rs != REVIEW_BAD_INPUT) {
			fail(id, "%s", "expected bad input, got a response");
			goto out;
		}
		passed++;
		printf("ok %s\n", id);
		goto out;
	}
	if (rs != REVIEW_OK) {
		fail(id, "review failed: %s", err);
		goto out;
	}
	if (getenv("TG_CASES_VERBOSE") != NULL)
		printf("   %s\n", out);   /* to read the messages while writing cases */
	resp_doc = json_loads(out, 0, NULL);
	const json_t *resp = json_object_get(resp_doc, "response");
	const char *uid = json_string_value(json_object_get(json_object_get(review, "request"), "uid"));
	const char *message = json_string_value(json_object_get(json_object_get(resp, "status"),
	    "message"));
	bool allowed = json_is_true(json_object_get(resp, "allowed"));
	bool want = json_is_true(json_object_get(expect, "allowed"));
	const char *rule = json_string_value(json_object_get(expect, "rule"));

	snprintf(detail, sizeof(detail), "%s", out);
	if (strcmp(json_string_value(json_object_get(resp_doc, "apiVersion")) ?: "",
	    "admission.k8s.io/v1") != 0 ||
	    strcmp(json_string_value(json_object_get(resp_doc, "kind")) ?: "", "AdmissionReview") != 0 ||
	    (uid != NULL && strcmp(json_string_value(json_object_get(resp, "uid")) ?: "", uid) != 0))
		ok = false;
	if (allowed != want)
		ok = false;
	if (!mutate && json_object_get(resp, "patch") != NULL)
		ok = false;   /* /validate never patches */
	if (!allowed) {
		json_int_t code = json_integer_value(json_object_get(json_object_get(resp, "status"),
		    "code"));
		json_int_t want_code = json_object_get(expect, "code") ?
		    json_integer_value(json_object_get(expect, "code")) :
		    (rule && strcmp(rule, "request-invalid") == 0 ? 400 : 403);
		if (code != want_code)
			ok = false;
		if (rule != NULL) {
			char prefix[64];
			snprintf(prefix, sizeof(prefix), "[%s] ", rule);
			if (message == NULL || strncmp(message, prefix, strlen(prefix)) != 0)
				ok = false;
		}
	}
	size_t i;
	const json_t *v;
	json_array_foreach(json_object_get(expect, "message"), i, v)
		if (!contains(message, json_string_value(v)))
			ok = false;
	json_array_foreach(json_object_get(expect, "messageNot"), i, v)
		if (contains(message, json_string_value(v)))
			ok = false;
	const json_t *want_w = json_object_get(expect, "warnings");
	const json_t *got_w = json_object_get(resp, "warnings");
	if (json_is_array(want_w) && json_array_size(want_w) == 0 && json_array_size(got_w) != 0)
		ok = false;
	json_array_foreach(want_w, i, v) {
		bool found = false;
		size_t j;
		const json_t *w;
		json_array_foreach(got_w, j, w)
			found |= contains(json_string_value(w), json_string_value(v));
		if (!found)
			ok = false;
	}
	json_array_foreach(got_w, i, v)
		if (strlen(json_string_value(v)) > 120)
			ok = false;
	if (ok) {
		passed++;
		printf("ok %s\n", id);
	} else {
		fail(id, "unexpected response %s", detail);
	}
out:
	free(body);
	free(out);
	json_decref(review);
	json_decref(resp_doc);
	json_decref(state_objs);
	state_free(st);
	config_free(owned_cfg);
}

static void
free_config(const char *key, void *value, void *arg)
{
	(void)key;
	(void)arg;
	config_free(value);
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/cases";
	if (argc > 2)
		configs_dir = argv[2];
	config_cache = strmap_new();
	if (nftw(dir, collect, 16, FTW_PHYS) != 0) {
		perror(dir);
		return 1;
	}
	qsort(files, n_files, sizeof(*files), cmp_str);
	for (size_t f = 0; f < n_files; f++) {
		json_error_t jerr;
		json_t *doc = json_load_file(files[f], JSON_REJECT_DUPLICATES, &jerr);
		char id[600];
		if (doc == NULL) {
			snprintf(id, sizeof(id), "%s", files[f]);
			fail(id, "not JSON: %s", jerr.text);
			free(files[f]);
			continue;
		}
		const json_t *cases = json_object_get(doc, "cases");
		if (cases == NULL) {
			snprintf(id, sizeof(id), "%s: %s", files[f],
			    json_string_value(json_object_get(doc, "name")) ?: "(unnamed)");
			run_case(id, doc, NULL);
		} else {
			size_t i;
			const json_t *c;
			json_array_foreach(cases, i, c) {
				snprintf(id, sizeof(id), "%s#%zu: %s", files[f], i,
				    json_string_value(json_object_get(c, "name")) ?: "(unnamed)");
				run_case(id, c, doc);
			}
		}
		json_decref(doc);
		free(files[f]);
	}
	free(files);
	strmap_each(config_cache, free_config, NULL);
	strmap_free(config_cache);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
