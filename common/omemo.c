/* SPDX-License-Identifier: MIT */
/* omemo.c -- OMEMO 0.3 and OMEMO 2 engine on libomemo-c: the crypto
 * provider (OpenSSL EVP), the per-account store on disk, trust, message
 * crypto */

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <curve.h>
#include <key_helper.h>
#include <protocol.h>
#include <session_builder.h>
#include <session_cipher.h>
#include <session_pre_key.h>
#include <signal_protocol.h>

#include "omemo.h"
#include "util.h"

#define OM_NPREKEYS 100 /* pre-keys created and kept, per version */
#define OM_KEYLEN 33 /* a serialized public key: 0x05 + 32 bytes */
#define OM_PRIVLEN 32 /* a private key */
#define OM_GCM_KEY 16 /* AES-128-GCM key, IV and tag sizes */
#define OM_GCM_IV 12
#define OM_GCM_TAG 16
#define OM_VERSION 3 /* libsignal v3 messages (first byte 0x33) */
#define OM_VERSION2 4 /* OMEMO 2 protobufs (CIPHERTEXT_OMEMO_VERSION) */
#define OM_V2_KEY 32 /* OMEMO 2: the random key, the HMAC kept, the blob */
#define OM_V2_TAG 16
#define OM_V2_BLOB (OM_V2_KEY + OM_V2_TAG)
#define OM_V2_RAW 32 /* an OMEMO 2 public key (no type byte) */
#define OM_MAXFILE (64u << 20) /* a store file larger than this is corrupt */

static const char id_magic[] = "xmpptools-omemo-identity 1";
static const char st_magic[] = "xmpptools-omemo-state 1";

struct om_prekey { /* a record of ours (pre-key or signed pre-key) */
	uint32_t id;
	int v2; /* a pre-key of the OMEMO 2 bundle: each version has its own
		   (one id sequence), so that a device with sessions of both
		   versions never gets two key exchanges on one pre-key */
	uint8_t *rec; /* serialized by libomemo-c; holds the private key */
	size_t len;
};

struct om_dev { /* a device of a contact (or of our own account) */
	char *jid;
	uint32_t id;
	int active;
	int trust;
	int has_ik;
	uint8_t ik[OM_KEYLEN];
	uint8_t *sess; /* serialized session record, NULL if none */
	size_t slen;
	int active2; /* in the OMEMO 2 device list */
	uint8_t *sess2; /* the OMEMO 2 session, NULL if none */
	size_t slen2;
};

struct om_state { /* the state file, loaded for one operation */
	uint32_t next_pk;
	int changed;
	struct om_prekey spk;
	struct om_prekey *pk;
	size_t npk;
	struct om_dev *dev;
	size_t ndev;
	int dirty;
};

struct omemo {
	char *dir; /* the account's directory */
	int lockfd;
	uint32_t device_id;
	uint8_t ik_pub[OM_KEYLEN];
	uint8_t ik_priv[OM_PRIVLEN];
	signal_context *sctx;
	signal_protocol_store_context *store;
	struct om_state st; /* valid between op_begin() and op_end() */
	int ver; /* the version of the sessions the library works on */
	char *cb_err; /* a store error met inside a library callback */
};

/* --- small helpers ------------------------------------------------------ */

static void
wipe_free(void *p, size_t n)
{
	if (p != NULL)
		OPENSSL_cleanse(p, n);
	free(p);
}

/* Base64 of 'len' bytes of 'p' (standard alphabet, padded); allocated. */
static char *
b64_encode(const uint8_t *p, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, p, (int)len);
	return out;
}

/*
 * Decodes base64 's' (white space ignored, padding optional) into an
 * allocated *out of *len bytes.  Returns 0, or -1 when 's' is not base64.
 */
static int
b64_decode(const char *s, uint8_t **out, size_t *len)
{
	size_t n = 0, i, pad = 0;
	char *clean = xmalloc(strlen(s) + 4);
	uint8_t *res;
	int r;

	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			continue;
		if (!(c >= 'A' && c <= 'Z') && !(c >= 'a' && c <= 'z') &&
		    !(c >= '0' && c <= '9') && c != '+' && c != '/' && c != '=')
			goto bad;
		clean[n++] = c;
	}
	while (n % 4 != 0)
		clean[n++] = '=';
	clean[n] = '\0';
	for (i = n; i > 0 && clean[i - 1] == '=' && pad < 3; i--)
		pad++;
	if (pad > 2 || memchr(clean, '=', n - pad) != NULL)
		goto bad;
	res = xmalloc(n / 4 * 3 + 1);
	r = EVP_DecodeBlock(res, (unsigned char *)clean, (int)n);
	if (r < 0 || (size_t)r < pad) {
		free(res);
		goto bad;
	}
	wipe_free(clean, strlen(s) + 4);
	*out = res;
	*len = (size_t)r - pad;
	return 0;
bad:
	wipe_free(clean, strlen(s) + 4);
	return -1;
}

/* The fingerprint of a serialized public key (see omemo.h); allocated. */
static char *
fingerprint(const uint8_t *key)
{
	char *fp = xmalloc(8 * 9);
	size_t i, o = 0;

	for (i = 0; i < 32; i++) {
		if (i > 0 && i % 4 == 0)
			fp[o++] = ' ';
		snprintf(fp + o, 3, "%02x", key[i + 1]);
		o += 2;
	}
	fp[o] = '\0';
	return fp;
}

/* A bare JID usable as a file name and a field of the state file. */
static int
jid_ok(const char *jid)
{
	const unsigned char *p;

	if (jid == NULL || jid[0] == '\0' || jid[0] == '.')
		return 0;
	for (p = (const unsigned char *)jid; *p != '\0'; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '/')
			return 0;
	return 1;
}

static int
check_jid(const char *jid, char **errstr)
{
	if (jid_ok(jid))
		return 0;
	*errstr = xstrdup("omemo: not a usable bare JID");
	return -1;
}

/* --- the crypto provider (OpenSSL EVP) --------------------------------- */

static int
cp_random(uint8_t *data, size_t len, void *ud)
{
	(void)ud;
	return RAND_bytes(data, (int)len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

static int
cp_hmac_init(void **hctx, const uint8_t *key, size_t key_len, void *ud)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY *pk =
	    EVP_PKEY_new_raw_private_key(EVP_PKEY_HMAC, NULL, key, key_len);
	int ok;

	(void)ud;
	ok = md != NULL && pk != NULL &&
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk) == 1;
	EVP_PKEY_free(pk);
	if (!ok) {
		EVP_MD_CTX_free(md);
		return SG_ERR_UNKNOWN;
	}
	*hctx = md;
	return 0;
}

static int
cp_hmac_update(void *hctx, const uint8_t *data, size_t len, void *ud)
{
	(void)ud;
	return EVP_DigestSignUpdate(hctx, data, len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

static int
cp_hmac_final(void *hctx, signal_buffer **output, void *ud)
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	size_t len = sizeof(mac);

	(void)ud;
	if (EVP_DigestSignFinal(hctx, mac, &len) != 1)
		return SG_ERR_UNKNOWN;
	*output = signal_buffer_create(mac, len);
	return *output != NULL ? 0 : SG_ERR_NOMEM;
}

static void
cp_md_cleanup(void *ctx, void *ud)
{
	(void)ud;
	EVP_MD_CTX_free(ctx);
}

static int
cp_sha512_init(void **dctx, void *ud)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	(void)ud;
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha512(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return SG_ERR_UNKNOWN;
	}
	*dctx = md;
	return 0;
}

static int
cp_sha512_update(void *dctx, const uint8_t *data, size_t len, void *ud)
{
	(void)ud;
	return EVP_DigestUpdate(dctx, data, len) == 1 ? 0 : SG_ERR_UNKNOWN;
}

static int
cp_sha512_final(void *dctx, signal_buffer **output, void *ud)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	(void)ud;
	if (EVP_DigestFinal_ex(dctx, md, &len) != 1 ||
	    EVP_DigestInit_ex(dctx, EVP_sha512(), NULL) != 1)
		return SG_ERR_UNKNOWN;
	*output = signal_buffer_create(md, len);
	return *output != NULL ? 0 : SG_ERR_NOMEM;
}

static const EVP_CIPHER *
cp_cipher(int cipher, size_t key_len)
{
	int cbc = cipher == SG_CIPHER_AES_CBC_PKCS5;

	if (cipher != SG_CIPHER_AES_CBC_PKCS5 &&
	    cipher != SG_CIPHER_AES_CTR_NOPADDING)
		return NULL;
	switch (key_len) {
	case 16:
		return cbc ? EVP_aes_128_cbc() : EVP_aes_128_ctr();
	case 24:
		return cbc ? EVP_aes_192_cbc() : EVP_aes_192_ctr();
	case 32:
		return cbc ? EVP_aes_256_cbc() : EVP_aes_256_ctr();
	}
	return NULL;
}

/* AES-CBC (PKCS#5 padding) or AES-CTR, one way or the other. */
static int
cp_aes(signal_buffer **output, int cipher, const uint8_t *key, size_t key_len,
    const uint8_t *iv, size_t iv_len, const uint8_t *in, size_t in_len, int enc)
{
	const EVP_CIPHER *c = cp_cipher(cipher, key_len);
	EVP_CIPHER_CTX *ctx;
	uint8_t *out;
	int l1 = 0, l2 = 0, ok;

	if (c == NULL || iv_len != 16 || in_len > (1u << 30))
		return SG_ERR_UNKNOWN;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return SG_ERR_NOMEM;
	out = xmalloc(in_len + 32);
	ok = EVP_CipherInit_ex(ctx, c, NULL, key, iv, enc) == 1 &&
	    EVP_CipherUpdate(ctx, out, &l1, in, (int)in_len) == 1 &&
	    EVP_CipherFinal_ex(ctx, out + l1, &l2) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (ok)
		*output = signal_buffer_create(out, (size_t)(l1 + l2));
	wipe_free(out, in_len + 32);
	if (!ok)
		return SG_ERR_UNKNOWN;
	return *output != NULL ? 0 : SG_ERR_NOMEM;
}

static int
cp_encrypt(signal_buffer **output, int cipher, const uint8_t *key,
    size_t key_len, const uint8_t *iv, size_t iv_len, const uint8_t *in,
    size_t in_len, void *ud)
{
	(void)ud;
	return cp_aes(output, cipher, key, key_len, iv, iv_len, in, in_len, 1);
}

static int
cp_decrypt(signal_buffer **output, int cipher, const uint8_t *key,
    size_t key_len, const uint8_t *iv, size_t iv_len, const uint8_t *in,
    size_t in_len, void *ud)
{
	(void)ud;
	return cp_aes(output, cipher, key, key_len, iv, iv_len, in, in_len, 0);
}

