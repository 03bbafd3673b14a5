/* SPDX-License-Identifier: MIT */
/* migrate.c -- sendxmpp's and go-sendxmpp's files: configs and alert lists */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "jid.h"
#include "migrate.h"
#include "text.h"
#include "util.h"
#include "xmpptools.h"

/* The settings of a sendxmpp or go-sendxmpp file, borrowed from its text,
 * with the line each came from (0: not given). */
enum field {
	F_USER,
	F_SERVER,
	F_PORT,
	F_PASSWORD,
	F_EVAL,
	F_RESOURCE,
	F_COMPONENT,
	NFIELDS
};

struct legacy {
	const char *value[NFIELDS];
	int line[NFIELDS];
};

static const char *const field_names[NFIELDS] = { "username", "jserver", "port",
	"password", "eval_password", "resource", "component" };

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* A key with no xmpptools equivalent: one notice, then it is skipped. */
static void
ignored(const char *where, int lineno, const char *key)
{
	char *k = text_escape_dup(key, strlen(key));

	if (strcasecmp(key, "alias") == 0)
		xnote("%s:%d: 'alias' ignored (xsend --nick names you in "
		      "rooms)",
		    where, lineno);
	else
		xnote("%s:%d: '%s' ignored (no xmpptools equivalent)", where,
		    lineno, k);
	free(k);
}

/* "key: value": stores a known key in 'l'. */
static void
key_line(struct legacy *l, char *s, const char *where, int lineno)
{
	char *colon = strchr(s, ':');
	int i;

	*colon = '\0';
	for (i = 0; i < NFIELDS; i++) {
		if (strcasecmp(trim(s), field_names[i]) == 0) {
			l->value[i] = trim(colon + 1);
			l->line[i] = lineno;
			return;
		}
	}
	ignored(where, lineno, trim(s));
}

/* sendxmpp's old line "user@server[:port] password [component]". */
static int
old_line(
    struct legacy *l, char *s, const char *where, int lineno, char **errstr)
{
	char *user = s, *pw, *comp, *colon;

	pw = s + strcspn(s, " \t");
	if (*pw == '\0') {
		*errstr = xasprintf("%s:%d: expected 'user@server password' "
				    "or 'key: value'",
		    where, lineno);
		return -1;
	}
	*pw++ = '\0';
	pw += strspn(pw, " \t");
	comp = pw + strcspn(pw, " \t");
	if (*comp != '\0') {
		*comp++ = '\0';
		comp = trim(comp);
		if (*comp != '\0') {
			l->value[F_COMPONENT] = comp;
			l->line[F_COMPONENT] = lineno;
		}
	}
	/* The server part may carry the port. */
	colon = strchr(strchr(user, '@'), ':');
	if (colon != NULL) {
		*colon = '\0';
		l->value[F_PORT] = colon + 1;
		l->line[F_PORT] = lineno;
	}
	colon = strchr(user, '@');
	*colon = '\0';
	l->value[F_USER] = user;
	l->value[F_SERVER] = colon + 1;
	l->value[F_PASSWORD] = pw;
	l->line[F_USER] = l->line[F_SERVER] = l->line[F_PASSWORD] = lineno;
	return 0;
}

/* Sets 'key' from the field 'f' of 'l', if given. */
static int
put(struct xconfig *c, const char *key, const struct legacy *l, enum field f,
    const char *value, const char *where, char **errstr)
{
	char *err = NULL;

	if (value == NULL)
		return 0;
	if (config_set(c, key, value, 1, &err) < 0) {
		*errstr = xasprintf(
		    "%s:%d: %s: %s", where, l->line[f], field_names[f], err);
		free(err);
		return -1;
	}
	return 0;
}

/* The account of 'l' as xmpptools keys. */
static int
apply(
    struct xconfig *c, const struct legacy *l, const char *where, char **errstr)
{
	const char *user = l->value[F_USER], *server = l->value[F_SERVER];
	const char *comp = l->value[F_COMPONENT], *host = server;
	char *jid = NULL;
	int rc = -1;

