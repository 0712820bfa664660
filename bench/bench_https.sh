#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench_https.sh BUILD_DIR: HTTPS keep-alive throughput of `tenantguard serve` against nginx
# returning the same response bytes statically over TLS, on this machine, in the same run
# (DESIGN.md §7: tenantguard >= 0.7x nginx on 2 cores). Run by `make bench`, which installs
# nginx and wrk; this script installs nothing.
#
#   - one certificate (`tenantguard certs`, valid for 127.0.0.1) serves both servers;
#   - tenantguard: `serve --listen 127.0.0.1:P1` with its default 2 threads, built-in config;
#   - nginx: 2 workers on 127.0.0.1:P2, TLS 1.2 + 1.3, keep-alive, access_log off,
#     `return 200 '<exactly the body tenantguard answered>'` as application/json;
#   - wrk (keep-alive) POSTs a typical tenant Ingress AdmissionReview to /validate:
#     nginx, then tenantguard, then nginx again; the better nginx run counts.
# Everything is on loopback and bounded in time; no process is left behind.
#
# Knobs (environment): BENCH_THREADS (wrk -t, 2), BENCH_CONNS (wrk -c, 32),
# BENCH_SECS (seconds per measured run, 10), BENCH_WARMUP_SECS (per server, 2).
set -euo pipefail

BUILD_DIR=${1:?usage: bench/bench_https.sh BUILD_DIR}
BIN=$BUILD_DIR/tenantguard
HERE=$(cd "$(dirname "$0")" && pwd)
LUA=$HERE/review_post.lua
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNS:-32}
SECS=${BENCH_SECS:-10}
WARMUP=${BENCH_WARMUP_SECS:-2}
BUDGET=0.70
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

die() { echo "bench_https: $*" >&2; exit 1; }

[ -x "$BIN" ] || die "$BIN not built (make bench builds it)"
for tool in nginx wrk curl python3; do
	command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] ||
		die "$tool not found: make bench installs it (BENCH_PKGS)"
done
NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tenantguard-bench-https.XXXXXX")
TG_PID=""
NGINX_PID=""

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_pid "$TG_PID"
	# nginx's master stops its workers on TERM; any worker still there is killed by pid.
	local workers=""
	[ -n "$NGINX_PID" ] && workers=$(pgrep -P "$NGINX_PID" 2>/dev/null || true)
	stop_pid "$NGINX_PID"
	for w in $workers; do   # only while that pid is still an nginx process
		[ "$(ps -o comm= -p "$w" 2>/dev/null)" = nginx ] && kill -KILL "$w" 2>/dev/null || true
	done
	[ "$rc" = 0 ] || bench_show_logs 20 "$TMP"/tenantguard.log "$TMP"/nginx/error.log
	rm -rf "$TMP"
	exit "$rc"
}
bench_traps

