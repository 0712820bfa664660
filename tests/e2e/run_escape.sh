#!/usr/bin/env bash
# Tenant escape paths on a real kube-apiserver with the real Gateway API and Istio CRDs: one
# `tenantguard serve --kubeconfig` replica (live claim index, first-come claims, webhooks
# registered from manifests/webhooks.yaml), then alice (tenant1) and bob (tenant2) try the
# ways around host ownership that issue 11 lists, each judged by what kubectl prints.
# The CRDs come from the Go module cache (`go mod download`), at the versions pinned here.
# Last line: "N passed, N failed".
#   usage: tests/e2e/run_escape.sh BUILD_DIR
set -uo pipefail
e2e=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$e2e/../.." && pwd)
build=$(cd "${1:-build/asan}" && pwd)
tg=$build/tenantguard
. "$e2e/lib.sh"
GATEWAY_API_VERSION=${GATEWAY_API_VERSION:-v1.6.3}
ISTIO_API_VERSION=${ISTIO_API_VERSION:-v1.32.0}

# module_dir MODULE@VERSION: its directory in the Go module cache (downloaded once).
module_dir() {
	(cd "$work" && GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "$1") |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'
}

t0=$SECONDS
e2e_cluster_up escape

# --- the CRDs, as their projects ship them --------------------------------------------------
gwapi=$(module_dir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION") && [ -d "$gwapi/config/crd" ] ||
	{ bad "go mod download sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION"; summary; exit 1; }
istio=$(module_dir "istio.io/api@$ISTIO_API_VERSION") &&
	[ -f "$istio/kubernetes/customresourcedefinitions.gen.yaml" ] ||
	{ bad "go mod download istio.io/api@$ISTIO_API_VERSION"; summary; exit 1; }
# Server-side: the CRDs are larger than client-side apply's last-applied annotation allows.
crds() { admin apply --server-side --force-conflicts "$@" >>"$work/crds.log" 2>&1; }
# apply_as WHO YAML: kubectl apply of a document on stdin, as alice or bob.
apply_as() { local who=$1; shift; printf '%s\n' "$1" | "$who" apply -f -; }
# `edit` aggregates only roles labelled for it; the CRDs below ship none, so the tenants get
# write access to them in their own namespace, as a platform would grant it.
cat <<'YAML' | admin apply -f - >/dev/null 2>&1 || bad "RBAC for the tenants' gateway kinds"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: tenant-gateway-kinds}
rules:
  - apiGroups: [gateway.networking.k8s.io]
    resources: [gateways, grpcroutes, tlsroutes, httproutes, listenersets]
    verbs: [get, list, watch, create, update, patch, delete]
  - apiGroups: [networking.istio.io]
    resources: [virtualservices, gateways]
    verbs: [get, list, watch, create, update, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-gateway-kinds, namespace: tenant1-gateway}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: tenant-gateway-kinds}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bob-gateway-kinds, namespace: tenant2-gateway}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: tenant-gateway-kinds}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: bob}]
YAML

tg_serving_setup

# --- TLSRoute where only v1alpha2 is served (older experimental channels) ----------------
# The v1.6.3 experimental TLSRoute CRD with v1alpha2 as its only version (served, stored), as
# a cluster on an older channel has it; a replica started then must watch that version, and
# the shipped webhook rules must send it for review. Removed again before the real channels.
python3 - "$gwapi/config/crd/experimental/gateway.networking.k8s.io_tlsroutes.yaml" \
    >"$work/tlsroute-v1alpha2.yaml" <<'PY'
import sys, yaml
crd = yaml.safe_load(open(sys.argv[1]))
crd["spec"]["versions"] = [dict(v, served=True, storage=True)
                           for v in crd["spec"]["versions"] if v["name"] == "v1alpha2"]
