#!/usr/bin/env bash
# A real control plane for the e2e suite: etcd, kube-apiserver and kube-controller-manager
# (clusterrole-aggregation, namespace and garbage-collector controllers only) on 127.0.0.1 (test
# infrastructure; binaries from tests/e2e/build.sh), RBAC with static token users.
#
#   cluster.sh up   [DIR]   start; prints the shell exports of `env` on stdout (eval them)
#   cluster.sh env  [DIR]   print the shell exports again
#   cluster.sh down [DIR]   stop every process in DIR/pids and remove DIR
#   cluster.sh stop-apiserver    [DIR]   SIGKILL the kube-apiserver (a crash) and wait until it
#                                        is gone; etcd and the controller-manager keep running
#   cluster.sh start-apiserver   [DIR]   start it again with the same flags and port (recorded
#                                        by up in DIR/kube-apiserver.cmd), appending to its log;
#                                        its DIR/pids entry replaces the old one; returns once
#                                        /readyz answers 200
#   cluster.sh restart-apiserver [DIR]   both
#
# With TENANTGUARD_AUDIT_POLICY=FILE (an audit.k8s.io/v1 Policy) the apiserver also writes
# its audit log, JSON lines, to DIR/audit.log (blocking mode: an event is on disk when the
# request returns).
# With TENANTGUARD_ADMISSION_CONFIG=FILE (an apiserver.config.k8s.io/v1 AdmissionConfiguration,
# e.g. a WebhookAdmissionConfiguration giving the apiserver a client certificate for webhooks)
# the apiserver starts with --admission-control-config-file FILE; FILE and the files it names
# are the caller's (inside DIR, they go with it).
#
# DIR is, in order: the argument, $TENANTGUARD_CLUSTER_DIR, or (up) a new mktemp dir, which
# env/down find again through /tmp/tenantguard-cluster.last. To tear down whatever happens,
# choose the dir first and trap down before up:
#     export TENANTGUARD_CLUSTER_DIR=$(mktemp -d)
#     trap 'tests/e2e/cluster.sh down' EXIT
#     eval "$(tests/e2e/cluster.sh up)"
# up records each process in DIR/pids as soon as it starts (callers may append
# "PID" lines for their own processes, e.g. tenantguard serve, and down stops them too);
# if up fails it stops what it started and prints the logs.
#
# Users (static tokens, --token-auth-file): admin (group system:masters), alice (group
# tenant1) with ClusterRole edit in namespace tenant1-gateway only, bob (group tenant2) with
# edit in tenant2-gateway only, and system:serviceaccount:tenantguard-system:tenantguard
# (groups system:serviceaccounts[:tenantguard-system]; no rights until a test applies
# manifests/rbac.yaml, whose ServiceAccount subject names exactly this user): what the
# Deployment's pods are. Namespaces tenant1-gateway, tenant2-gateway, higress-system.
set -euo pipefail
e2e=$(cd "$(dirname "$0")" && pwd)
last=${TMPDIR:-/tmp}/tenantguard-cluster.last
marker=.tenantguard-cluster
log() { echo "cluster.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# The apiserver calls webhooks by URL through any HTTP(S)_PROXY in its environment; so
# would kubectl and curl. Everything here talks to loopback only.
unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy ALL_PROXY all_proxy
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

resolve_dir() {   # [DIR] -> the cluster dir of an existing cluster
	local d=${1:-${TENANTGUARD_CLUSTER_DIR:-}}
	if [ -z "$d" ] && [ -f "$last" ]; then d=$(cat "$last"); fi
	[ -n "$d" ] || die "no cluster dir: pass DIR or set TENANTGUARD_CLUSTER_DIR"
	echo "$d"
}

# Free TCP ports on 127.0.0.1, chosen by the kernel.
free_ports() {
	python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

starttime() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null || true; }

# start NAME CMD...: runs CMD detached (own session, no tty, output to DIR/NAME.log) and
# records "pid starttime name" in DIR/pids at once.
start() {
	local name=$1; shift
	setsid "$@" </dev/null >>"$dir/$name.log" 2>&1 &   # (appends: start-apiserver reuses the log)
	local pid=$!
	echo "$pid $(starttime "$pid") $name" >>"$dir/pids"
	eval "pid_${name//-/_}=$pid"
}

stop_all() {   # dir
	local d=$1 pid st name alive
	[ -f "$d/pids" ] || return 0
	# newest first: the apiserver before etcd, callers' own processes before both
	tac "$d/pids" | while read -r pid st name; do
		[ -n "$pid" ] || continue
		kill -0 "$pid" 2>/dev/null || continue
		# a recycled pid belongs to someone else: leave it
		if [ -n "$st" ] && [ "$(starttime "$pid")" != "$st" ]; then continue; fi
		if [ -z "$st" ] && [ -n "$name" ]; then continue; fi   # ours, but exited at once
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		if kill -0 "$pid" 2>/dev/null; then
			log "${name:-$pid} did not stop on TERM; killing"; kill -KILL "$pid" 2>/dev/null || true
		fi
	done
}

env_exports() {   # dir
	cat "$1/env"
}

cmd_down() {
	local d=${1:-${TENANTGUARD_CLUSTER_DIR:-}}
	if [ -z "$d" ] && [ -f "$last" ]; then d=$(cat "$last"); fi
	[ -n "$d" ] || { log "down: no cluster dir given or recorded: nothing to do"; return 0; }
	[ -d "$d" ] || { log "$d: already gone"; rm -f "$last"; return 0; }
	[ -f "$d/$marker" ] || die "$d is not a cluster dir (no $marker): not touching it"
	stop_all "$d"
	rm -rf -- "$d"
	if [ -f "$last" ] && [ "$(cat "$last")" = "$d" ]; then rm -f "$last"; fi
	log "down: $d removed"
}

cmd_env() {
	local d; d=$(resolve_dir "${1:-}")
	[ -f "$d/env" ] || die "$d: no cluster there (no env file)"
	env_exports "$d"
}

write_kubeconfig() {   # file user token
	cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: $server
    certificate-authority: $dir/pki/ca.crt
users:
- name: $2
  user:
    token: $3
contexts:
- name: $2@e2e
  context: {cluster: e2e, user: $2}
current-context: $2@e2e
KC
	chmod 600 "$1"
}

cmd_up() {
	dir=${1:-${TENANTGUARD_CLUSTER_DIR:-}}
	if [ -z "$dir" ]; then dir=$(mktemp -d "${TMPDIR:-/tmp}/tenantguard-cluster.XXXXXX"); fi
	mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
	[ ! -e "$dir/pids" ] || die "$dir already holds a cluster (pids): run down first"
	touch "$dir/$marker" "$dir/pids"
	echo "$dir" >"$last"

	up_ok=0
	trap 'if [ "$up_ok" = 0 ]; then up_failed; fi' EXIT
	trap 'exit 130' INT; trap 'exit 143' TERM HUP   # run the EXIT trap on these too

	local bin
	if [ -n "${TENANTGUARD_K8S_BIN:-}" ] && [ -x "$TENANTGUARD_K8S_BIN/kube-apiserver" ]; then
		bin=$TENANTGUARD_K8S_BIN
	else
		bin=$("$e2e/build.sh" | sed -n 's/^TENANTGUARD_K8S_BIN=//p')
	fi
	for b in etcd kube-apiserver kube-controller-manager kubectl; do [ -x "$bin/$b" ] || die "missing $bin/$b"; done

	local etcd_port peer_port api_port
	read -r etcd_port peer_port api_port <<<"$(free_ports 3)"
	server=https://127.0.0.1:$api_port

	# PKI: a CA, the apiserver's serving certificate for 127.0.0.1/localhost, SA keys.
	mkdir -p "$dir/pki"; (
		cd "$dir/pki"; umask 077
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj /CN=tenantguard-e2e-ca -keyout ca.key -out ca.crt 2>/dev/null
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-subj /CN=kube-apiserver -keyout apiserver.key -out apiserver.csr 2>/dev/null
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >apiserver.ext
		openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
			-extfile apiserver.ext -out apiserver.crt 2>/dev/null
		openssl genrsa -out sa.key 2048 2>/dev/null
		openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
		chmod 644 ca.crt apiserver.crt sa.pub
	) || die "openssl failed"

	local t_admin t_alice t_bob t_kcm t_sa
	t_admin=$(openssl rand -hex 24); t_alice=$(openssl rand -hex 24); t_bob=$(openssl rand -hex 24)
	t_kcm=$(openssl rand -hex 24); t_sa=$(openssl rand -hex 24)
	( umask 077; cat >"$dir/tokens.csv" <<CSV
$t_admin,admin,uid-admin,"system:masters"
$t_kcm,system:kube-controller-manager,uid-kcm,"system:masters"
$t_alice,alice,uid-alice,"tenant1"
$t_bob,bob,uid-bob,"tenant2"
$t_sa,system:serviceaccount:tenantguard-system:tenantguard,uid-sa,"system:serviceaccounts,system:serviceaccounts:tenantguard-system"
CSV
	)

	start etcd "$bin/etcd" --name e2e --data-dir "$dir/etcd" \
		--listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
		--listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
		--initial-cluster "e2e=http://127.0.0.1:$peer_port" --unsafe-no-fsync --log-level warn
	wait_for "etcd" "$pid_etcd" 30 curl -sf "http://127.0.0.1:$etcd_port/health"

	local -a apiserver=("$bin/kube-apiserver" \
		--etcd-servers "http://127.0.0.1:$etcd_port" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
		--endpoint-reconciler-type none \
		--cert-dir "$dir/pki" --tls-cert-file "$dir/pki/apiserver.crt" --tls-private-key-file "$dir/pki/apiserver.key" \
		--service-cluster-ip-range 10.0.0.0/24 \
		--authorization-mode RBAC --token-auth-file "$dir/tokens.csv" --anonymous-auth=false \
		--disable-admission-plugins ServiceAccount \
		--service-account-issuer "$server/" --service-account-key-file "$dir/pki/sa.pub" \
		--service-account-signing-key-file "$dir/pki/sa.key" \
		--allow-privileged=true --profiling=false --v=1)
	# TENANTGUARD_AUDIT_POLICY=FILE: the apiserver's audit log too, as JSON lines in DIR/audit.log.
	if [ -n "${TENANTGUARD_AUDIT_POLICY:-}" ]; then
		cp "$TENANTGUARD_AUDIT_POLICY" "$dir/audit-policy.yaml"
		apiserver+=(--audit-policy-file "$dir/audit-policy.yaml" --audit-log-path "$dir/audit.log"
			--audit-log-format json --audit-log-mode blocking)
	fi
	[ -z "${TENANTGUARD_ADMISSION_CONFIG:-}" ] ||
		apiserver+=(--admission-control-config-file "$TENANTGUARD_ADMISSION_CONFIG")
	# start-apiserver runs exactly this again (the same port, certificates and etcd).
	printf '%q ' "${apiserver[@]}" >"$dir/kube-apiserver.cmd"
	start kube-apiserver "${apiserver[@]}"
	wait_for "kube-apiserver /readyz" "$pid_kube_apiserver" 180 \
		curl -sf --cacert "$dir/pki/ca.crt" -H "Authorization: Bearer $t_admin" "$server/readyz"

	write_kubeconfig "$dir/admin.kubeconfig" admin "$t_admin"
	write_kubeconfig "$dir/alice.kubeconfig" alice "$t_alice"
	write_kubeconfig "$dir/bob.kubeconfig" bob "$t_bob"
	write_kubeconfig "$dir/tenantguard.kubeconfig" tenantguard "$t_sa"
	write_kubeconfig "$dir/kube-controller-manager.kubeconfig" system:kube-controller-manager "$t_kcm"

	start kube-controller-manager "$bin/kube-controller-manager" \
		--kubeconfig "$dir/kube-controller-manager.kubeconfig" \
		--controllers clusterrole-aggregation-controller,namespace-controller,garbage-collector-controller \
		--leader-elect=false --secure-port 0 --v=1
	# edit/view/admin are aggregated ClusterRoles: empty until the controller fills them.
	wait_for "kube-controller-manager (ClusterRole edit aggregated)" "$pid_kube_controller_manager" 60 \
		role_has_rules "$bin/kubectl" "$dir/admin.kubeconfig" edit

	"$bin/kubectl" --kubeconfig "$dir/admin.kubeconfig" apply -f - >"$dir/setup.log" 2>&1 <<'YAML' || { cat "$dir/setup.log" >&2; die "setup objects failed"; }
apiVersion: v1
kind: Namespace
metadata: {name: higress-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: tenant1-gateway}
---
apiVersion: v1
kind: Namespace
metadata: {name: tenant2-gateway}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-edit, namespace: tenant1-gateway}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bob-edit, namespace: tenant2-gateway}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: bob}]
YAML
	# The RBAC authorizer sees the bindings and the aggregated role through its informers.
	wait_for "RBAC: alice may edit tenant1-gateway" "$pid_kube_apiserver" 30 \
		"$bin/kubectl" --kubeconfig "$dir/alice.kubeconfig" auth can-i create configmaps -n tenant1-gateway

	cat >"$dir/env" <<ENV
