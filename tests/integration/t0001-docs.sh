#!/bin/bash
# SPDX-License-Identifier: MIT
# t0001-docs.sh -- the man pages and shell completions agree with --help (TAP)
#
# For every tool binary that is built: every option of its --help is in its
# man page (SYNOPSIS and the option list) and in the bash, zsh and fish
# completions.  Every page passes mandoc -Tlint, and every EXIT STATUS
# section lists the codes of common/xmpptools.h with the same wording.
# The completion files pass bash -n, zsh -n and fish -n.
#
# It uses lib.sh for TAP when it is there.  Run by hand:
#   top_builddir=/path/to/build bash tests/integration/t0001-docs.sh

# Bash is needed; automake may start us with $(SHELL).
if [ -z "${BASH_VERSION-}" ]; then
	exec bash "$0" "$@"
fi

set -u

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=${srcdir:-$here/../..}}"
: "${top_builddir:=$top_srcdir}"

# --- TAP: lib.sh when it is there, else the same few helpers ----------------

if [ -f "$here/lib.sh" ]; then
	# shellcheck source=tests/integration/lib.sh
	. "$here/lib.sh"
	T=$XT_DIR
else
	_n=0
	_failed=0
	diag() {
		local line
		while IFS= read -r line; do
			echo "# $line"
		done <<<"$*"
	}
	pass() {
		_n=$((_n + 1))
		echo "ok $_n - $1"
	}
	fail() {
		local d
		_n=$((_n + 1))
		_failed=$((_failed + 1))
		echo "not ok $_n - $1"
		shift
		for d in "$@"; do
			diag "$d"
		done
		return 1
	}
	skip() {
		_n=$((_n + 1))
		echo "ok $_n # SKIP $1"
	}
	skip_all() {
		echo "1..0 # SKIP $*"
		exit 0
	}
	done_testing() {
		echo "1..$_n"
		[ "$_failed" -eq 0 ] || exit 1
	}
	T=$(mktemp -d "${TMPDIR:-/tmp}/t0001.XXXXXX") || exit 99
	trap 'rm -rf "$T"' EXIT
fi
man=$top_srcdir/man
comp=$top_srcdir/completions

