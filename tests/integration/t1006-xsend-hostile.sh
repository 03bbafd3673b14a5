#!/bin/bash
# SPDX-License-Identifier: MIT
# t1006-xsend-hostile: xsend against a server that misbehaves at each step
# (tests/peer/fakeserver.py): every run ends by its deadline with the
# documented exit status and one line on stderr naming what happened, in
# little CPU time, and sends no credential where it must not.
#
# Each case is 5 test points (xt_hostile_check): exit status, one stderr
# line, the line matches an ERE, wall time <= --timeout + 1 s, CPU < 3 s.
# The cases that wait for a deadline run in the background at the same time;
# the ones that may burn CPU run one after the other meanwhile.
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

xt_need openssl
plan 133

conf=$(xt_fake_config)
xt_fake_rogue_cert

# Text a terminal must never get raw: C1 controls (NEL, CSI), a bidi
# override, a carriage return, and what looks like a second record.
HOSTILE=$'C1:\xc2\x85\xc2\x9b31m bidi:\xe2\x80\xaeevil CR:\rback fake:\n2026-01-01T00:00:00Z\tchat\tadmin@localhost\tforged'

ONE=(--timeout 5 --retries 0 -m hi bob@localhost)

# bg NAME MODE [FAKE_OPTION...] -- [XSEND_ARG...]: a case in the background.
bg() {
	xt_fake_bg "$@"
}

# count_in FILE ERE: how many times ERE occurs in FILE.
count_in() {
	grep -o -a -E -e "$2" "$1" | wc -l
}

# --- the cases that wait: all at once, in the background ---------------------

bg silent silent -- "$XSEND" -C "$conf" "${ONE[@]}"
bg stall stall-tls -- "$XSEND" -C "$conf" "${ONE[@]}"
bg nostarttls no-starttls -- "$XSEND" -C "$conf" "${ONE[@]}"
bg tlsfail starttls-failure -- "$XSEND" -C "$conf" "${ONE[@]}"
bg rogue ok --cert "$XT_ROGUE_CERT" --key "$XT_ROGUE_KEY" -- "$XSEND" -C "$conf" "${ONE[@]}"
bg saslfail sasl-failure -- "$XSEND" -C "$conf" "${ONE[@]}"
bg conflict login-stream-error:conflict -- "$XSEND" -C "$conf" "${ONE[@]}"
bg seeother login-stream-error:see-other-host -- "$XSEND" -C "$conf" "${ONE[@]}"
bg shutdown login-stream-error:system-shutdown -- "$XSEND" -C "$conf" \
	--timeout 20 --retries 2 -m hi bob@localhost
bg dtd dtd -- "$XSEND" -C "$conf" "${ONE[@]}"
bg pi pi -- "$XSEND" -C "$conf" "${ONE[@]}"
bg deep deep -- "$XSEND" -C "$conf" "${ONE[@]}"
bg badutf8 bad-utf8 -- "$XSEND" -C "$conf" "${ONE[@]}"
bg drip drip -- "$XSEND" -C "$conf" "${ONE[@]}"
bg drop drop -- "$XSEND" -C "$conf" "${ONE[@]}"
bg nobarrier no-barrier -- "$XSEND" -C "$conf" "${ONE[@]}"
bg noclose no-close -- "$XSEND" -C "$conf" "${ONE[@]}"
bg bounce bounce -- "$XSEND" -C "$conf" "${ONE[@]}"
bg hbounce bounce --text "$HOSTILE" -- "$XSEND" -C "$conf" "${ONE[@]}"

# --- the cases that may burn CPU: one at a time, meanwhile ---------------------

xt_fake_start billion-laughs
run xt_measured laughs "$XSEND" -C "$conf" "${ONE[@]}" --port "$XT_FAKE_PORT"
xt_hostile_check laughs "billion laughs in the stream header after SASL success (9, restricted XML)" \
	9 'restricted'

xt_fake_start huge
run xt_measured huge "$XSEND" -C "$conf" "${ONE[@]}" --port "$XT_FAKE_PORT"
xt_hostile_check huge "a 10 MB stanza after login (9, over the --max-stanza limit)" \
	9 'limit|too large|max-stanza'

xt_fake_start amp-bomb
run xt_measured amp "$XSEND" -C "$conf" "${ONE[@]}" --port "$XT_FAKE_PORT"
xt_hostile_check amp "two million &amp; in one body (9, over the --max-stanza limit)" \
	9 'limit|too large|max-stanza'

# --- the cases that read standard input -------------------------------------------

printf "%s\n" "<iq type='get' to='localhost' id='q1'><query xmlns='jabber:iq:version'/></iq>" \
	>"$XT_DIR/iq.xml"
xt_fake_start ok
run_stdin "$XT_DIR/iq.xml" xt_measured rawiq "$XSEND" -C "$conf" --timeout 5 --raw \
	--port "$XT_FAKE_PORT"
