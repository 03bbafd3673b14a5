# bench/common.sh -- sourced (at top level) by bench/lines.sh and
# bench/roster.sh after they set $top: installs what the benchmarks need,
# builds xmpptools in $BUILD (default $top/build) if it is not built, and
# starts a throwaway Prosody (log level info) with tests/integration/lib.sh,
# which stops it and removes its directory on exit.
# shellcheck shell=bash

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
