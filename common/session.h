/* SPDX-License-Identifier: MIT */
/* session.h -- the one owner of the XMPP connection */

#ifndef XMPPTOOLS_SESSION_H
#define XMPPTOOLS_SESSION_H

#include <limits.h>
#include <stdint.h>

#include <strophe.h>

#include "config.h"

/*
 * The session is the only code that touches libstrophe's connection and
 * event loop.  A tool creates one session, registers what it wants to hear
 * about, and calls session_run(), which connects (TLS always; verified
 * unless --insecure or pinned), logs in, calls the tool back, and returns
 * the exit code of the run once the tool or a failure has finished it.
 *
 * Failures are classified here (connect 4, TLS 5, auth 6, timeout 7,
 * protocol 9) with one line of explanation, session_error(), that the tool
 * prints.  Text from the network in that line is escaped.
 *
 * Only one session exists at a time in a process (libstrophe's certificate
 * and socket callbacks carry no user data).
 *
 * Callbacks run inside the event loop.  Stanzas passed to them are borrowed
 * for the duration of the call.  A stanza callback returns 1 to stay
 * registered or 0 to be removed.  Inside a callback a tool may send
 * (session_send, _request, _barrier), set timers and deadlines, pause its
 * input, and end the run (session_finish, _close, _set_result,
 * _not_handled, _timeout, _reconnect_now); never session_run() or
 * session_free().
 *
 * The result of a run has one owner, the session, and one rule: the first
 * failure recorded is the exit code; a failure recorded after a success
 * replaces it (a run that confirmed everything and then got restricted XML
 * ends 9); a success never replaces a failure.  session_error() explains
 * the failure that won.
 */
struct session;

typedef int (*session_stanza_cb)(
    struct session *s, xmpp_stanza_t *st, void *ud);
typedef void (*session_event_cb)(struct session *s, void *ud);
/* Called when 'fd' is readable (or at its end); returns 0, or -1 to stop
 * watching the descriptor. */
typedef int (*session_input_cb)(struct session *s, int fd, void *ud);

/*
 * session_new()
 *
 * Creates a session for the account in 'cfg' (borrowed; it must outlive
 * the session).  'password' is copied and may be NULL (client certificate).
 * Returns the session, or NULL with *errstr.
 */
struct session *
session_new(const struct xconfig *cfg, const char *password, char **errstr);

/* Disconnects if needed and releases everything.  NULL is a no-op. */
void session_free(struct session *s);

/* The libstrophe context, for building stanzas (stanza.h). */
xmpp_ctx_t *session_ctx(struct session *s);

/* The account's domain, and the full JID bound by the server once online. */
const char *session_domain(struct session *s);
const char *session_bound_jid(struct session *s);

/* A new unique stanza id (a UUID), allocated (caller frees). */
char *session_new_id(struct session *s);

/*
 * session_on_connect()
 *
 * 'cb' runs each time the stream is ready for stanzas (after login and
 * resource binding, and again after a reconnection).
 */
void session_on_connect(struct session *s, session_event_cb cb, void *ud);

/*
 * session_add_handler()
 *
 * Calls 'cb' for every incoming stanza whose element name, type attribute
 * and child namespace match (NULL matches anything).
 */
void session_add_handler(struct session *s, const char *name, const char *type,
    const char *ns, session_stanza_cb cb, void *ud);

/* Queues a stanza (not taken over: the caller still releases it). */
void session_send(struct session *s, xmpp_stanza_t *st);

/*
 * session_request()
 *
 * Sends an iq (which must carry an id) and calls 'cb' once with its reply,
 * result or error.  The stanza is not taken over.
 */
void session_request(
    struct session *s, xmpp_stanza_t *iq, session_stanza_cb cb, void *ud);

/*
 * session_barrier()
 *
 * Sends an XEP-0199 ping to the own server behind everything sent so far
 * and calls 'cb' when the answer (result or error) is back: RFC 6120 makes
 * the server process a stream's stanzas in order, so by then it has every
 * earlier stanza.
 */
void session_barrier(struct session *s, session_event_cb cb, void *ud);

/* Number of stanzas queued but not yet written to the socket. */
int session_queue_len(struct session *s);

/*
 * session_set_input()
 *
 * Watches 'fd' together with the connection while the session is online and
 * fewer than 'max_queue' stanzas wait to be written (back-pressure), and
 * calls 'cb' as soon as it is readable.  The descriptor is never made
 * non-blocking; 'cb' should read at most what one read() gives.  A fd of
 * -1 stops watching.
 */
void session_set_input(
    struct session *s, int fd, int max_queue, session_input_cb cb, void *ud);

/* Pauses or resumes the watching of the input descriptor. */
void session_pause_input(struct session *s, int paused);

/*
 * session_set_deadline()
 *
 * Ends the run 'ms' milliseconds from now: by calling 'cb' (whatever the
 * state: it may find the session offline) when it is not NULL, else as a
 * failure with XEXIT_TIMEOUT.  0 removes the deadline.  The connection
 * phase always has one (--timeout, else 30 s).
 */
