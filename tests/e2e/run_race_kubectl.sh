#!/usr/bin/env bash
# Race-free first-come claims through a REGISTERED webhook: two `tenantguard serve
# --kubeconfig` replicas behind a TCP load balancer (tools/tcplb.py, standing in for the
# Service and kube-proxy), manifests/webhooks.yaml registered with the balancer's URL, and
# every round alice (tenant1-gateway) and bob (tenant2-gateway) `kubectl apply` an Ingress for
# the same new host at the same moment. Exactly one apply must succeed and the other be denied
# [host-collision] by the webhook, and both replicas must have decided reviews of the race.
# Last line: "N passed, N failed".
#   usage: tests/e2e/run_race_kubectl.sh BUILD_DIR      (ROUNDS=50 by default)
set -uo pipefail
e2e=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build/asan}" && pwd)
tg=$build/tenantguard
. "$e2e/lib.sh"
ROUNDS=${ROUNDS:-50}

t0=$SECONDS
e2e_cluster_up racek
tg_serving_setup

# (no reconciler: its writes would go through the balancer first and skew which connections
# the apiserver keeps; this test is about claims only)
serve 1 --no-reconcile; serve 2 --no-reconcile
ready 1 2 || die "replicas not ready" "$work"/serve*.log

tg_balancer "$work" "${port[1]}" "${port[2]}"
[ -s "$work/lb.stats" ] &&
	ok "two replicas ready on ports ${port[1]} and ${port[2]}, behind tcplb.py on $lbport ($((SECONDS - t0)) s with the cluster)" ||
	die "tcplb.py did not start" "$work/lb.log"

tg_register "127.0.0.1:$lbport" || die "register manifests/webhooks.yaml" "$work/register.log"
within "the registered webhook answers through the balancer" 20000 webhook_answers ||
	die "the registered webhook never answered through the balancer" "$work/lb.stats" "$work/lb.log" "$work"/serve*.log

# reviews REPLICA: "ALLOWED DENIED-HOST-COLLISION" — validating Ingress CREATE reviews so far.
reviews() {
	curl -sk "https://127.0.0.1:${port[$1]}/metrics" | awk '
		/^tenantguard_reviews_total\{/ && /webhook="validate"/ && /kind="Ingress"/ && /operation="CREATE"/ {
			if ($0 ~ /decision="allowed"/) a += $NF
			else if ($0 ~ /decision="denied"/ && $0 ~ /rule="host-collision"/) d += $NF
		}
		END { printf "%d %d\n", a, d }'
}
read -r a1_0 d1_0 <<<"$(reviews 1)"; read -r a2_0 d2_0 <<<"$(reviews 2)"

denied='admission webhook "validate.tenantguard.io" denied the request: \[host-collision\]'

# --- the race: ROUNDS rounds, both applies at once ------------------------------------------
wins1=0 wins2=0 bad_rounds=0 leaks=0
: >"$work/expected-ingresses" ; : >"$work/expected-claims"
t_race=$SECONDS
for n in $(seq "$ROUNDS"); do
	race_hosts "$n"
	ingress tenant1-gateway "alice-r$n" "$h1" >"$work/a-$n.yaml"
	ingress tenant2-gateway "bob-r$n" "$h2" >"$work/b-$n.yaml"
	# The apiserver is idle between rounds: the balancer drops its kept-alive connections, so
	# every round starts on new ones and the round-robin hands rounds to both replicas.
	kill -USR1 "$lbpid"; sleep 0.05
	alice apply -f "$work/a-$n.yaml" >"$work/o1-$n" 2>&1 & p1=$!
	bob   apply -f "$work/b-$n.yaml" >"$work/o2-$n" 2>&1 & p2=$!
	wait "$p1"; rc1=$?; wait "$p2"; rc2=$?
	if [ "$rc1" = 0 ] && [ "$rc2" != 0 ] && grep -qE -- "$denied" "$work/o2-$n"; then
		wins1=$((wins1 + 1)); wns=tenant1-gateway wname=alice-r$n wh=$h1 winner=tenant1 lost=$work/o2-$n
	elif [ "$rc2" = 0 ] && [ "$rc1" != 0 ] && grep -qE -- "$denied" "$work/o1-$n"; then
		wins2=$((wins2 + 1)); wns=tenant2-gateway wname=bob-r$n wh=$h2 winner=tenant2 lost=$work/o1-$n
	else
		bad "round $n ($h1 vs $h2): not exactly one winner (alice exit $rc1, bob exit $rc2)"
		{ echo "alice:"; cat "$work/o1-$n"; echo "bob:"; cat "$work/o2-$n"; } | sed 's/^/     /'
		bad_rounds=$((bad_rounds + 1)); continue
	fi
	echo "$wns/$wname" >>"$work/expected-ingresses"
	key=$(claim_key "$wh")
	echo "$key=tenant/$winner" >>"$work/expected-claims"
	# the loser must learn nothing about the winner: not its tenant, namespace or object
	if grep -qE -- "$winner|$wname" "$lost"; then
		[ "$leaks" = 0 ] && { bad "round $n: the loser's denial names $winner or $wns/$wname:"; sed 's/^/     /' "$lost"; }
		leaks=$((leaks + 1))
	fi
done
race_s=$((SECONDS - t_race))
[ "$bad_rounds" = 0 ] &&
	ok "$ROUNDS rounds of concurrent kubectl applies through the registered webhook: exactly one winner each (tenant1 $wins1, tenant2 $wins2; $race_s s), the loser denied [host-collision] by validate.tenantguard.io" ||
	bad "$bad_rounds of $ROUNDS rounds went wrong"
[ "$leaks" = 0 ] && ok "no loser's denial names the winner's tenant, namespace or Ingress" ||
	bad "$leaks of $ROUNDS denials name the winner"

# --- what the cluster holds ---------------------------------------------------------------
admin get ingress -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}' 2>&1 |
	grep -E -- '/(alice|bob)-r[0-9]+$' | sort >"$work/ingresses"
