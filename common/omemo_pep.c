/* SPDX-License-Identifier: MIT */
/* omemo_pep.c -- OMEMO over XMPP: device lists, bundles, <encrypted/> */

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jid.h"
#include "omemo_pep.h"
#include "stanza.h"
#include "util.h"
#include "xmpptools.h"

/* ------------------------------------------------------------------------
 * Builders and parsers
 */

static xmpp_stanza_t *
child(xmpp_stanza_t *parent, const char *name, const char *ns, const char *text)
{
	xmpp_ctx_t *ctx = xmpp_stanza_get_context(parent);
	xmpp_stanza_t *c = xmpp_stanza_new(ctx), *t;

	xmpp_stanza_set_name(c, name);
	if (ns)
		xmpp_stanza_set_ns(c, ns);
	if (text) {
		t = xmpp_stanza_new(ctx);
		xmpp_stanza_set_text(t, text);
		xmpp_stanza_add_child_ex(c, t, 0);
	}
	xmpp_stanza_add_child_ex(parent, c, 0);
	return c;
}

static void
set_uint(xmpp_stanza_t *st, const char *name, uint32_t v)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%lu", (unsigned long)v);
	xmpp_stanza_set_attribute(st, name, buf);
}

/* A device or key id: 1 .. 2^31-1, else 0. */
static uint32_t
get_uint(xmpp_stanza_t *st, const char *name)
{
	const char *v = xmpp_stanza_get_attribute(st, name);
	unsigned long n;

	if (v == NULL || *v < '0' || *v > '9' || strlen(v) > 10)
		return 0;
	errno = 0;
	n = strtoul(v, NULL, 10);
	return errno || n == 0 || n > 0x7fffffffUL ? 0 : (uint32_t)n;
}

/* The text of 'st' without white space (base64 may be wrapped). */
static char *
b64_text(xmpp_stanza_t *st)
{
	char *t = st ? xmpp_stanza_get_text(st) : NULL, *out, *p;
	const char *q;

	if (t == NULL)
		return NULL;
	out = p = xmalloc(strlen(t) + 1);
	for (q = t; *q; q++)
		if (!isspace((unsigned char)*q))
			*p++ = *q;
	*p = '\0';
	xmpp_free(xmpp_stanza_get_context(st), t);
	if (*out == '\0') {
		free(out);
		return NULL;
	}
	return out;
}

/* The element 'name' in NS_OMEMO: 'st' itself, or the one in the item of
 * a pubsub reply (iq/pubsub/items/item/name; an RSM <set/> may come
 * before the items). */
static xmpp_stanza_t *
payload(xmpp_stanza_t *st, const char *name)
{
	xmpp_stanza_t *c;
	const char *n = xmpp_stanza_get_name(st);

	if (n && strcmp(n, name) == 0)
		return xmpp_stanza_get_ns(st) &&
			strcmp(xmpp_stanza_get_ns(st), NS_OMEMO) == 0
		    ? st
		    : NULL;
	if (n && strcmp(n, "iq") == 0)
		st = xmpp_stanza_get_child_by_name_and_ns(
		    st, "pubsub", NS_PUBSUB);
	if (st)
		st = xmpp_stanza_get_child_by_name(st, "items");
	if (st == NULL)
		return NULL;
	/* The last item is the newest. */
	for (c = xmpp_stanza_get_child_by_name(st, "item"); c;
	     c = xmpp_stanza_get_next(c))
		if (xmpp_stanza_is_tag(c) &&
		    strcmp(xmpp_stanza_get_name(c), "item") == 0)
			st = c;
	if (st == NULL || strcmp(xmpp_stanza_get_name(st), "item") != 0)
		return NULL;
	return xmpp_stanza_get_child_by_name_and_ns(st, name, NS_OMEMO);
}

xmpp_stanza_t *
omemo_pep_devicelist(xmpp_ctx_t *ctx, const uint32_t *ids, size_t n)
{
	xmpp_stanza_t *list = xmpp_stanza_new(ctx), *d;
	size_t i;

	xmpp_stanza_set_name(list, "list");
	xmpp_stanza_set_ns(list, NS_OMEMO);
	for (i = 0; i < n; i++) {
		d = child(list, "device", NULL, NULL);
		set_uint(d, "id", ids[i]);
	}
	return list;
}

