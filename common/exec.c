/* SPDX-License-Identifier: MIT */
/* exec.c -- the --exec engine: a queue of messages, one command each */

#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"
#include "truststore.h"
#include "util.h"

#define NENV 7

/* A message waiting for its command, or the one whose command runs. */
struct job {
	struct job *next;
	size_t size; /* exec_job_size() */
	char *body;
	char *env[NENV + 1]; /* "XMPP_FROM=..." */
	void *data;
};

struct exec {
	char **argv;
	exec_done_cb done;
	void (*free_data)(void *);
	void *ud;
	struct job *head, *tail; /* the head is the running one */
	size_t pending;
	size_t bytes; /* held by the queued jobs */
	size_t max_jobs, max_bytes;
	unsigned long ended;
	pid_t child; /* 0: none runs */
	int abandoned;
	int warned; /* the "not handled" warning was given */
};

/* ------------------------------------------------------------------------
 * Splitting a command line into words
 */

static char **
push(char **argv, size_t *n, const char *s)
{
	argv = xrealloc(argv, (*n + 2) * sizeof(*argv));
	argv[(*n)++] = xstrdup(s);
	argv[*n] = NULL;
	return argv;
}

char **
exec_split(const char *cmd)
{
	struct buf w;
	char **argv = xcalloc(1, sizeof(*argv)), q = 0;
	size_t n = 0;
	int inword = 0;
	const char *p;

	buf_init(&w);
	for (p = cmd;; p++) {
		if (*p == '\0' || (!q && (*p == ' ' || *p == '\t'))) {
			if (q)
				break;
			if (inword) {
				argv = push(argv, &n, w.data ? w.data : "");
				buf_reset(&w);
				inword = 0;
			}
			if (*p == '\0') {
				buf_free(&w);
				return argv;
			}
			continue;
		}
		inword = 1;
		if (!q && (*p == '\'' || *p == '"'))
			q = *p;
		else if (q && *p == q)
			q = 0;
		else if (*p == '\\' && q != '\'' && p[1] != '\0')
			buf_addc(&w, *++p);
		else
			buf_addc(&w, *p);
	}
	buf_free(&w);
	exec_argv_free(argv);
	return NULL;
}

