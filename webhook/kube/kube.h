/* SPDX-License-Identifier: Apache-2.0 */
/* kube: a Kubernetes API client on libcurl + jansson: config, LIST, WATCH, requests, apply. */
#ifndef TG_KUBE_H
#define TG_KUBE_H
#include <jansson.h>
#include <stddef.h>

/*
 * One apiserver and one identity. A client may be used from several threads at once: each
 * call takes a connection of its own (idle ones are kept for the next call), and only the
 * token is shared, under a lock.
 */
struct kube_client;

/* What kube_list and kube_watch return. */
enum kube_status {
	KUBE_OK = 0,       /* done; a watch ended normally (server timeout): resume it */
	KUBE_ERROR = -1,   /* err says why; back off (kube_backoff_next) and retry */
	KUBE_GONE = 1,     /* 410: the resourceVersion or continue token expired: relist */
	KUBE_STOPPED = 2,  /* the stop flag was raised */
};

/*
 * A client for the current context of the kubeconfig at `path`: the context's cluster
 * (server, which must be https; certificate-authority or certificate-authority-data, or
 * else the system's trust store; insecure-skip-tls-verify is refused), its user (token,
 * tokenFile, which is re-read when it changes, and/or client-certificate(-data) with
 * client-key(-data); exec and auth-provider plugins are refused) and its namespace.
 * Relative file names are taken from the kubeconfig's directory, as kubectl does. Files
 * are read and certificates checked now. New client (kube_client_free), or NULL with
 * "path: reason" in err.
 */
struct kube_client *kube_client_new_kubeconfig(const char *path, char *err, size_t errsz);

/*
 * A client for the pod it runs in: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT,
 * and from `sa_dir` (NULL: /var/run/secrets/kubernetes.io/serviceaccount) ca.crt, the
 * namespace, and the token, which is re-read whenever the file changes (projected tokens
 * rotate, by an atomic symlink swap). New client, or NULL with the reason in err.
 */
struct kube_client *kube_client_new_in_cluster(const char *sa_dir, char *err, size_t errsz);

/* Frees the client; no call of it may be running (stop and join them first). */
void kube_client_free(struct kube_client *kc);

/* The server URL, e.g. "https://10.0.0.1:443" (borrowed, no trailing '/'). */
const char *kube_client_server(const struct kube_client *kc);
/* The context's or the pod's namespace, "" when none is set (borrowed). */
const char *kube_client_namespace(const struct kube_client *kc);
/*
 * One line saying where the client points and how it authenticates, for the start-up log
 * and for tests; never a secret. E.g. "https://127.0.0.1:6443 (kubeconfig k.yaml, context
 * admin@e2e, user admin: token; CA file /pki/ca.crt)".
 */
void kube_client_describe(const struct kube_client *kc, char *buf, size_t bufsz);
/* HTTP requests sent so far (LIST pages, watches, ...), for metrics and tests. */
unsigned long kube_client_requests(const struct kube_client *kc);
/*
 * A flag for shutdown: once *stop is non-zero every call of this client in flight or to
 * come ends soon (within about a second; a watch within 100 ms) with KUBE_STOPPED, or -1
 * and "stopped" for kube_get and the like. Set it before the client is shared; NULL: none.
 */
void kube_client_set_stop(struct kube_client *kc, volatile const int *stop);
/* Items per LIST page (default 500; 0 restores it). Tests make it small to see paging. */
void kube_client_set_page_limit(struct kube_client *kc, unsigned limit);

/*
 * LISTs `path` (a collection, e.g. "/apis/networking.k8s.io/v1/ingresses", which may carry
 * a query such as "?labelSelector=a%3Db") page by page with limit and continue, calling
 * item(obj, arg) for every object with `obj` borrowed for the call; items get the kind and
 * apiVersion a List leaves out. A non-zero return from item stops the list (KUBE_ERROR).
 * All pages are one snapshot; its resourceVersion (from which to watch) goes to
 * resource_version_out. Returns KUBE_OK, KUBE_GONE (a continue token expired mid-list:
 * items already delivered belong to a snapshot that is gone, so start over), KUBE_STOPPED
 * (the client's stop flag) or KUBE_ERROR with the reason in err.
 */
int kube_list(struct kube_client *kc, const char *path,
    int (*item)(const json_t *obj, void *arg), void *arg,
    char *resource_version_out, size_t rvsz, char *err, size_t errsz);

