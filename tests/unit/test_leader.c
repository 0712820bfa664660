/* SPDX-License-Identifier: Apache-2.0 */
/* test_leader: leader election's options, identity and shutdown without an apiserver. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube.h"
#include "leader.h"
#include "testhelp.h"

static int changes;

static void
on_change(bool leading, void *arg)
{
	(void)leading; (void)arg;
	changes++;
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

int
main(void)
{
	char dir[] = "/tmp/tg-leader-XXXXXX", path[64], err[512], id[300];
	struct leader_opts o;
	struct leader *l;

	/* A client whose apiserver refuses connections: every attempt fails at once. */
	test_cond("temp dir", mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/kubeconfig", dir);
	FILE *f = fopen(path, "w");
	fputs("apiVersion: v1\nkind: Config\ncurrent-context: c\n"
	    "clusters: [{name: k, cluster: {server: \"https://127.0.0.1:1\"}}]\n"
	    "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
	    "users: [{name: u, user: {token: t}}]\n", f);
	fclose(f);
	struct kube_client *kc = kube_client_new_kubeconfig(path, err, sizeof(err));
	test_cond("client", kc != NULL);

	o = (struct leader_opts){ .lease_seconds = 10, .renew_deadline_seconds = 10 };
	l = leader_start(kc, "ns", "x", "me", &o, on_change, NULL, err, sizeof(err));
	test_cond("a lease no longer than the renew deadline is refused",
	    l == NULL && strstr(err, "must outlast the renew deadline") != NULL);
	o = (struct leader_opts){ .lease_seconds = 3, .renew_deadline_seconds = 2, .retry_ms = 1700 };
	l = leader_start(kc, "ns", "x", "me", &o, on_change, NULL, err, sizeof(err));
	test_cond("a renew deadline within 1.2 retry periods is refused", l == NULL);
	o = (struct leader_opts){ .lease_seconds = 10 };
	l = leader_start(kc, "ns", "x", "me", &o, on_change, NULL, err, sizeof(err));
	test_cond("a lease of 10 s with the default renew deadline (10 s) is refused", l == NULL);
	l = leader_start(kc, "ns", "a/b", "me", NULL, on_change, NULL, err, sizeof(err));
	test_cond("a name that is not DNS-1123 is refused",
	    l == NULL && strstr(err, "not a namespace and a name") != NULL);
	l = leader_start(kc, "ns", "x", "", NULL, on_change, NULL, err, sizeof(err));
	test_cond("an empty identity is refused", l == NULL);
	memset(id, 'i', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	l = leader_start(kc, "ns", "x", id, NULL, on_change, NULL, err, sizeof(err));
	test_cond("an identity of 299 characters is refused", l == NULL);

	/* Defaults; the apiserver unreachable: never leading, and a prompt stop. */
	struct timespec t0, nap = { 0, 300 * 1000 * 1000 };
	l = leader_start(kc, "tenantguard-system", "tenantguard", "me", NULL, on_change, NULL,
	    err, sizeof(err));
	test_cond("start with the defaults", l != NULL);
	if (l != NULL) {
		nanosleep(&nap, NULL);
		test_cond("not leading without an apiserver", !leader_is(l));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		leader_stop(l);
		long ms = ms_since(&t0);
		test_cond("leader_stop returns within 300 ms while waiting out a 2 s retry", ms < 300);
		test_cond("on_change never called", changes == 0);
	}

	setenv("POD_NAME", "tenantguard-7d9f-abcde", 1);
	leader_default_identity(id, sizeof(id));
	test_cond("identity: $POD_NAME", strcmp(id, "tenantguard-7d9f-abcde") == 0);
	unsetenv("POD_NAME");
	leader_default_identity(id, sizeof(id));
	char host[256], want[300];
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	snprintf(want, sizeof(want), "%s_%ld", host, (long)getpid());
	test_cond("identity: hostname_pid without $POD_NAME", strcmp(id, want) == 0);
	leader_default_identity(id, 4);
	test_cond("identity: cut to the buffer", strlen(id) == 3);

	kube_client_free(kc);
	unlink(path);
	rmdir(dir);
	return test_report();
}
