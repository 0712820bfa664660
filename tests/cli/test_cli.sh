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

# render: shapes kubectl apply needs, in both outputs, and objects /validate accepts from an admin.
check "render baseline tenant1 (yaml) exits 0" 0 "$TG" render baseline tenant1
cp "$tmp/out" "$tmp/baseline.yaml"
check "render baseline tenant1 --output json exits 0" 0 "$TG" render baseline tenant1 --output json
cp "$tmp/out" "$tmp/baseline.json"
check "render bridges --output json exits 0" 0 "$TG" render bridges --output json
cp "$tmp/out" "$tmp/bridges.json"
check "render bridges (yaml) exits 0" 0 "$TG" render bridges
cp "$tmp/out" "$tmp/bridges.yaml"
check "render policies --output json exits 0" 0 "$TG" render policies --output json --exclude-namespace batch
cp "$tmp/out" "$tmp/policies.json"
check "render policies: a policy and a binding per stateless rule, messages with the rule id" 0 python3 - "$tmp/policies.json" <<'PY'
import json, sys
objs = json.load(open(sys.argv[1]))
objs = objs.get("items", objs) if isinstance(objs, dict) else objs
rules = ["service-type", "service-external-ips", "ingress-class", "ingress-annotation",
         "entry-admin", "managed-object", "tenant-label", "namespace-tenant"]
