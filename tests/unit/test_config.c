/* SPDX-License-Identifier: MIT */
/* test_config.c -- unit tests of common/config.c (keys, files, passwords) */

#include <sys/stat.h>
#include <sys/types.h>

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

#include "config.h"
#include "util.h"
#include "xmpptools.h"

#define PIN_HEX                                                                \
	"06298432e8066b29e2223bcc23aa9504b56ae508fabf3435508869b9c3190e22"
#define PIN_B64 "sha256//LHDhK3oGRvkiefQnx7OOczTY5Tic/xZ6HcMOc/gmtoM="

/* --- helpers --- */

/* Writes 'text' to a new temporary file of mode 'mode'; returns its path. */
static char *
temp_file(const char *text, mode_t mode)
{
	char *path = xstrdup("/tmp/test_config.XXXXXX");
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
	char *path = xstrdup("/tmp/test_config.d.XXXXXX");

	assert_non_null(mkdtemp(path));
	return path;
}

/* Sets 'key' and fails the test when it is refused. */
static void
set_ok(struct xconfig *c, const char *key, const char *value, int from_file)
{
	char *err = NULL;

	if (config_set(c, key, value, from_file, &err) != 0)
		fail_msg("config_set(%s, %s) refused: %s", key,
		    value ? value : "NULL", err);
	assert_null(err);
}

/* Sets 'key', expects a refusal whose message holds 'word'. */
static void
set_bad(struct xconfig *c, const char *key, const char *value, int from_file,
    const char *word)
{
	char *err = NULL;

	if (config_set(c, key, value, from_file, &err) != -1)
		fail_msg(
		    "config_set(%s, %s) accepted", key, value ? value : "NULL");
	assert_non_null(err);
	if (word && strstr(err, word) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err, word);
	free(err);
}

