#!/bin/bash
# SPDX-License-Identifier: MIT
# t4001-xlisten-filters: what xlisten selects and joins: --from (bare and
# full JIDs, repeatable, positional JIDs), --type, usage errors (exit 2
# before connecting), --presence and --priority, --all, rooms (--room with
# --nick, --room-password, --history; a refused join is exit 8) and
# --carbons (XEP-0280, with a forged carbon ignored).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
plan 65

xt_server_start
aconf=$(xt_config alice)
bconf=$(xt_config bob)
cconf=$(xt_config carol)
dconf=$(xt_config dave)

# --- usage errors: exit 2, one line on stderr, no connection ----------------
# The port is closed: had xlisten tried to connect, the exit status would be 4.

closed=$(xt_closed_port)
usage() {
	local want=$1
	shift
	run "$XLISTEN" -C "$bconf" --port "$closed" "$@"
	ok_rc 2 "$* : exit 2"
	# (popt's errors add "Try 'xlisten --help' ..." on a second line)
	is "${ERR%%$'\n'*}" "xlisten: $want" "$* : says why"
}
usage "--type: 'bogus' is not chat, normal, headline, groupchat or error" -t chat --type bogus
usage "--format: unknown directive '%z' (known: TyftibshruE and %%)" -F 'x %z'
usage "--format: unknown escape '\\q' (known: \\n \\t \\0 \\\\)" -F 'x \q'
usage "--from: invalid JID '@localhost': empty localpart" --from @localhost
usage "invalid JID 'bob@': empty domainpart" bob@
usage "--room: invalid room 'conference.localhost': not a room JID (room@service)" --room conference.localhost
usage "--nick, --room-password and --history need --room" --nick me
usage "--count: invalid number '0' (1 to 2147483647)" -c 0
usage "--priority: invalid number '128' (-128 to 127)" --priority 128
usage "--keepalive: invalid duration '0' (seconds, at least 1)" --keepalive 0
usage "--exec: 'cat \"x' is missing a closing quote" --exec 'cat "x'
usage "--exec hands each message to a command; -F, -J, -X and -0 do not apply" --exec cat -J

# xl_start NAME [ARGS...]: xlisten as bob@localhost/NAME in the background
# (output in $XT_DIR/NAME.out); returns once it answers a ping to its full
# JID, so it is online and the server has processed its initial presence.
xl_start() {
	local name=$1 i
	shift
	xt_bg "$name" "$XLISTEN" -C "$bconf" --resource "$name" "$@"
	printf "<iq type='get' to='bob@localhost/%s' id='ready-%s'><ping xmlns='urn:xmpp:ping'/></iq>\n" \
		"$name" "$name" >"$XT_DIR/ping-$name.xml"
	for ((i = 0; i < 100; i++)); do
		run_stdin "$XT_DIR/ping-$name.xml" "$XSEND" -C "$aconf" --raw
		[ "$RC" = 0 ] && return 0
		kill -0 "$(xt_bg_pid "$name")" 2>/dev/null || break
		sleep 0.1
	done
	bail_out "xlisten $name is not online: $(cat "$XT_DIR/$name.err")"
}

# wait_lines FILE N: poll until FILE has N lines (at most 15 s).
wait_lines() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(wc -l <"$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	diag "$1 has $(wc -l <"$1") lines, not $2"
	return 1
}

# stop NAME...: SIGTERM, wait; each must exit 0 without a word on stderr.
stop() {
	local n bad=
	for n in "$@"; do
		xt_bg_kill "$n" TERM
	done
	for n in "$@"; do
		xt_bg_wait "$n"
		[ "$RC" = 0 ] && [ -z "$ERR" ] || bad+="$n($RC: $ERR) "
	done
	is "$bad" "" "$* : exit 0 on SIGTERM, nothing on stderr"
}

# --- --from and --type -------------------------------------------------------

L='fbare ffull frep fpos ftype ferr'
xl_start fbare -F '%b' --from carol@localhost
xl_start ffull -F '%b' --from carol@localhost/c2
xl_start frep -F '%b' --from alice@localhost --from dave@localhost
xl_start fpos -F '%b' dave@localhost carol@localhost/c1
xl_start ftype -F '%y %b' -t headline --type normal
xl_start ferr -F '%y %b' --type error --from alice@localhost
all_to=()
for n in $L; do all_to+=("bob@localhost/$n"); done

