#!/usr/bin/env bash
# The Kubernetes API client (webhook/kube/kube.c) against a real kube-apiserver, and against a small
# TLS fake on loopback for what a healthy apiserver will not do on demand (HTTP 410, client
# certificates, an endless event line). Drives it through BUILD_DIR/tests/kube_probe; brings
# its own cluster up (tests/e2e/cluster.sh) and tears it down. Last line: "N passed, N failed".
#   usage: tests/e2e/run_kube_client.sh BUILD_DIR
set -uo pipefail
e2e=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build/asan}" && pwd)
probe=$build/tests/kube_probe
. "$e2e/lib.sh"
[ -x "$probe" ] || die "no $probe (make $build/tests/kube_probe)"

e2e_cluster_up kube
apiport=${TENANTGUARD_APISERVER##*:}
out=$work/out

# check NAME PATTERN: the last probe output ($out) matches the extended regex PATTERN.
check() {
	if grep -qE -- "$2" "$out"; then ok "$1"; else bad "$1: no /$2/ in:"; sed 's/^/     /' "$out"; fi
}
# summary_of: the probe's last line (its verdict), for the ok lines.
last() { tail -n 1 "$out" | cut -c1-200; }

# --- LIST with pagination ------------------------------------------------------------------
admin create namespace kc-list >/dev/null
for i in $(seq -w 1 30); do
	printf -- '---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%s, namespace: kc-list, labels: {e2e: kc}}\ndata: {i: "%s"}\n' "$i" "$i"
done >"$work/cms.yaml"
admin apply -f "$work/cms.yaml" >/dev/null || bad "create 30 ConfigMaps"
"$probe" list "$KUBECONFIG_ADMIN" "/api/v1/namespaces/kc-list/configmaps?labelSelector=e2e%3Dkc" 7 >"$out" 2>&1
names=$(grep '^item ' "$out" | awk '{print $2}' | sort -u | tr '\n' ' ')
want=$(for i in $(seq -w 1 30); do printf 'kc-list/cm-%s ' "$i"; done)
if grep -qE '^list OK items=30 requests=5 rv=[0-9]+$' "$out" && [ "$names" = "$want" ] &&
   [ "$(grep -c '^item .* ConfigMap$' "$out")" = 30 ]; then
	ok "LIST 30 ConfigMaps (labelSelector in the path) with limit=7: all 30 once, in 5 pages, kind filled in: $(last)"
else
	bad "LIST 30 ConfigMaps with limit=7:"; sed 's/^/     /' "$out"
fi
nns=$(admin get ns -o name | wc -l)
"$probe" list "$KUBECONFIG_ADMIN" /api/v1/namespaces 1 >"$out" 2>&1
check "LIST namespaces with limit=1: every one of the $nns, one page each" \
	"^list OK items=$nns requests=$nns rv=[0-9]+$"
"$probe" list "$KUBECONFIG_ADMIN" /api/v1/namespaces >"$out" 2>&1
check "LIST namespaces with the default limit (500): one request" "^list OK items=$nns requests=1 "
rv=$(sed -n 's/^list OK .* rv=//p' "$out")

# --- WATCH ---------------------------------------------------------------------------------
"$probe" list "$KUBECONFIG_ADMIN" /api/v1/namespaces/kc-list/configmaps >"$out" 2>&1
rv=$(sed -n 's/^list OK .* rv=//p' "$out")
"$probe" watch "$KUBECONFIG_ADMIN" /api/v1/namespaces/kc-list/configmaps "$rv" 5 >"$work/watch.out" 2>&1 &
wpid=$!
sleep 0.5
admin -n kc-list create configmap w1 --from-literal=a=1 >/dev/null
admin -n kc-list patch configmap w1 -p '{"data":{"a":"2"}}' >/dev/null
admin -n kc-list delete configmap w1 >/dev/null
del_rv=$(admin -n kc-list get configmaps -o jsonpath='{.metadata.resourceVersion}')
wait "$wpid"; wrc=$?
cp "$work/watch.out" "$out"
seq_got=$(grep '^event .* kc-list/w1 ' "$out" | awk '{print $2}' | tr '\n' ' ')
if [ "$seq_got" = "ADDED MODIFIED DELETED " ]; then
	ok "WATCH ConfigMaps from the list's resourceVersion: ADDED, MODIFIED, DELETED of w1, in order"
else
	bad "WATCH events of w1: got '$seq_got'"; sed 's/^/     /' "$out"
fi
bookmarks=$(grep -c '^event BOOKMARK' "$out")
check "WATCH ends KUBE_OK when the server's timeoutSeconds=5 runs out (exit $wrc; $bookmarks bookmark(s))" \
	'^watch OK rv=[0-9]+$'
last_rv=$(sed -n 's/^watch OK rv=//p' "$out")
deleted_rv=$(awk '$2 == "DELETED" && $3 == "kc-list/w1" {sub("rv=", "", $4); print $4}' "$out")
if [ -n "$last_rv" ] && [ -n "$deleted_rv" ] && [ "$last_rv" -ge "$deleted_rv" ]; then
	ok "WATCH leaves the last resourceVersion seen ($last_rv >= DELETED's $deleted_rv, bookmarks count)"
else
	bad "WATCH last resourceVersion '$last_rv' vs DELETED '$deleted_rv'"
fi
"$probe" watch "$KUBECONFIG_ADMIN" /api/v1/namespaces/kc-list/configmaps "$last_rv" 2 >"$out" 2>&1
if ! grep -q '^event [A-Z]* kc-list/' "$out" && grep -qE '^watch OK' "$out"; then
	ok "WATCH resumed from that resourceVersion replays nothing: $(last)"
else
	bad "WATCH resumed from $last_rv:"; sed 's/^/     /' "$out"
fi

# Stop flag: raised 500 ms into a watch that would last a minute.
t0=$(date +%s%N)
"$probe" watch "$KUBECONFIG_ADMIN" /api/v1/namespaces/kc-list/configmaps "$last_rv" 60 500 >"$out" 2>&1
t1=$(date +%s%N)
ms=$(sed -n 's/^watch STOPPED .*stop_ms=\([0-9]*\).*/\1/p' "$out")
if [ -n "$ms" ] && [ "$ms" -lt 1000 ] && [ $(( (t1 - t0) / 1000000 )) -lt 3000 ]; then
	ok "the stop flag ends a 60 s watch in $ms ms (KUBE_STOPPED; whole run $(( (t1 - t0) / 1000000 )) ms)"
else
	bad "stop flag:"; sed 's/^/     /' "$out"
fi

# 410 as an ERROR event, from the real apiserver: a CRD's watch cache starts when the CRD is
# established, so a resourceVersion from before that is "too old" -- what compaction does.
admin apply -f - >/dev/null <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.e2e.tenantguard.io}
spec:
  group: e2e.tenantguard.io
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
YAML
admin wait --for condition=established --timeout=30s crd/widgets.e2e.tenantguard.io >/dev/null
for _ in $(seq 50); do
	"$probe" list "$KUBECONFIG_ADMIN" /apis/e2e.tenantguard.io/v1/widgets >"$out" 2>&1 && break
	sleep 0.2
