# SPDX-License-Identifier: MIT
# fish completion for xlisten (xmpptools).
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

set -l c xlisten

# The arguments are sender JIDs: no file names.
complete -c $c -f

# Filters.
complete -c $c -l from -x -d 'Only messages from JID (a bare JID: every resource)'
complete -c $c -s t -l type -x -a 'chat normal headline groupchat error' -d 'Only messages of TYPE'
complete -c $c -l all -d 'Print every stanza: messages without body, presence, iq'
complete -c $c -l presence -d 'Print presence records too'

# Rooms.
complete -c $c -l room -x -d 'Join ROOM (XEP-0045) and print its messages'
complete -c $c -s n -l nick -x -d 'Nickname in rooms'
complete -c $c -l room-password -x -d 'Password of the rooms (deprecated: others can see it)'
complete -c $c -l room-password-file -r -F -d 'Read the password of the rooms from FILE'
complete -c $c -l room-password-fd -x -d 'Read the password of the rooms from descriptor N'
complete -c $c -l history -x -d 'Ask rooms for their last N messages on joining'

# Receiving.
complete -c $c -l carbons -d "Also print the carbons of the account's other clients"
complete -c $c -l priority -x -d 'Presence priority, -128 to 127 (default 0)'
complete -c $c -l no-receipts -d 'Do not answer receipt requests (XEP-0184)'

# Output.
complete -c $c -s F -l format -x -d 'Print records with FMT (%T %y %f %t %i %b %s %h %r %u)'
complete -c $c -s J -l json -d 'Print records as JSON Lines'
complete -c $c -s X -l xml -d 'Print each stanza as one line of XML'
complete -c $c -s 0 -l null -d 'End records with NUL, fields unescaped'

# Commands and run time.
complete -c $c -s e -l exec -x -a '(__fish_complete_command)' -d 'Run CMD for each message (body on stdin)'
complete -c $c -s c -l count -x -d 'Exit after N records'
complete -c $c -l keepalive -x -d 'Ping the server every SECONDS (default 60)'
complete -c $c -l retries -x -d 'Reconnect at most N times in a row'
complete -c $c -l state -r -F -d 'Catch up from the archive after the last message recorded in FILE'
complete -c $c -l since -x -d 'Without a recorded message: print the archive from TIME (ISO 8601)'
complete -c $c -l omemo -d 'Decrypt OMEMO (XEP-0384) messages'

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
