/* SPDX-License-Identifier: BSD-3-Clause */
/* migctl as a real process against a control socket served by a thread of
 * this test with canned replies (query-migrate: precopy, then completed,
 * failed or the server gone): exit codes, status --json, the plain lines and
 * summary of watch when stdout is not a terminal, the requests it sends. */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctlsock.h"
#include "cu_main.h"

#ifndef MIGCTL_PATH
#error "MIGCTL_PATH must name the migctl executable"
#endif

static const char precopy_reply[] =
	"{\"id\":\"0123abcd\",\"vm\":\"guest1\",\"role\":\"source\","
	"\"state\":\"precopy\",\"round\":3,\"reason\":\"\","
	"\"pages\":{\"total\":262144,\"transferred\":300000,\"remaining\":1200,"
	"\"round_total\":262144,\"round_done\":207872},"
	"\"bytes\":{\"guest\":1228800000,\"wire\":900000000},"
	"\"dirty_rate_pps\":5100.0,\"bandwidth_bps\":9.8e9,"
	"\"expected_downtime_ms\":12.5,\"compression_ratio\":1.36,"
	"\"throttle_pct\":0,\"total_ms\":1234.5,\"downtime_ms\":null,"
	"\"downtime\":{\"final_pass_ms\":null,\"device_state_ms\":null,\"commit_ms\":null},"
	"\"parameters\":{\"downtime-limit\":300,\"max-bandwidth\":0,\"max-rounds\":30,"
	"\"auto-converge\":false,\"throttle-initial\":20,\"throttle-step\":10},"
	"\"rounds\":[{\"round\":1,\"pages\":262144,\"wire_bytes\":800000000,"
	"\"ms\":900.0,\"bandwidth_bps\":9.5e9,\"dirty_rate_pps\":6000.0}],"
	"\"channels\":[{\"id\":0,\"frames\":120000,\"retransmits\":3,"
	"\"wire_bytes\":900000000,\"state\":\"running\"}],"
	"\"transitions\":[{\"from\":\"setup\",\"to\":\"handshake\",\"event\":\"start\","
	"\"round\":0,\"ms\":0.0,\"reason\":\"\"}]}";

static const char completed_reply[] =
	"{\"id\":\"0123abcd\",\"vm\":\"guest1\",\"role\":\"source\","
	"\"state\":\"completed\",\"round\":4,\"reason\":\"\","
	"\"pages\":{\"total\":262144,\"transferred\":310000,\"remaining\":0},"
	"\"bytes\":{\"guest\":1269760000,\"wire\":930000000},"
	"\"compression_ratio\":1.36,\"total_ms\":1500.0,\"downtime_ms\":45.5,"
	"\"downtime\":{\"final_pass_ms\":20.0,\"device_state_ms\":15.0,\"commit_ms\":10.5}}";

static const char failed_reply[] =
	"{\"id\":\"0123abcd\",\"vm\":\"guest1\",\"role\":\"source\","
	"\"state\":\"failed\",\"round\":3,\"reason\":\"peer went away\","
	"\"total_ms\":1300.0}";

enum scenario {
	SC_COMPLETE,	/* precopy twice, then completed */
	SC_FAIL,	/* precopy once, then failed */
	SC_LOST,	/* precopy once, then the server closes */
	SC_NONE,	/* no session */
	SC_CANCELLED,	/* cancelled from the start */
};

static struct {
	pthread_mutex_t lock;
	enum scenario sc;
	int queries;
	bool stop, die, emit;
	json_t *last_args;	/* of the last command other than query-* */
	char last_cmd[64];
} srv = {.lock = PTHREAD_MUTEX_INITIALIZER};

static char sock[64];
static struct migdp_ctlsock *ctl;
static pthread_t thread;

struct run {
	int status;	/* exit code, or -1 */
	char out[65536];
	char err[16384];
};

/* The server's commands */

static json_t *
canned(const char *text)
{
	return json_loads(text, 0, NULL);
}

