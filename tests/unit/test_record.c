/* SPDX-License-Identifier: MIT */
/* test_record.c -- unit tests of common/record.c (message/presence records) */

#include <sys/wait.h>

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <strophe.h>

#include "output.h"
#include "record.h"
#include "stanza.h"
#include "util.h"

#include "testutil.h"

#define STZ "urn:ietf:params:xml:ns:xmpp-stanzas"

/* 2026-11-23T22:17:41Z, the "now" of every test */
#define NOW ((time_t)1795472261)
#define NOW_S "2026-11-23T22:17:41Z"
/* 2026-11-20T08:00:00Z, the stamp of delayed stanzas */
#define THEN ((time_t)1795161600)
#define THEN_S "2026-11-20T08:00:00Z"

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

static xmpp_stanza_t *
parse(xmpp_ctx_t *ctx, const char *xml)
{
	xmpp_stanza_t *st = xmpp_stanza_new_from_string(ctx, xml);

	if (st == NULL)
		fail_msg("libstrophe could not parse %s", xml);
	return st;
}

/* The record as output 'format' prints it (allocated). */
static char *
format_record(
    enum output_format format, const char *template, const struct orecord *r)
{
	struct output o;
	struct buf b;

	output_init(&o, format, template, 0);
	buf_init(&b);
	output_format_record(&o, r, &b);
	output_free(&o);
	return b.data ? buf_steal(&b) : xstrdup("");
}

/* Compares the record printed in 'format' with 'want'. */
static void
expect_line(const char *what, enum output_format format, const char *template,
    const struct orecord *r, const char *want)
{
	static char msg[4096];
	char *got = format_record(format, template, r);

	msg[0] = '\0';
	if (strcmp(got, want) != 0)
		snprintf(
		    msg, sizeof(msg), "%s\ngot  %s\nwant %s", what, got, want);
	free(got);
	if (msg[0] != '\0')
		fail_msg("%s", msg);
}

/* The value of the field 'name', or "(absent)" when there is none. */
static const char *
field(const struct orecord *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->f[i].name, name) == 0)
			return r->f[i].value ? r->f[i].value : "(null)";
	return "(absent)";
}

/* --- rec_stamp and rec_format_time --- */

static void
rec_stamp__parses__xep0082_and_legacy_forms(void **state)
{
	static const struct {
		const char *stamp;
		time_t want;
	} cases[] = {
		{ "2026-11-23T22:17:41Z", NOW },
		{ "2026-11-23T22:17:41.123Z", NOW },
		{ "2026-11-23T22:17:41.123456789Z", NOW },
		{ "2026-11-23T22:17:41+00:00", NOW },
		{ "2026-11-23T22:17:41-00:00", NOW },
		{ "2026-11-23T23:17:41+01:00", NOW },
		{ "2026-11-23T17:17:41-05:00", NOW },
		{ "2026-11-24T03:47:41.5+05:30", NOW },
		{ "2026-11-23T12:47:41-09:30", NOW },
		/* the offset moves the day, the month, the year */
		{ "2026-11-23T00:30:00+01:00", 1795390200 },
		{ "2026-12-31T23:00:00-02:00", 1798765200 },
		/* XEP-0091, UTC without a zone */
		{ "20261123T22:17:41", NOW },
		{ "20261120T08:00:00", THEN },
		{ "1970-01-01T00:00:00Z", 0 },
		{ "19700101T00:00:00", 0 },
		{ "2000-02-29T12:00:00Z", 951825600 },
		{ "1999-12-31T23:59:59Z", 946684799 },
		{ "2038-01-19T03:14:08Z", (time_t)2147483648LL },
	};
	size_t k;
	time_t got;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		got = rec_stamp(cases[k].stamp);
		if (got != cases[k].want)
			fail_msg("rec_stamp(\"%s\") = %lld, want %lld",
			    cases[k].stamp, (long long)got,
			    (long long)cases[k].want);
	}
}

static void
rec_stamp__refuses__malformed_stamps(void **state)
{
	static const char *const bad[] = {
		"",
		"now",
		"2026-11-23",
		"2026-11-23T22:17",
		"2026-11-23T22:17:41", /* XEP-0082 needs a zone */
		"2026-11-23 22:17:41Z",
		"2026-11-23t22:17:41Z",
		"2026-11-23T22:17:41z",
		"2026-11-23T22:17:41Zjunk",
		"2026-11-23T22:17:41Z ",
		" 2026-11-23T22:17:41Z",
		"2026-11-23T22:17:41+0100",
		"2026-11-23T22:17:41+01",
		"2026-11-23T22:17:41+1:00",
		"2026-11-23T22:17:41 +01:00",
		"2026/11/23T22:17:41Z",
		"2026-1-23T22:17:41Z",
		"26-11-23T22:17:41Z",
		"+2026-11-23T22:17:41Z",
		"2026-11-23T2:17:41Z",
		"2026-11-23T22:17:4Z",
		"2026-13-01T00:00:00Z",
		"2026-00-10T00:00:00Z",
		"2026-11-00T00:00:00Z",
		"2026-11-32T00:00:00Z",
		"2026-11-23T24:00:00Z",
		"2026-11-23T22:60:00Z",
		"2026-11-23T22:17:61Z",
		"2O26-11-23T22:17:41Z",
		"20261123T221741",
		"20261123T22:17:41junk",
		"2026112322:17:41",
		"T",
	};
	size_t k;

	(void)state;
	assert_int_equal(rec_stamp(NULL), -1);
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		if (rec_stamp(bad[k]) != -1)
			fail_msg("rec_stamp(\"%s\") = %lld, want -1", bad[k],
			    (long long)rec_stamp(bad[k]));
}

