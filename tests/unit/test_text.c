/* SPDX-License-Identifier: MIT */
/* test_text.c -- unit tests of common/text.c (UTF-8, XML chars, escaping) */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "text.h"
#include "util.h"

#include "testutil.h"

/* A byte string with its length (it may hold NUL). */
#define S(lit) lit, sizeof(lit) - 1

/* Formats a byte string as C escapes, for failure messages. */
static const char *
show(const char *s, size_t len)
{
	static char out[4][512];
	static int which;
	char *o = out[which++ & 3];
	size_t i, n = 0;

	for (i = 0; i < len && n < 500; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			o[n++] = (char)c;
		else
			n += (size_t)snprintf(o + n, 512 - n, "\\x%02x", c);
	}
	o[n] = '\0';
	return o;
}

static void
assert_bytes(const char *got, size_t got_len, const char *want, size_t want_len)
{
	if (got_len != want_len || memcmp(got, want, want_len) != 0)
		fail_msg("got \"%s\" (%zu bytes), want \"%s\" (%zu bytes)",
		    show(got, got_len), got_len, show(want, want_len),
		    want_len);
}

/* --- text_utf8_next --- */

static void
text_utf8_next__decodes__valid_sequences(void **state)
{
	static const struct {
		const char *s;
		size_t len;
		uint32_t cp;
		size_t adv;
	} cases[] = {
		{ S("A"), 0x41, 1 },
		{ S("\x00"), 0, 1 },
		{ S("\x7f"), 0x7f, 1 },
		{ S("\xc2\x80"), 0x80, 2 },
		{ S("\xc3\xa9"), 0xe9, 2 },
		{ S("\xdf\xbf"), 0x7ff, 2 },
		{ S("\xe0\xa0\x80"), 0x800, 3 },
		{ S("\xe2\x80\xae"), 0x202e, 3 },
		{ S("\xed\x9f\xbf"), 0xd7ff, 3 },
		{ S("\xee\x80\x80"), 0xe000, 3 },
		{ S("\xef\xbf\xbf"), 0xffff, 3 },
		{ S("\xf0\x90\x80\x80"), 0x10000, 4 },
		{ S("\xf0\x9f\x98\x80"), 0x1f600, 4 },
		{ S("\xf4\x8f\xbf\xbf"), 0x10ffff, 4 },
		{ S("\xc3\xa9xyz"), 0xe9, 2 },
	};
	size_t k, i;
	uint32_t cp;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		i = 0;
		cp = 0xdeadbeef;
		if (text_utf8_next(cases[k].s, cases[k].len, &i, &cp) != 0)
			fail_msg(
			    "rejected \"%s\"", show(cases[k].s, cases[k].len));
		assert_int_equal(cp, cases[k].cp);
		assert_int_equal(i, cases[k].adv);
	}
}

