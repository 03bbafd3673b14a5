/* SPDX-License-Identifier: MIT */
/* agent.c -- xsend's persistent agent: one logged-in session, many senders */

#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "jid.h"
#include "omemo.h"
#include "omemo_pep.h"
#include "session.h"
#include "stanza.h"
#include "text.h"
#include "util.h"
#include "xmpptools.h"

/* ------------------------------------------------------------------------
 * The protocol
 */

static void
put_u32(struct buf *b, uint32_t v)
{
	unsigned char u[4] = { (unsigned char)(v >> 24),
		(unsigned char)(v >> 16), (unsigned char)(v >> 8),
		(unsigned char)v };

	buf_add(b, u, 4);
}

static uint32_t
get_u32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 |
	    (uint32_t)u[2] << 8 | (uint32_t)u[3];
}

/* Starts a frame of 'kind'; returns where its length goes. */
static size_t
frame_begin(struct buf *b, char kind)
{
	size_t at = b->len;
	char head[2] = { AGENT_VERSION, kind };

	put_u32(b, 0);
	buf_add(b, head, 2);
	return at;
}

static void
frame_end(struct buf *b, size_t at)
{
	uint32_t n = (uint32_t)(b->len - at - 4);
	unsigned char *u = (unsigned char *)b->data + at;

	u[0] = (unsigned char)(n >> 24);
	u[1] = (unsigned char)(n >> 16);
	u[2] = (unsigned char)(n >> 8);
	u[3] = (unsigned char)n;
}

static void
put_field(struct buf *b, char tag, const char *text)
{
	size_t n;

	if (text == NULL)
		return;
	n = strlen(text);
	buf_addc(b, tag);
	put_u32(b, (uint32_t)n);
	buf_add(b, text, n);
}

void
agent_encode_kind(struct buf *b, char kind)
{
	frame_end(b, frame_begin(b, kind));
}

void
agent_encode_request(struct buf *b, const struct agent_request *rq)
{
	size_t at = frame_begin(b, 'Q'), i;
	char num[32];

	put_field(b, 'S', rq->settings);
	snprintf(num, sizeof(num), "%ld", rq->idle_ms);
	put_field(b, 'I', num);
	put_field(b, 'y', rq->type);
	put_field(b, 'b', rq->body);
	put_field(b, 's', rq->subject);
	put_field(b, 'h', rq->thread);
	put_field(b, 'u', rq->url);
	put_field(b, 'i', rq->id);
	put_field(b, 'n', rq->no_store ? "1" : NULL);
	for (i = 0; i < rq->nrcpt; i++)
		put_field(b, 't', rq->rcpt[i]);
	frame_end(b, at);
}

void
agent_encode_result(struct buf *b, const struct agent_result *r)
{
	size_t at = frame_begin(b, 'R'), i;
	char num[16];

	snprintf(num, sizeof(num), "%d", r->code);
	put_field(b, 'c', num);
	for (i = 0; i < r->nline; i++)
		put_field(b, 'e', r->line[i]);
	frame_end(b, at);
}

long
agent_frame_size(const char *p, size_t len)
{
	uint32_t n;

	if (len < 4)
		return 0;
	n = get_u32(p);
	if (n > AGENT_MAX_FRAME)
		return -1;
	return (long)n + 4;
}

char
agent_decode_kind(const char *p, size_t len)
{
	if (len < 6 || agent_frame_size(p, len) != (long)len ||
	    p[4] != AGENT_VERSION)
		return 0;
	return strchr("QARN", p[5]) && p[5] ? p[5] : 0;
}

/* One field of a frame: its tag and an allocated copy of its text. */
typedef int (*field_cb)(char tag, char *text, void *ud);

/*
 * Walks the fields of the whole frame p[0..len) of 'kind', handing each to
 * 'cb' (which takes the text over).  Returns 0, or -1 with *errstr.
 */
static int
walk(const char *p, size_t len, char kind, field_cb cb, void *ud, char **errstr)
{
	size_t at = 6;
	uint32_t n;

	if (agent_decode_kind(p, len) != kind) {
		*errstr = xasprintf(
		    "not a version %d '%c' frame", AGENT_VERSION, kind);
		return -1;
	}
	while (at < len) {
		if (len - at < 5 || (n = get_u32(p + at + 1)) > len - at - 5) {
			*errstr = xstrdup("truncated field");
			return -1;
		}
		if (memchr(p + at + 5, '\0', n) != NULL) {
			*errstr = xasprintf("NUL in field '%c'", p[at]);
			return -1;
		}
		if (cb(p[at], xstrndup(p + at + 5, n), ud) < 0) {
			*errstr = xasprintf("bad field '%c'", p[at]);
			return -1;
		}
		at += 5 + n;
	}
	return 0;
}

