/* SPDX-License-Identifier: MIT */
/* omemo_pep.h -- OMEMO over XMPP: device lists, bundles, <encrypted/> */

#ifndef XMPPTOOLS_OMEMO_PEP_H
#define XMPPTOOLS_OMEMO_PEP_H

#include <stdint.h>
#include <strophe.h>

#include "omemo.h"
#include "session.h"

/*
 * The XMPP side of OMEMO 0.3 (XEP-0384 v0.3, eu.siacs.conversations.axolotl)
 * and OMEMO 2 (XEP-0384 0.8+, urn:xmpp:omemo:2, with XEP-0420 envelopes):
 * what omemo.c keeps and computes travels as PEP items (XEP-0163) and
 * message elements built and read here.  The builders and parsers are pure;
 * omemo_pep_prepare() and omemo_pep_publish() talk to the server through
 * the session and report once, through their callback.  Nothing here
 * writes stdout or exits.
 */

#define NS_OMEMO "eu.siacs.conversations.axolotl"
#define NS_OMEMO_DEVICES "eu.siacs.conversations.axolotl.devicelist"
#define NS_OMEMO_BUNDLES "eu.siacs.conversations.axolotl.bundles:"
#define NS_OMEMO2 "urn:xmpp:omemo:2"
#define NS_OMEMO2_DEVICES "urn:xmpp:omemo:2:devices"
#define NS_OMEMO2_BUNDLES "urn:xmpp:omemo:2:bundles"
#define NS_SCE "urn:xmpp:sce:1"
#define NS_EME "urn:xmpp:eme:0"
#define NS_PUBSUB "http://jabber.org/protocol/pubsub"
#ifndef NS_XDATA
#define NS_XDATA "jabber:x:data"
#endif

/* The body a client without OMEMO shows instead of the message. */
#define OMEMO_FALLBACK                                                         \
	"This message is encrypted with OMEMO, which your client does not "    \
	"support."

/* <list xmlns=NS_OMEMO><device id/>...</list>, a new stanza. */
xmpp_stanza_t *
omemo_pep_devicelist(xmpp_ctx_t *ctx, const uint32_t *ids, size_t n);

/* <devices xmlns=NS_OMEMO2> for OMEMO_V2, else as omemo_pep_devicelist(). */
xmpp_stanza_t *omemo_pep_devicelist_version(
    xmpp_ctx_t *ctx, int version, const uint32_t *ids, size_t n);

/*
 * omemo_pep_parse_devicelist()
 *
 * The device ids of a <list/> (or of the pubsub <items/> reply holding
 * one): *ids allocated (caller frees; NULL when none).
 * Ids that are not numbers from 1 to 2^31-1 are skipped.  Returns 0, or -1 when
 * 'st' holds no list at all.
 */
int omemo_pep_parse_devicelist(xmpp_stanza_t *st, uint32_t **ids, size_t *n);

/* The same for the list of version 'ver' (omemo_pep_parse_devicelist():
 * OMEMO_V03, <list/>; OMEMO_V2, <devices xmlns=NS_OMEMO2/>). */
int omemo_pep_parse_devicelist_version(
    xmpp_stanza_t *st, int ver, uint32_t **ids, size_t *n);

/* <bundle xmlns=NS_OMEMO>...</bundle> of 'b' (borrowed), a new stanza;
 * <bundle xmlns=NS_OMEMO2> with <spk/>, <spks/>, <ik/>, <prekeys><pk/> when
 * b->version is OMEMO_V2. */
xmpp_stanza_t *omemo_pep_bundle(xmpp_ctx_t *ctx, const struct omemo_bundle *b);

/*
 * omemo_pep_parse_bundle()
 *
 * Reads a 0.3 <bundle/> (or the pubsub reply holding one) into 'b'
 * (cleared first; release it with omemo_bundle_clear()).  Returns 0, or -1 with
 * *errstr (allocated) naming what is missing.
 */
