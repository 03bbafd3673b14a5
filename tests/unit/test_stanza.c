/* SPDX-License-Identifier: MIT */
/* test_stanza.c -- unit tests of common/stanza.c (builders and parsers) */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <strophe.h>

#include "stanza.h"
#include "util.h"

#define SASL "urn:ietf:params:xml:ns:xmpp-sasl"
#define STZ "urn:ietf:params:xml:ns:xmpp-stanzas"

static int
setup_ctx(void **state)
{
	xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, NULL);

	if (ctx == NULL)
		return -1;
	*state = ctx;
	return 0;
}

static int
teardown_ctx(void **state)
{
	xmpp_ctx_free(*state);
	return 0;
}

/* Serializes 'st', compares with 'want' and releases 'st'. */
static void
expect_xml(xmpp_stanza_t *st, const char *want)
{
	xmpp_ctx_t *ctx = xmpp_stanza_get_context(st);
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(xmpp_stanza_to_text(st, &text, &len), XMPP_EOK);
	assert_non_null(text);
	assert_int_equal(len, strlen(text));
	if (strcmp(text, want) != 0)
		fail_msg("got  %s\nwant %s", text, want);
	xmpp_free(ctx, text);
	xmpp_stanza_release(st);
}

static xmpp_stanza_t *
parse(xmpp_ctx_t *ctx, const char *xml)
{
	xmpp_stanza_t *st = xmpp_stanza_new_from_string(ctx, xml);

	if (st == NULL)
		fail_msg("libstrophe could not parse %s", xml);
	return st;
}

/* --- stanza_message --- */

static void
stanza_message__serializes__every_field(void **state)
{
	struct msg_spec m = { 0 };

	m.to = "bob@example.com/r";
	m.type = "chat";
	m.id = "id-1";
	m.body = "hello";
	m.subject = "subj";
	m.thread = "th-1";
	m.url = "https://example.com/f?a=1&b=2";
	m.no_store = 1;
	m.receipt = 1;
	expect_xml(stanza_message(*state, &m),
	    "<message id=\"id-1\" to=\"bob@example.com/r\" type=\"chat\">"
	    "<subject>subj</subject><body>hello</body><thread>th-1</thread>"
	    "<x xmlns=\"jabber:x:oob\">"
	    "<url>https://example.com/f?a=1&amp;b=2</url></x>"
	    "<request xmlns=\"urn:xmpp:receipts\"/>"
	    "<no-store xmlns=\"urn:xmpp:hints\"/>"
	    "<no-permanent-store xmlns=\"urn:xmpp:hints\"/>"
	    "<origin-id id=\"id-1\" xmlns=\"urn:xmpp:sid:0\"/></message>");
}

static void
stanza_message__omits__absent_fields(void **state)
{
	struct msg_spec m = { 0 };

	m.body = "b";
	expect_xml(
	    stanza_message(*state, &m), "<message><body>b</body></message>");

	/* Empty optional texts are left out as well. */
	memset(&m, 0, sizeof(m));
	m.to = "a@b";
	m.type = "normal";
	m.id = "x";
	m.body = "b";
	m.subject = "";
	m.thread = "";
	m.url = "";
	expect_xml(stanza_message(*state, &m),
	    "<message id=\"x\" to=\"a@b\" type=\"normal\"><body>b</body>"
	    "<origin-id id=\"x\" xmlns=\"urn:xmpp:sid:0\"/></message>");

	/* No body at all: a subject-only message. */
	memset(&m, 0, sizeof(m));
	m.to = "a@b";
	m.subject = "only";
	expect_xml(stanza_message(*state, &m),
	    "<message to=\"a@b\"><subject>only</subject></message>");
}

static void
stanza_message__sets__origin_id_equal_to_id(void **state)
{
	struct msg_spec m = { 0 };
	xmpp_stanza_t *st, *oid;

	m.to = "a@b";
	m.type = "chat";
	m.id = "4f2c-\xc3\xa9";
	m.body = "x";
	st = stanza_message(*state, &m);
	assert_string_equal(xmpp_stanza_get_id(st), "4f2c-\xc3\xa9");
	oid = xmpp_stanza_get_child_by_name_and_ns(st, "origin-id", NS_SID);
	assert_non_null(oid);
	assert_string_equal(
	    xmpp_stanza_get_attribute(oid, "id"), xmpp_stanza_get_id(st));
	xmpp_stanza_release(st);
}

