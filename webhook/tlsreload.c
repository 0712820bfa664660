/* SPDX-License-Identifier: Apache-2.0 */
/* tlsreload: the serving certificate and key, replaceable while serving (a GnuTLS callback). */
#include "tlsreload.h"

#include <gnutls/x509.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "log.h"

#define TLSRELOAD_PEM_MAX   (1024 * 1024)
#define TLSRELOAD_CHAIN_MAX 16u
#define TLSRELOAD_ERR_MAX   (PATH_MAX + 256)

/* One certificate of the chain, as the bytes each session's copy is made from. */
struct tls_cert {
	gnutls_datum_t der;    /* the certificate */
	gnutls_datum_t spki;   /* its public key (SubjectPublicKeyInfo, DER) */
};

/*
 * A verified chain and its key. Immutable once built. The installed pointer holds one
 * reference and a handshake copying from it holds another for the time of the copy, so a
 * reload never frees a pair that a handshake is reading. Everything is GnuTLS-allocated.
 */
struct tls_creds {
	atomic_uint     refs;
	struct tls_cert chain[TLSRELOAD_CHAIN_MAX];
	unsigned        n;
	gnutls_datum_t  key;   /* PKCS#8 DER, unencrypted: wiped before it is freed */
};

static pthread_mutex_t   creds_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tls_creds *creds_installed;   /* guarded by creds_lock (the pointer only) */

static void
creds_free(struct tls_creds *c)
{
	for (unsigned i = 0; i < c->n; i++) {
		gnutls_free(c->chain[i].der.data);
		gnutls_free(c->chain[i].spki.data);
	}
	if (c->key.data != NULL) {
		explicit_bzero(c->key.data, c->key.size);
		gnutls_free(c->key.data);
	}
	free(c);
}

static void
creds_put(struct tls_creds *c)
{
	if (c != NULL && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
		creds_free(c);
}

/* The installed pair with a reference taken (creds_put it), or NULL. */
static struct tls_creds *
creds_get(void)
{
	struct tls_creds *c;

	pthread_mutex_lock(&creds_lock);
	c = creds_installed;
	if (c != NULL)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&creds_lock);
	return c;
}

/* Frees what creds_copy made, whole or in part. */
static void
copy_free(gnutls_pcert_st *pc, unsigned n, gnutls_privkey_t key)
{
	if (pc != NULL) {
		for (unsigned i = 0; i < n; i++) {
			if (pc[i].pubkey != NULL)
				gnutls_pubkey_deinit(pc[i].pubkey);
			gnutls_free(pc[i].cert.data);
		}
		gnutls_free(pc);
	}
	if (key != NULL)
		gnutls_privkey_deinit(key);
}

/*
 * A session's own copy of c: c->n certificates in one gnutls_malloc'd array and a private
 * key, all of which GnuTLS can free (GNUTLS_CERT_RETR_DEINIT_ALL). Built from bytes rather
 * than by parsing the certificates again, which would cost a handshake several times more.
 * 0, or a GnuTLS error code with nothing left allocated.
 */
static int
creds_copy(const struct tls_creds *c, gnutls_pcert_st **certs, gnutls_privkey_t *keyp)
{
	gnutls_pcert_st *pc = gnutls_malloc(c->n * sizeof(*pc));
	gnutls_privkey_t key = NULL;
	int rc = GNUTLS_E_MEMORY_ERROR;

	if (pc == NULL)
		return rc;
	memset(pc, 0, c->n * sizeof(*pc));
	for (unsigned i = 0; i < c->n; i++) {
		pc[i].type = GNUTLS_CRT_X509;
		if ((pc[i].cert.data = gnutls_malloc(c->chain[i].der.size)) == NULL) {
			rc = GNUTLS_E_MEMORY_ERROR;
			goto fail;
		}
		memcpy(pc[i].cert.data, c->chain[i].der.data, c->chain[i].der.size);
		pc[i].cert.size = c->chain[i].der.size;
		if ((rc = gnutls_pubkey_init(&pc[i].pubkey)) < 0) {
			pc[i].pubkey = NULL;
			goto fail;
		}
		if ((rc = gnutls_pubkey_import(pc[i].pubkey, &c->chain[i].spki,
		    GNUTLS_X509_FMT_DER)) < 0)
			goto fail;
	}
	if ((rc = gnutls_privkey_init(&key)) < 0) {
		key = NULL;
		goto fail;
	}
	if ((rc = gnutls_privkey_import_x509_raw(key, &c->key, GNUTLS_X509_FMT_DER, NULL, 0)) < 0)
		goto fail;
	*certs = pc;
	*keyp = key;
	return 0;
fail:
	copy_free(pc, c->n, key);
	return rc;
}