static void
rec_stamp__refuses__impossible_dates_and_offsets(void **state)
{
	/* Each field is in its range but the whole is no date (or no zone):
	 * it must not be read as another day (timegm() would normalize
	 * February 30 to March 2). */
	static const char *const bad[] = {
		"2026-02-29T00:00:00Z", /* 2026 is no leap year */
		"2026-02-30T00:00:00Z",
		"2026-04-31T00:00:00Z",
		"1900-02-29T00:00:00Z",
		"20260230T00:00:00",
		"2026-11-23T22:17:41+01:60",
		"2026-11-23T22:17:41+24:00",
		"2026-11-23T22:17:41-99:99",
		/* a fraction has digits */
		"2026-11-23T22:17:41.Z",
	};
	char msg[2048];
	size_t k, n = 0;

	(void)state;
	msg[0] = '\0';
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		if (rec_stamp(bad[k]) != -1 && n < sizeof(msg) - 100)
			n += (size_t)snprintf(msg + n, sizeof(msg) - n,
			    "\nrec_stamp(\"%s\") = %lld, want -1", bad[k],
			    (long long)rec_stamp(bad[k]));
	if (n > 0)
		fail_msg("%s", msg);
}

static void
rec_format_time__formats__utc_with_z(void **state)
{
	static const struct {
		time_t t;
		const char *want;
	} cases[] = {
		{ 0, "1970-01-01T00:00:00Z" },
		{ NOW, NOW_S },
		{ THEN, THEN_S },
		{ 951825600, "2000-02-29T12:00:00Z" },
		{ (time_t)2147483648LL, "2038-01-19T03:14:08Z" },
	};
	char buf[21];
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		memset(buf, 'x', sizeof(buf));
		rec_format_time(cases[k].t, buf, sizeof(buf));
		assert_string_equal(buf, cases[k].want);
	}
}

static void
rec_format_time__round_trips__through_rec_stamp(void **state)
{
	struct prng p;
	char buf[32];
	time_t t;
	int i;

	(void)state;
	prng_seed(&p, 82);
	for (i = 0; i < 10000; i++) {
		/* up to 9999-12-31T23:59:59Z */
		t = (time_t)(((uint64_t)prng_next(&p) << 32 | prng_next(&p)) %
		    253402300800ULL);
		rec_format_time(t, buf, sizeof(buf));
		assert_int_equal(strlen(buf), 20);
		if (rec_stamp(buf) != t)
			fail_msg("%lld -> %s -> %lld", (long long)t, buf,
			    (long long)rec_stamp(buf));
	}
}

/* --- rec_time --- */

static void
rec_time__picks__delay_or_now(void **state)
{
	static const struct {
		const char *xml;
		const char *want;
		int delayed;
	} cases[] = {
		{ "<message><delay xmlns='urn:xmpp:delay' from='x' "
		  "stamp='2026-11-20T08:00:00Z'/></message>",
		    THEN_S, 1 },
		{ "<message><delay xmlns='urn:xmpp:delay' "
		  "stamp='2026-11-20T09:30:00.250+01:30'/></message>",
		    THEN_S, 1 },
		/* legacy XEP-0091 */
		{ "<presence><x xmlns='jabber:x:delay' "
		  "stamp='20261120T08:00:00'/></presence>",
		    THEN_S, 1 },
		/* XEP-0203 wins over the legacy one */
		{ "<message><x xmlns='jabber:x:delay' "
		  "stamp='20200101T00:00:00'/>"
		  "<delay xmlns='urn:xmpp:delay' stamp='2026-11-20T08:00:00Z'/>"
		  "</message>",
		    THEN_S, 1 },
		/* none: now */
		{ "<message><body>x</body></message>", NOW_S, 0 },
		/* a bad stamp, none, another namespace, not a child: now */
		{ "<message><delay xmlns='urn:xmpp:delay' stamp='yesterday'/>"
		  "</message>",
		    NOW_S, 0 },
		{ "<message><delay xmlns='urn:xmpp:delay'/></message>", NOW_S,
		    0 },
		{ "<message><delay xmlns='urn:example:delay' "
		  "stamp='2026-11-20T08:00:00Z'/></message>",
		    NOW_S, 0 },
		{ "<message><delay stamp='2026-11-20T08:00:00Z'/></message>",
		    NOW_S, 0 },
		{ "<message><x xmlns='jabber:x:oob' "
		  "stamp='20261120T08:00:00'/></message>",
		    NOW_S, 0 },
		{ "<message><body><delay xmlns='urn:xmpp:delay' "
		  "stamp='2026-11-20T08:00:00Z'/></body></message>",
		    NOW_S, 0 },
	};
	xmpp_stanza_t *st;
	char *t;
	size_t k;
	int delayed;

	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		st = parse(*state, cases[k].xml);
		delayed = -1;
		t = rec_time(st, NOW, &delayed);
		if (strcmp(t, cases[k].want) != 0 ||
		    delayed != cases[k].delayed)
			fail_msg("%s\ngot  %s delayed %d\nwant %s delayed %d",
			    cases[k].xml, t, delayed, cases[k].want,
			    cases[k].delayed);
		free(t);
		xmpp_stanza_release(st);
	}
}

