/* SPDX-License-Identifier: MIT */
/* agent.h -- xsend's persistent agent: one logged-in session, many senders */

#ifndef XMPPTOOLS_AGENT_H
#define XMPPTOOLS_AGENT_H

#include <sys/types.h>

#include <stddef.h>

#include "config.h"
#include "util.h"

/*
 * The agent (xsend --agent[=SECONDS], config key 'agent') is ssh's
 * ControlMaster/ControlPersist for XMPP: the first xsend leaves behind a
 * process that holds a logged-in session and listens on a private Unix
 * socket; later xsends of the same user, account and connection settings
 * hand it their message, and get back the exit code of its barrier.
 *
 * Choices, and why:
 *
 * - Where.  The socket lives in $XDG_RUNTIME_DIR/xmpptools, or, when that
 *   variable is unset, in /tmp/xmpptools-UID (a user without a runtime
 *   directory, such as cron on some systems, still gets the agent).  The
 *   directory is created 0700 and used only when it is a real directory
 *   (not a link) owned by the user with no group or other permission bits,
 *   as ssh checks its ControlPath: an unsafe directory means a direct
 *   login, with a warning.  Both ends check the other's uid (SO_PEERCRED).
 *
 * - Which agent.  Its name is a 64-bit FNV-1a hash of the settings that
 *   shape the session (agent_settings(): JID, host, port, direct TLS, CA
 *   file and path, pin, insecure, client certificate and key, resource,
 *   stanza limit; file names made absolute), so a client finds it without
 *   reading the password.  The hash only picks a name: the agent compares
 *   the full settings text of every request with its own and answers "not
 *   for me" on any difference; the client then logs in directly.  The
 *   password is not part of the key: as with ssh, access to the socket is
 *   access to the session, and only the same uid has it.
 *
 * - Starting.  When no agent answers, the client takes a lock file next
 *   to the socket (so that a storm of clients starts one agent and logs in
 *   once), tries again, and else reads the password, binds the socket,
 *   forks the agent (new session, fds 0-2 on /dev/null, non-dumpable like
 *   xsend), releases the lock and then talks to the agent like any other
 *   client.  Clients that came meanwhile wait in the listen backlog until
 *   the agent is online.
 *
 * - The exit-status guarantee.  The agent first answers "accepted", then
 *   writes the client's messages to its stream, then sends a barrier (an
 *   XEP-0199 ping) and answers with the result once it is back: 0 when the
 *   server has every stanza, 8 with the lines of a bounce, or the code of
 *   the session when it was lost meanwhile.  A client that sees the
 *   connection end before "accepted" knows nothing was sent and logs in
 *   directly; after "accepted" it reports 4 (maybe sent: never a
 *   duplicate, never a loss reported as 0).
 *
 * - Lifetime.  The agent sends no initial presence, never reconnects (it
 *   exits when its session is lost; the next xsend starts a new one) and
 *   exits SECONDS after its last request was answered (each request
 *   carries its client's SECONDS).  It removes its socket before it stops
 *   accepting, so a late client finds no agent rather than a dying one.
 *
 * - What goes through it.  One-shot messages to JIDs (not --lines, --raw,
 *   --room, --receipt or --tee, which log in directly).  The client checks
 *   everything first, with the same lines and exit codes as a direct run;
 *   the agent checks again (JIDs, XML-safe text) and drops a bad request
 *   without touching its session, so no client can harm the others.
 *
 * - The client process never initialises libstrophe or TLS: it parses its
 *   options, hashes the settings, and talks over the socket.
 *
 * The protocol on the socket, version 1: each frame is a 4-byte big-endian
 * payload length, then the payload: a version byte (1), a kind byte, and
 * fields, each a tag byte, a 4-byte big-endian length and that many bytes
 * of text (no NUL).  Kinds: 'Q' request (client), 'A' accepted, 'R' result,
 * 'N' not for me (agent).  A frame of another version is answered with 'N'.
 */

#define AGENT_VERSION 1
/* Largest frame either end accepts (a body is at most --max-size). */
#define AGENT_MAX_FRAME (64UL * 1024UL * 1024UL)

/*
 * What one client hands over: one message for each recipient.  A request
 * that agent_decode_request() filled owns its strings (agent_request_free());
 * one that a client builds to send may borrow them, and is not freed.
 */
struct agent_request {
	char *settings; /* agent_settings() of the client */
	long idle_ms; /* how long the agent stays after this request */
	char *type; /* chat, normal, headline */
	char *body;
	char *subject; /* the optional texts: NULL when not given */
	char *thread;
	char *url;
	char *id; /* the message id, or NULL: the agent makes one */
	int no_store;
	char **rcpt; /* normalized JIDs */
	size_t nrcpt;
};