static void
assert_contains(const char *s, const char *word)
{
	assert_non_null(s);
	if (strstr(s, word) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", s, word);
}

/* --- config_set: every key type --- */

static void
config_set__checks__ports(void **state)
{
	static const struct {
		const char *v;
		unsigned long want;
	} good[] = { { "1", 1 }, { "5222", 5222 }, { "65535", 65535 },
		{ "05223", 5223 } };
	static const char *const bad[] = { "0", "65536", "x", "", "-1", "5222x",
		" 5222", "+5222", "99999999999999999999999", "1.5" };
	struct xconfig c;
	size_t k;

	(void)state;
	config_init(&c);
	for (k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
		set_ok(&c, "port", good[k].v, 0);
		assert_int_equal(c.port, good[k].want);
	}
	c.port = 7;
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		set_bad(&c, "port", bad[k], 0, "port");
	/* a refused value changes nothing */
	assert_int_equal(c.port, 7);
	config_free(&c);
}

static void
config_set__checks__durations(void **state)
{
	static const struct {
		const char *v;
		long ms;
	} good[] = { { "5", 5000 }, { "0.25", 250 }, { "1.5", 1500 },
		{ ".5", 500 }, { "0.001", 1 }, { "2.", 2000 },
		{ "86400", 86400000 }, { "30", 30000 } };
	static const char *const bad[] = { "0", "0.0", "0.000", "-1", "-0.5",
		"1.2345", "0.0001", "abc", "", ".", "1e3", "5s", " 5", "86401",
		"86400.5", "86400.001", "1.2.3" };
	struct xconfig c;
	size_t k;

	(void)state;
	config_init(&c);
	for (k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
		set_ok(&c, "timeout", good[k].v, 0);
		if (c.timeout_ms != good[k].ms)
			fail_msg("timeout %s: %ld ms, want %ld", good[k].v,
			    c.timeout_ms, good[k].ms);
	}
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		set_bad(&c, "timeout", bad[k], 0, "duration");
	config_free(&c);
}

static void
config_set__checks__sizes(void **state)
{
	static const char *const bad[] = { "0", "1073741825", "1k", "-5", "",
		"x" };
	struct xconfig c;
	size_t k;

	(void)state;
	config_init(&c);
	assert_int_equal(c.max_size, XT_DEFAULT_MAX_SIZE);
	set_ok(&c, "max-size", "1", 0);
	assert_int_equal(c.max_size, 1);
	set_ok(&c, "max-size", "1073741824", 0);
	assert_int_equal(c.max_size, 1073741824UL);
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		set_bad(&c, "max-size", bad[k], 0, "size");
	assert_int_equal(c.max_size, 1073741824UL);
	config_free(&c);
}

static void
config_set__checks__flags(void **state)
{
	static const struct {
		const char *v;
		int on;
	} good[] = { { "yes", 1 }, { "no", 0 }, { "true", 1 }, { "false", 0 },
		{ "1", 1 }, { "0", 0 }, { "on", 1 }, { "off", 0 }, { "YES", 1 },
		{ "False", 0 }, { NULL, 1 } };
	static const char *const bad[] = { "maybe", "2", "", "y", "n", "yes ",
		"10" };
	struct xconfig c;
	size_t k;

	(void)state;
	config_init(&c);
	for (k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
		c.insecure = !good[k].on;
		set_ok(&c, "insecure", good[k].v, 0);
		assert_int_equal(c.insecure, good[k].on);
		c.direct_tls = !good[k].on;
		set_ok(&c, "direct-tls", good[k].v, 1);
		assert_int_equal(c.direct_tls, good[k].on);
	}
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		set_bad(&c, "quiet", bad[k], 1, "yes or no");
	assert_false(config_is_set(&c, "quiet"));
	config_free(&c);
}

static void
config_set__counts__verbose(void **state)
{
	struct xconfig c;

	(void)state;
	config_init(&c);
	set_ok(&c, "verbose", NULL, 0);
	set_ok(&c, "verbose", NULL, 0);
	assert_int_equal(c.verbose, 2);
	set_ok(&c, "verbose", "5", 1);
	assert_int_equal(c.verbose, 5);
	set_bad(&c, "verbose", "10", 1, "0 to 9");
	set_bad(&c, "verbose", "lots", 1, "0 to 9");
	assert_int_equal(c.verbose, 5);
	config_free(&c);
}

static void
config_set__checks__jids(void **state)
{
	struct xconfig c;

	(void)state;
	config_init(&c);
	set_ok(&c, "jid", "alice@example.com", 0);
	assert_string_equal(c.jid, "alice@example.com");
	set_ok(&c, "jid", "domain/res@x", 1);
	assert_string_equal(c.jid, "domain/res@x");
	set_bad(&c, "jid", "a@b@c", 0, "invalid JID");
	set_bad(&c, "jid", "@example.com", 0, "localpart");
	set_bad(&c, "jid", "", 0, "invalid JID");
	set_bad(&c, "jid", NULL, 0, "value");
	set_bad(&c, "jid",
	    "ev\xe2\x80\xae"
	    "il@example.com",
	    0, "invalid");
	assert_string_equal(c.jid, "domain/res@x");
	config_free(&c);
}

static void
config_set__normalises__pins(void **state)
{
	static const struct {
		const char *in, *out;
	} good[] = {
		{ PIN_HEX, PIN_HEX },
		{ "06298432E8066B29E2223BCC23AA9504B56AE508FABF3435508869B9C3190E22",
		    PIN_HEX },
		{ "06:29:84:32:E8:06:6b:29:e2:22:3B:CC:23:aa:95:04:B5:6A:E5:08:"
		  "FA:BF:34:35:50:88:69:B9:C3:19:0E:22",
		    PIN_HEX },
		{ PIN_B64, PIN_B64 },
		{ "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		    "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" },
	};
	static const char *const bad[] = {
		"",
		"06298432e8066b29e2223bcc23aa9504b56ae508fabf3435508869b9c3190e2",
		"06298432e8066b29e2223bcc23aa9504b56ae508fabf3435508869b9c3190e220",
		"g6298432e8066b29e2223bcc23aa9504b56ae508fabf3435508869b9c3190e22",
		"06298432e8066b29e2223bcc23aa9504b56ae508fabf3435508869b9c3190e2 ",
		"sha256//",
		/* 43 characters */
		"sha256//LHDhK3oGRvkiefQnx7OOczTY5Tic/xZ6HcMOc/gmtoM",
		/* 45 characters */
		"sha256//LHDhK3oGRvkiefQnx7OOczTY5Tic/xZ6HcMOc/gmtoM==",
		/* 44 characters, but 31 bytes */
		"sha256//LHDhK3oGRvkiefQnx7OOczTY5Tic/xZ6HcMOc/gmtg==",
		/* 44 characters, but 33 bytes */
		"sha256//LHDhK3oGRvkiefQnx7OOczTY5Tic/xZ6HcMOc/gmtoN4",
		/* '=' inside */
		"sha256//LHDhK3oGRvkiefQnx7OOczT=5Tic/xZ6HcMOc/gmtoM=",
		/* not the canonical last character */
		"sha256//LHDhK3oGRvkiefQnx7OOczTY5Tic/xZ6HcMOc/gmtoN=",
		"sha256//LHDhK3oGRvkiefQnx7OOczTY5Tic xZ6HcMOc/gmtoM=",
		"sha256//LHDhK3oGRvkiefQnx7OOczTY5Tic-xZ6HcMOc_gmtoM=",
		"sha1//LHDhK3oGRvkiefQnx7OOczTY5Tic/xZ6HcMOc/gmtoM=",
	};
	struct xconfig c;
	size_t k;
	char *n;

	(void)state;
	config_init(&c);
	for (k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
		set_ok(&c, "tls-pin", good[k].in, 0);
		assert_string_equal(c.tls_pin, good[k].out);
		n = config_pin_normalise(good[k].in);
		assert_non_null(n);
		assert_string_equal(n, good[k].out);
		free(n);
	}
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		assert_null(config_pin_normalise(bad[k]));
		set_bad(&c, "tls_pin", bad[k], 1, "SHA-256");
	}
	config_free(&c);
}

static void
config_set__checks__strings_and_fds(void **state)
{
	struct xconfig c;

	(void)state;
	config_init(&c);
	assert_int_equal(c.password_fd, -1);
	set_ok(&c, "host", "one.example.com", 0);
	set_ok(&c, "host", "two.example.com", 1); /* the old one is freed */
	assert_string_equal(c.host, "two.example.com");
	set_bad(&c, "host", "", 0, "empty");
	set_bad(&c, "resource", NULL, 0, "value");
	set_ok(&c, "password-fd", "0", 0);
	assert_int_equal(c.password_fd, 0);
	set_ok(&c, "password-fd", "9", 0);
	assert_int_equal(c.password_fd, 9);
	set_bad(&c, "password-fd", "-1", 0, "file descriptor");
	set_bad(&c, "password-fd", "x", 0, "file descriptor");
	set_bad(&c, "password-fd", "65536", 0, "file descriptor");
	config_free(&c);
}

static void
config_set__checks__resources(void **state)
{
	static const char *const good[] = { "bot", "with/slash", "a b",
		"h\xc3\xa9llo", "x@y", "0", "\xf0\x9f\x98\x80" };
	static const struct {
		const char *value;
		const char *shown; /* escaped, in the message */
	} bad[] = {
		{ "r\x01x", "'r\\x01x': control character in resourcepart" },
		{ "r\x1b[2Jx", "'r\\x1b[2Jx'" },
		{ "r\nx", "'r\\nx'" },
		{ "r\x7f", "'r\\x7f'" },
		{ "evil\xe2\x80\xae", "'evil\\u202e'" },
		{ "tag\xf3\xa0\x80\x81", "'tag\\U000e0001'" },
		{ "r\xff", "'r\\xff': resourcepart is not UTF-8" },
	};
	struct xconfig c;
	size_t k;
	char *err;

	(void)state;
	config_init(&c);
	for (k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
		set_ok(&c, "resource", good[k], 0);
		assert_string_equal(c.resource, good[k]);
	}
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		set_bad(&c, "resource", bad[k].value, 0, "invalid resource");
		set_bad(&c, "resource", bad[k].value, 1, bad[k].shown);
		/* the message is one line of text */
		err = NULL;
		assert_int_equal(
		    config_set(&c, "resource", bad[k].value, 0, &err), -1);
		assert_null(strpbrk(err, "\x01\x1b\n\x7f"));
		free(err);
	}
	/* the last good value stays */
	assert_string_equal(c.resource, good[6]);
	set_bad(&c, "resource", "", 0, "empty");
	config_free(&c);
}