void
session_set_deadline(struct session *s, long ms, session_event_cb cb, void *ud);

/* From a deadline callback: fail the run as a timeout, with the standard
 * message naming what the session was waiting for. */
void session_timeout(struct session *s);

/* Names what the run is waiting for, for the timeout message (a literal). */
void session_set_phase(struct session *s, const char *phase);

/*
 * session_catch_signals()
 *
 * Makes SIGINT, SIGTERM and SIGHUP end the run cleanly (the stream is
 * closed) with 'code' instead of killing the process.
 */
void session_catch_signals(struct session *s, int code);

/*
 * session_set_result()
 *
 * Records the exit code of a run that is ending but not closed yet (it
 * waits for a last answer): a loss of the connection meanwhile, or a
 * session_not_handled(), ends it with this code.
 */
void session_set_result(struct session *s, int code);

/*
 * session_not_handled()
 *
 * From a stanza callback: the stanza being handled was not handled (it
 * could not be written out, or the tool is ending), so it is not
 * acknowledged to the server (XEP-0198), which delivers it again later.
 * The session closes at once (with the code already recorded, else
 * XEXIT_OK): the library would acknowledge it with the next answer.
 */
void session_not_handled(struct session *s);

/*
 * session_on_signal()
 *
 * With session_catch_signals(): call 'cb' on SIGINT, SIGTERM or SIGHUP
 * instead of finishing at once (the tool finishes when it is ready).
 */
void session_on_signal(struct session *s, session_event_cb cb, void *ud);

/*
 * session_finish()
 *
 * Ends the run with exit code 'code': the stream is closed behind what is
 * queued.  The first failure recorded wins over a later success.
 */
void session_finish(struct session *s, int code);

/*
 * session_close()
 *
 * Ends the run with exit code 'code' once the server has answered a
 * barrier (what it sent meanwhile arrives, and is acknowledged or left for
 * it to deliver again, instead of bouncing back to its senders), or after
 * SESSION_CLOSE_GRACE_MS without an answer.  Offline it ends at once.  A
 * second call only records its code (the first result rule applies).
 */
#define SESSION_CLOSE_GRACE_MS 2000
void session_close(struct session *s, int code);

/*
 * session_run()
 *
 * Connects, runs the event loop until the run is finished, and returns its
 * exit code.  On failure session_error() explains it.
 */
int session_run(struct session *s);

/*
 * session_set_reconnect()
 *
 * When the connection is lost (or, with 'initial', when the first attempt
 * fails) for a reason worth a retry (connection, timeout of an attempt),
 * connect again, up to 'retries' times in a row, after 0.5, 1, 2 ... 30 s
 * with jitter; each lost connection is reported as a warning.  The
 * session_on_connect() callback runs again once online; stanzas queued but
 * not written are gone, and pending request/barrier callbacks are dropped
 * (their answers cannot come).  Tools resend what they must.
 */
void session_set_reconnect(struct session *s, int retries, int initial);
/* 'retries' that never runs out (a long-running tool's default). */
#define SESSION_RETRY_FOREVER INT_MAX

/*
 * session_enable_sm()
 *
 * Asks for XEP-0198 stream management where the server offers it, so a
 * lost connection can be resumed without losing what the server sent in
 * between.  Off by default: the iq barrier is the delivery proof of the
 * sending tools.  Call before session_run().
 */
void session_enable_sm(struct session *s);

/* True when the current connection resumed the previous stream (the server
 * kept our presence, rooms and queue). */
int session_resumed(struct session *s);

/* True when the server announced pre-approved subscriptions (RFC 6121
 * 3.4: <sub xmlns='urn:xmpp:features:pre-approval'/>) on this connection. */
int session_preapproval(struct session *s);

/* 'cb' runs when the connection is lost and a reconnection is scheduled. */
void session_on_disconnect(struct session *s, session_event_cb cb, void *ud);

/*
 * session_reconnect_now()
 *
 * Drops a connection that seems dead (the message says why) and lets the
 * reconnection policy take over; without one the run ends with
 * XEXIT_CONNECT.
 */
void session_reconnect_now(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * session_timer_add()
 *
 * Calls 'cb' once, 'ms' from now, if the session is online then.  Timers
 * are forgotten when the connection is lost.  Returns an id for
 * session_timer_cancel(), or 0 when all timer slots are in use.
 */
unsigned
session_timer_add(struct session *s, long ms, session_event_cb cb, void *ud);
/* The same for a timer that fires whether online or not and outlives a
 * lost connection (for the tool's own work, such as watching a child). */
unsigned session_timer_add_always(
    struct session *s, long ms, session_event_cb cb, void *ud);
void session_timer_cancel(struct session *s, unsigned id);

/* True while online (stanzas can be sent). */
int session_online(struct session *s);

/* The one-line explanation of a failed run, or NULL. */
const char *session_error(struct session *s);

/* "host:port" (or the domain) the session connects to, for messages. */
const char *session_target(struct session *s);

#endif
