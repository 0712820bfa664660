#!/usr/bin/env bash
# Leader election on a Lease (webhook/controller/leader.c) and server-side apply (kube_apply) against a
# real kube-apiserver: candidates are BUILD_DIR/tests/leader_probe processes, killed and
# stopped on purpose; apply goes through BUILD_DIR/tests/kube_probe. Brings its own cluster up
# and tears it down. Last line: "N passed, N failed".
#   usage: tests/e2e/run_leader.sh BUILD_DIR
set -uo pipefail
e2e=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build/asan}" && pwd)
probe=$build/tests/leader_probe
kprobe=$build/tests/kube_probe
. "$e2e/lib.sh"
for p in "$probe" "$kprobe"; do
	[ -x "$p" ] || die "no $p (make $build/tests/$(basename "$p"))"
done

e2e_cluster_up leader
ns=tenantguard-system
lease=tenantguard-leader
LEASE_S=3 RENEW_S=2 RETRY_MS=500
admin create namespace "$ns" >/dev/null || bad "create namespace $ns"

declare -A pid
# start ID: a candidate in the background, its stdout in $work/ID.out, its log in ID.err.
start() {
	"$probe" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$ns" --name "$lease" --identity "$1" \
		--lease-seconds "$LEASE_S" --renew-seconds "$RENEW_S" --retry-ms "$RETRY_MS" \
		>"$work/$1.out" 2>"$work/$1.err" &
	pid[$1]=$!
	echo "${pid[$1]} $(awk '{print $22}' "/proc/${pid[$1]}/stat") leader_probe-$1" >>"$TENANTGUARD_CLUSTER_PIDS"
}
leading_count() { grep -c '^leading ' "$work/$1.out"; }
# mark ID...: from now on wait_leading looks only at "leading" lines the IDs print later.
declare -A marked
mark() { local id; for id in "$@"; do marked[$id]=$(leading_count "$id"); done; }
# wait_leading MS ID...: the first of the IDs to print a new "leading" line within MS ms, and
# when it did (its t=): sets $lead_id and $t_lead.
wait_leading() {
	local until=$(( $(ms_now) + $1 )) id; shift
	lead_id='' t_lead=''
	while [ "$(ms_now)" -lt "$until" ]; do
		for id in "$@"; do
			if [ "$(leading_count "$id")" -gt "${marked[$id]:-0}" ]; then
				t_lead=$(sed -n 's/^leading .* t=//p' "$work/$id.out" | tail -n 1)
				lead_id=$id; return 0
			fi
		done
		sleep 0.05
	done
	return 1
}
lease_field() { admin -n "$ns" get lease "$lease" -o "jsonpath={.spec.$1}"; }
dump() { for f in "$@"; do echo "     --- $f"; sed 's/^/     /' "$work/$f" | tail -n 20; done; }

# --- two candidates: exactly one leads -----------------------------------------------------
start a; start b
wait_leading 10000 a b || die "no candidate leads within 10 s" "$work"/{a,b}.{out,err}
first=$lead_id other=$([ "$lead_id" = a ] && echo b || echo a)
sleep $(( 2 * LEASE_S ))   # two lease periods: the follower must not take over meanwhile
if [ "$(leading_count "$first")" = 1 ] && [ "$(leading_count "$other")" = 0 ] &&
   ! grep -q '^following' "$work/$first.out"; then
	ok "two candidates: $first leads, $other follows, and it stays so for $((2 * LEASE_S)) s"
else
	bad "two candidates:"; dump a.out b.out
fi
holder=$(lease_field holderIdentity)
[ "$holder" = "$first" ] && ok "the Lease's spec.holderIdentity is the leader, $first" ||
	bad "spec.holderIdentity '$holder', leader $first"
