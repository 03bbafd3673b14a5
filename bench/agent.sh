#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/agent.sh -- xsend --agent: the cost of one send through a running
# agent, against starting a trivial process (/bin/true) and against xsend's
# own direct login, all three in one hyperfine run (with `xsend --version`,
# the floor of starting xsend at all: exec and its shared libraries); then a storm of 100
# concurrent sends through one agent (logins counted in the server's log,
# exit codes, wall time).
#
# It builds xmpptools (in $BUILD, default ./build), starts a throwaway
# Prosody with tests/integration/lib.sh (debug log off), and sends
# `xsend -t headline -m x alice@localhost/void`: a headline to a resource
# that is not online is dropped by the server, so the run measures xsend
# and the server's stream processing, not a receiving client.  The agent
# lives in a private $XDG_RUNTIME_DIR and is stopped (by its pid) at exit.
#
# Usage: bench/agent.sh [-r RUNS]   (default 200 runs per command)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
runs=200
while getopts r: opt; do
	case $opt in
	r) runs=$OPTARG ;;
	*)
		echo "usage: $0 [-r RUNS]" >&2
		exit 2
		;;
	esac
done
command -v hyperfine >/dev/null || apt-get install -y -q hyperfine >/dev/null
command -v valgrind >/dev/null || apt-get install -y -q valgrind >/dev/null

# shellcheck source=bench/common.sh
. "$top/bench/common.sh"
set +e

export XDG_RUNTIME_DIR=$XT_DIR/run
mkdir -m 700 "$XDG_RUNTIME_DIR"
conf=$(xt_config alice)
send=("$XSEND" -C "$conf" -t headline -m x alice@localhost/void)

# The agent, started once; its pid from -v, to stop it at exit.
agent_pid=$("${send[@]}" --agent=600 -v 2>&1 >/dev/null |
	sed -n 's/.*started the agent .* (pid \([0-9]*\)).*/\1/p')
[ -n "$agent_pid" ] || {
	echo "bench/agent.sh: the agent did not start" >&2
	exit 1
}
xt_at_exit kill -TERM "$agent_pid"
logins() {
	grep -c 'Authenticated as alice@localhost' "$XT_SERVER_LOG"
}

json=$XT_DIR/agent.json
before=$(logins)
hyperfine -N --style basic --warmup 20 --runs "$runs" --export-json "$json" \
	--command-name true /bin/true \
	--command-name startup "$XSEND --version" \
	--command-name agent "${send[*]} --agent=600" \
	--command-name direct "${send[*]}" >"$XT_DIR/hyperfine.out" 2>&1 || {
	cat "$XT_DIR/hyperfine.out" >&2
	exit 1
}
after=$(logins)

# The storm: 100 at once, through the same agent.
start=$(date +%s%N)
pids=()
for i in $(seq 100); do
	"${send[@]}" --agent=600 >/dev/null 2>&1 &
	pids+=($!)
done
fails=0
for p in "${pids[@]}"; do
	wait "$p" || fails=$((fails + 1))
done
storm_ms=$((($(date +%s%N) - start) / 1000000))
storm_logins=$(($(logins) - after))

# Instructions (callgrind, user space only: no exec, no page faults), which
# the load of a shared machine does not blur.
ir() {
	valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
		sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
ir_true=$(ir /bin/true)
ir_startup=$(ir "$XSEND" --version)
ir_agent=$(ir "${send[@]}" --agent=600)
ir_direct=$(ir "${send[@]}")

"$XT_PYTHON" - "$json" "$runs" <<'EOF'
import json, statistics, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
med = {k: statistics.median(v["times"]) * 1000 for k, v in res.items()}
for k in ("true", "startup", "agent", "direct"):
    t = sorted(res[k]["times"])
    print(f"| {k} | {med[k]:.3f} | {t[int(len(t) * 0.9)] * 1000:.3f} | "
          f"{t[0] * 1000:.3f} | {t[-1] * 1000:.3f} |")
low = {k: min(v["times"]) * 1000 for k, v in res.items()}
print(f"\nagent / true = {med['agent'] / med['true']:.2f} by the medians, "
      f"{low['agent'] / low['true']:.2f} by the minima (target <= 2)")
print(f"agent / direct = {med['agent'] / med['direct']:.3f} by the medians, "
      f"{low['agent'] / low['direct']:.3f} by the minima (target <= 0.1)")
print(f"startup / true = {med['startup'] / med['true']:.2f} by the medians, "
      f"{low['startup'] / low['true']:.2f} by the minima")
EOF
echo "logins during the hyperfine run ($runs agent runs, $((runs + 20)) direct runs and warm-ups): $((after - before))"
echo "instructions: true $ir_true, startup $ir_startup, agent $ir_agent, direct $ir_direct"
echo "storm: 100 concurrent sends through the agent: $fails failed, $storm_logins login(s), ${storm_ms} ms wall"
