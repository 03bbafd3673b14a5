# SPDX-License-Identifier: MIT
# fish completion for xsend (xmpptools).
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

set -l c xsend

# Recipients are JIDs: no file names.
complete -c $c -f

# Message options.
complete -c $c -s m -l message -x -d 'Send TEXT instead of reading standard input'
complete -c $c -s f -l file -r -F -d "Send the contents of FILE ('-' is standard input)"
complete -c $c -s t -l type -x -a 'chat normal headline' -d 'Message type'
complete -c $c -s s -l subject -x -d 'Subject of the message'
complete -c $c -l thread -x -d 'Thread identifier of the message'
complete -c $c -l url -x -d 'Attach URL (XEP-0066); the body when there is none'
complete -c $c -l no-store -d 'Ask servers not to store the message (XEP-0334)'
complete -c $c -l receipt -d 'Ask for delivery receipts (XEP-0184) and wait for each'
complete -c $c -l id -x -d 'Use ID as the message id (default: a new UUID)'
complete -c $c -l sanitize -d 'Replace what XML cannot carry with U+FFFD'
complete -c $c -l max-size -x -d 'Refuse a message larger than BYTES (default 65536)'

# Line mode and raw stanzas.
complete -c $c -s l -l lines -d 'Send each line of standard input as a message'
complete -c $c -s 0 -l null -d 'Like --lines, with messages separated by NUL bytes'
complete -c $c -l keep-empty -d 'With --lines, send empty lines too'
complete -c $c -l tee -d 'Print ID, recipient and line of each message that made it'
complete -c $c -l raw -d 'Send the XML stanzas of standard input; print iq replies'

# Rooms.
complete -c $c -s r -l room -d 'The JIDs are rooms (XEP-0045): join, send, leave'
complete -c $c -s n -l nick -x -d "Nickname in rooms (default: the account's localpart)"
complete -c $c -l room-password -x -d 'Password of the rooms (deprecated: others can see it)'
complete -c $c -l room-password-file -r -F -d 'Read the password of the rooms from FILE'
complete -c $c -l room-password-fd -x -d 'Read the password of the rooms from descriptor N'
complete -c $c -l nick-retry -d 'When the nick is taken, try NICK-2 ... NICK-9'

# Reconnection.
complete -c $c -l retries -x -d 'Reconnect up to N times in a row (default 3, --lines 10)'

# Recipients from a file; the configuration of the peer tools, as ours.
complete -c $c -l rcpt-file -r -F -d 'Also send to the JIDs in FILE, one per line'
complete -c $c -l upload -r -F -d 'Upload FILE (XEP-0363) and send its URL'
complete -c $c -l omemo -d 'Encrypt end to end with OMEMO (XEP-0384)'
complete -c $c -l print-config -f -d 'Print the configuration in use (=FILE: write it, password included)'

# The agent.
complete -c $c -l agent -f -d 'Send through a persistent agent that stays SECONDS (default 60) after its last use'

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
