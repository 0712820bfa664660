#!/usr/bin/env bash
# The Helm chart on a real kube-apiserver: `helm install` of manifests/chart/tenantguard into
# the e2e cluster (its webhook configurations' Service reference swapped for a loopback URL by
# a post-renderer: no kube-proxy here), then `tenantguard serve` started with exactly the
# chart's ConfigMap content and Secret and the ServiceAccount's identity (standing in for the
# pod: there is no kubelet), the reference verdicts through the chart's webhooks, the metric
# names of the dashboard and alerts against /metrics, `helm upgrade` (self certificates kept,
# a config change followed, a rotation), cert-manager's CRDs with the certManager mode's objects
# and a tenant Certificate (server-side dry run), entryWriters with cert-manager's identity,
# the kustomize overlay, and `helm uninstall` leaving no webhook configuration behind.
#   usage: tests/e2e/run_helm.sh BUILD_DIR
set -uo pipefail
e2e=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$e2e/../.." && pwd)
build=$(cd "${1:-build/asan}" && pwd)
tg=$build/tenantguard
obj=$e2e/objects
chart=$top/manifests/chart/tenantguard
. "$e2e/lib.sh"

helm_bin=$("$e2e/build_tool.sh" helm) || { bad "build helm"; summary; exit 1; }
e2e_cluster_up helm
work=$TENANTGUARD_CLUSTER_DIR/helm
mkdir -p "$work"
export HELM_CACHE_HOME=$work/helm-cache HELM_CONFIG_HOME=$work/helm-config HELM_DATA_HOME=$work/helm-data
port=$(freeport) hport=$(freeport)
h() { "$helm_bin" --kubeconfig "$KUBECONFIG_ADMIN" --namespace tenantguard-system "$@"; }
# The same values on install and upgrade: the serving certificate also names 127.0.0.1, which
# is what the apiserver dials through the swapped URL.
hargs=(--set 'certificates.extraIPAddresses={127.0.0.1}'
       --set-json 'config.entryWriters={"secrets":{"users":["system:serviceaccount:cert-manager:cert-manager"]}}'
       --post-renderer "$e2e/tools/webhook_url.sh" --post-renderer-args "$port")

expect "helm install (self certificates) into a new tenantguard-system" allow \
    h install tenantguard "$chart" --create-namespace "${hargs[@]}"
expect "helm status says deployed" allow sh -c '"$0" --kubeconfig "$1" -n tenantguard-system status tenantguard | grep -q "STATUS: deployed"' "$helm_bin" "$KUBECONFIG_ADMIN"
expect "the chart's objects exist (Deployment, Service, PDB, ConfigMap, Secret, RBAC, CRD, webhooks)" allow sh -c '
	"$0" --kubeconfig "$1" -n tenantguard-system get deployment/tenantguard service/tenantguard pdb/tenantguard \
	    configmap/tenantguard-config secret/tenantguard-tls serviceaccount/tenantguard role/tenantguard-claims \
	    rolebinding/tenantguard-claims >/dev/null &&
	"$0" --kubeconfig "$1" get clusterrole/tenantguard-live-state clusterrolebinding/tenantguard-live-state \
	    crd/tenants.tenantguard.io validatingwebhookconfiguration/tenantguard mutatingwebhookconfiguration/tenantguard >/dev/null' \
    "$KUBECTL" "$KUBECONFIG_ADMIN"
expect "the validating webhook's matchConditions compiled on the apiserver" allow sh -c \
    '"$0" --kubeconfig "$1" get validatingwebhookconfiguration tenantguard -o jsonpath="{.webhooks[0].matchConditions[0].name}" | grep -qx secrets-tenantguard-decides-on' "$KUBECTL" "$KUBECONFIG_ADMIN"

# The pod's two volumes, as the kubelet would project them: the ConfigMap's config.yaml and
# the Secret's tls.crt/tls.key, byte for byte.
pod_files() {   # DIR
	mkdir -p "$1" &&
	admin -n tenantguard-system get configmap tenantguard-config -o jsonpath='{.data.config\.yaml}' >"$1/config.yaml" &&
	for k in ca.crt tls.crt tls.key; do
		admin -n tenantguard-system get secret tenantguard-tls -o jsonpath="{.data.${k//./\\.}}" | base64 -d >"$1/$k" || return 1
	done
}
pod_files "$work/pod" && ok "the chart's ConfigMap and Secret read back" || bad "read the chart's ConfigMap and Secret"
caBundle() { admin get "$1" tenantguard -o jsonpath='{.webhooks[0].clientConfig.caBundle}'; }
[ "$(caBundle validatingwebhookconfiguration)" = "$(base64 -w0 "$work/pod/ca.crt")" ] &&
    [ "$(caBundle mutatingwebhookconfiguration)" = "$(base64 -w0 "$work/pod/ca.crt")" ] &&
    ok "both webhook configurations trust the chart's CA (ca.crt of tenantguard-tls)" ||
    bad "the webhooks' caBundle is not the Secret's ca.crt"

