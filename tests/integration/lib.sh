# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# tests/integration/lib.sh -- TAP helpers, a throwaway Prosody, peers and a
# fake server for the xmpptools integration tests.
#
# Sourced by tests/integration/tNNNN-name.sh, which automake's TAP driver runs
# (`make check`) with top_srcdir and top_builddir set; a script also runs by
# hand from anywhere: bash tests/integration/t0000-harness.sh.
#
#   set -u
#   . "$(dirname "$0")/lib.sh"
#   xt_need server slixmpp
#   plan 2
#   xt_server_start
#   run "$XSEND" --config "$(xt_config alice)" bob@localhost -m hi
#   ok_rc 0 "xsend exits 0"
#   is "$OUT" "" "xsend prints nothing"
#
# Everything runs on 127.0.0.1 and lives in a private directory $XT_DIR,
# made when this file is sourced and removed at exit (keep it with
# XT_KEEP=1). A single EXIT trap (also run on HUP, INT, TERM and PIPE) stops
# every process started here, by pid; add your own clean-up with xt_at_exit,
# never with trap. Call xt_server_start directly, not in $(...), and never a
# bare `wait` (the server is a background job too): use xt_bg_wait NAME.
#
# The peer (xt_peer, tests/peer/xpeer.py) exits 0 ok, 2 usage, 3 timeout,
# 4 connection failed or lost, 5 TLS, 6 authentication, 8 bounce, 9 stream
# error; recv prints one JSON object per received message.
#
# Exit status of a script: 0 when its plan was completed, whatever the
# results (failed tests are reported by their "not ok" lines, and the TAP
# driver fails the script for them); otherwise the status it died with, or 1.
# skip_all exits 0, bail_out 1.
#
# TAP:     plan N | done_testing | skip_all REASON | bail_out REASON | diag TEXT
#          pass DESC | fail DESC [DIAG...] | ok DESC CMD [ARGS...]
#          ok_rc EXPECTED DESC | is GOT EXPECTED DESC | like GOT ERE DESC
#          unlike GOT ERE DESC | skip REASON [COUNT]
#          is_error_line GOT LINE DESC
# Running: run CMD [ARGS...] | run_stdin FILE CMD [ARGS...]
#          -> OUT, ERR, RC; files $XT_DIR/last.out, $XT_DIR/last.err
#          xt_bg NAME CMD [ARGS...] | xt_bg_wait NAME | xt_bg_kill NAME [SIG]
#          xt_bg_pid NAME | xt_wait_file FILE [SECONDS [NAME]]
#          xt_need PROGRAM... | xt_at_exit CMD [ARGS...]
#          xt_json JSON KEY [-j] | xt_json_load JSON (-> array JSON[KEY])
# Server:  xt_server_start | xt_server_stop | xt_server_restart
#          xt_server_kill | xt_server_pause | xt_server_resume
#          xt_register USER PASSWORD | xt_config USER [EXTRA_LINE...]
# Peers:   xt_peer SUBCOMMAND [ARGS...] (tests/peer/xpeer.py)
# Faults:  xt_fake_start MODE | xt_free_port | xt_closed_port
#
# Variables: top_srcdir top_builddir XSEND XLISTEN XROSTER XPRESENCE XT_DIR
# XT_PYTHON; after xt_server_start: XT_HOST XT_PORT XT_TLS_PORT XT_DOMAIN
# XT_MUC XT_CA XT_LEAF_SHA256 XT_SERVER_LOG XT_SERVER_PID XT_PEER (array);
# after xt_fake_start: XT_FAKE_PORT XT_FAKE_PID XT_FAKE_LOG.
# Settings: XMPP_SERVER (prosody or ejabberd), XT_CMD_TIMEOUT (60), XT_KEEP,
# XT_SERVER_LOG_LEVEL (Prosody's, debug), XT_EJABBERD_LOG_LEVEL (info),
# XT_PYTHON (/usr/bin/python3, the interpreter that has python3-slixmpp).

# ---------------------------------------------------------------------------
# Locations

if [ -z "${top_srcdir:-}" ]; then
	top_srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fi
top_srcdir=$(cd "$top_srcdir" && pwd)
top_builddir=$(cd "${top_builddir:-$top_srcdir}" && pwd)
export top_srcdir top_builddir

export XSEND="$top_builddir/cmd/xsend"
export XLISTEN="$top_builddir/cmd/xlisten"
export XROSTER="$top_builddir/cmd/xroster"
export XPRESENCE="$top_builddir/cmd/xpresence"

XT_PYTHON=${XT_PYTHON:-/usr/bin/python3}
XT_PEER_DIR="$top_srcdir/tests/peer"

# ---------------------------------------------------------------------------
# TAP

_xt_n=0           # tests run so far
_xt_failed=0      # of which failed
_xt_plan=''       # the planned count, once plan was called
_xt_done=''       # set by skip_all and bail_out: they choose the exit status

diag() {
	local line
	while IFS= read -r line; do
		printf '# %s\n' "$line"
	done <<<"$*"
}

plan() {
	_xt_plan=$1
	printf '1..%s\n' "$1"
}

done_testing() {
	if [ -z "$_xt_plan" ]; then
		_xt_plan=$_xt_n
		printf '1..%s\n' "$_xt_n"
	fi
}

skip_all() {
	if [ "$_xt_n" -gt 0 ]; then
		bail_out "skip_all after $_xt_n tests: $*"
	fi
	printf '1..0 # SKIP %s\n' "$*"
	_xt_done=1
	exit 0
}

bail_out() {
	printf 'Bail out! %s\n' "$*"
	_xt_done=1
	exit 1
}

