/* SPDX-License-Identifier: BSD-3-Clause */
/* Hypervisor side of libmigshim: the ring area, the handoff, the pushes. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "migshim.h"
#include "shim_priv.h"

struct client_region {
	int fd;
	uint64_t offset, gpa, size;
	uint32_t flags;
};

struct migshim_client {
	/* Set at creation. */
	struct migshim_client_params p;
	char name[MIGSHIM_NAME_LEN];
	unsigned block_shift;
	int ctrl_fd;
	void *ctrl;
	size_t ctrl_size;
	/* Registered before connect. */
	struct client_region regions[MIGSHIM_MAX_REGIONS];
	unsigned nregions;
	/* Connected session. */
	int sock;
	bool peer_gone;
	/* Ring i is produced by the thread that pushes pages of ring i. */
	struct migshim_ring rings[MIGSHIM_MAX_RINGS];
	/* Consumed by the thread that calls migshim_client_poll_event(). */
	struct migshim_ring events;
};

const char *
migshim_event_name(uint32_t type)
{
	static const char *const names[MIGSHIM_EV_MAX] = {
		[MIGSHIM_EV_NONE] = "none",
		[MIGSHIM_EV_PAUSE] = "pause",
		[MIGSHIM_EV_THROTTLE] = "throttle",
		[MIGSHIM_EV_COMPLETED] = "completed",
		[MIGSHIM_EV_FAILED] = "failed",
		[MIGSHIM_EV_RESUME] = "resume",
		[MIGSHIM_EV_ROUND] = "round",
	};
	return type < MIGSHIM_EV_MAX ? names[type] : "unknown";
}

