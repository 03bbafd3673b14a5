#!/bin/bash
# SPDX-License-Identifier: MIT
# t1004-xsend-rooms: xsend --room as the other occupants of a room see it
# (the join, the groupchat message with its body, id and nick, the leave),
# the refused joins and messages with their one line on stderr, the nick
# retries, several rooms, --lines into a room, and the usage errors.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
plan 109

M=$XT_MUC
nl=$'\n'

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

# lineno FILE ERE: the number of the first line of FILE matching ERE, 0 if
# none.
lineno() {
	local n
	n=$(grep -n -E -m 1 -e "$2" "$1" 2>/dev/null)
	n=${n%%:*}
	echo "${n:-0}"
}

# count FILE ERE: how many lines of FILE match ERE.
count() {
	grep -c -E -e "$2" "$1" 2>/dev/null
}

# no_line FILE ERE: no line of FILE matches ERE.
no_line() {
	! grep -q -E -e "$2" "$1" 2>/dev/null
}

# room_start NAME USER ROOM [ARGS...]: a muc peer, occupant of ROOM@$M as
# USER, printing what it sees in $XT_DIR/NAME.out.
room_start() {
	local name=$1 user=$2 room=$3
	shift 3
	rm -f "$XT_DIR/$name.ready"
	xt_bg "$name" xt_peer muc --jid "$user@localhost" --password "$user-pw" \
		--room "$room@$M" --ready "$XT_DIR/$name.ready" --timeout 600 "$@"
}

room_ready() {
	xt_wait_file "$XT_DIR/$1.ready" 20 "$1" ||
		bail_out "the room peer $1 is not ready: $(cat "$XT_DIR/$1.err")"
}

# quiet_kill PID: at exit, a process that may have ended already.
quiet_kill() {
	kill "$1" 2>/dev/null
	return 0
}

xt_server_start
conf=$(xt_config alice)
closed=$(xt_closed_port)

# The rooms, all at once: each owner creates and configures its room.
room_start open carol open --create
room_start annex bob annex --create
room_start pw carol pw --create --room-password s3cret
room_start club carol club --create --members-only --member bob@localhost
room_start stage carol stage --create --moderated --ban dave@localhost
room_start crowd bob crowd --create --nick alice

# --- usage errors: nothing is sent (the port is closed: no connection) ------

usage_error() {
	local desc=$1 expected=$2
	shift 2
	run "$XSEND" -C "$conf" --port "$closed" "$@"
	ok_rc 2 "$desc: exit 2"
	is "$ERR" "$expected" "$desc: says why"
}
try=$'\nTry \'xsend --help\' for more information.'
usage_error "--receipt with --room" \
	"xsend: --receipt does not apply to rooms (the room's echo is the confirmation)$try" \
	--room --receipt -m x "open@$M"
usage_error "--type headline with --room" \
	"xsend: --room sends groupchat messages; --type does not apply$try" \
	-r -t headline -m x "open@$M"
usage_error "--type normal with --room" \
	"xsend: --room sends groupchat messages; --type does not apply$try" \
	-t normal -r -m x "open@$M"
usage_error "--nick without --room" \
	"xsend: --nick, --room-password and --nick-retry need --room$try" \
	--nick bot -m x bob@localhost
usage_error "--room-password-file without --room" \
	"xsend: --nick, --room-password and --nick-retry need --room$try" \
	--room-password-file /dev/null -m x bob@localhost
usage_error "--nick-retry without --room" \
	"xsend: --nick, --room-password and --nick-retry need --room$try" \
	--nick-retry -m x bob@localhost
usage_error "an occupant JID as a room" \
	"xsend: 'open@$M/carol' is not a room JID (room@service); nothing sent" \
	-r -m x "open@$M/carol"
usage_error "a service JID as a room" \
	"xsend: '$M' is not a room JID (room@service); nothing sent" \
	-r -m x "$M"

room_ready crowd
# The crowd room: alice (bob's peer above) and alice-2 ... alice-8 are taken.
for i in 2 3 4 5 6 7 8; do
	case $((i % 3)) in
	0) u=carol ;;
	1) u=dave ;;
	*) u=bob ;;
	esac
	room_start "crowd$i" "$u" crowd --nick "alice-$i"
