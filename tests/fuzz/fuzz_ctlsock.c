/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer harness: the control-socket request parser (control/ctlsock.c)
 * through its real socket. The input is what one client sends before it
 * half-closes; the harness plays that client against a server with a few
 * commands of its own, events going out meanwhile, then holds the replies
 * to ctlsock.h: a greeting, then exactly one reply per non-blank request
 * line, in order, each a JSON object with "return" or an "error" of the
 * class the request deserves, the request's "id" echoed when it had one;
 * events only between replies; the connection closed and its slot freed
 * at the end, nothing leaked. The expected reply of each line is worked
 * out here with the same JSON library. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "ctlsock.h"
#include "fuzz_check.h"

#define MAX_POLLS 100000

static json_t *
cmd_echo(void *arg, json_t *args, char *err, size_t errlen)
{
	(void)arg;
	(void)err;
	(void)errlen;
	return json_incref(args);
}

static json_t *
cmd_fail(void *arg, json_t *args, char *err, size_t errlen)
{
	(void)arg;
	(void)args;
	snprintf(err, errlen, "failed as asked");
	return NULL;
}

static const struct migdp_ctl_command cmds[] = {
	{"echo", cmd_echo, "return the arguments"},
	{"fail", cmd_fail, "fail with a message"},
};

static struct migdp_ctlsock *srv;
static char path[108];

/* Output of the server to this client. */
static char *out;
static size_t out_len, out_cap;

static void
close_server(void)
{
	migdp_ctlsock_close(srv);
	free(out);
}

/* What the server must answer to request @p line (@p len bytes): the
 * error class, or NULL for a "return"; *id the id to echo (borrowed from
 * *req), *ret the value returned when it is known. */
static const char *
expect(const char *line, size_t len, json_t **req, json_t **id, json_t **ret,
       bool *subscribe)
{
	json_t *exec, *args, *enable;
	const char *name;

	*id = NULL;
	*ret = NULL;
	*req = json_loadb(line, len, JSON_DECODE_ANY, NULL);
	if (*req == NULL)
		return "ParseError";
	if (!json_is_object(*req))
		return "InvalidRequest";
	*id = json_object_get(*req, "id");
	exec = json_object_get(*req, "execute");
	args = json_object_get(*req, "arguments");
	if (!json_is_string(exec) || (args != NULL && !json_is_object(args)))
		return "InvalidRequest";
	name = json_string_value(exec);
	if (strcmp(name, "query-commands") == 0)
		return NULL;
	if (strcmp(name, "subscribe") == 0) {
		enable = args != NULL ? json_object_get(args, "enable") : NULL;
		if (enable != NULL && !json_is_boolean(enable))
			return "InvalidRequest";
		*subscribe = enable == NULL || json_is_true(enable);
		return NULL;
	}
	if (strcmp(name, "echo") == 0) {
		*ret = args != NULL ? json_incref(args) : json_object();
		return NULL;
	}
	if (strcmp(name, "fail") == 0)
		return "GenericError";
	return "CommandNotFound";
}

/* The next line of the server's output that is not an event, parsed;
 * @p pos moves past it. Events come only while subscribed. */
static json_t *
next_reply(size_t *pos, bool subscribed)
{
	char *nl;
	json_t *j;

	for (;;) {
		if (*pos >= out_len)
			fuzz_fail(__FILE__, __LINE__, "a request got no reply "
				  "(the server closed the connection first)");
		nl = memchr(out + *pos, '\n', out_len - *pos);
		if (nl == NULL)
			fuzz_fail(__FILE__, __LINE__, "output ends in a partial line");
		j = json_loadb(out + *pos, (size_t)(nl - (out + *pos)), 0, NULL);
		if (!json_is_object(j))
			fuzz_fail(__FILE__, __LINE__, "a reply line is not a JSON object");
		*pos = (size_t)(nl + 1 - out);
		if (json_object_get(j, "event") == NULL)
			return j;
		FUZZ_CHECK(subscribed);
		FUZZ_CHECK(json_object_get(j, "return") == NULL &&
			   json_object_get(j, "error") == NULL);
		json_decref(j);
	}
}

