#!/bin/bash
# SPDX-License-Identifier: MIT
# t0005-deb: the Debian package builds from the committed tree and installs
# what it should (TAP; no server).
#
# Runs scripts/deb-smoke.sh, which exports HEAD, builds the .deb with
# dpkg-buildpackage -us -uc -b (the unit tests included), runs lintian,
# unpacks the package into a scratch root and runs the unpacked tools; each
# of its "ok:" or "FAIL:" lines is one test point here.  Then the unpacked
# tools run against the test server: xsend sends, the slixmpp peer gets it;
# xroster and xpresence log in.  One package build: about 40 s on two idle
# cores.  Skips without dpkg-buildpackage, debhelper or a git checkout, or
# when the build dependencies are missing.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need git dpkg-buildpackage dpkg-deb dh server openssl slixmpp
git -C "$top_srcdir" rev-parse --verify -q HEAD >/dev/null 2>&1 ||
	skip_all "$top_srcdir is not a git checkout"
missing=$(cd "$top_srcdir" && dpkg-checkbuilddeps 2>&1) ||
	skip_all "build dependencies missing: ${missing##*:}"

TMPDIR=$XT_DIR "$top_srcdir/scripts/deb-smoke.sh" -o "$XT_DIR/deb" >"$XT_DIR/smoke.out" 2>"$XT_DIR/smoke.err"
rc=$?
while IFS= read -r line; do
	case $line in
	"ok: "*) pass "${line#ok: }" ;;
	"FAIL: "*) fail "${line#FAIL: }" ;;
	esac
done <"$XT_DIR/smoke.out"
last=$(tail -n 1 "$XT_DIR/smoke.out")
like "$last" '^[0-9]+ passed, 0 failed$' "deb-smoke.sh: $last"
is "$rc" 0 "deb-smoke.sh exits 0"
if [ "$rc" != 0 ]; then
	diag "$(tail -n 40 "$XT_DIR/smoke.err")"
fi

# --- the installed tools at work ------------------------------------------------

deb=$(find "$XT_DIR/deb" -name 'xmpptools_*.deb' 2>/dev/null | head -n 1)
ok "the .deb was kept" test -n "$deb"
root=$XT_DIR/root
ok "dpkg -x unpacks it" dpkg -x "${deb:-/nonexistent}" "$root"
xt_server_start
conf=$(xt_config alice)
rm -f "$XT_DIR/bob.ready"
xt_bg bob xt_peer recv --jid bob@localhost --password bob-pw --count 1 --timeout 20 \
	--ready "$XT_DIR/bob.ready"
xt_wait_file "$XT_DIR/bob.ready" 20 bob || bail_out "bob's peer is not ready"
run "$root/usr/bin/xsend" -C "$conf" -m "from the package" bob@localhost
ok_rc 0 "the packaged xsend sends: exit 0"
xt_bg_wait bob
ok_rc 0 "bob's peer got a message"
like "$(cat "$XT_DIR/bob.out")" '"body": "from the package"' "... the packaged xsend's"
run "$root/usr/bin/xroster" -C "$conf" list
ok_rc 0 "the packaged xroster logs in: exit 0"
run "$root/usr/bin/xpresence" -C "$conf" get bob@localhost
ok_rc 10 "the packaged xpresence logs in (bob offline: 10)"
run "$root/usr/bin/xlisten" -C "$conf" -c 1 -w 2
ok_rc 7 "the packaged xlisten logs in and waits (nothing comes: 7 at -w)"
done_testing
