/* SPDX-License-Identifier: MIT */
/* session_loop.c -- the event loop: attempts, turns, deadlines, timers,
 * reconnection */

#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <strophe.h>

#include "config.h"
#include "failure.h"
#include "jid.h"
#include "session.h"
#include "session_priv.h"
#include "stanza.h"
#include "text.h"
#include "util.h"
#include "xmlguard.h"
#include "xmpptools.h"

/* The id handlers of a lost stream will never see their reply. */
static void
drop_id_hooks(struct session *s)
{
	struct hook *h;

	for (h = s->hooks; h; h = h->next)
		if (h->id && !h->dead) {
			h->dead = 1;
			xmpp_id_handler_delete(s->conn, ses_hook_stanza, h->id);
		}
}

/*
 * Frees the hooks libstrophe no longer holds: a handler that returned 0 is
 * removed by libstrophe, and drop_id_hooks() removes the others.  Runs
 * between turns of the loop, never inside a handler.
 */
static void
sweep_hooks(struct session *s)
{
	struct hook **pp = &s->hooks, *h;

	while ((h = *pp) != NULL) {
		if (!h->dead) {
			pp = &h->next;
			continue;
		}
		*pp = h->next;
		ses_hook_free(h);
	}
}

int
ses_may_retry(struct session *s)
{
	return s->retry_ok && s->attempts < s->retries &&
	    (s->ever_online || s->retry_initial) &&
	    (s->code == XEXIT_CONNECT || s->code == XEXIT_TIMEOUT);
}

void
ses_schedule_reconnect(struct session *s)
{
	long delay = RECONNECT_FIRST_MS;
	int i;

	/*
	 * --retries counts attempts in a row that made no progress: a
	 * connection that the server ends right after login counts as failed
	 * (it would otherwise start the count again, and a tool that resends
	 * on each login would resend forever).
	 */
	if (failure_made_progress(&s->at, util_now_ms()))
		s->attempts = 0;
	for (i = 0; i < s->attempts && delay < RECONNECT_MAX_MS; i++)
		delay *= 2;
	if (delay > RECONNECT_MAX_MS)
		delay = RECONNECT_MAX_MS;
	/* Jitter, so that many clients do not come back at once. */
	delay = delay / 2 + random() % (delay / 2 + 1);
	s->attempts++;
	if (s->retries != SESSION_RETRY_FOREVER)
		xwarn("%s; reconnecting in %ld.%ld s (attempt %d of %d)",
		    s->error ? s->error : "connection lost", delay / 1000,
		    (delay % 1000) / 100, s->attempts, s->retries);
	else
		xwarn("%s; reconnecting in %ld.%ld s (attempt %d)",
		    s->error ? s->error : "connection lost", delay / 1000,
		    (delay % 1000) / 100, s->attempts);
	free(s->error);
	s->error = NULL;
	s->code = 0;
	s->code_set = 0;
	s->retry_ok = 0;
	s->reconnect_at = util_now_ms() + delay;
	s->state = S_WAIT;
	/* The wait is not part of an attempt: the next one arms it again. */
	util_watchdog_disarm();
	for (i = 0; i < SESSION_MAX_TIMERS; i++)
		if (!s->timers[i].always)
			s->timers[i].id = 0;
	drop_id_hooks(s);
	s->close_requested = 0; /* its barrier and timer went with the stream */
	if (s->on_disconnect)
		s->on_disconnect(s, s->on_disconnect_ud);
}

/* The host and port connected to, when the user gave them, else the
 * domain at the default port. */
static void
target_address(
    struct session *s, char *host, size_t hlen, char *port, size_t plen)
{
	/* From the settings, not from s->target: that is escaped text for
	 * messages, which libstrophe's log may have replaced. */
	snprintf(host, hlen, "%s", s->cfg->host ? s->cfg->host : s->jid.domain);
	snprintf(port, plen, "%lu", ses_port(s));
}

/*
 * libstrophe 0.12.2 loses the bound JID kept for a stream resumption (a
 * few bytes) each time an attempt that carries it fails before login: its
 * _reset_sm_state_for_reconnect() runs once more and overwrites it.  A
 * server that restarts refuses the first attempts, so before handing the
 * state to a new attempt, an address the user gave is tried without
 * libstrophe.  Returns 1 when it refuses (the failure is recorded), else 0
 * (connected, or no answer within PROBE_MS: libstrophe tries).
 */
