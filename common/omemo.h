/* SPDX-License-Identifier: MIT */
/* omemo.h -- OMEMO encryption engine, OMEMO 0.3
 * (eu.siacs.conversations.axolotl) and OMEMO 2 (urn:xmpp:omemo:2): the
 * account's key store, device trust, sessions, message crypto */

#ifndef XMPPTOOLS_OMEMO_H
#define XMPPTOOLS_OMEMO_H

#include <stddef.h>
#include <stdint.h>

/*
 * The engine knows nothing of XMPP streams: it turns bundles, device lists
 * and <encrypted> elements (already parsed into the structs below) into
 * sessions and plaintext, and back.  The store is a directory per account;
 * every public operation takes an exclusive lock on it and reads and writes
 * the records on disk, so two processes of the same account (xsend and a
 * running xlisten) can share a device.
 *
 * If a function with an 'errstr' argument fails (returns -1), '*errstr'
 * points to an allocated one-line message (no trailing newline) naming the
 * JID, device or file concerned, never key material; the caller frees it.
 * On success 'errstr' is not changed.  Result out-parameters are set only
 * on success.
 */

struct omemo; /* one account's store, opened */

/*
 * The two versions share the identity key, the device id, the signed
 * pre-key and the pre-keys; a device has one session per version.  Where a
 * struct or function takes a 'version', it is one of these (0, the
 * default of a zeroed struct, is OMEMO 0.3).
 */
enum omemo_version { OMEMO_V03 = 0, OMEMO_V2 = 2 };

struct omemo_bundle { /* all strings base64, owned by the struct */
	char *ik; /* identity public key: 0.3 33 bytes (0x05 and Curve25519),
		     2 the 32-byte Ed25519 form */
	uint32_t spk_id;
	char *spk; /* signed pre-key public (0.3: 0x05 prefix; 2: none) */
	char *spk_sig; /* its signature (64 bytes; 0.3 over the prefixed
			  key, 2 over the 32 bytes) */
	size_t npk;
	struct omemo_prekey {
		uint32_t id;
		char *pub;
	} * pk;
	int version; /* enum omemo_version */
};

struct omemo_key { /* one <key rid=...> */
	char *jid; /* bare JID of the recipient (encrypt: owned) */
	uint32_t rid;
	int prekey; /* 1: a pre-key (key exchange) message */
	char *data; /* base64 */
};

struct omemo_msg { /* an <encrypted> element, parsed or to build */
	uint32_t sid; /* sender device */
	char *iv; /* base64; NULL with OMEMO 2 (which has no IV element) */
	char *payload; /* base64; NULL for a key transport element */
	size_t nkeys;
	struct omemo_key *keys;
	int version; /* enum omemo_version */
};

struct omemo_device { /* a device the store knows of */
	uint32_t id;
	char *fingerprint; /* as clients show it: 64 lowercase hex digits of
			      the 32-byte key (no 05 prefix), in 8 groups of
			      8 separated by a space */
	int trust; /* enum omemo_trust */
	int active; /* in the last device list seen of either version */
	int active03; /* in the last OMEMO 0.3 device list seen */
	int active2; /* in the last OMEMO 2 device list seen */
};

enum omemo_trust { OMEMO_BLIND = 0, OMEMO_TRUSTED, OMEMO_DISTRUSTED };

/*
 * omemo_open()
 *
 * Opens the store of 'account' (bare JID) under 'dir' (e.g.
 * $XDG_DATA_HOME/xmpptools/omemo): dir/ACCOUNT/ holds the files.  Missing
 * directories are created 0700 and files 0600; 'dir', the account's
 * directory or one of its files with group or other bits, another owner, or
 * that is a symbolic link is refused with *errstr naming it.  First use
 * creates the identity key, the device id (random 31-bit, nonzero), a
 * signed pre-key and 100 pre-keys.  A store that is unreadable or corrupt
 * is an error, never silently replaced.  Returns the store (free with
 * omemo_close()), or NULL with *errstr.
 */
