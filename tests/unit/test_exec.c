/* SPDX-License-Identifier: MIT */
/* test_exec.c -- unit tests of common/exec.c (word splitting, job queue) */

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

#include "exec.h"
#include "util.h"

#include "testutil.h"

/* --- exec_split --- */

/* The words of 'argv' joined with '|', for comparisons. */
static char *
joined(char **argv)
{
	struct buf b;
	size_t i;

	buf_init(&b);
	buf_adds(&b, "");
	for (i = 0; argv[i]; i++)
		buf_printf(&b, "%s%s", i ? "|" : "", argv[i]);
	return buf_steal(&b);
}

static void
exec_split__splits__like_a_shell(void **state)
{
	static const struct {
		const char *cmd;
		const char *words; /* joined with '|' */
		size_t n;
	} cases[] = {
		{ "cmd", "cmd", 1 },
		{ "  a   b\tc  ", "a|b|c", 3 },
		{ "a 'two words' b", "a|two words|b", 3 },
		{ "\"x y\" z", "x y|z", 2 },
		{ "a\\ b", "a b", 1 },
		{ "'$HOME' \"$HOME\"", "$HOME|$HOME", 2 },
		{ "'a\\b'", "a\\b", 1 },
		{ "\"a\\\"b\"", "a\"b", 1 },
		{ "\"it's\"", "it's", 1 },
		{ "'say \"hi\"'", "say \"hi\"", 1 },
		{ "ab'cd'\"ef\"g", "abcdefg", 1 },
		{ "'' x", "|x", 2 },
		{ "\"\"", "", 1 },
		{ "a\\", "a\\", 1 },
		{ "a;b&&c|d", "a;b&&c|d", 1 },
		{ "a\nb", "a\nb", 1 },
	};
	size_t k, n;
	char **argv, *got;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		argv = exec_split(cases[k].cmd);
		assert_non_null(argv);
		for (n = 0; argv[n]; n++)
			;
		got = joined(argv);
		if (n != cases[k].n || strcmp(got, cases[k].words) != 0)
			fail_msg("'%s': got %zu words '%s', want %zu '%s'",
			    cases[k].cmd, n, got, cases[k].n, cases[k].words);
		free(got);
		exec_argv_free(argv);
	}
}

static void
exec_split__gives__no_word_for_blank(void **state)
{
	static const char *const blank[] = { "", " ", "\t \t" };
	char **argv;
	size_t k;

	(void)state;
	for (k = 0; k < 3; k++) {
		argv = exec_split(blank[k]);
		assert_non_null(argv);
		assert_null(argv[0]);
		exec_argv_free(argv);
	}
}

static void
exec_split__refuses__unterminated_quote(void **state)
{
	static const char *const bad[] = { "'", "\"", "a 'b", "a \"b c",
		"'a\" b", "\"a\\\"", "ok 'x'\"" };
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		if (exec_split(bad[k]) != NULL)
			fail_msg("'%s' was accepted", bad[k]);
}

static void
exec_split__handles__long_input(void **state)
{
	struct buf b;
	char **argv;
	size_t i;

	(void)state;
	buf_init(&b);
	for (i = 0; i < 5000; i++)
		buf_printf(&b, "w%zu 'q %zu' ", i, i);
	buf_add(&b, "x", 1);
	for (i = 0; i < 100000; i++)
		buf_addc(&b, 'y');
	argv = exec_split(b.data);
	assert_non_null(argv);
	for (i = 0; argv[i]; i++)
		;
	assert_int_equal(i, 10001);
	assert_string_equal(argv[0], "w0");
	assert_string_equal(argv[9999], "q 4999");
	assert_int_equal(strlen(argv[10000]), 100001);
	exec_argv_free(argv);
	buf_free(&b);
}

/* --- running jobs --- */

struct outcome {
	int ok[16];
	int data[16];
	size_t n;
};

static void
record_done(int ok, void *data, void *ud)
{
	struct outcome *o = ud;

	if (o->n < 16) {
		o->ok[o->n] = ok;
		o->data[o->n] = data ? *(int *)data : -1;
	}
	o->n++;
}

static int *
tag(int v)
{
	int *p = xmalloc(sizeof(*p));

	*p = v;
	return p;
}

/* An engine running 'cmd' (split like --exec). */
static struct exec *
engine(const char *cmd, struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	return exec_new(exec_split(cmd), record_done, free, o);
}

/* Runs the job at the head and polls until it ended (or 10 s passed). */
static void
run_one(struct exec *e)
{
	int i;

	assert_int_equal(exec_start(e), 1);
	assert_true(exec_running(e));
	for (i = 0; i < 2000 && !exec_reap(e); i++)
		usleep(5000);
	assert_false(exec_running(e));
}

static void
queue(struct exec *e, const char *body, int v)
{
	struct exec_fields f;

	memset(&f, 0, sizeof(f));
	f.body = body;
	exec_queue(e, &f, tag(v));
}

