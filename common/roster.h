/* SPDX-License-Identifier: MIT */
/* roster.h -- roster items: from stanzas, from files, and the plan of a sync */

#ifndef XMPPTOOLS_ROSTER_H
#define XMPPTOOLS_ROSTER_H

#include <stddef.h>

#include <strophe.h>

#include "output.h"
#include "record.h"

/* One contact (RFC 6121 2.1.2).  Every string is owned. */
struct roster_item {
	char *jid; /* bare JID */
	char *name; /* NULL: none */
	char *subscription; /* none, to, from, both (remove) */
	char *ask; /* "subscribe" or NULL */
	int approved; /* pre-approved (RFC 6121 3.4) */
	char **groups; /* sorted, no duplicates */
	size_t ngroups;
	unsigned long line; /* of the file it was read from, or 0 */
};

struct roster {
	struct roster_item *items;
	size_t n;
};

void roster_init(struct roster *r);
void roster_free(struct roster *r);

/* Adds a copy of 'it': its JID with ASCII letters in lower case (as
 * servers store it), groups sorted and de-duplicated. */
struct roster_item *roster_add(struct roster *r, const struct roster_item *it);

/* True when 'group' is one of the item's groups. */
int roster_item_in_group(const struct roster_item *it, const char *group);

/* Sorts by JID, and finds the item of 'jid' (in any ASCII case) or NULL;
 * roster_sort() must have been called. */
void roster_sort(struct roster *r);
struct roster_item *roster_find(const struct roster *r, const char *jid);

/*
 * roster_from_stanza()
 *
 * Adds the <item/>s of a jabber:iq:roster <query/> (a result or a push).
 * Items that are not a valid bare JID are skipped with their count in
 * *skipped.
 */
void roster_from_stanza(struct roster *r, xmpp_stanza_t *iq, size_t *skipped);

/*
 * roster_read_file()
 *
 * Reads a roster file: JSON Lines as `xroster export` writes them
 * ({"jid":..., "name":..., "groups":[...]}; other keys are ignored), or
 * the text format (JID<TAB>SUBSCRIPTION<TAB>ASK<TAB>NAME<TAB>GROUPS, fields
 * escaped as in the output, GROUPS separated by commas); blank lines and
 * lines starting with '#' are skipped.  The whole file is checked: every
 * JID must be a valid bare JID, once.  Returns 0, or -1 with *errstr
 * ("FILE:LINE: ...") and nothing added.
 */
int roster_read_file(struct roster *r, const char *path, char **errstr);

/* What sync or import does to one contact. */
enum roster_action { RA_ADD, RA_UPDATE, RA_REMOVE };

struct roster_change {
	enum roster_action action;
	const struct roster_item *want; /* the file's item (add/update) */
	const struct roster_item *have; /* the server's item (update/remove) */
};

/*
 * roster_plan()
 *
 * The changes that make 'have' equal to 'want' in names and groups: adds
 * and updates, and with 'prune' the removal of contacts not in 'want'.
 * Both rosters must be sorted.  Returns the number of changes and sets
 * *out (caller frees the array, not the items, which stay borrowed).
 */
size_t roster_plan(const struct roster *have, const struct roster *want,
    int prune, struct roster_change **out);

/* The name of an action: "add", "update", "remove". */
const char *roster_action_name(enum roster_action a);

/*
 * roster_item_stanza()
 *
 * A roster set for one item: its name and groups, or subscription='remove'
 * with 'remove'.  The caller owns the stanza.
 */
xmpp_stanza_t *roster_item_stanza(
    xmpp_ctx_t *ctx, const char *id, const struct roster_item *it, int remove);

/*
 * roster_item_xml()
 *
 * The <item/> as the server sends it in a roster result: JID, name,
 * subscription, ask and groups (for -X).  The caller owns the stanza.
 */
xmpp_stanza_t *roster_item_xml(xmpp_ctx_t *ctx, const struct roster_item *it);

/*
 * roster_record()
 *
 * Fills 'r' with the record of one item.  Text fields: jid, subscription,
 * ask, name, groups (comma-separated; a comma in a group name is \x2c).
 * JSON: jid, name, subscription, ask, approved, groups (an array).
 * Template keys: %j %S %a %n %g.
 */
void roster_record(
    struct orecord *r, struct rec_strings *k, const struct roster_item *it);
#define ROSTER_KEYS "jSang"

/*
 * roster_plan_record()
 *
 * Fills 'r' with the record of one change of a plan (--dry-run): action,
 * jid, name, groups as in roster_record(); 'iq' (borrowed, may be NULL) is
 * the roster set that would do it, for -X.  Template keys: %A and those of
 * ROSTER_KEYS but %S and %a.
 */
void roster_plan_record(struct orecord *r, struct rec_strings *k,
    const struct roster_change *c, xmpp_stanza_t *iq);

/* What `xroster set` changes in an item; every field is borrowed. */
struct roster_edit {
	const char *name; /* the new name ("": none), when name_set */
	int name_set;
	char *const *groups; /* the new groups, when groups_set */
	size_t ngroups;
	int groups_set;
	char *const *add; /* groups to add */
	size_t nadd;
	char *const *remove; /* groups to take away (after the adds) */
	size_t nremove;
};

/*
 * roster_edit_apply()
 *
 * Adds to 'out' a copy of 'have' with 'e' applied: the name replaced when
 * set; the groups replaced when set, else kept, then 'add' added and
 * 'remove' taken away; sorted and de-duplicated (roster_add()).  Returns
 * the item added (valid until the next change of 'out').
 */
struct roster_item *roster_edit_apply(struct roster *out,
    const struct roster_item *have, const struct roster_edit *e);

/*
 * roster_plan_each()
 *
 * A plan doing 'a' (RA_ADD or RA_REMOVE) to every item of 'r', in its
 * order.  Returns the number of changes and sets *out (caller frees the
 * array; the items stay borrowed from 'r').
 */
size_t roster_plan_each(
    const struct roster *r, enum roster_action a, struct roster_change **out);

/*
 * Incoming subscription requests (xroster pending): one per bare JID, in
 * JID order.  Every string is owned; each request holds a reference to its
 * presence stanza, which belongs to that stanza's context: free the list
 * before the context.
 */
struct roster_request {
	char *jid; /* bare, ASCII letters in lower case */
	char *status; /* the request's text, or NULL */
	xmpp_stanza_t *st; /* the presence (owned reference), for -X */
};

struct roster_requests {
	struct roster_request *items; /* sorted by jid, no duplicates */
	size_t n;
};

void roster_requests_init(struct roster_requests *q);
void roster_requests_free(struct roster_requests *q);

/*
 * roster_requests_add()
 *
 * Adds the request of a presence of type subscribe at its place in JID
 * order.  Returns 1, or 0 when it has no 'from' or when a request of the
 * same bare JID is already in (the first one is kept).
 */
int roster_requests_add(struct roster_requests *q, xmpp_stanza_t *presence);

/* Fills 'r' with the record of one request: jid, status (%j %m). */
void roster_request_record(struct orecord *r, const struct roster_request *rq);
#define ROSTER_REQUEST_KEYS "jm"

#endif
