/* SPDX-License-Identifier: MIT */
/* test_omemo.c -- unit tests of the OMEMO engine of common/omemo.c: two
 * stores in a temporary directory talk to each other */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "omemo.h"

#define ALICE "alice@example.org"
#define BOB "bob@example.org"
#define BODY "h\xc3\xa9llo\nworld"

struct fixture {
	char tmp[64];
	char *dir; /* tmp/omemo */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	strcpy(f->tmp, "/tmp/test_omemo.XXXXXX");
	if (mkdtemp(f->tmp) == NULL)
		return -1;
	if (asprintf(&f->dir, "%s/omemo", f->tmp) < 0)
		return -1;
	*state = f;
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f->dir);
	free(f);
	return 0;
}

static struct omemo *
open_ok(const char *dir, const char *account)
{
	char *err = NULL;
	struct omemo *o = omemo_open(dir, account, &err);

	if (o == NULL)
		fail_msg("omemo_open: %s", err);
	return o;
}

/* Decodes base64 'b64' into 'out' (room for 'max'); returns the length. */
static size_t
unb64(const char *b64, unsigned char *out, size_t max)
{
	size_t n = strlen(b64), pad = 0;
	int r;

	assert_true(n % 4 == 0 && n / 4 * 3 <= max);
	while (pad < n && b64[n - 1 - pad] == '=')
		pad++;
	r = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n);
	assert_true(r >= 0);
	return (size_t)r - pad;
}

/* Alice builds a session with 'dev' of 'jid' in store 'to'. */
static void
introduce(struct omemo *from, struct omemo *to, const char *jid)
{
	struct omemo_bundle b;
	char *err = NULL;

	assert_int_equal(omemo_own_bundle(to, &b, &err), 0);
	if (omemo_process_bundle(from, jid, omemo_device_id(to), &b, &err))
		fail_msg("process_bundle: %s", err);
	omemo_bundle_clear(&b);
}

/* Encrypts 'body' from 'a' to device 'dev' of 'jid'. */
static void
encrypt_to(struct omemo *a, const char *jid, uint32_t dev, const char *body,
    struct omemo_msg *m)
{
	struct omemo_target t = { jid, dev };
	char *err = NULL;

	if (omemo_encrypt(a, body, &t, 1, m, &err) < 0)
		fail_msg("encrypt: %s", err);
	assert_int_equal(m->nkeys, 1);
	assert_string_equal(m->keys[0].jid, jid);
	assert_int_equal(m->keys[0].rid, dev);
	assert_int_equal(m->sid, omemo_device_id(a));
}

/* Decrypts 'm' from 'from' in 'b' and checks body and prekey. */
static void
decrypt_expect(struct omemo *b, const char *from, const struct omemo_msg *m,
    const char *want, int want_prekey)
{
	char *body = NULL, *err = NULL;
	int prekey = -1;

	if (omemo_decrypt(b, from, m, &body, &prekey, &err) < 0)
		fail_msg("decrypt: %s", err);
	assert_string_equal(body, want);
	assert_int_equal(prekey, want_prekey);
	free(body);
}

static void
decrypt_fails(struct omemo *b, const char *from, const struct omemo_msg *m,
    const char *why)
{
	char *body = NULL, *err = NULL;
	int prekey = -1;

	assert_int_equal(omemo_decrypt(b, from, m, &body, &prekey, &err), -1);
	assert_non_null(err);
	if (strstr(err, why) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, why);
	assert_null(strchr(err, '\n'));
	assert_null(body);
	assert_int_equal(prekey, -1);
	free(err);
}

