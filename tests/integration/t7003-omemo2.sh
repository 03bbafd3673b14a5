#!/bin/bash
# SPDX-License-Identifier: MIT
# t7003-omemo2: OMEMO 2 (urn:xmpp:omemo:2) next to OMEMO 0.3, against the
# independent python-omemo peer (tests/peer/omemo_peer.py with twomemo and
# oldmemo): a recipient that announces OMEMO 2 gets OMEMO 2 from xsend, with
# the body exact in a XEP-0420 envelope from the sender; one announcing only
# 0.3 gets 0.3; what the peer encrypts with OMEMO 2 xlisten --omemo
# decrypts, key exchange first; a tampered OMEMO 2 message is an error
# record; xsend's device is announced and bundled under both versions.
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

# --- xsend --omemo to a peer announcing both versions: OMEMO 2 --------------------

xt_omemo_recv bob1 bob bob1 1
bob1=$(xt_omemo_device bob1)
run "$XSEND" -C "$aconf" --omemo -m "$body" bob@localhost
ok_rc 0 "xsend --omemo to a peer announcing OMEMO 2: exit 0"
xt_bg_wait bob1
ok_rc 0 "the peer got one message"
xt_json_load "$(xt_omemo_messages bob1)"
is "${JSON[encrypted]}" 2 "... encrypted with OMEMO 2"
is "${JSON[body]}" "$body" "python-omemo decrypts xsend's OMEMO 2 body exactly (UTF-8, markup, several lines)"
is "${JSON[error]}" null "... without error"
is "${JSON[envelope_from]}" alice@localhost "... the envelope names the sender"
run "$XROSTER" -C "$aconf" -F '%d' devices
alice_dev=$OUT
is "${JSON[sender_device]}" "$alice_dev" "... from alice's device (one device id for both versions)"
like "${JSON[fallback]}" 'OMEMO' "... the plain body is only the fallback"
like "${JSON[xml]}" "<encryption[^>]*namespace=.urn:xmpp:omemo:2." "... the XEP-0380 hint names OMEMO 2"
like "${JSON[xml]}" "<keys jid=.bob@localhost.><key (rid=.$bob1. kex=.true.|kex=.true. rid=.$bob1.)>" \
	"... a key exchange for the peer's device under <keys jid='bob@localhost'>"
unlike "${JSON[xml]}" 'eu\.siacs\.conversations\.axolotl' "... and no 0.3 element rides along"

# alice's device is announced and bundled under both versions.
run xt_omemo devices --jid carol@localhost --password carol-pw --of alice@localhost
ok_rc 0 "the peer reads alice's devices: exit 0"
for v in 0.3 2; do
	rec=$(grep -F '"kind": "device"' <<<"$OUT" | grep -F "\"version\": \"$v\"" | head -1)
	is "$(xt_json "$rec" id)" "$alice_dev" "... her device in the $v list"
	is "$(xt_json "$rec" error -j)" null "... its $v bundle reads"
	fp[${v%.*}]=$(xt_json "$rec" fingerprint)
done
is "${fp[0]}" "${fp[2]}" "... one identity: the same fingerprint under both versions"
run "$XROSTER" -C "$aconf" -J devices bob@localhost
is "$(grep -c '"device":' <<<"$OUT")" 1 "xroster devices: bob's device once (same id = same device)"

# --- a peer announcing only 0.3 gets 0.3 ------------------------------------------

xt_omemo_recv carol1 carol carol1 1 --version 0.3
run "$XSEND" -C "$aconf" --omemo -m "$body" carol@localhost
ok_rc 0 "xsend --omemo to a 0.3-only peer: exit 0"
xt_bg_wait carol1
ok_rc 0 "the peer got one message"
xt_json_load "$(xt_omemo_messages carol1)"
is "${JSON[encrypted]}" 0.3 "... encrypted with OMEMO 0.3"
is "${JSON[body]}" "$body" "... the body exact"
is "${JSON[error]}" null "... without error"

# --- the peer encrypts with OMEMO 2, xlisten --omemo decrypts ---------------------

