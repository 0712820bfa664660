/* SPDX-License-Identifier: Apache-2.0 */
/* test_tlscheck: TLS Secret checks against certificates made by certgen at test time. */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certgen.h"
#include "testhelp.h"
#include "tlscheck.h"

#define NOW ((time_t)1750000000)     /* 2025-06-15T15:06:40Z */
#define DAY ((time_t)86400)

static char errbuf[256];

/* A self-signed leaf for `dns` valid [nb, na], with its key; NULL on failure (reported). */
static int
issue(const char *const *dns, size_t n, const char *cn, time_t nb, time_t na, EVP_PKEY *key,
    char **crt, char **keypem)
{
	struct certgen_spec spec = {
		.dns = dns, .n_dns = n, .cn = cn, .not_before = nb, .not_after = na, .key = key,
	};
	int rc = certgen_issue(&spec, crt, keypem, errbuf, sizeof errbuf);
	if (rc != 0)
		printf("certgen_issue: %s\n", errbuf);
	return rc;
}

static int
check(const char *crt, const char *key, struct tlscheck_result *res)
{
	return tlscheck_run((const unsigned char *)crt, crt ? strlen(crt) : 0,
	    (const unsigned char *)key, key ? strlen(key) : 0, NOW, res);
}

/* Concatenates two strings into a new one. */
static char *
join(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *s = malloc(na + nb + 1);

	if (s == NULL)
		abort();
	memcpy(s, a, na);
	memcpy(s + na, b, nb + 1);
	return s;
}

