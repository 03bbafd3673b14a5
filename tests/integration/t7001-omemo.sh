#!/bin/bash
# SPDX-License-Identifier: MIT
# t7001-omemo: end-to-end encryption with OMEMO (XEP-0384 v0.3).
#
# xsend --omemo encrypts, xlisten --omemo decrypts, xroster devices / trust /
# distrust manage the devices; nothing is ever sent in plaintext when
# encryption was asked for (a recipient without devices, a distrusted one, a
# key store that cannot be used: exit status, one line, nothing sent to
# anyone); the key store is private (0700/0600) and refused otherwise; two
# senders may share it at once. What xsend sends is decrypted by an
# independent implementation (python3-omemo, tests/peer/omemo_peer.py) and
# what that peer encrypts is decrypted by xlisten.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server

xt_server_start pep
aconf=$(xt_config alice)
bconf=$(xt_config bob)
cconf=$(xt_config carol)
D=$XT_DIR
# Each account's key store in a home of its own, as on separate machines.
export XDG_DATA_HOME=$D/alice-data

# as USER CMD...: run (OUT ERR RC) with USER's key store.
as() {
	local user=$1
	shift
	XDG_DATA_HOME=$D/$user-data run "$@"
}

# listen NAME USER ARGS...: xlisten --omemo -J -v as USER in the background;
# returns once its device is published.
listen() {
	local name=$1 user=$2
	shift 2
	XDG_DATA_HOME=$D/$user-data xt_bg "$name" "$XLISTEN" -C "$(xt_config "$user")" \
		--resource "$name" --omemo -J -v "$@"
	xt_wait_grep "$D/$name.err" 'OMEMO: device [0-9]+ is published' 20 "$name" ||
		bail_out "xlisten $name did not publish its device: $(cat "$D/$name.err")"
}

# field NAME KEY [-j]: KEY of the first record of NAME's output.
field() {
	xt_json "$(sed -n 1p "$D/$1.out")" "${@:2}"
}

# --- usage: what cannot be encrypted is refused before anything ---------------

run "$XSEND" -C "$aconf" --omemo --raw </dev/null
ok_rc 2 "--omemo with --raw: exit 2"
like "$ERR" 'raw sends stanzas as they are, unencrypted; nothing sent' "... saying why"
for args in "-r" "-s subj" "--url https://example.org/" "--upload /etc/hostname"; do
	# shellcheck disable=SC2086 # the words of $args
	run "$XSEND" -C "$aconf" --omemo $args -m x bob@localhost </dev/null
	ok_rc 2 "--omemo with ${args%% *}: exit 2"
done
like "$ERR" '^xsend: --omemo \(or omemo = yes\): --upload would send a link to an unencrypted file; nothing sent$' \
	"... one line saying why"

# --- a recipient without OMEMO: nothing sent to anyone ------------------------

rm -f "$D/carol.ready"
xt_bg carolpeer xt_peer recv --jid carol@localhost/peer --password carol-pw --timeout 300 \
	--ready "$D/carol.ready"
xt_wait_file "$D/carol.ready" 20 carolpeer || bail_out "carol's peer is not ready"
run "$XSEND" -C "$aconf" --omemo -m 'secret 1' carol@localhost
ok_rc 8 "a recipient without OMEMO devices: exit 8"
# Prosody forbids reading a node that does not exist, ejabberd says so.
like "$ERR" '^xsend: carol@localhost: (no OMEMO device \(the contact has published none\)|its OMEMO device list cannot be read: forbidden); nothing sent$' \
	"... one line naming the recipient and the reason"

listen bl bob
run "$XSEND" -C "$aconf" --omemo -m 'secret 2' bob@localhost carol@localhost
ok_rc 8 "bob has a device, carol none: exit 8"
like "$ERR" '^xsend: carol@localhost: .*; nothing sent$' "... naming carol"

# --- alice to bob, both ours ------------------------------------------------------

body=$'h\xc3\xa9llo \xe2\x9c\x93\nsecond line\n\n  indented'
run "$XSEND" -C "$aconf" --omemo -m "$body" bob@localhost
ok_rc 0 "xsend --omemo to bob: exit 0"
xt_wait_grep "$D/bl.out" '"encrypted"' 10 bl || diag "bob got nothing"
is "$(field bl body)" "$body" "xlisten --omemo: the body decrypted exactly (non-ASCII, several lines)"
is "$(field bl encrypted)" omemo "... marked encrypted"
alice_dev=$(as alice "$XROSTER" -C "$aconf" -F '%d' devices && echo "$OUT")
is "$(field bl device)" "$alice_dev" "... by alice's device"
is "$(field bl decrypt_error -j)" null "... no decrypt_error"
nstored=$(grep -c . "$D/bl.out")
is "$nstored" 1 "carol's refusal sent nothing to bob before (one record)"
sleep 0.5
unlike "$(cat "$D/carolpeer.out")" 'secret' "carol got nothing, neither alone nor with bob"

