/* SPDX-License-Identifier: MIT */
/* config.c -- settings: the config file, its accounts, and password sources */

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "config.h"
#include "exec.h"
#include "jid.h"
#include "migrate.h"
#include "text.h"
#include "truststore.h"
#include "util.h"
#include "xmpptools.h"

enum ktype {
	K_STR, /* any text */
	K_JID, /* a JID, checked */
	K_PORT, /* 1..65535 */
	K_FLAG, /* on/off; NULL from the command line means on */
	K_SECONDS, /* positive duration */
	K_FD, /* a file descriptor number */
	K_SIZE, /* bytes */
	K_PIN, /* certificate pin */
	K_COUNT, /* repeated flag: each use adds one */
	K_RESOURCE, /* a JID resourcepart, checked */
	K_AGENT /* yes/no, or the seconds the agent stays (xsend) */
};

enum kwhere { BOTH, FILE_ONLY, CLI_ONLY };

struct key {
	const char *name;
	enum ktype type;
	size_t off;
	enum kwhere where;
};

#define F(field) offsetof(struct xconfig, field)

/* Every key; its index is its bit in xconfig.set. */
static const struct key keys[] = {
	{ "jid", K_JID, F(jid), BOTH },
	{ "host", K_STR, F(host), BOTH },
	{ "port", K_PORT, F(port), BOTH },
	{ "direct-tls", K_FLAG, F(direct_tls), BOTH },
	{ "cafile", K_STR, F(cafile), BOTH },
	{ "capath", K_STR, F(capath), BOTH },
	{ "tls-pin", K_PIN, F(tls_pin), BOTH },
	{ "insecure", K_FLAG, F(insecure), BOTH },
	{ "client-cert", K_STR, F(client_cert), BOTH },
	{ "client-key", K_STR, F(client_key), BOTH },
	{ "resource", K_RESOURCE, F(resource), BOTH },
	{ "timeout", K_SECONDS, F(timeout_ms), BOTH },
	{ "password-file", K_STR, F(password_file), BOTH },
	{ "password-fd", K_FD, F(password_fd), CLI_ONLY },
	{ "password-cmd", K_STR, F(password_cmd), BOTH },
	{ "password", K_STR, F(password), FILE_ONLY },
	{ "room-password", K_STR, F(room_password), FILE_ONLY },
	{ "verbose", K_COUNT, F(verbose), BOTH },
	{ "quiet", K_FLAG, F(quiet), BOTH },
	{ "max-size", K_SIZE, F(max_size), BOTH },
	{ "max-stanza", K_SIZE, F(max_stanza), BOTH },
	{ "agent", K_AGENT, F(agent_ms), BOTH },
	{ "omemo", K_FLAG, F(omemo), BOTH },
	{ "config", K_STR, F(config_file), CLI_ONLY },
	{ "account", K_STR, F(account), CLI_ONLY },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

extern char **environ;

static char *env_password;

/* True when 'k' holds a secret: its old values are wiped, not only freed. */
static int
is_secret(const struct key *k)
{
	return k->off == F(password) || k->off == F(room_password);
}

/* Frees the string field 'p' of key 'k' (wiping a secret) and clears it. */
static void
release(const struct key *k, char **p)
{
	if (is_secret(k))
		util_secure_free(*p);
	else
		free(*p);
	*p = NULL;
}

void
config_init(struct xconfig *c)
{
	memset(c, 0, sizeof(*c));
	c->password_fd = -1;
	c->max_size = XT_DEFAULT_MAX_SIZE;
	c->max_stanza = XT_DEFAULT_MAX_STANZA;
}

long
config_timeout_ms(const struct xconfig *c)
{
	return c->timeout_ms > 0 ? c->timeout_ms : XT_DEFAULT_TIMEOUT_MS;
}

void
config_free(struct xconfig *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < NKEYS; i++) {
		char **p = (char **)((char *)c + keys[i].off);

		switch (keys[i].type) {
		case K_STR:
		case K_JID:
		case K_PIN:
		case K_RESOURCE:
			release(&keys[i], p);
			break;
		default:
			break;
		}
	}
	free(c->loaded_from);
	c->loaded_from = NULL;
	free(c->migrated_from);
	c->migrated_from = NULL;
}

static const struct key *
find_key(const char *name, size_t *index)
{
	char norm[64];
	size_t i;

	if (strlen(name) >= sizeof(norm))
		return NULL;
	for (i = 0; name[i]; i++)
		norm[i] = name[i] == '_' ? '-' : name[i];
	norm[i] = '\0';
	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, norm) == 0) {
			if (index)
				*index = i;
			return &keys[i];
		}
	return NULL;
}