static void
text_utf8_next__rejects__invalid_sequences(void **state)
{
	static const struct {
		const char *what;
		const char *s;
		size_t len;
	} cases[] = {
		{ "overlong NUL", S("\xc0\x80") },
		{ "overlong '/'", S("\xc0\xaf") },
		{ "overlong 2-byte C1", S("\xc1\xbf") },
		{ "overlong 3-byte", S("\xe0\x80\xaf") },
		{ "overlong 3-byte max", S("\xe0\x9f\xbf") },
		{ "overlong 4-byte", S("\xf0\x80\x80\xaf") },
		{ "overlong 4-byte max", S("\xf0\x8f\xbf\xbf") },
		{ "high surrogate", S("\xed\xa0\x80") },
		{ "low surrogate", S("\xed\xbf\xbf") },
		{ "U+110000", S("\xf4\x90\x80\x80") },
		{ "lead F5", S("\xf5\x80\x80\x80") },
		{ "lead F8 (5 bytes)", S("\xf8\x88\x80\x80\x80") },
		{ "lead FC (6 bytes)", S("\xfc\x84\x80\x80\x80\x80") },
		{ "FE", S("\xfe") },
		{ "FF", S("\xff") },
		{ "lone continuation", S("\x80") },
		{ "lone continuation BF", S("\xbf") },
		{ "truncated 2-byte", S("\xc3") },
		{ "truncated 3-byte", S("\xe2\x80") },
		{ "truncated 4-byte", S("\xf0\x9f\x98") },
		{ "bad continuation", S("\xc3\x28") },
		{ "bad 3rd byte", S("\xe2\x80\x28") },
		{ "bad 4th byte", S("\xf0\x9f\x98\xc3") },
	};
	size_t k, i;
	uint32_t cp;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		i = 0;
		cp = 0xdeadbeef;
		if (text_utf8_next(cases[k].s, cases[k].len, &i, &cp) != -1)
			fail_msg("accepted %s", cases[k].what);
		/* One byte consumed; *cp is the byte's value. */
		assert_int_equal(i, 1);
		assert_int_equal(cp, (unsigned char)cases[k].s[0]);
	}
}

static void
text_utf8_next__stops__at_len(void **state)
{
	/* The byte after 'len' must not be used to complete a sequence. */
	const char s[] = "\xc3\xa9";
	size_t i = 0;
	uint32_t cp;

	(void)state;
	assert_int_equal(text_utf8_next(s, 1, &i, &cp), -1);
	assert_int_equal(i, 1);
	assert_int_equal(cp, 0xc3);
	/* Starting in the middle works with *i > 0. */
	i = 1;
	assert_int_equal(text_utf8_next("x\xc3\xa9", 3, &i, &cp), 0);
	assert_int_equal(i, 3);
	assert_int_equal(cp, 0xe9);
}

static size_t
utf8_len(uint32_t cp)
{
	if (cp < 0x80)
		return 1;
	if (cp < 0x800)
		return 2;
	if (cp < 0x10000)
		return 3;
	return 4;
}

static void
text_utf8_put__encodes__boundaries(void **state)
{
	static const uint32_t cps[] = { 0, 0x41, 0x7f, 0x80, 0x7ff, 0x800,
		0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x1f600, 0x10ffff };
	struct buf b;
	size_t k, i;
	uint32_t cp;

	(void)state;
	for (k = 0; k < sizeof(cps) / sizeof(cps[0]); k++) {
		buf_init(&b);
		text_utf8_put(&b, cps[k]);
		assert_int_equal(b.len, utf8_len(cps[k]));
		i = 0;
		assert_int_equal(text_utf8_next(b.data, b.len, &i, &cp), 0);
		assert_int_equal(cp, cps[k]);
		assert_int_equal(i, b.len);
		buf_free(&b);
	}
	buf_init(&b);
	text_utf8_put(&b, 0x202e);
	assert_bytes(b.data, b.len, S("\xe2\x80\xae"));
	buf_free(&b);
}

/* --- text_check_xml / text_clean_xml --- */

static void
text_check_xml__accepts__xml_text(void **state)
{
	static const struct {
		const char *s;
		size_t len;
	} cases[] = {
		{ S("") },
		{ S("hello") },
		{ S("tab\there\nnew\r\n") },
		{ S("<&>\"'") },
		{ S("\xc3\xa9\xe2\x80\xae\xf0\x9f\x98\x80") },
		{ S("\x7f\xc2\x85") }, /* DEL, C1: XML 1.0 allows them */
		{ S("\xef\xbf\xbd\xef\xbf\xbc") },
		{ S("\xf4\x8f\xbf\xbf") },
	};
	size_t k, off = 77;
	uint32_t cp = 77;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
		if (text_check_xml(cases[k].s, cases[k].len, &off, &cp) !=
		    TEXT_OK)
			fail_msg("rejected \"%s\" at %zu (U+%04X)",
			    show(cases[k].s, cases[k].len), off, cp);
}

