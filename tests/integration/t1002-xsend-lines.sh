#!/bin/bash
# SPDX-License-Identifier: MIT
# t1002-xsend-lines: xsend --lines and --null: each line a message, sent as
# it arrives on one connection, in order, exactly once; --tee; bad lines;
# a server restart in the middle that loses nothing; and a server that dies
# for good, where the final line counts the confirmed messages.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
plan 38

xt_server_start
conf=$(xt_config alice)

recv_start() {
	rm -f "$XT_DIR/$1.ready"
	xt_bg "$1" xt_peer recv --jid "$1@localhost" --password "$1-pw" \
		--count "$2" --timeout "${3:-30}" --ready "$XT_DIR/$1.ready"
	xt_wait_file "$XT_DIR/$1.ready" 20 "$1" || bail_out "$1's peer is not ready"
}

# quiet_kill PID: at exit, a process that may have ended already.
quiet_kill() {
	kill "$1" 2>/dev/null
	return 0
}

# bodies: the bodies of the JSON records in $OUT, one per line.
bodies() {
	"$XT_PYTHON" -c '
import json, sys
for line in sys.stdin:
    print(json.loads(line)["body"])' <<<"$OUT"
}

# --- 10,000 lines: all, in order, exactly once, on one connection ----------

seq 1 10000 | sed 's/^/line /' >"$XT_DIR/10k.txt"
recv_start bob 10000 60
t0=$EPOCHREALTIME
XT_CMD_TIMEOUT=120 run_stdin "$XT_DIR/10k.txt" "$XSEND" -C "$conf" --lines --tee bob@localhost
ok_rc 0 "10,000 lines: exit 0"
diag "10,000 lines sent and confirmed in $(((${EPOCHREALTIME/./} - ${t0/./}) / 1000)) ms"
is "$ERR" "" "10,000 lines: nothing on stderr"
tee_out=$OUT
is "$(wc -l <<<"$tee_out")" 10000 "--tee: one record per message"
is "$(cut -f2 <<<"$tee_out" | sort -u)" bob@localhost "--tee: the recipient of each"
is "$(cut -f3 <<<"$tee_out" | tr '\n' ' ' | sed 's/ $//')" "$(seq -s ' ' 1 10000)" \
	"--tee: the line numbers, in order"
