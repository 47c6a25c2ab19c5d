/* SPDX-License-Identifier: BSD-3-Clause */
/* migdp side of libmigshim: accept a hypervisor, validate and map its guest
 * RAM, pop and check descriptors, send events. Nothing the hypervisor sends
 * (message, layout, ring contents) is trusted before it is checked. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "migshim.h"
#include "shim_priv.h"

struct migshim_server {
	int fd;
	enum migshim_role role;
	unsigned max_regions;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char err[256];
};

struct session_region {
	uint64_t gpa, size;
	uint8_t *hva;
	uint32_t flags;
};

/* Owned by the consumer thread of one ring. */
struct session_ring {
	alignas(64) struct migshim_ring r;
	struct migshim_session_stats st;
};

struct migshim_session {
	/* Set at accept, read-only after. */
	enum migshim_role role;
	unsigned nregions, nrings, block_shift;
	uint32_t block_pages;
	char name[MIGSHIM_NAME_LEN];
	struct session_region regions[MIGSHIM_MAX_REGIONS]; /* sorted by gpa */
	void *ctrl;
	size_t ctrl_size;
	/* Control thread. */
	int sock;
	bool peer_gone;
	struct migshim_ring events;
	/* One per consumer thread. */
	struct session_ring rings[];
};

static const char *const bad_names[MIGSHIM_BAD_MAX] = {
	[MIGSHIM_BAD_NONE] = "none",
#define X(n, s) [MIGSHIM_BAD_##n] = s,
	MIGSHIM_FOREACH_BAD(X)
#undef X
};

const char *
migshim_bad_name(enum migshim_bad b)
{
	return (unsigned)b < MIGSHIM_BAD_MAX ? bad_names[b] : "unknown";
}

struct migshim_server *
migshim_server_create(const char *socket_path, enum migshim_role role,
		      unsigned max_regions)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct migshim_server *s;
	int e;

	if (socket_path == NULL || strlen(socket_path) >= sizeof(sa.sun_path) ||
	    (role != MIGSHIM_ROLE_SOURCE && role != MIGSHIM_ROLE_DESTINATION) ||
	    max_regions > MIGSHIM_MAX_REGIONS) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->role = role;
	s->max_regions = max_regions ? max_regions : MIGSHIM_MAX_REGIONS;
	strcpy(s->path, socket_path);
	strcpy(sa.sun_path, socket_path);
	s->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		goto err;
	unlink(socket_path);
	if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(s->fd, 4) < 0)
		goto err;
	return s;
err:
	e = errno;
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	errno = e;
	return NULL;
}

int
migshim_server_fd(const struct migshim_server *s)
{
	return s->fd;
}

const char *
migshim_server_last_error(const struct migshim_server *s)
{
	return s->err;
}

void
migshim_server_destroy(struct migshim_server *s)
{
	if (s == NULL)
		return;
	close(s->fd);
	unlink(s->path);
	free(s);
}

/* Record why the handoff failed; returns -err for the caller to pass on. */
static int __attribute__((format(printf, 3, 4)))
refuse(struct migshim_server *s, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return -err;
}

