#!/usr/bin/env bash
# Brownfield (issue 12), on the real kube-apiserver with its audit log on: objects created
# before the webhook is registered — a cross-tenant host collision, a foreign certificate
# SAN, a foreign host, a snippet annotation, a NodePort Service — and clean ones.
# `tenantguard audit --kubeconfig` lists exactly the violations; `serve` (audit.interval 2s)
# shows them in tenantguard_violations and in the Tenant's status, the same as the CLI but
# for Secrets; fixing one drops it at the next run. Then the webhook is registered: warn
# mode makes `kubectl apply` print "Warning: [rule] ...", audit mode puts the violation in
# the audit event, and a relaxed collision leaves the claim with its first owner.
# Last line: "N passed, N failed".
#   usage: tests/e2e/run_audit.sh BUILD_DIR
set -uo pipefail
e2e=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$e2e/../.." && pwd)
build=$(cd "${1:-build/asan}" && pwd)
tg=$build/tenantguard
. "$e2e/lib.sh"

policy=$(mktemp)
cat >"$policy" <<'YAML'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    resources: [{group: "", resources: [services]}, {group: networking.k8s.io, resources: [ingresses]}]
  - level: Metadata   # everything the audit CLI (as admin) asks
    users: [admin]
    userGroups: [system:masters]
  - level: None
YAML
export TENANTGUARD_AUDIT_POLICY=$policy
e2e_cluster_up audit
rm -f "$policy"
tg_serving_setup
admin apply -f "$top/manifests/crd-tenants.yaml" >"$work/crd.log" 2>&1 &&
	admin wait --for condition=established --timeout=30s crd/tenants.tenantguard.io >>"$work/crd.log" 2>&1 ||
	die "the Tenant CRD" "$work/crd.log"
admin apply -f "$top/manifests/rbac.yaml" >"$work/rbac.log" 2>&1 ||
	die "manifests/rbac.yaml" "$work/rbac.log"

# --- the brownfield: written before tenantguard is registered ------------------------------
secret() {   # NAMESPACE NAME SAN
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=$3" \
	    -addext "subjectAltName=DNS:$3" -keyout "$work/$2.key" -out "$work/$2.crt" 2>/dev/null &&
	admin -n "$1" create secret tls "$2" --cert "$work/$2.crt" --key "$work/$2.key"
}
{
	admin apply -f - <<'YAML'
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: tenant3}
spec: {customDomains: ["*.t3.io"]}
---
apiVersion: v1
kind: Namespace
metadata: {name: tenant3-gateway}
YAML
	ingress tenant1-gateway first app.shared.io | admin apply -f -
	ingress tenant1-gateway own api.tenant1.aigw.example.com | admin apply -f -
	ingress tenant3-gateway own-t3 www.t3.io | admin apply -f -
	secret tenant3-gateway own-tls "*.t3.io"
	sleep 1.1   # creationTimestamp has seconds: the collision's second object is visibly later
	ingress tenant3-gateway second app.shared.io | admin apply -f -
	sleep 1.1   # and the foreign host visibly later still: reports go oldest first, ties by name
	ingress tenant3-gateway foreign api.tenant1.aigw.example.com | admin apply -f -
	secret tenant3-gateway foreign-tls "*.customer.com"
	sleep 1.1   # what only the new cache fields show: an annotation, a plain Service
	admin apply -f - <<'YAML'
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: snippet
  namespace: tenant3-gateway
  annotations: {nginx.ingress.kubernetes.io/configuration-snippet: "more_set_headers 'X: y';"}
spec:
  ingressClassName: higress
  rules:
  - host: www2.t3.io
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
YAML
	sleep 1.1
	admin apply -f - <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: np3, namespace: tenant3-gateway}
spec: {type: NodePort, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: app, namespace: tenant3-gateway}
spec: {ports: [{port: 80}]}
YAML
} >"$work/brownfield.log" 2>&1 && ok "brownfield objects created before the webhook exists" ||
	die "brownfield objects" "$work/brownfield.log"

cat >"$work/config.yaml" <<'YAML'
systemDomain: aigw.example.com
admins:
  groups: [system:masters]
  users: [system:serviceaccount:tenantguard-system:tenantguard]
audit: {interval: 2s}
tenants:
  - name: tenant1
    customDomains: ["*.customer.com"]
    enforcement: {default: audit}
  - name: tenant2
    customDomains: ["*.client.com"]
    enforcement: {default: warn}