# check DESC [MISSING...]: passes when nothing is missing.
check() {
	local desc=$1
	shift
	if [ $# -eq 0 ]; then
		pass "$desc"
	else
		fail "$desc" "missing: $*"
	fi
}

# fish and zsh must not write into the real home directory.
mkdir -p "$T/home" "$T/xdg/xmpptools"
export HOME=$T/home XDG_CONFIG_HOME=$T/xdg XDG_DATA_HOME=$T/home/.local/share

# --- helpers ----------------------------------------------------------------

# Prints the options of a tool's --help, one per line, as "-X" and
# "--name": only option lines (indented by at most 8 spaces; the wrapped
# description lines are indented further), without popt's -?, --help and
# --usage.
help_options() {
	"$1" --help 2>/dev/null | sed -n -E '
		s/^ {1,8}-([^-]), --([a-z0-9][a-z0-9-]*).*/-\1\n--\2/p
		t
		s/^ {1,8}--([a-z0-9][a-z0-9-]*).*/--\1/p
		t
		s/^ {1,8}-([^-])([ =,].*|$)/-\1/p
	' | grep -v -x -e '-?' -e '--help' -e '--usage'
}

# Escapes a string for an extended regular expression.
ere() {
	printf '%s' "$1" | sed 's/[][\.*^$?+(){}|/]/\\&/g'
}

# The text of section $2 (.Sh NAME) of page $1, without the .Sh line.
section() {
	awk -v want="$2" '
		/^\.Sh / { inside = (substr($0, 5) == want); next }
		inside { print }
	' "$1"
}

# Does the mdoc text on stdin name option $1?  Long options are written
# "Fl -name"; short ones "Fl X", or inside a cluster such as "Fl qVv".
mdoc_has() {
	local o=$1 re
	case $o in
	--*) re="Fl -$(ere "${o#--}")([^A-Za-z0-9-]|\$)" ;;
	-*)  re="Fl [A-Za-z0-9]*$(ere "${o#-}")[A-Za-z0-9]*([^A-Za-z0-9-]|\$)" ;;
	esac
	grep -q -E -- "$re"
}

# Completions of bash for the words "$@" (the last one is completed).
bash_complete() {
	bash -c '
		source "$1" || exit 1
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		COMPREPLY=()
		fn=$(complete -p "$1" 2>/dev/null | sed -n "s/.*-F \([^ ]*\).*/\1/p")
		[ -n "$fn" ] || exit 1
		"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"
	' bash "$comp/bash/xmpptools" "$@"
}

# Completions of fish for the command line "$2" with the file $1 loaded.
fish_complete() {
	fish --no-config -c 'source $argv[1]; complete -C $argv[2]' "$1" "$2" \
	    2>/dev/null | cut -f1
}

have() {
	command -v "$1" >/dev/null 2>&1
}

# --- every built tool -------------------------------------------------------

tools=
for t in xsend xlisten xroster xpresence; do
	[ -x "$top_builddir/cmd/$t" ] && tools="$tools $t"
done
if [ -z "$tools" ]; then
	skip_all "no tool built in $top_builddir/cmd"
fi

for t in $tools; do
	bin=$top_builddir/cmd/$t
	page=$man/$t.1
	opts=$(help_options "$bin")
	long=$(printf '%s\n' $opts | grep -e '^--')

	if [ -n "$long" ] && "$bin" --help >/dev/null 2>&1; then
		pass "$t: --help lists $(printf '%s\n' $long | wc -l) long options"
	else
		fail "$t: --help exits 0 and lists options"
		continue
	fi

	if [ ! -f "$page" ]; then
		fail "$t: man page $page exists"
		continue
	fi

	# The option lists of the page (.It lines): every long and short option.
	missing=
	items=$(grep '^\.It ' "$page")
	for o in $opts; do
		mdoc_has "$o" <<<"$items" || missing="$missing $o"
	done
	check "$t: every option of --help is an .It of man/$t.1" $missing

	# SYNOPSIS: every option, as its short letter when it has one.
	missing=
	syn=$(section "$page" SYNOPSIS)
	for o in $long; do
		s=$("$bin" --help | sed -n -E "s/^ {1,8}-([^-]), $(ere "$o")([ =].*|$)/-\1/p")
		mdoc_has "${s:-$o}" <<<"$syn" || missing="$missing ${s:-$o}"
	done
	check "$t: SYNOPSIS of man/$t.1 names every option" $missing

	# bash: run the completion function itself.
	got=$(bash_complete "$t" -)
	missing=
	for o in $opts; do
		grep -q -x -F -e "$o" <<<"$got" || missing="$missing $o"
	done
	check "$t: bash completes every option" $missing

	# zsh: _arguments specs name "--name=" / "--name[" / "{-X+,--name=}".
	zf=$comp/zsh/_xmpptools
	missing=
	head -n 1 "$zf" | grep -q -E "^#compdef( .*)? $t( |\$)" ||
	    missing=" #compdef-$t"
	for o in $opts; do
		case $o in
		--*) re="$(ere "$o")([=[}']|\$)" ;;
		-*)  re="[{'(]$(ere "$o")[+,[]" ;;
		esac
		grep -q -E -- "$re" "$zf" || missing="$missing $o"
	done
	check "$t: zsh completes every option" $missing

	# fish: ask fish itself when it is installed, else read the file.
	ff=$comp/fish/$t.fish
	missing=
	if [ ! -f "$ff" ]; then
		missing=" $ff"
	elif have fish; then
		got=$(fish_complete "$ff" "$t -")
		for o in $opts; do
			grep -q -x -F -e "$o" <<<"$got" || missing="$missing $o"
		done
	else
		for o in $opts; do
			case $o in
			--*) re=" -l $(ere "${o#--}")( |\$)" ;;
			-*)  re=" -s '?$(ere "${o#-}")'?( |\$)" ;;
			esac
			grep -q -E -- "$re" "$ff" || missing="$missing $o"
		done
	fi
	check "$t: fish completes every option" $missing
done

# A few option arguments, where the tools exist.
case " $tools " in
*" xsend "*)
	got=$(bash_complete xsend --type '' | sort | tr '\n' ' ')
	if [ "$got" = "chat headline normal " ]; then
		pass "bash: xsend --type offers chat, normal, headline"
	else
		fail "bash: xsend --type offers chat, normal, headline"
		diag "got: $got"
	fi
	printf '[default]\njid = a@example.org\n[ work ]\n[home]\n' \
	    >"$T/accounts.conf"
	printf '[mine]\n' >"$XDG_CONFIG_HOME/xmpptools/config"
	got=$(bash_complete xsend -C "$T/accounts.conf" -a '' | sort | tr '\n' ' ')
	got2=$(bash_complete xsend -a '' | tr '\n' ' ')
	if [ "$got" = "default home work " ] && [ "$got2" = "mine " ]; then
		pass "bash: --account offers the sections of -C FILE, else of the default file"
	else
		fail "bash: --account offers the sections of -C FILE, else of the default file"
		diag "with -C: $got; without: $got2"
	fi
	if have fish; then
		got=$(fish_complete "$comp/fish/xsend.fish" \
		    "xsend -C $T/accounts.conf -a " | sort | tr '\n' ' ')
		got2=$(fish_complete "$comp/fish/xsend.fish" "xsend -a " |
		    tr '\n' ' ')
		if [ "$got" = "default home work " ] && [ "$got2" = "mine " ]; then
			pass "fish: --account offers the sections of -C FILE, else of the default file"
		else
			fail "fish: --account offers the sections of -C FILE, else of the default file"
			diag "with -C: $got; without: $got2"
		fi
	else
		skip "fish: --account (fish is not installed)"
	fi
	;;
