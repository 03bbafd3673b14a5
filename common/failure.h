/* SPDX-License-Identifier: MIT */
/* failure.h -- what went wrong with one connection attempt, and what follows */

#ifndef XMPPTOOLS_FAILURE_H
#define XMPPTOOLS_FAILURE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The session's failure model.  Everything the session learns about one
 * connection attempt goes into one struct attempt, reset with one
 * assignment when the next attempt starts.  What an ended attempt means
 * (exit code, the one-line message, whether a retry may help) is decided by
 * failure_classify(), a pure function of that state and of what libstrophe
 * said when the connection ended: it is unit-tested case by case.
 *
 * Most of the state comes from the stream itself (the XML guard reports the
 * elements of the login: xmlguard.h).  A few steps of libstrophe 0.12 show
 * nowhere but in its log; failure_log_line() reads those lines, all in one
 * table (failure.c), tested with the real lines of 0.12.2.
 *
 * Strings in the struct are fixed arrays so that the reset is one
 * assignment; network text in them is already escaped.  No allocation, no
 * I/O.
 */

struct attempt {
	/* the connection */
	int tcp_up; /* the TCP connection was made (log) */
	int connect_errno; /* why it was not (log), else 0 */
	int stream_opened; /* the server's stream header was read */
	/* TLS */
	int direct_tls; /* TLS from the first byte (XEP-0368) */
	int plain_features; /* <stream:features> read before TLS */
	int starttls_offered; /* ... with <starttls/> in it */
	int preapproval_offered; /* RFC 6121 3.4's stream feature */
	int tls_not_offered; /* libstrophe refused to go on without TLS */
	int tls_started; /* <proceed/> read, or direct TLS */
	int tls_refused; /* <failure/> of the TLS namespace */
	int secured; /* the handshake finished */
	char tls_verify_error[160]; /* the certificate verification error */
	/* SASL */
	int auth_offered; /* mechanisms offered over TLS: credentials go */
	int no_mechanism; /* none of the offered mechanisms is usable (log) */
	int sasl_failed; /* <failure/> of the SASL namespace */
	char sasl_condition[48]; /* its condition element */
	int sasl_succeeded;
	/* online */
	int online; /* logged in and bound */
	int progress; /* a request was answered on this connection */
	int64_t online_since; /* util_now_ms() when it went online */
	/* the stream */
	int violation; /* an xmlguard_violation that ended the stream */
	char violation_text[160]; /* what it was, for the message */
	int stanza_too_slow; /* one stanza took longer than allowed */
	long stanza_limit_ms;
	/* stream management and closing (log and stream) */
	int resumed; /* <resumed/> read */
	int close_sent; /* libstrophe queued our </stream:stream> */
	char lib_error[160]; /* libstrophe's last error line, escaped */
	/* the session's own bookkeeping of the attempt */
	int sm_enabling; /* <enable/> sent, <enabled/> not yet seen */
	int connect_pending; /* the tool's on_connect waits for <enabled/> */
	int shut_wr; /* the socket is closed for writing */
	int violation_handled; /* our stream error is sent, the socket shut */
};

/* How the connection ended, as libstrophe's disconnect event says it. */
struct failure_input {
	int error; /* the event's error: errno, or an OpenSSL SSL_ERROR_* */
	int has_stream_error; /* the server sent <stream:error/> */
	const char *stream_error; /* its condition name (stanza.h) */
	const char *stream_text; /* its <text/>, escaped, or "" */
	const char *other_host; /* <see-other-host/>'s text, escaped, or "" */
	const char *target; /* "host:port" or the domain, for messages */
	const char *domain; /* the account's domain (the TLS identity) */
	const char *account; /* the bare JID, for messages */
};

struct verdict {
	int code; /* an XEXIT_ code */
	int retry; /* a new attempt may succeed */
	char message[512]; /* one line, no trailing newline */
};

/* strerror() in lower case, to continue a message ("host: connection
 * refused"), in buf; returns buf. */
const char *failure_strerror(int err, char *buf, size_t len);

/* Decides what an ended attempt means.  Pure. */
void failure_classify(const struct attempt *a, const struct failure_input *in,
    struct verdict *out);

/* What a line of libstrophe's log told. */
enum failure_log {
	FLOG_NONE = 0, /* nothing the model needs */
	FLOG_TARGET, /* the address being connected to: *target set */
	FLOG_TCP_UP,
	FLOG_TCP_FAILED,
	FLOG_TLS_NOT_OFFERED,
	FLOG_NO_MECHANISM,
	FLOG_SM_ENABLE_SENT, /* <enable/> of stream management queued */
	FLOG_CLOSE_SENT, /* our </stream:stream> queued */
	FLOG_ERROR /* another error line: kept in lib_error */
};

/*
 * Reads one line of libstrophe's log into the attempt.  'is_error' is true
 * for XMPP_LEVEL_ERROR lines.  For FLOG_TARGET, the address (raw network
 * text, not escaped) is copied to 'target' (of 'target_len' bytes).
 */
enum failure_log failure_log_line(struct attempt *a, int is_debug, int is_error,
    const char *msg, char *target, size_t target_len);

/* Does an attempt that went online count as progress (the retry count
 * starts again)?  'now' on util_now_ms()'s clock. */
int failure_made_progress(const struct attempt *a, int64_t now);

/* Online this long without an answered request also counts as progress. */
#define FAILURE_STABLE_MS 60000

#endif
