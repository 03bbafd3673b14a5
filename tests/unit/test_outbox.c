/* SPDX-License-Identifier: MIT */
/* test_outbox.c -- unit tests of common/outbox.c (delivery bookkeeping) */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "outbox.h"
#include "testutil.h"
#include "util.h"

/* What the callbacks saw. */
struct seen {
	struct buf settled; /* "id " or "id! " (failed) per settled item */
	struct buf expired; /* "id " per expired item */
	size_t released; /* payloads released */
	size_t nsettled;
	unsigned long last_line; /* line of the last settled item */
	int out_of_order; /* a settled line lower than the one before */
};

static struct seen seen;

static void
release(void *payload)
{
	seen.released++;
	free(payload);
}

static void
on_settled(struct outbox_item *it, void *ud)
{
	assert_ptr_equal(ud, &seen);
	buf_adds(&seen.settled, it->id);
	buf_adds(&seen.settled, it->failed ? "! " : " ");
	if (it->line < seen.last_line)
		seen.out_of_order = 1;
	seen.last_line = it->line;
	seen.nsettled++;
}

static void
on_expired(struct outbox_item *it, void *ud)
{
	assert_ptr_equal(ud, &seen);
	buf_adds(&seen.expired, it->id);
	buf_adds(&seen.expired, " ");
}

static const char *
settled(void)
{
	return seen.settled.data ? seen.settled.data : "";
}

static struct outbox *
new_box(size_t max_items, size_t max_barriers, size_t every)
{
	struct outbox_window w = { max_items, max_barriers, every };

	buf_free(&seen.settled);
	buf_free(&seen.expired);
	memset(&seen, 0, sizeof(seen));
	buf_init(&seen.settled);
	buf_init(&seen.expired);
	return outbox_new(&w, release, on_settled, &seen);
}

static void
end_box(struct outbox *ob)
{
	outbox_free(ob);
	buf_free(&seen.settled);
	buf_free(&seen.expired);
}

/* Adds and sends an item with a payload (a copy of its id). */
static struct outbox_item *
add_sent(struct outbox *ob, const char *id, unsigned waits)
{
	struct outbox_item *it = outbox_add(ob, id, xstrdup(id), waits);

	outbox_sent(ob, it);
	return it;
}

/* --- adding, finding, the order --- */

static void
outbox_add__keeps__order_ids_and_payloads(void **state)
{
	struct outbox *ob = new_box(10, 2, 5);
	struct outbox_item *a, *b, *c;

	(void)state;
	a = outbox_add(ob, "a", xstrdup("A"), 0);
	b = outbox_add(ob, "b", NULL, OUTBOX_ECHO);
	c = outbox_add(ob, "c", xstrdup("C"), OUTBOX_RECEIPT | OUTBOX_ECHO);
	assert_int_equal(outbox_count(ob), 3);
	assert_int_equal(outbox_added(ob), 3);
	assert_ptr_equal(outbox_next(ob, NULL), a);
	assert_ptr_equal(outbox_next(ob, a), b);
	assert_ptr_equal(outbox_next(ob, b), c);
	assert_null(outbox_next(ob, c));
	assert_ptr_equal(outbox_find(ob, "b"), b);
	assert_ptr_equal(outbox_find(ob, "c"), c);
	assert_null(outbox_find(ob, "d"));
	assert_null(outbox_find(ob, NULL));
	assert_string_equal(a->payload, "A");
	assert_null(b->payload);
	assert_int_equal(c->waits, OUTBOX_RECEIPT | OUTBOX_ECHO);
	assert_false(a->confirmed);
	assert_false(a->failed);
	end_box(ob);
	assert_int_equal(seen.released, 2);
	assert_int_equal(seen.nsettled, 0);
}

static void
outbox_find__returns__the_newest_of_a_duplicate_id(void **state)
{
	struct outbox *ob = new_box(10, 2, 5);
	struct outbox_item *old, *young;

	(void)state;
	old = outbox_add(ob, "same", NULL, 0);
	young = outbox_add(ob, "same", NULL, 0);
	assert_ptr_equal(outbox_find(ob, "same"), young);
	outbox_sent(ob, old);
	outbox_sent(ob, young);
	outbox_answered(ob, outbox_barrier(ob), 1);
	assert_null(outbox_find(ob, "same"));
	end_box(ob);
}

