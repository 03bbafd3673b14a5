#!/bin/bash
# SPDX-License-Identifier: MIT
# t0002-peer-muc: the peer's MUC side (muc, muc-send, muc-check) and its
# XEP-0184 side (recv --receipts, send --wait-receipts) against the real
# Prosody, so that the xsend --room/--receipt tests can rely on them. It also
# pins the Prosody behaviour those tests depend on: reflection with the same
# id and <origin-id/>, the join and send errors, subject handling.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
plan 72

M=$XT_MUC
RECEIPT_REQUEST="<request xmlns='urn:xmpp:receipts'/>"

# line FILE ERE: the first line of FILE that matches ERE (empty if none).
line() {
	grep -E -m 1 -e "$2" "$1" 2>/dev/null
}

# load FILE ERE: xt_json_load the first line of FILE matching ERE; JSON is
# emptied when there is none, so that the checks after it fail.
load() {
	local l
	l=$(line "$1" "$2")
	JSON=()
	[ -n "$l" ] && xt_json_load "$l"
	return 0
}

xt_server_start

# --- muc-check on a room that does not exist -------------------------------------

xt_bg nothere xt_peer muc-check --jid alice@localhost --password alice-pw --room "nothere@$M"

# --- a password-protected room; carol creates it, bob is in it -----------------

xt_bg carol xt_peer muc --jid carol@localhost --password carol-pw --room "lobby@$M" \
	--create --room-password s3cret --ready "$XT_DIR/carol.ready" --timeout 30
xt_bg_wait nothere
ok_rc 1 "muc-check: a missing room exits 1"
xt_json_load "$OUT"
is "${JSON[exists]}/${JSON[error_condition]}" false/item-not-found "... disco#info answers item-not-found"
ok "muc --create: carol's room is ready" xt_wait_file "$XT_DIR/carol.ready" 15 carol
load "$XT_DIR/carol.out" '"kind": "joined"'
is "${JSON[created]}" true "muc --create: the room was created"
is "${JSON[status_codes]}" '["201", "110"]' "... carol's own presence has status 201 and 110"

xt_bg bob xt_peer muc --jid bob@localhost --password bob-pw --room "lobby@$M" \
	--room-password s3cret --count 1 --ready "$XT_DIR/bob.ready" --timeout 20
xt_bg check xt_peer muc-check --jid alice@localhost --password alice-pw --room "lobby@$M"
# The joins that must fail, side by side.
xt_bg nopw xt_peer muc --jid dave@localhost --password dave-pw --room "lobby@$M" --timeout 10
xt_bg badpw xt_peer muc --jid dave@localhost --password dave-pw --room "lobby@$M" \
	--nick dave2 --room-password wrong --timeout 10
xt_bg conflict xt_peer muc --jid alice@localhost --password alice-pw --room "lobby@$M" \
	--nick carol --room-password s3cret --timeout 10
xt_bg outsider xt_peer send --jid alice@localhost --password alice-pw --to "lobby@$M" \
	--type groupchat --id out-1 --body 'not an occupant'

ok "muc: bob joined with the password" xt_wait_file "$XT_DIR/bob.ready" 15 bob
load "$XT_DIR/bob.out" '"kind": "joined"'
is "${JSON[created]}/${JSON[nick]}" false/bob "... an existing room, as bob"

xt_bg_wait check
ok_rc 0 "muc-check: an existing room exits 0"
xt_json_load "$OUT"
is "${JSON[exists]}" true "... exists is true"
like "${JSON[features]}" '"muc_passwordprotected"' "... and it is password protected"
like "${JSON[features]}" '"muc_temporary"' "... and temporary (not persistent)"

xt_bg_wait nopw
ok_rc 8 "muc: a join without the password exits 8"
xt_json_load "$OUT"
is "${JSON[kind]}/${JSON[stage]}/${JSON[error_type]}/${JSON[error_condition]}" \
	error/join/auth/not-authorized "... presence error auth/not-authorized"
is "${JSON[from]}" "lobby@$M/dave" "... from the occupant JID it asked for"
xt_bg_wait badpw
ok_rc 8 "muc: a join with a wrong password exits 8"
is "$(xt_json "$OUT" error_condition)" not-authorized "... not-authorized"
xt_bg_wait conflict
ok_rc 8 "muc: a join with a nick in use exits 8"
is "$(xt_json "$OUT" error_type)/$(xt_json "$OUT" error_condition)" cancel/conflict "... cancel/conflict"
xt_bg_wait outsider
ok_rc 8 "send: a groupchat message from a non-occupant bounces (exit 8)"
xt_json_load "$OUT"
is "${JSON[error_condition]}/${JSON[id]}" not-acceptable/out-1 "... not-acceptable, with the message's id"
case $XT_SERVER in
prosody) text='You are not currently connected to this chat' ;;
ejabberd) text='Only occupants are allowed to send messages to the conference' ;;
esac
is "${JSON[error_text]}" "$text" "... and the server's text"

# alice joins, says something, leaves.
run xt_peer muc-send --jid alice@localhost --password alice-pw --room "lobby@$M" \
	--room-password s3cret --body 'hello room' --id m-1 --origin-id oid-1
