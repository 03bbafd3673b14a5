#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/roster.sh -- xroster on a large roster: how long the server and
# xroster take, and how much memory xroster uses, for rosters of 200 and
# 2,000 contacts (or the counts given).
#
# For each count it makes a roster file of N contacts (name and one group
# each) and, on one account of a throwaway Prosody (lib.sh, log level
# info), runs in order:
#
#   sync        N adds into the empty roster
#   list        xroster -J of the N contacts
#   again       the same sync: nothing to change
#   prune       sync --prune with an empty file: N removes (the roster is
#               empty again for the next count)
#
# and reports, per step, the wall time, xroster's own CPU time (user +
# system) and its peak RSS (/usr/bin/time).  Wall time minus xroster's CPU
# time is waiting for the server: each roster set makes Prosody write the
# whole roster again, so a sync grows with N squared on the server's side.
#
# Usage: bench/roster.sh [COUNT...]   (default counts: 200 2000)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
counts='200 2000'

# shellcheck source=bench/common.sh
. "$top/bench/common.sh"
conf=$(xt_config bob)
: >"$XT_DIR/empty.jsonl"

# step NAME EXPECTED-STATUS XROSTER-ARGS...: run xroster under
# /usr/bin/time and print a table row.
step() {
	local name=$1 want=$2 rc=0 w m u s
	shift 2
	/usr/bin/time -f '%e %M %U %S' -o "$XT_DIR/time" \
		"$XROSTER" -C "$conf" "$@" >"$XT_DIR/out" 2>"$XT_DIR/err" || rc=$?
	if [ "$rc" != "$want" ]; then
		echo "xroster $* ended with $rc, not $want: $(cat "$XT_DIR/err")" >&2
		exit 1
	fi
	read -r w m u s <"$XT_DIR/time"
	echo "| $n | $name | $w | $(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }') | $m |"
}

echo "# xroster, large rosters: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r)"
echo
echo "| contacts | step | wall s | xroster CPU s | peak RSS KiB |"
echo "|---|---|---|---|---|"
for n in $counts; do
	"$XT_PYTHON" -c '
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"jid": "c%05d@example.net" % i, "name": "Contact %d" % i,
                      "groups": ["G%d" % (i % 7)]}))
' "$n" >"$XT_DIR/roster.jsonl"
	# -w: the deadline counts from the last answer; 600 s leaves room for
	# a slow server without letting a stuck one hang the benchmark.
	step sync 0 -w 600 sync "$XT_DIR/roster.jsonl"
	step list 0 -J
	[ "$(wc -l <"$XT_DIR/out")" = "$n" ] ||
		{ echo "xroster -J listed $(wc -l <"$XT_DIR/out") contacts, not $n" >&2; exit 1; }
	step again 0 sync "$XT_DIR/roster.jsonl"
	step prune 0 -w 600 sync --prune "$XT_DIR/empty.jsonl"
done