#define PROBE_MS 1000
static int
probe_refused(struct session *s)
{
	struct addrinfo hints, *res = NULL;
	struct pollfd p;
	char host[256], port[8], ebuf[128];
	socklen_t len = sizeof(int);
	int fd, err = 0;

	if (!(s->cfg->host || s->cfg->port))
		return 0; /* SRV: libstrophe picks the address */
	target_address(s, host, sizeof(host), port, sizeof(port));
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
		return 0;
	fd = socket(res->ai_family,
	    res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, res->ai_protocol);
	if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
		err = errno;
		if (err == EINPROGRESS) {
			p.fd = fd;
			p.events = POLLOUT;
			err = 0;
			if (poll(&p, 1, PROBE_MS) > 0 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) <
				0)
				err = errno;
		}
	}
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	if (err != ECONNREFUSED)
		return 0;
	ses_record(s, XEXIT_CONNECT, "%s:%s: %s", host, port,
	    failure_strerror(err, ebuf, sizeof(ebuf)));
	return 1;
}

/*
 * Connection failures that happen inside xmpp_connect_client() (the name
 * does not resolve; loopback refuses at once) come back without a reason.
 * Find it by doing the same once more, with a short blocking probe.
 */
static void
explain_connect_failure(struct session *s)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[256], port[8], ebuf[128];
	int fd, err = 0, gai;

	target_address(s, host, sizeof(host), port, sizeof(port));
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0) {
		ses_record(s, XEXIT_CONNECT, "%s: cannot resolve: %s", host,
		    gai_strerror(gai));
		return;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			close(fd);
			err = 0;
			break;
		}
		err = errno;
		close(fd);
	}
	freeaddrinfo(res);
	ses_record(s, XEXIT_CONNECT, "%s:%s: %s", host, port,
	    err ? failure_strerror(err, ebuf, sizeof(ebuf)) : "cannot connect");
}

static long
wait_until(int64_t now, int64_t when, long cap)
{
	if (when == 0)
		return cap;
	if (when <= now)
		return 0;
	return when - now < cap ? (long)(when - now) : cap;
}

/* "HOST: timed out after N s PHASE", the one timeout line. */
static void
record_timeout(struct session *s, long ms)
{
	char t[32];

	ses_record(s, XEXIT_TIMEOUT, "%s: timed out after %s s%s%s",
	    session_target(s), util_seconds(ms, t, sizeof(t)),
	    s->phase ? " " : "", s->phase ? s->phase : "");
}

void
ses_deadline_reached(struct session *s)
{
	s->deadline = 0;
	if (s->on_deadline) {
		s->on_deadline(s, s->on_deadline_ud);
		/*
		 * The tool ended the run past its deadline: the server's
		 * goodbye gets a shorter wait than after an ordinary close.
		 */
		if (s->state == S_CLOSING &&
		    s->close_deadline > util_now_ms() + CLOSE_AFTER_DEADLINE_MS)
			s->close_deadline =
			    util_now_ms() + CLOSE_AFTER_DEADLINE_MS;
		return;
	}
	if (s->state == S_CLOSING && s->code_set) {
		/* Everything is done but the goodbye; do not wait for it. */
		ses_hard_close(s);
		return;
	}
	record_timeout(s, s->deadline_ms);
	s->retry_ok = 0;
	if (s->state == S_WAIT)
		s->state = S_DONE;
	else
		ses_hard_close(s);
}

/*
 * Ends the stream on our side with a stream error (RFC 6120 4.9): the
 * error and our closing tag are written, then the socket is shut; the
 * failure is recorded from the attempt's state.  A failure after a
 * successful ending still wins (the run ends 9, not 0).
 */
static void
close_with_error(struct session *s, const char *condition)
{
	s->at.violation_handled = 1;
	if (s->sock >= 0 && !s->shut && !s->at.close_sent) {
		xmpp_send_raw_string(s->conn,
		    "<stream:error><%s xmlns='urn:ietf:params:xml:ns:"
		    "xmpp-streams'/></stream:error></stream:stream>",
		    condition);
		xmpp_run_once(s->ctx, 0); /* writes it; parses nothing more */
	}
	ses_fail_attempt(s, 0, NULL); /* a failure replaces a success */
	s->retry_ok = 0;
	ses_hard_close(s);
}

