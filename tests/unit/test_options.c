/* SPDX-License-Identifier: MIT */
/* test_options.c -- unit tests of common/options.c (xopt_common, xtool_main) */

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <popt.h>

#include "config.h"
#include "options.h"
#include "util.h"
#include "xmpptools.h"

#define NAME "xtest"
#define RUN_RC 42 /* what run() returns unless a test asks otherwise */

#define PIN_HEX                                                                \
	"06298432e8066b29e2223bcc23aa9504b56ae508fabf3435508869b9c3190e22"
#define PIN_COLONS                                                             \
	"06:29:84:32:E8:06:6B:29:E2:22:3B:CC:23:AA:95:04:"                     \
	"B5:6A:E5:08:FA:BF:34:35:50:88:69:B9:C3:19:0E:22"
#define PIN_B64 "sha256//LHDhK3oGRvkiefQnx7OOczTY5Tic/xZ6HcMOc/gmtoM="

/* --- the test tool --- */

/*
 * What the tool saw in one xtool_main() call.  The callbacks only record:
 * a cmocka assertion inside them would jump out of xtool_main() with
 * stdout and stderr still redirected.
 */
struct rec {
	/* set by the test */
	const char *fail_on; /* option() refuses this argument */
	int account; /* run() calls xtool_account() */
	int run_rc; /* what run() returns */

	/* what option() got */
	int options;
	int opt_val;
	char *opt_arg; /* the last one, copied */
	int opt_no_cli; /* option() was called without the cli config */

	/* what run() got */
	int runs;
	struct xconfig cfg; /* a deep copy of the merged settings */
	int argc;
	char **argv; /* copied */
	int argv_terminated; /* argv[argc] was NULL */
	int verbosity; /* util_verbosity() inside run() */
	int account_rc;
	char *password; /* from xtool_account(), copied */
	int password_kept; /* cfg->password after xtool_account() */
	int dumpable; /* prctl(PR_GET_DUMPABLE) inside run() */

	/* what xtool_main() returned and printed */
	int rc;
	char *out;
	char *err;
};

static int
tool_option(
    void *state, struct xconfig *cli, int val, const char *arg, char **errstr)
{
	struct rec *r = state;
	char *err = NULL;

	r->options++;
	r->opt_val = val;
	free(r->opt_arg);
	r->opt_arg = arg ? xstrdup(arg) : NULL;
	if (cli == NULL) {
		r->opt_no_cli = 1;
		return 0;
	}
	if (r->fail_on && arg && strcmp(arg, r->fail_on) == 0) {
		*errstr = xasprintf("--subject: refused '%s'", arg);
		return -1;
	}
	/* "res=NAME": a tool option that is also a config key */
	if (arg && strncmp(arg, "res=", 4) == 0 &&
	    config_set(cli, "resource", arg + 4, 0, &err) < 0) {
		*errstr = err;
		return -1;
	}
	return 0;
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* Copies every setting; config_free(dst) releases the copy. */
static void
copy_config(struct xconfig *dst, const struct xconfig *src)
{
	*dst = *src;
	dst->jid = dup_or_null(src->jid);
	dst->host = dup_or_null(src->host);
	dst->cafile = dup_or_null(src->cafile);
	dst->capath = dup_or_null(src->capath);
	dst->tls_pin = dup_or_null(src->tls_pin);
	dst->client_cert = dup_or_null(src->client_cert);
	dst->client_key = dup_or_null(src->client_key);
	dst->resource = dup_or_null(src->resource);
	dst->password_file = dup_or_null(src->password_file);
	dst->password_cmd = dup_or_null(src->password_cmd);
	dst->password = dup_or_null(src->password);
	dst->config_file = dup_or_null(src->config_file);
	dst->account = dup_or_null(src->account);
	dst->loaded_from = dup_or_null(src->loaded_from);
}

static int
tool_run(void *state, struct xconfig *cfg, int argc, const char **argv)
{
	struct rec *r = state;
	char *pw = NULL;
	int i;

	r->runs++;
	r->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	config_free(&r->cfg);
	copy_config(&r->cfg, cfg);
	r->verbosity = util_verbosity();
	r->argc = argc;
	r->argv = xcalloc((size_t)argc + 1, sizeof(*r->argv));
	for (i = 0; i < argc; i++)
		r->argv[i] = xstrdup(argv[i]);
	r->argv_terminated = argv[argc] == NULL;
	if (r->account) {
		r->account_rc = xtool_account(cfg, &pw);
		r->password_kept = cfg->password != NULL;
		r->password = dup_or_null(pw);
		util_secure_free(pw);
		return r->account_rc;
	}
	return r->run_rc;
}

static struct poptOption options[] = { { "subject", 's', POPT_ARG_STRING, NULL,
					   1, "Message subject", "TEXT" },
	XOPT_COMMON_TABLE POPT_AUTOHELP POPT_TABLEEND };

static void
rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	r->run_rc = RUN_RC;
	config_init(&r->cfg);
}

/* Forgets what the last call saw; keeps what the test set. */
static void
rec_clear(struct rec *r)
{
	int i;

	free(r->opt_arg);
	r->opt_arg = NULL;
	r->options = r->opt_val = r->opt_no_cli = 0;
	r->runs = 0;
	config_free(&r->cfg);
	config_init(&r->cfg);
	for (i = 0; r->argv && i < r->argc; i++)
		free(r->argv[i]);
	free(r->argv);
	r->argv = NULL;
	r->argc = r->argv_terminated = r->verbosity = r->account_rc = 0;
	free(r->password);
	r->password = NULL;
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
	r->rc = -1;
}

/* --- helpers --- */

/* The path that "@F@" stands for in arguments and expected values. */
static char *fixture;

/* Returns a copy of 's' with "@F@" replaced by the fixture's path. */
static char *
subst(const char *s)
{
	const char *at = strstr(s, "@F@");

	if (at == NULL || fixture == NULL)
		return xstrdup(s);
	return xasprintf("%.*s%s%s", (int)(at - s), s, fixture, at + 3);
}