/* --- rec_carbon --- */

#define CARBON(from, dir, ns)                                                  \
	"<message from='" from "' to='alice@example.com/laptop'>"              \
	"<" dir " xmlns='" ns "'><forwarded xmlns='urn:xmpp:forward:0'>"       \
	"<message from='bob@example.com/phone' to='alice@example.com' "        \
	"type='chat'><body>inner</body></message>"                             \
	"</forwarded></" dir "></message>"

static void
rec_carbon__unwraps__carbons_from_own_bare_jid(void **state)
{
	static const struct {
		const char *xml;
		const char *dir;
	} cases[] = {
		{ CARBON("alice@example.com", "received", "urn:xmpp:carbons:2"),
		    "received" },
		{ CARBON("alice@example.com", "sent", "urn:xmpp:carbons:2"),
		    "sent" },
		/* a bare JID compares without regard to ASCII case */
		{ CARBON("Alice@EXAMPLE.com", "received", "urn:xmpp:carbons:2"),
		    "received" },
	};
	xmpp_stanza_t *st, *inner;
	const char *dir;
	char *body;
	size_t k;

	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		st = parse(*state, cases[k].xml);
		dir = NULL;
		inner = rec_carbon(st, "alice@example.com", &dir);
		if (inner == NULL)
			fail_msg("no inner message: %s", cases[k].xml);
		assert_string_equal(dir, cases[k].dir);
		assert_string_equal(xmpp_stanza_get_name(inner), "message");
		assert_string_equal(
		    xmpp_stanza_get_from(inner), "bob@example.com/phone");
		body = xmpp_message_get_body(inner);
		assert_string_equal(body, "inner");
		xmpp_free(*state, body);
		xmpp_stanza_release(st);
	}
}

static void
rec_carbon__refuses__forgeries_and_non_carbons(void **state)
{
	static const char *const cases[] = {
		/* another account, another server */
		CARBON("mallory@example.com", "received", "urn:xmpp:carbons:2"),
		CARBON("mallory@evil.example", "sent", "urn:xmpp:carbons:2"),
		CARBON("example.com", "received", "urn:xmpp:carbons:2"),
		CARBON(
		    "alice@example.com.evil", "received", "urn:xmpp:carbons:2"),
		CARBON("alice@example.co", "received", "urn:xmpp:carbons:2"),
		/* a full JID, even our own: only the server speaks */
		CARBON("alice@example.com/laptop", "received",
		    "urn:xmpp:carbons:2"),
		CARBON("alice@example.com/", "sent", "urn:xmpp:carbons:2"),
		/* no sender at all */
		"<message><received xmlns='urn:xmpp:carbons:2'>"
		"<forwarded xmlns='urn:xmpp:forward:0'><message><body>x</body>"
		"</message></forwarded></received></message>",
		/* other namespaces, other names */
		CARBON("alice@example.com", "received", "urn:xmpp:carbons:1"),
		CARBON("alice@example.com", "private", "urn:xmpp:carbons:2"),
		/* nothing forwarded, or no message in it */
		"<message from='alice@example.com'>"
		"<received xmlns='urn:xmpp:carbons:2'/></message>",
		"<message from='alice@example.com'>"
		"<received xmlns='urn:xmpp:carbons:2'>"
		"<forwarded xmlns='urn:example:x'><message/></forwarded>"
		"</received></message>",
		"<message from='alice@example.com'>"
		"<sent xmlns='urn:xmpp:carbons:2'>"
		"<forwarded xmlns='urn:xmpp:forward:0'><presence/></forwarded>"
		"</sent></message>",
		/* a plain message */
		"<message from='alice@example.com' type='chat'><body>x</body>"
		"</message>",
	};
	xmpp_stanza_t *st;
	const char *dir;
	size_t k;

	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		st = parse(*state, cases[k]);
		dir = NULL;
		if (rec_carbon(st, "alice@example.com", &dir) != NULL)
			fail_msg("accepted: %s", cases[k]);
		xmpp_stanza_release(st);
	}
}

/* --- rec_message --- */