int
omemo_pep_parse_devicelist(xmpp_stanza_t *st, uint32_t **ids, size_t *n)
{
	xmpp_stanza_t *list = payload(st, "list"), *d;
	const char *name;
	uint32_t id;
	size_t i;

	*ids = NULL;
	*n = 0;
	if (list == NULL)
		return -1;
	for (d = xmpp_stanza_get_children(list); d;
	     d = xmpp_stanza_get_next(d)) {
		name = xmpp_stanza_get_name(d);
		if (!xmpp_stanza_is_tag(d) || strcmp(name, "device") != 0 ||
		    (id = get_uint(d, "id")) == 0)
			continue;
		for (i = 0; i < *n && (*ids)[i] != id; i++)
			;
		if (i < *n)
			continue; /* listed twice */
		*ids = xrealloc(*ids, (*n + 1) * sizeof(**ids));
		(*ids)[(*n)++] = id;
	}
	return 0;
}

xmpp_stanza_t *
omemo_pep_bundle(xmpp_ctx_t *ctx, const struct omemo_bundle *b)
{
	xmpp_stanza_t *bundle = xmpp_stanza_new(ctx), *c, *pks;
	size_t i;

	xmpp_stanza_set_name(bundle, "bundle");
	xmpp_stanza_set_ns(bundle, NS_OMEMO);
	c = child(bundle, "signedPreKeyPublic", NULL, b->spk);
	set_uint(c, "signedPreKeyId", b->spk_id);
	child(bundle, "signedPreKeySignature", NULL, b->spk_sig);
	child(bundle, "identityKey", NULL, b->ik);
	pks = child(bundle, "prekeys", NULL, NULL);
	for (i = 0; i < b->npk; i++) {
		c = child(pks, "preKeyPublic", NULL, b->pk[i].pub);
		set_uint(c, "preKeyId", b->pk[i].id);
	}
	return bundle;
}

static int
bundle_fail(struct omemo_bundle *b, char **errstr, const char *what)
{
	omemo_bundle_clear(b);
	*errstr = xasprintf("the bundle has no valid %s", what);
	return -1;
}

int
omemo_pep_parse_bundle(xmpp_stanza_t *st, struct omemo_bundle *b, char **errstr)
{
	xmpp_stanza_t *bundle = payload(st, "bundle"), *c, *pks;
	uint32_t id;

	memset(b, 0, sizeof(*b));
	if (bundle == NULL) {
		*errstr = xstrdup("no bundle in the reply");
		return -1;
	}
	c = xmpp_stanza_get_child_by_name(bundle, "signedPreKeyPublic");
	if ((b->spk = b64_text(c)) == NULL ||
	    (b->spk_id = get_uint(c, "signedPreKeyId")) == 0)
		return bundle_fail(b, errstr, "signed pre-key");
	c = xmpp_stanza_get_child_by_name(bundle, "signedPreKeySignature");
	if ((b->spk_sig = b64_text(c)) == NULL)
		return bundle_fail(b, errstr, "signed pre-key signature");
	c = xmpp_stanza_get_child_by_name(bundle, "identityKey");
	if ((b->ik = b64_text(c)) == NULL)
		return bundle_fail(b, errstr, "identity key");
	pks = xmpp_stanza_get_child_by_name(bundle, "prekeys");
	for (c = pks ? xmpp_stanza_get_children(pks) : NULL; c;
	     c = xmpp_stanza_get_next(c)) {
		if (!xmpp_stanza_is_tag(c) ||
		    strcmp(xmpp_stanza_get_name(c), "preKeyPublic") != 0 ||
		    (id = get_uint(c, "preKeyId")) == 0)
			continue;
		b->pk = xrealloc(b->pk, (b->npk + 1) * sizeof(*b->pk));
		b->pk[b->npk].id = id;
		if ((b->pk[b->npk].pub = b64_text(c)) != NULL)
			b->npk++;
	}
	if (b->npk == 0)
		return bundle_fail(b, errstr, "pre-key");
	return 0;
}

