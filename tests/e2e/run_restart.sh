#!/usr/bin/env bash
# The apiserver killed and restarted under `tenantguard serve --kubeconfig` (issue 5, item 5).
# Objects are written with kubectl as admin directly (no webhook is registered); reviews are
# POSTed to /validate with curl. A loop of reviews runs in the background from before the first
# kill to the end, and none of them may ever be allowed.
#   1. baseline: admin's Ingresses in tenant2-gateway are in the live index
#   2. kube-apiserver SIGKILLed while the informers watch: reviews the live index decides are
#      still denied; a review needing a new durable claim is denied with code 500 (fail closed)
#   3. restarted: within 30 s the informers are back (each relists after a 410 or resumes its
#      watch, depending on whether etcd's revision moved past its resourceVersion meanwhile),
#      and creates and deletes made after the restart are followed
#   4. a deterministic 410: with the apiserver down an Ingress is deleted in etcd directly and
#      etcd is compacted past every revision the informers have seen; the restarted apiserver
#      answers the resumed watch with 410 Expired whether it serves it from its watch cache or
#      from etcd, the informer relists, and the index loses the deleted Ingress
#   5. SIGTERM → exit 0; the sanitizers found nothing
# Brings its own cluster up and tears it down. Last line: "N passed, N failed".
#   usage: tests/e2e/run_restart.sh BUILD_DIR
set -uo pipefail
e2e=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build/asan}" && pwd)
tg=$build/tenantguard
. "$e2e/lib.sh"
RECOVER_MS=${RECOVER_MS:-30000}   # the bound on the informers' recovery after a restart

e2e_cluster_up restart
log=$work/serve1.log
tg_serving_setup

serve 1
ready 1 && ok "tenantguard serve --kubeconfig ready on port ${port[1]}" || die "serve not ready" "$log"

# put_ingress NAME HOST: admin applies an Ingress in tenant2-gateway
put_ingress() { ingress tenant2-gateway "$1" "$2" | admin apply -f - >/dev/null || bad "kubectl apply Ingress $1 ($2)"; }
# log_since LINE: the serve log from line LINE+1 on.
log_since() { tail -n +"$(( $1 + 1 ))" "$log"; }
log_lines() { wc -l <"$log"; }

# --- 1. baseline ---------------------------------------------------------------------------
mkreview "$work/wild.json" tenant1 '*.newco.com'
mkreview "$work/wild2.json" tenant1 '*.newco2.com'
mkreview "$work/doomed.json" tenant1 'doomed.newco3.com'
mkreview "$work/gone.json" tenant1 'gone.newco4.com'
mkreview "$work/late.json" tenant1 'late.newco5.com'
mkreview "$work/fresh.json" tenant1 'app.fresh.io'
put_ingress newco app.newco.com; put_ingress doomed doomed.newco3.com; put_ingress gone gone.newco4.com
within "baseline: tenant2 Ingress app.newco.com → tenant1's *.newco.com denied [host-collision]" 1000 collides "$work/wild.json"
collides "$work/doomed.json" && collides "$work/gone.json" &&
	ok "baseline: doomed.newco3.com and gone.newco4.com (tenant2) denied to tenant1 [host-collision]" ||
	bad "baseline: doomed/gone not denied"

# The background loop: tenant1's *.newco.com every ~50 ms until $work/loop.stop exists, one
# line per review: "MS collision", "MS ALLOWED" or "MS other BODY".
(
	while [ ! -e "$work/loop.stop" ]; do
		out=$(review "$work/wild.json")
		case $out in
		*'"allowed":true'*) c=ALLOWED ;;
		*'"allowed":false'*'[host-collision]'*) c=collision ;;
		*) c="other ${out:-<no answer>}" ;;
		esac
		echo "$(ms_now) $c" >>"$work/loop.out"
		sleep 0.05
	done
) &
loop_pid=$!
echo "$loop_pid" >>"$TENANTGUARD_CLUSTER_PIDS"   # stopped by the teardown if we end early
sleep 0.5

# --- 2. the apiserver killed during the watch ----------------------------------------------
restarts0=$(metric 'tenantguard_watch_restarts_total{kind="Ingress"}')
mark=$(log_lines)
t_kill=$(ms_now)
"$e2e/cluster.sh" stop-apiserver "$dir" 2>>"$work/cluster.log" && ok "kube-apiserver SIGKILLed (etcd and controller-manager left running)" ||
	{ bad "stop-apiserver"; tail -n 5 "$work/cluster.log" | sed 's/^/     /'; }
sleep 1
collides "$work/wild.json" &&
	ok "apiserver down: tenant1's *.newco.com still denied [host-collision] (from the live index)" ||
	bad "apiserver down: *.newco.com not denied [host-collision]"
