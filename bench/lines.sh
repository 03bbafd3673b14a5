#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/lines.sh -- xsend --lines at full speed: throughput, and peak
# memory for 10^3, 10^4 and 10^5 lines (it must not grow with the count:
# input is read only while fewer than 1000 messages wait for the server).
#
# It builds xmpptools (in $BUILD, default ./build), starts a throwaway
# Prosody with tests/integration/lib.sh (debug log off), and pipes N lines
# into `xsend -l -t headline alice@localhost/void`: a headline to a
# resource that is not online is dropped by the server, so the run measures
# xsend and the server's stream processing, not a receiving client or the
# offline store.  Each count runs R times (default 3); the report gives the
# median wall time, lines per second, xsend's own CPU time (user + system,
# median; also per line) and peak RSS (/usr/bin/time -f %M).  Wall time minus xsend's CPU
# time is waiting: for the server, which does most of the work.
#
# Usage: bench/lines.sh [-r RUNS] [COUNT...]   (default counts: 1000 10000 100000)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
runs=3 counts='1000 10000 100000'

# shellcheck source=bench/common.sh
. "$top/bench/common.sh"
conf=$(xt_config alice)

echo "# xsend --lines: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r)"
echo
echo "| lines | runs | median wall s | lines/s | xsend CPU s | CPU µs/line | peak RSS KiB (min-max) |"
echo "|---|---|---|---|---|---|---|"
for n in $counts; do
	seq 1 "$n" | sed 's/^/line number /' >"$XT_DIR/in"
	timed_reset
	for ((i = 0; i < runs; i++)); do
		timed "$XSEND" -C "$conf" -l -t headline alice@localhost/void <"$XT_DIR/in" ||
			{ echo "xsend failed on $n lines" >&2; exit 1; }
	done
	echo "| $n | $runs | $(timed_row "$n") |"
done
