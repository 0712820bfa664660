# lib.sh: what the e2e scripts share — outcome bookkeeping and the expect helpers.
# Sourced, not run. Each check prints "ok NAME" or "FAIL NAME: why"; summary prints the total.
pass=0 fail=0
# Sanitizer settings when a script runs alone (tests/run.sh sets the same for everything).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ok()  { echo "ok $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
summary() { echo "$pass passed, $fail failed"; }
_expect_out=$(mktemp)
trap 'rm -f "$_expect_out"' EXIT

# expect NAME allow|deny[:PATTERN] CMD...: allow wants exit 0; deny wants a failure whose
# output matches the extended regex PATTERN, case-insensitively (default: forbidden).
expect() {
	local name=$1 want=$2; shift 2
	"$@" >"$_expect_out" 2>&1; local rc=$?
	case $want in
	allow)
		if [ $rc = 0 ]; then ok "$name"; else bad "$name: exit $rc"; sed 's/^/     /' "$_expect_out"; fi ;;
	deny*)
		local pat=${want#deny}; pat=${pat#:}; pat=${pat:-forbidden}
		if [ $rc != 0 ] && grep -qiE -- "$pat" "$_expect_out"; then ok "$name"
		else bad "$name: exit $rc, wanted a failure matching /$pat/"; sed 's/^/     /' "$_expect_out"; fi ;;
	esac
}

# expect_not NAME PATTERN CMD...: the output of CMD (whatever its exit) must not match PATTERN.
expect_not() {
	local name=$1 pat=$2; shift 2
	"$@" >"$_expect_out" 2>&1
	if grep -qE -- "$pat" "$_expect_out"; then bad "$name: output matches /$pat/"; sed 's/^/     /' "$_expect_out"
	else ok "$name"; fi
}

# e2e_cluster_up NAME: builds the control plane (cached), starts a cluster in a new temp dir
# that is torn down when the script exits, whatever happens, and loads its exports
# (KUBECTL, KUBECONFIG_ADMIN/ALICE/BOB, TENANTGUARD_APISERVER, ...). Needs $e2e.
e2e_cluster_up() {
	local line exports
	line=$("$e2e/build.sh" | grep '^TENANTGUARD_K8S_BIN=') || { bad "build the control plane"; summary; exit 1; }
	export "${line?}"
	export TENANTGUARD_CLUSTER_DIR
	TENANTGUARD_CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tenantguard-$1.XXXXXX")
	trap 'rm -f "$_expect_out"; "$e2e/cluster.sh" down "$TENANTGUARD_CLUSTER_DIR" >/dev/null 2>&1' EXIT
	exports=$("$e2e/cluster.sh" up "$TENANTGUARD_CLUSTER_DIR") || { bad "cluster up"; summary; exit 1; }
	eval "$exports"
}

# kubectl as admin (system:masters), alice (edit in tenant1-gateway) and bob (edit in
# tenant2-gateway), with the cluster's own discovery cache (suites may run side by side).
kc() { "$KUBECTL" --request-timeout=20s --cache-dir "$TENANTGUARD_CLUSTER_DIR/kcache" --kubeconfig "$@"; }
admin() { kc "$KUBECONFIG_ADMIN" "$@"; }
alice() { kc "$KUBECONFIG_ALICE" "$@"; }
bob()   { kc "$KUBECONFIG_BOB" "$@"; }

# race_hosts N: the two hosts of race round N in $h1 and $h2: the same exact host, an exact
# host under a wildcard, or a wildcard over an exact host, in turn.
race_hosts() {
	h1="r$1.race.io" h2="r$1.race.io"
	case $(($1 % 3)) in
	1) h1="x.r$1.race.io"; h2="*.r$1.race.io" ;;
	2) h1="*.r$1.race.io"; h2="app.r$1.race.io" ;;
	esac
}

# tg_wait_ready PORT [TRIES]: polls https://127.0.0.1:PORT/readyz every 50 ms (default 200
# tries, 10 s) until it answers 200; returns non-zero if it never does.
tg_wait_ready() {
	local i
	for i in $(seq "${2:-200}"); do
		[ "$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$1/readyz")" = 200 ] && return 0
		sleep 0.05
	done
	return 1
}

