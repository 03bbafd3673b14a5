/* SPDX-License-Identifier: MIT */
/* reader.h -- the stanza-line reader: XML stanzas from a byte stream */

#ifndef XMPPTOOLS_READER_H
#define XMPPTOOLS_READER_H

#include <stddef.h>

#include <strophe.h>

/*
 * Reads top-level <message/>, <presence/> and <iq/> elements from a byte
 * stream, one per line or as a continuous XML stream (the "line-delimited
 * stanzas" of xlisten -X and xsend --raw), with expat.  Each complete
 * stanza is handed to the callback as soon as its end tag arrives.
 *
 * Refused, with the line number: a document type declaration (so no
 * entity can be defined), a processing instruction, any other top-level
 * element, text outside stanzas, malformed XML, a stanza larger than the
 * size limit or nested deeper than 64 levels.  Comments are skipped; a
 * leading XML declaration is accepted.
 */
struct reader;

/*
 * The callback gets a stanza it owns (release it with xmpp_stanza_release())
 * and the line its start tag was on.  It returns 0 to go on, or -1 to stop
 * (reader_feed() then returns -1 without an error message).
 */
typedef int (*reader_cb)(xmpp_stanza_t *st, unsigned long line, void *ud);

/* Returns a new reader (release with reader_free()). */
struct reader *
reader_new(xmpp_ctx_t *ctx, size_t max_stanza, reader_cb cb, void *ud);

/*
 * reader_feed()
 *
 * Parses 'len' more bytes; 'final' says the input ends here.  Returns 0,
 * or -1 on an error, with *errstr ("line 3: processing instruction not
 * allowed") unless the callback asked to stop.  After an error the reader
 * accepts no more input.
 */
int reader_feed(
    struct reader *r, const char *data, size_t len, int final, char **errstr);

/* True when input ended in the middle of a stanza (for EOF messages). */
int reader_inside_stanza(const struct reader *r);

void reader_free(struct reader *r);

#endif
