/* SPDX-License-Identifier: MIT */
/* test_output.c -- unit tests of common/output.c (every record format) */

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <strophe.h>

#include "output.h"
#include "text.h"
#include "util.h"

#include "testutil.h"

#define S(lit) lit, sizeof(lit) - 1

static const char *
show(const char *s, size_t len)
{
	static char out[4][2048];
	static int which;
	char *o = out[which++ & 3];
	size_t i, n = 0;

	for (i = 0; i < len && n < 2000; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			o[n++] = (char)c;
		else
			n += (size_t)snprintf(o + n, 2048 - n, "\\x%02x", c);
	}
	o[n] = '\0';
	return o;
}

static void
assert_bytes(const char *got, size_t got_len, const char *want, size_t want_len)
{
	if (got_len != want_len || memcmp(got, want, want_len) != 0)
		fail_msg("got  \"%s\" (%zu bytes)\nwant \"%s\" (%zu bytes)",
		    show(got, got_len), got_len, show(want, want_len),
		    want_len);
}

/* Formats 'r' with a fresh struct output set up as given. */
static void
format(enum output_format fmt, const char *template, int nul, int tty,
    const struct orecord *r, struct buf *b)
{
	struct output o;

	output_init(&o, fmt, template, nul);
	o.tty = tty;
	buf_init(b);
	output_format_record(&o, r, b);
	output_free(&o);
}

static void
expect(enum output_format fmt, const char *template, int nul, int tty,
    const struct orecord *r, const char *want, size_t want_len)
{
	struct buf b;

	format(fmt, template, nul, tty, r, &b);
	assert_non_null(b.data);
	assert_bytes(b.data, b.len, want, want_len);
	buf_free(&b);
}

/* A message as xlisten would describe it. */
static void
message_record(struct orecord *r, const char *body)
{
	orecord_init(r, "message", NULL);
	orecord_add(r, 'T', "stamp", "2026-01-02T03:04:05Z", OF_TEXT);
	orecord_add(r, 'y', "type", "chat", 0);
	orecord_add(r, 'f', "from", "alice@example.com/phone", OF_TEXT);
	orecord_add(r, 't', "to", "bob@example.com", 0);
	orecord_add(r, 'i', "id", "m-1", 0);
	orecord_add(r, 's', "subject", NULL, 0);
	orecord_add(r, 'b', "body", body, OF_TEXT);
	orecord_add(r, 'r', "resource", "phone", 0);
}

/* --- text --- */

static void
output_text__writes__text_fields_tab_separated(void **state)
{
	struct orecord r;

	(void)state;
	message_record(&r, "hello world");
	expect(OUT_TEXT, NULL, 0, 0, &r,
	    S("2026-01-02T03:04:05Z\talice@example.com/phone\thello world\n"));
}

static void
output_text__escapes__body_controls(void **state)
{
	struct orecord r;

	(void)state;
	message_record(&r, "a\nb\tc\rd\\e\x1b[31m\xe2\x80\xae\x7f\xff");
	expect(OUT_TEXT, NULL, 0, 0, &r,
	    S("2026-01-02T03:04:05Z\talice@example.com/phone\t"
	      "a\\nb\\tc\\rd\\\\e\\x1b[31m\\u202e\\x7f\\xff\n"));
	/* Without -0 the terminal setting changes nothing. */
	expect(OUT_TEXT, NULL, 0, 1, &r,
	    S("2026-01-02T03:04:05Z\talice@example.com/phone\t"
	      "a\\nb\\tc\\rd\\\\e\\x1b[31m\\u202e\\x7f\\xff\n"));
}

static void
output_text__keeps__forged_record_on_one_line(void **state)
{
	struct orecord r;
	struct buf b;

	(void)state;
	message_record(&r, "x\n2026-01-01T00:00:00Z\tchat\tevil@x\tfake");
	format(OUT_TEXT, NULL, 0, 0, &r, &b);
	assert_bytes(b.data, b.len,
	    S("2026-01-02T03:04:05Z\talice@example.com/phone\t"
	      "x\\n2026-01-01T00:00:00Z\\tchat\\tevil@x\\tfake\n"));
	assert_int_equal(tu_count(b.data, b.len, '\n'), 1);
	assert_int_equal(tu_count(b.data, b.len, '\t'), 2);
	buf_free(&b);
}

