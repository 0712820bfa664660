/* SPDX-License-Identifier: Apache-2.0 */
/* declog: the decision log lines, buffered per thread and written in batches. */
#include "declog.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* About 50 decision lines: at 15k reviews/s a worker writes some 300 times a second. */
#define DECLOG_BUF_BYTES (16 * 1024)

struct declog_buf {
	pthread_mutex_t    lock;   /* the owner thread and whoever flushes */
	size_t             len;
	struct declog_buf *next;   /* in `bufs`, under reg_lock */
	char               data[DECLOG_BUF_BYTES];
};

static pthread_mutex_t    reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct declog_buf *bufs;            /* every live thread's buffer */
static atomic_bool        running;         /* set under reg_lock; read under a buffer's lock */
static pthread_t          flusher;
static pthread_cond_t     stop_cond = PTHREAD_COND_INITIALIZER;
static unsigned           flush_every_ms;

static pthread_once_t     key_once = PTHREAD_ONCE_INIT;
static pthread_key_t      buf_key;         /* its destructor flushes at thread exit */
static bool               key_ok;
static _Thread_local struct declog_buf *mine;

/* Writes and empties b; the caller holds b->lock. */
static void
buf_flush_locked(struct declog_buf *b)
{
	if (b->len > 0)
		log_write(b->data, b->len);
	b->len = 0;
}

/* A thread exits: what it buffered is written and its buffer goes. */
static void
buf_release(void *arg)
{
	struct declog_buf *b = arg, **pp;

	pthread_mutex_lock(&reg_lock);
	for (pp = &bufs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	pthread_mutex_unlock(&reg_lock);
	pthread_mutex_lock(&b->lock);
	buf_flush_locked(b);
	pthread_mutex_unlock(&b->lock);
	pthread_mutex_destroy(&b->lock);
	free(b);
	mine = NULL;
}

static void
key_init(void)
{
	key_ok = pthread_key_create(&buf_key, buf_release) == 0;
}

/* The calling thread's buffer, made on its first line; NULL when there is none to be had. */
static struct declog_buf *
buf_mine(void)
{
	struct declog_buf *b;

	if (mine != NULL)
		return mine;
	pthread_once(&key_once, key_init);
	if (!key_ok || (b = malloc(sizeof(*b))) == NULL)
		return NULL;
	pthread_mutex_init(&b->lock, NULL);
	b->len = 0;
	if (pthread_setspecific(buf_key, b) != 0) {
		pthread_mutex_destroy(&b->lock);
		free(b);
		return NULL;
	}
	pthread_mutex_lock(&reg_lock);
	b->next = bufs;
	bufs = b;
	pthread_mutex_unlock(&reg_lock);
	return mine = b;
}

void
declog_add(const char *line, size_t len)
{
	struct declog_buf *b;

	if (!atomic_load(&running) || len > DECLOG_BUF_BYTES || (b = buf_mine()) == NULL) {
		log_write(line, len);
		return;
	}
	pthread_mutex_lock(&b->lock);
	/*
	 * Read again under the buffer's lock: declog_stop clears `running` before its last
	 * flush takes this lock, so a line is either in that flush or written here.
	 */
	if (!atomic_load(&running)) {
		buf_flush_locked(b);
		log_write(line, len);
	} else {
		if (b->len + len > sizeof(b->data))
			buf_flush_locked(b);
		memcpy(b->data + b->len, line, len);
		b->len += len;
	}
	pthread_mutex_unlock(&b->lock);
}

void
declog_flush(void)
{
	pthread_mutex_lock(&reg_lock);
	for (struct declog_buf *b = bufs; b != NULL; b = b->next) {
		pthread_mutex_lock(&b->lock);
		buf_flush_locked(b);
		pthread_mutex_unlock(&b->lock);
	}
	pthread_mutex_unlock(&reg_lock);
}

static void *
flusher_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&reg_lock);
	while (atomic_load(&running)) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)(flush_every_ms % 1000) * 1000000L;
		until.tv_sec += flush_every_ms / 1000 + until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		(void)pthread_cond_timedwait(&stop_cond, &reg_lock, &until);
		for (struct declog_buf *b = bufs; b != NULL; b = b->next) {
			pthread_mutex_lock(&b->lock);
			buf_flush_locked(b);
			pthread_mutex_unlock(&b->lock);
		}
	}
	pthread_mutex_unlock(&reg_lock);
	return NULL;
}

int
declog_start(unsigned flush_ms)
{
	int rc;

	pthread_mutex_lock(&reg_lock);
	if (atomic_load(&running)) {
		pthread_mutex_unlock(&reg_lock);
		return 0;
	}
	flush_every_ms = flush_ms > 0 ? flush_ms : DECLOG_FLUSH_MS;
	atomic_store(&running, true);
	if ((rc = pthread_create(&flusher, NULL, flusher_main, NULL)) != 0)
		atomic_store(&running, false);
	pthread_mutex_unlock(&reg_lock);
	if (rc != 0) {
		errno = rc;
		log_warn("decision log: no flusher thread, every line is written at once");
		return -1;
	}
	return 0;
}

void
declog_stop(void)
{
	bool was;

	pthread_mutex_lock(&reg_lock);
	was = atomic_exchange(&running, false);
	pthread_cond_signal(&stop_cond);
	pthread_mutex_unlock(&reg_lock);
	if (was)
		pthread_join(flusher, NULL);
	declog_flush();
}
