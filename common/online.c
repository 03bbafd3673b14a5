/* SPDX-License-Identifier: MIT */
/* online.c -- what a tool that stays online owes the network */

#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "jid.h"
#include "online.h"
#include "session.h"
#include "stanza.h"
#include "util.h"

struct responder {
	const char *tool;
	const char *const *features;
};

/* One responder and one keepalive per process, as there is one session. */
static struct responder responder;

static struct {
	long interval;
	unsigned timer;
	int waiting; /* a ping is out */
} keep;

static xmpp_stanza_t *
child(xmpp_stanza_t *parent, const char *name, const char *ns)
{
	xmpp_stanza_t *c = xmpp_stanza_new(xmpp_stanza_get_context(parent));

	xmpp_stanza_set_name(c, name);
	if (ns)
		xmpp_stanza_set_ns(c, ns);
	xmpp_stanza_add_child_ex(parent, c, 0);
	return c;
}

static void
text_child(xmpp_stanza_t *parent, const char *name, const char *text)
{
	xmpp_stanza_t *c = child(parent, name, NULL);
	xmpp_stanza_t *t = xmpp_stanza_new(xmpp_stanza_get_context(parent));

	xmpp_stanza_set_text(t, text);
	xmpp_stanza_add_child_ex(c, t, 0);
}

static void
feature(xmpp_stanza_t *q, const char *var)
{
	xmpp_stanza_set_attribute(child(q, "feature", NULL), "var", var);
}

/* An empty reply of 'type' to the iq 'st' (to its sender, if it named one:
 * without 'from' it came from our own account's server). */
static xmpp_stanza_t *
reply_to(xmpp_stanza_t *st, const char *type)
{
	xmpp_stanza_t *reply = xmpp_iq_new(
	    xmpp_stanza_get_context(st), type, xmpp_stanza_get_id(st));

	if (xmpp_stanza_get_from(st))
		xmpp_stanza_set_to(reply, xmpp_stanza_get_from(st));
	return reply;
}

static int
on_iq(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct responder *r = ud;
	const char *type = xmpp_stanza_get_type(st);
	const char *from = xmpp_stanza_get_from(st);
	xmpp_stanza_t *q = NULL, *reply, *c;
	const char *ns = NULL;
	char *name_text;
	size_t i;

	if (type == NULL ||
	    (strcmp(type, "get") != 0 && strcmp(type, "set") != 0))
		return 1;
	for (c = xmpp_stanza_get_children(st); c; c = xmpp_stanza_get_next(c))
		if (xmpp_stanza_is_tag(c)) {
			q = c;
			ns = xmpp_stanza_get_ns(c);
			break;
		}
	if (ns == NULL)
		ns = "";
	if (strcmp(type, "get") == 0 && strcmp(ns, NS_PING) == 0) {
		reply = reply_to(st, "result");
	} else if (strcmp(type, "get") == 0 &&
	    strcmp(ns, XMPP_NS_DISCO_INFO) == 0 &&
	    xmpp_stanza_get_attribute(q, "node") == NULL) {
		reply = reply_to(st, "result");
		q = child(reply, "query", XMPP_NS_DISCO_INFO);
		c = child(q, "identity", NULL);
		xmpp_stanza_set_attribute(c, "category", "client");
		xmpp_stanza_set_attribute(c, "type", "bot");
		name_text = xasprintf("xmpptools %s", r->tool);
		xmpp_stanza_set_attribute(c, "name", name_text);
		free(name_text);
		feature(q, XMPP_NS_DISCO_INFO);
		feature(q, NS_PING);
		feature(q, NS_VERSION);
		for (i = 0; r->features && r->features[i]; i++)
			feature(q, r->features[i]);
	} else if (strcmp(type, "get") == 0 && strcmp(ns, NS_VERSION) == 0) {
		reply = reply_to(st, "result");
		q = child(reply, "query", NS_VERSION);
		name_text = xasprintf("xmpptools %s", r->tool);
		text_child(q, "name", name_text);
		free(name_text);
		text_child(q, "version", PACKAGE_VERSION);
	} else if (strcmp(type, "set") == 0 &&
	    strcmp(ns, XMPP_NS_ROSTER) == 0 &&
	    (from == NULL ||
		(!jid_has_resource(from) &&
		    jid_same_bare(from, session_bound_jid(s))))) {
		/* A roster push: acknowledged (RFC 6121 2.1.6). */
		reply = reply_to(st, "result");
	} else {
		xdebug(1, "refused an iq %s (service-unavailable)", type);
		reply = reply_to(st, "error");
		c = child(reply, "error", NULL);
		xmpp_stanza_set_type(c, "cancel");
		child(c, "service-unavailable", NS_STANZAS);
	}
	if (xmpp_stanza_get_id(st) == NULL) {
		/* RFC 6120 8.1.3: an iq without id is not answered. */
		xmpp_stanza_release(reply);
		return 1;
	}
	session_send(s, reply);
	xmpp_stanza_release(reply);
	return 1;
}

