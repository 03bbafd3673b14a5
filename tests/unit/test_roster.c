/* SPDX-License-Identifier: MIT */
/* test_roster.c -- unit tests of common/roster.c (items, files, plans) */

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

#include "output.h"
#include "record.h"
#include "roster.h"
#include "util.h"

/* --- helpers --- */

static char *
write_file(const char *data, size_t len)
{
	char tmpl[] = "/tmp/test_roster.XXXXXX";
	int fd = mkstemp(tmpl);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return xstrdup(tmpl);
}

/* Reads 'text' as a roster file into 'r'; returns roster_read_file()'s
 * result and sets *err (caller frees) to its error or NULL. */
static int
read_text(struct roster *r, const char *text, char **err)
{
	char *path = write_file(text, strlen(text));
	int rc;

	*err = NULL;
	rc = roster_read_file(r, path, err);
	unlink(path);
	free(path);
	return rc;
}

/* read_text() that must fail, with 'want' in the error message. */
static void
expect_refused(const char *text, const char *want)
{
	struct roster r;
	char *err;

	roster_init(&r);
	assert_int_equal(read_text(&r, text, &err), -1);
	assert_non_null(err);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" does not say \"%s\"", err, want);
	assert_int_equal(r.n, 0);
	free(err);
	roster_free(&r);
}

static struct roster_item
item(const char *jid, const char *name, char **groups, size_t ngroups)
{
	struct roster_item it;

	memset(&it, 0, sizeof(it));
	it.jid = (char *)jid;
	it.name = (char *)name;
	it.groups = groups;
	it.ngroups = ngroups;
	return it;
}

static void
assert_groups(const struct roster_item *it, const char *const *want, size_t n)
{
	size_t i;

	assert_int_equal(it->ngroups, n);
	for (i = 0; i < n; i++)
		assert_string_equal(it->groups[i], want[i]);
}

/* The record of 'it' as output 'fmt' writes it (without the newline). */
static char *
record_line(const struct roster_item *it, enum output_format fmt,
    const char *template, int nul)
{
	struct rec_strings k = { { 0 }, 0 };
	struct orecord r;
	struct output o;
	struct buf b;

	roster_record(&r, &k, it);
	output_init(&o, fmt, template, nul);
	o.tty = 0;
	buf_init(&b);
	output_format_record(&o, &r, &b);
	output_free(&o);
	rec_strings_free(&k);
	assert_non_null(b.data);
	assert_true(b.len > 0);
	b.data[--b.len] = '\0'; /* the terminator */
	return buf_steal(&b);
}

static xmpp_stanza_t *
parse(xmpp_ctx_t *ctx, const char *xml)
{
	xmpp_stanza_t *st = xmpp_stanza_new_from_string(ctx, xml);

	assert_non_null(st);
	return st;
}

static char *
serialize(xmpp_stanza_t *st)
{
	char *text = NULL, *copy;
	size_t len = 0;

	assert_int_equal(xmpp_stanza_to_text(st, &text, &len), XMPP_EOK);
	copy = xstrdup(text);
	xmpp_free(xmpp_stanza_get_context(st), text);
	return copy;
}

static int
setup_ctx(void **state)
{
	xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, NULL);

	if (ctx == NULL)
		return -1;
	*state = ctx;
	return 0;
}

static int
teardown_ctx(void **state)
{
	xmpp_ctx_free(*state);
	return 0;
}

/* --- roster_add, roster_sort, roster_find --- */

static void
roster_add__copies__and_sorts_groups_once(void **state)
{
	char *groups[] = { "Zeta", "Alpha", "Zeta", "alpha" };
	static const char *const want[] = { "Alpha", "Zeta", "alpha" };
	struct roster r;
	struct roster_item it = item("bob@example.org", "Bob", groups, 4);
	struct roster_item *n;

	(void)state;
	roster_init(&r);
	n = roster_add(&r, &it);
	assert_int_equal(r.n, 1);
	assert_ptr_not_equal(n->jid, it.jid);
	assert_string_equal(n->jid, "bob@example.org");
	assert_string_equal(n->name, "Bob");
	assert_string_equal(n->subscription, "none");
	assert_null(n->ask);
	assert_groups(n, want, 3);
	roster_free(&r);
	assert_int_equal(r.n, 0);
	assert_null(r.items);
}

static void
roster_add__drops__empty_name(void **state)
{
	struct roster r;
	struct roster_item it = item("bob@example.org", "", NULL, 0);

	(void)state;
	roster_init(&r);
	assert_null(roster_add(&r, &it)->name);
	assert_int_equal(r.items[0].ngroups, 0);
	roster_free(&r);
}

static void
roster_sort__orders__case_insensitively(void **state)
{
	static const char *const jids[] = { "dave@example.org",
		"Carol@example.org", "bob@example.org", "alice@example.org",
		"carol@example.net" };
	struct roster r;
	struct roster_item it;
	size_t i;

	(void)state;
	roster_init(&r);
	for (i = 0; i < 5; i++) {
		it = item(jids[i], NULL, NULL, 0);
		roster_add(&r, &it);
	}
	roster_sort(&r);
	assert_string_equal(r.items[0].jid, "alice@example.org");
	assert_string_equal(r.items[1].jid, "bob@example.org");
	assert_string_equal(r.items[2].jid, "carol@example.net");
	/* Stored as servers store JIDs: ASCII letters in lower case. */
	assert_string_equal(r.items[3].jid, "carol@example.org");
	assert_string_equal(r.items[4].jid, "dave@example.org");
	for (i = 0; i < 5; i++) {
		assert_non_null(roster_find(&r, jids[i]));
		assert_string_equal(roster_find(&r, jids[i])->jid,
		    i == 1 ? "carol@example.org" : jids[i]);
	}
	assert_null(roster_find(&r, "erin@example.org"));
	assert_null(roster_find(&r, "alice@example.or"));
	roster_free(&r);
}

