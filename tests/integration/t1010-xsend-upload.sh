#!/bin/bash
# SPDX-License-Identifier: MIT
# t1010-xsend-upload: xsend --upload (XEP-0363) against the server's upload
# service over https with the test CA: the bytes fetched back from the URL
# the recipient got are the bytes of the file; -m is the caption; one
# message per file; a file over the service's limit (1 MiB) is exit 2
# naming the limit, with nothing uploaded or sent; a server without the
# service is a clear line and exit 8; an http:// slot is refused (exit
# 9) with nothing uploaded or sent; the https server is trusted as the XMPP
# login is (the lazy trust store, not libcurl's bundle).  XMPP_SERVER=prosody
# or ejabberd.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
command -v curl >/dev/null || skip_all "curl is not installed"
plan 39

try=$'\nTry \'xsend --help\' for more information.'

# --- usage (no server needed) -------------------------------------------------

head -c 1000 /dev/urandom >"$XT_DIR/a.bin"
run "$XSEND" --port "$(xt_closed_port)" --upload "$XT_DIR/missing.bin" bob@localhost
ok_rc 2 "--upload of a missing file: exit 2"
is "$ERR" "xsend: --upload $XT_DIR/missing.bin: No such file or directory; nothing sent" "... says why"
run "$XSEND" --port "$(xt_closed_port)" --upload "$XT_DIR" bob@localhost
ok_rc 2 "--upload of a directory: exit 2"
run "$XSEND" --port "$(xt_closed_port)" --upload "$XT_DIR/a.bin" --url https://example.org/ bob@localhost
ok_rc 2 "--upload with --url: exit 2"
is "$ERR" "xsend: --upload sends one message per file; --lines, --null, --raw and --url do not apply$try" "... says why"
run "$XSEND" --port "$(xt_closed_port)" --upload "$XT_DIR/a.bin" --upload "$XT_DIR/a.bin" --id x bob@localhost
ok_rc 2 "--id with two --upload: exit 2"

# --- a server without an upload service ----------------------------------------

xt_server_start
conf=$(xt_config alice)
run "$XSEND" -C "$conf" --upload "$XT_DIR/a.bin" bob@localhost
ok_rc 8 "no upload service: exit 8"
is "$ERR" "xsend: --upload: localhost offers no HTTP upload service (XEP-0363); nothing sent" "... one clear line"
xt_server_stop

# --- the upload service ---------------------------------------------------------

xt_server_start upload
conf=$(xt_config alice)
rm -f "$XT_DIR/bob.ready"
xt_bg bob xt_peer recv --jid bob@localhost --password bob-pw \
	--timeout 600 --ready "$XT_DIR/bob.ready"
xt_wait_file "$XT_DIR/bob.ready" 20 bob || bail_out "bob's peer is not ready"

# got ID: wait until bob's peer printed the message with that id, and
# xt_json_load it (JSON is emptied when it does not come).
got() {
	JSON=()
	if xt_wait_grep "$XT_DIR/bob.out" "\"id\": \"$1\"" 10 bob; then
		xt_json_load "$(grep -E -m 1 -e "\"id\": \"$1\"" "$XT_DIR/bob.out")"
	else
		diag "bob did not get the message $1"
	fi
	return 0
}

# same_bytes URL FILE: the URL fetched with the test CA is FILE.
same_bytes() {
	rm -f "$XT_DIR/fetched"
	curl -sS --max-time 10 --cacert "$XT_CA" -o "$XT_DIR/fetched" "$1" 2>"$XT_DIR/curl.err" &&
		cmp -s "$XT_DIR/fetched" "$2"
}

