/* SPDX-License-Identifier: BSD-3-Clause */
/* migctl: the command-line client of migdp's control socket (protocol in
 * ctlsock.h and docs/control-socket.md). jansson only, no DPDK.
 *
 * Exit status: 0 ok, 1 migdp answered with an error (or the migration
 * failed or was cancelled), 2 usage error, 3 connection or protocol error. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "migctl.h"

#define EXIT_REPLY_ERROR 1
#define EXIT_USAGE 2
#define EXIT_CONN 3

#define DEFAULT_SOCKET "/run/migdp/control.sock"
#define WATCH_PERIOD_MS 200
#define MAX_REPLY (64u * 1024 * 1024)

static const char usage_text[] =
	"usage: migctl [--socket PATH] [--json] [--timeout SEC] COMMAND [ARGS]\n"
	"\n"
	"commands:\n"
	"  status [VM]          the migration's state (query-migrate)\n"
	"  watch [VM]           follow the migration until it ends\n"
	"  migrate VM PEER      migrate VM to PEER (on the source)\n"
	"  incoming VM          receive VM (on the destination)\n"
	"  stream NAME PEER SOCKET      carry QEMU's migrate unix:SOCKET to PEER (source)\n"
	"  stream-incoming NAME SOCKET  deliver it to QEMU's unix:SOCKET (destination)\n"
	"  cancel [VM]          cancel the migration\n"
	"  set KEY=VALUE...     set migration parameters (values sent as strings)\n"
	"  sessions             list the sessions\n"
	"  raw JSON             send one request as given and print the reply\n"
	"\n"
	"options:\n"
	"  --socket PATH        control socket (default $MIGDP_CONTROL_SOCKET,\n"
	"                       else " DEFAULT_SOCKET ")\n"
	"  --json               print the JSON migdp returned instead of text\n"
	"  --timeout SEC        wait at most SEC for the connection and for each\n"
	"                       reply (default 10)\n"
	"  -h, --help           this text\n"
	"\n"
	"exit status: 0 ok (watch: completed), 1 migdp answered with an error or\n"
	"the migration failed or was cancelled, 2 usage error, 3 connection or\n"
	"protocol error\n";

static bool opt_json;
static int opt_timeout_ms = 10000;

struct conn {
	int fd;
	char *buf;
	size_t len, cap;
	json_int_t next_id;
	bool event_seen;	/* an event arrived since the flag was cleared */
	char err[256];		/* why the last read or write failed */
};

/* Helpers */

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static void
complain(const char *fmt, ...)
{
	va_list ap;

	fputs("migctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("migctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n\n", stderr);
	fputs(usage_text, stderr);
	return EXIT_USAGE;
}

static void
print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER |
			     JSON_ENCODE_ANY);

	if (s != NULL)
		puts(s);
	free(s);
}

/* Connection */

static int
conn_open(struct conn *c, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	long deadline = now_ms() + opt_timeout_ms;

	memset(c, 0, sizeof(*c));
	c->next_id = 1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		complain("%s: socket path too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		complain("socket: %s", strerror(errno));
		return -1;
	}
	/* A full backlog says EAGAIN: try again until the deadline. */
	while (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if ((errno != EAGAIN && errno != EINTR) || now_ms() > deadline) {
			complain("cannot connect to %s: %s", path, strerror(errno));
			close(c->fd);
			c->fd = -1;
			return -1;
		}
		usleep(10000);
	}
	return 0;
}

static void
conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	c->fd = -1;
	c->buf = NULL;
}

/* The next line as JSON, waiting until @p deadline (ms, now_ms() clock).
 * NULL with c->err on timeout, end of stream or a line that is not JSON;
 * *@p timed_out (if given) says which. */
static json_t *
conn_read(struct conn *c, long deadline, bool *timed_out)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	json_error_t jerr;
	char *nl;
	json_t *j;
	ssize_t n;
	long left;

	if (timed_out != NULL)
		*timed_out = false;
	for (;;) {
		nl = c->len > 0 ? memchr(c->buf, '\n', c->len) : NULL;
		if (nl != NULL) {
			j = json_loadb(c->buf, nl - c->buf, JSON_DECODE_ANY, &jerr);
			c->len -= nl + 1 - c->buf;
			memmove(c->buf, nl + 1, c->len);
			if (j == NULL)
				snprintf(c->err, sizeof(c->err),
					 "migdp sent something not JSON: %s", jerr.text);
			return j;
		}
		if (c->len + 4096 > c->cap) {
			size_t cap = c->cap > 0 ? c->cap * 2 : 65536;
			char *p = cap <= MAX_REPLY ? realloc(c->buf, cap) : NULL;

			if (p == NULL) {
				snprintf(c->err, sizeof(c->err), "reply too long");
				return NULL;
			}
			c->buf = p;
			c->cap = cap;
		}
		left = deadline - now_ms();
		if (left < 0 || poll(&pfd, 1, left) == 0) {
			if (timed_out != NULL)
				*timed_out = true;
			snprintf(c->err, sizeof(c->err), "migdp did not answer in time");
			return NULL;
		}
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			snprintf(c->err, sizeof(c->err), "connection to migdp lost%s%s",
				 n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
			return NULL;
		}
		c->len += n;
	}
}