static char *
temp_file(const char *text, mode_t mode)
{
	char *path = xstrdup("/tmp/test_options.XXXXXX");
	size_t len = strlen(text);
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static void
remove_file(char *path)
{
	unlink(path);
	free(path);
}

static char *
temp_dir(void)
{
	char *path = xstrdup("/tmp/test_options.d.XXXXXX");

	assert_non_null(mkdtemp(path));
	return path;
}

/* Sets the fixture to a new file holding 'text' (NULL: no fixture). */
static void
fixture_set(const char *text, mode_t mode)
{
	if (fixture)
		remove_file(fixture);
	fixture = text ? temp_file(text, mode) : NULL;
}

static char *
slurp(FILE *f)
{
	struct buf b;
	char chunk[4096];
	size_t n;

	buf_init(&b);
	rewind(f);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	return b.data ? buf_steal(&b) : xstrdup("");
}

/* The arguments, for messages. */
static const char *
show(const char *const *args)
{
	static char line[1024];
	size_t n = 0;
	int i;

	line[0] = '\0';
	for (i = 0; args[i] && n < sizeof(line); i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s'%s'",
		    i ? " " : "", args[i]);
	return line;
}

/*
 * Calls xtool_main() with NAME and the NULL-terminated 'args' ("@F@"
 * replaced), stdout and stderr captured into r->out and r->err.
 */
static int
call(struct rec *r, const char *const *args)
{
	struct xtool tool = { NAME, "[OPTION...] ARG...", options, tool_option,
		tool_run, NULL, r };
	FILE *out, *err;
	char **argv;
	int argc = 0, i, saved_out, saved_err;

	rec_clear(r);
	while (args[argc])
		argc++;
	argv = xcalloc((size_t)argc + 2, sizeof(*argv));
	argv[0] = xstrdup(NAME);
	for (i = 0; i < argc; i++)
		argv[i + 1] = subst(args[i]);

	out = tmpfile();
	err = tmpfile();
	assert_non_null(out);
	assert_non_null(err);
	fflush(stdout);
	fflush(stderr);
	saved_out = dup(STDOUT_FILENO);
	saved_err = dup(STDERR_FILENO);
	assert_true(saved_out >= 0 && saved_err >= 0);
	dup2(fileno(out), STDOUT_FILENO);
	dup2(fileno(err), STDERR_FILENO);

	r->rc = xtool_main(&tool, argc + 1, argv);

	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, STDOUT_FILENO);
	dup2(saved_err, STDERR_FILENO);
	close(saved_out);
	close(saved_err);
	r->out = slurp(out);
	r->err = slurp(err);
	for (i = 0; i <= argc; i++)
		free(argv[i]);
	free(argv);
	return r->rc;
}

#define CALL(r, ...) call((r), (const char *const[]){ __VA_ARGS__, NULL })
#define CALL0(r) call((r), (const char *const[]){ NULL })

