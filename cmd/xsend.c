/* SPDX-License-Identifier: MIT */
/* xsend.c -- send messages; exit 0 only when the server has every one */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <popt.h>
#include <strophe.h>

#include "agent.h"
#include "omemo.h"
#include "omemo_pep.h"
#include "config.h"
#include "jid.h"
#include "migrate.h"
#include "muc.h"
#include "options.h"
#include "outbox.h"
#include "output.h"
#include "reader.h"
#include "session.h"
#include "stanza.h"
#include "text.h"
#include "upload.h"
#include "util.h"
#include "xmpptools.h"

enum {
	OPT_MESSAGE = 1,
	OPT_FILE,
	OPT_TYPE,
	OPT_SUBJECT,
	OPT_THREAD,
	OPT_SANITIZE,
	OPT_MAX_SIZE,
	OPT_LINES,
	OPT_NUL,
	OPT_KEEP_EMPTY,
	OPT_TEE,
	OPT_ROOM,
	OPT_NICK,
	OPT_ROOM_PASSWORD,
	OPT_ROOM_PASSWORD_FILE,
	OPT_ROOM_PASSWORD_FD,
	OPT_NICK_RETRY,
	OPT_RAW,
	OPT_RECEIPT,
	OPT_URL,
	OPT_NO_STORE,
	OPT_ID,
	OPT_RETRIES,
	OPT_AGENT,
	OPT_RCPT_FILE,
	OPT_PRINT_CONFIG,
	OPT_UPLOAD,
	OPT_OMEMO
};

/* Input is read only while fewer messages than this wait for the server. */
#define MAX_PENDING 1000
/* A barrier follows every so many messages, and so many may be in flight:
 * the server always has work while confirmations stream back. */
#define BARRIER_EVERY 200
#define MAX_BARRIERS 8
/* ... and while fewer stanzas than this wait to be written. */
#define MAX_QUEUE 64
/* Reconnections in a row after a lost connection, by default: a one-shot
 * run has its deadline anyway; a stream may outlive a server restart. */
#define DEFAULT_RETRIES 3
#define DEFAULT_STREAM_RETRIES 10

enum mode { ONE_SHOT, LINES, RAW };

struct xsend;

/* A barrier in flight, as its answer's callback gets it. */
struct barrier {
	struct xsend *x;
	unsigned long token; /* outbox_barrier()'s; 0: the slot is free */
};

struct xsend {
	/* options */
	char *message;
	char *file;
	const char *type;
	char *subject;
	char *thread;
	char *url;
	char *id;
	char *nick;
	char *room_password; /* from room_pw, once read */
	struct room_password_opts room_pw;
	int sanitize;
	enum mode mode;
	char delim;
	int keep_empty;
	int tee;
	int rooms;
	int nick_retry;
	int receipt;
	int no_store;
	long retries;

	/* --agent VALUE that was no value but the first recipient (popt
	 * takes the word after an option whose argument is optional) */
	char **taken;
	size_t ntaken;
	const char **argv; /* the taken ones, the listed ones, then popt's
			    * arguments */
	char **rcpt_files; /* --rcpt-file, in order */
	size_t nrcpt_files;
	char **listed; /* the JIDs of the --rcpt-file lists */
	size_t nlisted;
	char **uploads; /* --upload FILE, in order */
	size_t nuploads;
	int print_config; /* --print-config[=FILE] */
	char *config_out; /* its FILE */
	char *password; /* read to start the agent, kept to log in directly */

	/* recipients: JIDs, or rooms */
	char **rcpt;
	struct muc_room **room;
	size_t nrcpt;

	/* the run */
	const struct xconfig *cfg;
	struct session *s;
	struct output out;
	char *body; /* one-shot */
	int created; /* one-shot: the messages exist */
	struct outbox *ob; /* each message until its fate is known */
	struct barrier bar[MAX_BARRIERS];
	unsigned barrier_timer;
	int ready; /* online, rooms joined, unconfirmed messages resent */
	unsigned losses; /* connections lost during the run */
	size_t joined; /* rooms joined on this connection */

	/* input */
	struct buf in;
	unsigned long lineno;
	int input_done;
	int input_started;
	int eof; /* standard input has ended */
	struct reader *reader;

	/* --upload: each file's size, then its GET URL once uploaded */
	long long *usize;
	char **uget;
	size_t nuploaded;
	int uploads_done;
	int64_t started_ms;
	char *service; /* the upload service's JID */

	/* --omemo: the key store, the recipients' bare JIDs */
	struct omemo *omemo;
	char **bare;
	int omemo_ready; /* every recipient has a session to encrypt with */

	int code; /* the first failure */
	int finishing;
	int account_read; /* 'password' holds the account's password */
};

static struct poptOption options[] = {
	{ "message", 'm', POPT_ARG_STRING, NULL, OPT_MESSAGE,
	    "Send TEXT (instead of reading standard input)", "TEXT" },
	{ "file", 'f', POPT_ARG_STRING, NULL, OPT_FILE,
	    "Send the contents of FILE ('-' is standard input)", "FILE" },
	{ "type", 't', POPT_ARG_STRING, NULL, OPT_TYPE,
	    "Message type: chat (default), normal or headline", "TYPE" },
	{ "subject", 's', POPT_ARG_STRING, NULL, OPT_SUBJECT,
	    "Subject of the message", "TEXT" },
	{ "thread", '\0', POPT_ARG_STRING, NULL, OPT_THREAD,
	    "Thread identifier of the message", "ID" },
	{ "url", '\0', POPT_ARG_STRING, NULL, OPT_URL,
	    "Attach URL (XEP-0066); it is the body when there is none", "URL" },
	{ "upload", '\0', POPT_ARG_STRING, NULL, OPT_UPLOAD,
	    "Upload FILE to the server's HTTP upload service (XEP-0363) and "
	    "send its URL, with -m as the caption; repeatable (a message per "
	    "file)",
	    "FILE" },
	{ "omemo", '\0', POPT_ARG_NONE, NULL, OPT_OMEMO,
	    "Encrypt end to end with OMEMO (XEP-0384) for every device of "
	    "the recipients and the account's other devices; fail rather "
	    "than send plaintext",
	    NULL },
	{ "no-store", '\0', POPT_ARG_NONE, NULL, OPT_NO_STORE,
	    "Ask servers not to store the message (XEP-0334), for alerts "
	    "that are stale when late",
	    NULL },
	{ "receipt", '\0', POPT_ARG_NONE, NULL, OPT_RECEIPT,
	    "Ask for delivery receipts (XEP-0184) and wait for each one",
	    NULL },
	{ "id", '\0', POPT_ARG_STRING, NULL, OPT_ID,
	    "Use ID as the message id (default: a new UUID)", "ID" },
	{ "lines", 'l', POPT_ARG_NONE, NULL, OPT_LINES,
	    "Send each line of standard input as a message, as it arrives",
	    NULL },
	{ "null", '0', POPT_ARG_NONE, NULL, OPT_NUL,
	    "Like --lines, with messages separated by NUL bytes", NULL },
	{ "keep-empty", '\0', POPT_ARG_NONE, NULL, OPT_KEEP_EMPTY,
	    "With --lines, send empty lines too (they are skipped)", NULL },
	{ "tee", '\0', POPT_ARG_NONE, NULL, OPT_TEE,
	    "Print ID<TAB>RECIPIENT<TAB>LINE for each message the server "
	    "has",
	    NULL },
	{ "rcpt-file", '\0', POPT_ARG_STRING, NULL, OPT_RCPT_FILE,
	    "Also send to the JIDs listed in FILE, one a line ('#' "
	    "comments; '-' is standard input when -m or -f FILE gives the "
	    "message)",
	    "FILE" },
	{ "print-config", '\0', POPT_ARG_STRING | POPT_ARGFLAG_OPTIONAL, NULL,
	    OPT_PRINT_CONFIG,
	    "Print the xmpptools config equivalent to the sendxmpp or "
	    "go-sendxmpp config in use (password left out), or write it with "
	    "the password into the new file FILE (a path with a '/', mode "
	    "0600); send nothing",
	    "FILE" },
	{ "room", 'r', POPT_ARG_NONE, NULL, OPT_ROOM,
	    "The JIDs are rooms (XEP-0045): join, send groupchat, leave",
	    NULL },
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
	{ "nick-retry", '\0', POPT_ARG_NONE, NULL, OPT_NICK_RETRY,
	    "When the nick is taken, try NICK-2 ... NICK-9", NULL },
	{ "raw", '\0', POPT_ARG_NONE, NULL, OPT_RAW,
	    "Send the XML stanzas read from standard input; print the "
	    "replies to iq get/set",
	    NULL },
	{ "retries", '\0', POPT_ARG_STRING, NULL, OPT_RETRIES,
	    "Reconnect up to N times in a row when the connection is lost "
	    "(default 3, with --lines 10); when given, also retry a failed "
	    "first connection",
	    "N" },
	{ "agent", '\0', POPT_ARG_STRING | POPT_ARGFLAG_OPTIONAL, NULL,
	    OPT_AGENT,
	    "Send through a persistent agent that stays logged in for SECONDS "
	    "(default 60) after its last use; start it when none runs",
	    "SECONDS" },
	{ "sanitize", '\0', POPT_ARG_NONE, NULL, OPT_SANITIZE,
	    "Replace what XML cannot carry (invalid UTF-8, control "
	    "characters) with U+FFFD instead of refusing the input",
	    NULL },
	{ "max-size", '\0', POPT_ARG_STRING, NULL, OPT_MAX_SIZE,
	    "Refuse a message larger than BYTES (default 65536)", "BYTES" },
	XOPT_COMMON_TABLE POPT_AUTOHELP POPT_TABLEEND
};