done

# --- one message into a room: join, groupchat, echo, leave -----------------

room_ready open
run "$XSEND" -C "$conf" --room --tee "open@$M" -m 'hello <room> & "all"'
ok_rc 0 "a message to a room: exit 0"
is "$ERR" "" "nothing on stderr"
like "$OUT" "^[0-9a-f-]{36}	open@$M	0\$" "--tee: ID, the room and line 0"
id=${OUT%%$'\t'*}
ok "carol saw alice leave the room" \
	xt_wait_grep "$XT_DIR/open.out" '"kind": "presence".*"nick": "alice", "type": "unavailable"' 10 open
load "$XT_DIR/open.out" '"kind": "presence".*"nick": "alice", "type": "available"'
is "${JSON[role]}/${JSON[affiliation]}" participant/none "alice joined as a participant, nick from the account's localpart"
like "${JSON[jid]}" '^alice@localhost/.+' "... from alice's full JID"
load "$XT_DIR/open.out" "\"kind\": \"message\".*\"id\": \"$id\""
is "${JSON[type_attr]}/${JSON[nick]}/${JSON[own]}" groupchat/alice/false "carol got a groupchat message from nick alice"
is "${JSON[body]}" 'hello <room> & "all"' "... the body, markup arriving literally"
is "${JSON[origin_id]}" "$id" "... its <origin-id/> is the id --tee printed"
is "${JSON[delay]}" null "... live, not history"
is "$(count "$XT_DIR/open.out" '"kind": "message".*"nick": "alice"')" 1 "exactly one message from alice"
a=$(lineno "$XT_DIR/open.out" '"kind": "presence".*"nick": "alice", "type": "available"')
b=$(lineno "$XT_DIR/open.out" "\"id\": \"$id\"")
c=$(lineno "$XT_DIR/open.out" '"kind": "presence".*"nick": "alice", "type": "unavailable"')
ok "join, then the message, then the leave ($a < $b < $c)" test 0 -lt "$a" -a "$a" -lt "$b" -a "$b" -lt "$c"

# --- --nick, --id and --url in a room -----------------------------------------

run "$XSEND" -C "$conf" -r --nick 'Bot Ü' --id room-id-1 --url https://example.org/r.png \
	-m 'from the bot' "open@$M"
ok_rc 0 "--nick, --id and --url: exit 0"
ok "carol got it" xt_wait_grep "$XT_DIR/open.out" '"id": "room-id-1"' 10 open
load "$XT_DIR/open.out" '"id": "room-id-1"'
is "${JSON[nick]}/${JSON[body]}" "Bot Ü/from the bot" "... from the nick --nick gave, with the body"
is "${JSON[origin_id]}" room-id-1 "... the <origin-id/> is the --id too"
is "${JSON[oob_url]}" https://example.org/r.png "... with the --url attached"

# --- two rooms: one message each, ID-1 and ID-2 ------------------------------

room_ready annex
run "$XSEND" -C "$conf" -r -n duo --id pair --tee "open@$M" "annex@$M" -m 'to both rooms'
ok_rc 0 "two rooms: exit 0"
# In the order the rooms echo: each room answers on its own (ejabberd's in
# either order).
is "$(sort <<<"$OUT")" "pair-1	open@$M	0
pair-2	annex@$M	0" "--tee: one line per room, the ids numbered"
ok "carol got it in open" xt_wait_grep "$XT_DIR/open.out" '"id": "pair-1"' 10 open
load "$XT_DIR/open.out" '"id": "pair-1"'
is "${JSON[nick]}/${JSON[body]}" "duo/to both rooms" "... from duo, with the body"
ok "bob got it in annex" xt_wait_grep "$XT_DIR/annex.out" '"id": "pair-2"' 10 annex
load "$XT_DIR/annex.out" '"id": "pair-2"'
is "${JSON[nick]}/${JSON[body]}/${JSON[origin_id]}" "duo/to both rooms/pair-2" "... from duo, with the body and its own id"
ok "annex: duo left" \
	xt_wait_grep "$XT_DIR/annex.out" '"kind": "presence".*"nick": "duo", "type": "unavailable"' 10 annex