static void
config_set__rejects__unknown_keys(void **state)
{
	static const char *const bad[] = { "nosuchkey", "", "jid ", "JID",
		"pass", "passwordx", "-", "tls--pin",
		("a-very-long-key-name-that-is-longer-than-any-buffer-"
		 "the-parser-may-use-for-normalising-names") };
	struct xconfig c;
	size_t k;

	(void)state;
	config_init(&c);
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		set_bad(&c, bad[k], "x", 0, "unknown key");
		set_bad(&c, bad[k], "x", 1, "unknown key");
	}
	assert_int_equal(c.set, 0);
	config_free(&c);
}

static void
config_set__limits__keys_by_source(void **state)
{
	struct xconfig c;

	(void)state;
	config_init(&c);
	/* password: only from a file, never the command line */
	set_bad(&c, "password", "s3cret", 0, "unknown key");
	assert_null(c.password);
	set_ok(&c, "password", "s3cret", 1);
	assert_string_equal(c.password, "s3cret");
	/* config, account, password-fd: only from the command line */
	set_bad(&c, "config", "/x", 1, "unknown key");
	set_bad(&c, "account", "work", 1, "unknown key");
	set_bad(&c, "password-fd", "3", 1, "unknown key");
	set_bad(&c, "password_fd", "3", 1, "unknown key");
	assert_false(config_is_set(&c, "config"));
	set_ok(&c, "config", "/x", 0);
	set_ok(&c, "account", "work", 0);
	set_ok(&c, "password-fd", "3", 0);
	assert_string_equal(c.config_file, "/x");
	assert_string_equal(c.account, "work");
	assert_int_equal(c.password_fd, 3);
	config_free(&c);
}

static void
config_set__treats__underscore_as_dash(void **state)
{
	struct xconfig c;

	(void)state;
	config_init(&c);
	set_ok(&c, "max_size", "100", 0);
	assert_int_equal(c.max_size, 100);
	set_ok(&c, "direct_tls", "yes", 1);
	assert_true(c.direct_tls);
	set_ok(&c, "password_cmd", "pass show xmpp", 1);
	assert_string_equal(c.password_cmd, "pass show xmpp");
	set_ok(&c, "client_cert", "/c.pem", 0);
	assert_true(config_is_set(&c, "max-size"));
	assert_true(config_is_set(&c, "max_size"));
	assert_true(config_is_set(&c, "client-cert"));
	assert_true(config_is_set(&c, "password-cmd"));
	assert_false(config_is_set(&c, "client-key"));
	assert_false(config_is_set(&c, "nosuchkey"));
	config_free(&c);
}

/* --- config_load --- */

static const char layered[] = "# global settings\n"
			      "; also a comment\n"
			      "jid = global@example.com\n"
			      "timeout = 5\n"
			      "host = global.example.com\n"
			      "\n"
			      "[default]\n"
			      "jid = default@example.com\n"
			      "resource = home\n"
			      "\n"
			      "[work]\n"
			      "jid = work@example.com\n"
			      "port = 5223\n"
			      "   [ spaced ]   \n"
			      "jid = spaced@example.com\n";

static void
config_load__applies__global_then_default_section(void **state)
{
	struct xconfig c;
	char *path = temp_file(layered, 0644), *err = NULL;

	(void)state;
	config_init(&c);
	assert_int_equal(config_load(&c, path, NULL, &err), XEXIT_OK);
	assert_null(err);
	assert_string_equal(c.jid, "default@example.com");
	assert_string_equal(c.host, "global.example.com");
	assert_string_equal(c.resource, "home");
	assert_int_equal(c.timeout_ms, 5000);
	assert_int_equal(c.port, 0);
	assert_false(config_is_set(&c, "port"));
	assert_true(config_is_set(&c, "timeout"));
	assert_string_equal(c.loaded_from, path);
	config_free(&c);
	remove_file(path);
}

static void
config_load__applies__named_account_section(void **state)
{
	struct xconfig c;
	char *path = temp_file(layered, 0644), *err = NULL;

	(void)state;
	config_init(&c);
	assert_int_equal(config_load(&c, path, "work", &err), XEXIT_OK);
	assert_string_equal(c.jid, "work@example.com");
	assert_int_equal(c.port, 5223);
	assert_int_equal(c.timeout_ms, 5000);
	assert_string_equal(c.host, "global.example.com");
	assert_null(c.resource); /* [default] is not read for -a work */
	config_free(&c);

	config_init(&c);
	assert_int_equal(config_load(&c, path, "spaced", &err), XEXIT_OK);
	assert_string_equal(c.jid, "spaced@example.com");
	config_free(&c);
	remove_file(path);
}

static void
config_load__fails__on_missing_account(void **state)
{
	struct xconfig c;
	char *path = temp_file(layered, 0644), *err = NULL;

	(void)state;
	config_init(&c);
	assert_int_equal(config_load(&c, path, "nope", &err), XEXIT_CONFIG);
	assert_contains(err, "nope");
	assert_contains(err, path);
	free(err);
	config_free(&c);
	remove_file(path);
}