export TENANTGUARD_CLUSTER_DIR=$dir
export TENANTGUARD_K8S_BIN=$bin
export TENANTGUARD_APISERVER=$server
export TENANTGUARD_CLUSTER_CA=$dir/pki/ca.crt
export TENANTGUARD_CLUSTER_PIDS=$dir/pids
export TENANTGUARD_ETCD=http://127.0.0.1:$etcd_port
export KUBECTL=$bin/kubectl
export KUBECONFIG_ADMIN=$dir/admin.kubeconfig
export KUBECONFIG_ALICE=$dir/alice.kubeconfig
export KUBECONFIG_BOB=$dir/bob.kubeconfig
export KUBECONFIG_TENANTGUARD=$dir/tenantguard.kubeconfig
export KUBECONFIG=$dir/admin.kubeconfig
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy ALL_PROXY all_proxy
ENV
	up_ok=1
	log "up: $server (etcd 127.0.0.1:$etcd_port), dir $dir"
	env_exports "$dir"
}

# wait_for WHAT PID SECONDS CMD...: until CMD succeeds; fails early if PID exits.
wait_for() {
	local what=$1 pid=$2 secs=$3; shift 3
	local end=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		kill -0 "$pid" 2>/dev/null || die "$what: process $pid exited"
		[ $SECONDS -lt $end ] || die "$what: not ready after ${secs}s"
		sleep 0.3
	done
}

