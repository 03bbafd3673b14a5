#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/xlisten.sh -- xlisten printing a long stream: records per second,
# its own CPU time per record and its peak RSS in each output format, for
# 10,000 and 100,000 records (or the counts given). The RSS must not grow
# with the count: xlisten keeps nothing of a record once it is printed.
#
# The stream is captured once, then replayed:
#
#   capture  on a throwaway Prosody (bench/common.sh), `xlisten -X` as
#            bob@localhost/capture prints, one line each, the stanzas of a
#            few messages of different shapes as the server delivered them:
#            sent by xsend (chat, normal with a subject and a multi-line
#            body, headline, a thread, a URL, non-ASCII text, a 1 KiB body)
#            and by the slixmpp peer of the test suite
#   replay   bench/replay.py, the test suite's fake server, pushes COUNT
#            messages (those stanzas in turn, ids numbered) after xlisten's
#            initial presence, over STARTTLS verified against the test CA;
#            `xlisten -c COUNT` exits after the last record
#
# /usr/bin/time measures xlisten alone, so the feeder's CPU time is not in
# the CPU column; it shares the two CPUs, which is in the wall time. Both
# include the login and logout: the first row, `xlisten -c 1` against a
# feeder of one message, shows what they cost, and the last column takes its
# CPU time off. Records go to a
# file in the temporary directory; after each run the records in it are
# counted (lines, or NUL bytes for -0) and must be COUNT.
#
# Usage: bench/xlisten.sh [-r RUNS] [COUNT...]   (default: 3 runs of 10000 100000)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
runs=3 counts='10000 100000'

# shellcheck source=bench/common.sh
. "$top/bench/common.sh"
XT_CMD_TIMEOUT=3600 # the feeders live for the whole run

# --- capture -------------------------------------------------------------------

aconf=$(xt_config alice)
bconf=$(xt_config bob)
to=bob@localhost/capture
printf 'Line one of the report.\nLine two: 3 hosts up, 0 down.\n\n-- \nbench\n' >"$XT_DIR/multi"
for ((i = 0; i < 16; i++)); do
	printf '2026-12-03T10:%02d:00Z host%d sshd[%d]: Accepted publickey for deploy\n' \
		"$i" "$i" "$((4000 + i))"
done >"$XT_DIR/kib"
sends=(
	"-m|hello"
	"-t|normal|-s|Weekly report|-f|$XT_DIR/multi"
	"-t|headline|-m|disk /var at 91 %"
	"--thread|th-42|-m|a reply in a thread"
	"--url|https://example.org/build/1234|-m|build 1234 passed"
	"-m|Grüße aus Köln, 東京から, שלום, émoji 🎉"
	"-f|$XT_DIR/kib"
)
xt_bg capture "$XLISTEN" -C "$bconf" --resource capture -v -X -c $((${#sends[@]} + 1))
for ((i = 0; i < 1500; i++)); do
	grep -q 'online as' "$XT_DIR/capture.err" 2>/dev/null && break
	_xt_nap
done
grep -q 'online as' "$XT_DIR/capture.err" || bail_out "xlisten (capture) is not online"
for s in "${sends[@]}"; do
	IFS='|' read -r -a args <<<"$s"
	run "$XSEND" -C "$aconf" "${args[@]}" "$to"
	[ "$RC" = 0 ] || bail_out "xsend ${args[*]} failed: $ERR"
done
run xt_peer send --jid carol@localhost --password carol-pw --to "$to" --body "sent by slixmpp"
[ "$RC" = 0 ] || bail_out "the peer's message was not sent: $ERR"
xt_bg_wait capture
[ "$RC" = 0 ] || bail_out "xlisten (capture) exited $RC: $ERR"
cp "$XT_DIR/capture.out" "$XT_DIR/stream.xml"

# --- replay ----------------------------------------------------------------------

# format NAME: the xlisten options of output format NAME, in $fmt.
format() {
	case $1 in
	text) fmt=() ;;
	json) fmt=(-J) ;;
	xml) fmt=(-X) ;;
	null) fmt=(-0) ;;
	format) fmt=(-F '%T %y %f %b') ;;
	esac
}
formats='text json xml null format'

# listen FORMAT N: $runs runs of xlisten -c N in FORMAT against the feeder
# on $port, under timed (timed_reset first); each must print N records.
listen() {
	local i got
	format "$1"
	timed_reset
	for ((i = 0; i < runs; i++)); do
		timed "$XLISTEN" -C "$fconf" --port "$port" -c "$2" "${fmt[@]}" \
			>"$XT_DIR/records" 2>"$XT_DIR/xlisten.err" ||
			bail_out "xlisten ${fmt[*]} -c $2 failed: $(cat "$XT_DIR/xlisten.err")"
		if [ "$1" = null ]; then
			got=$(tr -cd '\0' <"$XT_DIR/records" | wc -c)
		else
			got=$(wc -l <"$XT_DIR/records")
		fi
		[ "$got" = "$2" ] || bail_out "xlisten ${fmt[*]} printed $got records, not $2"
	done
}
fconf=$(xt_fake_config)
_xt_fake_certs

echo "# xlisten, a replayed stream: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r)"
echo
echo "Stream: $(wc -l <"$XT_DIR/stream.xml") captured stanzas of $(wc -c <"$XT_DIR/stream.xml") bytes in turn."
echo
echo "| records | format | runs | median wall s | records/s | xlisten CPU s | CPU µs/record | peak RSS KiB (min-max) | CPU µs/record, login excluded |"
echo "|---|---|---|---|---|---|---|---|---|"

# feeder N: a replay.py pushing N messages per login; sets $port.
feeder() {
	xt_bg "feed$1" "$XT_PYTHON" "$top/bench/replay.py" --stream "$XT_DIR/stream.xml" \
		--count "$1" --mode ok --port-file "$XT_DIR/feed$1.port" \
		--cert "$_xt_fake_cert" --key "$_xt_fake_key"
	xt_wait_file "$XT_DIR/feed$1.port" 120 "feed$1" ||
		bail_out "replay.py did not start: $(cat "$XT_DIR/feed$1.err")"
	read -r port <"$XT_DIR/feed$1.port"
}
feeder_stop() {
	xt_bg_kill "feed$1"
	xt_bg_wait "feed$1" || true # its status is that of the TERM
}

# The cost of login and logout: a feeder of one message (with more, xlisten
# would read the rest of the push while it waits for the server's close).
feeder 1
listen text 1
feeder_stop 1
base=$(median <<<"$tm_cpus")
echo "| 1 | text: login, one record, logout | $runs | $(median <<<"$tm_walls") | – | $base | – | $(timed_row 1 | sed 's/.* //') | – |"
for n in $counts; do
	feeder "$n"
	for f in $formats; do
		listen "$f" "$n"
		echo "| $n | $f${fmt[*]:+ \`${fmt[*]}\`} | $runs | $(timed_row "$n") | $(awk -v n="$n" \
			-v c="$(median <<<"$tm_cpus")" -v b="$base" 'BEGIN { printf "%.1f", (c - b) * 1e6 / (n - 1) }') |"
	done
	feeder_stop "$n"
done
