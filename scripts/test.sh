#!/bin/bash
# test.sh - build ntpverify and run every test: unit and integration, first
# in a normal build (-Werror), then again under ASan+UBSan with leak
# checking. Installs what is missing (Debian 12, as root). Under CI=true an
# integration test that cannot run fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

bash scripts/deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
status=0

run_suite() { # name builddir cmake-args...
	local name=$1 dir=$2
	shift 2
	echo "=== $name: configure and build ($dir)"
	cmake -S "$top" -B "$dir" -DNTPVERIFY_WERROR=ON "$@" >/dev/null
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

if [ "$status" -eq 0 ]; then
	echo "test.sh: all suites passed"
else
	echo "test.sh: FAILED" >&2
fi
exit "$status"
