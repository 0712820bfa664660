/* SPDX-License-Identifier: Apache-2.0 */
/* test_certs: `tenantguard certs` into a temporary directory, run after run. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certgen.h"
#include "certs_cmd.h"
#include "testhelp.h"
#include "tlscheck.h"

#define DAY 86400LL
#define OUTSZ 8192

static char root[64], dir[128], capture[160];
static char out_text[OUTSZ], err_text[OUTSZ];

/* Reads a whole (small) file into buf, NUL-terminated; returns its length or -1. */
static long
read_all(const char *path, char *buf, size_t bufsz)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, bufsz - 1, f);
	fclose(f);
	buf[n] = '\0';
	return (long)n;
}

/* Points fd at a fresh `capture` file, keeping the old one in *saved. */
static int
redirect(int fd, int *saved)
{
	int tmp = open(capture, O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (tmp < 0)
		return -1;
	*saved = dup(fd);
	dup2(tmp, fd);
	close(tmp);
	return 0;
}

/* Points fd back at *saved and reads what was captured into buf. */
static void
restore(int fd, int saved, char *buf, size_t bufsz)
{
	dup2(saved, fd);
	close(saved);
	if (read_all(capture, buf, bufsz) < 0)
		buf[0] = '\0';
	unlink(capture);
}

/* Calls certs_main with a NULL-terminated argument list; stdout and stderr are captured. */
static int
run(const char *first, ...)
{
	char *argv[32];
	int argc = 0, rc, saved_out, saved_err, tmp;
	va_list ap;

	argv[argc++] = (char *)"certs";
	va_start(ap, first);
	for (const char *a = first; a != NULL && argc < 31; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;

	char errcap[200];
	snprintf(errcap, sizeof errcap, "%s.err", capture);
	fflush(stdout);
	if (redirect(1, &saved_out) != 0)
		return -100;
	tmp = open(errcap, O_RDWR | O_CREAT | O_TRUNC, 0600);
	saved_err = dup(2);
	dup2(tmp, 2);
	close(tmp);
	rc = certs_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_err, 2);
	close(saved_err);
	restore(1, saved_out, out_text, sizeof out_text);
	if (read_all(errcap, err_text, sizeof err_text) < 0)
		err_text[0] = '\0';
	unlink(errcap);
	return rc;
}

static void
path(char *buf, size_t bufsz, const char *name)
{
	snprintf(buf, bufsz, "%s/%s", dir, name);
}

static int
file_mode(const char *name)
{
	char p[256];
	struct stat st;

	path(p, sizeof p, name);
	if (stat(p, &st) != 0)
		return -1;
	return (int)(st.st_mode & 07777);
}

/* The four files' contents, to compare runs byte for byte. */
struct snapshot {
	char ca_crt[OUTSZ], ca_key[OUTSZ], tls_crt[OUTSZ], tls_key[OUTSZ];
};

static void
snap(struct snapshot *s)
{
	char p[256];

	path(p, sizeof p, "ca.crt");
	read_all(p, s->ca_crt, sizeof s->ca_crt);
	path(p, sizeof p, "ca.key");
	read_all(p, s->ca_key, sizeof s->ca_key);
	path(p, sizeof p, "tls.crt");
	read_all(p, s->tls_crt, sizeof s->tls_crt);
	path(p, sizeof p, "tls.key");
	read_all(p, s->tls_key, sizeof s->tls_key);
}

static X509 *
load_cert(const char *name)
{
	char p[256], err[256];
	X509 *x = NULL;

	path(p, sizeof p, name);
	if (certgen_read_cert(p, &x, err, sizeof err) != 0)
		printf("%s\n", err);
	return x;
}

static time_t
not_after(X509 *x)
{
	struct tm tm = { 0 };

	ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm);
	return timegm(&tm);
}

