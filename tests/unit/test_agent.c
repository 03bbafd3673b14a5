/* SPDX-License-Identifier: MIT */
/* test_agent.c -- unit tests of common/agent.c: the protocol, the settings
 * key and the socket directory checks */

#include <sys/stat.h>
#include <sys/types.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "config.h"
#include "util.h"

static char *rcpts[] = { "bob@example.org", "carol@example.org/phone" };

static struct agent_request
sample_request(void)
{
	struct agent_request rq;

	memset(&rq, 0, sizeof(rq));
	rq.settings = "jid=alice@example.org\nport=0\n";
	rq.idle_ms = 60000;
	rq.type = "headline";
	rq.body = "line one\nline two <&>";
	rq.subject = "Sub";
	rq.url = "https://example.org/x";
	rq.no_store = 1;
	rq.rcpt = rcpts;
	rq.nrcpt = 2;
	return rq;
}

static void
request__round_trips__every_field(void **state)
{
	struct agent_request in = sample_request(), out;
	struct buf b;
	char *err = NULL;

	(void)state;
	buf_init(&b);
	agent_encode_request(&b, &in);
	assert_int_equal(agent_frame_size(b.data, b.len), (long)b.len);
	assert_int_equal(agent_decode_kind(b.data, b.len), 'Q');
	assert_int_equal(agent_decode_request(b.data, b.len, &out, &err), 0);
	assert_string_equal(out.settings, in.settings);
	assert_int_equal(out.idle_ms, 60000);
	assert_string_equal(out.type, "headline");
	assert_string_equal(out.body, in.body);
	assert_string_equal(out.subject, "Sub");
	assert_null(out.thread);
	assert_string_equal(out.url, in.url);
	assert_null(out.id);
	assert_int_equal(out.no_store, 1);
	assert_int_equal(out.nrcpt, 2);
	assert_string_equal(out.rcpt[0], rcpts[0]);
	assert_string_equal(out.rcpt[1], rcpts[1]);
	agent_request_free(&out);
	buf_free(&b);
}

static void
request__empty_body__is_kept_empty(void **state)
{
	struct agent_request in = sample_request(), out;
	struct buf b;
	char *err = NULL;

	(void)state;
	in.body = "";
	buf_init(&b);
	agent_encode_request(&b, &in);
	assert_int_equal(agent_decode_request(b.data, b.len, &out, &err), 0);
	assert_string_equal(out.body, "");
	agent_request_free(&out);
	buf_free(&b);
}

static void
request__without_recipient__is_refused(void **state)
{
	struct agent_request in = sample_request(), out;
	struct buf b;
	char *err = NULL;

	(void)state;
	in.nrcpt = 0;
	buf_init(&b);
	agent_encode_request(&b, &in);
	assert_int_equal(agent_decode_request(b.data, b.len, &out, &err), -1);
	assert_non_null(err);
	free(err);
	agent_request_free(&out);
	buf_free(&b);
}

static void
result__round_trips__code_and_lines(void **state)
{
	char *lines[] = { "nobody@localhost: service-unavailable",
		"x: forbidden: go away" };
	struct agent_result in = { 8, lines, 2 }, out;
	struct buf b;
	char *err = NULL;

	(void)state;
	buf_init(&b);
	agent_encode_result(&b, &in);
	assert_int_equal(agent_decode_kind(b.data, b.len), 'R');
	assert_int_equal(agent_decode_result(b.data, b.len, &out, &err), 0);
	assert_int_equal(out.code, 8);
	assert_int_equal(out.nline, 2);
	assert_string_equal(out.line[0], lines[0]);
	assert_string_equal(out.line[1], lines[1]);
	agent_result_free(&out);
	buf_free(&b);
}

static void
kind__frames_without_fields__decode(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	agent_encode_kind(&b, 'A');
	assert_int_equal(b.len, 6);
	assert_int_equal(agent_decode_kind(b.data, b.len), 'A');
	buf_reset(&b);
	agent_encode_kind(&b, 'N');
	assert_int_equal(agent_decode_kind(b.data, b.len), 'N');
	buf_free(&b);
}

