/* SPDX-License-Identifier: MIT */
/* fuzz_jid.c -- libFuzzer harness for jid_parse() and the JID helpers */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jid.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/*
 * jid_parse() must not crash on any input; a JID it accepts must give
 * back, as jid_full() and jid_bare(), strings that parse to the same parts.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jid j, k;
	const char *why = NULL;
	char *s, *full, *bare, *bare_of;

	s = xstrndup((const char *)data, size); /* cut at the first NUL */
	if (jid_parse(s, &j, &why) != 0) {
		if (why == NULL || j.local || j.domain || j.resource)
			abort();
		free(s);
		return 0;
	}
	if (j.domain == NULL)
		abort();
	full = jid_full(&j);
	bare = jid_bare(&j);

	if (jid_parse(full, &k, &why) != 0)
		abort();
	if (!same(j.local, k.local) || !same(j.domain, k.domain) ||
	    !same(j.resource, k.resource))
		abort();
	jid_free(&k);

	if (jid_parse(bare, &k, &why) != 0)
		abort();
	if (!same(j.local, k.local) || !same(j.domain, k.domain) ||
	    k.resource != NULL)
		abort();
	jid_free(&k);

	/* The string helpers agree with the parser. */
	if (jid_has_resource(full) != (j.resource != NULL))
		abort();
	bare_of = jid_bare_of(full);
	if (strcmp(bare_of, bare) != 0 || !jid_same_bare(full, bare))
		abort();
	free(bare_of);

	free(full);
	free(bare);
	jid_free(&j);
	free(s);
	return 0;
}
