/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_kube: the API client's LIST and WATCH parsing, fed through its real transport: an
 * HTTPS server on loopback (a few threads) answers every request with the input (a LIST's
 * further pages with an empty list, so a continue token cannot loop), and kube_list or
 * kube_watch runs against it. Whatever the bytes, each call ends with a result; an error says why.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "certgen.h"
#include "fuzz.h"
#include "kube.h"

/*
 * Two clients: a WATCH's handle joins a multi handle of its own, which closes the connection
 * a LIST left in it, so one client would make every LIST after a WATCH a new TLS handshake.
 */
static struct kube_client *kc, *kc_watch;
static SSL_CTX *sctx;
static int lfd = -1;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const uint8_t *body;
static size_t body_len;
static unsigned served;   /* requests answered in this run */

static const char empty_list[] = "{\"kind\":\"List\",\"apiVersion\":\"v1\",\"metadata\":{},\"items\":[]}";

/* One kept-alive connection: every request (headers only: LIST and WATCH are GETs) answered. */
static void
serve_conn(SSL *ssl)
{
	char req[8192], head[256];
	size_t have = 0;

	for (;;) {
		int n = SSL_read(ssl, req + have, (int)(sizeof(req) - 1 - have));
		char *end;

		if (n <= 0)
			return;
		have += (size_t)n;
		req[have] = '\0';
		if ((end = strstr(req, "\r\n\r\n")) == NULL) {
			if (have == sizeof(req) - 1)
				return;
			continue;
		}
		pthread_mutex_lock(&lock);
		const void *b = served++ == 0 ? (const void *)body : empty_list;
		size_t len = b == body ? body_len : sizeof(empty_list) - 1;
		int hl = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: "
		    "application/json\r\nContent-Length: %zu\r\n\r\n", len);
		int ok = SSL_write(ssl, head, hl) == hl && (len == 0 || SSL_write(ssl, b, (int)len) == (int)len);
		pthread_mutex_unlock(&lock);
		if (!ok)
			return;
		have -= (size_t)(end + 4 - req);
		memmove(req, end + 4, have);
	}
}

/*
 * A fixed set of threads, each accepting and serving one connection at a time: the client
 * keeps one connection for LISTs and opens another for every WATCH, so two would do. A
 * thread per connection cost more than the exec (thread set-up and teardown under ASan), and
 * one still exiting at the end of a run left OpenSSL state LeakSanitizer reported.
 */
#define SERVERS 4

static void *
server_main(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(lfd, NULL, NULL), one = 1;
		struct timeval idle = { .tv_sec = 30 };
		SSL *ssl;

		if (fd < 0)
			continue;
		/* Headers and body go as two records: without this, Nagle holds the second 40 ms. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		/* A connection the client forgot (never closed) gives its thread back. */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof(idle));
		if ((ssl = SSL_new(sctx)) != NULL && SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1)
			serve_conn(ssl);
		SSL_free(ssl);
		close(fd);
		ERR_clear_error();
	}
	return NULL;
}

static void
setup(void)
{
	const char *ip[] = { "127.0.0.1" };
	struct certgen_spec ca = { .cn = "fuzz-ca", .not_before = time(NULL) - 3600,
	    .not_after = time(NULL) + 86400, .is_ca = true };
	struct certgen_spec leaf = { .ips = ip, .n_ips = 1, .cn = "127.0.0.1",
	    .not_before = time(NULL) - 3600, .not_after = time(NULL) + 86400 };
	X509 *ca_cert, *cert;
	EVP_PKEY *ca_key, *key;
	char err[1024], dir[] = "/tmp/tg-fuzz-kube.XXXXXX", path[256], text[2048];
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t salen = sizeof(sa);
	pthread_t t;
	char *pem;
	int n;

	if (certgen_make(&ca, &ca_cert, &ca_key, err, sizeof(err)) != 0)
		goto fail;
	leaf.issuer_cert = ca_cert;
	leaf.issuer_key = ca_key;
	if (certgen_make(&leaf, &cert, &key, err, sizeof(err)) != 0)
		goto fail;
	if ((sctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate(sctx, cert) != 1 || SSL_CTX_use_PrivateKey(sctx, key) != 1)
		goto fail;
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || bind(lfd, (void *)&sa, sizeof(sa)) != 0 ||
	    listen(lfd, 16) != 0 || getsockname(lfd, (void *)&sa, &salen) != 0)
		goto fail;
	if (mkdtemp(dir) == NULL || (pem = certgen_cert_pem(ca_cert)) == NULL)
		goto fail;
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	if (certgen_write_file(path, pem, strlen(pem), 0644, err, sizeof(err)) != 0)
		goto fail;
	free(pem);
	n = snprintf(text, sizeof(text), "apiVersion: v1\nkind: Config\nclusters:\n- name: f\n"
	    "  cluster:\n    server: https://127.0.0.1:%u\n    certificate-authority: ca.crt\n"
	    "users:\n- name: f\n  user:\n    token: fuzz\ncontexts:\n- name: f\n  context: "
	    "{cluster: f, user: f}\ncurrent-context: f\n", (unsigned)ntohs(sa.sin_port));
	snprintf(path, sizeof(path), "%s/kubeconfig", dir);
	if (certgen_write_file(path, text, (size_t)n, 0600, err, sizeof(err)) != 0 ||
	    (kc = kube_client_new_kubeconfig(path, err, sizeof(err))) == NULL ||
	    (kc_watch = kube_client_new_kubeconfig(path, err, sizeof(err))) == NULL)
		goto fail;
	X509_free(ca_cert);
	X509_free(cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	/* A WATCH the client cut short closes with our answer unsent: EPIPE, not SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < SERVERS; i++) {
		if (pthread_create(&t, NULL, server_main, NULL) != 0)
			goto fail;
		pthread_detach(t);
	}
	return;
fail:
	fprintf(stderr, "fuzz_kube: setup: %s\n", err);
	exit(1);
}

static int
on_item(const json_t *obj, void *arg)
{
	(void)arg;
	FUZZ_ASSERT(json_is_object(obj), "an item that is not an object");
	return 0;
}

static int
on_event(const char *type, const json_t *obj, void *arg)
{
	(void)arg;
	FUZZ_ASSERT(type != NULL && json_is_object(obj), "an event without a type or an object");
	return 0;
}

/*
 * The first byte picks the call: 7 modulo 8 a WATCH (a new connection each time, as
 * kube_watch makes them, and a polling loop: about 60 ms an exec), anything else a LIST
 * (about 5 ms on the kept connection); the rest is the body.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char rv[128] = "1", err[1024] = "";
	int rc;

	if (size < 1)
		return 0;
	if (kc == NULL)
		setup();
	pthread_mutex_lock(&lock);
	body = data + 1;
	body_len = size - 1;
	served = 0;
	pthread_mutex_unlock(&lock);
	if (data[0] % 8 != 7) {
		rc = kube_list(kc, "/api/v1/namespaces", on_item, NULL, rv, sizeof(rv), err,
		    sizeof(err));
		FUZZ_ASSERT(rc != KUBE_ERROR || err[0] != '\0', "a LIST failed without a reason");
	} else {
		rc = kube_watch(kc_watch, "/api/v1/namespaces", rv, sizeof(rv), 0, on_event, NULL,
		    NULL, err, sizeof(err));
		FUZZ_ASSERT(rc != KUBE_ERROR || err[0] != '\0', "a WATCH failed without a reason");
	}
	pthread_mutex_lock(&lock);
	body = NULL;
	pthread_mutex_unlock(&lock);
	return 0;
}
