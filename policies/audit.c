/* SPDX-License-Identifier: Apache-2.0 */
/* audit: every existing object through the per-kind rules, oldest first for first-come claims. */
#include "audit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "jsonget.h"
#include "policy.h"
#include "rules.h"
#include "state.h"

struct item {
	const char *created;   /* metadata.creationTimestamp, "" when absent */
	size_t      index;     /* position in the input: the tie-break */
};

/* RFC 3339 in UTC sorts as text; equal times keep the input's order. */
static int
item_order(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c = strcmp(x->created, y->created);
	if (c != 0)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

void
audit_report_clear(struct audit_report *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static int
report_add(struct audit_report *r, const struct request *req, const char *tenant,
    const struct violation *v)
{
	if (r->n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 64;
		struct audit_entry *g = realloc(r->v, nc * sizeof(*g));
		if (g == NULL)
			return -1;
		r->v = g;
		r->cap = nc;
	}
	struct audit_entry *e = &r->v[r->n++];
	snprintf(e->kind, sizeof(e->kind), "%s", req->kind);
	snprintf(e->namespace, sizeof(e->namespace), "%s", req->namespace);
	snprintf(e->name, sizeof(e->name), "%s", req->name);
	snprintf(e->tenant, sizeof(e->tenant), "%s", tenant ? tenant : "");
	e->rule = v->rule;
	snprintf(e->message, sizeof(e->message), "%s", v->message);
	return 0;
}

/* Fills req for a CREATE of obj: group and version from apiVersion ("v1": the core group). */
static void
request_for(const json_t *obj, struct request *req, char *group, size_t groupsz)
{
	const char *api = jsonget_str(obj, "apiVersion");
	const char *slash = api ? strchr(api, '/') : NULL;
	const json_t *meta = json_object_get(obj, "metadata");

	memset(req, 0, sizeof(*req));
	snprintf(group, groupsz, "%.*s", slash ? (int)(slash - api) : 0, slash ? api : "");
	req->uid = "audit";
	req->group = group;
	req->version = slash ? slash + 1 : api ? api : "";
	req->kind = jsonget_str(obj, "kind") ? jsonget_str(obj, "kind") : "";
	req->subresource = "";
	req->namespace = jsonget_str(meta, "namespace") ? jsonget_str(meta, "namespace") : "";
	req->name = jsonget_str(meta, "name") ? jsonget_str(meta, "name") : "";
	req->op = OP_CREATE;
	req->username = "";
	req->object = obj;
}

/* An object of src, or NULL with err said. */
static json_t *
get_object(const struct audit_source *src, size_t i, const struct jsonget_fields *keep,
    char *err, size_t errsz)
{
	json_t *o = src->object(src->arg, i, keep);

	if (o == NULL)
		snprintf(err, errsz, "out of memory");
	return o;
}

int
audit_run_each(const struct config *cfg, const struct audit_source *src, time_t now,
    struct audit_report *r, char *err, size_t errsz)
{
	size_t n = src->n, i;
	struct item *items = calloc(n ? n : 1, sizeof(*items));
	struct violations *vs = malloc(sizeof(*vs));
	struct state *all = state_new(), *older = state_new();
	json_t *o = NULL;
	int rc = -1;

	if (items == NULL || vs == NULL || all == NULL || older == NULL) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	/* Both indexes sized once for all n (a hint: state_reserve's failure changes nothing). */
	(void)state_reserve(all, n);
	(void)state_reserve(older, n);
	for (i = 0; i < n; i++) {
		const char *c = src->created(src->arg, i);
		items[i] = (struct item){ c ? c : "", i };
	}
	qsort(items, n, sizeof(*items), item_order);
	/*
	 * Both states file the objects in the same order, so an owner gets the same id in each:
	 * `older` grows object by object and answers the first-come question with the same ids
	 * the rule context takes from `all`.
	 */
	for (i = 0; i < n; i++) {
		if ((o = get_object(src, items[i].index, state_object_fields, err, errsz)) == NULL ||
		    state_add_object(all, cfg, o, err, errsz) != 0)
			goto out;
		json_decref(o);
		o = NULL;
	}
	for (i = 0; i < n; i++) {
		struct request req;
		char group[128], desc[600];

		if ((o = get_object(src, items[i].index, NULL, err, errsz)) == NULL)
			goto out;
		request_for(o, &req, group, sizeof(group));
		/* Against the rest: its own claims must not vouch for it (entry routes). */
		if (state_remove_object(all, cfg, o) != 0) {
			snprintf(err, errsz, "the claim index lost track of %s %s", req.kind, req.name);
			goto out;
		}
		const struct tenant *t = policy_audit_object(cfg, all, older, &req, now, vs, desc,
		    sizeof(desc));
		/* A Tenant object's violations count against that tenant. */
		const char *tenant = t ? t->name : NULL;
		if (strcmp(req.kind, "Tenant") == 0 && config_tenant(cfg, req.name) != NULL)
			tenant = req.name;
		bool collided = false;
		for (size_t k = 0; k < vs->n; k++) {
			collided |= vs->v[k].rule == RULE_HOST_COLLISION;
			if (report_add(r, &req, tenant, &vs->v[k]) != 0) {
				snprintf(err, errsz, "out of memory");
				goto out;
			}
		}
		if (state_add_object(all, cfg, o, err, errsz) != 0)
			goto out;
		/*
		 * A colliding object takes no claim from the first owner: later objects are judged
		 * as if it had been refused (its other hosts then protect nothing either).
		 */
		if (!collided && state_add_object(older, cfg, o, err, errsz) != 0)
			goto out;
		json_decref(o);
		o = NULL;
	}
	r->objects = n;
	rc = 0;
out:
	json_decref(o);
	state_free(all);
	state_free(older);
	free(vs);
	free(items);
	return rc;
}

/* audit_source over a JSON array of objects: each borrowed from it whole. */
static const char *
array_created(void *arg, size_t i)
{
	return jsonget_str(json_object_get(json_array_get(arg, i), "metadata"),
	    "creationTimestamp");
}

static json_t *
array_object(void *arg, size_t i, const struct jsonget_fields *keep)
{
	(void)keep;
	return json_incref(json_array_get(arg, i));
}

int
audit_run(const struct config *cfg, const json_t *objects, time_t now,
    struct audit_report *r, char *err, size_t errsz)
{
	/* The array is only read: the source's arg is not const for the callbacks' sake. */
	struct audit_source src = { json_array_size(objects), array_created, array_object,
	    (json_t *)objects };

	return audit_run_each(cfg, &src, now, r, err, errsz);
}
