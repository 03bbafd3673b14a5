/* SPDX-License-Identifier: MIT */
/* output.h -- the only writer of stdout: records in every format */

#ifndef XMPPTOOLS_OUTPUT_H
#define XMPPTOOLS_OUTPUT_H

#include <stddef.h>

#include <strophe.h>

#include "util.h"

/*
 * A record is what one line of output says: a message, a presence, a
 * roster item, an iq reply.  The tool fills a struct orecord with named
 * fields; the output module writes it in the chosen format, escaped so that
 * one record is always one line (or one NUL-terminated chunk with -0) and
 * no text from the network reaches a terminal raw.  stdout is flushed after
 * every record.
 *
 * Formats:
 *   text  - the fields marked OF_TEXT, tab-separated, escaped (text.h);
 *   json  - one JSON object per line with "kind" and every field;
 *   xml   - the stanza on one line (newlines as &#10;), readable by
 *           xsend --raw;
 *   fmt   - a printf-like template: %X for the field whose 'key' is X (the
 *           tools' keys: REC_MESSAGE_KEYS, REC_PRESENCE_KEYS in record.h,
 *           ROSTER_KEYS in roster.h), %%, and \n \t \0 \\ escapes.
 */
enum output_format { OUT_TEXT, OUT_JSON, OUT_XML, OUT_TEMPLATE };

#define OF_TEXT 1 /* part of the default text line */
#define OF_NUMBER 2 /* a JSON number, not a string */
#define OF_BOOL 4 /* a JSON boolean ("1" or "0") */
#define OF_LIST 8 /* a JSON array of the comma-separated values */
#define OF_NOJSON 16 /* a column of the text format only */
/* text already escaped (text_escape()): written as it is */
#define OF_ESCAPED 64
#define OF_LIST_US                                                             \
	32 /* a JSON array of the values separated by U+001F                   \
	      (which XML cannot carry, so no value holds it) */

#define OUT_MAX_FIELDS 24

struct ofield {
	char key; /* letter for -F, or 0 */
	const char *name; /* JSON name */
	const char *value; /* borrowed; NULL when absent */
	int flags;
};

struct orecord {
	const char *kind; /* "message", "presence", "roster", ... */
	xmpp_stanza_t *stanza; /* borrowed, for -X; may be NULL */
	size_t n;
	struct ofield f[OUT_MAX_FIELDS];
};

struct output {
	enum output_format format;
	char *template; /* OUT_TEMPLATE */
	int nul; /* -0: records end with NUL, fields are raw */
	int tty; /* stdout is a terminal */
	struct buf line;
};

/*
 * What -F FMT, -J, -X and -0 chose: the same letters in every tool that
 * prints records.  The tools give those options the short letter as popt
 * value and pass it to output_choose(); 'set' says -F, -J or -X was given.
 * Release with output_choice_free().
 */
struct output_choice {
	enum output_format format; /* OUT_TEXT unless chosen */
	char *template; /* -F, allocated */
	int nul; /* -0 */
	int set;
};

/* Records option 'letter' ('F' with arg, 'J', 'X' or '0'). */
void output_choose(struct output_choice *c, int letter, const char *arg);
void output_choice_free(struct output_choice *c);

/*
 * output_init()
 *
 * Prepares writing records to stdout.  'template' is copied (OUT_TEMPLATE
 * only).  Release with output_free().
 */
void output_init(
    struct output *o, enum output_format format, const char *template, int nul);
void output_free(struct output *o);

/*
 * output_check_template()
 *
 * Checks a -F template against the letters 'keys' a tool knows.  Returns 0,
 * or -1 with *errstr naming the unknown directive or bad escape.
 */
int
output_check_template(const char *template, const char *keys, char **errstr);

/* Starts a record of 'kind' about 'stanza' (both borrowed, may be NULL). */
void orecord_init(struct orecord *r, const char *kind, xmpp_stanza_t *stanza);

/* Adds a field; 'value' is borrowed and may be NULL.  More than
 * OUT_MAX_FIELDS is a bug in the program: it aborts with a message. */
void orecord_add(struct orecord *r, char key, const char *name,
    const char *value, int flags);

/*
 * output_format_record()
 *
 * Appends the record as 'o' would print it, with its terminator, to 'b'
 * (pure; for tests and for output_record()).
 */
void output_format_record(
    const struct output *o, const struct orecord *r, struct buf *b);

/*
 * output_record()
 *
 * Writes one record and flushes stdout.  Returns 0, or -1 when stdout is
 * closed or broken (a reader that went away: the tool should end quietly).
 */
int output_record(struct output *o, const struct orecord *r);

/*
 * output_xml_line()
 *
 * Appends the stanza serialized on one line to 'b': newlines, carriage
 * returns, other controls, tabs in attribute values (which XML would read
 * as spaces) and the characters that are unsafe on a terminal
 * (text_is_unsafe_cp()) as &#xHH; references, so that xsend --raw reads
 * back the same stanza.
 */
void output_xml_line(xmpp_stanza_t *st, struct buf *b);

#endif
