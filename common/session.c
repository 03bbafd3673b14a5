/* SPDX-License-Identifier: MIT */
/* session.c -- the one owner of the XMPP connection: its API and the result of
 * a run */

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

struct session *ses_current;
volatile sig_atomic_t ses_caught_signal;

void
ses_on_signal(int sig)
{
	ses_caught_signal = sig;
}

/* The one rule of a run's result (session.h): the first failure wins, and
 * a failure replaces a success. */
static int
result_may_change(const struct session *s, int code)
{
	return !s->code_set || (s->code == XEXIT_OK && code != XEXIT_OK);
}

static void
set_error(struct session *s, int code, const char *fmt, va_list ap)
{
	if (!result_may_change(s, code))
		return;
	s->code = code;
	s->code_set = 1;
	free(s->error);
	if (vasprintf(&s->error, fmt, ap) < 0)
		s->error = NULL;
}

void
ses_record(struct session *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_error(s, code, fmt, ap);
	va_end(ap);
}

/* A copy of network text that is safe in a one-line message. */
char *
ses_escaped(const char *text)
{
	return text_escape_dup(text ? text : "", text ? strlen(text) : 0);
}

void
ses_hook_free(struct hook *h)
{
	free(h->id);
	free(h->name);
	free(h->type);
	free(h->ns);
	free(h);
}

/* Closes the socket under libstrophe's feet: nothing more is sent. */
void
ses_hard_close(struct session *s)
{
	if (s->sock >= 0) {
		shutdown(s->sock, SHUT_RDWR);
		s->shut = 1;
	}
}

unsigned long
ses_port(const struct session *s)
{
	return s->cfg->port	 ? s->cfg->port
	    : s->cfg->direct_tls ? 5223UL
				 : 5222UL;
}

void
ses_set_phase(struct session *s, const char *phase)
{
	s->phase = phase;
	util_watchdog_phase(phase);
}

static struct hook *
hook_new(struct session *s, session_stanza_cb cb, void *ud)
{
	struct hook *h = xcalloc(1, sizeof(*h));

	struct hook **pp = &s->hooks;

	h->s = s;
	h->cb = cb;
	h->ud = ud;
	/* In the order of registration, which a new connection repeats. */
	while (*pp)
		pp = &(*pp)->next;
	*pp = h;
	return h;
}

/*
 * libstrophe 0.12 takes a CA file it cannot load as a server without TLS
 * ("TLS is not supported"); say what is wrong with the file instead.
 */
static int
check_files(const struct xconfig *cfg, char **errstr)
{
	X509 *x;
	FILE *f;

	if (cfg->cafile) {
		if ((f = fopen(cfg->cafile, "r")) == NULL) {
			*errstr = xasprintf(
			    "--cafile %s: %s", cfg->cafile, strerror(errno));
			return -1;
		}
		x = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
		if (x == NULL) {
			*errstr = xasprintf("--cafile %s: no PEM certificate "
					    "in it",
			    cfg->cafile);
			return -1;
		}
		X509_free(x);
	}
	if (cfg->capath && access(cfg->capath, R_OK | X_OK) < 0) {
		*errstr =
		    xasprintf("--capath %s: %s", cfg->capath, strerror(errno));
		return -1;
	}
	if (cfg->client_cert && access(cfg->client_cert, R_OK) < 0) {
		*errstr = xasprintf(
		    "--client-cert %s: %s", cfg->client_cert, strerror(errno));
		return -1;
	}
	if (cfg->client_key && access(cfg->client_key, R_OK) < 0) {
		*errstr = xasprintf(
		    "--client-key %s: %s", cfg->client_key, strerror(errno));
		return -1;
	}
	return 0;
}

struct session *
session_new(const struct xconfig *cfg, const char *password, char **errstr)
{
	struct session *s;
	const char *why;

	if (check_files(cfg, errstr) < 0)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->cfg = cfg;
	s->sock = -1;
	s->input_fd = -1;
	if (jid_parse(cfg->jid, &s->jid, &why) < 0) {
		*errstr = xasprintf("invalid JID '%s': %s", cfg->jid, why);
		free(s);
		return NULL;
	}
	s->bare = jid_bare(&s->jid);
	if (cfg->host || cfg->port)
		s->target = xasprintf("%s:%lu",
		    cfg->host ? cfg->host : s->jid.domain, ses_port(s));
	else
		s->target = xstrdup(s->jid.domain);

	xmpp_initialize();
	s->log.handler = ses_log_handler;
	s->log.userdata = s;
	s->stanza_ms = cfg->timeout_ms > 0 && cfg->timeout_ms < STANZA_TIME_MS
	    ? cfg->timeout_ms
	    : STANZA_TIME_MS;
	xmlguard_set_limits(cfg->max_stanza, 0);
	xmlguard_set_callbacks(ses_on_element, ses_on_violation, s);
	xmlguard_reset_seen();
	s->ctx = xmpp_ctx_new(NULL, &s->log);
	if (s->ctx == NULL || ses_conn_setup(s, password) < 0) {
		*errstr = xstrdup("cannot create the XMPP connection");
		session_free(s);
		return NULL;
	}
	/* The promises of the session rest on the guard (xmlguard.h). */
	if (!xmlguard_seen()) {
		*errstr = xstrdup("libstrophe's XML parser is not under the "
				  "session's control (is libstrophe built "
				  "with expat?)");
		session_free(s);
		return NULL;
	}
	ses_current = s;
	return s;
}

