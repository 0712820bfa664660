#!/bin/sh
# The kustomize way with a serving certificate: an overlay over this base in OUTDIR with the
# Secret tenantguard-tls (a CA and serving pair from `tenantguard certs`, kept across runs;
# the serving pair renewed near expiry), that CA as both webhooks' caBundle, and the client
# side the base asks for (clientAuth): the ConfigMap tenantguard-client-ca (the same CA) and,
# in OUTDIR/apiserver/, what the kube-apiserver needs to present its client certificate —
#   webhook-client.crt/.key   a clientAuth certificate of that CA (kept while valid > 30 days)
#   webhook-kubeconfig.yaml   that pair, inline, for the user the apiserver looks the webhook
#                             up as: $TENANTGUARD_WEBHOOK_USER, default
#                             tenantguard.tenantguard-system.svc:443 (its Service, port 443)
#   admission-config.yaml     the --admission-control-config-file, naming the kubeconfig at
#                             $TENANTGUARD_APISERVER_DIR (default /etc/kubernetes/tenantguard,
#                             an absolute path on the control-plane nodes)
#   manifests/overlay.sh TENANTGUARD_BINARY OUTDIR   then   kubectl apply -k OUTDIR
# (`make webhook-certs` runs it into build/kustomize.) Put the apiserver/ files in place and
# restart the apiserver before applying: without them every review is closed at the handshake.
set -eu
tg=$1 out=$2
base=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out/apiserver"
out=$(cd "$out" && pwd)
bundle=$("$tg" certs --out "$out" --service tenantguard --namespace tenantguard-system)
rel=$(python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$base" "$out")
user=${TENANTGUARD_WEBHOOK_USER:-tenantguard.tenantguard-system.svc:443}
apidir=${TENANTGUARD_APISERVER_DIR:-/etc/kubernetes/tenantguard}

a=$out/apiserver
if ! openssl verify -CAfile "$out/ca.crt" -purpose sslclient "$a/webhook-client.crt" >/dev/null 2>&1 ||
    ! openssl x509 -in "$a/webhook-client.crt" -noout -checkend 2592000 >/dev/null 2>&1; then
	(umask 077
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=kube-apiserver-webhook-client \
	    -keyout "$a/webhook-client.key" -out "$a/webhook-client.csr" 2>/dev/null
	printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=CA:FALSE\n' >"$a/webhook-client.ext"
	openssl x509 -req -in "$a/webhook-client.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
	    -days 365 -sha256 -extfile "$a/webhook-client.ext" -out "$a/webhook-client.crt" 2>/dev/null
	rm -f "$a/webhook-client.csr" "$a/webhook-client.ext")
fi
(umask 077; cat >"$a/webhook-kubeconfig.yaml" <<KUBECONFIG
# Written by manifests/overlay.sh: the client certificate the kube-apiserver presents to
# tenantguard's webhooks (AdmissionConfiguration kubeConfigFile; users are looked up by the
# webhook's address, "SERVICE.NAMESPACE.svc:PORT" or a URL's host:port).
apiVersion: v1
kind: Config
users:
  - name: "$user"
    user:
      client-certificate-data: $(base64 -w0 "$a/webhook-client.crt")
      client-key-data: $(base64 -w0 "$a/webhook-client.key")
KUBECONFIG
)
cat >"$a/admission-config.yaml" <<ADMISSION
# Written by manifests/overlay.sh: kube-apiserver --admission-control-config-file=$apidir/admission-config.yaml
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: ValidatingAdmissionWebhook
    configuration:
      apiVersion: apiserver.config.k8s.io/v1
      kind: WebhookAdmissionConfiguration
      kubeConfigFile: $apidir/webhook-kubeconfig.yaml
  - name: MutatingAdmissionWebhook
    configuration:
      apiVersion: apiserver.config.k8s.io/v1
      kind: WebhookAdmissionConfiguration
      kubeConfigFile: $apidir/webhook-kubeconfig.yaml
ADMISSION

patch() {
	printf '  - target: {group: admissionregistration.k8s.io, kind: %s, name: tenantguard}\n' "$1"
	printf '    patch: |-\n      - {op: replace, path: /webhooks/0/clientConfig/caBundle, value: "%s"}\n' "$bundle"
}
{
	echo "# Written by manifests/overlay.sh: the base with its serving Secret, client CA and caBundle."
	echo "apiVersion: kustomize.config.k8s.io/v1beta1"
	echo "kind: Kustomization"
	echo "resources: [$rel]"
	echo "secretGenerator:"
	echo "  - name: tenantguard-tls"
	echo "    namespace: tenantguard-system"
	echo "    type: kubernetes.io/tls"
	echo "    files: [tls.crt, tls.key, ca.crt]"
	echo "    options: {disableNameSuffixHash: true}"
	echo "configMapGenerator:"
	echo "  - name: tenantguard-client-ca"
	echo "    namespace: tenantguard-system"
	echo "    files: [ca.crt]"
	echo "    options: {disableNameSuffixHash: true}"
	echo "patches:"
	patch ValidatingWebhookConfiguration
	patch MutatingWebhookConfiguration
} >"$out/kustomization.yaml"
echo "kustomize overlay written to $out: kubectl apply -k $out"
echo "the kube-apiserver's client certificate for the webhooks: $a (see README \"Client certificates\")"
