#!/bin/bash
# SPDX-License-Identifier: MIT
# bench/oneshot.sh -- one-shot send: how long `xsend -m TEXT JID` takes and
# how much memory it uses against a local Prosody, next to a minimal
# libstrophe client (bench/minimal.c), the bare TLS handshake (openssl
# s_client), /bin/true, sendxmpp, go-sendxmpp and xmppc, and how many
# instructions one xsend run executes.
#
# It builds xmpptools (in $BUILD, default ./build, as demo.sh does), starts
# a throwaway Prosody on free loopback ports with tests/integration/lib.sh,
# keeps bob online with the slixmpp peer and sends him messages from alice:
#
#   latency   N timed runs of each tool after W warm-up runs (hyperfine -N,
#             or a loop on $EPOCHREALTIME when hyperfine is missing)
#   memory    peak RSS of M more runs (/usr/bin/time -f %M)
#   delivery  every message is numbered ("bench TOOL 17"); bob's log is
#             counted after each tool, so a tool that loses messages shows
#   trust     one more send per tool trusting only the system CAs: it must
#             fail and deliver nothing, which shows the tool verified the
#             test CA in the timed runs
#   phases    xsend -vv with each line time-stamped: where the time goes
#   callgrind instructions of one xsend run, twice (repeatable, unlike time)
#
# Every tool verifies the server certificate against the test CA:
#   xsend        cafile in its config file (on top of the system CAs)
#   sendxmpp     -t (STARTTLS) -a CA_FILE (Net::XMPP's ssl_ca_path)
#   go-sendxmpp  SSL_CERT_FILE=CA_FILE (Go reads it; 0.5.6 has no CA option)
#   xmppc        SSL_CERT_FILE=CA_FILE (read by OpenSSL; xmppc has no option)
# xmppc has no host or port option either: it looks up
# _xmpp-client._tcp.localhost and connects to localhost:5222. It runs in a
# private network namespace (unshare -n: loopback only, so the DNS query
# fails at once and nothing leaves the machine) where socat forwards
# 127.0.0.1:5222 through a Unix socket to the test server.
#
# Usage: bench/oneshot.sh [-n N] [-p N] [-x N] [-w N] [-m N] [-c N] [-v N]
#                         [-t TOOLS] [-o DIR] [-I]
#   -n N   timed xsend runs (default 50)
#   -p N   timed runs of sendxmpp and go-sendxmpp (default 20)
#   -x N   timed xmppc runs (default 3; each takes 10 s)
#   -w N   warm-up runs before the timed ones (default 3; none for xmppc)
#   -m N   peak-RSS runs per tool (default 5; 1 for xmppc)
#   -c N   callgrind runs of xsend (default 2)
#   -v N   xsend -vv runs for the phase table (default 10)
#   -t T   comma-separated subset of: xsend,xsend-direct-tls,xsend-test-ca-only,
#          xsend-agent,minimal,s_client,true,sendxmpp,go-sendxmpp,xmppc,
#          phases,callgrind (default: all)
#   -o DIR keep the raw results there (default: a new /tmp/xmpptools-bench.*)
#   -I     do not install missing Debian packages (skip what is missing)
#
# The rows next to xsend: xsend-agent sends through xsend's agent (only when
# `xsend --help` mentions --agent; otherwise its row says "not built");
# minimal is bench/minimal in $BUILD (`make bench` builds it; built here if
# missing); s_client is `openssl s_client -starttls xmpp` with the test CA,
# i.e. TCP, stream header, STARTTLS and the verified TLS handshake, without
# login or message; true is /bin/true, the cost of starting a process.
#
# Run it as root on Debian 12 (it installs what it needs with apt-get). It
# prints a Markdown report, also written to DIR/report.md (`oneshot.py table
# DIR` prints only its side-by-side table of ratios); bench/RESULTS.md
# records what it printed on the reference machine. Environment: BUILD,
# XT_SERVER_LOG_LEVEL (default info here: Prosody's debug log costs time),
# HYPERFINE (the program, default hyperfine; empty: time with a shell loop).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
cmdline="bench/oneshot.sh${*:+ $*}"