static void
check_reply(json_t *r, const char *class, json_t *id, json_t *ret)
{
	json_t *err = json_object_get(r, "error"), *got_id = json_object_get(r, "id");

	FUZZ_CHECK(id == NULL ? got_id == NULL : json_equal(id, got_id));
	if (class == NULL) {
		FUZZ_CHECK(err == NULL && json_object_get(r, "return") != NULL);
		FUZZ_CHECK(ret == NULL || json_equal(ret, json_object_get(r, "return")));
		return;
	}
	FUZZ_CHECK(json_object_get(r, "return") == NULL);
	FUZZ_CHECK(json_is_object(err));
	FUZZ_CHECK(json_is_string(json_object_get(err, "desc")));
	FUZZ_CHECK(json_is_string(json_object_get(err, "class")));
	if (strcmp(json_string_value(json_object_get(err, "class")), class) != 0)
		fprintf(stderr, "reply class %s, expected %s\n",
			json_string_value(json_object_get(err, "class")), class);
	FUZZ_CHECK(strcmp(json_string_value(json_object_get(err, "class")), class) == 0);
}

/* Every reply, in the order of the input's lines. */
static void
check_replies(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data, *end = line + size, *nl = NULL, *class;
	json_t *greeting, *r, *req, *id, *ret;
	bool subscribed = false, sub;
	size_t pos = 0, len, blank;

	greeting = next_reply(&pos, false);
	FUZZ_CHECK(json_is_object(json_object_get(greeting, "migdp")));
	json_decref(greeting);
	for (; line < end; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (nl == NULL || nl - line > MIGDP_CTL_MAX_LINE)
			break;
		len = (size_t)(nl - line);
		if (len > 0 && line[len - 1] == '\r')
			len--;
		for (blank = 0; blank < len && strchr(" \t\r", line[blank]) != NULL &&
		     line[blank] != '\0'; blank++)
			;
		if (blank == len)
			continue;
		sub = subscribed;
		class = expect(line, len, &req, &id, &ret, &sub);
		r = next_reply(&pos, subscribed);
		check_reply(r, class, id, ret);
		subscribed = sub;
		json_decref(r);
		json_decref(ret);
		json_decref(req);
	}
	/* A line too long, complete or not, is refused and ends the talk. */
	if ((nl != NULL && nl - line > MIGDP_CTL_MAX_LINE) ||
	    (nl == NULL && end - line > MIGDP_CTL_MAX_LINE)) {
		r = next_reply(&pos, subscribed);
		check_reply(r, "InvalidRequest", NULL, NULL);
		json_decref(r);
	}
	/* Nothing but events after the last reply. */
	if (pos < out_len) {
		json_decref(next_reply(&pos, subscribed));
		fuzz_fail(__FILE__, __LINE__, "a reply to no request");
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(path, sizeof(path), "/tmp/migdp-fuzz-ctl-%d.sock", (int)getpid());
	srv = migdp_ctlsock_open(path, cmds, sizeof(cmds) / sizeof(cmds[0]), NULL);
	FUZZ_CHECK(srv != NULL);
	atexit(close_server);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t sent = 0;
	bool eof = false, shut = false;
	unsigned polls;
	ssize_t n;
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	FUZZ_CHECK(fd >= 0);
	memcpy(sa.sun_path, path, sizeof(path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		/* Not the code under test: someone removed our socket file. */
		fprintf(stderr, "fuzz_ctlsock: connect %s: %s\n", path, strerror(errno));
		fuzz_fail(__FILE__, __LINE__, "cannot connect to the harness's own server");
	}
	out_len = 0;
	for (polls = 0; !eof; polls++) {
		FUZZ_CHECK(polls < MAX_POLLS); /* the server stopped answering */
		if (sent < size) {
			n = send(fd, data + sent, size - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				sent = size; /* closed on us (a line too long) */
		}
		if (sent == size && !shut) {
			shutdown(fd, SHUT_WR);
			shut = true;
		}
		FUZZ_CHECK(migdp_ctlsock_poll(srv, 0) >= 0);
		if (polls % 4 == 3)
			migdp_ctlsock_event(srv, "FUZZ_TICK", json_pack("{s:i}", "n", polls));
		for (;;) {
			if (out_cap - out_len < 4096) {
				out_cap = out_cap ? 2 * out_cap : 65536;
				out = realloc(out, out_cap);
				FUZZ_CHECK(out != NULL);
			}
			n = recv(fd, out + out_len, out_cap - out_len, MSG_DONTWAIT);
			if (n > 0) {
				out_len += (size_t)n;
				continue;
			}
			eof = n == 0 || (errno != EAGAIN && errno != EINTR);
			break;
		}
	}
	close(fd);
	FUZZ_CHECK(migdp_ctlsock_clients(srv) == 0);
	check_replies(data, size);
	return 0;
}
