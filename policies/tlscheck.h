/* SPDX-License-Identifier: Apache-2.0 */
/* tlscheck: what a kubernetes.io/tls Secret holds, checked with OpenSSL (pure: no I/O). */
#ifndef TG_TLSCHECK_H
#define TG_TLSCHECK_H
#include <stddef.h>
#include <time.h>

enum tlscheck_status {
	TLSCHECK_OK,
	TLSCHECK_BAD_CERT,      /* tls.crt missing, or not a PEM certificate chain */
	TLSCHECK_BAD_KEY,       /* tls.key missing, or not a PEM private key */
	TLSCHECK_KEY_MISMATCH,  /* the key does not belong to the first (leaf) certificate */
	TLSCHECK_EXPIRED,
	TLSCHECK_NOT_YET_VALID,
};

struct tlscheck_result {
	enum tlscheck_status status;
	char    reason[256];     /* a sentence when status != OK */
	time_t  not_before;
	time_t  not_after;
	char  **dns_names;       /* leaf DNS SANs (the CN when there is no SAN), as written */
	size_t  n_dns_names;
};

/*
 * Checks PEM bytes (already base64-decoded from the Secret) at time `now`: every certificate
 * of the chain parses, the key parses and matches the leaf, and the leaf's validity window
 * holds `now`. Fills *res (release with tlscheck_result_clear). Returns 0 when the check
 * ran (whatever its verdict), -1 on allocation failure.
 */
int tlscheck_run(const unsigned char *crt, size_t crt_len, const unsigned char *key,
    size_t key_len, time_t now, struct tlscheck_result *res);
void tlscheck_result_clear(struct tlscheck_result *res);

#endif