static void
assert_contains(const char *s, const char *word)
{
	assert_non_null(s);
	if (strstr(s, word) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", s, word);
}

/* The last call ran the tool once and returned what run() returned. */
static void
expect_ran(const struct rec *r, const char *what)
{
	if (r->runs != 1 || r->rc != (r->account ? r->account_rc : r->run_rc))
		fail_msg("%s: rc %d, run() called %d times; stderr: %s", what,
		    r->rc, r->runs, r->err);
}

/*
 * The last call failed with 'code' before run(), with one error line
 * "NAME: 'msg'..." (and, for a usage error, the line about --help).
 */
static void
expect_failed(const struct rec *r, int code, const char *msg, const char *what)
{
	char *line, *want;
	size_t lines = 0;
	const char *p;

	if (r->rc != code || r->runs != 0)
		fail_msg("%s: rc %d (want %d), run() called %d times; "
			 "stderr: %s",
		    what, r->rc, code, r->runs, r->err);
	line = subst(msg);
	want = xasprintf(NAME ": %s", line);
	if (strstr(r->err, want) == NULL)
		fail_msg("%s: stderr \"%s\" lacks \"%s\"", what, r->err, want);
	free(want);
	free(line);
	for (p = r->err; *p; p++)
		lines += *p == '\n';
	if (code == XEXIT_USAGE) {
		assert_contains(
		    r->err, "Try '" NAME " --help' for more information.\n");
		if (lines != 2)
			fail_msg(
			    "%s: %zu lines on stderr: %s", what, lines, r->err);
	} else if (lines != 1) {
		fail_msg("%s: %zu lines on stderr: %s", what, lines, r->err);
	}
	assert_string_equal(r->out, "");
}

/* --- expected settings, table-driven --- */

enum wkind { W_END, W_STR, W_ULONG, W_LONG, W_INT };

struct want {
	enum wkind kind;
	size_t off;
	const char *s; /* W_STR; "@F@" is the fixture; NULL: unset */
	long n;
};

#define F(field) offsetof(struct xconfig, field)
#define WS(field, v)                                                           \
	{                                                                      \
		W_STR, F(field), v, 0                                          \
	}
#define WU(field, v)                                                           \
	{                                                                      \
		W_ULONG, F(field), NULL, v                                     \
	}
#define WL(field, v)                                                           \
	{                                                                      \
		W_LONG, F(field), NULL, v                                      \
	}
#define WI(field, v)                                                           \
	{                                                                      \
		W_INT, F(field), NULL, v                                       \
	}

struct row {
	const char *args[9];
	const char *cli_keys; /* config_from_cli() is true for these only */
	struct want want[3];
};

/* Every key of config.c, to check that nothing else came in. */
static const char *const all_keys[] = { "jid", "host", "port", "direct-tls",
	"cafile", "capath", "tls-pin", "insecure", "client-cert", "client-key",
	"resource", "timeout", "password-file", "password-fd", "password-cmd",
	"password", "verbose", "quiet", "max-size", "config", "account" };

static int
has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word)) != NULL) {
		if ((p == list || p[-1] == ' ') &&
		    (p[n] == ' ' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

static void
check_want(const struct rec *r, const struct want *w, const char *what)
{
	const char *field = (const char *)&r->cfg + w->off;
	const char *got;
	char *want;

	switch (w->kind) {
	case W_STR:
		got = *(char *const *)(const void *)field;
		if (w->s == NULL) {
			if (got != NULL)
				fail_msg("%s: got '%s', want none", what, got);
			break;
		}
		want = subst(w->s);
		if (got == NULL || strcmp(got, want) != 0)
			fail_msg("%s: got '%s', want '%s'", what,
			    got ? got : "(null)", want);
		free(want);
		break;
	case W_ULONG:
		if (*(const unsigned long *)(const void *)field !=
		    (unsigned long)w->n)
			fail_msg("%s: got %lu, want %ld", what,
			    *(const unsigned long *)(const void *)field, w->n);
		break;
	case W_LONG:
		if (*(const long *)(const void *)field != w->n)
			fail_msg("%s: got %ld, want %ld", what,
			    *(const long *)(const void *)field, w->n);
		break;
	case W_INT:
		if (*(const int *)(const void *)field != (int)w->n)
			fail_msg("%s: got %d, want %ld", what,
			    *(const int *)(const void *)field, w->n);
		break;
	case W_END:
		break;
	}
}

/* Runs the row: the tool must run, with exactly the settings wanted. */
static void
check_row(struct rec *r, const struct row *row)
{
	const char *what = show(row->args);
	size_t k;

	call(r, row->args);
	expect_ran(r, what);
	if (r->argc != 0 || r->options != 0)
		fail_msg("%s: %d positional arguments, %d tool options", what,
		    r->argc, r->options);
	for (k = 0; k < sizeof(all_keys) / sizeof(all_keys[0]); k++)
		if (config_from_cli(&r->cfg, all_keys[k]) !=
		    has_word(row->cli_keys, all_keys[k]))
			fail_msg("%s: config_from_cli(%s) is %d", what,
			    all_keys[k], config_from_cli(&r->cfg, all_keys[k]));
	for (k = 0; k < 3 && row->want[k].kind != W_END; k++)
		check_want(r, &row->want[k], what);
}

/* --- every common option is stored --- */

static void
xtool_main__stores__common_options(void **state)
{
	static const struct row rows[] = {
		{ { "--jid=a@example.com" }, "jid",
		    { WS(jid, "a@example.com") } },
		{ { "--jid", "a@example.com" }, "jid",
		    { WS(jid, "a@example.com") } },
		{ { "-j", "b@example.org/res" }, "jid",
		    { WS(jid, "b@example.org/res") } },
		{ { "-jc@example.net" }, "jid", { WS(jid, "c@example.net") } },
		{ { "--jid", "a@example.com", "--jid", "b@example.com" }, "jid",
		    { WS(jid, "b@example.com") } },
		{ { "--account", "work", "--config", "@F@" }, "account config",
		    { WS(account, "work"), WS(config_file, "@F@") } },
		{ { "-a", "work", "-C", "@F@" }, "account config",
		    { WS(account, "work"), WS(config_file, "@F@"),
			WS(loaded_from, "@F@") } },
		{ { "--config=@F@" }, "config",
		    { WS(config_file, "@F@"), WS(loaded_from, "@F@"),
			WS(account, NULL) } },
		{ { "--host", "xmpp.example.com" }, "host",
		    { WS(host, "xmpp.example.com") } },
		{ { "--host=a.example.com", "--host=b.example.com" }, "host",
		    { WS(host, "b.example.com") } },
		{ { "--port=5223" }, "port", { WU(port, 5223) } },
		{ { "--port", "1" }, "port", { WU(port, 1) } },
		{ { "--port", "65535" }, "port", { WU(port, 65535) } },
		{ { "--direct-tls" }, "direct-tls", { WI(direct_tls, 1) } },
		{ { "--cafile", "/ca.pem" }, "cafile",
		    { WS(cafile, "/ca.pem") } },
		{ { "--capath=/etc/ssl/certs" }, "capath",
		    { WS(capath, "/etc/ssl/certs") } },
		{ { "--tls-pin", PIN_COLONS }, "tls-pin",
		    { WS(tls_pin, PIN_HEX) } },
		{ { "--tls-pin=" PIN_B64 }, "tls-pin",
		    { WS(tls_pin, PIN_B64) } },
		{ { "--insecure" }, "insecure", { WI(insecure, 1) } },
		{ { "--client-cert", "/c.pem" }, "client-cert",
		    { WS(client_cert, "/c.pem") } },
		{ { "--client-key=/k.pem" }, "client-key",
		    { WS(client_key, "/k.pem") } },
		{ { "--resource", "bot" }, "resource",
		    { WS(resource, "bot") } },
		{ { "--timeout", "5" }, "timeout", { WL(timeout_ms, 5000) } },
		{ { "--timeout=1.5" }, "timeout", { WL(timeout_ms, 1500) } },
		{ { "-w", "0.25" }, "timeout", { WL(timeout_ms, 250) } },
		{ { "--password-file", "/pw" }, "password-file",
		    { WS(password_file, "/pw") } },
		{ { "--password-fd=3" }, "password-fd",
		    { WL(password_fd, 3) } },
		{ { "--password-fd", "0" }, "password-fd",
		    { WL(password_fd, 0) } },
		{ { "--password-cmd", "pass show xmpp" }, "password-cmd",
		    { WS(password_cmd, "pass show xmpp") } },
		{ { "-v" }, "verbose", { WI(verbose, 1) } },
		{ { "-v", "-vv" }, "verbose", { WI(verbose, 3) } },
		{ { "--verbose", "--verbose" }, "verbose", { WI(verbose, 2) } },
		{ { "-q" }, "quiet", { WI(quiet, 1) } },
		{ { "--quiet" }, "quiet", { WI(quiet, 1) } },
		{ { "-vq" }, "verbose quiet",
		    { WI(verbose, 1), WI(quiet, 1) } },
		/* nothing given: the defaults */
		{ { NULL }, "",
		    { WS(jid, NULL), WL(password_fd, -1), WL(timeout_ms, 0) } },
	};
	struct rec r;
	size_t k;

	(void)state;
	/* an account needs a file with its section */
	fixture_set("[work]\nmax-size = 100\n", 0600);
	rec_init(&r);
	for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++)
		check_row(&r, &rows[k]);
	rec_clear(&r);
	fixture_set(NULL, 0);
}

/* --- bad values --- */

static void
xtool_main__rejects__bad_values(void **state)
{
	static const struct {
		const char *args[6];
		const char *msg;
	} rows[] = {
		{ { "--port", "0" }, "--port: invalid port '0'" },
		{ { "--port=70000" }, "--port: invalid port '70000'" },
		{ { "--port", "x" }, "--port: invalid port 'x'" },
		{ { "--port", "" }, "--port: invalid port ''" },
		{ { "--timeout", "0" }, "--timeout: invalid duration '0'" },
		{ { "--timeout=-1" }, "--timeout: invalid duration '-1'" },
		{ { "-w", "-1" }, "--timeout: invalid duration '-1'" },
		{ { "-w", "abc" }, "--timeout: invalid duration 'abc'" },
		{ { "--tls-pin", "abcd" },
		    "--tls-pin: 'abcd' is neither a SHA-256 fingerprint" },
		{ { "--tls-pin", PIN_HEX "0" }, "--tls-pin: '" PIN_HEX "0'" },
		{ { "--tls-pin", PIN_HEX + 1 }, "--tls-pin: '" },
		{ { "--tls-pin", "sha256//abc=" },
		    "--tls-pin: 'sha256//abc=' is neither" },
		{ { "--password-fd", "x" },
		    "--password-fd: invalid file descriptor 'x'" },
		{ { "--password-fd=-1" },
		    "--password-fd: invalid file descriptor '-1'" },
		{ { "--jid", "@example.com" },
		    "--jid: invalid JID '@example.com': empty localpart" },
		{ { "-j", "a@b@example.com" }, "--jid: invalid JID 'a@b@" },
		{ { "--jid=" }, "--jid: invalid JID ''" },
		{ { "--host", "" }, "--host: empty value" },
		{ { "--resource=" }, "--resource: empty value" },
		{ { "--resource", "r\x01x" },
		    "--resource: invalid resource 'r\\x01x': control "
		    "character in resourcepart" },
		{ { "--resource=\xe2\x80\xae" },
		    "--resource: invalid resource '\\u202e'" },
		/* the first error is the one told */
		{ { "--port", "0", "--timeout", "0" },
		    "--port: invalid port '0'" },
		/* before the config file is looked at */
		{ { "-C", "/nonexistent/config", "--port", "0" },
		    "--port: invalid port '0'" },
	};
	struct rec r;
	size_t k;

	(void)state;
	rec_init(&r);
	for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
		call(&r, rows[k].args);
		expect_failed(&r, XEXIT_USAGE, rows[k].msg, show(rows[k].args));
	}
	/* only one error line even with two bad values */
	CALL(&r, "--port", "0", "--timeout", "0");
	if (strstr(r.err, "timeout") != NULL)
		fail_msg("second error told: %s", r.err);
	rec_clear(&r);
}

static void
xtool_main__rejects__unknown_options(void **state)
{
	static const struct {
		const char *args[4];
		const char *msg;
	} rows[] = {
		{ { "--frobnicate" }, "--frobnicate: unknown option" },
		{ { "-Z" }, "-Z: unknown option" },
		/* passwords are never on the command line */
		{ { "--password", "SECRET" }, "--password: unknown option" },
		/* ... and one typed there is not echoed back */
		{ { "-j", "a@example.com", "--password=SECRET" },
		    "--password: unknown option: passwords never go on the "
		    "command line" },
		{ { "--port" }, "--port: missing argument" },
		{ { "-j" }, "-j: missing argument" },
		{ { "--direct-tls=yes" },
		    "--direct-tls=yes: option does not take an argument" },
		{ { "--verbose=2" },
		    "--verbose=2: option does not take an argument" },
	};
	struct rec r;
	size_t k;

	(void)state;
	rec_init(&r);
	for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
		call(&r, rows[k].args);
		expect_failed(&r, XEXIT_USAGE, rows[k].msg, show(rows[k].args));
	}
	/* the argument after an unknown --password is not repeated */
	CALL(&r, "--password", "SECRET");
	if (strstr(r.err, "SECRET") != NULL)
		fail_msg("the password is on stderr: %s", r.err);
	/* no value of an unknown --name=value is repeated: a mistyped
	 * option may be a password */
	CALL(&r, "--pass=SECRET");
	expect_failed(&r, XEXIT_USAGE, "--pass: unknown option", "--pass=");
	if (strstr(r.err, "SECRET") != NULL)
		fail_msg("the value is on stderr: %s", r.err);
	CALL(&r, "-j", "a@example.com", "--passwd=a=SECRET");
	expect_failed(&r, XEXIT_USAGE, "--passwd: unknown option", "--passwd=");
	if (strstr(r.err, "SECRET") != NULL)
		fail_msg("the value is on stderr: %s", r.err);
	/* ... nor the rest of a group of short options: -pVALUE */
	CALL(&r, "-ZSECRET");
	expect_failed(&r, XEXIT_USAGE, "-Z: unknown option", "-ZSECRET");
	if (strstr(r.err, "SECRET") != NULL)
		fail_msg("the value is on stderr: %s", r.err);
	CALL(&r, "-vqZSECRET");
	expect_failed(&r, XEXIT_USAGE, "-Z: unknown option", "-vqZSECRET");
	if (strstr(r.err, "SECRET") != NULL)
		fail_msg("the value is on stderr: %s", r.err);
	/* an option name from the command line is escaped */
	CALL(&r, "--frob\x1b[2J");
	expect_failed(&r, XEXIT_USAGE, "--frob\\x1b[2J: unknown option",
	    "escape in name");
	rec_clear(&r);
}

