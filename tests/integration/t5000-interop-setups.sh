#!/bin/bash
# SPDX-License-Identifier: MIT
# t5000-interop-setups: server configurations seen in the wild, on the test
# server (XMPP_SERVER: Prosody or ejabberd), each for a one-shot send, an
# xsend --lines stream across a server restart, and xlisten reconnecting:
#   scram-only       ejabberd stores SCRAM-SHA-256 only (Prosody always
#                    stores SCRAM-SHA-1 only: its default, the same test);
#   plain-only       only PLAIN is offered (accounts in LDAP and the like);
#   direct-tls-only  no STARTTLS port: TLS from the first byte (XEP-0368);
#   domain-cert      the certificate names the domain, not 127.0.0.1, the
#                    address the tools connect to.
# Then the mechanism the tools use while the server offers SCRAM-*-PLUS
# (channel binding, which a client that claims it and then fails is
# refused for: "Invalid channel binding"): never a -PLUS one, so never that
# failure (libstrophe 0.12.2 has no channel binding).
# What arrives is checked by the slixmpp peer.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
plan 41

bodies() {
	"$XT_PYTHON" -c '
import json, sys
for line in sys.stdin:
    print(json.loads(line)["body"])' <"$XT_DIR/$1.out"
}

quiet_kill() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# one_setup SETUP: the three runs on a fresh server in that setup; 9 tests.
one_setup() {
	local setup=$1 conf xpid i
	xt_server_stop
	xt_server_start "$setup"
	conf=$(xt_config alice)

	# One-shot: bob online receives it.
	rm -f "$XT_DIR/bob.ready"
	xt_bg bob xt_peer recv --jid bob@localhost --password bob-pw --count 1 \
		--timeout 20 --ready "$XT_DIR/bob.ready"
	xt_wait_file "$XT_DIR/bob.ready" 20 bob || bail_out "$setup: bob's peer is not ready"
	run "$XSEND" -C "$conf" -m "one-shot $setup" bob@localhost
	ok_rc 0 "$setup: one-shot send, exit 0"
	xt_bg_wait bob
	is "$(bodies bob)" "one-shot $setup" "$setup: bob got it"

	# --lines across a restart: bob offline, the storage survives it.
	rm -f "$XT_DIR/fifo"
	mkfifo "$XT_DIR/fifo"
	"$XSEND" -C "$conf" -l --tee bob@localhost <"$XT_DIR/fifo" \
		>"$XT_DIR/lines.out" 2>"$XT_DIR/lines.err" &
	xpid=$!
	xt_at_exit quiet_kill "$xpid"
	exec 7>"$XT_DIR/fifo"
	for i in 1 2 3; do printf 'before %d\n' "$i" >&7; done
	for ((i = 0; i < 1500; i++)); do
		[ "$(wc -l <"$XT_DIR/lines.out")" -ge 3 ] && break
		_xt_nap
	done
	xt_server_restart
	# (If xsend has ended, the lines fail with EPIPE, and its status says
	# why, rather than SIGPIPE ending this script.)
	pipe_trap=$(trap -p PIPE)
	trap '' PIPE
	for i in 1 2 3; do printf 'after %d\n' "$i" >&7; done 2>/dev/null
	exec 7>&-
	eval "${pipe_trap:-trap - PIPE}"
	wait "$xpid"
	is "$?" 0 "$setup: xsend --lines reconnected after the restart and exits 0" ||
		diag "$(cat "$XT_DIR/lines.err")"
	like "$(cat "$XT_DIR/lines.err")" 'warning: .*reconnecting' "$setup: ... it said so"
	xt_bg bob xt_peer recv --jid bob@localhost --password bob-pw --count 6 --timeout 20
	xt_bg_wait bob
	ok_rc 0 "$setup: bob logged in and got six offline messages"
	# Offline storage keeps no order on ejabberd: compared sorted.
	is "$(bodies bob | sort -u | tr '\n' ' ')" "after 1 after 2 after 3 before 1 before 2 before 3 " \
		"$setup: every line arrived"

	# xlisten reconnects after a restart and gets what comes next.
	rm -f "$XT_DIR/xl.out"
	xt_bg xl "$XLISTEN" -C "$(xt_config bob)" -J --resource xl
	run xt_peer send --jid alice@localhost --password alice-pw --to bob@localhost/xl --body r1
	xt_wait_grep "$XT_DIR/xl.out" '"body":"r1"' 10 xl || diag "$setup: r1 not received"
	xt_server_restart
	# Once it answers a ping on its full JID it is back online; a message
	# to the bare JID before that could meet ejabberd's offline-store race
	# (stored while the new session sets up, kept for the next login).
	printf "<iq type='get' to='bob@localhost/xl' id='back'><ping xmlns='urn:xmpp:ping'/></iq>\n" >"$XT_DIR/ping.xml"
	for ((i = 0; i < 200; i++)); do
		run_stdin "$XT_DIR/ping.xml" "$XSEND" -C "$conf" --raw
		[ "$RC" = 0 ] && break
		sleep 0.1
	done
	run xt_peer send --jid alice@localhost --password alice-pw --to bob@localhost/xl --body r2
	ok "$setup: xlisten got a message sent after the restart" \
		xt_wait_grep "$XT_DIR/xl.out" '"body":"r2"' 20 xl
	xt_bg_kill xl
	xt_bg_wait xl
	ok_rc 0 "$setup: xlisten ends with exit 0 on SIGTERM"
	like "$(cat "$XT_DIR/xl.err")" 'reconnecting in [0-9.]+ s' "$setup: xlisten said it reconnects"
}

for setup in scram-only plain-only direct-tls-only domain-cert; do
	one_setup "$setup"
done

# --- the mechanism while the server offers channel binding -----------------

xt_server_stop
xt_server_start
# The features after TLS, as a client sees them.
features=$(printf "<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>" |
	timeout 5 openssl s_client -quiet -starttls xmpp -xmpphost localhost \
		-connect "127.0.0.1:$XT_PORT" -CAfile "$XT_CA" 2>/dev/null)
mechs=$(grep -o '<mechanism>[^<]*</mechanism>' <<<"$features" | sed 's/<[^>]*>//g' | tr '\n' ' ')
diag "$XT_SERVER offers: $mechs"
if [ "$XT_SERVER" = ejabberd ]; then
	like "$mechs" 'SCRAM-SHA-1-PLUS' "ejabberd offers channel binding (SCRAM-SHA-1-PLUS)"
else
	like "$mechs" 'SCRAM-SHA-1' "Prosody 0.12 offers SCRAM (no -PLUS over TLS 1.3)"
fi
run "$XSEND" -C "$(xt_config alice)" -vv -m "binding" bob@localhost
ok_rc 0 "xsend logs in whatever -PLUS mechanism is offered"
like "$ERR" 'SENT: <auth mechanism="SCRAM-SHA-(1|256)"' "... with SCRAM"
unlike "$(grep 'SENT: <auth' <<<"$ERR")" 'PLUS' "... never a channel-binding (-PLUS) one"
run "$XROSTER" -C "$(xt_config alice)" list
ok_rc 0 "xroster logs in too"
