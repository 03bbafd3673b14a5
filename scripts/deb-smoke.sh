#!/bin/bash
# SPDX-License-Identifier: MIT
# deb-smoke.sh -- build the Debian package from the committed tree and check
# what it installs.
#
# Usage: scripts/deb-smoke.sh [-o DIR]
#   -o DIR  keep the built .deb (and the build log) in DIR
#
# It exports HEAD (git archive, so the work tree stays as it is and only
# committed files count) into a temporary directory, runs
# `dpkg-buildpackage -us -uc -b` there (unit tests only, see debian/rules),
# runs lintian on the result when it is installed (no errors allowed),
# unpacks the .deb into a scratch root with dpkg -x, checks the file list
# (the four tools in usr/bin, their manual pages, xmpptools.conf(5),
# xmpptools(7), the bash, zsh and fish completions, the copyright file) and
# runs each unpacked tool with --version and --help.  One line per check,
# "ok: WHAT" or "FAIL: WHAT", then "N passed, N failed"; exit 0 when none
# failed.  Environment: JOBS (parallel build jobs, default 2), DEB_SMOKE_KEEP
# (keep the temporary directory).
# shellcheck disable=SC2317 # functions run through check and the trap
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
out=
while getopts o: opt; do
	case $opt in
	o) out=$OPTARG ;;
	*)
		echo "usage: $0 [-o DIR]" >&2
		exit 2
		;;
	esac
done

for p in git dpkg-buildpackage dpkg-deb dh; do
	command -v "$p" >/dev/null 2>&1 || {
		echo "deb-smoke.sh: $p is missing (apt-get install git dpkg-dev debhelper)" >&2
		exit 2
	}
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/deb-smoke.XXXXXX") || exit 2
cleanup() {
	if [ -n "${DEB_SMOKE_KEEP:-}" ]; then
		echo "deb-smoke.sh: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT

pass=0 fail=0
check() { # check WHAT CMD [ARGS...]
	local what=$1
	shift
	if "$@"; then
		echo "ok: $what"
		pass=$((pass + 1))
	else
		echo "FAIL: $what"
		fail=$((fail + 1))
	fi
}
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
	exit
}

# --- build -------------------------------------------------------------------
src=$tmp/xmpptools
mkdir -p "$src" "$tmp/root"
git -C "$top" archive --format=tar HEAD | tar -x -C "$src" || {
	check "git archive HEAD" false
	finish
}
log=$tmp/build.log
build() {
	# Not the make (make check) that may have started us: its jobserver
	# and variables stay out of the package build.
	(cd "$src" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
		-u top_srcdir -u top_builddir DEB_BUILD_OPTIONS="parallel=${JOBS:-2}" \
		dpkg-buildpackage -us -uc -b) >"$log" 2>&1
}
check "dpkg-buildpackage -us -uc -b" build || true
debs=("$tmp"/xmpptools_*.deb)
deb=${debs[0]}
if [ ! -f "$deb" ]; then
	tail -n 40 "$log" | sed 's/^/  /' >&2
	check "a xmpptools_*.deb was built" false
	finish
fi
check "one xmpptools_*.deb: ${deb##*/}" test "${#debs[@]}" = 1
if [ -n "$out" ]; then
	mkdir -p "$out" && cp "$deb" "$log" "$out/"
fi

if command -v lintian >/dev/null 2>&1; then
		lintian_errors() {
		local res
		res=$(lintian "$tmp"/xmpptools_*.changes 2>&1)
		printf '%s\n' "$res" | sed -n 's/^\([EW]\): /  \1: /p' >&2
		! printf '%s\n' "$res" | grep -q '^E: '
	}
	check "lintian: no errors" lintian_errors
fi

version=$(dpkg-deb -f "$deb" Version)
check "package version $version is configure.ac's" \
	grep -q "^AC_INIT(\[xmpptools\], \[$version\]" "$src/configure.ac"
depends_on() { dpkg-deb -f "$deb" Depends | grep -q "$1"; }
check "Depends names libstrophe" depends_on libstrophe

# --- the file list --------------------------------------------------------------
root=$tmp/root
dpkg -x "$deb" "$root" || {
	check "dpkg -x" false
	finish
}
tools="xsend xlisten xroster xpresence"
for t in $tools; do
	check "usr/bin/$t" test -x "$root/usr/bin/$t" -a -f "$root/usr/bin/$t"
	check "man1/$t.1" test -f "$root/usr/share/man/man1/$t.1.gz"
	check "fish completion $t.fish" \
		test -f "$root/usr/share/fish/vendor_completions.d/$t.fish"
	check "bash completion $t -> xmpptools" \
		test "$(readlink "$root/usr/share/bash-completion/completions/$t")" = xmpptools
done
check "man5/xmpptools.conf.5" test -f "$root/usr/share/man/man5/xmpptools.conf.5.gz"
check "man7/xmpptools.7" test -f "$root/usr/share/man/man7/xmpptools.7.gz"
check "bash completion xmpptools" \
	test -f "$root/usr/share/bash-completion/completions/xmpptools"
check "zsh completion _xmpptools" \
	test -f "$root/usr/share/zsh/vendor-completions/_xmpptools"
check "doc/xmpptools/copyright is MIT" \
	grep -q '^License: MIT' "$root/usr/share/doc/xmpptools/copyright"
check "doc/xmpptools/README.md" \
	test -n "$(find "$root/usr/share/doc/xmpptools" -name 'README.md*')"
check "doc/xmpptools/examples" test -d "$root/usr/share/doc/xmpptools/examples"
# Nothing else: every path is under one of the directories above.
stray=$(cd "$root" && find . ! -type d | sed 's|^\./||' | grep -v -E \
	'^usr/(bin/x(send|listen|roster|presence)|share/(man/man[157]|doc/xmpptools|bash-completion/completions|zsh/vendor-completions|fish/vendor_completions\.d|lintian/overrides)/)')
[ -n "$stray" ] && printf '  unexpected: %s\n' "$stray" >&2
check "no other file" test -z "$stray"

# --- the unpacked tools run ---------------------------------------------------------
# says ERE CMD [ARGS...]: CMD exits 0 and its output (stdout and stderr)
# matches ERE.
says() {
	local ere=$1 text
	shift
	text=$("$@" 2>&1) && grep -q -i -E "$ere" <<<"$text"
}
for t in $tools; do
	check "$t --version: exit 0, says $version" \
		says "${version//./\\.}" "$root/usr/bin/$t" --version
	check "$t --help: exit 0, a usage" says usage "$root/usr/bin/$t" --help
done
finish
