/* SPDX-License-Identifier: MIT */
/* failure.c -- what went wrong with one connection attempt, and what follows */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "failure.h"
#include "xmpptools.h"

/* OpenSSL's SSL_ERROR_SYSCALL and SSL_ERROR_ZERO_RETURN, as libstrophe
 * passes them in the disconnect event of a TLS connection. */
#define TLS_ERROR_SYSCALL 5
#define TLS_ERROR_ZERO_RETURN 6

static void say(struct verdict *v, int code, int retry, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
say(struct verdict *v, int code, int retry, const char *fmt, ...)
{
	va_list ap;

	v->code = code;
	v->retry = retry;
	va_start(ap, fmt);
	vsnprintf(v->message, sizeof(v->message), fmt, ap);
	va_end(ap);
}

const char *
failure_strerror(int err, char *buf, size_t len)
{
	snprintf(buf, len, "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

/* The exit code of a stream error, and whether a retry may help. */
static int
stream_error_code(const char *cond, int *retry)
{
	*retry = 0;
	if (strcmp(cond, "not-authorized") == 0)
		return XEXIT_AUTH;
	if (strcmp(cond, "system-shutdown") == 0 ||
	    strcmp(cond, "connection-timeout") == 0 ||
	    strcmp(cond, "reset") == 0) {
		*retry = 1;
		return XEXIT_CONNECT;
	}
	return XEXIT_PROTOCOL;
}

static void
stream_error(const struct failure_input *in, struct verdict *v)
{
	int retry, code = stream_error_code(in->stream_error, &retry);
	const char *text = in->stream_text ? in->stream_text : "";
	const char *host = in->other_host ? in->other_host : "";

	if (*host)
		say(v, code, retry,
		    "%s: stream error: %s: the server sends us "
		    "to %s%s%s",
		    in->target, in->stream_error, host, *text ? ": " : "",
		    text);
	else
		say(v, code, retry, "%s: stream error: %s%s%s", in->target,
		    in->stream_error, *text ? ": " : "", text);
}

/* The connection, TLS and SASL steps, in the order they happen. */
static int
login_steps(
    const struct attempt *a, const struct failure_input *in, struct verdict *v)
{
	char ebuf[128];
	int error = in->error;

	if (!a->tcp_up) {
		error = a->connect_errno ? a->connect_errno
		    : error		 ? error
					 : ETIMEDOUT;
		failure_strerror(error, ebuf, sizeof(ebuf));
		say(v, XEXIT_CONNECT, 1, "%s: %s", in->target, ebuf);
	} else if (a->tls_verify_error[0]) {
		say(v, XEXIT_TLS, 0,
		    "%s: TLS certificate for %s not trusted: %s", in->target,
		    in->domain, a->tls_verify_error);
	} else if (a->tls_not_offered ||
	    (a->plain_features && !a->starttls_offered && !a->tls_started &&
		!a->direct_tls)) {
		say(v, XEXIT_TLS, 0,
		    "%s: the server does not offer TLS; refusing to log in "
		    "without it",
		    in->target);
	} else if (a->tls_refused) {
		say(v, XEXIT_TLS, 0, "%s: the server refused to start TLS",
		    in->target);
	} else if (in->has_stream_error) {
		stream_error(in, v);
	} else if (a->sasl_failed) {
		say(v, XEXIT_AUTH, 0, "%s: authentication failed for %s (%s)",
		    in->target, in->account,
		    a->sasl_condition[0] ? a->sasl_condition
					 : "not-authorized");
	} else if (a->no_mechanism) {
		say(v, XEXIT_AUTH, 0,
		    "%s: authentication failed for %s (no usable mechanism)",
		    in->target, in->account);
	} else if (a->tls_started && !a->secured) {
		say(v, XEXIT_TLS, 0, "%s: TLS handshake failed%s", in->target,
		    error == TLS_ERROR_SYSCALL
			? ": connection closed by the server"
			: "");
	} else {
		return 0;
	}
	return 1;
}

static void
failed_login(
    const struct attempt *a, const struct failure_input *in, struct verdict *v)
{
	char ebuf[128];

	if (login_steps(a, in, v))
		return;
	if (a->auth_offered && !a->sasl_succeeded) {
		say(v, XEXIT_AUTH, 0, "%s: authentication failed for %s",
		    in->target, in->account);
	} else if (!a->stream_opened &&
	    (in->error == ECONNRESET || in->error == 0)) {
		say(v, XEXIT_CONNECT, 1,
		    "%s: the server closed the connection without a word",
		    in->target);
	} else if (in->error == ECONNRESET) {
		say(v, XEXIT_CONNECT, 1, "%s: the server closed the connection",
		    in->target);
	} else if (in->error != 0) {
		failure_strerror(in->error, ebuf, sizeof(ebuf));
		say(v, XEXIT_CONNECT, 1, "%s: %s", in->target, ebuf);
	} else {
		say(v, XEXIT_PROTOCOL, 0,
		    "%s: the server ended the stream during login%s%s",
		    in->target, a->lib_error[0] ? ": " : "", a->lib_error);
	}
}

void
failure_classify(
    const struct attempt *a, const struct failure_input *in, struct verdict *v)
{
	if (a->violation) {
		say(v, XEXIT_PROTOCOL, 0, "%s: the server sent %s", in->target,
		    a->violation_text);
	} else if (a->stanza_too_slow) {
		say(v, XEXIT_PROTOCOL, 0,
		    "%s: the server took over %ld s to send one stanza",
		    in->target, a->stanza_limit_ms / 1000);
	} else if (!a->online) {
		failed_login(a, in, v);
	} else if (in->has_stream_error) {
		stream_error(in, v);
	} else if (in->error == TLS_ERROR_ZERO_RETURN) {
		say(v, XEXIT_CONNECT, 1, "%s: the server closed the connection",
		    in->target);
	} else {
		say(v, XEXIT_CONNECT, 1, "%s: connection lost", in->target);
	}
}

int
failure_made_progress(const struct attempt *a, int64_t now)
{
	return a->online &&
	    (a->progress || now - a->online_since >= FAILURE_STABLE_MS);
}

/*
 * The lines of libstrophe 0.12's log that are the only sign of a step.
 * Everything else the model needs comes from the stream (xmlguard.h).
 */
static const struct log_line {
	int debug; /* a debug line (else an error line) */
	int exact; /* the whole line (else its start) */
	const char *text;
	enum failure_log what;
} log_lines[] = {
	/* the address connected to, which may come from an SRV record */
	{ 1, 0, "sock_connect() to ", FLOG_TARGET },
	/* 0.12 reports no event when the TCP connection is made */
	{ 1, 1, "connection successful", FLOG_TCP_UP },
	{ 1, 0, "connection failed, error ", FLOG_TCP_FAILED },
	/* what libstrophe sends shows only here */
	{ 1, 0, "SENT: <enable ", FLOG_SM_ENABLE_SENT },
	{ 1, 1, "SENT: </stream:stream>", FLOG_CLOSE_SENT },
	/* decisions that libstrophe takes and reports only as an error */
	{ 0, 0, "TLS is not supported", FLOG_TLS_NOT_OFFERED },
	{ 0, 0, "Cannot authenticate with known methods", FLOG_NO_MECHANISM },
};

static int
matches(const struct log_line *l, const char *msg)
{
	if (l->exact)
		return strcmp(msg, l->text) == 0;
	if (l->debug)
		return strncmp(msg, l->text, strlen(l->text)) == 0;
	return strstr(msg, l->text) != NULL;
}

/* "sock_connect() to HOST:PORT returned N": the address. */
static void
copy_target(const char *msg, char *target, size_t len)
{
	const char *p = msg + strlen("sock_connect() to ");
	const char *end = strstr(p, " returned ");
	size_t n = end ? (size_t)(end - p) : strlen(p);

	if (target == NULL || len == 0)
		return;
	if (n >= len)
		n = len - 1;
	memcpy(target, p, n);
	target[n] = '\0';
}

enum failure_log
failure_log_line(struct attempt *a, int is_debug, int is_error, const char *msg,
    char *target, size_t target_len)
{
	size_t i;

	for (i = 0; i < sizeof(log_lines) / sizeof(log_lines[0]); i++) {
		const struct log_line *l = &log_lines[i];

		if (l->debug != is_debug || !matches(l, msg))
			continue;
		switch (l->what) {
		case FLOG_TARGET:
			copy_target(msg, target, target_len);
			break;
		case FLOG_TCP_UP:
			a->tcp_up = 1;
			break;
		case FLOG_TCP_FAILED:
			sscanf(msg + strlen(l->text), "%d", &a->connect_errno);
			break;
		case FLOG_TLS_NOT_OFFERED:
			a->tls_not_offered = 1;
			break;
		case FLOG_NO_MECHANISM:
			a->no_mechanism = 1;
			break;
		case FLOG_CLOSE_SENT:
			a->close_sent = 1;
			break;
		default:
			break;
		}
		return l->what;
	}
	if (is_error)
		return FLOG_ERROR;
	return FLOG_NONE;
}