struct omemo *omemo_open(const char *dir, const char *account, char **errstr);

/* Closes the store and clears the key material it held; NULL is a no-op. */
void omemo_close(struct omemo *o);

/* The device id of this account's store. */
uint32_t omemo_device_id(const struct omemo *o);

/* The fingerprint of the own identity key (format of omemo_device);
 * allocated, the caller frees it. */
char *omemo_own_fingerprint(struct omemo *o);

/*
 * omemo_own_bundle()
 *
 * Fills *out with the bundle to publish: the identity key, the current
 * signed pre-key and every unused pre-key.  Clears the "changed" mark of
 * omemo_bundle_changed().  Free with omemo_bundle_clear().  Returns 0, or
 * -1 with *errstr.
 */
int omemo_own_bundle(struct omemo *o, struct omemo_bundle *out, char **errstr);

/* The same for 'version' (omemo_own_bundle() is version OMEMO_V03): an
 * OMEMO 2 bundle carries the same identity key and signed pre-key in the
 * encodings of OMEMO 2, and pre-keys of its own (100 of them,
 * made on the first call; a pre-key used by a key exchange of either
 * version is replaced in its own version's set). */
int omemo_own_bundle_version(
    struct omemo *o, int version, struct omemo_bundle *out, char **errstr);

/* Frees what 'b' holds and zeroes it (the struct itself is the caller's). */
void omemo_bundle_clear(struct omemo_bundle *b);

/* 1 when pre-keys were used since the last omemo_own_bundle() (the bundle
 * should be published again); 0 otherwise or when the store fails. */
int omemo_bundle_changed(struct omemo *o);

/*
 * omemo_set_devices()
 *
 * Records the device list last seen for 'jid' (bare): the 'n' ids of 'ids'
 * are active, every other known device of 'jid' becomes inactive.  Returns
 * 0, or -1 with *errstr.
 */
int omemo_set_devices(struct omemo *o, const char *jid, const uint32_t *ids,
    size_t n, char **errstr);

/* The same for the device list of 'version' (omemo_set_devices() is
 * OMEMO_V03): a device is active while either list names it. */
int omemo_set_devices_version(struct omemo *o, int version, const char *jid,
    const uint32_t *ids, size_t n, char **errstr);

/*
 * omemo_devices()
 *
 * The devices of 'jid' whose identity key is known (a bundle or a message
 * was seen), by increasing id.  *out is an allocated array of *n entries
 * (NULL when none), freed with omemo_devices_free().  Returns 0, or -1
 * with *errstr.
 */
int omemo_devices(struct omemo *o, const char *jid, struct omemo_device **out,
    size_t *n, char **errstr);
void omemo_devices_free(struct omemo_device *d, size_t n);

/* 1 if a session with device 'dev' of 'jid' exists; 0 if not or when the
 * store fails. */
int omemo_has_session(struct omemo *o, const char *jid, uint32_t dev);

/* The same for the session of 'version' (omemo_has_session(): OMEMO_V03). */
int omemo_has_session_version(
    struct omemo *o, int version, const char *jid, uint32_t dev);

/*
 * omemo_process_bundle()
 *
 * Builds a session with device 'dev' of 'jid' from its fetched bundle
 * (a session of b->version), using one of its pre-keys picked at random (a
 * bundle without pre-keys uses the signed pre-key alone).  Verifies the
 * signature of the signed pre-key.  Records the identity key: first seen, it is
 * trusted OMEMO_BLIND; a key that differs from the one known for the device is
 * an error.  Returns 0, or -1 with *errstr.
 */
int omemo_process_bundle(struct omemo *o, const char *jid, uint32_t dev,
    const struct omemo_bundle *b, char **errstr);