int
tlsreload_retrieve(gnutls_session_t session, const struct gnutls_cert_retr_st *info,
    gnutls_pcert_st **certs, unsigned int *certs_length, gnutls_ocsp_data_st **ocsp,
    unsigned int *ocsp_length, gnutls_privkey_t *privkey, unsigned int *flags)
{
	struct tls_creds *c = creds_get();
	unsigned n;
	int rc;

	(void)session;
	(void)info;
	*certs = NULL;
	*certs_length = 0;
	*ocsp = NULL;
	*ocsp_length = 0;
	*privkey = NULL;
	if (c == NULL) {
		log_warnx("TLS handshake refused: no certificate installed");
		return -1;
	}
	n = c->n;
	rc = creds_copy(c, certs, privkey);
	creds_put(c);
	if (rc < 0) {
		log_warnx("TLS handshake refused: copying the certificate: %s", gnutls_strerror(rc));
		return -1;
	}
	*certs_length = n;
	*flags = GNUTLS_CERT_RETR_DEINIT_ALL;
	return 0;
}

void
tlsreload_clear(void)
{
	struct tls_creds *old;

	pthread_mutex_lock(&creds_lock);
	old = creds_installed;
	creds_installed = NULL;
	pthread_mutex_unlock(&creds_lock);
	creds_put(old);
}

/* ---- loading ---- */

/*
 * Whether `key` belongs to the certificate whose public key is `pub`: a test message signed
 * with the key must verify with the certificate's key, in the signature algorithm a
 * handshake would use. This also proves the key can sign at all, which comparing the public
 * halves would not. 0, or -1 with the reason in why.
 */
static int
key_matches(gnutls_pubkey_t pub, gnutls_privkey_t key, char *why, size_t whysz)
{
	static const char probe[] = "tenantguard: does this key belong to this certificate?";
	gnutls_datum_t msg = { (unsigned char *)probe, sizeof(probe) - 1 }, sig = { NULL, 0 };
	gnutls_digest_algorithm_t dig = GNUTLS_DIG_UNKNOWN;
	gnutls_sign_algorithm_t algo;
	int g;

	if ((g = gnutls_pubkey_get_preferred_hash_algorithm(pub, &dig, NULL)) < 0) {
		snprintf(why, whysz, "the certificate's public key: %s", gnutls_strerror(g));
		return -1;
	}
	algo = gnutls_pk_to_sign(gnutls_pubkey_get_pk_algorithm(pub, NULL), dig);
	if (algo == GNUTLS_SIGN_UNKNOWN) {
		snprintf(why, whysz, "the certificate's key type cannot sign");
		return -1;
	}
	if ((g = gnutls_privkey_sign_data2(key, algo, 0, &msg, &sig)) < 0) {
		snprintf(why, whysz, "the private key does not match the certificate (%s signature: %s)",
		    gnutls_sign_get_name(algo), gnutls_strerror(g));
		return -1;
	}
	g = gnutls_pubkey_verify_data2(pub, algo, 0, &msg, &sig);
	gnutls_free(sig.data);
	if (g < 0) {
		snprintf(why, whysz, "the private key does not match the certificate (a test "
		    "signature did not verify with the certificate's public key)");
		return -1;
	}
	return 0;
}

