/* SPDX-License-Identifier: MIT */
/* outbox.h -- the messages a sending tool keeps until the server has them */

#ifndef XMPPTOOLS_OUTBOX_H
#define XMPPTOOLS_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

/*
 * The outbox is the delivery bookkeeping of xsend, as pure data: no I/O,
 * no clock (times are passed in), no connection.  The tool sends; the
 * outbox remembers what was sent, on which stream, and what came back.
 *
 * An item is one message to one recipient.  It enters with outbox_add()
 * and is "sent" once the tool wrote it to the current stream
 * (outbox_sent()).  A barrier (an iq the server answers after processing
 * everything before it, RFC 6120 §10.1) covers every item sent before it:
 * outbox_barrier() opens one, outbox_answered() confirms what it covers,
 * whatever the order of the answers.  An item may also wait for more than
 * the server (a room's echo, a receipt, the reply to an iq); it is settled
 * when it is confirmed and waits for nothing more, or when it is given up
 * (outbox_bounce(), outbox_expire()).  Settled items leave the outbox
 * through the settle callback, in the order they settle.
 *
 * When the stream is lost, outbox_lost() forgets the barriers in flight
 * and every unconfirmed item becomes unsent again: outbox_next_unsent()
 * gives them back, in the order they were added, with their original ids.
 *
 * Flow control (the window): at most 'max_barriers' barriers in flight,
 * and outbox_full() once 'max_items' items are kept; outbox_barrier_due()
 * says when 'barrier_every' items were sent since the last barrier.
 *
 * The outbox owns its items and their payloads (released with the
 * 'release' function given to outbox_new(), which may be NULL).
 */

/* What an item waits for besides the server's confirmation. */
#define OUTBOX_ECHO 0x1u /* the room's echo of a groupchat message */
#define OUTBOX_RECEIPT 0x2u /* a XEP-0184 receipt */
#define OUTBOX_REPLY 0x4u /* the reply to an iq */

struct outbox_item {
	/* Read only, kept by the outbox. */
	char *id;
	void *payload; /* what to send again, or NULL (never resent) */
	unsigned waits; /* OUTBOX_ECHO | OUTBOX_RECEIPT | OUTBOX_REPLY */
	int confirmed; /* the server has it (a barrier behind it came back) */
	int failed; /* given up (bounced or expired) */
	int64_t confirmed_at; /* when it was confirmed (the caller's clock) */

	/* The caller's own data, free to set. */
	size_t rcpt; /* which recipient */
	unsigned long line; /* which input line (0: none) */

	/* Private. */
	struct outbox_item *prev, *next; /* all items, in the order added */
	struct outbox_item *fprev, *fnext; /* sent and unconfirmed, in order */
	struct outbox_item *hnext; /* the id hash chain */
	unsigned long sent; /* sequence number on this stream, 0: unsent */
};

struct outbox_window {
	size_t max_items; /* outbox_full() from this many items on */
	size_t max_barriers; /* barriers in flight at most (>= 1) */
	size_t barrier_every; /* outbox_barrier_due() after so many sent */
};

/* Called once for each item that leaves the outbox settled (confirmed and
 * done, or failed): the item is borrowed for the call, and freed after it.
 * The callback must not call into the outbox. */
typedef void (*outbox_settle_cb)(struct outbox_item *it, void *ud);

struct outbox;

/*
 * outbox_new()
 *
 * Creates an empty outbox with the window 'w' (copied).  'release' frees
 * a payload (NULL: payloads are not freed); 'settled' (may be NULL) is
 * told of each settled item.  Never returns NULL.
 */
struct outbox *outbox_new(const struct outbox_window *w,
    void (*release)(void *payload), outbox_settle_cb settled, void *ud);

/* Frees the outbox and every item still in it (without the settle
 * callback: they are not settled).  NULL is a no-op. */
void outbox_free(struct outbox *ob);