static json_t *
cmd_query_migrate(void *arg, json_t *args, char *err, size_t errlen)
{
	int n;

	(void)arg;
	(void)args;
	(void)err;
	(void)errlen;
	pthread_mutex_lock(&srv.lock);
	n = ++srv.queries;
	srv.emit = true;
	if (srv.sc == SC_LOST && n >= 2)
		srv.die = true;
	pthread_mutex_unlock(&srv.lock);
	switch (srv.sc) {
	case SC_COMPLETE:
		return canned(n <= 2 ? precopy_reply : completed_reply);
	case SC_FAIL:
		return canned(n <= 1 ? precopy_reply : failed_reply);
	case SC_LOST:
		return canned(precopy_reply);
	case SC_NONE:
		return json_pack("{s:s}", "state", "none");
	case SC_CANCELLED:
		return json_pack("{s:s,s:s}", "state", "cancelled", "reason",
				 "cancelled by the operator");
	}
	return NULL;
}

static json_t *
record(const char *name, json_t *args)
{
	pthread_mutex_lock(&srv.lock);
	json_decref(srv.last_args);
	srv.last_args = json_deep_copy(args);
	snprintf(srv.last_cmd, sizeof(srv.last_cmd), "%s", name);
	pthread_mutex_unlock(&srv.lock);
	return json_object();
}

static json_t *
cmd_migrate(void *arg, json_t *args, char *err, size_t errlen)
{
	json_t *r;

	(void)arg;
	if (strcmp(json_string_value(json_object_get(args, "vm")), "bad") == 0) {
		snprintf(err, errlen, "no such vm 'bad'");
		return NULL;
	}
	r = record("migrate", args);
	json_object_set_new(r, "id", json_string("0123abcd"));
	return r;
}

static json_t *
cmd_incoming(void *arg, json_t *args, char *err, size_t errlen)
{
	(void)arg;
	(void)err;
	(void)errlen;
	return record("migrate-incoming", args);
}

static json_t *
cmd_cancel(void *arg, json_t *args, char *err, size_t errlen)
{
	(void)arg;
	(void)err;
	(void)errlen;
	return record("migrate-cancel", args);
}

static json_t *
cmd_set(void *arg, json_t *args, char *err, size_t errlen)
{
	(void)arg;
	(void)err;
	(void)errlen;
	return record("migrate-set-parameters", args);
}

static json_t *
cmd_sessions(void *arg, json_t *args, char *err, size_t errlen)
{
	(void)arg;
	(void)args;
	(void)err;
	(void)errlen;
	return canned("{\"sessions\":[{\"id\":\"0123abcd\",\"vm\":\"guest1\","
		      "\"role\":\"source\",\"state\":\"precopy\",\"round\":3,"
		      "\"pages_total\":1000,\"pages_transferred\":790},"
		      "{\"id\":\"4567ef01\",\"vm\":\"guest2\",\"role\":\"destination\","
		      "\"state\":\"handshake\",\"round\":0}]}");
}

static const struct migdp_ctl_command cmds[] = {
	{"query-migrate", cmd_query_migrate, "the migration's state"},
	{"migrate", cmd_migrate, "start"},
	{"migrate-incoming", cmd_incoming, "receive"},
	{"migrate-cancel", cmd_cancel, "cancel"},
	{"migrate-set-parameters", cmd_set, "parameters"},
	{"query-sessions", cmd_sessions, "sessions"},
};

/* The server thread: poll, send an event after each query, close the
 * socket when the scenario says so. */
static void *
serve(void *unused)
{
	bool stop, die, emit;

	(void)unused;
	for (;;) {
		migdp_ctlsock_poll(ctl, 10);
		pthread_mutex_lock(&srv.lock);
		stop = srv.stop;
		die = srv.die;
		emit = srv.emit;
		srv.emit = false;
		pthread_mutex_unlock(&srv.lock);
		if (emit)
			migdp_ctlsock_event(ctl, "MIGRATION",
					    json_pack("{s:s}", "state", "precopy"));
		if (stop || die)
			break;
	}
	migdp_ctlsock_close(ctl);
	ctl = NULL;
	return NULL;
}

static void
server_start(enum scenario sc)
{
	srv.sc = sc;
	srv.queries = 0;
	srv.stop = srv.die = srv.emit = false;
	json_decref(srv.last_args);
	srv.last_args = NULL;
	srv.last_cmd[0] = '\0';
	ctl = migdp_ctlsock_open(sock, cmds, sizeof(cmds) / sizeof(cmds[0]), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctl);
	CU_ASSERT_FATAL(pthread_create(&thread, NULL, serve, NULL) == 0);
}

