/* SPDX-License-Identifier: Apache-2.0 */
/* review: AdmissionReview in, decision, AdmissionReview out — the path every caller shares. */
#include "review.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "base64.h"
#include "jsonout.h"
#include "policy.h"

#define ADMISSION_API "admission.k8s.io/v1"

/* Refuses nesting deeper than REVIEW_MAX_DEPTH before jansson recurses into it. */
static bool
depth_ok(const char *body, size_t len)
{
	int depth = 0;
	bool in_str = false;
	for (size_t i = 0; i < len; i++) {
		char c = body[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > REVIEW_MAX_DEPTH)
				return false;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return true;
}

static const char *
opt_str(const json_t *obj, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : def;
}

void
review_request_clear(struct request *req)
{
	free(req->groups);
	req->groups = NULL;
	req->n_groups = 0;
}

json_t *
review_decode(const char *body, size_t len, struct request *req, char *err, size_t errsz)
{
	json_error_t jerr;
	json_t *root = NULL;
	const json_t *r, *kind, *user, *groups, *v;

	memset(req, 0, sizeof(*req));
	if (!depth_ok(body, len)) {
		snprintf(err, errsz, "JSON nested deeper than %d levels", REVIEW_MAX_DEPTH);
		return NULL;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(err, errsz, "malformed JSON at line %d column %d: %s", jerr.line, jerr.column,
		    jerr.text);
		return NULL;
	}
	if (!json_is_object(root) || json_string_value(json_object_get(root, "kind")) == NULL ||
	    strcmp(opt_str(root, "kind", ""), "AdmissionReview") != 0) {
		snprintf(err, errsz, "not an AdmissionReview (kind must be AdmissionReview)");
		goto bad;
	}
	if (strcmp(opt_str(root, "apiVersion", ""), ADMISSION_API) != 0) {
		snprintf(err, errsz, "unsupported apiVersion '%s'; only " ADMISSION_API " is served",
		    opt_str(root, "apiVersion", ""));
		goto bad;
	}
	r = json_object_get(root, "request");
	if (!json_is_object(r)) {
		snprintf(err, errsz, "AdmissionReview has no request object");
		goto bad;
	}
	req->uid = opt_str(r, "uid", NULL);
	if (req->uid == NULL || req->uid[0] == '\0') {
		snprintf(err, errsz, "request.uid is missing");
		goto bad;
	}
	kind = json_object_get(r, "kind");
	req->kind = opt_str(kind, "kind", NULL);
	req->group = opt_str(kind, "group", "");
	req->version = opt_str(kind, "version", "");
	if (!json_is_object(kind) || req->kind == NULL) {
		snprintf(err, errsz, "request.kind must be an object with group, version and kind");
		goto bad;
	}
	const char *op = opt_str(r, "operation", "");
	static const char *const ops[] = { "CREATE", "UPDATE", "DELETE", "CONNECT" };
	size_t i;
	for (i = 0; i < 4 && strcmp(op, ops[i]) != 0; i++)
		;
	if (i == 4) {
		snprintf(err, errsz, "request.operation '%s' is not CREATE, UPDATE, DELETE or CONNECT",
		    op);
		goto bad;
	}
	req->op = (enum operation)i;
	req->subresource = opt_str(r, "subResource", "");
	req->namespace = opt_str(r, "namespace", "");
	req->name = opt_str(r, "name", "");
	v = json_object_get(r, "dryRun");
	if (v != NULL && !json_is_boolean(v) && !json_is_null(v)) {
		snprintf(err, errsz, "request.dryRun must be a boolean");
		goto bad;
	}
	req->dry_run = json_is_true(v);
	user = json_object_get(r, "userInfo");
	if (user != NULL && !json_is_object(user)) {
		snprintf(err, errsz, "request.userInfo must be an object");
		goto bad;
	}
	req->username = opt_str(user, "username", "");
	groups = json_object_get(user, "groups");
	if (groups != NULL && !json_is_array(groups) && !json_is_null(groups)) {
		snprintf(err, errsz, "request.userInfo.groups must be an array of strings");
		goto bad;
	}
	if (json_array_size(groups) > 0) {
		req->groups = calloc(json_array_size(groups), sizeof(*req->groups));
		if (req->groups == NULL) {
			snprintf(err, errsz, "out of memory");
			goto bad;
		}
		json_array_foreach(groups, i, v) {
			if (!json_is_string(v)) {
				snprintf(err, errsz, "request.userInfo.groups must be an array of strings");
				goto bad;
			}
			req->groups[req->n_groups++] = json_string_value(v);
		}
	}
	v = json_object_get(r, "object");
	req->object = json_is_null(v) ? NULL : v;
	v = json_object_get(r, "oldObject");
	req->old_object = json_is_null(v) ? NULL : v;
	return root;
bad:
	review_request_clear(req);
	json_decref(root);
	return NULL;
}

/* Frees what json_dumps returned, with the allocator jansson used for it. */
static void
dump_free(char *p)
{
	json_malloc_t m;
	json_free_t f;
	json_get_alloc_funcs(&m, &f);
	f(p);
}

static const char *
reason_for(int code)
{
	switch (code) {
	case 400: return "BadRequest";
	case 403: return "Forbidden";
	case 500: return "InternalError";
	default:  return "Forbidden";
	}
}

char *
review_encode(const char *uid, const struct decision *d, size_t *len)
{
	struct jsonout o;
	char *patch = NULL, *dump = NULL, num[32];

	jsonout_init(&o, REVIEW_RESPONSE_MAX);

	jsonout_lit(&o, "{\"apiVersion\":\"" ADMISSION_API "\",\"kind\":\"AdmissionReview\","
	    "\"response\":{\"uid\":");
	jsonout_str(&o, uid);
	jsonout_lit(&o, d->allowed ? ",\"allowed\":true" : ",\"allowed\":false");
	if (!d->allowed) {
		snprintf(num, sizeof(num), "%d", d->code);
		jsonout_lit(&o, ",\"status\":{\"code\":");
		jsonout_lit(&o, num);
		jsonout_lit(&o, ",\"message\":");
		jsonout_str(&o, d->message);
		jsonout_lit(&o, ",\"reason\":");
		jsonout_str(&o, reason_for(d->code));
		jsonout_lit(&o, "}");
	}
	if (d->n_warnings > 0) {
		jsonout_lit(&o, ",\"warnings\":[");
		for (size_t i = 0; i < d->n_warnings; i++) {
			if (i > 0)
				jsonout_lit(&o, ",");
			jsonout_str(&o, d->warnings[i]);
		}
		jsonout_lit(&o, "]");
	}
	if (d->audit[0] != '\0') {
		/* Prefix-less: the apiserver files it as "<webhook name>/violation". */
		jsonout_lit(&o, ",\"auditAnnotations\":{\"" REVIEW_AUDIT_KEY "\":");
		jsonout_str(&o, d->audit);
		jsonout_lit(&o, "}");
	}
	if (d->allowed && d->patch != NULL && json_array_size(d->patch) > 0) {
		dump = json_dumps(d->patch, JSON_COMPACT);
		if (dump == NULL || (patch = base64_encode((unsigned char *)dump, strlen(dump))) == NULL)
			o.failed = true;
		jsonout_lit(&o, ",\"patchType\":\"JSONPatch\",\"patch\":");
		jsonout_str(&o, patch);
	}
	jsonout_lit(&o, "}}");
	if (dump != NULL)
		dump_free(dump);
	free(patch);
	if (o.failed) {
		dynbuf_free(&o.b);
		return NULL;
	}
	return dynbuf_take(&o.b, len);
}

static void
summarize(const struct request *req, const struct decision *d, struct review_summary *s)
{
	static const char *const ops[] = { "CREATE", "UPDATE", "DELETE", "CONNECT" };
	snprintf(s->uid, sizeof(s->uid), "%s", req->uid);
	snprintf(s->kind, sizeof(s->kind), "%s", req->kind);
	snprintf(s->operation, sizeof(s->operation), "%s", ops[req->op]);
	snprintf(s->namespace, sizeof(s->namespace), "%s", req->namespace);
	snprintf(s->name, sizeof(s->name), "%s", req->name);
	snprintf(s->user, sizeof(s->user), "%s", req->username);
	s->allowed = d->allowed;
	s->code = d->code;
	s->rule = d->allowed ? d->relaxed_rule : d->rule;
	s->relaxed = d->relaxed;
}

enum review_status
review_handle(const struct config *cfg, const struct state *st, bool mutate, const char *body,
    size_t len, time_t now, char **out, size_t *outlen, struct review_summary *sum, char *err,
    size_t errsz)
{
	return review_handle_with(cfg, st, mutate, body, len, now, NULL, NULL, out, outlen, sum,
	    err, errsz);
}

enum review_status
review_handle_with(const struct config *cfg, const struct state *st, bool mutate,
    const char *body, size_t len, time_t now, review_after_fn after, void *arg, char **out,
    size_t *outlen, struct review_summary *sum, char *err, size_t errsz)
{
	struct request req;
	struct decision d;
	json_t *root;

	*out = NULL;
	memset(sum, 0, sizeof(*sum));
	/* Every JSON value of this review lives in the arena; only the response leaves it. */
	arena_begin();
	root = review_decode(body, len, &req, err, errsz);
	if (root == NULL) {
		arena_end();
		return REVIEW_BAD_INPUT;
	}
	if (mutate)
		policy_mutate(cfg, st, &req, now, &d);
	else {
		policy_validate(cfg, st, &req, now, &d);
		if (after != NULL && d.allowed) {
			/* It may talk to the apiserver: plain allocations, as the API client expects. */
			bool was = arena_pause();
			after(arg, cfg, &req, &d);
			arena_resume(was);
		}
	}
	*out = review_encode(req.uid, &d, outlen);
	summarize(&req, &d, sum);
	decision_clear(&d);
	review_request_clear(&req);
	json_decref(root);   /* frees nothing in the arena, everything when it is off */
	arena_end();
	if (*out == NULL) {
		snprintf(err, errsz, "out of memory while encoding the response");
		return REVIEW_NO_MEMORY;
	}
	return REVIEW_OK;
}
