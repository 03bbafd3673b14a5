#!/bin/bash
# SPDX-License-Identifier: MIT
# t1008-xsend-agent: xsend --agent, the persistent agent: one login reused
# by later runs, its idle exit, a stale socket, an unsafe directory, other
# settings, a server restart under it, exit codes through it, and a storm
# of 100 concurrent runs; what arrives is counted by the slixmpp peer.
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp
plan 74

xt_server_start
conf=$(xt_config alice)

# The agents of this script live under a runtime directory of its own.
export XDG_RUNTIME_DIR=$XT_DIR/run
mkdir -m 700 "$XDG_RUNTIME_DIR"
sockdir=$XDG_RUNTIME_DIR/xmpptools

# agent_pids: the pids of the agents of this script: processes of our
# xsend, leaders of their own session (setsid), started with a config file
# of $XT_DIR (other xsends on this machine are none of ours).
agent_pids() {
	local p sid
	for p in $(pgrep -x xsend); do
		sid=$(ps -o sid= -p "$p" 2>/dev/null | tr -d ' ')
		[ "$sid" = "$p" ] || continue
		[ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$XSEND" ] || continue
		tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | grep -q "^$XT_DIR/" &&
			echo "$p"
	done
}

# stop_agents: end every agent this script started (by pid), wait for them.
stop_agents() {
	local p
	for p in $(agent_pids); do
		kill -TERM "$p" 2>/dev/null
	done
	for _ in $(seq 300); do
		[ -z "$(agent_pids)" ] && return 0
		_xt_nap
	done
	return 1
}
xt_at_exit stop_agents

# sockets: the agents' sockets in the directory, one a line.
sockets() {
	find "$sockdir" -maxdepth 1 -type s 2>/dev/null
}

# logins: how many times alice has logged in so far (the server's log).
logins() {
	xt_server_logins alice@localhost
}

# recv_start USER COUNT: a slixmpp peer that prints what USER receives.
recv_start() {
	rm -f "$XT_DIR/$1.ready"
	xt_bg "$1" xt_peer recv --jid "$1@localhost" --password "$1-pw" \
		--count "$2" --timeout 30 --ready "$XT_DIR/$1.ready"
	xt_wait_file "$XT_DIR/$1.ready" 20 "$1" || bail_out "$1's peer is not ready"
}

# bodies: the bodies the peer printed (its JSON lines in $OUT), sorted.
bodies() {
	"$XT_PYTHON" -c '
import json, sys
for line in sys.stdin:
    print(json.loads(line)["body"])' <<<"$OUT" | sort
}

# wait_gone: poll until no agent runs (at most SECONDS, default 10).
wait_gone() {
	local i
	for ((i = 0; i < ${1:-10} * 100; i++)); do
		[ -z "$(agent_pids)" ] && return 0
		_xt_nap
	done
	return 1
}

# --- reuse: the first run starts the agent, the next ones log in no more ----

recv_start bob 3
before=$(logins)
run "$XSEND" -C "$conf" --agent=30 -v -m "one" bob@localhost
ok_rc 0 "first --agent run: exit 0"
like "$ERR" 'started the agent' "it started the agent"
like "$ERR" 'sent through the agent' "and sent through it"
is "$(agent_pids | wc -l)" 1 "one agent runs"
sock=$(sockets)
ok "the socket is in \$XDG_RUNTIME_DIR/xmpptools" test -S "$sock"
is "$(stat -c %a "$sockdir")" 700 "the directory is 0700"
run "$XSEND" -C "$conf" --agent=30 -v -m "two" bob@localhost
ok_rc 0 "second run: exit 0"
unlike "$ERR" 'started the agent|[Ll]ogged in|connect' "second run: no new agent, no connection of its own"
run "$XSEND" -C "$conf" --agent=30 -m "three" bob@localhost
ok_rc 0 "third run: exit 0"
is "$ERR" "" "third run: nothing on stderr"
is "$(($(logins) - before))" 1 "three runs, one login"
xt_bg_wait bob
ok_rc 0 "the peer got three messages"
is "$(bodies | tr '\n' ' ')" "one three two " "all three arrived"

# --- exit codes pass through: a bounce is 8 with the direct run's line ------

run "$XSEND" -C "$conf" -m "hello?" nobody@localhost
direct_err=$ERR
ok_rc 8 "direct: an unknown user is 8"
run "$XSEND" -C "$conf" --agent=30 -m "hello?" nobody@localhost
ok_rc 8 "through the agent: 8 too"
is "$ERR" "$direct_err" "through the agent: the same line"
recv_start bob 2
run "$XSEND" -C "$conf" --agent=30 -m "to both" bob@localhost nobody@localhost
ok_rc 8 "one of two recipients refused: 8"
is "$ERR" "xsend: nobody@localhost: service-unavailable" "only the refused one is named"
# A bare --agent before a recipient: popt takes the JID as its value; it is
# given back as a recipient.
run "$XSEND" -C "$conf" -m "bare --agent" --agent bob@localhost
ok_rc 0 "a bare --agent before the recipient: exit 0"
xt_bg_wait bob
is "$(bodies | tr '\n' ' ')" "bare --agent to both " "bob got both"
# Junk on the socket (a bad length, a frame of version 9) harms no one.
"$XT_PYTHON" - "$(sockets)" <<'PY'
import socket, sys
for junk in (b"\xff\xff\xff\xffjunk", b"\x00\x00\x00\x02\x09Q", b"\x00\x00\x00\x07\x01Qxx\x00\x00"):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(junk)
    s.shutdown(socket.SHUT_WR)
    s.recv(100)
    s.close()
PY
before=$(logins)
run "$XSEND" -C "$conf" --agent=30 -m "after the junk" carol@localhost
ok_rc 0 "after junk from other clients: exit 0"
is "$(($(logins) - before))" 0 "through the same agent"
run "$XSEND" -C "$conf" --agent=30 --bogus bob@localhost
ok_rc 2 "a usage error is still 2"
printf 'bad \001 byte' >"$XT_DIR/ctl.txt"
run "$XSEND" -C "$conf" --agent=30 -f "$XT_DIR/ctl.txt" bob@localhost
ok_rc 2 "a body XML cannot carry: 2, found before the agent"
like "$ERR" 'cannot be sent in XML' "with the direct run's line"
is "$(agent_pids | wc -l)" 1 "the agent survived them all"

# --- other settings: another account, another CA file -----------------------

xt_register erin erin-pw
conf_erin=$(xt_config erin)
recv_start bob 2
run "$XSEND" -C "$conf_erin" --agent=30 -v -m "from erin" bob@localhost
ok_rc 0 "another account: exit 0"
like "$ERR" 'started the agent' "another account: an agent of its own"
is "$(agent_pids | wc -l)" 2 "two agents now"
cp "$XT_CA" "$XT_DIR/ca-copy.pem"
run "$XSEND" -C "$conf" --cafile "$XT_DIR/ca-copy.pem" --agent=30 -v -m "other ca" bob@localhost
ok_rc 0 "another CA file: exit 0"
like "$ERR" 'started the agent' "another CA file: not alice's first agent"
xt_bg_wait bob
is "$(bodies | tr '\n' ' ')" "from erin other ca " "both arrived"
stop_agents
ok "the agents stop on SIGTERM" test -z "$(agent_pids)"
ok "and remove their sockets" test -z "$(sockets)"

# An agent found under the name of other settings answers "not for me".
alice_sock=$("$XSEND" -C "$conf" --agent=30 -v -m x carol@localhost 2>&1 >/dev/null |
	sed -n 's/.*started the agent \([^ ]*\) .*/\1/p')
stop_agents
"$XSEND" -C "$conf_erin" --agent=30 -m x carol@localhost
erin_sock=$(sockets)
mv "$erin_sock" "$alice_sock"
recv_start bob 1
before=$(logins)
run "$XSEND" -C "$conf" --agent=30 -v -m "not for erin's agent" bob@localhost
ok_rc 0 "erin's agent under alice's name: exit 0"
like "$ERR" 'is not for these settings; logging in directly' "it said not for me; direct login"
is "$(($(logins) - before))" 1 "alice logged in herself"
xt_bg_wait bob
like "$OUT" "not for erin's agent" "it arrived"
like "$OUT" '"from": "alice@localhost/' "from alice, not erin"
stop_agents
rm -f "$alice_sock"

# --- a stale socket, an unsafe directory ------------------------------------

"$XT_PYTHON" -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$alice_sock"
ok "a stale socket file (no listener)" test -S "$alice_sock"
recv_start bob 1
run "$XSEND" -C "$conf" --agent=30 -m "over a stale socket" bob@localhost
ok_rc 0 "stale socket: exit 0"
is "$ERR" "" "stale socket: silently"
xt_bg_wait bob
like "$OUT" 'over a stale socket' "it arrived"
stop_agents

chmod 777 "$sockdir"
recv_start bob 1
before=$(logins)
run "$XSEND" -C "$conf" --agent=30 -m "dir 0777" bob@localhost
ok_rc 0 "directory mode 0777: exit 0"
like "$ERR" 'not using the agent: .*mode 0777' "a warning names the mode"
is "$(agent_pids | wc -l)" 0 "no agent started"
xt_bg_wait bob
like "$OUT" 'dir 0777' "it arrived (a direct login)"
chmod 700 "$sockdir"
if [ "$(id -u)" = 0 ]; then
	chown nobody "$sockdir"
	run "$XSEND" -C "$conf" --agent=30 -m "dir of nobody" carol@localhost
	ok_rc 0 "directory of another user: exit 0"
	like "$ERR" 'not using the agent: .*owned by uid' "a warning names the owner"
	chown 0 "$sockdir"
else
	skip "not root: cannot give the directory away" 2
fi

# --- idle exit ---------------------------------------------------------------

run "$XSEND" -C "$conf" --agent=1 -m "short-lived" carol@localhost
ok_rc 0 "--agent=1: exit 0"
is "$(agent_pids | wc -l)" 1 "the agent runs"
ok "it exits after 1 s without use" wait_gone 5
ok "and removes its socket" test -z "$(sockets)"

# --- the config key ---------------------------------------------------------

conf_key=$XT_DIR/alice-agent.conf
{
	cat "$conf"
	echo "agent = 30"
} >"$conf_key"
chmod 600 "$conf_key"
run "$XSEND" -C "$conf_key" -v -m "by the key" carol@localhost
ok_rc 0 "the config key agent = 30: exit 0"
like "$ERR" 'started the agent' "the key starts the agent"
run "$XSEND" -C "$conf_key" --agent=no -v -m "not by the key" carol@localhost
ok_rc 0 "--agent=no: exit 0"
unlike "$ERR" 'through the agent' "--agent=no overrides the key"
stop_agents

# --- the server restarts under the agent -------------------------------------

run "$XSEND" -C "$conf" --agent=60 -m "before the restart" carol@localhost
ok_rc 0 "an agent for the restart: exit 0"
xt_server_restart
ok "the agent exits when its session is lost" wait_gone 10
recv_start bob 1
run "$XSEND" -C "$conf" --agent=60 -v -m "after the restart" bob@localhost
ok_rc 0 "the next run: exit 0"
like "$ERR" 'started the agent' "it started a new agent"
xt_bg_wait bob
like "$OUT" 'after the restart' "it arrived"
stop_agents

# --- in flight: a silent server (7), then a lost session (4) ---------------

run "$XSEND" -C "$conf" --agent=60 -m "warm" carol@localhost
ok_rc 0 "an agent for the faults: exit 0"
xt_server_pause
run "$XSEND" -C "$conf" --agent=60 -w 1 -m "to a stopped server" carol@localhost
ok_rc 7 "the server does not answer the agent's ping in time: 7"
is "$ERR" "xsend: carol@localhost: the server did not confirm the message in time" \
	"with the direct run's line"
xt_bg inflight "$XSEND" -C "$conf" --agent=60 -w 20 -m "in flight" carol@localhost
sleep 0.5
xt_server_kill
xt_bg_wait inflight
ok_rc 4 "the agent's session lost with a message in flight: 4"
like "$ERR" '^xsend: [^ ]+: ' "one line from the agent's session"
is "$(wc -l <<<"$ERR")" 1 "only that line"
ok "the agent is gone" wait_gone 10
xt_server_restart

# --- a storm: 100 at once, one login ----------------------------------------

recv_start bob 100
before=$(logins)
for i in $(seq 100); do
	"$XSEND" -C "$conf" --agent=30 -m "storm $i" bob@localhost \
		>/dev/null 2>"$XT_DIR/storm.$i.err" &
	storm[i]=$!
done
fails=0
for i in $(seq 100); do
	wait "${storm[i]}" || fails=$((fails + 1))
done
is "$fails" 0 "100 concurrent runs: all exit 0"
is "$(cat "$XT_DIR"/storm.*.err)" "" "nothing on stderr"
is "$(($(logins) - before))" 1 "one login for the 100"
xt_bg_wait bob
ok_rc 0 "the peer got 100 messages"
is "$(bodies)" "$(seq 100 | sed 's/^/storm /' | sort)" "each one, exactly once"
stop_agents
