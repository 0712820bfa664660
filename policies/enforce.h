/* SPDX-License-Identifier: Apache-2.0 */
/* enforce: how a broken rule is enforced — deny, warn or audit — by tenant and rule. */
#ifndef TG_ENFORCE_H
#define TG_ENFORCE_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ruleid.h"

struct config;
struct tenant;

enum enforce_mode {
	ENFORCE_DENY,    /* refused (the default) */
	ENFORCE_WARN,    /* allowed, the would-be denial returned as an admission warning */
	ENFORCE_AUDIT,   /* allowed, the would-be denial logged, counted and audit-annotated */
};

/*
 * An `enforcement:` block ({default, rules}): the config's, where an absent default is deny,
 * or a tenant's, where an absent default (and any rule it does not list) defers to the
 * config's.
 */
struct enforcement {
	bool              has_default;
	enum enforce_mode def;
	bool              has[RULE_COUNT];    /* the block sets rule r's mode */
	enum enforce_mode rule[RULE_COUNT];
};

/* "deny", "warn" or "audit". */
const char *enforce_mode_name(enum enforce_mode m);

/*
 * Reads enforcement block `v` (borrowed; NULL or null: nothing set) into *e, which the
 * caller zeroed (it owns no memory). Strict: only default and rules, modes deny|warn|audit, rule ids that can be
 * relaxed (request-invalid never is). 0, or -1 with a sentence in err (prefixed by `what`,
 * e.g. "enforcement") and *at / *at_key set to the mapping and key at fault, for a line.
 */
int enforce_read(const json_t *v, const char *what, struct enforcement *e, const json_t **at,
    const char **at_key, char *err, size_t errsz);

/*
 * The mode for a violation of `rule` with HTTP `code` by an object of tenant `t` (NULL: the
 * entry or an outside namespace): the tenant's setting for the rule, the tenant's default,
 * the config's setting for the rule, the config's default. Code 400 (request-invalid) and
 * 500 (internal errors) are always deny.
 */
enum enforce_mode enforce_mode_for(const struct config *cfg, const struct tenant *t,
    enum rule_id rule, int code);

#endif