admin -n "$ns" get lease "$lease" -o json >"$work/lease1.json"
if python3 - "$work/lease1.json" "$LEASE_S" <<'PY'
import json, re, sys
s = json.load(open(sys.argv[1]))["spec"]
mt = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
assert s["leaseDurationSeconds"] == int(sys.argv[2]), s
assert mt.match(s["renewTime"]) and mt.match(s["acquireTime"]), s
assert s.get("leaseTransitions", 0) == 0, s
PY
then ok "the Lease: leaseDurationSeconds $LEASE_S, acquireTime/renewTime as RFC 3339 with microseconds, leaseTransitions 0"
else bad "the Lease's spec:"; sed 's/^/     /' "$work/lease1.json"; fi
r1=$(lease_field renewTime); sleep 1; r2=$(lease_field renewTime)
[ -n "$r1" ] && [ "$r1" != "$r2" ] && ok "the leader renews (renewTime $r1 -> $r2)" ||
	bad "renewTime did not move: '$r1' '$r2'"

# --- SIGKILL the leader: the other takes over once the lease expired -----------------------
t_kill=$(ms_now)
kill -KILL "${pid[$first]}"; wait "${pid[$first]}" 2>/dev/null
echo "died $first t=$t_kill" >"$work/$first.death"
limit=$(( LEASE_S * 1000 + RETRY_MS + 1000 ))
if wait_leading $(( limit + 3000 )) "$other"; then
	fail_ms=$(( t_lead - t_kill ))
	if [ "$fail_ms" -le "$limit" ] && [ "$fail_ms" -ge $(( LEASE_S * 1000 - RETRY_MS - 500 )) ]; then
		ok "leader $first killed (SIGKILL): $other leads after $fail_ms ms (lease ${LEASE_S} s; limit $limit ms; not before the lease expired)"
	else
		bad "failover after SIGKILL took $fail_ms ms (want $(( LEASE_S * 1000 - RETRY_MS - 500 ))..$limit)"
	fi
else
	bad "after SIGKILL of $first, $other does not lead"; dump "$other.out" "$other.err"
fi
echo "failover after SIGKILL: ${fail_ms:-?} ms"
holder=$(lease_field holderIdentity); trans=$(lease_field leaseTransitions)
[ "$holder" = "$other" ] && [ "$trans" = 1 ] && ok "the Lease now: holder $other, leaseTransitions 1" ||
	bad "after the takeover: holder '$holder', leaseTransitions '$trans'"

# --- a third candidate; SIGTERM the leader: it releases, the third leads at once -----------
start c
for _ in $(seq 100); do grep -q "is held by $other" "$work/c.err" && break; sleep 0.05; done
sleep 1
[ "$(leading_count c)" = 0 ] && ok "a third candidate, c, follows while $other leads" ||
	bad "c leads while $other does"
t_term=$(ms_now)
kill -TERM "${pid[$other]}"
wait "${pid[$other]}"; rc=$?
t_exit=$(ms_now)
if [ "$rc" = 0 ] && [ "$(tail -n 1 "$work/$other.out" | cut -d' ' -f1-2)" = "following $other" ] &&
   grep -q "leader: released lease $ns/$lease as $other" "$work/$other.err"; then
	ok "SIGTERM: $other says following, releases the Lease and exits 0 in $(( t_exit - t_term )) ms"
else
	bad "SIGTERM of $other (exit $rc):"; dump "$other.out" "$other.err"
fi
limit=$(( RETRY_MS * 12 / 10 + 1000 ))
if wait_leading $(( LEASE_S * 1000 + 3000 )) c; then
	rel_ms=$(( t_lead - t_term ))
	if [ "$rel_ms" -le "$limit" ]; then
		ok "after the release c leads in $rel_ms ms (limit $limit ms; the lease would have taken ${LEASE_S} s)"
	else
		bad "after the release c took $rel_ms ms to lead (limit $limit ms)"
	fi
else
	bad "after the release c does not lead"; dump c.out c.err
fi
echo "takeover after release: ${rel_ms:-?} ms"
holder=$(lease_field holderIdentity); trans=$(lease_field leaseTransitions)
[ "$holder" = c ] && [ "$trans" = 2 ] && ok "the Lease now: holder c, leaseTransitions 2" ||
	bad "after the release: holder '$holder', leaseTransitions '$trans'"