xmpp_stanza_t *
omemo_pep_encrypted(xmpp_ctx_t *ctx, const struct omemo_msg *m)
{
	xmpp_stanza_t *enc = xmpp_stanza_new(ctx), *hdr, *k;
	size_t i;

	xmpp_stanza_set_name(enc, "encrypted");
	xmpp_stanza_set_ns(enc, NS_OMEMO);
	hdr = child(enc, "header", NULL, NULL);
	set_uint(hdr, "sid", m->sid);
	for (i = 0; i < m->nkeys; i++) {
		k = child(hdr, "key", NULL, m->keys[i].data);
		if (m->keys[i].prekey)
			xmpp_stanza_set_attribute(k, "prekey", "true");
		set_uint(k, "rid", m->keys[i].rid);
	}
	child(hdr, "iv", NULL, m->iv);
	if (m->payload)
		child(enc, "payload", NULL, m->payload);
	return enc;
}

static int
enc_fail(struct omemo_msg *m, char **errstr, const char *what)
{
	omemo_msg_clear(m);
	*errstr = xasprintf("malformed OMEMO element: %s", what);
	return -1;
}

int
omemo_pep_parse_encrypted(
    xmpp_stanza_t *enc, struct omemo_msg *m, char **errstr)
{
	xmpp_stanza_t *hdr, *k;
	const char *pre;
	struct omemo_key *key;

	memset(m, 0, sizeof(*m));
	hdr = xmpp_stanza_get_child_by_name(enc, "header");
	if (hdr == NULL || (m->sid = get_uint(hdr, "sid")) == 0)
		return enc_fail(m, errstr, "no header with a sender device");
	if ((m->iv = b64_text(xmpp_stanza_get_child_by_name(hdr, "iv"))) ==
	    NULL)
		return enc_fail(m, errstr, "no iv");
	for (k = xmpp_stanza_get_children(hdr); k;
	     k = xmpp_stanza_get_next(k)) {
		if (!xmpp_stanza_is_tag(k) ||
		    strcmp(xmpp_stanza_get_name(k), "key") != 0)
			continue;
		m->keys = xrealloc(m->keys, (m->nkeys + 1) * sizeof(*m->keys));
		key = &m->keys[m->nkeys];
		memset(key, 0, sizeof(*key));
		if ((key->rid = get_uint(k, "rid")) == 0 ||
		    (key->data = b64_text(k)) == NULL) {
			free(key->data);
			continue;
		}
		pre = xmpp_stanza_get_attribute(k, "prekey");
		key->prekey =
		    pre && (strcmp(pre, "true") == 0 || strcmp(pre, "1") == 0);
		m->nkeys++;
	}
	if (m->nkeys == 0)
		return enc_fail(m, errstr, "no key");
	m->payload = b64_text(xmpp_stanza_get_child_by_name(enc, "payload"));
	return 0;
}

void
omemo_pep_seal(xmpp_stanza_t *msg, xmpp_stanza_t *enc)
{
	xmpp_stanza_t *c;

	xmpp_stanza_add_child(msg, enc);
	c = child(msg, "encryption", NS_EME, NULL);
	xmpp_stanza_set_attribute(c, "namespace", NS_OMEMO);
	xmpp_stanza_set_attribute(c, "name", "OMEMO");
	child(msg, "body", NULL, OMEMO_FALLBACK);
	child(msg, "store", NS_HINTS, NULL);
}

int
omemo_pep_open_message(struct omemo *o, xmpp_stanza_t *msg, const char *from,
    char **body, uint32_t *dev, int *prekey, char **errstr)
{
	xmpp_stanza_t *enc;
	struct omemo_msg m;
	int rc;

	*body = NULL;
	*dev = 0;
	*prekey = 0;
	enc = xmpp_stanza_get_child_by_name_and_ns(msg, "encrypted", NS_OMEMO);
	if (enc == NULL)
		return 0;
	if (omemo_pep_parse_encrypted(enc, &m, errstr) < 0)
		return -1;
	*dev = m.sid;
	if (m.payload == NULL) {
		/* A key transport element: no message of its own. */
		omemo_msg_clear(&m);
		*errstr = xstrdup("an OMEMO key transport element, no message");
		return -1;
	}
	rc = omemo_decrypt(o, from, &m, body, prekey, errstr);
	omemo_msg_clear(&m);
	return rc < 0 ? -1 : 1;
}

