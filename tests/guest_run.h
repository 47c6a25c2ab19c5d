/* SPDX-License-Identifier: BSD-3-Clause */
/* lab/migguest as a real process for the tests that play migdp: start it,
 * wait for its exit and its JSON line, send it events. */
#ifndef GUEST_RUN_H
#define GUEST_RUN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "migshim.h"

struct guest_run {
	pid_t pid;
	int out; /* its stdout */
	int status;
	json_t *json; /* its last line */
};

/* A socket path of its own for each call. */
void sock_path(char *buf, size_t len);
/* Start migguest with the NULL-terminated @p args (after argv[0]). */
void start(struct guest_run *g, const char *const *args);
/* Wait up to @p ms for the exit; read and parse the last stdout line.
 * @return 0, or -1 when it did not exit in time (it is killed). */
int finish(struct guest_run *g, int ms);
int exit_code(const struct guest_run *g);
/* Fields of the JSON line ("" / 0 when absent). */
const char *jstr(const struct guest_run *g, const char *key);
long long jint(const struct guest_run *g, const char *key);
/* Send an event; a CUnit assertion that it went. */
void send_event(struct migshim_session *ss, uint32_t type, uint32_t value,
		uint64_t arg, const char *reason);

/* The live suite (test_migguest_live.c). */
int migguest_live_suite(void);

#endif /* GUEST_RUN_H */