static void
frame_size__waits_for__the_header_and_refuses_huge(void **state)
{
	const char huge[4] = { 0x7f, 0, 0, 0 };

	(void)state;
	assert_int_equal(agent_frame_size("\0\0", 2), 0);
	assert_int_equal(agent_frame_size("\0\0\0\2QA", 6), 6);
	assert_int_equal(agent_frame_size(huge, 4), -1);
}

static void
decode_kind__refuses__other_versions_and_lengths(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	agent_encode_kind(&b, 'A');
	b.data[4] = AGENT_VERSION + 1;
	assert_int_equal(agent_decode_kind(b.data, b.len), 0);
	b.data[4] = AGENT_VERSION;
	assert_int_equal(agent_decode_kind(b.data, b.len - 1), 0);
	b.data[5] = 'Z';
	assert_int_equal(agent_decode_kind(b.data, b.len), 0);
	buf_free(&b);
}

static void
decode__refuses__truncated_and_nul_fields(void **state)
{
	struct agent_request in = sample_request(), out;
	struct agent_result r;
	struct buf b;
	char *err = NULL;
	size_t at;

	(void)state;
	buf_init(&b);
	agent_encode_request(&b, &in);
	/* The length says one byte less: the last field is cut. */
	b.data[3]--;
	assert_int_equal(
	    agent_decode_request(b.data, b.len - 1, &out, &err), -1);
	assert_string_equal(err, "truncated field");
	free(err);
	err = NULL;
	agent_request_free(&out);
	b.data[3]++;
	/* A NUL inside the body. */
	at = (size_t)((char *)memmem(b.data, b.len, "line two", 8) - b.data);
	b.data[at] = '\0';
	assert_int_equal(agent_decode_request(b.data, b.len, &out, &err), -1);
	assert_non_null(strstr(err, "NUL"));
	free(err);
	err = NULL;
	agent_request_free(&out);
	/* A request is no result. */
	assert_int_equal(agent_decode_result(b.data, b.len, &r, &err), -1);
	free(err);
	agent_result_free(&r);
	buf_free(&b);
}

static void
settings__key__follows_every_setting(void **state)
{
	struct xconfig a, b;
	char *sa, *sb, ka[17], kb[17];

	(void)state;
	config_init(&a);
	config_init(&b);
	a.jid = xstrdup("alice@example.org");
	b.jid = xstrdup("alice@example.org");
	sa = agent_settings(&a);
	sb = agent_settings(&b);
	assert_string_equal(sa, sb);
	agent_key(sa, ka);
	agent_key(sb, kb);
	assert_string_equal(ka, kb);
	assert_int_equal(strlen(ka), 16);
	free(sb);
	b.port = 5223;
	sb = agent_settings(&b);
	assert_string_not_equal(sa, sb);
	agent_key(sb, kb);
	assert_string_not_equal(ka, kb);
	free(sb);
	b.port = 0;
	free(b.jid);
	b.jid = xstrdup("alice@example.org/x");
	sb = agent_settings(&b);
	assert_string_not_equal(sa, sb);
	free(sa);
	free(sb);
	config_free(&a);
	config_free(&b);
}

static void
settings__file_names__are_made_absolute(void **state)
{
	struct xconfig c;
	char *s, *want, cwd[4096];

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	config_init(&c);
	c.cafile = xstrdup(".");
	s = agent_settings(&c);
	want = xasprintf("\ncafile=%s\n", cwd);
	assert_non_null(strstr(s, want));
	free(want);
	free(s);
	config_free(&c);
}

