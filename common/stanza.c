/* SPDX-License-Identifier: MIT */
/* stanza.c -- pure stanza builders and parsers; no I/O */

#include <stdlib.h>
#include <string.h>

#include <strophe.h>

#include "stanza.h"
#include "text.h"
#include "util.h"

/* Adds <name xmlns=ns>text</name> (text may be NULL for an empty element). */
static xmpp_stanza_t *
add_child(
    xmpp_stanza_t *parent, const char *name, const char *ns, const char *text)
{
	xmpp_ctx_t *ctx = xmpp_stanza_get_context(parent);
	xmpp_stanza_t *child = xmpp_stanza_new(ctx), *t;

	xmpp_stanza_set_name(child, name);
	if (ns)
		xmpp_stanza_set_ns(child, ns);
	if (text) {
		t = xmpp_stanza_new(ctx);
		xmpp_stanza_set_text(t, text);
		xmpp_stanza_add_child_ex(child, t, 0);
	}
	xmpp_stanza_add_child_ex(parent, child, 0);
	return child;
}

xmpp_stanza_t *
stanza_message(xmpp_ctx_t *ctx, const struct msg_spec *m)
{
	xmpp_stanza_t *msg, *x;

	msg = xmpp_message_new(ctx, m->type, m->to, m->id);
	if (m->subject && *m->subject)
		add_child(msg, "subject", NULL, m->subject);
	if (m->body)
		add_child(msg, "body", NULL, m->body);
	if (m->thread && *m->thread)
		add_child(msg, "thread", NULL, m->thread);
	if (m->url && *m->url) {
		x = add_child(msg, "x", NS_OOB, NULL);
		add_child(x, "url", NULL, m->url);
		if (m->url_desc && *m->url_desc)
			add_child(x, "desc", NULL, m->url_desc);
	}
	if (m->receipt)
		add_child(msg, "request", NS_RECEIPTS, NULL);
	if (m->no_store) {
		add_child(msg, "no-store", NS_HINTS, NULL);
		add_child(msg, "no-permanent-store", NS_HINTS, NULL);
	}
	if (m->id) {
		x = add_child(msg, "origin-id", NS_SID, NULL);
		xmpp_stanza_set_attribute(x, "id", m->id);
	}
	return msg;
}

xmpp_stanza_t *
stanza_ping(xmpp_ctx_t *ctx, const char *to, const char *id)
{
	xmpp_stanza_t *iq = xmpp_iq_new(ctx, "get", id);

	if (to)
		xmpp_stanza_set_to(iq, to);
	add_child(iq, "ping", NS_PING, NULL);
	return iq;
}

static char *
dup_text(xmpp_stanza_t *st)
{
	xmpp_ctx_t *ctx = xmpp_stanza_get_context(st);
	char *t = xmpp_stanza_get_text(st), *copy;

	if (t == NULL)
		return NULL;
	copy = xstrdup(t);
	xmpp_free(ctx, t);
	return copy;
}

char *
stanza_child_text(xmpp_stanza_t *st, const char *name, const char *ns)
{
	xmpp_stanza_t *c;

	c = ns ? xmpp_stanza_get_child_by_name_and_ns(st, name, ns)
	       : xmpp_stanza_get_child_by_name(st, name);
	return c ? dup_text(c) : NULL;
}

void
stanza_error_info(xmpp_stanza_t *st, char **condition, char **text)
{
	xmpp_stanza_t *err, *c;
	const char *name, *ns;

	*condition = NULL;
	*text = NULL;
	err = xmpp_stanza_get_child_by_name(st, "error");
	if (err != NULL) {
		for (c = xmpp_stanza_get_children(err); c;
		     c = xmpp_stanza_get_next(c)) {
			if (!xmpp_stanza_is_tag(c))
				continue;
			name = xmpp_stanza_get_name(c);
			ns = xmpp_stanza_get_ns(c);
			if (ns == NULL || strcmp(ns, NS_STANZAS) != 0)
				continue;
			if (strcmp(name, "text") == 0) {
				free(*text);
				*text = dup_text(c);
			} else if (*condition == NULL)
				*condition =
				    text_escape_dup(name, strlen(name));
		}
	}
	if (*condition == NULL)
		*condition = xstrdup("undefined-condition");
}

/* Elements whose text is a credential, and the namespace they live in. */
static const char *const secret_sasl[] = { "<auth ", "<response ", "<response>",
	"<challenge ", "<success ", NULL };

