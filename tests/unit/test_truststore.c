/* SPDX-License-Identifier: MIT */
/* test_truststore.c -- unit tests of common/truststore.c (the lazy trust
 * store) and of the environment the children get */

#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/x509.h>

#include "config.h"
#include "exec.h"
#include "truststore.h"
#include "util.h"
#include "xmpptools.h"

#define FILE_ENV "SSL_CERT_FILE"

/* A hashed directory, a plain one (a CA under a plain name), a link to
 * the hashed one; made by setup(), removed by teardown(). */
static char top[] = "/tmp/test_truststore.XXXXXX";
static char *hashed, *plain, *link_to_hashed;

static void
touch(const char *dir, const char *name)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fclose(f), 0);
	free(path);
}

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(top) == NULL)
		return -1;
	hashed = xasprintf("%s/hashed", top);
	plain = xasprintf("%s/plain", top);
	link_to_hashed = xasprintf("%s/link", top);
	if (mkdir(hashed, 0700) < 0 || mkdir(plain, 0700) < 0 ||
	    symlink(hashed, link_to_hashed) < 0)
		return -1;
	touch(hashed, "ca.pem");
	touch(hashed, "0a1b2c3d.0");
	touch(plain, "ca.pem");
	return 0;
}

static int
teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", top);
	int rc = system(cmd);

	(void)state;
	free(cmd);
	free(hashed);
	free(plain);
	free(link_to_hashed);
	return rc == 0 ? 0 : -1;
}

/* --- truststore_is_hashed --- */

static void
truststore_is_hashed__needs__a_hash_named_entry(void **state)
{
	static const char *const not_hashed[] = {
		"ca.pem",
		"0A1B2C3D.0", /* OpenSSL looks up lower case only */
		"0a1b2c3.0",
		"0a1b2c3d",
		"0a1b2c3d.",
		"0a1b2c3d.r0", /* a CRL, not a CA */
		"0a1b2c3d.0.bak",
		"0a1b2c3d.0x",
		"0a1b2c3dd.0",
		"g0a1b2c3.0",
	};
	char *dir = xasprintf("%s/names", top);
	char *dangling;
	size_t i;

	(void)state;
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(truststore_is_hashed(dir), 0); /* empty */
	for (i = 0; i < sizeof(not_hashed) / sizeof(not_hashed[0]); i++) {
		touch(dir, not_hashed[i]);
		assert_int_equal(truststore_is_hashed(dir), 0);
	}
	/* a name is enough: the entries are not opened */
	dangling = xasprintf("%s/9d6523ce.12", dir);
	assert_int_equal(symlink("/nonexistent/ca.pem", dangling), 0);
	assert_int_equal(truststore_is_hashed(dir), 1);
	free(dangling);
	free(dir);

	assert_int_equal(truststore_is_hashed(hashed), 1);
	assert_int_equal(truststore_is_hashed(link_to_hashed), 1);
	assert_int_equal(truststore_is_hashed(plain), 0);
	assert_int_equal(truststore_is_hashed("/nonexistent/certs"), 0);
	assert_int_equal(truststore_is_hashed("/dev/null"), 0); /* a file */
	assert_int_equal(truststore_is_hashed(""), 0);
	assert_int_equal(truststore_is_hashed(NULL), 0);
}

/* --- truststore_plan --- */

static void
truststore_plan__is_lazy__without_SSL_CERT_FILE_and_hashed_default(void **state)
{
	const char *add = "unchanged";

	(void)state;
	assert_int_equal(truststore_plan(NULL, NULL, hashed, &add), 1);
	assert_null(add);
	assert_int_equal(truststore_plan(NULL, NULL, link_to_hashed, &add), 1);
	assert_null(add);

	/* the user's bundle is always read, even an empty name */
	add = "unchanged";
	assert_int_equal(
	    truststore_plan("/etc/my-bundle.pem", NULL, hashed, &add), 0);
	assert_null(add);
	assert_int_equal(truststore_plan("", NULL, hashed, &add), 0);
	assert_int_equal(truststore_plan(hashed, hashed, hashed, &add), 0);

	/* no hashed default directory: the bundle is what holds the CAs */
	assert_int_equal(truststore_plan(NULL, NULL, plain, &add), 0);
	assert_int_equal(truststore_plan(NULL, hashed, plain, &add), 0);
	assert_int_equal(
	    truststore_plan(NULL, NULL, "/nonexistent/certs", &add), 0);
	assert_null(add);
}

