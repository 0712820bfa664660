/* SPDX-License-Identifier: Apache-2.0 */
/* defaultclass: the cluster's default IngressClass, checked against the entry's, and logged. */
#include "defaultclass.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ingressclass.h"
#include "jsonget.h"
#include "live.h"
#include "log.h"
#include "metrics.h"
#include "strmap.h"

struct defaultclass {
	pthread_mutex_t lock;
	bool            listed;    /* the informer's first LIST is in */
	bool            reported;  /* the first check after it was logged */
	struct strmap  *flagged;   /* class name -> (void *)(enum ingressclass_entry) */
};

struct defaultclass *
defaultclass_new(void)
{
	struct defaultclass *dc = calloc(1, sizeof(*dc));

	if (dc == NULL)
		return NULL;
	if ((dc->flagged = strmap_new()) == NULL) {
		free(dc);
		return NULL;
	}
	pthread_mutex_init(&dc->lock, NULL);
	return dc;
}

void
defaultclass_free(struct defaultclass *dc)
{
	if (dc == NULL)
		return;
	strmap_free(dc->flagged);
	pthread_mutex_destroy(&dc->lock);
	free(dc);
}

/* strmap_each over the classes flagged before: says which are not any more (not in arg). */
static void
log_cleared(const char *name, void *value, void *arg)
{
	(void)value;
	if (strmap_get(arg, name) == NULL)
		log_info("IngressClass %s is no longer a default class that is the entry's "
		    "(deleted, or no longer marked default)", name);
}

void
defaultclass_check(struct defaultclass *dc, struct live *lv, const struct config *cfg,
    const char *type)
{
	json_t *classes, *ic;
	struct strmap *now;
	size_t i, flagged = 0;

	pthread_mutex_lock(&dc->lock);
	if (type != NULL && strcmp(type, "LISTED") == 0)
		dc->listed = true;
	if (!dc->listed || cfg == NULL) {
		pthread_mutex_unlock(&dc->lock);
		return;
	}
	classes = live_list(lv, "IngressClass", "");
	now = strmap_new();
	if (classes == NULL || now == NULL) {
		log_warnx("IngressClass check: out of memory");
		goto out;
	}
	const char *ctl = ingressclass_entry_controller(cfg, classes);
	json_array_foreach(classes, i, ic) {
		const char *name = jsonget_str(json_object_get(ic, "metadata"), "name");
		enum ingressclass_entry e = ingressclass_default_entry(cfg, ic, ctl);

		if (name == NULL || e == INGRESSCLASS_NOT_ENTRY)
			continue;
		flagged++;
		if (strmap_set(now, name, (void *)(uintptr_t)e) != 0) {
			log_warnx("IngressClass check: out of memory");
			goto out;
		}
		if ((uintptr_t)strmap_get(dc->flagged, name) == (uintptr_t)e)
			continue;   /* said already */
		if (e == INGRESSCLASS_ENTRY_NAME)
			log_warnx("IngressClass %s is the cluster's default class (%s) and the unified "
			    "entry's class (entryIngressClass): the apiserver gives it to every "
			    "class-less Ingress before tenantguard sees it, so tenants' class-less "
			    "Ingresses are refused [ingress-class] and any other one is served by the "
			    "shared entry controller; make the tenant class the default, or none",
			    name, INGRESSCLASS_DEFAULT_ANNOTATION);
		else
			log_warnx("IngressClass %s is the cluster's default class (%s) and is run by the "
			    "entry class %s's controller %s: class-less Ingresses are served by the "
			    "shared entry controller; make the tenant class the default, or none", name,
			    INGRESSCLASS_DEFAULT_ANNOTATION, cfg->entry_ingress_class, ctl);
	}
	/* What was flagged and is not any more: deleted, or no longer the default. */
	strmap_each(dc->flagged, log_cleared, now);
	strmap_free(dc->flagged);
	dc->flagged = now;
	now = NULL;
	if (!dc->reported && flagged == 0)
		log_info("IngressClass check: %zu classes, no default class is the entry's",
		    json_array_size(classes));
	dc->reported = true;
	metrics_default_entry_class(flagged);
out:
	strmap_free(now);
	json_decref(classes);
	pthread_mutex_unlock(&dc->lock);
}
