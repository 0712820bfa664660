/* SPDX-License-Identifier: Apache-2.0 */
/* kube: a Kubernetes API client on libcurl + jansson: config, LIST, WATCH, requests, apply. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "base64.h"
#include "certgen.h"
#include "dynbuf.h"
#include "fileio.h"
#include "jsonget.h"
#include "kube.h"
#include "ndjson.h"
#include "yamljson.h"

#define KUBE_SA_DIR        "/var/run/secrets/kubernetes.io/serviceaccount"
#define KUBE_CONFIG_MAX    ((size_t)16 << 20)   /* a kubeconfig, a CA bundle, a cert or key file */
#define KUBE_TOKEN_MAX     ((size_t)1 << 20)
#define KUBE_BODY_MAX      ((size_t)64 << 20)   /* one response (a LIST page of 500 objects) */
#define KUBE_ERRBODY_MAX   ((size_t)1 << 20)    /* a failed watch's Status */
#define KUBE_LINE_MAX      ((size_t)16 << 20)   /* one watch event */
#define KUBE_PAGE_LIMIT    500u
#define KUBE_POOL          8                    /* idle handles (and their connections) kept */
#define KUBE_CONNECT_SECS  10L
#define KUBE_REQUEST_SECS  60L
#define KUBE_WATCH_SLACK   30L   /* beyond timeoutSeconds before we stop waiting ourselves */
#define KUBE_POLL_MS       100
#define KUBE_JSON          "application/json"
#define KUBE_APPLY_YAML    "application/apply-patch+yaml"

struct kube_client {
	char *server;        /* "https://host:port[/prefix]", no trailing '/' */
	char *ns;            /* "" when none */
	char *origin;        /* where the settings came from and what they are, no secret */
	char *auth_desc;     /* "token", "client certificate CN=x", ... for 401 messages */
	char *ca_desc;       /* "CA file F", ... for TLS messages */
	char *ca, *cert, *key;   /* PEM; ca NULL: the system trust store; cert/key NULL: none */
	size_t ca_len, cert_len, key_len;
	unsigned page_limit;
	volatile const int *stop;   /* client-wide: aborts every call in flight */
	_Atomic unsigned long requests;

	pthread_mutex_t mu;  /* guards the members below */
	char *token;         /* NULL: no bearer token */
	char *token_file;    /* re-read when it changes; NULL for a fixed token */
	struct stat token_st;
	CURL *pool[KUBE_POOL];
	size_t npool;
};

/* ---- small helpers ---------------------------------------------------------------------- */

static char *
str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A new string from a printf format; NULL when out of memory. */
static char *
str_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	char *s = malloc((size_t)n + 1);
	if (s == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

static char *
str_dup(const char *s)
{
	return s ? str_printf("%s", s) : NULL;
}

/* Frees a buffer that held a secret, wiping it first. */
static void
free_secret(char *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	free(p);
}

static void
free_secret_str(char *p)
{
	if (p != NULL)
		free_secret(p, strlen(p));
}

/* CURLOPT_WRITEFUNCTION into a dynbuf: a short count (an error) once it fails. */
static size_t
buf_write(char *data, size_t size, size_t n, void *arg)
{
	return dynbuf_add(arg, data, size * n) == DYNBUF_OK ? size * n : 0;
}

/* `value` percent-encoded for a query (new string; curl_free it). */
static char *
query_escape(const char *value)
{
	return curl_easy_escape(NULL, value, 0);
}

/* ---- curl set-up, once per process ---------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static struct kube_client *
client_alloc(char *err, size_t errsz)
{
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		snprintf(err, errsz, "libcurl: %s", curl_easy_strerror(curl_init_rc));
		return NULL;
	}
	struct kube_client *kc = calloc(1, sizeof(*kc));
	if (kc == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&kc->mu, NULL);
	kc->page_limit = KUBE_PAGE_LIMIT;
	return kc;
}

void
kube_client_free(struct kube_client *kc)
{
	if (kc == NULL)
		return;
	for (size_t i = 0; i < kc->npool; i++)
		curl_easy_cleanup(kc->pool[i]);
	free_secret_str(kc->token);
	free_secret(kc->key, kc->key_len);
	free(kc->token_file);
	free(kc->cert);
	free(kc->ca);
	free(kc->ca_desc);
	free(kc->auth_desc);
	free(kc->origin);
	free(kc->ns);
	free(kc->server);
	pthread_mutex_destroy(&kc->mu);
	free(kc);
}

const char *
kube_client_server(const struct kube_client *kc)
{
	return kc->server;
}

const char *
kube_client_namespace(const struct kube_client *kc)
{
	return kc->ns;
}

void
kube_client_describe(const struct kube_client *kc, char *buf, size_t bufsz)
{
	snprintf(buf, bufsz, "%s (%s: %s; %s)", kc->server, kc->origin, kc->auth_desc,
	    kc->ca_desc);
}

unsigned long
kube_client_requests(const struct kube_client *kc)
{
	return kc->requests;
}

void
kube_client_set_stop(struct kube_client *kc, volatile const int *stop)
{
	kc->stop = stop;
}

static bool
stopping(const struct kube_client *kc, volatile const int *also)
{
	return (kc->stop != NULL && *kc->stop) || (also != NULL && *also);
}

void
kube_client_set_page_limit(struct kube_client *kc, unsigned limit)
{
	kc->page_limit = limit ? limit : KUBE_PAGE_LIMIT;
}

/* ---- credentials ------------------------------------------------------------------------ */

/*
 * Reads a token file: surrounding white space trimmed (files end in "\n"), not empty, no
 * control characters (it goes into a header line). New string, or NULL with err set.
 */
static char *
token_read(const char *file, struct stat *st, char *err, size_t errsz)
{
	size_t len;
	struct stat s;

	if (stat(file, &s) < 0) {
		snprintf(err, errsz, "%s: %s", file, strerror(errno));
		return NULL;
	}
	char *t = fileio_read(file, KUBE_TOKEN_MAX, &len, err, errsz);
	if (t == NULL)
		return NULL;
	size_t start = 0, all = len;
	while (len > 0 && isspace((unsigned char)t[len - 1]))
		t[--len] = '\0';
	while (start < len && isspace((unsigned char)t[start]))
		start++;
	memmove(t, t + start, len - start + 1);
	len -= start;
	if (len == 0) {
		snprintf(err, errsz, "%s: the token file is empty", file);
		free_secret(t, all);
		return NULL;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)t[i] <= ' ' || t[i] == 0x7f) {
			snprintf(err, errsz, "%s: the token holds white space or a control character",
			    file);
			free_secret(t, all);
			return NULL;
		}
	}
	*st = s;
	return t;
}