YAML

# --- tenantguard audit --kubeconfig ---------------------------------------------------------
"$tg" audit --config "$work/config.yaml" --kubeconfig "$KUBECONFIG_ADMIN" >"$work/audit.out" 2>"$work/audit.err"
rc=$?
tail -n +2 "$work/audit.out" | head -n -1 | awk '{print $1, $2, $3}' >"$work/audit.got"
cat >"$work/audit.want" <<'TXT'
Ingress tenant3-gateway/second host-collision
Ingress tenant3-gateway/foreign host-ownership
Secret tenant3-gateway/foreign-tls tls-secret-hosts
Ingress tenant3-gateway/snippet ingress-annotation
Service tenant3-gateway/np3 service-type
TXT
[ "$rc" = 1 ] && diff -q "$work/audit.want" "$work/audit.got" >/dev/null &&
	ok "tenantguard audit --kubeconfig lists exactly the collision, the foreign host, the foreign SAN, the snippet and the NodePort (exit 1)" ||
	{ bad "audit --kubeconfig: exit $rc"; sed 's/^/     /' "$work/audit.out" "$work/audit.err"; }
tail -n 1 "$work/audit.out" | grep -q '^5 violations in [0-9]* objects' &&
	ok "audit summary: $(tail -n 1 "$work/audit.out")" || bad "audit summary: $(tail -n 1 "$work/audit.out")"
# LIST only (and discovery GETs): every request the audit sent, from the apiserver's audit log.
python3 - "$dir/audit.log" <<'PY' && ok "the audit only LISTs (and reads discovery)" || bad "the audit sent other requests"
import json, sys
verbs = [(e["verb"], e.get("objectRef", {}).get("resource", e.get("requestURI")))
         for e in map(json.loads, open(sys.argv[1]))
         if e.get("userAgent") == "tenantguard" and e.get("user", {}).get("username") == "admin"]
print(verbs)
sys.exit(0 if verbs and all(v == "list" or (v == "get" and r.startswith("/apis/")) for v, r in verbs) else 1)
PY
"$tg" audit --kubeconfig "$KUBECONFIG_TENANTGUARD" >"$work/audit-sa.out" 2>&1
[ $? = 2 ] && grep -q "secrets" "$work/audit-sa.out" &&
	ok "without the right to list Secrets the audit is unusable input (exit 2), naming the LIST" ||
	{ bad "audit as the ServiceAccount"; sed 's/^/     /' "$work/audit-sa.out"; }

