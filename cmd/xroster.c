/* SPDX-License-Identifier: MIT */
/* xroster.c -- the contact list and subscriptions, scriptable and declarative
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <popt.h>
#include <strophe.h>

#include "config.h"
#include "jid.h"
#include "online.h"
#include "options.h"
#include "output.h"
#include "record.h"
#include "roster.h"
#include "session.h"
#include "stanza.h"
#include "text.h"
#include "util.h"
#include "xmpptools.h"

enum {
	OPT_NAME = 1,
	OPT_GROUP,
	OPT_ADD_GROUP,
	OPT_REMOVE_GROUP,
	OPT_SUBSCRIBE,
	OPT_MESSAGE,
	OPT_FILTER_GROUP,
	OPT_FILTER_SUB,
	OPT_PRUNE,
	OPT_DRY_RUN,
};

enum command {
	C_LIST,
	C_ADD,
	C_SET,
	C_REMOVE,
	C_SUBSCRIBE,
	C_UNSUBSCRIBE,
	C_APPROVE,
	C_DENY,
	C_REVOKE,
	C_PENDING,
	C_EXPORT,
	C_IMPORT,
	C_SYNC
};

static const struct {
	const char *name;
	enum command cmd;
	int min, max; /* arguments */
	const char *args;
} commands[] = {
	{ "list", C_LIST, 0, 0, "" },
	{ "add", C_ADD, 1, 1, "JID" },
	{ "set", C_SET, 1, 1, "JID" },
	{ "remove", C_REMOVE, 1, 100000, "JID..." },
	{ "subscribe", C_SUBSCRIBE, 1, 100000, "JID..." },
	{ "unsubscribe", C_UNSUBSCRIBE, 1, 100000, "JID..." },
	{ "approve", C_APPROVE, 1, 100000, "JID..." },
	{ "deny", C_DENY, 1, 100000, "JID..." },
	{ "revoke", C_REVOKE, 1, 100000, "JID..." },
	{ "pending", C_PENDING, 0, 0, "" },
	{ "export", C_EXPORT, 0, 0, "" },
	{ "import", C_IMPORT, 1, 1, "FILE" },
	{ "sync", C_SYNC, 1, 1, "FILE" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Roster sets in flight at once (import, sync, remove). */
#define WINDOW 64

struct xroster {
	/* options */
	char *name;
	int name_set;
	char **groups;
	size_t ngroups;
	int groups_set;
	char **add_groups;
	size_t nadd;
	char **remove_groups;
	size_t nremove;
	int subscribe;
	char *message;
	char *filter_group;
	char *filter_sub;
	int prune;
	int dry_run;
	struct output_choice oc; /* -F, -J, -X, -0 */

	/* the command */
	enum command cmd;
	char **jids;
	size_t njids;
	struct roster file;

	/* the run */
	struct session *s;
	struct output out;
	struct roster have;
	struct roster_change *plan;
	size_t nplan, next, inflight, done_changes;
	struct roster pending;
	xmpp_stanza_t **pending_st; /* the requests, in pending's order */
	char **sent_id; /* our presences: id and recipient */
	char **sent_to;
	size_t nsent;
	int failed;
	int stopping;
	long timeout_ms;
};

static struct poptOption options[] = {
	{ "name", '\0', POPT_ARG_STRING, NULL, OPT_NAME,
	    "add, set: the contact's name ('' removes it)", "NAME" },
	{ "group", 'g', POPT_ARG_STRING, NULL, OPT_GROUP,
	    "add, set: a group of the contact (repeatable; set: replaces "
	    "them); list: only contacts in GROUP",
	    "GROUP" },
	{ "add-group", '\0', POPT_ARG_STRING, NULL, OPT_ADD_GROUP,
	    "set: add the contact to GROUP (repeatable)", "GROUP" },
	{ "remove-group", '\0', POPT_ARG_STRING, NULL, OPT_REMOVE_GROUP,
	    "set: take the contact out of GROUP (repeatable)", "GROUP" },
	{ "subscribe", '\0', POPT_ARG_NONE, NULL, OPT_SUBSCRIBE,
	    "add: also ask to see the contact's presence", NULL },
	{ "message", 'm', POPT_ARG_STRING, NULL, OPT_MESSAGE,
	    "subscribe, add --subscribe: the text of the request", "TEXT" },
	{ "subscription", '\0', POPT_ARG_STRING, NULL, OPT_FILTER_SUB,
	    "list: only contacts with this subscription (none, to, from, "
	    "both)",
	    "STATE" },
	{ "prune", '\0', POPT_ARG_NONE, NULL, OPT_PRUNE,
	    "sync: also remove the contacts the file does not list", NULL },
	{ "dry-run", '\0', POPT_ARG_NONE, NULL, OPT_DRY_RUN,
	    "import, sync: print the plan and change nothing (exit 10 when "
	    "there is something to do)",
	    NULL },
	{ "format", 'F', POPT_ARG_STRING, NULL, 'F',
	    "Print records with FMT: %j JID, %S subscription, %a ask, %n name, "
	    "%g groups, %% and \\n \\t \\0",
	    "FMT" },
	{ "json", 'J', POPT_ARG_NONE, NULL, 'J',
	    "Print records as JSON Lines (the default of export)", NULL },
	{ "xml", 'X', POPT_ARG_NONE, NULL, 'X',
	    "Print each roster item as one line of XML", NULL },
	{ "null", '0', POPT_ARG_NONE, NULL, '0',
	    "End records with NUL instead of newline, fields unescaped", NULL },
	XOPT_COMMON_TABLE POPT_AUTOHELP POPT_TABLEEND
};

static char **
push(char **list, size_t *n, const char *s)
{
	list = xrealloc(list, (*n + 2) * sizeof(*list));
	list[(*n)++] = xstrdup(s);
	list[*n] = NULL;
	return list;
}

static void
free_list(char **list, size_t n)
{
	while (n > 0)
		free(list[--n]);
	free(list);
}

static int
xroster_option(
    void *state, struct xconfig *cli, int val, const char *arg, char **errstr)
{
	struct xroster *x = state;

	(void)cli;
	(void)errstr;
	switch (val) {
	case OPT_NAME:
		free(x->name);
		x->name = xstrdup(arg);
		x->name_set = 1;
		break;
	case OPT_GROUP:
		x->groups = push(x->groups, &x->ngroups, arg);
		x->groups_set = 1;
		break;
	case OPT_ADD_GROUP:
		x->add_groups = push(x->add_groups, &x->nadd, arg);
		break;
	case OPT_REMOVE_GROUP:
		x->remove_groups = push(x->remove_groups, &x->nremove, arg);
		break;
	case OPT_SUBSCRIBE:
		x->subscribe = 1;
		break;
	case OPT_MESSAGE:
		free(x->message);
		x->message = xstrdup(arg);
		break;
	case OPT_FILTER_SUB:
		if (strcmp(arg, "none") && strcmp(arg, "to") &&
		    strcmp(arg, "from") && strcmp(arg, "both")) {
			*errstr = xasprintf("--subscription: '%s' is not none, "
					    "to, from or both",
			    arg);
			return -1;
		}
		free(x->filter_sub);
		x->filter_sub = xstrdup(arg);
		break;
	case OPT_PRUNE:
		x->prune = 1;
		break;
	case OPT_DRY_RUN:
		x->dry_run = 1;
		break;
	case 'F':
	case 'J':
	case 'X':
	case '0':
		output_choose(&x->oc, val, arg);
		break;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Output
 */

static void
finish(struct xroster *x)
{
	if (x->stopping)
		return;
	x->stopping = 1;
	session_finish(x->s, x->failed ? XEXIT_REJECTED : XEXIT_OK);
}

static int
print_record(struct xroster *x, struct orecord *r)
{
	if (output_record(&x->out, r) < 0) {
		finish(x);
		return -1;
	}
	return 0;
}

static int
print_item(struct xroster *x, const struct roster_item *it)
{
	struct rec_strings k = { { 0 }, 0 };
	struct orecord r;
	xmpp_stanza_t *item = NULL;
	int rc;

	roster_record(&r, &k, it);
	if (x->oc.format == OUT_XML) {
		/* The <item/> as the server would send it. */
		item = roster_item_xml(session_ctx(x->s), it);
		r.stanza = item;
	}
	rc = print_record(x, &r);
	if (item)
		xmpp_stanza_release(item);
	rec_strings_free(&k);
	return rc;
}

static int
in_group(const struct roster_item *it, const char *g)
{
	size_t i;

	for (i = 0; i < it->ngroups; i++)
		if (strcmp(it->groups[i], g) == 0)
			return 1;
	return 0;
}

/* A failure about one contact: one line, and the run ends with 8. */
static void
report_error(struct xroster *x, const char *jid, xmpp_stanza_t *st)
{
	char *cond, *text;
	struct buf b;

	stanza_error_info(st, &cond, &text);
	buf_init(&b);
	if (text) {
		buf_adds(&b, ": ");
		text_escape(&b, text, strlen(text));
	}
	xerror("%s: %s%s", jid, cond, b.data ? b.data : "");
	buf_free(&b);
	free(cond);
	free(text);
	x->failed = 1;
}

static int
is_error(xmpp_stanza_t *st)
{
	const char *type = xmpp_stanza_get_type(st);

	return type && strcmp(type, "error") == 0;
}

/* ------------------------------------------------------------------------
 * Presence-based commands: subscribe, unsubscribe, approve, deny, revoke
 */

static void
on_confirmed(struct session *s, void *ud)
{
	(void)s;
	finish(ud);
}

static void
send_presence(
    struct xroster *x, const char *to, const char *type, const char *status)
{
	struct pres_spec spec;
	xmpp_stanza_t *p;
	char *id = session_new_id(x->s);

	/* An id, so that a bounce can be told from older news. */
	memset(&spec, 0, sizeof(spec));
	spec.id = id;
	spec.to = to;
	spec.type = type;
	spec.status = status;
	p = stanza_presence(session_ctx(x->s), &spec);
	x->sent_id = xrealloc(x->sent_id, (x->nsent + 1) * sizeof(char *));
	x->sent_to = xrealloc(x->sent_to, (x->nsent + 1) * sizeof(char *));
	x->sent_id[x->nsent] = id;
	x->sent_to[x->nsent++] = xstrdup(to);
	session_send(x->s, p);
	xmpp_stanza_release(p);
	xdebug(1, "sent %s to %s", type, to);
}

static int
on_presence_error(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct xroster *x = ud;
	const char *id = xmpp_stanza_get_id(st);
	size_t i;

	(void)s;
	if (x->stopping) {
		/* The exit status is decided: the answer came too late. */
		xdebug(1, "ignored a presence error after the end of the run");
		return 1;
	}
	/* Only the bounce of a presence this run sent is its failure (the
	 * server re-sends older requests of ours that bounce again). */
	for (i = 0; id && i < x->nsent; i++)
		if (strcmp(x->sent_id[i], id) == 0) {
			report_error(x, x->sent_to[i], st);
			return 1;
		}
	xdebug(1, "ignored a presence error about an older request");
	return 1;
}

static void
presence_command(struct xroster *x)
{
	static const char *const type[] = {
		[C_SUBSCRIBE] = "subscribe",
		[C_UNSUBSCRIBE] = "unsubscribe",
		[C_APPROVE] = "subscribed",
		[C_DENY] = "unsubscribed",
		[C_REVOKE] = "unsubscribed",
	};
	size_t i;

	for (i = 0; i < x->njids; i++)
		send_presence(x, x->jids[i], type[x->cmd],
		    x->cmd == C_SUBSCRIBE ? x->message : NULL);
	session_barrier(x->s, on_confirmed, x);
}

/* ------------------------------------------------------------------------
 * Roster sets: add, set, remove, import, sync
 */

static void send_changes(struct xroster *x);

struct change_ctx {
	struct xroster *x;
	size_t index;
};

static const char *
change_jid(const struct roster_change *c)
{
	return c->want ? c->want->jid : c->have->jid;
}

static int
on_set_reply(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct change_ctx *c = ud;
	struct xroster *x = c->x;
	const struct roster_change *ch = &x->plan[c->index];

	/* The deadline counts from the last answer: a long sync that keeps
	 * moving is not cut off. */
	session_set_deadline(s,
	    x->timeout_ms ? x->timeout_ms : XT_DEFAULT_TIMEOUT_MS, NULL, NULL);
	if (is_error(st))
		report_error(x, change_jid(ch), st);
	else {
		x->done_changes++;
		xdebug(
		    1, "%s %s", roster_action_name(ch->action), change_jid(ch));
		if (ch->action == RA_ADD && x->cmd == C_ADD && x->subscribe)
			send_presence(
			    x, change_jid(ch), "subscribe", x->message);
	}
	free(c);
	x->inflight--;
	send_changes(x);
	return 0;
}

static void
send_changes(struct xroster *x)
{
	struct change_ctx *c;
	xmpp_stanza_t *iq;
	const struct roster_change *ch;
	char *id;

	while (x->next < x->nplan && x->inflight < WINDOW) {
		ch = &x->plan[x->next];
		id = session_new_id(x->s);
		iq = roster_item_stanza(session_ctx(x->s), id,
		    ch->want ? ch->want : ch->have, ch->action == RA_REMOVE);
		c = xcalloc(1, sizeof(*c));
		c->x = x;
		c->index = x->next++;
		x->inflight++;
		session_request(x->s, iq, on_set_reply, c);
		xmpp_stanza_release(iq);
		free(id);
	}
	if (x->next < x->nplan || x->inflight > 0)
		return;
	if (x->cmd == C_IMPORT || x->cmd == C_SYNC)
		xnote("%zu of %zu changes made", x->done_changes, x->nplan);
	/* The subscription requests of add --subscribe need a barrier. */
	session_barrier(x->s, on_confirmed, x);
}

static void
print_plan(struct xroster *x)
{
	struct rec_strings k = { { 0 }, 0 };
	struct orecord r, ir;
	xmpp_stanza_t *iq;
	size_t i, j;
	int rc;

	for (i = 0; i < x->nplan; i++) {
		const struct roster_item *it =
		    x->plan[i].want ? x->plan[i].want : x->plan[i].have;

		roster_record(&ir, &k, it);
		/* -X: the roster set that would do it (xsend --raw takes it).
		 */
		iq = roster_item_stanza(session_ctx(x->s), "plan", it,
		    x->plan[i].action == RA_REMOVE);
		orecord_init(&r, "plan", iq);
		orecord_add(&r, 'A', "action",
		    roster_action_name(x->plan[i].action), OF_TEXT);
		for (j = 0; j < ir.n; j++)
			if (strcmp(ir.f[j].name, "subscription") != 0 &&
			    strcmp(ir.f[j].name, "ask") != 0 &&
			    strcmp(ir.f[j].name, "approved") != 0)
				orecord_add(&r, ir.f[j].key, ir.f[j].name,
				    ir.f[j].value, ir.f[j].flags);
		rc = print_record(x, &r);
		xmpp_stanza_release(iq);
		rec_strings_free(&k);
		if (rc < 0)
			break;
	}
}

/* The roster is in: do what the command asks. */
static void
with_roster(struct xroster *x)
{
	struct roster_item want, *have;
	struct roster one;
	size_t i, j;
	char **g;

	switch (x->cmd) {
	case C_LIST:
	case C_EXPORT:
		for (i = 0; i < x->have.n; i++) {
			const struct roster_item *it = &x->have.items[i];

			if (x->filter_group && !in_group(it, x->filter_group))
				continue;
			if (x->filter_sub &&
			    strcmp(it->subscription, x->filter_sub) != 0)
				continue;
			if (print_item(x, it) < 0)
				return;
		}
		finish(x);
		return;
	case C_SET:
		have = roster_find(&x->have, x->jids[0]);
		if (have == NULL) {
			xerror(
			    "%s: not in the roster (add it first)", x->jids[0]);
			x->failed = 1;
			finish(x);
			return;
		}
		memset(&want, 0, sizeof(want));
		want.jid = have->jid;
		want.name = x->name_set ? x->name : have->name;
		g = xcalloc(
		    have->ngroups + x->ngroups + x->nadd + 1, sizeof(*g));
		want.groups = g;
		if (x->groups_set)
			for (i = 0; i < x->ngroups; i++)
				g[want.ngroups++] = x->groups[i];
		else
			for (i = 0; i < have->ngroups; i++)
				g[want.ngroups++] = have->groups[i];
		for (i = 0; i < x->nadd; i++)
			g[want.ngroups++] = x->add_groups[i];
		for (i = 0; i < want.ngroups;) {
			for (j = 0; j < x->nremove; j++)
				if (strcmp(g[i], x->remove_groups[j]) == 0)
					break;
			if (j < x->nremove)
				g[i] = g[--want.ngroups];
			else
				i++;
		}
		roster_init(&one);
		roster_add(&one, &want);
		free(g);
		roster_free(&x->file);
		x->file = one;
		break;
	default:
		break;
	}
	/* import and sync; set with its one item */
	x->nplan = roster_plan(
	    &x->have, &x->file, x->cmd == C_SYNC && x->prune, &x->plan);
	if (x->dry_run) {
		print_plan(x);
		if (x->nplan == 0)
			xnote("nothing to change");
		session_finish(x->s, x->nplan ? XEXIT_NEGATIVE : XEXIT_OK);
		x->stopping = 1;
		return;
	}
	if (x->nplan == 0) {
		if (x->cmd != C_SET)
			xnote("nothing to change");
		finish(x);
		return;
	}
	send_changes(x);
}

static int
on_roster(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct xroster *x = ud;
	size_t skipped = 0;

	(void)s;
	if (is_error(st)) {
		report_error(x, "roster", st);
		finish(x);
		return 0;
	}
	roster_from_stanza(&x->have, st, &skipped);
	if (skipped)
		xwarn("skipped %zu roster items with an invalid JID", skipped);
	roster_sort(&x->have);
	with_roster(x);
	return 0;
}

static void
get_roster(struct xroster *x)
{
	char *id = session_new_id(x->s);
	xmpp_stanza_t *iq = stanza_roster_get(session_ctx(x->s), id);

	session_request(x->s, iq, on_roster, x);
	xmpp_stanza_release(iq);
	free(id);
}

/* ------------------------------------------------------------------------
 * pending: the subscription requests the server holds for us
 */

static int
on_subscribe(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct xroster *x = ud;
	struct roster_item it;
	char *status = stanza_child_text(st, "status", NULL);
	char *bare = jid_bare_of(xmpp_stanza_get_from(st));

	(void)s;
	if (x->cmd == C_PENDING && bare) {
		size_t i;

		jid_ascii_lower(bare);
		for (i = 0; i < x->pending.n; i++)
			if (strcmp(x->pending.items[i].jid, bare) == 0)
				break;
		if (i == x->pending.n) {
			memset(&it, 0, sizeof(it));
			it.jid = bare;
			it.name = status; /* kept as the request's text */
			roster_add(&x->pending, &it);
			x->pending_st = xrealloc(x->pending_st,
			    x->pending.n * sizeof(*x->pending_st));
			x->pending_st[i] = xmpp_stanza_clone(st);
		}
	}
	free(status);
	free(bare);
	return 1;
}

static void
on_pending_done(struct session *s, void *ud)
{
	struct xroster *x = ud;
	struct rec_strings k = { { 0 }, 0 };
	struct orecord r;
	struct pres_spec spec;
	xmpp_stanza_t *p;
	size_t i;

	/* In JID order, without losing which request is which. */
	for (i = 1; i < x->pending.n; i++) {
		size_t j = i;

		while (j > 0 &&
		    strcmp(x->pending.items[j - 1].jid,
			x->pending.items[j].jid) > 0) {
			struct roster_item t = x->pending.items[j];
			xmpp_stanza_t *ts = x->pending_st[j];

			x->pending.items[j] = x->pending.items[j - 1];
			x->pending.items[j - 1] = t;
			x->pending_st[j] = x->pending_st[j - 1];
			x->pending_st[j - 1] = ts;
			j--;
		}
	}
	for (i = 0; i < x->pending.n; i++) {
		orecord_init(&r, "pending", x->pending_st[i]);
		orecord_add(&r, 'j', "jid", x->pending.items[i].jid, OF_TEXT);
		orecord_add(
		    &r, 'm', "status", x->pending.items[i].name, OF_TEXT);
		if (print_record(x, &r) < 0)
			break;
	}
	rec_strings_free(&k);
	memset(&spec, 0, sizeof(spec));
	spec.type = "unavailable";
	p = stanza_presence(session_ctx(s), &spec);
	session_send(s, p);
	xmpp_stanza_release(p);
	finish(x);
}

static void
pending_command(struct xroster *x)
{
	struct pres_spec spec;
	xmpp_stanza_t *p;

	/*
	 * Pending requests come after an initial presence.  Priority -1:
	 * the server then routes no messages to this session and keeps the
	 * offline ones (RFC 6121 8.5.2.1.1) - xroster must not swallow them.
	 */
	memset(&spec, 0, sizeof(spec));
	spec.has_priority = 1;
	spec.priority = -1;
	p = stanza_presence(session_ctx(x->s), &spec);
	session_send(x->s, p);
	xmpp_stanza_release(p);
	session_barrier(x->s, on_pending_done, x);
}

/* ------------------------------------------------------------------------
 * The run
 */

static void
on_online(struct session *s, void *ud)
{
	struct xroster *x = ud;
	struct roster_item it;
	size_t i;

	(void)s;
	switch (x->cmd) {
	case C_SUBSCRIBE:
	case C_UNSUBSCRIBE:
	case C_APPROVE:
	case C_DENY:
	case C_REVOKE:
		presence_command(x);
		return;
	case C_PENDING:
		pending_command(x);
		return;
	case C_ADD:
		memset(&it, 0, sizeof(it));
		it.jid = x->jids[0];
		it.name = x->name;
		it.groups = x->groups;
		it.ngroups = x->ngroups;
		roster_add(&x->file, &it);
		x->plan = xcalloc(1, sizeof(*x->plan));
		x->plan[0].action = RA_ADD;
		x->plan[0].want = &x->file.items[0];
		x->nplan = 1;
		send_changes(x);
		return;
	case C_REMOVE:
		for (i = 0; i < x->njids; i++) {
			memset(&it, 0, sizeof(it));
			it.jid = x->jids[i];
			roster_add(&x->have, &it);
		}
		x->plan = xcalloc(x->njids, sizeof(*x->plan));
		for (i = 0; i < x->njids; i++) {
			x->plan[i].action = RA_REMOVE;
			x->plan[i].have = &x->have.items[i];
		}
		x->nplan = x->njids;
		send_changes(x);
		return;
	default:
		get_roster(x);
		return;
	}
}

static int
usage(const char *fmt, const char *arg)
{
	char *msg = xasprintf(fmt, arg);

	xerror("%s", msg);
	free(msg);
	fprintf(stderr, "Try 'xroster --help' for more information.\n");
	return XEXIT_USAGE;
}

static int
check_command(struct xroster *x, int argc, const char **argv)
{
	const char *why;
	struct jid j;
	size_t i;
	int a, n;

	i = 0;
	if (argc > 0) {
		for (i = 0; i < NCOMMANDS; i++)
			if (strcmp(argv[0], commands[i].name) == 0)
				break;
		if (i == NCOMMANDS)
			return usage("unknown command '%s' (list, add, set, "
				     "remove, subscribe, unsubscribe, approve, "
				     "deny, revoke, pending, export, import, "
				     "sync)",
			    argv[0]);
		argc--;
		argv++;
	}
	x->cmd = commands[i].cmd;
	n = argc;
	if (n < commands[i].min || n > commands[i].max)
		return usage(commands[i].max == 0
			? "%s takes no arguments"
			: "%s: wrong number of arguments",
		    commands[i].name);
	if (x->cmd == C_IMPORT || x->cmd == C_SYNC) {
		char *err = NULL;

		if (roster_read_file(&x->file, argv[0], &err) < 0) {
			xerror("%s; nothing changed", err);
			free(err);
			return XEXIT_USAGE;
		}
		roster_sort(&x->file);
		return 0;
	}
	for (a = 0; a < argc; a++) {
		if (jid_parse(argv[a], &j, &why) < 0 || j.resource) {
			if (j.domain)
				why = "a roster holds bare JIDs";
			jid_free(&j);
			xerror("invalid JID '%s': %s; nothing changed", argv[a],
			    why);
			return XEXIT_USAGE;
		}
		x->jids = push(x->jids, &x->njids, "");
		free(x->jids[x->njids - 1]);
		x->jids[x->njids - 1] = jid_ascii_lower(jid_bare(&j));
		jid_free(&j);
	}
	return 0;
}

static int
check_options(struct xroster *x)
{
	int setlike = x->cmd == C_ADD || x->cmd == C_SET;

	if (!setlike && (x->name_set || (x->groups_set && x->cmd != C_LIST)))
		return usage("--name and --group apply to add and set%s", "");
	if (x->cmd != C_SET && (x->nadd || x->nremove))
		return usage(
		    "--add-group and --remove-group apply to set%s", "");
	if (x->cmd == C_SET && x->groups_set && (x->nadd || x->nremove))
		return usage("--group replaces the groups; --add-group and "
			     "--remove-group edit them: not both%s",
		    "");
	if (x->subscribe && x->cmd != C_ADD)
		return usage("--subscribe applies to add%s", "");
	if (x->message && x->cmd != C_SUBSCRIBE &&
	    !(x->cmd == C_ADD && x->subscribe))
		return usage("--message applies to subscribe and add "
			     "--subscribe%s",
		    "");
	if ((x->prune && x->cmd != C_SYNC) ||
	    (x->dry_run && x->cmd != C_SYNC && x->cmd != C_IMPORT))
		return usage("--prune applies to sync, --dry-run to import and "
			     "sync%s",
		    "");
	if (x->filter_sub && x->cmd != C_LIST)
		return usage("--subscription applies to list%s", "");
	if (x->cmd == C_LIST && x->groups_set) {
		if (x->ngroups > 1)
			return usage("list: give --group once%s", "");
		x->filter_group = xstrdup(x->groups[0]);
	}
	return 0;
}

/* Texts that go into XML must be text XML can carry. */
static int
check_texts(struct xroster *x)
{
	size_t off, i;
	uint32_t cp;

	if (x->name &&
	    (text_check_xml(x->name, strlen(x->name), &off, &cp) ||
		strpbrk(x->name, "\t\n\r") != NULL))
		return usage("--name: '%s' holds a tab, a line break or what "
			     "XML cannot carry",
		    x->name);
	if (x->message &&
	    text_check_xml(x->message, strlen(x->message), &off, &cp))
		return usage("--message holds what XML cannot carry%s", "");
	for (i = 0; i < x->ngroups; i++)
		if (strchr(x->groups[i], '\r') != NULL ||
		    text_check_xml(
			x->groups[i], strlen(x->groups[i]), &off, &cp) ||
		    !*x->groups[i])
			return usage("--group: '%s' is empty or holds what XML "
				     "cannot carry",
			    x->groups[i]);
	for (i = 0; i < x->nadd; i++)
		if (strchr(x->add_groups[i], '\r') != NULL ||
		    text_check_xml(x->add_groups[i], strlen(x->add_groups[i]),
			&off, &cp) ||
		    !*x->add_groups[i])
			return usage("--add-group: '%s' is empty or holds what "
				     "XML cannot carry",
			    x->add_groups[i]);
	return 0;
}

static int
xroster_run(void *state, struct xconfig *cfg, int argc, const char **argv)
{
	struct xroster *x = state;
	char *password = NULL, *err = NULL;
	int rc;

	if ((rc = check_command(x, argc, argv)) != 0 ||
	    (rc = check_options(x)) != 0 || (rc = check_texts(x)) != 0)
		return rc;
	if (x->oc.template &&
	    output_check_template(x->oc.template,
		x->cmd == C_PENDING ? "jm"
		    : x->dry_run    ? "A" ROSTER_KEYS
				    : ROSTER_KEYS,
		&err) < 0) {
		xerror("%s", err);
		free(err);
		return XEXIT_USAGE;
	}
	if (x->cmd == C_EXPORT && !x->oc.set)
		x->oc.format = OUT_JSON;

	if ((rc = xtool_account(cfg, &password)) != XEXIT_OK)
		return rc;
	x->s = session_new(cfg, password, &err);
	util_secure_free(password);
	if (x->s == NULL) {
		xerror("%s", err);
		free(err);
		return XEXIT_CONFIG;
	}
	output_init(&x->out, x->oc.format, x->oc.template, x->oc.nul);
	x->timeout_ms = cfg->timeout_ms;
	session_set_deadline(x->s,
	    cfg->timeout_ms ? cfg->timeout_ms : XT_DEFAULT_TIMEOUT_MS, NULL,
	    NULL);
	session_add_handler(
	    x->s, "presence", "error", NULL, on_presence_error, x);
	session_add_handler(
	    x->s, "presence", "subscribe", NULL, on_subscribe, x);
	online_answer_iqs(x->s, "xroster", NULL); /* roster pushes, pings */
	session_on_connect(x->s, on_online, x);
	rc = session_run(x->s);
	if (rc != XEXIT_OK && rc != XEXIT_REJECTED && rc != XEXIT_NEGATIVE &&
	    session_error(x->s))
		xerror("%s", session_error(x->s));
	return rc;
}

/* The pending stanzas belong to the session's context: first them. */
static void
xroster_end(void *state)
{
	struct xroster *x = state;
	size_t i;

	for (i = 0; x->pending_st && i < x->pending.n; i++)
		xmpp_stanza_release(x->pending_st[i]);
	free(x->pending_st);
	x->pending_st = NULL;
	session_free(x->s);
	x->s = NULL;
}

int
main(int argc, char **argv)
{
	struct xroster x;
	struct xtool tool;
	size_t i;
	int rc;

	memset(&x, 0, sizeof(x));
	roster_init(&x.file);
	roster_init(&x.have);
	roster_init(&x.pending);
	memset(&tool, 0, sizeof(tool));
	tool.name = "xroster";
	tool.args_help = "[OPTION...] [COMMAND [ARG...]]";
	tool.options = options;
	tool.option = xroster_option;
	tool.run = xroster_run;
	tool.end = xroster_end;
	tool.state = &x;
	rc = xtool_main(&tool, argc, argv);

	xroster_end(&x);
	for (i = 0; i < x.nsent; i++) {
		free(x.sent_id[i]);
		free(x.sent_to[i]);
	}
	free(x.sent_id);
	free(x.sent_to);
	output_free(&x.out);
	roster_free(&x.file);
	roster_free(&x.have);
	roster_free(&x.pending);
	free(x.plan);
	free_list(x.groups, x.ngroups);
	free_list(x.add_groups, x.nadd);
	free_list(x.remove_groups, x.nremove);
	free_list(x.jids, x.njids);
	free(x.name);
	free(x.message);
	free(x.filter_group);
	free(x.filter_sub);
	output_choice_free(&x.oc);
	return rc;
}