sent=
# send CONF RESOURCE ARGS...: xsend from that account and resource to every
# filter listener.
send() {
	local conf=$1 res=$2
	shift 2
	run "$XSEND" -C "$conf" --resource "$res" "$@" "${all_to[@]}"
	sent+="$RC "
}
send "$aconf" a1 -m a1
send "$cconf" c1 -m c1
send "$cconf" c2 -t normal -m c2
send "$dconf" d1 -t headline -m d1
# A raw stanza: no type attribute (normal), then an error.
{
	for to in "${all_to[@]}"; do
		printf "<message to='%s' id='n1'><body>n1</body></message>\n" "$to"
		printf "<message to='%s' id='e1' type='error'><body>e1</body><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>\n" "$to"
	done
} >"$XT_DIR/raw.xml"
run_stdin "$XT_DIR/raw.xml" "$XSEND" -C "$aconf" --raw
sent+="$RC "
send "$cconf" c2 -m c3
send "$dconf" d2 -m d2
is "$sent" "0 0 0 0 0 0 0 " "the seven sends were accepted"

wait_lines "$XT_DIR/fbare.out" 3
wait_lines "$XT_DIR/ffull.out" 2
wait_lines "$XT_DIR/frep.out" 5
wait_lines "$XT_DIR/fpos.out" 3
wait_lines "$XT_DIR/ftype.out" 3
wait_lines "$XT_DIR/ferr.out" 1
# shellcheck disable=SC2086
stop $L
is "$(tr '\n' ' ' <"$XT_DIR/fbare.out")" "c1 c2 c3 " "--from BARE: every resource of that JID, nobody else"
is "$(tr '\n' ' ' <"$XT_DIR/ffull.out")" "c2 c3 " "--from FULL: that resource only"
is "$(tr '\n' ' ' <"$XT_DIR/frep.out")" "a1 d1 n1 e1 d2 " "--from twice: either sender"
is "$(tr '\n' ' ' <"$XT_DIR/fpos.out")" "c1 d1 d2 " "positional JIDs filter as --from does (bare and full)"
is "$(tr '\n' '|' <"$XT_DIR/ftype.out")" "normal c2|headline d1|normal n1|" \
	"--type twice: headline or normal (no type attribute is normal)"
is "$(cat "$XT_DIR/ferr.out")" "error e1" "--type error with --from: both filters apply"

# --- presence records, --priority ------------------------------------------

xl_start prj -J --presence
xl_start prt --presence
# Another client of bob's with show, status and priority (and then its
# unavailable presence when it leaves), and an xlisten with --priority.
printf "<presence><show>dnd</show><status>busy &amp; away\tnow</status><priority>3</priority></presence>\n" \
	>"$XT_DIR/presence.xml"
run_stdin "$XT_DIR/presence.xml" "$XSEND" -C "$bconf" --resource other --raw
ok_rc 0 "bob/other sent a presence with show, status and priority"
xl_start prio --priority -7
stop prio
# prj: its own presence, prt's, other's (dnd, unavailable), prio's
# (available, unavailable); prt: the same but prt's.
wait_lines "$XT_DIR/prj.out" 6
wait_lines "$XT_DIR/prt.out" 5
stop prj prt

# pres_check FILE FROM EXPECTED: the JSON presence records from FROM, each as
# the python repr of a dict, one per line, in order.
pres_of() {
	"$XT_PYTHON" - "$XT_DIR/prj.out" "$1" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    if r.get("from") == sys.argv[2]:
        keys = list(r)
        if keys != ["kind", "time", "delayed", "from", "to", "state", "show", "status",
                    "priority", "error_condition"]:
            print("keys:", keys)
        del r["time"]
        print(json.dumps(r, sort_keys=True))
PY
}
is "$(pres_of bob@localhost/other)" \
	'{"delayed": false, "error_condition": null, "from": "bob@localhost/other", "kind": "presence", "priority": 3, "show": "dnd", "state": "dnd", "status": "busy & away\tnow", "to": "bob@localhost/prj"}
{"delayed": false, "error_condition": null, "from": "bob@localhost/other", "kind": "presence", "priority": null, "show": null, "state": "unavailable", "status": null, "to": "bob@localhost/prj"}' \
	"JSON presence: state, show, status, priority (a number), then unavailable"
is "$(pres_of bob@localhost/prio)" \
	'{"delayed": false, "error_condition": null, "from": "bob@localhost/prio", "kind": "presence", "priority": -7, "show": null, "state": "available", "status": null, "to": "bob@localhost/prj"}
{"delayed": false, "error_condition": null, "from": "bob@localhost/prio", "kind": "presence", "priority": null, "show": null, "state": "unavailable", "status": null, "to": "bob@localhost/prj"}' \
	"--priority -7 is in the initial presence; SIGTERM sends unavailable"