static int
parse_flag(const char *v, int *out)
{
	if (v == NULL || strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0 ||
	    strcasecmp(v, "true") == 0 || strcasecmp(v, "on") == 0)
		*out = 1;
	else if (strcmp(v, "0") == 0 || strcasecmp(v, "no") == 0 ||
	    strcasecmp(v, "false") == 0 || strcasecmp(v, "off") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

char *
config_pin_normalise(const char *s)
{
	char hex[65];
	size_t n = 0;
	const char *p;

	if (strncmp(s, "sha256//", 8) == 0) {
		unsigned char raw[64];
		size_t len = strlen(s + 8);

		/* 32 bytes are 44 base64 characters with one '=' of padding. */
		if (len != 44 ||
		    EVP_DecodeBlock(
			raw, (const unsigned char *)s + 8, (int)len) != 33)
			return NULL;
		/*
		 * EVP_DecodeBlock() also takes "==" (31 bytes) and '=' inside.
		 * The pin is compared as text: accept only the canonical form.
		 */
		if (strspn(s + 8,
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			"abcdefghijklmnopqrstuvwxyz0123456789+/") != 43 ||
		    s[8 + 43] != '=' ||
		    strchr("AEIMQUYcgkosw048", s[8 + 42]) == NULL)
			return NULL;
		return xstrdup(s);
	}
	for (p = s; *p; p++) {
		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char)*p) || n == 64)
			return NULL;
		hex[n++] = (char)tolower((unsigned char)*p);
	}
	if (n != 64)
		return NULL;
	hex[n] = '\0';
	return xstrdup(hex);
}

/*
 * Checks a resource with the JID rules for resourceparts (jid.c): the
 * resource of "x/VALUE".  Returns 0, or -1 with *why (static).
 */
static int
check_resource(const char *value, const char **why)
{
	struct jid j;
	char *full = xasprintf("x/%s", value);
	int r = jid_parse(full, &j, why);

	jid_free(&j);
	free(full);
	return r;
}

/*
 * Parses and stores 'value' (never NULL but for flags and counts) in the
 * field of 'k'.  'shown' is the value escaped for messages.  Returns 0, or
 * -1 with *errstr.
 */
static int
set_value(struct xconfig *c, const struct key *k, const char *value,
    const char *shown, char **errstr)
{
	void *field = (char *)c + k->off;
	unsigned long ul;
	long l;
	int flag;
	const char *why;
	struct jid j;
	char *s;

	switch (k->type) {
	case K_JID:
		if (jid_parse(value, &j, &why) < 0) {
			*errstr = xasprintf("invalid JID '%s': %s", shown, why);
			return -1;
		}
		jid_free(&j);
		/* FALLTHROUGH */
	case K_RESOURCE:
		if (k->type == K_RESOURCE && *value != '\0' &&
		    check_resource(value, &why) < 0) {
			*errstr =
			    xasprintf("invalid resource '%s': %s", shown, why);
			return -1;
		}
		/* FALLTHROUGH */
	case K_STR:
		if (*value == '\0') {
			*errstr = xstrdup("empty value");
			return -1;
		}
		release(k, (char **)field);
		*(char **)field = xstrdup(value);
		break;
	case K_PIN:
		if ((s = config_pin_normalise(value)) == NULL) {
			*errstr = xasprintf("'%s' is neither a SHA-256 "
					    "fingerprint (64 hex digits) nor "
					    "sha256//BASE64",
			    shown);
			return -1;
		}
		free(*(char **)field);
		*(char **)field = s;
		break;
	case K_PORT:
		if (util_parse_ulong(value, 1, 65535, &ul) < 0) {
			*errstr = xasprintf("invalid port '%s'", shown);
			return -1;
		}
		*(unsigned long *)field = ul;
		break;
	case K_SIZE:
		if (util_parse_ulong(value, 1, 1UL << 30, &ul) < 0) {
			*errstr = xasprintf("invalid size '%s' (bytes, 1 to "
					    "1073741824)",
			    shown);
			return -1;
		}
		*(unsigned long *)field = ul;
		break;
	case K_FD:
		if (util_parse_ulong(value, 0, 65535, &ul) < 0) {
			*errstr =
			    xasprintf("invalid file descriptor '%s'", shown);
			return -1;
		}
		*(long *)field = (long)ul;
		break;
	case K_SECONDS:
		if (util_parse_seconds(value, &l) < 0 || l == 0) {
			*errstr = xasprintf("invalid duration '%s' (seconds, "
					    "more than 0)",
			    shown);
			return -1;
		}
		*(long *)field = l;
		break;
	case K_AGENT:
		/* Seconds (0 is off), or yes (the default time) or no. */
		if (value == NULL || util_parse_seconds(value, &l) < 0) {
			if (parse_flag(value, &flag) < 0) {
				*errstr = xasprintf(
				    "expected yes, no or seconds, not '%s'",
				    shown);
				return -1;
			}
			l = flag ? XT_DEFAULT_AGENT_MS : 0;
		}
		*(long *)field = l;
		break;
	case K_FLAG:
		if (parse_flag(value, &flag) < 0) {
			*errstr =
			    xasprintf("expected yes or no, not '%s'", shown);
			return -1;
		}
		*(int *)field = flag;
		break;
	case K_COUNT:
		if (value == NULL) {
			(*(int *)field)++;
		} else if (util_parse_ulong(value, 0, 9, &ul) == 0) {
			*(int *)field = (int)ul;
		} else {
			*errstr = xasprintf("expected a number from 0 to 9, "
					    "not '%s'",
			    shown);
			return -1;
		}
		break;
	}
	return 0;
}