done
"$probe" watch "$KUBECONFIG_ADMIN" /apis/e2e.tenantguard.io/v1/widgets 5 10 >"$out" 2>&1
wrc=$?
if [ "$wrc" = 3 ] && grep -qE '^watch GONE rv=5: .*expired \(410 Expired\), relist: too old resource version' "$out"; then
	ok "a too-old resourceVersion: the apiserver's ERROR event 410 gives KUBE_GONE: $(last)"
else
	bad "too-old resourceVersion (exit $wrc):"; sed 's/^/     /' "$out"
fi

# --- errors from the real apiserver --------------------------------------------------------
sed -E 's/^( *token: ).*/\1wrong-token-0000/' "$KUBECONFIG_ADMIN" >"$work/wrong.kubeconfig"
"$probe" list "$work/wrong.kubeconfig" /api/v1/namespaces >"$out" 2>&1
check "wrong token: 401 names the credentials: $(last)" \
	'^list ERROR: GET /api/v1/namespaces: the apiserver rejected our credentials \(401 Unauthorized; token\)'
"$probe" list "$KUBECONFIG_ALICE" /apis/networking.k8s.io/v1/ingresses >"$out" 2>&1
check "alice lists Ingresses cluster-wide: 403 passes the RBAC verb and resource through: $(last)" \
	'forbidden \(403\): .*User "alice" cannot list resource "ingresses" in API group "networking.k8s.io" at the cluster scope'
