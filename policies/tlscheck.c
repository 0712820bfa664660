/* SPDX-License-Identifier: Apache-2.0 */
/* tlscheck: what a kubernetes.io/tls Secret holds, checked with OpenSSL (pure: no I/O). */
#include "tlscheck.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define PEM_BEGIN     "-----BEGIN "
#define PEM_END       "-----END "
#define PEM_DASHES    "-----"
#define PEM_LABEL_MAX 64       /* longer than any label OpenSSL or Go writes */

/* One PEM block as found in the input: from "-----BEGIN" to the end of its END line. */
struct pem_span {
	const unsigned char *p;
	size_t len;
};

/* One PEM block decoded by OpenSSL; every field is OPENSSL_malloc'd. */
struct pem_block {
	char *name;
	char *header;
	unsigned char *data;
	long len;
};

enum pem_scan {
	PEM_SCAN_DONE,      /* nothing but whitespace is left */
	PEM_SCAN_BLOCK,     /* *span holds the next block */
	PEM_SCAN_GARBAGE,   /* something other than a PEM block or whitespace */
	PEM_SCAN_OPEN,      /* a BEGIN line without its END line */
};

static void verdict(struct tlscheck_result *res, enum tlscheck_status status,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
verdict(struct tlscheck_result *res, enum tlscheck_status status, const char *fmt, ...)
{
	va_list ap;

	res->status = status;
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof res->reason, fmt, ap);
	va_end(ap);
}

static bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Finds the next PEM block at or after *pos and moves *pos past it. Unlike OpenSSL's reader,
 * which skips any text before a BEGIN line, only whitespace may separate blocks: stray text
 * in a Secret is a mistake (a half-pasted file, two files glued together) worth reporting.
 */
static enum pem_scan
pem_next(const unsigned char *buf, size_t len, size_t *pos, struct pem_span *span)
{
	size_t i = *pos, begin_len = strlen(PEM_BEGIN), dashes = strlen(PEM_DASHES);
	const unsigned char *label, *label_end, *eol, *end;
	char tag[sizeof PEM_END + PEM_LABEL_MAX + sizeof PEM_DASHES];
	size_t label_len;
	int n;

	while (i < len && is_space(buf[i]))
		i++;
	*pos = i;
	if (i == len)
		return PEM_SCAN_DONE;
	if (len - i < begin_len || memcmp(buf + i, PEM_BEGIN, begin_len) != 0)
		return PEM_SCAN_GARBAGE;
	label = buf + i + begin_len;
	eol = memchr(label, '\n', (size_t)(buf + len - label));
	if (eol == NULL)
		eol = buf + len;
	label_end = memmem(label, (size_t)(eol - label), PEM_DASHES, dashes);
	if (label_end == NULL || label_end == label)
		return PEM_SCAN_OPEN;
	label_len = (size_t)(label_end - label);
	if (label_len > PEM_LABEL_MAX)
		return PEM_SCAN_OPEN;
	n = snprintf(tag, sizeof tag, "%s%.*s%s", PEM_END, (int)label_len, (const char *)label,
	    PEM_DASHES);
	if (n < 0 || (size_t)n >= sizeof tag)
		return PEM_SCAN_OPEN;
	end = memmem(label_end, (size_t)(buf + len - label_end), tag, (size_t)n);
	if (end == NULL)
		return PEM_SCAN_OPEN;
	span->p = buf + i;
	span->len = (size_t)(end + n - span->p);
	*pos = i + span->len;
	return PEM_SCAN_BLOCK;
}

static void
pem_block_clear(struct pem_block *b)
{
	OPENSSL_free(b->name);
	OPENSSL_free(b->header);
	OPENSSL_free(b->data);
	memset(b, 0, sizeof *b);
}

/*
 * Decodes one span with OpenSSL's PEM reader (base64, headers, matching END label). The span
 * is copied with a final newline so that a block at the very end of the input reads the same
 * as any other. 0 decoded, 1 malformed, -1 out of memory.
 */