#define NSECRET (sizeof(secret_sasl) / sizeof(secret_sasl[0]))

/*
 * The next tag in 's' that starts with 'tag' (itself starting with '<').
 * Not strstr(): a sanitizer build checks the whole rest of the line on
 * each strstr(), which made a long line cost its square; strchr() stops
 * where it finds.
 */
static const char *
find_tag(const char *s, const char *tag)
{
	size_t n = strlen(tag);

	for (s = strchr(s, '<'); s != NULL; s = strchr(s + 1, '<'))
		if (strncmp(s, tag, n) == 0)
			return s;
	return NULL;
}

/* The next secret of kind 'k' in 's': secret_sasl[k], or <password>. */
static const char *
find_secret(const char *s, size_t k)
{
	const char *p;

	if (secret_sasl[k] != NULL)
		return find_tag(s, secret_sasl[k]);
	/* <password> or <password ...>, not <password-hint>. */
	for (p = find_tag(s, "<password"); p && p[9] != '>' && p[9] != ' ';
	     p = find_tag(p + 9, "<password"))
		;
	return p;
}

/*
 * A loop, not a recursion, and each kind of secret is searched for again
 * only once it is passed: a hostile stanza with very many secrets on one
 * line costs linear time and no stack.
 */
void
stanza_redact_trace(struct buf *b, const char *line)
{
	const char *pos[NSECRET], *first, *gt, *lt;
	size_t k, from;

	/* The SASL elements count only on a line that speaks SASL. */
	from = strstr(line, "xmpp-sasl") != NULL ? 0 : NSECRET - 1;
	for (k = from; k < NSECRET; k++)
		pos[k] = find_secret(line, k);
	for (;;) {
		first = NULL;
		for (k = from; k < NSECRET; k++) {
			if (pos[k] != NULL && pos[k] < line)
				pos[k] = find_secret(line, k);
			if (pos[k] != NULL && (first == NULL || pos[k] < first))
				first = pos[k];
		}
		if (first == NULL || (gt = strchr(first, '>')) == NULL) {
			buf_adds(b, line);
			return;
		}
		buf_add(b, line, (size_t)(gt + 1 - line));
		line = gt + 1;
		if (gt[-1] == '/')
			continue; /* an empty element: nothing to hide */
		buf_adds(b, "[redacted]");
		if ((lt = strchr(line, '<')) == NULL)
			return;
		line = lt;
	}
}

const char *
stanza_stream_error_name(xmpp_error_type_t type)
{
	switch (type) {
	case XMPP_SE_BAD_FORMAT:
		return "bad-format";
	case XMPP_SE_BAD_NS_PREFIX:
		return "bad-namespace-prefix";
	case XMPP_SE_CONFLICT:
		return "conflict";
	case XMPP_SE_CONN_TIMEOUT:
		return "connection-timeout";
	case XMPP_SE_HOST_GONE:
		return "host-gone";
	case XMPP_SE_HOST_UNKNOWN:
		return "host-unknown";
	case XMPP_SE_IMPROPER_ADDR:
		return "improper-addressing";
	case XMPP_SE_INTERNAL_SERVER_ERROR:
		return "internal-server-error";
	case XMPP_SE_INVALID_FROM:
		return "invalid-from";
	case XMPP_SE_INVALID_ID:
		return "invalid-id";
	case XMPP_SE_INVALID_NS:
		return "invalid-namespace";
	case XMPP_SE_INVALID_XML:
		return "invalid-xml";
	case XMPP_SE_NOT_AUTHORIZED:
		return "not-authorized";
	case XMPP_SE_POLICY_VIOLATION:
		return "policy-violation";
	case XMPP_SE_REMOTE_CONN_FAILED:
		return "remote-connection-failed";
	case XMPP_SE_RESOURCE_CONSTRAINT:
		return "resource-constraint";
	case XMPP_SE_RESTRICTED_XML:
		return "restricted-xml";
	case XMPP_SE_SEE_OTHER_HOST:
		return "see-other-host";
	case XMPP_SE_SYSTEM_SHUTDOWN:
		return "system-shutdown";
	case XMPP_SE_UNDEFINED_CONDITION:
		return "undefined-condition";
	case XMPP_SE_UNSUPPORTED_ENCODING:
		return "unsupported-encoding";
	case XMPP_SE_UNSUPPORTED_STANZA_TYPE:
		return "unsupported-stanza-type";
	case XMPP_SE_UNSUPPORTED_VERSION:
		return "unsupported-version";
	case XMPP_SE_XML_NOT_WELL_FORMED:
		return "not-well-formed";
	}
	return "undefined-condition";
}

