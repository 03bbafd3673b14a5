#!/bin/bash
# SPDX-License-Identifier: MIT
# t1009-xsend-migrate: coming from sendxmpp or go-sendxmpp.  Their config
# files are read when no xmpptools config exists (under the rules of our
# own file), --print-config writes the equivalent that then works alone,
# --rcpt-file reads an alert list; and --version names the libraries.
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
[ -e /etc/xmpptools/config ] &&
	skip_all "/etc/xmpptools/config exists: the migration never applies"
plan 48

# --- --version: the suite's line, then the libraries loaded -----------------

run "$XSEND" --version
ok_rc 0 "--version: exit 0"
like "$(sed -n 1p <<<"$OUT")" '^xsend \(xmpptools\) [0-9][0-9.]*$' \
	"--version: the first line is the suite's, as before"
like "$(sed -n 2p <<<"$OUT")" '^libstrophe 0\.[0-9]+ \(loaded' \
	"--version: the libstrophe loaded"
like "$(sed -n 3p <<<"$OUT")" '^OpenSSL [0-9]' "--version: OpenSSL"
like "$(sed -n 4p <<<"$OUT")" '^expat [0-9]+\.[0-9]+\.[0-9]+$' "--version: expat"

xt_server_start

# recv_start USER COUNT: a slixmpp peer that prints what USER receives.
recv_start() {
	rm -f "$XT_DIR/$1.ready"
	xt_bg "$1" xt_peer recv --jid "$1@localhost" --password "$1-pw" \
		--count "$2" --timeout 20 --ready "$XT_DIR/$1.ready"
	xt_wait_file "$XT_DIR/$1.ready" 20 "$1" || bail_out "$1's peer is not ready"
}

# new_home NAME: an empty home directory, in $H.
new_home() {
	H="$XT_DIR/home-$1"
	mkdir -p "$H"
	chmod 700 "$H"
}

# xs ARGS...: xsend with HOME=$H and no XDG_CONFIG_HOME (run's OUT ERR RC).
xs() {
	run env HOME="$H" XDG_CONFIG_HOME= "$XSEND" "$@"
}

# got BODY WHAT: the peer (waited for) received BODY as its only message.
got() {
	xt_bg_wait bob
	ok_rc 0 "$2: the peer got it"
	xt_json_load "$OUT"
	is "${JSON[body]}" "$1" "$2: the body"
}

# --- sendxmpp's old line ----------------------------------------------------

new_home old
printf 'alice@%s:%s alice-pw\n' "$XT_DOMAIN" "$XT_PORT" >"$H/.sendxmpprc"
chmod 644 "$H/.sendxmpprc"
xs --host "$XT_HOST" --cafile "$XT_CA" -m refused bob@localhost
ok_rc 3 "~/.sendxmpprc with a password, readable by others: exit 3"
like "$ERR" "\.sendxmpprc: holds a password but is readable by group or others" \
	"... refused like our own file"

chmod 600 "$H/.sendxmpprc"
recv_start bob 1
xs --host "$XT_HOST" --cafile "$XT_CA" -m "from the old line" bob@localhost
ok_rc 0 "~/.sendxmpprc (user@server:port password): exit 0"
is "$ERR" "xsend: read $H/.sendxmpprc (sendxmpp's configuration); xsend --print-config writes the xmpptools equivalent" \
	"... and one stderr line says so"
got "from the old line" "old line"

# --- sendxmpp's keys ----------------------------------------------------------

new_home keys
printf 'username: alice\njserver: %s\nport: %s\npassword: alice-pw\n' \
	"$XT_DOMAIN" "$XT_PORT" >"$H/.sendxmpprc"
chmod 600 "$H/.sendxmpprc"
recv_start bob 1
xs -q --host "$XT_HOST" --cafile "$XT_CA" -m "from the keys" bob@localhost
ok_rc 0 "~/.sendxmpprc (username/jserver/port/password): exit 0"
is "$ERR" "" "... -q silences the notice"
got "from the keys" "sendxmpp keys"

# --- go-sendxmpp, eval_password ---------------------------------------------

new_home go
mkdir -p "$H/.config/go-sendxmpp"
printf 'username: alice@%s\njserver: %s\nport: %s\neval_password: echo alice-pw\nalias: bot\n' \
	"$XT_DOMAIN" "$XT_HOST" "$XT_PORT" >"$H/.config/go-sendxmpp/config"