static void
output_text__leaves__absent_field_empty(void **state)
{
	struct orecord r;

	(void)state;
	orecord_init(&r, "roster", NULL);
	orecord_add(&r, 'j', "jid", "a@b", OF_TEXT);
	orecord_add(&r, 'S', "subscription", NULL, OF_TEXT);
	orecord_add(&r, 'n', "name", "", OF_TEXT);
	orecord_add(&r, 'g', "groups", "x,y", OF_TEXT | OF_LIST);
	expect(OUT_TEXT, NULL, 0, 0, &r, S("a@b\t\t\tx,y\n"));
}

static void
output_text__writes__empty_line_without_text_fields(void **state)
{
	struct orecord r;

	(void)state;
	orecord_init(&r, "iq", NULL);
	orecord_add(&r, 'i', "id", "x", 0);
	expect(OUT_TEXT, NULL, 0, 0, &r, S("\n"));
}

static void
output_text__property__one_record_one_line(void **state)
{
	struct prng r;
	struct orecord rec;
	struct buf b;
	char vals[4][120];
	size_t k, f, len, bad, ntext;

	(void)state;
	prng_seed(&r, 0x0e1);
	for (k = 0; k < 3000; k++) {
		orecord_init(&rec, "message", NULL);
		ntext = 0;
		for (f = 0; f < 4; f++) {
			len = prng_below(&r, sizeof(vals[f]) - 1);
			prng_bytes(&r, vals[f], len);
			/* Values are C strings: cut at the first NUL. */
			vals[f][len] = '\0';
			orecord_add(&rec, "fbst"[f], "field", vals[f],
			    f == 3 ? 0 : OF_TEXT);
			ntext += f != 3;
		}
		format(OUT_TEXT, NULL, 0, k & 1, &rec, &b);
		assert_true(b.len > 0);
		if (tu_count(b.data, b.len, '\n') != 1 ||
		    b.data[b.len - 1] != '\n')
			fail_msg("not one line: \"%s\"", show(b.data, b.len));
		assert_int_equal(tu_count(b.data, b.len, '\t'), ntext - 1);
		bad = tu_first_unsafe(b.data, b.len - 1, "\t");
		if (bad != (size_t)-1)
			fail_msg("unsafe byte at %zu in \"%s\"", bad,
			    show(b.data, b.len));
		buf_free(&b);
	}
}

/* --- -0 --- */

static void
output_nul__writes__raw_fields_and_nul(void **state)
{
	struct orecord r;

	(void)state;
	message_record(&r, "a\nb\tc\\d\x1b[31m\xe2\x80\xae\xff");
	/* Not a terminal: raw bytes, NUL terminator. */
	expect(OUT_TEXT, NULL, 1, 0, &r,
	    S("2026-01-02T03:04:05Z\talice@example.com/phone\t"
	      "a\nb\tc\\d\x1b[31m\xe2\x80\xae\xff\0"));
	/* A terminal: newlines and tabs stay, what commands it is escaped. */
	expect(OUT_TEXT, NULL, 1, 1, &r,
	    S("2026-01-02T03:04:05Z\talice@example.com/phone\t"
	      "a\nb\tc\\d\\x1b[31m\\u202e\\xff\0"));
}

static void
output_nul__ends__json_with_nul(void **state)
{
	struct orecord r;

	(void)state;
	orecord_init(&r, "message", NULL);
	orecord_add(&r, 'b', "body", "x\ny", OF_TEXT);
	expect(OUT_JSON, NULL, 1, 0, &r,
	    S("{\"kind\":\"message\",\"body\":\"x\\ny\"}\0"));
}

/* --- JSON --- */

