/* SPDX-License-Identifier: Apache-2.0 */
/* main: the tenantguard command line (DESIGN §5). Only here is the decision to exit made. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit_cmd.h"
#include "baseline.h"
#include "certs_cmd.h"
#include "config.h"
#include "config_load.h"
#include "fileio.h"
#include "review.h"
#include "connlimit.h"
#include "process.h"
#include "state.h"
#include "statefile.h"
#include "vap.h"
#include "yamljson.h"

#define TENANTGUARD_VERSION "0.1.0"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: tenantguard serve [--config F] [--listen HOST:PORT] [--tls-cert F --tls-key F]\n"
	    "                         [--client-ca F] [--state F | --kubeconfig F] [--threads N]\n"
	    "                         [--no-reconcile] [--max-conns-per-ip N] [--header-timeout S]\n"
	    "                         [--request-timeout S] [--idle-timeout S] [--max-body-bytes N]\n"
	    "                         [--client-cert-handshake] [--health-listen HOST:PORT]\n"
	    "                         [--fallback-policies [--fallback-exclude-namespace NS]...]\n"
	    "       tenantguard review [--config F] [--state F] [--mutate] [FILE|-]\n"
	    "       tenantguard audit [--config F] (--kubeconfig F | --state F) [--output table|json]\n"
	    "       tenantguard check-config F\n"
	    "       tenantguard render baseline TENANT [--config F] [--output yaml|json]\n"
	    "       tenantguard render bridges [--config F] [--output yaml|json]\n"
	    "       tenantguard render policies [--config F] [--output yaml|json]\n"
	    "                         [--exclude-namespace NS]...\n"
	    "       tenantguard certs --out DIR [--service S] [--namespace NS] [--cluster-domain D]\n"
	    "                         [--days N] [--renew-before DURATION]\n"
	    "       tenantguard version\n");
}

static struct config *
load_config_tenants(const char *path, const json_t *tenants, json_t *rejected, char *err,
    size_t errsz)
{
	return path ? config_load_file_tenants(path, tenants, rejected, err, errsz) :
	    config_load_default_tenants(tenants, rejected, err, errsz);
}

static struct config *
load_config(const char *path, char *err, size_t errsz)
{
	return load_config_tenants(path, NULL, NULL, err, errsz);
}

static int
cmd_review(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state", required_argument, NULL, 's' },
		{ "mutate", no_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL, *state_path = NULL, *input = "-", *key;
	bool mutate = false;
	char err[1024], serr[1024];
	json_t *rejected = NULL, *why;
	int c, rc = 2;
	struct config *cfg = NULL;
	struct statefile *sf = NULL;
	struct state *st = NULL;
	char *body = NULL, *out = NULL;
	size_t len, outlen;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 's': state_path = optarg; break;
		case 'm': mutate = true; break;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind > 1) {
		usage(stderr);
		return 2;
	}
	if (optind < argc)
		input = argv[optind];
	/* Tenant objects in the state add tenants, as the live server merges them. */
	if ((rejected = json_object()) == NULL) {
		fprintf(stderr, "tenantguard: out of memory\n");
		goto out;
	}
	if (state_path != NULL)
		sf = statefile_open(state_path, false, serr, sizeof(serr));
	if ((cfg = load_config_tenants(config_path, sf != NULL ? statefile_tenants(sf) : NULL,
	    rejected, err, sizeof(err))) == NULL) {
		fprintf(stderr, "tenantguard: config: %s\n", err);
		goto out;
	}
	json_object_foreach(rejected, key, why)
		fprintf(stderr, "tenantguard: state: Tenant %s left out: %s\n", key,
		    json_string_value(why));
	if (state_path != NULL && sf == NULL) {
		fprintf(stderr, "tenantguard: state: %s\n", serr);
		goto out;
	}
	if (sf != NULL && (st = statefile_index(sf, cfg, serr, sizeof(serr))) == NULL)
		fprintf(stderr, "tenantguard: state: %s\n", serr);
	else if (sf == NULL && (st = state_new()) == NULL)
		fprintf(stderr, "tenantguard: state: out of memory\n");
	/* The file's text and Tenant objects are done with: the review holds only the index. */
	statefile_close(sf);
	sf = NULL;
	if (st == NULL)
		goto out;
	body = strcmp(input, "-") == 0 ?
	    fileio_read_stream(stdin, input, REVIEW_BODY_MAX, &len, err, sizeof(err)) :
	    fileio_read(input, REVIEW_BODY_MAX, &len, err, sizeof(err));
	if (body == NULL) {
		fprintf(stderr, "tenantguard: %s\n", err);
		goto out;
	}
	struct review_summary sum;
	switch (review_handle(cfg, st, mutate, body, len, time(NULL), &out, &outlen, &sum, err,
	    sizeof(err))) {
	case REVIEW_OK:
		fwrite(out, 1, outlen, stdout);
		fputc('\n', stdout);
		rc = sum.allowed ? 0 : 1;
		break;
	case REVIEW_BAD_INPUT:
		fprintf(stderr, "tenantguard: %s: %s\n", input, err);
		break;
	case REVIEW_NO_MEMORY:
		fprintf(stderr, "tenantguard: %s\n", err);
		break;
	}