static void
replace(char **field, const char *arg)
{
	free(*field);
	*field = xstrdup(arg);
}

static int
xsend_option(
    void *state, struct xconfig *cli, int val, const char *arg, char **errstr)
{
	struct xsend *x = state;
	char *err = NULL;

	switch (val) {
	case OPT_MESSAGE:
		replace(&x->message, arg);
		break;
	case OPT_FILE:
		replace(&x->file, arg);
		break;
	case OPT_TYPE:
		if (strcmp(arg, "chat") == 0)
			x->type = "chat";
		else if (strcmp(arg, "normal") == 0)
			x->type = "normal";
		else if (strcmp(arg, "headline") == 0)
			x->type = "headline";
		else {
			*errstr = xasprintf("--type: '%s' is not chat, normal "
					    "or headline (--room sends "
					    "groupchat)",
			    arg);
			return -1;
		}
		break;
	case OPT_SUBJECT:
		replace(&x->subject, arg);
		break;
	case OPT_THREAD:
		replace(&x->thread, arg);
		break;
	case OPT_URL:
		replace(&x->url, arg);
		break;
	case OPT_ID:
		replace(&x->id, arg);
		break;
	case OPT_NICK:
		replace(&x->nick, arg);
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
	case OPT_SANITIZE:
		x->sanitize = 1;
		break;
	case OPT_NO_STORE:
		x->no_store = 1;
		break;
	case OPT_OMEMO:
		config_set(cli, "omemo", NULL, 0, &err);
		free(err);
		break;
	case OPT_RECEIPT:
		x->receipt = 1;
		break;
	case OPT_LINES:
		x->mode = x->mode == RAW ? RAW : LINES;
		if (x->mode == RAW)
			goto raw_conflict;
		break;
	case OPT_NUL:
		if (x->mode == RAW)
			goto raw_conflict;
		x->mode = LINES;
		x->delim = '\0';
		break;
	case OPT_RAW:
		if (x->mode == LINES)
			goto raw_conflict;
		x->mode = RAW;
		break;
	case OPT_KEEP_EMPTY:
		x->keep_empty = 1;
		break;
	case OPT_TEE:
		x->tee = 1;
		break;
	case OPT_ROOM:
		x->rooms = 1;
		break;
	case OPT_NICK_RETRY:
		x->nick_retry = 1;
		break;
	case OPT_RETRIES:
		if (xtool_number(
			"--retries", arg, 0, 1000, &x->retries, errstr) < 0)
			return -1;
		break;
	case OPT_AGENT:
		if (arg && config_set(cli, "agent", arg, 0, &err) < 0) {
			/* Not a duration: a recipient that popt took. */
			free(err);
			x->taken = xrealloc(
			    x->taken, (x->ntaken + 1) * sizeof(*x->taken));
			x->taken[x->ntaken++] = xstrdup(arg);
			arg = NULL;
		}
		if (arg == NULL)
			config_set(cli, "agent", NULL, 0, &err);
		break;
	case OPT_RCPT_FILE:
		x->rcpt_files = xrealloc(x->rcpt_files,
		    (x->nrcpt_files + 1) * sizeof(*x->rcpt_files));
		x->rcpt_files[x->nrcpt_files++] = xstrdup(arg);
		break;
	case OPT_UPLOAD:
		x->uploads = xrealloc(
		    x->uploads, (x->nuploads + 1) * sizeof(*x->uploads));
		x->uploads[x->nuploads++] = xstrdup(arg);
		break;
	case OPT_PRINT_CONFIG:
		x->print_config = 1;
		/* popt takes the next word as the optional FILE: a file
		 * name must show it is one, so a JID is never taken. */
		if (arg && strchr(arg, '/') == NULL) {
			*errstr = xasprintf("--print-config: '%s' is not a "
					    "path (write ./%s); "
					    "--print-config sends nothing",
			    arg, arg);
			return -1;
		}
		if (arg)
			replace(&x->config_out, arg);
		break;
	case OPT_MAX_SIZE:
		if (config_set(cli, "max-size", arg, 0, &err) < 0) {
			*errstr = xasprintf("--max-size: %s", err);
			free(err);
			return -1;
		}
		break;
	}
	return 0;
raw_conflict:
	*errstr = xstrdup("--raw excludes --lines and --null");
	return -1;
}

/* ------------------------------------------------------------------------
 * The messages in flight (common/outbox.c keeps the books)
 */

static long
timeout_ms(const struct xsend *x)
{
	return config_timeout_ms(x->cfg);
}

/* Records the first failure of the run (its line is already printed). */
static void
failed(struct xsend *x, int code)
{
	if (x->code == 0)
		x->code = code;
}

static void
where(struct xsend *x, const struct outbox_item *it, char *buf, size_t len)
{
	if (x->mode == ONE_SHOT)
		snprintf(buf, len, "%s", x->rcpt[it->rcpt]);
	else
		snprintf(buf, len, "line %lu: %s", it->line, x->rcpt[it->rcpt]);
}

static void
release_stanza(void *st)
{
	xmpp_stanza_release(st);
}

/* A message whose fate is known: --tee tells of the ones that made it. */
static void
on_settled(struct outbox_item *it, void *ud)
{
	struct xsend *x = ud;
	struct orecord r;
	char line[32];

	if (!x->tee || it->failed || x->mode == RAW)
		return;
	snprintf(line, sizeof(line), "%lu", it->line);
	orecord_init(&r, "sent", it->payload);
	orecord_add(&r, 'i', "id", it->id, OF_TEXT);
	orecord_add(&r, 't', "to", x->rcpt[it->rcpt], OF_TEXT);
	orecord_add(&r, 'n', "line", line, OF_TEXT | OF_NUMBER);
	if (output_record(&x->out, &r) < 0)
		x->tee = 0; /* nobody reads it any more; keep sending */
}

/* Writes a message to the stream (dropped by the session when offline,
 * and then not counted as sent: it goes out after the reconnection). */
static void
transmit(struct xsend *x, struct outbox_item *it)
{
	session_send(x->s, it->payload);
	if (session_online(x->s))
		outbox_sent(x->ob, it);
}

/* ------------------------------------------------------------------------
 * Progress: the barriers, and the one driver of the run
 */

static void drive(struct xsend *x);
static void on_barrier_late(struct session *s, void *ud);

/* The barriers' watchdog: no answer to any for --timeout means dead. */
static void
restart_barrier_timer(struct xsend *x)
{
	session_timer_cancel(x->s, x->barrier_timer);
	x->barrier_timer = 0;
	if (outbox_barriers(x->ob) > 0 && x->mode != ONE_SHOT)
		x->barrier_timer =
		    session_timer_add(x->s, timeout_ms(x), on_barrier_late, x);
}

static void
on_confirmed(struct session *s, void *ud)
{
	struct barrier *b = ud;
	struct xsend *x = b->x;
	unsigned long token = b->token;

	(void)s;
	b->token = 0;
	outbox_answered(x->ob, token, util_now_ms());
	restart_barrier_timer(x);
	drive(x);
}

static void
on_barrier_late(struct session *s, void *ud)
{
	struct xsend *x = ud;
	char t[32];

	x->barrier_timer = 0;
	session_reconnect_now(s, "%s: no answer from the server for %s s",
	    session_target(s), util_seconds(timeout_ms(x), t, sizeof(t)));
}

