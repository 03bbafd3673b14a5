#!/bin/bash
# SPDX-License-Identifier: MIT
# t0003-security: the secrets and the local trust of every tool (TAP).
#
# - The config file and the --password-file file follow ssh's rule: owned by
#   the user or root and writable by nobody else, or exit 3 with one line
#   that names the file and the reason.
# - XMPP_PASSWORD is gone from /proc/PID/environ while a tool runs, and a
#   tool is not dumpable: another process of the same user cannot read its
#   environment or memory (checked as the user nobody).
# - --resource follows the JID resourcepart rules (exit 2, or 3 from the
#   config file) and a bad one is never sent.
# - Text from the command line and from files reaches the terminal escaped:
#   argument JIDs, config values, option names; the value of an unknown
#   --name=VALUE is not repeated.
# - Invisible code points (Unicode's Default_Ignorable_Code_Point: tags,
#   variation selectors, Hangul fillers...) are refused in JIDs and escaped
#   in text and -F output.  (A tab in an attribute, which -X writes as
#   &#x9;, never crosses Prosody: tests/unit/test_output.c checks it.)
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp setpriv
[ "$(id -u)" = 0 ] || skip_all "needs root (chown to another user, setpriv)"
id nobody >/dev/null 2>&1 || skip_all "no user nobody"
plan 53

closed=$(xt_closed_port)

one_line() {
	is "$(wc -l <<<"$ERR")" 1 "$1: one line on stderr"
}

# raw_controls TEXT: prints the control characters of TEXT as \xHH (none: "").
raw_controls() {
	LC_ALL=C tr -d '\n' <<<"$1" | LC_ALL=C tr -d '\040-\176\200-\377' | od -An -tx1 | tr -d ' \n'
}

# --- 2: who may write the config file and the password file --------------------

conf="$XT_DIR/own.conf"
printf 'jid = alice@localhost\nhost = 127.0.0.1\nport = %s\n' "$closed" >"$conf"
chmod 600 "$conf"
printf 'alice-pw\n' >"$XT_DIR/pw"
chmod 600 "$XT_DIR/pw"

# A closed port: exit 4 shows that the files were accepted.
run "$XSEND" -C "$conf" --password-file "$XT_DIR/pw" -m hi bob@localhost
ok_rc 4 "config and password file 0600, owned by the user: accepted"

for mode in 0664 0602 0620; do
	chmod "$mode" "$conf"
	run "$XSEND" -C "$conf" --password-file "$XT_DIR/pw" -m hi bob@localhost
	ok_rc 3 "a config of mode $mode: exit 3"
	like "$ERR" "^xsend: $conf: writable by group or others \\(chmod 600 $conf\\)" \
		"mode $mode: names the file and the reason"
done
one_line "config writable by others"
chmod 600 "$conf"
chown nobody "$conf"
run "$XSEND" -C "$conf" --password-file "$XT_DIR/pw" -m hi bob@localhost
ok_rc 3 "a config owned by another user: exit 3"
like "$ERR" "^xsend: $conf: owned by uid $(id -u nobody), not by you or root" \
	"another owner: names the file and the reason"
one_line "another owner"
# whatever it holds: an empty file is refused too
: >"$XT_DIR/empty.conf"
chown nobody "$XT_DIR/empty.conf"
run "$XSEND" -C "$XT_DIR/empty.conf" -j alice@localhost --port "$closed" \
	--password-file "$XT_DIR/pw" -m hi bob@localhost
ok_rc 3 "an empty config owned by another user: exit 3"
chown root "$conf"
run "$XSEND" -C "$conf" --password-file "$XT_DIR/pw" -m hi bob@localhost
ok_rc 4 "a config owned by root: accepted"
run "$XSEND" -C /dev/null -j alice@localhost --host 127.0.0.1 --port "$closed" \
	--password-file "$XT_DIR/pw" -m hi bob@localhost
ok_rc 4 "-C /dev/null (a world-writable device) still means no config"

for mode in 0664 0602; do
	chmod "$mode" "$XT_DIR/pw"
	run "$XSEND" -C "$conf" --password-file "$XT_DIR/pw" -m hi bob@localhost
	ok_rc 3 "a password file of mode $mode: exit 3"
	like "$ERR" "^xsend: password file $XT_DIR/pw: writable by group or others" \
		"password file $mode: names the file and the reason"
