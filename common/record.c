/* SPDX-License-Identifier: MIT */
/* record.c -- what the output records of messages and presence say */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <strophe.h>

#include "jid.h"
#include "output.h"
#include "record.h"
#include "stanza.h"
#include "util.h"

void
rec_strings_free(struct rec_strings *k)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		free(k->s[i]);
	k->n = 0;
}

/* A fixed container that overflows is a bug in the program: stop. */
static void
overflow(const char *what, size_t cap)
{
	fprintf(stderr, "%s: internal error: more than %zu %s\n",
	    util_progname(), cap, what);
	abort();
}

const char *
rec_keep(struct rec_strings *k, char *p)
{
	if (p == NULL)
		return NULL;
	if (k->n == sizeof(k->s) / sizeof(k->s[0]))
		overflow("strings kept for one record", k->n);
	k->s[k->n++] = p;
	return p;
}

void
rec_add(
    struct orecord *r, char key, const char *name, const char *value, int flags)
{
	if (r->n >= OUT_MAX_FIELDS)
		overflow("fields in one record", (size_t)OUT_MAX_FIELDS);
	orecord_add(r, key, name, value, flags);
}

/* Reads exactly 'n' digits. */
static int
digits(const char **p, int n, int *out)
{
	int v = 0;

	while (n--) {
		if (**p < '0' || **p > '9')
			return -1;
		v = v * 10 + (*(*p)++ - '0');
	}
	*out = v;
	return 0;
}

time_t
rec_stamp(const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0, legacy;
	const char *p = s;
	time_t t;

	if (s == NULL)
		return -1;
	memset(&tm, 0, sizeof(tm));
	legacy = strlen(s) >= 9 && s[8] == 'T'; /* CCYYMMDDThh:mm:ss */
	if (digits(&p, 4, &y) < 0 || (!legacy && *p++ != '-') ||
	    digits(&p, 2, &mo) < 0 || (!legacy && *p++ != '-') ||
	    digits(&p, 2, &d) < 0 || *p++ != 'T' || digits(&p, 2, &h) < 0 ||
	    *p++ != ':' || digits(&p, 2, &mi) < 0 || *p++ != ':' ||
	    digits(&p, 2, &se) < 0)
		return -1;
	if (*p == '.') {
		if (p[1] < '0' || p[1] > '9')
			return -1;
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	}
	if (*p == 'Z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (digits(&p, 2, &oh) < 0 || *p++ != ':' ||
		    digits(&p, 2, &om) < 0)
			return -1;
	} else if (!legacy || *p != '\0')
		return -1;
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || se > 60 || oh > 23 || om > 59)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = timegm(&tm);
	/* timegm() moves 30 February to March: such a date is no date. */
	if (tm.tm_mday != d || tm.tm_mon != mo - 1)
		return -1;
	if (t == (time_t)-1)
		return -1;
	return t - sign * (oh * 3600 + om * 60);
}

void
rec_format_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%s", "1970-01-01T00:00:00Z");
}

char *
rec_time(xmpp_stanza_t *st, time_t now, int *delayed)
{
	xmpp_stanza_t *d;
	time_t t = -1;
	char buf[32];

	*delayed = 0;
	d = xmpp_stanza_get_child_by_name_and_ns(st, "delay", NS_DELAY);
	if (d == NULL)
		d = xmpp_stanza_get_child_by_name_and_ns(
		    st, "x", "jabber:x:delay");
	if (d != NULL)
		t = rec_stamp(xmpp_stanza_get_attribute(d, "stamp"));
	if (t != -1)
		*delayed = 1;
	else
		t = now;
	rec_format_time(t, buf, sizeof(buf));
	return xstrdup(buf);
}

xmpp_stanza_t *
rec_carbon(xmpp_stanza_t *msg, const char *own_bare, const char **direction)
{
	xmpp_stanza_t *c, *fwd, *inner;
	const char *from = xmpp_stanza_get_from(msg);
	const char *dir = "received";

	*direction = NULL;
	c = xmpp_stanza_get_child_by_name_and_ns(msg, "received", NS_CARBONS);
	if (c == NULL) {
		c = xmpp_stanza_get_child_by_name_and_ns(
		    msg, "sent", NS_CARBONS);
		dir = "sent";
	}
	if (c == NULL)
		return NULL;
	/* Only our own server speaks for our account (XEP-0280 §11). */
	if (from == NULL || jid_has_resource(from) ||
	    !jid_same_bare(from, own_bare))
		return NULL;
	fwd = xmpp_stanza_get_child_by_name_and_ns(c, "forwarded", NS_FORWARD);
	inner = fwd ? xmpp_stanza_get_child_by_name(fwd, "message") : NULL;
	if (inner)
		*direction = dir;
	return inner;
}

