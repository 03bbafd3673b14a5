/* SPDX-License-Identifier: MIT */
/* test_jid.c -- unit tests of common/jid.c (RFC 7622 parsing) */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jid.h"
#include "util.h"
#include "xmpptools.h"

struct good {
	const char *in;
	const char *local; /* NULL: absent */
	const char *domain;
	const char *resource; /* NULL: absent */
	const char *bare;
	const char *full;
};

struct bad {
	const char *in;
	const char *why; /* a word the reason must contain */
};

static void
expect_good(const struct good *g)
{
	struct jid j;
	const char *why = NULL;
	char *bare, *full;

	if (jid_parse(g->in, &j, &why) != 0)
		fail_msg("jid_parse(\"%s\") failed: %s", g->in, why);
	if (g->local) {
		assert_non_null(j.local);
		assert_string_equal(j.local, g->local);
	} else
		assert_null(j.local);
	assert_non_null(j.domain);
	assert_string_equal(j.domain, g->domain);
	if (g->resource) {
		assert_non_null(j.resource);
		assert_string_equal(j.resource, g->resource);
	} else
		assert_null(j.resource);
	bare = jid_bare(&j);
	full = jid_full(&j);
	assert_string_equal(bare, g->bare);
	assert_string_equal(full, g->full);
	free(bare);
	free(full);
	jid_free(&j);
	assert_null(j.local);
	assert_null(j.domain);
	assert_null(j.resource);
}

static void
expect_bad(const char *in, const char *why_word)
{
	struct jid j;
	const char *why = NULL;

	if (jid_parse(in, &j, &why) == 0) {
		char *full = jid_full(&j);

		jid_free(&j);
		fail_msg(
		    "jid_parse accepted a bad JID (parsed as \"%s\")", full);
	}
	assert_non_null(why);
	if (why_word != NULL && strstr(why, why_word) == NULL)
		fail_msg(
		    "reason \"%s\" does not mention \"%s\"", why, why_word);
	/* Failed parses leave no parts to free. */
	assert_null(j.local);
	assert_null(j.domain);
	assert_null(j.resource);
}