/* Checks after each turn of libstrophe's loop. */
static void
after_turn(struct session *s)
{
	int64_t since;

	/* The pin, before the server answers the new stream header with
	 * features and libstrophe sends credentials. */
	if (s->state == S_CONNECTING && !s->at.secured && s->conn &&
	    xmpp_conn_is_secured(s->conn))
		ses_check_pin(s);
	if (s->at.violation && !s->at.violation_handled) {
		close_with_error(s,
		    xmlguard_condition(
			(enum xmlguard_violation)s->at.violation));
		return;
	}
	since = xmlguard_pending_since();
	if (since != 0 && !s->at.violation_handled && !s->shut &&
	    (s->state == S_CONNECTING || s->state == S_READY) &&
	    util_now_ms() - since > s->stanza_ms) {
		s->at.stanza_too_slow = 1;
		s->at.stanza_limit_ms = s->stanza_ms;
		close_with_error(s, "policy-violation");
	}
}

/*
 * Every turn of the loop goes through here (only session_free()'s closing
 * turns do not): the certificate pin is checked right after the turn that
 * finished the TLS handshake, before the server answers the new stream
 * header with features and libstrophe sends credentials.
 */
static void
run_once(struct session *s, unsigned long ms)
{
	xmpp_run_once(s->ctx, ms);
	after_turn(s);
}

/*
 * Reads what the socket and OpenSSL hold, after each turn of the loop.
 * libstrophe waits with select() even when OpenSSL holds decrypted bytes
 * that the socket no longer shows, and it reads 4 KiB per turn: the rest
 * of a larger TLS record (a roster of 50 contacts) waited for the next
 * packet or the loop's longest sleep, a second.  Without read-ahead
 * OpenSSL buffers at most one record, so TLS_DRAIN_READS turns after the
 * socket went quiet empty it; those turns also write what the handlers
 * queued.
 */
static void
drain(struct session *s)
{
	struct pollfd p;
	int quiet = 0, reads = 0;

	s->drain_owed = 0;
	while (quiet < TLS_DRAIN_READS && s->sock >= 0 && !s->shut &&
	    !s->at.violation && xmpp_conn_is_connected(s->conn)) {
		if (reads++ == DRAIN_MAX_READS) {
			s->drain_owed = 1; /* input and timers first */
			return;
		}
		p.fd = s->sock;
		p.events = POLLIN;
		p.revents = 0;
		if (poll(&p, 1, 0) > 0 && (p.revents & POLLIN))
			quiet = 0;
		else
			quiet++;
		run_once(s, 0);
	}
}

/* One turn with the input descriptor watched beside the socket. */
static void
turn_with_input(struct session *s, long wait)
{
	struct pollfd p[2];
	int n;

	p[0].fd = s->sock;
	p[0].events = POLLIN;
	if (xmpp_conn_send_queue_len(s->conn) > 0)
		p[0].events |= POLLOUT;
	p[1].fd = s->input_fd;
	p[1].events = POLLIN;
	p[0].revents = p[1].revents = 0;
	n = poll(p, 2, (int)wait);
	if (n < 0)
		p[1].revents = 0;
	run_once(s, 0);
	if (s->state == S_READY &&
	    (p[1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))) {
		if (s->input_cb(s, s->input_fd, s->input_ud) < 0)
			s->input_fd = -1;
		/* Write what the input produced without waiting a turn. */
		run_once(s, 0);
	}
}

/*
 * Starts one connection attempt: the deadline of the connection phase, the
 * watchdog for the blocking parts, and libstrophe's connect.  Returns 0, or
 * -1 when it failed at once (with the failure recorded).
 */
static int
start_attempt(struct session *s)
{
	int64_t now = util_now_ms();
	int rc;

	ses_reset_attempt(s);
	if (s->sm && s->ever_online && s->conn_used && probe_refused(s)) {
		s->retry_ok = 1;
		return -1;
	}
	if (s->conn_used && ses_conn_renew(s) < 0) {
		ses_record(
		    s, XEXIT_FAILURE, "cannot create the XMPP connection");
		s->retry_ok = 0;
		return -1;
	}
	s->connect_deadline = now + config_timeout_ms(s->cfg);
	if (s->deadline && s->deadline < s->connect_deadline)
		s->connect_deadline = s->deadline;
	util_watchdog_arm(s->connect_deadline + WATCHDOG_GRACE_MS, s->target,
	    (long)(s->connect_deadline - now));
	ses_set_phase(s, "while connecting");
	xdebug(1, "connecting to %s", s->target);

	s->state = S_CONNECTING;
	s->conn_used = 1;
	/*
	 * With --port but no --host, connect to the domain at that port:
	 * libstrophe would let an SRV record override the port silently.
	 */
	rc = xmpp_connect_client(s->conn,
	    s->cfg->host       ? s->cfg->host
		: s->cfg->port ? s->jid.domain
			       : NULL,
	    (unsigned short)(s->cfg->port || s->cfg->direct_tls ? ses_port(s)
								: 0),
	    ses_conn_handler, s);
	if (rc == XMPP_EOK)
		return 0;
	explain_connect_failure(s);
	util_watchdog_disarm();
	s->retry_ok = 1;
	return -1;
}

