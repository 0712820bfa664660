/* SPDX-License-Identifier: Apache-2.0 */
/* claimfields: which fields of which kinds bind a host (DESIGN §1, §8), known in one place. */
#ifndef TG_CLAIMFIELDS_H
#define TG_CLAIMFIELDS_H
#include <jansson.h>
#include <stdbool.h>

struct config;

/* Istio's Gateway is keyed under this kind, apart from Gateway API's Gateway. */
#define CLAIMFIELDS_ISTIO_GATEWAY "Gateway.networking.istio.io"

enum claim_kind {
	CLAIM_KIND_NONE,           /* binds no host */
	CLAIM_KIND_INGRESS,        /* spec.rules[].host, spec.tls[].hosts[] */
	CLAIM_KIND_ROUTE,          /* HTTPRoute, GRPCRoute, TLSRoute: spec.hostnames[] */
	CLAIM_KIND_LISTENERS,      /* Gateway API Gateway, ListenerSet: spec.listeners[].hostname */
	CLAIM_KIND_VIRTUALSERVICE, /* Istio VirtualService: spec.hosts[] that are public names */
	CLAIM_KIND_ISTIO_GATEWAY,  /* Istio Gateway: the host part of spec.servers[].hosts[] */
};

/* The claim kind of API group `group` (e.g. "gateway.networking.k8s.io") and kind. */
enum claim_kind claimfields_kind(const char *group, const char *kind);
/* The claim kind of an object, from its apiVersion and kind. */
enum claim_kind claimfields_kind_of(const json_t *obj);

/*
 * The kind obj is keyed under ("Kind/namespace/name"): its kind, except that Istio's Gateway
 * is CLAIMFIELDS_ISTIO_GATEWAY. NULL when obj has no kind. Borrowed.
 */
const char *claimfields_key_kind(const json_t *obj);

/* Called with one raw host value (the host part of Istio's "namespace/host"). */
typedef int (*claimfields_fn)(const char *host, void *arg);

/*
 * Calls fn for every host obj claims, by its kind: every field above; never "*" (it binds
 * no one host: the rules refuse it), nor non-strings; for a VirtualService only public names
 * (a short name or a cluster Service name binds no public host: Istio expands a name without
 * dots to <name>.<namespace>.svc.<clusterDomain>). Returns fn's first non-zero, else 0.
 */
int claimfields_each(const struct config *cfg, const json_t *obj, claimfields_fn fn, void *arg);

#endif