static void
config_load__reports__file_and_line(void **state)
{
	static const struct {
		const char *text;
		const char *account;
		int line;
		const char *word;
	} cases[] = {
		{ "jid = a@b\n[broken\n", NULL, 2, "malformed section header" },
		{ "[]\n", NULL, 1, "malformed section header" },
		{ "[a] junk\n", NULL, 1, "malformed section header" },
		{ "\n\njust some words\n", NULL, 3, "expected 'key = value'" },
		{ "# c\nnokey = 1\n", NULL, 2, "unknown key 'nokey'" },
		{ "password-fd = 3\n", NULL, 1, "unknown key" },
		{ "config = /x\n", NULL, 1, "unknown key" },
		{ "account = x\n", NULL, 1, "unknown key" },
		{ "resource = \"unterminated\n", NULL, 1, "unterminated" },
		{ "resource = \"a\" trailing\n", NULL, 1, "unterminated" },
		{ "x = 1\n", NULL, 1, "unknown key" },
		{ "[s]\nport = 70000\n", "s", 2, "invalid port" },
		{ "jid = a@b@c\n", NULL, 1, "invalid JID" },
		{ "jid = a@b\r\ntimeout = soon\r\n", NULL, 2, "duration" },
	};
	struct xconfig c;
	char *path, *err, *prefix;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		path = temp_file(cases[k].text, 0600);
		prefix = xasprintf("%s:%d: ", path, cases[k].line);
		config_init(&c);
		err = NULL;
		if (config_load(&c, path, cases[k].account, &err) !=
		    XEXIT_CONFIG)
			fail_msg("accepted \"%s\"", cases[k].text);
		assert_non_null(err);
		if (strncmp(err, prefix, strlen(prefix)) != 0)
			fail_msg(
			    "\"%s\" does not start with \"%s\"", err, prefix);
		assert_contains(err, cases[k].word);
		free(err);
		free(prefix);
		config_free(&c);
		remove_file(path);
	}
}

/* Text of the file, its name and the account name reach messages escaped. */
static void
config_load__escapes__file_text_in_messages(void **state)
{
	static const struct {
		const char *text;
		const char *account;
		const char *word;
	} cases[] = {
		{ "jid = a\x1b[2J@b\n", NULL,
		    "invalid JID 'a\\x1b[2J@b': space or control" },
		{ "fr\x1bob = 1\n", NULL, "unknown key 'fr\\x1bob'" },
		{ "host = h\nport = \xe2\x80\xae"
		  "1\n",
		    NULL, "invalid port '\\u202e1'" },
		{ "[a]\nhost = h\n", "b\x1b]0;x\x07",
		    "no account 'b\\x1b]0;x\\x07'" },
		/* a password is never shown, valid or not */
		{ "password = \"\"\n", NULL, "password: empty value" },
	};
	struct xconfig c;
	char *path, *err, *dir, *odd;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		path = temp_file(cases[k].text, 0600);
		config_init(&c);
		err = NULL;
		if (config_load(&c, path, cases[k].account, &err) !=
		    XEXIT_CONFIG)
			fail_msg("accepted \"%s\"", cases[k].text);
		assert_contains(err, cases[k].word);
		assert_null(strpbrk(err, "\x1b\x07\n"));
		free(err);
		config_free(&c);
		remove_file(path);
	}
	/* a file name with a control character */
	dir = temp_dir();
	odd = xasprintf("%s/x\x1b[2Jy", dir);
	config_init(&c);
	err = NULL;
	assert_int_equal(config_load(&c, odd, NULL, &err), XEXIT_CONFIG);
	assert_contains(err, "/x\\x1b[2Jy: ");
	assert_null(strchr(err, '\x1b'));
	free(err);
	err = NULL;
	set_ok(&c, "jid", "a@b", 0);
	set_ok(&c, "password-file", odd, 0);
	assert_int_equal(config_password(&c, &path, &err), XEXIT_CONFIG);
	assert_contains(err, "password file ");
	assert_contains(err, "/x\\x1b[2Jy: ");
	assert_null(strchr(err, '\x1b'));
	free(err);
	config_free(&c);
	rmdir(dir);
	free(dir);
	free(odd);
}

static void
config_load__parses__quotes_comments_and_crlf(void **state)
{
	struct xconfig c;
	char *path, *err = NULL;

	(void)state;
	path = temp_file("# jid = commented@example.com\r\n"
			 "jid=a@example.com\r\n"
			 "\tresource = \"  two  spaces \\\"q\\\" b\\\\s \"\r\n"
			 "password-cmd = echo a=b # not a comment\r\n"
			 "host = \"\"\r\n"
			 "[default]\r\n"
			 "cafile = /etc/ssl/ca.pem\r\n",
	    0600);
	config_init(&c);
	assert_int_equal(config_load(&c, path, NULL, &err), XEXIT_CONFIG);
	/* host = "" is an empty value, refused */
	assert_contains(err, ":5: host: empty value");
	free(err);
	err = NULL;
	config_free(&c);
	remove_file(path);

	path = temp_file("# jid = commented@example.com\r\n"
			 "jid=a@example.com\r\n"
			 "\tresource = \"  two  spaces \\\"q\\\" b\\\\s \"\r\n"
			 "password-cmd = echo a=b # not a comment\r\n"
			 "[default]\r\n"
			 "cafile = /etc/ssl/ca.pem\r\n",
	    0600);
	config_init(&c);
	assert_int_equal(config_load(&c, path, NULL, &err), XEXIT_OK);
	assert_string_equal(c.jid, "a@example.com");
	assert_string_equal(c.resource, "  two  spaces \"q\" b\\s ");
	assert_string_equal(c.password_cmd, "echo a=b # not a comment");
	assert_string_equal(c.cafile, "/etc/ssl/ca.pem");
	config_free(&c);
	remove_file(path);
}

static void
config_load__accepts__empty_file(void **state)
{
	struct xconfig c;
	char *path = temp_file("", 0644), *err = NULL;

	(void)state;
	config_init(&c);
	assert_int_equal(config_load(&c, path, NULL, &err), XEXIT_OK);
	assert_int_equal(c.set, 0);
	assert_string_equal(c.loaded_from, path);
	config_free(&c);
	remove_file(path);
}

