/* SPDX-License-Identifier: Apache-2.0 */
/* bench: what the in-process benchmarks share: a monotonic clock and the resident size. */
#ifndef TG_BENCH_H
#define TG_BENCH_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Microseconds of CLOCK_MONOTONIC, since an arbitrary point. */
static inline double
bench_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* This process's VmRSS in KiB, or 0 when /proc does not say. */
static inline long
bench_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = 0;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	if (f != NULL)
		fclose(f);
	return kb;
}

#endif
