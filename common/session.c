/* SPDX-License-Identifier: MIT */
/* session.c -- the one owner of the XMPP connection */

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
#include "stanza.h"
#include "text.h"
#include "util.h"
#include "xmlguard.h"
#include "xmpptools.h"

/* The connection phase always has a deadline, even without --timeout. */
#define CONNECT_TIMEOUT_MS 30000
/* Grace between the loop's own deadline and the watchdog's hard stop. */
#define WATCHDOG_GRACE_MS 500
/* After login the watchdog is only a backstop behind the loop's deadline:
 * a tool's own ending (a last barrier) may take up to 2 s. */
#define BACKSTOP_GRACE_MS 900
#define BACKSTOP_TOOL_GRACE_MS 3000
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

static int hook_stanza(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud);
static void after_turn(struct session *s);
static void deadline_reached(struct session *s);

/* libstrophe's certificate and socket callbacks carry no user data. */
static struct session *current;
static volatile sig_atomic_t caught_signal;

static void
on_signal(int sig)
{
	caught_signal = sig;
}

static void
set_error(struct session *s, int code, const char *fmt, va_list ap)
{
	if (s->code_set && s->code != XEXIT_OK)
		return;
	s->code = code;
	s->code_set = 1;
	free(s->error);
	if (vasprintf(&s->error, fmt, ap) < 0)
		s->error = NULL;
}

