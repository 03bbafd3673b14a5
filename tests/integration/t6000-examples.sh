#!/bin/bash
# SPDX-License-Identifier: MIT
# t6000-examples: the scripts of examples/ do what their comments say,
# against a real server, with an independent slixmpp peer checking what
# arrives: the Nagios/Icinga notification (environment macros, the command
# line of examples/nagios-xmpp.cfg run by /bin/sh as Nagios runs it, Icinga
# 2's argument vector), the cron headline, the systemd unit for xlisten
# (systemd-analyze verify, its restart policy against the EXIT STATUS of
# xlisten(1), its ExecStart= line run for real with the command bot
# xlisten-handle-command), the log follower tail-to-room.sh, the
# presence-aware pager, cron-alert.sh, raw-queries.txt,
# xpresence-status-bot and xlisten-notify (with a stand-in notify-send).
#
# The examples run as a user runs them: the tools from PATH, the account
# from the default config file ($XDG_CONFIG_HOME/xmpptools/config, alice's).
# shellcheck disable=SC2016 # '$(...)': literal text is the point
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp hostname
plan 61

xt_server_start
# shellcheck disable=SC2154 # top_srcdir and top_builddir are set by lib.sh
ex=$top_srcdir/examples
M=$XT_MUC

# The user's environment: the built tools first in PATH, alice's config as
# the default one, a home of its own.
export PATH="$top_builddir/cmd:$PATH"
export HOME=$XT_DIR/home XDG_CONFIG_HOME=$XT_DIR/xdg
mkdir -p "$HOME" "$XDG_CONFIG_HOME/xmpptools"
(umask 077 && cp "$(xt_config alice)" "$XDG_CONFIG_HOME/xmpptools/config")
host=$(hostname)
host=${host%%.*}

# recv NAME USER COUNT [SECONDS]: USER's peer receives COUNT messages in the
# background (xt_bg NAME); returns once it is online.
recv() {
	rm -f "$XT_DIR/$1.ready"
	xt_bg "$1" xt_peer recv --jid "$2@localhost" --password "$2-pw" --count "$3" \
		--timeout "${4:-20}" --ready "$XT_DIR/$1.ready"
	xt_wait_file "$XT_DIR/$1.ready" 20 "$1" || bail_out "the peer $2 is not online: $(cat "$XT_DIR/$1.err")"
}

# record N: JSON gets the fields of the Nth line of the last xt_bg_wait's
# output.
record() {
	xt_json_load "$(sed -n "${1}p" <<<"$OUT")" || JSON=()
}

# --- nagios-notify.sh and cron-headline.sh -------------------------------------

recv bob bob 4

# 1. Nagios with enable_environment_macros=1: no argument, every field and
# the JID in NAGIOS_* variables; the plugin output has shell syntax in it.
run env NAGIOS_NOTIFICATIONTYPE=PROBLEM NAGIOS_HOSTNAME=web1 NAGIOS_SERVICEDESC=HTTP \
	NAGIOS_SERVICESTATE=CRITICAL NAGIOS_SERVICEOUTPUT="HTTP CRITICAL - it's \$(touch $XT_DIR/pwned) \`id\`" \
	NAGIOS_LONGDATETIME='Thu Dec 3 17:00:00 UTC 2026' NAGIOS_CONTACTPAGER=bob@localhost \
	"$ex/nagios-notify.sh"
ok_rc 0 "nagios-notify.sh: environment macros: exit 0"

