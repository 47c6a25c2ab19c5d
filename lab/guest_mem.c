/* SPDX-License-Identifier: BSD-3-Clause */
/* migguest's guest memory (RAM in a memfd or hugetlb, the device-state
 * region), the connection to migdp, and the static session: every page
 * pushed once with the final marker, then wait for COMPLETED/FAILED. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "guest.h"

volatile sig_atomic_t guest_stop_sig;

double
guest_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

uint64_t
guest_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int
guest_fail(struct guest_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	return -1;
}

double
guest_deadline(unsigned long timeout_s)
{
	return timeout_s ? guest_now_ms() + timeout_s * 1e3 : 0;
}

bool
guest_expired(double deadline)
{
	return deadline > 0 && guest_now_ms() >= deadline;
}

/* Free huge pages and their size, from /proc/meminfo. */
static uint64_t
hugepages_free(uint64_t *hp_size)
{
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long long v, nfree = 0;
	char line[128];

	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "HugePages_Free: %llu", &v) == 1)
			nfree = v;
		else if (sscanf(line, "Hugepagesize: %llu kB", &v) == 1)
			*hp_size = v << 10;
	}
	if (f != NULL)
		fclose(f);
	return nfree;
}

/* A zeroed, prefaulted shared mapping of a new memfd (sealable). */
static int
map_memfd(const char *name, uint64_t size, bool huge, int *fd, uint8_t **mem)
{
	*fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING |
			   (huge ? MFD_HUGETLB : 0));
	if (*fd < 0 || ftruncate(*fd, (off_t)size) < 0)
		return -errno;
	*mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE, *fd, 0);
	return *mem == MAP_FAILED ? -errno : 0;
}

/* Guest RAM of --mem (or the image's size) rounded up to the (huge) page:
 * zeros, prefaulted, since first touch is slow. With --live, the
 * device-state region too. */
int
guest_alloc(struct guest *g, const struct guest_opts *o, struct guest_result *r)
{
	bool huge = o->hugepages;
	uint64_t hp = 2u << 20, nfree = huge ? hugepages_free(&hp) : 0;
	uint64_t size = o->mem;
	struct stat st = {.st_size = 0};
	double t = guest_now_ms();
	int ret;

	if (size == 0 && (stat(o->image, &st) < 0 || st.st_size == 0))
		return guest_fail(r, "image %s: empty or unreadable", o->image);
	size = size ? size : (uint64_t)st.st_size;
	hp = huge ? hp : MIGSHIM_PAGE_SIZE;
	g->size = (size + hp - 1) / hp * hp;
	if (huge && nfree * hp < g->size)
		return guest_fail(r, "--hugepages: need %llu pages of %llu kB, "
				  "%llu free (reserve them in "
				  "/proc/sys/vm/nr_hugepages)",
				  (unsigned long long)(g->size / hp),
				  (unsigned long long)(hp >> 10),
				  (unsigned long long)nfree);
	ret = map_memfd("migguest-ram", g->size, huge, &g->fd, &g->mem);
	if (ret < 0)
		return guest_fail(r, "guest RAM: %s", strerror(-ret));
	if (o->live && o->device_state > 0) {
		g->dev_size = o->device_state;
		ret = map_memfd("migguest-devstate", g->dev_size, false,
				&g->dev_fd, &g->dev_mem);
		if (ret < 0)
			return guest_fail(r, "device state: %s", strerror(-ret));
	}
	r->alloc_ms = guest_now_ms() - t;
	return 0;
}

/* The image's bytes at gpa 0; the rest stays zero. */
static int
load_image(struct guest *g, const char *path, struct guest_result *r)
{
	uint64_t got = 0;
	struct stat st;
	ssize_t n = 1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0)
		return guest_fail(r, "image %s: %s", path, strerror(errno));
	if ((uint64_t)st.st_size > g->size)
		n = -1;
	while (n > 0 && got < (uint64_t)st.st_size) {
		n = pread(fd, g->mem + got, st.st_size - got, got);
		got += n > 0 ? (uint64_t)n : 0;
	}
	close(fd);
	return n > 0 ? 0 : guest_fail(r, "image %s: %s", path,
				      n < 0 ? "larger than --mem" : "short read");
}

/* Source guest RAM: an image or generated content; read-only unless the
 * guest runs (--live). */
int
guest_prepare_source(const struct guest_opts *o, struct guest *g,
		     struct guest_result *r)
{
	double t;
	int ret;

	if (guest_alloc(g, o, r) < 0)
		return -1;
	t = guest_now_ms();
	if (o->image != NULL) {
		if (load_image(g, o->image, r) < 0)
			return -1;
	} else if ((ret = genmem_fill(g->mem, g->size, &o->mix, o->seed)) < 0) {
		return guest_fail(r, "generating from %s: %s", o->mix.files_dir ?
				  o->mix.files_dir : "the mix", strerror(-ret));
	}
	if (!o->live)
		mprotect(g->mem, g->size, PROT_READ); /* it must not change now */
	r->fill_ms = guest_now_ms() - t;
	t = guest_now_ms();
	if (!o->no_verify)
		genmem_digest(g->mem, g->size, r->digest);
	r->digest_ms = guest_now_ms() - t;
	fprintf(stderr, "migguest: source guest of %llu bytes (%s) ready in "
		"%.0f ms, digest %s\n", (unsigned long long)g->size,
		o->image ? o->image : o->mix_text, r->alloc_ms + r->fill_ms,
		r->digest);
	return 0;
}

/* Connect, retrying while nobody listens at the path yet. */
int
guest_connect(struct migshim_client *c, const struct guest_opts *o,
	      struct guest_result *r)
{
	double deadline = guest_deadline(o->timeout_s);
	char msg[256];
	int ret;

