#!/bin/bash
# SPDX-License-Identifier: MIT
# t1001-xsend-exit: every exit code xsend can produce, each with its one
# line on stderr, against a real Prosody and a misbehaving fake server.
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
plan 94

xt_server_start
conf=$(xt_config alice)
closed=$(xt_closed_port)

# one_line DESC: stderr is exactly one line.
one_line() {
	is "$(wc -l <<<"$ERR")" 1 "$1: one line on stderr"
}

# --- 2: usage; input XML cannot carry; nothing is sent ----------------------
# The closed port proves that xsend did not try to connect: it would say 4.

run "$XSEND" -C "$conf" --port "$closed" -m hi
ok_rc 2 "no recipient: exit 2"
like "$ERR" 'no recipient' "no recipient: says so"
run "$XSEND" -C "$conf" --port "$closed" -m hi 'bob@localhost/' 
ok_rc 2 "empty resource: exit 2"
like "$ERR" "invalid JID 'bob@localhost/': empty resourcepart" "empty resource: names the JID and the problem"
one_line "invalid JID"
run "$XSEND" -C "$conf" --port "$closed" -m hi 'localhost/res@x' 'a@b@c'
ok_rc 2 "domain with '@' (the libstrophe 0.12.2 trap is a valid JID, the second is not): exit 2"
like "$ERR" "invalid JID 'a@b@c'" "names the invalid one"
run "$XSEND" -C "$conf" --port "$closed" --bogus bob@localhost
ok_rc 2 "unknown option: exit 2"
like "$ERR" '--bogus' "unknown option: named"
run "$XSEND" -C "$conf" --port "$closed" --password secret bob@localhost
ok_rc 2 "there is no --password option: exit 2"
run "$XSEND" -C "$conf" --port "$closed" -t groupchat -m hi bob@localhost
ok_rc 2 "--type groupchat without a room: exit 2"
like "$ERR" "'groupchat' is not chat, normal or headline" "bad --type: says which types exist"
run "$XSEND" -C "$conf" --port 70000 -m hi bob@localhost
ok_rc 2 "--port 70000: exit 2"
like "$ERR" "invalid port '70000'" "bad port: named"
run "$XSEND" -C "$conf" --port "$closed" -w 0 -m hi bob@localhost
ok_rc 2 "--timeout 0: exit 2"
run "$XSEND" -C "$conf" --port "$closed" -m hi -f /etc/hostname bob@localhost
ok_rc 2 "-m and -f together: exit 2"

printf 'caf\xe9\n' >"$XT_DIR/latin1.txt"
run_stdin "$XT_DIR/latin1.txt" "$XSEND" -C "$conf" --port "$closed" bob@localhost
ok_rc 2 "invalid UTF-8 on stdin: exit 2"
like "$ERR" 'invalid UTF-8 at byte 3 \(byte 0xe9\); nothing sent' "invalid UTF-8: says where"
one_line "invalid UTF-8"
printf 'bell\a\n' >"$XT_DIR/bell.txt"
run_stdin "$XT_DIR/bell.txt" "$XSEND" -C "$conf" --port "$closed" bob@localhost
ok_rc 2 "a C0 control character: exit 2"
like "$ERR" 'U\+0007 at byte 4' "control character: names it"
printf 'nul\0byte' >"$XT_DIR/nul.txt"
run_stdin "$XT_DIR/nul.txt" "$XSEND" -C "$conf" --port "$closed" bob@localhost
ok_rc 2 "a NUL byte: exit 2"
like "$ERR" 'NUL byte at byte 3' "NUL: says where"
run "$XSEND" -C "$conf" --port "$closed" -s $'bad\x01subject' -m hi bob@localhost
ok_rc 2 "a control character in --subject: exit 2"
head -c 2000 /dev/zero | tr '\0' a >"$XT_DIR/big.txt"
run_stdin "$XT_DIR/big.txt" "$XSEND" -C "$conf" --port "$closed" --max-size 1000 bob@localhost
ok_rc 2 "a body over --max-size: exit 2"
like "$ERR" 'larger than 1000 bytes' "over the limit: says the limit"