static char *
bio_string(BIO *bio)
{
	char *data;
	long n = BIO_get_mem_data(bio, &data);
	char *s = malloc((size_t)n + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	return s;
}

static char *
key_traditional(EVP_PKEY *k, const EVP_CIPHER *enc)
{
	BIO *bio = BIO_new(BIO_s_mem());
	unsigned char pass[] = "secret";
	char *s;

	PEM_write_bio_PrivateKey_traditional(bio, k, enc, enc ? pass : NULL, enc ? 6 : 0, NULL,
	    NULL);
	s = bio_string(bio);
	BIO_free(bio);
	return s;
}

static char *
key_pkcs8_encrypted(EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char pass[] = "secret";
	char *s;

	PEM_write_bio_PKCS8PrivateKey(bio, k, EVP_aes_256_cbc(), pass, 6, NULL, NULL);
	s = bio_string(bio);
	BIO_free(bio);
	return s;
}

static void
test_valid_self_signed(void)
{
	const char *dns[] = { "app.customer.com" };
	char *crt, *key;
	struct tlscheck_result res;

	if (issue(dns, 1, "app", NOW - DAY, NOW + 90 * DAY, NULL, &crt, &key) != 0)
		{ test_cond("self-signed: issued", 0); return; }
	test_cond("self-signed: ran", check(crt, key, &res) == 0);
	test_cond("self-signed: OK", res.status == TLSCHECK_OK);
	test_cond("self-signed: no reason", res.reason[0] == '\0');
	test_cond("self-signed: not_before", res.not_before == NOW - DAY);
	test_cond("self-signed: not_after", res.not_after == NOW + 90 * DAY);
	test_cond("self-signed: one name, the SAN not the CN",
	    res.n_dns_names == 1 && strcmp(res.dns_names[0], "app.customer.com") == 0);
	tlscheck_result_clear(&res);
	tlscheck_result_clear(&res);     /* clearing twice is harmless */
	test_cond("self-signed: cleared", res.dns_names == NULL && res.n_dns_names == 0);

	/* Surrounding whitespace and CRLF line ends are fine. */
	char *padded = join("\r\n  ", crt), *padded2 = join(padded, "\n\n");
	test_cond("self-signed: whitespace around", check(padded2, key, &res) == 0 &&
	    res.status == TLSCHECK_OK);
	tlscheck_result_clear(&res);
	free(padded);
	free(padded2);

	/* The validity bounds are inclusive. */
	test_cond("at not_after: ran", tlscheck_run((const unsigned char *)crt, strlen(crt),
	    (const unsigned char *)key, strlen(key), NOW + 90 * DAY, &res) == 0);
	test_cond("at not_after: OK", res.status == TLSCHECK_OK);
	tlscheck_result_clear(&res);
	tlscheck_run((const unsigned char *)crt, strlen(crt), (const unsigned char *)key,
	    strlen(key), NOW - DAY, &res);
	test_cond("at not_before: OK", res.status == TLSCHECK_OK);
	tlscheck_result_clear(&res);
	free(crt);
	free(key);
}

static void
test_chain(void)
{
	const char *dns[] = { "api.customer.com" };
	struct certgen_spec ca_spec = {
		.cn = "test CA", .not_before = NOW - DAY, .not_after = NOW + 3650 * DAY, .is_ca = true,
	};
	X509 *ca = NULL;
	EVP_PKEY *ca_key = NULL;
	char *ca_pem = NULL, *crt = NULL, *key = NULL;
	struct tlscheck_result res;

	if (certgen_make(&ca_spec, &ca, &ca_key, errbuf, sizeof errbuf) != 0) {
		printf("certgen_make: %s\n", errbuf);
		{ test_cond("chain: CA made", 0); return; }
	}
	struct certgen_spec leaf_spec = {
		.dns = dns, .n_dns = 1, .cn = "api", .not_before = NOW - DAY,
		.not_after = NOW + 30 * DAY, .issuer_cert = ca, .issuer_key = ca_key,
	};
	test_cond("chain: leaf issued",
	    certgen_issue(&leaf_spec, &crt, &key, errbuf, sizeof errbuf) == 0);
	ca_pem = certgen_cert_pem(ca);
	test_cond("chain: CA pem", ca_pem != NULL);
	if (crt == NULL || ca_pem == NULL)
		goto out;

	char *chain = join(crt, ca_pem);
	test_cond("chain: ran", check(chain, key, &res) == 0);
	test_cond("chain: OK", res.status == TLSCHECK_OK);
	test_cond("chain: leaf names", res.n_dns_names == 1 &&
	    strcmp(res.dns_names[0], "api.customer.com") == 0);
	test_cond("chain: leaf dates", res.not_after == NOW + 30 * DAY);
	tlscheck_result_clear(&res);
	free(chain);

	/* The leaf must come first: the key is checked against the first certificate. */
	chain = join(ca_pem, crt);
	check(chain, key, &res);
	test_cond("chain reversed: KEY_MISMATCH", res.status == TLSCHECK_KEY_MISMATCH);
	tlscheck_result_clear(&res);
	free(chain);

	/* The leaf really is signed by the CA. */
	BIO *bio = BIO_new_mem_buf(crt, -1);
	X509 *leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	test_cond("chain: leaf verifies against CA", leaf != NULL &&
	    X509_verify(leaf, ca_key) == 1 && X509_check_issued(ca, leaf) == X509_V_OK);
	test_cond("chain: leaf is not a CA", leaf != NULL && X509_check_ca(leaf) == 0);
	test_cond("chain: CA is a CA", X509_check_ca(ca) != 0);
	test_cond("chain: leaf is a TLS server cert",
	    leaf != NULL && X509_check_purpose(leaf, X509_PURPOSE_SSL_SERVER, 0) == 1);
	X509_free(leaf);
	BIO_free(bio);

	/* An issuer key that is not the issuer's is refused. */
	EVP_PKEY *other = NULL;
	certgen_ec_key(&other);
	leaf_spec.issuer_key = other;
	char *bad_crt = NULL;
	test_cond("chain: wrong issuer key refused",
	    certgen_issue(&leaf_spec, &bad_crt, NULL, errbuf, sizeof errbuf) == -1 &&
	    bad_crt == NULL && errbuf[0] != '\0');
	EVP_PKEY_free(other);
out:
	free(ca_pem);
	free(crt);
	free(key);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
}

static void
test_key_mismatch(void)
{
	const char *dns[] = { "a.example.com" };
	char *crt1, *key1, *crt2, *key2;
	struct tlscheck_result res;

	if (issue(dns, 1, NULL, NOW - DAY, NOW + DAY, NULL, &crt1, &key1) != 0 ||
	    issue(dns, 1, NULL, NOW - DAY, NOW + DAY, NULL, &crt2, &key2) != 0)
		{ test_cond("mismatch: issued", 0); return; }
	test_cond("mismatch: ran", check(crt1, key2, &res) == 0);
	test_cond("mismatch: KEY_MISMATCH", res.status == TLSCHECK_KEY_MISMATCH);
	test_cond("mismatch: reason", strcmp(res.reason,
	    "tls.key does not match the certificate in tls.crt") == 0);
	test_cond("mismatch: names still reported", res.n_dns_names == 1);
	tlscheck_result_clear(&res);
	free(crt1);
	free(key1);
	free(crt2);
	free(key2);
}

static void
test_dates(void)
{
	const char *dns[] = { "a.example.com" };
	char *crt, *key;
	struct tlscheck_result res;

	if (issue(dns, 1, NULL, NOW - 10 * DAY, NOW - 1, NULL, &crt, &key) != 0)
		{ test_cond("expired: issued", 0); return; }
	check(crt, key, &res);
	test_cond("expired: EXPIRED", res.status == TLSCHECK_EXPIRED);
	test_cond("expired: reason has the date", strstr(res.reason, "2025-06-15T15:06:39Z") != NULL);
	test_cond("expired: not_after", res.not_after == NOW - 1);
	tlscheck_result_clear(&res);
	free(crt);
	free(key);

	if (issue(dns, 1, NULL, NOW + 60, NOW + 10 * DAY, NULL, &crt, &key) != 0)
		{ test_cond("not yet valid: issued", 0); return; }
	check(crt, key, &res);
	test_cond("not yet valid: NOT_YET_VALID", res.status == TLSCHECK_NOT_YET_VALID);
	test_cond("not yet valid: reason has the date",
	    strstr(res.reason, "2025-06-15T15:07:40Z") != NULL);
	tlscheck_result_clear(&res);
	free(crt);
	free(key);

	/* Past 2049 the dates are GeneralizedTime: still read to the second. */
	time_t far = (time_t)2600000000;     /* 2052-05-22 */
	if (issue(dns, 1, NULL, NOW - 1, far, NULL, &crt, &key) != 0)
		{ test_cond("far expiry: issued", 0); return; }
	check(crt, key, &res);
	test_cond("far expiry: OK", res.status == TLSCHECK_OK);
	test_cond("far expiry: within a second", res.not_after >= far - 1 &&
	    res.not_after <= far + 1);
	test_cond("far expiry: exact", res.not_after == far);
	tlscheck_result_clear(&res);
	free(crt);
	free(key);

	/* An expired certificate with a wrong key is a mismatch first. */
	char *crt2, *key2;
	if (issue(dns, 1, NULL, NOW - 10 * DAY, NOW - DAY, NULL, &crt, &key) != 0 ||
	    issue(dns, 1, NULL, NOW - 10 * DAY, NOW - DAY, NULL, &crt2, &key2) != 0)
		{ test_cond("order: issued", 0); return; }
	check(crt, key2, &res);
	test_cond("order: mismatch before expiry", res.status == TLSCHECK_KEY_MISMATCH);
	tlscheck_result_clear(&res);
	free(crt);
	free(key);
	free(crt2);
	free(key2);
}

static void
test_bad_cert(void)
{
	const char *dns[] = { "a.example.com" };
	char *crt, *key, *s;
	struct tlscheck_result res;

	if (issue(dns, 1, NULL, NOW - DAY, NOW + DAY, NULL, &crt, &key) != 0)
		{ test_cond("bad cert: issued", 0); return; }

	check("hello, world\n", key, &res);
	test_cond("garbage cert: BAD_CERT", res.status == TLSCHECK_BAD_CERT);
	test_cond("garbage cert: reason", res.reason[0] != '\0');
	test_cond("garbage cert: no names", res.n_dns_names == 0 && res.dns_names == NULL);
	tlscheck_result_clear(&res);

	check("-----BEGIN CERTIFICATE-----\nnot!base64\n-----END CERTIFICATE-----\n", key, &res);
	test_cond("bad base64: BAD_CERT", res.status == TLSCHECK_BAD_CERT);
	tlscheck_result_clear(&res);

	check("-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n", key, &res);
	test_cond("not DER: BAD_CERT", res.status == TLSCHECK_BAD_CERT);
	tlscheck_result_clear(&res);

	s = join(crt, "trailing garbage\n");
	check(s, key, &res);
	test_cond("trailing garbage: BAD_CERT", res.status == TLSCHECK_BAD_CERT);
	tlscheck_result_clear(&res);
	free(s);

	s = join("subject=CN=a\n", crt);
	check(s, key, &res);
	test_cond("leading text: BAD_CERT", res.status == TLSCHECK_BAD_CERT);
	tlscheck_result_clear(&res);
	free(s);

	s = join(crt, key);
	check(s, key, &res);
	test_cond("key inside tls.crt: BAD_CERT", res.status == TLSCHECK_BAD_CERT);
	test_cond("key inside tls.crt: names the block",
	    strstr(res.reason, "PRIVATE KEY") != NULL);
	tlscheck_result_clear(&res);
	free(s);

	/* A certificate cut short has no END line. */
	s = strdup(crt);
	s[strlen(s) - 10] = '\0';
	check(s, key, &res);
	test_cond("truncated: BAD_CERT", res.status == TLSCHECK_BAD_CERT);
	tlscheck_result_clear(&res);
	free(s);

	/* A second certificate that does not parse spoils the chain. */
	s = join(crt, "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n");
	check(s, key, &res);
	test_cond("bad second cert: BAD_CERT", res.status == TLSCHECK_BAD_CERT);
	test_cond("bad second cert: says which", strstr(res.reason, "2") != NULL);
	tlscheck_result_clear(&res);
	free(s);

	/* The last block may end without a newline. */
	s = strdup(crt);
	s[strlen(s) - 1] = '\0';
	check(s, key, &res);
	test_cond("no final newline: OK", res.status == TLSCHECK_OK);
	tlscheck_result_clear(&res);
	free(s);

	free(crt);
	free(key);
}

static void
test_bad_key(void)
{
	const char *dns[] = { "a.example.com" };
	char *crt, *key, *s;
	EVP_PKEY *k = NULL;
	struct tlscheck_result res;

	certgen_ec_key(&k);
	if (issue(dns, 1, NULL, NOW - DAY, NOW + DAY, k, &crt, &key) != 0)
		{ test_cond("bad key: issued", 0); return; }

	check(crt, "not a key", &res);
	test_cond("garbage key: BAD_KEY", res.status == TLSCHECK_BAD_KEY);
	test_cond("garbage key: reason", res.reason[0] != '\0');
	tlscheck_result_clear(&res);

	check(crt, "-----BEGIN PRIVATE KEY-----\naGVsbG8=\n-----END PRIVATE KEY-----\n", &res);
	test_cond("not a DER key: BAD_KEY", res.status == TLSCHECK_BAD_KEY);
	tlscheck_result_clear(&res);

	check(crt, crt, &res);
	test_cond("certificate as key: BAD_KEY", res.status == TLSCHECK_BAD_KEY);
	tlscheck_result_clear(&res);

	s = join(key, key);
	check(crt, s, &res);
	test_cond("two keys: BAD_KEY", res.status == TLSCHECK_BAD_KEY);
	tlscheck_result_clear(&res);
	free(s);

	s = key_pkcs8_encrypted(k);
	check(crt, s, &res);
	test_cond("encrypted PKCS#8: BAD_KEY", res.status == TLSCHECK_BAD_KEY);
	test_cond("encrypted PKCS#8: says encrypted", strstr(res.reason, "encrypted") != NULL);
	tlscheck_result_clear(&res);
	free(s);

	s = key_traditional(k, EVP_aes_128_cbc());
	test_cond("encrypted traditional: has Proc-Type", strstr(s, "ENCRYPTED") != NULL);
	check(crt, s, &res);
	test_cond("encrypted traditional: BAD_KEY", res.status == TLSCHECK_BAD_KEY);
	test_cond("encrypted traditional: says encrypted", strstr(res.reason, "encrypted") != NULL);
	tlscheck_result_clear(&res);
	free(s);

	/* Traditional EC, also behind the EC PARAMETERS block `openssl ecparam -genkey` writes. */
	s = key_traditional(k, NULL);
	test_cond("EC traditional: label", strstr(s, "BEGIN EC PRIVATE KEY") != NULL);
	check(crt, s, &res);
	test_cond("EC traditional: OK", res.status == TLSCHECK_OK);
	tlscheck_result_clear(&res);
	char *with_params = join("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n"
	    "-----END EC PARAMETERS-----\n", s);
	check(crt, with_params, &res);
	test_cond("EC with parameters: OK", res.status == TLSCHECK_OK);
	tlscheck_result_clear(&res);
	free(with_params);
	free(s);

	s = join(key, "junk\n");
	check(crt, s, &res);
	test_cond("key trailing garbage: BAD_KEY", res.status == TLSCHECK_BAD_KEY);
	tlscheck_result_clear(&res);
	free(s);

	EVP_PKEY_free(k);
	free(crt);
	free(key);
}

static void
test_empty(void)
{
	const char *dns[] = { "a.example.com" };
	char *crt, *key;
	struct tlscheck_result res;

	if (issue(dns, 1, NULL, NOW - DAY, NOW + DAY, NULL, &crt, &key) != 0)
		{ test_cond("empty: issued", 0); return; }
	test_cond("empty cert: ran", tlscheck_run(NULL, 0, NULL, 0, NOW, &res) == 0);
	test_cond("empty cert: BAD_CERT", res.status == TLSCHECK_BAD_CERT);
	tlscheck_result_clear(&res);
	check("", key, &res);
	test_cond("empty string cert: BAD_CERT", res.status == TLSCHECK_BAD_CERT);
	tlscheck_result_clear(&res);
	check(" \n\n", key, &res);
	test_cond("blank cert: BAD_CERT", res.status == TLSCHECK_BAD_CERT);
	tlscheck_result_clear(&res);
	check(crt, NULL, &res);
	test_cond("empty key: BAD_KEY", res.status == TLSCHECK_BAD_KEY);
	tlscheck_result_clear(&res);
	check(crt, "\n", &res);
	test_cond("blank key: BAD_KEY", res.status == TLSCHECK_BAD_KEY);
	tlscheck_result_clear(&res);
	free(crt);
	free(key);
}

static void
test_names(void)
{
	const char *many[] = { "b.example.com", "*.a.example.com", "A.Example.COM", "x" };
	const char *ips[] = { "10.0.0.1", "::1" };
	char *crt, *key;
	struct tlscheck_result res;

	if (issue(NULL, 0, "cn-only.example.com", NOW - DAY, NOW + DAY, NULL, &crt, &key) != 0)
		{ test_cond("no SAN: issued", 0); return; }
	check(crt, key, &res);
	test_cond("no SAN: OK", res.status == TLSCHECK_OK);
	test_cond("no SAN: uses the CN", res.n_dns_names == 1 &&
	    strcmp(res.dns_names[0], "cn-only.example.com") == 0);
	tlscheck_result_clear(&res);
	free(crt);
	free(key);

	if (issue(NULL, 0, NULL, NOW - DAY, NOW + DAY, NULL, &crt, &key) != 0)
		{ test_cond("no names: issued", 0); return; }
	check(crt, key, &res);
	test_cond("no SAN, no CN: OK with no names", res.status == TLSCHECK_OK &&
	    res.n_dns_names == 0);
	tlscheck_result_clear(&res);
	free(crt);
	free(key);

	if (issue(many, 4, "ignored.example.com", NOW - DAY, NOW + DAY, NULL, &crt, &key) != 0)
		{ test_cond("many SANs: issued", 0); return; }
	check(crt, key, &res);
	test_cond("many SANs: OK", res.status == TLSCHECK_OK);
	test_cond("many SANs: count (CN ignored)", res.n_dns_names == 4);
	for (size_t i = 0; i < 4 && i < res.n_dns_names; i++)
		test_cond("many SANs: in order, as written", strcmp(res.dns_names[i], many[i]) == 0);
	tlscheck_result_clear(&res);
	free(crt);
	free(key);

	/* IP SANs are not DNS names, and a SAN extension with only IPs does not fall back. */
	struct certgen_spec spec = {
		.ips = ips, .n_ips = 2, .cn = "ip.example.com", .not_before = NOW - DAY,
		.not_after = NOW + DAY,
	};
	if (certgen_issue(&spec, &crt, &key, errbuf, sizeof errbuf) != 0)
		{ test_cond("IP SANs: issued", 0); return; }
	check(crt, key, &res);
	test_cond("IP-only SAN: OK, no DNS names", res.status == TLSCHECK_OK &&
	    res.n_dns_names == 0);
	tlscheck_result_clear(&res);
	free(crt);
	free(key);

	/* Found by fuzz_review: a byte above ASCII in a SAN made the review's answer unencodable
	 * (REVIEW_NO_MEMORY, a 500 and a false "out of memory"). */
	const char *high[] = { "ok.example.com", "api.exampl\xa5.com" };
	if (issue(high, 2, NULL, NOW - DAY, NOW + DAY, NULL, &crt, &key) != 0)
		{ test_cond("non-ASCII SAN: issued", 0); return; }
	check(crt, key, &res);
	test_cond("non-ASCII SAN: a bad certificate, the name not echoed",
	    res.status == TLSCHECK_BAD_CERT && strstr(res.reason, "not ASCII") != NULL &&
	    strchr(res.reason, '\xa5') == NULL && res.n_dns_names == 0);
	tlscheck_result_clear(&res);
	free(crt);
	free(key);

	spec.ips = (const char *const[]){ "not-an-ip" };
	spec.n_ips = 1;
	test_cond("bad IP refused", certgen_issue(&spec, &crt, &key, errbuf, sizeof errbuf) == -1);
}

static void
test_rsa(void)
{
	const char *dns[] = { "rsa.example.com" };
	EVP_PKEY *rsa = EVP_RSA_gen(2048);
	char *crt, *key, *trad;
	struct tlscheck_result res;

	test_cond("rsa: key generated", rsa != NULL);
	if (rsa == NULL)
		return;
	if (issue(dns, 1, NULL, NOW - DAY, NOW + DAY, rsa, &crt, &key) != 0) {
		EVP_PKEY_free(rsa);
		{ test_cond("rsa: issued", 0); return; }
	}
	check(crt, key, &res);
	test_cond("rsa PKCS#8: OK", res.status == TLSCHECK_OK);
	tlscheck_result_clear(&res);

	trad = key_traditional(rsa, NULL);
	test_cond("rsa traditional: label", strstr(trad, "BEGIN RSA PRIVATE KEY") != NULL);
	check(crt, trad, &res);
	test_cond("rsa traditional: OK", res.status == TLSCHECK_OK);
	tlscheck_result_clear(&res);
	free(trad);

	/* An EC key against the RSA certificate. */
	char *ecrt, *ekey;
	if (issue(dns, 1, NULL, NOW - DAY, NOW + DAY, NULL, &ecrt, &ekey) == 0) {
		check(crt, ekey, &res);
		test_cond("rsa cert, EC key: KEY_MISMATCH", res.status == TLSCHECK_KEY_MISMATCH);
		tlscheck_result_clear(&res);
		free(ecrt);
		free(ekey);
	}
	EVP_PKEY_free(rsa);
	free(crt);
	free(key);
}

/* ---- every key type and encoding, against OpenSSL's own verdict ---- */

/* A PEM block's label and DER, or a new PEM from them. */
static int
pem_parts(const char *pem, char **name, unsigned char **der, long *len)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	char *header = NULL;
	int ok = PEM_read_bio(bio, name, &header, der, len) == 1;

	OPENSSL_free(header);
	BIO_free(bio);
	return ok ? 0 : -1;
}

