#!/bin/bash
# SPDX-License-Identifier: MIT
# t0004-license: the license is in place (TAP; no server).
#
# - COPYING is the MIT license of "the xmpptools authors".
# - Every file of the git checkout carries an SPDX-License-Identifier line
#   (scripts/check-spdx.sh, which also lists the files it leaves out and
#   why), and every such line says MIT.
# - scripts/check-spdx.sh finds a file without one (in a scratch checkout).
# - debian/copyright states MIT and what the linked libraries imply.
# Outside a git checkout (a release tarball) it skips.
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

xt_need git
git -C "$top_srcdir" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
	skip_all "$top_srcdir is not a git checkout"
plan 9

spdx="$top_srcdir/scripts/check-spdx.sh"
copying=$(cat "$top_srcdir/COPYING")

# --- COPYING ---------------------------------------------------------------
like "$copying" '^MIT License' "COPYING: the MIT license"
like "$copying" 'Copyright \(c\) 2026 the xmpptools authors' \
	"COPYING: copyright of the xmpptools authors, 2026"
like "$copying" 'Permission is hereby granted, free of charge.*WITHOUT WARRANTY OF ANY KIND' \
	"COPYING: the grant and the disclaimer"

# --- every file ------------------------------------------------------------
run sh "$spdx" "$top_srcdir"
ok_rc 0 "check-spdx.sh: every file carries an SPDX-License-Identifier"
[ "$RC" = 0 ] || diag "without one: $OUT"

other=$(cd "$top_srcdir" && git ls-files | while IFS= read -r f; do
	[ -f "$f" ] || continue
	head -n 5 "$f" | grep 'SPDX-License-Identifier:' |
		grep -q -v -E 'SPDX-License-Identifier: MIT *(\*/|"|$)' && echo "$f"
done)
is "$other" "" "every SPDX-License-Identifier line says MIT"

# --- the check finds a file without one --------------------------------------
scratch="$XT_DIR/spdx"
mkdir -p "$scratch"
(
	cd "$scratch" && git init -q . &&
		printf '#!/bin/sh\n# SPDX-License-Identifier: MIT\n' >good.sh &&
		printf '#!/bin/sh\necho no license\n' >"bad file.sh" &&
		printf 'data\n' >notes.md &&
		git add .
) >/dev/null 2>&1
run sh "$spdx" "$scratch"
ok_rc 1 "check-spdx.sh: exit 1 when a file has no identifier"
is "$OUT" "bad file.sh" "check-spdx.sh: lists that file and only it"

# --- debian/copyright ----------------------------------------------------------
if [ -f "$top_srcdir/debian/copyright" ]; then
	cr=$(cat "$top_srcdir/debian/copyright")
	like "$cr" '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/.*Files: \*.*License: MIT' \
		"debian/copyright: DEP-5, every file MIT"
	like "$cr" 'libstrophe.*MIT or GPL-3.0-only.*libomemo-c.*GPL-3' \
		"debian/copyright: the note on the linked libraries"
else
	skip "no debian/copyright" 2
fi
