/* SPDX-License-Identifier: Apache-2.0 */
/* test_host: normalisation, validation and the one overlap semantics of DESIGN §1. */
#include <string.h>

#include "host.h"
#include "testhelp.h"

static void
norm_ok(const char *in, const char *want)
{
	char out[HOST_MAX];
	const char *why = NULL;
	char descr[300];
	snprintf(descr, sizeof(descr), "normalize '%s' -> '%s'", in, want);
	test_cond(descr, host_normalize(in, out, sizeof(out), &why) == 0 && strcmp(out, want) == 0);
}

static void
norm_bad(const char *in, const char *reason_word)
{
	char out[HOST_MAX];
	const char *why = NULL;
	char descr[300];
	snprintf(descr, sizeof(descr), "reject '%s' (%s)", in, reason_word);
	test_cond(descr, host_normalize(in, out, sizeof(out), &why) == -1 && why != NULL &&
	    strstr(why, reason_word) != NULL);
}

static void
overlap(const char *a, const char *b, bool want)
{
	char descr[300];
	snprintf(descr, sizeof(descr), "overlap('%s', '%s') == %d", a, b, want);
	test_cond(descr, host_overlap(a, b) == want && host_overlap(b, a) == want);
}

int
main(void)
{
	norm_ok("Api.Tenant1.AIGW.example.com.", "api.tenant1.aigw.example.com");
	norm_ok("*.Customer.COM", "*.customer.com");
	norm_ok("xn--bcher-kva.example", "xn--bcher-kva.example");
	norm_ok("localhost", "localhost");
	norm_ok("a-b.c0.example", "a-b.c0.example");
	norm_ok("*.com", "*.com");

	norm_bad("", "empty");
	norm_bad(".", "empty");
	norm_bad("a..b", "empty label");
	norm_bad("a.b..", "empty label");
	norm_bad("*.*.x", "'*'");
	norm_bad("a.*.com", "'*'");
	norm_bad("*x.com", "'*'");
	norm_bad("*", "bare");
	norm_bad("10.0.0.1", "IP");
	norm_bad("1.2.3.4.", "IP");
	norm_bad("[::1]", "IP");
	norm_bad("::1", "IP");
	norm_bad("a.com:80", "port");
	norm_bad("a_b.com", "character");
	norm_bad("a b.com", "character");
	norm_bad("b\xc3\xbc" "cher.example", "punycode");
	norm_bad("-a.com", "'-'");
	norm_bad("a-.com", "'-'");
	norm_bad("example.123", "IP");
	char longlabel[80];
	memset(longlabel, 'a', 64);
	memcpy(longlabel + 64, ".com", 5);
	norm_bad(longlabel, "63");
	char longname[300];
	for (int i = 0; i < 60; i++)
		memcpy(longname + i * 5, "abcd.", 5);
	memcpy(longname + 300 - 4, "com", 4);
	norm_bad(longname, "253");

	/* exact vs exact */
	overlap("a.example.com", "a.example.com", true);
	overlap("a.example.com", "b.example.com", false);
	/* wildcard vs exact, several depths; not the apex */
	overlap("*.customer.com", "app.customer.com", true);
	overlap("*.customer.com", "a.b.c.customer.com", true);
	overlap("*.customer.com", "customer.com", false);
	overlap("*.customer.com", "app.customer.co", false);
	overlap("*.customer.com", "xcustomer.com", false);
	/* wildcard vs wildcard */
	overlap("*.customer.com", "*.customer.com", true);
	overlap("*.customer.com", "*.eu.customer.com", true);
	overlap("*.com", "*.customer.com", true);
	overlap("*.a.customer.com", "*.b.customer.com", false);
	overlap("*.customer.com", "*.client.com", false);

	test_cond("covers: *.d covers x.d", host_covers("*.d.com", "x.d.com"));
	test_cond("covers: *.d covers *.x.d", host_covers("*.d.com", "*.x.d.com"));
	test_cond("covers: *.d covers *.d", host_covers("*.d.com", "*.d.com"));
	test_cond("covers: *.x.d does not cover *.d", !host_covers("*.x.d.com", "*.d.com"));
	test_cond("covers: x does not cover *.x", !host_covers("x.com", "*.x.com"));
	/* inet_aton's numeric forms are addresses to the resolver, not names. */
	static const char *const numeric[] = { "0x7f000001", "0x7f.0x0.0x0.0x1", "0x7f.1",
	    "017700000001", "127.1" };
	for (size_t i = 0; i < sizeof(numeric) / sizeof(*numeric); i++) {
		char out[HOST_MAX];
		const char *why = NULL;
		test_cond(numeric[i], host_normalize(numeric[i], out, sizeof(out), &why) != 0 &&
		    why != NULL && strstr(why, "IP address") != NULL);
	}
	{
		char out[HOST_MAX];
		const char *why;
		test_cond("0xcafe.example.com is a name",
		    host_normalize("0xcafe.example.com", out, sizeof(out), &why) == 0);
		test_cond("a five-label hex name is not inet_aton's: a name",
		    host_normalize("0x1.0x2.0x3.0x4.0x5", out, sizeof(out), &why) == 0);
	}
	test_cond("loopback: localhost", host_is_loopback("localhost"));
	test_cond("loopback: a.localhost", host_is_loopback("a.localhost"));
	test_cond("loopback: localhost.com is not", !host_is_loopback("localhost.com"));
	test_cond("loopback: mylocalhost is not", !host_is_loopback("mylocalhost"));
	test_cond("below: a.b below b", host_is_below("a.b", "b"));
	test_cond("below: b not below b", !host_is_below("b", "b"));
	test_cond("below: ab not below b", !host_is_below("ab", "b"));
	return test_report();
}