static void
server_stop(void)
{
	pthread_mutex_lock(&srv.lock);
	srv.stop = true;
	pthread_mutex_unlock(&srv.lock);
	pthread_join(thread, NULL);
}

/* Running migctl */

/* Read what @p fd has; false at end of file. */
static bool
drain(int fd, char *buf, size_t cap, size_t *len)
{
	char sink[4096];
	ssize_t n;

	if (*len + 1 < cap)
		n = read(fd, buf + *len, cap - 1 - *len);
	else
		n = read(fd, sink, sizeof(sink));
	if (n > 0 && *len + 1 < cap)
		*len += n;
	buf[*len] = '\0';
	return n > 0 || (n < 0 && errno == EINTR);
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Run migctl with the NULL-terminated @p args; @p env_socket: the value of
 * MIGDP_CONTROL_SOCKET for it (NULL: unset). Waits up to 10 s for it to
 * close its output, then kills it. */
static void
run_migctl(struct run *r, const char *env_socket, const char *const *args)
{
	const char *argv[32] = {MIGCTL_PATH};
	size_t olen = 0, elen = 0;
	struct pollfd pfd[2];
	long deadline = now_ms() + 10000;
	int out[2], err[2], i, st, open_fds = 2;
	pid_t pid;

	for (i = 0; args[i] != NULL && i < 30; i++)
		argv[i + 1] = args[i];
	memset(r, 0, sizeof(*r));
	r->status = -1;
	CU_ASSERT_FATAL(pipe(out) == 0 && pipe(err) == 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		close(out[0]);
		close(err[0]);
		if (env_socket != NULL)
			setenv("MIGDP_CONTROL_SOCKET", env_socket, 1);
		else
			unsetenv("MIGDP_CONTROL_SOCKET");
		execv(MIGCTL_PATH, (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	pfd[0] = (struct pollfd){.fd = out[0], .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = err[0], .events = POLLIN};
	while (open_fds > 0 && now_ms() < deadline) {
		if (poll(pfd, 2, 100) <= 0)
			continue;
		if (pfd[0].revents && !drain(out[0], r->out, sizeof(r->out), &olen)) {
			pfd[0].fd = -1;
			open_fds--;
		}
		if (pfd[1].revents && !drain(err[0], r->err, sizeof(r->err), &elen)) {
			pfd[1].fd = -1;
			open_fds--;
		}
	}
	if (open_fds > 0)
		kill(pid, SIGKILL);
	if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) && open_fds == 0)
		r->status = WEXITSTATUS(st);
	close(out[0]);
	close(err[0]);
}

#define MIGCTL(r, ...) run_migctl((r), NULL, \
	(const char *const[]){"--socket", sock, __VA_ARGS__, NULL})

/* The last line of @p text. */
static const char *
last_line(char *text)
{
	size_t len = strlen(text);
	char *p;

	while (len > 0 && text[len - 1] == '\n')
		text[--len] = '\0';
	p = strrchr(text, '\n');
	return p != NULL ? p + 1 : text;
}

/* Tests */

static void
test_watch_completed(void)
{
	struct run r;

	server_start(SC_COMPLETE);
	MIGCTL(&r, "watch");
	server_stop();
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT(strncmp(r.out, "precopy round 3: 812/1024 MiB 79% 9.8 Gb/s eta ",
			  47) == 0);
	CU_ASSERT(strstr(r.out, "expected-downtime 12 ms dirty 5.1 kpages/s\n") != NULL);
	CU_ASSERT(strchr(r.out, '\033') == NULL);
	CU_ASSERT_STRING_EQUAL(last_line(r.out),
		"completed after 1.5 s, downtime 45.5 ms, 4 rounds, 1211 MiB guest, "
		"887 MiB on the wire (ratio 1.36)");
	CU_ASSERT(srv.queries >= 3);
	if (r.status != 0)
		printf("\nstdout:\n%s\nstderr:\n%s\n", r.out, r.err);
}

static void
test_watch_failed(void)
{
	struct run r;

	server_start(SC_FAIL);
	MIGCTL(&r, "watch");
	server_stop();
	CU_ASSERT_EQUAL(r.status, 1);
	CU_ASSERT(strncmp(r.out, "precopy round 3:", 16) == 0);
	CU_ASSERT_STRING_EQUAL(last_line(r.out), "failed after 1.3 s: peer went away");
}

static void
test_watch_connection_lost(void)
{
	struct run r;

	server_start(SC_LOST);
	MIGCTL(&r, "watch");
	server_stop();
	CU_ASSERT_EQUAL(r.status, 3);
	CU_ASSERT(strstr(r.err, "migctl: connection to migdp lost") != NULL);
}

static void
test_watch_json(void)
{
	struct run r;
	json_t *j;

	server_start(SC_COMPLETE);
	MIGCTL(&r, "--json", "watch");
	server_stop();
	CU_ASSERT_EQUAL(r.status, 0);
	j = json_loads(last_line(r.out), 0, NULL);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "state")),
			       "completed");
	json_decref(j);
}