static void
output_json__writes__fields_in_order(void **state)
{
	struct orecord r;

	(void)state;
	message_record(&r, "hi \"you\"\n\x01\xc2\x9b\xe2\x80\xae\xff");
	expect(OUT_JSON, NULL, 0, 0, &r,
	    S("{\"kind\":\"message\",\"stamp\":\"2026-01-02T03:04:05Z\","
	      "\"type\":\"chat\",\"from\":\"alice@example.com/phone\","
	      "\"to\":\"bob@example.com\",\"id\":\"m-1\",\"subject\":null,"
	      "\"body\":\"hi \\\"you\\\"\\n\\u0001\\u009b\\u202e\\ufffd\","
	      "\"resource\":\"phone\"}\n"));
}

static void
output_json__types__numbers_bools_lists(void **state)
{
	struct orecord r;

	(void)state;
	orecord_init(&r, "roster", NULL);
	orecord_add(&r, 'p', "priority", "-5", OF_NUMBER);
	orecord_add(&r, 'n', "count", "42", OF_NUMBER);
	orecord_add(&r, 'x', "zero", "0", OF_NUMBER);
	orecord_add(&r, 'q', "notnum", "4x", OF_NUMBER);
	orecord_add(&r, 'e', "empty", "", OF_NUMBER);
	orecord_add(&r, 'm', "minus", "-", OF_NUMBER);
	orecord_add(&r, 'o', "octal", "007", OF_NUMBER);
	orecord_add(&r, 'z', "negzero", "-0", OF_NUMBER);
	orecord_add(&r, 'a', "nonum", NULL, OF_NUMBER);
	orecord_add(&r, 'y', "yes", "1", OF_BOOL);
	orecord_add(&r, 'N', "no", "0", OF_BOOL);
	orecord_add(&r, 'E', "blank", "", OF_BOOL);
	orecord_add(&r, 'A', "nobool", NULL, OF_BOOL);
	orecord_add(
	    &r, 'g', "groups", "Friends,Work \"x\",\xe2\x80\xae", OF_LIST);
	orecord_add(&r, 'G', "one", "solo", OF_LIST);
	orecord_add(&r, 'h', "none", NULL, OF_LIST);
	orecord_add(&r, 'H', "blanks", ",a", OF_LIST);
	expect(OUT_JSON, NULL, 0, 0, &r,
	    S("{\"kind\":\"roster\",\"priority\":-5,\"count\":42,\"zero\":0,"
	      "\"notnum\":\"4x\",\"empty\":\"\",\"minus\":\"-\","
	      "\"octal\":\"007\",\"negzero\":-0,\"nonum\":null,"
	      "\"yes\":true,\"no\":false,\"blank\":false,\"nobool\":null,"
	      "\"groups\":[\"Friends\",\"Work \\\"x\\\"\",\"\\u202e\"],"
	      "\"one\":[\"solo\"],\"none\":[],\"blanks\":[\"\",\"a\"]}\n"));
}

static void
output_json__escapes__names_and_kind(void **state)
{
	struct orecord r;

	(void)state;
	orecord_init(&r, "k\"ind", NULL);
	orecord_add(&r, 'x', "na\nme", "v", 0);
	expect(OUT_JSON, NULL, 0, 0, &r,
	    S("{\"kind\":\"k\\\"ind\",\"na\\nme\":\"v\"}\n"));
}