static void
outbox_find__finds__every_one_of_thousands(void **state)
{
	struct outbox *ob = new_box(100000, 8, 200);
	char id[32];
	int i;

	(void)state;
	for (i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "id-%d", i);
		outbox_add(ob, id, NULL, 0)->line = (unsigned long)i;
	}
	for (i = 4999; i >= 0; i--) {
		snprintf(id, sizeof(id), "id-%d", i);
		assert_non_null(outbox_find(ob, id));
		assert_int_equal(outbox_find(ob, id)->line, i);
	}
	assert_null(outbox_find(ob, "id-5000"));
	end_box(ob);
}

/* --- barriers --- */

static void
outbox_barrier__confirms__what_was_sent_before_it_only(void **state)
{
	struct outbox *ob = new_box(10, 4, 100);
	struct outbox_item *c;
	unsigned long b1;

	(void)state;
	assert_int_equal(outbox_barrier(ob), 0); /* nothing sent */
	add_sent(ob, "a", 0);
	add_sent(ob, "b", 0);
	b1 = outbox_barrier(ob);
	assert_int_not_equal(b1, 0);
	assert_int_equal(outbox_barrier(ob), 0); /* everything covered */
	c = add_sent(ob, "c", 0);
	outbox_add(ob, "d", xstrdup("d"), 0); /* never sent */
	assert_int_equal(outbox_barriers(ob), 1);
	assert_int_equal(outbox_answered(ob, b1, 42), 2);
	assert_string_equal(settled(), "a b ");
	assert_int_equal(outbox_count(ob), 2);
	assert_false(c->confirmed);
	assert_int_equal(outbox_barriers(ob), 0);
	assert_int_equal(outbox_confirmed(ob), 2);
	/* The same answer twice, or a token never given: nothing. */
	assert_int_equal(outbox_answered(ob, b1, 43), 0);
	assert_int_equal(outbox_answered(ob, 999, 43), 0);
	assert_int_equal(outbox_answered(ob, 0, 43), 0);
	assert_int_equal(outbox_answered(ob, outbox_barrier(ob), 44), 1);
	assert_string_equal(settled(), "a b c ");
	assert_int_equal(seen.released, 3);
	end_box(ob);
	assert_int_equal(seen.released, 4);
}

static void
outbox_barrier__stops__at_the_window(void **state)
{
	struct outbox *ob = new_box(100, 3, 100);
	unsigned long t[4];
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		add_sent(ob, i == 0 ? "a" : i == 1 ? "b" : "c", 0);
		t[i] = outbox_barrier(ob);
		assert_int_not_equal(t[i], 0);
	}
	add_sent(ob, "d", 0);
	assert_int_equal(outbox_barriers(ob), 3);
	assert_int_equal(outbox_barrier(ob), 0); /* the window is full */
	assert_int_equal(outbox_answered(ob, t[0], 1), 1);
	t[3] = outbox_barrier(ob); /* room again: d gets its barrier */
	assert_int_not_equal(t[3], 0);
	assert_true(t[3] != t[1] && t[3] != t[2] && t[3] != t[0]);
	assert_int_equal(outbox_barriers(ob), 3);
	assert_int_equal(outbox_answered(ob, t[3], 2), 3);
	assert_string_equal(settled(), "a b c d ");
	end_box(ob);
}

static void
outbox_answered__out_of_order__confirms_all_before_the_later(void **state)
{
	struct outbox *ob = new_box(100, 8, 100);
	unsigned long b1, b2, b3;

	(void)state;
	add_sent(ob, "a", 0);
	b1 = outbox_barrier(ob);
	add_sent(ob, "b", 0);
	b2 = outbox_barrier(ob);
	add_sent(ob, "c", 0);
	b3 = outbox_barrier(ob);
	/* b2 first: a and b are in, c not yet. */
	assert_int_equal(outbox_answered(ob, b2, 10), 2);
	assert_string_equal(settled(), "a b ");
	/* b1 late: nothing new, but it is no longer in flight. */
	assert_int_equal(outbox_barriers(ob), 2);
	assert_int_equal(outbox_answered(ob, b1, 11), 0);
	assert_int_equal(outbox_barriers(ob), 1);
	assert_int_equal(outbox_answered(ob, b3, 12), 1);
	assert_string_equal(settled(), "a b c ");
	assert_int_equal(outbox_barriers(ob), 0);
	assert_int_equal(outbox_count(ob), 0);
	end_box(ob);
}

