/* SPDX-License-Identifier: Apache-2.0 */
/* test_claimstore: registrable domains, which decide the claim object overlapping patterns share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "claimstore.h"
#include "testhelp.h"

static void
registrable(const struct claimstore *cs, const char *name, const char *want)
{
	char out[256], descr[300];
	bool ok = claimstore_registrable(cs, name, out, sizeof(out));
	snprintf(descr, sizeof(descr), "registrable(%s) == %s", name, want ? want : "(public suffix)");
	test_cond(descr, want == NULL ? !ok : ok && strcmp(out, want) == 0);
}

int
main(void)
{
	char err[512];
	char path[64];
	/* A list in the PSL format: comments, blank lines, wildcard and exception rules. */
	static const char psl[] =
	    "// comment\n\ncom\nio\nuk\nco.uk\n*.ck\n!www.ck\n// ===BEGIN PRIVATE DOMAINS===\n"
	    "github.io\n";
	test_cond("temporary list written", test_write_tmp(path, sizeof(path), "tg-psl", psl));

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
		claimstore_free(cs);
	}
	return test_report();
}