static void
omemo_round_trip__survives_reopening(void **state)
{
	struct fixture *f = *state;
	struct omemo *a = open_ok(f->dir, ALICE), *b = open_ok(f->dir, BOB);
	uint32_t aid = omemo_device_id(a), bid = omemo_device_id(b);
	struct omemo_msg m;
	unsigned char raw[512];
	char text[32];
	int i;

	assert_true(aid != 0 && aid < 0x80000000U && bid != aid);
	introduce(a, b, BOB);
	omemo_close(a);
	a = open_ok(f->dir, ALICE);
	assert_int_equal(omemo_device_id(a), aid);
	assert_int_equal(omemo_has_session(a, BOB, bid), 1);
	assert_int_equal(omemo_has_session(a, BOB, bid + 1), 0);
	encrypt_to(a, BOB, bid, BODY, &m);
	assert_int_equal(m.keys[0].prekey, 1);
	assert_true(unb64(m.keys[0].data, raw, sizeof(raw)) > 1);
	assert_int_equal(raw[0], 0x33); /* libsignal v3 */
	assert_int_equal(unb64(m.iv, raw, sizeof(raw)), 12);
	assert_int_equal(unb64(m.payload, raw, sizeof(raw)), strlen(BODY));
	omemo_close(b);
	b = open_ok(f->dir, BOB);
	assert_int_equal(omemo_bundle_changed(b), 0);
	decrypt_expect(b, ALICE, &m, BODY, 1);
	omemo_msg_clear(&m);
	assert_int_equal(omemo_bundle_changed(b), 1);
	omemo_close(b);
	b = open_ok(f->dir, BOB);
	encrypt_to(b, ALICE, aid, "back", &m);
	assert_int_equal(m.keys[0].prekey, 0);
	assert_true(unb64(m.keys[0].data, raw, sizeof(raw)) > 1);
	assert_int_equal(raw[0], 0x33);
	decrypt_expect(a, BOB, &m, "back", 0);
	omemo_msg_clear(&m);
	for (i = 0; i < 6; i++) {
		struct omemo *from = i % 3 == 2 ? b : a,
			     *to = from == a ? b : a;
		snprintf(text, sizeof(text), "message %d", i);
		encrypt_to(from, from == a ? BOB : ALICE, omemo_device_id(to),
		    text, &m);
		assert_int_equal(m.keys[0].prekey, 0);
		omemo_close(to);
		to = open_ok(f->dir, from == a ? BOB : ALICE);
		if (from == a)
			b = to;
		else
			a = to;
		decrypt_expect(to, from == a ? ALICE : BOB, &m, text, 0);
		omemo_msg_clear(&m);
	}
	omemo_close(a);
	omemo_close(b);
}

static void
omemo_prekeys__replenished_after_use(void **state)
{
	struct fixture *f = *state;
	struct omemo *a = open_ok(f->dir, ALICE), *b = open_ok(f->dir, BOB);
	struct omemo_bundle before, after;
	struct omemo_msg m, m2;
	char *err = NULL;
	size_t i, j, gone = 0;

	assert_int_equal(omemo_own_bundle(b, &before, &err), 0);
	assert_int_equal(before.npk, 100);
	introduce(a, b, BOB);
	/* alice sends twice before bob answers: two key exchange messages
	 * built on the same pre-key */
	encrypt_to(a, BOB, omemo_device_id(b), "x", &m);
	encrypt_to(a, BOB, omemo_device_id(b), "y", &m2);
	assert_int_equal(m2.keys[0].prekey, 1);
	decrypt_expect(b, ALICE, &m, "x", 1);
	decrypt_expect(b, ALICE, &m2, "y", 1);
	/* the same message again is refused */
	decrypt_fails(b, ALICE, &m, "duplicate");
	omemo_msg_clear(&m);
	omemo_msg_clear(&m2);
	assert_int_equal(omemo_bundle_changed(b), 1);
	assert_int_equal(omemo_own_bundle(b, &after, &err), 0);
	assert_int_equal(omemo_bundle_changed(b), 0);
	assert_int_equal(after.npk, 100);
	assert_int_equal(after.spk_id, before.spk_id);
	assert_string_equal(after.spk, before.spk);
	for (i = 0; i < before.npk; i++) {
		int found = 0;
		for (j = 0; j < after.npk; j++)
			found |= before.pk[i].id == after.pk[j].id;
		gone += !found;
	}
	assert_int_equal(gone, 1);
	omemo_bundle_clear(&before);
	omemo_bundle_clear(&after);
	omemo_close(a);
	omemo_close(b);
}