static void
outbox_barrier_due__after__barrier_every_sent(void **state)
{
	struct outbox *ob = new_box(100, 1, 3);
	char id[16];
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		assert_false(outbox_barrier_due(ob));
		snprintf(id, sizeof(id), "%d", i);
		outbox_add(ob, id, NULL, 0);
		assert_false(outbox_barrier_due(ob)); /* added is not sent */
		outbox_sent(ob, outbox_find(ob, id));
	}
	assert_true(outbox_barrier_due(ob));
	assert_int_not_equal(outbox_barrier(ob), 0);
	assert_false(outbox_barrier_due(ob));
	for (i = 3; i < 6; i++) {
		snprintf(id, sizeof(id), "%d", i);
		add_sent(ob, id, 0);
	}
	/* Due, though the window (one barrier) has no room. */
	assert_true(outbox_barrier_due(ob));
	assert_int_equal(outbox_barrier(ob), 0);
	end_box(ob);
}

static void
outbox_full__at__max_items(void **state)
{
	struct outbox *ob = new_box(2, 1, 100);

	(void)state;
	assert_false(outbox_full(ob));
	add_sent(ob, "a", 0);
	assert_false(outbox_full(ob));
	add_sent(ob, "b", OUTBOX_RECEIPT);
	assert_true(outbox_full(ob));
	outbox_answered(ob, outbox_barrier(ob), 5);
	assert_false(outbox_full(ob)); /* a left, b waits for its receipt */
	assert_int_equal(outbox_count(ob), 1);
	end_box(ob);
}

static void
outbox_sent__twice__counts_once(void **state)
{
	struct outbox *ob = new_box(10, 2, 2);
	struct outbox_item *a = add_sent(ob, "a", 0);

	(void)state;
	outbox_sent(ob, a);
	assert_false(outbox_barrier_due(ob));
	outbox_answered(ob, outbox_barrier(ob), 1);
	assert_string_equal(settled(), "a ");
	end_box(ob);
}

/* --- what an item waits for --- */

static void
outbox_done__settles__only_when_confirmed_and_nothing_left(void **state)
{
	struct outbox *ob = new_box(10, 2, 100);
	struct outbox_item *a, *b;

	(void)state;
	a = add_sent(ob, "a", OUTBOX_ECHO | OUTBOX_RECEIPT);
	b = add_sent(ob, "b", OUTBOX_REPLY);
	outbox_done(ob, b, OUTBOX_REPLY); /* the reply before the barrier */
	assert_string_equal(settled(), "");
	outbox_answered(ob, outbox_barrier(ob), 7);
	assert_string_equal(settled(), "b ");
	assert_true(a->confirmed);
	assert_int_equal(a->confirmed_at, 7);
	outbox_done(ob, a, OUTBOX_ECHO);
	assert_string_equal(settled(), "b ");
	assert_int_equal(a->waits, OUTBOX_RECEIPT);
	outbox_done(ob, a, OUTBOX_RECEIPT);
	assert_string_equal(settled(), "b a ");
	assert_int_equal(outbox_count(ob), 0);
	end_box(ob);
}

static void
outbox_bounce__fails__and_settles_once_confirmed(void **state)
{
	struct outbox *ob = new_box(10, 2, 100);
	struct outbox_item *a, *b;

	(void)state;
	a = add_sent(ob, "a", OUTBOX_RECEIPT);
	b = add_sent(ob, "b", OUTBOX_RECEIPT);
	outbox_bounce(ob, a); /* before the barrier: kept until confirmed */
	assert_true(a->failed);
	assert_int_equal(a->waits, 0);
	assert_string_equal(settled(), "");
	outbox_answered(ob, outbox_barrier(ob), 3);
	assert_string_equal(settled(), "a! ");
	outbox_bounce(ob, b); /* confirmed: settled at once */
	assert_string_equal(settled(), "a! b! ");
	assert_int_equal(outbox_confirmed(ob), 2);
	end_box(ob);
}

