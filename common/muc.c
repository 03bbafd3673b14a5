/* SPDX-License-Identifier: MIT */
/* muc.c -- joining and leaving XEP-0045 rooms */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "jid.h"
#include "muc.h"
#include "session.h"
#include "stanza.h"
#include "util.h"

enum muc_state { MUC_OUT, MUC_PROBING, MUC_JOINING, MUC_IN };

struct muc_room {
	char *jid;
	char *base_nick;
	char *nick;
	char *password;
	int history;
	int nick_retries;
	int tries;
	enum muc_state state;
	char **features; /* of the last disco#info answer, NULL-terminated */
	size_t nfeatures;
	muc_join_cb cb;
	void *ud;
};

static void
forget_features(struct muc_room *r)
{
	size_t i;

	for (i = 0; i < r->nfeatures; i++)
		free(r->features[i]);
	free(r->features);
	r->features = NULL;
	r->nfeatures = 0;
}

/* Keeps the features a disco#info result lists. */
static void
keep_features(struct muc_room *r, xmpp_stanza_t *st)
{
	xmpp_stanza_t *q, *c;
	const char *v;

	forget_features(r);
	q = xmpp_stanza_get_child_by_name_and_ns(
	    st, "query", XMPP_NS_DISCO_INFO);
	for (c = q ? xmpp_stanza_get_children(q) : NULL; c;
	     c = xmpp_stanza_get_next(c)) {
		if (!xmpp_stanza_is_tag(c) ||
		    strcmp(xmpp_stanza_get_name(c), "feature") != 0 ||
		    (v = xmpp_stanza_get_attribute(c, "var")) == NULL)
			continue;
		r->features = xrealloc(
		    r->features, (r->nfeatures + 1) * sizeof(*r->features));
		r->features[r->nfeatures++] = xstrdup(v);
	}
}

int
muc_room_feature(const struct muc_room *r, const char *var)
{
	size_t i;

	for (i = 0; i < r->nfeatures; i++)
		if (strcmp(r->features[i], var) == 0)
			return 1;
	return 0;
}

struct muc_room *
muc_room_new(const char *jid, const char *nick, const char *password,
    int history, int nick_retries)
{
	struct muc_room *r = xcalloc(1, sizeof(*r));

	r->jid = xstrdup(jid);
	r->base_nick = xstrdup(nick);
	r->nick = xstrdup(nick);
	r->password = password ? xstrdup(password) : NULL;
	r->history = history;
	r->nick_retries = nick_retries;
	return r;
}

void
muc_room_free(struct muc_room *r)
{
	if (r == NULL)
		return;
	free(r->jid);
	free(r->base_nick);
	free(r->nick);
	util_secure_free(r->password);
	forget_features(r);
	free(r);
}

const char *
muc_room_jid(const struct muc_room *r)
{
	return r->jid;
}

const char *
muc_room_nick(const struct muc_room *r)
{
	return r->nick;
}

int
muc_room_joined(const struct muc_room *r)
{
	return r->state == MUC_IN;
}

static void
done(struct session *s, struct muc_room *r, const char *cond, const char *text)
{
	r->state = cond ? MUC_OUT : MUC_IN;
	if (r->cb)
		r->cb(s, r, cond, text, r->ud);
}

static void
send_join(struct session *s, struct muc_room *r)
{
	xmpp_ctx_t *ctx = session_ctx(s);
	xmpp_stanza_t *pres, *x, *h, *pw, *t;
	char *to = xasprintf("%s/%s", r->jid, r->nick), n[16];

	pres = xmpp_presence_new(ctx);
	xmpp_stanza_set_to(pres, to);
	x = xmpp_stanza_new(ctx);
	xmpp_stanza_set_name(x, "x");
	xmpp_stanza_set_ns(x, NS_MUC);
	if (r->history >= 0) {
		h = xmpp_stanza_new(ctx);
		xmpp_stanza_set_name(h, "history");
		snprintf(n, sizeof(n), "%d", r->history);
		xmpp_stanza_set_attribute(h, "maxstanzas", n);
		xmpp_stanza_add_child_ex(x, h, 0);
	}
	if (r->password) {
		pw = xmpp_stanza_new(ctx);
		xmpp_stanza_set_name(pw, "password");
		t = xmpp_stanza_new(ctx);
		xmpp_stanza_set_text(t, r->password);
		xmpp_stanza_add_child_ex(pw, t, 0);
		xmpp_stanza_add_child_ex(x, pw, 0);
	}
	xmpp_stanza_add_child_ex(pres, x, 0);
	r->state = MUC_JOINING;
	xdebug(1, "joining %s as %s", r->jid, r->nick);
	session_send(s, pres);
	xmpp_stanza_release(pres);
	free(to);
}

/* Does a disco#info result describe a room (XEP-0045 6.4)? */
static int
is_room(xmpp_stanza_t *st)
{
	xmpp_stanza_t *q, *c;
	const char *v;

	q = xmpp_stanza_get_child_by_name_and_ns(
	    st, "query", XMPP_NS_DISCO_INFO);
	for (c = q ? xmpp_stanza_get_children(q) : NULL; c;
	     c = xmpp_stanza_get_next(c)) {
		if (!xmpp_stanza_is_tag(c))
			continue;
		if (strcmp(xmpp_stanza_get_name(c), "identity") == 0 &&
		    (v = xmpp_stanza_get_attribute(c, "category")) != NULL &&
		    strcmp(v, "conference") == 0)
			return 1;
		if (strcmp(xmpp_stanza_get_name(c), "feature") == 0 &&
		    (v = xmpp_stanza_get_attribute(c, "var")) != NULL &&
		    strcmp(v, NS_MUC) == 0)
			return 1;
	}
	return 0;
}