/* Stores 'text' in an optional field given at most once. */
static int
take(char **field, char *text)
{
	if (*field != NULL) {
		free(text);
		return -1;
	}
	*field = text;
	return 0;
}

static int
request_field(char tag, char *text, void *ud)
{
	struct agent_request *rq = ud;
	unsigned long ul;
	int r = 0;

	switch (tag) {
	case 'S':
		return take(&rq->settings, text);
	case 'y':
		return take(&rq->type, text);
	case 'b':
		return take(&rq->body, text);
	case 's':
		return take(&rq->subject, text);
	case 'h':
		return take(&rq->thread, text);
	case 'u':
		return take(&rq->url, text);
	case 'i':
		return take(&rq->id, text);
	case 'I':
		r = util_parse_ulong(text, 1, LONG_MAX, &ul);
		rq->idle_ms = r == 0 ? (long)ul : 0;
		break;
	case 'n':
		rq->no_store = 1;
		break;
	case 't':
		rq->rcpt =
		    xrealloc(rq->rcpt, (rq->nrcpt + 1) * sizeof(*rq->rcpt));
		rq->rcpt[rq->nrcpt++] = text;
		return 0;
	default:
		r = -1; /* a version 1 frame has no other field */
	}
	free(text);
	return r;
}

int
agent_decode_request(
    const char *p, size_t len, struct agent_request *rq, char **errstr)
{
	memset(rq, 0, sizeof(*rq));
	if (walk(p, len, 'Q', request_field, rq, errstr) < 0)
		return -1;
	if (rq->settings == NULL || rq->type == NULL || rq->body == NULL ||
	    rq->nrcpt == 0 || rq->idle_ms <= 0) {
		*errstr = xstrdup("incomplete request");
		return -1;
	}
	return 0;
}

static int
result_field(char tag, char *text, void *ud)
{
	struct agent_result *r = ud;
	unsigned long ul;

	if (tag == 'c') {
		int bad = util_parse_ulong(text, 0, 255, &ul) < 0;

		free(text);
		r->code = bad ? -1 : (int)ul;
		return bad ? -1 : 0;
	}
	if (tag != 'e') {
		free(text);
		return -1;
	}
	r->line = xrealloc(r->line, (r->nline + 1) * sizeof(*r->line));
	r->line[r->nline++] = text;
	return 0;
}

int
agent_decode_result(
    const char *p, size_t len, struct agent_result *r, char **errstr)
{
	memset(r, 0, sizeof(*r));
	r->code = -1;
	if (walk(p, len, 'R', result_field, r, errstr) < 0)
		return -1;
	if (r->code < 0) {
		*errstr = xstrdup("result without a code");
		return -1;
	}
	return 0;
}

void
agent_request_free(struct agent_request *rq)
{
	size_t i;

	free(rq->settings);
	free(rq->type);
	free(rq->body);
	free(rq->subject);
	free(rq->thread);
	free(rq->url);
	free(rq->id);
	for (i = 0; i < rq->nrcpt; i++)
		free(rq->rcpt[i]);
	free(rq->rcpt);
	memset(rq, 0, sizeof(*rq));
}

void
agent_result_free(struct agent_result *r)
{
	size_t i;

	for (i = 0; i < r->nline; i++)
		free(r->line[i]);
	free(r->line);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------------------
 * Which agent, and where
 */

/* A file name made absolute (the agent may run elsewhere); caller frees. */
static char *
absolute(const char *path)
{
	char *real = realpath(path, NULL);

	return real ? real : xstrdup(path);
}

static void
put_setting(struct buf *b, const char *key, const char *value, int file)
{
	char *abs = value && file ? absolute(value) : NULL;

	buf_printf(b, "%s=%s\n", key, abs ? abs : value ? value : "");
	free(abs);
}

char *
agent_settings(const struct xconfig *cfg)
{
	struct buf b;
	char num[32];

	buf_init(&b);
	buf_printf(&b, "version=%d\n", AGENT_VERSION);
	put_setting(&b, "jid", cfg->jid, 0);
	put_setting(&b, "host", cfg->host, 0);
	snprintf(num, sizeof(num), "%lu", cfg->port);
	put_setting(&b, "port", num, 0);
	put_setting(&b, "direct-tls", cfg->direct_tls ? "1" : "0", 0);
	put_setting(&b, "cafile", cfg->cafile, 1);
	put_setting(&b, "capath", cfg->capath, 1);
	put_setting(&b, "tls-pin", cfg->tls_pin, 0);
	put_setting(&b, "insecure", cfg->insecure ? "1" : "0", 0);
	put_setting(&b, "client-cert", cfg->client_cert, 1);
	put_setting(&b, "client-key", cfg->client_key, 1);
	put_setting(&b, "resource", cfg->resource, 0);
	snprintf(num, sizeof(num), "%lu", cfg->max_stanza);
	put_setting(&b, "max-stanza", num, 0);
	put_setting(&b, "omemo", cfg->omemo ? "1" : "0", 0);
	return buf_steal(&b);
}

void
agent_key(const char *settings, char out[17])
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)settings; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