"$probe" watch "$KUBECONFIG_ALICE" /apis/networking.k8s.io/v1/ingresses "" 5 >"$out" 2>&1
check "alice watches Ingresses cluster-wide: the same 403 from WATCH" \
	'^watch ERROR .*forbidden \(403\): .*cannot watch resource "ingresses"'
"$probe" list "$KUBECONFIG_ALICE" /apis/networking.k8s.io/v1/namespaces/tenant1-gateway/ingresses >"$out" 2>&1
check "alice lists Ingresses in tenant1-gateway: allowed" '^list OK items=0 '
closed=$(freeport)
sed -E "s|^( *server: ).*|\1https://127.0.0.1:$closed|" "$KUBECONFIG_ADMIN" >"$work/closed.kubeconfig"
"$probe" list "$work/closed.kubeconfig" /api/v1/namespaces >"$out" 2>&1
check "apiserver unreachable: $(last)" "^list ERROR: cannot reach https://127.0.0.1:$closed: Connection refused$"

# tokenFile, re-read by the client; a kubeconfig with a relative tokenFile.
grep -E '^ *token: ' "$KUBECONFIG_ADMIN" | sed -E 's/^ *token: //' >"$work/admin.token"
sed -E 's|^( *)token: .*|\1tokenFile: admin.token|' "$KUBECONFIG_ADMIN" >"$work/tokenfile.kubeconfig"
"$probe" list "$work/tokenfile.kubeconfig" /api/v1/namespaces >"$out" 2>&1
check "kubeconfig with a relative tokenFile: LIST works" "^list OK items=$nns "

# In-cluster: token file + ca.crt + namespace; the token rotates from admin's to alice's
# between two requests of one client.
mkdir -p "$work/sa"
cp "$work/admin.token" "$work/sa/token"; cp "$TENANTGUARD_CLUSTER_CA" "$work/sa/ca.crt"
echo kc-list >"$work/sa/namespace"
grep -E '^ *token: ' "$KUBECONFIG_ALICE" | sed -E 's/^ *token: //' >"$work/alice.token"
KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$apiport \
	"$probe" rotate "$work/sa" /apis/networking.k8s.io/v1/ingresses "$work/alice.token" >"$out" 2>&1
rrc=$?
if [ "$rrc" = 0 ] && sed -n 1p "$out" | grep -q '^list OK' &&
   sed -n 2p "$out" | grep -q 'User "alice" cannot list resource "ingresses"'; then
	ok "in-cluster: the rotated token file is picked up by the next request (admin's list OK, then alice's 403)"
else
	bad "in-cluster token rotation (exit $rrc):"; sed 's/^/     /' "$out"
fi

# GET / POST / PUT / DELETE with optimistic concurrency, as claims will use them (a Lease).
lease=/apis/coordination.k8s.io/v1/namespaces/kc-list/leases
printf '{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"claim-newco.com"},"spec":{"holderIdentity":"tenant1"}}' >"$work/lease.json"
"$probe" req "$KUBECONFIG_ADMIN" POST "$lease" "$work/lease.json" >"$out" 2>&1
check "create a Lease: 201" '^status 201 rv=[0-9]+$'
lrv=$(sed -n 's/^status 201 rv=//p' "$out")
"$probe" req "$KUBECONFIG_ADMIN" POST "$lease" "$work/lease.json" >"$out" 2>&1
check "create it again: 409 AlreadyExists decides the race: $(last)" '^status 409 .*409 AlreadyExists: .*already exists'
"$probe" req "$KUBECONFIG_ADMIN" GET "$lease/claim-newco.com" >"$out" 2>&1
check "get it: 200 with its resourceVersion" "^status 200 rv=$lrv$"
printf '{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"claim-newco.com","resourceVersion":"%s"},"spec":{"holderIdentity":"tenant2"}}' "$lrv" >"$work/lease2.json"
"$probe" req "$KUBECONFIG_ADMIN" PUT "$lease/claim-newco.com" "$work/lease2.json" >"$out" 2>&1
check "update with the current resourceVersion: 200" '^status 200 rv=[0-9]+$'
"$probe" req "$KUBECONFIG_ADMIN" PUT "$lease/claim-newco.com" "$work/lease2.json" >"$out" 2>&1
check "update with a stale resourceVersion: 409 Conflict: $(last)" '^status 409 .*409 Conflict: .*the object has been modified'
"$probe" req "$KUBECONFIG_ADMIN" DELETE "$lease/claim-newco.com" >"$out" 2>&1
check "delete it: 200" '^status 200 '
"$probe" req "$KUBECONFIG_ADMIN" GET "$lease/claim-newco.com" >"$out" 2>&1
check "get it after delete: 404" '^status 404 .*not found'
"$probe" req "$KUBECONFIG_ALICE" POST "$lease" "$work/lease.json" >"$out" 2>&1
check "alice creates a Lease in kc-list: 403 naming the verb" 'status 403 .*cannot create resource "leases"'

