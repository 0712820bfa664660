#!/usr/bin/env bash
# Tenants as Kubernetes objects (issue 6), on the real kube-apiserver + controller-manager:
# the Tenant CRD and RBAC from manifests/, two `tenantguard serve --kubeconfig` replicas
# running as the tenantguard ServiceAccount (config with routeSync on) behind tools/tcplb.py, the shipped webhook configurations registered with the
# balancer's URL. One `kubectl apply` of a Tenant must yield its namespace, NetworkPolicy,
# ResourceQuota, bridge and routes within 2 s; tenants' deletions are refused, admins' healed;
# a quota override, a bound and a released custom host follow; an overlapping Tenant is
# refused; deleting a Tenant removes what was made for it; killing the leader hands the Lease
# to the other replica, which keeps healing. Last line: "N passed, N failed".
#   usage: tests/e2e/run_tenants.sh BUILD_DIR
set -uo pipefail
e2e=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$e2e/../.." && pwd)
build=$(cd "${1:-build/asan}" && pwd)
tg=$build/tenantguard
. "$e2e/lib.sh"
LEASE=${LEASE:-4}

e2e_cluster_up tenants
tg_serving_setup
admin create namespace higress-system >/dev/null 2>&1 || admin get namespace higress-system >/dev/null ||
	die "create namespace higress-system"
admin apply -f "$top/manifests/crd-tenants.yaml" >"$work/crd.log" 2>&1 &&
	admin wait --for condition=established --timeout=30s crd/tenants.tenantguard.io >>"$work/crd.log" 2>&1 &&
	ok "manifests/crd-tenants.yaml applies and is established" ||
	die "the Tenant CRD" "$work/crd.log"

# A Tenant named like a config-file tenant, created before the webhook is registered (which
# would refuse it): it must be left out of the config, logged, and say so in its status.
cat <<'YAML' | admin apply -f - >/dev/null 2>&1 || bad "create Tenant tenant2 (clash)"
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: tenant2}
spec: {customDomains: ["*.clash.io"]}
YAML

# The replicas run as the Deployment's ServiceAccount with manifests/rbac.yaml as shipped, so
# a missing verb fails here; its admin entry is the one the shipped ConfigMap has.
admin apply -f "$top/manifests/rbac.yaml" >"$work/rbac.log" 2>&1 && ok "manifests/rbac.yaml applies" ||
	{ bad "manifests/rbac.yaml"; sed 's/^/     /' "$work/rbac.log"; }
export TG_KUBECONFIG=$KUBECONFIG_TENANTGUARD
cat >"$work/config.yaml" <<'YAML'
systemDomain: aigw.example.com
routeSync: true
entryIngressClass: nginx
admins:
  groups: [system:masters]
  users: [system:serviceaccount:tenantguard-system:tenantguard]
tenants:
  - name: tenant1
    customDomains: ["*.customer.com"]
    backendNamespaces: [default]
  - name: tenant2
    customDomains: ["*.client.com"]
YAML
for r in 1 2; do serve "$r" --config "$work/config.yaml" --lease-seconds "$LEASE"; done
ready 1 2 || die "replicas not ready" "$work"/serve*.log
tg_balancer "$work" "${port[1]}" "${port[2]}" || die "tcplb.py did not start" "$work/lb.log"
tg_register "127.0.0.1:$lbport" || die "register webhooks" "$work/register.log"
guarded() { grep -q managed-object <<<"$(alice -n tenant1-gateway delete networkpolicy tenantguard-isolation --dry-run=server 2>&1)"; }
within "webhook registered; tenant1's baseline exists (config-file tenants are reconciled too) and is guarded" 20000 guarded ||
	die "webhook or tenant1 baseline never answered" "$work"/serve*.log
jp() { admin get "$@" 2>/dev/null; }   # jp ARGS: kubectl get as admin, quiet
leader() { jp -n tenantguard-system lease tenantguard-reconciler -o jsonpath='{.spec.holderIdentity}'; }