static void
stanza_message__escapes__xml_specials(void **state)
{
	struct msg_spec m = { 0 };

	m.to = "a@b";
	m.type = "chat";
	m.body = "1 < 2 && 3 > 2 \"quoted\" 'single'\nline2";
	m.subject = "<b>&amp;</b>";
	expect_xml(stanza_message(*state, &m),
	    "<message to=\"a@b\" type=\"chat\">"
	    "<subject>&lt;b&gt;&amp;amp;&lt;/b&gt;</subject>"
	    "<body>1 &lt; 2 &amp;&amp; 3 &gt; 2 &quot;quoted&quot; "
	    "'single'\nline2</body></message>");
}

static void
stanza_message__reparses__to_same_body(void **state)
{
	xmpp_ctx_t *ctx = *state;
	struct msg_spec m = { 0 };
	xmpp_stanza_t *st, *back;
	char *xml, *body;
	size_t len;

	m.to = "a@b";
	m.body = "<&>\"' \xc3\xa9\xe2\x80\xae\n\tend";
	st = stanza_message(ctx, &m);
	assert_int_equal(xmpp_stanza_to_text(st, &xml, &len), XMPP_EOK);
	back = parse(ctx, xml);
	body = xmpp_message_get_body(back);
	assert_non_null(body);
	assert_string_equal(body, m.body);
	xmpp_free(ctx, body);
	xmpp_free(ctx, xml);
	xmpp_stanza_release(back);
	xmpp_stanza_release(st);
}

/* --- stanza_ping --- */

static void
stanza_ping__builds__iq_get(void **state)
{
	expect_xml(stanza_ping(*state, "example.com", "ping-1"),
	    "<iq id=\"ping-1\" to=\"example.com\" type=\"get\">"
	    "<ping xmlns=\"urn:xmpp:ping\"/></iq>");
	expect_xml(stanza_ping(*state, NULL, "p2"),
	    "<iq id=\"p2\" type=\"get\"><ping xmlns=\"urn:xmpp:ping\"/></iq>");
}

/* --- stanza_error_info --- */

static void
stanza_error_info__reads__condition_and_text(void **state)
{
	static const struct {
		const char *xml;
		const char *condition;
		const char *text; /* NULL: none */
	} cases[] = {
		{ "<message type='error' from='nobody@localhost'>"
		  "<error type='cancel'>"
		  "<service-unavailable xmlns='" STZ "'/>"
		  "<text xmlns='" STZ "'>Gone &amp; away &lt;x&gt;</text>"
		  "</error></message>",
		    "service-unavailable", "Gone & away <x>" },
		{ "<iq type='error' id='1'><error type='auth'>"
		  "<forbidden xmlns='" STZ "'/></error></iq>",
		    "forbidden", NULL },
		{ "<iq type='error'><error type='cancel'>"
		  "<text xmlns='" STZ "'>first the text</text>"
		  "<item-not-found xmlns='" STZ "'/></error></iq>",
		    "item-not-found", "first the text" },
		/* no defined condition */
		{ "<message type='error'><error type='cancel'>"
		  "<text xmlns='" STZ "'>only text</text></error></message>",
		    "undefined-condition", "only text" },
		{ "<message type='error'><error type='cancel'/></message>",
		    "undefined-condition", NULL },
		{ "<message type='error'><body>x</body></message>",
		    "undefined-condition", NULL },
		/* conditions outside the stanzas namespace are not ones */
		{ "<message type='error'><error type='wait'>"
		  "<too-many xmlns='urn:example:app'/>"
		  "<resource-constraint xmlns='" STZ "'/>"
		  "</error></message>",
		    "resource-constraint", NULL },
		{ "<message type='error'><error type='wait'>"
		  "<conflict/></error></message>",
		    "undefined-condition", NULL },
		/* the first condition wins */
		{ "<presence type='error'><error type='modify'>"
		  "<bad-request xmlns='" STZ "'/>"
		  "<not-allowed xmlns='" STZ "'/></error></presence>",
		    "bad-request", NULL },
		/* an empty text element */
		{ "<message type='error'><error type='cancel'>"
		  "<gone xmlns='" STZ "'>xmpp:new@example.com</gone>"
		  "<text xmlns='" STZ "'/></error></message>",
		    "gone", NULL },
	};
	xmpp_stanza_t *st;
	char *cond, *text;
	size_t k;

	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		st = parse(*state, cases[k].xml);
		cond = (char *)1;
		text = (char *)1;
		stanza_error_info(st, &cond, &text);
		assert_non_null(cond);
		if (strcmp(cond, cases[k].condition) != 0)
			fail_msg("case %zu: condition %s, want %s", k, cond,
			    cases[k].condition);
		if (cases[k].text == NULL) {
			if (text != NULL)
				fail_msg("case %zu: text \"%s\", want none", k,
				    text);
		} else {
			assert_non_null(text);
			assert_string_equal(text, cases[k].text);
		}
		free(cond);
		free(text);
		xmpp_stanza_release(st);
	}
}

