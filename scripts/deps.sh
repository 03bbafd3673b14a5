#!/bin/sh
# SPDX-License-Identifier: MIT
# deps.sh -- make sure the Debian packages xmpptools needs are installed.
#
# Usage: scripts/deps.sh build|test|demo
#   build  the compiler, autotools and the libraries
#   test   build + what the test suite runs (prosody, ejabberd,
#          python3-slixmpp, python3-omemo, ...)
#   demo   build + prosody + python3-slixmpp
# As root it installs what is missing with apt-get; otherwise it names the
# missing packages and the command to install them, and exits 1.
set -eu

build_pkgs="gcc make autoconf automake autoconf-archive pkg-config
libstrophe-dev libpopt-dev libexpat1-dev libssl-dev libjansson-dev
libcmocka-dev libcurl4-openssl-dev libomemo-c-dev"
server_pkgs="prosody lua-unbound python3-slixmpp openssl iproute2 procps"
test_pkgs="python3-omemo python3-oldmemo python3-twomemo python3-xmlschema mandoc valgrind clang zsh fish unicode-data ejabberd erlang-luerl strace git debhelper dpkg-dev lintian fakeroot"

case "${1:-}" in
build) want=$build_pkgs ;;
demo) want="$build_pkgs $server_pkgs" ;;
test) want="$build_pkgs $server_pkgs $test_pkgs" ;;
*)
	echo "usage: $0 build|test|demo" >&2
	exit 2
	;;
esac

missing=
for p in $want; do
	if ! dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null |
		grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "missing Debian packages:$missing" >&2
	echo "install them as root: apt-get install$missing" >&2
	exit 1
fi

echo "installing:$missing" >&2
# Keep package scripts from starting system services (prosody) here.
made_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	made_policy=1
fi
export DEBIAN_FRONTEND=noninteractive
status=0
# shellcheck disable=SC2086 # a list of package names
{ apt-get update -q && apt-get install -y -q --no-install-recommends $missing; } >&2 || status=$?
[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
exit $status