serve_log=$work/serve.log
start_serve() {   # the pod's command line (templates/deployment.yaml), paths swapped
	POD_NAME=tenantguard-helm setsid "$tg" serve --config "$work/pod/config.yaml" \
	    --tls-cert "$work/pod/tls.crt" --tls-key "$work/pod/tls.key" --listen "127.0.0.1:$port" \
	    --health-listen "[127.0.0.1]:$hport" \
	    --kubeconfig "$KUBECONFIG_TENANTGUARD" --fallback-policies </dev/null >>"$serve_log" 2>&1 &
	serve_pid=$!
	echo "$serve_pid" >>"$TENANTGUARD_CLUSTER_PIDS"
	tg_wait_ready "$hport" 400   # the probes' port
}
start_serve && ok "tenantguard serve with the chart's config, Secret and ServiceAccount is ready" ||
    { bad "tenantguard serve did not get ready"; tail -20 "$serve_log"; summary; exit 1; }
for _ in $(seq 100); do   # the apiserver picks webhook configurations up asynchronously
	webhook_answers && break   # (not `apply | grep -q`: the denied apply fails the pipe under pipefail)
	sleep 0.2
done

within "the leader applies the fallback policies (fallbackPolicies.enabled, the default)" 30000 \
    admin get validatingadmissionpolicybinding tenantguard-service-type

verdicts() {   # SUFFIX: the reference verdicts through the chart's webhook configurations
	expect "the reference tenant1-api-ingress is allowed in tenant1-gateway$1" allow alice apply --dry-run=server -f "$obj/tenant1-api-ingress.yaml"
	expect "the same host from tenant2 is rejected [host-ownership]$1" deny:'admission webhook "validate.tenantguard.io" denied the request: \[host-ownership\]' bob apply --dry-run=server -f "$obj/same-host-in-tenant2.yaml"
	expect "a LoadBalancer in a tenant namespace is rejected [service-type]$1" deny:'\[service-type\]' alice apply --dry-run=server -f "$obj/loadbalancer.yaml"
}
verdicts ""
expect "a tenant user editing higress-system is rejected [entry-admin]" deny:'\[entry-admin\]' sh -c \
    '"$0" --kubeconfig "$1" -n higress-system create rolebinding alice-edit --clusterrole=edit --user=alice >/dev/null 2>&1; "$0" --kubeconfig "$2" apply -f "$3"' \
    "$KUBECTL" "$KUBECONFIG_ADMIN" "$KUBECONFIG_ALICE" "$obj/entry-ingress-by-tenant.yaml"
expect "a mutated Ingress comes back labelled with its tenant (the mutating webhook)" allow sh -c \
    '"$0" --kubeconfig "$1" apply --dry-run=server -o jsonpath="{.metadata.labels.tenantguard\.io/tenant}" -f "$2" | grep -qx tenant1' "$KUBECTL" "$KUBECONFIG_ALICE" "$obj/tenant1-api-ingress.yaml"

# matchConditions: an Opaque Secret in a tenant namespace never reaches the webhook; a TLS one does.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=x" \
    -addext "subjectAltName=DNS:*.client.com" -keyout "$work/foreign.key" -out "$work/foreign.crt" >/dev/null 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=x" \
    -addext "subjectAltName=DNS:*.customer.com" -keyout "$work/own.key" -out "$work/own.crt" >/dev/null 2>&1
expect "an Opaque Secret in tenant1-gateway is allowed" allow alice -n tenant1-gateway create secret generic app-password --from-literal=p=x
expect_not "and cost no review (matchConditions left it out)" '"name":"app-password"|app-password' cat "$serve_log"
expect "a TLS Secret for another tenant's domain is still reviewed and rejected [tls-secret-hosts]" deny:'\[tls-secret-hosts\]' \
    alice -n tenant1-gateway create secret tls foreign-cert --cert "$work/foreign.crt" --key "$work/foreign.key"