/*
 * Servers case-map the localpart and the domain (RFC 7622 3.2.1, 3.3.1):
 * "BOB@Example.ORG" in a file or on the command line is the contact
 * bob@example.org.  A sync that misses it adds it again and, with --prune,
 * removes the real one.
 */
static void
roster_find__matches__other_ascii_case(void **state)
{
	struct roster r;
	struct roster_item it = item("bob@example.org", NULL, NULL, 0);

	(void)state;
	roster_init(&r);
	roster_add(&r, &it);
	roster_sort(&r);
	assert_non_null(roster_find(&r, "BOB@Example.ORG"));
	assert_non_null(roster_find(&r, "Bob@example.org"));
	roster_free(&r);
}

/* --- roster_from_stanza --- */

static void
roster_from_stanza__reads__items(void **state)
{
	xmpp_ctx_t *ctx = *state;
	xmpp_stanza_t *iq = parse(ctx,
	    "<iq type='result' id='r1'><query xmlns='jabber:iq:roster' "
	    "ver='3'>"
	    "<item jid='bob@example.org' name='Bob' subscription='both'>"
	    "<group>Work</group><group></group><group>Friends</group>"
	    "<group>Work</group></item>"
	    "<item jid='carol@example.org' subscription='none' "
	    "ask='subscribe' approved='true'/>"
	    "<item jid='dave@example.org/phone' subscription='to'/>"
	    "<item name='no jid'/>"
	    "<item jid='bad@@example.org'/>"
	    "<other jid='x@example.org'/>"
	    "<item jid='example.net'/>"
	    "</query></iq>");
	static const char *const groups[] = { "Friends", "Work" };
	struct roster r;
	size_t skipped = 0;

	roster_init(&r);
	roster_from_stanza(&r, iq, &skipped);
	xmpp_stanza_release(iq);
	assert_int_equal(skipped, 3);
	assert_int_equal(r.n, 3);
	roster_sort(&r);
	assert_string_equal(r.items[0].jid, "bob@example.org");
	assert_string_equal(r.items[0].name, "Bob");
	assert_string_equal(r.items[0].subscription, "both");
	assert_null(r.items[0].ask);
	assert_int_equal(r.items[0].approved, 0);
	assert_groups(&r.items[0], groups, 2);
	assert_string_equal(r.items[1].jid, "carol@example.org");
	assert_null(r.items[1].name);
	assert_string_equal(r.items[1].ask, "subscribe");
	assert_int_equal(r.items[1].approved, 1);
	assert_int_equal(r.items[1].ngroups, 0);
	assert_string_equal(r.items[2].jid, "example.net");
	roster_free(&r);
}

static void
roster_from_stanza__ignores__other_payloads(void **state)
{
	xmpp_ctx_t *ctx = *state;
	xmpp_stanza_t *iq = parse(ctx,
	    "<iq type='result' id='r1'><query xmlns='jabber:iq:other'>"
	    "<item jid='bob@example.org'/></query></iq>");
	struct roster r;

	roster_init(&r);
	roster_from_stanza(&r, iq, NULL);
	assert_int_equal(r.n, 0);
	xmpp_stanza_release(iq);
	iq = parse(ctx, "<iq type='result' id='r2'/>");
	roster_from_stanza(&r, iq, NULL);
	assert_int_equal(r.n, 0);
	xmpp_stanza_release(iq);
	roster_free(&r);
}

/* --- roster_read_file --- */

static void
roster_read_file__reads__json_and_text_lines(void **state)
{
	static const char *const bob[] = { "Ops", "Team" };
	static const char *const carol[] = { "a b", "c" };
	static const char *const erin[] = { "tab\there" };
	struct roster r;
	char *err;

	(void)state;
	roster_init(&r);
	assert_int_equal(read_text(&r,
			     "# a comment\n"
			     "\n"
			     "{\"jid\":\"bob@example.org\",\"name\":\"Bob "
			     "\\u00fc\",\"groups\":[\"Team\",\"Ops\",\"Team\","
			     "\"\"],\"subscription\":\"both\",\"x\":{}}\r\n"
			     "carol@example.org\tboth\t\tCarol\\\\C.\t"
			     "a b,c\n"
			     "dave@example.org\n"
			     "{\"jid\":\"erin@example.org\",\"name\":null,"
			     "\"groups\":[\"tab\\there\"]}",
			     &err),
	    0);
	assert_int_equal(r.n, 4);
	roster_sort(&r);
	assert_string_equal(r.items[0].jid, "bob@example.org");
	assert_string_equal(r.items[0].name, "Bob \xc3\xbc");
	assert_groups(&r.items[0], bob, 2);
	assert_int_equal(r.items[0].line, 3);
	assert_string_equal(r.items[1].jid, "carol@example.org");
	assert_string_equal(r.items[1].name, "Carol\\C.");
	assert_groups(&r.items[1], carol, 2);
	assert_int_equal(r.items[1].line, 4);
	assert_string_equal(r.items[2].jid, "dave@example.org");
	assert_null(r.items[2].name);
	assert_int_equal(r.items[2].ngroups, 0);
	assert_int_equal(r.items[2].line, 5);
	assert_string_equal(r.items[3].jid, "erin@example.org");
	assert_null(r.items[3].name);
	assert_groups(&r.items[3], erin, 1);
	assert_int_equal(r.items[3].line, 6);
	roster_free(&r);
}

