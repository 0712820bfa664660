/* SPDX-License-Identifier: Apache-2.0 */
/* review: the AdmissionReview (admission.k8s.io/v1) codec and the one request pipeline. */
#ifndef TG_REVIEW_H
#define TG_REVIEW_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "policy.h"

struct config;
struct state;

#define REVIEW_MAX_DEPTH 64      /* deeper JSON is refused before it is decoded */
#define REVIEW_AUDIT_KEY "violation"   /* the auditAnnotations key of audit-mode violations */
/*
 * The largest AdmissionReview body `tenantguard review` accepts, and the server by default
 * (--max-body-bytes; larger bodies get 413, DESIGN §7). What the apiserver can send: etcd
 * refuses a value over 1.5 MiB, an UPDATE review carries object and oldObject (3 MiB for
 * JSON-stored kinds at that limit; a Secret's data is at most 1 MiB, 1.33 MiB in base64),
 * plus the review's envelope: 4 MiB.
 */
#define REVIEW_BODY_MAX ((size_t)4 * 1024 * 1024)
/* The largest response review_encode writes: a patch of a maximal body, base64, with room. */
#define REVIEW_RESPONSE_MAX (4 * REVIEW_BODY_MAX)

/*
 * Decodes an AdmissionReview body. Returns the parsed document (new reference) and fills
 * *req with pointers borrowed from it; on malformed input returns NULL with a one-line reason
 * in err. Free with review_request_clear() and json_decref().
 */
json_t *review_decode(const char *body, size_t len, struct request *req, char *err, size_t errsz);
void review_request_clear(struct request *req);

/*
 * Encodes the AdmissionReview response for `req` (uid) and `d`: apiVersion/kind exactly,
 * allowed, status{code,message,reason} on denial, warnings, auditAnnotations
 * {"violation": ...} for audit-mode violations, and patch/patchType when d has a patch.
 * Returns a malloc'd string (caller frees) or NULL when out of memory or when a string to
 * encode is not valid UTF-8.
 */
char *review_encode(const char *uid, const struct decision *d, size_t *len);

/* What the server logs and counts about one review; fixed buffers, no ownership. */
struct review_summary {
	char uid[64];
	char kind[64];
	char operation[16];
	char namespace[64];
	char name[254];
	char user[254];
	bool allowed;
	int  code;
	enum rule_id rule;   /* the denial's; when allowed, the first relaxed rule or RULE_NONE */
	enum enforce_mode relaxed;   /* ENFORCE_WARN / ENFORCE_AUDIT: violations were relaxed */
};

enum review_status {
	REVIEW_OK,          /* *out holds a response (allowed or denied) */
	REVIEW_BAD_INPUT,   /* not an AdmissionReview: HTTP 400 / exit 2, reason in err */
	REVIEW_NO_MEMORY,   /* nothing could be encoded: HTTP 500 */
};

/*
 * The whole pipeline shared by the server, `tenantguard review`, the tests and the bench:
 * decode, decide (validate, or mutate when `mutate`), encode. On REVIEW_OK, *out (malloc'd)
 * is the response and *sum describes it.
 */
enum review_status review_handle(const struct config *cfg, const struct state *st, bool mutate,
    const char *body, size_t len, time_t now, char **out, size_t *outlen,
    struct review_summary *sum, char *err, size_t errsz);

/*
 * review_handle with a step after an allowing validation: after(arg, cfg, req, d) may turn
 * d into a denial (the server's durable first-come claims). NULL: none.
 */
typedef void (*review_after_fn)(void *arg, const struct config *cfg, const struct request *req,
    struct decision *d);
enum review_status review_handle_with(const struct config *cfg, const struct state *st,
    bool mutate, const char *body, size_t len, time_t now, review_after_fn after, void *arg,
    char **out, size_t *outlen, struct review_summary *sum, char *err, size_t errsz);

#endif