printf 'nobody@%s wrong\n' "$XT_DOMAIN" >"$H/.sendxmpprc"
chmod 600 "$H/.sendxmpprc"
chmod 644 "$H/.config/go-sendxmpp/config"
recv_start bob 1
xs --cafile "$XT_CA" -m "from go-sendxmpp" bob@localhost
ok_rc 0 "go-sendxmpp's config (eval_password, no password inside: 0644 is fine): exit 0"
like "$ERR" "config:5: 'alias' ignored" "... an unknown key is a notice"
like "$ERR" "read $H/.config/go-sendxmpp/config \(go-sendxmpp's configuration\)" \
	"... read before ~/.sendxmpprc"
got "from go-sendxmpp" "go-sendxmpp"

chmod 666 "$H/.config/go-sendxmpp/config"
xs --cafile "$XT_CA" -m x bob@localhost
ok_rc 3 "go-sendxmpp's config writable by others: exit 3"
like "$ERR" "writable by group or others" "... the ownership rule of our own file"

# --- --print-config, and the result used alone ------------------------------

H="$XT_DIR/home-old"
xs --print-config
ok_rc 0 "--print-config: exit 0"
like "$OUT" "jid = alice@$XT_DOMAIN" "--print-config: the jid"
like "$OUT" "port = $XT_PORT" "--print-config: the port"
unlike "$OUT" "alice-pw" "--print-config: no password on standard output"
like "$OUT" "# password: not written to standard output" "... a comment says how to get it"

xs --print-config="$XT_DIR/migrated.conf" --host "$XT_HOST" --cafile "$XT_CA"
ok_rc 0 "--print-config=FILE with --host and --cafile: exit 0"
is "$(stat -c %a "$XT_DIR/migrated.conf")" 600 "--print-config=FILE: mode 0600"
like "$(cat "$XT_DIR/migrated.conf")" "password = alice-pw" "--print-config=FILE: with the password"
like "$(cat "$XT_DIR/migrated.conf")" "cafile = $XT_CA" "--print-config=FILE: with the options given"
xs --print-config="$XT_DIR/migrated.conf"
ok_rc 3 "--print-config=FILE never replaces a file"
xs --print-config bob@localhost
ok_rc 2 "--print-config followed by a JID: a usage error, no file written"
no_stray() { [ ! -e bob@localhost ] && [ ! -e "$XT_DIR/bob@localhost" ]; }
ok "... and no file named after the JID" no_stray

new_home empty
recv_start bob 1
xs -C "$XT_DIR/migrated.conf" -m "with the printed config" bob@localhost
ok_rc 0 "the written config alone, no other option: exit 0"
is "$ERR" "" "... no notice: an xmpptools config is used"
got "with the printed config" "printed config"

# --- --rcpt-file --------------------------------------------------------------

conf=$(xt_config alice)
printf '# on call\n  bob@%s \n\ncarol@%s\n' "$XT_DOMAIN" "$XT_DOMAIN" >"$XT_DIR/oncall"
recv_start bob 1
recv_start carol 1
run "$XSEND" -C "$conf" --rcpt-file "$XT_DIR/oncall" -m "to the list"
ok_rc 0 "--rcpt-file with two JIDs: exit 0"
xt_bg_wait carol
ok_rc 0 "--rcpt-file: carol got it"
xt_json_load "$OUT"
is "${JSON[body]}" "to the list" "--rcpt-file: carol's body"
got "to the list" "--rcpt-file: bob"

printf 'bob@%s\n# ok so far\nbad@@%s\n' "$XT_DOMAIN" "$XT_DOMAIN" >"$XT_DIR/bad"
recv_start bob 1
run "$XSEND" -C "$conf" --rcpt-file "$XT_DIR/bad" -m "must not arrive" carol@localhost
ok_rc 2 "--rcpt-file with a bad line: exit 2"
like "$ERR" "^xsend: $XT_DIR/bad:3: invalid JID 'bad@@$XT_DOMAIN': .*; nothing sent\$" \
	"... FILE:LINE, the JID and 'nothing sent'"
run "$XSEND" -C "$conf" -m "the marker" bob@localhost
ok_rc 0 "a marker message after it"
got "the marker" "--rcpt-file bad line: the peer's first message is the marker (nothing sent)"
