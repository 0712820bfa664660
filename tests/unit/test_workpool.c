/* SPDX-License-Identifier: Apache-2.0 */
/* test_workpool: every job handed over runs once, a full queue refuses, free runs the rest. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "testhelp.h"
#include "workpool.h"

static atomic_int runs;

/* Counts one run of the job. */
static void
count(void *arg)
{
	atomic_fetch_add(&runs, 1);
	atomic_fetch_add((atomic_int *)arg, 1);
}

/* Holds its pool thread until open_ is set, once it has said it entered. */
static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  opened = PTHREAD_COND_INITIALIZER;
static bool            open_, entered;

static void
blocker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&gate);
	entered = true;
	pthread_cond_broadcast(&opened);
	while (!open_)
		pthread_cond_wait(&opened, &gate);
	pthread_mutex_unlock(&gate);
}

int
main(void)
{
	enum { JOBS = 2000 };
	static atomic_int each[JOBS];
	struct workpool *p = workpool_new(4, JOBS);
	int refused = 0, once = 0;

	test_cond("workpool_new", p != NULL);
	for (int i = 0; i < JOBS; i++)
		refused += workpool_submit(p, count, &each[i]) != 0;
	workpool_free(p);   /* runs whatever is still queued */
	test_cond("a queue as large as the jobs refuses none", refused == 0);
	for (int i = 0; i < JOBS; i++)
		once += atomic_load(&each[i]) == 1;
	test_cond("every job ran exactly once, the queued ones by workpool_free", once == JOBS &&
	    atomic_load(&runs) == JOBS);

	/* One thread held inside a job, a queue of 2: the third waiting job is refused. */
	atomic_int a = 0, b = 0, c = 0;
	p = workpool_new(1, 2);
	test_cond("workpool_new (1 thread, queue 2)", p != NULL);
	test_cond("the blocker is taken", workpool_submit(p, blocker, NULL) == 0);
	pthread_mutex_lock(&gate);
	while (!entered)
		pthread_cond_wait(&opened, &gate);
	pthread_mutex_unlock(&gate);
	test_cond("two jobs wait in the queue", workpool_submit(p, count, &a) == 0 &&
	    workpool_submit(p, count, &b) == 0);
	test_cond("a third is refused while the queue is full", workpool_submit(p, count, &c) != 0);
	pthread_mutex_lock(&gate);
	open_ = true;
	pthread_cond_broadcast(&opened);
	pthread_mutex_unlock(&gate);
	workpool_free(p);
	test_cond("the queued two ran once each, the refused one never",
	    atomic_load(&a) == 1 && atomic_load(&b) == 1 && atomic_load(&c) == 0);
	return test_report();
}