static void
truststore_plan__adds_default_dir__when_SSL_CERT_DIR_has_others(void **state)
{
	const char *add;
	char *list;

	(void)state;
	/* SSL_CERT_DIR without the default directory: it is added */
	assert_int_equal(truststore_plan(NULL, plain, hashed, &add), 1);
	assert_ptr_equal(add, hashed);
	assert_int_equal(
	    truststore_plan(NULL, "/nonexistent/certs", hashed, &add), 1);
	assert_ptr_equal(add, hashed);
	assert_int_equal(truststore_plan(NULL, "", hashed, &add), 1);
	assert_ptr_equal(add, hashed);
	list = xasprintf("::%s:", plain);
	assert_int_equal(truststore_plan(NULL, list, hashed, &add), 1);
	assert_ptr_equal(add, hashed);
	free(list);

	/* the default directory among them, by any name: nothing to add */
	assert_int_equal(truststore_plan(NULL, hashed, hashed, &add), 1);
	assert_null(add);
	assert_int_equal(
	    truststore_plan(NULL, link_to_hashed, hashed, &add), 1);
	assert_null(add);
	list = xasprintf("%s:%s", plain, link_to_hashed);
	assert_int_equal(truststore_plan(NULL, list, hashed, &add), 1);
	assert_null(add);
	free(list);
}

/* --- truststore_apply, truststore_child_env --- */

static void
truststore_apply__sets_empty_bundle__child_env_undoes_it(void **state)
{
	const char *add;

	(void)state;
	unsetenv(FILE_ENV);
	assert_int_equal(truststore_apply(NULL, NULL, hashed, &add), 1);
	assert_string_equal(getenv(FILE_ENV), TRUSTSTORE_EMPTY_BUNDLE);
	truststore_child_env();
	assert_null(getenv(FILE_ENV));
	truststore_child_env(); /* twice: still nothing */
	assert_null(getenv(FILE_ENV));

	/* not hashed: the environment is left alone */
	assert_int_equal(truststore_apply(NULL, NULL, plain, &add), 0);
	assert_null(getenv(FILE_ENV));

	/* the user's value stays, in this process and for children */
	setenv(FILE_ENV, "/home/u/bundle.pem", 1);
	assert_int_equal(
	    truststore_apply("/home/u/bundle.pem", NULL, hashed, &add), 0);
	assert_string_equal(getenv(FILE_ENV), "/home/u/bundle.pem");
	truststore_child_env();
	assert_string_equal(getenv(FILE_ENV), "/home/u/bundle.pem");
	unsetenv(FILE_ENV);
}

static void
record_done(int ok, void *data, void *ud)
{
	(void)data;
	*(int *)ud = ok ? 1 : 2;
}

/* What an --exec command sees as SSL_CERT_FILE ("unset" when unset). */
static char *
exec_child_sees(void)
{
	char *out = xasprintf("%s/exec.out", top), *cmd;
	struct exec_fields f;
	struct exec *e;
	struct buf b;
	FILE *fp;
	char line[256] = "";
	int done = 0, i;

	cmd = xasprintf("/bin/sh -c 'printf %%s \"${SSL_CERT_FILE-unset}\" "
			">%s'",
	    out);
	e = exec_new(exec_split(cmd), record_done, NULL, &done);
	memset(&f, 0, sizeof(f));
	f.body = "";
	exec_queue(e, &f, NULL);
	assert_int_equal(exec_start(e), 1);
	for (i = 0; i < 2000 && !exec_reap(e); i++)
		usleep(5000);
	exec_free(e);
	assert_int_equal(done, 1);
	fp = fopen(out, "r");
	assert_non_null(fp);
	assert_non_null(fgets(line, sizeof(line), fp));
	fclose(fp);
	unlink(out);
	free(out);
	free(cmd);
	buf_init(&b);
	buf_adds(&b, line);
	return buf_steal(&b);
}

