/* SPDX-License-Identifier: MIT */
/* xroster.c -- the contact list and subscriptions, scriptable and declarative
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <popt.h>
#include <strophe.h>

#include "config.h"
#include "jid.h"
#include "omemo.h"
#include "omemo_pep.h"
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

struct xroster;

/* The options, as bits: which apply to a verb (struct verb). */
enum {
	O_NAME = 1 << 0,
	O_GROUP = 1 << 1,
	O_GROUP_TWICE = 1 << 2, /* --group given more than once */
	O_EDIT_GROUPS = 1 << 3, /* --add-group, --remove-group */
	O_REPLACE_AND_EDIT = 1 << 4, /* --group with those: never */
	O_SUBSCRIBE = 1 << 5,
	O_MESSAGE = 1 << 6, /* without --subscribe */
	O_SUB_MESSAGE = 1 << 7, /* with --subscribe */
	O_PRUNE = 1 << 8,
	O_DRY_RUN = 1 << 9,
	O_FILTER_SUB = 1 << 10
};

/* One verb of xroster: its arguments and options, and its run. */
struct verb {
	const char *name;
	int min, max; /* the number of arguments */
	/* Reads the arguments; returns 0 or an exit code. */
	int (*args)(struct xroster *x, int argc, const char **argv);
	unsigned options; /* the O_* that apply */
	void (*on_online)(struct xroster *x);
	/* With on_online = get_roster: what to do with it. */
	void (*with_roster)(struct xroster *x);
	/* For incoming presence of type subscribe, or NULL. */
	session_stanza_cb on_subscribe;
	const char *presence; /* what a presence verb sends */
	const char *keys; /* the -F keys */
	int count_changes; /* report "N of M changes made" */
	int json; /* JSON Lines unless -F, -J or -X */
	int omemo; /* opens the OMEMO key store */
};

/* A presence this run sent: a bounce of it is its failure. */
struct sent {
	char *id;
	char *to;
};

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
	char *filter_sub;
	int prune;
	int dry_run;
	struct output_choice oc; /* -F, -J, -X, -0 */

	/* the command */
	const struct verb *verb;
	char **jids;
	size_t njids;
	struct roster file;

	/* the run */
	struct session *s;
	struct output out;
	struct roster have;
	struct roster_change *plan;
	size_t nplan, next, inflight, done_changes;
	struct roster_requests pending;
	struct sent *sent;
	size_t nsent;
	int failed;
	int stopping;
	long timeout_ms;

	/* devices, trust, distrust */
	struct omemo *omemo;
	char *own_bare;
	char *device; /* trust, distrust: the device id, or the fingerprint as
		       * fp_norm() writes it */
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
	x->sent = xrealloc(x->sent, (x->nsent + 1) * sizeof(*x->sent));
	x->sent[x->nsent].id = id;
	x->sent[x->nsent++].to = xstrdup(to);
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
		if (strcmp(x->sent[i].id, id) == 0) {
			report_error(x, x->sent[i].to, st);
			return 1;
		}
	xdebug(1, "ignored a presence error about an older request");
	return 1;
}

