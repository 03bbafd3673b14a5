#!/bin/bash
# SPDX-License-Identifier: MIT
# t2004-xroster-examples: examples/roster.jsonl is a valid roster file, and
# examples/roster-sync.sh does what it says against a real server: the plan
# (-n, exit 10), the sync, the requests to the contacts not seen yet, the
# approval of the file's contacts' requests only, and nothing to do on a
# second run.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
plan 16

xt_server_start
conf=$(xt_config alice)
# shellcheck disable=SC2154 # top_srcdir is set by lib.sh
ex=$top_srcdir/examples
T=$'\t'

xr() {
	run "$XROSTER" -C "$conf" "$@"
}

# The example file parses, and would add its five contacts.
xr sync --dry-run "$ex/roster.jsonl"
ok_rc 10 "examples/roster.jsonl: sync --dry-run has something to do"
is "$(cut -f1,2 <<<"$OUT" | tr '\n' ' ')" \
	"add${T}alice@example.org add${T}bob@example.org add${T}carol@example.com add${T}deploy-bot@example.org add${T}ops@muc.example.org " \
	"examples/roster.jsonl: five contacts to add"

# A roster file for the test server: bob and carol; alice has dave, who is
# not in it.
printf '%s\n' '{"jid":"bob@localhost","name":"Bob","groups":["Ops"]}' \
	'{"jid":"carol@localhost","name":"Carol"}' >"$XT_DIR/team.jsonl"
xr add dave@localhost
ok_rc 0 "alice has dave"

# bob asked alice while she was offline; so did erin, who is not in the file.
xt_register erin erin-pw || bail_out "cannot register erin"
for u in bob erin; do
	run xt_peer sub --jid "$u@localhost" --password "$u-pw" --no-presence \
		--send subscribe alice@localhost --count 0
	ok_rc 0 "$u asks alice"
done

sync_script() {
	run env XROSTER="$XROSTER" sh "$ex/roster-sync.sh" -C "$conf" "$@"
}

sync_script -n "$XT_DIR/team.jsonl"
ok_rc 10 "roster-sync.sh -n: exit 10"
is "$OUT" "$(printf '%s\n' "add${T}bob@localhost${T}Bob${T}Ops" "add${T}carol@localhost${T}Carol${T}" \
	"remove${T}dave@localhost${T}${T}")" "roster-sync.sh -n prints the plan"
xr -F '%j'
is "$OUT" "dave@localhost" "-n changed nothing"

# carol, online, is asked for her presence and approves.
rm -f "$XT_DIR/carol.ready"
xt_bg carol xt_peer sub --jid carol@localhost --password carol-pw --approve --count 1 \
	--timeout 20 --ready "$XT_DIR/carol.ready"
xt_wait_file "$XT_DIR/carol.ready" 20 carol || bail_out "carol's peer is not ready"

sync_script "$XT_DIR/team.jsonl"
ok_rc 0 "roster-sync.sh: exit 0"
xt_bg_wait carol
ok_rc 0 "carol was asked"
xt_json_load "$OUT"
is "${JSON[type]}|${JSON[from]}" "subscribe|alice@localhost" "carol received alice's request"

xr -F '%j %S %a'
is "$OUT" "$(printf '%s\n' "bob@localhost from subscribe" "carol@localhost to ")" \
	"alice: bob approved and asked, carol asked and approved, dave removed"
xr pending -F '%j'
is "$OUT" "erin@localhost" "erin's request (not in the file) is left alone"

sync_script -n "$XT_DIR/team.jsonl"
ok_rc 0 "roster-sync.sh -n after the sync: exit 0, nothing to do"
sync_script "$XT_DIR/team.jsonl"
ok_rc 0 "a second roster-sync.sh: exit 0"
is "$ERR" "xroster: nothing to change" "a second roster-sync.sh changes nothing and asks nothing again"