# A typical tenant Ingress review: tenant1 routes its own system subdomain, with TLS (allowed).
cat >"$TMP/review.json" <<'EOF'
{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002","kind":{"group":"networking.k8s.io","version":"v1","kind":"Ingress"},"resource":{"group":"networking.k8s.io","version":"v1","resource":"ingresses"},"requestKind":{"group":"networking.k8s.io","version":"v1","kind":"Ingress"},"requestResource":{"group":"networking.k8s.io","version":"v1","resource":"ingresses"},"name":"tenant1-api-ingress","namespace":"tenant1-gateway","operation":"CREATE","userInfo":{"username":"alice","uid":"1001","groups":["tenant1-admins","system:authenticated"]},"object":{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"tenant1-api-ingress","namespace":"tenant1-gateway","labels":{"app":"api"},"annotations":{"higress.io/destination":"api.tenant1-gateway.svc.cluster.local:80"}},"spec":{"ingressClassName":"higress","tls":[{"hosts":["api.tenant1.aigw.example.com"],"secretName":"api-tenant1-tls"}],"rules":[{"host":"api.tenant1.aigw.example.com","http":{"paths":[{"path":"/","pathType":"Prefix","backend":{"service":{"name":"api","port":{"number":80}}}}]}}]}},"oldObject":null,"dryRun":false,"options":{"apiVersion":"meta.k8s.io/v1","kind":"CreateOptions"}}}
EOF
# heredoc adds a trailing newline; send the document without it
printf '%s' "$(cat "$TMP/review.json")" >"$TMP/review.body"

"$BIN" certs --out "$TMP/certs" >/dev/null 2>"$TMP/certs.log" ||
	die "tenantguard certs failed: $(cat "$TMP/certs.log")"
CRT=$TMP/certs/tls.crt KEY=$TMP/certs/tls.key CA=$TMP/certs/ca.crt

# POST the review once; prints the body, fails unless HTTP 200.
post_once() {
	local port=$1 out=$2 code
	code=$(curl -sS --max-time 10 --cacert "$CA" -o "$out" -w '%{http_code}' \
		-H 'Content-Type: application/json' --data-binary @"$TMP/review.body" \
		"https://127.0.0.1:$port/validate") || return 1
	[ "$code" = 200 ]
}

wait_ready() {   # port pid name
	local i
	for i in $(seq 150); do
		kill -0 "$2" 2>/dev/null || die "$3 exited during startup"
		post_once "$1" "$TMP/ready.out" 2>/dev/null && return 0
		sleep 0.1
	done
	die "$3 not answering on 127.0.0.1:$1 after 15 s"
}

# ---- tenantguard ----
TG_PORT=$(free_port)
"$BIN" serve --listen "127.0.0.1:$TG_PORT" --tls-cert "$CRT" --tls-key "$KEY" \
	</dev/null >/dev/null 2>"$TMP/tenantguard.log" &
TG_PID=$!
wait_ready "$TG_PORT" "$TG_PID" tenantguard
post_once "$TG_PORT" "$TMP/response.body" || die "tenantguard: POST /validate failed"
grep -q '"allowed":true' "$TMP/response.body" ||
	die "tenantguard did not allow the benchmark review: $(cat "$TMP/response.body")"
BODY_BYTES=$(wc -c <"$TMP/response.body")

# ---- nginx: the same bytes, statically ----
# nginx's `return` text is a single-quoted config string with variables: escape \ and ', and
# spell $ through a variable that holds a literal dollar sign.
NGINX_BODY=$(python3 - "$TMP/response.body" <<'EOF'
import sys
s = open(sys.argv[1], "rb").read().decode("utf-8")
print(s.replace("\\", "\\\\").replace("'", "\\'").replace("$", "${dollar}"), end="")
EOF
)
NGINX_PORT=$(free_port)
mkdir -p "$TMP/nginx/logs"
cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/client_body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    keepalive_timeout 65s;
    keepalive_requests 10000000;
    geo \$dollar { default "\$"; }
    server {
        listen 127.0.0.1:$NGINX_PORT ssl;
        ssl_certificate $CRT;
        ssl_certificate_key $KEY;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {
            default_type application/json;
            return 200 '$NGINX_BODY';
        }
    }
}
EOF
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" \
	</dev/null >/dev/null 2>>"$TMP/nginx/error.log" &
NGINX_PID=$!
wait_ready "$NGINX_PORT" "$NGINX_PID" nginx
post_once "$NGINX_PORT" "$TMP/nginx.body" || die "nginx: POST /validate failed"
cmp -s "$TMP/nginx.body" "$TMP/response.body" || die "nginx does not return tenantguard's bytes"

# ---- wrk ----
# run_wrk PORT SECS OUT [CONNS]: one bounded wrk run; fails on any non-2xx answer.
run_wrk() {
	timeout -k 5 $(($2 + 30)) wrk --latency -t"$THREADS" -c"${4:-$CONNS}" -d"$2"s --timeout 5s \
		-s "$LUA" "https://127.0.0.1:$1/validate" -- "$TMP/review.body" >"$3" 2>&1 ||
		die "wrk against port $1 failed: $(cat "$3")"
	if grep -q 'Non-2xx or 3xx responses' "$3"; then
		die "port $1 answered errors under load: $(cat "$3")"
	fi
}
rps() { awk '/^Requests\/sec:/ { print $2 }' "$1"; }
pct() { awk -v p="$2%" '$1 == p { print $2 }' "$1"; }
errs() { grep -E '^ *Socket errors:' "$1" | sed 's/^ *Socket errors: //; s/, /,/g; s/ /=/g' || true; }

if [ "$WARMUP" -gt 0 ]; then
	for port in "$NGINX_PORT" "$TG_PORT"; do   # warm-up, not reported
		run_wrk "$port" "$WARMUP" "$TMP/warmup.out"
	done
