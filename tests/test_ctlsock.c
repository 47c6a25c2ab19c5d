/* SPDX-License-Identifier: BSD-3-Clause */
/* The control socket server on a real Unix socket in a temporary directory,
 * driven by client sockets of this test: the server is polled with
 * migdp_ctlsock_poll() between the clients' writes and reads. Three test
 * commands: "echo" returns its arguments, "fail" returns an error, "big"
 * returns a 100 KiB string (for a client that does not read). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
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

#include "ctlsock.h"
#include "cu_main.h"

#ifndef MIGDP_VERSION
#define MIGDP_VERSION "0.1.0"
#endif

#define BIG_REPLY (100 * 1024)

struct tclient {
	int fd;
	char buf[256 * 1024];
	size_t len;
};

static char dir[64];
static char path[128];
static struct migdp_ctlsock *srv;

static json_t *
cmd_echo(void *arg, json_t *args, char *err, size_t errlen)
{
	(void)arg;
	(void)err;
	(void)errlen;
	return json_deep_copy(args);
}

static json_t *
cmd_fail(void *arg, json_t *args, char *err, size_t errlen)
{
	(void)arg;
	(void)args;
	snprintf(err, errlen, "it failed");
	return NULL;
}

static json_t *
cmd_big(void *arg, json_t *args, char *err, size_t errlen)
{
	char *s = malloc(BIG_REPLY + 1);
	json_t *r;

	(void)arg;
	(void)args;
	if (s == NULL) {
		snprintf(err, errlen, "no memory");
		return NULL;
	}
	memset(s, 'b', BIG_REPLY);
	s[BIG_REPLY] = '\0';
	r = json_string(s);
	free(s);
	return r;
}

static const struct migdp_ctl_command cmds[] = {
	{"echo", cmd_echo, "return the arguments"},
	{"fail", cmd_fail, "always fail"},
	{"big", cmd_big, "a 100 KiB string"},
};

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Poll the server for about @p ms. */
static void
pump(int ms)
{
	long end = now_ms() + ms;

	do
		migdp_ctlsock_poll(srv, 5);
	while (now_ms() < end);
}

static void
tc_connect(struct tclient *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	c->len = 0;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_FATAL(c->fd >= 0);
	strcpy(sa.sun_path, path);
	CU_ASSERT_FATAL(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
}

static void
tc_close(struct tclient *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Write all of @p text, polling the server while the socket is full. */
static void
tc_write(struct tclient *c, const char *text, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(c->fd, text, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			migdp_ctlsock_poll(srv, 5);
			continue;
		}
		CU_ASSERT_FATAL(n > 0);
		text += n;
		len -= n;
	}
}

static void
tc_send(struct tclient *c, const char *text)
{
	tc_write(c, text, strlen(text));
}

/* Next line from the server, polling it meanwhile, within @p ms.
 * @return the parsed line, or NULL on timeout or end of stream
 *   (*@p eof says which). */
static json_t *
tc_line_ms(struct tclient *c, int ms, bool *eof)
{
	long end = now_ms() + ms;
	char *nl;
	json_t *j;
	ssize_t n;

	if (eof != NULL)
		*eof = false;
	for (;;) {
		nl = memchr(c->buf, '\n', c->len);
		if (nl != NULL) {
			j = json_loadb(c->buf, nl - c->buf, 0, NULL);
			CU_ASSERT(j != NULL);
			c->len -= nl + 1 - c->buf;
			memmove(c->buf, nl + 1, c->len);
			return j;
		}
		if (now_ms() > end)
			return NULL;
		migdp_ctlsock_poll(srv, 2);
		if (c->len == sizeof(c->buf))
			return NULL;
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len,
			 MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			if (eof != NULL)
				*eof = true;
			return NULL;
		}
		if (n > 0)
			c->len += n;
	}
}

static json_t *
tc_line(struct tclient *c)
{
	return tc_line_ms(c, 2000, NULL);
}

/* True when the server closed this client (within 2 s). */
static bool
tc_closed(struct tclient *c)
{
	json_t *j;
	bool eof;

	while ((j = tc_line_ms(c, 2000, &eof)) != NULL)
		json_decref(j);
	return eof;
}

static struct tclient *
tc_new(void)
{
	struct tclient *c = calloc(1, sizeof(*c));

	CU_ASSERT_FATAL(c != NULL);
	tc_connect(c);
	return c;
}

