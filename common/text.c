/* SPDX-License-Identifier: MIT */
/* text.c -- UTF-8, the characters XML can carry, and record escaping */

#include <string.h>

#include "text.h"

int
text_utf8_next(const char *str, size_t len, size_t *i, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str + *i;
	size_t left = len - *i;
	uint32_t c, min;
	size_t n, k;

	c = s[0];
	if (c < 0x80) {
		*cp = c;
		*i += 1;
		return 0;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else
		goto bad;
	if (left < n)
		goto bad;
	for (k = 1; k < n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			goto bad;
		c = (c << 6) | (s[k] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		goto bad;
	*cp = c;
	*i += n;
	return 0;
bad:
	*cp = s[0];
	*i += 1;
	return -1;
}

void
text_utf8_put(struct buf *b, uint32_t cp)
{
	char u[4];

	if (cp < 0x80) {
		buf_addc(b, (char)cp);
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, u, 3);
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		buf_add(b, u, 4);
	}
}

static int
xml_char_ok(uint32_t cp)
{
	if (cp < 0x20)
		return cp == '\t' || cp == '\n' || cp == '\r';
	return cp != 0xfffe && cp != 0xffff;
}

enum text_problem
text_check_xml(const char *s, size_t len, size_t *offset, uint32_t *cp)
{
	size_t i = 0, at;
	uint32_t c;

	while (i < len) {
		at = i;
		if (text_utf8_next(s, len, &i, &c) < 0) {
			*offset = at;
			*cp = c;
			return TEXT_BAD_UTF8;
		}
		if (!xml_char_ok(c)) {
			*offset = at;
			*cp = c;
			return TEXT_BAD_CHAR;
		}
	}
	return TEXT_OK;
}

char *
text_clean_xml(const char *s, size_t len, size_t *replaced)
{
	struct buf b;
	size_t i = 0, at;
	uint32_t c;

	buf_init(&b);
	buf_reserve(&b, len);
	*replaced = 0;
	while (i < len) {
		at = i;
		if (text_utf8_next(s, len, &i, &c) < 0 || !xml_char_ok(c)) {
			text_utf8_put(&b, 0xfffd);
			(*replaced)++;
			continue;
		}
		buf_add(&b, s + at, i - at);
	}
	return buf_steal(&b);
}

/*
 * Unicode's Default_Ignorable_Code_Point property (DerivedCoreProperties.txt
 * of Unicode 15.0, adjacent ranges merged): the code points a terminal
 * shows as nothing.  Sorted, for a binary search.
 */
static const struct {
	uint32_t first, last;
} default_ignorable[] = {
	{ 0x00ad, 0x00ad }, /* soft hyphen */
	{ 0x034f, 0x034f }, /* combining grapheme joiner */
	{ 0x061c, 0x061c }, /* arabic letter mark */
	{ 0x115f, 0x1160 }, /* hangul choseong and jungseong fillers */
	{ 0x17b4, 0x17b5 }, /* khmer inherent vowels */
	{ 0x180b, 0x180f }, /* mongolian variation selectors, vowel sep. */
	{ 0x200b, 0x200f }, /* zero width space, joiners, LRM, RLM */
	{ 0x202a, 0x202e }, /* bidi embeddings and overrides */
	{ 0x2060, 0x206f }, /* word joiner, invisibles, bidi isolates */
	{ 0x3164, 0x3164 }, /* hangul filler */
	{ 0xfe00, 0xfe0f }, /* variation selectors 1-16 */
	{ 0xfeff, 0xfeff }, /* zero width no-break space */
	{ 0xffa0, 0xffa0 }, /* halfwidth hangul filler */
	{ 0xfff0, 0xfff8 }, /* reserved */
	{ 0x1bca0, 0x1bca3 }, /* shorthand format controls */
	{ 0x1d173, 0x1d17a }, /* musical symbol format controls */
	{ 0xe0000, 0xe0fff }, /* tags, variation selectors 17-256 */
};

int
text_is_default_ignorable(uint32_t cp)
{
	size_t lo = 0,
	       hi = sizeof(default_ignorable) / sizeof(default_ignorable[0]),
	       mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (cp < default_ignorable[mid].first)
			hi = mid;
		else if (cp > default_ignorable[mid].last)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

int
text_is_unsafe_cp(uint32_t cp)
{
	if (cp >= 0x80 && cp <= 0x9f) /* C1 controls */
		return 1;
	switch (cp) {
	case 0x2028: /* line separator */
	case 0x2029: /* paragraph separator */
	case 0x2800: /* braille pattern blank: a letter that shows nothing */
		return 1;
	}
	if (cp >= 0xfff9 && cp <= 0xfffb) /* interlinear annotations */
		return 1;
	return text_is_default_ignorable(cp);
}

static const char hex[] = "0123456789abcdef";

/* Appends 'prefix' and the last 'digits' hex digits of 'v'. */
static void
put_hex(struct buf *b, const char *prefix, uint32_t v, int digits)
{
	buf_adds(b, prefix);
	while (digits-- > 0)
		buf_addc(b, hex[(v >> (4 * digits)) & 15]);
}

void
text_escape(struct buf *b, const char *s, size_t len)
{
	size_t i = 0, at;
	uint32_t c;

	buf_reserve(b, len);
	while (i < len) {
		at = i;
		if (text_utf8_next(s, len, &i, &c) < 0) {
			put_hex(b, "\\x", c, 2);
			continue;
		}
		switch (c) {
		case '\\':
			buf_add(b, "\\\\", 2);
			continue;
		case '\n':
			buf_add(b, "\\n", 2);
			continue;
		case '\r':
			buf_add(b, "\\r", 2);
			continue;
		case '\t':
			buf_add(b, "\\t", 2);
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			put_hex(b, "\\x", c, 2);
		} else if (text_is_unsafe_cp(c)) {
			put_hex(b, c > 0xffff ? "\\U" : "\\u", c,
			    c > 0xffff ? 8 : 4);
		} else
			buf_add(b, s + at, i - at);
	}
}

char *
text_escape_dup(const char *s, size_t len)
{
	struct buf b;

	buf_init(&b);
	text_escape(&b, s, len);
	return buf_steal(&b);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
text_unescape(struct buf *b, const char *s, size_t len)
{
	size_t i, k, n;
	uint32_t v;
	int h;

	for (i = 0; i < len; i++) {
		if (s[i] != '\\') {
			buf_addc(b, s[i]);
			continue;
		}
		if (++i >= len)
			return -1;
		switch (s[i]) {
		case '\\':
			buf_addc(b, '\\');
			continue;
		case 'n':
			buf_addc(b, '\n');
			continue;
		case 'r':
			buf_addc(b, '\r');
			continue;
		case 't':
			buf_addc(b, '\t');
			continue;
		case 'x':
			n = 2;
			break;
		case 'u':
			n = 4;
			break;
		case 'U':
			n = 8;
			break;
		default:
			return -1;
		}
		if (len - i - 1 < n)
			return -1;
		v = 0;
		for (k = 1; k <= n; k++) {
			if ((h = hexval(s[i + k])) < 0)
				return -1;
			v = v << 4 | (uint32_t)h;
		}
		i += n;
		/* A surrogate has no UTF-8 form; text_escape() makes none. */
		if (n > 2 && ((v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff))
			return -1;
		if (n == 2)
			buf_addc(b, (char)v);
		else
			text_utf8_put(b, v);
	}
	return 0;
}

void
text_json_string(struct buf *b, const char *s, size_t len)
{
	size_t i = 0, at;
	uint32_t c;

	buf_reserve(b, len + 2);
	buf_addc(b, '"');
	while (i < len) {
		at = i;
		if (text_utf8_next(s, len, &i, &c) < 0) {
			buf_adds(b, "\\ufffd");
			continue;
		}
		switch (c) {
		case '"':
			buf_add(b, "\\\"", 2);
			continue;
		case '\\':
			buf_add(b, "\\\\", 2);
			continue;
		case '\n':
			buf_add(b, "\\n", 2);
			continue;
		case '\r':
			buf_add(b, "\\r", 2);
			continue;
		case '\t':
			buf_add(b, "\\t", 2);
			continue;
		case '\b':
			buf_add(b, "\\b", 2);
			continue;
		case '\f':
			buf_add(b, "\\f", 2);
			continue;
		}
		if (c > 0xffff && text_is_unsafe_cp(c)) {
			/* JSON writes an astral code point as a surrogate pair.
			 */
			put_hex(b, "\\u", 0xd800 + ((c - 0x10000) >> 10), 4);
			put_hex(b, "\\u", 0xdc00 + ((c - 0x10000) & 0x3ff), 4);
		} else if (c < 0x20 || c == 0x7f || text_is_unsafe_cp(c)) {
			put_hex(b, "\\u", c, 4);
		} else
			buf_add(b, s + at, i - at);
	}
	buf_addc(b, '"');
}
