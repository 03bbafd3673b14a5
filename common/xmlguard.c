/* SPDX-License-Identifier: MIT */
/* xmlguard.c -- the session's hold on libstrophe's XML parser */

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "util.h"
#include "xmlguard.h"

/* libstrophe's namespace separator: how its parser is told from others. */
#define STROPHE_NS_SEP '\x1F'

/* expat's own functions, found behind ours. */
static struct {
	XML_Parser (*create_mm)(const XML_Char *,
	    const XML_Memory_Handling_Suite *, const XML_Char *);
	XML_Bool (*reset)(XML_Parser, const XML_Char *);
	void (*set_element)(
	    XML_Parser, XML_StartElementHandler, XML_EndElementHandler);
	void (*set_chardata)(XML_Parser, XML_CharacterDataHandler);
	enum XML_Status (*parse)(XML_Parser, const char *, int, int);
	void (*parser_free)(XML_Parser);
} real;

static struct guard {
	XML_Parser parser; /* libstrophe's, or NULL */
	XML_StartElementHandler start; /* libstrophe's handlers */
	XML_EndElementHandler end;
	XML_CharacterDataHandler chardata;
	int depth; /* elements open */
	long long fed; /* bytes given to expat in this document */
	long long mark; /* where the unfinished stanza began */
	int64_t pending_since;
	enum xmlguard_violation violation;
	char reason[128];
	struct buf text; /* the text node being joined */
} g;

static size_t max_bytes = XMLGUARD_DEFAULT_MAX_BYTES;
static int max_depth = XMLGUARD_DEFAULT_MAX_DEPTH;
static int seen;
static xmlguard_element_cb on_element;
static xmlguard_violation_cb on_violation;
static void *cb_ud;

static void *
lookup(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (f == NULL) {
		/* Without expat behind us nothing can parse: say so loudly. */
		fprintf(stderr, "xmlguard: expat's %s not found: %s\n", name,
		    dlerror());
		abort();
	}
	return f;
}

static void
find_real(void)
{
	if (real.parse != NULL)
		return;
	real.create_mm = lookup("XML_ParserCreate_MM");
	real.reset = lookup("XML_ParserReset");
	real.set_element = lookup("XML_SetElementHandler");
	real.set_chardata = lookup("XML_SetCharacterDataHandler");
	real.parser_free = lookup("XML_ParserFree");
	real.parse = lookup("XML_Parse");
}

static void
begin_document(void)
{
	g.depth = 0;
	g.fed = g.mark = 0;
	g.pending_since = 0;
	g.violation = XG_NONE;
	g.reason[0] = '\0';
	buf_reset(&g.text);
}

static void
stop(XML_Parser p, enum xmlguard_violation v)
{
	if (g.violation != XG_NONE)
		return;
	g.violation = v;
	buf_reset(&g.text);
	XML_StopParser(p, XML_FALSE);
	if (on_violation)
		on_violation(cb_ud, v);
}

static long long
position_after(XML_Parser p)
{
	return (long long)XML_GetCurrentByteIndex(p) +
	    XML_GetCurrentByteCount(p);
}

/* Is the stanza being read over the limit at this event? */
static int
too_big(XML_Parser p)
{
	if (position_after(p) - g.mark > (long long)max_bytes) {
		stop(p, XG_SIZE);
		return 1;
	}
	return 0;
}

/* Gives libstrophe the text joined so far, in one piece. */
static void
flush_text(void *ud)
{
	if (g.text.len == 0)
		return;
	if (g.chardata)
		g.chardata(ud, g.text.data, (int)g.text.len);
	buf_reset(&g.text);
}

static void
observe(int depth, const XML_Char *nsname)
{
	struct xmlguard_element el;
	const char *sep = strchr(nsname, STROPHE_NS_SEP);
	char ns[256];

	if (on_element == NULL || depth > 3)
		return;
	el.depth = depth;
	if (sep) {
		snprintf(ns, sizeof(ns), "%.*s", (int)(sep - nsname), nsname);
		el.ns = ns;
		el.name = sep + 1;
	} else {
		el.ns = "";
		el.name = nsname;
	}
	on_element(cb_ud, &el);
}