void
rec_message(struct orecord *r, struct rec_strings *k, xmpp_stanza_t *msg,
    time_t now, const char *carbon)
{
	const char *type = xmpp_stanza_get_type(msg);
	const char *from = xmpp_stanza_get_from(msg);
	const char *subject, *room = NULL, *nick = NULL, *slash;
	xmpp_stanza_t *oob;
	char *cond = NULL, *text = NULL;
	int delayed;

	if (type == NULL || *type == '\0')
		type = "normal";
	orecord_init(r, "message", msg);
	rec_add(
	    r, 'T', "time", rec_keep(k, rec_time(msg, now, &delayed)), OF_TEXT);
	rec_add(r, 0, "delayed", delayed ? "1" : "0", OF_BOOL);
	rec_add(r, 'y', "type", type, OF_TEXT);
	rec_add(r, 'f', "from", from, OF_TEXT);
	rec_add(r, 't', "to", xmpp_stanza_get_to(msg), 0);
	rec_add(r, 'i', "id", xmpp_stanza_get_id(msg), 0);
	rec_add(r, 'b', "body",
	    rec_keep(k, stanza_child_text(msg, "body", NULL)), OF_TEXT);
	subject = rec_keep(k, stanza_child_text(msg, "subject", NULL));
	rec_add(r, 's', "subject", subject, subject ? OF_TEXT : 0);
	rec_add(r, 'h', "thread",
	    rec_keep(k, stanza_child_text(msg, "thread", NULL)), 0);
	if (strcmp(type, "groupchat") == 0 && from &&
	    (slash = strchr(from, '/')) != NULL) {
		room = rec_keep(k, jid_bare_of(from));
		nick = slash + 1;
	}
	rec_add(r, 0, "room", room, 0);
	rec_add(r, 'r', "nick", nick, 0);
	oob = xmpp_stanza_get_child_by_name_and_ns(msg, "x", NS_OOB);
	rec_add(r, 'u', "url",
	    oob ? rec_keep(k, stanza_child_text(oob, "url", NULL)) : NULL, 0);
	rec_add(r, 0, "carbon", carbon, 0);
	if (strcmp(type, "error") == 0) {
		stanza_error_info(msg, &cond, &text);
		rec_keep(k, cond);
		rec_keep(k, text);
	}
	rec_add(r, 0, "error_condition", cond, 0);
	rec_add(r, 0, "error_text", text, 0);
}

void
rec_encrypted(struct orecord *r, struct rec_strings *k, const char *body,
    unsigned long device, const char *error)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->f[i].key == 'b')
			r->f[i].value =
			    body ? rec_keep(k, xstrdup(body)) : NULL;
	rec_add(r, 0, "encrypted", "omemo", 0);
	rec_add(r, 'E', "device",
	    device ? rec_keep(k, xasprintf("%lu", device)) : NULL, OF_NUMBER);
	rec_add(r, 0, "decrypt_error",
	    error ? rec_keep(k, xstrdup(error)) : NULL, 0);
}

/*
 * A presence record: 'line' gives the text columns of xlisten (time,
 * "presence", from, state, status), else those of xpresence (from, state,
 * status).
 */
static void
presence_record(struct orecord *r, struct rec_strings *k, xmpp_stanza_t *pres,
    time_t now, int line)
{
	const char *type = xmpp_stanza_get_type(pres);
	const char *state;
	char *show, *cond = NULL, *text = NULL;
	int delayed, tf = line ? OF_TEXT : 0;

	show = stanza_child_text(pres, "show", NULL);
	rec_keep(k, show);
	if (type && *type)
		state = type;
	else if (show &&
	    (strcmp(show, "away") == 0 || strcmp(show, "chat") == 0 ||
		strcmp(show, "dnd") == 0 || strcmp(show, "xa") == 0))
		state = show;
	else
		state = "available";
	orecord_init(r, "presence", pres);
	rec_add(r, 'T', "time", rec_keep(k, rec_time(pres, now, &delayed)), tf);
	rec_add(r, 0, "delayed", delayed ? "1" : "0", OF_BOOL);
	rec_add(r, 0, "stanza", "presence", tf | OF_NOJSON);
	rec_add(r, 'f', "from", xmpp_stanza_get_from(pres), OF_TEXT);
	rec_add(r, 't', "to", xmpp_stanza_get_to(pres), 0);
	rec_add(r, 'S', "state", state, OF_TEXT);
	rec_add(r, 0, "show", show, 0);
	rec_add(r, 'm', "status",
	    rec_keep(k, stanza_child_text(pres, "status", NULL)), OF_TEXT);
	rec_add(r, 'p', "priority",
	    rec_keep(k, stanza_child_text(pres, "priority", NULL)), OF_NUMBER);
	if (type && strcmp(type, "error") == 0) {
		stanza_error_info(pres, &cond, &text);
		rec_keep(k, cond);
		free(text);
	}
	rec_add(r, 0, "error_condition", cond, 0);
}

void
rec_presence(
    struct orecord *r, struct rec_strings *k, xmpp_stanza_t *pres, time_t now)
{
	presence_record(r, k, pres, now, 1);
}

void
rec_presence_contact(
    struct orecord *r, struct rec_strings *k, xmpp_stanza_t *pres, time_t now)
{
	presence_record(r, k, pres, now, 0);
}

void
rec_presence_absent(struct orecord *r, struct rec_strings *k, const char *from,
    const char *to, time_t now)
{
	char stamp[32];

	rec_format_time(now, stamp, sizeof(stamp));
	orecord_init(r, "presence", NULL);
	rec_add(r, 'T', "time", rec_keep(k, xstrdup(stamp)), 0);
	rec_add(r, 0, "delayed", "0", OF_BOOL);
	rec_add(r, 'f', "from", from, OF_TEXT);
	rec_add(r, 't', "to", to, 0);
	rec_add(r, 'S', "state", "unavailable", OF_TEXT);
	rec_add(r, 0, "show", NULL, 0);
	rec_add(r, 'm', "status", NULL, OF_TEXT);
	rec_add(r, 'p', "priority", NULL, OF_NUMBER);
	rec_add(r, 0, "error_condition", NULL, 0);
}