static bool
same_file_version(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/*
 * Sets *h to the "Authorization: Bearer ..." header line (new string, wipe it), re-reading
 * a token file first if it changed; NULL when there is no token. -1 when out of memory.
 * A file that cannot be read right now (a rotation in progress) leaves the token we have.
 */
static int
auth_header(struct kube_client *kc, char **h)
{
	int rc = 0;

	*h = NULL;

	pthread_mutex_lock(&kc->mu);
	if (kc->token_file != NULL) {
		struct stat st;
		if (stat(kc->token_file, &st) == 0 && !same_file_version(&st, &kc->token_st)) {
			char e[256];
			char *t = token_read(kc->token_file, &st, e, sizeof(e));
			if (t != NULL) {
				free_secret_str(kc->token);
				kc->token = t;
				kc->token_st = st;
			}
		}
	}
	if (kc->token != NULL && (*h = str_printf("Authorization: Bearer %s", kc->token)) == NULL)
		rc = -1;
	pthread_mutex_unlock(&kc->mu);
	return rc;
}

/* PEM certificates in pem: at least one. The first one's CN goes to cn when cn != NULL. */
static int
pem_check_certs(const char *pem, size_t len, const char *what, char *cn, size_t cnsz,
    X509 **first, char *err, size_t errsz)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *x;
	int n = 0;

	if (bio == NULL || len > INT_MAX) {
		snprintf(err, errsz, "%s: out of memory", what);
		BIO_free(bio);
		return -1;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, certgen_no_passphrase, NULL)) != NULL) {
		if (n++ == 0) {
			if (cn != NULL && X509_NAME_get_text_by_NID(X509_get_subject_name(x),
			    NID_commonName, cn, (int)cnsz) < 0)
				snprintf(cn, cnsz, "?");
			if (first != NULL) {
				*first = x;
				continue;
			}
		}
		X509_free(x);
	}
	BIO_free(bio);
	ERR_clear_error();
	if (n == 0) {
		snprintf(err, errsz, "%s: no PEM certificate in it", what);
		return -1;
	}
	return 0;
}

/* The client key: a PEM private key, not encrypted, matching the certificate. */
static int
pem_check_key(const char *pem, size_t len, X509 *cert, const char *what, char *err,
    size_t errsz)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *pk = bio && len <= INT_MAX ?
	    PEM_read_bio_PrivateKey(bio, NULL, certgen_no_passphrase, NULL) : NULL;
	int rc = 0;

	BIO_free(bio);
	if (pk == NULL) {
		snprintf(err, errsz, "%s: no PEM private key in it (encrypted keys are not supported)",
		    what);
		rc = -1;
	} else if (X509_check_private_key(cert, pk) != 1) {
		snprintf(err, errsz, "%s: the key does not match the client certificate", what);
		rc = -1;
	}
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return rc;
}

/* ---- kubeconfig ------------------------------------------------------------------------- */

/* The mapping under `key` of the element of `list` whose name is `name`; NULL if none. */
static const json_t *
kubeconfig_named(const json_t *list, const char *key, const char *name)
{
	size_t i;
	const json_t *e;

	json_array_foreach(list, i, e) {
		const char *n = jsonget_str(e, "name");
		if (n != NULL && strcmp(n, name) == 0) {
			const json_t *v = json_object_get(e, key);
			return json_is_object(v) ? v : NULL;
		}
	}
	return NULL;
}

/* `file` as kubectl reads it: relative to the kubeconfig's directory. New string. */
static char *
kubeconfig_path(const char *dir, const char *file)
{
	return file[0] == '/' ? str_dup(file) : str_printf("%s/%s", dir, file);
}

/*
 * Loads the PEM of a "<name>-data" (base64) or "<name>" (file) pair of `obj`; the -data
 * form wins, as in kubectl. *out stays NULL when neither is there. *source describes it
 * (new string). Messages start with `where` ("PATH: user \"u\"").
 */
static int
kubeconfig_pem(const json_t *obj, const char *name, const char *dir, const char *where, char **out,
    size_t *outlen, char **source, char *err, size_t errsz)
{
	char data_key[64];
	snprintf(data_key, sizeof(data_key), "%s-data", name);
	const json_t *data = json_object_get(obj, data_key);
	const json_t *file = json_object_get(obj, name);

	*out = NULL;
	*source = NULL;
	if (data != NULL && !json_is_null(data)) {
		const char *s = json_string_value(data);
		unsigned char *raw;
		size_t rawlen;
		if (s == NULL || base64_decode(s, strlen(s), &raw, &rawlen) < 0) {
			snprintf(err, errsz, "%s: %s: not base64", where, data_key);
			return -1;
		}
		*out = (char *)raw;
		*outlen = rawlen;
		*source = str_printf("%s", data_key);
	} else if (file != NULL && !json_is_null(file)) {
		const char *s = json_string_value(file);
		if (s == NULL || s[0] == '\0') {
			snprintf(err, errsz, "%s: %s: not a file name", where, name);
			return -1;
		}
		char *p = kubeconfig_path(dir, s), e[512];
		if (p == NULL || (*out = fileio_read(p, KUBE_CONFIG_MAX, outlen, e, sizeof(e))) ==
		    NULL) {
			snprintf(err, errsz, "%s: %s: %s", where, name, p ? e : "out of memory");
			free(p);
			return -1;
		}
		*source = str_printf("file %s", p);
		free(p);
	}
	return 0;
}

