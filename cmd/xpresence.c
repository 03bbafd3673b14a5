/* SPDX-License-Identifier: MIT */
/* xpresence.c -- set, query, wait for and watch presence */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <popt.h>
#include <strophe.h>

#include "config.h"
#include "jid.h"
#include "online.h"
#include "options.h"
#include "output.h"
#include "presence.h"
#include "record.h"
#include "roster.h"
#include "session.h"
#include "stanza.h"
#include "text.h"
#include "util.h"
#include "xmpptools.h"

enum {
	OPT_UNTIL = 1,
	OPT_MESSAGE,
	OPT_PRIORITY,
	OPT_STDIN,
	OPT_TO,
	OPT_COUNT,
	OPT_GRACE,
	OPT_KEEPALIVE
};

struct xpresence;

/* The options, as bits: which apply to a verb (struct verb). */
enum {
	O_UNTIL = 1 << 0,
	O_COUNT = 1 << 1,
	O_GRACE = 1 << 2,
	O_KEEPALIVE = 1 << 3,
	O_SET = 1 << 4 /* --message, --priority, --stdin, --to */
};

/* One verb of xpresence: its arguments and options, and its handlers. */
struct verb {
	const char *name;
	/* Reads the arguments after the verb; returns 0 or an exit code. */
	int (*args)(struct xpresence *x, int argc, const char **argv);
	unsigned options; /* the O_* that apply */
	int one_shot; /* a default deadline; no resumption, reconnection or
			 keepalive */
	int signals; /* a signal ends the run cleanly */
	int add_unknown; /* without JIDs: every contact heard of */
	void (*on_online)(struct xpresence *x);
	/* The initial presences are in, or NULL. */
	void (*on_settled)(struct xpresence *x);
	/* A subscription request, an error; a contact's presence changed. */
	void (*on_subscribe)(struct xpresence *x, xmpp_stanza_t *st);
	void (*on_error)(struct xpresence *x, xmpp_stanza_t *st);
	void (*on_change)(struct xpresence *x, xmpp_stanza_t *st);
	void (*on_deadline)(struct xpresence *x);
};

struct xpresence {
	/* options */
	const struct verb *verb;
	char *until;
	char *status;
	long priority;
	int priority_set;
	int use_stdin;
	char **to;
	size_t nto;
	unsigned long count;
	long grace_ms;
	int grace_set;
	int keepalive_set;
	struct output_choice oc; /* -F, -J, -X, -0 */
	long keepalive_ms;
	const char *show; /* set: the show, NULL for plain available */

	/* the run */
	const struct xconfig *cfg;
	struct session *s;
	struct output out;
	struct presence_book book;
	int all_contacts; /* get/watch without JIDs: the roster */
	int settled; /* initial presences are in (barrier) */
	size_t nlast; /* get, watch: XEP-0012 queries out */
	/* ... called when all are in */
	void (*after_last)(struct xpresence *x);
	unsigned long npresences; /* presences of contacts received */
	unsigned long round_mark; /* ... when the last quiet round began */
	int rounds; /* get, watch: quiet rounds so far */
	void (*after_quiet)(struct xpresence *x); /* ... called after them */
	unsigned grace_timer; /* get: waiting for presences on their way */
	unsigned long printed;
	int done;
	struct buf in;
};

