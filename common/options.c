/* SPDX-License-Identifier: MIT */
/* options.c -- the shared option table and the common main() of the tools */

#include <sys/prctl.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>
#include <openssl/crypto.h>
#include <popt.h>
#include <strophe.h>

#include "buildinfo.h"
#include "config.h"
#include "options.h"
#include "session.h"
#include "text.h"
#include "util.h"
#include "xmpptools.h"

enum {
	OPT_SETTING = 1, /* stored through config_set() by its name */
	OPT_VERSION
};

/* The popt callback has no user data: where it stores what it parses. */
static struct {
	struct xconfig *cli;
	char *error;
	int version;
} bound;

static void
common_cb(poptContext con, enum poptCallbackReason reason,
    const struct poptOption *opt, const char *arg, const void *data)
{
	char *err = NULL;

	(void)con;
	(void)data;
	if (reason != POPT_CALLBACK_REASON_OPTION)
		return;
	if (opt->val == OPT_VERSION) {
		bound.version = 1;
		return;
	}
	if (bound.error != NULL)
		return;
	/* popt hands a flag the argument of the option before it. */
	if ((opt->argInfo & POPT_ARG_MASK) == POPT_ARG_NONE)
		arg = NULL;
	if (config_set(bound.cli, opt->longName, arg, 0, &err) < 0) {
		bound.error = xasprintf("--%s: %s", opt->longName, err);
		free(err);
	}
}

struct poptOption xopt_common[] = { { NULL, '\0', POPT_ARG_CALLBACK,
					(void *)common_cb, 0, NULL, NULL },
	{ "jid", 'j', POPT_ARG_STRING, NULL, OPT_SETTING, "Log in as JID",
	    "JID" },
	{ "account", 'a', POPT_ARG_STRING, NULL, OPT_SETTING,
	    "Use the [NAME] section of the config file", "NAME" },
	{ "config", 'C', POPT_ARG_STRING, NULL, OPT_SETTING,
	    "Read FILE instead of the default config file", "FILE" },
	{ "host", '\0', POPT_ARG_STRING, NULL, OPT_SETTING,
	    "Connect to HOST instead of looking up the domain", "HOST" },
	{ "port", '\0', POPT_ARG_STRING, NULL, OPT_SETTING,
	    "Connect to PORT (default 5222, or 5223 with --direct-tls; without --host, at the domain itself, no SRV lookup)",
	    "PORT" },
	{ "direct-tls", '\0', POPT_ARG_NONE, NULL, OPT_SETTING,
	    "TLS from the first byte (XEP-0368) instead of STARTTLS", NULL },
	{ "cafile", '\0', POPT_ARG_STRING, NULL, OPT_SETTING,
	    "Also trust the CA certificates in FILE", "FILE" },
	{ "capath", '\0', POPT_ARG_STRING, NULL, OPT_SETTING,
	    "Also trust the CA certificates in DIR", "DIR" },
	{ "tls-pin", '\0', POPT_ARG_STRING, NULL, OPT_SETTING,
	    "Trust only the certificate with this SHA-256 fingerprint "
	    "(hex), or the key with sha256//BASE64",
	    "PIN" },
	{ "insecure", '\0', POPT_ARG_NONE, NULL, OPT_SETTING,
	    "Accept any certificate (unsafe: anyone on the path can read "
	    "everything)",
	    NULL },
	{ "client-cert", '\0', POPT_ARG_STRING, NULL, OPT_SETTING,
	    "Log in with the client certificate in FILE (SASL EXTERNAL)",
	    "FILE" },
	{ "client-key", '\0', POPT_ARG_STRING, NULL, OPT_SETTING,
	    "The private key of --client-cert, if not in the same file",
	    "FILE" },
	{ "resource", '\0', POPT_ARG_STRING, NULL, OPT_SETTING,
	    "Ask for this resource (default: one the server picks)", "NAME" },
	{ "timeout", 'w', POPT_ARG_STRING, NULL, OPT_SETTING,
	    "Give up after SECONDS", "SECONDS" },
	{ "max-stanza", '\0', POPT_ARG_STRING, NULL, OPT_SETTING,
	    "Close the stream when the server sends a stanza over BYTES "
	    "(default 1048576)",
	    "BYTES" },
	{ "password-file", '\0', POPT_ARG_STRING, NULL, OPT_SETTING,
	    "Read the password from the first line of FILE", "FILE" },
	{ "password-fd", '\0', POPT_ARG_STRING, NULL, OPT_SETTING,
	    "Read the password from the first line of descriptor N", "N" },
	{ "password-cmd", '\0', POPT_ARG_STRING, NULL, OPT_SETTING,
	    "Run CMD with /bin/sh and take the first line it prints as the "
	    "password",
	    "CMD" },
	{ "verbose", 'v', POPT_ARG_NONE, NULL, OPT_SETTING,
	    "Say what happens (-vv: the XML stream, credentials redacted)",
	    NULL },
	{ "quiet", 'q', POPT_ARG_NONE, NULL, OPT_SETTING,
	    "No warnings or notices (errors are still shown)", NULL },
	{ "version", 'V', POPT_ARG_NONE, NULL, OPT_VERSION,
	    "Print the version and exit", NULL },
	POPT_TABLEEND };

