/* SPDX-License-Identifier: Apache-2.0 */
/* test_psl: the Public Suffix List algorithm on a small list, and the list Debian ships. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "config_load.h"
#include "owner.h"
#include "psl.h"
#include "psl_load.h"
#include "rules.h"
#include "testhelp.h"

static const char list[] =
	"// comment\n"
	"\n"
	"com\n"
	"uk\n"
	"co.uk\n"
	"*.ck\n"
	"!www.ck\n"
	"github.io   trailing words are ignored\n"
	"\xe4\xb8\xad\xe5\x9b\xbd\n";

static void
reg_is(const struct psl *p, const char *name, const char *want)
{
	char out[256], d[300];
	bool ok = psl_registrable(p, name, out, sizeof(out));
	snprintf(d, sizeof(d), "registrable(%s) = %s", name, want ? want : "none");
	test_cond(d, want ? ok && strcmp(out, want) == 0 : !ok);
}

static void
test_algorithm(void)
{
	char err[256];
	struct psl *p = psl_parse(list, sizeof(list) - 1, err, sizeof(err));

	test_cond("a list parses", p != NULL);
	if (p == NULL)
		return;
	reg_is(p, "shop.example.com", "example.com");
	reg_is(p, "example.co.uk", "example.co.uk");
	reg_is(p, "a.b.example.co.uk", "example.co.uk");
	reg_is(p, "co.uk", NULL);
	reg_is(p, "com", NULL);
	reg_is(p, "a.b.ck", "a.b.ck");          /* *.ck: b.ck is a suffix */
	reg_is(p, "www.ck", "www.ck");          /* !www.ck: the exception */
	reg_is(p, "x.unlisted", "x.unlisted");  /* the default rule "*" */
	reg_is(p, "me.github.io", "me.github.io");
	test_cond("co.uk is a suffix", psl_is_suffix(p, "co.uk"));
	test_cond("github.io is a suffix", psl_is_suffix(p, "github.io"));
	test_cond("example.com is not", !psl_is_suffix(p, "example.com"));
	test_cond("an unlisted TLD is a suffix by the default rule", psl_is_suffix(p, "zz"));
	test_cond("com is a listed TLD", psl_is_listed_tld(p, "com"));
	test_cond("ck is listed through its wildcard rule", psl_is_listed_tld(p, "ck"));
	test_cond("an unlisted label is no TLD", !psl_is_listed_tld(p, "tenant2-gateway"));
	psl_free(p);
	test_cond("a list without rules is refused",
	    psl_parse("// only\n\n", 9, err, sizeof(err)) == NULL && strstr(err, "no rules"));
	test_cond("a missing file names itself",
	    psl_load("/nonexistent/psl.dat", err, sizeof(err)) == NULL &&
	    strstr(err, "/nonexistent/psl.dat") && strstr(err, "publicsuffix"));
}

static void
name_is(const struct config *cfg, const char *host, enum cluster_name want, const char *ns)
{
	char got[64] = "", d[300];
	enum cluster_name c = owner_cluster_name(cfg, host, got, sizeof(got));
	snprintf(d, sizeof(d), "%s: class %d, namespace '%s' (got %d, '%s')", host, want,
	    ns ? ns : "", c, got);
	test_cond(d, c == want && (ns == NULL || strcmp(got, ns) == 0));
}

static void
test_cluster_names(void)
{
	char err[512];
	struct config *cfg = config_load_default(err, sizeof(err));
	const struct psl *shared = psl_shared(err, sizeof(err));

	test_cond("Debian's list loads once and is shared", shared != NULL && cfg != NULL &&
	    cfg->psl == shared && psl_shared(err, sizeof(err)) == shared);
	if (cfg == NULL || shared == NULL)
		return;
	test_cond("*.co.uk spans a public suffix", psl_is_suffix(shared, "co.uk"));
	name_is(cfg, "web", CLUSTER_NAME_OWN, NULL);
	name_is(cfg, "web.ns1", CLUSTER_NAME_NS, "ns1");
	name_is(cfg, "web.ns1.svc", CLUSTER_NAME_NS, "ns1");
	name_is(cfg, "web.ns1.svc.cluster.local", CLUSTER_NAME_NS, "ns1");
	name_is(cfg, "web-0.web.ns1.svc.cluster.local", CLUSTER_NAME_NS, "ns1");
	name_is(cfg, "10-0-0-1.ns1.pod.cluster.local", CLUSTER_NAME_NS, "ns1");
	name_is(cfg, "10-0-0-1.ns1.pod", CLUSTER_NAME_NS, "ns1");
	name_is(cfg, "ns1.svc", CLUSTER_NAME_OTHER, NULL);
	name_is(cfg, "ns1.svc.cluster.local", CLUSTER_NAME_OTHER, NULL);
	name_is(cfg, "anything.cluster.local", CLUSTER_NAME_OTHER, NULL);
	name_is(cfg, "cluster.local", CLUSTER_NAME_OTHER, NULL);
	name_is(cfg, "api.example.com", CLUSTER_NAME_PUBLIC, NULL);
	name_is(cfg, "example.co.uk", CLUSTER_NAME_PUBLIC, NULL);
	name_is(cfg, "a.b.c.example.cloud", CLUSTER_NAME_PUBLIC, NULL);
	config_free(cfg);
}

int
main(void)
{
	test_algorithm();
	test_cluster_names();
	return test_report();
}
