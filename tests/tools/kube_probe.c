/* SPDX-License-Identifier: Apache-2.0 */
/* kube_probe: drives webhook/kube/kube.c from the command line for tests/e2e/run_kube_client.sh. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "kube.h"

/*
 * CONFIG is a kubeconfig file, or "in-cluster:SA_DIR" (with KUBERNETES_SERVICE_HOST/PORT set).
 *   kube_probe list CONFIG PATH [LIMIT]
 *       "item NAMESPACE/NAME KIND" per object, then "list OK items=N requests=N rv=RV"
 *   kube_probe watch CONFIG PATH RV TIMEOUT [STOP_AFTER_MS]
 *       "event TYPE NAMESPACE/NAME rv=RV" per event, then "watch RESULT rv=RV [stop_ms=N]"
 *   kube_probe req CONFIG METHOD PATH [JSON_FILE]
 *       "status N rv=RV" (the answer's metadata.resourceVersion); METHOD APPLY is
 *       kube_apply of JSON_FILE with the field manager "tenantguard"
 *   kube_probe rotate SA_DIR PATH NEW_TOKEN_FILE
 *       in-cluster: lists PATH, renames NEW_TOKEN_FILE over SA_DIR/token, lists PATH again
 * With PROBE_CLIENT_STOP_MS=N in the environment, the client's own stop flag is raised after
 * N ms (kube_client_set_stop). Failures add ": reason". Exit status: 0 OK (or a 2xx status),
 * 1 error, 3 gone, 4 stopped, 2 usage.
 */

static const char *
result_name(int rc)
{
	switch (rc) {
	case KUBE_OK: return "OK";
	case KUBE_GONE: return "GONE";
	case KUBE_STOPPED: return "STOPPED";
	default: return "ERROR";
	}
}

static int
exit_code(int rc)
{
	return rc == KUBE_OK ? 0 : rc == KUBE_GONE ? 3 : rc == KUBE_STOPPED ? 4 : 1;
}

static const char *
meta(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
	return s ? s : "";
}

static struct kube_client *
client(const char *config, char *err, size_t errsz)
{
	if (strncmp(config, "in-cluster:", 11) == 0)
		return kube_client_new_in_cluster(config + 11, err, errsz);
	return kube_client_new_kubeconfig(config, err, errsz);
}

static int
print_item(const json_t *obj, void *arg)
{
	size_t *n = arg;
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	printf("item %s/%s %s\n", meta(obj, "namespace"), meta(obj, "name"), kind ? kind : "-");
	(*n)++;
	return 0;
}

static int
do_list(struct kube_client *kc, const char *path)
{
	char rv[128], err[2048];
	size_t n = 0;
	unsigned long before = kube_client_requests(kc);
	int rc = kube_list(kc, path, print_item, &n, rv, sizeof(rv), err, sizeof(err));

	if (rc == KUBE_OK)
		printf("list OK items=%zu requests=%lu rv=%s\n", n, kube_client_requests(kc) - before,
		    rv);
	else
		printf("list %s: %s\n", result_name(rc), err);
	return exit_code(rc);
}

static int
print_event(const char *type, const json_t *obj, void *arg)
{
	(void)arg;
	printf("event %s %s/%s rv=%s\n", type, meta(obj, "namespace"), meta(obj, "name"),
	    meta(obj, "resourceVersion"));
	fflush(stdout);
	return 0;
}

static volatile int stop_flag;
static struct timespec stop_at;

static void *
stopper(void *arg)
{
	long ms = *(long *)arg;
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
	clock_gettime(CLOCK_MONOTONIC, &stop_at);
	stop_flag = 1;
	return NULL;
}

static int
do_watch(struct kube_client *kc, const char *path, const char *rv0, int timeout, long stop_ms)
{
	char rv[128], err[2048];
	pthread_t t;

	snprintf(rv, sizeof(rv), "%s", rv0);
	if (stop_ms > 0)
		pthread_create(&t, NULL, stopper, &stop_ms);
	int rc = kube_watch(kc, path, rv, sizeof(rv), timeout, print_event, NULL, &stop_flag,
	    err, sizeof(err));
	struct timespec end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	if (stop_ms > 0)
		pthread_join(t, NULL);
	printf("watch %s rv=%s", result_name(rc), rv);
	if (rc == KUBE_STOPPED)
		printf(" stop_ms=%ld", (end.tv_sec - stop_at.tv_sec) * 1000 +
		    (end.tv_nsec - stop_at.tv_nsec) / 1000000);
	if (rc != KUBE_OK)
		printf(": %s", err);
	printf("\n");
	return exit_code(rc);
}

