#!/bin/bash
# SPDX-License-Identifier: MIT
# t7000-omemo-peer: the OMEMO peer (tests/peer/omemo_peer.py) that checks
# xsend --omemo and xlisten --omemo works against itself first: devices
# publish and are listed with their fingerprints, OMEMO 0.3 and OMEMO 2
# messages decrypt to exactly the body sent (non-ASCII, several lines), a
# tampered payload gives an error record, and every device of an account
# gets the message.
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp omemo
plan 54

xt_server_start pep


fp_ere='^[0-9a-f]{8}( [0-9a-f]{8}){7}$'
body=$'Grüße aus Köln — 東京 ✓ <b>&amp;</b>\nsecond line\n\n  indented last line'

# bob_start NAME COUNT [ARGS...]: bob's recv peer in the background, ready.
bob_start() {
	local name=$1 count=$2
	shift 2
	rm -f "$XT_DIR/$name.ready"
	xt_bg "$name" xt_omemo recv --jid bob@localhost --password bob-pw \
		--count "$count" --timeout 40 --ready "$XT_DIR/$name.ready" "$@"
	xt_wait_file "$XT_DIR/$name.ready" 40 "$name" || {
		diag "$(cat "$XT_DIR/$name.err")"
		bail_out "bob's OMEMO peer $name is not ready"
	}
}

# records KIND: the JSON lines of that kind in OUT.
records() {
	grep -F "\"kind\": \"$1\"" <<<"$OUT" | grep -vF '"empty": true'
}

# --- publish and devices ------------------------------------------------------

run xt_omemo publish --jid alice@localhost --password alice-pw --store "$XT_DIR/alice"
ok_rc 0 "publish: exit 0"
is "$ERR" "" "publish: nothing on stderr"
xt_json_load "$OUT"
alice_id=${JSON[id]} alice_fp=${JSON[fingerprint]}
like "$alice_id" '^[1-9][0-9]*$' "publish: a device id"
like "$alice_fp" "$fp_ere" "publish: fingerprint in 8 groups of 8 hex digits"
is "${JSON[versions]}" '["2", "0.3"]' "publish: both versions by default"

run xt_omemo publish --jid alice@localhost --password alice-pw --store "$XT_DIR/alice"
xt_json_load "$OUT"
is "${JSON[id]} ${JSON[fingerprint]}" "$alice_id $alice_fp" "publish again: the stored device"

run xt_omemo devices --jid bob@localhost --password bob-pw --of alice@localhost
ok_rc 0 "devices: exit 0"
is "$(records devicelist | wc -l)" 2 "devices: a list for each version"
for v in 2 0.3; do # 0.3 last: its record is used below
	line=$(grep -F "\"version\": \"$v\"" <<<"$OUT" | grep -F '"kind": "device"')
	xt_json_load "$line"
	is "${JSON[id]} ${JSON[fingerprint]}" "$alice_id $alice_fp" \
		"devices: alice's $v bundle has the published fingerprint"
done
# OMEMO 0.3 publishes the Curve25519 key itself (0x05 and 32 bytes): the
# fingerprint is its hex, grouped.
key_hex=$(base64 -d <<<"${JSON[identity_key]:-}" 2>/dev/null | od -An -v -tx1 | tr -d ' \n')
is "$key_hex" "05${alice_fp// /}" "devices: the 0.3 fingerprint is the published identityKey"

run xt_omemo devices --jid bob@localhost --password bob-pw --of carol@localhost
ok_rc 0 "devices of an account without OMEMO: exit 0"
is "$(records devicelist | grep -c '"ids": \[\]')" 2 \
	"devices of an account without OMEMO: two lists without ids"
diag "carol's lists: $(records devicelist)"

# --- OMEMO 0.3 and OMEMO 2 ----------------------------------------------------

