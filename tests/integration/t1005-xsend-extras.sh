#!/bin/bash
# SPDX-License-Identifier: MIT
# t1005-xsend-extras: the message extras of xsend as the recipient sees
# them: --receipt (XEP-0184: exit 0 once answered, 7 naming who did not
# answer), --url (XEP-0066, the body when there is none), --no-store
# (XEP-0334), --id (and origin-id, ID-N for several recipients), --tee.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
plan 72

xt_server_start
conf=$(xt_config alice)

# bob answers receipt requests, dave does not. Both stay online to the end:
# a message to an offline account would be stored and turn up later.
for u in bob dave; do
	rm -f "$XT_DIR/$u.ready"
done
xt_bg bob xt_peer recv --jid bob@localhost --password bob-pw --receipts \
	--timeout 600 --ready "$XT_DIR/bob.ready"
xt_bg dave xt_peer recv --jid dave@localhost --password dave-pw \
	--timeout 600 --ready "$XT_DIR/dave.ready"

# line FILE ERE: the first line of FILE that matches ERE (empty if none).
line() {
	grep -E -m 1 -e "$2" "$1" 2>/dev/null
}

# got USER ID: wait until USER's peer printed the message with that id, and
# xt_json_load it (JSON is emptied when it does not come, so checks fail).
got() {
	JSON=()
	if xt_wait_grep "$XT_DIR/$1.out" "\"id\": \"$2\"" 10 "$1"; then
		xt_json_load "$(line "$XT_DIR/$1.out" "\"id\": \"$2\"")"
	else
		diag "$1 did not get the message $2"
	fi
	return 0
}

# got_body USER BODY: the same, for the message with that body (plain text).
got_body() {
	JSON=()
	if xt_wait_grep "$XT_DIR/$1.out" "\"body\": \"$2\"" 10 "$1"; then
		xt_json_load "$(line "$XT_DIR/$1.out" "\"body\": \"$2\"")"
	else
		diag "$1 did not get the message '$2'"
	fi
	return 0
}

# ms_since T0: milliseconds since $EPOCHREALTIME was T0.
ms_since() {
	local now=$EPOCHREALTIME
	echo $(((${now/./} - ${1/./}) / 1000))
}

# --- usage -------------------------------------------------------------------

try=$'\nTry \'xsend --help\' for more information.'
printf 'one\ntwo\n' >"$XT_DIR/two.txt"
run_stdin "$XT_DIR/two.txt" "$XSEND" -C "$conf" --port "$(xt_closed_port)" --lines --id x bob@localhost
ok_rc 2 "--id with --lines: exit 2"
is "$ERR" "xsend: --id names one message; --lines sends many$try" "... says why"
run_stdin "$XT_DIR/two.txt" "$XSEND" -C "$conf" --port "$(xt_closed_port)" -0 --id x bob@localhost
ok_rc 2 "--id with --null: exit 2"
is "$ERR" "xsend: --id names one message; --lines sends many$try" "... says why"

xt_wait_file "$XT_DIR/bob.ready" 20 bob || bail_out "bob's peer is not ready"
xt_wait_file "$XT_DIR/dave.ready" 20 dave || bail_out "dave's peer is not ready"

# --- --receipt: answered ----------------------------------------------------------

run "$XSEND" -C "$conf" --receipt --id rc-1 --tee bob@localhost -m 'receipt please'
ok_rc 0 "--receipt, answered: exit 0"
is "$ERR" "" "... nothing on stderr"
is "$OUT" "rc-1	bob@localhost	0" "--tee: the --id, the recipient, line 0"
got bob rc-1
is "${JSON[body]}" "receipt please" "bob got the message"
is "${JSON[receipt_request]}" true "... with <request xmlns='urn:xmpp:receipts'/>"
unlike "${JSON[receipt_sent]}" '^(null)?$' "... and answered it"
is "${JSON[origin_id]}" rc-1 "--id: the <origin-id/> too"

# --- --receipt: one recipient answers, the other does not ----------------------------