/* The text of a file, an argument or a value, escaped for a message. */
static char *
shown(const char *s)
{
	return text_escape_dup(s, strlen(s));
}

int
config_set(struct xconfig *c, const char *key, const char *value, int from_file,
    char **errstr)
{
	const struct key *k;
	size_t index;
	char *v;
	int r;

	k = find_key(key, &index);
	if (k == NULL || (from_file && k->where == CLI_ONLY) ||
	    (!from_file && k->where == FILE_ONLY)) {
		v = shown(key);
		*errstr = xasprintf("unknown key '%s'", v);
		free(v);
		return -1;
	}
	if (value == NULL && k->type != K_FLAG && k->type != K_COUNT &&
	    k->type != K_AGENT) {
		*errstr = xstrdup("a value is required");
		return -1;
	}
	/* A secret is never shown: no message of set_value() names it. */
	v = value && !is_secret(k) ? shown(value) : xstrdup("");
	r = set_value(c, k, value, v, errstr);
	free(v);
	if (r < 0)
		return -1;
	c->set |= (uint64_t)1 << index;
	return 0;
}

int
config_is_set(const struct xconfig *c, const char *key)
{
	size_t index;

	return find_key(key, &index) != NULL &&
	    (c->set & ((uint64_t)1 << index)) != 0;
}

int
config_from_cli(const struct xconfig *c, const char *key)
{
	size_t index;

	return find_key(key, &index) != NULL &&
	    (c->cli_set & ((uint64_t)1 << index)) != 0;
}

void
config_merge(struct xconfig *dst, const struct xconfig *src)
{
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		const void *from = (const char *)src + keys[i].off;
		void *to = (char *)dst + keys[i].off;

		if (!(src->set & ((uint64_t)1 << i)))
			continue;
		switch (keys[i].type) {
		case K_STR:
		case K_JID:
		case K_PIN:
		case K_RESOURCE:
			release(&keys[i], (char **)to);
			*(char **)to = xstrdup(*(char *const *)from);
			break;
		case K_PORT:
		case K_SIZE:
			*(unsigned long *)to = *(const unsigned long *)from;
			break;
		case K_FD:
		case K_SECONDS:
		case K_AGENT:
			*(long *)to = *(const long *)from;
			break;
		case K_FLAG:
		case K_COUNT:
			*(int *)to = *(const int *)from;
			break;
		}
		dst->set |= (uint64_t)1 << i;
		dst->cli_set |= (uint64_t)1 << i;
	}
}

/*
 * The file format: '#' or ';' starts a comment line; "[name]" starts the
 * section of an account; "key = value" sets a key.  A value may be written
 * in double quotes, with \" and \\ inside, to keep spaces at its ends.
 */
struct line {
	int lineno;
	char *section; /* borrowed from the file's text; NULL: global */
	char *key;
	char *value;
};

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

static int
unquote(char *v)
{
	char *r = v + 1, *w = v;

	for (; *r && *r != '"'; r++) {
		if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
			r++;
		*w++ = *r;
	}
	if (*r != '"' || r[1] != '\0')
		return -1;
	*w = '\0';
	return 0;
}

