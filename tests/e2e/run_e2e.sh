#!/usr/bin/env bash
# The end-to-end suite: tenantguard behind a real kube-apiserver, judged by what kubectl says.
# Builds (or reuses) the control plane binaries, starts etcd + kube-apiserver on loopback,
# runs `tenantguard serve` there, registers manifests/webhooks.yaml with URL client configs,
# and runs each case as a kubectl call with its expected outcome. Everything is torn down at
# the end, also on failure. Last line: "N passed, N failed".
#   usage: tests/e2e/run_e2e.sh BUILD_DIR     (BUILD_DIR/tenantguard is the binary under test)
set -uo pipefail
e2e=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$e2e/../.." && pwd)
build=$(cd "${1:-build/asan}" && pwd)
tg=$build/tenantguard
obj=$e2e/objects
. "$e2e/lib.sh"

t0=$SECONDS
e2e_cluster_up e2e
ok "control plane built (or cached) and up in $((SECONDS - t0)) s"

tg_serving_setup

# tenantguard itself, on loopback, with certificates from its own `certs` command, and no
# cluster state (TG_KUBECONFIG empty): what the apiserver sends is all it decides on.
TG_KUBECONFIG=
serve 1; ready 1 || die "tenantguard serve did not get ready" "$work/serve1.log"

# The webhook configurations exactly as shipped, with the Service reference swapped for the
# local URL and the caBundle filled in, as `make manifests` would.
expect "the shipped webhook configurations register (URL client config)" allow tg_register "127.0.0.1:${port[1]}"
within "the registered webhook answers" 20000 webhook_answers

# --- tenant Ingresses ---------------------------------------------------------------------
expect "the reference tenant1-api-ingress is allowed in tenant1-gateway" allow alice apply -f "$obj/tenant1-api-ingress.yaml"
expect "the same host from tenant2 is rejected with its rule id" deny:'\[host-ownership\]' bob apply -f "$obj/same-host-in-tenant2.yaml"
expect_not "the rejection does not name tenant1's namespace or objects" 'tenant1-gateway' bob apply -f "$obj/same-host-in-tenant2.yaml"
expect "the rejection is the webhook's (denied the request)" deny:'admission webhook "validate.tenantguard.io" denied the request' bob apply -f "$obj/same-host-in-tenant2.yaml"
expect "a destination in a namespace tenant2 may not use is rejected" deny:'\[backend-namespace\]' bob apply -f "$obj/destination-other-namespace.yaml"
expect "a tenant Ingress comes back labelled with its tenant" allow sh -c \
    '"$0" --kubeconfig "$1" -n tenant1-gateway get ingress tenant1-api-ingress -o jsonpath="{.metadata.labels.tenantguard\.io/tenant}" | grep -qx tenant1' "$KUBECTL" "$KUBECONFIG_ALICE"
expect "an unrelated update of the allowed Ingress is allowed" allow alice -n tenant1-gateway annotate ingress tenant1-api-ingress team=blue
expect "dry-run=server gives the same rejection" deny:'\[host-ownership\]' bob apply --dry-run=server -f "$obj/same-host-in-tenant2.yaml"
alice -n tenant1-gateway delete ingress tenant1-api-ingress >/dev/null 2>&1
expect "dry-run=server of an allowed Ingress is allowed" allow alice apply --dry-run=server -f "$obj/tenant1-api-ingress.yaml"
expect "and creates nothing" deny:'NotFound|not found' alice -n tenant1-gateway get ingress tenant1-api-ingress

# --- Services ---------------------------------------------------------------------------
expect "externalIPs in a tenant namespace are rejected" deny:'\[service-external-ips\]' alice apply -f "$obj/external-ips.yaml"
expect "a LoadBalancer in a tenant namespace is rejected" deny:'\[service-type\]' alice apply -f "$obj/loadbalancer.yaml"
expect "an ExternalName into kube-system is rejected" deny:'\[service-external-name\]' alice apply -f "$obj/externalname-kube-system.yaml"
expect "a ClusterIP Service is allowed" allow alice apply -f "$obj/clusterip.yaml"
expect "and comes back labelled tenantguard.io/tenant=tenant1" allow sh -c \
    '"$0" --kubeconfig "$1" -n tenant1-gateway get svc app -o jsonpath="{.metadata.labels.tenantguard\.io/tenant}" | grep -qx tenant1' "$KUBECTL" "$KUBECONFIG_ALICE"

