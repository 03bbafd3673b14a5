/* SPDX-License-Identifier: MIT */
/* test_failure.c -- unit tests of common/failure.c (the failure model) */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "failure.h"
#include "xmpptools.h"

static struct failure_input
input(int error)
{
	struct failure_input in;

	memset(&in, 0, sizeof(in));
	in.error = error;
	in.target = "example.org:5222";
	in.domain = "example.org";
	in.account = "alice@example.org";
	in.stream_error = "";
	in.stream_text = "";
	in.other_host = "";
	return in;
}

/* A login that got as far as the TCP connection. */
static struct attempt
connected(void)
{
	struct attempt a = { 0 };

	a.tcp_up = 1;
	a.stream_opened = 1;
	return a;
}

static void
expect(const struct attempt *a, const struct failure_input *in, int code,
    int retry, const char *words)
{
	struct verdict v;

	failure_classify(a, in, &v);
	if (v.code != code || v.retry != retry ||
	    strstr(v.message, words) == NULL)
		fail_msg("got %d retry %d \"%s\"; want %d retry %d \"%s\"",
		    v.code, v.retry, v.message, code, retry, words);
	assert_null(strchr(v.message, '\n'));
	assert_non_null(strstr(v.message, "example.org"));
}

static void
test_connect(void **state)
{
	struct attempt a = { 0 };
	struct failure_input in = input(0);

	(void)state;
	a.connect_errno = ECONNREFUSED;
	expect(&a, &in, XEXIT_CONNECT, 1, "connection refused");
	a.connect_errno = 0;
	expect(&a, &in, XEXIT_CONNECT, 1, "timed out");
	in = input(EHOSTUNREACH);
	expect(&a, &in, XEXIT_CONNECT, 1, "no route to host");
}

static void
test_tls(void **state)
{
	struct attempt a = connected();
	struct failure_input in = input(0);

	(void)state;
	snprintf(a.tls_verify_error, sizeof(a.tls_verify_error), "%s",
	    "self-signed certificate");
	expect(&a, &in, XEXIT_TLS, 0, "not trusted: self-signed certificate");

	a = connected();
	a.plain_features = 1; /* and no <starttls/> in them */
	expect(&a, &in, XEXIT_TLS, 0, "does not offer TLS");
	a.starttls_offered = 1;
	a.tls_refused = 1;
	expect(&a, &in, XEXIT_TLS, 0, "refused to start TLS");

	a = connected();
	a.tls_not_offered = 1; /* libstrophe's error line */
	expect(&a, &in, XEXIT_TLS, 0, "does not offer TLS");

	a = connected();
	a.direct_tls = a.tls_started = 1;
	a.plain_features = 0;
	in = input(5); /* SSL_ERROR_SYSCALL */
	expect(&a, &in, XEXIT_TLS, 0, "closed by the server");
	in = input(1);
	expect(&a, &in, XEXIT_TLS, 0, "TLS handshake failed");
}

static void
test_auth(void **state)
{
	struct attempt a = connected();
	struct failure_input in = input(0);

	(void)state;
	a.plain_features = a.starttls_offered = a.tls_started = 1;
	a.secured = a.auth_offered = 1;
	expect(&a, &in, XEXIT_AUTH, 0, "authentication failed for alice");
	a.sasl_failed = 1;
	snprintf(a.sasl_condition, sizeof(a.sasl_condition), "%s",
	    "account-disabled");
	expect(&a, &in, XEXIT_AUTH, 0, "(account-disabled)");
	a.sasl_condition[0] = '\0';
	expect(&a, &in, XEXIT_AUTH, 0, "(not-authorized)");
	a.sasl_failed = 0;
	a.no_mechanism = 1;
	expect(&a, &in, XEXIT_AUTH, 0, "no usable mechanism");
}

static void
test_stream_errors(void **state)
{
	struct attempt a = connected();
	struct failure_input in = input(0);

	(void)state;
	in.has_stream_error = 1;
	in.stream_error = "host-unknown";
	expect(&a, &in, XEXIT_PROTOCOL, 0, "stream error: host-unknown");
	in.stream_error = "not-authorized";
	expect(&a, &in, XEXIT_AUTH, 0, "not-authorized");

	a.online = 1;
	in.stream_error = "conflict";
	in.stream_text = "Replaced by new connection";
	expect(&a, &in, XEXIT_PROTOCOL, 0,
	    "stream error: conflict: Replaced by new connection");
	in.stream_error = "system-shutdown";
	in.stream_text = "";
	expect(&a, &in, XEXIT_CONNECT, 1, "stream error: system-shutdown");
	in.stream_error = "see-other-host";
	in.other_host = "other.example.net:5222";
	expect(&a, &in, XEXIT_PROTOCOL, 0, "sends us to other.example.net");
}

