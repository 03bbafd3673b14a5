#!/bin/bash
# SPDX-License-Identifier: MIT
# t0006-completions: what bash, zsh and fish offer, asked of each shell with
# the files of completions/: the account names of the config file (the
# default one, $XDG_CONFIG_HOME's, and the one of -C), message types, show
# values, the subcommands of xroster and xpresence and set's states.
#
# bash: the completion function called with COMP_WORDS and COMP_CWORD set;
# zsh: an interactive zsh in a pseudo-terminal (zsh/zpty) with compinit,
# whose compadd prints each match; fish: complete -C. A shell that is not
# installed is skipped.
# shellcheck disable=SC2016 # the scripts of bash -c and fish -c
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$(dirname "$0")/lib.sh"

# shellcheck disable=SC2154 # top_srcdir is set by lib.sh
comp=$top_srcdir/completions
export LC_ALL=C

# A home with two accounts in the default config file, and another file for
# -C with two others; nothing is read from the real home.
export HOME=$XT_DIR/home
unset XDG_CONFIG_HOME
mkdir -p "$HOME/.config/xmpptools" "$XT_DIR/xdg/xmpptools"
cat >"$HOME/.config/xmpptools/config" <<'CONF'
# keys for every account
timeout = 20

[default]
jid = alerts@example.org

[ ops ]
jid = ops-bot@example.org
CONF
printf '[backup]\njid = b@example.org\n[archive]\njid = a@example.org\n' \
	>"$XT_DIR/other.conf"
printf '[xdg-only]\njid = x@example.org\n' >"$XT_DIR/xdg/xmpptools/config"
chmod 600 "$HOME/.config/xmpptools/config" "$XT_DIR/other.conf" \
	"$XT_DIR/xdg/xmpptools/config"

# The cases: a command line (its last word is completed) and the words that
# must be offered, all of them and no other, sorted.
xroster_cmds='add approve deny devices distrust export import list pending remove revoke set subscribe sync trust unsubscribe'
cases=(
	'xsend -a '                      'default ops'
	'xlisten --account='             'default ops'
	'xroster -a '                    'default ops'
	'xpresence --account '           'default ops'
	"xsend -C $XT_DIR/other.conf -a " 'archive backup'
	'xsend -t '                      'chat headline normal'
	'xlisten -t '                    'chat error groupchat headline normal'
	'xlisten --type '                'chat error groupchat headline normal'
	'xpresence -u '                  'available away chat dnd unavailable xa'
	'xpresence '                     'get set wait watch'
	'xpresence -a ops '              'get set wait watch'
	'xpresence set '                 'available away chat dnd xa'
	'xroster '                       "$xroster_cmds"
	'xroster -a ops '                "$xroster_cmds"
	'xroster --subscription '        'both from none to'
)
ncases=$((${#cases[@]} / 2))
plan $((3 * (ncases + 1)))

# normalize: the words of stdin, one per line, without a "--option=" prefix
# (fish keeps it, bash and zsh do not), sorted, on one line.
normalize() {
	sed 's/^--[a-z-]*=//' | sed '/^$/d' | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# --- bash ------------------------------------------------------------------------

# bash_offers LINE: the completion function of LINE's command, with the
# words as bash splits them ("--opt=value" is "--opt" "=" "value").
bash_offers() {
	timeout 20 bash --norc --noprofile -c '
		source "$1" || exit 1
		read -r -a w <<<"$2"
		[[ $2 == *" " ]] && w+=("")
		COMP_WORDS=()
		for x in "${w[@]}"; do
			if [[ $x == --*=* ]]; then
				COMP_WORDS+=("${x%%=*}" = "${x#*=}")
			else
				COMP_WORDS+=("$x")
			fi
		done
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE=$2
		COMP_POINT=${#2}
		COMPREPLY=()
		fn=$(complete -p "${COMP_WORDS[0]}" | sed -n "s/.* -F \([^ ]*\) .*/\1/p")
		"$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"
	' bash "$comp/bash/xmpptools" "$1" 2>&1 | normalize
}

# --- zsh -------------------------------------------------------------------------

# An interactive zsh in a pseudo-terminal: compinit with completions/zsh in
# fpath, a compadd that also prints what it adds (the calls with -O, -A or
# -D only compute lists), and a function after each completion that
# inserts and lists nothing and marks the end.
cat >"$XT_DIR/offers.zsh" <<'ZSH'
zmodload zsh/zpty || exit 1
zpty z zsh -f -i
zpty -w z "PS1='' RPROMPT='' TERM=dumb; bindkey -e"
zpty -w z "fpath=(${(q)1} \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z 'compadd() {
	if (( ${@[(I)-[OAD]*]} )); then builtin compadd "$@"; return; fi
	local -a m
	builtin compadd -A m "$@"
	(( $#m )) && print -rl -- "MATCH:"${^m} >/dev/tty
	builtin compadd "$@"
}'
zpty -w z 'offers_end() { compstate[list]=; compstate[insert]=; print -r -- OFFERS-END >/dev/tty }'
zpty -w z 'comppostfuncs=(offers_end)'
zpty -w z 'print OFFERS-READY'
zpty -r z out '*OFFERS-READY*OFFERS-READY*' || exit 1
zpty -n -w z "$2"$'\t'
zpty -r z out '*OFFERS-END*' || exit 1
print -r -- "$out" | tr -d '\r' | sed -n 's/^.*MATCH://p'
zpty -d z
ZSH

zsh_offers() {
	timeout 20 zsh -f "$XT_DIR/offers.zsh" "$comp/zsh" "$1" | normalize
}

# --- fish ------------------------------------------------------------------------

fish_offers() {
	local cmd=${1%% *}
	timeout 20 fish --no-config -c 'source $argv[1]; and complete -C $argv[2]' \
		"$comp/fish/$cmd.fish" "$1" 2>&1 | cut -f1 | normalize
}

# --- the cases, in each shell ----------------------------------------------------

for sh in bash zsh fish; do
	if ! command -v "$sh" >/dev/null 2>&1; then
		skip "$sh is not installed" $((ncases + 1))
		continue
	fi
	for ((i = 0; i < ${#cases[@]}; i += 2)); do
		line=${cases[i]} want=${cases[i + 1]}
		is "$("${sh}_offers" "$line")" "$want" "$sh: '${line/$XT_DIR/\$T}' offers $want"
	done
	# XDG_CONFIG_HOME's file comes before the one in the home directory.
	is "$(XDG_CONFIG_HOME=$XT_DIR/xdg "${sh}_offers" 'xsend -a ')" xdg-only \
		"$sh: with XDG_CONFIG_HOME, the accounts of its config file"
done
