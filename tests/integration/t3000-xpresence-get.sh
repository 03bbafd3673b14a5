#!/bin/bash
# SPDX-License-Identifier: MIT
# t3000-xpresence-get: xpresence get against Prosody, with slixmpp contacts
# whose presence the test sets: an offline contact, an available one, one
# away with a status, several resources, every output format, the whole
# roster, a contact without subscription, exit 0 against 10, the time it
# takes, how the contacts see the xpresence session, and the usage errors.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
plan 83

xt_server_start
conf=$(xt_config alice)

# befriend A B: A and B see each other's presence (subscription both), set
# up with xroster as a user would.
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
# (a slixmpp peer) with that presence until xt_bg_kill NAME.
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

# timed_run CMD...: run, and set MS to how long it took (milliseconds).
timed_run() {
	local t0=${EPOCHREALTIME/./}
	run "$@"
	MS=$(((${EPOCHREALTIME/./} - t0) / 1000))
}

# keys JSON: the keys of a JSON object, sorted, on one line.
keys() {
	"$XT_PYTHON" -c 'import json, sys; print(" ".join(sorted(json.loads(sys.argv[1]))))' "$1"
}

sorted() {
	sort <<<"$1"
}

STAMP='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$'
ALL_KEYS='delayed error_condition from kind priority show state status time to'

# --- usage: checked before connecting ---------------------------------------

run "$XPRESENCE" -C "$conf"
ok_rc 2 "no command: exit 2"
like "$ERR" 'no command' "no command: says so"
run "$XPRESENCE" -C "$conf" frob bob@localhost
ok_rc 2 "unknown command: exit 2"
run "$XPRESENCE" -C "$conf" get bob@localhost/home
ok_rc 2 "get: a full JID is refused (exit 2)"
like "$ERR" 'bare JID' "get: the error says a contact is a bare JID"
run "$XPRESENCE" -C "$conf" get -m hi bob@localhost
ok_rc 2 "get: --message is for set (exit 2)"
run "$XPRESENCE" -C "$conf" get --until away bob@localhost
ok_rc 2 "get: --until is for wait (exit 2)"
run "$XPRESENCE" -C "$conf" -F '%z' get bob@localhost
ok_rc 2 "get: an unknown -F directive is refused (exit 2)"

befriend alice bob
befriend alice carol

# --- nobody online ----------------------------------------------------------

timed_run "$XPRESENCE" -C "$conf" get bob@localhost
ok_rc 10 "an offline contact: exit 10"
is "$OUT" $'bob@localhost\tunavailable\t' "an offline contact: JID<TAB>unavailable<TAB>"
is "$ERR" "" "an offline contact: nothing on stderr"
diag "get of an offline contact took $MS ms"
run "$XPRESENCE" -C "$conf" -v get bob@localhost
ok_rc 10 "... again with -v: exit 10"
unlike "$ERR" "waiting .* for presences on their way" \
	"get ends once the server answered, without the grace for other servers"
like "$ERR" "the server confirmed everything sent before" "... which the trace shows"

# --- bob online twice: available (priority 5) and away with a status --------

online bob_home bob home --priority 5 --status "at home"
online bob_phone bob phone --priority 1 --show away --status "on the bus"

timed_run "$XPRESENCE" -C "$conf" get bob@localhost
ok_rc 0 "an available contact: exit 0"
is "$(sorted "$OUT")" "$(printf 'bob@localhost/home\tavailable\tat home\nbob@localhost/phone\taway\ton the bus')" \
	"one record per resource: JID/RESOURCE<TAB>STATE<TAB>STATUS"
is "$ERR" "" "nothing on stderr"
diag "get of an available contact took $MS ms"

run "$XPRESENCE" -C "$conf" get bob@localhost carol@localhost
ok_rc 10 "one of two contacts offline: exit 10"
is "$(sorted "$OUT")" "$(printf 'bob@localhost/home\tavailable\tat home\nbob@localhost/phone\taway\ton the bus\ncarol@localhost\tunavailable\t')" \
	"both contacts are printed, the offline one as unavailable"

# --- JSON -------------------------------------------------------------------

