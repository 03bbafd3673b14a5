/* SPDX-License-Identifier: MIT */
/* options.h -- the shared option table and the common main() of the tools */

#ifndef XMPPTOOLS_OPTIONS_H
#define XMPPTOOLS_OPTIONS_H

#include <popt.h>

#include "config.h"

/*
 * Every tool includes the common table in its own popt table:
 *
 *	static struct poptOption options[] = {
 *		{ "subject", 's', POPT_ARG_STRING, NULL, 's', "...", "TEXT" },
 *		XOPT_COMMON_TABLE
 *		POPT_AUTOHELP
 *		POPT_TABLEEND
 *	};
 *
 * The common options are consumed by a callback that stores them, through
 * config_set(), in the command-line half of the settings; the tool's own
 * options come back to the tool's option() function.  The short letters
 * are registered in common/options.txt so that they mean the same thing in
 * every tool.
 */
extern struct poptOption xopt_common[];

#define XOPT_COMMON_TABLE                                                      \
	{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, xopt_common, 0,                  \
		"Account and connection options:", NULL },

/* What a tool is; cmd/<tool>.c holds one and calls xtool_main(). */
struct xtool {
	const char *name;
	const char *args_help; /* "[OPTION...] JID..." */
	struct poptOption *options;

	/*
	 * option()
	 *
	 * Handles one of the tool's own options ('val' from its table, 'arg'
	 * borrowed).  'cli' is the command-line settings, for options that
	 * are also config keys.  Returns 0, or -1 with *errstr (a usage
	 * error).
	 */
	int (*option)(void *state, struct xconfig *cli, int val,
	    const char *arg, char **errstr);

	/*
	 * run()
	 *
	 * Does the tool's job with the merged settings and the positional
	 * arguments (borrowed), prints its own diagnostics, and returns the
	 * exit code.
	 */
	int (*run)(
	    void *state, struct xconfig *cfg, int argc, const char **argv);

	/*
	 * end()
	 *
	 * Frees the tool's whole state (its session first).  xtool_main()
	 * calls it once on every path, usage errors included, before it
	 * frees the settings the session borrows; main() then only returns
	 * xtool_main()'s code.  May be NULL.
	 */
	void (*end)(void *state);

	void *state;
};

/*
 * xtool_main()
 *
 * The main() of every tool: makes the process non-dumpable (no core file,
 * no ptrace, /proc/PID/mem or environ for other processes of the user),
 * takes XMPP_PASSWORD out of the environment, parses the options (usage
 * errors give XEXIT_USAGE), reads the config file and lays the command line
 * over it (XEXIT_CONFIG), then returns what tool->run() returns.  --help
 * and --version return XEXIT_OK.
 */
/*
 * xtool_number()
 *
 * The one way an option's number is read: a decimal from 'min' to 'max'
 * into *out, else -1 with the usage message "OPT: invalid number 'ARG'
 * (MIN to MAX)" in *errstr.
 */
int xtool_number(const char *opt, const char *arg, long min, long max,
    long *out, char **errstr);

/*
 * xtool_usage()
 *
 * A usage error found after the options were read: the one line
 * (printf-style) and the "Try 'TOOL --help'" hint on stderr, as for a bad
 * option.  Returns XEXIT_USAGE.
 */
int xtool_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct session;

/*
 * xtool_session()
 *
 * The account's password (xtool_account()) and a session for it: the
 * first steps of every tool's run().  On failure the one line is printed
 * and the exit code returned; *s is the caller's (session_free()).
 */
int xtool_session(struct xconfig *cfg, struct session **s);

/*
 * xtool_run_session()
 *
 * Runs the session and returns its exit code; a failure whose code is not
 * in 'own' (a mask of 1 << XEXIT_*, the codes the tool explains itself) is
 * explained by the session's one line.
 */
int xtool_run_session(struct session *s, unsigned own);

int xtool_main(const struct xtool *tool, int argc, char **argv);

/*
 * xtool_account()
 *
 * The checks every connecting tool makes once its own input is known to be
 * good: a JID is set, the options agree, a password is found.  Prints the
 * error line itself.  Returns XEXIT_OK and sets *password (release with
 * util_secure_free(); NULL with a client certificate), or the exit code.
 * On success the settings' own copies of the password are wiped
 * (config_forget_password()): *password is the only one left.
 */
int xtool_account(struct xconfig *cfg, char **password);

#endif