ok_rc 0 "muc-send: exits 0 once its message is reflected"
xt_json_load "$OUT"
is "${JSON[kind]}/${JSON[own]}/${JSON[from]}" "message/true/lobby@$M/alice" "... the reflection comes from alice's occupant JID"
is "${JSON[id]}/${JSON[origin_id]}" m-1/oid-1 "... with the same id and the <origin-id/>"
is "${JSON[stanza_id]}" null "... and no <stanza-id/> (no MUC archive here)"
if [ "$XT_SERVER" = prosody ]; then
	like "${JSON[xml]}" '<occupant-id xmlns="urn:xmpp:occupant-id:0"' "... Prosody adds an <occupant-id/>"
else
	skip "$XT_SERVER 23.01 has no XEP-0421 occupant-id" 1
fi

xt_bg_wait bob
ok_rc 0 "muc --count 1: bob exits 0 after alice's message"
load "$XT_DIR/bob.out" '"kind": "presence".*"nick": "alice"'
is "${JSON[type]}/${JSON[role]}" available/participant "... bob saw alice join"
load "$XT_DIR/bob.out" '"kind": "message".*"body": "hello room"'
is "${JSON[type]}/${JSON[nick]}/${JSON[own]}" groupchat/alice/false "... and got her groupchat message"
is "${JSON[id]}/${JSON[origin_id]}/${JSON[delay]}" m-1/oid-1/null "... live, with her id and origin-id"
load "$XT_DIR/bob.out" '"kind": "message".*"subject": ""'
is "${JSON[from]}/${JSON[body]}" "lobby@$M/null" "... and the (empty) subject from the room at the join"

ok "muc: carol saw alice leave" \
	xt_wait_grep "$XT_DIR/carol.out" '"kind": "presence".*"nick": "alice", "type": "unavailable"' 10 carol
load "$XT_DIR/carol.out" '"kind": "presence".*"nick": "alice", "type": "available"'
like "${JSON[jid]}" '^alice@localhost/.+' "... the owner sees alice's real full JID"
load "$XT_DIR/carol.out" '"kind": "message".*"body": "hello room"'
is "${JSON[nick]}/${JSON[own]}" alice/false "... and got alice's message"

# A groupchat with <subject/> and <body/> is a message, not a subject change.
run xt_peer muc-send --jid alice@localhost --password alice-pw --room "lobby@$M" \
	--room-password s3cret --subject 'Not The Subject' --body 'with a subject'
ok_rc 0 "muc-send: a message with subject and body is reflected"
run xt_peer muc --jid dave@localhost --password dave-pw --room "lobby@$M" \
	--room-password s3cret --count 0
ok_rc 0 "muc --count 0: join, print what the join brings, leave"
load "$XT_DIR/last.out" '"kind": "message".*"subject":'
is "${JSON[subject]}/${JSON[delay]}" "/null" "... the room subject is still empty (never set)"

# A subject-only message from a participant is refused.
run xt_peer muc-send --jid alice@localhost --password alice-pw --room "lobby@$M" \
	--room-password s3cret --subject 'New' --id s-1
ok_rc 8 "muc-send: a participant's subject change bounces (exit 8)"
is "$(xt_json "$OUT" error_condition)" forbidden "... forbidden"

xt_bg_kill carol
xt_bg_wait carol
ok_rc 0 "muc: SIGTERM makes carol leave and exit 0"
run xt_peer muc-check --jid alice@localhost --password alice-pw --room "lobby@$M"
ok_rc 1 "... the temporary room is gone once its last occupant left"

# --- members-only, banned, moderated ---------------------------------------------

# The receipt peers of the next section start meanwhile (they do not join rooms).
xt_bg rcpt xt_peer recv --jid bob@localhost --password bob-pw --receipts --count 2 \
	--ready "$XT_DIR/rcpt.ready" --timeout 40
xt_bg norcpt xt_peer recv --jid dave@localhost --password dave-pw --count 1 \
	--ready "$XT_DIR/norcpt.ready" --timeout 40

xt_bg club xt_peer muc --jid carol@localhost --password carol-pw --room "club@$M" \
	--create --members-only --member bob@localhost --ready "$XT_DIR/club.ready" --timeout 30
xt_bg stage xt_peer muc --jid carol@localhost --password carol-pw --room "stage@$M" \
	--create --moderated --ban dave@localhost --ready "$XT_DIR/stage.ready" --timeout 30
xt_bg missing xt_peer muc --jid alice@localhost --password alice-pw --room "missing@$M" --timeout 10
ok "muc --members-only --member: ready" xt_wait_file "$XT_DIR/club.ready" 15 club
ok "muc --moderated --ban: ready" xt_wait_file "$XT_DIR/stage.ready" 15 stage

xt_bg nonmember xt_peer muc --jid alice@localhost --password alice-pw --room "club@$M" --timeout 10
xt_bg member xt_peer muc --jid bob@localhost --password bob-pw --room "club@$M" --timeout 2
xt_bg banned xt_peer muc --jid dave@localhost --password dave-pw --room "stage@$M" --timeout 10
xt_bg visitor xt_peer muc-send --jid alice@localhost --password alice-pw --room "stage@$M" \
	--body 'may I?' --id v-1