/* Builders for messages */

void
stanza_give_id(xmpp_stanza_t *st, const char *id)
{
	xmpp_stanza_set_id(st, id);
}

/* Builders for presence and roster stanzas */

xmpp_stanza_t *
stanza_presence(xmpp_ctx_t *ctx, const struct pres_spec *p)
{
	xmpp_stanza_t *pres = xmpp_presence_new(ctx), *x;
	char *prio;

	if (p->to)
		xmpp_stanza_set_to(pres, p->to);
	if (p->type)
		xmpp_stanza_set_type(pres, p->type);
	if (p->id)
		xmpp_stanza_set_id(pres, p->id);
	if (p->muc_join) {
		/* Joins a room without its history (XEP-0045 7.2.1). */
		x = add_child(pres, "x", NS_MUC, NULL);
		x = add_child(x, "history", NULL, NULL);
		xmpp_stanza_set_attribute(x, "maxstanzas", "0");
	}
	if (p->show && *p->show)
		add_child(pres, "show", NULL, p->show);
	if (p->status && *p->status)
		add_child(pres, "status", NULL, p->status);
	if (p->has_priority) {
		prio = xasprintf("%ld", p->priority);
		add_child(pres, "priority", NULL, prio);
		free(prio);
	}
	return pres;
}

xmpp_stanza_t *
stanza_query(xmpp_ctx_t *ctx, const char *type, const char *id, const char *to,
    const char *ns, const char *node)
{
	xmpp_stanza_t *iq = xmpp_iq_new(ctx, type, id), *q;

	if (to)
		xmpp_stanza_set_to(iq, to);
	q = add_child(iq, "query", ns, NULL);
	if (node)
		xmpp_stanza_set_attribute(q, "node", node);
	return iq;
}

xmpp_stanza_t *
stanza_roster_get(xmpp_ctx_t *ctx, const char *id)
{
	xmpp_stanza_t *iq = xmpp_iq_new(ctx, "get", id);

	add_child(iq, "query", XMPP_NS_ROSTER, NULL);
	return iq;
}

xmpp_stanza_t *
stanza_roster_item(xmpp_ctx_t *ctx, const struct roster_spec *r)
{
	xmpp_stanza_t *item = xmpp_stanza_new(ctx);
	int remove = r->subscription && strcmp(r->subscription, "remove") == 0;
	size_t i;

	xmpp_stanza_set_name(item, "item");
	xmpp_stanza_set_attribute(item, "jid", r->jid);
	if (remove) {
		xmpp_stanza_set_attribute(item, "subscription", "remove");
		return item;
	}
	if (r->name && *r->name)
		xmpp_stanza_set_attribute(item, "name", r->name);
	if (r->subscription)
		xmpp_stanza_set_attribute(
		    item, "subscription", r->subscription);
	if (r->ask)
		xmpp_stanza_set_attribute(item, "ask", r->ask);
	for (i = 0; i < r->ngroups; i++)
		add_child(item, "group", NULL, r->groups[i]);
	return item;
}

xmpp_stanza_t *
stanza_roster_set(xmpp_ctx_t *ctx, const char *id, const struct roster_spec *r)
{
	xmpp_stanza_t *iq = xmpp_iq_new(ctx, "set", id);
	xmpp_stanza_t *q = add_child(iq, "query", XMPP_NS_ROSTER, NULL);

	xmpp_stanza_add_child_ex(q, stanza_roster_item(ctx, r), 0);
	return iq;
}

/* Builders for xlisten's answers */

xmpp_stanza_t *
stanza_receipt(
    xmpp_ctx_t *ctx, const char *to, const char *id, const char *received)
{
	xmpp_stanza_t *m = xmpp_message_new(ctx, NULL, to, id);
	xmpp_stanza_t *r = add_child(m, "received", NS_RECEIPTS, NULL);

	xmpp_stanza_set_attribute(r, "id", received);
	return m;
}

xmpp_stanza_t *
stanza_carbons_enable(xmpp_ctx_t *ctx, const char *id)
{
	xmpp_stanza_t *iq = xmpp_iq_new(ctx, "set", id);

	add_child(iq, "enable", NS_CARBONS, NULL);
	return iq;
}