/* 'path' is the file's name as messages show it (escaped). */
static int
parse_lines(char *text, const char *path, struct line **out, size_t *nout,
    int *has_password, char **errstr)
{
	struct line *lines = NULL;
	size_t n = 0;
	char *section = NULL, *p = text, *next, *s, *eq;
	int lineno = 0;

	*has_password = 0;
	for (; p && *p; p = next) {
		lineno++;
		next = strchr(p, '\n');
		if (next)
			*next++ = '\0';
		s = trim(p);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');

			if (end == NULL || end[1] != '\0' || end == s + 1) {
				*errstr = xasprintf("%s:%d: malformed section "
						    "header",
				    path, lineno);
				goto fail;
			}
			*end = '\0';
			section = trim(s + 1);
			continue;
		}
		eq = strchr(s, '=');
		if (eq == NULL) {
			*errstr = xasprintf(
			    "%s:%d: expected 'key = value'", path, lineno);
			goto fail;
		}
		*eq = '\0';
		lines = xrealloc(lines, (n + 1) * sizeof(*lines));
		lines[n].lineno = lineno;
		lines[n].section = section;
		lines[n].key = trim(s);
		lines[n].value = trim(eq + 1);
		if (lines[n].value[0] == '"' && unquote(lines[n].value) < 0) {
			*errstr = xasprintf(
			    "%s:%d: unterminated quoted value", path, lineno);
			goto fail;
		}
		if (find_key(lines[n].key, NULL) == NULL ||
		    find_key(lines[n].key, NULL)->where == CLI_ONLY) {
			char *key = shown(lines[n].key);

			*errstr = xasprintf(
			    "%s:%d: unknown key '%s'", path, lineno, key);
			free(key);
			goto fail;
		}
		if (is_secret(find_key(lines[n].key, NULL)))
			*has_password = 1;
		n++;
	}
	*out = lines;
	*nout = n;
	return 0;
fail:
	free(lines);
	return -1;
}

static char *
default_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char *p;

	if (xdg && xdg[0] == '/') {
		p = xasprintf("%s/xmpptools/config", xdg);
		if (access(p, F_OK) == 0)
			return p;
		free(p);
	} else if (home && home[0] == '/') {
		p = xasprintf("%s/.config/xmpptools/config", home);
		if (access(p, F_OK) == 0)
			return p;
		free(p);
	}
	if (access("/etc/xmpptools/config", F_OK) == 0)
		return xstrdup("/etc/xmpptools/config");
	return NULL;
}

/*
 * ssh's rule for a file that says where the password goes, or holds it:
 * owned by the user or by root, and writable by no one else, whatever it
 * holds.  A character device (/dev/null, a terminal) is no one's file.
 * 'label' starts the message, 'where' is the file's name (both escaped).
 * Returns 0, or -1 with *errstr.
 */
static int
check_owner(
    const struct stat *st, const char *label, const char *where, char **errstr)
{
	if (S_ISCHR(st->st_mode))
		return 0;
	if (st->st_uid != getuid() && st->st_uid != 0) {
		*errstr = xasprintf("%s: owned by uid %lu, not by you or root",
		    label, (unsigned long)st->st_uid);
		return -1;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		*errstr = xasprintf("%s: writable by group or others (chmod "
				    "600 %s)",
		    label, where);
		return -1;
	}
	return 0;
}

/*
 * Reads the config file 'path' ('where': its name escaped, for messages)
 * into 'text' and its status into 'st'.  Returns 0, or -1 with *errstr.
 */
static int
read_config(const char *path, const char *where, struct buf *text,
    struct stat *st, char **errstr)
{
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		*errstr = xasprintf("%s: %s", where, strerror(errno));
		return -1;
	}
	/* A regular file, or /dev/null for "no configuration". */
	if (fstat(fd, st) < 0 ||
	    !(S_ISREG(st->st_mode) || strcmp(path, "/dev/null") == 0)) {
		*errstr = xasprintf("%s: not a regular file", where);
		close(fd);
		return -1;
	}
	if (check_owner(st, where, where, errstr) < 0) {
		close(fd);
		return -1;
	}
	if ((r = util_read_all(fd, text, 1 << 20)) != 0) {
		*errstr = xasprintf("%s: %s", where,
		    r == -1 ? strerror(errno) : "larger than 1 MiB");
		close(fd);
		return -1;
	}
	close(fd);
	if (text->data == NULL)
		buf_adds(text, "");
	return 0;
}

/*
 * Sets the keys of the parsed 'lines': first those for every account, then
 * those of the section 'account' (NULL: [default], which may be absent).
 * Returns 0, or -1 with *errstr.
 */
static int
apply_lines(struct xconfig *c, const struct line *lines, size_t n,
    const char *account, const char *where, char **errstr)
{
	const char *want = account ? account : "default";
	int found = 0, pass;
	char *err = NULL, *esc;
	size_t i;

	for (i = 0; i < n; i++)
		if (lines[i].section && strcmp(lines[i].section, want) == 0)
			found = 1;
	if (account && !found) {
		esc = shown(account);
		*errstr = xasprintf("%s: no account '%s'", where, esc);
		free(esc);
		return -1;
	}
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < n; i++) {
			if (pass == 0 && lines[i].section != NULL)
				continue;
			if (pass == 1 &&
			    (lines[i].section == NULL ||
				strcmp(lines[i].section, want) != 0))
				continue;
			if (config_set(
				c, lines[i].key, lines[i].value, 1, &err) < 0) {
				esc = shown(lines[i].key);
				*errstr = xasprintf("%s:%d: %s: %s", where,
				    lines[i].lineno, esc, err);
				free(esc);
				free(err);
				return -1;
			}
		}
	}
	return 0;
}