runs=50 peer_runs=20 xmppc_runs=3 warmup=3 rss_runs=5 cg_runs=2 vv_runs=10
tools=xsend,xsend-direct-tls,xsend-test-ca-only,xsend-agent,minimal,s_client,true
tools+=,sendxmpp,go-sendxmpp,xmppc,phases,callgrind
out='' install=1
usage() {
	sed -n '/^# Usage:/,/^#   -I/s/^# \{0,1\}//p' "$0" >&2
	exit "${1:-2}"
}
while getopts n:p:x:w:m:c:v:t:o:Ih opt; do
	case $opt in
	n) runs=$OPTARG ;;
	p) peer_runs=$OPTARG ;;
	x) xmppc_runs=$OPTARG ;;
	w) warmup=$OPTARG ;;
	m) rss_runs=$OPTARG ;;
	c) cg_runs=$OPTARG ;;
	v) vv_runs=$OPTARG ;;
	t) tools=$OPTARG ;;
	o) out=$OPTARG ;;
	I) install='' ;;
	h) usage 0 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ "$#" = 0 ] || usage
for v in "$runs" "$peer_runs" "$xmppc_runs" "$warmup" "$rss_runs" "$cg_runs" "$vv_runs"; do
	[[ $v =~ ^[0-9]+$ ]] || usage
done
want() { [[ ",$tools," == *",$1,"* ]]; }

say() { printf '%s\n' "$*" >&2; }

# --- packages and build ------------------------------------------------------

# tool -> Debian package
declare -A pkg_of=([hyperfine]=hyperfine [/usr/bin/time]=time [valgrind]=valgrind
	[callgrind_annotate]=valgrind [socat]=socat [sendxmpp]=sendxmpp
	[go-sendxmpp]=go-sendxmpp [xmppc]=xmppc [unshare]=util-linux [nsenter]=util-linux
	[ip]=iproute2)
needed=(hyperfine /usr/bin/time)
want callgrind && needed+=(valgrind callgrind_annotate)
want sendxmpp && needed+=(sendxmpp)
want go-sendxmpp && needed+=(go-sendxmpp)
want xmppc && needed+=(xmppc socat unshare nsenter ip)

if [ -n "$install" ]; then
	"$top/scripts/deps.sh" demo
	missing=()
	for p in "${needed[@]}"; do
		command -v "$p" >/dev/null 2>&1 || missing+=("${pkg_of[$p]}")
	done
	if [ "${#missing[@]}" -gt 0 ]; then
		if [ "$(id -u)" = 0 ]; then
			say "installing: ${missing[*]}"
			{ DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
				"${missing[@]}" || say "apt-get failed; going on without them"; } >&2
		else
			say "missing (not root, not installed): ${missing[*]}"
		fi
	fi
fi

if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ] ||
	[ "$top/Makefile.am" -nt "$top/Makefile.in" ]; then
	(cd "$top" && ./bootstrap) >/dev/null 2>&1
fi
mkdir -p "$build"
(
	cd "$build"
	[ -f Makefile ] || "$top/configure" -q
	make -s -j"$(nproc)" >/dev/null
	if want minimal; then
		make -s bench/minimal >/dev/null
	fi
)

# --- the test server ---------------------------------------------------------

# The test library starts and stops everything; this script is not a test.
top_srcdir=$top top_builddir=$build
XT_SERVER_LOG_LEVEL=${XT_SERVER_LOG_LEVEL:-info}
XT_CMD_TIMEOUT=${XT_CMD_TIMEOUT:-7200} # bob listens for the whole run
# shellcheck source-path=SCRIPTDIR/.. source=tests/integration/lib.sh
. "$top/tests/integration/lib.sh"
_xt_done=1
xt_need prosody slixmpp

# Debian's default trust store for every tool unless set on purpose below.
unset SSL_CERT_FILE SSL_CERT_DIR