# --sanitize replaces instead of refusing (and then the message goes out).
xt_bg bob xt_peer recv --jid bob@localhost --password bob-pw --count 1 --timeout 20 \
	--ready "$XT_DIR/bob.ready"
xt_wait_file "$XT_DIR/bob.ready" 20 bob || bail_out "peer not ready"
printf 'caf\xe9 \a bell' >"$XT_DIR/dirty.txt"
run_stdin "$XT_DIR/dirty.txt" "$XSEND" -C "$conf" --sanitize bob@localhost
ok_rc 0 "--sanitize: exit 0"
xt_bg_wait bob
is "$(xt_json "$OUT" body)" $'caf\ufffd \ufffd bell' "--sanitize: U+FFFD in place of what XML cannot carry"

# --- 3: configuration --------------------------------------------------------

cp "$conf" "$XT_DIR/open.conf"
chmod 644 "$XT_DIR/open.conf"
run "$XSEND" -C "$XT_DIR/open.conf" -m hi bob@localhost
ok_rc 3 "a password in a file others can read: exit 3"
like "$ERR" 'holds a password but is readable by group or others' "unsafe permissions: says so"
one_line "unsafe permissions"
chmod 640 "$XT_DIR/open.conf"
run "$XSEND" -C "$XT_DIR/open.conf" -m hi bob@localhost
ok_rc 3 "... readable by the group: exit 3"

grep -v '^password' "$conf" >"$XT_DIR/nopw.conf"
run setsid -w "$XSEND" -C "$XT_DIR/nopw.conf" -m hi bob@localhost
ok_rc 3 "no password from anywhere (and no terminal): exit 3"
like "$ERR" 'no password for alice@localhost' "no password: says so"
one_line "no password"
run "$XSEND" -C "$XT_DIR/missing.conf" -m hi bob@localhost
ok_rc 3 "a missing --config file: exit 3"
like "$ERR" 'missing.conf: No such file' "missing file: named"
run "$XSEND" -C "$conf" -a nosuch -m hi bob@localhost
ok_rc 3 "an account the file lacks: exit 3"
like "$ERR" "no account 'nosuch'" "missing account: named"
printf 'jid = alice@localhost\nfrobnicate = yes\n' >"$XT_DIR/bad.conf"
run "$XSEND" -C "$XT_DIR/bad.conf" -m hi bob@localhost
ok_rc 3 "an unknown key: exit 3"
like "$ERR" "bad.conf:2: unknown key 'frobnicate'" "unknown key: file and line"
run "$XSEND" -C "$XT_DIR/nopw.conf" --password-cmd 'exit 3' -m hi bob@localhost
ok_rc 3 "a failing --password-cmd: exit 3"
like "$ERR" 'password command failed \(exit status 3\)' "failing password command: its status"
run "$XSEND" -C "$XT_DIR/nopw.conf" --cafile /dev/null -m hi bob@localhost
ok_rc 3 "a --cafile without a certificate: exit 3"

# --- 4: connection -------------------------------------------------------------

run "$XSEND" -C "$conf" --port "$closed" -m hi bob@localhost
ok_rc 4 "a closed port: exit 4"
is "$ERR" "xsend: 127.0.0.1:$closed: connection refused" "closed port: the line names host, port and reason"
xt_fake_start close
run "$XSEND" -C "$conf" --port "$XT_FAKE_PORT" -m hi bob@localhost
ok_rc 4 "a server that hangs up at once: exit 4"
one_line "hang-up"

# --- 5: TLS ----------------------------------------------------------------------

