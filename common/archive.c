/* SPDX-License-Identifier: MIT */
/* archive.c -- XEP-0313 archive catch-up: queries, results, the state file */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "jid.h"
#include "util.h"

/* The largest state file read (a few dozen short lines). */
#define STATE_MAX 65536

/* ------------------------------------------------------------------------
 * The query
 */

static xmpp_stanza_t *
child(xmpp_stanza_t *parent, const char *name, const char *ns)
{
	xmpp_stanza_t *c = xmpp_stanza_new(xmpp_stanza_get_context(parent));

	xmpp_stanza_set_name(c, name);
	if (ns)
		xmpp_stanza_set_ns(c, ns);
	xmpp_stanza_add_child(parent, c);
	xmpp_stanza_release(c); /* the parent holds it */
	return c;
}

static void
text_child(xmpp_stanza_t *parent, const char *name, const char *text)
{
	xmpp_stanza_t *c = child(parent, name, NULL);
	xmpp_stanza_t *t = xmpp_stanza_new(xmpp_stanza_get_context(parent));

	xmpp_stanza_set_text(t, text);
	xmpp_stanza_add_child(c, t);
	xmpp_stanza_release(t);
}

static void
form_field(
    xmpp_stanza_t *x, const char *var, const char *type, const char *value)
{
	xmpp_stanza_t *f = child(x, "field", NULL);

	xmpp_stanza_set_attribute(f, "var", var);
	if (type)
		xmpp_stanza_set_attribute(f, "type", type);
	text_child(f, "value", value);
}

xmpp_stanza_t *
archive_query(xmpp_ctx_t *ctx, const struct archive_query *q)
{
	xmpp_stanza_t *iq = xmpp_iq_new(ctx, "set", q->id);
	xmpp_stanza_t *query, *x, *set;
	char max[24];

	if (q->to)
		xmpp_stanza_set_to(iq, q->to);
	query = child(iq, "query", NS_MAM);
	if (q->queryid)
		xmpp_stanza_set_attribute(query, "queryid", q->queryid);
	if (q->start) {
		x = child(query, "x", "jabber:x:data");
		xmpp_stanza_set_type(x, "submit");
		form_field(x, "FORM_TYPE", "hidden", NS_MAM);
		form_field(x, "start", NULL, q->start);
	}
	set = child(query, "set", NS_RSM);
	snprintf(max, sizeof(max), "%d", q->max > 0 ? q->max : ARCHIVE_PAGE);
	text_child(set, "max", max);
	if (q->after)
		text_child(set, "after", q->after);
	return iq;
}

/* ------------------------------------------------------------------------
 * Results
 */

xmpp_stanza_t *
archive_result(xmpp_stanza_t *msg, const char *queryid, const char *archive,
    const char *own, const char **archive_id)
{
	const char *from = xmpp_stanza_get_from(msg), *qid, *id;
	xmpp_stanza_t *res, *fwd, *inner, *delay, *copy;

	*archive_id = NULL;
	res = xmpp_stanza_get_child_by_name_and_ns(msg, "result", NS_MAM);
	if (res == NULL)
		return NULL;
	if (from ? !jid_same_bare(from, archive) || jid_has_resource(from)
		 : !jid_same_bare(archive, own))
		return NULL; /* only the archive speaks for itself */
	qid = xmpp_stanza_get_attribute(res, "queryid");
	id = xmpp_stanza_get_id(res);
	if (id == NULL || *id == '\0' ||
	    (queryid && (qid == NULL || strcmp(qid, queryid) != 0)))
		return NULL;
	fwd =
	    xmpp_stanza_get_child_by_name_and_ns(res, "forwarded", NS_FORWARD);
	inner = fwd ? xmpp_stanza_get_child_by_name(fwd, "message") : NULL;
	if (inner == NULL)
		return NULL;
	copy = xmpp_stanza_copy(inner);
	/* The parser gave it the namespace of <forwarded/> it inherited. */
	if (xmpp_stanza_get_ns(copy) &&
	    strcmp(xmpp_stanza_get_ns(copy), NS_FORWARD) == 0)
		xmpp_stanza_del_attribute(copy, "xmlns");
	delay = xmpp_stanza_get_child_by_name_and_ns(
	    fwd, "delay", "urn:xmpp:delay");
	if (delay &&
	    !xmpp_stanza_get_child_by_name_and_ns(
		copy, "delay", "urn:xmpp:delay")) {
		xmpp_stanza_t *d = xmpp_stanza_copy(delay);

		xmpp_stanza_add_child(copy, d);
		xmpp_stanza_release(d);
	}
	*archive_id = id;
	return copy;
}