static void
omemo_bundle__keys_and_fingerprint_format(void **state)
{
	struct fixture *f = *state;
	struct omemo *a = open_ok(f->dir, ALICE);
	struct omemo_bundle b;
	unsigned char ik[128], hex[3];
	char *err = NULL, *fp = omemo_own_fingerprint(a);
	size_t i;

	assert_int_equal(omemo_own_bundle(a, &b, &err), 0);
	assert_int_equal(unb64(b.ik, ik, sizeof(ik)), 33);
	assert_int_equal(ik[0], 0x05);
	assert_int_equal(unb64(b.spk, ik, sizeof(ik)), 33);
	assert_int_equal(unb64(b.spk_sig, ik, sizeof(ik)), 64);
	assert_int_equal(unb64(b.pk[0].pub, ik, sizeof(ik)), 33);
	assert_int_equal(unb64(b.ik, ik, sizeof(ik)), 33);
	assert_int_equal(strlen(fp), 71);
	for (i = 0; i < 32; i++) {
		snprintf((char *)hex, sizeof(hex), "%02x", ik[i + 1]);
		assert_memory_equal(fp + i * 2 + i / 4, hex, 2);
		if (i % 4 == 3 && i < 31)
			assert_int_equal(fp[i * 2 + i / 4 + 2], ' ');
	}
	free(fp);
	omemo_bundle_clear(&b);
	omemo_close(a);
}

static void
omemo_process_bundle__rejects_bad_signature(void **state)
{
	struct fixture *f = *state;
	struct omemo *a = open_ok(f->dir, ALICE), *b = open_ok(f->dir, BOB);
	struct omemo_bundle bb;
	char *err = NULL;
	uint32_t bid = omemo_device_id(b);

	assert_int_equal(omemo_own_bundle(b, &bb, &err), 0);
	bb.spk_sig[5] = bb.spk_sig[5] == 'A' ? 'B' : 'A';
	assert_int_equal(omemo_process_bundle(a, BOB, bid, &bb, &err), -1);
	assert_non_null(strstr(err, "signature"));
	assert_non_null(strstr(err, BOB));
	free(err);
	assert_int_equal(omemo_has_session(a, BOB, bid), 0);
	omemo_bundle_clear(&bb);
	omemo_close(a);
	omemo_close(b);
}

static void
omemo_decrypt__rejects_tampering_and_other_devices(void **state)
{
	struct fixture *f = *state;
	struct omemo *a = open_ok(f->dir, ALICE), *b = open_ok(f->dir, BOB);
	struct omemo_msg m;
	uint32_t bid = omemo_device_id(b);
	char saved;

	introduce(a, b, BOB);
	encrypt_to(a, BOB, bid, "secret text", &m);
	saved = m.payload[2];
	m.payload[2] = saved == 'A' ? 'B' : 'A';
	decrypt_fails(b, ALICE, &m, "payload");
	m.payload[2] = saved;
	m.keys[0].rid = bid + 1;
	decrypt_fails(b, ALICE, &m, "not encrypted for this device");
	m.keys[0].rid = bid;
	/* nothing was consumed by the failures */
	decrypt_expect(b, ALICE, &m, "secret text", 1);
	omemo_msg_clear(&m);
	omemo_close(a);
	omemo_close(b);
}

