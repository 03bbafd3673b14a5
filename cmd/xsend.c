/* SPDX-License-Identifier: MIT */
/* xsend.c -- send messages; exit 0 only when the server has every one */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <popt.h>
#include <strophe.h>

#include "config.h"
#include "jid.h"
#include "options.h"
#include "session.h"
#include "stanza.h"
#include "text.h"
#include "util.h"
#include "xmpptools.h"

enum {
	OPT_MESSAGE = 1,
	OPT_FILE,
	OPT_TYPE,
	OPT_SUBJECT,
	OPT_THREAD,
	OPT_SANITIZE,
	OPT_MAX_SIZE
};

struct recipient {
	char *jid;
	char *id;	/* of the message sent to it */
};

struct xsend {
	/* options */
	char *message;
	char *file;
	const char *type;
	char *subject;
	char *thread;
	int sanitize;

	/* the run */
	char *body;
	struct recipient *rcpt;
	size_t nrcpt;
	size_t bounced;
	struct session *s;
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
	{ "sanitize", '\0', POPT_ARG_NONE, NULL, OPT_SANITIZE,
	    "Replace what XML cannot carry (invalid UTF-8, control "
	    "characters) with U+FFFD instead of refusing the input",
	    NULL },
	{ "max-size", '\0', POPT_ARG_STRING, NULL, OPT_MAX_SIZE,
	    "Refuse a body larger than BYTES (default 65536)", "BYTES" },
	XOPT_COMMON_TABLE
	POPT_AUTOHELP
	POPT_TABLEEND
};

static int
xsend_option(void *state, struct xconfig *cli, int val, const char *arg,
    char **errstr)
{
	struct xsend *x = state;
	char *err = NULL;

	switch (val) {
	case OPT_MESSAGE:
		free(x->message);
		x->message = xstrdup(arg);
		break;
	case OPT_FILE:
		free(x->file);
		x->file = xstrdup(arg);
		break;
	case OPT_TYPE:
		if (strcmp(arg, "chat") == 0 || strcmp(arg, "normal") == 0 ||
		    strcmp(arg, "headline") == 0) {
			x->type = strcmp(arg, "chat") == 0 ? "chat" :
			    strcmp(arg, "normal") == 0	   ? "normal" :
							     "headline";
			break;
		}
		*errstr = xasprintf("--type: '%s' is not chat, normal or "
				    "headline",
		    arg);
		return -1;
	case OPT_SUBJECT:
		free(x->subject);
		x->subject = xstrdup(arg);
		break;
	case OPT_THREAD:
		free(x->thread);
		x->thread = xstrdup(arg);
		break;
	case OPT_SANITIZE:
		x->sanitize = 1;
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
}

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
		xdebug(1, "%s: replaced %zu invalid characters", what,
		    replaced);
		return 0;
	}
	if (p == TEXT_BAD_UTF8)
		xerror("%s: invalid UTF-8 at byte %zu (byte 0x%02x); "
		       "nothing sent (--sanitize replaces it)",
		    what, offset, (unsigned)cp);
	else
		xerror("%s: character U+%04X at byte %zu cannot be sent in "
		       "XML; nothing sent (--sanitize replaces it)",
		    what, (unsigned)cp, offset);
	return XEXIT_USAGE;
}

/*
 * Reads the body from -m, -f or standard input.  Returns 0, or the exit
 * code after an error line.
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
	while (b.len > 0 && (b.data[b.len - 1] == '\n' ||
				b.data[b.len - 1] == '\r'))
		b.data[--b.len] = '\0';
	if (b.data && memchr(b.data, '\0', b.len) != NULL && !x->sanitize) {
		xerror("%s: NUL byte at byte %zu cannot be sent in XML; "
		       "nothing sent (--sanitize replaces it)",
		    name, (size_t)((char *)memchr(b.data, '\0', b.len) - b.data));
		buf_free(&b);
		return XEXIT_USAGE;
	}
	if (b.data && memchr(b.data, '\0', b.len) != NULL) {
		size_t i;

		/* --sanitize: a NUL becomes U+FFFD like any control. */
		for (i = 0; i < b.len; i++)
			if (b.data[i] == '\0')
				b.data[i] = '\x01';
	}
	x->body = buf_steal(&b);
	return 0;
}

static struct recipient *
find_recipient(struct xsend *x, const char *id)
{
	size_t i;

	if (id == NULL)
		return NULL;
	for (i = 0; i < x->nrcpt; i++)
		if (x->rcpt[i].id && strcmp(x->rcpt[i].id, id) == 0)
			return &x->rcpt[i];
	return NULL;
}

