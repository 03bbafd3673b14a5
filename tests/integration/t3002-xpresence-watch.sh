#!/bin/bash
# SPDX-License-Identifier: MIT
# t3002-xpresence-watch: xpresence watch against Prosody while a slixmpp
# contact changes its presence: the records in order, in every format; -c
# and -w; SIGTERM and SIGINT (exit 0); watch without JIDs; a subscription
# request is printed and not accepted; the xpresence sessions as a contact
# sees them (priority -1, unavailable at the end).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
plan 43

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

# watch_start NAME ARGS...: xpresence -v ARGS in the background, until the
# server has answered its initial presence.
watch_start() {
	local name=$1
	shift
	xt_bg "$name" "$XPRESENCE" -v -C "$conf" "$@"
	xt_wait_grep "$XT_DIR/$name.err" 'confirmed everything sent before' 20 "$name" ||
		bail_out "xpresence $* did not get going: $(cat "$XT_DIR/$name.err")"
}

# stop NAME [SIGNAL]: end a background process and wait for it (RC, OUT).
stop() {
	xt_bg_kill "$1" "${2:-TERM}"
	xt_bg_wait "$1"
}

line() {
	sed -n "${1}p" <<<"$OUT"
}

timed_run() {
	local t0=${EPOCHREALTIME/./}
	run "$@"
	MS=$(((${EPOCHREALTIME/./} - t0) / 1000))
}

# --- usage ------------------------------------------------------------------

run "$XPRESENCE" -C "$conf" watch --until away bob@localhost
ok_rc 2 "watch: --until is for wait (exit 2)"
run "$XPRESENCE" -C "$conf" watch -c 0 bob@localhost
ok_rc 2 "watch -c 0: exit 2"
run "$XPRESENCE" -C "$conf" watch bob@localhost/home
ok_rc 2 "watch: a full JID is refused (exit 2)"

befriend alice bob
befriend alice carol

# carol watches alice's sessions all along (and is online for alice).
XT_CMD_TIMEOUT=1000 xt_bg carol xt_peer watch --jid carol@localhost --password carol-pw --resource watch \
	--from alice@localhost --timeout 900 --ready "$XT_DIR/carol.ready"
xt_wait_file "$XT_DIR/carol.ready" 20 carol || bail_out "carol's watcher is not ready"
sessions=0 # xpresence sessions of alice started since

# --- bob changes his presence five times while four xpresence watch ---------

watch_start text -v watch bob@localhost # -vv: the XML stream
watch_start json -J watch bob@localhost
watch_start count -c 3 watch bob@localhost
watch_start xml -X watch bob@localhost
sessions=$((sessions + 4))

run xt_peer presence --jid bob@localhost --password bob-pw --resource home --priority 3 \
	--status here --then away:lunch --then dnd:busy --then chat:talk --then xa \
	--then unavailable:bye --step 0.1 --stay 0
ok_rc 0 "bob's peer went through its six presences"
# Its last presence is processed; the server sent alice the broadcast before.
xt_wait_grep "$XT_DIR/xml.out" '<status>bye</status>' 10 xml ||
	diag "xpresence -X did not print bob's last presence"

stop text TERM
ok_rc 0 "SIGTERM: exit 0"
like "$ERR" 'signal 15: closing.*SENT: <presence[^>]* type="unavailable"' \
	"on SIGTERM, xpresence itself sends unavailable presence (-vv trace)"
is "$OUT" "$(printf '%s\n' \
	$'bob@localhost\tunavailable\t' \
	$'bob@localhost/home\tavailable\there' \
	$'bob@localhost/home\taway\tlunch' \
	$'bob@localhost/home\tdnd\tbusy' \
	$'bob@localhost/home\tchat\ttalk' \
	$'bob@localhost/home\txa\t' \
	$'bob@localhost/home\tunavailable\tbye')" \
	"text: bob offline at the start, then each change in order"

stop json INT
ok_rc 0 "SIGINT: exit 0"
is "$(wc -l <<<"$OUT")" 7 "-J: seven records"
xt_json_load "$(line 1)"
is "${JSON[from]}" bob@localhost "-J 1: the bare JID of the offline contact"
is "${JSON[state]}" unavailable "-J 1: unavailable"
xt_json_load "$(line 2)"
is "${JSON[kind]}" presence "-J 2: kind presence"
is "${JSON[from]}" bob@localhost/home "-J 2: from bob/home"
is "${JSON[state]}" available "-J 2: available"
is "${JSON[show]}" null "-J 2: no show"
is "${JSON[status]}" here "-J 2: status"
is "${JSON[priority]}" 3 "-J 2: priority 3"
is "${JSON[delayed]}" false "-J 2: not delayed (it happened now)"
like "${JSON[time]}" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' "-J 2: time"
like "${JSON[to]}" '^alice@localhost' "-J 2: to alice"
is "${JSON[error_condition]}" null "-J 2: no error"
xt_json_load "$(line 4)"
is "${JSON[state]}/${JSON[show]}/${JSON[status]}" dnd/dnd/busy "-J 4: dnd, busy"
xt_json_load "$(line 7)"
is "${JSON[state]}" unavailable "-J 7: unavailable"
is "${JSON[status]}" bye "-J 7: with its status"
is "${JSON[priority]}" null "-J 7: no priority"

