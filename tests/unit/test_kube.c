/* SPDX-License-Identifier: Apache-2.0 */
/* test_kube: the API client without a cluster: kubeconfig and in-cluster set-up, backoff, errors. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base64.h"
#include "certgen.h"
#include "kube.h"
#include "testhelp.h"

static char dir[] = "/tmp/tg-kube-XXXXXX";
static char err[2048];
static char *ca_pem, *cert_pem, *key_pem, *other_key_pem;

static void
write_file(const char *name, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

static char *
b64(const char *s)
{
	return base64_encode((const unsigned char *)s, strlen(s));
}

/* A kubeconfig with one context `ctx` of cluster `cluster` and user `user`. */
static const char *
kubeconfig(const char *current, const char *cluster, const char *user)
{
	static char text[32768];
	snprintf(text, sizeof(text),
	    "apiVersion: v1\nkind: Config\n%s\n"
	    "clusters:\n- name: c1\n  cluster:\n%s\n"
	    "users:\n- name: u1\n  user:\n%s\n"
	    "contexts:\n- name: ctx\n  context: {cluster: c1, user: u1, namespace: tenant1-gateway}\n"
	    "- name: ghost\n  context: {cluster: nowhere, user: u1}\n"
	    "- name: nobody\n  context: {cluster: c1, user: missing}\n",
	    current, cluster, user);
	return text;
}

/* Loads `text` as dir/kubeconfig; on success puts the description in desc. */
static struct kube_client *
load(const char *text, char *desc, size_t descsz)
{
	char p[512];
	write_file("kubeconfig", text);
	snprintf(p, sizeof(p), "%s/kubeconfig", dir);
	struct kube_client *kc = kube_client_new_kubeconfig(p, err, sizeof(err));
	if (kc != NULL)
		kube_client_describe(kc, desc, descsz);
	else
		snprintf(desc, descsz, "(failed)");
	return kc;
}

static void
expect_ok(const char *descr, const char *text, const char *want1, const char *want2)
{
	char desc[2048], d[4096];
	struct kube_client *kc = load(text, desc, sizeof(desc));
	snprintf(d, sizeof(d), "%s: loads, described as having \"%s\" and \"%s\" (got: %s)", descr,
	    want1, want2, desc);
	test_cond(d, kc != NULL && strstr(desc, want1) && strstr(desc, want2));
	kube_client_free(kc);
}

static void
expect_fail(const char *descr, const char *text, const char *want)
{
	char desc[2048], d[4096];
	struct kube_client *kc = load(text, desc, sizeof(desc));
	snprintf(d, sizeof(d), "%s: refused with \"%s\" (got: %s)", descr, want,
	    kc ? desc : err);
	test_cond(d, kc == NULL && strstr(err, want) != NULL && strncmp(err, dir, strlen(dir)) == 0);
	kube_client_free(kc);
}

static int
make_certs(void)
{
	char e[256];
	EVP_PKEY *cakey = NULL;
	X509 *ca = NULL;
	struct certgen_spec caspec = { .cn = "test-ca", .not_before = time(NULL) - 60,
	    .not_after = time(NULL) + 3600, .is_ca = true };
	if (certgen_make(&caspec, &ca, &cakey, e, sizeof(e)) < 0)
		return -1;
	ca_pem = certgen_cert_pem(ca);
	struct certgen_spec leaf = { .cn = "alice", .not_before = time(NULL) - 60,
	    .not_after = time(NULL) + 3600, .issuer_cert = ca, .issuer_key = cakey };
	int rc = certgen_issue(&leaf, &cert_pem, &key_pem, e, sizeof(e));
	char *other_cert = NULL;
	if (rc == 0)
		rc = certgen_issue(&leaf, &other_cert, &other_key_pem, e, sizeof(e));
	free(other_cert);
	X509_free(ca);
	EVP_PKEY_free(cakey);
	if (rc < 0)
		fprintf(stderr, "certgen: %s\n", e);
	return rc;
}