/*
 * outbox_add()
 *
 * Adds an unsent item with a copy of 'id' (ids should be unique; the
 * newest wins in outbox_find()), the 'payload' (taken over) and what it
 * waits for besides the server.  Returns the item, owned by the outbox
 * and valid until it is settled.
 */
struct outbox_item *
outbox_add(struct outbox *ob, const char *id, void *payload, unsigned waits);

/* The item with this id, or NULL (also for a NULL id). */
struct outbox_item *outbox_find(struct outbox *ob, const char *id);

/* The item after 'it' in the order added (the first when 'it' is NULL),
 * or NULL. */
struct outbox_item *outbox_next(struct outbox *ob, struct outbox_item *it);

/*
 * outbox_sent()
 *
 * Records that 'it' was written to the current stream, behind everything
 * recorded before it.  A confirmed item, or one already sent on this
 * stream, is left as it is.
 */
void outbox_sent(struct outbox *ob, struct outbox_item *it);

/*
 * outbox_next_unsent()
 *
 * After a reconnection: the first unconfirmed item after 'it' (from the
 * first when 'it' is NULL) not sent on the current stream, in the order
 * added, or NULL.  The caller sends it again and calls outbox_sent().
 */
struct outbox_item *
outbox_next_unsent(struct outbox *ob, struct outbox_item *it);

/*
 * outbox_barrier()
 *
 * Opens a barrier behind every item sent and not yet covered by one, when
 * there is such an item and the window has room for one more barrier.
 * Returns its token (never 0), which the caller passes to
 * outbox_answered() when the answer comes, or 0 when no barrier is due.
 */
unsigned long outbox_barrier(struct outbox *ob);

/* True when 'barrier_every' items or more were sent since the last barrier
 * (whether the window has room for one or not). */
int outbox_barrier_due(const struct outbox *ob);

/*
 * outbox_answered()
 *
 * The answer to barrier 'token' came at time 'now': every item sent
 * before it is confirmed (also those of older barriers still in flight,
 * whose answers then change nothing), and the items that wait for nothing
 * more are settled.  A token from before outbox_lost(), or one answered
 * already, is ignored.  Returns the number of items newly confirmed.
 */
size_t outbox_answered(struct outbox *ob, unsigned long token, int64_t now);

/*
 * outbox_done()
 *
 * 'it' got what it waited for in 'waits' (a room's echo, a receipt, an iq
 * reply); settles it when that was the last thing and it is confirmed.
 * 'it' may be freed by this call.
 */
void outbox_done(struct outbox *ob, struct outbox_item *it, unsigned waits);

/*
 * outbox_bounce()
 *
 * 'it' came back as an error: it is failed and waits for nothing more
 * than its confirmation, and is settled once confirmed (at once if it
 * is).  'it' may be freed by this call.
 */
void outbox_bounce(struct outbox *ob, struct outbox_item *it);

/*
 * outbox_expire()
 *
 * Gives up the confirmed items that still wait for something 'limit' ms
 * or more after their confirmation, at time 'now': 'cb' (may be NULL) is
 * called for each, in the order added, before it is failed and settled.
 * Returns how many expired.
 */
size_t outbox_expire(struct outbox *ob, int64_t now, int64_t limit,
    void (*cb)(struct outbox_item *it, void *ud), void *ud);

/*
 * outbox_lost()
 *
 * The stream is gone: the barriers in flight will never be answered, and
 * what was sent and not confirmed must be sent again.
 */
void outbox_lost(struct outbox *ob);

/* The number of items kept, and whether the window is full. */
size_t outbox_count(const struct outbox *ob);
int outbox_full(const struct outbox *ob);

/* The number of barriers in flight (opened, not answered, not lost). */
size_t outbox_barriers(const struct outbox *ob);

/* Totals since the outbox was created: items added, and items confirmed
 * by the server (failed ones included when they were confirmed). */
size_t outbox_added(const struct outbox *ob);
size_t outbox_confirmed(const struct outbox *ob);

#endif