# _xt_result STATUS DESC [DIRECTIVE]: one TAP line. A '#' in the description
# would start a directive, so it is escaped; a newline would end the line.
_xt_result() {
	local desc=${2//$'\n'/ }
	desc=${desc//\#/\\#}
	_xt_n=$((_xt_n + 1))
	printf '%s %d%s%s\n' "$1" "$_xt_n" "${desc:+ - $desc}" "${3:+ # $3}"
}

pass() {
	_xt_result ok "$1"
}

fail() {
	local desc=$1
	shift
	_xt_result 'not ok' "$desc"
	_xt_failed=$((_xt_failed + 1))
	local d
	for d in "$@"; do
		diag "$d"
	done
	return 1
}

# ok DESC CMD [ARGS...]: passes when the command exits 0 (it runs in this
# shell, e.g. ok "log exists" test -s "$XT_SERVER_LOG").
ok() {
	local desc=$1
	shift
	if "$@"; then
		pass "$desc"
	else
		fail "$desc" "command failed: $*"
	fi
}

skip() {
	local i
	for ((i = 0; i < ${2:-1}; i++)); do
		_xt_result ok '' "SKIP $1"
	done
}

# ok_rc EXPECTED DESC: compares the $RC of the last run.
ok_rc() {
	if [ "${RC-}" = "$1" ]; then
		pass "$2"
	else
		fail "$2" "exit status: got ${RC-unset}, expected $1" \
			"stderr: $(_xt_q "${ERR-}")" "stdout: $(_xt_q "${OUT-}")"
	fi
}

is() {
	if [ "$1" = "$2" ]; then
		pass "$3"
	else
		fail "$3" "     got: $(_xt_q "$1")" "expected: $(_xt_q "$2")"
	fi
}

# like GOT ERE DESC: bash [[ =~ ]]: an extended regular expression searched
# anywhere in GOT; '.' also matches a newline, ^ and $ anchor the whole value.
like() {
	if [[ $1 =~ $2 ]]; then
		pass "$3"
	else
		fail "$3" "     got: $(_xt_q "$1")" "expected to match: $2"
	fi
}

unlike() {
	if [[ $1 =~ $2 ]]; then
		fail "$3" "     got: $(_xt_q "$1")" "expected not to match: $2"
	else
		pass "$3"
	fi
}

# is_error_line GOT WANT DESC: GOT is the one line WANT, or WANT followed by
# ": " and the text a server may give with its error (ejabberd does).
is_error_line() {
	if [[ $1 == "$2: "* && $1 != *$'\n'* ]]; then
		pass "$3"
	else
		is "$1" "$2" "$3"
	fi
}

# A value on one line with every special character escaped (bash's %q).
_xt_q() {
	printf '%q' "$1"
}

# ---------------------------------------------------------------------------
# Clean-up

_xt_hooks=()            # xt_at_exit commands, each quoted with %q
declare -A _xt_bg_pid=() # xt_bg: NAME -> pid
_xt_fake_pids=()        # xt_fake_start pids

xt_at_exit() {
	local cmd
	printf -v cmd '%q ' "$@"
	_xt_hooks+=("$cmd")
}

# _xt_alive PID: the process exists and is not a zombie waiting to be reaped.
_xt_alive() {
	local _pid _comm state
	[ -r "/proc/$1/stat" ] || return 1
	read -r _pid _comm state _ 2>/dev/null <"/proc/$1/stat" || return 1
	[ "$state" != Z ]
}

# _xt_stop_pid PID [GRACE_SECONDS]: SIGTERM (and SIGCONT, in case it was
# stopped), then SIGKILL after the grace period; reaps it if it is our child.
_xt_stop_pid() {
	local pid=$1 i limit=$((${2:-5} * 100))
	kill -TERM "$pid" 2>/dev/null || return 0
	kill -CONT "$pid" 2>/dev/null
	for ((i = 0; i < limit; i++)); do
		_xt_alive "$pid" || break
		_xt_nap
	done
	if _xt_alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

_xt_on_exit() {
	local status=$? i name pid log_tail=''
	set +e
	trap '' PIPE # stdout may be gone (| head): still clean up
	for ((i = ${#_xt_hooks[@]} - 1; i >= 0; i--)); do
		eval "${_xt_hooks[i]}"
	done
	# What the server said up to the failure, before its shutdown messages.
	if [ "$_xt_failed" -gt 0 ] && [ -n "${XT_SERVER_LOG:-}" ] && [ -s "$XT_SERVER_LOG" ]; then
		log_tail=$(tail -n 30 "$XT_SERVER_LOG")
	fi
	for name in "${!_xt_bg_pid[@]}"; do
		_xt_stop_pid "${_xt_bg_pid[$name]}" 2
	done
	for pid in "${_xt_fake_pids[@]}"; do
		_xt_stop_pid "$pid" 2
	done
	if [ -n "${XT_SERVER_PID:-}" ]; then
		# ejabberd takes seconds to stop cleanly: its data goes anyway.
		[ "$XT_SERVER" = ejabberd ] && kill -KILL "$XT_SERVER_PID" 2>/dev/null
		_xt_stop_pid "$XT_SERVER_PID" 5
		XT_SERVER_PID=''
	fi
	[ -z "${_xt_server_shell:-}" ] || _xt_stop_pid "$_xt_server_shell" 2
	if [ -n "${XT_DIR:-}" ] && [ "${XT_KEEP:-0}" != 1 ]; then
		rm -rf "$XT_DIR"
	fi

	# The TAP stream reports failed tests; the exit status only says whether
	# the script got through its plan (as automake's TAP driver expects).
	if [ -z "$_xt_done" ]; then
		if [ -n "$_xt_plan" ] && [ "$_xt_plan" = "$_xt_n" ]; then
			status=0
		else
			diag "planned ${_xt_plan:-no} tests but ran $_xt_n (exit status $status)"
			[ "$status" = 0 ] && status=1
		fi
	fi
	if [ "$_xt_failed" -gt 0 ]; then
		diag "failed $_xt_failed of $_xt_n tests"
		if [ -n "$log_tail" ]; then
			diag "last lines of the server log:"
			diag "$log_tail"
		fi
	fi
	[ "${XT_KEEP:-0}" = 1 ] && diag "XT_KEEP=1: kept $XT_DIR"
	exit "$status"
}

trap _xt_on_exit EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 141' PIPE

XT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/xt.XXXXXX") ||
	bail_out "cannot create a temporary directory"
export XT_DIR

# _xt_nap: wait 10 ms without a fork (polling loops run it many times): a
# read with a timeout on a FIFO that nobody writes to. Opened read-write, so
# opening does not block.
if ! mkfifo "$XT_DIR/.nap" || ! exec {_xt_nap_fd}<>"$XT_DIR/.nap"; then
	bail_out "cannot create $XT_DIR/.nap"
fi
_xt_nap() {
	read -r -t 0.01 -u "$_xt_nap_fd" _ || :
}

# ---------------------------------------------------------------------------
# Running commands

# The identity of the stdin this script started with: run uses /dev/null
# instead of it, but keeps a stdin the caller redirected (run CMD <file).
_xt_stdin_id() {
	stat -L -c '%d:%i' /dev/stdin 2>/dev/null || echo none
}
_xt_stdin0=$(_xt_stdin_id)

# _xt_argv CMD [ARGS...]: sets the array _xt_argv to what to execute. A
# shell function NAME can be run here if _xt_argv_NAME turns it into a
# command line (as for xt_peer); other functions cannot, since they would
# escape the timeout and could not be killed by pid.
_xt_argv() {
	if declare -F "_xt_argv_$1" >/dev/null; then
		"_xt_argv_$1" "${@:2}"
	elif declare -F "$1" >/dev/null; then
		bail_out "run/xt_bg: shell function $1 cannot be run with a timeout"
	else
		_xt_argv=("$@")
	fi
}

_xt_read_outputs() {
	# $(<file) drops NUL bytes with a warning; the files keep them.
	{
		OUT=$(<"$1")
		ERR=$(<"$2")
	} 2>/dev/null
}

_xt_run() {
	_xt_argv "$@"
	timeout -k 5 "${XT_CMD_TIMEOUT:-60}" "${_xt_argv[@]}" \
		>"$XT_DIR/last.out" 2>"$XT_DIR/last.err"
	RC=$?
	_xt_read_outputs "$XT_DIR/last.out" "$XT_DIR/last.err"
	if [ "$RC" = 124 ] || [ "$RC" = 137 ]; then
		diag "run: timed out after ${XT_CMD_TIMEOUT:-60} s (exit $RC): $*"
	fi
	return 0
}

# run CMD [ARGS...]: OUT (stdout), ERR (stderr), RC (exit status); trailing
# newlines are dropped from OUT and ERR (the files keep them). Never fails.
run() {
	if [ "$(_xt_stdin_id)" != "$_xt_stdin0" ]; then
		_xt_run "$@"
	else
		_xt_run "$@" </dev/null
	fi
}

run_stdin() {
	local file=$1
	shift
	_xt_run "$@" <"$file"
}

# xt_bg NAME CMD [ARGS...]: start in the background, stdin /dev/null, stdout
# in $XT_DIR/NAME.out, stderr in $XT_DIR/NAME.err, with the same timeout as
# run. Sets XT_BG_PID. Stopped at exit unless waited for.
xt_bg() {
	local name=$1
	shift
	_xt_argv "$@"
	timeout -k 5 "${XT_CMD_TIMEOUT:-60}" "${_xt_argv[@]}" \
		</dev/null >"$XT_DIR/$name.out" 2>"$XT_DIR/$name.err" &
	XT_BG_PID=$!
	_xt_bg_pid[$name]=$XT_BG_PID
}

xt_bg_pid() {
	printf '%s\n' "${_xt_bg_pid[$1]}"
}

# xt_bg_wait NAME: wait for it to end; sets RC, OUT and ERR as run does.
xt_bg_wait() {
	local pid=${_xt_bg_pid[$1]:?xt_bg_wait: no background process named $1}
	wait "$pid"
	RC=$?
	unset "_xt_bg_pid[$1]"
	_xt_read_outputs "$XT_DIR/$1.out" "$XT_DIR/$1.err"
	return 0
}

# xt_bg_kill NAME [SIGNAL]: send a signal (default TERM); does not wait.
xt_bg_kill() {
	kill -"${2:-TERM}" "${_xt_bg_pid[$1]:?xt_bg_kill: no background process named $1}"
}

# xt_wait_file FILE [SECONDS [NAME]]: poll (10 ms) until FILE exists; fails
# after SECONDS (default 15), or at once when background process NAME ended.
xt_wait_file() {
	local i limit=$((${2:-15} * 100))
	for ((i = 0; i < limit; i++)); do
		[ -e "$1" ] && return 0
		if [ -n "${3:-}" ] && ! _xt_alive "${_xt_bg_pid[$3]:-0}"; then
			[ -e "$1" ]
			return
		fi
		_xt_nap
	done
	return 1
}

# xt_need PROGRAM...: skip_all unless each is there. "slixmpp" means:
# $XT_PYTHON can import slixmpp.
# _xt_need_python "MODULE..." PACKAGES: skip_all unless $XT_PYTHON finds
# every module (find_spec locates a package without the cost of importing
# it).
_xt_need_python() {
	# shellcheck disable=SC2086 # $1: the modules, one a word
	"$XT_PYTHON" -c 'import importlib.util, sys
sys.exit(any(importlib.util.find_spec(m) is None for m in sys.argv[1:]))' $1 \
		>/dev/null 2>&1 ||
		skip_all "$XT_PYTHON cannot import ${1// /, } $2"
}

xt_need() {
	local p
	for p in "$@"; do
		case $p in
		server)
			case $XT_SERVER in
			prosody) command -v prosody >/dev/null 2>&1 || skip_all "prosody is not installed" ;;
			ejabberd) command -v ejabberdctl >/dev/null 2>&1 || skip_all "ejabberd is not installed" ;;
			esac
			;;
		slixmpp)
			_xt_need_python slixmpp "(python3-slixmpp)"
			;;
		omemo) # the OMEMO peer, tests/peer/omemo_peer.py
			_xt_need_python "omemo oldmemo twomemo xmlschema" \
				"(python3-omemo python3-oldmemo python3-twomemo python3-xmlschema)"
			;;
		*)
			command -v "$p" >/dev/null 2>&1 || skip_all "$p is not installed"
			;;
		esac
	done
}

