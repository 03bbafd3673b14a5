/* SPDX-License-Identifier: MIT */
/* roster.c -- roster items: from stanzas, from files, and the plan of a sync */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <strophe.h>

#include "jid.h"
#include "output.h"
#include "record.h"
#include "roster.h"
#include "stanza.h"
#include "text.h"
#include "util.h"

void
roster_init(struct roster *r)
{
	r->items = NULL;
	r->n = 0;
}

static void
item_free(struct roster_item *it)
{
	size_t i;

	free(it->jid);
	free(it->name);
	free(it->subscription);
	free(it->ask);
	for (i = 0; i < it->ngroups; i++)
		free(it->groups[i]);
	free(it->groups);
}

void
roster_free(struct roster *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		item_free(&r->items[i]);
	free(r->items);
	roster_init(r);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct roster_item *
roster_add(struct roster *r, const struct roster_item *it)
{
	struct roster_item *n;
	size_t i, k = 0;

	r->items = xrealloc(r->items, (r->n + 1) * sizeof(*r->items));
	n = &r->items[r->n++];
	memset(n, 0, sizeof(*n));
	n->jid = jid_ascii_lower(xstrdup(it->jid));
	n->name = it->name && *it->name ? xstrdup(it->name) : NULL;
	n->subscription = xstrdup(it->subscription ? it->subscription : "none");
	n->ask = it->ask ? xstrdup(it->ask) : NULL;
	n->approved = it->approved;
	n->line = it->line;
	n->groups = xcalloc(it->ngroups + 1, sizeof(*n->groups));
	for (i = 0; i < it->ngroups; i++)
		n->groups[i] = xstrdup(it->groups[i]);
	qsort(n->groups, it->ngroups, sizeof(*n->groups), cmp_str);
	for (i = 0; i < it->ngroups; i++) {
		if (k > 0 && strcmp(n->groups[k - 1], n->groups[i]) == 0) {
			free(n->groups[i]);
			continue;
		}
		n->groups[k++] = n->groups[i];
	}
	n->ngroups = k;
	return n;
}

int
roster_item_in_group(const struct roster_item *it, const char *group)
{
	size_t i;

	for (i = 0; i < it->ngroups; i++)
		if (strcmp(it->groups[i], group) == 0)
			return 1;
	return 0;
}

/* JIDs are compared as the server stores them: ASCII letters in lower
 * case (jid_ascii_lower() on everything read from users). */
static int
cmp_jid(const char *a, const char *b)
{
	return strcmp(a, b);
}

static int
cmp_item(const void *a, const void *b)
{
	return cmp_jid(((const struct roster_item *)a)->jid,
	    ((const struct roster_item *)b)->jid);
}

void
roster_sort(struct roster *r)
{
	if (r->n > 1)
		qsort(r->items, r->n, sizeof(*r->items), cmp_item);
}

struct roster_item *
roster_find(const struct roster *r, const char *query)
{
	size_t lo = 0, hi = r->n, mid;
	char jid[3 * 1024 + 2];
	int c;

	snprintf(jid, sizeof(jid), "%s", query);
	jid_ascii_lower(jid);

	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = cmp_jid(jid, r->items[mid].jid);
		if (c == 0)
			return &r->items[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int
bare_ok(const char *s)
{
	const char *why;
	struct jid j;
	int ok;

	if (jid_parse(s, &j, &why) < 0)
		return 0;
	ok = j.resource == NULL;
	jid_free(&j);
	return ok;
}

void
roster_from_stanza(struct roster *r, xmpp_stanza_t *iq, size_t *skipped)
{
	xmpp_stanza_t *q, *it, *g;
	struct roster_item item;
	char **groups = NULL, *lower;
	const char *jid, *t;
	size_t n;

	q = xmpp_stanza_get_child_by_name_and_ns(iq, "query", XMPP_NS_ROSTER);
	for (it = q ? xmpp_stanza_get_children(q) : NULL; it;
	     it = xmpp_stanza_get_next(it)) {
		if (!xmpp_stanza_is_tag(it) ||
		    strcmp(xmpp_stanza_get_name(it), "item") != 0)
			continue;
		jid = xmpp_stanza_get_attribute(it, "jid");
		if (jid == NULL || !bare_ok(jid)) {
			if (skipped)
				(*skipped)++;
			continue;
		}
		memset(&item, 0, sizeof(item));
		lower = jid_ascii_lower(xstrdup(jid));
		item.jid = lower;
		item.name = (char *)xmpp_stanza_get_attribute(it, "name");
		item.subscription =
		    (char *)xmpp_stanza_get_attribute(it, "subscription");
		item.ask = (char *)xmpp_stanza_get_attribute(it, "ask");
		t = xmpp_stanza_get_attribute(it, "approved");
		item.approved =
		    t && (strcmp(t, "true") == 0 || strcmp(t, "1") == 0);
		n = 0;
		for (g = xmpp_stanza_get_children(it); g;
		     g = xmpp_stanza_get_next(g)) {
			char *text;

			if (!xmpp_stanza_is_tag(g) ||
			    strcmp(xmpp_stanza_get_name(g), "group") != 0)
				continue;
			text = xmpp_stanza_get_text(g);
			if (text == NULL || *text == '\0') {
				if (text)
					xmpp_free(
					    xmpp_stanza_get_context(g), text);
				continue;
			}
			groups = xrealloc(groups, (n + 1) * sizeof(*groups));
			groups[n++] = xstrdup(text);
			xmpp_free(xmpp_stanza_get_context(g), text);
		}
		item.groups = groups;
		item.ngroups = n;
		roster_add(r, &item);
		free(lower);
		while (n > 0)
			free(groups[--n]);
	}
	free(groups);
}

/* The text format: five escaped fields, groups separated by commas. */
static int
parse_text_line(
    char *line, struct roster_item *it, struct roster *tmp, char **why)
{
	char *f[5], *p = line;
	struct buf b[5], *groups = NULL;
	size_t i, n = 0;
	int rc = -1;

	memset(it, 0, sizeof(*it));
	for (i = 0; i < 5; i++)
		buf_init(&b[i]);
	for (n = 0; n < 5 && p; n++) {
		f[n] = p;
		p = strchr(p, '\t');
		if (p)
			*p++ = '\0';
	}
	if (n < 1 || p != NULL) {
		*why = xstrdup("expected at most 5 tab-separated fields");
		goto out;
	}
	/* GROUPS (field 5) is split at its bare commas first, then each
	 * name is unescaped on its own. */
	for (i = 0; i < n && i < 4; i++)
		if (text_unescape(&b[i], f[i], strlen(f[i])) < 0) {
			*why =
			    xasprintf("malformed escape in field %zu", i + 1);
			goto out;
		}
	it->jid = b[0].data ? b[0].data : "";
	it->name = n > 3 && b[3].data && *b[3].data ? b[3].data : NULL;
	groups = xcalloc(1, sizeof(*groups));
	if (n > 4 && *f[4]) {
		char *g = f[4], *comma;

		/* Each name was escaped (its commas too) before the join. */
		for (;;) {
			comma = strchr(g, ',');
			if (comma)
				*comma = '\0';
			if (*g) {
				groups = xrealloc(groups,
				    (it->ngroups + 2) * sizeof(*groups));
				buf_init(&groups[it->ngroups]);
				if (text_unescape(&groups[it->ngroups], g,
					strlen(g)) < 0 ||
				    groups[it->ngroups].data == NULL) {
					buf_free(&groups[it->ngroups]);
					*why = xstrdup("malformed escape in a "
						       "group name");
					goto out;
				}
				it->ngroups++;
			}
			if (comma == NULL)
				break;
			g = comma + 1;
		}
	}
	it->groups = xcalloc(it->ngroups + 1, sizeof(*it->groups));
	for (i = 0; i < it->ngroups; i++)
		it->groups[i] = groups[i].data;
	roster_add(tmp, it);
	free(it->groups);
	rc = 0;
out:
	for (i = 0; i < 5; i++)
		buf_free(&b[i]);
	for (i = 0; groups && i < it->ngroups; i++)
		buf_free(&groups[i]);
	free(groups);
	return rc;
}

static int
parse_json_line(
    const char *line, struct roster_item *it, struct roster *tmp, char **why)
{
	json_error_t jerr;
	json_t *o, *v, *g;
	size_t i;
	int rc = -1;

	o = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL) {
		*why = xasprintf(
		    "invalid JSON at column %d: %s", jerr.column, jerr.text);
		return -1;
	}
	memset(it, 0, sizeof(*it));
	if (!json_is_object(o)) {
		*why = xstrdup("not a JSON object");
		goto out;
	}
	v = json_object_get(o, "jid");
	if (!json_is_string(v)) {
		*why = xstrdup("\"jid\" is missing or not a string");
		goto out;
	}
	it->jid = (char *)json_string_value(v);
	v = json_object_get(o, "name");
	if (v && !json_is_null(v) && !json_is_string(v)) {
		*why = xstrdup("\"name\" is not a string");
		goto out;
	}
	it->name = json_is_string(v) ? (char *)json_string_value(v) : NULL;
	g = json_object_get(o, "groups");
	if (g && !json_is_null(g) && !json_is_array(g)) {
		*why = xstrdup("\"groups\" is not an array");
		goto out;
	}
	if (json_is_array(g)) {
		it->groups =
		    xcalloc(json_array_size(g) + 1, sizeof(*it->groups));
		for (i = 0; i < json_array_size(g); i++) {
			v = json_array_get(g, i);
			if (!json_is_string(v)) {
				*why = xstrdup("a group is not a string");
				goto out;
			}
			if (*json_string_value(v))
				it->groups[it->ngroups++] =
				    (char *)json_string_value(v);
		}
	}
	roster_add(tmp, it);
	rc = 0;
out:
	free(it->groups);
	json_decref(o);
	return rc;
}

/* Names and group names go into XML: they must be text XML can carry. */
/* A tab or line break in an attribute (a name) comes back from the server
 * as a space, a carriage return in text (a group) as a newline: such a
 * contact could never match the file again. */
static int
has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20)
			return 1;
	return 0;
}

