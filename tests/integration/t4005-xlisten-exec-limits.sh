#!/bin/bash
# SPDX-License-Identifier: MIT
# t4005-xlisten-exec-limits: what an --exec command can reach and how much
# xlisten takes on for it. The command and the --password-cmd command get
# the standard descriptors only: not the --password-fd descriptor, not the
# message's temporary file, not what xlisten inherited. The queue of
# messages taken for a slow command is bounded (100 messages, 8 MiB):
# beyond it xlisten takes no more, runs what it took, and exits 1, and the
# server keeps the rest for the next run; -w bounds a command that hangs
# (5 s of grace, then it is killed).
# shellcheck disable=SC2016 # '$1' in scripts written here: literal text
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
plan 23

xt_server_start
aconf=$(xt_config alice)
xt_config bob >/dev/null
grep -v '^password' "$XT_DIR/bob.conf" >"$XT_DIR/bob-nopw.conf"
chmod 600 "$XT_DIR/bob-nopw.conf"
printf 'bob-pw\n' >"$XT_DIR/pw.txt"

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

# fds.sh PREFIX: writes the descriptors open in a program it starts (but
# the one ls opens to list them) to PREFIX.fds, what reopening descriptor
# 8 from its start gives to PREFIX.fd8, and its standard input to
# PREFIX.body.
cat >"$XT_DIR/fds.sh" <<'SH'
#!/bin/sh
ls -l /proc/self/fd | sed -n 's|.* \([0-9][0-9]*\) -> \(.*\)$|\1 \2|p' |
	grep -v ' /proc/[0-9]*/fd$' | cut -d' ' -f1 | sort -n | tr '\n' ' ' >"$1.fds"
cat /proc/self/fd/8 >"$1.fd8" 2>/dev/null
cat >"$1.body"
SH
chmod +x "$XT_DIR/fds.sh"
printf '#!/bin/sh\n"%s" "$1" </dev/null\necho bob-pw\n' "$XT_DIR/fds.sh" >"$XT_DIR/pwcmd.sh"
chmod +x "$XT_DIR/pwcmd.sh"

# --- descriptors ---------------------------------------------------------------

# xlisten inherits descriptor 7 (not close-on-exec) and reads its password
# from descriptor 8.
exec 7>"$XT_DIR/inherited" 8<"$XT_DIR/pw.txt"
xt_bg fd "$XLISTEN" -C "$XT_DIR/bob-nopw.conf" --resource fd -c 1 -w 30 \
	--password-fd 8 --exec "$XT_DIR/fds.sh $XT_DIR/exec"
exec 7>&- 8<&-
xl_wait fd
run xt_peer send --jid alice@localhost --password alice-pw --to bob@localhost/fd --body 'fd test'
ok_rc 0 "a message for the command"
xt_bg_wait fd
ok_rc 0 "xlisten --password-fd 8 --exec: exit 0 after one message"
is "$(cat "$XT_DIR/exec.body")" "fd test" "the command read the body"
is "$(cat "$XT_DIR/exec.fds")" "0 1 2 " \
	"the command has descriptors 0, 1 and 2 only (not the password's, the body's file or an inherited one)"
is "$(cat "$XT_DIR/exec.fd8" 2>/dev/null)" "" "the command cannot read the password from descriptor 8"

exec 7>"$XT_DIR/inherited"
run "$XLISTEN" -C "$XT_DIR/bob-nopw.conf" --resource pc -w 1 --password-cmd "$XT_DIR/pwcmd.sh $XT_DIR/pwcmd"
exec 7>&-
ok_rc 0 "xlisten --password-cmd: logged in"
is "$(cat "$XT_DIR/pwcmd.fds")" "0 1 2 " \
	"the password command has descriptors 0, 1 and 2 only"

# --- the queue of a slow command is bounded; the server keeps the rest -------

xt_register carl carl-pw || bail_out "cannot register carl"
xt_config carl >/dev/null
# slow.sh PREFIX: notes the peak memory of xlisten (its parent; kB) and the
# id of the message, then takes a while.
cat >"$XT_DIR/slow.sh" <<'SH'
#!/bin/sh
sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$PPID/status" >>"$1.rss"
cat >/dev/null
echo "$XMPP_ID" >>"$1.ids"
sleep 0.1
SH
chmod +x "$XT_DIR/slow.sh"
head -c 22500 /dev/urandom | base64 -w 0 >"$XT_DIR/big.txt" # 30 KB (the 400 take Prosody about 12 s, well within the peers' 20 s under load)