/*
 * The GROUPS field of the text format: the names separated by commas, each
 * escaped (text.h) with its commas written \x2c.
 */
static void
roster_read_file__reads__escaped_group_names(void **state)
{
	static const char *const want[] = { "a,b", "c\\d", "tab\there" };
	struct roster r;
	char *err;

	(void)state;
	roster_init(&r);
	if (read_text(&r,
		"carol@example.org\tboth\t\tCarol\ta\\x2cb,c\\\\d,"
		"tab\\there\n",
		&err) < 0)
		fail_msg("%s", err);
	assert_int_equal(r.n, 1);
	assert_groups(&r.items[0], want, 3);
	roster_free(&r);
}

static void
roster_read_file__accepts__empty_file(void **state)
{
	struct roster r;
	char *err;

	(void)state;
	roster_init(&r);
	assert_int_equal(read_text(&r, "", &err), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(read_text(&r, "# nothing\n\n", &err), 0);
	assert_int_equal(r.n, 0);
	roster_free(&r);
}

static void
roster_read_file__refuses__with_line_numbers(void **state)
{
	(void)state;
	expect_refused("{\"jid\":\"a@example.org\"}\n# c\n{\"jid\":}\n",
	    ":3: invalid JSON");
	expect_refused("{\"jid\":\"a@example.org\"}\n{\"jid\":\"b@@x\"}\n",
	    ":2: 'b@@x' is not a valid bare JID");
	expect_refused("{\"jid\":\"a@example.org/r\"}\n",
	    ":1: 'a@example.org/r' is not a valid bare JID");
	expect_refused("{\"name\":\"x\"}\n", ":1: \"jid\" is missing");
	expect_refused("{\"jid\":3}\n", ":1: \"jid\" is missing or not");
	expect_refused("{\"jid\":\"a@example.org\",\"name\":[]}\n",
	    ":1: \"name\" is not a string");
	expect_refused("{\"jid\":\"a@example.org\",\"groups\":\"g\"}\n",
	    ":1: \"groups\" is not an array");
	expect_refused("{\"jid\":\"a@example.org\",\"groups\":[null]}\n",
	    ":1: a group is not a string");
	expect_refused(
	    "{\"jid\":\"a@example.org\",\"jid\":\"b@example.org\"}\n",
	    ":1: invalid JSON");
	expect_refused("[\"a@example.org\"]\n", ":1: ");
	expect_refused("\n\na@example.org\tnone\t\tA\tG\textra\n",
	    ":3: expected at most 5 tab-separated fields");
	expect_refused("a@example.org\tnone\t\tbad \\q\n",
	    ":1: malformed escape in field 4");
	expect_refused("a@example.org\tnone\t\t\tg\\x2\n", ":1: malformed");
	expect_refused("{\"jid\":\"a@example.org\",\"name\":\"\\u0001\"}\n",
	    ":1: the name holds a tab, a line break or what XML cannot carry");
	expect_refused("a@example.org\tnone\t\t\tbad\\x01group\n",
	    ":1: a group holds a carriage return or what XML cannot carry");
	expect_refused("a@example.org\n{\"jid\":\"b@example.org\"}\n"
		       "A@Example.ORG\n",
	    "is also on line");
	expect_refused("a@example.org\nb@example.org\na@example.org\n",
	    "a@example.org is also on line 1");
}

static void
roster_read_file__refuses__nul_and_missing_files(void **state)
{
	struct roster r;
	char *path, *err = NULL;

	(void)state;
	roster_init(&r);
	path = write_file("a@example.org\n\0b@example.org\n", 29);
	assert_int_equal(roster_read_file(&r, path, &err), -1);
	assert_non_null(strstr(err, "NUL"));
	free(err);
	err = NULL;
	unlink(path);
	assert_int_equal(roster_read_file(&r, path, &err), -1);
	assert_non_null(strstr(err, path));
	free(err);
	free(path);
	assert_int_equal(r.n, 0);
	roster_free(&r);
}

static void
roster_read_file__adds__nothing_on_error(void **state)
{
	struct roster r;
	struct roster_item it = item("keep@example.org", NULL, NULL, 0);
	char *err;

	(void)state;
	roster_init(&r);
	roster_add(&r, &it);
	assert_int_equal(
	    read_text(&r, "a@example.org\nb@example.org\nnot a jid\n", &err),
	    -1);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.items[0].jid, "keep@example.org");
	free(err);
	assert_int_equal(read_text(&r, "a@example.org\n", &err), 0);
	assert_int_equal(r.n, 2);
	roster_free(&r);
}

/* --- roster_plan --- */