# xt_json JSON KEY [-j]: print the value of KEY of a JSON object: strings
# as they are, anything else (and with -j, strings too) as JSON, so null is
# "null" and "null" is "\"null\"" with -j. Fails if KEY is absent.
xt_json() {
	"$XT_PYTHON" -c '
import json, sys
obj = json.loads(sys.argv[1])
if not isinstance(obj, dict) or sys.argv[2] not in obj:
    sys.exit("xt_json: no key %r in %r" % (sys.argv[2], sys.argv[1]))
v = obj[sys.argv[2]]
print(v if isinstance(v, str) and sys.argv[3:] != ["-j"]
      else json.dumps(v, ensure_ascii=False))
' "$@"
}

# xt_json_load JSON: fill the associative array JSON with the top-level
# fields of a JSON object, in one Python start (strings as they are, other
# values as JSON text: null, true, 3, [...]). Fails if it is not an object.
# shellcheck disable=SC2034 # filled for the caller
declare -gA JSON=()
xt_json_load() {
	local code
	code=$("$XT_PYTHON" -c '
import json, shlex, sys
obj = json.loads(sys.argv[1])
if not isinstance(obj, dict):
    sys.exit("xt_json_load: not a JSON object: %r" % sys.argv[1])
print("JSON=(" + " ".join(
    "[%s]=%s" % (shlex.quote(k), shlex.quote(
        v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)))
    for k, v in obj.items()) + ")")
' "$1") || return 1
	eval "$code"
}

# ---------------------------------------------------------------------------
# Ports

# _xt_port_busy PORT: something uses that local TCP port (any state).
_xt_port_busy() {
	local hex f _sl local_addr _rest
	printf -v hex ':%04X' "$1"
	for f in /proc/net/tcp /proc/net/tcp6; do
		[ -r "$f" ] || continue
		while read -r _sl local_addr _rest; do
			[[ $local_addr == *"$hex" ]] && return 0
		done <"$f"
	done
	return 1
}

# _xt_pick_port: set _xt_port to a loopback TCP port nothing uses now,
# below the ephemeral range (so no outgoing connection takes it meanwhile),
# never the same one twice in a script: the ports given are listed in
# $XT_DIR/ports, so that this also holds for $(xt_free_port) in subshells.
_xt_pick_port() {
	local low _high tries given=' ' p
	read -r low _high </proc/sys/net/ipv4/ip_local_port_range
	[ "$low" -gt 12000 ] || low=32768
	if [ -e "$XT_DIR/ports" ]; then
		while read -r p; do given+="$p "; done <"$XT_DIR/ports"
	fi
	for ((tries = 0; tries < 200; tries++)); do
		_xt_port=$((10000 + (${SRANDOM:-$((RANDOM * 32768 + RANDOM))} % (low - 10000))))
		[[ $given == *" $_xt_port "* ]] && continue
		_xt_port_busy "$_xt_port" && continue
		printf '%s\n' "$_xt_port" >>"$XT_DIR/ports"
		return 0
	done
	echo "xt_free_port: no free port found" >&2
	return 1
}

# xt_free_port: print a free loopback TCP port (see _xt_pick_port).
xt_free_port() {
	_xt_pick_port && printf '%s\n' "$_xt_port"
}

# xt_closed_port: a port where nothing listens (connections are refused).
xt_closed_port() {
	xt_free_port
}

# _xt_listening PID PORT...: PID listens on 127.0.0.1:PORT, for each PORT.
_xt_listening() {
	local pid=$1 port filter='' sockets line found
	shift
	for port in "$@"; do
		filter+="${filter:+ or }sport = :$port"
	done
	sockets=$(ss -Hltnp "$filter" 2>/dev/null)
	for port in "$@"; do
		found=''
		while IFS= read -r line; do
			[[ $line == *" 127.0.0.1:$port "*"pid=$pid,"* ]] && found=1
		done <<<"$sockets"
		[ -n "$found" ] || return 1
	done
}

# _xt_wait_listen PID PORT...: poll (10 ms, at most 15 s) until some
# process listens on each port, then check it is PID. Fails when PID dies.
_xt_wait_listen() {
	local pid=$1 i port want
	shift
	for ((i = 0; i < 1500; i++)); do
		_xt_alive "$pid" || return 1
		local all=1
		for port in "$@"; do
			printf -v want '0100007F:%04X' "$port"
			_xt_listen_seen "$want" || {
				all=''
				break
			}
		done
		if [ -n "$all" ]; then
			_xt_listening "$pid" "$@" || return 2
			return 0
		fi
		_xt_nap
	done
	return 1
}

# _xt_listen_seen ADDR: /proc/net/tcp has a LISTEN socket on ADDR (hex).
_xt_listen_seen() {
	local _sl local_addr _rem state _rest
	while read -r _sl local_addr _rem state _rest; do
		[ "$local_addr" = "$1" ] && [ "$state" = 0A ] && return 0
	done </proc/net/tcp
	return 1
}

# ---------------------------------------------------------------------------
# The server: Prosody or ejabberd

# XMPP_SERVER chooses it: prosody (the default) or ejabberd. Every test that
# uses a server runs against either; one that depends on a server's own
# behaviour says so with xt_only.
XT_SERVER=${XMPP_SERVER:-prosody}
case $XT_SERVER in
prosody | ejabberd) ;;
*) bail_out "XMPP_SERVER must be prosody or ejabberd, not '$XT_SERVER'" ;;
esac
export XT_SERVER XT_HOST=127.0.0.1 XT_DOMAIN=localhost XT_MUC=conference.localhost
XT_SERVER_DIR="$XT_DIR/$XT_SERVER"
# XT_SERVER_NAME: the name in its XEP-0092 version reply. XT_TYPE_NORMAL:
# the type attribute a peer receives of a message sent with type='normal':
# ejabberd re-serializes stanzas and leaves out the default (RFC 6121 5.2.2).
case $XT_SERVER in
prosody) XT_SERVER_NAME=Prosody XT_TYPE_NORMAL=normal ;;
ejabberd) XT_SERVER_NAME=ejabberd XT_TYPE_NORMAL=null ;;
esac
export XT_SERVER_DIR XT_SERVER_NAME XT_TYPE_NORMAL
XT_SERVER_PID=''
_xt_server_shell='' # ejabberd: the ejabberdctl shell whose child is the VM
_xt_setup=' '       # the SETUP words of xt_server_start, space-separated
declare -A _xt_password=()