static void
text_check_xml__reports__offset_and_code_point(void **state)
{
	static const struct {
		const char *s;
		size_t len;
		enum text_problem want;
		size_t off;
		uint32_t cp;
	} cases[] = {
		{ S("\x00"), TEXT_BAD_CHAR, 0, 0 },
		{ S("ab\x00"
		    "cd"),
		    TEXT_BAD_CHAR, 2, 0 },
		{ S("abc\x01"), TEXT_BAD_CHAR, 3, 1 },
		{ S("\x08"), TEXT_BAD_CHAR, 0, 8 },
		{ S("x\x0b"), TEXT_BAD_CHAR, 1, 0x0b },
		{ S("x\x0c"), TEXT_BAD_CHAR, 1, 0x0c },
		{ S("\x1b[31m"), TEXT_BAD_CHAR, 0, 0x1b },
		{ S("\x1f"), TEXT_BAD_CHAR, 0, 0x1f },
		{ S("\xc3\xa9\xef\xbf\xbe"), TEXT_BAD_CHAR, 2, 0xfffe },
		{ S("ok\xef\xbf\xbf"), TEXT_BAD_CHAR, 2, 0xffff },
		{ S("ab\xff"), TEXT_BAD_UTF8, 2, 0xff },
		{ S("\xc3\xa9\x80"), TEXT_BAD_UTF8, 2, 0x80 },
		{ S("xyz\xed\xa0\x80"), TEXT_BAD_UTF8, 3, 0xed },
		{ S("x\xc0\xaf"), TEXT_BAD_UTF8, 1, 0xc0 },
		{ S("\xe2\x80"), TEXT_BAD_UTF8, 0, 0xe2 },
		/* the first problem is reported */
		{ S("a\x01\xff"), TEXT_BAD_CHAR, 1, 1 },
		{ S("a\xff\x01"), TEXT_BAD_UTF8, 1, 0xff },
	};
	size_t k, off;
	uint32_t cp;
	enum text_problem got;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		off = 999;
		cp = 999;
		got = text_check_xml(cases[k].s, cases[k].len, &off, &cp);
		if (got != cases[k].want || off != cases[k].off ||
		    cp != cases[k].cp)
			fail_msg("\"%s\": got %d at %zu U+%04X, want %d at %zu "
				 "U+%04X",
			    show(cases[k].s, cases[k].len), (int)got, off, cp,
			    (int)cases[k].want, cases[k].off, cases[k].cp);
	}
}

static void
text_clean_xml__replaces__bad_characters(void **state)
{
	static const struct {
		const char *s;
		size_t len;
		const char *want;
		size_t replaced;
	} cases[] = {
		{ S(""), "", 0 },
		{ S("clean\ttext\n"), "clean\ttext\n", 0 },
		{ S("a\x00"
		    "b"),
		    "a\xef\xbf\xbd"
		    "b",
		    1 },
		{ S("\x01\x02"), "\xef\xbf\xbd\xef\xbf\xbd", 2 },
		{ S("\xff\xfe"), "\xef\xbf\xbd\xef\xbf\xbd", 2 },
		{ S("x\xef\xbf\xbey"), "x\xef\xbf\xbdy", 1 },
		{ S("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
		    3 },
		{ S("\xe2\x80\xae\xc3\xa9"), "\xe2\x80\xae\xc3\xa9", 0 },
		{ S("\xe2\x80"), "\xef\xbf\xbd\xef\xbf\xbd", 2 },
	};
	size_t k, n, off;
	uint32_t cp;
	char *out;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		n = 999;
		out = text_clean_xml(cases[k].s, cases[k].len, &n);
		assert_non_null(out);
		assert_bytes(
		    out, strlen(out), cases[k].want, strlen(cases[k].want));
		assert_int_equal(n, cases[k].replaced);
		assert_int_equal(
		    text_check_xml(out, strlen(out), &off, &cp), TEXT_OK);
		free(out);
	}
}