# --- one leader ---------------------------------------------------------------------------
held_by() { [ "$(leader)" = "$1" ]; }
has_leader() { [ -n "$(leader)" ]; }
within "a replica takes the Lease" 10000 has_leader
first=$(leader)
n_leading=$(grep -l "leader: acquired" "$work"/serve1.log "$work"/serve2.log 2>/dev/null | wc -l)
case $first in replica-1|replica-2) [ "$n_leading" = 1 ] ;; *) false ;; esac &&
	ok "one leader: Lease tenantguard-system/tenantguard-reconciler held by $first, and only one replica logged acquiring it" ||
	{ bad "leader: holder '$first', $n_leading replicas logged acquiring"; grep -h leader: "$work"/serve*.log | sed 's/^/     /'; }

l1=$(metric tenantguard_reconciler_leader 1) l2=$(metric tenantguard_reconciler_leader 2)
{ [ "$l1$l2" = "10" ] && [ "$first" = replica-1 ]; } || { [ "$l1$l2" = "01" ] && [ "$first" = replica-2 ]; } &&
	ok "tenantguard_reconciler_leader is 1 on $first only (replica 1: $l1, replica 2: $l2)" ||
	bad "tenantguard_reconciler_leader: replica 1 '$l1', replica 2 '$l2', holder $first"

# --- apply a Tenant -------------------------------------------------------------------------
cat >"$work/tenant3.yaml" <<'YAML'
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: tenant3}
spec:
  customDomains: ["*.newco.com"]
  resourceQuota: {limits.cpu: "8"}
YAML
admin apply -f "$work/tenant3.yaml" >"$work/t3.log" 2>&1 || { bad "kubectl apply Tenant tenant3"; sed 's/^/     /' "$work/t3.log"; }
all3() {
	admin get namespace tenant3-gateway && admin -n tenant3-gateway get networkpolicy tenantguard-isolation &&
	admin -n tenant3-gateway get resourcequota tenantguard-quota && admin -n higress-system get service tenant3-gateway &&
	admin -n higress-system get ingress tenantguard-routes-tenant3
}
within "one kubectl apply of Tenant tenant3: namespace, NetworkPolicy, ResourceQuota, bridge and routes exist (≤ 2 s)" 2000 all3 ||
	tail -n 15 "$work"/serve*.log | sed 's/^/     /'

# Each field, with one python check per object.
check() {   # check NAME PYEXPR KUBECTL-GET-ARGS...: PYEXPR over the object `o` must be true
	local name=$1 expr=$2; shift 2
	if jp "$@" -o json | python3 -c 'import json,sys; o=json.load(sys.stdin); sys.exit(0 if eval(sys.argv[1]) else 1)' "$expr"; then
		ok "$name"
	else
		bad "$name"; jp "$@" -o yaml | sed 's/^/     /' | head -40
	fi
}
L='o["metadata"]["labels"]'
check "namespace tenant3-gateway: tenant label, Pod Security restricted (enforce, audit, warn), managed-by, owned by the Tenant" \
    "$L['tenantguard.io/tenant']=='tenant3' and $L['pod-security.kubernetes.io/enforce']=='restricted' and $L['pod-security.kubernetes.io/audit']=='restricted' and $L['pod-security.kubernetes.io/warn']=='restricted' and $L['app.kubernetes.io/managed-by']=='tenantguard' and o['metadata']['ownerReferences'][0]['kind']=='Tenant' and o['metadata']['ownerReferences'][0]['name']=='tenant3'" \
    namespace tenant3-gateway
check "NetworkPolicy tenantguard-isolation: every pod, Ingress only, from its own namespace's pods and from the entry namespace (by kubernetes.io/metadata.name) — nothing else" \
    "o['spec']['podSelector']=={} and o['spec']['policyTypes']==['Ingress'] and o['spec']['ingress']==[{'from':[{'podSelector':{}},{'namespaceSelector':{'matchLabels':{'kubernetes.io/metadata.name':'higress-system'}}}]}] and $L['app.kubernetes.io/managed-by']=='tenantguard' and o['metadata']['ownerReferences'][0]['name']=='tenant3'" \
    -n tenant3-gateway networkpolicy tenantguard-isolation
check "ResourceQuota tenantguard-quota: the Tenant's limits.cpu 8 over the baseline (requests.cpu 5, memory 4Gi, storage 10Gi)" \
    "o['spec']['hard']=={'limits.cpu':'8','requests.cpu':'5','requests.memory':'4Gi','limits.memory':'4Gi','requests.storage':'10Gi'} and $L['app.kubernetes.io/managed-by']=='tenantguard'" \
    -n tenant3-gateway resourcequota tenantguard-quota