/* Fills the TLS and credential members of kc from a kubeconfig's cluster and user. */
static int
kubeconfig_apply(struct kube_client *kc, const char *path, const char *dir, const char *cname,
    const json_t *cluster, const char *uname, const json_t *user, char *err, size_t errsz)
{
	char where[1024], e[1100], cn[256] = "";
	char *src = NULL, *keysrc = NULL;
	X509 *x = NULL;
	int rc = -1;

	snprintf(where, sizeof(where), "%s: cluster \"%s\"", path, cname);
	const char *server = jsonget_str(cluster, "server");
	if (server == NULL || server[0] == '\0') {
		snprintf(err, errsz, "%s: no server", where);
		goto out;
	}
	if (strncasecmp(server, "https://", 8) != 0) {
		snprintf(err, errsz, "%s: server \"%s\" is not https: credentials go over TLS only",
		    where, server);
		goto out;
	}
	if (json_is_true(json_object_get(cluster, "insecure-skip-tls-verify"))) {
		snprintf(err, errsz, "%s: insecure-skip-tls-verify is refused: give "
		    "certificate-authority or certificate-authority-data", where);
		goto out;
	}
	kc->server = str_dup(server);
	if (kc->server == NULL)
		goto nomem;
	for (size_t n = strlen(kc->server); n > 8 && kc->server[n - 1] == '/'; n--)
		kc->server[n - 1] = '\0';
	if (kubeconfig_pem(cluster, "certificate-authority", dir, where, &kc->ca, &kc->ca_len, &src, err,
	    errsz) < 0)
		goto out;
	if (kc->ca != NULL) {
		snprintf(e, sizeof(e), "%s: certificate-authority", where);
		if (pem_check_certs(kc->ca, kc->ca_len, e, NULL, 0, NULL, err, errsz) < 0)
			goto out;
		kc->ca_desc = str_printf("CA %s", src);
	} else {
		kc->ca_desc = str_printf("CA: the system trust store");
	}
	free(src);
	src = NULL;

	snprintf(where, sizeof(where), "%s: user \"%s\"", path, uname);
	static const char *const plugins[] = { "exec", "auth-provider", "username", "password" };
	for (size_t i = 0; i < sizeof(plugins) / sizeof(plugins[0]); i++) {
		if (json_object_get(user, plugins[i]) != NULL) {
			snprintf(err, errsz, "%s: %s is not supported: use token, tokenFile or "
			    "client-certificate and client-key", where, plugins[i]);
			goto out;
		}
	}
	const json_t *tok = json_object_get(user, "token");
	const json_t *tokfile = json_object_get(user, "tokenFile");
	char *auth_token = NULL;
	if (tok != NULL && !json_is_null(tok)) {
		const char *t = json_string_value(tok);
		if (t == NULL || t[0] == '\0') {
			snprintf(err, errsz, "%s: token: not a string", where);
			goto out;
		}
		for (const char *c = t; *c; c++) {
			if ((unsigned char)*c <= ' ' || *c == 0x7f) {
				snprintf(err, errsz, "%s: token holds white space or a control character",
				    where);
				goto out;
			}
		}
		if ((kc->token = str_dup(t)) == NULL)
			goto nomem;
		auth_token = str_printf("token");
	} else if (tokfile != NULL && !json_is_null(tokfile)) {
		const char *t = json_string_value(tokfile);
		if (t == NULL || t[0] == '\0') {
			snprintf(err, errsz, "%s: tokenFile: not a file name", where);
			goto out;
		}
		if ((kc->token_file = kubeconfig_path(dir, t)) == NULL)
			goto nomem;
		kc->token = token_read(kc->token_file, &kc->token_st, e, sizeof(e));
		if (kc->token == NULL) {
			snprintf(err, errsz, "%s: tokenFile: %s", where, e);
			goto out;
		}
		auth_token = str_printf("token from file %s", kc->token_file);
	}

	if (kubeconfig_pem(user, "client-certificate", dir, where, &kc->cert, &kc->cert_len, &src, err,
	    errsz) < 0 ||
	    kubeconfig_pem(user, "client-key", dir, where, &kc->key, &kc->key_len, &keysrc, err,
	    errsz) < 0) {
		free(auth_token);
		goto out;
	}
	if ((kc->cert == NULL) != (kc->key == NULL)) {
		snprintf(err, errsz, "%s: %s without %s", where,
		    kc->cert ? "client-certificate" : "client-key",
		    kc->cert ? "client-key" : "client-certificate");
		free(auth_token);
		goto out;
	}
	if (kc->cert != NULL) {
		snprintf(e, sizeof(e), "%s: client-certificate", where);
		if (pem_check_certs(kc->cert, kc->cert_len, e, cn, sizeof(cn), &x, err, errsz) < 0) {
			free(auth_token);
			goto out;
		}
		snprintf(e, sizeof(e), "%s: client-key", where);
		if (pem_check_key(kc->key, kc->key_len, x, e, err, errsz) < 0) {
			free(auth_token);
			goto out;
		}
	}
	if (kc->cert && auth_token)
		kc->auth_desc = str_printf("%s and client certificate CN=%s (%s)", auth_token, cn, src);
	else if (kc->cert)
		kc->auth_desc = str_printf("client certificate CN=%s (%s)", cn, src);
	else if (auth_token)
		kc->auth_desc = str_dup(auth_token);
	else
		kc->auth_desc = str_printf("no credentials");
	free(auth_token);
	if (kc->auth_desc == NULL || kc->ca_desc == NULL)
		goto nomem;
	rc = 0;
	goto out;
nomem:
	snprintf(err, errsz, "%s: out of memory", path);
out:
	X509_free(x);
	free(src);
	free(keysrc);
	return rc;
}

