#!/bin/bash
# SPDX-License-Identifier: MIT
# t4000-xlisten-output: what xlisten prints for each message an independent
# client (slixmpp) sends, in every output format: the default text, -J (JSON
# parsed by python's json module), -X (one stanza per line, sent back with
# xsend --raw), -F templates and -0; every message type, subject, thread,
# multi-line and hostile bodies (C1 controls, bidi overrides, CR, a forged
# record), delay stamps (XEP-0203 and the legacy jabber:x:delay), OOB URLs;
# and what reaches a terminal.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp script
plan 55

xt_server_start
aconf=$(xt_config alice)
bconf=$(xt_config bob)

# xl_start NAME [ARGS...]: xlisten as $xl_user@localhost/NAME (bob unless
# set) in the background, output in $XT_DIR/NAME.out; returns once it is
# online (xl_wait).
xl_user=bob
xl_start() {
	local name=$1
	shift
	xt_bg "$name" "$XLISTEN" -C "$XT_DIR/$xl_user.conf" --resource "$name" "$@"
	xl_wait "$name"
}

# xl_wait NAME: wait until $xl_user@localhost/NAME answers a ping (alice
# asks with xsend --raw): then it is online and the server has processed
# its initial presence.
xl_wait() {
	local i
	printf "<iq type='get' to='%s@localhost/%s' id='ready'><ping xmlns='urn:xmpp:ping'/></iq>\n" \
		"$xl_user" "$1" >"$XT_DIR/ping-$1.xml"
	for ((i = 0; i < 100; i++)); do
		run_stdin "$XT_DIR/ping-$1.xml" "$XSEND" -C "$aconf" --raw
		[ "$RC" = 0 ] && return 0
		kill -0 "$(xt_bg_pid "$1")" 2>/dev/null || break
		sleep 0.1
	done
	bail_out "xlisten $1 is not online: $(cat "$XT_DIR/$1.err")"
}

# raw_unsafe FILE: prints (as \uHHHH) every character of FILE that must not
# reach a terminal from the network: C0 controls but tab and newline, DEL,
# C1 controls, bidi and other format controls (Cf), line and paragraph
# separators. Empty output: none. (Python, so the locale plays no part.)
raw_unsafe() {
	"$XT_PYTHON" -c '
import sys, unicodedata
text = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
bad = sorted({c for c in text if (c < " " and c not in "\t\n\0") or "\x7f" <= c <= "\x9f"
              or unicodedata.category(c) in ("Cf", "Zl", "Zp")})
print(" ".join("\\u%04x" % ord(c) for c in bad))' "$1"
}

# records FILE [SEP]: how many records (lines, or NUL-terminated with SEP 0)
# FILE holds so far.
records() {
	if [ "${2:-}" = 0 ]; then
		tr -cd '\0' <"$1" | wc -c
	else
		wc -l <"$1"
	fi
}

# wait_records FILE N [SEP]: poll until FILE holds N records (at most 15 s).
# The listeners write to files, so stdio would buffer them fully: seeing
# each record while xlisten still runs shows that it flushes every one.
wait_records() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(records "$1" "${3:-}")" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# The listeners: one per format, each with its own resource; every message
# goes to all of them (full JIDs, so the routing does not depend on the
# server's choice among resources). They run until SIGTERM.
N=10 # records each listener prints (the chat state below is not one)
xl_start text -w 45
xl_start json -w 45 -J
xl_start xml -w 45 -X
xl_start tmpl -w 45 -F '%T|%f|%i|%y|%t|%s|%h|%r|%u|%%|%b'
xl_start nul -w 45 -0

sent_fail=0
t_start=$(date -u +%s)
# psend ARGS...: alice sends one message to every listener.
psend() {
	run xt_peer send --jid alice@localhost --password alice-pw \
		--to bob@localhost/text --to bob@localhost/json --to bob@localhost/xml \
		--to bob@localhost/tmpl --to bob@localhost/nul "$@"
	if [ "$RC" != 0 ]; then
		sent_fail=$((sent_fail + 1))
		diag "peer send $* failed ($RC): $ERR"
	fi
}

