/* SPDX-License-Identifier: Apache-2.0 */
/* workpool: threads that run the jobs the endpoint's workers must not wait for (claim writes). */
#include "workpool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct job {
	workpool_fn fn;
	void       *arg;
};

struct workpool {
	pthread_mutex_t lock;
	pthread_cond_t  ready;     /* a job was queued, or stop */
	struct job     *ring;      /* `cap` slots; jobs [head, head + len) */
	unsigned        cap, head, len;
	bool            stop;
	pthread_t      *threads;
	unsigned        nthreads;  /* started */
};

static void *
worker(void *arg)
{
	struct workpool *p = arg;
	struct job j;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->len == 0 && !p->stop)
			pthread_cond_wait(&p->ready, &p->lock);
		if (p->len == 0)
			break;   /* stopping, and nothing left to run */
		j = p->ring[p->head];
		p->head = (p->head + 1) % p->cap;
		p->len--;
		pthread_mutex_unlock(&p->lock);
		j.fn(j.arg);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct workpool *
workpool_new(unsigned threads, unsigned queue)
{
	struct workpool *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->cap = queue > 0 ? queue : 1;
	p->ring = calloc(p->cap, sizeof(*p->ring));
	p->threads = calloc(threads > 0 ? threads : 1, sizeof(*p->threads));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->ready, NULL);
	if (p->ring == NULL || p->threads == NULL) {
		workpool_free(p);
		return NULL;
	}
	for (unsigned i = 0; i < (threads > 0 ? threads : 1); i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
			workpool_free(p);
			return NULL;
		}
		p->nthreads++;
	}
	return p;
}

int
workpool_submit(struct workpool *p, workpool_fn fn, void *arg)
{
	int rc = -1;

	pthread_mutex_lock(&p->lock);
	if (!p->stop && p->len < p->cap) {
		p->ring[(p->head + p->len) % p->cap] = (struct job){ fn, arg };
		p->len++;
		pthread_cond_signal(&p->ready);
		rc = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void
workpool_free(struct workpool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->ready);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->ready);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p->ring);
	free(p);
}
