#!/usr/bin/env bash
# Race-free first-come claims: two `tenantguard serve --kubeconfig` replicas against one real
# kube-apiserver; tenant1 and tenant2 claim the same new host at the same moment, one review to
# each replica, and the claim ConfigMaps in tenantguard-system must let exactly one win every
# round. Reviews are POSTed with curl (no webhook is registered). Last line: "N passed, N failed".
#   usage: tests/e2e/run_race.sh BUILD_DIR
set -uo pipefail
e2e=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build/asan}" && pwd)
tg=$build/tenantguard
. "$e2e/lib.sh"
ROUNDS=${ROUNDS:-20}

e2e_cluster_up race
tg_serving_setup

# Race claims are never backed by an object: a grace longer than the run keeps replicas 1 and
# 2's reapers from releasing early rounds' claims on a slow machine (release is replica 3's test).
serve 1 --claim-grace 3600; serve 2 --claim-grace 3600
ready 1 2 && ok "two replicas ready on ports ${port[1]} and ${port[2]}" || die "replicas not ready" "$work"/serve*.log

is_allowed() { grep -q '"allowed":true' "$1"; }
is_collision() { grep -q '"allowed":false.*\[host-collision\]' "$1"; }

# --- the race: ROUNDS rounds, one review to each replica at once --------------------------
wins1=0 wins2=0 bad_rounds=0
for n in $(seq "$ROUNDS"); do
	race_hosts "$n"
	mkreview "$work/t1-$n.json" tenant1 "$h1"
	mkreview "$work/t2-$n.json" tenant2 "$h2"
	# alternate which tenant goes to which replica
	a=$(( n % 2 + 1 )) b=$(( (n + 1) % 2 + 1 ))
	review "$work/t1-$n.json" "$a" >"$work/o1-$n" & p1=$!
	review "$work/t2-$n.json" "$b" >"$work/o2-$n" & p2=$!
	wait "$p1" "$p2"
	if is_allowed "$work/o1-$n" && is_collision "$work/o2-$n"; then
		wins1=$((wins1 + 1)); winner=tenant1 wh=$h1
	elif is_allowed "$work/o2-$n" && is_collision "$work/o1-$n"; then
		wins2=$((wins2 + 1)); winner=tenant2 wh=$h2
	else
		bad "round $n ($h1 vs $h2): not exactly one winner"
		sed 's/^/     /' "$work/o1-$n" "$work/o2-$n"; bad_rounds=$((bad_rounds + 1)); continue
	fi
	key=$(claim_key "$wh")
	# (read up to 3 times: a kubectl call may fail under load; its errors are not shown)
	shown=false
	for _ in 1 2 3; do grep -qx "$key=tenant/$winner" <<<"$(claims race.io)" && { shown=true; break; }; sleep 0.2; done
	if ! $shown; then
		bad "round $n: ConfigMap tg-claim-race.io does not show $winner holding $wh"
		claims race.io | sed 's/^/     /'; bad_rounds=$((bad_rounds + 1))
	fi
	# the winner's re-claim (through the other replica) is allowed
	mkreview "$work/re-$n.json" "$winner" "$wh"
	if ! allowed "$work/re-$n.json" "$b"; then
		bad "round $n: $winner's re-claim of $wh denied"; bad_rounds=$((bad_rounds + 1))
	fi
done
[ "$bad_rounds" = 0 ] &&
	ok "$ROUNDS rounds of concurrent claims on two replicas: exactly one winner each (tenant1 $wins1, tenant2 $wins2), recorded in tg-claim-race.io, and the winner's re-claim allowed" ||
	bad "$bad_rounds of $ROUNDS rounds went wrong"
lost=$(ls "$work"/o1-* "$work"/o2-* | xargs grep -l 'host-collision' | head -n 1)
if [ -n "$lost" ] && grep -qE 'tenant[12]-gateway|tenant/|tenant[12]\b' "$lost"; then
	bad "a loser's denial names the other owner:"; sed 's/^/     /' "$lost"
else
	ok "the loser's denial names the rule and not the other owner"
fi
n=$(claims race.io | wc -l)
[ "$n" = "$ROUNDS" ] && ok "tg-claim-race.io holds $n patterns, one per round" ||
	{ bad "tg-claim-race.io holds $n patterns, wanted $ROUNDS"; claims race.io | sed 's/^/     /'; }