static void
omemo_decrypt__key_transport_and_wrong_prekey_flag(void **state)
{
	struct fixture *f = *state;
	struct omemo *a = open_ok(f->dir, ALICE), *b = open_ok(f->dir, BOB);
	struct omemo_target t = { BOB, 0 };
	struct omemo_msg m;
	char *body = NULL, *err = NULL;
	int prekey = -1;

	introduce(a, b, BOB);
	t.rid = omemo_device_id(b);
	assert_int_equal(omemo_encrypt(a, NULL, &t, 1, &m, &err), 0);
	assert_null(m.payload);
	assert_non_null(m.iv);
	assert_int_equal(m.keys[0].prekey, 1);
	m.keys[0].prekey = 0; /* a sender that marks it wrongly */
	assert_int_equal(omemo_decrypt(b, ALICE, &m, &body, &prekey, &err), 0);
	assert_null(body);
	assert_int_equal(prekey, 1);
	omemo_msg_clear(&m);
	encrypt_to(b, ALICE, omemo_device_id(a), "reply", &m);
	m.keys[0].prekey = 1;
	decrypt_expect(a, BOB, &m, "reply", 0);
	omemo_msg_clear(&m);
	omemo_close(a);
	omemo_close(b);
}

static void
omemo_encrypt__needs_a_session(void **state)
{
	struct fixture *f = *state;
	struct omemo *a = open_ok(f->dir, ALICE), *b = open_ok(f->dir, BOB);
	struct omemo_target t[2] = { { BOB, 0 }, { BOB, 4242 } };
	struct omemo_msg m;
	char *err = NULL;

	introduce(a, b, BOB);
	t[0].rid = omemo_device_id(b);
	memset(&m, 0, sizeof(m));
	assert_int_equal(omemo_encrypt(a, "x", t, 2, &m, &err), -1);
	assert_non_null(strstr(err, "bob@example.org device 4242"));
	assert_null(m.keys);
	free(err);
	omemo_close(a);
	omemo_close(b);
}