static void
config_load__refuses__readable_password_file(void **state)
{
	static const mode_t refused[] = { 0640, 0604, 0644, 0660 };
	static const char text[] = "jid = a@b\n[default]\npassword = s3cret\n";
	struct xconfig c;
	char *path, *err;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(refused) / sizeof(refused[0]); k++) {
		path = temp_file(text, refused[k]);
		config_init(&c);
		err = NULL;
		assert_int_equal(
		    config_load(&c, path, NULL, &err), XEXIT_CONFIG);
		assert_contains(err, path);
		assert_contains(err, "chmod 600");
		assert_null(c.password);
		free(err);
		config_free(&c);
		remove_file(path);
	}
	path = temp_file(text, 0600);
	config_init(&c);
	err = NULL;
	assert_int_equal(config_load(&c, path, NULL, &err), XEXIT_OK);
	assert_string_equal(c.password, "s3cret");
	config_free(&c);
	remove_file(path);
	/* without a password, a readable file is fine */
	path = temp_file("jid = a@b\n", 0644);
	config_init(&c);
	assert_int_equal(config_load(&c, path, NULL, &err), XEXIT_OK);
	config_free(&c);
	remove_file(path);
}

/* ssh's rule, for the config file whatever it holds. */
static void
config_load__refuses__unsafe_owner_or_mode(void **state)
{
	static const mode_t refused[] = { 0664, 0602, 0620, 0622, 0666 };
	static const char text[] = "jid = a@b\n";
	struct xconfig c;
	char *path, *err, *want;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(refused) / sizeof(refused[0]); k++) {
		path = temp_file(text, refused[k]);
		config_init(&c);
		err = NULL;
		assert_int_equal(
		    config_load(&c, path, NULL, &err), XEXIT_CONFIG);
		want = xasprintf("%s: writable by group or others (chmod "
				 "600 %s)",
		    path, path);
		assert_string_equal(err, want);
		assert_null(c.jid);
		free(want);
		free(err);
		config_free(&c);
		remove_file(path);
	}
	/* /dev/null (rw-rw-rw-, root's) still means "no configuration" */
	config_init(&c);
	assert_int_equal(config_load(&c, "/dev/null", NULL, &err), XEXIT_OK);
	config_free(&c);
	if (geteuid() != 0) {
		print_message("skipped: another owner needs root\n");
		return;
	}
	path = temp_file(text, 0600);
	assert_int_equal(chown(path, 65534, (gid_t)-1), 0);
	config_init(&c);
	err = NULL;
	assert_int_equal(config_load(&c, path, NULL, &err), XEXIT_CONFIG);
	want = xasprintf("%s: owned by uid 65534, not by you or root", path);
	assert_string_equal(err, want);
	free(want);
	free(err);
	config_free(&c);
	/* root's own file is fine */
	assert_int_equal(chown(path, 0, (gid_t)-1), 0);
	config_init(&c);
	assert_int_equal(config_load(&c, path, NULL, &err), XEXIT_OK);
	assert_string_equal(c.jid, "a@b");
	config_free(&c);
	remove_file(path);
}

static void
config_load__fails__on_missing_explicit_file(void **state)
{
	struct xconfig c;
	char *err = NULL, *dir;

	(void)state;
	config_init(&c);
	assert_int_equal(
	    config_load(&c, "/nonexistent/xmpptools.conf", NULL, &err),
	    XEXIT_CONFIG);
	assert_contains(err, "/nonexistent/xmpptools.conf");
	assert_contains(err, strerror(ENOENT));
	free(err);
	err = NULL;
	dir = temp_dir();
	assert_int_equal(config_load(&c, dir, NULL, &err), XEXIT_CONFIG);
	assert_contains(err, "not a regular file");
	free(err);
	rmdir(dir);
	free(dir);
	assert_null(c.loaded_from);
	config_free(&c);
}

static void
config_load__finds__default_paths(void **state)
{
	struct xconfig c;
	char *xdg, *home, *err = NULL, *sub, *file;
	FILE *f;

	(void)state;
	if (access("/etc/xmpptools/config", F_OK) == 0) {
		print_message("skipped: /etc/xmpptools/config exists\n");
		skip();
	}
	xdg = temp_dir();
	home = temp_dir();
	setenv("XDG_CONFIG_HOME", xdg, 1);
	setenv("HOME", home, 1);

	/* nothing anywhere: fine, nothing set */
	config_init(&c);
	assert_int_equal(config_load(&c, NULL, NULL, &err), XEXIT_OK);
	assert_null(err);
	assert_int_equal(c.set, 0);
	assert_null(c.loaded_from);
	/* ... but an account needs a file */
	assert_int_equal(config_load(&c, NULL, "work", &err), XEXIT_CONFIG);
	assert_contains(err, "work");
	free(err);
	err = NULL;
	config_free(&c);

	/* $XDG_CONFIG_HOME/xmpptools/config */
	sub = xasprintf("%s/xmpptools", xdg);
	assert_int_equal(mkdir(sub, 0700), 0);
	file = xasprintf("%s/config", sub);
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("jid = xdg@example.com\n", f);
	fclose(f);
	config_init(&c);
	assert_int_equal(config_load(&c, NULL, NULL, &err), XEXIT_OK);
	assert_string_equal(c.jid, "xdg@example.com");
	assert_string_equal(c.loaded_from, file);
	config_free(&c);
	unlink(file);
	rmdir(sub);
	free(file);
	free(sub);

	/* ~/.config/xmpptools/config when XDG_CONFIG_HOME is unset */
	sub = xasprintf("%s/.config", home);
	assert_int_equal(mkdir(sub, 0700), 0);
	free(sub);
	sub = xasprintf("%s/.config/xmpptools", home);
	assert_int_equal(mkdir(sub, 0700), 0);
	file = xasprintf("%s/config", sub);
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("jid = home@example.com\n", f);
	fclose(f);
	unsetenv("XDG_CONFIG_HOME");
	config_init(&c);
	assert_int_equal(config_load(&c, NULL, NULL, &err), XEXIT_OK);
	assert_string_equal(c.jid, "home@example.com");
	config_free(&c);
	/* a relative XDG_CONFIG_HOME is ignored (XDG base directory spec) */
	setenv("XDG_CONFIG_HOME", "relative/dir", 1);
	config_init(&c);
	assert_int_equal(config_load(&c, NULL, NULL, &err), XEXIT_OK);
	assert_string_equal(c.jid, "home@example.com");
	config_free(&c);
	unlink(file);
	rmdir(sub);
	free(file);
	free(sub);
	sub = xasprintf("%s/.config", home);
	rmdir(sub);
	free(sub);

	setenv("XDG_CONFIG_HOME", xdg, 1);
	rmdir(xdg);
	rmdir(home);
	free(xdg);
	free(home);
}

