/* SPDX-License-Identifier: MIT */
/* test_migrate.c -- unit tests of common/migrate.c and of the migration in
 * config_load() */

#include <sys/stat.h>
#include <sys/types.h>

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
#include "migrate.h"
#include "util.h"
#include "xmpptools.h"

/* Parses 'text' (copied) into a fresh 'c'; returns migrate_parse()'s. */
static int
parse(struct xconfig *c, const char *text, char **err)
{
	char *copy = xstrdup(text);
	int r;

	config_init(c);
	*err = NULL;
	r = migrate_parse(c, copy, "rc", err);
	free(copy);
	return r;
}

static void
migrate_parse__reads__sendxmpp_old_line(void **state)
{
	struct xconfig c;
	char *err;

	(void)state;
	assert_int_equal(
	    parse(&c, "# mine\nalice@example.org s3cret\n", &err), 0);
	assert_string_equal(c.jid, "alice@example.org");
	assert_string_equal(c.password, "s3cret");
	assert_null(c.host);
	assert_int_equal(c.port, 0);
	config_free(&c);

	/* with a port and a component: the component is the domain */
	assert_int_equal(
	    parse(&c, "bob@talk.example.net:5223 pw example.net\n", &err), 0);
	assert_string_equal(c.jid, "bob@example.net");
	assert_string_equal(c.host, "talk.example.net");
	assert_int_equal(c.port, 5223);
	assert_string_equal(c.password, "pw");
	config_free(&c);
}

static void
migrate_parse__reads__sendxmpp_keys(void **state)
{
	struct xconfig c;
	char *err;

	(void)state;
	assert_int_equal(parse(&c,
			     "username: alice\njserver: example.org\n"
			     "port: 5222\npassword: two words \n",
			     &err),
	    0);
	assert_string_equal(c.jid, "alice@example.org");
	assert_null(c.host);
	assert_int_equal(c.port, 5222);
	assert_string_equal(c.password, "two words");
	config_free(&c);
}

static void
migrate_parse__reads__go_sendxmpp_keys(void **state)
{
	struct xconfig c;
	char *err;

	(void)state;
	assert_int_equal(parse(&c,
			     "username: alice@example.org\n"
			     "jserver: xmpp.example.org\nport: 5223\n"
			     "eval_password: pass show xmpp\n"
			     "resource: cron\nalias: bot\n",
			     &err),
	    0);
	assert_string_equal(c.jid, "alice@example.org");
	assert_string_equal(c.host, "xmpp.example.org");
	assert_int_equal(c.port, 5223);
	assert_string_equal(c.password_cmd, "pass show xmpp");
	assert_string_equal(c.resource, "cron");
	assert_null(c.password);
	config_free(&c);
}

static void
migrate_parse__rejects__bad_input(void **state)
{
	static const struct {
		const char *text, *err;
	} cases[] = {
		{ "alice@example.org\n",
		    "rc:1: expected 'user@server "
		    "password' or 'key: value'" },
		{ "# x\njust words\n",
		    "rc:2: expected 'key: value' or "
		    "'user@server password'" },
		{ "username: alice\n",
		    "rc:1: username without jserver: "
		    "no JID" },
		{ "username: a@example.org\nport: 99999\n", "rc:2: port: " },
		{ "username: a b@example.org\n", "rc:1: username: " },
	};
	struct xconfig c;
	char *err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(&c, cases[i].text, &err), -1);
		assert_non_null(err);
		if (strncmp(err, cases[i].err, strlen(cases[i].err)) != 0)
			fail_msg("case %zu: '%s'", i, err);
		free(err);
		config_free(&c);
	}
}

static void
migrate_render__hides__password_unless_asked(void **state)
{
	struct xconfig c, back;
	char *err, *text;

	(void)state;
	assert_int_equal(parse(&c,
			     "username: alice@example.org\n"
			     "jserver: h.example.org\nport: 5222\n"
			     "password:  \"q\\uoted\" \n",
			     &err),
	    0);
	text = migrate_render(&c, "~/.sendxmpprc", 0);
	assert_non_null(strstr(text, "jid = alice@example.org\n"));
	assert_non_null(strstr(text, "host = h.example.org\n"));
	assert_non_null(strstr(text, "port = 5222\n"));
	assert_null(strstr(text, "uoted"));
	assert_non_null(strstr(text, "# password: not written"));
	free(text);

	/* With the password: quoted, and read back the same by config.c. */
	text = migrate_render(&c, "~/.sendxmpprc", 1);
	assert_non_null(strstr(text, "password = \"\\\"q\\\\uoted\\\"\"\n"));
	{
		char path[] = "/tmp/test_migrate.XXXXXX";
		int fd = mkstemp(path);

		assert_true(fd >= 0);
		assert_int_equal(
		    write(fd, text, strlen(text)), (ssize_t)strlen(text));
		close(fd);
		config_init(&back);
		assert_int_equal(config_load(&back, path, NULL, &err), 0);
		assert_string_equal(back.password, "\"q\\uoted\"");
		assert_string_equal(back.jid, "alice@example.org");
		assert_int_equal(back.port, 5222);
		config_free(&back);
		unlink(path);
	}
	free(text);
	config_free(&c);
}

