/* SPDX-License-Identifier: Apache-2.0 */
/* stateload: objects filed into a state, one checked object at a time or a JSON text on two threads. */
#ifndef TG_STATELOAD_H
#define TG_STATELOAD_H
#include <jansson.h>
#include <stddef.h>

struct config;
struct state;

/*
 * Checks the shape every consumer of a state file relies on: a mapping with a kind and a
 * metadata.name. 0, or -1 with "object [i] ..." in err.
 */
int stateload_check(const json_t *obj, size_t i, char *err, size_t errsz);

/* Checks object [i] and files its claims into st; 0, or -1 with "object [i] ..." in err. */
int stateload_object(struct state *st, const struct config *cfg, const json_t *obj, size_t i,
    char *err, size_t errsz);

/*
 * Files the objects of the JSON document in buf (len bytes) into st as statejson walks it
 * (statejson_each's shapes), the walk on a second thread. Returns statejson_each's answer:
 * 0; STATEJSON_NOT_JSON, when st holds part of the file and the caller reads it another way;
 * or -1 with "object [i] ..." (or why no thread could be had) in err.
 */
int stateload_json(struct state *st, const struct config *cfg, const char *buf, size_t len,
    char *err, size_t errsz);

#endif
