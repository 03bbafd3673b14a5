/* SPDX-License-Identifier: MIT */
/* presence.c -- what is known of contacts' presence, resource by resource */

#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "jid.h"
#include "presence.h"
#include "stanza.h"
#include "util.h"

/* What "available" can look like, from the most to the least reachable. */
static const char *const shows[] = { "chat", "available", "away", "xa", "dnd",
	NULL };

void
presence_book_init(struct presence_book *b)
{
	b->c = NULL;
	b->n = 0;
}

static void
resource_clear(struct presence_resource *r)
{
	free(r->full);
	free(r->state);
	free(r->status);
	if (r->st)
		xmpp_stanza_release(r->st);
}

static void
drop_resource(struct presence_contact *c, size_t i)
{
	resource_clear(&c->res[i]);
	c->res[i] = c->res[--c->nres];
}

void
presence_book_free(struct presence_book *b)
{
	size_t i;

	presence_forget(b);
	for (i = 0; i < b->n; i++) {
		free(b->c[i].res);
		free(b->c[i].jid);
	}
	free(b->c);
	presence_book_init(b);
}

struct presence_contact *
presence_find(const struct presence_book *b, const char *jid)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (jid_same_bare(b->c[i].jid, jid))
			return &b->c[i];
	return NULL;
}

struct presence_contact *
presence_add(struct presence_book *b, const char *bare)
{
	struct presence_contact *c;

	b->c = xrealloc(b->c, (b->n + 1) * sizeof(*b->c));
	c = &b->c[b->n++];
	memset(c, 0, sizeof(*c));
	c->jid = xstrdup(bare);
	return c;
}

void
presence_forget(struct presence_book *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		while (b->c[i].nres)
			drop_resource(&b->c[i], 0);
		b->c[i].has_session = 0;
	}
}

int
presence_is_state(const char *s, int with_unavailable)
{
	return presence_show_rank(s) != 99 ||
	    (with_unavailable && strcmp(s, "unavailable") == 0);
}

const char *
presence_show_of(const char *state)
{
	int i = presence_show_rank(state);

	if (i == 99 || strcmp(shows[i], "available") == 0)
		return NULL;
	return shows[i];
}

int
presence_show_rank(const char *state)
{
	size_t i;

	for (i = 0; shows[i]; i++)
		if (strcmp(state, shows[i]) == 0)
			return (int)i;
	return 99;
}

const char *
presence_contact_state(const struct presence_contact *c)
{
	const struct presence_resource *best = NULL;
	size_t i;

	for (i = 0; i < c->nres; i++) {
		const struct presence_resource *r = &c->res[i];

		if (best == NULL || r->priority > best->priority ||
		    (r->priority == best->priority &&
			presence_show_rank(r->state) <
			    presence_show_rank(best->state)))
			best = r;
	}
	return best ? best->state : "unavailable";
}

int
presence_state_holds(const struct presence_contact *c, const char *want)
{
	if (strcmp(want, "available") == 0)
		return c->nres > 0;
	if (strcmp(want, "unavailable") == 0)
		return c->nres == 0;
	return strcmp(presence_contact_state(c), want) == 0;
}

size_t
presence_first_pending(
    const struct presence_book *b, size_t from, const char *want)
{
	size_t i;

	for (i = from; i < b->n; i++)
		if (!presence_state_holds(&b->c[i], want))
			return i;
	return b->n;
}

/* Sets what an available presence says of the resource. */
static void
resource_set(struct presence_resource *r, xmpp_stanza_t *st)
{
	char *show, *prio;

	free(r->state);
	free(r->status);
	if (r->st)
		xmpp_stanza_release(r->st);
	show = stanza_child_text(st, "show", NULL);
	r->state =
	    xstrdup(show && presence_is_state(show, 0) ? show : "available");
	free(show);
	r->status = stanza_child_text(st, "status", NULL);
	prio = stanza_child_text(st, "priority", NULL);
	r->priority = prio ? strtol(prio, NULL, 10) : 0;
	free(prio);
	r->st = xmpp_stanza_clone(st);
}

void
presence_update(struct presence_contact *c, xmpp_stanza_t *st)
{
	const char *from = xmpp_stanza_get_from(st);
	struct presence_resource *r;
	size_t i;

	c->heard = 1;
	for (i = 0; i < c->nres; i++)
		if (strcmp(c->res[i].full, from) == 0)
			break;
	if (xmpp_stanza_get_type(st) != NULL) { /* unavailable */
		if (i < c->nres)
			drop_resource(c, i);
		return;
	}
	if (i == c->nres) {
		c->res = xrealloc(c->res, (c->nres + 1) * sizeof(*c->res));
		r = &c->res[c->nres++];
		memset(r, 0, sizeof(*r));
		r->full = xstrdup(from);
	}
	resource_set(&c->res[i], st);
}

void
presence_subscriptions(struct presence_book *b, const struct roster *r, int add)
{
	struct presence_contact *c;
	const char *sub;
	size_t i;
	int may;

	for (i = 0; i < r->n; i++) {
		sub = r->items[i].subscription;
		may = strcmp(sub, "to") == 0 || strcmp(sub, "both") == 0;
		c = presence_find(b, r->items[i].jid);
		if (c == NULL && add && may)
			c = presence_add(b, r->items[i].jid);
		if (c)
			c->subscribed = may;
	}
}

int
presence_is_local(const struct presence_contact *c, const char *domain)
{
	const char *d = strchr(c->jid, '@');

	return d && jid_same_bare(d + 1, domain);
}

int
presence_awaited(const struct presence_book *b, const char *domain)
{
	const struct presence_contact *c;
	size_t i;

	for (i = 0; i < b->n; i++) {
		c = &b->c[i];
		if (c->subscribed && c->nres == 0 &&
		    (!presence_is_local(c, domain) || c->has_session))
			return 1;
	}
	return 0;
}
