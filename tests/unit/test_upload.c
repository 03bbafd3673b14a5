/* SPDX-License-Identifier: MIT */
/* test_upload.c -- unit tests of the XEP-0363 builders and parsers of
 * common/upload.c (the network parts run in t1010-xsend-upload.sh) */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <strophe.h>

#include "upload.h"
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

static xmpp_stanza_t *
parse(xmpp_ctx_t *ctx, const char *xml)
{
	xmpp_stanza_t *st = xmpp_stanza_new_from_string(ctx, xml);

	assert_non_null(st);
	return st;
}

#define INFO_HEAD                                                              \
	"<query xmlns='http://jabber.org/protocol/disco#info'>"                \
	"<identity category='store' type='file' name='HTTP File Upload'/>"     \
	"<feature var='urn:xmpp:http:upload:0'/>"

static void
test_info_service_with_limit(void **state)
{
	xmpp_stanza_t *q = parse(*state,
	    INFO_HEAD "<x xmlns='jabber:x:data' type='result'>"
		      "<field var='FORM_TYPE' type='hidden'>"
		      "<value>urn:xmpp:http:upload:0</value></field>"
		      "<field var='max-file-size'><value>1048576</value>"
		      "</field></x></query>");
	long long max = 0;

	assert_int_equal(upload_info_is_service(q, &max), 1);
	assert_true(max == 1048576);
	xmpp_stanza_release(q);
}

static void
test_info_service_without_limit(void **state)
{
	xmpp_stanza_t *q = parse(*state,
	    INFO_HEAD "<x xmlns='jabber:x:data' type='result'>"
		      "<field var='FORM_TYPE'><value>urn:other</value></field>"
		      "<field var='max-file-size'><value>5</value></field>"
		      "</x></query>");
	long long max = 0;

	/* A form of another FORM_TYPE says nothing about uploads. */
	assert_int_equal(upload_info_is_service(q, &max), 1);
	assert_true(max == -1);
	xmpp_stanza_release(q);
}

static void
test_info_not_service(void **state)
{
	xmpp_stanza_t *q = parse(*state,
	    "<query xmlns='http://jabber.org/protocol/disco#info'>"
	    "<identity category='conference' type='text'/>"
	    "<feature var='urn:xmpp:http:upload:0'/></query>");
	long long max = 0;

	assert_int_equal(upload_info_is_service(q, &max), 0);
	xmpp_stanza_release(q);
}

static void
test_slot_request(void **state)
{
	xmpp_stanza_t *iq = upload_slot_request(*state, "id1",
	    "upload.example.org", "graph.png", 12345, "image/png");
	xmpp_stanza_t *rq;

	assert_string_equal(xmpp_stanza_get_type(iq), "get");
	assert_string_equal(xmpp_stanza_get_to(iq), "upload.example.org");
	rq = xmpp_stanza_get_child_by_name_and_ns(iq, "request", NS_UPLOAD);
	assert_non_null(rq);
	assert_string_equal(
	    xmpp_stanza_get_attribute(rq, "filename"), "graph.png");
	assert_string_equal(xmpp_stanza_get_attribute(rq, "size"), "12345");
	assert_string_equal(
	    xmpp_stanza_get_attribute(rq, "content-type"), "image/png");
	xmpp_stanza_release(iq);
}

static void
test_slot_parse(void **state)
{
	xmpp_stanza_t *iq = parse(*state,
	    "<iq type='result' id='1'><slot xmlns='urn:xmpp:http:upload:0'>"
	    "<put url='https://up.example.org/p/f.png'>"
	    "<header name='Authorization'>Basic a&#10;b</header>"
	    "<header name='Host'>evil</header>"
	    "<header name='cookie'>c=1</header></put>"
	    "<get url='https://up.example.org/g/f.png'/></slot></iq>");
	struct upload_slot slot;
	char *err = NULL;

	assert_int_equal(upload_slot_parse(iq, &slot, &err), 0);
	assert_string_equal(slot.put, "https://up.example.org/p/f.png");
	assert_string_equal(slot.get, "https://up.example.org/g/f.png");
	assert_int_equal(slot.nheaders, 2);
	assert_string_equal(slot.headers[0], "Authorization: Basic a b");
	assert_string_equal(slot.headers[1], "Cookie: c=1");
	upload_slot_free(&slot);
	xmpp_stanza_release(iq);
}

static void
test_slot_parse_missing(void **state)
{
	xmpp_stanza_t *iq = parse(*state,
	    "<iq type='result' id='1'><slot xmlns='urn:xmpp:http:upload:0'>"
	    "<put url='https://up.example.org/p'/></slot></iq>");
	struct upload_slot slot;
	char *err = NULL;

	assert_int_equal(upload_slot_parse(iq, &slot, &err), -1);
	assert_string_equal(err, "the slot has no GET URL");
	assert_null(slot.put);
	free(err);
	xmpp_stanza_release(iq);
	iq = parse(*state, "<iq type='result' id='1'/>");
	assert_int_equal(upload_slot_parse(iq, &slot, &err), -1);
	assert_string_equal(err, "the reply carries no slot");
	free(err);
	xmpp_stanza_release(iq);
}

static void
test_https(void **state)
{
	(void)state;
	assert_int_equal(upload_url_is_https("https://h/x"), 1);
	assert_int_equal(upload_url_is_https("HTTPS://h"), 1);
	assert_int_equal(upload_url_is_https("http://h/x"), 0);
	assert_int_equal(upload_url_is_https("https://"), 0);
	assert_int_equal(upload_url_is_https("https:///x"), 0);
	assert_int_equal(upload_url_is_https(NULL), 0);
}

static void
test_names_and_types(void **state)
{
	char *n;

	(void)state;
	assert_string_equal(upload_content_type("/tmp/g.PNG"), "image/png");
	assert_string_equal(
	    upload_content_type("/a.b/noext"), "application/octet-stream");
	assert_string_equal(
	    upload_content_type("x.tar.gz"), "application/gzip");
	n = upload_file_name("/var/tmp/graph.png");
	assert_string_equal(n, "graph.png");
	free(n);
	n = upload_file_name("dir/sub/");
	assert_string_equal(n, "sub");
	free(n);
	n = upload_file_name("/");
	assert_string_equal(n, "file");
	free(n);
	n = upload_file_name("bad\x01name");
	assert_string_equal(n, "bad\xef\xbf\xbdname");
	free(n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_info_service_with_limit, setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    test_info_service_without_limit, setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    test_info_not_service, setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    test_slot_request, setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    test_slot_parse, setup_ctx, teardown_ctx),
		cmocka_unit_test_setup_teardown(
		    test_slot_parse_missing, setup_ctx, teardown_ctx),
		cmocka_unit_test(test_https),
		cmocka_unit_test(test_names_and_types),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