static void
omemo_trust__policy_transitions(void **state)
{
	struct fixture *f = *state;
	char *dir2 = NULL, *err = NULL, *fp, *q;
	struct omemo *a, *b1, *b2;
	struct omemo_device *d = NULL;
	struct omemo_msg m;
	uint32_t id1, id2;
	size_t n = 0, i;

	assert_true(asprintf(&dir2, "%s/second", f->tmp) > 0);
	a = open_ok(f->dir, ALICE);
	b1 = open_ok(f->dir, BOB);
	b2 = open_ok(dir2, BOB);
	id1 = omemo_device_id(b1);
	id2 = omemo_device_id(b2);
	assert_int_equal(omemo_device_usable(a, BOB, id1), 0); /* unknown */
	introduce(a, b1, BOB);
	introduce(a, b2, BOB);
	assert_int_equal(omemo_device_usable(a, BOB, id1), 1); /* blind */
	assert_int_equal(omemo_device_usable(a, BOB, id2), 1);
	assert_int_equal(omemo_devices(a, BOB, &d, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_true(d[0].id < d[1].id);
	for (i = 0; i < n; i++)
		assert_int_equal(d[i].trust, OMEMO_BLIND);
	omemo_devices_free(d, n);
	/* trusted by fingerprint: upper case, no spaces */
	fp = omemo_own_fingerprint(b1);
	for (q = fp; *q != '\0'; q++)
		*q = *q == ' ' ? ' ' : (char)toupper((unsigned char)*q);
	assert_int_equal(
	    omemo_set_trust(a, BOB, 0, fp, OMEMO_TRUSTED, &err), 0);
	free(fp);
	assert_int_equal(omemo_device_usable(a, BOB, id1), 1);
	assert_int_equal(omemo_device_usable(a, BOB, id2), 0);
	assert_int_equal(
	    omemo_set_trust(a, BOB, id1, NULL, OMEMO_DISTRUSTED, &err), 0);
	assert_int_equal(omemo_device_usable(a, BOB, id1), 0);
	assert_int_equal(omemo_device_usable(a, BOB, id2), 1);
	assert_int_equal(
	    omemo_set_trust(a, BOB, 4242, NULL, OMEMO_TRUSTED, &err), -1);
	assert_non_null(strstr(err, "4242"));
	free(err);
	assert_int_equal(
	    omemo_set_trust(a, BOB, 0, "00112233", OMEMO_TRUSTED, &err), -1);
	free(err);
	/* a distrusted sender is refused */
	introduce(b1, a, ALICE);
	encrypt_to(b1, ALICE, omemo_device_id(a), "x", &m);
	decrypt_fails(a, BOB, &m, "distrusted");
	omemo_msg_clear(&m);
	omemo_close(a);
	omemo_close(b1);
	omemo_close(b2);
	free(dir2);
}

static void
omemo_set_devices__marks_inactive(void **state)
{
	struct fixture *f = *state;
	struct omemo *a = open_ok(f->dir, ALICE), *b = open_ok(f->dir, BOB);
	uint32_t bid = omemo_device_id(b), ids[2];
	struct omemo_device *d = NULL;
	char *err = NULL;
	size_t n = 0;

	ids[0] = bid;
	ids[1] = 77;
	assert_int_equal(omemo_set_devices(a, BOB, ids, 2, &err), 0);
	assert_int_equal(omemo_devices(a, BOB, &d, &n, &err), 0);
	assert_int_equal(n, 0); /* no identity known yet */
	introduce(a, b, BOB);
	assert_int_equal(omemo_devices(a, BOB, &d, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].active, 1);
	omemo_devices_free(d, n);
	assert_int_equal(omemo_set_devices(a, BOB, ids + 1, 1, &err), 0);
	assert_int_equal(omemo_devices(a, BOB, &d, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].active, 0);
	omemo_devices_free(d, n);
	omemo_close(a);
	omemo_close(b);
}

/* Sends 'n' messages "P-i" from a fresh handle of alice's store to bob,
 * writing "iv payload key prekey" lines to 'fd'. */
static void
send_burst(const char *dir, uint32_t bid, char p, int n, int fd)
{
	struct omemo *a = open_ok(dir, ALICE);
	struct omemo_msg m;
	char text[16];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "%c-%d", p, i);
		encrypt_to(a, BOB, bid, text, &m);
		dprintf(fd, "%s %s %s %d\n", m.iv, m.payload, m.keys[0].data,
		    m.keys[0].prekey);
		omemo_msg_clear(&m);
	}
	omemo_close(a);
}