# 2. Nagios without them: the command_line of notify-host-by-xmpp in
# nagios-xmpp.cfg, macros replaced by their values, run by /bin/sh.
cmdline=$(awk '/command_name[ \t]+notify-host-by-xmpp$/ { f = 1; next }
	f && /command_line/ { sub(/^[ \t]*command_line[ \t]+/, ""); print; exit }' "$ex/nagios-xmpp.cfg")
like "$cmdline" '^/usr/local/bin/nagios-notify.sh .*\$HOSTSTATE\$' \
	"nagios-xmpp.cfg: notify-host-by-xmpp has a command_line"
cmdline=${cmdline//\/usr\/local\/bin\/nagios-notify.sh/$ex/nagios-notify.sh}
cmdline=${cmdline//\$NOTIFICATIONTYPE\$/PROBLEM}
cmdline=${cmdline//\$HOSTNAME\$/db1}
cmdline=${cmdline//\$HOSTSTATE\$/DOWN}
cmdline=${cmdline//\$HOSTOUTPUT\$/PING CRITICAL - Packet loss = 100%}
cmdline=${cmdline//\$LONGDATETIME\$/Thu Dec 3 17:01:00 UTC 2026}
cmdline=${cmdline//\$NOTIFICATIONCOMMENT\$/}
cmdline=${cmdline//\$CONTACTPAGER\$/bob@localhost}
run sh -c "$cmdline"
ok_rc 0 "nagios-notify.sh: Nagios's command line for a host: exit 0"

# 3. Icinga 2: the arguments of xmpp-service-notification in
# icinga2-xmpp.conf, macros replaced by their values, no shell; the JID
# (order 10) last.
declare -A icinga=(
	[notification.type]=ACKNOWLEDGEMENT [host.display_name]=web2
	[service.display_name]='Disk /' [service.state]=WARNING
	[service.output]='DISK WARNING - free space: / 900 MB (9%)'
	[icinga.long_date_time]='Thu Dec 3 17:02:00 UTC 2026'
	[notification.comment]='looking into it; "quotes" and $(stay)'
	[user.vars.xmpp]=bob@localhost
)
icinga_argv=("$ex/nagios-notify.sh")
jid=
while read -r key macro; do
	[ -n "${icinga[$macro]+set}" ] || diag "icinga2-xmpp.conf: unknown macro \$$macro\$"
	if [ "$key" = jid ]; then
		jid=${icinga[$macro]-}
	else
		icinga_argv+=("$key" "${icinga[$macro]-}")
	fi
done < <(sed -n '/NotificationCommand "xmpp-service-notification"/,/^}/{
	s/^ *"\(-[A-Za-z]\)" = "\$\([^$]*\)\$".*/\1 \2/p
	s/^ *value = "\$\([^$]*\)\$".*/jid \1/p
}' "$ex/icinga2-xmpp.conf")
is "$((${#icinga_argv[@]} - 1)):$jid" 14:bob@localhost \
	"icinga2-xmpp.conf: xmpp-service-notification has seven options and the JID"
run "${icinga_argv[@]}" "$jid"
ok_rc 0 "nagios-notify.sh: Icinga 2's arguments: exit 0"

# 4. cron-headline.sh with a command that prints two lines and fails.
run "$ex/cron-headline.sh" bob@localhost sh -c 'echo "line 1"; echo "line 2" >&2; exit 3'
ok_rc 0 "cron-headline.sh: exit 0"
is "$ERR" "" "cron-headline.sh: nothing on stderr (cron would mail it)"

xt_bg_wait bob
ok_rc 0 "bob received four messages"
record 1
is "${JSON[body]}" "PROBLEM: web1/HTTP is CRITICAL
HTTP CRITICAL - it's \$(touch $XT_DIR/pwned) \`id\`
Thu Dec 3 17:00:00 UTC 2026" "nagios-notify.sh: environment macros: the alert as written"
is "${JSON[from]%%/*}/${JSON[type]}" "alice@localhost/chat" "... a chat message from the account"
ok "nagios-notify.sh: the plugin output was not run by a shell" test ! -e "$XT_DIR/pwned"
record 2
is "${JSON[body]}" "PROBLEM: db1 is DOWN
PING CRITICAL - Packet loss = 100%
Thu Dec 3 17:01:00 UTC 2026" "nagios-notify.sh: Nagios's host command line: the alert as written"
record 3
is "${JSON[body]}" 'ACKNOWLEDGEMENT: web2/Disk / is WARNING
DISK WARNING - free space: / 900 MB (9%)
Comment: looking into it; "quotes" and $(stay)
Thu Dec 3 17:02:00 UTC 2026' "nagios-notify.sh: Icinga 2's arguments: the alert as written"
record 4
is "${JSON[type]}" headline "cron-headline.sh: a headline"
is "${JSON[subject]}" "$host: sh -c echo \"line 1\"; echo \"line 2\" >&2; exit 3" \
	"cron-headline.sh: the subject is HOST: COMMAND"
is "${JSON[body]}" "line 1
line 2
(exit status 3)" "cron-headline.sh: the output, then the exit status"
is "${JSON[no_store]}" true "cron-headline.sh: with no-store"

run env -u NAGIOS_CONTACTPAGER "$ex/nagios-notify.sh" -H web1 -S DOWN
ok_rc 2 "nagios-notify.sh: no JID: usage, exit 2"
run "$ex/cron-headline.sh" bob@localhost
ok_rc 2 "cron-headline.sh: no command: usage, exit 2"

# --- xlisten.service ---------------------------------------------------------

unit=$ex/xlisten.service
# unit_value KEY: the value of the KEY= line of the unit.
unit_value() {
	sed -n "s/^$1=//p" "$unit"
}

# 1. systemd-analyze verify, offline, in a root of its own where the
# programs of the unit exist (and the targets it names).
if command -v systemd-analyze >/dev/null 2>&1; then
	r=$XT_DIR/sysroot
	mkdir -p "$r/usr/local/bin" "$r/usr/local/lib/xmpptools" "$r/etc/systemd/system" \
		"$r/usr/lib/systemd/system"
	cp "$XLISTEN" "$r/usr/local/bin/xlisten"
	cp "$ex/xlisten-handle-command" "$r/usr/local/lib/xmpptools/"
	cp "$unit" "$r/etc/systemd/system/"
	cp -a /usr/lib/systemd/system/*.target /usr/lib/systemd/system/*.slice \
		"$r/usr/lib/systemd/system/" 2>/dev/null
	run systemd-analyze verify --man=no --root="$r" "$r/etc/systemd/system/xlisten.service"
	ok_rc 0 "xlisten.service: systemd-analyze verify: exit 0"
	is "$ERR" "" "xlisten.service: systemd-analyze verify: no warning"
else
	skip "systemd-analyze is not installed" 2
fi

# 2. The restart policy: restart on failure, but not for the exit codes
# that xlisten(1) documents as errors that do not heal by themselves.
is "$(unit_value Restart)" on-failure "xlisten.service: Restart=on-failure"
like "$(unit_value RestartSec)" '^[1-9][0-9]*s?$' "xlisten.service: a RestartSec"
prevent=$(unit_value RestartPreventExitStatus)
exit_status=$(awk '/^\.Sh EXIT STATUS/ { f = 1; next } /^\.Sh/ { f = 0 }
	f && /^\.It / { code = $2; next } f && code != "" { text[code] = text[code] " " $0 }
	END { for (c in text) print c text[c] }' "$top_srcdir/man/xlisten.1")
# meaning CODE: its words in the EXIT STATUS of xlisten(1).
meaning() {
	sed -n "s/^$1 //p" <<<"$exit_status"
}
bad=
for c in $prevent; do
	m=$(meaning "$c")
	[[ $m =~ ^(Usage|Configuration|TLS|Authentication) && $m != *"Worth retrying"* ]] ||
		bad="$bad $c ($m)"
done
is "$prevent" "2 3 5 6" "xlisten.service: RestartPreventExitStatus=2 3 5 6"
is "$bad" "" "... each documented in xlisten(1) as usage, configuration, TLS or authentication"
bad=
for c in 1 4 7; do
	[[ " $prevent " == *" $c "* ]] && bad="$bad $c"
done
like "$(meaning 4)$(meaning 7)" 'Worth retrying.*Worth retrying' "xlisten(1): 4 and 7 are worth retrying"
is "$bad" "" "... and 1 (a backlog of commands), 4 and 7 restart"

# The ExecStart= line, its words, run here: the installed paths are the
# built xlisten and examples/, the operator ops@example.org is carol.
read -r -a execstart <<<"$(unit_value ExecStart)"
like "${execstart[*]}" '^/usr/local/bin/xlisten .*--exec /usr/local/lib/xmpptools/xlisten-handle-command' \
	"xlisten.service: ExecStart= runs xlisten --exec xlisten-handle-command"
argv=()
for w in "${execstart[@]}"; do
	case $w in
	/usr/local/bin/xlisten) w=$XLISTEN ;;
	/usr/local/lib/xmpptools/*) w=$ex/${w##*/} ;;
	ops@example.org) w=carol@localhost ;;
	esac
	argv+=("$w")
done
# The service's environment: its user's home holds the config (0600),
# no XDG_CONFIG_HOME; XLISTEN_ALLOWED names the operator for the handler.
# svc NAME CONFIG: sets the array svc to the unit's command line for a
# service user whose home is $XT_DIR/NAME, with CONFIG as its config file.
svc() {
	mkdir -p "$XT_DIR/$1/.config/xmpptools"
	(umask 077 && cp "$2" "$XT_DIR/$1/.config/xmpptools/config")
	svc=(env -u XDG_CONFIG_HOME HOME="$XT_DIR/$1" XLISTEN_ALLOWED=carol@localhost "${argv[@]}")
}

# 3. What would stop the restarts, for real: no password (3), a wrong one
# (6); and what would not: nobody listening (4).
grep -v '^password' "$(xt_config dave)" >"$XT_DIR/nopw.conf"
svc nopw "$XT_DIR/nopw.conf"
run "${svc[@]}"
ok_rc 3 "ExecStart=: no password: exit 3, no restart"
sed 's/^password = .*/password = wrong/' "$(xt_config dave)" >"$XT_DIR/badpw.conf"
svc badpw "$XT_DIR/badpw.conf"
run "${svc[@]}"
ok_rc 6 "ExecStart=: a wrong password: exit 6, no restart"
sed "s/^port = .*/port = $(xt_closed_port)/" "$(xt_config dave)" >"$XT_DIR/closed.conf"
svc closed "$XT_DIR/closed.conf"
run "${svc[@]}"
ok_rc 4 "ExecStart=: nobody listening: exit 4, restarted"

# 4. The bot: dave runs the unit's command line; carol (the operator)
# sends commands and gets the answers.
# A message that comes before xlisten is online waits on the server, which
# delivers it when xlisten sends its presence.
svc davehome "$(xt_config dave)"
xt_bg svc "${svc[@]}"
recv carol carol 4
for body in uptime help 'df -h' "rm -rf / \$(touch $XT_DIR/pwned2); \`id\`"; do
	run xt_peer send --jid carol@localhost --password carol-pw --to dave@localhost --body "$body"
	[ "$RC" = 0 ] || diag "carol could not send '$body': $ERR"
done
xt_bg_wait carol
ok_rc 0 "command bot: carol got four answers"
# In the order they came: the first command may have waited on the server
# while xlisten logged in.
answers=()
froms=
for n in 1 2 3 4; do
	record "$n"
	answers+=("${JSON[body]-}")
	froms+="${JSON[from]%%/*} "
done
# answer ERE: the answer that matches ERE (anchored), if any.
answer() {
	local a
	for a in "${answers[@]}"; do
		[[ $a =~ ^$1 ]] && printf '%s\n' "$a" && return 0
	done
}
like "$(answer '.*load average')" 'load average' "command bot: uptime"
is "$froms" "dave@localhost dave@localhost dave@localhost dave@localhost " \
	"... every answer from the bot's account"
is "$(answer 'commands')" 'commands: uptime, df, help' "command bot: help"
like "$(answer 'Filesystem')" '^Filesystem' "command bot: df (its arguments ignored)"
is "$(answer 'unknown')" 'unknown command: rm (try help)' "command bot: an unknown command is data"
ok "command bot: the body was not run by a shell" test ! -e "$XT_DIR/pwned2"

# SIGTERM, as systemctl stop: a clean stop, exit 0 (no restart on-failure).
xt_bg_kill svc
xt_bg_wait svc
ok_rc 0 "ExecStart=: SIGTERM is a clean stop: exit 0"

# The handler's own lock: a sender that is not allowed gets nothing.
run env XMPP_FROM=mallory@localhost/x XMPP_TYPE=chat XLISTEN_ALLOWED=carol@localhost \
	PATH=/usr/bin:/bin "$ex/xlisten-handle-command"
ok_rc 0 "xlisten-handle-command: another sender: exit 0"
like "$ERR" 'ignored a message from mallory@localhost/x' "... ignored, and said so"

# --- tail-to-room.sh -------------------------------------------------------------

room=logs@$M
log=$XT_DIR/app.log
: >"$log"
xt_bg watcher xt_peer muc --jid carol@localhost --password carol-pw --room "$room" \
	--create --count 2 --ready "$XT_DIR/watcher.ready" --timeout 30
xt_wait_file "$XT_DIR/watcher.ready" 20 watcher || bail_out "the room is not there: $(cat "$XT_DIR/watcher.err")"
xt_bg follower "$ex/tail-to-room.sh" "$log" "$room" 'ERROR|FATAL'
ok "tail-to-room.sh: logbot joins the room" \
	xt_wait_grep "$XT_DIR/watcher.out" '"kind": "presence".*"nick": "logbot"' 20 follower
# tail -F started with xsend: give it a moment, then write.
sleep 0.5
printf '%s\n' 'INFO started' 'ERROR disk full' 'DEBUG x' >>"$log"
printf '%s\n' 'FATAL $(touch pwned3) gone' >>"$log"
xt_bg_wait watcher
ok_rc 0 "tail-to-room.sh: the room got two messages"
mapfile -t bodies < <(grep '"kind": "message"' <<<"$OUT" | grep -v '"body": null' | while read -r l; do
	xt_json "$l" body
done)
is "${bodies[*]}" 'ERROR disk full FATAL $(touch pwned3) gone' \
	"tail-to-room.sh: the lines that match, in order"
xt_bg_kill follower
xt_bg_wait follower

# --- presence-pager.sh -----------------------------------------------------------

# alice sees the presence of bob and carol (subscription to), as a user sets
# it up with xroster.
for u in bob carol; do
	run "$XROSTER" subscribe "$u@localhost"
	[ "$RC" = 0 ] || bail_out "xroster subscribe $u failed: $ERR"
	run "$XROSTER" -C "$(xt_config $u)" approve alice@localhost
	[ "$RC" = 0 ] || bail_out "xroster approve (as $u) failed: $ERR"
done

# 1. bob (first on the list) is online but busy, carol available: carol.
rm -f "$XT_DIR/busy.ready"
xt_bg busy xt_peer presence --jid bob@localhost --password bob-pw --show dnd \
	--timeout 30 --ready "$XT_DIR/busy.ready"
xt_wait_file "$XT_DIR/busy.ready" 20 busy || bail_out "bob is not online"
recv carol carol 1
echo 'db1 is down' >"$XT_DIR/page1"
run_stdin "$XT_DIR/page1" "$ex/presence-pager.sh" bob@localhost carol@localhost
ok_rc 0 "presence-pager.sh: exit 0"
is "$OUT" carol@localhost "presence-pager.sh: pages carol, available, not bob, busy"
xt_bg_wait carol
ok_rc 0 "presence-pager.sh: carol got the page"
record 1
is "${JSON[body]}" 'db1 is down' "... the message as written"

# 2. Only bob is online, busy: bob, the first online.
echo 'db1 is still down' >"$XT_DIR/page2"
run_stdin "$XT_DIR/page2" "$ex/presence-pager.sh" carol@localhost bob@localhost
is "$RC:$OUT" 0:bob@localhost "presence-pager.sh: nobody available: the first online (bob)"
xt_bg_kill busy
xt_bg_wait busy

# 3. Nobody online: everybody, and the server keeps it for each.
echo 'db1: anyone?' >"$XT_DIR/page3"
run_stdin "$XT_DIR/page3" "$ex/presence-pager.sh" bob@localhost carol@localhost
is "$RC:$OUT" "0:bob@localhost
carol@localhost" "presence-pager.sh: nobody online: pages everybody"
recv carol carol 1
xt_bg_wait carol
record 1
is "$RC:${JSON[body]}" '0:db1: anyone?' "... carol gets it when she logs in"
run_stdin /dev/null "$ex/presence-pager.sh" bob@localhost
ok_rc 2 "presence-pager.sh: no message: exit 2"

# --- cron-alert.sh -----------------------------------------------------------------

xt_bg alerts xt_peer muc --jid carol@localhost --password carol-pw --room "alerts@$M" \
	--create --count 1 --ready "$XT_DIR/alerts.ready" --timeout 30
xt_wait_file "$XT_DIR/alerts.ready" 20 alerts || bail_out "the room is not there: $(cat "$XT_DIR/alerts.err")"
run env CRON_ALERT_LIMIT=0 "$ex/cron-alert.sh" "alerts@$M" /
is "$RC:$ERR" 0: "cron-alert.sh: every file system over 0 %: exit 0, quietly"
xt_bg_wait alerts
body=$(grep '"kind": "message"' <<<"$OUT" | grep -v '"body": null' | head -n 1)
[ -n "$body" ] && body=$(xt_json "$body" body)
like "$body" "^$host: / is [0-9]+% full\$" "cron-alert.sh: the room got the report"
run env CRON_ALERT_LIMIT=101 "$ex/cron-alert.sh" "alerts@$M" /
is "$RC:$ERR:$OUT" 0:: "cron-alert.sh: nothing over the limit: nothing sent, nothing said"

# --- raw-queries.txt -----------------------------------------------------------------

sed 's/example\.org/localhost/g' "$ex/raw-queries.txt" >"$XT_DIR/raw.txt"
run_stdin "$XT_DIR/raw.txt" xsend --raw
ok_rc 0 "raw-queries.txt: xsend --raw: exit 0"
missing=
for id in v1 d1 i1 p1 r1 a1; do
	grep -E "id=[\"']${id}[\"']" <<<"$OUT" | grep -q -E "type=[\"']result[\"']" ||
		missing="$missing $id"
done
is "$missing" "" "raw-queries.txt: each query got its result"

# --- xpresence-status-bot -------------------------------------------------------------

# bob sees alice's presence: alice is the bot.
run "$XROSTER" -C "$(xt_config bob)" subscribe alice@localhost
[ "$RC" = 0 ] || bail_out "xroster subscribe (as bob) failed: $ERR"
run "$XROSTER" approve bob@localhost
[ "$RC" = 0 ] || bail_out "xroster approve failed: $ERR"
rm -f "$XT_DIR/watch.ready"
xt_bg watch xt_peer watch --jid bob@localhost --password bob-pw --from alice@localhost \
	--timeout 40 --ready "$XT_DIR/watch.ready"
xt_wait_file "$XT_DIR/watch.ready" 20 watch || bail_out "bob's watcher is not online"
xt_bg statusbot env STATUS_BOT_INTERVAL=1 "$ex/xpresence-status-bot"
ok "xpresence-status-bot: bob sees the load as alice's status" \
	xt_wait_grep "$XT_DIR/watch.out" \
	"\"status\": \"$host: load [0-9.]+ [0-9.]+ [0-9.]+ \\([0-9]+ CPUs\\)\"" 20 statusbot
xt_bg_kill statusbot
xt_bg_wait statusbot
ok "xpresence-status-bot: stopped, alice is unavailable to bob" \
	xt_wait_grep "$XT_DIR/watch.out" '"type": "unavailable"' 10 watch
xt_bg_kill watch
xt_bg_wait watch

# --- xlisten-notify ---------------------------------------------------------------------

if ! command -v jq >/dev/null 2>&1; then
	skip "xlisten-notify: jq is not installed" 2
else
	# notify-send is a stand-in that writes its arguments down.
	mkdir -p "$XT_DIR/bin"
	printf '#!/bin/sh\nprintf "%%s\\n" "$@" >>"%s"\n' "$XT_DIR/notify.log" >"$XT_DIR/bin/notify-send"
	chmod +x "$XT_DIR/bin/notify-send"
	# alice is offline: the server keeps the message until xlisten logs in.
	run xt_peer send --jid bob@localhost --password bob-pw --to alice@localhost \
		--type chat --body 'deploy done; tabs	and \ stay'
	[ "$RC" = 0 ] || diag "bob could not send: $ERR"
	run env PATH="$XT_DIR/bin:$PATH" "$ex/xlisten-notify" -c 1
	ok_rc 0 "xlisten-notify -c 1: exit 0"
	is "$(cat "$XT_DIR/notify.log" 2>/dev/null)" '--app-name=xlisten
--
bob@localhost
deploy done; tabs\tand \\ stay' "xlisten-notify: one notification, sender and escaped body"
fi