struct kube_client *
kube_client_new_kubeconfig(const char *path, char *err, size_t errsz)
{
	struct kube_client *kc = client_alloc(err, errsz);
	json_t *docs = NULL;
	char *text = NULL, *dir = NULL;
	size_t len;

	if (kc == NULL)
		return NULL;
	if ((text = fileio_read(path, KUBE_CONFIG_MAX, &len, err, errsz)) == NULL)
		goto fail;
	docs = yamljson_load(path, text, len, NULL, err, errsz);
	free_secret(text, len);   /* it may hold tokens and keys */
	if (docs == NULL)
		goto fail;
	const json_t *doc = json_array_get(docs, 0);
	if (!json_is_object(doc)) {
		snprintf(err, errsz, "%s: not a kubeconfig (no mapping)", path);
		goto fail;
	}
	const char *cur = jsonget_str(doc, "current-context");
	if (cur == NULL || cur[0] == '\0') {
		snprintf(err, errsz, "%s: no current-context (kubectl config use-context NAME)", path);
		goto fail;
	}
	const json_t *ctx = kubeconfig_named(json_object_get(doc, "contexts"), "context", cur);
	if (ctx == NULL) {
		snprintf(err, errsz, "%s: current-context \"%s\" is not among its contexts", path, cur);
		goto fail;
	}
	const char *cname = jsonget_str(ctx, "cluster"), *uname = jsonget_str(ctx, "user");
	const char *ns = jsonget_str(ctx, "namespace");
	if (cname == NULL || cname[0] == '\0') {
		snprintf(err, errsz, "%s: context \"%s\" names no cluster", path, cur);
		goto fail;
	}
	const json_t *cluster = kubeconfig_named(json_object_get(doc, "clusters"), "cluster", cname);
	if (cluster == NULL) {
		snprintf(err, errsz, "%s: context \"%s\" names cluster \"%s\", which is not among its "
		    "clusters", path, cur, cname);
		goto fail;
	}
	const json_t *user = NULL;
	json_t *nobody = json_object();
	if (uname != NULL && uname[0] != '\0') {
		user = kubeconfig_named(json_object_get(doc, "users"), "user", uname);
		if (user == NULL) {
			snprintf(err, errsz, "%s: context \"%s\" names user \"%s\", which is not among "
			    "its users", path, cur, uname);
			json_decref(nobody);
			goto fail;
		}
	}
	const char *slash = strrchr(path, '/');
	dir = slash == NULL ? str_dup(".") : slash == path ? str_dup("/") :
	    str_printf("%.*s", (int)(slash - path), path);
	if (dir == NULL) {
		snprintf(err, errsz, "%s: out of memory", path);
		json_decref(nobody);
		goto fail;
	}
	int rc = kubeconfig_apply(kc, path, dir, cname, cluster, uname ? uname : "", user ? user : nobody,
	    err, errsz);
	json_decref(nobody);
	if (rc < 0)
		goto fail;
	kc->ns = str_dup(ns ? ns : "");
	kc->origin = str_printf("kubeconfig %s, context %s, user %s", path, cur,
	    uname && uname[0] ? uname : "(none)");
	if (kc->ns == NULL || kc->origin == NULL) {
		snprintf(err, errsz, "%s: out of memory", path);
		goto fail;
	}
	json_decref(docs);
	free(dir);
	return kc;
fail:
	json_decref(docs);
	free(dir);
	kube_client_free(kc);
	return NULL;
}

struct kube_client *
kube_client_new_in_cluster(const char *sa_dir, char *err, size_t errsz)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char e[1024];
	char *file = NULL;
	size_t len;

	if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0') {
		snprintf(err, errsz, "not running in a cluster: KUBERNETES_SERVICE_HOST and "
		    "KUBERNETES_SERVICE_PORT are not set (use --kubeconfig)");
		return NULL;
	}
	if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
	    strpbrk(host, "/?#@ ") != NULL) {
		snprintf(err, errsz, "in-cluster: KUBERNETES_SERVICE_HOST \"%s\" / "
		    "KUBERNETES_SERVICE_PORT \"%s\" do not make an address", host, port);
		return NULL;
	}
	struct kube_client *kc = client_alloc(err, errsz);
	if (kc == NULL)
		return NULL;
	if (sa_dir == NULL)
		sa_dir = KUBE_SA_DIR;
	/* An IPv6 address goes in brackets. */
	kc->server = strchr(host, ':') ? str_printf("https://[%s]:%s", host, port) :
	    str_printf("https://%s:%s", host, port);
	kc->token_file = str_printf("%s/token", sa_dir);
	file = str_printf("%s/ca.crt", sa_dir);
	if (kc->server == NULL || kc->token_file == NULL || file == NULL)
		goto nomem;
	kc->token = token_read(kc->token_file, &kc->token_st, e, sizeof(e));
	if (kc->token == NULL) {
		snprintf(err, errsz, "in-cluster: %s", e);
		goto fail;
	}
	if ((kc->ca = fileio_read(file, KUBE_CONFIG_MAX, &kc->ca_len, e, sizeof(e))) == NULL) {
		snprintf(err, errsz, "in-cluster: %s", e);
		goto fail;
	}
	if (pem_check_certs(kc->ca, kc->ca_len, file, NULL, 0, NULL, e, sizeof(e)) < 0) {
		snprintf(err, errsz, "in-cluster: %s", e);
		goto fail;
	}
	kc->ca_desc = str_printf("CA file %s", file);
	free(file);
	/* The namespace file is there in every pod; without it we just know none. */
	if ((file = str_printf("%s/namespace", sa_dir)) == NULL)
		goto nomem;
	char *ns = fileio_read(file, 4096, &len, e, sizeof(e));
	while (ns != NULL && len > 0 && isspace((unsigned char)ns[len - 1]))
		ns[--len] = '\0';
	kc->ns = ns ? ns : str_dup("");
	kc->origin = str_printf("in-cluster");
	kc->auth_desc = str_printf("token from file %s", kc->token_file);
	if (kc->ns == NULL || kc->origin == NULL || kc->auth_desc == NULL || kc->ca_desc == NULL)
		goto nomem;
	free(file);
	return kc;
nomem:
	snprintf(err, errsz, "in-cluster: out of memory");
fail:
	free(file);
	kube_client_free(kc);
	return NULL;
}

/* ---- requests --------------------------------------------------------------------------- */

struct req {
	struct kube_client *kc;
	CURL *h;
	struct curl_slist *hdrs;
	char *auth;
	char *url;
	char *body;
	const char *content_type;   /* of body; NULL: application/json */
	volatile const int *stop;   /* this call's own stop flag, besides the client's */
	char errbuf[CURL_ERROR_SIZE];
};

