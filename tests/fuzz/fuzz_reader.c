/* SPDX-License-Identifier: MIT */
/* fuzz_reader.c -- libFuzzer harness for the stanza-line reader (reader.c) */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "reader.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The input is a header and the bytes to read:
 *
 *   data[0]    bits 0-1: the size limit (64, 512, 4096 or 1 MiB);
 *              bits 2-3: the callback stops on this stanza (0: never);
 *              bit 4:    the final feed is a separate empty one;
 *              bits 5-7: n - 1, the number of chunk-size bytes;
 *   data[1..n] the sizes of the chunks, used in turn (0: all the rest);
 *   the rest   what the reader is fed.
 *
 * Checked: no crash, no leak, no undefined behaviour; every stanza handed
 * out serializes with xmpp_stanza_to_text() and a second reader reads that
 * text back to the same stanza; lines never go back; the callback is not
 * called after it said stop; an error has a "line N: " message (none when
 * the callback stopped) and every later feed fails the same way.
 *
 * "The same stanza" is compared on a canonical form (attributes sorted),
 * because libstrophe writes attributes in the order of its hash table,
 * which depends on the order they were added in.  The form also applies
 * what libstrophe's serialization loses by design: the xmlns of a stanza
 * that is jabber:client and the xmlns of a child equal to its parent's are
 * left out, and carriage returns in text and tabs, newlines and carriage
 * returns in attribute values are written raw, so that XML reads them back
 * as newlines (text) or spaces (attributes).
 */

static const size_t limits[4] = { 64, 512, 4096, (size_t)1 << 20 };

static xmpp_ctx_t *ctx;

/* Appends 'n' and the bytes: unambiguous without escaping. */
static void
put_counted(struct buf *b, const char *s, size_t n)
{
	buf_printf(b, "%zu:", n);
	buf_add(b, s, n);
}

/*
 * What XML makes of a raw value on reading: line ends become "\n"; in an
 * attribute value every tab and newline then becomes a space.
 */
static char *
as_reread(const char *s, int attribute)
{
	size_t i, n = 0, len = strlen(s);
	char *out = xmalloc(len + 1), c;

	for (i = 0; i < len; i++) {
		c = s[i];
		if (c == '\r') {
			if (i + 1 < len && s[i + 1] == '\n')
				i++;
			c = '\n';
		}
		if (attribute && (c == '\n' || c == '\t'))
			c = ' ';
		out[n++] = c;
	}
	out[n] = '\0';
	return out;
}