static int
pem_decode(const struct pem_span *span, struct pem_block *b)
{
	char *copy = NULL;
	BIO *bio = NULL;
	int rc = 1;

	memset(b, 0, sizeof *b);
	if (span->len >= INT_MAX)
		goto out;
	copy = malloc(span->len + 1);
	if (copy == NULL) {
		rc = -1;
		goto out;
	}
	memcpy(copy, span->p, span->len);
	copy[span->len] = '\n';
	bio = BIO_new_mem_buf(copy, (int)span->len + 1);
	if (bio == NULL) {
		rc = -1;
		goto out;
	}
	if (PEM_read_bio(bio, &b->name, &b->header, &b->data, &b->len) != 1 || b->len < 0) {
		pem_block_clear(b);
		goto out;
	}
	rc = 0;
out:
	BIO_free(bio);
	free(copy);
	return rc;
}

/* A PEM label fit to quote back to the user: upper-case words only, else NULL. */
static const char *
quotable_label(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 40)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= '0' && name[i] <= '9') ||
		    name[i] == ' '))
			return NULL;
	return name;
}

/*
 * Parses every certificate of tls.crt; sets *leaf to the first one (new reference).
 * 0 when all parse, 1 with a verdict in res, -1 out of memory.
 */
static int
parse_chain(const unsigned char *crt, size_t crt_len, X509 **leaf, struct tlscheck_result *res)
{
	struct pem_block b = { 0 };
	struct pem_span span;
	X509 *x = NULL;
	size_t pos = 0, count = 0;
	int rc = 1, d;

	*leaf = NULL;
	if (crt == NULL || crt_len == 0) {
		verdict(res, TLSCHECK_BAD_CERT, "tls.crt is empty; it must hold the PEM certificate chain");
		goto out;
	}
	for (;;) {
		enum pem_scan s = pem_next(crt, crt_len, &pos, &span);
		if (s == PEM_SCAN_DONE)
			break;
		if (s == PEM_SCAN_GARBAGE && count == 0) {
			verdict(res, TLSCHECK_BAD_CERT,
			    "tls.crt is not PEM; it must start with -----BEGIN CERTIFICATE-----");
			goto out;
		}
		if (s == PEM_SCAN_GARBAGE) {
			verdict(res, TLSCHECK_BAD_CERT,
			    "tls.crt has text after certificate %zu that is not a PEM block; remove it",
			    count);
			goto out;
		}
		if (s == PEM_SCAN_OPEN) {
			verdict(res, TLSCHECK_BAD_CERT,
			    "tls.crt has a PEM block without its matching END line");
			goto out;
		}
		d = pem_decode(&span, &b);
		if (d < 0) {
			rc = -1;
			goto out;
		}
		if (d > 0) {
			verdict(res, TLSCHECK_BAD_CERT, "block %zu of tls.crt is not valid PEM",
			    count + 1);
			goto out;
		}
		if (strcmp(b.name, PEM_STRING_X509) != 0) {
			const char *label = quotable_label(b.name);
			if (label != NULL)
				verdict(res, TLSCHECK_BAD_CERT, "tls.crt holds a %s block; it may hold "
				    "only CERTIFICATE blocks", label);
			else
				verdict(res, TLSCHECK_BAD_CERT, "tls.crt holds a PEM block that is not "
				    "a certificate; it may hold only CERTIFICATE blocks");
			goto out;
		}
		const unsigned char *p = b.data;
		x = d2i_X509(NULL, &p, b.len);
		if (x == NULL || p != b.data + b.len) {
			verdict(res, TLSCHECK_BAD_CERT,
			    "certificate %zu in tls.crt is not a valid X.509 certificate", count + 1);
			goto out;
		}
		if (count++ == 0)
			*leaf = x;
		else
			X509_free(x);
		x = NULL;
		pem_block_clear(&b);
	}
	if (count == 0) {
		verdict(res, TLSCHECK_BAD_CERT, "tls.crt holds no certificate");
		goto out;
	}
	rc = 0;
out:
	X509_free(x);
	pem_block_clear(&b);
	if (rc != 0) {
		X509_free(*leaf);
		*leaf = NULL;
	}
	return rc;
}