out:
	free(body);
	free(out);
	state_free(st);
	statefile_close(sf);
	config_free(cfg);
	json_decref(rejected);
	return rc;
}

static int
cmd_check_config(int argc, char **argv)
{
	char err[1024];
	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	struct config *cfg = config_load_file(argv[1], err, sizeof(err));
	if (cfg == NULL) {
		fprintf(stderr, "tenantguard: %s\n", err);
		return 1;
	}
	printf("%s: configuration OK (%zu tenants)\n", argv[1], cfg->n_tenants);
	config_free(cfg);
	return 0;
}

/* Prints objects for `kubectl apply -f -`: YAML documents, or a JSON v1 List. */
static int
print_objects(json_t *objs, bool yaml)
{
	char err[256];
	int rc = 0;
	if (yaml) {
		rc = yamljson_dump(objs, stdout, err, sizeof(err));
	} else {
		json_t *list = json_pack("{s:s, s:s, s:O}", "apiVersion", "v1", "kind", "List",
		    "items", objs);
		rc = list != NULL && json_dumpf(list, stdout, JSON_INDENT(2)) == 0 ? 0 : -1;
		json_decref(list);
		snprintf(err, sizeof(err), "out of memory");
		if (rc == 0)
			fputc('\n', stdout);
	}
	if (rc != 0 || fflush(stdout) != 0) {
		fprintf(stderr, "tenantguard: render: %s\n", rc != 0 ? err : strerror(errno));
		return 1;
	}
	return 0;
}

static int
cmd_render(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "exclude-namespace", required_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	/* The webhooks' own exclusions (manifests/webhooks.yaml), then any --exclude-namespace. */
	const char *excluded[64] = { "kube-system", "tenantguard-system" };
	size_t n_excluded = 2;
	const char *config_path = NULL, *output = "yaml";
	char err[1024];
	int c, rc = 2;
	json_t *objs = NULL;

	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'o': output = optarg; break;
		case 'x':
			if (n_excluded == sizeof(excluded) / sizeof(*excluded)) {
				fprintf(stderr, "tenantguard: render: too many --exclude-namespace\n");
				return 2;
			}
			excluded[n_excluded++] = optarg;
			break;
		default: usage(stderr); return 2;
		}
	}
	bool baseline = optind < argc && strcmp(argv[optind], "baseline") == 0 &&
	    argc - optind == 2;
	bool bridges = optind < argc && strcmp(argv[optind], "bridges") == 0 && argc - optind == 1;
	bool policies = optind < argc && strcmp(argv[optind], "policies") == 0 &&
	    argc - optind == 1;
	if ((!baseline && !bridges && !policies) || (strcmp(output, "yaml") != 0 && strcmp(output, "json") != 0)) {
		usage(stderr);
		return 2;
	}
	struct config *cfg = load_config(config_path, err, sizeof(err));
	if (cfg == NULL) {
		fprintf(stderr, "tenantguard: config: %s\n", err);
		return 2;
	}
	if (baseline) {
		const struct tenant *t = config_tenant(cfg, argv[optind + 1]);
		if (t == NULL) {
			fprintf(stderr, "tenantguard: render baseline: '%s' is not a configured tenant\n",
			    argv[optind + 1]);
			goto out;
		}
		objs = baseline_objects(cfg, t);
	} else if (policies) {
		objs = vap_policies(cfg, excluded, n_excluded);
	} else {
		objs = baseline_bridges(cfg);
	}
	if (objs == NULL) {
		fprintf(stderr, "tenantguard: render: out of memory\n");
		rc = 1;
		goto out;
	}
	rc = print_objects(objs, strcmp(output, "yaml") == 0);
out:
	json_decref(objs);
	config_free(cfg);
	return rc;
}

/* A decimal option value within [min, max]; 0, or -1 when it is not one. */
static int
parse_bounded(const char *s, long min, long max, unsigned *out)
{
	char *end;
	long n = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || n < min || n > max)
		return -1;
	*out = (unsigned)n;
	return 0;
}

