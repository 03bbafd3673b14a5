/* SPDX-License-Identifier: MIT */
/* upload.c -- XEP-0363 HTTP File Upload: find the service, get a slot, PUT */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <strophe.h>

#include "config.h"
#include "session.h"
#include "stanza.h"
#include "text.h"
#include "truststore.h"
#include "upload.h"
#include "util.h"
#include "xmpptools.h"

void
upload_slot_free(struct upload_slot *slot)
{
	size_t i;

	if (slot == NULL)
		return;
	free(slot->put);
	free(slot->get);
	for (i = 0; i < slot->nheaders; i++)
		free(slot->headers[i]);
	free(slot->headers);
	memset(slot, 0, sizeof(*slot));
}

static int
attr_is(xmpp_stanza_t *st, const char *name, const char *value)
{
	const char *v = xmpp_stanza_get_attribute(st, name);

	return v != NULL && strcmp(v, value) == 0;
}

/* The text of the first <value/> of a data form field, or NULL. */
static char *
field_value(xmpp_stanza_t *field)
{
	return stanza_child_text(field, "value", NULL);
}

/* The max-file-size of an XEP-0363 form, -1 when it gives none. */
static long long
form_max_size(xmpp_stanza_t *form)
{
	xmpp_stanza_t *f;
	long long max = -1;
	char *v, *end;
	int ours = 0;

	for (f = xmpp_stanza_get_children(form); f; f = xmpp_stanza_get_next(f))
		if (xmpp_stanza_is_tag(f) && attr_is(f, "var", "FORM_TYPE")) {
			v = field_value(f);
			ours = v != NULL && strcmp(v, NS_UPLOAD) == 0;
			free(v);
		}
	for (f = xmpp_stanza_get_children(form); ours && f;
	     f = xmpp_stanza_get_next(f)) {
		if (!xmpp_stanza_is_tag(f) ||
		    !attr_is(f, "var", "max-file-size"))
			continue;
		if ((v = field_value(f)) != NULL) {
			max = strtoll(v, &end, 10);
			if (end == v || *end != '\0' || max < 0)
				max = -1;
			free(v);
		}
	}
	return max;
}

int
upload_info_is_service(xmpp_stanza_t *query, long long *max_size)
{
	xmpp_stanza_t *c;
	const char *name, *ns;
	int store = 0, feature = 0;
	long long max = -1, m;

	for (c = xmpp_stanza_get_children(query); c;
	     c = xmpp_stanza_get_next(c)) {
		if (!xmpp_stanza_is_tag(c) ||
		    (name = xmpp_stanza_get_name(c)) == NULL)
			continue;
		ns = xmpp_stanza_get_ns(c);
		if (strcmp(name, "identity") == 0 &&
		    attr_is(c, "category", "store") &&
		    attr_is(c, "type", "file"))
			store = 1;
		else if (strcmp(name, "feature") == 0 &&
		    attr_is(c, "var", NS_UPLOAD))
			feature = 1;
		else if (strcmp(name, "x") == 0 && ns &&
		    strcmp(ns, NS_XDATA) == 0 && (m = form_max_size(c)) >= 0)
			max = m;
	}
	*max_size = max;
	return store && feature;
}

xmpp_stanza_t *
upload_slot_request(xmpp_ctx_t *ctx, const char *id, const char *to,
    const char *filename, long long size, const char *type)
{
	xmpp_stanza_t *iq = xmpp_iq_new(ctx, "get", id), *rq;
	char n[32];

	xmpp_stanza_set_to(iq, to);
	rq = xmpp_stanza_new(ctx);
	xmpp_stanza_set_name(rq, "request");
	xmpp_stanza_set_ns(rq, NS_UPLOAD);
	xmpp_stanza_set_attribute(rq, "filename", filename);
	snprintf(n, sizeof(n), "%lld", size);
	xmpp_stanza_set_attribute(rq, "size", n);
	if (type)
		xmpp_stanza_set_attribute(rq, "content-type", type);
	xmpp_stanza_add_child_ex(iq, rq, 0);
	return iq;
}

