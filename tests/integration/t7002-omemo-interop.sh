#!/bin/bash
# SPDX-License-Identifier: MIT
# t7002-omemo-interop: xsend --omemo and xlisten --omemo against an
# independent OMEMO implementation (python3-omemo with oldmemo, through
# tests/peer/omemo_peer.py): what xsend encrypts the peer decrypts exactly,
# on each of its devices and for the account's other devices too; what the
# peer encrypts xlisten decrypts, key exchange first; a tampered message is
# an error record; a device added to the list is encrypted for on the next
# run; xroster shows the fingerprints the peer shows.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server slixmpp omemo

xt_server_start pep
aconf=$(xt_config alice)
bconf=$(xt_config bob)
D=$XT_DIR
export XDG_DATA_HOME=$D/alice-data

body=$'Grüße aus Köln — 東京 ✓ <b>&amp;</b>\nsecond line\n\n  indented last line'

# --- xsend --omemo to the independent peer --------------------------------------

xt_omemo_recv bob1 bob bob1 1
bob1=$(xt_omemo_device bob1)
run "$XSEND" -C "$aconf" --omemo -m "$body" bob@localhost
ok_rc 0 "xsend --omemo to the python-omemo peer: exit 0"
xt_bg_wait bob1
ok_rc 0 "the peer got one message"
xt_json_load "$(xt_omemo_messages bob1)"
is "${JSON[body]}" "$body" "python-omemo decrypts xsend's body exactly (UTF-8, markup, several lines)"
is "${JSON[encrypted]}" 2 "... OMEMO 2, which the peer announces (t7003: a 0.3-only peer gets 0.3)"
is "${JSON[error]}" null "... without error"
run "$XROSTER" -C "$aconf" -F '%d' devices
alice_dev=$OUT
is "${JSON[sender_device]}" "$alice_dev" "... from alice's device"
like "${JSON[fallback]}" 'OMEMO' "... the plain body is only the fallback"

# The peer's fingerprint, as xroster shows it.
run xt_omemo devices --jid carol@localhost --password carol-pw --of bob@localhost
peer_fp=$(grep -F "\"id\": $bob1" <<<"$OUT" | grep -F '"version": "0.3"' | head -1)
peer_fp=$(xt_json "$peer_fp" fingerprint)
run "$XROSTER" -C "$aconf" -J devices bob@localhost
is "$(xt_json "$(grep "\"device\":$bob1" <<<"$OUT")" fingerprint)" "$peer_fp" \
	"xroster devices shows the fingerprint the peer shows"

# --- two devices of bob, and alice's own other device ------------------------------

xt_omemo_recv alice2 alice alice2 1
alice2=$(xt_omemo_device alice2)
xt_bg_kill alice2
xt_bg_wait alice2
xt_omemo_recv bob1 bob bob1 1
xt_omemo_recv bob2 bob bob2 1
bob2=$(xt_omemo_device bob2)
run "$XSEND" -C "$aconf" --omemo -m 'to both of bob' bob@localhost
ok_rc 0 "bob has a second device: exit 0"
xt_bg_wait bob1
xt_bg_wait bob2
is "$(xt_json "$(xt_omemo_messages bob1)" body)" 'to both of bob' "bob's first device decrypts it"
is "$(xt_json "$(xt_omemo_messages bob2)" body)" 'to both of bob' "... and his new second device too"
xml=$(xt_json "$(xt_omemo_messages bob2)" xml)
like "$xml" "rid=.$alice2." "the message is also encrypted for alice's other device ($alice2)"
unlike "$xml" "rid=.$alice_dev." "... not for the sending device itself"
run "$XROSTER" -C "$aconf" -F '%d %t' devices bob@localhost
is "$(sort <<<"$OUT" | tr '\n' ,)" "$(printf '%s blind\n%s blind\n' "$bob1" "$bob2" | sort | tr '\n' ,)" \
	"xroster devices: both of bob's devices, blindly trusted"

# --- the peer encrypts, xlisten --omemo decrypts ----------------------------------

XDG_DATA_HOME=$D/bob-data xt_bg bl "$XLISTEN" -C "$bconf" --resource bl --omemo -J -v
xt_wait_grep "$D/bl.err" 'OMEMO: device [0-9]+ is published' 20 bl ||
	bail_out "xlisten did not publish its device: $(cat "$D/bl.err")"
