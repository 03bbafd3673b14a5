/* SPDX-License-Identifier: MIT */
/* test_stanza_build.c -- unit tests of the presence and roster builders of
 * common/stanza.c, compared as serialized XML */

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

/* The serialization of 'st' (allocated, caller frees). */
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

/*
 * Compares the serialization of 'st' with 'want' and releases 'st'.
 * libstrophe writes attributes in the order of its hash table, so 'want'
 * goes through the same parser and serializer: attributes may be written
 * in any order, children and text must be exactly as built.
 */
static void
expect_xml(xmpp_stanza_t *st, const char *want)
{
	xmpp_stanza_t *w =
	    xmpp_stanza_new_from_string(xmpp_stanza_get_context(st), want);
	char *got, *canon;

	if (w == NULL)
		fail_msg("libstrophe could not parse %s", want);
	got = serialize(st);
	canon = serialize(w);
	if (strcmp(got, canon) != 0)
		fail_msg("got  %s\nwant %s", got, canon);
	free(got);
	free(canon);
	xmpp_stanza_release(w);
	xmpp_stanza_release(st);
}

static void
stanza_presence__builds__plain_and_typed(void **state)
{
	struct pres_spec p;

	memset(&p, 0, sizeof(p));
	expect_xml(stanza_presence(*state, &p), "<presence/>");
	p.type = "unavailable";
	expect_xml(
	    stanza_presence(*state, &p), "<presence type=\"unavailable\"/>");
	memset(&p, 0, sizeof(p));
	p.to = "room@muc.x/nick";
	p.type = "unavailable";
	expect_xml(stanza_presence(*state, &p),
	    "<presence to=\"room@muc.x/nick\" type=\"unavailable\"/>");
}

static void
stanza_presence__orders__show_status_priority(void **state)
{
	struct pres_spec p;

	memset(&p, 0, sizeof(p));
	p.show = "away";
	p.status = "at <lunch> & back";
	p.has_priority = 1;
	p.priority = -1;
	expect_xml(stanza_presence(*state, &p),
	    "<presence><show>away</show>"
	    "<status>at &lt;lunch&gt; &amp; back</status>"
	    "<priority>-1</priority></presence>");
	/* Empty texts are left out; priority 0 is a priority. */
	p.show = "";
	p.status = "";
	p.priority = 0;
	expect_xml(stanza_presence(*state, &p),
	    "<presence><priority>0</priority></presence>");
	p.has_priority = 0;
	p.priority = 127;
	expect_xml(stanza_presence(*state, &p), "<presence/>");
}

static void
stanza_presence__joins__room_without_history(void **state)
{
	struct pres_spec p;

	memset(&p, 0, sizeof(p));
	p.to = "room@muc.x/bot";
	p.muc_join = 1;
	p.show = "dnd";
	p.has_priority = 1;
	p.priority = 5;
	expect_xml(stanza_presence(*state, &p),
	    "<presence to=\"room@muc.x/bot\">"
	    "<x xmlns=\"http://jabber.org/protocol/muc\">"
	    "<history maxstanzas=\"0\"/></x>"
	    "<show>dnd</show><priority>5</priority></presence>");
}

static void
stanza_presence__carries__subscription_request(void **state)
{
	struct pres_spec p;

	memset(&p, 0, sizeof(p));
	p.to = "bob@x";
	p.type = "subscribe";
	p.id = "r1";
	p.status = "it's me";
	expect_xml(stanza_presence(*state, &p),
	    "<presence id=\"r1\" to=\"bob@x\" type=\"subscribe\">"
	    "<status>it's me</status></presence>");
}

static void
stanza_roster_get__builds__query(void **state)
{
	expect_xml(stanza_roster_get(*state, "g1"),
	    "<iq id=\"g1\" type=\"get\">"
	    "<query xmlns=\"jabber:iq:roster\"/></iq>");
}

static void
stanza_roster_set__builds__item_with_groups(void **state)
{
	char *groups[] = { "Friends", "Work & Play" };
	struct roster_spec r;

	memset(&r, 0, sizeof(r));
	r.jid = "bob@x";
	expect_xml(stanza_roster_set(*state, "s1", &r),
	    "<iq id=\"s1\" type=\"set\"><query xmlns=\"jabber:iq:roster\">"
	    "<item jid=\"bob@x\"/></query></iq>");
	r.name = "Bob \"B\"";
	r.groups = groups;
	r.ngroups = 2;
	expect_xml(stanza_roster_set(*state, "s2", &r),
	    "<iq id=\"s2\" type=\"set\"><query xmlns=\"jabber:iq:roster\">"
	    "<item jid=\"bob@x\" name=\"Bob &quot;B&quot;\">"
	    "<group>Friends</group><group>Work &amp; Play</group>"
	    "</item></query></iq>");
	/* An empty name is no name. */
	r.name = "";
	r.ngroups = 0;
	expect_xml(stanza_roster_set(*state, "s3", &r),
	    "<iq id=\"s3\" type=\"set\"><query xmlns=\"jabber:iq:roster\">"
	    "<item jid=\"bob@x\"/></query></iq>");
}

static void
stanza_roster_set__removes__with_jid_only(void **state)
{
	char *groups[] = { "Friends" };
	struct roster_spec r;

	memset(&r, 0, sizeof(r));
	r.jid = "bob@x";
	r.name = "Bob";
	r.groups = groups;
	r.ngroups = 1;
	r.subscription = "remove";
	expect_xml(stanza_roster_set(*state, "d1", &r),
	    "<iq id=\"d1\" type=\"set\"><query xmlns=\"jabber:iq:roster\">"
	    "<item jid=\"bob@x\" subscription=\"remove\"/></query></iq>");
}

static void
stanza_roster_item__carries__subscription_and_ask(void **state)
{
	char *groups[] = { "G" };
	struct roster_spec r;

	memset(&r, 0, sizeof(r));
	r.jid = "carol@x";
	r.name = "Carol";
	r.groups = groups;
	r.ngroups = 1;
	r.subscription = "none";
	r.ask = "subscribe";
	expect_xml(stanza_roster_item(*state, &r),
	    "<item ask=\"subscribe\" jid=\"carol@x\" name=\"Carol\" "
	    "subscription=\"none\"><group>G</group></item>");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    stanza_presence__builds__plain_and_typed, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    stanza_presence__orders__show_status_priority, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    stanza_presence__joins__room_without_history, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    stanza_presence__carries__subscription_request, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    stanza_roster_get__builds__query, setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    stanza_roster_set__builds__item_with_groups, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    stanza_roster_set__removes__with_jid_only, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    stanza_roster_item__carries__subscription_and_ask,
		    setup_ctx, teardown_ctx),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