for v in 0.3 2; do
	bob_start "bob-$v" 1 --store "$XT_DIR/bob"
	run xt_omemo send --jid alice@localhost --password alice-pw --store "$XT_DIR/alice" \
		--to bob@localhost --version "$v" --body "$body"
	ok_rc 0 "$v send: exit 0"
	xt_json_load "$OUT"
	is "${JSON[encrypted]} ${JSON[sender_device]}" "$v $alice_id" "$v send: one stanza, from alice's device"
	xt_bg_wait "bob-$v"
	ok_rc 0 "$v recv: exit 0"
	bob_id=$(xt_json "$(records device)" id)
	xt_json_load "$(records message)"
	is "${JSON[encrypted]}" "$v" "$v recv: encrypted with $v"
	is "${JSON[body]}" "$body" "$v recv: the body decrypts exactly (UTF-8, several lines)"
	is "${JSON[error]}" null "$v recv: no error"
	is "${JSON[sender_device]}" "$alice_id" "$v recv: from alice's device"
	is "${JSON[device]}" "$bob_id" "$v recv: decrypted by bob's device"
	like "${JSON[fallback]}" 'OMEMO' "$v recv: the plain fallback body is apart"
done

# --- a tampered payload -------------------------------------------------------

for v in 0.3 2; do
	bob_start "bob-tamper-$v" 1 --store "$XT_DIR/bob"
	run xt_omemo send --jid alice@localhost --password alice-pw --store "$XT_DIR/alice" \
		--to bob@localhost --version "$v" --body "$body" --tamper
	ok_rc 0 "$v tampered send: exit 0"
	xt_bg_wait "bob-tamper-$v"
	ok_rc 0 "$v tampered recv: exit 0"
	xt_json_load "$(records message)"
	is "${JSON[encrypted]} ${JSON[body]}" "$v null" "$v tampered: an OMEMO $v message without body"
	like "${JSON[error]}" '.' "$v tampered: an error"
	diag "$v tampered: ${JSON[error]}"
done

# --- a plain message, no device to encrypt for, SIGTERM ----------------------

bob_start bob-plain 5 --store "$XT_DIR/bob"
run xt_peer send --jid carol@localhost --password carol-pw --to bob@localhost \
	--type chat --body "$body"
ok_rc 0 "plain: xpeer send exit 0"
xt_wait_grep "$XT_DIR/bob-plain.out" '"kind": "message"' 15 bob-plain ||
	diag "bob-plain did not print the message"
xt_bg_kill bob-plain
xt_bg_wait bob-plain
ok_rc 0 "SIGTERM: recv logs out and exits 0"
xt_json_load "$(records message)"
is "${JSON[encrypted]} ${JSON[fallback]} ${JSON[error]}" "null null null" "plain: not encrypted"
is "${JSON[body]}" "$body" "plain: the body as sent"

run xt_omemo send --jid alice@localhost --password alice-pw --store "$XT_DIR/alice" \
	--to carol@localhost --body hello
ok_rc 1 "send to an account without OMEMO devices: exit 1"
like "$ERR" 'carol@localhost has no device to encrypt for' "... and says why"

# --- two devices of bob -------------------------------------------------------

bob_start bob-two 2 --store "$XT_DIR/bob-two" --devices 2
for v in 0.3 2; do
	run xt_omemo send --jid alice@localhost --password alice-pw --store "$XT_DIR/alice" \
		--to bob@localhost --version "$v" --body "$body"
	ok_rc 0 "two devices: $v send exit 0"
done
xt_bg_wait bob-two
ok_rc 0 "two devices: both got both messages"
ids=$(records device | "$XT_PYTHON" -c 'import json, sys
print(" ".join(str(json.loads(l)["id"]) for l in sys.stdin))')
read -r id1 id2 <<<"$ids"
unlike "$id1" "^$id2\$" "two devices: two device ids"
n=0
while IFS= read -r line; do
	xt_json_load "$line"
	[ "${JSON[body]}" = "$body" ] && [ "${JSON[error]}" = null ] && n=$((n + 1))
done < <(records message)
is "$n" "$(records message | wc -l)" "two devices: every message decrypts to the body" ||
	diag "$(records message | sed 's/, "xml": .*/}/')"
is "$(records message | grep -c "\"device\": $id1,")" 2 "two devices: the first got both"
is "$(records message | grep -c "\"device\": $id2,")" 2 "two devices: the second got both"

# --- our own other devices ----------------------------------------------------

run xt_omemo publish --jid alice@localhost --password alice-pw --store "$XT_DIR/alice2"
alice2_id=$(xt_json "$OUT" id)
run xt_omemo send --jid alice@localhost --password alice-pw --store "$XT_DIR/alice" \
	--to bob@localhost --version 2 --body "$body"
ok_rc 0 "own devices: send exit 0"
like "$(xt_json "$OUT" recipients -j)" "\\[\"alice@localhost\", $alice2_id\\]" \
	"own devices: encrypted for alice's other device too"
