/* SPDX-License-Identifier: Apache-2.0 */
/* defaultclass: logs a cluster-default IngressClass that hands Ingresses to the entry. */
#ifndef TG_DEFAULTCLASS_H
#define TG_DEFAULTCLASS_H

struct config;
struct live;

/*
 * What the IngressClass informer last showed: which default classes are the entry's
 * (ingressclass.h). Logged as a warning when one becomes so (at start-up too) and when it
 * stops being so; published as tenantguard_ingressclass_default_entry. Never a readiness
 * condition: the class-less Ingresses it affects are judged by ingress-class anyway.
 */
struct defaultclass;

struct defaultclass *defaultclass_new(void);
void defaultclass_free(struct defaultclass *dc);

/*
 * Re-reads the cached IngressClasses of `lv` (borrowed) against `cfg` (borrowed, for the
 * call) and logs what changed. `type` is the informer event that prompted it (ADDED,
 * MODIFIED, DELETED, LISTED) or NULL for a new config; nothing is judged before the first
 * LISTED. Thread-safe; takes the live cache's writer lock (live_list), so never inside a
 * live_read_begin/end pair.
 */
void defaultclass_check(struct defaultclass *dc, struct live *lv, const struct config *cfg,
    const char *type);

#endif