static void
output_json__property__valid_json_on_one_line(void **state)
{
	static const int flags[] = { 0, OF_TEXT, OF_NUMBER, OF_BOOL, OF_LIST };
	struct prng r;
	struct orecord rec;
	struct buf b;
	char vals[5][80];
	size_t k, f, len, bad;

	(void)state;
	prng_seed(&r, 0x150);
	for (k = 0; k < 3000; k++) {
		orecord_init(&rec, "message", NULL);
		for (f = 0; f < 5; f++) {
			len = prng_below(&r, sizeof(vals[f]) - 1);
			if (flags[f] == OF_NUMBER && (k & 3) == 0) {
				/* sometimes digits, to reach the number path */
				size_t i;

				for (i = 0; i < len; i++)
					vals[f][i] =
					    (char)('0' + prng_below(&r, 10));
				if (len && (k & 4))
					vals[f][0] = '-';
			} else
				prng_bytes(&r, vals[f], len);
			vals[f][len] = '\0';
			orecord_add(&rec, "abcde"[f], "field",
			    prng_below(&r, 8) ? vals[f] : NULL, flags[f]);
		}
		format(OUT_JSON, NULL, 0, 0, &rec, &b);
		if (b.len == 0 || b.data[b.len - 1] != '\n' ||
		    tu_count(b.data, b.len, '\n') != 1)
			fail_msg("not one line: \"%s\"", show(b.data, b.len));
		if (!tu_json_valid(b.data, b.len - 1))
			fail_msg("invalid JSON: \"%s\"", show(b.data, b.len));
		bad = tu_first_unsafe(b.data, b.len - 1, NULL);
		if (bad != (size_t)-1)
			fail_msg("unsafe byte at %zu in \"%s\"", bad,
			    show(b.data, b.len));
		buf_free(&b);
	}
}

/* --- XML --- */

static void
output_xml__writes__stanza_on_one_line(void **state)
{
	xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, NULL);
	xmpp_stanza_t *st;
	struct orecord r;

	(void)state;
	assert_non_null(ctx);
	st = xmpp_message_new(ctx, "chat", "bob@example.com", "m1");
	xmpp_message_set_body(st,
	    "line1\nline2\r\tx\xe2\x80\xae"
	    "evil<&>\x7f\xc2\x85");
	xmpp_stanza_set_attribute(st, "from", "a\nb@example.com");
	orecord_init(&r, "message", st);
	orecord_add(&r, 'b', "body", "ignored", OF_TEXT);
	expect(OUT_XML, NULL, 0, 0, &r,
	    S("<message id=\"m1\" to=\"bob@example.com\" type=\"chat\" "
	      "from=\"a&#xA;b@example.com\"><body>line1&#xA;line2&#xD;\tx"
	      "&#x202E;evil&lt;&amp;&gt;&#x7F;&#x85;</body></message>\n"));
	xmpp_stanza_release(st);
	xmpp_ctx_free(ctx);
}

static void
output_xml__writes__empty_line_without_stanza(void **state)
{
	struct orecord r;

	(void)state;
	orecord_init(&r, "message", NULL);
	expect(OUT_XML, NULL, 0, 0, &r, S("\n"));
}

static void
output_xml_line__reparses__to_same_stanza(void **state)
{
	/* What -X prints must read back (xsend --raw) as the same stanza. */
	xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, NULL);
	xmpp_stanza_t *st, *back;
	struct buf b;
	char *text;

	(void)state;
	st = xmpp_message_new(ctx, "chat", "bob@example.com", "m1");
	xmpp_message_set_body(st, "one\ntwo \xe2\x80\xae three");
	buf_init(&b);
	output_xml_line(st, &b);
	assert_null(memchr(b.data, '\n', b.len));
	back = xmpp_stanza_new_from_string(ctx, b.data);
	assert_non_null(back);
	text = xmpp_message_get_body(back);
	assert_non_null(text);
	assert_string_equal(text, "one\ntwo \xe2\x80\xae three");
	xmpp_free(ctx, text);
	xmpp_stanza_release(back);
	xmpp_stanza_release(st);
	buf_free(&b);
	xmpp_ctx_free(ctx);
}

static void
output_xml_line__keeps__tab_in_attribute(void **state)
{
	/*
	 * XML reads a raw tab in an attribute value as a space: -X writes it
	 * as a reference (a tab in text is kept, XML keeps it there).
	 */
	xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, NULL);
	xmpp_stanza_t *st, *back;
	struct buf b;
	const char *v;
	char *text;

	(void)state;
	st = xmpp_message_new(ctx, "chat", "bob@example.com", "a\tb\r\nc");
	xmpp_message_set_body(st, "x\ty");
	buf_init(&b);
	output_xml_line(st, &b);
	assert_non_null(strstr(b.data, "id=\"a&#x9;b&#xD;&#xA;c\""));
	assert_non_null(strstr(b.data, "<body>x\ty</body>"));
	back = xmpp_stanza_new_from_string(ctx, b.data);
	assert_non_null(back);
	v = xmpp_stanza_get_id(back);
	assert_non_null(v);
	assert_string_equal(v, "a\tb\r\nc");
	text = xmpp_message_get_body(back);
	assert_string_equal(text, "x\ty");
	xmpp_free(ctx, text);
	xmpp_stanza_release(back);
	xmpp_stanza_release(st);
	buf_free(&b);
	xmpp_ctx_free(ctx);
}