static int
conn_write(struct conn *c, const char *text, size_t len)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
	long deadline = now_ms() + opt_timeout_ms;
	ssize_t n;

	while (len > 0) {
		n = send(c->fd, text, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (now_ms() > deadline || poll(&pfd, 1, 100) < 0) {
				snprintf(c->err, sizeof(c->err), "migdp does not read");
				return -1;
			}
			continue;
		}
		if (n < 0) {
			snprintf(c->err, sizeof(c->err), "connection to migdp lost: %s",
				 strerror(errno));
			return -1;
		}
		text += n;
		len -= n;
	}
	return 0;
}

/* Read and check the greeting. */
static int
conn_greeting(struct conn *c)
{
	json_t *g = conn_read(c, now_ms() + opt_timeout_ms, NULL);
	const char *desc;

	if (g == NULL) {
		complain("%s", c->err);
		return -1;
	}
	if (!json_is_object(json_object_get(g, "migdp"))) {
		desc = str(json_object_get(g, "error"), "desc");
		complain("unexpected greeting from migdp%s%s", desc != NULL ? ": " : "",
		      desc != NULL ? desc : "");
		json_decref(g);
		return -1;
	}
	json_decref(g);
	return 0;
}

/* Send @p req (stolen; an "id" is added when it has none) and return the
 * reply to it, skipping events. NULL (message printed) on a connection or
 * protocol error. */
static json_t *
conn_request(struct conn *c, json_t *req)
{
	json_t *id, *r;
	char *text;
	int ret;

	if (json_object_get(req, "id") == NULL)
		json_object_set_new(req, "id", json_integer(c->next_id++));
	id = json_incref(json_object_get(req, "id"));
	text = json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(req);
	if (text == NULL) {
		json_decref(id);
		complain("cannot encode the request");
		return NULL;
	}
	ret = conn_write(c, text, strlen(text));
	if (ret == 0)
		ret = conn_write(c, "\n", 1);
	free(text);
	for (r = NULL; ret == 0;) {
		r = conn_read(c, now_ms() + opt_timeout_ms, NULL);
		if (r == NULL)
			break;
		if (json_object_get(r, "event") != NULL) {
			c->event_seen = true;
		} else if (!json_is_object(r) ||
			   (json_object_get(r, "return") == NULL &&
			    !json_is_object(json_object_get(r, "error")))) {
			snprintf(c->err, sizeof(c->err), "unexpected line from migdp");
			json_decref(r);
			r = NULL;
			break;
		} else if (json_object_get(r, "id") == NULL ||
			   json_equal(json_object_get(r, "id"), id)) {
			break;
		}
		json_decref(r);
	}
	json_decref(id);
	if (r == NULL)
		complain("%s", c->err);
	return r;
}

/* Execute @p name with @p args (stolen, may be NULL). Returns the "return"
 * value (a new reference) or NULL with *@p code: EXIT_REPLY_ERROR (the desc
 * printed) or EXIT_CONN. */
static json_t *
execute(struct conn *c, const char *name, json_t *args, int *code)
{
	json_t *req = json_pack("{s:s}", "execute", name), *r, *ret;
	const char *desc;

	if (args != NULL)
		json_object_set_new(req, "arguments", args);
	r = conn_request(c, req);
	if (r == NULL) {
		*code = EXIT_CONN;
		return NULL;
	}
	ret = json_incref(json_object_get(r, "return"));
	if (ret == NULL) {
		desc = str(json_object_get(r, "error"), "desc");
		complain("%s", desc != NULL ? desc : "error without a description");
		*code = EXIT_REPLY_ERROR;
	}
	json_decref(r);
	return ret;
}

/* Commands */

static json_t *
vm_args(int argc, char **argv)
{
	return argc > 0 ? json_pack("{s:s}", "vm", argv[0]) : NULL;
}

static int
cmd_status(struct conn *c, int argc, char **argv)
{
	int code = 0;
	json_t *r;
	const char *state;

	if (argc > 1)
		return usage_error("status takes at most a VM");
	r = execute(c, "query-migrate", vm_args(argc, argv), &code);
	if (r == NULL)
		return code;
	state = state_of(r);
	if (opt_json)
		print_json(r);
	else if (strcmp(state, "none") == 0)
		printf("no migration\n");
	else
		print_status(r);
	code = is_failure(state) ? EXIT_REPLY_ERROR : 0;
	json_decref(r);
	return code;
}