xt_bg_wait nonmember
ok_rc 8 "muc: a non-member's join to a members-only room exits 8"
is "$(xt_json "$OUT" error_type)/$(xt_json "$OUT" error_condition)" auth/registration-required \
	"... auth/registration-required"
ok "muc: a member joins the members-only room" \
	xt_wait_grep "$XT_DIR/member.out" '"kind": "joined"' 15 member
xt_bg_wait banned
ok_rc 8 "muc: a banned user's join exits 8"
is "$(xt_json "$OUT" error_type)/$(xt_json "$OUT" error_condition)" auth/forbidden "... auth/forbidden"
xt_bg_wait visitor
ok_rc 8 "muc-send: a visitor's message in a moderated room bounces (exit 8)"
xt_json_load "$OUT"
is "${JSON[stage]}/${JSON[error_type]}/${JSON[error_condition]}/${JSON[id]}" send/auth/forbidden/v-1 \
	"... auth/forbidden for that message"
xt_wait_grep "$XT_DIR/stage.out" '"kind": "presence".*"nick": "alice", "type": "unavailable"' 10 stage
load "$XT_DIR/stage.out" '"kind": "presence".*"nick": "alice", "type": "available"'
is "${JSON[role]}/${JSON[affiliation]}" visitor/none "... alice was in the room as a visitor"
xt_bg_wait missing
ok_rc 1 "muc without --create: a missing room exits 1"
like "$ERR" 'does not exist' "... and says so"
run xt_peer muc-check --jid alice@localhost --password alice-pw --room "missing@$M"
ok_rc 1 "... and leaves no room behind"
xt_bg_wait member
ok_rc 0 "muc without --count: the timeout is the normal end (exit 0)"
load "$XT_DIR/member.out" '"kind": "joined"'
is "${JSON[nick]}/${JSON[created]}" bob/false "... bob was in the room"
xt_bg_kill club
xt_bg_kill stage
xt_bg_wait club
ok_rc 0 "muc: the members-only room's owner exits 0 on SIGTERM"
xt_bg_wait stage
ok_rc 0 "muc: the moderated room's owner exits 0 on SIGTERM"

# --- receipts (XEP-0184) ------------------------------------------------------------

ok "recv --receipts: ready" xt_wait_file "$XT_DIR/rcpt.ready" 15 rcpt
ok "recv: ready" xt_wait_file "$XT_DIR/norcpt.ready" 15 norcpt

xt_bg noanswer xt_peer send --jid carol@localhost --password carol-pw --to dave@localhost \
	--type chat --body 'receipt?' --id r-0 --extra-xml "$RECEIPT_REQUEST" --wait-receipts --timeout 0.5
run xt_peer send --jid alice@localhost --password alice-pw --to bob@localhost --type chat \
	--body 'receipt please' --id r-1 --extra-xml "$RECEIPT_REQUEST" --wait-receipts --timeout 10
ok_rc 0 "send --wait-receipts: recv --receipts answered"
xt_json_load "$OUT"
is "${JSON[receipt_received]}" r-1 "... a <received/> with the message's id"
like "${JSON[from]}" '^bob@localhost/.+' "... from bob's full JID"
receipt_id=${JSON[id]}
like "$receipt_id" '.' "... the receipt message has an id"

# A message without a body: a receipt request, OOB, no-store, origin-id.
run xt_peer send --jid alice@localhost --password alice-pw --to bob@localhost --type chat \
	--id r-2 --extra-xml "$RECEIPT_REQUEST" \
	--extra-xml "<x xmlns='jabber:x:oob'><url>https://example.org/f.txt</url></x>" \
	--extra-xml "<no-store xmlns='urn:xmpp:hints'/>" \
	--extra-xml "<origin-id xmlns='urn:xmpp:sid:0' id='oid-2'/>" --wait-receipts --timeout 10
ok_rc 0 "send --wait-receipts: a bodiless message is answered too"

xt_bg_wait rcpt
ok_rc 0 "recv --receipts --count 2 exits 0"
load "$XT_DIR/rcpt.out" '"id": "r-1"'
is "${JSON[receipt_request]}/${JSON[receipt_sent]}" "true/$receipt_id" \
	"... it reports the request and the id of its answer"
load "$XT_DIR/rcpt.out" '"id": "r-2"'
is "${JSON[body]}/${JSON[receipt_request]}" null/true "... a bodiless message is reported, with its request"
is "${JSON[oob_url]}/${JSON[no_store]}/${JSON[origin_id]}" https://example.org/f.txt/true/oid-2 \
	"... and its oob_url, no_store and origin_id"

xt_bg_wait noanswer
ok_rc 3 "send --wait-receipts: without --receipts no receipt comes (exit 3)"
xt_bg_wait norcpt
ok_rc 0 "recv without --receipts got the message"
is "$(xt_json "$OUT" receipt_request)/$(xt_json "$OUT" receipt_sent)" true/null "... and did not answer it"

diag "total: $SECONDS s"
