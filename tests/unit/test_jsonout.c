/* SPDX-License-Identifier: Apache-2.0 */
/* test_jsonout: the hand-written JSON text is byte for byte what jansson dumps, or fails where it would. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"
#include "testhelp.h"

/* jsonout_str(s) must equal jansson's compact dump of the string s (or both refuse it). */
static void
same_as_jansson(const char *what, const char *s)
{
	struct jsonout o;
	json_t *j = json_string(s);
	char *want = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	jsonout_init(&o, 1 << 20);
	jsonout_str(&o, s);
	if (want == NULL)
		test_cond(what, o.failed);
	else
		test_cond(what, !o.failed && o.b.len == strlen(want) && memcmp(o.b.p, want, o.b.len) == 0);
	free(want);
	dynbuf_free(&o.b);
	json_decref(j);
}

int
main(void)
{
	static const char *const strings[] = {
		"", "plain", "quote \" and backslash \\", "\b\f\n\r\t", "\x01\x1f\x7f",
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92", "[host-collision] host 'a.b' overlaps",
		"</script>", "tab\tend",
	};
	char name[64];

	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		snprintf(name, sizeof(name), "string %zu as jansson dumps it", i);
		same_as_jansson(name, strings[i]);
	}
	/* Not UTF-8: a lone continuation byte, an overlong form, a surrogate, a cut sequence. */
	same_as_jansson("lone continuation byte refused", "a\x80" "b");
	same_as_jansson("overlong encoding refused", "\xc0\xaf");
	same_as_jansson("UTF-16 surrogate refused", "\xed\xa0\x80");
	same_as_jansson("sequence cut by the end refused", "ok\xe2\x82");

	struct jsonout o;
	jsonout_init(&o, 16);
	jsonout_str(&o, NULL);
	test_cond("NULL string fails", o.failed);
	jsonout_lit(&o, "{}");
	test_cond("a failure sticks", o.failed && o.b.len == 0);
	dynbuf_free(&o.b);
	jsonout_init(&o, 8);
	jsonout_str(&o, "12345678");
	test_cond("a text past its cap fails", o.failed);
	dynbuf_free(&o.b);

	/* Long enough to grow the buffer several times. */
	char *big = malloc(100001);
	memset(big, 'x', 100000);
	big[100000] = '\0';
	big[5000] = '"';
	same_as_jansson("a 100 kB string with a quote", big);
	free(big);
	return test_report();
}
