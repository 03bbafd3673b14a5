#!/bin/sh
# SPDX-License-Identifier: MIT
# check-spdx.sh -- list the files of the git checkout that carry no
# SPDX-License-Identifier line in their first five lines; exit 1 if any.
#
# Usage: scripts/check-spdx.sh [TOP]   (TOP: the checkout, default: the
# one this script is in).  Exit status: 0 every file carries one, 1 some
# do not (they are listed on stdout, one a line), 2 TOP is not a git
# checkout.
#
# Left out, because they are not source or because a comment would break
# them: documentation (*.md, NEWS, COPYING), placeholders (*/.keep), the
# fuzz corpus, the example data files examples/roster.jsonl and
# examples/raw-queries.txt, and the Debian files without comment syntax
# (debian/changelog, debian/copyright, debian/source/format).
set -u

top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top" || exit 2
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || {
	echo "check-spdx.sh: $top is not a git checkout" >&2
	exit 2
}

missing=$(git ls-files | while IFS= read -r f; do
	case $f in
	*.md | COPYING | NEWS | */.keep | tests/fuzz/corpus/*) continue ;;
	examples/roster.jsonl | examples/raw-queries.txt) continue ;;
	debian/changelog | debian/copyright | debian/source/format) continue ;;
	esac
	[ -f "$f" ] || continue # deleted in the work tree, not yet committed
	head -n 5 "$f" | grep -q 'SPDX-License-Identifier:' || printf '%s\n' "$f"
done)
[ -z "$missing" ] && exit 0
printf '%s\n' "$missing"
exit 1