xt_bg c1 "$XLISTEN" -C "$XT_DIR/carl.conf" --resource c1 -c 400 -w 90 --exec "$XT_DIR/slow.sh $XT_DIR/c1"
xl_wait c1 carl
# Four peers send 100 messages each: Prosody takes about 1 MB/s from one
# connection, and a peer gives up when the server has not processed all it
# sent within 20 s.
for p in a b c d; do
	xt_bg "peer$p" xt_peer send --jid alice@localhost --password alice-pw --to carl@localhost \
		--type chat --id "$p{n}" --body-file "$XT_DIR/big.txt" --count 100 --timeout 60
done
xt_bg_wait c1
ok_rc 1 "400 messages of 30 KB for a command that takes 0.1 s each: xlisten stops taking them at the limit, exit 1"
like "$ERR" "warning: --exec: 100 messages wait for $XT_DIR/slow.sh \\(the limit\\): taking no more, the server keeps the rest" \
	"... and says why"
handled=$(wc -l <"$XT_DIR/c1.ids")
ok "it ran the commands of the 100 messages it held, and of those it had handled before ($handled)" \
	test "$handled" -ge 100 -a "$handled" -lt 400
rss0=$(head -n 1 "$XT_DIR/c1.rss")
rss=$(sort -n "$XT_DIR/c1.rss" | tail -n 1)
diag "peak memory of xlisten: $rss kB, $rss0 kB at the first message"
if [ -n "${ASAN_OPTIONS:-}" ] || ldd "$XLISTEN" 2>/dev/null | grep -q libasan; then
	skip "memory under AddressSanitizer is not comparable"
else
	ok "its memory grew by less than 10 MB (peak $rss kB, $rss0 kB at the first message)" \
		test "$((rss - rss0))" -lt 10240
fi
for p in a b c d; do
	xt_bg_wait "peer$p"
	ok_rc 0 "peer $p sent its 100 messages"
done
run "$XLISTEN" -C "$XT_DIR/carl.conf" --resource c2 -c "$((400 - handled))" -w 90 -F '%i'
ok_rc 0 "the next run takes the other $((400 - handled))"
cat "$XT_DIR/c1.ids" >"$XT_DIR/all.ids"
printf '%s\n' "$OUT" >>"$XT_DIR/all.ids"
is "$(sort "$XT_DIR/all.ids" | uniq -d | head -n 3)" "" "no message was handled twice"
is "$(sort -u "$XT_DIR/all.ids" | grep -c '^[abcd][0-9]*$')" 400 "none of the 400 messages was lost"

# --- -w bounds a command that hangs ----------------------------------------------

cat >"$XT_DIR/hang.sh" <<'SH'
#!/bin/sh
cat >/dev/null
echo "start $XMPP_ID" >>"$1"
exec sleep 30
SH
chmod +x "$XT_DIR/hang.sh"
# The messages wait for dan on the server: they come at login.
xt_register dan dan-pw || bail_out "cannot register dan"
xt_config dan >/dev/null
run xt_peer send --jid alice@localhost --password alice-pw --to dan@localhost --type chat \
	--id 'h{n}' --body 'h' --count 2
ok_rc 0 "two messages for a command that hangs"
t0=$EPOCHREALTIME
xt_bg hang "$XLISTEN" -C "$XT_DIR/dan.conf" --resource hang -w 3 --exec "$XT_DIR/hang.sh $XT_DIR/hang.log"
xt_bg_wait hang
t=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
ok_rc 0 "-w 3: exit 0"
ok "... after 3 s and the 5 s of grace ($t s)" awk -v t="$t" 'BEGIN { exit !(t >= 7.5 && t < 12) }'
is "$ERR" "xlisten: warning: --exec: $XT_DIR/hang.sh still ran at the end of the timeout and its grace: killed (message 1)
xlisten: warning: --exec: stopped with 1 messages not handled" "the killed command and the message left are reported"
is "$(cat "$XT_DIR/hang.log")" "start h1" "the second command was not started"
