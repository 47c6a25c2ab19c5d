/* SPDX-License-Identifier: BSD-3-Clause */
/* Region handoff between real processes over a Unix socket, every bad
 * layout refused with its reason and nothing mapped, events both ways. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cu_main.h"
#include "shim_fixture.h"

#define MB (1024ull * 1024)

/* Wait up to 10 s for an event of @p type; returns 0 or -1. */
static int
wait_event(struct migshim_client *c, uint32_t type, struct migshim_event *ev)
{
	struct pollfd pfd = {.fd = migshim_client_fd(c), .events = POLLIN};
	int i, r;

	for (i = 0; i < 1000; i++) {
		r = migshim_client_poll_event(c, ev);
		if (r == 0)
			return ev->type == type ? 0 : -1;
		if (r != -EAGAIN)
			return -1;
		poll(&pfd, 1, 10);
	}
	return -1;
}

/* Child: a source hypervisor with two regions; pushes two descriptors and
 * an end-of-round marker, then waits for COMPLETED. */
static int
source_hypervisor(const char *path)
{
	struct migshim_client_params p = {.role = MIGSHIM_ROLE_SOURCE, .nrings = 2};
	struct migshim_desc d1 = {.gpa = 0, .npages = 4};
	struct migshim_desc d2 = {.gpa = 4 * MB, .npages = 1};
	struct migshim_event ev;
	struct migshim_client *c = migshim_client_create(&p);
	int fd1 = fx_memfd(2 * MB, 1), fd2 = fx_memfd(1 * MB, 2);
	char err[256];
	int i, r = -1;

	if (c == NULL || fd1 < 0 || fd2 < 0 ||
	    migshim_client_add_region(c, fd1, 0, 0, 2 * MB) < 0 ||
	    migshim_client_add_region(c, fd2, 0, 4 * MB, 1 * MB) < 0)
		return 2;
	for (i = 0; i < 100 && r < 0; i++) { /* the server may not listen yet */
		r = migshim_client_connect(c, path, 5000, err, sizeof(err));
		if (r < 0)
			usleep(20000);
	}
	if (r < 0)
		return 3;
	if (migshim_client_push(c, &d1) < 0 || migshim_client_push(c, &d2) < 0 ||
	    migshim_client_end_round(c, 1, true) < 0)
		return 4;
	if (wait_event(c, MIGSHIM_EV_COMPLETED, &ev) < 0 || ev.arg != 42)
		return 5;
	migshim_client_destroy(c);
	return 0;
}

static void
test_source_two_processes(void)
{
	char path[108];
	struct migshim_server *s;
	struct migshim_session *ss;
	struct migshim_region_info ri;
	struct migshim_desc out[8];
	struct migshim_event ev = {.type = MIGSHIM_EV_COMPLETED, .arg = 42};
	unsigned got = 0, i, n, markers = 0, tries;
	size_t bad = 0, k;
	int status;
	pid_t pid;

	fx_socket_path(path, sizeof(path));
	s = migshim_server_create(path, MIGSHIM_ROLE_SOURCE, 0);
	CU_ASSERT_FATAL(s != NULL);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0)
		_exit(source_hypervisor(path));
	ss = migshim_server_accept(s, 10000);
	CU_ASSERT_FATAL(ss != NULL);
	CU_ASSERT_EQUAL(migshim_session_nregions(ss), 2);
	CU_ASSERT_EQUAL(migshim_session_nrings(ss), 2);
	CU_ASSERT_EQUAL(migshim_session_role(ss), MIGSHIM_ROLE_SOURCE);
	/* The server sees exactly the bytes the hypervisor wrote. */
	for (i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL_FATAL(migshim_session_region(ss, i, &ri), 0);
		for (k = 0; k < ri.size; k++)
			bad += ((unsigned char *)ri.hva)[k] != fx_pattern(i + 1, k);
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(migshim_session_region(ss, 2, &ri), -ERANGE);
	/* Two descriptors (one per ring: 0 and 4 MiB lie in blocks 0 and 2,
	 * both ring 0 of 2 rings) and two markers. */
	for (tries = 0; tries < 1000 && got + markers < 4; tries++) {
		for (i = 0; i < 2; i++) {
			n = migshim_session_pop(ss, i, out, 8);
			for (unsigned j = 0; j < n; j++) {
				if (out[j].flags & MIGSHIM_DESC_END_OF_ROUND) {
					CU_ASSERT_EQUAL(out[j].gpa, 1);
					CU_ASSERT(out[j].flags & MIGSHIM_DESC_FINAL);
					markers++;
				} else {
					CU_ASSERT_EQUAL(i, 0);
					got++;
				}
			}
		}
		usleep(1000);
	}
	CU_ASSERT_EQUAL(got, 2);
	CU_ASSERT_EQUAL(markers, 2);
	CU_ASSERT_EQUAL(migshim_session_send_event(ss, &ev), 0);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The hypervisor is gone now. */
	CU_ASSERT(migshim_session_peer_gone(ss));
	migshim_session_close(ss);
	migshim_server_destroy(s);
	CU_ASSERT_EQUAL(access(path, F_OK), -1);
}

