/* SPDX-License-Identifier: Apache-2.0 */
/* ingressclass: whether the cluster's default IngressClass hands Ingresses to the entry. */
#ifndef TG_INGRESSCLASS_H
#define TG_INGRESSCLASS_H
#include <jansson.h>
#include <stdbool.h>

struct config;

/* The annotation that makes an IngressClass the cluster default (k8s.io/api networking/v1). */
#define INGRESSCLASS_DEFAULT_ANNOTATION "ingressclass.kubernetes.io/is-default-class"

/* Why a default IngressClass is the entry's (ingressclass_default_entry). */
enum ingressclass_entry {
	INGRESSCLASS_NOT_ENTRY,        /* not the default, or the default is not the entry's */
	INGRESSCLASS_ENTRY_NAME,       /* the default is named entryIngressClass */
	INGRESSCLASS_ENTRY_CONTROLLER, /* the default's spec.controller is the entry class's */
};

/*
 * True when IngressClass `ic` (borrowed) is marked the cluster default: the annotation's value
 * is exactly "true", as the apiserver's DefaultIngressClass admission plugin reads it.
 */
bool ingressclass_is_default(const json_t *ic);

/*
 * The spec.controller of the IngressClass named cfg->entry_ingress_class among `classes` (a
 * JSON array of IngressClass objects, borrowed), or NULL when none is there or no entry class
 * is configured. The string is borrowed from `classes`.
 */
const char *ingressclass_entry_controller(const struct config *cfg, const json_t *classes);

/*
 * Whether `ic` is the cluster default and serves the unified entry: named entryIngressClass,
 * or run by the entry class's controller (`entry_controller` from
 * ingressclass_entry_controller; NULL: unknown, names only). The apiserver gives the default
 * class to every class-less Ingress before any webhook sees it, so such a default hands
 * class-less Ingresses of every namespace to the controller all tenants share.
 */
enum ingressclass_entry ingressclass_default_entry(const struct config *cfg, const json_t *ic,
    const char *entry_controller);

#endif