/*
 * WATCHes `path` from the resourceVersion in the buffer `resource_version` (rvsz bytes),
 * with bookmarks and a server-side timeout of timeout_seconds (0: the server's default),
 * calling event(type, obj, arg) for every ADDED, MODIFIED, DELETED and BOOKMARK in order,
 * `obj` borrowed for the call; a non-zero return stops the watch (KUBE_ERROR). After every
 * event handled, `resource_version` holds that event's resourceVersion, so a caller that
 * calls again with the same buffer resumes exactly where it stopped. Lines longer than
 * 16 MiB are an error. `stop` (may be NULL) and the client's stop flag are polled at
 * least every 100 ms.
 * Returns KUBE_OK when the server ended the watch, KUBE_GONE on 410 Expired (as an HTTP
 * status or as an ERROR event: relist), KUBE_STOPPED once *stop is non-zero, or KUBE_ERROR
 * (connection lost, HTTP error, ERROR event, bad line) with the reason in err.
 */
int kube_watch(struct kube_client *kc, const char *path, char *resource_version, size_t rvsz,
    int timeout_seconds, int (*event)(const char *type, const json_t *obj, void *arg),
    void *arg, volatile const int *stop, char *err, size_t errsz);

/*
 * One request with a JSON body (create: POST, update: PUT, delete: DELETE with optional
 * DeleteOptions `obj`, which are borrowed). Return the HTTP status (e.g. 200, 201, 404, 409)
 * with *body set to the decoded response (new reference; NULL when empty or not JSON); a
 * status other than 2xx also puts a message in err (for 401/403 the ones of kube_list).
 * -1 when no HTTP answer came, the reason in err and *body NULL.
 */
int kube_get(struct kube_client *kc, const char *path, json_t **body, char *err, size_t errsz);
int kube_create(struct kube_client *kc, const char *path, const json_t *obj, json_t **body,
    char *err, size_t errsz);
int kube_update(struct kube_client *kc, const char *path, const json_t *obj, json_t **body,
    char *err, size_t errsz);
int kube_delete(struct kube_client *kc, const char *path, const json_t *obj, json_t **body,
    char *err, size_t errsz);

/*
 * Server-side apply: PATCH `path` (the object's URL, or a subresource's such as .../status)
 * with `obj` (borrowed; a JSON document is valid YAML) as application/apply-patch+yaml, the
 * query fieldManager=field_manager&force=true appended (with '&' when path has a query).
 * The object is created when it does not exist (201); fields another manager owns are taken
 * over (force). Return value, *body and err as for kube_update.
 */
int kube_apply(struct kube_client *kc, const char *path, const json_t *obj,
    const char *field_manager, json_t **body, char *err, size_t errsz);

/*
 * Limits of one call of kube_call. `stop` (NULL: none) ends the call soon after *stop becomes
 * non-zero (within about a second), as the client-wide flag does, but for this call only;
 * timeout_ms (0: 60 s) bounds the whole call, connecting included.
 */
struct kube_call_opts {
	volatile const int *stop;
	long timeout_ms;
};

/*
 * kube_get, kube_create, kube_update and kube_delete, as `method` "GET", "POST", "PUT" or
 * "DELETE", with per-call limits (`opts` borrowed, NULL: none). Returns as they do; -1 with
 * "stopped" or a timeout in err when a limit cut the call short (it may have been done).
 */
int kube_call(struct kube_client *kc, const char *method, const char *path, const json_t *obj,
    const struct kube_call_opts *opts, json_t **body, char *err, size_t errsz);

/*
 * Whether the API group whose discovery document is `group_path` (e.g.
 * "/apis/gateway.networking.k8s.io/v1") serves `resource` ("httproutes"): 1 yes, 0 no (404,
 * or the group lacks it), -1 when the request failed (err says why).
 */
int kube_served(struct kube_client *kc, const char *group_path, const char *resource,
    char *err, size_t errsz);
/*
 * The delay in milliseconds before retry number `attempt` (0 for the first): 200 ms doubled
 * per attempt, capped at 20 s, times a random factor in [0.5, 1.5), so never above 30 s and
 * replicas that failed together do not retry together. `seed` is the caller's PRNG state
 * (any value to start; one per thread).
 */
unsigned kube_backoff_next(unsigned attempt, unsigned *seed);

#endif
