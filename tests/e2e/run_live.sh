#!/usr/bin/env bash
# Live cluster state: `tenantguard serve --kubeconfig` against a real kube-apiserver. Objects
# are written with kubectl as admin directly (no webhook is registered here); reviews are
# POSTed to /validate with curl, and each decision must follow the cluster within 1 s.
# Durable claims (run_race.sh) are on, with --claim-grace 2: a host freed by a delete or an
# edit is allowed again once its claim is released (within grace + round + 2 s).
# Brings its own cluster up and tears it down. Last line: "N passed, N failed".
#   usage: tests/e2e/run_live.sh BUILD_DIR
set -uo pipefail
e2e=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build/asan}" && pwd)
tg=$build/tenantguard
. "$e2e/lib.sh"

e2e_cluster_up live
dir=$TENANTGUARD_CLUSTER_DIR
work=$dir/live; mkdir -p "$work"
log=$work/tenantguard.log
tg_serving_setup "$work"
grace=2 interval=2   # --claim-grace 2: release rounds every min(5, grace) s

# serve KUBECONFIG LOG: starts tenantguard with live state on a new port ($port, $serve_pid).
serve() {
	port=$(freeport)
	setsid "$tg" serve --listen "127.0.0.1:$port" --tls-cert "$work/certs/tls.crt" \
	    --tls-key "$work/certs/tls.key" --kubeconfig "$1" --claim-grace "$grace" </dev/null >>"$2" 2>&1 &
	serve_pid=$!
	echo "$serve_pid" >>"$TENANTGUARD_CLUSTER_PIDS"
}
code() { curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$port$1"; }
ms_now() { echo $(( $(date +%s%N) / 1000000 )); }

# stop_serve NAME: SIGTERM must end the process with status 0 within 5 s.
stop_serve() {
	local t0 rc
	t0=$(ms_now)
	kill -TERM "$serve_pid"
	for _ in $(seq 100); do kill -0 "$serve_pid" 2>/dev/null || break; sleep 0.05; done
	wait "$serve_pid"; rc=$?
	if [ "$rc" = 0 ] && [ $(( $(ms_now) - t0 )) -lt 5000 ]; then ok "$1: SIGTERM → exit 0 in $(( $(ms_now) - t0 )) ms"
	else bad "$1: SIGTERM → exit $rc after $(( $(ms_now) - t0 )) ms"; tail -n 20 "$log" | sed 's/^/     /'; fi
}

# --- an unreachable apiserver: never ready, reviews fail closed ----------------------------
dead=$(freeport)
sed -E "s|(server: https://127\.0\.0\.1:)[0-9]+|\1$dead|" "$KUBECONFIG_ADMIN" >"$work/dead.kubeconfig"
serve "$work/dead.kubeconfig" "$work/dead.log"
for _ in $(seq 50); do [ "$(code /healthz)" = 200 ] && break; sleep 0.1; done
sleep 1
c=$(code /readyz)
[ "$c" = 503 ] && ok "apiserver unreachable: /readyz is 503 (never synced)" || bad "apiserver unreachable: /readyz is $c"
review() { curl -sk -H 'Content-Type: application/json' --data-binary @"$1" "https://127.0.0.1:$port/validate"; }
printf '%s' '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"ConfigMap"},"operation":"CREATE","namespace":"default","userInfo":{"username":"x"},"object":{"kind":"ConfigMap","metadata":{"name":"c"}}}}' >"$work/cm.json"
c=$(curl -sk -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$work/cm.json" "https://127.0.0.1:$port/validate")
[ "$c" = 500 ] && ok "apiserver unreachable: a review is answered 500 (fail closed, no decision on an unknown cluster)" ||
	bad "apiserver unreachable: review answered $c"
grep -q 'informer Ingress: list:' "$work/dead.log" && ok "the list failure is logged with its reason" ||
	{ bad "no list failure logged"; tail -n 5 "$work/dead.log" | sed 's/^/     /'; }
log=$work/dead.log stop_serve "while retrying with backoff"

# --- the real apiserver ---------------------------------------------------------------------
serve "$KUBECONFIG_ADMIN" "$log"
t0=$(ms_now)
tg_wait_ready "$port"
c=$(code /readyz)
[ "$c" = 200 ] && ok "/readyz turns 200 after the first full sync ($(( $(ms_now) - t0 )) ms after start)" ||
	{ bad "/readyz is $c after 10 s"; tail -n 20 "$log" | sed 's/^/     /'; summary; exit 1; }
grep -q 'informer HTTPRoute: .* not served' "$log" && ok "no Gateway API in this cluster: HTTPRoute is not served, and not required for readiness" ||
	bad "HTTPRoute discovery not logged"

# reviews of a tenant1 Ingress claiming HOST
mkreview() {   # file host
	printf '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"live","kind":{"group":"networking.k8s.io","version":"v1","kind":"Ingress"},"resource":{"group":"networking.k8s.io","version":"v1","resource":"ingresses"},"namespace":"tenant1-gateway","name":"wild","operation":"CREATE","userInfo":{"username":"alice","groups":["tenant1"]},"object":{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"wild","namespace":"tenant1-gateway"},"spec":{"ingressClassName":"higress","rules":[{"host":"%s","http":{"paths":[{"path":"/","pathType":"Prefix","backend":{"service":{"name":"app","port":{"number":80}}}}]}}]}}}}' "$2" >"$1"
}
mkreview "$work/wild.json" '*.newco.com'
mkreview "$work/other.json" 'api.other.com'
allowed() { review "$1" | grep -q '"allowed":true'; }
collides() { review "$1" | grep -q '"allowed":false.*\[host-collision\]'; }

# within NAME CHECK ARGS...: polls CHECK every 50 ms and wants it true within $limit ms
# (1000 unless set) of the call.
within() {
	local name=$1 t0 el max=${limit:-1000}; shift
	t0=$(ms_now)
	while :; do
		if "$@"; then ok "$name (after $(( $(ms_now) - t0 )) ms)"; return 0; fi
		el=$(( $(ms_now) - t0 ))
		if [ "$el" -ge "$max" ]; then bad "$name: not within $max ms"; review "$2" | sed 's/^/     /'; return 1; fi
		sleep 0.05
	done
}
# A freed host is allowed again once its durable claim is released.
freed=$(( (grace + interval + 2) * 1000 ))
ingress() {   # host
	cat <<YAML
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: newco, namespace: tenant2-gateway}
spec:
  ingressClassName: higress
  rules:
  - host: $1
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
YAML
}

allowed "$work/wild.json" && ok "before: tenant1 may claim *.newco.com (nobody holds it)" || bad "before: *.newco.com not allowed"
ingress app.newco.com | admin apply -f - >/dev/null || bad "kubectl apply Ingress app.newco.com"
within "tenant2 Ingress app.newco.com created → tenant1's *.newco.com is denied [host-collision]" collides "$work/wild.json"
review "$work/wild.json" | grep -q 'tenant2' && bad "the denial names tenant2" || ok "the denial does not name tenant2 or its namespace"
ingress api.other.com | admin apply -f - >/dev/null || bad "kubectl apply Ingress api.other.com"
limit=$freed within "host changed to api.other.com → the old host is freed: *.newco.com allowed" allowed "$work/wild.json"
within "and the new host is claimed: tenant1's api.other.com is denied [host-collision]" collides "$work/other.json"

m=$(curl -sk "https://127.0.0.1:$port/metrics")
nns=$(admin get ns -o name | wc -l)
echo "$m" | grep -qx 'tenantguard_live_objects{kind="Ingress"} 1' &&
echo "$m" | grep -qx "tenantguard_live_objects{kind=\"Namespace\"} $nns" &&
echo "$m" | grep -qx 'tenantguard_live_claims 1' && echo "$m" | grep -qx 'tenantguard_live_ready 1' &&
echo "$m" | grep -qE '^tenantguard_live_last_sync_age_seconds\{kind="Ingress"\} [0-9]+$' &&
echo "$m" | grep -qx 'tenantguard_watch_restarts_total{kind="Ingress"} 0' &&
	ok "/metrics: 1 Ingress, $nns Namespaces, 1 claim, ready, sync age, no watch restarts" ||
	{ bad "/metrics live series:"; echo "$m" | grep -E 'live|watch' | sed 's/^/     /'; }

admin -n tenant2-gateway delete ingress newco >/dev/null || bad "kubectl delete Ingress"
limit=$freed within "Ingress deleted → api.other.com is free again" allowed "$work/other.json"
allowed "$work/wild.json" && ok "and *.newco.com stays free" || bad "*.newco.com denied after delete"
m=$(curl -sk "https://127.0.0.1:$port/metrics")
echo "$m" | grep -qx 'tenantguard_live_objects{kind="Ingress"} 0' && echo "$m" | grep -qx 'tenantguard_live_claims 0' &&
	ok "/metrics after the delete: 0 Ingresses, 0 claims" || { bad "/metrics after delete:"; echo "$m" | grep -E 'live_' | sed 's/^/     /'; }

# A namespace created and seen (cluster-scoped objects go through the same path).
admin create namespace live-ns >/dev/null || bad "create namespace"
nns=$(admin get ns -o name | wc -l)
metric_ns() { curl -sk "https://127.0.0.1:$port/metrics" | grep -qx "tenantguard_live_objects{kind=\"Namespace\"} $nns"; }
within "a new Namespace is counted" metric_ns

stop_serve "with live informers"
sanitizers_clean "tenantguard serve --kubeconfig" "$log" "$work/dead.log"
summary
[ "$fail" = 0 ]