/* A barrier behind everything sent and not yet covered by one, when the
 * window has room for it. */
static void
send_barrier(struct xsend *x)
{
	struct barrier *b = x->bar;
	unsigned long token;

	if (!session_online(x->s) || (token = outbox_barrier(x->ob)) == 0)
		return;
	/* The outbox never has more than MAX_BARRIERS in flight. */
	while (b->token != 0)
		b++;
	b->x = x;
	b->token = token;
	session_set_phase(
	    x->s, "waiting for the server to confirm the messages");
	session_barrier(x->s, on_confirmed, b);
	if (outbox_barriers(x->ob) == 1)
		restart_barrier_timer(x);
}

static void
finish(struct xsend *x)
{
	size_t i;

	if (x->finishing)
		return;
	x->finishing = 1;
	for (i = 0; x->rooms && i < x->nrcpt; i++)
		muc_leave(x->s, x->room[i]);
	session_finish(x->s, x->code);
}

static void pump(struct xsend *x);

/*
 * The one driver, called at the end of every event of the run (input, a
 * barrier's answer, a stanza, the sweep): sends the lines the window held
 * back, covers what was sent with a barrier, holds or resumes the input,
 * and ends the run once every message is settled.  Nothing it calls calls
 * it again.
 */
static void
drive(struct xsend *x)
{
	if (x->finishing)
		return;
	if (x->mode == LINES && x->ready && !x->input_done &&
	    !outbox_full(x->ob))
		pump(x);
	send_barrier(x);
	if (x->mode != ONE_SHOT && !x->input_done)
		session_pause_input(x->s, !x->ready || outbox_full(x->ob));
	if ((x->mode == ONE_SHOT ? x->created : x->input_done) &&
	    outbox_count(x->ob) == 0 && outbox_barriers(x->ob) == 0)
		finish(x);
}

/* ------------------------------------------------------------------------
 * Sending
 */

/*
 * Checks (or, with --sanitize, cleans) one text that goes into the XML
 * stream.  Returns 0, or XEXIT_USAGE after saying what is wrong and where.
 */
static int
check_text(struct xsend *x, const char *what, char **text)
{
	enum text_problem p;
	size_t offset, replaced;
	uint32_t cp;
	char *clean;

	p = text_check_xml(*text, strlen(*text), &offset, &cp);
	if (p == TEXT_OK)
		return 0;
	if (x->sanitize) {
		clean = text_clean_xml(*text, strlen(*text), &replaced);
		free(*text);
		*text = clean;
		xdebug(
		    1, "%s: replaced %zu invalid characters", what, replaced);
		return 0;
	}
	if (p == TEXT_BAD_UTF8)
		xerror("%s: invalid UTF-8 at byte %zu (byte 0x%02x); "
		       "nothing %ssent (--sanitize replaces it)",
		    what, offset, (unsigned)cp,
		    x->mode == ONE_SHOT ? "" : "more ");
	else
		xerror("%s: character U+%04X at byte %zu cannot be sent in "
		       "XML; nothing %ssent (--sanitize replaces it)",
		    what, (unsigned)cp, offset,
		    x->mode == ONE_SHOT ? "" : "more ");
	return XEXIT_USAGE;
}

/*
 * A NUL byte cannot be sent in XML: refuses text[0..len) (XEXIT_USAGE,
 * saying where), or with --sanitize turns each NUL into a control
 * character that check_text() then replaces with U+FFFD.
 */
static int
check_nul(struct xsend *x, const char *what, char *text, size_t len)
{
	char *nul = memchr(text, '\0', len);

	if (nul == NULL)
		return 0;
	if (!x->sanitize) {
		xerror("%s: NUL byte at byte %zu cannot be sent in XML; "
		       "nothing %ssent (--sanitize replaces it)",
		    what, (size_t)(nul - text),
		    x->mode == ONE_SHOT ? "" : "more ");
		return XEXIT_USAGE;
	}
	for (; nul < text + len; nul++)
		if (*nul == '\0')
			*nul = '\x01';
	return 0;
}

static void stop_input(struct xsend *x, int code);

/*
 * --omemo: 'msg' (a message without body) gets 'body' encrypted for the
 * devices of recipient 'i': with OMEMO 2 when the recipient announces
 * OMEMO 2 devices (the body in a XEP-0420 envelope), else with 0.3.
 * Returns 0, or -1 after saying why.
 */
static int
seal(struct xsend *x, xmpp_stanza_t *msg, const char *body, size_t i)
{
	const char *bound = session_bound_jid(x->s);
	char *self = bound ? jid_bare_of(bound) : NULL, *err = NULL;
	int rc;

	rc = omemo_pep_seal_body(x->omemo, msg, body, x->bare[i], self, &err);
	if (rc != XEXIT_OK) {
		xerror("%s; nothing sent", err);
		failed(x, rc);
	}
	free(err);
	free(self);
	return rc == XEXIT_OK ? 0 : -1;
}

/* Builds the messages of one body (one per recipient) and sends them;
 * with --omemo, all are encrypted before any is sent. */
static void
send_body(struct xsend *x, const char *body, const char *url, const char *desc)
{
	struct msg_spec m;
	struct outbox_item *it;
	xmpp_stanza_t **st;
	size_t i;
	char *id;

	memset(&m, 0, sizeof(m));
	m.type = x->rooms ? "groupchat" : x->type;
	m.body = body && *body ? body : url;
	m.subject = x->subject;
	m.thread = x->thread;
	m.url = url;
	m.url_desc = desc;
	m.no_store = x->no_store;
	m.receipt = x->receipt;
	if (x->keep_empty && body && !*body && !m.body)
		m.body = "";
	if (x->omemo)
		m.body = NULL; /* only the fallback text goes in clear */
	st = xcalloc(x->nrcpt, sizeof(*st));
	for (i = 0; i < x->nrcpt; i++) {
		id = x->id && x->nrcpt == 1 ? xstrdup(x->id)
		    : x->id		    ? xasprintf("%s-%zu", x->id, i + 1)
					    : session_new_id(x->s);
		m.to = x->rcpt[i];
		m.id = id;
		st[i] = stanza_message(session_ctx(x->s), &m);
		free(id);
		if (x->omemo && seal(x, st[i], body ? body : "", i) < 0) {
			while (i + 1 > 0)
				xmpp_stanza_release(st[i--]);
			free(st);
			if (x->mode != ONE_SHOT)
				stop_input(x, x->code);
			return;
		}
	}
	for (i = 0; i < x->nrcpt; i++) {
		id = xstrdup(xmpp_stanza_get_id(st[i]));
		it = outbox_add(x->ob, id, st[i],
		    (x->rooms ? OUTBOX_ECHO : 0) |
			(x->receipt ? OUTBOX_RECEIPT : 0));
		it->rcpt = i;
		it->line = x->lineno;
		transmit(x, it);
		xdebug(2, "sent to %s (id %s)", x->rcpt[i], id);
		free(id);
	}
	free(st);
}

/* After a reconnection: everything the server had not confirmed again,
 * with its id, in order. */
static void
resend(struct xsend *x)
{
	struct outbox_item *it;
	size_t n = 0;

	for (it = outbox_next_unsent(x->ob, NULL); it;
	     it = outbox_next_unsent(x->ob, it))
		if (it->payload) {
			transmit(x, it);
			n++;
		}
	if (n)
		xdebug(1, "resent %zu unconfirmed messages", n);
}

/* ------------------------------------------------------------------------
 * Input: lines, NUL-separated chunks, or raw stanzas
 */

/* The input is over (ended, or stopped by a bad line with 'code'). */
static void
stop_input(struct xsend *x, int code)
{
	failed(x, code);
	x->input_done = 1;
	session_set_input(x->s, -1, 0, NULL, NULL);
}

static int
handle_line(struct xsend *x, char *line, size_t len)
{
	char what[48], *text;
	int rc;

	x->lineno++;
	if (x->delim == '\n' && len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0 && !x->keep_empty)
		return 0;
	snprintf(what, sizeof(what), "line %lu", x->lineno);
	if ((rc = check_nul(x, what, line, len)) != 0)
		return rc;
	text = xstrndup(line, len);
	if ((rc = check_text(x, what, &text)) != 0) {
		free(text);
		return rc;
	}
	if (strlen(text) > x->cfg->max_size) {
		xerror("%s: larger than %lu bytes (--max-size); nothing more "
		       "sent",
		    what, x->cfg->max_size);
		free(text);
		return XEXIT_USAGE;
	}
	send_body(x, text, x->url, NULL);
	free(text);
	return 0;
}

