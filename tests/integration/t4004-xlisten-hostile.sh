#!/bin/bash
# SPDX-License-Identifier: MIT
# t4004-xlisten-hostile: xlisten against a server that misbehaves at each
# step (tests/peer/fakeserver.py): every run ends by its deadline with the
# documented exit status and one line on stderr naming what happened, in
# little CPU time; what the server pushes reaches the terminal escaped.
#
# Each case is 5 test points (xt_hostile_check): exit status, one stderr
# line, the line matches an ERE, wall time <= --timeout + 1 s, CPU < 3 s.
# The cases that wait for a deadline run in the background at the same time;
# the ones that may burn CPU run one after the other meanwhile.
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

xt_need openssl
plan 137

conf=$(xt_fake_config)
xt_fake_rogue_cert

# Text a terminal must never get raw: C1 controls (NEL, CSI), a bidi
# override, a carriage return, and what looks like a second record.
HOSTILE=$'C1:\xc2\x85\xc2\x9b31m bidi:\xe2\x80\xaeevil CR:\rback fake:\n2026-01-01T00:00:00Z\tchat\tadmin@localhost\tforged'
HOSTILE_RES=$'res\xc2\x9b\xe2\x80\xae\r\tx\ny'

ONE=(-c 1 --timeout 5 --retries 0)

# bg NAME MODE [FAKE_OPTION...] -- [XLISTEN_ARG...]: a case in the background.
bg() {
	xt_fake_bg "$@"
}

# count_in FILE ERE: how many times ERE occurs in FILE.
count_in() {
	grep -o -a -E -e "$2" "$1" | wc -l
}

# --- the cases that wait: all at once, in the background ---------------------

# The longest first: an incomplete stanza must end the run 30 s after its
# first byte, even without --timeout. (The test's own limit is 40 s.)
XT_CMD_TIMEOUT=40 bg drip drip -- "$XLISTEN" -C "$conf" -c 1 --retries 0
bg silent silent -- "$XLISTEN" -C "$conf" "${ONE[@]}"
bg stall stall-tls -- "$XLISTEN" -C "$conf" "${ONE[@]}"
bg nostarttls no-starttls -- "$XLISTEN" -C "$conf" "${ONE[@]}"
bg tlsfail starttls-failure -- "$XLISTEN" -C "$conf" "${ONE[@]}"
bg rogue ok --cert "$XT_ROGUE_CERT" --key "$XT_ROGUE_KEY" -- "$XLISTEN" -C "$conf" "${ONE[@]}"
bg saslfail sasl-failure -- "$XLISTEN" -C "$conf" "${ONE[@]}"
bg conflict login-stream-error:conflict -- "$XLISTEN" -C "$conf" "${ONE[@]}"
bg seeother login-stream-error:see-other-host -- "$XLISTEN" -C "$conf" "${ONE[@]}"
bg shutdown login-stream-error:system-shutdown -- "$XLISTEN" -C "$conf" \
	-c 1 --timeout 20 --retries 2
bg dtd dtd -- "$XLISTEN" -C "$conf" "${ONE[@]}"
bg pi pi -- "$XLISTEN" -C "$conf" "${ONE[@]}"
bg deep deep -- "$XLISTEN" -C "$conf" "${ONE[@]}"
bg badutf8 bad-utf8 -- "$XLISTEN" -C "$conf" "${ONE[@]}"
bg drop drop -- "$XLISTEN" -C "$conf" "${ONE[@]}"
bg noclose no-close --push -- "$XLISTEN" -C "$conf" "${ONE[@]}"
bg hostile ok --push --text "$HOSTILE" --push-from "bob@localhost/$HOSTILE_RES" -- \
	"$XLISTEN" -C "$conf" "${ONE[@]}"
# No answer to the keepalive ping (xlisten's barrier): the connection is
# taken for dead after one more interval, and without retries that is 4.
bg nobarrier no-barrier -- "$XLISTEN" -C "$conf" -c 1 --keepalive 1 --timeout 5 --retries 0
# A bounce coming in: a message error (no body: --all) is a record, with
# its condition.
bg bounce ok --push --push-error service-unavailable --text 'no such user' -- \
	"$XLISTEN" -C "$conf" "${ONE[@]}" --all -J