# --- a password-protected room ------------------------------------------------

room_ready pw
run "$XSEND" -C "$conf" -r "pw@$M" -m 'no password'
ok_rc 8 "no --room-password: exit 8"
is_error_line "$ERR" "xsend: pw@$M: cannot join: not-authorized (a password is needed)" "... one line: the room, the condition, why"
printf 'wrong\n' >"$XT_DIR/room-wrong.pw"
printf 's3cret\n' >"$XT_DIR/room.pw"
chmod 600 "$XT_DIR/room-wrong.pw" "$XT_DIR/room.pw"
run "$XSEND" -C "$conf" -r --room-password-file "$XT_DIR/room-wrong.pw" "pw@$M" -m 'wrong password'
ok_rc 8 "a wrong room password: exit 8"
is_error_line "$ERR" "xsend: pw@$M: cannot join: not-authorized (a password is needed)" "... the same line"
run "$XSEND" -C "$conf" -r --room-password-file "$XT_DIR/room.pw" --id pw-1 "pw@$M" -m 'behind the password'
ok_rc 0 "the right --room-password-file: exit 0"
ok "the owner got the message" xt_wait_grep "$XT_DIR/pw.out" '"id": "pw-1"' 10 pw
is "$(xt_json "$(line "$XT_DIR/pw.out" '"id": "pw-1"')" body)" "behind the password" "... with its body"
is "$(count "$XT_DIR/pw.out" '"kind": "presence".*"nick": "alice", "type": "available"')" 1 \
	"the refused joins never entered the room"
# The other sources: the config key, a descriptor, and the command line
# (which works, with a warning: every user can read it there).
{ cat "$conf"; printf 'room-password = s3cret\n'; } >"$XT_DIR/roompw.conf"
chmod 600 "$XT_DIR/roompw.conf"
run "$XSEND" -C "$XT_DIR/roompw.conf" -r --id pw-k "pw@$M" -m 'with the config key'
ok_rc 0 "the room-password key: exit 0"
ok "... the owner got it" xt_wait_grep "$XT_DIR/pw.out" '"id": "pw-k"' 10 pw
run "$XSEND" -C "$conf" -r --room-password s3cret --id pw-a "pw@$M" -m 'from argv'
ok_rc 0 "--room-password on the command line still works: exit 0"
like "$ERR" 'warning: --room-password shows the password to every user' "... with a warning"
run "$XSEND" -C "$conf" -r --room-password s3cret --room-password-file "$XT_DIR/room.pw" "pw@$M" -m 'two'
ok_rc 2 "two room password sources: exit 2"
# The join as xsend sends it (-vv), into a room that now has history.
exec 7<"$XT_DIR/room.pw"
run "$XSEND" -C "$conf" -vv -r --room-password-fd 7 --id pw-2 "pw@$M" -m 'traced'
exec 7<&-
ok_rc 0 "-vv: exit 0"
join="SENT: <presence to=\"pw@$M/alice\"><x xmlns=\"http://jabber.org/protocol/muc\"><history maxstanzas=\"0\"/><password>[redacted]</password></x></presence>"
ok "the join asks for no history and has the password (redacted in the trace)" \
	grep -q -F -e "$join" "$XT_DIR/last.err"
unlike "$ERR" s3cret "the room password is not in the trace"
d=$(lineno "$XT_DIR/last.err" "SENT: <iq [^>]*to=\"pw@$M\" type=\"get\"><query xmlns=\"http://jabber.org/protocol/disco#info\"/>")
j=$(lineno "$XT_DIR/last.err" "SENT: <presence to=\"pw@$M/alice\">")
ok "disco#info before the join ($d < $j)" test 0 -lt "$d" -a "$d" -lt "$j"
ok "no history came (no delayed message)" no_line "$XT_DIR/last.err" 'RECV: <message.*urn:xmpp:delay'
ok "the leave is sent" grep -q -F -e "SENT: <presence to=\"pw@$M/alice\" type=\"unavailable\"/>" "$XT_DIR/last.err"

# --- joins the room refuses -------------------------------------------------

