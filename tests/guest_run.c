/* SPDX-License-Identifier: BSD-3-Clause */
/* lab/migguest as a real process: see guest_run.h. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cu_main.h"
#include "guest_run.h"

#ifndef MIGGUEST_PATH
#error "MIGGUEST_PATH must name the migguest executable"
#endif

void
sock_path(char *buf, size_t len)
{
	static unsigned n;

	snprintf(buf, len, "/tmp/migguest-test-%d-%u.sock", (int)getpid(), n++);
}

/* Start migguest with the NULL-terminated @p args (after argv[0]). */
void
start(struct guest_run *g, const char *const *args)
{
	const char *argv[32] = {MIGGUEST_PATH};
	int p[2], i;

	for (i = 0; args[i] != NULL && i < 30; i++)
		argv[i + 1] = args[i];
	memset(g, 0, sizeof(*g));
	CU_ASSERT_FATAL(pipe(p) == 0);
	g->pid = fork();
	CU_ASSERT_FATAL(g->pid >= 0);
	if (g->pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		close(p[0]);
		close(p[1]);
		execv(MIGGUEST_PATH, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	g->out = p[0];
}

/* Wait up to @p ms for the exit; read and parse the last stdout line.
 * @return 0, or -1 when it did not exit in time (it is killed). */
int
finish(struct guest_run *g, int ms)
{
	char buf[8192], *last;
	size_t len = 0;
	ssize_t n;
	int i;

	for (i = 0; i < ms / 10; i++) {
		if (waitpid(g->pid, &g->status, WNOHANG) == g->pid)
			break;
		usleep(10000);
	}
	if (i == ms / 10) {
		kill(g->pid, SIGKILL);
		waitpid(g->pid, &g->status, 0);
		close(g->out);
		return -1;
	}
	while (len < sizeof(buf) - 1 &&
	       (n = read(g->out, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(g->out);
	buf[len] = '\0';
	while (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	last = strrchr(buf, '\n');
	g->json = json_loads(last ? last + 1 : buf, 0, NULL);
	return 0;
}

int
exit_code(const struct guest_run *g)
{
	return WIFEXITED(g->status) ? WEXITSTATUS(g->status) : -1;
}

const char *
jstr(const struct guest_run *g, const char *key)
{
	const char *s = json_string_value(json_object_get(g->json, key));

	return s != NULL ? s : "";
}

long long
jint(const struct guest_run *g, const char *key)
{
	return json_integer_value(json_object_get(g->json, key));
}

void
send_event(struct migshim_session *ss, uint32_t type, uint32_t value,
	   uint64_t arg, const char *reason)
{
	struct migshim_event ev = {.type = type, .value = value, .arg = arg};

	snprintf(ev.reason, sizeof(ev.reason), "%s", reason);
	CU_ASSERT_EQUAL(migshim_session_send_event(ss, &ev), 0);
}