static void
roster_plan__lists__adds_updates_and_removals(void **state)
{
	char *g1[] = { "Team" }, *g2[] = { "Team", "Ops" }, *g3[] = { "Ops" };
	struct roster have, want;
	struct roster_change *c;
	struct roster_item it;
	size_t n;

	(void)state;
	roster_init(&have);
	roster_init(&want);
	it = item("same@example.org", "Same", g1, 1);
	roster_add(&have, &it);
	it = item("renamed@example.org", "Old", g1, 1);
	roster_add(&have, &it);
	it = item("regrouped@example.org", "R", g1, 1);
	roster_add(&have, &it);
	it = item("extra@example.org", NULL, NULL, 0);
	roster_add(&have, &it);
	it = item("unnamed@example.org", "Had a name", NULL, 0);
	roster_add(&have, &it);

	it = item("same@example.org", "Same", g1, 1);
	roster_add(&want, &it);
	it = item("renamed@example.org", "New", g1, 1);
	roster_add(&want, &it);
	it = item("regrouped@example.org", "R", g2, 2);
	roster_add(&want, &it);
	it = item("new@example.org", NULL, g3, 1);
	roster_add(&want, &it);
	it = item("unnamed@example.org", "", NULL, 0);
	roster_add(&want, &it);
	roster_sort(&have);
	roster_sort(&want);

	n = roster_plan(&have, &want, 0, &c);
	assert_int_equal(n, 4);
	/* In the order of 'want' (sorted by JID). */
	assert_int_equal(c[0].action, RA_ADD);
	assert_string_equal(c[0].want->jid, "new@example.org");
	assert_null(c[0].have);
	assert_int_equal(c[1].action, RA_UPDATE);
	assert_string_equal(c[1].want->jid, "regrouped@example.org");
	assert_string_equal(c[1].have->jid, "regrouped@example.org");
	assert_int_equal(c[2].action, RA_UPDATE);
	assert_string_equal(c[2].want->name, "New");
	assert_int_equal(c[3].action, RA_UPDATE);
	assert_string_equal(c[3].want->jid, "unnamed@example.org");
	free(c);

	n = roster_plan(&have, &want, 1, &c);
	assert_int_equal(n, 5);
	assert_int_equal(c[4].action, RA_REMOVE);
	assert_string_equal(c[4].have->jid, "extra@example.org");
	assert_null(c[4].want);
	free(c);

	n = roster_plan(&have, &have, 1, &c);
	assert_int_equal(n, 0);
	free(c);
	roster_free(&have);
	roster_free(&want);
}

static void
roster_plan__matches__jids_as_the_server_does(void **state)
{
	struct roster have, want;
	struct roster_change *c;
	struct roster_item it;

	(void)state;
	roster_init(&have);
	roster_init(&want);
	it = item("bob@example.org", "Bob", NULL, 0);
	roster_add(&have, &it);
	it = item("BOB@Example.org", "Bob", NULL, 0);
	roster_add(&want, &it);
	roster_sort(&have);
	roster_sort(&want);
	/* Not "add BOB@Example.org, remove bob@example.org". */
	assert_int_equal(roster_plan(&have, &want, 1, &c), 0);
	free(c);
	roster_free(&have);
	roster_free(&want);
}

static void
roster_action_name__names__every_action(void **state)
{
	(void)state;
	assert_string_equal(roster_action_name(RA_ADD), "add");
	assert_string_equal(roster_action_name(RA_UPDATE), "update");
	assert_string_equal(roster_action_name(RA_REMOVE), "remove");
}

/* --- roster_item_stanza --- */

static void
roster_item_stanza__builds__a_roster_set(void **state)
{
	xmpp_ctx_t *ctx = *state;
	char *groups[] = { "Work & Play", "<Ops>" };
	struct roster_item it = item("bob@example.org", "Bob \"B\"", groups, 2);
	xmpp_stanza_t *iq = roster_item_stanza(ctx, "id1", &it, 0);
	char *text = serialize(iq);

	assert_string_equal(text,
	    "<iq id=\"id1\" type=\"set\"><query xmlns=\"jabber:iq:roster\">"
	    "<item jid=\"bob@example.org\" name=\"Bob &quot;B&quot;\">"
	    "<group>Work &amp; Play</group><group>&lt;Ops&gt;</group>"
	    "</item></query></iq>");
	free(text);
	xmpp_stanza_release(iq);

	it = item("bob@example.org", NULL, NULL, 0);
	iq = roster_item_stanza(ctx, "id2", &it, 0);
	text = serialize(iq);
	assert_string_equal(text,
	    "<iq id=\"id2\" type=\"set\"><query xmlns=\"jabber:iq:roster\">"
	    "<item jid=\"bob@example.org\"/></query></iq>");
	free(text);
	xmpp_stanza_release(iq);
}

static void
roster_item_stanza__builds__a_removal(void **state)
{
	xmpp_ctx_t *ctx = *state;
	char *groups[] = { "Work" };
	struct roster_item it = item("bob@example.org", "Bob", groups, 1);
	xmpp_stanza_t *iq = roster_item_stanza(ctx, "id3", &it, 1);
	char *text = serialize(iq);

	assert_string_equal(text,
	    "<iq id=\"id3\" type=\"set\"><query xmlns=\"jabber:iq:roster\">"
	    "<item jid=\"bob@example.org\" subscription=\"remove\"/>"
	    "</query></iq>");
	free(text);
	xmpp_stanza_release(iq);
}

/*
 * XML parsers turn a tab, newline or carriage return in an attribute value
 * into a space (XML 1.0 3.3.3) and a carriage return in text into a newline
 * (2.11): written raw, a name "a<TAB>b" reaches the server as "a b", and a
 * sync never ends.  What the stanza carries must parse back to the item.
 */