kinds = sorted((o["kind"], o["metadata"]["name"]) for o in objs)
want = sorted([(k, "tenantguard-" + r) for r in rules
               for k in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")])
assert kinds == want, kinds
for o in objs:
    assert o["apiVersion"] == "admissionregistration.k8s.io/v1", o
    if o["kind"] == "ValidatingAdmissionPolicy":
        rule = o["metadata"]["name"][len("tenantguard-"):]
        for v in o["spec"]["validations"]:
            assert v["messageExpression"].startswith("'[%s] " % rule), v
    else:
        assert o["spec"]["validationActions"] == ["Deny"], o
        sel = o["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"]
        assert sel == [{"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                        "values": ["kube-system", "tenantguard-system", "batch"]}], sel
PY
check "render baseline of an unknown tenant exits 2" 2 "$TG" render baseline nobody
check "render with a bad --output exits 2" 2 "$TG" render bridges --output xml
check "render baseline uses --config quotas" 0 "$TG" render baseline tenant1 --config "$tmp/deny.yaml" --output json
check "rendered objects have the shapes kubectl apply needs" 0 python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
base = json.load(open(d + "/baseline.json"))
assert base["apiVersion"] == "v1" and base["kind"] == "List", base
np, rq = base["items"]
assert np["apiVersion"] == "networking.k8s.io/v1" and np["kind"] == "NetworkPolicy"
assert np["metadata"] == {"name": "tenantguard-isolation", "namespace": "tenant1-gateway",
    "labels": {"app.kubernetes.io/managed-by": "tenantguard", "tenantguard.io/tenant": "tenant1"}}
assert np["spec"]["podSelector"] == {} and np["spec"]["policyTypes"] == ["Ingress"]
assert np["spec"]["ingress"] == [{"from": [{"podSelector": {}}, {"namespaceSelector": {"matchLabels":
    {"kubernetes.io/metadata.name": "higress-system"}}}]}], np["spec"]
assert rq["apiVersion"] == "v1" and rq["kind"] == "ResourceQuota"
assert rq["metadata"]["name"] == "tenantguard-quota" and rq["metadata"]["namespace"] == "tenant1-gateway"
assert rq["spec"]["hard"] == {"requests.cpu": "5", "limits.cpu": "5", "requests.memory": "4Gi",
    "limits.memory": "4Gi", "requests.storage": "10Gi"}, rq["spec"]
br = json.load(open(d + "/bridges.json"))["items"]
assert [b["metadata"]["name"] for b in br] == ["tenant1-gateway", "tenant2-gateway"]
for b, t in zip(br, ["tenant1", "tenant2"]):
    assert b["apiVersion"] == "v1" and b["kind"] == "Service"
    assert b["metadata"]["namespace"] == "higress-system"
    assert b["spec"]["type"] == "ExternalName"
    assert b["spec"]["externalName"] == "%s-gateway.%s-gateway.svc.cluster.local" % (t, t)
    assert b["spec"]["ports"][0]["port"] == 80
PY
# The YAML output reads back (through tenantguard's own --state reader) as the same objects.
check "rendered YAML reads back as state" 0 "$TG" review --state "$tmp/baseline.yaml" "$tmp/allowed.json"
check "rendered bridge YAML reads back as state" 0 "$TG" review --state "$tmp/bridges.yaml" "$tmp/allowed.json"
for kind in baseline bridges; do
	python3 - "$tmp/$kind.json" >"$tmp/$kind-reviews" <<'PY'
import json, sys
for i, o in enumerate(json.load(open(sys.argv[1]))["items"]):
    g, _, v = o["apiVersion"].rpartition("/")
    print(json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "r%d" % i, "kind": {"group": g, "version": v, "kind": o["kind"]},
        "namespace": o["metadata"]["namespace"], "name": o["metadata"]["name"], "operation": "CREATE",
        "userInfo": {"username": "system:serviceaccount:tenantguard-system:tenantguard"}, "object": o}}))
PY
	n=0
	while IFS= read -r line; do
		n=$((n + 1))
		printf '%s' "$line" >"$tmp/one.json"
		check "rendered $kind object $n is allowed by /validate for the webhook's account" 0 "$TG" review "$tmp/one.json"
	done <"$tmp/$kind-reviews"
done

# The ConfigMap shipped in manifests/ carries exactly the built-in default.
python3 - manifests/configmap.yaml >"$tmp/shipped.yaml" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
start = lines.index("  config.yaml: |") + 1
print("\n".join(l[4:] for l in lines[start:]))
PY
check "check-config accepts the ConfigMap in manifests/" 0 "$TG" check-config "$tmp/shipped.yaml"
check "the shipped ConfigMap decides like the built-in default" 1 "$TG" review --config "$tmp/shipped.yaml" "$tmp/denied.json"
check "the shipped ConfigMap allows what the default allows" 0 "$TG" review --config "$tmp/shipped.yaml" "$tmp/allowed.json"

# Tenant objects in --state add tenants, merged as the live server merges them.
cat >"$tmp/state-tenants.yaml" <<'YAML'
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: tenant3, creationTimestamp: "2024-01-01T00:00:00Z"}
spec: {customDomains: ["*.newco.com"], backendNamespaces: [default]}
---
apiVersion: tenantguard.io/v1alpha1
kind: Tenant
metadata: {name: tenant4, creationTimestamp: "2024-02-01T00:00:00Z"}
spec: {customDomains: ["api.newco.com"]}
YAML
check "review: a Tenant object in --state reserves its domain" 1 "$TG" review --state "$tmp/state-tenants.yaml" "$tmp/newco.json"
expect_out "review: ... as host-ownership" "$tmp/out" '\[host-ownership\]'
expect_out "review: a Tenant left out of the merge is reported" "$tmp/err" 'Tenant tenant4 left out: .*overlaps'
review tenant3-gateway shop.newco.com >"$tmp/tenant3.json"
check "review: the merged tenant may use its domain in its namespace" 0 "$TG" review --state "$tmp/state-tenants.yaml" "$tmp/tenant3.json"
# The same through JSON, as kubectl get -o json writes it (items before kind), which review
# streams: the Tenants gathered first, the rest indexed against the config they make.
cat >"$tmp/state-tenants.json" <<'JSON'
{"apiVersion": "v1", "items": [
 {"apiVersion": "tenantguard.io/v1alpha1", "kind": "Tenant",
  "metadata": {"name": "tenant4", "creationTimestamp": "2024-02-01T00:00:00Z"},
  "spec": {"customDomains": ["api.newco.com"]}},
 {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
  "metadata": {"name": "shop", "namespace": "tenant3-gateway"}, "spec": {"rules": [{"host": "www.newco.com"}]}},
 {"apiVersion": "tenantguard.io/v1alpha1", "kind": "Tenant",
  "metadata": {"name": "tenant3", "creationTimestamp": "2024-01-01T00:00:00Z", "labels": {"a": "\"}"}},
  "spec": {"customDomains": ["*.newco.com"], "backendNamespaces": ["default"]}}],
 "kind": "List", "metadata": {"resourceVersion": ""}}