/* Connect and read the greeting. */
static struct tclient *
tc_open(void)
{
	struct tclient *c = tc_new();
	json_t *g = tc_line(c);

	CU_ASSERT(json_object_get(g, "migdp") != NULL);
	json_decref(g);
	return c;
}

static void
tc_free(struct tclient *c)
{
	tc_close(c);
	free(c);
}

static const char *
error_class(json_t *r)
{
	return json_string_value(json_object_get(json_object_get(r, "error"),
						 "class"));
}

static const char *
error_desc(json_t *r)
{
	return json_string_value(json_object_get(json_object_get(r, "error"),
						 "desc"));
}

/* Send @p req and check the reply is an error of @p class. */
static void
expect_error(struct tclient *c, const char *req, const char *class)
{
	json_t *r;

	tc_send(c, req);
	r = tc_line(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(error_class(r), class);
	CU_ASSERT(json_is_string(json_object_get(json_object_get(r, "error"),
						 "desc")));
	CU_ASSERT(json_object_get(r, "return") == NULL);
	json_decref(r);
}

/* A round trip that must work: echo with a number. */
static void
expect_echo(struct tclient *c, int n)
{
	char req[128];
	json_t *r;

	snprintf(req, sizeof(req),
		 "{\"execute\":\"echo\",\"arguments\":{\"n\":%d},\"id\":%d}\n", n, n);
	tc_send(c, req);
	r = tc_line(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(
		json_object_get(r, "return"), "n")), n);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "id")), n);
	json_decref(r);
}

/* Fixtures: a temporary directory for the suite, a server per test. */

static int
suite_init(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ctlsock-test-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/control.sock", dir);
	return 0;
}

static int
suite_cleanup(void)
{
	unlink(path);
	return rmdir(dir);
}

static void
server_start(void)
{
	srv = migdp_ctlsock_open(path, cmds, 3, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
}

static void
server_stop(void)
{
	migdp_ctlsock_close(srv);
	srv = NULL;
}

/* Tests */

static void
test_greeting(void)
{
	static const char *const want[] = {"query-commands", "subscribe",
		"echo", "fail", "big"};
	struct tclient *c;
	json_t *g, *names;
	unsigned i;

	server_start();
	c = tc_new();
	g = tc_line(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
		json_object_get(g, "migdp"), "version")), MIGDP_VERSION);
	names = json_object_get(json_object_get(g, "migdp"), "commands");
	CU_ASSERT_EQUAL(json_array_size(names), 5);
	for (i = 0; i < 5; i++)
		CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(names, i)),
				       want[i]);
	CU_ASSERT_EQUAL(migdp_ctlsock_clients(srv), 1);
	json_decref(g);
	tc_free(c);
	server_stop();
}

static void
test_echo_id(void)
{
	struct tclient *c;
	json_t *r;

	server_start();
	c = tc_open();
	tc_send(c, "{\"execute\":\"echo\",\"arguments\":{\"a\":[1,\"x\"]},"
		   "\"id\":{\"k\":\"v\"}}\n");
	r = tc_line(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(json_integer_value(json_array_get(json_object_get(
		json_object_get(r, "return"), "a"), 0)), 1);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
		json_object_get(r, "id"), "k")), "v");
	json_decref(r);
	/* No id: none in the reply; no arguments: the handler gets {}. */
	tc_send(c, "{\"execute\":\"echo\"}\n");
	r = tc_line(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT(json_object_get(r, "id") == NULL);
	CU_ASSERT(json_is_object(json_object_get(r, "return")));
	CU_ASSERT_EQUAL(json_object_size(json_object_get(r, "return")), 0);
	json_decref(r);
	/* CRLF and blank lines are fine. */
	tc_send(c, "\n  \r\n{\"execute\":\"echo\",\"id\":7}\r\n");
	r = tc_line(c);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "id")), 7);
	json_decref(r);
	tc_free(c);
	server_stop();
}

static void
test_several_in_one_write(void)
{
	struct tclient *c;
	json_t *r;
	int i, answered = 0;

	server_start();
	c = tc_open();
	tc_send(c, "{\"execute\":\"echo\",\"id\":1}\n{\"execute\":\"fail\",\"id\":2}\n"
		   "{\"execute\":\"echo\",\"arguments\":{\"z\":3},\"id\":3}\n");
	for (i = 0; i < 100 && answered < 3; i++)
		answered += migdp_ctlsock_poll(srv, 10);
	CU_ASSERT_EQUAL(answered, 3);
	for (i = 1; i <= 3; i++) {
		r = tc_line(c);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "id")), i);
		CU_ASSERT_EQUAL(json_object_get(r, "error") != NULL, i == 2);
		json_decref(r);
	}
	tc_free(c);
	server_stop();
}

