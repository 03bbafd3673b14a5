/* SPDX-License-Identifier: MIT */
/* test_reader.c -- unit tests of common/reader.c (the stanza-line reader) */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <strophe.h>

#include "reader.h"
#include "util.h"

#include "testutil.h"

#define BIG ((size_t)1 << 20) /* a size limit no test reaches */
#define SEEDS 24 /* random chunkings of every input */

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

/* --- collecting what a reader hands out --- */

struct sink {
	struct buf out; /* "L<line> <xml>\n" for every stanza */
	int n; /* stanzas seen */
	int stop_at; /* return -1 on this stanza (1-based); 0: never */
	xmpp_stanza_t *kept; /* the first stanza, when 'keep' */
	int keep;
};

/* True when some element of 'st' has two text children in a row. */
static int
adjacent_texts(xmpp_stanza_t *st)
{
	xmpp_stanza_t *c, *next;

	for (c = xmpp_stanza_get_children(st); c; c = next) {
		next = xmpp_stanza_get_next(c);
		if (xmpp_stanza_is_text(c) && next && xmpp_stanza_is_text(next))
			return 1;
		if (xmpp_stanza_is_tag(c) && adjacent_texts(c))
			return 1;
	}
	return 0;
}

static int
on_stanza(xmpp_stanza_t *st, unsigned long line, void *ud)
{
	struct sink *s = ud;
	xmpp_ctx_t *ctx = xmpp_stanza_get_context(st);
	char *text = NULL;
	size_t len = 0;

	s->n++;
	if (xmpp_stanza_to_text(st, &text, &len) != XMPP_EOK || text == NULL)
		buf_printf(&s->out, "L%lu (to_text failed)\n", line);
	else {
		/* Text split over several nodes is a reader bug too. */
		buf_printf(&s->out, "L%lu %s%s\n", line, text,
		    adjacent_texts(st) ? " (ADJACENT TEXT NODES)" : "");
		xmpp_free(ctx, text);
	}
	if (s->keep && s->kept == NULL)
		s->kept = st;
	else
		xmpp_stanza_release(st);
	return s->stop_at && s->n == s->stop_at ? -1 : 0;
}

static void
sink_init(struct sink *s)
{
	memset(s, 0, sizeof(*s));
	buf_init(&s->out);
}

static void
sink_free(struct sink *s)
{
	buf_free(&s->out);
	if (s->kept)
		xmpp_stanza_release(s->kept);
}

/* --- feeding an input in a given chunking --- */

struct result {
	int rc; /* 0, or -1 from the first feed that failed */
	char *err; /* its message, or NULL */
	char *out; /* what the callback saw */
};

static void
result_free(struct result *res)
{
	free(res->err);
	free(res->out);
}

/*
 * Feeds in[0..len) cut at the sorted offsets cuts[0..ncuts) (each chunk
 * non-empty), with 'final' on the last chunk, or in a separate empty feed
 * when 'separate_final'.  After a failure one more feed must fail again,
 * with the same message and no further stanza.
 */
static void
feed_cut(xmpp_ctx_t *ctx, size_t max, const char *in, size_t len,
    const size_t *cuts, size_t ncuts, int separate_final, int stop_at,
    struct result *res)
{
	struct sink s;
	struct reader *r;
	size_t k, from = 0, to;
	char *err = NULL, *again = NULL;
	int rc = 0, n;

	sink_init(&s);
	s.stop_at = stop_at;
	r = reader_new(ctx, max, on_stanza, &s);
	assert_non_null(r);
	for (k = 0; k <= ncuts && rc == 0; k++) {
		to = k < ncuts ? cuts[k] : len;
		rc = reader_feed(r, in + from, to - from,
		    k == ncuts && !separate_final, &err);
		from = to;
	}
	if (rc == 0 && separate_final)
		rc = reader_feed(r, "", 0, 1, &err);
	if (rc == 0)
		assert_null(err);
	else {
		assert_int_equal(rc, -1);
		n = s.n;
		for (k = 0; k < 2; k++) {
			assert_int_equal(
			    reader_feed(r, "<message/>", k ? 0 : 10, k, &again),
			    -1);
			assert_int_equal(s.n, n);
			if (err == NULL)
				assert_null(again);
			else {
				assert_non_null(again);
				assert_string_equal(again, err);
			}
			free(again);
			again = NULL;
		}
	}
	reader_free(r);
	res->rc = rc;
	res->err = err;
	res->out = s.out.data ? buf_steal(&s.out) : xstrdup("");
	sink_free(&s);
}

static const char *
chunking_name(int mode, char *buf, size_t len)
{
	switch (mode) {
	case 0:
		return "whole, final with it";
	case 1:
		return "whole, then an empty final feed";
	case 2:
		return "byte by byte";
	default:
		snprintf(buf, len, "random cuts, seed %d", mode - 2);
		return buf;
	}
}

