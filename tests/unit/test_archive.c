/* SPDX-License-Identifier: MIT */
/* test_archive.c -- unit tests of common/archive.c */

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
#include <strophe.h>

#include "archive.h"
#include "util.h"

static xmpp_ctx_t *ctx;

static int
setup(void **state)
{
	(void)state;
	xmpp_initialize();
	ctx = xmpp_ctx_new(NULL, NULL);
	return ctx ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	xmpp_ctx_free(ctx);
	xmpp_shutdown();
	return 0;
}

/* The serialization of 'st' (allocated by libstrophe). */
static char *
serialize(xmpp_stanza_t *st)
{
	char *text;
	size_t len;

	assert_int_equal(xmpp_stanza_to_text(st, &text, &len), XMPP_EOK);
	return text;
}

/*
 * 'st' serialized (then released), compared with 'want'.  libstrophe
 * writes attributes in the order of its hash table, so 'want' goes through
 * the same parser and serializer first.
 */
static void
assert_xml(xmpp_stanza_t *st, const char *want)
{
	xmpp_stanza_t *w = xmpp_stanza_new_from_string(ctx, want);
	char *got, *exp;

	assert_non_null(w);
	got = serialize(st);
	exp = serialize(w);
	assert_string_equal(got, exp);
	xmpp_free(ctx, got);
	xmpp_free(ctx, exp);
	xmpp_stanza_release(w);
	xmpp_stanza_release(st);
}

static void
archive_query__builds__page_after_cursor(void **state)
{
	struct archive_query q = { "q1", NULL, "c1", "ID-9", NULL, 50 };

	(void)state;
	assert_xml(archive_query(ctx, &q),
	    "<iq type=\"set\" id=\"q1\"><query xmlns=\"urn:xmpp:mam:2\" "
	    "queryid=\"c1\"><set xmlns=\"http://jabber.org/protocol/rsm\">"
	    "<max>50</max><after>ID-9</after></set></query></iq>");
}

static void
archive_query__builds__start_form_to_room(void **state)
{
	struct archive_query q = { "q2", "room@muc.example", NULL, NULL,
		"2026-01-02T03:04:05Z", 0 };

	(void)state;
	assert_xml(archive_query(ctx, &q),
	    "<iq type=\"set\" id=\"q2\" to=\"room@muc.example\"><query "
	    "xmlns=\"urn:xmpp:mam:2\"><x xmlns=\"jabber:x:data\" "
	    "type=\"submit\"><field var=\"FORM_TYPE\" type=\"hidden\">"
	    "<value>urn:xmpp:mam:2</value></field><field var=\"start\">"
	    "<value>2026-01-02T03:04:05Z</value></field></x><set "
	    "xmlns=\"http://jabber.org/protocol/rsm\"><max>50</max></set>"
	    "</query></iq>");
}

#define RESULT(from, qid, id, delay)                                           \
	"<message " from "><result xmlns='urn:xmpp:mam:2' " qid " id='" id     \
	"'><forwarded xmlns='urn:xmpp:forward:0'>" delay                       \
	"<message xmlns='jabber:client' from='alice@ex/a' to='bob@ex' "        \
	"type='chat'><body>hi</body>"                                          \
	"</message></forwarded></result></message>"
#define DELAY "<delay xmlns='urn:xmpp:delay' stamp='2026-01-02T03:04:05Z'/>"

static xmpp_stanza_t *
result_of(const char *xml, const char *qid, const char **id)
{
	xmpp_stanza_t *m = xmpp_stanza_new_from_string(ctx, xml);
	xmpp_stanza_t *r;

	assert_non_null(m);
	r = archive_result(m, qid, "bob@ex", "bob@ex", id);
	if (r && *id)
		*id = strcmp(*id, "A1") == 0 ? "A1" : "other";
	xmpp_stanza_release(m);
	return r;
}

