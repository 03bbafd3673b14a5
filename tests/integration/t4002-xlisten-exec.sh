#!/bin/bash
# SPDX-License-Identifier: MIT
# t4002-xlisten-exec: xlisten --exec runs a command per message: its words
# split without a shell, the body on its standard input, the fields in
# XMPP_* variables (and not the password), one at a time and in order; a
# failing or missing command is reported and the listener goes on; the
# receipt is sent once the command succeeded; -c counts handled messages;
# SIGTERM waits for the running command.
# shellcheck disable=SC2016 # '$HOME', '$(...)': literal text is the point
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
plan 37

xt_server_start
aconf=$(xt_config alice)
xt_config bob >/dev/null
# bob's account without a password: it comes from XMPP_PASSWORD, which the
# commands must not see.
grep -v '^password' "$XT_DIR/bob.conf" >"$XT_DIR/bob-nopw.conf"
chmod 600 "$XT_DIR/bob-nopw.conf"

# The command: records its arguments, standard input and XMPP_* variables
# for run N, logs its start and end; "fail" bodies exit 3, "kill" bodies
# die by SIGKILL, "sleep" bodies take a second, "slow" ones 0.3 s.
D=$XT_DIR/ex
mkdir -p "$D"
cat >"$XT_DIR/handler.sh" <<'SH'
#!/bin/sh
d=$1
shift
n=$(($(cat "$d/n" 2>/dev/null || echo 0) + 1))
echo "$n" >"$d/n"
echo "start $n" >>"$d/log"
printf '%s\n' "$@" >"$d/$n.argv"
cat >"$d/$n.body"
for v in FROM TO TYPE ID SUBJECT THREAD TIME; do
	eval "printf '%s=%s|' XMPP_$v \"\${XMPP_$v-(unset)}\""
done >"$d/$n.env"
[ -n "${XMPP_PASSWORD+set}" ] && echo "XMPP_PASSWORD is set" >>"$d/$n.env"
case $(cat "$d/$n.body") in
fail*) echo "end $n" >>"$d/log"; exit 3 ;;
kill*) echo "end $n" >>"$d/log"; kill -KILL $$ ;;
sleep*) sleep 1 ;;
slow*) sleep 0.3 ;;
esac
echo "handled $n"
echo "end $n" >>"$d/log"
SH
chmod +x "$XT_DIR/handler.sh"

# xl_wait NAME [USER]: wait until USER@localhost/NAME (bob's by default)
# answers a ping.
xl_wait() {
	local i
	printf "<iq type='get' to='%s@localhost/%s' id='ready'><ping xmlns='urn:xmpp:ping'/></iq>\n" \
		"${2:-bob}" "$1" >"$XT_DIR/ping-$1.xml"
	for ((i = 0; i < 100; i++)); do
		run_stdin "$XT_DIR/ping-$1.xml" "$XSEND" -C "$aconf" --raw
		[ "$RC" = 0 ] && return 0
		kill -0 "$(xt_bg_pid "$1")" 2>/dev/null || break
		sleep 0.1
	done
	bail_out "xlisten $1 is not online: $(cat "$XT_DIR/$1.err")"
}

