#!/usr/bin/env bash
# While tenantguard is away: the ValidatingAdmissionPolicies from `tenantguard render policies`
# make the apiserver itself refuse what the stateless rules refuse, with the same [rule-id]
# message, and the shipped webhooks' matchConditions keep requests tenantguard never decides
# on (a Secret that is not kubernetes.io/tls) away from it, so they still go through while a
# TLS Secret, which tenantguard must check, fails closed. Last line: "N passed, N failed".
#   usage: tests/e2e/run_vap.sh BUILD_DIR
set -uo pipefail
e2e=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build/asan}" && pwd)
tg=$build/tenantguard
obj=$e2e/objects
. "$e2e/lib.sh"

e2e_cluster_up vap
dir=$TENANTGUARD_CLUSTER_DIR

expect "render policies prints the policies and their bindings" allow sh -c \
    '"$0" render policies >"$1" && grep -cx "kind: ValidatingAdmissionPolicy" "$1" | grep -qx 2' "$tg" "$dir/vap.yaml"
expect "the apiserver takes them" allow admin apply -f "$dir/vap.yaml"
# Policies reach the admission chain asynchronously; wait until one decides.
for _ in $(seq 100); do
	alice apply --dry-run=server -f "$obj/loadbalancer.yaml" 2>&1 | grep -q 'service-type' && break
	sleep 0.2
done

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
setsid "$tg" serve --listen "127.0.0.1:$wport" --tls-cert "$work/certs/tls.crt" --tls-key "$work/certs/tls.key" \
    </dev/null >>"$dir/tenantguard.log" 2>&1 &
echo $! >>"$TENANTGUARD_CLUSTER_PIDS"
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
summary
[ "$fail" -eq 0 ]