/*
 * A tab or line break in a name (an attribute) comes back from a server
 * as a space, a carriage return in a group (text) as a newline: such a
 * contact could never match its file again, so a file holding one is
 * refused.  Shown here first, then the refusal.
 */
static void
roster_item_stanza__loses__whitespace_controls(void **state)
{
	xmpp_ctx_t *ctx = *state;
	char *groups[] = { "g\r1" };
	struct roster_item it =
	    item("bob@example.org", "a\tb\nc\rd", groups, 1);
	xmpp_stanza_t *iq = roster_item_stanza(ctx, "id4", &it, 0), *back;
	struct roster r;
	char *text = serialize(iq);

	back = xmpp_stanza_new_from_string(ctx, text);
	assert_non_null(back);
	roster_init(&r);
	roster_from_stanza(&r, back, NULL);
	assert_int_equal(r.n, 1);
	assert_string_not_equal(r.items[0].name, "a\tb\nc\rd");
	roster_free(&r);
	xmpp_stanza_release(back);
	xmpp_stanza_release(iq);
	free(text);

	expect_refused("{\"jid\":\"bob@example.org\",\"name\":\"a\\tb\"}\n",
	    ":1: the name holds a tab");
	expect_refused("{\"jid\":\"bob@example.org\",\"groups\":[\"g\\r1\"]}\n",
	    ":1: a group holds a carriage return");
}

/* --- roster_record and the output formats --- */

static void
roster_record__writes__text_fields(void **state)
{
	char *groups[] = { "Work, Inc", "c\\d", "tab\there", "Alpha" };
	struct roster r;
	struct roster_item it = item("bob@example.org", "Bob\tB", groups, 4);
	char *line;

	(void)state;
	it.subscription = "both";
	it.ask = "subscribe";
	roster_init(&r);
	roster_add(&r, &it);
	line = record_line(&r.items[0], OUT_TEXT, NULL, 0);
	/* GROUPS: each name escaped once, its commas as \x2c, joined with
	 * ','; the other fields escaped as every text field is. */
	assert_string_equal(line,
	    "bob@example.org\tboth\tsubscribe\tBob\\tB\t"
	    "Alpha,Work\\x2c Inc,c\\\\d,tab\\there");
	free(line);
	line = record_line(&r.items[0], OUT_TEXT, NULL, 1);
	assert_string_equal(line,
	    "bob@example.org\tboth\tsubscribe\tBob\tB\t"
	    "Alpha,Work\\x2c Inc,c\\\\d,tab\\there");
	free(line);
	roster_free(&r);
}

static void
roster_record__writes__json_fields(void **state)
{
	char *groups[] = { "Work, Inc", "c\\d" };
	struct roster r;
	struct roster_item it = item("bob@example.org", NULL, groups, 2);
	char *line;

	(void)state;
	it.approved = 1;
	roster_init(&r);
	roster_add(&r, &it);
	line = record_line(&r.items[0], OUT_JSON, NULL, 0);
	assert_string_equal(line,
	    "{\"kind\":\"roster\",\"jid\":\"bob@example.org\","
	    "\"subscription\":\"none\",\"ask\":null,\"name\":null,"
	    "\"groups\":[\"Work, Inc\",\"c\\\\d\"],\"approved\":true}");
	free(line);
	roster_free(&r);

	roster_init(&r);
	it = item("carol@example.org", "C", NULL, 0);
	roster_add(&r, &it);
	line = record_line(&r.items[0], OUT_JSON, NULL, 0);
	assert_non_null(strstr(line, "\"groups\":[],\"approved\":false}"));
	free(line);
	roster_free(&r);
}

static void
roster_record__fills__template_keys(void **state)
{
	char *groups[] = { "G" };
	struct roster r;
	struct roster_item it = item("bob@example.org", "Bob", groups, 1);
	char *line, *err = NULL;

	(void)state;
	assert_int_equal(
	    output_check_template("%j %S %a %n %g", ROSTER_KEYS, &err), 0);
	it.subscription = "to";
	roster_init(&r);
	roster_add(&r, &it);
	line = record_line(&r.items[0], OUT_TEMPLATE, "%j|%S|%a|%n|%g", 0);
	assert_string_equal(line, "bob@example.org|to||Bob|G");
	free(line);
	roster_free(&r);
}

/* What the text or JSON output of 'items' reads back as. */
static void
roundtrip(enum output_format fmt, struct roster_item *items, size_t n)
{
	struct roster r, back;
	struct buf file;
	char *line, *err;
	size_t i, j;

	roster_init(&r);
	for (i = 0; i < n; i++)
		roster_add(&r, &items[i]);
	roster_sort(&r);
	buf_init(&file);
	for (i = 0; i < n; i++) {
		line = record_line(&r.items[i], fmt, NULL, 0);
		buf_adds(&file, line);
		buf_addc(&file, '\n');
		free(line);
	}
	roster_init(&back);
	if (read_text(&back, file.data, &err) < 0)
		fail_msg("%s\nthe file:\n%s", err, file.data);
	assert_int_equal(back.n, n);
	roster_sort(&back);
	for (i = 0; i < n; i++) {
		assert_string_equal(back.items[i].jid, r.items[i].jid);
		if (r.items[i].name)
			assert_string_equal(
			    back.items[i].name, r.items[i].name);
		else
			assert_null(back.items[i].name);
		assert_int_equal(back.items[i].ngroups, r.items[i].ngroups);
		for (j = 0; j < r.items[i].ngroups; j++)
			assert_string_equal(
			    back.items[i].groups[j], r.items[i].groups[j]);
	}
	buf_free(&file);
	roster_free(&r);
	roster_free(&back);
}

