/* SPDX-License-Identifier: Apache-2.0 */
/* tlsreload: the serving certificate and key, replaceable while serving (a GnuTLS callback). */
#ifndef TG_TLSRELOAD_H
#define TG_TLSRELOAD_H
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stddef.h>
#include <time.h>

/*
 * One installed pair per process: GnuTLS calls the retrieve function without a user pointer,
 * so the pair is module state, like the metrics registry. Every function is thread-safe;
 * installs are meant to come from one thread (the reloader), handshakes from any.
 */

/* What an installed pair is, for the log and the metrics. */
struct tlsreload_info {
	time_t   not_after;     /* expiry of the leaf (the first certificate of the file) */
	unsigned chain_len;     /* certificates in the chain, leaf included */
	char     subject[256];  /* the leaf's subject DN, cut to fit */
	char     sha256[65];    /* the leaf's SHA-256 fingerprint, lowercase hex */
};

/*
 * Reads the PEM certificate chain (leaf first) at cert_path and the PEM private key at
 * key_path, checks that both parse and that the key belongs to the leaf (a test message
 * signed with the key verifies with the leaf's public key), and only then makes the pair the
 * one that new handshakes get. Returns 0 and fills *info; or -1 with the reason in err
 * ("certificate PATH: ...", "key PATH: ..." or "... does not match ..."), and the pair
 * installed before stays. Handshakes done or under way keep the pair they were given.
 */
int tlsreload_install(const char *cert_path, const char *key_path, struct tlsreload_info *info,
    char *err, size_t errsz);

/*
 * A gnutls_certificate_retrieve_function3, for MHD_OPTION_HTTPS_CERT_CALLBACK2: gives each
 * handshake its own copy of the installed chain and key, flagged GNUTLS_CERT_RETR_DEINIT_ALL
 * so that GnuTLS frees the copy with the session. A pair replaced meanwhile is therefore
 * never freed under a session that uses it. Fails the handshake (-1, logged) when no pair is
 * installed or memory runs out.
 */
int tlsreload_retrieve(gnutls_session_t session, const struct gnutls_cert_retr_st *info,
    gnutls_pcert_st **certs, unsigned int *certs_length, gnutls_ocsp_data_st **ocsp,
    unsigned int *ocsp_length, gnutls_privkey_t *privkey, unsigned int *flags);

/* Drops the installed pair; handshakes fail from then on. For shutdown, after the server stopped. */
void tlsreload_clear(void);

#endif
