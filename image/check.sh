#!/usr/bin/env bash
# Checks the image image/build.sh made: its config (entrypoint, user, command, port), that
# every shared library the binary needs is inside it (the image's own dynamic loader lists
# them in a chroot: the equivalent of `ldd` without a libc-bin in the image), that the binary
# runs there as 65532, and — when podman can run containers here — the container itself
# (`podman run --network host`) serving /readyz and real verdicts over HTTPS.
#   image/check.sh BUILD_DIR [OUT_DIR]         last line: "N passed, N failed"
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-build}" && pwd)
out=${2:-$build/image}
. "$top/tests/e2e/lib.sh"
version=$(awk '$1=="appVersion:"{gsub(/"/, "", $2); print $2}' "$top/manifests/chart/tenantguard/Chart.yaml")
root=$out/rootfs
work=$(mktemp -d "${TMPDIR:-/tmp}/tenantguard-image.XXXXXX")
cleanup() { [ -n "${cid:-}" ] && podman rm -f "$cid" >/dev/null 2>&1; rm -rf "$work"; rm -f "$_expect_out"; }
trap cleanup EXIT

manifest=$(python3 - "$out/oci" "$version" <<'PY'
import json, os, sys
layout, tag = sys.argv[1], sys.argv[2]
blob = lambda d: os.path.join(layout, "blobs", *d.split(":"))
index = json.load(open(os.path.join(layout, "index.json")))
m = [x for x in index["manifests"] if x.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag][0]
man = json.load(open(blob(m["digest"])))
print(json.dumps(json.load(open(blob(man["config"]["digest"])))["config"]))
PY
) && ok "the OCI layout has the tag $version" || { bad "no tag $version in $out/oci"; summary; exit 1; }
cfg() { python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]).get(sys.argv[2])))' "$manifest" "$1"; }
[ "$(cfg Entrypoint)" = '["/usr/local/bin/tenantguard"]' ] && ok "entrypoint /usr/local/bin/tenantguard" || bad "entrypoint: $(cfg Entrypoint)"
[ "$(cfg User)" = '"65532:65532"' ] && ok "user 65532:65532 (non-root)" || bad "user: $(cfg User)"
[[ $(cfg Cmd) == '["serve", "--config=/etc/tenantguard/config/config.yaml", "--tls-cert=/etc/tenantguard/tls/tls.crt", "--tls-key=/etc/tenantguard/tls/tls.key"]' ]] &&
    ok "command: serve with the Deployment's config and TLS paths" || bad "cmd: $(cfg Cmd)"
[[ $(cfg ExposedPorts) == *8443/tcp* ]] && ok "exposes 8443/tcp" || bad "ports: $(cfg ExposedPorts)"

loader=/lib64/ld-linux-x86-64.so.2
if chroot "$root" "$loader" --list /usr/local/bin/tenantguard >"$work/ldd" 2>&1 && ! grep -q "not found" "$work/ldd"; then
	ok "every shared library the binary needs is in the image ($(grep -c '=>' "$work/ldd") resolved by its own loader)"
else
	bad "libraries missing in the image:"; sed 's/^/     /' "$work/ldd"
fi
[ ! -e "$root/bin/sh" ] && [ ! -e "$root/usr/bin/apt" ] && ok "no shell and no package manager in the image" ||
    bad "the image has a shell or apt"
[ -s "$root/usr/share/publicsuffix/public_suffix_list.dat" ] && ok "the public suffix list is in the image" ||
    bad "no public suffix list"
expect "the binary runs in the image's root filesystem as 65532" allow chroot --userspec=65532:65532 "$root" /usr/local/bin/tenantguard version
"$build/tenantguard" certs --out "$work/tls" >/dev/null 2>&1
mkdir -p "$work/config" && cp "$top/tests/configs/strict.yaml" "$work/config/config.yaml"
chmod -R a+rX "$work"

# The container itself. On this kind of machine root lacks CAP_SYS_RESOURCE, so podman's
# default ulimits (above the current hard limits) cannot be set: the container gets the
# current ones; crun refuses the hybrid cgroup v1/v2 layout here, runc (Debian's) does not.
port=$(freeport)
runtime=()
command -v runc >/dev/null && runtime=(--runtime runc)
nproc=$(ulimit -Hu); [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768   # podman's default, if allowed
limits=(--ulimit "nofile=$(ulimit -Sn):$(ulimit -Hn)" --ulimit "nproc=$nproc:$nproc")
if ! command -v podman >/dev/null; then
	echo "note: no podman (apt-get install podman runc): the container was not run"
elif ! podman load -i "$out/oci" >"$work/load.log" 2>&1; then
	bad "podman could not load the OCI layout:"; sed 's/^/     /' "$work/load.log"
else
	img=localhost/tenantguard:$version
	podman tag "$(sed -n 's/^Loaded image[(s)]*: *//p' "$work/load.log" | tail -1)" "$img"
	if cid=$(podman "${runtime[@]}" run -d --network host --read-only --cap-drop ALL "${limits[@]}" \
	        -v "$work/config:/etc/tenantguard/config:ro" -v "$work/tls:/etc/tenantguard/tls:ro" \
	        "$img" serve --config=/etc/tenantguard/config/config.yaml --tls-cert=/etc/tenantguard/tls/tls.crt \
	        --tls-key=/etc/tenantguard/tls/tls.key --listen="127.0.0.1:$port" 2>"$work/run.log"); then
		if tg_wait_ready "$port" 200; then
			ok "podman run --network host (${runtime[*]:-crun}): the container serves /readyz"
			[ "$(podman inspect -f '{{.Config.User}}' "$cid")" = "65532:65532" ] && ok "the container runs as 65532:65532" ||
			    bad "container user $(podman inspect -f '{{.Config.User}}' "$cid")"
			export TG_URL="https://127.0.0.1:$port"
			expect "the container allows the reference tenant1 Ingress" allow python3 "$top/image/verdict.py" allow tenant1-gateway api.tenant1.aigw.example.com
			expect "the container denies tenant1's host from tenant2 [host-ownership]" allow python3 "$top/image/verdict.py" host-ownership tenant2-gateway api.tenant1.aigw.example.com
			expect "the container denies a tenant Ingress of another class (strict.yaml) [ingress-class]" allow python3 "$top/image/verdict.py" ingress-class tenant1-gateway api.tenant1.aigw.example.com nginx
		else
			bad "the container did not get ready:"; podman logs "$cid" 2>&1 | tail -20 | sed 's/^/     /'
		fi
	else
		bad "podman could not run the container: $(tr '\n' ' ' <"$work/run.log")"
	fi
	podman rmi -f "$img" >/dev/null 2>&1
fi
summary
[ "$fail" -eq 0 ]