static void
exec__reports__exit_status(void **state)
{
	struct outcome o;
	struct exec *e;

	(void)state;
	util_set_verbosity(0, 1); /* the failures are expected */
	e = engine("/bin/true", &o);
	queue(e, "", 1);
	run_one(e);
	exec_free(e);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.ok[0], 1);
	assert_int_equal(o.data[0], 1);

	e = engine("/bin/false", &o);
	queue(e, "", 2);
	run_one(e);
	exec_free(e);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.ok[0], 0);

	e = engine("/bin/sh -c 'kill -KILL $$'", &o);
	queue(e, "", 3);
	run_one(e);
	exec_free(e);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.ok[0], 0);

	e = engine("/nonexistent/command", &o);
	queue(e, "", 4);
	run_one(e);
	assert_int_equal(exec_ended(e), 1);
	exec_free(e);
	assert_int_equal(o.ok[0], 0);
	util_set_verbosity(0, 0);
}

static char *
slurp(const char *path)
{
	struct buf b;
	FILE *f = fopen(path, "r");
	char chunk[512];
	size_t n;

	assert_non_null(f);
	buf_init(&b);
	buf_adds(&b, "");
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	return buf_steal(&b);
}

/* Writes an executable file. */
static void
put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0700), 0);
}

static void
exec__runs__jobs_in_order_one_at_a_time(void **state)
{
	char dir[] = "/tmp/test_exec.XXXXXX", *cmd, *path, *got;
	struct outcome o;
	struct exec *e;
	int i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/log", dir);
	cmd = xasprintf("/bin/sh -c 'echo start >>%s; cat >>%s; "
			"echo end >>%s' sh",
	    path, path, path);
	e = engine(cmd, &o);
	assert_int_equal(exec_pending(e), 0);
	assert_int_equal(exec_start(e), 0); /* nothing to run */
	queue(e, "one\n", 1);
	queue(e, "two\n", 2);
	queue(e, "three\n", 3);
	assert_int_equal(exec_pending(e), 3);
	assert_int_equal(exec_start(e), 1);
	assert_int_equal(exec_start(e), 1); /* still the first */
	assert_int_equal(exec_pending(e), 3);
	for (i = 0; i < 2000 && !exec_reap(e); i++)
		usleep(5000);
	assert_int_equal(exec_pending(e), 2);
	assert_int_equal(exec_ended(e), 1);
	assert_int_equal(exec_drain(e, 0), 0);
	assert_int_equal(exec_pending(e), 0);
	assert_int_equal(exec_ended(e), 3);
	exec_free(e);

	assert_int_equal(o.n, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(o.ok[i], 1);
		assert_int_equal(o.data[i], i + 1);
	}
	got = slurp(path);
	assert_string_equal(
	    got, "start\none\nend\nstart\ntwo\nend\nstart\nthree\nend\n");
	free(got);
	unlink(path);
	rmdir(dir);
	free(path);
	free(cmd);
}

static void
exec__abandon__starts_no_more(void **state)
{
	struct outcome o;
	struct exec *e;

	(void)state;
	util_set_verbosity(0, 1);
	e = engine("/bin/true", &o);
	queue(e, "", 1);
	queue(e, "", 2);
	assert_int_equal(exec_abandon(e), 2);
	assert_int_equal(exec_start(e), 0);
	assert_int_equal(exec_drain(e, 0), 2);
	assert_int_equal(exec_pending(e), 2);
	exec_free(e); /* frees the data of both jobs */
	assert_int_equal(o.n, 0);
	util_set_verbosity(0, 0);
}

static void
exec__gives__fields_in_env_and_body_on_stdin(void **state)
{
	char dir[] = "/tmp/test_exec.XXXXXX", *cmd, *path, *got, *want, *script;
	static const char body[] = "line 1\n$(touch x) `y` \"q\" \\ \t\x01 end";
	struct exec_fields f;
	struct outcome o;
	struct exec *e;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/out", dir);
	script = xasprintf("%s/env.sh", dir);
	put(script,
	    "#!/bin/sh\n"
	    "for v in FROM TO TYPE ID SUBJECT THREAD TIME PASSWORD; do\n"
	    "\teval \"printf '%s=%s|' XMPP_$v \\\"\\${XMPP_$v-unset}"
	    "\\\"\"\n"
	    "done >\"$1\"\n"
	    "cat >>\"$1\"\n");
	cmd = xasprintf("%s %s", script, path);
	e = engine(cmd, &o);
	memset(&f, 0, sizeof(f));
	f.from = "alice@example.org/phone";
	f.to = "bob@example.org";
	f.type = "chat";
	f.id = "m-1";
	f.subject = "S $(x)";
	f.time = "2026-01-02T03:04:05Z";
	f.body = body;
	exec_queue(e, &f, NULL);
	run_one(e);
	exec_free(e);
	assert_int_equal(o.n, 1);
	assert_int_equal(o.ok[0], 1);
	got = slurp(path);
	want =
	    xasprintf("XMPP_FROM=alice@example.org/phone|XMPP_TO=bob@"
		      "example.org|XMPP_TYPE=chat|XMPP_ID=m-1|XMPP_SUBJECT=S "
		      "$(x)|XMPP_THREAD=|XMPP_TIME=2026-01-02T03:04:05Z|"
		      "XMPP_PASSWORD=unset|%s",
		body);
	assert_string_equal(got, want);
	free(want);
	free(got);
	unlink(script);
	free(script);
	unlink(path);
	rmdir(dir);
	free(path);
	free(cmd);
}