/* The leaf's subject, fingerprint and expiry into *info. 0, or -1 with the reason in why. */
static int
leaf_describe(gnutls_x509_crt_t leaf, unsigned n, struct tlsreload_info *info, char *why,
    size_t whysz)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char fp[32];
	size_t fplen = sizeof(fp);
	gnutls_datum_t dn = { NULL, 0 };
	int g;

	memset(info, 0, sizeof(*info));
	info->chain_len = n;
	if ((info->not_after = gnutls_x509_crt_get_expiration_time(leaf)) == (time_t)-1) {
		snprintf(why, whysz, "the certificate has no readable expiry");
		return -1;
	}
	if ((g = gnutls_x509_crt_get_fingerprint(leaf, GNUTLS_DIG_SHA256, fp, &fplen)) < 0 ||
	    fplen != sizeof(fp)) {
		snprintf(why, whysz, "certificate fingerprint: %s", g < 0 ? gnutls_strerror(g) :
		    "unexpected length");
		return -1;
	}
	for (size_t i = 0; i < fplen; i++) {
		info->sha256[2 * i] = hex[fp[i] >> 4];
		info->sha256[2 * i + 1] = hex[fp[i] & 15];
	}
	info->sha256[2 * fplen] = '\0';
	if (gnutls_x509_crt_get_dn3(leaf, &dn, 0) >= 0 && dn.data != NULL) {
		snprintf(info->subject, sizeof(info->subject), "%.*s", (int)dn.size,
		    (const char *)dn.data);
		gnutls_free(dn.data);
	} else {
		snprintf(info->subject, sizeof(info->subject), "(no subject)");
	}
	return 0;
}

/* The DER SubjectPublicKeyInfo of crt's key into *out (gnutls_free it). 0 or a GnuTLS error. */
static int
spki_of(gnutls_x509_crt_t crt, gnutls_datum_t *out)
{
	gnutls_pubkey_t pub;
	int g;

	if ((g = gnutls_pubkey_init(&pub)) < 0)
		return g;
	if ((g = gnutls_pubkey_import_x509(pub, crt, 0)) >= 0)
		g = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, out);
	gnutls_pubkey_deinit(pub);
	return g;
}

/* The chain and key as bytes in a new tls_creds (refs 1). NULL with the reason in why. */
static struct tls_creds *
creds_build(gnutls_x509_crt_t *crts, unsigned n, gnutls_x509_privkey_t xkey, char *why,
    size_t whysz)
{
	struct tls_creds *c = calloc(1, sizeof(*c));
	int g;

	if (c == NULL) {
		snprintf(why, whysz, "out of memory");
		return NULL;
	}
	atomic_init(&c->refs, 1);
	for (unsigned i = 0; i < n; i++) {
		c->n = i + 1;   /* so that creds_free releases what entry i got before a failure */
		if ((g = gnutls_x509_crt_export2(crts[i], GNUTLS_X509_FMT_DER,
		    &c->chain[i].der)) < 0 || (g = spki_of(crts[i], &c->chain[i].spki)) < 0) {
			snprintf(why, whysz, "certificate %u of the chain: %s", i + 1,
			    gnutls_strerror(g));
			creds_free(c);
			return NULL;
		}
	}
	if ((g = gnutls_x509_privkey_export2_pkcs8(xkey, GNUTLS_X509_FMT_DER, NULL,
	    GNUTLS_PKCS_PLAIN, &c->key)) < 0) {
		snprintf(why, whysz, "private key: %s", gnutls_strerror(g));
		creds_free(c);
		return NULL;
	}
	return c;
}

/*
 * GnuTLS's reason for a PEM it could not import, with what it usually means in a file that
 * is being replaced: cut short, or not PEM at all.
 */
static void
pem_why(int g, const char *what, char *why, size_t whysz)
{
	switch (g) {
	case GNUTLS_E_NO_CERTIFICATE_FOUND:
	case GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE:
	case GNUTLS_E_BASE64_DECODING_ERROR:
	case GNUTLS_E_BASE64_UNEXPECTED_HEADER_ERROR:
		snprintf(why, whysz, "no complete PEM %s in the file (GnuTLS: %s)", what,
		    gnutls_strerror(g));
		break;
	default:
		snprintf(why, whysz, "%s", gnutls_strerror(g));
		break;
	}
}