/* Child: a destination hypervisor; after COMPLETED its memory must hold
 * what migdp wrote. */
static int
destination_hypervisor(const char *path)
{
	struct migshim_client_params p = {.role = MIGSHIM_ROLE_DESTINATION};
	struct migshim_client *c = migshim_client_create(&p);
	struct migshim_event ev;
	int fd = fx_memfd(3 * MB, 0);
	unsigned char *mem;
	char err[256];
	int i, r = -1;
	size_t k;

	if (c == NULL || fd < 0)
		return 2;
	mem = mmap(NULL, 3 * MB, PROT_READ, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED || migshim_client_add_region(c, fd, 0, 1 * MB, 3 * MB) < 0)
		return 2;
	for (i = 0; i < 100 && r < 0; i++) {
		r = migshim_client_connect(c, path, 5000, err, sizeof(err));
		if (r < 0)
			usleep(20000);
	}
	if (r < 0)
		return 3;
	if (wait_event(c, MIGSHIM_EV_COMPLETED, &ev) < 0)
		return 4;
	for (k = 0; k < 3 * MB; k++)
		if (mem[k] != fx_pattern(77, k))
			return 5;
	migshim_client_destroy(c);
	return 0;
}

static void
test_destination_two_processes(void)
{
	char path[108];
	struct migshim_server *s;
	struct migshim_session *ss;
	struct migshim_region_info ri;
	struct migshim_event ev = {.type = MIGSHIM_EV_COMPLETED};
	size_t k;
	int status;
	pid_t pid;

	fx_socket_path(path, sizeof(path));
	s = migshim_server_create(path, MIGSHIM_ROLE_DESTINATION, 0);
	CU_ASSERT_FATAL(s != NULL);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0)
		_exit(destination_hypervisor(path));
	ss = migshim_server_accept(s, 10000);
	CU_ASSERT_FATAL(ss != NULL);
	CU_ASSERT_EQUAL_FATAL(migshim_session_region(ss, 0, &ri), 0);
	CU_ASSERT_EQUAL(ri.gpa, 1 * MB);
	CU_ASSERT_EQUAL(ri.size, 3 * MB);
	for (k = 0; k < ri.size; k++)
		((unsigned char *)ri.hva)[k] = fx_pattern(77, k);
	CU_ASSERT_EQUAL(migshim_session_send_event(ss, &ev), 0);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	migshim_session_close(ss);
	migshim_server_destroy(s);
}

struct bad_case {
	const char *what;
	enum migshim_role server_role;
	unsigned max_regions;
	unsigned n;
	struct { uint64_t file, offset, gpa, size; } r[3];
	int expect_ret;
	const char *expect_text;
};

