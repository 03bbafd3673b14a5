/* SPDX-License-Identifier: MIT */
/* test_xmlguard.c -- unit tests of common/xmlguard.c (the parser guard) */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <expat.h>

#include "util.h"
#include "xmlguard.h"

/* What a parser user in libstrophe's place sees. */
struct seen {
	int starts, ends, texts;
	struct buf text;
	int depth, max_depth;
};

static void XMLCALL
on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct seen *s = ud;

	(void)name, (void)attrs;
	s->starts++;
	if (++s->depth > s->max_depth)
		s->max_depth = s->depth;
}

static void XMLCALL
on_end(void *ud, const XML_Char *name)
{
	struct seen *s = ud;

	(void)name;
	s->ends++;
	s->depth--;
}

static void XMLCALL
on_text(void *ud, const XML_Char *t, int len)
{
	struct seen *s = ud;

	s->texts++;
	buf_add(&s->text, t, (size_t)len);
}

static struct {
	int elements[4];
	char last[3][64];
	int violations;
	enum xmlguard_violation last_violation;
} obs;

static void
observe(void *ud, const struct xmlguard_element *el)
{
	(void)ud;
	obs.elements[el->depth]++;
	snprintf(obs.last[el->depth - 1], sizeof(obs.last[0]), "%s|%s", el->ns,
	    el->name);
}

static void
violated(void *ud, enum xmlguard_violation v)
{
	(void)ud;
	obs.violations++;
	obs.last_violation = v;
}

/* A parser made the way libstrophe 0.12 makes it. */
static XML_Parser
strophe_parser(struct seen *s)
{
	static const XML_Char sep[] = { '\x1F', '\0' };
	XML_Parser p = XML_ParserCreate_MM(NULL, NULL, sep);

	assert_non_null(p);
	memset(s, 0, sizeof(*s));
	buf_init(&s->text);
	XML_SetUserData(p, s);
	XML_SetElementHandler(p, on_start, on_end);
	XML_SetCharacterDataHandler(p, on_text);
	return p;
}

#define HEADER                                                                 \
	"<?xml version='1.0'?><stream:stream "                                 \
	"xmlns:stream='http://etherx.jabber.org/streams' "                     \
	"xmlns='jabber:client'>"

static int
feed(XML_Parser p, const char *s)
{
	return XML_Parse(p, s, (int)strlen(s), 0);
}

static int
setup(void **state)
{
	(void)state;
	memset(&obs, 0, sizeof(obs));
	xmlguard_set_limits(0, 0);
	xmlguard_set_callbacks(observe, violated, NULL);
	return 0;
}

static void
done(XML_Parser p, struct seen *s)
{
	XML_ParserFree(p);
	buf_free(&s->text);
}

static void
test_plain_stream(void **state)
{
	struct seen s;
	XML_Parser p = strophe_parser(&s);

	(void)state;
	xmlguard_reset_seen();
	assert_int_equal(feed(p, HEADER), XML_STATUS_OK);
	assert_int_equal(feed(p,
			     "<message to='a@b'><body>a &amp; b &lt;"
			     "</body></message>  "),
	    XML_STATUS_OK);
	assert_int_equal(xmlguard_violation(), XG_NONE);
	assert_int_equal(s.starts, 3);
	assert_int_equal(s.ends, 2);
	/* the body's text in one piece, not one per entity */
	assert_int_equal(s.texts, 1);
	assert_string_equal(s.text.data, "a & b <");
	assert_int_equal(obs.elements[1], 1);
	assert_int_equal(obs.elements[2], 1);
	assert_int_equal(obs.elements[3], 1);
	assert_string_equal(
	    obs.last[0], "http://etherx.jabber.org/streams|stream");
	assert_string_equal(obs.last[1], "jabber:client|message");
	assert_string_equal(obs.last[2], "jabber:client|body");
	assert_int_equal(xmlguard_pending_since(), 0);
	done(p, &s);
}

static void
check_refused(const char *doc, enum xmlguard_violation want)
{
	struct seen s;
	XML_Parser p = strophe_parser(&s);

	memset(&obs, 0, sizeof(obs));
	/* libstrophe is told that all is well, and gets nothing more */
	assert_int_equal(feed(p, doc), XML_STATUS_OK);
	assert_int_equal(xmlguard_violation(), want);
	assert_int_equal(obs.violations, 1);
	assert_int_equal(obs.last_violation, want);
	if (want == XG_MALFORMED)
		assert_true(strlen(xmlguard_malformed_reason()) > 0);
	assert_null(s.text.data ? strstr(s.text.data, "INJECTED") : NULL);
	assert_int_equal(
	    feed(p, "<message><body>more</body></message>"), XML_STATUS_OK);
	assert_int_equal(obs.violations, 1);
	assert_null(s.text.data ? strstr(s.text.data, "more") : NULL);
	done(p, &s);
}

static void
test_restricted(void **state)
{
	(void)state;
	check_refused("<?xml version='1.0'?><!DOCTYPE stream:stream ["
		      "<!ENTITY x 'INJECTED'>]>" HEADER
		      "<message><body>&x;</body></message>",
	    XG_DTD);
	check_refused(HEADER "<?evil data?>", XG_PI);
	check_refused(HEADER "<message><?pi x?></message>", XG_PI);
	check_refused(HEADER "<!-- a comment -->", XG_COMMENT);
	check_refused(
	    HEADER "<message><body>\xff\xfe</body></message>", XG_MALFORMED);
	assert_string_equal(xmlguard_condition(XG_DTD), "restricted-xml");
	assert_string_equal(xmlguard_condition(XG_SIZE), "policy-violation");
}

