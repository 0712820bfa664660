/* SPDX-License-Identifier: Apache-2.0 */
/* ingressclass: is the cluster's default IngressClass the unified entry's? (pure) */
#include "ingressclass.h"

#include <string.h>

#include "config.h"
#include "jsonget.h"

static const char *
class_name(const json_t *ic)
{
	return jsonget_str(json_object_get(ic, "metadata"), "name");
}

static const char *
class_controller(const json_t *ic)
{
	return jsonget_str(json_object_get(ic, "spec"), "controller");
}

bool
ingressclass_is_default(const json_t *ic)
{
	const char *v = jsonget_str(jsonget_path(ic, "metadata.annotations"),
	    INGRESSCLASS_DEFAULT_ANNOTATION);

	return v != NULL && strcmp(v, "true") == 0;
}

const char *
ingressclass_entry_controller(const struct config *cfg, const json_t *classes)
{
	const json_t *ic;
	size_t i;

	if (cfg->entry_ingress_class == NULL)
		return NULL;
	json_array_foreach(classes, i, ic) {
		const char *name = class_name(ic);
		if (name != NULL && strcmp(name, cfg->entry_ingress_class) == 0)
			return class_controller(ic);
	}
	return NULL;
}

enum ingressclass_entry
ingressclass_default_entry(const struct config *cfg, const json_t *ic,
    const char *entry_controller)
{
	const char *name = class_name(ic), *ctl = class_controller(ic);

	if (!ingressclass_is_default(ic))
		return INGRESSCLASS_NOT_ENTRY;
	if (name != NULL && cfg->entry_ingress_class != NULL &&
	    strcmp(name, cfg->entry_ingress_class) == 0)
		return INGRESSCLASS_ENTRY_NAME;
	if (ctl != NULL && entry_controller != NULL && strcmp(ctl, entry_controller) == 0)
		return INGRESSCLASS_ENTRY_CONTROLLER;
	return INGRESSCLASS_NOT_ENTRY;
}