/* subscribe, unsubscribe, approve, deny, revoke */
static void
presence_online(struct xroster *x)
{
	size_t i;

	/* --message applies to subscribe only */
	for (i = 0; i < x->njids; i++)
		send_presence(x, x->jids[i], x->verb->presence, x->message);
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
	session_set_deadline(s, x->timeout_ms, NULL, NULL);
	if (is_error(st))
		report_error(x, change_jid(ch), st);
	else {
		x->done_changes++;
		xdebug(
		    1, "%s %s", roster_action_name(ch->action), change_jid(ch));
		if (ch->action == RA_ADD && x->subscribe) /* add --subscribe */
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
	if (x->verb->count_changes)
		xnote("%zu of %zu changes made", x->done_changes, x->nplan);
	/* The subscription requests of add --subscribe need a barrier. */
	session_barrier(x->s, on_confirmed, x);
}

static void
print_plan(struct xroster *x)
{
	struct rec_strings k = { { 0 }, 0 };
	struct orecord r;
	xmpp_stanza_t *iq;
	size_t i;
	int rc;

	for (i = 0; i < x->nplan; i++) {
		const struct roster_change *c = &x->plan[i];

		/* -X: the roster set that would do it (xsend --raw takes it).
		 */
		iq = roster_item_stanza(session_ctx(x->s), "plan",
		    c->want ? c->want : c->have, c->action == RA_REMOVE);
		roster_plan_record(&r, &k, c, iq);
		rc = print_record(x, &r);
		xmpp_stanza_release(iq);
		rec_strings_free(&k);
		if (rc < 0)
			break;
	}
}

/* list, export: print the roster (list: with its filters). */
static void
list_roster(struct xroster *x)
{
	size_t i;

	for (i = 0; i < x->have.n; i++) {
		const struct roster_item *it = &x->have.items[i];

		if (x->groups_set && !roster_item_in_group(it, x->groups[0]))
			continue;
		if (x->filter_sub &&
		    strcmp(it->subscription, x->filter_sub) != 0)
			continue;
		if (print_item(x, it) < 0)
			return;
	}
	finish(x);
}

/* import, sync: make the server's roster what the file says. */
static void
plan_roster(struct xroster *x)
{
	x->nplan = roster_plan(&x->have, &x->file, x->prune, &x->plan);
	if (x->dry_run) {
		print_plan(x);
		if (x->nplan == 0)
			xnote("nothing to change");
		session_finish(x->s, x->nplan ? XEXIT_NEGATIVE : XEXIT_OK);
		x->stopping = 1;
		return;
	}
	if (x->nplan == 0) {
		if (x->verb->count_changes)
			xnote("nothing to change");
		finish(x);
		return;
	}
	send_changes(x);
}

/* set: the contact's item, edited, is the one item to plan. */
static void
set_roster(struct xroster *x)
{
	struct roster_edit edit;
	struct roster_item *have;

	have = roster_find(&x->have, x->jids[0]);
	if (have == NULL) {
		xerror("%s: not in the roster (add it first)", x->jids[0]);
		x->failed = 1;
		finish(x);
		return;
	}
	edit.name = x->name;
	edit.name_set = x->name_set;
	edit.groups = x->groups;
	edit.ngroups = x->ngroups;
	edit.groups_set = x->groups_set;
	edit.add = x->add_groups;
	edit.nadd = x->nadd;
	edit.remove = x->remove_groups;
	edit.nremove = x->nremove;
	roster_free(&x->file);
	roster_edit_apply(&x->file, have, &edit);
	plan_roster(x);
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
	x->verb->with_roster(x);
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

/* The end of a session that sent an initial presence (pending, approve). */
static void
leave_presence(struct session *s)
{
	struct pres_spec spec;
	xmpp_stanza_t *p;

	memset(&spec, 0, sizeof(spec));
	spec.type = "unavailable";
	p = stanza_presence(session_ctx(s), &spec);
	session_send(s, p);
	xmpp_stanza_release(p);
}

static int
on_subscribe(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct xroster *x = ud;

	(void)s;
	roster_requests_add(&x->pending, st);
	return 1;
}

static void
on_pending_done(struct session *s, void *ud)
{
	struct xroster *x = ud;
	struct orecord r;
	size_t i;

	for (i = 0; i < x->pending.n; i++) {
		roster_request_record(&r, &x->pending.items[i]);
		if (print_record(x, &r) < 0)
			break;
	}
	leave_presence(s);
	finish(x);
}

static void
on_pending_presence(struct session *s, void *ud)
{
	session_barrier(s, on_pending_done, ud);
}

static void
pending_online(struct xroster *x)
{
	struct pres_spec spec;

	/*
	 * Pending requests come after an initial presence.  Priority -1:
	 * the server then routes no messages to this session and keeps the
	 * offline ones (RFC 6121 8.5.2.1.1) - xroster must not swallow them.
	 * ejabberd sends stored requests only on a priority of 0 or more:
	 * online_quiet_presence() copes with that.
	 */
	memset(&spec, 0, sizeof(spec));
	spec.has_priority = 1;
	spec.priority = -1;
	online_quiet_presence(x->s, &spec, on_pending_presence, x);
}

/* ------------------------------------------------------------------------
 * approve on a server without pre-approval
 */

static int
has_request(const struct roster_requests *q, const char *jid)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		if (strcmp(q->items[i].jid, jid) == 0)
			return 1;
	return 0;
}

/* The requests are in: approve those, report the others. */
static void
on_approve_pending(struct session *s, void *ud)
{
	struct xroster *x = ud;
	size_t i;

	for (i = 0; i < x->njids; i++) {
		if (has_request(&x->pending, x->jids[i]))
			send_presence(x, x->jids[i], "subscribed", NULL);
		else {
			xerror("%s: nothing to approve: it has not asked, and "
			       "the server cannot pre-approve (RFC 6121 3.4)",
			    x->jids[i]);
			x->failed = 1;
		}
	}
	leave_presence(s);
	session_barrier(s, on_confirmed, x);
}

static void
on_approve_presence(struct session *s, void *ud)
{
	session_barrier(s, on_approve_pending, ud);
}

/*
 * approve: a server that announces pre-approval (Prosody) takes an
 * approval before the request; one that does not (ejabberd 23.01) drops
 * it without a word.  There the pending requests are read first, as
 * pending reads them, and only those are approved.
 */
static void
approve_online(struct xroster *x)
{
	struct pres_spec spec;

	if (session_preapproval(x->s)) {
		presence_online(x);
		return;
	}
	xdebug(1,
	    "the server announces no pre-approval: reading the "
	    "pending requests first");
	memset(&spec, 0, sizeof(spec));
	spec.has_priority = 1;
	spec.priority = -1;
	online_quiet_presence(x->s, &spec, on_approve_presence, x);
}

/* ------------------------------------------------------------------------
 * The run
 */

static void
add_online(struct xroster *x)
{
	struct roster_item it;

	memset(&it, 0, sizeof(it));
	it.jid = x->jids[0];
	it.name = x->name;
	it.groups = x->groups;
	it.ngroups = x->ngroups;
	roster_add(&x->file, &it);
	x->nplan = roster_plan_each(&x->file, RA_ADD, &x->plan);
	send_changes(x);
}

static void
remove_online(struct xroster *x)
{
	struct roster_item it;
	size_t i;

	for (i = 0; i < x->njids; i++) {
		memset(&it, 0, sizeof(it));
		it.jid = x->jids[i];
		roster_add(&x->have, &it);
	}
	x->nplan = roster_plan_each(&x->have, RA_REMOVE, &x->plan);
	send_changes(x);
}

static void
on_online(struct session *s, void *ud)
{
	struct xroster *x = ud;

	(void)s;
	x->verb->on_online(x);
}

/* add, set, remove and the presence verbs: bare JIDs. */
static int
args_jids(struct xroster *x, int argc, const char **argv)
{
	const char *why;
	struct jid j;
	int a;

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

/* import, sync: a roster file, read whole before anything is sent. */
static int
args_file(struct xroster *x, int argc, const char **argv)
{
	char *err = NULL;

	(void)argc;
	if (roster_read_file(&x->file, argv[0], &err) < 0) {
		xerror("%s; nothing changed", err);
		free(err);
		return XEXIT_USAGE;
	}
	roster_sort(&x->file);
	return 0;
}

/* ------------------------------------------------------------------------
 * OMEMO devices: devices, trust, distrust
 */

/* The -F keys of a device record: JID, device, fingerprint, trust. */
#define DEVICE_KEYS "jdft"

static const char *
trust_name(int trust)
{
	return trust == OMEMO_TRUSTED	? "trusted"
	    : trust == OMEMO_DISTRUSTED ? "distrusted"
					: "blind";
}

static int
print_device(struct xroster *x, const char *jid, unsigned long id,
    const char *fingerprint, const char *trust, int active)
{
	struct rec_strings k = { { 0 }, 0 };
	struct orecord r;
	int rc;

	orecord_init(&r, "device", NULL);
	rec_add(&r, 'j', "jid", jid, OF_TEXT);
	rec_add(&r, 'd', "device", rec_keep(&k, xasprintf("%lu", id)),
	    OF_TEXT | OF_NUMBER);
	rec_add(&r, 't', "trust", trust, OF_TEXT);
	rec_add(&r, 'f', "fingerprint", fingerprint, OF_TEXT);
	rec_add(&r, 0, "active", active ? "1" : "0", OF_BOOL);
	rc = print_record(x, &r);
	rec_strings_free(&k);
	return rc;
}

/* A fingerprint as compared: hex digits only, lower case, without the
 * key type byte 05 of a 66-digit one, into 'out' (at least 67 bytes).
 * Returns 0, or -1 when 'in' holds anything but hex digits, spaces and
 * colons, or not 64 digits (66 with the 05). */
static int
fp_norm(const char *in, char *out)
{
	size_t n = 0;

	for (; *in; in++)
		if (isxdigit((unsigned char)*in) && n < 66)
			out[n++] = (char)tolower((unsigned char)*in);
		else if (*in != ' ' && *in != ':')
			return -1;
	out[n] = '\0';
	if (n == 66 && out[0] == '0' && out[1] == '5')
		memmove(out, out + 2, n -= 2);
	out[n] = '\0';
	return n == 64 ? 0 : -1;
}

/* trust, distrust: is 'd' the device the command names? */
static int
is_named(const struct xroster *x, const struct omemo_device *d)
{
	char fp[67];
	unsigned long n;

	if (util_parse_ulong(x->device, 1, 0x7fffffffUL, &n) == 0)
		return n == (unsigned long)d->id;
	return d->fingerprint && fp_norm(d->fingerprint, fp) == 0 &&
	    strcmp(fp, x->device) == 0;
}

/* Every known device of the JID (this one first for the own account), or
 * with 'named' the one the command names. */
static int
print_devices(struct xroster *x, int named)
{
	struct omemo_device *d;
	size_t n, i;
	char *err = NULL, *fp;
	int rc = 0;

	if (strcmp(x->jids[0], x->own_bare) == 0 && !named) {
		fp = omemo_own_fingerprint(x->omemo);
		rc = print_device(x, x->own_bare,
		    (unsigned long)omemo_device_id(x->omemo), fp, "own", 1);
		free(fp);
	}
	if (rc < 0 || omemo_devices(x->omemo, x->jids[0], &d, &n, &err) < 0) {
		if (err)
			xerror("%s", err);
		free(err);
		return XEXIT_CONFIG;
	}
	for (i = 0; i < n && rc == 0; i++)
		if (!named || is_named(x, &d[i]))
			rc = print_device(x, x->jids[0], (unsigned long)d[i].id,
			    d[i].fingerprint, trust_name(d[i].trust),
			    d[i].active);
	omemo_devices_free(d, n);
	return XEXIT_OK;
}

static void
on_devices(struct session *s, int code, const char *why, void *ud)
{
	struct xroster *x = ud;
	const char *v = x->verb->name;
	char *err = NULL;
	uint32_t dev = 0;
	unsigned long n;
	int trust;

	if (code == XEXIT_OK && strcmp(v, "devices") != 0) {
		/* A number is a device id, anything else a fingerprint. */
		trust =
		    strcmp(v, "trust") == 0 ? OMEMO_TRUSTED : OMEMO_DISTRUSTED;
		if (util_parse_ulong(x->device, 1, 0x7fffffffUL, &n) == 0)
			dev = (uint32_t)n;
		if (omemo_set_trust(x->omemo, x->jids[0], dev,
			dev ? NULL : x->device, trust, &err) < 0) {
			xerror("%s; nothing changed", err);
			free(err);
			session_finish(s, XEXIT_REJECTED);
			return;
		}
		code = print_devices(x, 1);
	} else if (code == XEXIT_OK)
		code = print_devices(x, 0);
	else
		xerror("%s", why);
	session_finish(s, code);
}

static void
devices_online(struct xroster *x)
{
	omemo_pep_fetch(
	    x->s, x->omemo, (const char *const *)x->jids, 1, on_devices, x);
}

/* devices [JID]: the account's own devices without one. */
static int
args_devices(struct xroster *x, int argc, const char **argv)
{
	if (argc == 0) {
		x->jids = push(x->jids, &x->njids, x->own_bare);
		return 0;
	}
	return args_jids(x, 1, argv);
}

/* trust, distrust JID DEVICE: a device id or a fingerprint. */
static int
args_trust(struct xroster *x, int argc, const char **argv)
{
	char fp[67];
	unsigned long n;

	(void)argc;
	if (util_parse_ulong(argv[1], 1, 0x7fffffffUL, &n) == 0)
		x->device = xstrdup(argv[1]);
	else if (fp_norm(argv[1], fp) == 0)
		x->device = xstrdup(fp); /* compared in this form */
	else
		return xtool_usage("%s: '%s' is neither a device id nor a "
				   "fingerprint (64 hex digits)",
		    argv[0], argv[1]);
	return args_jids(x, 1, argv);
}

#define MANY 100000

static const struct verb verbs[] = {
	{ .name = "list",
	    .options = O_GROUP | O_FILTER_SUB,
	    .on_online = get_roster,
	    .with_roster = list_roster,
	    .keys = ROSTER_KEYS },
	{ .name = "add",
	    .min = 1,
	    .max = 1,
	    .args = args_jids,
	    .options =
		O_NAME | O_GROUP | O_GROUP_TWICE | O_SUBSCRIBE | O_SUB_MESSAGE,
	    .on_online = add_online,
	    .keys = ROSTER_KEYS },
	{ .name = "set",
	    .min = 1,
	    .max = 1,
	    .args = args_jids,
	    .options = O_NAME | O_GROUP | O_GROUP_TWICE | O_EDIT_GROUPS,
	    .on_online = get_roster,
	    .with_roster = set_roster,
	    .keys = ROSTER_KEYS },
	{ .name = "remove",
	    .min = 1,
	    .max = MANY,
	    .args = args_jids,
	    .on_online = remove_online,
	    .keys = ROSTER_KEYS },
	{ .name = "subscribe",
	    .min = 1,
	    .max = MANY,
	    .args = args_jids,
	    .options = O_MESSAGE,
	    .on_online = presence_online,
	    .presence = "subscribe",
	    .keys = ROSTER_KEYS },
	{ .name = "unsubscribe",
	    .min = 1,
	    .max = MANY,
	    .args = args_jids,
	    .on_online = presence_online,
	    .presence = "unsubscribe",
	    .keys = ROSTER_KEYS },
	{ .name = "approve",
	    .min = 1,
	    .max = MANY,
	    .args = args_jids,
	    .on_online = approve_online,
	    .on_subscribe = on_subscribe,
	    .presence = "subscribed",
	    .keys = ROSTER_KEYS },
	{ .name = "deny",
	    .min = 1,
	    .max = MANY,
	    .args = args_jids,
	    .on_online = presence_online,
	    .presence = "unsubscribed",
	    .keys = ROSTER_KEYS },
	{ .name = "revoke",
	    .min = 1,
	    .max = MANY,
	    .args = args_jids,
	    .on_online = presence_online,
	    .presence = "unsubscribed",
	    .keys = ROSTER_KEYS },
	{ .name = "pending",
	    .on_online = pending_online,
	    .on_subscribe = on_subscribe,
	    .keys = ROSTER_REQUEST_KEYS },
	{ .name = "export",
	    .on_online = get_roster,
	    .with_roster = list_roster,
	    .keys = ROSTER_KEYS,
	    .json = 1 },
	{ .name = "import",
	    .min = 1,
	    .max = 1,
	    .args = args_file,
	    .options = O_DRY_RUN,
	    .on_online = get_roster,
	    .with_roster = plan_roster,
	    .keys = ROSTER_KEYS,
	    .count_changes = 1 },
	{ .name = "sync",
	    .min = 1,
	    .max = 1,
	    .args = args_file,
	    .options = O_DRY_RUN | O_PRUNE,
	    .on_online = get_roster,
	    .with_roster = plan_roster,
	    .keys = ROSTER_KEYS,
	    .count_changes = 1 },
	{ .name = "devices",
	    .max = 1,
	    .args = args_devices,
	    .on_online = devices_online,
	    .keys = DEVICE_KEYS,
	    .omemo = 1 },
	{ .name = "trust",
	    .min = 2,
	    .max = 2,
	    .args = args_trust,
	    .on_online = devices_online,
	    .keys = DEVICE_KEYS,
	    .omemo = 1 },
	{ .name = "distrust",
	    .min = 2,
	    .max = 2,
	    .args = args_trust,
	    .on_online = devices_online,
	    .keys = DEVICE_KEYS,
	    .omemo = 1 },
};

#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

/* The verb (list without one) and its arguments. */
static int
check_command(struct xroster *x, int argc, const char **argv)
{
	const struct verb *v = &verbs[0];
	size_t i;

	if (argc > 0) {
		for (i = 0; i < NVERBS; i++)
			if (strcmp(argv[0], verbs[i].name) == 0)
				break;
		if (i == NVERBS)
			return xtool_usage(
			    "unknown command '%s' (list, add, set, "
			    "remove, subscribe, unsubscribe, approve, "
			    "deny, revoke, pending, export, import, "
			    "sync, devices, trust, distrust)",
			    argv[0]);
		v = &verbs[i];
		argc--;
		argv++;
	}
	x->verb = v;
	if (argc < v->min || argc > v->max)
		return xtool_usage(v->max == 0
			? "%s takes no arguments"
			: "%s: wrong number of arguments",
		    v->name);
	return v->args ? v->args(x, argc, argv) : 0;
}

/* What each option misused says, in the order they are checked. */
static const struct {
	unsigned options;
	const char *why;
} option_rules[] = {
	{ O_NAME | O_GROUP, "--name and --group apply to add and set" },
	{ O_EDIT_GROUPS, "--add-group and --remove-group apply to set" },
	{ O_REPLACE_AND_EDIT,
	    "--group replaces the groups; --add-group and --remove-group "
	    "edit them: not both" },
	{ O_SUBSCRIBE, "--subscribe applies to add" },
	{ O_MESSAGE | O_SUB_MESSAGE,
	    "--message applies to subscribe and add --subscribe" },
	{ O_PRUNE | O_DRY_RUN,
	    "--prune applies to sync, --dry-run to import and sync" },
	{ O_FILTER_SUB, "--subscription applies to list" },
	{ O_GROUP_TWICE, "list: give --group once" },
};

/* The options given, as O_* bits. */
static unsigned
options_given(const struct xroster *x)
{
	unsigned o = 0;

	o |= x->name_set ? O_NAME : 0;
	o |= x->groups_set ? O_GROUP : 0;
	o |= x->ngroups > 1 ? O_GROUP_TWICE : 0;
	o |= x->nadd || x->nremove ? O_EDIT_GROUPS : 0;
	o |= x->groups_set && (x->nadd || x->nremove) ? O_REPLACE_AND_EDIT : 0;
	o |= x->subscribe ? O_SUBSCRIBE : 0;
	if (x->message)
		o |= x->subscribe ? O_SUB_MESSAGE : O_MESSAGE;
	o |= x->prune ? O_PRUNE : 0;
	o |= x->dry_run ? O_DRY_RUN : 0;
	o |= x->filter_sub ? O_FILTER_SUB : 0;
	return o;
}

/* Every option given must apply to the verb. */
static int
check_options(struct xroster *x)
{
	unsigned misused = options_given(x) & ~x->verb->options;
	size_t i;

	for (i = 0; i < sizeof(option_rules) / sizeof(option_rules[0]); i++)
		if (misused & option_rules[i].options)
			return xtool_usage("%s", option_rules[i].why);
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
		return xtool_usage(
		    "--name: '%s' holds a tab, a line break or what "
		    "XML cannot carry",
		    x->name);
	if (x->message &&
	    text_check_xml(x->message, strlen(x->message), &off, &cp))
		return xtool_usage(
		    "--message holds what XML cannot carry%s", "");
	for (i = 0; i < x->ngroups; i++)
		if (strchr(x->groups[i], '\r') != NULL ||
		    text_check_xml(
			x->groups[i], strlen(x->groups[i]), &off, &cp) ||
		    !*x->groups[i])
			return xtool_usage(
			    "--group: '%s' is empty or holds what XML "
			    "cannot carry",
			    x->groups[i]);
	for (i = 0; i < x->nadd; i++)
		if (strchr(x->add_groups[i], '\r') != NULL ||
		    text_check_xml(x->add_groups[i], strlen(x->add_groups[i]),
			&off, &cp) ||
		    !*x->add_groups[i])
			return xtool_usage(
			    "--add-group: '%s' is empty or holds what "
			    "XML cannot carry",
			    x->add_groups[i]);
	return 0;
}

/* devices, trust, distrust: the account's OMEMO key store. */
static int
open_omemo(struct xroster *x)
{
	char *err = NULL;

	if ((x->omemo = omemo_pep_open(x->own_bare, &err)) == NULL) {
		xerror("%s", err);
		free(err);
		return XEXIT_CONFIG;
	}
	return 0;
}

static int
xroster_run(void *state, struct xconfig *cfg, int argc, const char **argv)
{
	struct xroster *x = state;
	char *err = NULL;
	int rc;

	x->own_bare = jid_bare_of(cfg->jid);
	if ((rc = check_command(x, argc, argv)) != 0 ||
	    (rc = check_options(x)) != 0 || (rc = check_texts(x)) != 0)
		return rc;
	if (x->oc.template &&
	    output_check_template(x->oc.template,
		x->dry_run ? "A" ROSTER_KEYS : x->verb->keys, &err) < 0) {
		xerror("%s", err);
		free(err);
		return XEXIT_USAGE;
	}
	if (x->verb->json && !x->oc.set)
		x->oc.format = OUT_JSON;
	if (x->verb->omemo && x->oc.format == OUT_XML)
		return xtool_usage("-X: %s prints no stanzas", x->verb->name);
	if (x->verb->omemo && (rc = open_omemo(x)) != 0)
		return rc;

	if ((rc = xtool_session(cfg, &x->s)) != XEXIT_OK)
		return rc;
	output_init(&x->out, x->oc.format, x->oc.template, x->oc.nul);
	x->timeout_ms = config_timeout_ms(cfg);
	session_set_deadline(x->s, config_timeout_ms(cfg), NULL, NULL);
	session_add_handler(
	    x->s, "presence", "error", NULL, on_presence_error, x);
	if (x->verb->on_subscribe)
		session_add_handler(x->s, "presence", "subscribe", NULL,
		    x->verb->on_subscribe, x);
	online_answer_iqs(x->s, "xroster", NULL); /* roster pushes, pings */
	session_on_connect(x->s, on_online, x);
	/* 8 and 10 are explained as they happen, contact by contact. */
	return xtool_run_session(
	    x->s, 1U << XEXIT_REJECTED | 1U << XEXIT_NEGATIVE);
}

/* Everything of the tool; the pending stanzas belong to the session's
 * context: first them. */
static void
xroster_end(void *state)
{
	struct xroster *x = state;
	size_t i;

	roster_requests_free(&x->pending);
	session_free(x->s);
	x->s = NULL;
	for (i = 0; i < x->nsent; i++) {
		free(x->sent[i].id);
		free(x->sent[i].to);
	}
	free(x->sent);
	output_free(&x->out);
	roster_free(&x->file);
	roster_free(&x->have);
	free(x->plan);
	free_list(x->groups, x->ngroups);
	free_list(x->add_groups, x->nadd);
	free_list(x->remove_groups, x->nremove);
	free_list(x->jids, x->njids);
	free(x->name);
	free(x->message);
	free(x->filter_sub);
	output_choice_free(&x->oc);
	omemo_pep_release();
	omemo_close(x->omemo);
	free(x->own_bare);
	free(x->device);
}

int
main(int argc, char **argv)
{
	struct xroster x;
	struct xtool tool;

	memset(&x, 0, sizeof(x));
	roster_init(&x.file);
	roster_init(&x.have);
	roster_requests_init(&x.pending);
	memset(&tool, 0, sizeof(tool));
	tool.name = "xroster";
	tool.args_help = "[OPTION...] [COMMAND [ARG...]]";
	tool.options = options;
	tool.option = xroster_option;
	tool.run = xroster_run;
	tool.end = xroster_end;
	tool.state = &x;
	return xtool_main(&tool, argc, argv);
}