static char *
pem_make(const char *name, const unsigned char *der, long len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *s;

	PEM_write_bio(bio, name, "", der, len);
	s = bio_string(bio);
	BIO_free(bio);
	return s;
}

/*
 * What OpenSSL alone says of a key for a certificate, as tlscheck did before it read public
 * parts itself: the key decoded by its label (traditional RSA / EC, or anything
 * d2i_AutoPrivateKey takes), then X509_check_private_key.
 */
static enum tlscheck_status
openssl_verdict(const char *crt_pem, const char *key_pem)
{
	BIO *bio = BIO_new_mem_buf(crt_pem, -1);
	X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	char *name = NULL;
	unsigned char *der = NULL;
	long len = 0;
	enum tlscheck_status st = TLSCHECK_BAD_KEY;

	BIO_free(bio);
	if (x != NULL && pem_parts(key_pem, &name, &der, &len) == 0) {
		const unsigned char *p = der;
		EVP_PKEY *k = strcmp(name, "RSA PRIVATE KEY") == 0 ?
		    d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, len) :
		    strcmp(name, "EC PRIVATE KEY") == 0 ? d2i_PrivateKey(EVP_PKEY_EC, NULL, &p, len) :
		    d2i_AutoPrivateKey(NULL, &p, len);
		if (k != NULL && p == der + len)
			st = X509_check_private_key(x, k) == 1 ? TLSCHECK_OK : TLSCHECK_KEY_MISMATCH;
		EVP_PKEY_free(k);
	}
	OPENSSL_free(name);
	OPENSSL_free(der);
	X509_free(x);
	return st;
}