static void
archive_result__gives__forwarded_message_with_delay(void **state)
{
	const char *id;
	xmpp_stanza_t *r;

	(void)state;
	r = result_of(RESULT("", "queryid='c1'", "A1", DELAY), "c1", &id);
	assert_non_null(r);
	assert_string_equal(id, "A1");
	/* (attributes copied by libstrophe come in another hash order) */
	assert_string_equal(xmpp_stanza_get_from(r), "alice@ex/a");
	assert_string_equal(xmpp_stanza_get_ns(r), "jabber:client");
	assert_non_null(xmpp_stanza_get_child_by_name(r, "body"));
	assert_string_equal(
	    xmpp_stanza_get_attribute(xmpp_stanza_get_child_by_name_and_ns(
					  r, "delay", "urn:xmpp:delay"),
		"stamp"),
	    "2026-01-02T03:04:05Z");
	xmpp_stanza_release(r);
	/* from the own bare JID: the same */
	r = result_of(
	    RESULT("from='bob@ex'", "queryid='c1'", "A1", ""), "c1", &id);
	assert_non_null(r);
	xmpp_stanza_release(r);
}

static void
archive_result__refuses__forgery_other_query_and_plain(void **state)
{
	const char *id;

	(void)state;
	assert_null(result_of(
	    RESULT("from='mallory@ex'", "queryid='c1'", "A1", ""), "c1", &id));
	assert_null(
	    result_of(RESULT("from='bob@ex/phone'", "queryid='c1'", "A1", ""),
		"c1", &id));
	assert_null(result_of(RESULT("", "queryid='c2'", "A1", ""), "c1", &id));
	assert_null(result_of(RESULT("", "", "A1", ""), "c1", &id));
	assert_null(result_of("<message from='alice@ex/a'><body>x</body>"
			      "</message>",
	    "c1", &id));
}

static int
fin_of(const char *xml, int *complete, char **last)
{
	xmpp_stanza_t *iq = xmpp_stanza_new_from_string(ctx, xml);
	int r;

	assert_non_null(iq);
	r = archive_fin(iq, complete, last);
	xmpp_stanza_release(iq);
	return r;
}

static void
archive_fin__reads__complete_and_last(void **state)
{
	int complete = -1;
	char *last = NULL;

	(void)state;
	assert_int_equal(
	    fin_of(
		"<iq type='result' id='q'><fin xmlns='urn:xmpp:mam:2' "
		"complete='true'><set xmlns='http://jabber.org/protocol/rsm'>"
		"<first>A</first><last>Z9</last></set></fin></iq>",
		&complete, &last),
	    0);
	assert_int_equal(complete, 1);
	assert_string_equal(last, "Z9");
	free(last);
	assert_int_equal(
	    fin_of("<iq type='result' id='q'><fin xmlns='urn:xmpp:mam:2'>"
		   "<set xmlns='http://jabber.org/protocol/rsm'/></fin></iq>",
		&complete, &last),
	    0);
	assert_int_equal(complete, 0);
	assert_null(last);
	assert_int_equal(
	    fin_of("<iq type='error' id='q'><error type='cancel'>"
		   "<feature-not-implemented xmlns='urn:ietf:params:xml:ns:"
		   "xmpp-stanzas'/></error></iq>",
		&complete, &last),
	    -1);
	assert_int_equal(
	    fin_of("<iq type='result' id='q'/>", &complete, &last), -1);
}

static void
archive_stanza_id__takes__only_the_given_archive(void **state)
{
	xmpp_stanza_t *m = xmpp_stanza_new_from_string(ctx,
	    "<message><stanza-id xmlns='urn:xmpp:sid:0' by='alice@ex' "
	    "id='forged'/><stanza-id xmlns='urn:xmpp:sid:0' by='bob@ex' "
	    "id='S1'/></message>");

	(void)state;
	assert_string_equal(archive_stanza_id(m, "bob@ex"), "S1");
	assert_string_equal(archive_stanza_id(m, "Bob@EX"), "S1");
	assert_null(archive_stanza_id(m, "carol@ex"));
	xmpp_stanza_release(m);
}