yaml.safe_dump(crd, sys.stdout)
PY
crds -f "$work/tlsroute-v1alpha2.yaml" &&
	admin wait --for condition=established --timeout=60s crd/tlsroutes.gateway.networking.k8s.io \
	    >>"$work/crds.log" 2>&1 &&
	ok "a TLSRoute CRD serving only v1alpha2 (from the v1.6.3 experimental one) is established" ||
	{ bad "the v1alpha2-only TLSRoute CRD"; tail -n 20 "$work/crds.log" | sed 's/^/     /'; }
serve 2 --no-reconcile
ready 2 || die "tenantguard serve (replica 2) not ready" "$work/serve2.log"
grep -q "informer TLSRoute: /apis/gateway.networking.k8s.io/v1alpha2 is served; listing it" \
    "$work/serve2.log" && ok "the TLSRoute informer found v1alpha2 served and watches it" ||
	bad "the TLSRoute informer did not pick v1alpha2: $(grep 'informer TLSRoute' "$work/serve2.log")"
admin apply -f - >/dev/null 2>&1 <<'YAML' || bad "admin: a v1alpha2 TLSRoute in tenant2-gateway"
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: alpha, namespace: tenant2-gateway}
spec:
  parentRefs: [{name: gw}]
  hostnames: [tls.alpha.io]
  rules: [{backendRefs: [{name: web, port: 443}]}]
YAML
tlsroutes_live() { [ "$(metric 'tenantguard_live_objects{kind="TLSRoute"}' 2)" = 1 ]; }
within "the live index holds tenant2's v1alpha2 TLSRoute" 5000 tlsroutes_live
mkreview "$work/alpha.json" tenant1 '*.alpha.io'
within "tenant1's *.alpha.io then collides with it [host-collision]" 5000 collides "$work/alpha.json" 2
tg_register "127.0.0.1:${port[2]}" || die "register manifests/webhooks.yaml" "$work/register.log"
within "the registered webhooks answer (replica 2)" 20000 webhook_answers ||
	die "the registered webhook never answered" "$work/serve2.log"
expect "alice: a v1alpha2 TLSRoute for tenant2's domain is reviewed and refused (shipped rules: every version)" \
    deny:'\[host-ownership\]' apply_as alice '
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: steal, namespace: tenant1-gateway}
spec:
  parentRefs: [{name: gw}]
  hostnames: [pay.client.com]
  rules: [{backendRefs: [{name: web, port: 443}]}]'
serve_stop 2 "replica 2"
admin delete validatingwebhookconfiguration,mutatingwebhookconfiguration -l app.kubernetes.io/name=tenantguard \
    >/dev/null 2>&1
admin delete crd tlsroutes.gateway.networking.k8s.io --timeout=60s >>"$work/crds.log" 2>&1 ||
	bad "delete the v1alpha2-only TLSRoute CRD"

crds -f "$gwapi/config/crd/standard/" &&
	ok "Gateway API $GATEWAY_API_VERSION standard channel CRDs apply" ||
	{ bad "Gateway API standard CRDs"; tail -n 20 "$work/crds.log" | sed 's/^/     /'; }
