/* SPDX-License-Identifier: MIT */
/* outbox.c -- the messages a sending tool keeps until the server has them */

#include <stdlib.h>
#include <string.h>

#include "outbox.h"
#include "util.h"

/* A barrier in flight: it covers the items sent up to 'mark'. */
struct slot {
	unsigned long token; /* 0: free */
	unsigned long mark;
};

struct outbox {
	struct outbox_window w;
	void (*release)(void *payload);
	outbox_settle_cb settled;
	void *ud;

	struct outbox_item *head, *tail; /* every item, in the order added */
	struct outbox_item *fhead, *ftail; /* sent, unconfirmed, in order */
	struct outbox_item **hash;
	size_t nbuckets; /* a power of two */
	size_t count;

	unsigned long seq; /* of the last item sent on this stream */
	unsigned long covered; /* seq of the last item behind a barrier */
	struct slot *slots; /* w.max_barriers of them */
	size_t nslots_used;
	unsigned long tokens; /* the last token given */

	size_t added, confirmed;
};

#define FIRST_BUCKETS 64

static size_t
hash_id(const struct outbox *ob, const char *id)
{
	unsigned h = 2166136261u;

	while (*id)
		h = (h ^ (unsigned char)*id++) * 16777619u;
	return h & (ob->nbuckets - 1);
}

/* Doubles the hash table once it holds more items than buckets. */
static void
grow_hash(struct outbox *ob)
{
	struct outbox_item *it;

	free(ob->hash);
	ob->nbuckets *= 2;
	ob->hash = xcalloc(ob->nbuckets, sizeof(*ob->hash));
	/* Newest first in each chain: rehash from the oldest item on. */
	for (it = ob->head; it; it = it->next) {
		size_t h = hash_id(ob, it->id);

		it->hnext = ob->hash[h];
		ob->hash[h] = it;
	}
}

struct outbox *
outbox_new(const struct outbox_window *w, void (*release)(void *payload),
    outbox_settle_cb settled, void *ud)
{
	struct outbox *ob = xcalloc(1, sizeof(*ob));

	ob->w = *w;
	if (ob->w.max_barriers == 0)
		ob->w.max_barriers = 1;
	ob->release = release;
	ob->settled = settled;
	ob->ud = ud;
	ob->nbuckets = FIRST_BUCKETS;
	ob->hash = xcalloc(ob->nbuckets, sizeof(*ob->hash));
	ob->slots = xcalloc(ob->w.max_barriers, sizeof(*ob->slots));
	return ob;
}

static void
unlink_flight(struct outbox *ob, struct outbox_item *it)
{
	if (it->fprev)
		it->fprev->fnext = it->fnext;
	else if (ob->fhead == it)
		ob->fhead = it->fnext;
	else
		return; /* not in flight */
	if (it->fnext)
		it->fnext->fprev = it->fprev;
	else
		ob->ftail = it->fprev;
	it->fprev = it->fnext = NULL;
}

/* Takes 'it' out of every list and frees it (and its payload). */
static void
remove_item(struct outbox *ob, struct outbox_item *it)
{
	struct outbox_item **pp;

	if (it->prev)
		it->prev->next = it->next;
	else
		ob->head = it->next;
	if (it->next)
		it->next->prev = it->prev;
	else
		ob->tail = it->prev;
	unlink_flight(ob, it);
	for (pp = &ob->hash[hash_id(ob, it->id)]; *pp; pp = &(*pp)->hnext)
		if (*pp == it) {
			*pp = it->hnext;
			break;
		}
	if (it->payload && ob->release)
		ob->release(it->payload);
	free(it->id);
	free(it);
	ob->count--;
}

/* An item whose fate is known leaves the outbox. */
static void
settle_if_done(struct outbox *ob, struct outbox_item *it)
{
	if (!it->confirmed || it->waits != 0)
		return;
	if (ob->settled)
		ob->settled(it, ob->ud);
	remove_item(ob, it);
}

void
outbox_free(struct outbox *ob)
{
	if (ob == NULL)
		return;
	while (ob->head)
		remove_item(ob, ob->head);
	free(ob->hash);
	free(ob->slots);
	free(ob);
}

struct outbox_item *
outbox_add(struct outbox *ob, const char *id, void *payload, unsigned waits)
{
	struct outbox_item *it = xcalloc(1, sizeof(*it));
	size_t h;

	it->id = xstrdup(id);
	it->payload = payload;
	it->waits = waits;
	it->prev = ob->tail;
	if (ob->tail)
		ob->tail->next = it;
	else
		ob->head = it;
	ob->tail = it;
	ob->count++;
	ob->added++;
	if (ob->count > ob->nbuckets)
		grow_hash(ob); /* 'it' is in the list: rehashed with the rest */
	else {
		h = hash_id(ob, it->id);
		it->hnext = ob->hash[h];
		ob->hash[h] = it;
	}
	return it;
}