t0=$EPOCHREALTIME
run "$XSEND" -C "$conf" --receipt -w 2 --id rc-2 bob@localhost dave@localhost -m 'who answers?'
ms=$(ms_since "$t0")
ok_rc 7 "--receipt, one receipt missing: exit 7"
is "$ERR" "xsend: dave@localhost: no receipt in time" "... one line, naming only the one that did not answer"
ok "... after waiting -w 2 seconds (${ms} ms)" test "$ms" -ge 1900
got bob rc-2-1
is "${JSON[origin_id]}/${JSON[body]}" "rc-2-1/who answers?" "--id with two recipients: bob's is ID-1"
is "${JSON[receipt_request]}" true "... with the request"
unlike "${JSON[receipt_sent]}" '^(null)?$' "... bob answered"
got dave rc-2-2
is "${JSON[origin_id]}/${JSON[body]}" "rc-2-2/who answers?" "... and dave's is ID-2"
is "${JSON[receipt_request]}/${JSON[receipt_sent]}" true/null "... with the request, which dave did not answer"

# A recipient that does not exist: the bounce ends the wait at once.
t0=$EPOCHREALTIME
run "$XSEND" -C "$conf" --receipt -w 20 nobody@localhost -m 'anyone?'
ms=$(ms_since "$t0")
ok_rc 8 "--receipt to an account that does not exist: exit 8"
is "$ERR" "xsend: nobody@localhost: service-unavailable" "... the bounce, not a missing receipt"
ok "... without waiting for the deadline (${ms} ms)" test "$ms" -lt 10000

# --- --receipt with --lines, and --tee's line numbers -------------------------------

printf 'line one\n\nline three\n' >"$XT_DIR/lines.txt"
run_stdin "$XT_DIR/lines.txt" "$XSEND" -C "$conf" --lines --receipt --tee bob@localhost
ok_rc 0 "--lines --receipt, every line answered: exit 0"
is "$ERR" "" "... nothing on stderr"
is "$(cut -f2- <<<"$OUT")" "bob@localhost	1
bob@localhost	3" "--tee: the recipient and the line numbers (line 2 is empty: skipped)"
got_body bob "line one"
is "${JSON[id]}" "$(sed -n '1s/\t.*//p' <<<"$OUT")" "line 1: the id --tee printed"
is "${JSON[receipt_request]}" true "line 1: a receipt request"
got_body bob "line three"
is "${JSON[id]}" "$(sed -n '2s/\t.*//p' <<<"$OUT")" "line 3: the id --tee printed"
is "${JSON[receipt_request]}" true "line 3: a receipt request"

# --- --tee, one message to two recipients, default ids ------------------------

run "$XSEND" -C "$conf" --tee bob@localhost dave@localhost -m 'tee me'
ok_rc 0 "--tee to two recipients: exit 0"
is "$(cut -f2- <<<"$OUT")" "bob@localhost	0
dave@localhost	0" "--tee: one line per recipient, line 0"
tee_bob=$(sed -n '1s/\t.*//p' <<<"$OUT")
tee_dave=$(sed -n '2s/\t.*//p' <<<"$OUT")
like "$tee_bob" '^[0-9a-f-]{36}$' "--tee: a UUID when there is no --id"
got_body bob "tee me"
is "${JSON[id]}" "$tee_bob" "bob's message has the id --tee printed for bob"
is "${JSON[receipt_request]}" false "... and no receipt request without --receipt"
got_body dave "tee me"
is "${JSON[id]}" "$tee_dave" "dave's message has the id --tee printed for dave"
unlike "$tee_dave" "^$tee_bob\$" "... each recipient's message has its own id"

# --- --url --------------------------------------------------------------------

url1=https://example.org/a.png
run "$XSEND" -C "$conf" --url "$url1" --id url-1 bob@localhost
ok_rc 0 "--url, standard input empty: exit 0"
is "$ERR" "" "... nothing on stderr"
got bob url-1
is "${JSON[oob_url]}" "$url1" "... <x xmlns='jabber:x:oob'><url/> has the URL"
is "${JSON[body]}" "$url1" "... and the URL is the body"
is "${JSON[no_store]}/${JSON[receipt_request]}" false/false "... without <no-store/> or a receipt request"

url2=https://example.org/b.png
run "$XSEND" -C "$conf" --url "$url2" -m '' --id url-2 bob@localhost
ok_rc 0 "--url with -m '': exit 0"
got bob url-2
is "${JSON[oob_url]}/${JSON[body]}" "$url2/$url2" "... the URL is attached and is the body"

url3='https://example.org/get?a=1&b=<2>'
run "$XSEND" -C "$conf" --url "$url3" -m 'see this' --id url-3 bob@localhost
ok_rc 0 "--url with -m TEXT: exit 0"
got bob url-3
is "${JSON[body]}" "see this" "... the body is the text"
is "${JSON[oob_url]}" "$url3" "... the URL, with & and <>, arrives literally"