/* "Name: value" for a header XEP-0363 allows, else NULL (allocated). */
static char *
slot_header(xmpp_stanza_t *h)
{
	static const char *const allowed[] = { "Authorization", "Cookie",
		"Expires" };
	const char *name = xmpp_stanza_get_attribute(h, "name");
	char *value, *line, *p;
	size_t i;

	for (i = 0; name && i < sizeof(allowed) / sizeof(*allowed); i++)
		if (strcasecmp(name, allowed[i]) == 0)
			break;
	if (name == NULL || i == sizeof(allowed) / sizeof(*allowed))
		return NULL;
	value = xmpp_stanza_get_text(h);
	line = xasprintf("%s: %s", allowed[i], value ? value : "");
	if (value)
		xmpp_free(xmpp_stanza_get_context(h), value);
	for (p = line; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	return line;
}

int
upload_slot_parse(xmpp_stanza_t *iq, struct upload_slot *slot, char **err)
{
	xmpp_stanza_t *s, *put, *get, *h;
	const char *pu, *gu;
	char *line;

	memset(slot, 0, sizeof(*slot));
	s = xmpp_stanza_get_child_by_name_and_ns(iq, "slot", NS_UPLOAD);
	put = s ? xmpp_stanza_get_child_by_name(s, "put") : NULL;
	get = s ? xmpp_stanza_get_child_by_name(s, "get") : NULL;
	pu = put ? xmpp_stanza_get_attribute(put, "url") : NULL;
	gu = get ? xmpp_stanza_get_attribute(get, "url") : NULL;
	if (s == NULL) {
		*err = xstrdup("the reply carries no slot");
		return -1;
	}
	if (pu == NULL || gu == NULL || !*pu || !*gu) {
		*err = xasprintf(
		    "the slot has no %s URL", pu && *pu ? "GET" : "PUT");
		return -1;
	}
	slot->put = xstrdup(pu);
	slot->get = xstrdup(gu);
	for (h = xmpp_stanza_get_children(put); h;
	     h = xmpp_stanza_get_next(h)) {
		if (!xmpp_stanza_is_tag(h) ||
		    strcmp(xmpp_stanza_get_name(h), "header") != 0 ||
		    (line = slot_header(h)) == NULL)
			continue;
		slot->headers = xrealloc(slot->headers,
		    (slot->nheaders + 1) * sizeof(*slot->headers));
		slot->headers[slot->nheaders++] = line;
	}
	return 0;
}

int
upload_url_is_https(const char *url)
{
	return url != NULL && strncasecmp(url, "https://", 8) == 0 &&
	    url[8] != '\0' && url[8] != '/';
}

const char *
upload_content_type(const char *path)
{
	static const char *const types[][2] = { { "png", "image/png" },
		{ "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
		{ "gif", "image/gif" }, { "svg", "image/svg+xml" },
		{ "webp", "image/webp" }, { "pdf", "application/pdf" },
		{ "txt", "text/plain" }, { "log", "text/plain" },
		{ "csv", "text/csv" }, { "json", "application/json" },
		{ "html", "text/html" }, { "gz", "application/gzip" },
		{ "zip", "application/zip" }, { "mp4", "video/mp4" },
		{ "ogg", "audio/ogg" } };
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(slash ? slash : path, '.');
	size_t i;

	for (i = 0; dot && i < sizeof(types) / sizeof(*types); i++)
		if (strcasecmp(dot + 1, types[i][0]) == 0)
			return types[i][1];
	return "application/octet-stream";
}

char *
upload_file_name(const char *path)
{
	const char *base = path;
	size_t len = strlen(path), replaced;
	char *name;

	while (len > 1 && path[len - 1] == '/')
		len--;
	for (size_t i = 0; i < len; i++)
		if (path[i] == '/' && i + 1 < len)
			base = path + i + 1;
	len -= (size_t)(base - path);
	if (len == 0 || (len == 1 && *base == '/'))
		return xstrdup("file");
	name = text_clean_xml(base, len, &replaced);
	if (*name == '\0') {
		free(name);
		return xstrdup("file");
	}
	return name;
}

/* ------------------------------------------------------------------------
 * Discovery and the slot, through the session
 */

/* One discovery and one slot request at a time, as there is one session. */
static struct {
	upload_found_cb cb;
	void *ud;
	char **items;
	size_t n, next;
} disc;

static struct {
	upload_slot_cb cb;
	void *ud;
	char *service;
} req;

static void
disc_clear(void)
{
	size_t i;

	for (i = 0; i < disc.n; i++)
		free(disc.items[i]);
	free(disc.items);
	disc.items = NULL;
	disc.n = disc.next = 0;
}

/* An error reply, as one line: "CONDITION (TEXT)" (allocated). */
static char *
error_line(xmpp_stanza_t *st)
{
	char *cond, *text, *esc, *line;

	stanza_error_info(st, &cond, &text);
	if (text == NULL)
		return cond;
	esc = text_escape_dup(text, strlen(text));
	line = xasprintf("%s (%s)", cond, esc);
	free(esc);
	free(text);
	free(cond);
	return line;
}

static void disc_probe(struct session *s);

static void
disc_found(struct session *s, const char *service, long long max, int code,
    const char *why)
{
	upload_found_cb cb = disc.cb;
	char *jid = service ? xstrdup(service) : NULL;

	disc_clear();
	cb(s, jid, max, code, why, disc.ud);
	free(jid);
}

static int
on_info(struct session *s, xmpp_stanza_t *st, void *ud)
{
	const char *type = xmpp_stanza_get_type(st);
	xmpp_stanza_t *q;
	long long max;

	(void)ud;
	q = xmpp_stanza_get_child_by_name_and_ns(
	    st, "query", XMPP_NS_DISCO_INFO);
	if (type && strcmp(type, "result") == 0 && q &&
	    upload_info_is_service(q, &max)) {
		xdebug(1, "upload service: %s (max-file-size %lld)",
		    disc.items[disc.next - 1], max);
		disc_found(s, disc.items[disc.next - 1], max, XEXIT_OK, NULL);
		return 0;
	}
	disc_probe(s);
	return 0;
}

/* Asks the next item what it is, or reports that none is a service. */
static void
disc_probe(struct session *s)
{
	char *id, *why;
	xmpp_stanza_t *iq;

	if (disc.next >= disc.n) {
		why = xasprintf("%s offers no HTTP upload service (XEP-0363)",
		    session_domain(s));
		disc_found(s, NULL, -1, XEXIT_REJECTED, why);
		free(why);
		return;
	}
	id = session_new_id(s);
	iq = stanza_query(session_ctx(s), "get", id, disc.items[disc.next++],
	    XMPP_NS_DISCO_INFO, NULL);
	session_request(s, iq, on_info, NULL);
	xmpp_stanza_release(iq);
	free(id);
}

static int
on_items(struct session *s, xmpp_stanza_t *st, void *ud)
{
	const char *type = xmpp_stanza_get_type(st), *jid;
	xmpp_stanza_t *q, *c;
	char *cond, *why;

	(void)ud;
	if (type == NULL || strcmp(type, "result") != 0) {
		cond = error_line(st);
		why = xasprintf("%s: service discovery refused: %s",
		    session_domain(s), cond);
		disc_found(s, NULL, -1, XEXIT_REJECTED, why);
		free(why);
		free(cond);
		return 0;
	}
	q = xmpp_stanza_get_child_by_name_and_ns(
	    st, "query", XMPP_NS_DISCO_ITEMS);
	for (c = q ? xmpp_stanza_get_children(q) : NULL; c;
	     c = xmpp_stanza_get_next(c)) {
		if (!xmpp_stanza_is_tag(c) ||
		    strcmp(xmpp_stanza_get_name(c), "item") != 0 ||
		    (jid = xmpp_stanza_get_attribute(c, "jid")) == NULL ||
		    xmpp_stanza_get_attribute(c, "node") != NULL)
			continue;
		disc.items =
		    xrealloc(disc.items, (disc.n + 1) * sizeof(*disc.items));
		disc.items[disc.n++] = xstrdup(jid);
	}
	disc_probe(s);
	return 0;
}

void
upload_discover(struct session *s, upload_found_cb cb, void *ud)
{
	char *id = session_new_id(s);
	xmpp_stanza_t *iq = stanza_query(session_ctx(s), "get", id,
	    session_domain(s), XMPP_NS_DISCO_ITEMS, NULL);

	disc_clear();
	disc.cb = cb;
	disc.ud = ud;
	session_set_phase(s, "waiting for the upload service");
	session_request(s, iq, on_items, NULL);
	xmpp_stanza_release(iq);
	free(id);
}

static int
on_slot(struct session *s, xmpp_stanza_t *st, void *ud)
{
	const char *type = xmpp_stanza_get_type(st);
	struct upload_slot slot;
	char *cond, *why, *err = NULL, *service = req.service;

	/* The callback may ask for the next slot. */
	(void)ud;
	req.service = NULL;
	if (type == NULL || strcmp(type, "result") != 0) {
		cond = error_line(st);
		why =
		    xasprintf("%s refused the upload slot: %s", service, cond);
		req.cb(s, NULL, XEXIT_REJECTED, why, req.ud);
		free(why);
		free(cond);
	} else if (upload_slot_parse(st, &slot, &err) < 0) {
		why = xasprintf("%s: %s", service, err);
		req.cb(s, NULL, XEXIT_PROTOCOL, why, req.ud);
		free(why);
		free(err);
	} else {
		req.cb(s, &slot, XEXIT_OK, NULL, req.ud);
		upload_slot_free(&slot);
	}
	free(service);
	return 0;
}

void
upload_request(struct session *s, const char *service, const char *filename,
    long long size, const char *type, upload_slot_cb cb, void *ud)
{
	char *id = session_new_id(s);
	xmpp_stanza_t *iq = upload_slot_request(
	    session_ctx(s), id, service, filename, size, type);

	free(req.service);
	req.service = xstrdup(service);
	req.cb = cb;
	req.ud = ud;
	session_set_phase(s, "waiting for an upload slot");
	session_request(s, iq, on_slot, NULL);
	xmpp_stanza_release(iq);
	free(id);
}

/* ------------------------------------------------------------------------
 * The HTTP PUT
 */

/* The fingerprint pin of the transfer in progress (one at a time). */
static const char *put_pin;

/* With a fingerprint pin: the chain must verify and the server's own
 * certificate must have that SHA-256 fingerprint. */
static int
verify_pin(int ok, X509_STORE_CTX *store)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	X509 *cert = X509_STORE_CTX_get_current_cert(store);

	if (!ok || X509_STORE_CTX_get_error_depth(store) != 0)
		return ok;
	if (cert == NULL || !X509_digest(cert, EVP_sha256(), md, &len))
		return 0;
	for (i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return put_pin != NULL && strcmp(hex, put_pin) == 0;
}

/*
 * The trust of the transfer is the XMPP connection's (session_login.c):
 * OpenSSL's default paths as the lazy trust store decided them for this
 * process (truststore.h: the hashed directories, without parsing the
 * default bundle when they hold the same CAs), the default directory when
 * the lazy plan adds it, and --cafile and --capath on top (libcurl loads
 * those before this runs).  libcurl's own built-in bundle is not used.
 * With a fingerprint pin, the pin is checked on top of the chain.
 */
static CURLcode
trust_ctx(CURL *curl, void *ctx, void *ud)
{
	const char *add = NULL;

	(void)curl;
	(void)ud;
	truststore_init(&add);
	if (!SSL_CTX_set_default_verify_paths(ctx))
		return CURLE_SSL_CACERT_BADFILE;
	if (add)
		(void)SSL_CTX_load_verify_locations(ctx, NULL, add);
	if (put_pin)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_pin);
	return CURLE_OK;
}

static size_t
discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

static int
show_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	const char *name = ud;

	(void)dltotal;
	(void)dlnow;
	if (ultotal > 0)
		fprintf(stderr, "\r%s: %3d%% (%lld of %lld bytes)", name,
		    (int)(ulnow * 100 / ultotal), (long long)ulnow,
		    (long long)ultotal);
	return 0;
}