static int
do_req(struct kube_client *kc, const char *method, const char *path, const char *file)
{
	char err[2048] = "";
	json_t *obj = NULL, *body = NULL;
	int st;

	if (file != NULL) {
		json_error_t je;
		if ((obj = json_load_file(file, 0, &je)) == NULL) {
			fprintf(stderr, "%s: %s\n", file, je.text);
			return 2;
		}
	}
	if (strcmp(method, "GET") == 0)
		st = kube_get(kc, path, &body, err, sizeof(err));
	else if (strcmp(method, "POST") == 0)
		st = kube_create(kc, path, obj, &body, err, sizeof(err));
	else if (strcmp(method, "PUT") == 0)
		st = kube_update(kc, path, obj, &body, err, sizeof(err));
	else if (strcmp(method, "DELETE") == 0)
		st = kube_delete(kc, path, obj, &body, err, sizeof(err));
	else if (strcmp(method, "APPLY") == 0 && obj != NULL)
		st = kube_apply(kc, path, obj, "tenantguard", &body, err, sizeof(err));
	else {
		fprintf(stderr, "unknown method %s\n", method);
		json_decref(obj);
		return 2;
	}
	printf("status %d rv=%s", st, meta(body, "resourceVersion"));
	const char *cn = json_string_value(json_object_get(body, "cn"));
	if (cn != NULL)
		printf(" cn=%s", cn);
	if (st < 200 || st > 299)
		printf(": %s", err);
	printf("\n");
	json_decref(obj);
	json_decref(body);
	return st >= 200 && st <= 299 ? 0 : 1;
}

static int
do_rotate(const char *sa_dir, const char *path, const char *newtok)
{
	char err[2048], tok[1024];
	struct kube_client *kc = kube_client_new_in_cluster(sa_dir, err, sizeof(err));

	if (kc == NULL) {
		printf("client: %s\n", err);
		return 1;
	}
	int a = do_list(kc, path);
	snprintf(tok, sizeof(tok), "%s/token", sa_dir);
	/* As the kubelet does it: the new file appears whole, by rename. */
	if (rename(newtok, tok) < 0) {
		printf("rename %s: %s\n", newtok, strerror(errno));
		kube_client_free(kc);
		return 1;
	}
	int b = do_list(kc, path);
	kube_client_free(kc);
	return a == 0 && b != 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	char err[2048];
	struct kube_client *kc = NULL;
	int rc = 2;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 5 && strcmp(argv[1], "rotate") == 0)
		return do_rotate(argv[2], argv[3], argv[4]);
	if (argc < 4) {
		fprintf(stderr, "usage: kube_probe list|watch|req|rotate CONFIG ...\n");
		return 2;
	}
	if ((kc = client(argv[2], err, sizeof(err))) == NULL) {
		printf("client: %s\n", err);
		return 1;
	}
	const char *cs = getenv("PROBE_CLIENT_STOP_MS");
	pthread_t ct;
	long client_stop_ms = cs ? atol(cs) : 0;
	if (client_stop_ms > 0) {
		kube_client_set_stop(kc, &stop_flag);
		pthread_create(&ct, NULL, stopper, &client_stop_ms);
	}
	if (strcmp(argv[1], "list") == 0) {
		if (argc > 4)
			kube_client_set_page_limit(kc, (unsigned)strtoul(argv[4], NULL, 10));
		rc = do_list(kc, argv[3]);
	} else if (strcmp(argv[1], "watch") == 0 && argc >= 6) {
		rc = do_watch(kc, argv[3], argv[4], atoi(argv[5]), argc > 6 ? atol(argv[6]) : 0);
	} else if (strcmp(argv[1], "req") == 0 && argc >= 5) {
		rc = do_req(kc, argv[3], argv[4], argc > 5 ? argv[5] : NULL);
	} else {
		fprintf(stderr, "usage: kube_probe list|watch|req|rotate CONFIG ...\n");
	}
	if (client_stop_ms > 0)
		pthread_join(ct, NULL);
	kube_client_free(kc);
	return rc;
}
