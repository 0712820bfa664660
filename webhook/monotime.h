/* SPDX-License-Identifier: Apache-2.0 */
/* monotime: CLOCK_MONOTONIC readings for deadlines and ages, which wall-clock steps do not move. */
#ifndef TG_MONOTIME_H
#define TG_MONOTIME_H
#include <stdint.h>

/* Seconds, and milliseconds, of CLOCK_MONOTONIC (since an arbitrary point, the same for both). */
int64_t monotime_s(void);
int64_t monotime_ms(void);

#endif