/* --- a flag does not take the previous option's argument --- */

static void
xtool_main__ignores__argument_before_flag(void **state)
{
	static const struct row rows[] = {
		{ { "-C", "@F@", "-v" }, "config verbose",
		    { WS(config_file, "@F@"), WI(verbose, 1) } },
		{ { "--direct-tls", "--port", "5" }, "direct-tls port",
		    { WI(direct_tls, 1), WU(port, 5) } },
		{ { "--port", "5", "--direct-tls" }, "direct-tls port",
		    { WI(direct_tls, 1), WU(port, 5) } },
		{ { "-j", "a@example.com", "-v" }, "jid verbose",
		    { WS(jid, "a@example.com"), WI(verbose, 1) } },
		/* values that a flag would take for "off" or a count */
		{ { "--host", "no", "--insecure" }, "host insecure",
		    { WS(host, "no"), WI(insecure, 1) } },
		{ { "--resource", "0", "-v", "-q" }, "resource verbose quiet",
		    { WS(resource, "0"), WI(verbose, 1), WI(quiet, 1) } },
		{ { "-w", "2", "--quiet" }, "timeout quiet",
		    { WL(timeout_ms, 2000), WI(quiet, 1) } },
		{ { "--cafile", "off", "--direct-tls" }, "cafile direct-tls",
		    { WS(cafile, "off"), WI(direct_tls, 1) } },
		{ { "--tls-pin", PIN_HEX, "--insecure" }, "tls-pin insecure",
		    { WS(tls_pin, PIN_HEX), WI(insecure, 1) } },
	};
	struct rec r;
	size_t k;

	(void)state;
	fixture_set("", 0600);
	rec_init(&r);
	for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++)
		check_row(&r, &rows[k]);
	/* after a tool option too */
	CALL(&r, "-s", "no", "--insecure");
	expect_ran(&r, "-s no --insecure");
	assert_int_equal(r.cfg.insecure, 1);
	assert_string_equal(r.opt_arg, "no");
	rec_clear(&r);
	fixture_set(NULL, 0);
}

/* --- the tool's own options --- */

static void
xtool_main__passes__tool_options(void **state)
{
	struct rec r;

	(void)state;
	rec_init(&r);
	CALL(&r, "-s", "hello");
	expect_ran(&r, "-s hello");
	assert_int_equal(r.options, 1);
	assert_int_equal(r.opt_val, 1);
	assert_string_equal(r.opt_arg, "hello");
	assert_int_equal(r.opt_no_cli, 0);
	assert_int_equal(r.argc, 0);

	CALL(&r, "-j", "a@example.com", "--subject=two words", "-v");
	expect_ran(&r, "--subject=two words");
	assert_int_equal(r.options, 1);
	assert_string_equal(r.opt_arg, "two words");
	assert_string_equal(r.cfg.jid, "a@example.com");
	assert_int_equal(r.cfg.verbose, 1);

	CALL(&r, "--subject", "1", "-s", "2");
	expect_ran(&r, "-s twice");
	assert_int_equal(r.options, 2);
	assert_string_equal(r.opt_arg, "2");

	/* what option() stores in the cli config reaches run() */
	CALL(&r, "-s", "res=mine");
	expect_ran(&r, "-s res=mine");
	assert_string_equal(r.cfg.resource, "mine");
	assert_true(config_from_cli(&r.cfg, "resource"));
	/* the command line in the order given: the later one wins */
	CALL(&r, "-s", "res=mine", "--resource", "theirs");
	expect_ran(&r, "-s res=mine --resource theirs");
	assert_string_equal(r.cfg.resource, "theirs");
	rec_clear(&r);
}