static bool
has_ip_loopback(X509 *x)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	bool found = false;

	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);
		if (gn->type == GEN_IPADD && ASN1_STRING_length(gn->d.iPAddress) == 4 &&
		    memcmp(ASN1_STRING_get0_data(gn->d.iPAddress), "\x7f\0\0\1", 4) == 0)
			found = true;
	}
	GENERAL_NAMES_free(gens);
	return found;
}

static void
test_first_run(void)
{
	struct snapshot s;
	time_t now = time(NULL);

	test_cond("first run: exit 0", run("--out", dir, "--service", "web", "--namespace",
	    "ns1", NULL) == 0);
	test_cond("first run: says created", strstr(err_text, "created CA") != NULL);
	test_cond("first run: one line on stderr", strchr(err_text, '\n') ==
	    err_text + strlen(err_text) - 1);
	test_cond("dir is 0700", file_mode("") == 0700);
	test_cond("ca.key is 0600", file_mode("ca.key") == 0600);
	test_cond("tls.key is 0600", file_mode("tls.key") == 0600);
	test_cond("ca.crt exists", file_mode("ca.crt") >= 0);
	test_cond("tls.crt exists", file_mode("tls.crt") >= 0);

	/* stdout is the base64 of ca.crt on one line: the caBundle. */
	snap(&s);
	size_t n = strlen(s.ca_crt);
	unsigned char *b64 = malloc(4 * ((n + 2) / 3) + 2);
	int m = EVP_EncodeBlock(b64, (const unsigned char *)s.ca_crt, (int)n);
	b64[m] = '\n';
	b64[m + 1] = '\0';
	test_cond("stdout is the caBundle", strcmp(out_text, (char *)b64) == 0);
	free(b64);

	X509 *ca = load_cert("ca.crt"), *leaf = load_cert("tls.crt");
	test_cond("certs load", ca != NULL && leaf != NULL);
	if (ca == NULL || leaf == NULL)
		goto out;
	test_cond("serving cert verifies against CA", X509_verify(leaf, X509_get0_pubkey(ca)) == 1);
	test_cond("CA is a CA", X509_check_ca(ca) != 0);
	test_cond("serving cert is for TLS servers",
	    X509_check_purpose(leaf, X509_PURPOSE_SSL_SERVER, 0) == 1);
	test_cond("keys are P-256", EVP_PKEY_get_base_id(X509_get0_pubkey(ca)) == EVP_PKEY_EC &&
	    EVP_PKEY_get_bits(X509_get0_pubkey(leaf)) == 256);
	test_cond("CA lasts ten years", llabs((long long)not_after(ca) - (now + 3650 * DAY)) < 600);
	test_cond("serving cert lasts 365 days",
	    llabs((long long)not_after(leaf) - (now + 365 * DAY)) < 600);
	test_cond("IP SAN 127.0.0.1", has_ip_loopback(leaf));

	struct tlscheck_result res;
	const char *want[] = { "web", "web.ns1", "web.ns1.svc", "web.ns1.svc.cluster.local",
	    "localhost" };
	tlscheck_run((const unsigned char *)s.tls_crt, strlen(s.tls_crt),
	    (const unsigned char *)s.tls_key, strlen(s.tls_key), now, &res);
	test_cond("tls pair checks OK", res.status == TLSCHECK_OK);
	test_cond("five DNS SANs", res.n_dns_names == 5);
	for (size_t i = 0; i < 5 && i < res.n_dns_names; i++)
		test_cond("DNS SAN as required", strcmp(res.dns_names[i], want[i]) == 0);
	tlscheck_result_clear(&res);

	/* The CA with its key is usable through certgen_read_*. */
	char p[256], err[256];
	EVP_PKEY *k = NULL;
	path(p, sizeof p, "ca.key");
	test_cond("ca.key reads back", certgen_read_key(p, &k, err, sizeof err) == 0 &&
	    X509_check_private_key(ca, k) == 1);
	EVP_PKEY_free(k);
out:
	X509_free(ca);
	X509_free(leaf);
}