/* ------------------------------------------------------------------------
 * Talking to the server: one preparation at a time per process
 */

/* One request in flight. */
struct req {
	char *jid; /* whose node */
	uint32_t dev; /* the bundle's device, 0 for a device list */
	int self; /* the account's own node */
};

static struct {
	struct session *s;
	struct omemo *o;
	omemo_pep_cb cb;
	void *ud;
	const char *const *jids; /* recipients, borrowed; NULL: publishing */
	size_t njids;
	char *self; /* the account's bare JID */
	int force; /* publish the bundle whatever */
	int lenient; /* omemo_pep_fetch(): bundles may fail, no trust check */
	int published; /* the own device is published */
	unsigned gen; /* stale replies of an earlier round are ignored */
	int pending;
	int code;
	char *why;
	uint32_t *own; /* the own device list as read */
	size_t nown;
} P;

static void fail(int code, char *why);
static void step(void);

static void
fail(int code, char *why)
{
	if (P.code == 0) {
		P.code = code;
		P.why = why;
	} else
		free(why);
}

/* Encodes generation and the request as callback data. */
struct ticket {
	unsigned gen;
	struct req r;
};

static struct ticket *
ticket_new(const char *jid, uint32_t dev, int self)
{
	struct ticket *t = xcalloc(1, sizeof(*t));

	t->gen = P.gen;
	t->r.jid = xstrdup(jid);
	t->r.dev = dev;
	t->r.self = self;
	return t;
}

static void
ticket_free(struct ticket *t)
{
	free(t->r.jid);
	free(t);
}

/* <iq type='get' to=JID><pubsub><items node=NODE max_items='1'/>... */
static void
get_items(
    const char *to, const char *node, session_stanza_cb cb, struct ticket *t)
{
	xmpp_ctx_t *ctx = session_ctx(P.s);
	char *id = session_new_id(P.s);
	xmpp_stanza_t *iq = xmpp_iq_new(ctx, "get", id), *ps, *items;

	if (to)
		xmpp_stanza_set_to(iq, to);
	ps = child(iq, "pubsub", NS_PUBSUB, NULL);
	items = child(ps, "items", NULL, NULL);
	xmpp_stanza_set_attribute(items, "node", node);
	xmpp_stanza_set_attribute(items, "max_items", "1");
	P.pending++;
	session_request(P.s, iq, cb, t);
	xmpp_stanza_release(iq);
	free(id);
}

/* Publishes 'item' (taken over) to the own node 'node' as item 'item_id',
 * open to everyone. */
static void
publish(const char *node, const char *item_id, xmpp_stanza_t *item,
    session_stanza_cb cb, struct ticket *t)
{
	xmpp_ctx_t *ctx = session_ctx(P.s);
	char *id = session_new_id(P.s);
	xmpp_stanza_t *iq = xmpp_iq_new(ctx, "set", id), *ps, *pub, *it, *x, *f;

	ps = child(iq, "pubsub", NS_PUBSUB, NULL);
	pub = child(ps, "publish", NULL, NULL);
	xmpp_stanza_set_attribute(pub, "node", node);
	it = child(pub, "item", NULL, NULL);
	xmpp_stanza_set_attribute(it, "id", item_id);
	xmpp_stanza_add_child_ex(it, item, 0);
	x = child(
	    child(ps, "publish-options", NULL, NULL), "x", NS_XDATA, NULL);
	xmpp_stanza_set_type(x, "submit");
	f = child(x, "field", NULL, NULL);
	xmpp_stanza_set_attribute(f, "var", "FORM_TYPE");
	xmpp_stanza_set_type(f, "hidden");
	child(f, "value", NULL,
	    "http://jabber.org/protocol/pubsub#publish-options");
	f = child(x, "field", NULL, NULL);
	xmpp_stanza_set_attribute(f, "var", "pubsub#access_model");
	child(f, "value", NULL, "open");
	P.pending++;
	session_request(P.s, iq, cb, t);
	xmpp_stanza_release(iq);
	free(id);
}