static void
xtool_main__rejects__tool_option_refused(void **state)
{
	struct rec r;

	(void)state;
	rec_init(&r);
	r.fail_on = "bad";
	CALL(&r, "-s", "bad");
	expect_failed(&r, XEXIT_USAGE, "--subject: refused 'bad'", "-s bad");
	assert_int_equal(r.options, 1);

	/* refused after good options, before positional arguments */
	CALL(&r, "-j", "a@example.com", "-s", "ok", "--subject=bad", "x");
	expect_failed(&r, XEXIT_USAGE, "--subject: refused 'bad'", "2nd");
	assert_int_equal(r.options, 2);

	/* the config key path: a bad value through config_set() */
	CALL(&r, "-s", "res=");
	expect_failed(&r, XEXIT_USAGE, "empty value", "-s res=");

	/* and the next call works */
	CALL(&r, "-s", "good");
	expect_ran(&r, "-s good");
	rec_clear(&r);
}

/* --- --version and --help, in a child process --- */

/*
 * Runs fn() in a child, so that what it leaves in options.c (or popt's
 * exit()) does not touch this process.  fn() returns NULL or a message
 * (a literal or allocated; it is only printed).  Fails the test with it.
 */
static void
in_child(const char *(*fn)(void))
{
	char msg[1024];
	int p[2], status;
	ssize_t n;
	size_t len = 0;
	pid_t pid;
	const char *why;

	assert_int_equal(pipe(p), 0);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		why = fn();
		if (why != NULL) {
			(void)!write(p[1], why, strlen(why));
			_exit(1);
		}
		_exit(0);
	}
	close(p[1]);
	while (len < sizeof(msg) - 1 &&
	    (n = read(p[0], msg + len, sizeof(msg) - 1 - len)) > 0)
		len += (size_t)n;
	msg[len] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child: status %#x: %s", status, msg);
}

static const char *
child_version(const char *opt)
{
	static char msg[512];
	struct rec r;

	rec_init(&r);
	call(&r, (const char *const[]){ "-j", "a@example.com", opt, NULL });
	/* The suite's line first (scripts read it), then the libraries. */
	if (r.rc != XEXIT_OK || r.runs != 0 ||
	    strncmp(r.out, NAME " (xmpptools) " PACKAGE_VERSION "\n",
		strlen(NAME " (xmpptools) " PACKAGE_VERSION "\n")) != 0 ||
	    strstr(r.out, "\nlibstrophe 0.12 (loaded") == NULL ||
	    strstr(r.out, "\nOpenSSL ") == NULL ||
	    strstr(r.out, "\nexpat 2.") == NULL || strcmp(r.err, "") != 0)
		snprintf(msg, sizeof(msg),
		    "%s: rc %d, run() called %d times, stdout '%s', "
		    "stderr '%s'",
		    opt, r.rc, r.runs, r.out, r.err);
	else
		msg[0] = '\0';
	rec_clear(&r);
	return msg[0] ? msg : NULL;
}

static const char *
child_version_long(void)
{
	return child_version("--version");
}

static const char *
child_version_short(void)
{
	return child_version("-V");
}

static void
xtool_main__prints__version(void **state)
{
	(void)state;
	in_child(child_version_long);
	in_child(child_version_short);
}

static const char *
child_run_after_version(void)
{
	static char msg[512];
	struct rec r;

	rec_init(&r);
	CALL(&r, "--version");
	CALL(&r, "-j", "a@example.com");
	if (r.rc != RUN_RC || r.runs != 1)
		snprintf(msg, sizeof(msg),
		    "the call after --version: rc %d, run() called %d "
		    "times, stdout '%s'",
		    r.rc, r.runs, r.out);
	else
		msg[0] = '\0';
	rec_clear(&r);
	return msg[0] ? msg : NULL;
}

static void
xtool_main__runs__after_version_call(void **state)
{
	(void)state;
	in_child(child_run_after_version);
}

static void
xtool_main__prints__help(void **state)
{
	static const char *const want[] = { "Usage: " NAME
					    " [OPTION...] ARG...",
		"-s, --subject=TEXT",
		"Account and connection options:", "-j, --jid=JID",
		"-a, --account=NAME", "-C, --config=FILE", "--host=HOST",
		"--port=PORT", "--direct-tls", "--cafile=FILE", "--capath=DIR",
		"--tls-pin=PIN", "--insecure", "--client-cert=FILE",
		"--client-key=FILE", "--resource=NAME", "-w, --timeout=SECONDS",
		"--password-file=FILE", "--password-fd=N", "--password-cmd=CMD",
		"-v, --verbose", "-q, --quiet", "-V, --version",
		"Help options:", "-?, --help" };
	struct rec r;
	struct buf b;
	char chunk[4096], *argv[] = { (char *)NAME, (char *)"--help", NULL };
	const char *common;
	struct xtool tool = { NAME, "[OPTION...] ARG...", options, tool_option,
		tool_run, NULL, &r };
	int p[2], status;
	ssize_t n;
	size_t k;
	pid_t pid;

	(void)state;
	rec_init(&r);
	assert_int_equal(pipe(p), 0);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], STDOUT_FILENO);
		close(p[1]);
		/* popt prints the help and exits 0 */
		xtool_main(&tool, 2, argv);
		_exit(99);
	}
	close(p[1]);
	buf_init(&b);
	while ((n = read(p[0], chunk, sizeof(chunk))) > 0)
		buf_add(&b, chunk, (size_t)n);
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("--help: status %#x", status);
	assert_non_null(b.data);
	for (k = 0; k < sizeof(want) / sizeof(want[0]); k++)
		assert_contains(b.data, want[k]);
	/* the common options are under their heading, the tool's above */
	common = strstr(b.data, "Account and connection options:");
	assert_true(strstr(b.data, "--subject") < common);
	assert_non_null(strstr(common, "--jid=JID"));
	assert_non_null(strstr(common, "--password-cmd=CMD"));
	assert_null(strstr(b.data, "--password="));
	buf_free(&b);
	rec_clear(&r);
}

/* --- the config file under the command line --- */