/* --- templates --- */

static void
output_template__expands__every_directive(void **state)
{
	struct orecord r;

	(void)state;
	message_record(&r, "b\nody");
	expect(OUT_TEMPLATE, "%f %t %y %b %s %i %T %r %%", 0, 0, &r,
	    S("alice@example.com/phone bob@example.com chat b\\nody  m-1 "
	      "2026-01-02T03:04:05Z phone %\n"));
}

static void
output_template__expands__backslash_escapes(void **state)
{
	struct orecord r;

	(void)state;
	message_record(&r, "x");
	expect(OUT_TEMPLATE, "[%b]\\t[%i]\\n\\\\\\0end", 0, 0, &r,
	    S("[x]\t[m-1]\n\\\0end\n"));
	/* %% followed by a letter is a percent sign and the letter. */
	expect(OUT_TEMPLATE, "100%%b", 0, 0, &r, S("100%b\n"));
}

static void
output_template__uses__nul_mode(void **state)
{
	struct orecord r;

	(void)state;
	message_record(&r, "a\nb");
	expect(OUT_TEMPLATE, "%f:%b", 1, 0, &r,
	    S("alice@example.com/phone:a\nb\0"));
	expect(OUT_TEMPLATE, "%f:%b", 0, 0, &r,
	    S("alice@example.com/phone:a\\nb\n"));
}

static void
output_check_template__accepts__known_directives(void **state)
{
	static const char *const good[] = { "", "plain",
		"%f %t %y %b %s %i %T %r %%", "%%", "%%%%", "\\n\\t\\0\\\\",
		"%b\\n", "100%% sure", "%T\\t%f\\t%b" };
	char *err;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
		err = NULL;
		if (output_check_template(good[k], "ftybsiTr", &err) != 0)
			fail_msg("rejected \"%s\": %s", good[k], err);
		assert_null(err);
	}
}

static void
output_check_template__rejects__unknown_directive(void **state)
{
	static const struct {
		const char *t;
		const char *word;
	} bad[] = {
		{ "%q", "%q" }, { "ok %Z", "%Z" }, { "%", "unknown directive" },
		{ "abc%", "unknown directive" }, { "%%%", "unknown directive" },
		{ "\\x", "\\x" }, { "\\", "unknown escape" }, { "\\r", "\\r" },
		{ "%j", "%j" }, /* a letter this tool does not know */
	};
	char *err;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		err = NULL;
		if (output_check_template(bad[k].t, "ftybsiTr", &err) != -1)
			fail_msg("accepted \"%s\"", bad[k].t);
		assert_non_null(err);
		if (strstr(err, bad[k].word) == NULL)
			fail_msg(
			    "message \"%s\" lacks \"%s\"", err, bad[k].word);
		free(err);
	}
}

/* --- records --- */

static void
orecord_add__aborts__beyond_max(void **state)
{
	struct orecord r;
	size_t k;
	pid_t pid;
	int status;

	(void)state;
	orecord_init(&r, "x", NULL);
	for (k = 0; k < OUT_MAX_FIELDS; k++)
		orecord_add(&r, 'a', "a", "v", OF_TEXT);
	assert_int_equal(r.n, OUT_MAX_FIELDS);
	assert_string_equal(r.kind, "x");
	assert_null(r.stanza);
	/* one more is a bug: the child aborts instead of dropping it */
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, STDERR_FILENO);
		orecord_add(&r, 'a', "a", "v", OF_TEXT);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

/* --- output_record on a real stdout --- */

