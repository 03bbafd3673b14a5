#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/run.sh -- what `make bench` runs: every benchmark the issue asks for
# in one run, as one Markdown report on stdout; the raw results of each part
# stay in the directory it names on stderr.
#
#   one-shot  bench/oneshot.sh: one message, login to logout, for xsend
#             (STARTTLS, --direct-tls, through its agent when built), the
#             minimal libstrophe client bench/minimal, the bare TLS handshake
#             (openssl s_client), /bin/true, sendxmpp and go-sendxmpp;
#             side by side with their ratios to the minimal client and to
#             /bin/true, and what bob (the slixmpp peer) received of each
#   lines     bench/lines.sh 10000: xsend --lines, messages/s, CPU per message
#   xlisten   bench/xlisten.sh: 10,000 and 100,000 records of a replayed
#             stream in each output format, records/s, CPU per record, RSS
#
# Each part starts its own throwaway Prosody (tests/integration/lib.sh) on
# free loopback ports and stops it, and everything it started, when it ends.
#
# Usage: bench/run.sh [-n N] [-p N] [-o DIR] [-I]
#   -n N   timed one-shot runs of xsend and the rows next to it (default 50)
#   -p N   timed runs of sendxmpp and go-sendxmpp (default 20)
#   -o DIR keep the raw results there (default: a new /tmp/xmpptools-bench.*)
#   -I     do not install hyperfine, sendxmpp, go-sendxmpp (skipped, with a note)
# Environment: BUILD (the build directory, default ./build of the source
# tree; `make bench` sets it).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
runs=50 peer_runs=20 out=''
install=()
usage() {
	sed -n '/^# Usage:/,/^#   -I/s/^# \{0,1\}//p' "$0" >&2
	exit "${1:-2}"
}
while getopts n:p:o:Ih opt; do
	case $opt in
	n) runs=$OPTARG ;;
	p) peer_runs=$OPTARG ;;
	o) out=$OPTARG ;;
	I) install=(-I) ;;
	h) usage 0 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ "$#" = 0 ] || usage
if [ -z "$out" ]; then
	out=$(mktemp -d "${TMPDIR:-/tmp}/xmpptools-bench.XXXXXX")
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
echo "bench/run.sh: raw results in $out" >&2

tools=xsend,xsend-direct-tls,xsend-agent,minimal,s_client,true,sendxmpp,go-sendxmpp
bash "$top/bench/oneshot.sh" -n "$runs" -p "$peer_runs" -t "$tools" \
	-o "$out/oneshot" "${install[@]}" >/dev/null
bash "$top/bench/lines.sh" 10000 >"$out/lines.md"
bash "$top/bench/xlisten.sh" >"$out/xlisten.md"

echo "# make bench"
echo
echo "## One message, login to logout (bench/oneshot.sh)"
echo
python3 "$top/bench/oneshot.py" table "$out/oneshot"
for part in lines xlisten; do
	echo
	sed 's/^# /## /' "$out/$part.md"
done
echo
echo "Raw results: $out (oneshot/report.md has the full one-shot report)."
