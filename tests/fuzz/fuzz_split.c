/* SPDX-License-Identifier: MIT */
/* fuzz_split.c -- libFuzzer harness for exec_split(), the --exec splitter */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Quotes 'w' for exec_split(): single quotes, a ' as '\''. */
static void
quote(struct buf *b, const char *w)
{
	buf_addc(b, '\'');
	for (; *w; w++)
		if (*w == '\'')
			buf_adds(b, "'\\''");
		else
			buf_addc(b, *w);
	buf_addc(b, '\'');
}

/*
 * exec_split() must not crash on any input.  Its words hold no more bytes
 * than the input; and the words, each quoted and joined with blanks, split
 * back into the same words (quoting is the inverse of splitting).
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, **argv, **again;
	struct buf b;
	size_t i, total = 0;

	s = xstrndup((const char *)data, size); /* cut at the first NUL */
	argv = exec_split(s);
	if (argv == NULL) {
		free(s);
		return 0;
	}
	buf_init(&b);
	buf_adds(&b, "");
	for (i = 0; argv[i]; i++) {
		total += strlen(argv[i]);
		if (i)
			buf_adds(&b, i % 2 ? " " : "\t ");
		quote(&b, argv[i]);
	}
	if (total > strlen(s))
		abort();
	again = exec_split(b.data);
	if (again == NULL)
		abort();
	for (i = 0; argv[i] && again[i]; i++)
		if (strcmp(argv[i], again[i]) != 0)
			abort();
	if (argv[i] != NULL || again[i] != NULL)
		abort();
	exec_argv_free(again);
	exec_argv_free(argv);
	buf_free(&b);
	free(s);
	return 0;
}
