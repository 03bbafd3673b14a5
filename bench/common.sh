# SPDX-License-Identifier: MIT
# bench/common.sh -- sourced (at top level) by bench/lines.sh,
# bench/roster.sh and bench/xlisten.sh after they set $top: installs what
# the benchmarks need, builds xmpptools in $BUILD (default $top/build) if it
# is not built, and starts a throwaway Prosody (log level info) with
# tests/integration/lib.sh, which stops it and removes its directory on exit.
# It also has what they share: the options, and the arithmetic (median,
# timed, timed_row).
#
# Options, before anything starts: [-r RUNS] [COUNT...] for a script that
# sets $runs (the default number of runs) before sourcing this file,
# [COUNT...] for the others; the COUNTs replace the script's $counts.
# shellcheck shell=bash

while getopts "${runs:+r:}" opt; do
	case $opt in
	r) runs=$OPTARG ;;
	*)
		echo "usage: $0 ${runs:+[-r RUNS] }[COUNT...]" >&2
		exit 2
		;;
	esac
done
if [ "$#" -ge "$OPTIND" ]; then
	counts=${*:OPTIND}
fi
for n in ${runs:-1} $counts; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "$0: not a number: $n" >&2; exit 2; }
done

build=${BUILD:-$top/build}
"$top/scripts/deps.sh" demo
[ -x /usr/bin/time ] || "$top/scripts/deps.sh" time 2>/dev/null ||
	apt-get install -y -q time >/dev/null
if [ ! -x "$build/cmd/xsend" ]; then
	[ -x "$top/configure" ] || (cd "$top" && ./bootstrap) >/dev/null 2>&1
	mkdir -p "$build"
	(cd "$build" && { [ -f Makefile ] || "$top/configure" -q; } && make -s -j"$(nproc)") >/dev/null
fi

top_srcdir=$top top_builddir=$build
export XT_SERVER_LOG_LEVEL=info
# shellcheck source=tests/integration/lib.sh
. "$top/tests/integration/lib.sh"
_xt_done=1
xt_server_start

# median: the middle one of the numbers on stdin (one per line or space
# separated), by numeric sort.
median() {
	local v
	v=$(tr ' ' '\n' | sed '/^$/d' | sort -n)
	sed -n "$((($(wc -l <<<"$v") + 1) / 2))p" <<<"$v"
}

# timed CMD [ARGS...]: run CMD under /usr/bin/time and add its wall time
# (s), peak RSS (KiB) and own CPU time (user + system, s) to the lists
# $tm_walls, $tm_rss and $tm_cpus (empty them with timed_reset). Returns
# the status of CMD.
timed_reset() {
	tm_walls='' tm_rss='' tm_cpus=''
}
timed() {
	local rc=0 w m u s
	/usr/bin/time -f '%e %M %U %S' -o "$XT_DIR/time" "$@" || rc=$?
	read -r w m u s < <(tail -n 1 "$XT_DIR/time")
	tm_walls+="$w " tm_rss+="$m "
	tm_cpus+="$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }') "
	return "$rc"
}

# timed_row N: the cells "median wall s | N per s | median CPU s | CPU µs
# per item | RSS min-max KiB" of the runs in the lists, N items per run.
timed_row() {
	local wall cpu rmin rmax
	wall=$(median <<<"$tm_walls")
	cpu=$(median <<<"$tm_cpus")
	rmin=$(tr ' ' '\n' <<<"$tm_rss" | sed '/^$/d' | sort -n | head -n 1)
	rmax=$(tr ' ' '\n' <<<"$tm_rss" | sed '/^$/d' | sort -n | tail -n 1)
	awk -v n="$1" -v t="$wall" -v c="$cpu" -v lo="$rmin" -v hi="$rmax" 'BEGIN {
		printf "%s | %d | %s | %.1f | %s-%s", t, (t > 0 ? n / t : 0), c, c * 1e6 / n, lo, hi
	}'
}