static int
cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "tls-cert", required_argument, NULL, 'C' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "client-ca", required_argument, NULL, 'A' },
		{ "state", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "no-reconcile", no_argument, NULL, 'R' },
		{ "claim-grace", required_argument, NULL, 'G' },   /* hidden: for tests */
		{ "lease-seconds", required_argument, NULL, 'L' }, /* hidden: for tests */
		{ "max-conns-per-ip", required_argument, NULL, 'P' },
		{ "header-timeout", required_argument, NULL, 'H' },
		{ "request-timeout", required_argument, NULL, 'Q' },
		{ "idle-timeout", required_argument, NULL, 'I' },
		{ "max-body-bytes", required_argument, NULL, 'B' },
		{ "client-cert-handshake", no_argument, NULL, 'X' },
		{ "health-listen", required_argument, NULL, 'h' },
		{ "fallback-policies", no_argument, NULL, 'F' },
		{ "fallback-exclude-namespace", required_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 },
	};
	struct process_opts o;
	unsigned body = 0;
	int c;

	memset(&o, 0, sizeof(o));
	o.listen = "0.0.0.0:8443";
	o.tls_cert = "/etc/tenantguard/tls/tls.crt";
	o.tls_key = "/etc/tenantguard/tls/tls.key";
	o.threads = 2;
	o.limits.per_ip = CONNLIMIT_DEFAULT_PER_IP;
	/* The webhooks' own exclusions, as render policies has them. */
	o.fallback_excluded[o.n_fallback_excluded++] = "kube-system";
	o.fallback_excluded[o.n_fallback_excluded++] = "tenantguard-system";
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': o.config_path = optarg; break;
		case 'l': o.listen = optarg; break;
		case 'C': o.tls_cert = optarg; break;
		case 'K': o.tls_key = optarg; break;
		case 'A': o.client_ca = optarg; break;
		case 's': o.state_path = optarg; break;
		case 't':
			if (parse_bounded(optarg, 1, 64, &o.threads) != 0) {
				fprintf(stderr, "tenantguard: --threads must be 1..64\n");
				return 2;
			}
			break;
		case 'k': o.kubeconfig = optarg; break;
		case 'G':
			if (parse_bounded(optarg, 1, 86400, &o.claim_grace) != 0) {
				fprintf(stderr, "tenantguard: --claim-grace must be 1..86400 seconds\n");
				return 2;
			}
			break;
		case 'R': o.no_reconcile = true; break;
		case 'L':
			if (parse_bounded(optarg, 3, 3600, &o.lease_seconds) != 0) {
				fprintf(stderr, "tenantguard: --lease-seconds must be 3..3600\n");
				return 2;
			}
			break;
		case 'P':
			if (parse_bounded(optarg, 0, 65536, &o.limits.per_ip) != 0) {
				fprintf(stderr, "tenantguard: --max-conns-per-ip must be 0 (no limit)..65536\n");
				return 2;
			}
			break;
		case 'H': case 'Q': case 'I':
			if (parse_bounded(optarg, 1, 3600, c == 'H' ? &o.limits.header_secs :
			    c == 'Q' ? &o.limits.request_secs : &o.limits.idle_secs) != 0) {
				fprintf(stderr, "tenantguard: --%s must be 1..3600 seconds\n", c == 'H' ?
				    "header-timeout" : c == 'Q' ? "request-timeout" : "idle-timeout");
				return 2;
			}
			break;
		case 'B':
			if (parse_bounded(optarg, 65536, 64L << 20, &body) != 0) {
				fprintf(stderr, "tenantguard: --max-body-bytes must be 65536..%ld\n", 64L << 20);
				return 2;
			}
			o.body_max = body;
			break;
		case 'X': o.limits.cert_handshake = true; break;
		case 'h': o.health_listen = optarg; break;
		case 'F': o.fallback_policies = true; break;
		case 'E':
			if (o.n_fallback_excluded == PROCESS_FALLBACK_EXCLUDED_MAX) {
				fprintf(stderr, "tenantguard: too many --fallback-exclude-namespace\n");
				return 2;
			}
			o.fallback_excluded[o.n_fallback_excluded++] = optarg;
			break;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (o.fallback_policies && (o.no_reconcile || o.state_path != NULL)) {
		fprintf(stderr, "tenantguard: --fallback-policies needs the reconciler: live state "
		    "(--kubeconfig or in a pod) without --no-reconcile\n");
		return 2;
	}
	if (o.limits.cert_handshake && o.client_ca == NULL) {
		fprintf(stderr, "tenantguard: --client-cert-handshake needs --client-ca\n");
		return 2;
	}
	if (o.kubeconfig != NULL && o.state_path != NULL) {
		fprintf(stderr, "tenantguard: --kubeconfig and --state exclude each other: the state "
		    "comes either from the apiserver or from a file\n");
		return 2;
	}
	/*
	 * In a pod (the kubelet sets KUBERNETES_SERVICE_HOST) with neither option, the state is
	 * the cluster's own. Elsewhere plain `serve` keeps serving an empty state, as before.
	 */
	const char *svc = getenv("KUBERNETES_SERVICE_HOST");
	o.in_cluster = o.kubeconfig == NULL && o.state_path == NULL && svc != NULL && *svc != '\0';
	return process_run(&o);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	argc--;
	argv++;
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(argc, argv);
	if (strcmp(cmd, "review") == 0)
		return cmd_review(argc, argv);
	if (strcmp(cmd, "audit") == 0)
		return audit_main(argc, argv);
	if (strcmp(cmd, "check-config") == 0)
		return cmd_check_config(argc, argv);
	if (strcmp(cmd, "render") == 0)
		return cmd_render(argc, argv);
	if (strcmp(cmd, "certs") == 0)
		return certs_main(argc, argv);
	if (strcmp(cmd, "version") == 0) {
		printf("tenantguard %s\n", TENANTGUARD_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "tenantguard: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
