#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# build_opa.sh: builds OPA, the peer bench/bench_peer.sh measures tenantguard against, from
# the Go module proxy at the version pinned in bench/tools/opa/go.mod (benchmark
# infrastructure only, never product code). The binary is cached outside the work tree,
# keyed by version, like tests/e2e/build.sh: only the first run on a machine compiles
# (a few minutes on 2 cores). Prints on stdout the one line TENANTGUARD_OPA=<binary>.
# TENANTGUARD_CACHE (default ~/.cache/tenantguard) is the cache root; progress on stderr.
set -euo pipefail
mod=$(cd "$(dirname "$0")" && pwd)/tools/opa
cache=${TENANTGUARD_CACHE:-$HOME/.cache/tenantguard}
command -v go >/dev/null 2>&1 || export PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null 2>&1 || { echo "build_opa.sh: no go command" >&2; exit 1; }
ver=$(awk '$1=="github.com/open-policy-agent/opa"{print $2; exit}' "$mod/go.mod")
[ -n "$ver" ] || { echo "build_opa.sh: no OPA version in $mod/go.mod" >&2; exit 1; }
out=$cache/opa-$ver
bin=$out/opa
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
trap 'rm -f "$bin.tmp.$$"' EXIT
# (output captured first: grep -q closing the pipe early would fail it under pipefail)
if [ -x "$bin" ] && [[ $("$bin" version 2>/dev/null) == *"Version: ${ver#v}"* ]]; then
	echo "TENANTGUARD_OPA=$bin"; exit 0
fi
echo "build_opa.sh: building github.com/open-policy-agent/opa $ver ..." >&2
export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 GOWORK=off
unset GOOS GOARCH GOAMD64 2>/dev/null || true
t0=$SECONDS
# OPA's release build stamps its version through this variable.
(cd "$mod" && go build -p 2 -trimpath \
	-ldflags "-s -w -X github.com/open-policy-agent/opa/v1/version.Version=${ver#v}" \
	-o "$bin.tmp.$$" github.com/open-policy-agent/opa)
[[ $("$bin.tmp.$$" version 2>/dev/null) == *"Version: ${ver#v}"* ]] || {
	echo "build_opa.sh: built binary does not report ${ver#v}:" >&2; "$bin.tmp.$$" version >&2 || true; exit 1; }
mv -f "$bin.tmp.$$" "$bin"
echo "build_opa.sh: built in $((SECONDS - t0)) s, $(du -m "$bin" | cut -f1) MiB" >&2
echo "TENANTGUARD_OPA=$bin"