role_has_rules() {   # kubectl kubeconfig clusterrole: has it rules for configmaps yet?
	[[ $("$1" --kubeconfig "$2" get clusterrole "$3" -o jsonpath='{.rules[*].resources}' 2>/dev/null) == *'"configmaps"'* ]]
}

up_failed() {
	set +e   # a trap: do everything, whatever fails
	log "up failed; logs in $dir:"
	local f
	for f in "$dir"/etcd.log "$dir"/kube-apiserver.log "$dir"/kube-controller-manager.log; do
		[ -f "$f" ] || continue
		echo "--- $f: errors" >&2; grep -E '^[EF][0-9]{4} |"level":"(error|fatal|panic)"' "$f" | tail -n 20 >&2
		echo "--- $f: last 20 lines" >&2; tail -n 20 "$f" >&2
	done
	stop_all "$dir"
	if [ "${TENANTGUARD_KEEP:-0}" = 1 ]; then log "kept $dir (TENANTGUARD_KEEP=1)"; return; fi
	rm -rf -- "$dir"
	if [ -f "$last" ] && [ "$(cat "$last")" = "$dir" ]; then rm -f "$last"; fi
}

# The running kube-apiserver of DIR/pids (the newest entry whose process is still that one),
# or nothing.
apiserver_pid() {   # dir
	local pid st name found=
	while read -r pid st name; do
		[ "$name" = kube-apiserver ] || continue
		kill -0 "$pid" 2>/dev/null && [ "$(starttime "$pid")" = "$st" ] && found=$pid
	done <"$1/pids"
	echo "$found"
}