run "$XPRESENCE" -C "$conf" -J get bob@localhost
ok_rc 0 "-J: exit 0"
is "$(wc -l <<<"$OUT")" 2 "-J: one line per resource"
home=$(grep -F '"bob@localhost/home"' <<<"$OUT")
phone=$(grep -F '"bob@localhost/phone"' <<<"$OUT")
is "$(keys "$home")" "$ALL_KEYS" "-J: the keys of a presence record"
xt_json_load "$home"
is "${JSON[kind]}" presence "-J home: kind presence"
like "${JSON[time]}" "$STAMP" "-J home: time is a UTC time stamp"
is "${JSON[delayed]}" true "-J home: delayed (the server's stored presence, with a delay stamp)"
like "${JSON[to]}" '^alice@localhost/.+' "-J home: to the xpresence session"
is "${JSON[state]}" available "-J home: state available"
is "${JSON[show]}" null "-J home: no show"
is "${JSON[status]}" "at home" "-J home: status"
is "${JSON[priority]}" 5 "-J home: priority is the number 5"
is "${JSON[error_condition]}" null "-J home: no error"
xt_json_load "$phone"
is "${JSON[state]}" away "-J phone: state away"
is "${JSON[show]}" away "-J phone: show away"
is "${JSON[status]}" "on the bus" "-J phone: status"
is "${JSON[priority]}" 1 "-J phone: priority 1"

# An offline contact is a record of the same kind, with the same keys.
run "$XPRESENCE" -C "$conf" -J get carol@localhost
ok_rc 10 "-J, offline contact: exit 10"
is "$(keys "$OUT")" "$ALL_KEYS" "-J, offline contact: the same keys as any presence record"
xt_json_load "$OUT"
is "${JSON[from]}" carol@localhost "-J, offline contact: from the bare JID"
is "${JSON[state]}" unavailable "-J, offline contact: state unavailable"
like "${JSON[time]}" "$STAMP" "-J, offline contact: time is a time stamp (when it was found offline)"

# --- -F, -X, -0 -------------------------------------------------------------

run "$XPRESENCE" -C "$conf" -F '%f|%S|%m|%p|%t' get bob@localhost
ok_rc 0 "-F: exit 0"
like "$(sorted "$OUT")" "^bob@localhost/home\|available\|at home\|5\|alice@localhost/[^|]+
bob@localhost/phone\|away\|on the bus\|1\|alice@localhost/[^|]+\$" "-F: %f %S %m %p %t"
run "$XPRESENCE" -C "$conf" -F '%T' get bob@localhost
like "$(head -n 1 <<<"$OUT")" "$STAMP" "-F %T: the time stamp"
run "$XPRESENCE" -C "$conf" -F '%f %S' get carol@localhost
is "$OUT" "carol@localhost unavailable" "-F, offline contact: %f %S"

run "$XPRESENCE" -C "$conf" -X get bob@localhost
ok_rc 0 "-X: exit 0"
is "$(wc -l <<<"$OUT")" 2 "-X: one line per resource"
phone=$(grep -F 'from="bob@localhost/phone"' <<<"$OUT")
like "$phone" '^<presence .*<show>away</show>' "-X: the stanza, with its <show/>"
like "$phone" '<status>on the bus</status>' "-X: and its <status/>"
like "$phone" '<delay xmlns="urn:xmpp:delay"' "-X: and the server's <delay/>"

run "$XPRESENCE" -C "$conf" -0 get bob@localhost
ok_rc 0 "-0: exit 0"
is "$(tr -cd '\0' <"$XT_DIR/last.out" | wc -c)" 2 "-0: two records, each ended by NUL"
is "$(tr -cd '\n' <"$XT_DIR/last.out" | wc -c)" 0 "-0: no newline"

# --- text escaping: a status with a tab and a newline stays on one line ------

online carol_x carol desk --show xa --status $'gone\tfor\nthe day \\ back'
run "$XPRESENCE" -C "$conf" get carol@localhost
ok_rc 0 "carol is available (xa): exit 0"
is "$OUT" $'carol@localhost/desk\txa\tgone\\tfor\\nthe day \\\\ back' \
	"the status is escaped: one record is one line, tabs only between fields"
offline carol_x

# --- no JID: every contact of the roster ------------------------------------

run "$XPRESENCE" -C "$conf" get
ok_rc 10 "no JID, carol offline: exit 10"
is "$(sorted "$OUT")" "$(printf 'bob@localhost/home\tavailable\tat home\nbob@localhost/phone\taway\ton the bus\ncarol@localhost\tunavailable\t')" \
	"no JID: every contact of the roster (bob, carol), no one else"

# --- a contact of another server: --grace -----------------------------------