int
agent_check_dir(const char *path, uid_t uid, char **errstr)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		*errstr = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		*errstr = xasprintf("%s: not a directory", path);
		return -1;
	}
	if (st.st_uid != uid) {
		*errstr = xasprintf("%s: owned by uid %lu, not %lu", path,
		    (unsigned long)st.st_uid, (unsigned long)uid);
		return -1;
	}
	if (st.st_mode & 077) {
		*errstr = xasprintf("%s: mode %04o; only its owner may have "
				    "access (0700)",
		    path, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

char *
agent_dir(char **errstr)
{
	const char *run = getenv("XDG_RUNTIME_DIR");
	char *dir;

	if (run && *run == '/')
		dir = xasprintf("%s/xmpptools", run);
	else
		dir = xasprintf("/tmp/xmpptools-%lu", (unsigned long)getuid());
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		*errstr = xasprintf("%s: %s", dir, strerror(errno));
		free(dir);
		return NULL;
	}
	if (agent_check_dir(dir, getuid(), errstr) < 0) {
		free(dir);
		return NULL;
	}
	return dir;
}

/* ------------------------------------------------------------------------
 * Socket helpers of both ends
 */

/* The peer of a connected Unix socket runs as our own uid. */
static int
same_user(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	    cred.uid == getuid();
}

/* Writes all of b[0..n) on a socket, by 'deadline' (ms, monotonic; 0 for
 * a non-blocking try).  Returns 0, -1 when the peer is gone, or -2 at the
 * deadline. */
static int
send_all(int fd, const char *b, size_t n, int64_t deadline)
{
	struct pollfd p = { fd, POLLOUT, 0 };
	ssize_t w;
	int64_t left;

	while (n > 0) {
		w = send(fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			b += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return -1;
		if (deadline == 0 || (left = deadline - util_now_ms()) <= 0)
			return -2;
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return -1;
	}
	return 0;
}

static void
socket_address(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path, sizeof(sa->sun_path), "%s", path);
}

/* ------------------------------------------------------------------------
 * The client side
 */

struct agent_client {
	const struct xconfig *cfg;
	char *settings;
	char *path; /* the socket */
	char *lock; /* its lock file */
	int lock_fd; /* held between AGENT_START and agent_start() */
};

struct agent_client *
agent_client_new(const struct xconfig *cfg)
{
	struct agent_client *c;
	struct sockaddr_un sa;
	char key[17], *dir, *err = NULL;

	if ((dir = agent_dir(&err)) == NULL) {
		xwarn("not using the agent: %s", err);
		free(err);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->cfg = cfg;
	c->lock_fd = -1;
	c->settings = agent_settings(cfg);
	agent_key(c->settings, key);
	c->path = xasprintf("%s/agent-%s", dir, key);
	c->lock = xasprintf("%s/agent-%s.lock", dir, key);
	free(dir);
	if (strlen(c->path) >= sizeof(sa.sun_path)) {
		xdebug(1, "not using the agent: %s: name too long", c->path);
		agent_client_free(c);
		return NULL;
	}
	return c;
}

void
agent_client_free(struct agent_client *c)
{
	if (c == NULL)
		return;
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	free(c->settings);
	free(c->path);
	free(c->lock);
	free(c);
}

/* A connection to the agent's socket, or -1 (errno set). */
static int
dial(const char *path)
{
	struct sockaddr_un sa;
	int fd, e;

	socket_address(&sa, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* Takes the lock file by 'deadline'.  Returns 0, or -1. */
static int
lock(struct agent_client *c, int64_t deadline)
{
	struct timespec nap = { 0, 2000000 };

	c->lock_fd =
	    open(c->lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (c->lock_fd < 0)
		return -1;
	while (flock(c->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		if ((errno != EWOULDBLOCK && errno != EINTR) ||
		    util_now_ms() >= deadline) {
			close(c->lock_fd);
			c->lock_fd = -1;
			return -1;
		}
		nanosleep(&nap, NULL);
	}
	return 0;
}

static void
unlock(struct agent_client *c)
{
	if (c->lock_fd < 0)
		return;
	flock(c->lock_fd, LOCK_UN);
	close(c->lock_fd);
	c->lock_fd = -1;
}

/* What a client has heard from the agent so far. */
struct heard {
	int accepted;
	int not_for_me;
	int answered;
	struct agent_result result;
};

/* Reads the agent's frames until its result, the end, or 'deadline'.
 * Returns 0 when the agent ended or answered, -1 at the deadline. */
static int
listen_agent(int fd, struct heard *h, int64_t deadline)
{
	struct pollfd p = { fd, POLLIN, 0 };
	struct buf in;
	char *err = NULL;
	long size;
	ssize_t n;
	int64_t left;

	buf_init(&in);
	while (!h->answered && !h->not_for_me) {
		while ((size = agent_frame_size(in.data, in.len)) > 0 &&
		    (size_t)size <= in.len) {
			switch (agent_decode_kind(in.data, (size_t)size)) {
			case 'A':
				h->accepted = 1;
				break;
			case 'R':
				h->answered =
				    agent_decode_result(in.data, (size_t)size,
					&h->result, &err) == 0;
				free(err);
				err = NULL;
				break;
			default:
				h->not_for_me = 1;
			}
			buf_consume(&in, (size_t)size);
		}
		if (h->answered || h->not_for_me || size < 0)
			break;
		if ((left = deadline - util_now_ms()) <= 0) {
			buf_free(&in);
			return -1;
		}
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		buf_reserve(&in, 4096);
		n = read(fd, in.data + in.len, 4096);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		in.len += (size_t)n;
	}
	buf_free(&in);
	return 0;
}

/* The exchange with an agent on 'fd' (closed here). */
static enum agent_way
talk(struct agent_client *c, int fd, const struct agent_request *rq,
    int64_t deadline, int *rc)
{
	struct agent_request q = *rq;
	struct heard h;
	struct buf out;
	size_t i;
	int late, sent;

	q.settings = c->settings;
	memset(&h, 0, sizeof(h));
	if (!same_user(fd)) {
		xwarn(
		    "not using the agent: %s belongs to another user", c->path);
		close(fd);
		return AGENT_DIRECT;
	}
	buf_init(&out);
	agent_encode_request(&out, &q);
	/* A peer gone while we write sent nothing: as if it had ended. */
	sent = send_all(fd, out.data, out.len, deadline);
	late = sent == -2 || (sent == 0 && listen_agent(fd, &h, deadline) < 0);
	buf_free(&out);
	close(fd);
	if (h.answered) {
		for (i = 0; i < h.result.nline; i++)
			xerror("%s", h.result.line[i]);
		*rc = h.result.code;
		agent_result_free(&h.result);
		xdebug(1, "sent through the agent %s", c->path);
		return AGENT_DONE;
	}
	if (h.not_for_me || (!h.accepted && !late)) {
		xdebug(1, "the agent %s %s; logging in directly", c->path,
		    h.not_for_me ? "is not for these settings" : "went away");
		return AGENT_DIRECT;
	}
	if (late && !h.accepted) {
		xerror("the agent %s did not answer in time", c->path);
		*rc = XEXIT_TIMEOUT;
	} else if (late) {
		for (i = 0; i < rq->nrcpt; i++)
			xerror("%s: the server did not confirm the message in "
			       "time",
			    rq->rcpt[i]);
		*rc = XEXIT_TIMEOUT;
	} else {
		xerror("the agent ended before the server confirmed the "
		       "message%s",
		    rq->nrcpt > 1 ? "s" : "");
		*rc = XEXIT_CONNECT;
	}
	return AGENT_DONE;
}

enum agent_way
agent_submit(struct agent_client *c, const struct agent_request *rq,
    long timeout_ms, int *rc)
{
	int64_t deadline = util_now_ms() + timeout_ms;
	int fd;

	if ((fd = dial(c->path)) >= 0)
		return talk(c, fd, rq, deadline, rc);
	if (errno != ENOENT && errno != ECONNREFUSED) {
		xdebug(1, "the agent %s: %s; logging in directly", c->path,
		    strerror(errno));
		return AGENT_DIRECT;
	}
	/* None runs: start one, unless another client just did. */
	if (lock(c, deadline) < 0) {
		xdebug(1, "%s: cannot take the lock; logging in directly",
		    c->lock);
		return AGENT_DIRECT;
	}
	if ((fd = dial(c->path)) >= 0) {
		unlock(c);
		return talk(c, fd, rq, deadline, rc);
	}
	return AGENT_START;
}

/* ------------------------------------------------------------------------
 * The agent
 */

struct conn;

struct agent {
	const struct xconfig *cfg;
	struct session *s;
	char *settings;
	char *path;
	dev_t dev; /* the socket file we bound, to remove only ours */
	ino_t ino;
	int listen_fd;
	int epoll_fd;
	long idle_ms;
	int64_t last_use;
	unsigned idle_timer;
	unsigned late_timer;
	int64_t waiting_since; /* oldest barrier not answered, or 0 */
	struct conn *conns;
	size_t nconns;
	int stopping;
	/* omemo = yes: the key store; one request prepares at a time */
	struct omemo *omemo;
	struct conn *preparing;
};

/* One client of the agent. */
struct conn {
	struct agent *a;
	struct conn *next;
	int fd; /* -1 once the client is gone */
	struct buf in;
	int accepted; /* 'A' sent: its messages are on the stream */
	char **id; /* the ids of its messages, for bounces */
	char **rcpt;
	size_t n;
	struct agent_result result;
	/* OMEMO: the request, kept until its recipients' devices are known */
	struct agent_request rq;
	char **bare;
	int waiting;
};

static void arm_idle(struct agent *a);

static void
conn_free(struct agent *a, struct conn *c)
{
	struct conn **p;
	size_t i;

	for (p = &a->conns; *p && *p != c; p = &(*p)->next)
		;
	if (*p)
		*p = c->next;
	a->nconns--;
	if (c->fd >= 0) {
		epoll_ctl(a->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	for (i = 0; i < c->n; i++) {
		free(c->id[i]);
		free(c->rcpt[i]);
	}
	free(c->id);
	free(c->rcpt);
	for (i = 0; c->bare && c->bare[i]; i++)
		free(c->bare[i]);
	free(c->bare);
	agent_request_free(&c->rq);
	buf_free(&c->in);
	agent_result_free(&c->result);
	free(c);
	a->last_use = util_now_ms();
	if (a->nconns == 0 && !a->stopping)
		arm_idle(a);
}

/* Sends a frame of 'kind' (or the result) to the client; -1 if it failed. */
static int
conn_say(struct conn *c, char kind)
{
	struct buf out;
	int r;

	if (c->fd < 0)
		return -1;
	buf_init(&out);
	if (kind == 'R')
		agent_encode_result(&out, &c->result);
	else
		agent_encode_kind(&out, kind);
	r = send_all(c->fd, out.data, out.len, util_now_ms() + 1000);
	buf_free(&out);
	return r;
}

static void
result_line(struct conn *c, char *line)
{
	struct agent_result *r = &c->result;

	r->line = xrealloc(r->line, (r->nline + 1) * sizeof(*r->line));
	r->line[r->nline++] = line;
}

/* Stops taking new clients: the socket goes first, so that none finds a
 * dying agent. */
static void
stop_listening(struct agent *a)
{
	struct stat st;

	if (a->listen_fd < 0)
		return;
	if (stat(a->path, &st) == 0 && st.st_dev == a->dev &&
	    st.st_ino == a->ino)
		unlink(a->path);
	epoll_ctl(a->epoll_fd, EPOLL_CTL_DEL, a->listen_fd, NULL);
	close(a->listen_fd);
	a->listen_fd = -1;
}

static void
on_idle(struct session *s, void *ud)
{
	struct agent *a = ud;

	a->idle_timer = 0;
	if (a->nconns > 0 || a->stopping)
		return; /* re-armed when the last client is gone */
	if (util_now_ms() - a->last_use < a->idle_ms) {
		arm_idle(a);
		return;
	}
	a->stopping = 1;
	stop_listening(a);
	session_set_input(s, -1, 0, NULL, NULL);
	session_close(s, XEXIT_OK);
}

static void
arm_idle(struct agent *a)
{
	int64_t left = a->last_use + a->idle_ms - util_now_ms();

	session_timer_cancel(a->s, a->idle_timer);
	a->idle_timer =
	    session_timer_add(a->s, left > 0 ? (long)left : 1, on_idle, a);
}

/* The server answered the barrier behind a client's messages. */
static void
on_confirmed(struct session *s, void *ud)
{
	struct conn *c = ud;
	struct agent *a = c->a;

	(void)s;
	if (c->result.nline == 0)
		c->result.code = XEXIT_OK;
	conn_say(c, 'R');
	conn_free(a, c);
	a->waiting_since = util_now_ms();
}

/* No answer to a barrier for --timeout: the connection is dead. */
static void
on_late(struct session *s, void *ud)
{
	struct agent *a = ud;
	struct conn *c;
	int64_t since = 0;
	char t[32];

	a->late_timer = 0;
	for (c = a->conns; c; c = c->next)
		if (c->accepted)
			since = a->waiting_since;
	if (since == 0)
		return;
	if (util_now_ms() - since < config_timeout_ms(a->cfg)) {
		a->late_timer = session_timer_add(s,
		    (long)(since + config_timeout_ms(a->cfg) - util_now_ms()),
		    on_late, a);
		return;
	}
	session_reconnect_now(s, "%s: no answer from the server for %s s",
	    session_target(s),
	    util_seconds(config_timeout_ms(a->cfg), t, sizeof(t)));
}

/* The checks of a request the client made too: a bad one never reaches
 * the stream. */
static int
request_ok(const struct agent *a, const struct agent_request *rq)
{
	const char *texts[] = { rq->type, rq->body, rq->subject, rq->thread,
		rq->url, rq->id };
	const char *why;
	struct jid j;
	size_t i, off;
	uint32_t cp;

	if (strcmp(rq->type, "chat") != 0 && strcmp(rq->type, "normal") != 0 &&
	    strcmp(rq->type, "headline") != 0)
		return 0;
	if (a->omemo && (rq->subject || rq->url))
		return 0; /* they would go unencrypted */
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (texts[i] &&
		    text_check_xml(texts[i], strlen(texts[i]), &off, &cp) !=
			TEXT_OK)
			return 0;
	for (i = 0; i < rq->nrcpt; i++) {
		if (jid_parse(rq->rcpt[i], &j, &why) < 0)
			return 0;
		jid_free(&j);
	}
	return 1;
}

/*
 * omemo = yes: 'msg' gets 'body' encrypted for the devices of 'bare' and
 * the account's other ones.  Returns 0, or -1 with the line and the code
 * in the client's result.
 */
static int
seal(struct conn *c, xmpp_stanza_t *msg, const char *body, const char *bare)
{
	const char *bound = session_bound_jid(c->a->s);
	char *self = bound ? jid_bare_of(bound) : NULL, *err = NULL;
	int rc;

	rc = omemo_pep_seal_body(c->a->omemo, msg, body, bare, self, &err);
	if (rc != XEXIT_OK) {
		c->result.code = rc;
		result_line(c, xasprintf("%s; nothing sent", err));
	}
	free(err);
	free(self);
	return rc == XEXIT_OK ? 0 : -1;
}

/* Sends the messages of an accepted request, then its barrier; with
 * OMEMO, all are encrypted before any is sent. */
static void
send_request(struct conn *c, const struct agent_request *rq)
{
	struct agent *a = c->a;
	struct msg_spec m;
	xmpp_stanza_t **st;
	size_t i;

	memset(&m, 0, sizeof(m));
	m.type = rq->type;
	m.body = *rq->body ? rq->body : rq->url;
	m.subject = rq->subject;
	m.thread = rq->thread;
	m.url = rq->url;
	m.no_store = rq->no_store;
	if (a->omemo)
		m.body = NULL; /* only the fallback text goes in clear */
	c->id = xcalloc(rq->nrcpt, sizeof(*c->id));
	c->rcpt = xcalloc(rq->nrcpt, sizeof(*c->rcpt));
	st = xcalloc(rq->nrcpt, sizeof(*st));
	for (i = 0; i < rq->nrcpt; i++) {
		c->id[i] = rq->id && rq->nrcpt == 1 ? xstrdup(rq->id)
		    : rq->id ? xasprintf("%s-%zu", rq->id, i + 1)
			     : session_new_id(a->s);
		c->rcpt[i] = xstrdup(rq->rcpt[i]);
		c->n++;
		m.to = rq->rcpt[i];
		m.id = c->id[i];
		st[i] = stanza_message(session_ctx(a->s), &m);
		if (a->omemo && seal(c, st[i], rq->body, c->bare[i]) < 0) {
			while (i + 1 > 0)
				xmpp_stanza_release(st[i--]);
			free(st);
			conn_say(c, 'R');
			conn_free(a, c);
			return;
		}
	}
	for (i = 0; i < rq->nrcpt; i++) {
		session_send(a->s, st[i]);
		xmpp_stanza_release(st[i]);
	}
	free(st);
	if (a->late_timer == 0) {
		a->waiting_since = util_now_ms();
		a->late_timer = session_timer_add(
		    a->s, config_timeout_ms(a->cfg), on_late, a);
	}
	session_barrier(a->s, on_confirmed, c);
}

static void next_prepare(struct agent *a);

/* The devices of a request's recipients are known, or why not. */
static void
on_prepared(struct session *s, int code, const char *why, void *ud)
{
	struct conn *c = ud;
	struct agent *a = c->a;

	(void)s;
	a->preparing = NULL;
	c->waiting = 0;
	if (code != XEXIT_OK) {
		c->result.code = code;
		result_line(c, xstrdup(why));
		conn_say(c, 'R');
		conn_free(a, c);
	} else
		send_request(c, &c->rq);
	next_prepare(a);
}

/* OMEMO: the oldest waiting request gets its recipients' devices read
 * (omemo_pep_prepare() does one at a time); again after a reconnection. */
static void
prepare(struct agent *a, struct conn *c)
{
	size_t i;

	a->preparing = c;
	if (c->bare == NULL) {
		c->bare = xcalloc(c->rq.nrcpt + 1, sizeof(*c->bare));
		for (i = 0; i < c->rq.nrcpt; i++)
			c->bare[i] = jid_bare_of(c->rq.rcpt[i]);
	}
	omemo_pep_prepare(a->s, a->omemo, (const char *const *)c->bare,
	    c->rq.nrcpt, on_prepared, c);
}

static void
next_prepare(struct agent *a)
{
	struct conn *c, *first = NULL;

	if (a->preparing || !session_online(a->s))
		return;
	for (c = a->conns; c; c = c->next)
		if (c->waiting)
			first = c; /* the list is newest first */
	if (first)
		prepare(a, first);
}

/* A whole request arrived: answer 'N', or accept and send it. */
static void
handle_request(struct conn *c, size_t size)
{
	struct agent *a = c->a;
	struct agent_request rq;
	char *err = NULL;

	if (agent_decode_kind(c->in.data, size) != 'Q') {
		conn_say(c, 'N');
		conn_free(a, c);
		return;
	}
	if (agent_decode_request(c->in.data, size, &rq, &err) < 0 ||
	    strcmp(rq.settings, a->settings) != 0 || !request_ok(a, &rq)) {
		if (err == NULL)
			conn_say(c, 'N');
		free(err);
		agent_request_free(&rq);
		conn_free(a, c);
		return;
	}
	a->idle_ms = rq.idle_ms;
	if (conn_say(c, 'A') < 0) {
		agent_request_free(&rq);
		conn_free(a, c);
		return;
	}
	c->accepted = 1;
	epoll_ctl(a->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	if (a->omemo) {
		/* Sent once its recipients' devices are known. */
		c->rq = rq;
		c->waiting = 1;
		next_prepare(a);
		return;
	}
	send_request(c, &rq);
	agent_request_free(&rq);
}

/* Reads what a client sent; handles its request once whole. */
static void
conn_read(struct conn *c)
{
	long size;
	ssize_t n;

	buf_reserve(&c->in, 65536);
	n = read(c->fd, c->in.data + c->in.len, 65536);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_free(c->a, c);
		return;
	}
	c->in.len += (size_t)n;
	size = agent_frame_size(c->in.data, c->in.len);
	if (size < 0)
		conn_free(c->a, c);
	else if (size > 0 && (size_t)size <= c->in.len)
		handle_request(c, (size_t)size);
}

static void
accept_clients(struct agent *a)
{
	struct epoll_event ev;
	struct conn *c;
	int fd;

	while ((fd = accept4(a->listen_fd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (!same_user(fd)) {
			close(fd);
			continue;
		}
		c = xcalloc(1, sizeof(*c));
		c->a = a;
		c->fd = fd;
		buf_init(&c->in);
		c->result.code = XEXIT_REJECTED;
		c->next = a->conns;
		a->conns = c;
		a->nconns++;
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
	}
}

/* The epoll descriptor is the session's one input: whatever is ready. */
static int
on_input(struct session *s, int fd, void *ud)
{
	struct agent *a = ud;
	struct epoll_event ev[32];
	int n, i;

	(void)s;
	n = epoll_wait(fd, ev, 32, 0);
	for (i = 0; i < n; i++) {
		if (ev[i].data.ptr == a)
			accept_clients(a);
		else
			conn_read(ev[i].data.ptr);
	}
	return 0;
}

static void
on_online(struct session *s, void *ud)
{
	struct agent *a = ud;

	session_set_input(s, a->epoll_fd, 64, on_input, a);
	a->last_use = util_now_ms();
	arm_idle(a);
	if (a->preparing) /* its requests went with the lost stream */
		prepare(a, a->preparing);
	else
		next_prepare(a);
}

/* A bounce of one of the messages: the line a direct run prints. */
static int
on_message(struct session *s, xmpp_stanza_t *st, void *ud)
{
	struct agent *a = ud;
	const char *id = xmpp_stanza_get_id(st);
	char *cond, *text, *shown;
	struct conn *c;
	size_t i;

	(void)s;
	for (c = a->conns; id && c; c = c->next)
		for (i = 0; i < c->n; i++) {
			if (strcmp(c->id[i], id) != 0)
				continue;
			stanza_error_info(st, &cond, &text);
			shown =
			    text ? text_escape_dup(text, strlen(text)) : NULL;
			result_line(c,
			    xasprintf("%s: %s%s%s", c->rcpt[i], cond,
				shown ? ": " : "", shown ? shown : ""));
			free(cond);
			free(text);
			free(shown);
			c->result.code = XEXIT_REJECTED;
			return 1;
		}
	return 1;
}

/* After the session ended: every client still here gets its due. */
static void
settle_all(struct agent *a, int code)
{
	const char *why = session_error(a->s);

	a->stopping = 1;
	stop_listening(a);
	omemo_pep_release(); /* no preparation reports any more */
	a->preparing = NULL;
	while (a->conns) {
		struct conn *c = a->conns;

		if (c->accepted || c->waiting) {
			agent_result_free(&c->result);
			c->result.code =
			    code == XEXIT_OK ? XEXIT_CONNECT : code;
			result_line(c,
			    xstrdup(why ? why
					: "the agent's session ended before "
					  "the server confirmed the message"));
			conn_say(c, 'R');
		}
		conn_free(a, c);
	}
}

/* omemo = yes: the agent's own handle on the account's key store. */
static int
open_omemo(struct agent *a, char **errstr)
{
	a->omemo = omemo_pep_open(a->cfg->jid, errstr);
	return a->omemo ? 0 : -1;
}

/* The agent's life: log in, serve, stop.  Returns its exit code. */
static int
serve(struct agent *a, const char *password)
{
	struct epoll_event ev;
	char *err = NULL;
	int code;

	if ((a->epoll_fd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return XEXIT_FAILURE;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = a;
	epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, a->listen_fd, &ev);
	if ((a->s = session_new(a->cfg, password, &err)) == NULL ||
	    (a->cfg->omemo && open_omemo(a, &err) < 0)) {
		free(err);
		session_free(a->s);
		stop_listening(a);
		close(a->epoll_fd);
		return XEXIT_CONFIG;
	}
	session_catch_signals(a->s, XEXIT_OK);
	session_add_handler(a->s, "message", "error", NULL, on_message, a);
	session_on_connect(a->s, on_online, a);
	code = session_run(a->s);
	settle_all(a, code);
	session_free(a->s);
	omemo_close(a->omemo);
	close(a->epoll_fd);
	return code;
}

/* The new agent process: detached from the client's terminal, session
 * and descriptors.  Returns the listening socket 'fd', moved to 3. */
static int
detach(int fd)
{
	int null;

	setsid();
	signal(SIGHUP, SIG_IGN);
	if ((null = open("/dev/null", O_RDWR)) >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO && null != fd)
			close(null);
	}
	if (fd != STDERR_FILENO + 1) {
		dup3(fd, STDERR_FILENO + 1, O_CLOEXEC);
		fd = STDERR_FILENO + 1;
	}
	close_range(STDERR_FILENO + 2, ~0U, 0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (chdir("/") < 0)
		xdebug(1, "chdir /: %s", strerror(errno));
	return fd;
}

/* Binds and listens on the socket path (a stale socket file is replaced).
 * Returns the descriptor, or -1. */
static int
bind_socket(struct agent_client *c, struct stat *st)
{
	struct sockaddr_un sa;
	mode_t old;
	int fd, r;

	socket_address(&sa, c->path);
	if ((fd = socket(
		 AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return -1;
	if (fd <= STDERR_FILENO) {
		/* Standard descriptors were closed: keep clear of them. */
		r = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
		close(fd);
		if ((fd = r) < 0)
			return -1;
	}
	unlink(c->path);
	old = umask(077);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, SOMAXCONN) < 0 || stat(c->path, st) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

enum agent_way
agent_start(struct agent_client *c, const char *password,
    const struct agent_request *rq, long timeout_ms, int *rc, int *is_agent)
{
	int64_t deadline = util_now_ms() + timeout_ms;
	struct agent a;
	struct stat st;
	pid_t pid;
	int fd;

	*is_agent = 0;
	if ((fd = bind_socket(c, &st)) < 0) {
		xdebug(
		    1, "%s: %s; logging in directly", c->path, strerror(errno));
		unlock(c);
		return AGENT_DIRECT;
	}
	if ((pid = fork()) < 0) {
		close(fd);
		unlink(c->path);
		unlock(c);
		return AGENT_DIRECT;
	}
	if (pid == 0) {
		*is_agent = 1;
		c->lock_fd =
		    -1; /* closed by detach(); the client releases it */
		fd = detach(fd);
		memset(&a, 0, sizeof(a));
		a.cfg = c->cfg;
		a.settings = c->settings;
		a.path = c->path;
		a.dev = st.st_dev;
		a.ino = st.st_ino;
		a.listen_fd = fd;
		a.idle_ms = rq->idle_ms;
		*rc = serve(&a, password);
		return AGENT_DONE;
	}
	close(fd);
	unlock(c);
	xdebug(1, "started the agent %s (pid %ld)", c->path, (long)pid);
	if ((fd = dial(c->path)) < 0)
		return AGENT_DIRECT;
	return talk(c, fd, rq, deadline, rc);
}