/*
 * The sendxmpp or go-sendxmpp file to read when there is no xmpptools
 * config (caller frees), with whose it is in *tool; NULL when none exists.
 */
static char *
legacy_path(const char **tool)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char *dir = NULL, *p;
	int i;

	if (xdg && xdg[0] == '/')
		dir = xasprintf("%s/go-sendxmpp", xdg);
	else if (home && home[0] == '/')
		dir = xasprintf("%s/.config/go-sendxmpp", home);
	for (i = 0; dir && i < 2; i++) {
		p = xasprintf("%s/%s", dir, i == 0 ? "config" : "sendxmpprc");
		if (access(p, F_OK) == 0) {
			free(dir);
			*tool = "go-sendxmpp";
			return p;
		}
		free(p);
	}
	free(dir);
	if (home && home[0] == '/') {
		p = xasprintf("%s/.sendxmpprc", home);
		if (access(p, F_OK) == 0) {
			*tool = "sendxmpp";
			return p;
		}
		free(p);
	}
	return NULL;
}

/* Reads the sendxmpp or go-sendxmpp file, if there is one, into 'c'. */
static int
load_legacy(struct xconfig *c, char **errstr)
{
	const char *tool = NULL;
	char *path, *where;
	struct buf text;
	struct stat st;
	int rc = XEXIT_CONFIG;

	if ((path = legacy_path(&tool)) == NULL)
		return XEXIT_OK;
	buf_init(&text);
	where = shown(path);
	if (read_config(path, where, &text, &st, errstr) < 0 ||
	    migrate_parse(c, text.data, where, errstr) < 0)
		goto out;
	if (c->password && (st.st_mode & (S_IRGRP | S_IROTH))) {
		*errstr = xasprintf("%s: holds a password but is readable by "
				    "group or others (chmod 600 %s)",
		    where, where);
		goto out;
	}
	free(c->loaded_from);
	c->loaded_from = xstrdup(path);
	free(c->migrated_from);
	c->migrated_from = xstrdup(path);
	c->migrated_tool = tool;
	rc = XEXIT_OK;
out:
	if (text.data)
		explicit_bzero(text.data, text.len);
	buf_free(&text);
	free(where);
	free(path);
	return rc;
}

int
config_load(
    struct xconfig *c, const char *path, const char *account, char **errstr)
{
	struct line *lines = NULL;
	struct buf text;
	struct stat st;
	size_t n = 0;
	int rc = XEXIT_CONFIG, has_password;
	char *chosen = NULL, *where = NULL, *esc;

	buf_init(&text);
	if (path == NULL && (chosen = default_path()) == NULL) {
		if (account != NULL) {
			esc = shown(account);
			*errstr = xasprintf("account '%s': no configuration "
					    "file found",
			    esc);
			free(esc);
			return XEXIT_CONFIG;
		}
		return load_legacy(c, errstr);
	}
	if (path == NULL)
		path = chosen;
	where = shown(path);
	if (read_config(path, where, &text, &st, errstr) < 0 ||
	    parse_lines(text.data, where, &lines, &n, &has_password, errstr) <
		0)
		goto out;
	if (has_password && (st.st_mode & (S_IRGRP | S_IROTH))) {
		*errstr = xasprintf("%s: holds a password but is readable by "
				    "group or others (chmod 600 %s)",
		    where, where);
		goto out;
	}
	if (apply_lines(c, lines, n, account, where, errstr) < 0)
		goto out;
	free(c->loaded_from);
	c->loaded_from = xstrdup(path);
	rc = XEXIT_OK;
out:
	if (text.data)
		explicit_bzero(text.data, text.len);
	buf_free(&text);
	free(lines);
	free(chosen);
	free(where);
	return rc;
}

int
config_check(const struct xconfig *c, char **errstr)
{
	if (c->jid == NULL) {
		*errstr = xstrdup("no account: give --jid, or jid in the "
				  "configuration file (see xmpptools.conf(5))");
		return XEXIT_CONFIG;
	}
	if (c->insecure && c->tls_pin) {
		*errstr =
		    xstrdup("--insecure and --tls-pin exclude each other");
		return XEXIT_USAGE;
	}
	if (c->client_key && !c->client_cert) {
		*errstr = xstrdup("--client-key needs --client-cert");
		return XEXIT_USAGE;
	}
	return XEXIT_OK;
}