# The server saw no plaintext: the stanza bob got holds the fallback only.
listen blx bob -X
run "$XSEND" -C "$aconf" --omemo -m 'not for the server' bob@localhost/blx
ok_rc 0 "to bob's second listener: exit 0"
xt_wait_grep "$D/blx.out" 'encrypted' 10 blx || diag "blx got nothing"
unlike "$(cat "$D/blx.out")" 'not for the server' "the stanza on the wire holds no plaintext"
like "$(cat "$D/blx.out")" '<body>This message is encrypted with OMEMO' "... but the fallback body"
like "$(cat "$D/blx.out")" '<encryption [^>]*xmlns="urn:xmpp:eme:0"' "... and the XEP-0380 hint"
xt_bg_kill blx
xt_bg_wait blx

# --- lines: one set-up, every line encrypted ---------------------------------------

printf 'line 1\nline 2\nline 3\n' >"$D/lines.txt"
run_stdin "$D/lines.txt" "$XSEND" -C "$aconf" --omemo -l bob@localhost
ok_rc 0 "--omemo --lines: exit 0"
xt_wait_grep "$D/bl.out" '"body":"line 3"' 10 bl || diag "line 3 missing"
is "$(grep -o '"body":"line [0-9]"' "$D/bl.out" | tr '\n' ' ')" \
	'"body":"line 1" "body":"line 2" "body":"line 3" ' "... each line decrypted, in order"

# --- templates ------------------------------------------------------------------

xt_bg_kill bl
xt_bg_wait bl
ok_rc 0 "xlisten --omemo ends with exit 0"
XDG_DATA_HOME=$D/bob-data xt_bg blf "$XLISTEN" -C "$bconf" --resource blf --omemo -v -F '%E|%b'
xt_wait_grep "$D/blf.err" 'is published' 20 blf || diag "blf not published"
run "$XSEND" -C "$aconf" --omemo -m 'templated' bob@localhost
xt_wait_grep "$D/blf.out" 'templated' 10 blf || diag "blf got nothing"
is "$(cat "$D/blf.out")" "$alice_dev|templated" "-F %E: the sender's device"
xt_bg_kill blf
xt_bg_wait blf

# --- two senders share the store at once -------------------------------------------

listen bl2 bob
"$XSEND" -C "$aconf" --omemo -m 'together A' bob@localhost 2>"$D/ta.err" &
pa=$!
"$XSEND" -C "$aconf" --omemo -m 'together B' bob@localhost 2>"$D/tb.err" &
pb=$!
wait "$pa"
ra=$?
wait "$pb"
rb=$?
is "$ra:$rb" 0:0 "two xsend --omemo with one key store at once: both exit 0"
xt_wait_grep "$D/bl2.out" 'together B' 10 bl2 && xt_wait_grep "$D/bl2.out" 'together A' 10 bl2
ok "... bob decrypts both" test "$(grep -c '"decrypt_error":null' "$D/bl2.out")" = 2

# --- a message that cannot be decrypted is a record with an error ---------------------

printf '%s\n' "<message to='bob@localhost' type='chat' id='bad1'><body>fallback text</body><encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='12345'><key rid='$(as bob "$XROSTER" -C "$bconf" -F '%d' devices && echo "$OUT")'>AAAA</key><iv>AAAAAAAAAAAAAAAA</iv></header><payload>AAAA</payload></encrypted></message>" >"$D/bad.xml"
run_stdin "$D/bad.xml" "$XSEND" -C "$aconf" --raw
ok_rc 0 "a broken OMEMO message sent raw"
xt_wait_grep "$D/bl2.out" '"id":"bad1"' 10 bl2 || diag "bad1 not received"
rec=$(grep '"id":"bad1"' "$D/bl2.out")
is "$(xt_json "$rec" body -j)" null "the undecryptable message: no body (never the fallback)"
like "$(xt_json "$rec" decrypt_error)" '.' "... decrypt_error says why"
is "$(xt_json "$rec" device)" 12345 "... and the claimed sender device"
like "$(cat "$D/bl2.err")" 'warning: alice@localhost/[^:]*: an OMEMO message that cannot be decrypted' \
	"... and a warning on stderr"
unlike "$(cat "$D/bl2.out")" 'fallback text' "the fallback body is never printed"

# --- broken devices of a contact: nothing sent ------------------------------------------