sort -o "$work/expected-ingresses" "$work/expected-ingresses"
if [ "$(wc -l <"$work/ingresses")" = "$ROUNDS" ] && cmp -s "$work/ingresses" "$work/expected-ingresses"; then
	ok "the cluster holds exactly the $ROUNDS winners' Ingresses and none of the losers'"
else
	bad "the cluster's race Ingresses differ from the winners (< cluster, > winners):"
	diff "$work/ingresses" "$work/expected-ingresses" | sed 's/^/     /'
fi
claims race.io >"$work/claims"
sort -o "$work/expected-claims" "$work/expected-claims"
cmp -s "$work/claims" "$work/expected-claims" &&
	ok "tg-claim-race.io holds the $ROUNDS winners' hosts, each owned by its winner" ||
	{ bad "tg-claim-race.io differs from the winners (< ConfigMap, > winners):"; diff "$work/claims" "$work/expected-claims" | sed 's/^/     /'; }

# --- both replicas decided reviews of the race --------------------------------------------
# The apiserver keeps its webhook connections alive and reuses an idle one; the balancer drops
# them between rounds, so each round opens new ones, alternating replicas, and two reviews in
# flight at once use two connections. Counted from each replica's /metrics, as the difference
# to before the race.
read -r a1 d1 <<<"$(reviews 1)"; read -r a2 d2 <<<"$(reviews 2)"
a1=$((a1 - a1_0)) d1=$((d1 - d1_0)) a2=$((a2 - a2_0)) d2=$((d2 - d2_0))
lbconn=$(tr '\n' ';' <"$work/lb.stats")
if [ $((a1 + d1)) -gt 0 ] && [ $((a2 + d2)) -gt 0 ] && [ $((a1 + a2)) = "$ROUNDS" ] && [ $((d1 + d2)) = "$ROUNDS" ]; then
	ok "both replicas decided race reviews: replica 1 allowed $a1 / denied $d1, replica 2 allowed $a2 / denied $d2 (balancer: $lbconn)"
else
	bad "race reviews per replica: replica 1 allowed $a1 / denied $d1, replica 2 allowed $a2 / denied $d2; wanted both > 0, $ROUNDS allowed and $ROUNDS denied [host-collision] in all (balancer: $lbconn)"
fi

# --- shutdown -------------------------------------------------------------------------------
for r in 1 2; do serve_stop "$r" "replica $r (with the apiserver's connections open through the balancer)"; done
kill -TERM "$lbpid"; wait "$lbpid" 2>/dev/null
sanitizers_clean "both replicas" "$work"/serve*.log
[ "$fail" = 0 ] || for r in 1 2; do echo "     replica $r log:"; tail -n 15 "$work/serve$r.log" | sed 's/^/     /'; done
summary
[ "$fail" = 0 ]