static void
text_clean_xml__property__output_passes_check(void **state)
{
	struct prng r;
	char in[200];
	size_t k, len, n, off;
	uint32_t cp;
	char *out;

	(void)state;
	prng_seed(&r, 0xc1ea41);
	for (k = 0; k < 3000; k++) {
		len = prng_below(&r, sizeof(in));
		prng_bytes(&r, in, len);
		out = text_clean_xml(in, len, &n);
		if (text_check_xml(out, strlen(out), &off, &cp) != TEXT_OK)
			fail_msg("clean(\"%s\") fails check at %zu",
			    show(in, len), off);
		/* Clean input comes out unchanged and counted as such. */
		if (n == 0)
			assert_bytes(out, strlen(out), in, len);
		else
			assert_true(
			    text_check_xml(in, len, &off, &cp) != TEXT_OK);
		free(out);
	}
}

/* --- text_escape / text_unescape --- */

static const struct {
	const char *in;
	size_t len;
	const char *out;
} escapes[] = {
	{ S(""), "" },
	{ S("plain text"), "plain text" },
	{ S("back\\slash"), "back\\\\slash" },
	{ S("two\nlines"), "two\\nlines" },
	{ S("cr\rlf\n"), "cr\\rlf\\n" },
	{ S("tab\there"), "tab\\there" },
	{ S("\x01"), "\\x01" },
	{ S("\x00"), "\\x00" },
	{ S("a\x00"
	    "b"),
	    "a\\x00b" },
	{ S("\x1b[2J"), "\\x1b[2J" },
	{ S("\x1f"), "\\x1f" },
	{ S("\x7f"), "\\x7f" },
	{ S("\x0b\x0c\x08"), "\\x0b\\x0c\\x08" },
	{ S("\xc2\x85"), "\\u0085" },
	{ S("\xc2\x9b"
	    "31m"),
	    "\\u009b31m" },
	{ S("\xc2\x80\xc2\x9f"), "\\u0080\\u009f" },
	{ S("ev\xe2\x80\xae"
	    "il"),
	    "ev\\u202eil" },
	{ S("\xe2\x80\xa8"), "\\u2028" },
	{ S("\xe2\x80\xa9"), "\\u2029" },
	{ S("\xe2\x80\x8b"), "\\u200b" },
	{ S("\xe2\x81\xa6"), "\\u2066" },
	{ S("\xef\xbb\xbf"), "\\ufeff" },
	{ S("\xc2\xad"), "\\u00ad" },
	{ S("\xd8\x9c"), "\\u061c" },
	/* the rest of Default_Ignorable_Code_Point, and U+2800 */
	{ S("\xcd\x8f"), "\\u034f" },
	{ S("\xe1\x85\x9f\xe1\x85\xa0"), "\\u115f\\u1160" },
	{ S("\xe3\x85\xa4"), "\\u3164" },
	{ S("\xef\xbe\xa0"), "\\uffa0" },
	{ S("\xe1\xa0\x8b\xe1\xa0\x8f"), "\\u180b\\u180f" },
	{ S("\xe2\x9d\xa4\xef\xb8\x8f"), "\xe2\x9d\xa4\\ufe0f" },
	{ S("\xe2\xa0\x80"), "\\u2800" },
	{ S("\xef\xbf\xb0"), "\\ufff0" },
	{ S("\xf3\xa0\x80\x81"), "\\U000e0001" },
	{ S("a\xf3\xa0\x81\xbf"
	    "b"),
	    "a\\U000e007fb" },
	{ S("\xf3\xa0\x84\x80"), "\\U000e0100" },
	{ S("\xf3\xa0\x87\xaf"), "\\U000e01ef" },
	{ S("\xf0\x9b\xb2\xa0"), "\\U0001bca0" },
	{ S("\xff"), "\\xff" },
	{ S("\x80"), "\\x80" },
	{ S("\xc3"), "\\xc3" },
	{ S("\xc0\xaf"), "\\xc0\\xaf" },
	{ S("\xed\xa0\x80"), "\\xed\\xa0\\x80" },
	{ S("\xe2\x80"), "\\xe2\\x80" },
	{ S("\xc3\xa9t\xc3\xa9"), "\xc3\xa9t\xc3\xa9" },
	{ S("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80" },
	{ S("\xc2\xa0"), "\xc2\xa0" },
	{ S("\xef\xbf\xbe"), "\xef\xbf\xbe" },
	{ S("\\n"), "\\\\n" },
	{ S("\\x41"), "\\\\x41" },
	{ S("x\n2026-01-01T00:00:00Z\tchat\tevil@x\tfake"),
	    "x\\n2026-01-01T00:00:00Z\\tchat\\tevil@x\\tfake" },
};

static void
text_escape__produces__exact_escapes(void **state)
{
	struct buf b;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(escapes) / sizeof(escapes[0]); k++) {
		buf_init(&b);
		buf_adds(&b, "prefix:");
		text_escape(&b, escapes[k].in, escapes[k].len);
		assert_non_null(b.data);
		assert_bytes(b.data + 7, b.len - 7, escapes[k].out,
		    strlen(escapes[k].out));
		assert_int_equal(strlen(b.data), b.len);
		buf_free(&b);
	}
}