url4=https://example.org/d.pdf
printf 'from standard input\n' >"$XT_DIR/stdin.txt"
run_stdin "$XT_DIR/stdin.txt" "$XSEND" -C "$conf" --url "$url4" --id url-4 bob@localhost
ok_rc 0 "--url with text on standard input: exit 0"
got bob url-4
is "${JSON[body]}/${JSON[oob_url]}" "from standard input/$url4" "... the body is standard input, the URL attached"

# --- --no-store ------------------------------------------------------------------

run "$XSEND" -C "$conf" --no-store --id ns-1 dave@localhost -m 'stale soon'
ok_rc 0 "--no-store: exit 0"
got dave ns-1
is "${JSON[no_store]}" true "... dave's message has <no-store xmlns='urn:xmpp:hints'/>"
is "${JSON[body]}" "stale soon" "... and its body"

# --- everything at once -----------------------------------------------------------

run "$XSEND" -C "$conf" --receipt --no-store --url "$url1" -s 'Alert' -t headline \
	--id all-1 bob@localhost -m 'all extras'
ok_rc 0 "--receipt --no-store --url --id on a headline: exit 0"
got bob all-1
is "${JSON[type_attr]}/${JSON[subject]}/${JSON[body]}" "headline/Alert/all extras" "... type, subject, body"
is "${JSON[oob_url]}/${JSON[no_store]}/${JSON[receipt_request]}" "$url1/true/true" \
	"... the URL, <no-store/> and the receipt request"
is "${JSON[origin_id]}" all-1 "... and the origin-id"
unlike "${JSON[receipt_sent]}" '^(null)?$' "... bob answered the request"

# --- the ids of several recipients, without --receipt -------------------------------

run "$XSEND" -C "$conf" --id batch --tee bob@localhost dave@localhost -m 'numbered'
ok_rc 0 "--id with two recipients: exit 0"
is "$OUT" "batch-1	bob@localhost	0
batch-2	dave@localhost	0" "--tee: ID-1 for the first, ID-2 for the second"
got bob batch-1
is "${JSON[body]}/${JSON[origin_id]}" numbered/batch-1 "bob got batch-1 (origin-id too)"
got dave batch-2
is "${JSON[body]}/${JSON[origin_id]}" numbered/batch-2 "dave got batch-2 (origin-id too)"
is "$(grep -c '"id": "batch"' "$XT_DIR/bob.out" "$XT_DIR/dave.out" | cut -d: -f2 | tr '\n' /)" "0/0/" \
	"... nobody got the bare ID"

# --- the peers: no receipt or message more than sent -------------------------------

xt_bg_kill bob
xt_bg_kill dave
xt_bg_wait bob
ok_rc 0 "bob's peer exits 0"
is "$(wc -l <"$XT_DIR/bob.out")" 11 "bob got 11 messages, none twice"
xt_bg_wait dave
ok_rc 0 "dave's peer exits 0"
is "$(wc -l <"$XT_DIR/dave.out")" 4 "dave got 4 messages, none twice"

# --- empty values are usage errors (once they went out as empty ids and bodies)

closed2=$(xt_closed_port)
run "$XSEND" -C "$(xt_config alice)" --port "$closed2" --url '' bob@localhost </dev/null
ok_rc 2 "--url '': exit 2"
like "$ERR" '--url is empty' "--url '': says so"
run "$XSEND" -C "$(xt_config alice)" --port "$closed2" --id '' -m x bob@localhost
ok_rc 2 "--id '': exit 2"
like "$ERR" '--id is empty' "--id '': says so"

# --- streams give up on a missing receipt after --timeout (they hung once) ---

printf 'no receipt here\n' >"$XT_DIR/one.txt"
run_stdin "$XT_DIR/one.txt" "$XSEND" -C "$(xt_config alice)" -l --receipt -w 2 dave@localhost
ok_rc 7 "--lines --receipt without an answer: exit 7 after --timeout"
is "$ERR" "xsend: line 1: dave@localhost: no receipt in time" "... naming the line and the recipient"
run "$XSEND" -C "$(xt_config alice)" --port "$closed2" --keep-empty -m x bob@localhost
ok_rc 2 "--keep-empty without --lines: exit 2"