static char *
text_of(xmpp_stanza_t *parent, const char *name)
{
	xmpp_stanza_t *c = xmpp_stanza_get_child_by_name(parent, name);

	return c ? xmpp_stanza_get_text(c) : NULL;
}

int
archive_fin(xmpp_stanza_t *iq, int *complete, char **last)
{
	const char *type = xmpp_stanza_get_type(iq), *c;
	xmpp_stanza_t *fin, *set;
	char *t, *l = NULL;

	if (type == NULL || strcmp(type, "result") != 0)
		return -1;
	fin = xmpp_stanza_get_child_by_name_and_ns(iq, "fin", NS_MAM);
	if (fin == NULL)
		return -1;
	set = xmpp_stanza_get_child_by_name_and_ns(fin, "set", NS_RSM);
	if (set && (t = text_of(set, "last")) != NULL) {
		if (*t)
			l = xstrdup(t);
		xmpp_free(xmpp_stanza_get_context(iq), t);
	}
	c = xmpp_stanza_get_attribute(fin, "complete");
	*complete = c && (strcmp(c, "true") == 0 || strcmp(c, "1") == 0);
	*last = l;
	return 0;
}

const char *
archive_stanza_id(xmpp_stanza_t *msg, const char *by)
{
	xmpp_stanza_t *c;
	const char *b, *id;

	for (c = xmpp_stanza_get_children(msg); c;
	     c = xmpp_stanza_get_next(c)) {
		if (!xmpp_stanza_is_tag(c) ||
		    strcmp(xmpp_stanza_get_name(c), "stanza-id") != 0 ||
		    xmpp_stanza_get_ns(c) == NULL ||
		    strcmp(xmpp_stanza_get_ns(c), NS_SID) != 0)
			continue;
		b = xmpp_stanza_get_attribute(c, "by");
		id = xmpp_stanza_get_id(c);
		if (b && by && jid_same_bare(b, by) && !jid_has_resource(b) &&
		    id && *id)
			return id;
	}
	return NULL;
}

/* ------------------------------------------------------------------------
 * Times
 */

static const char *
digits(const char *p, int n, int *v)
{
	*v = 0;
	for (; n > 0; n--, p++) {
		if (*p < '0' || *p > '9')
			return NULL;
		*v = *v * 10 + (*p - '0');
	}
	return p;
}

/* The zone at 'p': Z, +HH:MM, -HH:MM or nothing (UTC); *off in seconds. */
static int
zone(const char *p, long *off)
{
	int h, m, sign;

	*off = 0;
	if (*p == '\0' || (p[0] == 'Z' && p[1] == '\0'))
		return 0;
	if (*p != '+' && *p != '-')
		return -1;
	sign = *p == '-' ? -1 : 1;
	if ((p = digits(p + 1, 2, &h)) == NULL || *p++ != ':' ||
	    (p = digits(p, 2, &m)) == NULL || *p != '\0' || h > 23 || m > 59)
		return -1;
	*off = sign * (h * 3600L + m * 60L);
	return 0;
}

int
archive_time(const char *in, char *out, size_t len)
{
	struct tm tm;
	const char *p = in;
	int y, mo, d, h = 0, mi = 0, s = 0, ign;
	long off;
	time_t t;

	if ((p = digits(p, 4, &y)) == NULL || *p++ != '-' ||
	    (p = digits(p, 2, &mo)) == NULL || *p++ != '-' ||
	    (p = digits(p, 2, &d)) == NULL)
		return -1;
	if (*p == 'T') {
		if ((p = digits(p + 1, 2, &h)) == NULL || *p++ != ':' ||
		    (p = digits(p, 2, &mi)) == NULL)
			return -1;
		if (*p == ':' && (p = digits(p + 1, 2, &s)) == NULL)
			return -1;
		if (*p == '.')
			for (p++; digits(p, 1, &ign) != NULL; p++)
				;
	}
	if (zone(p, &off) < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
	    h > 23 || mi > 59 || s > 60 || len < 21)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	t = timegm(&tm) - off;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------------------------
 * The dedup set
 */

void
archive_seen_init(struct archive_seen *s, size_t cap)
{
	s->cap = cap ? cap : 1;
	s->ids = xcalloc(s->cap, sizeof(*s->ids));
	s->n = 0;
	s->next = 0;
}

void
archive_seen_free(struct archive_seen *s)
{
	size_t i;

	for (i = 0; s->ids && i < s->n; i++)
		free(s->ids[i]);
	free(s->ids);
	s->ids = NULL;
	s->n = 0;
}

int
archive_seen_has(const struct archive_seen *s, const char *id)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->ids[i], id) == 0)
			return 1;
	return 0;
}

