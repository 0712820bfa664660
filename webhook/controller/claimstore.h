/* SPDX-License-Identifier: Apache-2.0 */
/* claimstore: first-come host claims made durable in the apiserver before a review allows them. */
#ifndef TG_CLAIMSTORE_H
#define TG_CLAIMSTORE_H
#include <time.h>
#include <stdbool.h>
#include <stddef.h>

#include "firstcome.h"

struct kube_client;

#define CLAIMSTORE_NAMESPACE "tenantguard-system"
#define CLAIMSTORE_REAP_INTERVAL 5    /* seconds between release rounds (at most the grace) */
#define CLAIMSTORE_GRACE         60   /* seconds a claim may miss from the live state */

/*
 * One ConfigMap per registrable domain, tenantguard-system/tg-claim-<domain>, with one data
 * key per claimed pattern ("*." escaped as "_wild_.") and the owner key as its value.
 * Overlapping patterns share their registrable domain, so they contend on one object and
 * the apiserver's AlreadyExists / Conflict decides races between replicas; within one
 * process the claims of one registrable domain are serialised (a lock per domain, striped). The annotation tenantguard.io/claimed-at records
 * when each pattern was last (re-)claimed (unix seconds, wall clock): a re-claim of a pattern
 * the live state does not hold yet writes it again, so no replica's release round removes a
 * claim that was allowed within the grace period.
 */
struct claimstore;

/*
 * A store writing through `kc` (borrowed; it must outlive the store), with the public suffix
 * list read from `psl_file` (NULL: PSL_FILE). NULL with the reason in err.
 */
struct claimstore *claimstore_new(struct kube_client *kc, const char *psl_file, char *err,
    size_t errsz);
void claimstore_free(struct claimstore *cs);

/*
 * The registrable domain (public suffix + one label) of normalised name `name` (no "*."),
 * copied to out. false when `name` is itself a public suffix (or out is too small).
 */
bool claimstore_registrable(const struct claimstore *cs, const char *name, char *out,
    size_t outsz);

/*
 * Claims `pattern` (normalised) for `owner` in the apiserver (firstcome_claim_fn, with the
 * store as arg): FIRSTCOME_WON when claimed or already held by the owner's live objects,
 * FIRSTCOME_LOST when another owner holds an overlapping pattern, FIRSTCOME_PUBLIC_SUFFIX
 * when its domain has no registrable part, FIRSTCOME_ERROR (logged, reason in err) when the
 * apiserver could not be asked. A dry run writes nothing. The apiserver calls, and the wait
 * for the domain's lock, end by `deadline` (CLOCK_MONOTONIC; one per review, from
 * claimstore_budget). Thread-safe.
 */
enum firstcome_result claimstore_claim(struct claimstore *cs, const char *pattern,
    const char *owner, bool dry_run, const struct timespec *deadline, char *err, size_t errsz);

/*
 * What one review may spend on its claims, waiting for a domain's lock included: the shipped
 * webhooks time out after 5 s, and a claim the apiserver cannot confirm in time is denied
 * with 500 while the apiserver still listens. 2 s, not more: the claim runs on the server's
 * review pool, and a review that arrives while every pool thread is inside a hanging claim
 * waits in its queue for one budget before its own starts (2 x 2 s stays under 5 s).
 */
#define CLAIMSTORE_BUDGET_MS 2000
/* *deadline = now + CLAIMSTORE_BUDGET_MS (CLOCK_MONOTONIC). */
void claimstore_budget(struct timespec *deadline);

/*
 * Release: a reaper thread lists the claim ConfigMaps (label app.kubernetes.io/managed-by=
 * tenantguard) every `interval_s` seconds and asks holds(arg, pattern, owner) whether the live
 * state still holds exactly that claim (1), not (0), or is not ready yet (-1: the round is
 * skipped). A claim missing for `grace_s` seconds or more (remembered in memory from the
 * round it was first seen missing; a claim that reappears is forgotten) and not claimed
 * within the last `grace_s` seconds (its claimed-at time) is removed with an
 * update carrying the resourceVersion (409: left for the next round), and logged. An emptied
 * ConfigMap is kept. 0, or -1 with err. Stopped and joined by claimstore_reaper_stop (or
 * claimstore_free).
 */
int claimstore_reaper_start(struct claimstore *cs,
    int (*holds)(void *arg, const char *pattern, const char *owner), void *arg,
    unsigned interval_s, unsigned grace_s, char *err, size_t errsz);
void claimstore_reaper_stop(struct claimstore *cs);

#endif
