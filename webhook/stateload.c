/* SPDX-License-Identifier: Apache-2.0 */
/* stateload: objects filed into a state, one checked object at a time or a JSON text on two threads. */
#include "stateload.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "jsonskim.h"
#include "state.h"
#include "statejson.h"

int
stateload_check(const json_t *obj, size_t i, char *err, size_t errsz)
{
	const json_t *kind = json_object_get(obj, "kind");
	const json_t *name = json_object_get(json_object_get(obj, "metadata"), "name");

	if (!json_is_object(obj)) {
		snprintf(err, errsz, "object [%zu] is not a mapping", i);
		return -1;
	}
	if (!json_is_string(kind) || json_string_length(kind) == 0) {
		snprintf(err, errsz, "object [%zu] has no kind", i);
		return -1;
	}
	if (!json_is_string(name) || json_string_length(name) == 0) {
		snprintf(err, errsz, "object [%zu] (%s) has no metadata.name", i,
		    json_string_value(kind));
		return -1;
	}
	return 0;
}

int
stateload_object(struct state *st, const struct config *cfg, const json_t *obj, size_t i,
    char *err, size_t errsz)
{
	char msg[512];

	if (stateload_check(obj, i, err, errsz) != 0)
		return -1;
	msg[0] = '\0';
	if (state_add_object(st, cfg, obj, msg, sizeof(msg)) != 0) {
		snprintf(err, errsz, "object [%zu] (%s %s): %s", i,
		    json_string_value(json_object_get(obj, "kind")),
		    json_string_value(json_object_get(json_object_get(obj, "metadata"),
		    "name")), msg[0] ? msg : "cannot be added");
		return -1;
	}
	return 0;
}

/*
 * A JSON file is indexed on two threads: a walker decodes each item (statejson, in its
 * arena), checks it and writes out what it files (state_extract: a few dozen bytes), and this
 * thread files those extracts as they come (state_add_extract). The walk and the extracts are
 * a little more than half of a load (at 100k objects ~134 ms of CPU against ~80 for filing). Handing over the decoded objects instead was slower than one
 * thread: reading another core's freshly built jansson trees is a cache miss per node.
 */
#define STATELOAD_BATCH 256   /* items per hand-over */
#define STATELOAD_QUEUE 8     /* batches in flight: the walker waits beyond that */

/* One item: an extract in the batch's bytes, or a whole object (one that reads the index). */
struct item {
	size_t  i;      /* its index in the file */
	json_t *obj;    /* owned (built outside the arena); NULL: the extract */
	size_t  off, len;
};

struct batch {
	struct item v[STATELOAD_BATCH];
	size_t      n;
	char       *bytes;
	size_t      used, cap;
	size_t      reserve;   /* a size hint for the index, or 0 */
};

/* Between the walker and the indexer. */
struct pipe {
	const struct config *cfg;
	const char          *buf;
	size_t               len;
	pthread_mutex_t      lock;
	pthread_cond_t       cond;
	struct batch        *q[STATELOAD_QUEUE];
	size_t               head, count;
	struct batch        *spare[STATELOAD_QUEUE + 2];   /* filed batches, for the walker again */
	size_t               n_spare;
	bool                 done;      /* the walker has handed over all it will */
	bool                 stop;      /* the indexer failed: the walker gives up */
	int                  walk_rc;   /* statejson_each's answer */
	struct batch        *cur;       /* the walker's, being filled */
	char                *err;       /* the walker's refusal of an item */
	size_t               errsz;
};

/* Lets go of a batch's whole objects and empties it (its bytes kept for the next fill). */
static void
batch_clear(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		json_decref(b->v[i].obj);
	b->n = b->used = b->reserve = 0;
}

static void
batch_free(struct batch *b)
{
	if (b == NULL)
		return;
	batch_clear(b);
	free(b->bytes);
	free(b);
}

