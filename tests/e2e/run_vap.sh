#!/usr/bin/env bash
# While tenantguard is away: the ValidatingAdmissionPolicies from `tenantguard render policies`
# make the apiserver itself refuse what the stateless rules refuse, with the same [rule-id]
# message (every rule the fallback covers, its exceptions and grandfathering, a tenant's warn
# mode as a Warn binding), and the shipped webhooks' matchConditions keep requests tenantguard
# never decides on (a Secret that is not kubernetes.io/tls) away from it, so they still go
# through while a TLS Secret, which tenantguard must check, fails closed. Then `serve
# --fallback-policies` as the Deployment's ServiceAccount keeps the policies current itself: a
# Tenant object's namespace gets the fallback's refusal once tenantguard is stopped.
# Last line: "N passed, N failed".
#   usage: tests/e2e/run_vap.sh BUILD_DIR
set -uo pipefail
e2e=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build/asan}" && pwd)
tg=$build/tenantguard
obj=$e2e/objects
. "$e2e/lib.sh"

# The apiserver's audit log for Ingresses: an Audit binding's verdict lands there.
policy=$(mktemp)
cat >"$policy" <<'YAML'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    resources: [{group: networking.k8s.io, resources: [ingresses]}]
  - level: None
YAML
export TENANTGUARD_AUDIT_POLICY=$policy
e2e_cluster_up vap
rm -f "$policy"
dir=$TENANTGUARD_CLUSTER_DIR

# tenant2 warns on service-type and audits ingress-annotation (tenants[].enforcement): its own
# Warn and Audit bindings.
cat >"$work/config.yaml" <<'YAML'
systemDomain: aigw.example.com
entryIngressClass: nginx
tenantIngressClass: higress
admins:
  groups: [system:masters]
  users: [system:serviceaccount:tenantguard-system:tenantguard]
tenants:
  - name: tenant1
    customDomains: ["*.customer.com"]
  - name: tenant2
    customDomains: ["*.client.com"]
    enforcement: {rules: {service-type: warn, ingress-annotation: audit}}
YAML
# What exists before the policies: an Ingress with another class (grandfathered later) and
# the tenant's baseline NetworkPolicy; alice may write in the entry namespace and label
# namespaces as far as RBAC goes (only the policies stop her there).
admin -n tenant1-gateway create ingress legacy --class=other --rule="legacy.tenant1.aigw.example.com/=svc:80" >/dev/null ||
	bad "setup: the legacy Ingress"
cat <<'YAML' | admin apply -f - >"$work/setup.log" 2>&1 || bad "setup: $(cat "$work/setup.log")"
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: tenantguard-isolation, namespace: tenant1-gateway}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-edit, namespace: higress-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects: [{kind: User, name: alice}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: namespace-labeller}
rules: [{apiGroups: [""], resources: [namespaces], verbs: [get, patch, update]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: alice-namespace-labeller}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: namespace-labeller}
subjects: [{kind: User, name: alice}]
YAML

expect "render policies prints a policy per covered rule, with their bindings" allow sh -c \
    '"$0" render policies --config "$2" >"$1" && grep -cx "kind: ValidatingAdmissionPolicy" "$1" | grep -qx 8' "$tg" "$dir/vap.yaml" "$work/config.yaml"
expect "the apiserver takes them" allow admin apply -f "$dir/vap.yaml"
expect "and type-checks every expression without a warning" allow sh -c \
    '"$0" --kubeconfig "$1" get validatingadmissionpolicies -l app.kubernetes.io/name=tenantguard -o json | python3 -c "