static void
xtool_main__lays__command_line_over_file(void **state)
{
	static const struct row rows[] = {
		/* the global keys, then [default] */
		{ { "-C", "@F@" }, "config",
		    { WS(jid, "file@example.com"),
			WS(host, "default.example.com"),
			WS(resource, "fromfile") } },
		{ { "-C", "@F@" }, "config",
		    { WU(port, 5222), WL(timeout_ms, 10000),
			WS(loaded_from, "@F@") } },
		/* the command line wins, key by key */
		{ { "-C", "@F@", "--jid", "cli@example.com", "--port=5223" },
		    "config jid port",
		    { WS(jid, "cli@example.com"), WU(port, 5223),
			WS(resource, "fromfile") } },
		{ { "-C", "@F@", "-w", "3" }, "config timeout",
		    { WL(timeout_ms, 3000), WS(host, "default.example.com") } },
		/* a named account */
		{ { "-C", "@F@", "-a", "work" }, "config account",
		    { WS(jid, "work@example.com"), WS(host, "work.example.com"),
			WS(resource, "fromfile") } },
		{ { "-a", "work", "-C", "@F@", "--host", "cli.example.com" },
		    "config account host",
		    { WS(jid, "work@example.com"), WS(host, "cli.example.com"),
			WU(port, 5222) } },
		{ { "--config", "@F@", "--account=other" }, "config account",
		    { WS(jid, "file@example.com"), WS(host, NULL),
			WI(direct_tls, 1) } },
	};
	struct rec r;
	size_t k;

	(void)state;
	fixture_set("# a comment\n"
		    "jid = file@example.com\n"
		    "port = 5222\n"
		    "resource = fromfile\n"
		    "timeout = 10\n"
		    "[default]\n"
		    "host = default.example.com\n"
		    "[work]\n"
		    "jid = work@example.com\n"
		    "host = work.example.com\n"
		    "[other]\n"
		    "direct-tls = yes\n",
	    0600);
	rec_init(&r);
	for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++)
		check_row(&r, &rows[k]);

	/* config_from_cli() tells the command line from the file */
	CALL(&r, "-C", "@F@");
	expect_ran(&r, "-C file");
	assert_true(config_is_set(&r.cfg, "timeout"));
	assert_false(config_from_cli(&r.cfg, "timeout"));
	CALL(&r, "-C", "@F@", "--timeout", "10");
	expect_ran(&r, "-C file --timeout 10");
	assert_int_equal(r.cfg.timeout_ms, 10000);
	assert_true(config_from_cli(&r.cfg, "timeout"));
	CALL0(&r);
	expect_ran(&r, "no options");
	assert_false(config_is_set(&r.cfg, "timeout"));
	assert_false(config_from_cli(&r.cfg, "timeout"));
	rec_clear(&r);
	fixture_set(NULL, 0);
}

static void
xtool_main__applies__merged_verbosity(void **state)
{
	struct rec r;

	(void)state;
	fixture_set("verbose = 2\n", 0600);
	rec_init(&r);
	CALL(&r, "-C", "@F@");
	expect_ran(&r, "verbose = 2");
	assert_int_equal(r.verbosity, 2);
	/* -v says what file it read */
	assert_contains(r.err, NAME ": read ");
	assert_contains(r.err, fixture);
	CALL(&r, "-C", "@F@", "-v", "-v", "-v");
	expect_ran(&r, "-v -v -v");
	assert_int_equal(r.verbosity, 3);
	CALL0(&r);
	expect_ran(&r, "no options");
	assert_int_equal(r.verbosity, 0);
	assert_string_equal(r.err, "");
	rec_clear(&r);
	fixture_set(NULL, 0);
}

static void
xtool_main__fails__on_config_errors(void **state)
{
	struct rec r;

	(void)state;
	rec_init(&r);
	CALL(&r, "-C", "/nonexistent/config", "-j", "a@example.com");
	expect_failed(&r, XEXIT_CONFIG,
	    "/nonexistent/config: No such file or directory", "missing file");

	/* an account without any file (HOME is empty) */
	CALL(&r, "-a", "work");
	expect_failed(&r, XEXIT_CONFIG,
	    "account 'work': no configuration file found", "no file");

	fixture_set("jid = a@example.com\n[work]\nhost = h\n", 0600);
	CALL(&r, "-C", "@F@", "-a", "nosuch");
	expect_failed(&r, XEXIT_CONFIG, "@F@: no account 'nosuch'", "account");

	fixture_set("jid = a@example.com\nbogus line\n", 0600);
	CALL(&r, "--config=@F@");
	expect_failed(
	    &r, XEXIT_CONFIG, "@F@:2: expected 'key = value'", "malformed");

	fixture_set("port = 0\n", 0600);
	CALL(&r, "--config=@F@", "--port", "5222");
	expect_failed(&r, XEXIT_CONFIG, "@F@:1: port: invalid port '0'",
	    "bad value in file");

	fixture_set("password = s3cret\n", 0644);
	CALL(&r, "--config=@F@");
	expect_failed(&r, XEXIT_CONFIG, "@F@: holds a password", "mode 644");

	fixture_set("resource = \"r\x01x\"\n", 0600);
	CALL(&r, "--config=@F@", "-j", "a@example.com");
	expect_failed(&r, XEXIT_CONFIG,
	    "@F@:1: resource: invalid resource 'r\\x01x'", "bad resource");
	rec_clear(&r);
	fixture_set(NULL, 0);
}

