/* SPDX-License-Identifier: MIT */
/* upload.h -- XEP-0363 HTTP File Upload: find the service, get a slot, PUT */
#ifndef XMPPTOOLS_UPLOAD_H
#define XMPPTOOLS_UPLOAD_H

#include <strophe.h>

#include "config.h"
#include "session.h"

#define NS_UPLOAD "urn:xmpp:http:upload:0"
#define NS_XDATA "jabber:x:data"

/*
 * Three steps, for xsend --upload:
 *
 *   upload_discover()  disco#items of the account's domain, then disco#info
 *                      of each item in turn, until one is an upload service
 *                      (identity store/file and feature NS_UPLOAD); its
 *                      max-file-size comes from the x-data form.
 *   upload_request()   asks that service for a slot (PUT and GET URLs).
 *   upload_put()       sends the file with libcurl over https, with the
 *                      trust settings of the XMPP connection (the lazy
 *                      trust store of truststore.h, not libcurl's built-in
 *                      CA bundle; --cafile, --capath, --tls-pin);
 *                      verification is never off.
 *
 * The first two go through the session (session_request()); their
 * callbacks run inside the event loop and may end the run.  upload_put()
 * blocks until the transfer is over or its deadline.  Nothing here writes
 * stdout or exits; failures come back as an exit code (xmpptools.h) and
 * one line of explanation.  One discovery at a time per process, as there
 * is one session.
 */

/* A slot: URLs and the headers to send with the PUT ("Name: value"). */
struct upload_slot {
	char *put;
	char *get;
	char **headers;
	size_t nheaders;
};

/* Releases what a slot holds (not the struct); NULL is a no-op. */
void upload_slot_free(struct upload_slot *slot);

/*
 * upload_info_is_service()
 *
 * For a disco#info <query/> (borrowed): 1 when it describes an XEP-0363
 * service, with *max_size its max-file-size (-1 when it gives none), else
 * 0.
 */
int upload_info_is_service(xmpp_stanza_t *query, long long *max_size);

/*
 * upload_slot_request()
 *
 * <iq type='get' id to><request xmlns=NS_UPLOAD filename size
 * content-type/></iq>, a new stanza that the caller releases.  The
 * strings are borrowed and must be valid for XML.
 */
xmpp_stanza_t *upload_slot_request(xmpp_ctx_t *ctx, const char *id,
    const char *to, const char *filename, long long size, const char *type);

/*
 * upload_slot_parse()
 *
 * Reads the <slot/> of a result iq into *slot (its strings allocated;
 * release with upload_slot_free()).  Only the headers XEP-0363 allows
 * (Authorization, Cookie, Expires) are kept, without line breaks.
 * Returns 0, or -1 with *err (allocated, caller frees) when there is no
 * slot or a URL is missing; *slot is then empty.
 */
int upload_slot_parse(xmpp_stanza_t *iq, struct upload_slot *slot, char **err);

/* 1 when 'url' starts with "https://" (any case) and names a host. */
int upload_url_is_https(const char *url);

/* The media type of a file from its name's extension (a literal),
 * "application/octet-stream" when unknown. */
const char *upload_content_type(const char *path);

/*
 * upload_file_name()
 *
 * The name sent in the slot request: the last component of 'path', with
 * what XML cannot carry replaced, "file" when nothing is left.  Allocated
 * (caller frees).
 */
char *upload_file_name(const char *path);

/*
 * upload_discover()
 *
 * Finds the upload service and calls 'cb' once: with its JID (borrowed
 * for the call) and max-file-size (-1: none given), or with 'service'
 * NULL, an exit code and a line saying why (no service: XEXIT_REJECTED).
 */
typedef void (*upload_found_cb)(struct session *s, const char *service,
    long long max_size, int code, const char *why, void *ud);
void upload_discover(struct session *s, upload_found_cb cb, void *ud);

/*
 * upload_request()
 *
 * Asks 'service' for a slot for a file and calls 'cb' once with the slot
 * (borrowed for the call), or with NULL, an exit code and a line saying
 * why (refused: XEXIT_REJECTED; no usable slot: XEXIT_PROTOCOL).
 */
typedef void (*upload_slot_cb)(struct session *s,
    const struct upload_slot *slot, int code, const char *why, void *ud);
void
upload_request(struct session *s, const char *service, const char *filename,
    long long size, const char *type, upload_slot_cb cb, void *ud);

/*
 * upload_put()
 *
 * PUTs the 'size' bytes of the file 'path' to slot->put, which must be
 * https (else XEXIT_PROTOCOL, nothing sent), with the slot's headers and
 * Content-Type 'type', giving up after 'timeout_ms'.  With 'progress', a
 * progress line is kept up to date on stderr.  Returns XEXIT_OK, or a code
 * with *err (allocated, caller frees): 4 connection, 5 TLS (verification,
 * pin), 7 timeout, 8 the HTTP server refused (status >= 300), 2 the file
 * cannot be read, 1 otherwise.
 */
int upload_put(const struct xconfig *cfg, const struct upload_slot *slot,
    const char *path, long long size, const char *type, long timeout_ms,
    int progress, char **err);

#endif