check "bridge higress-system/tenant3-gateway: ExternalName tenant3-gateway.tenant3-gateway.svc.cluster.local, port 80" \
    "o['spec']['type']=='ExternalName' and o['spec']['externalName']=='tenant3-gateway.tenant3-gateway.svc.cluster.local' and o['spec']['ports'][0]['port']==80 and o['metadata']['ownerReferences'][0]['name']=='tenant3'" \
    -n higress-system service tenant3-gateway
check "routes higress-system/tenantguard-routes-tenant3: class nginx, *.tenant3.aigw.example.com and *.newco.com to the bridge, TLS system-wildcard-cert and tenant3-custom-cert" \
    "o['spec']['ingressClassName']=='nginx' and [r['host'] for r in o['spec']['rules']]==['*.tenant3.aigw.example.com','*.newco.com'] and all(p['backend']['service']=={'name':'tenant3-gateway','port':{'number':80}} for r in o['spec']['rules'] for p in r['http']['paths']) and o['spec']['tls']==[{'hosts':['*.tenant3.aigw.example.com'],'secretName':'system-wildcard-cert'},{'hosts':['*.newco.com'],'secretName':'tenant3-custom-cert'}]" \
    -n higress-system ingress tenantguard-routes-tenant3
# tenant_cond NAME FIELD VALUE: the Tenant's first condition has FIELD = VALUE.
tenant_cond() { [ "$(admin get tenant "$1" -o jsonpath="{.status.conditions[0].$2}")" = "$3" ]; }
if within "Tenant tenant3 turns Ready" 3000 tenant_cond tenant3 status True; then
	check "Tenant tenant3 status: Ready True, namespace tenant3-gateway, hosts [*.newco.com]" \
	    "o['status']['namespace']=='tenant3-gateway' and o['status']['hosts']==['*.newco.com'] and o['status']['conditions'][0]['type']=='Ready'" tenant tenant3
else
	jp tenant tenant3 -o yaml | sed 's/^/     /'
fi
admin get tenants >"$work/get.out" 2>&1
head -n 1 "$work/get.out" | grep -q 'NAMESPACE' && grep -qE '^tenant3 +tenant3-gateway .*True' "$work/get.out" &&
	ok "kubectl get tenants prints the namespace and Ready columns" || { bad "kubectl get tenants:"; sed 's/^/     /' "$work/get.out"; }
ev=$(admin get events -n default --field-selector involvedObject.kind=Tenant,involvedObject.name=tenant3 -o jsonpath='{range .items[*]}{.reason}:{.message}{"\n"}{end}' 2>/dev/null)
echo "$ev" | grep -q 'Created:created NetworkPolicy tenant3-gateway/tenantguard-isolation' && echo "$ev" | grep -q 'Routes:' &&
	ok "events on the Tenant say what was created ($(echo "$ev" | grep -c .) events)" || { bad "events on tenant3:"; echo "$ev" | sed 's/^/     /'; }

if within "Tenant tenant2 (also a config-file tenant) is marked Rejected" 5000 tenant_cond tenant2 reason Rejected; then
	check "Tenant tenant2 is rejected: Ready False, the reason in its status" \
	    "o['status']['conditions'][0]['status']=='False' and 'config file' in o['status']['conditions'][0]['message']" tenant tenant2
else
	jp tenant tenant2 -o yaml | sed 's/^/     /'
fi
grep -q 'Tenant tenant2 is not in effect' "$work/serve1.log" && ok "and the clash is logged" || bad "Tenant tenant2's clash not logged"
check "and tenant2's objects stay the config file's (the bridge carries no owner reference)" \
    "'ownerReferences' not in o['metadata']" -n higress-system service tenant2-gateway

# --- protection and healing ------------------------------------------------------------------
expect "alice (tenant1) deleting tenant1's NetworkPolicy is denied [managed-object]" deny:'\[managed-object\]' \
    alice -n tenant1-gateway delete networkpolicy tenantguard-isolation
expect "alice opening tenant1's NetworkPolicy to every namespace is denied [managed-object]" deny:'\[managed-object\]' \
    alice -n tenant1-gateway patch networkpolicy tenantguard-isolation --type merge -p '{"spec":{"ingress":[{}]}}'