static void
config_key__agent__takes_seconds_or_yes_no(void **state)
{
	static const struct {
		const char *value;
		long ms; /* -1: refused */
	} cases[] = { { NULL, XT_DEFAULT_AGENT_MS }, { "yes", 60000 },
		{ "on", 60000 }, { "no", 0 }, { "0", 0 }, { "30", 30000 },
		{ "0.25", 250 }, { "1", 1000 }, { "maybe", -1 }, { "-5", -1 },
		{ "", -1 } };
	struct xconfig c;
	char *err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		config_init(&c);
		err = NULL;
		if (cases[i].ms < 0) {
			assert_int_equal(
			    config_set(&c, "agent", cases[i].value, 1, &err),
			    -1);
			assert_non_null(err);
		} else {
			assert_int_equal(
			    config_set(&c, "agent", cases[i].value, 0, &err),
			    0);
			assert_int_equal(c.agent_ms, cases[i].ms);
		}
		free(err);
		config_free(&c);
	}
}

/* A fresh private directory for the directory checks. */
static char *
temp_dir(void)
{
	char *d = xstrdup("/tmp/test_agent.XXXXXX");

	assert_non_null(mkdtemp(d));
	return d;
}

static void
check_dir__accepts__only_a_private_directory_of_its_owner(void **state)
{
	char *d = temp_dir(), *err = NULL, *sub, *link, *file;

	(void)state;
	assert_int_equal(agent_check_dir(d, getuid(), &err), 0);
	assert_int_equal(agent_check_dir(d, getuid() + 1, &err), -1);
	assert_non_null(strstr(err, "owned by uid"));
	free(err);
	err = NULL;
	chmod(d, 0777);
	assert_int_equal(agent_check_dir(d, getuid(), &err), -1);
	assert_non_null(strstr(err, "mode 0777"));
	free(err);
	err = NULL;
	chmod(d, 0750);
	assert_int_equal(agent_check_dir(d, getuid(), &err), -1);
	free(err);
	err = NULL;
	chmod(d, 0700);
	sub = xasprintf("%s/sub", d);
	link = xasprintf("%s/link", d);
	file = xasprintf("%s/file", d);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(symlink(sub, link), 0);
	assert_int_equal(agent_check_dir(link, getuid(), &err), -1);
	assert_non_null(strstr(err, "not a directory"));
	free(err);
	err = NULL;
	fclose(fopen(file, "w"));
	assert_int_equal(agent_check_dir(file, getuid(), &err), -1);
	free(err);
	err = NULL;
	unlink(file);
	unlink(link);
	rmdir(sub);
	rmdir(d);
	free(sub);
	free(link);
	free(file);
	free(d);
}

static void
dir__is_created_0700_under_xdg_runtime_dir(void **state)
{
	char *d = temp_dir(), *got, *err = NULL, *want;
	struct stat st;

	(void)state;
	setenv("XDG_RUNTIME_DIR", d, 1);
	got = agent_dir(&err);
	want = xasprintf("%s/xmpptools", d);
	assert_non_null(got);
	assert_string_equal(got, want);
	assert_int_equal(lstat(got, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* Made unsafe behind its back: refused. */
	chmod(got, 0755);
	free(got);
	assert_null(agent_dir(&err));
	assert_non_null(strstr(err, "mode 0755"));
	free(err);
	rmdir(want);
	rmdir(d);
	free(want);
	free(d);
	unsetenv("XDG_RUNTIME_DIR");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(request__round_trips__every_field),
		cmocka_unit_test(request__empty_body__is_kept_empty),
		cmocka_unit_test(request__without_recipient__is_refused),
		cmocka_unit_test(result__round_trips__code_and_lines),
		cmocka_unit_test(kind__frames_without_fields__decode),
		cmocka_unit_test(
		    frame_size__waits_for__the_header_and_refuses_huge),
		cmocka_unit_test(
		    decode_kind__refuses__other_versions_and_lengths),
		cmocka_unit_test(decode__refuses__truncated_and_nul_fields),
		cmocka_unit_test(settings__key__follows_every_setting),
		cmocka_unit_test(settings__file_names__are_made_absolute),
		cmocka_unit_test(config_key__agent__takes_seconds_or_yes_no),
		cmocka_unit_test(
		    check_dir__accepts__only_a_private_directory_of_its_owner),
		cmocka_unit_test(dir__is_created_0700_under_xdg_runtime_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