# The experimental channel over it (its extra versions and x-k8s.io kinds); the safe-upgrade
# policy of the standard channel may refuse the channel switch, which is then what it says.
applied=0 refused=0
for f in "$gwapi"/config/crd/experimental/*.yaml; do
	case $f in *kustomization.yaml|*vap_safeupgrades.yaml) continue ;; esac
	if crds -f "$f"; then applied=$((applied + 1)); else refused=$((refused + 1)); fi
done
ok "Gateway API experimental channel over it: $applied CRD files applied, $refused refused"
admin wait --for condition=established --timeout=60s crd/gateways.gateway.networking.k8s.io \
    crd/grpcroutes.gateway.networking.k8s.io crd/tlsroutes.gateway.networking.k8s.io \
    crd/listenersets.gateway.networking.k8s.io >>"$work/crds.log" 2>&1 &&
	ok "Gateway API Gateway, GRPCRoute, TLSRoute and ListenerSet established" ||
	{ bad "Gateway API CRDs not established"; tail -n 20 "$work/crds.log" | sed 's/^/     /'; }
crds -f "$istio/kubernetes/customresourcedefinitions.gen.yaml" &&
	admin wait --for condition=established --timeout=60s \
	    crd/virtualservices.networking.istio.io crd/gateways.networking.istio.io >>"$work/crds.log" 2>&1 &&
	ok "Istio $ISTIO_API_VERSION networking CRDs apply and are established" ||
	{ bad "Istio CRDs"; tail -n 20 "$work/crds.log" | sed 's/^/     /'; }

# --- tenantguard with live state, registered as shipped -------------------------------------
serve 1 --no-reconcile
ready 1 || die "tenantguard serve --kubeconfig not ready" "$work/serve1.log"
for k in GRPCRoute TLSRoute Gateway ListenerSet VirtualService Gateway.networking.istio.io IngressClass; do
	grep -q "informer $k: .* is served; listing it" "$work/serve1.log" &&
		ok "the $k informer found its API served and lists it" ||
		bad "the $k informer did not find its API"
done
tg_register "127.0.0.1:${port[1]}" || die "register manifests/webhooks.yaml" "$work/register.log"
within "the registered webhooks answer ($((SECONDS - t0)) s with the cluster and CRDs)" 20000 \
    webhook_answers || die "the registered webhook never answered" "$work/serve1.log"

# annotated ANNOTATIONS: lib's ingress YAML (stdin) with a flow map of annotations added.
annotated() { sed "s|^metadata: {\(.*\)}\$|metadata: {\1, annotations: $1}|"; }
gateway() {   # NAMESPACE NAME HOST
	cat <<YAML
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: $2, namespace: $1}
spec:
  gatewayClassName: higress
  listeners:
  - {name: http, port: 80, protocol: HTTP, hostname: "$3"}
YAML
}

# --- the shared entry controller cannot be programmed -----------------------------------
expect "alice: a tenant Ingress with the entry class nginx is refused" deny:'\[ingress-class\]' \
    apply_as alice "$(ingress tenant1-gateway entry api.tenant1.aigw.example.com nginx)"
expect "alice: a server-snippet annotation is refused" deny:'\[ingress-annotation\]' \
    apply_as alice "$(ingress tenant1-gateway snip api.tenant1.aigw.example.com |
    annotated '{nginx.ingress.kubernetes.io/server-snippet: "location /x { return 200; }"}')"
expect "alice: a class-less tenant Ingress is allowed (/mutate gives it the tenant class)" allow \
    apply_as alice "$(ingress tenant1-gateway classless web.tenant1.aigw.example.com -)"
expect "and it is stored with ingressClassName higress" allow sh -c \
    '[ "$("$0" --kubeconfig "$1" -n tenant1-gateway get ingress classless -o jsonpath="{.spec.ingressClassName}")" = higress ]' \
    "$KUBECTL" "$KUBECONFIG_ALICE"

# --- the cluster's default IngressClass ---------------------------------------------------
# The apiserver's DefaultIngressClass admission plugin gives a class-less Ingress the default
# class before any webhook sees it; tenantguard logs a default that is the entry's.
log1() { cat "$work/serve1.log"; }
grep -q "IngressClass check: 0 classes, no default class is the entry's" "$work/serve1.log" &&
	ok "at start-up: logged that no default IngressClass is the entry's" ||
	bad "no start-up IngressClass line: $(grep -i ingressclass "$work/serve1.log" | head -3)"
ingressclass() {   # NAME CONTROLLER DEFAULT(true|false)
	printf 'apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: %s\n  annotations: {ingressclass.kubernetes.io/is-default-class: "%s"}\nspec: {controller: %s}\n' \
	    "$1" "$3" "$2" | admin apply -f - >/dev/null
}
ingressclass higress higress.io/higress-controller false
ingressclass nginx k8s.io/ingress-nginx true || bad "admin: IngressClass nginx marked default"
logged() { grep -q -- "$1" <<<"$(log1)"; }
within "IngressClass nginx marked default: the warning names it as the entry's class" 5000 \
    logged "IngressClass nginx is the cluster's default class .* and the unified entry's class"
gauge_is() { [ "$(metric tenantguard_ingressclass_default_entry)" = "$1" ]; }
within "and tenantguard_ingressclass_default_entry is 1" 5000 gauge_is 1
expect "alice: with nginx the default, a class-less Ingress gets nginx from the apiserver and is refused" \
    deny:'\[ingress-class\]' apply_as alice "$(ingress tenant1-gateway classless2 web2.tenant1.aigw.example.com -)"
admin annotate --overwrite ingressclass nginx ingressclass.kubernetes.io/is-default-class=false >/dev/null ||
	bad "admin: unmark nginx"
within "nginx no longer the default: logged" 5000 logged "IngressClass nginx is no longer a default class"
within "and the gauge is back to 0" 5000 gauge_is 0
ingressclass public k8s.io/ingress-nginx true || bad "admin: IngressClass public marked default"
within "a default named otherwise but run by the entry's controller is logged too" 5000 \
    logged "IngressClass public is the cluster's default class .* run by the entry class nginx's controller k8s.io/ingress-nginx"
admin delete ingressclass public >/dev/null || bad "admin: delete IngressClass public"
within "its deletion is logged" 5000 logged "IngressClass public is no longer a default class"
expect "with no default class, a class-less Ingress is allowed again (/mutate gives it higress)" allow \
    apply_as alice "$(ingress tenant1-gateway classless2 web2.tenant1.aigw.example.com -)"

# --- loopback and IP targets; Istio Gateway selectors ------------------------------------
# The apiserver takes these ExternalNames (it checks a DNS-1123 subdomain only): tenantguard not.
externalname() {   # NAME TARGET
	printf 'apiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: tenant1-gateway}\nspec: {type: ExternalName, externalName: "%s", ports: [{port: 80}]}\n' "$1" "$2"
}
expect "alice: an ExternalName localhost is refused" deny:'\[service-external-name\].*loopback' \
    apply_as alice "$(externalname loop localhost)"
expect "alice: an ExternalName 10.96.0.10 (a cluster IP) is refused" \
    deny:'\[service-external-name\].*IP address' apply_as alice "$(externalname dns 10.96.0.10)"
expect "alice: an ExternalName localhost.example.com (a public name) is allowed" allow \
    apply_as alice "$(externalname ext localhost.example.com)"
istio_gateway() {   # NAME SELECTOR
	printf 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: %s, namespace: tenant1-gateway}\nspec:\n  selector: %s\n  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [./api.tenant1.aigw.example.com]}]\n' "$1" "$2"
}
expect "alice: an Istio Gateway selecting tenant2's gateway pods is refused" \
    deny:'\[backend-namespace\]' apply_as alice "$(istio_gateway steal '{higress: tenant2-gateway-higress-gateway}')"
expect "alice: one selecting every Higress gateway (app: higress-gateway) is refused" \
    deny:'\[backend-namespace\]' apply_as alice "$(istio_gateway every '{app: higress-gateway}')"
expect "alice: one selecting her own gateway is allowed" allow \
    apply_as alice "$(istio_gateway own '{higress: tenant1-gateway-higress-gateway}')"

# --- every host-binding kind is a claim ---------------------------------------------------
expect "alice: a Gateway listener for tenant2's host is refused" deny:'\[host-ownership\]' \
    apply_as alice "$(gateway tenant1-gateway steal api.tenant2.aigw.example.com)"
expect "alice: a GRPCRoute for tenant2's host is refused" deny:'\[host-ownership\]' apply_as alice '
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: steal, namespace: tenant1-gateway}
spec:
  parentRefs: [{name: gw}]
  hostnames: [grpc.client.com]
  rules: [{backendRefs: [{name: web, port: 9000}]}]'
expect "alice: a VirtualService for tenant2's host is refused" deny:'\[host-ownership\]' apply_as alice '
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: steal, namespace: tenant1-gateway}
spec:
  hosts: [shop.client.com]
  gateways: [gw]
  http: [{route: [{destination: {host: web}}]}]'
expect_not "the refusals do not name tenant2's namespace" 'tenant2-gateway' \
    apply_as alice "$(gateway tenant1-gateway steal api.tenant2.aigw.example.com)"
expect "alice: her own GRPCRoute is allowed" allow apply_as alice '
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: own, namespace: tenant1-gateway}
spec:
  parentRefs: [{name: gw}]
  hostnames: [grpc.tenant1.aigw.example.com]
  rules: [{backendRefs: [{name: web, port: 9000}]}]'

# --- cross-kind collisions through the live index, both orders ---------------------------
expect "bob: a Gateway listener claims the fresh host shop.newco.io first" allow \
    apply_as bob "$(gateway tenant2-gateway shop shop.newco.io)"
# The live index has it once the informer saw the event (milliseconds; give it 5 s).
verdict=""
for _ in $(seq 50); do
	verdict=$(apply_as alice "$(ingress tenant1-gateway newco '*.newco.io')" 2>&1) && break
	echo "$verdict" | grep -q 'host-collision' && break
	sleep 0.1
done
echo "$verdict" | grep -q '\[host-collision\]' &&
	ok "alice: then her Ingress for *.newco.io is refused [host-collision]" ||
	bad "alice's *.newco.io Ingress: $verdict"
echo "$verdict" | grep -q 'tenant2-gateway' && bad "the collision names tenant2's namespace" ||
	ok "the collision does not name tenant2's namespace"
expect "alice: the reverse order, her Ingress for *.rev.io first" allow \
    apply_as alice "$(ingress tenant1-gateway rev '*.rev.io')"
verdict=""
for _ in $(seq 50); do
	verdict=$(apply_as bob "$(gateway tenant2-gateway rev api.rev.io)" 2>&1) && break
	echo "$verdict" | grep -q 'host-collision' && break
	sleep 0.1
done
echo "$verdict" | grep -q '\[host-collision\]' &&
	ok "bob: then a Gateway listener for api.rev.io is refused [host-collision]" ||
	bad "bob's api.rev.io Gateway: $verdict"
# A review straight to /validate (no claim ConfigMap involved: the host is bob's already
# held one) shows the live index itself knows the Gateway's claim.
curl -sk "https://127.0.0.1:${port[1]}/metrics" | grep -q 'tenantguard_live_objects{kind="Gateway"} 1' &&
	ok "the live index holds bob's Gateway (tenantguard_live_objects{kind=\"Gateway\"} 1)" ||
	bad "the live index does not count bob's Gateway"

# --- a replica started later lists every kind, Istio's Gateway too ------------------------
# Istio's Gateway is keyed apart from Gateway API's (Gateway.networking.istio.io); a relist
# that compared its items' kind ("Gateway") with the informer's dropped every one of them, so
# a replica started after them (or relisting after a 410) held none of their claims.
admin apply -f - >/dev/null 2>&1 <<'YAML' || bad "admin: an Istio Gateway in tenant2-gateway"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: listed, namespace: tenant2-gateway}
spec:
  selector: {higress: tenant2-gateway-higress-gateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [./ig.listed.io]}]
YAML
serve 2 --no-reconcile
ready 2 || die "tenantguard serve (replica 2, again) not ready" "$work/serve2.log"
istio_listed() { [ "$(metric 'tenantguard_live_objects{kind="Gateway.networking.istio.io"}' 2)" = 2 ]; }
within "a replica started now lists both Istio Gateways (alice's and tenant2's)" 5000 istio_listed
mkreview "$work/listed.json" tenant1 '*.listed.io'
within "tenant1's *.listed.io collides with the listed one there [host-collision]" 5000 \
    collides "$work/listed.json" 2
serve_stop 2 "replica 2 (again)"

sanitizers_clean "tenantguard serve" "$work/serve1.log" "$work/serve2.log"
summary
[ "$fail" -eq 0 ]
