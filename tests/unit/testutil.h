/* SPDX-License-Identifier: MIT */
/* testutil.h -- helpers shared by the unit tests and the fuzz harnesses */

#ifndef XMPPTOOLS_TESTUTIL_H
#define XMPPTOOLS_TESTUTIL_H

/*
 * Header-only (static functions) so that every test program and every fuzz
 * harness can include it without a Makefile change.  No cmocka here: the
 * checks return a value and the caller asserts on it.
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "text.h"

/* --- a seeded PRNG (xorshift64*), the same sequence on every machine --- */

struct prng {
	uint64_t s;
};

static inline void
prng_seed(struct prng *r, uint64_t seed)
{
	r->s = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

static inline uint32_t
prng_next(struct prng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return (uint32_t)((r->s * 0x2545f4914f6cdd1dULL) >> 32);
}

static inline uint32_t
prng_below(struct prng *r, uint32_t n)
{
	return n ? prng_next(r) % n : 0;
}

/*
 * Fills 'out' with 'len' bytes mixing the interesting cases: ASCII text,
 * controls, backslashes, tabs and newlines, valid multi-byte UTF-8 (with
 * bidi overrides, C1 controls, separators, U+FFFE), and raw invalid bytes
 * (continuation bytes, truncated leads, overlongs, surrogates).
 */
static inline void
prng_bytes(struct prng *r, char *out, size_t len)
{
	static const char *const pieces[] = { "\\", "\n", "\r", "\t", "\x01",
		"\x7f", "\x1b[31m", "\"", "<", ">", "&", "%", "\xc2\x85",
		"\xc2\x9b", "\xe2\x80\xae", "\xe2\x80\xa8", "\xe2\x80\x8b",
		"\xef\xbb\xbf", "\xef\xbf\xbe", "\xef\xbf\xbf", "\xc3\xa9",
		"\xf0\x9f\x98\x80", "\xed\xa0\x80", "\xc0\xaf", "\xe0\x80\xaf",
		"\xf4\x90\x80\x80", "\xf8", "\xff", "\x80", "\xc3", "\xe2\x80",
		"\\x41", "\\u202e", "\\n", "\\", "a", "b", " ", "\x00" };
	const size_t npieces = sizeof(pieces) / sizeof(pieces[0]);
	size_t i = 0, n, k;
	const char *p;

	while (i < len) {
		switch (prng_below(r, 4)) {
		case 0: /* any byte */
			out[i++] = (char)prng_below(r, 256);
			break;
		case 1: /* printable ASCII */
			out[i++] = (char)(0x20 + prng_below(r, 95));
			break;
		default: /* a piece; "\x00" stands for a NUL byte */
			k = prng_below(r, (uint32_t)npieces);
			p = pieces[k];
			n = k == npieces - 1 ? 1 : strlen(p);
			if (n > len - i)
				n = len - i;
			memcpy(out + i, p, n);
			i += n;
			break;
		}
	}
}

/* --- checks on byte strings --- */

/* True when s[0..len) is valid UTF-8 (as text_utf8_next() sees it). */
static inline int
tu_valid_utf8(const char *s, size_t len)
{
	size_t i = 0;
	uint32_t cp;

	while (i < len)
		if (text_utf8_next(s, len, &i, &cp) < 0)
			return 0;
	return 1;
}

/*
 * Returns the offset of the first byte < 0x20 (other than 'allow', which
 * may be 0 for none), DEL, or unsafe code point (text_is_unsafe_cp()), or
 * (size_t)-1 when there is none.  Invalid UTF-8 counts as a hit too.
 */
static inline size_t
tu_first_unsafe(const char *s, size_t len, const char *allow)
{
	size_t i = 0, at;
	uint32_t cp;

	while (i < len) {
		at = i;
		if (text_utf8_next(s, len, &i, &cp) < 0)
			return at;
		if (cp < 0x20 &&
		    (allow == NULL || cp == 0 ||
			strchr(allow, (int)cp) == NULL))
			return at;
		if (cp == 0x7f || text_is_unsafe_cp(cp))
			return at;
	}
	return (size_t)-1;
}

/* Counts the bytes equal to 'c'. */
static inline size_t
tu_count(const char *s, size_t len, char c)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		n += s[i] == c;
	return n;
}

/*
 * The expected result of decoding text that went through a lossy UTF-8
 * filter: every byte text_utf8_next() rejects becomes U+FFFD.
 */
static inline void
tu_replace_invalid(struct buf *b, const char *s, size_t len)
{
	size_t i = 0, at;
	uint32_t cp;

	while (i < len) {
		at = i;
		if (text_utf8_next(s, len, &i, &cp) < 0)
			buf_adds(b, "\xef\xbf\xbd");
		else
			buf_add(b, s + at, i - at);
	}
}

/* --- a small strict JSON (RFC 8259) checker and string decoder --- */

struct tu_json {
	const char *s;
	size_t len, i;
	int depth;
};

static inline int tu_json_value(struct tu_json *j);