void
session_free(struct session *s)
{
	struct hook *h, *next;
	int i;

	if (s == NULL)
		return;
	if (s->conn) {
		/* Never release a live connection: close it first. */
		if (s->state == S_READY || s->state == S_CLOSING ||
		    s->state == S_CONNECTING) {
			s->code_set = 1;
			ses_hard_close(s);
			for (i = 0; i < 20 && s->state != S_DONE; i++)
				xmpp_run_once(s->ctx, 50);
		}
		xmpp_conn_release(s->conn);
	}
	if (s->ctx)
		xmpp_ctx_free(s->ctx);
	xmpp_shutdown();
	for (h = s->hooks; h; h = next) {
		next = h->next;
		ses_hook_free(h);
	}
	jid_free(&s->jid);
	free(s->bare);
	free(s->target);
	free(s->bound);
	free(s->error);
	xmlguard_set_callbacks(NULL, NULL, NULL);
	if (ses_current == s)
		ses_current = NULL;
	free(s);
}

xmpp_ctx_t *
session_ctx(struct session *s)
{
	return s->ctx;
}

const char *
session_domain(struct session *s)
{
	return s->jid.domain;
}

const char *
session_bound_jid(struct session *s)
{
	return s->bound ? s->bound : s->bare;
}

const char *
session_target(struct session *s)
{
	return s->target;
}

const char *
session_error(struct session *s)
{
	return s->error;
}

char *
session_new_id(struct session *s)
{
	char *u = xmpp_uuid_gen(s->ctx), *id;

	if (u == NULL) {
		static unsigned long counter;

		return xasprintf("xt-%ld-%lu", (long)getpid(), ++counter);
	}
	id = xstrdup(u);
	xmpp_free(s->ctx, u);
	return id;
}

void
session_on_connect(struct session *s, session_event_cb cb, void *ud)
{
	s->on_connect = cb;
	s->on_connect_ud = ud;
}

void
session_add_handler(struct session *s, const char *name, const char *type,
    const char *ns, session_stanza_cb cb, void *ud)
{
	struct hook *h = hook_new(s, cb, ud);

	h->name = name ? xstrdup(name) : NULL;
	h->type = type ? xstrdup(type) : NULL;
	h->ns = ns ? xstrdup(ns) : NULL;
	xmpp_handler_add(s->conn, ses_hook_stanza, h->ns, h->name, h->type, h);
}

void
session_send(struct session *s, xmpp_stanza_t *st)
{
	if (s->state == S_READY)
		xmpp_send(s->conn, st);
}

void
session_request(
    struct session *s, xmpp_stanza_t *iq, session_stanza_cb cb, void *ud)
{
	struct hook *h = hook_new(s, cb, ud);

	h->id = xstrdup(xmpp_stanza_get_id(iq));
	xmpp_id_handler_add(s->conn, ses_hook_stanza, h->id, h);
	session_send(s, iq);
}

void
session_barrier(struct session *s, session_event_cb cb, void *ud)
{
	struct hook *h = hook_new(s, NULL, ud);
	xmpp_stanza_t *iq;

	h->event = cb;
	h->id = session_new_id(s);
	iq = stanza_ping(s->ctx, s->jid.domain, h->id);
	xmpp_id_handler_add(s->conn, ses_hook_stanza, h->id, h);
	session_send(s, iq);
	xmpp_stanza_release(iq);
}

int
session_queue_len(struct session *s)
{
	return xmpp_conn_send_queue_len(s->conn);
}

void
session_set_input(
    struct session *s, int fd, int max_queue, session_input_cb cb, void *ud)
{
	s->input_fd = fd;
	s->input_max_queue = max_queue > 0 ? max_queue : 1;
	s->input_cb = cb;
	s->input_ud = ud;
}

void
session_pause_input(struct session *s, int paused)
{
	s->input_paused = paused;
}

void
session_set_deadline(struct session *s, long ms, session_event_cb cb, void *ud)
{
	s->deadline = ms > 0 ? util_now_ms() + ms : 0;
	s->deadline_ms = ms;
	s->on_deadline = cb;
	s->on_deadline_ud = ud;
	if (s->state == S_READY)
		ses_arm_backstop(s); /* the watchdog follows a moved deadline */
}

void
session_timeout(struct session *s)
{
	s->on_deadline = NULL;
	ses_deadline_reached(s);
}