uid0=$(jp -n tenant3-gateway networkpolicy tenantguard-isolation -o jsonpath='{.metadata.uid}')
admin -n tenant3-gateway delete networkpolicy tenantguard-isolation >/dev/null 2>&1 || bad "admin delete NetworkPolicy"
newuid() { u=$(admin -n tenant3-gateway get networkpolicy tenantguard-isolation -o jsonpath='{.metadata.uid}' 2>/dev/null); [ -n "$u" ] && [ "$u" != "$uid0" ]; }
within "admin deletes tenant3's NetworkPolicy → re-created (≤ 2 s)" 2000 newuid
admin -n tenant3-gateway patch resourcequota tenantguard-quota --type merge -p '{"spec":{"hard":{"limits.cpu":"1"}}}' >/dev/null || bad "admin patch quota"
q8() { [ "$(admin -n tenant3-gateway get resourcequota tenantguard-quota -o jsonpath='{.spec.hard.limits\.cpu}')" = 8 ]; }
within "admin edits tenant3's quota (limits.cpu 1) → restored to 8" 2000 q8
admin -n higress-system delete service tenant3-gateway >/dev/null 2>&1
within "admin deletes tenant3's bridge → re-created" 2000 admin -n higress-system get service tenant3-gateway

# --- quota override ---------------------------------------------------------------------------
admin patch tenant tenant3 --type merge -p '{"spec":{"resourceQuota":{"limits.cpu":"12","requests.memory":"8Gi"}}}' >/dev/null || bad "patch Tenant quota"
q12() { [ "$(admin -n tenant3-gateway get resourcequota tenantguard-quota -o jsonpath='{.spec.hard.limits\.cpu}/{.spec.hard.requests\.memory}')" = 12/8Gi ]; }
within "quota override in the Tenant (limits.cpu 12, requests.memory 8Gi) → ResourceQuota updated" 2000 q12

# --- a tenant binds and releases a custom host: the entry routes follow --------------------
cat >"$work/shop.yaml" <<'YAML'
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: tenant1-gateway}
spec:
  ingressClassName: higress
  rules:
  - host: app.shop-t1.io
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
YAML
expect "alice binds app.shop-t1.io (first-come) in tenant1-gateway" allow alice apply -f "$work/shop.yaml"
hasroute() { admin -n higress-system get ingress tenantguard-routes-tenant1 -o jsonpath='{.spec.rules[*].host}' | tr ' ' '\n' | grep -qx "$1"; }
within "app.shop-t1.io appears in tenantguard-routes-tenant1 (no admin edit)" 2000 hasroute app.shop-t1.io ||
	jp -n higress-system ingress tenantguard-routes-tenant1 -o yaml | sed 's/^/     /' | head -40
check "and its TLS entry uses tenant1-custom-cert" \
    "any(t['secretName']=='tenant1-custom-cert' and 'app.shop-t1.io' in t['hosts'] for t in o['spec']['tls'])" -n higress-system ingress tenantguard-routes-tenant1
alice -n tenant1-gateway delete ingress shop >/dev/null 2>&1 || bad "alice delete Ingress shop"
gone() { ! hasroute app.shop-t1.io; }
within "alice releases it (deletes the Ingress) → gone from the routes" 2000 gone

# An Ingress event that does not change the tenant's custom hosts costs no request: the
# routes Ingress is compared with the cache (every apply would reach the webhook: counted).
routes_reviews() { cat "$work"/serve*.log | grep -c '"name":"tenantguard-routes-tenant1"'; }
n0=$(routes_reviews)
sed -e 's/name: shop/name: sys/' -e 's/app.shop-t1.io/api.tenant1.aigw.example.com/' "$work/shop.yaml" >"$work/sys.yaml"
expect "alice applies an Ingress for api.tenant1.aigw.example.com (a system host)" allow alice apply -f "$work/sys.yaml"
sleep 1
n1=$(routes_reviews)
[ "$n1" = "$n0" ] && ok "and tenantguard-routes-tenant1 is not re-applied (no review of it in 1 s)" ||
	bad "tenantguard-routes-tenant1 reviewed $((n1 - n0)) times after an event that changed none of its hosts"

