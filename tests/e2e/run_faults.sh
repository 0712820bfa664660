#!/usr/bin/env bash
# Apiserver faults: tests/e2e/tools/faultproxy.py between `serve --kubeconfig` and a real
# kube-apiserver. Claim writes that hang, 429 (API Priority and Fairness) and 500: a review
# that needs a first-come claim is answered within its budget (before the webhooks' 5 s
# timeout), denied with 500, never allowed. The informers' LIST/WATCH failing with 500 and 429
# (open watches cut): they retry with backoff, the cache keeps deciding, and they recover.
# Figures (time to answer, retries) are printed. Last line: "N passed, N failed".
#   usage: tests/e2e/run_faults.sh BUILD_DIR
set -uo pipefail
e2e=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build/asan}" && pwd)
tg=$build/tenantguard
. "$e2e/lib.sh"

e2e_cluster_up faults
dir=$TENANTGUARD_CLUSTER_DIR
work=$dir/faults; mkdir -p "$work"
tg_serving_setup "$work"

ctl=$work/control.json stats=$work/stats.json
fault() { printf '{"claims": "%s", "informers": "%s"}\n' "$1" "$2" >"$ctl.new" && mv "$ctl.new" "$ctl"; }
stat() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], 0))' "$stats" "$1"; }
fault pass pass
pport=$(freeport)
server=$(sed -n 's/^ *server: //p' "$KUBECONFIG_ADMIN")
setsid python3 "$e2e/tools/faultproxy.py" --listen "127.0.0.1:$pport" --upstream "$server" \
    --upstream-ca "$TENANTGUARD_CLUSTER_CA" --cert "$work/certs/tls.crt" --key "$work/certs/tls.key" \
    --control "$ctl" --stats "$stats" </dev/null >"$work/proxy.log" 2>&1 &
echo $! >>"$TENANTGUARD_CLUSTER_PIDS"
for _ in $(seq 100); do [ -s "$stats" ] && break; sleep 0.05; done
sed -e "s|^\( *server:\).*|\1 https://127.0.0.1:$pport|" \
    -e "s|^\( *certificate-authority:\).*|\1 $work/certs/ca.crt|" "$KUBECONFIG_ADMIN" >"$work/proxy.kubeconfig"

TG_KUBECONFIG=$work/proxy.kubeconfig serve 1
tg_wait_ready "${port[1]}" 400 && ok "serve ready through the fault proxy" ||
	{ bad "serve not ready through the proxy"; tail -n 20 "$work/serve1.log" "$work/proxy.log" | sed 's/^/     /'; summary; exit 1; }

# Reviews are lib.sh's mkreview: tenant1 CREATEs an Ingress claiming HOST (first-come: not
# reserved); with "dry" a dryRun, which checks against the live index but claims nothing.
# review FILE OUT: the response in OUT, the seconds it took on stdout.
review() {
	curl -sk --max-time 30 -o "$2" -w '%{time_total}' -H 'Content-Type: application/json' \
	    --data-binary @"$1" "https://127.0.0.1:${port[1]}/validate"
}
within() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$1" "$2"; }

mkreview "$work/r0.json" tenant1 app0.faults-test.io
t=$(review "$work/r0.json" "$work/o0")
grep -q '"allowed":true' "$work/o0" && ok "no fault: a first-come claim is allowed (${t} s)" ||
	{ bad "no fault: the claim was not allowed"; cat "$work/o0"; }

# Claim writes faulted: three reviews at once each time, two under the same domain (they
# contend on one stripe lock, so the second must not wait for the first's hanging write).
for mode in hang 429 500; do
	fault "$mode" pass
	for i in 1 2 3; do mkreview "$work/$mode-$i.json" tenant1 "app$i.$mode-$([ "$i" = 3 ] && echo other || echo same).faults-test.io"; done
	pids=()
	for i in 1 2 3; do review "$work/$mode-$i.json" "$work/o-$mode-$i" >"$work/t-$mode-$i" & pids+=($!); done
	wait "${pids[@]}"
	good=0 worst=0
	for i in 1 2 3; do
		t=$(cat "$work/t-$mode-$i")
		worst=$(python3 -c 'import sys; print(max(float(sys.argv[1]), float(sys.argv[2])))' "$worst" "$t")
		grep -q '"allowed":false' "$work/o-$mode-$i" && grep -q '"code":500' "$work/o-$mode-$i" &&
		    within "$t" 5 && good=$((good + 1))
	done
	[ "$good" = 3 ] &&
		ok "claim writes $mode: 3 concurrent reviews denied with 500 within the 5 s webhook timeout (slowest ${worst} s; proxy saw $(stat "claims:$mode") writes)" ||
		{ bad "claim writes $mode: $good of 3 reviews denied 500 in time (slowest ${worst} s)"; cat "$work"/o-"$mode"-* | head -c 600; echo; }
	grep -l '"allowed":true' "$work"/o-"$mode"-* >/dev/null 2>&1 && bad "claim writes $mode: a review was ALLOWED"