/* --- stanza_child_text --- */

static void
stanza_child_text__finds__child_by_name_and_ns(void **state)
{
	xmpp_stanza_t *st;
	char *t;

	st = parse(*state,
	    "<message><body>hi &lt;there&gt; &amp; \xc3\xa9</body>"
	    "<subject>s</subject>"
	    "<delay xmlns='jabber:x:delay'>old</delay>"
	    "<delay xmlns='urn:xmpp:delay'>new</delay>"
	    "<empty/></message>");
	t = stanza_child_text(st, "body", NULL);
	assert_non_null(t);
	assert_string_equal(t, "hi <there> & \xc3\xa9");
	free(t);
	t = stanza_child_text(st, "subject", NULL);
	assert_non_null(t);
	assert_string_equal(t, "s");
	free(t);
	t = stanza_child_text(st, "delay", NULL);
	assert_non_null(t);
	assert_string_equal(t, "old");
	free(t);
	t = stanza_child_text(st, "delay", NS_DELAY);
	assert_non_null(t);
	assert_string_equal(t, "new");
	free(t);
	assert_null(stanza_child_text(st, "delay", "urn:example:none"));
	assert_null(stanza_child_text(st, "thread", NULL));
	assert_null(stanza_child_text(st, "body", NS_DELAY));
	assert_null(stanza_child_text(st, "empty", NULL));
	xmpp_stanza_release(st);
}

/* --- stanza_redact_trace --- */

static void
expect_redacted(const char *line, const char *want)
{
	struct buf b;

	buf_init(&b);
	buf_adds(&b, ">");
	stanza_redact_trace(&b, line);
	if (strcmp(b.data + 1, want) != 0)
		fail_msg("line %s\ngot  %s\nwant %s", line, b.data + 1, want);
	buf_free(&b);
}

static void
stanza_redact_trace__hides__sasl_payloads(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "<auth xmlns=\"" SASL "\" mechanism=\"PLAIN\">"
		  "AGFsaWNlAHMzY3IzdA==</auth>",
		    "<auth xmlns=\"" SASL "\" mechanism=\"PLAIN\">"
		    "[redacted]</auth>" },
		{ "<auth xmlns='" SASL "' mechanism='SCRAM-SHA-1'>"
		  "biwsbj1hbGljZSxyPWZ5a28=</auth>",
		    "<auth xmlns='" SASL "' mechanism='SCRAM-SHA-1'>"
		    "[redacted]</auth>" },
		{ "<response xmlns=\"" SASL "\">Yz1iaXdzLHI9Zn==</response>",
		    "<response xmlns=\"" SASL "\">[redacted]</response>" },
		{ "<challenge xmlns=\"" SASL "\">cj1meWtvK2QybGJi</challenge>",
		    "<challenge xmlns=\"" SASL "\">[redacted]</challenge>" },
		{ "<success xmlns=\"" SASL "\">dj1ybUY5cHFWOFM3</success>",
		    "<success xmlns=\"" SASL "\">[redacted]</success>" },
		/* the prefix of a log line is kept */
		{ "xmpp DEBUG conn: SENT: <auth xmlns=\"" SASL "\" "
		  "mechanism=\"PLAIN\">AGFsaWNl</auth>",
		    "xmpp DEBUG conn: SENT: <auth xmlns=\"" SASL "\" "
		    "mechanism=\"PLAIN\">[redacted]</auth>" },
	};
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
		expect_redacted(cases[k].in, cases[k].out);
}