# Our own presence, reflected: Prosody addresses it to no one, ejabberd to us.
own_to=null
[ "$XT_SERVER" = ejabberd ] && own_to='"bob@localhost/prj"'
is "$(pres_of bob@localhost/prj | head -n 1)" \
	'{"delayed": false, "error_condition": null, "from": "bob@localhost/prj", "kind": "presence", "priority": null, "show": null, "state": "available", "status": null, "to": '"$own_to"'}' \
	"the default initial presence has no priority element (priority 0)"
prt_other=$(grep -P '^[^\t]*\tpresence\tbob@localhost/other\t' "$XT_DIR/prt.out" | cut -f2-)
is "$prt_other" "presence	bob@localhost/other	dnd	busy & away\\tnow
presence	bob@localhost/other	unavailable	" "text presence: TIME presence FROM STATE STATUS, escaped"

# --- --all: body-less messages and iq requests are records too ---------------

xl_start all -J --all
xl_start noall -J
{
	for n in all noall; do
		# (ids unique in the input, or xsend --raw would replace them)
		printf "<message to='bob@localhost/%s' id='cs-%s' type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>\n" "$n" "$n"
		printf "<iq to='bob@localhost/%s' id='ping-%s' type='get'><ping xmlns='urn:xmpp:ping'/></iq>\n" "$n" "$n"
		printf "<message to='bob@localhost/%s' id='last-%s' type='chat'><body>last</body></message>\n" "$n" "$n"
	done
} >"$XT_DIR/all.xml"
run_stdin "$XT_DIR/all.xml" "$XSEND" -C "$aconf" --raw
ok_rc 0 "alice sent a chat state, a ping and a message to both"
xt_wait_grep "$XT_DIR/all.out" '"id":"last-all"' 15 all || diag "all: no last message"
xt_wait_grep "$XT_DIR/noall.out" '"id":"last-noall"' 15 noall || diag "noall: no last message"
stop all noall
# by_id FILE ID: the record with that id (python's json module), keys sorted,
# without the time and the from (alice's resource).
by_id() {
	"$XT_PYTHON" - "$XT_DIR/$1.out" "$2" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    if r.get("id") == sys.argv[2]:
        assert r.pop("from").startswith("alice@localhost/")
        r.pop("time")
        print(json.dumps(r, sort_keys=True))
PY
}
is "$(by_id all cs-all)" '{"body": null, "carbon": null, "delayed": false, "error_condition": null, "error_text": null, "id": "cs-all", "kind": "message", "nick": null, "room": null, "subject": null, "thread": null, "to": "bob@localhost/all", "type": "chat", "url": null}' \
	"--all: a chat state without body is a message record"
is "$(by_id all ping-all)" '{"id": "ping-all", "kind": "iq", "namespace": "urn:xmpp:ping", "to": "bob@localhost/all", "type": "get"}' \
	"--all: an iq request is an iq record (type, namespace)"
is "$(by_id noall cs-noall)$(by_id noall ping-noall)" "" "without --all: neither"
is "$(grep -c . "$XT_DIR/noall.out")" 1 "without --all: only the message with a body"

# --- rooms: --room, --nick, --room-password, --history ---------------------

R=lounge@conference.localhost
# carol owns the room (password-protected, persistent, anyone may set the
# subject) and stays in it to watch who comes and goes.
xt_bg carol xt_peer muc --jid carol@localhost --password carol-pw --room $R --create \
	--persistent --room-password sesame --config changesubject=1 --ready "$XT_DIR/carol.ready" \
	--timeout 60
xt_wait_file "$XT_DIR/carol.ready" 20 carol || bail_out "carol's room is not ready"
run xt_peer muc-send --jid dave@localhost --password dave-pw --room $R --room-password sesame \
	--body 'history {n}' --count 3
ok_rc 0 "dave said three things in the room"
run xt_peer muc-send --jid dave@localhost --password dave-pw --room $R --room-password sesame \
	--subject 'Room <topic>'
ok_rc 0 "dave set the subject"

# The room password from a file, a descriptor or the config key, never
# the command line (where --room-password still works, with a warning).
printf 'wrong\n' >"$XT_DIR/room-wrong.pw"
printf 'sesame\n' >"$XT_DIR/room.pw"
chmod 600 "$XT_DIR/room-wrong.pw" "$XT_DIR/room.pw"
{ cat "$bconf"; printf 'room-password = sesame\n'; } >"$XT_DIR/bob-room.conf"
chmod 600 "$XT_DIR/bob-room.conf"
run "$XLISTEN" -C "$bconf" --room $R --room-password-file "$XT_DIR/room-wrong.pw" -w 20
ok_rc 8 "a wrong room password: exit 8"
is_error_line "$ERR" "xlisten: $R: cannot join: not-authorized" "a wrong room password: says so"
run "$XLISTEN" -C "$bconf" --room $R -w 20
ok_rc 8 "no room password: exit 8"

