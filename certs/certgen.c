/* SPDX-License-Identifier: Apache-2.0 */
/* certgen: keys and X.509 certificates made with the OpenSSL C API, and their files. */
#include "certgen.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define CERTGEN_SERIAL_BYTES 16

/*
 * Writes "what: openssl reason" into err and empties the thread's OpenSSL error queue, so
 * a later call on the same thread does not report a stale error.
 */
static void
ossl_fail(char *err, size_t errsz, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *why = e ? ERR_reason_error_string(e) : NULL;

	if (why != NULL)
		snprintf(err, errsz, "%s: %s", what, why);
	else
		snprintf(err, errsz, "%s", what);
	ERR_clear_error();
}

static void fail(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

int
certgen_ec_key(EVP_PKEY **out)
{
	*out = EVP_EC_gen("P-256");
	if (*out == NULL) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

/* A random serial in [2^126, 2^127): positive, never zero, always 16 bytes long in DER. */
static int
set_serial(X509 *x)
{
	unsigned char buf[CERTGEN_SERIAL_BYTES];
	BIGNUM *bn = NULL;
	int rc = -1;

	if (RAND_bytes(buf, sizeof buf) != 1)
		goto out;
	buf[0] = (unsigned char)((buf[0] & 0x7f) | 0x40);
	bn = BN_bin2bn(buf, sizeof buf, NULL);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto out;
	rc = 0;
out:
	BN_free(bn);
	return rc;
}

/* Adds one extension given in OpenSSL's configuration syntax (fixed strings only). */
static int
add_ext_conf(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int rc = -1;

	if (ext == NULL)
		goto out;
	if (X509_add_ext(x, ext, -1) != 1)
		goto out;
	rc = 0;
out:
	X509_EXTENSION_free(ext);
	return rc;
}

/*
 * Appends one name of `type` (GEN_DNS, GEN_IPADD) to names, taking ownership of value: it is
 * freed when it cannot be added. 0, or -1 with a reason in err.
 */
static int
push_name(GENERAL_NAMES *names, int type, ASN1_STRING *value, char *err, size_t errsz)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();

	if (gn == NULL) {
		ASN1_STRING_free(value);
		ossl_fail(err, errsz, "out of memory");
		return -1;
	}
	GENERAL_NAME_set0_value(gn, type, value);
	if (!sk_GENERAL_NAME_push(names, gn)) {
		GENERAL_NAME_free(gn);
		ossl_fail(err, errsz, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * Builds subjectAltName from the spec's names, element by element, so that a name holding a
 * comma or a colon cannot turn into another entry the way a configuration string would.
 */
static int
add_san(X509 *x, const struct certgen_spec *spec, char *err, size_t errsz)
{
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
	int rc = -1;

	if (names == NULL) {
		ossl_fail(err, errsz, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < spec->n_dns; i++) {
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();
		if (s == NULL || !ASN1_STRING_set(s, spec->dns[i], -1)) {
			ASN1_IA5STRING_free(s);
			ossl_fail(err, errsz, "out of memory");
			goto out;
		}
		if (push_name(names, GEN_DNS, s, err, errsz) != 0)
			goto out;
	}
	for (size_t i = 0; i < spec->n_ips; i++) {
		ASN1_OCTET_STRING *ip = a2i_IPADDRESS(spec->ips[i]);
		if (ip == NULL) {
			ERR_clear_error();
			fail(err, errsz, "\"%s\" is not an IP address", spec->ips[i]);
			goto out;
		}
		if (push_name(names, GEN_IPADD, ip, err, errsz) != 0)
			goto out;
	}
	/* RFC 5280 4.2.1.6: with an empty subject the names live here only, marked critical. */
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, names, spec->cn == NULL,
	    X509V3_ADD_APPEND) != 1) {
		ossl_fail(err, errsz, "cannot add subjectAltName");
		goto out;
	}
	rc = 0;
out:
	GENERAL_NAMES_free(names);
	return rc;
}

static int
add_extensions(X509 *x, const struct certgen_spec *spec, X509 *issuer, EVP_PKEY *key,
    char *err, size_t errsz)
{
	X509V3_CTX ctx;
	const char *ku;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if (spec->is_ca) {
		if (add_ext_conf(x, &ctx, NID_basic_constraints, "critical,CA:TRUE") != 0)
			goto bad;
		ku = "critical,digitalSignature,keyCertSign,cRLSign";
	} else {
		if (add_ext_conf(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") != 0)
			goto bad;
		/* RSA key exchange (TLS 1.2 without ECDHE) encrypts to the key itself. */
		ku = EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA ?
		    "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature";
	}
	if (add_ext_conf(x, &ctx, NID_key_usage, ku) != 0)
		goto bad;
	if (!spec->is_ca && add_ext_conf(x, &ctx, NID_ext_key_usage, "serverAuth") != 0)
		goto bad;
	if ((spec->n_dns > 0 || spec->n_ips > 0) && add_san(x, spec, err, errsz) != 0)
		return -1;
	/* The subject key identifier first: a self-signed AKID is computed from it. */
	if (add_ext_conf(x, &ctx, NID_subject_key_identifier, "hash") != 0)
		goto bad;
	if (add_ext_conf(x, &ctx, NID_authority_key_identifier, "keyid:always") != 0)
		goto bad;
	return 0;
bad:
	ossl_fail(err, errsz, "cannot add a certificate extension");
	return -1;
}

int
certgen_make(const struct certgen_spec *spec, X509 **cert, EVP_PKEY **key, char *err,
    size_t errsz)
{
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	X509_NAME *subject = NULL;
	EVP_PKEY *sign_key;
	X509 *issuer;
	int rc = -1;

	*cert = NULL;
	*key = NULL;
	if ((spec->issuer_cert == NULL) != (spec->issuer_key == NULL)) {
		fail(err, errsz, "issuer_cert and issuer_key go together");
		goto out;
	}
	if (spec->not_after < spec->not_before) {
		fail(err, errsz, "not_after is before not_before");
		goto out;
	}
	if (spec->issuer_cert != NULL &&
	    X509_check_private_key(spec->issuer_cert, spec->issuer_key) != 1) {
		ossl_fail(err, errsz, "issuer_key does not match issuer_cert");
		goto out;
	}
	if (spec->key != NULL) {
		if (EVP_PKEY_up_ref(spec->key) != 1) {
			ossl_fail(err, errsz, "cannot reference the key");
			goto out;
		}
		k = spec->key;
	} else if (certgen_ec_key(&k) != 0) {
		fail(err, errsz, "cannot generate a P-256 key");
		goto out;
	}

	x = X509_new();
	subject = X509_NAME_new();
	if (x == NULL || subject == NULL) {
		ossl_fail(err, errsz, "out of memory");
		goto out;
	}
	if (spec->cn != NULL && X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)spec->cn, -1, -1, 0) != 1) {
		ossl_fail(err, errsz, "cannot set the common name");
		goto out;
	}
	issuer = spec->issuer_cert != NULL ? spec->issuer_cert : x;
	sign_key = spec->issuer_key != NULL ? spec->issuer_key : k;
	if (X509_set_version(x, X509_VERSION_3) != 1 || set_serial(x) != 0 ||
	    X509_set_subject_name(x, subject) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(issuer)) != 1 ||
	    ASN1_TIME_set(X509_getm_notBefore(x), spec->not_before) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), spec->not_after) == NULL ||
	    X509_set_pubkey(x, k) != 1) {
		ossl_fail(err, errsz, "cannot fill in the certificate");
		goto out;
	}
	if (add_extensions(x, spec, issuer, k, err, errsz) != 0)
		goto out;
	if (X509_sign(x, sign_key, EVP_sha256()) <= 0) {
		ossl_fail(err, errsz, "cannot sign the certificate");
		goto out;
	}
	*cert = x;
	*key = k;
	x = NULL;
	k = NULL;
	rc = 0;
out:
	X509_NAME_free(subject);
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}