room_ready club
run "$XSEND" -C "$conf" -r "club@$M" -m 'let me in'
ok_rc 8 "members-only, not a member: exit 8"
is_error_line "$ERR" "xsend: club@$M: cannot join: registration-required (the room is for members only)" "... one line"
room_ready stage
run "$XSEND" -C "$(xt_config dave)" -r "stage@$M" -m 'I am back'
ok_rc 8 "banned: exit 8"
is_error_line "$ERR" "xsend: stage@$M: cannot join: forbidden (banned)" "... one line"
run "$XSEND" -C "$conf" -r -n carol "open@$M" -m 'as carol?'
ok_rc 8 "a nick in use: exit 8"
is_error_line "$ERR" "xsend: open@$M: cannot join: conflict (the nick is taken)" "... one line"
run "$XSEND" -C "$conf" -r "nothere@$M" -m 'anyone?'
ok_rc 8 "a room that does not exist: exit 8"
is_error_line "$ERR" "xsend: nothere@$M: cannot join: item-not-found (the room does not exist)" "... one line"
run xt_peer muc-check --jid bob@localhost --password bob-pw --room "nothere@$M"
ok_rc 1 "... and no room was created"
is "$(xt_json "$OUT" error_condition)" item-not-found "... disco#info still answers item-not-found"
is "$(count "$XT_DIR/club.out" '"kind": "message".*"nick": "alice"')/$(count "$XT_DIR/open.out" '"body": "as carol\?"')" \
	0/0 "nothing refused was said in a room"

# --- a message the room refuses: a visitor in a moderated room --------------

run "$XSEND" -C "$conf" -r "stage@$M" -m 'may I speak?'
ok_rc 8 "a visitor's message: exit 8"
like "$ERR" "^xsend: stage@$M: forbidden(: [^$nl]*)?\$" "... one line naming the room and the condition"
ok "the owner saw alice leave" \
	xt_wait_grep "$XT_DIR/stage.out" '"kind": "presence".*"nick": "alice", "type": "unavailable"' 10 stage
load "$XT_DIR/stage.out" '"kind": "presence".*"nick": "alice", "type": "available"'
is "${JSON[role]}" visitor "... she was in as a visitor"
ok "... and her message did not reach the room" no_line "$XT_DIR/stage.out" '"body": "may I speak\?"'

# Two rooms, one refuses: only that one is named; the other has the message.
run "$XSEND" -C "$conf" -r -n duo2 --id half "open@$M" "stage@$M" -m 'one of two'
ok_rc 8 "one room of two refuses: exit 8"
like "$ERR" "^xsend: stage@$M: forbidden(: [^$nl]*)?\$" "... one line, naming that room"
ok "the other room got it" xt_wait_grep "$XT_DIR/open.out" '"id": "half-1"' 10 open

printf 'v1\nv2\n' >"$XT_DIR/visitor.txt"
run_stdin "$XT_DIR/visitor.txt" "$XSEND" -C "$conf" -r -l -n voiceless "stage@$M"
ok_rc 8 "--lines, refused: exit 8"
like "$ERR" "^xsend: line 1: stage@$M: forbidden[^$nl]*
xsend: line 2: stage@$M: forbidden[^$nl]*\$" "... one line per refused line, with its number"

# --- --nick-retry -------------------------------------------------------------

run "$XSEND" -C "$conf" -r -n carol --nick-retry --id retry-1 "open@$M" -m 'as carol-2'
ok_rc 0 "--nick-retry, --nick taken: exit 0"
ok "carol got it" xt_wait_grep "$XT_DIR/open.out" '"id": "retry-1"' 10 open
is "$(xt_json "$(line "$XT_DIR/open.out" '"id": "retry-1"')" nick)" carol-2 "... from carol-2"

for i in 2 3 4 5 6 7 8; do room_ready "crowd$i"; done
run "$XSEND" -C "$conf" -r --nick-retry --id retry-9 "crowd@$M" -m 'ninth try'
ok_rc 0 "--nick-retry: alice to alice-8 taken: exit 0"
ok "the room got it" xt_wait_grep "$XT_DIR/crowd.out" '"id": "retry-9"' 10 crowd
is "$(xt_json "$(line "$XT_DIR/crowd.out" '"id": "retry-9"')" nick)" alice-9 "... from alice-9"
ok "alice-9 left" \
	xt_wait_grep "$XT_DIR/crowd.out" '"kind": "presence".*"nick": "alice-9", "type": "unavailable"' 10 crowd
