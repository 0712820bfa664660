#!/usr/bin/env bash
# test_audit: `tenantguard audit --state` reports exactly the planted violations, in order.
set -u
BUILD=${1:-build/asan}
TG="$BUILD/tenantguard"
CFG=tests/audit/config.yaml
pass=0 fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); echo "ok $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1: $2"; }
check() {   # name, expected exit code, command...
	local name=$1 want=$2; shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [ "$rc" -eq "$want" ]; then ok "$name"
	else ko "$name" "exit $rc, want $want: $(head -c 400 "$tmp/err")"; fi
}

python3 tests/audit/make_state.py "$tmp" || { echo "0 passed, 1 failed"; exit 1; }

check "planted violations: exit 1" 1 "$TG" audit --config "$CFG" --state "$tmp/state.json"
# One line per violation: kind, namespace/name, rule, message; header first, summary last.
tail -n +2 "$tmp/out" | head -n -1 | awk '{print $1, $2, $3}' >"$tmp/got.txt"
if diff "$tmp/expected.txt" "$tmp/got.txt" >"$tmp/diff"; then
	ok "exactly the planted violations, oldest object first ($(wc -l <"$tmp/got.txt"))"
else
	ko "exactly the planted violations" "$(cat "$tmp/diff")"
fi
n=$(wc -l <"$tmp/expected.txt")
if tail -n 1 "$tmp/out" | grep -q "^$n violations in [0-9]* objects: namespace-tenant 1, host-ownership 3,"; then
	ok "summary counts the violations by rule"
else
	ko "summary" "$(tail -n 1 "$tmp/out")"
fi
if grep -q "host-collision.*'app.newco.com' overlaps" "$tmp/out" && ! grep -q "tenant1-gateway" <(grep host-collision "$tmp/out" | cut -d' ' -f3-); then
	ok "the collision is reported on the later Ingress, without naming the first owner"
else
	ko "collision" "$(grep host-collision "$tmp/out")"
fi
if grep -q "Tenant tenant3 left out" "$tmp/err"; then ok "a Tenant left out of the config is said on stderr"
else ko "Tenant left out" "$(cat "$tmp/err")"; fi

# The same objects as YAML (read whole) give the report the JSON file (decoded one object at a
# time) gave.
cp "$tmp/out" "$tmp/json-state.out"
if python3 -c 'import json, sys, yaml; yaml.safe_dump(json.load(open(sys.argv[1])), open(sys.argv[2], "w"))' \
    "$tmp/state.json" "$tmp/state.yaml"; then
	check "YAML state: exit 1" 1 "$TG" audit --config "$CFG" --state "$tmp/state.yaml"
	if cmp -s "$tmp/out" "$tmp/json-state.out"; then ok "YAML state: the same report as the JSON one"
	else ko "YAML state" "$(diff "$tmp/json-state.out" "$tmp/out" | head -5)"; fi
else
	ko "YAML state" "could not write it"
fi

check "json: exit 1" 1 "$TG" audit --config "$CFG" --state "$tmp/state.json" --output json
if python3 - "$tmp/out" "$tmp/expected.txt" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
want = [l.split() for l in open(sys.argv[2])]
got = [[v["kind"], (v["namespace"] + "/" if v["namespace"] else "") + v["name"], v["rule"]]
       for v in doc["violations"]]
assert got == want, (got, want)
assert doc["summary"]["violations"] == len(want)
assert sum(doc["summary"]["rules"].values()) == len(want)
tenants = {v["name"]: v["tenant"] for v in doc["violations"]}
assert tenants["foreign"] == "tenant1" and tenants["second"] == "tenant2", tenants
assert tenants["ghost-gateway"] == "" and tenants["unified"] == ""
PY
then ok "json: the same violations, tenants attributed"; else ko "json" "see above"; fi

# Enforcement modes change what admission does, never what the audit sees.
sed 's/^tenants:/enforcement: {default: audit}\ntenants:/' "$CFG" >"$tmp/audit-mode.yaml"
"$TG" audit --config "$tmp/audit-mode.yaml" --state "$tmp/state.json" 2>/dev/null |
    tail -n +2 | head -n -1 | awk '{print $1, $2, $3}' >"$tmp/got2.txt"
if diff -q "$tmp/expected.txt" "$tmp/got2.txt" >/dev/null; then ok "enforcement audit: the same report"
else ko "enforcement audit" "$(diff "$tmp/expected.txt" "$tmp/got2.txt")"; fi

check "the clean look-alikes: exit 0" 0 "$TG" audit --config "$CFG" --state "$tmp/clean.json"
if grep -q "^no violations in [0-9]* objects$" "$tmp/out"; then ok "clean: one summary line"
else ko "clean summary" "$(cat "$tmp/out")"; fi
echo '[]' >"$tmp/empty.json"
check "an empty state is clean" 0 "$TG" audit --state "$tmp/empty.json"

check "missing state file: exit 2" 2 "$TG" audit --state "$tmp/nope.json"
echo '{"kind":' >"$tmp/broken.json"
check "malformed state: exit 2" 2 "$TG" audit --state "$tmp/broken.json"
check "neither --state nor --kubeconfig: exit 2" 2 "$TG" audit
check "both --state and --kubeconfig: exit 2" 2 "$TG" audit --state "$tmp/empty.json" --kubeconfig "$tmp/k"
check "unknown --output: exit 2" 2 "$TG" audit --state "$tmp/empty.json" --output yaml
echo 'systemDomain: [x]' >"$tmp/bad.yaml"
check "bad config: exit 2" 2 "$TG" audit --config "$tmp/bad.yaml" --state "$tmp/empty.json"
check "unreadable kubeconfig: exit 2" 2 "$TG" audit --kubeconfig "$tmp/nope.kubeconfig"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
