/* SPDX-License-Identifier: Apache-2.0 */
/* test_dynbuf: the growable buffer keeps its cap, stays NUL-terminated and fails stickily. */
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "testhelp.h"

int
main(void)
{
	struct dynbuf b;
	char big[3000];
	size_t len = 99;
	char *s;

	dynbuf_init(&b, 10);
	test_cond("an empty buffer allocates nothing", b.p == NULL && b.len == 0);
	s = dynbuf_take(&b, &len);
	test_cond("taking an empty buffer gives \"\"", s != NULL && s[0] == '\0' && len == 0);
	free(s);

	test_cond("add within the cap", dynbuf_add(&b, "hello", 5) == DYNBUF_OK);
	test_cond("content NUL-terminated", b.len == 5 && strcmp(b.p, "hello") == 0);
	test_cond("addf up to exactly the cap", dynbuf_addf(&b, "%d%s", 12, "345") == DYNBUF_OK &&
	    b.len == 10 && strcmp(b.p, "hello12345") == 0);
	test_cond("one byte past the cap is too big", dynbuf_add(&b, "x", 1) == DYNBUF_TOOBIG);
	test_cond("the failure sticks", dynbuf_add(&b, "", 0) == DYNBUF_TOOBIG &&
	    dynbuf_addf(&b, "%s", "") == DYNBUF_TOOBIG);
	test_cond("what came before stays readable", b.len == 10 && strcmp(b.p, "hello12345") == 0);
	test_cond("a failed buffer cannot be taken", dynbuf_take(&b, NULL) == NULL && b.p == NULL);

	dynbuf_free(&b);
	test_cond("free keeps the cap and clears the failure", b.max == 10 && b.failed == 0 &&
	    dynbuf_addf(&b, "%s", "abc") == DYNBUF_OK);
	test_cond("addf past the cap in spare room is refused, content intact",
	    dynbuf_addf(&b, "%s", "0123456789") == DYNBUF_TOOBIG && strcmp(b.p, "abc") == 0);
	dynbuf_free(&b);

	dynbuf_init(&b, sizeof(big) * 4);
	memset(big, 'y', sizeof(big));
	for (int i = 0; i < 4; i++)
		dynbuf_add(&b, big, sizeof(big));
	test_cond("growth past the first allocation, to the cap", b.failed == 0 &&
	    b.len == 4 * sizeof(big) && b.p[b.len] == '\0' && b.cap <= b.max + 1);
	dynbuf_reset(&b);
	test_cond("reset empties and keeps the memory", b.len == 0 && b.p != NULL && b.p[0] == '\0');
	test_cond("reserve beyond the cap is too big", dynbuf_reserve(&b, b.max + 1) == DYNBUF_TOOBIG);
	dynbuf_free(&b);

	dynbuf_init(&b, 1 << 20);
	dynbuf_addf(&b, "%s-%d", "a", 1);
	s = dynbuf_take(&b, &len);
	test_cond("take hands over the text and its length", s != NULL && strcmp(s, "a-1") == 0 &&
	    len == 3 && b.p == NULL && b.len == 0);
	free(s);
	return test_report();
}