static void
exec__gives__standard_descriptors_only(void **state)
{
	char dir[] = "/tmp/test_exec.XXXXXX", *cmd, *path, *script, *got;
	struct outcome o;
	struct exec *e;
	int leak;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/fds", dir);
	script = xasprintf("%s/fds.sh", dir);
	put(script,
	    "#!/bin/sh\n"
	    "ls -l /proc/self/fd | sed -n 's|.* \\([0-9][0-9]*\\) -> "
	    "\\(.*\\)$|\\1 \\2|p' |\n"
	    "  grep -v ' /proc/[0-9]*/fd$' | cut -d' ' -f1 | sort -n |\n"
	    "  tr '\\n' ' ' >\"$1\"\n");
	cmd = xasprintf("%s %s", script, path);
	leak = dup(STDERR_FILENO); /* not close-on-exec */
	assert_true(leak > STDERR_FILENO);
	e = engine(cmd, &o);
	queue(e, "body", 1);
	run_one(e);
	exec_free(e);
	close(leak);
	assert_int_equal(o.ok[0], 1);
	got = slurp(path);
	assert_string_equal(got, "0 1 2 ");
	free(got);
	unlink(script);
	unlink(path);
	rmdir(dir);
	free(script);
	free(path);
	free(cmd);
}

static void
exec_full__holds__count_and_bytes_limits(void **state)
{
	struct exec_fields f;
	struct outcome o;
	struct exec *e;
	char big[600];
	size_t one;

	(void)state;
	e = engine("/bin/true", &o);
	memset(&f, 0, sizeof(f));
	f.body = "x";
	one = exec_job_size(&f);
	exec_set_limits(e, 3, 4 * one + 10);
	assert_false(exec_full(e, one));
	exec_queue(e, &f, NULL);
	exec_queue(e, &f, NULL);
	assert_int_equal(exec_bytes(e), 2 * one);
	assert_false(exec_full(e, one));
	exec_queue(e, &f, NULL);
	assert_true(exec_full(e, one)); /* three jobs */
	assert_int_equal(exec_drain(e, 0), 0);
	assert_int_equal(exec_bytes(e), 0);

	/* bytes: a body that does not fit behind one job */
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	exec_set_limits(e, 100, one + 500);
	exec_queue(e, &f, NULL);
	f.body = big;
	assert_true(exec_full(e, exec_job_size(&f)));
	f.body = "x";
	assert_false(exec_full(e, exec_job_size(&f)));
	assert_int_equal(exec_drain(e, 0), 0);
	/* an empty queue takes any job, whatever its size */
	f.body = big;
	exec_set_limits(e, 1, 10);
	assert_false(exec_full(e, exec_job_size(&f)));
	exec_queue(e, &f, NULL);
	assert_true(exec_full(e, 1));
	assert_int_equal(exec_drain(e, 0), 0);
	exec_free(e);
	assert_int_equal(o.n, 5);
}

static void
exec_drain__kills__command_at_deadline(void **state)
{
	struct outcome o;
	struct exec *e;
	int64_t t0;

	(void)state;
	util_set_verbosity(0, 1);
	e = engine("/bin/sleep 20", &o);
	queue(e, "", 1);
	queue(e, "", 2);
	t0 = util_now_ms();
	assert_int_equal(exec_drain(e, t0 + 300), 1); /* the second is left */
	assert_true(util_now_ms() - t0 < 3000);
	assert_true(util_now_ms() - t0 >= 300);
	assert_false(exec_running(e));
	assert_int_equal(o.n, 1);
	assert_int_equal(o.ok[0], 0);
	assert_int_equal(o.data[0], 1);
	assert_int_equal(exec_start(e), 0); /* abandoned */
	exec_free(e);
	util_set_verbosity(0, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exec_split__splits__like_a_shell),
		cmocka_unit_test(exec_split__gives__no_word_for_blank),
		cmocka_unit_test(exec_split__refuses__unterminated_quote),
		cmocka_unit_test(exec_split__handles__long_input),
		cmocka_unit_test(exec__reports__exit_status),
		cmocka_unit_test(exec__runs__jobs_in_order_one_at_a_time),
		cmocka_unit_test(exec__abandon__starts_no_more),
		cmocka_unit_test(exec__gives__fields_in_env_and_body_on_stdin),
		cmocka_unit_test(exec__gives__standard_descriptors_only),
		cmocka_unit_test(exec_full__holds__count_and_bytes_limits),
		cmocka_unit_test(exec_drain__kills__command_at_deadline),
	};

	util_set_progname("test_exec");
	unsetenv("XMPP_PASSWORD");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
