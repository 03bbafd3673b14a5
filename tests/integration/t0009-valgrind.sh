#!/bin/bash
# SPDX-License-Identifier: MIT
# t0009-valgrind: each tool, doing its main job against the real server,
# runs clean under valgrind's memcheck: no invalid access, no use of
# uninitialised memory, no leak.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl slixmpp valgrind
# A sanitizer build has its own checks, and valgrind cannot run it.
if ldd "$XSEND" 2>/dev/null | grep -q -e libasan -e libubsan; then
	skip_all "the tools are built with AddressSanitizer (it checks instead)"
fi
plan 26

xt_server_start pep
alice=$(xt_config alice)
bob=$(xt_config bob)

# vg NAME CMD...: run under memcheck; RC is the tool's status, or 99 on
# a memcheck error.  The report is kept in $XT_DIR/vg-NAME.log.  Under
# valgrind a login costs seconds (SCRAM, the CA store): every tool gets
# -w 150 so a busy machine does not turn it into a timeout.
vg() {
	local name=$1
	shift
	XT_CMD_TIMEOUT=200 run valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
		--track-origins=yes --log-file="$XT_DIR/vg-$name.log" "$@"
}

# clean NAME DESC: the memcheck log of NAME holds no error.
clean() {
	local log
	log=$(cat "$XT_DIR/vg-$1.log")
	is "$log" "" "$2: valgrind reports nothing"
}

vg send "$XSEND" -C "$alice" -w 150 -m "under valgrind" bob@localhost
ok_rc 0 "xsend one message"
clean send "xsend one message"

seq 1 200 >"$XT_DIR/lines"
vg lines "$XSEND" -C "$alice" -w 150 -l --tee bob@localhost <"$XT_DIR/lines"
ok_rc 0 "xsend --lines, 200 lines"
clean lines "xsend --lines"

printf '<iq type="get" to="localhost" id="v"><query xmlns="jabber:iq:version"/></iq>\n' >"$XT_DIR/raw"
vg raw "$XSEND" -C "$alice" -w 150 --raw <"$XT_DIR/raw"
ok_rc 0 "xsend --raw"
clean raw "xsend --raw"

vg bounce "$XSEND" -C "$alice" -w 150 -m x nobody@localhost
ok_rc 8 "xsend to an unknown user (exit 8)"
clean bounce "xsend with a bounce"

vg refused "$XSEND" -C "$alice" --port "$(xt_closed_port)" -m x bob@localhost
ok_rc 4 "xsend to a closed port (exit 4)"
clean refused "xsend with a refused connection"

# bob has stored messages from the sends above: xlisten prints them.
vg listen "$XLISTEN" -C "$bob" -c 3 -J -w 150
ok_rc 0 "xlisten -c 3 -J (offline messages)"
clean listen "xlisten"
is "$(wc -l <<<"$OUT")" 3 "xlisten printed three records"

vg roster "$XROSTER" -C "$alice" -w 150 add carol@localhost --name Carol --group G
ok_rc 0 "xroster add"
clean roster "xroster add"
vg rlist "$XROSTER" -C "$alice" -w 150 -J
ok_rc 0 "xroster list"
clean rlist "xroster list"

vg presence "$XPRESENCE" -C "$alice" -w 150 get carol@localhost
ok_rc 10 "xpresence get of an offline contact (exit 10)"
clean presence "xpresence get"

# OMEMO: bob's device is published first (a listener not under valgrind),
# then an encrypted message waits offline for him, then he decrypts it.
export XDG_DATA_HOME=$XT_DIR/data
xt_bg pub "$XLISTEN" -C "$bob" --omemo -v -w 60
xt_wait_grep "$XT_DIR/pub.err" 'OMEMO: device [0-9]+ is published' 30 pub ||
	diag "bob's device was not published: $(cat "$XT_DIR/pub.err")"
xt_bg_kill pub
xt_bg_wait pub
vg omemo "$XSEND" -C "$alice" -w 150 --omemo -m "encrypted under valgrind" bob@localhost
ok_rc 0 "xsend --omemo"
clean omemo "xsend --omemo"
vg olisten "$XLISTEN" -C "$bob" --omemo -c 1 -F '%E %b' -w 150
ok_rc 0 "xlisten --omemo -c 1"
clean olisten "xlisten --omemo (a key exchange: the bundle is published again)"
like "$OUT" '^[0-9]+ encrypted under valgrind$' "xlisten decrypted it"
vg devices "$XROSTER" -C "$alice" -w 150 devices bob@localhost
ok_rc 0 "xroster devices"
clean devices "xroster devices"
