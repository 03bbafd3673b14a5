#!/bin/sh
# SPDX-License-Identifier: MIT
# run.sh [SECONDS] -- build every libFuzzer harness and run each for SECONDS
#
# Builds tests/fuzz/fuzz_*.c with clang (-fsanitize=fuzzer,address,undefined)
# against the pure modules of common/, runs each harness for SECONDS
# (default 20) on a corpus in a temporary directory seeded from
# tests/fuzz/corpus/NAME/, and exits 1 when a harness finds a crash, a
# leak or undefined behaviour, printing the reproducer's path.  Works from
# any directory.  Environment: CC (default clang), FUZZ_KEEP=1 keeps the
# work directory, FUZZ_ONLY="jid text" runs only those harnesses.
#
# Reproduce a finding:  WORKDIR/fuzz_NAME REPRODUCER

set -eu

secs=${1:-20}
case $secs in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS]" >&2
	exit 2
	;;
esac

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
CC=${CC:-clang}

if ! command -v "$CC" >/dev/null 2>&1; then
	echo "$0: $CC not found (Debian: apt-get install clang)" >&2
	exit 77
fi
if ! command -v pkg-config >/dev/null 2>&1; then
	echo "$0: pkg-config not found" >&2
	exit 77
fi

version=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' \
    "$top/configure.ac")
: "${version:=0}"

work=$(mktemp -d "${TMPDIR:-/tmp}/xmpptools-fuzz.XXXXXX")

# Same defines as the autotools build; no config.h (configure passes -D).
# The quotes around the version are meant literally: a C string macro.
# shellcheck disable=SC2089
cflags="-g -O1 -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer
	-D_GNU_SOURCE -DPACKAGE_VERSION=\"$version\"
	-I$top/common -I$top/tests/unit
	$(pkg-config --cflags libstrophe popt openssl expat)"
libs=$(pkg-config --libs libstrophe popt openssl expat)
# Expat >= 2.6 (and Debian's patched 2.5) defers reparsing; reader.c turns
# that off when the function exists, as configure finds.
if grep -q XML_SetReparseDeferralEnabled \
	"$(pkg-config --variable=includedir expat)/expat.h" 2>/dev/null; then
	cflags="$cflags -DHAVE_XML_SETREPARSEDEFERRALENABLED"
fi

# The pure modules (session.c and options.c are not fuzzed here).
common_src="$top/common/util.c $top/common/text.c $top/common/jid.c
	$top/common/config.c $top/common/stanza.c $top/common/output.c
	$top/common/reader.c $top/common/exec.c $top/common/xmlguard.c
	$top/common/truststore.c $top/common/migrate.c"

harnesses=${FUZZ_ONLY:-"jid text config output redact reader split guard"}
failed=0
summary=""

for name in $harnesses; do
	src="$here/fuzz_$name.c"
	bin="$work/fuzz_$name"
	log="$work/fuzz_$name.log"
	corpus="$work/corpus/$name"
	artifacts="$work/artifacts/$name/"
	mkdir -p "$corpus" "$artifacts"

	echo "== fuzz_$name: build"
	# shellcheck disable=SC2086,SC2090
	if ! $CC $cflags -o "$bin" "$src" $common_src $libs \
	    >"$work/build_$name.log" 2>&1; then
		cat "$work/build_$name.log" >&2
		echo "fuzz_$name: build failed" >&2
		failed=1
		summary="$summary
fuzz_$name: BUILD FAILED"
		continue
	fi

	seeds=""
	if [ -d "$here/corpus/$name" ]; then
		seeds="$here/corpus/$name"
	fi

	echo "== fuzz_$name: run ${secs}s"
	set +e
	# shellcheck disable=SC2086
	(cd "$work" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -max_len=4096 -print_final_stats=1 \
	    -artifact_prefix="$artifacts" "$corpus" $seeds) >"$log" 2>&1
	rc=$?
	set -e

	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
	    tail -n 1)
	done_line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE)' \
	    "$log" | tail -n 1)
	cov=$(printf '%s\n' "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(printf '%s\n' "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	corp=$(printf '%s\n' "$done_line" |
	    sed -n 's/.*corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p')
	line="fuzz_$name: ${execs:-?} execs, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}"

	repro=$(find "$artifacts" -type f 2>/dev/null | head -n 5)
	if [ "$rc" -ne 0 ] || [ -n "$repro" ]; then
		failed=1
		line="$line: FAILED (exit $rc)"
		echo "fuzz_$name FAILED (exit $rc); last lines of $log:" >&2
		tail -n 40 "$log" >&2
		for r in $repro; do
			echo "reproducer: $r" >&2
			echo "  replay: $bin $r" >&2
		done
	fi
	echo "$line"
	summary="$summary
$line"
done

echo "== summary ($secs s per harness)$summary"
if [ "$failed" -ne 0 ] || [ "${FUZZ_KEEP:-0}" = 1 ]; then
	echo "work directory kept: $work"
else
	rm -rf "$work"
fi
exit "$failed"
