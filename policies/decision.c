/* SPDX-License-Identifier: Apache-2.0 */
/* decision: the verdict a policy returns, with its message and warnings. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"

void
decision_init(struct decision *d)
{
	/* Field by field: the buffers are kilobytes and every review starts here. */
	d->allowed = true;
	d->code = 200;
	d->rule = RULE_NONE;
	d->message[0] = '\0';
	d->n_warnings = 0;
	d->patch = NULL;
}

void
decision_clear(struct decision *d)
{
	json_decref(d->patch);
	d->patch = NULL;
}

/*
 * A cut rune would make the AdmissionReview invalid UTF-8: the encoder refuses it (a 500 and a
 * false "out of memory" instead of the denial), and so would the apiserver.
 */
void
decision_text_fit(char *buf, size_t size, int n)
{
	const char *mark = size > 4 ? "..." : "";
	size_t end;

	if (n < 0 || size == 0 || (size_t)n < size)
		return;
	end = size - 1 - strlen(mark);
	while (end > 0 && ((unsigned char)buf[end] & 0xC0) == 0x80)
		end--;
	memcpy(buf + end, mark, strlen(mark) + 1);
}

/* The first reason wins: `prefix` and the sentence, unless a denial is recorded already. */
static void
vdeny(struct decision *d, int code, enum rule_id rule, const char *prefix, const char *fmt,
    va_list ap)
{
	if (!d->allowed)
		return;
	d->allowed = false;
	d->code = code;
	d->rule = rule;
	int n = snprintf(d->message, sizeof(d->message), "%s", prefix);
	decision_text_fit(d->message + n, sizeof(d->message) - (size_t)n,
	    vsnprintf(d->message + n, sizeof(d->message) - (size_t)n, fmt, ap));
}

void
decision_deny(struct decision *d, int code, enum rule_id rule, const char *fmt, ...)
{
	char prefix[40];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "[%s] ", ruleid_name(rule));
	va_start(ap, fmt);
	vdeny(d, code, rule, prefix, fmt, ap);
	va_end(ap);
}

void
decision_fail(struct decision *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdeny(d, 500, RULE_NONE, "internal error: ", fmt, ap);
	va_end(ap);
}

void
decision_warn(struct decision *d, const char *fmt, ...)
{
	va_list ap;
	if (d->n_warnings >= DECISION_MAX_WARNINGS)
		return;
	char *w = d->warnings[d->n_warnings];
	va_start(ap, fmt);
	int n = vsnprintf(w, DECISION_WARNING_MAX + 1, fmt, ap);
	va_end(ap);
	decision_text_fit(w, DECISION_WARNING_MAX + 1, n);
	for (size_t i = 0; i < d->n_warnings; i++)
		if (strcmp(d->warnings[i], w) == 0)
			return;   /* the same warning twice says nothing new */
	d->n_warnings++;
}