static void
archive_time__normalises__iso8601(void **state)
{
	char out[32];

	(void)state;
	assert_int_equal(archive_time("2026-01-02", out, sizeof(out)), 0);
	assert_string_equal(out, "2026-01-02T00:00:00Z");
	assert_int_equal(
	    archive_time("2026-01-02T03:04:05Z", out, sizeof(out)), 0);
	assert_string_equal(out, "2026-01-02T03:04:05Z");
	assert_int_equal(
	    archive_time("2026-01-02T01:30+02:00", out, sizeof(out)), 0);
	assert_string_equal(out, "2026-01-01T23:30:00Z");
	assert_int_equal(
	    archive_time("2026-01-02T03:04:05.123Z", out, sizeof(out)), 0);
	assert_string_equal(out, "2026-01-02T03:04:05Z");
	assert_int_equal(archive_time("yesterday", out, sizeof(out)), -1);
	assert_int_equal(archive_time("2026-13-01", out, sizeof(out)), -1);
	assert_int_equal(
	    archive_time("2026-01-02T03:04Zx", out, sizeof(out)), -1);
	assert_int_equal(archive_time("2026-01-02", out, 10), -1);
}

static void
archive_seen__forgets__oldest_beyond_cap(void **state)
{
	struct archive_seen s;

	(void)state;
	archive_seen_init(&s, 2);
	assert_int_equal(archive_seen_add(&s, "a"), 1);
	assert_int_equal(archive_seen_add(&s, "a"), 0);
	assert_int_equal(archive_seen_add(&s, "b"), 1);
	assert_int_equal(archive_seen_add(&s, "c"), 1);
	assert_false(archive_seen_has(&s, "a"));
	assert_true(archive_seen_has(&s, "b"));
	assert_true(archive_seen_has(&s, "c"));
	archive_seen_free(&s);
}

static void
archive_state__round_trips__atomically_0600(void **state)
{
	char dir[] = "/tmp/test_archive.XXXXXX";
	struct archive_state st, back;
	struct stat sb;
	char *path, *err = NULL;
	int i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/state", dir);
	archive_state_init(&st);
	assert_int_equal(archive_state_load(&st, path, &err), 0); /* missing */
	assert_null(st.last);
	st.archive = xstrdup("bob@ex");
	for (i = 0; i < ARCHIVE_REMEMBER + 3; i++) {
		char id[16];

		snprintf(id, sizeof(id), "id%d", i);
		assert_int_equal(archive_state_record(&st, path, id, &err), 0);
	}
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	archive_state_init(&back);
	assert_int_equal(archive_state_load(&back, path, &err), 0);
	assert_string_equal(back.archive, "bob@ex");
	assert_string_equal(back.last, "id66");
	assert_true(archive_seen_has(&back.seen, "id66"));
	assert_true(archive_seen_has(&back.seen, "id3"));
	assert_false(archive_seen_has(&back.seen, "id2"));
	archive_state_free(&back);
	archive_state_free(&st);

	/* not a state file */
	{
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fputs("hello\n", f);
		fclose(f);
	}
	archive_state_init(&back);
	assert_int_equal(archive_state_load(&back, path, &err), -1);
	assert_non_null(strstr(err, ":1: not a state file"));
	free(err);
	archive_state_free(&back);
	unlink(path);
	rmdir(dir);
	free(path);
}

/* Writes 'text' to 'path'. */
static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The contents of 'path' (allocated). */
static char *
read_text(const char *path)
{
	char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return xstrdup(buf);
}

static void
archive_file__reads__a_state_of_one_archive(void **state)
{
	char dir[] = "/tmp/test_archive.XXXXXX";
	struct archive_file f;
	char *path, *err = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/state", dir);
	archive_file_init(&f);
	assert_int_equal(archive_file_load(&f, path, &err), 0); /* missing */
	assert_null(f.account.last);
	assert_int_equal(f.nrooms, 0);
	archive_file_free(&f);

	write_text(path, "archive=bob@ex\nseen=a\nlast=b\n");
	archive_file_init(&f);
	assert_int_equal(archive_file_load(&f, path, &err), 0);
	assert_string_equal(f.account.archive, "bob@ex");
	assert_string_equal(f.account.last, "b");
	assert_true(archive_seen_has(&f.account.seen, "a"));
	assert_int_equal(f.nrooms, 0);
	archive_file_free(&f);
	unlink(path);
	rmdir(dir);
	free(path);
}