static void
jid_parse__accepts__rfc7622_forms(void **state)
{
	static const struct good cases[] = {
		{ "juliet@example.com", "juliet", "example.com", NULL,
		    "juliet@example.com", "juliet@example.com" },
		{ "juliet@example.com/foo", "juliet", "example.com", "foo",
		    "juliet@example.com", "juliet@example.com/foo" },
		{ "example.com", NULL, "example.com", NULL, "example.com",
		    "example.com" },
		{ "example.com/foobar", NULL, "example.com", "foobar",
		    "example.com", "example.com/foobar" },
		{ "a.example.com/b@example.net", NULL, "a.example.com",
		    "b@example.net", "a.example.com",
		    "a.example.com/b@example.net" },
		{ "juliet@example.com/foo bar", "juliet", "example.com",
		    "foo bar", "juliet@example.com",
		    "juliet@example.com/foo bar" },
		{ "juliet@example.com/foo@bar", "juliet", "example.com",
		    "foo@bar", "juliet@example.com",
		    "juliet@example.com/foo@bar" },
		{ "juliet@example.com/a/b/c", "juliet", "example.com", "a/b/c",
		    "juliet@example.com", "juliet@example.com/a/b/c" },
		{ "juliet@example.com//", "juliet", "example.com", "/",
		    "juliet@example.com", "juliet@example.com//" },
		{ "localhost", NULL, "localhost", NULL, "localhost",
		    "localhost" },
		{ "x@y", "x", "y", NULL, "x@y", "x@y" },
		{ "Juliet@Example.COM/Res", "Juliet", "Example.COM", "Res",
		    "Juliet@Example.COM", "Juliet@Example.COM/Res" },
		{ "a-b_c.d+e@sub-1.example.com", "a-b_c.d+e",
		    "sub-1.example.com", NULL, "a-b_c.d+e@sub-1.example.com",
		    "a-b_c.d+e@sub-1.example.com" },
		{ "192.0.2.1", NULL, "192.0.2.1", NULL, "192.0.2.1",
		    "192.0.2.1" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_good(&cases[i]);
}

static void
jid_parse__splits__libstrophe_trap_domain_res_at(void **state)
{
	/*
	 * libstrophe 0.12.2 makes this localpart "domain/res", domain "x".
	 * RFC 7622: the resource begins at the first '/'.
	 */
	static const struct good cases[] = {
		{ "domain/res@x", NULL, "domain", "res@x", "domain",
		    "domain/res@x" },
		{ "example.com/a@b/c", NULL, "example.com", "a@b/c",
		    "example.com", "example.com/a@b/c" },
		{ "u@example.com/r@x/y", "u", "example.com", "r@x/y",
		    "u@example.com", "u@example.com/r@x/y" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_good(&cases[i]);
}

static void
jid_parse__accepts__non_ascii_letters(void **state)
{
	static const struct good cases[] = {
		{ "j\xc3\xbcrgen@m\xc3\xbcnchen.example", "j\xc3\xbcrgen",
		    "m\xc3\xbcnchen.example", NULL,
		    "j\xc3\xbcrgen@m\xc3\xbcnchen.example",
		    "j\xc3\xbcrgen@m\xc3\xbcnchen.example" },
		{ "\xd0\xbc\xd0\xb0\xd1\x88\xd0\xb0@example.com/"
		  "\xe6\x97\xa5\xe6\x9c\xac",
		    "\xd0\xbc\xd0\xb0\xd1\x88\xd0\xb0", "example.com",
		    "\xe6\x97\xa5\xe6\x9c\xac",
		    "\xd0\xbc\xd0\xb0\xd1\x88\xd0\xb0@example.com",
		    "\xd0\xbc\xd0\xb0\xd1\x88\xd0\xb0@example.com/"
		    "\xe6\x97\xa5\xe6\x9c\xac" },
		{ "a@example.com/\xf0\x9f\x98\x80", "a", "example.com",
		    "\xf0\x9f\x98\x80", "a@example.com",
		    "a@example.com/\xf0\x9f\x98\x80" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_good(&cases[i]);
}

static void
jid_parse__removes__trailing_dot_of_domain(void **state)
{
	static const struct good cases[] = {
		{ "example.com.", NULL, "example.com", NULL, "example.com",
		    "example.com" },
		{ "a@example.com.", "a", "example.com", NULL, "a@example.com",
		    "a@example.com" },
		{ "a@example.com./r.", "a", "example.com", "r.",
		    "a@example.com", "a@example.com/r." },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_good(&cases[i]);
	expect_bad(".", "label");
	expect_bad("a@.", "label");
	expect_bad("a@example.com..", "label");
}

static void
jid_parse__accepts__ipv6_literal(void **state)
{
	static const struct good cases[] = {
		{ "[::1]", NULL, "[::1]", NULL, "[::1]", "[::1]" },
		{ "a@[::1]/r", "a", "[::1]", "r", "a@[::1]", "a@[::1]/r" },
		{ "a@[2001:db8::1]", "a", "[2001:db8::1]", NULL,
		    "a@[2001:db8::1]", "a@[2001:db8::1]" },
		{ "a@[2001:DB8:0:0:0:0:0:1]", "a", "[2001:DB8:0:0:0:0:0:1]",
		    NULL, "a@[2001:DB8:0:0:0:0:0:1]",
		    "a@[2001:DB8:0:0:0:0:0:1]" },
		{ "[::ffff:192.0.2.1]", NULL, "[::ffff:192.0.2.1]", NULL,
		    "[::ffff:192.0.2.1]", "[::ffff:192.0.2.1]" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_good(&cases[i]);
}

static void
jid_parse__rejects__malformed_ipv6_literal(void **state)
{
	static const char *const cases[] = {
		"[]",
		"[:]",
		"[::1",
		"a@[::1",
		"[::1]x",
		"[::g]",
		"[1.2.3.4]",
		"[:::]",
		"[::1::2]",
		"[12345::1]",
		"[1:2:3:4:5:6:7:8:9]",
		"[fe80::1%eth0]",
		"[ ::1]",
		"[[::1]]",
		"a@::1",
		"a@[::1]@b",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_bad(cases[i], NULL);
}

static void
jid_parse__rejects__empty_parts(void **state)
{
	static const struct bad cases[] = {
		{ "", "empty" },
		{ "@d", "localpart" },
		{ "@d/r", "localpart" },
		{ "a@", "domain" },
		{ "a@/r", "domain" },
		{ "/r", "domain" },
		{ "a@d/", "resource" },
		{ "d/", "resource" },
		{ "@", NULL },
		{ "a@d.com/", "resource" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_bad(cases[i].in, cases[i].why);
	expect_bad(NULL, "empty");
}

static void
jid_parse__rejects__at_in_domain(void **state)
{
	(void)state;
	expect_bad("a@b@c", "@");
	expect_bad("a@b@c/r", "@");
	expect_bad("a@@c", NULL);
}

static void
jid_parse__rejects__forbidden_localpart_characters(void **state)
{
	static const char forbidden[] = "\"&'/:<>@ ";
	char in[32];
	size_t i;

	(void)state;
	for (i = 0; forbidden[i]; i++) {
		/* '/' and '@' end the localpart: test them mid-part. */
		if (forbidden[i] == '/' || forbidden[i] == '@')
			continue;
		snprintf(in, sizeof(in), "ab%ccd@example.com", forbidden[i]);
		expect_bad(in, "localpart");
		snprintf(in, sizeof(in), "%cab@example.com", forbidden[i]);
		expect_bad(in, "localpart");
	}
	/* NBSP, ideographic space, en quad are spaces too. */
	expect_bad("a\xc2\xa0"
		   "b@example.com",
	    "localpart");
	expect_bad("a\xe3\x80\x80"
		   "b@example.com",
	    "localpart");
	expect_bad("a\xe2\x80\x80"
		   "b@example.com",
	    "localpart");
}

static void
jid_parse__rejects__controls(void **state)
{
	static const struct bad cases[] = {
		{ "a\x01"
		  "b@example.com",
		    "localpart" },
		{ "a\tb@example.com", "localpart" },
		{ "a\x7f"
		  "b@example.com",
		    "localpart" },
		{ "a\xc2\x85"
		  "b@example.com",
		    "localpart" },
		{ "a@exa\x01mple.com", "domain" },
		{ "a@exa\tmple.com", "domain" },
		{ "a@example.com/r\x01", "resource" },
		{ "a@example.com/r\n", "resource" },
		{ "a@example.com/r\rx", "resource" },
		{ "a@example.com/r\tx", "resource" },
		{ "a@example.com/r\x7f", "resource" },
		{ "a@example.com/r\xc2\x9b"
		  "31m",
		    "resource" },
		{ "a@example.com/r\xe2\x80\xa8", "resource" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_bad(cases[i].in, cases[i].why);
}

static void
jid_parse__rejects__bidi_override(void **state)
{
	static const struct bad cases[] = {
		{ "ev\xe2\x80\xae"
		  "il@example.com",
		    "localpart" },
		{ "a@example.com/ev\xe2\x80\xae"
		  "il",
		    "resource" },
		{ "a@ex\xe2\x80\xae"
		  "ample.com",
		    "domain" },
		{ "a\xe2\x80\x8b"
		  "b@example.com",
		    "localpart" },
		{ "a@example.com/\xe2\x81\xa6"
		  "x",
		    "resource" },
		{ "a@example.com/\xef\xbb\xbf", "resource" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_bad(cases[i].in, cases[i].why);
}

static void
jid_parse__rejects__invalid_utf8(void **state)
{
	static const struct bad cases[] = {
		{ "\xff@example.com", "UTF-8" },
		{ "a\xc3@example.com", "UTF-8" },
		{ "\xc0\xaf@example.com", "UTF-8" },
		{ "a@ex\x80"
		  "ample.com",
		    "UTF-8" },
		{ "a@example.com/\xed\xa0\x80", "UTF-8" },
		{ "a@example.com/\xf4\x90\x80\x80", "UTF-8" },
		{ "a@example.com/r\xe2\x80", "UTF-8" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_bad(cases[i].in, cases[i].why);
}

static void
jid_parse__rejects__invalid_domain_characters(void **state)
{
	static const char *const cases[] = {
		"a@exa mple.com",
		"a@exa:mple.com",
		"a@example.com:5222",
		"a@exa<mple.com",
		"a@exa\"mple.com",
		"a@.example.com",
		"a@example..com",
		"a@exa%mple.com",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_bad(cases[i], "domain");
}

/* Returns "PREFIX" followed by 'n' copies of 'c' and then "SUFFIX". */
static char *
make_jid(const char *prefix, size_t n, char c, const char *suffix)
{
	size_t lp = strlen(prefix), ls = strlen(suffix);
	char *s = xmalloc(lp + n + ls + 1);

	memcpy(s, prefix, lp);
	memset(s + lp, c, n);
	memcpy(s + lp + n, suffix, ls + 1);
	return s;
}

static void
jid_parse__limits__parts_to_1023_bytes(void **state)
{
	struct jid j;
	const char *why;
	char *s;
	char dom[1100];
	size_t i, n = 0;

	(void)state;
	/* localpart */
	s = make_jid("", 1023, 'l', "@example.com");
	assert_int_equal(jid_parse(s, &j, &why), 0);
	assert_int_equal(strlen(j.local), 1023);
	jid_free(&j);
	free(s);
	s = make_jid("", 1024, 'l', "@example.com");
	expect_bad(s, "1023");
	free(s);

	/* resourcepart */
	s = make_jid("a@example.com/", 1023, 'r', "");
	assert_int_equal(jid_parse(s, &j, &why), 0);
	assert_int_equal(strlen(j.resource), 1023);
	jid_free(&j);
	free(s);
	s = make_jid("a@example.com/", 1024, 'r', "");
	expect_bad(s, "1023");
	free(s);

	/* domainpart: 16 labels of 63 bytes and 15 dots are 1023 bytes */
	for (i = 0; i < 16; i++) {
		if (i)
			dom[n++] = '.';
		memset(dom + n, 'd', 63);
		n += 63;
	}
	dom[n] = '\0';
	assert_int_equal(n, 1023);
	s = xasprintf("a@%s/r", dom);
	assert_int_equal(jid_parse(s, &j, &why), 0);
	assert_int_equal(strlen(j.domain), 1023);
	jid_free(&j);
	free(s);
	/* ... and a trailing dot does not count */
	s = xasprintf("a@%s./r", dom);
	assert_int_equal(jid_parse(s, &j, &why), 0);
	assert_int_equal(strlen(j.domain), 1023);
	jid_free(&j);
	free(s);
	s = xasprintf("a@x%s/r", dom);
	expect_bad(s, "1023");
	free(s);
}

static void
jid_parse__rejects__label_longer_than_63_bytes(void **state)
{
	struct jid j;
	const char *why;
	char *s;

	(void)state;
	s = make_jid("a@", 63, 'x', ".example.com");
	assert_int_equal(jid_parse(s, &j, &why), 0);
	jid_free(&j);
	free(s);
	s = make_jid("a@", 64, 'x', ".example.com");
	expect_bad(s, "63");
	free(s);
	s = make_jid("a@example.", 64, 'x', "");
	expect_bad(s, "63");
	free(s);
	s = make_jid("", 64, 'x', "");
	expect_bad(s, "63");
	free(s);
}

static void
jid_bare__drops__resource(void **state)
{
	struct jid j = { NULL, NULL, NULL };
	char *s;

	(void)state;
	j.local = xstrdup("u");
	j.domain = xstrdup("d");
	j.resource = xstrdup("r");
	s = jid_bare(&j);
	assert_string_equal(s, "u@d");
	free(s);
	s = jid_full(&j);
	assert_string_equal(s, "u@d/r");
	free(s);
	free(j.local);
	j.local = NULL;
	s = jid_bare(&j);
	assert_string_equal(s, "d");
	free(s);
	s = jid_full(&j);
	assert_string_equal(s, "d/r");
	free(s);
	jid_free(&j);
	jid_free(NULL);
}

static void
jid_bare_of__cuts__at_first_slash(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "a@b/c", "a@b" },
		{ "a@b", "a@b" },
		{ "b/c/d", "b" },
		{ "domain/res@x", "domain" },
		{ "/x", "" },
		{ "", "" },
		{ "not a jid\x01", "not a jid\x01" },
	};
	size_t i;
	char *s;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = jid_bare_of(cases[i].in);
		assert_non_null(s);
		assert_string_equal(s, cases[i].out);
		free(s);
	}
	assert_null(jid_bare_of(NULL));
}

static void
jid_same_bare__compares__ascii_case_insensitively(void **state)
{
	static const struct {
		const char *a, *b;
		int same;
	} cases[] = {
		{ "a@b", "a@b", 1 },
		{ "a@b/x", "a@b/y", 1 },
		{ "A@B.Example/x", "a@b.example", 1 },
		{ "a@b", "a@bc", 0 },
		{ "a@bc", "a@b", 0 },
		{ "a@b", "b@b", 0 },
		{ "b", "a@b", 0 },
		{ "domain/res@x", "domain", 1 },
		{ "domain/res@x", "res@x", 0 },
		{ "", "", 1 },
		{ "\xc3\x9c@b", "\xc3\xbc@b", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (jid_same_bare(cases[i].a, cases[i].b) != cases[i].same)
			fail_msg("jid_same_bare(\"%s\", \"%s\") != %d",
			    cases[i].a, cases[i].b, cases[i].same);
		if (jid_same_bare(cases[i].b, cases[i].a) != cases[i].same)
			fail_msg("jid_same_bare(\"%s\", \"%s\") != %d",
			    cases[i].b, cases[i].a, cases[i].same);
	}
	assert_false(jid_same_bare(NULL, "a@b"));
	assert_false(jid_same_bare("a@b", NULL));
	assert_false(jid_same_bare(NULL, NULL));
}

static void
jid_has_resource__detects__slash(void **state)
{
	(void)state;
	assert_true(jid_has_resource("a@b/c"));
	assert_true(jid_has_resource("b/"));
	assert_true(jid_has_resource("domain/res@x"));
	assert_false(jid_has_resource("a@b"));
	assert_false(jid_has_resource("b"));
	assert_false(jid_has_resource(""));
	assert_false(jid_has_resource(NULL));
}

static void
jid_parse__reparses__bare_and_full(void **state)
{
	static const char *const cases[] = {
		"a@b.c/d",
		"domain/res@x",
		"j\xc3\xbcrgen@m\xc3\xbcnchen.example/x y",
		"a@[::1]/r/s",
		"example.com.",
	};
	struct jid j, k;
	const char *why;
	char *full, *bare, *again;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(jid_parse(cases[i], &j, &why), 0);
		full = jid_full(&j);
		assert_int_equal(jid_parse(full, &k, &why), 0);
		again = jid_full(&k);
		assert_string_equal(full, again);
		free(again);
		if ((j.local == NULL) != (k.local == NULL) ||
		    (j.local && strcmp(j.local, k.local) != 0))
			fail_msg("localpart changed for %s", cases[i]);
		assert_string_equal(j.domain, k.domain);
		if ((j.resource == NULL) != (k.resource == NULL) ||
		    (j.resource && strcmp(j.resource, k.resource) != 0))
			fail_msg("resource changed for %s", cases[i]);
		jid_free(&k);
		bare = jid_bare(&j);
		assert_int_equal(jid_parse(bare, &k, &why), 0);
		assert_null(k.resource);
		assert_string_equal(k.domain, j.domain);
		jid_free(&k);
		free(bare);
		free(full);
		jid_free(&j);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(jid_parse__accepts__rfc7622_forms),
		cmocka_unit_test(
		    jid_parse__splits__libstrophe_trap_domain_res_at),
		cmocka_unit_test(jid_parse__accepts__non_ascii_letters),
		cmocka_unit_test(jid_parse__removes__trailing_dot_of_domain),
		cmocka_unit_test(jid_parse__accepts__ipv6_literal),
		cmocka_unit_test(jid_parse__rejects__malformed_ipv6_literal),
		cmocka_unit_test(jid_parse__rejects__empty_parts),
		cmocka_unit_test(jid_parse__rejects__at_in_domain),
		cmocka_unit_test(
		    jid_parse__rejects__forbidden_localpart_characters),
		cmocka_unit_test(jid_parse__rejects__controls),
		cmocka_unit_test(jid_parse__rejects__bidi_override),
		cmocka_unit_test(jid_parse__rejects__invalid_utf8),
		cmocka_unit_test(jid_parse__rejects__invalid_domain_characters),
		cmocka_unit_test(jid_parse__limits__parts_to_1023_bytes),
		cmocka_unit_test(
		    jid_parse__rejects__label_longer_than_63_bytes),
		cmocka_unit_test(jid_parse__reparses__bare_and_full),
		cmocka_unit_test(jid_bare__drops__resource),
		cmocka_unit_test(jid_bare_of__cuts__at_first_slash),
		cmocka_unit_test(
		    jid_same_bare__compares__ascii_case_insensitively),
		cmocka_unit_test(jid_has_resource__detects__slash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
