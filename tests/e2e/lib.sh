# lib.sh: what the e2e scripts share — checks, polling, the cluster, serving replicas, reviews.
# Sourced, not run. Each check prints "ok NAME" or "FAIL NAME: why"; summary prints the total.
# Replicas are numbered: serve N sets port[N] and pid[N], and review/allowed/collides/metric
# take N (default 1). $work is the script's scratch folder inside the cluster's.
pass=0 fail=0
# Sanitizer settings when a script runs alone (tests/run.sh sets the same for everything).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ok()  { echo "ok $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
summary() { echo "$pass passed, $fail failed"; }
# die WHY [LOG...]: a failure the script cannot go on from: bad WHY, the last 20 lines of each
# LOG, the summary, exit 1 (the EXIT trap tears the cluster down). Not inside $(...).
die() {
	local why=$1 f; shift
	bad "$why"
	for f in "$@"; do [ -e "$f" ] && { echo "     --- $f"; tail -n 20 "$f" | sed 's/^/     /'; }; done
	summary
	exit 1
}
ms_now() { echo $(( $(date +%s%N) / 1000000 )); }

# within NAME MS CHECK [ARGS...]: polls CHECK (output discarded) every 50 ms for up to MS ms:
# ok "NAME (after N ms)" once it succeeds, else bad "NAME: not within MS ms" with the output
# of one more try. Leaves the elapsed ms in $within_ms; returns CHECK's status.
within() {
	local name=$1 max=$2 t0; shift 2
	t0=$(ms_now)
	while :; do
		if "$@" >/dev/null 2>&1; then within_ms=$(( $(ms_now) - t0 )); ok "$name (after $within_ms ms)"; return 0; fi
		within_ms=$(( $(ms_now) - t0 ))
		if [ "$within_ms" -ge "$max" ]; then
			bad "$name: not within $max ms"; "$@" 2>&1 | head -n 20 | sed 's/^/     /'; return 1
		fi
		sleep 0.05
	done
}
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
# ($dir) that is torn down when the script exits, whatever happens, loads its exports
# (KUBECTL, KUBECONFIG_ADMIN/ALICE/BOB, TENANTGUARD_APISERVER, ...) and makes the script's
# scratch folder $work, $dir/NAME. Needs $e2e. A script that configures the apiserver with
# files of its own (cluster.sh's TENANTGUARD_ADMISSION_CONFIG) defines e2e_before_up, which is
# called with $work made (and $dir set) before the cluster starts, so the files go with it.
e2e_cluster_up() {
	local line exports
	line=$("$e2e/build.sh" | grep '^TENANTGUARD_K8S_BIN=') || die "build the control plane"
	export "${line?}"
	export TENANTGUARD_CLUSTER_DIR
	TENANTGUARD_CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tenantguard-$1.XXXXXX")
	trap 'rm -f "$_expect_out"; "$e2e/cluster.sh" down "$TENANTGUARD_CLUSTER_DIR" >/dev/null 2>&1' EXIT
	dir=$TENANTGUARD_CLUSTER_DIR work=$TENANTGUARD_CLUSTER_DIR/$1
	mkdir -p "$work"
	if declare -F e2e_before_up >/dev/null; then e2e_before_up || die "e2e_before_up"; fi
	exports=$("$e2e/cluster.sh" up "$TENANTGUARD_CLUSTER_DIR") || die "cluster up"
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

# serve N [ARGS...]: replica N, `tenantguard serve` on 127.0.0.1:${port[N]} (a free port the
# first time, the same one when N is started again) with the serving pair in $work/certs,
# live state from $TG_KUBECONFIG (unset: the admin's; set but empty: none, so the built-in
# empty state) and POD_NAME replica-N, which names it in Leases; ARGS go to `serve`. Sets
# pid[N], appends to $work/serveN.log, and is stopped at teardown. Needs $tg and $work.
serve() {
	local r=$1 kc=${TG_KUBECONFIG-$KUBECONFIG_ADMIN} live=(); shift
	[ -n "$kc" ] && live=(--kubeconfig "$kc")
	port[$r]=${port[$r]:-$(freeport)}
	POD_NAME=replica-$r setsid "$tg" serve --listen "127.0.0.1:${port[$r]}" \
	    --tls-cert "$work/certs/tls.crt" --tls-key "$work/certs/tls.key" \
	    "${live[@]}" "$@" </dev/null >>"$work/serve$r.log" 2>&1 &
	pid[$r]=$!
	echo "${pid[$r]}" >>"$TENANTGUARD_CLUSTER_PIDS"
}
# ready N...: every replica N answers /readyz 200 (tg_wait_ready); non-zero if one never does.
ready() { local r; for r; do tg_wait_ready "${port[$r]}" || return 1; done; }
# serve_stop N WHAT [MS]: SIGTERM to replica N must end it with status 0 (within MS ms, when
# given); the log's tail otherwise.
serve_stop() {
	local r=$1 t0 rc el
	t0=$(ms_now)
	kill -TERM "${pid[$r]}"; wait "${pid[$r]}"; rc=$?
	el=$(( $(ms_now) - t0 ))
	if [ "$rc" = 0 ] && { [ -z "${3:-}" ] || [ "$el" -lt "$3" ]; }; then ok "$2: SIGTERM → exit 0 in $el ms"
	else bad "$2: SIGTERM → exit $rc after $el ms"; tail -n 20 "$work/serve$r.log" | sed 's/^/     /'; fi
}
# http_code PATH [N]: the HTTP status replica N (default 1) answers a GET of PATH with.
http_code() { curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:${port[${2:-1}]}$1"; }
# metric SERIES [N]: the value of SERIES (name and labels as printed) in replica N's /metrics
# (default 1); nothing when absent.
metric() { curl -sk "https://127.0.0.1:${port[${2:-1}]}/metrics" | awk -v s="$1" '$1 == s { print $2 }'; }

# mkreview FILE TENANT HOST [dry]: an AdmissionReview of a CREATE (a dry run with `dry`) of
# Ingress r in TENANT-gateway, by a user of TENANT, claiming HOST; its uid is FILE's name
# without .json.
mkreview() {
	local dry=false; [ "${4:-}" = dry ] && dry=true
	printf '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"%s","kind":{"group":"networking.k8s.io","version":"v1","kind":"Ingress"},"resource":{"group":"networking.k8s.io","version":"v1","resource":"ingresses"},"namespace":"%s-gateway","name":"r","operation":"CREATE","dryRun":%s,"userInfo":{"username":"u-%s","groups":["%s"]},"object":{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"r","namespace":"%s-gateway"},"spec":{"ingressClassName":"higress","rules":[{"host":"%s","http":{"paths":[{"path":"/","pathType":"Prefix","backend":{"service":{"name":"app","port":{"number":80}}}}]}}]}}}}' \
	    "$(basename "$1" .json)" "$2" "$dry" "$2" "$2" "$2" "$3" >"$1"
}
# review FILE [N]: FILE POSTed to replica N's /validate (default 1); the response body.
review() { curl -sk -m 10 -H 'Content-Type: application/json' --data-binary @"$1" "https://127.0.0.1:${port[${2:-1}]}/validate"; }
# allowed FILE [N], collides FILE [N]: the review is allowed / denied [host-collision]; when
# it is not, the response is printed (indented) for the log.
allowed() { _verdict '"allowed":true' "$@"; }
collides() { _verdict '"allowed":false.*\[host-collision\]' "$@"; }
_verdict() {
	local pat=$1 r; shift
	r=$(review "$@")
	grep -q -- "$pat" <<<"$r" && return 0
	echo "     ${r:-(no answer)}"; return 1
}
# ingress NAMESPACE NAME HOST [CLASS]: an Ingress claiming HOST (backend app:80), YAML on stdout;
# CLASS defaults to the tenant class higress (what /mutate sets), "-" leaves it out.
ingress() {
	local cls=${4:-higress}
	printf 'apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: %s, namespace: %s}\nspec:\n' "$2" "$1"
	[ "$cls" = - ] || printf '  ingressClassName: %s\n' "$cls"
	printf '  rules:\n  - host: "%s"\n    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}\n' "$3"
}
# claim_key HOST: the key tg-claim-* ConfigMaps file HOST under (_wild_.D for *.D).
claim_key() { case $1 in '*.'*) echo "_wild_.${1#\*.}" ;; *) echo "$1" ;; esac; }
# claims DOMAIN: the data of tenantguard-system/tg-claim-DOMAIN as sorted "key=owner" lines
# (nothing when it is absent).
claims() {
	admin -n tenantguard-system get configmap "tg-claim-$1" -o json 2>/dev/null |
	    python3 -c 'import json,sys; s=sys.stdin.read(); d=(json.loads(s).get("data") or {}) if s else {}; [print(k+"="+v) for k,v in sorted(d.items())]'
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

# tg_register HOST:PORT: manifests/webhooks.yaml as shipped, with its Service reference swapped
# for https://HOST:PORT plus the path and the caBundle from $work/cabundle (as `make manifests`
# does), written to $work/webhooks.yaml and applied as admin; the output in $work/register.log.
tg_register() {
	sed -E -e "s|^( *)service: \{name: tenantguard, namespace: tenantguard-system, path: (/[a-z]+), port: 443\}|\1url: https://$1\2|" \
	       -e "s|^( *caBundle:).*|\1 $(cat "$work/cabundle")|" "$e2e/../../manifests/webhooks.yaml" >"$work/webhooks.yaml"
	admin apply -f "$work/webhooks.yaml" >"$work/register.log" 2>&1
}
# webhook_answers: a registered validating webhook answers: bob's server-side dry run of
# objects/same-host-in-tenant2.yaml is denied [host-ownership] (the apiserver picks new
# webhook configurations up asynchronously: poll it with within).
# (The denied apply exits non-zero, so its output is matched as a string, not through a pipe
# that pipefail would fail.)
webhook_answers() { grep -q host-ownership <<<"$(bob apply --dry-run=server -f "$e2e/objects/same-host-in-tenant2.yaml" 2>&1)"; }

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

# tg_serving_setup [WORK]: what a `serve --kubeconfig` replica needs besides the cluster — the
# serving pair from `tenantguard certs` in WORK/certs (valid for 127.0.0.1, which is what the
# apiserver dials; the CA bundle, base64, in WORK/cabundle) and the namespace
# tenantguard-system (claims, Leases). WORK defaults to $work. Ends the script on failure.
# Needs $tg.
tg_serving_setup() {
	set -- "${1:-$work}"
	"$tg" certs --out "$1/certs" >"$1/cabundle" 2>"$1/certs.log" || die "tenantguard certs" "$1/certs.log"
	admin create namespace tenantguard-system >/dev/null 2>&1 || admin get namespace tenantguard-system >/dev/null ||
		die "create namespace tenantguard-system"
}
