/* SPDX-License-Identifier: Apache-2.0 */
/* test_auditfile: a state file's objects, audited one at a time, report what the array does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "config.h"
#include "config_load.h"
#include "statefile.h"
#include "testhelp.h"

static char err[1024];

/* Whether two reports list the same violations in the same order. */
static bool
same_report(const struct audit_report *a, const struct audit_report *b)
{
	if (a->n != b->n || a->objects != b->objects)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct audit_entry *x = &a->v[i], *y = &b->v[i];
		if (x->rule != y->rule || strcmp(x->kind, y->kind) != 0 ||
		    strcmp(x->namespace, y->namespace) != 0 || strcmp(x->name, y->name) != 0 ||
		    strcmp(x->tenant, y->tenant) != 0 || strcmp(x->message, y->message) != 0)
			return false;
	}
	return true;
}

/* The entry for the object named name with rule r, or NULL. */
static const struct audit_entry *
entry(const struct audit_report *r, const char *name, enum rule_id rule)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->v[i].name, name) == 0 && r->v[i].rule == rule)
			return &r->v[i];
	return NULL;
}

#define ING(name, ns, created, host) "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":" \
	"\"Ingress\",\"metadata\":{\"name\":\"" name "\",\"namespace\":\"" ns "\"" created "}," \
	"\"spec\":{\"ingressClassName\":\"higress\",\"rules\":[{\"host\":\"" host "\"}]}}"

static void
expect_same(const struct config *cfg, const char *descr, const char *text, size_t n_want)
{
	char path[64], d[256];
	struct audit_report whole = { 0 }, each = { 0 };
	json_t *objs;
	struct statefile *sf;
	int rc_whole = -1, rc_each = -1;

	test_write_tmp(path, sizeof(path), "tg-auditfile", text);
	objs = statefile_read_objects(path, err, sizeof(err));
	sf = statefile_open(path, true, err, sizeof(err));
	unlink(path);
	if (objs != NULL && sf != NULL) {
		struct audit_source src;
		statefile_audit_source(sf, &src);
		rc_whole = audit_run(cfg, objs, 1700000000, &whole, err, sizeof(err));
		rc_each = audit_run_each(cfg, &src, 1700000000, &each, err, sizeof(err));
	}
	snprintf(d, sizeof(d), "%s: both audits ran", descr);
	test_cond(d, rc_whole == 0 && rc_each == 0);
	snprintf(d, sizeof(d), "%s: %zu violations, the later claimant the colliding one", descr,
	    n_want);
	test_cond(d, whole.n == n_want && entry(&whole, "later", RULE_HOST_COLLISION) != NULL &&
	    entry(&whole, "first", RULE_HOST_COLLISION) == NULL);
	snprintf(d, sizeof(d), "%s: object by object, the same report", descr);
	test_cond(d, same_report(&whole, &each));
	audit_report_clear(&whole);
	audit_report_clear(&each);
	statefile_close(sf);
	json_decref(objs);
}

int
main(void)
{
	struct config *cfg = config_load_default(err, sizeof(err));

	if (cfg == NULL) {
		test_cond("default config", false);
		return test_report();
	}
	/* "later" comes first in the file but was created second: the collision is its. */
	const char *items = ING("later", "team-a", ",\"creationTimestamp\":\"2024-01-02T00:00:00Z\"",
	    "x.newco.com") "," ING("first", "team-b", ",\"creationTimestamp\":\"2024-01-01T00:00:00Z\"",
	    "x.newco.com") "," ING("foreign", "tenant2-gateway", "", "api.tenant1.aigw.example.com");
	char text[4096];

	snprintf(text, sizeof(text), "{\"apiVersion\":\"v1\",\"items\":[%s],\"kind\":\"List\"}",
	    items);
	expect_same(cfg, "JSON List", text, 2);
	snprintf(text, sizeof(text), "[%s]", items);
	expect_same(cfg, "JSON array", text, 2);
	/* YAML: JSON is YAML, the stream form sends it to the YAML reader. */
	snprintf(text, sizeof(text), "---\n{\"kind\":\"List\",\"items\":[%s]}\n", items);
	expect_same(cfg, "YAML", text, 2);
	config_free(cfg);
	return test_report();
}
