#!/bin/bash
# demo.sh -- xmpptools in a minute: it builds the tools, starts a throwaway
# Prosody on 127.0.0.1 (its own CA, accounts alice and bob, everything in a
# temporary directory), starts a listener for bob, and sends bob a chat
# message and a cron-style headline with xsend.  Then it shows what bob
# received and what a refused message looks like, and stops the server.
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

# bob listens with an independent client (slixmpp) that prints what arrives.
xt_bg bob xt_peer recv --jid bob@localhost --password bob-pw --count 2 \
	--timeout 20 --ready "$XT_DIR/bob.ready"
xt_wait_file "$XT_DIR/bob.ready" 20 bob || bail_out "bob's listener did not start"
say "bob is online and listening."

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
printf '\n%sWhat bob received:%s\n' "$bold" "$plain"
printf '%s\n' "$OUT" | "$XT_PYTHON" -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    print("  [%s] from %s%s" % (m["type"], m["from"],
          ", subject: %r" % m["subject"] if m["subject"] else ""))
    for body_line in (m["body"] or "").splitlines():
        print("    " + body_line)
'
say ""
say "Done; the server is stopped and $XT_DIR removed."
