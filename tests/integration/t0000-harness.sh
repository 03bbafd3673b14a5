#!/bin/bash
# SPDX-License-Identifier: MIT
# t0000-harness: the test harness itself -- the throwaway Prosody (STARTTLS
# and direct TLS with the test CA), the slixmpp peers, restart/kill/pause,
# and every fake-server mode. Everything else builds on these.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
plan 55

ms_since() {
	local now=$EPOCHREALTIME
	printf '%d' $(((${now/./} - ${1/./}) / 1000))
}

# --- the server -------------------------------------------------------------

t0=$EPOCHREALTIME
xt_server_start
diag "xt_server_start: $(ms_since "$t0") ms (ports $XT_PORT, $XT_TLS_PORT)"
like "$XT_LEAF_SHA256" '^([0-9A-F]{2}:){31}[0-9A-F]{2}$' "XT_LEAF_SHA256 is an uppercase SHA-256 fingerprint"
is "$(ss -Hltn "sport = :$XT_PORT or sport = :$XT_TLS_PORT" | awk '{print $4}' | sort | tr '\n' ' ')" \
	"$(printf '127.0.0.1:%s\n' "$XT_PORT" "$XT_TLS_PORT" | sort | tr '\n' ' ')" \
	"prosody listens on 127.0.0.1 only, on both ports"

# openssl s_client prints the server's certificate; its fingerprint must be
# the leaf's.
served_fingerprint() {
	local fp
	fp=$(printf '%s\n' "$OUT" | openssl x509 -noout -fingerprint -sha256 2>/dev/null)
	printf '%s' "${fp#*=}"
}

run openssl s_client -starttls xmpp -xmpphost localhost -connect "127.0.0.1:$XT_PORT" \
	-CAfile "$XT_CA" -verify_return_error -verify_hostname localhost
ok_rc 0 "STARTTLS on XT_PORT verifies against the test CA"
is "$(served_fingerprint)" "$XT_LEAF_SHA256" "STARTTLS: the served certificate is the leaf"

run openssl s_client -connect "127.0.0.1:$XT_TLS_PORT" -servername localhost \
	-CAfile "$XT_CA" -verify_return_error -verify_hostname localhost
ok_rc 0 "direct TLS on XT_TLS_PORT verifies against the test CA"
is "$(served_fingerprint)" "$XT_LEAF_SHA256" "direct TLS: the served certificate is the leaf"

run openssl s_client -starttls xmpp -xmpphost localhost -connect "127.0.0.1:$XT_PORT" \
	-CAfile /dev/null -no-CApath -no-CAstore -verify_return_error
unlike "$RC" '^0$' "without the test CA the certificate does not verify"

# --- peers: recv and send ------------------------------------------------------

body=$'h\xc3\xa9llo <&> "quoted" \\ back\nsecond line\ttab'
xt_bg recv xt_peer recv --jid bob@localhost --password bob-pw --count 1 \
	--timeout 20 --ready "$XT_DIR/bob.ready"
t0=$EPOCHREALTIME
xt_wait_file "$XT_DIR/bob.ready" 20 recv
ok "recv peer became ready" test -e "$XT_DIR/bob.ready"
diag "recv peer ready after $(ms_since "$t0") ms"

t0=$EPOCHREALTIME
run xt_peer send --jid alice@localhost --password alice-pw --to bob@localhost \
	--type headline --body "$body" --subject 'Sub ject' --thread th-1 --id msg-1
ok_rc 0 "send peer exits 0"
diag "send peer (login, send, barrier, logout): $(ms_since "$t0") ms"
is "$OUT" "" "send peer prints nothing on success"

xt_bg_wait recv
ok_rc 0 "recv peer exits 0 after --count 1"
is "$(printf '%s\n' "$OUT" | wc -l)" 1 "recv peer printed one line"
line=$OUT
xt_json_load "$line"
is "${JSON[type]}" headline "message type"
is "${JSON[type_attr]}" headline "raw type attribute"
like "${JSON[from]}" '^alice@localhost/.+$' "message from alice's full JID"
is "${JSON[to]}" bob@localhost "message to bob"
is "${JSON[id]}" msg-1 "message id"
is "${JSON[body]}" "$body" "message body, with newline, tab, markup and UTF-8, intact"
is "$(xt_json "$line" body -j)" $'"h\xc3\xa9llo <&> \\"quoted\\" \\\\ back\\nsecond line\\ttab"' \
	"message body as JSON (xt_json -j)"
is "${JSON[subject]}" 'Sub ject' "message subject"
is "${JSON[thread]}" th-1 "message thread"
is "${JSON[delay]}" null "no delay stamp: delivered live, not from storage"
is "${JSON[receipt_request]}" false "no receipt request"
like "${JSON[xml]}" '^<message .*</message>$' "whole stanza serialized"

# --- peer failures (run side by side: each is mostly Python start-up) --------

xt_bg badpw xt_peer send --jid alice@localhost --password wrong-pw --to bob@localhost --body x
xt_bg bounce xt_peer send --jid alice@localhost --password alice-pw --to nobody@localhost --body x
xt_bg closed xt_peer send --jid alice@localhost --password alice-pw --port "$(xt_closed_port)" --to bob@localhost --body x
xt_bg idle xt_peer recv --jid carol@localhost --password carol-pw --count 1 --timeout 1.5