XDG_DATA_HOME=$D/bob-data xt_bg bl "$XLISTEN" -C "$bconf" --resource bl --omemo -J -v
xt_wait_grep "$D/bl.err" 'OMEMO: device [0-9]+ is published' 20 bl ||
	bail_out "xlisten did not publish its device: $(cat "$D/bl.err")"
bob_xl=$(sed -n 's/.*OMEMO: device \([0-9]*\) is published.*/\1/p' "$D/bl.err" | head -1)
run xt_omemo send --jid dave@localhost/p1 --password dave-pw --store "$D/dave1" \
	--to bob@localhost --version 2 --body "$body"
ok_rc 0 "the peer sends with OMEMO 2 to bob (xlisten among his devices): exit 0"
like "$(xt_json "$OUT" recipients -j)" "$bob_xl" "... encrypting for xlisten's device"
is "$(xt_json "$OUT" encrypted)" 2 "... with OMEMO 2"
dave1=$(xt_json "$OUT" sender_device)
xt_wait_grep "$D/bl.out" '"encrypted"' 15 bl || diag "xlisten got nothing"
rec=$(grep '"encrypted"' "$D/bl.out" | head -1)
is "$(xt_json "$rec" body)" "$body" "xlisten --omemo decrypts the peer's OMEMO 2 key exchange exactly"
is "$(xt_json "$rec" encrypted)" omemo "... the record says omemo"
is "$(xt_json "$rec" device)" "$dave1" "... from the peer's device"
is "$(xt_json "$rec" decrypt_error -j)" null "... without error"
run xt_omemo send --jid dave@localhost/p1 --password dave-pw --store "$D/dave1" \
	--to bob@localhost --version 2 --body 'the second, in the session'
ok_rc 0 "a second OMEMO 2 message in the same session: exit 0"
xt_wait_grep "$D/bl.out" 'the second, in the session' 15 bl
ok "... decrypted too" test "$(grep -c '"decrypt_error":null' "$D/bl.out")" -ge 2

# --- tampered: an error record, never the fallback --------------------------------

run xt_omemo send --jid dave@localhost/p1 --password dave-pw --store "$D/dave1" \
	--to bob@localhost --version 2 --body 'tampered with' --tamper
ok_rc 0 "the peer sends a tampered OMEMO 2 message: exit 0"
xt_wait_grep "$D/bl.out" '"decrypt_error":"' 15 bl || diag "no error record"
rec=$(grep '"decrypt_error":"' "$D/bl.out" | tail -1)
is "$(xt_json "$rec" body -j)" null "a tampered OMEMO 2 message: a record without body"
like "$(xt_json "$rec" decrypt_error)" 'payload does not decrypt' "... saying why"
is "$(xt_json "$rec" device)" "$dave1" "... naming the sender's device"
unlike "$(cat "$D/bl.out")" 'This message is encrypted|tampered with' \
	"neither the fallback nor the plaintext is printed"
xt_bg_kill bl
xt_bg_wait bl
ok_rc 0 "xlisten --omemo: exit 0 on SIGTERM"

# --- xsend to xlisten: ours to ours goes OMEMO 2 too -------------------------------

XDG_DATA_HOME=$D/bob-data xt_bg bl2 "$XLISTEN" -C "$bconf" --resource bl --omemo -J -v
xt_wait_grep "$D/bl2.err" 'OMEMO: device [0-9]+ is published' 20 bl2 ||
	bail_out "xlisten did not publish its device: $(cat "$D/bl2.err")"
run "$XSEND" -C "$aconf" --omemo -m "$body" bob@localhost
ok_rc 0 "xsend --omemo to bob's devices (the peer's and xlisten's): exit 0"
xt_wait_grep "$D/bl2.out" '"encrypted"' 15 bl2 || diag "xlisten got nothing"
rec=$(grep '"encrypted"' "$D/bl2.out" | tail -1)
is "$(xt_json "$rec" body)" "$body" "xlisten decrypts xsend's OMEMO 2 message exactly"
is "$(xt_json "$rec" decrypt_error -j)" null "... without error"
xt_bg_kill bl2
xt_bg_wait bl2

done_testing