static int
req_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	const struct req *r = arg;
	(void)dltotal; (void)dlnow; (void)ultotal; (void)ulnow;
	return stopping(r->kc, r->stop) ? 1 : 0;
}

static CURL *
handle_take(struct kube_client *kc)
{
	CURL *h = NULL;

	pthread_mutex_lock(&kc->mu);
	if (kc->npool > 0)
		h = kc->pool[--kc->npool];
	pthread_mutex_unlock(&kc->mu);
	if (h != NULL)
		curl_easy_reset(h);   /* keeps its live connection for reuse */
	else
		h = curl_easy_init();
	return h;
}

static void
handle_give(struct kube_client *kc, CURL *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&kc->mu);
	if (kc->npool < KUBE_POOL) {
		kc->pool[kc->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&kc->mu);
	if (h != NULL)
		curl_easy_cleanup(h);
}

static void
req_done(struct kube_client *kc, struct req *r)
{
	handle_give(kc, r->h);
	curl_slist_free_all(r->hdrs);
	free_secret_str(r->auth);
	free(r->url);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/*
 * A handle for METHOD on r->url with the client's TLS settings and credentials, and the
 * JSON text r->body (may be NULL) as the request body.
 */
static int
req_prepare(struct kube_client *kc, struct req *r, const char *method, char *err,
    size_t errsz)
{
	struct curl_blob ca = { kc->ca, kc->ca_len, CURL_BLOB_NOCOPY };
	struct curl_blob cert = { kc->cert, kc->cert_len, CURL_BLOB_NOCOPY };
	struct curl_blob key = { kc->key, kc->key_len, CURL_BLOB_NOCOPY };
	struct curl_slist *l;

	r->errbuf[0] = '\0';
	kc->requests++;
	if ((r->h = handle_take(kc)) == NULL)
		goto nomem;
	if (auth_header(kc, &r->auth) < 0)
		goto nomem;
	static const char *const fixed[] = { "Accept: application/json", "Expect:" };
	for (size_t i = 0; i < 2; i++) {
		if ((l = curl_slist_append(r->hdrs, fixed[i])) == NULL)
			goto nomem;
		r->hdrs = l;
	}
	if (r->body != NULL) {
		char ct[128];
		snprintf(ct, sizeof(ct), "Content-Type: %s",
		    r->content_type ? r->content_type : KUBE_JSON);
		if ((l = curl_slist_append(r->hdrs, ct)) == NULL)
			goto nomem;
		r->hdrs = l;
	}
	if (r->auth != NULL) {
		if ((l = curl_slist_append(r->hdrs, r->auth)) == NULL)
			goto nomem;
		r->hdrs = l;
	}
	CURL *h = r->h;
	curl_easy_setopt(h, CURLOPT_URL, r->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, KUBE_CONNECT_SECS);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "tenantguard");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->hdrs);
	r->kc = kc;
	if (kc->stop != NULL || r->stop != NULL) {
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, req_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, r);
	}
	if (kc->ca != NULL) {
		/* The cluster's CA only: not the system store besides it. */
		curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
	}
	if (kc->cert != NULL) {
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
	}
	if (strcmp(method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (r->body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
	}
	return 0;
nomem:
	snprintf(err, errsz, "%s %s: out of memory", method, r->url ? r->url : "");
	return -1;
}

/* Why a request got no HTTP answer, in words an operator can act on. */
static void
transport_error(struct kube_client *kc, struct req *r, CURLcode rc, const char *what,
    char *err, size_t errsz)
{
	long oserr = 0;
	curl_off_t connected = 0;
	const char *why = r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc);

	curl_easy_getinfo(r->h, CURLINFO_OS_ERRNO, &oserr);
	curl_easy_getinfo(r->h, CURLINFO_CONNECT_TIME_T, &connected);
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		snprintf(err, errsz, "cannot reach %s: %s", kc->server,
		    oserr ? strerror((int)oserr) : why);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		if (connected == 0)
			snprintf(err, errsz, "cannot reach %s: %s", kc->server, why);
		else
			snprintf(err, errsz, "%s: no answer from %s in time: %s", what, kc->server, why);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		snprintf(err, errsz, "TLS verification of %s failed (%s): %s", kc->server,
		    kc->ca_desc, why);
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
		snprintf(err, errsz, "TLS handshake with %s failed: %s", kc->server, why);
		break;
	default:
		snprintf(err, errsz, "%s on %s: %s", what, kc->server, why);
		break;
	}
}

/*
 * Why the apiserver said no, from its Status (`status` may be NULL, `text` the raw body).
 * 403 messages pass through: they name the user, verb, resource and scope RBAC lacks.
 */
static void
http_error(struct kube_client *kc, const char *what, long code, const json_t *status,
    const char *text, char *err, size_t errsz)
{
	const char *msg = jsonget_str(status, "message"), *reason = jsonget_str(status, "reason");
	char snippet[256];

	if (msg == NULL) {
		snprintf(snippet, sizeof(snippet), "%.200s", text ? text : "");
		for (char *c = snippet; *c; c++)
			if ((unsigned char)*c < ' ')
				*c = ' ';
		msg = snippet[0] ? snippet : "(no message)";
	}
	switch (code) {
	case 401:
		snprintf(err, errsz, "%s: the apiserver rejected our credentials (401 Unauthorized; "
		    "%s): %s", what, kc->auth_desc, msg);
		break;
	case 403:
		snprintf(err, errsz, "%s: forbidden (403): %s", what, msg);
		break;
	case 410:
		snprintf(err, errsz, "%s: expired (410), relist: %s", what, msg);
		break;
	default:
		snprintf(err, errsz, "%s: %ld %s: %s", what, code, reason ? reason : "", msg);
		break;
	}
}

/*
 * Sends METHOD to server+path (path_q: with our query) with `obj` as a body of content_type
 * (NULL: JSON) within the limits of `o` (may be NULL), and collects the answer in *b.
 * Returns the HTTP status, or with err set -1 when there is none, -2 when a stop flag (the
 * client's or the call's) cut it short.
 */
