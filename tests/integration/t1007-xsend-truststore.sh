#!/bin/bash
# SPDX-License-Identifier: MIT
# t1007-xsend-truststore: the lazy trust store. Without SSL_CERT_FILE, where
# OpenSSL's default directory is hashed, the tools verify the server against
# the hashed directories (SSL_CERT_DIR, and the default one) and never read
# the default bundle; a bundle the user names in SSL_CERT_FILE is read as
# before; an untrusted server is refused (5) either way; --cafile and
# --capath still add to the trust; and the commands the tools run
# (--password-cmd, xlisten --exec) see the user's SSL_CERT_FILE, not the
# one the tool set for itself.
# shellcheck disable=SC2016 # '${SSL_CERT_FILE-unset}': for the child's shell
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
plan 37

# The user's environment of these tests: neither variable set.
unset SSL_CERT_FILE SSL_CERT_DIR

xt_server_start
xt_config alice >/dev/null
xt_config bob >/dev/null
# no cafile: the trust store alone decides
for u in alice bob; do
	grep -v '^cafile' "$XT_DIR/$u.conf" >"$XT_DIR/$u-nocafile.conf"
	chmod 600 "$XT_DIR/$u-nocafile.conf"
done
aconf=$XT_DIR/alice-nocafile.conf
# bob without a password either: it comes from --password-cmd
grep -v '^password' "$XT_DIR/bob-nocafile.conf" >"$XT_DIR/bob-nopw.conf"
chmod 600 "$XT_DIR/bob-nopw.conf"

# OpenSSL's default bundle and directory (Debian: /usr/lib/ssl/cert.pem,
# a link to /etc/ssl/certs/ca-certificates.crt, and /usr/lib/ssl/certs).
ossl_dir=$(openssl version -d | sed 's/^OPENSSLDIR: "\(.*\)"$/\1/')
def_file=$ossl_dir/cert.pem
def_real=$(readlink -f "$def_file")
def_dir=$ossl_dir/certs
hashed_names=("$def_dir"/[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f].[0-9]*)
if [ ! -e "${hashed_names[0]}" ] && [ ! -L "${hashed_names[0]}" ]; then
	skip_all "$def_dir is not a hashed directory: the bundle is always read here"
fi

# The test CA hashed (as c_rehash names it), the same CA under a plain name
# only, another CA hashed, and bundles of each.
hashed=$XT_DIR/hashed plain=$XT_DIR/plain other=$XT_DIR/other
mkdir -p "$hashed" "$plain" "$other"
cp "$XT_CA" "$hashed/test-ca.pem"
cp "$XT_CA" "$plain/test-ca.pem"
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$other/other-ca.key" -out "$other/other-ca.pem" -days 3650 \
	-subj '/CN=another test CA' 2>/dev/null ||
	bail_out "cannot make another CA"
rm -f "$other/other-ca.key"
openssl rehash "$hashed" "$other" || bail_out "openssl rehash failed"
ca_hash=$(openssl x509 -hash -noout -in "$XT_CA")
bundle=$XT_DIR/bundle.pem
other_bundle=$XT_DIR/other-bundle.pem
cp "$XT_CA" "$bundle"
cp "$other/other-ca.pem" "$other_bundle"

n=0
# send [VAR=VALUE...] -- [XSEND OPTIONS...]: alice sends bob one message
# with that environment; -v shows the trust store line.
send() {
	local envs=()
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	n=$((n + 1))
	run env "${envs[@]}" "$XSEND" -C "$aconf" -v "$@" -m "truststore $n" bob@localhost
}

# traced NAME [VAR=VALUE...] -- [XSEND OPTIONS...]: send under strace; the
# file system calls go to $XT_DIR/NAME.strace. (LeakSanitizer cannot run
# under ptrace: an ASan build leaves the leak check to the other runs.)
have_strace=1
command -v strace >/dev/null 2>&1 || have_strace=''
traced() {
	local name=$1 envs=()
	shift
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	n=$((n + 1))
	run strace -f -qq -o "$XT_DIR/$name.strace" -e trace=%file \
		env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		"${envs[@]}" "$XSEND" -C "$aconf" -v "$@" -m "truststore $n" bob@localhost
}