/* Decodes one traditional or PKCS#8 key body; NULL unless it parses and fills the block. */
static EVP_PKEY *
decode_key(const struct pem_block *b)
{
	const unsigned char *p = b->data;
	EVP_PKEY *k;

	if (strcmp(b->name, PEM_STRING_RSA) == 0)
		k = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, b->len);
	else if (strcmp(b->name, PEM_STRING_ECPRIVATEKEY) == 0)
		k = d2i_PrivateKey(EVP_PKEY_EC, NULL, &p, b->len);
	else
		k = d2i_AutoPrivateKey(NULL, &p, b->len);
	if (k != NULL && p != b->data + b->len) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	return k;
}

/*
 * Parses tls.key: exactly one unencrypted private key (PKCS#8, or traditional RSA or EC,
 * optionally after the EC PARAMETERS block `openssl ecparam -genkey` writes). Sets *key (new
 * reference). 0 parsed, 1 with a verdict in res, -1 out of memory.
 */
static int
parse_key(const unsigned char *key, size_t key_len, EVP_PKEY **out, struct tlscheck_result *res)
{
	struct pem_block b = { 0 };
	struct pem_span span;
	EVP_PKEY *k = NULL;
	size_t pos = 0;
	int rc = 1, d;

	*out = NULL;
	if (key == NULL || key_len == 0) {
		verdict(res, TLSCHECK_BAD_KEY, "tls.key is empty; it must hold the PEM private key");
		goto out;
	}
	for (;;) {
		enum pem_scan s = pem_next(key, key_len, &pos, &span);
		if (s == PEM_SCAN_DONE)
			break;
		if (s == PEM_SCAN_GARBAGE) {
			verdict(res, TLSCHECK_BAD_KEY, k == NULL && pos == 0 ?
			    "tls.key is not PEM; it must start with -----BEGIN PRIVATE KEY-----" :
			    "tls.key has text outside its PEM blocks; remove it");
			goto out;
		}
		if (s == PEM_SCAN_OPEN) {
			verdict(res, TLSCHECK_BAD_KEY,
			    "tls.key has a PEM block without its matching END line");
			goto out;
		}
		d = pem_decode(&span, &b);
		if (d < 0) {
			rc = -1;
			goto out;
		}
		if (d > 0) {
			verdict(res, TLSCHECK_BAD_KEY, "tls.key is not valid PEM");
			goto out;
		}
		if (strcmp(b.name, PEM_STRING_PKCS8) == 0 || strstr(b.header, "ENCRYPTED") != NULL) {
			verdict(res, TLSCHECK_BAD_KEY, "tls.key is encrypted; a Secret cannot carry "
			    "its passphrase, so store the key unencrypted");
			goto out;
		}
		if (strcmp(b.name, "EC PARAMETERS") == 0) {
			pem_block_clear(&b);
			continue;
		}
		if (strcmp(b.name, PEM_STRING_PKCS8INF) != 0 && strcmp(b.name, PEM_STRING_RSA) != 0 &&
		    strcmp(b.name, PEM_STRING_ECPRIVATEKEY) != 0) {
			const char *label = quotable_label(b.name);
			if (label != NULL)
				verdict(res, TLSCHECK_BAD_KEY, "tls.key holds a %s block, not a private "
				    "key", label);
			else
				verdict(res, TLSCHECK_BAD_KEY, "tls.key holds a PEM block that is not a "
				    "private key");
			goto out;
		}
		if (k != NULL) {
			verdict(res, TLSCHECK_BAD_KEY, "tls.key holds more than one private key; "
			    "keep only the one for the certificate");
			goto out;
		}
		k = decode_key(&b);
		if (k == NULL) {
			verdict(res, TLSCHECK_BAD_KEY, "tls.key does not parse as an RSA, EC or "
			    "PKCS#8 private key");
			goto out;
		}
		pem_block_clear(&b);
	}
	if (k == NULL) {
		verdict(res, TLSCHECK_BAD_KEY, "tls.key holds no private key");
		goto out;
	}
	*out = k;
	k = NULL;
	rc = 0;
out:
	EVP_PKEY_free(k);
	pem_block_clear(&b);
	return rc;
}

