#!/bin/bash
# SPDX-License-Identifier: MIT
# t2000-xroster-basic: the contact list itself (RFC 6121 §2): add, set,
# remove and list, as the server sees them afterwards (re-listed), in every
# output format, with the filters; the refusals of bad input before anything
# is changed; error replies (exit 8, one line per JID).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
plan 83

xt_server_start
conf=$(xt_config alice)

# xr ARGS...: xroster as alice (OUT, ERR, RC).
xr() {
	run "$XROSTER" -C "$conf" "$@"
}

# lines LINE...: the lines joined with newlines (what $OUT holds).
lines() {
	local IFS=$'\n'
	printf '%s' "$*"
}

T=$'\t'

# --- bad input: refused before connecting, nothing changed ------------------

xr add 'bob@@localhost'
ok_rc 2 "add: an invalid JID is exit 2"
like "$ERR" "invalid JID 'bob@@localhost'.*nothing changed" "add: the error names the JID and says nothing changed"
xr add bob@localhost/phone
ok_rc 2 "add: a full JID is exit 2"
like "$ERR" "bob@localhost/phone.*bare" "add: a roster holds bare JIDs"
xr remove carol@localhost 'x@@y' dave@localhost
ok_rc 2 "remove: one invalid JID among several is exit 2"
xr frobnicate
ok_rc 2 "an unknown command is exit 2"
like "$ERR" "unknown command 'frobnicate'" "the unknown command is named"
xr add
ok_rc 2 "add without a JID is exit 2"
xr list extra@localhost
ok_rc 2 "list takes no arguments"
xr set bob@localhost --group a --add-group b
ok_rc 2 "set: --group with --add-group is exit 2"
xr list --subscription sometimes
ok_rc 2 "list --subscription: an unknown state is exit 2"
xr remove bob@localhost --name x
ok_rc 2 "remove --name is exit 2"
xr add bob@localhost --group ''
ok_rc 2 "add --group '': an empty group is exit 2"
xr add bob@localhost --name $'bad\001name'
ok_rc 2 "add --name with a control character XML cannot carry is exit 2"
xr list -F '%j %z'
ok_rc 2 "-F with an unknown directive is exit 2"
xr
ok_rc 0 "list of an empty roster: exit 0"
is "$OUT" "" "after all the refusals the roster is still empty"

# --- add -------------------------------------------------------------------

# Added out of order: list sorts by JID.
xr add dave@localhost
ok_rc 0 "add dave (no name, no group): exit 0"
is "$OUT$ERR" "" "add prints nothing"
xr add bob@localhost --name 'Bob B.' -g Friends -g Work -g Friends
ok_rc 0 "add bob with a name and groups (one twice): exit 0"
xr add carol@localhost --name 'Carol ü' --group Zeta --group Alpha
ok_rc 0 "add carol: exit 0"

xr
ok_rc 0 "list: exit 0"
is "$OUT" "$(lines \
	"bob@localhost${T}none${T}${T}Bob B.${T}Friends,Work" \
	"carol@localhost${T}none${T}${T}Carol ü${T}Alpha,Zeta" \
	"dave@localhost${T}none${T}${T}${T}")" \
	"list: one line per contact, sorted by JID, groups sorted and once each"
xr list
is "$OUT" "$(lines \
	"bob@localhost${T}none${T}${T}Bob B.${T}Friends,Work" \
	"carol@localhost${T}none${T}${T}Carol ü${T}Alpha,Zeta" \
	"dave@localhost${T}none${T}${T}${T}")" \
	"'list' is the default command"

# --- the other output formats ------------------------------------------------

xr -J
ok_rc 0 "-J: exit 0"
is "$(wc -l <"$XT_DIR/last.out")" 3 "-J: three lines"
xt_json_load "$(sed -n 1p <<<"$OUT")"
is "${JSON[kind]}|${JSON[jid]}|${JSON[subscription]}|${JSON[ask]}|${JSON[name]}" \
	"roster|bob@localhost|none|null|Bob B." "-J: kind, jid, subscription, ask (null), name"
is "${JSON[groups]}" '["Friends", "Work"]' "-J: groups is an array"
is "${JSON[approved]}" false "-J: approved is a boolean"
xt_json_load "$(sed -n 3p <<<"$OUT")"
is "${JSON[jid]}|${JSON[name]}|${JSON[groups]}" "dave@localhost|null|[]" \
	"-J: no name is null, no group is []"

