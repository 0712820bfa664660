/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_tls: any bytes as a kubernetes.io/tls Secret's tls.crt and tls.key (already decoded
 * from base64): the first two bytes give the length of tls.crt, the rest is the key. The
 * check must run to a verdict, and a verdict other than OK must carry its sentence.
 */
#include <string.h>
#include <time.h>

#include "fuzz.h"
#include "tlscheck.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tlscheck_result res;
	size_t crt_len;

	if (size < 2)
		return 0;
	crt_len = ((size_t)data[0] << 8 | data[1]) % (size - 1);
	memset(&res, 0, sizeof(res));
	/* Now, not a fixed date: the seeds' certificates are made when seed.py runs. */
	FUZZ_ASSERT(tlscheck_run(data + 2, crt_len, data + 2 + crt_len, size - 2 - crt_len,
	    time(NULL), &res) == 0, "no verdict");
	FUZZ_ASSERT(res.status == TLSCHECK_OK || res.reason[0] != '\0', "a refusal without a reason");
	FUZZ_ASSERT(res.status != TLSCHECK_OK || res.not_before <= res.not_after, "an inverted window");
	tlscheck_result_clear(&res);
	return 0;
}
