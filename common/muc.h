/* SPDX-License-Identifier: MIT */
/* muc.h -- joining and leaving XEP-0045 rooms */

#ifndef XMPPTOOLS_MUC_H
#define XMPPTOOLS_MUC_H

#include <strophe.h>

#include "session.h"

/*
 * A room the tool is in.  muc_join() first asks the room for its disco#info
 * (so a room that does not exist is reported, not created by accident),
 * then sends the join presence with <x xmlns='http://jabber.org/protocol/muc'>
 * (no history unless asked, the password if any) and waits for the room's
 * presence with status 110 (this is us).  The callback then reports
 * success, or the refusal: its RFC 6120 condition (not-authorized for a
 * password, registration-required for members-only, forbidden when banned,
 * conflict for a nick in use, item-not-found for a missing room).
 *
 * The room keeps its strings (copies); muc_room_free() releases them.
 */
struct muc_room;

/* 'condition' is NULL on success, else the refusal (and 'text' its text,
 * both borrowed for the duration of the call). */
typedef void (*muc_join_cb)(struct session *s, struct muc_room *r,
    const char *condition, const char *text, void *ud);

/*
 * muc_room_new()
 *
 * 'jid' is the room's bare JID, 'nick' the nickname to take, 'password'
 * may be NULL; 'history' is how many old messages the room may send on
 * join (-1: the room's default, 0: none); with 'nick_retries' > 0 a nick
 * conflict is retried as NICK-2, NICK-3 ... that many times.
 */
struct muc_room *muc_room_new(const char *jid, const char *nick,
    const char *password, int history, int nick_retries);
void muc_room_free(struct muc_room *r);

/* The room's bare JID, and the nick in use (after a retry or a change by
 * the room). */
const char *muc_room_jid(const struct muc_room *r);
const char *muc_room_nick(const struct muc_room *r);
int muc_room_joined(const struct muc_room *r);

/*
 * muc_room_feature()
 *
 * True when the room's disco#info answer of the last muc_join() listed the
 * feature 'var' (e.g. urn:xmpp:mam:2: the room keeps an archive).
 */
int muc_room_feature(const struct muc_room *r, const char *var);

/*
 * muc_join()
 *
 * Starts joining; 'cb' is called once with the outcome.  Call again after a
 * reconnection (the room forgets us when the stream is gone).
 */
void muc_join(struct session *s, struct muc_room *r, muc_join_cb cb, void *ud);

/* Sends the unavailable presence that leaves the room. */
void muc_leave(struct session *s, struct muc_room *r);

/*
 * muc_is_self()
 *
 * True when 'from' (a full JID from the network) is our own occupant JID
 * in this room.
 */
int muc_is_self(const struct muc_room *r, const char *from);

/*
 * muc_handle_presence()
 *
 * Feeds a presence stanza to the room it comes from; returns 1 when it was
 * about one of our joins (consumed), else 0.  Tools that join rooms add a
 * presence handler that calls this for each room.
 */
int
muc_handle_presence(struct session *s, struct muc_room *r, xmpp_stanza_t *st);

#endif