static struct poptOption options[] = {
	{ "until", 'u', POPT_ARG_STRING, NULL, OPT_UNTIL,
	    "wait: the state to wait for: available (default), unavailable, "
	    "away, chat, dnd, xa",
	    "STATE" },
	{ "message", 'm', POPT_ARG_STRING, NULL, OPT_MESSAGE,
	    "set: the status text", "STATUS" },
	{ "priority", '\0', POPT_ARG_STRING, NULL, OPT_PRIORITY,
	    "set: the priority, -128 to 127 (default -1: no message is routed "
	    "to xpresence)",
	    "N" },
	{ "stdin", '\0', POPT_ARG_NONE, NULL, OPT_STDIN,
	    "set: read lines 'SHOW [STATUS...]' and publish each as it comes",
	    NULL },
	{ "to", '\0', POPT_ARG_STRING, NULL, OPT_TO,
	    "set: send the presence to JID only (directed; a room occupant "
	    "JID too); repeatable",
	    "JID" },
	{ "count", 'c', POPT_ARG_STRING, NULL, OPT_COUNT,
	    "watch: exit after N records", "N" },
	{ "grace", '\0', POPT_ARG_STRING, NULL, OPT_GRACE,
	    "get: how long to wait for contacts that have not answered once "
	    "the own server has (of other servers, or with a session; "
	    "default 2)",
	    "SECONDS" },
	{ "format", 'F', POPT_ARG_STRING, NULL, 'F',
	    "Print records with FMT: %f JID/resource, %S state, %m status, "
	    "%p priority, %T time, %t to, %% and \\n \\t \\0",
	    "FMT" },
	{ "json", 'J', POPT_ARG_NONE, NULL, 'J', "Print records as JSON Lines",
	    NULL },
	{ "xml", 'X', POPT_ARG_NONE, NULL, 'X',
	    "Print each presence as one line of XML", NULL },
	{ "null", '0', POPT_ARG_NONE, NULL, '0',
	    "End records with NUL instead of newline, fields unescaped", NULL },
	{ "keepalive", '\0', POPT_ARG_STRING, NULL, OPT_KEEPALIVE,
	    "set, watch, wait: ping the server every SECONDS (default 60)",
	    "SECONDS" },
	XOPT_COMMON_TABLE POPT_AUTOHELP POPT_TABLEEND
};