static void record(struct session *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
record(struct session *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_error(s, code, fmt, ap);
	va_end(ap);
}

/* A copy of network text that is safe in a one-line message. */
static char *
escaped(const char *text)
{
	struct buf b;

	buf_init(&b);
	if (text)
		text_escape(&b, text, strlen(text));
	return buf_steal(&b);
}

static void
hook_free(struct hook *h)
{
	free(h->id);
	free(h->name);
	free(h->type);
	free(h->ns);
	free(h);
}

/* Closes the socket under libstrophe's feet: nothing more is sent. */
static void
hard_close(struct session *s)
{
	if (s->sock >= 0) {
		shutdown(s->sock, SHUT_RDWR);
		s->shut = 1;
	}
}

/* -vv: the XML stream; -vvv: everything libstrophe says.  Credentials
 * redacted, network text escaped. */
static void
trace(xmpp_log_level_t level, const char *area, const char *msg)
{
	struct buf b, r;
	int show;

	show = util_verbosity() >= 3 ||
	    (util_verbosity() >= 2 && level == XMPP_LEVEL_DEBUG &&
		(strncmp(msg, "SENT: ", 6) == 0 ||
		    strncmp(msg, "RECV: ", 6) == 0)) ||
	    (util_verbosity() >= 1 && level >= XMPP_LEVEL_WARN);
	if (!show)
		return;
	buf_init(&b);
	buf_init(&r);
	stanza_redact_trace(&r, msg);
	text_escape(&b, r.data ? r.data : "", r.len);
	buf_free(&r);
	if (level >= XMPP_LEVEL_WARN || util_verbosity() >= 3)
		xerror("%s: %s", area, b.data ? b.data : "");
	else
		xerror("%s", b.data ? b.data : "");
	buf_free(&b);
}

static void
set_phase(struct session *s, const char *phase)
{
	s->phase = phase;
	util_watchdog_phase(phase);
}

/*
 * The log handler: the -vv trace, and the few steps of the login that
 * libstrophe 0.12 reports nowhere else (failure_log_line() knows them).
 */
static void
log_handler(void *ud, xmpp_log_level_t level, const char *area, const char *msg)
{
	struct session *s = ud;
	char target[256];
	char *t;

	switch (failure_log_line(&s->at, level == XMPP_LEVEL_DEBUG,
	    level == XMPP_LEVEL_ERROR, msg, target, sizeof(target))) {
	case FLOG_TARGET:
		free(s->target);
		s->target = text_escape_dup(target, strlen(target));
		break;
	case FLOG_TCP_UP:
		if (s->cfg->direct_tls)
			set_phase(s, "during the TLS handshake");
		break;
	case FLOG_SM_ENABLE_SENT:
		s->at.sm_enabling = 1;
		break;
	case FLOG_CLOSE_SENT:
		/*
		 * Nothing may follow our closing tag (RFC 6120 4.4), but
		 * libstrophe may have queued an <a/> behind it (its answer
		 * to the server's last <r/>).  This runs between two writes
		 * of its queue: close the socket for writing now, the
		 * server still reads the tag.
		 */
		if (s->state == S_CLOSING && s->sock >= 0 && !s->at.shut_wr) {
			shutdown(s->sock, SHUT_WR);
			s->at.shut_wr = 1;
		}
		break;
	default:
		break;
	}
	if (level == XMPP_LEVEL_ERROR) {
		t = escaped(msg);
		snprintf(s->at.lib_error, sizeof(s->at.lib_error), "%s", t);
		free(t);
	}
	trace(level, area, msg);
}

enum parent { P_OTHER, P_FEATURES, P_SASL_FAILURE };

static int
is(const struct xmlguard_element *el, const char *ns, const char *name)
{
	return strcmp(el->ns, ns) == 0 && strcmp(el->name, name) == 0;
}

/* A top-level element of the stream: a step of the login. */
static void
on_top_element(struct session *s, const struct xmlguard_element *el)
{
	struct attempt *a = &s->at;

	s->parent = P_OTHER;
	if (is(el, XMPP_NS_STREAMS, "features")) {
		s->parent = P_FEATURES;
		if (!a->tls_started)
			a->plain_features = 1;
	} else if (is(el, XMPP_NS_TLS, "proceed")) {
		a->tls_started = 1;
		set_phase(s, "during the TLS handshake");
	} else if (is(el, XMPP_NS_TLS, "failure")) {
		a->tls_refused = 1;
	} else if (is(el, XMPP_NS_SASL, "failure")) {
		a->sasl_failed = 1;
		s->parent = P_SASL_FAILURE;
	} else if (is(el, XMPP_NS_SASL, "success")) {
		a->sasl_succeeded = 1;
	} else if (is(el, XMPP_NS_SM, "resumed")) {
		a->resumed = 1;
		s->sm_active = 1; /* the count goes on from before */
	}
}

/*
 * The XML guard's view of the stream (xmlguard.h): the login, step by
 * step, read from what the server sends.
 */
static void
on_element(void *ud, const struct xmlguard_element *el)
{
	struct session *s = ud;
	struct attempt *a = &s->at;
	char *t;

	if (el->depth == 1) {
		a->stream_opened = 1;
	} else if (el->depth == 2) {
		on_top_element(s, el);
	} else if (s->parent == P_FEATURES) {
		if (is(el, XMPP_NS_TLS, "starttls") && !a->tls_started)
			a->starttls_offered = 1;
		else if (is(el, XMPP_NS_SASL, "mechanisms") && a->tls_started) {
			/* libstrophe sends credentials now. */
			a->auth_offered = 1;
			set_phase(s, "while logging in");
		} else if (is(el, XMPP_NS_SM, "sm"))
			a->sm_offered = 1;
	} else if (s->parent == P_SASL_FAILURE && !a->sasl_condition[0]) {
		t = escaped(el->name);
		snprintf(a->sasl_condition, sizeof(a->sasl_condition), "%s", t);
		free(t);
	}
}

/* The XML guard stopped the parser; after_turn() closes the stream. */
static void
on_violation(void *ud, enum xmlguard_violation v)
{
	struct session *s = ud;
	struct attempt *a = &s->at;
	char *t;

	a->violation = (int)v;
	switch (v) {
	case XG_SIZE:
		snprintf(a->violation_text, sizeof(a->violation_text),
		    "a stanza over the limit of %zu bytes (--max-stanza)",
		    xmlguard_max_bytes());
		break;
	case XG_DEPTH:
		snprintf(a->violation_text, sizeof(a->violation_text),
		    "a stanza nested deeper than %d levels",
		    xmlguard_max_depth());
		break;
	case XG_MALFORMED:
		t = escaped(xmlguard_malformed_reason());
		snprintf(a->violation_text, sizeof(a->violation_text),
		    "malformed XML (%s)", t);
		free(t);
		break;
	default:
		snprintf(a->violation_text, sizeof(a->violation_text),
		    "restricted XML (%s)", xmlguard_describe(v));
		break;
	}
}

static int
certfail_handler(const xmpp_tlscert_t *cert, const char *const errormsg)
{
	struct session *s = current;

	(void)cert;
	if (s == NULL)
		return 0;
	if (s->cfg->insecure) {
		if (!s->insecure_warned)
			xwarn("--insecure: accepting an unverified "
			      "certificate for %s (%s)",
			    s->jid.domain, errormsg);
		s->insecure_warned = 1;
		return 1;
	}
	if (s->cfg->tls_pin)
		return 1; /* decided by the pin, once the handshake is done */
	if (s->at.tls_verify_error[0] == '\0') {
		char *t = escaped(errormsg);

		snprintf(s->at.tls_verify_error, sizeof(s->at.tls_verify_error),
		    "%s", t);
		free(t);
	}
	return 0;
}

static int
sockopt_handler(xmpp_conn_t *conn, void *sockp)
{
	int fd = *(int *)sockp, one = 1;

	(void)conn;
	if (current) {
		current->sock = fd;
		current->shut = 0;
	}
	/* libstrophe leaves Nagle on, which costs a delayed ACK per login. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return 0;
}

/* SHA-256 of the certificate's public key, as curl's sha256//BASE64. */
static char *
spki_pin(const char *pem)
{
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE], b64[64];
	unsigned int mdlen = 0;
	BIO *bio;
	X509 *x;
	int len;
	char *out = NULL;

	if (pem == NULL || (bio = BIO_new_mem_buf(pem, -1)) == NULL)
		return NULL;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (x == NULL)
		return NULL;
	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	if (len > 0 &&
	    EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) == 1 &&
	    mdlen == 32) {
		EVP_EncodeBlock(b64, md, 32);
		out = xasprintf("sha256//%s", b64);
	}
	OPENSSL_free(der);
	X509_free(x);
	return out;
}

