/* SPDX-License-Identifier: Apache-2.0 */
/* log: JSON lines on stderr, written whole so threads never interleave. */
#include "log.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "declog.h"
#include "jsonout.h"
#include "review.h"

#define LOG_MSG_MAX  2048   /* longer messages are cut: a log line is not a data channel */
#define LOG_LINE_MAX 4096   /* lines up to this size are rendered without allocating */
#define LOG_DECISION_MAX (64 * 1024)   /* its fields are fixed buffers, escaped at most 6x */

static atomic_bool log_debug_on;

void
log_set_debug(bool on)
{
	atomic_store(&log_debug_on, on);
}

/*
 * jansson refuses invalid UTF-8, and the review summary holds fixed-size copies that may cut a
 * multi-byte character in half; hence the cleaning of everything a line carries.
 */
void
log_utf8_clean(const char *in, char *out, size_t outsz)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0;

	if (outsz == 0)
		return;
	while (*p != '\0' && o + 1 < outsz) {
		size_t n = 0;
		unsigned cp = 0, min = 0;

		if (*p < 0x80)
			n = 1;
		else if ((*p & 0xe0) == 0xc0)
			n = 2, cp = *p & 0x1f, min = 0x80;
		else if ((*p & 0xf0) == 0xe0)
			n = 3, cp = *p & 0x0f, min = 0x800;
		else if ((*p & 0xf8) == 0xf0)
			n = 4, cp = *p & 0x07, min = 0x10000;
		for (size_t i = 1; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80) {
				n = 0;
				break;
			}
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		/* Overlong forms, surrogates and values past U+10FFFF are invalid too. */
		if (n > 1 && (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)))
			n = 0;
		if (n != 0 && o + n >= outsz)
			break;   /* a whole character or nothing */
		if (n == 0) {
			out[o++] = '?';
			p++;
			continue;
		}
		memcpy(out + o, p, n);
		o += n;
		p += n;
	}
	out[o] = '\0';
}

/* "2024-05-01T12:00:00.123Z": RFC 3339 in UTC with milliseconds. */
static void
log_timestamp(char *buf, size_t bufsz)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, bufsz, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, bufsz - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/*
 * One lock for every write to stderr: a write to a pipe longer than PIPE_BUF (the decision
 * log's batches) may be split by the kernel, and another thread's line must not land inside.
 */
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