static void
test_bad_layouts(void)
{
	static const struct bad_case cases[] = {
		{"overlap", MIGSHIM_ROLE_SOURCE, 0, 2,
		 {{2 * MB, 0, 0, 2 * MB}, {2 * MB, 0, 1 * MB, 2 * MB}},
		 -EEXIST, "overlap"},
		{"size not page-aligned", MIGSHIM_ROLE_SOURCE, 0, 1,
		 {{2 * MB, 0, 0, 2 * MB - 100}}, -EINVAL, "multiple of 4096"},
		{"zero size", MIGSHIM_ROLE_SOURCE, 0, 1,
		 {{2 * MB, 0, 0, 0}}, -EINVAL, "non-zero"},
		{"gpa not page-aligned", MIGSHIM_ROLE_SOURCE, 0, 1,
		 {{2 * MB, 0, 0x800, 1 * MB}}, -EINVAL, "page-aligned"},
		{"file smaller than region", MIGSHIM_ROLE_DESTINATION, 0, 2,
		 {{2 * MB, 0, 0, 2 * MB}, {1 * MB, 0, 4 * MB, 2 * MB}},
		 -EINVAL, "file is 1048576 bytes"},
		{"offset past file end", MIGSHIM_ROLE_SOURCE, 0, 1,
		 {{2 * MB, 1 * MB, 0, 2 * MB}}, -EINVAL, "file is"},
		{"too many regions", MIGSHIM_ROLE_SOURCE, 2, 3,
		 {{1 * MB, 0, 0, 1 * MB}, {1 * MB, 0, 2 * MB, 1 * MB},
		  {1 * MB, 0, 4 * MB, 1 * MB}}, -ENOSPC, "too many regions"},
		{"address wraps", MIGSHIM_ROLE_SOURCE, 0, 1,
		 {{1 * MB, 0, UINT64_MAX - 4095, 1 * MB}}, -EINVAL, "wraps"},
		{"no region", MIGSHIM_ROLE_SOURCE, 0, 0, {{0}}, -EINVAL, "no guest RAM"},
	};
	struct migshim_client_params p = {.role = MIGSHIM_ROLE_SOURCE};
	unsigned i, j;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *bc = &cases[i];
		struct fx_region regs[3];
		struct fx f;

		p.role = bc->server_role;
		for (j = 0; j < bc->n; j++) {
			regs[j] = (struct fx_region){
				.fd = fx_memfd(bc->r[j].file, j),
				.offset = bc->r[j].offset,
				.gpa = bc->r[j].gpa, .size = bc->r[j].size};
			CU_ASSERT_FATAL(regs[j].fd >= 0);
		}
		CU_ASSERT_NOT_EQUAL(fx_handoff(&f, bc->server_role, &p, regs,
					       bc->n, bc->max_regions), 0);
		if (f.connect_ret != bc->expect_ret ||
		    strstr(f.err, bc->expect_text) == NULL)
			printf("\n  case '%s': got %d '%s'\n", bc->what,
			       f.connect_ret, f.err);
		CU_ASSERT_EQUAL(f.connect_ret, bc->expect_ret);
		CU_ASSERT_PTR_NOT_NULL(strstr(f.err, bc->expect_text));
		CU_ASSERT_PTR_NULL(f.ss);
		CU_ASSERT_EQUAL(f.accept_errno, -bc->expect_ret);
		CU_ASSERT_STRING_EQUAL(migshim_server_last_error(f.srv), f.err);
		/* Nothing stays mapped on the server side. */
		CU_ASSERT_EQUAL(fx_count_guest_maps(), 0);
		fx_done(&f);
		for (j = 0; j < bc->n; j++)
			close(regs[j].fd);
	}
}

static void
test_role_mismatch(void)
{
	struct migshim_client_params p = {.role = MIGSHIM_ROLE_DESTINATION};
	struct fx_region r = {.fd = fx_memfd(1 * MB, 0), .size = 1 * MB};
	struct fx f;

	CU_ASSERT_NOT_EQUAL(fx_handoff(&f, MIGSHIM_ROLE_SOURCE, &p, &r, 1, 0), 0);
	CU_ASSERT_EQUAL(f.connect_ret, -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(f.err, "expects a destination"));
	fx_done(&f);
	close(r.fd);
}

static void
test_events(void)
{
	struct migshim_client_params p = {.event_ring_size = 4};
	struct fx_region r = {.fd = fx_memfd(1 * MB, 0), .size = 1 * MB};
	struct migshim_event ev = {.type = MIGSHIM_EV_THROTTLE, .value = 30};
	struct migshim_event got;
	struct fx f;
	unsigned i;

	CU_ASSERT_EQUAL_FATAL(fx_handoff(&f, MIGSHIM_ROLE_SOURCE, &p, &r, 1, 0), 0);
	CU_ASSERT_EQUAL(f.connect_ret, 0);
	CU_ASSERT_EQUAL(migshim_client_poll_event(f.cl, &got), -EAGAIN);
	for (i = 0; i < 4; i++) {
		ev.arg = i;
		CU_ASSERT_EQUAL(migshim_session_send_event(f.ss, &ev), 0);
	}
	CU_ASSERT_EQUAL(migshim_session_send_event(f.ss, &ev), -EAGAIN);
	ev.type = MIGSHIM_EV_MAX;
	CU_ASSERT_EQUAL(migshim_session_send_event(f.ss, &ev), -EINVAL);
	for (i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL(migshim_client_poll_event(f.cl, &got), 0);
		CU_ASSERT_EQUAL(got.type, MIGSHIM_EV_THROTTLE);
		CU_ASSERT_EQUAL(got.value, 30);
		CU_ASSERT_EQUAL(got.arg, i);
	}
	ev = (struct migshim_event){.type = MIGSHIM_EV_FAILED, .value = ETIMEDOUT};
	memset(ev.reason, 'x', sizeof(ev.reason)); /* not terminated */
	CU_ASSERT_EQUAL(migshim_session_send_event(f.ss, &ev), 0);
	CU_ASSERT_EQUAL(migshim_client_poll_event(f.cl, &got), 0);
	CU_ASSERT_STRING_EQUAL(migshim_event_name(got.type), "failed");
	CU_ASSERT_EQUAL(strlen(got.reason), sizeof(got.reason) - 1);
	CU_ASSERT_STRING_EQUAL(migshim_event_name(99), "unknown");
	/* migdp goes away: the hypervisor learns it. */
	CU_ASSERT_FALSE(migshim_session_peer_gone(f.ss));
	migshim_session_close(f.ss);
	f.ss = NULL;
	CU_ASSERT_EQUAL(migshim_client_poll_event(f.cl, &got), -EPIPE);
	fx_done(&f);
	close(r.fd);
}