	if (user && strchr(user, '@') == NULL) {
		if (server == NULL && comp == NULL) {
			*errstr = xasprintf("%s:%d: username without "
					    "jserver: no JID",
			    where, l->line[F_USER]);
			return -1;
		}
		/* sendxmpp: the localpart; the domain is the component,
		 * else the server itself (then no separate host). */
		jid = xasprintf("%s@%s", user, comp ? comp : server);
		host = comp ? server : NULL;
	} else if (user) {
		jid = xstrdup(user);
	}
	if (put(c, "jid", l, F_USER, jid, where, errstr) < 0 ||
	    put(c, "host", l, F_SERVER, host, where, errstr) < 0 ||
	    put(c, "port", l, F_PORT, l->value[F_PORT], where, errstr) < 0 ||
	    put(c, "resource", l, F_RESOURCE, l->value[F_RESOURCE], where,
		errstr) < 0 ||
	    put(c, "password-cmd", l, F_EVAL, l->value[F_EVAL], where, errstr) <
		0 ||
	    put(c, "password", l, F_PASSWORD, l->value[F_PASSWORD], where,
		errstr) < 0)
		goto out;
	rc = 0;
out:
	free(jid);
	return rc;
}

int
migrate_parse(struct xconfig *c, char *text, const char *where, char **errstr)
{
	struct legacy l;
	char *p = text, *next, *s;
	size_t word;
	int lineno = 0;

	memset(&l, 0, sizeof(l));
	for (; p && *p; p = next) {
		lineno++;
		next = strchr(p, '\n');
		if (next)
			*next++ = '\0';
		s = trim(p);
		if (*s == '\0' || *s == '#')
			continue;
		word = strspn(s,
		    "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");
		if (word > 0 && s[word] == ':') {
			key_line(&l, s, where, lineno);
		} else if (memchr(s, '@', strcspn(s, " \t")) != NULL) {
			if (old_line(&l, s, where, lineno, errstr) < 0)
				return -1;
		} else {
			*errstr = xasprintf("%s:%d: expected 'key: value' or "
					    "'user@server password'",
			    where, lineno);
			return -1;
		}
	}
	return apply(c, &l, where, errstr);
}

/* Appends "key = value" to 'b', quoting the value when the file format
 * needs it (spaces at the ends, a leading quote, or nothing). */
static void
add_key(struct buf *b, const char *key, const char *value)
{
	size_t n = strlen(value);
	const char *p;

	buf_printf(b, "%s = ", key);
	if (n > 0 && value[0] != '"' && value[0] != ' ' && value[0] != '\t' &&
	    value[n - 1] != ' ' && value[n - 1] != '\t') {
		buf_printf(b, "%s\n", value);
		return;
	}
	buf_addc(b, '"');
	for (p = value; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_addc(b, '\\');
		buf_addc(b, *p);
	}
	buf_adds(b, "\"\n");
}

char *
migrate_render(const struct xconfig *c, const char *from, int with_password)
{
	struct buf b;

	buf_init(&b);
	buf_printf(&b,
	    "# xmpptools configuration (see xmpptools.conf(5)), written by\n"
	    "# xsend --print-config from %s.\n"
	    "# Install it as ~/.config/xmpptools/config, mode 0600.\n",
	    from);
	if (c->jid)
		add_key(&b, "jid", c->jid);
	if (c->host)
		add_key(&b, "host", c->host);
	if (c->port)
		buf_printf(&b, "port = %lu\n", c->port);
	if (c->direct_tls)
		buf_adds(&b, "direct-tls = yes\n");
	if (c->cafile)
		add_key(&b, "cafile", c->cafile);
	if (c->capath)
		add_key(&b, "capath", c->capath);
	if (c->tls_pin)
		add_key(&b, "tls-pin", c->tls_pin);
	if (c->resource)
		add_key(&b, "resource", c->resource);
	if (c->password_cmd)
		add_key(&b, "password-cmd", c->password_cmd);
	if (c->password && with_password)
		add_key(&b, "password", c->password);
	else if (c->password)
		buf_adds(&b,
		    "# password: not written to standard output.  Use\n"
		    "# xsend --print-config=FILE (a new file of mode 0600),\n"
		    "# or password-file = FILE, or password-cmd = COMMAND.\n");
	return buf_steal(&b);
}

