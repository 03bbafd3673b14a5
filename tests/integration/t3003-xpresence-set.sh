#!/bin/bash
# SPDX-License-Identifier: MIT
# t3003-xpresence-set: xpresence set as slixmpp contacts see it: show,
# status and priority (-1 unless --priority); the end on a signal or at -w
# with unavailable presence; no message routed to it and no offline message
# flushed to it; --stdin publishing each line as it arrives; directed
# presence (--to) to a contact and to a room; subscription requests printed,
# not accepted; usage errors.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
plan 76

xt_server_start
conf=$(xt_config alice)

# befriend A B: A and B see each other's presence (subscription both).
befriend() {
	local a b
	a=$(xt_config "$1")
	b=$(xt_config "$2")
	roster "$a" subscribe "$2@localhost"
	roster "$b" approve "$1@localhost"
	roster "$b" subscribe "$1@localhost"
	roster "$a" approve "$2@localhost"
}

# roster CONFIG ARGS...: xroster -C CONFIG ARGS, which must succeed.
roster() {
	run "$XROSTER" -C "$@"
	[ "$RC" = 0 ] || bail_out "xroster $* failed (exit $RC): $ERR"
}

# watcher USER: a slixmpp session of USER that prints every presence from
# alice ($XT_DIR/USER.out), until the end of the script.
watcher() {
	rm -f "$XT_DIR/$1.ready"
	XT_CMD_TIMEOUT=600 xt_bg "$1" xt_peer watch --jid "$1@localhost" --password "$1-pw" --resource w \
		--from alice@localhost --timeout 600 --ready "$XT_DIR/$1.ready"
	xt_wait_file "$XT_DIR/$1.ready" 20 "$1" || bail_out "$1's watcher is not ready"
}

# mark USER: what USER's watcher printed so far is old.
declare -A MARK=()
mark() {
	MARK[$1]=$(($(wc -l <"$XT_DIR/$1.out") + 1))
}

# seen USER: the records of USER's watcher since mark USER.
seen() {
	tail -n "+${MARK[$1]}" "$XT_DIR/$1.out"
}

# see USER ERE [SECONDS]: wait until a record since mark USER matches ERE.
see() {
	local i limit=$((${3:-5} * 100))
	for ((i = 0; i < limit; i++)); do
		seen "$1" | grep -E -q -e "$2" && return 0
		_xt_nap
	done
	diag "$1 saw no presence matching $2 in ${3:-5} s"
	return 1
}

# record USER ERE: the first record since mark USER that matches ERE, into
# the array JSON.
record() {
	xt_json_load "$(seen "$1" | grep -E -m 1 -e "$2")"
}

# set_start NAME ARGS...: xpresence set ARGS in the background.
set_start() {
	local name=$1
	shift
	xt_bg "$name" "$XPRESENCE" -C "$conf" set "$@"
}

# stop NAME [SIGNAL]: end a background process and wait for it (RC, OUT).
stop() {
	xt_bg_kill "$1" "${2:-TERM}"
	xt_bg_wait "$1"
}

AVAIL='"type": null'
GONE='"type": "unavailable"'

# --- usage ------------------------------------------------------------------

run "$XPRESENCE" -C "$conf" set busy
ok_rc 2 "set busy: exit 2"
like "$ERR" 'available, away, chat, dnd or xa' "set busy: names the states"
run "$XPRESENCE" -C "$conf" set away dnd
ok_rc 2 "set with two states: exit 2"
run "$XPRESENCE" -C "$conf" set --priority 128
ok_rc 2 "--priority 128: exit 2"
run "$XPRESENCE" -C "$conf" set --to 'a@b@c'
ok_rc 2 "--to with an invalid JID: exit 2"
run "$XPRESENCE" -C "$conf" set -m $'bell\a'
ok_rc 2 "-m with a control character: exit 2"
# (-w 2: should they be taken, the run ends soon all the same)
run "$XPRESENCE" -C "$conf" -w 2 set --until away
ok_rc 2 "set: --until is for wait (exit 2)"
run "$XPRESENCE" -C "$conf" -w 2 set -c 3
ok_rc 2 "set: --count is for watch (exit 2)"