static char *awkward_groups[] = { "Work, Inc", "c\\d", "tab\there", "x\\x2cy",
	",", "\xc3\xbc",
	"\xe2\x80\xae"
	"bidi",
	"#hash", "{brace" };

static void
roster_record__roundtrips__awkward_names_in_text(void **state)
{
	struct roster_item items[] = {
		item("bob@example.org", "back\\slash, \"quote\" \xc3\xbc",
		    awkward_groups, 9),
		item("carol@example.org", "no breaks \\n \\t", NULL, 0),
		item("dave@example.org", NULL, awkward_groups + 3, 2),
		item("erin@example.org", "\\x2c literal", NULL, 0),
		item("example.net", "a domain", NULL, 0),
	};

	(void)state;
	roundtrip(OUT_TEXT, items, 5);
}

static void
roster_record__roundtrips__awkward_names_in_json(void **state)
{
	struct roster_item items[] = {
		item("bob@example.org", "back\\slash, \"quote\" \xc3\xbc",
		    awkward_groups, 9),
		item("carol@example.org", "no breaks \\n \\t", NULL, 0),
		item("#chan%irc.example.org@gateway.example.org", "#chan", NULL,
		    0),
	};

	(void)state;
	roundtrip(OUT_JSON, items, 3);
}

/*
 * A localpart may start with '#' (IRC gateway channels: #chan%irc@gw) or
 * '{'.  The text line of such a contact must not read back as a comment
 * (the contact is lost, and sync --prune removes it) or as JSON.
 */
static void
roster_record__roundtrips__jids_starting_with_hash_or_brace(void **state)
{
	struct roster_item items[] = {
		item("#chan%irc.example.org@gateway.example.org", "#chan", NULL,
		    0),
		item("{brace}@example.org", NULL, NULL, 0),
	};

	(void)state;
	roundtrip(OUT_TEXT, items, 2);
}

/* Prints record 'r' as output 'fmt' would (without the terminator). */
static char *
line_of(const struct orecord *r, enum output_format fmt, const char *template)
{
	struct output o;
	struct buf b;

	output_init(&o, fmt, template, 0);
	o.tty = 0;
	buf_init(&b);
	output_format_record(&o, r, &b);
	output_free(&o);
	assert_non_null(b.data);
	b.data[--b.len] = '\0';
	return buf_steal(&b);
}

/* --- roster_item_xml --- */

static void
roster_item_xml__writes__the_item_as_the_server_does(void **state)
{
	char *groups[] = { "Work" };
	struct roster r;
	struct roster_item it = item("Bob@X", "Bob", groups, 1);
	xmpp_stanza_t *st, *want;
	char *got, *canon;

	it.subscription = "to";
	it.ask = "subscribe";
	roster_init(&r);
	roster_add(&r, &it);
	st = roster_item_xml(*state, &r.items[0]);
	want = parse(*state,
	    "<item jid='bob@x' name='Bob' subscription='to' ask='subscribe'>"
	    "<group>Work</group></item>");
	got = serialize(st);
	canon = serialize(want);
	assert_string_equal(got, canon);
	free(got);
	free(canon);
	xmpp_stanza_release(st);
	xmpp_stanza_release(want);
	roster_free(&r);
}

/* --- roster_item_in_group --- */

static void
roster_item_in_group__matches__exact_names(void **state)
{
	char *groups[] = { "Work", "Friends" };
	struct roster_item it = item("a@x", NULL, groups, 2);

	(void)state;
	assert_true(roster_item_in_group(&it, "Work"));
	assert_true(roster_item_in_group(&it, "Friends"));
	assert_false(roster_item_in_group(&it, "work"));
	assert_false(roster_item_in_group(&it, "Wor"));
	assert_false(roster_item_in_group(&it, ""));
	it.ngroups = 0;
	assert_false(roster_item_in_group(&it, "Work"));
}

/* --- roster_edit_apply --- */

static void
roster_edit_apply__replaces__name_and_groups(void **state)
{
	char *have_g[] = { "Old", "Keep" };
	char *new_g[] = { "New", "Also", "New" };
	static const char *const want[] = { "Also", "New" };
	struct roster have, out;
	struct roster_item it = item("bob@x", "Bob", have_g, 2);
	struct roster_edit e;
	struct roster_item *got;

	(void)state;
	roster_init(&have);
	roster_init(&out);
	it.subscription = "both";
	roster_add(&have, &it);
	memset(&e, 0, sizeof(e));
	e.name = "Robert";
	e.name_set = 1;
	e.groups = new_g;
	e.ngroups = 3;
	e.groups_set = 1;
	got = roster_edit_apply(&out, &have.items[0], &e);
	assert_ptr_equal(got, &out.items[0]);
	assert_string_equal(got->jid, "bob@x");
	assert_string_equal(got->name, "Robert");
	assert_groups(got, want, 2);
	/* An empty name removes it. */
	e.name = "";
	roster_free(&out);
	got = roster_edit_apply(&out, &have.items[0], &e);
	assert_null(got->name);
	/* The item edited is untouched. */
	assert_string_equal(have.items[0].name, "Bob");
	assert_int_equal(have.items[0].ngroups, 2);
	roster_free(&out);
	roster_free(&have);
}