static int
cmp_pairs(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The canonical form of 'st'; with 'lossy', as it is once serialized and
 * read again ('parent' is NULL for the stanza itself).
 */
static void
canon(struct buf *b, xmpp_stanza_t *st, xmpp_stanza_t *parent, int lossy)
{
	xmpp_stanza_t *c;
	const char **attrs;
	const char *pv;
	char *v;
	int n, i;

	if (xmpp_stanza_is_text(st)) {
		const char *t = xmpp_stanza_get_text_ptr(st);

		v = lossy ? as_reread(t ? t : "", 0) : xstrdup(t ? t : "");
		buf_adds(b, "T");
		put_counted(b, v, strlen(v));
		free(v);
		return;
	}
	buf_adds(b, "<");
	put_counted(
	    b, xmpp_stanza_get_name(st), strlen(xmpp_stanza_get_name(st)));
	n = xmpp_stanza_get_attribute_count(st);
	attrs = xcalloc((size_t)n * 2 + 2, sizeof(*attrs));
	(void)xmpp_stanza_get_attributes(st, attrs, n * 2);
	for (i = 0; i < n && attrs[2 * i] != NULL; i++)
		;
	n = i;
	qsort(attrs, (size_t)n, 2 * sizeof(*attrs), cmp_pairs);
	for (i = 0; i < n; i++) {
		const char *k = attrs[2 * i], *val = attrs[2 * i + 1];

		if (lossy && strcmp(k, "xmlns") == 0) {
			if (parent == NULL && strcmp(val, "jabber:client") == 0)
				continue;
			pv = parent ? xmpp_stanza_get_attribute(parent, "xmlns")
				    : NULL;
			if (pv != NULL && strcmp(pv, val) == 0)
				continue;
		}
		v = lossy ? as_reread(val, 1) : xstrdup(val);
		buf_adds(b, " ");
		put_counted(b, k, strlen(k));
		buf_adds(b, "=");
		put_counted(b, v, strlen(v));
		free(v);
	}
	free(attrs);
	buf_adds(b, ">");
	for (c = xmpp_stanza_get_children(st); c; c = xmpp_stanza_get_next(c))
		canon(b, c, st, lossy);
	buf_adds(b, "</>");
}

struct run {
	int n; /* stanzas handed out */
	int stop_at; /* 0: never */
	int stopped;
	unsigned long last_line;
	int reread; /* this run reads a serialized stanza back */
	char *back; /* there: the canonical form of what came back */
};

static int on_stanza(xmpp_stanza_t *st, unsigned long line, void *ud);

/* Reads the serialized stanza 'xml' with a fresh reader: its form. */
static char *
read_back(const char *xml, size_t len)
{
	struct run rr;
	struct reader *r;
	char *err = NULL;

	memset(&rr, 0, sizeof(rr));
	rr.reread = 1;
	r = reader_new(ctx, SIZE_MAX, on_stanza, &rr);
	if (r == NULL)
		abort();
	if (reader_feed(r, xml, len, 1, &err) != 0 || err != NULL)
		abort(); /* what libstrophe wrote must be readable */
	if (rr.n != 1 || rr.back == NULL)
		abort();
	reader_free(r);
	return rr.back;
}

static int
on_stanza(xmpp_stanza_t *st, unsigned long line, void *ud)
{
	struct run *run = ud;
	struct buf want;
	char *xml = NULL, *back;
	size_t len = 0;

	if (run->stopped || line < 1 || line < run->last_line)
		abort();
	run->last_line = line;
	run->n++;
	if (xmpp_stanza_to_text(st, &xml, &len) != XMPP_EOK || xml == NULL ||
	    strlen(xml) != len)
		abort();
	if (run->reread) {
		struct buf got;

		if (run->back != NULL || line != 1)
			abort();
		buf_init(&got);
		canon(&got, st, NULL, 0);
		run->back = buf_steal(&got);
	} else {
		back = read_back(xml, len);
		buf_init(&want);
		canon(&want, st, NULL, 1);
		if (strcmp(back, want.data) != 0)
			abort();
		buf_free(&want);
		free(back);
	}
	xmpp_free(ctx, xml);
	xmpp_stanza_release(st);
	if (run->stop_at && run->n == run->stop_at) {
		run->stopped = 1;
		return -1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in;
	size_t nsizes, len, off = 0, chunk, k = 0;
	struct run run;
	struct reader *r;
	char *err = NULL, *again = NULL;
	int rc = 0, separate_final, n;

	if (ctx == NULL)
		ctx = xmpp_ctx_new(NULL, NULL);
	if (size < 1)
		return 0;
	nsizes = 1 + (data[0] >> 5);
	if (size < 1 + nsizes)
		return 0;
	separate_final = (data[0] >> 4) & 1;
	in = (const char *)data + 1 + nsizes;
	len = size - 1 - nsizes;

	memset(&run, 0, sizeof(run));
	run.stop_at = (data[0] >> 2) & 3;
	r = reader_new(ctx, limits[data[0] & 3], on_stanza, &run);
	if (r == NULL)
		abort();
	while (rc == 0 && off < len) {
		chunk = data[1 + k++ % nsizes];
		if (chunk == 0 || chunk > len - off)
			chunk = len - off;
		rc = reader_feed(r, in + off, chunk,
		    !separate_final && off + chunk == len, &err);
		off += chunk;
	}
	if (rc == 0 && (separate_final || len == 0))
		rc = reader_feed(r, "", 0, 1, &err);

	if (rc == 0) {
		if (err != NULL || run.stopped || reader_inside_stanza(r))
			abort();
	} else {
		if (rc != -1)
			abort();
		/* A message exactly when the callback did not stop it. */
		if (run.stopped != (err == NULL))
			abort();
		if (err != NULL && strncmp(err, "line ", 5) != 0)
			abort();
		n = run.n;
		if (reader_feed(r, "<message/>", 10, 0, &again) != -1 ||
		    run.n != n)
			abort();
		if ((err == NULL) != (again == NULL) ||
		    (err != NULL && strcmp(err, again) != 0))
			abort();
		free(again);
	}
	free(err);
	reader_free(r);
	return 0;
}