static void
text_escape__terminates__empty_output(void **state)
{
	/* An escape of nothing into an empty buffer is still a string. */
	struct buf b;

	(void)state;
	buf_init(&b);
	text_escape(&b, "", 0);
	if (b.data != NULL)
		assert_int_equal(b.data[0], '\0');
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void
text_unescape__reverses__exact_escapes(void **state)
{
	struct buf b;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(escapes) / sizeof(escapes[0]); k++) {
		buf_init(&b);
		assert_int_equal(
		    text_unescape(&b, escapes[k].out, strlen(escapes[k].out)),
		    0);
		assert_bytes(
		    b.data ? b.data : "", b.len, escapes[k].in, escapes[k].len);
		buf_free(&b);
	}
}

static void
text_unescape__accepts__uppercase_hex(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	assert_int_equal(text_unescape(&b, S("\\x7F\\u202E\\x41")), 0);
	assert_bytes(b.data, b.len,
	    S("\x7f\xe2\x80\xae"
	      "A"));
	buf_free(&b);
}

static void
text_unescape__rejects__malformed_escapes(void **state)
{
	static const struct {
		const char *s;
		const char *prefix; /* what was decoded before the error */
	} cases[] = {
		{ "\\", "" },
		{ "abc\\", "abc" },
		{ "\\q", "" },
		{ "x\\0", "x" },
		{ "\\N", "" },
		{ "\\x", "" },
		{ "\\x4", "" },
		{ "\\xg0", "" },
		{ "\\x0g", "" },
		{ "ok\\x 1", "ok" },
		{ "\\u", "" },
		{ "\\u12", "" },
		{ "\\u123", "" },
		{ "\\u12g4", "" },
		{ "\\u-123", "" },
		{ "a\\nb\\z", "a\nb" },
		{ "\\ud800", "" }, /* a surrogate has no UTF-8 form */
		{ "\\udfff", "" },
		{ "\\U", "" },
		{ "\\U000e000", "" },
		{ "\\U000e00g1", "" },
		{ "a\\U0000d800", "a" },
		{ "\\U00110000", "" }, /* beyond Unicode */
		{ "\\Uffffffff", "" },
	};
	struct buf b;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		buf_init(&b);
		if (text_unescape(&b, cases[k].s, strlen(cases[k].s)) != -1)
			fail_msg("accepted \"%s\"",
			    show(cases[k].s, strlen(cases[k].s)));
		assert_bytes(b.data ? b.data : "", b.len, cases[k].prefix,
		    strlen(cases[k].prefix));
		buf_free(&b);
	}
}