/* Feeds 'in' in chunking 'mode' (see chunking_name()). */
static void
feed_mode(xmpp_ctx_t *ctx, size_t max, const char *in, size_t len, int mode,
    int stop_at, struct result *res)
{
	size_t *cuts = len > 1 ? xcalloc(len, sizeof(*cuts)) : NULL;
	size_t ncuts = 0, i;
	struct prng p;
	uint32_t every;

	if (mode == 2) {
		for (i = 1; i < len; i++)
			cuts[ncuts++] = i;
	} else if (mode > 2 && len > 1) {
		/* Between a few and very many cut points. */
		prng_seed(&p, (uint64_t)mode * 7919);
		every = 1 + prng_below(&p, mode % 2 ? 4 : 40);
		for (i = 1; i < len; i++)
			if (prng_below(&p, every) == 0)
				cuts[ncuts++] = i;
	}
	feed_cut(ctx, max, in, len, cuts, ncuts,
	    mode == 1 || (mode > 2 && mode % 3 == 0), stop_at, res);
	free(cuts);
}

/*
 * Reads 'in' in every chunking: whole, byte by byte and SEEDS random ones.
 * Each must hand out exactly 'want_out' ("L<line> <xml>\n" per stanza) and
 * end with 'want_err' (NULL: no error).
 */
static void
expect_read(xmpp_ctx_t *ctx, size_t max, const char *in, size_t len,
    const char *want_out, const char *want_err)
{
	static char msg[8192]; /* the results are freed before failing */
	struct result res;
	char name[64];
	const char *how;
	int mode;

	for (mode = 0; mode < 3 + SEEDS; mode++) {
		feed_mode(ctx, max, in, len, mode, 0, &res);
		how = chunking_name(mode, name, sizeof(name));
		msg[0] = '\0';
		if (strcmp(res.out, want_out) != 0)
			snprintf(msg, sizeof(msg),
			    "input: %.2000s\nchunking: %s\nstanzas:\n%.2000s\n"
			    "want:\n%.2000s",
			    in, how, res.out, want_out);
		else if (want_err == NULL && res.rc != 0)
			snprintf(msg, sizeof(msg),
			    "input: %.2000s\nchunking: %s\nunexpected error: %s",
			    in, how, res.err ? res.err : "(none)");
		else if (want_err != NULL &&
		    (res.rc != -1 || res.err == NULL ||
			strcmp(res.err, want_err) != 0))
			snprintf(msg, sizeof(msg),
			    "input: %.2000s\nchunking: %s\nerror: %s\nwant:  %s",
			    in, how, res.err ? res.err : "(none)", want_err);
		result_free(&res);
		if (msg[0] != '\0')
			fail_msg("%s", msg);
	}
}

#define EXPECT(ctx, max, in, out, err)                                         \
	expect_read(ctx, max, in, strlen(in), out, err)

/* Feeds 'in' whole and returns the first stanza (caller releases). */
static xmpp_stanza_t *
read_one(xmpp_ctx_t *ctx, const char *in)
{
	struct sink s;
	struct reader *r;
	char *err = NULL;
	xmpp_stanza_t *st;

	sink_init(&s);
	s.keep = 1;
	r = reader_new(ctx, BIG, on_stanza, &s);
	assert_non_null(r);
	if (reader_feed(r, in, strlen(in), 1, &err) != 0)
		fail_msg("input: %s\nerror: %s", in, err ? err : "(none)");
	reader_free(r);
	assert_int_equal(s.n, 1);
	st = s.kept;
	s.kept = NULL;
	sink_free(&s);
	return st;
}

/* --- reading stanzas --- */

static void
reader_feed__reads__one_stanza_per_line(void **state)
{
	static const char in[] =
	    "<message to='a@example.com'><body>one</body></message>\n"
	    "<presence/>\n"
	    "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>\n";

	EXPECT(*state, BIG, in,
	    "L1 <message to=\"a@example.com\"><body>one</body></message>\n"
	    "L2 <presence/>\n"
	    "L3 <iq id=\"p1\" type=\"get\"><ping xmlns=\"urn:xmpp:ping\"/>"
	    "</iq>\n",
	    NULL);

	/* The last line needs no newline; CRLF line ends count once. */
	EXPECT(*state, BIG, "<presence/>\r\n<presence type='unavailable'/>",
	    "L1 <presence/>\n"
	    "L2 <presence type=\"unavailable\"/>\n",
	    NULL);

	/* Blank lines and indentation between stanzas are fine. */
	EXPECT(*state, BIG, "\n\n  <presence/>\t\n\n\t<iq/>\n\n",
	    "L3 <presence/>\nL5 <iq/>\n", NULL);

	/* Nothing at all is no stanza and no error. */
	EXPECT(*state, BIG, "", "", NULL);
	EXPECT(*state, BIG, "\n \n", "", NULL);
}

static void
reader_feed__reads__a_continuous_stream(void **state)
{
	/* Several stanzas on a line, and stanzas over several lines: the
	 * line is that of the start tag. */
	static const char in[] =
	    "<message><body>a</body></message><presence/><iq/>\n"
	    "<message>\n"
	    "<body>line 3\n"
	    "line 4</body>\n"
	    "</message><presence\n"
	    "   type='unavailable'\n"
	    "/>\n";

	EXPECT(*state, BIG, in,
	    "L1 <message><body>a</body></message>\n"
	    "L1 <presence/>\n"
	    "L1 <iq/>\n"
	    "L2 <message>\n<body>line 3\nline 4</body>\n</message>\n"
	    "L5 <presence type=\"unavailable\"/>\n",
	    NULL);
}

