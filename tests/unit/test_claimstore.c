/* SPDX-License-Identifier: Apache-2.0 */
/* test_claimstore: registrable domains, which decide the claim object overlapping patterns share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "claimstore.h"
#include "config.h"
#include "config_load.h"
#include "testhelp.h"

static void
registrable(const struct claimstore *cs, const char *name, const char *want)
{
	char out[256], descr[300];
	bool ok = claimstore_registrable(cs, name, out, sizeof(out));
	snprintf(descr, sizeof(descr), "registrable(%s) == %s", name, want ? want : "(public suffix)");
	test_cond(descr, want == NULL ? !ok : ok && strcmp(out, want) == 0);
}

/*
 * The enforcement mode reaches the claim step: a public-suffix pattern (decided before any
 * apiserver request, so no client is needed) is denied, or allowed with a warning under warn;
 * a pattern whose collision policy_validate relaxed is never claimed at all.
 */
static void
test_enforcement(struct claimstore *cs)
{
	static const char base[] = "systemDomain: aigw.example.com\ntenants: [{name: tenant1}]\n";
	static const char warn[] = "systemDomain: aigw.example.com\nenforcement: {default: warn}\n"
	    "tenants: [{name: tenant1}]\n";
	char err[512];
	struct config *deny_cfg = config_load_buffer("t", base, sizeof(base) - 1, err, sizeof(err));
	struct config *warn_cfg = config_load_buffer("t", warn, sizeof(warn) - 1, err, sizeof(err));
	json_t *obj = json_loads("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\","
	    "\"metadata\":{\"name\":\"x\",\"namespace\":\"tenant1-gateway\"},\"spec\":{\"rules\":"
	    "[{\"host\":\"*.co.uk\"}]}}", 0, NULL);
	struct request req = { .uid = "u", .group = "networking.k8s.io", .version = "v1",
		.kind = "Ingress", .subresource = "", .namespace = "tenant1-gateway", .name = "x",
		.op = OP_CREATE, .username = "alice", .object = obj };
	struct decision d;

	test_cond("configs load", deny_cfg != NULL && warn_cfg != NULL && obj != NULL);
	if (deny_cfg == NULL || warn_cfg == NULL || obj == NULL)
		goto out;
	decision_init(&d);
	claimstore_review(cs, deny_cfg, &req, &d);
	test_cond("deny: a public-suffix pattern is refused", !d.allowed &&
	    strcmp(d.rule, "host-ownership") == 0);
	decision_init(&d);
	claimstore_review(cs, warn_cfg, &req, &d);
	test_cond("warn: allowed, with the refusal as a warning", d.allowed && d.n_warnings == 1 &&
	    strncmp(d.warnings[0], "[host-ownership] ", 17) == 0 && d.relaxed == ENFORCE_WARN);
	decision_init(&d);
	decision_unclaimed(&d, "*.co.uk");
	claimstore_review(cs, deny_cfg, &req, &d);
	test_cond("a relaxed collision's pattern is not claimed (nor checked) again",
	    d.allowed && d.n_warnings == 0);
out:
	json_decref(obj);
	config_free(deny_cfg);
	config_free(warn_cfg);
}

int
main(void)
{
	char err[512];
	char path[] = "/tmp/tg-psl-XXXXXX";
	int fd = mkstemp(path);
	/* A list in the PSL format: comments, blank lines, wildcard and exception rules. */
	static const char psl[] =
	    "// comment\n\ncom\nio\nuk\nco.uk\n*.ck\n!www.ck\n// ===BEGIN PRIVATE DOMAINS===\n"
	    "github.io\n";
	test_cond("temporary list written", fd >= 0 && write(fd, psl, sizeof(psl) - 1) ==
	    (ssize_t)(sizeof(psl) - 1));
	close(fd);

	struct claimstore *cs = claimstore_new(NULL, path, err, sizeof(err));
	test_cond("a store loads a PSL-format file", cs != NULL);
	if (cs != NULL) {
		registrable(cs, "newco.com", "newco.com");
		registrable(cs, "app.newco.com", "newco.com");
		registrable(cs, "a.b.c.newco.com", "newco.com");
		registrable(cs, "shop.co.uk", "shop.co.uk");
		registrable(cs, "www.shop.co.uk", "shop.co.uk");
		registrable(cs, "x.github.io", "x.github.io");
		registrable(cs, "a.b.ck", "a.b.ck");       /* *.ck: every b.ck is a suffix */
		registrable(cs, "www.ck", "www.ck");       /* !www.ck: an exception */
		registrable(cs, "com", NULL);
		registrable(cs, "co.uk", NULL);
		registrable(cs, "github.io", NULL);
		registrable(cs, "b.ck", NULL);
		/* Names under no listed suffix: the last label counts as one ("*" rule). */
		registrable(cs, "corp.internal", "corp.internal");
		registrable(cs, "internal", NULL);
		claimstore_free(cs);
	}
	unlink(path);

	cs = claimstore_new(NULL, "/nonexistent/psl.dat", err, sizeof(err));
	test_cond("a missing list is an error naming the file",
	    cs == NULL && strstr(err, "/nonexistent/psl.dat") != NULL);

	/* Debian's list, the one serve uses. */
	cs = claimstore_new(NULL, NULL, err, sizeof(err));
	test_cond("Debian's public suffix list loads", cs != NULL);
	if (cs != NULL) {
		registrable(cs, "app.newco.com", "newco.com");
		registrable(cs, "api.shop.co.uk", "shop.co.uk");
		registrable(cs, "co.uk", NULL);
		test_enforcement(cs);
		claimstore_free(cs);
	}
	return test_report();
}