static void
test_rerun(void)
{
	static struct snapshot a, b;

	snap(&a);
	test_cond("second run: exit 0", run("--out", dir, "--service", "web", "--namespace",
	    "ns1", NULL) == 0);
	test_cond("second run: says kept", strstr(err_text, "kept CA and serving") != NULL);
	snap(&b);
	test_cond("second run: ca.crt identical", strcmp(a.ca_crt, b.ca_crt) == 0);
	test_cond("second run: ca.key identical", strcmp(a.ca_key, b.ca_key) == 0);
	test_cond("second run: tls.crt identical", strcmp(a.tls_crt, b.tls_crt) == 0);
	test_cond("second run: tls.key identical", strcmp(a.tls_key, b.tls_key) == 0);

	/* More than the 365 days left: the serving certificate is renewed, the CA kept. */
	test_cond("renew run: exit 0", run("--out", dir, "--service", "web", "--namespace",
	    "ns1", "--renew-before=400d", NULL) == 0);
	test_cond("renew run: says renewed", strstr(err_text, "renewed") != NULL);
	snap(&b);
	test_cond("renew run: ca.crt kept", strcmp(a.ca_crt, b.ca_crt) == 0);
	test_cond("renew run: ca.key kept", strcmp(a.ca_key, b.ca_key) == 0);
	test_cond("renew run: tls.crt new", strcmp(a.tls_crt, b.tls_crt) != 0);
	test_cond("renew run: tls.key new", strcmp(a.tls_key, b.tls_key) != 0);
	test_cond("renew run: same caBundle on stdout", run("--out", dir, "--service", "web",
	    "--namespace", "ns1", NULL) == 0 && strlen(out_text) > 100);
	X509 *ca = load_cert("ca.crt"), *leaf = load_cert("tls.crt");
	test_cond("renewed cert verifies against CA", ca != NULL && leaf != NULL &&
	    X509_verify(leaf, X509_get0_pubkey(ca)) == 1);
	X509_free(ca);
	X509_free(leaf);

	/* Hours work as well as days: 9000h is more than 365 days. */
	snap(&a);
	test_cond("renew in hours: exit 0", run("--out", dir, "--service", "web",
	    "--namespace", "ns1", "--renew-before", "9000h", NULL) == 0);
	snap(&b);
	test_cond("renew in hours: renewed", strcmp(a.tls_crt, b.tls_crt) != 0 &&
	    strcmp(a.ca_crt, b.ca_crt) == 0);
	test_cond("renew in hours: keys still 0600", file_mode("tls.key") == 0600);

	/* Another service name needs other SANs. */
	snap(&a);
	test_cond("new service: exit 0", run("--out", dir, "--service", "other",
	    "--namespace", "ns1", NULL) == 0);
	snap(&b);
	test_cond("new service: renewed", strstr(err_text, "renewed") != NULL &&
	    strcmp(a.tls_crt, b.tls_crt) != 0 && strcmp(a.ca_crt, b.ca_crt) == 0);

	/* A damaged or missing serving certificate is reissued. */
	char p[256], err[256];
	path(p, sizeof p, "tls.crt");
	test_cond("damage tls.crt", certgen_write_file(p, "garbage\n", 8, 0644, err,
	    sizeof err) == 0);
	test_cond("damaged: exit 0", run("--out", dir, "--service", "other", "--namespace",
	    "ns1", NULL) == 0);
	test_cond("damaged: renewed", strstr(err_text, "renewed") != NULL &&
	    strstr(err_text, "unreadable") != NULL);
	path(p, sizeof p, "tls.key");
	unlink(p);
	test_cond("missing key: exit 0", run("--out", dir, "--service", "other",
	    "--namespace", "ns1", NULL) == 0);
	test_cond("missing key: created", strstr(err_text, "created serving") != NULL);
	test_cond("missing key: key back, 0600", file_mode("tls.key") == 0600);
	snap(&b);
	test_cond("missing key: CA still kept", strcmp(a.ca_crt, b.ca_crt) == 0);

	/* A serving certificate signed by another CA is reissued. */
	struct certgen_spec spec = {
		.dns = (const char *const[]){ "other" }, .n_dns = 1,
		.not_before = time(NULL) - 60, .not_after = time(NULL) + 3000 * DAY,
	};
	char *crt, *key;
	if (certgen_issue(&spec, &crt, &key, err, sizeof err) == 0) {
		path(p, sizeof p, "tls.crt");
		certgen_write_file(p, crt, strlen(crt), 0644, err, sizeof err);
		path(p, sizeof p, "tls.key");
		certgen_write_file(p, key, strlen(key), 0600, err, sizeof err);
		free(crt);
		free(key);
		test_cond("foreign cert: exit 0", run("--out", dir, "--service", "other",
		    "--namespace", "ns1", NULL) == 0);
		test_cond("foreign cert: renewed", strstr(err_text, "not signed by ca.crt") != NULL);
	}
}