# erin, a new account, is subscribed to remote@nowhere.example: her roster is
# written by the server's own means (xt_roster_item). The test server has no
# s2s: the probe gets no answer, and xpresence waits the grace time for it.
xt_register erin erin-pw || bail_out "cannot register erin"
xt_roster_item erin remote@nowhere.example to || bail_out "cannot give erin a remote contact"
erin=$(xt_config erin)
timed_run "$XPRESENCE" -C "$erin" -v get remote@nowhere.example
ok_rc 10 "a remote contact without an answer: exit 10"
like "$ERR" "waiting up to 2 s for presences on their way" "... after the grace for other servers"
is "$OUT" $'remote@nowhere.example\tunavailable\t' "a remote contact without an answer: unavailable"
diag "get of a remote contact took $MS ms (default grace 2 s)"
ok "the default grace: 2 s for contacts of other servers ($MS ms)" test "$MS" -ge 2000
timed_run "$XPRESENCE" -C "$erin" --grace 0.5 get
ok_rc 10 "--grace 0.5, the roster: exit 10"
ok "--grace 0.5: at least half a second ($MS ms)" test "$MS" -ge 500
run "$XPRESENCE" -C "$erin" -v --grace 0 get remote@nowhere.example
ok_rc 10 "--grace 0: exit 10"
unlike "$ERR" "waiting .* for presences on their way" "--grace 0: no wait"

# --- a contact without a subscription ---------------------------------------

online dave_on dave pc --status "here"
run "$XPRESENCE" -C "$conf" get dave@localhost
ok_rc 10 "dave is online but shares no presence with alice: exit 10"
is "$OUT" $'dave@localhost\tunavailable\t' "dave is shown as unavailable"
like "$ERR" 'dave@localhost: no presence subscription' "stderr says there is no subscription"
run "$XPRESENCE" -C "$conf" -q get dave@localhost
is "$ERR" "" "-q: no warning"
offline dave_on

# --- a subscription request is shown, not accepted --------------------------

run "$XROSTER" -C "$(xt_config dave)" subscribe alice@localhost
ok_rc 0 "dave asks alice for a subscription"
run "$XPRESENCE" -C "$conf" get bob@localhost
ok_rc 0 "get with a pending request: exit 0"
like "$ERR" 'dave@localhost asks to see your presence' "the request is shown on stderr"
is "$(sorted "$OUT")" "$(printf 'bob@localhost/home\tavailable\tat home\nbob@localhost/phone\taway\ton the bus')" \
	"the request is not a record"
run "$XROSTER" -C "$(xt_config dave)" -F '%j %S %a' list
like "$OUT" '^alice@localhost none subscribe$' "dave's request is still pending (not subscribed)"

# --- resources going away, and all contacts online: exit 0 ------------------

offline bob_phone
rm -f "$XT_DIR/carol_w.ready"
xt_bg carol_w xt_peer watch --jid carol@localhost --password carol-pw --resource watch \
	--from alice@localhost --timeout 600 --ready "$XT_DIR/carol_w.ready"
xt_wait_file "$XT_DIR/carol_w.ready" 20 carol_w || bail_out "carol's watcher is not ready"
before=$(wc -l <"$XT_DIR/carol_w.out") # what came before is not about the next run

run "$XPRESENCE" -C "$conf" get bob@localhost carol@localhost
ok_rc 0 "every named contact available: exit 0"
is "$(sorted "$OUT")" "$(printf 'bob@localhost/home\tavailable\tat home\ncarol@localhost/watch\tavailable\t')" \
	"bob's phone is gone; carol's watcher is there"

# How carol saw that run of xpresence: available with priority -1, then
# unavailable from the same full JID. Where the server holds offline
# messages back on request (XEP-0013: ejabberd), the first presence has
# priority 0, which makes ejabberd send stored subscription requests, and
# the -1 follows at once.
xt_wait_grep "$XT_DIR/carol_w.out" '"type": "unavailable"' 10 carol_w
xt_bg_kill carol_w
xt_bg_wait carol_w
ok_rc 0 "carol's watcher ends cleanly"
OUT=$(tail -n "+$((before + 1))" <<<"$OUT")
if [ "$XT_SERVER" = ejabberd ]; then
	is "$(wc -l <<<"$OUT")" 3 "carol got three presences of the xpresence session"
	xt_json_load "$(sed -n 1p <<<"$OUT")"
	is "${JSON[priority]}" 0 "0: priority 0 first, for the stored requests"
	OUT=$(sed 1d <<<"$OUT")
else
	is "$(wc -l <<<"$OUT")" 2 "carol got two presences of the xpresence session"
	pass "0: Prosody needs no presence of priority 0"
fi
xt_json_load "$(sed -n 1p <<<"$OUT")"
like "${JSON[from]}" '^alice@localhost/.+' "1: from alice's session"
is "${JSON[type]}" null "1: available"
is "${JSON[priority]}" -1 "1: with priority -1 (no message is routed to it)"
first_from=${JSON[from]}
xt_json_load "$(sed -n 2p <<<"$OUT")"
is "${JSON[type]}" unavailable "2: unavailable at the end"
is "${JSON[from]}" "$first_from" "2: from the same session"