enum key_change { AS_IS, TRUNCATED, LAST_BYTE_FLIPPED, BYTE_APPENDED };

/* key_pem with its DER changed (a new string). */
static char *
key_changed(const char *key_pem, enum key_change c)
{
	char *name = NULL, *s;
	unsigned char *der = NULL;
	long len = 0;

	if (pem_parts(key_pem, &name, &der, &len) != 0)
		abort();
	unsigned char *buf = malloc((size_t)len + 1);
	memcpy(buf, der, (size_t)len);
	if (c == TRUNCATED)
		len--;
	else if (c == LAST_BYTE_FLIPPED)
		buf[len - 1] ^= 0x01;
	else if (c == BYTE_APPENDED)
		buf[len++] = 0x00;
	s = pem_make(name, buf, len);
	free(buf);
	OPENSSL_free(name);
	OPENSSL_free(der);
	return s;
}

static char *
key_pkcs8(EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *s;

	PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
	s = bio_string(bio);
	BIO_free(bio);
	return s;
}

struct key_case {
	const char          *what;
	enum key_change      change;
	bool                 other;      /* the key of another certificate */
	enum tlscheck_status want;
};

/* One certificate for key k, checked with each key encoding and each change of it. */
static void
check_key_cases(const char *type, EVP_PKEY *k, EVP_PKEY *other, const char *const *encodings,
    size_t n_enc, const struct key_case *cases, size_t n_cases)
{
	const char *dns[] = { "keys.example.com" };
	struct certgen_spec ca_spec = { .cn = "test CA", .not_before = NOW - DAY,
		.not_after = NOW + 10 * DAY, .is_ca = true };
	X509 *ca = NULL;
	EVP_PKEY *ca_key = NULL;
	char *crt = NULL, what[160];
	struct tlscheck_result res;

	if (certgen_make(&ca_spec, &ca, &ca_key, errbuf, sizeof errbuf) != 0) {
		test_cond("key types: CA issued", 0);
		return;
	}
	/* Signed by an EC CA, so any key type can be the leaf's (certgen signs with SHA-256). */
	struct certgen_spec spec = { .dns = dns, .n_dns = 1, .not_before = NOW - DAY,
		.not_after = NOW + DAY, .issuer_cert = ca, .issuer_key = ca_key, .key = k };
	if (certgen_issue(&spec, &crt, NULL, errbuf, sizeof errbuf) != 0) {
		snprintf(what, sizeof what, "%s: certificate issued (%.100s)", type, errbuf);
		test_cond(what, 0);
		goto out;
	}
	for (size_t e = 0; e < n_enc; e++) {
		for (size_t i = 0; i < n_cases; i++) {
			const struct key_case *c = &cases[i];
			const char *base = c->other ? encodings[n_enc + e] : encodings[e];
			char *key = key_changed(base, c->change);
			enum tlscheck_status ref = openssl_verdict(crt, key);
			check(crt, key, &res);
			snprintf(what, sizeof what, "%s %s, %s: status %d (OpenSSL says %d, want %d)",
			    type, strstr(base, "BEGIN PRIVATE") ? "PKCS#8" : "traditional", c->what,
			    (int)res.status, (int)ref, (int)c->want);
			test_cond(what, res.status == c->want && ref == c->want);
			tlscheck_result_clear(&res);
			free(key);
		}
	}
out:
	(void)other;
	free(crt);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
}

