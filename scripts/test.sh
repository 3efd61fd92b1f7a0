#!/bin/bash
# test.sh - build ntpverify and run every test: unit and integration, first
# in a normal build (-Werror), then again under ASan+UBSan with leak
# checking. Installs what is missing (Debian 12, as root). Under CI=true an
# integration test that cannot run fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

# The host's time service before anything runs: the suite must leave it
# exactly so (no NTP daemon installed, removed, enabled or started).
time_service_state() {
	local p u
	for p in ntpsec chrony ntp openntpd systemd-timesyncd; do
		printf '%s=%s\n' "$p" "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || echo absent)"
	done
	for u in ntpsec.service chrony.service systemd-timesyncd.service; do
		printf '%s=%s\n' "$u" "$(systemctl is-enabled "$u" 2>/dev/null || true)"
	done
}
time_before=$(time_service_state)
# Files outside build/ that git does not track, and the tests' temporary
# folders: the same after the run as before it.
left_behind() {
	git -C "$top" status --porcelain --untracked-files=all --ignored=matching 2>/dev/null |
		grep -v ' build/' | grep '^[?!]' || true
	ls -d /tmp/ntpverify-* /var/cache/ntpverify-test 2>/dev/null || true
}
left_before=$(left_behind)

bash scripts/deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
status=0

run_suite() { # name builddir cmake-args...
	local name=$1 dir=$2
	shift 2
	echo "=== $name: configure and build ($dir)"
	cmake -S "$top" -B "$dir" -DNTPVERIFY_WERROR=ON \
		-DNTPVERIFY_PEER_CACHE="$top/build/peers" "$@" >/dev/null
	cmake --build "$dir" -j "$jobs"
	echo "=== $name: tests"
	if ! (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 600); then
		status=1
	fi
}

run_suite "release" build/test
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run_suite "asan+ubsan" build/asan -DNTPVERIFY_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug

# libFuzzer targets (tests/fuzz, docs/fuzzing.md): clang, every library
# instrumented; a short bounded run of each from the seeds made out of
# tests/data. A crash, leak, timeout or invariant failure fails the run.
# Corpora, logs and crash artifacts stay in the build directory.
fuzz_seconds=${FUZZ_SECONDS:-20}
run_fuzz() { # builddir
	local dir=$1 spec t max_len log execs rate cov
	echo "=== fuzz: configure and build ($dir)"
	CC=clang cmake -S "$top" -B "$dir" -DNTPVERIFY_WERROR=ON \
		-DNTPVERIFY_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null
	cmake --build "$dir" -j "$jobs" --target fuzz
	echo "=== fuzz: ${fuzz_seconds}s per target"
	for spec in m6_reply:16384 varlist:14976 ntp3:2048 ntpauth:2048 config:8192 status_json:8192; do
		t=${spec%%:*} max_len=${spec#*:} log=$dir/fuzz_$t.log
		rm -rf "$dir/corpus/$t"
		mkdir -p "$dir/corpus/$t" "$dir/artifacts"
		if "$dir/tests/fuzz/fuzz_$t" -max_total_time="$fuzz_seconds" \
			-max_len="$max_len" -rss_limit_mb=1024 -timeout=5 \
			-detect_leaks=1 -print_final_stats=1 \
			-artifact_prefix="$dir/artifacts/$t-" \
			"$dir/corpus/$t" "$dir/tests/fuzz/seeds/$t" >"$log" 2>&1; then
			execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
			rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
			cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)
			echo "fuzz_$t: $execs executions, $rate/s, $cov"
		else
			tail -n 40 "$log" >&2
			echo "fuzz_$t: FAILED (log $log, input in $dir/artifacts)" >&2
			status=1
		fi
	done
}
run_fuzz build/fuzz

time_after=$(time_service_state)
if [ "$time_before" != "$time_after" ]; then
	echo "test.sh: the host's time service changed during the run:" >&2
	diff <(printf '%s\n' "$time_before") <(printf '%s\n' "$time_after") >&2 || true
	status=1
fi
left_after=$(left_behind)
left_new=$(comm -13 <(printf '%s\n' "$left_before" | sort) <(printf '%s\n' "$left_after" | sort) | sed '/^$/d')
if [ -n "$left_new" ]; then
	echo "test.sh: left behind outside build/ (or made by something running beside this suite):" >&2
	printf '%s\n' "$left_new" >&2
	status=1
fi

if [ "$status" -eq 0 ]; then
	echo "test.sh: all suites passed"
else
	echo "test.sh: FAILED" >&2
fi
exit "$status"