static int
timer_may_fire(struct session *s, const struct timer *t)
{
	return t->id != 0 && (t->always || s->state == S_READY);
}

/*
 * Fires the tools' timers that are due; returns when the next one is due
 * (0: none).  A callback may add or cancel timers, so the next one is
 * looked for afterwards.  Timers that wait for the session to be online do
 * not count while it is not: the connection wakes the loop then.
 */
static int64_t
fire_timers(struct session *s, int64_t now)
{
	int64_t next = 0;
	size_t i;

	for (i = 0; i < SESSION_MAX_TIMERS; i++) {
		struct timer t = s->timers[i];

		if (timer_may_fire(s, &t) && t.at <= now) {
			s->timers[i].id = 0;
			t.cb(s, t.ud);
		}
	}
	for (i = 0; i < SESSION_MAX_TIMERS; i++)
		if (timer_may_fire(s, &s->timers[i]) &&
		    (next == 0 || s->timers[i].at < next))
			next = s->timers[i].at;
	return next;
}

static int64_t
earliest(int64_t a, int64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

/* The attempt in progress took longer than the connection phase may: a
 * retry may do better. */
static void
attempt_timed_out(struct session *s)
{
	record_timeout(s, config_timeout_ms(s->cfg));
	s->retry_ok = 1;
	ses_hard_close(s);
}

/*
 * What is due before a turn: a signal, a reconnection, the end of an
 * attempt, of the run or of the wait for the server's goodbye.  Returns 1
 * when the loop must look again before turning.
 */
static int
handle_due(struct session *s, int64_t now)
{
	if (ses_caught_signal && s->state != S_CLOSING) {
		xdebug(1, "signal %d: closing", (int)ses_caught_signal);
		ses_caught_signal = 0;
		if (s->on_signal)
			s->on_signal(s, s->on_signal_ud);
		else
			session_finish(s, s->signal_code);
		return 1;
	}
	if (s->state == S_WAIT && now >= s->reconnect_at &&
	    start_attempt(s) < 0) {
		if (ses_may_retry(s))
			ses_schedule_reconnect(s);
		else
			s->state = S_DONE;
		return 1;
	}
	if (s->state == S_CONNECTING && now >= s->connect_deadline &&
	    (s->deadline == 0 || s->connect_deadline < s->deadline))
		attempt_timed_out(s);
	if (s->deadline && now >= s->deadline)
		ses_deadline_reached(s);
	if (s->state == S_CLOSING && now >= s->close_deadline && !s->shut)
		ses_hard_close(s); /* the goodbye did not come */
	return 0;
}

/* When the loop must wake next (0: nothing is due), given when the next
 * timer is due. */
static int64_t
next_due(struct session *s, int64_t next_timer)
{
	int64_t next = earliest(s->deadline, next_timer);

	if (s->state == S_CLOSING && !s->shut)
		next = earliest(next, s->close_deadline);
	if (s->state == S_CONNECTING)
		next = earliest(next, s->connect_deadline);
	if (s->state == S_WAIT)
		next = earliest(next, s->reconnect_at);
	return next;
}

int
session_run(struct session *s)
{
	struct sigaction ign;
	int64_t now, next_timer;
	long wait;

	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, NULL);
	srandom((unsigned)(util_now_ms() ^ getpid()));

	if (start_attempt(s) < 0) {
		if (ses_may_retry(s))
			ses_schedule_reconnect(s);
		else
			s->state = S_DONE;
	}

	while (s->state != S_DONE) {
		now = util_now_ms();
		if (handle_due(s, now))
			continue;
		if (s->state == S_DONE)
			break;
		next_timer = fire_timers(s, now);
		wait =
		    wait_until(now, next_due(s, next_timer), LOOP_MAX_WAIT_MS);
		if (s->drain_owed)
			wait = 0;
		if (s->state == S_READY && s->input_fd >= 0 && s->sock >= 0 &&
		    !s->input_paused &&
		    xmpp_conn_send_queue_len(s->conn) < s->input_max_queue)
			turn_with_input(s, wait);
		else
			run_once(s, (unsigned long)wait);
		drain(s);
		sweep_hooks(s);
	}
	util_watchdog_disarm();
	if (!s->code_set) {
		s->code = XEXIT_FAILURE;
		if (s->error == NULL)
			s->error = xstrdup("the session ended for no known "
					   "reason");
	}
	return s->code;
}
