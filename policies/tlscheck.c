/* SPDX-License-Identifier: Apache-2.0 */
/* tlscheck: what a kubernetes.io/tls Secret holds, checked with OpenSSL (pure: no I/O). */
#include "tlscheck.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
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

/*
 * A certificate as OpenSSL's own templates spell it (crypto/x509/x_x509.c, x_pubkey.c: the
 * same items, in the same order), except that the SubjectPublicKeyInfo stays two raw fields.
 * OpenSSL 3.0's d2i_X509 turns that field into an EVP_PKEY through the decoder framework,
 * ~100 us a certificate, 90% of its cost; the check needs only its bytes, so a Secret costs
 * ~20 us instead of ~650 (an audit reads every Secret of the cluster). The ASN.1 macros
 * need typedef'd names.
 */
typedef struct {
	X509_ALGOR      *alg;
	ASN1_BIT_STRING *key;
} TLSCHECK_SPKI;

typedef struct {
	ASN1_INTEGER    *version;
	ASN1_INTEGER    *serial;
	X509_ALGOR      *signature;
	X509_NAME       *issuer;
	X509_VAL        *validity;
	X509_NAME       *subject;
	TLSCHECK_SPKI   *key;
	ASN1_BIT_STRING *issuer_uid;
	ASN1_BIT_STRING *subject_uid;
	STACK_OF(X509_EXTENSION) *extensions;
} TLSCHECK_TBS;

typedef struct {
	TLSCHECK_TBS    *tbs;
	X509_ALGOR      *sig_alg;
	ASN1_BIT_STRING *signature;
} TLSCHECK_CERT;

