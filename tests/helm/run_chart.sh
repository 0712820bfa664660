#!/usr/bin/env bash
# The chart suite (tests/helm/test_chart.py) with helm and promtool built from the Go module
# proxy on first use and cached by version (tests/e2e/build_tool.sh).
#   usage: tests/helm/run_chart.sh BUILD_DIR      last line: "N passed, N failed"
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build/asan}
helm=$("$here/../e2e/build_tool.sh" helm) || { echo "FAIL build helm"; echo "0 passed, 1 failed"; exit 1; }
promtool=$("$here/../e2e/build_tool.sh" promtool) || { echo "FAIL build promtool"; echo "0 passed, 1 failed"; exit 1; }
exec python3 "$here/test_chart.py" "$build" "$helm" "$promtool"