static void XMLCALL
guard_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	if (g.violation != XG_NONE || too_big(g.parser))
		return;
	if (g.depth >= max_depth + 1) {
		stop(g.parser, XG_DEPTH);
		return;
	}
	flush_text(ud);
	g.depth++;
	if (g.start)
		g.start(ud, name, attrs);
	if (g.depth == 1) /* the stream header is complete */
		g.mark = position_after(g.parser);
	observe(g.depth, name);
}

static void XMLCALL
guard_end(void *ud, const XML_Char *name)
{
	if (g.violation != XG_NONE || too_big(g.parser))
		return;
	flush_text(ud);
	if (g.depth > 0)
		g.depth--;
	if (g.end)
		g.end(ud, name);
	if (g.depth == 1) {
		/* A stanza ended: the next one starts from here. */
		g.mark = position_after(g.parser);
		g.pending_since = 0;
	}
}

static void XMLCALL
guard_chardata(void *ud, const XML_Char *s, int len)
{
	(void)ud;
	if (g.violation != XG_NONE || too_big(g.parser))
		return;
	if (g.depth <= 1) {
		/* Between stanzas (whitespace keepalives): nothing pending. */
		g.mark = position_after(g.parser);
		return;
	}
	buf_add(&g.text, s, (size_t)len);
}

static void XMLCALL
guard_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	(void)ud, (void)name, (void)sysid, (void)pubid;
	(void)has_internal_subset;
	stop(g.parser, XG_DTD);
}

static void XMLCALL
guard_entity(void *ud, const XML_Char *name, int is_param,
    const XML_Char *value, int value_len, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid, const XML_Char *notation)
{
	(void)ud, (void)name, (void)is_param, (void)value, (void)value_len;
	(void)base, (void)sysid, (void)pubid, (void)notation;
	stop(g.parser, XG_ENTITY);
}

static void XMLCALL
guard_pi(void *ud, const XML_Char *target, const XML_Char *data)
{
	(void)ud, (void)target, (void)data;
	stop(g.parser, XG_PI);
}

static void XMLCALL
guard_comment(void *ud, const XML_Char *data)
{
	(void)ud, (void)data;
	stop(g.parser, XG_COMMENT);
}

/* The handlers of restricted XML, set again after every reset. */
static void
set_restrictions(XML_Parser p)
{
	XML_SetStartDoctypeDeclHandler(p, guard_doctype);
	XML_SetEntityDeclHandler(p, guard_entity);
	XML_SetProcessingInstructionHandler(p, guard_pi);
	XML_SetCommentHandler(p, guard_comment);
}

XML_Parser
XML_ParserCreate_MM(const XML_Char *encoding,
    const XML_Memory_Handling_Suite *memsuite, const XML_Char *sep)
{
	XML_Parser p;

	find_real();
	p = real.create_mm(encoding, memsuite, sep);
	if (p != NULL && sep != NULL && *sep == STROPHE_NS_SEP) {
		g.parser = p;
		g.start = NULL;
		g.end = NULL;
		g.chardata = NULL;
		begin_document();
		set_restrictions(p);
		seen = 1;
	}
	return p;
}

XML_Bool
XML_ParserReset(XML_Parser p, const XML_Char *encoding)
{
	XML_Bool ok;

	find_real();
	ok = real.reset(p, encoding);
	if (p == g.parser && p != NULL) {
		/* A new document (the stream restarts after TLS and SASL);
		 * expat forgot every handler. */
		begin_document();
		set_restrictions(p);
	}
	return ok;
}

void
XML_SetElementHandler(
    XML_Parser p, XML_StartElementHandler start, XML_EndElementHandler end)
{
	find_real();
	if (p == g.parser && p != NULL) {
		g.start = start;
		g.end = end;
		real.set_element(p, guard_start, guard_end);
		return;
	}
	real.set_element(p, start, end);
}

