#!/bin/sh
# SPDX-License-Identifier: MIT
# nagios-notify.sh -- a Nagios or Icinga notification as an XMPP message.
#
#   nagios-notify.sh [-a ACCOUNT] [-C CONFIG] [-r] [-T TYPE] [-H HOST]
#                    [-s SERVICE] [-S STATE] [-o OUTPUT] [-d DATETIME]
#                    [-c COMMENT] [JID...]
#
# Each field comes from its option, else from the environment macro that
# Nagios sets when enable_environment_macros=1 (NAGIOS_NOTIFICATIONTYPE,
# NAGIOS_HOSTNAME, NAGIOS_SERVICEDESC, NAGIOS_SERVICESTATE or
# NAGIOS_HOSTSTATE, NAGIOS_SERVICEOUTPUT or NAGIOS_HOSTOUTPUT,
# NAGIOS_LONGDATETIME, NAGIOS_NOTIFICATIONCOMMENT). Without JID arguments the
# message goes to NAGIOS_CONTACTPAGER (the contact's "pager" address).
# Without -s (and NAGIOS_SERVICEDESC) it is a host notification.
#
# The command definitions for Nagios and Icinga 2 are in
# examples/nagios-xmpp.cfg and examples/icinga2-xmpp.conf. The message reads
#
#   PROBLEM: web1/HTTP is CRITICAL
#   HTTP CRITICAL - Connection refused
#   Thu Dec 3 17:00:00 UTC 2026
#
# xsend reads the config file of the user Nagios runs as (for Debian's
# nagios4: ~nagios/.config/xmpptools/config, mode 0600), or the one of -C;
# -a picks its [ACCOUNT] section. -r sends to rooms instead (joined as
# "nagios"). The message is kept by the server for a contact who is offline.
# -w 25: Nagios kills a notification command after notification_timeout
# (30 s by default); xsend gives up before, and its exit status (see EXIT
# STATUS in xsend(1)) and error line end up in the Nagios log.
set -u

usage() {
	echo 'usage: nagios-notify.sh [-a ACCOUNT] [-C CONFIG] [-r] [-T TYPE] [-H HOST] [-s SERVICE] [-S STATE] [-o OUTPUT] [-d DATETIME] [-c COMMENT] [JID...]' >&2
	exit 2
}

type=${NAGIOS_NOTIFICATIONTYPE:-}
host=${NAGIOS_HOSTNAME:-}
service=${NAGIOS_SERVICEDESC:-}
state=
output=
when=${NAGIOS_LONGDATETIME:-}
comment=${NAGIOS_NOTIFICATIONCOMMENT:-}
room=
account=
config=
while getopts a:C:rT:H:s:S:o:d:c: opt; do
	case $opt in
	a) account=$OPTARG ;;
	C) config=$OPTARG ;;
	r) room=1 ;;
	T) type=$OPTARG ;;
	H) host=$OPTARG ;;
	s) service=$OPTARG ;;
	S) state=$OPTARG ;;
	o) output=$OPTARG ;;
	d) when=$OPTARG ;;
	c) comment=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))

# A service notification has a service; the state and output macros differ.
if [ -n "$service" ]; then
	what="$host/$service"
	: "${state:=${NAGIOS_SERVICESTATE:-}}" "${output:=${NAGIOS_SERVICEOUTPUT:-}}"
else
	what=$host
	: "${state:=${NAGIOS_HOSTSTATE:-}}" "${output:=${NAGIOS_HOSTOUTPUT:-}}"
fi
{ [ -n "$host" ] && [ -n "$state" ]; } || usage
if [ $# -eq 0 ]; then
	[ -n "${NAGIOS_CONTACTPAGER:-}" ] || usage
	set -- "$NAGIOS_CONTACTPAGER"
fi

# xs ARGS...: xsend with the chosen account.
xs() {
	if [ -n "$config" ]; then
		xsend -C "$config" ${account:+-a "$account"} "$@"
	elif [ -n "$account" ]; then
		xsend -a "$account" "$@"
	else
		xsend "$@"
	fi
}

# The text is data: printf '%s', never eval, whatever the plugin printed.
{
	printf '%s: %s is %s\n' "${type:-NOTIFICATION}" "$what" "$state"
	[ -n "$output" ] && printf '%s\n' "$output"
	[ -n "$comment" ] && printf 'Comment: %s\n' "$comment"
	[ -n "$when" ] && printf '%s\n' "$when"
} | if [ -n "$room" ]; then
	xs -w 25 -r -n nagios --nick-retry "$@"
else
	xs -w 25 "$@"
fi