# pep_publish NODE ITEM: carol publishes ITEM (XML) on her NODE, open to all.
pep_publish() {
	printf '%s\n' "<iq type='set' id='p'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='$1'><item id='current'>$2</item></publish><publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='pubsub#access_model'><value>open</value></field></x></publish-options></pubsub></iq>" >"$D/pub.xml"
	run_stdin "$D/pub.xml" "$XSEND" -C "$cconf" --raw
	[ "$RC" = 0 ] || diag "carol could not publish $1: $OUT $ERR"
}
pep_publish eu.siacs.conversations.axolotl.devicelist \
	"<list xmlns='eu.siacs.conversations.axolotl'><device id='42'/></list>"
run "$XSEND" -C "$aconf" --omemo -m 'to a device without bundle' carol@localhost
ok_rc 8 "a listed device whose bundle cannot be fetched: exit 8"
# (Prosody forbids reading a node that does not exist, ejabberd says so.)
like "$ERR" '^xsend: carol@localhost: OMEMO device 42: its bundle cannot be fetched \((item-not-found|forbidden)[^;]*\); nothing sent$' \
	"... naming the recipient, the device and the reason"
pep_publish eu.siacs.conversations.axolotl.bundles:42 \
	"<bundle xmlns='eu.siacs.conversations.axolotl'><signedPreKeyPublic signedPreKeyId='1'>BQ==</signedPreKeyPublic><signedPreKeySignature>AA==</signedPreKeySignature><prekeys><preKeyPublic preKeyId='1'>BQ==</preKeyPublic></prekeys></bundle>"
run "$XSEND" -C "$aconf" --omemo -m 'to a broken bundle' carol@localhost bob@localhost
ok_rc 9 "a bundle without identity key: exit 9"
like "$ERR" '^xsend: carol@localhost: OMEMO device 42: its bundle is unusable \(the bundle has no valid identity key\); nothing sent$' \
	"... naming what is wrong"
sleep 0.5
unlike "$(cat "$D/carolpeer.out" "$D/bl2.out")" 'broken bundle' "... and nothing went to carol or bob"

# --- devices, trust, distrust ---------------------------------------------------------

as bob "$XROSTER" -C "$bconf" devices
ok_rc 0 "xroster devices (own account): exit 0"
bob_line=$OUT
bob_dev=$(cut -f2 <<<"$bob_line")
bob_fp=$(cut -f4 <<<"$bob_line")
is "$(cut -f1,3 <<<"$bob_line")" "bob@localhost	own" "... this device first, marked own"
like "$bob_fp" '^([0-9a-f]{8} ){7}[0-9a-f]{8}$' "... its fingerprint as clients show it"
run "$XROSTER" -C "$aconf" -J devices bob@localhost
ok_rc 0 "alice: xroster devices bob: exit 0"
is "$(xt_json "$OUT" fingerprint)" "$bob_fp" "... the same fingerprint as bob's own"
is "$(xt_json "$OUT" trust)" blind "... trusted blindly"
is "$(xt_json "$OUT" active -j)" true "... active"
run "$XROSTER" -C "$aconf" devices dave@localhost
ok_rc 8 "devices of a contact without OMEMO: exit 8"
run "$XROSTER" -C "$aconf" trust bob@localhost 'zz'
ok_rc 2 "trust with neither an id nor a fingerprint: exit 2"
run "$XROSTER" -C "$aconf" trust bob@localhost 99
ok_rc 8 "trust of an unknown device: exit 8"
run "$XROSTER" -C "$aconf" trust bob@localhost "05${bob_fp// /:}"
ok_rc 0 "trust by fingerprint (05-prefixed, colons): exit 0"
is "$(cut -f2,3 <<<"$OUT")" "$bob_dev	trusted" "... prints the device, trusted"
run "$XROSTER" -C "$aconf" distrust bob@localhost "$bob_dev"
ok_rc 0 "distrust by id: exit 0"
run "$XSEND" -C "$aconf" --omemo -m 'to the distrusted' bob@localhost
ok_rc 8 "only a distrusted device: exit 8"
is "$ERR" "xsend: bob@localhost: no trusted OMEMO device (see xroster devices); nothing sent" \
	"... saying so"
sleep 0.5
unlike "$(cat "$D/bl2.out")" 'to the distrusted' "... nothing sent"
run "$XROSTER" -C "$aconf" trust bob@localhost "$bob_dev"
ok_rc 0 "trusted again: exit 0"
run "$XSEND" -C "$aconf" --omemo -m 'trusted again' bob@localhost
ok_rc 0 "... xsend --omemo goes again"

# --- through the persistent agent ------------------------------------------------------

