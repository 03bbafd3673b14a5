/* SPDX-License-Identifier: MIT */
/* config.h -- settings: the config file, its accounts, and password sources */

#ifndef XMPPTOOLS_CONFIG_H
#define XMPPTOOLS_CONFIG_H

#include <stdint.h>

/*
 * One struct holds every setting shared by the tools.  Config file keys and
 * long options are the same words, and both go through config_set().  The
 * struct owns every string it holds; config_free() releases them.
 *
 * Error convention (as in every module of common/): a function with a
 * 'char **errstr' argument that fails stores an allocated one-line message
 * in *errstr (the caller frees it) and leaves it untouched on success.
 */
struct xconfig {
	/* account and connection */
	char *jid;
	char *host; /* connect here instead of SRV/domain */
	unsigned long port; /* 0: default */
	int direct_tls; /* XEP-0368 TLS from the first byte */
	char *cafile;
	char *capath;
	char *tls_pin; /* normalised: 64 lowercase hex or sha256//B64 */
	int insecure; /* accept any certificate (loud) */
	char *client_cert; /* SASL EXTERNAL */
	char *client_key;
	char *resource;
	long timeout_ms; /* 0: the tool's default */
	unsigned long max_stanza; /* bytes of one incoming stanza */

	/* password sources (never the command line) */
	char *password_file;
	long password_fd; /* -1: none */
	char *password_cmd;
	char *password; /* config file only */
	char *room_password; /* config file only (xsend, xlisten rooms) */

	/* diagnostics */
	int verbose;
	int quiet;

	/* xsend */
	unsigned long max_size;
	long agent_ms; /* --agent: how long the agent stays idle; 0: off */

	/* xsend, xlisten: OMEMO (XEP-0384) end-to-end encryption */
	int omemo;

	/* where the settings came from */
	char *config_file; /* --config */
	char *account; /* --account */
	char *loaded_from; /* the file actually read, or NULL */
	/* when no xmpptools config exists: the sendxmpp or go-sendxmpp
	 * file read instead (also in loaded_from), and whose it is */
	char *migrated_from;
	const char *migrated_tool; /* static: "sendxmpp", "go-sendxmpp" */

	uint64_t set; /* one bit per key given (see config.c) */
	uint64_t cli_set; /* ... of which on the command line */
};

/* How long xsend's agent stays after its last use when --agent or the key
 * 'agent' gives no number of seconds. */
#define XT_DEFAULT_AGENT_MS 60000L

/* The deadline of one run in milliseconds: --timeout, else the default
 * (XT_DEFAULT_TIMEOUT_MS).  The one place the default is applied. */
long config_timeout_ms(const struct xconfig *c);

/* Fills 'c' with the defaults.  config_free() undoes it. */
void config_init(struct xconfig *c);
void config_free(struct xconfig *c);

/*
 * config_set()
 *
 * Sets the key 'key' (a long option name; '_' and '-' are the same) from
 * its text 'value'.  For a flag, a NULL value means "on".  The value is
 * checked (numbers, ports, JIDs, pins); 'from_file' allows the keys that
 * only a file may hold (password).  Returns 0, or -1 with *errstr.
 */
int config_set(struct xconfig *c, const char *key, const char *value,
    int from_file, char **errstr);

/*
 * config_load()
 *
 * Reads the config file into 'c': the path given by --config, else
 * $XDG_CONFIG_HOME/xmpptools/config (or ~/.config/xmpptools/config), else
 * /etc/xmpptools/config; a missing default file is not an error.  Keys
 * before the first [section] apply to every account; then the section
 * named 'account', or [default] when 'account' is NULL.  A file that holds
 * a password and is readable by group or others is refused.
 *
 * When none of the three exists and neither 'path' nor 'account' is given,
 * the first of $XDG_CONFIG_HOME/go-sendxmpp/config (or
 * ~/.config/go-sendxmpp/config), .../go-sendxmpp/sendxmpprc and
 * ~/.sendxmpprc is read instead (migrate_parse(), under the same rules of
 * ownership and permissions) and named in migrated_from.  Returns
 * XEXIT_OK, or XEXIT_CONFIG with *errstr.
 */
