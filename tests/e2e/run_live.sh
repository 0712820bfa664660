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
tg_serving_setup
grace=2 interval=2   # --claim-grace 2: release rounds every min(5, grace) s
# Replica 2 is served by an apiserver that is not there, replica 1 by the real one.
log=$work/serve1.log dead_log=$work/serve2.log

# --- an unreachable apiserver: never ready, reviews fail closed ----------------------------
dead=$(freeport)
sed -E "s|(server: https://127\.0\.0\.1:)[0-9]+|\1$dead|" "$KUBECONFIG_ADMIN" >"$work/dead.kubeconfig"
TG_KUBECONFIG=$work/dead.kubeconfig serve 2 --claim-grace "$grace"
for _ in $(seq 50); do [ "$(http_code /healthz 2)" = 200 ] && break; sleep 0.1; done
sleep 1
c=$(http_code /readyz 2)
[ "$c" = 503 ] && ok "apiserver unreachable: /readyz is 503 (never synced)" || bad "apiserver unreachable: /readyz is $c"
printf '%s' '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"ConfigMap"},"operation":"CREATE","namespace":"default","userInfo":{"username":"x"},"object":{"kind":"ConfigMap","metadata":{"name":"c"}}}}' >"$work/cm.json"
c=$(curl -sk -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$work/cm.json" "https://127.0.0.1:${port[2]}/validate")
[ "$c" = 500 ] && ok "apiserver unreachable: a review is answered 500 (fail closed, no decision on an unknown cluster)" ||
	bad "apiserver unreachable: review answered $c"
grep -q 'informer Ingress: list:' "$dead_log" && ok "the list failure is logged with its reason" ||
	{ bad "no list failure logged"; tail -n 5 "$dead_log" | sed 's/^/     /'; }
serve_stop 2 "while retrying with backoff" 5000

# --- the real apiserver ---------------------------------------------------------------------
t0=$(ms_now)
serve 1 --claim-grace "$grace"
ready 1 && ok "/readyz turns 200 after the first full sync ($(( $(ms_now) - t0 )) ms after start)" ||
	die "/readyz is $(http_code /readyz) after 10 s" "$log"
grep -q 'informer HTTPRoute: .* not served' "$log" && ok "no Gateway API in this cluster: HTTPRoute is not served, and not required for readiness" ||
	bad "HTTPRoute discovery not logged"

# reviews of a tenant1 Ingress claiming HOST
mkreview "$work/wild.json" tenant1 '*.newco.com'
mkreview "$work/other.json" tenant1 'api.other.com'
# Decisions follow the cluster within 1 s; a freed host is allowed again once its durable
# claim is released.
soon=1000 freed=$(( (grace + interval + 2) * 1000 ))
newco() { ingress tenant2-gateway newco "$1" | admin apply -f - >/dev/null || bad "kubectl apply Ingress $1"; }

allowed "$work/wild.json" && ok "before: tenant1 may claim *.newco.com (nobody holds it)" || bad "before: *.newco.com not allowed"
newco app.newco.com
within "tenant2 Ingress app.newco.com created → tenant1's *.newco.com is denied [host-collision]" "$soon" collides "$work/wild.json"
review "$work/wild.json" | grep -q 'tenant2' && bad "the denial names tenant2" || ok "the denial does not name tenant2 or its namespace"
newco api.other.com
within "host changed to api.other.com → the old host is freed: *.newco.com allowed" "$freed" allowed "$work/wild.json"
within "and the new host is claimed: tenant1's api.other.com is denied [host-collision]" "$soon" collides "$work/other.json"

m=$(curl -sk "https://127.0.0.1:${port[1]}/metrics")
nns=$(admin get ns -o name | wc -l)
echo "$m" | grep -qx 'tenantguard_live_objects{kind="Ingress"} 1' &&
echo "$m" | grep -qx "tenantguard_live_objects{kind=\"Namespace\"} $nns" &&
echo "$m" | grep -qx 'tenantguard_live_claims 1' && echo "$m" | grep -qx 'tenantguard_live_ready 1' &&
echo "$m" | grep -qE '^tenantguard_live_last_sync_age_seconds\{kind="Ingress"\} [0-9]+$' &&
echo "$m" | grep -qx 'tenantguard_watch_restarts_total{kind="Ingress"} 0' &&
	ok "/metrics: 1 Ingress, $nns Namespaces, 1 claim, ready, sync age, no watch restarts" ||
	{ bad "/metrics live series:"; echo "$m" | grep -E 'live|watch' | sed 's/^/     /'; }

admin -n tenant2-gateway delete ingress newco >/dev/null || bad "kubectl delete Ingress"
within "Ingress deleted → api.other.com is free again" "$freed" allowed "$work/other.json"
allowed "$work/wild.json" && ok "and *.newco.com stays free" || bad "*.newco.com denied after delete"
m=$(curl -sk "https://127.0.0.1:${port[1]}/metrics")
echo "$m" | grep -qx 'tenantguard_live_objects{kind="Ingress"} 0' && echo "$m" | grep -qx 'tenantguard_live_claims 0' &&
	ok "/metrics after the delete: 0 Ingresses, 0 claims" || { bad "/metrics after delete:"; echo "$m" | grep -E 'live_' | sed 's/^/     /'; }

# A namespace created and seen (cluster-scoped objects go through the same path).
admin create namespace live-ns >/dev/null || bad "create namespace"
nns=$(admin get ns -o name | wc -l)
metric_ns() { [ "$(metric 'tenantguard_live_objects{kind="Namespace"}')" = "$nns" ]; }
within "a new Namespace is counted" "$soon" metric_ns

serve_stop 1 "with live informers" 5000
sanitizers_clean "tenantguard serve --kubeconfig" "$log" "$dead_log"
summary
[ "$fail" = 0 ]
