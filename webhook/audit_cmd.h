/* SPDX-License-Identifier: Apache-2.0 */
/* audit_cmd: `tenantguard audit`, the violations of the objects that already exist. */
#ifndef TG_AUDIT_CMD_H
#define TG_AUDIT_CMD_H

/*
 * Runs `tenantguard audit [--config F] (--kubeconfig F | --state F) [--output table|json]`;
 * argv[0] is the subcommand's name. Reads the objects (from the apiserver with LIST only:
 * Namespaces, Ingresses, HTTPRoutes and Tenants when served, Services, TLS Secrets), audits
 * them (audit.h) and prints one line per violation and a summary. Returns the exit status:
 * 0 clean, 1 violations found, 2 unusable input or usage (a line on stderr).
 */
int audit_main(int argc, char **argv);

#endif