# xt_only SERVER REASON: skip the rest of the script (skip_all) unless the
# test server is SERVER; REASON says why it does not apply to the other.
xt_only() {
	[ "$XT_SERVER" = "$1" ] || skip_all "$XT_SERVER: $2"
}

# xt_setup WORD: xt_server_start was given WORD.
xt_setup() {
	[[ $_xt_setup == *" $1 "* ]]
}

# _xt_certs DIR [SAN]: a throwaway CA and a leaf for localhost signed by it;
# SAN defaults to the domain, the room service and 127.0.0.1.
_xt_certs() {
	local d=$1 san=${2:-DNS:localhost,DNS:conference.localhost,IP:127.0.0.1}
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/ca.key" -out "$d/ca.pem" -days 3650 \
		-subj '/CN=xmpptools test CA' \
		-addext 'basicConstraints=critical,CA:TRUE' \
		-addext 'keyUsage=critical,keyCertSign,cRLSign' 2>>"$d/openssl.err" &&
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$d/localhost.key" -out "$d/localhost.crt" -days 3650 \
			-subj '/CN=localhost' -CA "$d/ca.pem" -CAkey "$d/ca.key" \
			-addext 'basicConstraints=critical,CA:FALSE' \
			-addext 'keyUsage=critical,digitalSignature' \
			-addext 'extendedKeyUsage=serverAuth' \
			-addext "subjectAltName=$san" \
			2>>"$d/openssl.err"
}

