#!/bin/bash
# SPDX-License-Identifier: MIT
# t3001-xpresence-wait: xpresence wait against Prosody, with slixmpp contacts
# whose presence the test changes while it waits: a contact that comes
# online, goes away, goes offline; the state of a contact with several
# resources (the best one: priority, then chat > available > away > xa >
# dnd); the timeout (exit 7, one line per contact still waited for); usage.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
plan 44

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

# online NAME USER RESOURCE [PRESENCE OPTIONS...]: USER/RESOURCE is online
# (a slixmpp peer) with that presence until offline NAME.
online() {
	local name=$1 user=$2 res=$3
	shift 3
	rm -f "$XT_DIR/$name.ready"
	XT_CMD_TIMEOUT=1000 xt_bg "$name" xt_peer presence --jid "$user@localhost" --password "$user-pw" --timeout 900 \
		--resource "$res" --ready "$XT_DIR/$name.ready" "$@"
	xt_wait_file "$XT_DIR/$name.ready" 20 "$name" || bail_out "$user/$res is not online"
}

# offline NAME: that peer sends unavailable presence and logs out.
offline() {
	xt_bg_kill "$1"
	xt_bg_wait "$1"
	# 143: the signal came before the peer's handler was in place (a busy
	# machine); it is offline all the same.
	[ "$RC" = 0 ] || [ "$RC" = 143 ] || bail_out "the peer $1 ended with $RC: $ERR"
}

# wait_start NAME ARGS...: xpresence -v wait ARGS in the background, until
# the server has answered its initial presence (the contacts' presence is
# in: from then on it is waiting for a change).
wait_start() {
	local name=$1
	shift
	xt_bg "$name" "$XPRESENCE" -v -C "$conf" wait "$@"
	xt_wait_grep "$XT_DIR/$name.err" 'confirmed everything sent before' 20 "$name" ||
		bail_out "xpresence wait $* did not get going: $(cat "$XT_DIR/$name.err")"
}

# still NAME: the background process NAME still runs (after a moment for
# the presence the server just sent to reach it).
still() {
	sleep 0.3
	_xt_alive "$(xt_bg_pid "$1")"
}

timed_run() {
	local t0=${EPOCHREALTIME/./}
	run "$@"
	MS=$(((${EPOCHREALTIME/./} - t0) / 1000))
}

# --- usage ------------------------------------------------------------------

run "$XPRESENCE" -C "$conf" wait
ok_rc 2 "wait without a JID: exit 2"
like "$ERR" 'whose presence' "wait without a JID: says so"
run "$XPRESENCE" -C "$conf" wait --until busy bob@localhost
ok_rc 2 "--until busy: exit 2"
like "$ERR" "--until: 'busy' is not" "--until busy: names the bad state"
run "$XPRESENCE" -C "$conf" wait -c 2 bob@localhost
ok_rc 2 "wait: --count is for watch (exit 2)"

befriend alice bob
befriend alice carol

# --- the timeout: exit 7, one line per contact ------------------------------

timed_run "$XPRESENCE" -C "$conf" -w 1 wait bob@localhost
ok_rc 7 "bob stays offline: exit 7 at -w"
is "$ERR" "xpresence: bob@localhost: still unavailable after 1 s (waiting for available)" \
	"one line on stderr: the contact, its state, the time and the state waited for"
is "$OUT" "" "nothing on stdout"
ok "it waited the whole second ($MS ms)" test "$MS" -ge 1000
ok "and not much longer ($MS ms)" test "$MS" -lt 10000

run "$XPRESENCE" -C "$conf" -w 3 wait bob@localhost carol@localhost
ok_rc 7 "two contacts offline: exit 7"
is "$(sort <<<"$ERR")" "xpresence: bob@localhost: still unavailable after 3 s (waiting for available)
xpresence: carol@localhost: still unavailable after 3 s (waiting for available)" \
	"one line per contact"

run "$XPRESENCE" -C "$conf" -w 3 wait --until xa bob@localhost
ok_rc 7 "--until xa, bob offline: exit 7"
like "$ERR" 'still unavailable after 3 s \(waiting for xa\)' "the state waited for is named"

# --- what already holds ends at once ----------------------------------------

run "$XPRESENCE" -C "$conf" wait --until unavailable bob@localhost
ok_rc 0 "--until unavailable, bob offline: exit 0"