# --- TLS Secrets (certificates made here with the openssl CLI, test infrastructure) --------
mkcert() {   # name san days
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$3" \
	    -subj "/CN=$2" -addext "subjectAltName=DNS:$2" \
	    -keyout "$dir/$1.key" -out "$dir/$1.crt" >/dev/null 2>&1
}
mkcert own '*.customer.com' 90
mkcert foreign '*.client.com' 90
expect "a TLS Secret for tenant1's own domain is allowed" allow alice -n tenant1-gateway create secret tls own-cert --cert "$dir/own.crt" --key "$dir/own.key"
expect "a TLS Secret for another tenant's domain is rejected" deny:'\[tls-secret-hosts\]' alice -n tenant1-gateway create secret tls foreign-cert --cert "$dir/foreign.crt" --key "$dir/foreign.key"
# kubectl create secret tls checks the pair itself, so this one is written out by hand.
cat >"$dir/mixed.yaml" <<YAML
apiVersion: v1
kind: Secret
metadata: {name: mixed-cert, namespace: tenant1-gateway}
type: kubernetes.io/tls
data:
  tls.crt: $(base64 -w0 "$dir/own.crt")
  tls.key: $(base64 -w0 "$dir/foreign.key")
YAML
expect "a TLS Secret whose key belongs to another certificate is rejected" deny:'\[tls-secret\]' alice apply -f "$dir/mixed.yaml"

# --- the entry namespace ------------------------------------------------------------------
admin -n higress-system create rolebinding alice-edit --clusterrole=edit --user=alice >/dev/null
expect "a tenant user editing higress-system is rejected (entry-admin)" deny:'\[entry-admin\]' alice apply -f "$obj/entry-ingress-by-tenant.yaml"
expect "render bridges output applies for the admin" allow sh -c '"$0" render bridges | "$1" --kubeconfig "$2" apply -f -' "$tg" "$KUBECTL" "$KUBECONFIG_ADMIN"
expect "a bridge pointing at the wrong tenant is rejected" deny:'\[service-external-name\]' admin apply -f "$obj/bridge-wrong-tenant.yaml"
expect "the unified Ingress applied by the admin is allowed" allow admin apply -f "$obj/unified-ingress.yaml"
admin -n higress-system get ingress unified-ingress -o json >"$dir/unified.json" 2>&1
expect "it comes back with every backend on its tenant's bridge and TLS secrets set" allow python3 - "$dir/unified.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))["spec"]
want = {"*.tenant1.aigw.example.com": "tenant1-gateway", "*.customer.com": "tenant1-gateway",
        "*.tenant2.aigw.example.com": "tenant2-gateway"}
for r in spec["rules"]:
    for p in r["http"]["paths"]:
        svc = p["backend"]["service"]
        assert svc["name"] == want[r["host"]] and svc["port"] == {"number": 80}, (r["host"], svc)
assert [t.get("secretName") for t in spec["tls"]] == ["system-wildcard-cert", "tenant1-custom-cert"], spec["tls"]
PY
expect "a unified-Ingress host no tenant owns is rejected (entry-route)" deny:'\[entry-route\]' admin apply -f "$obj/unified-unknown-host.yaml"

# --- managed objects and namespaces -------------------------------------------------------
expect "render baseline tenant1 applies for the admin" allow sh -c '"$0" render baseline tenant1 | "$1" --kubeconfig "$2" apply -f -' "$tg" "$KUBECTL" "$KUBECONFIG_ADMIN"
expect "a tenant user may not delete its baseline NetworkPolicy" deny:'\[managed-object\]' alice -n tenant1-gateway delete networkpolicy tenantguard-isolation
expect "a tenant user may not open its baseline NetworkPolicy" deny:'\[managed-object\]' alice -n tenant1-gateway patch networkpolicy tenantguard-isolation --type=json -p '[{"op":"add","path":"/spec/ingress/0/from/-","value":{"namespaceSelector":{}}}]'
expect "the admin may change the ResourceQuota" allow admin -n tenant1-gateway patch resourcequota tenantguard-quota --type=merge -p '{"spec":{"hard":{"limits.cpu":"6"}}}'
expect "a namespace for an unknown tenant is rejected, even for the admin" deny:'\[namespace-tenant\]' admin apply -f "$obj/unknown-tenant-namespace.yaml"
expect "an ordinary namespace is allowed" allow admin create namespace team-x

# --- the manifests themselves (tenantguard-system exists: tg_serving_setup) ----------------
expect "kubectl apply -k manifests/ passes the apiserver (server-side dry run)" allow admin apply -k "$top/manifests" --dry-run=server

# --- failure policy: the webhook gone ----------------------------------------------------
serve_stop 1 "the webhook"
expect "with the webhook stopped, failurePolicy Fail rejects" deny:'failed calling webhook' alice apply -f "$obj/tenant1-api-ingress.yaml"
serve 1; ready 1 && ok "tenantguard serve restarts (same port)" || bad "tenantguard serve restarts"
expect "and with it back, the same apply is allowed" allow alice apply -f "$obj/tenant1-api-ingress.yaml"

serve_stop 1 "tenantguard serve"
sanitizers_clean "tenantguard serve" "$work/serve1.log"
summary
[ "$fail" = 0 ]
