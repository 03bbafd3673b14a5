/* SPDX-License-Identifier: MIT */
/* reader.c -- the stanza-line reader: XML stanzas from a byte stream */

#include <stdlib.h>
#include <string.h>

#include <expat.h>
#include <strophe.h>

#include "reader.h"
#include "util.h"

#define MAX_DEPTH 64

struct reader {
	XML_Parser p;
	xmpp_ctx_t *ctx;
	reader_cb cb;
	void *ud;
	size_t max_stanza;

	int depth; /* 0: outside our wrapper, 1: top level */
	xmpp_stanza_t *stack[MAX_DEPTH + 2];
	unsigned long start_line;
	size_t start_byte; /* XML_GetCurrentByteIndex of the stanza */

	char tail[16]; /* the last bytes fed, for error messages */
	size_t tail_len;
	long fed; /* bytes fed to expat so far */
	struct buf head; /* the input's first bytes, until it is known
			    whether they hold an XML declaration */
	struct buf text; /* text of the open element not yet added (expat
			    hands it out in pieces) */
	int started;

	char *error; /* the first problem; parsing stops */
	int stopped; /* the callback said stop */
	int failed;
};

/*
 * expat needs one root element: the input is parsed as if it were wrapped
 * in <xt-stream>, which is fed before the first byte (on the same line, so
 * line numbers stay right).
 */
static const char wrapper_open[] = "<xt-stream>";
static const char wrapper_close[] = "</xt-stream>";

static void
fail(struct reader *r, const char *fmt, const char *what)
{
	if (r->error == NULL) {
		r->error = xasprintf(
		    fmt, (unsigned long)XML_GetCurrentLineNumber(r->p), what);
	}
	XML_StopParser(r->p, XML_FALSE);
}

/* Has the stanza grown past the limit, up to the end of this event? */
static int
too_big(struct reader *r)
{
	size_t end = (size_t)XML_GetCurrentByteIndex(r->p) +
	    (size_t)XML_GetCurrentByteCount(r->p);

	return end - r->start_byte > r->max_stanza;
}

/* Adds the text gathered so far to the open element. */
static void
flush_text(struct reader *r)
{
	xmpp_stanza_t *t;

	if (r->text.len == 0 || r->depth <= 1)
		return;
	t = xmpp_stanza_new(r->ctx);
	xmpp_stanza_set_text_with_size(t, r->text.data, r->text.len);
	xmpp_stanza_add_child_ex(r->stack[r->depth - 1], t, 0);
	buf_reset(&r->text);
}

static void XMLCALL
on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct reader *r = ud;
	xmpp_stanza_t *st;
	int i;

	flush_text(r);
	if (r->depth == 0) {
		r->depth = 1;
		return;
	}
	if (r->depth == 1) {
		if (strcmp(name, "message") != 0 &&
		    strcmp(name, "presence") != 0 && strcmp(name, "iq") != 0) {
			fail(r,
			    "line %lu: <%s> is not a stanza (message, "
			    "presence or iq)",
			    name);
			return;
		}
		r->start_line = XML_GetCurrentLineNumber(r->p);
		r->start_byte = (size_t)XML_GetCurrentByteIndex(r->p);
	}
	if (too_big(r)) {
		fail(r, "line %lu: stanza larger than the size limit%s", "");
		return;
	}
	if (r->depth > MAX_DEPTH) {
		fail(r, "line %lu: elements nested too deep%s", "");
		return;
	}
	st = xmpp_stanza_new(r->ctx);
	xmpp_stanza_set_name(st, name);
	for (i = 0; attrs[i]; i += 2)
		xmpp_stanza_set_attribute(st, attrs[i], attrs[i + 1]);
	if (r->depth > 1)
		xmpp_stanza_add_child_ex(r->stack[r->depth - 1], st, 0);
	r->stack[r->depth] = st;
	r->depth++;
}

static void XMLCALL
on_end(void *ud, const XML_Char *name)
{
	struct reader *r = ud;
	xmpp_stanza_t *st;
	unsigned long line;

	(void)name;
	/* After a refusal, expat still ends the elements it saw: nothing
	 * of a refused stanza may be handed out. */
	if (r->error != NULL)
		return;
	if (r->depth <= 1) {
		r->depth = 0;
		return;
	}
	if (too_big(r)) {
		fail(r, "line %lu: stanza larger than the size limit%s", "");
		return;
	}
	flush_text(r);
	r->depth--;
	if (r->depth > 1)
		return;
	st = r->stack[1];
	r->stack[1] = NULL;
	line = r->start_line;
	if (r->cb(st, line, r->ud) < 0) {
		r->stopped = 1;
		XML_StopParser(r->p, XML_FALSE);
	}
}