# freeport: a free TCP port on loopback.
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# tg_replica N WORK [ARGS...]: a `tenantguard serve --kubeconfig` replica ($TG_KUBECONFIG, by
# default the admin's; the serving pair in WORK/certs; POD_NAME replica-N, which names it in
# Leases) on a free port: sets the indexed arrays port[N] and pid[N], appends to
# WORK/serveN.log, and is stopped at teardown. Needs $tg.
tg_replica() {
	local r=$1 w=$2; shift 2
	port[$r]=$(freeport)
	POD_NAME=replica-$r setsid "$tg" serve --listen "127.0.0.1:${port[$r]}" \
	    --tls-cert "$w/certs/tls.crt" --tls-key "$w/certs/tls.key" \
	    --kubeconfig "${TG_KUBECONFIG:-$KUBECONFIG_ADMIN}" "$@" </dev/null >>"$w/serve$r.log" 2>&1 &
	pid[$r]=$!
	echo "${pid[$r]}" >>"$TENANTGUARD_CLUSTER_PIDS"
}

# tg_balancer WORK PORT...: tools/tcplb.py on a free port ($lbport, pid $lbpid) in front of the replicas on
# PORT..., round-robin per connection (the apiserver keeps its connections alive, so each
# connection, not each review, is balanced), stats in WORK/lb.stats. Returns once it listens
# (it has written its stats): it is not probed with a connection, which would take the first
# turn of the round-robin from the apiserver.
tg_balancer() {
	local w=$1 p; shift
	local backends=()
	for p in "$@"; do backends+=(--backend "127.0.0.1:$p"); done
	lbport=$(freeport)
	setsid python3 "$e2e/tools/tcplb.py" --listen "127.0.0.1:$lbport" --mode rr \
	    --stats "$w/lb.stats" "${backends[@]}" </dev/null >"$w/lb.log" 2>&1 &
	lbpid=$!
	echo "$lbpid" >>"$TENANTGUARD_CLUSTER_PIDS"
	for _ in $(seq 100); do [ -s "$w/lb.stats" ] && return 0; sleep 0.05; done
	return 1
}

# tg_webhooks URL CABUNDLE OUT: manifests/webhooks.yaml as shipped, with its Service reference
# swapped for https://URL plus the path and the caBundle filled in (as `make manifests` does).
tg_webhooks() {
	sed -E -e "s|^( *)service: \{name: tenantguard, namespace: tenantguard-system, path: (/[a-z]+), port: 443\}|\1url: https://$1\2|" \
	       -e "s|^( *caBundle:).*|\1 $2|" "$e2e/../../manifests/webhooks.yaml" >"$3"
}

# sanitizers_clean WHAT LOG...: ok when no log has an ASan/UBSan/LSan report, else the
# reports' first lines.
sanitizers_clean() {
	local what=$1; shift
	if grep -qE 'ERROR: AddressSanitizer|runtime error|LeakSanitizer' "$@"; then
		bad "$what under the sanitizers:"; grep -A20 -E 'ERROR:|runtime error' "$@" | head -40
	else
		ok "$what ran clean under the sanitizers"
	fi
}

# tg_serving_setup WORK: what a `serve --kubeconfig` replica needs besides the cluster — the
# serving pair from `tenantguard certs` in WORK/certs (valid for 127.0.0.1, which is what the
# apiserver dials; the CA bundle, base64, in WORK/cabundle) and the namespace
# tenantguard-system (claims, Leases). Ends the script on failure. Needs $tg.
tg_serving_setup() {
	"$tg" certs --out "$1/certs" >"$1/cabundle" 2>"$1/certs.log" || { bad "tenantguard certs"; summary; exit 1; }
	admin create namespace tenantguard-system >/dev/null 2>&1 || admin get namespace tenantguard-system >/dev/null ||
		{ bad "create namespace tenantguard-system"; summary; exit 1; }
}