grep -v '^cafile' "$conf" >"$XT_DIR/nocafile.conf"
chmod 600 "$XT_DIR/nocafile.conf"
run "$XSEND" -C "$XT_DIR/nocafile.conf" -m hi bob@localhost
ok_rc 5 "a certificate from an unknown CA: exit 5"
like "$ERR" 'TLS certificate for localhost not trusted' "unknown CA: says so"
one_line "unknown CA"
run "$XSEND" -C "$XT_DIR/nocafile.conf" --tls-pin "$(printf '%064d' 0)" -m hi bob@localhost
ok_rc 5 "a pin that does not match: exit 5"
like "$ERR" 'certificate pin mismatch' "pin mismatch: says so"
run "$XSEND" -C "$conf" --tls-pin "$(printf '%064d' 0)" -m hi bob@localhost
ok_rc 5 "a wrong pin fails even when the CA is trusted: exit 5"
xt_fake_start no-starttls
run "$XSEND" -C "$conf" --port "$XT_FAKE_PORT" -m hi bob@localhost
ok_rc 5 "a server that does not offer STARTTLS: exit 5"
like "$ERR" 'does not offer TLS' "no STARTTLS: says so"
unlike "$(cat "$XT_FAKE_LOG")" 'auth|alice-pw' "no STARTTLS: no credentials were sent"

# --- 6: authentication -----------------------------------------------------------

run env XMPP_PASSWORD=wrong "$XSEND" -C "$XT_DIR/nopw.conf" -m hi bob@localhost
ok_rc 6 "a wrong password: exit 6"
is "$ERR" "xsend: 127.0.0.1:$XT_PORT: authentication failed for alice@localhost (not-authorized)" \
	"wrong password: the line names the account and the SASL condition"

# --- 7: timeout ------------------------------------------------------------------

xt_fake_start silent
t0=$EPOCHREALTIME
run "$XSEND" -C "$conf" --port "$XT_FAKE_PORT" -w 1 -m hi bob@localhost
ok_rc 7 "a server that never speaks: exit 7"
like "$ERR" "127.0.0.1:$XT_FAKE_PORT: timed out after 1 s" "never speaks: says so"
one_line "never speaks"
elapsed=$(((${EPOCHREALTIME/./} - ${t0/./}) / 1000))
ok "never speaks: ends within 1.9 s (took $elapsed ms)" test "$elapsed" -lt 1900
xt_fake_start stall-tls
t0=$EPOCHREALTIME
run "$XSEND" -C "$conf" --port "$XT_FAKE_PORT" -w 1 -m hi bob@localhost
ok_rc 7 "a TLS handshake that stalls (libstrophe blocks): exit 7"
like "$ERR" 'timed out after 1 s during the TLS handshake' "stalled TLS: names the step"
elapsed=$(((${EPOCHREALTIME/./} - ${t0/./}) / 1000))
ok "stalled TLS: the hard deadline holds, within 1.9 s (took $elapsed ms)" test "$elapsed" -lt 1900

# The password sources are bound by --timeout too: a command that never
# answers, one whose background child holds the pipe, a descriptor that
# never gets a line.
t0=$EPOCHREALTIME
run "$XSEND" -C "$XT_DIR/nopw.conf" -w 1 --password-cmd 'sleep 4242' -m hi bob@localhost
ok_rc 7 "a --password-cmd that never answers: exit 7"
like "$ERR" 'password command: no password before the deadline' "the password command: says so"
elapsed=$(((${EPOCHREALTIME/./} - ${t0/./}) / 1000))
ok "the password command: stopped by the deadline, within 1.9 s (took $elapsed ms)" test "$elapsed" -lt 1900
ok "the password command's process is gone" sh -c '! pgrep -f "^sleep 4242$" >/dev/null'
run "$XSEND" -C "$XT_DIR/nopw.conf" -w 5 --password-cmd 'echo bob-pw; sleep 4243 &' -m hi bob@localhost
ok "a background child holding the pipe: the first line is taken (got $RC, not 7)" test "$RC" -ne 7
pkill -f '^sleep 4243$' 2>/dev/null
mkfifo "$XT_DIR/pwfifo"
exec 9<>"$XT_DIR/pwfifo"
t0=$EPOCHREALTIME
run "$XSEND" -C "$XT_DIR/nopw.conf" -w 1 --password-fd 9 -m hi bob@localhost
exec 9>&-
ok_rc 7 "a --password-fd that never gets a line: exit 7"
elapsed=$(((${EPOCHREALTIME/./} - ${t0/./}) / 1000))
ok "the password descriptor: the deadline holds, within 1.9 s (took $elapsed ms)" test "$elapsed" -lt 1900
mkfifo -m 600 "$XT_DIR/pwfifo2"
t0=$EPOCHREALTIME
run "$XSEND" -C "$XT_DIR/nopw.conf" -w 1 --password-file "$XT_DIR/pwfifo2" -m hi bob@localhost
ok_rc 7 "a FIFO as --password-file that no one writes: exit 7"
elapsed=$(((${EPOCHREALTIME/./} - ${t0/./}) / 1000))
ok "the password FIFO: the deadline holds, within 1.9 s (took $elapsed ms)" test "$elapsed" -lt 1900

