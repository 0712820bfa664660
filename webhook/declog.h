/* SPDX-License-Identifier: Apache-2.0 */
/* declog: the decision log lines, buffered per thread and written in batches. */
#ifndef TG_DECLOG_H
#define TG_DECLOG_H
#include <stddef.h>

/* How long a buffered line may wait for its write; also what a crash can lose. */
#define DECLOG_FLUSH_MS 100u

/*
 * A decision line was one write(2) per review. Between declog_start and declog_stop each
 * thread appends its lines to a buffer of its own (no lock shared between workers), which is
 * written with one write when the next line would not fit, when the thread exits, and by a
 * flusher thread every `flush_ms`. Outside that window a line is written at once, so no line
 * ever waits for a flusher that is not running. Lines are written through log_write: whole,
 * never interleaved with another thread's.
 */

/* Starts the flusher. 0, or -1 (no thread: lines keep being written at once). */
int declog_start(unsigned flush_ms);

/* Appends one complete line (its newline included); `line` is borrowed. Thread-safe. */
void declog_add(const char *line, size_t len);

/* Writes every thread's buffered lines now. Thread-safe. */
void declog_flush(void);

/* Stops the flusher and writes what is buffered; later lines are written at once. */
void declog_stop(void);

#endif
