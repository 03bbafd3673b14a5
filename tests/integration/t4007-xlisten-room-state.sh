#!/bin/bash
# SPDX-License-Identifier: MIT
# t4007-xlisten-room-state: xlisten --state FILE with --room catches up from
# each room's own archive (XEP-0313 query to the room, deduplicated by the
# room's stanza-ids): an empty FILE means live only; what the rooms said
# while it was down is printed on restart, room by room, in order; a
# listener killed with SIGKILL in the middle of a burst that the peer sends
# to the room, restarted with the same FILE, prints every message exactly
# once, in order; FILE keeps one cursor per archive; a room without an
# archive: one warning naming it, then live; --since reads a room's archive
# from a time.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
plan 23

xt_server_start mam
D=$XT_DIR
if [ "$XT_SERVER" = prosody ]; then
	# The rooms' archive is Prosody's mod_muc_mam, a module of the MUC
	# component: the last section of the generated configuration.
	printf '\tmodules_enabled = { "muc_mam" }\n' >>"$XT_SERVER_DIR/prosody.cfg.lua"
	xt_server_restart
fi
bconf=$(xt_config bob)
cconf=$(xt_config carol)
R1=r1@$XT_MUC   # archived
R3=r3@$XT_MUC   # archived
R2=r2@$XT_MUC   # no archive
t_begin=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# --- the rooms: carol owns them; persistent, so they outlive her -------------
# Prosody archives rooms unless their configuration says not to; ejabberd
# only rooms whose configuration says "mam".
mkroom() {
	run xt_peer muc --jid carol@localhost --password carol-pw --room "$1" \
		--create --persistent --count 0 "${@:2}"
	[ "$RC" = 0 ] || bail_out "cannot create $1: $ERR"
}
archive_room() {
	printf "<iq type='set' to='%s' id='cfg-%s'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field><field var='mam'><value>1</value></field></x></query></iq>\n" \
		"$1" "${1%%@*}" >"$D/cfg.xml"
	run_stdin "$D/cfg.xml" "$XSEND" -C "$cconf" --raw
	if [ "$RC" != 0 ] || [[ $OUT != *result* ]]; then
		bail_out "cannot enable the archive of $1: $OUT $ERR"
	fi
}
mkroom "$R1"
mkroom "$R3"
if [ "$XT_SERVER" = prosody ]; then
	mkroom "$R2" --config enablearchiving=0
else
	mkroom "$R2"
	archive_room "$R1"
	archive_room "$R3"
fi

# xl_start NAME ARGS...: xlisten as bob@localhost/NAME in the background,
# -J -v; with ROOMS (nick NAME), returns once it is in each of them.
ROOMS=()
xl_start() {
	local name=$1 r nick=()
	shift
	[ "${#ROOMS[@]}" = 0 ] || nick=(--nick "$name")
	xt_bg "$name" "$XLISTEN" -C "$bconf" --resource "$name" "${nick[@]}" -J -v "$@"
	for r in "${ROOMS[@]}"; do
		xt_wait_grep "$D/$name.err" "joined $r as " 20 "$name" ||
			bail_out "xlisten $name is not in $r: $(cat "$D/$name.err")"
	done
}
# xl_stop NAME: SIGTERM to xlisten itself (xt_bg runs it under timeout).
xl_stop() {
	kill -"${2:-TERM}" "$(cat /proc/"$(xt_bg_pid "$1")"/task/*/children)"
	xt_bg_wait "$1"
}
# bodies ROOM FILE...: the bodies of the JSON records from ROOM, one a line.
bodies() {
	local room=$1
	shift
	cat "$@" | grep -F "\"room\":\"$room\"" | grep -o '"body":"[^"]*"' |
		sed 's/^"body":"//; s/"$//'
}
# wait_bodies N ROOM FILE...: poll until the files hold N distinct bodies
# from ROOM (30 s).
wait_bodies() {
	local n=$1 i
	shift
	for ((i = 0; i < 300; i++)); do
		[ "$(bodies "$@" | sort -u | wc -l)" -ge "$n" ] && return 0
		sleep 0.1
	done
	diag "$(bodies "$@" | sort -u | wc -l) distinct bodies from $1, not $n"
	return 1
}
# say ROOM ARGS...: dave says something in ROOM.
say() {
	local room=$1
	shift
	run xt_peer muc-send --jid dave@localhost --password dave-pw --room "$room" "$@"
	[ "$RC" = 0 ] || diag "dave in $room: $* failed ($RC): $ERR"
}
warnings() {
	grep 'warning' "$D/$1.err"
}

# --- an empty state file: live only ----------------------------------------
ROOMS=("$R1" "$R3")
say "$R1" --body 'before the first run'
: >"$D/bob.state"
xl_start first --state "$D/bob.state" --room "$R1" --room "$R3"
say "$R1" --body 'first live'
say "$R3" --body 'first live in r3'
wait_bodies 1 "$R1" "$D/first.out"
wait_bodies 1 "$R3" "$D/first.out"
xl_stop first
ok_rc 0 "first run: exit 0"
is "$(bodies "$R1" "$D/first.out")" "first live" "empty state: live messages only"
is "$(grep -c '^room=' "$D/bob.state")" 2 "the state has a section for each room"
like "$(cat "$D/bob.state")" $'room='"$R1"$'\n(seen=[^\n]*\n)*last=[^\n]+' "... with the last id of $R1"

