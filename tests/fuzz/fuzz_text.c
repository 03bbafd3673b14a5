/* SPDX-License-Identifier: MIT */
/* fuzz_text.c -- libFuzzer harness for the escaping functions of text.c */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "util.h"

#include "testutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct buf e, u, want;
	size_t off, n;
	uint32_t cp;
	char *clean;
	enum text_problem problem;

	/* escape: one safe line of valid UTF-8; unescape gives it back. */
	buf_init(&e);
	buf_init(&u);
	text_escape(&e, in, size);
	if (e.len > 0 && tu_first_unsafe(e.data, e.len, NULL) != (size_t)-1)
		abort();
	if (text_unescape(&u, e.data ? e.data : "", e.len) != 0)
		abort();
	if (u.len != size || (size > 0 && memcmp(u.data, in, size) != 0))
		abort();
	buf_free(&e);
	buf_free(&u);

	/* unescape of anything: no crash; output stays a string. */
	buf_init(&u);
	(void)text_unescape(&u, in, size);
	if (u.data != NULL && u.data[u.len] != '\0')
		abort();
	buf_free(&u);

	/* JSON: valid, no raw control byte, decodes to the input. */
	buf_init(&e);
	buf_init(&u);
	buf_init(&want);
	text_json_string(&e, in, size);
	if (!tu_json_valid(e.data, e.len))
		abort();
	if (tu_first_unsafe(e.data, e.len, NULL) != (size_t)-1)
		abort();
	if (tu_json_decode_string(e.data, e.len, &u) != 0)
		abort();
	tu_replace_invalid(&want, in, size);
	if (u.len != want.len ||
	    (want.len > 0 && memcmp(u.data, want.data, want.len) != 0))
		abort();
	buf_free(&e);
	buf_free(&u);
	buf_free(&want);

	/* clean_xml: its output passes check_xml; clean input is kept. */
	clean = text_clean_xml(in, size, &n);
	if (text_check_xml(clean, strlen(clean), &off, &cp) != TEXT_OK)
		abort();
	problem = text_check_xml(in, size, &off, &cp);
	if ((problem == TEXT_OK) != (n == 0))
		abort();
	if (problem == TEXT_OK &&
	    (strlen(clean) != size || memcmp(clean, in, size) != 0))
		abort();
	if (problem != TEXT_OK && off >= size)
		abort();
	free(clean);
	return 0;
}