static void
rec_message__formats__text_and_json(void **state)
{
	static const struct {
		const char *xml;
		const char *carbon;
		const char *text;
		const char *json;
	} cases[] = {
		/* chat, every common field */
		{ "<message from='bob@example.com/phone' "
		  "to='alice@example.com/x' type='chat' id='m1'>"
		  "<body>hi there</body><thread>t1</thread></message>",
		    NULL, NOW_S "\tchat\tbob@example.com/phone\thi there\n",
		    "{\"kind\":\"message\",\"time\":\"" NOW_S "\","
		    "\"delayed\":false,\"type\":\"chat\","
		    "\"from\":\"bob@example.com/phone\","
		    "\"to\":\"alice@example.com/x\",\"id\":\"m1\","
		    "\"body\":\"hi there\",\"subject\":null,\"thread\":\"t1\","
		    "\"room\":null,\"nick\":null,\"url\":null,\"carbon\":null,"
		    "\"error_condition\":null,\"error_text\":null}\n" },
		/* no type: normal; the subject is a fifth column */
		{ "<message from='bob@example.com'><subject>Re: x</subject>"
		  "<body>b</body></message>",
		    NULL, NOW_S "\tnormal\tbob@example.com\tb\tRe: x\n",
		    "{\"kind\":\"message\",\"time\":\"" NOW_S "\","
		    "\"delayed\":false,\"type\":\"normal\","
		    "\"from\":\"bob@example.com\",\"to\":null,\"id\":null,"
		    "\"body\":\"b\",\"subject\":\"Re: x\",\"thread\":null,"
		    "\"room\":null,\"nick\":null,\"url\":null,\"carbon\":null,"
		    "\"error_condition\":null,\"error_text\":null}\n" },
		/* an empty type is none */
		{ "<message type='' from='bob@example.com'><body>b</body>"
		  "</message>",
		    NULL, NOW_S "\tnormal\tbob@example.com\tb\n", NULL },
		{ "<message type='normal' from='bob@example.com'><body>b</body>"
		  "</message>",
		    NULL, NOW_S "\tnormal\tbob@example.com\tb\n", NULL },
		/* headline without body, with an OOB url */
		{ "<message from='news.example.com' type='headline'>"
		  "<x xmlns='jabber:x:oob'>"
		  "<url>https://example.com/a?b=1&amp;c=2</url></x></message>",
		    NULL, NOW_S "\theadline\tnews.example.com\t\n",
		    "{\"kind\":\"message\",\"time\":\"" NOW_S "\","
		    "\"delayed\":false,\"type\":\"headline\","
		    "\"from\":\"news.example.com\",\"to\":null,\"id\":null,"
		    "\"body\":null,\"subject\":null,\"thread\":null,"
		    "\"room\":null,\"nick\":null,"
		    "\"url\":\"https://example.com/a?b=1&c=2\",\"carbon\":null,"
		    "\"error_condition\":null,\"error_text\":null}\n" },
		/* an url outside jabber:x:oob is none */
		{ "<message from='a@b'><x xmlns='urn:example'>"
		  "<url>https://example.com/</url></x><body>u</body></message>",
		    NULL, NOW_S "\tnormal\ta@b\tu\n",
		    "{\"kind\":\"message\",\"time\":\"" NOW_S "\","
		    "\"delayed\":false,\"type\":\"normal\",\"from\":\"a@b\","
		    "\"to\":null,\"id\":null,\"body\":\"u\",\"subject\":null,"
		    "\"thread\":null,\"room\":null,\"nick\":null,\"url\":null,"
		    "\"carbon\":null,\"error_condition\":null,"
		    "\"error_text\":null}\n" },
		/* groupchat, delayed (history): room and nick */
		{ "<message from='room@conf.example.com/Nick Name/2' "
		  "type='groupchat' id='g1'><body>hello</body>"
		  "<delay xmlns='urn:xmpp:delay' from='room@conf.example.com' "
		  "stamp='" THEN_S "'/></message>",
		    NULL,
		    THEN_S "\tgroupchat\troom@conf.example.com/Nick Name/2\t"
			   "hello\n",
		    "{\"kind\":\"message\",\"time\":\"" THEN_S "\","
		    "\"delayed\":true,\"type\":\"groupchat\","
		    "\"from\":\"room@conf.example.com/Nick Name/2\","
		    "\"to\":null,\"id\":\"g1\",\"body\":\"hello\","
		    "\"subject\":null,\"thread\":null,"
		    "\"room\":\"room@conf.example.com\","
		    "\"nick\":\"Nick Name/2\",\"url\":null,\"carbon\":null,"
		    "\"error_condition\":null,\"error_text\":null}\n" },
		/* a resource outside groupchat is no nick */
		{ "<message from='room@conf.example.com/Nick' type='chat'>"
		  "<body>pm</body></message>",
		    NULL, NOW_S "\tchat\troom@conf.example.com/Nick\tpm\n",
		    "{\"kind\":\"message\",\"time\":\"" NOW_S "\","
		    "\"delayed\":false,\"type\":\"chat\","
		    "\"from\":\"room@conf.example.com/Nick\",\"to\":null,"
		    "\"id\":null,\"body\":\"pm\",\"subject\":null,"
		    "\"thread\":null,\"room\":null,\"nick\":null,\"url\":null,"
		    "\"carbon\":null,\"error_condition\":null,"
		    "\"error_text\":null}\n" },
		/* an error: condition and text */
		{ "<message type='error' from='nobody@example.com' id='e1'>"
		  "<body>orig</body><error type='cancel'>"
		  "<service-unavailable xmlns='" STZ "'/>"
		  "<text xmlns='" STZ "'>Gone &amp; away</text></error>"
		  "</message>",
		    NULL, NOW_S "\terror\tnobody@example.com\torig\n",
		    "{\"kind\":\"message\",\"time\":\"" NOW_S "\","
		    "\"delayed\":false,\"type\":\"error\","
		    "\"from\":\"nobody@example.com\",\"to\":null,\"id\":\"e1\","
		    "\"body\":\"orig\",\"subject\":null,\"thread\":null,"
		    "\"room\":null,\"nick\":null,\"url\":null,\"carbon\":null,"
		    "\"error_condition\":\"service-unavailable\","
		    "\"error_text\":\"Gone & away\"}\n" },
		/* an error without details */
		{ "<message type='error' from='x@y'/>", NULL,
		    NOW_S "\terror\tx@y\t\n",
		    "{\"kind\":\"message\",\"time\":\"" NOW_S "\","
		    "\"delayed\":false,\"type\":\"error\",\"from\":\"x@y\","
		    "\"to\":null,\"id\":null,\"body\":null,\"subject\":null,"
		    "\"thread\":null,\"room\":null,\"nick\":null,\"url\":null,"
		    "\"carbon\":null,"
		    "\"error_condition\":\"undefined-condition\","
		    "\"error_text\":null}\n" },
		/* an <error/> in a message that is no error is ignored */
		{ "<message type='chat' from='x@y'><body>b</body>"
		  "<error type='cancel'><gone xmlns='" STZ "'/></error>"
		  "</message>",
		    NULL, NOW_S "\tchat\tx@y\tb\n",
		    "{\"kind\":\"message\",\"time\":\"" NOW_S "\","
		    "\"delayed\":false,\"type\":\"chat\",\"from\":\"x@y\","
		    "\"to\":null,\"id\":null,\"body\":\"b\",\"subject\":null,"
		    "\"thread\":null,\"room\":null,\"nick\":null,\"url\":null,"
		    "\"carbon\":null,\"error_condition\":null,"
		    "\"error_text\":null}\n" },
		/* a carbon: the direction */
		{ "<message from='bob@example.com/phone' type='chat'>"
		  "<body>c</body></message>",
		    "sent", NOW_S "\tchat\tbob@example.com/phone\tc\n",
		    "{\"kind\":\"message\",\"time\":\"" NOW_S "\","
		    "\"delayed\":false,\"type\":\"chat\","
		    "\"from\":\"bob@example.com/phone\",\"to\":null,"
		    "\"id\":null,\"body\":\"c\",\"subject\":null,"
		    "\"thread\":null,\"room\":null,\"nick\":null,\"url\":null,"
		    "\"carbon\":\"sent\",\"error_condition\":null,"
		    "\"error_text\":null}\n" },
		/* texts that could break the line are escaped */
		{ "<message from='a@b' type='chat'>"
		  "<body>one\ttwo\nthree\\ \xe2\x80\xae\"q\"</body>"
		  "<subject>s&#10;t</subject></message>",
		    NULL,
		    NOW_S "\tchat\ta@b\tone\\ttwo\\nthree\\\\ \\u202e\"q\"\t"
			  "s\\nt\n",
		    "{\"kind\":\"message\",\"time\":\"" NOW_S "\","
		    "\"delayed\":false,\"type\":\"chat\",\"from\":\"a@b\","
		    "\"to\":null,\"id\":null,"
		    "\"body\":\"one\\ttwo\\nthree\\\\ \\u202e\\\"q\\\"\","
		    "\"subject\":\"s\\nt\",\"thread\":null,\"room\":null,"
		    "\"nick\":null,\"url\":null,\"carbon\":null,"
		    "\"error_condition\":null,\"error_text\":null}\n" },
	};
	struct rec_strings k = { { 0 }, 0 };
	struct orecord r;
	xmpp_stanza_t *st;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		st = parse(*state, cases[i].xml);
		rec_message(&r, &k, st, NOW, cases[i].carbon);
		assert_string_equal(r.kind, "message");
		assert_ptr_equal(r.stanza, st);
		expect_line(cases[i].xml, OUT_TEXT, NULL, &r, cases[i].text);
		if (cases[i].json) {
			expect_line(
			    cases[i].xml, OUT_JSON, NULL, &r, cases[i].json);
			{
				char *j = format_record(OUT_JSON, NULL, &r);

				assert_true(tu_json_valid(j, strlen(j)));
				free(j);
			}
		}
		rec_strings_free(&k);
		xmpp_stanza_release(st);
	}
}

