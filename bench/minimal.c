/* SPDX-License-Identifier: MIT */
/*
 * minimal.c -- the least a libstrophe client does to send one message the
 * way xsend does: log in over STARTTLS (required; the server certificate
 * verified against CAFILE on top of the system CAs; stream management off
 * and TCP_NODELAY on, as in xsend: with Nagle's algorithm on, delayed ACKs
 * add tens of milliseconds to a login on loopback), send one chat message, send
 * a ping (XEP-0199) and wait for its answer as the proof the server has the
 * message, close the stream.
 *
 * It is the floor bench/oneshot.sh compares xsend with: no options, no
 * config file, no checks of its input, no messages. `make bench` builds it
 * (bench/minimal in the build tree); it is not installed.
 *
 * Usage: minimal HOST PORT CAFILE JID PASSWORD-FILE TO BODY-FILE
 * The password is the first line of PASSWORD-FILE; the body is the whole
 * of BODY-FILE (at most 64 KiB). Exit status: 0 once the ping was answered
 * and the stream closed, 1 on any failure, 2 on a usage error.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <strophe.h>

#define MINIMAL_MAX_BODY 65536
#define MINIMAL_TIMEOUT_MS 30000
#define MINIMAL_PING_ID "minimal-ping"

struct minimal {
	const char *to;
	const char *body;
	int confirmed; /* the ping was answered */
};

/*
 * read_file: the contents of PATH (at most MAX - 1 bytes), NUL-terminated,
 * in a buffer the caller frees; with FIRST_LINE, only up to the first
 * newline. NULL when it cannot be read.
 */
static char *
read_file(const char *path, size_t max, int first_line)
{
	FILE *f;
	char *buf;
	size_t n;

	f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	buf = malloc(max);
	if (buf == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, max - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (first_line)
		buf[strcspn(buf, "\r\n")] = '\0';
	return buf;
}

static int
on_pong(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *userdata)
{
	struct minimal *m = userdata;
	const char *type = xmpp_stanza_get_type(stanza);

	m->confirmed = type != NULL && strcmp(type, "result") == 0;
	xmpp_disconnect(conn);
	return 0;
}

/* send_message_and_ping: the message to M->to, then the ping. */
static void
send_message_and_ping(xmpp_conn_t *conn, xmpp_ctx_t *ctx, struct minimal *m)
{
	xmpp_stanza_t *msg, *iq, *ping;

	msg = xmpp_message_new(ctx, "chat", m->to, NULL);
	xmpp_message_set_body(msg, m->body);
	xmpp_send(conn, msg);
	xmpp_stanza_release(msg);

	iq = xmpp_iq_new(ctx, "get", MINIMAL_PING_ID);
	ping = xmpp_stanza_new(ctx);
	xmpp_stanza_set_name(ping, "ping");
	xmpp_stanza_set_ns(ping, "urn:xmpp:ping");
	xmpp_stanza_add_child_ex(iq, ping, 0); /* iq owns ping now */
	xmpp_id_handler_add(conn, on_pong, MINIMAL_PING_ID, m);
	xmpp_send(conn, iq);
	xmpp_stanza_release(iq);
}

static void
on_conn(xmpp_conn_t *conn, xmpp_conn_event_t status, int error,
    xmpp_stream_error_t *stream_error, void *userdata)
{
	xmpp_ctx_t *ctx = xmpp_conn_get_context(conn);

	(void)error;
	(void)stream_error;
	if (status == XMPP_CONN_CONNECT)
		send_message_and_ping(conn, ctx, userdata);
	else
		xmpp_stop(ctx);
}

static int
on_socket(xmpp_conn_t *conn, void *sockp)
{
	int one = 1;

	(void)conn;
	setsockopt(*(int *)sockp, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

static int
on_timeout(xmpp_ctx_t *ctx, void *userdata)
{
	(void)userdata;
	xmpp_stop(ctx);
	return 0;
}

/* run: one connection with the settings of argv; 0 when confirmed. */
static int
run(char **argv, const char *password, struct minimal *m)
{
	xmpp_ctx_t *ctx;
	xmpp_conn_t *conn;
	int rc = 1;

	ctx = xmpp_ctx_new(NULL, NULL);
	conn = xmpp_conn_new(ctx);
	xmpp_conn_set_flags(
	    conn, XMPP_CONN_FLAG_MANDATORY_TLS | XMPP_CONN_FLAG_DISABLE_SM);
	xmpp_conn_set_sockopt_callback(conn, on_socket);
	xmpp_conn_set_cafile(conn, argv[3]);
	xmpp_conn_set_jid(conn, argv[4]);
	xmpp_conn_set_pass(conn, password);
	xmpp_global_timed_handler_add(ctx, on_timeout, MINIMAL_TIMEOUT_MS, m);
	if (xmpp_connect_client(conn, argv[1],
		(unsigned short)strtoul(argv[2], NULL, 10), on_conn,
		m) == XMPP_EOK) {
		xmpp_run(ctx);
		rc = m->confirmed ? 0 : 1;
	}
	xmpp_conn_release(conn);
	xmpp_ctx_free(ctx);
	return rc;
}

int
main(int argc, char **argv)
{
	struct minimal m = { 0 };
	char *password, *body;
	int rc = 1;

	if (argc != 8) {
		fprintf(stderr,
		    "usage: minimal HOST PORT CAFILE JID PASSWORD-FILE TO "
		    "BODY-FILE\n");
		return 2;
	}
	password = read_file(argv[5], 1024, 1);
	body = read_file(argv[7], MINIMAL_MAX_BODY, 0);
	if (password != NULL && body != NULL) {
		m.to = argv[6];
		m.body = body;
		xmpp_initialize();
		rc = run(argv, password, &m);
		xmpp_shutdown();
	} else {
		perror("minimal");
	}
	free(password);
	free(body);
	return rc;
}
