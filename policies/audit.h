/* SPDX-License-Identifier: Apache-2.0 */
/* audit: the admission rules applied to every existing object, as if it were created now. */
#ifndef TG_AUDIT_H
#define TG_AUDIT_H
#include <jansson.h>
#include <stddef.h>
#include <time.h>

#include "jsonget.h"
#include "ruleid.h"

struct config;

/* One violation of one existing object. */
struct audit_entry {
	char kind[64];
	char namespace[64];   /* "" for cluster-scoped objects */
	char name[254];
	char tenant[64];      /* the tenant it counts against ("" : the entry or an outside one) */
	enum rule_id rule;
	char message[720];    /* the sentence a denial would give, without "[rule] <object>: " */
};

struct audit_report {
	struct audit_entry *v;   /* oldest object first; an object's violations in rule order */
	size_t              n;
	size_t              cap;
	size_t              objects;   /* objects looked at */
};

/*
 * Audits `objects` (a JSON array, borrowed; as state_read_objects returns them) against cfg
 * at time `now`: each object is checked as a CREATE against all the others, except that
 * first-come host collisions count only objects created before it (creationTimestamp, then
 * the order in `objects`), so of two colliding objects the later one is reported. Who may
 * write (entry-admin, managed-object, tenant-label) and UPDATE-only rules do not apply to an
 * object that exists. *r (zeroed by the caller, or cleared) receives the violations.
 * 0, or -1 with err (out of memory, an object the state cannot file).
 */
int audit_run(const struct config *cfg, const json_t *objects, time_t now,
    struct audit_report *r, char *err, size_t errsz);

/*
 * The objects audit_run_each audits, handed out one at a time so that a caller reading them
 * from a file need not hold them all: n of them, by their position in the input.
 */
struct audit_source {
	size_t n;
	/* Object i's metadata.creationTimestamp (borrowed, valid until the audit ends), or NULL. */
	const char *(*created)(void *arg, size_t i);
	/*
	 * Object i as a new reference: whole when keep is NULL, else at least the members keep
	 * names (what the index reads); NULL when out of memory. Let go of once used.
	 */
	json_t *(*object)(void *arg, size_t i, const struct jsonget_fields *keep);
	void   *arg;
};

/* audit_run over src's objects; every object is asked for twice (indexed, then judged). */
int audit_run_each(const struct config *cfg, const struct audit_source *src, time_t now,
    struct audit_report *r, char *err, size_t errsz);

/* Frees what r holds and zeroes it. */
void audit_report_clear(struct audit_report *r);

#endif