static void
test_kubeconfig(void)
{
	char cl[8192], us[16384], p[600];
	const char *cur = "current-context: ctx";
	char *ca64 = b64(ca_pem), *cert64 = b64(cert_pem), *key64 = b64(key_pem);
	const char *tok = "    token: abc.def-ghi";

	write_file("ca.crt", ca_pem);
	write_file("client.crt", cert_pem);
	write_file("client.key", key_pem);
	write_file("other.key", other_key_pem);
	write_file("tok", "file-token-123\n");
	write_file("notpem", "hello\n");

	/* Token, CA file relative to the kubeconfig, trailing slash on the server. */
	snprintf(p, sizeof(p), "CA file %s/ca.crt", dir);
	expect_ok("token + certificate-authority file", kubeconfig(cur,
	    "    server: https://127.0.0.1:6443/\n    certificate-authority: ca.crt", tok),
	    "https://127.0.0.1:6443 (kubeconfig", p);
	expect_ok("token: described as a token, context and user named", kubeconfig(cur,
	    "    server: https://127.0.0.1:6443\n    certificate-authority: ca.crt", tok),
	    "context ctx, user u1: token;", "https://127.0.0.1:6443 (");
	{
		char desc[2048];
		struct kube_client *kc = load(kubeconfig(cur,
		    "    server: https://example.com:6443/\n    certificate-authority: ca.crt", tok),
		    desc, sizeof(desc));
		test_cond("the context's namespace and the server without its trailing '/'",
		    kc && strcmp(kube_client_namespace(kc), "tenant1-gateway") == 0 &&
		    strcmp(kube_client_server(kc), "https://example.com:6443") == 0);
		test_cond("the token itself is never in the description", kc &&
		    strstr(desc, "abc.def") == NULL);
		kube_client_free(kc);
	}
	snprintf(p, sizeof(p), "token from file %s/tok", dir);
	expect_ok("tokenFile, relative", kubeconfig(cur,
	    "    server: https://127.0.0.1:6443\n    certificate-authority: ca.crt",
	    "    tokenFile: tok"), p, "CA file");
	snprintf(p, sizeof(p), "client certificate CN=alice (file %s/client.crt)", dir);
	expect_ok("client-certificate + client-key files", kubeconfig(cur,
	    "    server: https://127.0.0.1:6443\n    certificate-authority: ca.crt",
	    "    client-certificate: client.crt\n    client-key: client.key"), p, "CA file");
	snprintf(us, sizeof(us), "    client-certificate-data: %s\n    client-key-data: %s",
	    cert64, key64);
	snprintf(cl, sizeof(cl), "    server: https://127.0.0.1:6443\n"
	    "    certificate-authority-data: %s", ca64);
	expect_ok("-data variants (base64)", kubeconfig(cur, cl, us),
	    "client certificate CN=alice (client-certificate-data)",
	    "CA certificate-authority-data");
	snprintf(us, sizeof(us), "    token: t0k\n    client-certificate-data: %s\n"
	    "    client-key-data: %s", cert64, key64);
	expect_ok("token and client certificate together", kubeconfig(cur, cl, us),
	    "token and client certificate CN=alice", "CA certificate-authority-data");
	expect_ok("no CA: the system trust store, as kubectl", kubeconfig(cur,
	    "    server: https://k8s.example.com", tok), "CA: the system trust store", "token");

	/* Refusals, each naming the kubeconfig and what to fix. */
	expect_fail("no current-context", kubeconfig("",
	    "    server: https://127.0.0.1:6443", tok), "no current-context");
	expect_fail("unknown current-context", kubeconfig("current-context: nope",
	    "    server: https://127.0.0.1:6443", tok),
	    "current-context \"nope\" is not among its contexts");
	expect_fail("context naming an unknown cluster", kubeconfig("current-context: ghost",
	    "    server: https://127.0.0.1:6443", tok), "names cluster \"nowhere\", which is not");
	expect_fail("context naming an unknown user", kubeconfig("current-context: nobody",
	    "    server: https://127.0.0.1:6443", tok), "names user \"missing\", which is not");
	expect_fail("insecure-skip-tls-verify", kubeconfig(cur,
	    "    server: https://127.0.0.1:6443\n    insecure-skip-tls-verify: true", tok),
	    "insecure-skip-tls-verify is refused");
	expect_fail("plain http server", kubeconfig(cur, "    server: http://127.0.0.1:8080", tok),
	    "is not https");
	expect_fail("no server", kubeconfig(cur, "    certificate-authority: ca.crt", tok),
	    "cluster \"c1\": no server");
	expect_fail("exec plugin", kubeconfig(cur, "    server: https://127.0.0.1:6443",
	    "    exec: {command: aws, apiVersion: client.authentication.k8s.io/v1}"),
	    "user \"u1\": exec is not supported");
	expect_fail("certificate-authority-data not base64", kubeconfig(cur,
	    "    server: https://127.0.0.1:6443\n    certificate-authority-data: '!!notbase64'", tok),
	    "certificate-authority-data: not base64");
	expect_fail("certificate-authority that is no PEM", kubeconfig(cur,
	    "    server: https://127.0.0.1:6443\n    certificate-authority: notpem", tok),
	    "no PEM certificate");
	expect_fail("missing certificate-authority file", kubeconfig(cur,
	    "    server: https://127.0.0.1:6443\n    certificate-authority: absent.crt", tok),
	    "absent.crt");
	expect_fail("missing tokenFile", kubeconfig(cur, "    server: https://127.0.0.1:6443",
	    "    tokenFile: /nonexistent/token"), "tokenFile: /nonexistent/token");
	expect_fail("client-certificate without client-key", kubeconfig(cur,
	    "    server: https://127.0.0.1:6443", "    client-certificate: client.crt"),
	    "client-certificate without client-key");
	expect_fail("client-key of another certificate", kubeconfig(cur,
	    "    server: https://127.0.0.1:6443",
	    "    client-certificate: client.crt\n    client-key: other.key"),
	    "does not match the client certificate");
	snprintf(us, sizeof(us), "    client-certificate-data: %s\n    client-key-data: bm90IGEga2V5",
	    cert64);
	expect_fail("client-key-data that is no key", kubeconfig(cur,
	    "    server: https://127.0.0.1:6443", us), "client-key: no PEM private key");
	expect_fail("token with a newline", kubeconfig(cur, "    server: https://127.0.0.1:6443",
	    "    token: \"abc\\r\\nX-Evil: 1\""), "token holds white space or a control character");
	expect_fail("not YAML", "{ [", ":1");
	free(ca64);
	free(cert64);
	free(key64);
}