export XDG_RUNTIME_DIR=$D/run
mkdir -m 700 "$XDG_RUNTIME_DIR"
run "$XSEND" -C "$aconf" --omemo --agent=3 -v -m 'via the agent 1' bob@localhost
ok_rc 0 "--omemo --agent: exit 0"
like "$ERR" 'started the agent' "... it started an agent"
run "$XSEND" -C "$aconf" --omemo --agent=3 -v -m 'via the agent 2' bob@localhost
ok_rc 0 "--omemo --agent again: exit 0"
like "$ERR" 'sent through the agent' "... through the running agent"
unlike "$ERR" 'started the agent' "... without starting another"
xt_wait_grep "$D/bl2.out" 'via the agent 2' 10 bl2 || diag "bob did not get it"
is "$(grep -c '"body":"via the agent [12]".*"decrypt_error":null' "$D/bl2.out")" 2 \
	"bob decrypts both messages the agent encrypted"
run "$XSEND" -C "$aconf" --omemo --agent=3 -m 'via the agent 3' carol@localhost
ok_rc 9 "through the agent, carol's broken bundle: exit 9"
is "$ERR" 'xsend: carol@localhost: OMEMO device 42: its bundle is unusable (the bundle has no valid identity key); nothing sent' \
	"... the agent's one line, as a direct run says it"
run "$XSEND" -C "$aconf" --agent=3 -v -m 'plain via an agent' bob@localhost
ok_rc 0 "without --omemo: exit 0"
like "$ERR" 'started the agent' "... another agent (one without OMEMO)"
for ((i = 0; i < 100; i++)); do
	[ -z "$(find "$XDG_RUNTIME_DIR" -type s)" ] && break
	sleep 0.1
done
is "$(find "$XDG_RUNTIME_DIR" -type s | wc -l)" 0 "the agents leave after 3 s idle"
unset XDG_RUNTIME_DIR
xt_bg_kill bl2
xt_bg_wait bl2

# --- the key store is private ------------------------------------------------------------

st=$D/alice-data/xmpptools/omemo/alice@localhost
is "$(stat -c %a "$st")" 700 "the key store directory is 0700"
is "$(find "$st" -type f ! -perm 0600 | wc -l)" 0 "... its files 0600"
chmod 0755 "$st"
run "$XSEND" -C "$aconf" --omemo -m x bob@localhost
ok_rc 3 "a key store readable by others: exit 3"
like "$ERR" "$st" "... naming it"
run "$XLISTEN" -C "$aconf" --omemo -w 5
ok_rc 3 "xlisten --omemo with that store: exit 3"
run "$XROSTER" -C "$aconf" devices
ok_rc 3 "xroster devices with that store: exit 3"
chmod 0700 "$st"
f=$(find "$st" -type f -name 'identity*' | head -1)
[ -n "$f" ] || f=$(find "$st" -type f | head -1)
chmod 0644 "$f"
run "$XSEND" -C "$aconf" --omemo -m x bob@localhost
ok_rc 3 "a key file readable by others: exit 3"
chmod 0600 "$f"
run "$XSEND" -C "$aconf" --omemo -m 'store fine again' bob@localhost
ok_rc 0 "the store restored: exit 0"
xt_bg_kill carolpeer
xt_bg_wait carolpeer

# --- a device dropped from the contact's lists is no longer encrypted for -------------

for node in "eu.siacs.conversations.axolotl.devicelist|<list xmlns='eu.siacs.conversations.axolotl'><device id='4242'/></list>" \
	"urn:xmpp:omemo:2:devices|<devices xmlns='urn:xmpp:omemo:2'><device id='4242'/></devices>"; do
	printf '%s\n' "<iq type='set' id='p'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='${node%%|*}'><item id='current'>${node#*|}</item></publish></pubsub></iq>" >"$D/pub.xml"
	run_stdin "$D/pub.xml" "$XSEND" -C "$bconf" --raw
	[ "$RC" = 0 ] || diag "bob could not publish ${node%%|*}: $OUT $ERR"
done
run "$XROSTER" -C "$aconf" -J devices bob@localhost
ok_rc 0 "bob's lists now name only device 4242: xroster devices exit 0"
is "$(grep -c '"active":true' <<<"$OUT")" 0 "... bob's earlier devices are listed as inactive"
like "$ERR" 'warning: OMEMO: bob@localhost (2 )?device 4242: its bundle cannot be fetched' \
	"... and the new one without bundle is a warning"
run "$XSEND" -C "$aconf" --omemo -m 'to the dropped devices' bob@localhost
ok_rc 8 "xsend --omemo: exit 8, not a message to the dropped devices"
like "$ERR" 'bob@localhost: OMEMO (2 )?device 4242: its bundle cannot be fetched' "... saying why"

done_testing