# _xt_fingerprint PEM: export XT_LEAF_SHA256, the SHA-256 of the DER
# certificate as openssl x509 -fingerprint -sha256 prints it (AB:CD:...);
# coreutils start much faster than openssl.
_xt_fingerprint() {
	local hex i
	hex=$(sed '/^-----/d' "$1" | base64 -d | sha256sum) || return 1
	hex=${hex%% *}
	hex=${hex^^}
	XT_LEAF_SHA256=${hex:0:2}
	for ((i = 2; i < ${#hex}; i += 2)); do
		XT_LEAF_SHA256+=":${hex:i:2}"
	done
	export XT_LEAF_SHA256
}

# --- Prosody

_xt_prosody_config() {
	local s=$1 c2s="$XT_PORT" sasl='' mam='"mam";' https='' http_off='"http"; ' upload='' pep=''
	xt_setup direct-tls-only && c2s=''
	# PEP (XEP-0163, OMEMO's device lists and bundles) only when SETUP says
	# pep: the other tests run on a server as it was before.
	xt_setup pep && pep='"pep";'
	# Message archive (XEP-0313, xlisten --state) unless SETUP says no-mam.
	xt_setup no-mam && mam=''
	# PLAIN only, as a server whose accounts live in LDAP offers.
	xt_setup plain-only &&
		sasl='disable_sasl_mechanisms = { "SCRAM-SHA-1", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "DIGEST-MD5" }'
	# upload (xsend --upload): XEP-0363 on https://localhost:XT_HTTPS_PORT
	# (*.localhost does not resolve here), the test certificate, 1 MiB;
	# upload-http: the same, but the slots it hands out say http://.
	if xt_setup upload || xt_setup upload-http; then
		https=$XT_HTTPS_PORT http_off=''
		upload="Component \"upload.localhost\" \"http_file_share\"
	http_host = \"localhost\"
	http_external_url = \"http$(xt_setup upload-http || echo s)://localhost:$XT_HTTPS_PORT/\"
	http_file_share_size_limit = 1048576"
	fi
	cat >"$s/prosody.cfg.lua" <<EOF_CFG
-- Written by tests/integration/lib.sh: a throwaway server on loopback.
daemonize = false
run_as_root = true
pidfile = "$s/prosody.pid"
data_path = "$s/data"
admin_socket = "$s/prosody.sock"
certificates = "$s/certs"
log = { $XT_SERVER_LOG_LEVEL = "$s/prosody.log" }

interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { $c2s }
c2s_direct_tls_ports = { $XT_TLS_PORT }
legacy_ssl_ports = { }
s2s_ports = { }
s2s_direct_tls_ports = { }
component_ports = { }
http_ports = { }
https_ports = { $https }
https_ssl = { certificate = "$s/certs/localhost.crt"; key = "$s/certs/localhost.key" }
network_settings = { nagle = false }

modules_enabled = {
	"roster"; "saslauth"; "tls"; "disco"; "ping"; "smacks";
	"offline"; "carbons"; "version"; "posix"; $pep $mam
}
archive_expires_after = "1w"
default_archive_policy = true
modules_disabled = {
	"s2s"; "s2s_auth_certs"; ${http_off}"bosh"; "websocket";
	"admin_telnet"; "admin_shell"; "limits";
}
limits = { }

c2s_require_encryption = true
authentication = "internal_hashed"
$sasl
allow_registration = false
ssl = { certificate = "$s/certs/localhost.crt"; key = "$s/certs/localhost.key" }

VirtualHost "localhost"
Component "conference.localhost" "muc"
$upload
EOF_CFG
}

# _xt_prosody_spawn: start prosody in the background (XT_SERVER_PID).
_xt_prosody_spawn() {
	local s=$XT_SERVER_DIR
	# The server must not keep the script's other descriptors open: a fifo
	# a test writes to would never see its end while the server lives.
	(
		_xt_close_fds
		exec prosody --config "$s/prosody.cfg.lua" -F
	) </dev/null >>"$s/prosody.stdout" 2>&1 &
	XT_SERVER_PID=$!
}

# _xt_prosody_wait: wait until prosody listens on its ports; otherwise stop
# it and return 1 (it died or timed out) or 2 (another process has a port).
_xt_prosody_wait() {
	local rc s=$XT_SERVER_DIR pid cmdline
	_xt_wait_listen "$XT_SERVER_PID" "${_xt_ports[@]}"
	rc=$?
	if [ "$rc" != 0 ]; then
		_xt_stop_pid "$XT_SERVER_PID" 2
		XT_SERVER_PID=''
		# Should the process we started not be prosody itself (a wrapper),
		# stop the prosody that wrote our pidfile too, if it runs our config.
		pid=$(cat "$s/prosody.pid" 2>/dev/null) # no newline at its end
		if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ]; then
			cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline")
			[[ $cmdline == *"$s/prosody.cfg.lua"* ]] && _xt_stop_pid "$pid" 2
		fi
	fi
	return "$rc"
}

# _xt_prosody_accounts USER PASSWORD...: the account files, written directly
# (the server need not run); prosodyctl for names that need stringprep.
_xt_prosody_accounts() {
	local s=$XT_SERVER_DIR
	"$XT_PYTHON" "$XT_PEER_DIR/prosody_accounts.py" "$s/data" "$XT_DOMAIN" "$@" 2>/dev/null && return 0
	[ "$#" = 2 ] || return 1
	prosodyctl --config "$s/prosody.cfg.lua" register "$1" "$XT_DOMAIN" "$2" \
		>>"$s/prosodyctl.log" 2>&1 || {
		diag "$(tail -n 5 "$s/prosodyctl.log")"
		return 1
	}
}

# --- ejabberd (the mechanism is ../shared's verified recipe: ejabberdctl
# with CONFIG_DIR pointing at our own ejabberdctl.cfg, running as the
# calling user, no epmd, the Erlang distribution on a loopback port)

_xt_ejabberd_config() {
	local s=$1 dist_port=$2 cookie starttls='' scram=sha mam https='' upload='' pubsub=''
	# PEP (XEP-0163, OMEMO's device lists and bundles) only when SETUP says
	# pep: mod_pubsub changes what ejabberd does around presence.
	xt_setup pep &&
		pubsub=$'  mod_pubsub:\n    access_createnode: local\n    plugins:\n      - flat\n      - pep'
	# Message archive (XEP-0313, xlisten --state) only when SETUP says mam:
	# ejabberd writes each message to a Mnesia disc table, which makes a
	# stream of 10,000 messages take minutes instead of a second.
	mam=''
	xt_setup mam && mam=$'  mod_mam:\n    default: always\n    db_type: mnesia'
	# Debian's ejabberd.yml stores SCRAM-SHA-1; scram-only: SCRAM-SHA-256,
	# as hardened servers do.
	xt_setup scram-only && scram=sha256
	read -r cookie _ < <(head -c 16 /dev/urandom | md5sum)
	cat >"$s/ejabberdctl.cfg" <<EOF_CTL
ERLANG_NODE=xt$dist_port@localhost
ERL_DIST_PORT=$dist_port
ERL_OPTIONS="-setcookie $cookie -kernel inet_dist_use_interface {127,0,0,1} -env ERL_CRASH_DUMP_BYTES 0"
SPOOL_DIR=$s/db
LOGS_DIR=$s/logs
EJABBERD_CONFIG_PATH=$s/ejabberd.yml
EJABBERD_PID_PATH=$s/ejabberd.pid
CONTRIB_MODULES_PATH=$s/contrib
EJABBERD_BYPASS_WARNINGS=true
EXEC_CMD=as_current_user
EOF_CTL
	cp /etc/ejabberd/inetrc "$s/inetrc" 2>/dev/null || : >"$s/inetrc"
	if ! xt_setup direct-tls-only; then
		starttls="  - port: $XT_PORT
    ip: \"127.0.0.1\"
    module: ejabberd_c2s
    starttls_required: true
    max_stanza_size: 262144
    shaper: none
    access: c2s
    backlog: 1024"
	fi
	# upload (xsend --upload): XEP-0363 on https://localhost:XT_HTTPS_PORT
	# (*.localhost does not resolve here), the test certificate, 1 MiB;
	# upload-http: the same, but the slots it hands out say http://.
	if xt_setup upload || xt_setup upload-http; then
		https="  - port: $XT_HTTPS_PORT
    ip: \"127.0.0.1\"
    module: ejabberd_http
    tls: true
    request_handlers:
      /upload: mod_http_upload"
		upload="  mod_http_upload:
    host: \"upload.@HOST@\"
    put_url: \"http$(xt_setup upload-http || echo s)://localhost:$XT_HTTPS_PORT/upload\"
    docroot: \"$s/upload\"
    max_size: 1048576"
	fi
	cat >"$s/ejabberd.yml" <<EOF_YML
# Written by tests/integration/lib.sh: a throwaway server on loopback.
loglevel: ${XT_EJABBERD_LOG_LEVEL:-info}
log_rotate_count: 0
hosts:
  - localhost
certfiles:
  - "$s/certs/server.pem"
ca_file: "$s/certs/ca.pem"
acme:
  auto: false
listen:
$starttls
  - port: $XT_TLS_PORT
    ip: "127.0.0.1"
    module: ejabberd_c2s
    tls: true
    max_stanza_size: 262144
    shaper: none
    access: c2s
    backlog: 1024
$https
s2s_access: none
auth_method: internal
auth_password_format: scram
auth_scram_hash: $scram
$(xt_setup plain-only && printf '%s\n' 'disable_sasl_mechanisms:' '  - scram-sha-1' \
		'  - scram-sha-1-plus' '  - scram-sha-256' '  - scram-sha-256-plus' \
		'  - scram-sha-512' '  - scram-sha-512-plus' '  - digest-md5' '  - x-oauth2')
registration_timeout: infinity
max_fsm_queue: 1000000
acl:
  local:
    user_regexp: ""
  loopback:
    ip:
      - 127.0.0.0/8
access_rules:
  local:
    allow: local
  c2s:
    allow: all
  register:
    allow: all
  register_ip:
    allow: loopback
  muc_create:
    allow: local
api_permissions:
  "console commands":
    from:
      - ejabberd_ctl
    who: all
    what: "*"
shaper_rules:
  max_user_sessions: 100
  max_user_offline_messages: 100000
modules:
  mod_adhoc: {}
  mod_blocking: {}
  mod_caps: {}
  mod_carboncopy: {}
  mod_client_state: {}
  mod_disco: {}
  mod_admin_extra: {}
  mod_last: {}
$mam
  mod_muc:
    host: "conference.@HOST@"
    access:
      - allow
    access_create: muc_create
    access_persistent: muc_create
    max_user_conferences: 1000
  mod_offline:
    access_max_user_messages: max_user_offline_messages
  mod_ping: {}
$pubsub
  mod_privacy: {}
  mod_register:
    access: register
    ip_access: register_ip
    password_strength: 0
  mod_roster:
    versioning: true
  mod_stream_mgmt:
    resend_on_timeout: if_offline
    max_ack_queue: 1000000
    resume_timeout: 60
  mod_version: {}
$upload
EOF_YML
}

# _xt_ejabberd_spawn: start ejabberd in the foreground of a background
# ejabberdctl; XT_SERVER_PID becomes the VM's pid once it wrote it.
_xt_ejabberd_spawn() {
	local s=$XT_SERVER_DIR
	rm -f "$s/ejabberd.pid"
	(
		_xt_close_fds
		CONFIG_DIR=$s exec ejabberdctl foreground
	) </dev/null >>"$s/ejabberd.stdout" 2>&1 &
	_xt_server_shell=$!
	XT_SERVER_PID=''
}

# _xt_ejabberd_wait: like _xt_prosody_wait, for the VM (up to 30 s).
_xt_ejabberd_wait() {
	local s=$XT_SERVER_DIR i pid='' rc
	for ((i = 0; i < 3000; i++)); do
		[ -s "$s/ejabberd.pid" ] && read -r pid <"$s/ejabberd.pid" && [ -n "$pid" ] && break
		_xt_alive "$_xt_server_shell" || break
		_xt_nap
	done
	if [ -z "$pid" ]; then
		_xt_stop_pid "$_xt_server_shell" 2
		return 1
	fi
	XT_SERVER_PID=$pid
	_xt_wait_listen "$XT_SERVER_PID" "${_xt_ports[@]}"
	rc=$?
	if [ "$rc" != 0 ]; then
		_xt_stop_pid "$XT_SERVER_PID" 2
		_xt_stop_pid "$_xt_server_shell" 2
		XT_SERVER_PID=''
	fi
	return "$rc"
}

# _xt_ejabberd_accounts USER PASSWORD...: in-band registration (XEP-0077),
# open to loopback only; one process for all (each ejabberdctl call would
# start an Erlang VM, half a second).
_xt_ejabberd_accounts() {
	local port=$XT_PORT opt=()
	xt_setup direct-tls-only && port=$XT_TLS_PORT opt=(--direct-tls)
	"$XT_PYTHON" "$XT_PEER_DIR/register.py" --port "$port" "${opt[@]}" \
		--ca "$XT_CA" --domain "$XT_DOMAIN" "$@" 2>>"$XT_SERVER_DIR/register.err" || {
		diag "$(tail -n 5 "$XT_SERVER_DIR/register.err")"
		return 1
	}
}

# --- Either

# _xt_close_fds: close every descriptor above 2 (in a subshell that will
# exec a server).
_xt_close_fds() {
	local fd
	for fd in "/proc/$BASHPID/fd/"*; do
		fd=${fd##*/}
		[ "$fd" -gt 2 ] && eval "exec $fd>&-"
	done
}

_xt_server_failed() {
	local s=$XT_SERVER_DIR f
	diag "$XT_SERVER did not start on 127.0.0.1 (ports ${_xt_ports[*]}): $1"
	for f in "$s/$XT_SERVER.stdout" "$s/logs/error.log"; do
		[ -s "$f" ] && diag "$(tail -n 20 "$f")"
	done
	[ -s "$XT_SERVER_LOG" ] && diag "$(grep -v -w debug "$XT_SERVER_LOG" | tail -n 40)"
	bail_out "cannot start $XT_SERVER ($1)"
}

# _xt_server_up: spawn the server and wait for it; 0, 1 (died or timed out)
# or 2 (a port was taken).
_xt_server_up() {
	_xt_ports=("$XT_TLS_PORT")
	xt_setup direct-tls-only || _xt_ports=("$XT_PORT" "$XT_TLS_PORT")
	if xt_setup upload || xt_setup upload-http; then
		_xt_ports+=("$XT_HTTPS_PORT") # the upload service too
	fi
	"_xt_${XT_SERVER}_spawn"
	"_xt_${XT_SERVER}_wait"
}

# xt_server_start [SETUP...]: a fresh server with alice, bob, carol and dave
# (password USER-pw) on free loopback ports. Bails out when it cannot start.
# SETUP words, for configurations seen in the wild: scram-only (ejabberd
# stores SCRAM-SHA-256 only; Prosody always stores SCRAM-SHA-1 only),
# plain-only (only PLAIN is offered, as with LDAP accounts), direct-tls-only
# (no STARTTLS port: XT_PORT is the direct TLS port, xt_config and the peer
# use it), domain-cert (the certificate names the domain only, not the
# address 127.0.0.1 the tools connect to), mam (a message archive,
# XEP-0313: Prosody keeps one anyway, ejabberd only then), no-mam (none on
# either), upload (an XEP-0363
# service, upload.localhost, on https://localhost:XT_HTTPS_PORT, limit 1
# MiB), upload-http (the same, handing out http:// slots), pep (XEP-0163
# personal eventing, which OMEMO needs: Prosody's mod_pep, ejabberd's
# mod_pubsub with the pep plugin).
xt_server_start() {
	local s=$XT_SERVER_DIR tries rc=1 accounts_pid='' dist_port=''
	[ -z "$XT_SERVER_PID" ] || return 0
	xt_need server openssl
	_xt_setup=" $* "
	XT_SERVER_LOG_LEVEL=${XT_SERVER_LOG_LEVEL:-debug}
	rm -rf "$s"
	mkdir -p "$s/certs" "$s/data" "$s/db" "$s/logs" || bail_out "cannot create $s"

	_xt_password=([alice]=alice-pw [bob]=bob-pw [carol]=carol-pw [dave]=dave-pw)
	if [ "$XT_SERVER" = prosody ]; then
		# Account files Prosody reads at login: written meanwhile.
		_xt_prosody_accounts alice alice-pw bob bob-pw carol carol-pw dave dave-pw &
		accounts_pid=$!
		XT_SERVER_LOG="$s/prosody.log"
	else
		XT_SERVER_LOG="$s/logs/ejabberd.log"
	fi

	local san=
	xt_setup domain-cert && san=DNS:localhost,DNS:conference.localhost
	_xt_certs "$s/certs" ${san:+"$san"} || {
		diag "$(cat "$s/certs/openssl.err")"
		bail_out "cannot make the test certificates"
	}
	cat "$s/certs/localhost.crt" "$s/certs/localhost.key" "$s/certs/ca.pem" >"$s/certs/server.pem"
	XT_CA="$s/certs/ca.pem"
	export XT_CA XT_SERVER_LOG

	for ((tries = 1; tries <= 5; tries++)); do
		_xt_pick_port || bail_out "no free port"
		XT_PORT=$_xt_port
		_xt_pick_port || bail_out "no free port"
		XT_TLS_PORT=$_xt_port
		if xt_setup upload || xt_setup upload-http; then # the upload service's https port
			_xt_pick_port || bail_out "no free port"
			XT_HTTPS_PORT=$_xt_port
			export XT_HTTPS_PORT
		fi
		if [ "$XT_SERVER" = prosody ]; then
			_xt_prosody_config "$s"
		else
			_xt_pick_port || bail_out "no free port"
			dist_port=$_xt_port
			_xt_ejabberd_config "$s" "$dist_port"
		fi
		_xt_server_up
		rc=$?
		if [ "$tries" = 1 ]; then
			_xt_fingerprint "$s/certs/localhost.crt" || bail_out "cannot read the certificate"
		fi
		[ "$rc" = 2 ] || break # 2: a port was taken meanwhile; try others
	done
	[ -z "$accounts_pid" ] || wait "$accounts_pid" || bail_out "cannot write the test accounts"
	case $rc in
	0) ;;
	2) _xt_server_failed "ports in use" ;;
	*) _xt_server_failed "it exited or did not listen in time" ;;
	esac
	if xt_setup direct-tls-only; then
		XT_PORT=$XT_TLS_PORT
		XT_PEER_TLS=(--direct-tls)
	else
		XT_PEER_TLS=()
	fi
	[ "$XT_SERVER" = ejabberd ] && {
		_xt_ejabberd_accounts alice alice-pw bob bob-pw carol carol-pw dave dave-pw ||
			bail_out "cannot register the test accounts"
	}
	export XT_PORT XT_TLS_PORT XT_SERVER_PID
	XT_PEER=("$XT_PYTHON" "$XT_PEER_DIR/xpeer.py" --host "$XT_HOST"
		--port "$XT_PORT" --ca "$XT_CA" "${XT_PEER_TLS[@]}")
}

