/* SPDX-License-Identifier: Apache-2.0 */
/* certs_cmd: `tenantguard certs`, the webhook's CA and serving certificate on disk. */
#ifndef TG_CERTS_CMD_H
#define TG_CERTS_CMD_H

/*
 * Runs `tenantguard certs --out DIR [--service NAME] [--namespace NS] [--cluster-domain D]
 * [--days N] [--renew-before DURATION]`; argv[0] is the subcommand's name and is skipped.
 * Creates or keeps DIR/ca.crt + ca.key and creates, keeps or renews DIR/tls.crt + tls.key,
 * prints the base64 of ca.crt (the caBundle) on stdout and one line on stderr saying what it
 * did. Returns the exit status: 0 done, 1 failed, 2 usage (each with one line on stderr).
 */
int certs_main(int argc, char **argv);

/*
 * Parses "720h", "30d", "90m", "3600s" or sums such as "1d12h" into seconds (at most 100
 * years); also the config's durations (audit.interval). 0, or -1 when malformed.
 */
int certs_parse_duration(const char *s, long long *out);

#endif
