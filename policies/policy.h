/* SPDX-License-Identifier: Apache-2.0 */
/* policy: the admission decision, a pure function of (config, state, request, now). */
#ifndef TG_POLICY_H
#define TG_POLICY_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "enforce.h"
#include "host.h"
#include "ruleid.h"

struct config;
struct state;

enum operation { OP_CREATE, OP_UPDATE, OP_DELETE, OP_CONNECT };

/* One AdmissionReview request, decoded; every pointer is borrowed from the review JSON. */
struct request {
	const char    *uid;
	const char    *group;        /* request.kind.group ("" for core) */
	const char    *version;
	const char    *kind;         /* request.kind.kind */
	const char    *subresource;  /* "" when none */
	const char    *namespace;    /* "" for cluster-scoped objects */
	const char    *name;
	enum operation op;
	const char    *username;
	const char   **groups;       /* owned by the decoder */
	size_t         n_groups;
	bool           dry_run;
	const json_t  *object;       /* NULL on DELETE */
	const json_t  *old_object;   /* NULL on CREATE */
};

/*
 * The apiserver keeps every warning whole while all of them fit in 4096 runes, and cuts each
 * to 256 runes otherwise (k8s.io/apiserver pkg/endpoints/filters/warning.go): 16 warnings of
 * at most 256 bytes always arrive whole.
 */
#define DECISION_MAX_WARNINGS  16
#define DECISION_WARNING_MAX   256
#define DECISION_MAX_UNCLAIMED 8

struct decision {
	bool   allowed;
	int    code;            /* 200; 403 denied; 400 request-invalid; 500 internal error */
	enum rule_id rule;      /* rule id of a denial; RULE_NONE when allowed */
	char   message[1024];   /* "[rule] sentence" on denial */
	char   warnings[DECISION_MAX_WARNINGS][DECISION_WARNING_MAX + 1];
	size_t n_warnings;
	json_t *patch;          /* JSON Patch array from the mutating path (new reference), or NULL */
	/* Violations the enforcement mode relaxed (enforce.h). */
	enum enforce_mode relaxed;   /* DENY: none; WARN when one was warned, else AUDIT */
	enum rule_id relaxed_rule;   /* the first relaxed rule */
	char   audit[1024];          /* auditAnnotations "violation": audit-mode would-be denials */
	/* Patterns of relaxed host collisions: admitted, but never claimed first-come. */
	char   unclaimed[DECISION_MAX_UNCLAIMED][HOST_MAX];
	size_t n_unclaimed;
	bool   unclaimed_overflow;   /* more than fit: the object claims nothing first-come */
};

/* Sets *d to "allowed, nothing to say". */
void decision_init(struct decision *d);
/* Releases what a decision owns (the patch). */
void decision_clear(struct decision *d);
/* Records a denial unless one is recorded already (the first reason wins). */
void decision_deny(struct decision *d, int code, enum rule_id rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/*
 * Records a failure outside every rule's evaluation (code 500, RULE_NONE, "internal error: "
 * and the sentence) unless a denial is recorded already. A rule that cannot be evaluated
 * reports code 500 under its own id instead (rules_internal).
 */
void decision_fail(struct decision *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * After n = snprintf(buf, size, ...): when the text was cut, ends it on a UTF-8 character
 * boundary, marked "..." (when size leaves room). Every message a decision carries is cut so.
 */
void decision_text_fit(char *buf, size_t size, int n);
/* Adds a warning, cut to DECISION_WARNING_MAX characters; extra warnings are dropped. */
void decision_warn(struct decision *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Records a violation of `rule` that mode m (WARN or AUDIT) relaxes: the sentence, prefixed
 * "[rule] ", becomes a warning (WARN) or part of the audit annotation (AUDIT); d stays as
 * allowed or denied as it was.
 */
void decision_relax(struct decision *d, enum enforce_mode m, enum rule_id rule,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Remembers a relaxed host collision's pattern, so it is never claimed first-come. */
void decision_unclaimed(struct decision *d, const char *pattern);
/* True when `pattern` must not be claimed for this decision's object. */
bool decision_is_unclaimed(const struct decision *d, const char *pattern);
/*
 * Denies d (decision_deny) unless the mode cfg gives `rule` for tenant t relaxes it
 * (decision_relax). True when d was denied.
 */
bool decision_enforce(struct decision *d, const struct config *cfg, const struct tenant *t,
    int code, enum rule_id rule, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/*
 * The validating decision for `req` against `cfg` and `st` at time `now`. Never fails open:
 * anything it cannot evaluate is a denial (request-invalid, or code 500 for internal errors).
 */
void policy_validate(const struct config *cfg, const struct state *st, const struct request *req,
    time_t now, struct decision *out);

/*
 * The mutating decision (DESIGN §3): always allowed, with d->patch set to an RFC 6902 patch
 * (new reference) when the object needs one; code 500 only if the patch cannot be built.
 */
void policy_mutate(const struct config *cfg, const struct state *st, const struct request *req,
    time_t now, struct decision *out);

#endif