static void
rec_message__fills__template_keys(void **state)
{
	struct rec_strings k = { { 0 }, 0 };
	struct orecord r;
	xmpp_stanza_t *st;
	char *err = NULL;

	assert_int_equal(output_check_template("%T %y %f %t %i %b %s %h %r %u",
			     REC_MESSAGE_KEYS, &err),
	    0);
	st = parse(*state,
	    "<message from='room@conf.example.com/nick' to='me@example.com' "
	    "type='groupchat' id='i9'><subject>topic</subject><body>b</body>"
	    "<thread>th</thread><x xmlns='jabber:x:oob'><url>u://x</url></x>"
	    "</message>");
	rec_message(&r, &k, st, NOW, NULL);
	expect_line("template", OUT_TEMPLATE, "%T|%y|%f|%t|%i|%b|%s|%h|%r|%u",
	    &r,
	    NOW_S "|groupchat|room@conf.example.com/nick|me@example.com|i9|"
		  "b|topic|th|nick|u://x\n");
	assert_string_equal(field(&r, "room"), "room@conf.example.com");
	rec_strings_free(&k);
	xmpp_stanza_release(st);
}

/* --- rec_presence --- */

#define PJSON(from, state, show, status, prio, cond)                           \
	"{\"kind\":\"presence\",\"time\":\"" NOW_S "\",\"delayed\":false,"     \
	"\"from\":\"" from "\",\"to\":null,\"state\":\"" state "\","           \
	"\"show\":" show ",\"status\":" status ",\"priority\":" prio ","       \
	"\"error_condition\":" cond "}\n"