head -c 300000 /dev/urandom >"$XT_DIR/graph.png"
run "$XSEND" -C "$conf" --upload "$XT_DIR/graph.png" --id up-1 bob@localhost
ok_rc 0 "--upload of random bytes: exit 0"
is "$ERR" "" "... nothing on stderr (not a terminal: no progress)"
got up-1
url1=${JSON[oob_url]:-}
like "$url1" "^https://localhost:$XT_HTTPS_PORT/.*graph\\.png\$" "bob got an https URL in <x xmlns='jabber:x:oob'/>"
is "${JSON[body]:-}" "$url1" "... and the URL is the body"
ok "... the bytes fetched back are the file's" same_bytes "$url1" "$XT_DIR/graph.png"

run "$XSEND" -C "$conf" --upload "$XT_DIR/a.bin" -m 'the nightly graph' --id up-2 bob@localhost
ok_rc 0 "--upload with -m: exit 0"
got up-2
url2=${JSON[oob_url]:-}
like "$url2" '^https://localhost:[0-9]+/.*a\.bin$' "... the URL in the OOB element"
is "${JSON[body]:-}" "the nightly graph
$url2" "... the body is the caption, then the URL on its own line"
ok "... the bytes fetched back are the file's" same_bytes "$url2" "$XT_DIR/a.bin"

# The caption is the OOB element's <desc/> too (seen by xlisten -X, which
# gets the message from offline storage when it goes online).
run "$XSEND" -C "$conf" --upload "$XT_DIR/a.bin" -m 'caption & <desc>' --id up-desc dave@localhost
ok_rc 0 "--upload with -m to dave: exit 0"
xt_bg dave "$XLISTEN" -C "$(xt_config dave)" -X -c 1 -w 20
xt_bg_wait dave
like "$OUT" "<x xmlns=\"jabber:x:oob\"><url>https://localhost:[0-9]+/[^<]*a\\.bin</url><desc>caption &amp; &lt;desc&gt;</desc></x>" \
	"... <x xmlns='jabber:x:oob'> has the URL and the caption as <desc/>"

head -c 2000 /dev/urandom >"$XT_DIR/b.bin"
run "$XSEND" -C "$conf" --upload "$XT_DIR/a.bin" --upload "$XT_DIR/b.bin" bob@localhost
ok_rc 0 "two --upload: exit 0"
ok "... bob got a message for b.bin" xt_wait_grep "$XT_DIR/bob.out" 'b\.bin"' 10 bob
url_b=$(grep -o '"oob_url": "[^"]*b\.bin"' "$XT_DIR/bob.out" | tail -n 1 | sed 's/^"oob_url": "//; s/"$//')
url_a=$(grep -o '"oob_url": "[^"]*a\.bin"' "$XT_DIR/bob.out" | tail -n 1 | sed 's/^"oob_url": "//; s/"$//')
unlike "$url_a" "^$url2\$" "... a new URL for a.bin"
ok "... a.bin fetched back" same_bytes "$url_a" "$XT_DIR/a.bin"
ok "... b.bin fetched back" same_bytes "$url_b" "$XT_DIR/b.bin"

# Over the service's limit: nothing is uploaded, nothing sent.
head -c 1048577 /dev/urandom >"$XT_DIR/big.bin"
run "$XSEND" -C "$conf" --upload "$XT_DIR/big.bin" --id up-big bob@localhost
ok_rc 2 "a file over the limit: exit 2"
is "$ERR" "xsend: --upload $XT_DIR/big.bin: 1048577 bytes is larger than the limit of the upload service upload.localhost (1048576 bytes); nothing uploaded, nothing sent" \
	"... naming the limit"
# A barrier message after it: when bob has it, he would have had the other.
run "$XSEND" -C "$conf" -m 'after big' --id after-big bob@localhost
got after-big
ok "... nothing was sent" sh -c "! grep -q '\"id\": \"up-big\"' '$XT_DIR/bob.out'"

# The file exactly at the limit goes.
head -c 1048576 /dev/urandom >"$XT_DIR/limit.bin"
run "$XSEND" -C "$conf" --upload "$XT_DIR/limit.bin" --id up-limit bob@localhost
ok_rc 0 "a file of exactly the limit: exit 0"
got up-limit
ok "... fetched back" same_bytes "${JSON[oob_url]:-none}" "$XT_DIR/limit.bin"

