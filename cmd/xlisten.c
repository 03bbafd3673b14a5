/* SPDX-License-Identifier: MIT */
/* xlisten.c -- print incoming messages as line-delimited records */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <popt.h>
#include <strophe.h>

#include "archive.h"
#include "config.h"
#include "exec.h"
#include "jid.h"
#include "muc.h"
#include "omemo.h"
#include "omemo_pep.h"
#include "online.h"
#include "options.h"
#include "output.h"
#include "record.h"
#include "session.h"
#include "stanza.h"
#include "text.h"
#include "util.h"
#include "xmpptools.h"

enum {
	OPT_FROM = 1,
	OPT_TYPE,
	OPT_ROOM,
	OPT_NICK,
	OPT_ROOM_PASSWORD,
	OPT_ROOM_PASSWORD_FILE,
	OPT_ROOM_PASSWORD_FD,
	OPT_HISTORY,
	OPT_CARBONS,
	OPT_COUNT,
	OPT_EXEC,
	OPT_PRIORITY,
	OPT_NO_RECEIPTS,
	OPT_ALL,
	OPT_PRESENCE,
	OPT_KEEPALIVE,
	OPT_RETRIES,
	OPT_STATE,
	OPT_SINCE,
	OPT_OMEMO
};

/* How long an --exec command may still run once -w has passed. */
#define EXEC_GRACE_MS 5000

/* Message types, as bits of the --type filter. */
static const char *const types[] = { "chat", "normal", "headline", "groupchat",
	"error", NULL };

/* How many stanza-ids a run remembers to print each message once. */
#define SEEN_MAX 4096

/* What a job of --exec owes once its command succeeded: a receipt, and
 * the recording of its stanza-id in the --state file. */
struct ack {
	char *to;
	char *id;
	struct xarchive *arch; /* whose id 'sid' is */
	char *sid;
};

/* An archive xlisten catches up from: the account's, or a room's. */
struct xarchive {
	const char *jid; /* borrowed: the account's or the room's bare JID */
	struct muc_room *room; /* NULL: the account's archive */
	struct archive_state *st; /* its section of the --state file */
	struct archive_seen seen; /* its stanza-ids handled in this run */
	int due; /* a catch-up waits for its turn */
	int warned; /* "no archive" was said */
};

struct xlisten {
	/* options */
	char **from;
	size_t nfrom;
	unsigned typemask; /* 0: every type */
	char **rooms;
	size_t nrooms;
	char *nick;
	char *room_password; /* from room_pw, once read */
	struct room_password_opts room_pw;
	long history;
	int carbons;
	unsigned long count;
	char **exec; /* argv */
	long priority;
	int receipts;
	struct output_choice oc; /* -F, -J, -X, -0 */
	int all;
	int presence;
	long keepalive_ms;
	long retries;
	char *state_path; /* --state */
	char since[32]; /* --since, as XEP-0082 UTC; "" when not given */

	/* the run */
	const struct xconfig *cfg;
	struct session *s;
	struct output out;
	struct muc_room **room;
	char *own_bare;
	unsigned long handled;
	int done; /* no more records */
	int draining; /* a signal came: finish the queued --exec first */
	int abandon; /* a second signal: start no more --exec commands */

	/* --state and --since: the catch-up from the archives, one at a time
	 * (the account's, then each room's once joined) */
	struct archive_file file;
	struct xarchive *arch; /* [0] the account's, [1 + i] room i's */
	size_t narch;
	struct xarchive *cur; /* the archive catching up, else NULL */
	char *queryid; /* the catch-up running, else NULL */
	char *cursor; /* the last archive id of the page before */
	char *page_id; /* the id of the page request awaited */
	unsigned page_timer; /* the next page waits for --exec */
	xmpp_stanza_t **held; /* live messages that came during it */
	size_t nheld;
	int from_cursor; /* the catch-up started from a recorded id */
	int caught_up; /* this connection read the archive from the cursor */

	/* --omemo: the key store; a publication of the device runs, and
	 * another (with the bundle) is due after it */
	struct omemo *omemo;
	int publishing;
	int publish_again;

	/* --exec */
	struct exec *ex;
	unsigned child_timer;
	int64_t exec_end_ms; /* -w and its grace: no command runs after it */
};