void
exec_argv_free(char **argv)
{
	size_t i;

	for (i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

/* ------------------------------------------------------------------------
 * The queue
 */

struct exec *
exec_new(char **argv, exec_done_cb done, void (*free_data)(void *), void *ud)
{
	struct exec *e = xcalloc(1, sizeof(*e));

	e->argv = argv;
	e->done = done;
	e->free_data = free_data;
	e->ud = ud;
	e->max_jobs = EXEC_MAX_JOBS;
	e->max_bytes = EXEC_MAX_BYTES;
	return e;
}

void
exec_set_limits(struct exec *e, size_t max_jobs, size_t max_bytes)
{
	e->max_jobs = max_jobs;
	e->max_bytes = max_bytes;
}

static void
free_job(struct exec *e, struct job *j)
{
	size_t i;

	for (i = 0; j->env[i]; i++)
		free(j->env[i]);
	free(j->body);
	if (e->free_data && j->data)
		e->free_data(j->data);
	free(j);
}

void
exec_free(struct exec *e)
{
	struct job *j;

	if (e == NULL)
		return;
	while ((j = e->head) != NULL) {
		e->head = j->next;
		free_job(e, j);
	}
	exec_argv_free(e->argv);
	free(e);
}

const char *
exec_program(const struct exec *e)
{
	return e->argv[0];
}

size_t
exec_job_size(const struct exec_fields *f)
{
	const char *v[NENV + 1] = { f->from, f->to, f->type, f->id, f->subject,
		f->thread, f->time, f->body };
	size_t i, n = sizeof(struct job);

	for (i = 0; i < NENV + 1; i++)
		n += (v[i] ? strlen(v[i]) : 0) + 16; /* name, '=' and NUL */
	return n;
}

int
exec_full(const struct exec *e, size_t size)
{
	if (e->pending == 0)
		return 0;
	return e->pending >= e->max_jobs || e->bytes + size > e->max_bytes;
}

size_t
exec_bytes(const struct exec *e)
{
	return e->bytes;
}

void
exec_queue(struct exec *e, const struct exec_fields *f, void *data)
{
	static const char *const names[NENV] = { "XMPP_FROM", "XMPP_TO",
		"XMPP_TYPE", "XMPP_ID", "XMPP_SUBJECT", "XMPP_THREAD",
		"XMPP_TIME" };
	const char *v[NENV] = { f->from, f->to, f->type, f->id, f->subject,
		f->thread, f->time };
	struct job *j = xcalloc(1, sizeof(*j));
	size_t i;

	for (i = 0; i < NENV; i++)
		j->env[i] = xasprintf("%s=%s", names[i], v[i] ? v[i] : "");
	j->body = xstrdup(f->body ? f->body : "");
	j->data = data;
	j->size = exec_job_size(f);
	e->bytes += j->size;
	if (e->tail)
		e->tail->next = j;
	else
		e->head = j;
	e->tail = j;
	e->pending++;
}

int
exec_running(const struct exec *e)
{
	return e->child != 0;
}

size_t
exec_pending(const struct exec *e)
{
	return e->pending;
}

unsigned long
exec_ended(const struct exec *e)
{
	return e->ended;
}

/* Removes the head job, reports its end and frees it. */
static void
end_job(struct exec *e, int ok)
{
	struct job *j = e->head;

	e->head = j->next;
	if (e->head == NULL)
		e->tail = NULL;
	e->pending--;
	e->bytes -= j->size;
	e->ended++;
	if (e->done)
		e->done(ok, j->data, e->ud);
	free_job(e, j);
}

/* ------------------------------------------------------------------------
 * Running the commands
 */

void
exec_close_fds(int lowfd)
{
	long fd, max;

	if (close_range((unsigned)lowfd, ~0U, 0) == 0)
		return;
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = lowfd; fd < max; fd++)
		close((int)fd);
}

/* Writes all of 'p' to 'fd'. */
static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The body goes through a file that has no name (no pipe to block on),
 * close-on-exec: only the command's standard input is a copy of it.
 * Returns the descriptor, at offset 0, or -1 with errno set.
 */
static int
body_file(const char *body)
{
	char path[] = "/tmp/xmpptools-body.XXXXXX";
	int fd, saved;

	fd = memfd_create("xmpptools-body", MFD_CLOEXEC);
	if (fd < 0 && (fd = mkostemp(path, O_CLOEXEC)) >= 0)
		unlink(path);
	if (fd < 0)
		return -1;
	if (write_all(fd, body, strlen(body)) < 0 ||
	    lseek(fd, 0, SEEK_SET) != 0) {
		saved = errno;
		close(fd);
		errno = saved ? saved : EIO;
		return -1;
	}
	return fd;
}

/* In the child: the body on stdin, nothing else open beyond stderr. */
static void
run_child(struct exec *e, struct job *j, int in)
{
	size_t i;

	if (in == STDIN_FILENO)
		fcntl(in, F_SETFD, 0); /* stdin was closed: keep this one */
	else
		dup2(in, STDIN_FILENO);
	exec_close_fds(STDERR_FILENO + 1);
	truststore_child_env(); /* the user's environment, plus the fields */
	for (i = 0; j->env[i]; i++)
		putenv(j->env[i]);
	signal(SIGPIPE, SIG_DFL);
	execvp(e->argv[0], e->argv);
	fprintf(stderr, "%s: warning: --exec: cannot run %s: %s\n",
	    util_progname(), e->argv[0], strerror(errno));
	_exit(127);
}

int
exec_start(struct exec *e)
{
	int in;

	while (e->head && e->child == 0 && !e->abandoned) {
		if ((in = body_file(e->head->body)) < 0) {
			xwarn("--exec: cannot store the message body: %s",
			    strerror(errno));
			end_job(e, 0);
			continue;
		}
		fflush(stdout);
		e->child = fork();
		if (e->child == 0)
			run_child(e, e->head, in);
		close(in);
		if (e->child < 0) {
			xwarn("--exec: cannot start %s: %s", e->argv[0],
			    strerror(errno));
			e->child = 0;
			return 0;
		}
	}
	return e->child != 0;
}

/* The running command ended with 'r' and 'status' from waitpid(). */
static void
child_ended(struct exec *e, pid_t r, int status)
{
	int ok = r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;

	e->child = 0;
	if (r > 0 && WIFSIGNALED(status))
		xwarn("--exec: %s killed by signal %d (message %lu)",
		    e->argv[0], WTERMSIG(status), e->ended + 1);
	else if (!ok)
		xwarn("--exec: %s exited with status %d (message %lu)",
		    e->argv[0], r > 0 ? WEXITSTATUS(status) : -1, e->ended + 1);
	end_job(e, ok);
}

int
exec_reap(struct exec *e)
{
	int status;
	pid_t r;

	if (e->child == 0)
		return 0;
	r = waitpid(e->child, &status, WNOHANG);
	if (r == 0 || (r < 0 && errno == EINTR))
		return 0;
	child_ended(e, r, status);
	return 1;
}

size_t
exec_abandon(struct exec *e)
{
	e->abandoned = 1;
	if (e->pending > 0 && !e->warned)
		xwarn("--exec: stopped with %zu messages not handled",
		    e->pending);
	e->warned = 1;
	return e->pending;
}

/*
 * Waits for the running command until 'deadline_ms' (0: no deadline),
 * then kills it.  Returns 1 when it ended (and its job with it), 0 when a
 * signal interrupted the wait.
 */
static int
wait_child(struct exec *e, int64_t deadline_ms)
{
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(e->child, &status, deadline_ms ? WNOHANG : 0);
		if (r < 0 && errno == EINTR)
			return 0;
		if (r != 0)
			break;
		if (util_now_ms() >= deadline_ms) {
			kill(e->child, SIGKILL);
			while (
			    waitpid(e->child, &status, 0) < 0 && errno == EINTR)
				;
			xwarn("--exec: %s still ran at the end of the timeout "
			      "and its grace: killed (message %lu)",
			    e->argv[0], e->ended + 1);
			e->child = 0;
			e->abandoned = 1;
			end_job(e, 0);
			return 1;
		}
		if (poll(NULL, 0, 10) < 0 && errno == EINTR)
			return 0;
	}
	child_ended(e, r, status);
	return 1;
}

size_t
exec_drain(struct exec *e, int64_t deadline_ms)
{
	int warned = e->abandoned;

	while (exec_start(e))
		if (!wait_child(e, deadline_ms))
			e->abandoned = 1; /* the one that runs may end */
	if (e->pending > 0 && !warned && !e->warned) {
		xwarn("--exec: stopped with %zu messages not handled",
		    e->pending);
		e->warned = 1;
	}
	return e->pending;
}