/* A <message type='error'/> for one of ours: the recipient is refused. */
static int
on_bounce(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct xsend *x = ud;
	struct recipient *r = find_recipient(x, xmpp_stanza_get_id(st));
	char *cond, *text;
	struct buf b;

	(void)s;
	if (r == NULL)
		return 1;
	stanza_error_info(st, &cond, &text);
	buf_init(&b);
	if (text) {
		buf_adds(&b, ": ");
		text_escape(&b, text, strlen(text));
	}
	xerror("%s: %s%s", r->jid, cond, b.data ? b.data : "");
	buf_free(&b);
	free(cond);
	free(text);
	free(r->id);
	r->id = NULL; /* one report per message */
	x->bounced++;
	return 1;
}

static void
on_confirmed(struct session *s, void *ud)
{
	struct xsend *x = ud;

	session_finish(s, x->bounced ? XEXIT_REJECTED : XEXIT_OK);
}

static void
on_online(struct session *s, void *ud)
{
	struct xsend *x = ud;
	struct msg_spec m;
	xmpp_stanza_t *st;
	size_t i;

	memset(&m, 0, sizeof(m));
	m.type = x->type;
	m.body = x->body[0] ? x->body : NULL;
	m.subject = x->subject;
	m.thread = x->thread;
	for (i = 0; i < x->nrcpt; i++) {
		free(x->rcpt[i].id);
		x->rcpt[i].id = session_new_id(s);
		m.to = x->rcpt[i].jid;
		m.id = x->rcpt[i].id;
		st = stanza_message(session_ctx(s), &m);
		session_send(s, st);
		xmpp_stanza_release(st);
		xdebug(1, "sent to %s (id %s)", m.to, m.id);
	}
	session_set_phase(s, "waiting for the server to confirm the messages");
	session_barrier(s, on_confirmed, x);
}

static int
xsend_run(void *state, struct xconfig *cfg, int argc, const char **argv)
{
	struct xsend *x = state;
	char *password = NULL, *err = NULL;
	const char *why;
	struct jid j;
	int i, rc;

	if (argc == 0) {
		xerror("no recipient given");
		fprintf(stderr, "Try 'xsend --help' for more information.\n");
		return XEXIT_USAGE;
	}
	if (x->message && x->file) {
		xerror("--message and --file exclude each other");
		return XEXIT_USAGE;
	}
	x->rcpt = xcalloc((size_t)argc, sizeof(*x->rcpt));
	for (i = 0; i < argc; i++) {
		if (jid_parse(argv[i], &j, &why) < 0) {
			xerror("invalid JID '%s': %s; nothing sent", argv[i],
			    why);
			return XEXIT_USAGE;
		}
		x->rcpt[x->nrcpt++].jid = jid_full(&j);
		jid_free(&j);
	}
	if ((rc = read_body(x, cfg)) != 0)
		return rc;
	if ((rc = check_text(x, "message", &x->body)) != 0)
		return rc;
	if (x->subject && (rc = check_text(x, "--subject", &x->subject)) != 0)
		return rc;
	if (x->thread && (rc = check_text(x, "--thread", &x->thread)) != 0)
		return rc;
	if (strlen(x->body) > cfg->max_size) {
		/* --sanitize writes U+FFFD (3 bytes) for each bad byte. */
		xerror("message is larger than %lu bytes once cleaned "
		       "(--max-size); nothing sent",
		    cfg->max_size);
		return XEXIT_USAGE;
	}
	if (x->body[0] == '\0' && (x->subject == NULL || !*x->subject)) {
		xnote("empty message: nothing sent");
		return XEXIT_OK;
	}

	if ((rc = xtool_account(cfg, &password)) != XEXIT_OK)
		return rc;
	x->s = session_new(cfg, password, &err);
	util_secure_free(password);
	if (x->s == NULL) {
		xerror("%s", err);
		free(err);
		return XEXIT_CONFIG;
	}
	session_set_deadline(x->s,
	    cfg->timeout_ms ? cfg->timeout_ms : XT_DEFAULT_TIMEOUT_MS, NULL,
	    NULL);
	session_add_handler(x->s, "message", "error", NULL, on_bounce, x);
	session_on_connect(x->s, on_online, x);
	rc = session_run(x->s);
	if (rc != XEXIT_OK && session_error(x->s))
		xerror("%s", session_error(x->s));
	return rc;
}

static void
xsend_free(struct xsend *x)
{
	size_t i;

	session_free(x->s);
	for (i = 0; i < x->nrcpt; i++) {
		free(x->rcpt[i].jid);
		free(x->rcpt[i].id);
	}
	free(x->rcpt);
	free(x->message);
	free(x->file);
	free(x->subject);
	free(x->thread);
	free(x->body);
}

int
main(int argc, char **argv)
{
	struct xsend x;
	struct xtool tool;
	int rc;

	memset(&x, 0, sizeof(x));
	x.type = "chat";
	memset(&tool, 0, sizeof(tool));
	tool.name = "xsend";
	tool.args_help = "[OPTION...] JID...";
	tool.options = options;
	tool.option = xsend_option;
	tool.run = xsend_run;
	tool.state = &x;
	rc = xtool_main(&tool, argc, argv);
	xsend_free(&x);
	return rc;
}
