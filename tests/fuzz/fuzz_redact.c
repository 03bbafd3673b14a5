/* SPDX-License-Identifier: MIT */
/* fuzz_redact.c -- libFuzzer harness for stanza_redact_trace() */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stanza.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The -vv trace filter: no crash on any line; a line without a secret
 * element comes out unchanged; every <password> that comes out is
 * followed by "[redacted]".
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf b;
	char *line;
	const char *p;

	line = xstrndup((const char *)data, size);
	buf_init(&b);
	stanza_redact_trace(&b, line);
	if (b.data == NULL || strlen(b.data) != b.len)
		abort();
	if (strstr(line, "<password") == NULL &&
	    strstr(line, "xmpp-sasl") == NULL && strcmp(b.data, line) != 0)
		abort();
	for (p = strstr(b.data, "<password>"); p != NULL;
	     p = strstr(p + 1, "<password>"))
		if (strncmp(p + 10, "[redacted]", 10) != 0)
			abort();
	buf_free(&b);
	free(line);
	return 0;
}
