/* SPDX-License-Identifier: BSD-3-Clause */
/* The control socket server (protocol in ctlsock.h): one listening socket
 * and a fixed table of clients, each with an input buffer of one line at
 * most and an output buffer of at most MIGDP_CTL_MAX_OUTPUT unsent bytes.
 * Everything is non-blocking and runs on the caller's (control) thread. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ctlsock.h"

#ifndef MIGDP_VERSION
#define MIGDP_VERSION "0.1.0"
#endif

/* Input: one line and its newline, plus a NUL. */
#define IN_CAP (MIGDP_CTL_MAX_LINE + 2)
/* Reads per client per poll, so that one busy client cannot starve others. */
#define READS_PER_POLL 8

struct ctl_client {
	int fd;			/* -1: free slot */
	bool subscribed;
	bool closing;		/* read nothing more; close once output is sent */
	char *in;		/* IN_CAP bytes */
	size_t in_len;
	char *out;
	size_t out_off, out_len, out_cap;
};

struct migdp_ctlsock {
	int fd;
	char path[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
	const struct migdp_ctl_command *cmds;
	unsigned ncmds;
	void *arg;
	struct ctl_client clients[MIGDP_CTL_MAX_CLIENTS];
};

static const struct {
	const char *name;
	const char *help;
} builtins[] = {
	{"query-commands", "list the commands with a line of help each"},
	{"subscribe", "receive events on this connection ({\"enable\":false} stops)"},
};
#define NBUILTINS (sizeof(builtins) / sizeof(builtins[0]))

/* Output */

static void
client_drop(struct ctl_client *c)
{
	if (c->fd < 0)
		return;
	close(c->fd);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Send what the socket takes now. Drops the client on a write error, and a
 * closing client once everything is sent. */
static void
client_flush(struct ctl_client *c)
{
	ssize_t n;

	while (c->fd >= 0 && c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			client_drop(c);
			return;
		}
		c->out_off += n;
	}
	c->out_off = c->out_len = 0;
	if (c->closing)
		client_drop(c);
}

/* Queue @p j (not stolen) as one line and try to send it. A client with too
 * much unsent output is dropped. */
static void
client_send(struct ctl_client *c, const json_t *j)
{
	char *text;
	size_t len, need;

	if (c->fd < 0)
		return;
	text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (text == NULL) {
		client_drop(c);
		return;
	}
	len = strlen(text);
	need = c->out_len - c->out_off + len + 1;
	if (need > MIGDP_CTL_MAX_OUTPUT) {
		free(text);
		client_drop(c);
		return;
	}
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (need > c->out_cap) {
		size_t cap = c->out_cap > 0 ? c->out_cap : 4096;
		char *p;

		while (cap < need)
			cap *= 2;
		p = realloc(c->out, cap);
		if (p == NULL) {
			free(text);
			client_drop(c);
			return;
		}
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, text, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	free(text);
	client_flush(c);
}

/* Send reply @p r (stolen; NULL: out of memory, the client is dropped)
 * with @p id (borrowed, may be NULL). */
static void
reply(struct ctl_client *c, json_t *r, json_t *id)
{
	if (r != NULL && id != NULL)
		json_object_set(r, "id", id);
	if (r != NULL)
		client_send(c, r);
	else
		client_drop(c);
	json_decref(r);
}

/* Reply with an error of @p class; @p id borrowed, may be NULL. The
 * description may quote the client's bytes (cut anywhere, not UTF-8):
 * those JSON cannot hold become '?', so that every request gets its
 * reply (found by tests/fuzz/fuzz_ctlsock.c). */
static void
reply_error(struct ctl_client *c, const char *class, const char *desc,
	    json_t *id)
{
	json_t *r = json_pack("{s:{s:s,s:s}}", "error", "class", class, "desc", desc);

	if (r == NULL) {
		char safe[512];
		size_t i;

		snprintf(safe, sizeof(safe), "%s", desc);
		for (i = 0; safe[i] != '\0'; i++)
			if ((unsigned char)safe[i] >= 0x80 || (unsigned char)safe[i] < 0x20)
				safe[i] = '?';
		r = json_pack("{s:{s:s,s:s}}", "error", "class", class, "desc", safe);
	}
	reply(c, r, id);
}

/* Built-in commands */

static json_t *
query_commands(const struct migdp_ctlsock *s)
{
	json_t *list = json_array();
	unsigned i;

	for (i = 0; i < NBUILTINS; i++)
		json_array_append_new(list, json_pack("{s:s,s:s}",
			"name", builtins[i].name, "help", builtins[i].help));
	for (i = 0; i < s->ncmds; i++)
		json_array_append_new(list, json_pack("{s:s,s:s}",
			"name", s->cmds[i].name,
			"help", s->cmds[i].help != NULL ? s->cmds[i].help : ""));
	return list;
}

static json_t *
subscribe(struct ctl_client *c, json_t *args, char *err, size_t errlen)
{
	json_t *enable = json_object_get(args, "enable");

	if (enable != NULL && !json_is_boolean(enable)) {
		snprintf(err, errlen, "'enable' must be true or false");
		return NULL;
	}
	c->subscribed = enable == NULL || json_is_true(enable);
	return json_object();
}

/* Requests */

static const struct migdp_ctl_command *
find_command(const struct migdp_ctlsock *s, const char *name)
{
	unsigned i;

	for (i = 0; i < s->ncmds; i++)
		if (strcmp(s->cmds[i].name, name) == 0)
			return &s->cmds[i];
	return NULL;
}

/* Run a well-formed request and reply. */
static void
dispatch(struct migdp_ctlsock *s, struct ctl_client *c, const char *name,
	 json_t *args, json_t *id)
{
	const struct migdp_ctl_command *cmd;
	char err[256] = "";
	char desc[320];
	json_t *ret;

	if (strcmp(name, "query-commands") == 0) {
		ret = query_commands(s);
	} else if (strcmp(name, "subscribe") == 0) {
		ret = subscribe(c, args, err, sizeof(err));
		if (ret == NULL) {
			reply_error(c, "InvalidRequest", err, id);
			return;
		}
	} else {
		cmd = find_command(s, name);
		if (cmd == NULL) {
			snprintf(desc, sizeof(desc),
				 "unknown command '%.200s' (query-commands lists them)",
				 name);
			reply_error(c, "CommandNotFound", desc, id);
			return;
		}
		ret = cmd->fn(s->arg, args, err, sizeof(err));
	}
	if (ret == NULL) {
		reply_error(c, "GenericError", err[0] != '\0' ? err : "command failed", id);
		return;
	}
	reply(c, json_pack("{s:o}", "return", ret), id);
}

/* One request line (without its newline). */
static void
handle_line(struct migdp_ctlsock *s, struct ctl_client *c, const char *line,
	    size_t len)
{
	json_error_t jerr;
	json_t *req, *id, *execute, *args;
	char desc[320];

	req = json_loadb(line, len, JSON_DECODE_ANY, &jerr);
	if (req == NULL) {
		snprintf(desc, sizeof(desc), "%s (line %d, column %d, position %d)",
			 jerr.text, jerr.line, jerr.column, jerr.position);
		reply_error(c, "ParseError", desc, NULL);
		return;
	}
	if (!json_is_object(req)) {
		reply_error(c, "InvalidRequest", "a request is a JSON object", NULL);
		goto out;
	}
	id = json_object_get(req, "id");
	execute = json_object_get(req, "execute");
	if (!json_is_string(execute)) {
		reply_error(c, "InvalidRequest",
			    "a request needs a string \"execute\"", id);
		goto out;
	}
	args = json_object_get(req, "arguments");
	if (args != NULL && !json_is_object(args)) {
		reply_error(c, "InvalidRequest", "\"arguments\" must be an object",
			    id);
		goto out;
	}
	if (args == NULL) {
		args = json_object();
		json_object_set_new(req, "arguments", args);
	}
	dispatch(s, c, json_string_value(execute), args, id);
out:
	json_decref(req);
}

/* Answer every complete line in the input buffer; returns how many. */
static int
handle_input(struct migdp_ctlsock *s, struct ctl_client *c)
{
	size_t start = 0, len;
	char *nl;
	int answered = 0;

	while (c->fd >= 0 && !c->closing && start < c->in_len) {
		nl = memchr(c->in + start, '\n', c->in_len - start);
		if (nl == NULL)
			break;
		len = nl - (c->in + start);
		if (len > MIGDP_CTL_MAX_LINE)
			break;
		if (len > 0 && c->in[start + len - 1] == '\r')
			len--;
		if (strspn(c->in + start, " \t\r") < len) {
			handle_line(s, c, c->in + start, len);
			answered++;
		}
		start = nl + 1 - c->in;
	}
	if (c->fd < 0)
		return answered;
	memmove(c->in, c->in + start, c->in_len - start);
	c->in_len -= start;
	nl = memchr(c->in, '\n', c->in_len);
	if ((nl != NULL && (size_t)(nl - c->in) > MIGDP_CTL_MAX_LINE) ||
	    (nl == NULL && c->in_len > MIGDP_CTL_MAX_LINE)) {
		char desc[96];

		snprintf(desc, sizeof(desc),
			 "request longer than %d bytes: closing the connection",
			 MIGDP_CTL_MAX_LINE);
		reply_error(c, "InvalidRequest", desc, NULL);
		answered++;
		c->closing = true;
		c->in_len = 0;
		client_flush(c);
	}
	return answered;
}

/* Read what the client sent; returns the requests answered. */
static int
client_read(struct migdp_ctlsock *s, struct ctl_client *c)
{
	int answered = 0, i;
	ssize_t n;

	for (i = 0; i < READS_PER_POLL && c->fd >= 0 && !c->closing; i++) {
		n = recv(c->fd, c->in + c->in_len, IN_CAP - 1 - c->in_len,
			 MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			/* Gone (or half-closed): complete lines are still
			 * answered as far as the socket takes it, a partial
			 * line is dropped with the client. */
			answered += handle_input(s, c);
			if (c->fd >= 0) {
				c->closing = true;
				client_flush(c);
				if (c->fd >= 0 && n < 0)
					client_drop(c);
			}
			break;
		}
		c->in_len += n;
		answered += handle_input(s, c);
	}
	return answered;
}

/* Connections */

/* Only the daemon's own user (and root) may drive it, whatever the
 * socket's mode was changed to: told why, then closed. */
static bool
peer_allowed(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	char msg[160];
	int n;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
		return false;
	if (cr.uid == 0 || cr.uid == geteuid())
		return true;
	n = snprintf(msg, sizeof(msg), "{\"error\":{\"class\":\"GenericError\","
		     "\"desc\":\"permission denied: uid %u is not this daemon's user\"}}\n",
		     (unsigned)cr.uid);
	(void)send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	fprintf(stderr, "migdp: control socket: refused a client of uid %u (pid %d)\n",
		(unsigned)cr.uid, (int)cr.pid);
	return false;
}

static void
accept_clients(struct migdp_ctlsock *s)
{
	struct ctl_client *c;
	json_t *greeting, *names;
	unsigned i;
	int fd;

	for (;;) {
		fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0)
			return;	/* EAGAIN, or a client that gave up (ECONNABORTED) */
		if (!peer_allowed(fd)) {
			close(fd);
			continue;
		}
		c = NULL;
		for (i = 0; i < MIGDP_CTL_MAX_CLIENTS; i++)
			if (s->clients[i].fd < 0) {
				c = &s->clients[i];
				break;
			}
		if (c == NULL) {
			static const char full[] = "{\"error\":{\"class\":\"GenericError\","
				"\"desc\":\"too many clients (16)\"}}\n";

			(void)send(fd, full, sizeof(full) - 1,
				   MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->in = malloc(IN_CAP);
		if (c->in == NULL) {
			client_drop(c);
			continue;
		}
		names = json_array();
		for (i = 0; i < NBUILTINS; i++)
			json_array_append_new(names, json_string(builtins[i].name));
		for (i = 0; i < s->ncmds; i++)
			json_array_append_new(names, json_string(s->cmds[i].name));
		greeting = json_pack("{s:{s:s,s:o}}", "migdp", "version",
				     MIGDP_VERSION, "commands", names);
		if (greeting == NULL)
			client_drop(c);
		else
			client_send(c, greeting);
		json_decref(greeting);
	}
}

/* Bind @p fd to @p path, replacing a stale socket file. */
static int
bind_path(int fd, const struct sockaddr_un *sa)
{
	struct stat st;
	int probe, ret;

	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		return 0;
	if (errno != EADDRINUSE)
		return -1;
	if (lstat(sa->sun_path, &st) < 0)
		return -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	/* Someone still answering there is not stale. */
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return -1;
	ret = connect(probe, (const struct sockaddr *)sa, sizeof(*sa));
	close(probe);
	if (ret == 0) {
		errno = EADDRINUSE;
		return -1;
	}
	if (unlink(sa->sun_path) < 0 && errno != ENOENT)
		return -1;
	return bind(fd, (const struct sockaddr *)sa, sizeof(*sa));
}

struct migdp_ctlsock *
migdp_ctlsock_open(const char *path, const struct migdp_ctl_command *cmds,
		   unsigned ncmds, void *arg)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct migdp_ctlsock *s;
	unsigned i;
	int err;

	if (path == NULL || (cmds == NULL && ncmds > 0)) {
		errno = EINVAL;
		return NULL;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	strcpy(s->path, path);
	strcpy(sa.sun_path, path);
	s->cmds = cmds;
	s->ncmds = ncmds;
	s->arg = arg;
	for (i = 0; i < MIGDP_CTL_MAX_CLIENTS; i++)
		s->clients[i].fd = -1;
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		goto err;
	if (bind_path(s->fd, &sa) < 0)
		goto err_close;
	/* Owner only before anyone can connect: connect() is refused until
	 * listen(), so no umask (process-wide) is needed. */
	if (chmod(path, 0600) < 0 || listen(s->fd, MIGDP_CTL_MAX_CLIENTS) < 0)
		goto err_unlink;
	return s;

err_unlink:
	err = errno;
	unlink(path);
	errno = err;
err_close:
	err = errno;
	close(s->fd);
	errno = err;
err:
	err = errno;
	free(s);
	errno = err;
	return NULL;
}

int
migdp_ctlsock_fd(const struct migdp_ctlsock *s)
{
	return s->fd;
}

int
migdp_ctlsock_poll(struct migdp_ctlsock *s, int timeout_ms)
{
	struct pollfd pfd[1 + MIGDP_CTL_MAX_CLIENTS];
	struct ctl_client *c;
	int answered = 0, n, i;

	pfd[0] = (struct pollfd){.fd = s->fd, .events = POLLIN};
	for (i = 0; i < MIGDP_CTL_MAX_CLIENTS; i++) {
		c = &s->clients[i];
		pfd[1 + i] = (struct pollfd){.fd = c->fd};
		if (c->fd < 0)
			continue;
		if (!c->closing)
			pfd[1 + i].events |= POLLIN;
		if (c->out_len > c->out_off)
			pfd[1 + i].events |= POLLOUT;
	}
	n = poll(pfd, 1 + MIGDP_CTL_MAX_CLIENTS, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < MIGDP_CTL_MAX_CLIENTS; i++) {
		c = &s->clients[i];
		if (c->fd < 0 || pfd[1 + i].revents == 0)
			continue;
		if (pfd[1 + i].revents & POLLOUT)
			client_flush(c);
		if (c->fd >= 0 && !c->closing &&
		    (pfd[1 + i].revents & (POLLIN | POLLHUP | POLLERR)))
			answered += client_read(s, c);
		else if (c->fd >= 0 && (pfd[1 + i].revents & (POLLHUP | POLLERR)))
			client_drop(c);
	}
	/* New clients last: they had no chance to send anything yet. */
	if (pfd[0].revents & POLLIN)
		accept_clients(s);
	return answered;
}

void
migdp_ctlsock_event(struct migdp_ctlsock *s, const char *name, json_t *data)
{
	struct timespec ts;
	json_t *ev;
	unsigned i;

	clock_gettime(CLOCK_REALTIME, &ts);
	ev = json_pack("{s:s,s:o,s:{s:I,s:I}}", "event", name,
		       "data", data != NULL ? data : json_object(),
		       "timestamp", "seconds", (json_int_t)ts.tv_sec,
		       "microseconds", (json_int_t)(ts.tv_nsec / 1000));
	if (ev == NULL)
		return;
	for (i = 0; i < MIGDP_CTL_MAX_CLIENTS; i++)
		if (s->clients[i].fd >= 0 && s->clients[i].subscribed &&
		    !s->clients[i].closing)
			client_send(&s->clients[i], ev);
	json_decref(ev);
}

unsigned
migdp_ctlsock_clients(const struct migdp_ctlsock *s)
{
	unsigned i, n = 0;

	for (i = 0; i < MIGDP_CTL_MAX_CLIENTS; i++)
		if (s->clients[i].fd >= 0)
			n++;
	return n;
}

void
migdp_ctlsock_close(struct migdp_ctlsock *s)
{
	unsigned i;

	if (s == NULL)
		return;
	for (i = 0; i < MIGDP_CTL_MAX_CLIENTS; i++)
		client_drop(&s->clients[i]);
	close(s->fd);
	unlink(s->path);
	free(s);
}
