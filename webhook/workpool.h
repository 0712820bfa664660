/* SPDX-License-Identifier: Apache-2.0 */
/* workpool: threads that run the jobs the endpoint's workers must not wait for (claim writes). */
#ifndef TG_WORKPOOL_H
#define TG_WORKPOOL_H

struct workpool;

typedef void (*workpool_fn)(void *arg);

/*
 * `threads` threads (at least 1) and room for `queue` jobs waiting for one. NULL when out of
 * memory or a thread cannot be started.
 */
struct workpool *workpool_new(unsigned threads, unsigned queue);

/*
 * Hands fn(arg) to a thread, first come first served. 0, or -1 when the queue is full (or
 * the pool is stopping): the caller then runs it itself or refuses it.
 */
int workpool_submit(struct workpool *p, workpool_fn fn, void *arg);

/* Runs every job already handed over, then stops and joins the threads, and frees p (NULL:
 * nothing). */
void workpool_free(struct workpool *p);

#endif