static void
test_in_cluster(void)
{
	char sa[600], desc[2048], d[2300];

	snprintf(sa, sizeof(sa), "%s/sa", dir);
	mkdir(sa, 0700);
	write_file("sa/token", "sa-token\n");
	write_file("sa/ca.crt", ca_pem);
	write_file("sa/namespace", "tenantguard-system\n");

	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	struct kube_client *kc = kube_client_new_in_cluster(sa, err, sizeof(err));
	test_cond("in-cluster without KUBERNETES_SERVICE_HOST: refused, pointing at --kubeconfig",
	    kc == NULL && strstr(err, "KUBERNETES_SERVICE_HOST") && strstr(err, "--kubeconfig"));
	kube_client_free(kc);

	setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	kc = kube_client_new_in_cluster(sa, err, sizeof(err));
	if (kc)
		kube_client_describe(kc, desc, sizeof(desc));
	snprintf(d, sizeof(d), "in-cluster: server, namespace, token file and CA (got: %s)",
	    kc ? desc : err);
	test_cond(d, kc && strcmp(kube_client_server(kc), "https://10.0.0.1:443") == 0 &&
	    strcmp(kube_client_namespace(kc), "tenantguard-system") == 0 &&
	    strstr(desc, "in-cluster: token from file") && strstr(desc, "sa/ca.crt"));
	kube_client_free(kc);

	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	kc = kube_client_new_in_cluster(sa, err, sizeof(err));
	test_cond("in-cluster: an IPv6 service host goes in brackets",
	    kc && strcmp(kube_client_server(kc), "https://[fd00::1]:443") == 0);
	kube_client_free(kc);

	write_file("sa/token", "\n");
	kc = kube_client_new_in_cluster(sa, err, sizeof(err));
	test_cond("in-cluster: an empty token file is refused",
	    kc == NULL && strstr(err, "sa/token: the token file is empty"));
	kube_client_free(kc);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}