/* The VM's name and the device-state region reach the server; a memfd
 * that may still shrink is refused (migdp would SIGBUS on its mapping). */
static void
test_name_device_state_seals(void)
{
	struct migshim_client_params p = {.name = "guest-7"};
	struct fx_region r[2] = {
		{.fd = fx_memfd(2 * MB, 0), .size = 2 * MB},
		{.fd = fx_memfd(1 * MB, 1), .gpa = 1ull << 40, .size = 1 * MB,
		 .flags = MIGSHIM_REGION_DEVICE_STATE},
	};
	struct migshim_region_info ri;
	struct fx f;
	int fd;

	CU_ASSERT_EQUAL_FATAL(fx_handoff(&f, MIGSHIM_ROLE_SOURCE, &p, r, 2, 0), 0);
	CU_ASSERT_STRING_EQUAL(migshim_session_name(f.ss), "guest-7");
	CU_ASSERT_EQUAL(migshim_session_region(f.ss, 0, &ri), 0);
	CU_ASSERT_EQUAL(ri.flags, 0);
	CU_ASSERT_EQUAL(migshim_session_region(f.ss, 1, &ri), 0);
	CU_ASSERT_EQUAL(ri.flags, MIGSHIM_REGION_DEVICE_STATE);
	CU_ASSERT_EQUAL(ri.gpa, 1ull << 40);
	/* The client sealed the memfd: it can no longer shrink. */
	CU_ASSERT_TRUE(fcntl(r[0].fd, F_GET_SEALS) & F_SEAL_SHRINK);
	CU_ASSERT_NOT_EQUAL(ftruncate(r[0].fd, 4096), 0);
	CU_ASSERT_EQUAL(migshim_client_add_device_state(f.cl, r[1].fd, 0, 0, MB),
			-EISCONN);
	fx_done(&f);
	/* Only device state: no guest RAM. */
	CU_ASSERT_NOT_EQUAL(fx_handoff(&f, MIGSHIM_ROLE_SOURCE, &p, &r[1], 1, 0), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(f.err, "only device state"));
	fx_done(&f);
	/* A memfd made without MFD_ALLOW_SEALING cannot be sealed. */
	fd = memfd_create("fx-unsealed", MFD_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0 && ftruncate(fd, MB) == 0);
	r[0] = (struct fx_region){.fd = fd, .size = MB};
	CU_ASSERT_NOT_EQUAL(fx_handoff(&f, MIGSHIM_ROLE_SOURCE, &p, r, 1, 0), 0);
	CU_ASSERT_EQUAL(f.connect_ret, -EPERM);
	CU_ASSERT_PTR_NOT_NULL(strstr(f.err, "not sealed against shrinking"));
	fx_done(&f);
	close(fd);
	close(r[1].fd);
	/* A name too long for the handoff. */
	p.name = "a-name-longer-than-thirty-one-bytes";
	p.role = MIGSHIM_ROLE_SOURCE;
	errno = 0;
	fd = migshim_client_create(&p) == NULL ? errno : 0;
	CU_ASSERT_EQUAL(fd, ENAMETOOLONG);
}

static void
test_accept_timeout(void)
{
	char path[108];
	struct migshim_server *s;

	fx_socket_path(path, sizeof(path));
	s = migshim_server_create(path, MIGSHIM_ROLE_SOURCE, 0);
	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT_PTR_NULL(migshim_server_accept(s, 0));
	CU_ASSERT_EQUAL(errno, ETIMEDOUT);
	migshim_server_destroy(s);
	CU_ASSERT_PTR_NULL(migshim_server_create(path, 7, 0));
	CU_ASSERT_PTR_NULL(migshim_server_create(path, MIGSHIM_ROLE_SOURCE,
						 MIGSHIM_MAX_REGIONS + 1));
}

int
main(void)
{
	static const struct cu_test handoff[] = {
		{"source_two_processes", test_source_two_processes},
		{"destination_two_processes", test_destination_two_processes},
		{"bad_layouts_refused", test_bad_layouts},
		{"role_mismatch", test_role_mismatch},
		{"accept_timeout", test_accept_timeout},
		{"name_device_state_seals", test_name_device_state_seals},
		{NULL, NULL},
	};
	static const struct cu_test events[] = {
		{"events_and_peer_gone", test_events},
		{NULL, NULL},
	};

	if (cu_add_suite("handoff", NULL, NULL, handoff) < 0 ||
	    cu_add_suite("events", NULL, NULL, events) < 0)
		return 1;
	return cu_run();
}