static long
request(struct kube_client *kc, const char *method, const char *path, const char *path_q,
    const json_t *obj, const char *content_type, const struct kube_call_opts *o,
    struct dynbuf *b, char *err, size_t errsz)
{
	struct req r = { .content_type = content_type, .stop = o ? o->stop : NULL };
	char what[512];
	long status = -1;

	snprintf(what, sizeof(what), "%s %s", method, path);
	dynbuf_init(b, KUBE_BODY_MAX);
	if ((r.url = str_printf("%s%s", kc->server, path_q)) == NULL ||
	    (obj != NULL && (r.body = json_dumps(obj, JSON_COMPACT)) == NULL)) {
		snprintf(err, errsz, "%s: out of memory", what);
		goto out;
	}
	if (req_prepare(kc, &r, method, err, errsz) < 0)
		goto out;
	curl_easy_setopt(r.h, CURLOPT_WRITEFUNCTION, buf_write);
	curl_easy_setopt(r.h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(r.h, CURLOPT_TIMEOUT_MS, o && o->timeout_ms > 0 ? o->timeout_ms :
	    KUBE_REQUEST_SECS * 1000);
	if (stopping(kc, r.stop)) {
		snprintf(err, errsz, "%s: stopped", what);
		status = -2;
		goto out;
	}
	curl_easy_setopt(r.h, CURLOPT_ACCEPT_ENCODING, "");   /* the cap applies to decoded bytes */
	CURLcode rc = curl_easy_perform(r.h);
	if (rc == CURLE_ABORTED_BY_CALLBACK && stopping(kc, r.stop)) {
		snprintf(err, errsz, "%s: stopped", what);
		status = -2;
	} else if (rc == CURLE_WRITE_ERROR && b->failed == DYNBUF_TOOBIG)
		snprintf(err, errsz, "%s: the answer is larger than %zu MiB", what,
		    KUBE_BODY_MAX >> 20);
	else if (rc == CURLE_WRITE_ERROR)
		snprintf(err, errsz, "%s: out of memory", what);
	else if (rc != CURLE_OK)
		transport_error(kc, &r, rc, what, err, errsz);
	else
		curl_easy_getinfo(r.h, CURLINFO_RESPONSE_CODE, &status);
out:
	req_done(kc, &r);
	if (status < 0) {
		free(b->p);
		memset(b, 0, sizeof(*b));
	}
	return status;
}

/* One request and its answer decoded; path_q is path with our query, if any. */
static int
request_json(struct kube_client *kc, const char *method, const char *path, const char *path_q,
    const json_t *obj, const char *content_type, const struct kube_call_opts *o,
    json_t **body, char *err, size_t errsz)
{
	struct dynbuf b;
	char what[512];

	*body = NULL;
	long status = request(kc, method, path, path_q, obj, content_type, o, &b, err, errsz);
	if (status < 0)
		return -1;   /* stopped, too */
	if (b.len > 0)
		*body = json_loadb(b.p, b.len, JSON_REJECT_DUPLICATES, NULL);
	if (status < 200 || status > 299) {
		snprintf(what, sizeof(what), "%s %s", method, path);
		http_error(kc, what, status, *body, b.p, err, errsz);
	}
	dynbuf_free(&b);
	return (int)status;
}

int
kube_call(struct kube_client *kc, const char *method, const char *path, const json_t *obj,
    const struct kube_call_opts *opts, json_t **body, char *err, size_t errsz)
{
	return request_json(kc, method, path, path, obj, NULL, opts, body, err, errsz);
}

int
kube_get(struct kube_client *kc, const char *path, json_t **body, char *err, size_t errsz)
{
	return kube_call(kc, "GET", path, NULL, NULL, body, err, errsz);
}

int
kube_create(struct kube_client *kc, const char *path, const json_t *obj, json_t **body,
    char *err, size_t errsz)
{
	return kube_call(kc, "POST", path, obj, NULL, body, err, errsz);
}

int
kube_update(struct kube_client *kc, const char *path, const json_t *obj, json_t **body,
    char *err, size_t errsz)
{
	return kube_call(kc, "PUT", path, obj, NULL, body, err, errsz);
}

int
kube_delete(struct kube_client *kc, const char *path, const json_t *obj, json_t **body,
    char *err, size_t errsz)
{
	return kube_call(kc, "DELETE", path, obj, NULL, body, err, errsz);
}

int
kube_apply(struct kube_client *kc, const char *path, const json_t *obj,
    const char *field_manager, json_t **body, char *err, size_t errsz)
{
	char *esc = query_escape(field_manager), *pq = NULL;
	int st = -1;

	*body = NULL;
	if (esc == NULL || (pq = str_printf("%s%cfieldManager=%s&force=true", path,
	    strchr(path, '?') ? '&' : '?', esc)) == NULL) {
		snprintf(err, errsz, "PATCH %s: out of memory", path);
		goto out;
	}
	st = request_json(kc, "PATCH", path, pq, obj, KUBE_APPLY_YAML, NULL, body, err, errsz);
out:
	curl_free(esc);
	free(pq);
	return st;
}

/* ---- LIST ------------------------------------------------------------------------------- */

/* Gives each item the kind ("FooList" -> "Foo") and apiVersion its List leaves out. */
static void
list_fill_kind(json_t *item, const char *list_kind, const char *api_version)
{
	size_t n = list_kind ? strlen(list_kind) : 0;

	if (json_object_get(item, "kind") == NULL && n > 4 &&
	    strcmp(list_kind + n - 4, "List") == 0)
		json_object_set_new(item, "kind", json_stringn(list_kind, n - 4));
	if (json_object_get(item, "apiVersion") == NULL && api_version != NULL)
		json_object_set_new(item, "apiVersion", json_string(api_version));
}

int
kube_list(struct kube_client *kc, const char *path,
    int (*item)(const json_t *obj, void *arg), void *arg,
    char *resource_version_out, size_t rvsz, char *err, size_t errsz)
{
	const char sep = strchr(path, '?') ? '&' : '?';
	char *cont = NULL, what[512];
	int result = KUBE_ERROR;

	snprintf(what, sizeof(what), "GET %s", path);
	if (rvsz > 0)
		resource_version_out[0] = '\0';
	for (;;) {
		char *esc = cont ? query_escape(cont) : NULL;
		char *pq = str_printf("%s%climit=%u%s%s", path, sep, kc->page_limit,
		    esc ? "&continue=" : "", esc ? esc : "");
		struct dynbuf b;
		json_t *list = NULL;
		json_error_t je;

		bool nomem = pq == NULL || (cont != NULL && esc == NULL);
		curl_free(esc);
		if (nomem) {
			snprintf(err, errsz, "%s: out of memory", what);
			free(pq);
			break;
		}
		long status = request(kc, "GET", path, pq, NULL, NULL, NULL, &b, err, errsz);
		free(pq);
		if (status == -2)
			result = KUBE_STOPPED;
		if (status < 0)
			break;
		if (b.len > 0)
			list = json_loadb(b.p, b.len, JSON_REJECT_DUPLICATES, &je);
		if (status == 200 && list == NULL)
			snprintf(err, errsz, "%s: undecodable answer: %s", what,
			    b.len > 0 ? je.text : "empty");
		if (status != 200) {
			http_error(kc, what, status, list, b.p, err, errsz);
			if (status == 410)
				result = KUBE_GONE;
		}
		dynbuf_free(&b);
		if (status != 200 || list == NULL) {
			json_decref(list);
			break;
		}
		const json_t *items = json_object_get(list, "items");
		const json_t *meta = json_object_get(list, "metadata");
		const char *rv = jsonget_str(meta, "resourceVersion");
		const char *next = jsonget_str(meta, "continue");
		const char *lkind = jsonget_str(list, "kind"), *apiv = jsonget_str(list, "apiVersion");
		if (!json_is_array(items) || rv == NULL) {
			snprintf(err, errsz, "%s: the answer is not a list (no items or resourceVersion)",
			    what);
			json_decref(list);
			break;
		}
		size_t i;
		json_t *it;
		int stop = 0;
		json_array_foreach(items, i, it) {
			if (!json_is_object(it))
				continue;
			list_fill_kind(it, lkind, apiv);
			if (item(it, arg) != 0) {
				snprintf(err, errsz, "%s: the item handler stopped the list at item %zu",
				    what, i);
				stop = 1;
				break;
			}
		}
		if (!stop && strlen(rv) >= rvsz) {
			snprintf(err, errsz, "%s: resourceVersion \"%.64s\" does not fit %zu bytes", what,
			    rv, rvsz);
			stop = 1;
		}
		if (!stop)
			memcpy(resource_version_out, rv, strlen(rv) + 1);
		free(cont);
		cont = NULL;
		if (!stop && next != NULL && next[0] != '\0' && (cont = str_dup(next)) == NULL) {
			snprintf(err, errsz, "%s: out of memory", what);
			stop = 1;
		}
		json_decref(list);
		if (stop)
			break;
		if (cont == NULL) {
			result = KUBE_OK;
			break;
		}
	}
	free(cont);
	return result;
}

/* ---- WATCH ------------------------------------------------------------------------------ */

struct watch {
	struct kube_client *kc;
	CURL *h;
	struct ndjson *nd;
	int (*event)(const char *type, const json_t *obj, void *arg);
	void *arg;
	char *rv;
	size_t rvsz;
	volatile const int *stop;
	long status;         /* 0 until the first body bytes */
	struct dynbuf errbody;  /* the body of a non-200 answer */
	int result;          /* what a line decided; KUBE_OK while none did */
	const char *what;
	char *err;
	size_t errsz;
};

/* One event line: decoded, ERROR events turned into results, the rest handed out. */
static int
watch_line(const char *line, size_t len, void *arg)
{
	struct watch *w = arg;
	json_error_t je;
	json_t *ev = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);