struct migshim_client *
migshim_client_create(const struct migshim_client_params *in)
{
	struct migshim_client *c;
	size_t stride, ev_off;
	unsigned i;

	if (in == NULL || (in->role != MIGSHIM_ROLE_SOURCE &&
			   in->role != MIGSHIM_ROLE_DESTINATION)) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->p = *in;
	if (in->name != NULL && strlen(in->name) >= sizeof(c->name)) {
		free(c);
		errno = ENAMETOOLONG;
		return NULL;
	}
	snprintf(c->name, sizeof(c->name), "%s", in->name ? in->name : "");
	c->p.name = c->name;
	c->p.nrings = in->nrings ? in->nrings : 1;
	c->p.ring_size = in->ring_size ? in->ring_size : MIGSHIM_DEFAULT_RING_SIZE;
	c->p.event_ring_size = in->event_ring_size ? in->event_ring_size :
						     MIGSHIM_DEFAULT_EVENT_RING_SIZE;
	c->p.max_run_pages = in->max_run_pages ? in->max_run_pages :
						 MIGSHIM_DEFAULT_MAX_RUN;
	c->p.block_pages = in->block_pages ? in->block_pages :
					     MIGSHIM_DEFAULT_BLOCK_PAGES;
	c->ctrl_fd = -1;
	c->sock = -1;
	c->ctrl = MAP_FAILED;
	c->ctrl_size = migshim_layout(c->p.nrings, c->p.ring_size,
				      c->p.event_ring_size, &stride, &ev_off);
	if (c->ctrl_size == 0 || !migshim_is_pow2(c->p.block_pages)) {
		errno = EINVAL;
		goto err;
	}
	c->block_shift = (unsigned)__builtin_ctz(c->p.block_pages) +
			 MIGSHIM_PAGE_SHIFT;

	/* Sealed against shrinking: migdp maps it (see add_region). */
	c->ctrl_fd = memfd_create("migshim-rings", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (c->ctrl_fd < 0 || ftruncate(c->ctrl_fd, (off_t)c->ctrl_size) < 0 ||
	    fcntl(c->ctrl_fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
		goto err;
	c->ctrl = mmap(NULL, c->ctrl_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       c->ctrl_fd, 0);
	if (c->ctrl == MAP_FAILED)
		goto err;
	for (i = 0; i < c->p.nrings; i++)
		migshim_ring_init(&c->rings[i], (uint8_t *)c->ctrl + i * stride,
				  c->p.ring_size, sizeof(struct migshim_desc));
	migshim_ring_init(&c->events, (uint8_t *)c->ctrl + ev_off,
			  c->p.event_ring_size, sizeof(struct migshim_event));
	return c;
err:
	migshim_client_destroy(c);
	return NULL;
}

static int
add_region(struct migshim_client *c, int fd, uint64_t offset, uint64_t gpa,
	   uint64_t size, uint32_t flags)
{
	int dup_fd;

	if (c->sock >= 0)
		return -EISCONN;
	if (c->nregions == MIGSHIM_MAX_REGIONS)
		return -ENOSPC;
	dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0)
		return -EBADF;
	/* Where sealing is allowed (a memfd made with MFD_ALLOW_SEALING),
	 * the region can no longer shrink under migdp. */
	(void)fcntl(dup_fd, F_ADD_SEALS, F_SEAL_SHRINK);
	c->regions[c->nregions++] = (struct client_region){
		.fd = dup_fd, .offset = offset, .gpa = gpa, .size = size,
		.flags = flags};
	return 0;
}

int
migshim_client_add_region(struct migshim_client *c, int fd, uint64_t offset,
			  uint64_t gpa, uint64_t size)
{
	return add_region(c, fd, offset, gpa, size, 0);
}

int
migshim_client_add_device_state(struct migshim_client *c, int fd,
				uint64_t offset, uint64_t gpa, uint64_t size)
{
	unsigned i;

	if (c->sock >= 0)
		return -EISCONN;
	for (i = 0; i < c->nregions; i++)
		if (c->regions[i].flags & MIGSHIM_REGION_DEVICE_STATE)
			return -EEXIST;
	return add_region(c, fd, offset, gpa, size, MIGSHIM_REGION_DEVICE_STATE);
}

static int
send_hello(struct migshim_client *c)
{
	struct migshim_hello h;
	int fds[1 + MIGSHIM_MAX_REGIONS];
	union {
		char buf[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = &h, .iov_len = sizeof(h)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf};
	struct cmsghdr *cm;
	unsigned i, nfds = 1 + c->nregions;

	memset(&h, 0, sizeof(h));
	h.magic = MIGSHIM_HELLO_MAGIC;
	h.version = MIGSHIM_PROTO_VERSION;
	h.role = (uint16_t)c->p.role;
	h.nregions = c->nregions;
	h.nrings = c->p.nrings;
	h.ring_size = c->p.ring_size;
	h.event_ring_size = c->p.event_ring_size;
	h.max_run_pages = c->p.max_run_pages;
	h.block_pages = c->p.block_pages;
	h.ctrl_size = c->ctrl_size;
	if (c->p.name != NULL)
		snprintf(h.name, sizeof(h.name), "%s", c->p.name);
	fds[0] = c->ctrl_fd;
	for (i = 0; i < c->nregions; i++) {
		h.regions[i].gpa = c->regions[i].gpa;
		h.regions[i].size = c->regions[i].size;
		h.regions[i].offset = c->regions[i].offset;
		h.regions[i].flags = c->regions[i].flags;
		fds[1 + i] = c->regions[i].fd;
	}
	memset(u.buf, 0, sizeof(u.buf));
	msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	if (sendmsg(c->sock, &msg, MSG_NOSIGNAL) != (ssize_t)sizeof(h))
		return -errno ? -errno : -EIO;
	return 0;
}

int
migshim_client_connect(struct migshim_client *c, const char *socket_path,
		       int timeout_ms, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct migshim_reply rep;
	struct pollfd pfd;
	ssize_t n;
	int ret;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (c->sock >= 0)
		return -EISCONN;
	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, socket_path);
	c->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->sock < 0)
		return -errno;
	if (connect(c->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto fail;
	}
	ret = send_hello(c);
	if (ret < 0)
		goto fail;
	pfd = (struct pollfd){.fd = c->sock, .events = POLLIN};
	ret = poll(&pfd, 1, timeout_ms);
	if (ret <= 0) {
		ret = ret == 0 ? -ETIMEDOUT : -errno;
		goto fail;
	}
	n = recv(c->sock, &rep, sizeof(rep), 0);
	if (n != (ssize_t)sizeof(rep) || rep.magic != MIGSHIM_REPLY_MAGIC) {
		ret = -EPROTO;
		if (err != NULL)
			snprintf(err, errlen, "no valid reply from migdp");
		goto fail;
	}
	rep.msg[sizeof(rep.msg) - 1] = '\0';
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", rep.msg);
	if (rep.status < 0) {
		ret = rep.status;
		goto fail;
	}
	return 0;
fail:
	close(c->sock);
	c->sock = -1;
	return ret;
}

unsigned
migshim_client_ring_of(const struct migshim_client *c, uint64_t gpa)
{
	return (unsigned)((gpa >> c->block_shift) % c->p.nrings);
}

int
migshim_client_push_raw(struct migshim_client *c, unsigned ring,
			const struct migshim_desc *d)
{
	if (ring >= c->p.nrings)
		return -EINVAL;
	return migshim_ring_enqueue(&c->rings[ring], d);
}

int
migshim_client_push(struct migshim_client *c, const struct migshim_desc *d)
{
	uint64_t last;

	if (d->npages == 0 || d->gpa % MIGSHIM_PAGE_SIZE)
		return -EINVAL;
	last = d->gpa + ((uint64_t)d->npages << MIGSHIM_PAGE_SHIFT) - 1;
	if (last < d->gpa || (last >> c->block_shift) != (d->gpa >> c->block_shift))
		return -EINVAL;
	return migshim_ring_enqueue(&c->rings[migshim_client_ring_of(c, d->gpa)],
				    d);
}

int
migshim_client_push_bitmap(struct migshim_client *c,
			   struct migshim_bitmap_iter *it)
{
	struct migshim_desc d;
	uint64_t pos = it->pos;
	int pushed = 0;

	while (migshim_bitmap_iter_next(it, &d)) {
		if (migshim_ring_enqueue(&c->rings[migshim_client_ring_of(c, d.gpa)],
					 &d) < 0) {
			it->pos = pos; /* resume from this run next time */
			return -EAGAIN;
		}
		pos = it->pos;
		pushed++;
	}
	return pushed;
}

int
migshim_client_end_round(struct migshim_client *c, uint64_t round, bool final)
{
	struct migshim_desc d = {
		.gpa = round,
		.npages = 0,
		.flags = MIGSHIM_DESC_END_OF_ROUND | (final ? MIGSHIM_DESC_FINAL : 0),
	};
	unsigned i;

	/* Single producer: free space can only grow, so checking first makes
	 * the marker all-or-nothing. */
	for (i = 0; i < c->p.nrings; i++)
		if (migshim_ring_free_count(&c->rings[i]) == 0)
			return -EAGAIN;
	for (i = 0; i < c->p.nrings; i++)
		migshim_ring_enqueue(&c->rings[i], &d);
	return 0;
}

int
migshim_client_poll_event(struct migshim_client *c, struct migshim_event *ev)
{
	struct migshim_kick k;
	ssize_t n;

	if (c->sock < 0)
		return -ENOTCONN;
	/* Drain the wake-ups; an orderly EOF means migdp is gone. */
	while (!c->peer_gone) {
		n = recv(c->sock, &k, sizeof(k), MSG_DONTWAIT);
		if (n == 0)
			c->peer_gone = true;
		if (n <= 0)
			break;
	}
	if (migshim_ring_dequeue_burst(&c->events, ev, 1) == 1) {
		ev->reason[sizeof(ev->reason) - 1] = '\0';
		return 0;
	}
	return c->peer_gone ? -EPIPE : -EAGAIN;
}

int
migshim_client_fd(const struct migshim_client *c)
{
	return c->sock;
}

unsigned
migshim_client_nrings(const struct migshim_client *c)
{
	return c->p.nrings;
}

void
migshim_client_destroy(struct migshim_client *c)
{
	unsigned i;

	if (c == NULL)
		return;
	if (c->sock >= 0)
		close(c->sock);
	for (i = 0; i < c->nregions; i++)
		close(c->regions[i].fd);
	if (c->ctrl != MAP_FAILED)
		munmap(c->ctrl, c->ctrl_size);
	if (c->ctrl_fd >= 0)
		close(c->ctrl_fd);
	free(c);
}