int config_load(
    struct xconfig *c, const char *path, const char *account, char **errstr);

/*
 * config_merge()
 *
 * Copies into 'dst' every setting that was given in 'src' (its 'set' bits):
 * the command line over the file.
 */
void config_merge(struct xconfig *dst, const struct xconfig *src);

/*
 * config_check()
 *
 * The checks across settings, once everything is merged: a JID is given,
 * options that exclude each other.  Returns XEXIT_OK, or XEXIT_USAGE or
 * XEXIT_CONFIG with *errstr.
 */
int config_check(const struct xconfig *c, char **errstr);

/*
 * config_take_env_password()
 *
 * Moves XMPP_PASSWORD out of the environment (so no child process sees it)
 * into a private copy used by config_password(), and overwrites its text
 * in the environment block (which /proc/PID/environ shows).  Call it once,
 * first.
 */
void config_take_env_password(void);

/*
 * config_forget_password()
 *
 * Wipes and frees the copies of the password that config.c holds: the one
 * taken from XMPP_PASSWORD and the config file's 'password' of 'c'.  Call
 * it once the caller has its own copy from config_password(); later calls
 * of config_password() no longer find those two sources.
 */
void config_forget_password(struct xconfig *c);

/*
 * config_password()
 *
 * Finds the account password, in this order: --password-file, --password-fd,
 * --password-cmd / password-cmd (first line of its output), XMPP_PASSWORD,
 * the config file's password, a prompt on the terminal.  *pw is set to an
 * allocated string (release it with util_secure_free()), or to NULL when a
 * client certificate stands in for a password.  Returns XEXIT_OK, or
 * XEXIT_CONFIG with *errstr.
 */
int config_password(const struct xconfig *c, char **pw, char **errstr);

/*
 * config_from_cli()
 *
 * True when 'key' was given on the command line (config_merge() of the
 * command-line settings records it), not only in the file.
 */
int config_from_cli(const struct xconfig *c, const char *key);

/*
 * config_is_set()
 *
 * True when 'key' was given (on the command line or in the file read).
 */
int config_is_set(const struct xconfig *c, const char *key);

/*
 * config_pin_normalise()
 *
 * Returns the canonical form of a certificate pin (caller frees): 64
 * lowercase hex digits for a certificate's SHA-256 (colons and case are
 * ignored in the input), or "sha256//BASE64" for the SHA-256 of the public
 * key (curl's format), or NULL when 's' is neither.
 */
char *config_pin_normalise(const char *s);

/* Where the password of the rooms comes from (xsend, xlisten options). */
struct room_password_opts {
	char *value; /* --room-password (the command line: warned) */
	char *file; /* --room-password-file */
	long fd; /* --room-password-fd, or -1 */
};

void config_room_password_init(struct room_password_opts *o);
void config_room_password_free(struct room_password_opts *o);

/*
 * config_room_password_option()
 *
 * Takes one of the options --room-password, --room-password-file,
 * --room-password-fd ('name' without the dashes) with its argument.
 * Returns 0, or -1 with *errstr.
 */
int config_room_password_option(struct room_password_opts *o, const char *name,
    const char *arg, char **errstr);

/* How many room password options were given (more than one is a usage
 * error). */
int config_room_password_given(const struct room_password_opts *o);

/*
 * config_room_password()
 *
 * The password of the rooms: --room-password, else the first line of the
 * file or of the descriptor (read by the deadline of --timeout under the
 * rules of the password file), else the config key room-password, else
 * none (*out NULL).  Returns an exit code (XEXIT_OK, XEXIT_CONFIG,
 * XEXIT_TIMEOUT) with *errstr on failure; *out is the caller's, to free
 * with util_secure_free().
 */
int config_room_password(const struct xconfig *c,
    const struct room_password_opts *o, char **out, char **errstr);

#endif