# --- the same race inside one replica ------------------------------------------------------
# 10 rounds, both reviews to replica 1 at once, each round under a domain of its own: the
# replica's per-domain lock serialises them (and the claim ConfigMap's AlreadyExists/Conflict
# would decide as well), so exactly one wins before any watch event could help.
one_bad=0
for n in $(seq 10); do
	race_hosts "$n"; h1=${h1/race.io/one$n.io} h2=${h2/race.io/one$n.io}
	mkreview "$work/s1-$n.json" tenant1 "$h1"; mkreview "$work/s2-$n.json" tenant2 "$h2"
	review "$work/s1-$n.json" >"$work/u1-$n" & p1=$!
	review "$work/s2-$n.json" >"$work/u2-$n" & p2=$!
	wait "$p1" "$p2"
	{ is_allowed "$work/u1-$n" && is_collision "$work/u2-$n"; } ||
	{ is_allowed "$work/u2-$n" && is_collision "$work/u1-$n"; } ||
	{ bad "one replica, round $n ($h1 vs $h2): not exactly one winner"; sed 's/^/     /' "$work/u1-$n" "$work/u2-$n"; one_bad=$((one_bad + 1)); }
done
[ "$one_bad" = 0 ] && ok "10 rounds of the same race inside one replica: exactly one winner each"

# --- wildcard overlap, in sequence, across the replicas --------------------------------------
mkreview "$work/w1.json" tenant1 'app.newco.com'; mkreview "$work/w2.json" tenant2 '*.newco.com'
review "$work/w1.json" 1 >"$work/w1.out"; review "$work/w2.json" 2 >"$work/w2.out"
is_allowed "$work/w1.out" && is_collision "$work/w2.out" &&
	ok "tenant1 holds app.newco.com → tenant2's *.newco.com on the other replica is denied [host-collision]" ||
	{ bad "app.newco.com vs *.newco.com"; sed 's/^/     /' "$work/w1.out" "$work/w2.out"; }
mkreview "$work/w3.json" tenant1 '*.newco.com'
allowed "$work/w3.json" 2 &&
	ok "tenant1's own *.newco.com over its app.newco.com is allowed" || bad "same-owner wildcard denied"

# --- dryRun writes nothing ----------------------------------------------------------------
mkreview "$work/d1.json" tenant1 'api.dry.io' dry
allowed "$work/d1.json" && ok "dryRun claim of api.dry.io allowed" || bad "dryRun claim denied"
admin -n tenantguard-system get configmap tg-claim-dry.io >/dev/null 2>&1 &&
	bad "dryRun created tg-claim-dry.io" || ok "dryRun created no claim ConfigMap"
mkreview "$work/d2.json" tenant2 'api.dry.io'
allowed "$work/d2.json" 2 && ok "so tenant2 may claim api.dry.io afterwards" || bad "tenant2 denied api.dry.io after a dryRun"
[ "$(claims dry.io)" = "api.dry.io=tenant/tenant2" ] && ok "tg-claim-dry.io holds only tenant2's api.dry.io" ||
	{ bad "tg-claim-dry.io:"; claims dry.io | sed 's/^/     /'; }
mkreview "$work/d4.json" tenant1 '*.dry.io' dry
collides "$work/d4.json" &&
	ok "a dryRun *.dry.io by tenant1 is denied [host-collision] (read, not written)" || bad "dryRun *.dry.io not denied"
[ "$(claims dry.io)" = "api.dry.io=tenant/tenant2" ] && ok "and wrote nothing" || bad "dryRun wrote to tg-claim-dry.io"

# --- a public suffix cannot be claimed first-come -----------------------------------------
for h in '*.co.uk' '*.io'; do
	mkreview "$work/ps.json" tenant1 "$h"
	review "$work/ps.json" | grep -q '"allowed":false.*\[host-ownership\].*public suffix' &&
		ok "$h is denied [host-ownership]: its domain is a public suffix" || { bad "$h not denied"; review "$work/ps.json" | sed 's/^/     /'; }
done

serve_stop 1 "replica 1"; serve_stop 2 "replica 2"
# --- release: a claim no live object holds is freed after the grace period ------------------
# Replica 3 with --claim-grace 12 (rounds every 5 s): tenant1 claims kept.rel.io, whose Ingress
# is then created, and gone.rel.io, backed by nothing (the review's object is never created).
# The earlier sections' claims are dropped first, so replica 3's rounds release nothing else
# (their writes would count among the requests measured below), and the grace is longer than
# the checks that read claimed-at before the re-claim take.
grace=12 interval=5   # 6 s was shorter than the checks below on a loaded 2-core machine
old_claims=$(admin -n tenantguard-system get configmap -o name | grep '/tg-claim-')
[ -z "$old_claims" ] || admin -n tenantguard-system delete $old_claims >/dev/null ||
	bad "could not drop the earlier sections' claim ConfigMaps"
