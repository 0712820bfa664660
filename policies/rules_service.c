/* SPDX-License-Identifier: Apache-2.0 */
/* rules_service: externalIPs (CVE-2020-8554), exposure types, ExternalName targets and bridges. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "host.h"
#include "owner.h"
#include "policy.h"
#include "rules.h"

static bool
cidr_contains(const struct cidr *c, int family, const unsigned char *addr)
{
	if (c->family != family)
		return false;
	unsigned full = c->prefix / 8, rest = c->prefix % 8;
	if (memcmp(c->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xFF << (8 - rest));
	return (c->addr[full] & mask) == (addr[full] & mask);
}

static void
check_external_ips(struct rule_ctx *ctx, const json_t *ips)
{
	const struct config *cfg = ctx->cfg;
	const json_t *ip;
	size_t i;
	json_array_foreach(ips, i, ip) {
		const char *s = json_string_value(ip);
		unsigned char addr[16];
		int family = AF_INET;
		bool ok = false;
		if (s == NULL) {
			rules_invalid(ctx, "spec.externalIPs[%zu] must be a string", i);
			return;
		}
		if (inet_pton(AF_INET, s, addr) != 1) {
			family = AF_INET6;
			if (inet_pton(AF_INET6, s, addr) != 1) {
				rules_violation(ctx, RULE_SERVICE_EXTERNAL_IPS, s, "spec.externalIPs[%zu] '%s' is "
				    "not an IP address", i, s);
				continue;
			}
		}
		for (size_t c = 0; c < cfg->n_external_ip_cidrs && !ok; c++)
			ok = cidr_contains(&cfg->external_ip_cidrs[c], family, addr);
		if (!ok)
			rules_violation(ctx, RULE_SERVICE_EXTERNAL_IPS, s, "spec.externalIPs[%zu] '%s' is not "
			    "in an allowed range (services.externalIPCIDRs%s); externalIPs can intercept "
			    "other workloads' traffic (CVE-2020-8554)", i, s,
			    cfg->n_external_ip_cidrs ? "" : " is empty");
	}
}

static void
check_external_name(struct rule_ctx *ctx, const json_t *obj, const char *target)
{
	const struct config *cfg = ctx->cfg;
	char host[HOST_MAX], ns[64], want[HOST_MAX + 64];
	const char *why;
	const char *name = jsonget_str(json_object_get(obj, "metadata"), "name");

	if (host_normalize(target, host, sizeof(host), &why) != 0 || host_is_wildcard(host)) {
		rules_violation(ctx, RULE_SERVICE_EXTERNAL_NAME, target, "spec.externalName '%s' %s",
		    target, host_is_wildcard(target) ? "is a wildcard" : why);
		return;
	}
	if (ctx->ns_class == NS_ENTRY) {
		const struct tenant *t = owner_bridge_tenant(cfg, name);
		/* The gateway Service <tenant>-gateway in the tenant's namespace. */
		if (t != NULL && !template_expand(&cfg->tenant_namespace, t->name, ns, sizeof(ns)))
			t = NULL;
		if (t != NULL)
			snprintf(want, sizeof(want), "%s-gateway.%s.svc.%s", t->name, ns,
			    cfg->cluster_domain);
		if (t == NULL)
			rules_violation(ctx, RULE_SERVICE_EXTERNAL_NAME, host, "an ExternalName Service in "
			    "the entry namespace must be a tenant bridge named <tenant>-gateway for a "
			    "configured tenant; '%s' is not", name ? name : "");
		else if (strcmp(host, want) != 0)
			rules_violation(ctx, RULE_SERVICE_EXTERNAL_NAME, host, "bridge %s must point at "
			    "%s, not '%s'", name, want, host);
		return;
	}
	if (ctx->ns_class != NS_TENANT)
		return;
	switch (owner_cluster_name(cfg, host, ns, sizeof(ns))) {
	case CLUSTER_NAME_OWN:
		return;   /* a Service of the tenant's own namespace, by the search path */
	case CLUSTER_NAME_OTHER:
		if (host_is_loopback(host)) {
			rules_violation(ctx, RULE_SERVICE_EXTERNAL_NAME, host, "spec.externalName '%s' "
			    "resolves to the loopback address: the gateway pod itself (or, with "
			    "hostNetwork, the node); name a Service or a public name", host);
			return;
		}
		rules_violation(ctx, RULE_SERVICE_EXTERNAL_NAME, host, "spec.externalName '%s' is a "
		    "cluster-internal name outside tenant %s's namespaces; name a Service as "
		    "<service>.<namespace>.svc.%s in its own namespaces, or a public name", host,
		    ctx->tenant->name, cfg->cluster_domain);
		return;
	case CLUSTER_NAME_NS:
		if (!owner_backend_ns_allowed(ctx, ns))
			rules_violation(ctx, RULE_SERVICE_EXTERNAL_NAME, host, "spec.externalName '%s' "
			    "names a Service or pod in namespace '%s'; tenant %s may name only "
			    "Services in its own namespaces", host, ns, ctx->tenant->name);
		return;
	case CLUSTER_NAME_PUBLIC:
		break;
	}
	if (cfg->external_name_public == EXTNAME_PUBLIC_DENY)
		rules_violation(ctx, RULE_SERVICE_EXTERNAL_NAME, host, "spec.externalName '%s' is a name "
		    "outside the cluster and services.externalNamePublic is deny", host);
}

void
rules_service(struct rule_ctx *ctx, const json_t *obj)
{
	const json_t *spec = json_object_get(obj, "spec");
	const json_t *ips = json_object_get(spec, "externalIPs");
	const json_t *type_v = json_object_get(spec, "type");
	const char *type = json_is_string(type_v) ? json_string_value(type_v) : "ClusterIP";

	if ((spec != NULL && !json_is_object(spec)) || (ips != NULL && !json_is_array(ips)) ||
	    (type_v != NULL && !json_is_string(type_v))) {
		rules_invalid(ctx, "spec, spec.externalIPs and spec.type must be an object, an array of "
		    "strings and a string");
		return;
	}
	check_external_ips(ctx, ips);
	if (ctx->ns_class == NS_TENANT) {
		bool ok = false;
		for (size_t i = 0; i < ctx->cfg->n_service_types && !ok; i++)
			ok = strcmp(ctx->cfg->service_types[i], type) == 0;
		if (!ok)
			rules_violation(ctx, RULE_SERVICE_TYPE, type, "type %s is not allowed in tenant "
			    "namespaces; traffic enters through the unified ingress (use ClusterIP)", type);
	}
	if (strcmp(type, "ExternalName") == 0) {
		const char *target = jsonget_str(spec, "externalName");
		if (target == NULL)
			rules_invalid(ctx, "spec.externalName must be a string for type ExternalName");
		else
			check_external_name(ctx, obj, target);
	}
}
