/* SPDX-License-Identifier: Apache-2.0 */
/* certgen: keys and X.509 certificates made with the OpenSSL C API, and their files. */
#ifndef TG_CERTGEN_H
#define TG_CERTGEN_H
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/*
 * What to issue. Every pointer is borrowed for the duration of the call. With issuer_cert
 * NULL the certificate is self-signed by its own key (issuer_key must then be NULL too);
 * otherwise issuer_key must be the private key of issuer_cert. With key NULL a fresh P-256
 * key is generated. Names are written as given (DNS SANs in order, then IP SANs); with no
 * dns and no ips the certificate has no subjectAltName extension at all. cn NULL leaves the
 * subject empty.
 */
struct certgen_spec {
	const char *const *dns;
	size_t      n_dns;
	const char *const *ips;     /* IPv4 or IPv6 literals */
	size_t      n_ips;
	const char *cn;
	time_t      not_before;
	time_t      not_after;
	bool        is_ca;          /* CA: keyCertSign; leaf: digitalSignature + serverAuth */
	EVP_PKEY   *issuer_key;
	X509       *issuer_cert;
	EVP_PKEY   *key;
};

/* Generates an EC P-256 key into *out (new reference). 0, or -1 on failure. */
int certgen_ec_key(EVP_PKEY **out);

/*
 * Issues one certificate as `spec` says, with a random positive 128-bit serial, SHA-256
 * signature, basicConstraints, keyUsage, extendedKeyUsage serverAuth (leaves only),
 * subjectAltName, subjectKeyIdentifier and authorityKeyIdentifier. Sets *cert and *key to
 * new references (*key is spec->key with its count raised, or the generated key). 0, or -1
 * with a one-line reason in err.
 */
int certgen_make(const struct certgen_spec *spec, X509 **cert, EVP_PKEY **key, char *err,
    size_t errsz);

/*
 * certgen_make, returned as PEM: *cert_pem gets the certificate and *key_pem (when key_pem
 * is not NULL) the unencrypted PKCS#8 key, both malloc'd NUL-terminated strings the caller
 * frees. 0, or -1 with a reason in err (nothing to free then).
 */
int certgen_issue(const struct certgen_spec *spec, char **cert_pem, char **key_pem, char *err,
    size_t errsz);

/* PEM text of a certificate / an unencrypted PKCS#8 key: malloc'd, caller frees; NULL on failure. */
char *certgen_cert_pem(X509 *cert);
char *certgen_key_pem(EVP_PKEY *key);

/*
 * Writes len bytes to path atomically: a temporary file in the same directory, created with
 * `mode`, written, fsync'd and renamed over path. 0, or -1 with a reason in err.
 */
int certgen_write_file(const char *path, const void *data, size_t len, mode_t mode, char *err,
    size_t errsz);

/*
 * Reads the first PEM certificate / the unencrypted private key of a file (never prompts for
 * a passphrase). *out is a new reference. 0, or -1 with a reason in err; errno is ENOENT when
 * the file does not exist.
 */
/*
 * An OpenSSL pem_password_cb that refuses to ask: an encrypted key fails to load instead of
 * prompting on the terminal (a daemon has none).
 */
int certgen_no_passphrase(char *buf, int size, int rwflag, void *u);
int certgen_read_cert(const char *path, X509 **out, char *err, size_t errsz);
int certgen_read_key(const char *path, EVP_PKEY **out, char *err, size_t errsz);

#endif