/* --- config_merge / config_check --- */

static void
config_merge__overrides__only_keys_set(void **state)
{
	struct xconfig file, cli;

	(void)state;
	config_init(&file);
	config_init(&cli);
	set_ok(&file, "jid", "file@example.com", 1);
	set_ok(&file, "host", "file.example.com", 1);
	set_ok(&file, "port", "5222", 1);
	set_ok(&file, "insecure", "yes", 1);
	set_ok(&file, "timeout", "10", 1);
	set_ok(&file, "password", "pw", 1);

	set_ok(&cli, "host", "cli.example.com", 0);
	set_ok(&cli, "insecure", "no", 0);
	set_ok(&cli, "verbose", NULL, 0);
	set_ok(&cli, "tls-pin", PIN_HEX, 0);
	cli.port = 9999; /* not "set": must not be copied */

	config_merge(&file, &cli);
	assert_string_equal(file.jid, "file@example.com");
	assert_string_equal(file.host, "cli.example.com");
	assert_int_equal(file.port, 5222);
	assert_int_equal(file.insecure, 0);
	assert_int_equal(file.timeout_ms, 10000);
	assert_int_equal(file.verbose, 1);
	assert_string_equal(file.tls_pin, PIN_HEX);
	assert_string_equal(file.password, "pw");
	assert_true(config_is_set(&file, "tls-pin"));
	assert_true(config_is_set(&file, "jid"));
	assert_false(config_is_set(&file, "resource"));
	/* the copies are the destination's own */
	assert_ptr_not_equal(file.host, cli.host);
	config_free(&cli);
	assert_string_equal(file.host, "cli.example.com");
	config_free(&file);
	config_free(NULL);
}

static void
config_check__rejects__inconsistent_settings(void **state)
{
	struct xconfig c;
	char *err = NULL;

	(void)state;
	config_init(&c);
	assert_int_equal(config_check(&c, &err), XEXIT_CONFIG);
	assert_contains(err, "jid");
	free(err);
	err = NULL;

	set_ok(&c, "jid", "a@example.com", 0);
	assert_int_equal(config_check(&c, &err), XEXIT_OK);
	assert_null(err);

	set_ok(&c, "insecure", NULL, 0);
	set_ok(&c, "tls-pin", PIN_HEX, 0);
	assert_int_equal(config_check(&c, &err), XEXIT_USAGE);
	assert_contains(err, "--insecure");
	assert_contains(err, "--tls-pin");
	free(err);
	err = NULL;
	set_ok(&c, "insecure", "no", 0);
	assert_int_equal(config_check(&c, &err), XEXIT_OK);

	set_ok(&c, "client-key", "/k.pem", 0);
	assert_int_equal(config_check(&c, &err), XEXIT_USAGE);
	assert_contains(err, "--client-cert");
	free(err);
	err = NULL;
	set_ok(&c, "client-cert", "/c.pem", 0);
	assert_int_equal(config_check(&c, &err), XEXIT_OK);
	assert_null(err);
	config_free(&c);
}

/* --- config_password --- */

/* Runs config_password() and expects success with 'want' (NULL: none). */
static void
password_ok(const struct xconfig *c, const char *want)
{
	char *pw = (char *)1, *err = NULL;

	if (config_password(c, &pw, &err) != XEXIT_OK)
		fail_msg("config_password failed: %s", err);
	assert_null(err);
	if (want == NULL) {
		assert_null(pw);
		return;
	}
	assert_non_null(pw);
	assert_string_equal(pw, want);
	util_secure_free(pw);
}

static void
password_bad(const struct xconfig *c, const char *word)
{
	char *pw = (char *)1, *err = NULL;

	assert_int_equal(config_password(c, &pw, &err), XEXIT_CONFIG);
	assert_null(pw);
	assert_contains(err, word);
	free(err);
}

/* Clears a password taken from the environment by an earlier test. */
static void
clear_env_password(void)
{
	setenv("XMPP_PASSWORD", "", 1);
	config_take_env_password();
	assert_null(getenv("XMPP_PASSWORD"));
}

static void
config_password__reads__first_line_of_file(void **state)
{
	struct xconfig c;
	char *path;

	(void)state;
	clear_env_password();
	config_init(&c);
	set_ok(&c, "jid", "a@example.com", 0);

	path = temp_file("s3cret\r\nsecond line\n", 0600);
	set_ok(&c, "password-file", path, 0);
	password_ok(&c, "s3cret");
	remove_file(path);

	path = temp_file("no newline at end", 0600);
	set_ok(&c, "password-file", path, 0);
	password_ok(&c, "no newline at end");
	remove_file(path);

	path = temp_file(" spaces kept \n", 0600);
	set_ok(&c, "password-file", path, 0);
	password_ok(&c, " spaces kept ");
	remove_file(path);

	path = temp_file("", 0600);
	set_ok(&c, "password-file", path, 0);
	password_bad(&c, "empty");
	remove_file(path);

	path = temp_file("\nsecond line\n", 0600);
	set_ok(&c, "password-file", path, 0);
	password_bad(&c, "empty");
	remove_file(path);

	set_ok(&c, "password-file", "/nonexistent/pw", 0);
	password_bad(&c, "/nonexistent/pw");
	config_free(&c);
}