	for (;;) {
		ret = migshim_client_connect(c, o->socket, deadline > 0 ?
					     (int)(deadline - guest_now_ms()) + 1 :
					     -1, msg, sizeof(msg));
		if (ret == 0 || guest_stop_sig)
			return ret;
		if (ret != -ENOENT && ret != -ECONNREFUSED && ret != -EAGAIN)
			break;
		if (guest_expired(deadline))
			return guest_fail(r, "no migdp at %s after %lu s: %s",
					  o->socket, o->timeout_s,
					  strerror(-ret));
		usleep(50000);
	}
	if (msg[0] != '\0')
		return guest_fail(r, "migdp refused: %s", msg);
	return guest_fail(r, "connect %s: %s", o->socket, strerror(-ret));
}

/* One look at migdp: 1 completed, -1 failed, stopped or timed out (reason
 * in @p r), 0 not yet. */
static int
check(struct migshim_client *c, double deadline, struct guest_result *r)
{
	struct migshim_event ev;
	int ret = migshim_client_poll_event(c, &ev);

	if (ret == -EPIPE)
		return guest_fail(r, "migdp closed the session");
	if (ret == 0) {
		fprintf(stderr, "migguest: event %s value %u arg %llu %s\n",
			migshim_event_name(ev.type), ev.value,
			(unsigned long long)ev.arg, ev.reason);
		r->event_arg = ev.arg;
		r->event_value = ev.value;
		/* A static destination's migration ends with RESUME (value:
		 * verified); COMPLETED from a one-shot migdp of old. */
		if (ev.type == MIGSHIM_EV_COMPLETED || ev.type == MIGSHIM_EV_RESUME) {
			snprintf(r->reason, sizeof(r->reason), "%s", ev.reason);
			return 1;
		}
		if (ev.type == MIGSHIM_EV_FAILED)
			return guest_fail(r, "migdp: %s (%s)", ev.reason[0] ?
					  ev.reason : "failed",
					  strerror((int)ev.value));
	}
	if (guest_stop_sig)
		return -1;
	if (guest_expired(deadline))
		return guest_fail(r, "migration not over before --timeout");
	return 0;
}

/* Every page once, then the final end-of-round marker. A full ring is
 * retried after 50 us, while watching for migdp's end. */
static int
push_all(struct migshim_client *c, const struct guest *g, double deadline,
	 struct guest_result *r)
{
	uint64_t npages = g->size / MIGSHIM_PAGE_SIZE, words = (npages + 63) / 64;
	uint64_t *bm = malloc(words * sizeof(*bm));
	struct migshim_bitmap_iter it;
	struct migshim_desc d;
	int st = 0;

	if (bm == NULL)
		return guest_fail(r, "out of memory");
	memset(bm, 0xff, words * sizeof(*bm));
	migshim_bitmap_iter_init(&it, bm, npages, 0, GUEST_MAX_RUN,
				 GUEST_BLOCK_PAGES);
	while (migshim_bitmap_iter_next(&it, &d))
		r->descs++;
	migshim_bitmap_iter_init(&it, bm, npages, 0, GUEST_MAX_RUN,
				 GUEST_BLOCK_PAGES);
	while (st == 0 && migshim_client_push_bitmap(c, &it) == -EAGAIN &&
	       (st = check(c, deadline, r)) == 0)
		usleep(50);
	while (st == 0 && migshim_client_end_round(c, 1, true) == -EAGAIN &&
	       (st = check(c, deadline, r)) == 0)
		usleep(50);
	free(bm);
	if (st > 0)
		return guest_fail(r, "migdp completed before every page was pushed");
	r->pages = st == 0 ? npages : 0;
	return st;
}

struct migshim_client *
guest_client_create(const struct guest_opts *o)
{
	struct migshim_client_params p = {
		.role = o->role, .nrings = (uint32_t)o->channels,
		.ring_size = GUEST_RING_SIZE, .max_run_pages = GUEST_MAX_RUN,
		.block_pages = GUEST_BLOCK_PAGES, .name = o->name};

	return migshim_client_create(&p);
}

int
guest_static_session(const struct guest_opts *o, struct guest *g,
		     struct guest_result *r)
{
	struct migshim_client *c = guest_client_create(o);
	struct pollfd pfd = {.events = POLLIN};
	double deadline, t;
	int st = -1;

	if (c == NULL || migshim_client_add_region(c, g->fd, 0, 0, g->size) < 0)
		guest_fail(r, "shim: %s", strerror(errno));
	else if (guest_connect(c, o, r) == 0)
		st = 0;
	if (st < 0)
		goto out;
	fprintf(stderr, "migguest: connected to migdp at %s, %lu channel(s)\n",
		o->socket, o->channels);
	deadline = guest_deadline(o->timeout_s);
	t = guest_now_ms();
	if (o->role == MIGSHIM_ROLE_SOURCE) {
		st = push_all(c, g, deadline, r);
		r->push_ms = guest_now_ms() - t;
		if (st < 0)
			goto out;
		fprintf(stderr, "migguest: %llu pages pushed in %llu descriptors "
			"(%.1f ms), final round marked\n",
			(unsigned long long)r->pages,
			(unsigned long long)r->descs, r->push_ms);
	}
	t = guest_now_ms();
	pfd.fd = migshim_client_fd(c);
	while ((st = check(c, deadline, r)) == 0)
		poll(&pfd, 1, 100);
	r->wait_ms = guest_now_ms() - t;
out:
	migshim_client_destroy(c);
	if (st > 0 && o->role == MIGSHIM_ROLE_DESTINATION)
		r->verified = r->event_value != 0;
	return st > 0 ? 0 : -1;
}