/* Billion laughs: refused at the DOCTYPE, before any expansion. */
static void
test_billion_laughs(void **state)
{
	struct buf doc;
	int i;

	(void)state;
	buf_init(&doc);
	buf_adds(
	    &doc, "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY l0 'lol'>");
	for (i = 1; i < 10; i++)
		buf_printf(&doc,
		    "<!ENTITY l%d '&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;"
		    "&l%d;&l%d;'>",
		    i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
		    i - 1, i - 1);
	buf_adds(&doc, "]>" HEADER "<message><body>&l9;</body></message>");
	check_refused(doc.data, XG_DTD);
	buf_free(&doc);
}

/* The stream restarts (after TLS and SASL): the rules hold again. */
static void
test_reset(void **state)
{
	struct seen s;
	XML_Parser p = strophe_parser(&s);

	(void)state;
	assert_int_equal(feed(p, HEADER "<success/>"), XML_STATUS_OK);
	assert_true(XML_ParserReset(p, NULL));
	XML_SetUserData(p, &s);
	XML_SetElementHandler(p, on_start, on_end);
	XML_SetCharacterDataHandler(p, on_text);
	assert_int_equal(xmlguard_violation(), XG_NONE);
	feed(p, "<!DOCTYPE x [<!ENTITY a 'b'>]>");
	assert_int_equal(xmlguard_violation(), XG_DTD);
	done(p, &s);
}

static void
test_size(void **state)
{
	struct seen s;
	XML_Parser p = strophe_parser(&s);
	char chunk[101];
	int i;

	(void)state;
	xmlguard_set_limits(1000, 0);
	feed(p, HEADER);
	/* many small stanzas: far more than the limit in all */
	for (i = 0; i < 100; i++)
		feed(p,
		    "<message><body>0123456789012345678901234567890123"
		    "456789</body></message>\n");
	assert_int_equal(xmlguard_violation(), XG_NONE);
	/* one big one, in pieces */
	memset(chunk, 'x', 100);
	chunk[100] = '\0';
	feed(p, "<message><body>");
	for (i = 0; i < 20 && xmlguard_violation() == XG_NONE; i++)
		feed(p, chunk);
	assert_int_equal(xmlguard_violation(), XG_SIZE);
	assert_true(i <= 11);
	done(p, &s);

	/* one token bigger than the limit (an attribute) */
	p = strophe_parser(&s);
	feed(p, HEADER "<message to='");
	for (i = 0; i < 20 && xmlguard_violation() == XG_NONE; i++)
		feed(p, chunk);
	assert_int_equal(xmlguard_violation(), XG_SIZE);
	done(p, &s);
	xmlguard_set_limits(0, 0);
}

static void
test_depth(void **state)
{
	struct seen s;
	XML_Parser p = strophe_parser(&s);
	int i;

	(void)state;
	feed(p, HEADER);
	for (i = 0; i < 10000 && xmlguard_violation() == XG_NONE; i++)
		feed(p, "<a>");
	assert_int_equal(xmlguard_violation(), XG_DEPTH);
	assert_int_equal(s.max_depth, XMLGUARD_DEFAULT_MAX_DEPTH + 1);
	done(p, &s);
}

/* Two hundred thousand entities: linear, one piece of text. */
static void
test_many_entities(void **state)
{
	struct seen s;
	XML_Parser p = strophe_parser(&s);
	int i;

	(void)state;
	feed(p, HEADER "<message><body>");
	for (i = 0; i < 2000; i++)
		feed(p,
		    "&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;"
		    "&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;"
		    "&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;"
		    "&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;"
		    "&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;"
		    "&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;"
		    "&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;"
		    "&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;"
		    "&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;"
		    "&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;&amp;");
	assert_true(xmlguard_pending_since() != 0);
	feed(p, "</body></message>");
	assert_int_equal(xmlguard_violation(), XG_NONE);
	assert_int_equal(s.texts, 1);
	assert_int_equal(s.text.len, 200000);
	assert_int_equal(xmlguard_pending_since(), 0);
	done(p, &s);
}

/* Other parsers (reader.c's) are not touched. */
static void
test_other_parser(void **state)
{
	XML_Parser p = XML_ParserCreate("UTF-8");
	static const char doc[] = "<!DOCTYPE r [<!ENTITY x 'y'>]><r>&x;</r>";

	(void)state;
	memset(&obs, 0, sizeof(obs));
	assert_int_equal(XML_Parse(p, doc, (int)strlen(doc), 1), XML_STATUS_OK);
	assert_int_equal(obs.violations, 0);
	XML_ParserFree(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_plain_stream, setup),
		cmocka_unit_test_setup(test_restricted, setup),
		cmocka_unit_test_setup(test_billion_laughs, setup),
		cmocka_unit_test_setup(test_reset, setup),
		cmocka_unit_test_setup(test_size, setup),
		cmocka_unit_test_setup(test_depth, setup),
		cmocka_unit_test_setup(test_many_entities, setup),
		cmocka_unit_test_setup(test_other_parser, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
