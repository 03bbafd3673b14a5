/* SPDX-License-Identifier: MIT */
/* stanza.h -- pure stanza builders and parsers; no I/O */

#ifndef XMPPTOOLS_STANZA_H
#define XMPPTOOLS_STANZA_H

#include <strophe.h>

#include "util.h"

#define NS_PING "urn:xmpp:ping"
#define NS_SID "urn:xmpp:sid:0"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_HINTS "urn:xmpp:hints"
#define NS_OOB "jabber:x:oob"
#define NS_RECEIPTS "urn:xmpp:receipts"
#define NS_DELAY "urn:xmpp:delay"
#define NS_MUC "http://jabber.org/protocol/muc"
#define NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define NS_VERSION "jabber:iq:version"
#define NS_CARBONS "urn:xmpp:carbons:2"
#define NS_FORWARD "urn:xmpp:forward:0"

/*
 * Builders return a new stanza owned by the caller, who releases it with
 * xmpp_stanza_release() (usually right after xmpp_send()).  Every text they
 * take must already be valid for XML (see text_check_xml()); NULL or empty
 * optional fields are left out.
 */

/* What one message carries. */
struct msg_spec {
	const char *to;
	const char *type; /* chat, normal, headline, groupchat */
	const char *id; /* also the XEP-0359 origin-id */
	const char *body;
	const char *subject;
	const char *thread;
	const char *url; /* XEP-0066 out-of-band URL */
	const char *url_desc; /* its <desc/> (with url only) */
	int no_store; /* XEP-0334 <no-store/> */
	int receipt; /* XEP-0184 <request/> */
};

xmpp_stanza_t *stanza_message(xmpp_ctx_t *ctx, const struct msg_spec *m);

/* <iq type='get' to=TO id=ID><ping xmlns='urn:xmpp:ping'/></iq> */
xmpp_stanza_t *stanza_ping(xmpp_ctx_t *ctx, const char *to, const char *id);

/*
 * stanza_error_info()
 *
 * Reads the RFC 6120 <error/> child of a stanza of type 'error': *condition
 * gets the defined condition ("service-unavailable"; "undefined-condition"
 * when none is given) and *text the human text or NULL.  Both are allocated
 * (caller frees); the condition is escaped (text_escape()), the text not.
 */
void stanza_error_info(xmpp_stanza_t *st, char **condition, char **text);

/*
 * stanza_child_text()
 *
 * Returns the text of the first child named 'name' (in namespace 'ns' when
 * not NULL), allocated (caller frees), or NULL when there is none.
 */
char *stanza_child_text(xmpp_stanza_t *st, const char *name, const char *ns);

/*
 * stanza_redact_trace()
 *
 * Appends to 'b' a copy of one line of XML trace in which the text of SASL
 * elements (auth, response, challenge, success) and of every <password>
 * element is replaced by "[redacted]", so -vv never shows a credential.
 */
void stanza_redact_trace(struct buf *b, const char *line);

/*
 * stanza_stream_error_name()
 *
 * The RFC 6120 name of a libstrophe stream error type ("conflict").
 */
const char *stanza_stream_error_name(xmpp_error_type_t type);

/* Builders for messages */

/*
 * stanza_give_id()
 *
 * Gives a stanza read from the input (xsend --raw) the id 'id' (copied),
 * in place of its own or where it had none: replies and bounces are
 * matched by id, so each stanza in flight needs its own.  Nothing else of
 * the stanza changes.
 */
void stanza_give_id(xmpp_stanza_t *st, const char *id);

/* Builders for presence and roster stanzas */

/*
 * Like the builders above, each returns a new stanza that the caller owns
 * and releases; the strings of a spec are borrowed and copied into it.
 */

/* What one presence carries. */
struct pres_spec {
	const char *to;
	const char *type; /* NULL (available), unavailable, subscribe, ... */
	const char *id;
	const char *show; /* away, chat, dnd, xa */
	const char *status;
	int has_priority;
	long priority;
	int muc_join; /* <x xmlns=muc><history maxstanzas='0'/></x> */
};

/*
 * stanza_presence()
 *
 * <presence to type id> with, in this order, the MUC join element, <show/>,
 * <status/> and <priority/>.  NULL or empty fields are left out.
 */
xmpp_stanza_t *stanza_presence(xmpp_ctx_t *ctx, const struct pres_spec *p);

/*
 * stanza_query()
 *
 * <iq type=TYPE id=ID to=TO><query xmlns=NS node=NODE/></iq>; 'to' and
 * 'node' may be NULL (none).
 */
xmpp_stanza_t *stanza_query(xmpp_ctx_t *ctx, const char *type, const char *id,
    const char *to, const char *ns, const char *node);

/* <iq type='get' id=ID><query xmlns='jabber:iq:roster'/></iq> */
xmpp_stanza_t *stanza_roster_get(xmpp_ctx_t *ctx, const char *id);

/* One roster item (RFC 6121 2.1.2); every field is borrowed. */
struct roster_spec {
	const char *jid;
	const char *name; /* NULL or empty: none */
	char *const *groups;
	size_t ngroups;
	const char *subscription; /* NULL: none; "remove" drops the rest */
	const char *ask;
};

/*
 * stanza_roster_item()
 *
 * <item jid name subscription ask><group/>...</item>, without a namespace
 * (the <query/> it goes into has it).  With subscription "remove" only the
 * JID and the subscription.
 */
xmpp_stanza_t *stanza_roster_item(xmpp_ctx_t *ctx, const struct roster_spec *r);

/* <iq type='set' id=ID><query xmlns='jabber:iq:roster'><item/></query></iq>
 * with the item of stanza_roster_item(). */
xmpp_stanza_t *
stanza_roster_set(xmpp_ctx_t *ctx, const char *id, const struct roster_spec *r);

/* Builders for xlisten's answers (the caller owns and releases them) */

/* <message to id><received xmlns='urn:xmpp:receipts' id=RECEIVED/>
 * </message>: the XEP-0184 receipt for the message 'received'. */
xmpp_stanza_t *stanza_receipt(
    xmpp_ctx_t *ctx, const char *to, const char *id, const char *received);

/* <iq type='set' id><enable xmlns='urn:xmpp:carbons:2'/></iq> (XEP-0280) */
xmpp_stanza_t *stanza_carbons_enable(xmpp_ctx_t *ctx, const char *id);

#endif