done
chmod 600 "$XT_DIR/pw"
chown nobody "$XT_DIR/pw"
run "$XSEND" -C "$conf" --password-file "$XT_DIR/pw" -m hi bob@localhost
ok_rc 3 "a password file owned by another user: exit 3"
like "$ERR" "password file $XT_DIR/pw: owned by uid $(id -u nobody)" \
	"password file of another owner: says so"
one_line "password file of another owner"
chown root "$XT_DIR/pw"
chmod 644 "$XT_DIR/pw"
run "$XSEND" -C "$conf" --password-file "$XT_DIR/pw" -m hi bob@localhost
ok_rc 4 "a password file others can read: still used"
like "$ERR" "warning: password file $XT_DIR/pw is readable by group or others" \
	"... with a warning"
chmod 600 "$XT_DIR/pw"
# a password from a pipe (process substitution) still works
run "$XSEND" -C "$conf" --password-file <(printf 'alice-pw\n') -m hi bob@localhost
ok_rc 4 "--password-file <(...): accepted"

# --- 5: XMPP_PASSWORD and the process's memory -------------------------------

xt_fake_start silent
# start_silent: xlisten as nobody with XMPP_PASSWORD, against the silent
# server; sets pid once it has connected (the password is read by then).
start_silent() {
	: >"$XT_FAKE_LOG"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env XT_MARK=visible XMPP_PASSWORD=hunter2-secret \
		"$XLISTEN" -C /dev/null -j alice@localhost --host 127.0.0.1 \
		--port "$XT_FAKE_PORT" -w 30 </dev/null >/dev/null 2>"$XT_DIR/silent.err" &
	pid=$!
	local i
	for ((i = 0; i < 300; i++)); do
		[ -s "$XT_FAKE_LOG" ] && return 0
		sleep 0.05
	done
	return 1
}
if start_silent; then
	pass "xlisten as nobody connected to the silent server"
else
	fail "xlisten as nobody connected to the silent server" "$(cat "$XT_DIR/silent.err")"
fi
# (grep -q: the environment is not copied into the log)
ok "/proc/PID/environ is read (root)" grep -q 'XT_MARK=visible' "/proc/$pid/environ"
if grep -q 'hunter2' "/proc/$pid/environ"; then
	fail "the password is not in /proc/PID/environ"
else
	pass "the password is not in /proc/PID/environ"
fi
if setpriv --reuid=nobody --regid=nogroup --clear-groups cat "/proc/$pid/environ" >/dev/null 2>&1; then
	fail "the same user (nobody) cannot open /proc/PID/environ (not dumpable)"
else
	pass "the same user (nobody) cannot open /proc/PID/environ (not dumpable)"
fi
if setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$XT_PYTHON" -c 'import sys; open("/proc/%s/mem" % sys.argv[1], "rb")' "$pid" 2>/dev/null; then
	fail "the same user (nobody) cannot open /proc/PID/mem"
else
	pass "the same user (nobody) cannot open /proc/PID/mem"
fi
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null

# --- 7: --resource ---------------------------------------------------------------

run "$XSEND" -C "$conf" --password-file "$XT_DIR/pw" --resource $'r\x01x' -m hi bob@localhost
ok_rc 2 "--resource with a control character: exit 2 (nothing sent)"
like "$ERR" "^xsend: --resource: invalid resource 'r\\\\x01x': control character in resourcepart" \
	"bad resource: says so, escaped"
is "$(wc -l <<<"$ERR")" 2 "bad resource: the error line and the --help hint"
run "$XSEND" -C "$conf" --password-file "$XT_DIR/pw" --resource $'a\u202eb' -m hi bob@localhost
ok_rc 2 "--resource with U+202E: exit 2"
cp "$conf" "$XT_DIR/res.conf"
printf 'resource = "bad\x1b[2Jres"\n' >>"$XT_DIR/res.conf"
run "$XSEND" -C "$XT_DIR/res.conf" --password-file "$XT_DIR/pw" -m hi bob@localhost
ok_rc 3 "a resource with ESC in the config file: exit 3"
like "$ERR" "res.conf:4: resource: invalid resource 'bad\\\\x1b\\[2Jres'" \
	"config resource: file, line, escaped value"