api_port=${TENANTGUARD_APISERVER##*:}
code=$(curl -sk -m 10 -o "$work/down-fresh.out" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$work/fresh.json" "https://127.0.0.1:${port[1]}/validate")
want='{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"fresh","allowed":false,"status":{"code":500,"message":"[host-collision] host '"'app.fresh.io'"' could not be claimed: the apiserver could not be asked (cannot reach https://127.0.0.1:'"$api_port"': Connection refused)","reason":"InternalError"}}}'
[ "$code" = 200 ] && [ "$(cat "$work/down-fresh.out")" = "$want" ] &&
	ok "apiserver down: a new first-come host (app.fresh.io) is denied with code 500 [host-collision], fail closed" ||
	{ bad "apiserver down: app.fresh.io answered HTTP $code:"; sed 's/^/     /' "$work/down-fresh.out"; echo "     wanted: $want"; }
grep -q "claim of host 'app.fresh.io' for .* failed: cannot reach" "$log" && ok "the failed claim is logged" || bad "failed claim not logged"
watch_logged() { grep -qE 'informer Ingress: watch: .*; resuming from resourceVersion [0-9]+' <<<"$(log_since "$mark")"; }
within "the broken Ingress watch is logged (resuming from its resourceVersion)" 5000 watch_logged ||
	log_since "$mark" | grep 'informer ' | tail -n 5 | sed 's/^/     /'
restarts1=$(metric 'tenantguard_watch_restarts_total{kind="Ingress"}')
[ "${restarts1:-0}" -gt "${restarts0:-0}" ] && ok "tenantguard_watch_restarts_total{kind=\"Ingress\"} counts the failed watches ($restarts0 → $restarts1)" ||
	bad "watch restarts $restarts0 → $restarts1"
hz=$(http_code /healthz)
rz=$(curl -sk "https://127.0.0.1:${port[1]}/readyz")
rzc=$(http_code /readyz)
[ "$hz" = 200 ] && ok "apiserver down: /healthz 200" || bad "apiserver down: /healthz $hz"
# Not asserted: nothing promises /readyz follows the watches after the first sync.
echo "# apiserver down: /readyz answers $rzc ($(echo "$rz" | head -c 80 | tr -d '\n')); tenantguard_live_ready $(metric tenantguard_live_ready)"

# --- 3. restarted ----------------------------------------------------------------------------
sleep 1
mark=$(log_lines)
"$e2e/cluster.sh" start-apiserver "$dir" 2>>"$work/cluster.log" && ok "kube-apiserver restarted with the same flags ($(( $(ms_now) - t_kill )) ms after the kill)" ||
	die "start-apiserver" "$work/cluster.log"
t_up=$(ms_now)
[ -z "$(claims fresh.io)" ] && ok "the failed claim wrote nothing (no tg-claim-fresh.io)" || { bad "tg-claim-fresh.io:"; claims fresh.io | sed 's/^/     /'; }
put_ingress other other.newco2.com
admin -n tenant2-gateway delete ingress gone >/dev/null || bad "kubectl delete Ingress gone"
within "after the restart: admin's new Ingress other.newco2.com → tenant1's *.newco2.com denied [host-collision]" \
	"$RECOVER_MS" collides "$work/wild2.json"
within "after the restart: Ingress gone deleted → tenant1 may claim gone.newco4.com" "$RECOVER_MS" allowed "$work/gone.json"
# Each informer either relisted (its watch got 410: the new apiserver's watch cache starts at
# the etcd revision of its start, past the informer's resourceVersion when anything was
# written since) or resumed its watch (nothing written: no log line on success, so it must at
# least fail no more once the decisions above recovered).
recovered=$(log_lines); sleep 2
for k in Ingress Namespace; do
	if grep -q "informer $k: relisted" <<<"$(log_since "$mark")"; then
		ok "informer $k relisted after the restart: $(log_since "$mark" | grep -oE "informer $k: watch from resourceVersion [0-9]+ expired \(410\)|informer $k: relisted[^\"]*" | paste -sd ' ' | sed 's/ informer [A-Za-z]*:/;/')"
	elif grep -q "informer $k: watch:" <<<"$(log_since "$recovered")"; then
		bad "informer $k: no relist after the restart and its watch still fails:"; log_since "$recovered" | grep "informer $k" | tail -n 3 | sed 's/^/     /'
	else
		ok "informer $k resumed its watch after the restart (no 410, no relist, no error since)"
	fi
done
put_ingress late late.newco5.com
within "the watch follows new events: Ingress late.newco5.com → tenant1's late.newco5.com denied [host-collision]" 2000 \
	collides "$work/late.json"
code=$(review "$work/fresh.json")
[[ $code == *'"allowed":true'* ]] && grep -qx 'app.fresh.io=tenant/tenant1' <<<"$(claims fresh.io)" &&
	ok "the claim refused during the outage is allowed now, and made durable in tg-claim-fresh.io" ||
	{ bad "app.fresh.io after the restart:"; echo "$code" | sed 's/^/     /'; claims fresh.io | sed 's/^/     /'; }

# --- 4. a deterministic 410: compacted while the apiserver is down -------------------------
b64() { printf %s "$1" | base64 -w0; }
etcd() { curl -sf -m 10 -X POST "$TENANTGUARD_ETCD/v3/$1" -d "$2"; }
rv_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])'; }
mark=$(log_lines)
"$e2e/cluster.sh" stop-apiserver "$dir" 2>>"$work/cluster.log" || bad "stop-apiserver (2)"
out=$(etcd kv/deleterange "{\"key\":\"$(b64 /registry/ingress/tenant2-gateway/doomed)\"}")
[[ $out == *'"deleted":"1"'* ]] && ok "apiserver down: Ingress doomed deleted in etcd directly" || bad "etcd deleterange: $out"
# One more revision, so that compacting at the newest leaves even the delete's out of reach.
rev=$(etcd kv/put "{\"key\":\"$(b64 /registry/tenantguard-e2e/bump)\",\"value\":\"$(b64 x)\"}" | rv_field)
if etcd kv/compaction "{\"revision\":\"$rev\",\"physical\":true}" >/dev/null; then
	out=$(curl -s -m 10 -X POST "$TENANTGUARD_ETCD/v3/kv/range" \
	    -d "{\"key\":\"$(b64 /registry/ingress/tenant2-gateway/newco)\",\"revision\":\"$(( rev - 1 ))\"}")
	[[ $out == *'required revision has been compacted'* ]] &&
		ok "etcd compacted at revision $rev (physical): revision $(( rev - 1 )) is gone" ||
		bad "etcd still answers at revision $(( rev - 1 )) after compacting at $rev: $out"
