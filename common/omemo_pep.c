/* SPDX-License-Identifier: MIT */
/* omemo_pep.c -- OMEMO over XMPP: device lists, bundles, <encrypted/> */

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

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

/* The element 'name' in namespace 'ns': 'st' itself, or the one in the
 * item of a pubsub reply (iq/pubsub/items/item/name; an RSM <set/> may
 * come before the items). */
static xmpp_stanza_t *
payload(xmpp_stanza_t *st, const char *name, const char *ns)
{
	xmpp_stanza_t *c;
	const char *n = xmpp_stanza_get_name(st);

	if (n && strcmp(n, name) == 0)
		return xmpp_stanza_get_ns(st) &&
			strcmp(xmpp_stanza_get_ns(st), ns) == 0
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
	return xmpp_stanza_get_child_by_name_and_ns(st, name, ns);
}

/* The OMEMO element of version 'ver' in 'st' (see payload()): the 0.3
 * one named 'name03' or the OMEMO 2 one named 'name2'. */
static xmpp_stanza_t *
payload_of(xmpp_stanza_t *st, int ver, const char *name03, const char *name2)
{
	return ver == OMEMO_V2 ? payload(st, name2, NS_OMEMO2)
			       : payload(st, name03, NS_OMEMO);
}

xmpp_stanza_t *
omemo_pep_devicelist(xmpp_ctx_t *ctx, const uint32_t *ids, size_t n)
{
	return omemo_pep_devicelist_version(ctx, OMEMO_V03, ids, n);
}

xmpp_stanza_t *
omemo_pep_devicelist_version(
    xmpp_ctx_t *ctx, int version, const uint32_t *ids, size_t n)
{
	xmpp_stanza_t *list = xmpp_stanza_new(ctx), *d;
	size_t i;

	xmpp_stanza_set_name(list, version == OMEMO_V2 ? "devices" : "list");
	xmpp_stanza_set_ns(list, version == OMEMO_V2 ? NS_OMEMO2 : NS_OMEMO);
	for (i = 0; i < n; i++) {
		d = child(list, "device", NULL, NULL);
		set_uint(d, "id", ids[i]);
	}
	return list;
}

int
omemo_pep_parse_devicelist(xmpp_stanza_t *st, uint32_t **ids, size_t *n)
{
	return omemo_pep_parse_devicelist_version(st, OMEMO_V03, ids, n);
}

