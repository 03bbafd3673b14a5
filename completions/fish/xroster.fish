# SPDX-License-Identifier: MIT
# fish completion for xroster (xmpptools).
#
# fish loads completions/<command>.fish by command name, so each tool has its
# own file.  The block "account and connection options" is the same in
# every tool's file; only the value of $c changes.

# The [section] names (accounts) of the config file: the one given with -C
# or --config earlier on the line, else the first default that exists.
function __xmpptools_accounts
    set -l f
    set -l toks (commandline -opc)
    set -l i 2
    while test $i -le (count $toks)
        switch $toks[$i]
            case -C --config
                set i (math $i + 1)
                set f $toks[$i]
            case '--config=*'
                set f (string replace -- --config= '' $toks[$i])
            case '-C?*'
                set f (string sub -s 3 -- $toks[$i])
        end
        set i (math $i + 1)
    end
    if test -n "$f"
        set f (string replace -r -- '^~/' "$HOME/" $f)
    else
        if string match -q -- '/*' "$XDG_CONFIG_HOME"
            set f $XDG_CONFIG_HOME/xmpptools/config
        else if string match -q -- '/*' "$HOME"
            set f $HOME/.config/xmpptools/config
        end
        if test -z "$f"; or not test -e "$f"
            set f /etc/xmpptools/config
        end
    end
    test -r "$f"; or return
    string match -r -g -- '^[ \t]*\[[ \t]*(.*?)[ \t]*\][ \t\r]*$' <$f | string match -v -- '' | awk '!seen[$0]++'
end

# The command of the line so far (the first word that is neither an option
# nor an option's argument); fails when there is none yet.
function __xroster_command
    set -l toks (commandline -opc)
    set -e toks[1]
    set -l skip 0
    for t in $toks
        if test $skip = 1
            set skip 0
            continue
        end
        switch $t
            case --name --group --add-group --remove-group --message --subscription --format \
                --jid --account --config --host --port --cafile --capath --tls-pin \
                --client-cert --client-key --resource --timeout --max-stanza --password-file \
                --password-fd --password-cmd -g -m -F -j -a -C -w
                set skip 1
            case '-*'
            case '*'
                echo $t
                return 0
        end
    end
    return 1
end

# True when the command is one of $argv.
function __xroster_command_is
    set -l cmd (__xroster_command); or return
    contains -- $cmd $argv
end

set -l c xroster

# Arguments are JIDs, except the file of import and sync.
complete -c $c -f

# Commands.
set -l nocmd 'not __xroster_command'
complete -c $c -n $nocmd -a list -d 'List the contacts (the default)'
complete -c $c -n $nocmd -a add -d 'Add a contact'
complete -c $c -n $nocmd -a set -d 'Rename or regroup a contact'
complete -c $c -n $nocmd -a remove -d 'Remove contacts'
complete -c $c -n $nocmd -a subscribe -d "Ask to see the contacts' presence"
complete -c $c -n $nocmd -a unsubscribe -d "Stop seeing the contacts' presence"
complete -c $c -n $nocmd -a approve -d 'Approve or pre-approve subscription requests'
complete -c $c -n $nocmd -a deny -d 'Refuse subscription requests'
complete -c $c -n $nocmd -a revoke -d 'Cancel their subscription to us'
complete -c $c -n $nocmd -a pending -d 'List the subscription requests that wait'
complete -c $c -n $nocmd -a export -d 'Print the roster as JSON Lines'
complete -c $c -n $nocmd -a import -d 'Add and update the contacts of FILE'
complete -c $c -n $nocmd -a sync -d 'Make the roster equal to FILE'
complete -c $c -n $nocmd -a devices -d 'List the OMEMO devices of a contact with fingerprints'
complete -c $c -n $nocmd -a trust -d 'Trust an OMEMO device of a contact'
complete -c $c -n $nocmd -a distrust -d 'Never encrypt for an OMEMO device of a contact'
complete -c $c -n '__xroster_command_is import sync' -F

# Roster options.
complete -c $c -l name -x -d "add, set: the contact's name ('' removes it)"
complete -c $c -s g -l group -x -d 'add, set: a group of the contact; list: only contacts in GROUP'
complete -c $c -l add-group -x -d 'set: add the contact to GROUP'
complete -c $c -l remove-group -x -d 'set: take the contact out of GROUP'
complete -c $c -l subscribe -d "add: also ask to see the contact's presence"
complete -c $c -s m -l message -x -d 'subscribe, add --subscribe: the text of the request'
complete -c $c -l subscription -x -a 'none to from both' -d 'list: only contacts with this subscription'
complete -c $c -l prune -d 'sync: also remove the contacts the file does not list'
complete -c $c -l dry-run -d 'import, sync: print the plan, change nothing'

# Output options.
complete -c $c -s F -l format -x -d 'Print records with FMT (%j %S %a %n %g)'
complete -c $c -s J -l json -d 'Print records as JSON Lines'
complete -c $c -s X -l xml -d 'Print each roster item as one line of XML'
complete -c $c -s 0 -l null -d 'End records with NUL, fields unescaped'

# Account and connection options.
complete -c $c -s j -l jid -x -d 'Log in as JID'
complete -c $c -s a -l account -x -a '(__xmpptools_accounts)' -d 'Use the [NAME] section of the config file'
complete -c $c -s C -l config -r -F -d 'Read FILE instead of the default config file'
complete -c $c -l host -x -a '(__fish_print_hostnames)' -d 'Connect to HOST instead of looking up the domain'
complete -c $c -l port -x -d 'Connect to PORT (default 5222, or 5223 with --direct-tls)'
complete -c $c -l direct-tls -d 'TLS from the first byte (XEP-0368) instead of STARTTLS'
complete -c $c -l cafile -r -F -d 'Also trust the CA certificates in FILE'
complete -c $c -l capath -x -a '(__fish_complete_directories)' -d 'Also trust the CA certificates in DIR'
complete -c $c -l tls-pin -x -d 'Trust only the certificate with this SHA-256 fingerprint or key'
complete -c $c -l insecure -d 'Accept any certificate (unsafe)'
complete -c $c -l client-cert -r -F -d 'Log in with the client certificate in FILE (SASL EXTERNAL)'
complete -c $c -l client-key -r -F -d 'The private key of --client-cert'
complete -c $c -l resource -x -d 'Ask for this resource'
complete -c $c -s w -l timeout -x -d 'Give up after SECONDS'
complete -c $c -l max-stanza -x -d 'Largest stanza accepted from the server (BYTES)'
complete -c $c -l password-file -r -F -d 'Read the password from the first line of FILE'
complete -c $c -l password-fd -x -d 'Read the password from the first line of descriptor N'
complete -c $c -l password-cmd -x -a '(__fish_complete_command)' -d 'Run CMD with /bin/sh; its first line is the password'
complete -c $c -s v -l verbose -d 'Say what happens (-vv: the XML stream)'
complete -c $c -s q -l quiet -d 'No warnings or notices'
complete -c $c -s V -l version -d 'Print the version and exit'
complete -c $c -s '?' -l help -d 'Show the help and exit'
complete -c $c -l usage -d 'Show a short usage message and exit'
