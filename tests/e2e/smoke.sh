#!/usr/bin/env bash
# Smoke test of the e2e harness: builds (cached) the real kube-apiserver, kubectl and etcd,
# brings a control plane up, checks that authentication and RBAC work as the suite expects,
# and tears it down again. Last line: "N passed, N failed".
set -uo pipefail
e2e=$(cd "$(dirname "$0")" && pwd)
. "$e2e/lib.sh"

t0=$SECONDS
if line=$("$e2e/build.sh" | grep '^TENANTGUARD_K8S_BIN='); then
	export "${line?}"; ok "build (cached) in $((SECONDS - t0)) s: $TENANTGUARD_K8S_BIN"
else
	die "build"
fi

export TENANTGUARD_CLUSTER_DIR
TENANTGUARD_CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tenantguard-smoke.XXXXXX")
trap 'rm -f "$_expect_out"; "$e2e/cluster.sh" down "$TENANTGUARD_CLUSTER_DIR" 2>/dev/null' EXIT
t0=$SECONDS
if exports=$("$e2e/cluster.sh" up "$TENANTGUARD_CLUSTER_DIR"); then
	eval "$exports"; ok "cluster up in $((SECONDS - t0)) s: $TENANTGUARD_APISERVER"
else
	die "cluster up"
fi
pids=$(awk '{print $1}' "$TENANTGUARD_CLUSTER_PIDS")

k() { "$KUBECTL" --request-timeout=20s "$@"; }
expect "admin: get ns" allow k --kubeconfig "$KUBECONFIG_ADMIN" get ns tenant1-gateway tenant2-gateway higress-system
v=$(k --kubeconfig "$KUBECONFIG_ADMIN" version 2>&1)
cv=$(sed -n 's/^Client Version: //p' <<<"$v"); sv=$(sed -n 's/^Server Version: //p' <<<"$v")
if [ -n "$cv" ] && [ "$cv" = "$sv" ] && ! grep -qi warning <<<"$v"; then ok "kubectl $cv = apiserver $sv, no skew warning"
else bad "kubectl version:"; sed 's/^/     /' <<<"$v"; fi
who=$(k --kubeconfig "$KUBECONFIG_ALICE" auth whoami -o jsonpath='{.status.userInfo.username} {.status.userInfo.groups}' 2>&1)
if [[ $who == "alice "*tenant1* ]]; then ok "alice authenticates as: $who"; else bad "alice whoami: $who"; fi
expect "alice: create ConfigMap in tenant1-gateway" allow k --kubeconfig "$KUBECONFIG_ALICE" -n tenant1-gateway create configmap smoke --from-literal=a=b
expect "alice: create ConfigMap in tenant2-gateway is forbidden" deny k --kubeconfig "$KUBECONFIG_ALICE" -n tenant2-gateway create configmap smoke --from-literal=a=b
expect "alice: create ConfigMap in higress-system is forbidden" deny k --kubeconfig "$KUBECONFIG_ALICE" -n higress-system create configmap smoke --from-literal=a=b
expect "alice: list namespaces (cluster scope) is forbidden" deny k --kubeconfig "$KUBECONFIG_ALICE" get ns
expect "bob: create ConfigMap in tenant2-gateway" allow k --kubeconfig "$KUBECONFIG_BOB" -n tenant2-gateway create configmap smoke --from-literal=a=b
expect "bob: read ConfigMaps in tenant1-gateway is forbidden" deny k --kubeconfig "$KUBECONFIG_BOB" -n tenant1-gateway get configmap smoke
expect "an unknown token is Unauthorized" deny:Unauthorized k --server "$TENANTGUARD_APISERVER" --certificate-authority "$TENANTGUARD_CLUSTER_CA" --token not-a-token get ns
# kube-controller-manager's namespace controller finalizes deleted namespaces (without it
# they stay Terminating).
expect "admin: a deleted namespace goes away" allow sh -c '
	"$KUBECTL" --kubeconfig "$KUBECONFIG_ADMIN" create namespace smoke-delete &&
	"$KUBECTL" --kubeconfig "$KUBECONFIG_ADMIN" -n smoke-delete create configmap x &&
	"$KUBECTL" --kubeconfig "$KUBECONFIG_ADMIN" delete namespace smoke-delete --timeout=60s'

dir=$TENANTGUARD_CLUSTER_DIR
if "$e2e/cluster.sh" down "$dir"; then
	alive=""; for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
	if [ -z "$alive" ] && [ ! -e "$dir" ]; then ok "down: processes stopped, $dir removed"
	else bad "down: still alive:${alive:- none}; dir exists: $([ -e "$dir" ] && echo yes || echo no)"; fi
else
	bad "down"
fi
summary
[ "$fail" = 0 ]
