/* SPDX-License-Identifier: Apache-2.0 */
/* test_state: per-object claim records — removal takes back exactly what was added. */
#include <stdio.h>
#include <string.h>

#include "claims.h"
#include "config.h"
#include "config_load.h"
#include "state.h"
#include "testhelp.h"

static char err[1024];

static json_t *
ingress(const char *ns, const char *name, const char *host, const char *backend)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:[{s:s, s:{s:[{s:{s:{s:s}}}]}}]}}",
	    "apiVersion", "networking.k8s.io/v1", "kind", "Ingress", "metadata", "name", name,
	    "namespace", ns, "spec", "rules", "host", host, "http", "paths", "backend", "service",
	    "name", backend);
}

static uint32_t
owner(const struct state *st, const char *key)
{
	return state_owner_lookup(st, key);
}

struct seen {
	size_t n;
	char   last[256];
};

static void
count_claim(const char *object, const char *pattern, void *arg)
{
	struct seen *s = arg;
	s->n++;
	snprintf(s->last, sizeof(s->last), "%s %s", object, pattern);
}

static void
filed_claim(const char *pattern, uint32_t owner_id, void *arg)
{
	(void)pattern;
	(void)owner_id;
	((struct seen *)arg)->n++;
}

/* An entry rule attributed by a first-come claim that has gone when it is removed. */
static void
test_entry_owner_changed(void)
{
	struct config *cfg = config_load_default(err, sizeof(err));
	struct state *st = state_new();
	json_t *a = ingress("tenant1-gateway", "shop", "app.newco.com", "web");
	json_t *e = ingress("higress-system", "unified", "app.newco.com", "somewhere");

	test_cond("tenant Ingress added", state_add_object(st, cfg, a, err, sizeof(err)) == 0);
	test_cond("entry Ingress added", state_add_object(st, cfg, e, err, sizeof(err)) == 0);
	uint32_t t1 = owner(st, "tenant/tenant1");
	test_cond("entry rule attributed to tenant1 by its first-come claim",
	    claims_count(st->claims) == 2 && t1 != CLAIMS_NO_OWNER &&
	    owner(st, "namespace/higress-system") == CLAIMS_NO_OWNER);
	struct seen s = { 0 };
	test_cond("tenant1 has two objects holding claims",
	    state_owner_objects(st, t1, count_claim, &s) == 2 && s.n == 2);
	test_cond("removing the tenant Ingress", state_remove_object(st, cfg, a) == 0);
	memset(&s, 0, sizeof(s));
	test_cond("the entry Ingress is tenant1's last object",
	    state_owner_objects(st, t1, count_claim, &s) == 1 &&
	    strcmp(s.last, "Ingress/higress-system/unified app.newco.com") == 0);
	/* Re-deriving the owner now would say the entry namespace and miss tenant1's claim. */
	test_cond("removing the entry Ingress", state_remove_object(st, cfg, e) == 0);
	test_cond("no claim is left behind", claims_count(st->claims) == 0 &&
	    !claims_holds(st->claims, "app.newco.com", t1));
	test_cond("no object holds tenant1's claims", state_owner_objects(st, t1, NULL, NULL) == 0);
	test_cond("removing it again changes nothing", state_remove_object(st, cfg, e) == 0 &&
	    claims_count(st->claims) == 0);
	json_decref(a);
	json_decref(e);
	state_free(st);
	config_free(cfg);
}

/* A namespace that became a tenant's (a Tenant object appeared) between add and remove. */
static void
test_config_changed(void)
{
	json_t *tenants = json_pack("[{s:s, s:s, s:{s:s}}]", "apiVersion",
	    "tenantguard.io/v1alpha1", "kind", "Tenant", "metadata", "name", "tenant3");
	struct config *before = config_load_default(err, sizeof(err));
	struct config *after = config_load_default_tenants(tenants, NULL, err, sizeof(err));
	struct state *st = state_new();
	json_t *a = ingress("tenant3-gateway", "shop", "*.newco.com", "web");
	json_t *a2 = ingress("tenant3-gateway", "shop", "www.newco.com", "web");

	test_cond("configs load", before && after && config_tenant(after, "tenant3"));
	test_cond("added as an outside namespace", state_add_object(st, before, a, err,
	    sizeof(err)) == 0 && claims_holds(st->claims, "*.newco.com",
	    owner(st, "namespace/tenant3-gateway")));
	test_cond("the Tenant object itself holds nothing", state_add_object(st, after,
	    json_array_get(tenants, 0), err, sizeof(err)) == 0 && claims_count(st->claims) == 1);
	/* An update under the new config: the old version out, the new one in. */
	test_cond("old version removed under the new config",
	    state_remove_object(st, after, a) == 0 && claims_count(st->claims) == 0);
	test_cond("new version added as tenant3's", state_add_object(st, after, a2, err,
	    sizeof(err)) == 0 && claims_holds(st->claims, "www.newco.com",
	    owner(st, "tenant/tenant3")));
	test_cond("the outside namespace holds no objects any more", state_owner_objects(st,
	    owner(st, "namespace/tenant3-gateway"), NULL, NULL) == 0 &&
	    state_owner_objects(st, owner(st, "tenant/tenant3"), NULL, NULL) == 1);
	test_cond("unknown owner", state_owner_objects(st, 999, NULL, NULL) == 0);

	/* The same key added twice (a state file listing it twice) is removed oldest first. */
	test_cond("added twice", state_add_object(st, after, a, err, sizeof(err)) == 0 &&
	    claims_count(st->claims) == 2);
	test_cond("first removal takes the older record", state_remove_object(st, after, a) == 0 &&
	    claims_count(st->claims) == 1 && !claims_holds(st->claims, "www.newco.com",
	    owner(st, "tenant/tenant3")) && claims_holds(st->claims, "*.newco.com",
	    owner(st, "tenant/tenant3")));
	/* The maps borrowed the removed record's key: they now read the newer one's. */
	struct seen s = { 0 };
	test_cond("the newer record is still the owner's object, under its key",
	    state_owner_objects(st, owner(st, "tenant/tenant3"), count_claim, &s) == 1 &&
	    strcmp(s.last, "Ingress/tenant3-gateway/shop *.newco.com") == 0);
	test_cond("and the key's claims are the newer record's",
	    state_object_claims(st, "Ingress/tenant3-gateway/shop", filed_claim, &s) == 1);
	test_cond("second removal the newer", state_remove_object(st, after, a) == 0 &&
	    claims_count(st->claims) == 0);
	json_decref(a);
	json_decref(a2);
	json_decref(tenants);
	state_free(st);
	config_free(before);
	config_free(after);
}

int
main(void)
{
	test_entry_owner_changed();
	test_config_changed();
	return test_report();
}