xr -X
ok_rc 0 "-X: exit 0"
like "$(sed -n 1p <<<"$OUT")" '^<item [^>]*jid="bob@localhost"[^>]*>.*<group>Friends</group><group>Work</group></item>$' \
	"-X: the <item/> of bob, with its groups"
like "$(sed -n 1p <<<"$OUT")" ' subscription="none"' "-X: the item has its subscription"
like "$(sed -n 3p <<<"$OUT")" '^<item [^>]*jid="dave@localhost"[^>]*/>$' "-X: dave is an empty <item/>"

xr -F '%j|%S|%a|%n|%g'
ok_rc 0 "-F: exit 0"
is "$OUT" "$(lines \
	"bob@localhost|none||Bob B.|Friends,Work" \
	"carol@localhost|none||Carol ü|Alpha,Zeta" \
	"dave@localhost|none|||")" "-F: %j %S %a %n %g"

xr -0
ok_rc 0 "-0: exit 0"
is "$(tr '\0' '\n' <"$XT_DIR/last.out" | wc -l)" 3 "-0: three NUL-terminated records"
is "$(tr -d -c '\n' <"$XT_DIR/last.out" | wc -c)" 0 "-0: no newline at all"
is "$(tr '\0' '\n' <"$XT_DIR/last.out" | sed -n 1p)" \
	"bob@localhost${T}none${T}${T}Bob B.${T}Friends,Work" "-0: bob's record"

# --- filters ------------------------------------------------------------------

xr --group Alpha
is "$OUT" "carol@localhost${T}none${T}${T}Carol ü${T}Alpha,Zeta" "--group Alpha: carol only"
xr -g Work -F '%j'
is "$OUT" "bob@localhost" "--group Work: bob only"
xr --group Nobody
ok_rc 0 "--group with no member: exit 0"
is "$OUT" "" "--group with no member: nothing"
xr --subscription none -F '%j'
is "$OUT" "$(lines bob@localhost carol@localhost dave@localhost)" "--subscription none: all three"
xr --subscription both
is "$OUT" "" "--subscription both: nobody"
xr list -g Friends --subscription none -F '%j'
is "$OUT" "bob@localhost" "--group and --subscription together"

# --- group names with commas, backslashes and tabs ------------------------------

# The GROUPS column of the text format: each group name escaped (text.h:
# \\ \t \n ...), its commas written \x2c, the names joined with ','. So a
# script splits the column at ',' and unescapes each piece once.
xr add erin@localhost --name 'Erin' -g 'Work, Inc' -g 'c\d' -g $'tab\there'
ok_rc 0 "add erin with awkward group names: exit 0"
xr -J -g 'Work, Inc'
xt_json_load "$OUT"
is "${JSON[jid]}|${JSON[groups]}" 'erin@localhost|["Work, Inc", "c\\d", "tab\there"]' \
	"-J and --group: the server has the three names exactly"
xr -F '%g' -g 'c\d'
is "$OUT" 'Work\x2c Inc,c\\d,tab\there' \
	"text GROUPS: each name escaped once, its comma as \\x2c, joined with ','"
xr -0 -g $'tab\there'
is "$(tr '\0' '\n' <"$XT_DIR/last.out")" "erin@localhost${T}none${T}${T}Erin${T}Work\\x2c Inc,c\\\\d,tab\\there" \
	"-0: the same GROUPS column (the list needs its escapes to be split)"
xr remove erin@localhost
ok_rc 0 "remove erin: exit 0"

# --- set -------------------------------------------------------------------------