static void
text_unescape__appends__to_buffer(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	buf_adds(&b, "head ");
	assert_int_equal(text_unescape(&b, S("a\\tb")), 0);
	assert_string_equal(b.data, "head a\tb");
	buf_free(&b);
}

/* The escaped form is one safe line that unescapes to the input. */
static void
check_escape_properties(const char *in, size_t len)
{
	struct buf e, u;
	size_t bad;

	buf_init(&e);
	buf_init(&u);
	text_escape(&e, in, len);
	if (e.len > 0) {
		bad = tu_first_unsafe(e.data, e.len, NULL);
		if (bad != (size_t)-1)
			fail_msg("escape(\"%s\") = \"%s\" has an unsafe or "
				 "invalid character at %zu",
			    show(in, len), show(e.data, e.len), bad);
		/* Each escape makes the line longer, never shorter. */
		assert_true(e.len >= len);
	}
	if (text_unescape(&u, e.data ? e.data : "", e.len) != 0)
		fail_msg("unescape(escape(\"%s\")) failed", show(in, len));
	assert_bytes(u.data ? u.data : "", u.len, in, len);
	buf_free(&e);
	buf_free(&u);
}

static void
text_escape__property__safe_and_reversible(void **state)
{
	struct prng r;
	char in[300];
	size_t k, len;
	unsigned c;

	(void)state;
	for (k = 0; k < sizeof(escapes) / sizeof(escapes[0]); k++)
		check_escape_properties(escapes[k].in, escapes[k].len);
	/* Every single byte. */
	for (c = 0; c < 256; c++) {
		in[0] = (char)c;
		check_escape_properties(in, 1);
	}
	/* Every code point's UTF-8 form, in steps. */
	for (c = 0; c <= 0x10ffff; c += c < 0x3000 ? 1 : 97) {
		struct buf u;

		if (c >= 0xd800 && c <= 0xdfff)
			continue;
		buf_init(&u);
		text_utf8_put(&u, c);
		check_escape_properties(u.data, u.len);
		buf_free(&u);
	}
	prng_seed(&r, 20260101);
	for (k = 0; k < 5000; k++) {
		len = prng_below(&r, sizeof(in));
		prng_bytes(&r, in, len);
		check_escape_properties(in, len);
	}
}

/* --- text_is_unsafe_cp --- */

static void
text_is_unsafe_cp__classifies__code_points(void **state)
{
	static const uint32_t unsafe[] = { 0x80, 0x85, 0x9b, 0x9f, 0xad, 0x61c,
		0x180e, 0x200b, 0x200c, 0x200d, 0x200e, 0x200f, 0x2028, 0x2029,
		0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2060, 0x2066, 0x2067,
		0x2068, 0x2069, 0x206f, 0xfeff, 0xfff9, 0xfffa, 0xfffb,
		/* Default_Ignorable_Code_Point, and the braille blank */
		0x34f, 0x115f, 0x1160, 0x17b4, 0x17b5, 0x180b, 0x180f, 0x2065,
		0x2800, 0x3164, 0xfe00, 0xfe0f, 0xffa0, 0xfff0, 0xfff8, 0x1bca0,
		0x1d173, 0x1d17a, 0xe0000, 0xe0001, 0xe0020, 0xe007f, 0xe0100,
		0xe01ef, 0xe0fff };
	static const uint32_t safe[] = { 0x20, 0x41, 0x7e, 0xa0, 0xa9, 0xe9,
		0x100, 0x34e, 0x350, 0x1161, 0x180a, 0x1810, 0x2010, 0x2027,
		0x2030, 0x205f, 0x2070, 0x2801, 0x3165, 0xfdff, 0xfe10,
		0xfeff - 1, 0xffa1, 0xfffc, 0xfffd, 0x1bca4, 0x1d172, 0x1d17b,
		0x1f600, 0xdffff, 0xe1000, 0x10ffff };
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(unsafe) / sizeof(unsafe[0]); k++)
		if (!text_is_unsafe_cp(unsafe[k]))
			fail_msg("U+%04X should be unsafe", unsafe[k]);
	for (k = 0; k < sizeof(safe) / sizeof(safe[0]); k++)
		if (text_is_unsafe_cp(safe[k]))
			fail_msg("U+%04X should be safe", safe[k]);
}