static void
test_backoff(void)
{
	unsigned seed = 42, seed2 = 42, other = 7;
	int in_range = 1, capped = 1, same = 1, differs = 0;

	for (unsigned a = 0; a < 12; a++) {
		unsigned base = 200u << a;
		if (base > 20000)
			base = 20000;
		for (int k = 0; k < 50; k++) {
			unsigned d = kube_backoff_next(a, &seed);
			if (d < base / 2 || d >= base + base / 2)
				in_range = 0;
			if (d != kube_backoff_next(a, &seed2))
				same = 0;
			if (d != kube_backoff_next(a, &other))
				differs = 1;
		}
	}
	for (unsigned a = 0; a < 1000; a++)
		if (kube_backoff_next(a, &seed) > 30000)
			capped = 0;
	test_cond("backoff: 200 ms * 2^attempt (cap 20 s) within +-50%", in_range);
	test_cond("backoff: never above 30 s, even for huge attempt numbers", capped);
	test_cond("backoff: the same seed gives the same delays", same);
	test_cond("backoff: other seeds give other delays (jitter)", differs);
	unsigned zero = 0;
	test_cond("backoff: seed 0 works", kube_backoff_next(0, &zero) >= 100 && zero != 0);
}

static int
no_items(const json_t *obj, void *arg)
{
	(void)obj; (void)arg;
	return 0;
}

static int
no_events(const char *type, const json_t *obj, void *arg)
{
	(void)type; (void)obj; (void)arg;
	return 0;
}

/* A loopback port nobody listens on (bound, then closed). */
static int
closed_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t n = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(s, (struct sockaddr *)&a, &n) < 0)
		return 1;
	close(s);
	return ntohs(a.sin_port);
}

static void
test_unreachable(void)
{
	char cl[256], want[256], rv[64] = "", d[2400];
	int port = closed_port();
	json_t *body = NULL;
	volatile int stop = 1;

	snprintf(cl, sizeof(cl), "    server: https://127.0.0.1:%d\n    certificate-authority: ca.crt",
	    port);
	snprintf(want, sizeof(want), "cannot reach https://127.0.0.1:%d: Connection refused", port);
	char desc[2048];
	struct kube_client *kc = load(kubeconfig("current-context: ctx", cl, "    token: t"),
	    desc, sizeof(desc));
	if (kc == NULL) {
		test_cond("unreachable: client for a closed port", 0);
		return;
	}
	int st = kube_get(kc, "/api/v1/namespaces", &body, err, sizeof(err));
	snprintf(d, sizeof(d), "GET on a closed port: -1 and \"%s\" (got %d: %s)", want, st, err);
	test_cond(d, st == -1 && body == NULL && strcmp(err, want) == 0);
	int rc = kube_list(kc, "/api/v1/namespaces", no_items, NULL, rv, sizeof(rv), err,
	    sizeof(err));
	snprintf(d, sizeof(d), "LIST on a closed port: KUBE_ERROR, same message (got %d: %s)", rc,
	    err);
	test_cond(d, rc == KUBE_ERROR && strcmp(err, want) == 0);
	rc = kube_watch(kc, "/api/v1/namespaces", rv, sizeof(rv), 5, no_events, NULL, NULL, err,
	    sizeof(err));
	snprintf(d, sizeof(d), "WATCH on a closed port: KUBE_ERROR, same message (got %d: %s)", rc,
	    err);
	test_cond(d, rc == KUBE_ERROR && strcmp(err, want) == 0);
	rc = kube_watch(kc, "/api/v1/namespaces", rv, sizeof(rv), 5, no_events, NULL, &stop, err,
	    sizeof(err));
	test_cond("WATCH with the stop flag already up: KUBE_STOPPED", rc == KUBE_STOPPED);
	kube_client_free(kc);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL || make_certs() < 0) {
		perror("set-up");
		return 1;
	}
	test_kubeconfig();
	test_in_cluster();
	test_backoff();
	test_unreachable();
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("could not remove %s\n", dir);
	free(ca_pem);
	free(cert_pem);
	free(key_pem);
	free(other_key_pem);
	return test_report();
}