/* The condition of an iq error, allocated. */
static char *
condition(xmpp_stanza_t *st)
{
	char *cond, *text, *s;

	stanza_error_info(st, &cond, &text);
	s = text ? xasprintf("%s (%s)", cond, text) : xstrdup(cond);
	free(cond);
	free(text);
	return s;
}

static int
is_error(xmpp_stanza_t *st)
{
	const char *type = xmpp_stanza_get_type(st);

	return type && strcmp(type, "error") == 0;
}

/* Common head of every reply handler: 0 when the reply is to be used. */
static int
arrived(struct ticket *t)
{
	int use = t->gen == P.gen;

	if (use)
		P.pending--;
	return use;
}

static int
on_published(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct ticket *t = ud;
	char *cond;

	(void)s;
	if (arrived(t) && is_error(st)) {
		cond = condition(st);
		fail(XEXIT_REJECTED,
		    xasprintf("OMEMO: publishing %s refused: %s",
			t->r.dev ? "the bundle" : "the device list", cond));
		free(cond);
	}
	if (t->gen == P.gen)
		step();
	ticket_free(t);
	return 0;
}

static void
publish_bundle(void)
{
	struct omemo_bundle b;
	char *err = NULL, *node;

	if (omemo_own_bundle(P.o, &b, &err) < 0) {
		fail(XEXIT_CONFIG, xstrdup(err));
		free(err);
		return;
	}
	node = xasprintf(
	    "%s%lu", NS_OMEMO_BUNDLES, (unsigned long)omemo_device_id(P.o));
	publish(node, "current", omemo_pep_bundle(session_ctx(P.s), &b),
	    on_published, ticket_new(P.self, omemo_device_id(P.o), 1));
	free(node);
	omemo_bundle_clear(&b);
}

/* The own list is read: add this device if missing, then the bundle. */
static void
own_list(void)
{
	uint32_t me = omemo_device_id(P.o);
	size_t i;
	int listed = 0;

	for (i = 0; i < P.nown; i++)
		listed |= P.own[i] == me;
	if (!listed) {
		P.own = xrealloc(P.own, (P.nown + 1) * sizeof(*P.own));
		P.own[P.nown++] = me;
		publish(NS_OMEMO_DEVICES, "current",
		    omemo_pep_devicelist(session_ctx(P.s), P.own, P.nown),
		    on_published, ticket_new(P.self, 0, 1));
	}
	if (!listed || P.force || omemo_bundle_changed(P.o))
		publish_bundle();
}

static int on_bundle(struct session *s, xmpp_stanza_t *st, void *ud);

/* Asks for the bundles of the devices of 'jid' that have no session. */
static void
fetch_bundles(const char *jid, const uint32_t *ids, size_t n, int self)
{
	uint32_t me = omemo_device_id(P.o);
	char *node;
	size_t i;

	for (i = 0; i < n; i++) {
		if ((self && ids[i] == me) ||
		    omemo_has_session(P.o, jid, ids[i]))
			continue;
		node =
		    xasprintf("%s%lu", NS_OMEMO_BUNDLES, (unsigned long)ids[i]);
		get_items(jid, node, on_bundle, ticket_new(jid, ids[i], self));
		free(node);
	}
}

static int
on_devicelist(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct ticket *t = ud;
	uint32_t *ids = NULL;
	size_t n = 0;
	char *err = NULL, *cond;

	(void)s;
	if (!arrived(t))
		goto out;
	if (is_error(st)) {
		cond = condition(st);
		/* No node: no device (yet). */
		if (strncmp(cond, "item-not-found", 14) != 0 && !t->r.self)
			fail(XEXIT_REJECTED,
			    xasprintf("%s: its OMEMO device list cannot be "
				      "read: %s; nothing sent",
				t->r.jid, cond));
		else if (strncmp(cond, "item-not-found", 14) != 0)
			fail(XEXIT_REJECTED,
			    xasprintf("OMEMO: the own device list cannot be "
				      "read: %s",
				cond));
		free(cond);
	} else
		omemo_pep_parse_devicelist(st, &ids, &n);
	if (P.code == 0 && omemo_set_devices(P.o, t->r.jid, ids, n, &err) < 0)
		fail(XEXIT_CONFIG, xstrdup(err));
	if (P.code == 0 && n == 0 && !t->r.self)
		fail(XEXIT_REJECTED,
		    xasprintf("%s: no OMEMO device (the contact has published "
			      "none)%s",
			t->r.jid, P.lenient ? "" : "; nothing sent"));
	if (t->r.self && !P.published && P.code == 0) {
		free(P.own);
		P.own = ids;
		P.nown = n;
		ids = NULL;
		own_list();
	} else if (P.code == 0)
		fetch_bundles(t->r.jid, ids, n, t->r.self);
	free(ids);
	free(err);
	step();
out:
	ticket_free(t);
	return 0;
}