/* What the agent answers once the server has answered the barrier. */
struct agent_result {
	int code; /* the exit code of the run */
	char **line; /* the error lines to print, as a direct run would */
	size_t nline;
};

/* Frees what a decoded request or result holds (the structs stay). */
void agent_request_free(struct agent_request *rq);
void agent_result_free(struct agent_result *r);

/*
 * Encoding: each function appends one whole frame (length included) to
 * 'b'.  Fields of the request that are NULL are left out.
 */
void agent_encode_request(struct buf *b, const struct agent_request *rq);
void agent_encode_result(struct buf *b, const struct agent_result *r);
void agent_encode_kind(struct buf *b, char kind); /* 'A' or 'N' */

/*
 * agent_frame_size()
 *
 * Given the first 'len' bytes received, the size of the whole first frame
 * (header included) when they hold its header, 0 when not yet, -1 when
 * the frame is larger than AGENT_MAX_FRAME (drop the peer).
 */
long agent_frame_size(const char *p, size_t len);

/*
 * agent_decode_kind()
 *
 * The kind of the whole frame p[0..len): 'Q', 'A', 'R' or 'N', or 0 when
 * the frame is malformed or of another version.
 */
char agent_decode_kind(const char *p, size_t len);

/*
 * agent_decode_request(), agent_decode_result()
 *
 * Decode the whole frame p[0..len) into *rq or *r (filled with allocated
 * copies; free them with agent_*_free() whatever the outcome).  Return 0,
 * or -1 with *errstr on a malformed frame, a missing field, a NUL in a
 * text, or a frame of another kind or version.
 */
int agent_decode_request(
    const char *p, size_t len, struct agent_request *rq, char **errstr);
int agent_decode_result(
    const char *p, size_t len, struct agent_result *r, char **errstr);

/*
 * agent_settings()
 *
 * The text of every setting that shapes the session (see above), one
 * "key=value" line each, file names made absolute.  Caller frees.
 */
char *agent_settings(const struct xconfig *cfg);

/* The 16 hex digits of the FNV-1a hash of 'settings' into out[17]. */
void agent_key(const char *settings, char out[17]);

/*
 * agent_check_dir()
 *
 * The ssh rule for the socket directory: 'path' is a directory, not a
 * link, owned by 'uid', without group or other permission bits.  Returns
 * 0, or -1 with *errstr.
 */
int agent_check_dir(const char *path, uid_t uid, char **errstr);

/*
 * agent_dir()
 *
 * The socket directory ($XDG_RUNTIME_DIR/xmpptools, else
 * /tmp/xmpptools-UID), created 0700 when missing and checked with
 * agent_check_dir().  Returns the path (caller frees), or NULL with
 * *errstr.
 */
char *agent_dir(char **errstr);

/* ------------------------------------------------------------------------
 * The client side (no libstrophe here)
 */

struct agent_client;

enum agent_way {
	AGENT_DIRECT, /* no agent for this run: log in directly */
	AGENT_DONE, /* the agent did it (or failed): *rc is the exit code */
	AGENT_START /* no agent: read the password, then agent_start() */
};

/*
 * agent_client_new()
 *
 * Prepares the way to the agent of the settings of 'cfg' (borrowed; it
 * must outlive the client).  Returns NULL when the agent cannot be used
 * (an unsafe or unusable directory, a socket path too long), after a
 * warning for an unsafe directory: the caller logs in directly.
 */
struct agent_client *agent_client_new(const struct xconfig *cfg);
void agent_client_free(struct agent_client *c);

/*
 * agent_submit()
 *
 * Hands 'rq' (its settings field is ignored: the client's are sent) to
 * the running agent, and
 * waits for the answer until 'timeout_ms' from now.  AGENT_DONE: the
 * result is in *rc and its lines were printed (xerror()).  AGENT_DIRECT:
 * nothing was sent (no agent, not for us, it went away).  AGENT_START: no
 * agent runs; the lock is held until agent_start() or agent_client_free().
 */
enum agent_way agent_submit(struct agent_client *c,
    const struct agent_request *rq, long timeout_ms, int *rc);

/*
 * agent_start()
 *
 * After AGENT_START: binds the socket and forks the agent, which logs in
 * with 'password' (borrowed).  In the calling process it then submits 'rq'
 * as agent_submit() does (AGENT_DONE or AGENT_DIRECT, never AGENT_START).
 * In the agent process it returns AGENT_DONE with *is_agent set and *rc
 * the agent's own exit code, once it has stopped: the caller ends the
 * process with it.
 */
enum agent_way agent_start(struct agent_client *c, const char *password,
    const struct agent_request *rq, long timeout_ms, int *rc, int *is_agent);

#endif