static const signal_crypto_provider crypto_provider = {
	.random_func = cp_random,
	.hmac_sha256_init_func = cp_hmac_init,
	.hmac_sha256_update_func = cp_hmac_update,
	.hmac_sha256_final_func = cp_hmac_final,
	.hmac_sha256_cleanup_func = cp_md_cleanup,
	.sha512_digest_init_func = cp_sha512_init,
	.sha512_digest_update_func = cp_sha512_update,
	.sha512_digest_final_func = cp_sha512_final,
	.sha512_digest_cleanup_func = cp_md_cleanup,
	.encrypt_func = cp_encrypt,
	.decrypt_func = cp_decrypt,
	.user_data = NULL,
};

/* --- AES-128-GCM of the payload ---------------------------------------- */

/*
 * Encrypts (enc 1) or decrypts (enc 0) 'len' bytes of 'in' into 'out'
 * (same length) with 'key' and the 'iv_len' bytes of 'iv'; 'tag' is written
 * (enc) or checked. Returns 0, or -1 (decryption: the tag does not match).
 */
static int
gcm(int enc, const uint8_t *key, const uint8_t *iv, size_t iv_len,
    const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int l = 0, ok;

	if (ctx == NULL || len > (1u << 30)) {
		EVP_CIPHER_CTX_free(ctx);
		return -1;
	}
	ok = EVP_CipherInit_ex(ctx, EVP_aes_128_gcm(), NULL, NULL, NULL, enc) ==
		1 &&
	    EVP_CIPHER_CTX_ctrl(
		ctx, EVP_CTRL_GCM_SET_IVLEN, (int)iv_len, NULL) == 1 &&
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, enc) == 1 &&
	    (len == 0 || EVP_CipherUpdate(ctx, out, &l, in, (int)len) == 1);
	if (ok && !enc)
		ok = EVP_CIPHER_CTX_ctrl(
			 ctx, EVP_CTRL_GCM_SET_TAG, OM_GCM_TAG, tag) == 1;
	if (ok)
		ok = EVP_CipherFinal_ex(ctx, out + l, &l) == 1;
	if (ok && enc)
		ok = EVP_CIPHER_CTX_ctrl(
			 ctx, EVP_CTRL_GCM_GET_TAG, OM_GCM_TAG, tag) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* --- OMEMO 2 payload: HKDF, AES-256-CBC, truncated HMAC ---------------- */

/* The 80 bytes XEP-0384 section 4.4 derives from the 32-byte 'key':
 * HKDF-SHA-256, 32 zero bytes of salt, info "OMEMO Payload"; the AES key,
 * the HMAC key and the IV, in this order. */
static int
v2_derive(const uint8_t *key, uint8_t *out)
{
	static const uint8_t salt[32];
	static const char info[] = "OMEMO Payload";
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	size_t len = 80;
	int ok;

	ok = c != NULL && EVP_PKEY_derive_init(c) == 1 &&
	    EVP_PKEY_CTX_set_hkdf_md(c, EVP_sha256()) == 1 &&
	    EVP_PKEY_CTX_set1_hkdf_salt(c, salt, sizeof(salt)) == 1 &&
	    EVP_PKEY_CTX_set1_hkdf_key(c, key, OM_V2_KEY) == 1 &&
	    EVP_PKEY_CTX_add1_hkdf_info(
		c, (const unsigned char *)info, sizeof(info) - 1) == 1 &&
	    EVP_PKEY_derive(c, out, &len) == 1 && len == 80;
	EVP_PKEY_CTX_free(c);
	return ok ? 0 : -1;
}

/* HMAC-SHA-256 of 'in' under the 32-byte 'key', truncated to 'tag'. */
static int
v2_tag(const uint8_t *key, const uint8_t *in, size_t len, uint8_t *tag)
{
	uint8_t mac[32];
	size_t maclen = 0;

	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, 32, in, len, mac,
		sizeof(mac), &maclen) == NULL ||
	    maclen != sizeof(mac))
		return -1;
	memcpy(tag, mac, OM_V2_TAG);
	return 0;
}

/* AES-256-CBC (PKCS#7 padding) of 'len' bytes of 'in' with the derived
 * keys 'dk': *out allocated, *outlen bytes. */
static int
v2_cbc(int enc, const uint8_t *dk, const uint8_t *in, size_t len, uint8_t **out,
    size_t *outlen)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t *o;
	int l1 = 0, l2 = 0, ok;

	if (ctx == NULL || len > (1u << 30)) {
		EVP_CIPHER_CTX_free(ctx);
		return -1;
	}
	o = xmalloc(len + 32);
	ok = EVP_CipherInit_ex(
		 ctx, EVP_aes_256_cbc(), NULL, dk, dk + 64, enc) == 1 &&
	    EVP_CipherUpdate(ctx, o, &l1, in, (int)len) == 1 &&
	    EVP_CipherFinal_ex(ctx, o + l1, &l2) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok) {
		wipe_free(o, len + 32);
		return -1;
	}
	*out = o;
	*outlen = (size_t)(l1 + l2);
	return 0;
}

/* Encrypts 'body' (NULL: a key transport element, no payload) into
 * m->payload; 'blob' gets the random key and the truncated HMAC. */
static int
v2_seal(const char *body, uint8_t *blob, struct omemo_msg *m)
{
	uint8_t dk[80], *ct = NULL;
	size_t len = 0;
	int r = -1;

	if (RAND_bytes(blob, OM_V2_BLOB) != 1)
		return -1;
	if (body == NULL)
		return 0;
	if (v2_derive(blob, dk) == 0 &&
	    v2_cbc(1, dk, (const uint8_t *)body, strlen(body), &ct, &len) ==
		0 &&
	    v2_tag(dk + 32, ct, len, blob + OM_V2_KEY) == 0) {
		m->payload = b64_encode(ct, len);
		r = 0;
	}
	OPENSSL_cleanse(dk, sizeof(dk));
	free(ct);
	return r;
}

/* Decrypts the payload of OMEMO 2 message 'in' with the key blob 'kb'
 * ('kblen' bytes: key || truncated HMAC) into the allocated *body. */
static int
v2_open(
    const struct omemo_msg *in, const uint8_t *kb, size_t kblen, char **body)
{
	uint8_t dk[80], tag[OM_V2_TAG], *ct = NULL, *pt = NULL;
	size_t len = 0, ptlen = 0;
	int r = -1;

	if (kblen != OM_V2_BLOB || b64_decode(in->payload, &ct, &len) < 0 ||
	    v2_derive(kb, dk) < 0)
		goto out;
	if (v2_tag(dk + 32, ct, len, tag) < 0 ||
	    CRYPTO_memcmp(tag, kb + OM_V2_KEY, OM_V2_TAG) != 0 ||
	    v2_cbc(0, dk, ct, len, &pt, &ptlen) < 0)
		goto out;
	if (memchr(pt, '\0', ptlen) != NULL) {
		wipe_free(pt, len + 32);
		goto out;
	}
	pt[ptlen] = '\0';
	*body = (char *)pt;
	r = 0;
out:
	OPENSSL_cleanse(dk, sizeof(dk));
	free(ct);
	return r;
}

/* --- files: permissions, reading, atomic replacement ------------------ */

/* Refuses what is not 'want' (S_IFDIR/S_IFREG), not ours, or open to
 * group or others.  Returns 0, or -1 with *errstr. */
static int
check_stat(const struct stat *st, const char *path, mode_t want, char **errstr)
{
	if ((st->st_mode & S_IFMT) != want) {
		*errstr = xasprintf("omemo: %s: not a %s", path,
		    want == S_IFDIR ? "directory" : "regular file");
		return -1;
	}
	if (st->st_uid != geteuid()) {
		*errstr = xasprintf("omemo: %s: owned by uid %lu, not by you",
		    path, (unsigned long)st->st_uid);
		return -1;
	}
	if (st->st_mode & 077) {
		*errstr = xasprintf("omemo: %s: mode %04o; only its owner may "
				    "have access (chmod %s %s)",
		    path, (unsigned)(st->st_mode & 07777),
		    want == S_IFDIR ? "700" : "600", path);
		return -1;
	}
	return 0;
}

/* Opens 'path' (no symbolic link) with 'flags' and checks it.  Returns the
 * descriptor, -2 when it does not exist, or -1 with *errstr. */