# xl_pid NAME: the pid of xlisten started with xt_bg NAME (under timeout).
xl_pid() {
	cat /proc/"$(xt_bg_pid "$1")"/task/*/children
}

psend() {
	run xt_peer send --jid alice@localhost --password alice-pw --to bob@localhost/ex "$@"
}
REQ="<request xmlns='urn:xmpp:receipts'/>"

# --- one listener, seven messages ----------------------------------------------

# The words: no shell, so "$HOME" stays as it is written; quotes and a
# backslash group words.
XMPP_PASSWORD=bob-pw xt_bg ex "$XLISTEN" -C "$XT_DIR/bob-nopw.conf" --resource ex -w 50 \
	--exec "$XT_DIR/handler.sh $D 'two words' \"\$HOME\" a\\ b"
xl_wait ex

body1=$'multi\nline $(touch '"$XT_DIR"$'/pwned) `touch '"$XT_DIR"$'/pwned2`; echo "quoted" \\ & <b>\n'
psend --id e1 --type chat --subject 'S $(touch x)' --thread t-1 --body "$body1" \
	--extra-xml "$REQ" --wait-receipts
ok_rc 0 "e1: the receipt came back once the command succeeded"
psend --id e2 --body 'fail please' --extra-xml "$REQ" --wait-receipts --timeout 2
ok_rc 3 "e2: no receipt for a message whose command failed"
psend --id e3 --type headline --body 'kill me'
ok_rc 0 "e3 sent"
psend --id 's{n}' --type chat --body 'slow {n}' --count 4
ok_rc 0 "e4-e7: four messages sent at once"
ok "the seven commands ran" xt_wait_grep "$D/log" '^end 7$' 15 ex

is "$(cat "$D/1.argv")" 'two words
$HOME
a b' "the words of CMD, split without a shell"
ok "e1: the body on standard input, byte for byte" cmp -s "$D/1.body" <(printf '%s' "$body1")
IFS='|' read -r from to type id subject thread time _ <"$D/1.env"
like "$from" '^XMPP_FROM=alice@localhost/.+$' "e1: XMPP_FROM is the sender's full JID"
is "$to|$type|$id|$subject|$thread" \
	'XMPP_TO=bob@localhost/ex|XMPP_TYPE=chat|XMPP_ID=e1|XMPP_SUBJECT=S $(touch x)|XMPP_THREAD=t-1' \
	"e1: XMPP_TO, XMPP_TYPE, XMPP_ID, XMPP_SUBJECT and XMPP_THREAD"
like "$time" '^XMPP_TIME=20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]Z$' \
	"e1: XMPP_TIME is an ISO 8601 UTC stamp"
ok "the message text was not run by a shell" test ! -e "$XT_DIR/pwned" -a ! -e "$XT_DIR/pwned2" -a ! -e x
unlike "$(cat "$D"/*.env)" 'XMPP_PASSWORD' "the commands do not see XMPP_PASSWORD"
like "$(cat "$D/2.env")" '^XMPP_FROM=alice@localhost/[^|]+\|XMPP_TO=bob@localhost/ex\|XMPP_TYPE=normal\|XMPP_ID=e2\|XMPP_SUBJECT=\|XMPP_THREAD=\|XMPP_TIME=20' \
	"e2: no type attribute is normal; absent subject and thread are empty"
is "$(cat "$D/2.body")" "fail please" "e2: body"
is "$(cat "$D/4.body" "$D/5.body" "$D/6.body" "$D/7.body" | tr '\n' ' ')" "slow 1slow 2slow 3slow 4" \
	"e4-e7: each command got its own message, in order"
like "$(cat "$D/7.env")" '\|XMPP_ID=s4\|' "e7: XMPP_ID"
is "$(tr '\n' ' ' <"$D/log")" "start 1 end 1 start 2 end 2 start 3 end 3 start 4 end 4 start 5 end 5 start 6 end 6 start 7 end 7 " \
	"one command at a time, in the order of the messages"

# SIGTERM while a command runs: xlisten waits for it, then exits 0.
psend --id e8 --body 'sleep a second'
ok_rc 0 "e8 sent"
xt_wait_grep "$D/log" '^start 8$' 15 ex || diag "command 8 did not start"
# To xlisten itself: xt_bg_kill would signal timeout(1), which passes the
# signal to its whole process group, the command included.
kill -TERM "$(xl_pid ex)"
xt_bg_wait ex
ok_rc 0 "SIGTERM while a command runs: exit 0"
is "$(tail -n 1 "$D/log")" "end 8" "... after the command ended"
is "$OUT" "handled 1
handled 4
handled 5
handled 6
handled 7
handled 8" "the commands' standard output is xlisten's, in order; xlisten prints no records"
is "$ERR" "xlisten: warning: --exec: $XT_DIR/handler.sh exited with status 3 (message 2)
xlisten: warning: --exec: $XT_DIR/handler.sh killed by signal 9 (message 3)
xlisten: stopping once the queued commands have run (signal again to stop now)" \
	"a failing command and a killed one are reported, and the listener went on; the signal waits for the command"

# --- SIGTERM with messages waiting for their turn: none is lost ---------------
# The first command runs when SIGTERM comes, two more messages wait. Either
# xlisten handles them before it exits, or the server still has them for the
# next run; they must not vanish.

xt_register lena lena-pw || bail_out "cannot register lena"
xt_config lena >/dev/null
cat >"$XT_DIR/queue.sh" <<'SH'
#!/bin/sh
b=$(cat)
echo "start $b" >>"$1"
sleep 0.5
echo "end $b" >>"$1"
SH
chmod +x "$XT_DIR/queue.sh"
xt_bg q1 "$XLISTEN" -C "$XT_DIR/lena.conf" --resource q1 --exec "$XT_DIR/queue.sh $XT_DIR/queue.log"
xl_wait q1 lena
run xt_peer send --jid alice@localhost --password alice-pw --to lena@localhost --type chat \
	--body 'q{n}' --count 3
ok_rc 0 "three messages for a slow command"
xt_wait_grep "$XT_DIR/queue.log" '^start q1$' 15 q1 || diag "the first command did not start"
kill -TERM "$(xl_pid q1)"
xt_bg_wait q1
ok_rc 0 "SIGTERM with commands waiting: exit 0"
run "$XLISTEN" -C "$XT_DIR/lena.conf" --resource q2 -w 3 --exec "$XT_DIR/queue.sh $XT_DIR/queue.log"
is "$(grep '^end' "$XT_DIR/queue.log" | sort | tr '\n' ' ')" "end q1 end q2 end q3 " \
	"each of the three messages was handled once, by that run or the next"

# --- the end of -w with messages waiting: none is lost ------------------------
# Three stored messages come at login; their commands take 1.5 s, -w is 1 s.
# Those taken from the server run after the session ended; what the server
# still has goes to the next run.

xt_register mira mira-pw || bail_out "cannot register mira"
xt_config mira >/dev/null
run xt_peer send --jid alice@localhost --password alice-pw --to mira@localhost --type chat \
	--body 'm{n}' --count 3
ok_rc 0 "three messages stored for mira"
run "$XLISTEN" -C "$XT_DIR/mira.conf" --resource m1 -w 1 --exec "$XT_DIR/queue.sh $XT_DIR/mira.log"
ok_rc 0 "-w 1 with commands waiting: exit 0"
is "$ERR" "" "... without a warning: every message taken was handled"
run "$XLISTEN" -C "$XT_DIR/mira.conf" --resource m2 -w 3 --exec "$XT_DIR/queue.sh $XT_DIR/mira.log"
is "$(grep '^end' "$XT_DIR/mira.log" | sort | tr '\n' ' ')" "end m1 end m2 end m3 " \
	"each of the three messages was handled once, by that run or the next"

# --- a command that cannot run; -c counts handled messages ------------------

xt_bg nx "$XLISTEN" -C "$XT_DIR/bob.conf" --resource nx -c 2 -w 30 --exec "$XT_DIR/no such command"
xl_wait nx
run xt_peer send --jid alice@localhost --password alice-pw --to bob@localhost/nx --body 'n{n}' --count 2
ok_rc 0 "two messages for the missing command"
xt_bg_wait nx
ok_rc 0 "-c 2 with a missing command: exit 0 after two messages"
is "$(grep -c "xlisten: warning: --exec: cannot run $XT_DIR/no: No such file or directory" <<<"$ERR")" 2 \
	"the missing command is named, once per message"
is "$(grep -c "xlisten: warning: --exec: $XT_DIR/no exited with status 127 (message [12])" <<<"$ERR")" 2 \
	"... and its status 127 reported"

# --- a shell when the user writes one; -c waits for the last command --------

xt_bg sh "$XLISTEN" -C "$XT_DIR/bob.conf" --resource sh -c 2 -w 30 \
	--exec "sh -c 'sleep 0.5; printf \"%s: \" \"\$XMPP_ID\" >>$XT_DIR/shell.txt; cat >>$XT_DIR/shell.txt; echo >>$XT_DIR/shell.txt'"
xl_wait sh
run xt_peer send --jid alice@localhost --password alice-pw --to bob@localhost/sh --id 'x{n}' \
	--body 'line {n} $HOME' --count 2
ok_rc 0 "two messages for sh -c"
xt_bg_wait sh
ok_rc 0 "-c 2: exit 0"
is "$(cat "$XT_DIR/shell.txt")" 'x1: line 1 $HOME
x2: line 2 $HOME' "sh -c sees the variables; the body is data; -c 2 waited for the second command"
is "$OUT$ERR" "" "nothing on stdout or stderr"
