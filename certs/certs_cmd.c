/* SPDX-License-Identifier: Apache-2.0 */
/* certs_cmd: `tenantguard certs`, the webhook's CA and serving certificate on disk. */
#include "certs_cmd.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certgen.h"
#include "fileio.h"

#define CERTS_DAY          86400LL
#define CERTS_CA_DAYS      3650          /* ten years */
#define CERTS_MAX_DAYS     3650          /* a serving certificate never outlives the CA */
#define CERTS_BACKDATE     300           /* seconds, for clocks a little behind ours */
#define CERTS_MAX_FILE     (1 << 20)     /* ca.crt is a few hundred bytes */
#define CERTS_N_DNS        5

struct certs_opts {
	const char *out;
	const char *service;
	const char *ns;
	const char *domain;
	long        days;
	const char *renew_text;     /* as the user wrote it, for the report */
	long long   renew_before;   /* seconds */
};

/* The four files and the names the serving certificate must carry. */
struct certs_paths {
	char ca_crt[PATH_MAX];
	char ca_key[PATH_MAX];
	char tls_crt[PATH_MAX];
	char tls_key[PATH_MAX];
	char dns[CERTS_N_DNS][256];
	char cn[256];
};

static const char certs_usage[] =
    "usage: tenantguard certs --out DIR [--service NAME] [--namespace NS] "
    "[--cluster-domain D] [--days N] [--renew-before DURATION]\n";

/* A DNS label as Kubernetes names Services and Namespaces (RFC 1123). */
static bool
valid_label(const char *s, size_t n)
{
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static bool
valid_domain(const char *s)
{
	size_t n = strlen(s), start = 0;

	if (n == 0 || n > 200)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (!valid_label(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

int
certs_parse_duration(const char *s, long long *out)
{
	const long long cap = 100LL * 366 * CERTS_DAY;
	long long total = 0;

	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		long long v = 0, unit;
		if (*s < '0' || *s > '9')
			return -1;
		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (*s++ - '0');
			if (v > cap)
				return -1;
		}
		switch (*s++) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = CERTS_DAY; break;
		default: return -1;
		}
		if (v > cap / unit || (total += v * unit) > cap)
			return -1;
	}
	*out = total;
	return 0;
}

/* 0 parsed, 1 help asked for, -1 usage error with a reason in err. */
static int
parse_args(int argc, char **argv, struct certs_opts *o, char *err, size_t errsz)
{
	const char *days_text = "365";

	*o = (struct certs_opts){ .service = "tenantguard", .ns = "tenantguard-system",
	    .domain = "cluster.local", .renew_text = "30d" };
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val, *eq;
		const char **dst;
		size_t name_len;

		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
			return 1;
		eq = strchr(arg, '=');
		name_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
#define CERTS_IS(opt) (name_len == strlen(opt) && strncmp(arg, opt, name_len) == 0)
		if (CERTS_IS("--out"))
			dst = &o->out;
		else if (CERTS_IS("--service"))
			dst = &o->service;
		else if (CERTS_IS("--namespace"))
			dst = &o->ns;
		else if (CERTS_IS("--cluster-domain"))
			dst = &o->domain;
		else if (CERTS_IS("--days"))
			dst = &days_text;
		else if (CERTS_IS("--renew-before"))
			dst = &o->renew_text;
		else {
			snprintf(err, errsz, "unknown argument \"%s\"", arg);
			return -1;
		}
#undef CERTS_IS
		if (eq != NULL) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			snprintf(err, errsz, "%s needs a value", arg);
			return -1;
		}
		*dst = val;
	}
	if (o->out == NULL || o->out[0] == '\0') {
		snprintf(err, errsz, "--out DIR is required");
		return -1;
	}
	if (!valid_label(o->service, strlen(o->service))) {
		snprintf(err, errsz, "--service \"%s\" is not a DNS label (a-z, 0-9, '-')", o->service);
		return -1;
	}
	if (!valid_label(o->ns, strlen(o->ns))) {
		snprintf(err, errsz, "--namespace \"%s\" is not a DNS label (a-z, 0-9, '-')", o->ns);
		return -1;
	}
	if (!valid_domain(o->domain)) {
		snprintf(err, errsz, "--cluster-domain \"%s\" is not a DNS name", o->domain);
		return -1;
	}
	char *end;
	errno = 0;
	o->days = strtol(days_text, &end, 10);
	if (errno != 0 || end == days_text || *end != '\0' || o->days < 1 ||
	    o->days > CERTS_MAX_DAYS) {
		snprintf(err, errsz, "--days \"%s\" is not a number of days from 1 to %d", days_text,
		    CERTS_MAX_DAYS);
		return -1;
	}
	if (certs_parse_duration(o->renew_text, &o->renew_before) != 0) {
		snprintf(err, errsz, "--renew-before \"%s\" is not a duration such as 720h or 30d",
		    o->renew_text);
		return -1;
	}
	return 0;
}