fi
run_wrk "$NGINX_PORT" "$SECS" "$TMP/nginx1.out"
run_wrk "$TG_PORT" "$SECS" "$TMP/tg.out"
run_wrk "$NGINX_PORT" "$SECS" "$TMP/nginx2.out"

N1=$(rps "$TMP/nginx1.out") N2=$(rps "$TMP/nginx2.out") TG=$(rps "$TMP/tg.out")
[ -n "$N1" ] && [ -n "$N2" ] && [ -n "$TG" ] || die "could not read wrk's Requests/sec"
NBEST=$TMP/nginx1.out
awk -v a="$N1" -v b="$N2" 'BEGIN { exit !(b > a) }' && NBEST=$TMP/nginx2.out
NX=$(rps "$NBEST")
read -r RATIO OK < <(awk -v t="$TG" -v n="$NX" -v b="$BUDGET" \
	'BEGIN { r = t / n; printf "%.2f %s\n", r, (r >= b ? "yes" : "no") }')

for f in "$TMP/nginx1.out" "$TMP/tg.out" "$TMP/nginx2.out"; do
	e=$(errs "$f")
	[ -z "$e" ] || echo "bench: https warning: $(basename "$f" .out) socket errors $e"
done
# System calls per request, as `strace -c` counts them on every thread of the server (and of
# nginx's workers) during a short wrk run of its own: strace slows the server down many times,
# so this run's throughput means nothing; the calls per request do.
# syscalls OUT PORT PID...: calls per request of those processes' threads under a 3 s wrk run
# (OUT.strace, OUT.wrk kept for top_calls).
syscalls() {
	local out=$1 port=$2 p t args=() spid
	shift 2
	for p in "$@"; do
		for t in /proc/"$p"/task/*; do args+=(-p "${t##*/}"); done
	done
	strace -c -f -o "$out.strace" "${args[@]}" 2>/dev/null &
	spid=$!
	sleep 1   # attached
	run_wrk "$port" 3 "$out.wrk" 4
	kill -INT "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
	top_calls "$out" 1000 | awk -F'[:,]' '{ for (i = 2; i <= NF; i += 2) s += $i } END { printf "%.2f", s }'
}
# top_calls OUT N: the N most frequent calls per request, as name:calls,name:calls...
# (strace -c lines: % time, seconds, usecs/call, calls, [errors,] syscall)
top_calls() {
	awk -v n="$(awk '/requests in/ { print $1 }' "$1.wrk")" '
		$1 ~ /^[0-9.]+$/ && $NF ~ /^[a-z_0-9]+$/ && $NF != "total" { printf "%s:%.2f\n", $NF, $4 / n }' \
		"$1.strace" | sort -t: -k2 -rn | head -n "$2" | paste -sd, -
}
if command -v strace >/dev/null 2>&1; then
	TG_SC=$(syscalls "$TMP/tg.sc" "$TG_PORT" "$TG_PID")
	NX_SC=$(syscalls "$TMP/nginx.sc" "$NGINX_PORT" $(pgrep -P "$NGINX_PID"))
	echo "bench: https syscalls_per_request tenantguard=$TG_SC nginx=$NX_SC" \
		"tenantguard_top=$(top_calls "$TMP/tg.sc" 4) nginx_top=$(top_calls "$TMP/nginx.sc" 4)" \
		"# strace -c -f on every server thread, wrk -c4 for 3 s"
fi
echo "bench: https body_bytes=$BODY_BYTES request_bytes=$(wc -c <"$TMP/review.body")" \
	"wrk=-t$THREADS,-c$CONNS,-d${SECS}s nginx_runs=$N1,$N2 # loopback, TLS keep-alive;" \
	"the 2 cores are shared by wrk and the server under test"
echo "bench: https nginx_rps=$NX tenantguard_rps=$TG ratio=$RATIO budget=$BUDGET" \
	"within_budget=$OK nginx_p50=$(pct "$NBEST" 50) nginx_p99=$(pct "$NBEST" 99)" \
	"tenantguard_p50=$(pct "$TMP/tg.out" 50) tenantguard_p99=$(pct "$TMP/tg.out" 99)" \
	"# 2 cores shared by client (wrk -t$THREADS) and server"
