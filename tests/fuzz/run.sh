#!/usr/bin/env bash
# Runs every libFuzzer harness of FUZZ_BUILD for SECS seconds each ("smoke": a few seconds,
# for make test) from its corpus FUZZ_BUILD/corpus/NAME, seeded from tests/cases by seed.py.
# A crash, a sanitizer report, a leak or a failed property fails the harness; its input is
# kept in FUZZ_BUILD/findings/. Prints "ok NAME: N execs in S s" and "N passed, N failed".
#   usage: tests/fuzz/run.sh FUZZ_BUILD SECS|smoke
set -u
build=${1:?usage: run.sh FUZZ_BUILD SECS|smoke}
secs=${2:-smoke}
[ "$secs" = smoke ] && secs=${FUZZ_SMOKE_SECS:-4}
export TG_FUZZ_ROOT=$(pwd)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
passed=0 failed=0
seeds=$build/seeds
rm -rf "$seeds" && python3 tests/fuzz/seed.py "$seeds" >/dev/null || { echo "FAIL seeds"; echo "0 passed, 1 failed"; exit 1; }
mkdir -p "$build/findings"
for bin in "$build"/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin"); topic=${name#fuzz_}
	corpus=$build/corpus/$topic; mkdir -p "$corpus"
	log=$build/$name.log
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
	    -print_final_stats=1 -artifact_prefix="$build/findings/$name-" \
	    "$corpus" "$seeds/$topic" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ] && [ -n "$execs" ]; then
		echo "ok $name: ${execs} execs in ${secs} s ($(ls "$corpus" | wc -l) in the corpus)"
		passed=$((passed + 1))
	else
		echo "FAIL $name: exit $rc; input in $build/findings/, log $log:"
		grep -E 'ERROR|fuzz property|SUMMARY|Sanitizer|panic' "$log" | head -n 8 | sed 's/^/     /'
		failed=$((failed + 1))
	fi
done
if [ $((passed + failed)) -eq 0 ]; then
	echo "FAIL no harness in $build (make fuzz-build)"; failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