struct outbox_item *
outbox_find(struct outbox *ob, const char *id)
{
	struct outbox_item *it;

	if (id == NULL)
		return NULL;
	for (it = ob->hash[hash_id(ob, id)]; it; it = it->hnext)
		if (strcmp(it->id, id) == 0)
			return it;
	return NULL;
}

struct outbox_item *
outbox_next(struct outbox *ob, struct outbox_item *it)
{
	return it ? it->next : ob->head;
}

void
outbox_sent(struct outbox *ob, struct outbox_item *it)
{
	if (it->confirmed || it->sent != 0)
		return;
	it->sent = ++ob->seq;
	it->fprev = ob->ftail;
	it->fnext = NULL;
	if (ob->ftail)
		ob->ftail->fnext = it;
	else
		ob->fhead = it;
	ob->ftail = it;
}

struct outbox_item *
outbox_next_unsent(struct outbox *ob, struct outbox_item *it)
{
	for (it = it ? it->next : ob->head; it; it = it->next)
		if (!it->confirmed && it->sent == 0)
			return it;
	return NULL;
}

unsigned long
outbox_barrier(struct outbox *ob)
{
	size_t i;

	if (ob->seq == ob->covered || ob->nslots_used == ob->w.max_barriers)
		return 0;
	for (i = 0; ob->slots[i].token != 0; i++)
		;
	ob->slots[i].token = ++ob->tokens;
	ob->slots[i].mark = ob->seq;
	ob->covered = ob->seq;
	ob->nslots_used++;
	return ob->slots[i].token;
}

int
outbox_barrier_due(const struct outbox *ob)
{
	return ob->w.barrier_every > 0 &&
	    ob->seq - ob->covered >= ob->w.barrier_every;
}

size_t
outbox_answered(struct outbox *ob, unsigned long token, int64_t now)
{
	struct outbox_item *it;
	unsigned long mark;
	size_t i, n = 0;

	for (i = 0; i < ob->w.max_barriers; i++)
		if (token != 0 && ob->slots[i].token == token)
			break;
	if (i == ob->w.max_barriers)
		return 0;
	mark = ob->slots[i].mark;
	ob->slots[i].token = 0;
	ob->nslots_used--;
	/* The server processes a stream in order: it has all before. */
	while ((it = ob->fhead) != NULL && it->sent <= mark) {
		unlink_flight(ob, it);
		it->confirmed = 1;
		it->confirmed_at = now;
		ob->confirmed++;
		n++;
		settle_if_done(ob, it);
	}
	return n;
}

void
outbox_done(struct outbox *ob, struct outbox_item *it, unsigned waits)
{
	it->waits &= ~waits;
	settle_if_done(ob, it);
}

void
outbox_bounce(struct outbox *ob, struct outbox_item *it)
{
	it->failed = 1;
	it->waits = 0;
	settle_if_done(ob, it);
}

size_t
outbox_expire(struct outbox *ob, int64_t now, int64_t limit,
    void (*cb)(struct outbox_item *it, void *ud), void *ud)
{
	struct outbox_item *it, *next;
	size_t n = 0;

	for (it = ob->head; it; it = next) {
		next = it->next;
		if (!it->confirmed || now - it->confirmed_at < limit)
			continue;
		if (cb)
			cb(it, ud);
		it->failed = 1;
		it->waits = 0;
		settle_if_done(ob, it);
		n++;
	}
	return n;
}

void
outbox_lost(struct outbox *ob)
{
	struct outbox_item *it;
	size_t i;

	while ((it = ob->fhead) != NULL) {
		unlink_flight(ob, it);
		it->sent = 0;
	}
	for (i = 0; i < ob->w.max_barriers; i++)
		ob->slots[i].token = 0;
	ob->nslots_used = 0;
	ob->covered = ob->seq;
}

size_t
outbox_count(const struct outbox *ob)
{
	return ob->count;
}

int
outbox_full(const struct outbox *ob)
{
	return ob->count >= ob->w.max_items;
}

size_t
outbox_barriers(const struct outbox *ob)
{
	return ob->nslots_used;
}

size_t
outbox_added(const struct outbox *ob)
{
	return ob->added;
}

size_t
outbox_confirmed(const struct outbox *ob)
{
	return ob->confirmed;
}