static void
rec_presence__formats__every_state(void **state)
{
	static const struct {
		const char *xml;
		const char *text;
		const char *json;
	} cases[] = {
		{ "<presence from='bob@example.com/phone'/>",
		    NOW_S "\tpresence\tbob@example.com/phone\tavailable\t\n",
		    PJSON("bob@example.com/phone", "available", "null", "null",
			"null", "null") },
		{ "<presence from='b@x/r'><show>away</show>"
		  "<status>Out\tfor lunch</status><priority>5</priority>"
		  "</presence>",
		    NOW_S "\tpresence\tb@x/r\taway\tOut\\tfor lunch\n",
		    PJSON("b@x/r", "away", "\"away\"", "\"Out\\tfor lunch\"",
			"5", "null") },
		{ "<presence from='b@x/r'><show>chat</show></presence>",
		    NOW_S "\tpresence\tb@x/r\tchat\t\n",
		    PJSON(
			"b@x/r", "chat", "\"chat\"", "null", "null", "null") },
		{ "<presence from='b@x/r'><show>dnd</show>"
		  "<priority>-1</priority></presence>",
		    NOW_S "\tpresence\tb@x/r\tdnd\t\n",
		    PJSON("b@x/r", "dnd", "\"dnd\"", "null", "-1", "null") },
		{ "<presence from='b@x/r'><show>xa</show>"
		  "<priority>0</priority></presence>",
		    NOW_S "\tpresence\tb@x/r\txa\t\n",
		    PJSON("b@x/r", "xa", "\"xa\"", "null", "0", "null") },
		/* an unknown show is available (the show says what came) */
		{ "<presence from='b@x/r'><show>bogus</show></presence>",
		    NOW_S "\tpresence\tb@x/r\tavailable\t\n",
		    PJSON("b@x/r", "available", "\"bogus\"", "null", "null",
			"null") },
		{ "<presence from='b@x/r'><show>AWAY</show></presence>",
		    NOW_S "\tpresence\tb@x/r\tavailable\t\n",
		    PJSON("b@x/r", "available", "\"AWAY\"", "null", "null",
			"null") },
		/* a priority that is no JSON number stays a string */
		{ "<presence from='b@x/r'><priority>007</priority></presence>",
		    NOW_S "\tpresence\tb@x/r\tavailable\t\n",
		    PJSON("b@x/r", "available", "null", "null", "\"007\"",
			"null") },
		{ "<presence from='b@x/r'><priority>high</priority>"
		  "</presence>",
		    NOW_S "\tpresence\tb@x/r\tavailable\t\n",
		    PJSON("b@x/r", "available", "null", "null", "\"high\"",
			"null") },
		/* the type wins over the show */
		{ "<presence from='b@x/r' type='unavailable'><show>away</show>"
		  "<status>bye</status></presence>",
		    NOW_S "\tpresence\tb@x/r\tunavailable\tbye\n",
		    PJSON("b@x/r", "unavailable", "\"away\"", "\"bye\"", "null",
			"null") },
		{ "<presence from='b@x' type='subscribe'/>",
		    NOW_S "\tpresence\tb@x\tsubscribe\t\n",
		    PJSON("b@x", "subscribe", "null", "null", "null", "null") },
		{ "<presence from='b@x' type='subscribed'/>",
		    NOW_S "\tpresence\tb@x\tsubscribed\t\n",
		    PJSON(
			"b@x", "subscribed", "null", "null", "null", "null") },
		{ "<presence from='b@x' type='unsubscribe'/>",
		    NOW_S "\tpresence\tb@x\tunsubscribe\t\n",
		    PJSON(
			"b@x", "unsubscribe", "null", "null", "null", "null") },
		{ "<presence from='b@x' type='unsubscribed'/>",
		    NOW_S "\tpresence\tb@x\tunsubscribed\t\n",
		    PJSON("b@x", "unsubscribed", "null", "null", "null",
			"null") },
		{ "<presence from='b@x' type='error'><error type='cancel'>"
		  "<remote-server-not-found xmlns='" STZ "'/>"
		  "<text xmlns='" STZ "'>no</text></error></presence>",
		    NOW_S "\tpresence\tb@x\terror\t\n",
		    PJSON("b@x", "error", "null", "null", "null",
			"\"remote-server-not-found\"") },
		/* an empty type is none */
		{ "<presence from='b@x/r' type=''><show>dnd</show></presence>",
		    NOW_S "\tpresence\tb@x/r\tdnd\t\n",
		    PJSON("b@x/r", "dnd", "\"dnd\"", "null", "null", "null") },
	};
	struct rec_strings k = { { 0 }, 0 };
	struct orecord r;
	xmpp_stanza_t *st;
	char *j;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		st = parse(*state, cases[i].xml);
		rec_presence(&r, &k, st, NOW);
		assert_string_equal(r.kind, "presence");
		expect_line(cases[i].xml, OUT_TEXT, NULL, &r, cases[i].text);
		expect_line(cases[i].xml, OUT_JSON, NULL, &r, cases[i].json);
		j = format_record(OUT_JSON, NULL, &r);
		assert_true(tu_json_valid(j, strlen(j)));
		free(j);
		rec_strings_free(&k);
		xmpp_stanza_release(st);
	}
}

