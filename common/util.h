/* SPDX-License-Identifier: MIT */
/* util.h -- memory, diagnostics, numbers, clocks and byte buffers */

#ifndef XMPPTOOLS_UTIL_H
#define XMPPTOOLS_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Allocation wrappers.  They never return NULL: on exhaustion they print
 * one line and end the process with XEXIT_FAILURE (a tool, not a library).
 * Every result is owned by the caller and released with free().
 */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * util_set_progname()
 *
 * Remembers the program name used as the prefix of every diagnostic.  The
 * string is borrowed and must outlive the process (argv[0] or a literal).
 */
void util_set_progname(const char *name);
const char *util_progname(void);

/*
 * util_set_verbosity()
 *
 * 'level' is the number of -v given; 'quiet' silences warnings.  The final
 * error line of a failed run is never silenced.
 */
void util_set_verbosity(int level, int quiet);
int util_verbosity(void);

/*
 * Diagnostics on stderr, in err(3) style: "prog: message".  The format has
 * no trailing newline.  Text that came from the network, a file or the
 * command line should be escaped by the caller (text_escape()) before it
 * is passed here; as a last guard, every control character, DEL, byte
 * that is not UTF-8 and code point of text_is_unsafe_cp() left in the line
 * is written escaped the same way, so a diagnostic is always one line of
 * text that cannot command the terminal.
 *
 * xerror()  - the one line that explains a failure; never silenced.
 * xwarn()   - a warning; silenced by -q.
 * xnote()   - a notice about what was (not) done; silenced by -q.
 * xdebug()  - shown when the verbosity is at least 'level'.
 */
void xerror(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void xwarn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void xnote(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void
xdebug(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void xvmessage(const char *prefix, const char *fmt, va_list ap);

/*
 * util_parse_ulong()
 *
 * Parses a whole decimal number in [min, max].  Returns 0 and sets *out, or
 * -1 when 's' is empty, not a number, has trailing junk or is out of range.
 */
int util_parse_ulong(
    const char *s, unsigned long min, unsigned long max, unsigned long *out);

/*
 * util_parse_seconds()
 *
 * Parses a duration in seconds with up to three decimals ("5", "0.25") into
 * milliseconds.  Returns 0 and sets *ms, or -1 on a malformed or negative
 * value or one above a day.
 */
int util_parse_seconds(const char *s, long *ms);

/*
 * util_seconds()
 *
 * Writes a duration in milliseconds as seconds for messages: "2", "2.5",
 * "0.25".  Returns 'buf'.
 */
const char *util_seconds(long ms, char *buf, size_t len);

/* Milliseconds from a monotonic clock. */
int64_t util_now_ms(void);

/*
 * The watchdog is the hard deadline that holds while the process is stuck
 * inside a blocking call of the XMPP library (DNS lookup, TLS handshake).
 * util_watchdog_arm() schedules, at the monotonic time 'at_ms', the printing
 * of "prog: CONTEXT: timed out after N s[ PHASE]" and the end of the process
 * with XEXIT_TIMEOUT.  util_watchdog_phase() names the current step; it
 * takes a string literal.  util_watchdog_disarm() cancels the alarm.
 */
void util_watchdog_arm(int64_t at_ms, const char *context, long timeout_ms);
void util_watchdog_phase(const char *phase);
void util_watchdog_disarm(void);

/* A growable byte buffer; 'data' is always NUL-terminated when not NULL. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_reserve(struct buf *b, size_t more);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_addc(struct buf *b, char c);
void buf_adds(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Removes the first 'n' bytes. */
void buf_consume(struct buf *b, size_t n);
/* Hands the data over to the caller (who frees it) and empties 'b'. */
char *buf_steal(struct buf *b);

/*
 * util_read_all()
 *
 * Reads 'fd' to its end into 'b'.  Returns 0, or -1 with errno set on a
 * read error, or -2 when more than 'max' bytes arrive (the rest is not
 * read).
 */
int util_read_all(int fd, struct buf *b, size_t max);

/*
 * util_secure_free()
 *
 * Overwrites a NUL-terminated secret before freeing it.  NULL is a no-op.
 */
void util_secure_free(char *secret);

#endif