befriend alice bob
befriend alice carol
watcher bob

# --- set away -m: show, status, priority -1; SIGTERM ends it ----------------

mark bob
set_start s1 -vv away -m "out for lunch"
see bob "$AVAIL"
record bob "$AVAIL"
like "${JSON[from]}" '^alice@localhost/.+' "bob sees alice's xpresence session"
is "${JSON[show]}" away "with show away"
is "${JSON[status]}" "out for lunch" "with the status"
is "${JSON[priority]}" -1 "with priority -1 (no --priority)"
s1_jid=${JSON[from]}
stop s1 TERM
ok_rc 0 "SIGTERM: exit 0"
is "$OUT" "" "set prints nothing"
like "$ERR" 'signal 15: closing.*SENT: <presence[^>]* type="unavailable"' \
	"on SIGTERM, xpresence itself sends unavailable presence (-vv trace)"
see bob "$GONE"
record bob "$GONE"
is "${JSON[from]}" "$s1_jid" "then bob sees that session unavailable"
is "$(seen bob | wc -l)" 2 "two presences in all"

# --- plain set, --priority 5, SIGINT ----------------------------------------

mark bob
set_start s2 --priority 5 -m "hello"
see bob "$AVAIL"
record bob "$AVAIL"
is "${JSON[show]}" null "set without a state: available (no show)"
is "${JSON[status]}" hello "with the status"
is "${JSON[priority]}" 5 "--priority 5: priority 5"
stop s2 INT
ok_rc 0 "SIGINT: exit 0"
ok "then unavailable" see bob "$GONE"

# --- -w: the run ends at the deadline, with exit 0 --------------------------

mark bob
t0=${EPOCHREALTIME/./}
run "$XPRESENCE" -C "$conf" -w 1 set dnd
ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
ok_rc 0 "set -w 1: exit 0 at the deadline"
ok "set -w 1: after a second ($ms ms)" test "$ms" -ge 1000
ok "bob saw dnd" see bob '"show": "dnd"'
ok "and unavailable at the end" see bob "$GONE"

# --- priority -1: no message routed to it, no offline message flushed -------

run xt_peer send --jid dave@localhost --password dave-pw --to alice@localhost \
	--type chat --body "stored while alice was offline"
ok_rc 0 "dave sends alice a message while she is offline"
mark bob
set_start s3 chat -m "bot"
see bob "$AVAIL"
run xt_peer send --jid dave@localhost --password dave-pw --to alice@localhost \
	--type chat --body "sent while xpresence set runs"
ok_rc 0 "dave sends alice a message while xpresence set runs"
stop s3
ok_rc 0 "set ends: exit 0"
run xt_peer recv --jid alice@localhost/reader --password alice-pw --count 2 --timeout 10
ok_rc 0 "a client of alice's that logs in later gets two messages"
is "$(xt_json "$(sed -n 1p <<<"$OUT")" body)" "stored while alice was offline" \
	"the message stored before was not flushed to xpresence"
is "$(xt_json "$(sed -n 2p <<<"$OUT")" body)" "sent while xpresence set runs" \
	"the message sent meanwhile was stored, not routed to xpresence"

# --- --stdin: each line is published as it comes ----------------------------

fifo=$XT_DIR/status.fifo
mkfifo "$fifo"
mark bob
# shellcheck disable=SC2016 # $0 and $@ are the inner shell's
xt_bg st bash -c 'exec "$0" "$@" <"'"$fifo"'"' "$XPRESENCE" -C "$conf" set --stdin -m "starting"
exec {w}>"$fifo"
see bob "$AVAIL"
record bob "$AVAIL"
is "${JSON[status]}/${JSON[show]}" starting/null "--stdin: the first presence is the command line's"
st_jid=${JSON[from]}

