/* SPDX-License-Identifier: Apache-2.0 */
/* rules_secret: kubernetes.io/tls Secrets must parse, match, be valid, and name only owned hosts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "claims.h"
#include "config.h"
#include "host.h"
#include "owner.h"
#include "policy.h"
#include "rules.h"
#include "state.h"
#include "tlscheck.h"

#define EXPIRY_WARNING_DAYS 30

/* Bytes of data[key] (base64) or stringData[key] (plain); new buffer or NULL. */
static unsigned char *
secret_value(const json_t *obj, const char *key, size_t *len, bool *bad)
{
	const char *plain = jsonget_str(json_object_get(obj, "stringData"), key);
	const char *enc = jsonget_str(json_object_get(obj, "data"), key);
	unsigned char *out = NULL;
	*bad = false;
	*len = 0;
	if (plain != NULL) {
		*len = strlen(plain);
		return (unsigned char *)strdup(plain);
	}
	if (enc != NULL && base64_decode(enc, strlen(enc), &out, len) != 0)
		*bad = true;
	return out;
}

/* Entry-namespace certificates other than the tenant and system ones hold no tenant host. */
static bool
touches_tenant(const struct rule_ctx *ctx, const char *san)
{
	uint32_t ids[4];
	if (owner_touches_system(ctx->cfg, san) ||
	    claims_find(ctx->cfg->reservations, san, CLAIMS_OVERLAP, CLAIMS_NO_OWNER, ids, 1) > 0)
		return true;
	size_t n = claims_find(ctx->st->claims, san, CLAIMS_OVERLAP, CLAIMS_NO_OWNER, ids, 4);
	for (size_t i = 0; i < n; i++)
		if (ids[i] < ctx->st->n_owners && strncmp(ctx->st->owners[ids[i]], "tenant/", 7) == 0)
			return true;
	return false;
}

static void
check_san(struct rule_ctx *ctx, const char *name, const char *san_raw)
{
	const struct config *cfg = ctx->cfg;
	char san[HOST_MAX], why[300], tenant[64];
	const char *bad;

	if (host_normalize(san_raw, san, sizeof(san), &bad) != 0) {
		rules_violation(ctx, RULE_TLS_SECRET_HOSTS, san_raw, "certificate name '%s' %s", san_raw,
		    bad);
		return;
	}
	if (ctx->ns_class == NS_ENTRY) {
		if (name != NULL && strcmp(name, cfg->system_cert_secret) == 0) {
			const char *n = host_is_wildcard(san) ? san + 2 : san;
			if (strcmp(n, cfg->system_domain) != 0 && !host_is_below(n, cfg->system_domain))
				rules_violation(ctx, RULE_TLS_SECRET_HOSTS, san, "certificate name '%s' is "
				    "outside the system domain %s; %s may hold only system-domain names",
				    san, cfg->system_domain, name);
			return;
		}
		const struct tenant *t = NULL;
		if (name != NULL && template_match(&cfg->tenant_cert_secret, name, tenant,
		    sizeof(tenant)))
			t = config_tenant(cfg, tenant);
		if (t == NULL) {
			if (touches_tenant(ctx, san))
				rules_violation(ctx, RULE_TLS_SECRET_HOSTS, san, "certificate name '%s' belongs "
				    "to a tenant or the platform; only %s and <tenant> certificates named "
				    "after the tenantCertSecret template may hold it", san,
				    cfg->system_cert_secret);
			return;
		}
		if (owner_check(ctx, t, san, why, sizeof(why)) != HOST_OK)
			rules_violation(ctx, RULE_TLS_SECRET_HOSTS, san, "certificate name '%s' %s; %s may "
			    "hold only tenant %s's hosts", san, why, name, t->name);
		return;
	}
	if (owner_check(ctx, NULL, san, why, sizeof(why)) != HOST_OK)
		rules_violation(ctx, RULE_TLS_SECRET_HOSTS, san, "certificate name '%s' %s", san, why);
}

void
rules_secret(struct rule_ctx *ctx, const json_t *obj)
{
	const char *type = jsonget_str(obj, "type");
	const char *name = jsonget_str(json_object_get(obj, "metadata"), "name");
	const json_t *data = json_object_get(obj, "data");
	struct tlscheck_result res;
	unsigned char *crt = NULL, *key = NULL;
	size_t crt_len, key_len;
	bool bad_crt, bad_key;

	if (type == NULL || strcmp(type, "kubernetes.io/tls") != 0)
		return;
	if (data != NULL && !json_is_object(data)) {
		rules_invalid(ctx, "data must be an object of base64 strings");
		return;
	}
	crt = secret_value(obj, "tls.crt", &crt_len, &bad_crt);
	key = secret_value(obj, "tls.key", &key_len, &bad_key);
	if (bad_crt || bad_key) {
		rules_violation(ctx, RULE_TLS_SECRET, bad_crt ? "tls.crt" : "tls.key", "data[%s] is not "
		    "valid base64", bad_crt ? "tls.crt" : "tls.key");
		goto out;
	}
	memset(&res, 0, sizeof(res));
	if (tlscheck_run(crt, crt ? crt_len : 0, key, key ? key_len : 0, ctx->now, &res) != 0) {
		rules_internal(ctx, RULE_TLS_SECRET, "the certificate could not be checked (out of memory)");
		goto out;
	}
	if (res.status != TLSCHECK_OK) {
		char subject[32];
		snprintf(subject, sizeof(subject), "status-%d", (int)res.status);
		rules_violation(ctx, RULE_TLS_SECRET, subject, "%s", res.reason);
	} else if (res.not_after - ctx->now < (time_t)EXPIRY_WARNING_DAYS * 86400) {
		rules_warn(ctx, "%s: certificate in tls.crt expires in %lld days", ctx->object_desc,
		    (long long)((res.not_after - ctx->now) / 86400));
	}
	if (res.status == TLSCHECK_OK || res.status == TLSCHECK_EXPIRED ||
	    res.status == TLSCHECK_NOT_YET_VALID || res.status == TLSCHECK_KEY_MISMATCH)
		for (size_t i = 0; i < res.n_dns_names; i++)
			check_san(ctx, name, res.dns_names[i]);
	tlscheck_result_clear(&res);
out:
	free(crt);
	free(key);
}
