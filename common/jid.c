/* SPDX-License-Identifier: MIT */
/* jid.c -- our own JID parser and validator (RFC 7622) */

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jid.h"
#include "text.h"
#include "util.h"
#include "xmpptools.h"

static int
check_local(const char *s, size_t len, const char **why)
{
	size_t i = 0;
	uint32_t cp;

	if (len == 0)
		return *why = "empty localpart", -1;
	if (len > XT_JID_PART_MAX)
		return *why = "localpart longer than 1023 bytes", -1;
	while (i < len) {
		if (text_utf8_next(s, len, &i, &cp) < 0)
			return *why = "localpart is not UTF-8", -1;
		if (cp <= 0x20 || cp == 0x7f || text_is_unsafe_cp(cp) ||
		    cp == 0xa0 || cp == 0x3000 ||
		    (cp >= 0x2000 && cp <= 0x200a))
			return *why = "space or control character in localpart",
			       -1;
		if (strchr("\"&'/:<>@", (int)cp) != NULL && cp < 0x80)
			return *why =
				   "localpart contains one of \" & ' / : < > @",
			       -1;
	}
	return 0;
}

static int
check_ipv6(const char *s, size_t len)
{
	struct in6_addr in6;
	char addr[64];
	size_t i;

	/* "[" hex, ':' and '.' (embedded IPv4) "]"; at least one ':'. */
	if (len < 4 || s[0] != '[' || s[len - 1] != ']')
		return -1;
	if (memchr(s, ':', len) == NULL)
		return -1;
	for (i = 1; i < len - 1; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			(c >= 'A' && c <= 'F') || c == ':' || c == '.'))
			return -1;
	}
	/* The characters are right; inet_pton() checks the grammar. */
	if (len - 2 >= sizeof(addr))
		return -1;
	memcpy(addr, s + 1, len - 2);
	addr[len - 2] = '\0';
	if (inet_pton(AF_INET6, addr, &in6) != 1)
		return -1;
	return 0;
}

static int
check_domain(const char *s, size_t len, const char **why)
{
	size_t i = 0, label = 0, at;
	uint32_t cp;

	if (len == 0)
		return *why = "empty domainpart", -1;
	if (len > XT_JID_PART_MAX)
		return *why = "domainpart longer than 1023 bytes", -1;
	if (s[0] == '[') {
		if (check_ipv6(s, len) < 0)
			return *why = "malformed IPv6 address in domainpart",
			       -1;
		return 0;
	}
	while (i < len) {
		at = i;
		if (text_utf8_next(s, len, &i, &cp) < 0)
			return *why = "domainpart is not UTF-8", -1;
		if (cp == '.') {
			if (label == 0)
				return *why = "empty label in domainpart", -1;
			label = 0;
			continue;
		}
		if (cp == '@')
			return *why = "'@' in domainpart", -1;
		if (cp < 0x80 &&
		    !((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
			(cp >= '0' && cp <= '9') || cp == '-' || cp == '_'))
			return *why = "invalid character in domainpart", -1;
		if (cp >= 0x80 &&
		    (text_is_unsafe_cp(cp) || cp == 0xa0 || cp == 0x3000 ||
			(cp >= 0x2000 && cp <= 0x200a)))
			return *why = "invalid character in domainpart", -1;
		label += i - at;
		if (label > 63)
			return *why =
				   "label longer than 63 bytes in domainpart",
			       -1;
	}
	if (label == 0)
		return *why = "empty label in domainpart", -1;
	return 0;
}

static int
check_resource(const char *s, size_t len, const char **why)
{
	size_t i = 0;
	uint32_t cp;

	if (len == 0)
		return *why = "empty resourcepart", -1;
	if (len > XT_JID_PART_MAX)
		return *why = "resourcepart longer than 1023 bytes", -1;
	while (i < len) {
		if (text_utf8_next(s, len, &i, &cp) < 0)
			return *why = "resourcepart is not UTF-8", -1;
		if (cp < 0x20 || cp == 0x7f || text_is_unsafe_cp(cp))
			return *why = "control character in resourcepart", -1;
	}
	return 0;
}

int
jid_parse(const char *s, struct jid *j, const char **why)
{
	const char *slash, *at, *dom;
	size_t barelen, domlen;

	memset(j, 0, sizeof(*j));
	if (s == NULL || *s == '\0')
		return *why = "empty JID", -1;
	slash = strchr(s, '/');
	barelen = slash ? (size_t)(slash - s) : strlen(s);
	at = memchr(s, '@', barelen);
	dom = at ? at + 1 : s;
	domlen = barelen - (size_t)(dom - s);
	/* RFC 7622 3.2: a trailing dot of the domainpart is removed. */
	if (domlen > 1 && dom[domlen - 1] == '.')
		domlen--;

	if (at && check_local(s, (size_t)(at - s), why) < 0)
		return -1;
	if (check_domain(dom, domlen, why) < 0)
		return -1;
	if (slash && check_resource(slash + 1, strlen(slash + 1), why) < 0)
		return -1;

	if (at)
		j->local = xstrndup(s, (size_t)(at - s));
	j->domain = xstrndup(dom, domlen);
	if (slash)
		j->resource = xstrdup(slash + 1);
	return 0;
}

void
jid_free(struct jid *j)
{
	if (j == NULL)
		return;
	free(j->local);
	free(j->domain);
	free(j->resource);
	memset(j, 0, sizeof(*j));
}

char *
jid_bare(const struct jid *j)
{
	if (j->local)
		return xasprintf("%s@%s", j->local, j->domain);
	return xstrdup(j->domain);
}

char *
jid_full(const struct jid *j)
{
	char *bare = jid_bare(j), *full;

	if (j->resource == NULL)
		return bare;
	full = xasprintf("%s/%s", bare, j->resource);
	free(bare);
	return full;
}

char *
jid_bare_of(const char *s)
{
	const char *slash;

	if (s == NULL)
		return NULL;
	slash = strchr(s, '/');
	return slash ? xstrndup(s, (size_t)(slash - s)) : xstrdup(s);
}

int
jid_same_bare(const char *a, const char *b)
{
	size_t la, lb;

	if (a == NULL || b == NULL)
		return 0;
	la = strcspn(a, "/");
	lb = strcspn(b, "/");
	return la == lb && strncasecmp(a, b, la) == 0;
}

char *
jid_ascii_lower(char *s)
{
	char *p;

	for (p = s; *p && *p != '/'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return s;
}

int
jid_has_resource(const char *s)
{
	return s != NULL && strchr(s, '/') != NULL;
}
