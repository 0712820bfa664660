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
	d->relaxed = ENFORCE_DENY;
	d->relaxed_rule = RULE_NONE;
	d->audit[0] = '\0';
	d->n_unclaimed = 0;
	d->unclaimed_overflow = false;
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
	/* The apiserver drops a warning with a control character (a host may hold one). */
	for (unsigned char *p = (unsigned char *)w; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			p[0] = p[1] = '?';   /* U+0080..U+009F */
	/* Cut on a UTF-8 boundary and mark the cut, so the apiserver never sees a broken rune. */
	decision_text_fit(w, DECISION_WARNING_MAX + 1, n);
	for (size_t i = 0; i < d->n_warnings; i++)
		if (strcmp(d->warnings[i], w) == 0)
			return;   /* the same warning twice says nothing new */
	d->n_warnings++;
}

void
decision_relax(struct decision *d, enum enforce_mode m, enum rule_id rule, const char *fmt,
    ...)
{
	char text[sizeof(d->message)];
	va_list ap;
	int n = snprintf(text, sizeof(text), "[%s] ", ruleid_name(rule));

	va_start(ap, fmt);
	size_t len = (size_t)n + (size_t)vsnprintf(text + n, sizeof(text) - (size_t)n, fmt, ap);
	va_end(ap);
	if (len >= sizeof(text)) {   /* cut: drop a rune the cut broke */
		len = sizeof(text) - 1;
		while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
			len--;
		text[len] = '\0';
	}
	if (d->relaxed_rule == RULE_NONE)
		d->relaxed_rule = rule;
	if (m == ENFORCE_WARN) {
		decision_warn(d, "%s", text);
		d->relaxed = ENFORCE_WARN;
		return;
	}
	if (d->relaxed == ENFORCE_DENY)
		d->relaxed = ENFORCE_AUDIT;
	/* Appended whole or cut on a UTF-8 boundary: the response must stay valid JSON text. */
	len = strlen(d->audit);
	size_t room = sizeof(d->audit) - 1 - len;
	if (len > 0 && room > 2) {
		memcpy(d->audit + len, "; ", 3);
		len += 2;
		room -= 2;
	} else if (len > 0) {
		return;
	}
	size_t tl = strlen(text);
	if (tl > room) {
		tl = room;
		while (tl > 0 && ((unsigned char)text[tl] & 0xC0) == 0x80)
			tl--;
	}
	memcpy(d->audit + len, text, tl);
	d->audit[len + tl] = '\0';
}

void
decision_unclaimed(struct decision *d, const char *pattern)
{
	if (decision_is_unclaimed(d, pattern))
		return;
	if (d->n_unclaimed == DECISION_MAX_UNCLAIMED) {
		d->unclaimed_overflow = true;
		return;
	}
	snprintf(d->unclaimed[d->n_unclaimed++], HOST_MAX, "%s", pattern);
}

bool
decision_is_unclaimed(const struct decision *d, const char *pattern)
{
	if (d->unclaimed_overflow)
		return true;
	for (size_t i = 0; i < d->n_unclaimed; i++)
		if (strcmp(d->unclaimed[i], pattern) == 0)
			return true;
	return false;
}

bool
decision_enforce(struct decision *d, const struct config *cfg, const struct tenant *t, int code,
    enum rule_id rule, const char *fmt, ...)
{
	char text[sizeof(d->message)];
	va_list ap;
	enum enforce_mode m = enforce_mode_for(cfg, t, rule, code);

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (m == ENFORCE_DENY) {
		decision_deny(d, code, rule, "%s", text);
		return true;
	}
	decision_relax(d, m, rule, "%s", text);
	return false;
}
