/* SPDX-License-Identifier: Apache-2.0 */
/* run_cases: runs every table case (JSON or YAML) under a directory through review_handle() and checks it. */
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
#include "fileio.h"
#include "review.h"
#include "state.h"
#include "statefile.h"
#include "strmap.h"
#include "yamljson.h"

static int passed, failed;
static const char *configs_dir = "tests/configs";
static char **files;
static size_t n_files;
static struct strmap *config_cache;   /* name -> struct config* */

static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && strcmp(s + n - m, suffix) == 0;
}

static int
collect(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (type == FTW_F && (ends_with(path, ".json") || ends_with(path, ".yaml"))) {
		files = realloc(files, sizeof(*files) * (n_files + 1));
		files[n_files++] = strdup(path);
	}
	return 0;
}

/*
 * A case file as one JSON value (new reference): JSON read by jansson (duplicate keys
 * refused), YAML by yamljson, the reader the config and state files go through, which must
 * find exactly one document. NULL with the reason in err.
 */
static json_t *
load_case_file(const char *path, char *err, size_t errsz)
{
	json_error_t jerr;
	json_t *docs, *doc = NULL;
	char *buf;
	size_t len;

	if (ends_with(path, ".json")) {
		if ((doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
			snprintf(err, errsz, "not JSON: line %d: %s", jerr.line, jerr.text);
		return doc;
	}
	if ((buf = fileio_read(path, 16 << 20, &len, err, errsz)) == NULL)
		return NULL;
	if ((docs = yamljson_load(path, buf, len, NULL, err, errsz)) != NULL) {
		if (json_array_size(docs) == 1 && json_is_object(json_array_get(docs, 0)))
			doc = json_incref(json_array_get(docs, 0));
		else
			snprintf(err, errsz, "not YAML holding one case or one {cases: [...]} mapping");
	}
	json_decref(docs);
	free(buf);
	return doc;
}

/* The verdict a case expects, as --list prints it. */
static void
expected_verdict(const json_t *c, char *out, size_t outsz)
{
	const json_t *expect = json_object_get(c, "expect");
	const char *rule = json_string_value(json_object_get(expect, "rule"));
	const json_t *code = json_object_get(expect, "code");
	const char *path = json_is_true(json_object_get(c, "mutate")) ? "mutate" : "validate";

	if (json_is_true(json_object_get(expect, "badInput")))
		snprintf(out, outsz, "%s: bad input (400)", path);
	else if (json_is_true(json_object_get(expect, "allowed")))
		snprintf(out, outsz, "%s: allowed%s", path,
		    json_object_get(expect, "object") ? ", patched" :
		    json_is_true(json_object_get(expect, "noPatch")) ? ", no patch" : "");
	else if (code != NULL)
		snprintf(out, outsz, "%s: denied %lld%s%s%s", path, (long long)json_integer_value(code),
		    rule ? " [" : "", rule ? rule : "", rule ? "]" : "");
	else
		snprintf(out, outsz, "%s: denied%s%s%s", path, rule ? " [" : "", rule ? rule : "",
		    rule ? "]" : "");
}

/*
 * --list: folder -> case file -> each case's expected verdict and name; the cases are not
 * run. Prints the folder when it changes (files are sorted, so each folder comes once).
 */
static void
list_case(const char *file, const char *folder, size_t idx, bool many, const json_t *c)
{
	static char last_folder[512];
	static char last_file[512];
	char verdict[160];

	if (strcmp(folder, last_folder) != 0) {
		snprintf(last_folder, sizeof(last_folder), "%s", folder);
		printf("%s/\n", folder);
	}
	if (strcmp(file, last_file) != 0) {
		snprintf(last_file, sizeof(last_file), "%s", file);
		printf("  %s\n", file);
	}
	expected_verdict(c, verdict, sizeof(verdict));
	if (many)
		printf("    #%-3zu %-40s %s\n", idx, verdict,
		    json_string_value(json_object_get(c, "name")) ?: "(unnamed)");
	else
		printf("         %-40s %s\n", verdict,
		    json_string_value(json_object_get(c, "name")) ?: "(unnamed)");
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

/*
 * The case's config: cached by name, or loaded afresh (into *owned) when it is inline or the
 * state holds Tenant objects (`tenants`, merged as the server merges them).
 */
static const struct config *
get_config(const json_t *spec, const json_t *tenants, char *err, size_t errsz,
    struct config **owned)
{
	json_t *rejected = json_object();
	const char *key, *name = spec ? json_string_value(spec) : "default";
	const json_t *why;
	struct config *cfg;

	*owned = NULL;
	if (json_array_size(tenants) == 0)
		tenants = NULL;
	if (name != NULL && tenants == NULL && (cfg = strmap_get(config_cache, name)) != NULL)
		goto out;
	if (name == NULL) {
		char *text = json_dumps(spec, 0);
		cfg = config_load_buffer_tenants("inline config", text, strlen(text), tenants,
		    rejected, err, errsz);
		free(text);
	} else if (strcmp(name, "default") == 0) {
		cfg = config_load_default_tenants(tenants, rejected, err, errsz);
	} else {
		char path[512];
		snprintf(path, sizeof(path), "%s/%s.yaml", configs_dir, name);
		cfg = config_load_file_tenants(path, tenants, rejected, err, errsz);
	}
	if (cfg != NULL && name != NULL && tenants == NULL)
		strmap_set(config_cache, name, cfg);
	else
		*owned = cfg;
	if (getenv("TG_CASES_VERBOSE") != NULL)
		json_object_foreach(rejected, key, why)
			printf("   Tenant %s left out: %s\n", key, json_string_value(why));
out:
	json_decref(rejected);
	return cfg;
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

/*
 * The runner's own RFC 6902 implementation (the cross-check with python3-jsonpatch is
 * tests/tools/check_patches.py). Applies `patch` to *doc in place; 0, or -1 with err.
 */
static int
pointer_unescape(const char *tok, size_t len, char *out, size_t outsz)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (n + 1 >= outsz)
			return -1;
		if (tok[i] == '~') {
			if (i + 1 >= len || (tok[i + 1] != '0' && tok[i + 1] != '1'))
				return -1;
			out[n++] = tok[i + 1] == '0' ? '~' : '/';
			i++;
		} else {
			out[n++] = tok[i];
		}
	}
	out[n] = '\0';
	return 0;
}

/* Resolves all but the last token of `ptr`: the container and the last token unescaped. */
static json_t *
pointer_parent(json_t *doc, const char *ptr, char *last, size_t lastsz)
{
	if (ptr[0] != '/')
		return NULL;
	json_t *cur = doc;
	const char *p = ptr + 1;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		char tok[512];
		if (pointer_unescape(p, len, tok, sizeof(tok)) != 0)
			return NULL;
		if (slash == NULL) {
			snprintf(last, lastsz, "%s", tok);
			return cur;
		}
		if (json_is_object(cur))
			cur = json_object_get(cur, tok);
		else if (json_is_array(cur))
			cur = json_array_get(cur, (size_t)strtoul(tok, NULL, 10));
		else
			return NULL;
		if (cur == NULL)
			return NULL;
		p = slash + 1;
	}
}

static bool
array_index(const json_t *arr, const char *tok, bool for_add, size_t *idx)
{
	char *end;
	if (for_add && strcmp(tok, "-") == 0) {
		*idx = json_array_size(arr);
		return true;
	}
	if (tok[0] == '\0' || (tok[0] == '0' && tok[1] != '\0'))
		return false;
	unsigned long v = strtoul(tok, &end, 10);
	if (*end != '\0')
		return false;
	*idx = v;
	return for_add ? v <= json_array_size(arr) : v < json_array_size(arr);
}

static json_t *
pointer_get(json_t *doc, const char *ptr)
{
	char last[512];
	size_t idx;
	if (ptr[0] == '\0')
		return doc;
	json_t *parent = pointer_parent(doc, ptr, last, sizeof(last));
	if (json_is_object(parent))
		return json_object_get(parent, last);
	if (json_is_array(parent) && array_index(parent, last, false, &idx))
		return json_array_get(parent, idx);
	return NULL;
}

/* add/remove/replace at ptr; value is a new reference (stolen) for add/replace. */
static int
pointer_set(json_t **doc, const char *op, const char *ptr, json_t *value)
{
	char last[512];
	size_t idx;
	if (ptr[0] == '\0') {
		if (strcmp(op, "remove") == 0)
			return -1;
		json_decref(*doc);
		*doc = value;
		return 0;
	}
	json_t *parent = pointer_parent(*doc, ptr, last, sizeof(last));
	int rc = -1;
	if (json_is_object(parent)) {
		bool exists = json_object_get(parent, last) != NULL;
		if (strcmp(op, "add") == 0 || (strcmp(op, "replace") == 0 && exists))
			return json_object_set_new(parent, last, value);
		if (strcmp(op, "remove") == 0 && exists)
			return json_object_del(parent, last);
	} else if (json_is_array(parent)) {
		if (strcmp(op, "add") == 0 && array_index(parent, last, true, &idx))
			return json_array_insert_new(parent, idx, value);
		if (strcmp(op, "replace") == 0 && array_index(parent, last, false, &idx))
			return json_array_set_new(parent, idx, value);
		if (strcmp(op, "remove") == 0 && array_index(parent, last, false, &idx))
			return json_array_remove(parent, idx);
	}
	json_decref(value);
	return rc;
}

static int
patch_apply(json_t **doc, const json_t *patch, char *err, size_t errsz)
{
	size_t i;
	const json_t *o;
	if (!json_is_array(patch)) {
		snprintf(err, errsz, "patch is not an array");
		return -1;
	}
	json_array_foreach(patch, i, o) {
		const char *op = json_string_value(json_object_get(o, "op"));
		const char *path = json_string_value(json_object_get(o, "path"));
		const char *from = json_string_value(json_object_get(o, "from"));
		json_t *value = json_object_get(o, "value");
		int rc = -1;
		if (op == NULL || path == NULL) {
			snprintf(err, errsz, "operation %zu lacks op or path", i);
			return -1;
		}
		if (strcmp(op, "add") == 0 || strcmp(op, "replace") == 0) {
			rc = value ? pointer_set(doc, op, path, json_deep_copy(value)) : -1;
		} else if (strcmp(op, "remove") == 0) {
			rc = pointer_set(doc, op, path, NULL);
		} else if (strcmp(op, "test") == 0) {
			rc = value && json_equal(pointer_get(*doc, path), value) ? 0 : -1;
		} else if ((strcmp(op, "copy") == 0 || strcmp(op, "move") == 0) && from != NULL) {
			json_t *src = json_deep_copy(pointer_get(*doc, from));
			rc = src == NULL ? -1 : 0;
			if (rc == 0 && strcmp(op, "move") == 0)
				rc = pointer_set(doc, "remove", from, NULL);
			rc = rc == 0 ? pointer_set(doc, "add", path, src) : (json_decref(src), -1);
		}
		if (rc != 0) {
			snprintf(err, errsz, "operation %zu (%s %s) does not apply", i, op, path);
			return -1;
		}
	}
	return 0;
}

static FILE *patch_log;   /* (object, patch, expected) for check_patches.py */

/* Sends request `req` (borrowed) with `obj` as its object; returns the parsed response. */
static json_t *
send_review(const struct config *cfg, const struct state *st, const json_t *req,
    const json_t *obj, bool mutate, time_t now)
{
	char err[512];
	struct review_summary sum;
	char *out = NULL;
	size_t outlen;
	json_t *r = json_deep_copy(req);
	json_object_set(r, "object", (json_t *)obj);
	json_t *rv = json_pack("{s:s, s:s, s:o}", "apiVersion", "admission.k8s.io/v1", "kind",
	    "AdmissionReview", "request", r);
	char *body = json_dumps(rv, JSON_COMPACT);
	json_t *resp = NULL;
	if (review_handle(cfg, st, mutate, body, strlen(body), now, &out, &outlen, &sum, err,
	    sizeof(err)) == REVIEW_OK)
		resp = json_loads(out, 0, NULL);
	free(out);
	free(body);
	json_decref(rv);
	return resp;
}

/* The JSON Patch of a response (new reference), NULL when it has none; *bad on garbage. */
static json_t *
response_patch(const json_t *resp, bool *bad)
{
	const json_t *r = json_object_get(resp, "response");
	const char *p64 = json_string_value(json_object_get(r, "patch"));
	unsigned char *raw;
	size_t rawlen;
	*bad = false;
	if (p64 == NULL)
		return NULL;
	const char *type = json_string_value(json_object_get(r, "patchType"));
	if (type == NULL || strcmp(type, "JSONPatch") != 0 ||
	    base64_decode(p64, strlen(p64), &raw, &rawlen) != 0) {
		*bad = true;
		return NULL;
	}
	json_t *patch = json_loadb((const char *)raw, rawlen, 0, NULL);
	free(raw);
	*bad = patch == NULL;
	return patch;
}

/*
 * The checks of a mutate case beyond the verdict: the patch applies to exactly
 * expect.object, a second pass adds nothing, and the result passes /validate.
 */
static bool
check_mutation(const char *id, const struct config *cfg, const struct state *st,
    const json_t *review, const json_t *resp, const json_t *expect, time_t now, char *why,
    size_t whysz)
{
	const json_t *req = json_object_get(review, "request");
	const json_t *want = json_object_get(expect, "object");
	bool bad, ok = false;
	json_t *patch = response_patch(resp, &bad), *doc = NULL, *again = NULL, *valid = NULL;
	char err[512];

	if (bad) {
		snprintf(why, whysz, "the patch is not base64 JSON with patchType JSONPatch");
		goto out;
	}
	if (json_is_true(json_object_get(expect, "noPatch"))) {
		ok = patch == NULL;
		snprintf(why, whysz, "expected no patch");
		goto out;
	}
	if (want == NULL) {
		ok = true;
		goto out;
	}
	if (json_object_get(expect, "ops") != NULL &&
	    (json_int_t)json_array_size(patch) != json_integer_value(json_object_get(expect, "ops"))) {
		snprintf(why, whysz, "expected %lld operations, got %zu",
		    (long long)json_integer_value(json_object_get(expect, "ops")), json_array_size(patch));
		goto out;
	}
	doc = json_deep_copy(json_object_get(req, "object"));
	if (patch != NULL && patch_apply(&doc, patch, err, sizeof(err)) != 0) {
		snprintf(why, whysz, "patch: %s", err);
		goto out;
	}
	if (!json_equal(doc, want)) {
		char *got = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
		snprintf(why, whysz, "patched object differs: %s", got);
		free(got);
		goto out;
	}
	if (patch_log != NULL) {
		json_t *rec = json_pack("{s:s, s:O, s:O, s:O}", "id", id, "object",
		    json_object_get(req, "object"), "patch", patch ? patch : json_array(), "expected", want);
		char *line = json_dumps(rec, JSON_COMPACT);
		fprintf(patch_log, "%s\n", line);
		free(line);
		json_decref(rec);
	}
	again = send_review(cfg, st, req, doc, true, now);
	json_t *second = response_patch(again, &bad);
	if (again == NULL || bad || second != NULL) {
		json_decref(second);
		snprintf(why, whysz, "a second pass still patches (not idempotent)");
		goto out;
	}
	if (json_is_false(json_object_get(expect, "validateAfter"))) {
		ok = true;
		goto out;
	}
	valid = send_review(cfg, st, req, doc, false, now);
	ok = json_is_true(json_object_get(json_object_get(valid, "response"), "allowed"));
	if (!ok) {
		char *v = json_dumps(valid, JSON_COMPACT);
		snprintf(why, whysz, "the mutated object fails /validate: %s", v ? v : "(none)");
		free(v);
	}
out:
	json_decref(patch);
	json_decref(doc);
	json_decref(again);
	json_decref(valid);
	return ok;
}

static void
run_case(const char *id, const json_t *c, const json_t *shared)
{
	char err[1024], detail[8192];
	struct config *owned_cfg = NULL;
	struct state *st = NULL;
	json_t *review = NULL, *resp_doc = NULL, *state_objs = NULL, *tenant_objs = NULL;
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
	state_objs = state_spec ? json_deep_copy(state_spec) : json_array();
	tenant_objs = statefile_select_tenants(state_objs);
	const struct config *cfg = get_config(cfg_spec, tenant_objs, err, sizeof(err),
	    &owned_cfg);
	if (cfg == NULL) {
		fail(id, "config: %s", err);
		goto out;
	}
	if (expand_tls(state_objs, now, err, sizeof(err)) != 0 ||
	    (st = statefile_from_objects(cfg, state_objs, err, sizeof(err))) == NULL) {
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

	snprintf(detail, sizeof(detail), "unexpected response %s", out);
	if (strcmp(json_string_value(json_object_get(resp_doc, "apiVersion")) ?: "",
	    "admission.k8s.io/v1") != 0 ||
	    strcmp(json_string_value(json_object_get(resp_doc, "kind")) ?: "", "AdmissionReview") != 0 ||
	    (uid != NULL && strcmp(json_string_value(json_object_get(resp, "uid")) ?: "", uid) != 0))
		ok = false;
	if (allowed != want)
		ok = false;
	if (!mutate && json_object_get(resp, "patch") != NULL)
		ok = false;   /* /validate never patches */
	char mwhy[2048] = "";
	if (mutate && ok && !check_mutation(id, cfg, st, review, resp_doc, expect, now, mwhy,
	    sizeof(mwhy))) {
		ok = false;
		snprintf(detail, sizeof(detail), "%s; response %s", mwhy, out);
	}
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
		fail(id, "%s", detail);
	}
out:
	free(body);
	free(out);
	json_decref(review);
	json_decref(resp_doc);
	json_decref(state_objs);
	json_decref(tenant_objs);
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
	bool list = argc > 1 && strcmp(argv[1], "--list") == 0;
	if (list) {
		argc--;
		argv++;
	}
	const char *dir = argc > 1 ? argv[1] : "tests/cases";
	size_t n_cases = 0;
	if (argc > 2)
		configs_dir = argv[2];
	if (!list && argc > 3 && (patch_log = fopen(argv[3], "w")) == NULL) {
		perror(argv[3]);
		return 1;
	}
	config_cache = strmap_new();
	if (nftw(dir, collect, 16, FTW_PHYS) != 0) {
		perror(dir);
		return 1;
	}
	qsort(files, n_files, sizeof(*files), cmp_str);
	for (size_t f = 0; f < n_files; f++) {
		char err[1024], id[1200], folder[512];
		json_t *doc = load_case_file(files[f], err, sizeof(err));
		/* folder and file name relative to dir, for --list */
		const char *rel = files[f] + strlen(dir) + (files[f][strlen(dir)] == '/');
		const char *base = strrchr(rel, '/');
		snprintf(folder, sizeof(folder), "%.*s", base ? (int)(base - rel) : 1, base ? rel : ".");
		base = base ? base + 1 : rel;
		if (doc == NULL) {
			snprintf(id, sizeof(id), "%s", files[f]);
			fail(id, "%s", err);
			free(files[f]);
			continue;
		}
		const json_t *cases = json_object_get(doc, "cases");
		if (cases == NULL) {
			n_cases++;
			snprintf(id, sizeof(id), "%s: %s", files[f],
			    json_string_value(json_object_get(doc, "name")) ?: "(unnamed)");
			if (list)
				list_case(base, folder, 0, false, doc);
			else
				run_case(id, doc, NULL);
		} else {
			size_t i;
			const json_t *c;
			json_array_foreach(cases, i, c) {
				n_cases++;
				snprintf(id, sizeof(id), "%s#%zu: %s", files[f], i,
				    json_string_value(json_object_get(c, "name")) ?: "(unnamed)");
				if (list)
					list_case(base, folder, i, true, c);
				else
					run_case(id, c, doc);
			}
		}
		json_decref(doc);
		free(files[f]);
	}
	free(files);
	strmap_each(config_cache, free_config, NULL);
	strmap_free(config_cache);
	if (patch_log != NULL)
		fclose(patch_log);
	if (list) {
		printf("%zu cases in %zu files\n", n_cases, n_files);
		return failed ? 1 : 0;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
