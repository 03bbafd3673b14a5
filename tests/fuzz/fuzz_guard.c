/* SPDX-License-Identifier: MIT */
/* fuzz_guard.c -- libFuzzer harness for the XML guard (xmlguard.c) */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "xmlguard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The input is a header and the bytes of a stream:
 *
 *   data[0]  bits 0-3: the stanza limit, 64 << n bytes; bits 4-7: the
 *            depth limit, 1 + 4 * n;
 *   data[1]  the chunk size (0: 1 byte), as libstrophe feeds what it read;
 *   the rest what the server sent.
 *
 * The parser is made and driven the way libstrophe 0.12 does.  Checked: no
 * crash, leak or undefined behaviour; its handlers never see an element
 * deeper than the limit allows, nor a text longer than the stanza limit;
 * nothing reaches them after a violation; XML_Parse() answers OK once the
 * guard has stopped the stream.
 */

struct state {
	int depth;
	int stopped_seen; /* a handler ran after a violation */
	size_t text;
};

static int max_depth;
static size_t max_bytes;

static void
check(struct state *st)
{
	if (xmlguard_violation() != XG_NONE)
		st->stopped_seen = 1;
}

static void XMLCALL
on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct state *st = ud;

	(void)name, (void)attrs;
	check(st);
	if (++st->depth > max_depth + 1)
		abort();
}

static void XMLCALL
on_end(void *ud, const XML_Char *name)
{
	struct state *st = ud;

	(void)name;
	check(st);
	st->depth--;
}

static void XMLCALL
on_text(void *ud, const XML_Char *s, int len)
{
	struct state *st = ud;

	(void)s;
	check(st);
	if (len < 0 || (size_t)len > max_bytes)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const XML_Char sep[] = { '\x1F', '\0' };
	struct state st = { 0, 0, 0 };
	XML_Parser p;
	size_t chunk, off;
	int rc;

	if (size < 2)
		return 0;
	max_bytes = (size_t)64 << (data[0] & 15);
	max_depth = 1 + 4 * (data[0] >> 4);
	chunk = data[1] ? data[1] : 1;
	xmlguard_set_limits(max_bytes, max_depth);
	p = XML_ParserCreate_MM(NULL, NULL, sep);
	if (p == NULL)
		return 0;
	XML_SetUserData(p, &st);
	XML_SetElementHandler(p, on_start, on_end);
	XML_SetCharacterDataHandler(p, on_text);
	for (off = 2; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		int stopped = xmlguard_violation() != XG_NONE;

		rc = XML_Parse(p, (const char *)data + off, (int)n, 0);
		if (stopped && (rc != XML_STATUS_OK || st.stopped_seen))
			abort();
		if (xmlguard_violation() == XG_NONE && rc != XML_STATUS_OK)
			abort(); /* an expat error is a violation too */
	}
	XML_ParserFree(p);
	return 0;
}
