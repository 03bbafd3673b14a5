#!/bin/bash
# SPDX-License-Identifier: MIT
# t1000-xsend-deliver: what xsend sends arrives, as an independent client
# (slixmpp) sees it: body, type, subject, thread, ids, several recipients,
# the body sources and the direct-TLS port.
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
plan 53

xt_server_start
conf=$(xt_config alice)

# recv_start USER COUNT: a slixmpp peer that prints what USER receives.
recv_start() {
	rm -f "$XT_DIR/$1.ready"
	xt_bg "$1" xt_peer recv --jid "$1@localhost" --password "$1-pw" \
		--count "$2" --timeout 20 --ready "$XT_DIR/$1.ready"
	xt_wait_file "$XT_DIR/$1.ready" 20 "$1" || bail_out "$1's peer is not ready"
}

# line N: the Nth JSON record the peer printed.
line() {
	sed -n "${1}p" <<<"$OUT"
}

# --- chat, normal and headline with subject and thread ----------------------

recv_start bob 3
run "$XSEND" -C "$conf" -m "first <chat> & \"more\"" -s "Sub 1" --thread t-1 bob@localhost
ok_rc 0 "chat: exit 0"
is "$ERR" "" "chat: nothing on stderr"
is "$OUT" "" "chat: nothing on stdout"
run "$XSEND" -C "$conf" -t normal -m "second" -s "Sub 2" --thread t-2 bob@localhost
ok_rc 0 "normal: exit 0"
run "$XSEND" -C "$conf" --type headline -m "third" -s "Sub 3" bob@localhost
ok_rc 0 "headline: exit 0"
xt_bg_wait bob
ok_rc 0 "the peer got three messages"

xt_json_load "$(line 1)"
is "${JSON[type_attr]}" chat "1: type chat"
is "${JSON[body]}" 'first <chat> & "more"' "1: body with markup arrives literally"
is "${JSON[subject]}" "Sub 1" "1: subject"
is "${JSON[thread]}" t-1 "1: thread"
like "${JSON[from]}" '^alice@localhost/.+' "1: from alice"
is "${JSON[to]}" bob@localhost "1: to bob"
like "${JSON[id]}" '^[0-9a-f-]{36}$' "1: id is a UUID"
is "${JSON[origin_id]}" "${JSON[id]}" "1: XEP-0359 origin-id equals the id"
id1=${JSON[id]}

xt_json_load "$(line 2)"
is "${JSON[type_attr]}" "$XT_TYPE_NORMAL" "2: type normal"
is "${JSON[body]}" second "2: body"
is "${JSON[subject]}" "Sub 2" "2: subject"
is "${JSON[thread]}" t-2 "2: thread"
isnt_id=$([ "${JSON[id]}" != "$id1" ] && echo different)
is "$isnt_id" different "2: a new id for each message"

xt_json_load "$(line 3)"
is "${JSON[type_attr]}" headline "3: type headline"
is "${JSON[body]}" third "3: body"
is "${JSON[subject]}" "Sub 3" "3: subject"
is "${JSON[thread]}" null "3: no thread when none is given"

# --- body sources: stdin, a file, trailing newlines, UTF-8, several lines ---

recv_start bob 3
printf 'from stdin\nline two\n\n' >"$XT_DIR/body.txt"
run_stdin "$XT_DIR/body.txt" "$XSEND" -C "$conf" bob@localhost
ok_rc 0 "stdin: exit 0"
printf 'gr\xc3\xbc\xc3\x9fe \xe2\x9c\x93 \\ tab\there\r\n' >"$XT_DIR/utf8.txt"
run "$XSEND" -C "$conf" -f "$XT_DIR/utf8.txt" bob@localhost
ok_rc 0 "-f FILE: exit 0"
run_stdin "$XT_DIR/body.txt" "$XSEND" -C "$conf" -f - -t normal bob@localhost
ok_rc 0 "-f -: exit 0"
xt_bg_wait bob
ok_rc 0 "the peer got three messages"
is "$(xt_json "$(line 1)" body)" $'from stdin\nline two' "stdin: all of it, trailing newlines removed"
is "$(xt_json "$(line 1)" type_attr)" chat "stdin: default type chat"
is "$(xt_json "$(line 2)" body)" $'gr\u00fc\u00dfe \u2713 \\ tab\there' "file: UTF-8, backslash and tab intact, CRLF end removed"
is "$(xt_json "$(line 3)" body)" $'from stdin\nline two' "-f -: stdin"