	if (ev == NULL) {
		snprintf(w->err, w->errsz, "%s: undecodable event: %s", w->what, je.text);
		w->result = KUBE_ERROR;
		return 1;
	}
	const char *type = jsonget_str(ev, "type");
	const json_t *obj = json_object_get(ev, "object");
	if (type == NULL || !json_is_object(obj)) {
		snprintf(w->err, w->errsz, "%s: an event without type or object", w->what);
		w->result = KUBE_ERROR;
	} else if (strcmp(type, "ERROR") == 0) {
		json_int_t code = json_integer_value(json_object_get(obj, "code"));
		const char *msg = jsonget_str(obj, "message");
		const char *reason = jsonget_str(obj, "reason");
		if (code == 410)
			snprintf(w->err, w->errsz, "%s: expired (410 %s), relist: %s", w->what,
			    reason ? reason : "Gone", msg ? msg : "");
		else
			snprintf(w->err, w->errsz, "%s: error event (%lld %s): %s", w->what,
			    (long long)code, reason ? reason : "", msg ? msg : "");
		w->result = code == 410 ? KUBE_GONE : KUBE_ERROR;
	} else {
		const char *rv = jsonget_str(json_object_get(obj, "metadata"), "resourceVersion");
		if (w->event(type, obj, w->arg) != 0) {
			snprintf(w->err, w->errsz, "%s: the event handler stopped the watch at a %s event",
			    w->what, type);
			w->result = KUBE_ERROR;
		} else if (rv != NULL && strlen(rv) >= w->rvsz) {
			snprintf(w->err, w->errsz, "%s: resourceVersion \"%.64s\" does not fit %zu bytes",
			    w->what, rv, w->rvsz);
			w->result = KUBE_ERROR;
		} else if (rv != NULL) {
			memcpy(w->rv, rv, strlen(rv) + 1);
		}
	}
	json_decref(ev);
	return w->result != KUBE_OK;
}

static size_t
watch_write(char *data, size_t size, size_t n, void *arg)
{
	struct watch *w = arg;
	size_t len = size * n;

	if (w->status == 0)
		curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->status);
	if (w->status != 200) {
		(void)dynbuf_add(&w->errbody, data, len);   /* beyond the cap: dropped, the start tells */
		return len;
	}
	int rc = ndjson_feed(w->nd, data, len, watch_line, w);
	if (rc == 0)
		return len;
	if (rc == NDJSON_TOO_LONG)
		snprintf(w->err, w->errsz, "%s: an event longer than %zu MiB", w->what,
		    KUBE_LINE_MAX >> 20);
	else if (rc == NDJSON_NOMEM)
		snprintf(w->err, w->errsz, "%s: out of memory", w->what);
	if (rc < 0)
		w->result = KUBE_ERROR;
	return 0;   /* aborts the transfer */
}

