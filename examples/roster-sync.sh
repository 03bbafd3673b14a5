#!/bin/sh
# SPDX-License-Identifier: MIT
# roster-sync.sh -- keep an account's contact list equal to a file.
#
#   roster-sync.sh [-n] [-a ACCOUNT | -C CONFIG] FILE
#
# FILE is a roster file, such as examples/roster.jsonl (see ROSTER FILES in
# xroster(1); an export of xroster is one). The script
#
#   1. prints the plan: what `xroster sync --prune` would add, update and
#      remove, one record per change (exit status 10 when there is
#      something to do, 0 when there is nothing);
#   2. applies it, unless -n is given;
#   3. approves the pending subscription requests of the contacts - only
#      of those: requests from JIDs that are not in FILE are left alone -
#      and asks every contact whose presence the account does not see yet
#      (and has not asked already) to let it see it.
#
# Exit status: 0 when the roster equals FILE, 10 with -n when it does not,
# otherwise the first failing xroster's (see EXIT STATUS in xroster(1); 8
# when the server refused a change). XROSTER names the xroster to run.
set -u

xroster=${XROSTER:-xroster}
dry=
account=
config=
usage() {
	echo "usage: roster-sync.sh [-n] [-a ACCOUNT | -C CONFIG] FILE" >&2
	exit 2
}
while getopts na:C: opt; do
	case $opt in
	n) dry=1 ;;
	a) account=$OPTARG ;;
	C) config=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
file=$1

# xr ARGS...: xroster with the chosen account.
xr() {
	if [ -n "$config" ]; then
		"$xroster" -C "$config" ${account:+-a "$account"} "$@"
	elif [ -n "$account" ]; then
		"$xroster" -a "$account" "$@"
	else
		"$xroster" "$@"
	fi
}

# 1. The plan. A malformed FILE is refused here (exit 2, with its line
# number), before anything is changed.
plan=$(xr sync --prune --dry-run "$file")
rc=$?
[ -n "$plan" ] && printf '%s\n' "$plan"
case $rc in
0) ;;
10)
	[ -n "$dry" ] && exit 10
	# 2. Apply it. Every change waits for the server's answer; a large
	# roster needs more than the default 30 s.
	xr -w 300 sync --prune "$file" || exit $?
	;;
*) exit $rc ;;
esac
[ -n "$dry" ] && exit 0

# 3. Subscriptions. First the pending requests of the contacts of FILE:
# those in the roster and those just added (ejabberd 23.01 does not list a
# contact that has asked and was added, until the request is answered).
tmp=$(mktemp) || exit 1
trap 'rm -f "$tmp" "$tmp.jids"' EXIT
xr -F '%j' >"$tmp.jids" || exit $?
printf '%s\n' "$plan" | sed -n 's/^add\t\([^\t]*\).*/\1/p' >>"$tmp.jids"
approve=$(xr pending -F '%j' | grep -F -x -f "$tmp.jids")
if [ -n "$approve" ]; then
	# shellcheck disable=SC2086
	xr approve $approve || exit $?
fi

# Then ask every contact whose presence the account does not see yet.
xr -F '%j %S %a' >"$tmp" || exit $?
ask=
while read -r jid sub pending_out; do
	case $sub in
	none | from) [ -z "$pending_out" ] && ask="$ask $jid" ;;
	esac
done <"$tmp"
if [ -n "$ask" ]; then
	# JIDs hold no white space: splitting $ask is safe.
	# shellcheck disable=SC2086
	xr subscribe $ask || exit $?
fi
exit 0