xt_bg_wait count
ok_rc 0 "-c 3: exits 0 by itself"
is "$OUT" "$(printf '%s\n' \
	$'bob@localhost\tunavailable\t' \
	$'bob@localhost/home\tavailable\there' \
	$'bob@localhost/home\taway\tlunch')" "-c 3: the first three records"

stop xml
ok_rc 0 "-X: exit 0"
is "$(wc -l <<<"$OUT")" 7 "-X: seven lines"
# ejabberd re-serializes the stanza it forwards: its children in its own order.
like "$(line 3)" '^<presence [^>]*from="bob@localhost/home"[^>]*>(<show>away</show><status>lunch</status><priority>3</priority>|<priority>3</priority><show>away</show><status>lunch</status>)</presence>$' \
	"-X: the away presence as it came"

# --- -w: the end of the watch, exit 0 ---------------------------------------

timed_run "$XPRESENCE" -C "$conf" -w 1 -F '%f|%S|%m' watch bob@localhost
sessions=$((sessions + 1))
ok_rc 0 "-w 1: exit 0 at the deadline"
is "$OUT" "bob@localhost|unavailable|" "-w 1 -F: the one record"
ok "-w 1: after a second ($MS ms)" test "$MS" -ge 1000

# --- no JID: every contact; a subscription request --------------------------

watch_start all watch
sessions=$((sessions + 1))
xt_wait_grep "$XT_DIR/all.out" '^bob@localhost	unavailable' 10 all
rm -f "$XT_DIR/dave.ready"
xt_bg dave xt_peer watch --jid dave@localhost --password dave-pw --resource pc \
	--subscribe alice@localhost --ready "$XT_DIR/dave.ready"
xt_wait_file "$XT_DIR/dave.ready" 20 dave || bail_out "dave's peer is not ready"
ok "the subscription request is printed" \
	xt_wait_grep "$XT_DIR/all.out" $'^dave@localhost\tsubscribe\t$' 10 all
run xt_peer presence --jid bob@localhost --password bob-pw --resource phone \
	--show away --status "on the bus" --stay 0
sleep 0.5 # time enough to answer the request, if it were to be answered
stop all
ok_rc 0 "watch without JID: exit 0 on SIGTERM"
# Under load carol's presence may come after the probe rounds: then she is
# first reported unavailable, then available (the record that counts).
if grep -q $'^carol@localhost\tunavailable\t$' <<<"$OUT" &&
	grep -q $'^carol@localhost/watch\tavailable\t$' <<<"$OUT"; then
	diag "carol's presence came late: unavailable first, then available"
	OUT=$(grep -v $'^carol@localhost\tunavailable\t$' <<<"$OUT")
fi
is "$(sort <<<"$OUT")" "$(printf '%s\n' \
	$'bob@localhost\tunavailable\t' \
	$'carol@localhost/watch\tavailable\t' \
	$'dave@localhost\tsubscribe\t' \
	$'bob@localhost/phone\taway\ton the bus' \
	$'bob@localhost/phone\tunavailable\t' | sort)" \
	"without JID: carol and bob as the roster has them, and dave's request"
like "$OUT" $'dave@localhost\tsubscribe\t\nbob@localhost/phone\taway' "in the order they came"

stop dave
ok_rc 0 "dave's peer: exit 0"
unlike "$OUT" '"type": "subscribed"' "dave did not get <presence type='subscribed'/>"
run "$XROSTER" -C "$conf" -F '%j %S' list
unlike "$OUT" 'dave@localhost (from|both)' "alice's roster does not share her presence with dave"

# --- how carol saw the xpresence sessions -----------------------------------

stop carol
ok_rc 0 "carol's watcher: exit 0"
# One line per session: FULL-JID PRIORITIES-OF-AVAILABLE UNAVAILABLE-COUNT
summary=$("$XT_PYTHON" -c '
import json, sys
seen = {}
for line in sys.stdin:
    r = json.loads(line)
    if "/" not in (r["from"] or ""):
        continue
    s = seen.setdefault(r["from"], [[], 0])
    if r["type"] is None:
        s[0].append(r["priority"])
    elif r["type"] == "unavailable":
        s[1] += 1
for jid, (prios, gone) in seen.items():
    print(",".join(p or "none" for p in prios), gone)
' <<<"$OUT")
is "$(wc -l <<<"$summary")" "$sessions" "carol saw each of the $sessions xpresence sessions"
# Where the server holds offline messages back on request (XEP-0013:
# ejabberd), priority 0 comes first, for the stored subscription requests.
want="-1 1"
[ "$XT_SERVER" = ejabberd ] && want="0,-1 1"
is "$(sort -u <<<"$summary")" "$want" "each was available once with priority -1, then unavailable once"