# opened NAME PATH: the traced run opened PATH (successfully).
opened() {
	grep -E 'open(at|at2)?\(' "$XT_DIR/$1.strace" | grep -F "\"$2\"" | grep -qv '= -1 '
}

# --- the lazy path: a hashed directory, no bundle -----------------------------

send SSL_CERT_DIR="$hashed" --
ok_rc 0 "SSL_CERT_DIR = hashed directory with the test CA, no cafile: exit 0"
like "$ERR" "trust store: CAs looked up by name in $hashed:$def_dir \\(the bundle $def_file is not read\\)" \
	"-v says the bundle is not read and which directories are searched"

if [ -n "$have_strace" ]; then
	traced lazy SSL_CERT_DIR="$hashed" --
	ok_rc 0 "the same under strace: exit 0"
	if opened lazy "$def_file" || opened lazy "$def_real"; then
		fail "the default bundle is not opened" "$(grep -F -e "$def_file" -e "$def_real" "$XT_DIR/lazy.strace")"
	else
		pass "the default bundle is not opened"
	fi
	ok "the test CA was found by its hashed name" opened lazy "$hashed/$ca_hash.0"
else
	skip "strace is not installed" 3
fi

# Nothing set at all: the system store, lazily; the test CA is not in it.
send --
ok_rc 5 "no SSL_CERT_DIR, no cafile: the test CA is not trusted: exit 5"
like "$ERR" "trust store: CAs looked up by name in $def_dir \\(the bundle" \
	"-v: the default directory alone"
like "$ERR" "TLS certificate for localhost not trusted" "says the certificate is not trusted"

# --- the bundle the user names is read, as before -----------------------------

send SSL_CERT_DIR="$plain" SSL_CERT_FILE="$bundle" --
ok_rc 0 "SSL_CERT_FILE = bundle with the test CA, plain directory: exit 0"
unlike "$ERR" "trust store" "SSL_CERT_FILE set: no lazy trust store"
if [ -n "$have_strace" ]; then
	traced userbundle SSL_CERT_DIR="$plain" SSL_CERT_FILE="$bundle" --
	ok_rc 0 "the same under strace: exit 0"
	ok "the user's bundle is opened (the check above can see a bundle)" opened userbundle "$bundle"
else
	skip "strace is not installed" 2
fi

# --- untrusted servers: refused on both layouts --------------------------------

send SSL_CERT_DIR="$other" --
ok_rc 5 "hashed directory without the test CA: exit 5"
like "$ERR" "not trusted" "hashed directory without the test CA: says why"
send SSL_CERT_DIR="$plain" SSL_CERT_FILE="$other_bundle" --
ok_rc 5 "bundle without the test CA: exit 5"
like "$ERR" "not trusted" "bundle without the test CA: says why"
send SSL_CERT_DIR="$plain" --
ok_rc 5 "the test CA under a plain name only (no hash, no bundle): exit 5"

# SSL_CERT_DIR replaces the default directory in OpenSSL's lookup but not
# the default bundle: the system CAs stay trusted because the default
# directory is searched as well.
if [ -n "$have_strace" ]; then
	traced untrusted SSL_CERT_DIR="$other" --
	ok_rc 5 "the same under strace: exit 5"
	ok "the issuer is looked up in SSL_CERT_DIR" \
		grep -qF "\"$other/$ca_hash.0\"" "$XT_DIR/untrusted.strace"
	ok "and in the default directory (in place of the bundle)" \
		grep -qF "\"$def_dir/$ca_hash.0\"" "$XT_DIR/untrusted.strace"
else
	skip "strace is not installed" 3
fi

# --- proof by substitution: the default bundle made to trust the test CA ----
# In a private mount namespace the system bundle is replaced by one that
# holds the test CA: a tool that reads it would trust the server.

if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
	cat >"$XT_DIR/swap.sh" <<'SH'