static void
migrate_rcpt_list__reads__jids_and_comments(void **state)
{
	const char *text = "# on call\n  bob@example.org \n\n"
			   "carol@example.org/phone\r\n#end";
	char **list = NULL, *err = NULL;
	size_t n = 0, i;

	(void)state;
	assert_int_equal(
	    migrate_rcpt_list(text, strlen(text), "f", 0, &list, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0], "bob@example.org");
	assert_string_equal(list[1], "carol@example.org/phone");
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

static void
migrate_rcpt_list__rejects__bad_line(void **state)
{
	static const struct {
		const char *text;
		int rooms;
		const char *err;
	} cases[] = {
		{ "bob@example.org\n\nbad@@x\n", 0,
		    "f:3: invalid JID 'bad@@x': " },
		{ "room@muc.example.org/nick\n", 1,
		    "f:1: invalid JID 'room@muc.example.org/nick': not a room "
		    "JID (room@service)" },
		{ "a@example.org\nb\x01@example.org\n", 0,
		    "f:2: invalid JID 'b\\x01@example.org': " },
	};
	char **list, *err;
	size_t n, i, k;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		list = NULL;
		n = 0;
		err = NULL;
		assert_int_equal(
		    migrate_rcpt_list(cases[i].text, strlen(cases[i].text), "f",
			cases[i].rooms, &list, &n, &err),
		    -1);
		if (err == NULL ||
		    strncmp(err, cases[i].err, strlen(cases[i].err)) != 0)
			fail_msg("case %zu: '%s'", i, err ? err : "(null)");
		free(err);
		for (k = 0; k < n; k++)
			free(list[k]);
		free(list);
	}
}

/* --- config_load() without an xmpptools config --- */

static char *
make_home(void)
{
	char *home = xstrdup("/tmp/test_migrate.h.XXXXXX");

	assert_non_null(mkdtemp(home));
	setenv("HOME", home, 1);
	unsetenv("XDG_CONFIG_HOME");
	return home;
}

static void
put_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void
config_load__reads__sendxmpprc_when_no_config(void **state)
{
	struct xconfig c;
	char *home = make_home(), *rc, *dir, *go, *err = NULL;

	(void)state;
	if (access("/etc/xmpptools/config", F_OK) == 0)
		skip();
	rc = xasprintf("%s/.sendxmpprc", home);
	put_file(rc, "alice@example.org pw\n", 0644);
	/* a password readable by others: refused like our own file */
	config_init(&c);
	assert_int_equal(config_load(&c, NULL, NULL, &err), XEXIT_CONFIG);
	assert_non_null(strstr(err, "readable by group or others"));
	free(err);
	err = NULL;
	config_free(&c);

	assert_int_equal(chmod(rc, 0600), 0);
	config_init(&c);
	assert_int_equal(config_load(&c, NULL, NULL, &err), XEXIT_OK);
	assert_string_equal(c.migrated_from, rc);
	assert_string_equal(c.migrated_tool, "sendxmpp");
	assert_string_equal(c.jid, "alice@example.org");
	config_free(&c);

	/* go-sendxmpp's file comes first */
	dir = xasprintf("%s/.config", home);
	assert_int_equal(mkdir(dir, 0700), 0);
	free(dir);
	dir = xasprintf("%s/.config/go-sendxmpp", home);
	assert_int_equal(mkdir(dir, 0700), 0);
	go = xasprintf("%s/config", dir);
	put_file(
	    go, "username: bob@example.org\neval_password: echo x\n", 0644);
	config_init(&c);
	assert_int_equal(config_load(&c, NULL, NULL, &err), XEXIT_OK);
	assert_string_equal(c.migrated_tool, "go-sendxmpp");
	assert_string_equal(c.jid, "bob@example.org");
	config_free(&c);

	/* an account asked for: no migration, as before */
	config_init(&c);
	assert_int_equal(config_load(&c, NULL, "work", &err), XEXIT_CONFIG);
	free(err);
	config_free(&c);
	unlink(go);
	unlink(rc);
	rmdir(dir);
	free(go);
	free(dir);
	dir = xasprintf("%s/.config", home);
	rmdir(dir);
	rmdir(home);
	free(dir);
	free(rc);
	free(home);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(migrate_parse__reads__sendxmpp_old_line),
		cmocka_unit_test(migrate_parse__reads__sendxmpp_keys),
		cmocka_unit_test(migrate_parse__reads__go_sendxmpp_keys),
		cmocka_unit_test(migrate_parse__rejects__bad_input),
		cmocka_unit_test(migrate_render__hides__password_unless_asked),
		cmocka_unit_test(migrate_rcpt_list__reads__jids_and_comments),
		cmocka_unit_test(migrate_rcpt_list__rejects__bad_line),
		cmocka_unit_test(config_load__reads__sendxmpprc_when_no_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
