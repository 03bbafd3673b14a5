#!/bin/sh
# SPDX-License-Identifier: MIT
# cron-alert.sh -- tell a room when a file system is nearly full.
#
#   cron-alert.sh ROOM [FILESYSTEM...]
#
# For example, in a crontab:
#
#   */10 * * * * /usr/local/bin/cron-alert.sh ops@muc.example.org / /var
#
# Every FILESYSTEM (default /) whose use is at least CRON_ALERT_LIMIT percent
# (default 90) gets one line in one message to ROOM.  When none is, the body
# is empty and xsend sends nothing, without even connecting (-q keeps it from
# saying so on standard error, which cron would mail).
#
# xsend -r checks that the room exists (it never creates one), joins it with
# the host's name as nick (--nick-retry takes NAME-2 ... NAME-9 when that is
# in use), sends the message, waits for the room's echo, and leaves.
# --no-store asks the servers not to keep the alert for later: it is stale
# when late (servers may ignore the hint).
#
# --retries also retries a failed first connection, after 0.5, 1, 2 ...
# seconds, all within the -w deadline.  Whatever xsend still fails with, it
# says on standard error, which cron mails; the exit status is xsend's (see
# EXIT STATUS in xsend(1): 8 when the room refused the join or the message).
set -u

room=${1:?usage: cron-alert.sh ROOM [FILESYSTEM...]}
shift
[ $# -gt 0 ] || set -- /
limit=${CRON_ALERT_LIMIT:-90}
host=$(hostname)

# df -P: one line per file system, the use in column 5 ("93%").
report=$(df -P -- "$@" | awk -v limit="$limit" -v host="$host" '
	NR > 1 && $5 + 0 >= limit { printf "%s: %s is %s full\n", host, $6, $5 }')

# No -s: in a room, a subject with an empty body would change the room's
# subject, and an empty report would no longer send nothing.
printf '%s\n' "$report" |
	xsend -q -r -n "${host%%.*}" --nick-retry --no-store --retries 5 -w 120 \
	    "$room"
