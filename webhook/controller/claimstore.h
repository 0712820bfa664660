/* SPDX-License-Identifier: Apache-2.0 */
/* claimstore: first-come host claims made durable in the apiserver before a review allows them. */
#ifndef TG_CLAIMSTORE_H
#define TG_CLAIMSTORE_H
#include <time.h>
#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

struct config;
struct kube_client;

#define CLAIMSTORE_NAMESPACE "tenantguard-system"
#define CLAIMSTORE_REAP_INTERVAL 5    /* seconds between release rounds (at most the grace) */
#define CLAIMSTORE_GRACE         60   /* seconds a claim may miss from the live state */
#define CLAIMSTORE_PSL_FILE  "/usr/share/publicsuffix/public_suffix_list.dat"

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
 * list read from `psl_file` (NULL: CLAIMSTORE_PSL_FILE). NULL with the reason in err.
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
 * After policy_validate allowed `req` (d->allowed): for CREATE/UPDATE of an Ingress or
 * HTTPRoute outside the entry namespace, claims every first-come pattern of the object (not
 * in the system domain, overlapping no reservation) for the namespace's owner. Denies d with
 * host-collision when another owner holds an overlapping pattern, host-ownership for a
 * pattern whose domain is a public suffix, and code 500 when the apiserver cannot be asked.
 * dryRun requests are checked but write nothing. The apiserver calls share a budget counted
 * from `since` (CLOCK_MONOTONIC, when the request arrived; NULL: now). Thread-safe.
 */
void claimstore_review(struct claimstore *cs, const struct config *cfg,
    const struct request *req, struct decision *d, const struct timespec *since);

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