void
config_take_env_password(void)
{
	const char *p = getenv("XMPP_PASSWORD");
	char **e;

	if (p == NULL)
		return;
	util_secure_free(env_password);
	env_password = xstrdup(p);
	/*
	 * unsetenv() only unlinks the entry: its text stays in the block that
	 * /proc/PID/environ shows for the whole run.  Wipe it there first.
	 */
	for (e = environ; *e != NULL; e++)
		if (strncmp(*e, "XMPP_PASSWORD=", 14) == 0)
			explicit_bzero(*e + 14, strlen(*e + 14));
	unsetenv("XMPP_PASSWORD");
}

void
config_forget_password(struct xconfig *c)
{
	util_secure_free(env_password);
	env_password = NULL;
	util_secure_free(c->password);
	c->password = NULL;
}

/* Cuts 's' at its first line end. */
static void
first_line(char *s)
{
	s[strcspn(s, "\r\n")] = '\0';
}

static int read_first_line(int fd, struct buf *b, int64_t deadline);

/*
 * The password sources below return 0 with *pw, or -1 with *errstr, or -3
 * with *errstr when nothing came by the deadline (read_first_line()'s
 * codes; the caller makes that a timeout, 7).
 */
static int
password_from_file(const char *path, int64_t deadline, char **pw, char **errstr)
{
	struct buf b;
	struct stat st;
	int fd, r;
	char *where = shown(path), *label;

	buf_init(&b);
	/* Not blocking: a FIFO opens at once and is read by the deadline. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
		*errstr =
		    xasprintf("password file %s: %s", where, strerror(errno));
		free(where);
		return -1;
	}
	label = xasprintf("password file %s", where);
	r = fstat(fd, &st);
	if (r < 0)
		*errstr = xasprintf("%s: %s", label, strerror(errno));
	else
		r = check_owner(&st, label, where, errstr);
	free(label);
	if (r < 0) {
		close(fd);
		free(where);
		return -1;
	}
	if (!S_ISCHR(st.st_mode) && (st.st_mode & (S_IRGRP | S_IROTH)))
		xwarn("password file %s is readable by group or others "
		      "(chmod 600 %s)",
		    where, where);
	if (S_ISFIFO(st.st_mode)) {
		r = read_first_line(fd, &b, deadline);
	} else {
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		r = util_read_all(fd, &b, 4096);
	}
	close(fd);
	if (r == 0 && b.data != NULL)
		first_line(b.data);
	/* An empty file or first line is no password. */
	if (r != 0 || b.data == NULL || b.data[0] == '\0') {
		*errstr = xasprintf("password file %s: %s", where,
		    r == -1	  ? strerror(errno)
			: r == -2 ? "too large"
			: r == -3 ? "no line before the deadline"
				  : "empty");
		if (b.data)
			explicit_bzero(b.data, b.len);
		buf_free(&b);
		free(where);
		return r == -3 ? -3 : -1;
	}
	*pw = xstrdup(b.data);
	explicit_bzero(b.data, b.len);
	buf_free(&b);
	free(where);
	return 0;
}

/*
 * Waits until 'fd' is readable (or at its end): 1, or 0 once 'deadline'
 * (util_now_ms() clock) has passed, -1 on error.  A password source that
 * never answers must not outlast --timeout.
 */
