#!/bin/bash
# SPDX-License-Identifier: MIT
# t2003-xroster-large: a roster of 2,000 contacts lists and syncs correctly,
# and fast: list in every format, filters, export and sync round trips, a
# sync that changes 20 of 2,000 (--prune), and the plan of a sync from an
# empty roster; and a reply ending in a TLS record over 4 KiB, read at once.
#
# The 2,000 contacts are written as alice's roster file before she first
# logs in (Prosody 0.12's internal storage, the format prosodyctl's
# datamanager writes; ejabberd imports it: xt_roster_file). Adding them
# through the server would take about 40 s of Prosody's time: each roster
# change serializes the whole roster again (internal and memory storage
# alike), whatever the client does.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need server openssl
plan 29

xt_server_start
conf=$(xt_config alice)

# Every run must end within 20 s (exit 7 otherwise); the times are shown.
# ms_since T0: the milliseconds since T0 (an $EPOCHREALTIME).
ms_since() {
	local now=${EPOCHREALTIME/./}
	echo $(((now - ${1/./}) / 1000))
}
xr() {
	local t0=$EPOCHREALTIME
	run "$XROSTER" -C "$conf" -w 20 "$@"
	diag "xroster $*: $(ms_since "$t0") ms"
}

F=$XT_DIR/files
mkdir -p "$F"

# roster.py: the contacts (deterministic), Prosody's roster file, the sync
# file, and the check of xroster's JSON Lines against them.
cat >"$F/roster.py" <<'EOF'
import json, sys

N = 2000
SUBS = ("none", "to", "from", "both")

def contacts():
    out = {}
    for i in range(N):
        # Mixed case in the domain sorts differently bytewise; the server
        # keeps JIDs as it case-maps them: lower case.
        jid = "c%04d@%s" % (i, ("example.net", "example.org")[i % 2])
        name = None if i % 10 == 0 else "Contact %d" % i
        if i % 13 == 0:
            name = "Zoë %d, ü" % i
        if i % 17 == 0:
            name = 'back\\slash "%d"' % i
        groups = [] if i % 5 == 0 else ["G%d" % (i % 7)]
        if i % 3 == 0:
            groups.append("All, Friends")
        sub = SUBS[i % 4]
        ask = "subscribe" if sub in ("none", "from") and i % 8 < 2 else None
        out[jid] = {"jid": jid, "subscription": sub, "ask": ask, "name": name,
                    "groups": sorted(set(groups))}
    return out

def lua(s):
    return '"' + "".join(
        c if 32 <= ord(c) < 127 and c not in '\\"' else
        "\\" + c if c in '\\"' else
        "".join("\\%d" % b for b in c.encode("utf-8"))
        for c in s) + '"'

def seed(path):
    with open(path, "w") as f:
        f.write('return {\n\t[false] = {\n\t\t["version"] = 1;\n\t\t["pending"] = {};\n\t};\n')
        for c in contacts().values():
            f.write("\t[%s] = {\n" % lua(c["jid"]))
            f.write('\t\t["subscription"] = %s;\n' % lua(c["subscription"]))
            if c["ask"]:
                f.write('\t\t["ask"] = %s;\n' % lua(c["ask"]))
            if c["name"] is not None:
                f.write('\t\t["name"] = %s;\n' % lua(c["name"]))
            f.write('\t\t["groups"] = {\n')
            for g in c["groups"]:
                f.write("\t\t\t[%s] = true;\n" % lua(g))
            f.write("\t\t};\n\t};\n")
        f.write("};\n")

def changed():
    """The contacts after the sync of changes.jsonl (subscriptions kept)."""
    c = contacts()
    for i in range(100, 105):            # removed
        del c["c%04d@%s" % (i, ("example.net", "example.org")[i % 2])]
    for i in range(200, 205):            # renamed
        c["c%04d@%s" % (i, ("example.net", "example.org")[i % 2])]["name"] = "Renamed %d" % i
    for i in range(300, 305):            # regrouped
        c["c%04d@%s" % (i, ("example.net", "example.org")[i % 2])]["groups"] = ["New", "Z"]
    for i in range(5):                   # added
        jid = "new%d@example.com" % i
        c[jid] = {"jid": jid, "subscription": "none", "ask": None,
                  "name": "New %d" % i, "groups": ["New"]}
    return c

def jsonl(c):
    for x in sorted(c.values(), key=lambda x: x["jid"], reverse=True):
        print(json.dumps({"jid": x["jid"], "name": x["name"], "groups": x["groups"]},
                         ensure_ascii=False))

