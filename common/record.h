/* SPDX-License-Identifier: MIT */
/* record.h -- what the output records of messages and presence say */

#ifndef XMPPTOOLS_RECORD_H
#define XMPPTOOLS_RECORD_H

#include <time.h>

#include <strophe.h>

#include "output.h"

/*
 * The records of messages and presence, shared by xlisten, xpresence and
 * xroster, filled from stanzas.  Strings a record borrows that had to be
 * made (time stamps, texts) are kept in a struct rec_strings that outlives
 * the output of the record; rec_strings_free() releases them.
 */
struct rec_strings {
	char *s[24];
	size_t n;
};

void rec_strings_free(struct rec_strings *k);

/*
 * rec_keep()
 *
 * Takes ownership of 'p' (allocated) and returns it (or NULL for NULL).
 * The container holds 24 strings, more than any record needs: one more is
 * a bug in the program, which is stopped with a message (abort()).
 */
const char *rec_keep(struct rec_strings *k, char *p);

/*
 * rec_add()
 *
 * orecord_add() for the records built here and in roster.c: a record holds
 * OUT_MAX_FIELDS fields, and one more is a bug in the program, which is
 * stopped with a message (abort()) instead of losing the field.
 */
void rec_add(struct orecord *r, char key, const char *name, const char *value,
    int flags);

/*
 * rec_stamp()
 *
 * Parses an XEP-0082 date-time ("2026-11-23T22:17:41Z", with optional
 * fraction and offset) or a legacy XEP-0091 one ("20261123T22:17:41") and
 * returns it as seconds since the epoch, or -1.
 */
time_t rec_stamp(const char *stamp);

/* Formats 't' as "2026-11-23T22:17:41Z" into 'buf' (at least 21 bytes). */
void rec_format_time(time_t t, char *buf, size_t len);

/*
 * rec_time()
 *
 * The time a stanza was sent: its XEP-0203 <delay/> (or legacy
 * jabber:x:delay) stamp when it has one (*delayed = 1), else 'now'.  The
 * result is allocated (caller frees).
 */
char *rec_time(xmpp_stanza_t *st, time_t now, int *delayed);

/*
 * rec_carbon()
 *
 * For a XEP-0280 carbon (<received/> or <sent/> wrapping a forwarded
 * message) from 'own_bare' (the account's bare JID: carbons from anyone
 * else are forgeries and ignored), returns the inner message (borrowed)
 * and sets *direction to "received" or "sent"; otherwise returns NULL
 * and sets *direction to NULL.
 */
xmpp_stanza_t *
rec_carbon(xmpp_stanza_t *msg, const char *own_bare, const char **direction);

/*
 * rec_message()
 *
 * Fills 'r' with a message record.  Text fields, in this order: time,
 * type, from, body, and the subject when there is one.  JSON fields:
 * time, delayed, type, from, to, id, body, subject, thread, room, nick
 * (for groupchat), url (XEP-0066), carbon (direction or null),
 * error_condition, error_text.  Template keys: %T %y %f %t %i %b %s %h
 * (thread) %r (room nick) %u (url).  'carbon' may be NULL.
 */
void rec_message(struct orecord *r, struct rec_strings *k, xmpp_stanza_t *msg,
    time_t now, const char *carbon);

/*
 * rec_encrypted()
 *
 * Marks the message record 'r' as end-to-end encrypted (xlisten --omemo):
 * its body becomes 'body' (NULL when it could not be decrypted: never the
 * plaintext fallback of the stanza), and it gets the JSON fields
 * encrypted ("omemo"), device (the sender's device id, template key %E)
 * and decrypt_error ('error', or null).  The strings are copied into 'k'.
 */
void rec_encrypted(struct orecord *r, struct rec_strings *k, const char *body,
    unsigned long device, const char *error);

/*
 * rec_presence()
 *
 * Fills 'r' with a presence record.  Text fields: time, "presence", from,
 * state (available, away, chat, dnd, xa, unavailable, subscribe,
 * subscribed, unsubscribe, unsubscribed, error), status.  JSON fields:
 * time, delayed, from, to, state, show, status, priority,
 * error_condition.  Template keys: %T %f %t %S (state) %m
 * (status) %p (priority).
 */
void rec_presence(
    struct orecord *r, struct rec_strings *k, xmpp_stanza_t *pres, time_t now);

/*
 * rec_presence_contact()
 *
 * The presence record of xpresence: rec_presence() with the text fields
 * from, state and status only (JSON and template keys the same).
 */
void rec_presence_contact(
    struct orecord *r, struct rec_strings *k, xmpp_stanza_t *pres, time_t now);

/*
 * rec_presence_absent()
 *
 * The record of a contact that sent no presence: unavailable as of 'now',
 * from 'from' (a bare JID) to 'to', the fields of rec_presence_contact()
 * with no stanza (-X has nothing to print).
 */
void rec_presence_absent(struct orecord *r, struct rec_strings *k,
    const char *from, const char *to, time_t now);

/* The keys of rec_message() and rec_presence() for output_check_template(). */
#define REC_MESSAGE_KEYS "TyftibshruE"
#define REC_PRESENCE_KEYS "TftSmp"

#endif