import json, sys
items = json.load(sys.stdin)[\"items\"]
bad = [(p[\"metadata\"][\"name\"], p.get(\"status\", {})) for p in items
       if p.get(\"status\", {}).get(\"typeChecking\", {}).get(\"expressionWarnings\")]
assert len(items) == 8 and not bad, bad"' "$KUBECTL" "$KUBECONFIG_ADMIN"
# No webhook registered at all: the apiserver alone.
expect "tenantguard away: a LoadBalancer in a tenant namespace is refused by the apiserver" \
    deny:'ValidatingAdmissionPolicy .tenantguard-service-type.* denied request: \[service-type\] Service tenant1-gateway/public: type LoadBalancer' \
    alice apply -f "$obj/loadbalancer.yaml"
expect "tenantguard away: externalIPs are refused by the apiserver" \
    deny:'denied request: \[service-external-ips\] Service tenant1-gateway/' alice apply -f "$obj/external-ips.yaml"
expect "a ClusterIP Service is still allowed" allow alice apply -f "$obj/clusterip.yaml"
expect "a LoadBalancer outside tenant namespaces is not the policy's business" allow \
    admin -n higress-system create service loadbalancer lb --tcp=80:80
expect "an update that keeps a pre-existing type is let through, as tenantguard grandfathers it" allow sh -c \
    '"$0" --kubeconfig "$1" -n higress-system annotate service lb team=blue' "$KUBECTL" "$KUBECONFIG_ADMIN"

# tenant2's service-type is warn: a Warn binding, the request goes through with the message.
bob -n tenant2-gateway create service loadbalancer warned --tcp=80:80 >"$work/warn.out" 2>&1 &&
	grep -q 'Warning: Validation failed for ValidatingAdmissionPolicy .tenantguard-service-type. with binding .tenantguard-service-type-warn.: \[service-type\] Service tenant2-gateway/warned' "$work/warn.out" &&
	ok "tenant2's warn mode: its LoadBalancer is created, with the [service-type] warning" ||
	{ bad "tenant2's warn mode"; sed 's/^/     /' "$work/warn.out"; }

# ingress-class
expect "ingress-class: a class-less tenant Ingress is refused (nothing sets the class while tenantguard is away)" \
    deny:'denied request: \[ingress-class\] Ingress tenant1-gateway/nocls: the Ingress names no ingress class.*set spec.ingressClassName: higress' \
    alice -n tenant1-gateway create ingress nocls --rule="a.tenant1.aigw.example.com/=svc:80"
expect "ingress-class: the entry's class is refused" \
    deny:"\[ingress-class\] Ingress tenant1-gateway/entry: ingress class 'nginx' is the unified entry's class" \
    alice -n tenant1-gateway create ingress entry --class=nginx --rule="a.tenant1.aigw.example.com/=svc:80"
expect "ingress-class: the entry's class by the annotation is refused too" \
    deny:"\[ingress-class\] Ingress tenant1-gateway/anno: ingress class 'nginx' is the unified entry's class" \
    sh -c 'printf "%s\n" "apiVersion: networking.k8s.io/v1" "kind: Ingress" "metadata: {name: anno, namespace: tenant1-gateway, annotations: {kubernetes.io/ingress.class: nginx}}" "spec: {rules: [{host: a.tenant1.aigw.example.com}]}" | "$0" --kubeconfig "$1" apply -f -' "$KUBECTL" "$KUBECONFIG_ALICE"
expect "ingress-class: another class is refused" deny:"ingress class 'foo' is not tenant tenant1's class; set spec.ingressClassName: higress" \
    alice -n tenant1-gateway create ingress foo --class=foo --rule="a.tenant1.aigw.example.com/=svc:80"
expect "ingress-class: the tenant class is allowed" allow \
    alice -n tenant1-gateway create ingress good --class=higress --rule="a.tenant1.aigw.example.com/=svc:80" --dry-run=server
expect "ingress-class: an edit of an Ingress that had its wrong class already is let through (grandfathered)" allow \
    alice -n tenant1-gateway annotate ingress legacy team=blue
expect "ingress-class: changing it to yet another wrong class is not" deny:"\[ingress-class\].*ingress class 'other2'" \
    alice -n tenant1-gateway patch ingress legacy --type=merge -p '{"spec":{"ingressClassName":"other2"}}'
expect "ingress-class: not the policy's business outside tenant namespaces" allow \
    admin -n default create ingress plain --rule="x.example.org/=svc:80" --dry-run=server

# ingress-annotation
expect "ingress-annotation: a *-snippet annotation is refused in a tenant namespace, naming the glob" \
    deny:"\[ingress-annotation\] Ingress tenant1-gateway/snip: annotation nginx.ingress.kubernetes.io/configuration-snippet \(matching '\*-snippet'\)" \
    alice -n tenant1-gateway create ingress snip --class=higress --rule="a.tenant1.aigw.example.com/=svc:80" \
    --annotation=nginx.ingress.kubernetes.io/configuration-snippet=x
expect "ingress-annotation: and in an outside namespace, admins included" \
    deny:"\[ingress-annotation\] Ingress default/snip: annotation x.example/server-snippets \(matching '\*-snippets'\)" \
    admin -n default create ingress snip --rule="x.example.org/=svc:80" --annotation=X.example/Server-Snippets=x
expect "ingress-annotation in tenant2's audit mode: the Ingress is created" allow \
    bob -n tenant2-gateway create ingress audited --class=higress --rule="a.tenant2.aigw.example.com/=svc:80" \
    --annotation=nginx.ingress.kubernetes.io/server-snippet=x
expect "and the apiserver's audit log holds the policy's [ingress-annotation] verdict for it" allow python3 -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    a = e.get("annotations", {}).get("validation.policy.admission.k8s.io/validation_failure", "")
    if e.get("objectRef", {}).get("name") == "audited" and e.get("verb") == "create" and \
       "tenantguard-ingress-annotation-audit" in a and "[ingress-annotation] Ingress tenant2-gateway/audited" in a:
        sys.exit(0)
sys.exit(1)' "$dir/audit.log"
expect "ingress-annotation: the entry namespace is admin land (entry-admin decides there)" allow \
    admin -n higress-system create ingress snip --rule="x.example.org/=svc:80" \
    --annotation=nginx.ingress.kubernetes.io/server-snippet=x --dry-run=server
expect "ingress-annotation: other annotations pass" allow \
    alice -n tenant1-gateway create ingress plain --class=higress --rule="a.tenant1.aigw.example.com/=svc:80" \
    --annotation=higress.io/rewrite-target=/ --dry-run=server

# entry-admin (alice may write in higress-system as far as RBAC goes)
expect "entry-admin: a tenant user's Service in the entry namespace is refused" \
    deny:"\[entry-admin\] Service higress-system/sneaky: only platform admins may change objects in the entry namespace higress-system" \
    alice -n higress-system create service clusterip sneaky --tcp=80:80
expect "entry-admin: and her delete of an entry object" deny:"\[entry-admin\] Service higress-system/lb" \
    alice -n higress-system delete service lb
expect "entry-admin: an admin may" allow admin -n higress-system create service clusterip bridge --tcp=80:80 --dry-run=server
expect "entry-admin: objects tenantguard does not decide on are not its business" allow \
    alice -n higress-system create configmap notes --from-literal=a=b --dry-run=server

# managed-object
expect "managed-object: a tenant deleting its baseline NetworkPolicy is refused" \
    deny:"\[managed-object\] NetworkPolicy tenant1-gateway/tenantguard-isolation is managed by tenantguard; only platform admins may delete it" \
    alice -n tenant1-gateway delete networkpolicy tenantguard-isolation
expect "managed-object: so is an object she labels as tenantguard's" \
    deny:"\[managed-object\] Service tenant1-gateway/fake is managed by tenantguard; only platform admins may create it" \
    sh -c 'printf "%s\n" "apiVersion: v1" "kind: Service" "metadata: {name: fake, namespace: tenant1-gateway, labels: {app.kubernetes.io/managed-by: tenantguard}}" "spec: {ports: [{port: 80}]}" | "$0" --kubeconfig "$1" apply -f -' "$KUBECTL" "$KUBECONFIG_ALICE"

# tenant-label (alice may patch namespaces as far as RBAC goes)
expect "tenant-label: a tenant relabelling its namespace for another tenant is refused" \
    deny:"\[tenant-label\] Namespace tenant1-gateway: label tenantguard.io/tenant may be set, changed or removed only by platform admins" \
    alice label namespace tenant1-gateway tenantguard.io/tenant=tenant2
expect "tenant-label: the label the name designates is no change (what /mutate sets)" allow \
    alice label namespace tenant1-gateway tenantguard.io/tenant=tenant1
expect "tenant-label: removing it is one" deny:"\[tenant-label\] Namespace tenant1-gateway: label tenantguard.io/tenant" \
    alice label namespace tenant1-gateway tenantguard.io/tenant-
expect "tenant-label: a tenantguard.io/ annotation too" deny:"\[tenant-label\] Namespace tenant1-gateway: annotation tenantguard.io/owner" \
    alice annotate namespace tenant1-gateway tenantguard.io/owner=me
expect "tenant-label: other labels are hers" allow alice label namespace tenant1-gateway team=blue
expect "tenant-label: admins bypass it" allow admin label namespace tenant1-gateway tenantguard.io/reviewed=yes

# namespace-tenant
expect "namespace-tenant: a namespace named like an unknown tenant's is refused, admins included" \
    deny:"\[namespace-tenant\] Namespace evil-gateway: the name matches the tenant namespace template \{tenant\}-gateway but 'evil' is not a configured tenant" \
    admin create namespace evil-gateway
expect "namespace-tenant: any other name is not its business" allow admin create namespace shop --dry-run=server

# The shipped webhooks registered, pointing at a tenantguard that is not running.
work=$dir/vap; mkdir -p "$work"
tg_serving_setup "$work"
wport=$(freeport)
expect "the shipped webhooks register (tenantguard stopped)" allow tg_register "127.0.0.1:$wport"
for _ in $(seq 100); do
	alice -n tenant1-gateway create secret tls probe-tls --cert="$work/certs/tls.crt" \
	    --key="$work/certs/tls.key" --dry-run=server 2>&1 | grep -q 'failed calling webhook' && break
	sleep 0.2
done
expect "webhook down: the LoadBalancer is still refused with the policy's [service-type] message" \
    deny:'denied request: \[service-type\]' alice apply -f "$obj/loadbalancer.yaml"
expect "webhook down: an Opaque Secret never reaches it (matchConditions) and is created" allow \
    alice -n tenant1-gateway create secret generic app-config --from-literal=k=v
expect "webhook down: a kubernetes.io/tls Secret fails closed" deny:'failed calling webhook' \
    alice -n tenant1-gateway create secret tls site-tls --cert="$work/certs/tls.crt" --key="$work/certs/tls.key"
expect "webhook down: a Service tenantguard must see fails closed too" deny:'failed calling webhook' \
    alice -n tenant1-gateway create service clusterip other --tcp=81:81

# tenantguard back: how many connections does the apiserver open for concurrent writes? (What
# --max-conns-per-ip must leave room for; the figure is printed, the bound only checked.)
port[1]=$wport
TG_KUBECONFIG='' serve 1
tg_wait_ready "$wport" || bad "tenantguard serve did not get ready"
writers=()
for i in $(seq 16); do
	alice -n tenant1-gateway create service clusterip "c$i" --tcp=80:80 >"$dir/c$i.out" 2>&1 &
	writers+=($!)
done
wait "${writers[@]}"   # (a bare wait would also wait for tenantguard serve, a child too)
created=$(grep -l 'created' "$dir"/c*.out | wc -l)
peak=$(curl -sk "https://127.0.0.1:$wport/metrics" | sed -n 's/^tenantguard_http_connections_per_address_peak //p')
[ "$created" = 16 ] && [ -n "$peak" ] && [ "$peak" -le 128 ] &&
	ok "tenantguard back: 16 concurrent Service writes allowed; the apiserver held at most $peak connections at once (--max-conns-per-ip default 128)" ||
	bad "tenantguard back: $created of 16 writes, peak ${peak:-?} connections"
serve_stop 1 "the file-state replica"

# --- serve --fallback-policies: the leader keeps the policies current, Tenant objects included ---
admin delete validatingadmissionpolicies,validatingadmissionpolicybindings -l app.kubernetes.io/name=tenantguard >/dev/null
admin apply -f "$e2e/../../manifests/crd-tenants.yaml" -f "$e2e/../../manifests/rbac.yaml" >"$work/rbac.log" 2>&1 &&
	ok "the Tenant CRD and manifests/rbac.yaml (with the fallback's ClusterRole) apply" ||
	{ bad "CRD and RBAC"; sed 's/^/     /' "$work/rbac.log"; }
admin wait --for=condition=Established crd/tenants.tenantguard.io --timeout=20s >/dev/null 2>&1
# As the Deployment's ServiceAccount with the shipped RBAC: a missing verb fails here.
TG_KUBECONFIG=$KUBECONFIG_TENANTGUARD serve 1 --config "$work/config.yaml" --fallback-policies --lease-seconds 5
tg_wait_ready "$wport" || bad "serve --fallback-policies did not get ready"
vap_tenants() { admin get validatingadmissionpolicy tenantguard-service-type \
    -o jsonpath='{.spec.variables[?(@.name=="tenants")].expression}'; }
within "the leader applies the 8 policies and their bindings" 20000 sh -c \
    '[ "$("$0" --kubeconfig "$1" get validatingadmissionpolicies,validatingadmissionpolicybindings -l app.kubernetes.io/name=tenantguard -o name | wc -l)" -ge 17 ]' \
    "$KUBECTL" "$KUBECONFIG_ADMIN"
fb_failed() { [ "$(metric tenantguard_fallback_policies_failed)" "$1" "$2" ]; }
within "and tenantguard_fallback_policies_failed is 0" 10000 fb_failed = 0
expect "tenant2's warn mode for service-type is its own Warn binding, from the config" allow sh -c \
    '"$0" --kubeconfig "$1" get validatingadmissionpolicybinding tenantguard-service-type-warn -o jsonpath="{.spec.validationActions}{.spec.matchResources}" | grep -q "Warn.*tenant2-gateway"' \
    "$KUBECTL" "$KUBECONFIG_ADMIN"
# tenant2 back to the config's mode: the next pass deletes the binding it no longer needs.
sed -i '/enforcement: {rules: {service-type: warn, ingress-annotation: audit}}/d' "$work/config.yaml"
within "a config without tenant2's warn: the leader deletes tenantguard-service-type-warn" 20000 sh -c \
    '! "$0" --kubeconfig "$1" get validatingadmissionpolicybinding tenantguard-service-type-warn' \
    "$KUBECTL" "$KUBECONFIG_ADMIN"
expect "and tenant2-gateway is back in the Deny binding" allow sh -c \
    '! "$0" --kubeconfig "$1" get validatingadmissionpolicybinding tenantguard-service-type -o jsonpath="{.spec.matchResources}" | grep -q tenant2-gateway' \
    "$KUBECTL" "$KUBECONFIG_ADMIN"
# Without its RBAC the apply fails: the gauge says so, and the next pass with it clears it.
# (The refusals this provokes are left out of the check for refusals at the end.)
refused_from=$(wc -l <"$work/serve1.log")
admin delete clusterrolebinding tenantguard-fallback-policies >/dev/null
echo "# a pass without the fallback's RBAC" >>"$work/config.yaml"
within "the fallback's RoleBinding gone: the next pass counts its failed objects" 20000 \
    fb_failed -gt 0
admin apply -f "$e2e/../../manifests/rbac.yaml" >/dev/null
echo "# and one with it" >>"$work/config.yaml"
within "the RoleBinding back: the next pass applies them all (the gauge is 0)" 20000 fb_failed = 0
refused_to=$(wc -l <"$work/serve1.log")
cat <<'YAML' | admin apply -f - >"$work/t3.log" 2>&1 || { bad "kubectl apply Tenant tenant3"; sed 's/^/     /' "$work/t3.log"; }
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: tenant3}
spec: {customDomains: ["*.newco.com"]}
YAML
vap_has_tenant3() { grep -q "'tenant3-gateway': 'tenant3'" <<<"$(vap_tenants)"; }
within "a Tenant object's namespace enters the policies" 20000 vap_has_tenant3
within "and the reconciler creates it (namespace-tenant lets tenantguard's own creation through)" 20000 \
    admin -n tenant3-gateway get networkpolicy tenantguard-isolation
expect "tenantguard up: the policy refuses a LoadBalancer in tenant3-gateway before the webhook is asked" \
    deny:'ValidatingAdmissionPolicy .tenantguard-service-type.* denied request: \[service-type\] Service tenant3-gateway/' \
    admin -n tenant3-gateway create service loadbalancer lb --tcp=80:80 --dry-run=server
serve_stop 1 "the fallback leader"
expect "tenantguard stopped: the Tenant object's namespace gets the apiserver's [service-type] refusal" \
    deny:'ValidatingAdmissionPolicy .tenantguard-service-type.* denied request: \[service-type\] Service tenant3-gateway/lb: type LoadBalancer' \
    admin -n tenant3-gateway create service loadbalancer lb --tcp=80:80
expect "tenantguard stopped: and a class-less Ingress there its [ingress-class] refusal" \
    deny:'denied request: \[ingress-class\] Ingress tenant3-gateway/api: the Ingress names no ingress class.*higress' \
    admin -n tenant3-gateway create ingress api --rule="api.tenant3.aigw.example.com/=svc:80"
expect "tenantguard stopped: what the policies cannot decide still fails closed" deny:'failed calling webhook' \
    admin -n tenant3-gateway create service clusterip plain --tcp=80:80
unprovoked() { awk -v a="$refused_from" -v b="$refused_to" 'NR <= a || NR > b' "$work/serve1.log" |
    grep -iE '"level":"warn".*(forbidden|403|fallback)'; }
if unprovoked >/dev/null; then
	bad "the leader was refused something:"; unprovoked | head -5 | sed 's/^/     /'
else
	ok "the leader applied everything as the ServiceAccount (no refusal logged)"
fi
expect "the leader's policies are owned by the ClusterRole of the option" allow sh -c \
    '"$0" --kubeconfig "$1" get validatingadmissionpolicy tenantguard-entry-admin -o jsonpath="{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}" | grep -qx ClusterRole/tenantguard-fallback-policies' \
    "$KUBECTL" "$KUBECONFIG_ADMIN"
admin delete clusterrole tenantguard-fallback-policies >/dev/null
within "deleting it (helm uninstall, or the option off) garbage-collects every policy and binding" 60000 sh -c \
    '[ -z "$("$0" --kubeconfig "$1" get validatingadmissionpolicies,validatingadmissionpolicybindings -l app.kubernetes.io/name=tenantguard -o name)" ]' \
    "$KUBECTL" "$KUBECONFIG_ADMIN"
sanitizers_clean "tenantguard serve" "$work"/serve1.log
summary
[ "$fail" -eq 0 ]