xt_hostile_check rawiq "an iq error in reply to xsend --raw (8, service-unavailable)" \
	8 'service-unavailable'

printf 'first line\nsecond line\n' >"$XT_DIR/lines.txt"
for mode in drop-once drop-once-mid; do
	xt_fake_start "$mode"
	run_stdin "$XT_DIR/lines.txt" xt_measured "$mode" "$XSEND" -C "$conf" --timeout 5 \
		--retries 2 --lines bob@localhost --port "$XT_FAKE_PORT"
	xt_hostile_check "$mode" "PLAIN-only server, $mode, xsend --lines reconnects and logs in again (0)" \
		0 '' 6 2
	is "$(count_in "$XT_FAKE_LOG" '<body>first line</body>') $(count_in "$XT_FAKE_LOG" '<body>second line</body>')" \
		"1 1" "$mode: each line reached the server once"
done

# --- the background cases ------------------------------------------------------------

xt_bg_wait silent
xt_hostile_check silent "a server that never speaks (7, timed out)" 7 'timed out'
xt_bg_wait stall
xt_hostile_check stall "a TLS handshake that stalls (7, timed out)" 7 'timed out'
xt_bg_wait nostarttls
xt_hostile_check nostarttls "no STARTTLS offered (5, TLS)" 5 'TLS'
unlike "$(cat "${XT_CASE_LOG[nostarttls]}")" '<auth' "no STARTTLS: no <auth> sent"
xt_bg_wait tlsfail
xt_hostile_check tlsfail "STARTTLS answered with <failure/> (5, TLS)" 5 'TLS'
xt_bg_wait rogue
xt_hostile_check rogue "a certificate the test CA did not sign (5, TLS certificate)" \
	5 'TLS|certificate'
xt_bg_wait saslfail
xt_hostile_check saslfail "SASL <failure><not-authorized/> (6, authentication)" 6 'authentication'
xt_bg_wait conflict
xt_hostile_check conflict "stream error conflict after login (9, stream error)" \
	9 'stream error.*conflict'
xt_bg_wait seeother
xt_hostile_check seeother "stream error see-other-host after login (9, names the host)" \
	9 'see-other-host.*127\.0\.0\.9'
xt_bg_wait shutdown
xt_hostile_check shutdown "stream error system-shutdown after each login, --retries 2 (4, system-shutdown)" \
	4 'system-shutdown' 21 3
n=$(count_in "${XT_CASE_EVENTS[shutdown]}" '^connect')
ok "system-shutdown: at most 3 connections (saw $n)" test "$n" -le 3
n=$(count_in "${XT_CASE_LOG[shutdown]}" '<message')
ok "system-shutdown: the message sent at most 3 times (saw $n)" test "$n" -le 3
xt_bg_wait dtd
xt_hostile_check dtd "a DTD before the first stream header (9, restricted XML)" 9 'restricted'
unlike "$(cat "${XT_CASE_LOG[dtd]}")" '<auth' "DTD: no <auth> sent"
like "$(cat "${XT_CASE_LOG[dtd]}")" 'restricted-xml' "DTD: the client sent a restricted-xml stream error"
xt_bg_wait pi
xt_hostile_check pi "a processing instruction after login (9, restricted XML)" \
	9 'restricted|processing instruction'
xt_bg_wait deep
xt_hostile_check deep "10,000 nested elements in one stanza (9, limit)" \
	9 'limit|deep|nest|depth|too large'
xt_bg_wait badutf8
xt_hostile_check badutf8 "invalid UTF-8 in a stanza (9, malformed)" \
	9 'malformed|invalid|not well-formed|UTF-8'
xt_bg_wait drip
xt_hostile_check drip "a stanza dripped a byte a second (7, timed out at the deadline)" \
	7 'timed out|in time'
xt_bg_wait drop
xt_hostile_check drop "the connection dropped mid-stanza, --retries 0 (4, connection)" \
	4 'closed|lost|connection'
xt_bg_wait nobarrier
xt_hostile_check nobarrier "no answer to the barrier ping (7, timed out)" 7 'timed out|in time'
xt_bg_wait noclose
xt_hostile_check noclose "no </stream:stream> in answer to the client's (0, within 4 s, login included)" 0 '' 4
xt_bg_wait bounce
xt_hostile_check bounce "a bounce (8, names the recipient and the condition)" \
	8 'bob@localhost.*service-unavailable'
xt_bg_wait hbounce
xt_hostile_check hbounce "a bounce whose <text/> has control, bidi and CR characters (8)" \
	8 'bob@localhost'
if xt_raw_controls "$ERR" tab; then
	fail "hostile bounce text: no raw control or bidi character on stderr" "stderr: $(_xt_q "${ERR:0:300}")"
else
	pass "hostile bounce text: no raw control or bidi character on stderr"
fi
