#!/usr/bin/env bash
# Runs every libFuzzer harness of FUZZ_BUILD, one at a time, from its seeds (seeded from
# tests/cases by seed.py). A crash, a sanitizer report, a leak or a failed property fails the
# harness; its input is kept in FUZZ_BUILD/findings/. Prints "ok NAME: N execs in S s ..."
# and "N passed, N failed".
#   usage: tests/fuzz/run.sh FUZZ_BUILD SECS|smoke
# SECS: a campaign of SECS seconds per harness (FUZZ_RUNS: stop a harness sooner, at that
# many execs), growing FUZZ_BUILD/corpus/NAME. smoke (make test): the same fixed mutations
# of the seeds alone every time (-seed=1, FUZZ_SMOKE_RUNS execs, kube fewer), into a corpus
# thrown away, so a campaign's corpus never changes what make test runs.
set -u
build=${1:?usage: run.sh FUZZ_BUILD SECS|smoke}
secs=${2:-smoke}
export TG_FUZZ_ROOT=$(pwd)
# A 16 MiB quarantine instead of 256: still far more than one exec frees, so a use after
# free inside an exec is caught, but freed memory is reused instead of faulted in afresh
# (review, state and config ran twice as fast).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:quarantine_size_mb=16}
passed=0 failed=0
seeds=$build/seeds
rm -rf "$seeds" && python3 tests/fuzz/seed.py "$seeds" >/dev/null || { echo "FAIL seeds"; echo "0 passed, 1 failed"; exit 1; }
mkdir -p "$build/findings"
for bin in "$build"/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin"); topic=${name#fuzz_}
	# -timeout is wall time: a kube exec is several TLS round trips between threads, and at
	# nice 19 on a loaded machine each wait for a CPU can take seconds (no CPU is spent).
	timeout=10
	[ "$topic" = kube ] && timeout=120
	if [ "$secs" = smoke ]; then
		corpus=$build/smoke/$topic; rm -rf "$corpus"
		runs=${FUZZ_SMOKE_RUNS:-2000}
		[ "$topic" = kube ] && runs=$((runs / 4))   # its 352 seeds and some mutations
		limits=(-seed=1 -runs="$runs" -max_total_time=120)
	else
		corpus=$build/corpus/$topic
		limits=(-max_total_time="$secs" ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"})
	fi
	mkdir -p "$corpus"
	log=$build/$name.log
	start=$SECONDS
	"$bin" "${limits[@]}" -timeout="$timeout" -rss_limit_mb=2048 -max_len=65536 \
	    -print_final_stats=1 -artifact_prefix="$build/findings/$name-" \
	    "$corpus" "$seeds/$topic" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ] && [ -n "$execs" ]; then
		echo "ok $name: ${execs} execs in $((SECONDS - start)) s," \
		    "$(grep -E '^#[0-9]+.*(DONE|INITED)' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')," \
		    "$(ls "$corpus" | wc -l) in the corpus"
		passed=$((passed + 1))
	else
		echo "FAIL $name: exit $rc; input in $build/findings/, log $log:"
		grep -E 'ERROR|fuzz property|SUMMARY|Sanitizer|panic|ALARM' "$log" | head -n 8 | sed 's/^/     /'
		failed=$((failed + 1))
	fi
done
if [ $((passed + failed)) -eq 0 ]; then
	echo "FAIL no harness in $build (make fuzz-build)"; failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