static int
check_item_text(const struct roster_item *it, char **why)
{
	size_t off, i;
	uint32_t cp;

	if (it->name &&
	    (text_check_xml(it->name, strlen(it->name), &off, &cp) != TEXT_OK ||
		has_control(it->name))) {
		*why = xstrdup("the name holds a tab, a line break or what XML "
			       "cannot carry");
		return -1;
	}
	for (i = 0; i < it->ngroups; i++)
		if (text_check_xml(it->groups[i], strlen(it->groups[i]), &off,
			&cp) != TEXT_OK ||
		    strchr(it->groups[i], '\r') != NULL) {
			*why =
			    xstrdup("a group holds a carriage return or what "
				    "XML cannot carry");
			return -1;
		}
	return 0;
}

/* A sorted roster read from 'path' must name each JID once. */
static int
find_duplicate(const struct roster *r, const char *path, char **errstr)
{
	size_t i;

	for (i = 1; i < r->n; i++)
		if (cmp_jid(r->items[i - 1].jid, r->items[i].jid) == 0) {
			*errstr = xasprintf("%s:%lu: %s is also on line %lu",
			    path, r->items[i].line, r->items[i].jid,
			    r->items[i - 1].line);
			return -1;
		}
	return 0;
}

int
roster_read_file(struct roster *r, const char *path, char **errstr)
{
	struct roster tmp;
	struct roster_item it;
	struct buf text;
	FILE *f;
	char *line, *next, *why = NULL;
	unsigned long lineno = 0;
	int tab;
	size_t i;
	int rc = -1, fd, rr;

	roster_init(&tmp);
	buf_init(&text);
	if (strcmp(path, "-") == 0)
		f = stdin;
	else if ((f = fopen(path, "r")) == NULL) {
		*errstr = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	fd = fileno(f);
	rr = util_read_all(fd, &text, 64u << 20);
	if (f != stdin)
		fclose(f);
	if (rr != 0) {
		*errstr = xasprintf("%s: %s", path,
		    rr == -1 ? strerror(errno) : "larger than 64 MiB");
		goto out;
	}
	if (text.data && memchr(text.data, '\0', text.len) != NULL) {
		*errstr = xasprintf("%s: a NUL byte: not a roster file", path);
		goto out;
	}
	for (line = text.data; line && *line; line = next) {
		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (*line && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		/*
		 * A line with a tab is the text format (export writes five
		 * fields); otherwise '{' starts JSON and '#' a comment - so a
		 * JID such as #chan%irc@gateway exports and imports as text.
		 */
		tab = strchr(line, '\t') != NULL;
		if (*line == '\0' || (*line == '#' && !tab))
			continue;
		if ((*line == '{' && !tab
			    ? parse_json_line(line, &it, &tmp, &why)
			    : parse_text_line(line, &it, &tmp, &why)) < 0)
			goto bad;
		tmp.items[tmp.n - 1].line = lineno;
		jid_ascii_lower(tmp.items[tmp.n - 1].jid);
		if (!bare_ok(tmp.items[tmp.n - 1].jid)) {
			why = xasprintf("'%s' is not a valid bare JID",
			    tmp.items[tmp.n - 1].jid);
			goto bad;
		}
		if (check_item_text(&tmp.items[tmp.n - 1], &why) < 0)
			goto bad;
	}
	roster_sort(&tmp);
	if (find_duplicate(&tmp, path, errstr) < 0)
		goto out;
	for (i = 0; i < tmp.n; i++)
		roster_add(r, &tmp.items[i]);
	rc = 0;
	goto out;
bad:
	*errstr = xasprintf("%s:%lu: %s", path, lineno, why);
	free(why);
out:
	roster_free(&tmp);
	buf_free(&text);
	return rc;
}

static int
same_groups(const struct roster_item *a, const struct roster_item *b)
{
	size_t i;

	if (a->ngroups != b->ngroups)
		return 0;
	for (i = 0; i < a->ngroups; i++)
		if (strcmp(a->groups[i], b->groups[i]) != 0)
			return 0;
	return 1;
}

static int
same_name(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

size_t
roster_plan(const struct roster *have, const struct roster *want, int prune,
    struct roster_change **out)
{
	struct roster_change *c = xcalloc(have->n + want->n + 1, sizeof(*c));
	const struct roster_item *h;
	size_t i, n = 0;

	for (i = 0; i < want->n; i++) {
		h = roster_find(have, want->items[i].jid);
		if (h == NULL) {
			c[n].action = RA_ADD;
			c[n++].want = &want->items[i];
		} else if (!same_name(h->name, want->items[i].name) ||
		    !same_groups(h, &want->items[i])) {
			c[n].action = RA_UPDATE;
			c[n].have = h;
			c[n++].want = &want->items[i];
		}
	}
	for (i = 0; prune && i < have->n; i++)
		if (roster_find(want, have->items[i].jid) == NULL) {
			c[n].action = RA_REMOVE;
			c[n++].have = &have->items[i];
		}
	*out = c;
	return n;
}

const char *
roster_action_name(enum roster_action a)
{
	return a == RA_ADD ? "add" : a == RA_UPDATE ? "update" : "remove";
}

/* The spec of an item for the builders of stanza.c (borrowed fields). */
static void
spec_of(const struct roster_item *it, struct roster_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->jid = it->jid;
	spec->name = it->name;
	spec->groups = it->groups;
	spec->ngroups = it->ngroups;
}

xmpp_stanza_t *
roster_item_stanza(
    xmpp_ctx_t *ctx, const char *id, const struct roster_item *it, int remove)
{
	struct roster_spec spec;

	spec_of(it, &spec);
	if (remove)
		spec.subscription = "remove";
	return stanza_roster_set(ctx, id, &spec);
}

xmpp_stanza_t *
roster_item_xml(xmpp_ctx_t *ctx, const struct roster_item *it)
{
	struct roster_spec spec;

	spec_of(it, &spec);
	spec.subscription = it->subscription;
	spec.ask = it->ask;
	return stanza_roster_item(ctx, &spec);
}

/* The groups of 'it': escaped and comma-separated for the text column
 * (%g), whole in a JSON array. */
static void
add_groups(
    struct orecord *r, struct rec_strings *k, const struct roster_item *it)
{
	struct buf text, list, one;
	size_t i;
	const char *p;

	buf_init(&text);
	buf_init(&list);
	buf_init(&one);
	for (i = 0; i < it->ngroups; i++) {
		if (i) {
			buf_addc(&text, ',');
			buf_addc(&list, '\x1f');
		}
		/* Each name escaped, its commas too: the list splits at the
		 * bare commas, and each piece unescapes to the name. */
		buf_reset(&one);
		text_escape(&one, it->groups[i], strlen(it->groups[i]));
		for (p = one.data ? one.data : ""; *p; p++)
			if (*p == ',')
				buf_adds(&text, "\\x2c");
			else
				buf_addc(&text, *p);
		buf_adds(&list, it->groups[i]);
	}
	/* The text column is escaped already (each name on its own, so its
	 * commas are \x2c); the JSON array holds the names whole. */
	rec_add(r, 'g', "groups", rec_keep(k, buf_steal(&text)),
	    OF_TEXT | OF_NOJSON | OF_ESCAPED);
	rec_add(r, 0, "groups", rec_keep(k, buf_steal(&list)), OF_LIST_US);
	buf_free(&one);
}

void
roster_record(
    struct orecord *r, struct rec_strings *k, const struct roster_item *it)
{
	orecord_init(r, "roster", NULL);
	rec_add(r, 'j', "jid", it->jid, OF_TEXT);
	rec_add(r, 'S', "subscription", it->subscription, OF_TEXT);
	rec_add(r, 'a', "ask", it->ask, OF_TEXT);
	rec_add(r, 'n', "name", it->name, OF_TEXT);
	add_groups(r, k, it);
	rec_add(r, 0, "approved", it->approved ? "1" : "0", OF_BOOL);
}

void
roster_plan_record(struct orecord *r, struct rec_strings *k,
    const struct roster_change *c, xmpp_stanza_t *iq)
{
	const struct roster_item *it = c->want ? c->want : c->have;

	orecord_init(r, "plan", iq);
	rec_add(r, 'A', "action", roster_action_name(c->action), OF_TEXT);
	rec_add(r, 'j', "jid", it->jid, OF_TEXT);
	rec_add(r, 'n', "name", it->name, OF_TEXT);
	add_groups(r, k, it);
}

/* ------------------------------------------------------------------------
 * Edits of one item, and plans of one action
 */

static int
listed(char *const *list, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

struct roster_item *
roster_edit_apply(struct roster *out, const struct roster_item *have,
    const struct roster_edit *e)
{
	struct roster_item want, *added;
	char **g;
	size_t i;

	memset(&want, 0, sizeof(want));
	want.jid = have->jid;
	want.name = (char *)(e->name_set ? e->name : have->name);
	g = xcalloc(have->ngroups + e->ngroups + e->nadd + 1, sizeof(*g));
	want.groups = g;
	if (e->groups_set)
		for (i = 0; i < e->ngroups; i++)
			g[want.ngroups++] = e->groups[i];
	else
		for (i = 0; i < have->ngroups; i++)
			g[want.ngroups++] = have->groups[i];
	for (i = 0; i < e->nadd; i++)
		g[want.ngroups++] = e->add[i];
	for (i = 0; i < want.ngroups;)
		if (listed(e->remove, e->nremove, g[i]))
			g[i] = g[--want.ngroups];
		else
			i++;
	added = roster_add(out, &want); /* sorts and de-duplicates */
	free(g);
	return added;
}

size_t
roster_plan_each(
    const struct roster *r, enum roster_action a, struct roster_change **out)
{
	struct roster_change *c = xcalloc(r->n + 1, sizeof(*c));
	size_t i;

	for (i = 0; i < r->n; i++) {
		c[i].action = a;
		if (a == RA_ADD)
			c[i].want = &r->items[i];
		else
			c[i].have = &r->items[i];
	}
	*out = c;
	return r->n;
}

/* ------------------------------------------------------------------------
 * Subscription requests (pending)
 */

void
roster_requests_init(struct roster_requests *q)
{
	q->items = NULL;
	q->n = 0;
}

void
roster_requests_free(struct roster_requests *q)
{
	size_t i;

	for (i = 0; i < q->n; i++) {
		free(q->items[i].jid);
		free(q->items[i].status);
		xmpp_stanza_release(q->items[i].st);
	}
	free(q->items);
	roster_requests_init(q);
}

/* Where 'jid' is, or would go, in the sorted list; *found says which. */
static size_t
request_slot(const struct roster_requests *q, const char *jid, int *found)
{
	size_t lo = 0, hi = q->n, mid;
	int c;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(jid, q->items[mid].jid);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

int
roster_requests_add(struct roster_requests *q, xmpp_stanza_t *presence)
{
	struct roster_request *rq;
	char *bare = jid_bare_of(xmpp_stanza_get_from(presence));
	size_t at;
	int found;

	if (bare == NULL)
		return 0;
	jid_ascii_lower(bare);
	at = request_slot(q, bare, &found);
	if (found) {
		free(bare);
		return 0;
	}
	q->items = xrealloc(q->items, (q->n + 1) * sizeof(*q->items));
	memmove(
	    &q->items[at + 1], &q->items[at], (q->n - at) * sizeof(*q->items));
	q->n++;
	rq = &q->items[at];
	rq->jid = bare;
	rq->status = stanza_child_text(presence, "status", NULL);
	rq->st = xmpp_stanza_clone(presence);
	return 1;
}

void
roster_request_record(struct orecord *r, const struct roster_request *rq)
{
	orecord_init(r, "pending", rq->st);
	rec_add(r, 'j', "jid", rq->jid, OF_TEXT);
	rec_add(r, 'm', "status", rq->status, OF_TEXT);
}