# --- a TLS fake apiserver on loopback ------------------------------------------------------
pki=$work/fake-pki; mkdir -p "$pki"
(
	cd "$pki" || exit 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=fake-ca \
		-keyout ca.key -out ca.crt 2>/dev/null
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=fake-apiserver \
		-keyout server.key -out server.csr 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
	openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 \
		-extfile server.ext -out server.crt 2>/dev/null
	# An RSA key in the traditional "RSA PRIVATE KEY" form, as kubeadm writes them.
	openssl genrsa -traditional -out client.key 2048 2>/dev/null
	openssl req -new -key client.key -subj /CN=probe-client -out client.csr 2>/dev/null
	printf 'extendedKeyUsage=clientAuth\n' >client.ext
	openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 \
		-extfile client.ext -out client.crt 2>/dev/null
) || bad "fake PKI"
cat >"$work/fake.py" <<'PY'
import json, socket, ssl, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

pki, portfile = sys.argv[1], sys.argv[2]

def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"   # bodies end when the connection closes
    def log_message(self, *a): pass
    def send(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path == "/whoami":
            cert = self.connection.getpeercert()
            if not cert:
                return self.send(401, status(401, "Unauthorized", "Unauthorized"))
            cn = [v for rdn in cert["subject"] for k, v in rdn if k == "commonName"][0]
            return self.send(200, {"kind": "Identity", "metadata": {"resourceVersion": "1"}, "cn": cn})
        if path == "/gone":          # a watch or list answered with HTTP 410
            return self.send(410, status(410, "Expired", "too old resource version: 1 (999)"))
        if path == "/pages":         # page 1 fine, page 2's continue token expired
            if "continue=" not in query:
                return self.send(200, {"kind": "WidgetList", "apiVersion": "e2e/v1",
                    "metadata": {"resourceVersion": "41", "continue": "tok+/="},
                    "items": [{"metadata": {"name": "one", "namespace": "x"}}]})
            if "continue=tok%2B%2F%3D" not in query:
                return self.send(400, status(400, "BadRequest", "continue token not escaped: " + query))
            return self.send(410, status(410, "Expired",
                "The provided continue parameter is too old to display a consistent list result."))
        if path == "/trickle":       # events cut into small writes, one split mid-line
            self.stream()
            ev = [{"type": "ADDED", "object": {"metadata": {"name": "a", "namespace": "x", "resourceVersion": "7"}}},
                  {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}},
                  {"type": "ERROR", "object": status(410, "Expired", "too old resource version: 9 (12)")}]
            data = "".join(json.dumps(e) + "\n" for e in ev).encode()
            for i in range(0, len(data), 13):
                self.wfile.write(data[i:i + 13]); self.wfile.flush(); time.sleep(0.01)
            return
        if path == "/slow":          # headers, then nothing for a long time
            self.stream()
            self.wfile.flush()
            time.sleep(20)
            return
        if path == "/endless":       # one line that never ends
            self.stream()
            chunk = b"x" * 65536
            try:
                for _ in range(17 * 16 + 8):   # a bit over 17 MiB
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                pass
            return
        self.send(404, status(404, "NotFound", "no " + path))

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(pki + "/server.crt", pki + "/server.key")
ctx.load_verify_locations(pki + "/ca.crt")
ctx.verify_mode = ssl.CERT_OPTIONAL
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os; os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
PY
setsid python3 "$work/fake.py" "$pki" "$work/fake.port" </dev/null >"$work/fake.log" 2>&1 &
echo "$! $(awk '{print $22}' /proc/$!/stat) fake-apiserver" >>"$TENANTGUARD_CLUSTER_PIDS"
for _ in $(seq 50); do [ -s "$work/fake.port" ] && break; sleep 0.1; done
fport=$(cat "$work/fake.port" 2>/dev/null)
fake_kubeconfig() {   # file, then the user block lines
	local f=$1; shift
	{
		printf 'apiVersion: v1\nkind: Config\ncurrent-context: fake\n'
		printf 'clusters:\n- name: fake\n  cluster:\n    server: https://127.0.0.1:%s\n    certificate-authority: %s/ca.crt\n' "$fport" "$pki"
		printf 'contexts:\n- name: fake\n  context: {cluster: fake, user: u}\nusers:\n- name: u\n  user:\n'
		printf '    %s\n' "$@"
	} >"$f"
}
if [ -z "$fport" ]; then
	bad "the fake apiserver did not start:"; sed 's/^/     /' "$work/fake.log"