static void
test_errors(void)
{
	char p[256], moved[256];

	test_cond("no args: 2", run(NULL) == 2);
	test_cond("no args: one line", strstr(err_text, "--out") != NULL &&
	    strchr(err_text, '\n') == err_text + strlen(err_text) - 1);
	test_cond("--out without value: 2", run("--out", NULL) == 2);
	test_cond("unknown flag: 2", run("--out", dir, "--bogus", NULL) == 2);
	test_cond("--days 0: 2", run("--out", dir, "--days", "0", NULL) == 2);
	test_cond("--days x: 2", run("--out", dir, "--days", "12x", NULL) == 2);
	test_cond("--renew-before 5x: 2", run("--out", dir, "--renew-before", "5x", NULL) == 2);
	test_cond("--renew-before empty: 2", run("--out", dir, "--renew-before", "", NULL) == 2);
	test_cond("--service Bad_Name: 2", run("--out", dir, "--service", "Bad_Name", NULL) == 2);
	test_cond("--cluster-domain bad: 2",
	    run("--out", dir, "--cluster-domain", "a..b", NULL) == 2);
	test_cond("--help: 0", run("--help", NULL) == 0 && strstr(out_text, "usage") != NULL);

	/* The CA cannot be renewed in place: asking for it is an error, not a new caBundle. */
	test_cond("CA inside renew-before: 1",
	    run("--out", dir, "--service", "other", "--namespace", "ns1",
	    "--renew-before", "4000d", NULL) == 1);
	test_cond("CA inside renew-before: says so", strstr(err_text, "ca.crt expires") != NULL);

	/* Half a CA is never replaced. */
	path(p, sizeof p, "ca.key");
	snprintf(moved, sizeof moved, "%s/ca.key.moved", root);
	rename(p, moved);
	test_cond("ca.key missing: 1", run("--out", dir, NULL) == 1);
	test_cond("ca.key missing: says so", strstr(err_text, "ca.key does not") != NULL);
	test_cond("ca.key missing: nothing created", file_mode("ca.key") == -1);
	rename(moved, p);

	/* --out naming a file. */
	path(p, sizeof p, "ca.crt");
	test_cond("--out is a file: 1", run("--out", p, NULL) == 1);
}

int
main(void)
{
	snprintf(root, sizeof root, "/tmp/test_certs.XXXXXX");
	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(dir, sizeof dir, "%s/nested/out", root);
	snprintf(capture, sizeof capture, "%s/capture", root);

	test_first_run();
	test_rerun();
	test_errors();

	const char *names[] = { "ca.crt", "ca.key", "tls.crt", "tls.key" };
	char p[256];
	for (size_t i = 0; i < 4; i++) {
		path(p, sizeof p, names[i]);
		unlink(p);
	}
	int leftovers = rmdir(dir);
	snprintf(p, sizeof p, "%s/nested", root);
	rmdir(p);
	rmdir(root);
	test_cond("no temporary files left behind", leftovers == 0);
	return test_report();
}
