/* SPDX-License-Identifier: MIT */
/* test_presence.c -- unit tests of common/presence.c (the contact model) */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <strophe.h>

#include "presence.h"
#include "roster.h"
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

/* Applies the presence 'xml' to 'c' (the stanza is released after). */
static void
apply(xmpp_ctx_t *ctx, struct presence_contact *c, const char *xml)
{
	xmpp_stanza_t *st = xmpp_stanza_new_from_string(ctx, xml);

	if (st == NULL)
		fail_msg("libstrophe could not parse %s", xml);
	presence_update(c, st);
	xmpp_stanza_release(st);
}

/* The resource of 'c' whose full JID is 'full', or NULL. */
static const struct presence_resource *
resource(const struct presence_contact *c, const char *full)
{
	size_t i;

	for (i = 0; i < c->nres; i++)
		if (strcmp(c->res[i].full, full) == 0)
			return &c->res[i];
	return NULL;
}

static void
presence_update__tracks__resources_coming_and_going(void **state)
{
	struct presence_book b;
	struct presence_contact *c;
	const struct presence_resource *r;

	presence_book_init(&b);
	c = presence_add(&b, "a@x");
	assert_int_equal(c->heard, 0);
	apply(*state, c,
	    "<presence from='a@x/one'><status>hi</status>"
	    "<priority>5</priority></presence>");
	assert_int_equal(c->heard, 1);
	apply(
	    *state, c, "<presence from='a@x/two'><show>away</show></presence>");
	assert_int_equal(c->nres, 2);
	r = resource(c, "a@x/one");
	assert_non_null(r);
	assert_string_equal(r->state, "available");
	assert_string_equal(r->status, "hi");
	assert_int_equal(r->priority, 5);
	assert_non_null(r->st);
	r = resource(c, "a@x/two");
	assert_non_null(r);
	assert_string_equal(r->state, "away");
	assert_null(r->status);
	assert_int_equal(r->priority, 0);

	/* A new presence of a resource replaces what it said. */
	apply(
	    *state, c, "<presence from='a@x/one'><show>dnd</show></presence>");
	assert_int_equal(c->nres, 2);
	r = resource(c, "a@x/one");
	assert_string_equal(r->state, "dnd");
	assert_null(r->status);
	assert_int_equal(r->priority, 0);

	/* Unavailable drops the resource; an unknown one changes nothing. */
	apply(*state, c, "<presence from='a@x/one' type='unavailable'/>");
	assert_int_equal(c->nres, 1);
	assert_null(resource(c, "a@x/one"));
	apply(*state, c, "<presence from='a@x/three' type='unavailable'/>");
	assert_int_equal(c->nres, 1);
	apply(*state, c, "<presence from='a@x/two' type='unavailable'/>");
	assert_int_equal(c->nres, 0);
	assert_string_equal(presence_contact_state(c), "unavailable");
	presence_book_free(&b);
	assert_int_equal(b.n, 0);
	assert_null(b.c);
}

static void
presence_update__takes__unknown_show_as_available(void **state)
{
	struct presence_book b;
	struct presence_contact *c;

	presence_book_init(&b);
	c = presence_add(&b, "a@x");
	apply(*state, c,
	    "<presence from='a@x/r'><show>sleeping</show>"
	    "<priority>-3</priority></presence>");
	assert_string_equal(c->res[0].state, "available");
	assert_int_equal(c->res[0].priority, -3);
	apply(*state, c,
	    "<presence from='a@x/r'><show>unavailable</show></presence>");
	assert_string_equal(c->res[0].state, "available");
	presence_book_free(&b);
}