# entryWriters (set by --set-json above): cert-manager's controller may write the tenant's
# custom certificate into the entry namespace; SAN ownership still decides.
admin -n higress-system create role secret-writer --verb=create,update,get,delete --resource=secrets >/dev/null 2>&1
admin -n higress-system create rolebinding cert-manager-secrets --role=secret-writer \
    --serviceaccount=cert-manager:cert-manager --serviceaccount=cert-manager:cert-manager-cainjector >/dev/null 2>&1
cm() { admin --as="system:serviceaccount:cert-manager:$1" --as-group=system:serviceaccounts --as-group="system:serviceaccounts:cert-manager" "${@:2}"; }
expect "cert-manager (an entry writer) may issue tenant1-custom-cert for *.customer.com into higress-system" allow \
    cm cert-manager -n higress-system create secret tls tenant1-custom-cert --cert "$work/own.crt" --key "$work/own.key" --dry-run=server
expect "but not *.client.com under tenant1's secret name [tls-secret-hosts]" deny:'\[tls-secret-hosts\]' \
    cm cert-manager -n higress-system create secret tls tenant1-custom-cert --cert "$work/foreign.crt" --key "$work/foreign.key" --dry-run=server
expect "cert-manager's cainjector is no entry writer [entry-admin]" deny:'\[entry-admin\]' \
    cm cert-manager-cainjector -n higress-system create secret tls tenant1-custom-cert --cert "$work/own.crt" --key "$work/own.key" --dry-run=server

# Every metric the dashboard and the alerts query is one /metrics exposes.
"$helm_bin" template tenantguard "$chart" -n tenantguard-system --set metrics.dashboard.enabled=true \
    --set metrics.prometheusRule.enabled=true --api-versions monitoring.coreos.com/v1/PrometheusRule >"$work/monitoring.yaml"
curl -sk "https://127.0.0.1:$hport/metrics" >"$work/metrics.txt"   # the ServiceMonitor's port
used=$(grep -oE 'tenantguard_[a-z_]+' "$work/monitoring.yaml" | sed -E 's/_(bucket|sum|count)$//' | sort -u)
exposed=$(sed -n 's/^# TYPE \(tenantguard_[a-z_]*\) .*/\1/p' "$work/metrics.txt" | sort -u)
missing=$(comm -23 <(echo "$used") <(echo "$exposed") | tr '\n' ' ')
[ "$(echo "$used" | wc -l)" -ge 15 ] && [ -z "$missing" ] &&
    ok "all $(echo "$used" | wc -l) metrics of the dashboard and the alerts are on /metrics" ||
    bad "metrics the dashboard or the alerts use but /metrics lacks: ${missing:-(only $(echo "$used" | wc -l) found)}"

# --- helm upgrade: the self certificates are kept; a config change reaches the ConfigMap ---
cp "$work/pod/ca.crt" "$work/ca.before"; cp "$work/pod/tls.crt" "$work/crt.before"; cp "$work/pod/tls.key" "$work/key.before"
expect "helm upgrade with a changed config (unregisteredDomains: deny)" allow \
    h upgrade tenantguard "$chart" "${hargs[@]}" --set config.unregisteredDomains=deny
pod_files "$work/pod2" || bad "read the ConfigMap and Secret after the upgrade"
cmp -s "$work/ca.before" "$work/pod2/ca.crt" && cmp -s "$work/crt.before" "$work/pod2/tls.crt" &&
    cmp -s "$work/key.before" "$work/pod2/tls.key" && ok "helm upgrade kept the CA and the serving pair" ||
    bad "helm upgrade replaced the self certificates"
[ "$(caBundle validatingwebhookconfiguration)" = "$(base64 -w0 "$work/ca.before")" ] &&
    ok "and the webhooks' caBundle" || bad "helm upgrade changed the caBundle"
cp "$work/pod2/config.yaml" "$work/pod/config.yaml.new" && mv "$work/pod/config.yaml.new" "$work/pod/config.yaml"
sed 's/api.tenant1.aigw.example.com/app.fresh-upgrade.io/' "$obj/tenant1-api-ingress.yaml" >"$work/fresh.yaml"
for _ in $(seq 60); do
	grep -q host-ownership <<<"$(alice apply --dry-run=server -f "$work/fresh.yaml" 2>&1)" && break
	sleep 0.1
done
expect "the upgraded config is in force: an unreserved host is refused (deny) [host-ownership]" deny:'\[host-ownership\]' \
    alice apply --dry-run=server -f "$work/fresh.yaml"
verdicts " (after the upgrade)"