static void
config_password__refuses__unsafe_password_file(void **state)
{
	static const mode_t refused[] = { 0660, 0602, 0622 };
	struct xconfig c;
	char *path, *pw = NULL, *err = NULL;
	size_t k;

	(void)state;
	clear_env_password();
	config_init(&c);
	set_ok(&c, "jid", "a@example.com", 0);
	for (k = 0; k < sizeof(refused) / sizeof(refused[0]); k++) {
		path = temp_file("s3cret\n", refused[k]);
		set_ok(&c, "password-file", path, 0);
		password_bad(&c, "writable by group or others");
		password_bad(&c, path);
		remove_file(path);
	}
	/* readable by others: used (with a warning) */
	path = temp_file("s3cret\n", 0644);
	set_ok(&c, "password-file", path, 0);
	password_ok(&c, "s3cret");
	if (geteuid() == 0) {
		assert_int_equal(chmod(path, 0600), 0);
		assert_int_equal(chown(path, 65534, (gid_t)-1), 0);
		password_bad(&c, "owned by uid 65534, not by you or root");
		assert_int_equal(config_password(&c, &pw, &err), XEXIT_CONFIG);
		assert_true(strncmp(err, "password file ", 14) == 0);
		free(err);
	} else {
		print_message("skipped: another owner needs root\n");
	}
	remove_file(path);
	config_free(&c);
}

static void
config_password__reads__one_line_from_fd(void **state)
{
	struct xconfig c;
	char rest[64], *arg;
	int p[2];
	ssize_t n;

	(void)state;
	clear_env_password();
	config_init(&c);
	set_ok(&c, "jid", "a@example.com", 0);

	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "s3cret\r\nthe message\n", 20), 20);
	close(p[1]);
	arg = xasprintf("%d", p[0]);
	set_ok(&c, "password-fd", arg, 0);
	free(arg);
	password_ok(&c, "s3cret");
	/* the rest is still in the pipe, for the tool to read */
	n = read(p[0], rest, sizeof(rest) - 1);
	assert_int_equal(n, 12);
	rest[n] = '\0';
	assert_string_equal(rest, "the message\n");
	/* at end of file: no password */
	password_bad(&c, "empty");
	close(p[0]);

	/* an empty first line */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "\r\nx\n", 4), 4);
	close(p[1]);
	c.password_fd = p[0];
	password_bad(&c, "empty");
	close(p[0]);

	/* a descriptor that is not open */
	c.password_fd = 1000;
	password_bad(&c, strerror(EBADF));
	config_free(&c);
}

static void
config_password__runs__password_cmd(void **state)
{
	struct xconfig c;

	(void)state;
	clear_env_password();
	config_init(&c);
	set_ok(&c, "jid", "a@example.com", 0);

	set_ok(&c, "password-cmd", "printf 'secret\\nrest'", 0);
	password_ok(&c, "secret");
	set_ok(&c, "password-cmd", "printf 'crlf\\r\\n'", 0);
	password_ok(&c, "crlf");
	set_ok(&c, "password-cmd", "echo one; echo two", 0);
	password_ok(&c, "one");
	/* the command's stdin is not ours */
	set_ok(&c, "password-cmd", "read x; echo \"got:$x\"", 0);
	password_ok(&c, "got:");

	set_ok(&c, "password-cmd", "echo oops; exit 3", 0);
	password_bad(&c, "exit status 3");
	set_ok(&c, "password-cmd", "exec 2>/dev/null; /nonexistent/cmd", 0);
	password_bad(&c, "exit status 127");
	set_ok(&c, "password-cmd", "true", 0);
	password_bad(&c, "no password");
	set_ok(&c, "password-cmd", "printf '\\n'", 0);
	password_bad(&c, "no password");
	set_ok(&c, "password-cmd", "kill -9 $$", 0);
	password_bad(&c, "signal 9");
	/* more than it reads: the message says so, not the SIGPIPE */
	set_ok(&c, "password-cmd", "head -c 200000 /dev/zero | tr '\\0' x", 0);
	password_bad(&c, "too large");
	config_free(&c);
}