xt_bg_wait bob
ok_rc 0 "the peer got 10,000 messages"
is "$(bodies)" "$(cat "$XT_DIR/10k.txt")" "every line arrived, in order, exactly once"
ids_sent=$(cut -f1 <<<"$tee_out")
ids_got=$("$XT_PYTHON" -c '
import json, sys
for line in sys.stdin:
    print(json.loads(line)["id"])' <<<"$OUT")
is "$ids_got" "$ids_sent" "the ids --tee printed are the ids that arrived"
logins=$(xt_server_logins alice@localhost)
is "$logins" 1 "one login for all 10,000 (one connection)"

# --- empty lines, CRLF, the last line without a newline, --keep-empty ------

recv_start bob 3
printf 'a\r\n\n\nb\nc' >"$XT_DIR/empty.txt"
run_stdin "$XT_DIR/empty.txt" "$XSEND" -C "$conf" -l bob@localhost
ok_rc 0 "empty lines: exit 0"
xt_bg_wait bob
is "$(bodies | tr '\n' ' ')" "a b c " "empty lines skipped, CR removed, the last line sent without its newline"
recv_start bob 3
printf 'x\n\ny\n' >"$XT_DIR/keep.txt"
run_stdin "$XT_DIR/keep.txt" "$XSEND" -C "$conf" -l --keep-empty bob@localhost
ok_rc 0 "--keep-empty: exit 0"
xt_bg_wait bob
is "$(bodies | tr '\n' '|')" "x||y|" "--keep-empty sends the empty line as an empty body"

# --- -0: NUL-separated messages keep their newlines --------------------------

recv_start bob 2
printf 'first\nwith newline\0second\0' >"$XT_DIR/nul.txt"
run_stdin "$XT_DIR/nul.txt" "$XSEND" -C "$conf" -0 bob@localhost
ok_rc 0 "-0: exit 0"
xt_bg_wait bob
is "$(xt_json "$(sed -n 1p <<<"$OUT")" body)" $'first\nwith newline' "-0: a message with a newline inside"
is "$(xt_json "$(sed -n 2p <<<"$OUT")" body)" second "-0: the second message"

# --- a bad line stops the input: what came before is delivered ---------------

recv_start bob 2
printf 'good 1\ngood 2\nbad \xff here\nnever\n' >"$XT_DIR/bad.txt"
run_stdin "$XT_DIR/bad.txt" "$XSEND" -C "$conf" -l --tee bob@localhost
ok_rc 2 "an invalid line: exit 2"
is "$ERR" "xsend: line 3: invalid UTF-8 at byte 4 (byte 0xff); nothing more sent (--sanitize replaces it)" \
	"an invalid line: one line naming the line, the byte and the way out"
is "$(wc -l <<<"$OUT")" 2 "--tee: the two lines before were confirmed"
xt_bg_wait bob
is "$(bodies | tr '\n' '|')" "good 1|good 2|" "the lines before the bad one arrived, none after"
head -c 3000 /dev/zero | tr '\0' x >"$XT_DIR/long.txt"
run_stdin "$XT_DIR/long.txt" "$XSEND" -C "$conf" -l --max-size 1000 bob@localhost
ok_rc 2 "a line over --max-size: exit 2"
like "$ERR" 'line 1: larger than 1000 bytes' "over --max-size: says which line"

# --- streaming: a line is sent when it arrives, not at the end of input ----

mkfifo "$XT_DIR/fifo"
recv_start bob 1
"$XSEND" -C "$conf" -l --tee bob@localhost <"$XT_DIR/fifo" >"$XT_DIR/stream.out" 2>"$XT_DIR/stream.err" &
xpid=$!
xt_at_exit quiet_kill "$xpid"
exec 7>"$XT_DIR/fifo"
printf 'live line\n' >&7
xt_bg_wait bob
ok_rc 0 "the peer got the line while standard input is still open"
is "$(xt_json "$OUT" body)" "live line" "streamed: the body"
ok "xsend is still running, waiting for more input" kill -0 "$xpid"
exec 7>&-
wait "$xpid"
is "$?" 0 "end of input: exit 0"

# --- a server restart in the middle loses nothing -------------------------------
# bob is offline: every message goes to offline storage, which survives the
# restart; bob then logs in and gets them all.

rm -f "$XT_DIR/fifo2"
mkfifo "$XT_DIR/fifo2"
"$XSEND" -C "$conf" -l --tee bob@localhost <"$XT_DIR/fifo2" >"$XT_DIR/restart.out" 2>"$XT_DIR/restart.err" &
xpid=$!
xt_at_exit quiet_kill "$xpid"
exec 7>"$XT_DIR/fifo2"
for i in $(seq 1 100); do printf 'before %d\n' "$i" >&7; done
for ((i = 0; i < 1500; i++)); do
	[ "$(wc -l <"$XT_DIR/restart.out")" -ge 100 ] && break
	_xt_nap
done
is "$(wc -l <"$XT_DIR/restart.out")" 100 "the first 100 lines are confirmed"
for i in $(seq 1 50); do printf 'during %d\n' "$i" >&7; done
xt_server_restart
for i in $(seq 1 100); do printf 'after %d\n' "$i" >&7; done
exec 7>&-
wait "$xpid"
is "$?" 0 "xsend reconnected and exits 0"
like "$(cat "$XT_DIR/restart.err")" 'warning: .*reconnecting' "the lost connection is reported as a warning"
is "$(cut -f3 "$XT_DIR/restart.out" | sort -n | uniq | wc -l)" 250 "--tee: all 250 lines were confirmed"
# With resent duplicates the count is not known: the peer takes what comes
# for 4 s (no --count: it then exits 0).
xt_bg bob xt_peer recv --jid bob@localhost --password bob-pw --timeout 4
xt_bg_wait bob
ok_rc 0 "bob logged in and got the offline messages"
{
	seq 1 100 | sed 's/^/before /'
	seq 1 50 | sed 's/^/during /'
	seq 1 100 | sed 's/^/after /'
} | sort >"$XT_DIR/expected"
is "$(bodies | sort -u)" "$(cat "$XT_DIR/expected")" "no line is missing after the restart"
dups=$(bodies | sort | uniq -d | wc -l)
diag "lines delivered twice (resent after the restart, same id): $dups"
is "$(bodies | sort -u | wc -l)" 250 "250 different lines"

# --- a server that dies for good: the final line counts the confirmed ------
# 100 lines are confirmed; the server is frozen (SIGSTOP) and 50 more lines
# go out unanswered; then it is killed (the last test of this script: it
# stays dead). xsend retries once, gives up with exit 4, and its final line
# says how many of the 150 messages the server confirmed.

rm -f "$XT_DIR/fifo3"
mkfifo "$XT_DIR/fifo3"
"$XSEND" -C "$conf" -vv -l --tee --retries 1 bob@localhost <"$XT_DIR/fifo3" >"$XT_DIR/dead.out" 2>"$XT_DIR/dead.err" &
xpid=$!
xt_at_exit quiet_kill "$xpid"
exec 7>"$XT_DIR/fifo3"
for i in $(seq 1 100); do printf 'kept %d\n' "$i" >&7; done
for ((i = 0; i < 4500; i++)); do
	[ "$(wc -l <"$XT_DIR/dead.out")" -ge 100 ] && break
	_xt_nap
done
is "$(wc -l <"$XT_DIR/dead.out")" 100 "before the crash: 100 lines confirmed"
xt_server_pause
for i in $(seq 1 50); do printf 'lost %d\n' "$i" >&7; done
for ((i = 0; i < 1500; i++)); do
	[ "$(grep -c 'sent to bob@localhost' "$XT_DIR/dead.err")" -ge 150 ] && break
	_xt_nap
done
is "$(grep -c 'sent to bob@localhost' "$XT_DIR/dead.err")" 150 "50 more lines sent to the frozen server"
xt_server_kill
exec 7>&-
wait "$xpid"
is "$?" 4 "the server is gone for good: exit 4"
last=$(tail -n 1 "$XT_DIR/dead.err")
diag "final line: $last"
like "$last" '^xsend: .*; 100 of 150 messages confirmed$' "the final line says 100 of 150 messages were confirmed"
is "$(wc -l <"$XT_DIR/dead.out")" 100 "--tee: the same 100 lines, no more"
