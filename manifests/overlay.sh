#!/bin/sh
# The kustomize way with a serving certificate: an overlay over this base in OUTDIR with the
# Secret tenantguard-tls (a CA and serving pair from `tenantguard certs`, kept across runs;
# the serving pair renewed near expiry) and that CA as both webhooks' caBundle.
#   manifests/overlay.sh TENANTGUARD_BINARY OUTDIR   then   kubectl apply -k OUTDIR
# (`make webhook-certs` runs it into build/kustomize.)
set -eu
tg=$1 out=$2
base=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
bundle=$("$tg" certs --out "$out" --service tenantguard --namespace tenantguard-system)
rel=$(python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$base" "$out")
patch() {
	printf '  - target: {group: admissionregistration.k8s.io, kind: %s, name: tenantguard}\n' "$1"
	printf '    patch: |-\n      - {op: replace, path: /webhooks/0/clientConfig/caBundle, value: "%s"}\n' "$bundle"
}
{
	echo "# Written by manifests/overlay.sh: the base with its serving Secret and caBundle."
	echo "apiVersion: kustomize.config.k8s.io/v1beta1"
	echo "kind: Kustomization"
	echo "resources: [$rel]"
	echo "secretGenerator:"
	echo "  - name: tenantguard-tls"
	echo "    namespace: tenantguard-system"
	echo "    type: kubernetes.io/tls"
	echo "    files: [tls.crt, tls.key, ca.crt]"
	echo "    options: {disableNameSuffixHash: true}"
	echo "patches:"
	patch ValidatingWebhookConfiguration
	patch MutatingWebhookConfiguration
} >"$out/kustomization.yaml"
echo "kustomize overlay written to $out: kubectl apply -k $out"