/* Hands the walker's batch over, waiting for room; -1 when the indexer has stopped. */
static int
pipe_push(struct pipe *p)
{
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	while (p->count == STATELOAD_QUEUE && !p->stop)
		pthread_cond_wait(&p->cond, &p->lock);
	if (p->stop) {
		rc = -1;
	} else {
		p->q[(p->head + p->count++) % STATELOAD_QUEUE] = p->cur;
		p->cur = NULL;
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

/*
 * A batch the indexer is done with goes back to the walker, which would otherwise make one
 * for every 256 items (in its own malloc arena: growing it was a tenth of the walk).
 */
static void
pipe_recycle(struct pipe *p, struct batch *b)
{
	batch_clear(b);
	pthread_mutex_lock(&p->lock);
	if (p->n_spare < sizeof(p->spare) / sizeof(p->spare[0])) {
		p->spare[p->n_spare++] = b;
		b = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	batch_free(b);
}

/* A batch for the walker to fill: a spare one, else a new one; NULL when out of memory. */
static struct batch *
pipe_batch(struct pipe *p)
{
	struct batch *b = NULL;

	pthread_mutex_lock(&p->lock);
	if (p->n_spare > 0)
		b = p->spare[--p->n_spare];
	pthread_mutex_unlock(&p->lock);
	if (b != NULL || (b = calloc(1, sizeof(*b))) == NULL)
		return b;
	b->cap = 16384;   /* 256 extracts of one host each fit */
	if ((b->bytes = malloc(b->cap)) == NULL) {
		free(b);
		return NULL;
	}
	return b;
}

/* The next batch for the indexer; NULL once the walker is done and nothing is left. */
static struct batch *
pipe_pop(struct pipe *p)
{
	struct batch *b = NULL;

	pthread_mutex_lock(&p->lock);
	while (p->count == 0 && !p->done)
		pthread_cond_wait(&p->cond, &p->lock);
	if (p->count > 0) {
		b = p->q[p->head];
		p->head = (p->head + 1) % STATELOAD_QUEUE;
		p->count--;
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	return b;
}

/* Room for need more bytes in the walker's batch; 0 or -1. */
static int
batch_room(struct batch *b, size_t need)
{
	size_t ncap = b->cap;
	char *nb;

	if (b->used + need <= b->cap)
		return 0;
	while (ncap < b->used + need)
		ncap *= 2;
	if ((nb = realloc(b->bytes, ncap)) == NULL)
		return -1;
	b->bytes = nb;
	b->cap = ncap;
	return 0;
}

/* After this many objects their average size predicts how many the file holds. */
#define STATELOAD_SAMPLE 1024

/*
 * statejson_each's callback on the walker. The item's shape is checked here, in file order,
 * so a refusal reads as it always has; the indexer then meets only objects it can file.
 */
static int
walk_object(json_t *obj, size_t i, size_t start, size_t end, void *arg)
{
	struct pipe *p = arg;
	char key[768];
	struct batch *b;
	size_t n;

	if (stateload_check(obj, i, p->err, p->errsz) != 0)
		return -1;
	if (p->cur == NULL && (p->cur = pipe_batch(p)) == NULL)
		goto nomem;
	b = p->cur;
	struct item *it = &b->v[b->n];
	*it = (struct item){ .i = i, .off = b->used };
	n = state_extract(p->cfg, obj, b->bytes + b->used, b->cap - b->used);
	if (n > b->cap - b->used) {
		if (batch_room(b, n) != 0)
			goto nomem;
		(void)state_extract(p->cfg, obj, b->bytes + b->used, n);
	}
	if (n == 0 && !state_object_key(obj, key, sizeof(key))) {
		snprintf(p->err, p->errsz, "object [%zu] (%s %s): the object's kind, namespace and "
		    "name are too long", i, json_string_value(json_object_get(obj, "kind")),
		    json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")));
		return -1;
	}
	if (n == 0) {
		/*
		 * An entry Ingress, filed whole: decoded again from its text with the fields the
		 * extract leaves out, outside the arena (which goes when this item is done).
		 */
		struct jsonskim js;
		bool was = arena_pause();
		jsonskim_init(&js, p->buf + start, end - start);
		it->obj = jsonskim_value(&js, state_object_fields);
		jsonskim_release(&js);
		arena_resume(was);
		if (it->obj == NULL)
			goto nomem;
	}
	it->len = n;
	b->used += n;
	b->n++;
	/*
	 * The index's tables are sized once for the whole file, as the first objects predict
	 * it, instead of doubling their way there (each doubling a new table to fault in and
	 * fill: 60% more page faults at 100k objects). Only a hint: a wrong guess still loads.
	 */
	if (i + 1 == STATELOAD_SAMPLE && end > 0)
		b->reserve = (size_t)((double)p->len / (double)end * STATELOAD_SAMPLE);
	return b->n == STATELOAD_BATCH ? pipe_push(p) : 0;
nomem:
	snprintf(p->err, p->errsz, "out of memory");
	return -1;
}

static void *
walker_main(void *arg)
{
	struct pipe *p = arg;
	int rc = statejson_each(p->buf, p->len, state_extract_fields, true, walk_object, p);

	/* The last batch goes too (even after a refusal of the item after it: it was checked). */
	if (p->cur != NULL && pipe_push(p) != 0 && rc == 0)
		rc = -1;
	batch_free(p->cur);   /* the indexer stopped: nobody else will */
	arena_release();
	pthread_mutex_lock(&p->lock);
	p->walk_rc = rc;
	p->done = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Files one item of a batch; 0, or -1 with "object [i] ..." in err. */
static int
index_item(struct state *st, const struct config *cfg, const struct batch *b,
    const struct item *it, char *err, size_t errsz)
{
	char msg[256];
	const char *key = b->bytes + it->off;

	if (it->obj != NULL)
		return stateload_object(st, cfg, it->obj, it->i, err, errsz);
	if (state_add_extract(st, key, it->len, msg, sizeof(msg)) == 0)
		return 0;
	/* The key is "Kind/namespace/name". */
	const char *slash = strchr(key, '/'), *name = strrchr(key, '/');
	snprintf(err, errsz, "object [%zu] (%.*s %s): %s", it->i, (int)(slash - key), key,
	    name + 1, msg);
	return -1;
}

int
stateload_json(struct state *st, const struct config *cfg, const char *buf, size_t len,
    char *err, size_t errsz)
{
	struct pipe p = { .cfg = cfg, .buf = buf, .len = len, .err = err, .errsz = errsz };
	char ierr[512] = "";
	pthread_t walker;
	struct batch *b;
	int rc = 0, trc;

	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.cond, NULL);
	if ((trc = pthread_create(&walker, NULL, walker_main, &p)) != 0) {
		snprintf(err, errsz, "cannot start the state walker: %s", strerror(trc));
		rc = -1;
		goto out;
	}
	while ((b = pipe_pop(&p)) != NULL) {
		if (rc == 0 && b->reserve > 0)
			(void)state_reserve(st, b->reserve);
		for (size_t i = 0; i < b->n && rc == 0; i++)
			if (index_item(st, cfg, b, &b->v[i], ierr, sizeof(ierr)) != 0) {
				pthread_mutex_lock(&p.lock);
				p.stop = true;   /* the walker gives up; what is queued is freed here */
				pthread_cond_broadcast(&p.cond);
				pthread_mutex_unlock(&p.lock);
				rc = -1;
			}
		pipe_recycle(&p, b);
	}
	pthread_join(walker, NULL);
	while (p.n_spare > 0)
		batch_free(p.spare[--p.n_spare]);
	if (rc != 0) {
		/* Only running out of memory fails here: the walker checked every item's shape. */
		snprintf(err, errsz, "%s", ierr);
		rc = p.walk_rc != 0 ? p.walk_rc : -1;
	} else {
		rc = p.walk_rc;
	}
out:
	pthread_cond_destroy(&p.cond);
	pthread_mutex_destroy(&p.lock);
	return rc;
}