/* Reads one validity bound; false when OpenSSL cannot convert it. */
static bool
asn1_time_get(const ASN1_TIME *t, time_t *out, struct tm *tm)
{
	memset(tm, 0, sizeof *tm);
	if (t == NULL || ASN1_TIME_to_tm(t, tm) != 1)
		return false;
	*out = timegm(tm);
	return true;
}

/* Copies n bytes of a name into a new string; 1 (with a verdict) when it holds a NUL. */
static int
add_name(struct tlscheck_result *res, const unsigned char *p, size_t n)
{
	char *s;

	if (memchr(p, '\0', n) != NULL) {
		verdict(res, TLSCHECK_BAD_CERT,
		    "a name in the certificate in tls.crt contains a NUL byte");
		return 1;
	}
	s = malloc(n + 1);
	if (s == NULL)
		return -1;
	memcpy(s, p, n);
	s[n] = '\0';
	res->dns_names[res->n_dns_names++] = s;
	return 0;
}

/*
 * Fills res->dns_names from the leaf: its DNS subjectAltNames in order, or, only when it has
 * no subjectAltName extension at all, its (last, most specific) common name. 0, 1 with a
 * verdict, -1 out of memory.
 */
static int
leaf_names(X509 *leaf, struct tlscheck_result *res)
{
	GENERAL_NAMES *gens;
	unsigned char *utf8 = NULL;
	int crit = -1, rc = 1, last = -1, i;

	gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, &crit, NULL);
	if (gens == NULL && crit != -1) {
		verdict(res, TLSCHECK_BAD_CERT, "the subjectAltName extension of the certificate in "
		    "tls.crt is malformed");
		goto out;
	}
	if (gens != NULL) {
		int n = sk_GENERAL_NAME_num(gens);
		res->dns_names = calloc(n > 0 ? (size_t)n : 1, sizeof *res->dns_names);
		if (res->dns_names == NULL) {
			rc = -1;
			goto out;
		}
		for (i = 0; i < n; i++) {
			const GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);
			if (gn->type != GEN_DNS)
				continue;
			const ASN1_IA5STRING *s = gn->d.dNSName;
			const unsigned char *p = ASN1_STRING_get0_data(s);
			int len = ASN1_STRING_length(s);
			/*
			 * A dNSName is an IA5String: ASCII. A byte above it is no host, and is no
			 * UTF-8 either, so a message naming it could not be encoded (a 500).
			 */
			for (int j = 0; j < len; j++)
				if (p[j] >= 0x80) {
					verdict(res, TLSCHECK_BAD_CERT, "a DNS name in the certificate in "
					    "tls.crt is not ASCII");
					goto out;
				}
			int r = add_name(res, p, (size_t)len);
			if (r != 0) {
				rc = r;
				goto out;
			}
		}
		rc = 0;
		goto out;
	}

	const X509_NAME *subj = X509_get_subject_name(leaf);
	for (i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1); i >= 0;
	    i = X509_NAME_get_index_by_NID(subj, NID_commonName, i))
		last = i;
	if (last < 0) {
		rc = 0;
		goto out;
	}
	const ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, last));
	int len = ASN1_STRING_to_UTF8(&utf8, cn);
	if (len < 0) {
		verdict(res, TLSCHECK_BAD_CERT, "the common name of the certificate in tls.crt "
		    "does not decode");
		goto out;
	}
	res->dns_names = calloc(1, sizeof *res->dns_names);
	if (res->dns_names == NULL) {
		rc = -1;
		goto out;
	}
	rc = add_name(res, utf8, (size_t)len);