# xt_server_stop: a clean shutdown: SIGTERM, wait (at most 5 s; ejabberd
# 15 s), then SIGKILL.
xt_server_stop() {
	[ -n "$XT_SERVER_PID" ] || return 0
	if [ "$XT_SERVER" = ejabberd ]; then
		_xt_stop_pid "$XT_SERVER_PID" 15
		_xt_stop_pid "$_xt_server_shell" 2
	else
		_xt_stop_pid "$XT_SERVER_PID" 5
	fi
	XT_SERVER_PID=''
}

# xt_server_kill: SIGKILL, as a crash would.
xt_server_kill() {
	[ -n "$XT_SERVER_PID" ] || return 0
	kill -KILL "$XT_SERVER_PID" 2>/dev/null
	wait "$XT_SERVER_PID" 2>/dev/null
	[ -z "$_xt_server_shell" ] || _xt_stop_pid "$_xt_server_shell" 2
	XT_SERVER_PID=''
}

xt_server_pause() {
	kill -STOP "${XT_SERVER_PID:?xt_server_pause: no server}"
}

xt_server_resume() {
	kill -CONT "${XT_SERVER_PID:?xt_server_resume: no server}"
}

# xt_server_restart: stop (if running) and start again on the same ports,
# with the same data (accounts, rosters, offline messages) and certificate.
xt_server_restart() {
	[ -n "${XT_TLS_PORT:-}" ] || bail_out "xt_server_restart before xt_server_start"
	xt_server_stop
	_xt_server_up || _xt_server_failed "restart failed (status $?)"
	export XT_SERVER_PID
}

# xt_register USER PASSWORD: one more account on localhost (with Prosody,
# the server need not run).
xt_register() {
	[ -n "${XT_PORT:-}" ] || bail_out "xt_register before xt_server_start"
	"_xt_${XT_SERVER}_accounts" "$1" "$2" || return 1
	_xt_password[$1]=$2
}

# xt_roster_item USER JID SUBSCRIPTION: put JID in USER's roster with that
# subscription (to, from, both), by the server's own means: for a contact
# of a server the test cannot reach. Prosody: USER must not be online (its
# roster file is written); ejabberd: ejabberdctl add_rosteritem.
xt_roster_item() {
	local user=$1 jid=$2 sub=$3
	case $XT_SERVER in
	prosody)
		mkdir -p "$XT_SERVER_DIR/data/localhost/roster" || return 1
		cat >"$XT_SERVER_DIR/data/localhost/roster/$user.dat" <<EOF_ROSTER
return {
	[false] = {
		["version"] = 1;
		["pending"] = {};
	};
	["$jid"] = {
		["groups"] = {};
		["subscription"] = "$sub";
	};
};
EOF_ROSTER
		;;
	ejabberd)
		CONFIG_DIR=$XT_SERVER_DIR ejabberdctl add_rosteritem "$user" "$XT_DOMAIN" \
			"${jid%%@*}" "${jid#*@}" "" "" "$sub" >>"$XT_SERVER_DIR/ctl.log" 2>&1 || {
			diag "$(tail -n 5 "$XT_SERVER_DIR/ctl.log")"
			return 1
		}
		;;
	esac
}

# xt_closed_ere FULLJID: an ERE for the server log line that says the
# stream of FULLJID was closed by the client, not cut.
xt_closed_ere() {
	case $XT_SERVER in
	prosody) printf '%s\n' "c2s stream for $1 closed: session closed" ;;
	ejabberd) printf '%s\n' "Closing c2s session for $1: Stream reset by peer" ;;
	esac
}