cmd_stop_apiserver() {
	local d pid; d=$(resolve_dir "${1:-}")
	[ -f "$d/$marker" ] || die "$d is not a cluster dir (no $marker)"
	pid=$(apiserver_pid "$d")
	[ -n "$pid" ] || die "stop-apiserver: no kube-apiserver running in $d"
	kill -KILL "$pid"
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$pid" 2>/dev/null || die "stop-apiserver: $pid still alive 10 s after SIGKILL"
	log "stop-apiserver: killed $pid (SIGKILL)"
}

cmd_start_apiserver() {
	dir=$(resolve_dir "${1:-}")
	[ -f "$dir/kube-apiserver.cmd" ] || die "$dir: no kube-apiserver.cmd (cluster from an older cluster.sh?)"
	[ -z "$(apiserver_pid "$dir")" ] || die "start-apiserver: a kube-apiserver is already running in $dir"
	local -a apiserver; local server ca token
	eval "apiserver=($(cat "$dir/kube-apiserver.cmd"))"
	server=$(sed -n 's/^export TENANTGUARD_APISERVER=//p' "$dir/env")
	ca=$(sed -n 's/^export TENANTGUARD_CLUSTER_CA=//p' "$dir/env")
	token=$(awk -F, '$2 == "admin" {print $1}' "$dir/tokens.csv")
	echo "--- start-apiserver $(date -u +%FT%TZ)" >>"$dir/kube-apiserver.log"
	start kube-apiserver "${apiserver[@]}"
	# Its entry takes the old one's place in DIR/pids, so down still stops it after the
	# callers' processes and the controller-manager (its watchers) and before etcd.
	awk -v new="$pid_kube_apiserver $(starttime "$pid_kube_apiserver") kube-apiserver" \
		'$3 != "kube-apiserver" {print; next} !done {print new; done = 1}' "$dir/pids" >"$dir/pids.tmp" &&
		mv "$dir/pids.tmp" "$dir/pids"
	wait_for "kube-apiserver /readyz (restarted)" "$pid_kube_apiserver" 180 \
		curl -sf --cacert "$ca" -H "Authorization: Bearer $token" "$server/readyz"
	log "start-apiserver: $server ready again (pid $pid_kube_apiserver)"
}

case "${1:-}" in
	up) shift; cmd_up "$@" ;;
	down) shift; cmd_down "$@" ;;
	env) shift; cmd_env "$@" ;;
	stop-apiserver) shift; cmd_stop_apiserver "$@" ;;
	start-apiserver) shift; cmd_start_apiserver "$@" ;;
	restart-apiserver) shift; cmd_stop_apiserver "$@"; cmd_start_apiserver "$@" ;;
	*) echo "usage: $0 up|down|env|stop-apiserver|start-apiserver|restart-apiserver [DIR]" >&2; exit 2 ;;
esac