static void
omemo_store__two_processes_share_a_device(void **state)
{
	struct fixture *f = *state;
	struct omemo *a = open_ok(f->dir, ALICE), *b = open_ok(f->dir, BOB);
	uint32_t aid = omemo_device_id(a), bid = omemo_device_id(b);
	struct omemo_key k = { NULL, bid, 0, NULL };
	struct omemo_msg m = { aid, NULL, NULL, 1, &k, OMEMO_V03 };
	char line[2048], iv[64], pl[256], data[1024], *body, *err = NULL;
	int fds[2], status, n = 0, prekey;
	FILE *in;
	pid_t pid;

	introduce(a, b, BOB);
	omemo_close(a);
	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		close(fds[0]);
		omemo_close(b); /* the parent's */
		send_burst(f->dir, bid, 'c', 25, fds[1]);
		_exit(0);
	}
	send_burst(f->dir, bid, 'p', 25, fds[1]);
	close(fds[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	in = fdopen(fds[0], "r");
	while (fgets(line, sizeof(line), in) != NULL) {
		assert_int_equal(sscanf(line, "%63s %255s %1023s %d", iv, pl,
				     data, &k.prekey),
		    4);
		m.iv = iv;
		m.payload = pl;
		k.data = data;
		if (omemo_decrypt(b, ALICE, &m, &body, &prekey, &err) < 0)
			fail_msg("message %d: %s", n, err);
		assert_true(body[0] == 'c' || body[0] == 'p');
		free(body);
		n++;
	}
	fclose(in);
	assert_int_equal(n, 50);
	omemo_close(b);
}

static void
open_fails(const char *dir, const char *account, const char *why)
{
	char *err = NULL;

	assert_null(omemo_open(dir, account, &err));
	assert_non_null(err);
	if (strstr(err, why) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, why);
	free(err);
}

static void
omemo_open__refuses_open_permissions(void **state)
{
	struct fixture *f = *state;
	struct omemo_bundle b;
	char *path = NULL, *link = NULL, *err = NULL;
	struct omemo *a;

	assert_int_equal(mkdir(f->dir, 0755), 0);
	assert_int_equal(chmod(f->dir, 0755), 0);
	open_fails(f->dir, ALICE, f->dir);
	assert_int_equal(chmod(f->dir, 0700), 0);
	omemo_close(open_ok(f->dir, ALICE));
	assert_true(asprintf(&path, "%s/%s/identity", f->dir, ALICE) > 0);
	assert_int_equal(chmod(path, 0644), 0);
	open_fails(f->dir, ALICE, path);
	assert_int_equal(chmod(path, 0600), 0);
	free(path);
	a = open_ok(f->dir, ALICE);
	assert_true(asprintf(&path, "%s/%s/state", f->dir, ALICE) > 0);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(omemo_own_bundle(a, &b, &err), -1);
	assert_non_null(strstr(err, path));
	free(err);
	/* a symbolic link in place of the state file */
	assert_int_equal(chmod(path, 0600), 0);
	assert_true(asprintf(&link, "%s.real", path) > 0);
	assert_int_equal(rename(path, link), 0);
	assert_int_equal(symlink(link, path), 0);
	assert_int_equal(omemo_own_bundle(a, &b, &err), -1);
	assert_non_null(strstr(err, "symbolic link"));
	free(err);
	free(link);
	free(path);
	omemo_close(a);
	/* the account's directory open to others */
	assert_true(asprintf(&path, "%s/%s", f->dir, ALICE) > 0);
	assert_int_equal(chmod(path, 0755), 0);
	open_fails(f->dir, ALICE, path);
	free(path);
	open_fails(f->dir, "../evil", "JID");
}

/* Replaces the file 'path' with 'text'. */
static void
write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static char *
read_text(const char *path)
{
	static char buf[65536];
	FILE *fp = fopen(path, "r");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return strdup(buf);
}

static void
omemo_store__corrupt_files_are_errors(void **state)
{
	struct fixture *f = *state;
	struct omemo_bundle b;
	static const char *const bad[] = {
		"%s\n", /* an empty line after it */
		"%sdev x@y 1 1 0 - -", /* a last line cut short */
		"%spk 7 AAA$\n", /* not base64 */
		"%sdev x@y 1 2 0 - -\n", /* active is 0 or 1 */
		"%sdev x@y 1 1 0 BQ== -\n", /* an identity key too short */
		"%sspk 2 AAAA\n", /* a second signed pre-key */
		"%sextra field\n", /* unknown record */
		"", /* empty */
		"xmpptools-omemo-state 2\n%s", /* another format */
	};
	char *ipath = NULL, *spath = NULL, *err = NULL, *before, *after, *good;
	size_t i;
	struct omemo *a = open_ok(f->dir, ALICE);
	uint32_t id = omemo_device_id(a);

	assert_true(asprintf(&ipath, "%s/%s/identity", f->dir, ALICE) > 0);
	assert_true(asprintf(&spath, "%s/%s/state", f->dir, ALICE) > 0);
	before = read_text(ipath);
	good = read_text(spath);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *text = NULL;
		assert_true(asprintf(&text, bad[i], good) >= 0);
		write_text(spath, text);
		free(text);
		assert_int_equal(omemo_own_bundle(a, &b, &err), -1);
		if (strstr(err, "corrupt") == NULL ||
		    strstr(err, spath) == NULL)
			fail_msg("case %zu: %s", i, err);
		free(err);
		err = NULL;
	}
	write_text(spath, good);
	assert_int_equal(omemo_own_bundle(a, &b, &err), 0);
	omemo_bundle_clear(&b);
	free(good);
	write_text(spath, "xmpptools-omemo-state 1\nnext-pk 1\nspk 1 !!\n");
	omemo_close(a);
	write_text(ipath, "garbage\n");
	open_fails(f->dir, ALICE, "corrupt");
	unlink(ipath);
	open_fails(f->dir, ALICE, "missing");
	write_text(ipath, before);
	chmod(ipath, 0600);
	a = open_ok(f->dir, ALICE);
	assert_int_equal(omemo_device_id(a), id);
	after = read_text(ipath);
	assert_string_equal(before, after);
	omemo_close(a);
	free(before);
	free(after);
	free(ipath);
	free(spath);
}

