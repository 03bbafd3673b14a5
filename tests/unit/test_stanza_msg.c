/* SPDX-License-Identifier: MIT */
/* test_stanza_msg.c -- unit tests of the message builders of common/stanza.c */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <strophe.h>

#include "stanza.h"
#include "util.h"

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

/* Serializes 'st' (libstrophe writes attributes in name order), compares
 * with 'want' and releases 'st'. */
static void
expect_xml(xmpp_stanza_t *st, const char *want)
{
	xmpp_ctx_t *ctx = xmpp_stanza_get_context(st);
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(xmpp_stanza_to_text(st, &text, &len), XMPP_EOK);
	assert_non_null(text);
	if (strcmp(text, want) != 0)
		fail_msg("got  %s\nwant %s", text, want);
	xmpp_free(ctx, text);
	xmpp_stanza_release(st);
}

static xmpp_stanza_t *
parse(xmpp_ctx_t *ctx, const char *xml)
{
	xmpp_stanza_t *st = xmpp_stanza_new_from_string(ctx, xml);

	if (st == NULL)
		fail_msg("libstrophe could not parse %s", xml);
	return st;
}

/* --- stanza_give_id --- */

static void
stanza_give_id__replaces__the_id_of_a_message(void **state)
{
	xmpp_stanza_t *st = parse(*state,
	    "<message to='bob@example.com' id='dup'><body>hi</body>"
	    "<origin-id xmlns='urn:xmpp:sid:0' id='dup'/></message>");

	stanza_give_id(st, "fresh-1");
	assert_string_equal(xmpp_stanza_get_id(st), "fresh-1");
	/* The body and the origin-id (the sender's) stay as they were. */
	expect_xml(st,
	    "<message id=\"fresh-1\" to=\"bob@example.com\"><body>hi</body>"
	    "<origin-id id=\"dup\" xmlns=\"urn:xmpp:sid:0\"/></message>");
}

static void
stanza_give_id__adds__an_id_where_there_was_none(void **state)
{
	xmpp_stanza_t *st = parse(*state,
	    "<iq type='get' to='example.com'>"
	    "<query xmlns='jabber:iq:version'/></iq>");

	stanza_give_id(st, "q-2");
	expect_xml(st,
	    "<iq id=\"q-2\" to=\"example.com\" type=\"get\">"
	    "<query xmlns=\"jabber:iq:version\"/></iq>");
}

static void
stanza_give_id__escapes__the_id_and_copies_it(void **state)
{
	xmpp_stanza_t *st = parse(*state, "<presence id=''/>");
	char id[] = "a&b<'\"";

	stanza_give_id(st, id);
	id[0] = 'z'; /* the stanza has its own copy */
	assert_string_equal(xmpp_stanza_get_id(st), "a&b<'\"");
	expect_xml(st, "<presence id=\"a&amp;b&lt;'&quot;\"/>");
}

static void
stanza_give_id__keeps__a_built_message_intact(void **state)
{
	struct msg_spec m = { 0 };
	xmpp_stanza_t *st;

	m.to = "room@muc.example.com";
	m.type = "groupchat";
	m.id = "old";
	m.body = "x";
	st = stanza_message(*state, &m);
	stanza_give_id(st, "new");
	expect_xml(st,
	    "<message id=\"new\" to=\"room@muc.example.com\" "
	    "type=\"groupchat\"><body>x</body>"
	    "<origin-id id=\"old\" xmlns=\"urn:xmpp:sid:0\"/></message>");
}

/* --- xlisten's answers --- */

static void
stanza_receipt__names__the_message_received(void **state)
{
	expect_xml(stanza_receipt(*state, "bob@example.com/r", "rc-1", "m&1"),
	    "<message id=\"rc-1\" to=\"bob@example.com/r\">"
	    "<received id=\"m&amp;1\" xmlns=\"urn:xmpp:receipts\"/></message>");
}

static void
stanza_carbons_enable__is__an_iq_set(void **state)
{
	expect_xml(stanza_carbons_enable(*state, "cb-1"),
	    "<iq id=\"cb-1\" type=\"set\">"
	    "<enable xmlns=\"urn:xmpp:carbons:2\"/></iq>");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    stanza_give_id__replaces__the_id_of_a_message, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    stanza_give_id__adds__an_id_where_there_was_none, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    stanza_give_id__escapes__the_id_and_copies_it, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    stanza_give_id__keeps__a_built_message_intact, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    stanza_receipt__names__the_message_received, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    stanza_carbons_enable__is__an_iq_set, setup_ctx,
		    teardown_ctx),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