ASN1_SEQUENCE(TLSCHECK_SPKI) = {
	ASN1_SIMPLE(TLSCHECK_SPKI, alg, X509_ALGOR),
	ASN1_SIMPLE(TLSCHECK_SPKI, key, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(TLSCHECK_SPKI)

ASN1_SEQUENCE(TLSCHECK_TBS) = {
	ASN1_EXP_OPT(TLSCHECK_TBS, version, ASN1_INTEGER, 0),
	ASN1_SIMPLE(TLSCHECK_TBS, serial, ASN1_INTEGER),
	ASN1_SIMPLE(TLSCHECK_TBS, signature, X509_ALGOR),
	ASN1_SIMPLE(TLSCHECK_TBS, issuer, X509_NAME),
	ASN1_SIMPLE(TLSCHECK_TBS, validity, X509_VAL),
	ASN1_SIMPLE(TLSCHECK_TBS, subject, X509_NAME),
	ASN1_SIMPLE(TLSCHECK_TBS, key, TLSCHECK_SPKI),
	ASN1_IMP_OPT(TLSCHECK_TBS, issuer_uid, ASN1_BIT_STRING, 1),
	ASN1_IMP_OPT(TLSCHECK_TBS, subject_uid, ASN1_BIT_STRING, 2),
	ASN1_EXP_SEQUENCE_OF_OPT(TLSCHECK_TBS, extensions, X509_EXTENSION, 3),
} static_ASN1_SEQUENCE_END(TLSCHECK_TBS)

ASN1_SEQUENCE(TLSCHECK_CERT) = {
	ASN1_SIMPLE(TLSCHECK_CERT, tbs, TLSCHECK_TBS),
	ASN1_SIMPLE(TLSCHECK_CERT, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(TLSCHECK_CERT, signature, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(TLSCHECK_CERT)

/*
 * The leaf certificate: decoded with the templates above, or (when they refuse a block that
 * OpenSSL's d2i_X509 takes) as an X509. The fields point into whichever holds it; der is the
 * leaf's DER, for d2i_X509 when the key needs OpenSSL's full comparison.
 */
struct leaf {
	TLSCHECK_CERT  *c;
	X509           *x;
	unsigned char  *der;        /* OPENSSL_malloc'd */
	long            der_len;
	const ASN1_TIME *not_before, *not_after;
	const X509_NAME *subject;
	const STACK_OF(X509_EXTENSION) *extensions;
	const X509_ALGOR *spki_alg;
	const unsigned char *spki;  /* the subjectPublicKey bits (whole bytes) */
	int              spki_len;
	bool             spki_whole; /* no unused bits */
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

static void
leaf_clear(struct leaf *l)
{
	ASN1_item_free((ASN1_VALUE *)l->c, ASN1_ITEM_rptr(TLSCHECK_CERT));
	X509_free(l->x);
	OPENSSL_free(l->der);
	memset(l, 0, sizeof *l);
}

/* Points the leaf's fields at whichever decoding holds it. */
static void
leaf_fields(struct leaf *l)
{
	if (l->c != NULL) {
		const TLSCHECK_TBS *t = l->c->tbs;
		const ASN1_BIT_STRING *bits = t->key->key;
		l->not_before = t->validity->notBefore;
		l->not_after = t->validity->notAfter;
		l->subject = t->subject;
		l->extensions = t->extensions;
		l->spki_alg = t->key->alg;
		l->spki = bits->data;
		l->spki_len = bits->length;
		l->spki_whole = !(bits->flags & ASN1_STRING_FLAG_BITS_LEFT) || (bits->flags & 7) == 0;
		return;
	}
	/* OpenSSL's own X509 hides the unused-bit count: its key is only ever compared by
	 * OpenSSL (spki_whole false). */
	l->not_before = X509_get0_notBefore(l->x);
	l->not_after = X509_get0_notAfter(l->x);
	l->subject = X509_get_subject_name(l->x);
	l->extensions = X509_get0_extensions(l->x);
}

/*
 * One certificate block: the templates first, and OpenSSL's d2i_X509 for whatever they
 * refuse, so that exactly the blocks d2i_X509 takes are certificates. Fills *l (the leaf)
 * when l is not NULL, taking b's data. 0 parsed, 1 not a certificate.
 */
static int
cert_decode(struct pem_block *b, struct leaf *l)
{
	const unsigned char *p = b->data;
	TLSCHECK_CERT *c = (TLSCHECK_CERT *)ASN1_item_d2i(NULL, &p, b->len,
	    ASN1_ITEM_rptr(TLSCHECK_CERT));
	X509 *x = NULL;

	if (c == NULL || p != b->data + b->len) {
		ASN1_item_free((ASN1_VALUE *)c, ASN1_ITEM_rptr(TLSCHECK_CERT));
		c = NULL;
		p = b->data;
		x = d2i_X509(NULL, &p, b->len);
		if (x == NULL || p != b->data + b->len) {
			X509_free(x);
			return 1;
		}
	}
	if (l == NULL) {
		ASN1_item_free((ASN1_VALUE *)c, ASN1_ITEM_rptr(TLSCHECK_CERT));
		X509_free(x);
		return 0;
	}
	*l = (struct leaf){ .c = c, .x = x, .der = b->data, .der_len = b->len };
	b->data = NULL;
	leaf_fields(l);
	return 0;
}

/*
 * Parses every certificate of tls.crt; fills *leaf from the first one (leaf_clear it).
 * 0 when all parse, 1 with a verdict in res, -1 out of memory.
 */
static int
parse_chain(const unsigned char *crt, size_t crt_len, struct leaf *leaf,
    struct tlscheck_result *res)
{
	struct pem_block b = { 0 };
	struct pem_span span;
	size_t pos = 0, count = 0;
	int rc = 1, d;

	memset(leaf, 0, sizeof *leaf);
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
		if (cert_decode(&b, count == 0 ? leaf : NULL) != 0) {
			verdict(res, TLSCHECK_BAD_CERT,
			    "certificate %zu in tls.crt is not a valid X.509 certificate", count + 1);
			goto out;
		}
		count++;
		pem_block_clear(&b);
	}
	if (count == 0) {
		verdict(res, TLSCHECK_BAD_CERT, "tls.crt holds no certificate");
		goto out;
	}
	rc = 0;
out:
	pem_block_clear(&b);
	if (rc != 0)
		leaf_clear(leaf);
	return rc;
}

/* ---- the key's public part, read without building a private key ---- */

/* A strict DER reader over a byte range: definite lengths in their shortest form only. */
struct der {
	const unsigned char *p;
	size_t n;
};

/* Takes the next element when its tag is `tag`: *out gets its contents. */
static bool
der_next(struct der *d, unsigned char tag, struct der *out)
{
	size_t len, hdr = 2;

	if (d->n < 2 || d->p[0] != tag)
		return false;
	len = d->p[1];
	if (len & 0x80) {
		size_t k = len & 0x7f;
		if (k == 0 || k > 3 || d->n < 2 + k || d->p[2] == 0)
			return false;
		len = 0;
		for (size_t i = 0; i < k; i++)
			len = len << 8 | d->p[2 + i];
		if (len < 0x80)
			return false;
		hdr += k;
	}
	if (d->n - hdr < len)
		return false;
	*out = (struct der){ d->p + hdr, len };
	d->p += hdr + len;
	d->n -= hdr + len;
	return true;
}

/* A non-negative INTEGER in its shortest form. */
static bool
der_uint(struct der *d, struct der *out)
{
	if (!der_next(d, 0x02, out) || out->n == 0 || (out->p[0] & 0x80))
		return false;
	return !(out->n > 1 && out->p[0] == 0 && !(out->p[1] & 0x80));
}

static bool
der_is(const struct der *d, const unsigned char *bytes, size_t n)
{
	return d->n == n && memcmp(d->p, bytes, n) == 0;
}

/* Object identifiers' contents. */
static const unsigned char oid_rsa[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
static const unsigned char oid_ec[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };

/* The named curves read here, with the size of their private scalars. */
static const struct {
	unsigned char oid[8];
	size_t        oid_len;
	int           nid;
	size_t        scalar;
} curves[] = {
	{ { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 }, 8, NID_X9_62_prime256v1, 32 },
	{ { 0x2b, 0x81, 0x04, 0x00, 0x22 }, 5, NID_secp384r1, 48 },
	{ { 0x2b, 0x81, 0x04, 0x00, 0x23 }, 5, NID_secp521r1, 66 },
};

/* What a private key says its public key is. */
struct key_pub {
	int        type;      /* EVP_PKEY_RSA or EVP_PKEY_EC */
	struct der n, e;      /* RSA modulus and public exponent */
	struct der curve;     /* EC: the named curve's OID contents */
	struct der point;     /* EC: the public point as encoded */
};

/* RSAPrivateKey (PKCS#1) of two primes, nothing after it. */
static bool
rsa_private(struct der body, struct key_pub *kp)
{
	struct der seq, v, f[8];

	if (!der_next(&body, 0x30, &seq) || body.n != 0 || !der_uint(&seq, &v) || v.n != 1 ||
	    v.p[0] != 0)
		return false;
	for (size_t i = 0; i < 8; i++)
		if (!der_uint(&seq, &f[i]))
			return false;
	/* 16384 bits: OpenSSL's limit for RSA keys it will use. */
	if (seq.n != 0 || f[0].n > 16384 / 8 + 1)
		return false;
	*kp = (struct key_pub){ .type = EVP_PKEY_RSA, .n = f[0], .e = f[1] };
	return true;
}

/* Whether point is a point of the curve, as OpenSSL checks when it decodes an EC key. */
static bool
on_curve(int nid, const struct der *point)
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(nid);
	EC_POINT *pt = g != NULL ? EC_POINT_new(g) : NULL;
	bool ok = pt != NULL && EC_POINT_oct2point(g, pt, point->p, point->n, NULL) == 1;

	EC_POINT_free(pt);
	EC_GROUP_free(g);
	return ok;
}

/*
 * ECPrivateKey (SEC1) of version 1 with its public key ([1]); the curve from its own [0] or,
 * in PKCS#8, from the algorithm (outer; both present: the same curve).
 */
static bool
ec_private(struct der body, const struct der *outer, struct key_pub *kp)
{
	struct der seq, v, scalar, params, curve = { 0 }, pubw, pub;
	size_t i;

	if (!der_next(&body, 0x30, &seq) || body.n != 0 || !der_uint(&seq, &v) || v.n != 1 ||
	    v.p[0] != 1 || !der_next(&seq, 0x04, &scalar))
		return false;
	if (seq.n > 0 && seq.p[0] == 0xa0) {
		if (!der_next(&seq, 0xa0, &params) || !der_next(&params, 0x06, &curve) ||
		    params.n != 0)
			return false;
		if (outer != NULL && !der_is(&curve, outer->p, outer->n))
			return false;
	} else if (outer != NULL) {
		curve = *outer;
	} else {
		return false;
	}
	if (!der_next(&seq, 0xa1, &pubw) || !der_next(&pubw, 0x03, &pub) || pubw.n != 0 ||
	    seq.n != 0 || pub.n < 2 || pub.p[0] != 0)
		return false;
	for (i = 0; i < sizeof curves / sizeof *curves; i++)
		if (der_is(&curve, curves[i].oid, curves[i].oid_len))
			break;
	if (i == sizeof curves / sizeof *curves || scalar.n != curves[i].scalar)
		return false;
	*kp = (struct key_pub){ .type = EVP_PKEY_EC, .curve = curve,
		.point = { pub.p + 1, pub.n - 1 } };
	return on_curve(curves[i].nid, &kp->point);
}

/* PrivateKeyInfo (PKCS#8 v1, no attributes) of an RSA or EC key. */
static bool
pkcs8_private(struct der body, struct key_pub *kp)
{
	struct der seq, v, alg, oid, params, inner;

	if (!der_next(&body, 0x30, &seq) || body.n != 0 || !der_uint(&seq, &v) || v.n != 1 ||
	    v.p[0] != 0 || !der_next(&seq, 0x30, &alg) || !der_next(&seq, 0x04, &inner) ||
	    seq.n != 0 || !der_next(&alg, 0x06, &oid))
		return false;
	if (der_is(&oid, oid_rsa, sizeof oid_rsa))
		return der_next(&alg, 0x05, &params) && params.n == 0 && alg.n == 0 &&
		    rsa_private(inner, kp);
	if (der_is(&oid, oid_ec, sizeof oid_ec))
		return der_next(&alg, 0x06, &params) && alg.n == 0 &&
		    ec_private(inner, &params, kp);
	return false;
}

/*
 * The public part of a key block in the shapes OpenSSL writes for RSA and EC keys (and Go,
 * and cert-manager): false for anything else, which OpenSSL then decodes in full. Every
 * field of the accepted shapes is checked as strictly as OpenSSL's decoder checks it.
 */
static bool
key_public(const struct pem_block *b, struct key_pub *kp)
{
	struct der body = { b->data, (size_t)b->len };

	if (strcmp(b->name, PEM_STRING_RSA) == 0)
		return rsa_private(body, kp);
	if (strcmp(b->name, PEM_STRING_ECPRIVATEKEY) == 0)
		return ec_private(body, NULL, kp);
	if (strcmp(b->name, PEM_STRING_PKCS8INF) == 0)
		return pkcs8_private(body, kp);
	return false;
}

/* Whether the leaf's SubjectPublicKeyInfo holds exactly kp's public key, byte for byte. */
static bool
spki_equal(const struct leaf *l, const struct key_pub *kp)
{
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype;

	if (l->c == NULL || !l->spki_whole || l->spki_len < 0)
		return false;
	X509_ALGOR_get0(&obj, &ptype, &pval, l->spki_alg);
	if (kp->type == EVP_PKEY_RSA) {
		struct der bits = { l->spki, (size_t)l->spki_len }, seq, n, e;
		return OBJ_obj2nid(obj) == NID_rsaEncryption && ptype == V_ASN1_NULL &&
		    der_next(&bits, 0x30, &seq) && bits.n == 0 && der_uint(&seq, &n) &&
		    der_uint(&seq, &e) && seq.n == 0 && der_is(&n, kp->n.p, kp->n.n) &&
		    der_is(&e, kp->e.p, kp->e.n);
	}
	if (OBJ_obj2nid(obj) != NID_X9_62_id_ecPublicKey || ptype != V_ASN1_OBJECT)
		return false;
	const ASN1_OBJECT *curve = pval;
	return (size_t)OBJ_length(curve) == kp->curve.n &&
	    memcmp(OBJ_get0_data(curve), kp->curve.p, kp->curve.n) == 0 &&
	    (size_t)l->spki_len == kp->point.n && memcmp(l->spki, kp->point.p, kp->point.n) == 0;
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
 * The private key of tls.key: its block, and either its public part (key_public) or, for
 * any other shape, the key OpenSSL decoded (~420 us: d2i_AutoPrivateKey goes through every
 * decoder OpenSSL 3.0 has).
 */
struct key {
	struct pem_block b;
	bool             has_pub;
	struct key_pub   pub;    /* points into b.data */
	EVP_PKEY        *pkey;
};

static void
key_clear(struct key *k)
{
	pem_block_clear(&k->b);
	EVP_PKEY_free(k->pkey);
	memset(k, 0, sizeof *k);
}

#define KEY_UNPARSED "tls.key does not parse as an RSA, EC or PKCS#8 private key"

/*
 * Parses tls.key: exactly one unencrypted private key (PKCS#8, or traditional RSA or EC,
 * optionally after the EC PARAMETERS block `openssl ecparam -genkey` writes). Fills *out
 * (key_clear it). 0 parsed, 1 with a verdict in res, -1 out of memory.
 */
static int
parse_key(const unsigned char *key, size_t key_len, struct key *out, struct tlscheck_result *res)
{
	struct pem_block b = { 0 };
	struct pem_span span;
	bool found = false;
	size_t pos = 0;
	int rc = 1, d;

	memset(out, 0, sizeof *out);
	if (key == NULL || key_len == 0) {
		verdict(res, TLSCHECK_BAD_KEY, "tls.key is empty; it must hold the PEM private key");
		goto out;
	}
	for (;;) {
		enum pem_scan s = pem_next(key, key_len, &pos, &span);
		if (s == PEM_SCAN_DONE)
			break;
		if (s == PEM_SCAN_GARBAGE) {
			verdict(res, TLSCHECK_BAD_KEY, !found && pos == 0 ?
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
		if (found) {
			verdict(res, TLSCHECK_BAD_KEY, "tls.key holds more than one private key; "
			    "keep only the one for the certificate");
			goto out;
		}
		found = true;
		out->b = b;
		memset(&b, 0, sizeof b);
		out->has_pub = key_public(&out->b, &out->pub);
		if (!out->has_pub && (out->pkey = decode_key(&out->b)) == NULL) {
			verdict(res, TLSCHECK_BAD_KEY, KEY_UNPARSED);
			goto out;
		}
	}
	if (!found) {
		verdict(res, TLSCHECK_BAD_KEY, "tls.key holds no private key");
		goto out;
	}
	rc = 0;
out:
	pem_block_clear(&b);
	if (rc != 0)
		key_clear(out);
	return rc;
}

/*
 * Whether the key belongs to the leaf, as OpenSSL's X509_check_private_key says: the same
 * public key bytes settle it at once; anything else (a mismatch, another encoding of the same
 * point, a key shape key_public does not read) goes to OpenSSL with both fully decoded.
 * 0 with *match set, or 1 with a verdict in res when the full decoding refuses a part.
 */
static int
key_matches(struct leaf *l, struct key *k, bool *match, struct tlscheck_result *res)
{
	*match = false;
	if (k->has_pub && spki_equal(l, &k->pub)) {
		*match = true;
		return 0;
	}
	if (k->pkey == NULL && (k->pkey = decode_key(&k->b)) == NULL) {
		verdict(res, TLSCHECK_BAD_KEY, KEY_UNPARSED);
		return 1;
	}
	if (l->x == NULL) {
		const unsigned char *p = l->der;
		l->x = d2i_X509(NULL, &p, l->der_len);
		if (l->x == NULL) {
			verdict(res, TLSCHECK_BAD_CERT,
			    "certificate 1 in tls.crt is not a valid X.509 certificate");
			return 1;
		}
	}
	*match = X509_check_private_key(l->x, k->pkey) == 1;
	return 0;
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
leaf_names(const struct leaf *l, struct tlscheck_result *res)
{
	GENERAL_NAMES *gens;
	unsigned char *utf8 = NULL;
	int crit = -1, rc = 1, last = -1, i;

	/* What X509_get_ext_d2i does, on the extensions themselves. */
	gens = X509V3_get_d2i(l->extensions, NID_subject_alt_name, &crit, NULL);
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

	const X509_NAME *subj = l->subject;
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
	struct leaf leaf = { 0 };
	struct key k = { 0 };
	struct tm nb_tm, na_tm;
	bool match;
	int rc = -1, r;

	memset(res, 0, sizeof *res);
	res->status = TLSCHECK_OK;

	r = parse_chain(crt, crt_len, &leaf, res);
	if (r != 0)
		goto out;
	if (!asn1_time_get(leaf.not_before, &res->not_before, &nb_tm) ||
	    !asn1_time_get(leaf.not_after, &res->not_after, &na_tm)) {
		verdict(res, TLSCHECK_BAD_CERT, "the validity dates of the certificate in tls.crt "
		    "are malformed");
		r = 1;
		goto out;
	}
	r = leaf_names(&leaf, res);
	if (r != 0)
		goto out;
	r = parse_key(key, key_len, &k, res);
	if (r != 0)
		goto out;
	r = key_matches(&leaf, &k, &match, res);
	if (r != 0)
		goto out;
	if (!match) {
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
	leaf_clear(&leaf);
	key_clear(&k);
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