# --- the leader frozen (SIGSTOP) past its renew deadline --------------------------------------
start d
for _ in $(seq 100); do grep -q "is held by c" "$work/d.err" && break; sleep 0.05; done
t_stop=$(ms_now)
kill -STOP "${pid[c]}"
# Whatever it believed ends at its renew deadline, counted from before its last renewal.
echo "deadline c t=$(( t_stop + RENEW_S * 1000 ))" >"$work/c.death"
limit=$(( LEASE_S * 1000 + RETRY_MS * 12 / 10 + 1000 ))
if wait_leading $(( limit + 3000 )) d; then
	frz_ms=$(( t_lead - t_stop ))
	[ "$frz_ms" -le "$limit" ] && [ "$frz_ms" -ge $(( LEASE_S * 1000 - RETRY_MS - 500 )) ] &&
		ok "leader c frozen (SIGSTOP): d leads after $frz_ms ms (limit $limit ms; not before the lease expired)" ||
		bad "takeover from the frozen c took $frz_ms ms"
else
	bad "c frozen: d does not lead"; dump d.out d.err
fi
echo "failover after SIGSTOP: ${frz_ms:-?} ms"
t_cont=$(ms_now)
kill -CONT "${pid[c]}"
for _ in $(seq 60); do grep -q '^following c' "$work/c.out" && break; sleep 0.05; done
if grep -q '^following c' "$work/c.out" && grep -q 'leader: lost lease .* as c' "$work/c.err" &&
   [ "$(leading_count c)" = 1 ]; then
	t_f=$(sed -n 's/^following c t=//p' "$work/c.out")
	ok "c, resumed, says following $(( t_f - t_cont )) ms later: $(grep -o 'lost lease[^"]*' "$work/c.err" | head -n 1)"
else
	bad "c after SIGCONT:"; dump c.out c.err
fi
trans=$(lease_field leaseTransitions)
[ "$trans" = 3 ] && ok "leaseTransitions 3" || bad "leaseTransitions '$trans', wanted 3"

# --- someone else writes the Lease: the leader sees it and steps down at once --------------------
mark c d
t_int=$(ms_now)
admin -n "$ns" patch lease "$lease" --type merge -p '{"spec":{"holderIdentity":"intruder"}}' >/dev/null
for _ in $(seq 60); do grep -q '^following d' "$work/d.out" && break; sleep 0.05; done
if grep -q '^following d' "$work/d.out" && grep -q "lost lease $ns/$lease as d: now held by intruder" "$work/d.err"; then
	t_f=$(sed -n 's/^following d t=//p' "$work/d.out")
	ok "the Lease patched to holder intruder: d steps down $(( t_f - t_int )) ms later"
else
	bad "intruder:"; dump d.out d.err
fi
if wait_leading $(( LEASE_S * 1000 + 3000 )) c d && [ $(( t_lead - t_int )) -ge $(( LEASE_S * 1000 - 500 )) ]; then
	ok "the intruder never renews: $lead_id takes the Lease $(( t_lead - t_int )) ms after its write"
else
	bad "after the intruder (${lead_id:-nobody} at ${t_lead:-never}, intruder at $t_int):"; dump c.out d.out
fi

# --- stop the last ones: the Lease is left to no one -------------------------------------------
kill -TERM "${pid[c]}" "${pid[d]}"; wait "${pid[c]}"; rc=$?; wait "${pid[d]}"; rc=$((rc + $?))
holder=$(lease_field holderIdentity); dur=$(lease_field leaseDurationSeconds)
[ "$rc" = 0 ] && [ -z "$holder" ] && [ "$dur" = 1 ] &&
	ok "SIGTERM of c and d: exit 0; the Lease has no holder and leaseDurationSeconds 1" ||
	bad "SIGTERM of c and d: exit $rc, holder '$holder', leaseDurationSeconds '$dur'"