static void
presence_contact_state__prefers__priority_then_show(void **state)
{
	struct presence_book b;
	struct presence_contact *c;

	presence_book_init(&b);
	c = presence_add(&b, "a@x");
	assert_string_equal(presence_contact_state(c), "unavailable");
	/* The highest priority wins, even with a worse show. */
	apply(*state, c,
	    "<presence from='a@x/low'><show>chat</show>"
	    "<priority>1</priority></presence>");
	apply(*state, c,
	    "<presence from='a@x/high'><show>xa</show>"
	    "<priority>7</priority></presence>");
	assert_string_equal(presence_contact_state(c), "xa");
	/* At equal priority the more reachable show wins. */
	apply(*state, c,
	    "<presence from='a@x/mid'><show>away</show>"
	    "<priority>7</priority></presence>");
	assert_string_equal(presence_contact_state(c), "away");
	apply(*state, c,
	    "<presence from='a@x/plain'><priority>7</priority></presence>");
	assert_string_equal(presence_contact_state(c), "available");
	apply(*state, c,
	    "<presence from='a@x/talk'><show>chat</show>"
	    "<priority>7</priority></presence>");
	assert_string_equal(presence_contact_state(c), "chat");
	/* The best resource leaves: the next best is the state. */
	apply(*state, c, "<presence from='a@x/talk' type='unavailable'/>");
	assert_string_equal(presence_contact_state(c), "available");
	presence_book_free(&b);
}

static void
presence_show_rank__orders__states(void **state)
{
	(void)state;
	assert_true(
	    presence_show_rank("chat") < presence_show_rank("available"));
	assert_true(
	    presence_show_rank("available") < presence_show_rank("away"));
	assert_true(presence_show_rank("away") < presence_show_rank("xa"));
	assert_true(presence_show_rank("xa") < presence_show_rank("dnd"));
	assert_int_equal(presence_show_rank("dnd"), 4);
	assert_int_equal(presence_show_rank("unavailable"), 99);
	assert_int_equal(presence_show_rank(""), 99);
	assert_int_equal(presence_show_rank("Away"), 99);
}

static void
presence_is_state__knows__the_states(void **state)
{
	static const char *const states[] = { "available", "away", "chat",
		"dnd", "xa" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		assert_true(presence_is_state(states[i], 0));
		assert_true(presence_is_state(states[i], 1));
	}
	assert_false(presence_is_state("unavailable", 0));
	assert_true(presence_is_state("unavailable", 1));
	assert_false(presence_is_state("online", 1));
	assert_false(presence_is_state("", 1));

	assert_null(presence_show_of("available"));
	assert_null(presence_show_of("unavailable"));
	assert_null(presence_show_of("nonsense"));
	assert_string_equal(presence_show_of("away"), "away");
	assert_string_equal(presence_show_of("chat"), "chat");
	assert_string_equal(presence_show_of("dnd"), "dnd");
	assert_string_equal(presence_show_of("xa"), "xa");
}

static void
presence_state_holds__answers__wait_until(void **state)
{
	struct presence_book b;
	struct presence_contact *a, *z;

	presence_book_init(&b);
	presence_add(&b, "a@x");
	presence_add(&b, "z@x");
	a = &b.c[0];
	z = &b.c[1];
	/* Nobody online: unavailable holds for all, nothing else. */
	assert_true(presence_state_holds(a, "unavailable"));
	assert_false(presence_state_holds(a, "available"));
	assert_false(presence_state_holds(a, "away"));
	assert_int_equal(presence_first_pending(&b, 0, "unavailable"), 2);
	assert_int_equal(presence_first_pending(&b, 0, "available"), 0);

	apply(*state, a, "<presence from='a@x/r'><show>away</show></presence>");
	/* Any resource is available, whatever its show. */
	assert_true(presence_state_holds(a, "available"));
	assert_true(presence_state_holds(a, "away"));
	assert_false(presence_state_holds(a, "dnd"));
	assert_false(presence_state_holds(a, "unavailable"));
	assert_int_equal(presence_first_pending(&b, 0, "available"), 1);
	assert_int_equal(presence_first_pending(&b, 0, "unavailable"), 0);
	assert_int_equal(presence_first_pending(&b, 1, "unavailable"), 2);

	apply(*state, z, "<presence from='z@x/r'/>");
	assert_int_equal(presence_first_pending(&b, 0, "available"), 2);
	assert_int_equal(presence_first_pending(&b, 0, "away"), 1);
	presence_book_free(&b);
}

