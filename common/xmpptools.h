/* SPDX-License-Identifier: MIT */
/* xmpptools.h -- exit codes and limits shared by every tool; no logic */

#ifndef XMPPTOOLS_XMPPTOOLS_H
#define XMPPTOOLS_XMPPTOOLS_H

/*
 * The exit status table of README.md, the same in every man page.  Codes 4
 * and 7 are worth retrying; the others are not.  Modules in common/ return
 * these codes; only cmd/ turns them into an exit status.
 */
enum xexit {
	XEXIT_OK = 0, /* done; xsend: the server has every stanza */
	XEXIT_FAILURE = 1, /* internal or unclassified failure */
	XEXIT_USAGE = 2, /* bad option, argument or JID; nothing sent */
	XEXIT_CONFIG = 3, /* config unreadable/invalid, unsafe, no password */
	XEXIT_CONNECT = 4, /* DNS, refused, unreachable, connection lost */
	XEXIT_TLS = 5, /* TLS handshake/verification, pin mismatch */
	XEXIT_AUTH = 6, /* authentication failed */
	XEXIT_TIMEOUT = 7, /* the deadline passed */
	XEXIT_REJECTED = 8, /* a stanza came back as an error */
	XEXIT_PROTOCOL = 9, /* stream error, malformed or unexpected reply */
	XEXIT_NEGATIVE = 10 /* negative answer (xpresence get/wait) */
};

/* Default size limit of one message body, in bytes (--max-size). */
#define XT_DEFAULT_MAX_SIZE (64 * 1024)

/*
 * Default limit of one incoming stanza, in bytes (--max-stanza): four times
 * the 256 KiB that Prosody and ejabberd accept from a client, room for a
 * roster of several thousand contacts.
 */
#define XT_DEFAULT_MAX_STANZA (1024UL * 1024UL)

/* Default deadline of one run, in milliseconds (--timeout). */
#define XT_DEFAULT_TIMEOUT_MS 30000

/* Longest JID we accept: three parts of at most 1023 bytes each (RFC 7622). */
#define XT_JID_PART_MAX 1023

#endif