xr set bob@localhost --name Robert
ok_rc 0 "set --name: exit 0"
xr -F '%j|%n|%g' -g Friends
is "$OUT" "bob@localhost|Robert|Friends,Work" "set --name renames and keeps the groups"
xr set bob@localhost --group Team --group Ops
ok_rc 0 "set --group: exit 0"
xr -F '%j|%n|%g'
is "$(sed -n 1p <<<"$OUT")" "bob@localhost|Robert|Ops,Team" "set --group replaces all the groups and keeps the name"
xr set bob@localhost --add-group Friends --remove-group Ops --remove-group Absent
ok_rc 0 "set --add-group --remove-group: exit 0"
xr -F '%j|%n|%g'
is "$(sed -n 1p <<<"$OUT")" "bob@localhost|Robert|Friends,Team" "--add-group adds, --remove-group removes (an absent one is no error)"
xr set bob@localhost --name ''
ok_rc 0 "set --name '': exit 0"
xr -J -g Friends
xt_json_load "$OUT"
is "${JSON[name]}|${JSON[groups]}" 'null|["Friends", "Team"]' "set --name '' removes the name"
xr set carol@localhost
ok_rc 0 "set with nothing to change: exit 0"
xr set erin@localhost --name Erin
ok_rc 8 "set of a JID not in the roster: exit 8"
like "$ERR" "erin@localhost" "set: the error names the JID"
xr -F '%j'
is "$OUT" "$(lines bob@localhost carol@localhost dave@localhost)" "set of an unknown JID added nothing"

# The server compares JIDs after case mapping (RFC 7622 §3.2.1, §3.3.1): so
# must set, or it refuses a contact that is in the roster.
xr set BOB@LocalHost --name Bobby
ok_rc 0 "set BOB@LocalHost (bob@localhost in other case): exit 0"
xr -F '%j|%n' -g Friends
is "$OUT" "bob@localhost|Bobby" "set BOB@LocalHost renamed bob@localhost"

# --- error replies: exit 8, the JID and the condition --------------------------

if [ "$XT_SERVER" = ejabberd ]; then
	# RFC 6121 2.5.3 wants item-not-found for the removal of an unknown
	# item; ejabberd 23.01 answers a result, and lets an account add itself.
	skip "ejabberd 23.01 refuses neither one's own JID nor the removal of an unknown JID" 9
	xr remove dave@localhost carol@localhost
else
	xr add alice@localhost
	ok_rc 8 "add of one's own JID: exit 8"
	like "$ERR" "alice@localhost: not-allowed" "the error line has the JID and the condition"

	xr remove nobody@localhost
	ok_rc 8 "remove of a JID not in the roster: exit 8"
	is "$ERR" "xroster: nobody@localhost: item-not-found" "remove: item-not-found, with the JID"

	xr remove dave@localhost nobody@localhost carol@localhost ghost@localhost
	ok_rc 8 "remove of four JIDs, two unknown: exit 8"
	like "$ERR" "nobody@localhost: item-not-found" "the first failure is reported"
	like "$ERR" "ghost@localhost: item-not-found" "the second failure is reported"
	unlike "$ERR" "(dave|carol)@localhost" "the contacts that were removed are not reported"
	is "$(grep -c . <<<"$ERR")" 2 "one line per failure"
fi
xr -F '%j'
is "$OUT" "bob@localhost" "remove: dave and carol are gone, bob stays"

xr remove bob@localhost
ok_rc 0 "remove bob: exit 0"
is "$OUT$ERR" "" "remove prints nothing"
xr
is "$OUT" "" "the roster is empty again"

# --- the contact is not told about roster changes -------------------------------

# Adding, renaming and removing a contact sends it nothing (RFC 6121 §2.1.5);
# only add --subscribe does: the peer's first subscription presence is that
# request.
rm -f "$XT_DIR/bob.ready"
xt_bg bob xt_peer sub --jid bob@localhost --password bob-pw --count 1 --timeout 20 \
	--ready "$XT_DIR/bob.ready"
xt_wait_file "$XT_DIR/bob.ready" 20 bob || bail_out "bob's peer is not ready"
xr add bob@localhost --name B
xr set bob@localhost --group G
xr remove bob@localhost
xr add bob@localhost --subscribe -m 'add me'
ok_rc 0 "add --subscribe -m: exit 0"
xt_bg_wait bob
ok_rc 0 "bob's peer got one subscription presence"
xt_json_load "$OUT"
is "${JSON[type]}|${JSON[from]}|${JSON[status]}" "subscribe|alice@localhost|add me" \
	"add, set and remove sent bob nothing; add --subscribe sent the request with its text"
xr -J
xt_json_load "$OUT"
is "${JSON[jid]}|${JSON[subscription]}|${JSON[ask]}|${JSON[name]}" "bob@localhost|none|subscribe|null" \
	"add --subscribe: the contact is pending out (ask subscribe)"