static const struct key_case rsa_cases[] = {
	{ "as written", AS_IS, false, TLSCHECK_OK },
	{ "another key", AS_IS, true, TLSCHECK_KEY_MISMATCH },
	{ "truncated", TRUNCATED, false, TLSCHECK_BAD_KEY },
	{ "a byte after it", BYTE_APPENDED, false, TLSCHECK_BAD_KEY },
	/* The last field is a CRT coefficient: OpenSSL compares public keys only. */
	{ "last (private) byte changed", LAST_BYTE_FLIPPED, false, TLSCHECK_OK },
};

static const struct key_case ec_cases[] = {
	{ "as written", AS_IS, false, TLSCHECK_OK },
	{ "another key", AS_IS, true, TLSCHECK_KEY_MISMATCH },
	{ "truncated", TRUNCATED, false, TLSCHECK_BAD_KEY },
	{ "a byte after it", BYTE_APPENDED, false, TLSCHECK_BAD_KEY },
	/* The public point comes last: changed, it is off the curve. */
	{ "public point changed", LAST_BYTE_FLIPPED, false, TLSCHECK_BAD_KEY },
};

/* Without a public part OpenSSL derives it; the last byte is then the private scalar's. */
static const struct key_case ec_nopub_cases[] = {
	{ "as written", AS_IS, false, TLSCHECK_OK },
	{ "another key", AS_IS, true, TLSCHECK_KEY_MISMATCH },
	{ "truncated", TRUNCATED, false, TLSCHECK_BAD_KEY },
	{ "private scalar changed", LAST_BYTE_FLIPPED, false, TLSCHECK_KEY_MISMATCH },
};

