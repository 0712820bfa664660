/* SPDX-License-Identifier: Apache-2.0 */
/* leader: leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection. */
#ifndef TG_LEADER_H
#define TG_LEADER_H
#include <stdbool.h>
#include <stddef.h>

struct kube_client;

/*
 * One candidate for one Lease, with a thread of its own. It creates the Lease, or takes it
 * over when its holder's record (its resourceVersion) has not changed for the record's
 * leaseDurationSeconds as measured on our monotonic clock since we first saw that record
 * (so the clocks of other machines do not matter), or when it has no holder. A takeover is
 * a PUT with the resourceVersion seen, so of two candidates only one wins. While leading
 * it renews every retry period; when no renewal succeeded for renew_deadline since the
 * start of the last good one, it stops leading. Since others wait lease_seconds from when
 * they saw our last renewal, and that is later than when we sent it, we stop believing we
 * lead before anyone else can start.
 */
struct leader;

/* Timing; a zero member takes its default. lease > renew deadline > 1.2 * retry. */
struct leader_opts {
	unsigned lease_seconds;            /* leaseDurationSeconds we write; default 15 */
	unsigned renew_deadline_seconds;   /* give up leading this long after the last renewal; 10 */
	unsigned retry_ms;                 /* between attempts, to acquire or to renew; 2000 */
};

/*
 * Starts campaigning for the Lease ns/name as `identity` (all copied) through `kc`
 * (borrowed; it must outlive leader_stop, and its client-wide stop flag must not be raised
 * before leader_stop, or the Lease cannot be released). on_change(leading, arg) is called
 * from the leader's thread at every transition: true once we lead, false once we no longer
 * do (deadline passed, another holder seen, or leader_stop); it must not call leader_stop.
 * `opts` NULL: the defaults. New leader (leader_stop), or NULL with the reason in err
 * (bad options, no thread).
 */
struct leader *leader_start(struct kube_client *kc, const char *ns, const char *name,
    const char *identity, const struct leader_opts *opts,
    void (*on_change)(bool leading, void *arg), void *arg, char *err, size_t errsz);

/*
 * Whether we lead now: true only between a successful acquire or renewal and its renew
 * deadline, whatever the thread is doing. Thread-safe, lock-free.
 */
bool leader_is(struct leader *l);

/*
 * Stops the thread (its requests are cut short; within about a second) and, when we lead,
 * steps down: on_change(false) first, then the Lease is released (no holder,
 * leaseDurationSeconds 1, with our resourceVersion) so that another candidate takes it at
 * its next attempt rather than after the lease expires. Then frees everything. NULL: no-op.
 */
void leader_stop(struct leader *l);

/*
 * An identity for this process: $POD_NAME when set (unique among a Deployment's pods),
 * else "hostname_pid". Always terminated; cut to outsz.
 */
void leader_default_identity(char *out, size_t outsz);

#endif
