#!/bin/sh
# SPDX-License-Identifier: MIT
# tail-to-room.sh -- send each new line of a log file to a room, as it is
# written.
#
#   tail-to-room.sh LOGFILE ROOM [REGEX]
#
# For example, only the errors of an application (REGEX is an extended
# regular expression for grep -E):
#
#   tail-to-room.sh /var/log/app.log ops@muc.example.org 'ERROR|FATAL'
#
# One xsend -l joins ROOM once (as TAIL_TO_ROOM_NICK, default logbot) and
# sends each line as it arrives, over one connection, for as long as the log
# is written.  Each line is kept until the server has confirmed it and the
# room has echoed it; when the connection is lost, xsend reconnects (up to
# --retries times in a row), joins again and sends again what was not
# confirmed, so a line can arrive twice, never zero times.
#
# A filter in between must not hold lines back: grep --line-buffered (GNU
# and BSD grep) passes each line on at once; most awk and sed buffer.
# --sanitize replaces bytes that are not UTF-8 instead of stopping at them.
# A line over --max-size bytes (65536 by default) still stops xsend, with
# exit status 2 and a line on standard error naming it, once the lines
# before it are delivered.
#
# When xsend gives up (exit status 4 or 7: the server stayed away), the loop
# starts again a minute later; tail -n 0 then skips what was written in
# between.  tail and grep only notice that xsend is gone when they next
# write (SIGPIPE): the restart waits for the next line of the log, which is
# lost.  Any other exit status ends the script with it: 8 when the room
# refused the join (see EXIT STATUS in xsend(1)).
set -u

usage='usage: tail-to-room.sh LOGFILE ROOM [REGEX]'
log=${1:?$usage}
room=${2:?$usage}
regex=${3:-}
nick=${TAIL_TO_ROOM_NICK:-logbot}

filter() {
	if [ -n "$regex" ]; then
		grep --line-buffered -E -e "$regex"
	else
		cat
	fi
}

while :; do
	tail -n 0 -F -- "$log" | filter |
		xsend -l -r -n "$nick" --nick-retry --sanitize --retries 20 "$room"
	rc=$?
	case $rc in
	4 | 7)
		echo "tail-to-room.sh: xsend exited with $rc; again in 60 s" >&2
		sleep 60
		;;
	*)
		exit "$rc"
		;;
	esac
done