def check(path, c):
    got = [json.loads(l) for l in open(path, encoding="utf-8")]
    want = sorted(c.values(), key=lambda x: (x["jid"].lower(), x["jid"]))
    if len(got) != len(want):
        sys.exit("%d records, expected %d" % (len(got), len(want)))
    for g, w in zip(got, want):
        g = {k: g.get(k) for k in ("jid", "subscription", "ask", "name", "groups")}
        if g != w:
            sys.exit("got %r\nexpected %r" % (g, w))

cmd = sys.argv[1]
if cmd == "seed":
    seed(sys.argv[2])
elif cmd == "jsonl":
    jsonl(contacts())
elif cmd == "changes":
    jsonl(changed())
elif cmd == "check":
    check(sys.argv[2], contacts())
elif cmd == "check-changed":
    check(sys.argv[2], changed())
elif cmd == "check-names":  # jid, name, groups only (a roster of its own)
    c = contacts()
    for x in c.values():
        x["subscription"], x["ask"] = "none", None
    check(sys.argv[2], c)
elif cmd == "count":  # count SUBSCRIPTION GROUP ('' for any)
    print(sum(1 for x in contacts().values()
              if sys.argv[2] in ("", x["subscription"])
              and (sys.argv[3] == "" or sys.argv[3] in x["groups"])))
EOF
py() {
	"$XT_PYTHON" "$F/roster.py" "$@"
}

py seed "$F/alice.dat" || bail_out "cannot write alice's roster"
xt_roster_file alice "$F/alice.dat" || bail_out "cannot give alice her roster"
py jsonl >"$F/all.jsonl"
py changes >"$F/changes.jsonl"

# --- list ------------------------------------------------------------------------

xr -J
ok_rc 0 "list -J of 2,000 contacts: exit 0"
cp "$XT_DIR/last.out" "$F/list.jsonl"
if err=$(py check "$F/list.jsonl" 2>&1); then
	pass "list -J: the 2,000 contacts, sorted by JID, each with its subscription, ask, name and groups"
else
	fail "list -J: the 2,000 contacts, sorted by JID, each with its subscription, ask, name and groups" "$err"
fi