void
session_set_phase(struct session *s, const char *phase)
{
	ses_set_phase(s, phase);
}

void
session_catch_signals(struct session *s, int code)
{
	struct sigaction sa;

	s->signal_code = code;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = ses_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static void
keep_result(struct session *s, int code)
{
	if (result_may_change(s, code)) {
		s->code = code;
		s->code_set = 1;
	}
}

void
session_finish(struct session *s, int code)
{
	keep_result(s, code);
	s->retry_ok = 0;
	if (s->state == S_READY) {
		s->state = S_CLOSING;
		s->close_deadline = util_now_ms() + CLOSE_WAIT_MS;
		/*
		 * Acknowledge what was handled before the close: the
		 * server would take every unacknowledged stanza for lost
		 * and deliver it again (libstrophe answers the server's
		 * next <r/> only after our </stream:stream>).
		 */
		if (s->sm_active)
			xmpp_send_raw_string(s->conn, "<a xmlns='%s' h='%lu'/>",
			    XMPP_NS_SM, s->sm_h);
		xmpp_disconnect(s->conn);
	} else if (s->state == S_CONNECTING) {
		ses_hard_close(s);
	} else if (s->state == S_NEW || s->state == S_WAIT) {
		s->state = S_DONE;
	}
}

void
session_set_result(struct session *s, int code)
{
	keep_result(s, code);
	s->retry_ok = 0;
}

void
session_not_handled(struct session *s)
{
	/* h counts a prefix of the stream: what follows an unhandled stanza
	 * cannot be acknowledged either. */
	if (s->sm_active && !s->sm_frozen && s->sm_h > 0)
		s->sm_h--;
	s->sm_frozen = 1;
	/*
	 * Close now: libstrophe answers the server's next <r/> with its own
	 * count, which would take in the stanza just refused.  Our <a/> and
	 * </stream:stream> are queued first, and nothing is written after
	 * the closing tag.
	 */
	if (s->state == S_READY)
		session_finish(s, s->code_set ? s->code : XEXIT_OK);
}

void
session_on_signal(struct session *s, session_event_cb cb, void *ud)
{
	s->on_signal = cb;
	s->on_signal_ud = ud;
}

static void
close_after_barrier(struct session *s, void *ud)
{
	(void)ud;
	session_finish(s, s->code);
}

void
session_close(struct session *s, int code)
{
	session_set_result(s, code);
	if (s->state != S_READY) {
		session_finish(s, code);
		return;
	}
	if (s->close_requested)
		return;
	s->close_requested = 1;
	session_barrier(s, close_after_barrier, NULL);
	session_timer_add(s, SESSION_CLOSE_GRACE_MS, close_after_barrier, NULL);
}

void
session_enable_sm(struct session *s)
{
	long flags = xmpp_conn_get_flags(s->conn);

	s->sm = 1;
	xmpp_conn_set_flags(s->conn, flags & ~XMPP_CONN_FLAG_DISABLE_SM);
}

int
session_resumed(struct session *s)
{
	return s->at.resumed;
}

int
session_preapproval(struct session *s)
{
	return s->at.preapproval_offered;
}

void
session_set_reconnect(struct session *s, int retries, int initial)
{
	s->retries = retries;
	s->retry_initial = initial;
}

void
session_on_disconnect(struct session *s, session_event_cb cb, void *ud)
{
	s->on_disconnect = cb;
	s->on_disconnect_ud = ud;
}

void
session_reconnect_now(struct session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->state != S_READY)
		return;
	va_start(ap, fmt);
	set_error(s, XEXIT_CONNECT, fmt, ap);
	va_end(ap);
	s->retry_ok = 1;
	ses_hard_close(s);
}

static unsigned
timer_add(struct session *s, long ms, int always, session_event_cb cb, void *ud)
{
	size_t i;

	for (i = 0; i < SESSION_MAX_TIMERS; i++)
		if (s->timers[i].id == 0) {
			if (++s->next_timer_id == 0)
				s->next_timer_id = 1;
			s->timers[i].id = s->next_timer_id;
			s->timers[i].always = always;
			s->timers[i].at = util_now_ms() + ms;
			s->timers[i].cb = cb;
			s->timers[i].ud = ud;
			return s->timers[i].id;
		}
	return 0;
}

unsigned
session_timer_add(struct session *s, long ms, session_event_cb cb, void *ud)
{
	return timer_add(s, ms, 0, cb, ud);
}

unsigned
session_timer_add_always(
    struct session *s, long ms, session_event_cb cb, void *ud)
{
	return timer_add(s, ms, 1, cb, ud);
}

void
session_timer_cancel(struct session *s, unsigned id)
{
	size_t i;

	for (i = 0; id && i < SESSION_MAX_TIMERS; i++)
		if (s->timers[i].id == id)
			s->timers[i].id = 0;
}

int
session_online(struct session *s)
{
	return s->state == S_READY;
}