NS_STANZAS=urn:ietf:params:xml:ns:xmpp-stanzas
body1=$'line one\nline two & <three>'
# C1 controls (NEL, CSI), bidi overrides and isolates, a line separator, a
# backslash, a tab, a CR, and what would be a second, forged record.
body4=$'evil\u0085\u009b[31m\u202eRTL\u2066iso\u2069 \u2028sep\\back\ttab\ncr\rhere\n2030-01-01T00:00:00Z\tchat\tboss@localhost\tforged'
# The server reads CR as newline (XML end-of-line handling), so that is what
# a receiver can get.
body4_got=${body4//$'\r'/$'\n'}

psend --id m1 --type chat --subject 'Sub <1>' --thread th-1 --body "$body1"
psend --id m2 --body plain
psend --id m3 --type headline --subject Head --body news
psend --id m4 --type normal --body "$body4"
psend --id m5 --type error --body 'bounced text' \
	--extra-xml "<error xmlns='jabber:client' type='cancel'><item-not-found xmlns='$NS_STANZAS'/><text xmlns='$NS_STANZAS'>gone away</text></error>"
psend --id m6 --type chat --subject 'only subject'
# A chat state without body or subject is no record (without --all).
psend --id m7 --type chat --extra-xml "<active xmlns='http://jabber.org/protocol/chatstates'/>"
psend --id m8 --type chat --body 'with url' \
	--extra-xml "<delay xmlns='urn:xmpp:delay' stamp='2001-02-03T04:05:06Z'/>" \
	--extra-xml "<x xmlns='jabber:x:oob'><url>https://example.org/a?b=c&amp;d</url></x>"
psend --id m9 --type chat --body legacy \
	--extra-xml "<x xmlns='jabber:x:delay' stamp='20010203T04:05:07'/>"
psend --id m10 --type chat --body offset \
	--extra-xml "<delay xmlns='urn:xmpp:delay' stamp='2001-02-03T05:05:08.123+01:00'/>"
psend --id m11 --type chat --thread th-11 --body $'tail \\'
is "$sent_fail" 0 "the peer sent the eleven messages to the five listeners"
t_end=$(date -u +%s)

flushed=
for l in text json xml tmpl nul; do
	sep=
	[ $l = nul ] && sep=0
	wait_records "$XT_DIR/$l.out" $N $sep && flushed+="$l "
done
is "$flushed" "text json xml tmpl nul " "each listener printed (and flushed) $N records while running"
for l in text json xml tmpl nul; do
	xt_bg_kill $l TERM
done
for l in text json xml tmpl nul; do
	xt_bg_wait $l
	printf -v "rc_$l" %s "$RC"
	printf -v "err_$l" %s "$ERR"
done
# shellcheck disable=SC2154 # set by printf -v above
is "$rc_text $rc_json $rc_xml $rc_tmpl $rc_nul" "0 0 0 0 0" "every listener exits 0 on SIGTERM"
# shellcheck disable=SC2154
is "$err_text$err_json$err_xml$err_tmpl$err_nul" "" "no listener wrote to stderr"

# --- JSON: each line parsed by python's json module -------------------------

# json_check N EXPECTED: compares record N (1-based) of json.out with the
# JSON object EXPECTED: the same keys (the schema of xlisten.1), the same
# values, except "<now>" (a time stamp of this run, delayed false) and
# "<alice>" (alice@localhost/ANY). Prints the differences.
json_check() {
	"$XT_PYTHON" - "$XT_DIR/json.out" "$1" "$2" "$t_start" "$t_end" <<'PY'
import json, sys, calendar, time, re
path, n, want, t0, t1 = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
lines = open(path, encoding="utf-8").read().split("\n")
if lines[-1] != "":
    print("the output does not end with a newline")
lines = lines[:-1]
if n > len(lines):
    sys.exit(print(f"only {len(lines)} records"))
try:
    got = json.loads(lines[n - 1])
except ValueError as e:
    sys.exit(print(f"not JSON: {e}: {lines[n - 1]!r}"))
keys = ["kind", "time", "delayed", "type", "from", "to", "id", "body", "subject",
        "thread", "room", "nick", "url", "carbon", "error_condition", "error_text"]
if list(got) != keys:
    print(f"keys {list(got)} != {keys}")
for k, v in want.items():
    g = got.get(k)
    if v == "<now>":
        ok = isinstance(g, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", g) and \
            t0 <= calendar.timegm(time.strptime(g, "%Y-%m-%dT%H:%M:%SZ")) <= t1
    elif v == "<alice>":
        ok = isinstance(g, str) and re.fullmatch(r"alice@localhost/.+", g)
    else:
        ok = g == v and type(g) is type(v)
    if not ok:
        print(f"{k}: got {g!r}, expected {v!r}")
PY
}

# jq-free field access for the other formats: the from of record N.
json_from() {
	sed -n "${1}p" "$XT_DIR/json.out" | "$XT_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["from"])'
}

base='"kind": "message", "to": "bob@localhost/json", "room": null, "nick": null, "carbon": null'
is "$(json_check 1 "{$base, \"time\": \"<now>\", \"delayed\": false, \"type\": \"chat\", \"from\": \"<alice>\", \"id\": \"m1\",
	\"body\": \"line one\\nline two & <three>\", \"subject\": \"Sub <1>\", \"thread\": \"th-1\", \"url\": null,
	\"error_condition\": null, \"error_text\": null}")" "" "JSON 1: chat with subject, thread and a multi-line body"
is "$(json_check 2 "{$base, \"time\": \"<now>\", \"delayed\": false, \"type\": \"normal\", \"id\": \"m2\",
	\"body\": \"plain\", \"subject\": null, \"thread\": null, \"url\": null, \"error_condition\": null}")" "" \
	"JSON 2: no type attribute is type normal; absent fields are null"
is "$(json_check 3 "{$base, \"type\": \"headline\", \"id\": \"m3\", \"body\": \"news\", \"subject\": \"Head\"}")" "" \
	"JSON 3: headline with subject"
body4_json=$("$XT_PYTHON" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$body4_got")
is "$(json_check 4 "{$base, \"type\": \"normal\", \"id\": \"m4\", \"body\": $body4_json, \"subject\": null}")" "" \
	"JSON 4: the hostile body decodes to exactly what was sent (CR read as newline by the server)"
is "$(json_check 5 "{$base, \"type\": \"error\", \"id\": \"m5\", \"body\": \"bounced text\",
	\"error_condition\": \"item-not-found\", \"error_text\": \"gone away\"}")" "" \
	"JSON 5: type error with its condition and text"
is "$(json_check 6 "{$base, \"type\": \"chat\", \"id\": \"m6\", \"body\": null, \"subject\": \"only subject\"}")" "" \
	"JSON 6: a subject without body is a record (body null)"
is "$(json_check 7 "{$base, \"time\": \"2001-02-03T04:05:06Z\", \"delayed\": true, \"id\": \"m8\",
	\"body\": \"with url\", \"url\": \"https://example.org/a?b=c&d\"}")" "" \
	"JSON 7: the chat state m7 was skipped; m8 has its XEP-0203 stamp as time, delayed, and the OOB URL"
is "$(json_check 8 "{$base, \"time\": \"2001-02-03T04:05:07Z\", \"delayed\": true, \"id\": \"m9\", \"body\": \"legacy\"}")" "" \
	"JSON 8: a legacy jabber:x:delay stamp"
is "$(json_check 9 "{$base, \"time\": \"2001-02-03T04:05:08Z\", \"delayed\": true, \"id\": \"m10\", \"body\": \"offset\"}")" "" \
	"JSON 9: a stamp with fraction and offset, in UTC"
is "$(json_check 10 "{$base, \"time\": \"<now>\", \"delayed\": false, \"id\": \"m11\", \"body\": \"tail \\\\\", \"thread\": \"th-11\"}")" "" \
	"JSON 10: a body ending in a backslash; thread"
is "$(wc -l <"$XT_DIR/json.out")" "$N" "JSON: $N lines, one per record"
is "$(raw_unsafe "$XT_DIR/json.out")" "" "JSON: no control, bidi or separator character is written raw"

# --- text: TIME TAB TYPE TAB FROM TAB BODY [TAB SUBJECT], escaped -----------

mapfile -t text <"$XT_DIR/text.out"
is "${#text[@]}" "$N" "text: $N lines, one per record"
text_re='^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]Z$'
like "${text[0]%%$'\t'*}" "$text_re" "text 1: the time is an ISO 8601 UTC stamp"
f1=$(json_from 1)
is "${text[0]#*$'\t'}" "chat	$f1	line one\\nline two & <three>	Sub <1>" \
	"text 1: type, from, the body on one line (\\n), the subject"
is "${text[1]#*$'\t'}" "normal	$(json_from 2)	plain" "text 2: type normal, no subject column"
is "${text[2]#*$'\t'}" "headline	$(json_from 3)	news	Head" "text 3: headline and subject"
is "${text[3]#*$'\t'}" \
	"normal	$(json_from 4)	evil\\u0085\\u009b[31m\\u202eRTL\\u2066iso\\u2069 \\u2028sep\\\\back\\ttab\\ncr\\nhere\\n2030-01-01T00:00:00Z\\tchat\\tboss@localhost\\tforged" \
	"text 4: C1, bidi and separators as \\uHHHH, backslash, tab and newlines escaped: no forged record"
is "$(awk -F '\t' '{ printf "%s ", NF }' "$XT_DIR/text.out")" "5 4 5 4 4 5 4 4 4 4 " \
	"text: four fields per record, five with a subject"
is "${text[4]#*$'\t'}" "error	$(json_from 5)	bounced text" "text 5: type error"
is "${text[5]#*$'\t'}" "chat	$(json_from 6)		only subject" "text 6: empty body, then the subject"
is "${text[6]}" "2001-02-03T04:05:06Z	chat	$(json_from 7)	with url" "text 7: the delay stamp is the time"
is "${text[8]%%$'\t'*}" "2001-02-03T04:05:08Z" "text 9: the stamp with an offset, in UTC"
is "${text[9]#*$'\t'}" "chat	$(json_from 10)	tail \\\\" "text 10: a trailing backslash is doubled"
is "$(raw_unsafe "$XT_DIR/text.out")" "" "text: no control, bidi or separator character is written raw"

# --- -F template -------------------------------------------------------------

mapfile -t tmpl <"$XT_DIR/tmpl.out"
is "${#tmpl[@]}" "$N" "-F: $N lines (a newline ends each record)"
like "${tmpl[0]}" "^20[0-9-]{8}T[0-9:]{8}Z\\|$f1\\|" "-F: %T and %f"
is "${tmpl[0]#*|*|}" "m1|chat|bob@localhost/tmpl|Sub <1>|th-1|||%|line one\\nline two & <three>" \
	"-F 1: %i %y %t %s %h, empty %r and %u, %%, and the escaped body"
is "${tmpl[3]#*|*|}" \
	"m4|normal|bob@localhost/tmpl|||||%|evil\\u0085\\u009b[31m\\u202eRTL\\u2066iso\\u2069 \\u2028sep\\\\back\\ttab\\ncr\\nhere\\n2030-01-01T00:00:00Z\\tchat\\tboss@localhost\\tforged" \
	"-F 4: the hostile body escaped as in the text format"
is "${tmpl[6]}" "2001-02-03T04:05:06Z|$(json_from 7)|m8|chat|bob@localhost/tmpl||||https://example.org/a?b=c&d|%|with url" \
	"-F 7: %T is the delay stamp, %u the OOB URL"

# --- -0: NUL-terminated records, fields unescaped -----------------------------

nul_check() {
	"$XT_PYTHON" - "$XT_DIR/nul.out" "$@" <<'PY'
import sys
data = open(sys.argv[1], "rb").read().decode("utf-8")
recs = data.split("\0")
if recs[-1] != "":
    print("does not end with NUL")
recs = recs[:-1]
if len(recs) != int(sys.argv[2]):
    print(f"{len(recs)} records")
n = int(sys.argv[3])
if n <= len(recs):
    rest = recs[n - 1].split("\t", 1)[1] if "\t" in recs[n - 1] else recs[n - 1]
    if rest != sys.argv[4]:
        print(f"record {n}: {rest!r} != {sys.argv[4]!r}")
PY
}
is "$(nul_check $N 1 "chat	$f1	$body1	Sub <1>")" "" "-0 1: ten records; the body with its raw newline"
is "$(nul_check $N 4 "normal	$(json_from 4)	$body4_got")" "" "-0 4: the hostile body raw (stdout is not a terminal)"

# --- -X: one stanza per line; xsend --raw sends it again ---------------------

mapfile -t xml <"$XT_DIR/xml.out"
is "${#xml[@]}" "$N" "-X: $N lines, one stanza each"
# xml_field N PATH: the text of a child of stanza N, read by python's parser.
xml_field() {
	"$XT_PYTHON" -c '
import sys, json, xml.etree.ElementTree as ET
el = ET.fromstring(sys.argv[1])
if sys.argv[2] == "@":
    print(json.dumps([el.tag, el.get("id"), el.get("type")]))
else:
    c = el.find(sys.argv[2])
    print(json.dumps(None if c is None else (c.text or "")))' "${xml[$1 - 1]-}" "$2"
}
is "$(xml_field 1 @)" '["message", "m1", "chat"]' "-X 1: well-formed XML: a message with its id and type"
is "$(xml_field 1 body)" "$("$XT_PYTHON" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$body1")" \
	"-X 1: the parsed body is the body sent"
is "$(xml_field 4 body)" "$body4_json" "-X 4: the parsed hostile body is the body received"
like "${xml[3]}" '<body>evil&#x85;&#x9B;\[31m&#x202E;RTL&#x2066;iso&#x2069; &#x2028;sep\\back	tab&#xA;cr&#xA;here&#xA;2030' \
	"-X 4: C1, bidi, separators and newlines as character references"
is "$(raw_unsafe "$XT_DIR/xml.out")" "" "-X: no control, bidi or separator character is written raw"
like "${xml[6]}" '<delay [^>]*stamp="2001-02-03T04:05:06Z"' "-X 7: the delay element is kept"

# Round trip: bob sends stanzas 1 and 4 as -X printed them (addressed to
# carol instead, without the from) with xsend --raw; carol's peer gets the
# same bodies.
rm -f "$XT_DIR/carol.ready"
xt_bg carol xt_peer recv --jid carol@localhost --password carol-pw --count 2 --timeout 20 \
	--ready "$XT_DIR/carol.ready"
xt_wait_file "$XT_DIR/carol.ready" 20 carol || bail_out "carol's peer is not ready"
sed -n '1p;4p' "$XT_DIR/xml.out" |
	sed -e 's/ from="[^"]*"//' -e 's/ to="[^"]*"/ to="carol@localhost"/' >"$XT_DIR/resend.xml"
run_stdin "$XT_DIR/resend.xml" "$XSEND" -C "$bconf" --raw
ok_rc 0 "-X lines piped into xsend --raw: exit 0"
xt_bg_wait carol
is "$RC" 0 "carol got both messages"
xt_json_load "$(sed -n 1p <<<"$OUT")"
is "${JSON[id]}|${JSON[type_attr]}|${JSON[subject]}|${JSON[thread]}" "m1|chat|Sub <1>|th-1" \
	"round trip 1: id, type, subject and thread kept"
is "${JSON[body]}" "$body1" "round trip 1: the multi-line body is intact"
xt_json_load "$(sed -n 2p <<<"$OUT")"
is "${JSON[body]}" "$body4_got" "round trip 4: the hostile body is intact"
is "${JSON[from]%%/*}" bob@localhost "round trip 4: sent by bob"

# --- on a terminal, nothing from the network is printed raw -------------------

# script(1) runs xlisten on a pseudo-terminal; -0 keeps fields raw on a pipe,
# but on a terminal it still escapes what could command it. (As dave, whose
# account has no offline messages left over from the listeners above.)
xt_config dave >/dev/null
xl_user=dave
tty_start() {
	local name=$1
	shift
	# The shell script(1) starts writes its pid and becomes xlisten.
	printf 'echo $$ >%q; exec ' "$XT_DIR/$name.pid" >"$XT_DIR/$name.cmd"
	printf '%q ' "$XLISTEN" -C "$XT_DIR/dave.conf" --resource "$name" "$@" >>"$XT_DIR/$name.cmd"
	xt_bg "$name" script -q -e -c "$(cat "$XT_DIR/$name.cmd")" "$XT_DIR/$name.typescript"
	xl_wait "$name"
}
tty_start tty0 -w 30 -0
tty_start ttyf -w 30 -F '%b|%s'
run xt_peer send --jid alice@localhost --password alice-pw --to dave@localhost/tty0 \
	--to dave@localhost/ttyf --type chat --subject $'s\u009b\u202e' --body "$body4"
ok_rc 0 "the peer sent the hostile message to the terminal listeners"
wait_records "$XT_DIR/tty0.out" 1 0 || diag "no record from tty0"
wait_records "$XT_DIR/ttyf.out" 1 || diag "no record from ttyf"
kill -TERM "$(cat "$XT_DIR/tty0.pid")" "$(cat "$XT_DIR/ttyf.pid")"
xt_bg_wait tty0
ok_rc 0 "-0 on a terminal: exit 0 on SIGTERM"
tr -d '\r' <"$XT_DIR/tty0.out" | tr '\0' '\n' >"$XT_DIR/tty0.txt"
tty0=$(<"$XT_DIR/tty0.txt")
like "$tty0" 'evil\\u0085\\u009b\[31m\\u202eRTL\\u2066iso\\u2069 \\u2028sep\\back' \
	"-0 on a terminal: C1, bidi and separator characters escaped (the backslash is not)"
is "$(raw_unsafe "$XT_DIR/tty0.txt")" "" "-0 on a terminal: none of them raw"
xt_bg_wait ttyf
tr -d '\r' <"$XT_DIR/ttyf.out" >"$XT_DIR/ttyf.txt"
ttyf=$(<"$XT_DIR/ttyf.txt")
like "$ttyf" '\\u2069 \\u2028sep\\\\back\\ttab\\ncr\\nhere\\n2030-01-01T00:00:00Z\\tchat\\tboss@localhost\\tforged\|s\\u009b\\u202e' \
	"-F on a terminal: body and subject escaped"
is "$(raw_unsafe "$XT_DIR/ttyf.txt")" "" "-F on a terminal: no control, bidi or separator character raw"