static void
stanza_redact_trace__hides__password_elements(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		/* MUC join */
		{ "<presence to=\"room@muc.example.com/nick\">"
		  "<x xmlns=\"" NS_MUC "\"><password>cauldronburn</password>"
		  "</x></presence>",
		    "<presence to=\"room@muc.example.com/nick\">"
		    "<x xmlns=\"" NS_MUC "\"><password>[redacted]</password>"
		    "</x></presence>" },
		/* in-band registration */
		{ "<iq type=\"set\" id=\"reg2\"><query "
		  "xmlns=\"jabber:iq:register\"><username>bill</username>"
		  "<password>Calliope</password></query></iq>",
		    "<iq type=\"set\" id=\"reg2\"><query "
		    "xmlns=\"jabber:iq:register\"><username>bill</username>"
		    "<password>[redacted]</password></query></iq>" },
		/* with attributes */
		{ "<password xmlns=\"jabber:iq:register\">pw</password>",
		    "<password xmlns=\"jabber:iq:register\">[redacted]"
		    "</password>" },
	};
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
		expect_redacted(cases[k].in, cases[k].out);
}

static void
stanza_redact_trace__keeps__lines_without_secrets(void **state)
{
	static const char *const cases[] = {
		"",
		"plain log text",
		"<message to=\"a@b\"><body>my password is hunter2</body>"
		"</message>",
		"<message><body>&lt;password&gt;x&lt;/password&gt;</body>"
		"</message>",
		"<stream:features><mechanisms xmlns=\"" SASL "\">"
		"<mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1"
		"</mechanism></mechanisms></stream:features>",
		"<failure xmlns=\"" SASL "\"><not-authorized/></failure>",
		"<success xmlns=\"" SASL "\"/>",
		"<auth xmlns=\"" SASL "\" mechanism=\"EXTERNAL\"/>",
		"<response xmlns=\"" SASL "\"/>",
		"<iq type=\"result\"><query xmlns=\"jabber:iq:version\">"
		"<name>xmpptools</name></query></iq>",
		/* SASL words outside SASL are not secrets */
		"<iq><response>visible</response></iq>",
		"<passwords>list</passwords>",
		"<password/>",
	};
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
		expect_redacted(cases[k], cases[k]);
}

static void
stanza_redact_trace__hides__every_secret_on_a_line(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "<response xmlns=\"" SASL "\">abc</response>"
		  "<success xmlns=\"" SASL "\">xyz</success>",
		    "<response xmlns=\"" SASL "\">[redacted]</response>"
		    "<success xmlns=\"" SASL "\">[redacted]</success>" },
		{ "<x><password>one</password><password>two</password></x>",
		    "<x><password>[redacted]</password>"
		    "<password>[redacted]</password></x>" },
		{ "<auth xmlns=\"" SASL "\" mechanism=\"PLAIN\">AAA</auth>"
		  "<password>pw</password>",
		    "<auth xmlns=\"" SASL "\" mechanism=\"PLAIN\">[redacted]"
		    "</auth><password>[redacted]</password>" },
		/* a self-closing element first must not end the search */
		{ "<success xmlns=\"" SASL "\"/><iq><query xmlns=\"jabber:iq:"
		  "register\"><password>pw</password></query></iq>",
		    "<success xmlns=\"" SASL "\"/><iq><query xmlns=\"jabber:iq:"
		    "register\"><password>[redacted]</password></query></iq>" },
		{ "<auth xmlns=\"" SASL "\" mechanism=\"EXTERNAL\"/>"
		  "<response xmlns=\"" SASL "\">c2VjcmV0</response>",
		    "<auth xmlns=\"" SASL "\" mechanism=\"EXTERNAL\"/>"
		    "<response xmlns=\"" SASL "\">[redacted]</response>" },
		/* an element whose name only begins with "password" first */
		{ "<query><password-hint>h</password-hint>"
		  "<password>pw</password></query>",
		    "<query><password-hint>h</password-hint>"
		    "<password>[redacted]</password></query>" },
		{ "<password/><password>pw</password>",
		    "<password/><password>[redacted]</password>" },
	};
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
		expect_redacted(cases[k].in, cases[k].out);
}

