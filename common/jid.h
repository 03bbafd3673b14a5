/* SPDX-License-Identifier: MIT */
/* jid.h -- our own JID parser and validator (RFC 7622) */

#ifndef XMPPTOOLS_JID_H
#define XMPPTOOLS_JID_H

/*
 * libstrophe 0.12.2 splits JIDs with strchr() and turns "domain/res@x" into
 * localpart "domain/res" and domainpart "x".  Every JID that reaches the
 * tools from a user goes through jid_parse() instead.
 *
 * A parsed JID owns its parts (NULL when absent); jid_free() releases them.
 */
struct jid {
	char *local;
	char *domain;
	char *resource;
};

/*
 * jid_parse()
 *
 * Splits and checks 's' as RFC 7622 says: the resource is everything after
 * the first '/', the localpart everything before the first '@' that comes
 * before it.  Each part must be 1..1023 bytes of UTF-8; the localpart must
 * not contain " & ' / : < > @, space or controls; the domainpart must be a
 * host name ('.'-separated labels of ASCII letters, digits, '-' and '_', or
 * non-ASCII letters of an internationalised name) or a bracketed IPv6
 * literal; the resource must not contain controls.  A trailing '.' of the
 * domain is removed.  Returns 0 and fills 'j' (which the caller releases
 * with jid_free()), or -1 with *why set to a static description of the
 * problem.
 */
int jid_parse(const char *s, struct jid *j, const char **why);

/* Releases the parts of 'j'; 'j' itself is not freed.  NULL-safe. */
void jid_free(struct jid *j);

/* Returns "local@domain" or "domain" (caller frees). */
char *jid_bare(const struct jid *j);

/* Returns the whole JID, with the resource when there is one (caller frees). */
char *jid_full(const struct jid *j);

/*
 * jid_bare_of()
 *
 * Returns the bare part of a JID string taken from the network (everything
 * before the first '/'), without validating it (caller frees).  NULL for
 * NULL.
 */
char *jid_bare_of(const char *s);

/*
 * jid_same_bare()
 *
 * True when two JID strings have the same bare JID, comparing ASCII letters
 * without regard to case (the case mapping of localparts and domains).
 */
int jid_same_bare(const char *a, const char *b);

/*
 * jid_ascii_lower()
 *
 * Lower-cases the ASCII letters of the bare part of a JID in place (the
 * case mapping servers apply to localparts and domains; a resource keeps
 * its case).  Returns 's'.
 */
char *jid_ascii_lower(char *s);

/* True when the JID string has a resource. */
int jid_has_resource(const char *s);

#endif