/* Builds the file paths and the serving names; -1 when a path is too long. */
static int
make_paths(const struct certs_opts *o, struct certs_paths *p, char *err, size_t errsz)
{
	const char *d = o->out;

	if (snprintf(p->ca_crt, sizeof p->ca_crt, "%s/ca.crt", d) >= (int)sizeof p->ca_crt ||
	    snprintf(p->ca_key, sizeof p->ca_key, "%s/ca.key", d) >= (int)sizeof p->ca_key ||
	    snprintf(p->tls_crt, sizeof p->tls_crt, "%s/tls.crt", d) >= (int)sizeof p->tls_crt ||
	    snprintf(p->tls_key, sizeof p->tls_key, "%s/tls.key", d) >= (int)sizeof p->tls_key) {
		snprintf(err, errsz, "--out \"%s\" is too long", d);
		return -1;
	}
	/* Labels are at most 63 and the domain 200 characters: every name fits in 256. */
	snprintf(p->dns[0], sizeof p->dns[0], "%s", o->service);
	snprintf(p->dns[1], sizeof p->dns[1], "%s.%s", o->service, o->ns);
	snprintf(p->dns[2], sizeof p->dns[2], "%s.%s.svc", o->service, o->ns);
	snprintf(p->dns[3], sizeof p->dns[3], "%s.%s.svc.%s", o->service, o->ns, o->domain);
	snprintf(p->dns[4], sizeof p->dns[4], "localhost");
	snprintf(p->cn, sizeof p->cn, "%s", p->dns[2]);
	return 0;
}

/* mkdir -p: parents as the umask allows, DIR itself 0700. An existing DIR is left as it is. */
static int
make_dir(const char *dir, char *err, size_t errsz)
{
	char path[PATH_MAX];
	struct stat st;
	size_t n = strlen(dir);

	if (n >= sizeof path) {
		snprintf(err, errsz, "--out \"%s\" is too long", dir);
		return -1;
	}
	memcpy(path, dir, n + 1);
	for (size_t i = 1; i < n; i++) {
		if (path[i] != '/' || path[i - 1] == '/')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			snprintf(err, errsz, "cannot create %s: %s", path, strerror(errno));
			return -1;
		}
		path[i] = '/';
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errsz, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errsz, "%s is not a directory", dir);
		return -1;
	}
	return 0;
}

static bool
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/*
 * Writes a private key and its certificate, both PEM (borrowed), the key first (0600) so
 * that a certificate on disk always has its key next to it. 0, or -1 with a reason in err.
 */
static int
write_pem_pair(const char *key_path, const char *key_pem, const char *crt_path,
    const char *crt_pem, char *err, size_t errsz)
{
	if (certgen_write_file(key_path, key_pem, strlen(key_pem), 0600, err, errsz) != 0)
		return -1;
	return certgen_write_file(crt_path, crt_pem, strlen(crt_pem), 0644, err, errsz);
}