bob_xl=$(sed -n 's/.*OMEMO: device \([0-9]*\) is published.*/\1/p' "$D/bl.err" | head -1)
# prekeys: the pre-key ids of the bundle of xlisten's device on the server.
prekeys() {
	printf "<iq type='get' to='bob@localhost' id='pk'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='eu.siacs.conversations.axolotl.bundles:%s'/></pubsub></iq>\n" \
		"$bob_xl" >"$D/pk.xml"
	run_stdin "$D/pk.xml" "$XSEND" -C "$aconf" --raw
	grep -o 'preKeyId="[0-9]*"' <<<"$OUT" | sort
}
pk_before=$(prekeys)
run xt_omemo send --jid alice@localhost/p1 --password alice-pw --store "$D/alice2" \
	--to bob@localhost --version 0.3 --body "$body"
ok_rc 0 "the peer sends to bob (xlisten among his devices): exit 0"
like "$(xt_json "$OUT" recipients -j)" "$bob_xl" "... encrypting for xlisten's device"
xt_wait_grep "$D/bl.out" '"encrypted"' 15 bl || diag "xlisten got nothing"
rec=$(grep '"encrypted"' "$D/bl.out" | head -1)
is "$(xt_json "$rec" body)" "$body" "xlisten --omemo decrypts the peer's key exchange message exactly"
is "$(xt_json "$rec" device)" "$alice2" "... from the peer's device"
is "$(xt_json "$rec" decrypt_error -j)" null "... without error"
for ((i = 0; i < 50; i++)); do
	pk_after=$(prekeys)
	[ "$pk_after" != "$pk_before" ] && break
	sleep 0.1
done
is "$(wc -l <<<"$pk_before"):$(wc -l <<<"$pk_after")" 100:100 "the bundle has 100 pre-keys before and after"
is "$(comm -23 <(echo "$pk_before") <(echo "$pk_after") | wc -l)" 1 \
	"... the one the key exchange used is replaced by a new one (published again)"
run xt_omemo send --jid alice@localhost/p1 --password alice-pw --store "$D/alice2" \
	--to bob@localhost --version 0.3 --body 'the second, in the session'
ok_rc 0 "a second message in the same session: exit 0"
xt_wait_grep "$D/bl.out" 'the second, in the session' 15 bl
ok "... decrypted too" test "$(grep -c '"decrypt_error":null' "$D/bl.out")" -ge 2

# A reply from xsend goes back through the session the peer started.
# (alice's offline messages come first: the peer devices of bob answered
# the key exchanges of alice's xsend device with key-only messages.)
xt_omemo_recv alice3 alice alice2 100
XDG_DATA_HOME=$D/bob-data run "$XSEND" -C "$bconf" --omemo -m 'reply from bob' alice@localhost
ok_rc 0 "bob replies with xsend --omemo: exit 0"
xt_wait_grep "$D/alice3.out" 'reply from bob' 15 alice3 || diag "$(cat "$D/alice3.out")"
xt_bg_kill alice3
xt_bg_wait alice3
is "$(xt_json "$(grep -F 'reply from bob' "$D/alice3.out")" body)" 'reply from bob' \
	"the peer decrypts the reply"

# --- tampered: an error record, never the fallback ---------------------------------

run xt_omemo send --jid alice@localhost/p1 --password alice-pw --store "$D/alice2" \
	--to bob@localhost --version 0.3 --body 'tampered with' --tamper
ok_rc 0 "the peer sends a tampered message: exit 0"
xt_wait_grep "$D/bl.out" '"decrypt_error":"' 15 bl || diag "no error record"
rec=$(grep '"decrypt_error":"' "$D/bl.out" | tail -1)
is "$(xt_json "$rec" body -j)" null "a tampered message: a record without body"
like "$(xt_json "$rec" decrypt_error)" '.' "... with decrypt_error"
is "$(xt_json "$rec" device)" "$alice2" "... naming the sender's device"
unlike "$(cat "$D/bl.out")" 'This message is encrypted|tampered with' \
	"neither the fallback nor the plaintext is printed"
xt_bg_kill bl
xt_bg_wait bl
ok_rc 0 "xlisten --omemo: exit 0 on SIGTERM"

done_testing
