#!/bin/bash
# t4005-xlisten-exec-limits: what an --exec command can reach and how much
# xlisten takes on for it. The command and the --password-cmd command get
# the standard descriptors only: not the --password-fd descriptor, not the
# message's temporary file, not what xlisten inherited.
# shellcheck disable=SC2016 # '$1' in scripts written here: literal text
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need prosody openssl slixmpp
plan 7

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