# An iq error reply: the server refuses to enable carbons; xlisten warns
# and listens on.
bg iqerr ok --push -- "$XLISTEN" -C "$conf" "${ONE[@]}" --carbons
bg plain drop-once --push --text 'after the reconnect' -- "$XLISTEN" -C "$conf" \
	-c 1 --timeout 20 --retries 2
bg plainmid drop-once-mid --push --text 'after the reconnect' -- "$XLISTEN" -C "$conf" \
	-c 1 --timeout 20 --retries 2

# --- the cases that may burn CPU: one at a time, meanwhile ---------------------

xt_fake_start billion-laughs
run xt_measured laughs "$XLISTEN" -C "$conf" "${ONE[@]}" --port "$XT_FAKE_PORT"
xt_hostile_check laughs "billion laughs in the stream header after SASL success (9, restricted XML)" \
	9 'restricted'

xt_fake_start huge
run xt_measured huge "$XLISTEN" -C "$conf" "${ONE[@]}" --port "$XT_FAKE_PORT"
xt_hostile_check huge "a 10 MB stanza after login (9, over the --max-stanza limit)" \
	9 'limit|too large|max-stanza'
is "$(wc -c <"$XT_DIR/last.out")" 0 "a 10 MB stanza: nothing printed"

xt_fake_start amp-bomb
run xt_measured amp "$XLISTEN" -C "$conf" "${ONE[@]}" --port "$XT_FAKE_PORT"
xt_hostile_check amp "two million &amp; in one body (9, over the --max-stanza limit)" \
	9 'limit|too large|max-stanza'

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
# Logins, not TCP connections: before a reconnection that may resume the
# stream, xlisten first checks that the address is not refusing (the
# session's probe_refused), a connection without a word of XML.
n=$(count_in "${XT_CASE_EVENTS[shutdown]}" '^online')
ok "system-shutdown: at most 3 logins (saw $n)" test "$n" -le 3
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
xt_bg_wait drop
xt_hostile_check drop "the connection dropped mid-stanza, --retries 0 (4, connection)" \
	4 'closed|lost|connection'
xt_bg_wait noclose
xt_hostile_check noclose "no </stream:stream> in answer to the client's (0, within 4 s, login included)" 0 '' 4
xt_bg_wait hostile
xt_hostile_check hostile "a pushed message with control, bidi and CR characters in body and resource (0)" 0 ''
is "$(wc -l <"$XT_DIR/hostile.out")" 1 "hostile text: exactly one record line"
if xt_raw_controls "$OUT"; then
	fail "hostile text: no raw C1, bidi or CR byte on stdout" "stdout: $(_xt_q "${OUT:0:300}")"
else
	pass "hostile text: no raw C1, bidi or CR byte on stdout"
fi
xt_bg_wait nobarrier
xt_hostile_check nobarrier "no answer to the keepalive ping, --keepalive 1 --retries 0 (4, connection)" \
	4 'no answer to a ping'
xt_bg_wait bounce
xt_hostile_check bounce "a message error pushed to xlisten (0, one record)" 0 ''
is "$(xt_json "$OUT" type) $(xt_json "$OUT" error_condition) $(xt_json "$OUT" error_text)" \
	"error service-unavailable no such user" "bounce: a record of type error with its condition and text"
xt_bg_wait iqerr
xt_hostile_check iqerr "an iq error in reply to enabling carbons (0, a warning, listens on)" 0 '' 6 2
like "$ERR" 'warning: the server refused to enable carbons' "iq error: the warning names what was refused"
like "$OUT" $'\thello$' "iq error: the message pushed afterwards is printed"
xt_bg_wait plain
xt_hostile_check plain "PLAIN-only server, the first connection dropped after login: reconnects, logs in again (0)" \
	0 '' 6 2
like "$OUT" $'\tafter the reconnect$' "reconnect: the message pushed after it is printed"
xt_bg_wait plainmid
xt_hostile_check plainmid "PLAIN-only server, the first connection dropped mid-stanza: reconnects, logs in again (0)" \
	0 '' 6 2
like "$OUT" $'\tafter the reconnect$' "reconnect mid-stanza: the message pushed after it is printed"
xt_bg_wait drip
xt_hostile_check drip "a stanza dripped a byte a second, no --timeout (9 within 33 s: 30 s from its first byte, login included)" \
	9 'stanza|timed out|incomplete|slow' 33