# --- several recipients -----------------------------------------------------

recv_start bob 1
recv_start carol 1
run "$XSEND" -C "$conf" -m "to both" bob@localhost carol@localhost
ok_rc 0 "two recipients: exit 0"
xt_bg_wait bob
ok_rc 0 "bob got it"
bob_line=$OUT
xt_bg_wait carol
ok_rc 0 "carol got it"
carol_line=$OUT
is "$(xt_json "$bob_line" body)" "to both" "bob: the body"
is "$(xt_json "$carol_line" body)" "to both" "carol: the same body"
is "$(xt_json "$carol_line" to)" carol@localhost "carol: addressed to carol"
unlike "$(xt_json "$carol_line" id)" "^$(xt_json "$bob_line" id)\$" "each recipient's message has its own id"

# --- a full JID, the direct-TLS port, --port without --host -----------------

recv_start dave 2
run "$XSEND" -C "$conf" -m "full jid" "dave@localhost/nores"
ok_rc 0 "full JID recipient: exit 0 (offline resource, the server routes by bare JID)"
run "$XSEND" -C "$conf" --direct-tls --port "$XT_TLS_PORT" -m "direct tls" dave@localhost
ok_rc 0 "--direct-tls on the XEP-0368 port: exit 0"
xt_bg_wait dave
ok_rc 0 "dave got both"
is "$(xt_json "$(line 1)" body)" "full jid" "full JID: body"
is "$(xt_json "$(line 2)" body)" "direct tls" "direct TLS: body"

# --- the account from options and the environment, without a config file ----

recv_start bob 1
XMPP_PASSWORD=alice-pw run "$XSEND" -C /dev/null -j alice@localhost --host 127.0.0.1 \
	--port "$XT_PORT" --cafile "$XT_CA" -m "no config" bob@localhost
ok_rc 0 "--jid, --host, --port, --cafile and XMPP_PASSWORD: exit 0"
xt_bg_wait bob
is "$(xt_json "$OUT" body)" "no config" "it arrived"

# --- an empty body sends nothing and says so; a subject alone is sent -------

printf '\n\n' >"$XT_DIR/empty.txt"
run_stdin "$XT_DIR/empty.txt" "$XSEND" -C "$conf" --port "$(xt_closed_port)" bob@localhost
ok_rc 0 "empty stdin: exit 0"
like "$ERR" 'empty message: nothing sent' "empty stdin: says nothing was sent"
is "$(wc -l <<<"$ERR")" 1 "empty stdin: one line"
recv_start bob 1
run "$XSEND" -C "$conf" -m "" -t headline -s "subject only" bob@localhost
ok_rc 0 "empty body with a subject: exit 0"
xt_bg_wait bob
is "$(xt_json "$OUT" subject)" "subject only" "the subject arrived"
is "$(xt_json "$OUT" body)" null "without a body element"

# --- the pin accepts the server's certificate without the CA ----------------

recv_start bob 1
conf_nocafile=$XT_DIR/nocafile.conf
grep -v '^cafile' "$conf" >"$conf_nocafile"
chmod 600 "$conf_nocafile"
run "$XSEND" -C "$conf_nocafile" --tls-pin "$XT_LEAF_SHA256" -m pinned bob@localhost
ok_rc 0 "--tls-pin with the right fingerprint and no --cafile: exit 0"
xt_bg_wait bob
is "$(xt_json "$OUT" body)" pinned "the pinned message arrived"