static void
test_status_json(void)
{
	json_t *got, *want;
	struct run r;

	server_start(SC_COMPLETE);
	MIGCTL(&r, "--json", "status");
	server_stop();
	CU_ASSERT_EQUAL(r.status, 0);
	got = json_loads(r.out, 0, NULL);
	want = json_loads(precopy_reply, 0, NULL);
	CU_ASSERT_PTR_NOT_NULL(got);
	CU_ASSERT(json_equal(got, want));
	json_decref(got);
	json_decref(want);
}

static void
test_status_human(void)
{
	struct run r;

	server_start(SC_COMPLETE);
	MIGCTL(&r, "status");
	server_stop();
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT(strstr(r.out, "session 0123abcd  vm guest1  role source\n") != NULL);
	CU_ASSERT(strstr(r.out, "state: precopy round 3: 812/1024 MiB 79%") != NULL);
	CU_ASSERT(strstr(r.out, "parameters: downtime-limit=300") != NULL);
	CU_ASSERT(strstr(r.out, "rounds:") != NULL);
	CU_ASSERT(strstr(r.out, "channels:") != NULL);
}

static void
test_status_none(void)
{
	struct run r;

	server_start(SC_NONE);
	MIGCTL(&r, "status");
	server_stop();
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.out, "no migration\n");
}

static void
test_status_cancelled(void)
{
	struct run r;

	server_start(SC_CANCELLED);
	MIGCTL(&r, "status");
	server_stop();
	CU_ASSERT_EQUAL(r.status, 1);
	CU_ASSERT(strstr(r.out, "reason: cancelled by the operator") != NULL);
}

static void
test_usage_errors(void)
{
	static const char *const cases[][4] = {
		{NULL}, {"bogus", NULL}, {"migrate", "vm", NULL},
		{"migrate", "a", "b", "c"}, {"--timeout", "x", "status", NULL},
		{"--bogus", "status", NULL}, {"set", "novalue", NULL},
		{"set", NULL}, {"raw", "{not json", NULL}, {"incoming", NULL},
	};
	const char *args[8];
	struct run r;
	unsigned i, j;

	server_start(SC_COMPLETE);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		args[0] = "--socket";
		args[1] = sock;
		for (j = 0; j < 4 && cases[i][j] != NULL; j++)
			args[2 + j] = cases[i][j];
		args[2 + j] = NULL;
		run_migctl(&r, NULL, args);
		CU_ASSERT_EQUAL(r.status, 2);
		CU_ASSERT(strstr(r.err, "usage: migctl") != NULL);
		if (r.status != 2)
			printf("\ncase %u: status %d\n", i, r.status);
	}
	server_stop();
	run_migctl(&r, NULL, (const char *const[]){"--help", NULL});
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT(strncmp(r.out, "usage: migctl", 13) == 0);
}

static void
test_no_socket(void)
{
	struct run r;

	run_migctl(&r, NULL, (const char *const[]){"--socket",
		   "/tmp/migctl-test-nonexistent.sock", "status", NULL});
	CU_ASSERT_EQUAL(r.status, 3);
	CU_ASSERT(strstr(r.err, "migctl: cannot connect") != NULL);
	run_migctl(&r, "/tmp/migctl-test-nonexistent.sock",
		   (const char *const[]){"watch", NULL});
	CU_ASSERT_EQUAL(r.status, 3);
	CU_ASSERT(strstr(r.err, "nonexistent") != NULL);
}

static void
test_env_socket(void)
{
	struct run r;

	server_start(SC_NONE);
	run_migctl(&r, sock, (const char *const[]){"status", NULL});
	server_stop();
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.out, "no migration\n");
}