/*
 * What a memory BIO holds as a malloc'd NUL-terminated string, or NULL when `written` is
 * false or memory runs out. Takes the BIO (may be NULL) and frees it; clears OpenSSL's errors.
 */
static char *
bio_take_string(BIO *bio, bool written)
{
	char *data = NULL, *s = NULL;
	long n;

	if (bio == NULL || !written)
		goto out;
	n = BIO_get_mem_data(bio, &data);
	if (n < 0 || data == NULL)
		goto out;
	s = malloc((size_t)n + 1);
	if (s == NULL)
		goto out;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
out:
	BIO_free(bio);
	ERR_clear_error();
	return s;
}

char *
certgen_cert_pem(X509 *cert)
{
	BIO *bio = BIO_new(BIO_s_mem());

	return bio_take_string(bio, bio != NULL && PEM_write_bio_X509(bio, cert) == 1);
}

char *
certgen_key_pem(EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());

	return bio_take_string(bio, bio != NULL &&
	    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1);
}

int
certgen_issue(const struct certgen_spec *spec, char **cert_pem, char **key_pem, char *err,
    size_t errsz)
{
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	char *c = NULL, *kp = NULL;
	int rc = -1;

	*cert_pem = NULL;
	if (key_pem != NULL)
		*key_pem = NULL;
	if (certgen_make(spec, &x, &k, err, errsz) != 0)
		goto out;
	c = certgen_cert_pem(x);
	if (c == NULL || (key_pem != NULL && (kp = certgen_key_pem(k)) == NULL)) {
		fail(err, errsz, "cannot encode PEM");
		goto out;
	}
	*cert_pem = c;
	if (key_pem != NULL)
		*key_pem = kp;
	c = kp = NULL;
	rc = 0;
out:
	free(c);
	free(kp);
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}

