/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_config: any bytes as a config file (YAML, JSON being YAML). A config that loads must
 * load again, with the same answer, from its own bytes (the loader keeps no hidden state),
 * and a refusal must say why.
 */
#include <string.h>

#include "config.h"
#include "config_load.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024] = "", err2[1024] = "";
	struct config *a = config_load_buffer("fuzz.yaml", (const char *)data, size, err,
	    sizeof(err));
	struct config *b = config_load_buffer("fuzz.yaml", (const char *)data, size, err2,
	    sizeof(err2));

	FUZZ_ASSERT((a == NULL) == (b == NULL), "the same bytes loaded once and failed once");
	if (a == NULL) {
		FUZZ_ASSERT(err[0] != '\0', "refused without a reason");
		FUZZ_ASSERT(strcmp(err, err2) == 0, "two reasons for one input: %s / %s", err, err2);
	}
	config_free(a);
	config_free(b);
	return 0;
}