# feed LINE SHOW STATUS: write a line, wait until bob sees the change.
n_seen=1
feed() {
	printf '%s\n' "$1" >&"$w"
	n_seen=$((n_seen + 1))
	local i
	for ((i = 0; i < 1000; i++)); do
		[ "$(seen bob | wc -l)" -ge "$n_seen" ] && break
		_xt_nap
	done
	xt_json_load "$(seen bob | sed -n "${n_seen}p")"
	is "${JSON[from]}|${JSON[type]}|${JSON[show]}|${JSON[status]}|${JSON[priority]}" \
		"$st_jid|null|$2|$3|-1" "--stdin: '$1' arrives on its own"
}
feed "away out for lunch" away "out for lunch"
feed "dnd   in a meeting, do not disturb" dnd "in a meeting, do not disturb"
feed "available" null null
feed $'chat  let\'s talk \xc3\xa9\r' chat "let's talk é"
feed "xa" xa null
exec {w}>&-
sleep 0.5
ok "--stdin: at the end of the input, xpresence stays online" _xt_alive "$(xt_bg_pid st)"
is "$(seen bob | wc -l)" 6 "--stdin: nothing more was sent at the end of the input"
stop st
ok_rc 0 "--stdin: SIGTERM, exit 0"
ok "--stdin: unavailable at the end" see bob "$GONE"

printf 'away gone\nbusy now\nchat never sent\n' >"$XT_DIR/bad.txt"
mark bob
run_stdin "$XT_DIR/bad.txt" "$XPRESENCE" -C "$conf" set --stdin
ok_rc 2 "--stdin, a line with an unknown state: exit 2"
is "$ERR" "xpresence: standard input: line 2: 'busy' is not available, away, chat, dnd or xa" \
	"--stdin: the error names the line"
see bob "$GONE"
is "$(seen bob | grep -c -F '"show": "away"')" 1 "--stdin: the line before was published"
unlike "$(seen bob)" '"show": "chat"' "--stdin: the line after was not"
like "$(seen bob | grep -v '"type": "error"' | tail -n 1)" "$GONE" "--stdin: unavailable at the end"
sleep 0.5
unlike "$(seen bob)" '"type": "error"' \
	"no presence of bob's comes back to him as an error (xpresence acknowledged what it received)"

# --- --to: directed presence, to a contact without subscription -------------

watcher dave
watcher carol
mark bob
mark dave
mark carol
set_start d1 away -m "just for dave" --to dave@localhost
see dave "$AVAIL"
record dave "$AVAIL"
like "${JSON[from]}" '^alice@localhost/.+' "--to dave: dave sees alice's session"
is "${JSON[to]%%/*}" dave@localhost "--to dave: addressed to dave"
is "${JSON[show]}/${JSON[status]}/${JSON[priority]}" "away/just for dave/-1" \
	"--to dave: show, status and priority -1"
d1_jid=${JSON[from]}
stop d1
ok_rc 0 "--to: SIGTERM, exit 0"
see dave "$GONE"
record dave "$GONE"
is "${JSON[from]}" "$d1_jid" "--to dave: dave sees it go unavailable"
sleep 0.3
unlike "$(seen bob)" "\"from\": \"$d1_jid\"" "--to dave: bob, a subscriber, sees nothing"
unlike "$(seen carol)" "\"from\": \"$d1_jid\"" "--to dave: nor does carol"

mark bob
mark dave
mark carol
set_start d2 xa --to dave@localhost --to carol@localhost
see dave "$AVAIL"
see carol "$AVAIL"
record carol "$AVAIL"
is "${JSON[show]}" xa "--to twice: carol sees it"
stop d2
ok_rc 0 "--to twice: exit 0"
ok "--to twice: dave sees it end" see dave "$GONE"
ok "--to twice: carol sees it end" see carol "$GONE"
sleep 0.3
is "$(seen bob)" "" "--to twice: bob sees nothing"

# --- --to a room occupant JID ------------------------------------------------

room=lounge@$XT_MUC
rm -f "$XT_DIR/room.ready"
xt_bg room xt_peer muc --jid carol@localhost --password carol-pw --room "$room" \
	--create --timeout 60 --ready "$XT_DIR/room.ready"