/* The exit code of a failed transfer. */
static int
curl_code(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return XEXIT_CONNECT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return XEXIT_TLS;
	case CURLE_OPERATION_TIMEDOUT:
		return XEXIT_TIMEOUT;
	case CURLE_READ_ERROR:
		return XEXIT_USAGE;
	default:
		return XEXIT_FAILURE;
	}
}

/* The transfer's settings: https only, verified, the account's trust. */
static struct curl_slist *
put_setup(CURL *c, const struct xconfig *cfg, const struct upload_slot *slot,
    const char *type, long timeout_ms)
{
	struct curl_slist *hdr = NULL;
	char *ct = xasprintf("Content-Type: %s", type);
	size_t i;

	curl_easy_setopt(c, CURLOPT_URL, slot->put);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "xmpptools/" PACKAGE_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	/* NULL: not libcurl's built-in bundle and directory (trust_ctx()). */
	curl_easy_setopt(c, CURLOPT_CAINFO, cfg->cafile);
	curl_easy_setopt(c, CURLOPT_CAPATH, cfg->capath);
	curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, trust_ctx);
	put_pin = NULL;
	if (cfg->tls_pin && strncmp(cfg->tls_pin, "sha256//", 8) == 0)
		curl_easy_setopt(c, CURLOPT_PINNEDPUBLICKEY, cfg->tls_pin);
	else if (cfg->tls_pin)
		put_pin = cfg->tls_pin;
	for (i = 0; i < slot->nheaders; i++)
		hdr = curl_slist_append(hdr, slot->headers[i]);
	hdr = curl_slist_append(hdr, ct);
	hdr = curl_slist_append(hdr, "Expect:");
	free(ct);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	return hdr;
}

