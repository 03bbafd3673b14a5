#!/bin/bash
# SPDX-License-Identifier: MIT
# t1003-xsend-raw: xsend --raw sends the stanzas read from standard input,
# one per line or as a continuous stream, prints each iq reply as one line
# of XML, fails with 8 on an error reply, and refuses what is not a stanza.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
plan 41

xt_server_start
conf=$(xt_config alice)

# --- iq replies as lines of XML; a message reaches the peer -----------------

rm -f "$XT_DIR/bob.ready"
xt_bg bob xt_peer recv --jid bob@localhost --password bob-pw --count 1 --timeout 20 \
	--ready "$XT_DIR/bob.ready"
xt_wait_file "$XT_DIR/bob.ready" 20 bob || bail_out "peer not ready"
cat >"$XT_DIR/in.xml" <<'XML'
<iq type='get' to='localhost' id='v1'><query xmlns='jabber:iq:version'/></iq>
<message to='bob@localhost' type='normal' id='m1'><body>raw &amp; ready
second line</body><subject>raw</subject></message>
<iq type='get' to='localhost' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>
XML
run_stdin "$XT_DIR/in.xml" "$XSEND" -C "$conf" --raw
ok_rc 0 "two iq gets and a message: exit 0"
is "$ERR" "" "nothing on stderr"
is "$(wc -l <<<"$OUT")" 2 "one line per iq reply"
like "$(sed -n 1p <<<"$OUT")" "^<iq id=\"v1\" [^>]*type=\"result\"" "the version reply, with the request's id"
like "$(sed -n 1p <<<"$OUT")" "<name>$XT_SERVER_NAME</name>" "the version reply: the server's name"
like "$(sed -n 2p <<<"$OUT")" 'http://jabber.org/protocol/disco#info' "the disco#info reply"
like "$(sed -n 2p <<<"$OUT")" '<feature var="urn:xmpp:ping"/>' "disco#info lists the server's features"
xt_bg_wait bob
xt_json_load "$OUT"
is "${JSON[id]}" m1 "the raw message kept its id"
is "${JSON[type_attr]}" "$XT_TYPE_NORMAL" "... its type"
is "${JSON[body]}" $'raw & ready\nsecond line' "... its body, with the entity and the newline"
is "${JSON[subject]}" raw "... its subject"

# --- a continuous stream, split anywhere, without newlines ------------------

printf "<iq type='get' to='localhost' id='p1'><ping xmlns='urn:xmpp:ping'/></iq><iq type='get' to='localhost' id='p2'><ping xmlns='urn:xmpp:ping'/></iq>" >"$XT_DIR/stream.xml"
run_stdin "$XT_DIR/stream.xml" "$XSEND" -C "$conf" --raw
ok_rc 0 "a stream of stanzas without newlines: exit 0"
is "$(grep -o 'id="p[12]"' <<<"$OUT" | tr '\n' ' ')" 'id="p1" id="p2" ' "both replies, in order"

# An iq without an id gets one; the reply still comes back.
printf "<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>\n" >"$XT_DIR/noid.xml"
run_stdin "$XT_DIR/noid.xml" "$XSEND" -C "$conf" --raw
ok_rc 0 "an iq without an id: exit 0"
like "$OUT" '^<iq id="[0-9a-f-]+" [^>]*type="result"' "it was given an id and answered"

# --- an error reply: printed, and exit 8 ------------------------------------

printf "<iq type='get' to='localhost' id='bad'><query xmlns='urn:example:nothing'/></iq>\n" >"$XT_DIR/err.xml"
run_stdin "$XT_DIR/err.xml" "$XSEND" -C "$conf" --raw
ok_rc 8 "an iq answered with an error: exit 8"
like "$OUT" '<iq id="bad" [^>]*type="error"' "the error reply is printed on stdout"
is "$ERR" "xsend: line 1: iq bad: service-unavailable" "stderr names the line, the id and the condition"
printf "<message to='nobody@localhost' id='nb'><body>x</body></message>\n" >"$XT_DIR/bounce.xml"
run_stdin "$XT_DIR/bounce.xml" "$XSEND" -C "$conf" --raw
ok_rc 8 "a raw message that bounces: exit 8"
is "$ERR" "xsend: line 1: nobody@localhost: service-unavailable" "bounce: the line, the sender of the error and the condition"

# --- what is not a stanza is refused, with its line --------------------------
# Stanzas before it were sent (and confirmed); nothing after it is.

refused() {
	printf '%s' "$1" >"$XT_DIR/refused.xml"
	run_stdin "$XT_DIR/refused.xml" "$XSEND" -C "$conf" --raw
	ok_rc 2 "$2: exit 2"
	is "$ERR" "xsend: standard input: $3; nothing more sent" "$2: says what and where"
}
refused $'<iq type="get" to="localhost" id="ok"><ping xmlns="urn:xmpp:ping"/></iq>\n<!DOCTYPE x [<!ENTITY e "boom">]>\n' \
	"a DTD" "line 2: document type declaration not allowed"
like "$OUT" 'id="ok"' "the stanza before the DTD was sent and answered"
refused $'<message to="bob@localhost"><body>x</body></message>\n\n<?php evil() ?>\n' \
	"a processing instruction" "line 3: processing instruction not allowed"
refused $'<stream:stream xmlns:stream="http://etherx.jabber.org/streams">\n' \
	"a stream header" "line 1: <stream:stream> is not a stanza (message, presence or iq)"
refused $'<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>\n' \
	"a non-stanza element" "line 1: <auth> is not a stanza (message, presence or iq)"
refused $'<message><body>unclosed</message>\n' \
	"malformed XML" "line 1: mismatched tag"
refused $'<message><body>cut' \
	"input ending inside a stanza" "line 1: the input ends inside a stanza"
refused $'just text\n' \
	"text outside a stanza" "line 1: text outside a stanza"
refused $'<message xmlns="jabber:server" to="bob@localhost"/>\n' \
	"another namespace" "line 1: <message> in namespace 'jabber:server', not jabber:client"

run "$XSEND" -C "$conf" --raw bob@localhost
ok_rc 2 "--raw with a recipient: exit 2"
like "$ERR" 'the stanzas say where they go' "--raw with a recipient: says why"
run "$XSEND" -C "$conf" --raw -t chat
ok_rc 2 "--raw with --type: exit 2 (the stanzas say their type)"
run "$XSEND" -C "$conf" --raw --retries 2
ok_rc 2 "--raw with --retries: exit 2 (raw does not reconnect)"