/* Frees a certificate PEM and a private key PEM (either may be NULL), the key wiped first. */
static void
free_pem_pair(char *crt_pem, char *key_pem)
{
	free(crt_pem);
	if (key_pem != NULL)
		OPENSSL_cleanse(key_pem, strlen(key_pem));
	free(key_pem);
}

/* One validity bound of a certificate as a time_t; 0 when OpenSSL cannot read it. */
static time_t
cert_time(const ASN1_TIME *t)
{
	struct tm tm = { 0 };

	if (ASN1_TIME_to_tm(t, &tm) != 1) {
		ERR_clear_error();
		return 0;
	}
	return timegm(&tm);
}

static void
format_date(time_t t, char *buf, size_t bufsz)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, bufsz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, bufsz, "?");
}

/*
 * Loads DIR/ca.crt + ca.key, or creates both when neither exists. A half-present or broken CA
 * is an error, never replaced: its certificate may already be the caBundle of a cluster.
 */
static int
load_or_create_ca(const struct certs_paths *p, const struct certs_opts *o, time_t now,
    X509 **ca, EVP_PKEY **ca_key, bool *created, char *err, size_t errsz)
{
	bool have_crt = exists(p->ca_crt), have_key = exists(p->ca_key);
	char *crt_pem = NULL, *key_pem = NULL, date[32];
	int rc = -1;

	*ca = NULL;
	*ca_key = NULL;
	*created = false;
	if (have_crt != have_key) {
		snprintf(err, errsz, "%s exists in %s but %s does not; restore it, or remove both "
		    "to create a new CA", have_crt ? "ca.crt" : "ca.key", o->out,
		    have_crt ? "ca.key" : "ca.crt");
		goto out;
	}
	if (have_crt) {
		if (certgen_read_cert(p->ca_crt, ca, err, errsz) != 0 ||
		    certgen_read_key(p->ca_key, ca_key, err, errsz) != 0)
			goto out;
		if (X509_check_private_key(*ca, *ca_key) != 1) {
			ERR_clear_error();
			snprintf(err, errsz, "ca.key does not match ca.crt in %s", o->out);
			goto out;
		}
		if (X509_check_ca(*ca) == 0) {
			snprintf(err, errsz, "%s is not a CA certificate", p->ca_crt);
			goto out;
		}
		time_t na = cert_time(X509_get0_notAfter(*ca));
		if ((long long)na - (long long)now < o->renew_before) {
			format_date(na, date, sizeof date);
			snprintf(err, errsz, "%s expires at %s, within --renew-before %s; remove ca.crt "
			    "and ca.key to create a new CA (the caBundle changes)", p->ca_crt, date,
			    o->renew_text);
			goto out;
		}
		rc = 0;
		goto out;
	}

	struct certgen_spec spec = {
		.cn = "tenantguard webhook CA",
		.not_before = now - CERTS_BACKDATE,
		.not_after = now + CERTS_CA_DAYS * CERTS_DAY,
		.is_ca = true,
	};
	if (certgen_make(&spec, ca, ca_key, err, errsz) != 0)
		goto out;
	crt_pem = certgen_cert_pem(*ca);
	key_pem = certgen_key_pem(*ca_key);
	if (crt_pem == NULL || key_pem == NULL) {
		snprintf(err, errsz, "cannot encode the CA as PEM");
		goto out;
	}
	if (write_pem_pair(p->ca_key, key_pem, p->ca_crt, crt_pem, err, errsz) != 0)
		goto out;
	*created = true;
	rc = 0;
out:
	free_pem_pair(crt_pem, key_pem);
	if (rc != 0) {
		X509_free(*ca);
		EVP_PKEY_free(*ca_key);
		*ca = NULL;
		*ca_key = NULL;
	}
	return rc;
}