xr
ok_rc 0 "list (text): exit 0"
is "$(cut -f1 "$XT_DIR/last.out" | tr '\n' ' ')" "$(sed -E 's/^[^,]*,"jid":"([^"]*)".*/\1/' "$F/list.jsonl" | tr '\n' ' ')" \
	"list (text): the same 2,000 JIDs in the same order"
cp "$XT_DIR/last.out" "$F/list.txt"

xr -0 -F '%j'
is "$(tr -c -d '\0' <"$XT_DIR/last.out" | wc -c)" 2000 "-0 -F %j: 2,000 NUL-terminated records"

xr --subscription both -F '%j'
is "$(grep -c . "$XT_DIR/last.out")" "$(py count both '')" "--subscription both: as many as the roster has"
xr --group 'All, Friends' --subscription to -F '%j'
is "$(grep -c . "$XT_DIR/last.out")" "$(py count to 'All, Friends')" "--group 'All, Friends' --subscription to: as many as the roster has"

# --- round trips -----------------------------------------------------------------

xr export
ok_rc 0 "export: exit 0"
ok "export is list -J" cmp -s "$XT_DIR/last.out" "$F/list.jsonl"
cp "$XT_DIR/last.out" "$F/export.jsonl"
xr sync --prune --dry-run "$F/export.jsonl"
is "$RC|$OUT" "0|" "sync --prune --dry-run of the export: nothing to do"
xr sync --prune "$F/export.jsonl"
is "$RC|$ERR" "0|xroster: nothing to change" "sync --prune of the export: nothing to change"
xr sync --prune --dry-run "$F/list.txt"
is "$RC|$OUT" "0|" "sync --prune --dry-run of the text list: nothing to do"
xr import "$F/all.jsonl"
is "$RC|$ERR" "0|xroster: nothing to change" "import of the 2,000 (in reverse order): nothing to change"

# --- 20 changes among 2,000 -------------------------------------------------------

xr sync --prune --dry-run "$F/changes.jsonl"
ok_rc 10 "sync --prune --dry-run of 20 changes: exit 10"
is "$(cut -f1 <<<"$OUT" | sort | uniq -c | tr -s ' ' | tr '\n' ';')" " 5 add; 5 remove; 10 update;" \
	"the plan: 5 adds, 10 updates, 5 removals"
is "$(grep -c -E $'^(remove\tc010[0-4]|update\tc020[0-4]|update\tc030[0-4]|add\tnew[0-4]@example.com)' <<<"$OUT")" 20 \
	"the plan names the right contacts"
# Removing a contact with a subscription makes the server tell the
# contact's server (unsubscribe, unsubscribed); s2s is off here, so those
# presences bounce. The removals are done all the same: exit 0.
xr sync --prune "$F/changes.jsonl"
ok_rc 0 "sync --prune of 20 changes (5 removals of remote contacts): exit 0"
is "$ERR" "xroster: 20 of 20 changes made" "20 changes made, and no failure reported"
xr -J
if err=$(py check-changed "$XT_DIR/last.out" 2>&1); then
	pass "list -J: the roster equals the file, the subscriptions kept"
else
	fail "list -J: the roster equals the file, the subscriptions kept" "$err"
fi
xr sync --prune "$F/changes.jsonl"
is "$RC|$ERR" "0|xroster: nothing to change" "second sync --prune: nothing to change"

# --- the plan of a sync from an empty roster ------------------------------------

bconf=$(xt_config bob)
t0=$EPOCHREALTIME
run "$XROSTER" -C "$bconf" -w 20 sync --dry-run "$F/all.jsonl"
diag "xroster sync --dry-run (bob): $(ms_since "$t0") ms"
ok_rc 10 "bob: sync --dry-run of 2,000 into an empty roster: exit 10"
is "$(grep -c $'^add\t' <<<"$OUT")" 2000 "the plan: 2,000 adds"
run "$XROSTER" -C "$bconf" -F '%j'
is "$RC|$OUT" "0|" "bob's roster is still empty"

# --- a sync of 2,000 adds through the server ---------------------------------

# About 40 s, nearly all of it Prosody's (xroster itself needs a fraction of
# a second): each of the 2,000 roster sets makes Prosody write the whole
# roster again.  No -w: the default deadline counts from the last answer,
# so a long sync that keeps moving is not cut off.
t0=$EPOCHREALTIME
XT_CMD_TIMEOUT=300 run "$XROSTER" -C "$bconf" sync "$F/all.jsonl"
diag "xroster sync (bob, 2,000 adds): $(ms_since "$t0") ms"
ok_rc 0 "bob: sync of 2,000 into an empty roster: exit 0"
is "$ERR" "xroster: 2000 of 2000 changes made" "2,000 changes made"
run "$XROSTER" -C "$bconf" -J
if err=$(py check-names "$XT_DIR/last.out" 2>&1); then
	pass "bob's roster: the 2,000 contacts of the file"
else
	fail "bob's roster: the 2,000 contacts of the file" "$err"
fi

# --- a TLS record over 4 KiB is read at once ---------------------------------
# libstrophe reads 4 KiB per turn and then waits in select() although
# OpenSSL holds the rest of the TLS record: a roster reply that ended in
# such a record arrived a second late until the session read each record
# to its end.
# carol's roster of 5 contacts against dave's of 60 (about 6 KiB: one TLS
# record, as Prosody writes at most 8 KiB in one), the fastest of three
# interleaved runs each: the difference was over 1,000 ms, and is now a few.

# contacts N: a roster file of N contacts, each with a name and a group.
contacts() {
	"$XT_PYTHON" -c '
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"jid": "r%03d@example.net" % i, "name": "Contact number %d" % i,
                      "groups": ["Group %d" % (i % 7)]}))' "$1"
}
contacts 5 >"$F/five.jsonl"
contacts 60 >"$F/sixty.jsonl"
cconf=$(xt_config carol)
dconf=$(xt_config dave)
run "$XROSTER" -C "$cconf" import "$F/five.jsonl"
ok_rc 0 "carol: 5 contacts imported"
run "$XROSTER" -C "$dconf" import "$F/sixty.jsonl"
ok_rc 0 "dave: 60 contacts imported"
small=999999 big=999999
for i in 1 2 3; do
	t0=$EPOCHREALTIME
	run "$XROSTER" -C "$cconf" -J
	ms=$(ms_since "$t0")
	[ "$RC" = 0 ] && [ "$ms" -lt "$small" ] && small=$ms
	t0=$EPOCHREALTIME
	run "$XROSTER" -C "$dconf" -J
	ms=$(ms_since "$t0")
	[ "$RC" = 0 ] && [ "$(wc -l <<<"$OUT")" = 60 ] && [ "$ms" -lt "$big" ] && big=$ms
done
diag "xroster -J, fastest of 3: 5 contacts $small ms, 60 contacts $big ms"
ok "a 6 KiB roster reply is not held back: 60 contacts listed in $big ms, 5 in $small ms" \
	test "$big" -lt 999999 -a "$((big - small))" -lt 600
