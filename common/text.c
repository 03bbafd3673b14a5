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

int
text_is_unsafe_cp(uint32_t cp)
{
	if (cp >= 0x80 && cp <= 0x9f) /* C1 controls */
		return 1;
	switch (cp) {
	case 0x00ad: /* soft hyphen */
	case 0x061c: /* arabic letter mark */
	case 0x180e: /* mongolian vowel separator */
	case 0x2028: /* line separator */
	case 0x2029: /* paragraph separator */
	case 0xfeff: /* zero width no-break space */
		return 1;
	}
	if (cp >= 0x200b && cp <= 0x200f) /* zero width, LRM, RLM */
		return 1;
	if (cp >= 0x202a && cp <= 0x202e) /* bidi embeddings, overrides */
		return 1;
	if (cp >= 0x2060 && cp <= 0x206f) /* bidi isolates, invisibles */
		return 1;
	if (cp >= 0xfff9 && cp <= 0xfffb) /* interlinear annotations */
		return 1;
	return 0;
}

static const char hex[] = "0123456789abcdef";

void
text_escape(struct buf *b, const char *s, size_t len)
{
	size_t i = 0, at;
	uint32_t c;

	buf_reserve(b, len);
	while (i < len) {
		at = i;
		if (text_utf8_next(s, len, &i, &c) < 0) {
			buf_adds(b, "\\x");
			buf_addc(b, hex[c >> 4]);
			buf_addc(b, hex[c & 15]);
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
			buf_adds(b, "\\x");
			buf_addc(b, hex[c >> 4]);
			buf_addc(b, hex[c & 15]);
		} else if (text_is_unsafe_cp(c)) {
			buf_adds(b, "\\u");
			buf_addc(b, hex[(c >> 12) & 15]);
			buf_addc(b, hex[(c >> 8) & 15]);
			buf_addc(b, hex[(c >> 4) & 15]);
			buf_addc(b, hex[c & 15]);
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
		if (n == 4 && v >= 0xd800 && v <= 0xdfff)
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
		if (c < 0x20 || c == 0x7f || text_is_unsafe_cp(c)) {
			buf_adds(b, "\\u");
			buf_addc(b, hex[(c >> 12) & 15]);
			buf_addc(b, hex[(c >> 8) & 15]);
			buf_addc(b, hex[(c >> 4) & 15]);
			buf_addc(b, hex[c & 15]);
		} else
			buf_add(b, s + at, i - at);
	}
	buf_addc(b, '"');
}