/* The seed comes last: another seed is another key. */
static const struct key_case ed_cases[] = {
	{ "as written", AS_IS, false, TLSCHECK_OK },
	{ "another key", AS_IS, true, TLSCHECK_KEY_MISMATCH },
	{ "truncated", TRUNCATED, false, TLSCHECK_BAD_KEY },
	{ "a byte after it", BYTE_APPENDED, false, TLSCHECK_BAD_KEY },
	{ "seed changed", LAST_BYTE_FLIPPED, false, TLSCHECK_KEY_MISMATCH },
};

/* k's encodings then other's: PKCS#8, and traditional when `traditional`. */
static void
encode_both(EVP_PKEY *k, EVP_PKEY *other, bool traditional, char **enc, size_t *n)
{
	*n = traditional ? 2 : 1;
	enc[0] = key_pkcs8(k);
	if (traditional)
		enc[1] = key_traditional(k, NULL);
	enc[*n] = key_pkcs8(other);
	if (traditional)
		enc[*n + 1] = key_traditional(other, NULL);
}

static void
run_key_type(const char *type, EVP_PKEY *k, EVP_PKEY *other, bool traditional,
    const struct key_case *cases, size_t n_cases)
{
	char *enc[4];
	size_t n;

	if (k == NULL || other == NULL) {
		char what[96];
		snprintf(what, sizeof what, "%s: keys generated", type);
		test_cond(what, 0);
		return;
	}
	encode_both(k, other, traditional, enc, &n);
	check_key_cases(type, k, other, (const char *const *)enc, n, cases, n_cases);
	for (size_t i = 0; i < 2 * n; i++)
		free(enc[i]);
}