static void
stanza_redact_trace__survives__huge_lines(void **state)
{
	/*
	 * A hostile server can send one stanza with very many secret
	 * elements; -vv must not run out of stack on its trace line.
	 */
	static const char unit[] = "<password>x</password>";
	static const char sasl[] = "<success xmlns=\"" SASL "\"/>";
	const size_t n = 200000, ul = sizeof(unit) - 1;
	const size_t sl = sizeof(sasl) - 1;
	struct buf b;
	char *line;
	size_t k;

	(void)state;
	line = xmalloc(n * ul + 1);
	for (k = 0; k < n; k++)
		memcpy(line + k * ul, unit, ul);
	line[n * ul] = '\0';
	buf_init(&b);
	stanza_redact_trace(&b, line);
	assert_int_equal(b.len, n * (ul - 1 + strlen("[redacted]")));
	assert_memory_equal(b.data, "<password>[redacted]</password>", 31);
	assert_null(strstr(b.data, ">x<"));
	buf_free(&b);
	free(line);

	line = xmalloc(n * sl + 1);
	for (k = 0; k < n; k++)
		memcpy(line + k * sl, sasl, sl);
	line[n * sl] = '\0';
	buf_init(&b);
	stanza_redact_trace(&b, line);
	assert_int_equal(b.len, n * sl);
	assert_string_equal(b.data, line);
	buf_free(&b);
	free(line);
}

/* --- stanza_stream_error_name --- */

static void
stanza_stream_error_name__names__every_type(void **state)
{
	static const struct {
		xmpp_error_type_t type;
		const char *name;
	} cases[] = {
		{ XMPP_SE_BAD_FORMAT, "bad-format" },
		{ XMPP_SE_BAD_NS_PREFIX, "bad-namespace-prefix" },
		{ XMPP_SE_CONFLICT, "conflict" },
		{ XMPP_SE_CONN_TIMEOUT, "connection-timeout" },
		{ XMPP_SE_HOST_GONE, "host-gone" },
		{ XMPP_SE_HOST_UNKNOWN, "host-unknown" },
		{ XMPP_SE_IMPROPER_ADDR, "improper-addressing" },
		{ XMPP_SE_INTERNAL_SERVER_ERROR, "internal-server-error" },
		{ XMPP_SE_INVALID_FROM, "invalid-from" },
		{ XMPP_SE_INVALID_ID, "invalid-id" },
		{ XMPP_SE_INVALID_NS, "invalid-namespace" },
		{ XMPP_SE_INVALID_XML, "invalid-xml" },
		{ XMPP_SE_NOT_AUTHORIZED, "not-authorized" },
		{ XMPP_SE_POLICY_VIOLATION, "policy-violation" },
		{ XMPP_SE_REMOTE_CONN_FAILED, "remote-connection-failed" },
		{ XMPP_SE_RESOURCE_CONSTRAINT, "resource-constraint" },
		{ XMPP_SE_RESTRICTED_XML, "restricted-xml" },
		{ XMPP_SE_SEE_OTHER_HOST, "see-other-host" },
		{ XMPP_SE_SYSTEM_SHUTDOWN, "system-shutdown" },
		{ XMPP_SE_UNDEFINED_CONDITION, "undefined-condition" },
		{ XMPP_SE_UNSUPPORTED_ENCODING, "unsupported-encoding" },
		{ XMPP_SE_UNSUPPORTED_STANZA_TYPE, "unsupported-stanza-type" },
		{ XMPP_SE_UNSUPPORTED_VERSION, "unsupported-version" },
		{ XMPP_SE_XML_NOT_WELL_FORMED, "not-well-formed" },
	};
	size_t k;

	(void)state;
	/* The table covers the whole enum of libstrophe 0.12. */
	assert_int_equal(sizeof(cases) / sizeof(cases[0]),
	    (size_t)XMPP_SE_XML_NOT_WELL_FORMED + 1);
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
		assert_string_equal(
		    stanza_stream_error_name(cases[k].type), cases[k].name);
	assert_string_equal(
	    stanza_stream_error_name(
		(xmpp_error_type_t)(XMPP_SE_XML_NOT_WELL_FORMED + 1)),
	    "undefined-condition");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    stanza_message__serializes__every_field, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    stanza_message__omits__absent_fields, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    stanza_message__sets__origin_id_equal_to_id, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    stanza_message__escapes__xml_specials, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    stanza_message__reparses__to_same_body, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    stanza_ping__builds__iq_get, setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    stanza_error_info__reads__condition_and_text, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    stanza_child_text__finds__child_by_name_and_ns, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test(stanza_redact_trace__hides__sasl_payloads),
		cmocka_unit_test(stanza_redact_trace__hides__password_elements),
		cmocka_unit_test(
		    stanza_redact_trace__keeps__lines_without_secrets),
		cmocka_unit_test(
		    stanza_redact_trace__hides__every_secret_on_a_line),
		cmocka_unit_test(stanza_redact_trace__survives__huge_lines),
		cmocka_unit_test(stanza_stream_error_name__names__every_type),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