# --- 8: local text reaches the terminal escaped ----------------------------------

run "$XSEND" -C "$conf" --password-file "$XT_DIR/pw" -m hi $'bad\x1b[2Jx@localhost'
ok_rc 2 "an argument JID with ESC: exit 2"
is "$(raw_controls "$ERR")" "" "argument JID: no control character on stderr"
like "$ERR" "invalid JID 'bad\\\\x1b\\[2Jx@localhost'" "argument JID: shown escaped"
run "$XPRESENCE" -C "$conf" --password-file "$XT_DIR/pw" get $'a\u202e@localhost'
ok_rc 2 "xpresence: an argument JID with U+202E: exit 2"
like "$ERR" "a\\\\u202e@localhost" "xpresence: the JID shown escaped"
printf 'jid = "al\x1b]0;owned\x07ice@localhost"\n' >"$XT_DIR/esc.conf"
run "$XSEND" -C "$XT_DIR/esc.conf" -m hi bob@localhost
ok_rc 3 "a config jid with an OSC sequence: exit 3"
is "$(raw_controls "$ERR")" "" "config jid: no control character on stderr"
run "$XSEND" --pass=hunter2 -m hi bob@localhost
ok_rc 2 "a mistyped --pass=VALUE: exit 2"
unlike "$ERR" 'hunter2' "--pass=VALUE: the value is not repeated"
like "$ERR" '^xsend: --pass: unknown option' "--pass=VALUE: the option is named"

# --- 9 and 10: invisible code points; -X attributes -------------------------------

tag=$'\U000E0041\U000E0042'
run "$XSEND" -C "$conf" --password-file "$XT_DIR/pw" -m hi "bob${tag}@localhost"
ok_rc 2 "a JID with TAG characters: exit 2"
run "$XSEND" -C "$conf" --password-file "$XT_DIR/pw" -m hi $'\u3164@localhost'
ok_rc 2 "a JID that is a Hangul filler: exit 2"
run "$XSEND" -C "$conf" --password-file "$XT_DIR/pw" --resource $'r\uFE0F' -m hi bob@localhost
ok_rc 2 "a resource with a variation selector: exit 2"

xt_server_start
bconf=$(xt_config bob)
# xl NAME ARGS...: xlisten as bob/NAME for one message; ready when online.
xl() {
	local name=$1
	shift
	xt_bg "$name" "$XLISTEN" -C "$bconf" --resource "$name" -c 1 -w 30 "$@"
	local i
	printf "<iq type='get' to='bob@localhost/%s' id='r'><ping xmlns='urn:xmpp:ping'/></iq>\n" "$name" \
		>"$XT_DIR/ping-$name.xml"
	for ((i = 0; i < 100; i++)); do
		run_stdin "$XT_DIR/ping-$name.xml" "$XSEND" -C "$(xt_config alice)" --raw
		[ "$RC" = 0 ] && return 0
		sleep 0.1
	done
	bail_out "xlisten $name is not online: $(cat "$XT_DIR/$name.err")"
}
body=$'tag\U000E0041\U000E007F vs\uFE0F hf\u3164 cgj\u034F mvs\u180B br\u2800 end'
xl text
run xt_peer send --jid alice@localhost --password alice-pw --to bob@localhost/text \
	--body "$body" --id $'id\twith tab'
ok_rc 0 "the peer sends a body full of invisible characters"
xt_bg_wait text
out=$(cat "$XT_DIR/text.out")
like "$out" 'tag\\U000e0041\\U000e007f vs\\ufe0f hf\\u3164 cgj\\u034f mvs\\u180b br\\u2800 end' \
	"text output: every invisible character escaped"
unlike "$out" $'[\U000E0041\uFE0F\u3164\u034F\u180B\u2800]' "text output: none of them raw"
xl fmt -F '%b'
run xt_peer send --jid alice@localhost --password alice-pw --to bob@localhost/fmt --body "$body"
xt_bg_wait fmt
out=$(cat "$XT_DIR/fmt.out")
unlike "$out" $'[\U000E0041\uFE0F\u3164\u034F\u180B\u2800]' "-F output: none of them raw"
like "$out" 'vs\\ufe0f' "-F output: escaped"