static void
test_split_request(void)
{
	static const char req[] =
		"{\"execute\":\"echo\",\"arguments\":{\"w\":\"split\"},\"id\":9}\n";
	struct tclient *c;
	json_t *r;
	size_t i;

	server_start();
	c = tc_open();
	tc_write(c, req, 10);
	pump(20);
	CU_ASSERT_EQUAL(migdp_ctlsock_poll(srv, 0), 0);
	tc_write(c, req + 10, sizeof(req) - 1 - 10);
	r = tc_line(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
		json_object_get(r, "return"), "w")), "split");
	json_decref(r);
	/* One byte at a time, the server polled after each. */
	for (i = 0; i < sizeof(req) - 1; i++) {
		tc_write(c, req + i, 1);
		migdp_ctlsock_poll(srv, 1);
	}
	r = tc_line(c);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "id")), 9);
	json_decref(r);
	tc_free(c);
	server_stop();
}

static void
test_parse_error(void)
{
	struct tclient *c;
	json_t *r;

	server_start();
	c = tc_open();
	tc_send(c, "{\"execute\": \"echo\", oops}\n");
	r = tc_line(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(error_class(r), "ParseError");
	CU_ASSERT(strstr(error_desc(r), "position") != NULL);
	CU_ASSERT(json_object_get(r, "id") == NULL);
	json_decref(r);
	expect_error(c, "\"unterminated\n", "ParseError");
	expect_echo(c, 1);
	tc_free(c);
	server_stop();
}

static void
test_invalid_request(void)
{
	struct tclient *c;
	json_t *r;

	server_start();
	c = tc_open();
	expect_error(c, "[1,2]\n", "InvalidRequest");
	expect_error(c, "42\n", "InvalidRequest");
	expect_error(c, "{\"id\":1}\n", "InvalidRequest");
	expect_error(c, "{\"execute\":5}\n", "InvalidRequest");
	expect_error(c, "{\"execute\":\"echo\",\"arguments\":[1]}\n",
		     "InvalidRequest");
	expect_error(c, "{\"execute\":\"subscribe\",\"arguments\":{\"enable\":1}}\n",
		     "InvalidRequest");
	/* The id is echoed when there is one. */
	tc_send(c, "{\"execute\":\"echo\",\"arguments\":\"s\",\"id\":\"q\"}\n");
	r = tc_line(c);
	CU_ASSERT_STRING_EQUAL(error_class(r), "InvalidRequest");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "id")), "q");
	json_decref(r);
	expect_echo(c, 2);
	tc_free(c);
	server_stop();
}

static void
test_unknown_command(void)
{
	struct tclient *c;
	json_t *r;

	server_start();
	c = tc_open();
	tc_send(c, "{\"execute\":\"nope\",\"id\":3}\n");
	r = tc_line(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(error_class(r), "CommandNotFound");
	CU_ASSERT_STRING_EQUAL(error_desc(r),
			       "unknown command 'nope' (query-commands lists them)");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "id")), 3);
	json_decref(r);
	expect_echo(c, 3);
	tc_free(c);
	server_stop();
}

static void
test_handler_error(void)
{
	struct tclient *c;
	json_t *r;

	server_start();
	c = tc_open();
	tc_send(c, "{\"execute\":\"fail\",\"id\":\"f\"}\n");
	r = tc_line(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(error_class(r), "GenericError");
	CU_ASSERT_STRING_EQUAL(error_desc(r), "it failed");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "id")), "f");
	json_decref(r);
	expect_echo(c, 4);
	tc_free(c);
	server_stop();
}

static void
test_query_commands(void)
{
	struct tclient *c;
	json_t *r, *list, *e;
	size_t i;
	bool echo = false;

	server_start();
	c = tc_open();
	tc_send(c, "{\"execute\":\"query-commands\"}\n");
	r = tc_line(c);
	list = json_object_get(r, "return");
	CU_ASSERT_EQUAL(json_array_size(list), 5);
	json_array_foreach(list, i, e) {
		CU_ASSERT(json_is_string(json_object_get(e, "help")));
		if (strcmp(json_string_value(json_object_get(e, "name")), "echo") == 0)
			echo = strcmp(json_string_value(json_object_get(e, "help")),
				      "return the arguments") == 0;
	}
	CU_ASSERT(echo);
	json_decref(r);
	tc_free(c);
	server_stop();
}