if [ -z "$out" ]; then
	out=$(mktemp -d "${TMPDIR:-/tmp}/xmpptools-bench.XXXXXX")
else
	mkdir -p "$out"
	rm -f "$out/results.jsonl"
fi
out=$(cd "$out" && pwd)
helper() { "$XT_PYTHON" "$top/bench/oneshot.py" "$@"; }
record() { helper record "$out" "$1"; }
# json KEY=VALUE...: a JSON object of strings.
json() {
	"$XT_PYTHON" -c 'import json, sys
print(json.dumps(dict(a.split("=", 1) for a in sys.argv[1:])))' "$@"
}
note() {
	say "note: $*"
	record "$(json kind=note "text=$*")"
}

version() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo '?'; }
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
record "$(json kind=machine "date=$(date -u '+%Y-%m-%d %H:%M UTC')" "command=$cmdline" \
	"cpu=${cpu:-?}" "nproc=$(nproc)" "kernel=$(uname -sr)" "load=$(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min, at the start)" \
	"prosody=$(version prosody)" "libstrophe=$(version libstrophe0)" \
	"openssl=$(version libssl3)" "hyperfine=$(version hyperfine)" "valgrind=$(version valgrind)" \
	"xsend=$("$XSEND" --version 2>&1 | head -n 1) (built in $build)" \
	"tools=sendxmpp $(version sendxmpp), go-sendxmpp $(version go-sendxmpp), xmppc $(version xmppc)")"

xt_server_start
say "Prosody on 127.0.0.1:$XT_PORT (direct TLS $XT_TLS_PORT), results in $out"
conf=$(xt_config alice)
home=$XT_DIR/home
mkdir -p "$home/.config"
chmod 700 "$home"
bob_log=$XT_DIR/bob.out
xt_bg bob xt_peer recv --jid bob@localhost --password bob-pw \
	--timeout "$XT_CMD_TIMEOUT" --ready "$XT_DIR/bob.ready"
xt_wait_file "$XT_DIR/bob.ready" 30 bob || bail_out "bob's peer did not start"