static void
roster_edit_apply__merges__added_and_removed_groups(void **state)
{
	char *have_g[] = { "A", "B", "C" };
	char *add[] = { "D", "A", "E" };
	char *remove[] = { "B", "E", "Z" };
	static const char *const want[] = { "A", "C", "D" };
	static const char *const kept[] = { "A", "B", "C" };
	struct roster have, out;
	struct roster_item it = item("bob@x", "Bob", have_g, 3);
	struct roster_edit e;
	struct roster_item *got;

	(void)state;
	roster_init(&have);
	roster_init(&out);
	roster_add(&have, &it);
	memset(&e, 0, sizeof(e));
	e.add = add;
	e.nadd = 3;
	e.remove = remove;
	e.nremove = 3;
	got = roster_edit_apply(&out, &have.items[0], &e);
	/* Kept, plus added (once), minus removed (even just added). */
	assert_string_equal(got->name, "Bob");
	assert_groups(got, want, 3);
	roster_free(&out);
	/* No edit at all: the same item. */
	memset(&e, 0, sizeof(e));
	got = roster_edit_apply(&out, &have.items[0], &e);
	assert_string_equal(got->name, "Bob");
	assert_groups(got, kept, 3);
	roster_free(&out);
	/* Removing every group leaves none. */
	e.remove = have_g;
	e.nremove = 3;
	got = roster_edit_apply(&out, &have.items[0], &e);
	assert_int_equal(got->ngroups, 0);
	roster_free(&out);
	roster_free(&have);
}

/* --- roster_plan_each, roster_plan_record --- */

static void
roster_plan_each__plans__one_action_per_item(void **state)
{
	struct roster r;
	struct roster_item a = item("a@x", NULL, NULL, 0);
	struct roster_item b = item("b@x", NULL, NULL, 0);
	struct roster_change *plan;
	size_t n;

	(void)state;
	roster_init(&r);
	roster_add(&r, &b);
	roster_add(&r, &a);
	n = roster_plan_each(&r, RA_ADD, &plan);
	assert_int_equal(n, 2);
	assert_int_equal(plan[0].action, RA_ADD);
	assert_ptr_equal(plan[0].want, &r.items[0]);
	assert_null(plan[0].have);
	assert_ptr_equal(plan[1].want, &r.items[1]);
	free(plan);
	n = roster_plan_each(&r, RA_REMOVE, &plan);
	assert_int_equal(n, 2);
	assert_int_equal(plan[1].action, RA_REMOVE);
	assert_ptr_equal(plan[1].have, &r.items[1]);
	assert_null(plan[1].want);
	free(plan);
	roster_free(&r);
	n = roster_plan_each(&r, RA_REMOVE, &plan);
	assert_int_equal(n, 0);
	free(plan);
}

static void
roster_plan_record__writes__action_and_item(void **state)
{
	char *groups[] = { "Work, Inc", "B" };
	struct rec_strings k = { { 0 }, 0 };
	struct roster r;
	struct roster_item it = item("bob@x", "Bob", groups, 2);
	struct roster_change c;
	struct orecord rec;
	char *line;

	roster_init(&r);
	it.subscription = "both";
	it.ask = "subscribe";
	roster_add(&r, &it);
	memset(&c, 0, sizeof(c));
	c.action = RA_UPDATE;
	c.want = &r.items[0];
	c.have = &r.items[0];
	roster_plan_record(&rec, &k, &c, NULL);
	assert_string_equal(rec.kind, "plan");
	/* No subscription, ask or approved: a plan changes none of them. */
	line = line_of(&rec, OUT_TEXT, NULL);
	assert_string_equal(line, "update\tbob@x\tBob\tB,Work\\x2c Inc");
	free(line);
	line = line_of(&rec, OUT_JSON, NULL);
	assert_string_equal(line,
	    "{\"kind\":\"plan\",\"action\":\"update\",\"jid\":\"bob@x\","
	    "\"name\":\"Bob\",\"groups\":[\"B\",\"Work, Inc\"]}");
	free(line);
	line = line_of(&rec, OUT_TEMPLATE, "%A|%j|%n|%g");
	assert_string_equal(line, "update|bob@x|Bob|B,Work\\x2c Inc");
	free(line);
	rec_strings_free(&k);
	/* A removal speaks of the server's item. */
	c.action = RA_REMOVE;
	c.want = NULL;
	c.have = &r.items[0];
	roster_plan_record(&rec, &k, &c, NULL);
	line = line_of(&rec, OUT_TEMPLATE, "%A %j");
	assert_string_equal(line, "remove bob@x");
	free(line);
	rec_strings_free(&k);
	roster_free(&r);
	(void)state;
}

/* --- roster_requests --- */