JSON
check "review: a Tenant object in a JSON --state reserves its domain" 1 "$TG" review --state "$tmp/state-tenants.json" "$tmp/newco.json"
expect_out "review: ... as host-ownership (JSON)" "$tmp/out" '\[host-ownership\]'
expect_out "review: a Tenant left out of the merge is reported (JSON)" "$tmp/err" 'Tenant tenant4 left out: .*overlaps'
check "review: the merged tenant may use its domain in its namespace (JSON)" 0 "$TG" review --state "$tmp/state-tenants.json" "$tmp/tenant3.json"
review tenant3-gateway www.newco.com >"$tmp/tenant3-www.json"
check "review: the JSON state's Ingress is indexed against the merged tenants" 0 "$TG" review --state "$tmp/state-tenants.json" "$tmp/tenant3-www.json"
echo '[{"apiVersion":"tenantguard.io/v1alpha1","kind":"Tenant","metadata":{"name":"tenant3"},"spec":{"customDomains":["*.newco.com"]}},{"metadata":{"name":"x"}}]' >"$tmp/state-nokind.json"
check "review: a JSON --state object without a kind exits 2" 2 "$TG" review --state "$tmp/state-nokind.json" "$tmp/newco.json"
expect_out "review: ... named by its position" "$tmp/err" "state: $tmp/state-nokind.json: object \\[1\\] has no kind"
if grep -q 'left out' "$tmp/err"; then fail=$((fail + 1)); echo "FAIL a refused state merged its Tenants"; else pass=$((pass + 1)); echo "ok a refused state merges none of its Tenants"; fi
echo 'tenants: [' >"$tmp/broken-config.yaml"
check "review: a broken config is said before a bad --state" 2 "$TG" review --config "$tmp/broken-config.yaml" --state "$tmp/state-nokind.json" "$tmp/newco.json"
expect_out "review: ... as a config error" "$tmp/err" '^tenantguard: config: '

# The manifests: the Tenant CRD is structural and wired into kustomize, the webhook and RBAC.
check "manifests: CRD, webhook rule and RBAC for Tenants" 0 python3 - manifests <<'PY'
import sys, yaml
d = sys.argv[1]
load = lambda f: [x for x in yaml.safe_load_all(open(d + "/" + f)) if x]
assert "crd-tenants.yaml" in yaml.safe_load(open(d + "/kustomization.yaml"))["resources"]
(crd,) = load("crd-tenants.yaml")
assert crd["metadata"]["name"] == "tenants.tenantguard.io" and crd["spec"]["scope"] == "Cluster"
assert crd["spec"]["names"]["kind"] == "Tenant" and "tn" in crd["spec"]["names"]["shortNames"]
(v,) = crd["spec"]["versions"]
assert v["name"] == "v1alpha1" and v["subresources"] == {"status": {}}
assert [c["name"] for c in v["additionalPrinterColumns"]] == ["Namespace", "Domains", "Ready", "Violations", "Age"]
def structural(s, path):   # every node says its type (or is int-or-string), as apiextensions requires
    assert "type" in s or s.get("x-kubernetes-int-or-string"), path
    for k, sub in s.get("properties", {}).items():
        structural(sub, path + "." + k)
    if "items" in s:
        structural(s["items"], path + "[]")
    if isinstance(s.get("additionalProperties"), dict):
        structural(s["additionalProperties"], path + "{}")
schema = v["schema"]["openAPIV3Schema"]
structural(schema, "")
cond = schema["properties"]["status"]["properties"]["conditions"]["items"]
assert set(cond["required"]) == {"type", "status", "lastTransitionTime", "reason", "message"}
(validate,) = [w for doc in load("webhooks.yaml") if doc["kind"] == "ValidatingWebhookConfiguration" for w in doc["webhooks"]]
assert any(r["apiGroups"] == ["tenantguard.io"] and r["resources"] == ["tenants"] and
           set(r["operations"]) == {"CREATE", "UPDATE"} for r in validate["rules"])
rules = [r for doc in load("rbac.yaml") if doc["kind"] in ("ClusterRole", "Role") for r in doc["rules"]]
def can(group, res, *verbs):
    return any(group in r["apiGroups"] and res in r["resources"] and set(verbs) <= set(r["verbs"]) for r in rules)
assert can("tenantguard.io", "tenants", "get", "list", "watch")
assert can("tenantguard.io", "tenants/status", "get", "update", "patch")
assert can("", "events", "create", "patch") and can("events.k8s.io", "events", "create", "patch")
assert can("coordination.k8s.io", "leases", "get", "create", "update")
assert can("", "namespaces", "get", "list", "watch", "create", "patch", "update", "delete")
assert can("", "configmaps", "get", "list", "create", "update")   # claims, and their release
for g, r in (("networking.k8s.io", "networkpolicies"), ("", "resourcequotas"), ("", "services"),
             ("networking.k8s.io", "ingresses")):
    assert can(g, r, "list", "watch", "create", "patch", "update", "delete"), r
PY

check "version exits 0" 0 "$TG" version
expect_out "version prints the name" "$tmp/out" 'tenantguard'
check "no command exits 2" 2 "$TG"
check "unknown command exits 2" 2 "$TG" frobnicate
check "serve --kubeconfig with --state is refused (one source of state)" 2 "$TG" serve --kubeconfig /dev/null --state /dev/null
check "serve --fallback-policies without the reconciler is refused" 2 "$TG" serve --fallback-policies --kubeconfig /dev/null --no-reconcile
check "serve --fallback-policies with a state file is refused (no reconciler to apply them)" 2 "$TG" serve --fallback-policies --state /dev/null

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