int
upload_put(const struct xconfig *cfg, const struct upload_slot *slot,
    const char *path, long long size, const char *type, long timeout_ms,
    int progress, char **err)
{
	char ebuf[CURL_ERROR_SIZE] = "", *url, *name;
	struct curl_slist *hdr;
	long status = 0;
	CURLcode rc;
	FILE *f;
	CURL *c;
	int code = XEXIT_OK;

	url = text_escape_dup(slot->put, strlen(slot->put));
	if (!upload_url_is_https(slot->put)) {
		*err = xasprintf("%s: not an https URL; nothing uploaded", url);
		free(url);
		return XEXIT_PROTOCOL;
	}
	if ((f = fopen(path, "rb")) == NULL) {
		name = text_escape_dup(path, strlen(path));
		*err = xasprintf("%s: cannot be read", name);
		free(name);
		free(url);
		return XEXIT_USAGE;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = curl_easy_init();
	hdr = put_setup(c, cfg, slot, type, timeout_ms > 0 ? timeout_ms : 1);
	name = upload_file_name(path);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_READDATA, f);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
	if (progress) {
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, show_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, name);
	}
	rc = curl_easy_perform(c);
	if (progress)
		fputc('\n', stderr);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK) {
		code = curl_code(rc);
		*err = xasprintf("%s: upload failed: %s", url,
		    *ebuf ? ebuf : curl_easy_strerror(rc));
	} else if (status < 200 || status >= 300) {
		code = XEXIT_REJECTED;
		*err = xasprintf("%s: the upload service refused the file "
				 "(HTTP %ld)",
		    url, status);
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	put_pin = NULL;
	fclose(f);
	free(name);
	free(url);
	return code;
}