# Rotation in self mode: delete the Secret, upgrade, a new CA and pair; serve reloads the
# files (the Secret volume's update) and the apiserver trusts the new caBundle.
admin -n tenantguard-system delete secret tenantguard-tls >/dev/null
expect "helm upgrade after deleting the Secret issues a new pair" allow h upgrade tenantguard "$chart" "${hargs[@]}" --set config.unregisteredDomains=deny
pod_files "$work/pod3" || bad "read the Secret after the rotation"
! cmp -s "$work/ca.before" "$work/pod3/ca.crt" && ok "a new CA after the rotation" || bad "the CA did not change after the rotation"
cp "$work/pod3/tls.key" "$work/pod/tls.key.new" && cp "$work/pod3/tls.crt" "$work/pod/tls.crt.new" &&
    mv "$work/pod/tls.key.new" "$work/pod/tls.key" && mv "$work/pod/tls.crt.new" "$work/pod/tls.crt"
for i in $(seq 60); do
	bob apply --dry-run=server -f "$obj/same-host-in-tenant2.yaml" >"$work/rotation.out" 2>&1
	grep -q host-ownership "$work/rotation.out" && break
	sleep 0.2
done
grep -q host-ownership "$work/rotation.out" && ok "the apiserver reaches the rotated pair ($i tries)" ||
    { bad "no verdict after the rotation: $(tail -2 "$work/rotation.out")"; grep -i tls "$serve_log" | tail -5; }
verdicts " (after the rotation)"

# --- helm uninstall leaves no webhook configuration ----------------------------------------
kill -TERM "$serve_pid"; wait "$serve_pid" 2>/dev/null
expect "helm uninstall" allow h uninstall tenantguard --wait
expect "no tenantguard webhook configuration is left behind" allow sh -c \
    '[ -z "$("$0" --kubeconfig "$1" get validatingwebhookconfigurations,mutatingwebhookconfigurations -o name | grep tenantguard)" ]' \
    "$KUBECTL" "$KUBECONFIG_ADMIN"
within "no fallback policy is left behind either (owned by the release's ClusterRole: garbage-collected)" 60000 sh -c \
    '[ -z "$("$0" --kubeconfig "$1" get validatingadmissionpolicies,validatingadmissionpolicybindings -o name | grep tenantguard)" ]' \
    "$KUBECTL" "$KUBECONFIG_ADMIN"
expect "writes succeed with tenantguard gone (no dangling fail-closed webhook)" allow bob apply --dry-run=server -f "$obj/same-host-in-tenant2.yaml"
expect "the Tenant CRD stays (crds/: Tenants outlive the release)" allow admin get crd tenants.tenantguard.io
# The dry runs below would patch the live (URL-swapped) webhook configurations while the
# release exists, so they run once it is gone (the namespace stays: helm created it).
# --- cert-manager: its real CRDs, the certManager mode's objects, a tenant Certificate -------
command -v go >/dev/null 2>&1 || export PATH=$PATH:/usr/local/go/bin
cmdir=$(cd "$e2e/tools/certmanager" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly GOWORK=off \
    go mod download -json github.com/cert-manager/cert-manager | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [ -d "$cmdir/deploy/crds" ]; then
	expect "cert-manager's CRDs (deploy/crds of its Go module) apply" allow admin apply --server-side -f "$cmdir/deploy/crds"
	admin wait --for=condition=Established --timeout=30s crd/certificates.cert-manager.io crd/issuers.cert-manager.io >/dev/null 2>&1
	"$helm_bin" template tenantguard "$chart" -n tenantguard-system --set certificates.mode=certManager \
	    --show-only templates/webhooks.yaml >"$work/cm.yaml"
	expect "the certManager mode's Issuer, Certificate and annotated webhooks pass a server-side dry run" allow \
	    admin apply --dry-run=server -f "$work/cm.yaml"
	expect "the README's tenant Certificate for higress-system passes a server-side dry run" allow \
	    admin apply --dry-run=server -f "$obj/tenant1-certificate.yaml"
else
	bad "cert-manager's module (deploy/crds) not found (tests/e2e/tools/certmanager/go.mod)"
fi

# --- the kustomize base and its overlay -----------------------------------------------------
expect "the kustomize overlay of make webhook-certs passes a server-side dry run" allow sh -c \
    '"$0" "$1" "$2" >/dev/null && "$3" --kubeconfig "$4" apply -k "$2" --dry-run=server' \
    "$top/manifests/overlay.sh" "$tg" "$work/overlay" "$KUBECTL" "$KUBECONFIG_ADMIN"

sanitizers_clean "tenantguard serve" "$serve_log"
summary
[ "$fail" -eq 0 ]