room_start crowd9 carol crowd --nick alice-9
room_ready crowd9
run "$XSEND" -C "$conf" -r --nick-retry "crowd@$M" -m 'tenth try'
ok_rc 8 "--nick-retry: alice to alice-9 taken: exit 8"
is_error_line "$ERR" "xsend: crowd@$M: cannot join: conflict (the nick is taken)" "... one line"
ok "... and no alice-10" no_line "$XT_DIR/crowd.out" '"nick": "alice-10"'

# --- --lines: each line into the room as it arrives ----------------------------

mkfifo "$XT_DIR/fifo"
timeout -k 5 "${XT_CMD_TIMEOUT:-60}" "$XSEND" -C "$conf" -r -l --tee -n streamer "open@$M" \
	<"$XT_DIR/fifo" >"$XT_DIR/stream.out" 2>"$XT_DIR/stream.err" &
xpid=$!
xt_at_exit quiet_kill "$xpid"
exec 7>"$XT_DIR/fifo"
printf 'first line\n' >&7
ok "the first line reaches the room while input is open" \
	xt_wait_grep "$XT_DIR/open.out" '"body": "first line".*"nick": "streamer"' 10 open
ok "xsend is still in the room, waiting for more" kill -0 "$xpid"
printf '\nsecond <line>\n' >&7
exec 7>&-
wait "$xpid"
is "$?" 0 "end of input: exit 0"
is "$(cat "$XT_DIR/stream.err")" "" "nothing on stderr"
is "$(cut -f2- "$XT_DIR/stream.out")" "open@$M	1
open@$M	3" "--tee: the room and the line numbers (line 2 is empty: skipped)"
id2=$(sed -n '2s/\t.*//p' "$XT_DIR/stream.out")
ok "the second line reaches the room" xt_wait_grep "$XT_DIR/open.out" "\"id\": \"$id2\"" 10 open
load "$XT_DIR/open.out" "\"id\": \"$id2\""
is "${JSON[nick]}/${JSON[body]}" "streamer/second <line>" "... from streamer, with its body"
ok "streamer left" \
	xt_wait_grep "$XT_DIR/open.out" '"kind": "presence".*"nick": "streamer", "type": "unavailable"' 10 open
is "$(count "$XT_DIR/open.out" '"kind": "presence".*"nick": "streamer", "type": "available"')" 1 \
	"one join for the whole stream"
is "$(count "$XT_DIR/open.out" '"kind": "message".*"nick": "streamer"')" 2 "two messages, the empty line skipped"

# --- what review found: each was wrong once -----------------------------------

run "$XSEND" -C "$conf" -r -t chat -m x "open@$M"
ok_rc 2 "--type chat with --room: exit 2 (rooms take groupchat only)"
run "$XSEND" -C "$conf" --port "$closed" -r -n '' -m x "open@$M"
ok_rc 2 "an empty --nick: exit 2 before connecting"
like "$ERR" "invalid nick ''" "empty nick: says so"
run "$XSEND" -C "$conf" -r -m x "alice@localhost"
ok_rc 8 "an account, not a room: exit 8 at once"
is "$ERR" "xsend: alice@localhost: cannot join: feature-not-implemented: not a multi-user chat room" \
	"not a room: says so"
run "$XSEND" -C "$conf" -r --tee -n visitor2 -m "not allowed" "stage@$M"
ok_rc 8 "a refused message: exit 8"
is "$OUT" "" "--tee prints nothing for a message the room refused"

run "$XSEND" -C "$conf" -r -w 5 -n topic -s 'New topic' -m '' "open@$M"
ok_rc 8 "a subject change a participant may not make: exit 8, not a timeout"
like "$ERR" "open@$M: forbidden" "subject change refused: the room and the condition"

# The owners leave at once.
for p in open annex pw club stage crowd crowd2 crowd3 crowd4 crowd5 crowd6 crowd7 crowd8 crowd9; do
	xt_bg_kill "$p"
done