static void
roster_requests_add__keeps__one_per_jid_in_order(void **state)
{
	static const char *const in[] = {
		"<presence from='Zed@X/r' type='subscribe'/>",
		"<presence from='bob@x' type='subscribe'>"
		"<status>hi, it's Bob</status></presence>",
		"<presence from='carol@x/phone' type='subscribe'/>",
		"<presence from='BOB@x/other' type='subscribe'>"
		"<status>again</status></presence>",
		"<presence from='alice@x' type='subscribe'/>",
		"<presence type='subscribe'/>",
	};
	static const int added[] = { 1, 1, 1, 0, 1, 0 };
	static const char *const want[] = { "alice@x", "bob@x", "carol@x",
		"zed@x" };
	struct roster_requests q;
	xmpp_stanza_t *st;
	size_t i;

	roster_requests_init(&q);
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		st = parse(*state, in[i]);
		assert_int_equal(roster_requests_add(&q, st), added[i]);
		xmpp_stanza_release(st);
	}
	assert_int_equal(q.n, 4);
	for (i = 0; i < q.n; i++) {
		assert_string_equal(q.items[i].jid, want[i]);
		assert_non_null(q.items[i].st);
	}
	/* The first request of a JID is kept, with its text. */
	assert_string_equal(q.items[1].status, "hi, it's Bob");
	assert_string_equal(xmpp_stanza_get_from(q.items[1].st), "bob@x");
	assert_null(q.items[0].status);
	roster_requests_free(&q);
	assert_int_equal(q.n, 0);
	roster_requests_free(&q);
}

static void
roster_requests_add__sorts__many_in_any_order(void **state)
{
	struct roster_requests q;
	xmpp_stanza_t *st;
	char *xml;
	size_t i, k;

	/* 97 is prime: i * 37 % 97 visits every number once, scrambled. */
	roster_requests_init(&q);
	for (i = 0; i < 97; i++) {
		k = i * 37 % 97;
		xml = xasprintf(
		    "<presence from='u%02zu@x' type='subscribe'/>", k);
		st = parse(*state, xml);
		assert_int_equal(roster_requests_add(&q, st), 1);
		xmpp_stanza_release(st);
		free(xml);
	}
	assert_int_equal(q.n, 97);
	for (i = 1; i < q.n; i++)
		assert_true(strcmp(q.items[i - 1].jid, q.items[i].jid) < 0);
	roster_requests_free(&q);
}

static void
roster_request_record__writes__jid_and_text(void **state)
{
	struct roster_requests q;
	xmpp_stanza_t *st;
	struct orecord r;
	char *line, *err = NULL;

	roster_requests_init(&q);
	st = parse(*state,
	    "<presence from='bob@x/r' type='subscribe'>"
	    "<status>line\none</status></presence>");
	roster_requests_add(&q, st);
	xmpp_stanza_release(st);
	roster_request_record(&r, &q.items[0]);
	assert_string_equal(r.kind, "pending");
	assert_ptr_equal(r.stanza, q.items[0].st);
	line = line_of(&r, OUT_TEXT, NULL);
	assert_string_equal(line, "bob@x\tline\\none");
	free(line);
	line = line_of(&r, OUT_JSON, NULL);
	assert_string_equal(line,
	    "{\"kind\":\"pending\",\"jid\":\"bob@x\",\"status\":\"line\\none\"}");
	free(line);
	assert_int_equal(
	    output_check_template("%j %m", ROSTER_REQUEST_KEYS, &err), 0);
	roster_requests_free(&q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roster_add__copies__and_sorts_groups_once),
		cmocka_unit_test(roster_add__drops__empty_name),
		cmocka_unit_test(roster_sort__orders__case_insensitively),
		cmocka_unit_test(roster_find__matches__other_ascii_case),
		cmocka_unit_test_setup_teardown(
		    roster_from_stanza__reads__items, setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    roster_from_stanza__ignores__other_payloads, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test(roster_read_file__reads__json_and_text_lines),
		cmocka_unit_test(roster_read_file__reads__escaped_group_names),
		cmocka_unit_test(roster_read_file__accepts__empty_file),
		cmocka_unit_test(roster_read_file__refuses__with_line_numbers),
		cmocka_unit_test(
		    roster_read_file__refuses__nul_and_missing_files),
		cmocka_unit_test(roster_read_file__adds__nothing_on_error),
		cmocka_unit_test(roster_plan__lists__adds_updates_and_removals),
		cmocka_unit_test(roster_plan__matches__jids_as_the_server_does),
		cmocka_unit_test(roster_action_name__names__every_action),
		cmocka_unit_test_setup_teardown(
		    roster_item_stanza__builds__a_roster_set, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    roster_item_stanza__builds__a_removal, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    roster_item_stanza__loses__whitespace_controls, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test(roster_record__writes__text_fields),
		cmocka_unit_test(roster_record__writes__json_fields),
		cmocka_unit_test(roster_record__fills__template_keys),
		cmocka_unit_test(
		    roster_record__roundtrips__awkward_names_in_text),
		cmocka_unit_test(
		    roster_record__roundtrips__awkward_names_in_json),
		cmocka_unit_test(
		    roster_record__roundtrips__jids_starting_with_hash_or_brace),
		cmocka_unit_test_setup_teardown(
		    roster_item_xml__writes__the_item_as_the_server_does,
		    setup_ctx, teardown_ctx),
		cmocka_unit_test(roster_item_in_group__matches__exact_names),
		cmocka_unit_test(roster_edit_apply__replaces__name_and_groups),
		cmocka_unit_test(
		    roster_edit_apply__merges__added_and_removed_groups),
		cmocka_unit_test(roster_plan_each__plans__one_action_per_item),
		cmocka_unit_test(roster_plan_record__writes__action_and_item),
		cmocka_unit_test_setup_teardown(
		    roster_requests_add__keeps__one_per_jid_in_order, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    roster_requests_add__sorts__many_in_any_order, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    roster_request_record__writes__jid_and_text, setup_ctx,
		    teardown_ctx),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
