/* SPDX-License-Identifier: MIT */
/* presence.h -- what is known of contacts' presence, resource by resource */

#ifndef XMPPTOOLS_PRESENCE_H
#define XMPPTOOLS_PRESENCE_H

#include <stddef.h>

#include <strophe.h>

#include "roster.h"

/*
 * The contact model of xpresence: for each contact (a bare JID) the
 * resources that are online as their last presence said (RFC 6121 4.4).
 * A contact with no resource is unavailable.  Every string is owned; each
 * resource holds a reference to its last presence stanza, which belongs to
 * that stanza's libstrophe context: release the book (presence_book_free())
 * before the context is freed.
 */

/* One resource of a contact. */
struct presence_resource {
	char *full; /* JID/resource */
	char *state; /* available, away, chat, dnd, xa */
	char *status; /* NULL: none */
	long priority;
	xmpp_stanza_t *st; /* the presence (owned reference), for records */
};

struct presence_contact {
	char *jid; /* bare */
	int subscribed; /* we may see its presence (to, both) */
	int heard; /* any presence came */
	int has_session; /* its server (ours) says it is connected (XEP-0012) */
	struct presence_resource *res;
	size_t nres;
};

struct presence_book {
	struct presence_contact *c;
	size_t n;
};

void presence_book_init(struct presence_book *b);

/* Releases every contact, resource and stanza; the book is empty after. */
void presence_book_free(struct presence_book *b);

/* The contact of the bare part of 'jid' (ASCII case ignored), or NULL. */
struct presence_contact *
presence_find(const struct presence_book *b, const char *jid);

/*
 * presence_add()
 *
 * Adds a contact with no resource; 'bare' is copied.  The pointer returned
 * (like every contact pointer) is valid until the next presence_add().
 */
struct presence_contact *
presence_add(struct presence_book *b, const char *bare);

/* Drops every resource of every contact (a new stream: all is stale). */
void presence_forget(struct presence_book *b);

/*
 * presence_is_state()
 *
 * True when 's' is one of available, chat, away, xa, dnd, or with
 * 'with_unavailable' also "unavailable".
 */
int presence_is_state(const char *s, int with_unavailable);

/*
 * presence_show_of()
 *
 * The <show/> of a state: "away", "chat", "dnd" or "xa" (static strings),
 * NULL for "available" and for what is not a state.
 */
const char *presence_show_of(const char *state);

/* The rank of a state, from the most reachable (chat: 0) down; 99 for
 * what is not a state. */
int presence_show_rank(const char *state);

/*
 * presence_contact_state()
 *
 * The state of the contact's best resource (the highest priority, then the
 * best rank), or "unavailable" when it has none.  Borrowed.
 */
const char *presence_contact_state(const struct presence_contact *c);

/*
 * presence_state_holds()
 *
 * Whether the contact is in state 'want' (the --until of wait):
 * "available" holds with any resource, "unavailable" with none, and a show
 * (away, chat, dnd, xa) when it is presence_contact_state().
 */
int presence_state_holds(const struct presence_contact *c, const char *want);

/* The index of the first contact for which 'want' does not hold, or b->n
 * when it holds for all. */
size_t presence_first_pending(
    const struct presence_book *b, size_t from, const char *want);

/*
 * presence_update()
 *
 * Applies a presence of one of the contact's resources: 'st' has a 'from'
 * and no type (available: the resource is added or updated, with its show,
 * status, priority and a reference to 'st') or type "unavailable" (the
 * resource is dropped).  Sets c->heard.
 */
void presence_update(struct presence_contact *c, xmpp_stanza_t *st);

/*
 * presence_subscriptions()
 *
 * Marks the contacts whose presence the roster 'r' lets us see
 * (subscription to or both) as subscribed, the others not; with 'add', the
 * roster's contacts we may see that the book lacks are added first.
 */
void presence_subscriptions(
    struct presence_book *b, const struct roster *r, int add);

/*
 * presence_awaited()
 *
 * True when a subscribed contact with no resource may still send its
 * presence: it is on another server than 'domain', or on ours and
 * has_session is set (ejabberd answers a probe through the contact's own
 * session, after the server's answer to our ping).
 */
int presence_awaited(const struct presence_book *b, const char *domain);

/*
 * presence_is_local()
 *
 * True when contact 'c' is an account of server 'domain'.
 */
int presence_is_local(const struct presence_contact *c, const char *domain);

#endif
