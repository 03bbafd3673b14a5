/* SPDX-License-Identifier: MIT */
/* migrate.h -- sendxmpp's and go-sendxmpp's files: configs and alert lists */

#ifndef XMPPTOOLS_MIGRATE_H
#define XMPPTOOLS_MIGRATE_H

#include <stddef.h>

#include "config.h"

/*
 * migrate_parse()
 *
 * Reads the text of a sendxmpp (~/.sendxmpprc) or go-sendxmpp config into
 * 'c' through config_set() as file keys, so every value is checked as in
 * our own file.  Two formats:
 *
 *	user@server[:port] password [component]      (sendxmpp, one line)
 *	username: NAME  jserver: HOST  port: N  password: PW
 *	eval_password: CMD  resource: RES  component: DOMAIN  alias: NICK
 *
 * In the second, a username with '@' is a JID (go-sendxmpp) and jserver
 * the host to connect to; without '@' it is the localpart (sendxmpp) and
 * the JID's domain is the component, else jserver.  eval_password becomes
 * password-cmd.  A key with no equivalent is ignored with one notice
 * (xnote()).  'text' is modified; 'where' names the file in messages
 * (escaped by the caller).  Returns 0, or -1 with *errstr ("WHERE:LINE:
 * why").
 */
int
migrate_parse(struct xconfig *c, char *text, const char *where, char **errstr);

/*
 * migrate_render()
 *
 * The xmpptools config equivalent to the settings 'c' read by
 * migrate_parse() from 'from' (a file name, escaped by the caller), as the
 * text of a config file (caller frees): the account, connection and TLS
 * keys and the password sources.  The password is written only when
 * 'with_password' is set; otherwise a comment says where it can go.
 */
char *
migrate_render(const struct xconfig *c, const char *from, int with_password);

/*
 * migrate_write_config()
 *
 * xsend --print-config: writes migrate_render() of the settings 'c' (those
 * of the sendxmpp or go-sendxmpp file named in c->migrated_from, with the
 * command line laid over them): to standard output without the password,
 * or, when 'file' is given, with it into the new file 'file' (created with
 * mode 0600; an existing file is never replaced).  Returns XEXIT_OK, or
 * XEXIT_CONFIG (no such file was read, or 'file' cannot be written) or
 * XEXIT_FAILURE (standard output failed) with *errstr.
 */
int
migrate_write_config(const struct xconfig *c, const char *file, char **errstr);

/*
 * migrate_rcpt_list()
 *
 * Reads an alert list: one JID per line, '#' comments and blank lines
 * skipped, spaces and tabs at both ends trimmed.  Each JID is checked as a
 * recipient on the command line is (with 'rooms': a bare room@service).
 * Appends the JIDs (allocated) to *list, growing it, and counts them in *n;
 * the caller frees each and the array, also after a failure.  'where'
 * names the file in messages (escaped by the caller).  Returns 0, or -1
 * with *errstr ("WHERE:LINE: invalid JID 'TEXT': why").
 */
int migrate_rcpt_list(const char *text, size_t len, const char *where,
    int rooms, char ***list, size_t *n, char **errstr);

#endif