static int
open_checked(const char *path, int flags, mode_t want, char **errstr)
{
	struct stat st;
	int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);

	if (fd < 0 && errno == ENOENT && !(flags & O_CREAT))
		return -2;
	if (fd < 0) {
		*errstr = xasprintf("omemo: %s: %s", path,
		    errno == ELOOP ? "is a symbolic link" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		*errstr = xasprintf("omemo: %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (check_stat(&st, path, want, errstr) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Creates directory 'path' 0700 unless it exists, then checks it. */
static int
make_dir(const char *path, char **errstr)
{
	int fd;

	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		*errstr = xasprintf("omemo: %s: %s", path, strerror(errno));
		return -1;
	}
	fd = open_checked(path, O_RDONLY | O_DIRECTORY, S_IFDIR, errstr);
	if (fd == -2)
		*errstr = xasprintf("omemo: %s: %s", path, strerror(ENOENT));
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* Creates the missing parents of 'path' (0700), not checking them. */
static int
make_parents(const char *path, char **errstr)
{
	char *p = xstrdup(path), *s;
	int r = 0;

	for (s = p + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			*errstr =
			    xasprintf("omemo: %s: %s", p, strerror(errno));
			r = -1;
			break;
		}
		*s = '/';
	}
	free(p);
	return r;
}

/* Reads the file 'name' of the store into *out (NUL-terminated).  Returns
 * 0, 1 when it does not exist, or -1 with *errstr. */
static int
read_file(
    const struct omemo *o, const char *name, struct buf *out, char **errstr)
{
	char *path = xasprintf("%s/%s", o->dir, name);
	char chunk[4096];
	ssize_t r;
	int fd = open_checked(path, O_RDONLY, S_IFREG, errstr);

	if (fd < 0) {
		free(path);
		return fd == -2 ? 1 : -1;
	}
	buf_init(out);
	while ((r = read(fd, chunk, sizeof(chunk))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || out->len + (size_t)r > OM_MAXFILE) {
			*errstr = xasprintf("omemo: %s: %s", path,
			    r < 0 ? strerror(errno) : "too large");
			break;
		}
		buf_add(out, chunk, (size_t)r);
	}
	OPENSSL_cleanse(chunk, sizeof(chunk));
	close(fd);
	free(path);
	if (r != 0) {
		wipe_free(out->data, out->cap);
		buf_init(out);
		return -1;
	}
	if (out->data == NULL)
		buf_adds(out, "");
	return 0;
}

static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Replaces the file 'name' of the store with 'len' bytes of 'data': a
 * temporary file in the same directory, fsync, rename, fsync of the
 * directory.  Returns 0, or -1 with *errstr. */
static int
write_file(const struct omemo *o, const char *name, const char *data,
    size_t len, char **errstr)
{
	char *path = xasprintf("%s/%s", o->dir, name);
	char *tmp = xasprintf("%s/.%s.XXXXXX", o->dir, name);
	int fd, dfd, r = -1;

	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		*errstr = xasprintf("omemo: %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		*errstr = xasprintf("omemo: %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		*errstr = xasprintf("omemo: %s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if ((dfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	r = 0;
out:
	free(tmp);
	free(path);
	return r;
}

/* --- the state file ----------------------------------------------------- */

static void
state_free(struct om_state *st)
{
	size_t i;

	wipe_free(st->spk.rec, st->spk.len);
	for (i = 0; i < st->npk; i++)
		wipe_free(st->pk[i].rec, st->pk[i].len);
	free(st->pk);
	for (i = 0; i < st->ndev; i++) {
		free(st->dev[i].jid);
		wipe_free(st->dev[i].sess, st->dev[i].slen);
		wipe_free(st->dev[i].sess2, st->dev[i].slen2);
	}
	free(st->dev);
	memset(st, 0, sizeof(*st));
}

/* Splits 'line' at spaces into at most 'max' fields; returns their number
 * (max + 1 when there are more). */
static int
split(char *line, char **f, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		if (n == max)
			return max + 1;
		f[n++] = p;
		if ((p = strchr(p, ' ')) == NULL)
			return n;
		*p++ = '\0';
	}
}

static int
num(const char *s, unsigned long max, uint32_t *out)
{
	unsigned long v;

	if (util_parse_ulong(s, 0, max, &v) < 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* Decodes optional base64 ("-": none) into *p, *len. */
static int
opt_b64(const char *s, uint8_t **p, size_t *len)
{
	if (strcmp(s, "-") == 0) {
		*p = NULL;
		*len = 0;
		return 0;
	}
	return b64_decode(s, p, len) < 0 || *len == 0 ? -1 : 0;
}

static struct om_dev *
dev_add(struct om_state *st, const char *jid, uint32_t id)
{
	struct om_dev *d;

	st->dev = xrealloc(st->dev, (st->ndev + 1) * sizeof(*st->dev));
	d = &st->dev[st->ndev++];
	memset(d, 0, sizeof(*d));
	d->jid = xstrdup(jid);
	d->id = id;
	d->active = 1;
	return d;
}

/* One "dev JID ID ACTIVE TRUST IK SESSION" line, split. */
static int
parse_dev(struct om_state *st, char **f)
{
	struct om_dev *d;
	uint32_t id, active, trust;
	uint8_t *ik;
	size_t iklen;

	if (!jid_ok(f[1]) || num(f[2], 0xffffffffUL, &id) < 0 ||
	    num(f[3], 1, &active) < 0 ||
	    num(f[4], OMEMO_DISTRUSTED, &trust) < 0)
		return -1;
	if (opt_b64(f[5], &ik, &iklen) < 0)
		return -1;
	if (ik != NULL && (iklen != OM_KEYLEN || ik[0] != 0x05)) {
		free(ik);
		return -1;
	}
	d = dev_add(st, f[1], id);
	d->active = (int)active;
	d->trust = (int)trust;
	if (ik != NULL) {
		d->has_ik = 1;
		memcpy(d->ik, ik, OM_KEYLEN);
		free(ik);
	}
	return opt_b64(f[6], &d->sess, &d->slen);
}

static struct om_dev *
dev_find(struct om_state *st, const char *jid, uint32_t id);

/* One "dev2 JID ID ACTIVE2 SESSION2" line, split: the OMEMO 2 side of a
 * device of an earlier "dev" line. */
static int
parse_dev2(struct om_state *st, char **f)
{
	struct om_dev *d;
	uint32_t id, active;

	if (!jid_ok(f[1]) || num(f[2], 0xffffffffUL, &id) < 0 ||
	    num(f[3], 1, &active) < 0 || (d = dev_find(st, f[1], id)) == NULL ||
	    d->sess2 != NULL)
		return -1;
	d->active2 = (int)active;
	return opt_b64(f[4], &d->sess2, &d->slen2);
}

/* One line of the state file (after the first), split into 'n' fields. */
static int
parse_line(struct om_state *st, char **f, int n)
{
	struct om_prekey *k;
	uint32_t v;

	if (n == 2 && strcmp(f[0], "next-pk") == 0)
		return num(f[1], PRE_KEY_MEDIUM_MAX_VALUE, &st->next_pk) < 0 ||
			st->next_pk == 0
		    ? -1
		    : 0;
	if (n == 2 && strcmp(f[0], "changed") == 0) {
		if (num(f[1], 1, &v) < 0)
			return -1;
		st->changed = (int)v;
		return 0;
	}
	if (n == 7 && strcmp(f[0], "dev") == 0)
		return parse_dev(st, f);
	if (n == 5 && strcmp(f[0], "dev2") == 0)
		return parse_dev2(st, f);
	if (n != 3 ||
	    (strcmp(f[0], "spk") != 0 && strcmp(f[0], "pk") != 0 &&
		strcmp(f[0], "pk2") != 0))
		return -1;
	if (f[0][0] == 's') {
		if (st->spk.rec != NULL)
			return -1;
		k = &st->spk;
	} else {
		st->pk = xrealloc(st->pk, (st->npk + 1) * sizeof(*st->pk));
		k = &st->pk[st->npk++];
		memset(k, 0, sizeof(*k));
		k->v2 = f[0][2] == '2';
	}
	if (num(f[1], 0xffffffffUL, &k->id) < 0)
		return -1;
	return b64_decode(f[2], &k->rec, &k->len) < 0 ? -1 : 0;
}

/* Parses the text of the state file ('text' is modified). */
static int
parse_state(struct om_state *st, char *text, const char *path, char **errstr)
{
	char *line = text, *nl, *f[8];
	int lineno = 0, bad = 0;

	memset(st, 0, sizeof(*st));
	while (*line != '\0' && !bad) {
		lineno++;
		if ((nl = strchr(line, '\n')) == NULL) {
			bad = 1; /* cut short */
			break;
		}
		*nl = '\0';
		if (lineno == 1)
			bad = strcmp(line, st_magic) != 0;
		else
			bad = parse_line(st, f, split(line, f, 7)) < 0;
		line = nl + 1;
	}
	if (!bad && lineno > 0 && st->spk.rec != NULL && st->next_pk != 0)
		return 0;
	*errstr = xasprintf("omemo: %s: line %d: corrupt (the store is left "
			    "as it is)",
	    path, lineno == 0 ? 1 : lineno);
	state_free(st);
	return -1;
}

static void
put_b64(struct buf *b, const uint8_t *p, size_t len)
{
	char *s;

	if (p == NULL) {
		buf_adds(b, " -");
		return;
	}
	s = b64_encode(p, len);
	buf_addc(b, ' ');
	buf_adds(b, s);
	wipe_free(s, strlen(s));
}

/* Writes the state file from 'st'. */
static int
save_state(const struct omemo *o, const struct om_state *st, char **errstr)
{
	struct buf b;
	size_t i;
	int r;

	buf_init(&b);
	buf_printf(&b, "%s\nnext-pk %lu\nchanged %d\nspk %lu", st_magic,
	    (unsigned long)st->next_pk, st->changed, (unsigned long)st->spk.id);
	put_b64(&b, st->spk.rec, st->spk.len);
	for (i = 0; i < st->npk; i++) {
		buf_printf(&b, "\npk%s %lu", st->pk[i].v2 ? "2" : "",
		    (unsigned long)st->pk[i].id);
		put_b64(&b, st->pk[i].rec, st->pk[i].len);
	}
	for (i = 0; i < st->ndev; i++) {
		const struct om_dev *d = &st->dev[i];
		buf_printf(&b, "\ndev %s %lu %d %d", d->jid,
		    (unsigned long)d->id, d->active, d->trust);
		put_b64(&b, d->has_ik ? d->ik : NULL, OM_KEYLEN);
		put_b64(&b, d->sess, d->slen);
	}
	for (i = 0; i < st->ndev; i++) {
		const struct om_dev *d = &st->dev[i];
		if (!d->active2 && d->sess2 == NULL)
			continue;
		buf_printf(&b, "\ndev2 %s %lu %d", d->jid, (unsigned long)d->id,
		    d->active2);
		put_b64(&b, d->sess2, d->slen2);
	}
	buf_addc(&b, '\n');
	r = write_file(o, "state", b.data, b.len, errstr);
	wipe_free(b.data, b.cap);
	return r;
}

/* --- our keys ----------------------------------------------------------- */

/* Copies a libomemo-c buffer into an allocated *p, *len and frees it. */
static void
take_buffer(signal_buffer *b, uint8_t **p, size_t *len)
{
	*len = signal_buffer_len(b);
	*p = xmalloc(*len > 0 ? *len : 1);
	memcpy(*p, signal_buffer_data(b), *len);
	signal_buffer_bzero_free(b);
}

/* A new pre-key record with id 'id' into *k. */
static int
gen_prekey(struct omemo *o, uint32_t id, struct om_prekey *k)
{
	ec_key_pair *kp = NULL;
	session_pre_key *pk = NULL;
	signal_buffer *b = NULL;
	int r;

	if ((r = curve_generate_key_pair(o->sctx, &kp)) >= 0 &&
	    (r = session_pre_key_create(&pk, id, kp)) >= 0)
		r = session_pre_key_serialize(&b, pk);
	SIGNAL_UNREF(kp);
	SIGNAL_UNREF(pk);
	if (r < 0)
		return -1;
	k->id = id;
	take_buffer(b, &k->rec, &k->len);
	return 0;
}

/* The number of pre-keys of the loaded state for OMEMO 2 ('v2') or 0.3. */
static size_t
pool_size(const struct om_state *st, int v2)
{
	size_t i, n = 0;

	for (i = 0; i < st->npk; i++)
		n += st->pk[i].v2 == v2;
	return n;
}

/* Adds pre-keys to the pool of OMEMO 2 ('v2') or 0.3 of the loaded state
 * until it has OM_NPREKEYS. */
static int
fill_pool(struct omemo *o, int v2, char **errstr)
{
	struct om_state *st = &o->st;
	size_t i, have = pool_size(st, v2), count;

	if (have >= OM_NPREKEYS)
		return 0;
	count = OM_NPREKEYS - have;
	st->pk = xrealloc(st->pk, (st->npk + count) * sizeof(*st->pk));
	for (i = 0; i < count; i++) {
		uint32_t id = st->next_pk;
		st->next_pk = st->next_pk % PRE_KEY_MEDIUM_MAX_VALUE + 1;
		if (gen_prekey(o, id, &st->pk[st->npk]) < 0) {
			*errstr = xstrdup("omemo: cannot generate a pre-key");
			return -1;
		}
		st->pk[st->npk++].v2 = v2;
	}
	st->dirty = 1;
	return 0;
}

/* Our identity key pair as libomemo-c wants it; NULL on failure. */
static ratchet_identity_key_pair *
own_pair(struct omemo *o)
{
	ec_public_key *pub = NULL;
	ec_private_key *priv = NULL;
	ratchet_identity_key_pair *kp = NULL;

	if (curve_decode_point(&pub, o->ik_pub, OM_KEYLEN, o->sctx) >= 0 &&
	    curve_decode_private_point(
		&priv, o->ik_priv, OM_PRIVLEN, o->sctx) >= 0 &&
	    ratchet_identity_key_pair_create(&kp, pub, priv) < 0)
		kp = NULL;
	SIGNAL_UNREF(pub);
	SIGNAL_UNREF(priv);
	return kp;
}

/* A fresh state: signed pre-key 1 and OM_NPREKEYS pre-keys. */
static int
new_state(struct omemo *o, char **errstr)
{
	ratchet_identity_key_pair *kp = own_pair(o);
	session_signed_pre_key *spk = NULL;
	signal_buffer *b = NULL;
	int r = -1;

	memset(&o->st, 0, sizeof(o->st));
	o->st.next_pk = 1;
	if (kp != NULL &&
	    signal_protocol_key_helper_generate_signed_pre_key(
		&spk, kp, 1, (uint64_t)time(NULL) * 1000, o->sctx) >= 0 &&
	    session_signed_pre_key_serialize(&b, spk) >= 0) {
		o->st.spk.id = 1;
		take_buffer(b, &o->st.spk.rec, &o->st.spk.len);
		r = fill_pool(o, 0, errstr);
	} else {
		*errstr = xstrdup("omemo: cannot generate the signed pre-key");
	}
	SIGNAL_UNREF(kp);
	SIGNAL_UNREF(spk);
	if (r < 0)
		state_free(&o->st);
	return r;
}

/* A new identity: key pair and device id. */
static int
new_identity(struct omemo *o, char **errstr)
{
	ratchet_identity_key_pair *kp = NULL;
	signal_buffer *pub = NULL, *priv = NULL;
	uint32_t id = 0;
	int r = -1;

	while (id == 0) {
		if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1)
			goto out;
		id &= 0x7fffffffU;
	}
	o->device_id = id;
	if (signal_protocol_key_helper_generate_identity_key_pair(
		&kp, o->sctx) < 0 ||
	    ec_public_key_serialize(
		&pub, ratchet_identity_key_pair_get_public(kp)) < 0 ||
	    ec_private_key_serialize(
		&priv, ratchet_identity_key_pair_get_private(kp)) < 0 ||
	    signal_buffer_len(pub) != OM_KEYLEN ||
	    signal_buffer_len(priv) != OM_PRIVLEN)
		goto out;
	memcpy(o->ik_pub, signal_buffer_data(pub), OM_KEYLEN);
	memcpy(o->ik_priv, signal_buffer_data(priv), OM_PRIVLEN);
	r = 0;
out:
	if (r < 0)
		*errstr = xstrdup("omemo: cannot generate the identity key");
	signal_buffer_free(pub);
	signal_buffer_bzero_free(priv);
	SIGNAL_UNREF(kp);
	return r;
}

static int
save_identity_file(struct omemo *o, char **errstr)
{
	struct buf b;
	int r;

	buf_init(&b);
	buf_printf(&b, "%s\ndevice %lu", id_magic, (unsigned long)o->device_id);
	buf_adds(&b, "\npublic");
	put_b64(&b, o->ik_pub, OM_KEYLEN);
	buf_adds(&b, "\nprivate");
	put_b64(&b, o->ik_priv, OM_PRIVLEN);
	buf_addc(&b, '\n');
	r = write_file(o, "identity", b.data, b.len, errstr);
	wipe_free(b.data, b.cap);
	return r;
}

/* Parses the identity file's text (modified) into 'o'. */
static int
parse_identity(struct omemo *o, char *text)
{
	char *line[4], *f[3], *p = text;
	uint8_t *k;
	size_t i, len;
	int ok;

	for (i = 0; i < 4; i++) {
		line[i] = p;
		if ((p = strchr(p, '\n')) == NULL)
			return -1;
		*p++ = '\0';
	}
	if (*p != '\0' || strcmp(line[0], id_magic) != 0 ||
	    split(line[1], f, 2) != 2 || strcmp(f[0], "device") != 0 ||
	    num(f[1], 0x7fffffffUL, &o->device_id) < 0 || o->device_id == 0)
		return -1;
	for (i = 2; i < 4; i++) {
		if (split(line[i], f, 2) != 2 ||
		    strcmp(f[0], i == 2 ? "public" : "private") != 0 ||
		    b64_decode(f[1], &k, &len) < 0)
			return -1;
		ok = len == (i == 2 ? OM_KEYLEN : OM_PRIVLEN) &&
		    (i == 3 || k[0] == 0x05);
		if (ok)
			memcpy(i == 2 ? o->ik_pub : o->ik_priv, k, len);
		wipe_free(k, len);
		if (!ok)
			return -1;
	}
	return 0;
}

/* Loads the identity, or creates identity and state on first use. */
static int
load_identity(struct omemo *o, char **errstr)
{
	struct buf text;
	int r, rs;

	if ((r = read_file(o, "identity", &text, errstr)) < 0)
		return -1;
	if (r == 0) {
		r = parse_identity(o, text.data);
		wipe_free(text.data, text.cap);
		if (r < 0)
			*errstr = xasprintf("omemo: %s/identity: corrupt (the "
					    "store is left as it is)",
			    o->dir);
		return r;
	}
	if ((rs = read_file(o, "state", &text, errstr)) < 0)
		return -1;
	if (rs == 0) {
		wipe_free(text.data, text.cap);
		*errstr = xasprintf("omemo: %s/identity: missing, but the "
				    "state file is there (remove %s to start "
				    "over with a new identity)",
		    o->dir, o->dir);
		return -1;
	}
	if (new_identity(o, errstr) < 0 || new_state(o, errstr) < 0)
		return -1;
	r = save_state(o, &o->st, errstr);
	state_free(&o->st);
	if (r == 0)
		r = save_identity_file(o, errstr);
	return r;
}

/* --- the store callbacks of libomemo-c (on the loaded state) ----------- */

static struct om_dev *
dev_find_n(struct om_state *st, const char *jid, size_t len, uint32_t id)
{
	size_t i;

	for (i = 0; i < st->ndev; i++)
		if (st->dev[i].id == id && strlen(st->dev[i].jid) == len &&
		    memcmp(st->dev[i].jid, jid, len) == 0)
			return &st->dev[i];
	return NULL;
}

static struct om_dev *
dev_find(struct om_state *st, const char *jid, uint32_t id)
{
	return dev_find_n(st, jid, strlen(jid), id);
}

static struct om_dev *
dev_addr(struct omemo *o, const signal_protocol_address *a, int create)
{
	struct om_dev *d =
	    dev_find_n(&o->st, a->name, a->name_len, (uint32_t)a->device_id);
	char *jid;

	if (d != NULL || !create)
		return d;
	jid = xstrndup(a->name, a->name_len);
	d = dev_add(&o->st, jid, (uint32_t)a->device_id);
	free(jid);
	d->active = 0;
	return d;
}

static signal_buffer *
copy_buffer(const uint8_t *p, size_t len)
{
	return signal_buffer_create(p, len);
}

/* The session record of 'd' for the version the library works on. */
static uint8_t **
sess_of(const struct omemo *o, struct om_dev *d, size_t **len)
{
	*len = o->ver == OMEMO_V2 ? &d->slen2 : &d->slen;
	return o->ver == OMEMO_V2 ? &d->sess2 : &d->sess;
}

/* Drops the session of 'd' for the version the library works on. */
static int
sess_drop(struct omemo *o, struct om_dev *d)
{
	size_t *len;
	uint8_t **p = sess_of(o, d, &len);

	if (*p == NULL)
		return 0;
	wipe_free(*p, *len);
	*p = NULL;
	*len = 0;
	o->st.dirty = 1;
	return 1;
}

static int
ss_load(signal_buffer **record, signal_buffer **user,
    const signal_protocol_address *a, void *ud)
{
	struct om_dev *d = dev_addr(ud, a, 0);
	uint8_t **p;
	size_t *len;

	(void)user;
	if (d == NULL || *(p = sess_of(ud, d, &len)) == NULL)
		return 0;
	*record = copy_buffer(*p, *len);
	return *record != NULL ? 1 : SG_ERR_NOMEM;
}

static int
ss_list(signal_int_list **sessions, const char *name, size_t len, void *ud)
{
	struct omemo *o = ud;
	signal_int_list *l = signal_int_list_alloc();
	size_t i;

	if (l == NULL)
		return SG_ERR_NOMEM;
	for (i = 0; i < o->st.ndev; i++) {
		struct om_dev *d = &o->st.dev[i];
		size_t *sl;
		if (*sess_of(o, d, &sl) != NULL && strlen(d->jid) == len &&
		    memcmp(d->jid, name, len) == 0 &&
		    signal_int_list_push_back(l, (int)d->id) < 0) {
			signal_int_list_free(l);
			return SG_ERR_NOMEM;
		}
	}
	*sessions = l;
	return (int)signal_int_list_size(l);
}

static int
ss_store(const signal_protocol_address *a, uint8_t *rec, size_t len,
    uint8_t *user, size_t ulen, void *ud)
{
	struct om_dev *d = dev_addr(ud, a, 1);
	size_t *plen;
	uint8_t **p = sess_of(ud, d, &plen);

	(void)user;
	(void)ulen;
	wipe_free(*p, *plen);
	*p = xmalloc(len > 0 ? len : 1);
	memcpy(*p, rec, len);
	*plen = len;
	((struct omemo *)ud)->st.dirty = 1;
	return 0;
}

static int
ss_contains(const signal_protocol_address *a, void *ud)
{
	struct om_dev *d = dev_addr(ud, a, 0);
	size_t *len;

	return d != NULL && *sess_of(ud, d, &len) != NULL;
}

static int
ss_delete(const signal_protocol_address *a, void *ud)
{
	struct om_dev *d = dev_addr(ud, a, 0);

	return d != NULL ? sess_drop(ud, d) : 0;
}

static int
ss_delete_all(const char *name, size_t len, void *ud)
{
	struct omemo *o = ud;
	size_t i;
	int n = 0;

	for (i = 0; i < o->st.ndev; i++) {
		struct om_dev *d = &o->st.dev[i];
		if (strlen(d->jid) == len && memcmp(d->jid, name, len) == 0)
			n += sess_drop(o, d);
	}
	return n;
}

static struct om_prekey *
pk_find(struct om_state *st, uint32_t id)
{
	size_t i;

	for (i = 0; i < st->npk; i++)
		if (st->pk[i].id == id)
			return &st->pk[i];
	return NULL;
}

static int
pk_load(signal_buffer **record, uint32_t id, void *ud)
{
	struct om_prekey *k = pk_find(&((struct omemo *)ud)->st, id);

	if (k == NULL)
		return SG_ERR_INVALID_KEY_ID;
	*record = copy_buffer(k->rec, k->len);
	return *record != NULL ? SG_SUCCESS : SG_ERR_NOMEM;
}

static int
pk_store(uint32_t id, uint8_t *rec, size_t len, void *ud)
{
	struct omemo *o = ud;
	struct om_prekey *k = pk_find(&o->st, id);

	if (k == NULL) {
		o->st.pk = xrealloc(o->st.pk, (o->st.npk + 1) * sizeof(*k));
		k = &o->st.pk[o->st.npk++];
		k->id = id;
		k->v2 = o->ver == OMEMO_V2;
	} else {
		wipe_free(k->rec, k->len);
	}
	k->rec = xmalloc(len > 0 ? len : 1);
	memcpy(k->rec, rec, len);
	k->len = len;
	o->st.dirty = 1;
	return 0;
}

static int
pk_contains(uint32_t id, void *ud)
{
	return pk_find(&((struct omemo *)ud)->st, id) != NULL;
}

static int
pk_remove(uint32_t id, void *ud)
{
	struct omemo *o = ud;
	struct om_prekey *k = pk_find(&o->st, id);

	if (k == NULL)
		return 0;
	wipe_free(k->rec, k->len);
	*k = o->st.pk[--o->st.npk];
	o->st.changed = 1;
	o->st.dirty = 1;
	return 0;
}

static int
spk_load(signal_buffer **record, uint32_t id, void *ud)
{
	struct omemo *o = ud;

	if (o->st.spk.rec == NULL || o->st.spk.id != id)
		return SG_ERR_INVALID_KEY_ID;
	*record = copy_buffer(o->st.spk.rec, o->st.spk.len);
	return *record != NULL ? SG_SUCCESS : SG_ERR_NOMEM;
}

static int
spk_store(uint32_t id, uint8_t *rec, size_t len, void *ud)
{
	struct omemo *o = ud;

	wipe_free(o->st.spk.rec, o->st.spk.len);
	o->st.spk.id = id;
	o->st.spk.rec = xmalloc(len > 0 ? len : 1);
	memcpy(o->st.spk.rec, rec, len);
	o->st.spk.len = len;
	o->st.dirty = 1;
	return 0;
}

static int
spk_contains(uint32_t id, void *ud)
{
	struct omemo *o = ud;

	return o->st.spk.rec != NULL && o->st.spk.id == id;
}

static int
spk_remove(uint32_t id, void *ud)
{
	(void)id;
	(void)ud;
	return 0; /* the current signed pre-key stays */
}

static int
ik_pair(signal_buffer **pub, signal_buffer **priv, void *ud)
{
	struct omemo *o = ud;

	*pub = copy_buffer(o->ik_pub, OM_KEYLEN);
	*priv = copy_buffer(o->ik_priv, OM_PRIVLEN);
	return *pub != NULL && *priv != NULL ? 0 : SG_ERR_NOMEM;
}

static int
ik_regid(void *ud, uint32_t *id)
{
	*id = ((struct omemo *)ud)->device_id;
	return 0;
}

/* Records the identity key of a device seen for the first time (trust
 * OMEMO_BLIND); a different key for a known device is refused. */
static int
ik_save(const signal_protocol_address *a, uint8_t *key, size_t len, void *ud)
{
	struct omemo *o = ud;
	struct om_dev *d;

	if (key == NULL)
		return 0;
	if (len != OM_KEYLEN)
		return SG_ERR_INVALID_KEY;
	d = dev_addr(o, a, 1);
	if (d->has_ik)
		return memcmp(d->ik, key, OM_KEYLEN) == 0
		    ? 0
		    : SG_ERR_UNTRUSTED_IDENTITY;
	memcpy(d->ik, key, OM_KEYLEN);
	d->has_ik = 1;
	d->trust = OMEMO_BLIND;
	o->st.dirty = 1;
	return 0;
}

static int
ik_trusted(const signal_protocol_address *a, uint8_t *key, size_t len, void *ud)
{
	struct om_dev *d = dev_addr(ud, a, 0);

	if (d == NULL || !d->has_ik)
		return 1;
	return len == OM_KEYLEN && memcmp(d->ik, key, OM_KEYLEN) == 0;
}

/* Creates the libomemo-c contexts of 'o'. */
static int
signal_setup(struct omemo *o)
{
	signal_protocol_session_store ss = { ss_load, ss_list, ss_store,
		ss_contains, ss_delete, ss_delete_all, NULL, o };
	signal_protocol_pre_key_store ps = { pk_load, pk_store, pk_contains,
		pk_remove, NULL, o };
	signal_protocol_signed_pre_key_store sps = { spk_load, spk_store,
		spk_contains, spk_remove, NULL, o };
	signal_protocol_identity_key_store is = { ik_pair, ik_regid, ik_save,
		ik_trusted, NULL, o };

	if (signal_context_create(&o->sctx, o) < 0) {
		o->sctx = NULL;
		return -1;
	}
	if (signal_context_set_crypto_provider(o->sctx, &crypto_provider) < 0 ||
	    signal_protocol_store_context_create(&o->store, o->sctx) < 0) {
		o->store = NULL;
		return -1;
	}
	if (signal_protocol_store_context_set_session_store(o->store, &ss) <
		0 ||
	    signal_protocol_store_context_set_pre_key_store(o->store, &ps) <
		0 ||
	    signal_protocol_store_context_set_signed_pre_key_store(
		o->store, &sps) < 0 ||
	    signal_protocol_store_context_set_identity_key_store(
		o->store, &is) < 0)
		return -1;
	return 0;
}

/* --- one operation: lock, load, (save), unlock -------------------------- */

static int
op_begin(struct omemo *o, char **errstr)
{
	struct buf text;
	char *path;
	int r;

	o->ver = OMEMO_V03;
	while (flock(o->lockfd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			*errstr = xasprintf(
			    "omemo: %s/lock: %s", o->dir, strerror(errno));
			return -1;
		}
	}
	r = read_file(o, "state", &text, errstr);
	if (r == 1)
		*errstr = xasprintf("omemo: %s/state: missing (the identity "
				    "is there; the store is left as it is)",
		    o->dir);
	if (r != 0) {
		flock(o->lockfd, LOCK_UN);
		return -1;
	}
	path = xasprintf("%s/state", o->dir);
	r = parse_state(&o->st, text.data, path, errstr);
	free(path);
	wipe_free(text.data, text.cap);
	if (r < 0)
		flock(o->lockfd, LOCK_UN);
	return r;
}

/* Ends the operation: saves the state when 'ok' and it changed.  Returns
 * 'ok' ? 0 : -1, or -1 with *errstr when the save fails. */
static int
op_end(struct omemo *o, int ok, char **errstr)
{
	int r = ok ? 0 : -1;

	if (ok && o->st.dirty && save_state(o, &o->st, errstr) < 0)
		r = -1;
	state_free(&o->st);
	flock(o->lockfd, LOCK_UN);
	return r;
}

/* --- opening and closing ----------------------------------------------- */

struct omemo *
omemo_open(const char *dir, const char *account, char **errstr)
{
	struct omemo *o;
	char *lock;

	if (dir == NULL || dir[0] == '\0' || !jid_ok(account)) {
		*errstr = xstrdup("omemo: no store directory or not a usable "
				  "bare JID");
		return NULL;
	}
	o = xcalloc(1, sizeof(*o));
	o->lockfd = -1;
	o->dir = xasprintf("%s/%s", dir, account);
	if (make_parents(dir, errstr) < 0 || make_dir(dir, errstr) < 0 ||
	    make_dir(o->dir, errstr) < 0)
		goto fail;
	lock = xasprintf("%s/lock", o->dir);
	o->lockfd = open_checked(lock, O_RDWR | O_CREAT, S_IFREG, errstr);
	free(lock);
	if (o->lockfd < 0)
		goto fail;
	if (signal_setup(o) < 0) {
		*errstr = xstrdup("omemo: cannot set up libomemo-c");
		goto fail;
	}
	if (flock(o->lockfd, LOCK_EX) < 0) {
		*errstr =
		    xasprintf("omemo: %s/lock: %s", o->dir, strerror(errno));
		goto fail;
	}
	if (load_identity(o, errstr) < 0) {
		flock(o->lockfd, LOCK_UN);
		goto fail;
	}
	flock(o->lockfd, LOCK_UN);
	return o;
fail:
	omemo_close(o);
	return NULL;
}

void
omemo_close(struct omemo *o)
{
	if (o == NULL)
		return;
	if (o->store != NULL)
		signal_protocol_store_context_destroy(o->store);
	if (o->sctx != NULL)
		signal_context_destroy(o->sctx);
	if (o->lockfd >= 0)
		close(o->lockfd);
	state_free(&o->st);
	free(o->dir);
	OPENSSL_cleanse(o, sizeof(*o));
	free(o);
}

uint32_t
omemo_device_id(const struct omemo *o)
{
	return o->device_id;
}

char *
omemo_own_fingerprint(struct omemo *o)
{
	return fingerprint(o->ik_pub);
}

/* --- bundles ------------------------------------------------------------ */

/* Base64 of a public key serialized with its 0x05 type byte (OMEMO 2:
 * the 32 bytes alone); NULL on failure. */
static char *
pub_b64(const ec_public_key *k, int version)
{
	signal_buffer *b = NULL;
	char *s;

	if (k == NULL ||
	    (version == OMEMO_V2 ? ec_public_key_serialize_omemo(&b, k)
				 : ec_public_key_serialize(&b, k)) < 0)
		return NULL;
	s = b64_encode(signal_buffer_data(b), signal_buffer_len(b));
	signal_buffer_free(b);
	return s;
}

void
omemo_bundle_clear(struct omemo_bundle *b)
{
	size_t i;

	if (b == NULL)
		return;
	free(b->ik);
	free(b->spk);
	free(b->spk_sig);
	for (i = 0; i < b->npk; i++)
		free(b->pk[i].pub);
	free(b->pk);
	memset(b, 0, sizeof(*b));
}

/* The own identity key in the Ed25519 form of OMEMO 2, base64; NULL on
 * failure. */
static char *
own_ik_ed(struct omemo *o)
{
	ec_public_key *k = NULL;
	signal_buffer *ed;
	char *s = NULL;

	if (curve_decode_point(&k, o->ik_pub, OM_KEYLEN, o->sctx) < 0)
		return NULL;
	if ((ed = ec_public_key_get_ed(k)) != NULL &&
	    signal_buffer_len(ed) == OM_V2_RAW)
		s = b64_encode(signal_buffer_data(ed), signal_buffer_len(ed));
	signal_buffer_free(ed);
	SIGNAL_UNREF(k);
	return s;
}

/* The signed pre-key of the loaded state into 'b'. */
static int
fill_spk(struct omemo *o, struct omemo_bundle *b)
{
	session_signed_pre_key *spk = NULL;
	int v2 = b->version == OMEMO_V2;

	if (session_signed_pre_key_deserialize(
		&spk, o->st.spk.rec, o->st.spk.len, o->sctx) < 0)
		return -1;
	b->spk_id = session_signed_pre_key_get_id(spk);
	b->spk = pub_b64(
	    ec_key_pair_get_public(session_signed_pre_key_get_key_pair(spk)),
	    b->version);
	if (v2 &&
	    session_signed_pre_key_get_signature_omemo_len(spk) ==
		CURVE_SIGNATURE_LEN)
		b->spk_sig =
		    b64_encode(session_signed_pre_key_get_signature_omemo(spk),
			CURVE_SIGNATURE_LEN);
	else if (!v2)
		b->spk_sig =
		    b64_encode(session_signed_pre_key_get_signature(spk),
			session_signed_pre_key_get_signature_len(spk));
	SIGNAL_UNREF(spk);
	return b->spk != NULL && b->spk_sig != NULL ? 0 : -1;
}

/* Fills 'b' (its version set) from the loaded state. */
static int
fill_bundle(struct omemo *o, struct omemo_bundle *b)
{
	struct om_state *st = &o->st;
	session_pre_key *pk;
	size_t i;

	b->ik = b->version == OMEMO_V2 ? own_ik_ed(o)
				       : b64_encode(o->ik_pub, OM_KEYLEN);
	if (b->ik == NULL || fill_spk(o, b) < 0)
		return -1;
	b->pk = xcalloc(st->npk > 0 ? st->npk : 1, sizeof(*b->pk));
	for (i = 0; i < st->npk; i++) {
		if (st->pk[i].v2 != (b->version == OMEMO_V2))
			continue;
		if (session_pre_key_deserialize(
			&pk, st->pk[i].rec, st->pk[i].len, o->sctx) < 0)
			return -1;
		b->pk[b->npk].id = session_pre_key_get_id(pk);
		b->pk[b->npk].pub = pub_b64(
		    ec_key_pair_get_public(session_pre_key_get_key_pair(pk)),
		    b->version);
		SIGNAL_UNREF(pk);
		if (b->pk[b->npk].pub == NULL)
			return -1;
		b->npk++;
	}
	return 0;
}

int
omemo_own_bundle(struct omemo *o, struct omemo_bundle *out, char **errstr)
{
	return omemo_own_bundle_version(o, OMEMO_V03, out, errstr);
}

int
omemo_own_bundle_version(
    struct omemo *o, int version, struct omemo_bundle *out, char **errstr)
{
	struct omemo_bundle b;

	memset(&b, 0, sizeof(b));
	b.version = version == OMEMO_V2 ? OMEMO_V2 : OMEMO_V03;
	if (op_begin(o, errstr) < 0)
		return -1;
	/* a store of before OMEMO 2 gets its pool on first use */
	if (b.version == OMEMO_V2 && fill_pool(o, 1, errstr) < 0)
		return op_end(o, 0, errstr);
	if (fill_bundle(o, &b) < 0) {
		omemo_bundle_clear(&b);
		*errstr = xasprintf(
		    "omemo: %s/state: a key record is corrupt", o->dir);
		return op_end(o, 0, errstr);
	}
	if (o->st.changed) {
		o->st.changed = 0;
		o->st.dirty = 1;
	}
	if (op_end(o, 1, errstr) < 0) {
		omemo_bundle_clear(&b);
		return -1;
	}
	*out = b;
	return 0;
}

int
omemo_bundle_changed(struct omemo *o)
{
	char *err = NULL;
	int changed;

	if (op_begin(o, &err) < 0) {
		free(err);
		return 0;
	}
	changed = o->st.changed;
	op_end(o, 0, &err);
	return changed;
}

/* Decodes one base64 public key of a bundle: 0.3 0x05 and 32 bytes; OMEMO
 * 2 32 bytes, in the Ed25519 form when 'ed' (the identity key), else
 * Curve25519 ('what' names it in errors). */
static int
bundle_key(struct omemo *o, const char *s, int ed, ec_public_key **k,
    const char *jid, uint32_t dev, const char *what, char **errstr)
{
	uint8_t *p = NULL;
	size_t len = 0;
	int r = -1;

	if (s == NULL || b64_decode(s, &p, &len) < 0)
		r = -1;
	else if (o->ver == OMEMO_V2 && len == OM_V2_RAW)
		r = (ed ? curve_decode_point_ed(k, p, len, o->sctx)
			: curve_decode_point_mont(k, p, len, o->sctx)) < 0
		    ? -1
		    : 0;
	else if (o->ver != OMEMO_V2 && len == OM_KEYLEN && p[0] == 0x05)
		r = curve_decode_point(k, p, len, o->sctx) < 0 ? -1 : 0;
	free(p);
	if (r < 0)
		*errstr =
		    xasprintf("omemo: %s device %lu: bad %s in the bundle", jid,
			(unsigned long)dev, what);
	return r;
}

/* Builds the session from the decoded keys of a bundle (state loaded). */
static int
build_session(struct omemo *o, const char *jid, uint32_t dev,
    session_pre_key_bundle *bundle, char **errstr)
{
	signal_protocol_address a = { jid, strlen(jid), (int32_t)dev };
	session_builder *sb = NULL;
	int r;

	if (session_builder_create(&sb, o->store, &a, o->sctx) < 0) {
		*errstr = xstrdup("omemo: cannot set up a session builder");
		return -1;
	}
	session_builder_set_version(
	    sb, o->ver == OMEMO_V2 ? OM_VERSION2 : OM_VERSION);
	r = session_builder_process_pre_key_bundle(sb, bundle);
	session_builder_free(sb);
	if (r == SG_ERR_INVALID_KEY)
		*errstr = xasprintf("omemo: %s device %lu: the signature of "
				    "the signed pre-key does not verify",
		    jid, (unsigned long)dev);
	else if (r == SG_ERR_UNTRUSTED_IDENTITY)
		*errstr = xasprintf("omemo: %s device %lu: identity key "
				    "differs from the one known",
		    jid, (unsigned long)dev);
	else if (r < 0)
		*errstr = xasprintf("omemo: %s device %lu: cannot build a "
				    "session from the bundle (error %d)",
		    jid, (unsigned long)dev, r);
	return r < 0 ? -1 : 0;
}

/* The keys of bundle 'b', decoded; a random pre-key of it (if any). */
struct bundle_keys {
	ec_public_key *ik, *spk, *pk;
	uint32_t pk_id;
	uint8_t *sig;
	size_t siglen;
};

static void
bundle_keys_free(struct bundle_keys *k)
{
	SIGNAL_UNREF(k->ik);
	SIGNAL_UNREF(k->spk);
	SIGNAL_UNREF(k->pk);
	free(k->sig);
}

static int
decode_bundle(struct omemo *o, const char *jid, uint32_t dev,
    const struct omemo_bundle *b, struct bundle_keys *k, char **errstr)
{
	uint32_t pick = 0;

	memset(k, 0, sizeof(*k));
	if (bundle_key(o, b->ik, 1, &k->ik, jid, dev, "identity key", errstr) <
		0 ||
	    bundle_key(
		o, b->spk, 0, &k->spk, jid, dev, "signed pre-key", errstr) < 0)
		return -1;
	if (b->spk_sig == NULL ||
	    b64_decode(b->spk_sig, &k->sig, &k->siglen) < 0 ||
	    k->siglen != CURVE_SIGNATURE_LEN) {
		*errstr = xasprintf("omemo: %s device %lu: bad signed pre-key "
				    "signature in the bundle",
		    jid, (unsigned long)dev);
		return -1;
	}
	if (b->npk == 0)
		return 0;
	if (RAND_bytes((unsigned char *)&pick, sizeof(pick)) != 1) {
		*errstr = xstrdup("omemo: no random numbers");
		return -1;
	}
	pick %= (uint32_t)b->npk;
	k->pk_id = b->pk[pick].id;
	return bundle_key(
	    o, b->pk[pick].pub, 0, &k->pk, jid, dev, "pre-key", errstr);
}

/* Refuses a device whose known identity key is not 'ik'. */
static int
same_identity(struct omemo *o, const char *jid, uint32_t dev,
    const ec_public_key *ik, char **errstr)
{
	struct om_dev *d = dev_find(&o->st, jid, dev);
	signal_buffer *b = NULL;
	int same;

	if (d == NULL || !d->has_ik)
		return 0;
	if (ec_public_key_serialize(&b, ik) < 0) {
		*errstr = xstrdup("omemo: cannot serialize a key");
		return -1;
	}
	same = signal_buffer_len(b) == OM_KEYLEN &&
	    memcmp(signal_buffer_data(b), d->ik, OM_KEYLEN) == 0;
	signal_buffer_free(b);
	if (same)
		return 0;
	*errstr = xasprintf("omemo: %s device %lu: identity key differs from "
			    "the one known",
	    jid, (unsigned long)dev);
	return -1;
}

int
omemo_process_bundle(struct omemo *o, const char *jid, uint32_t dev,
    const struct omemo_bundle *b, char **errstr)
{
	struct bundle_keys k;
	session_pre_key_bundle *bundle = NULL;
	int ok = 0;

	if (check_jid(jid, errstr) < 0 || op_begin(o, errstr) < 0)
		return -1;
	o->ver = b->version == OMEMO_V2 ? OMEMO_V2 : OMEMO_V03;
	if (decode_bundle(o, jid, dev, b, &k, errstr) == 0 &&
	    same_identity(o, jid, dev, k.ik, errstr) == 0) {
		if (session_pre_key_bundle_create(&bundle, dev, (int)dev,
			k.pk_id, k.pk, b->spk_id, k.spk, k.sig, k.siglen,
			k.ik) < 0)
			*errstr = xstrdup("omemo: cannot hold a bundle");
		else
			ok = build_session(o, jid, dev, bundle, errstr) == 0;
	}
	SIGNAL_UNREF(bundle);
	bundle_keys_free(&k);
	return op_end(o, ok, errstr);
}

/* --- devices and trust -------------------------------------------------- */

int
omemo_set_devices(struct omemo *o, const char *jid, const uint32_t *ids,
    size_t n, char **errstr)
{
	return omemo_set_devices_version(o, OMEMO_V03, jid, ids, n, errstr);
}

int
omemo_set_devices_version(struct omemo *o, int version, const char *jid,
    const uint32_t *ids, size_t n, char **errstr)
{
	size_t i, j;

	if (check_jid(jid, errstr) < 0 || op_begin(o, errstr) < 0)
		return -1;
	for (j = 0; j < n; j++) {
		if (ids[j] != 0 && dev_find(&o->st, jid, ids[j]) == NULL) {
			/* active in the other list only once it names it */
			dev_add(&o->st, jid, ids[j])->active = 0;
			o->st.dirty = 1;
		}
	}
	for (i = 0; i < o->st.ndev; i++) {
		struct om_dev *d = &o->st.dev[i];
		int active = 0, *flag;
		if (strcmp(d->jid, jid) != 0)
			continue;
		for (j = 0; j < n && !active; j++)
			active = ids[j] == d->id;
		flag = version == OMEMO_V2 ? &d->active2 : &d->active;
		if (*flag != active) {
			*flag = active;
			o->st.dirty = 1;
		}
	}
	return op_end(o, 1, errstr);
}

static int
cmp_dev(const void *a, const void *b)
{
	const struct omemo_device *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

int
omemo_devices(struct omemo *o, const char *jid, struct omemo_device **out,
    size_t *n, char **errstr)
{
	struct omemo_device *res = NULL;
	size_t i, k = 0;

	if (check_jid(jid, errstr) < 0 || op_begin(o, errstr) < 0)
		return -1;
	for (i = 0; i < o->st.ndev; i++) {
		struct om_dev *d = &o->st.dev[i];
		if (!d->has_ik || strcmp(d->jid, jid) != 0)
			continue;
		res = xrealloc(res, (k + 1) * sizeof(*res));
		res[k].id = d->id;
		res[k].fingerprint = fingerprint(d->ik);
		res[k].trust = d->trust;
		res[k].active = d->active || d->active2;
		res[k].active03 = d->active;
		res[k].active2 = d->active2;
		k++;
	}
	op_end(o, 0, errstr);
	if (k > 0)
		qsort(res, k, sizeof(*res), cmp_dev);
	*out = res;
	*n = k;
	return 0;
}

void
omemo_devices_free(struct omemo_device *d, size_t n)
{
	size_t i;

	for (i = 0; d != NULL && i < n; i++)
		free(d[i].fingerprint);
	free(d);
}

int
omemo_has_session(struct omemo *o, const char *jid, uint32_t dev)
{
	return omemo_has_session_version(o, OMEMO_V03, jid, dev);
}

int
omemo_has_session_version(
    struct omemo *o, int version, const char *jid, uint32_t dev)
{
	struct om_dev *d;
	char *err = NULL;
	int has;

	if (!jid_ok(jid) || op_begin(o, &err) < 0) {
		free(err);
		return 0;
	}
	d = dev_find(&o->st, jid, dev);
	has = d != NULL &&
	    (version == OMEMO_V2 ? d->sess2 != NULL : d->sess != NULL);
	op_end(o, 0, &err);
	return has;
}

/* The trust policy on the loaded state (see omemo_device_usable()). */
static int
usable(struct om_state *st, const char *jid, uint32_t dev)
{
	struct om_dev *d = dev_find(st, jid, dev);
	size_t i;

	if (d == NULL || !d->has_ik || d->trust == OMEMO_DISTRUSTED)
		return 0;
	if (d->trust == OMEMO_TRUSTED)
		return 1;
	for (i = 0; i < st->ndev; i++)
		if (st->dev[i].has_ik && st->dev[i].trust == OMEMO_TRUSTED &&
		    strcmp(st->dev[i].jid, jid) == 0)
			return 0;
	return 1;
}

int
omemo_device_usable(struct omemo *o, const char *jid, uint32_t dev)
{
	char *err = NULL;
	int r;

	if (!jid_ok(jid) || op_begin(o, &err) < 0) {
		free(err);
		return 0;
	}
	r = usable(&o->st, jid, dev);
	op_end(o, 0, &err);
	return r;
}

/* 'fp' without spaces, lowercase, if it is 64 hex digits; else NULL. */
static char *
normal_fp(const char *fp)
{
	char *s = xmalloc(strlen(fp) + 1);
	size_t n = 0;

	for (; *fp != '\0'; fp++) {
		if (*fp == ' ')
			continue;
		if (!isxdigit((unsigned char)*fp) || n == 64) {
			free(s);
			return NULL;
		}
		s[n++] = (char)tolower((unsigned char)*fp);
	}
	s[n] = '\0';
	if (n != 64) {
		free(s);
		return NULL;
	}
	return s;
}

/* The known device of 'jid' named by 'dev' or 'fp' (normalized). */
static struct om_dev *
find_named(struct om_state *st, const char *jid, uint32_t dev, const char *fp)
{
	size_t i;

	for (i = 0; i < st->ndev; i++) {
		struct om_dev *d = &st->dev[i];
		char *dfp, *p, *q;
		int match;
		if (!d->has_ik || strcmp(d->jid, jid) != 0 ||
		    (dev != 0 && d->id != dev))
			continue;
		if (fp == NULL)
			return dev != 0 ? d : NULL;
		dfp = fingerprint(d->ik);
		for (p = q = dfp; *p != '\0'; p++)
			if (*p != ' ')
				*q++ = *p;
		*q = '\0';
		match = strcmp(dfp, fp) == 0;
		free(dfp);
		if (match)
			return d;
	}
	return NULL;
}

int
omemo_set_trust(struct omemo *o, const char *jid, uint32_t dev,
    const char *fingerprint, int trust, char **errstr)
{
	struct om_dev *d;
	char *fp = NULL;

	if (check_jid(jid, errstr) < 0)
		return -1;
	if (trust < OMEMO_BLIND || trust > OMEMO_DISTRUSTED) {
		*errstr = xasprintf("omemo: trust level %d unknown", trust);
		return -1;
	}
	if (fingerprint != NULL && (fp = normal_fp(fingerprint)) == NULL) {
		*errstr = xasprintf("omemo: %s: not a fingerprint (64 hex "
				    "digits)",
		    jid);
		return -1;
	}
	if (op_begin(o, errstr) < 0) {
		free(fp);
		return -1;
	}
	if ((d = find_named(&o->st, jid, dev, fp)) == NULL) {
		*errstr = fp != NULL
		    ? xasprintf("omemo: %s: no known device with that "
				"fingerprint",
			  jid)
		    : xasprintf("omemo: %s: no known device %lu", jid,
			  (unsigned long)dev);
	} else if (d->trust != trust) {
		d->trust = trust;
		o->st.dirty = 1;
	}
	free(fp);
	return op_end(o, d != NULL, errstr);
}

/* --- messages ----------------------------------------------------------- */

void
omemo_msg_clear(struct omemo_msg *m)
{
	size_t i;

	if (m == NULL)
		return;
	free(m->iv);
	free(m->payload);
	for (i = 0; i < m->nkeys; i++) {
		free(m->keys[i].jid);
		free(m->keys[i].data);
	}
	free(m->keys);
	memset(m, 0, sizeof(*m));
}

/* Encrypts the 32-byte key blob for one target into 'k' (state loaded). */
static int
encrypt_key(struct omemo *o, const struct omemo_target *t, const uint8_t *blob,
    struct omemo_key *k, char **errstr)
{
	signal_protocol_address a = { t->jid, strlen(t->jid), (int32_t)t->rid };
	session_cipher *c = NULL;
	ciphertext_message *m = NULL;
	signal_buffer *ser;
	int r;

	if (session_cipher_create(&c, o->store, &a, o->sctx) < 0) {
		*errstr = xstrdup("omemo: cannot set up a session cipher");
		return -1;
	}
	session_cipher_set_version(
	    c, o->ver == OMEMO_V2 ? OM_VERSION2 : OM_VERSION);
	r = session_cipher_encrypt(c, blob,
	    o->ver == OMEMO_V2 ? OM_V2_BLOB : OM_GCM_KEY + OM_GCM_TAG, &m);
	session_cipher_free(c);
	if (r < 0) {
		*errstr = xasprintf("omemo: %s device %lu: cannot encrypt "
				    "(error %d)",
		    t->jid, (unsigned long)t->rid, r);
		return -1;
	}
	ser = ciphertext_message_get_serialized(m);
	k->jid = xstrdup(t->jid);
	k->rid = t->rid;
	k->prekey = ciphertext_message_get_type(m) == CIPHERTEXT_PREKEY_TYPE;
	k->data = b64_encode(signal_buffer_data(ser), signal_buffer_len(ser));
	SIGNAL_UNREF(m);
	return 0;
}

/* Checks the targets: usable JIDs, a session with each. */
static int
check_targets(
    struct omemo *o, const struct omemo_target *t, size_t n, char **errstr)
{
	size_t i;

	if (n == 0) {
		*errstr = xstrdup("omemo: no recipient device");
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct om_dev *d;
		if (check_jid(t[i].jid, errstr) < 0)
			return -1;
		d = dev_find(&o->st, t[i].jid, t[i].rid);
		if (d == NULL ||
		    (o->ver == OMEMO_V2 ? d->sess2 : d->sess) == NULL) {
			*errstr = xasprintf("omemo: %s device %lu: no session",
			    t[i].jid, (unsigned long)t[i].rid);
			return -1;
		}
	}
	return 0;
}

/* The payload: AES-128-GCM of 'body' under a random key and IV; 'blob'
 * gets key || tag.  Fills m->iv and m->payload.  With 'body' NULL (a key
 * transport element) the blob is random and there is no payload. */
static int
seal_body(const char *body, uint8_t *blob, struct omemo_msg *m)
{
	uint8_t iv[OM_GCM_IV];
	size_t len = body != NULL ? strlen(body) : 0;
	uint8_t *ct;
	int r = -1;

	if (RAND_bytes(blob, OM_GCM_KEY + OM_GCM_TAG) != 1 ||
	    RAND_bytes(iv, sizeof(iv)) != 1)
		return -1;
	m->iv = b64_encode(iv, sizeof(iv));
	if (body == NULL)
		return 0;
	ct = xmalloc(len + 1);
	if (gcm(1, blob, iv, sizeof(iv), (const uint8_t *)body, len, ct,
		blob + OM_GCM_KEY) == 0) {
		m->payload = b64_encode(ct, len);
		r = 0;
	}
	free(ct);
	return r;
}

int
omemo_encrypt(struct omemo *o, const char *body, const struct omemo_target *t,
    size_t n, struct omemo_msg *out, char **errstr)
{
	return omemo_encrypt_version(o, OMEMO_V03, body, t, n, out, errstr);
}

int
omemo_encrypt_version(struct omemo *o, int version, const char *body,
    const struct omemo_target *t, size_t n, struct omemo_msg *out,
    char **errstr)
{
	struct omemo_msg m;
	uint8_t blob[OM_V2_BLOB];
	size_t i;
	int ok = 0, v2 = version == OMEMO_V2;

	memset(&m, 0, sizeof(m));
	if (op_begin(o, errstr) < 0)
		return -1;
	o->ver = m.version = v2 ? OMEMO_V2 : OMEMO_V03;
	if (check_targets(o, t, n, errstr) < 0)
		goto out;
	if ((v2 ? v2_seal(body, blob, &m) : seal_body(body, blob, &m)) < 0) {
		*errstr = xstrdup("omemo: cannot encrypt the payload");
		goto out;
	}
	m.sid = o->device_id;
	m.keys = xcalloc(n, sizeof(*m.keys));
	for (i = 0; i < n; i++) {
		if (encrypt_key(o, &t[i], blob, &m.keys[i], errstr) < 0)
			goto out;
		m.nkeys++;
	}
	ok = 1;
out:
	OPENSSL_cleanse(blob, sizeof(blob));
	if (op_end(o, ok, errstr) < 0) {
		omemo_msg_clear(&m);
		return -1;
	}
	*out = m;
	return 0;
}

/* The message of a libomemo-c error while decrypting from 'jid'/'dev'. */
static char *
decrypt_error(int r, const char *jid, uint32_t dev)
{
	const char *why;

	switch (r) {
	case SG_ERR_NO_SESSION:
		why = "no session";
		break;
	case SG_ERR_DUPLICATE_MESSAGE:
		why = "duplicate message";
		break;
	case SG_ERR_UNTRUSTED_IDENTITY:
		why = "identity key differs from the one known";
		break;
	case SG_ERR_INVALID_KEY_ID:
		why = "unknown pre-key";
		break;
	case SG_ERR_INVALID_MAC:
	case SG_ERR_INVALID_MESSAGE:
	case SG_ERR_INVALID_PROTO_BUF:
		why = "corrupt key element";
		break;
	case SG_ERR_INVALID_VERSION:
	case SG_ERR_LEGACY_MESSAGE:
		why = "unsupported message version";
		break;
	default:
		return xasprintf("omemo: %s device %lu: cannot decrypt the "
				 "key (error %d)",
		    jid, (unsigned long)dev, r);
	}
	return xasprintf("omemo: %s device %lu: cannot decrypt the key: %s",
	    jid, (unsigned long)dev, why);
}

/* A key exchange message of the version worked on ('dev' sent it). */
static int
parse_prekey(struct omemo *o, uint32_t dev, const uint8_t *data, size_t len,
    pre_key_signal_message **pm)
{
	if (o->ver == OMEMO_V2)
		return pre_key_signal_message_deserialize_omemo(
		    pm, data, len, dev, o->sctx);
	return pre_key_signal_message_deserialize(pm, data, len, o->sctx);
}

/* A message of an existing session, of the version worked on. */
static int
parse_signal(
    struct omemo *o, const uint8_t *data, size_t len, signal_message **sm)
{
	if (o->ver == OMEMO_V2)
		return signal_message_deserialize_omemo(sm, data, len, o->sctx);
	return signal_message_deserialize(sm, data, len, o->sctx);
}

/* Decrypts the signal message 'data' of 'len' bytes into *plain.
 * '*prekey' says whether it is a key exchange message; if it does not
 * parse as one, the other kind is tried, and *prekey tells which it was. */
static int
open_key(struct omemo *o, const char *jid, uint32_t dev, int *prekey,
    const uint8_t *data, size_t len, signal_buffer **plain)
{
	signal_protocol_address a = { jid, strlen(jid), (int32_t)dev };
	session_cipher *c = NULL;
	pre_key_signal_message *pm = NULL;
	signal_message *sm = NULL;
	int r;

	if ((r = session_cipher_create(&c, o->store, &a, o->sctx)) < 0)
		return r;
	session_cipher_set_version(
	    c, o->ver == OMEMO_V2 ? OM_VERSION2 : OM_VERSION);
	if (*prekey && parse_prekey(o, dev, data, len, &pm) < 0 &&
	    parse_signal(o, data, len, &sm) >= 0)
		*prekey = 0;
	else if (!*prekey && parse_signal(o, data, len, &sm) < 0 &&
	    parse_prekey(o, dev, data, len, &pm) >= 0)
		*prekey = 1;
	if (pm != NULL)
		r = session_cipher_decrypt_pre_key_signal_message(
		    c, pm, NULL, plain);
	else if (sm != NULL)
		r = session_cipher_decrypt_signal_message(c, sm, NULL, plain);
	else
		r = SG_ERR_INVALID_MESSAGE;
	SIGNAL_UNREF(pm);
	SIGNAL_UNREF(sm);
	session_cipher_free(c);
	return r;
}

/* Decrypts the payload of 'in' with the key blob 'kb' ('kblen' bytes:
 * key || tag, or a key with the tag at the end of the payload). */
static int
open_payload(
    const struct omemo_msg *in, const uint8_t *kb, size_t kblen, char **body)
{
	uint8_t *iv = NULL, *ct = NULL, *pt = NULL, tag[OM_GCM_TAG];
	size_t ivlen = 0, len = 0;
	int r = -1;

	if (b64_decode(in->iv != NULL ? in->iv : "", &iv, &ivlen) < 0 ||
	    (ivlen != 12 && ivlen != 16) ||
	    b64_decode(in->payload, &ct, &len) < 0)
		goto out;
	if (kblen == OM_GCM_KEY + OM_GCM_TAG) {
		memcpy(tag, kb + OM_GCM_KEY, OM_GCM_TAG);
	} else if (kblen == OM_GCM_KEY && len >= OM_GCM_TAG) {
		len -= OM_GCM_TAG;
		memcpy(tag, ct + len, OM_GCM_TAG);
	} else {
		goto out;
	}
	pt = xmalloc(len + 1);
	if (gcm(0, kb, iv, ivlen, ct, len, pt, tag) < 0 ||
	    memchr(pt, '\0', len) != NULL) {
		wipe_free(pt, len + 1);
		goto out;
	}
	pt[len] = '\0';
	*body = (char *)pt;
	r = 0;
out:
	free(iv);
	free(ct);
	return r;
}

/* The key of 'in' for our device, decoded; -1 with *errstr if none. */
static const struct omemo_key *
our_key(struct omemo *o, const char *from, const struct omemo_msg *in,
    char **errstr)
{
	size_t i;

	for (i = 0; i < in->nkeys; i++)
		if (in->keys[i].rid == o->device_id && in->keys[i].data != NULL)
			return &in->keys[i];
	*errstr = xasprintf("omemo: message from %s device %lu: not "
			    "encrypted for this device",
	    from, (unsigned long)in->sid);
	return NULL;
}

/* The part of omemo_decrypt() under the lock. */
static int
decrypt_locked(struct omemo *o, const char *from, const struct omemo_msg *in,
    const struct omemo_key *k, char **body, int *prekey, char **errstr)
{
	struct om_dev *d = dev_find(&o->st, from, in->sid);
	signal_buffer *plain = NULL;
	uint8_t *data = NULL;
	size_t len = 0;
	int r;

	if (d != NULL && d->has_ik && d->trust == OMEMO_DISTRUSTED) {
		*errstr = xasprintf("omemo: %s device %lu: distrusted; "
				    "message refused",
		    from, (unsigned long)in->sid);
		return -1;
	}
	if (b64_decode(k->data, &data, &len) < 0 || len == 0) {
		free(data);
		*errstr = xasprintf("omemo: %s device %lu: key element is "
				    "not base64",
		    from, (unsigned long)in->sid);
		return -1;
	}
	r = open_key(o, from, in->sid, prekey, data, len, &plain);
	free(data);
	if (r < 0) {
		*errstr = decrypt_error(r, from, in->sid);
		return -1;
	}
	*body = NULL;
	if (in->payload == NULL)
		r = 0;
	else if (o->ver == OMEMO_V2)
		r = v2_open(in, signal_buffer_data(plain),
		    signal_buffer_len(plain), body);
	else
		r = open_payload(in, signal_buffer_data(plain),
		    signal_buffer_len(plain), body);
	signal_buffer_bzero_free(plain);
	if (r < 0) {
		*errstr = xasprintf("omemo: %s device %lu: payload does not "
				    "decrypt (tampered or truncated)",
		    from, (unsigned long)in->sid);
		return -1;
	}
	if (fill_pool(o, 0, errstr) < 0 ||
	    ((o->ver == OMEMO_V2 || pool_size(&o->st, 1) > 0) &&
		fill_pool(o, 1, errstr) < 0)) {
		free(*body);
		return -1;
	}
	return 0;
}

int
omemo_decrypt(struct omemo *o, const char *from, const struct omemo_msg *in,
    char **body, int *prekey, char **errstr)
{
	const struct omemo_key *k;
	char *b = NULL;
	int ok, pk;

	if (check_jid(from, errstr) < 0 ||
	    (k = our_key(o, from, in, errstr)) == NULL)
		return -1;
	if (op_begin(o, errstr) < 0)
		return -1;
	o->ver = in->version == OMEMO_V2 ? OMEMO_V2 : OMEMO_V03;
	pk = k->prekey != 0;
	ok = decrypt_locked(o, from, in, k, &b, &pk, errstr) == 0;
	if (op_end(o, ok, errstr) < 0) {
		if (ok && b != NULL)
			wipe_free(b, strlen(b));
		return -1;
	}
	*body = b;
	*prekey = pk;
	return 0;
}