static void
reader_feed__accepts__a_leading_xml_declaration(void **state)
{
	static const char *const ins[] = {
		"<?xml version='1.0'?><message/>",
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<message/>",
		("<?xml version='1.0' encoding='utf-8' standalone='yes'?>"
		 "<message/>"),
	};
	size_t k;

	/* expect_read() splits it over chunks in every way too. */
	for (k = 0; k < sizeof(ins) / sizeof(ins[0]); k++)
		EXPECT(*state, BIG, ins[k],
		    strchr(ins[k], '\n') ? "L2 <message/>\n"
					 : "L1 <message/>\n",
		    NULL);

	/* A declaration and nothing else. */
	EXPECT(*state, BIG, "<?xml version='1.0'?>", "", NULL);
	EXPECT(*state, BIG, "<?xml version='1.0'?>\n", "", NULL);
}

static void
reader_feed__accepts__declarations_with_any_whitespace(void **state)
{
	/* XML allows any white space after "<?xml" and between the pseudo-
	 * attributes; lines inside the declaration still count. */
	EXPECT(*state, BIG, "<?xml\tversion='1.0'?><presence/>",
	    "L1 <presence/>\n", NULL);
	EXPECT(*state, BIG, "<?xml\nversion='1.0'?>\n<presence/>",
	    "L3 <presence/>\n", NULL);
	EXPECT(*state, BIG,
	    "<?xml version='1.0'\n encoding='UTF-8'?>\n<presence/>\n<foo/>",
	    "L3 <presence/>\n",
	    "line 4: <foo> is not a stanza (message, presence or iq)");
}

static void
reader_feed__accepts__xml_declaration_split_across_chunks(void **state)
{
	static const char *const pieces[][4] = {
		{ "<", "?xml version='1.0'?>", "<presence/>", NULL },
		{ "<?x", "ml ", "version='1.0'?", "><presence/>" },
		{ "<?xml", " version=", "'1.0'?><pres", "ence/>" },
		{ "<?xml version='1.0'?><presence/>", NULL, NULL, NULL },
	};
	struct sink s;
	struct reader *r;
	char *err = NULL;
	size_t k, i;

	for (k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
		sink_init(&s);
		r = reader_new(*state, BIG, on_stanza, &s);
		for (i = 0; i < 4 && pieces[k][i]; i++)
			assert_int_equal(reader_feed(r, pieces[k][i],
					     strlen(pieces[k][i]), 0, &err),
			    0);
		assert_int_equal(reader_feed(r, "", 0, 1, &err), 0);
		assert_null(err);
		assert_string_equal(s.out.data, "L1 <presence/>\n");
		reader_free(r);
		sink_free(&s);
	}
}

static void
reader_feed__skips__comments(void **state)
{
	EXPECT(*state, BIG,
	    "<!-- first -->\n"
	    "<message><!-- in a stanza --><body>a<!-- x -->b</body>"
	    "</message><!---->\n"
	    "<!-- a <message> in a comment is none -->\n"
	    "<presence/>",
	    "L2 <message><body>ab</body></message>\nL4 <presence/>\n", NULL);
}

static void
reader_feed__decodes__entities(void **state)
{
	xmpp_stanza_t *st, *body;
	char *text;

	st = read_one(*state,
	    "<message to='a&amp;b&lt;c&#x41;'><body>x &amp; y&#10;z&#65;"
	    "&lt;&gt;&quot;&apos;&#233;&#x1F600;<![CDATA[<raw&>]]></body>"
	    "</message>");
	assert_string_equal(xmpp_stanza_get_to(st), "a&b<cA");
	body = xmpp_stanza_get_child_by_name(st, "body");
	assert_non_null(body);
	/* One text node, however expat split it. */
	assert_non_null(xmpp_stanza_get_children(body));
	assert_true(xmpp_stanza_is_text(xmpp_stanza_get_children(body)));
	assert_null(xmpp_stanza_get_next(xmpp_stanza_get_children(body)));
	text = xmpp_stanza_get_text(body);
	assert_string_equal(
	    text, "x & y\nzA<>\"'\xc3\xa9\xf0\x9f\x98\x80<raw&>");
	xmpp_free(*state, text);
	xmpp_stanza_release(st);

	/* The same in every chunking, compared as serialized. */
	EXPECT(*state, BIG,
	    "<message><body>x &amp; y&#10;z&#65;&lt;&gt;</body></message>",
	    "L1 <message><body>x &amp; y\nzA&lt;&gt;</body></message>\n", NULL);
}