done

# One worker (--threads 1) and a claim write that hangs: the review waiting on it must not
# hold up the worker's other connections (it is decided on the review pool, its connection
# suspended). A needs a first-come claim in a domain no one has claimed yet (its write is a
# create, told apart from any release the reaper may write meanwhile); once the proxy holds
# it, B (tenant1's own system host: no claim) goes in on another connection and must be
# answered while A still waits — with the worker itself waiting, B could only come after A.
fault hang pass
TG_KUBECONFIG=$work/proxy.kubeconfig serve 2 --threads 1
tg_wait_ready "${port[2]}" 400 || die "replica 2 (one worker) not ready" "$work/serve2.log"
mkreview "$work/s-a.json" tenant1 app.stall-test.io
mkreview "$work/s-b.json" tenant1 api.tenant1.aigw.example.com
# (the proxy's count read with grep: a python start-up can take longer than the budget here)
hung() { local n; n=$(grep -o '"claims:hang:POST": [0-9]*' "$stats" 2>/dev/null); n=${n##* }; echo "${n:-0}"; }
held=$(hung)
( review2() { curl -sk --max-time 30 -o "$2" -H 'Content-Type: application/json' --data-binary @"$1" "https://127.0.0.1:${port[2]}/validate"; }
  review2 "$work/s-a.json" "$work/s-a.out"; touch "$work/s-a.done" ) &
apid=$!
for _ in $(seq 400); do [ "$(hung)" -gt "$held" ] && break; sleep 0.005; done
curl -sk --max-time 30 -o "$work/s-b.out" -H 'Content-Type: application/json' \
    --data-binary @"$work/s-b.json" "https://127.0.0.1:${port[2]}/validate"
a_done=$([ -e "$work/s-a.done" ] && echo yes || echo no)
[ "$(hung)" -gt "$held" ] && [ "$a_done" = no ] && grep -q '"allowed":true' "$work/s-b.out" &&
	ok "one worker, a claim write hanging: another connection's review is answered while that review still waits" ||
	bad "one worker: B answered $(head -c 120 "$work/s-b.out"), A already answered: $a_done, writes held: $(( $(hung) - held ))"
wait "$apid"
grep -q '"allowed":false' "$work/s-a.out" && grep -q '"code":500' "$work/s-a.out" &&
	ok "and the waiting review is then denied with 500 (its claim budget ran out)" ||
	{ bad "the review waiting on the hanging claim: $(head -c 200 "$work/s-a.out")"; }
serve_stop 2 "replica 2 (one worker)"

fault pass pass
mkreview "$work/r1.json" tenant1 app1.same-again.faults-test.io
t=$(review "$work/r1.json" "$work/o1")
grep -q '"allowed":true' "$work/o1" && ok "claims recover once the apiserver answers again (${t} s)" ||
	{ bad "claims did not recover"; cat "$work/o1"; }

# Informers: LIST/WATCH answered 500, then 429, for 6 s each (open watches cut).
before=$(($(stat informers:pass) + 0))
for mode in 500 429; do
	fault pass "$mode"
	sleep 6
	n=$(stat "informers:$mode")
	[ "$n" -ge 2 ] && ok "informers $mode: $n retries in 6 s (backoff, not a busy loop: fewer than 200)" ||
		bad "informers $mode: $n requests in 6 s"
	[ "$n" -lt 200 ] || bad "informers $mode: $n requests in 6 s is a busy loop"
	[ "$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:${port[1]}/readyz")" = 200 ] &&
		ok "informers $mode: still ready, the cache keeps deciding" || bad "informers $mode: not ready"
done
fault pass pass
t0=$(date +%s.%N)
admin -n tenant2-gateway create ingress probe --rule="probe.faults-test.io/=app:80" >/dev/null 2>&1
mkreview "$work/r2.json" tenant1 probe.faults-test.io dry
recovered=false
for _ in $(seq 300); do
	review "$work/r2.json" "$work/o2" >/dev/null
	grep -q 'host-collision\|host-ownership' "$work/o2" && { recovered=true; break; }
	sleep 0.1
done
t1=$(date +%s.%N)
$recovered && ok "informers recover: an Ingress created after the faults decides a review $(python3 -c "print(f'{$t1 - $t0:.1f}')") s later ($(($(stat informers:pass) - before)) LIST/WATCH requests since)" ||
	{ bad "informers did not recover within 30 s"; cat "$work/o2"; }
sanitizers_clean "serve behind the fault proxy" "$work"/serve*.log
summary
[ "$fail" -eq 0 ]
