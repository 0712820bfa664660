/* SPDX-License-Identifier: Apache-2.0 */
/* log: JSON lines on stderr, written whole so threads never interleave. */
#ifndef TG_LOG_H
#define TG_LOG_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct review_summary;

/*
 * Every line is one JSON object: {"ts":"<RFC 3339, UTC, ms>","level":"...","msg":"..."}.
 * Messages are printf formats; bytes that are not UTF-8 are replaced so the line always parses.
 * All functions are thread-safe and keep errno as they found it.
 */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A warning with ": strerror(errno)" appended (errno as it was on entry). */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A warning without errno. */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Written only after log_set_debug(true). */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warnx for callers holding a va_list (libmicrohttpd's error logger). */
void log_vwarnx(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/*
 * Copies `in` into out (outsz bytes, always terminated, cut at a character boundary),
 * replacing every byte that is not part of a well-formed UTF-8 sequence by '?'.
 */
void log_utf8_clean(const char *in, char *out, size_t outsz);

/*
 * Writes len bytes of complete lines to stderr, whole: no other log_write lands among them.
 * Keeps errno. The one way to stderr for log.c and declog.c.
 */
void log_write(const char *buf, size_t len);

/* Enables or disables log_debug; off at start. */
void log_set_debug(bool on);

/*
 * One line per admission decision: msg "decision" with uid, kind, operation, namespace, name,
 * user, allowed, code, rule ("" when allowed) and `us`, the microseconds the review took.
 * `s` is borrowed. Buffered by declog between declog_start and declog_stop.
 */
void log_decision(const struct review_summary *s, long micros);

#endif
