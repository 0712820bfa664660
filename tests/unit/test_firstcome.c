/* SPDX-License-Identifier: Apache-2.0 */
/* test_firstcome: which hosts of an allowed request are claimed first-come, and each verdict. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "config_load.h"
#include "firstcome.h"
#include "policy.h"
#include "testhelp.h"

/* A store that records what it was asked and answers `answer` for `on` (others: won). */
struct fake {
	char                  asked[8][256];
	size_t                n;
	const char           *on;
	enum firstcome_result answer;
};

static enum firstcome_result
fake_claim(void *arg, const char *pattern, const char *owner, bool dry_run, char *err,
    size_t errsz)
{
	struct fake *f = arg;

	if (f->n < 8)
		snprintf(f->asked[f->n++], sizeof(f->asked[0]), "%s %s%s", pattern, owner,
		    dry_run ? " dry" : "");
	if (f->on != NULL && strcmp(pattern, f->on) == 0) {
		snprintf(err, errsz, "connection refused");
		return f->answer;
	}
	return FIRSTCOME_WON;
}

/* firstcome_review of an Ingress in `ns` with the hosts (rules, then one TLS block). */
static void
review(const struct config *cfg, const char *ns, const char *rule_host, const char *tls_host,
    struct fake *f, struct decision *d)
{
	json_t *obj = json_pack("{s:s, s:s, s:{s:[{s:s}], s:[{s:[s]}]}}", "apiVersion",
	    "networking.k8s.io/v1", "kind", "Ingress", "spec", "rules", "host", rule_host, "tls",
	    "hosts", tls_host);
	struct request req = {
		.uid = "u", .group = "networking.k8s.io", .version = "v1", .kind = "Ingress",
		.subresource = "", .namespace = ns, .name = "web", .op = OP_CREATE,
		.username = "alice", .object = obj,
	};

	decision_init(d);
	firstcome_review(cfg, &req, d, fake_claim, f);
	json_decref(obj);
}

int
main(void)
{
	char err[1024];
	struct config *cfg = config_load_default(err, sizeof(err));
	struct decision d;
	struct fake f;

	test_cond("default config loads", cfg != NULL);
	if (cfg == NULL)
		return test_report();

	memset(&f, 0, sizeof(f));
	review(cfg, "team-a", "App.Example.org", "app.example.org", &f, &d);
	test_cond("a new host is claimed once, normalised, for the namespace's owner",
	    d.allowed && f.n == 1 && strcmp(f.asked[0], "app.example.org namespace/team-a") == 0);

	memset(&f, 0, sizeof(f));
	review(cfg, "team-a", "x.customer.com", "api.aigw.example.com", &f, &d);
	test_cond("reserved and system-domain hosts are not first-come: nothing asked",
	    d.allowed && f.n == 0);

	memset(&f, 0, sizeof(f));
	review(cfg, "higress-system", "app.example.org", "app.example.org", &f, &d);
	test_cond("the entry namespace claims nothing first-come", d.allowed && f.n == 0);

	memset(&f, 0, sizeof(f));
	f.on = "b.example.org";
	f.answer = FIRSTCOME_LOST;
	review(cfg, "team-a", "b.example.org", "c.example.org", &f, &d);
	test_cond("lost: [host-collision] 403, and the next host is not asked",
	    !d.allowed && d.code == 403 && d.rule == RULE_HOST_COLLISION && f.n == 1 &&
	    strncmp(d.message, "[host-collision] host 'b.example.org' overlaps", 46) == 0);

	memset(&f, 0, sizeof(f));
	f.on = "*.co.uk";
	f.answer = FIRSTCOME_PUBLIC_SUFFIX;
	review(cfg, "team-a", "*.co.uk", "*.co.uk", &f, &d);
	test_cond("a public suffix: [host-ownership] 403 naming the suffix",
	    !d.allowed && d.code == 403 && d.rule == RULE_HOST_OWNERSHIP &&
	    strstr(d.message, "spans every domain under the public suffix co.uk") != NULL);

	/* The decision policy_validate makes for every path (owner_check), the store's too. */
	test_cond("public suffix: *.io", firstcome_public_suffix(cfg, "*.io"));
	test_cond("public suffix: co.uk", firstcome_public_suffix(cfg, "co.uk"));
	test_cond("public suffix: *.github.io (private section)",
	    firstcome_public_suffix(cfg, "*.github.io"));
	test_cond("not a public suffix: *.newco.co.uk", !firstcome_public_suffix(cfg, "*.newco.co.uk"));
	test_cond("not a public suffix: shop.newco.io", !firstcome_public_suffix(cfg, "shop.newco.io"));

	memset(&f, 0, sizeof(f));
	f.on = "d.example.org";
	f.answer = FIRSTCOME_ERROR;
	review(cfg, "team-a", "d.example.org", "d.example.org", &f, &d);
	test_cond("the store cannot be asked: code 500 under host-collision, fail closed",
	    !d.allowed && d.code == 500 && d.rule == RULE_HOST_COLLISION &&
	    strstr(d.message, "could not be claimed") != NULL &&
	    strstr(d.message, "connection refused") != NULL);

	/* Enforcement modes reach the claim step; a failure to ask stays fail closed. */
	static const char warn[] = "systemDomain: aigw.example.com\nenforcement: {default: warn}\n"
	    "tenants: [{name: tenant1}]\n";
	struct config *wcfg = config_load_buffer("t", warn, sizeof(warn) - 1, err, sizeof(err));
	test_cond("warn config loads", wcfg != NULL);
	if (wcfg != NULL) {
		memset(&f, 0, sizeof(f));
		f.on = "b.example.org";
		f.answer = FIRSTCOME_LOST;
		review(wcfg, "tenant1-gateway", "b.example.org", "c.example.org", &f, &d);
		test_cond("warn, lost: allowed with the refusal as a warning, the next host asked",
		    d.allowed && d.relaxed == ENFORCE_WARN && d.n_warnings == 1 && f.n == 2 &&
		    strncmp(d.warnings[0], "[host-collision] host 'b.example.org'", 37) == 0);

		memset(&f, 0, sizeof(f));
		f.on = "d.example.org";
		f.answer = FIRSTCOME_ERROR;
		review(wcfg, "tenant1-gateway", "d.example.org", "d.example.org", &f, &d);
		test_cond("warn, the store cannot be asked: still code 500",
		    !d.allowed && d.code == 500);

		memset(&f, 0, sizeof(f));
		json_t *obj = json_pack("{s:s, s:s, s:{s:[{s:s}, {s:s}]}}", "apiVersion",
		    "networking.k8s.io/v1", "kind", "Ingress", "spec", "rules", "host",
		    "e.example.org", "host", "f.example.org");
		struct request req = {
			.uid = "u", .group = "networking.k8s.io", .version = "v1", .kind = "Ingress",
			.subresource = "", .namespace = "tenant1-gateway", .name = "web",
			.op = OP_CREATE, .username = "alice", .object = obj,
		};
		decision_init(&d);
		decision_unclaimed(&d, "e.example.org");   /* policy_validate relaxed its collision */
		firstcome_review(cfg, &req, &d, fake_claim, &f);
		test_cond("a relaxed collision's host is never claimed; the others are",
		    d.allowed && f.n == 1 && strncmp(f.asked[0], "f.example.org ", 14) == 0);
		json_decref(obj);
	}
	config_free(wcfg);
	config_free(cfg);
	return test_report();
}