static void
reader_feed__keeps__text_around_child_elements_in_order(void **state)
{
	xmpp_stanza_t *st, *c;
	char *t;

	st = read_one(*state,
	    "<message><body>one &amp;<b>two</b>th\nree<i/>four</body>"
	    "</message>");
	c = xmpp_stanza_get_children(xmpp_stanza_get_child_by_name(st, "body"));
	assert_true(xmpp_stanza_is_text(c));
	assert_string_equal(xmpp_stanza_get_text_ptr(c), "one &");
	c = xmpp_stanza_get_next(c);
	assert_string_equal(xmpp_stanza_get_name(c), "b");
	t = xmpp_stanza_get_text(c);
	assert_string_equal(t, "two");
	xmpp_free(*state, t);
	c = xmpp_stanza_get_next(c);
	assert_string_equal(xmpp_stanza_get_text_ptr(c), "th\nree");
	c = xmpp_stanza_get_next(c);
	assert_string_equal(xmpp_stanza_get_name(c), "i");
	c = xmpp_stanza_get_next(c);
	assert_string_equal(xmpp_stanza_get_text_ptr(c), "four");
	assert_null(xmpp_stanza_get_next(c));
	xmpp_stanza_release(st);
}

/* Text in a great many pieces (each reference and line is one for expat)
 * becomes one node with all of it. */
static void
reader_feed__joins__text_of_many_pieces(void **state)
{
	struct buf in;
	xmpp_stanza_t *st, *c;
	const char *t;
	size_t i, n = 100000;

	buf_init(&in);
	buf_adds(&in, "<message><body>");
	for (i = 0; i < n; i++)
		buf_adds(&in, i % 2 ? "&amp;" : "\n");
	buf_adds(&in, "</body></message>");
	st = read_one(*state, in.data);
	c = xmpp_stanza_get_children(xmpp_stanza_get_child_by_name(st, "body"));
	assert_true(xmpp_stanza_is_text(c));
	assert_null(xmpp_stanza_get_next(c));
	t = xmpp_stanza_get_text_ptr(c);
	assert_int_equal(strlen(t), n);
	for (i = 0; i < n; i++)
		if (t[i] != (i % 2 ? '&' : '\n'))
			fail_msg("byte %zu is wrong", i);
	xmpp_stanza_release(st);
	buf_free(&in);
}

static void
reader_feed__keeps__attributes_and_namespaces(void **state)
{
	xmpp_stanza_t *st, *x, *item, *body;

	st = read_one(*state,
	    "<message xmlns='jabber:client' to='b@example.com/r' "
	    "type='chat' id='i1' xml:lang='en'>"
	    "<x:data xmlns:x='urn:example:x' x:a='1'><x:item k=''/></x:data>"
	    "<body xmlns='urn:example:other'>t</body></message>");
	assert_string_equal(xmpp_stanza_get_name(st), "message");
	assert_string_equal(xmpp_stanza_get_ns(st), "jabber:client");
	assert_string_equal(xmpp_stanza_get_to(st), "b@example.com/r");
	assert_string_equal(xmpp_stanza_get_type(st), "chat");
	assert_string_equal(xmpp_stanza_get_id(st), "i1");
	assert_string_equal(xmpp_stanza_get_attribute(st, "xml:lang"), "en");
	assert_int_equal(xmpp_stanza_get_attribute_count(st), 5);

	x = xmpp_stanza_get_children(st);
	assert_non_null(x);
	assert_string_equal(xmpp_stanza_get_name(x), "x:data");
	assert_string_equal(
	    xmpp_stanza_get_attribute(x, "xmlns:x"), "urn:example:x");
	assert_string_equal(xmpp_stanza_get_attribute(x, "x:a"), "1");
	item = xmpp_stanza_get_children(x);
	assert_non_null(item);
	assert_string_equal(xmpp_stanza_get_name(item), "x:item");
	assert_string_equal(xmpp_stanza_get_attribute(item, "k"), "");

	body = xmpp_stanza_get_next(x);
	assert_non_null(body);
	assert_string_equal(xmpp_stanza_get_ns(body), "urn:example:other");
	assert_null(xmpp_stanza_get_next(body));
	xmpp_stanza_release(st);

	/* Serialized, the declarations are where they were (libstrophe
	 * leaves out xmlns='jabber:client' of a stanza, the default). */
	EXPECT(*state, BIG,
	    "<iq xmlns='urn:example:top'><q:query xmlns:q='urn:x'/></iq>",
	    "L1 <iq xmlns=\"urn:example:top\"><q:query xmlns:q=\"urn:x\"/>"
	    "</iq>\n",
	    NULL);
}

static void
reader_feed__hands_out__a_stanza_as_soon_as_its_end_tag_arrives(void **state)
{
	/* Byte by byte, none of them final: the stanza must come out with
	 * the '>' of its end tag, not wait for more input (xsend --raw reads
	 * a pipe that a script may keep open while it waits for a reply). */
	static const char *const ins[] = {
		"<presence/>",
		"<message><body>hi</body></message>",
		"<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>",
		"<?xml version='1.0'?><message to='a@b'>x</message>",
	};
	struct sink s;
	struct reader *r;
	char *err = NULL;
	size_t k, i, len;

	for (k = 0; k < sizeof(ins) / sizeof(ins[0]); k++) {
		sink_init(&s);
		r = reader_new(*state, BIG, on_stanza, &s);
		len = strlen(ins[k]);
		for (i = 0; i < len; i++) {
			assert_int_equal(
			    reader_feed(r, ins[k] + i, 1, 0, &err), 0);
			if (s.n != (i == len - 1))
				fail_msg("input: %s\n%d stanza(s) after byte "
					 "%zu of %zu",
				    ins[k], s.n, i + 1, len);
		}
		assert_null(err);
		reader_free(r);
		sink_free(&s);
	}
}

