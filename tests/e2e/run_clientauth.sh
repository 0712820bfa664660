#!/usr/bin/env bash
# Client certificates on the real apiserver, as the shipped manifests run tenantguard
# (clientAuth on): the apiserver gets its client certificate for the webhooks from an
# AdmissionConfiguration (--admission-control-config-file), written with the overlay of
# `make webhook-certs` (manifests/overlay.sh), and `serve --client-ca --client-cert-handshake
# --health-listen`: kubectl writes are reviewed through it, a client without a valid
# certificate is closed right after the TLS handshake (counted), the probes and /metrics answer
# on the health port without one, and the webhook port serves reviews only. Last, an apiserver
# that presents no certificate to a replica: its writes fail closed — why the chart leaves
# clientAuth off by default. Last line: "N passed, N failed".
#   usage: tests/e2e/run_clientauth.sh BUILD_DIR
set -uo pipefail
e2e=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build/asan}" && pwd)
tg=$build/tenantguard
obj=$e2e/objects
. "$e2e/lib.sh"

# Before the apiserver starts: the overlay in $work/kustomize, its apiserver/ files where
# they stay, the client certificate filed under the address the webhooks are registered with
# here (a URL webhook is looked up as its host:port; in a cluster it is the Service's
# tenantguard.tenantguard-system.svc:443, the overlay's default).
e2e_before_up() {
	port[1]=$(freeport) hport=$(freeport)
	TENANTGUARD_WEBHOOK_USER=127.0.0.1:${port[1]} TENANTGUARD_APISERVER_DIR=$work/kustomize/apiserver \
	    sh "$e2e/../../manifests/overlay.sh" "$tg" "$work/kustomize" >"$work/overlay.log" 2>&1 || return 1
	export TENANTGUARD_ADMISSION_CONFIG=$work/kustomize/apiserver/admission-config.yaml
}
e2e_cluster_up clientauth
grep -q -- "--admission-control-config-file $TENANTGUARD_ADMISSION_CONFIG" "$dir/kube-apiserver.cmd" &&
    ok "the apiserver runs with the overlay's AdmissionConfiguration" ||
    bad "the apiserver was started without --admission-control-config-file"

# serve's files are the overlay's: the serving pair and the CA, which also issued the client
# certificate (apiserver/webhook-client.crt).
ln -s kustomize "$work/certs"
base64 -w0 "$work/certs/ca.crt" >"$work/cabundle"
admin create namespace tenantguard-system >/dev/null || die "create namespace tenantguard-system"
cca=$work/certs/ca.crt ccrt=$work/certs/apiserver/webhook-client.crt ckey=$work/certs/apiserver/webhook-client.key
# The deployment's flags (manifests/deployment.yaml), paths swapped; the health port in the
# chart's [$(POD_IP)]:PORT form.
serve 1 --client-ca "$cca" --client-cert-handshake --health-listen "[127.0.0.1]:$hport"
tg_wait_ready "$hport" 400 && ok "serve --client-ca --client-cert-handshake --health-listen: ready on the health port" ||
    die "serve not ready on its health port" "$work/serve1.log"