/* True when the certificate's subjectAltNames are exactly the requested DNS names and 127.0.0.1. */
static bool
names_match(X509 *x, const struct certs_paths *p)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	static const unsigned char loopback[4] = { 127, 0, 0, 1 };
	size_t n_dns = 0, n_ip = 0;
	bool ok = gens != NULL;

	for (int i = 0; ok && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);
		const ASN1_STRING *s;
		if (gn->type == GEN_DNS) {
			s = gn->d.dNSName;
			ok = n_dns < CERTS_N_DNS &&
			    (size_t)ASN1_STRING_length(s) == strlen(p->dns[n_dns]) &&
			    memcmp(ASN1_STRING_get0_data(s), p->dns[n_dns], strlen(p->dns[n_dns])) == 0;
			n_dns++;
		} else if (gn->type == GEN_IPADD) {
			s = gn->d.iPAddress;
			ok = n_ip == 0 && ASN1_STRING_length(s) == 4 &&
			    memcmp(ASN1_STRING_get0_data(s), loopback, 4) == 0;
			n_ip++;
		} else {
			ok = false;
		}
	}
	GENERAL_NAMES_free(gens);
	ERR_clear_error();
	return ok && n_dns == CERTS_N_DNS && n_ip == 1;
}

/*
 * Decides whether the serving certificate on disk can stay. Returns NULL to keep it, else why
 * it must be issued, in `why`; *missing says the files were not there at all.
 */
static const char *
serving_verdict(const struct certs_paths *p, const struct certs_opts *o, X509 *ca, time_t now,
    char *why, size_t whysz, bool *missing)
{
	X509 *leaf = NULL;
	EVP_PKEY *key = NULL, *ca_pub;
	char ignored[256];
	const char *verdict = why;

	*missing = false;
	if (!exists(p->tls_crt) || !exists(p->tls_key)) {
		*missing = true;
		snprintf(why, whysz, "%s is missing", exists(p->tls_crt) ? "tls.key" : "tls.crt");
		goto out;
	}
	if (certgen_read_cert(p->tls_crt, &leaf, ignored, sizeof ignored) != 0) {
		snprintf(why, whysz, "tls.crt is unreadable");
		goto out;
	}
	if (certgen_read_key(p->tls_key, &key, ignored, sizeof ignored) != 0) {
		snprintf(why, whysz, "tls.key is unreadable");
		goto out;
	}
	if (X509_check_private_key(leaf, key) != 1) {
		snprintf(why, whysz, "tls.key does not match tls.crt");
		goto out;
	}
	ca_pub = X509_get0_pubkey(ca);
	if (X509_check_issued(ca, leaf) != X509_V_OK || ca_pub == NULL ||
	    X509_verify(leaf, ca_pub) != 1) {
		snprintf(why, whysz, "tls.crt is not signed by ca.crt");
		goto out;
	}
	if ((long long)cert_time(X509_get0_notAfter(leaf)) - (long long)now < o->renew_before) {
		snprintf(why, whysz, "tls.crt expires within %s", o->renew_text);
		goto out;
	}
	if (cert_time(X509_get0_notBefore(leaf)) > now) {
		snprintf(why, whysz, "tls.crt is not valid yet");
		goto out;
	}
	if (!names_match(leaf, p)) {
		snprintf(why, whysz, "tls.crt names differ from the requested service");
		goto out;
	}
	verdict = NULL;
out:
	X509_free(leaf);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return verdict;
}