static void XMLCALL
on_text(void *ud, const XML_Char *s, int len)
{
	struct reader *r = ud;
	int i;

	if (r->depth <= 1) {
		for (i = 0; i < len; i++)
			if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' &&
			    s[i] != '\r') {
				fail(
				    r, "line %lu: text outside a stanza%s", "");
				return;
			}
		return;
	}
	if (too_big(r)) {
		fail(r, "line %lu: stanza larger than the size limit%s", "");
		return;
	}
	/* One text node from the pieces (expat splits text at buffer
	 * ends, lines and references): gathered, added at the next tag. */
	buf_add(&r->text, s, (size_t)len);
}

static void XMLCALL
on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal;
	fail(ud, "line %lu: document type declaration not allowed%s", "");
}

static void XMLCALL
on_pi(void *ud, const XML_Char *target, const XML_Char *data)
{
	(void)target;
	(void)data;
	fail(ud, "line %lu: processing instruction not allowed%s", "");
}

static void XMLCALL
on_entity_decl(void *ud, const XML_Char *name, int is_param,
    const XML_Char *value, int value_len, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid, const XML_Char *notation)
{
	(void)name;
	(void)is_param;
	(void)value;
	(void)value_len;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	fail(ud, "line %lu: entity declaration not allowed%s", "");
}

struct reader *
reader_new(xmpp_ctx_t *ctx, size_t max_stanza, reader_cb cb, void *ud)
{
	struct reader *r = xcalloc(1, sizeof(*r));

	r->ctx = ctx;
	r->cb = cb;
	r->ud = ud;
	r->max_stanza = max_stanza;
	buf_init(&r->head);
	buf_init(&r->text);
	r->p = XML_ParserCreate("UTF-8");
	if (r->p == NULL) {
		free(r);
		return NULL;
	}
	XML_SetUserData(r->p, r);
	XML_SetElementHandler(r->p, on_start, on_end);
	XML_SetCharacterDataHandler(r->p, on_text);
	XML_SetStartDoctypeDeclHandler(r->p, on_doctype);
	XML_SetProcessingInstructionHandler(r->p, on_pi);
	XML_SetEntityDeclHandler(r->p, on_entity_decl);
	XML_SetParamEntityParsing(r->p, XML_PARAM_ENTITY_PARSING_NEVER);
#ifdef HAVE_XML_SETREPARSEDEFERRALENABLED
	/* Expat >= 2.6 (and Debian's patched 2.5) may hold a complete tag
	 * back until more input comes; a stanza must go out when it ends. */
	XML_SetReparseDeferralEnabled(r->p, XML_FALSE);
#endif
	return r;
}

/*
 * A leading "<?xml ...?>" of the input would follow our wrapper: skip it.
 * Returns the bytes to skip, or -1 when more input is needed to know.
 */
static long
skip_xml_decl(const char *data, size_t len, int final)
{
	size_t n = len < 5 ? len : 5;
	const char *end;

	if (n == 0 || memcmp(data, "<?xml", n) != 0)
		return 0;
	if (len < 6)
		return final ? 0 : -1;
	if (data[5] != ' ' && data[5] != '\t' && data[5] != '\n' &&
	    data[5] != '\r')
		return 0;
	end = memchr(data, '>', len);
	if (end == NULL)
		return final || len > 256 ? 0 : -1;
	if (end[-1] != '?')
		return 0;
	return (long)(end + 1 - data);
}

/*
 * What expat choked on, when a plain "not well-formed" would hide it: look
 * at the bytes where it stopped ('chunk' is what was last fed, at absolute
 * offset 'base'; r->tail holds the bytes before it).
 */
static const char *
explain_error(struct reader *r, const char *chunk, size_t len, long base)
{
	char near[24];
	long at = XML_GetCurrentByteIndex(r->p), i;
	size_t n = 0;

	/* expat points at the '<', or after "<" or "<!". */
	for (i = at - 2; i < at + 14 && n < sizeof(near) - 1; i++) {
		if (i >= base && (size_t)(i - base) < len)
			near[n++] = chunk[i - base];
		else if (i < base && base - i <= (long)r->tail_len)
			near[n++] = r->tail[r->tail_len - (size_t)(base - i)];
	}
	near[n] = '\0';
	/* expat stops at the first byte it cannot take: "<!D" is enough. */
	if (strstr(near, "<!D") != NULL)
		return "document type declaration not allowed";
	if (strstr(near, "<!E") != NULL)
		return "entity declaration not allowed";
	if (XML_GetErrorCode(r->p) == XML_ERROR_MISPLACED_XML_PI ||
	    strstr(near, "<?xml") != NULL)
		return "XML declaration not at the start of the input";
	return NULL;
}

