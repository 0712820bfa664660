/* SPDX-License-Identifier: Apache-2.0 */
/* test_ingressclass: which cluster-default IngressClass is the unified entry's. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "config_load.h"
#include "ingressclass.h"
#include "testhelp.h"

/* An IngressClass `name` run by `controller`; `is_default` NULL: no annotation at all. */
static json_t *
ic(const char *name, const char *controller, const char *is_default)
{
	json_t *o = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "networking.k8s.io/v1",
	    "kind", "IngressClass", "metadata", "name", name, "spec", "controller", controller);

	if (is_default != NULL)
		json_object_set_new(json_object_get(o, "metadata"), "annotations",
		    json_pack("{s:s}", INGRESSCLASS_DEFAULT_ANNOTATION, is_default));
	return o;
}

int
main(void)
{
	char err[1024];
	struct config *cfg = config_load_default(err, sizeof(err));
	json_t *nginx = ic("nginx", "k8s.io/ingress-nginx", "true");
	json_t *nginx_off = ic("nginx", "k8s.io/ingress-nginx", "false");
	json_t *nginx_plain = ic("nginx", "k8s.io/ingress-nginx", NULL);
	json_t *nginx_caps = ic("nginx", "k8s.io/ingress-nginx", "True");
	json_t *higress = ic("higress", "higress.io/higress-controller", "true");
	json_t *alias = ic("public", "k8s.io/ingress-nginx", "true");
	json_t *classes = json_pack("[O, O]", nginx_off, higress);

	test_cond("the built-in default config loads", cfg != NULL);
	if (cfg == NULL)
		return test_report();
	test_cond("the built-in default's entry class is nginx",
	    cfg->entry_ingress_class != NULL && strcmp(cfg->entry_ingress_class, "nginx") == 0);

	test_cond("is-default-class \"true\" is the default", ingressclass_is_default(nginx));
	test_cond("\"false\" is not", !ingressclass_is_default(nginx_off));
	test_cond("no annotation is not", !ingressclass_is_default(nginx_plain));
	test_cond("\"True\" is not (the apiserver compares with \"true\")",
	    !ingressclass_is_default(nginx_caps));

	test_cond("the default named nginx is the entry's, by name",
	    ingressclass_default_entry(cfg, nginx, NULL) == INGRESSCLASS_ENTRY_NAME);
	test_cond("nginx that is not the default is not reported",
	    ingressclass_default_entry(cfg, nginx_off, "k8s.io/ingress-nginx") ==
	    INGRESSCLASS_NOT_ENTRY);
	test_cond("the tenant class higress as the default is fine",
	    ingressclass_default_entry(cfg, higress, "k8s.io/ingress-nginx") ==
	    INGRESSCLASS_NOT_ENTRY);

	const char *ctl = ingressclass_entry_controller(cfg, classes);
	test_cond("the entry controller is read from the class named nginx",
	    ctl != NULL && strcmp(ctl, "k8s.io/ingress-nginx") == 0);
	test_cond("a default under another name run by the entry's controller is the entry's",
	    ingressclass_default_entry(cfg, alias, ctl) == INGRESSCLASS_ENTRY_CONTROLLER);
	test_cond("without a known entry controller, only the name counts",
	    ingressclass_default_entry(cfg, alias, NULL) == INGRESSCLASS_NOT_ENTRY);

	json_t *none = json_pack("[O]", higress);
	test_cond("no class named nginx: no entry controller",
	    ingressclass_entry_controller(cfg, none) == NULL);

	/* A config without an entry class knows no entry: nothing is reported. */
	char *saved = cfg->entry_ingress_class;
	cfg->entry_ingress_class = NULL;
	test_cond("no entryIngressClass: the nginx default is not reported",
	    ingressclass_default_entry(cfg, nginx, NULL) == INGRESSCLASS_NOT_ENTRY);
	test_cond("no entryIngressClass: no entry controller",
	    ingressclass_entry_controller(cfg, classes) == NULL);
	cfg->entry_ingress_class = saved;

	json_decref(none);
	json_decref(classes);
	json_decref(nginx);
	json_decref(nginx_off);
	json_decref(nginx_plain);
	json_decref(nginx_caps);
	json_decref(higress);
	json_decref(alias);
	config_free(cfg);
	return test_report();
}
