/* SPDX-License-Identifier: Apache-2.0 */
/* enforce: the enforcement blocks of the config and of tenants, and the mode a rule gets. */
#include "enforce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const char *const mode_names[] = { "deny", "warn", "audit" };

/*
 * The rule ids a mode may relax: every 403 rule. request-invalid (400) is not among them: an
 * object that cannot be read has no verdict to relax.
 */
static const char *const relaxable[] = {
	"host-ownership", "host-collision", "host-invalid", "ingress-class", "backend-namespace",
	"entry-route", "entry-admin", "service-external-ips", "service-type",
	"service-external-name", "tls-secret", "tls-secret-hosts", "managed-object",
	"tenant-label", "namespace-tenant", "tenant-domain-in-use", "ingress-annotation",
	"registry-namespace",
};

void
enforcement_clear(struct enforcement *e)
{
	for (size_t i = 0; i < e->n_rules; i++)
		free(e->rules[i].rule);
	free(e->rules);
	memset(e, 0, sizeof(*e));
}

const char *
enforce_mode_name(enum enforce_mode m)
{
	return (unsigned)m < sizeof(mode_names) / sizeof(*mode_names) ? mode_names[m] : "deny";
}

static int
parse_mode(const json_t *v, enum enforce_mode *m)
{
	const char *s = json_string_value(v);
	for (size_t i = 0; s != NULL && i < sizeof(mode_names) / sizeof(*mode_names); i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*m = (enum enforce_mode)i;
			return 0;
		}
	return -1;
}

static bool
is_relaxable(const char *rule)
{
	for (size_t i = 0; i < sizeof(relaxable) / sizeof(*relaxable); i++)
		if (strcmp(rule, relaxable[i]) == 0)
			return true;
	return false;
}

int
enforce_read(const json_t *v, const char *what, struct enforcement *e, const json_t **at,
    const char **at_key, char *err, size_t errsz)
{
	const json_t *rules, *m;
	const char *k;

	*at = v;
	*at_key = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_object(v)) {
		snprintf(err, errsz, "%s must be a mapping {default, rules}", what);
		return -1;
	}
	json_object_foreach((json_t *)v, k, m)
		if (strcmp(k, "default") != 0 && strcmp(k, "rules") != 0) {
			*at_key = k;
			snprintf(err, errsz, "unknown key \"%s\" in %s (default, rules)", k, what);
			return -1;
		}
	if ((m = json_object_get(v, "default")) != NULL) {
		*at_key = "default";
		if (parse_mode(m, &e->def) != 0) {
			snprintf(err, errsz, "%s.default must be deny, warn or audit", what);
			return -1;
		}
		e->has_default = true;
	}
	if ((rules = json_object_get(v, "rules")) == NULL || json_is_null(rules))
		return 0;
	*at_key = "rules";
	if (!json_is_object(rules)) {
		snprintf(err, errsz, "%s.rules must be a mapping of rule ids to deny, warn or audit",
		    what);
		return -1;
	}
	if ((e->rules = calloc(json_object_size(rules) + 1, sizeof(*e->rules))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	*at = rules;
	json_object_foreach((json_t *)rules, k, m) {
		struct enforce_rule *r = &e->rules[e->n_rules];
		*at_key = k;
		if (!is_relaxable(k)) {
			snprintf(err, errsz, strcmp(k, "request-invalid") == 0 ?
			    "%s.rules: \"%s\" is always enforced (an object that cannot be read has "
			    "no verdict to relax)" : "%s.rules: \"%s\" is not a rule id", what, k);
			return -1;
		}
		if (parse_mode(m, &r->mode) != 0) {
			snprintf(err, errsz, "%s.rules.%s must be deny, warn or audit", what, k);
			return -1;
		}
		if ((r->rule = strdup(k)) == NULL) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		e->n_rules++;
	}
	return 0;
}

/* The mode e sets for rule, or -1 when it sets none. */
static int
lookup(const struct enforcement *e, const char *rule)
{
	for (size_t i = 0; i < e->n_rules; i++)
		if (strcmp(e->rules[i].rule, rule) == 0)
			return (int)e->rules[i].mode;
	return -1;
}

enum enforce_mode
enforce_mode_for(const struct config *cfg, const struct tenant *t, const char *rule, int code)
{
	int m;

	if (code != 403)
		return ENFORCE_DENY;   /* malformed requests and internal errors are never relaxed */
	if (t != NULL && (m = lookup(&t->enforcement, rule)) >= 0)
		return (enum enforce_mode)m;
	if (t != NULL && t->enforcement.has_default)
		return t->enforcement.def;
	if ((m = lookup(&cfg->enforcement, rule)) >= 0)
		return (enum enforce_mode)m;
	return cfg->enforcement.has_default ? cfg->enforcement.def : ENFORCE_DENY;
}