static int on_stanza(xmpp_stanza_t *st, unsigned long line, void *ud);

/*
 * Sends the complete lines held in the input buffer while the window has
 * room, with a barrier every BARRIER_EVERY messages.  At the end of input
 * the last line may lack its delimiter.  A bad line, or the end, stops the
 * input (stop_input()).
 */
static void
pump(struct xsend *x)
{
	char *p = x->in.data, *nl = NULL;
	int rc = 0;

	while (p && !outbox_full(x->ob) &&
	    (nl = memchr(p, x->delim, x->in.len - (size_t)(p - x->in.data)))) {
		rc = handle_line(x, p, (size_t)(nl - p));
		p = nl + 1;
		if (rc != 0)
			break;
		if (outbox_barrier_due(x->ob))
			send_barrier(x);
	}
	if (p)
		buf_consume(&x->in, (size_t)(p - x->in.data));
	if (rc != 0)
		stop_input(x, rc);
	else if (nl != NULL || outbox_full(x->ob))
		return; /* more lines wait for the window */
	else if (x->in.len > x->cfg->max_size + 1) {
		xerror("line %lu: larger than %lu bytes (--max-size); nothing "
		       "more sent",
		    x->lineno + 1, x->cfg->max_size);
		stop_input(x, XEXIT_USAGE);
	} else if (x->eof) {
		/* The last line may lack its delimiter. */
		if (x->in.len > 0)
			rc = handle_line(x, x->in.data, x->in.len);
		buf_reset(&x->in);
		stop_input(x, rc);
	}
}

/* --raw: feeds what was read (n bytes, 0 at the end) to the reader, which
 * calls on_stanza() for each stanza. */
static void
feed_raw(struct xsend *x, size_t n)
{
	char *err = NULL;

	if (reader_feed(x->reader, x->in.data + x->in.len, n, n == 0, &err) <
	    0) {
		if (err) {
			xerror("standard input: %s; nothing more sent", err);
			free(err);
		}
		stop_input(x, XEXIT_USAGE);
	} else if (n == 0)
		stop_input(x, 0);
}

static int
on_input(struct session *s, int fd, void *ud)
{
	struct xsend *x = ud;
	ssize_t n;

	(void)s;
	buf_reserve(&x->in, 65536);
	n = read(fd, x->in.data + x->in.len, 65536);
	if (n < 0 && errno == EINTR)
		return 0;
	if (n < 0) {
		xerror("standard input: %s", strerror(errno));
		stop_input(x, XEXIT_FAILURE);
	} else if (x->mode == RAW)
		feed_raw(x, (size_t)n);
	else {
		x->in.len += (size_t)n;
		x->in.data[x->in.len] = '\0';
		if (n == 0) {
			/* Nothing more to read; what is buffered still goes
			 * out. */
			x->eof = 1;
			session_set_input(x->s, -1, 0, NULL, NULL);
		}
	}
	drive(x);
	return x->eof || x->input_done ? -1 : 0;
}

/* ------------------------------------------------------------------------
 * Raw stanzas
 */

static int
on_iq_reply(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct xsend *x = ud;
	const char *type = xmpp_stanza_get_type(st);
	struct outbox_item *it = outbox_find(x->ob, xmpp_stanza_get_id(st));
	struct orecord r;
	char *cond, *text;

	(void)s;
	orecord_init(&r, "iq", st);
	if (output_record(&x->out, &r) < 0)
		xwarn("standard output: cannot write the reply");
	if (type && strcmp(type, "error") == 0) {
		stanza_error_info(st, &cond, &text);
		xerror("line %lu: iq %s: %s", it ? it->line : 0UL,
		    xmpp_stanza_get_id(st), cond);
		free(cond);
		free(text);
		failed(x, XEXIT_REJECTED);
	}
	if (it)
		outbox_done(x->ob, it, OUTBOX_REPLY);
	drive(x);
	return 0;
}

static int
on_stanza(xmpp_stanza_t *st, unsigned long line, void *ud)
{
	struct xsend *x = ud;
	const char *name = xmpp_stanza_get_name(st);
	const char *type = xmpp_stanza_get_type(st);
	const char *ns = xmpp_stanza_get_ns(st);
	const char *id = xmpp_stanza_get_id(st);
	struct outbox_item *it;
	char *newid = NULL;
	int iq;

	x->lineno = line;
	if (ns && strcmp(ns, XMPP_NS_CLIENT) != 0) {
		xerror("standard input: line %lu: <%s> in namespace '%s', not "
		       "jabber:client; nothing more sent",
		    line, name, ns);
		xmpp_stanza_release(st);
		failed(x, XEXIT_USAGE);
		return -1;
	}
	if (id == NULL || *id == '\0' || outbox_find(x->ob, id) != NULL) {
		/* Replies and bounces are matched by id: give it a new one. */
		newid = session_new_id(x->s);
		stanza_give_id(st, newid);
	}
	iq = strcmp(name, "iq") == 0 && type &&
	    (strcmp(type, "get") == 0 || strcmp(type, "set") == 0);
	/* Never resent (no payload): --raw does not reconnect. */
	it = outbox_add(
	    x->ob, xmpp_stanza_get_id(st), NULL, iq ? OUTBOX_REPLY : 0);
	it->line = line;
	if (iq)
		session_request(x->s, st, on_iq_reply, x);
	else
		session_send(x->s, st);
	outbox_sent(x->ob, it);
	xmpp_stanza_release(st);
	free(newid);
	return 0;
}

/* ------------------------------------------------------------------------
 * What comes back: bounces, room echoes, receipts
 */

/* The sender of a stanza, safe in a message line (caller frees). */
static char *
escaped_from(xmpp_stanza_t *st)
{
	const char *from = xmpp_stanza_get_from(st);
	struct buf b;

	buf_init(&b);
	text_escape(&b, from ? from : "?", strlen(from ? from : "?"));
	return buf_steal(&b);
}

/* ": TEXT" with the text from the network escaped, or "" for NULL
 * (caller frees). */
static char *
detail(const char *text)
{
	struct buf b;

	buf_init(&b);
	buf_adds(&b, text ? ": " : "");
	if (text)
		text_escape(&b, text, strlen(text));
	return buf_steal(&b);
}

/* A message of ours came back as an error: one line, and it failed. */
static void
on_bounce(struct xsend *x, struct outbox_item *it, xmpp_stanza_t *st)
{
	char *cond, *text, *from, *more, at[1100];

	stanza_error_info(st, &cond, &text);
	if (x->mode == RAW) {
		from = escaped_from(st);
		snprintf(at, sizeof(at), "line %lu: %s", it->line, from);
		free(from);
	} else
		where(x, it, at, sizeof(at));
	more = detail(text);
	xerror("%s: %s%s", at, cond, more);
	free(more);
	free(cond);
	free(text);
	failed(x, XEXIT_REJECTED);
	outbox_bounce(x->ob, it);
}

/* A room echoes our groupchat message with its id. */
static void
on_echo(struct xsend *x, xmpp_stanza_t *st)
{
	xmpp_stanza_t *oid =
	    xmpp_stanza_get_child_by_name_and_ns(st, "origin-id", NS_SID);
	struct outbox_item *it = outbox_find(x->ob, xmpp_stanza_get_id(st));

	if (it == NULL && oid)
		it = outbox_find(x->ob, xmpp_stanza_get_attribute(oid, "id"));
	/* A subject change comes back without our id (Prosody). */
	if (it == NULL &&
	    xmpp_stanza_get_child_by_name(st, "subject") != NULL &&
	    xmpp_stanza_get_child_by_name(st, "body") == NULL)
		for (it = outbox_next(x->ob, NULL); it;
		     it = outbox_next(x->ob, it))
			if ((it->waits & OUTBOX_ECHO) &&
			    xmpp_stanza_get_child_by_name(
				it->payload, "body") == NULL &&
			    jid_same_bare(
				xmpp_stanza_get_from(st), x->rcpt[it->rcpt]))
				break;
	if (it && muc_is_self(x->room[it->rcpt], xmpp_stanza_get_from(st)))
		outbox_done(x->ob, it, OUTBOX_ECHO);
}