static void
test_migrate(void)
{
	json_t *want;
	struct run r;

	server_start(SC_COMPLETE);
	MIGCTL(&r, "migrate", "guest1", "10.0.0.2");
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.out, "id: 0123abcd\n");
	CU_ASSERT_STRING_EQUAL(srv.last_cmd, "migrate");
	want = json_pack("{s:s,s:s}", "vm", "guest1", "peer", "10.0.0.2");
	CU_ASSERT(json_equal(srv.last_args, want));
	json_decref(want);
	MIGCTL(&r, "migrate", "bad", "10.0.0.2");
	CU_ASSERT_EQUAL(r.status, 1);
	CU_ASSERT_STRING_EQUAL(r.err, "migctl: no such vm 'bad'\n");
	MIGCTL(&r, "incoming", "guest1");
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(r.out, "ok\n");
	CU_ASSERT_STRING_EQUAL(srv.last_cmd, "migrate-incoming");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(srv.last_args, "vm")),
			       "guest1");
	MIGCTL(&r, "cancel");
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(srv.last_cmd, "migrate-cancel");
	CU_ASSERT_EQUAL(json_object_size(srv.last_args), 0);
	server_stop();
}

static void
test_set_strings(void)
{
	json_t *want;
	struct run r;

	server_start(SC_COMPLETE);
	MIGCTL(&r, "set", "downtime-limit=300", "auto-converge=true", "x=");
	server_stop();
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT_STRING_EQUAL(srv.last_cmd, "migrate-set-parameters");
	want = json_pack("{s:s,s:s,s:s}", "downtime-limit", "300",
			 "auto-converge", "true", "x", "");
	CU_ASSERT(json_equal(srv.last_args, want));
	json_decref(want);
}

static void
test_sessions(void)
{
	struct run r;

	server_start(SC_COMPLETE);
	MIGCTL(&r, "sessions");
	server_stop();
	CU_ASSERT_EQUAL(r.status, 0);
	CU_ASSERT(strncmp(r.out, "ID ", 3) == 0);
	CU_ASSERT(strstr(r.out, "guest1") != NULL);
	CU_ASSERT(strstr(r.out, "     79%\n") != NULL);
	CU_ASSERT(strstr(r.out, "destination") != NULL);
	CU_ASSERT(strstr(r.out, "        -\n") != NULL);
}

static void
test_raw(void)
{
	struct run r;
	json_t *j;

	server_start(SC_COMPLETE);
	MIGCTL(&r, "--json", "raw", "{\"execute\":\"query-sessions\",\"id\":\"r1\"}");
	CU_ASSERT_EQUAL(r.status, 0);
	j = json_loads(r.out, 0, NULL);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "id")), "r1");
	CU_ASSERT(json_is_array(json_object_get(json_object_get(j, "return"),
						"sessions")));
	json_decref(j);
	MIGCTL(&r, "raw", "{\"execute\":\"nope\"}");
	CU_ASSERT_EQUAL(r.status, 1);
	CU_ASSERT(strstr(r.out, "CommandNotFound") != NULL);
	CU_ASSERT(strstr(r.err, "migctl: unknown command 'nope'") != NULL);
	server_stop();
}

static int
suite_init(void)
{
	snprintf(sock, sizeof(sock), "/tmp/migctl-test-%d.sock", (int)getpid());
	return 0;
}

static int
suite_cleanup(void)
{
	json_decref(srv.last_args);
	srv.last_args = NULL;
	unlink(sock);
	return 0;
}

int
main(void)
{
	static const struct cu_test tests[] = {
		{"watch_completed", test_watch_completed},
		{"watch_failed", test_watch_failed},
		{"watch_connection_lost", test_watch_connection_lost},
		{"watch_json", test_watch_json},
		{"status_json", test_status_json},
		{"status_human", test_status_human},
		{"status_none", test_status_none},
		{"status_cancelled", test_status_cancelled},
		{"usage_errors", test_usage_errors},
		{"no_socket", test_no_socket},
		{"env_socket", test_env_socket},
		{"migrate", test_migrate},
		{"set_strings", test_set_strings},
		{"sessions", test_sessions},
		{"raw", test_raw},
		{NULL, NULL},
	};

	if (access(MIGCTL_PATH, X_OK) < 0)
		cu_skip("migctl is not built");
	if (cu_add_suite("control", suite_init, suite_cleanup, tests) < 0)
		return 1;
	return cu_run();
}