/* A device whose bundle failed: the run fails for a recipient's device,
 * a warning does for the account's own devices and for xroster. */
static void
bundle_problem(
    const struct ticket *t, int code, const char *what, const char *why)
{
	if (t->r.self || P.lenient)
		xwarn("OMEMO: %s device %lu: %s (%s)%s", t->r.jid,
		    (unsigned long)t->r.dev, what, why,
		    P.lenient ? "" : ": not encrypting for it");
	else
		fail(code,
		    xasprintf("%s: OMEMO device %lu: %s (%s); nothing sent",
			t->r.jid, (unsigned long)t->r.dev, what, why));
}

static int
on_bundle(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct ticket *t = ud;
	struct omemo_bundle b;
	char *err = NULL;

	(void)s;
	if (!arrived(t))
		goto out;
	if (is_error(st)) {
		err = condition(st);
		bundle_problem(
		    t, XEXIT_REJECTED, "its bundle cannot be fetched", err);
	} else if (omemo_pep_parse_bundle(st, &b, &err) < 0 ||
	    omemo_process_bundle(P.o, t->r.jid, t->r.dev, &b, &err) < 0) {
		bundle_problem(
		    t, XEXIT_PROTOCOL, "its bundle is unusable", err);
		omemo_bundle_clear(&b);
	} else
		omemo_bundle_clear(&b);
	free(err);
	step();
out:
	ticket_free(t);
	return 0;
}

/* Every recipient has a device to encrypt for, else the failure. */
static void
check_usable(void)
{
	struct omemo_target *t = NULL;
	size_t i;

	for (i = 0; i < P.njids && P.code == 0; i++) {
		if (omemo_pep_targets(P.o, P.jids[i], P.self, &t) == 0)
			fail(XEXIT_REJECTED,
			    xasprintf("%s: no trusted OMEMO device (see "
				      "xroster devices); nothing sent",
				P.jids[i]));
		free(t);
		t = NULL;
	}
}

static void
finish(void)
{
	omemo_pep_cb cb = P.cb;
	char *why = P.why;
	int code = P.code;

	P.cb = NULL;
	P.why = NULL;
	P.gen++; /* whatever is still in flight is stale now */
	free(P.own);
	P.own = NULL;
	P.nown = 0;
	free(P.self);
	P.self = NULL;
	if (cb)
		cb(P.s, code, why, P.ud);
	free(why);
}

/* Called after each reply: on to the next phase once none is pending. */
static void
step(void)
{
	size_t i;

	if (P.pending > 0)
		return;
	if (P.code != 0 || P.published) {
		if (P.code == 0 && P.jids && !P.lenient)
			check_usable();
		finish();
		return;
	}
	/* The own device is published: now the recipients and the own
	 * other devices. */
	P.published = 1;
	if (P.jids == NULL) {
		finish();
		return;
	}
	fetch_bundles(P.self, P.own, P.nown, 1);
	for (i = 0; i < P.njids; i++)
		get_items(P.jids[i], NS_OMEMO_DEVICES, on_devicelist,
		    ticket_new(P.jids[i], 0, 0));
}