serve 3 --claim-grace "$grace"
ready 3 || die "replica 3 not ready" "$work/serve3.log"
mkreview "$work/k1.json" tenant1 'kept.rel.io'; mkreview "$work/g1.json" tenant1 'gone.rel.io'
mkreview "$work/k2.json" tenant2 'kept.rel.io'; mkreview "$work/g2.json" tenant2 'gone.rel.io'
allowed "$work/k1.json" 3 && allowed "$work/g1.json" 3 &&
[ "$(claims rel.io | tr '\n' ' ')" = "gone.rel.io=tenant/tenant1 kept.rel.io=tenant/tenant1 " ] &&
	ok "tenant1 claims kept.rel.io and gone.rel.io: both in tg-claim-rel.io" ||
	{ bad "claims of kept.rel.io / gone.rel.io:"; claims rel.io | sed 's/^/     /'; }
ingress tenant1-gateway kept kept.rel.io | admin apply -f - >/dev/null || bad "kubectl apply Ingress kept.rel.io"
sleep 0.5   # (the watch delivers it within tens of milliseconds)
# claimed-at: when each pattern was last claimed. A re-claim of a pattern the live state holds
# costs nothing; one the live state does not hold (yet) refreshes it, so a release round of
# any replica leaves it alone for another grace period.
rv() { admin -n tenantguard-system get configmap tg-claim-rel.io -o jsonpath='{.metadata.resourceVersion}'; }
claimed_at() { admin -n tenantguard-system get configmap tg-claim-rel.io -o json |
	python3 -c 'import json,sys; a=json.load(sys.stdin)["metadata"]["annotations"]["tenantguard.io/claimed-at"]; print(json.loads(a).get(sys.argv[1],""))' "$1"; }
[ -n "$(claimed_at kept.rel.io)" ] && [ -n "$(claimed_at gone.rel.io)" ] &&
	ok "tg-claim-rel.io records when kept.rel.io and gone.rel.io were claimed (tenantguard.io/claimed-at)" ||
	bad "no claimed-at times in tg-claim-rel.io"
v0=$(rv)
allowed "$work/k1.json" 3 && [ "$(rv)" = "$v0" ] &&
	ok "re-claiming kept.rel.io, which its live Ingress now holds, writes nothing" ||
	bad "re-claim of kept.rel.io: resourceVersion $v0 → $(rv)"
apireq() { metric tenantguard_apiserver_requests_total 3; }
r0=$(apireq)
for _ in $(seq 20); do review "$work/k1.json" 3 >/dev/null; done
r1=$(apireq)
[ -n "$r0" ] && [ $((r1 - r0)) -lt 10 ] &&
	ok "20 more re-claims of kept.rel.io cost $((r1 - r0)) apiserver requests (the live index holds it; before: one GET each)" ||
	bad "20 re-claims of a live-held host: apiserver requests $r0 → $r1"
sleep 1.1
at0=$(claimed_at gone.rel.io)
allowed "$work/g1.json" 3 && [ "$(claimed_at gone.rel.io)" -gt "$at0" ] &&
	ok "re-claiming gone.rel.io, which no live object holds, refreshes its claimed-at time" ||
	bad "re-claim of gone.rel.io: claimed-at $at0 → $(claimed_at gone.rel.io)"
released() { ! grep -q '^gone\.rel\.io=' <<<"$(claims rel.io)"; }
within "gone.rel.io released from tg-claim-rel.io after its re-claim (grace ${grace} s, rounds every ${interval} s)" \
    $(( (grace + interval + 2) * 1000 )) released || claims rel.io | sed 's/^/     /'
[ "$within_ms" -ge 1000 ] && ok "and not within the first second ($within_ms ms)" || bad "gone.rel.io released after $within_ms ms, before its grace period"
grep -q "claim of host 'gone.rel.io' released" "$work/serve3.log" && ok "the release is logged" || bad "release not logged"
review "$work/g2.json" 3 >"$work/g2.out"
is_allowed "$work/g2.out" && grep -qx 'gone.rel.io=tenant/tenant2' <<<"$(claims rel.io)" &&
	ok "tenant2 may now claim gone.rel.io, and holds it in tg-claim-rel.io" ||
	{ bad "tenant2's gone.rel.io after the release:"; sed 's/^/     /' "$work/g2.out"; claims rel.io | sed 's/^/     /'; }
grep -qx 'kept.rel.io=tenant/tenant1' <<<"$(claims rel.io)" &&
	ok "kept.rel.io, backed by a live Ingress, is not released" || { bad "kept.rel.io released:"; claims rel.io | sed 's/^/     /'; }
collides "$work/k2.json" 3 &&
	ok "tenant2's kept.rel.io is still denied [host-collision]" || bad "tenant2's kept.rel.io not denied"
serve_stop 3 "replica 3 (with its reaper)"

sanitizers_clean "all three replicas" "$work"/serve*.log
[ "$fail" = 0 ] || for r in 1 2 3; do echo "     replica $r log:"; tail -n 15 "$work/serve$r.log" | sed 's/^/     /'; done
summary
[ "$fail" = 0 ]