hcode() { curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$hport$1"; }
hmetric() { curl -sk "https://127.0.0.1:$hport/metrics" | awk -v s="$1" '$1 == s { print $2 }'; }
cut_cert='tenantguard_http_connections_cut_total{reason="client_cert"}'
[ "$(hcode /healthz)" = 200 ] && [ "$(hcode /readyz)" = 200 ] && [ "$(hcode /metrics)" = 200 ] &&
    ok "/healthz, /readyz and /metrics answer on the health port without a client certificate" ||
    bad "health port: /healthz $(hcode /healthz), /readyz $(hcode /readyz), /metrics $(hcode /metrics)"
[ "$(hcode /validate)" = 404 ] && ok "the health port serves no reviews (/validate 404)" ||
    bad "the health port answered /validate with $(hcode /validate)"

tg_register "127.0.0.1:${port[1]}" || die "register the webhooks" "$work/register.log"
within "the apiserver's reviews come through its client certificate" 20000 webhook_answers
expect "the reference tenant1-api-ingress is allowed in tenant1-gateway" allow \
    alice apply -f "$obj/tenant1-api-ingress.yaml"
expect "the same host from tenant2 is rejected [host-ownership]" \
    deny:'admission webhook "validate.tenantguard.io" denied the request: \[host-ownership\]' \
    bob apply -f "$obj/same-host-in-tenant2.yaml"
expect "a LoadBalancer in a tenant namespace is rejected [service-type]" deny:'\[service-type\]' \
    alice apply -f "$obj/loadbalancer.yaml"
[ "$(alice -n tenant1-gateway get ingress tenant1-api-ingress -o jsonpath='{.metadata.labels.tenantguard\.io/tenant}')" = tenant1 ] &&
    ok "the stored Ingress carries the mutating webhook's tenant label" ||
    bad "the stored Ingress has no tenantguard.io/tenant label: /mutate did not come through"
reviews=$(curl -sk "https://127.0.0.1:$hport/metrics" |
    awk '$1 ~ /^tenantguard_reviews_total\{webhook="(validate|mutate)"/ { n += $2 } END { print n + 0 }')
[ "$reviews" -ge 4 ] && ok "the reviews are counted on the health port's /metrics ($reviews)" ||
    bad "only $reviews reviews counted"
[ "$(hmetric "$cut_cert")" = 0 ] && ok "no apiserver connection was closed for its certificate" ||
    bad "$(hmetric "$cut_cert") connections closed for client_cert while only the apiserver called"

# Other clients of the webhook port. A tenant pod without a certificate, or with one from
# another CA: closed right after the handshake, not even a 403.
mkreview "$work/r.json" tenant1 app.clientauth-test.io dry
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=rogue \
    -addext extendedKeyUsage=clientAuth -keyout "$work/rogue.key" -out "$work/rogue.crt" 2>/dev/null
post() { curl -sk -m 10 -o "$work/post.out" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$work/r.json" "$@" "https://127.0.0.1:${port[1]}/validate"; }
code=$(post); rc=$?
[ "$rc" != 0 ] && [ "$code" = 000 ] && ok "no client certificate: closed at the handshake (curl exit $rc, no HTTP answer)" ||
    bad "no client certificate: curl exit $rc, HTTP $code"
code=$(post --cert "$work/rogue.crt" --key "$work/rogue.key"); rc=$?
[ "$rc" != 0 ] && [ "$code" = 000 ] && ok "a certificate of another CA: closed at the handshake (curl exit $rc)" ||
    bad "a foreign certificate: curl exit $rc, HTTP $code"
[ "$(hmetric "$cut_cert")" = 2 ] && ok "both counted: $cut_cert 2" ||
    bad "$cut_cert is $(hmetric "$cut_cert"), expected 2"
code=$(post --cert "$ccrt" --key "$ckey")
[ "$code" = 200 ] && grep -q '"allowed":true' "$work/post.out" &&
    ok "the apiserver's own certificate gets a review answered" || bad "with the apiserver's certificate: HTTP $code $(head -c 200 "$work/post.out")"
code=$(curl -sk -o /dev/null -w '%{http_code}' --cert "$ccrt" --key "$ckey" "https://127.0.0.1:${port[1]}/readyz")
[ "$code" = 404 ] && ok "the webhook port serves reviews only (/readyz there 404)" || bad "/readyz on the webhook port: $code"

# An apiserver that presents no certificate to the webhook (its kubeconfig has no user for
# replica 2's address): every covered write fails closed.
hport2=$(freeport)
serve 2 --client-ca "$cca" --client-cert-handshake --health-listen "127.0.0.1:$hport2"
tg_wait_ready "$hport2" 400 || die "replica 2 not ready on its health port" "$work/serve2.log"
tg_register "127.0.0.1:${port[2]}" || die "register replica 2" "$work/register.log"
nocert() { grep -qE 'failed calling webhook "validate.tenantguard.io"' <<<"$(alice -n tenant1-gateway create service clusterip "nocert-$RANDOM" --tcp 80:80 2>&1)"; }
within "an apiserver without the client certificate: a write in a tenant namespace fails closed" 20000 nocert
cut2=$(curl -sk "https://127.0.0.1:$hport2/metrics" | awk -v s="$cut_cert" '$1 == s { print $2 }')
[ "${cut2:-0}" -ge 1 ] && [ "$(grep -c '"msg":"decision"' "$work/serve2.log")" = 0 ] &&
    ok "replica 2 closed the apiserver's connections at the handshake ($cut_cert $cut2) and decided nothing" ||
    bad "replica 2: $cut_cert ${cut2:-none}, $(grep -c '"msg":"decision"' "$work/serve2.log") decisions"

serve_stop 2 "replica 2"
serve_stop 1 "replica 1"
sanitizers_clean "tenantguard serve" "$work"/serve*.log
summary
[ "$fail" = 0 ]