# xt_roster_file USER FILE: USER's whole roster from FILE, in Prosody 0.12's
# roster storage format (a Lua table), by the server's own means: Prosody
# reads it as its file (USER must not have logged in yet: Prosody keeps the
# roster of a user it has seen); ejabberd imports it (ejabberdctl
# import_prosody, which needs erlang-luerl).
xt_roster_file() {
	local user=$1 file=$2 d
	case $XT_SERVER in
	prosody)
		mkdir -p "$XT_SERVER_DIR/data/localhost/roster" &&
			cp "$file" "$XT_SERVER_DIR/data/localhost/roster/$user.dat"
		;;
	ejabberd)
		d=$XT_DIR/import.$user
		rm -rf "$d"
		mkdir -p "$d/localhost/roster" && cp "$file" "$d/localhost/roster/$user.dat" &&
			CONFIG_DIR=$XT_SERVER_DIR ejabberdctl import_prosody "$d" \
				>>"$XT_SERVER_DIR/ctl.log" 2>&1 || {
			diag "$(tail -n 5 "$XT_SERVER_DIR/ctl.log")"
			return 1
		}
		;;
	esac
}

# xt_server_log_sync: wait (at most 10 s) until the server's log holds
# everything it did so far. Prosody writes each line at once; ejabberd's
# logger writes later: a connection of ours is logged with its port, and
# once that line is in, so are the earlier ones.
xt_server_log_sync() {
	local port
	[ "$XT_SERVER" = ejabberd ] || return 0
	port=$("$XT_PYTHON" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
print(s.getsockname()[1])
s.close()' "$XT_TLS_PORT") || return 1
	xt_wait_grep "$XT_SERVER_LOG" "Accepted connection 127\.0\.0\.1:$port " 10
}

# xt_server_logins JID: how many times JID logged in, from the server log.
xt_server_logins() {
	local ere
	case $XT_SERVER in
	prosody) ere="Authenticated as $1( |$)" ;;
	ejabberd) ere="Accepted c2s [A-Z0-9-]+ authentication for $1 " ;;
	esac
	xt_server_log_sync || diag "the server log may be behind"
	grep -c -E -e "$ere" "$XT_SERVER_LOG"
}

# xt_config USER [EXTRA_LINE...]: write $XT_DIR/USER.conf (mode 0600) for
# the tools and print its path. USER may be a full JID; the password is the
# registered one (USER-pw for an unknown user).
xt_config() {
	local user=$1 jid file
	shift
	case $user in
	*@*) jid=$user user=${user%%@*} ;;
	*) jid="$user@$XT_DOMAIN" ;;
	esac
	file="$XT_DIR/$user.conf"
	(
		umask 077
		{
			printf '# written by tests/integration/lib.sh\n'
			printf 'jid = %s\n' "$jid"
			printf 'host = %s\n' "$XT_HOST"
			printf 'port = %s\n' "${XT_PORT:?xt_config: no server}"
			printf 'cafile = %s\n' "$XT_CA"
			xt_setup direct-tls-only && printf 'direct-tls = yes\n'
			printf 'password = %s\n' "${_xt_password[$user]:-$user-pw}"
			[ "$#" -gt 0 ] && printf '%s\n' "$@"
		} >"$file"
	)
	chmod 600 "$file"
	printf '%s\n' "$file"
}

# ---------------------------------------------------------------------------
# Peers (tests/peer/xpeer.py: recv, send, ...)

# xt_peer SUBCOMMAND [ARGS...]: the peer, connected to the test server, with
# the timeout of run. Usable with run and xt_bg (run xt_peer send ...).
xt_peer() {
	_xt_argv xt_peer "$@"
	timeout -k 5 "${XT_CMD_TIMEOUT:-60}" "${_xt_argv[@]}"
}

_xt_argv_xt_peer() {
	[ -n "${XT_PORT:-}" ] || bail_out "xt_peer before xt_server_start"
	_xt_argv=("${XT_PEER[@]}" "$@")
}

# xt_omemo SUBCOMMAND [ARGS...]: the OMEMO peer (tests/peer/omemo_peer.py,
# python3-omemo) connected to the test server, as xt_peer runs xpeer.py;
# usable with run and xt_bg.
xt_omemo() {
	_xt_argv xt_omemo "$@"
	timeout -k 5 "${XT_CMD_TIMEOUT:-60}" "${_xt_argv[@]}"
}

_xt_argv_xt_omemo() {
	[ -n "${XT_PORT:-}" ] || bail_out "xt_omemo before xt_server_start"
	_xt_argv=("$XT_PYTHON" "$XT_PEER_DIR/omemo_peer.py" "${XT_PEER[@]:2}" "$@")
}

# xt_omemo_recv NAME USER STORE COUNT [ARGS...]: USER's OMEMO peer device
# (kept in $XT_DIR/STORE, resource NAME) receiving COUNT messages in the
# background (xt_bg NAME); returns once it is ready.
xt_omemo_recv() {
	local name=$1 user=$2 store=$3 count=$4
	shift 4
	rm -f "$XT_DIR/$name.ready"
	xt_bg "$name" xt_omemo recv --jid "$user@localhost/$name" --password "$user-pw" \
		--store "$XT_DIR/$store" --count "$count" --timeout 60 \
		--ready "$XT_DIR/$name.ready" "$@"
	xt_wait_file "$XT_DIR/$name.ready" 40 "$name" || {
		diag "$(cat "$XT_DIR/$name.err")"
		bail_out "the OMEMO peer $name is not ready"
	}
}

# xt_omemo_messages NAME: the message records NAME's peer printed (not the
# key-only ones).
xt_omemo_messages() {
	grep -F '"kind": "message"' "$XT_DIR/$1.out" | grep -vF '"empty": true'
}

# xt_omemo_device NAME: the id of NAME's peer device (its first record).
xt_omemo_device() {
	xt_json "$(grep -F '"kind": "device"' "$XT_DIR/$1.out" | head -1)" id
}

# ---------------------------------------------------------------------------
# Fake server (tests/peer/fakeserver.py)

# _xt_fake_certs: the certificate the fake servers present, signed by the
# test CA: Prosody's when xt_server_start made them, else a CA and leaf of
# their own (exports XT_CA). Sets _xt_fake_cert and _xt_fake_key.
_xt_fake_certs() {
	local d="$XT_SERVER_DIR/certs"
	if [ ! -s "$d/localhost.crt" ]; then
		d="$XT_DIR/fakecerts"
		if [ ! -s "$d/localhost.crt" ]; then
			xt_need openssl
			if ! mkdir -p "$d" || ! _xt_certs "$d"; then
				diag "$(cat "$d/openssl.err" 2>/dev/null)"
				bail_out "cannot make the fake server's certificates"
			fi
		fi
		XT_CA="$d/ca.pem"
		export XT_CA
	fi
	_xt_fake_cert="$d/localhost.crt" _xt_fake_key="$d/localhost.key"
}

# xt_fake_rogue_cert: a certificate for localhost (and 127.0.0.1) that no
# test CA signed; sets XT_ROGUE_CERT and XT_ROGUE_KEY (use both:
# xt_fake_start ok --cert "$XT_ROGUE_CERT" --key "$XT_ROGUE_KEY").
xt_fake_rogue_cert() {
	XT_ROGUE_CERT="$XT_DIR/rogue.crt" XT_ROGUE_KEY="$XT_DIR/rogue.key"
	[ -s "$XT_ROGUE_CERT" ] && return 0
	xt_need openssl
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$XT_ROGUE_KEY" -out "$XT_ROGUE_CERT" -days 3650 \
		-subj '/CN=localhost' -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
		2>>"$XT_DIR/rogue.err" ||
		bail_out "cannot make the rogue certificate: $(cat "$XT_DIR/rogue.err")"
}

