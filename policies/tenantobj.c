/* SPDX-License-Identifier: Apache-2.0 */
/* tenantobj: the one reader of Tenant objects, shared by the config merge and admission. */
#include "tenantobj.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "enforce.h"
#include "jsonget.h"

bool
tenantobj_is_tenant(const json_t *obj)
{
	const char *api = jsonget_str(obj, "apiVersion"), *kind = jsonget_str(obj, "kind");
	size_t gl = sizeof(TENANTOBJ_GROUP) - 1;
	return kind != NULL && api != NULL && strcmp(kind, TENANTOBJ_KIND) == 0 &&
	    strncmp(api, TENANTOBJ_GROUP, gl) == 0 && api[gl] == '/';
}

/* spec[key], a list of distinct non-empty strings, into a new vector; absent is empty. */
static int
read_strings(const json_t *spec, const char *key, char ***out, size_t *n_out, char *err,
    size_t errsz)
{
	const json_t *arr = json_object_get(spec, key), *item;
	size_t i;

	if (arr == NULL || json_is_null(arr))
		return 0;
	if (!json_is_array(arr)) {
		snprintf(err, errsz, "spec.%s must be a list of strings", key);
		return -1;
	}
	if ((*out = calloc(json_array_size(arr) + 1, sizeof(**out))) == NULL)
		goto nomem;
	json_array_foreach(arr, i, item) {
		const char *s = json_string_value(item);
		if (s == NULL || *s == '\0' || strlen(s) != json_string_length(item)) {
			snprintf(err, errsz, "spec.%s[%zu] must be a non-empty string", key, i);
			return -1;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp((*out)[j], s) == 0) {
				snprintf(err, errsz, "spec.%s lists \"%s\" twice", key, s);
				return -1;
			}
		if (((*out)[i] = strdup(s)) == NULL)
			goto nomem;
		(*n_out)++;
	}
	return 0;
nomem:
	snprintf(err, errsz, "out of memory");
	return -1;
}

/* The baseline, then spec.resourceQuota over it resource by resource (as a file tenant's). */
static int
read_quota(const struct config *cfg, const json_t *rq, struct tenant *t, char *err,
    size_t errsz)
{
	size_t cap = 0;
	const char *res;
	json_t *v;
	char num[32];

	if (rq == NULL || json_is_null(rq))
		return 0;
	if (!json_is_object(rq)) {
		snprintf(err, errsz, "spec.resourceQuota must be a map of resource names to "
		    "quantities");
		return -1;
	}
	for (size_t i = 0; i < cfg->n_quota; i++)
		if (config_quota_set(&t->quota, &t->n_quota, &cap, cfg->quota[i].resource,
		    cfg->quota[i].quantity) != 0)
			goto nomem;
	json_object_foreach((json_t *)rq, res, v) {
		const char *qty = json_string_value(v);
		if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			qty = num;
		}
		if (!config_is_resource_name(res)) {
			snprintf(err, errsz, "spec.resourceQuota: \"%s\" is not a resource name", res);
			return -1;
		}
		if (qty == NULL || !config_is_quantity(qty)) {
			snprintf(err, errsz, "spec.resourceQuota[%s] must be a non-negative quantity "
			    "(e.g. \"5\", \"500m\", \"4Gi\")", res);
			return -1;
		}
		if (config_quota_set(&t->quota, &t->n_quota, &cap, res, qty) != 0)
			goto nomem;
	}
	return 0;
nomem:
	snprintf(err, errsz, "out of memory");
	return -1;
}

int
tenantobj_read(const struct config *cfg, const json_t *obj, struct tenant *t, char *err,
    size_t errsz)
{
	static const char *const keys[] = { "customDomains", "backendNamespaces",
		"resourceQuota", "enforcement", "registryNamespaces" };
	const json_t *spec = json_object_get(obj, "spec"), *v;
	const char *name = jsonget_str(json_object_get(obj, "metadata"), "name"), *k;

	t->from_object = true;
	if (name == NULL || *name == '\0') {
		snprintf(err, errsz, "metadata.name must be a non-empty string");
		return -1;
	}
	if ((t->name = strdup(name)) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if (spec == NULL || json_is_null(spec))
		return 0;   /* a tenant without custom domains or extra namespaces */
	if (!json_is_object(spec)) {
		snprintf(err, errsz, "spec must be an object");
		return -1;
	}
	json_object_foreach((json_t *)spec, k, v) {
		size_t i = 0;
		while (i < sizeof(keys) / sizeof(*keys) && strcmp(k, keys[i]) != 0)
			i++;
		if (i == sizeof(keys) / sizeof(*keys)) {
			snprintf(err, errsz, "spec.%s is not a Tenant field (customDomains, "
			    "backendNamespaces, resourceQuota, enforcement, registryNamespaces)", k);
			return -1;
		}
	}
	if (read_strings(spec, "customDomains", &t->custom_domains, &t->n_custom_domains, err,
	    errsz) != 0 ||
	    read_strings(spec, "backendNamespaces", &t->backend_namespaces,
	    &t->n_backend_namespaces, err, errsz) != 0 ||
	    read_strings(spec, "registryNamespaces", &t->registry_namespaces,
	    &t->n_registry_namespaces, err, errsz) != 0)
		return -1;
	const json_t *at;
	const char *at_key;
	if (enforce_read(json_object_get(spec, "enforcement"), "spec.enforcement",
	    &t->enforcement, &at, &at_key, err, errsz) != 0)
		return -1;
	return read_quota(cfg, json_object_get(spec, "resourceQuota"), t, err, errsz);
}
