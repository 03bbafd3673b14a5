/* SPDX-License-Identifier: MIT */
/* session_priv.h -- the session's own state, shared by its three files */

#ifndef XMPPTOOLS_SESSION_PRIV_H
#define XMPPTOOLS_SESSION_PRIV_H

/*
 * Private to common/session*.c; no tool includes it.  The session is split
 * by concern:
 *   session.c        the API of session.h and the result of a run
 *   session_login.c  the libstrophe connection object, TLS, and the login
 *                    as the stream shows it (XML guard, log lines, events)
 *   session_loop.c   the event loop: attempts, turns, deadlines, timers,
 *                    reconnection
 * The failure model itself is failure.c, the parser guard xmlguard.c.
 */

#include <signal.h>
#include <stdint.h>

#include <strophe.h>

#include "config.h"
#include "failure.h"
#include "jid.h"
#include "session.h"
#include "xmlguard.h"

/* Grace between the loop's own deadline and the watchdog's hard stop. */
#define WATCHDOG_GRACE_MS 500
/* After login the watchdog is only a backstop behind the loop's deadline:
 * a tool's own ending (a last barrier) may take up to 2 s. */
#define BACKSTOP_GRACE_MS 900
#define BACKSTOP_TOOL_GRACE_MS 3000
/* How long the server's </stream:stream> is awaited after ours (libstrophe
 * would wait 2 s): everything was confirmed before. */
#define CLOSE_WAIT_MS 1000
/* After the deadline, how long the server's goodbye is awaited. */
#define CLOSE_AFTER_DEADLINE_MS 500
/* Longest time one incoming stanza may take to arrive (or --timeout). */
#define STANZA_TIME_MS 30000
/* Longest sleep of the loop when nothing is due (a bound, not a poll). */
#define LOOP_MAX_WAIT_MS 1000
/* One TLS record holds at most 16 KiB; libstrophe reads 4 KiB at a time. */
#define TLS_DRAIN_READS 4
/* Reads in one drain before the loop attends to input and timers. */
#define DRAIN_MAX_READS 256
/* Reconnection delays: doubled from the first to the last, with jitter. */
#define RECONNECT_FIRST_MS 500
#define RECONNECT_MAX_MS 30000
#define SESSION_MAX_TIMERS 8

enum state {
	S_NEW, /* not started */
	S_CONNECTING, /* TCP, TLS, SASL, bind */
	S_READY, /* online */
	S_WAIT, /* connection lost; waiting to reconnect */
	S_CLOSING, /* </stream:stream> sent, waiting for the close */
	S_DONE /* disconnected; the run is over */
};

/* A tool's callback registered with libstrophe through a trampoline. */
struct hook {
	struct session *s;
	session_stanza_cb cb;
	session_event_cb event;
	void *ud;
	char *id; /* for id handlers, else NULL */
	char *name, *type, *ns; /* for stanza handlers: what they match */
	int dead;
	struct hook *next;
};

struct session {
	const struct xconfig *cfg;
	xmpp_ctx_t *ctx;
	xmpp_conn_t *conn;
	xmpp_log_t log;

	struct jid jid;
	char *bare;
	char *target; /* "host:port" for messages */
	char *bound;

	enum state state;
	int code;
	int code_set;
	char *error;
	const char *phase;

	/* the current connection attempt, for the failure model */
	struct attempt at;
	int conn_used; /* the connection object has made an attempt */
	int sock;
	int ever_online;
	int sm; /* XEP-0198 stream management wanted */
	int drain_owed; /* a drain stopped early: OpenSSL may hold data */
	int shut; /* hard_close() shut the socket down */
	int sm_active; /* the server counts our acknowledgements */
	unsigned long sm_h; /* stanzas handled, as libstrophe counts them */
	int sm_frozen; /* one was not handled: count no more */
	int insecure_warned;
	long stanza_ms; /* time allowed for one incoming stanza */
	int parent; /* the top-level element being read (on_element) */
	int close_requested; /* session_close() waits for its barrier */
	int64_t close_deadline; /* S_CLOSING: when to stop waiting */

	/* time */
	int64_t deadline;
	long deadline_ms;
	session_event_cb on_deadline;
	void *on_deadline_ud;
	int64_t connect_deadline;

	/* tool callbacks */
	session_event_cb on_connect;
	void *on_connect_ud;
	struct hook *hooks;

	/* input */
	int input_fd;
	int input_max_queue;
	int input_paused;
	session_input_cb input_cb;
	void *input_ud;

	int signal_code;
	session_event_cb on_signal;
	void *on_signal_ud;

	/* reconnection */
	int retries; /* reconnections allowed in a row */
	int retry_initial; /* also when the first connection fails */
	int attempts; /* failed attempts since the last success */
	int retry_ok; /* the recorded failure is worth a retry */
	int64_t reconnect_at;
	session_event_cb on_disconnect;
	void *on_disconnect_ud;

	/* the tools' timers (one-shot; most fire only online) */
	struct timer {
		unsigned id;
		int always; /* fires in any state and outlives the connection */
		int64_t at;
		session_event_cb cb;
		void *ud;
	} timers[SESSION_MAX_TIMERS];
	unsigned next_timer_id;
};

/* libstrophe's certificate and socket callbacks carry no user data. */
extern struct session *ses_current;
extern volatile sig_atomic_t ses_caught_signal;

void ses_arm_backstop(struct session *s);
void ses_check_pin(struct session *s);
void ses_conn_handler(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
    xmpp_stream_error_t *se, void *ud);
int ses_conn_renew(struct session *s);
int ses_conn_setup(struct session *s, const char *password);
void ses_deadline_reached(struct session *s);
char *ses_escaped(const char *text);
void ses_fail_attempt(struct session *s, int error, xmpp_stream_error_t *se);
void ses_hard_close(struct session *s);
void ses_hook_free(struct hook *h);
int ses_hook_stanza(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud);
void ses_log_handler(
    void *ud, xmpp_log_level_t level, const char *area, const char *msg);
int ses_may_retry(struct session *s);
void ses_on_element(void *ud, const struct xmlguard_element *el);
void ses_on_signal(int sig);
void ses_on_violation(void *ud, enum xmlguard_violation v);
void ses_record(struct session *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ses_reset_attempt(struct session *s);
void ses_schedule_reconnect(struct session *s);
/* The port connected to: --port, else 5223 with direct TLS, else 5222. */
unsigned long ses_port(const struct session *s);
void ses_set_phase(struct session *s, const char *phase);

#endif