/* A request of exactly MIGDP_CTL_MAX_LINE bytes into @p buf. */
static size_t
request_of(char *buf, size_t len)
{
	static const char head[] = "{\"execute\":\"echo\",\"arguments\":{\"s\":\"";
	static const char tail[] = "\"}}";
	size_t h = sizeof(head) - 1, t = sizeof(tail) - 1;

	memcpy(buf, head, h);
	memset(buf + h, 'a', len - h - t);
	memcpy(buf + len - t, tail, t);
	buf[len] = '\n';
	return len + 1;
}

static void
test_line_too_long(void)
{
	char *buf = malloc(MIGDP_CTL_MAX_LINE + 16);
	struct tclient *c, *other;
	json_t *r;
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	server_start();
	other = tc_open();
	c = tc_open();
	/* Exactly the limit is fine... */
	n = request_of(buf, MIGDP_CTL_MAX_LINE);
	tc_write(c, buf, n);
	r = tc_line(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(json_string_length(json_object_get(
		json_object_get(r, "return"), "s")), MIGDP_CTL_MAX_LINE - 39);
	json_decref(r);
	/* ...one more byte is not, even before its newline. */
	memset(buf, ' ', MIGDP_CTL_MAX_LINE + 1);
	tc_write(c, buf, MIGDP_CTL_MAX_LINE + 1);
	r = tc_line(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(error_class(r), "InvalidRequest");
	json_decref(r);
	CU_ASSERT(tc_closed(c));
	CU_ASSERT_EQUAL(migdp_ctlsock_clients(srv), 1);
	expect_echo(other, 5);
	tc_free(c);
	tc_free(other);
	server_stop();
	free(buf);
}

static void
test_disconnect_mid_request(void)
{
	struct tclient *a, *b;

	server_start();
	b = tc_open();
	a = tc_open();
	CU_ASSERT_EQUAL(migdp_ctlsock_clients(srv), 2);
	tc_send(a, "{\"execute\":\"echo\",\"argu");
	pump(20);
	tc_free(a);
	pump(20);
	CU_ASSERT_EQUAL(migdp_ctlsock_clients(srv), 1);
	expect_echo(b, 6);
	tc_free(b);
	server_stop();
}

static void
test_disconnect_pending_replies(void)
{
	struct tclient *a, *b;
	int i;

	server_start();
	b = tc_open();
	a = tc_open();
	for (i = 0; i < 5; i++)
		tc_send(a, "{\"execute\":\"big\"}\n{\"execute\":\"echo\"}\n");
	tc_free(a);
	pump(50);
	CU_ASSERT_EQUAL(migdp_ctlsock_clients(srv), 1);
	expect_echo(b, 7);
	tc_free(b);
	server_stop();
}

static void
test_slow_reader_dropped(void)
{
	struct tclient *a, *b;
	int i;

	server_start();
	b = tc_open();
	a = tc_open();
	/* 3 MiB of replies that nobody reads: over the kernel's buffers and
	 * the 1 MiB the server keeps. */
	for (i = 0; i < 30 && migdp_ctlsock_clients(srv) == 2; i++) {
		tc_send(a, "{\"execute\":\"big\"}\n");
		pump(5);
	}
	pump(20);
	CU_ASSERT_EQUAL(migdp_ctlsock_clients(srv), 1);
	expect_echo(b, 8);
	tc_free(a);
	tc_free(b);
	server_stop();
}

static void
test_subscribe_event(void)
{
	struct tclient *a, *b;
	json_t *r, *ts;

	server_start();
	a = tc_open();
	b = tc_open();
	tc_send(a, "{\"execute\":\"subscribe\",\"id\":1}\n");
	r = tc_line(a);
	CU_ASSERT(json_is_object(json_object_get(r, "return")));
	json_decref(r);
	migdp_ctlsock_event(srv, "MIGRATION", json_pack("{s:s}", "state", "precopy"));
	r = tc_line(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "event")),
			       "MIGRATION");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
		json_object_get(r, "data"), "state")), "precopy");
	ts = json_object_get(r, "timestamp");
	CU_ASSERT(json_integer_value(json_object_get(ts, "seconds")) > 1600000000);
	CU_ASSERT(json_integer_value(json_object_get(ts, "microseconds")) < 1000000);
	json_decref(r);
	/* No data: {}. */
	migdp_ctlsock_event(srv, "PING", NULL);
	r = tc_line(a);
	CU_ASSERT_EQUAL(json_object_size(json_object_get(r, "data")), 0);
	CU_ASSERT(json_is_object(json_object_get(r, "data")));
	json_decref(r);
	/* b did not subscribe: its next line is its reply. */
	expect_echo(b, 9);
	/* Unsubscribed, a gets nothing either. */
	tc_send(a, "{\"execute\":\"subscribe\",\"arguments\":{\"enable\":false}}\n");
	r = tc_line(a);
	CU_ASSERT(json_object_get(r, "return") != NULL);
	json_decref(r);
	migdp_ctlsock_event(srv, "MIGRATION", NULL);
	expect_echo(a, 10);
	tc_free(a);
	tc_free(b);
	server_stop();
}