/* What a --password-cmd command sees as SSL_CERT_FILE. */
static char *
password_cmd_sees(void)
{
	struct xconfig c;
	char *pw = NULL, *err = NULL;

	config_init(&c);
	assert_int_equal(config_set(&c, "jid", "a@example.com", 0, &err), 0);
	assert_int_equal(
	    config_set(&c, "password-cmd",
		"printf '%s\\n' \"${SSL_CERT_FILE-unset}\"", 0, &err),
	    0);
	assert_int_equal(config_password(&c, &pw, &err), XEXIT_OK);
	assert_null(err);
	config_free(&c);
	return pw;
}

static void
children__see__the_users_environment(void **state)
{
	const char *add;
	char *got;

	(void)state;
	unsetenv(FILE_ENV);
	assert_int_equal(truststore_apply(NULL, NULL, hashed, &add), 1);
	got = exec_child_sees();
	assert_string_equal(got, "unset");
	free(got);
	got = password_cmd_sees();
	assert_string_equal(got, "unset");
	util_secure_free(got);
	/* this process keeps the plan */
	assert_string_equal(getenv(FILE_ENV), TRUSTSTORE_EMPTY_BUNDLE);
	truststore_child_env();

	setenv(FILE_ENV, "/home/u/bundle.pem", 1);
	assert_int_equal(
	    truststore_apply("/home/u/bundle.pem", NULL, hashed, &add), 0);
	got = exec_child_sees();
	assert_string_equal(got, "/home/u/bundle.pem");
	free(got);
	got = password_cmd_sees();
	assert_string_equal(got, "/home/u/bundle.pem");
	util_secure_free(got);
	unsetenv(FILE_ENV);
}

/* --- truststore_init --- */

static void
truststore_init__decides_once__from_env_and_openssl(void **state)
{
	const char *add, *want_add, *again;
	int want;

	(void)state;
	unsetenv(FILE_ENV);
	setenv("SSL_CERT_DIR", plain, 1);
	want = truststore_plan(
	    NULL, plain, X509_get_default_cert_dir(), &want_add);
	assert_int_equal(truststore_init(&add), want);
	if (want) {
		/* Debian: /usr/lib/ssl/certs, added to the plain SSL_CERT_DIR
		 */
		assert_string_equal(add, X509_get_default_cert_dir());
		assert_string_equal(getenv(FILE_ENV), TRUSTSTORE_EMPTY_BUNDLE);
	} else {
		assert_null(add);
		assert_null(getenv(FILE_ENV));
	}
	/* later calls do not look again */
	unsetenv("SSL_CERT_DIR");
	assert_int_equal(truststore_init(&again), want);
	assert_ptr_equal(again, add);
	truststore_child_env();
	assert_null(getenv(FILE_ENV));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    truststore_is_hashed__needs__a_hash_named_entry),
		cmocka_unit_test(
		    truststore_plan__is_lazy__without_SSL_CERT_FILE_and_hashed_default),
		cmocka_unit_test(
		    truststore_plan__adds_default_dir__when_SSL_CERT_DIR_has_others),
		cmocka_unit_test(
		    truststore_apply__sets_empty_bundle__child_env_undoes_it),
		cmocka_unit_test(children__see__the_users_environment),
		cmocka_unit_test(
		    truststore_init__decides_once__from_env_and_openssl),
	};

	util_set_progname("test_truststore");
	unsetenv("XMPP_PASSWORD");
	return cmocka_run_group_tests(tests, setup, teardown);
}