static void
archive_file__keeps__one_cursor_per_room(void **state)
{
	char dir[] = "/tmp/test_archive.XXXXXX";
	struct archive_file f, back;
	struct archive_state *r1, *r2;
	char *path, *err = NULL, *text;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/state", dir);
	archive_file_init(&f);
	f.account.archive = xstrdup("bob@ex");
	r1 = archive_file_room(&f, "dev@muc.ex");
	r2 = archive_file_room(&f, "ops@muc.ex");
	assert_ptr_equal(archive_file_room(&f, "DEV@muc.ex"), r1);
	assert_int_equal(archive_file_record(&f, r1, path, "r1a", &err), 0);
	assert_int_equal(
	    archive_file_record(&f, &f.account, path, "own1", &err), 0);
	assert_int_equal(archive_file_record(&f, r1, path, "r1b", &err), 0);
	text = read_text(path);
	assert_string_equal(text,
	    "archive=bob@ex\nlast=own1\n"
	    "room=dev@muc.ex\nseen=r1a\nlast=r1b\n"
	    "room=ops@muc.ex\n");
	free(text);
	(void)r2;

	archive_file_init(&back);
	assert_int_equal(archive_file_load(&back, path, &err), 0);
	assert_string_equal(back.account.last, "own1");
	assert_int_equal(back.nrooms, 2);
	assert_string_equal(
	    archive_file_room(&back, "dev@muc.ex")->last, "r1b");
	assert_true(archive_seen_has(
	    &archive_file_room(&back, "dev@muc.ex")->seen, "r1a"));
	assert_null(archive_file_room(&back, "ops@muc.ex")->last);
	assert_false(archive_seen_has(&back.account.seen, "r1b"));
	archive_file_free(&back);
	archive_file_free(&f);

	/* the old reader refuses a file with rooms rather than mix them up */
	{
		struct archive_state st;

		archive_state_init(&st);
		assert_int_equal(archive_state_load(&st, path, &err), -1);
		free(err);
		archive_state_free(&st);
	}
	unlink(path);
	rmdir(dir);
	free(path);
}

static void
archive_file__refuses__duplicate_rooms_and_misplaced_lines(void **state)
{
	static const char *const bad[] = {
		"archive=bob@ex\nroom=a@m\nlast=1\nroom=a@m\n",
		"room=a@m\narchive=bob@ex\n",
		"room=\n",
		"archive=bob@ex\nroom=a@m\nnext=1\n",
	};
	char dir[] = "/tmp/test_archive.XXXXXX";
	struct archive_file f;
	char *path, *err;
	size_t i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/state", dir);
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		write_text(path, bad[i]);
		archive_file_init(&f);
		err = NULL;
		assert_int_equal(archive_file_load(&f, path, &err), -1);
		assert_non_null(strstr(err, "not a state file"));
		free(err);
		archive_file_free(&f);
	}
	unlink(path);
	rmdir(dir);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(archive_query__builds__page_after_cursor),
		cmocka_unit_test(archive_query__builds__start_form_to_room),
		cmocka_unit_test(
		    archive_result__gives__forwarded_message_with_delay),
		cmocka_unit_test(
		    archive_result__refuses__forgery_other_query_and_plain),
		cmocka_unit_test(archive_fin__reads__complete_and_last),
		cmocka_unit_test(
		    archive_stanza_id__takes__only_the_given_archive),
		cmocka_unit_test(archive_time__normalises__iso8601),
		cmocka_unit_test(archive_seen__forgets__oldest_beyond_cap),
		cmocka_unit_test(archive_state__round_trips__atomically_0600),
		cmocka_unit_test(archive_file__reads__a_state_of_one_archive),
		cmocka_unit_test(archive_file__keeps__one_cursor_per_room),
		cmocka_unit_test(
		    archive_file__refuses__duplicate_rooms_and_misplaced_lines),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