int omemo_pep_parse_bundle(
    xmpp_stanza_t *st, struct omemo_bundle *b, char **errstr);

/* The same for a bundle of 'version' (omemo_pep_parse_bundle(): OMEMO_V03);
 * b->version is set. */
int omemo_pep_parse_bundle_version(
    xmpp_stanza_t *st, int version, struct omemo_bundle *b, char **errstr);

/* <encrypted xmlns=NS_OMEMO> of 'm' (borrowed), a new stanza; with
 * m->version OMEMO_V2 <encrypted xmlns=NS_OMEMO2>: no <iv/>, the keys in a
 * <keys jid/> per recipient JID (the keys' jid), kex='true' on a key
 * exchange. */
xmpp_stanza_t *omemo_pep_encrypted(xmpp_ctx_t *ctx, const struct omemo_msg *m);

/*
 * omemo_pep_parse_encrypted()
 *
 * Reads an <encrypted/> element of either version into 'm' (cleared
 * first, m->version set; release it with omemo_msg_clear(); the keys' jid
 * is NULL with 0.3, the <keys jid/> of each key with OMEMO 2).  Returns 0, or
 * -1 with *errstr (allocated).
 */
int omemo_pep_parse_encrypted(
    xmpp_stanza_t *enc, struct omemo_msg *m, char **errstr);

/*
 * omemo_pep_seal()
 *
 * Turns the message 'msg' (a stanza_message() with no body of its own)
 * into an OMEMO message: the <encrypted/> element 'enc' (borrowed,
 * copied), the XEP-0380 <encryption/> hint (naming the version of 'enc'), the
 * fallback body and the XEP-0334 <store/> hint (so archives and offline storage
 * keep it).
 */
void omemo_pep_seal(xmpp_stanza_t *msg, xmpp_stanza_t *enc);

/*
 * omemo_pep_open_message()
 *
 * For an incoming message 'msg' (borrowed) from 'from' (bare JID): 0 when
 * it carries no OMEMO element; 1 when it was decrypted (*body allocated,
 * *dev the sender's device, *prekey 1 for a key exchange: the bundle is
 * to be published again); -1 when it cannot be (*errstr allocated, *dev
 * the sender's device or 0).
 */
int omemo_pep_open_message(struct omemo *o, xmpp_stanza_t *msg,
    const char *from, char **body, uint32_t *dev, int *prekey, char **errstr);

/*
 * omemo_pep_open_message_for()
 *
 * omemo_pep_open_message() for the account 'self' (bare JID, or NULL: any
 * recipient JID).  An OMEMO 2 element (taken before a 0.3 one) is
 * decrypted with the key for our device among the <keys/> of 'self'; its
 * plaintext is a XEP-0420 envelope whose <from jid/> must be 'from'
 * (else -1 and *errstr), and *body is the envelope's body.
 */
int omemo_pep_open_message_for(struct omemo *o, xmpp_stanza_t *msg,
    const char *from, const char *self, char **body, uint32_t *dev, int *prekey,
    char **errstr);

/*
 * omemo_pep_envelope()
 *
 * The XEP-0420 envelope OMEMO 2 encrypts: <envelope xmlns=NS_SCE><content>
 * <body xmlns='jabber:client'>BODY</body></content><rpad>random</rpad>
 * <from jid=FROM/></envelope>, serialized; allocated (caller frees), NULL
 * when it cannot be serialized.
 */
char *omemo_pep_envelope(xmpp_ctx_t *ctx, const char *body, const char *from);

/* 'code' is an exit code (xmpptools.h), 'why' one line (NULL with 0). */
typedef void (*omemo_pep_cb)(
    struct session *s, int code, const char *why, void *ud);