# --- down for a while: each room's messages on restart, in order ----------------
say "$R1" --count 5 --body 'down {n}'
say "$R3" --count 3 --body 'r3 down {n}'
xl_start second --state "$D/bob.state" --room "$R1" --room "$R3"
wait_bodies 5 "$R1" "$D/second.out"
wait_bodies 3 "$R3" "$D/second.out"
say "$R1" --body 'second live'
wait_bodies 6 "$R1" "$D/second.out"
xl_stop second
ok_rc 0 "second run: exit 0"
is "$(bodies "$R1" "$D/second.out")" "down 1
down 2
down 3
down 4
down 5
second live" "what $R1 said while down comes first, in order, then live"
is "$(bodies "$R3" "$D/second.out")" "r3 down 1
r3 down 2
r3 down 3" "$R3 caught up from its own archive, in order"
is "$(grep -c 'first live' "$D/second.out")" 0 "what the first run printed is not printed again"
is "$(warnings second)" "" "second run: no warning"

# --- --since: a room new to the file reads its archive from that time -------------
ROOMS=("$R3")
xl_start since --state "$D/since.state" --since "$t_begin" --room "$R3"
wait_bodies 4 "$R3" "$D/since.out"
xl_stop since
ok_rc 0 "--since with --room: exit 0"
is "$(bodies "$R3" "$D/since.out")" "first live in r3
r3 down 1
r3 down 2
r3 down 3" "--since: the room's archive from that time, in order"

# --- a run without --room keeps the rooms' cursors ---------------------------------
r1last=$(grep -A 100 "^room=$R1\$" "$D/bob.state" | grep -m 1 '^last=')
ROOMS=()
xl_start noroom --state "$D/bob.state" -w 3
xt_bg_wait noroom
ok_rc 0 "a run without --room: exit 0"
is "$(grep -A 100 "^room=$R1\$" "$D/bob.state" | grep -m 1 '^last=')" "$r1last" \
	"... leaves the rooms' sections as they were"

# --- SIGKILL in the middle of a burst the peer sends to the room -------------------
ROOMS=("$R1")
N=120
xl_start burst1 --state "$D/bob.state" --room "$R1"
xt_bg sender xt_peer muc-send --jid dave@localhost --password dave-pw --room "$R1" \
	--count $N --body 'burst {n}' --timeout 60
for ((i = 0; i < 500; i++)); do
	[ "$(bodies "$R1" "$D/burst1.out" | grep -c '^burst')" -ge 20 ] && break
	sleep 0.02
done
xl_stop burst1 KILL
is "$RC" 137 "the first listener was killed (SIGKILL)"
printed1=$(bodies "$R1" "$D/burst1.out" | grep -c '^burst')
ok "it was killed in the middle of the burst ($printed1 of $N printed)" \
	test "$printed1" -gt 0 -a "$printed1" -lt $N
xl_start burst2 --state "$D/bob.state" --room "$R1"
xt_bg_wait sender
ok_rc 0 "the peer sent the $N messages to the room"
wait_bodies $N "$R1" "$D/burst1.out" "$D/burst2.out"
say "$R1" --body 'after the burst'
wait_bodies $((N + 1)) "$R1" "$D/burst1.out" "$D/burst2.out"
xl_stop burst2
ok_rc 0 "the second listener: exit 0"
for ((i = 1; i <= N; i++)); do echo "burst $i"; done >"$D/burst.want"
# (the message in flight at the kill may come twice, one after the other)
is "$(bodies "$R1" "$D/burst1.out" "$D/burst2.out" | grep '^burst' | uniq)" \
	"$(cat "$D/burst.want")" "every message of the burst once, in order"
dups=$(bodies "$R1" "$D/burst1.out" "$D/burst2.out" | grep '^burst' | sort | uniq -d | wc -l)
ok "at most the one in flight printed twice ($dups)" test "$dups" -le 1
is "$(bodies "$R1" "$D/burst2.out" | tail -n 1)" "after the burst" "then live"

# --- a room without an archive: one warning naming it, then live ----------------------
ROOMS=("$R2")
printf 'archive=bob@localhost\nroom=%s\nlast=nothing-yet\n' "$R2" >"$D/r2.state"
xl_start noarch --state "$D/r2.state" --room "$R2"
say "$R2" --body 'no archive'
wait_bodies 1 "$R2" "$D/noarch.out"
xl_stop noarch
ok_rc 0 "room without archive: exit 0"
is "$(bodies "$R2" "$D/noarch.out")" "no archive" "... live messages"
is "$(warnings noarch)" \
	"xlisten: warning: $R2: no message archive (XEP-0313) to catch up from (feature-not-implemented): live messages only" \
	"... one warning naming the room"