xt_bg room "$XLISTEN" -C "$bconf" --resource room -J --room $R --nick 'the listener' \
	--room-password-file "$XT_DIR/room.pw" --history 2
xt_wait_grep "$XT_DIR/carol.out" '"kind": "presence".*"nick": "the listener".*"type": "available"' 20 room ||
	diag "carol did not see the listener join"
xt_bg room2 "$XLISTEN" -C "$XT_DIR/bob-room.conf" --resource room2 -F '%y|%r|%s|%b' --room $R
xt_wait_grep "$XT_DIR/carol.out" '"kind": "presence".*"nick": "bob".*"type": "available"' 20 room2 ||
	diag "carol did not see bob (the default nick) join"
run xt_peer muc-send --jid dave@localhost --password dave-pw --room $R --room-password sesame \
	--body $'live\nline'
ok_rc 0 "dave said something while xlisten was in the room"
xt_wait_grep "$XT_DIR/room.out" '"body":"live\\nline"' 15 room || diag "room: no live message"
xt_wait_grep "$XT_DIR/room2.out" 'live' 15 room2 || diag "room2: no live message"
stop room room2
ok "xlisten left the room on SIGTERM (carol saw it go)" \
	xt_wait_grep "$XT_DIR/carol.out" '"kind": "presence".*"nick": "the listener".*"type": "unavailable"' 15

room_rec() {
	sed -n "${1}p" "$XT_DIR/room.out" | "$XT_PYTHON" -c '
import json, sys
r = json.load(sys.stdin)
print("|".join(str(r[k]) for k in ("type", "room", "nick", "from", "body", "subject", "delayed")))'
}
is "$(wc -l <"$XT_DIR/room.out")" 4 "--history 2: two history messages, the subject, the live message"
is "$(room_rec 1)" "groupchat|$R|dave|$R/dave|history 2|None|True" "history 2 of 3 comes first, with its delay stamp"
is "$(room_rec 2)" "groupchat|$R|dave|$R/dave|history 3|None|True" "then history 3"
# Prosody stamps the subject with the time it was set, ejabberd does not.
stamped=True
[ "$XT_SERVER" = ejabberd ] && stamped=False
is "$(room_rec 3)" "groupchat|$R|dave|$R/dave|None|Room <topic>|$stamped" "the room's subject is a record"
is "$(room_rec 4)" "groupchat|$R|dave|$R/dave|live
line|None|False" "the live message: room, nick, not delayed"
is "$(cat "$XT_DIR/room2.out")" "groupchat|dave|Room <topic>|
groupchat|dave||live\\nline" "-F %r is the nick; without --history no history; the default nick joins"

# --- carbons (XEP-0280) ------------------------------------------------------

xl_start cb -J --carbons
xl_start phone -F '%b'
# bob's phone sends to alice: a "sent" carbon; alice writes to bob's phone: a
# "received" carbon. Then alice forges a carbon (only bob's own server may
# send them) and sends a real message.
run "$XSEND" -C "$bconf" --resource laptop -m 'sent by laptop' alice@localhost
ok_rc 0 "bob/laptop wrote to alice"
run "$XSEND" -C "$aconf" -m 'to the phone' bob@localhost/phone
ok_rc 0 "alice wrote to bob/phone"
cat >"$XT_DIR/forged.xml" <<'XML'
<message to='bob@localhost/cb' type='chat'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='boss@localhost/x' to='bob@localhost' type='chat'><body>forged carbon</body></message></forwarded></received></message>
<message to='bob@localhost/cb' type='chat' id='direct'><body>direct</body></message>
XML
run_stdin "$XT_DIR/forged.xml" "$XSEND" -C "$aconf" --raw
ok_rc 0 "alice sent a forged carbon and a direct message"
xt_wait_grep "$XT_DIR/cb.out" '"body":"direct"' 15 cb || diag "cb: no direct message"
stop cb phone
carbons=$("$XT_PYTHON" -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    print("|".join(str(r[k]).split("/")[0] if k == "from" else str(r[k])
                   for k in ("carbon", "from", "to", "body")))' "$XT_DIR/cb.out")
is "$carbons" "sent|bob@localhost|alice@localhost|sent by laptop
received|alice@localhost|bob@localhost/phone|to the phone
None|alice@localhost|bob@localhost/cb|direct" \
	"--carbons: the sent and the received copy (the inner message), the forged one ignored"
is "$(cat "$XT_DIR/phone.out")" "to the phone" "bob/phone (no --carbons) got only its own message"