/* A copy of an EC key written with `param` set (no public part, or a compressed point). */
static EVP_PKEY *
ec_variant(EVP_PKEY *k, const char *param, const char *value)
{
	EVP_PKEY *d = EVP_PKEY_dup(k);
	int ok = d != NULL && (value != NULL ?
	    EVP_PKEY_set_utf8_string_param(d, param, value) :
	    EVP_PKEY_set_int_param(d, param, 0));

	if (!ok) {
		EVP_PKEY_free(d);
		return NULL;
	}
	return d;
}

static void
test_key_types(void)
{
	EVP_PKEY *rsa = EVP_RSA_gen(2048), *rsa2 = EVP_RSA_gen(2048);
	EVP_PKEY *p256 = EVP_EC_gen("P-256"), *p256b = EVP_EC_gen("P-256");
	EVP_PKEY *p384 = EVP_EC_gen("P-384"), *p384b = EVP_EC_gen("P-384");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *ed2 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	run_key_type("RSA-2048", rsa, rsa2, true, rsa_cases, 5);
	run_key_type("P-256", p256, p256b, true, ec_cases, 5);
	run_key_type("P-384", p384, p384b, true, ec_cases, 5);
	run_key_type("Ed25519", ed, ed2, false, ed_cases, 5);

	/* The same P-256 keys written without their public part, and with a compressed point. */
	EVP_PKEY *nopub = ec_variant(p256, OSSL_PKEY_PARAM_EC_INCLUDE_PUBLIC, NULL);
	EVP_PKEY *nopub2 = ec_variant(p256b, OSSL_PKEY_PARAM_EC_INCLUDE_PUBLIC, NULL);
	EVP_PKEY *comp = ec_variant(p256, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed");
	EVP_PKEY *comp2 = ec_variant(p256b, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
	    "compressed");
	char *enc[4];
	size_t n;
	if (nopub != NULL && nopub2 != NULL) {
		encode_both(nopub, nopub2, true, enc, &n);
		test_cond("P-256 without public part: none written",
		    strlen(enc[0]) < 200);
		check_key_cases("P-256 no public part", p256, nopub2, (const char *const *)enc, n,
		    ec_nopub_cases, 4);
		for (size_t i = 0; i < 2 * n; i++)
			free(enc[i]);
	} else {
		test_cond("P-256 without public part: keys", 0);
	}
	if (comp != NULL && comp2 != NULL) {
		/* The certificate holds the uncompressed point: the same key, other bytes. */
		encode_both(comp, comp2, true, enc, &n);
		check_key_cases("P-256 compressed point", p256, comp2, (const char *const *)enc, n,
		    ec_cases, 4);
		for (size_t i = 0; i < 2 * n; i++)
			free(enc[i]);
	} else {
		test_cond("P-256 compressed: keys", 0);
	}
	EVP_PKEY *all[] = { rsa, rsa2, p256, p256b, p384, p384b, ed, ed2, nopub, nopub2, comp,
		comp2 };
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		EVP_PKEY_free(all[i]);
}

/* Flips the last byte of the first copy of pt in a PEM block's DER: a new PEM. */
static char *
point_flipped(const char *pem, const unsigned char *pt, size_t n)
{
	char *name = NULL, *s = NULL;
	unsigned char *der = NULL, *at;
	long len = 0;

	if (pem_parts(pem, &name, &der, &len) == 0 &&
	    (at = memmem(der, (size_t)len, pt, n)) != NULL) {
		at[n - 1] ^= 0x01;
		s = pem_make(name, der, len);
	}
	OPENSSL_free(name);
	OPENSSL_free(der);
	return s;
}

/*
 * A certificate and key holding the same point off the curve: equal bytes, yet OpenSSL
 * refuses the key (and cannot read the certificate's), so equal bytes alone are no match.
 */
static void
test_off_curve(void)
{
	const char *dns[] = { "a.example.com" };
	EVP_PKEY *k = EVP_EC_gen("P-256");
	char *crt = NULL, *key = NULL;
	struct tlscheck_result res;

	if (k == NULL || issue(dns, 1, NULL, NOW - DAY, NOW + DAY, k, &crt, &key) != 0) {
		test_cond("off curve: issued", 0);
		EVP_PKEY_free(k);
		return;
	}
	BIO *bio = BIO_new_mem_buf(crt, -1);
	X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(x);
	char *trad = key_traditional(k, NULL);
	char *bad_crt = point_flipped(crt, bits->data, (size_t)bits->length);
	const char *keys[] = { key, trad };
	for (size_t i = 0; i < 2; i++) {
		char *bad_key = point_flipped(keys[i], bits->data, (size_t)bits->length);
		test_cond("off curve: both changed", bad_crt != NULL && bad_key != NULL);
		if (bad_crt != NULL && bad_key != NULL) {
			check(bad_crt, bad_key, &res);
			test_cond("off curve: BAD_KEY, as OpenSSL says", res.status == TLSCHECK_BAD_KEY &&
			    openssl_verdict(bad_crt, bad_key) == TLSCHECK_BAD_KEY);
			tlscheck_result_clear(&res);
		}
		free(bad_key);
	}
	free(bad_crt);
	free(trad);
	X509_free(x);
	BIO_free(bio);
	EVP_PKEY_free(k);
	free(crt);
	free(key);
}

static void
test_certgen_spec(void)
{
	const char *dns[] = { "a.example.com" };
	struct certgen_spec spec = { .dns = dns, .n_dns = 1, .not_before = NOW, .not_after = NOW - 1 };
	char *crt = NULL, *key = NULL;

	test_cond("certgen: inverted dates refused",
	    certgen_issue(&spec, &crt, &key, errbuf, sizeof errbuf) == -1 && crt == NULL &&
	    key == NULL);

	/* Two issues of the same spec differ in serial, hence in bytes. */
	char *c1, *c2;
	spec.not_after = NOW + DAY;
	if (certgen_issue(&spec, &c1, NULL, errbuf, sizeof errbuf) == 0 &&
	    certgen_issue(&spec, &c2, NULL, errbuf, sizeof errbuf) == 0) {
		BIO *b1 = BIO_new_mem_buf(c1, -1), *b2 = BIO_new_mem_buf(c2, -1);
		X509 *x1 = PEM_read_bio_X509(b1, NULL, NULL, NULL);
		X509 *x2 = PEM_read_bio_X509(b2, NULL, NULL, NULL);
		const ASN1_INTEGER *s1 = X509_get0_serialNumber(x1);
		test_cond("certgen: serials differ",
		    ASN1_INTEGER_cmp(s1, X509_get0_serialNumber(x2)) != 0);
		test_cond("certgen: serial 16 bytes, positive", ASN1_STRING_length(s1) == 16 &&
		    ASN1_STRING_type(s1) == V_ASN1_INTEGER);
		test_cond("certgen: version 3", X509_get_version(x1) == X509_VERSION_3);
		test_cond("certgen: has SKID and AKID",
		    X509_get_ext_by_NID(x1, NID_subject_key_identifier, -1) >= 0 &&
		    X509_get_ext_by_NID(x1, NID_authority_key_identifier, -1) >= 0);
		X509_free(x1);
		X509_free(x2);
		BIO_free(b1);
		BIO_free(b2);
		free(c1);
		free(c2);
	} else {
		test_cond("certgen: issued twice", 0);
	}
}

int
main(void)
{
	test_valid_self_signed();
	test_chain();
	test_key_mismatch();
	test_dates();
	test_bad_cert();
	test_bad_key();
	test_empty();
	test_names();
	test_rsa();
	test_key_types();
	test_off_curve();
	test_certgen_spec();
	return test_report();
}