int
omemo_pep_parse_devicelist_version(
    xmpp_stanza_t *st, int ver, uint32_t **ids, size_t *n)
{
	xmpp_stanza_t *list = payload_of(st, ver, "list", "devices"), *d;
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

/* The element and attribute names of a bundle in each version. */
struct bundle_names {
	const char *ns, *spk, *spk_id, *spks, *ik, *pk, *pk_id;
};

static const struct bundle_names bundle03 = { NS_OMEMO, "signedPreKeyPublic",
	"signedPreKeyId", "signedPreKeySignature", "identityKey",
	"preKeyPublic", "preKeyId" };
static const struct bundle_names bundle2 = { NS_OMEMO2, "spk", "id", "spks",
	"ik", "pk", "id" };

xmpp_stanza_t *
omemo_pep_bundle(xmpp_ctx_t *ctx, const struct omemo_bundle *b)
{
	const struct bundle_names *nm =
	    b->version == OMEMO_V2 ? &bundle2 : &bundle03;
	xmpp_stanza_t *bundle = xmpp_stanza_new(ctx), *c, *pks;
	size_t i;

	xmpp_stanza_set_name(bundle, "bundle");
	xmpp_stanza_set_ns(bundle, nm->ns);
	c = child(bundle, nm->spk, NULL, b->spk);
	set_uint(c, nm->spk_id, b->spk_id);
	child(bundle, nm->spks, NULL, b->spk_sig);
	child(bundle, nm->ik, NULL, b->ik);
	pks = child(bundle, "prekeys", NULL, NULL);
	for (i = 0; i < b->npk; i++) {
		c = child(pks, nm->pk, NULL, b->pk[i].pub);
		set_uint(c, nm->pk_id, b->pk[i].id);
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
	return omemo_pep_parse_bundle_version(st, OMEMO_V03, b, errstr);
}

int
omemo_pep_parse_bundle_version(
    xmpp_stanza_t *st, int version, struct omemo_bundle *b, char **errstr)
{
	xmpp_stanza_t *bundle = payload_of(st, version, "bundle", "bundle"), *c,
		      *pks;
	int v2 = version == OMEMO_V2;
	const struct bundle_names *nm = v2 ? &bundle2 : &bundle03;
	uint32_t id;

	memset(b, 0, sizeof(*b));
	if (bundle == NULL) {
		*errstr = xstrdup("no bundle in the reply");
		return -1;
	}
	b->version = v2 ? OMEMO_V2 : OMEMO_V03;
	c = xmpp_stanza_get_child_by_name(bundle, nm->spk);
	if ((b->spk = b64_text(c)) == NULL ||
	    (b->spk_id = get_uint(c, nm->spk_id)) == 0)
		return bundle_fail(b, errstr, "signed pre-key");
	c = xmpp_stanza_get_child_by_name(bundle, nm->spks);
	if ((b->spk_sig = b64_text(c)) == NULL)
		return bundle_fail(b, errstr, "signed pre-key signature");
	c = xmpp_stanza_get_child_by_name(bundle, nm->ik);
	if ((b->ik = b64_text(c)) == NULL)
		return bundle_fail(b, errstr, "identity key");
	pks = xmpp_stanza_get_child_by_name(bundle, "prekeys");
	for (c = pks ? xmpp_stanza_get_children(pks) : NULL; c;
	     c = xmpp_stanza_get_next(c)) {
		if (!xmpp_stanza_is_tag(c) ||
		    strcmp(xmpp_stanza_get_name(c), nm->pk) != 0 ||
		    (id = get_uint(c, nm->pk_id)) == 0)
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

/* The OMEMO 2 header of 'm': the keys grouped by recipient JID, a
 * <keys/> per JID in the order the JIDs first come. */
static void
header2(xmpp_stanza_t *hdr, const struct omemo_msg *m)
{
	xmpp_stanza_t *keys, *k;
	size_t i, j;

	for (i = 0; i < m->nkeys; i++) {
		const char *jid = m->keys[i].jid ? m->keys[i].jid : "";
		for (j = 0; j < i; j++)
			if (strcmp(m->keys[j].jid ? m->keys[j].jid : "", jid) ==
			    0)
				break;
		if (j < i)
			continue; /* that JID's <keys/> is written */
		keys = child(hdr, "keys", NULL, NULL);
		xmpp_stanza_set_attribute(keys, "jid", jid);
		for (j = i; j < m->nkeys; j++) {
			if (strcmp(m->keys[j].jid ? m->keys[j].jid : "", jid) !=
			    0)
				continue;
			k = child(keys, "key", NULL, m->keys[j].data);
			set_uint(k, "rid", m->keys[j].rid);
			if (m->keys[j].prekey) /* never kex='false' */
				xmpp_stanza_set_attribute(k, "kex", "true");
		}
	}
}

xmpp_stanza_t *
omemo_pep_encrypted(xmpp_ctx_t *ctx, const struct omemo_msg *m)
{
	xmpp_stanza_t *enc = xmpp_stanza_new(ctx), *hdr, *k;
	size_t i;

	if (m->version == OMEMO_V2) {
		xmpp_stanza_set_name(enc, "encrypted");
		xmpp_stanza_set_ns(enc, NS_OMEMO2);
		hdr = child(enc, "header", NULL, NULL);
		set_uint(hdr, "sid", m->sid);
		header2(hdr, m);
		if (m->payload)
			child(enc, "payload", NULL, m->payload);
		return enc;
	}
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

/* One <key/> 'k' into the keys of 'm' (skipped when malformed); 'jid' the
 * recipient (OMEMO 2) or NULL, 'attr' the name of the key exchange flag. */
static void
add_key(
    struct omemo_msg *m, xmpp_stanza_t *k, const char *jid, const char *attr)
{
	struct omemo_key *key;
	const char *pre;

	if (!xmpp_stanza_is_tag(k) ||
	    strcmp(xmpp_stanza_get_name(k), "key") != 0)
		return;
	m->keys = xrealloc(m->keys, (m->nkeys + 1) * sizeof(*m->keys));
	key = &m->keys[m->nkeys];
	memset(key, 0, sizeof(*key));
	if ((key->rid = get_uint(k, "rid")) == 0 ||
	    (key->data = b64_text(k)) == NULL) {
		free(key->data);
		return;
	}
	pre = xmpp_stanza_get_attribute(k, attr);
	key->prekey =
	    pre && (strcmp(pre, "true") == 0 || strcmp(pre, "1") == 0);
	key->jid = jid ? xstrdup(jid) : NULL;
	m->nkeys++;
}

/* The header of an OMEMO 2 <encrypted/>: keys of every <keys jid/>. */
static int
parse_header2(
    xmpp_stanza_t *enc, xmpp_stanza_t *hdr, struct omemo_msg *m, char **errstr)
{
	xmpp_stanza_t *keys, *k;
	const char *jid;

	for (keys = xmpp_stanza_get_children(hdr); keys;
	     keys = xmpp_stanza_get_next(keys)) {
		if (!xmpp_stanza_is_tag(keys) ||
		    strcmp(xmpp_stanza_get_name(keys), "keys") != 0 ||
		    (jid = xmpp_stanza_get_attribute(keys, "jid")) == NULL)
			continue;
		for (k = xmpp_stanza_get_children(keys); k;
		     k = xmpp_stanza_get_next(k))
			add_key(m, k, jid, "kex");
	}
	if (m->nkeys == 0)
		return enc_fail(m, errstr, "no key");
	m->payload = b64_text(xmpp_stanza_get_child_by_name(enc, "payload"));
	return 0;
}

int
omemo_pep_parse_encrypted(
    xmpp_stanza_t *enc, struct omemo_msg *m, char **errstr)
{
	xmpp_stanza_t *hdr, *k;
	const char *ns = xmpp_stanza_get_ns(enc);

	memset(m, 0, sizeof(*m));
	hdr = xmpp_stanza_get_child_by_name(enc, "header");
	if (hdr == NULL || (m->sid = get_uint(hdr, "sid")) == 0)
		return enc_fail(m, errstr, "no header with a sender device");
	if (ns && strcmp(ns, NS_OMEMO2) == 0) {
		m->version = OMEMO_V2;
		return parse_header2(enc, hdr, m, errstr);
	}
	if ((m->iv = b64_text(xmpp_stanza_get_child_by_name(hdr, "iv"))) ==
	    NULL)
		return enc_fail(m, errstr, "no iv");
	for (k = xmpp_stanza_get_children(hdr); k; k = xmpp_stanza_get_next(k))
		add_key(m, k, NULL, "prekey");
	if (m->nkeys == 0)
		return enc_fail(m, errstr, "no key");
	m->payload = b64_text(xmpp_stanza_get_child_by_name(enc, "payload"));
	return 0;
}

void
omemo_pep_seal(xmpp_stanza_t *msg, xmpp_stanza_t *enc)
{
	xmpp_stanza_t *c;
	const char *ns = xmpp_stanza_get_ns(enc);

	xmpp_stanza_add_child(msg, enc);
	c = child(msg, "encryption", NS_EME, NULL);
	xmpp_stanza_set_attribute(c, "namespace",
	    ns && strcmp(ns, NS_OMEMO2) == 0 ? NS_OMEMO2 : NS_OMEMO);
	xmpp_stanza_set_attribute(c, "name", "OMEMO");
	child(msg, "body", NULL, OMEMO_FALLBACK);
	child(msg, "store", NS_HINTS, NULL);
}

char *
omemo_pep_envelope(xmpp_ctx_t *ctx, const char *body, const char *from)
{
	xmpp_stanza_t *env = xmpp_stanza_new(ctx), *c;
	unsigned char rnd[33];
	char pad[67], *text = NULL, *out;
	size_t i, n, len = 0;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0, sizeof(rnd));
	n = 1 + rnd[0] % 32; /* 1 to 32 random bytes, in hex */
	for (i = 0; i < n; i++)
		snprintf(pad + 2 * i, 3, "%02x", rnd[i + 1]);
	xmpp_stanza_set_name(env, "envelope");
	xmpp_stanza_set_ns(env, NS_SCE);
	c = child(env, "content", NULL, NULL);
	child(c, "body", "jabber:client", body);
	child(env, "rpad", NULL, pad);
	c = child(env, "from", NULL, NULL);
	xmpp_stanza_set_attribute(c, "jid", from);
	if (xmpp_stanza_to_text(env, &text, &len) != XMPP_EOK)
		text = NULL;
	xmpp_stanza_release(env);
	if (text == NULL)
		return NULL;
	out = xstrdup(text);
	xmpp_free(ctx, text);
	return out;
}

/* The body of the XEP-0420 envelope 'xml' from 'from': allocated, or
 * NULL with *errstr when it is no envelope, has no body or names another
 * sender. */
static char *
envelope_body(xmpp_ctx_t *ctx, const char *xml, const char *from, char **errstr)
{
	xmpp_stanza_t *env = xmpp_stanza_new_from_string(ctx, xml), *c, *b;
	const char *ns = env ? xmpp_stanza_get_ns(env) : NULL, *jid;
	char *t, *body = NULL;

	if (env == NULL || ns == NULL || strcmp(ns, NS_SCE) != 0 ||
	    strcmp(xmpp_stanza_get_name(env), "envelope") != 0) {
		*errstr = xstrdup("OMEMO 2: the plaintext is no XEP-0420 "
				  "envelope");
	} else if ((c = xmpp_stanza_get_child_by_name_and_ns(
			env, "from", NS_SCE)) == NULL ||
	    (jid = xmpp_stanza_get_attribute(c, "jid")) == NULL ||
	    !jid_same_bare(jid, from)) {
		*errstr = xasprintf("OMEMO 2: the envelope's sender is not %s "
				    "(forged or misdirected)",
		    from);
	} else if ((c = xmpp_stanza_get_child_by_name_and_ns(
			env, "content", NS_SCE)) == NULL ||
	    (b = xmpp_stanza_get_child_by_name_and_ns(
		 c, "body", "jabber:client")) == NULL) {
		*errstr = xstrdup("OMEMO 2: the envelope has no body");
	} else {
		t = xmpp_stanza_get_text(b);
		body = xstrdup(t ? t : "");
		xmpp_free(ctx, t);
	}
	if (env)
		xmpp_stanza_release(env);
	return body;
}

/* The keys of 'm' addressed to another JID than 'self' are dropped. */
static void
keep_own_keys(struct omemo_msg *m, const char *self)
{
	size_t i, k = 0;

	for (i = 0; i < m->nkeys; i++) {
		if (m->keys[i].jid && !jid_same_bare(m->keys[i].jid, self)) {
			free(m->keys[i].jid);
			free(m->keys[i].data);
			continue;
		}
		m->keys[k++] = m->keys[i];
	}
	m->nkeys = k;
}

int
omemo_pep_open_message(struct omemo *o, xmpp_stanza_t *msg, const char *from,
    char **body, uint32_t *dev, int *prekey, char **errstr)
{
	return omemo_pep_open_message_for(
	    o, msg, from, NULL, body, dev, prekey, errstr);
}

int
omemo_pep_open_message_for(struct omemo *o, xmpp_stanza_t *msg,
    const char *from, const char *self, char **body, uint32_t *dev, int *prekey,
    char **errstr)
{
	xmpp_stanza_t *enc;
	struct omemo_msg m;
	char *plain = NULL;
	int rc;

	*body = NULL;
	*dev = 0;
	*prekey = 0;
	enc = xmpp_stanza_get_child_by_name_and_ns(msg, "encrypted", NS_OMEMO2);
	if (enc == NULL)
		enc = xmpp_stanza_get_child_by_name_and_ns(
		    msg, "encrypted", NS_OMEMO);
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
	if (self != NULL)
		keep_own_keys(&m, self);
	rc = omemo_decrypt(o, from, &m, &plain, prekey, errstr);
	if (rc == 0 && m.version == OMEMO_V2) {
		*body = envelope_body(
		    xmpp_stanza_get_context(msg), plain, from, errstr);
		util_secure_free(plain);
		rc = *body != NULL ? 0 : -1;
	} else if (rc == 0)
		*body = plain;
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
	int ver; /* enum omemo_version of the node */
	int stage; /* OMEMO 2 bundle: 0 published with max_items, 1 again
		      without it (ejabberd), 2 the node configured, 3
		      published without it (the node configured before) */
	int had2; /* 0.3 list read after an OMEMO 2 list with devices */
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
	uint32_t *own; /* the own device lists as read: 0.3 */
	size_t nown;
	uint32_t *own2; /* OMEMO 2 */
	size_t nown2;
	int own_read; /* how many of the two own lists arrived */
	int no_max; /* the server took no max_items in publish-options:
		       later OMEMO 2 bundles go without (kept across rounds) */
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
	struct ticket *prev, *next; /* every ticket not yet answered */
};

/* The tickets in flight: omemo_pep_release() frees those that a run
 * ended before their answer. */
static struct ticket *tickets;

static struct ticket *
ticket_new(const char *jid, uint32_t dev, int self, int ver)
{
	struct ticket *t = xcalloc(1, sizeof(*t));

	t->next = tickets;
	if (tickets)
		tickets->prev = t;
	tickets = t;
	t->gen = P.gen;
	t->r.jid = xstrdup(jid);
	t->r.dev = dev;
	t->r.self = self;
	t->r.ver = ver;
	return t;
}

static void
ticket_free(struct ticket *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		tickets = t->next;
	if (t->next)
		t->next->prev = t->prev;
	free(t->r.jid);
	free(t);
}

/* <iq type='get' to=JID><pubsub><items node=NODE max_items='1'/>...; with
 * 'item' the one item of that id instead. */
static void
get_items(const char *to, const char *node, const char *item,
    session_stanza_cb cb, struct ticket *t)
{
	xmpp_ctx_t *ctx = session_ctx(P.s);
	char *id = session_new_id(P.s);
	xmpp_stanza_t *iq = xmpp_iq_new(ctx, "get", id), *ps, *items;

	if (to)
		xmpp_stanza_set_to(iq, to);
	ps = child(iq, "pubsub", NS_PUBSUB, NULL);
	items = child(ps, "items", NULL, NULL);
	xmpp_stanza_set_attribute(items, "node", node);
	if (item)
		xmpp_stanza_set_attribute(
		    child(items, "item", NULL, NULL), "id", item);
	else
		xmpp_stanza_set_attribute(items, "max_items", "1");
	P.pending++;
	session_request(P.s, iq, cb, t);
	xmpp_stanza_release(iq);
	free(id);
}

/* A data form field var=value in 'x'. */
static void
field(xmpp_stanza_t *x, const char *var, const char *value, int hidden)
{
	xmpp_stanza_t *f = child(x, "field", NULL, NULL);

	xmpp_stanza_set_attribute(f, "var", var);
	if (hidden)
		xmpp_stanza_set_type(f, "hidden");
	child(f, "value", NULL, value);
}

/* Publishes 'item' (taken over) to the own node 'node' as item 'item_id',
 * open to everyone; with 'max' the node keeps as many items as it may. */
static void
publish(const char *node, const char *item_id, xmpp_stanza_t *item, int max,
    session_stanza_cb cb, struct ticket *t)
{
	xmpp_ctx_t *ctx = session_ctx(P.s);
	char *id = session_new_id(P.s);
	xmpp_stanza_t *iq = xmpp_iq_new(ctx, "set", id), *ps, *pub, *it, *x;

	ps = child(iq, "pubsub", NS_PUBSUB, NULL);
	pub = child(ps, "publish", NULL, NULL);
	xmpp_stanza_set_attribute(pub, "node", node);
	it = child(pub, "item", NULL, NULL);
	xmpp_stanza_set_attribute(it, "id", item_id);
	xmpp_stanza_add_child_ex(it, item, 0);
	x = child(
	    child(ps, "publish-options", NULL, NULL), "x", NS_XDATA, NULL);
	xmpp_stanza_set_type(x, "submit");
	field(x, "FORM_TYPE",
	    "http://jabber.org/protocol/pubsub#publish-options", 1);
	field(x, "pubsub#access_model", "open", 0);
	if (max)
		field(x, "pubsub#max_items", "max", 0);
	P.pending++;
	session_request(P.s, iq, cb, t);
	xmpp_stanza_release(iq);
	free(id);
}

/* Sets pubsub#max_items of the own node 'node' to max (servers that take
 * no max_items in publish-options, as ejabberd 23.01). */
static void
configure_max(const char *node, session_stanza_cb cb, struct ticket *t)
{
	xmpp_ctx_t *ctx = session_ctx(P.s);
	char *id = session_new_id(P.s);
	xmpp_stanza_t *iq = xmpp_iq_new(ctx, "set", id), *cf, *x;

	cf = child(child(iq, "pubsub", NS_PUBSUB "#owner", NULL), "configure",
	    NULL, NULL);
	xmpp_stanza_set_attribute(cf, "node", node);
	x = child(cf, "x", NS_XDATA, NULL);
	xmpp_stanza_set_type(x, "submit");
	field(
	    x, "FORM_TYPE", "http://jabber.org/protocol/pubsub#node_config", 1);
	field(x, "pubsub#max_items", "max", 0);
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

static const char *
vname(int ver)
{
	return ver == OMEMO_V2 ? "2 " : "";
}

static void publish_bundle(int ver, int stage);

static int
on_published(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct ticket *t = ud;
	char *cond;

	(void)s;
	if (!arrived(t))
		goto out;
	if (is_error(st) && t->r.stage == 0 && t->r.dev &&
	    t->r.ver == OMEMO_V2) {
		P.no_max = 1;
		publish_bundle(OMEMO_V2, 1); /* again, without max_items */
	} else if (is_error(st) && t->r.stage == 2) {
		cond = condition(st);
		xwarn("OMEMO: the OMEMO 2 bundles node keeps its default "
		      "number of items: %s",
		    cond);
		free(cond);
	} else if (is_error(st)) {
		cond = condition(st);
		fail(XEXIT_REJECTED,
		    xasprintf("OMEMO: publishing the %s%s refused: %s",
			vname(t->r.ver), t->r.dev ? "bundle" : "device list",
			cond));
		free(cond);
	} else if (t->r.stage == 1) {
		struct ticket *c = ticket_new(P.self, t->r.dev, 1, OMEMO_V2);
		c->r.stage = 2;
		configure_max(NS_OMEMO2_BUNDLES, on_published, c);
	}
	step();
out:
	ticket_free(t);
	return 0;
}

/* Publishes the bundle of version 'ver'; 'stage' as in struct req. */
static void
publish_bundle(int ver, int stage)
{
	struct omemo_bundle b;
	uint32_t me = omemo_device_id(P.o);
	struct ticket *t = ticket_new(P.self, me, 1, ver);
	char *err = NULL, *node, *item;

	if (omemo_own_bundle_version(P.o, ver, &b, &err) < 0) {
		fail(XEXIT_CONFIG, xstrdup(err));
		free(err);
		ticket_free(t);
		return;
	}
	/* the node was configured already: no max_items, nothing after */
	t->r.stage = ver == OMEMO_V2 && stage == 0 && P.no_max ? 3 : stage;
	if (ver == OMEMO_V2) {
		node = xstrdup(NS_OMEMO2_BUNDLES);
		item = xasprintf("%lu", (unsigned long)me);
	} else {
		node = xasprintf("%s%lu", NS_OMEMO_BUNDLES, (unsigned long)me);
		item = xstrdup("current");
	}
	publish(node, item, omemo_pep_bundle(session_ctx(P.s), &b),
	    ver == OMEMO_V2 && t->r.stage == 0, on_published, t);
	free(node);
	free(item);
	omemo_bundle_clear(&b);
}

/* Adds this device to the own list of 'ver' ('ids', 'n') and publishes
 * the list when it is missing; returns 1 if it was. */
static int
own_list_of(int ver, uint32_t **ids, size_t *n)
{
	uint32_t me = omemo_device_id(P.o);
	size_t i;

	for (i = 0; i < *n; i++)
		if ((*ids)[i] == me)
			return 0;
	*ids = xrealloc(*ids, (*n + 1) * sizeof(**ids));
	(*ids)[(*n)++] = me;
	publish(ver == OMEMO_V2 ? NS_OMEMO2_DEVICES : NS_OMEMO_DEVICES,
	    "current",
	    omemo_pep_devicelist_version(session_ctx(P.s), ver, *ids, *n), 0,
	    on_published, ticket_new(P.self, 0, 1, ver));
	return 1;
}

/* Both own lists are read: add this device where it is missing, then the
 * bundles of both versions. */
static void
own_list(void)
{
	int missing = own_list_of(OMEMO_V03, &P.own, &P.nown);

	missing |= own_list_of(OMEMO_V2, &P.own2, &P.nown2);
	if (missing || P.force || omemo_bundle_changed(P.o)) {
		publish_bundle(OMEMO_V03, 0);
		publish_bundle(OMEMO_V2, 0);
	}
}

static int on_bundle(struct session *s, xmpp_stanza_t *st, void *ud);

/* Asks for the bundles of version 'ver' of the devices of 'jid' that
 * have no session of that version. */
static void
fetch_bundles(const char *jid, const uint32_t *ids, size_t n, int self, int ver)
{
	uint32_t me = omemo_device_id(P.o);
	char *node, *item;
	size_t i;

	for (i = 0; i < n; i++) {
		if ((self && ids[i] == me) ||
		    omemo_has_session_version(P.o, ver, jid, ids[i]))
			continue;
		item = xasprintf("%lu", (unsigned long)ids[i]);
		node = ver == OMEMO_V2
		    ? xstrdup(NS_OMEMO2_BUNDLES)
		    : xasprintf("%s%s", NS_OMEMO_BUNDLES, item);
		get_items(jid, node, ver == OMEMO_V2 ? item : NULL, on_bundle,
		    ticket_new(jid, ids[i], self, ver));
		free(node);
		free(item);
	}
}

/* The error reply to a device list request: a failure, or none (no node:
 * no device yet; a contact's OMEMO 2 list that cannot be read: 0.3). */
static void
devicelist_error(const struct ticket *t, xmpp_stanza_t *st)
{
	char *cond = condition(st);

	if (strncmp(cond, "item-not-found", 14) == 0 ||
	    (t->r.ver == OMEMO_V2 && !t->r.self))
		xdebug(1, "OMEMO: %s: no %sdevice list: %s", t->r.jid,
		    vname(t->r.ver), cond);
	else if (!t->r.self)
		fail(XEXIT_REJECTED,
		    xasprintf("%s: its OMEMO device list cannot be "
			      "read: %s; nothing sent",
			t->r.jid, cond));
	else
		fail(XEXIT_REJECTED,
		    xasprintf("OMEMO: the own %sdevice list cannot be "
			      "read: %s",
			vname(t->r.ver), cond));
	free(cond);
}

static int on_devicelist(struct session *s, xmpp_stanza_t *st, void *ud);

/* A contact's device list of 'ver' with 'n' devices is read: its bundles,
 * or the 0.3 list when it announces no OMEMO 2 device (xroster reads
 * both), or the failure of a contact without any device. */
static void
contact_list(const struct ticket *t, const uint32_t *ids, size_t n)
{
	struct ticket *next;

	if (t->r.ver == OMEMO_V2 && (n == 0 || P.lenient)) {
		next = ticket_new(t->r.jid, 0, t->r.self, OMEMO_V03);
		next->r.had2 = n > 0;
		get_items(
		    t->r.jid, NS_OMEMO_DEVICES, NULL, on_devicelist, next);
	} else if (n == 0 && !t->r.had2 && !t->r.self)
		fail(XEXIT_REJECTED,
		    xasprintf("%s: no OMEMO device (the contact has published "
			      "none)%s",
			t->r.jid, P.lenient ? "" : "; nothing sent"));
	if (P.code == 0)
		fetch_bundles(t->r.jid, ids, n, t->r.self, t->r.ver);
}

static int
on_devicelist(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct ticket *t = ud;
	uint32_t *ids = NULL;
	size_t n = 0;
	char *err = NULL;

	(void)s;
	if (!arrived(t))
		goto out;
	if (is_error(st))
		devicelist_error(t, st);
	else
		omemo_pep_parse_devicelist_version(st, t->r.ver, &ids, &n);
	if (P.code == 0 &&
	    omemo_set_devices_version(P.o, t->r.ver, t->r.jid, ids, n, &err) <
		0)
		fail(XEXIT_CONFIG, xstrdup(err));
	if (t->r.self && !P.published && P.code == 0) {
		uint32_t **own = t->r.ver == OMEMO_V2 ? &P.own2 : &P.own;
		size_t *nown = t->r.ver == OMEMO_V2 ? &P.nown2 : &P.nown;
		free(*own);
		*own = ids;
		*nown = n;
		ids = NULL;
		if (++P.own_read == 2)
			own_list();
	} else if (P.code == 0)
		contact_list(t, ids, n);
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
		xwarn("OMEMO: %s %sdevice %lu: %s (%s)%s", t->r.jid,
		    vname(t->r.ver), (unsigned long)t->r.dev, what, why,
		    P.lenient ? "" : ": not encrypting for it");
	else
		fail(code,
		    xasprintf("%s: OMEMO %sdevice %lu: %s (%s); nothing sent",
			t->r.jid, vname(t->r.ver), (unsigned long)t->r.dev,
			what, why));
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
	memset(&b, 0, sizeof(b));
	if (is_error(st)) {
		err = condition(st);
		bundle_problem(
		    t, XEXIT_REJECTED, "its bundle cannot be fetched", err);
	} else if (omemo_pep_parse_bundle_version(st, t->r.ver, &b, &err) < 0 &&
	    strcmp(err, "no bundle in the reply") == 0) {
		/* The node holds no item for the device (OMEMO 2 keeps
		 * every device's bundle in one node). */
		bundle_problem(t, XEXIT_REJECTED,
		    "its bundle cannot be fetched", "no such item");
	} else if (err != NULL ||
	    omemo_process_bundle(P.o, t->r.jid, t->r.dev, &b, &err) < 0) {
		bundle_problem(
		    t, XEXIT_PROTOCOL, "its bundle is unusable", err);
	}
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
	int ver;

	for (i = 0; i < P.njids && P.code == 0; i++) {
		ver = omemo_pep_version_for(P.o, P.jids[i]);
		if (omemo_pep_targets_version(
			P.o, ver, P.jids[i], P.self, &t) == 0)
			fail(XEXIT_REJECTED,
			    xasprintf("%s: no trusted OMEMO device (see "
				      "xroster devices); nothing sent",
				P.jids[i]));
		free(t);
		t = NULL;
	}
}

/* Forgets the own lists. */
static void
own_clear(void)
{
	free(P.own);
	P.own = NULL;
	P.nown = 0;
	free(P.own2);
	P.own2 = NULL;
	P.nown2 = 0;
	P.own_read = 0;
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
	own_clear();
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
	/* The own device is published: now the recipients (their OMEMO 2
	 * list first) and the own other devices. */
	P.published = 1;
	if (P.jids == NULL) {
		finish();
		return;
	}
	fetch_bundles(P.self, P.own, P.nown, 1, OMEMO_V03);
	fetch_bundles(P.self, P.own2, P.nown2, 1, OMEMO_V2);
	for (i = 0; i < P.njids; i++)
		get_items(P.jids[i], NS_OMEMO2_DEVICES, NULL, on_devicelist,
		    ticket_new(P.jids[i], 0, 0, OMEMO_V2));
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
	own_clear();
	free(P.self);
	P.self = bound ? (slash ? xstrndup(bound, (size_t)(slash - bound))
				: xstrdup(bound))
		       : xstrdup(session_domain(s));
}

/* First phase for both: the own device lists; their replies publish. */
static void
read_own_list(void)
{
	get_items(NULL, NS_OMEMO_DEVICES, NULL, on_devicelist,
	    ticket_new(P.self, 0, 1, OMEMO_V03));
	get_items(NULL, NS_OMEMO2_DEVICES, NULL, on_devicelist,
	    ticket_new(P.self, 0, 1, OMEMO_V2));
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
		get_items(jids[i], NS_OMEMO2_DEVICES, NULL, on_devicelist,
		    ticket_new(
			jids[i], 0, strcmp(jids[i], P.self) == 0, OMEMO_V2));
	step();
}

int
omemo_pep_version_for(struct omemo *o, const char *jid)
{
	struct omemo_device *d;
	size_t nd, i;
	char *err = NULL;
	int v2 = 0;

	if (omemo_devices(o, jid, &d, &nd, &err) < 0) {
		free(err);
		return OMEMO_V03;
	}
	for (i = 0; i < nd; i++)
		v2 |= d[i].active2;
	omemo_devices_free(d, nd);
	return v2 ? OMEMO_V2 : OMEMO_V03;
}

size_t
omemo_pep_targets_version(struct omemo *o, int ver, const char *jid,
    const char *self, struct omemo_target **t)
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
			if (!(ver == OMEMO_V2 ? d[i].active2 : d[i].active03) ||
			    (k == 1 && d[i].id == me) ||
			    !omemo_device_usable(o, who[k], d[i].id) ||
			    !omemo_has_session_version(o, ver, who[k], d[i].id))
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
	while (tickets)
		ticket_free(tickets);
	P.gen++;
	P.cb = NULL;
	free(P.why);
	P.why = NULL;
	own_clear();
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

int
omemo_pep_seal_body(struct omemo *o, xmpp_stanza_t *msg, const char *body,
    const char *bare, const char *self, char **errstr)
{
	xmpp_ctx_t *ctx = xmpp_stanza_get_context(msg);
	int ver = omemo_pep_version_for(o, bare), rc = XEXIT_OK;
	struct omemo_target *t;
	struct omemo_msg em;
	xmpp_stanza_t *enc;
	char *plain = NULL;
	size_t n;

	*errstr = NULL;
	n = omemo_pep_targets_version(o, ver, bare, self, &t);
	if (n == 0) {
		*errstr = xasprintf("%s: no trusted OMEMO device", bare);
		rc = XEXIT_REJECTED;
	} else if (ver == OMEMO_V2 &&
	    (plain = omemo_pep_envelope(ctx, body, self ? self : bare)) ==
		NULL) {
		*errstr =
		    xasprintf("%s: the OMEMO 2 envelope cannot be built", bare);
		rc = XEXIT_FAILURE;
	} else if (omemo_encrypt_version(
		       o, ver, plain ? plain : body, t, n, &em, errstr) < 0)
		rc = XEXIT_FAILURE;
	else {
		enc = omemo_pep_encrypted(ctx, &em);
		omemo_pep_seal(msg, enc);
		xmpp_stanza_release(enc);
		omemo_msg_clear(&em);
	}
	util_secure_free(plain);
	free(t);
	return rc;
}

struct omemo *
omemo_pep_open(const char *jid, char **errstr)
{
	char *dir = omemo_pep_store_dir(errstr), *me;
	struct omemo *o;

	if (dir == NULL)
		return NULL;
	me = jid_bare_of(jid);
	o = omemo_open(dir, me, errstr);
	free(dir);
	free(me);
	return o;
}