static void
xtool_main__reads__default_file(void **state)
{
	char *dir, *sub, *path;
	const char *xdg = getenv("XDG_CONFIG_HOME");
	char *saved = xstrdup(xdg ? xdg : "");
	struct rec r;
	FILE *f;

	(void)state;
	if (access("/etc/xmpptools/config", F_OK) == 0) {
		free(saved);
		print_message("skipped: /etc/xmpptools/config exists\n");
		skip();
	}
	rec_init(&r);
	/* HOME and XDG_CONFIG_HOME are empty directories: nothing read */
	CALL(&r, "-j", "a@example.com");
	expect_ran(&r, "empty HOME");
	assert_null(r.cfg.loaded_from);
	assert_int_equal(r.cfg.set, r.cfg.cli_set);
	assert_string_equal(r.err, "");

	dir = temp_dir();
	sub = xasprintf("%s/xmpptools", dir);
	path = xasprintf("%s/config", sub);
	assert_int_equal(mkdir(sub, 0700), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("jid = xdg@example.com\nresource = xdg\n", f);
	fclose(f);
	setenv("XDG_CONFIG_HOME", dir, 1);
	CALL(&r, "--resource", "cli");
	expect_ran(&r, "XDG_CONFIG_HOME");
	assert_string_equal(r.cfg.loaded_from, path);
	assert_string_equal(r.cfg.jid, "xdg@example.com");
	assert_string_equal(r.cfg.resource, "cli");
	assert_false(config_from_cli(&r.cfg, "jid"));
	/* --config replaces the default file */
	fixture_set("resource = fixture\n", 0600);
	CALL(&r, "-C", "@F@");
	expect_ran(&r, "-C over XDG");
	assert_null(r.cfg.jid);
	assert_string_equal(r.cfg.resource, "fixture");
	fixture_set(NULL, 0);

	setenv("XDG_CONFIG_HOME", saved, 1);
	unlink(path);
	rmdir(sub);
	rmdir(dir);
	free(path);
	free(sub);
	free(dir);
	free(saved);
	rec_clear(&r);
}

/* --- positional arguments and run()'s code --- */

static void
xtool_main__passes__positional_arguments(void **state)
{
	static const struct {
		const char *args[9];
		int argc;
		const char *want[5];
		int options;
	} rows[] = {
		{ { NULL }, 0, { NULL }, 0 },
		{ { "one" }, 1, { "one" }, 0 },
		{ { "-" }, 1, { "-" }, 0 },
		{ { "a", "-j", "x@example.com", "b", "--", "-c", "--port" }, 4,
		    { "a", "b", "-c", "--port" }, 0 },
		{ { "--", "-s", "x", "--version" }, 3,
		    { "-s", "x", "--version" }, 0 },
		{ { "-s", "subj", "body", "-v", "more" }, 2, { "body", "more" },
		    1 },
		{ { "a@example.com", "", "c" }, 3, { "a@example.com", "", "c" },
		    0 },
	};
	struct rec r;
	size_t k;
	int i;

	(void)state;
	rec_init(&r);
	for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
		call(&r, rows[k].args);
		expect_ran(&r, show(rows[k].args));
		if (r.argc != rows[k].argc || !r.argv_terminated ||
		    r.options != rows[k].options)
			fail_msg("%s: argc %d (want %d), terminated %d, "
				 "options %d",
			    show(rows[k].args), r.argc, rows[k].argc,
			    r.argv_terminated, r.options);
		for (i = 0; i < r.argc; i++)
			if (strcmp(r.argv[i], rows[k].want[i]) != 0)
				fail_msg("%s: argv[%d] '%s', want '%s'",
				    show(rows[k].args), i, r.argv[i],
				    rows[k].want[i]);
	}
	rec_clear(&r);
}

static void
xtool_main__returns__run_code(void **state)
{
	static const int codes[] = { XEXIT_OK, XEXIT_FAILURE, XEXIT_USAGE,
		XEXIT_CONNECT, XEXIT_TIMEOUT, XEXIT_NEGATIVE, 77 };
	struct rec r;
	size_t k;

	(void)state;
	rec_init(&r);
	for (k = 0; k < sizeof(codes) / sizeof(codes[0]); k++) {
		r.run_rc = codes[k];
		CALL(&r, "-j", "a@example.com", "arg");
		assert_int_equal(r.runs, 1);
		assert_int_equal(r.rc, codes[k]);
	}
	rec_clear(&r);
}

/* --- many calls in one process --- */

static void
xtool_main__resets__state_between_calls(void **state)
{
	struct rec r;
	int i;

	(void)state;
	rec_init(&r);
	for (i = 0; i < 3; i++) {
		/* a usage error from the callback is not kept */
		CALL(&r, "--port", "0");
		expect_failed(&r, XEXIT_USAGE, "--port: invalid port '0'", "1");
		CALL(&r, "--host", "h.example.com");
		expect_ran(&r, "after a usage error");
		assert_string_equal(r.cfg.host, "h.example.com");
		assert_int_equal(r.cfg.port, 0);
		/* nor the command line of the call before */
		CALL(&r, "-j", "a@example.com", "-v", "--insecure");
		expect_ran(&r, "-j -v --insecure");
		CALL0(&r);
		expect_ran(&r, "no options");
		assert_null(r.cfg.jid);
		assert_null(r.cfg.host);
		assert_int_equal(r.cfg.verbose, 0);
		assert_int_equal(r.cfg.insecure, 0);
		assert_int_equal(r.cfg.cli_set, 0);
		/* nor a popt error */
		CALL(&r, "--frobnicate");
		expect_failed(&r, XEXIT_USAGE, "--frobnicate", "unknown");
		CALL(&r, "-q");
		expect_ran(&r, "after an unknown option");
		/* nor a config error */
		CALL(&r, "-C", "/nonexistent/config");
		expect_failed(&r, XEXIT_CONFIG, "/nonexistent/config", "-C");
		CALL0(&r);
		expect_ran(&r, "after a config error");
		assert_null(r.cfg.config_file);
	}
	assert_string_equal(util_progname(), NAME);
	rec_clear(&r);
}

/* --- xtool_account() --- */

