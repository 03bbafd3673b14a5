#!/bin/bash
# SPDX-License-Identifier: MIT
# demo.sh -- xmpptools in a minute: it builds the tools, starts a throwaway
# Prosody on 127.0.0.1 (its own CA, accounts alice and bob, everything in a
# temporary directory), starts xlisten for bob, and sends bob a chat
# message and a cron-style headline with xsend.  Then it shows what xlisten
# printed and what a refused message looks like, and stops the server.
#
# Run it as root on a fresh Debian 12 machine: it installs what it needs.
set -eu

top=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-$top/build}

"$top/scripts/deps.sh" demo
if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ] ||
	[ "$top/Makefile.am" -nt "$top/Makefile.in" ]; then
	(cd "$top" && ./bootstrap) >/dev/null 2>&1
fi
mkdir -p "$build"
(
	cd "$build"
	[ -f Makefile ] || "$top/configure" -q
	make -s -j"$(nproc)" >/dev/null
)

# The test library starts and stops the server; this script is not a test.
top_srcdir=$top top_builddir=$build
# shellcheck source=tests/integration/lib.sh
. "$top/tests/integration/lib.sh"
_xt_done=1

bold='' plain=''
if [ -t 1 ]; then
	bold=$(tput bold 2>/dev/null || true)
	plain=$(tput sgr0 2>/dev/null || true)
fi
say() { printf '%s\n' "$*"; }
show() {
	printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"
}

xt_server_start
say "Prosody is running on 127.0.0.1:$XT_PORT, with a throwaway CA in $XT_DIR."
conf=$(xt_config alice)
say "alice's config file, $conf:"
sed 's/^password = .*/password = (hidden; the file is mode 0600)/; /^#/d; s/^/    /' "$conf"

# bob listens with xlisten: two records, then it exits by itself.
bob=$(xt_config bob)
xt_bg bob "$XLISTEN" -C "$bob" -c 2 -w 30
say "bob is listening: xlisten -C bob.conf -c 2"
# xlisten is ready once its initial presence is in; ask the server.
for ((i = 0; i < 300; i++)); do
	grep -q 'Received\[c2s\]: <presence' "$XT_SERVER_LOG" 2>/dev/null && break
	_xt_nap
done

show "xsend -C alice.conf -m 'The backup finished.' bob@localhost"
"$XSEND" -C "$conf" -m 'The backup finished.' bob@localhost && rc=0 || rc=$?
say "exit status $rc: the server has the message (an XEP-0199 ping came back after it)"

show "df -h / | xsend -C alice.conf -t headline -s \"disk on \$(hostname)\" bob@localhost"
df -h / | "$XSEND" -C "$conf" -t headline -s "disk on $(hostname)" bob@localhost && rc=0 || rc=$?
say "exit status $rc"

show "xsend -C alice.conf -m 'hello?' nobody@localhost"
"$XSEND" -C "$conf" -m 'hello?' nobody@localhost && rc=0 || rc=$?
say "exit status $rc: the server refused it (8 = rejected)"

xt_bg_wait bob
printf '\n%sWhat xlisten printed for bob (TIME, TYPE, FROM, BODY[, SUBJECT]):%s\n' "$bold" "$plain"
printf '%s\n' "$OUT"
say "(exit status $RC; newlines inside a body are written \\n, so one record is one line)"
say ""
say "Done; the server is stopped and $XT_DIR removed."