static int
cmp_region(const void *a, const void *b)
{
	const struct migshim_wire_region *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/* Check the hello against everything the server can know; fds[] holds
 * nfds received descriptors. Returns 0 or -errno with s->err set. */
static int
check_hello(struct migshim_server *s, const struct migshim_hello *h,
	    const int *fds, unsigned nfds)
{
	struct migshim_wire_region sorted[MIGSHIM_MAX_REGIONS];
	size_t stride, ev_off, need;
	struct stat st;
	unsigned i, ndev = 0;
	int seals;

	if (h->magic != MIGSHIM_HELLO_MAGIC)
		return refuse(s, EPROTO, "bad handoff magic 0x%08x", h->magic);
	if (h->version != MIGSHIM_PROTO_VERSION)
		return refuse(s, EPROTONOSUPPORT,
			      "handoff version %u, this migdp speaks %u",
			      h->version, MIGSHIM_PROTO_VERSION);
	if (h->role != s->role)
		return refuse(s, EINVAL, "hypervisor expects a %s migdp, this one is a %s",
			      h->role == MIGSHIM_ROLE_SOURCE ? "source" : "destination",
			      s->role == MIGSHIM_ROLE_SOURCE ? "source" : "destination");
	if (h->nregions == 0)
		return refuse(s, EINVAL, "no guest RAM region");
	if (h->nregions > s->max_regions)
		return refuse(s, ENOSPC, "too many regions: %u, at most %u",
			      h->nregions, s->max_regions);
	if (nfds != 1 + h->nregions)
		return refuse(s, EBADF, "%u file descriptors for %u regions",
			      nfds, h->nregions);
	need = migshim_layout(h->nrings, h->ring_size, h->event_ring_size,
			      &stride, &ev_off);
	if (need == 0)
		return refuse(s, EINVAL,
			      "bad ring geometry: %u rings of %u, %u events",
			      h->nrings, h->ring_size, h->event_ring_size);
	if (!migshim_is_pow2(h->block_pages) || h->max_run_pages == 0 ||
	    h->block_pages > (1u << 20))
		return refuse(s, EINVAL, "bad block size %u pages or run %u",
			      h->block_pages, h->max_run_pages);
	/* Seals before sizes: a file that may still shrink could be cut
	 * between the two. */
	seals = fcntl(fds[0], F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		return refuse(s, EPERM, "ring area not a memfd sealed against shrinking");
	if (h->ctrl_size < need || fstat(fds[0], &st) < 0 ||
	    (uint64_t)st.st_size < need)
		return refuse(s, EINVAL, "ring area smaller than %zu bytes", need);

	for (i = 0; i < h->nregions; i++) {
		const struct migshim_wire_region *r = &h->regions[i];

		if (r->size == 0 || r->size % MIGSHIM_PAGE_SIZE)
			return refuse(s, EINVAL,
				      "region %u: size %llu is not a non-zero multiple of %u",
				      i, (unsigned long long)r->size, MIGSHIM_PAGE_SIZE);
		if (r->gpa % MIGSHIM_PAGE_SIZE || r->offset % MIGSHIM_PAGE_SIZE)
			return refuse(s, EINVAL,
				      "region %u: gpa 0x%llx or offset 0x%llx not page-aligned",
				      i, (unsigned long long)r->gpa,
				      (unsigned long long)r->offset);
		if (r->gpa + r->size < r->gpa || r->offset + r->size < r->offset)
			return refuse(s, EINVAL, "region %u: address range wraps", i);
		/* Seals before sizes (see the ring area). A memfd that may
		 * shrink would fault (SIGBUS) in migdp's mapping; a hugetlbfs
		 * or tmpfs file cannot be sealed and is the hypervisor's to
		 * keep whole. */
		seals = fcntl(fds[1 + i], F_GET_SEALS);
		if (seals >= 0 && !(seals & F_SEAL_SHRINK))
			return refuse(s, EPERM,
				      "region %u: memfd not sealed against shrinking "
				      "(create it with MFD_ALLOW_SEALING)", i);
		if (fstat(fds[1 + i], &st) < 0)
			return refuse(s, EBADF, "region %u: fstat: %s", i,
				      strerror(errno));
		if (!S_ISREG(st.st_mode))
			return refuse(s, EINVAL,
				      "region %u: not a memfd or hugetlbfs file", i);
		if ((uint64_t)st.st_size < r->offset + r->size)
			return refuse(s, EINVAL,
				      "region %u: file is %lld bytes, region needs %llu",
				      i, (long long)st.st_size,
				      (unsigned long long)(r->offset + r->size));
		if (r->flags & ~MIGSHIM_REGION_DEVICE_STATE || r->reserved != 0)
			return refuse(s, EINVAL, "region %u: unknown flags 0x%x", i,
				      r->flags);
		ndev += (r->flags & MIGSHIM_REGION_DEVICE_STATE) != 0;
	}
	if (ndev > 1)
		return refuse(s, EINVAL, "%u device-state regions, at most one", ndev);
	if (ndev == h->nregions)
		return refuse(s, EINVAL, "no guest RAM region, only device state");
	if (memchr(h->name, '\0', sizeof(h->name)) == NULL)
		return refuse(s, EINVAL, "VM name not NUL-terminated");
	memcpy(sorted, h->regions, h->nregions * sizeof(sorted[0]));
	qsort(sorted, h->nregions, sizeof(sorted[0]), cmp_region);
	for (i = 1; i < h->nregions; i++)
		if (sorted[i - 1].gpa + sorted[i - 1].size > sorted[i].gpa)
			return refuse(s, EEXIST,
				      "regions overlap: [0x%llx, +0x%llx) and [0x%llx, +0x%llx)",
				      (unsigned long long)sorted[i - 1].gpa,
				      (unsigned long long)sorted[i - 1].size,
				      (unsigned long long)sorted[i].gpa,
				      (unsigned long long)sorted[i].size);
	return 0;
}

/* Map what check_hello() accepted. Returns the session or NULL (-errno in
 * *err, reason in s->err); on failure nothing stays mapped. */
static struct migshim_session *
map_session(struct migshim_server *s, const struct migshim_hello *h,
	    const int *fds, int *err)
{
	int prot = s->role == MIGSHIM_ROLE_SOURCE ? PROT_READ :
						    PROT_READ | PROT_WRITE;
	struct migshim_session *ss;
	size_t stride = 0, ev_off = 0;
	unsigned i, j;

	ss = calloc(1, sizeof(*ss) + h->nrings * sizeof(ss->rings[0]));
	if (ss == NULL) {
		*err = refuse(s, ENOMEM, "out of memory");
		return NULL;
	}
	ss->role = s->role;
	ss->nrings = h->nrings;
	ss->block_pages = h->block_pages;
	memcpy(ss->name, h->name, sizeof(ss->name));
	ss->block_shift = (unsigned)__builtin_ctz(h->block_pages) +
			  MIGSHIM_PAGE_SHIFT;
	ss->sock = -1;
	ss->ctrl = MAP_FAILED;
	for (i = 0; i < h->nregions; i++) {
		const struct migshim_wire_region *r = &h->regions[i];
		/* MAP_POPULATE: page tables now, not one fault per page in
		 * the hot path. */
		void *p = mmap(NULL, r->size, prot, MAP_SHARED | MAP_POPULATE,
			       fds[1 + i], (off_t)r->offset);

		if (p == MAP_FAILED) {
			*err = refuse(s, errno, "region %u: mmap: %s", i,
				      strerror(errno));
			goto fail;
		}
		/* Insertion keeps the table sorted by gpa. */
		for (j = ss->nregions; j > 0 && ss->regions[j - 1].gpa > r->gpa; j--)
			ss->regions[j] = ss->regions[j - 1];
		ss->regions[j] = (struct session_region){r->gpa, r->size, p, r->flags};
		ss->nregions++;
	}
	ss->ctrl_size = migshim_layout(h->nrings, h->ring_size,
				       h->event_ring_size, &stride, &ev_off);
	ss->ctrl = mmap(NULL, ss->ctrl_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			fds[0], 0);
	if (ss->ctrl == MAP_FAILED) {
		*err = refuse(s, errno, "ring area: mmap: %s", strerror(errno));
		goto fail;
	}
	for (i = 0; i < h->nrings; i++)
		if (migshim_ring_attach(&ss->rings[i].r,
					(uint8_t *)ss->ctrl + i * stride,
					h->ring_size, sizeof(struct migshim_desc),
					false) < 0)
			break;
	if (i < h->nrings ||
	    migshim_ring_attach(&ss->events, (uint8_t *)ss->ctrl + ev_off,
				h->event_ring_size, sizeof(struct migshim_event),
				true) < 0) {
		*err = refuse(s, EPROTO, "ring area not initialised as announced");
		goto fail;
	}
	return ss;
fail:
	migshim_session_close(ss);
	return NULL;
}

static void
reply(int sock, int status, const char *msg)
{
	struct migshim_reply rep = {.magic = MIGSHIM_REPLY_MAGIC, .status = status};

	snprintf(rep.msg, sizeof(rep.msg), "%.*s", (int)sizeof(rep.msg) - 1, msg);
	(void)send(sock, &rep, sizeof(rep), MSG_NOSIGNAL);
}

struct migshim_session *
migshim_server_accept(struct migshim_server *s, int timeout_ms)
{
	struct migshim_hello h;
	union {
		char buf[CMSG_SPACE(sizeof(int) * (1 + MIGSHIM_MAX_REGIONS))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = &h, .iov_len = sizeof(h)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf)};
	struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
	struct migshim_session *ss = NULL;
	int fds[1 + MIGSHIM_MAX_REGIONS];
	unsigned nfds = 0, i;
	struct cmsghdr *cm;
	int sock, ret, err = 0;
	ssize_t n;

	s->err[0] = '\0';
	ret = poll(&pfd, 1, timeout_ms);
	if (ret <= 0) {
		errno = ret == 0 ? ETIMEDOUT : errno;
		snprintf(s->err, sizeof(s->err), "no hypervisor connected");
		return NULL;
	}
	sock = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
	if (sock < 0) {
		snprintf(s->err, sizeof(s->err), "accept: %s", strerror(errno));
		return NULL;
	}
	/* The hello follows the connect at once; a silent client is dropped. */
	pfd = (struct pollfd){.fd = sock, .events = POLLIN};
	if (poll(&pfd, 1, 5000) <= 0) {
		err = refuse(s, ETIMEDOUT, "hypervisor sent no handoff");
		goto out;
	}
	memset(&h, 0, sizeof(h));
	n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	for (cm = CMSG_FIRSTHDR(&msg); n >= 0 && cm != NULL;
	     cm = CMSG_NXTHDR(&msg, cm)) {
		unsigned k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (unsigned)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < k && nfds < 1 + MIGSHIM_MAX_REGIONS; i++)
			memcpy(&fds[nfds++], CMSG_DATA(cm) + i * sizeof(int),
			       sizeof(int));
	}
	if (n != (ssize_t)sizeof(h))
		err = refuse(s, EPROTO, "handoff message of %zd bytes, expected %zu",
			     n, sizeof(h));
	else if (msg.msg_flags & MSG_CTRUNC)
		err = refuse(s, ENOSPC, "too many file descriptors in handoff");
	else
		err = check_hello(s, &h, fds, nfds);
	if (err == 0)
		ss = map_session(s, &h, fds, &err);
out:
	for (i = 0; i < nfds; i++)
		close(fds[i]); /* the mappings keep what they need */
	if (ss == NULL) {
		reply(sock, err, s->err);
		close(sock);
		errno = -err;
		return NULL;
	}
	snprintf(s->err, sizeof(s->err), "accepted %u regions, %u rings",
		 ss->nregions, ss->nrings);
	reply(sock, 0, s->err);
	ss->sock = sock;
	return ss;
}

unsigned
migshim_session_nrings(const struct migshim_session *ss)
{
	return ss->nrings;
}

unsigned
migshim_session_nregions(const struct migshim_session *ss)
{
	return ss->nregions;
}

enum migshim_role
migshim_session_role(const struct migshim_session *ss)
{
	return ss->role;
}

uint32_t
migshim_session_block_pages(const struct migshim_session *ss)
{
	return ss->block_pages;
}

int
migshim_session_region(const struct migshim_session *ss, unsigned i,
		       struct migshim_region_info *out)
{
	if (i >= ss->nregions)
		return -ERANGE;
	out->gpa = ss->regions[i].gpa;
	out->size = ss->regions[i].size;
	out->hva = ss->regions[i].hva;
	out->flags = ss->regions[i].flags;
	return 0;
}

const char *
migshim_session_name(const struct migshim_session *ss)
{
	return ss->name;
}

/* Region holding gpa, by binary search, or NULL. */
static const struct session_region *
find_region(const struct migshim_session *ss, uint64_t gpa)
{
	unsigned lo = 0, hi = ss->nregions;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		const struct session_region *r = &ss->regions[mid];

		if (gpa < r->gpa)
			hi = mid;
		else if (gpa - r->gpa >= r->size)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

void *
migshim_session_gpa_to_hva(const struct migshim_session *ss, uint64_t gpa,
			   uint64_t len)
{
	const struct session_region *r = find_region(ss, gpa);

	if (r == NULL || len == 0 || len > r->size - (gpa - r->gpa))
		return NULL;
	return r->hva + (gpa - r->gpa);
}

enum migshim_bad
migshim_session_check(const struct migshim_session *ss, unsigned ring,
		      const struct migshim_desc *d)
{
	const struct session_region *r;
	uint64_t len, last;

	if (d->flags & ~MIGSHIM_DESC_FLAGS_ALL)
		return MIGSHIM_BAD_BAD_FLAGS;
	if (d->flags & MIGSHIM_DESC_END_OF_ROUND)
		return d->npages == 0 ? MIGSHIM_BAD_NONE : MIGSHIM_BAD_BAD_FLAGS;
	if (d->flags & MIGSHIM_DESC_FINAL)
		return MIGSHIM_BAD_BAD_FLAGS;
	if (d->npages == 0)
		return MIGSHIM_BAD_ZERO_COUNT;
	if (d->gpa % MIGSHIM_PAGE_SIZE)
		return MIGSHIM_BAD_UNALIGNED;
	len = (uint64_t)d->npages << MIGSHIM_PAGE_SHIFT;
	if (d->gpa > UINT64_MAX - (len - 1))
		return MIGSHIM_BAD_OVERFLOW;
	last = d->gpa + (len - 1);
	r = find_region(ss, d->gpa);
	if (r == NULL)
		return MIGSHIM_BAD_OUTSIDE;
	if (last - r->gpa >= r->size)
		return MIGSHIM_BAD_STRADDLE;
	if ((d->gpa >> ss->block_shift) != (last >> ss->block_shift) ||
	    (d->gpa >> ss->block_shift) % ss->nrings != ring)
		return MIGSHIM_BAD_WRONG_RING;
	return MIGSHIM_BAD_NONE;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

unsigned
migshim_session_pop(struct migshim_session *ss, unsigned ring,
		    struct migshim_desc *out, unsigned n)
{
	struct session_ring *sr;
	unsigned got, i, kept = 0;

	if (ring >= ss->nrings)
		return 0;
	sr = &ss->rings[ring];
	got = migshim_ring_dequeue_burst(&sr->r, out, n);
	for (i = 0; i < got; i++) {
		enum migshim_bad b = migshim_session_check(ss, ring, &out[i]);

		if (b != MIGSHIM_BAD_NONE) {
			sr->st.bad[b]++;
			sr->st.last_bad = out[i];
			sr->st.last_bad_reason = b;
			sr->st.last_bad_ns = now_ns();
			continue;
		}
		if (out[i].flags & MIGSHIM_DESC_END_OF_ROUND)
			sr->st.markers++;
		else {
			sr->st.popped++;
			sr->st.pages += out[i].npages;
		}
		out[kept++] = out[i];
	}
	sr->st.ring_corrupt = sr->r.corrupt;
	return kept;
}

void
migshim_session_stats(const struct migshim_session *ss,
		      struct migshim_session_stats *st)
{
	unsigned i, b;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < ss->nrings; i++) {
		const struct migshim_session_stats *x = &ss->rings[i].st;

		st->popped += x->popped;
		st->pages += x->pages;
		st->markers += x->markers;
		st->ring_corrupt += x->ring_corrupt;
		for (b = 0; b < MIGSHIM_BAD_MAX; b++)
			st->bad[b] += x->bad[b];
		if (x->last_bad_ns > st->last_bad_ns) {
			st->last_bad_ns = x->last_bad_ns;
			st->last_bad = x->last_bad;
			st->last_bad_reason = x->last_bad_reason;
		}
	}
}

int
migshim_session_send_event(struct migshim_session *ss,
			   const struct migshim_event *ev)
{
	struct migshim_kick k = {.magic = MIGSHIM_KICK_MAGIC};
	struct migshim_event e;

	if (ev->type == MIGSHIM_EV_NONE || ev->type >= MIGSHIM_EV_MAX)
		return -EINVAL;
	e = *ev;
	e.reason[sizeof(e.reason) - 1] = '\0';
	if (migshim_ring_enqueue(&ss->events, &e) < 0)
		return -EAGAIN;
	if (ss->sock >= 0)
		(void)send(ss->sock, &k, sizeof(k), MSG_DONTWAIT | MSG_NOSIGNAL);
	return 0;
}

int
migshim_session_fd(const struct migshim_session *ss)
{
	return ss->sock;
}

bool
migshim_session_peer_gone(struct migshim_session *ss)
{
	char buf[64];
	ssize_t n;

	while (!ss->peer_gone && ss->sock >= 0) {
		n = recv(ss->sock, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			ss->peer_gone = true;
		if (n <= 0)
			break;
	}
	return ss->peer_gone;
}

void
migshim_session_close(struct migshim_session *ss)
{
	unsigned i;

	if (ss == NULL)
		return;
	for (i = 0; i < ss->nregions; i++)
		munmap(ss->regions[i].hva, ss->regions[i].size);
	if (ss->ctrl != MAP_FAILED)
		munmap(ss->ctrl, ss->ctrl_size);
	if (ss->sock >= 0)
		close(ss->sock);
	free(ss);
}