/* Plain output: a line when the state changes, else when the line changes
 * and a second has passed. */
static void
print_update(const json_t *r, char *last, size_t len, const char *last_state,
	     long *last_ms)
{
	char line[512];

	/* The summary says how it ended. */
	if (is_terminal(state_of(r)) && !opt_json)
		return;
	if (opt_json) {
		char *s = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);

		snprintf(line, sizeof(line), "%s", s != NULL ? s : "");
		free(s);
	} else {
		fmt_plain(line, sizeof(line), r);
	}
	if (strcmp(line, last) == 0)
		return;
	if (strcmp(state_of(r), last_state) == 0 && now_ms() - *last_ms < 1000 &&
	    !is_terminal(state_of(r)))
		return;
	if (opt_json)
		print_json(r);
	else
		puts(line);
	fflush(stdout);
	snprintf(last, len, "%s", line);
	*last_ms = now_ms();
}

static int
cmd_watch(struct conn *c, int argc, char **argv)
{
	bool tty = isatty(STDOUT_FILENO) && !opt_json, timed_out, seen = false;
	char last_line[512] = "", last_state[32] = "", last_phase[32] = "setup";
	unsigned lines = 0;
	long last_ms = 0;
	int code = 0;
	json_t *r, *ev;

	if (argc > 1)
		return usage_error("watch takes at most a VM");
	r = execute(c, "subscribe", NULL, &code);
	if (r == NULL)
		return code;
	json_decref(r);
	for (;;) {
		c->event_seen = false;
		r = execute(c, "query-migrate", vm_args(argc, argv), &code);
		if (r == NULL)
			return code;
		if (strcmp(state_of(r), "none") == 0) {
			complain("%s", seen ? "the migration session is gone" :
				 "no migration");
			json_decref(r);
			return EXIT_REPLY_ERROR;
		}
		seen = true;
		if (phase_index(state_of(r)) >= 0)
			snprintf(last_phase, sizeof(last_phase), "%s", state_of(r));
		if (tty)
			lines = draw_live(r, last_phase, lines);
		else
			print_update(r, last_line, sizeof(last_line), last_state,
				     &last_ms);
		snprintf(last_state, sizeof(last_state), "%s", state_of(r));
		if (is_terminal(state_of(r)))
			break;
		json_decref(r);
		/* Until the next period, or at once after an event. */
		if (c->event_seen)
			continue;
		ev = conn_read(c, now_ms() + WATCH_PERIOD_MS, &timed_out);
		if (ev == NULL && !timed_out) {
			complain("%s", c->err);
			return EXIT_CONN;
		}
		json_decref(ev);
	}
	if (!opt_json)
		print_summary(r);
	code = is_failure(state_of(r)) ? EXIT_REPLY_ERROR : 0;
	json_decref(r);
	return code;
}

/* The "return" of a simple command: "ok" for {}, key: value lines for an
 * object, else its JSON. */
static void
print_return(const json_t *ret)
{
	const char *key;
	json_t *v;
	char *s;

	if (opt_json || !json_is_object(ret)) {
		print_json(ret);
		return;
	}
	if (json_object_size(ret) == 0) {
		printf("ok\n");
		return;
	}
	json_object_foreach((json_t *)ret, key, v) {
		if (json_is_string(v)) {
			printf("%s: %s\n", key, json_string_value(v));
			continue;
		}
		s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_PRESERVE_ORDER);
		printf("%s: %s\n", key, s != NULL ? s : "?");
		free(s);
	}
}

static int
run_simple(struct conn *c, const char *name, json_t *args)
{
	int code = 0;
	json_t *r = execute(c, name, args, &code);

	if (r == NULL)
		return code;
	print_return(r);
	json_decref(r);
	return 0;
}

static int
cmd_set(struct conn *c, int argc, char **argv)
{
	json_t *args;
	char *eq;
	int i;

	args = json_object();
	for (i = 0; i < argc; i++) {
		eq = strchr(argv[i], '=');
		*eq = '\0';	/* checked by check_args() */
		json_object_set_new(args, argv[i], json_string(eq + 1));
	}
	return run_simple(c, "migrate-set-parameters", args);
}

static int
cmd_sessions(struct conn *c)
{
	json_t *r, *list, *e;
	double t, d;
	int code = 0;
	size_t i;

	r = execute(c, "query-sessions", NULL, &code);
	if (r == NULL)
		return code;
	list = json_object_get(r, "sessions");
	if (opt_json) {
		print_json(r);
	} else if (json_array_size(list) == 0) {
		printf("no sessions\n");
	} else {
		printf("%-16s %-12s %-11s %-12s %5s %8s\n", "ID", "VM", "ROLE",
		       "STATE", "ROUND", "PROGRESS");
		json_array_foreach(list, i, e) {
			printf("%-16s %-12s %-11s %-12s",
			       str_or(e, "id", "-"),
			       str_or(e, "vm", "-"),
			       str_or(e, "role", "-"),
			       str_or(e, "state", "-"));
			print_col(e, "round", 5, 0, 1);
			if (num(e, "pages_total", &t) && num(e, "pages_transferred", &d) &&
			    t > 0)
				printf(" %7.0f%%\n", 100 * (d < t ? d : t) / t);
			else
				printf(" %8s\n", "-");
		}
	}
	json_decref(r);
	return 0;
}

