#!/bin/bash
# check.sh -- build xmpptools and run its whole test suite.
#
# Installs the Debian packages it needs when run as root (else names them),
# builds in ./build with warnings as errors, runs `make check` (unit tests
# and the integration tests against a throwaway Prosody on loopback), and
# ends with one line: "N passed, N failed[, N skipped]".
#
# Environment: JOBS (parallel jobs, default: the number of CPUs),
# BUILD (build directory, default ./build), CHECK_ARGS (extra make check
# arguments, e.g. TESTS='tests/integration/t1000-xsend-basic.sh').
set -eu

top=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-$top/build}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

"$top/scripts/deps.sh" test

if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ] ||
	[ "$top/Makefile.am" -nt "$top/Makefile.in" ]; then
	(cd "$top" && ./bootstrap) >/dev/null
fi
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ] || [ "$top/configure" -nt config.status ]; then
	"$top/configure" -q --enable-werror
fi
make -s -j"$jobs" >/dev/null

status=0
find . -name '*.trs' -delete
# shellcheck disable=SC2086
make -s -j"$jobs" check ${CHECK_ARGS:-} >check.out 2>&1 || status=$?

# Count every test point: a unit program is one, each TAP line is one.
results=$(find . -name '*.trs' -exec cat {} + 2>/dev/null | grep '^:test-result:' || true)
pass=$(grep -c -E '^:test-result: (PASS|XFAIL)' <<<"$results" || true)
fail=$(grep -c -E '^:test-result: (FAIL|ERROR|XPASS)' <<<"$results" || true)
skip=$(grep -c '^:test-result: SKIP' <<<"$results" || true)
if [ "$status" != 0 ] || [ "$fail" != 0 ]; then
	grep -E '^(FAIL|ERROR|XPASS)' check.out || cat check.out
	[ -f test-suite.log ] && cat test-suite.log
	[ "$fail" = 0 ] && fail=1
fi
if [ "$skip" != 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" = 0 ]