/* Issues tls.crt + tls.key signed by the CA; *not_after gets the new expiry. */
static int
issue_serving(const struct certs_paths *p, const struct certs_opts *o, X509 *ca,
    EVP_PKEY *ca_key, time_t now, time_t *not_after, char *err, size_t errsz)
{
	const char *dns[CERTS_N_DNS], *ips[] = { "127.0.0.1" };
	char *crt_pem = NULL, *key_pem = NULL;
	time_t ca_end = cert_time(X509_get0_notAfter(ca)), end = now + o->days * CERTS_DAY;
	int rc = -1;

	for (size_t i = 0; i < CERTS_N_DNS; i++)
		dns[i] = p->dns[i];
	struct certgen_spec spec = {
		.dns = dns, .n_dns = CERTS_N_DNS, .ips = ips, .n_ips = 1,
		.cn = p->cn,
		.not_before = now - CERTS_BACKDATE,
		.not_after = end < ca_end ? end : ca_end,
		.issuer_cert = ca, .issuer_key = ca_key,
	};
	if (certgen_issue(&spec, &crt_pem, &key_pem, err, errsz) != 0)
		goto out;
	if (write_pem_pair(p->tls_key, key_pem, p->tls_crt, crt_pem, err, errsz) != 0)
		goto out;
	*not_after = spec.not_after;
	rc = 0;
out:
	free_pem_pair(crt_pem, key_pem);
	return rc;
}

/* Prints the base64 of ca.crt, the caBundle of the webhook configuration, on one line. */
static int
print_ca_bundle(const char *ca_crt, char *err, size_t errsz)
{
	size_t len = 0;
	char *pem = fileio_read(ca_crt, CERTS_MAX_FILE, &len, err, errsz);
	unsigned char *b64 = NULL;
	int rc = -1;

	if (pem == NULL)
		goto out;
	b64 = malloc(4 * ((len + 2) / 3) + 1);
	if (b64 == NULL) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	EVP_EncodeBlock(b64, (const unsigned char *)pem, (int)len);
	if (printf("%s\n", (const char *)b64) < 0 || fflush(stdout) != 0) {
		snprintf(err, errsz, "cannot write to stdout: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(pem);
	free(b64);
	return rc;
}

int
certs_main(int argc, char **argv)
{
	struct certs_opts o;
	struct certs_paths *p = NULL;
	X509 *ca = NULL;
	EVP_PKEY *ca_key = NULL;
	char err[PATH_MAX + 256], why[128], date[32];
	const char *reason = NULL;
	bool ca_created = false, missing = false;
	time_t now = time(NULL), expiry = 0;
	int rc = 1, r;

	r = parse_args(argc, argv, &o, err, sizeof err);
	if (r > 0) {
		fputs(certs_usage, stdout);
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "tenantguard certs: %s (see --help)\n", err);
		return 2;
	}
	p = calloc(1, sizeof *p);
	if (p == NULL) {
		snprintf(err, sizeof err, "out of memory");
		goto out;
	}
	if (make_paths(&o, p, err, sizeof err) != 0) {
		rc = 2;
		goto out;
	}
	if (make_dir(o.out, err, sizeof err) != 0 ||
	    load_or_create_ca(p, &o, now, &ca, &ca_key, &ca_created, err, sizeof err) != 0)
		goto out;
	if (!ca_created)
		reason = serving_verdict(p, &o, ca, now, why, sizeof why, &missing);
	if (ca_created || reason != NULL) {
		if (issue_serving(p, &o, ca, ca_key, now, &expiry, err, sizeof err) != 0)
			goto out;
	} else {
		X509 *leaf = NULL;
		if (certgen_read_cert(p->tls_crt, &leaf, err, sizeof err) == 0)
			expiry = cert_time(X509_get0_notAfter(leaf));
		X509_free(leaf);
	}
	if (print_ca_bundle(p->ca_crt, err, sizeof err) != 0)
		goto out;

	format_date(expiry, date, sizeof date);
	if (ca_created)
		fprintf(stderr, "tenantguard certs: created CA and serving certificate in %s "
		    "(expires %s)\n", o.out, date);
	else if (reason == NULL)
		fprintf(stderr, "tenantguard certs: kept CA and serving certificate in %s "
		    "(expires %s)\n", o.out, date);
	else
		fprintf(stderr, "tenantguard certs: kept CA, %s serving certificate in %s because "
		    "%s (expires %s)\n", missing ? "created" : "renewed", o.out, reason, date);
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "tenantguard certs: %s\n", err);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	free(p);
	ERR_clear_error();
	return rc;
}
