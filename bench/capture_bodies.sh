#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# capture_bodies.sh: records what the real kube-apiserver of tests/e2e sends a validating
# webhook for `kubectl apply` of the reference's tenant Ingress: the CREATE, then the UPDATE
# of a second apply that changes it (with oldObject, managedFields and the
# kubectl.kubernetes.io/last-applied-configuration annotation), into
# bench/fixtures/review-ingress-{create,update}.json, which bench_review measures. A small
# HTTPS server (python, loopback) stands in for the webhook, answers allowed and keeps the
# bodies. Rerun it after a Kubernetes bump and check the fixtures in.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
e2e=$here/../tests/e2e
out=$here/fixtures
tg=${TG:-$here/../build/tenantguard}
[ -x "$tg" ] || { echo "capture_bodies: $tg not built" >&2; exit 1; }
. "$e2e/lib.sh"
e2e_cluster_up capture
w=$TENANTGUARD_CLUSTER_DIR/capture; mkdir -p "$w/bodies"
"$tg" certs --out "$w/certs" >"$w/cabundle" 2>/dev/null
port=$(freeport)
cat >"$w/dump.py" <<'PY'
import http.server, json, os, ssl, sys
port, certs, outdir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        rev = json.loads(body)
        req = rev["request"]
        if req["kind"]["kind"] == "Ingress":
            with open(os.path.join(outdir, req["operation"].lower() + ".json"), "wb") as f:
                f.write(body)
        out = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                          "response": {"uid": req["uid"], "allowed": True}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(os.path.join(certs, "tls.crt"), os.path.join(certs, "tls.key"))
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY
setsid python3 "$w/dump.py" "$port" "$w/certs" "$w/bodies" </dev/null >"$w/dump.log" 2>&1 &
echo "$! $(awk '{print $22}' /proc/$!/stat) dump" >>"$TENANTGUARD_CLUSTER_PIDS"
sleep 0.5
cat >"$w/hook.yaml" <<YAML
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: capture}
webhooks:
  - name: capture.tenantguard.io
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: Fail
    clientConfig: {url: "https://127.0.0.1:$port/validate", caBundle: "$(cat "$w/cabundle")"}
    rules:
      - {apiGroups: [networking.k8s.io], apiVersions: [v1], resources: [ingresses], operations: [CREATE, UPDATE]}
YAML
admin get namespace tenant1-gateway >/dev/null 2>&1 || admin create namespace tenant1-gateway >/dev/null
admin apply -f "$w/hook.yaml" >/dev/null
sleep 1   # the apiserver picks up a new webhook configuration within about a second
# alice (edit in tenant1-gateway) applies as a tenant would
alice apply -f "$e2e/objects/tenant1-api-ingress.yaml" >/dev/null
sed -e 's|path: /v1|path: /v2|' -e 's|^  annotations:|  labels: {app: api}\n  annotations:|' \
	"$e2e/objects/tenant1-api-ingress.yaml" >"$w/ingress-v2.yaml"
alice apply -f "$w/ingress-v2.yaml" >/dev/null
for op in create update; do
	[ -s "$w/bodies/$op.json" ] || { echo "capture_bodies: no $op body" >&2; exit 1; }
	python3 -c 'import json, sys; json.dump(json.load(open(sys.argv[1])), open(sys.argv[2], "w"), separators=(",", ":"))' \
		"$w/bodies/$op.json" "$out/review-ingress-$op.json"
	echo "capture_bodies: $out/review-ingress-$op.json ($(wc -c <"$out/review-ingress-$op.json") bytes)"
done