static int
on_disco(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct muc_room *r = ud;
	char *cond, *text;
	const char *type = xmpp_stanza_get_type(st);

	if (r->state != MUC_PROBING)
		return 0;
	if (type && strcmp(type, "error") == 0) {
		stanza_error_info(st, &cond, &text);
		done(s, r, cond, text);
		free(cond);
		free(text);
		return 0;
	}
	if (!is_room(st)) {
		done(s, r, "feature-not-implemented",
		    "not a multi-user chat room");
		return 0;
	}
	keep_features(r, st);
	send_join(s, r);
	return 0;
}

void
muc_join(struct session *s, struct muc_room *r, muc_join_cb cb, void *ud)
{
	xmpp_stanza_t *iq, *q;
	char *id = session_new_id(s);

	r->cb = cb;
	r->ud = ud;
	r->tries = 0;
	free(r->nick);
	r->nick = xstrdup(r->base_nick);
	r->state = MUC_PROBING;
	iq = xmpp_iq_new(session_ctx(s), "get", id);
	xmpp_stanza_set_to(iq, r->jid);
	q = xmpp_stanza_new(session_ctx(s));
	xmpp_stanza_set_name(q, "query");
	xmpp_stanza_set_ns(q, XMPP_NS_DISCO_INFO);
	xmpp_stanza_add_child_ex(iq, q, 0);
	session_request(s, iq, on_disco, r);
	xmpp_stanza_release(iq);
	free(id);
}

void
muc_leave(struct session *s, struct muc_room *r)
{
	xmpp_stanza_t *pres;
	char *to;

	if (r->state != MUC_IN)
		return;
	to = xasprintf("%s/%s", r->jid, r->nick);
	pres = xmpp_presence_new(session_ctx(s));
	xmpp_stanza_set_type(pres, "unavailable");
	xmpp_stanza_set_to(pres, to);
	session_send(s, pres);
	xmpp_stanza_release(pres);
	free(to);
	r->state = MUC_OUT;
}

int
muc_is_self(const struct muc_room *r, const char *from)
{
	const char *slash;

	if (from == NULL || (slash = strchr(from, '/')) == NULL)
		return 0;
	return jid_same_bare(from, r->jid) && strcmp(slash + 1, r->nick) == 0;
}

/* Does a muc#user <x/> carry <status code='CODE'/>? */
static int
has_status(xmpp_stanza_t *st, const char *code)
{
	xmpp_stanza_t *x, *c;
	const char *v;

	x = xmpp_stanza_get_child_by_name_and_ns(st, "x", NS_MUC_USER);
	for (c = x ? xmpp_stanza_get_children(x) : NULL; c;
	     c = xmpp_stanza_get_next(c)) {
		if (!xmpp_stanza_is_tag(c) ||
		    strcmp(xmpp_stanza_get_name(c), "status") != 0)
			continue;
		v = xmpp_stanza_get_attribute(c, "code");
		if (v && strcmp(v, code) == 0)
			return 1;
	}
	return 0;
}

int
muc_handle_presence(struct session *s, struct muc_room *r, xmpp_stanza_t *st)
{
	const char *from = xmpp_stanza_get_from(st);
	const char *type = xmpp_stanza_get_type(st);
	const char *slash;
	char *cond, *text;

	if (from == NULL || !jid_same_bare(from, r->jid))
		return 0;
	if (r->state != MUC_JOINING)
		return 0;
	if (type && strcmp(type, "error") == 0) {
		stanza_error_info(st, &cond, &text);
		if (strcmp(cond, "conflict") == 0 &&
		    r->tries < r->nick_retries) {
			r->tries++;
			free(r->nick);
			r->nick =
			    xasprintf("%s-%d", r->base_nick, r->tries + 1);
			xdebug(
			    1, "%s: nick in use, trying %s", r->jid, r->nick);
			send_join(s, r);
		} else
			done(s, r, cond, text);
		free(cond);
		free(text);
		return 1;
	}
	/* Status 110 marks our own presence, even if the room renamed us. */
	if ((type == NULL || strcmp(type, "unavailable") != 0) &&
	    has_status(st, "110")) {
		slash = strchr(from, '/');
		if (slash && strcmp(slash + 1, r->nick) != 0) {
			free(r->nick);
			r->nick = xstrdup(slash + 1);
		}
		if (has_status(st, "201")) {
			/*
			 * Status 201: our join created the room (it appeared
			 * between the disco#info probe and the join).  Leave,
			 * which destroys the locked new room again.
			 */
			r->state = MUC_IN;
			muc_leave(s, r);
			done(s, r, "item-not-found",
			    "the room did not exist; the join created it");
			return 1;
		}
		xdebug(1, "joined %s as %s", r->jid, r->nick);
		done(s, r, NULL, NULL);
		return 1;
	}
	return 0;
}