/*
 * --version: the suite's line (scripts read it), then the libraries
 * actually loaded.  libstrophe 0.12 has no call that returns its version:
 * xmpp_version_check(0, N) is true for every N from the loaded library's
 * minor version up, so the smallest such N is that minor version; the
 * patch level is only known as the one of the headers built against.
 */
static void
print_version(const char *tool)
{
	int minor;

	printf("%s (xmpptools) %s\n", tool, PACKAGE_VERSION);
	for (minor = 0; minor < 1000 && !xmpp_version_check(0, minor); minor++)
		;
	if (minor < 1000)
		printf("libstrophe 0.%d (loaded; it reports no patch level)",
		    minor);
	else
		printf("libstrophe (loaded; not a 0.x version)");
	if (XT_STROPHE_BUILT[0] != '\0')
		printf(", built against %s", XT_STROPHE_BUILT);
	printf("\n%s\n", OpenSSL_version(OPENSSL_VERSION));
	printf("expat %d.%d.%d\n", XML_ExpatVersionInfo().major,
	    XML_ExpatVersionInfo().minor, XML_ExpatVersionInfo().micro);
}

static int
usage_error(const char *tool, const char *msg)
{
	xerror("%s", msg);
	fprintf(stderr, "Try '%s --help' for more information.\n", tool);
	return XEXIT_USAGE;
}

int
xtool_usage(const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	usage_error(util_progname(), msg ? msg : fmt);
	free(msg);
	return XEXIT_USAGE;
}

/* True when 'c' is a short option of 'opts' or of a table it includes. */
static int
known_short(const struct poptOption *opts, char c)
{
	for (; opts->longName || opts->shortName || opts->arg; opts++) {
		if ((opts->argInfo & POPT_ARG_MASK) == POPT_ARG_INCLUDE_TABLE) {
			if (known_short(opts->arg, c))
				return 1;
		} else if (opts->shortName == c) {
			return 1;
		}
	}
	return 0;
}

/*
 * The message about an option popt refused ('rc').  An unknown option is
 * named without what follows it: the value of --name=VALUE, or the rest of
 * a group of short options after the unknown letter (-pVALUE), for a
 * mistyped option may hold a password.  The name is escaped (it comes from
 * the command line).  The caller frees the result.
 */
static char *
bad_option(const struct poptOption *opts, const char *bad, int rc)
{
	size_t n = strlen(bad), i;
	char *name, *msg, one[3] = "-";

	if (rc == POPT_ERROR_BADOPT && strncmp(bad, "--", 2) == 0)
		n = strcspn(bad, "=");
	else if (rc == POPT_ERROR_BADOPT && bad[0] == '-' && n > 2) {
		/* popt names the whole group: find its first unknown letter. */
		for (i = 1; bad[i] && known_short(opts, bad[i]); i++)
			;
		if (bad[i] != '\0') {
			one[1] = bad[i];
			bad = one;
			n = 2;
		}
	}
	if (rc == POPT_ERROR_BADOPT && n == 10 &&
	    strncmp(bad, "--password", 10) == 0)
		return xstrdup("--password: unknown option: passwords never go "
			       "on the command line (see --password-file, "
			       "--password-cmd)");
	name = text_escape_dup(bad, n);
	msg = xasprintf("%s: %s", name, poptStrerror(rc));
	free(name);
	return msg;
}