static int
on_message(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct xsend *x = ud;
	const char *type = xmpp_stanza_get_type(st);
	xmpp_stanza_t *rcv;
	struct outbox_item *it;

	(void)s;
	if (type && strcmp(type, "error") == 0) {
		it = outbox_find(x->ob, xmpp_stanza_get_id(st));
		if (it == NULL)
			return 1;
		on_bounce(x, it, st);
	} else if (x->rooms && type && strcmp(type, "groupchat") == 0)
		on_echo(x, st);
	else if ((rcv = xmpp_stanza_get_child_by_name_and_ns(
		      st, "received", NS_RECEIPTS)) != NULL) {
		it = outbox_find(x->ob, xmpp_stanza_get_attribute(rcv, "id"));
		if (it == NULL ||
		    !jid_same_bare(xmpp_stanza_get_from(st), x->rcpt[it->rcpt]))
			return 1;
		xdebug(1, "receipt from %s", x->rcpt[it->rcpt]);
		outbox_done(x->ob, it, OUTBOX_RECEIPT);
	} else
		return 1;
	drive(x);
	return 1;
}

static int
on_presence(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct xsend *x = ud;
	const char *type = xmpp_stanza_get_type(st);
	struct outbox_item *it;
	char *cond, *text, *from;
	size_t i;

	for (i = 0; x->rooms && i < x->nrcpt; i++)
		if (muc_handle_presence(s, x->room[i], st))
			return 1;
	/* --raw: a presence we sent that came back as an error. */
	if (x->mode == RAW && type && strcmp(type, "error") == 0 &&
	    (it = outbox_find(x->ob, xmpp_stanza_get_id(st))) != NULL) {
		from = escaped_from(st);
		stanza_error_info(st, &cond, &text);
		xerror("line %lu: %s: %s", it->line, from, cond);
		free(cond);
		free(text);
		free(from);
		failed(x, XEXIT_REJECTED);
		outbox_bounce(x->ob, it);
		drive(x);
	}
	return 1;
}

/* ------------------------------------------------------------------------
 * The connection
 */

static void start_sending(struct xsend *x);

/* --upload: a message per file, its URL as the body (after the caption,
 * on a line of its own) and as the XEP-0066 URL with the caption. */
static void
send_uploaded(struct xsend *x)
{
	char *body;
	size_t i;

	for (i = 0; i < x->nuploads; i++) {
		body = *x->body ? xasprintf("%s\n%s", x->body, x->uget[i])
				: xstrdup(x->uget[i]);
		send_body(x, body, x->uget[i], x->body);
		free(body);
	}
}

/* An upload failed (its line is printed): nothing is sent. */
static void
upload_failed(struct xsend *x, int code)
{
	failed(x, code);
	x->input_done = 1;
	x->finishing = 1;
	session_finish(x->s, x->code);
}

static void next_upload(struct xsend *x);

static void
on_upload_slot(struct session *s, const struct upload_slot *slot, int code,
    const char *why, void *ud)
{
	struct xsend *x = ud;
	const char *path = x->uploads[x->nuploaded];
	long left = timeout_ms(x) - (long)(util_now_ms() - x->started_ms);
	char *err = NULL, *get;

	(void)s;
	if (slot == NULL) {
		xerror("--upload %s: %s; nothing sent", path, why);
		upload_failed(x, code);
		return;
	}
	if (!upload_url_is_https(slot->get)) {
		get = text_escape_dup(slot->get, strlen(slot->get));
		xerror("--upload %s: the slot's URL %s is not https; nothing "
		       "uploaded, nothing sent",
		    path, get);
		free(get);
		upload_failed(x, XEXIT_PROTOCOL);
		return;
	}
	code = upload_put(x->cfg, slot, path, x->usize[x->nuploaded],
	    upload_content_type(path), left > 0 ? left : 1,
	    isatty(STDERR_FILENO), &err);
	if (code != XEXIT_OK) {
		xerror("--upload %s: %s; nothing sent", path, err);
		free(err);
		upload_failed(x, code);
		return;
	}
	xdebug(1, "uploaded %s", path);
	x->uget[x->nuploaded++] = xstrdup(slot->get);
	next_upload(x);
}

static void go_online(struct xsend *x);

/* The next file to upload, or on to sending once all are. */
static void
next_upload(struct xsend *x)
{
	const char *path;
	char *name;

	if (x->nuploaded == x->nuploads) {
		x->uploads_done = 1;
		go_online(x);
		return;
	}
	path = x->uploads[x->nuploaded];
	name = upload_file_name(path);
	upload_request(x->s, x->service, name, x->usize[x->nuploaded],
	    upload_content_type(path), on_upload_slot, x);
	free(name);
}

static void
on_upload_service(struct session *s, const char *service, long long max,
    int code, const char *why, void *ud)
{
	struct xsend *x = ud;
	size_t i;

	(void)s;
	if (service == NULL) {
		xerror("--upload: %s; nothing sent", why);
		upload_failed(x, code);
		return;
	}
	for (i = 0; max >= 0 && i < x->nuploads; i++)
		if (x->usize[i] > max) {
			xerror("--upload %s: %lld bytes is larger than the "
			       "limit of the upload service %s (%lld bytes); "
			       "nothing uploaded, nothing sent",
			    x->uploads[i], x->usize[i], service, max);
			upload_failed(x, XEXIT_USAGE);
			return;
		}
	free(x->service);
	x->service = xstrdup(service);
	next_upload(x);
}

static void
on_joined(struct session *s, struct muc_room *r, const char *cond,
    const char *text, void *ud)
{
	struct xsend *x = ud;
	char *more;

	if (cond != NULL) {
		more = detail(text);
		xerror("%s: cannot join: %s%s%s", muc_room_jid(r), cond,
		    strcmp(cond, "item-not-found") == 0
			? " (the room does not exist)"
			: strcmp(cond, "not-authorized") == 0
			? " (a password is needed)"
			: strcmp(cond, "registration-required") == 0
			? " (the room is for members only)"
			: strcmp(cond, "forbidden") == 0 ? " (banned)"
			: strcmp(cond, "conflict") == 0 ? " (the nick is taken)"
							: "",
		    more);
		free(more);
		failed(x, XEXIT_REJECTED);
		x->input_done = 1;
		finish(x);
		return;
	}
	(void)s;
	if (++x->joined == x->nrcpt)
		start_sending(x);
}

static void
start_sending(struct xsend *x)
{
	resend(x);
	x->ready = 1;
	if (x->mode == ONE_SHOT && !x->created) {
		send_uploaded(x);
		if (x->nuploads == 0)
			send_body(x, x->body, x->url, NULL);
		x->created = 1;
	}
	if (x->mode != ONE_SHOT && !x->input_done) {
		if (!x->input_started && x->mode == RAW)
			x->reader = reader_new(
			    session_ctx(x->s), x->cfg->max_size, on_stanza, x);
		x->input_started = 1;
		if (!x->eof)
			session_set_input(
			    x->s, STDIN_FILENO, MAX_QUEUE, on_input, x);
	}
	drive(x);
}

/* What the sweep gives up: one line each. */
static void
report_expired(struct outbox_item *it, void *ud)
{
	struct xsend *x = ud;
	char at[1100];

	if (it->waits & OUTBOX_REPLY)
		xerror("line %lu: iq %s: no reply in time", it->line, it->id);
	else {
		where(x, it, at, sizeof(at));
		xerror("%s: %s in time", at,
		    (it->waits & OUTBOX_RECEIPT)
			? "no receipt"
			: "the room did not echo the message");
	}
	failed(x, XEXIT_TIMEOUT);
}

/*
 * Streams have no deadline of their own: what the server confirmed but
 * the room did not echo, the recipient did not acknowledge or nobody
 * answered (a raw iq) is given up after --timeout, once per second.
 */
static void
sweep(struct session *s, void *ud)
{
	struct xsend *x = ud;

	outbox_expire(x->ob, util_now_ms(), timeout_ms(x), report_expired, x);
	drive(x);
	if (!x->finishing)
		session_timer_add(s, 1000, sweep, x);
}

/* --omemo: every recipient's devices are known and have sessions. */
static void
on_omemo_ready(struct session *s, int code, const char *why, void *ud)
{
	struct xsend *x = ud;

	(void)s;
	if (code != 0) {
		xerror("%s", why);
		failed(x, code);
		x->input_done = 1;
		finish(x);
		return;
	}
	x->omemo_ready = 1;
	go_online(x);
}

