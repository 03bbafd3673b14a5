/* SPDX-License-Identifier: MIT */
/* xmlguard.h -- the session's hold on libstrophe's XML parser */

#ifndef XMPPTOOLS_XMLGUARD_H
#define XMPPTOOLS_XMLGUARD_H

#include <stddef.h>
#include <stdint.h>

/*
 * libstrophe 0.12 parses the stream with expat and offers no control over
 * it: it accepts a DTD, entity declarations and processing instructions
 * (RFC 6120 11.1 forbids them all), puts no bound on the size or depth of
 * a stanza, and joins the text of an element one piece at a time with a
 * cost that grows with the square of the number of pieces (two million
 * "&amp;" took 14 s of CPU).
 *
 * The guard takes that parser over.  libstrophe creates it with
 * XML_ParserCreate_MM() and the namespace separator 0x1F; this module
 * defines the expat calls libstrophe makes (create, reset, the two handler
 * setters, parse, free), which the dynamic linker binds in the executable
 * before libexpat's, and forwards them to expat's own (dlsym RTLD_NEXT).
 * On that one parser it
 *   - refuses a DTD, an entity declaration, a processing instruction and a
 *     comment (restricted XML) at their first byte, before any expansion;
 *   - bounds the bytes of one stanza (the stream header counts as one) and
 *     the depth of its elements;
 *   - hands libstrophe each text node in one piece (linear cost);
 *   - notes when the bytes of an unfinished stanza began to arrive, so the
 *     session can bound the time one stanza takes;
 *   - reports the elements of the stream's first levels to an observer (the
 *     session reads the login from them, not from libstrophe's log).
 * After a violation the parser is stopped and parses nothing more; libstrophe
 * is told that all is well (its own answer would be a stream error of its
 * choice and no close) and the session closes the stream at once.  Other
 * parsers (reader.c's) pass through untouched.
 *
 * One guarded parser at a time (the session is the only one in a process);
 * the state is global.  Not thread-safe.  Callbacks run inside XML_Parse(),
 * that is inside libstrophe's event loop.
 */

enum xmlguard_violation {
	XG_NONE = 0,
	XG_DTD, /* a document type declaration */
	XG_ENTITY, /* an entity declaration */
	XG_PI, /* a processing instruction */
	XG_COMMENT, /* a comment */
	XG_SIZE, /* a stanza over the size limit */
	XG_DEPTH, /* elements nested over the depth limit */
	XG_MALFORMED /* not well-formed (expat's own error) */
};

/* An element at depth 1 (the stream header), 2 (a stanza or other
 * top-level element) or 3 (its child), as libstrophe will see it. */
struct xmlguard_element {
	int depth;
	const char *ns; /* namespace URI, "" when none */
	const char *name; /* local name */
};

typedef void (*xmlguard_element_cb)(
    void *ud, const struct xmlguard_element *el);
typedef void (*xmlguard_violation_cb)(void *ud, enum xmlguard_violation v);

/* Limits of one stanza: 'max_bytes' (0: the default) and element depth
 * below the stream header ('max_depth', 0: the default). */
#define XMLGUARD_DEFAULT_MAX_BYTES (1024L * 1024L)
#define XMLGUARD_DEFAULT_MAX_DEPTH 64
void xmlguard_set_limits(size_t max_bytes, int max_depth);

/* The observer of elements and the callback of a violation (either may be
 * NULL); 'ud' is passed to both. */
void xmlguard_set_callbacks(xmlguard_element_cb on_element,
    xmlguard_violation_cb on_violation, void *ud);

/* True once a parser has been guarded since the last xmlguard_reset_seen()
 * (the session checks that libstrophe's parser is really ours). */
int xmlguard_seen(void);
void xmlguard_reset_seen(void);

/* The violation that stopped the current parser, XG_NONE if none. */
enum xmlguard_violation xmlguard_violation(void);

/* Expat's description of the error for XG_MALFORMED, else "". */
const char *xmlguard_malformed_reason(void);

/* What a violation is, for a message: "a DTD", "a processing instruction". */
const char *xmlguard_describe(enum xmlguard_violation v);

/* The stream error condition a violation is answered with. */
const char *xmlguard_condition(enum xmlguard_violation v);

/*
 * When the first byte of a stanza that has not ended yet arrived
 * (util_now_ms() clock), or 0 when nothing is pending.
 */
int64_t xmlguard_pending_since(void);

/* The limits in force, for messages. */
size_t xmlguard_max_bytes(void);
int xmlguard_max_depth(void);

#endif
