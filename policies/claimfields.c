/* SPDX-License-Identifier: Apache-2.0 */
/* claimfields: walks the host-binding fields of Ingress, Gateway API and Istio objects. */
#include "claimfields.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "host.h"
#include "jsonget.h"
#include "owner.h"
#include "rules.h"

static const struct {
	const char     *group, *kind;
	enum claim_kind ck;
} kinds[] = {
	{ "networking.k8s.io",         "Ingress",        CLAIM_KIND_INGRESS },
	{ "gateway.networking.k8s.io", "HTTPRoute",      CLAIM_KIND_ROUTE },
	{ "gateway.networking.k8s.io", "GRPCRoute",      CLAIM_KIND_ROUTE },
	{ "gateway.networking.k8s.io", "TLSRoute",       CLAIM_KIND_ROUTE },
	{ "gateway.networking.k8s.io", "Gateway",        CLAIM_KIND_LISTENERS },
	{ "gateway.networking.k8s.io", "ListenerSet",    CLAIM_KIND_LISTENERS },
	{ "networking.istio.io",       "VirtualService", CLAIM_KIND_VIRTUALSERVICE },
	{ "networking.istio.io",       "Gateway",        CLAIM_KIND_ISTIO_GATEWAY },
};

enum claim_kind
claimfields_kind(const char *group, const char *kind)
{
	if (group == NULL || kind == NULL)
		return CLAIM_KIND_NONE;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++)
		if (strcmp(kinds[i].kind, kind) == 0 && strcmp(kinds[i].group, group) == 0)
			return kinds[i].ck;
	return CLAIM_KIND_NONE;
}

enum claim_kind
claimfields_kind_of(const json_t *obj)
{
	const char *av = jsonget_str(obj, "apiVersion"), *kind = jsonget_str(obj, "kind");
	char group[128];
	const char *slash = av ? strchr(av, '/') : NULL;

	if (av == NULL || kind == NULL)
		return CLAIM_KIND_NONE;
	/* "group/version", or "v1" for the core group (copied, not formatted: it runs per object) */
	size_t n = slash ? (size_t)(slash - av) : 0;
	if (n >= sizeof(group))
		n = sizeof(group) - 1;
	memcpy(group, av, n);
	group[n] = '\0';
	return claimfields_kind(group, kind);
}

const char *
claimfields_key_kind(const json_t *obj)
{
	if (claimfields_kind_of(obj) == CLAIM_KIND_ISTIO_GATEWAY)
		return CLAIMFIELDS_ISTIO_GATEWAY;
	return jsonget_str(obj, "kind");
}

static int
each_string(const json_t *arr, claimfields_fn fn, void *arg)
{
	const json_t *h;
	size_t i;
	int rc;

	json_array_foreach(arr, i, h)
		if (json_is_string(h) && strcmp(json_string_value(h), "*") != 0 &&
		    (rc = fn(json_string_value(h), arg)) != 0)
			return rc;
	return 0;
}

/* A VirtualService host binds a public host only when it is a public name. */
static bool
vs_public(const struct config *cfg, const char *raw)
{
	char norm[HOST_MAX], ns[64];
	const char *why;
	if (host_normalize(raw, norm, sizeof(norm), &why) != 0)
		return true;   /* invalid: the caller ignores it, the rules refuse it */
	return owner_cluster_name(cfg, norm, ns, sizeof(ns)) == CLUSTER_NAME_PUBLIC;
}

int
claimfields_each(const struct config *cfg, const json_t *obj, claimfields_fn fn, void *arg)
{
	const json_t *spec = json_object_get(obj, "spec"), *e, *h;
	size_t i, j;
	int rc = 0;

	switch (claimfields_kind_of(obj)) {
	case CLAIM_KIND_NONE:
		return 0;
	case CLAIM_KIND_INGRESS:
		json_array_foreach(json_object_get(spec, "rules"), i, e)
			if ((h = json_object_get(e, "host")) != NULL && json_is_string(h) &&
			    (rc = fn(json_string_value(h), arg)) != 0)
				return rc;
		json_array_foreach(json_object_get(spec, "tls"), i, e)
			if ((rc = each_string(json_object_get(e, "hosts"), fn, arg)) != 0)
				return rc;
		return 0;
	case CLAIM_KIND_ROUTE:
		return each_string(json_object_get(spec, "hostnames"), fn, arg);
	case CLAIM_KIND_LISTENERS:
		json_array_foreach(json_object_get(spec, "listeners"), i, e)
			if ((h = json_object_get(e, "hostname")) != NULL && json_is_string(h) &&
			    (rc = fn(json_string_value(h), arg)) != 0)
				return rc;
		return 0;
	case CLAIM_KIND_VIRTUALSERVICE:
		json_array_foreach(json_object_get(spec, "hosts"), i, h)
			if (json_is_string(h) && strcmp(json_string_value(h), "*") != 0 &&
			    vs_public(cfg, json_string_value(h)) &&
			    (rc = fn(json_string_value(h), arg)) != 0)
				return rc;
		return 0;
	case CLAIM_KIND_ISTIO_GATEWAY:
		json_array_foreach(json_object_get(spec, "servers"), i, e)
			json_array_foreach(json_object_get(e, "hosts"), j, h) {
				const char *s = json_string_value(h), *slash;
				if (s == NULL)
					continue;
				if ((slash = strchr(s, '/')) != NULL)
					s = slash + 1;   /* "namespace/host": the host is the claim */
				if (strcmp(s, "*") != 0 && (rc = fn(s, arg)) != 0)
					return rc;
			}
		return 0;
	}
	return 0;
}
