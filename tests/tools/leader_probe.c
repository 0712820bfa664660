/* SPDX-License-Identifier: Apache-2.0 */
/* leader_probe: one leader-election candidate (webhook/controller/leader.c) for tests/e2e/run_leader.sh. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube.h"
#include "leader.h"

/*
 * leader_probe --kubeconfig F --namespace NS --name LEASE [--identity ID]
 *     [--lease-seconds N] [--renew-seconds N] [--retry-seconds S (may be a fraction) |
 *     --retry-ms N]
 * Campaigns for the Lease NS/LEASE and prints a line per transition, flushed:
 * "leading ID t=MS" or "following ID t=MS", MS the wall clock in ms since the epoch (so a
 * test can order the lines of several probes). SIGTERM or SIGINT: leader_stop (which
 * releases the Lease when leading), then exit 0. Exit 1 on a bad start, 2 on usage.
 */

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
}

static long long
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
on_change(bool leading, void *arg)
{
	printf("%s %s t=%lld\n", leading ? "leading" : "following", (const char *)arg, wall_ms());
	fflush(stdout);
}

static int
usage(void)
{
	fprintf(stderr, "usage: leader_probe --kubeconfig F --namespace NS --name LEASE "
	    "[--identity ID] [--lease-seconds N] [--renew-seconds N] [--retry-seconds S | "
	    "--retry-ms N]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	const char *kubeconfig = NULL, *ns = NULL, *name = NULL, *identity = NULL;
	struct leader_opts o = { 0 };
	char id[256], err[2048];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (v == NULL)
			return usage();
		i++;
		if (strcmp(a, "--kubeconfig") == 0)
			kubeconfig = v;
		else if (strcmp(a, "--namespace") == 0)
			ns = v;
		else if (strcmp(a, "--name") == 0)
			name = v;
		else if (strcmp(a, "--identity") == 0)
			identity = v;
		else if (strcmp(a, "--lease-seconds") == 0)
			o.lease_seconds = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--renew-seconds") == 0)
			o.renew_deadline_seconds = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--retry-seconds") == 0)
			o.retry_ms = (unsigned)(strtod(v, NULL) * 1000 + 0.5);
		else if (strcmp(a, "--retry-ms") == 0)
			o.retry_ms = (unsigned)strtoul(v, NULL, 10);
		else
			return usage();
	}
	if (kubeconfig == NULL || ns == NULL || name == NULL)
		return usage();
	if (identity == NULL) {
		leader_default_identity(id, sizeof(id));
		identity = id;
	}

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	struct kube_client *kc = kube_client_new_kubeconfig(kubeconfig, err, sizeof(err));
	if (kc == NULL) {
		fprintf(stderr, "leader_probe: %s\n", err);
		return 1;
	}
	struct leader *l = leader_start(kc, ns, name, identity, &o, on_change, (void *)identity,
	    err, sizeof(err));
	if (l == NULL) {
		fprintf(stderr, "leader_probe: %s\n", err);
		kube_client_free(kc);
		return 1;
	}
	struct timespec step = { 0, 20 * 1000 * 1000 };
	while (!got_signal)
		nanosleep(&step, NULL);
	leader_stop(l);
	kube_client_free(kc);
	return 0;
}
