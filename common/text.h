/* SPDX-License-Identifier: MIT */
/* text.h -- UTF-8, the characters XML can carry, and record escaping */

#ifndef XMPPTOOLS_TEXT_H
#define XMPPTOOLS_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Pure functions: no I/O, no global state. */

/*
 * text_utf8_next()
 *
 * Decodes the code point at s[*i] (of 'len' bytes) into *cp and advances *i.
 * Returns 0, or -1 on an invalid, overlong, truncated or surrogate sequence
 * (then *i advances by one byte and *cp is the byte's value).
 */
int text_utf8_next(const char *s, size_t len, size_t *i, uint32_t *cp);

/* Appends the UTF-8 encoding of 'cp' to 'b'. */
void text_utf8_put(struct buf *b, uint32_t cp);

enum text_problem {
	TEXT_OK = 0,
	TEXT_BAD_UTF8, /* not UTF-8 */
	TEXT_BAD_CHAR /* a character XML 1.0 cannot carry */
};

/*
 * text_check_xml()
 *
 * Checks that 's' can be the text of an XML 1.0 element: valid UTF-8 and
 * only characters XML allows (no NUL, no C0 control but tab, newline and
 * carriage return, no U+FFFE or U+FFFF).  On a problem, *offset is its byte
 * offset and *cp the offending byte or code point.
 */
enum text_problem
text_check_xml(const char *s, size_t len, size_t *offset, uint32_t *cp);

/*
 * text_clean_xml()
 *
 * Returns a copy of 's' (caller frees) in which every invalid byte and every
 * character XML cannot carry is replaced by U+FFFD; *replaced counts them.
 */
char *text_clean_xml(const char *s, size_t len, size_t *replaced);

/*
 * text_escape()
 *
 * Appends 's' to 'b' so that it is one line of harmless text: backslash,
 * newline, carriage return and tab become \\ \n \r \t; other C0 controls,
 * DEL and bytes that are not UTF-8 become \xHH; the code points of
 * text_is_unsafe_cp() (C1 controls, bidi controls, every default-ignorable
 * code point, the line/paragraph separators) become \uHHHH, or \UHHHHHHHH
 * above U+FFFF.  text_unescape() reverses it exactly.
 */
void text_escape(struct buf *b, const char *s, size_t len);

/* text_escape() of the first 'len' bytes of 's', as a new string. */
char *text_escape_dup(const char *s, size_t len);

/*
 * text_unescape()
 *
 * Appends the unescaped form of 's' to 'b' (\\ \n \r \t \xHH \uHHHH
 * \UHHHHHHHH).  Returns 0, or -1 on a malformed escape or a surrogate or
 * out-of-range code point (then 'b' holds what was decoded before it).
 */
int text_unescape(struct buf *b, const char *s, size_t len);

/*
 * text_json_string()
 *
 * Appends 's' as a JSON string with its quotes (RFC 8259), escaping also
 * DEL, C1, bidirectional and format controls so the line is safe on a
 * terminal.  Bytes that are not UTF-8 become U+FFFD.
 */
void text_json_string(struct buf *b, const char *s, size_t len);

/*
 * text_is_unsafe_cp()
 *
 * True for the code points above U+007F that text_escape() escapes and that
 * JIDs may not hold (jid.c): C1 controls, the line/paragraph separators,
 * the interlinear annotation controls, U+2800 (a blank that is a letter),
 * and every code point of text_is_default_ignorable() (bidi controls, zero
 * widths, variation selectors, tags, Hangul fillers...).
 */
int text_is_unsafe_cp(uint32_t cp);

/*
 * text_is_default_ignorable()
 *
 * True for the code points of Unicode's Default_Ignorable_Code_Point
 * property (DerivedCoreProperties.txt, Unicode 15.0): drawn as nothing.
 */
int text_is_default_ignorable(uint32_t cp);

#endif