online bob_home bob home --priority 5
# No presence change comes: only what holds already can end this wait.
run "$XPRESENCE" -C "$conf" -w 30 wait bob@localhost
ok_rc 0 "bob available: exit 0, without a change to wait for"
is "$OUT$ERR" "" "wait prints nothing"

run "$XPRESENCE" -C "$conf" -w 3 wait bob@localhost carol@localhost
ok_rc 7 "bob available, carol offline: exit 7"
is "$ERR" "xpresence: carol@localhost: still unavailable after 3 s (waiting for available)" \
	"a line for carol only"

# --- a contact that comes online while xpresence waits ----------------------

offline bob_home
wait_start w1 -w 20 bob@localhost
ok "xpresence waits while bob is offline" still w1
online bob_home bob home --priority 5
xt_bg_wait w1
ok_rc 0 "bob came online: exit 0"
is "$OUT" "" "nothing on stdout"

# Several contacts: it ends when the last one holds.
wait_start w2 -w 20 bob@localhost carol@localhost
ok "bob is there, carol not: xpresence waits" still w2
online carol_desk carol desk
xt_bg_wait w2
ok_rc 0 "carol came online too: exit 0"
offline carol_desk

# --- --until unavailable: the contact goes offline --------------------------

wait_start w3 -w 20 --until unavailable bob@localhost
ok "--until unavailable: waits while bob is online" still w3
online bob_phone bob phone --priority 1
ok "--until unavailable: a second resource changes nothing" still w3
offline bob_home
ok "--until unavailable: one resource left, still waiting" still w3
offline bob_phone
xt_bg_wait w3
ok_rc 0 "--until unavailable: the last resource left: exit 0"

# --- --until away: the best resource decides --------------------------------

wait_start w4 -w 20 --until away bob@localhost
online bob_home bob home --priority 5
ok "--until away: bob available, still waiting" still w4
online bob_phone bob phone --priority 1 --show away --status lunch
ok "--until away: an away resource of lower priority does not decide" still w4
offline bob_home
xt_bg_wait w4
ok_rc 0 "--until away: the away resource is now the best: exit 0"

# At the same priority: chat > available > away > xa > dnd.
online bob_home bob home --priority 1 --show dnd
run "$XPRESENCE" -C "$conf" -w 3 wait --until chat bob@localhost
ok_rc 7 "away and dnd at priority 1: not chat (exit 7)"
like "$ERR" 'bob@localhost: still away after 3 s \(waiting for chat\)' "the state is away (away > dnd)"
run "$XPRESENCE" -C "$conf" wait --until away bob@localhost
ok_rc 0 "away and dnd at priority 1: --until away, exit 0"
run "$XPRESENCE" -C "$conf" -w 3 wait --until dnd bob@localhost
ok_rc 7 "away and dnd at priority 1: --until dnd, exit 7"
run "$XPRESENCE" -C "$conf" wait bob@localhost
ok_rc 0 "--until available holds for any resource online, also away or dnd"

online bob_chat bob chat --priority 1 --show chat
run "$XPRESENCE" -C "$conf" wait --until chat bob@localhost
ok_rc 0 "chat, away and dnd at priority 1: chat (exit 0)"

# A higher priority beats any show.
online bob_xa bob old --priority 9 --show xa
run "$XPRESENCE" -C "$conf" wait --until xa bob@localhost
ok_rc 0 "xa at priority 9 beats chat at priority 1 (exit 0)"
run "$XPRESENCE" -C "$conf" -w 3 wait --until chat bob@localhost
ok_rc 7 "then not chat (exit 7)"
like "$ERR" 'still xa after' "the state is xa"

# --- a resumed stream: what was known still holds ---------------------------
# The keepalive notices a stalled server; the stream is resumed (XEP-0198)
# and the wait goes on with what it knew.

wait_start w6 -w 60 --keepalive 1 carol@localhost
xt_server_pause
ok "a stalled server is noticed" xt_wait_grep "$XT_DIR/w6.err" 'no answer to a ping' 10 w6
xt_server_resume
ok "... and the stream resumed" xt_wait_grep "$XT_DIR/w6.err" 'stream resumed' 30 w6
online carol_desk carol desk
xt_bg_wait w6
ok_rc 0 "carol came online after the stream was resumed: exit 0"
offline carol_desk

# --- a signal ends wait as a signal does ------------------------------------

wait_start w5 -w 20 carol@localhost
xt_bg_kill w5 TERM
xt_bg_wait w5
ok_rc 143 "SIGTERM: exit 128+15"