static void
on_online(struct session *s, void *ud)
{
	struct xsend *x = ud;

	if (x->nuploads > 0 && !x->uploads_done) {
		/* Uploaded first: the messages carry the URLs. */
		upload_discover(s, on_upload_service, x);
		return;
	}
	if (x->omemo && !x->omemo_ready) {
		omemo_pep_prepare(s, x->omemo, (const char *const *)x->bare,
		    x->nrcpt, on_omemo_ready, x);
		return;
	}
	go_online(x);
}

static void
go_online(struct xsend *x)
{
	struct session *s = x->s;
	size_t i;

	x->joined = 0;
	if (x->mode != ONE_SHOT)
		session_timer_add(s, 1000, sweep, x);
	if (!x->rooms) {
		start_sending(x);
		return;
	}
	for (i = 0; i < x->nrcpt; i++)
		muc_join(s, x->room[i], on_joined, x);
}

static void
on_lost(struct session *s, void *ud)
{
	struct xsend *x = ud;
	size_t i;

	/* The barriers in flight are gone with the stream, and what they
	 * would have confirmed is sent again once back online. */
	outbox_lost(x->ob);
	for (i = 0; i < MAX_BARRIERS; i++)
		x->bar[i].token = 0;
	x->barrier_timer = 0;
	x->ready = 0;
	x->losses++;
	/* No new line goes out before the old ones are resent. */
	if (x->input_started && !x->input_done)
		session_pause_input(s, 1);
}

/* At the deadline of one message: say what is still missing. */
static void
on_deadline(struct session *s, void *ud)
{
	struct xsend *x = ud;
	struct outbox_item *it;
	char at[1100];
	size_t i;

	if (!session_online(s)) {
		session_timeout(s);
		return;
	}
	for (it = outbox_next(x->ob, NULL); it; it = outbox_next(x->ob, it)) {
		where(x, it, at, sizeof(at));
		if (!it->confirmed)
			xerror("%s: the server did not confirm the message in "
			       "time",
			    at);
		else if (it->waits & OUTBOX_RECEIPT)
			xerror("%s: no receipt in time", at);
		else if (it->waits & OUTBOX_ECHO)
			xerror("%s: the room did not echo the message in time",
			    at);
	}
	if (x->nuploads > 0 && !x->uploads_done)
		xerror("--upload: timed out %s; nothing sent",
		    x->service ? "getting an upload slot"
			       : "looking for the upload service");
	for (i = 0;
	     x->rooms && (x->nuploads == 0 || x->uploads_done) && i < x->nrcpt;
	     i++)
		if (!muc_room_joined(x->room[i]))
			xerror("%s: timed out joining the room", x->rcpt[i]);
	failed(x, XEXIT_TIMEOUT);
	x->input_done = 1;
	finish(x);
}

/* ------------------------------------------------------------------------
 * Before connecting: arguments and the one message
 */