# --- serve: the periodic audit --------------------------------------------------------------
export TG_KUBECONFIG=$KUBECONFIG_TENANTGUARD
serve 1 --config "$work/config.yaml"
ready 1 || die "serve not ready" "$work/serve1.log"
count() { admin get tenant tenant3 -o jsonpath='{.status.violationCount}' 2>/dev/null; }
until_true() {   # SECONDS CMD...: polls CMD every 100 ms
	local end=$(( $(date +%s) + $1 )); shift
	while [ "$(date +%s)" -lt "$end" ]; do "$@" && return 0; sleep 0.1; done
	return 1
}
col='tenantguard_violations{tenant="tenant3",rule="host-collision"}'
own='tenantguard_violations{tenant="tenant3",rule="host-ownership"}'
ann='tenantguard_violations{tenant="tenant3",rule="ingress-annotation"}'
typ='tenantguard_violations{tenant="tenant3",rule="service-type"}'
until_true 15 eval '[ "$(metric "$col")" = 1 ] && [ "$(metric "$own")" = 1 ]' &&
	ok "serve: tenantguard_violations has tenant3's collision and foreign host" ||
	{ bad "serve metrics: $(curl -sk "https://127.0.0.1:${port[1]}/metrics" | grep -E 'violations|audit_')"; }
until_true 15 eval '[ "$(metric "$ann")" = 1 ] && [ "$(metric "$typ")" = 1 ]' &&
	ok "serve: and the snippet annotation and the NodePort Service (the cache keeps annotations and every Service)" ||
	{ bad "serve metrics: $(curl -sk "https://127.0.0.1:${port[1]}/metrics" | grep -E 'violations')"; }
# The CLI and serve agree on the same cluster, but for what only the CLI reads (Secrets).
"$tg" audit --config "$work/config.yaml" --kubeconfig "$KUBECONFIG_ADMIN" --output json >"$work/audit.json" 2>&1
python3 - "$work/audit.json" <<'PY' | LC_ALL=C sort >"$work/cli.counts"
import collections, json, sys
c = collections.Counter((v["tenant"], v["rule"]) for v in json.load(open(sys.argv[1]))["violations"]
                        if v["kind"] != "Secret")
for (t, r), n in sorted(c.items()):
    print(t, r, n)
PY
curl -sk "https://127.0.0.1:${port[1]}/metrics" |
	sed -n 's/^tenantguard_violations{tenant="\([^"]*\)",rule="\([^"]*\)"} \([0-9]*\)$/\1 \2 \3/p' | LC_ALL=C sort >"$work/serve.counts"
[ -s "$work/cli.counts" ] && diff -q "$work/cli.counts" "$work/serve.counts" >/dev/null &&
	ok "serve's gauge and tenantguard audit agree per tenant and rule ($(wc -l <"$work/cli.counts") series; Secrets aside)" ||
	{ bad "CLI and serve differ"; diff "$work/cli.counts" "$work/serve.counts" | sed 's/^/     /'; }
[ -n "$(metric tenantguard_audit_last_run_timestamp_seconds)" ] && [ -n "$(metric tenantguard_audit_duration_seconds)" ] &&
	ok "serve: audit last-run and duration gauges" || bad "serve: audit gauges missing"
until_true 15 eval '[ "$(count)" = 4 ]' &&
	ok "Tenant tenant3 status.violationCount is 4 (the cached kinds: Secrets are the CLI's)" ||
	{ bad "Tenant status: count '$(count)'"; admin get tenant tenant3 -o yaml | sed 's/^/     /'; }
[ "$(admin get tenant tenant3 -o jsonpath='{.status.violations[*].rule}')" = "host-collision host-ownership ingress-annotation service-type" ] &&
	ok "status.violations names the rules, oldest object first" ||
	bad "status.violations: $(admin get tenant tenant3 -o jsonpath='{.status.violations}')"
admin get tenants | awk 'NR == 1 && /VIOLATIONS/ { h = 1 } $1 == "tenant3" && $5 == 4 { r = 1 } END { exit !(h && r) }' &&
	ok "kubectl get tenants shows VIOLATIONS 4 for tenant3" || { bad "VIOLATIONS column"; admin get tenants | sed 's/^/     /'; }
admin get tenant tenant3 -o jsonpath='{.status.conditions[0].type}' | grep -q Ready &&
	ok "the reconciler's status fields survive the auditor's (separate field managers)" ||
	bad "status conditions gone: $(admin get tenant tenant3 -o jsonpath='{.status}')"

admin -n tenant3-gateway delete ingress foreign >/dev/null 2>&1
until_true 15 eval '[ "$(count)" = 3 ] && [ -z "$(metric "$own")" ]' &&
	ok "fixing one (deleting the foreign Ingress) removes it at the next run" ||
	{ bad "after the fix: count '$(count)', metric '$(metric "$own")'"; }

# --- the webhook: warn and audit modes ------------------------------------------------------
tg_register "127.0.0.1:${port[1]}" || die "register webhooks" "$work/register.log"
nodeport() {   # NAMESPACE NAME
	printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","namespace":"%s"},"spec":{"type":"NodePort","ports":[{"port":80}]}}' "$2" "$1"
}
ips='{"apiVersion":"v1","kind":"Service","metadata":{"name":"ips","namespace":"default"},"spec":{"ports":[{"port":80}],"externalIPs":["203.0.113.9"]}}'
# Registered once a dry run is refused (default is in deny mode: the config's default).
until_true 20 eval '[[ "$(admin apply --dry-run=server -f - <<<"$ips" 2>&1)" == *service-external-ips* ]]' ||
	{ bad "the webhook never answered"; admin apply --dry-run=server -f - <<<"$ips" 2>&1 | sed 's/^/     /'
	  tail -n 5 "$work/serve1.log" | sed 's/^/     /'; summary; exit 1; }
# tenant2 is in warn mode: allowed, the would-be denial printed by kubectl.
nodeport tenant2-gateway np | bob apply -f - >"$work/warn.out" 2>&1
rc=$?
[ "$rc" = 0 ] && grep -q '^Warning: \[service-type\] Service tenant2-gateway/np' "$work/warn.out" &&
	ok "warn: kubectl apply succeeds and prints 'Warning: [service-type] ...'" ||
	{ bad "warn mode: exit $rc"; sed 's/^/     /' "$work/warn.out"; }
# tenant1 is in audit mode: allowed silently; the apiserver's audit event carries it.
nodeport tenant1-gateway np | alice apply -f - >"$work/audit-mode.out" 2>&1
rc=$?
[ "$rc" = 0 ] && ! grep -q Warning "$work/audit-mode.out" &&
	ok "audit: kubectl apply succeeds without a warning" ||
	{ bad "audit mode: exit $rc"; sed 's/^/     /' "$work/audit-mode.out"; }
python3 - "$dir/audit.log" <<'PY' && ok "audit: the audit event of that request has validate.tenantguard.io/violation" ||
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    o = e.get("objectRef", {})
    if o.get("resource") == "services" and o.get("name") == "np" and o.get("namespace") == "tenant1-gateway" \
            and e.get("verb") == "create" and e.get("stage") == "ResponseComplete":
        v = e.get("annotations", {}).get("validate.tenantguard.io/violation", "")
        sys.exit(0 if v.startswith("[service-type] Service tenant1-gateway/np") else 1)
sys.exit(1)
PY
	{ bad "audit annotation not found"; grep '"np"' "$dir/audit.log" | tail -n 3 | cut -c1-1500 | sed 's/^/     /'; }
# A relaxed collision never takes the claim from its first owner: tenant2 (warn) gets an
# Ingress for tenant1's app.shared.io in with a warning (as tenant3's brownfield one is); the
# live index keeps the host tenant1's, so tenant1 (audit mode) adds it again cleanly.
n_ing() { metric 'tenantguard_live_objects{kind="Ingress"}'; }
before=$(n_ing)
ingress tenant2-gateway grab app.shared.io | bob apply -f - >"$work/grab.out" 2>&1
rc=$?
[ "$rc" = 0 ] && grep -q '^Warning: \[host-collision\] Ingress tenant2-gateway/grab' "$work/grab.out" &&
	ok "warn: a colliding Ingress gets in with 'Warning: [host-collision] ...'" ||
	{ bad "warn collision: exit $rc"; sed 's/^/     /' "$work/grab.out"; }
until_true 10 eval '[ "$(n_ing)" -gt "$before" ]' || bad "the informer never saw tenant2-gateway/grab"
ingress tenant1-gateway again app.shared.io | alice apply -f - >"$work/again.out" 2>&1
rc=$?
python3 - "$dir/audit.log" <<'PY' && [ "$rc" = 0 ] &&
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    o = e.get("objectRef", {})
    if o.get("resource") == "ingresses" and o.get("name") == "again" and e.get("verb") == "create" \
            and e.get("stage") == "ResponseComplete":
        print(e.get("annotations", {}).get("validate.tenantguard.io/violation", "no violation"))
        sys.exit(0 if e.get("responseStatus", {}).get("code") == 201 and
                 "validate.tenantguard.io/violation" not in e.get("annotations", {}) else 1)
sys.exit(1)
PY
	ok "the first owner adds its host again with no violation: the relaxed Ingresses took no claim" ||
	{ bad "tenant1's Ingress again: exit $rc"; sed 's/^/     /' "$work/again.out"; }
# Still enforced where the mode is deny (the config's default): an outside namespace.
expect "deny stays deny elsewhere: externalIPs in default" deny:'service-external-ips' \
	admin apply -f - <<<"$ips"
curl -sk "https://127.0.0.1:${port[1]}/metrics" >"$work/metrics.txt"
grep -q 'decision="warned",rule="service-type"' "$work/metrics.txt" &&
	grep -q 'decision="audited",rule="service-type"' "$work/metrics.txt" &&
	ok "metrics count decision=warned and decision=audited" ||
	{ bad "warned/audited not counted"; grep tenantguard_reviews_total "$work/metrics.txt" | grep -v ' 0$' | sed 's/^/     /'; }
# Decision lines are buffered per thread and written within DECLOG_FLUSH_MS (100 ms).
within "the audited decision is logged with enforcement audit" 2000 \
    grep -q '"enforcement":"audit"' "$work/serve1.log"

kill "${pid[1]}" 2>/dev/null; wait "${pid[1]}" 2>/dev/null
sanitizers_clean "serve" "$work/serve1.log"
summary
[ "$fail" -eq 0 ]