/* A whole non-empty file (fileio_read: free it), or NULL with "what path: reason" in err. */
static char *
read_whole(const char *what, const char *path, size_t *len, char *err, size_t errsz)
{
	char ferr[TLSRELOAD_ERR_MAX];
	char *buf = fileio_read(path, TLSRELOAD_PEM_MAX, len, ferr, sizeof(ferr));

	if (buf == NULL) {
		snprintf(err, errsz, "%s %s", what, ferr);
		return NULL;
	}
	if (*len == 0 || *len > UINT_MAX) {
		snprintf(err, errsz, "%s %s: %s", what, path, *len == 0 ? "empty" : "too large");
		explicit_bzero(buf, *len);
		free(buf);
		return NULL;
	}
	return buf;
}

int
tlsreload_install(const char *cert_path, const char *key_path, struct tlsreload_info *info,
    char *err, size_t errsz)
{
	char *cert_pem = NULL, *key_pem = NULL, why[512];
	size_t cert_len = 0, key_len = 0;
	gnutls_x509_crt_t *crts = NULL;
	unsigned n = 0;
	gnutls_x509_privkey_t xkey = NULL;
	gnutls_pcert_st *trial = NULL;
	gnutls_privkey_t trial_key = NULL;
	struct tls_creds *c = NULL, *old;
	struct tlsreload_info got;
	gnutls_datum_t d;
	int rc = -1, g;

	if ((cert_pem = read_whole("certificate", cert_path, &cert_len, err, errsz)) == NULL ||
	    (key_pem = read_whole("key", key_path, &key_len, err, errsz)) == NULL)
		goto out;

	d.data = (unsigned char *)cert_pem;
	d.size = (unsigned)cert_len;
	if ((g = gnutls_x509_crt_list_import2(&crts, &n, &d, GNUTLS_X509_FMT_PEM, 0)) < 0) {
		crts = NULL;
		n = 0;
		pem_why(g, "certificate", why, sizeof(why));
		snprintf(err, errsz, "certificate %s: %s", cert_path, why);
		goto out;
	}
	if (n == 0 || n > TLSRELOAD_CHAIN_MAX) {
		snprintf(err, errsz, "certificate %s: %s", cert_path, n == 0 ?
		    "no certificate in the file" : "more than 16 certificates in the chain");
		goto out;
	}
	d.data = (unsigned char *)key_pem;
	d.size = (unsigned)key_len;
	if ((g = gnutls_x509_privkey_init(&xkey)) < 0) {
		xkey = NULL;
		snprintf(err, errsz, "key %s: %s", key_path, gnutls_strerror(g));
		goto out;
	}
	if ((g = gnutls_x509_privkey_import2(xkey, &d, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		pem_why(g, "private key", why, sizeof(why));
		snprintf(err, errsz, "key %s: %s", key_path, why);
		goto out;
	}
	if (leaf_describe(crts[0], n, &got, why, sizeof(why)) != 0) {
		snprintf(err, errsz, "certificate %s: %s", cert_path, why);
		goto out;
	}
	if ((c = creds_build(crts, n, xkey, why, sizeof(why))) == NULL) {
		snprintf(err, errsz, "certificate %s, key %s: %s", cert_path, key_path, why);
		goto out;
	}
	/* The match is checked on a copy made exactly as a handshake makes it. */
	if ((g = creds_copy(c, &trial, &trial_key)) < 0) {
		snprintf(err, errsz, "certificate %s, key %s: %s", cert_path, key_path,
		    gnutls_strerror(g));
		goto out;
	}
	if (key_matches(trial[0].pubkey, trial_key, why, sizeof(why)) != 0) {
		snprintf(err, errsz, "key %s, certificate %s: %s", key_path, cert_path, why);
		goto out;
	}

	pthread_mutex_lock(&creds_lock);
	old = creds_installed;
	creds_installed = c;
	pthread_mutex_unlock(&creds_lock);
	c = NULL;
	creds_put(old);
	*info = got;
	rc = 0;
out:
	copy_free(trial, trial != NULL ? n : 0, trial_key);
	creds_put(c);
	if (xkey != NULL)
		gnutls_x509_privkey_deinit(xkey);
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	if (key_pem != NULL) {
		explicit_bzero(key_pem, key_len);
		free(key_pem);
	}
	free(cert_pem);
	return rc;
}
