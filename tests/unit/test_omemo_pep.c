/* SPDX-License-Identifier: MIT */
/* test_omemo_pep.c -- unit tests of common/omemo_pep.c (the XML side) */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <strophe.h>

#include "omemo_pep.h"
#include "util.h"

static int
setup_ctx(void **state)
{
	xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, NULL);

	if (ctx == NULL)
		return -1;
	*state = ctx;
	return 0;
}

static int
teardown_ctx(void **state)
{
	xmpp_ctx_free(*state);
	return 0;
}

static char *
text_of(xmpp_stanza_t *st)
{
	xmpp_ctx_t *ctx = xmpp_stanza_get_context(st);
	char *text = NULL, *copy;
	size_t len = 0;

	assert_int_equal(xmpp_stanza_to_text(st, &text, &len), XMPP_EOK);
	copy = xstrdup(text);
	xmpp_free(ctx, text);
	return copy;
}

static void
test_devicelist_round_trip(void **state)
{
	xmpp_ctx_t *ctx = *state;
	uint32_t ids[] = { 1, 2147483647, 424242 }, *got;
	xmpp_stanza_t *list = omemo_pep_devicelist(ctx, ids, 3);
	char *xml = text_of(list);
	size_t n;

	assert_string_equal(xml,
	    "<list xmlns=\"eu.siacs.conversations.axolotl\"><device "
	    "id=\"1\"/><device id=\"2147483647\"/><device "
	    "id=\"424242\"/></list>");
	assert_int_equal(omemo_pep_parse_devicelist(list, &got, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(got, ids, sizeof(ids));
	free(got);
	free(xml);
	xmpp_stanza_release(list);
}

static void
test_devicelist_from_reply(void **state)
{
	xmpp_ctx_t *ctx = *state;
	/* As a server answers: junk ids skipped, a repeat counted once. */
	xmpp_stanza_t *iq = xmpp_stanza_new_from_string(ctx,
	    "<iq type='result' id='a'><pubsub "
	    "xmlns='http://jabber.org/protocol/pubsub'><set "
	    "xmlns='http://jabber.org/protocol/rsm'><count>1</count></set>"
	    "<items "
	    "node='eu.siacs.conversations.axolotl.devicelist'><item "
	    "id='current'><list xmlns='eu.siacs.conversations.axolotl'>"
	    "<device id='7'/><device id='0'/><device id='x1'/>"
	    "<device id='4294967295'/><device id='7'/><device/>"
	    "<device id='99' label='phone'/></list></item></items>"
	    "</pubsub></iq>");
	uint32_t *got;
	size_t n;

	assert_non_null(iq);
	assert_int_equal(omemo_pep_parse_devicelist(iq, &got, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(got[0], 7);
	assert_int_equal(got[1], 99);
	free(got);
	xmpp_stanza_release(iq);
	iq = xmpp_stanza_new_from_string(ctx,
	    "<iq type='result' id='a'><pubsub "
	    "xmlns='http://jabber.org/protocol/pubsub'><items "
	    "node='x'/></pubsub></iq>");
	assert_int_equal(omemo_pep_parse_devicelist(iq, &got, &n), -1);
	assert_null(got);
	assert_int_equal(n, 0);
	xmpp_stanza_release(iq);
}

static void
test_bundle_round_trip(void **state)
{
	xmpp_ctx_t *ctx = *state;
	struct omemo_prekey pk[2] = { { 1, "BQAA" }, { 2, "BQAB" } };
	struct omemo_bundle b = { "BWlr", 5, "BXNway", "c2ln", 2, pk,
		OMEMO_V03 },
			    got;
	xmpp_stanza_t *st = omemo_pep_bundle(ctx, &b);
	char *xml = text_of(st), *err = NULL;

	assert_string_equal(xml,
	    "<bundle xmlns=\"eu.siacs.conversations.axolotl\">"
	    "<signedPreKeyPublic signedPreKeyId=\"5\">BXNway"
	    "</signedPreKeyPublic><signedPreKeySignature>c2ln"
	    "</signedPreKeySignature><identityKey>BWlr</identityKey>"
	    "<prekeys><preKeyPublic preKeyId=\"1\">BQAA</preKeyPublic>"
	    "<preKeyPublic preKeyId=\"2\">BQAB</preKeyPublic></prekeys>"
	    "</bundle>");
	assert_int_equal(omemo_pep_parse_bundle(st, &got, &err), 0);
	assert_string_equal(got.ik, "BWlr");
	assert_int_equal(got.spk_id, 5);
	assert_string_equal(got.spk, "BXNway");
	assert_string_equal(got.spk_sig, "c2ln");
	assert_int_equal(got.npk, 2);
	assert_int_equal(got.pk[1].id, 2);
	assert_string_equal(got.pk[1].pub, "BQAB");
	omemo_bundle_clear(&got);
	free(xml);
	xmpp_stanza_release(st);
}

static void
test_bundle_wrapped_and_broken(void **state)
{
	xmpp_ctx_t *ctx = *state;
	struct omemo_bundle got;
	char *err = NULL;
	/* Base64 wrapped over lines, inside a pubsub reply. */
	xmpp_stanza_t *iq = xmpp_stanza_new_from_string(ctx,
	    "<iq type='result' id='b'><pubsub "
	    "xmlns='http://jabber.org/protocol/pubsub'><items node='n'>"
	    "<item id='current'><bundle "
	    "xmlns='eu.siacs.conversations.axolotl'><signedPreKeyPublic "
	    "signedPreKeyId='1'>BXN\n  wa y</signedPreKeyPublic>"
	    "<signedPreKeySignature>c2ln</signedPreKeySignature>"
	    "<identityKey>BWlr</identityKey><prekeys><preKeyPublic "
	    "preKeyId='3'>BQAA</preKeyPublic></prekeys></bundle></item>"
	    "</items></pubsub></iq>");

	assert_int_equal(omemo_pep_parse_bundle(iq, &got, &err), 0);
	assert_string_equal(got.spk, "BXNway");
	omemo_bundle_clear(&got);
	xmpp_stanza_release(iq);

	iq = xmpp_stanza_new_from_string(ctx,
	    "<bundle xmlns='eu.siacs.conversations.axolotl'>"
	    "<signedPreKeyPublic signedPreKeyId='1'>BXNway"
	    "</signedPreKeyPublic><signedPreKeySignature>c2ln"
	    "</signedPreKeySignature><prekeys><preKeyPublic "
	    "preKeyId='3'>BQAA</preKeyPublic></prekeys></bundle>");
	assert_int_equal(omemo_pep_parse_bundle(iq, &got, &err), -1);
	assert_string_equal(err, "the bundle has no valid identity key");
	free(err);
	xmpp_stanza_release(iq);

	/* Another namespace (OMEMO 2) is not read as this one. */
	iq = xmpp_stanza_new_from_string(
	    ctx, "<bundle xmlns='urn:xmpp:omemo:2'><ik>x</ik></bundle>");
	assert_int_equal(omemo_pep_parse_bundle(iq, &got, &err), -1);
	assert_string_equal(err, "no bundle in the reply");
	free(err);
	xmpp_stanza_release(iq);
}

static void
test_encrypted_round_trip(void **state)
{
	xmpp_ctx_t *ctx = *state;
	struct omemo_key keys[2] = { { NULL, 11, 0, "a2V5MQ==" },
		{ NULL, 22, 1, "a2V5Mg==" } };
	struct omemo_msg m = { 1234, "aXY=", "cGF5", 2, keys, OMEMO_V03 }, got;
	xmpp_stanza_t *enc = omemo_pep_encrypted(ctx, &m);
	char *xml = text_of(enc), *err = NULL;

	assert_string_equal(xml,
	    "<encrypted xmlns=\"eu.siacs.conversations.axolotl\"><header "
	    "sid=\"1234\"><key rid=\"11\">a2V5MQ==</key><key "
	    "rid=\"22\" prekey=\"true\">a2V5Mg==</key><iv>aXY=</iv>"
	    "</header><payload>cGF5</payload></encrypted>");
	assert_int_equal(omemo_pep_parse_encrypted(enc, &got, &err), 0);
	assert_int_equal(got.sid, 1234);
	assert_string_equal(got.iv, "aXY=");
	assert_string_equal(got.payload, "cGF5");
	assert_int_equal(got.nkeys, 2);
	assert_int_equal(got.keys[0].rid, 11);
	assert_int_equal(got.keys[0].prekey, 0);
	assert_int_equal(got.keys[1].prekey, 1);
	assert_string_equal(got.keys[1].data, "a2V5Mg==");
	assert_null(got.keys[1].jid);
	omemo_msg_clear(&got);
	free(xml);
	xmpp_stanza_release(enc);
}

static void
test_encrypted_broken(void **state)
{
	xmpp_ctx_t *ctx = *state;
	static const char *const bad[] = {
		"<encrypted xmlns='eu.siacs.conversations.axolotl'/>",
		"<encrypted xmlns='eu.siacs.conversations.axolotl'><header "
		"sid='0'><key rid='1'>a</key><iv>b</iv></header></encrypted>",
		"<encrypted xmlns='eu.siacs.conversations.axolotl'><header "
		"sid='5'><key rid='1'>a</key></header></encrypted>",
		"<encrypted xmlns='eu.siacs.conversations.axolotl'><header "
		"sid='5'><key rid='x'>a</key><key rid='2'/><iv>b</iv>"
		"</header></encrypted>",
	};
	struct omemo_msg got;
	xmpp_stanza_t *st;
	char *err;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		st = xmpp_stanza_new_from_string(ctx, bad[i]);
		assert_non_null(st);
		err = NULL;
		assert_int_equal(omemo_pep_parse_encrypted(st, &got, &err), -1);
		assert_non_null(err);
		assert_non_null(strstr(err, "malformed OMEMO element"));
		free(err);
		xmpp_stanza_release(st);
	}
}

static void
test_seal(void **state)
{
	xmpp_ctx_t *ctx = *state;
	xmpp_stanza_t *msg = xmpp_message_new(ctx, "chat", "b@x", "i1"), *enc;
	struct omemo_key keys[1] = { { NULL, 11, 0, "a2V5" } };
	struct omemo_msg m = { 9, "aXY=", "cGF5", 1, keys, OMEMO_V03 };
	char *xml, *body, *err = NULL;
	uint32_t dev;
	int prekey;

	enc = omemo_pep_encrypted(ctx, &m);
	omemo_pep_seal(msg, enc);
	xmpp_stanza_release(enc);
	xml = text_of(msg);
	enc = xmpp_stanza_get_child_by_name_and_ns(
	    msg, "encryption", "urn:xmpp:eme:0");
	assert_non_null(enc);
	assert_string_equal(xmpp_stanza_get_attribute(enc, "namespace"),
	    "eu.siacs.conversations.axolotl");
	assert_string_equal(xmpp_stanza_get_attribute(enc, "name"), "OMEMO");
	assert_non_null(strstr(xml, "<body>" OMEMO_FALLBACK "</body>"));
	assert_non_null(strstr(xml, "<store xmlns=\"urn:xmpp:hints\"/>"));
	assert_non_null(strstr(xml, "<payload>cGF5</payload>"));
	free(xml);
	xmpp_stanza_release(msg);

	/* A message without OMEMO is not touched. */
	msg = xmpp_message_new(ctx, "chat", "b@x", "i2");
	xmpp_message_set_body(msg, "plain");
	assert_int_equal(omemo_pep_open_message(
			     NULL, msg, "a@x", &body, &dev, &prekey, &err),
	    0);
	assert_null(body);
	assert_null(err);
	xmpp_stanza_release(msg);
}

static void
test_store_dir(void **state)
{
	char tmpl[] = "/tmp/test_omemo_pep.XXXXXX", *dir, *err = NULL, *want;
	const char *tmp = mkdtemp(tmpl);
	struct stat sb;

	(void)state;
	assert_non_null(tmp);
	setenv("XDG_DATA_HOME", tmp, 1);
	dir = omemo_pep_store_dir(&err);
	want = xasprintf("%s/xmpptools/omemo", tmp);
	assert_string_equal(dir, want);
	free(want);
	free(dir);
	want = xasprintf("%s/xmpptools", tmp);
	assert_int_equal(stat(want, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	rmdir(want);
	free(want);
	/* Relative: not a base (XDG says ignore it), HOME is used. */
	setenv("XDG_DATA_HOME", "rel", 1);
	setenv("HOME", tmp, 1);
	dir = omemo_pep_store_dir(&err);
	want = xasprintf("%s/.local/share/xmpptools/omemo", tmp);
	assert_string_equal(dir, want);
	free(want);
	free(dir);
	unsetenv("XDG_DATA_HOME");
	unsetenv("HOME");
	assert_null(omemo_pep_store_dir(&err));
	assert_non_null(strstr(err, "HOME"));
	free(err);
	want = xasprintf("rm -rf '%s'", tmp);
	assert_int_equal(system(want), 0);
	free(want);
}

/* OMEMO 2: the device list, the bundle and <encrypted/> as XEP-0384 (0.8+)
 * and twomemo write them. */
static void
test_omemo2_devicelist_and_bundle(void **state)
{
	xmpp_ctx_t *ctx = *state;
	uint32_t ids[] = { 5, 77 }, *got;
	struct omemo_prekey pk[2] = { { 1, "cGsx" }, { 9, "cGs5" } };
	struct omemo_bundle b = { "aWs=", 3, "c3Br", "c2ln", 2, pk, OMEMO_V2 },
			    gb;
	xmpp_stanza_t *st = omemo_pep_devicelist_version(ctx, OMEMO_V2, ids, 2);
	char *xml = text_of(st), *err = NULL;
	size_t n;

	assert_string_equal(xml,
	    "<devices xmlns=\"urn:xmpp:omemo:2\"><device id=\"5\"/><device "
	    "id=\"77\"/></devices>");
	assert_int_equal(
	    omemo_pep_parse_devicelist_version(st, OMEMO_V2, &got, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(got[1], 77);
	free(got);
	/* a 0.3 reader does not take it, nor the other way round */
	assert_int_equal(omemo_pep_parse_devicelist(st, &got, &n), -1);
	free(xml);
	xmpp_stanza_release(st);

	st = omemo_pep_bundle(ctx, &b);
	xml = text_of(st);
	assert_string_equal(xml,
	    "<bundle xmlns=\"urn:xmpp:omemo:2\"><spk id=\"3\">c3Br</spk>"
	    "<spks>c2ln</spks><ik>aWs=</ik><prekeys><pk id=\"1\">cGsx</pk>"
	    "<pk id=\"9\">cGs5</pk></prekeys></bundle>");
	assert_int_equal(omemo_pep_parse_bundle(st, &gb, &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(
	    omemo_pep_parse_bundle_version(st, OMEMO_V2, &gb, &err), 0);
	assert_int_equal(gb.version, OMEMO_V2);
	assert_int_equal(gb.spk_id, 3);
	assert_string_equal(gb.ik, "aWs=");
	assert_string_equal(gb.spk_sig, "c2ln");
	assert_int_equal(gb.npk, 2);
	assert_int_equal(gb.pk[1].id, 9);
	assert_string_equal(gb.pk[1].pub, "cGs5");
	omemo_bundle_clear(&gb);
	free(xml);
	xmpp_stanza_release(st);
}

static void
test_omemo2_encrypted_and_seal(void **state)
{
	xmpp_ctx_t *ctx = *state;
	struct omemo_key keys[3] = { { "b@x", 11, 1, "a2V5MQ==" },
		{ "a@x", 22, 0, "a2V5Mg==" }, { "b@x", 33, 0, "a2V5Mw==" } };
	struct omemo_msg m = { 1234, NULL, "cGF5", 3, keys, OMEMO_V2 }, got;
	xmpp_stanza_t *msg = xmpp_message_new(ctx, "chat", "b@x", "i1");
	xmpp_stanza_t *enc = omemo_pep_encrypted(ctx, &m), *hint;
	char *xml = text_of(enc), *err = NULL;

	assert_string_equal(xml,
	    "<encrypted xmlns=\"urn:xmpp:omemo:2\"><header sid=\"1234\">"
	    "<keys jid=\"b@x\"><key rid=\"11\" kex=\"true\">a2V5MQ==</key>"
	    "<key rid=\"33\">a2V5Mw==</key></keys><keys jid=\"a@x\"><key "
	    "rid=\"22\">a2V5Mg==</key></keys></header><payload>cGF5</payload>"
	    "</encrypted>");
	assert_int_equal(omemo_pep_parse_encrypted(enc, &got, &err), 0);
	assert_int_equal(got.version, OMEMO_V2);
	assert_int_equal(got.sid, 1234);
	assert_null(got.iv);
	assert_string_equal(got.payload, "cGF5");
	assert_int_equal(got.nkeys, 3);
	assert_string_equal(got.keys[0].jid, "b@x");
	assert_int_equal(got.keys[0].prekey, 1);
	assert_int_equal(got.keys[1].rid, 33);
	assert_int_equal(got.keys[1].prekey, 0);
	assert_string_equal(got.keys[2].jid, "a@x");
	omemo_msg_clear(&got);
	omemo_pep_seal(msg, enc);
	hint = xmpp_stanza_get_child_by_name_and_ns(msg, "encryption", NS_EME);
	assert_non_null(hint);
	assert_string_equal(
	    xmpp_stanza_get_attribute(hint, "namespace"), NS_OMEMO2);
	assert_non_null(
	    xmpp_stanza_get_child_by_name_and_ns(msg, "encrypted", NS_OMEMO2));
	free(xml);
	xmpp_stanza_release(enc);
	xmpp_stanza_release(msg);
}

/* The XEP-0420 envelope: the body escaped, random padding, the sender. */
static void
test_omemo2_envelope(void **state)
{
	xmpp_ctx_t *ctx = *state;
	char *a = omemo_pep_envelope(ctx, "x <&> \"y\"\nz", "me@x"),
	     *b = omemo_pep_envelope(ctx, "x <&> \"y\"\nz", "me@x");
	xmpp_stanza_t *env = xmpp_stanza_new_from_string(ctx, a), *c;
	char *t;

	assert_non_null(a);
	assert_true(strncmp(a,
			"<envelope xmlns=\"urn:xmpp:sce:1\"><content><body "
			"xmlns=\"jabber:client\">x &lt;&amp;&gt; \"y\"\nz"
			"</body></content><rpad>",
			80) == 0);
	assert_non_null(strstr(a, "</rpad><from jid=\"me@x\"/></envelope>"));
	assert_string_not_equal(a, b); /* the padding differs */
	assert_non_null(env);
	c = xmpp_stanza_get_child_by_name_and_ns(env, "content", NS_SCE);
	c = xmpp_stanza_get_child_by_name_and_ns(c, "body", "jabber:client");
	t = xmpp_stanza_get_text(c);
	assert_string_equal(t, "x <&> \"y\"\nz");
	xmpp_free(ctx, t);
	xmpp_stanza_release(env);
	free(a);
	free(b);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* 'plain' encrypted with OMEMO 2 from store 'a' (alice) to store 'b' (bob),
 * in a new <message/> from alice. */
static xmpp_stanza_t *
omemo2_message(
    xmpp_ctx_t *ctx, struct omemo *a, struct omemo *b, const char *plain)
{
	struct omemo_target t = { "b@x", omemo_device_id(b) };
	struct omemo_msg m;
	xmpp_stanza_t *msg = xmpp_message_new(ctx, "chat", "b@x", "i1"), *enc;
	char *err = NULL;

	xmpp_stanza_set_from(msg, "a@x/r");
	if (omemo_encrypt_version(a, OMEMO_V2, plain, &t, 1, &m, &err) < 0)
		fail_msg("encrypt: %s", err);
	enc = omemo_pep_encrypted(ctx, &m);
	omemo_pep_seal(msg, enc);
	xmpp_stanza_release(enc);
	omemo_msg_clear(&m);
	return msg;
}

/* xlisten's side: the body of the envelope, and a forged envelope sender
 * or keys for another JID refused. */
static void
test_omemo2_open_message(void **state)
{
	xmpp_ctx_t *ctx = *state;
	char tmpl[] = "/tmp/test_omemo_pep.XXXXXX", *err = NULL, *body, *env;
	const char *tmp = mkdtemp(tmpl);
	struct omemo *a, *b;
	struct omemo_bundle bb;
	xmpp_stanza_t *msg;
	uint32_t dev;
	int prekey;

	assert_non_null(tmp);
	a = omemo_open(tmp, "a@x", &err);
	b = omemo_open(tmp, "b@x", &err);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(omemo_own_bundle_version(b, OMEMO_V2, &bb, &err), 0);
	assert_int_equal(
	    omemo_process_bundle(a, "b@x", omemo_device_id(b), &bb, &err), 0);
	omemo_bundle_clear(&bb);

	env = omemo_pep_envelope(ctx, "hello\nthere", "a@x");
	msg = omemo2_message(ctx, a, b, env);
	free(env);
	/* keys for another JID than ours are not ours */
	assert_int_equal(omemo_pep_open_message_for(
			     b, msg, "a@x", "c@x", &body, &dev, &prekey, &err),
	    -1);
	assert_non_null(strstr(err, "not encrypted for this device"));
	free(err);
	err = NULL;
	assert_int_equal(omemo_pep_open_message_for(
			     b, msg, "a@x", "b@x", &body, &dev, &prekey, &err),
	    1);
	assert_string_equal(body, "hello\nthere");
	assert_int_equal(dev, omemo_device_id(a));
	assert_int_equal(prekey, 1);
	free(body);
	xmpp_stanza_release(msg);

	env = omemo_pep_envelope(ctx, "forged", "mallory@x");
	msg = omemo2_message(ctx, a, b, env);
	free(env);
	assert_int_equal(omemo_pep_open_message_for(
			     b, msg, "a@x", "b@x", &body, &dev, &prekey, &err),
	    -1);
	assert_null(body);
	assert_non_null(strstr(err, "envelope's sender is not a@x"));
	free(err);
	err = NULL;
	xmpp_stanza_release(msg);

	msg = omemo2_message(ctx, a, b, "<not-an-envelope/>");
	assert_int_equal(omemo_pep_open_message_for(
			     b, msg, "a@x", "b@x", &body, &dev, &prekey, &err),
	    -1);
	assert_non_null(strstr(err, "no XEP-0420 envelope"));
	free(err);
	xmpp_stanza_release(msg);
	omemo_close(a);
	omemo_close(b);
	nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_devicelist_round_trip, setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    test_devicelist_from_reply, setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    test_bundle_round_trip, setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    test_bundle_wrapped_and_broken, setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    test_encrypted_round_trip, setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    test_encrypted_broken, setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    test_seal, setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    test_omemo2_devicelist_and_bundle, setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    test_omemo2_encrypted_and_seal, setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    test_omemo2_envelope, setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    test_omemo2_open_message, setup_ctx, teardown_ctx),
		cmocka_unit_test(test_store_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