/*
 * Called by run_once() after the turn that finished the TLS handshake,
 * before the stream header that follows it is written: a wrong pin closes
 * the socket before any credential is sent.
 */
static void
check_pin(struct session *s)
{
	xmpp_tlscert_t *cert;
	const char *fp;
	char *got = NULL;
	int match = 0;

	s->at.secured = 1;
	if (s->cfg->tls_pin == NULL)
		return;
	cert = xmpp_conn_get_peer_cert(s->conn);
	if (cert != NULL) {
		if (strncmp(s->cfg->tls_pin, "sha256//", 8) == 0) {
			got = spki_pin(xmpp_tlscert_get_pem(cert));
		} else {
			fp = xmpp_tlscert_get_string(
			    cert, XMPP_CERT_FINGERPRINT_SHA256);
			got = fp ? config_pin_normalise(fp) : NULL;
		}
		xmpp_tlscert_free(cert);
	}
	match = got != NULL && strcmp(got, s->cfg->tls_pin) == 0;
	if (!match) {
		s->at.pin_mismatch = 1;
		record(s, XEXIT_TLS,
		    "%s: certificate pin mismatch: the server's is %s",
		    session_target(s), got ? got : "unknown");
		hard_close(s);
	} else
		xdebug(1, "certificate matches the pin");
	free(got);
}

