# SPDX-License-Identifier: Apache-2.0
# bench/lib.sh: what the loopback benchmarks share (sourced by bench_https.sh and
# bench_peer.sh): stopping the servers they start, showing their logs when a run fails,
# and a free loopback port. The caller defines die().

# Stops a process we started: TERM, then KILL after 5 s; reaps it when it is our child.
stop_pid() {
	local pid=$1 i
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
}

# bench_show_logs N LOG...: the last N lines of each non-empty log on stderr, without the
# decision log lines (a failed run's reason is in the rest).
bench_show_logs() {
	local n=$1 log
	shift
	for log in "$@"; do
		[ -s "$log" ] || continue
		echo "--- $log (tail, without decision lines)" >&2
		grep -v '"msg":"decision"' "$log" | tail -n "$n" >&2 || true
	done
}

# bench_traps: the caller's cleanup() on exit, and exit codes 130/143 on INT/TERM (so
# cleanup runs once, with the status the shell reports).
bench_traps() {
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