static void
rec_presence__takes__delay_time_and_template_keys(void **state)
{
	struct rec_strings k = { { 0 }, 0 };
	struct orecord r;
	xmpp_stanza_t *st;
	char *err = NULL;

	assert_int_equal(
	    output_check_template("%T %f %t %S %m %p", REC_PRESENCE_KEYS, &err),
	    0);
	st = parse(*state,
	    "<presence from='b@x/r' to='me@x'><show>away</show>"
	    "<status>st</status><priority>3</priority>"
	    "<x xmlns='jabber:x:delay' stamp='20261120T08:00:00'/></presence>");
	rec_presence(&r, &k, st, NOW);
	expect_line(
	    "text", OUT_TEXT, NULL, &r, THEN_S "\tpresence\tb@x/r\taway\tst\n");
	expect_line("json", OUT_JSON, NULL, &r,
	    "{\"kind\":\"presence\",\"time\":\"" THEN_S "\",\"delayed\":true,"
	    "\"from\":\"b@x/r\",\"to\":\"me@x\",\"state\":\"away\","
	    "\"show\":\"away\",\"status\":\"st\",\"priority\":3,"
	    "\"error_condition\":null}\n");
	expect_line("template", OUT_TEMPLATE, "%T|%f|%t|%S|%m|%p", &r,
	    THEN_S "|b@x/r|me@x|away|st|3\n");
	rec_strings_free(&k);
	xmpp_stanza_release(st);
}

/* --- rec_presence_contact, rec_presence_absent --- */

static void
rec_presence_contact__prints__from_state_status_only(void **state)
{
	struct rec_strings k = { { 0 }, 0 };
	struct orecord r;
	xmpp_stanza_t *st;

	st = parse(*state,
	    "<presence from='b@x/r' to='me@x'><show>dnd</show>"
	    "<status>busy</status><priority>2</priority></presence>");
	rec_presence_contact(&r, &k, st, NOW);
	expect_line("text", OUT_TEXT, NULL, &r, "b@x/r\tdnd\tbusy\n");
	/* JSON and the template keys are those of rec_presence(). */
	expect_line("json", OUT_JSON, NULL, &r,
	    "{\"kind\":\"presence\",\"time\":\"" NOW_S "\",\"delayed\":false,"
	    "\"from\":\"b@x/r\",\"to\":\"me@x\",\"state\":\"dnd\","
	    "\"show\":\"dnd\",\"status\":\"busy\",\"priority\":2,"
	    "\"error_condition\":null}\n");
	expect_line("template", OUT_TEMPLATE, "%T|%f|%t|%S|%m|%p", &r,
	    NOW_S "|b@x/r|me@x|dnd|busy|2\n");
	rec_strings_free(&k);
	xmpp_stanza_release(st);
}

static void
rec_presence_absent__says__unavailable_now(void **state)
{
	struct rec_strings k = { { 0 }, 0 };
	struct orecord r;

	(void)state;
	rec_presence_absent(&r, &k, "carol@x", "me@x/xt", NOW);
	assert_null(r.stanza);
	expect_line("text", OUT_TEXT, NULL, &r, "carol@x\tunavailable\t\n");
	expect_line("json", OUT_JSON, NULL, &r,
	    "{\"kind\":\"presence\",\"time\":\"" NOW_S "\",\"delayed\":false,"
	    "\"from\":\"carol@x\",\"to\":\"me@x/xt\","
	    "\"state\":\"unavailable\",\"show\":null,\"status\":null,"
	    "\"priority\":null,\"error_condition\":null}\n");
	expect_line("template", OUT_TEMPLATE, "%T|%f|%t|%S|%m|%p", &r,
	    NOW_S "|carol@x|me@x/xt|unavailable||\n");
	rec_strings_free(&k);
}