static inline int
tu_json_hex4(struct tu_json *j, uint32_t *v)
{
	size_t k;
	char c;

	*v = 0;
	if (j->len - j->i < 4)
		return -1;
	for (k = 0; k < 4; k++) {
		c = j->s[j->i++];
		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

/*
 * Parses one JSON string at j->i (the opening quote) and appends its
 * decoded UTF-8 to 'out' when not NULL.  Raw bytes below 0x20 and invalid
 * UTF-8 are errors; lone surrogate escapes are errors.
 */
static inline int
tu_json_string(struct tu_json *j, struct buf *out)
{
	uint32_t cp, lo;
	size_t at;

	if (j->i >= j->len || j->s[j->i] != '"')
		return -1;
	j->i++;
	while (j->i < j->len) {
		at = j->i;
		if (text_utf8_next(j->s, j->len, &j->i, &cp) < 0)
			return -1;
		if (cp == '"')
			return 0;
		if (cp < 0x20)
			return -1;
		if (cp != '\\') {
			if (out)
				buf_add(out, j->s + at, j->i - at);
			continue;
		}
		if (j->i >= j->len)
			return -1;
		switch (j->s[j->i++]) {
		case '"':
			cp = '"';
			break;
		case '\\':
			cp = '\\';
			break;
		case '/':
			cp = '/';
			break;
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		case 'u':
			if (tu_json_hex4(j, &cp) < 0)
				return -1;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return -1;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (j->len - j->i < 6 || j->s[j->i] != '\\' ||
				    j->s[j->i + 1] != 'u')
					return -1;
				j->i += 2;
				if (tu_json_hex4(j, &lo) < 0 || lo < 0xdc00 ||
				    lo > 0xdfff)
					return -1;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
			}
			break;
		default:
			return -1;
		}
		if (out)
			text_utf8_put(out, cp);
	}
	return -1;
}

static inline void
tu_json_ws(struct tu_json *j)
{
	while (j->i < j->len &&
	    (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' ||
		j->s[j->i] == '\r'))
		j->i++;
}

static inline int
tu_json_digits(struct tu_json *j)
{
	size_t start = j->i;

	while (j->i < j->len && j->s[j->i] >= '0' && j->s[j->i] <= '9')
		j->i++;
	return j->i > start ? 0 : -1;
}

static inline int
tu_json_number(struct tu_json *j)
{
	if (j->i < j->len && j->s[j->i] == '-')
		j->i++;
	if (j->i < j->len && j->s[j->i] == '0')
		j->i++;
	else if (tu_json_digits(j) < 0)
		return -1;
	if (j->i < j->len && j->s[j->i] == '.') {
		j->i++;
		if (tu_json_digits(j) < 0)
			return -1;
	}
	if (j->i < j->len && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
		j->i++;
		if (j->i < j->len && (j->s[j->i] == '+' || j->s[j->i] == '-'))
			j->i++;
		if (tu_json_digits(j) < 0)
			return -1;
	}
	return 0;
}

static inline int
tu_json_word(struct tu_json *j, const char *w)
{
	size_t n = strlen(w);

	if (j->len - j->i < n || memcmp(j->s + j->i, w, n) != 0)
		return -1;
	j->i += n;
	return 0;
}

static inline int
tu_json_container(struct tu_json *j, char open, char close)
{
	int first = 1;

	j->i++; /* the opening bracket */
	if (++j->depth > 64)
		return -1;
	for (;;) {
		tu_json_ws(j);
		if (j->i >= j->len)
			return -1;
		if (j->s[j->i] == close) {
			j->i++;
			j->depth--;
			return 0;
		}
		if (!first) {
			if (j->s[j->i] != ',')
				return -1;
			j->i++;
			tu_json_ws(j);
		}
		first = 0;
		if (open == '{') {
			if (tu_json_string(j, NULL) < 0)
				return -1;
			tu_json_ws(j);
			if (j->i >= j->len || j->s[j->i] != ':')
				return -1;
			j->i++;
			tu_json_ws(j);
		}
		if (tu_json_value(j) < 0)
			return -1;
	}
}

static inline int
tu_json_value(struct tu_json *j)
{
	if (j->i >= j->len)
		return -1;
	switch (j->s[j->i]) {
	case '{':
		return tu_json_container(j, '{', '}');
	case '[':
		return tu_json_container(j, '[', ']');
	case '"':
		return tu_json_string(j, NULL);
	case 't':
		return tu_json_word(j, "true");
	case 'f':
		return tu_json_word(j, "false");
	case 'n':
		return tu_json_word(j, "null");
	default:
		return tu_json_number(j);
	}
}

/* True when s[0..len) is exactly one JSON value (whitespace around). */
static inline int
tu_json_valid(const char *s, size_t len)
{
	struct tu_json j = { s, len, 0, 0 };

	tu_json_ws(&j);
	if (tu_json_value(&j) < 0)
		return 0;
	tu_json_ws(&j);
	return j.i == len;
}

/*
 * Decodes s[0..len), which must be exactly one JSON string, into 'out'.
 * Returns 0, or -1 when it is not one valid JSON string.
 */
static inline int
tu_json_decode_string(const char *s, size_t len, struct buf *out)
{
	struct tu_json j = { s, len, 0, 0 };

	if (tu_json_string(&j, out) < 0)
		return -1;
	return j.i == len ? 0 : -1;
}

#endif
