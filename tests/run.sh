#!/usr/bin/env bash
# Runs every test program and adds up their "N passed, N failed" lines into one.
set -u
BUILD=${BUILD:-build/asan}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
total_pass=0 total_fail=0 broken=0
log=$(mktemp); trap 'rm -f "$log"' EXIT

run() {   # name, command...
	local name=$1; shift
	echo "== $name"
	"$@" >"$log" 2>&1
	local rc=$?
	grep -v '^ok ' "$log"
	local summary
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -z "$summary" ]; then
		echo "FAIL $name: exited $rc without a summary line"; broken=$((broken + 1)); return
	fi
	local p f
	p=${summary%% passed*}; f=${summary#*, }; f=${f%% failed*}
	total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: exited $rc"; broken=$((broken + 1))
	fi
}

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] && run "$(basename "$t")" "$t"
done
patches="$BUILD/mutate-patches.jsonl"
run check-style bash tests/tools/check_style.sh
run cases "$BUILD"/tests/run_cases tests/cases tests/configs "$patches"
run patches-python-jsonpatch /usr/bin/python3 tests/tools/check_patches.py "$patches"
run cli bash tests/cli/test_cli.sh "$BUILD"
run audit bash tests/audit/test_audit.sh "$BUILD"
run https python3 tests/https/test_https.py "$BUILD"
run abuse python3 tests/https/test_abuse.py "$BUILD"
# libFuzzer harnesses (make fuzz-build), each a few seconds from its seeds: a regression smoke.
run fuzz-smoke bash tests/fuzz/run.sh "${FUZZ_BUILD:-build/fuzz}" smoke
# 60 s of reviews, config rewrites and certificate rotations (make soak: 10 min).
run soak python3 tests/https/soak.py "$BUILD" 60
# A real kube-apiserver: the first run builds it from the Go module proxy (cached afterwards).
run e2e bash tests/e2e/run_e2e.sh "$BUILD"
run kube-client bash tests/e2e/run_kube_client.sh "$BUILD"
run live bash tests/e2e/run_live.sh "$BUILD"
run race bash tests/e2e/run_race.sh "$BUILD"
run race-kubectl bash tests/e2e/run_race_kubectl.sh "$BUILD"
run restart bash tests/e2e/run_restart.sh "$BUILD"
run leader bash tests/e2e/run_leader.sh "$BUILD"
run tenants bash tests/e2e/run_tenants.sh "$BUILD"
# The Helm chart: offline (lint, template, schema, rules) and installed on the real apiserver.
run chart bash tests/helm/run_chart.sh "$BUILD"
run helm bash tests/e2e/run_helm.sh "$BUILD"
run audit-e2e bash tests/e2e/run_audit.sh "$BUILD"
run escape bash tests/e2e/run_escape.sh "$BUILD"
run vap bash tests/e2e/run_vap.sh "$BUILD"
run faults bash tests/e2e/run_faults.sh "$BUILD"
run clientauth bash tests/e2e/run_clientauth.sh "$BUILD"

total_fail=$((total_fail + broken))
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
