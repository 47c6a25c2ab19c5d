/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * migdp control socket: a QMP-like JSON protocol over a Unix socket, served
 * by the control thread (single-threaded, non-blocking; no DPDK).
 *
 * Protocol (docs/control-socket.md has examples):
 * - SOCK_STREAM Unix socket, mode 0600 (owner only). At most
 *   MIGDP_CTL_MAX_CLIENTS clients; one more gets an error line and is closed.
 * - On connect the server writes one greeting line:
 *     {"migdp":{"version":"0.1.0","commands":["query-commands",...]}}
 * - Each request is one line of JSON (at most MIGDP_CTL_MAX_LINE bytes):
 *     {"execute":"NAME","arguments":{...},"id":ANY}
 *   "arguments" and "id" are optional.
 * - Each request gets exactly one reply line, in order:
 *     {"return":VALUE,"id":ID}
 *     {"error":{"class":CLASS,"desc":TEXT},"id":ID}
 *   "id" is echoed only when the request had one.
 * - Error classes: ParseError (not JSON; jansson's message and position),
 *   InvalidRequest (not an object, no string "execute", "arguments" not an
 *   object, line too long), CommandNotFound, GenericError (the command
 *   failed). The connection stays open, except after a line too long.
 * - Events, to clients that sent "subscribe", between replies:
 *     {"event":NAME,"data":{...},"timestamp":{"seconds":S,"microseconds":U}}
 * - Built-in commands: "query-commands" returns [{"name":..,"help":..}];
 *   "subscribe" with optional {"enable":false} starts (stops) events for this
 *   client. Built-ins take precedence over a table entry of the same name.
 * - A client that does not read its replies and has more than
 *   MIGDP_CTL_MAX_OUTPUT bytes unsent is disconnected.
 */
#ifndef MIGDP_CTLSOCK_H
#define MIGDP_CTLSOCK_H

#include <stddef.h>

#include <jansson.h>

#define MIGDP_CTL_MAX_CLIENTS 16
#define MIGDP_CTL_MAX_LINE (64 * 1024)		/* request bytes, newline excluded */
#define MIGDP_CTL_MAX_OUTPUT (1024 * 1024)	/* unsent bytes per client */

/**
 * Handler of one command.
 * @param arg the socket's @p arg from migdp_ctlsock_open().
 * @param args the request's "arguments" object (never NULL: {} when absent);
 *   borrowed.
 * @param err where to write a one-line message on failure.
 * @return a new reference to the "return" value (any JSON; {} for nothing),
 *   or NULL with @p err set (the reply is then a GenericError with it).
 */
typedef json_t *(*migdp_ctl_handler_t)(void *arg, json_t *args, char *err,
				       size_t errlen);

struct migdp_ctl_command {
	const char *name;
	migdp_ctl_handler_t fn;
	const char *help;	/* one line, for query-commands */
};

struct migdp_ctlsock;

/**
 * Listen on @p path. A stale socket file is replaced; a live one (a server
 * answers) is left alone (EADDRINUSE), and so is a path that is not a socket
 * (EEXIST). The parent directory must exist. The socket file is made 0600
 * before listen(), so nobody else can ever connect.
 * @param cmds kept by reference: must live as long as the socket.
 * @return the socket, or NULL with errno set.
 */
struct migdp_ctlsock *
migdp_ctlsock_open(const char *path, const struct migdp_ctl_command *cmds,
		   unsigned ncmds, void *arg);

/** The listening fd, for the caller's own poll(). */
int
migdp_ctlsock_fd(const struct migdp_ctlsock *s);

/**
 * Accept, read, dispatch and write, waiting at most @p timeout_ms for
 * something to do (0: not at all; negative: until something happens).
 * Never blocks on a slow client.
 * @return the number of requests answered, or -errno if poll() failed
 *   (EINTR counts as nothing done: 0).
 */
int
migdp_ctlsock_poll(struct migdp_ctlsock *s, int timeout_ms);

/**
 * Send an event to every subscribed client (written as far as the sockets
 * take it now; the rest by later polls).
 * @param data stolen; NULL sends {}.
 */
void
migdp_ctlsock_event(struct migdp_ctlsock *s, const char *name, json_t *data);

/** Clients connected now. */
unsigned
migdp_ctlsock_clients(const struct migdp_ctlsock *s);

/** Close every client and the socket, and remove the socket file. NULL is fine. */
void
migdp_ctlsock_close(struct migdp_ctlsock *s);

#endif