static int
wait_readable(int fd, int64_t deadline)
{
	struct pollfd p;
	int64_t left;
	int n;

	p.fd = fd;
	p.events = POLLIN;
	for (;;) {
		left = deadline - util_now_ms();
		if (left <= 0)
			return 0;
		p.revents = 0;
		n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static int
password_from_fd(long fd, int64_t deadline, char **pw, char **errstr)
{
	struct buf b;
	char c;
	ssize_t n;
	int w;

	/* Byte by byte: read nothing past the first line of a shared fd. */
	buf_init(&b);
	buf_reserve(&b, 4097); /* never grown: no copy left behind */
	for (;;) {
		if ((w = wait_readable((int)fd, deadline)) <= 0) {
			*errstr = w == 0
			    ? xasprintf("password fd %ld: no line before the "
					"deadline",
				  fd)
			    : xasprintf(
				  "password fd %ld: %s", fd, strerror(errno));
			if (b.data)
				explicit_bzero(b.data, b.len);
			buf_free(&b);
			return w == 0 ? -3 : -1;
		}
		n = read((int)fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*errstr = xasprintf(
			    "password fd %ld: %s", fd, strerror(errno));
			goto fail;
		}
		if (n == 0 || c == '\n')
			break;
		if (b.len >= 4096) {
			*errstr =
			    xasprintf("password fd %ld: line too long", fd);
			goto fail;
		}
		buf_addc(&b, c);
	}
	/* The rest stays for the tool to read, but no command it runs
	 * inherits the descriptor (they could read the password again). */
	if (fd > STDERR_FILENO)
		fcntl((int)fd, F_SETFD, fcntl((int)fd, F_GETFD) | FD_CLOEXEC);
	if (b.data != NULL)
		first_line(b.data);
	if (b.data == NULL || b.data[0] == '\0') {
		*errstr = xasprintf("password fd %ld: empty", fd);
		goto fail;
	}
	*pw = buf_steal(&b);
	return 0;
fail:
	if (b.data)
		explicit_bzero(b.data, b.len);
	buf_free(&b);
	return -1;
}

/* Ends the password command and everything it started in its group. */
static void
kill_command(pid_t pid)
{
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/*
 * Reads up to the first line end (or the end) by the deadline: 0, or as
 * util_read_all() -1 a read error (errno), -2 too large, and -3 at the
 * deadline.
 */
static int
read_first_line(int fd, struct buf *b, int64_t deadline)
{
	ssize_t n;
	int w;

	/* Room for the most it reads, at once: growing the buffer would
	 * leave copies of the password in freed memory. */
	buf_reserve(b, 65536 + 4096);
	for (;;) {
		if ((w = wait_readable(fd, deadline)) <= 0)
			return w == 0 ? -3 : -1;
		buf_reserve(b, 4096);
		n = read(fd, b->data + b->len, b->cap - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		b->len += (size_t)n;
		b->data[b->len] = '\0';
		if (memchr(b->data, '\n', b->len) != NULL)
			return 0; /* a background child may hold the pipe */
		if (b->len > 65536)
			return -2;
	}
}

/*
 * Waits for the command itself by the deadline, reading and dropping what
 * else it prints (it would die of SIGPIPE on a closed pipe): 0 with its
 * status, or -3 at the deadline (it is killed then).  A child it left in the
 * background may hold the pipe: the command's own end is what counts.
 */
static int
wait_command(pid_t pid, int fd, int64_t deadline, int *status)
{
	struct pollfd p;
	char sink[512];
	pid_t r;

	p.fd = fd;
	p.events = POLLIN;
	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			return 0;
		if (util_now_ms() >= deadline) {
			kill_command(pid);
			return -3;
		}
		p.revents = 0;
		if (p.fd >= 0 && poll(&p, 1, 10) > 0 &&
		    read(fd, sink, sizeof(sink)) == 0)
			p.fd = -1; /* at its end: only the exit is left */
		else if (p.fd < 0)
			poll(NULL, 0, 10);
	}
}

static pid_t
start_command(const char *cmd, int out)
{
	pid_t pid = fork();
	int devnull;

	if (pid != 0)
		return pid;
	/* Its own process group: at the deadline it goes, children too.
	 * The child reads no stdin of ours: that may be the message.  It
	 * gets the standard descriptors only. */
	setpgid(0, 0);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull == STDIN_FILENO)
		fcntl(devnull, F_SETFD, 0);
	else if (devnull >= 0)
		dup2(devnull, STDIN_FILENO);
	dup2(out, STDOUT_FILENO);
	exec_close_fds(STDERR_FILENO + 1);
	truststore_child_env(); /* the user's environment */
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

static int
password_from_cmd(const char *cmd, int64_t deadline, char **pw, char **errstr)
{
	struct buf b;
	int pfd[2], status = 0, r;
	int err;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		*errstr = xasprintf("password command: %s", strerror(errno));
		return -1;
	}
	if ((pid = start_command(cmd, pfd[1])) < 0) {
		*errstr = xasprintf("password command: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	setpgid(pid, pid);
	close(pfd[1]);
	buf_init(&b);
	r = read_first_line(pfd[0], &b, deadline);
	err = errno; /* before kill_command() and close() change it */
	if (r < 0)
		kill_command(pid);
	else
		r = wait_command(pid, pfd[0], deadline, &status);
	close(pfd[0]);
	if (r == -3) {
		*errstr = xstrdup("password command: no password before the "
				  "deadline (--timeout); stopped");
		goto fail;
	}
	/* Checked first: closing the pipe early makes the command fail. */
	if (r == -2) {
		*errstr = xstrdup("password command: output too large");
		goto fail;
	}
	if (r == -1) {
		*errstr = xasprintf("password command: %s", strerror(err));
		goto fail;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFEXITED(status))
			*errstr = xasprintf("password command failed (exit "
					    "status %d)",
			    WEXITSTATUS(status));
		else
			*errstr = xasprintf("password command killed by signal "
					    "%d",
			    WTERMSIG(status));
		goto fail;
	}
	if (b.data == NULL || b.data[strcspn(b.data, "\r\n")] == b.data[0]) {
		*errstr = xstrdup("password command printed no password");
		goto fail;
	}
	first_line(b.data);
	*pw = xstrdup(b.data);
	explicit_bzero(b.data, b.len);
	buf_free(&b);
	return 0;
fail:
	if (b.data)
		explicit_bzero(b.data, b.len);
	buf_free(&b);
	return r == -3 ? -3 : -1;
}

static int
password_prompt(const char *jid, char **pw)
{
	struct termios old, quiet;
	char line[1024];
	size_t n = 0;
	ssize_t r;
	char c;
	int fd;

	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	if (!isatty(fd) || tcgetattr(fd, &old) < 0) {
		close(fd);
		return -1;
	}
	dprintf(fd, "Password for %s: ", jid);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	tcsetattr(fd, TCSAFLUSH, &quiet);
	while ((r = read(fd, &c, 1)) == 1 && c != '\n' && n < sizeof(line) - 1)
		line[n++] = c;
	line[n] = '\0';
	tcsetattr(fd, TCSAFLUSH, &old);
	(void)!write(fd, "\n", 1);
	close(fd);
	if (r < 0 || n == 0) {
		explicit_bzero(line, sizeof(line));
		return -1;
	}
	*pw = xstrdup(line);
	explicit_bzero(line, sizeof(line));
	return 0;
}

/* The exit code of what a password source returned (-3: the deadline). */
static int
source_code(int r)
{
	return r == -3 ? XEXIT_TIMEOUT : r < 0 ? XEXIT_CONFIG : XEXIT_OK;
}

int
config_password(const struct xconfig *c, char **pw, char **errstr)
{
	int64_t deadline = util_now_ms() + config_timeout_ms(c);

	/* A source that does not answer by --timeout ends the run as a
	 * timeout (7), like the connection would. */
	*pw = NULL;
	if (c->password_file)
		return source_code(
		    password_from_file(c->password_file, deadline, pw, errstr));
	if (c->password_fd >= 0)
		return source_code(
		    password_from_fd(c->password_fd, deadline, pw, errstr));
	if (c->password_cmd)
		return source_code(
		    password_from_cmd(c->password_cmd, deadline, pw, errstr));
	if (env_password && *env_password) {
		*pw = xstrdup(env_password);
		return XEXIT_OK;
	}
	if (c->password) {
		*pw = xstrdup(c->password);
		return XEXIT_OK;
	}
	if (c->client_cert)
		return XEXIT_OK;
	if (password_prompt(c->jid, pw) == 0)
		return XEXIT_OK;
	*errstr = xasprintf("no password for %s (use --password-file, "
			    "--password-cmd, XMPP_PASSWORD or the "
			    "configuration file)",
	    c->jid);
	return XEXIT_CONFIG;
}

void
config_room_password_init(struct room_password_opts *o)
{
	o->value = NULL;
	o->file = NULL;
	o->fd = -1;
}

void
config_room_password_free(struct room_password_opts *o)
{
	util_secure_free(o->value);
	free(o->file);
	config_room_password_init(o);
}

int
config_room_password_option(struct room_password_opts *o, const char *name,
    const char *arg, char **errstr)
{
	unsigned long fd;

	if (strcmp(name, "room-password-file") == 0) {
		free(o->file);
		o->file = xstrdup(arg);
	} else if (strcmp(name, "room-password-fd") == 0) {
		if (util_parse_ulong(arg, 0, 65535, &fd) < 0) {
			*errstr = xasprintf(
			    "--room-password-fd: invalid descriptor '%s'", arg);
			return -1;
		}
		o->fd = (long)fd;
	} else {
		xwarn("--room-password shows the password to every user of "
		      "this machine; use --room-password-file, "
		      "--room-password-fd or the room-password key");
		util_secure_free(o->value);
		o->value = xstrdup(arg);
	}
	return 0;
}

int
config_room_password_given(const struct room_password_opts *o)
{
	return (o->value != NULL) + (o->file != NULL) + (o->fd >= 0);
}

int
config_room_password(const struct xconfig *c,
    const struct room_password_opts *o, char **out, char **errstr)
{
	int64_t deadline = util_now_ms() + config_timeout_ms(c);
	char *why = NULL;
	int r = 0;

	*out = NULL;
	if (o->value)
		*out = xstrdup(o->value);
	else if (o->file)
		r = password_from_file(o->file, deadline, out, &why);
	else if (o->fd >= 0)
		r = password_from_fd(o->fd, deadline, out, &why);
	else if (c->room_password)
		*out = xstrdup(c->room_password);
	if (r < 0) {
		*errstr = xasprintf("room %s", why);
		free(why);
		return source_code(r);
	}
	return XEXIT_OK;
}