static void
reader_feed__gives__same_stanzas_for_random_streams(void **state)
{
	/* Streams put together at random from these, read in every
	 * chunking, must give what the whole stream read at once gives. */
	static const char *const parts[] = {
		"<message to='a@b' type='chat'><body>hi &amp; bye</body>"
		"</message>",
		"<presence><show>away</show><status>out\nlunch</status>"
		"</presence>",
		"<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>",
		"<message><body>\xc3\xa9\xe2\x80\xae&#10;<![CDATA[x<y]]></body>"
		"</message>",
		"<message><x:a xmlns:x='u'><x:b c='&quot;'/>t</x:a></message>",
		"<!-- comment -->",
		"\n",
		"  ",
		"\r\n",
		"<presence\n type='unavailable'\n/>",
	};
	const size_t nparts = sizeof(parts) / sizeof(parts[0]);
	struct prng p;
	struct buf in;
	struct result whole;
	int round, n;

	prng_seed(&p, 20261123);
	for (round = 0; round < 40; round++) {
		buf_init(&in);
		if (round % 4 == 0)
			buf_adds(&in, "<?xml version='1.0'?>");
		for (n = 1 + (int)prng_below(&p, 12); n > 0; n--)
			buf_adds(&in, parts[prng_below(&p, (uint32_t)nparts)]);
		feed_mode(*state, BIG, in.data, in.len, 0, 0, &whole);
		assert_int_equal(whole.rc, 0);
		expect_read(*state, BIG, in.data, in.len, whole.out, NULL);
		result_free(&whole);
		buf_free(&in);
	}
}

/* --- refusals: the message and the line --- */

static void
reader_feed__refuses__dtd_with_its_line(void **state)
{
	EXPECT(*state, BIG, "<!DOCTYPE message>", "",
	    "line 1: document type declaration not allowed");
	EXPECT(*state, BIG, "<message/>\n<!DOCTYPE message>\n<message/>",
	    "L1 <message/>\n", "line 2: document type declaration not allowed");
	/* The classic: an entity defined in an internal subset. */
	EXPECT(*state, BIG,
	    "<?xml version='1.0'?>\n"
	    "<!DOCTYPE message [<!ENTITY e 'boom'>]>\n"
	    "<message><body>&e;</body></message>",
	    "", "line 2: document type declaration not allowed");
}

static void
reader_feed__refuses__entity_declaration_with_its_line(void **state)
{
	EXPECT(*state, BIG, "<presence/>\n\n<!ENTITY e 'x'>\n<presence/>",
	    "L1 <presence/>\n", "line 3: entity declaration not allowed");
	EXPECT(*state, BIG, "<!ENTITY % p SYSTEM 'file:///etc/passwd'>", "",
	    "line 1: entity declaration not allowed");
	/* And no entity is known but the five of XML. */
	EXPECT(*state, BIG, "<presence/>\n<message><body>&e;</body></message>",
	    "L1 <presence/>\n", "line 2: undefined entity");
}

static void
reader_feed__refuses__processing_instruction_with_its_line(void **state)
{
	EXPECT(*state, BIG, "<?php echo 1; ?>", "",
	    "line 1: processing instruction not allowed");
	EXPECT(*state, BIG, "<presence/>\n<?target data?>\n",
	    "L1 <presence/>\n", "line 2: processing instruction not allowed");
	EXPECT(*state, BIG, "<message>\n<body>x<?pi?></body></message>", "",
	    "line 2: processing instruction not allowed");
	EXPECT(*state, BIG, "<?xml-stylesheet href='a.xsl'?><message/>", "",
	    "line 1: processing instruction not allowed");
}

static void
reader_feed__refuses__xml_declaration_not_at_the_start(void **state)
{
	EXPECT(*state, BIG, "<presence/>\n<?xml version='1.0'?>\n<presence/>",
	    "L1 <presence/>\n",
	    "line 2: XML declaration not at the start of the input");
	EXPECT(*state, BIG, " <?xml version='1.0'?><presence/>", "",
	    "line 1: XML declaration not at the start of the input");
	EXPECT(*state, BIG, "\n<?xml version='1.0'?><presence/>", "",
	    "line 2: XML declaration not at the start of the input");
	EXPECT(*state, BIG,
	    "<?xml version='1.0'?><?xml version='1.0'?><presence/>", "",
	    "line 1: XML declaration not at the start of the input");
}