static int
xpresence_option(
    void *state, struct xconfig *cli, int val, const char *arg, char **errstr)
{
	struct xpresence *x = state;
	long ms, l;

	(void)cli;
	switch (val) {
	case OPT_UNTIL:
		if (!presence_is_state(arg, 1)) {
			*errstr =
			    xasprintf("--until: '%s' is not available, "
				      "unavailable, away, chat, dnd or xa",
				arg);
			return -1;
		}
		free(x->until);
		x->until = xstrdup(arg);
		break;
	case OPT_MESSAGE:
		free(x->status);
		x->status = xstrdup(arg);
		break;
	case OPT_PRIORITY:
		if (xtool_number(
			"--priority", arg, -128, 127, &x->priority, errstr) < 0)
			return -1;
		x->priority_set = 1;
		break;
	case OPT_STDIN:
		x->use_stdin = 1;
		break;
	case OPT_TO:
		x->to = xrealloc(x->to, (x->nto + 1) * sizeof(*x->to));
		x->to[x->nto++] = xstrdup(arg);
		break;
	case OPT_COUNT:
		if (xtool_number("--count", arg, 1, INT_MAX, &l, errstr) < 0)
			return -1;
		x->count = (unsigned long)l;
		break;
	case OPT_GRACE:
		if (util_parse_seconds(arg, &ms) < 0) {
			*errstr =
			    xasprintf("--grace: invalid duration '%s'", arg);
			return -1;
		}
		x->grace_ms = ms;
		x->grace_set = 1;
		break;
	case 'F':
	case 'J':
	case 'X':
	case '0':
		output_choose(&x->oc, val, arg);
		break;
	case OPT_KEEPALIVE:
		if (util_parse_seconds(arg, &ms) < 0 || ms < 1000) {
			*errstr =
			    xasprintf("--keepalive: invalid duration '%s' "
				      "(seconds, at least 1)",
				arg);
			return -1;
		}
		x->keepalive_ms = ms;
		x->keepalive_set = 1;
		break;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Output
 */

static void
end_run(struct xpresence *x, int code)
{
	struct pres_spec spec;
	xmpp_stanza_t *p;
	size_t i;

	if (x->done)
		return;
	x->done = 1;
	/* Leave as we came: unavailable, to everyone we told. */
	memset(&spec, 0, sizeof(spec));
	spec.type = "unavailable";
	for (i = 0; session_online(x->s) && (i == 0 || i < x->nto); i++) {
		spec.to = x->nto ? x->to[i] : NULL;
		p = stanza_presence(session_ctx(x->s), &spec);
		session_send(x->s, p);
		xmpp_stanza_release(p);
	}
	/*
	 * Close only once the server has answered a ping: what it was
	 * sending us meanwhile then arrives and is acknowledged, instead of
	 * bouncing back to our contacts as undelivered.
	 */
	session_close(x->s, code);
}

static int
print(struct xpresence *x, xmpp_stanza_t *st, const char *from)
{
	struct rec_strings k = { { 0 }, 0 };
	struct orecord r;
	int rc = 0;

	if (st)
		rec_presence_contact(&r, &k, st, time(NULL));
	else /* a contact that sent nothing: offline, as of now */
		rec_presence_absent(
		    &r, &k, from, session_bound_jid(x->s), time(NULL));
	if (output_record(&x->out, &r) < 0) {
		end_run(x, XEXIT_OK);
		rc = -1;
	}
	rec_strings_free(&k);
	if (rc == 0 && x->count && /* watch */
	    ++x->printed >= x->count)
		end_run(x, XEXIT_OK);
	return rc;
}

/* get: everything is known; print it and say whether all are online. */
static void
answer_get(struct xpresence *x)
{
	size_t i, j;
	int all = 1;

	if (x->done)
		return;
	for (i = 0; i < x->book.n; i++) {
		struct presence_contact *c = &x->book.c[i];

		if (!c->subscribed && !c->heard)
			xwarn("%s: no presence subscription: its presence is "
			      "not shared (xroster subscribe %s)",
			    c->jid, c->jid);
		if (c->nres == 0) {
			all = 0;
			if (print(x, NULL, c->jid) < 0)
				return;
		}
		for (j = 0; j < c->nres; j++)
			if (print(x, c->res[j].st, NULL) < 0)
				return;
	}
	end_run(x, all ? XEXIT_OK : XEXIT_NEGATIVE);
}

static void
check_wait(struct xpresence *x)
{
	const char *until = x->until ? x->until : "available";
	size_t i;

	if (!x->settled || x->done ||
	    presence_first_pending(&x->book, 0, until) < x->book.n)
		return;
	for (i = 0; i < x->book.n; i++)
		xdebug(1, "%s is %s", x->book.c[i].jid,
		    presence_contact_state(&x->book.c[i]));
	end_run(x, XEXIT_OK);
}

/* ------------------------------------------------------------------------
 * Incoming presence
 */

static char *
escaped_jid(const char *jid)
{
	struct buf b;

	buf_init(&b);
	text_escape(&b, jid, strlen(jid));
	return buf_steal(&b);
}

/* get: a request is a note on stderr, not a record. */
static void
note_request(struct xpresence *x, xmpp_stanza_t *st)
{
	char *from = escaped_jid(xmpp_stanza_get_from(st));

	(void)x;
	xnote("%s asks to see your presence (xroster approve or deny)", from);
	free(from);
}

/* wait, watch, set: a request is a record. */
static void
print_presence(struct xpresence *x, xmpp_stanza_t *st)
{
	print(x, st, NULL);
}

/* set --to: a directed presence that bounced. */
static void
warn_refused(struct xpresence *x, xmpp_stanza_t *st)
{
	char *cond, *text, *from;

	if (x->nto == 0)
		return;
	stanza_error_info(st, &cond, &text);
	from = escaped_jid(xmpp_stanza_get_from(st));
	xwarn("%s: presence refused: %s", from, cond);
	free(from);
	free(cond);
	free(text);
}

static void
wait_change(struct xpresence *x, xmpp_stanza_t *st)
{
	(void)st;
	check_wait(x);
}

static int
on_presence(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct xpresence *x = ud;
	const char *from = xmpp_stanza_get_from(st);
	const char *type = xmpp_stanza_get_type(st);
	struct presence_contact *c;
	char *bare;

	if (x->done || from == NULL)
		return 1;
	if (type && strcmp(type, "subscribe") == 0) {
		/* Shown for the user to decide; never accepted here. */
		x->verb->on_subscribe(x, st);
		return 1;
	}
	if (type && strcmp(type, "error") == 0) {
		if (x->verb->on_error)
			x->verb->on_error(x, st);
		return 1;
	}
	if (type && strcmp(type, "unavailable") != 0)
		return 1; /* subscribed, unsubscribe, probe, ... */
	if (strcmp(from, session_bound_jid(s)) == 0)
		return 1; /* our own presence, reflected */
	c = presence_find(&x->book, from);
	if (c == NULL) {
		if (!x->all_contacts || !x->verb->add_unknown)
			return 1;
		bare = jid_bare_of(from);
		c = presence_add(&x->book, bare);
		free(bare);
	}
	presence_update(c, st);
	x->npresences++;
	if (x->grace_timer && !presence_awaited(&x->book, session_domain(s))) {
		/* get: the last awaited presence is in. */
		session_timer_cancel(s, x->grace_timer);
		x->grace_timer = 0;
		answer_get(x);
		return 1;
	}
	if (x->verb->on_change)
		x->verb->on_change(x, st);
	return 1;
}

/* ------------------------------------------------------------------------
 * Our own presence
 */

static void
send_own(struct xpresence *x, const char *show, const char *status)
{
	struct pres_spec spec;
	xmpp_stanza_t *p;
	size_t i;

	memset(&spec, 0, sizeof(spec));
	spec.show = show;
	spec.status = status;
	spec.has_priority = 1;
	spec.priority = x->priority;
	for (i = 0; i == 0 || i < x->nto; i++) {
		spec.to = x->nto ? x->to[i] : NULL;
		/*
		 * To a full JID it may be a room occupant JID: the MUC element
		 * makes it a join (XEP-0045 7.2.1), without history; clients
		 * ignore it.
		 */
		spec.muc_join = x->nto && jid_has_resource(x->to[i]);
		p = stanza_presence(session_ctx(x->s), &spec);
		session_send(x->s, p);
		xmpp_stanza_release(p);
	}
	xdebug(1, "presence: %s%s%s", show ? show : "available",
	    status && *status ? ", " : "", status ? status : "");
}

/* set --stdin: one line "SHOW [STATUS...]" is one presence. */
static int
set_line(struct xpresence *x, char *line, unsigned long lineno)
{
	char *sp = line + strcspn(line, " \t"), *status;
	size_t off;
	uint32_t cp;

	if (*sp) {
		*sp = '\0';
		status = sp + 1 + strspn(sp + 1, " \t");
	} else
		status = sp;
	if (!presence_is_state(line, 0)) {
		xerror("standard input: line %lu: '%s' is not available, "
		       "away, chat, dnd or xa",
		    lineno, line);
		return -1;
	}
	if (text_check_xml(status, strlen(status), &off, &cp) != TEXT_OK) {
		xerror("standard input: line %lu: the status holds what XML "
		       "cannot carry",
		    lineno);
		return -1;
	}
	free(x->status);
	x->status = xstrdup(status);
	x->show = presence_show_of(line);
	send_own(x, x->show, x->status);
	return 0;
}

static int
on_input(struct session *s, int fd, void *ud)
{
	struct xpresence *x = ud;
	static unsigned long lineno;
	char *nl, *p;
	ssize_t n;

	(void)s;
	buf_reserve(&x->in, 4096);
	n = read(fd, x->in.data + x->in.len, 4096);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n < 0) {
		xerror("standard input: %s", strerror(errno));
		end_run(x, XEXIT_FAILURE);
		return -1;
	}
	if (n > 0) {
		x->in.len += (size_t)n;
		x->in.data[x->in.len] = '\0';
	}
	p = x->in.data;
	while (
	    p && (nl = memchr(p, '\n', x->in.len - (size_t)(p - x->in.data)))) {
		*nl = '\0';
		if (nl > p && nl[-1] == '\r')
			nl[-1] = '\0';
		lineno++;
		if (*p && set_line(x, p, lineno) < 0) {
			end_run(x, XEXIT_USAGE);
			return -1;
		}
		p = nl + 1;
	}
	if (p)
		buf_consume(&x->in, (size_t)(p - x->in.data));
	if (x->in.len > 4096) {
		xerror("standard input: line %lu: too long", lineno + 1);
		end_run(x, XEXIT_USAGE);
		return -1;
	}
	if (n <= 0) {
		if (x->in.len > 0 && set_line(x, x->in.data, ++lineno) < 0) {
			end_run(x, XEXIT_USAGE);
			return -1;
		}
		/* The end of the input: stay online, as without --stdin. */
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * The run
 */

static void
on_grace(struct session *s, void *ud)
{
	struct xpresence *x = ud;

	(void)s;
	x->grace_timer = 0;
	answer_get(x);
}

/* get: answer once no presence is awaited, or after the grace. */
static void
get_wait(struct xpresence *x)
{
	char t[32];

	if (x->grace_ms > 0 &&
	    presence_awaited(&x->book, session_domain(x->s))) {
		xdebug(1,
		    "waiting up to %s s for presences on their way "
		    "(--grace)",
		    util_seconds(x->grace_ms, t, sizeof(t)));
		x->grace_timer =
		    session_timer_add(x->s, x->grace_ms, on_grace, x);
	} else
		answer_get(x);
}

/* XEP-0012 on a local contact: 0 s idle means it has a session. */
static int
on_last(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct xpresence *x = ud;
	struct presence_contact *c;
	const char *from = xmpp_stanza_get_from(st);
	const char *type = xmpp_stanza_get_type(st);
	xmpp_stanza_t *q = xmpp_stanza_get_child_by_name(st, "query");
	const char *secs = q ? xmpp_stanza_get_attribute(q, "seconds") : NULL;

	(void)s;
	c = from ? presence_find(&x->book, from) : NULL;
	if (c && type && strcmp(type, "result") == 0 && secs &&
	    strcmp(secs, "0") == 0)
		c->has_session = 1;
	if (--x->nlast == 0)
		x->after_last(x);
	return 0;
}

/*
 * get: the server has processed our initial presence and its
 * probes.  Prosody answers the probes of its own users before that, for
 * those offline too; ejabberd hands them to each contact's session, whose
 * answer may come later, and answers none for those offline.  So for each
 * local contact not heard from, its last activity (XEP-0012, which the
 * server answers itself) says whether it has a session; then 'then'.
 */
static void
ask_sessions(struct xpresence *x, void (*then)(struct xpresence *x))
{
	const char *domain = session_domain(x->s);
	struct presence_contact *c;
	xmpp_stanza_t *iq;
	char *id;
	size_t i;

	x->after_last = then;
	for (i = 0; i < x->book.n; i++) {
		c = &x->book.c[i];
		if (!c->subscribed || c->heard || !presence_is_local(c, domain))
			continue;
		id = session_new_id(x->s);
		iq = stanza_query(session_ctx(x->s), "get", id, c->jid,
		    "jabber:iq:last", NULL);
		session_request(x->s, iq, on_last, x);
		xmpp_stanza_release(iq);
		free(id);
		x->nlast++;
	}
	if (x->nlast == 0)
		then(x);
}

/*
 * get, watch: each resource of a contact answers a probe on its own, from
 * its session (ejabberd): one more ping round while presences keep coming,
 * which they do within the round trip of a ping.  A heuristic bounded to
 * 8 rounds: no server tells how many resources a contact has.
 */
static void
on_quiet_round(struct session *s, void *ud)
{
	struct xpresence *x = ud;

	if (x->npresences != x->round_mark && ++x->rounds < 8) {
		x->round_mark = x->npresences;
		session_barrier(s, on_quiet_round, x);
	} else
		x->after_quiet(x);
}

/* Quiet rounds (one at least), then 'then'. */
static void
quiet_rounds(struct xpresence *x, void (*then)(struct xpresence *x))
{
	x->after_quiet = then;
	x->rounds = 0;
	x->round_mark = x->npresences + 1;
	on_quiet_round(x->s, x);
}

static void
get_quiet(struct xpresence *x)
{
	const char *domain = session_domain(x->s);
	const struct presence_contact *c;
	size_t i;

	for (i = 0; i < x->book.n; i++) {
		c = &x->book.c[i];
		if (c->subscribed && presence_is_local(c, domain) &&
		    (c->nres > 0 || c->has_session)) {
			quiet_rounds(x, get_wait);
			return;
		}
	}
	get_wait(x);
}

/* get: only contacts with a session and of other servers are awaited. */
static void
get_settled(struct xpresence *x)
{
	if (x->grace_ms > 0)
		ask_sessions(x, get_quiet);
	else
		answer_get(x);
}

/*
 * watch: the local contacts that are offline, a record each, once the
 * presences have stopped coming (a server that answers the probes of
 * offline contacts, like Prosody, has said so already; ejabberd says
 * nothing of them).
 */
static void
watch_start(struct xpresence *x)
{
	const char *domain = session_domain(x->s);
	const struct presence_contact *c;
	size_t i;

	for (i = 0; i < x->book.n && !x->done; i++) {
		c = &x->book.c[i];
		if (c->subscribed && !c->heard &&
		    presence_is_local(c, domain) && print(x, NULL, c->jid) < 0)
			return;
	}
}

static void
watch_settled(struct xpresence *x)
{
	quiet_rounds(x, watch_start);
}

/* wait: the first answer is given once the probe answers have stopped
 * coming (the best resource may be the last to answer). */
static void
wait_quiet(struct xpresence *x)
{
	x->settled = 1;
	check_wait(x);
}

static void
wait_settled(struct xpresence *x)
{
	x->settled = 0;
	quiet_rounds(x, wait_quiet);
}

static void
on_settled(struct session *s, void *ud)
{
	struct xpresence *x = ud;

	(void)s;
	x->settled = 1;
	if (x->verb->on_settled)
		x->verb->on_settled(x);
}

static void
on_own_sent(struct session *s, void *ud)
{
	session_barrier(s, on_settled, ud);
}

static int
on_roster(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct xpresence *x = ud;
	struct roster r;

	roster_init(&r);
	roster_from_stanza(&r, st, NULL);
	presence_subscriptions(&x->book, &r, x->all_contacts);
	roster_free(&r);
	/* Now the initial presence: the server probes our contacts. */
	if (x->priority < 0) {
		struct pres_spec spec;

		memset(&spec, 0, sizeof(spec));
		spec.show = x->show;
		spec.status = x->status;
		spec.has_priority = 1;
		spec.priority = x->priority;
		online_quiet_presence(s, &spec, on_own_sent, x);
	} else {
		send_own(x, x->show, x->status);
		on_own_sent(s, x);
	}
	return 0;
}

/*
 * A new stream (not a resumed one): what we knew is stale, its presences
 * will tell.
 */
static void
forget_presences(struct xpresence *x)
{
	presence_forget(&x->book);
	x->settled = 0;
}

/* set: our presence, and with --stdin the lines that change it. */
static void
set_online(struct xpresence *x)
{
	online_keepalive(x->s, x->keepalive_ms);
	if (!session_resumed(x->s))
		send_own(x, x->show, x->status);
	if (x->use_stdin)
		session_set_input(x->s, STDIN_FILENO, 16, on_input, x);
}

/* get, wait, watch: the roster first, then the initial presence. */
static void
contacts_online(struct xpresence *x)
{
	xmpp_stanza_t *iq;
	char *id;

	if (!x->verb->one_shot)
		online_keepalive(x->s, x->keepalive_ms);
	if (session_resumed(x->s)) {
		/* The server kept our presence and sent on what came in
		 * between: what we knew still holds, even when the quiet
		 * rounds were cut short by the lost connection. */
		x->settled = 1;
		check_wait(x);
		return;
	}
	forget_presences(x);
	/* The roster says whose presence we may see. */
	id = session_new_id(x->s);
	iq = stanza_roster_get(session_ctx(x->s), id);
	session_request(x->s, iq, on_roster, x);
	xmpp_stanza_release(iq);
	free(id);
}

static void
on_online(struct session *s, void *ud)
{
	struct xpresence *x = ud;

	(void)s;
	x->verb->on_online(x);
}

/* wait: say who is not there yet. */
static void
wait_deadline(struct xpresence *x)
{
	const char *until = x->until ? x->until : "available";
	char t[32];
	size_t i;

	util_seconds(x->cfg->timeout_ms, t, sizeof(t));
	if (!x->settled) {
		if (!session_online(x->s)) {
			session_timeout(x->s);
			return;
		}
		xerror("timed out after %s s before the server sent the "
		       "presences",
		    t);
		end_run(x, XEXIT_TIMEOUT);
		return;
	}
	i = presence_first_pending(&x->book, 0, until);
	if (i == x->book.n) /* check_wait() would have ended the run */
		xerror("timed out after %s s", t);
	for (; i < x->book.n;
	     i = presence_first_pending(&x->book, i + 1, until))
		xerror("%s: still %s after %s s (waiting for %s)",
		    x->book.c[i].jid, presence_contact_state(&x->book.c[i]), t,
		    until);
	end_run(x, XEXIT_TIMEOUT);
}

static void
get_deadline(struct xpresence *x)
{
	if (!session_online(x->s)) {
		session_timeout(x->s);
		return;
	}
	xerror("timed out before the server answered");
	end_run(x, XEXIT_TIMEOUT);
}

/* set, watch: the time is up. */
static void
end_deadline(struct xpresence *x)
{
	end_run(x, XEXIT_OK);
}

static void
on_deadline(struct session *s, void *ud)
{
	struct xpresence *x = ud;

	(void)s;
	x->verb->on_deadline(x);
}

/* set and watch: a signal is the end; leave with unavailable presence. */
static void
on_signal(struct session *s, void *ud)
{
	struct xpresence *x = ud;

	if (x->done) {
		session_finish(s, XEXIT_OK); /* a second signal */
		return;
	}
	end_run(x, XEXIT_OK);
}

/* set [STATE]: the state, and the options' texts and JIDs. */
static int
args_state(struct xpresence *x, int argc, const char **argv)
{
	const char *why;
	struct jid j;
	size_t off, i;
	uint32_t cp;

	if (argc > 1)
		return xtool_usage(
		    "set takes one state: available, away, chat, dnd "
		    "or xa");
	if (argc == 1 && !presence_is_state(argv[0], 0))
		return xtool_usage(
		    "set: the state is available, away, chat, dnd or xa");
	if (argc == 1)
		x->show = presence_show_of(argv[0]);
	if (x->status &&
	    text_check_xml(x->status, strlen(x->status), &off, &cp) != TEXT_OK)
		return xtool_usage("--message holds what XML cannot carry");
	for (i = 0; i < x->nto; i++) {
		if (jid_parse(x->to[i], &j, &why) < 0) {
			xerror("--to: invalid JID '%s': %s", x->to[i], why);
			return XEXIT_USAGE;
		}
		jid_free(&j);
	}
	return 0;
}

/* get, watch [JID...], wait JID...: the contacts (none: the roster). */
static int
args_contacts(struct xpresence *x, int argc, const char **argv)
{
	const char *why;
	char *bare;
	struct jid j;
	int i;

	x->all_contacts = argc == 0;
	for (i = 0; i < argc; i++) {
		if (jid_parse(argv[i], &j, &why) < 0 || j.resource) {
			if (j.domain)
				why = "a contact is a bare JID";
			jid_free(&j);
			xerror("invalid JID '%s': %s", argv[i], why);
			return XEXIT_USAGE;
		}
		bare = jid_bare(&j);
		if (presence_find(&x->book, bare) == NULL)
			presence_add(&x->book, bare);
		free(bare);
		jid_free(&j);
	}
	return 0;
}

static int
args_wait(struct xpresence *x, int argc, const char **argv)
{
	if (argc == 0)
		return xtool_usage("wait: whose presence? (wait JID...)");
	return args_contacts(x, argc, argv);
}

static const struct verb verbs[] = {
	{ .name = "get",
	    .args = args_contacts,
	    .options = O_GRACE,
	    .one_shot = 1,
	    .on_online = contacts_online,
	    .on_settled = get_settled,
	    .on_subscribe = note_request,
	    .on_deadline = get_deadline },
	{ .name = "wait",
	    .args = args_wait,
	    .options = O_UNTIL | O_KEEPALIVE,
	    .on_online = contacts_online,
	    .on_settled = wait_settled,
	    .on_subscribe = print_presence,
	    .on_change = wait_change,
	    .on_deadline = wait_deadline },
	{ .name = "watch",
	    .args = args_contacts,
	    .options = O_COUNT | O_KEEPALIVE,
	    .signals = 1,
	    .add_unknown = 1,
	    .on_online = contacts_online,
	    .on_settled = watch_settled,
	    .on_subscribe = print_presence,
	    .on_change = print_presence,
	    .on_deadline = end_deadline },
	{ .name = "set",
	    .args = args_state,
	    .options = O_SET | O_KEEPALIVE,
	    .signals = 1,
	    .on_online = set_online,
	    .on_subscribe = print_presence,
	    .on_error = warn_refused,
	    .on_deadline = end_deadline },
};

#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

/* What each option misused says, in the order they are checked. */
static const struct {
	unsigned options;
	const char *why;
} option_rules[] = {
	{ O_UNTIL, "--until applies to wait" },
	{ O_COUNT, "--count applies to watch" },
	{ O_GRACE, "--grace applies to get" },
	{ O_KEEPALIVE, "--keepalive applies to set, watch and wait" },
	{ O_SET, "--message, --priority, --stdin and --to apply to set" },
};

/* The verb, the options that apply to it, and its arguments. */
static int
check_args(struct xpresence *x, int argc, const char **argv)
{
	unsigned given = 0;
	size_t i;

	if (argc == 0)
		return xtool_usage("no command: get, wait, watch or set");
	for (i = 0; i < NVERBS; i++)
		if (strcmp(argv[0], verbs[i].name) == 0)
			break;
	if (i == NVERBS)
		return xtool_usage("unknown command (get, wait, watch or set)");
	x->verb = &verbs[i];
	given |= x->until ? O_UNTIL : 0;
	given |= x->count ? O_COUNT : 0;
	given |= x->grace_set ? O_GRACE : 0;
	given |= x->keepalive_set ? O_KEEPALIVE : 0;
	if (x->status || x->priority_set || x->use_stdin || x->nto)
		given |= O_SET;
	for (i = 0; i < sizeof(option_rules) / sizeof(option_rules[0]); i++)
		if (given & option_rules[i].options & ~x->verb->options)
			return xtool_usage("%s", option_rules[i].why);
	return x->verb->args(x, argc - 1, argv + 1);
}

static int
xpresence_run(void *state, struct xconfig *cfg, int argc, const char **argv)
{
	struct xpresence *x = state;
	char *err = NULL;
	int rc;

	x->cfg = cfg;
	if ((rc = check_args(x, argc, argv)) != 0)
		return rc;
	if (x->oc.template &&
	    output_check_template(x->oc.template, REC_PRESENCE_KEYS, &err) <
		0) {
		xerror("%s", err);
		free(err);
		return XEXIT_USAGE;
	}
	if ((rc = xtool_session(cfg, &x->s)) != XEXIT_OK)
		return rc;
	output_init(&x->out, x->oc.format, x->oc.template, x->oc.nul);
	if (x->verb->one_shot)
		session_set_deadline(
		    x->s, config_timeout_ms(cfg), on_deadline, x);
	else {
		if (cfg->timeout_ms)
			session_set_deadline(
			    x->s, cfg->timeout_ms, on_deadline, x);
		session_enable_sm(x->s);
		session_set_reconnect(x->s, SESSION_RETRY_FOREVER, 0);
		/* set and watch end with a signal; wait dies of it. */
		if (x->verb->signals) {
			session_catch_signals(x->s, XEXIT_OK);
			session_on_signal(x->s, on_signal, x);
		}
		online_answer_iqs(x->s, "xpresence", NULL);
	}
	session_add_handler(x->s, "presence", NULL, NULL, on_presence, x);
	session_on_connect(x->s, on_online, x);
	/* 10 is the answer, printed as records, not a failure to explain. */
	return xtool_run_session(x->s, 1U << XEXIT_NEGATIVE);
}

/* Everything of the tool; the stanzas it keeps belong to the session's
 * context: first them. */
static void
xpresence_end(void *state)
{
	struct xpresence *x = state;
	size_t i;

	presence_book_free(&x->book);
	session_free(x->s);
	x->s = NULL;
	output_free(&x->out);
	for (i = 0; i < x->nto; i++)
		free(x->to[i]);
	free(x->to);
	free(x->until);
	free(x->status);
	output_choice_free(&x->oc);
	buf_free(&x->in);
}

int
main(int argc, char **argv)
{
	struct xpresence x;
	struct xtool tool;

	memset(&x, 0, sizeof(x));
	x.priority = -1;
	x.grace_ms = 2000;
	x.keepalive_ms = 60000;
	buf_init(&x.in);
	memset(&tool, 0, sizeof(tool));
	tool.name = "xpresence";
	tool.args_help = "[OPTION...] get [JID...] | wait JID... | "
			 "watch [JID...] | set [STATE]";
	tool.options = options;
	tool.option = xpresence_option;
	tool.run = xpresence_run;
	tool.end = xpresence_end;
	tool.state = &x;
	return xtool_main(&tool, argc, argv);
}