out:
	OPENSSL_free(utf8);
	GENERAL_NAMES_free(gens);
	return rc;
}

/*
 * The verdicts come in a fixed order: tls.crt, tls.key, the pair, then the dates. The leaf's
 * dates and names are filled whenever the whole chain parses, whatever the later verdicts, so
 * a caller can still say which hosts an expired or mismatched Secret was meant for. *res is
 * overwritten, not released: clear it first when reusing one.
 */
int
tlscheck_run(const unsigned char *crt, size_t crt_len, const unsigned char *key,
    size_t key_len, time_t now, struct tlscheck_result *res)
{
	X509 *leaf = NULL;
	EVP_PKEY *pkey = NULL;
	struct tm nb_tm, na_tm;
	int rc = -1, r;

	memset(res, 0, sizeof *res);
	res->status = TLSCHECK_OK;

	r = parse_chain(crt, crt_len, &leaf, res);
	if (r != 0)
		goto out;
	if (!asn1_time_get(X509_get0_notBefore(leaf), &res->not_before, &nb_tm) ||
	    !asn1_time_get(X509_get0_notAfter(leaf), &res->not_after, &na_tm)) {
		verdict(res, TLSCHECK_BAD_CERT, "the validity dates of the certificate in tls.crt "
		    "are malformed");
		r = 1;
		goto out;
	}
	r = leaf_names(leaf, res);
	if (r != 0)
		goto out;
	r = parse_key(key, key_len, &pkey, res);
	if (r != 0)
		goto out;
	if (X509_check_private_key(leaf, pkey) != 1) {
		verdict(res, TLSCHECK_KEY_MISMATCH,
		    "tls.key does not match the certificate in tls.crt");
	} else if (now < res->not_before) {
		verdict(res, TLSCHECK_NOT_YET_VALID, "the certificate in tls.crt is not valid "
		    "before %04d-%02d-%02dT%02d:%02d:%02dZ", nb_tm.tm_year + 1900, nb_tm.tm_mon + 1,
		    nb_tm.tm_mday, nb_tm.tm_hour, nb_tm.tm_min, nb_tm.tm_sec);
	} else if (now > res->not_after) {
		verdict(res, TLSCHECK_EXPIRED, "the certificate in tls.crt expired at "
		    "%04d-%02d-%02dT%02d:%02d:%02dZ; renew it", na_tm.tm_year + 1900,
		    na_tm.tm_mon + 1, na_tm.tm_mday, na_tm.tm_hour, na_tm.tm_min, na_tm.tm_sec);
	}
	r = 0;
out:
	rc = r < 0 ? -1 : 0;
	X509_free(leaf);
	EVP_PKEY_free(pkey);
	/* The server checks Secrets on many threads: leave no error behind on this one. */
	ERR_clear_error();
	if (rc != 0) {
		tlscheck_result_clear(res);
	} else if (res->status == TLSCHECK_BAD_CERT) {
		/* Keep the reason, drop whatever came from a certificate that was refused. */
		struct tlscheck_result bad = { .status = res->status };
		memcpy(bad.reason, res->reason, sizeof bad.reason);
		tlscheck_result_clear(res);
		*res = bad;
	}
	return rc;
}

void
tlscheck_result_clear(struct tlscheck_result *res)
{
	if (res == NULL)
		return;
	for (size_t i = 0; i < res->n_dns_names; i++)
		free(res->dns_names[i]);
	free(res->dns_names);
	memset(res, 0, sizeof *res);
}