int
archive_seen_add(struct archive_seen *s, const char *id)
{
	if (archive_seen_has(s, id))
		return 0;
	if (s->n < s->cap) {
		s->ids[s->n++] = xstrdup(id);
		return 1;
	}
	free(s->ids[s->next]);
	s->ids[s->next] = xstrdup(id);
	s->next = (s->next + 1) % s->cap;
	return 1;
}

/* ------------------------------------------------------------------------
 * The state file
 */

void
archive_state_init(struct archive_state *st)
{
	memset(st, 0, sizeof(*st));
	archive_seen_init(&st->seen, ARCHIVE_REMEMBER);
}

void
archive_state_free(struct archive_state *st)
{
	free(st->archive);
	free(st->last);
	archive_seen_free(&st->seen);
	memset(st, 0, sizeof(*st));
}

/* One line "key=value" of the file; -1 for anything else. */
static int
state_line(struct archive_state *st, char *line)
{
	char *eq = strchr(line, '=');

	if (*line == '\0' || *line == '#')
		return 0;
	if (eq == NULL || eq[1] == '\0')
		return -1;
	*eq++ = '\0';
	if (strcmp(line, "archive") == 0) {
		free(st->archive);
		st->archive = xstrdup(eq);
	} else if (strcmp(line, "last") == 0) {
		free(st->last);
		st->last = xstrdup(eq);
		archive_seen_add(&st->seen, eq);
	} else if (strcmp(line, "seen") == 0)
		archive_seen_add(&st->seen, eq);
	else
		return -1;
	return 0;
}

/* Reads the state file 'path' into 'b' (NUL-terminated): 1, or 0 when it
 * does not exist, or -1 with *errstr. */
static int
read_file(const char *path, struct buf *b, char **errstr)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || util_read_all(fd, b, STATE_MAX) < 0) {
		*errstr = xasprintf("%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	buf_addc(b, '\0');
	return 1;
}

static char *
not_state_file(const char *path, int lineno)
{
	return xasprintf(
	    "%s:%d: not a state file of xlisten --state", path, lineno);
}

int
archive_state_load(struct archive_state *st, const char *path, char **errstr)
{
	struct buf b;
	char *line, *nl;
	int lineno = 1, rc;

	buf_init(&b);
	if ((rc = read_file(path, &b, errstr)) <= 0) {
		buf_free(&b);
		return rc;
	}
	for (line = b.data; line && *line; line = nl, lineno++) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		if (state_line(st, line) < 0) {
			*errstr = not_state_file(path, lineno);
			buf_free(&b);
			return -1;
		}
	}
	buf_free(&b);
	return 0;
}

/* The ids of a section: the recent ones (oldest first), the last one. */
static void
state_ids(const struct archive_state *st, struct buf *b)
{
	const struct archive_seen *s = &st->seen;
	size_t i, k;

	for (i = 0; i < s->n; i++) {
		k = s->n < s->cap ? i : (s->next + i) % s->cap;
		if (st->last == NULL || strcmp(s->ids[k], st->last) != 0)
			buf_printf(b, "seen=%s\n", s->ids[k]);
	}
	if (st->last)
		buf_printf(b, "last=%s\n", st->last);
}

/* The text of the state: the archive, then its ids. */
static void
state_text(const struct archive_state *st, struct buf *b)
{
	if (st->archive)
		buf_printf(b, "archive=%s\n", st->archive);
	state_ids(st, b);
}

