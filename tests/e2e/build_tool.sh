#!/usr/bin/env bash
# Builds one Go-built test tool, helm or promtool, from the Go module proxy at the version
# pinned in tests/e2e/tools/<name>/go.mod (test infrastructure only; tenantguard is C).
# The binary is cached outside the work tree, keyed by version, like tests/e2e/build.sh does
# for the control plane: only the first run on a machine compiles.
#
#   tests/e2e/build_tool.sh helm|promtool     prints the binary's path on stdout
#   TENANTGUARD_CACHE (default ~/.cache/tenantguard) is the cache root.
# Progress and timings go to stderr.
set -euo pipefail
name=${1:?usage: build_tool.sh helm|promtool}
tools=$(cd "$(dirname "$0")" && pwd)/tools
cache=${TENANTGUARD_CACHE:-$HOME/.cache/tenantguard}
command -v go >/dev/null 2>&1 || export PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null 2>&1 || { echo "build_tool.sh: no go command (expected /usr/local/go/bin/go)" >&2; exit 1; }

case $name in
# helm's release build stamps its version and the Kubernetes version `helm template` and
# `helm lint` assume (that of its client-go): without them it says v3.x-dev and renders for
# Kubernetes 1.20, which a chart's kubeVersion refuses. The cache key holds both.
helm)     mod=helm.sh/helm/v3; pkg=helm.sh/helm/v3/cmd/helm
          kminor=$(awk '$1=="k8s.io/client-go"{v=$2; sub(/^v0\./, "", v); sub(/\..*/, "", v); print v; exit}' "$tools/helm/go.mod")
          [ -n "$kminor" ] || { echo "build_tool.sh: no k8s.io/client-go in $tools/helm/go.mod" >&2; exit 1; }
          suffix=-kube1.$kminor
          stamp() {
          	local p f="-X helm.sh/helm/v3/internal/version.version=$1"
          	for p in pkg/chartutil pkg/lint/rules; do
          		f+=" -X helm.sh/helm/v3/$p.k8sVersionMajor=1 -X helm.sh/helm/v3/$p.k8sVersionMinor=$kminor"
          	done
          	echo "$f"
          }
          vargs=(version --short) ;;
# promtool reads its version from github.com/prometheus/common/version.
promtool) mod=github.com/prometheus/prometheus; pkg=github.com/prometheus/prometheus/cmd/promtool
          stamp() { echo "-X github.com/prometheus/common/version.Version=$1"; }
          vargs=(--version) ;;
*) echo "build_tool.sh: unknown tool $name" >&2; exit 2 ;;
esac
moddir=$tools/$name
ver=$(awk -v m="$mod" '$1==m{print $2; exit}' "$moddir/go.mod")
[ -n "$ver" ] || { echo "build_tool.sh: no $mod in $moddir/go.mod" >&2; exit 1; }
out=$cache/$name-$ver${suffix:-}
bin=$out/$name
log() { echo "build_tool.sh: $*" >&2; }
mkdir -p "$out"
exec 9>"$out/.lock"
if ! flock -n 9; then log "another build holds $out/.lock; waiting"; flock 9; fi
trap 'rm -f "$bin".tmp.$$' EXIT

expect=${ver#v}
if [ -x "$bin" ] && [[ $("$bin" "${vargs[@]}" 2>&1) == *"$expect"* ]]; then
	log "$name: cached ($bin)"; echo "$bin"; exit 0
fi
export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 GOWORK=off
unset GOOS GOARCH GOARM GOAMD64 2>/dev/null || true
log "$name: building $pkg $ver ..."
t0=$SECONDS
(cd "$moddir" && go build -p 2 -trimpath -ldflags "-s -w $(stamp "$ver")" -o "$bin.tmp.$$" "$pkg")
[[ $("$bin.tmp.$$" "${vargs[@]}" 2>&1) == *"$expect"* ]] || {
	log "$name: built binary does not report $expect:"; "$bin.tmp.$$" "${vargs[@]}" >&2 || true; exit 1; }
mv -f "$bin.tmp.$$" "$bin"
log "$name: built in $((SECONDS - t0)) s, $(du -m "$bin" | cut -f1) MiB"
echo "$bin"