static void
presence_find__matches__bare_jid_in_any_case(void **state)
{
	struct presence_book b;
	struct presence_contact *c;

	presence_book_init(&b);
	assert_null(presence_find(&b, "a@x"));
	presence_add(&b, "a@x");
	presence_add(&b, "b@x");
	c = presence_find(&b, "B@X/laptop");
	assert_non_null(c);
	assert_string_equal(c->jid, "b@x");
	assert_ptr_equal(presence_find(&b, "a@x"), &b.c[0]);
	assert_null(presence_find(&b, "c@x"));
	assert_null(presence_find(&b, "x"));

	apply(*state, c, "<presence from='b@x/laptop'/>");
	apply(*state, &b.c[0], "<presence from='a@x/r'/>");
	presence_forget(&b);
	assert_int_equal(b.n, 2);
	assert_int_equal(b.c[0].nres, 0);
	assert_int_equal(b.c[1].nres, 0);
	assert_int_equal(b.c[1].heard, 1);
	presence_book_free(&b);
	/* Freeing an empty book is fine. */
	presence_book_free(&b);
}

static void
presence_subscriptions__marks__who_we_may_see(void **state)
{
	static const char *const subs[][2] = { { "a@x", "both" },
		{ "b@x", "to" }, { "c@x", "from" }, { "d@x", "none" },
		{ "e@y", "to" } };
	struct presence_book b;
	struct roster r;
	struct roster_item it;
	size_t i;

	(void)state;
	roster_init(&r);
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		memset(&it, 0, sizeof(it));
		it.jid = (char *)subs[i][0];
		it.subscription = (char *)subs[i][1];
		roster_add(&r, &it);
	}
	/* Named contacts: marked, none added. */
	presence_book_init(&b);
	presence_add(&b, "c@x");
	presence_add(&b, "B@X");
	presence_add(&b, "z@x");
	b.c[2].subscribed = 1;
	presence_subscriptions(&b, &r, 0);
	assert_int_equal(b.n, 3);
	assert_int_equal(b.c[0].subscribed, 0);
	assert_int_equal(b.c[1].subscribed, 1);
	assert_int_equal(b.c[2].subscribed, 1); /* not in the roster */
	presence_book_free(&b);
	/* The whole roster: only those we may see are added. */
	presence_book_init(&b);
	presence_subscriptions(&b, &r, 1);
	assert_int_equal(b.n, 3);
	assert_string_equal(b.c[0].jid, "a@x");
	assert_string_equal(b.c[1].jid, "b@x");
	assert_string_equal(b.c[2].jid, "e@y");
	for (i = 0; i < b.n; i++)
		assert_int_equal(b.c[i].subscribed, 1);
	presence_book_free(&b);
	roster_free(&r);
}

static void
presence_awaited__other_servers_and_local_sessions(void **state)
{
	struct presence_book b;

	presence_book_init(&b);
	assert_false(presence_awaited(&b, "x"));
	presence_add(&b, "a@x")->subscribed = 1;
	presence_add(&b, "gateway.y");
	/* A local contact with no resource is not waited for. */
	assert_false(presence_awaited(&b, "x"));
	/* A remote one that we may not see neither. */
	assert_false(presence_awaited(&b, "X"));
	b.c[1].subscribed = 1;
	assert_true(presence_awaited(&b, "x"));
	apply(*state, &b.c[1], "<presence from='gateway.y/r'/>");
	assert_false(presence_awaited(&b, "x"));
	/* Seen from server y, a@x is the remote one. */
	assert_true(presence_awaited(&b, "y"));
	/* A local one whose server says it is connected is awaited. */
	b.c[0].has_session = 1;
	assert_true(presence_awaited(&b, "x"));
	apply(*state, &b.c[0], "<presence from='a@x/r'/>");
	assert_false(presence_awaited(&b, "x"));
	assert_true(presence_is_local(&b.c[0], "X"));
	assert_false(presence_is_local(&b.c[1], "x"));
	presence_book_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    presence_update__tracks__resources_coming_and_going,
		    setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    presence_update__takes__unknown_show_as_available,
		    setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    presence_contact_state__prefers__priority_then_show,
		    setup_ctx, teardown_ctx),
		cmocka_unit_test(presence_show_rank__orders__states),
		cmocka_unit_test(presence_is_state__knows__the_states),
		cmocka_unit_test_setup_teardown(
		    presence_state_holds__answers__wait_until, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    presence_find__matches__bare_jid_in_any_case, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test(presence_subscriptions__marks__who_we_may_see),
		cmocka_unit_test_setup_teardown(
		    presence_awaited__other_servers_and_local_sessions,
		    setup_ctx, teardown_ctx),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