/* The table is the Unicode property, code point by code point. */
static void
text_is_default_ignorable__matches__unicode_data(void **state)
{
	static const char path[] =
	    "/usr/share/unicode/DerivedCoreProperties.txt";
	static unsigned char want[0x110000];
	char line[512];
	unsigned first, last, c;
	FILE *f;

	(void)state;
	f = fopen(path, "r");
	if (f == NULL) {
		print_message("skipped: no %s (Debian: unicode-data)\n", path);
		skip();
	}
	memset(want, 0, sizeof(want));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "; Default_Ignorable_Code_Point") == NULL)
			continue;
		if (sscanf(line, "%x..%x", &first, &last) == 2)
			;
		else if (sscanf(line, "%x", &first) == 1)
			last = first;
		else
			fail_msg("unreadable line: %s", line);
		for (c = first; c <= last && c < 0x110000; c++)
			want[c] = 1;
	}
	fclose(f);
	for (c = 0; c < 0x110000; c++)
		if (text_is_default_ignorable(c) != want[c])
			fail_msg("U+%04X: %d, Unicode says %d", c,
			    text_is_default_ignorable(c), want[c]);
	assert_true(want[0xe0001]);
}

/* --- text_json_string --- */

static void
text_json_string__produces__exact_output(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
		{ S(""), "\"\"" },
		{ S("hi"), "\"hi\"" },
		{ S("say \"hi\""), "\"say \\\"hi\\\"\"" },
		{ S("a\\b"), "\"a\\\\b\"" },
		{ S("/"), "\"/\"" },
		{ S("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"" },
		{ S("\x01"), "\"\\u0001\"" },
		{ S("\x00"), "\"\\u0000\"" },
		{ S("\x1b[0m"), "\"\\u001b[0m\"" },
		{ S("\x1f"), "\"\\u001f\"" },
		{ S("\x7f"), "\"\\u007f\"" },
		{ S("\xc2\x9b"), "\"\\u009b\"" },
		{ S("\xe2\x80\xae"), "\"\\u202e\"" },
		{ S("\xe2\x80\xa8\xe2\x80\xa9"), "\"\\u2028\\u2029\"" },
		{ S("\xef\xbb\xbf"), "\"\\ufeff\"" },
		{ S("\xe2\xa0\x80\xef\xb8\x8f"), "\"\\u2800\\ufe0f\"" },
		/* above U+FFFF: a surrogate pair */
		{ S("\xf3\xa0\x80\x81"), "\"\\udb40\\udc01\"" },
		{ S("\xf3\xa0\x87\xaf"), "\"\\udb40\\uddef\"" },
		{ S("\xff"), "\"\\ufffd\"" },
		{ S("a\xc3(b"), "\"a\\ufffd(b\"" },
		{ S("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"" },
		{ S("\xc3\xa9"), "\"\xc3\xa9\"" },
		{ S("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"" },
		{ S("<&>'"), "\"<&>'\"" },
	};
	struct buf b;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		buf_init(&b);
		text_json_string(&b, cases[k].in, cases[k].len);
		assert_bytes(b.data, b.len, cases[k].out, strlen(cases[k].out));
		buf_free(&b);
	}
}

static void
check_json_properties(const char *in, size_t len)
{
	struct buf j, dec, want;
	size_t bad;

	buf_init(&j);
	buf_init(&dec);
	buf_init(&want);
	text_json_string(&j, in, len);
	if (!tu_json_valid(j.data, j.len))
		fail_msg("json(\"%s\") = \"%s\" is not valid JSON",
		    show(in, len), show(j.data, j.len));
	bad = tu_first_unsafe(j.data, j.len, NULL);
	if (bad != (size_t)-1)
		fail_msg("json(\"%s\") = \"%s\": unsafe byte at %zu",
		    show(in, len), show(j.data, j.len), bad);
	assert_int_equal(tu_json_decode_string(j.data, j.len, &dec), 0);
	tu_replace_invalid(&want, in, len);
	assert_bytes(dec.data ? dec.data : "", dec.len,
	    want.data ? want.data : "", want.len);
	buf_free(&j);
	buf_free(&dec);
	buf_free(&want);
}

static void
text_json_string__property__valid_and_decodes_to_input(void **state)
{
	struct prng r;
	char in[300];
	size_t k, len;
	unsigned c;

	(void)state;
	for (c = 0; c < 256; c++) {
		in[0] = (char)c;
		check_json_properties(in, 1);
	}
	prng_seed(&r, 8259);
	for (k = 0; k < 5000; k++) {
		len = prng_below(&r, sizeof(in));
		prng_bytes(&r, in, len);
		check_json_properties(in, len);
	}
}

static void
testutil__json_checker__rejects__bad_json(void **state)
{
	/* The checker used above must be able to say no. */
	static const char *const bad[] = { "", "\"", "\"a", "\"\x01\"",
		"\"\\x41\"", "\"\\u12\"", "\"\\ud800\"", "{\"a\"}", "{\"a\":}",
		"[1,]", "01", "1.", "tru", "\"\xff\"", "{} {}", "{'a':1}" };
	static const char *const good[] = { "\"\"", "\"\\ud83d\\ude00\"",
		"{\"a\":[1,-0,2.5e3,true,false,null,\"x\"]}", " [ ] ", "0" };
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		if (tu_json_valid(bad[k], strlen(bad[k])))
			fail_msg("checker accepted \"%s\"",
			    show(bad[k], strlen(bad[k])));
	for (k = 0; k < sizeof(good) / sizeof(good[0]); k++)
		if (!tu_json_valid(good[k], strlen(good[k])))
			fail_msg("checker rejected \"%s\"", good[k]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(text_utf8_next__decodes__valid_sequences),
		cmocka_unit_test(text_utf8_next__rejects__invalid_sequences),
		cmocka_unit_test(text_utf8_next__stops__at_len),
		cmocka_unit_test(text_utf8_put__encodes__boundaries),
		cmocka_unit_test(text_check_xml__accepts__xml_text),
		cmocka_unit_test(
		    text_check_xml__reports__offset_and_code_point),
		cmocka_unit_test(text_clean_xml__replaces__bad_characters),
		cmocka_unit_test(text_clean_xml__property__output_passes_check),
		cmocka_unit_test(text_escape__produces__exact_escapes),
		cmocka_unit_test(text_escape__terminates__empty_output),
		cmocka_unit_test(text_unescape__reverses__exact_escapes),
		cmocka_unit_test(text_unescape__accepts__uppercase_hex),
		cmocka_unit_test(text_unescape__rejects__malformed_escapes),
		cmocka_unit_test(text_unescape__appends__to_buffer),
		cmocka_unit_test(text_escape__property__safe_and_reversible),
		cmocka_unit_test(text_is_unsafe_cp__classifies__code_points),
		cmocka_unit_test(
		    text_is_default_ignorable__matches__unicode_data),
		cmocka_unit_test(text_json_string__produces__exact_output),
		cmocka_unit_test(
		    text_json_string__property__valid_and_decodes_to_input),
		cmocka_unit_test(testutil__json_checker__rejects__bad_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