/*
 * omemo_pep_publish()
 *
 * Makes the account's device known under both versions: reads the own
 * device lists (0.3 and OMEMO 2), adds this device to each that lacks it
 * (keeping the others), and publishes both bundles when the device was
 * missing or 'force' is set or pre-keys were used since the last bundle.
 * Every node is published with access_model 'open' (contacts fetch them
 * without a subscription); the OMEMO 2 bundles node (one item per device)
 * with max_items 'max', or, where publish-options refuse it (ejabberd),
 * without, and the node is then configured to max (a warning if not).
 * 'o' is borrowed and must outlive the call.
 */
void omemo_pep_publish(
    struct session *s, struct omemo *o, int force, omemo_pep_cb cb, void *ud);

/*
 * omemo_pep_prepare()
 *
 * Everything needed to encrypt for 'jids' (n bare JIDs, borrowed until the
 * callback): publishes the own device (as omemo_pep_publish()), reads the
 * device lists of each JID (OMEMO 2 first: a JID that announces OMEMO 2
 * devices is encrypted for with OMEMO 2 only, else 0.3) and of the account
 * itself (both), and builds a session of that version from the bundle of
 * every usable device without one.  Fails, naming the
 * JID and the reason, when a JID has no device, a bundle cannot be fetched
 * or read, or no device of a JID is usable (trust).
 */
void omemo_pep_prepare(struct session *s, struct omemo *o,
    const char *const *jids, size_t n, omemo_pep_cb cb, void *ud);

/*
 * omemo_pep_fetch()
 *
 * For xroster: reads the device lists of both versions of 'jids' and the
 * bundles of their devices without a session (so that each device's identity
 * and fingerprint are known), without publishing anything.  A bundle that
 * cannot be fetched is a warning; a JID without devices, a failure.
 */
void omemo_pep_fetch(struct session *s, struct omemo *o,
    const char *const *jids, size_t n, omemo_pep_cb cb, void *ud);

/*
 * omemo_pep_targets_version()
 *
 * The devices one message to 'jid' in version 'ver' is encrypted for: the
 * usable devices of 'jid' in its device list of that version with a
 * session of that version, then those of the account 'self' other than
 * this one.  *t allocated (caller frees; the jid strings are borrowed from
 * the arguments); returns their number, or 0 when 'jid' has none.
 */
size_t omemo_pep_targets_version(struct omemo *o, int ver, const char *jid,
    const char *self, struct omemo_target **t);

/* The version a message to 'jid' is encrypted with: OMEMO_V2 when its last
 * OMEMO 2 device list seen names a device, else OMEMO_V03. */
int omemo_pep_version_for(struct omemo *o, const char *jid);

/*
 * omemo_pep_seal_body()
 *
 * Encrypts 'body' for the usable devices of 'bare' and the other devices
 * of the account 'self' (bare JIDs), in the version 'bare' announces
 * (omemo_pep_version_for(); OMEMO 2 in a XEP-0420 envelope from 'self'),
 * and seals 'msg' with it (omemo_pep_seal()).  Returns 0, or an exit code
 * (XEXIT_REJECTED when 'bare' has no usable device) with *errstr: one
 * line naming the recipient, allocated.
 */
int omemo_pep_seal_body(struct omemo *o, xmpp_stanza_t *msg, const char *body,
    const char *bare, const char *self, char **errstr);

/* Releases what the last preparation kept (it may have been cut short by
 * the end of the run), with the requests still unanswered: call it after
 * session_free(), or once the session runs no more. */
void omemo_pep_release(void);

/*
 * omemo_pep_open()
 *
 * Opens the key store of 'jid' (its bare part) under
 * omemo_pep_store_dir(): the store, or NULL with *errstr (one line,
 * allocated).
 */
struct omemo *omemo_pep_open(const char *jid, char **errstr);

/*
 * omemo_pep_store_dir()
 *
 * The directory of the key stores: $XDG_DATA_HOME/xmpptools/omemo, else
 * ~/.local/share/xmpptools/omemo; the directories above it are created
 * (0700) when missing.  Allocated, or NULL with *errstr.
 */
char *omemo_pep_store_dir(char **errstr);

#endif