xt_wait_file "$XT_DIR/room.ready" 20 room || bail_out "carol's room is not ready"
set_start r1 dnd -m "a bot in the room" --to "$room/statusbot"
if xt_wait_grep "$XT_DIR/room.out" '"kind": "presence".*"nick": "statusbot"' 10 room; then
	pass "--to ROOM/NICK: the room shows a new occupant"
	xt_json_load "$(grep -m 1 '"nick": "statusbot"' "$XT_DIR/room.out")"
	is "${JSON[type]}" available "--to ROOM/NICK: it is available"
	is "${JSON[show]}/${JSON[status]}" "dnd/a bot in the room" "--to ROOM/NICK: with show and status"
	like "${JSON[jid]}" '^alice@localhost/' "--to ROOM/NICK: it is alice"
	stop r1
	ok_rc 0 "--to ROOM/NICK: exit 0"
	ok "--to ROOM/NICK: it leaves the room at the end" \
		xt_wait_grep "$XT_DIR/room.out" '"nick": "statusbot".*"type": "unavailable"' 10 room
else
	fail "--to ROOM/NICK: the room shows a new occupant" "xpresence said: $(cat "$XT_DIR/r1.err")"
	skip "the room has no such occupant" 5
	stop r1
fi
stop room

# A room that refuses alice: the error is said, xpresence goes on.
rm -f "$XT_DIR/club.ready"
xt_bg club xt_peer muc --jid carol@localhost --password carol-pw --room "club@$XT_MUC" \
	--create --members-only --timeout 60 --ready "$XT_DIR/club.ready"
xt_wait_file "$XT_DIR/club.ready" 20 club || bail_out "carol's members-only room is not ready"
set_start r2 --to "club@$XT_MUC/statusbot"
ok "--to a members-only room: the refusal is shown" \
	xt_wait_grep "$XT_DIR/r2.err" "club@$XT_MUC/statusbot: presence refused: [a-z-]+\$" 10 r2
stop r2
ok_rc 0 "--to a members-only room: xpresence stays until stopped, exit 0"

# With several --to, the refusal names the JID that refused.
set_start r3 --to dave@localhost --to "club@$XT_MUC/statusbot"
xt_wait_grep "$XT_DIR/r3.err" "presence refused" 10 r3
stop r3
like "$ERR" "club@$XT_MUC/statusbot: presence refused" "--to twice: the refusal names the room, not the first --to"
stop club

# --- a subscription request while set runs ----------------------------------

mark bob
set_start s9 -m "around"
see bob "$AVAIL"
stop dave
rm -f "$XT_DIR/dave2.ready"
xt_bg dave2 xt_peer watch --jid dave@localhost --password dave-pw --resource asker \
	--subscribe alice@localhost --ready "$XT_DIR/dave2.ready"
xt_wait_file "$XT_DIR/dave2.ready" 20 dave2 || bail_out "dave's peer is not ready"
ok "the request is printed on stdout" \
	xt_wait_grep "$XT_DIR/s9.out" $'^dave@localhost\tsubscribe\t$' 10 s9
sleep 0.5 # time enough to answer it, if it were to be answered
stop s9
ok_rc 0 "set with a request: exit 0"
is "$OUT" $'dave@localhost\tsubscribe\t' "set printed the request, nothing else"
stop dave2
unlike "$OUT" '"type": "subscribed"' "dave did not get <presence type='subscribed'/>"
run "$XROSTER" -C "$conf" -F '%j %S' list
unlike "$OUT" 'dave@localhost (from|both)' "alice's roster does not share her presence with dave"

stop bob
ok_rc 0 "bob's watcher: exit 0"
# Over the whole run, no xpresence session showed itself with a priority of
# 0 or more but the one with --priority 5 (alice/reader is the slixmpp
# client that read alice's messages).
prios=$("$XT_PYTHON" -c '
import json, sys
records = [json.loads(line) for line in sys.stdin]
print(" ".join(sorted({r["priority"] or "none" for r in records
                       if r["type"] is None and r["from"] != "alice@localhost/reader"})))
' <"$XT_DIR/bob.out")
is "$prios" "-1 5" "bob saw priorities -1 and (with --priority 5) 5 only"
