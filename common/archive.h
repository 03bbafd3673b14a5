/* SPDX-License-Identifier: MIT */
/* archive.h -- XEP-0313 archive catch-up: queries, results, the state file */

#ifndef XMPPTOOLS_ARCHIVE_H
#define XMPPTOOLS_ARCHIVE_H

#include <stddef.h>

#include <strophe.h>

#define NS_MAM "urn:xmpp:mam:2"
#define NS_RSM "http://jabber.org/protocol/rsm"
#define NS_SID "urn:xmpp:sid:0"
#define NS_FORWARD "urn:xmpp:forward:0"

/* How many archived messages one page of the catch-up asks for. */
#define ARCHIVE_PAGE 50

/* How many recently handled stanza-ids the state file and the dedup set
 * remember. */
#define ARCHIVE_REMEMBER 64

/*
 * One page of an archive query (every field borrowed; NULL: absent).
 * 'to' is the archive (NULL: the account's own), 'queryid' marks the
 * results, 'after' is the RSM cursor (an archive id), 'start' an ISO 8601
 * UTC time (the form field "start"), 'max' the page size.
 */
struct archive_query {
	const char *id;
	const char *to;
	const char *queryid;
	const char *after;
	const char *start;
	int max;
};

/*
 * archive_query()
 *
 * <iq type='set'><query xmlns='urn:xmpp:mam:2' queryid=..> with a data
 * form for 'start' and <set xmlns=RSM><max/><after/></set>.  The caller
 * releases the stanza.
 */
xmpp_stanza_t *archive_query(xmpp_ctx_t *ctx, const struct archive_query *q);

/*
 * archive_result()
 *
 * For a <message> from 'archive' (a bare JID; a missing 'from' counts as
 * 'own', the account's bare JID) carrying <result xmlns=MAM queryid=Q
 * id=ID><forwarded><delay/><message/></forwarded></result>, returns a copy
 * of the forwarded message with the <delay/> of the archive added when it
 * had none (caller releases) and sets *archive_id to ID (borrowed from
 * 'msg').  Otherwise (not a result, another query, a forgery) NULL.
 */
xmpp_stanza_t *archive_result(xmpp_stanza_t *msg, const char *queryid,
    const char *archive, const char *own, const char **archive_id);

/*
 * archive_fin()
 *
 * The answer to one page: returns 0 for a result with <fin/> and sets
 * *complete (the attribute complete='true') and *last (the RSM <last/>,
 * allocated, NULL when absent; caller frees); -1 for an error reply or a
 * malformed one (*complete and *last untouched).
 */
int archive_fin(xmpp_stanza_t *iq, int *complete, char **last);

/*
 * archive_stanza_id()
 *
 * The id of the XEP-0359 <stanza-id xmlns='urn:xmpp:sid:0' by=BY id=../>
 * of 'msg' given by 'by' (a bare JID), borrowed; NULL when there is none.
 */
const char *archive_stanza_id(xmpp_stanza_t *msg, const char *by);

/*
 * archive_time()
 *
 * Parses an ISO 8601 time (YYYY-MM-DD, or with THH:MM[:SS[.fff]] and Z or
 * an offset +HH:MM; without a zone: UTC) into the XEP-0082 form
 * YYYY-MM-DDTHH:MM:SSZ, written to 'out' (at least 21 bytes).  Returns 0,
 * or -1 when 'in' is not such a time.
 */
int archive_time(const char *in, char *out, size_t len);

/*
 * The dedup set: the stanza-ids seen most recently (at most 'cap'; the
 * oldest are forgotten first).  Ids are copied.
 */
struct archive_seen {
	char **ids;
	size_t cap;
	size_t n;
	size_t next; /* where the next id goes once full */
};

void archive_seen_init(struct archive_seen *s, size_t cap);
void archive_seen_free(struct archive_seen *s);
int archive_seen_has(const struct archive_seen *s, const char *id);
/* Adds 'id' unless it is there; returns 1 when it was new. */
int archive_seen_add(struct archive_seen *s, const char *id);

/*
 * The state file of xlisten --state: the cursor of each archive.  Its
 * text form, one line each:
 *
 *   archive=JID        (the archive the following lines are about)
 *   last=ID            (the last archive id handled)
 *   seen=ID            (recently handled ids, oldest first)
 *
 * Every string is owned by the state.
 */
struct archive_state {
	char *archive;
	char *last;
	struct archive_seen seen;
};

void archive_state_init(struct archive_state *st);
void archive_state_free(struct archive_state *st);

/*
 * archive_state_load()
 *
 * Reads 'path' into 'st' (initialised).  A missing or empty file is an
 * empty state.  Returns 0, or -1 with *errstr (allocated) when the file
 * cannot be read or is not a state file.
 */
int
archive_state_load(struct archive_state *st, const char *path, char **errstr);

/*
 * archive_state_record()
 *
 * Makes 'id' the last handled id of the state and writes it to 'path'
 * atomically: a temporary file in the same directory, mode 0600, written,
 * fsync()ed and renamed over 'path'.  Returns 0, or -1 with *errstr.
 */
int archive_state_record(
    struct archive_state *st, const char *path, const char *id, char **errstr);

/*
 * The whole state file, once rooms (xlisten --room) catch up too: one
 * section per archive.  The account's section is the lines up to the
 * first "room=" line (an "archive=JID" line names it, as in the files of
 * one archive above, which stay readable as they are); each room's section
 * starts with "room=JID" (the room's bare JID) and holds the same "seen="
 * and "last=" lines:
 *
 *   archive=bob@localhost
 *   last=ID
 *   room=dev@conference.localhost
 *   seen=ID
 *   last=ID
 *
 * A room named twice, or an "archive=" line in a room's section, is not a
 * state file.  Sections of rooms a run does not listen to are kept as they
 * are.  Every string and every state is owned by the file.
 */
struct archive_file {
	struct archive_state account;
	struct archive_state **rooms; /* their 'archive' is the room's JID */
	size_t nrooms;
};

void archive_file_init(struct archive_file *f);
void archive_file_free(struct archive_file *f);

/*
 * archive_file_load()
 *
 * Reads 'path' into 'f' (initialised).  A missing or empty file has no
 * section.  Returns 0, or -1 with *errstr (allocated) when the file cannot
 * be read or is not a state file.
 */
int archive_file_load(struct archive_file *f, const char *path, char **errstr);

/*
 * archive_file_room()
 *
 * The section of 'room' (a bare JID, compared as JIDs are), added empty
 * when the file has none.  Borrowed: valid until archive_file_free().
 */
struct archive_state *
archive_file_room(struct archive_file *f, const char *room);

/*
 * archive_file_record()
 *
 * Makes 'id' the last handled id of the section 'st' (the account's or one
 * of archive_file_room()) and writes the whole file to 'path' atomically,
 * as archive_state_record() does.  Returns 0, or -1 with *errstr.
 */
int archive_file_record(struct archive_file *f, struct archive_state *st,
    const char *path, const char *id, char **errstr);

#endif