static void
reader_feed__refuses__top_level_elements_that_are_no_stanzas(void **state)
{
	EXPECT(*state, BIG, "<foo/>", "",
	    "line 1: <foo> is not a stanza (message, presence or iq)");
	EXPECT(*state, BIG, "<presence/>\n<body>x</body>", "L1 <presence/>\n",
	    "line 2: <body> is not a stanza (message, presence or iq)");
	EXPECT(*state, BIG, "<Message/>", "",
	    "line 1: <Message> is not a stanza (message, presence or iq)");
	EXPECT(*state, BIG,
	    "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>"
	    "<message/></stream:stream>",
	    "",
	    "line 1: <stream:stream> is not a stanza (message, presence or "
	    "iq)");
	/* The reader's own wrapper is not one either. */
	EXPECT(*state, BIG, "<xt-stream><message/></xt-stream>", "",
	    "line 1: <xt-stream> is not a stanza (message, presence or iq)");
}

static void
reader_feed__refuses__text_outside_stanzas(void **state)
{
	EXPECT(*state, BIG, "hello", "", "line 1: text outside a stanza");
	EXPECT(*state, BIG, "<presence/>\n  x  \n<presence/>",
	    "L1 <presence/>\n", "line 2: text outside a stanza");
	EXPECT(*state, BIG, "<presence/>&amp;", "L1 <presence/>\n",
	    "line 1: text outside a stanza");
	EXPECT(*state, BIG, "<presence/>\n\n<![CDATA[x]]>", "L1 <presence/>\n",
	    "line 3: text outside a stanza");
	/* Text at the very end of the input, before the final feed. */
	EXPECT(*state, BIG, "<presence/>\nx", "L1 <presence/>\n",
	    "line 2: text outside a stanza");
}

static void
reader_feed__refuses__malformed_xml(void **state)
{
	EXPECT(*state, BIG, "<message><body>x</message>", "",
	    "line 1: mismatched tag");
	EXPECT(*state, BIG, "<presence/>\n<message>\n</presence>",
	    "L1 <presence/>\n", "line 3: mismatched tag");
	EXPECT(*state, BIG, "</message>", "", "line 1: mismatched tag");
	EXPECT(*state, BIG, "<message a='1' a='2'/>", "",
	    "line 1: duplicate attribute");
	EXPECT(*state, BIG, "<presence/>\n<message><body>\xff</body></message>",
	    "L1 <presence/>\n", "line 2: not well-formed (invalid token)");
	EXPECT(*state, BIG, "<message><body>&#0;</body></message>", "",
	    "line 1: reference to invalid character number");
}

static void
reader_feed__refuses__input_ending_inside_a_stanza(void **state)
{
	struct sink s;
	struct reader *r;
	char *err = NULL;

	EXPECT(*state, BIG, "<presence/>\n<message>\n<body>x",
	    "L1 <presence/>\n", "line 2: the input ends inside a stanza");
	EXPECT(*state, BIG, "<message><body>x</body>", "",
	    "line 1: the input ends inside a stanza");

	/* reader_inside_stanza() says so before the final feed. */
	sink_init(&s);
	r = reader_new(*state, BIG, on_stanza, &s);
	assert_false(reader_inside_stanza(r));
	assert_int_equal(
	    reader_feed(r, "<message><body>x</body>", 23, 0, &err), 0);
	assert_true(reader_inside_stanza(r));
	assert_int_equal(reader_feed(r, "</message>\n", 11, 0, &err), 0);
	assert_false(reader_inside_stanza(r));
	assert_int_equal(reader_feed(r, "", 0, 1, &err), 0);
	assert_null(err);
	assert_string_equal(
	    s.out.data, "L1 <message><body>x</body></message>\n");
	reader_free(r);
	sink_free(&s);

	/* Ending inside a tag is an error too (whatever expat calls it). */
	sink_init(&s);
	r = reader_new(*state, BIG, on_stanza, &s);
	assert_int_equal(
	    reader_feed(r, "<presence/>\n<message", 20, 1, &err), -1);
	assert_non_null(err);
	assert_true(strncmp(err, "line 2: ", 8) == 0);
	free(err);
	reader_free(r);
	sink_free(&s);
}

/* Builds a stanza of 'depth' nested elements (the stanza is depth 1). */
static char *
nested(int depth, const char *prefix)
{
	struct buf b;
	int i;

	buf_init(&b);
	buf_adds(&b, prefix);
	buf_adds(&b, "<message>");
	for (i = 1; i < depth; i++)
		buf_adds(&b, "<a>");
	for (i = 1; i < depth; i++)
		buf_adds(&b, "</a>");
	buf_adds(&b, "</message>");
	return buf_steal(&b);
}

static void
reader_feed__refuses__nesting_deeper_than_64(void **state)
{
	char *in, *want;
	struct buf w;
	int i;

	/* 64 levels are fine. */
	in = nested(64, "");
	buf_init(&w);
	buf_adds(&w, "L1 <message>");
	for (i = 1; i < 63; i++)
		buf_adds(&w, "<a>");
	buf_adds(&w, "<a/>");
	for (i = 1; i < 63; i++)
		buf_adds(&w, "</a>");
	buf_adds(&w, "</message>\n");
	want = buf_steal(&w);
	EXPECT(*state, BIG, in, want, NULL);
	free(in);
	free(want);

	/* 65 are not, and the partial stanza is released (valgrind). */
	in = nested(65, "");
	EXPECT(*state, BIG, in, "", "line 1: elements nested too deep");
	free(in);
	in = nested(65, "<presence/>\n\n");
	EXPECT(*state, BIG, in, "L1 <presence/>\n",
	    "line 3: elements nested too deep");
	free(in);
	in = nested(1000, "");
	EXPECT(*state, BIG, in, "", "line 1: elements nested too deep");
	free(in);
}

