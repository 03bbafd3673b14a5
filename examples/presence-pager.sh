#!/bin/sh
# SPDX-License-Identifier: MIT
# presence-pager.sh -- page the first of an on-call list who is available.
#
#   presence-pager.sh [-a ACCOUNT] [-C CONFIG] JID... < MESSAGE
#
# For example, from an alerting hook:
#
#   echo "db1 is down" | presence-pager.sh alice@example.org bob@example.org
#
# One xpresence get asks the server who of the JIDs is online (the account
# needs a presence subscription to each: xroster subscribe JID, approved by
# them; see examples/roster-sync.sh).  The message goes to the first JID, in
# the order given, that is online and neither away, extended away (xa) nor
# busy (dnd); else to the first that is online at all; else, when nobody is
# online, or when their presence cannot be known (xpresence failed), to
# every JID: the servers keep it until each logs in, and the first one to
# read it acts.
#
# It prints the JIDs it paged, one per line.  The exit status is xsend's
# (see EXIT STATUS in xsend(1)); 2 for a usage error.
set -u

usage() {
	echo 'usage: presence-pager.sh [-a ACCOUNT] [-C CONFIG] JID... < MESSAGE' >&2
	exit 2
}
account=
config=
while getopts a:C: opt; do
	case $opt in
	a) account=$OPTARG ;;
	C) config=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || usage

# x TOOL ARGS...: TOOL with the chosen account.
x() {
	tool=$1
	shift
	if [ -n "$config" ]; then
		"$tool" -C "$config" ${account:+-a "$account"} "$@"
	elif [ -n "$account" ]; then
		"$tool" -a "$account" "$@"
	else
		"$tool" "$@"
	fi
}

# The message is read once: it may be sent to everybody.
msg=$(cat)
[ -n "$msg" ] || {
	echo 'presence-pager.sh: no message on standard input' >&2
	exit 2
}

# One record per resource online: "JID/RESOURCE SHOW" (an offline contact:
# "JID unavailable"). Exit status 10 only says that someone is offline.
states=$(x xpresence -q -F '%f %S' get "$@")
rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 10 ] || states=

# pick SHOW...: print the first JID of the list that has a resource whose
# show is one of SHOW; fails when none has. JIDs are compared in lower case.
pick() {
	printf '%s\n' "$states" | awk -v list="$list" -v shows=" $* " '
		index(shows, " " $2 " ") { split(tolower($1), j, "/"); ok[j[1]] = 1 }
		END {
			n = split(list, l, " ")
			for (i = 1; i <= n; i++)
				if (tolower(l[i]) in ok) { print l[i]; exit 0 }
			exit 1
		}'
}
list=$*
if who=$(pick available chat) || who=$(pick away xa dnd); then
	set -- "$who"
fi

printf '%s\n' "$msg" | x xsend -w 60 "$@" || exit
printf '%s\n' "$@"