static void
output_record__writes__to_stdout(void **state)
{
	char path[] = "/tmp/test_output.XXXXXX";
	struct output o;
	struct orecord r;
	char got[256];
	int fd, saved;
	ssize_t n;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fd, STDOUT_FILENO);
	output_init(&o, OUT_TEXT, NULL, 0);
	assert_false(o.tty);
	message_record(&r, "one");
	assert_int_equal(output_record(&o, &r), 0);
	message_record(&r, "two");
	assert_int_equal(output_record(&o, &r), 0);
	output_free(&o);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	n = pread(fd, got, sizeof(got) - 1, 0);
	close(fd);
	assert_true(n > 0);
	got[n] = '\0';
	assert_string_equal(got,
	    "2026-01-02T03:04:05Z\talice@example.com/phone\tone\n"
	    "2026-01-02T03:04:05Z\talice@example.com/phone\ttwo\n");
}

static void
output_record__fails__on_broken_pipe(void **state)
{
	struct output o;
	struct orecord r;
	int p[2], saved, rc;
	void (*old)(int);

	(void)state;
	old = signal(SIGPIPE, SIG_IGN);
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(p[1], STDOUT_FILENO);
	close(p[1]);
	output_init(&o, OUT_TEXT, NULL, 0);
	message_record(&r, "lost");
	rc = output_record(&o, &r);
	output_free(&o);
	clearerr(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	signal(SIGPIPE, old);
	assert_int_equal(rc, -1);
}

static void
output_choose__keeps__last_format_and_nul(void **state)
{
	struct output_choice c = { 0 };

	(void)state;
	output_choose(&c, '0', NULL);
	assert_int_equal(c.format, OUT_TEXT);
	assert_int_equal(c.set, 0);
	assert_int_equal(c.nul, 1);
	output_choose(&c, 'F', "%f");
	output_choose(&c, 'F', "%j %S");
	assert_int_equal(c.format, OUT_TEMPLATE);
	assert_string_equal(c.template, "%j %S");
	output_choose(&c, 'J', NULL);
	assert_int_equal(c.format, OUT_JSON);
	output_choose(&c, 'X', NULL);
	assert_int_equal(c.format, OUT_XML);
	assert_int_equal(c.set, 1);
	assert_int_equal(c.nul, 1);
	output_choice_free(&c);
	assert_null(c.template);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    output_text__writes__text_fields_tab_separated),
		cmocka_unit_test(output_text__escapes__body_controls),
		cmocka_unit_test(output_text__keeps__forged_record_on_one_line),
		cmocka_unit_test(output_text__leaves__absent_field_empty),
		cmocka_unit_test(
		    output_text__writes__empty_line_without_text_fields),
		cmocka_unit_test(output_text__property__one_record_one_line),
		cmocka_unit_test(output_nul__writes__raw_fields_and_nul),
		cmocka_unit_test(output_nul__ends__json_with_nul),
		cmocka_unit_test(output_json__writes__fields_in_order),
		cmocka_unit_test(output_json__types__numbers_bools_lists),
		cmocka_unit_test(output_json__escapes__names_and_kind),
		cmocka_unit_test(output_json__property__valid_json_on_one_line),
		cmocka_unit_test(output_xml__writes__stanza_on_one_line),
		cmocka_unit_test(output_xml__writes__empty_line_without_stanza),
		cmocka_unit_test(output_xml_line__reparses__to_same_stanza),
		cmocka_unit_test(output_xml_line__keeps__tab_in_attribute),
		cmocka_unit_test(output_template__expands__every_directive),
		cmocka_unit_test(output_template__expands__backslash_escapes),
		cmocka_unit_test(output_template__uses__nul_mode),
		cmocka_unit_test(
		    output_check_template__accepts__known_directives),
		cmocka_unit_test(
		    output_check_template__rejects__unknown_directive),
		cmocka_unit_test(orecord_add__aborts__beyond_max),
		cmocka_unit_test(output_record__writes__to_stdout),
		cmocka_unit_test(output_record__fails__on_broken_pipe),
		cmocka_unit_test(output_choose__keeps__last_format_and_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