int
xtool_number(const char *opt, const char *arg, long min, long max, long *out,
    char **errstr)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max) {
		*errstr = xasprintf(
		    "%s: invalid number '%s' (%ld to %ld)", opt, arg, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int
xtool_session(struct xconfig *cfg, struct session **s)
{
	char *password = NULL, *err = NULL;
	int rc;

	*s = NULL;
	if ((rc = xtool_account(cfg, &password)) != XEXIT_OK)
		return rc;
	*s = session_new(cfg, password, &err);
	util_secure_free(password);
	if (*s == NULL) {
		xerror("%s", err);
		free(err);
		return XEXIT_CONFIG;
	}
	return XEXIT_OK;
}

int
xtool_run_session(struct session *s, unsigned own)
{
	int rc = session_run(s);

	if (rc != XEXIT_OK && !(own & (1U << rc)) && session_error(s))
		xerror("%s", session_error(s));
	return rc;
}

/* Which file was read: one notice for a sendxmpp or go-sendxmpp file (the
 * user is told how to switch), a debug line for our own. */
static void
say_where_read(const struct xconfig *cfg)
{
	char *from;

	if (cfg->migrated_from == NULL) {
		if (cfg->loaded_from)
			xdebug(1, "read %s", cfg->loaded_from);
		return;
	}
	from = text_escape_dup(cfg->migrated_from, strlen(cfg->migrated_from));
	xnote("read %s (%s's configuration); xsend --print-config writes the "
	      "xmpptools equivalent",
	    from, cfg->migrated_tool);
	free(from);
}

int
xtool_main(const struct xtool *t, int argc, char **argv)
{
	struct xconfig cli, cfg;
	poptContext con;
	const char **args;
	char *err = NULL, *arg;
	int rc, nargs = 0;

	/*
	 * Before any secret is read: no core file, and no other process of
	 * the user may ptrace this one or read its /proc/PID/mem or environ.
	 */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	util_set_progname(t->name);
	config_take_env_password();
	config_init(&cli);
	config_init(&cfg);
	bound.cli = &cli;

	con = poptGetContext(t->name, argc, (const char **)argv, t->options, 0);
	poptSetOtherOptionHelp(con, t->args_help);
	while ((rc = poptGetNextOpt(con)) > 0) {
		arg = poptGetOptArg(con);
		if (t->option(t->state, &cli, rc, arg, &err) < 0) {
			free(arg);
			rc = usage_error(t->name, err);
			free(err);
			goto out;
		}
		free(arg);
	}
	if (rc < -1) {
		err = bad_option(
		    t->options, poptBadOption(con, POPT_BADOPTION_NOALIAS), rc);
		rc = usage_error(t->name, err);
		free(err);
		goto out;
	}
	if (bound.error != NULL) {
		rc = usage_error(t->name, bound.error);
		goto out;
	}
	if (bound.version) {
		print_version(t->name);
		rc = XEXIT_OK;
		goto out;
	}
	args = poptGetArgs(con);
	while (args && args[nargs])
		nargs++;

	util_set_verbosity(cli.verbose, cli.quiet);
	if (config_load(&cfg, cli.config_file, cli.account, &err) != XEXIT_OK) {
		xerror("%s", err);
		free(err);
		rc = XEXIT_CONFIG;
		goto out;
	}
	config_merge(&cfg, &cli);
	util_set_verbosity(cfg.verbose, cfg.quiet);
	say_where_read(&cfg);

	rc = t->run(
	    t->state, &cfg, nargs, args ? args : (const char **)argv + argc);
out:
	/* The tool's state first: its session borrows the config. */
	if (t->end)
		t->end(t->state);
	free(bound.error);
	bound.error = NULL;
	bound.version = 0;
	poptFreeContext(con);
	config_free(&cli);
	config_free(&cfg);
	return rc;
}

int
xtool_account(struct xconfig *cfg, char **password)
{
	char *err = NULL;
	int rc;

	*password = NULL;
	if ((rc = config_check(cfg, &err)) != XEXIT_OK ||
	    (rc = config_password(cfg, password, &err)) != XEXIT_OK) {
		xerror("%s", err);
		free(err);
		return rc;
	}
	/* The caller has its copy now: the settings keep none. */
	config_forget_password(cfg);
	if (cfg->insecure)
		xwarn("--insecure: the server's certificate is not verified");
	return XEXIT_OK;
}