static const char *
strerror_lower(int err, char *buf, size_t len)
{
	snprintf(buf, len, "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

/* The text of <see-other-host/> in a stream error, escaped, or NULL. */
static char *
other_host(struct session *s, xmpp_stanza_t *error)
{
	xmpp_stanza_t *c;
	char *text, *t = NULL;

	c = error ? xmpp_stanza_get_child_by_name(error, "see-other-host")
		  : NULL;
	if (c == NULL || (text = xmpp_stanza_get_text(c)) == NULL)
		return NULL;
	t = escaped(text);
	xmpp_free(s->ctx, text);
	return t;
}

/*
 * Records why the current attempt ended (failure.h decides), unless a
 * failure is recorded already.  'error' and 'se' are libstrophe's.
 */
static void
fail_attempt(struct session *s, int error, xmpp_stream_error_t *se)
{
	struct failure_input in;
	struct verdict v;
	char *text = NULL, *host = NULL;

	memset(&in, 0, sizeof(in));
	in.error = error;
	in.target = session_target(s);
	in.domain = s->jid.domain;
	in.account = s->bare;
	if (se != NULL) {
		in.has_stream_error = 1;
		in.stream_error = stanza_stream_error_name(se->type);
		in.stream_text = text = escaped(se->text);
		in.other_host = host = other_host(s, se->stanza);
	}
	failure_classify(&s->at, &in, &v);
	record(s, v.code, "%s", v.message);
	s->retry_ok = v.retry;
	free(text);
	free(host);
}

/* The id handlers of a lost stream will never see their reply. */
static void
drop_id_hooks(struct session *s)
{
	struct hook *h;

	for (h = s->hooks; h; h = h->next)
		if (h->id && !h->dead) {
			h->dead = 1;
			xmpp_id_handler_delete(s->conn, hook_stanza, h->id);
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
		hook_free(h);
	}
}

static void
reset_attempt(struct session *s)
{
	s->at = (struct attempt){ 0 };
	s->at.direct_tls = s->at.tls_started = s->cfg->direct_tls;
	s->parent = P_OTHER;
}

static int
may_retry(struct session *s)
{
	return s->retry_ok && s->attempts < s->retries &&
	    (s->ever_online || s->retry_initial) &&
	    (s->code == XEXIT_CONNECT || s->code == XEXIT_TIMEOUT);
}

static void
schedule_reconnect(struct session *s)
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
	if (s->retries < 1000000)
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
	if (s->on_disconnect)
		s->on_disconnect(s, s->on_disconnect_ud);
}

/*
 * Once online, the watchdog that covered the blocking steps of the login
 * becomes a backstop behind the loop's deadline: the loop ends the run on
 * time (the XML guard bounds each turn), the watchdog only if it did not.
 */
static void
arm_backstop(struct session *s)
{
	int64_t grace =
	    s->on_deadline ? BACKSTOP_TOOL_GRACE_MS : BACKSTOP_GRACE_MS;

	if (s->deadline == 0) {
		util_watchdog_disarm();
		return;
	}
	util_watchdog_arm(s->deadline + grace, s->target, s->deadline_ms);
}

static void
conn_handler(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
    xmpp_stream_error_t *se, void *ud)
{
	struct session *s = ud;

	if (event == XMPP_CONN_CONNECT) {
		if (s->code_set) {
			/* A failure was decided during login (the pin). */
			hard_close(s);
			return;
		}
		s->state = S_READY;
		s->ever_online = 1;
		s->at.online = 1;
		s->at.online_since = util_now_ms();
		set_phase(s, NULL);
		arm_backstop(s);
		free(s->bound);
		s->bound = xmpp_conn_get_bound_jid(conn)
		    ? xstrdup(xmpp_conn_get_bound_jid(conn))
		    : xstrdup(s->bare);
		xdebug(1, "online as %s%s", s->bound,
		    s->at.resumed ? " (stream resumed)" : "");
		/*
		 * libstrophe 0.12 reports the connection right after sending
		 * <enable/>, but counts stanzas for stream management only
		 * from <enabled/> on: what the tool sends before that would
		 * throw the acknowledgements off.  Wait for the answer.
		 */
		if (s->at.sm_enabling) {
			s->at.connect_pending = 1;
			return;
		}
		if (s->on_connect)
			s->on_connect(s, s->on_connect_ud);
		return;
	}
	if (event != XMPP_CONN_DISCONNECT)
		return;
	s->sock = -1;
	s->sm_active = 0; /* a resumption says so again */
	if (s->state == S_CLOSING) {
		s->state = S_DONE;
		return;
	}
	if (!s->code_set)
		fail_attempt(s, error, se);
	if (may_retry(s))
		schedule_reconnect(s);
	else
		s->state = S_DONE;
}

/* Trampolines from libstrophe's handler type to ours. */
static int
hook_stanza(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct hook *h = ud;
	int keep;

	(void)conn;
	if (h->dead)
		return 0;
	if (h->id)
		h->s->at.progress = 1; /* the server answers our requests */
	if (h->event) {
		/* A barrier: any answer will do, and only one. */
		h->dead = 1;
		xdebug(1, "the server confirmed everything sent before");
		h->event(h->s, h->ud);
		return 0;
	}
	keep = h->cb(h->s, st, h->ud);
	if (!keep)
		h->dead = 1;
	return keep;
}

/* Sees <enabled/> and <failed/> of stream management (libstrophe handles
 * them too) and lets the tool start once the answer is in. */
static int
sm_observer(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct session *s = ud;
	const char *name = xmpp_stanza_get_name(st);

	(void)conn;
	if (name && strcmp(name, "enabled") == 0) {
		s->sm_active = 1;
		s->sm_frozen = 0;
		s->sm_h = 0;
	} else if (name && strcmp(name, "failed") == 0) {
		s->sm_active = 0;
		s->sm_h = 0;
	}
	if (!s->at.connect_pending || name == NULL ||
	    (strcmp(name, "enabled") != 0 && strcmp(name, "failed") != 0))
		return 1;
	xdebug(1, "stream management %s",
	    strcmp(name, "enabled") == 0 ? "enabled" : "refused");
	s->at.connect_pending = 0;
	s->at.sm_enabling = 0;
	if (s->state == S_READY && s->on_connect)
		s->on_connect(s, s->on_connect_ud);
	return 1;
}

/*
 * Counts the stanzas handled the way libstrophe does for its <a h=.../>
 * (every element not of the stream management namespace), so a clean close
 * can acknowledge exactly what the tool handled.  Added before any tool
 * handler, it runs first for each stanza.
 */
static int
sm_counter(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct session *s = ud;
	const char *ns = xmpp_stanza_get_ns(st);

	(void)conn;
	if (s->sm_active && !s->sm_frozen && ns && strcmp(ns, XMPP_NS_SM) != 0)
		s->sm_h++;
	return 1;
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

static int
is_pem(const char *path)
{
	char head[11] = "";
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return 0;
	if (fread(head, 1, sizeof(head) - 1, f) != sizeof(head) - 1)
		head[0] = '\0';
	fclose(f);
	return strncmp(head, "-----BEGIN", 10) == 0;
}

/*
 * A new libstrophe connection object for the next attempt, set up with the
 * account, TLS settings and every handler: each attempt starts from a
 * clean object (libstrophe 0.12 keeps state from one login to the next: a
 * server offering only PLAIN could not be logged in to again).  Returns 0,
 * or -1 when libstrophe cannot allocate it.
 */
static int
conn_setup(struct session *s, const char *password)
{
	const struct xconfig *cfg = s->cfg;
	xmpp_conn_t *c = xmpp_conn_new(s->ctx);
	struct hook *h;
	struct jid j = s->jid;
	char *full;
	long flags;

	if (c == NULL)
		return -1;
	/*
	 * TLS is mandatory.  Stream management stays off unless a tool asks
	 * for it: in libstrophe 0.12 its counting is wrong for stanzas sent
	 * right after login, and the iq barrier proves delivery on every
	 * server.
	 */
	flags = XMPP_CONN_FLAG_MANDATORY_TLS;
	if (!s->sm)
		flags |= XMPP_CONN_FLAG_DISABLE_SM;
	if (cfg->direct_tls)
		flags |= XMPP_CONN_FLAG_LEGACY_SSL;
	xmpp_conn_set_flags(c, flags);
	if (cfg->resource)
		j.resource = cfg->resource;
	full = jid_full(&j);
	xmpp_conn_set_jid(c, full);
	free(full);
	if (password)
		xmpp_conn_set_pass(c, password);
	if (cfg->cafile)
		xmpp_conn_set_cafile(c, cfg->cafile);
	if (cfg->capath)
		xmpp_conn_set_capath(c, cfg->capath);
	if (cfg->client_cert) {
		/* libstrophe reads a certificate without a key as PKCS#12; a
		 * PEM file may hold both, so pass it as the key too. */
		const char *key = cfg->client_key;

		if (key == NULL && is_pem(cfg->client_cert))
			key = cfg->client_cert;
		xmpp_conn_set_client_cert(c, cfg->client_cert, key);
	}
	xmpp_conn_set_certfail_handler(c, certfail_handler);
	xmpp_handler_add(c, sm_observer, XMPP_NS_SM, NULL, NULL, s);
	xmpp_handler_add(c, sm_counter, NULL, NULL, NULL, s);
	for (h = s->hooks; h; h = h->next)
		if (!h->dead && h->id == NULL && h->cb != NULL)
			xmpp_handler_add(
			    c, hook_stanza, h->ns, h->name, h->type, h);
	xmpp_conn_set_sockopt_callback(c, sockopt_handler);
	s->conn = c;
	s->conn_used = 0;
	return 0;
}

/*
 * Replaces a used connection object by a new one before the next attempt,
 * with the same password and the stream management state (a resumption
 * needs it).  Returns 0 or -1.
 */
static int
conn_renew(struct session *s)
{
	xmpp_sm_state_t *sm = NULL;
	char *pass = NULL;
	const char *p = xmpp_conn_get_pass(s->conn);
	int rc;

	if (p != NULL)
		pass = xstrdup(p);
	if (s->sm)
		sm = xmpp_conn_get_sm_state(s->conn);
	xmpp_conn_release(s->conn);
	s->conn = NULL;
	rc = conn_setup(s, pass);
	util_secure_free(pass);
	if (rc == 0 && sm != NULL)
		xmpp_conn_set_sm_state(s->conn, sm);
	else if (sm != NULL)
		xmpp_free_sm_state(sm);
	return rc;
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
		s->target =
		    xasprintf("%s:%lu", cfg->host ? cfg->host : s->jid.domain,
			cfg->port	      ? cfg->port
			    : cfg->direct_tls ? 5223UL
					      : 5222UL);
	else
		s->target = xstrdup(s->jid.domain);

	xmpp_initialize();
	s->log.handler = log_handler;
	s->log.userdata = s;
	s->stanza_ms = cfg->timeout_ms > 0 && cfg->timeout_ms < STANZA_TIME_MS
	    ? cfg->timeout_ms
	    : STANZA_TIME_MS;
	xmlguard_set_limits(cfg->max_stanza, 0);
	xmlguard_set_callbacks(on_element, on_violation, s);
	xmlguard_reset_seen();
	s->ctx = xmpp_ctx_new(NULL, &s->log);
	if (s->ctx == NULL || conn_setup(s, password) < 0) {
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
	current = s;
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
			hard_close(s);
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
		hook_free(h);
	}
	jid_free(&s->jid);
	free(s->bare);
	free(s->target);
	free(s->bound);
	free(s->error);
	xmlguard_set_callbacks(NULL, NULL, NULL);
	if (current == s)
		current = NULL;
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
	xmpp_handler_add(s->conn, hook_stanza, h->ns, h->name, h->type, h);
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
	xmpp_id_handler_add(s->conn, hook_stanza, h->id, h);
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
	xmpp_id_handler_add(s->conn, hook_stanza, h->id, h);
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
		arm_backstop(s); /* the watchdog follows a moved deadline */
}

void
session_timeout(struct session *s)
{
	long ms = s->deadline_ms;

	s->on_deadline = NULL;
	s->deadline_ms = ms;
	deadline_reached(s);
}

void
session_set_phase(struct session *s, const char *phase)
{
	set_phase(s, phase);
}

void
session_catch_signals(struct session *s, int code)
{
	struct sigaction sa;

	s->signal_code = code;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

void
session_finish(struct session *s, int code)
{
	if (!s->code_set) {
		s->code = code;
		s->code_set = 1;
	}
	s->retry_ok = 0;
	if (s->state == S_READY) {
		s->state = S_CLOSING;
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
		hard_close(s);
	} else if (s->state == S_NEW || s->state == S_WAIT) {
		s->state = S_DONE;
	}
}

void
session_set_result(struct session *s, int code)
{
	if (!s->code_set) {
		s->code = code;
		s->code_set = 1;
	}
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

void
session_fail(struct session *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_error(s, code, fmt, ap);
	va_end(ap);
	s->retry_ok = 0;
	session_finish(s, code);
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
	const char *colon;
	int fd, err = 0, gai;

	colon = strrchr(s->target, ':');
	if ((s->cfg->host || s->cfg->port) && colon) {
		snprintf(host, sizeof(host), "%.*s", (int)(colon - s->target),
		    s->target);
		snprintf(port, sizeof(port), "%s", colon + 1);
	} else {
		snprintf(host, sizeof(host), "%s", s->jid.domain);
		snprintf(port, sizeof(port), "%d",
		    s->cfg->port	     ? (int)s->cfg->port
			: s->cfg->direct_tls ? 5223
					     : 5222);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0) {
		record(s, XEXIT_CONNECT, "%s: cannot resolve: %s", host,
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
	record(s, XEXIT_CONNECT, "%s:%s: %s", host, port,
	    err ? strerror_lower(err, ebuf, sizeof(ebuf)) : "cannot connect");
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

static void
deadline_reached(struct session *s)
{
	char t[32];

	util_seconds(s->deadline_ms, t, sizeof(t));
	s->deadline = 0;
	if (s->on_deadline) {
		s->on_deadline(s, s->on_deadline_ud);
		return;
	}
	if (s->state == S_CLOSING && s->code_set) {
		/* Everything is done but the goodbye; do not wait for it. */
		hard_close(s);
		return;
	}
	record(s, XEXIT_TIMEOUT, "%s: timed out after %s s%s%s",
	    session_target(s), t, s->phase ? " " : "",
	    s->phase ? s->phase : "");
	s->retry_ok = 0;
	if (s->state == S_WAIT)
		s->state = S_DONE;
	else
		hard_close(s);
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
	if (!s->code_set || s->code == XEXIT_OK) {
		s->code_set = 0;
		fail_attempt(s, 0, NULL);
	}
	s->retry_ok = 0;
	hard_close(s);
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
		check_pin(s);
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

	if (s->conn_used && conn_renew(s) < 0) {
		record(s, XEXIT_FAILURE, "cannot create the XMPP connection");
		s->retry_ok = 0;
		return -1;
	}
	reset_attempt(s);
	s->connect_deadline = now +
	    (s->cfg->timeout_ms > 0 ? s->cfg->timeout_ms : CONNECT_TIMEOUT_MS);
	if (s->deadline && s->deadline < s->connect_deadline)
		s->connect_deadline = s->deadline;
	s->phase = "while connecting";
	util_watchdog_arm(s->connect_deadline + WATCHDOG_GRACE_MS, s->target,
	    (long)(s->connect_deadline - now));
	util_watchdog_phase(s->phase);
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
	    (unsigned short)(s->cfg->port ? s->cfg->port
		    : s->cfg->direct_tls  ? 5223
					  : 0),
	    conn_handler, s);
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

int
session_run(struct session *s)
{
	struct sigaction ign;
	int64_t now, next;
	long wait;

	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, NULL);
	srandom((unsigned)(util_now_ms() ^ getpid()));

	if (start_attempt(s) < 0) {
		if (may_retry(s))
			schedule_reconnect(s);
		else
			s->state = S_DONE;
	}

	while (s->state != S_DONE) {
		if (caught_signal && s->state != S_CLOSING) {
			xdebug(1, "signal %d: closing", (int)caught_signal);
			caught_signal = 0;
			if (s->on_signal)
				s->on_signal(s, s->on_signal_ud);
			else
				session_finish(s, s->signal_code);
			continue;
		}
		now = util_now_ms();
		if (s->state == S_WAIT && now >= s->reconnect_at &&
		    start_attempt(s) < 0) {
			if (may_retry(s))
				schedule_reconnect(s);
			else
				s->state = S_DONE;
			continue;
		}
		if (s->state == S_CONNECTING && now >= s->connect_deadline &&
		    (s->deadline == 0 || s->connect_deadline < s->deadline)) {
			/* One attempt took too long: a retry may do better. */
			long ms = s->cfg->timeout_ms > 0 ? s->cfg->timeout_ms
							 : CONNECT_TIMEOUT_MS;

			char t[32];

			record(s, XEXIT_TIMEOUT, "%s: timed out after %s s%s%s",
			    session_target(s), util_seconds(ms, t, sizeof(t)),
			    s->phase ? " " : "", s->phase ? s->phase : "");
			s->retry_ok = 1;
			hard_close(s);
		}
		if (s->deadline && now >= s->deadline)
			deadline_reached(s);
		if (s->state == S_DONE)
			break;

		next = earliest(s->deadline, fire_timers(s, now));
		if (s->state == S_CONNECTING)
			next = earliest(next, s->connect_deadline);
		if (s->state == S_WAIT)
			next = earliest(next, s->reconnect_at);
		wait = wait_until(now, next, LOOP_MAX_WAIT_MS);

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
	hard_close(s);
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