/* OMEMO 2: a v2 session next to the 0.3 one of the same device, messages
 * both ways, the formats of bundle, keys and payload, tampering. */
static void
omemo2_round_trip__next_to_0_3(void **state)
{
	struct fixture *f = *state;
	struct omemo *a = open_ok(f->dir, ALICE), *b = open_ok(f->dir, BOB);
	uint32_t aid = omemo_device_id(a), bid = omemo_device_id(b);
	struct omemo_target ta = { BOB, bid }, tb = { ALICE, aid };
	struct omemo_bundle bb, b3;
	struct omemo_msg m;
	unsigned char raw[512];
	char *err = NULL, *body = NULL, *saved;
	int prekey = -1;
	size_t i, j;

	assert_int_equal(omemo_own_bundle_version(b, OMEMO_V2, &bb, &err), 0);
	assert_int_equal(bb.version, OMEMO_V2);
	assert_int_equal(unb64(bb.ik, raw, sizeof(raw)), 32);
	assert_int_equal(unb64(bb.spk, raw, sizeof(raw)), 32);
	assert_int_equal(unb64(bb.spk_sig, raw, sizeof(raw)), 64);
	assert_int_equal(unb64(bb.pk[0].pub, raw, sizeof(raw)), 32);
	assert_int_equal(omemo_own_bundle(b, &b3, &err), 0);
	assert_int_equal(bb.spk_id, b3.spk_id);
	assert_int_equal(bb.npk, b3.npk);
	/* each version has pre-keys of its own */
	for (i = 0; i < bb.npk; i++)
		for (j = 0; j < b3.npk; j++)
			assert_true(bb.pk[i].id != b3.pk[j].id);
	omemo_bundle_clear(&b3);
	/* a v2 bundle read as 0.3 is refused */
	bb.version = OMEMO_V03;
	assert_int_equal(omemo_process_bundle(a, BOB, bid, &bb, &err), -1);
	free(err);
	err = NULL;
	bb.version = OMEMO_V2;
	if (omemo_process_bundle(a, BOB, bid, &bb, &err) < 0)
		fail_msg("process_bundle v2: %s", err);
	omemo_bundle_clear(&bb);
	assert_int_equal(omemo_has_session_version(a, OMEMO_V2, BOB, bid), 1);
	assert_int_equal(omemo_has_session(a, BOB, bid), 0);
	/* the same device seen through both versions: one fingerprint */
	introduce(a, b, BOB);
	assert_int_equal(omemo_has_session(a, BOB, bid), 1);
	if (omemo_encrypt_version(a, OMEMO_V2, BODY, &ta, 1, &m, &err) < 0)
		fail_msg("encrypt v2: %s", err);
	assert_int_equal(m.version, OMEMO_V2);
	assert_null(m.iv);
	assert_int_equal(m.keys[0].prekey, 1);
	assert_true(unb64(m.keys[0].data, raw, sizeof(raw)) > 48);
	assert_int_equal(unb64(m.payload, raw, sizeof(raw)) % 16, 0);
	saved = strdup(m.payload);
	m.payload[0] = m.payload[0] == 'A' ? 'B' : 'A';
	omemo_close(b);
	b = open_ok(f->dir, BOB);
	assert_int_equal(omemo_decrypt(b, ALICE, &m, &body, &prekey, &err), -1);
	assert_non_null(strstr(err, "payload does not decrypt"));
	free(err);
	err = NULL;
	free(m.payload);
	m.payload = saved;
	m.version = OMEMO_V03; /* a v2 key is no 0.3 message */
	assert_int_equal(omemo_decrypt(b, ALICE, &m, &body, &prekey, &err), -1);
	free(err);
	err = NULL;
	m.version = OMEMO_V2;
	decrypt_expect(b, ALICE, &m, BODY, 1);
	omemo_msg_clear(&m);
	assert_int_equal(omemo_has_session_version(b, OMEMO_V2, ALICE, aid), 1);
	if (omemo_encrypt_version(b, OMEMO_V2, "back", &tb, 1, &m, &err) < 0)
		fail_msg("encrypt v2 back: %s", err);
	assert_int_equal(m.keys[0].prekey, 0);
	decrypt_expect(a, BOB, &m, "back", 0);
	omemo_msg_clear(&m);
	/* the 0.3 session still works */
	encrypt_to(a, BOB, bid, "old", &m);
	decrypt_expect(b, ALICE, &m, "old", 1);
	omemo_msg_clear(&m);
	omemo_close(a);
	omemo_close(b);
}