xt_bg_wait badpw
ok_rc 6 "send with a wrong password exits 6"
like "$ERR" 'authentication failed' "... and says so on stderr"
xt_bg_wait bounce
ok_rc 8 "send to an unknown local user exits 8 (bounce)"
is "$(xt_json "$OUT" error_condition)" service-unavailable "... with the bounce as JSON (service-unavailable)"
xt_bg_wait closed
ok_rc 4 "send to a closed port exits 4"
xt_bg_wait idle
ok_rc 3 "recv with --count and nothing to receive times out with 3"
like "$ERR" 'received 0 of 1' "... and says how many it got"

# --- configuration files for the tools ----------------------------------------

conf=$(xt_config alice 'resource = harness')
is "$(stat -c %a "$conf")" 600 "xt_config writes a 0600 file"
is "$(cat "$conf")" "# written by tests/integration/lib.sh
jid = alice@localhost
host = 127.0.0.1
port = $XT_PORT
cafile = $XT_CA
password = alice-pw
resource = harness" "xt_config content"

xt_register erin erin-pw
run xt_peer send --jid erin@localhost --password erin-pw --to erin@localhost --body x
ok_rc 0 "xt_register: the new account logs in"

# --- restart, kill, pause ------------------------------------------------------

run xt_peer send --jid alice@localhost --password alice-pw --to bob@localhost \
	--type chat --body 'stored while bob is away'
ok_rc 0 "a message for offline bob is accepted"
old_port=$XT_PORT
t0=$EPOCHREALTIME
xt_server_restart
diag "xt_server_restart: $(ms_since "$t0") ms"
is "$XT_PORT" "$old_port" "restart keeps the port"
run xt_peer recv --jid bob@localhost --password bob-pw --count 1 --timeout 10
ok_rc 0 "after the restart bob logs in and gets a message"
xt_json_load "$OUT"
is "${JSON[body]}" 'stored while bob is away' "... the offline message survived the restart"
like "${JSON[delay]}" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "... with its delay stamp"

xt_server_pause
run xt_peer send --jid alice@localhost --password alice-pw --login-timeout 0.3 --to bob@localhost --body x
ok_rc 3 "a paused server makes the login time out"
xt_server_resume

xt_server_kill
run xt_peer send --jid alice@localhost --password alice-pw --to bob@localhost --body x
ok_rc 4 "a killed server refuses connections"
xt_server_restart
run xt_peer send --jid alice@localhost --password alice-pw --to bob@localhost --body x
ok_rc 0 "restart after a kill works"

# --- the fake server -------------------------------------------------------------

header="<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"

# fake_connect: open fd $fd to the fake server.
fake_connect() {
	exec {fd}<>"/dev/tcp/127.0.0.1/$XT_FAKE_PORT"
}

# fake_read ERE: read (tag by tag, 2 s at most per read) until what was read
# matches ERE; it is in GOT.
fake_read() {
	local chunk
	GOT=''
	while IFS= read -r -d '>' -t 2 -u "$fd" chunk; do
		GOT+="$chunk>"
		[[ $GOT =~ $1 ]] && return 0
	done
	GOT+=$chunk
	[[ $GOT =~ $1 ]]
}

# fake_quiet SECONDS: nothing arrives within SECONDS (and no end of file).
fake_quiet() {
	local c
	IFS= read -r -N 1 -t "$1" -u "$fd" c
	[ "$?" -gt 128 ]
}

# fake_eof: the server closed the connection (end of file within 2 s).
fake_eof() {
	local c
	IFS= read -r -N 1 -t 2 -u "$fd" c
	[ "$?" = 1 ] && [ -z "$c" ]
}

fake_close() {
	exec {fd}>&-
}

xt_fake_start silent
fake_connect
printf '%s' "$header" >&"$fd"
ok "fake silent: accepts and sends nothing within 0.3 s" fake_quiet 0.3
fake_close

xt_fake_start close
fake_connect
ok "fake close: closes at once" fake_eof
fake_close

xt_fake_start stream-error:conflict
fake_connect
printf '%s' "$header" >&"$fd"
fake_read '</stream:stream>'
like "$GOT" "^<\\?xml version='1.0'\\?><stream:stream [^>]*from=['\"]localhost['\"]" "fake stream-error: answers with a stream header"
like "$GOT" "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'(/>|></conflict>)</stream:error></stream:stream>\$" \
	"fake stream-error:conflict: sends the conflict stream error"
ok "fake stream-error: then closes" fake_eof
fake_close
like "$(cat "$XT_FAKE_LOG")" '^<\?xml.*<stream:stream to=.localhost.' "fake server logs what the client sent"

xt_fake_start no-starttls
fake_connect
printf '%s' "$header" >&"$fd"
fake_read '</stream:features>'
like "$GOT" '<mechanism>PLAIN</mechanism>' "fake no-starttls: offers SASL PLAIN"
unlike "$GOT" 'starttls' "fake no-starttls: offers no STARTTLS"
fake_close

xt_fake_start stall-tls
fake_connect
printf '%s' "$header" >&"$fd"
fake_read '</stream:features>'
like "$GOT" "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>" "fake stall-tls: offers STARTTLS"
printf "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" >&"$fd"
fake_read '<proceed[^>]*>'
like "$GOT" "^<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\$" "fake stall-tls: answers <starttls/> with <proceed/>"
printf '\x16\x03\x01\x00\x05hello' >&"$fd" # the start of a ClientHello
ok "fake stall-tls: then the TLS handshake gets no answer" fake_quiet 0.3
fake_close

xt_fake_start garbage
fake_connect
printf '%s' "$header" >&"$fd"
IFS= read -r -t 2 -u "$fd" GOT # the first line
like "$GOT" 'Bad Request' "fake garbage: answers"
unlike "$GOT" '^<' "fake garbage: ... with something that is not XML"
fake_close

diag "total: $SECONDS s"