static void
start(struct session *s, struct omemo *o, int force, omemo_pep_cb cb, void *ud)
{
	const char *bound = session_bound_jid(s);
	const char *slash = bound ? strchr(bound, '/') : NULL;

	P.gen++;
	P.s = s;
	P.o = o;
	P.cb = cb;
	P.ud = ud;
	P.force = force;
	P.lenient = 0;
	P.published = 0;
	P.pending = 0;
	P.code = 0;
	free(P.why);
	P.why = NULL;
	free(P.own);
	P.own = NULL;
	P.nown = 0;
	free(P.self);
	P.self = bound ? (slash ? xstrndup(bound, (size_t)(slash - bound))
				: xstrdup(bound))
		       : xstrdup(session_domain(s));
}

/* First phase for both: the own device list; its reply publishes. */
static void
read_own_list(void)
{
	get_items(
	    NULL, NS_OMEMO_DEVICES, on_devicelist, ticket_new(P.self, 0, 1));
}

void
omemo_pep_publish(
    struct session *s, struct omemo *o, int force, omemo_pep_cb cb, void *ud)
{
	start(s, o, force, cb, ud);
	P.jids = NULL;
	P.njids = 0;
	read_own_list();
}

void
omemo_pep_prepare(struct session *s, struct omemo *o, const char *const *jids,
    size_t n, omemo_pep_cb cb, void *ud)
{
	start(s, o, 0, cb, ud);
	P.jids = jids;
	P.njids = n;
	read_own_list();
}

void
omemo_pep_fetch(struct session *s, struct omemo *o, const char *const *jids,
    size_t n, omemo_pep_cb cb, void *ud)
{
	size_t i;

	start(s, o, 0, cb, ud);
	P.jids = jids;
	P.njids = n;
	P.published = 1;
	P.lenient = 1;
	for (i = 0; i < n; i++)
		get_items(jids[i], NS_OMEMO_DEVICES, on_devicelist,
		    ticket_new(jids[i], 0, strcmp(jids[i], P.self) == 0));
	step();
}

size_t
omemo_pep_targets(
    struct omemo *o, const char *jid, const char *self, struct omemo_target **t)
{
	struct omemo_device *d;
	const char *who[2] = { jid, self };
	uint32_t me = omemo_device_id(o);
	size_t nd, i, k, n = 0;
	char *err = NULL;

	*t = NULL;
	for (k = 0; k < 2; k++) {
		if (k == 1 && (self == NULL || strcmp(self, jid) == 0))
			break;
		if (omemo_devices(o, who[k], &d, &nd, &err) < 0) {
			free(err);
			err = NULL;
			continue;
		}
		for (i = 0; i < nd; i++) {
			if (!d[i].active || (k == 1 && d[i].id == me) ||
			    !omemo_device_usable(o, who[k], d[i].id) ||
			    !omemo_has_session(o, who[k], d[i].id))
				continue;
			*t = xrealloc(*t, (n + 1) * sizeof(**t));
			(*t)[n].jid = who[k];
			(*t)[n].rid = d[i].id;
			n++;
		}
		omemo_devices_free(d, nd);
		if (k == 0 && n == 0)
			return 0;
	}
	return n;
}

void
omemo_pep_release(void)
{
	P.gen++;
	P.cb = NULL;
	free(P.why);
	P.why = NULL;
	free(P.own);
	P.own = NULL;
	P.nown = 0;
	free(P.self);
	P.self = NULL;
}

/* mkdir 'path' (0700) unless it exists. */
static int
make_dir(const char *path, char **errstr)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	*errstr = xasprintf("%s: %s", path, strerror(errno));
	return -1;
}

char *
omemo_pep_store_dir(char **errstr)
{
	const char *data = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	char *base, *top, *dir;

	if (data && *data == '/')
		base = xstrdup(data);
	else if (home && *home == '/') {
		top = xasprintf("%s/.local", home);
		base = xasprintf("%s/share", top);
		if (make_dir(top, errstr) < 0) {
			free(top);
			free(base);
			return NULL;
		}
		free(top);
	} else {
		*errstr = xstrdup("neither XDG_DATA_HOME nor HOME is set: no "
				  "place for the OMEMO keys");
		return NULL;
	}
	top = xasprintf("%s/xmpptools", base);
	dir = xasprintf("%s/omemo", top);
	if (make_dir(base, errstr) < 0 || make_dir(top, errstr) < 0) {
		free(dir);
		dir = NULL;
	}
	free(base);
	free(top);
	return dir;
}