/* Feeds expat and remembers the last bytes, for explain_error(). */
static enum XML_Status
parse(struct reader *r, const char *data, size_t len, const char **chunk,
    size_t *chunk_len, long *base)
{
	enum XML_Status st;
	size_t keep;

	*chunk = data;
	*chunk_len = len;
	*base = r->fed;
	st = XML_Parse(r->p, data, (int)len, XML_FALSE);
	if (st != XML_STATUS_OK)
		return st;
	r->fed += (long)len;
	keep = len < sizeof(r->tail) ? len : sizeof(r->tail);
	if (r->tail_len + keep > sizeof(r->tail)) {
		size_t drop = r->tail_len + keep - sizeof(r->tail);

		memmove(r->tail, r->tail + drop, r->tail_len - drop);
		r->tail_len -= drop;
	}
	memcpy(r->tail + r->tail_len, data + len - keep, keep);
	r->tail_len += keep;
	return st;
}

int
reader_feed(
    struct reader *r, const char *data, size_t len, int final, char **errstr)
{
	enum XML_Status st;

	const char *chunk = NULL;
	size_t chunk_len = 0, i, bom;
	long skip, base = 0;

	if (r->failed)
		goto failed;
	if (!r->started) {
		buf_add(&r->head, data, len);
		/* A UTF-8 byte order mark may open the input. */
		bom = r->head.len >= 3 &&
			memcmp(r->head.data, "\xef\xbb\xbf", 3) == 0
		    ? 3
		    : 0;
		if (r->head.len < 3 && !final &&
		    memcmp(r->head.data, "\xef\xbb\xbf", r->head.len) == 0)
			return 0;
		skip =
		    skip_xml_decl(r->head.data + bom, r->head.len - bom, final);
		if (skip < 0)
			return 0;
		skip += (long)bom;
		r->started = 1;
		if (parse(r, wrapper_open, sizeof(wrapper_open) - 1, &chunk,
			&chunk_len, &base) != XML_STATUS_OK)
			goto parse_error;
		/* The declaration goes in as blanks: its line ends count. */
		for (i = 0; i < (size_t)skip; i++)
			if (r->head.data[i] != '\n')
				r->head.data[i] = ' ';
		st = parse(
		    r, r->head.data, r->head.len, &chunk, &chunk_len, &base);
		if (st != XML_STATUS_OK) {
			/* Keep the bytes for the message, then let go. */
			const char *why =
			    explain_error(r, chunk, chunk_len, base);

			if (!r->stopped && r->error == NULL && why)
				r->error = xasprintf("line %lu: %s",
				    (unsigned long)XML_GetCurrentLineNumber(
					r->p),
				    why);
		}
		buf_free(&r->head);
		chunk = NULL; /* it was the freed head */
	} else
		st = parse(r, data, len, &chunk, &chunk_len, &base);
	if (st != XML_STATUS_OK)
		goto parse_error;
	if (final) {
		if (r->depth > 1) {
			r->error = xasprintf("line %lu: the input ends inside "
					     "a stanza",
			    r->start_line);
			goto failed_now;
		}
		if (XML_Parse(r->p, wrapper_close, sizeof(wrapper_close) - 1,
			XML_TRUE) != XML_STATUS_OK)
			goto parse_error;
	}
	return 0;
parse_error:
	if (r->stopped) {
		r->failed = 1;
		return -1;
	}
	if (r->error == NULL) {
		const char *why =
		    chunk ? explain_error(r, chunk, chunk_len, base) : NULL;

		r->error = xasprintf("line %lu: %s",
		    (unsigned long)XML_GetCurrentLineNumber(r->p),
		    why ? why : XML_ErrorString(XML_GetErrorCode(r->p)));
	}
failed_now:
	r->failed = 1;
failed:
	if (r->error && errstr)
		*errstr = xstrdup(r->error);
	return -1;
}

int
reader_inside_stanza(const struct reader *r)
{
	return r->depth > 1;
}

void
reader_free(struct reader *r)
{
	if (r == NULL)
		return;
	if (r->stack[1])
		xmpp_stanza_release(r->stack[1]);
	XML_ParserFree(r->p);
	buf_free(&r->head);
	buf_free(&r->text);
	free(r->error);
	free(r);
}
