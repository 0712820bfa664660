/* SPDX-License-Identifier: Apache-2.0 */
/* monotime: CLOCK_MONOTONIC readings for deadlines and ages, which wall-clock steps do not move. */
#include "monotime.h"

#include <time.h>

int64_t
monotime_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

int64_t
monotime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