static struct poptOption options[] = {
	{ "from", '\0', POPT_ARG_STRING, NULL, OPT_FROM,
	    "Only messages from JID (a bare JID matches every resource); "
	    "repeatable, JID arguments do the same",
	    "JID" },
	{ "type", 't', POPT_ARG_STRING, NULL, OPT_TYPE,
	    "Only messages of TYPE: chat, normal, headline, groupchat, error; "
	    "repeatable",
	    "TYPE" },
	{ "room", '\0', POPT_ARG_STRING, NULL, OPT_ROOM,
	    "Join ROOM (XEP-0045) and print its messages; repeatable", "ROOM" },
	{ "nick", 'n', POPT_ARG_STRING, NULL, OPT_NICK,
	    "Nickname in rooms (default: the account's localpart)", "NICK" },
	{ "room-password-file", '\0', POPT_ARG_STRING, NULL,
	    OPT_ROOM_PASSWORD_FILE,
	    "Read the password of the rooms from the first line of FILE",
	    "FILE" },
	{ "room-password-fd", '\0', POPT_ARG_STRING, NULL, OPT_ROOM_PASSWORD_FD,
	    "Read the password of the rooms from descriptor N", "N" },
	{ "room-password", '\0', POPT_ARG_STRING, NULL, OPT_ROOM_PASSWORD,
	    "Password of the rooms, on the command line where others can "
	    "see it (deprecated: use --room-password-file)",
	    "PASSWORD" },
	{ "history", '\0', POPT_ARG_STRING, NULL, OPT_HISTORY,
	    "Ask rooms for their last N messages on joining (default 0; "
	    "not with --state or --since)",
	    "N" },
	{ "carbons", '\0', POPT_ARG_NONE, NULL, OPT_CARBONS,
	    "Also print copies of the account's messages to and from its other "
	    "clients (XEP-0280)",
	    NULL },
	{ "count", 'c', POPT_ARG_STRING, NULL, OPT_COUNT,
	    "Exit after N records", "N" },
	{ "exec", 'e', POPT_ARG_STRING, NULL, OPT_EXEC,
	    "Run CMD for each message, body on its standard input, fields in "
	    "XMPP_* variables (no shell; one at a time, in order)",
	    "CMD" },
	{ "priority", '\0', POPT_ARG_STRING, NULL, OPT_PRIORITY,
	    "Presence priority, -128 to 127 (default 0; negative: no offline "
	    "or bare-JID messages)",
	    "N" },
	{ "no-receipts", '\0', POPT_ARG_NONE, NULL, OPT_NO_RECEIPTS,
	    "Do not answer receipt requests (XEP-0184)", NULL },
	{ "format", 'F', POPT_ARG_STRING, NULL, 'F',
	    "Print records with FMT: %T time, %y type, %f from, %t to, %i id, "
	    "%b body, %s subject, %h thread, %r room nick, %u URL, %% and "
	    "\\n \\t \\0",
	    "FMT" },
	{ "json", 'J', POPT_ARG_NONE, NULL, 'J', "Print records as JSON Lines",
	    NULL },
	{ "xml", 'X', POPT_ARG_NONE, NULL, 'X',
	    "Print each stanza as one line of XML (readable by xsend --raw)",
	    NULL },
	{ "null", '0', POPT_ARG_NONE, NULL, '0',
	    "End records with NUL instead of newline, fields unescaped", NULL },
	{ "all", '\0', POPT_ARG_NONE, NULL, OPT_ALL,
	    "Print every stanza: messages without body, presence, iq", NULL },
	{ "presence", '\0', POPT_ARG_NONE, NULL, OPT_PRESENCE,
	    "Print presence records too", NULL },
	{ "keepalive", '\0', POPT_ARG_STRING, NULL, OPT_KEEPALIVE,
	    "Ping the server every SECONDS; no answer within as long means "
	    "the connection is dead (default 60)",
	    "SECONDS" },
	{ "retries", '\0', POPT_ARG_STRING, NULL, OPT_RETRIES,
	    "Reconnect at most N times in a row (default: without end); when "
	    "given, also retry a failed first connection",
	    "N" },
	{ "omemo", '\0', POPT_ARG_NONE, NULL, OPT_OMEMO,
	    "Decrypt OMEMO (XEP-0384) messages; one that cannot be is a "
	    "record with decrypt_error, never its plaintext fallback",
	    NULL },
	{ "state", '\0', POPT_ARG_STRING, NULL, OPT_STATE,
	    "Catch up from the archives (XEP-0313: the account's, each "
	    "--room's) after the last message recorded in FILE, then go live; "
	    "record each message's id in FILE once printed (or its --exec "
	    "command succeeded)",
	    "FILE" },
	{ "since", '\0', POPT_ARG_STRING, NULL, OPT_SINCE,
	    "Without a recorded message: print the archive from TIME "
	    "(ISO 8601, e.g. 2026-01-31T08:00Z), then go live",
	    "TIME" },
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

static int
xlisten_option(
    void *state, struct xconfig *cli, int val, const char *arg, char **errstr)
{
	struct xlisten *x = state;
	const char *why;
	struct jid j;
	long n;
	size_t i;

	(void)cli;
	switch (val) {
	case OPT_FROM:
		if (jid_parse(arg, &j, &why) < 0) {
			*errstr =
			    xasprintf("--from: invalid JID '%s': %s", arg, why);
			return -1;
		}
		jid_free(&j);
		x->from = push(x->from, &x->nfrom, arg);
		break;
	case OPT_TYPE:
		for (i = 0; types[i]; i++)
			if (strcmp(arg, types[i]) == 0)
				break;
		if (types[i] == NULL) {
			*errstr = xasprintf("--type: '%s' is not chat, normal, "
					    "headline, groupchat or error",
			    arg);
			return -1;
		}
		x->typemask |= 1u << i;
		break;
	case OPT_ROOM:
		if (jid_parse(arg, &j, &why) < 0 || j.local == NULL ||
		    j.resource != NULL) {
			if (j.domain)
				why = "not a room JID (room@service)";
			jid_free(&j);
			*errstr = xasprintf(
			    "--room: invalid room '%s': %s", arg, why);
			return -1;
		}
		jid_free(&j);
		x->rooms = push(x->rooms, &x->nrooms, arg);
		break;
	case OPT_NICK:
		free(x->nick);
		x->nick = xstrdup(arg);
		break;
	case OPT_ROOM_PASSWORD:
		return config_room_password_option(
		    &x->room_pw, "room-password", arg, errstr);
	case OPT_ROOM_PASSWORD_FILE:
		return config_room_password_option(
		    &x->room_pw, "room-password-file", arg, errstr);
	case OPT_ROOM_PASSWORD_FD:
		return config_room_password_option(
		    &x->room_pw, "room-password-fd", arg, errstr);
	case OPT_HISTORY:
		return xtool_number(
		    "--history", arg, 0, 1000000, &x->history, errstr);
	case OPT_CARBONS:
		x->carbons = 1;
		break;
	case OPT_COUNT:
		if (xtool_number("--count", arg, 1, 2147483647, &n, errstr) < 0)
			return -1;
		x->count = (unsigned long)n;
		break;
	case OPT_EXEC:
		exec_argv_free(x->exec);
		x->exec = exec_split(arg);
		if (x->exec == NULL || x->exec[0] == NULL) {
			*errstr = xasprintf("--exec: '%s' is %s", arg,
			    x->exec ? "empty" : "missing a closing quote");
			return -1;
		}
		break;
	case OPT_PRIORITY:
		return xtool_number(
		    "--priority", arg, -128, 127, &x->priority, errstr);
	case OPT_NO_RECEIPTS:
		x->receipts = 0;
		break;
	case 'F':
	case 'J':
	case 'X':
	case '0':
		output_choose(&x->oc, val, arg);
		break;
	case OPT_ALL:
		x->all = 1;
		break;
	case OPT_PRESENCE:
		x->presence = 1;
		break;
	case OPT_KEEPALIVE:
		if (util_parse_seconds(arg, &n) < 0 || n < 1000) {
			*errstr =
			    xasprintf("--keepalive: invalid duration '%s' "
				      "(seconds, at least 1)",
				arg);
			return -1;
		}
		x->keepalive_ms = n;
		break;
	case OPT_RETRIES:
		return xtool_number(
		    "--retries", arg, 0, 1000000, &x->retries, errstr);
	case OPT_OMEMO:
		config_set(cli, "omemo", NULL, 0, errstr);
		break;
	case OPT_STATE:
		if (*arg == '\0') {
			*errstr = xstrdup("--state: empty file name");
			return -1;
		}
		free(x->state_path);
		x->state_path = xstrdup(arg);
		break;
	case OPT_SINCE:
		if (archive_time(arg, x->since, sizeof(x->since)) < 0) {
			*errstr = xasprintf("--since: '%s' is not an ISO 8601 "
					    "time (YYYY-MM-DD[THH:MM[:SS]][Z])",
			    arg);
			return -1;
		}
		break;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Filters
 */

static int
from_matches(struct xlisten *x, const char *from)
{
	size_t i;

	if (x->nfrom == 0)
		return 1;
	if (from == NULL)
		return 0;
	for (i = 0; i < x->nfrom; i++) {
		if (jid_has_resource(x->from[i])) {
			if (jid_same_bare(from, x->from[i]) &&
			    strcmp(strchr(from, '/') ? strchr(from, '/') : "",
				strchr(x->from[i], '/')) == 0)
				return 1;
		} else if (jid_same_bare(from, x->from[i]))
			return 1;
	}
	return 0;
}

static int
type_matches(struct xlisten *x, const char *type)
{
	size_t i;

	if (x->typemask == 0)
		return 1;
	if (type == NULL || *type == '\0')
		type = "normal";
	for (i = 0; types[i]; i++)
		if (strcmp(type, types[i]) == 0)
			return (x->typemask >> i) & 1;
	return 0;
}

static int
has_text(xmpp_stanza_t *msg, const char *name)
{
	xmpp_stanza_t *c = xmpp_stanza_get_child_by_name(msg, name);
	const char *t;

	if (c == NULL)
		return 0;
	c = xmpp_stanza_get_children(c);
	t = c ? xmpp_stanza_get_text_ptr(c) : NULL;
	return t != NULL && *t != '\0';
}

/* ------------------------------------------------------------------------
 * Handling one record: print it or run --exec, then the receipt
 */

static void end_run(struct xlisten *x, int code);
static void decrypt(struct xlisten *x, xmpp_stanza_t *msg, struct orecord *r,
    struct rec_strings *k);

static void
send_receipt(struct xlisten *x, const char *to, const char *id)
{
	xmpp_stanza_t *m;
	char *rid;

	if (to == NULL || id == NULL || !session_online(x->s))
		return;
	rid = session_new_id(x->s);
	m = stanza_receipt(session_ctx(x->s), to, rid, id);
	session_send(x->s, m);
	xmpp_stanza_release(m);
	free(rid);
}

/* The run ends once -c is reached, or after a signal, when no command of
 * --exec is left to run. */
static void
check_end(struct xlisten *x)
{
	if (x->ex && exec_pending(x->ex) > 0)
		return;
	if ((x->count && x->handled >= x->count) || x->draining)
		end_run(x, XEXIT_OK);
}

static void
counted(struct xlisten *x)
{
	x->handled++;
	check_end(x);
}

/*
 * SIGINT, SIGTERM, SIGHUP: a clean stop.  Messages queued for --exec were
 * already acknowledged to the server: run them first.  A second signal
 * does not wait.
 */
static void
on_signal(struct session *s, void *ud)
{
	struct xlisten *x = ud;

	(void)s;
	if (x->ex == NULL || x->draining || exec_pending(x->ex) == 0) {
		if (x->ex)
			exec_abandon(x->ex);
		end_run(x, XEXIT_OK);
		return;
	}
	xnote("stopping once the queued commands have run (signal again to "
	      "stop now)");
	x->draining = 1;
}

/*
 * A message was handled (its record written, its command succeeded): with
 * --state, its stanza-id goes to the file, so that the next run catches up
 * after it.  A file that cannot be written ends the run: going on would
 * print again, next time, what this run printed.
 */
static void
record_sid(struct xlisten *x, struct xarchive *a, const char *sid)
{
	char *err = NULL;

	if (x->state_path == NULL || sid == NULL || a == NULL)
		return;
	if (archive_file_record(&x->file, a->st, x->state_path, sid, &err) <
	    0) {
		xerror("--state: %s", err);
		free(err);
		end_run(x, XEXIT_FAILURE);
	}
}

/* The command of a message has ended: on success, the receipt is owed and
 * the message is recorded. */
static void
job_done(int ok, void *data, void *ud)
{
	struct xlisten *x = ud;
	struct ack *a = data;

	if (ok && a) {
		send_receipt(x, a->to, a->id);
		record_sid(x, a->arch, a->sid);
	}
	x->handled++;
}

static void
free_ack(void *data)
{
	struct ack *a = data;

	free(a->to);
	free(a->id);
	free(a->sid);
	free(a);
}

static void poll_child(struct session *s, void *ud);

/* Starts the next command when none runs, and watches it. */
static void
run_next(struct xlisten *x)
{
	if (exec_start(x->ex) && x->child_timer == 0)
		x->child_timer =
		    session_timer_add_always(x->s, 5, poll_child, x);
	check_end(x);
}

static void
poll_child(struct session *s, void *ud)
{
	struct xlisten *x = ud;

	x->child_timer = 0;
	if (exec_running(x->ex) && !exec_reap(x->ex)) {
		x->child_timer = session_timer_add_always(s, 20, poll_child, x);
		return;
	}
	run_next(x);
}

/*
 * The queue of --exec is full: the messages in it were acknowledged, this
 * one and the next ones are not.  End the run now; the server keeps them
 * for the next one.
 */
static void
refuse(struct xlisten *x)
{
	xwarn("--exec: %zu messages wait for %s (the limit): taking no more, "
	      "the server keeps the rest",
	    exec_pending(x->ex), exec_program(x->ex));
	end_run(x, XEXIT_FAILURE);
	session_not_handled(x->s);
}

static void
queue_job(struct xlisten *x, const struct orecord *r, const char *ack_to,
    const char *ack_id, struct xarchive *arch, const char *sid)
{
	static const char keys[] = "ftyishTb"; /* record keys, as 'slot' */
	struct exec_fields f;
	const char **slot[] = { &f.from, &f.to, &f.type, &f.id, &f.subject,
		&f.thread, &f.time, &f.body };
	struct ack *a = NULL;
	const char *k;
	size_t i;

	memset(&f, 0, sizeof(f));
	for (i = 0; i < r->n; i++)
		if (r->f[i].key && (k = strchr(keys, r->f[i].key)) != NULL)
			*slot[k - keys] = r->f[i].value;
	if (exec_full(x->ex, exec_job_size(&f))) {
		refuse(x);
		return;
	}
	if ((ack_to && ack_id) || sid) {
		a = xcalloc(1, sizeof(*a));
		a->to = ack_to && ack_id ? xstrdup(ack_to) : NULL;
		a->id = ack_to && ack_id ? xstrdup(ack_id) : NULL;
		a->arch = arch;
		a->sid = sid ? xstrdup(sid) : NULL;
	}
	exec_queue(x->ex, &f, a);
	run_next(x);
}

static void
emit(struct xlisten *x, const struct orecord *r)
{
	if (output_record(&x->out, r) < 0) {
		/* The reader went away (| head -1): that is the end.  The
		 * record was not written: let the server keep it. */
		session_not_handled(x->s);
		end_run(x, XEXIT_OK);
		return;
	}
}

/* ------------------------------------------------------------------------
 * Incoming stanzas
 */

/*
 * A message the server kept in offline storage (its <delay/> is from the
 * account's server).  One that also carries the archive's stanza-id is in
 * the archive, so a catch-up has handled it: before the cursor, in an
 * earlier run (a server may deliver again a message that was in flight to
 * a killed listener), or after it, in this one.
 */
static int
from_offline(struct xlisten *x, xmpp_stanza_t *msg)
{
	xmpp_stanza_t *d = xmpp_stanza_get_child_by_name_and_ns(
	    msg, "delay", "urn:xmpp:delay");
	const char *from = d ? xmpp_stanza_get_attribute(d, "from") : NULL;

	return from && session_domain(x->s) &&
	    strcasecmp(from, session_domain(x->s)) == 0;
}

/*
 * A message that is not for us (filtered out, the account's own): with
 * --state its id is recorded too, so that the next catch-up does not read
 * it again, but only when no earlier message waits for its --exec command
 * (recording it would pass over that one).
 */
static void
passed_over(struct xlisten *x, struct xarchive *a, const char *sid)
{
	if (sid == NULL || (x->ex && exec_pending(x->ex) > 0))
		return;
	archive_seen_add(&a->seen, sid);
	record_sid(x, a, sid);
}

/*
 * The archive a live message is in: a room's for a groupchat message from
 * a room we are in (its stanza-id is by the room), else the account's.
 */
static struct xarchive *
archive_of(struct xlisten *x, xmpp_stanza_t *msg)
{
	const char *type = xmpp_stanza_get_type(msg);
	const char *from = xmpp_stanza_get_from(msg);
	size_t i;

	if (type && strcmp(type, "groupchat") == 0 && from)
		for (i = 1; i < x->narch; i++)
			if (jid_same_bare(from, x->arch[i].jid))
				return &x->arch[i];
	return &x->arch[0];
}

/*
 * One message: filtered, then printed or handed to --exec, and recorded.
 * 'st' is the stanza as it came (a carbon wraps the message); 'sid' its
 * archive id (NULL: none, or not known yet); 'from_arch' the archive of a
 * message from a catch-up (no receipt owed: its sender asked long ago),
 * NULL for a live one.
 */
static void
handle_message(struct xlisten *x, xmpp_stanza_t *st, const char *sid,
    struct xarchive *from_arch)
{
	int archived = from_arch != NULL;
	struct xarchive *a;
	xmpp_stanza_t *msg = st;
	const char *carbon = NULL, *type, *from, *id;
	struct rec_strings k = { { 0 }, 0 };
	struct orecord r;
	const char *ack_to = NULL, *ack_id = NULL;
	size_t i;

	if (x->carbons) {
		xmpp_stanza_t *inner = rec_carbon(st, x->own_bare, &carbon);

		if (inner)
			msg = inner;
	}
	a = from_arch ? from_arch : archive_of(x, msg);
	if (sid == NULL && a->jid)
		sid = archive_stanza_id(st, a->jid);
	if (sid && x->state_path == NULL && !x->since[0])
		sid = NULL; /* no catch-up: nothing to deduplicate */
	if (sid && archive_seen_has(&a->seen, sid))
		return; /* printed already (from the archive, or live) */
	if (sid && !archived && a == &x->arch[0] && x->caught_up &&
	    from_offline(x, msg))
		return; /* in the archive: the catch-up had it (or a run before)
			 */
	type = xmpp_stanza_get_type(msg);
	from = xmpp_stanza_get_from(msg);
	id = xmpp_stanza_get_id(msg);
	if ((archived && carbon == NULL && from && x->own_bare &&
		jid_same_bare(from, x->own_bare)) || /* own outgoing */
	    (!x->all && !has_text(msg, "body") && !has_text(msg, "subject")) ||
	    !type_matches(x, type) || !from_matches(x, from)) {
		passed_over(x, a, sid);
		return;
	}
	for (i = 0; i < x->nrooms; i++)
		if (muc_is_self(x->room[i], from) && !x->all) {
			passed_over(x, a, sid);
			return; /* our own echo */
		}

	/* A receipt is owed to a request (never for groupchat or errors). */
	if (x->receipts && !archived && carbon == NULL && id &&
	    xmpp_stanza_get_child_by_name_and_ns(msg, "request", NS_RECEIPTS) &&
	    !(type &&
		(strcmp(type, "groupchat") == 0 ||
		    strcmp(type, "error") == 0))) {
		ack_to = from;
		ack_id = id;
	}
	if (sid)
		archive_seen_add(&a->seen, sid);
	rec_message(&r, &k, msg, time(NULL), carbon);
	if (x->omemo)
		decrypt(x, msg, &r, &k);
	if (x->ex)
		queue_job(x, &r, ack_to, ack_id, a, sid);
	else {
		emit(x, &r);
		if (!x->done) {
			send_receipt(x, ack_to, ack_id);
			record_sid(x, a, sid);
			counted(x);
		}
	}
	rec_strings_free(&k);
}

static void
on_published(struct session *s, int code, const char *why, void *ud);

/*
 * Publishes the device (with 'force', the bundle too).  One publication
 * at a time: a burst of key exchanges (a catch-up) asks again while one
 * runs, and gets one more once it is done, not one each.
 */
static void
publish(struct xlisten *x, int force)
{
	if (x->publishing) {
		x->publish_again |= force;
		return;
	}
	x->publishing = 1;
	omemo_pep_publish(x->s, x->omemo, force, on_published, x);
}

static void
on_published(struct session *s, int code, const char *why, void *ud)
{
	struct xlisten *x = ud;

	(void)s;
	x->publishing = 0;
	if (code == 0 && x->publish_again) {
		x->publish_again = 0;
		publish(x, 1);
		return;
	}
	if (code == 0) {
		xdebug(1, "OMEMO: device %lu is published",
		    (unsigned long)omemo_device_id(x->omemo));
		return;
	}
	xerror("%s", why);
	end_run(x, code);
}

/*
 * --omemo: the record of an OMEMO message says what it says, decrypted, or
 * why it cannot be read.  A key exchange used one of the published
 * pre-keys: the bundle is published again without it.
 */
static void
decrypt(struct xlisten *x, xmpp_stanza_t *msg, struct orecord *r,
    struct rec_strings *k)
{
	const char *from = xmpp_stanza_get_from(msg);
	char *bare = jid_bare_of(from), *body = NULL, *err = NULL, *shown;
	uint32_t dev;
	int prekey, rc;

	const char *type = xmpp_stanza_get_type(msg);

	if (type && strcmp(type, "groupchat") == 0) {
		if (xmpp_stanza_get_child_by_name_and_ns(
			msg, "encrypted", NS_OMEMO) ||
		    xmpp_stanza_get_child_by_name_and_ns(
			msg, "encrypted", NS_OMEMO2))
			rec_encrypted(
			    r, k, NULL, 0, "OMEMO in rooms is not supported");
		free(bare);
		return;
	}
	rc = omemo_pep_open_message_for(
	    x->omemo, msg, bare, x->own_bare, &body, &dev, &prekey, &err);
	if (rc > 0)
		rec_encrypted(r, k, body, dev, NULL);
	else if (rc < 0) {
		rec_encrypted(r, k, NULL, dev, err);
		shown =
		    text_escape_dup(from ? from : "", strlen(from ? from : ""));
		xwarn("%s: an OMEMO message that cannot be decrypted: %s",
		    shown, err);
		free(shown);
	}
	if (prekey)
		publish(x, 1);
	util_secure_free(body);
	free(err);
	free(bare);
}

/* Live messages wait while the catch-up runs. */
static void
hold(struct xlisten *x, xmpp_stanza_t *st)
{
	x->held = xrealloc(x->held, (x->nheld + 1) * sizeof(*x->held));
	x->held[x->nheld++] = xmpp_stanza_copy(st);
}

static int
on_message(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct xlisten *x = ud;
	xmpp_stanza_t *m;
	const char *aid;

	if (x->done) {
		/* Not ours to handle any more: the server keeps it. */
		session_not_handled(s);
		return 1;
	}
	if (x->queryid == NULL) {
		handle_message(x, st, NULL, NULL);
		return 1;
	}
	m = archive_result(st, x->queryid, x->cur->jid, x->own_bare, &aid);
	if (m) {
		handle_message(x, m, aid, x->cur);
		xmpp_stanza_release(m);
	} else
		hold(x, st);
	return 1;
}

static int
on_presence(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct xlisten *x = ud;
	struct rec_strings k = { { 0 }, 0 };
	struct orecord r;
	size_t i;

	for (i = 0; i < x->nrooms; i++)
		if (muc_handle_presence(s, x->room[i], st))
			return 1;
	if (x->done || !(x->presence || x->all) || x->ex)
		return 1;
	if (!from_matches(x, xmpp_stanza_get_from(st)))
		return 1;
	rec_presence(&r, &k, st, time(NULL));
	emit(x, &r);
	if (!x->done)
		counted(x);
	rec_strings_free(&k);
	return 1;
}

static int
on_iq(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct xlisten *x = ud;
	struct rec_strings k = { { 0 }, 0 };
	struct orecord r;
	xmpp_stanza_t *c;
	const char *ns = NULL;
	int delayed;

	(void)s;
	if (x->done || !x->all || x->ex)
		return 1;
	/* Answers to our own requests (bind, pings, carbons) are not news. */
	if (xmpp_stanza_get_type(st) &&
	    (strcmp(xmpp_stanza_get_type(st), "result") == 0 ||
		strcmp(xmpp_stanza_get_type(st), "error") == 0))
		return 1;
	for (c = xmpp_stanza_get_children(st); c; c = xmpp_stanza_get_next(c))
		if (xmpp_stanza_is_tag(c)) {
			ns = xmpp_stanza_get_ns(c);
			break;
		}
	orecord_init(&r, "iq", st);
	orecord_add(&r, 'T', "time",
	    rec_keep(&k, rec_time(st, time(NULL), &delayed)), OF_TEXT);
	orecord_add(&r, 0, "stanza", "iq", OF_TEXT | OF_NOJSON);
	orecord_add(&r, 'f', "from", xmpp_stanza_get_from(st), OF_TEXT);
	orecord_add(&r, 'y', "type", xmpp_stanza_get_type(st), OF_TEXT);
	orecord_add(&r, 0, "namespace", ns, OF_TEXT);
	orecord_add(&r, 't', "to", xmpp_stanza_get_to(st), 0);
	orecord_add(&r, 'i', "id", xmpp_stanza_get_id(st), 0);
	emit(x, &r);
	rec_strings_free(&k);
	return 1;
}

/* ------------------------------------------------------------------------
 * The connection
 */

static void
end_run(struct xlisten *x, int code)
{
	size_t i;

	if (x->done)
		return;
	x->done = 1;
	for (i = 0; i < x->nrooms; i++)
		muc_leave(x->s, x->room[i]);
	/*
	 * Close once the server answered a ping: what it sent meanwhile
	 * arrives and is acknowledged (or, for messages we no longer take,
	 * left for it to deliver again) instead of bouncing to the senders.
	 */
	session_close(x->s, code);
}

static void room_catchup(struct xlisten *x, struct muc_room *r);

static void
on_joined(struct session *s, struct muc_room *r, const char *cond,
    const char *text, void *ud)
{
	struct xlisten *x = ud;
	struct buf b;

	(void)s;
	if (cond == NULL) {
		room_catchup(x, r);
		return;
	}
	buf_init(&b);
	if (text) {
		buf_adds(&b, ": ");
		text_escape(&b, text, strlen(text));
	}
	xerror("%s: cannot join: %s%s", muc_room_jid(r), cond,
	    b.data ? b.data : "");
	buf_free(&b);
	end_run(x, XEXIT_REJECTED);
}

static int
on_carbons(struct session *s, xmpp_stanza_t *st, void *ud)
{
	const char *type = xmpp_stanza_get_type(st);

	(void)s;
	(void)ud;
	if (type && strcmp(type, "error") == 0)
		xwarn("the server refused to enable carbons (XEP-0280)");
	else
		xdebug(1, "carbons enabled");
	return 0;
}

/* ------------------------------------------------------------------------
 * The catch-up: pages of the archive after the last recorded id (or from
 * --since), then the live messages held meanwhile
 */

static void send_page(struct xlisten *x, const char *after);
static void start_next(struct xlisten *x);

/* The catch-up of x->cur is over (or cut short): the next one's turn. */
static void
end_catchup(struct xlisten *x)
{
	free(x->queryid);
	x->queryid = NULL;
	free(x->cursor);
	x->cursor = NULL;
	free(x->page_id);
	x->page_id = NULL;
	if (x->page_timer)
		session_timer_cancel(x->s, x->page_timer);
	x->page_timer = 0;
	x->cur = NULL;
	start_next(x);
}

/* Every catch-up is over: the live messages held meanwhile, in order. */
static void
release_held(struct xlisten *x)
{
	size_t i;

	for (i = 0; i < x->nheld; i++) {
		if (!x->done)
			handle_message(x, x->held[i], NULL, NULL);
		xmpp_stanza_release(x->held[i]);
	}
	free(x->held);
	x->held = NULL;
	x->nheld = 0;
}

/* The next page, once --exec has room for it (its queue is bounded). */
static void
next_page(struct session *s, void *ud)
{
	struct xlisten *x = ud;

	x->page_timer = 0;
	if (x->queryid == NULL || x->done)
		return;
	if (x->ex && exec_pending(x->ex) + ARCHIVE_PAGE > EXEC_MAX_JOBS) {
		x->page_timer = session_timer_add(s, 50, next_page, x);
		if (x->page_timer)
			return;
	}
	send_page(x, x->cursor);
}

/* Once per archive and run: it has none, so only live messages. */
static void
no_archive(struct xarchive *a, const char *cond)
{
	if (a->warned)
		return;
	a->warned = 1;
	if (a->room)
		xwarn("%s: no message archive (XEP-0313) to catch up from "
		      "(%s): live messages only",
		    a->jid, cond);
	else
		xwarn("no message archive (XEP-0313) to catch up from (%s): "
		      "live messages only",
		    cond);
}

static int
on_page(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct xlisten *x = ud;
	char *cond = NULL, *text = NULL, *last = NULL;
	int complete = 0;

	/* (the answer to a page of a catch-up that a lost connection ended) */
	if (x->queryid == NULL || x->page_id == NULL ||
	    xmpp_stanza_get_id(st) == NULL ||
	    strcmp(xmpp_stanza_get_id(st), x->page_id) != 0)
		return 0;
	if (archive_fin(st, &complete, &last) < 0) {
		stanza_error_info(st, &cond, &text);
		no_archive(x->cur, cond ? cond : "no answer");
		free(cond);
		free(text);
		end_catchup(x);
		return 0;
	}
	if (complete || last == NULL || x->done) {
		/* Only a catch-up from a cursor covers all that offline
		 * storage may hold (--since may start later). */
		if (x->cur == &x->arch[0])
			x->caught_up = x->from_cursor;
		end_catchup(x);
		free(last);
	} else {
		free(x->cursor);
		x->cursor = last;
		next_page(s, x);
	}
	return 0;
}

static void
send_page(struct xlisten *x, const char *after)
{
	struct archive_query q;
	xmpp_stanza_t *iq;
	char *id = session_new_id(x->s);

	memset(&q, 0, sizeof(q));
	q.id = id;
	q.to = x->cur->room ? x->cur->jid : NULL; /* a room's: to the room */
	q.queryid = x->queryid;
	q.after = after;
	q.start = after == NULL && x->since[0] ? x->since : NULL;
	q.max = ARCHIVE_PAGE;
	iq = archive_query(session_ctx(x->s), &q);
	session_request(x->s, iq, on_page, x);
	xmpp_stanza_release(iq);
	free(x->page_id);
	x->page_id = id;
}

/* Starts the next catch-up that waits for its turn; when none is left,
 * the live messages held meanwhile follow. */
static void
start_next(struct xlisten *x)
{
	struct xarchive *a = NULL;
	size_t i;

	if (x->cur || x->done)
		return;
	for (i = 0; i < x->narch && a == NULL; i++)
		if (x->arch[i].due)
			a = &x->arch[i];
	if (a == NULL) {
		release_held(x);
		return;
	}
	a->due = 0;
	x->cur = a;
	x->from_cursor = a->st->last != NULL;
	x->queryid = session_new_id(x->s);
	send_page(x, a->st->last);
}

/* A catch-up is due for 'a' when it has a cursor, or with --since. */
static void
want_catchup(struct xlisten *x, struct xarchive *a)
{
	if (a->st->last == NULL && !x->since[0])
		return; /* first run: live only, recorded from now on */
	a->due = 1;
	start_next(x);
}

/* A room was joined: its archive's catch-up, if the room keeps one. */
static void
room_catchup(struct xlisten *x, struct muc_room *r)
{
	size_t i;

	for (i = 1; i < x->narch; i++) {
		if (x->arch[i].room != r)
			continue;
		if (x->arch[i].st->last == NULL && !x->since[0])
			return;
		if (!muc_room_feature(r, NS_MAM))
			no_archive(&x->arch[i], "feature-not-implemented");
		else
			want_catchup(x, &x->arch[i]);
		return;
	}
}

/* On each new session: the catch-ups of the last one are void (the rooms
 * queue theirs again once joined); the account's starts. */
static void
start_catchup(struct xlisten *x)
{
	size_t i;

	for (i = 0; i < x->narch; i++)
		x->arch[i].due = 0;
	x->caught_up = 0;
	if (x->cur)
		end_catchup(x); /* one that a lost connection cut short */
	if (x->narch)
		want_catchup(x, &x->arch[0]);
}

static void
on_online(struct session *s, void *ud)
{
	struct xlisten *x = ud;
	struct pres_spec spec;
	xmpp_stanza_t *p;
	char *id;
	size_t i;

	online_keepalive(s, x->keepalive_ms);
	if (session_resumed(s))
		return; /* the server kept our presence, rooms and carbons */
	if (x->omemo) { /* contacts find this device and its keys */
		x->publishing = 0; /* one of a lost stream answers no more */
		publish(x, x->publish_again);
		x->publish_again = 0;
	}

	/* Initial presence: the server sends stored offline messages. */
	memset(&spec, 0, sizeof(spec));
	spec.has_priority = x->priority != 0;
	spec.priority = x->priority;
	p = stanza_presence(session_ctx(s), &spec);
	session_send(s, p);
	xmpp_stanza_release(p);

	if (x->carbons) {
		id = session_new_id(s);
		p = stanza_carbons_enable(session_ctx(s), id);
		session_request(s, p, on_carbons, x);
		xmpp_stanza_release(p);
		free(id);
	}
	for (i = 0; i < x->nrooms; i++)
		muc_join(s, x->room[i], on_joined, x);
	start_catchup(x);
}

static void
on_deadline(struct session *s, void *ud)
{
	struct xlisten *x = ud;

	(void)s;
	if (x->count && x->handled < x->count) {
		char t[32];

		xerror("timed out after %s s with %lu of %lu records",
		    util_seconds(x->cfg->timeout_ms, t, sizeof(t)), x->handled,
		    x->count);
		end_run(x, XEXIT_TIMEOUT);
	} else
		end_run(x, XEXIT_OK);
}

/* A usage error found once every option is known: "Try --help" follows. */
/* The JID arguments and the options that must agree with each other. */
static int
check_args(struct xlisten *x, int argc, const char **argv)
{
	char *err = NULL;
	const char *why;
	struct jid j;
	int i, rc;

	for (i = 0; i < argc; i++) {
		if (jid_parse(argv[i], &j, &why) < 0) {
			err = xasprintf("invalid JID '%s': %s", argv[i], why);
			rc = xtool_usage("%s", err);
			free(err);
			return rc;
		}
		jid_free(&j);
		x->from = push(x->from, &x->nfrom, argv[i]);
	}
	if (x->oc.template &&
	    output_check_template(x->oc.template,
		x->presence || x->all ? REC_MESSAGE_KEYS REC_PRESENCE_KEYS
				      : REC_MESSAGE_KEYS,
		&err) < 0) {
		rc = xtool_usage("%s", err);
		free(err);
		return rc;
	}
	if (x->exec && (x->oc.format != OUT_TEXT || x->oc.nul))
		return xtool_usage("--exec hands each message to a command; "
				   "-F, -J, -X and -0 do not apply");
	if (config_room_password_given(&x->room_pw) > 1)
		return xtool_usage(
		    "one room password source: --room-password-file, "
		    "--room-password-fd or --room-password");
	if (x->history && (x->state_path || x->since[0]))
		return xtool_usage("--history does not go with --state or "
				   "--since: the room's archive gives what was "
				   "missed");
	if (x->nrooms == 0 &&
	    (x->nick || config_room_password_given(&x->room_pw) || x->history))
		return xtool_usage(
		    "--nick, --room-password and --history need --room");
	return XEXIT_OK;
}

/* One archive to catch up from, with its section of the state file. */
static void
archive_add(struct xlisten *x, const char *jid, struct muc_room *room,
    struct archive_state *st)
{
	struct xarchive *a = &x->arch[x->narch++];
	size_t i;

	a->jid = jid;
	a->room = room;
	a->st = st;
	archive_seen_init(&a->seen, SEEN_MAX);
	for (i = 0; i < st->seen.n; i++)
		archive_seen_add(&a->seen, st->seen.ids[i]);
}

/* --state FILE: the cursor and the recent ids of the account's archive
 * and of each room's. */
static int
load_state(struct xlisten *x)
{
	char *err = NULL;
	size_t i;

	archive_file_init(&x->file);
	x->arch = xcalloc(x->nrooms + 1, sizeof(*x->arch));
	if (x->state_path &&
	    (x->own_bare == NULL ||
		archive_file_load(&x->file, x->state_path, &err) < 0)) {
		xerror("--state: %s", err ? err : "no account JID");
		free(err);
		return XEXIT_CONFIG;
	}
	if (x->file.account.archive && x->own_bare &&
	    !jid_same_bare(x->file.account.archive, x->own_bare)) {
		xerror("--state: %s records the archive of %s, not of %s",
		    x->state_path, x->file.account.archive, x->own_bare);
		return XEXIT_CONFIG;
	}
	if (x->own_bare) {
		free(x->file.account.archive);
		x->file.account.archive = xstrdup(x->own_bare);
	}
	archive_add(x, x->own_bare, NULL, &x->file.account);
	for (i = 0; i < x->nrooms; i++)
		archive_add(x, muc_room_jid(x->room[i]), x->room[i],
		    archive_file_room(&x->file, muc_room_jid(x->room[i])));
	return XEXIT_OK;
}

/* --omemo: the account's key store (created on first use). */
static int
open_omemo(struct xlisten *x)
{
	char *err = NULL;

	if ((x->omemo = omemo_pep_open(x->own_bare, &err)) == NULL) {
		xerror("%s", err);
		free(err);
		return XEXIT_CONFIG;
	}
	return XEXIT_OK;
}

static int
xlisten_run(void *state, struct xconfig *cfg, int argc, const char **argv)
{
	struct xlisten *x = state;
	static const char *const receipt_features[] = { NS_RECEIPTS, NULL };
	char *err = NULL;
	const char *why;
	struct jid j;
	int rc;
	size_t n;

	x->cfg = cfg;
	if ((rc = check_args(x, argc, argv)) != XEXIT_OK)
		return rc;
	if (x->exec) {
		x->ex = exec_new(x->exec, job_done, free_ack, x);
		x->exec = NULL;
	}

	if (x->nrooms && x->room_password == NULL &&
	    (rc = config_room_password(
		 cfg, &x->room_pw, &x->room_password, &err)) != XEXIT_OK) {
		xerror("%s", err);
		free(err);
		return rc;
	}
	if (jid_parse(cfg->jid, &j, &why) == 0) {
		x->own_bare = jid_bare(&j);
		if (x->nick == NULL)
			x->nick = xstrdup(j.local ? j.local : j.domain);
		jid_free(&j);
	}
	x->room = xcalloc(x->nrooms + 1, sizeof(*x->room));
	for (n = 0; n < x->nrooms; n++)
		x->room[n] = muc_room_new(
		    x->rooms[n], x->nick, x->room_password, (int)x->history, 0);
	if ((rc = load_state(x)) != XEXIT_OK)
		return rc;
	if (cfg->omemo && (rc = open_omemo(x)) != XEXIT_OK)
		return rc;

	if ((rc = xtool_session(cfg, &x->s)) != XEXIT_OK)
		return rc;
	output_init(&x->out, x->oc.format, x->oc.template, x->oc.nul);
	/* With --state the archive, not stream management, keeps what a
	 * lost connection missed (and a resumed stream would deliver again
	 * what the archive gave). */
	if (x->state_path == NULL)
		session_enable_sm(x->s);
	session_set_reconnect(x->s,
	    x->retries >= 0 ? (int)x->retries : SESSION_RETRY_FOREVER,
	    x->retries >= 0);
	session_catch_signals(x->s, XEXIT_OK);
	session_on_signal(x->s, on_signal, x);
	/* -w is how long to listen; a timeout in the config file (written
	 * for the sending tools) only bounds each connection attempt. */
	if (cfg->timeout_ms && config_from_cli(cfg, "timeout")) {
		session_set_deadline(x->s, cfg->timeout_ms, on_deadline, x);
		x->exec_end_ms =
		    util_now_ms() + cfg->timeout_ms + EXEC_GRACE_MS;
	}
	online_answer_iqs(
	    x->s, "xlisten", x->receipts ? receipt_features : NULL);
	session_add_handler(x->s, "message", NULL, NULL, on_message, x);
	session_add_handler(x->s, "presence", NULL, NULL, on_presence, x);
	session_add_handler(x->s, "iq", NULL, NULL, on_iq, x);
	session_on_connect(x->s, on_online, x);
	rc = xtool_run_session(x->s, 0);
	if (x->ex)
		exec_drain(x->ex, x->exec_end_ms);
	return rc;
}

static void
free_list(char **list)
{
	size_t i;

	for (i = 0; list && list[i]; i++)
		free(list[i]);
	free(list);
}

static void
xlisten_end(void *state)
{
	struct xlisten *x = state;
	size_t i;

	/* The held stanzas belong to the session's libstrophe context. */
	for (i = 0; i < x->nheld; i++)
		xmpp_stanza_release(x->held[i]);
	free(x->held);
	session_free(x->s);
	x->s = NULL;
	output_free(&x->out);
	exec_free(x->ex);
	for (i = 0; x->room && i < x->nrooms; i++)
		muc_room_free(x->room[i]);
	free(x->room);
	free_list(x->from);
	free_list(x->rooms);
	exec_argv_free(x->exec);
	free(x->nick);
	util_secure_free(x->room_password);
	config_room_password_free(&x->room_pw);
	output_choice_free(&x->oc);
	free(x->own_bare);
	free(x->state_path);
	for (i = 0; i < x->narch; i++)
		archive_seen_free(&x->arch[i].seen);
	free(x->arch);
	archive_file_free(&x->file);
	free(x->queryid);
	free(x->cursor);
	free(x->page_id);
	omemo_pep_release();
	omemo_close(x->omemo);
}

int
main(int argc, char **argv)
{
	struct xlisten x;
	struct xtool tool;

	memset(&x, 0, sizeof(x));
	x.receipts = 1;
	x.retries = -1;
	config_room_password_init(&x.room_pw);
	x.keepalive_ms = 60000;
	memset(&tool, 0, sizeof(tool));
	tool.name = "xlisten";
	tool.args_help = "[OPTION...] [JID...]";
	tool.options = options;
	tool.option = xlisten_option;
	tool.run = xlisten_run;
	tool.end = xlisten_end;
	tool.state = &x;
	return xtool_main(&tool, argc, argv);
}
