#!/bin/bash
# SPDX-License-Identifier: MIT
# t0005-deb: the Debian package builds from the committed tree and installs
# what it should (TAP; no server).
#
# Runs scripts/deb-smoke.sh, which exports HEAD, builds the .deb with
# dpkg-buildpackage -us -uc -b (the unit tests included), runs lintian,
# unpacks the package into a scratch root and runs the unpacked tools; each
# of its "ok:" or "FAIL:" lines is one test point here.  One package build:
# about 40 s on two idle cores.  Skips without dpkg-buildpackage, debhelper
# or a git checkout, or when the build dependencies are missing.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need git dpkg-buildpackage dpkg-deb dh
git -C "$top_srcdir" rev-parse --verify -q HEAD >/dev/null 2>&1 ||
	skip_all "$top_srcdir is not a git checkout"
missing=$(cd "$top_srcdir" && dpkg-checkbuilddeps 2>&1) ||
	skip_all "build dependencies missing: ${missing##*:}"

TMPDIR=$XT_DIR "$top_srcdir/scripts/deb-smoke.sh" >"$XT_DIR/smoke.out" 2>"$XT_DIR/smoke.err"
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
done_testing