static void
outbox_expire__gives_up__confirmed_items_past_the_limit(void **state)
{
	struct outbox *ob = new_box(10, 4, 100);

	(void)state;
	add_sent(ob, "a", OUTBOX_ECHO);
	add_sent(ob, "b", OUTBOX_RECEIPT);
	outbox_answered(ob, outbox_barrier(ob), 1000);
	add_sent(ob, "c", OUTBOX_RECEIPT);
	outbox_answered(ob, outbox_barrier(ob), 1500);
	add_sent(ob, "d", OUTBOX_RECEIPT); /* never confirmed */
	assert_int_equal(outbox_expire(ob, 2999, 2000, on_expired, &seen), 0);
	assert_int_equal(outbox_expire(ob, 3000, 2000, on_expired, &seen), 2);
	assert_string_equal(seen.expired.data, "a b ");
	assert_string_equal(settled(), "a! b! ");
	assert_int_equal(outbox_expire(ob, 3499, 2000, on_expired, &seen), 0);
	assert_int_equal(outbox_expire(ob, 9999, 2000, NULL, NULL), 1);
	assert_string_equal(settled(), "a! b! c! ");
	assert_int_equal(outbox_count(ob), 1);
	assert_non_null(outbox_find(ob, "d"));
	end_box(ob);
}

/* --- a lost stream --- */

static void
outbox_lost__resends__every_unconfirmed_item_in_order(void **state)
{
	struct outbox *ob = new_box(10, 4, 100);
	struct outbox_item *it, *e;
	unsigned long old;
	struct buf order;

	(void)state;
	add_sent(ob, "a", OUTBOX_ECHO); /* confirmed, waits for its echo */
	outbox_answered(ob, outbox_barrier(ob), 1);
	add_sent(ob, "b", 0);
	old = outbox_barrier(ob);
	add_sent(ob, "c", 0);
	outbox_add(ob, "d", xstrdup("d"), 0); /* added, not sent yet */
	e = add_sent(ob, "e", OUTBOX_RECEIPT);
	outbox_bounce(ob, e); /* bounced, never confirmed: sent again */
	outbox_lost(ob);
	assert_int_equal(outbox_barriers(ob), 0);
	assert_int_equal(outbox_barrier(ob), 0); /* nothing on this stream */
	assert_int_equal(outbox_answered(ob, old, 2), 0); /* stale */
	buf_init(&order);
	for (it = outbox_next_unsent(ob, NULL); it;
	     it = outbox_next_unsent(ob, it)) {
		buf_adds(&order, it->id);
		buf_adds(&order, "=");
		buf_adds(&order, it->payload);
		buf_adds(&order, " ");
	}
	assert_string_equal(order.data, "b=b c=c d=d e=e ");
	buf_free(&order);
	/* Sent again, and a new barrier confirms them all. */
	for (it = outbox_next_unsent(ob, NULL); it;
	     it = outbox_next_unsent(ob, it))
		outbox_sent(ob, it);
	assert_null(outbox_next_unsent(ob, NULL));
	outbox_answered(ob, outbox_barrier(ob), 3);
	assert_string_equal(settled(), "b c d e! ");
	assert_int_equal(outbox_count(ob), 1); /* a still waits */
	assert_int_equal(outbox_confirmed(ob), 5);
	assert_int_equal(outbox_added(ob), 5);
	end_box(ob);
}

static void
outbox_lost__before_resending__keeps_new_barriers_off_them(void **state)
{
	struct outbox *ob = new_box(10, 4, 100);

	(void)state;
	add_sent(ob, "a", 0);
	outbox_lost(ob);
	/* A new message goes out before a (say, rooms not rejoined yet):
	 * its barrier must not confirm a, which is not on this stream. */
	add_sent(ob, "b", 0);
	outbox_answered(ob, outbox_barrier(ob), 1);
	assert_string_equal(settled(), "b ");
	assert_false(outbox_find(ob, "a")->confirmed);
	outbox_sent(ob, outbox_next_unsent(ob, NULL));
	outbox_answered(ob, outbox_barrier(ob), 2);
	assert_string_equal(settled(), "b a ");
	end_box(ob);
}