/* Splits path into its directory ("." when there is none) for the temporary file's name. */
static int
dir_of(const char *path, char *dir, size_t dirsz)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL)
		return snprintf(dir, dirsz, ".") < (int)dirsz ? 0 : -1;
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= dirsz)
		return -1;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

int
certgen_write_file(const char *path, const void *data, size_t len, mode_t mode, char *err,
    size_t errsz)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const unsigned char *p = data;
	size_t off = 0;
	int fd = -1, dfd = -1, rc = -1;
	bool have_tmp = false;

	if (dir_of(path, dir, sizeof dir) != 0 ||
	    snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path) >= (int)sizeof tmp) {
		fail(err, errsz, "%s: path too long", path);
		goto out;
	}
	/* mkstemp creates the file 0600, so a key is never readable by others, even briefly. */
	fd = mkstemp(tmp);
	if (fd < 0) {
		fail(err, errsz, "cannot create a file next to %s: %s", path, strerror(errno));
		goto out;
	}
	have_tmp = true;
	if (fchmod(fd, mode) != 0) {
		fail(err, errsz, "cannot set the mode of %s: %s", tmp, strerror(errno));
		goto out;
	}
	while (off < len) {
		ssize_t w = write(fd, p + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			fail(err, errsz, "cannot write %s: %s", tmp, strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		fail(err, errsz, "cannot sync %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		fail(err, errsz, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		fail(err, errsz, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
		goto out;
	}
	have_tmp = false;
	/* Makes the rename itself durable; a failure here loses nothing already visible. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd >= 0)
		(void)fsync(dfd);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (have_tmp)
		unlink(tmp);
	return rc;
}

int
certgen_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* What read_pem_file parses out of a PEM file. */
enum certgen_pem { CERTGEN_PEM_CERT, CERTGEN_PEM_KEY };

/*
 * The first certificate or the (unencrypted) private key of a PEM file: a new X509 or
 * EVP_PKEY, or NULL with a reason in err and errno set as certgen_read_cert promises.
 */
static void *
read_pem_file(const char *path, enum certgen_pem kind, char *err, size_t errsz)
{
	FILE *f = fopen(path, "r");
	void *obj;
	int saved;

	if (f == NULL) {
		saved = errno;
		fail(err, errsz, "cannot open %s: %s", path, strerror(saved));
		errno = saved;
		return NULL;
	}
	if (kind == CERTGEN_PEM_CERT)
		obj = PEM_read_X509(f, NULL, certgen_no_passphrase, NULL);
	else
		obj = PEM_read_PrivateKey(f, NULL, certgen_no_passphrase, NULL);
	if (obj == NULL) {
		char what[PATH_MAX + 64];
		snprintf(what, sizeof what, "%s does not hold %s", path, kind == CERTGEN_PEM_CERT ?
		    "a PEM certificate" : "an unencrypted PEM private key");
		ossl_fail(err, errsz, what);
	}
	fclose(f);
	if (obj == NULL)
		errno = EINVAL;
	return obj;
}

int
certgen_read_cert(const char *path, X509 **out, char *err, size_t errsz)
{
	*out = read_pem_file(path, CERTGEN_PEM_CERT, err, errsz);
	return *out != NULL ? 0 : -1;
}

int
certgen_read_key(const char *path, EVP_PKEY **out, char *err, size_t errsz)
{
	*out = read_pem_file(path, CERTGEN_PEM_KEY, err, errsz);
	return *out != NULL ? 0 : -1;
}