/* "<message><body>" + n 'a' + "</body></message>": 32 + n bytes. */
static char *
big_body(size_t n, const char *prefix)
{
	struct buf b;

	buf_init(&b);
	buf_adds(&b, prefix);
	buf_adds(&b, "<message><body>");
	while (n--)
		buf_addc(&b, 'a');
	buf_adds(&b, "</body></message>");
	return buf_steal(&b);
}

static void
reader_feed__refuses__stanza_larger_than_the_limit_by_text(void **state)
{
	char *in, *want;

	/* Exactly the limit (200 bytes) is fine. */
	in = big_body(200 - 32, "");
	want = xasprintf("L1 %s\n", in);
	EXPECT(*state, 200, in, want, NULL);
	free(in);
	free(want);

	/* One byte more is not, however it is fed. */
	in = big_body(201 - 32, "");
	EXPECT(
	    *state, 200, in, "", "line 1: stanza larger than the size limit");
	free(in);

	/* Far more, on line 2, after a stanza that fits. */
	in = big_body(5000, "<presence/>\n");
	EXPECT(*state, 200, in, "L1 <presence/>\n",
	    "line 2: stanza larger than the size limit");
	free(in);

	/* Many small text pieces (expat cuts text at references) add up
	 * as well. */
	{
		struct buf b;
		int i;

		buf_init(&b);
		buf_adds(&b, "<message><body>");
		for (i = 0; i < 100; i++)
			buf_adds(&b, "&amp;x");
		buf_adds(&b, "</body></message>");
		EXPECT(*state, 200, b.data, "",
		    "line 1: stanza larger than the size limit");
		buf_free(&b);
	}
}

static void
reader_feed__refuses__stanza_larger_than_the_limit_by_attributes(void **state)
{
	static const char *const shapes[] = {
		"<message a='%s'/>",
		"<message a='%s'></message>",
		"<message><x a='%s'/></message>",
		"<message><x a='%s'></x></message>",
		"<message a='%s'><body>x</body></message>",
	};
	char pad[301];
	char *in;
	size_t k;

	memset(pad, 'v', 300);
	pad[300] = '\0';
	for (k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
		in = xasprintf(shapes[k], pad);
		EXPECT(*state, 200, in, "",
		    "line 1: stanza larger than the size limit");
		free(in);
	}
}

static void
reader_feed__hands_out__no_part_of_a_stanza_over_the_limit(void **state)
{
	/* The limit is passed at the start of an empty child: the stanza so
	 * far must not reach the callback (xsend would send it). */
	struct result res;
	char pad[301], *in;

	memset(pad, 'v', 300);
	pad[300] = '\0';
	in = xasprintf("<message><a>%s</a><b/></message>", pad);
	EXPECT(
	    *state, 200, in, "", "line 1: stanza larger than the size limit");
	free(in);
	in = xasprintf("<message a='%s'><b/></message>", pad);
	EXPECT(
	    *state, 200, in, "", "line 1: stanza larger than the size limit");
	free(in);

	/* Had the callback seen it and asked to stop, reader_feed() would
	 * say nothing while every later feed gave the size error (found by
	 * fuzz_reader). */
	in = xasprintf("<iq><a>%s</a><b/></iq>", pad);
	feed_mode(*state, 200, in, strlen(in), 0, 1, &res);
	assert_string_equal(res.out, "");
	assert_int_equal(res.rc, -1);
	assert_non_null(res.err);
	assert_string_equal(
	    res.err, "line 1: stanza larger than the size limit");
	result_free(&res);
	free(in);
}

/* --- the callback, errors in the first chunk, later feeds --- */

static void
reader_feed__stops__when_the_callback_returns_minus_one(void **state)
{
	static const char in[] = "<presence/>\n<message/>\n<iq/>\n";
	struct result res;
	int mode;

	for (mode = 0; mode < 3 + SEEDS; mode++) {
		feed_mode(*state, BIG, in, strlen(in), mode, 2, &res);
		assert_int_equal(res.rc, -1);
		assert_null(res.err); /* no message: the callback asked */
		assert_string_equal(res.out, "L1 <presence/>\nL2 <message/>\n");
		result_free(&res);
	}

	/* On the first stanza of the first chunk. */
	feed_mode(*state, BIG, in, strlen(in), 0, 1, &res);
	assert_int_equal(res.rc, -1);
	assert_null(res.err);
	assert_string_equal(res.out, "L1 <presence/>\n");
	result_free(&res);
}