/* --- rec_keep, rec_add: a full container is a bug, not a silent loss --- */

/*
 * Runs fn(arg) in a child process and returns how it ended: the signal
 * that ended it, or 0 when it returned.  Its stderr goes to 'err' (up to
 * len - 1 bytes, NUL-terminated).
 */
static int
in_child(void (*fn)(void *), void *arg, char *err, size_t len)
{
	int fds[2], status;
	ssize_t n;
	size_t got = 0;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], 2);
		signal(SIGABRT, SIG_DFL);
		fn(arg);
		_exit(0);
	}
	close(fds[1]);
	while (
	    got + 1 < len && (n = read(fds[0], err + got, len - 1 - got)) > 0)
		got += (size_t)n;
	err[got] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

static void
keep_many(void *arg)
{
	struct rec_strings k = { { 0 }, 0 };
	size_t i, n = *(size_t *)arg;

	for (i = 0; i < n; i++)
		rec_keep(&k, xasprintf("s%zu", i));
	rec_strings_free(&k);
}

static void
add_many(void *arg)
{
	struct orecord r;
	size_t i, n = *(size_t *)arg;

	orecord_init(&r, "test", NULL);
	for (i = 0; i < n; i++)
		rec_add(&r, 0, "f", "v", 0);
}

static void
rec_keep__keeps__up_to_its_capacity(void **state)
{
	struct rec_strings k = { { 0 }, 0 };
	const size_t cap = sizeof(k.s) / sizeof(k.s[0]);
	size_t i;
	char *p;

	(void)state;
	assert_null(rec_keep(&k, NULL));
	assert_int_equal(k.n, 0);
	for (i = 0; i < cap; i++) {
		p = xasprintf("s%zu", i);
		assert_ptr_equal(rec_keep(&k, p), p);
	}
	assert_int_equal(k.n, cap);
	/* NULL costs no room, even when full. */
	assert_null(rec_keep(&k, NULL));
	rec_strings_free(&k);
	assert_int_equal(k.n, 0);
	/* Usable again after being emptied. */
	assert_non_null(rec_keep(&k, xstrdup("again")));
	rec_strings_free(&k);
}

static void
rec_keep__aborts__when_full(void **state)
{
	struct rec_strings k;
	size_t n = sizeof(k.s) / sizeof(k.s[0]);
	char err[256];

	(void)state;
	assert_int_equal(in_child(keep_many, &n, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	n++;
	assert_int_equal(in_child(keep_many, &n, err, sizeof(err)), SIGABRT);
	if (strstr(err, "internal error: more than 24 strings") == NULL)
		fail_msg("stderr: %s", err);
}

static void
rec_add__aborts__when_the_record_is_full(void **state)
{
	size_t n = OUT_MAX_FIELDS;
	char err[256];
	struct orecord r;

	(void)state;
	orecord_init(&r, "test", NULL);
	rec_add(&r, 'x', "one", "1", OF_TEXT);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.f[0].key, 'x');
	assert_string_equal(r.f[0].name, "one");
	assert_string_equal(r.f[0].value, "1");
	assert_int_equal(r.f[0].flags, OF_TEXT);
	assert_int_equal(in_child(add_many, &n, err, sizeof(err)), 0);
	n++;
	assert_int_equal(in_child(add_many, &n, err, sizeof(err)), SIGABRT);
	if (strstr(err, "internal error: more than 24 fields") == NULL)
		fail_msg("stderr: %s", err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rec_stamp__parses__xep0082_and_legacy_forms),
		cmocka_unit_test(rec_stamp__refuses__malformed_stamps),
		cmocka_unit_test(
		    rec_stamp__refuses__impossible_dates_and_offsets),
		cmocka_unit_test(rec_format_time__formats__utc_with_z),
		cmocka_unit_test(
		    rec_format_time__round_trips__through_rec_stamp),
		cmocka_unit_test_setup_teardown(
		    rec_time__picks__delay_or_now, setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    rec_carbon__unwraps__carbons_from_own_bare_jid, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    rec_carbon__refuses__forgeries_and_non_carbons, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    rec_message__formats__text_and_json, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    rec_message__fills__template_keys, setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    rec_presence__formats__every_state, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    rec_presence__takes__delay_time_and_template_keys,
		    setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    rec_presence_contact__prints__from_state_status_only,
		    setup_ctx, teardown_ctx),
		cmocka_unit_test(rec_presence_absent__says__unavailable_now),
		cmocka_unit_test(rec_keep__keeps__up_to_its_capacity),
		cmocka_unit_test(rec_keep__aborts__when_full),
		cmocka_unit_test(rec_add__aborts__when_the_record_is_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
