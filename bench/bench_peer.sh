#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench_peer.sh BUILD_DIR: tenantguard against the peer an operator would pick instead, OPA
# (built from the Go module proxy by bench/build_opa.sh, cached by version), in one run on
# this machine. For each claim count N (0, 10k, 100k):
#   - state: N Ingresses in namespaces team-0..99, one first-come host each (svc<i>.app<i/50>.
#     domain<i/1000>.com, the layout of bench_review.c), as the v1 List
#     `tenantguard serve --state` reads; OPA gets the same claims as data.tg for the indexed
#     Rego policy bench/peer/tenantguard.rego (host ownership and collision only, no scan),
#     served as its default decision (POST / with the AdmissionReview as input);
#   - no scan: `opa eval --profile` of the two reviews below, the total evaluation count of
#     every expression (num_eval), which stays the same whatever N;
#   - cold start: from exec to the first correct verdict of the collision review (tenant1
#     asking for a host of the state: denied [host-collision]; allowed when N is 0), polled
#     every 5 ms, one server at a time; BENCH_PEER_STARTS paired starts, the order swapped
#     every pair (ABBA), each server's median counts (a single start on this machine varies
#     by up to 2x from one second to the next, for either server);
#   - both servers' verdicts on the allowed review (tenant1's own system host, with TLS) and on
#     the collision review, before and after the load;
#   - load: wrk, TLS keep-alive, the allowed review; per round tenantguard and OPA back to
#     back, the order swapped every round (ABBA); each server's best round counts;
#   - RSS (VmRSS) after the load.
# The two loads are not the same work: tenantguard reads the Kubernetes List and reduces it to
# its index itself; OPA's indexed policy needs the claims already distilled into a map (what a
# sync process would have to produce), a file about a sixth of the List's size. Both sizes
# are printed.
# Ratios are tenantguard / OPA: rps above 1 and p99, RSS and cold start below 1 favour
# tenantguard. Both servers share the 2 cores with wrk (and with anything else running):
# absolute figures are noisy, the same-run ratios much less so.
# Everything is on loopback and bounded in time; no process is left behind.
#
# Knobs (environment): BENCH_PEER_CLAIMS ("0 10000 100000"), BENCH_PEER_ROUNDS (2),
# BENCH_PEER_STARTS (5),
# BENCH_THREADS (wrk -t, 2), BENCH_CONNS (wrk -c, 32), BENCH_SECS (per measured run, 10),
# BENCH_WARMUP_SECS (per server, 2), BENCH_PEER_TG_ENV (tenantguard's environment: the image's
# GLIBC_TUNABLES).
set -euo pipefail

BUILD_DIR=${1:?usage: bench/bench_peer.sh BUILD_DIR}
BIN=$BUILD_DIR/tenantguard
HERE=$(cd "$(dirname "$0")" && pwd)
LUA=$HERE/review_post.lua
PEER=$HERE/peer.py
REGO=$HERE/peer/tenantguard.rego
CLAIMS=${BENCH_PEER_CLAIMS:-0 10000 100000}
ROUNDS=${BENCH_PEER_ROUNDS:-2}
STARTS=${BENCH_PEER_STARTS:-5}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNS:-32}
SECS=${BENCH_SECS:-10}
WARMUP=${BENCH_WARMUP_SECS:-2}
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

die() { echo "bench_peer: $*" >&2; exit 1; }
[ -x "$BIN" ] || die "$BIN not built (make bench builds it)"
for tool in wrk python3; do command -v "$tool" >/dev/null 2>&1 || die "$tool not found"; done
OPA=$("$HERE/build_opa.sh" | sed -n 's/^TENANTGUARD_OPA=//p')
[ -x "$OPA" ] || die "no OPA binary (bench/build_opa.sh)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tenantguard-bench-peer.XXXXXX")
PIDS=""

cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	for p in $PIDS; do stop_pid "$p"; done
	[ "$rc" = 0 ] || bench_show_logs 10 "$TMP"/*.log
	rm -rf "$TMP"
	exit "$rc"
}
bench_traps

"$BIN" certs --out "$TMP/certs" >/dev/null 2>"$TMP/certs.log" ||
	die "tenantguard certs failed: $(cat "$TMP/certs.log")"
CRT=$TMP/certs/tls.crt KEY=$TMP/certs/tls.key CA=$TMP/certs/ca.crt

# Total num_eval of `opa eval --profile` for one review against data DIR/data.json.
evals() {
	"$OPA" eval --profile --profile-limit 100000 --format json -d "$REGO" -d "$1/data.json" \
		-i "$1/$2.json" data.tg.review >"$1/profile.json" 2>"$1/profile.err" ||
		die "opa eval failed: $(cat "$1/profile.err")"
	python3 -c 'import json, sys
print(sum(e.get("num_eval", 0) for e in json.load(open(sys.argv[1])).get("profile", [])))' "$1/profile.json"
}

# start NAME URL DIR WANT CMD...: runs CMD, waits for the collision review's WANT verdict;
# sets START_PID and START_MS.
start() {
	local name=$1 url=$2 dir=$3 want=$4
	shift 4
	python3 "$PEER" start "$TMP/$name" "$url" "$CA" "$dir/collide.json" "$want" -- "$@" ||
		{ [ -s "$TMP/$name.pid" ] && PIDS="$PIDS $(cat "$TMP/$name.pid")"; die "$name did not start"; }
	START_PID=$(cat "$TMP/$name.pid")
	PIDS="$PIDS $START_PID"
	START_MS=$(cat "$TMP/$name.ms")
}

# median MS...: the median of the numbers given
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# check NAME URL DIR WANT_COLLIDE WHEN: both reviews get the expected verdicts; prints them.
check() {
	local a c
	a=$(python3 "$PEER" verdict "$2" "$CA" "$3/allow.json") || die "$1: $a"
	c=$(python3 "$PEER" verdict "$2" "$CA" "$3/collide.json") || die "$1: $c"
	[ "$a" = allow ] || die "$1 $5 the load: the allowed review got $a"
	[ "$c" = "$4" ] || die "$1 $5 the load: the collision review got $c, not $4"
	echo "allow=$a collide=$c"
}

# run_wrk URL OUT SECS: one bounded wrk run with the allowed review; fails on any error answer.
run_wrk() {
	timeout -k 5 $(($3 + 30)) wrk --latency -t"$THREADS" -c"$CONNS" -d"$3"s --timeout 5s \
		-s "$LUA" "$1" -- "$DIR/allow.json" >"$2" 2>&1 || die "wrk against $1 failed: $(cat "$2")"
	! grep -q 'Non-2xx or 3xx responses' "$2" || die "$1 answered errors under load: $(cat "$2")"
}
rps() { awk '/^Requests\/sec:/ { print $2 }' "$1"; }
# wrk's 99% latency in ms
p99() { awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
	print (u == "us" ? v / 1000 : u == "s" ? v * 1000 : v) }' "$1"; }
mb() { awk -v b="$(wc -c <"$1")" 'BEGIN { printf "%.1f", b / 1048576 }'; }
rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
# best NAME: the file of NAME's round with the most requests/sec
best() {
	local f b="" bv=0 v
	for f in "$TMP/$1".round*.out; do
		v=$(rps "$f")
		awk -v a="$v" -v b="$bv" 'BEGIN { exit !(a > b) }' && { b=$f; bv=$v; }
	done
	echo "$b"
}

# tenantguard runs with the environment its image sets (the Dockerfile's ENV GLIBC_TUNABLES:
# malloc's heap in transparent huge pages); BENCH_PEER_TG_ENV overrides it (e.g. "X=" for none).
TG_ENV=${BENCH_PEER_TG_ENV:-$(sed -n 's/^ENV \(GLIBC_TUNABLES=.*\)/\1/p' "$HERE/../Dockerfile")}
[ -n "$TG_ENV" ] || die "no ENV GLIBC_TUNABLES in the Dockerfile"
echo "bench: peer=opa opa=$("$OPA" version | awk '/^Version:/ { print $2 }') wrk=-t$THREADS,-c$CONNS,-d${SECS}s" \
	"rounds=$ROUNDS tenantguard_env=$TG_ENV # tenantguard / OPA in one run, loopback TLS keep-alive, 2 cores shared with wrk"
for N in $CLAIMS; do
	DIR=$TMP/n$N
	mkdir -p "$DIR"
	python3 "$PEER" gen "$N" "$DIR"
	WANT=deny:host-collision
	[ "$N" -gt 0 ] || WANT=allow
	EV_ALLOW=$(evals "$DIR" allow) EV_COLLIDE=$(evals "$DIR" collide)

	# start_tg / start_opa: one server on a fresh port (START_PID, START_MS, *_URL).
	start_tg() {
		TG_PORT=$(free_port)
		TG_URL=https://127.0.0.1:$TG_PORT/validate
		start "tg$N" "$TG_URL" "$DIR" "${WANT%%:*}" env "$TG_ENV" "$BIN" serve \
			--listen "127.0.0.1:$TG_PORT" --tls-cert "$CRT" --tls-key "$KEY" --state "$DIR/state.json"
		TG_PID=$START_PID
		TG_STARTS="$TG_STARTS $START_MS"
	}
	start_opa() {
		OPA_PORT=$(free_port)
		OPA_URL=https://127.0.0.1:$OPA_PORT/
		start "opa$N" "$OPA_URL" "$DIR" "${WANT%%:*}" "$OPA" run --server \
			--addr "127.0.0.1:$OPA_PORT" --tls-cert-file "$CRT" --tls-private-key-file "$KEY" \
			--log-level error --skip-version-check --set default_decision=tg/review \
			"$REGO" "$DIR/data.json"
		OPA_PID=$START_PID
		OPA_STARTS="$OPA_STARTS $START_MS"
	}
	# Paired starts, ABBA; the servers of the last pair stay up for the load.
	TG_STARTS="" OPA_STARTS=""
	for k in $(seq "$STARTS"); do
		if [ $((k % 2)) = 1 ]; then start_tg; start_opa; else start_opa; start_tg; fi
		[ "$k" = "$STARTS" ] && break
		stop_pid "$TG_PID"
		stop_pid "$OPA_PID"
	done
	# shellcheck disable=SC2086 # the lists are numbers
	TG_COLD=$(median $TG_STARTS) OPA_COLD=$(median $OPA_STARTS)
	TG_BEFORE=$(check tenantguard "$TG_URL" "$DIR" "$WANT" before)
	OPA_BEFORE=$(check opa "$OPA_URL" "$DIR" "$WANT" before)

	if [ "$WARMUP" -gt 0 ]; then
		run_wrk "$TG_URL" "$TMP/warmup.out" "$WARMUP"
		run_wrk "$OPA_URL" "$TMP/warmup.out" "$WARMUP"
	fi
	rm -f "$TMP"/tg.round*.out "$TMP"/opa.round*.out
	for r in $(seq "$ROUNDS"); do
		if [ $((r % 2)) = 1 ]; then
			run_wrk "$TG_URL" "$TMP/tg.round$r.out" "$SECS"
			run_wrk "$OPA_URL" "$TMP/opa.round$r.out" "$SECS"
		else
			run_wrk "$OPA_URL" "$TMP/opa.round$r.out" "$SECS"
			run_wrk "$TG_URL" "$TMP/tg.round$r.out" "$SECS"
		fi
	done
	TG_AFTER=$(check tenantguard "$TG_URL" "$DIR" "$WANT" after)
	OPA_AFTER=$(check opa "$OPA_URL" "$DIR" "$WANT" after)
	TG_RSS=$(rss_mb "$TG_PID") OPA_RSS=$(rss_mb "$OPA_PID")
	stop_pid "$TG_PID"
	stop_pid "$OPA_PID"

	TB=$(best tg) OB=$(best opa)
	TG_RPS=$(rps "$TB") OPA_RPS=$(rps "$OB") TG_P99=$(p99 "$TB") OPA_P99=$(p99 "$OB")
	echo "bench: peer=opa claims=$N $(awk -v tr="$TG_RPS" -v or="$OPA_RPS" -v tp="$TG_P99" \
		-v op="$OPA_P99" -v tm="$TG_RSS" -v om="$OPA_RSS" -v tc="$TG_COLD" -v oc="$OPA_COLD" \
		'BEGIN { printf "rps_ratio=%.2f p99_ratio=%.2f rss_ratio=%.2f cold_start_ratio=%.2f",
			tr / or, tp / op, tm / om, tc / oc }')" \
		"tenantguard_rps=$TG_RPS opa_rps=$OPA_RPS tenantguard_p99_ms=$TG_P99 opa_p99_ms=$OPA_P99" \
		"tenantguard_rss_mb=$TG_RSS opa_rss_mb=$OPA_RSS tenantguard_cold_start_ms=$TG_COLD" \
		"opa_cold_start_ms=$OPA_COLD tenantguard_state_mb=$(mb "$DIR/state.json")" \
		"opa_data_mb=$(mb "$DIR/data.json")"
	echo "bench: peer=opa claims=$N cold_starts_ms tenantguard:$(printf '%s' "${TG_STARTS# }" | tr ' ' ',')" \
		"opa:$(printf '%s' "${OPA_STARTS# }" | tr ' ' ',') # each server's median is the figure above"
	echo "bench: peer=opa claims=$N verdicts tenantguard before: $TG_BEFORE after: $TG_AFTER;" \
		"opa before: $OPA_BEFORE after: $OPA_AFTER; opa_evals allow=$EV_ALLOW collide=$EV_COLLIDE" \
		"# opa eval --profile num_eval: flat in N means no scan"
	rm -rf "$DIR"
done