static void
config_room_password__takes__each_source(void **state)
{
	struct room_password_opts o;
	struct xconfig c;
	char *pw = NULL, *err = NULL, *path;

	(void)state;
	config_init(&c);
	config_room_password_init(&o);
	/* nothing given, no key: no password */
	assert_int_equal(config_room_password(&c, &o, &pw, &err), XEXIT_OK);
	assert_null(pw);
	/* the config key */
	set_ok(&c, "room-password", "from-key", 1);
	assert_int_equal(config_room_password(&c, &o, &pw, &err), XEXIT_OK);
	assert_string_equal(pw, "from-key");
	util_secure_free(pw);
	/* a file comes before the key */
	path = temp_file("from-file\nrest\n", 0600);
	assert_int_equal(
	    config_room_password_option(&o, "room-password-file", path, &err),
	    0);
	assert_int_equal(config_room_password_given(&o), 1);
	assert_int_equal(config_room_password(&c, &o, &pw, &err), XEXIT_OK);
	assert_string_equal(pw, "from-file");
	util_secure_free(pw);
	remove_file(path);
	/* a missing file: exit 3, named as the room's */
	assert_int_equal(config_room_password(&c, &o, &pw, &err), XEXIT_CONFIG);
	assert_non_null(strstr(err, "room password file"));
	free(err);
	err = NULL;
	/* a bad descriptor number is refused; two sources are counted */
	assert_int_equal(
	    config_room_password_option(&o, "room-password-fd", "x", &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(
	    config_room_password_option(&o, "room-password-fd", "0", &err), 0);
	assert_int_equal(config_room_password_given(&o), 2);
	config_room_password_free(&o);
	assert_int_equal(config_room_password_given(&o), 0);
	config_free(&c);
}

static void
config_password__uses__environment_then_file(void **state)
{
	struct xconfig c;
	char *path;

	(void)state;
	config_init(&c);
	set_ok(&c, "jid", "a@example.com", 0);
	set_ok(&c, "password", "from-config", 1);

	setenv("XMPP_PASSWORD", "from-env", 1);
	config_take_env_password();
	/* taken out of the environment, so no child sees it */
	assert_null(getenv("XMPP_PASSWORD"));
	password_ok(&c, "from-env");
	/* a second call still has it */
	password_ok(&c, "from-env");
	/* a password file comes first */
	path = temp_file("from-file\n", 0600);
	set_ok(&c, "password-file", path, 0);
	password_ok(&c, "from-file");
	remove_file(path);
	free(c.password_file);
	c.password_file = NULL;
	/* --password-cmd comes before the environment too */
	set_ok(&c, "password-cmd", "echo from-cmd", 0);
	password_ok(&c, "from-cmd");
	free(c.password_cmd);
	c.password_cmd = NULL;

	/* without the environment, the config file's password */
	clear_env_password();
	password_ok(&c, "from-config");
	config_free(&c);
}

/* unsetenv() leaves the text where /proc/PID/environ shows it: wiped. */
static void
config_take_env_password__wipes__environment_text(void **state)
{
	struct xconfig c;
	char *p, *pw = NULL, *err = NULL;

	(void)state;
	setenv("XMPP_PASSWORD", "wipe-me", 1);
	p = getenv("XMPP_PASSWORD");
	assert_non_null(p);
	config_take_env_password();
	assert_null(getenv("XMPP_PASSWORD"));
	/* glibc keeps the string of a setenv(): its bytes are zero now */
	assert_memory_equal(p, "\0\0\0\0\0\0\0", 7);

	/* config_forget_password(): no copy left in config.c */
	config_init(&c);
	set_ok(&c, "jid", "a@example.com", 0);
	set_ok(&c, "password", "from-config", 1);
	set_ok(&c, "client-cert", "/c.pem", 0);
	password_ok(&c, "wipe-me");
	config_forget_password(&c);
	assert_null(c.password);
	assert_int_equal(config_password(&c, &pw, &err), XEXIT_OK);
	assert_null(pw);
	config_free(&c);
}

static void
config_password__needs__none_with_client_cert(void **state)
{
	struct xconfig c;

	(void)state;
	clear_env_password();
	config_init(&c);
	set_ok(&c, "jid", "a@example.com", 0);
	set_ok(&c, "client-cert", "/c.pem", 0);
	password_ok(&c, NULL);
	config_free(&c);
}

static void
config_password__fails__without_source_or_terminal(void **state)
{
	struct xconfig c;
	int fd;

	(void)state;
	fd = open("/dev/tty", O_RDWR | O_NOCTTY);
	if (fd >= 0) {
		close(fd);
		print_message("skipped: /dev/tty is open to this test, the "
			      "password prompt would wait for it\n");
		skip();
	}
	clear_env_password();
	config_init(&c);
	set_ok(&c, "jid", "a@example.com", 0);
	password_bad(&c, "no password for a@example.com");
	config_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_set__checks__ports),
		cmocka_unit_test(config_set__checks__durations),
		cmocka_unit_test(config_set__checks__sizes),
		cmocka_unit_test(config_set__checks__flags),
		cmocka_unit_test(config_set__counts__verbose),
		cmocka_unit_test(config_set__checks__jids),
		cmocka_unit_test(config_set__normalises__pins),
		cmocka_unit_test(config_set__checks__strings_and_fds),
		cmocka_unit_test(config_set__checks__resources),
		cmocka_unit_test(config_set__rejects__unknown_keys),
		cmocka_unit_test(config_set__limits__keys_by_source),
		cmocka_unit_test(config_set__treats__underscore_as_dash),
		cmocka_unit_test(
		    config_load__applies__global_then_default_section),
		cmocka_unit_test(config_load__applies__named_account_section),
		cmocka_unit_test(config_load__fails__on_missing_account),
		cmocka_unit_test(config_load__reports__file_and_line),
		cmocka_unit_test(config_load__escapes__file_text_in_messages),
		cmocka_unit_test(config_load__parses__quotes_comments_and_crlf),
		cmocka_unit_test(config_load__accepts__empty_file),
		cmocka_unit_test(config_load__refuses__readable_password_file),
		cmocka_unit_test(config_load__refuses__unsafe_owner_or_mode),
		cmocka_unit_test(config_load__fails__on_missing_explicit_file),
		cmocka_unit_test(config_load__finds__default_paths),
		cmocka_unit_test(config_merge__overrides__only_keys_set),
		cmocka_unit_test(config_check__rejects__inconsistent_settings),
		cmocka_unit_test(config_password__reads__first_line_of_file),
		cmocka_unit_test(
		    config_password__refuses__unsafe_password_file),
		cmocka_unit_test(config_password__reads__one_line_from_fd),
		cmocka_unit_test(config_password__runs__password_cmd),
		cmocka_unit_test(config_room_password__takes__each_source),
		cmocka_unit_test(config_password__uses__environment_then_file),
		cmocka_unit_test(
		    config_take_env_password__wipes__environment_text),
		cmocka_unit_test(config_password__needs__none_with_client_cert),
		cmocka_unit_test(
		    config_password__fails__without_source_or_terminal),
	};
	int fd;

	/*
	 * The password tests must never wait for input: stdin is /dev/null
	 * (a password command that reads it gets end of file at once).
	 */
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0 && fd != STDIN_FILENO) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	/* The tests set these; start from a known state. */
	unsetenv("XMPP_PASSWORD");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
