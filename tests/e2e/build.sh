#!/usr/bin/env bash
# Builds the real kube-apiserver, kube-controller-manager, kubectl and etcd that the e2e
# suite runs against, from the Go module proxy, at the versions pinned in
# tests/e2e/tools/{kube,etcd}/go.mod (test infrastructure only; see tools/update.sh).
# Binaries are cached outside the work tree, keyed by version, so only the first run on a
# machine compiles (about 12 minutes on 2 cores); later runs take well under a second.
#
#   tests/e2e/build.sh            builds what is missing; prints on stdout the one line
#                                 TENANTGUARD_K8S_BIN=<dir with the four binaries>
#   TENANTGUARD_CACHE (default ~/.cache/tenantguard) is the cache root.
# Progress and timings go to stderr.
set -euo pipefail
e2e=$(cd "$(dirname "$0")" && pwd)
tools=$e2e/tools
cache=${TENANTGUARD_CACHE:-$HOME/.cache/tenantguard}
# Go lives in /usr/local/go on these machines; a non-login shell (CI) may not have it on PATH.
command -v go >/dev/null 2>&1 || export PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null 2>&1 || { echo "build.sh: no go command (expected /usr/local/go/bin/go)" >&2; exit 1; }

modver() { awk -v m="$2" '$1==m{print $2; exit} $1=="require" && $2==m{print $3; exit}' "$1"; }
kube_ver=$(modver "$tools/kube/go.mod" k8s.io/kubernetes)
etcd_ver=$(modver "$tools/etcd/go.mod" go.etcd.io/etcd/server/v3)
[ -n "$kube_ver" ] && [ -n "$etcd_ver" ] || { echo "build.sh: cannot read versions from $tools/*/go.mod" >&2; exit 1; }
out=$cache/k8s-$kube_ver
mkdir -p "$out"

log() { echo "build.sh: $*" >&2; }
trap 'rm -f "$out"/*.tmp.$$' EXIT

# Only one build at a time per cache directory (two CI steps, or a user and a test).
exec 9>"$out/.lock"
if ! flock -n 9; then log "another build holds $out/.lock; waiting"; flock 9; fi

export GOTOOLCHAIN=local          # a tag needing a newer Go fails here instead of downloading one
# go.mod/go.sum are checked in and complete (tools/update.sh): readonly makes a drift fail
# loudly instead of resolving something new; no VCS stamping (the module is no checkout).
export GOFLAGS="-mod=readonly -buildvcs=false"
export CGO_ENABLED=0              # static, as upstream releases them; no C toolchain needed
unset GOOS GOARCH GOARM GOAMD64 GOWORK 2>/dev/null || true
export GOWORK=off

# Commit time of the release tag, from the proxy's .info: a reproducible buildDate.
release_date() {   # module@version
	(cd "$tools/kube" && go list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' "$1" 2>/dev/null) || true
}

# build NAME MODULE_DIR PACKAGE EXPECT LDFLAGS_FUNC [VERSION_ARGS]: skipped when NAME exists
# and its VERSION_ARGS (default --version) output contains EXPECT; LDFLAGS_FUNC prints the
# -ldflags value (called only when building).
build() {
	local name=$1 moddir=$2 pkg=$3 expect=$4 ldflags bin=$out/$1
	local -a vargs=(${6:---version})
	# (output captured first: grep -q closing the pipe early would fail it under pipefail)
	if [ -x "$bin" ] && [[ $("$bin" "${vargs[@]}" 2>/dev/null) == *"$expect"* ]]; then
		log "$name: cached ($bin)"; return
	fi
	log "$name: building $pkg ($expect) ..."
	ldflags=$($5)
	local t0=$SECONDS
	(cd "$moddir" && go build -p 2 -trimpath -ldflags "$ldflags" -o "$bin.tmp.$$" "$pkg")
	[[ $("$bin.tmp.$$" "${vargs[@]}" 2>/dev/null) == *"$expect"* ]] || {
		log "$name: built binary does not report $expect:"; "$bin.tmp.$$" "${vargs[@]}" >&2 || true
		rm -f "$bin.tmp.$$"; exit 1; }
	mv -f "$bin.tmp.$$" "$bin"
	log "$name: built in $((SECONDS - t0)) s, $(du -m "$bin" | cut -f1) MiB"
}

# The version Kubernetes' own build stamps (hack/lib/version.sh), under both packages:
# without it the binaries say v0.0.0-master and kubectl warns about version skew.
kube_ldflags() {
	local minor=${kube_ver#v1.} kdate pfx flags="-s -w"
	minor=${minor%%.*}
	kdate=$(release_date "k8s.io/kubernetes@$kube_ver")
	for pfx in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		flags+=" -X $pfx.gitVersion=$kube_ver -X $pfx.gitMajor=1 -X $pfx.gitMinor=$minor"
		flags+=" -X $pfx.gitTreeState=archive${kdate:+ -X $pfx.buildDate=$kdate}"
	done
	echo "$flags"
}
etcd_ldflags() { echo "-s -w"; }

build kube-apiserver "$tools/kube" k8s.io/kubernetes/cmd/kube-apiserver "Kubernetes $kube_ver" kube_ldflags
# The controller manager fills the aggregated ClusterRoles (edit, view, admin have no rules
# until its clusterrole-aggregation controller runs), deletes namespaces, collects garbage.
build kube-controller-manager "$tools/kube" k8s.io/kubernetes/cmd/kube-controller-manager "Kubernetes $kube_ver" kube_ldflags
build kubectl "$tools/kube" k8s.io/kubernetes/cmd/kubectl "Client Version: $kube_ver" kube_ldflags "version --client"
# etcd's version is a constant in go.etcd.io/etcd/api/v3/version; its binary is named per
# version so a bump of etcd alone rebuilds only etcd.
build "etcd-$etcd_ver" "$tools/etcd" go.etcd.io/etcd/server/v3 "etcd Version: ${etcd_ver#v}" etcd_ldflags
ln -sfn "etcd-$etcd_ver" "$out/etcd"

log "binaries in $out ($(du -sm "$out" | cut -f1) MiB)"
echo "TENANTGUARD_K8S_BIN=$out"
