/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz: what the libFuzzer harnesses share (one header, no library of its own). */
#ifndef TG_FUZZ_H
#define TG_FUZZ_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A property that failed: libFuzzer keeps the input as a crash and the run fails. */
#define FUZZ_ASSERT(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz property failed: %s: ", #cond); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