/* The device lists of both versions: active while either names it. */
static void
omemo2_set_devices__two_lists(void **state)
{
	struct fixture *f = *state;
	struct omemo *a = open_ok(f->dir, ALICE), *b = open_ok(f->dir, BOB);
	uint32_t bid = omemo_device_id(b), ids[1] = { bid };
	struct omemo_device *d;
	struct omemo_bundle bb;
	size_t n;
	char *err = NULL;

	assert_int_equal(omemo_own_bundle_version(b, OMEMO_V2, &bb, &err), 0);
	assert_int_equal(omemo_process_bundle(a, BOB, bid, &bb, &err), 0);
	omemo_bundle_clear(&bb);
	assert_int_equal(
	    omemo_set_devices_version(a, OMEMO_V2, BOB, ids, 1, &err), 0);
	assert_int_equal(omemo_set_devices(a, BOB, NULL, 0, &err), 0);
	omemo_close(a);
	a = open_ok(f->dir, ALICE);
	assert_int_equal(omemo_devices(a, BOB, &d, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].active, 1);
	assert_int_equal(d[0].active2, 1);
	assert_int_equal(d[0].active03, 0);
	omemo_devices_free(d, n);
	assert_int_equal(
	    omemo_set_devices_version(a, OMEMO_V2, BOB, NULL, 0, &err), 0);
	assert_int_equal(omemo_devices(a, BOB, &d, &n, &err), 0);
	assert_int_equal(d[0].active, 0);
	omemo_devices_free(d, n);
	assert_int_equal(omemo_has_session_version(a, OMEMO_V2, BOB, bid), 1);
	omemo_close(a);
	omemo_close(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    omemo_round_trip__survives_reopening, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    omemo_prekeys__replenished_after_use, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    omemo_bundle__keys_and_fingerprint_format, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    omemo_process_bundle__rejects_bad_signature, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    omemo_decrypt__rejects_tampering_and_other_devices, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    omemo_decrypt__key_transport_and_wrong_prekey_flag, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    omemo_encrypt__needs_a_session, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    omemo_trust__policy_transitions, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    omemo_set_devices__marks_inactive, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    omemo_store__two_processes_share_a_device, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    omemo_open__refuses_open_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    omemo_store__corrupt_files_are_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    omemo2_round_trip__next_to_0_3, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    omemo2_set_devices__two_lists, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
