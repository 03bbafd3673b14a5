/* SPDX-License-Identifier: MIT */
/* online.h -- what a tool that stays online owes the network */

#ifndef XMPPTOOLS_ONLINE_H
#define XMPPTOOLS_ONLINE_H

#include "session.h"

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

#endif