# next.sh TOOL: number the next message of TOOL, in $XT_DIR/TOOL.body (run
# before every send, untimed: hyperfine's --prepare).
cat >"$XT_DIR/next.sh" <<'EOF'
#!/bin/sh
d=$(dirname "$0")
n=$(cat "$d/$1.n" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" >"$d/$1.n"
printf 'bench %s %s' "$1" "$n" >"$d/$1.body"
EOF
sent() { cat "$XT_DIR/$1.n" 2>/dev/null || echo 0; }

# measure TOOL RUNS WARMUP CMD...: wall time of CMD, RUNS times.
measure() {
	local tool=$1 n=$2 w=$3 i t0 t1 rc=0
	shift 3
	[ "$n" -gt 0 ] || return 0
	say "$tool: $w warm-up + $n timed runs"
	if [ -n "${HYPERFINE-hyperfine}" ] && command -v "${HYPERFINE-hyperfine}" >/dev/null 2>&1; then
		local cmd
		printf -v cmd '%q ' "$@"
		timeout -k 5 $(((n + w) * 120 + 60)) "${HYPERFINE-hyperfine}" -N --style basic \
			--warmup "$w" --runs "$n" --prepare "sh $XT_DIR/next.sh $tool" \
			--command-name "$tool" --export-json "$out/$tool.json" -- "$cmd" \
			>"$out/$tool.hyperfine.txt" 2>&1 || rc=$?
		if [ "$rc" != 0 ]; then
			note "$tool: hyperfine failed (exit $rc): $(tail -n 3 "$out/$tool.hyperfine.txt" | tr '\n' ' ')"
			return 1
		fi
		helper latency "$out" "$tool" hyperfine "$out/$tool.json"
	else
		: >"$out/$tool.ms"
		for ((i = 0; i < n + w; i++)); do
			sh "$XT_DIR/next.sh" "$tool"
			t0=$EPOCHREALTIME
			"$@" </dev/null >/dev/null 2>>"$out/$tool.err" || rc=$?
			t1=$EPOCHREALTIME
			if [ "$rc" != 0 ]; then
				note "$tool: run $((i + 1)) exited $rc: $(tail -n 3 "$out/$tool.err" | tr '\n' ' ')"
				return 1
			fi
			[ "$i" -lt "$w" ] && continue
			"$XT_PYTHON" -c 'import sys; print("%.3f" % ((float(sys.argv[2]) - float(sys.argv[1])) * 1000))' \
				"$t0" "$t1" >>"$out/$tool.ms"
		done
		helper latency "$out" "$tool" loop "$out/$tool.ms"
	fi
}

# rss TOOL RUNS CMD...: peak resident set size of CMD (KiB), RUNS times.
rss() {
	local tool=$1 n=$2 i lines
	shift 2
	[ "$n" -gt 0 ] || return 0
	: >"$out/$tool.rss"
	: >"$out/$tool.stderr"
	for ((i = 0; i < n; i++)); do
		sh "$XT_DIR/next.sh" "$tool"
		/usr/bin/time -f %M -o "$XT_DIR/rss.one" "$@" </dev/null >/dev/null 2>>"$out/$tool.stderr" ||
			note "$tool: a peak-RSS run exited $?"
		tail -n 1 "$XT_DIR/rss.one" >>"$out/$tool.rss"
	done
	helper rss "$out" "$tool" "$out/$tool.rss"
	lines=$(wc -l <"$out/$tool.stderr")
	[ "$lines" = 0 ] || note "$tool printed $lines lines on stderr in $n runs (see $tool.stderr)"
}

# barrier TOOL: carol sends bob a marker and we wait until bob printed it.
# Each tool has exited before (the server had its messages, or they are
# lost), so whatever bob will ever get from it came before the marker.
marker_n=0
barrier() {
	local i
	marker_n=$((marker_n + 1))
	run xt_peer send --jid carol@localhost --password carol-pw --to bob@localhost \
		--body "marker $marker_n $1"
	[ "$RC" = 0 ] || bail_out "the marker after $1 was not sent: $ERR"
	for ((i = 0; i < 3000; i++)); do
		grep -q "\"body\": \"marker $marker_n $1\"" "$bob_log" && return 0
		_xt_nap
	done
	bail_out "bob did not get the marker after $1"
}
delivery() {
	barrier "$1"
	helper delivery "$out" "$1" "$bob_log" "$(sent "$1")"
}
how() { record "$(json kind=how "tool=$1" "text=$2")"; }

# badca TOOL HOW CMD...: one send that must fail certificate verification.
badca() {
	local tool=$1-badca how=$2 rc=0 got
	shift 2
	sh "$XT_DIR/next.sh" "$tool"
	timeout -k 5 60 "$@" </dev/null >"$out/$tool.out" 2>&1 || rc=$?
	barrier "$tool"
	got=$(grep -c "\"body\": \"bench $tool [0-9]*" "$bob_log" || true)
	record "$(json kind=badca "tool=${tool%-badca}" "how=$how" "exit=$rc" "delivered=$got")"
}

# --- xsend ---------------------------------------------------------------------

xsend_f() { printf '%s\n' "$XT_DIR/$1.body"; }
if want xsend; then
	cmd=("$XSEND" -C "$conf" -f "$(xsend_f xsend)" bob@localhost)
	how xsend "STARTTLS, SCRAM-SHA-1; cafile = test CA (plus the system CAs)"
	measure xsend "$runs" "$warmup" "${cmd[@]}" || true
	rss xsend "$rss_runs" "${cmd[@]}"
	delivery xsend
	sed '/^cafile/d' "$conf" >"$XT_DIR/nocafile.conf"
	chmod 600 "$XT_DIR/nocafile.conf"
	badca xsend "config without cafile" \
		"$XSEND" -C "$XT_DIR/nocafile.conf" -f "$(xsend_f xsend-badca)" bob@localhost
fi
if want xsend-direct-tls; then
	cmd=("$XSEND" -C "$conf" --direct-tls --port "$XT_TLS_PORT" -f "$(xsend_f xsend-direct-tls)" bob@localhost)
	how xsend-direct-tls "--direct-tls (XEP-0368) to Prosody's direct TLS port; otherwise as xsend"
	measure xsend-direct-tls "$runs" "$warmup" "${cmd[@]}" || true
	rss xsend-direct-tls "$rss_runs" "${cmd[@]}"
	delivery xsend-direct-tls
fi
if want xsend-test-ca-only; then
	# What go-sendxmpp and xmppc get below: a trust store of one certificate.
	cmd=(env SSL_CERT_FILE="$XT_CA" SSL_CERT_DIR=/nonexistent
		"$XSEND" -C "$conf" -f "$(xsend_f xsend-test-ca-only)" bob@localhost)
	how xsend-test-ca-only "as xsend, with SSL_CERT_FILE=test CA (no system CA store to load)"
	measure xsend-test-ca-only "$runs" "$warmup" "${cmd[@]}" || true
	rss xsend-test-ca-only "$rss_runs" "${cmd[@]}"
	delivery xsend-test-ca-only
fi

# --- xsend through its agent -------------------------------------------------

# agent_stop: end, by pid, every process that carries XT_BENCH_AGENT=$XT_DIR:
# only the agents the runs below started (and their xsend clients) do.
agent_stop() {
	local p
	for p in /proc/[0-9]*; do
		# (the agent is not our child: wait fails, which set -e must not see)
		if tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qxF "XT_BENCH_AGENT=$XT_DIR"; then
			_xt_stop_pid "${p#/proc/}" 5 || true
		fi
	done
	return 0
}
if want xsend-agent; then
	if "$XSEND" --help 2>&1 | grep -q -e '--agent'; then
		xt_at_exit agent_stop
		mkdir -p "$XT_DIR/agent-run"
		chmod 700 "$XT_DIR/agent-run"
		# The first (warm-up) run starts the agent; the next ones use it.
		cmd=(env XT_BENCH_AGENT="$XT_DIR" HOME="$home" XDG_RUNTIME_DIR="$XT_DIR/agent-run"
			"$XSEND" --agent -C "$conf" -f "$(xsend_f xsend-agent)" bob@localhost)
		how xsend-agent "as xsend, with --agent: the warm-up runs start the agent, the timed ones send through it"
		measure xsend-agent "$runs" "$((warmup > 0 ? warmup : 1))" "${cmd[@]}" || true
		rss xsend-agent "$rss_runs" "${cmd[@]}"
		delivery xsend-agent
		agent_stop
	else
		how xsend-agent "not built (xsend --help does not mention --agent)"
	fi
fi

# --- the floor: a minimal libstrophe client, the TLS handshake, a process --------

if want minimal; then
	(
		umask 077
		printf 'alice-pw\n' >"$XT_DIR/alice.pw"
	)
	minimal=("$build/bench/minimal" "$XT_HOST" "$XT_PORT")
	minimal_rest=(alice@localhost "$XT_DIR/alice.pw" bob@localhost)
	how minimal "bench/minimal.c: libstrophe only; STARTTLS, SCRAM-SHA-1, cafile = test CA (plus the system CAs); message, ping barrier, close"
	cmd=("${minimal[@]}" "$XT_CA" "${minimal_rest[@]}" "$(xsend_f minimal)")
	measure minimal "$runs" "$warmup" "${cmd[@]}" || true
	rss minimal "$rss_runs" "${cmd[@]}"
	delivery minimal
	badca minimal "an empty CA file (system CAs)" \
		"${minimal[@]}" /dev/null "${minimal_rest[@]}" "$(xsend_f minimal-badca)"
fi
if want s_client; then
	s_client=(openssl s_client -starttls xmpp -xmpphost localhost -servername localhost -connect "$XT_HOST:$XT_PORT"
		-verify_hostname localhost -verify_return_error -verify_quiet -quiet -no_ign_eof)
	how s_client "openssl s_client -starttls xmpp -CAfile test CA, stdin /dev/null: TCP, stream header, STARTTLS, verified TLS handshake, close; no login, no message"
	measure s_client "$runs" "$warmup" "${s_client[@]}" -CAfile "$XT_CA" || true
	rss s_client "$rss_runs" "${s_client[@]}" -CAfile "$XT_CA"
	badca s_client "without -CAfile (system CAs)" "${s_client[@]}"
fi
if want true; then
	how true "/bin/true: starting and ending a process"
	measure true "$runs" "$warmup" /bin/true || true
	rss true "$rss_runs" /bin/true
fi

# --- sendxmpp ------------------------------------------------------------------

if want sendxmpp; then
	if command -v sendxmpp >/dev/null 2>&1; then
		# jserver is the address; component is the domain in the stream header.
		(
			umask 077
			printf 'username: alice\njserver: %s\nport: %s\npassword: alice-pw\ncomponent: localhost\n' \
				"$XT_HOST" "$XT_PORT" >"$home/.sendxmpprc"
		)
		cmd=(env HOME="$home" sendxmpp -t -a "$XT_CA" -m "$XT_DIR/sendxmpp.body" bob@localhost)
		how sendxmpp "-t (STARTTLS) -a test CA; ~/.sendxmpprc; PLAIN (no SCRAM in Authen::SASL::Perl)"
		measure sendxmpp "$peer_runs" "$warmup" "${cmd[@]}" || true
		rss sendxmpp "$rss_runs" "${cmd[@]}"
		delivery sendxmpp
		badca sendxmpp "-t without -a (system CAs)" \
			env HOME="$home" sendxmpp -t -m "$XT_DIR/sendxmpp-badca.body" bob@localhost
	else
		note "sendxmpp is not installed: skipped"
	fi
fi

# --- go-sendxmpp -----------------------------------------------------------------

if want go-sendxmpp; then
	if command -v go-sendxmpp >/dev/null 2>&1; then
		(
			umask 077
			printf 'username: alice@localhost\njserver: %s\nport: %s\npassword: alice-pw\n' \
				"$XT_HOST" "$XT_PORT" >"$XT_DIR/go-sendxmpp.conf"
		)
		cmd=(env HOME="$home" SSL_CERT_FILE="$XT_CA" go-sendxmpp -f "$XT_DIR/go-sendxmpp.conf"
			-m "$XT_DIR/go-sendxmpp.body" bob@localhost)
		how go-sendxmpp "STARTTLS; SSL_CERT_FILE=test CA (no CA option in 0.5.6); -f config"
		measure go-sendxmpp "$peer_runs" "$warmup" "${cmd[@]}" || true
		rss go-sendxmpp "$rss_runs" "${cmd[@]}"
		delivery go-sendxmpp
		badca go-sendxmpp "without SSL_CERT_FILE (system CAs)" \
			env HOME="$home" go-sendxmpp -f "$XT_DIR/go-sendxmpp.conf" \
			-m "$XT_DIR/go-sendxmpp-badca.body" bob@localhost
	else
		note "go-sendxmpp is not installed: skipped"
	fi
fi

# --- xmppc ---------------------------------------------------------------------------

if want xmppc && [ "$xmppc_runs" -gt 0 ]; then
	if ! command -v xmppc >/dev/null 2>&1 || ! command -v socat >/dev/null 2>&1; then
		note "xmppc or socat is not installed: xmppc skipped"
	elif ! unshare -n true 2>/dev/null; then
		note "cannot make a network namespace (unshare -n): xmppc skipped"
	else
		(
			umask 077
			printf '[default]\njid=alice@localhost\npwd=alice-pw\n' >"$home/.config/xmppc.conf"
		)
		sock=$XT_DIR/xmppc.sock
		xt_bg fwd-host socat "UNIX-LISTEN:$sock,fork" "TCP:$XT_HOST:$XT_PORT"
		xt_wait_file "$sock" 15 fwd-host || bail_out "socat did not listen on $sock"
		xt_bg fwd-ns unshare -n sh -c \
			"ip link set lo up && exec socat TCP-LISTEN:5222,bind=127.0.0.1,reuseaddr,fork UNIX-CONNECT:$sock"
		tpid=$(xt_bg_pid fwd-ns) nspid=''
		for ((i = 0; i < 1500; i++)); do
			# timeout's child is unshare, which became sh and then socat
			if [ -z "$nspid" ]; then
				# "PID " without a newline: read would fail
				nspid=$(cat "/proc/$tpid/task/$tpid/children" 2>/dev/null) || nspid=''
				nspid=${nspid%% *}
			fi
			if [ -n "$nspid" ] &&
				[ -n "$(nsenter -t "$nspid" -n ss -Hltn 'sport = :5222' 2>/dev/null)" ]; then
				break
			fi
			_xt_nap
		done
		[ -n "$nspid" ] || bail_out "the network namespace for xmppc did not start"
		# xmppc takes the text from its arguments only.
		cat >"$XT_DIR/xmppc.sh" <<EOF
#!/bin/sh
# xmppc.sh TOOL [CA]: send \$dir/TOOL.body with xmppc, inside the namespace
exec nsenter -t $nspid -n env HOME=$home \${2:+SSL_CERT_FILE=\$2} \\
	xmppc -a default -m message chat bob@localhost "\$(cat $XT_DIR/\$1.body)"
EOF
		how xmppc "STARTTLS, SCRAM-SHA-1 (libstrophe); SSL_CERT_FILE=test CA; own network namespace, socat to the server; its sleep(10) included"
		measure xmppc "$xmppc_runs" 0 sh "$XT_DIR/xmppc.sh" xmppc "$XT_CA" || true
		rss xmppc 1 sh "$XT_DIR/xmppc.sh" xmppc "$XT_CA"
		delivery xmppc
		badca xmppc "without SSL_CERT_FILE (system CAs)" sh "$XT_DIR/xmppc.sh" xmppc-badca
	fi
fi

# --- where xsend's time goes ------------------------------------------------------

if want phases && [ "$vv_runs" -gt 0 ]; then
	say "phases: $vv_runs runs of xsend -vv"
	sh "$XT_DIR/next.sh" xsend-vv
	helper phases "$out" "$vv_runs" "$XSEND" -vv -C "$conf" -f "$XT_DIR/xsend-vv.body" bob@localhost
fi

if want callgrind && [ "$cg_runs" -gt 0 ]; then
	if command -v valgrind >/dev/null 2>&1; then
		for ((i = 1; i <= cg_runs; i++)); do
			say "callgrind: run $i of $cg_runs"
			sh "$XT_DIR/next.sh" xsend-callgrind
			valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.$i.out" \
				"$XSEND" -C "$conf" -f "$XT_DIR/xsend-callgrind.body" bob@localhost \
				</dev/null >/dev/null 2>"$out/callgrind.$i.log" ||
				{
					note "callgrind run $i failed: $(tail -n 3 "$out/callgrind.$i.log" | tr '\n' ' ')"
					continue
				}
			helper callgrind "$out" "$i" "$out/callgrind.$i.out"
			callgrind_annotate --inclusive=yes "$out/callgrind.$i.out" \
				>"$out/callgrind.$i.inclusive.txt" 2>/dev/null || true
		done
	else
		note "valgrind is not installed: no instruction counts"
	fi
fi

record "$(json kind=machine_end "load=$(cut -d' ' -f1-3 /proc/loadavg)")"
xt_bg_kill bob
xt_bg_wait bob
cp "$bob_log" "$out/bob.jsonl"
helper report "$out" | tee "$out/report.md"
say "raw results in $out"