# --- Tenant admission -------------------------------------------------------------------------
cat >"$work/tenant4.yaml" <<'YAML'
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: tenant4}
spec:
  customDomains: ["shop.customer.com"]
YAML
expect "a Tenant reserving shop.customer.com (under tenant1's *.customer.com) is denied [host-ownership]" deny:'\[host-ownership\]' admin apply -f "$work/tenant4.yaml"
expect "and nothing was made for it" deny:'NotFound|not found' admin get namespace tenant4-gateway
cat >"$work/in-use.yaml" <<'YAML'
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: www, namespace: tenant3-gateway}
spec:
  ingressClassName: higress   # no tenant class configured here: /validate wants one named
  rules:
  - host: www.newco.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
YAML
expect "admin creates Ingress www.newco.com in tenant3-gateway" allow admin apply -f "$work/in-use.yaml"
expect "dropping *.newco.com from tenant3 while www.newco.com uses it is denied, naming the Ingress" \
    'deny:\[tenant-domain-in-use\].*tenant3-gateway/www' admin patch tenant tenant3 --type merge -p '{"spec":{"customDomains":[]}}'

# --- leader failover ---------------------------------------------------------------------------
lead=$(leader); lr=${lead#replica-}
if [ "$lr" = 1 ] || [ "$lr" = 2 ]; then
	other=$(( 3 - lr ))
	kill -KILL "${pid[$lr]}"; wait "${pid[$lr]}" 2>/dev/null
	within "leader replica-$lr killed (SIGKILL) → replica-$other holds the Lease (lease ${LEASE} s)" $(( (LEASE + 6) * 1000 )) held_by "replica-$other" ||
		{ echo "     holder '$(leader)'"; grep -h leader: "$work"/serve*.log | sed 's/^/     /'; }
	uid0=$(jp -n tenant3-gateway networkpolicy tenantguard-isolation -o jsonpath='{.metadata.uid}')
	admin -n tenant3-gateway delete networkpolicy tenantguard-isolation >/dev/null 2>&1
	within "the new leader heals: NetworkPolicy re-created" 2000 newuid
else
	bad "no leader to kill (holder '$lead')"
fi

# --- deleting a Tenant removes what was made for it -----------------------------------------
admin delete ingress -n tenant3-gateway www >/dev/null 2>&1
jp namespace tenant3-gateway -o json > "$work/ns-before-delete.json"
admin delete tenant tenant3 >/dev/null 2>&1 || bad "delete Tenant tenant3"
cleaned() { ! admin -n higress-system get service tenant3-gateway && ! admin -n higress-system get ingress tenantguard-routes-tenant3; }
within "Tenant tenant3 deleted → its bridge and routes are gone" 10000 cleaned
nsgone() { p=$(admin get namespace tenant3-gateway -o jsonpath='{.status.phase}' 2>/dev/null); [ -z "$p" ] || [ "$p" = Terminating ]; }
# (the garbage collector would too, through the owner reference, but it watches a new CRD's
# objects only after its next discovery, up to 30 s later; tenantguard's sweep does not wait)
within "and the namespace created for it is being deleted" 10000 nsgone ||
	{ sed 's/^/     /' "$work/ns-before-delete.json"; grep -h 'Namespace.*tenant3\|tenant3-gateway"}' "$work"/serve*.log | grep -v '"kind":"Ingress"' | tail -n 20 | sed 's/^/     /'; }

for r in 1 2; do
	kill -0 "${pid[$r]}" 2>/dev/null && serve_stop "$r" "replica $r"
done
if grep -qiE '"level":"warn".*(forbidden|403)' "$work"/serve*.log; then
	bad "the ServiceAccount was refused something (manifests/rbac.yaml):"; grep -hiE '"level":"warn".*(forbidden|403)' "$work"/serve*.log | head -5 | sed 's/^/     /'
else
	ok "manifests/rbac.yaml gave the ServiceAccount everything it asked for (no 403 in the logs)"
fi
sanitizers_clean "both replicas" "$work"/serve*.log
[ "$fail" = 0 ] || for r in 1 2; do echo "     replica $r log:"; tail -n 25 "$work/serve$r.log" | sed 's/^/     /'; done
summary
[ "$fail" = 0 ]
