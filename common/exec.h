/* SPDX-License-Identifier: MIT */
/* exec.h -- the --exec engine: a queue of messages, one command each */

#ifndef XMPPTOOLS_EXEC_H
#define XMPPTOOLS_EXEC_H

#include <stddef.h>
#include <stdint.h>

/*
 * The engine runs one command (an argv, never a shell) per queued message,
 * one at a time and in the order they were queued.  The command gets the
 * body on its standard input, the fields of the message in XMPP_*
 * environment variables, and no open descriptor but 0, 1 and 2: every
 * descriptor the engine opens is close-on-exec, and the child closes the
 * rest before exec().
 *
 * It never calls exit() and never writes standard output; a command that
 * fails, is killed or cannot run is reported on stderr with xwarn().
 * It knows nothing of the XMPP session: the tool polls the running command
 * from a timer of its event loop and decides what a finished job means.
 *
 * Who calls what:
 *   exec_split(), exec_argv_free()   option parsing (pure functions)
 *   exec_new(), exec_set_limits(),   the tool, once each
 *   exec_free()
 *   exec_full(), exec_job_size(),    the event loop: stanza callbacks (the
 *   exec_queue(), exec_start(),      tool takes no message that does not
 *   exec_reap(), exec_pending(),     fit) and the timer that polls the
 *   exec_running(), exec_bytes()     command
 *   exec_abandon()                   the signal path (start no more)
 *   exec_drain()                     after the event loop has returned
 *   exec_close_fds()                 any child between fork() and exec()
 *
 * Memory: the engine owns its argv, the jobs and their copies of the
 * fields; the data given with a job is the engine's from exec_queue() on
 * and goes back to the tool only as a borrowed pointer in 'done'.
 */

/*
 * exec_split()
 *
 * Splits 'cmd' into words as a shell would, without running one: blanks
 * (space, tab) separate words, '...' and "..." quote, and a backslash
 * outside single quotes takes the next character literally ('' and ""
 * make an empty word).  Returns a NULL-terminated vector owned by the
 * caller (exec_argv_free()), with no word (argv[0] == NULL) when 'cmd' is
 * blank, or NULL when a quote is not closed.
 */
char **exec_split(const char *cmd);

/* Frees a vector from exec_split().  NULL is a no-op. */
void exec_argv_free(char **argv);

/*
 * exec_close_fds()
 *
 * Closes every descriptor from 'lowfd' up.  For a child between fork()
 * and exec(): what the process inherited or opened (the password's
 * descriptor, the XMPP socket) must not reach the command it runs.
 */
void exec_close_fds(int lowfd);

/* The fields of one message (all borrowed; NULL is an empty value). */
struct exec_fields {
	const char *from;
	const char *to;
	const char *type;
	const char *id;
	const char *subject;
	const char *thread;
	const char *time;
	const char *body;
};

/*
 * The end of one job: 'ok' is 1 when the command exited with status 0,
 * else 0 (it failed, was killed, could not run, or the body could not be
 * handed over).  'data' is what exec_queue() was given; the engine frees
 * it with 'free_data' after the call.
 */
typedef void (*exec_done_cb)(int ok, void *data, void *ud);

struct exec;

/*
 * exec_new()
 *
 * Creates an engine that runs 'argv' (a vector from exec_split() with at
 * least one word; taken over).  'done' is called once per job as it ends;
 * 'free_data' (may be NULL) frees the data of each job.  Returns the
 * engine (never NULL).
 */
struct exec *
exec_new(char **argv, exec_done_cb done, void (*free_data)(void *), void *ud);

/*
 * exec_free()
 *
 * Frees the engine and the jobs still queued (their data with
 * 'free_data', without calling 'done').  A command still running is not
 * waited for.  NULL is a no-op.
 */
void exec_free(struct exec *e);

/* The program the engine runs (argv[0]), borrowed, for messages. */
const char *exec_program(const struct exec *e);

/*
 * The queue holds at most this many jobs (the running one included), and
 * at most this many bytes of bodies and fields, unless it holds a single
 * job: the tool takes no more messages beyond that (exec_full()).
 */
#define EXEC_MAX_JOBS 100
#define EXEC_MAX_BYTES (8UL * 1024 * 1024)

/* Sets other limits than EXEC_MAX_JOBS and EXEC_MAX_BYTES. */
void exec_set_limits(struct exec *e, size_t max_jobs, size_t max_bytes);

/* The bytes a job for the message 'f' would hold in the queue. */
size_t exec_job_size(const struct exec_fields *f);

/*
 * exec_full()
 *
 * True when a job of 'size' bytes (exec_job_size()) would take the queue
 * past one of its limits.  An empty queue always takes a job.
 */
int exec_full(const struct exec *e, size_t size);

/* The bytes the queued jobs hold. */
size_t exec_bytes(const struct exec *e);

/*
 * exec_queue()
 *
 * Appends a job for the message 'f' (copied) with the caller's 'data'
 * (taken over).  Nothing starts: call exec_start().
 */
void exec_queue(struct exec *e, const struct exec_fields *f, void *data);

/*
 * exec_start()
 *
 * Starts the job at the head of the queue when no command runs and the
 * engine was not abandoned.  A job whose body cannot be handed over ends
 * at once ('done' with ok 0) and the next one is tried.  Returns 1 when a
 * command runs afterwards, else 0 (queue empty, abandoned, or fork()
 * failed: the job stays queued for a later call).
 */
int exec_start(struct exec *e);

/*
 * exec_reap()
 *
 * Checks, without waiting, whether the running command has ended; if so
 * reports it, removes its job and calls 'done'.  Does not start the next
 * one.  Returns 1 when a job ended, 0 when the command still runs or none
 * runs.
 */
int exec_reap(struct exec *e);

/* True while a command runs. */
int exec_running(const struct exec *e);

/* Jobs taken and not ended: the queued ones and the running one. */
size_t exec_pending(const struct exec *e);

/* Jobs ended (with any outcome) since exec_new(). */
unsigned long exec_ended(const struct exec *e);

/*
 * exec_abandon()
 *
 * Starts no more commands (the running one may end).  Warns, once, how
 * many jobs are left when there are any, and returns that number.
 */
size_t exec_abandon(struct exec *e);

/*
 * exec_drain()
 *
 * After the event loop: runs the jobs left, one after the other, waiting
 * for each.  A signal that interrupts the wait abandons the rest (the
 * running command may end).  When 'deadline_ms' is not 0 (util_now_ms()
 * time), a command still running then is killed (SIGKILL, reported, its
 * job ends with ok 0) and the rest is abandoned.  When the drain stops
 * with jobs left, warns how many (unless exec_abandon() already did).
 * Returns the number of jobs left.
 */
size_t exec_drain(struct exec *e, int64_t deadline_ms);

#endif