/*
 * omemo_device_usable()
 *
 * The trust policy: 1 if messages may be encrypted to device 'dev' of
 * 'jid'.  Blind trust before verification: while 'jid' has no
 * OMEMO_TRUSTED device, OMEMO_BLIND ones are usable; once one is TRUSTED,
 * only TRUSTED ones.  OMEMO_DISTRUSTED never, nor a device whose identity
 * is unknown.  0 when the store fails.
 */
int omemo_device_usable(struct omemo *o, const char *jid, uint32_t dev);

/*
 * omemo_set_trust()
 *
 * Sets the trust ('trust': enum omemo_trust) of a known device of 'jid',
 * named by 'fingerprint' when it is not NULL (spaces ignored, case
 * insensitive; 'dev', when not 0, must then match too), else by 'dev'.
 * An unknown device is an error.  Returns 0, or -1 with *errstr.
 */
int omemo_set_trust(struct omemo *o, const char *jid, uint32_t dev,
    const char *fingerprint, int trust, char **errstr);

/* One recipient device of omemo_encrypt(); the strings are borrowed. */
struct omemo_target {
	const char *jid;
	uint32_t rid;
};

/*
 * omemo_encrypt()
 *
 * Encrypts 'body' (UTF-8, NUL-terminated) for the 'n' devices of 't'
 * (their sessions must exist: an error names the first JID and device
 * without one; nothing partial is returned and no session advances).
 * Fills *out: our sid, the IV, the payload and one key per target, in the
 * order of 't' (each key's jid is a copy).  With 'body' NULL it builds a key
 * transport element (payload NULL: a random key, to complete or refresh
 * sessions).  Free with omemo_msg_clear().  Returns 0, or -1 with
 * *errstr.
 */
int
omemo_encrypt(struct omemo *o, const char *body, const struct omemo_target *t,
    size_t n, struct omemo_msg *out, char **errstr);

/*
 * omemo_encrypt_version()
 *
 * omemo_encrypt() for 'version' (omemo_encrypt() is OMEMO_V03), with the
 * sessions of that version.  OMEMO 2 encrypts 'plain' as it is (the caller
 * builds the XEP-0420 envelope): AES-256-CBC and HMAC-SHA-256 under keys
 * derived from a random 32-byte key (XEP-0384 section 4.4), each <key/>
 * carrying key || the HMAC truncated to 16 bytes; out->iv stays NULL and
 * out->version is set.
 */
int omemo_encrypt_version(struct omemo *o, int version, const char *plain,
    const struct omemo_target *t, size_t n, struct omemo_msg *out,
    char **errstr);

/*
 * omemo_decrypt()
 *
 * Decrypts a message from 'from' (bare JID) of in->version (with the
 * session of that version) addressed to our device: the
 * first key of in->keys whose rid is our device id (none: error "not
 * encrypted for this device"; the keys' jid fields are not read).  Sets
 * *body to the allocated, NUL-terminated plaintext (a body containing NUL
 * is an error), or to NULL for a key transport element (in->payload NULL:
 * the key is taken, which completes a key exchange, and there is no
 * body; with OMEMO 2 the plaintext is the XEP-0420 envelope, which the
 * caller reads).  *prekey is 1 when it was a key exchange message (the key's
 * prekey flag says which kind to expect; a key that parses only as the
 * other kind is taken as that kind); the pre-key it used is then removed
 * and a new one generated (omemo_bundle_changed() becomes 1).  A new sender
 * device's identity is recorded as OMEMO_BLIND; a DISTRUSTED device or a
 * changed identity key is an error.  On any error no session state is changed.
 * Returns 0, or -1 with *errstr.
 */
int omemo_decrypt(struct omemo *o, const char *from, const struct omemo_msg *in,
    char **body, int *prekey, char **errstr);

/* Frees what 'm' holds and zeroes it (the struct itself is the caller's). */
void omemo_msg_clear(struct omemo_msg *m);

#endif
