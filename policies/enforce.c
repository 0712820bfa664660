/* SPDX-License-Identifier: Apache-2.0 */
/* enforce: the enforcement blocks of the config and of tenants, and the mode a rule gets. */
#include "enforce.h"

#include <stdio.h>
#include <string.h>

#include "config.h"

static const char *const mode_names[] = { "deny", "warn", "audit" };

/* The rules a mode may relax: every 403 rule, not request-invalid (400) nor "none". */
static bool
is_relaxable(enum rule_id r)
{
	return r != RULE_NONE && r != RULE_REQUEST_INVALID && r < RULE_COUNT;
}

/* The id DESIGN writes as `name`, or RULE_NONE. */
static enum rule_id
rule_by_name(const char *name)
{
	for (int r = 0; r < RULE_COUNT; r++)
		if (strcmp(ruleid_name((enum rule_id)r), name) == 0)
			return (enum rule_id)r;
	return RULE_NONE;
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
	*at = rules;
	json_object_foreach((json_t *)rules, k, m) {
		enum rule_id r = rule_by_name(k);
		*at_key = k;
		if (!is_relaxable(r)) {
			snprintf(err, errsz, r == RULE_REQUEST_INVALID ?
			    "%s.rules: \"%s\" is always enforced (an object that cannot be read has "
			    "no verdict to relax)" : "%s.rules: \"%s\" is not a rule id", what, k);
			return -1;
		}
		if (parse_mode(m, &e->rule[r]) != 0) {
			snprintf(err, errsz, "%s.rules.%s must be deny, warn or audit", what, k);
			return -1;
		}
		e->has[r] = true;
	}
	return 0;
}

enum enforce_mode
enforce_mode_for(const struct config *cfg, const struct tenant *t, enum rule_id rule, int code)
{
	if (code != 403 || !is_relaxable(rule))
		return ENFORCE_DENY;   /* malformed requests and internal errors are never relaxed */
	if (t != NULL && t->enforcement.has[rule])
		return t->enforcement.rule[rule];
	if (t != NULL && t->enforcement.has_default)
		return t->enforcement.def;
	if (cfg->enforcement.has[rule])
		return cfg->enforcement.rule[rule];
	return cfg->enforcement.has_default ? cfg->enforcement.def : ENFORCE_DENY;
}