static void
xtool_account__checks__account_and_password(void **state)
{
	static const struct {
		const char *file; /* the fixture's text, or NULL */
		mode_t mode;
		const char *args[9];
		int rc;
		const char *password; /* with XEXIT_OK; NULL: none */
		const char *err; /* a line on stderr; "": nothing */
	} rows[] = {
		{ NULL, 0, { NULL }, XEXIT_CONFIG, NULL,
		    NAME ": no account: give --jid" },
		{ "pw\n", 0600,
		    { "--insecure", "--tls-pin", PIN_HEX, "--password-file",
			"@F@" },
		    XEXIT_CONFIG, NULL, NAME ": no account" },
		{ "pw\n", 0600,
		    { "-j", "a@example.com", "--insecure", "--tls-pin", PIN_HEX,
			"--password-file", "@F@" },
		    XEXIT_USAGE, NULL,
		    NAME ": --insecure and --tls-pin exclude each other\n" },
		{ NULL, 0,
		    { "-j", "a@example.com", "--client-key", "/k.pem",
			"--password-file", "/pw" },
		    XEXIT_USAGE, NULL, "--client-key needs --client-cert" },
		{ "first-line\nsecond line\n", 0600,
		    { "-j", "a@example.com", "--password-file", "@F@" },
		    XEXIT_OK, "first-line", "" },
		{ "crlf\r\n", 0600,
		    { "--password-file=@F@", "--jid=a@example.com" }, XEXIT_OK,
		    "crlf", "" },
		{ "", 0600, { "-j", "a@example.com", "--password-file", "@F@" },
		    XEXIT_CONFIG, NULL, NAME ": password file @F@: empty" },
		{ NULL, 0,
		    { "-j", "a@example.com", "--password-file",
			"/nonexistent/pw" },
		    XEXIT_CONFIG, NULL,
		    "password file /nonexistent/pw: No such file" },
		{ "pw\n", 0600,
		    { "-j", "a@example.com", "--insecure", "--password-file",
			"@F@" },
		    XEXIT_OK, "pw",
		    NAME ": warning: --insecure: the server's certificate is "
			 "not verified\n" },
		{ "pw\n", 0600,
		    { "-q", "-j", "a@example.com", "--insecure",
			"--password-file", "@F@" },
		    XEXIT_OK, "pw", "" },
		{ NULL, 0, { "-j", "a@example.com", "--client-cert", "/c.pem" },
		    XEXIT_OK, NULL, "" },
		{ NULL, 0,
		    { "-j", "a@example.com", "--password-cmd",
			"echo from-cmd" },
		    XEXIT_OK, "from-cmd", "" },
		/* the account and its password from the config file */
		{ "jid = f@example.com\npassword = from-file\n", 0600,
		    { "-C", "@F@" }, XEXIT_OK, "from-file", "" },
		/* --password-file over the file's password */
		{ "password = from-file\n", 0600,
		    { "-C", "@F@", "-j", "a@example.com", "--password-file",
			"/nonexistent/pw" },
		    XEXIT_CONFIG, NULL, "/nonexistent/pw" },
	};
	struct rec r;
	size_t k;
	const char *what;
	char *want;

	(void)state;
	rec_init(&r);
	r.account = 1;
	for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
		what = show(rows[k].args);
		fixture_set(rows[k].file, rows[k].mode);
		call(&r, rows[k].args);
		if (r.runs != 1 || r.rc != rows[k].rc)
			fail_msg("%s: rc %d (want %d), run() called %d times; "
				 "stderr: %s",
			    what, r.rc, rows[k].rc, r.runs, r.err);
		if ((rows[k].password == NULL) != (r.password == NULL) ||
		    (r.password && strcmp(r.password, rows[k].password) != 0))
			fail_msg("%s: password '%s', want '%s'", what,
			    r.password ? r.password : "(null)",
			    rows[k].password ? rows[k].password : "(null)");
		want = subst(rows[k].err);
		if (want[0] == '\0' ? r.err[0] != '\0'
				    : strstr(r.err, want) == NULL)
			fail_msg(
			    "%s: stderr '%s', want '%s'", what, r.err, want);
		free(want);
		/* one line for a failure */
		if (rows[k].rc != XEXIT_OK &&
		    strchr(r.err, '\n') != r.err + strlen(r.err) - 1)
			fail_msg("%s: stderr '%s'", what, r.err);
	}
	fixture_set(NULL, 0);
	rec_clear(&r);
}

/*
 * Once the tool has the password, the settings keep no copy of it, and no
 * tool is dumpable (no core file, no ptrace or /proc/PID/mem by the same
 * user) from the start.
 */
static void
xtool_account__forgets__config_copies(void **state)
{
	struct rec r;

	(void)state;
	rec_init(&r);
	r.account = 1;
	fixture_set("jid = f@example.com\npassword = from-file\n", 0600);
	CALL(&r, "-C", "@F@");
	assert_int_equal(r.rc, XEXIT_OK);
	assert_string_equal(r.password, "from-file");
	assert_false(r.password_kept);
	assert_int_equal(r.dumpable, 0);

	setenv("XMPP_PASSWORD", "from-env", 1);
	CALL(&r, "-C", "@F@");
	assert_null(getenv("XMPP_PASSWORD"));
	assert_string_equal(r.password, "from-env");
	/* the copy of the environment's password is gone too */
	CALL(&r, "-C", "@F@");
	assert_string_equal(r.password, "from-file");
	rec_clear(&r);
	fixture_set(NULL, 0);
}

static void
xtool_account__reads__password_fd(void **state)
{
	struct rec r;
	char *fd;
	int p[2];

	(void)state;
	rec_init(&r);
	r.account = 1;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "fd-pw\nrest\n", 11), 11);
	close(p[1]);
	fd = xasprintf("%d", p[0]);
	CALL(&r, "-j", "a@example.com", "--password-fd", fd);
	assert_int_equal(r.rc, XEXIT_OK);
	assert_string_equal(r.password, "fd-pw");
	close(p[0]);
	free(fd);
	rec_clear(&r);
}

/* --- the environment of the whole run --- */

static char *home;

static int
group_setup(void **state)
{
	(void)state;
	/* no test reads the user's own config file */
	home = temp_dir();
	setenv("HOME", home, 1);
	setenv("XDG_CONFIG_HOME", home, 1);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	rmdir(home);
	free(home);
	if (fixture)
		remove_file(fixture);
	fixture = NULL;
	return 0;
}

static void
xtool_number__reads__one_decimal_in_range(void **state)
{
	char *err = NULL;
	long v = 0;

	(void)state;
	assert_int_equal(xtool_number("--n", "-128", -128, 127, &v, &err), 0);
	assert_int_equal(v, -128);
	assert_null(err);
	assert_int_equal(xtool_number("--n", "128", -128, 127, &v, &err), -1);
	assert_string_equal(err, "--n: invalid number '128' (-128 to 127)");
	free(err);
	err = NULL;
	assert_int_equal(xtool_number("--n", "1x", 0, 9, &v, &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(xtool_number("--n", "", 0, 9, &v, &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(
	    xtool_number("--n", "99999999999999999999", 0, 9, &v, &err), -1);
	free(err);
	assert_int_equal(v, -128); /* untouched on failure */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(xtool_main__stores__common_options),
		cmocka_unit_test(xtool_main__rejects__bad_values),
		cmocka_unit_test(xtool_main__rejects__unknown_options),
		cmocka_unit_test(xtool_main__ignores__argument_before_flag),
		cmocka_unit_test(xtool_main__passes__tool_options),
		cmocka_unit_test(xtool_main__rejects__tool_option_refused),
		cmocka_unit_test(xtool_main__prints__version),
		cmocka_unit_test(xtool_main__runs__after_version_call),
		cmocka_unit_test(xtool_main__prints__help),
		cmocka_unit_test(xtool_main__lays__command_line_over_file),
		cmocka_unit_test(xtool_main__applies__merged_verbosity),
		cmocka_unit_test(xtool_main__fails__on_config_errors),
		cmocka_unit_test(xtool_main__reads__default_file),
		cmocka_unit_test(xtool_main__passes__positional_arguments),
		cmocka_unit_test(xtool_main__returns__run_code),
		cmocka_unit_test(xtool_main__resets__state_between_calls),
		cmocka_unit_test(xtool_account__checks__account_and_password),
		cmocka_unit_test(xtool_account__reads__password_fd),
		cmocka_unit_test(xtool_account__forgets__config_copies),
		cmocka_unit_test(xtool_number__reads__one_decimal_in_range),
	};
	int fd;

	/* No password source may wait for input. */
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0 && fd != STDIN_FILENO) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	unsetenv("XMPP_PASSWORD");
	/* popt would stop at the first positional argument */
	unsetenv("POSIXLY_CORRECT");
	unsetenv("POSIX_ME_HARDER");
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