void
log_write(const char *buf, size_t len)
{
	int saved = errno;

	pthread_mutex_lock(&write_lock);
	while (len > 0) {
		ssize_t w = write(STDERR_FILENO, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;   /* nowhere left to complain */
		buf += w;
		len -= (size_t)w;
	}
	pthread_mutex_unlock(&write_lock);
	errno = saved;
}

/*
 * Renders `obj` as one line and writes it whole (log_write); takes the reference.
 * When the object could not be built (no memory) a fixed line says so instead.
 */
static void
log_emit(json_t *obj)
{
	static const char oom[] = "{\"level\":\"error\",\"msg\":\"log: out of memory\"}\n";
	char line[LOG_LINE_MAX];
	char *big = NULL;
	size_t n;

	if (obj == NULL) {
		log_write(oom, sizeof(oom) - 1);
		return;
	}
	n = json_dumpb(obj, line, sizeof(line) - 1, JSON_COMPACT);
	if (n > 0 && n < sizeof(line)) {
		line[n++] = '\n';
		log_write(line, n);
	} else if (n > 0 && (big = json_dumps(obj, JSON_COMPACT)) != NULL) {
		n = strlen(big);
		big[n] = '\n';   /* replaces the terminator: written by length */
		log_write(big, n + 1);
		free(big);
	} else {
		log_write(oom, sizeof(oom) - 1);
	}
	json_decref(obj);
}

static void
log_vline(const char *level, const char *fmt, va_list ap, int errnum)
{
	char raw[LOG_MSG_MAX], msg[LOG_MSG_MAX], ts[40];
	int n;

	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (n < 0)
		n = 0, raw[0] = '\0';
	/* libmicrohttpd ends its messages with a newline; the line ending is ours. */
	if ((size_t)n >= sizeof(raw))
		n = (int)sizeof(raw) - 1;
	while (n > 0 && raw[n - 1] == '\n')
		raw[--n] = '\0';
	if (errnum != 0 && (size_t)n < sizeof(raw))
		snprintf(raw + n, sizeof(raw) - (size_t)n, ": %s", strerror(errnum));
	log_utf8_clean(raw, msg, sizeof(msg));
	log_timestamp(ts, sizeof(ts));
	log_emit(json_pack("{s:s, s:s, s:s}", "ts", ts, "level", level, "msg", msg));
}

void
log_info(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vline("info", fmt, ap, 0);
	va_end(ap);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vline("warn", fmt, ap, saved);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vline("warn", fmt, ap, 0);
	va_end(ap);
	errno = saved;
}

void
log_vwarnx(const char *fmt, va_list ap)
{
	int saved = errno;

	log_vline("warn", fmt, ap, 0);
	errno = saved;
}

void
log_debug(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (!atomic_load_explicit(&log_debug_on, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	log_vline("debug", fmt, ap, 0);
	va_end(ap);
	errno = saved;
}

/*
 * The decision line is written for every review, so it is rendered straight into a buffer
 * rather than through a jansson object (which cost ~5 µs of a ~35 µs review): the same
 * fields, order and escaping as log_emit would produce.
 */
void
log_decision(const struct review_summary *s, long micros)
{
	char uid[sizeof(s->uid)], kind[sizeof(s->kind)], op[sizeof(s->operation)];
	char ns[sizeof(s->namespace)], name[sizeof(s->name)], user[sizeof(s->user)];
	char ts[40], num[48];
	struct jsonout o;
	int saved = errno;

	jsonout_init(&o, LOG_DECISION_MAX);

	log_utf8_clean(s->uid, uid, sizeof(uid));
	log_utf8_clean(s->kind, kind, sizeof(kind));
	log_utf8_clean(s->operation, op, sizeof(op));
	log_utf8_clean(s->namespace, ns, sizeof(ns));
	log_utf8_clean(s->name, name, sizeof(name));
	log_utf8_clean(s->user, user, sizeof(user));
	log_timestamp(ts, sizeof(ts));
	jsonout_lit(&o, "{\"ts\":");
	jsonout_str(&o, ts);
	jsonout_lit(&o, ",\"level\":\"info\",\"msg\":\"decision\",\"uid\":");
	jsonout_str(&o, uid);
	jsonout_lit(&o, ",\"kind\":");
	jsonout_str(&o, kind);
	jsonout_lit(&o, ",\"operation\":");
	jsonout_str(&o, op);
	jsonout_lit(&o, ",\"namespace\":");
	jsonout_str(&o, ns);
	jsonout_lit(&o, ",\"name\":");
	jsonout_str(&o, name);
	jsonout_lit(&o, ",\"user\":");
	jsonout_str(&o, user);
	snprintf(num, sizeof(num), ",\"allowed\":%s,\"code\":%d,\"rule\":",
	    s->allowed ? "true" : "false", s->code);
	jsonout_lit(&o, num);
	jsonout_str(&o, s->rule == RULE_NONE ? "" : ruleid_name(s->rule));
	if (s->allowed && s->relaxed != ENFORCE_DENY) {
		jsonout_lit(&o, ",\"enforcement\":");
		jsonout_str(&o, enforce_mode_name(s->relaxed));
	}
	snprintf(num, sizeof(num), ",\"us\":%ld}\n", micros);
	jsonout_lit(&o, num);
	if (!o.failed)   /* (the fields are UTF-8 cleaned: only memory can fail) */
		declog_add(o.b.p, o.b.len);
	dynbuf_free(&o.b);
	errno = saved;
}