# The trust settings of the account hold for the https server too: a pin
# (the fingerprint of the server's certificate) is checked on top of the
# CA; without the CA the upload is refused (exit 5), never unverified.
conf_pin=$(xt_config carol "tls-pin = $XT_LEAF_SHA256")
run "$XSEND" -C "$conf_pin" --upload "$XT_DIR/a.bin" --id up-pin bob@localhost
ok_rc 0 "--tls-pin (fingerprint) and the CA: exit 0"
got up-pin
ok "... fetched back" same_bytes "${JSON[oob_url]:-none}" "$XT_DIR/a.bin"
sed -i '/^cafile/d' "$conf_pin"
run "$XSEND" -C "$conf_pin" --upload "$XT_DIR/a.bin" --id up-noca bob@localhost
ok_rc 5 "--tls-pin without the CA: the XMPP login passes, the upload is refused: exit 5"
like "$ERR" "^xsend: --upload $XT_DIR/a\\.bin: https://localhost:[0-9]+/.*: upload failed: .*; nothing sent\$" "... one line saying so"

# The https server is verified with the trust store of the XMPP login, not
# libcurl's built-in bundle: without --cafile, the test CA in a hashed
# directory of SSL_CERT_DIR (the lazy trust store: SSL_CERT_FILE unset)
# verifies both; without it there, neither.
hashed=$XT_DIR/hashed
if ! mkdir -p "$hashed" || ! cp "$XT_CA" "$hashed/test-ca.pem" || ! openssl rehash "$hashed"; then
	bail_out "cannot make a hashed CA directory"
fi
conf_noca=$XT_DIR/alice-noca.conf
grep -v '^cafile' "$conf" >"$conf_noca"
chmod 600 "$conf_noca"
run env -u SSL_CERT_FILE SSL_CERT_DIR="$hashed" "$XSEND" -C "$conf_noca" --upload "$XT_DIR/a.bin" \
	--id up-lazy bob@localhost
ok_rc 0 "no --cafile, the CA in SSL_CERT_DIR: the upload is verified as the login: exit 0"
got up-lazy
ok "... fetched back" same_bytes "${JSON[oob_url]:-none}" "$XT_DIR/a.bin"
def_dir=$(openssl version -d | sed 's/^OPENSSLDIR: "\(.*\)"$/\1/')/certs
if compgen -G "$def_dir/[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f].[0-9]*" >/dev/null; then
	run env -u SSL_CERT_FILE SSL_CERT_DIR="$hashed" "$XSEND" -C "$conf_noca" -v \
		--upload "$XT_DIR/a.bin" --id up-lazy-v bob@localhost
	like "$ERR" "trust store: CAs looked up by name in $hashed" \
		"... (-v: the lazy trust store of the login, which the upload shares)"
else
	skip "$def_dir is not hashed: no lazy trust store here"
fi

# A service that hands out http:// slots: refused, nothing uploaded or sent.
xt_server_stop
xt_server_start upload-http
conf=$(xt_config alice)
run "$XSEND" -C "$conf" --upload "$XT_DIR/a.bin" bob@localhost
ok_rc 9 "an http:// slot: exit 9"
like "$ERR" "^xsend: --upload $XT_DIR/a\\.bin: the slot's URL http://localhost:[0-9]+/[^ ]* is not https; nothing uploaded, nothing sent\$" "... one line saying so"
# (Prosody keeps files in DATA/upload%2elocalhost/http_file_share/,
# ejabberd in the docroot SERVER_DIR/upload/.)
run find "$XT_SERVER_DIR" -type f "(" -path '*/http_file_share/*' -o -path "$XT_SERVER_DIR/upload/*" ")"
is "$OUT" "" "... and the server stored no file"
