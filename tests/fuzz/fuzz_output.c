/* SPDX-License-Identifier: MIT */
/* fuzz_output.c -- libFuzzer harness for output_format_record() */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "output.h"
#include "text.h"
#include "util.h"

#include "testutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEYS "ftybsiTr"
#define NVALUES 8

/*
 * How many newlines and NUL bytes a checked template writes by itself
 * (field values are escaped, so they add none without -0).
 */
static void
template_counts(const char *t, size_t *newlines, size_t *nuls)
{
	*newlines = *nuls = 0;
	for (; *t; t++) {
		if (*t == '%' && t[1]) {
			t++;
		} else if (*t == '\\' && t[1]) {
			t++;
			*newlines += *t == 'n';
			*nuls += *t == '0';
		} else
			*newlines += *t == '\n';
	}
}

static void
check_text(const struct orecord *r, int tty)
{
	struct output o;
	struct buf b;
	size_t i, ntext = 0;

	output_init(&o, OUT_TEXT, NULL, 0);
	o.tty = tty;
	buf_init(&b);
	output_format_record(&o, r, &b);
	for (i = 0; i < r->n; i++)
		ntext += (r->f[i].flags & OF_TEXT) != 0;
	/* One record, one line: one '\n' at the end, tabs between fields. */
	if (b.len == 0 || b.data[b.len - 1] != '\n' ||
	    tu_count(b.data, b.len, '\n') != 1)
		abort();
	if (tu_count(b.data, b.len, '\t') != (ntext ? ntext - 1 : 0))
		abort();
	if (tu_first_unsafe(b.data, b.len - 1, "\t") != (size_t)-1)
		abort();
	buf_free(&b);
	output_free(&o);
}

static void
check_json(const struct orecord *r, int nul)
{
	struct output o;
	struct buf b;

	output_init(&o, OUT_JSON, NULL, nul);
	o.tty = 0;
	buf_init(&b);
	output_format_record(&o, r, &b);
	if (b.len == 0 || b.data[b.len - 1] != (nul ? '\0' : '\n'))
		abort();
	if (tu_count(b.data, b.len, '\n') != (nul ? 0u : 1u) ||
	    tu_count(b.data, b.len, '\0') != (nul ? 1u : 0u))
		abort();
	if (!tu_json_valid(b.data, b.len - 1))
		abort();
	if (tu_first_unsafe(b.data, b.len - 1, NULL) != (size_t)-1)
		abort();
	buf_free(&b);
	output_free(&o);
}

static void
check_template(const struct orecord *r, const char *t, int nul, int tty)
{
	struct output o;
	struct buf b;
	size_t newlines, nuls;

	output_init(&o, OUT_TEMPLATE, t, nul);
	o.tty = tty;
	buf_init(&b);
	output_format_record(&o, r, &b);
	if (!nul) {
		template_counts(t, &newlines, &nuls);
		if (tu_count(b.data, b.len, '\n') != newlines + 1 ||
		    tu_count(b.data, b.len, '\0') != nuls ||
		    b.data[b.len - 1] != '\n')
			abort();
	} else if (b.len == 0 || b.data[b.len - 1] != '\0')
		abort();
	buf_free(&b);
	output_free(&o);
}

/* The body goes through a stanza and back: one line, the same text. */
static void
check_xml(const char *body)
{
	static xmpp_ctx_t *ctx;
	xmpp_stanza_t *st, *back;
	struct output o;
	struct orecord r;
	struct buf b;
	size_t off;
	uint32_t cp;
	char *got;

	if (text_check_xml(body, strlen(body), &off, &cp) != TEXT_OK)
		return;
	if (ctx == NULL && (ctx = xmpp_ctx_new(NULL, NULL)) == NULL)
		abort();
	st = xmpp_message_new(ctx, "chat", "a@example.com", "id");
	xmpp_message_set_body(st, body);
	orecord_init(&r, "message", st);
	output_init(&o, OUT_XML, NULL, 0);
	buf_init(&b);
	output_format_record(&o, &r, &b);
	if (b.len == 0 || tu_count(b.data, b.len, '\n') != 1 ||
	    tu_count(b.data, b.len, '\r') != 0 ||
	    tu_first_unsafe(b.data, b.len - 1, "\t") != (size_t)-1)
		abort();
	b.data[--b.len] = '\0';
	back = xmpp_stanza_new_from_string(ctx, b.data);
	if (back == NULL)
		abort();
	got = xmpp_message_get_body(back);
	if (strcmp(got ? got : "", body) != 0)
		abort();
	if (got)
		xmpp_free(ctx, got);
	xmpp_stanza_release(back);
	xmpp_stanza_release(st);
	buf_free(&b);
	output_free(&o);
}

/*
 * The input is split at NUL bytes: first a flags byte, then the template,
 * then up to eight field values (a missing value is an absent field).
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int flags[NVALUES] = { OF_TEXT, 0, OF_NUMBER, OF_TEXT,
		OF_BOOL, 0, OF_TEXT, OF_LIST };
	char *copy, *p, *end, *template = NULL, *values[NVALUES] = { 0 };
	struct orecord r;
	unsigned mode = 0;
	size_t i, n = 0;
	char *err = NULL;

	if (size == 0)
		return 0;
	mode = data[0];
	copy = xmalloc(size);
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	end = copy + size - 1;
	for (p = copy; p <= end && n < NVALUES + 1; p += strlen(p) + 1) {
		if (n == 0)
			template = p;
		else
			values[n - 1] = p;
		n++;
	}

	orecord_init(&r, "message", NULL);
	for (i = 0; i < NVALUES; i++)
		orecord_add(&r, KEYS[i], "field", values[i], flags[i]);

	check_text(&r, mode & 1);
	check_json(&r, (mode & 2) != 0);
	if (output_check_template(template, KEYS, &err) == 0)
		check_template(&r, template, (mode & 2) != 0, mode & 1);
	else
		free(err);
	if (values[0] != NULL)
		check_xml(values[0]);
	free(copy);
	return 0;
}