esac

# --- the config keys --------------------------------------------------------

# Every key that the file may hold (common/config.c) is in xmpptools.conf(5).
keys=$(sed -n -E 's/^[[:space:]]*\{ "([a-z-]+)", K_[A-Z]+, F\([a-z_]+\), (BOTH|FILE_ONLY) \},.*/\1/p' \
    "$top_srcdir/common/config.c")
if [ -z "$keys" ]; then
	fail "the keys of common/config.c can be read"
else
	missing=
	for k in $keys; do
		grep -q -E "^\.It Cm $(ere "$k") " "$man/xmpptools.conf.5" ||
		    missing="$missing $k"
	done
	check "every key of common/config.c is in man/xmpptools.conf.5" $missing
fi

# --- every man page ---------------------------------------------------------

pages=$(ls "$man"/*.[1-8] 2>/dev/null)
codes=$(sed -n -E 's/^[[:space:]]*XEXIT_[A-Z_]+ = ([0-9]+).*/\1/p' \
    "$top_srcdir/common/xmpptools.h")
[ -n "$codes" ] || fail "the exit codes of common/xmpptools.h can be read"

first=
for p in $pages; do
	name=man/${p##*/}

	if have mandoc; then
		out=$(mandoc -Tlint -Wwarning "$p" 2>&1)
		if [ -z "$out" ]; then
			pass "$name: mandoc -Tlint -Wwarning reports nothing"
		else
			fail "$name: mandoc -Tlint -Wwarning reports nothing"
			diag "$out"
		fi
	else
		skip "$name: mandoc -Tlint (mandoc is not installed)"
	fi

	# Pages of sections 1 and 7 must have the table; others may.
	ex=$(section "$p" "EXIT STATUS")
	case $p in
	*.[17]) ;;
	*) [ -n "$ex" ] || continue ;;
	esac
	missing=
	[ -n "$ex" ] || missing=" .Sh-EXIT-STATUS"
	for c in $codes 128+; do
		grep -q -E "^\.It $(ere "$c")( |\$)" <<<"$ex" ||
		    missing="$missing $c"
	done
	check "$name: EXIT STATUS lists every code of common/xmpptools.h" $missing

	if [ -z "$first" ]; then
		first=$p
		printf '%s\n' "$ex" >"$T/exit-status"
	elif printf '%s\n' "$ex" | cmp -s - "$T/exit-status"; then
		pass "$name: EXIT STATUS is worded as in man/${first##*/}"
	else
		fail "$name: EXIT STATUS is worded as in man/${first##*/}"
		diag "$(printf '%s\n' "$ex" | diff "$T/exit-status" - | head -n 20)"
	fi
done

# --- the completion files parse ---------------------------------------------

if bash -n "$comp/bash/xmpptools" 2>"$T/err"; then
	pass "bash -n completions/bash/xmpptools"
else
	fail "bash -n completions/bash/xmpptools"
	diag "$(cat "$T/err")"
fi

if have zsh; then
	if zsh -n "$comp/zsh/_xmpptools" 2>"$T/err"; then
		pass "zsh -n completions/zsh/_xmpptools"
	else
		fail "zsh -n completions/zsh/_xmpptools"
		diag "$(cat "$T/err")"
	fi
else
	skip "zsh -n completions/zsh/_xmpptools (zsh is not installed)"
fi

for f in "$comp"/fish/*.fish; do
	[ -e "$f" ] || continue
	if ! have fish; then
		skip "fish -n completions/fish/${f##*/} (fish is not installed)"
	elif fish --no-config -n "$f" 2>"$T/err"; then
		pass "fish -n completions/fish/${f##*/}"
	else
		fail "fish -n completions/fish/${f##*/}"
		diag "$(cat "$T/err")"
	fi
done

done_testing