else
	fake_kubeconfig "$work/fake-token.kubeconfig" "token: t0k"
	fake_kubeconfig "$work/fake-certfiles.kubeconfig" "client-certificate: $pki/client.crt" "client-key: $pki/client.key"
	fake_kubeconfig "$work/fake-certdata.kubeconfig" "client-certificate-data: $(base64 -w0 "$pki/client.crt")" \
		"client-key-data: $(base64 -w0 "$pki/client.key")"

	"$probe" watch "$work/fake-token.kubeconfig" /gone 100 10 >"$out" 2>&1
	wrc=$?
	check "fake: WATCH answered with HTTP 410 gives KUBE_GONE (exit $wrc): $(last)" \
		'^watch GONE rv=100: watch /gone: expired \(410\), relist: too old resource version'
	"$probe" list "$work/fake-token.kubeconfig" /pages >"$out" 2>&1
	check "fake: LIST whose continue token expired (410, escaped token sent) gives KUBE_GONE: $(last)" \
		'^list GONE: GET /pages: expired \(410\), relist: The provided continue parameter is too old'
	"$probe" watch "$work/fake-token.kubeconfig" /trickle 5 10 >"$out" 2>&1
	if [ "$(grep -c '^event' "$out")" = 2 ] && grep -q '^event ADDED x/a rv=7$' "$out" &&
	   grep -q '^event BOOKMARK /' "$out" && grep -qE '^watch GONE rv=9: .*expired \(410 Expired\), relist' "$out"; then
		ok "fake: events trickling in 13-byte writes arrive whole; the ERROR 410 after a BOOKMARK leaves rv=9, KUBE_GONE"
	else
		bad "fake: trickled events:"; sed 's/^/     /' "$out"
	fi
	"$probe" watch "$work/fake-token.kubeconfig" /endless 5 10 >"$out" 2>&1
	check "fake: an event line over 16 MiB is refused: $(last)" '^watch ERROR .*an event longer than 16 MiB'
	t0=$(date +%s%N)
	PROBE_CLIENT_STOP_MS=300 "$probe" list "$work/fake-token.kubeconfig" /slow >"$out" 2>&1
	t1=$(date +%s%N)
	check "fake: the client-wide stop flag cuts a stalled LIST short ($(( (t1 - t0) / 1000000 )) ms): $(last)" \
		'^list STOPPED: GET /slow: stopped$'
	"$probe" req "$work/fake-certfiles.kubeconfig" GET /whoami >"$out" 2>&1
	check "fake: client-certificate / client-key files (RSA, traditional PEM) are presented" '^status 200 rv=1 cn=probe-client$'
	"$probe" req "$work/fake-certdata.kubeconfig" GET /whoami >"$out" 2>&1
	check "fake: client-certificate-data / client-key-data are presented" '^status 200 rv=1 cn=probe-client$'
	"$probe" req "$work/fake-token.kubeconfig" GET /whoami >"$out" 2>&1
	check "fake: 401 without a client certificate names the credentials used: $(last)" \
		'^status 401 .*the apiserver rejected our credentials \(401 Unauthorized; token\)'
	# TLS verification: the real apiserver checked against the fake's CA.
	sed -E "s|^( *certificate-authority: ).*|\1$pki/ca.crt|" "$KUBECONFIG_ADMIN" >"$work/wrongca.kubeconfig"
	"$probe" list "$work/wrongca.kubeconfig" /api/v1/namespaces >"$out" 2>&1
	check "a CA that did not sign the apiserver: TLS verification failure: $(last)" \
		"^list ERROR: TLS verification of $TENANTGUARD_APISERVER failed \(CA file $pki/ca.crt\): .*certificate"
fi

summary
[ "$fail" -eq 0 ]