static void
reader_feed__fails__every_feed_after_an_error(void **state)
{
	struct sink s;
	struct reader *r;
	char *err = NULL;
	int i;

	sink_init(&s);
	r = reader_new(*state, BIG, on_stanza, &s);
	assert_int_equal(
	    reader_feed(r, "<presence/>\n<foo/>", 18, 0, &err), -1);
	assert_string_equal(
	    err, "line 2: <foo> is not a stanza (message, presence or iq)");
	free(err);
	for (i = 0; i < 3; i++) {
		err = NULL;
		assert_int_equal(
		    reader_feed(r, "<presence/>", 11, i == 2, &err), -1);
		assert_string_equal(err,
		    "line 2: <foo> is not a stanza (message, presence or iq)");
		free(err);
	}
	/* errstr may be NULL. */
	assert_int_equal(reader_feed(r, "<presence/>", 11, 0, NULL), -1);
	assert_int_equal(s.n, 1);
	reader_free(r);
	sink_free(&s);
}

static void
reader_feed__reports__errors_in_the_very_first_chunk(void **state)
{
	/* The first chunk is kept aside until it is known whether it starts
	 * with an XML declaration; its error message once read it after it
	 * was freed.  Run this under valgrind. */
	static const struct {
		const char *in;
		const char *err;
	} cases[] = {
		{ "<!DOCTYPE x>",
		    "line 1: document type declaration not allowed" },
		{ "<!ENTITY x 'y'>", "line 1: entity declaration not allowed" },
		{ "<?xml version='1.0'?><!DOCTYPE x>",
		    "line 1: document type declaration not allowed" },
		{ "<?xml version='1.0'?>\n<?xml version='1.0'?>",
		    "line 2: XML declaration not at the start of the input" },
		{ "</x>", "line 1: mismatched tag" },
		{ "<foo/>",
		    "line 1: <foo> is not a stanza (message, presence or "
		    "iq)" },
		{ "&", "line 1: not well-formed (invalid token)" },
		{ "\xff", "line 1: not well-formed (invalid token)" },
		{ "<?pi?>", "line 1: processing instruction not allowed" },
		{ "x", "line 1: text outside a stanza" },
	};
	struct sink s;
	struct reader *r;
	char *err;
	size_t k;
	int final;

	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		for (final = 0; final < 2; final++) {
			char *copy = xstrdup(cases[k].in);

			sink_init(&s);
			r = reader_new(*state, BIG, on_stanza, &s);
			err = NULL;
			/* Fed from a heap copy, freed at once, so valgrind
			 * sees any later read of the caller's bytes too. */
			if (reader_feed(r, copy, strlen(copy), final, &err) ==
			    0) {
				free(copy);
				copy = NULL;
				assert_int_equal(
				    reader_feed(r, "", 0, 1, &err), -1);
			}
			free(copy);
			if (err == NULL || strcmp(err, cases[k].err) != 0)
				fail_msg("input: %s\nerror: %s\nwant:  %s",
				    cases[k].in, err ? err : "(none)",
				    cases[k].err);
			free(err);
			assert_int_equal(s.n, 0);
			reader_free(r);
			sink_free(&s);
		}
	}
}

static void
reader_free__releases__a_reader_in_any_state(void **state)
{
	static const char *const ins[] = {
		"",
		"<",
		"<?xml vers",
		"<message><body>half",
		"<message><a><b><c>",
		"<message><body>x</body></message><mess",
	};
	struct sink s;
	struct reader *r;
	char *err = NULL;
	size_t k;

	reader_free(NULL);
	for (k = 0; k < sizeof(ins) / sizeof(ins[0]); k++) {
		sink_init(&s);
		r = reader_new(*state, BIG, on_stanza, &s);
		assert_int_equal(
		    reader_feed(r, ins[k], strlen(ins[k]), 0, &err), 0);
		reader_free(r); /* valgrind: nothing left behind */
		sink_free(&s);
	}
	assert_null(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    reader_feed__reads__one_stanza_per_line, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__reads__a_continuous_stream, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__accepts__a_leading_xml_declaration, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__accepts__declarations_with_any_whitespace,
		    setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__accepts__xml_declaration_split_across_chunks,
		    setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__skips__comments, setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__decodes__entities, setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__keeps__text_around_child_elements_in_order,
		    setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__joins__text_of_many_pieces, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__keeps__attributes_and_namespaces, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__hands_out__a_stanza_as_soon_as_its_end_tag_arrives,
		    setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__gives__same_stanzas_for_random_streams,
		    setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__refuses__dtd_with_its_line, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__refuses__entity_declaration_with_its_line,
		    setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__refuses__processing_instruction_with_its_line,
		    setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__refuses__xml_declaration_not_at_the_start,
		    setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__refuses__top_level_elements_that_are_no_stanzas,
		    setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__refuses__text_outside_stanzas, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__refuses__malformed_xml, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__refuses__input_ending_inside_a_stanza,
		    setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__refuses__nesting_deeper_than_64, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__refuses__stanza_larger_than_the_limit_by_text,
		    setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__refuses__stanza_larger_than_the_limit_by_attributes,
		    setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__hands_out__no_part_of_a_stanza_over_the_limit,
		    setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__stops__when_the_callback_returns_minus_one,
		    setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__fails__every_feed_after_an_error, setup_ctx,
		    teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_feed__reports__errors_in_the_very_first_chunk,
		    setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    reader_free__releases__a_reader_in_any_state, setup_ctx,
		    teardown_ctx),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