# --- 8: rejected -----------------------------------------------------------------

run "$XSEND" -C "$conf" -m hi nobody@localhost
ok_rc 8 "a message to an unknown local user: exit 8"
is "$ERR" "xsend: nobody@localhost: service-unavailable" "bounce: the recipient and the RFC 6120 condition"
xt_bg bob xt_peer recv --jid bob@localhost --password bob-pw --count 1 --timeout 20 \
	--ready "$XT_DIR/bob.ready2"
xt_wait_file "$XT_DIR/bob.ready2" 20 bob || bail_out "peer not ready"
run "$XSEND" -C "$conf" -m "one good, one bad" nobody@localhost bob@localhost
ok_rc 8 "one of two recipients refused: exit 8"
is "$ERR" "xsend: nobody@localhost: service-unavailable" "only the refused recipient is named"
xt_bg_wait bob
is "$(xt_json "$OUT" body)" "one good, one bad" "the other recipient still got it"

# --- 9: protocol -----------------------------------------------------------------

xt_fake_start stream-error:conflict
run "$XSEND" -C "$conf" --port "$XT_FAKE_PORT" -m hi bob@localhost
ok_rc 9 "a stream error from the server: exit 9"
like "$ERR" 'stream error: conflict' "stream error: names the condition"
one_line "stream error"
xt_fake_start garbage
run "$XSEND" -C "$conf" --port "$XT_FAKE_PORT" -w 5 -m hi bob@localhost
ok_rc 9 "bytes that are not XML: exit 9 (at once, not at the timeout)"
like "$ERR" 'malformed XML' "garbage: says so"
xt_fake_start stream-error:system-shutdown
run "$XSEND" -C "$conf" --port "$XT_FAKE_PORT" -m hi bob@localhost
ok_rc 4 "system-shutdown is worth a retry: exit 4"

# --- 0 and the account's own secrets -------------------------------------------

run "$XSEND" -C "$conf" -vv -m hi bob@localhost
ok_rc 0 "-vv: exit 0"
like "$ERR" 'SENT: <auth [^>]*>\[redacted\]</auth>' "-vv: the SASL payload is redacted"
unlike "$ERR" 'alice-pw' "-vv: the password never appears"
unlike "$ERR" 'SENT: <response[^>]*>[^[]' "-vv: no SASL response in clear"
run env XMPP_PASSWORD=alice-pw "$XSEND" -C "$XT_DIR/nopw.conf" \
	--password-cmd "env > '$XT_DIR/child.env'; echo wrong" -m hi bob@localhost
ok_rc 6 "--password-cmd wins over XMPP_PASSWORD (its wrong password fails)"
unlike "$(cat "$XT_DIR/child.env")" 'XMPP_PASSWORD' "the password command does not see XMPP_PASSWORD"
printf 'alice-pw\nnot this\n' >"$XT_DIR/pwfile"
run "$XSEND" -C "$XT_DIR/nopw.conf" --password-file "$XT_DIR/pwfile" -m hi bob@localhost
ok_rc 0 "--password-file: the first line"
run "$XSEND" -C "$XT_DIR/nopw.conf" --password-fd 3 -m hi bob@localhost 3<"$XT_DIR/pwfile"
ok_rc 0 "--password-fd 3"