static int
cmd_raw(struct conn *c, const char *text)
{
	json_error_t jerr;
	json_t *req = json_loads(text, 0, &jerr), *r;
	const char *desc;
	char *s;
	int code;

	if (!json_is_object(req)) {
		json_decref(req);
		return usage_error("raw needs a JSON object: %s",
				   req == NULL ? jerr.text : "not an object");
	}
	r = conn_request(c, req);
	if (r == NULL)
		return EXIT_CONN;
	s = json_dumps(r, JSON_PRESERVE_ORDER |
		       (opt_json ? JSON_COMPACT : JSON_INDENT(2)));
	if (s != NULL)
		puts(s);
	free(s);
	code = json_object_get(r, "return") != NULL ? 0 : EXIT_REPLY_ERROR;
	desc = str(json_object_get(r, "error"), "desc");
	if (desc != NULL)
		complain("%s", desc);
	json_decref(r);
	return code;
}

/* Check the arguments of @p cmd before connecting: 0 or a usage error. */
static int
check_args(const char *cmd, int argc, char **argv)
{
	static const struct {
		const char *name;
		int min, max;
	} table[] = {
		{"status", 0, 1}, {"watch", 0, 1}, {"migrate", 2, 2},
		{"incoming", 1, 1}, {"stream", 3, 3}, {"stream-incoming", 2, 2},
		{"cancel", 0, 1}, {"set", 1, 1 << 20},
		{"sessions", 0, 0}, {"raw", 1, 1},
	};
	unsigned i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(cmd, table[i].name) != 0)
			continue;
		if (argc < table[i].min || argc > table[i].max)
			return usage_error("wrong number of arguments for %s", cmd);
		for (; strcmp(cmd, "set") == 0 && argc > 0; argc--, argv++)
			if (strchr(argv[0], '=') == NULL || argv[0][0] == '=')
				return usage_error("'%s' is not KEY=VALUE", argv[0]);
		return 0;
	}
	return usage_error("unknown command '%s'", cmd);
}

static int
dispatch(struct conn *c, const char *cmd, int argc, char **argv)
{
	if (strcmp(cmd, "status") == 0)
		return cmd_status(c, argc, argv);
	if (strcmp(cmd, "watch") == 0)
		return cmd_watch(c, argc, argv);
	if (strcmp(cmd, "migrate") == 0)
		return run_simple(c, "migrate", json_pack("{s:s,s:s}", "vm", argv[0],
							  "peer", argv[1]));
	if (strcmp(cmd, "stream") == 0)
		return run_simple(c, "migrate-stream", json_pack("{s:s,s:s,s:s}", "name", argv[0],
								 "peer", argv[1], "socket", argv[2]));
	if (strcmp(cmd, "stream-incoming") == 0)
		return run_simple(c, "migrate-stream-incoming",
				  json_pack("{s:s,s:s}", "name", argv[0], "socket", argv[1]));
	if (strcmp(cmd, "incoming") == 0)
		return run_simple(c, "migrate-incoming", vm_args(argc, argv));
	if (strcmp(cmd, "cancel") == 0)
		return run_simple(c, "migrate-cancel", vm_args(argc, argv));
	if (strcmp(cmd, "set") == 0)
		return cmd_set(c, argc, argv);
	if (strcmp(cmd, "sessions") == 0)
		return cmd_sessions(c);
	return cmd_raw(c, argv[0]);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = getenv("MIGDP_CONTROL_SOCKET");
	struct conn c;
	double sec;
	char *end;
	int opt, code;

	if (path == NULL || path[0] == '\0')
		path = DEFAULT_SOCKET;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 'j':
			opt_json = true;
			break;
		case 't':
			sec = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(sec > 0) || sec > 86400)
				return usage_error("--timeout wants seconds, not '%s'",
						   optarg);
			opt_timeout_ms = (int)(sec * 1000 + 0.5);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("no command");
	code = check_args(argv[optind], argc - optind - 1, argv + optind + 1);
	if (code != 0)
		return code;
	if (conn_open(&c, path) < 0)
		return EXIT_CONN;
	if (conn_greeting(&c) < 0) {
		conn_close(&c);
		return EXIT_CONN;
	}
	code = dispatch(&c, argv[optind], argc - optind - 1, argv + optind + 1);
	conn_close(&c);
	return code;
}
