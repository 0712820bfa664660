/* SPDX-License-Identifier: Apache-2.0 */
/* statefile: builds a struct state from a file of cluster objects (the --state seam). */
#ifndef TG_STATEFILE_H
#define TG_STATEFILE_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct audit_source;
struct config;
struct state;

/*
 * Reads objects from a Kubernetes List (JSON or YAML; kind "List" or any "*List" with
 * items), a JSON array, or multi-document YAML (empty documents skipped; a List document
 * inside a stream is flattened), at most 64 MiB, and returns them as one JSON array (new
 * reference), or NULL with "path: reason" in err. Every object must be a mapping with a
 * kind and metadata.name; a message names the first bad one as "object [i]" (from 0).
 */
json_t *statefile_read_objects(const char *path, char *err, size_t errsz);

/*
 * Builds a new state (state_free) from a JSON array of objects (borrowed), checking each as
 * statefile_read_objects does; NULL with the reason ("object [i] ...") in err.
 */
struct state *statefile_from_objects(const struct config *cfg, const json_t *objects, char *err,
    size_t errsz);

/*
 * The Tenant objects (tenantguard.io) among `objects` (borrowed), as a new array for
 * config_load_*_tenants; NULL only when out of memory.
 */
json_t *statefile_select_tenants(const json_t *objects);

/*
 * A state file read once for `review` or `audit`, whose Tenant objects build the config the
 * state is then indexed against. A JSON file is walked in place: first only to check every
 * object and decode the Tenants whole (the rest skimmed), then indexed as statefile_load
 * indexes it, or its objects decoded one at a time; YAML is read whole once, as
 * statefile_read_objects reads it.
 */
struct statefile;

/*
 * Reads path and finds its Tenant objects: a new statefile (statefile_close), or NULL with
 * the "path: reason" statefile_read_objects would give. With places, it also notes where each
 * object is and when it was created, for statefile_audit_source.
 */
struct statefile *statefile_open(const char *path, bool places, char *err, size_t errsz);
/* Its Tenant objects (borrowed: valid until statefile_close), for config_load_*_tenants. */
const json_t *statefile_tenants(const struct statefile *sf);
/* A new state (state_free) of its objects against cfg, or NULL with "path: reason" in err. */
struct state *statefile_index(const struct statefile *sf, const struct config *cfg, char *err,
    size_t errsz);
/*
 * Of a statefile opened with places: fills *src with its objects in the file's order, each
 * decoded from its text when audit_run_each asks (a JSON file: only the members keep names,
 * by jsonskim), so the audit never holds the file as one tree. Valid while sf is open.
 */
void statefile_audit_source(struct statefile *sf, struct audit_source *src);
void statefile_close(struct statefile *sf);

/*
 * The state statefile_read_objects + statefile_from_objects would build of path (JSON streamed
 * object by object, not kept), or NULL with "path: reason" in err.
 */
struct state *statefile_load(const struct config *cfg, const char *path, char *err,
    size_t errsz);

#endif