#!/bin/sh
# swap.sh BUNDLE TARGET CMD...: CMD with BUNDLE mounted over TARGET
b=$1 t=$2
shift 2
mount --bind "$b" "$t" || exit 99
exec "$@"
SH
	n=$((n + 1))
	run unshare -m sh "$XT_DIR/swap.sh" "$bundle" "$def_real" \
		env SSL_CERT_FILE="$def_file" "$XSEND" -C "$aconf" -m "truststore $n" bob@localhost
	ok_rc 0 "control: the swapped default bundle, named in SSL_CERT_FILE, is read: exit 0"
	n=$((n + 1))
	run unshare -m sh "$XT_DIR/swap.sh" "$bundle" "$def_real" \
		"$XSEND" -C "$aconf" -m "truststore $n" bob@localhost
	ok_rc 5 "the swapped default bundle is not read when SSL_CERT_FILE is unset: exit 5"
else
	skip "not root, or no mount namespace" 2
fi

# --- --cafile, --capath still add to the trust ---------------------------------

send -- --cafile "$XT_CA"
ok_rc 0 "--cafile with the lazy store: exit 0"
send -- --capath "$hashed"
ok_rc 0 "--capath (hashed) with the lazy store: exit 0"
send SSL_CERT_DIR="$other" -- --capath "$hashed"
ok_rc 0 "--capath next to an SSL_CERT_DIR that lacks the CA: exit 0"
send -- --capath "$other"
ok_rc 5 "--capath without the CA: exit 5"
send SSL_CERT_FILE="$other_bundle" -- --cafile "$XT_CA"
ok_rc 0 "--cafile next to a user's bundle without the CA: exit 0"

# --tls-pin decides by itself.
send SSL_CERT_DIR="$other" -- --tls-pin "$XT_LEAF_SHA256"
ok_rc 0 "--tls-pin with an untrusted CA: the pin decides: exit 0"

# --- the commands the tools run see the user's environment ---------------------

# child_env NAME [VAR=VALUE...]: bob, offline, gets a message; xlisten
# takes it (-c 1) with a --password-cmd and an --exec command that both
# write the SSL_CERT_FILE they see (or "unset") to $XT_DIR/NAME.{pw,exec}.
child_env() {
	local name=$1
	shift
	run "$XSEND" -C "$XT_DIR/alice.conf" -m "for $name" bob@localhost
	[ "$RC" = 0 ] || diag "could not send to bob: $ERR"
	run env "$@" "$XLISTEN" -C "$XT_DIR/bob-nopw.conf" -v -c 1 -w 20 \
		--password-cmd "printf '%s\\n' \"\${SSL_CERT_FILE-unset}\" >$XT_DIR/$name.pw; echo bob-pw" \
		--exec "/bin/sh -c 'printf %s \"\${SSL_CERT_FILE-unset}\" >$XT_DIR/$name.exec'"
}

child_env lazy SSL_CERT_DIR="$hashed"
ok_rc 0 "xlisten, lazy store: got the message, ran the command: exit 0"
like "$ERR" "trust store: CAs looked up by name" "xlisten took the lazy path"
is "$(cat "$XT_DIR/lazy.exec" 2>&1)" unset "the --exec command does not see SSL_CERT_FILE"
is "$(cat "$XT_DIR/lazy.pw" 2>&1)" unset "the --password-cmd command does not see SSL_CERT_FILE"

child_env user SSL_CERT_DIR="$plain" SSL_CERT_FILE="$bundle"
ok_rc 0 "xlisten, the user's SSL_CERT_FILE: exit 0"
is "$(cat "$XT_DIR/user.exec" 2>&1)" "$bundle" "the --exec command sees the user's SSL_CERT_FILE"
is "$(cat "$XT_DIR/user.pw" 2>&1)" "$bundle" "the --password-cmd command sees the user's SSL_CERT_FILE"

# xsend's --password-cmd too
run env SSL_CERT_DIR="$hashed" "$XSEND" -C "$XT_DIR/bob-nopw.conf" \
	--password-cmd "printf '%s\\n' \"\${SSL_CERT_FILE-unset}\" >$XT_DIR/xsend.pw; echo bob-pw" \
	-m "pw" alice@localhost
ok_rc 0 "xsend --password-cmd, lazy store: exit 0"
is "$(cat "$XT_DIR/xsend.pw" 2>&1)" unset "xsend's --password-cmd does not see SSL_CERT_FILE"