static int
watch_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	struct watch *w = arg;
	(void)dltotal; (void)dlnow; (void)ultotal; (void)ulnow;
	return stopping(w->kc, w->stop) ? 1 : 0;
}

int
kube_watch(struct kube_client *kc, const char *path, char *resource_version, size_t rvsz,
    int timeout_seconds, int (*event)(const char *type, const json_t *obj, void *arg),
    void *arg, volatile const int *stop, char *err, size_t errsz)
{
	struct watch w = { .kc = kc, .event = event, .arg = arg, .rv = resource_version,
	    .rvsz = rvsz, .stop = stop, .result = KUBE_OK, .err = err, .errsz = errsz };
	struct req r = { 0 };
	char what[512], tmo[32] = "";
	char *esc = NULL;
	CURLM *m = NULL;
	bool stopped = false;
	CURLcode rc = CURLE_OK;
	int result = KUBE_ERROR;

	snprintf(what, sizeof(what), "watch %s", path);
	w.what = what;
	dynbuf_init(&w.errbody, KUBE_ERRBODY_MAX);
	if (rvsz == 0 || memchr(resource_version, '\0', rvsz) == NULL) {
		snprintf(err, errsz, "%s: the resourceVersion buffer holds no string", what);
		return KUBE_ERROR;
	}
	if (timeout_seconds > 0)
		snprintf(tmo, sizeof(tmo), "&timeoutSeconds=%d", timeout_seconds);
	if ((w.nd = ndjson_new(KUBE_LINE_MAX)) == NULL ||
	    (esc = query_escape(resource_version)) == NULL ||
	    (r.url = str_printf("%s%s%cwatch=1&allowWatchBookmarks=true%s%s%s", kc->server, path,
	    strchr(path, '?') ? '&' : '?', esc[0] ? "&resourceVersion=" : "", esc, tmo)) == NULL ||
	    (m = curl_multi_init()) == NULL) {
		snprintf(err, errsz, "%s: out of memory", what);
		goto out;
	}
	if (req_prepare(kc, &r, "GET", err, errsz) < 0)
		goto out;
	w.h = r.h;
	curl_easy_setopt(r.h, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(r.h, CURLOPT_WRITEDATA, &w);
	curl_easy_setopt(r.h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(r.h, CURLOPT_XFERINFOFUNCTION, watch_progress);
	curl_easy_setopt(r.h, CURLOPT_XFERINFODATA, &w);
	/* Should the server never end it (a dead peer), we do, a while after it should have. */
	if (timeout_seconds > 0)
		curl_easy_setopt(r.h, CURLOPT_TIMEOUT, (long)timeout_seconds + KUBE_WATCH_SLACK);
	curl_multi_add_handle(m, r.h);

	/*
	 * Our own loop rather than curl_easy_perform: its idle wait is a second long, and a
	 * shutdown should not wait that long for every watch. The progress callback also
	 * aborts a transfer that is busy receiving.
	 */
	int running = 1;
	while (running) {
		if (stopping(kc, stop)) {
			stopped = true;
			break;
		}
		CURLMcode mc = curl_multi_perform(m, &running);
		if (mc == CURLM_OK && running)
			mc = curl_multi_poll(m, NULL, 0, KUBE_POLL_MS, NULL);
		if (mc != CURLM_OK) {
			snprintf(err, errsz, "%s: %s", what, curl_multi_strerror(mc));
			curl_multi_remove_handle(m, r.h);
			goto out;
		}
	}
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(m, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			rc = msg->data.result;
	curl_multi_remove_handle(m, r.h);

	if (stopped || (rc == CURLE_ABORTED_BY_CALLBACK && stopping(kc, stop))) {
		snprintf(err, errsz, "%s: stopped", what);
		result = KUBE_STOPPED;
	} else if (w.result != KUBE_OK) {
		result = w.result;   /* err already says why */
	} else if (rc != CURLE_OK && w.status == 200) {
		/* Mid-stream: the apiserver went away, or never closed it in time. */
		snprintf(err, errsz, "%s: the connection to %s broke off: %s", what, kc->server,
		    r.errbuf[0] ? r.errbuf : curl_easy_strerror(rc));
	} else if (rc != CURLE_OK) {
		transport_error(kc, &r, rc, what, err, errsz);
	} else {
		if (w.status == 0)
			curl_easy_getinfo(r.h, CURLINFO_RESPONSE_CODE, &w.status);
		if (w.status == 200) {
			int f = ndjson_finish(w.nd, watch_line, &w);
			if (f < 0)
				snprintf(err, errsz, "%s: %s", what, "an event longer than allowed");
			result = f < 0 ? KUBE_ERROR : w.result;
		} else {
			json_t *st = w.errbody.len ? json_loadb(w.errbody.p, w.errbody.len, 0, NULL) :
			    NULL;
			http_error(kc, what, w.status, st, w.errbody.p, err, errsz);
			json_decref(st);
			result = w.status == 410 ? KUBE_GONE : KUBE_ERROR;
		}
	}
out:
	curl_multi_cleanup(m);
	req_done(kc, &r);
	curl_free(esc);
	ndjson_free(w.nd);
	dynbuf_free(&w.errbody);
	return result;
}

/* ---- backoff ---------------------------------------------------------------------------- */

unsigned
kube_backoff_next(unsigned attempt, unsigned *seed)
{
	unsigned base = 200, x = *seed ? *seed : 2463534242u;

	for (unsigned i = 0; i < attempt && base < 20000; i++)
		base *= 2;
	if (base > 20000)
		base = 20000;
	/* xorshift32: enough to spread replicas, and no shared state between threads. */
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*seed = x;
	return base / 2 + (unsigned)((unsigned long long)base * (x % 1000) / 1000);
}