/* Writes all of 'b' to 'fd', then makes it durable. */
static int
write_sync(int fd, const struct buf *b)
{
	size_t off = 0;
	ssize_t n;

	while (off < b->len) {
		n = write(fd, b->data + off, b->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		off += (size_t)n;
	}
	return fsync(fd);
}

/* fsync() of the directory of 'path', so that the rename is durable. */
static void
sync_dir(const char *path)
{
	char *copy = xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(copy);
}

/* Writes 'b' to 'path' atomically: a temporary file in the same
 * directory (mode 0600), fsync()ed and renamed over 'path'. */
static int
write_atomic(const char *path, const struct buf *b, char **errstr)
{
	char *tmp = xasprintf("%s.XXXXXX", path);
	int fd, rc = -1;

	fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
	if (fd < 0)
		*errstr = xasprintf("%s: %s", path, strerror(errno));
	else if (write_sync(fd, b) < 0) {
		*errstr = xasprintf("%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
	} else if (close(fd) < 0) {
		*errstr = xasprintf("%s: %s", tmp, strerror(errno));
		unlink(tmp);
	} else if (rename(tmp, path) < 0) {
		*errstr = xasprintf("%s: %s", path, strerror(errno));
		unlink(tmp);
	} else {
		sync_dir(path);
		rc = 0;
	}
	free(tmp);
	return rc;
}

/* 'id' becomes the last handled id of 'st'. */
static void
state_set_last(struct archive_state *st, const char *id)
{
	if (id == NULL)
		return;
	free(st->last);
	st->last = xstrdup(id);
	archive_seen_add(&st->seen, id);
}

int
archive_state_record(
    struct archive_state *st, const char *path, const char *id, char **errstr)
{
	struct buf b;
	int rc;

	state_set_last(st, id);
	buf_init(&b);
	state_text(st, &b);
	rc = write_atomic(path, &b, errstr);
	buf_free(&b);
	return rc;
}

/* ------------------------------------------------------------------------
 * The state file with rooms
 */

void
archive_file_init(struct archive_file *f)
{
	memset(f, 0, sizeof(*f));
	archive_state_init(&f->account);
}

void
archive_file_free(struct archive_file *f)
{
	size_t i;

	archive_state_free(&f->account);
	for (i = 0; i < f->nrooms; i++) {
		archive_state_free(f->rooms[i]);
		free(f->rooms[i]);
	}
	free(f->rooms);
	memset(f, 0, sizeof(*f));
}

static struct archive_state *
find_room(const struct archive_file *f, const char *room)
{
	size_t i;

	for (i = 0; i < f->nrooms; i++)
		if (jid_same_bare(f->rooms[i]->archive, room))
			return f->rooms[i];
	return NULL;
}

static struct archive_state *
add_room(struct archive_file *f, const char *room)
{
	struct archive_state *st = xcalloc(1, sizeof(*st));

	archive_state_init(st);
	st->archive = xstrdup(room);
	f->rooms = xrealloc(f->rooms, (f->nrooms + 1) * sizeof(*f->rooms));
	f->rooms[f->nrooms++] = st;
	return st;
}

struct archive_state *
archive_file_room(struct archive_file *f, const char *room)
{
	struct archive_state *st = find_room(f, room);

	return st ? st : add_room(f, room);
}

/* One line of the file into its section (*cur); -1: not a state file. */
static int
file_line(struct archive_file *f, struct archive_state **cur, char *line)
{
	if (strncmp(line, "room=", 5) == 0) {
		if (line[5] == '\0' || find_room(f, line + 5))
			return -1;
		*cur = add_room(f, line + 5);
		return 0;
	}
	if (*cur != &f->account && strncmp(line, "archive=", 8) == 0)
		return -1;
	return state_line(*cur, line);
}

int
archive_file_load(struct archive_file *f, const char *path, char **errstr)
{
	struct archive_state *cur = &f->account;
	struct buf b;
	char *line, *nl;
	int lineno = 1, rc;

	buf_init(&b);
	if ((rc = read_file(path, &b, errstr)) <= 0) {
		buf_free(&b);
		return rc;
	}
	for (line = b.data; line && *line; line = nl, lineno++) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		if (file_line(f, &cur, line) < 0) {
			*errstr = not_state_file(path, lineno);
			buf_free(&b);
			return -1;
		}
	}
	buf_free(&b);
	return 0;
}

int
archive_file_record(struct archive_file *f, struct archive_state *st,
    const char *path, const char *id, char **errstr)
{
	struct buf b;
	size_t i;
	int rc;

	state_set_last(st, id);
	buf_init(&b);
	state_text(&f->account, &b);
	for (i = 0; i < f->nrooms; i++) {
		buf_printf(&b, "room=%s\n", f->rooms[i]->archive);
		state_ids(f->rooms[i], &b);
	}
	rc = write_atomic(path, &b, errstr);
	buf_free(&b);
	return rc;
}