else
	bad "etcd compaction at revision '$rev' failed"
fi
"$e2e/cluster.sh" start-apiserver "$dir" 2>>"$work/cluster.log" && ok "kube-apiserver restarted" ||
	die "start-apiserver (2)" "$work/cluster.log"
gone410() { grep -qE 'informer Ingress: watch from resourceVersion [0-9]+ expired \(410\); relisting' <<<"$(log_since "$mark")"; }
if within "the resumed Ingress watch is answered 410 Gone" "$RECOVER_MS" gone410; then
	from=$(log_since "$mark" | grep -m1 -oE 'informer Ingress: watch from resourceVersion [0-9]+' | grep -oE '[0-9]+$')
	[ "$from" -lt "$rev" ] && ok "it was resumed from resourceVersion $from, before the compaction at $rev" ||
		bad "410 for resourceVersion $from, not before $rev"
fi
relisted_after() { grep -q 'informer Ingress: relisted' <<<"$(log_since "$mark" | sed -n '/informer Ingress: watch from resourceVersion [0-9]* expired (410); relisting/,$p')"; }
within "and the informer relisted" "$RECOVER_MS" relisted_after
log_since "$mark" | grep -oE 'informer (Ingress|Namespace): (watch from resourceVersion [0-9]+ expired \(410\); relisting|relisted [^"]*)' | sed 's/^/     /'
within "the index follows the change made while the watch was gone: tenant1 may claim doomed.newco3.com" 2000 allowed "$work/doomed.json"
admin -n tenant2-gateway get ingress doomed >/dev/null 2>&1 && bad "the apiserver still has Ingress doomed" ||
	ok "(and the apiserver agrees: Ingress doomed is gone)"
n_api=$(admin get ingress -A -o name | wc -l)
[ "$(metric 'tenantguard_live_objects{kind="Ingress"}')" = "$n_api" ] && ok "tenantguard_live_objects{kind=\"Ingress\"} = $n_api, as the apiserver lists" ||
	bad "live Ingresses $(metric 'tenantguard_live_objects{kind="Ingress"}'), apiserver $n_api"
collides "$work/wild.json" && collides "$work/wild2.json" && collides "$work/late.json" &&
	ok "and the Ingresses that stayed are still held: *.newco.com, *.newco2.com, late.newco5.com denied" ||
	bad "a held host no longer denied after the relist"

# --- the background loop -----------------------------------------------------------------------
touch "$work/loop.stop"; wait "$loop_pid"
total=$(wc -l <"$work/loop.out")
during=$(awk -v a="$t_kill" -v b="$t_up" '$1 >= a && $1 <= b' "$work/loop.out" | wc -l)
nallow=$(grep -c ' ALLOWED$' "$work/loop.out")
nother=$(grep -c ' other ' "$work/loop.out")
[ "$nallow" = 0 ] && ok "background loop: none of $total reviews of *.newco.com was allowed ($during while the apiserver was down)" ||
	bad "background loop: $nallow of $total reviews of *.newco.com ALLOWED"
[ "$nother" = 0 ] && ok "background loop: all $total denied [host-collision] (no errors, no other answers)" ||
	{ bad "background loop: $nother answers other than host-collision:"; grep ' other ' "$work/loop.out" | head -n 5 | sed 's/^/     /'; }

# --- 5. SIGTERM, sanitizers --------------------------------------------------------------------
serve_stop 1 "tenantguard serve through two apiserver restarts" 5000
sanitizers_clean "tenantguard serve through two apiserver restarts" "$log"
[ "$fail" = 0 ] || { echo "     serve log (last 30 lines):"; tail -n 30 "$log" | sed 's/^/     /'; }
summary
[ "$fail" = 0 ]