static void
test_socket_mode(void)
{
	struct stat st;

	server_start();
	CU_ASSERT_FATAL(stat(path, &st) == 0);
	CU_ASSERT(S_ISSOCK(st.st_mode));
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	CU_ASSERT(migdp_ctlsock_fd(srv) >= 0);
	server_stop();
	CU_ASSERT(access(path, F_OK) < 0 && errno == ENOENT);
}

static void
test_stale_socket(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct migdp_ctlsock *other;
	int fd;

	/* A socket file left by a dead server is replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sa.sun_path, path);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	close(fd);
	server_start();
	/* A live one is not. */
	other = migdp_ctlsock_open(path, cmds, 3, NULL);
	CU_ASSERT(other == NULL && errno == EADDRINUSE);
	server_stop();
	/* Nor is a file that is not a socket. */
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	other = migdp_ctlsock_open(path, cmds, 3, NULL);
	CU_ASSERT(other == NULL && errno == EEXIST);
	unlink(path);
}

static void
test_too_many_clients(void)
{
	struct tclient *c[MIGDP_CTL_MAX_CLIENTS + 1];
	json_t *r;
	int i;

	server_start();
	for (i = 0; i < MIGDP_CTL_MAX_CLIENTS; i++)
		c[i] = tc_open();
	CU_ASSERT_EQUAL(migdp_ctlsock_clients(srv), MIGDP_CTL_MAX_CLIENTS);
	c[i] = tc_new();
	r = tc_line(c[i]);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT(json_object_get(r, "error") != NULL);
	json_decref(r);
	CU_ASSERT(tc_closed(c[i]));
	tc_free(c[i]);
	CU_ASSERT_EQUAL(migdp_ctlsock_clients(srv), MIGDP_CTL_MAX_CLIENTS);
	/* Everyone still served; a freed slot is taken again. */
	expect_echo(c[0], 11);
	expect_echo(c[MIGDP_CTL_MAX_CLIENTS - 1], 12);
	tc_free(c[3]);
	pump(20);
	c[3] = tc_open();
	expect_echo(c[3], 13);
	for (i = 0; i < MIGDP_CTL_MAX_CLIENTS; i++)
		tc_free(c[i]);
	pump(20);
	CU_ASSERT_EQUAL(migdp_ctlsock_clients(srv), 0);
	server_stop();
}

int
main(void)
{
	static const struct cu_test tests[] = {
		{"greeting", test_greeting},
		{"echo_id", test_echo_id},
		{"several_in_one_write", test_several_in_one_write},
		{"split_request", test_split_request},
		{"parse_error", test_parse_error},
		{"invalid_request", test_invalid_request},
		{"unknown_command", test_unknown_command},
		{"handler_error", test_handler_error},
		{"query_commands", test_query_commands},
		{"line_too_long", test_line_too_long},
		{"disconnect_mid_request", test_disconnect_mid_request},
		{"disconnect_pending_replies", test_disconnect_pending_replies},
		{"slow_reader_dropped", test_slow_reader_dropped},
		{"subscribe_event", test_subscribe_event},
		{"socket_mode", test_socket_mode},
		{"stale_socket", test_stale_socket},
		{"too_many_clients", test_too_many_clients},
		{NULL, NULL},
	};

	if (cu_add_suite("control", suite_init, suite_cleanup, tests) < 0)
		return 1;
	return cu_run();
}