/* --- thousands of items, random answers and losses --- */

struct sim {
	struct outbox *ob;
	struct prng r;
	unsigned long open[8];
	size_t nopen;
	unsigned long next_line;
};

/* Answers one of the open barriers, any of them. */
static void
sim_answer(struct sim *s)
{
	size_t k = prng_below(&s->r, (uint32_t)s->nopen);

	outbox_answered(s->ob, s->open[k], (int64_t)s->next_line);
	s->open[k] = s->open[--s->nopen];
}

static void
sim_step(struct sim *s)
{
	struct outbox_item *it;
	unsigned long t;
	char id[32];

	switch (prng_below(&s->r, 10)) {
	case 0: /* lost: everything unconfirmed again, in order */
		if (prng_below(&s->r, 20) != 0)
			break;
		outbox_lost(s->ob);
		s->nopen = 0;
		for (it = outbox_next_unsent(s->ob, NULL); it;
		     it = outbox_next_unsent(s->ob, it))
			outbox_sent(s->ob, it);
		break;
	case 1:
	case 2:
		if ((t = outbox_barrier(s->ob)) != 0)
			s->open[s->nopen++] = t;
		break;
	case 3:
	case 4:
		if (s->nopen > 0)
			sim_answer(s);
		break;
	default:
		if (outbox_full(s->ob))
			break;
		snprintf(id, sizeof(id), "m%lu", s->next_line);
		it = outbox_add(s->ob, id, NULL, 0);
		it->line = s->next_line++;
		outbox_sent(s->ob, it);
		if (outbox_barrier_due(s->ob) &&
		    (t = outbox_barrier(s->ob)) != 0)
			s->open[s->nopen++] = t;
	}
	assert_true(s->nopen == outbox_barriers(s->ob));
	assert_true(outbox_count(s->ob) <= 1000);
}

static void
outbox__ten_thousand_items__settle_once_in_order(void **state)
{
	struct sim s;
	unsigned long t;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.ob = new_box(1000, 8, 200);
	prng_seed(&s.r, 20261203);
	while (s.next_line < 10000)
		sim_step(&s);
	/* Drain: answer everything, then one last barrier. */
	while (s.nopen > 0)
		sim_answer(&s);
	if ((t = outbox_barrier(s.ob)) != 0)
		outbox_answered(s.ob, t, 0);
	assert_int_equal(outbox_count(s.ob), 0);
	assert_int_equal(outbox_barriers(s.ob), 0);
	assert_int_equal(seen.nsettled, 10000);
	assert_false(seen.out_of_order);
	assert_int_equal(outbox_added(s.ob), 10000);
	assert_int_equal(outbox_confirmed(s.ob), 10000);
	end_box(s.ob);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(outbox_add__keeps__order_ids_and_payloads),
		cmocka_unit_test(
		    outbox_find__returns__the_newest_of_a_duplicate_id),
		cmocka_unit_test(outbox_find__finds__every_one_of_thousands),
		cmocka_unit_test(
		    outbox_barrier__confirms__what_was_sent_before_it_only),
		cmocka_unit_test(outbox_barrier__stops__at_the_window),
		cmocka_unit_test(
		    outbox_answered__out_of_order__confirms_all_before_the_later),
		cmocka_unit_test(outbox_barrier_due__after__barrier_every_sent),
		cmocka_unit_test(outbox_full__at__max_items),
		cmocka_unit_test(outbox_sent__twice__counts_once),
		cmocka_unit_test(
		    outbox_done__settles__only_when_confirmed_and_nothing_left),
		cmocka_unit_test(
		    outbox_bounce__fails__and_settles_once_confirmed),
		cmocka_unit_test(
		    outbox_expire__gives_up__confirmed_items_past_the_limit),
		cmocka_unit_test(
		    outbox_lost__resends__every_unconfirmed_item_in_order),
		cmocka_unit_test(
		    outbox_lost__before_resending__keeps_new_barriers_off_them),
		cmocka_unit_test(
		    outbox__ten_thousand_items__settle_once_in_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