void
XML_SetCharacterDataHandler(XML_Parser p, XML_CharacterDataHandler handler)
{
	find_real();
	if (p == g.parser && p != NULL) {
		g.chardata = handler;
		real.set_chardata(p, guard_chardata);
		return;
	}
	real.set_chardata(p, handler);
}

enum XML_Status
XML_Parse(XML_Parser p, const char *s, int len, int is_final)
{
	enum XML_Status st;
	enum XML_Error err;

	find_real();
	if (p != g.parser || p == NULL)
		return real.parse(p, s, len, is_final);
	/*
	 * After a violation libstrophe is told that all is well and gets
	 * nothing more: its own answer to a parse error would be a stream
	 * error of its choice, and no close.  The session closes the stream.
	 */
	if (g.violation != XG_NONE)
		return XML_STATUS_OK;
	/* Bytes of one unfinished token that expat holds count too. */
	if (g.fed - g.mark > (long long)max_bytes) {
		stop(p, XG_SIZE);
		return XML_STATUS_OK;
	}
	if (len > 0 && g.pending_since == 0)
		g.pending_since = util_now_ms();
	g.fed += len > 0 ? len : 0;
	st = real.parse(p, s, len, is_final);
	if (st == XML_STATUS_ERROR && g.violation == XG_NONE) {
		err = XML_GetErrorCode(p);
		snprintf(g.reason, sizeof(g.reason), "%s",
		    XML_ErrorString(err) ? XML_ErrorString(err) : "");
		g.violation = XG_MALFORMED;
		if (on_violation)
			on_violation(cb_ud, XG_MALFORMED);
	}
	if (g.violation == XG_NONE && g.fed <= g.mark)
		g.pending_since = 0;
	return g.violation != XG_NONE ? XML_STATUS_OK : st;
}

void
XML_ParserFree(XML_Parser p)
{
	find_real();
	if (p == g.parser && p != NULL) {
		g.parser = NULL;
		buf_free(&g.text);
		begin_document();
	}
	real.parser_free(p);
}

void
xmlguard_set_limits(size_t bytes, int depth)
{
	max_bytes = bytes > 0 ? bytes : XMLGUARD_DEFAULT_MAX_BYTES;
	max_depth = depth > 0 ? depth : XMLGUARD_DEFAULT_MAX_DEPTH;
}

void
xmlguard_set_callbacks(
    xmlguard_element_cb element, xmlguard_violation_cb violation, void *ud)
{
	on_element = element;
	on_violation = violation;
	cb_ud = ud;
}

int
xmlguard_seen(void)
{
	return seen;
}

void
xmlguard_reset_seen(void)
{
	seen = 0;
}

enum xmlguard_violation
xmlguard_violation(void)
{
	return g.violation;
}

const char *
xmlguard_malformed_reason(void)
{
	return g.violation == XG_MALFORMED ? g.reason : "";
}

const char *
xmlguard_describe(enum xmlguard_violation v)
{
	switch (v) {
	case XG_DTD:
		return "a DTD";
	case XG_ENTITY:
		return "an entity declaration";
	case XG_PI:
		return "a processing instruction";
	case XG_COMMENT:
		return "a comment";
	case XG_SIZE:
		return "a stanza over the size limit";
	case XG_DEPTH:
		return "elements nested too deep";
	case XG_MALFORMED:
		return "malformed XML";
	case XG_NONE:
		break;
	}
	return "nothing";
}

const char *
xmlguard_condition(enum xmlguard_violation v)
{
	switch (v) {
	case XG_DTD:
	case XG_ENTITY:
	case XG_PI:
	case XG_COMMENT:
		return "restricted-xml";
	case XG_SIZE:
	case XG_DEPTH:
		return "policy-violation";
	case XG_MALFORMED:
		return "not-well-formed";
	case XG_NONE:
		break;
	}
	return "undefined-condition";
}

int64_t
xmlguard_pending_since(void)
{
	return g.violation == XG_NONE ? g.pending_since : 0;
}

size_t
xmlguard_max_bytes(void)
{
	return max_bytes;
}

int
xmlguard_max_depth(void)
{
	return max_depth;
}
