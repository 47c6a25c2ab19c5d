/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim_fixture.h"

unsigned char
fx_pattern(unsigned seed, size_t i)
{
	uint64_t x = (i / 8 + 1) * 0x9e3779b97f4a7c15ull ^ seed;

	return (unsigned char)(x >> (8 * (i % 8)));
}

int
fx_memfd(size_t size, unsigned seed)
{
	int fd = memfd_create("fx-guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	unsigned char *p;
	size_t i;

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		return -1;
	if (size == 0)
		return fd;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	for (i = 0; i < size; i++)
		p[i] = fx_pattern(seed, i);
	munmap(p, size);
	return fd;
}

void
fx_socket_path(char *buf, size_t len)
{
	static unsigned n;

	snprintf(buf, len, "/tmp/migshim-test-%d-%u.sock", (int)getpid(), n++);
}

static void *
accept_thread(void *arg)
{
	struct fx *f = arg;

	f->ss = migshim_server_accept(f->srv, 5000);
	f->accept_errno = f->ss == NULL ? errno : 0;
	return NULL;
}

int
fx_handoff(struct fx *f, enum migshim_role role,
	   const struct migshim_client_params *p,
	   const struct fx_region *regions, unsigned n, unsigned max_regions)
{
	struct migshim_client_params cp = *p;
	pthread_t t;
	unsigned i;

	memset(f, 0, sizeof(*f));
	fx_socket_path(f->path, sizeof(f->path));
	f->srv = migshim_server_create(f->path, role, max_regions);
	if (f->srv == NULL)
		return -errno;
	cp.role = cp.role ? cp.role : role;
	f->cl = migshim_client_create(&cp);
	if (f->cl == NULL)
		return -errno;
	for (i = 0; i < n; i++)
		if ((regions[i].flags & MIGSHIM_REGION_DEVICE_STATE ?
		     migshim_client_add_device_state : migshim_client_add_region)(
			    f->cl, regions[i].fd, regions[i].offset, regions[i].gpa,
			    regions[i].size) < 0)
			return -ENOSPC;
	pthread_create(&t, NULL, accept_thread, f);
	f->connect_ret = migshim_client_connect(f->cl, f->path, 5000, f->err,
						sizeof(f->err));
	pthread_join(t, NULL);
	return f->ss != NULL ? 0 : -1;
}

void
fx_done(struct fx *f)
{
	migshim_session_close(f->ss);
	migshim_client_destroy(f->cl);
	migshim_server_destroy(f->srv);
	memset(f, 0, sizeof(*f));
}

int
fx_count_guest_maps(void)
{
	FILE *m = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	if (m == NULL)
		return -1;
	while (fgets(line, sizeof(line), m) != NULL)
		if (strstr(line, "memfd:fx-guest") != NULL)
			n++;
	fclose(m);
	return n;
}
