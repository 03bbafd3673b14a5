#!/bin/bash
# SPDX-License-Identifier: MIT
# check.sh -- build xmpptools and run its whole test suite.
#
# Installs the Debian packages it needs when run as root (else names them),
# then runs every layer of the test suite:
#   1. a build with warnings as errors, and `make check`: the unit tests and
#      the integration tests against a throwaway Prosody on loopback (one of
#      them runs the tools under valgrind);
#   2. the integration tests that use a server again, against a throwaway
#      ejabberd (XMPP_SERVER=ejabberd), valgrind's excepted;
#   3. the same suite built with AddressSanitizer and UBSan (on Prosody);
#   4. a short run of each libFuzzer harness;
#   5. the source format (clang-format, the checked-in .clang-format).
# It ends with one line: "N passed, N failed[, N skipped]", counting every
# test point (a unit program is one, each TAP line is one, each fuzz
# harness and the format check are one).
#
# Environment: JOBS (parallel jobs, default: the number of CPUs), BUILD
# (build directory, default ./build; the sanitizer build goes to
# $BUILD-asan), LAYERS (default "werror ejabberd asan fuzz format"), FUZZ_SECONDS
# (default 10), CHECK_ARGS (extra make check arguments, e.g.
# TESTS='tests/integration/t1000-xsend-deliver.sh').
set -u

top=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-$top/build}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
layers=${LAYERS:-werror ejabberd asan fuzz format}

pass=0 fail=0 skip=0
suite_tests= # TESTS for the next suite (empty: all)

"$top/scripts/deps.sh" test || {
	echo "0 passed, 1 failed"
	exit 1
}

if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ] ||
	[ "$top/Makefile.am" -nt "$top/Makefile.in" ]; then
	(cd "$top" && ./bootstrap) >/dev/null 2>&1 || {
		echo "check.sh: ./bootstrap failed" >&2
		echo "0 passed, 1 failed"
		exit 1
	}
fi

# count DIR: add up the results of the .trs files under DIR.
count() {
	local results p f s
	results=$(find "$1" -name '*.trs' -exec cat {} + 2>/dev/null | grep '^:test-result:' || true)
	p=$(grep -c -E '^:test-result: (PASS|XFAIL)' <<<"$results" || true)
	f=$(grep -c -E '^:test-result: (FAIL|ERROR|XPASS)' <<<"$results" || true)
	s=$(grep -c '^:test-result: SKIP' <<<"$results" || true)
	pass=$((pass + p))
	fail=$((fail + f))
	skip=$((skip + s))
	LAST_FAIL=$f
}

# suite NAME DIR [CONFIGURE ARGS...]: configure, build and make check.
suite() {
	local name=$1 dir=$2 status=0
	shift 2
	echo "== $name: building in $dir" >&2
	mkdir -p "$dir"
	(
		cd "$dir" || exit 1
		if [ ! -f Makefile ] || [ "$top/configure" -nt config.status ] ||
			[ "$(cat .check-args 2>/dev/null)" != "$*" ]; then
			"$top/configure" -q "$@" >configure.out 2>&1 || {
				cat configure.out >&2
				exit 1
			}
			printf '%s' "$*" >.check-args
		fi
		make -s -j"$jobs" >make.out 2>&1 || {
			cat make.out >&2
			exit 1
		}
	) || {
		echo "== $name: the build failed" >&2
		fail=$((fail + 1))
		return
	}
	echo "== $name: make check" >&2
	find "$dir" -name '*.trs' -delete
	# shellcheck disable=SC2086 # CHECK_ARGS is a list of make arguments
	(cd "$dir" && make -s -j"$jobs" check ${suite_tests:+"TESTS=$suite_tests"} \
		${CHECK_ARGS:-} >check.out 2>&1) || status=$?
	count "$dir"
	if [ "$status" != 0 ] || [ "$LAST_FAIL" != 0 ]; then
		grep -E '^(FAIL|ERROR|XPASS)' "$dir/check.out" >&2 || cat "$dir/check.out" >&2
		[ -f "$dir/test-suite.log" ] && cat "$dir/test-suite.log" >&2
		[ "$LAST_FAIL" = 0 ] && fail=$((fail + 1))
	fi
}

for layer in $layers; do
	case $layer in
	werror)
		suite "warnings as errors" "$build" --enable-werror
		;;
	ejabberd)
		# The scripts that start a server; valgrind and the package build
		# stay on one.
		suite_tests=$(cd "$top" && grep -l '^xt_server_start' tests/integration/t*.sh |
			grep -v -e valgrind -e -deb | tr '\n' ' ')
		XMPP_SERVER=ejabberd suite "integration on ejabberd" "$build" --enable-werror
		suite_tests=
		;;
	asan)
		export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
		export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=99
		suite "ASan+UBSan" "$build-asan" --enable-werror \
			CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
			LDFLAGS="-fsanitize=address,undefined"
		unset ASAN_OPTIONS UBSAN_OPTIONS
		;;
	fuzz)
		echo "== fuzz: ${FUZZ_SECONDS:-10} s per harness" >&2
		if command -v clang >/dev/null; then
			out=$("$top/tests/fuzz/run.sh" "${FUZZ_SECONDS:-10}" 2>&1)
			status=$?
			n=$(grep -E '^fuzz_[a-z_]+: .*execs' <<<"$out" | grep -v FAILED |
				cut -d: -f1 | sort -u | wc -l)
			pass=$((pass + n))
			if [ "$status" != 0 ]; then
				printf '%s\n' "$out" >&2
				fail=$((fail + 1))
			fi
		else
			skip=$((skip + 1))
		fi
		;;
	format)
		echo "== format: clang-format --dry-run" >&2
		if command -v clang-format >/dev/null; then
			if (cd "$top" && clang-format --dry-run --Werror \
				common/*.[ch] cmd/*.c tests/unit/*.[ch] tests/fuzz/*.c); then
				pass=$((pass + 1))
			else
				fail=$((fail + 1))
			fi
		else
			skip=$((skip + 1))
		fi
		;;
	*)
		echo "check.sh: unknown layer '$layer'" >&2
		fail=$((fail + 1))
		;;
	esac
done

if [ "$skip" != 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" = 0 ]
