/* SPDX-License-Identifier: MIT */
/* online.h -- what a tool that stays online owes the network */

#ifndef XMPPTOOLS_ONLINE_H
#define XMPPTOOLS_ONLINE_H

#include "session.h"
#include "stanza.h"

/*
 * online_answer_iqs()
 *
 * Answers the iq requests a client must answer: XEP-0199 ping, XEP-0030
 * disco#info (identity client/bot named after the tool, the features
 * listed in 'features', NULL-terminated, beside disco#info, ping and
 * version), XEP-0092 version (name "xmpptools TOOL", the version; no
 * operating system), roster pushes from our own account (RFC 6121 2.1.6:
 * acknowledged), and service-unavailable to every other get or set.
 * Results and errors are never answered.  The strings are borrowed and
 * must outlive the session.
 */
void online_answer_iqs(
    struct session *s, const char *tool, const char *const *features);

/*
 * online_keepalive()
 *
 * Every 'interval_ms' of silence, pings the server; when no answer comes
 * within 'interval_ms' more, the connection is taken for dead and the
 * reconnection policy takes over.  So a dead server or path is noticed
 * within twice the interval.  Call again in each on_connect callback.
 */
void online_keepalive(struct session *s, long interval_ms);

/*
 * online_quiet_presence()
 *
 * The initial presence 'spec' of a tool that must take no message: its
 * priority (negative) keeps messages away (RFC 6121 8.5.2.1.1), but then
 * ejabberd also holds back the subscription requests stored while the
 * user was offline (it sends them on the first presence of priority 0 or
 * more).  So first the offline-message node of XEP-0013 is asked, on our
 * own account: a server that answers it sends no stored message on the
 * next presence (XEP-0013 2.3), and there the presence goes out with
 * priority 0 and at once again with spec's own.  A server that does not
 * (Prosody 0.12) gets spec alone.  'done' is called when the presence
 * is sent; 'spec' is copied, its strings borrowed until then.
 */
void online_quiet_presence(struct session *s, const struct pres_spec *spec,
    session_event_cb done, void *ud);

#endif
