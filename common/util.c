/* SPDX-License-Identifier: MIT */
/* util.c -- memory, diagnostics, numbers, clocks and byte buffers */

#include <sys/time.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "text.h"
#include "util.h"
#include "xmpptools.h"

static const char *progname = "xmpptools";
static int verbosity;
static int quietness;

static void
oom(size_t n)
{
	fprintf(stderr, "%s: out of memory (%zu bytes)\n", progname, n);
	exit(XEXIT_FAILURE);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom(n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom(n * size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom(n);
	return q;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		oom(strlen(fmt));
	va_end(ap);
	return s;
}

void
util_set_progname(const char *name)
{
	const char *slash = strrchr(name, '/');

	progname = slash ? slash + 1 : name;
}

const char *
util_progname(void)
{
	return progname;
}

void
util_set_verbosity(int level, int quiet)
{
	verbosity = level;
	quietness = quiet;
}

int
util_verbosity(void)
{
	return verbosity;
}

/*
 * Appends the message 'msg' to 'b' with every character that could command
 * a terminal or forge a line escaped as text_escape() writes it: controls,
 * DEL, bytes that are not UTF-8, the code points of text_is_unsafe_cp().
 * Text its caller escaped holds none of them and is left as it is; this
 * catches what was not (a file name, an argument, a value).
 */
static void
terminal_text(struct buf *b, const char *msg)
{
	size_t len = strlen(msg), i = 0, at;
	uint32_t cp;

	while (i < len) {
		at = i;
		if (text_utf8_next(msg, len, &i, &cp) < 0 || cp < 0x20 ||
		    cp == 0x7f || text_is_unsafe_cp(cp))
			text_escape(b, msg + at, i - at);
		else
			buf_add(b, msg + at, i - at);
	}
}

void
xvmessage(const char *prefix, const char *fmt, va_list ap)
{
	char line[4096];
	struct buf b;
	size_t n;

	/* One write per line, so lines from several processes do not mix. */
	vsnprintf(line, sizeof(line), fmt, ap);
	buf_init(&b);
	buf_printf(&b, "%s: %s", progname, prefix);
	terminal_text(&b, line);
	n = b.len < sizeof(line) - 1 ? b.len : sizeof(line) - 1;
	memcpy(line, b.data, n);
	line[n++] = '\n';
	buf_free(&b);
	fflush(stdout);
	(void)!write(STDERR_FILENO, line, n);
}

void
xerror(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	xvmessage("", fmt, ap);
	va_end(ap);
}

void
xwarn(const char *fmt, ...)
{
	va_list ap;

	if (quietness)
		return;
	va_start(ap, fmt);
	xvmessage("warning: ", fmt, ap);
	va_end(ap);
}

void
xnote(const char *fmt, ...)
{
	va_list ap;

	if (quietness)
		return;
	va_start(ap, fmt);
	xvmessage("", fmt, ap);
	va_end(ap);
}

void
xdebug(int level, const char *fmt, ...)
{
	va_list ap;

	if (verbosity < level)
		return;
	va_start(ap, fmt);
	xvmessage("", fmt, ap);
	va_end(ap);
}

int
util_parse_ulong(
    const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
util_parse_seconds(const char *s, long *ms)
{
	long whole = 0, frac = 0;
	int digits = 0, scale = 1000;
	const char *p = s;

	if (p == NULL || ((*p < '0' || *p > '9') && *p != '.'))
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		whole = whole * 10 + (*p - '0');
		if (whole > 86400)
			return -1;
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (++digits > 3)
				return -1;
			scale /= 10;
			frac += (*p - '0') * scale;
		}
		if (digits == 0 && p - s == 1)
			return -1;
	}
	if (*p != '\0' || whole * 1000 + frac > 86400000L)
		return -1;
	*ms = whole * 1000 + frac;
	return 0;
}

const char *
util_seconds(long ms, char *buf, size_t len)
{
	size_t n;

	snprintf(buf, len, "%ld.%03ld", ms / 1000, ms % 1000);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
	return buf;
}

int64_t
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The watchdog's message, built when it is armed (no work in the handler). */
static char watchdog_msg[512];
static volatile sig_atomic_t watchdog_len;
static const char *volatile watchdog_phase_text;

/* SIGALRM to its default: the watchdog is not armed. */
static void
watchdog_default(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
}

static void
watchdog_fire(int sig, siginfo_t *info, void *uc)
{
	const char *phase = watchdog_phase_text;

	(void)uc;
	if (info != NULL && info->si_code != SI_KERNEL) {
		/* Sent by someone (kill, not our timer): not a timeout.
		 * Die of it as a process without the watchdog would. */
		watchdog_default();
		raise(sig);
		return;
	}
	(void)!write(STDERR_FILENO, watchdog_msg, watchdog_len);
	if (phase != NULL) {
		(void)!write(STDERR_FILENO, " ", 1);
		(void)!write(STDERR_FILENO, phase, strlen(phase));
	}
	(void)!write(STDERR_FILENO, "\n", 1);
	_exit(XEXIT_TIMEOUT);
}

void
util_watchdog_arm(int64_t at_ms, const char *context, long timeout_ms)
{
	struct sigaction sa;
	struct itimerval it;
	int64_t left = at_ms - util_now_ms();
	int n;

	n = snprintf(watchdog_msg, sizeof(watchdog_msg),
	    "%s: %s: timed out after %ld.%03ld s", progname, context,
	    timeout_ms / 1000, timeout_ms % 1000);
	/* "5.000 s" reads better as "5 s". */
	if (n > 4 && (size_t)n < sizeof(watchdog_msg) &&
	    memcmp(watchdog_msg + n - 6, ".000 s", 6) == 0) {
		memmove(watchdog_msg + n - 6, " s", 3);
		n -= 4;
	}
	if (n < 0 || (size_t)n >= sizeof(watchdog_msg))
		n = sizeof(watchdog_msg) - 1;
	watchdog_len = n;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = watchdog_fire;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);

	if (left < 1)
		left = 1;
	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = left / 1000;
	it.it_value.tv_usec = (left % 1000) * 1000;
	setitimer(ITIMER_REAL, &it, NULL);
}

void
util_watchdog_phase(const char *phase)
{
	watchdog_phase_text = phase;
}

void
util_watchdog_disarm(void)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	watchdog_default();
	watchdog_phase_text = NULL;
}

void
buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void
buf_reserve(struct buf *b, size_t more)
{
	size_t need = b->len + more + 1;

	if (need <= b->cap)
		return;
	if (need < b->len)
		oom(SIZE_MAX);
	while (b->cap < need)
		b->cap = b->cap ? b->cap * 2 : 64;
	b->data = xrealloc(b->data, b->cap);
	/* 'data' is always a string, even when nothing is added after. */
	b->data[b->len] = '\0';
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_addc(struct buf *b, char c)
{
	buf_reserve(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_reserve(b, n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

char *
buf_steal(struct buf *b)
{
	char *p = b->data;

	if (p == NULL)
		p = xstrdup("");
	buf_init(b);
	return p;
}

int
util_read_all(int fd, struct buf *b, size_t max)
{
	ssize_t n;

	for (;;) {
		buf_reserve(b, 65536);
		n = read(fd, b->data + b->len, b->cap - b->len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			return 0;
		b->len += n;
		b->data[b->len] = '\0';
		if (b->len > max)
			return -2;
	}
}

void
util_secure_free(char *secret)
{
	if (secret == NULL)
		return;
	explicit_bzero(secret, strlen(secret));
	free(secret);
}
