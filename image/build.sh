#!/usr/bin/env bash
# The tenantguard image without a registry or a Docker engine: the runtime root filesystem
# from Debian packages (mmdebstrap, extract only: the libraries the binary links and the
# public suffix list, no shell, no package manager), the binary of this build at
# /usr/local/bin/tenantguard, an OCI image layout made with umoci. What the Dockerfile
# describes, built here from the same Debian release.
#
#   image/build.sh BUILD_DIR [OUT_DIR]     OUT_DIR (default BUILD_DIR/image) gets oci/ (the
#                                          layout, tag = the chart's appVersion) and rootfs/
#   TENANTGUARD_CACHE (default ~/.cache/tenantguard): the root filesystem tarball is cached
#   there, keyed by release and package list (mmdebstrap takes ~2 min cold).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: image/build.sh BUILD_DIR [OUT_DIR]}" && pwd)
out=${2:-$build/image}
cache=${TENANTGUARD_CACHE:-$HOME/.cache/tenantguard}
suite=bookworm
# Runtime packages of what the Makefile builds against (PKGS); apt adds their dependencies.
# publicsuffix: the list claims use for registrable domains (webhook/controller/claimstore.c).
pkgs=libc6,libmicrohttpd12,libgnutls30,libjansson4,libssl3,libyaml-0-2,libcurl4,publicsuffix
version=$(awk '$1=="appVersion:"{gsub(/"/, "", $2); print $2}' "$top/manifests/chart/tenantguard/Chart.yaml")
log() { echo "image/build.sh: $*" >&2; }

for t in mmdebstrap umoci; do
	command -v "$t" >/dev/null || { log "needs $t (apt-get install mmdebstrap umoci)"; exit 1; }
done
[ -x "$build/tenantguard" ] || { log "no $build/tenantguard (make all first)"; exit 1; }

key=$(echo "$suite $pkgs" | sha256sum | cut -c1-12)
tarball=$cache/rootfs-$suite-$key.tar
mkdir -p "$cache"
if [ ! -s "$tarball" ]; then
	log "root filesystem: mmdebstrap $suite ($pkgs) ..."
	t0=$SECONDS
	mmdebstrap --quiet --format=tar --variant=extract --include="$pkgs" \
	    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
	    "$suite" "$tarball.tmp.$$" http://deb.debian.org/debian
	mv -f "$tarball.tmp.$$" "$tarball"
	log "root filesystem in $((SECONDS - t0)) s ($(du -m "$tarball" | cut -f1) MiB)"
fi

rm -rf "$out"
mkdir -p "$out"
umoci init --layout "$out/oci"
umoci new --image "$out/oci:$version"
umoci unpack --image "$out/oci:$version" "$out/bundle" >/dev/null
root=$out/bundle/rootfs
tar -xf "$tarball" -C "$root"
rm -rf "$root/usr/share/doc" "$root/usr/share/man" "$root/var/cache/apt" "$root/var/lib/apt"
install -D -m 0755 "$build/tenantguard" "$root/usr/local/bin/tenantguard"
# The Deployment's user (podSecurityContext 65532:65532) gets a name; nothing runs as root.
mkdir -p "$root/etc"
echo "nonroot:x:65532:65532:tenantguard:/nonexistent:/usr/sbin/nologin" >>"$root/etc/passwd"
echo "nonroot:x:65532:" >>"$root/etc/group"
umoci repack --image "$out/oci:$version" "$out/bundle"
# the Dockerfile's ENV (malloc's heap in transparent huge pages), kept in one place
tunables=$(sed -n 's/^ENV \(GLIBC_TUNABLES=.*\)/\1/p' "$top/Dockerfile")
[ -n "$tunables" ] || { log "no ENV GLIBC_TUNABLES in the Dockerfile"; exit 1; }
umoci config --image "$out/oci:$version" --config.user 65532:65532 --config.env "$tunables" \
    --config.entrypoint /usr/local/bin/tenantguard \
    --config.cmd serve --config.cmd --config=/etc/tenantguard/config/config.yaml \
    --config.cmd --tls-cert=/etc/tenantguard/tls/tls.crt --config.cmd --tls-key=/etc/tenantguard/tls/tls.key \
    --config.exposedports 8443/tcp --config.workingdir / \
    --config.label org.opencontainers.image.title=tenantguard \
    --config.label "org.opencontainers.image.version=$version"
umoci gc --layout "$out/oci"
mv "$root" "$out/rootfs"
rm -rf "$out/bundle"
log "OCI layout $out/oci:$version ($(du -sm "$out/oci" | cut -f1) MiB), root filesystem $out/rootfs"
echo "$out/oci:$version"