# --- never two leaders: order every transition and death by wall clock ---------------------
# A process stops leading when it says so, dies, or (frozen) reaches its renew deadline. (The
# intruder is left out: it broke the protocol on purpose, and d learnt of it only afterwards.)
cat "$work"/{a,b,c,d}.out "$work"/*.death 2>/dev/null |
	sed -E 's/^(\w+) (\S+) t=([0-9]+)$/\3 \1 \2/' | sort -n -s >"$work/timeline"
if awk '
	$2 == "leading" { if (n > 0) { print "at " $1 " " $3 " leads while " who " does"; bad = 1 }
	                  if (!lead[$3]) n++; who = $3; lead[$3] = 1 }
	($2 == "following" || $2 == "died" || $2 == "deadline") && lead[$3] { n--; delete lead[$3] }
	END { exit bad }' "$work/timeline" >"$work/overlap"; then
	ok "never two leaders: $(grep -c ' leading ' "$work/timeline") leading, $(grep -c -E ' (following|died|deadline) ' "$work/timeline") following/death/deadline lines in order, no overlap"
else
	bad "two leaders at once:"; sed 's/^/     /' "$work/overlap" "$work/timeline"
fi

# --- sanitizers ----------------------------------------------------------------------------
sanitizers_clean "the probes (ASan, UBSan, LeakSanitizer at exit)" "$work"/*.err

# --- server-side apply (kube_apply) --------------------------------------------------------
cm=/api/v1/namespaces/$ns/configmaps/applied
out=$work/apply.out
apply_cm() {   # VALUE [PATH_SUFFIX [KUBECONFIG]]
	printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"applied","namespace":"%s"},"data":{"a":"%s"}}' "$ns" "$1" >"$work/cm.json"
	"$kprobe" req "${3:-$KUBECONFIG_ADMIN}" APPLY "$cm${2:-}" "$work/cm.json" >"$out" 2>&1
}
apply_cm 1
rv1=$(sed -n 's/^status 201 rv=//p' "$out")
[ -n "$rv1" ] && ok "apply a ConfigMap that does not exist: 201 (rv $rv1)" || { bad "first apply:"; dump apply.out; }
apply_cm 1
[ "$(cat "$out")" = "status 200 rv=$rv1" ] && ok "apply it again unchanged: 200, resourceVersion unchanged" ||
	{ bad "second apply (want rv $rv1):"; dump apply.out; }
apply_cm 2
rv2=$(sed -n 's/^status 200 rv=//p' "$out")
val=$(admin -n "$ns" get cm applied -o jsonpath='{.data.a}')
[ -n "$rv2" ] && [ "$rv2" != "$rv1" ] && [ "$val" = 2 ] &&
	ok "apply a changed field: 200, resourceVersion $rv1 -> $rv2, data.a 2" ||
	{ bad "changing apply (rv '$rv2', data.a '$val'):"; dump apply.out; }
apply_cm 3 '?dryRun=All'
val=$(admin -n "$ns" get cm applied -o jsonpath='{.data.a}')
grep -q '^status 200 ' "$out" && [ "$val" = 2 ] &&
	ok "apply to a path with a query (?dryRun=All): our query is joined with '&'; nothing stored" ||
	{ bad "dry-run apply (data.a '$val'):"; dump apply.out; }
admin -n "$ns" get cm applied -o json --show-managed-fields >"$work/cm-got.json"
if python3 -c '
import json, sys
mf = json.load(open(sys.argv[1]))["metadata"]["managedFields"]
assert any(m["manager"] == "tenantguard" and m["operation"] == "Apply" for m in mf), mf
' "$work/cm-got.json"; then
	ok "metadata.managedFields: manager tenantguard, operation Apply"
else
	bad "managedFields:"; sed 's/^/     /' "$work/cm-got.json"
fi
apply_cm 4 "" "$KUBECONFIG_ALICE"
grep -qE '^status 403 .*forbidden \(403\): .*User "alice" cannot patch resource "configmaps"' "$out" &&
	ok "alice applies in $ns: 403 naming the verb: $(cut -c1-160 "$out")" ||
	{ bad "alice's apply:"; dump apply.out; }

summary
[ "$fail" -eq 0 ]