static int
read_body(struct xsend *x, const struct xconfig *cfg)
{
	struct buf b;
	int fd = STDIN_FILENO, r;
	const char *name = "standard input";

	if (x->message) {
		if (strlen(x->message) > cfg->max_size) {
			xerror("message is larger than %lu bytes (--max-size); "
			       "nothing sent",
			    cfg->max_size);
			return XEXIT_USAGE;
		}
		x->body = xstrdup(x->message);
		return 0;
	}
	if (x->nuploads > 0 && x->file == NULL) {
		/* --upload: -m or -f is the caption; no input is read. */
		x->body = xstrdup("");
		return 0;
	}
	if (x->url && x->file == NULL && isatty(STDIN_FILENO)) {
		/* --url alone: the URL is the message. */
		x->body = xstrdup("");
		return 0;
	}
	if (x->file && strcmp(x->file, "-") != 0) {
		name = x->file;
		if ((fd = open(x->file, O_RDONLY | O_CLOEXEC)) < 0) {
			xerror("%s: %s", x->file, strerror(errno));
			return XEXIT_USAGE;
		}
	}
	buf_init(&b);
	r = util_read_all(fd, &b, cfg->max_size);
	if (fd != STDIN_FILENO)
		close(fd);
	if (r == -1) {
		xerror("%s: %s", name, strerror(errno));
		buf_free(&b);
		return XEXIT_USAGE;
	}
	if (r == -2) {
		xerror("%s: message is larger than %lu bytes (--max-size); "
		       "nothing sent",
		    name, cfg->max_size);
		buf_free(&b);
		return XEXIT_USAGE;
	}
	/* The trailing newlines of a file or a pipe are not part of it. */
	while (b.len > 0 &&
	    (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		b.data[--b.len] = '\0';
	if (b.data && (r = check_nul(x, name, b.data, b.len)) != 0) {
		buf_free(&b);
		return r;
	}
	x->body = buf_steal(&b);
	return 0;
}

static const char *omemo_conflict(const struct xsend *x);

static int
check_args(struct xsend *x, int argc)
{
	const char *why;
	struct jid j;

	if (x->mode == RAW && argc > 0)
		return xtool_usage(
		    "--raw takes no recipients: the stanzas say where "
		    "they go");
	if (x->mode == RAW && x->tee)
		return xtool_usage(
		    "--tee does not apply to --raw (it prints the "
		    "replies)");
	if (argc == 0 && x->mode != RAW)
		return xtool_usage("no recipient given");
	if (x->message && x->file)
		return xtool_usage("--message and --file exclude each other");
	if (x->mode != ONE_SHOT && (x->message || x->file))
		return xtool_usage(x->mode == RAW
			? "--raw reads standard input; --message and --file do "
			  "not apply"
			: "--lines reads standard input; --message and --file "
			  "do not apply");
	if (x->mode == RAW &&
	    (x->rooms || x->receipt || x->subject || x->thread || x->url ||
		x->id || x->no_store || x->type || x->sanitize ||
		x->keep_empty))
		return xtool_usage(
		    "--raw sends the stanzas as they are; message "
		    "options do not apply");
	if (x->mode == RAW && x->retries >= 0)
		return xtool_usage(
		    "--raw does not reconnect (an iq is not resent "
		    "blindly); --retries does not apply");
	if (x->mode != LINES && x->keep_empty)
		return xtool_usage(
		    "--keep-empty applies to --lines and --null");
	if (x->mode == LINES && x->id)
		return xtool_usage(
		    "--id names one message; --lines sends many");
	if (x->rooms && x->receipt)
		return xtool_usage(
		    "--receipt does not apply to rooms (the room's "
		    "echo is the confirmation)");
	if (x->rooms && x->type != NULL)
		return xtool_usage(
		    "--room sends groupchat messages; --type does not "
		    "apply");
	if (!x->rooms &&
	    (x->nick || config_room_password_given(&x->room_pw) ||
		x->nick_retry))
		return xtool_usage(
		    "--nick, --room-password and --nick-retry need "
		    "--room");
	if (config_room_password_given(&x->room_pw) > 1)
		return xtool_usage(
		    "one room password source: --room-password-file, "
		    "--room-password-fd or --room-password");
	if (x->url && !*x->url)
		return xtool_usage("--url is empty");
	if (x->nuploads > 1 && x->id)
		return xtool_usage(
		    "--id names one message; each --upload sends one");
	if (x->nuploads > 0 && (x->mode != ONE_SHOT || x->url))
		return xtool_usage("--upload sends one message per file; "
				   "--lines, --null, --raw and --url do not "
				   "apply");
	if (x->id && !*x->id)
		return xtool_usage("--id is empty");
	if (x->cfg->omemo && (why = omemo_conflict(x)) != NULL) {
		xerror("--omemo (or omemo = yes): %s; nothing sent", why);
		return XEXIT_USAGE;
	}
	if (x->nick) {
		char *occupant = xasprintf("room@example.org/%s", x->nick);
		int bad = jid_parse(occupant, &j, &why) < 0;

		free(occupant);
		jid_free(&j);
		if (bad) {
			xerror("--nick: invalid nick '%s': %s; nothing sent",
			    x->nick, why);
			return XEXIT_USAGE;
		}
	}
	return 0;
}

/* What --omemo cannot encrypt, or NULL. */
static const char *
omemo_conflict(const struct xsend *x)
{
	return x->mode == RAW ? "--raw sends stanzas as they are, unencrypted"
	    : x->rooms	      ? "rooms are not supported (encrypting for a "
				"room needs its members' devices)"
	    : x->nuploads > 0 ? "--upload would send a link to an "
				"unencrypted file"
	    : x->subject      ? "the subject would go unencrypted"
	    : x->url	      ? "the --url would go unencrypted"
			      : NULL;
}

/* --upload: every file is a regular file that can be read; its size. */
static int
check_uploads(struct xsend *x)
{
	struct stat st;
	char *where;
	size_t i;
	int fd;

	x->usize = xcalloc(x->nuploads + 1, sizeof(*x->usize));
	x->uget = xcalloc(x->nuploads + 1, sizeof(*x->uget));
	for (i = 0; i < x->nuploads; i++) {
		where = text_escape_dup(x->uploads[i], strlen(x->uploads[i]));
		fd = open(x->uploads[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			xerror("--upload %s: %s; nothing sent", where,
			    fd < 0 ? strerror(errno) : "not a regular file");
			if (fd >= 0)
				close(fd);
			free(where);
			return XEXIT_USAGE;
		}
		close(fd);
		free(where);
		x->usize[i] = (long long)st.st_size;
	}
	return 0;
}

/* The resource of a full JID ("/res"), or "" for a bare one. */
static const char *
resource_of(const char *jid)
{
	const char *slash = strchr(jid, '/');

	return slash ? slash : "";
}

/* The recipients, checked and normalized; the same one twice counts once. */
static int
parse_rcpts(struct xsend *x, int argc, const char **argv)
{
	const char *why;
	struct jid j;
	size_t k;
	int i;

	x->rcpt = xcalloc((size_t)argc, sizeof(*x->rcpt));
	for (i = 0; i < argc; i++) {
		if (jid_parse(argv[i], &j, &why) < 0) {
			xerror(
			    "invalid JID '%s': %s; nothing sent", argv[i], why);
			return XEXIT_USAGE;
		}
		if (x->rooms && (j.resource || !j.local)) {
			xerror("'%s' is not a room JID (room@service); nothing "
			       "sent",
			    argv[i]);
			jid_free(&j);
			return XEXIT_USAGE;
		}
		x->rcpt[x->nrcpt] = jid_full(&j);
		jid_free(&j);
		for (k = 0; k < x->nrcpt; k++)
			if (jid_same_bare(x->rcpt[k], x->rcpt[x->nrcpt]) &&
			    strcmp(resource_of(x->rcpt[k]),
				resource_of(x->rcpt[x->nrcpt])) == 0)
				break;
		if (k < x->nrcpt)
			free(x->rcpt[x->nrcpt]);
		else
			x->nrcpt++;
	}
	return 0;
}

/* Checks the texts of the options, and reads the one message. */
static int
check_texts(struct xsend *x, const struct xconfig *cfg)
{
	int rc;

	if (x->subject && (rc = check_text(x, "--subject", &x->subject)) != 0)
		return rc;
	if (x->thread && (rc = check_text(x, "--thread", &x->thread)) != 0)
		return rc;
	if (x->url && (rc = check_text(x, "--url", &x->url)) != 0)
		return rc;
	if (x->id && (rc = check_text(x, "--id", &x->id)) != 0)
		return rc;
	if (x->mode != ONE_SHOT)
		return 0;
	if ((rc = read_body(x, cfg)) != 0)
		return rc;
	if ((rc = check_text(x, "message", &x->body)) != 0)
		return rc;
	if (strlen(x->body) > cfg->max_size) {
		/* --sanitize writes U+FFFD (3 bytes) per bad byte. */
		xerror("message is larger than %lu bytes once cleaned "
		       "(--max-size); nothing sent",
		    cfg->max_size);
		return XEXIT_USAGE;
	}
	return 0;
}

/* The session, with the password already read to start an agent if so. */
static int
new_session(struct xsend *x, struct xconfig *cfg)
{
	char *err = NULL;

	if (!x->account_read)
		return xtool_session(cfg, &x->s);
	if ((x->s = session_new(cfg, x->password, &err)) == NULL) {
		xerror("%s", err);
		free(err);
		return XEXIT_CONFIG;
	}
	return XEXIT_OK;
}

/* --omemo: the account's key store, and the recipients as bare JIDs. */
static int
open_omemo(struct xsend *x, const struct xconfig *cfg)
{
	char *err = NULL;
	size_t i;

	if ((x->omemo = omemo_pep_open(cfg->jid, &err)) == NULL) {
		xerror("%s; nothing sent", err);
		free(err);
		return XEXIT_CONFIG;
	}
	x->bare = xcalloc(x->nrcpt + 1, sizeof(*x->bare));
	for (i = 0; i < x->nrcpt; i++)
		x->bare[i] = jid_bare_of(x->rcpt[i]);
	return 0;
}

/* What sends this run directly rather than through the agent, or NULL. */
static const char *
not_for_agent(const struct xsend *x)
{
	return x->mode == LINES ? "--lines"
	    : x->mode == RAW	? "--raw"
	    : x->rooms		? "--room"
	    : x->receipt	? "--receipt"
	    : x->tee		? "--tee"
	    : x->nuploads > 0	? "--upload"
				: NULL;
}

/*
 * --agent: hands the message to the agent, starting one when none runs
 * (the password is read only then).  Returns 1 when that settled the run
 * (*rc; in the agent process: its own code once it has stopped), or 0 to
 * log in directly.
 */
static int
via_agent(struct xsend *x, struct xconfig *cfg, int *rc)
{
	struct agent_request rq;
	struct agent_client *c;
	enum agent_way way;
	const char *why;
	int is_agent;

	if ((why = not_for_agent(x)) != NULL) {
		xdebug(
		    1, "%s: logging in directly, not through the agent", why);
		return 0;
	}
	if ((c = agent_client_new(cfg)) == NULL)
		return 0;
	memset(&rq, 0, sizeof(rq));
	rq.idle_ms = cfg->agent_ms;
	rq.type = (char *)x->type;
	rq.body = x->body;
	rq.subject = x->subject;
	rq.thread = x->thread;
	rq.url = x->url;
	rq.id = x->id;
	rq.no_store = x->no_store;
	rq.rcpt = x->rcpt;
	rq.nrcpt = x->nrcpt;
	way = agent_submit(c, &rq, timeout_ms(x), rc);
	if (way == AGENT_START) {
		*rc = xtool_account(cfg, &x->password);
		x->account_read = *rc == XEXIT_OK;
		way = !x->account_read ? AGENT_DONE
				       : agent_start(c, x->password, &rq,
					     timeout_ms(x), rc, &is_agent);
	}
	agent_client_free(c);
	return way == AGENT_DONE;
}

/* Creates the session, the rooms and the outbox, and hooks them up. */
static int
start_session(struct xsend *x, struct xconfig *cfg)
{
	static const struct outbox_window window = { MAX_PENDING, MAX_BARRIERS,
		BARRIER_EVERY };
	struct jid me;
	const char *why;
	size_t i;
	int rc;

	if (x->rooms) {
		if (x->nick == NULL && jid_parse(cfg->jid, &me, &why) == 0) {
			x->nick = xstrdup(me.local ? me.local : me.domain);
			jid_free(&me);
		}
		x->room = xcalloc(x->nrcpt, sizeof(*x->room));
		for (i = 0; i < x->nrcpt; i++)
			x->room[i] = muc_room_new(x->rcpt[i], x->nick,
			    x->room_password, 0, x->nick_retry ? 8 : 0);
	}
	if ((rc = new_session(x, cfg)) != XEXIT_OK)
		return rc;
	x->ob = outbox_new(&window, release_stanza, on_settled, x);
	output_init(&x->out, x->mode == RAW ? OUT_XML : OUT_TEXT, NULL, 0);
	x->started_ms = util_now_ms();
	if (x->mode == ONE_SHOT)
		session_set_deadline(x->s, timeout_ms(x), on_deadline, x);
	if (x->mode != RAW)
		session_set_reconnect(x->s,
		    x->retries >= 0	      ? (int)x->retries
			: x->mode == ONE_SHOT ? DEFAULT_RETRIES
					      : DEFAULT_STREAM_RETRIES,
		    x->retries >= 0);
	session_add_handler(x->s, "message", NULL, NULL, on_message, x);
	session_add_handler(x->s, "presence", NULL, NULL, on_presence, x);
	session_on_connect(x->s, on_online, x);
	session_on_disconnect(x->s, on_lost, x);
	return XEXIT_OK;
}

/*
 * The final line of a failed run.  After a lost connection it also says
 * how many messages the server confirmed, when not all: the others may or
 * may not have arrived, and a script deciding what to send again needs to
 * know.
 */
static void
say_why(struct xsend *x)
{
	const char *why = session_error(x->s);
	size_t added = outbox_added(x->ob), confirmed = outbox_confirmed(x->ob);
	char count[96];

	if (x->losses == 0 || confirmed >= added) {
		if (why)
			xerror("%s", why);
		return;
	}
	snprintf(count, sizeof(count), "%zu of %zu message%s confirmed",
	    confirmed, added, added == 1 ? "" : "s");
	if (why)
		xerror("%s; %s", why, count);
	else
		xerror("%s", count);
}

/*
 * --print-config: the xmpptools config equivalent to the sendxmpp or
 * go-sendxmpp one read, with the command line's settings (common/migrate.c);
 * nothing is sent.
 */
static int
print_config(struct xsend *x, const struct xconfig *cfg, int argc)
{
	char *err = NULL, *out;
	int rc;

	if (argc > 0 || x->ntaken > 0 || x->nrcpt_files > 0)
		return xtool_usage("--print-config sends nothing: no "
				   "recipients");
	if ((rc = migrate_write_config(cfg, x->config_out, &err)) != XEXIT_OK) {
		xerror("%s", err);
		free(err);
		return rc;
	}
	if (x->config_out) {
		out = text_escape_dup(x->config_out, strlen(x->config_out));
		xnote("wrote %s (mode 0600); move it to "
		      "~/.config/xmpptools/config",
		    out);
		free(out);
	}
	return XEXIT_OK;
}

/* True when the message comes from standard input, not -m or -f FILE. */
static int
body_from_stdin(const struct xsend *x)
{
	if (x->mode != ONE_SHOT)
		return 1;
	return x->message == NULL &&
	    (x->file == NULL || strcmp(x->file, "-") == 0);
}

/* The JIDs of one --rcpt-file list, appended to x->listed. */
static int
read_rcpt_file(struct xsend *x, const char *path)
{
	const char *name = "standard input";
	char *err = NULL, *where;
	struct buf b;
	int fd = STDIN_FILENO, r, rc = XEXIT_USAGE;

	if (strcmp(path, "-") != 0) {
		name = path;
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			where = text_escape_dup(path, strlen(path));
			xerror("--rcpt-file: %s: %s; nothing sent", where,
			    strerror(errno));
			free(where);
			return XEXIT_USAGE;
		}
	}
	buf_init(&b);
	r = util_read_all(fd, &b, 1 << 20);
	if (fd != STDIN_FILENO)
		close(fd);
	where = text_escape_dup(name, strlen(name));
	if (r != 0)
		xerror("--rcpt-file: %s: %s; nothing sent", where,
		    r == -1 ? strerror(errno) : "larger than 1 MiB");
	else if (migrate_rcpt_list(b.data ? b.data : "", b.len, where, x->rooms,
		     &x->listed, &x->nlisted, &err) < 0)
		xerror("%s; nothing sent", err);
	else
		rc = 0;
	free(err);
	free(where);
	buf_free(&b);
	return rc;
}

/* Every --rcpt-file, in order: 0, or the exit code (nothing is sent). */
static int
read_rcpt_files(struct xsend *x)
{
	size_t i;
	int rc, stdin_lists = 0;

	if (x->nrcpt_files > 0 && x->mode == RAW)
		return xtool_usage("--raw takes no recipients: the stanzas "
				   "say where they go");
	for (i = 0; i < x->nrcpt_files; i++)
		if (strcmp(x->rcpt_files[i], "-") == 0)
			stdin_lists++;
	if (stdin_lists > 1)
		return xtool_usage("--rcpt-file -: standard input is read "
				   "once");
	if (stdin_lists > 0 && body_from_stdin(x))
		return xtool_usage("--rcpt-file -: standard input carries the "
				   "message; give it with -m or -f FILE");
	for (i = 0; i < x->nrcpt_files; i++)
		if ((rc = read_rcpt_file(x, x->rcpt_files[i])) != 0)
			return rc;
	return 0;
}

static int
xsend_run(void *state, struct xconfig *cfg, int argc, const char **argv)
{
	struct xsend *x = state;
	char *err = NULL;
	int rc;

	x->cfg = cfg;
	if (x->print_config)
		return print_config(x, cfg, argc);
	if ((rc = read_rcpt_files(x)) != 0)
		return rc;
	if (x->ntaken > 0 || x->nlisted > 0) {
		/* The recipients popt took as the value of --agent first,
		 * then those of the lists, then the arguments. */
		x->argv = xcalloc(
		    x->ntaken + x->nlisted + (size_t)argc + 1, sizeof(*argv));
		/* memcpy() takes no NULL source, even for no bytes. */
		if (x->ntaken)
			memcpy(x->argv, x->taken, x->ntaken * sizeof(*argv));
		if (x->nlisted)
			memcpy(x->argv + x->ntaken, x->listed,
			    x->nlisted * sizeof(*argv));
		if (argc)
			memcpy(x->argv + x->ntaken + x->nlisted, argv,
			    (size_t)argc * sizeof(*argv));
		argv = x->argv;
		argc += (int)(x->ntaken + x->nlisted);
	}
	if ((rc = check_args(x, argc)) != 0)
		return rc;
	if (x->mode != RAW && (rc = parse_rcpts(x, argc, argv)) != 0)
		return rc;
	if ((rc = check_texts(x, cfg)) != 0)
		return rc;
	if (x->nuploads > 0 && (rc = check_uploads(x)) != 0)
		return rc;
	if (cfg->omemo && (rc = open_omemo(x, cfg)) != 0)
		return rc;
	if (x->mode == ONE_SHOT && x->body[0] == '\0' && !x->url &&
	    x->nuploads == 0 && (x->subject == NULL || !*x->subject)) {
		xnote("empty message: nothing sent");
		return XEXIT_OK;
	}
	if (x->type == NULL)
		x->type = "chat";
	if (x->rooms && x->room_password == NULL &&
	    (rc = config_room_password(
		 cfg, &x->room_pw, &x->room_password, &err)) != XEXIT_OK) {
		xerror("%s", err);
		free(err);
		return rc;
	}
	if (cfg->agent_ms > 0 && via_agent(x, cfg, &rc))
		return rc;
	if ((rc = start_session(x, cfg)) != XEXIT_OK)
		return rc;
	rc = session_run(x->s);
	if (rc != XEXIT_OK)
		say_why(x);
	return rc;
}

/* Everything of the tool; the outbox and the reader hold stanzas of the
 * session's context: first them. */
static void
xsend_end(void *state)
{
	struct xsend *x = state;
	size_t i;

	outbox_free(x->ob);
	x->ob = NULL;
	reader_free(x->reader);
	x->reader = NULL;
	session_free(x->s);
	x->s = NULL;
	output_free(&x->out);
	for (i = 0; i < x->nrcpt; i++) {
		free(x->rcpt[i]);
		if (x->room)
			muc_room_free(x->room[i]);
	}
	free(x->rcpt);
	free(x->room);
	for (i = 0; x->bare && x->bare[i]; i++)
		free(x->bare[i]);
	free(x->bare);
	omemo_pep_release();
	omemo_close(x->omemo);
	for (i = 0; i < x->ntaken; i++)
		free(x->taken[i]);
	free(x->taken);
	for (i = 0; i < x->nrcpt_files; i++)
		free(x->rcpt_files[i]);
	free(x->rcpt_files);
	for (i = 0; i < x->nlisted; i++)
		free(x->listed[i]);
	free(x->listed);
	for (i = 0; i < x->nuploads; i++) {
		free(x->uploads[i]);
		free(x->uget ? x->uget[i] : NULL);
	}
	free(x->uploads);
	free(x->uget);
	free(x->usize);
	free(x->service);
	free(x->config_out);
	free(x->argv);
	util_secure_free(x->password);
	free(x->message);
	free(x->file);
	free(x->subject);
	free(x->thread);
	free(x->url);
	free(x->id);
	free(x->nick);
	util_secure_free(x->room_password);
	config_room_password_free(&x->room_pw);
	free(x->body);
	buf_free(&x->in);
}

int
main(int argc, char **argv)
{
	struct xsend x;
	struct xtool tool;

	memset(&x, 0, sizeof(x));
	x.delim = '\n';
	x.retries = -1;
	config_room_password_init(&x.room_pw);
	buf_init(&x.in);
	memset(&tool, 0, sizeof(tool));
	tool.name = "xsend";
	tool.args_help = "[OPTION...] JID...";
	tool.options = options;
	tool.option = xsend_option;
	tool.run = xsend_run;
	tool.end = xsend_end;
	tool.state = &x;
	return xtool_main(&tool, argc, argv);
}