static void
test_lost(void **state)
{
	struct attempt a = connected();
	struct failure_input in = input(0);

	(void)state;
	/* before a word of XML: a server that closes at once */
	a.stream_opened = 0;
	expect(&a, &in, XEXIT_CONNECT, 1, "without a word");
	in = input(ECONNRESET);
	a.stream_opened = 1;
	expect(&a, &in, XEXIT_CONNECT, 1, "closed the connection");
	in = input(0);
	snprintf(a.lib_error, sizeof(a.lib_error), "%s", "odd");
	expect(
	    &a, &in, XEXIT_PROTOCOL, 0, "ended the stream during login: odd");

	a = connected();
	a.online = 1;
	in = input(6); /* SSL_ERROR_ZERO_RETURN */
	expect(&a, &in, XEXIT_CONNECT, 1, "closed the connection");
	in = input(ECONNRESET);
	expect(&a, &in, XEXIT_CONNECT, 1, "connection lost");
}

static void
test_stream_faults(void **state)
{
	struct attempt a = connected();
	struct failure_input in = input(0);

	(void)state;
	a.violation = 1;
	snprintf(a.violation_text, sizeof(a.violation_text), "%s",
	    "restricted XML (a DTD)");
	expect(&a, &in, XEXIT_PROTOCOL, 0, "restricted XML (a DTD)");
	/* before everything else: the violation is why the stream ended */
	a.auth_offered = 1;
	expect(&a, &in, XEXIT_PROTOCOL, 0, "restricted XML");

	a = connected();
	a.online = 1;
	a.stanza_too_slow = 1;
	a.stanza_limit_ms = 30000;
	expect(&a, &in, XEXIT_PROTOCOL, 0, "over 30 s to send one stanza");
}

static void
test_progress(void **state)
{
	struct attempt a = { 0 };

	(void)state;
	assert_false(failure_made_progress(&a, 100000));
	a.online = 1;
	a.online_since = 1000;
	assert_false(failure_made_progress(&a, 1000)); /* kicked at once */
	assert_false(failure_made_progress(&a, 1000 + FAILURE_STABLE_MS - 1));
	assert_true(failure_made_progress(&a, 1000 + FAILURE_STABLE_MS));
	a.progress = 1;
	assert_true(failure_made_progress(&a, 1000));
}

/* The lines of libstrophe 0.12.2's log, as it writes them. */
static void
test_log_lines(void **state)
{
	struct attempt a = { 0 };
	char target[64] = "";

	(void)state;
	assert_int_equal(failure_log_line(&a, 1, 0,
			     "sock_connect() to 127.0.0.1:5222 returned 3",
			     target, sizeof(target)),
	    FLOG_TARGET);
	assert_string_equal(target, "127.0.0.1:5222");
	assert_int_equal(failure_log_line(&a, 1, 0,
			     "sock_connect() to a-very-long-name.example:5222 "
			     "returned 3",
			     target, 8),
	    FLOG_TARGET);
	assert_string_equal(target, "a-very-");
	assert_int_equal(
	    failure_log_line(&a, 1, 0, "connection successful", NULL, 0),
	    FLOG_TCP_UP);
	assert_true(a.tcp_up);
	assert_int_equal(
	    failure_log_line(&a, 1, 0, "connection failed, error 111", NULL, 0),
	    FLOG_TCP_FAILED);
	assert_int_equal(a.connect_errno, 111);
	assert_int_equal(failure_log_line(&a, 1, 0,
			     "SENT: <enable xmlns=\"urn:xmpp:sm:3\" "
			     "resume=\"true\"/>",
			     NULL, 0),
	    FLOG_SM_ENABLE_SENT);
	assert_int_equal(
	    failure_log_line(&a, 1, 0, "SENT: </stream:stream>", NULL, 0),
	    FLOG_CLOSE_SENT);
	assert_true(a.close_sent);
	assert_int_equal(failure_log_line(&a, 0, 1,
			     "TLS is not supported, but set as mandatory "
			     "for this connection",
			     NULL, 0),
	    FLOG_TLS_NOT_OFFERED);
	assert_true(a.tls_not_offered);
	assert_int_equal(failure_log_line(&a, 0, 1,
			     "Cannot authenticate with known methods", NULL, 0),
	    FLOG_NO_MECHANISM);
	assert_true(a.no_mechanism);
	/* the same words at another level, or in a stanza, are not it */
	assert_int_equal(
	    failure_log_line(&a, 0, 0, "connection successful", NULL, 0),
	    FLOG_NONE);
	assert_int_equal(failure_log_line(&a, 1, 0,
			     "RECV: <message>Cannot authenticate with known "
			     "methods</message>",
			     NULL, 0),
	    FLOG_NONE);
	assert_int_equal(
	    failure_log_line(&a, 0, 1, "something else broke", NULL, 0),
	    FLOG_ERROR);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_stream_errors),
		cmocka_unit_test(test_lost),
		cmocka_unit_test(test_stream_faults),
		cmocka_unit_test(test_progress),
		cmocka_unit_test(test_log_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
