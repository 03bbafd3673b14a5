/* SPDX-License-Identifier: MIT */
/* session_login.c -- the connection object, TLS, and the login as the stream
 * shows it */

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
#include "truststore.h"
#include "util.h"
#include "xmlguard.h"
#include "xmpptools.h"

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

/*
 * The log handler: the -vv trace, and the few steps of the login that
 * libstrophe 0.12 reports nowhere else (failure_log_line() knows them).
 */
void
ses_log_handler(
    void *ud, xmpp_log_level_t level, const char *area, const char *msg)
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
			ses_set_phase(s, "during the TLS handshake");
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
		t = ses_escaped(msg);
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
		ses_set_phase(s, "during the TLS handshake");
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
void
ses_on_element(void *ud, const struct xmlguard_element *el)
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
		else if (is(el, "urn:xmpp:features:pre-approval", "sub"))
			a->preapproval_offered = 1;
		else if (is(el, XMPP_NS_SASL, "mechanisms") && a->tls_started) {
			/* libstrophe sends credentials now. */
			a->auth_offered = 1;
			ses_set_phase(s, "while logging in");
		}
	} else if (s->parent == P_SASL_FAILURE && !a->sasl_condition[0]) {
		t = ses_escaped(el->name);
		snprintf(a->sasl_condition, sizeof(a->sasl_condition), "%s", t);
		free(t);
	}
}

/* The XML guard stopped the parser; after_turn() closes the stream. */
void
ses_on_violation(void *ud, enum xmlguard_violation v)
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
		t = ses_escaped(xmlguard_malformed_reason());
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
	struct session *s = ses_current;

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
		char *t = ses_escaped(errormsg);

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
	if (ses_current) {
		ses_current->sock = fd;
		ses_current->shut = 0;
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
void
ses_check_pin(struct session *s)
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
		ses_record(s, XEXIT_TLS,
		    "%s: certificate pin mismatch: the server's is %s",
		    session_target(s), got ? got : "unknown");
		ses_hard_close(s);
	} else
		xdebug(1, "certificate matches the pin");
	free(got);
}

/* The text of <see-other-host/> in a stream error, escaped, or NULL. */
static char *
other_host(xmpp_stanza_t *error)
{
	char *text, *t;

	text = error ? stanza_child_text(error, "see-other-host", NULL) : NULL;
	if (text == NULL)
		return NULL;
	t = ses_escaped(text);
	free(text);
	return t;
}

/*
 * Records why the current attempt ended (failure.h decides), unless a
 * failure is recorded already.  'error' and 'se' are libstrophe's.
 */
void
ses_fail_attempt(struct session *s, int error, xmpp_stream_error_t *se)
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
		in.stream_text = text = ses_escaped(se->text);
		in.other_host = host = other_host(se->stanza);
	}
	failure_classify(&s->at, &in, &v);
	ses_record(s, v.code, "%s", v.message);
	s->retry_ok = v.retry;
	free(text);
	free(host);
}

void
ses_reset_attempt(struct session *s)
{
	s->at = (struct attempt){ 0 };
	s->at.direct_tls = s->at.tls_started = s->cfg->direct_tls;
	s->parent = P_OTHER;
	xmlguard_set_callbacks(ses_on_element, ses_on_violation, s);
}

/*
 * Once online, the watchdog that covered the blocking steps of the login
 * becomes a backstop behind the loop's deadline: the loop ends the run on
 * time (the XML guard bounds each turn), the watchdog only if it did not.
 */
void
ses_arm_backstop(struct session *s)
{
	int64_t grace =
	    s->on_deadline ? BACKSTOP_TOOL_GRACE_MS : BACKSTOP_GRACE_MS;

	if (s->deadline == 0) {
		util_watchdog_disarm();
		return;
	}
	util_watchdog_arm(s->deadline + grace, s->target, s->deadline_ms);
}

void
ses_conn_handler(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
    xmpp_stream_error_t *se, void *ud)
{
	struct session *s = ud;

	if (event == XMPP_CONN_CONNECT) {
		if (s->code_set) {
			/* A failure was decided during login (the pin). */
			ses_hard_close(s);
			return;
		}
		s->state = S_READY;
		s->ever_online = 1;
		s->at.online = 1;
		s->at.online_since = util_now_ms();
		/* The login is read; stanzas need no observer from now on. */
		xmlguard_set_callbacks(NULL, ses_on_violation, s);
		ses_set_phase(s, NULL);
		ses_arm_backstop(s);
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
		ses_fail_attempt(s, error, se);
	if (ses_may_retry(s))
		ses_schedule_reconnect(s);
	else
		s->state = S_DONE;
}

/* Trampolines from libstrophe's handler type to ours. */
int
ses_hook_stanza(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
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
 * The CA path of a new connection object: --capath, and the default
 * directory when the lazy trust store needs it looked up (truststore.h).
 * The first call decides the trust store for the process, before
 * libstrophe makes its first TLS context.
 */
static void
set_capath(xmpp_conn_t *c, const char *capath)
{
	static int told;
	const char *add, *dirs;
	char *both;

	if (truststore_init(&add) && !told) {
		dirs = secure_getenv(X509_get_default_cert_dir_env());
		xdebug(1,
		    "trust store: CAs looked up by name in %s%s%s (the "
		    "bundle %s is not read)",
		    dirs ? dirs : X509_get_default_cert_dir(), add ? ":" : "",
		    add ? add : "", X509_get_default_cert_file());
	}
	told = 1;
	if (add == NULL) {
		if (capath)
			xmpp_conn_set_capath(c, capath);
		return;
	}
	/* OpenSSL splits a CA path at ':' as it splits SSL_CERT_DIR. */
	both = capath ? xasprintf("%s:%s", capath, add) : xstrdup(add);
	xmpp_conn_set_capath(c, both);
	free(both);
}

/*
 * A new libstrophe connection object for the next attempt, set up with the
 * account, TLS settings and every handler: each attempt starts from a
 * clean object (libstrophe 0.12 keeps state from one login to the next: a
 * server offering only PLAIN could not be logged in to again).  Returns 0,
 * or -1 when libstrophe cannot allocate it.
 */
int
ses_conn_setup(struct session *s, const char *password)
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
	set_capath(c, cfg->capath);
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
			    c, ses_hook_stanza, h->ns, h->name, h->type, h);
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
int
ses_conn_renew(struct session *s)
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
	rc = ses_conn_setup(s, pass);
	util_secure_free(pass);
	if (rc == 0 && sm != NULL)
		xmpp_conn_set_sm_state(s->conn, sm);
	else if (sm != NULL)
		xmpp_free_sm_state(sm);
	return rc;
}
