#!/usr/bin/env bash
# test_cli: the command-line contract of DESIGN §5 (exit codes, stdin, --state formats).
set -u
BUILD=${1:-build/asan}
TG="$BUILD/tenantguard"
pass=0 fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

check() {   # name, expected exit code, command...
	local name=$1 want=$2; shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [ "$rc" -eq "$want" ]; then pass=$((pass + 1)); echo "ok $name"
	else fail=$((fail + 1)); echo "FAIL $name: exit $rc, want $want: $(head -c 400 "$tmp/err")"; fi
}
expect_out() {   # name, file, pattern
	if grep -q -- "$3" "$2"; then pass=$((pass + 1)); echo "ok $1"
	else fail=$((fail + 1)); echo "FAIL $1: '$3' not in $(head -c 400 "$2")"; fi
}

review() {   # namespace, host -> AdmissionReview of the reference's tenant1-api-ingress
	cat <<JSON
{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"cli-1",
 "kind":{"group":"networking.k8s.io","version":"v1","kind":"Ingress"},
 "resource":{"group":"networking.k8s.io","version":"v1","resource":"ingresses"},
 "name":"tenant1-api-ingress","namespace":"$1","operation":"CREATE",
 "userInfo":{"username":"alice","groups":["system:authenticated"]},
 "object":{"apiVersion":"networking.k8s.io/v1","kind":"Ingress",
  "metadata":{"name":"tenant1-api-ingress","namespace":"$1",
   "annotations":{"higress.io/destination":"tenant1-service.default.svc.cluster.local:8080"}},
  "spec":{"ingressClassName":"higress","rules":[{"host":"$2","http":{"paths":[{"path":"/v1",
   "pathType":"Prefix","backend":{"service":{"name":"tenant1-gateway","port":{"number":80}}}}]}}]}}}}
JSON
}

review tenant1-gateway api.tenant1.aigw.example.com >"$tmp/allowed.json"
review tenant2-gateway api.tenant1.aigw.example.com >"$tmp/denied.json"
review tenant1-gateway app.newco.com >"$tmp/newco.json"

check "review: reference Ingress allowed in tenant1-gateway exits 0" 0 "$TG" review "$tmp/allowed.json"
expect_out "review: response carries the uid" "$tmp/out" '"uid":"cli-1"'
expect_out "review: response is admission.k8s.io/v1" "$tmp/out" '"apiVersion":"admission.k8s.io/v1"'
check "review: same Ingress in tenant2-gateway exits 1" 1 "$TG" review "$tmp/denied.json"
expect_out "review: denial names host-ownership" "$tmp/out" '\[host-ownership\]'
check "review: reads stdin with -" 1 sh -c "\"$TG\" review - <\"$tmp/denied.json\""
check "review: reads stdin without a file argument" 0 sh -c "\"$TG\" review <\"$tmp/allowed.json\""
echo '{"apiVersion":' >"$tmp/broken.json"
check "review: malformed JSON exits 2" 2 "$TG" review "$tmp/broken.json"
expect_out "review: malformed JSON has a one-line reason" "$tmp/err" 'malformed JSON'
echo '{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}' >"$tmp/v1beta1.json"
check "review: v1beta1 exits 2" 2 "$TG" review "$tmp/v1beta1.json"
check "review: missing file exits 2" 2 "$TG" review "$tmp/nope.json"
check "review: unknown option exits 2" 2 "$TG" review --bogus "$tmp/allowed.json"
python3 -c 'print("[" * 100000 + "]" * 100000)' >"$tmp/deep.json"
check "review: deeply nested body exits 2" 2 "$TG" review "$tmp/deep.json"

# --state: the same collision through each accepted file format.
cat >"$tmp/state.yaml" <<'YAML'
apiVersion: v1
kind: List
items:
- apiVersion: networking.k8s.io/v1
  kind: Ingress
  metadata: {name: shop, namespace: tenant2-gateway}
  spec:
    rules: [{host: "*.newco.com"}]
YAML
cat >"$tmp/state-multi.yaml" <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: tenant2-gateway}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: tenant2-gateway}
spec:
  rules: [{host: "*.newco.com"}]
YAML
echo '[{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"shop","namespace":"tenant2-gateway"},"spec":{"rules":[{"host":"*.newco.com"}]}}]' >"$tmp/state.json"
check "review: first-come host is free without state" 0 "$TG" review "$tmp/newco.json"
check "review: --state YAML List makes it a collision" 1 "$TG" review --state "$tmp/state.yaml" "$tmp/newco.json"
expect_out "review: collision names the rule" "$tmp/out" '\[host-collision\]'
expect_out "review: collision does not name the other namespace" "$tmp/out" 'overlaps'
if grep -q 'tenant2-gateway\|shop' "$tmp/out"; then fail=$((fail + 1)); echo "FAIL collision message leaks the other tenant"; else pass=$((pass + 1)); echo "ok collision message does not leak the other tenant"; fi
check "review: --state multi-document YAML" 1 "$TG" review --state "$tmp/state-multi.yaml" "$tmp/newco.json"
check "review: --state JSON array" 1 "$TG" review --state "$tmp/state.json" "$tmp/newco.json"
echo 'items: [1, 2' >"$tmp/bad-state.yaml"
check "review: unreadable --state exits 2" 2 "$TG" review --state "$tmp/bad-state.yaml" "$tmp/newco.json"

# --config and check-config.
cat >"$tmp/deny.yaml" <<'YAML'
systemDomain: aigw.example.com
unregisteredDomains: deny
tenants:
  - name: tenant1
    customDomains: ["*.customer.com"]
YAML
check "review: --config with unregisteredDomains deny refuses app.newco.com" 1 "$TG" review --config "$tmp/deny.yaml" "$tmp/newco.json"
check "check-config: a good file exits 0" 0 "$TG" check-config "$tmp/deny.yaml"
expect_out "check-config: says configuration OK" "$tmp/out" 'configuration OK'
printf 'systemDomain: aigw.example.com\ntenants: []\ntennants: []\n' >"$tmp/typo.yaml"
check "check-config: an unknown key exits non-zero" 1 "$TG" check-config "$tmp/typo.yaml"
expect_out "check-config: the reason has file:line" "$tmp/err" 'typo.yaml:3'
check "check-config: the shipped test configs are valid" 0 sh -c "for f in tests/configs/*.yaml; do \"$TG\" check-config \"\$f\" || exit 1; done"
check "review: a bad --config exits 2" 2 "$TG" review --config "$tmp/typo.yaml" "$tmp/allowed.json"

check "version exits 0" 0 "$TG" version
expect_out "version prints the name" "$tmp/out" 'tenantguard'
check "no command exits 2" 2 "$TG"
check "unknown command exits 2" 2 "$TG" frobnicate
check "serve --kubeconfig is refused until live state exists" 2 "$TG" serve --kubeconfig /dev/null

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