void
online_answer_iqs(
    struct session *s, const char *tool, const char *const *features)
{
	responder.tool = tool;
	responder.features = features;
	session_add_handler(s, "iq", NULL, NULL, on_iq, &responder);
}

static void keepalive_tick(struct session *s, void *ud);

static void
keepalive_pong(struct session *s, void *ud)
{
	(void)ud;
	keep.waiting = 0;
	session_timer_cancel(s, keep.timer);
	keep.timer = session_timer_add(s, keep.interval, keepalive_tick, NULL);
}

static void
keepalive_tick(struct session *s, void *ud)
{
	(void)ud;
	if (keep.waiting) {
		session_reconnect_now(s, "%s: no answer to a ping for %ld s",
		    session_target(s), keep.interval / 1000);
		return;
	}
	keep.waiting = 1;
	session_barrier(s, keepalive_pong, NULL);
	keep.timer = session_timer_add(s, keep.interval, keepalive_tick, NULL);
}

void
online_keepalive(struct session *s, long interval_ms)
{
	keep.interval = interval_ms;
	keep.waiting = 0;
	keep.timer = session_timer_add(s, interval_ms, keepalive_tick, NULL);
}

/* One quiet presence at a time, as there is one session. */
static struct {
	struct pres_spec spec;
	session_event_cb done;
	void *ud;
} quiet;

static void
send_presence(struct session *s, const struct pres_spec *spec)
{
	xmpp_stanza_t *p = stanza_presence(session_ctx(s), spec);

	session_send(s, p);
	xmpp_stanza_release(p);
}

static int
on_offline_node(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct pres_spec zero = quiet.spec;
	const char *type = xmpp_stanza_get_type(st);

	(void)ud;
	if (type && strcmp(type, "result") == 0) {
		/* XEP-0013 holds the stored messages back: priority 0 for
		 * the stored requests, then our own, in one go. */
		xdebug(1, "the server holds offline messages back (XEP-0013)");
		zero.has_priority = 1;
		zero.priority = 0;
		send_presence(s, &zero);
	}
	send_presence(s, &quiet.spec);
	quiet.done(s, quiet.ud);
	return 0;
}

void
online_quiet_presence(struct session *s, const struct pres_spec *spec,
    session_event_cb done, void *ud)
{
	char *id = session_new_id(s), *own = jid_bare_of(session_bound_jid(s));
	xmpp_stanza_t *iq = stanza_query(session_ctx(s), "get", id, own,
	    XMPP_NS_DISCO_INFO, "http://jabber.org/protocol/offline");

	quiet.spec = *spec;
	quiet.done = done;
	quiet.ud = ud;
	session_request(s, iq, on_offline_node, NULL);
	xmpp_stanza_release(iq);
	free(own);
	free(id);
}