# xt_fake_start MODE [OPTION...]: a fake server in MODE on a free port, with
# a certificate from the test CA (see _xt_fake_certs) and the OPTIONs of
# fakeserver.py (--push, --text TEXT, --cert FILE, --size N ...); exports
# XT_FAKE_PORT, XT_FAKE_PID, XT_FAKE_LOG (every byte clients sent) and
# XT_FAKE_EVENTS ("connect N" per connection, "online N" per login).
xt_fake_start() {
	local n=${#_xt_fake_pids[@]} mode=$1
	shift
	local portfile="$XT_DIR/fake$n.port"
	_xt_fake_certs
	XT_FAKE_LOG="$XT_DIR/fake$n.log"
	XT_FAKE_EVENTS="$XT_DIR/fake$n.events"
	: >"$XT_FAKE_LOG"
	: >"$XT_FAKE_EVENTS"
	"$XT_PYTHON" "$XT_PEER_DIR/fakeserver.py" --mode "$mode" \
		--port-file "$portfile" --log "$XT_FAKE_LOG" --events "$XT_FAKE_EVENTS" \
		--cert "$_xt_fake_cert" --key "$_xt_fake_key" "$@" \
		</dev/null >"$XT_DIR/fake$n.out" 2>"$XT_DIR/fake$n.err" &
	XT_FAKE_PID=$!
	_xt_fake_pids+=("$XT_FAKE_PID")
	local i
	for ((i = 0; i < 1500; i++)); do
		[ -s "$portfile" ] && break
		_xt_alive "$XT_FAKE_PID" || break
		_xt_nap
	done
	[ -s "$portfile" ] || {
		diag "$(cat "$XT_DIR/fake$n.err")"
		bail_out "fake server ($mode) did not start"
	}
	read -r XT_FAKE_PORT <"$portfile"
	export XT_FAKE_PORT XT_FAKE_PID XT_FAKE_LOG XT_FAKE_EVENTS
}

# xt_fake_config: print the path of a config (mode 0600) for alice@localhost
# at 127.0.0.1 trusting the test CA, for the fake servers, which take the
# password alice-pw; give the port with --port "$XT_FAKE_PORT".
xt_fake_config() {
	local file="$XT_DIR/fake-alice.conf"
	_xt_fake_certs
	(
		umask 077
		printf '%s\n' '# written by tests/integration/lib.sh' \
			'jid = alice@localhost' "host = $XT_HOST" "cafile = $XT_CA" \
			'password = alice-pw' >"$file"
	)
	printf '%s\n' "$file"
}

# xt_measured NAME CMD [ARGS...]: CMD under tests/peer/measure.py, for run
# and xt_bg (run xt_measured x "$XSEND" ...); then xt_measured_load NAME
# sets M_RC, M_WALL_MS and M_CPU_MS (user+system) of that run.
xt_measured() {
	_xt_argv xt_measured "$@"
	"${_xt_argv[@]}"
}

_xt_argv_xt_measured() {
	_xt_argv=("$XT_PYTHON" "$XT_PEER_DIR/measure.py" --report "$XT_DIR/$1.measure"
		-- "${@:2}")
}

# shellcheck disable=SC2034 # set for the caller
xt_measured_load() {
	M_RC='' M_WALL_MS='' M_CPU_MS=''
	read -r M_RC M_WALL_MS M_CPU_MS 2>/dev/null <"$XT_DIR/$1.measure"
	[ -n "$M_CPU_MS" ]
}

# xt_fake_bg NAME MODE [FAKE_OPTION...] -- CMD [ARGS...]: one case: a fake
# server in MODE (xt_fake_start MODE FAKE_OPTION...), then, in the
# background, CMD ARGS --port PORT under xt_measured NAME (xt_bg NAME);
# wait with xt_bg_wait NAME. The server's files are ${XT_CASE_LOG[NAME]}
# and ${XT_CASE_EVENTS[NAME]}.
declare -gA XT_CASE_LOG=() XT_CASE_EVENTS=()
# shellcheck disable=SC2034 # set for the caller
xt_fake_bg() {
	local name=$1 mode=$2 fopts=()
	shift 2
	while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
		fopts+=("$1")
		shift
	done
	shift
	xt_fake_start "$mode" "${fopts[@]}"
	XT_CASE_LOG[$name]=$XT_FAKE_LOG XT_CASE_EVENTS[$name]=$XT_FAKE_EVENTS
	xt_bg "$name" xt_measured "$name" "$@" --port "$XT_FAKE_PORT"
}

# xt_hostile_check NAME DESC RC ERE [SECONDS [LINES]]: after
# xt_bg_wait NAME (or run) of a command started with xt_measured NAME, the
# checks of one hostile-server case, 5 test points: the exit status is RC;
# stderr is one line (with LINES: at most LINES, as each reconnection warns
# once; with RC 0: at most LINES-1, all warnings); its last line matches
# ERE (with RC 0: no line is an error); the run took at most SECONDS (default 6) of wall time and used
# less than 3 s of CPU. Diagnostics show at most 300 bytes of each output.
xt_hostile_check() {
	local name=$1 desc=$2 rc=$3 ere=$4 secs=${5:-6} lines=${6:-1} n last
	xt_measured_load "$name" || diag "$desc: no measurement of $name"
	if [ "${RC-}" = "$rc" ]; then
		pass "$desc: exit $rc"
	else
		fail "$desc: exit $rc" "exit status: got ${RC-unset}, expected $rc" \
			"stderr: $(_xt_q "${ERR:0:300}")" "stdout: $(_xt_q "${OUT:0:300}")"
	fi
	n=0
	[ -n "$ERR" ] && n=$(wc -l <<<"$ERR")
	last=${ERR##*$'\n'}
	if [ "$rc" = 0 ]; then
		# Only warnings (of reconnections) may precede a success.
		ok "$desc: at most $((lines - 1)) lines on stderr (got $n)" \
			test "$n" -le "$((lines - 1))"
		unlike "${ERR:0:1000}" $'(^|\n)[a-z]+: [^w\n]' "$desc: no error line"
	else
		if [ "$lines" = 1 ]; then
			is "$n" 1 "$desc: one line on stderr"
		else
			ok "$desc: 1 to $lines lines on stderr (got $n)" test "$n" -ge 1 -a "$n" -le "$lines"
		fi
		like "${last:0:300}" "$ere" "$desc: the error line matches /$ere/"
	fi
	ok "$desc: ends within $secs s (took ${M_WALL_MS:-?} ms)" \
		test "${M_WALL_MS:-999999}" -le "$((secs * 1000))"
	ok "$desc: uses under 3 s of CPU (used ${M_CPU_MS:-?} ms)" \
		test "${M_CPU_MS:-999999}" -lt 3000
}

# xt_raw_controls TEXT [TAB]: TEXT holds a raw C0 control other than
# newline (and tab, unless TAB is given), DEL, a C1 control (U+0080 to
# U+009F) or a bidi control (U+200E, U+200F, U+202A to U+202E, U+2066 to
# U+2069), none of which a terminal should get from the network.
xt_raw_controls() {
	local c0='\x00-\x08\x0b-\x1f\x7f'
	[ -n "${2:-}" ] && c0='\x00-\x09\x0b-\x1f\x7f'
	printf '%s' "$1" | LC_ALL=C grep -q -a -P \
		"[$c0]|\xc2[\x80-\x9f]|\xe2\x80[\x8e\x8f\xaa-\xae]|\xe2\x81[\xa6-\xa9]"
}

# ---------------------------------------------------------------------------
# Waiting for output

# xt_wait_grep FILE ERE [SECONDS [NAME]]: poll (10 ms) until a line of FILE
# matches ERE (grep -E); fails after SECONDS (default 15), or at once when
# background process NAME ended without such a line. For a peer's JSON lines,
# e.g. xt_wait_grep "$XT_DIR/carol.out" '"kind": "presence".*"nick": "bob"'.
xt_wait_grep() {
	local i limit=$((${3:-15} * 100))
	for ((i = 0; i < limit; i++)); do
		grep -E -q -e "$2" "$1" 2>/dev/null && return 0
		if [ -n "${4:-}" ] && ! _xt_alive "${_xt_bg_pid[$4]:-0}"; then
			grep -E -q -e "$2" "$1" 2>/dev/null
			return
		fi
		_xt_nap
	done
	return 1
}
