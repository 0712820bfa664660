/* SPDX-License-Identifier: Apache-2.0 */
/* firstcome: which hosts of an allowed request are new first-come claims, and their verdicts. */
#ifndef TG_FIRSTCOME_H
#define TG_FIRSTCOME_H
#include <stdbool.h>
#include <stddef.h>

struct config;
struct decision;
struct request;

/* What the store answered for one claim. */
enum firstcome_result {
	FIRSTCOME_WON,            /* claimed (or held already) for this owner */
	FIRSTCOME_LOST,           /* another owner holds an overlapping pattern */
	FIRSTCOME_PUBLIC_SUFFIX,  /* the pattern's domain is a public suffix: nobody may claim it */
	FIRSTCOME_ERROR,          /* the store could not be asked; the reason in err */
};

/*
 * Claims `pattern` (normalised) for `owner` (state_owner_key); a dry run decides without
 * writing. Thread-safe as firstcome_review's callers need.
 */
typedef enum firstcome_result (*firstcome_claim_fn)(void *arg, const char *pattern,
    const char *owner, bool dry_run, char *err, size_t errsz);

/*
 * True when first-come `pattern` (normalised) is a public suffix or a wildcard over one
 * ("co.uk", "*.io", "*.github.io"): nobody may claim it. The one decision for every path:
 * policy_validate refuses such a claim [host-ownership] (owner_check), so `review`,
 * `serve --state` and the live path agree; the claim store keeps its own check behind it.
 * cfg->psl NULL (no list loaded): never.
 */
bool firstcome_public_suffix(const struct config *cfg, const char *pattern);

/*
 * After policy_validate allowed `req` (d->allowed): for CREATE/UPDATE of any kind that binds
 * hosts (claimfields.h) outside the entry namespace, asks claim(arg, ...) for every first-come pattern of
 * the object (not the system domain's, overlapping no reservation) in turn, for the
 * namespace's owner, and stops at the first refusal. Denies d with host-collision (403) when
 * another owner holds an overlapping pattern, host-ownership (403) for a public suffix, and
 * host-collision with code 500 when the claim could not be decided: fail closed. The two
 * 403s follow the enforcement mode (warn/audit: allowed, nothing was written), and patterns
 * of collisions policy_validate relaxed (decision_is_unclaimed) are not asked for at all.
 */
void firstcome_review(const struct config *cfg, const struct request *req, struct decision *d,
    firstcome_claim_fn claim, void *arg);

#endif
