#!/bin/sh
# SPDX-License-Identifier: MIT
# cron-headline.sh -- send a command's output as a headline message.
#
#   cron-headline.sh JID COMMAND [ARG...]
#
# For example, in a crontab, the mail queue and the disks every morning:
#
#   0 8 * * * /usr/local/bin/cron-headline.sh ops@example.org mailq
#   5 8 * * * /usr/local/bin/cron-headline.sh ops@example.org df -h -x tmpfs
#
# COMMAND runs without a shell (its words are the arguments); its standard
# output and standard error, at most CRON_HEADLINE_LINES lines (default 40),
# become the body, with "HOST: COMMAND" as the subject and, when it failed,
# a last line with its exit status.  A command that prints nothing still
# gives a headline ("(no output)"): its silence is news too.
#
# A headline (xsend -t headline) is news to be read now: clients show it
# apart from conversations, servers need not keep it for a contact who is
# offline (Prosody does not), and --no-store asks them not to: yesterday's
# headline is stale.  Whatever xsend fails with, it
# says on standard error, which cron mails; the exit status is xsend's (see
# EXIT STATUS in xsend(1)).
set -u

usage='usage: cron-headline.sh JID COMMAND [ARG...]'
jid=${1:?$usage}
shift
[ $# -gt 0 ] || {
	echo "$usage" >&2
	exit 2
}
lines=${CRON_HEADLINE_LINES:-40}
host=$(hostname)

out=$("$@" 2>&1)
rc=$?
[ -n "$out" ] || out='(no output)'
{
	printf '%s\n' "$out" | head -n "$lines"
	[ "$(printf '%s\n' "$out" | wc -l)" -gt "$lines" ] &&
		echo "(cut after $lines lines)"
	[ "$rc" -ne 0 ] && echo "(exit status $rc)"
} | xsend -q -t headline -s "${host%%.*}: $*" --no-store --retries 3 -w 60 "$jid"