/* Writes 'text' into the new file 'path' of mode 0600. */
static int
write_new(const char *path, const char *text, char **errstr)
{
	size_t len = strlen(text), done = 0;
	ssize_t w;
	char *esc = text_escape_dup(path, strlen(path));
	int fd, rc = XEXIT_CONFIG;

	fd = open(
	    path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		*errstr = xasprintf("%s: %s%s", esc, strerror(errno),
		    errno == EEXIST ? " (never replaced: choose a new name)"
				    : "");
		goto out;
	}
	while (done < len) {
		w = write(fd, text + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			*errstr = xasprintf("%s: %s", esc, strerror(errno));
			close(fd);
			unlink(path);
			goto out;
		}
		done += (size_t)w;
	}
	if (close(fd) < 0) {
		*errstr = xasprintf("%s: %s", esc, strerror(errno));
		unlink(path);
		goto out;
	}
	rc = XEXIT_OK;
out:
	free(esc);
	return rc;
}

int
migrate_write_config(const struct xconfig *c, const char *file, char **errstr)
{
	char *text, *from;
	int rc = XEXIT_OK;

	if (c->migrated_from == NULL) {
		*errstr =
		    xasprintf("--print-config: no sendxmpp or go-sendxmpp "
			      "configuration in use (%s)",
			c->loaded_from ? "an xmpptools configuration is read"
				       : "none found");
		return XEXIT_CONFIG;
	}
	from = text_escape_dup(c->migrated_from, strlen(c->migrated_from));
	text = migrate_render(c, from, file != NULL);
	if (file != NULL) {
		rc = write_new(file, text, errstr);
	} else if (fputs(text, stdout) == EOF || fflush(stdout) == EOF) {
		*errstr = xasprintf("standard output: %s", strerror(errno));
		rc = XEXIT_FAILURE;
	}
	util_secure_free(text);
	free(from);
	return rc;
}

/* Checks one recipient of an alert list; 0, or -1 with *errstr. */
static int
check_rcpt(
    const char *s, const char *where, int lineno, int rooms, char **errstr)
{
	const char *why = NULL;
	struct jid j;
	char *esc;
	int bad;

	bad = jid_parse(s, &j, &why) < 0;
	if (!bad && rooms && (j.resource || !j.local))
		why = "not a room JID (room@service)";
	jid_free(&j);
	if (why == NULL)
		return 0;
	esc = text_escape_dup(s, strlen(s));
	*errstr =
	    xasprintf("%s:%d: invalid JID '%s': %s", where, lineno, esc, why);
	free(esc);
	return -1;
}

int
migrate_rcpt_list(const char *text, size_t len, const char *where, int rooms,
    char ***list, size_t *n, char **errstr)
{
	const char *p = text, *end = text + len, *nl;
	char *line, *s;
	int lineno = 0;

	for (; p < end; p = nl + 1) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (memchr(p, '\0', (size_t)(nl - p)) != NULL) {
			*errstr = xasprintf(
			    "%s:%d: invalid JID: a NUL byte", where, lineno);
			return -1;
		}
		line = xstrndup(p, (size_t)(nl - p));
		s = trim(line);
		if (*s != '\0' && *s != '#') {
			if (check_rcpt(s, where, lineno, rooms, errstr) < 0) {
				free(line);
				return -1;
			}
			*list = xrealloc(*list, (*n + 1) * sizeof(**list));
			(*list)[(*n)++] = xstrdup(s);
		}
		free(line);
	}
	return 0;
}
