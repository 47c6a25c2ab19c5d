/* SPDX-License-Identifier: BSD-3-Clause */
/* migvm as a hypervisor on libmigshim: the worked example of a hypervisor
 * integration (README "libmigshim"). Source: guest RAM (the VM's memfd)
 * and a device-state region handed to migdp; round 1 all of RAM, each
 * ROUND what KVM's dirty log harvested; THROTTLE slows the guest's pace; PAUSE: stop the vCPUs, the last dirty pages, the vCPU state into
 * the device state; COMPLETED: the VM is gone from here; FAILED: it runs
 * on. Destination: empty RAM handed to migdp; RESUME: a VM on that memory,
 * the vCPU state restored, run, and the guest's own verification of its
 * pages after resume says whether the memory survived. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "guest_abi.h"
#include "migshim.h"
#include "migvm_live.h"

#define DEV_GPA (1ull << 40)
#define DEV_SIZE (1u << 20)
#define DEV_MAGIC 0x54534d56474d4956ull /* "VIMGVMST" */
#define BLOCK_PAGES 512
#define MAX_RUN 512

/* The device-state region: this header, then the vCPU state blob. */
struct devstate {
	uint64_t magic;
	uint64_t pause_ns;  /* CLOCK_MONOTONIC at the source's pause */
	uint64_t len;       /* of the blob */
	uint64_t writes;    /* the guest's counters at pause */
	uint64_t verify_passes;
};

uint64_t
migvm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int
fail(struct migvm_live_result *r, const char *why)
{
	snprintf(r->reason, sizeof(r->reason), "%s", why);
	return -1;
}

static int
memfd_of(uint64_t size)
{
	int fd = memfd_create("migvm-devstate", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd >= 0 && ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
connect_shim(const struct migvm_live_opts *o, struct migshim_client **cp, int ramfd,
	     int devfd, struct migvm_live_result *r)
{
	struct migshim_client_params p = {
		.role = o->source ? MIGSHIM_ROLE_SOURCE : MIGSHIM_ROLE_DESTINATION,
		.nrings = o->channels, .ring_size = 4096, .max_run_pages = MAX_RUN,
		.block_pages = BLOCK_PAGES, .name = o->name};
	struct migshim_client *c = migshim_client_create(&p);
	uint64_t deadline = migvm_now_ns() + (uint64_t)o->timeout_s * 1000000000ull;
	char why[256] = "";
	int ret;

	if (c == NULL || migshim_client_add_region(c, ramfd, 0, 0, o->mem) < 0 ||
	    migshim_client_add_device_state(c, devfd, 0, DEV_GPA, DEV_SIZE) < 0)
		return fail(r, "shim client: cannot describe guest memory");
	for (;;) { /* migdp may not listen yet */
		/* migdp answers once its port is up: wait for its verdict. */
		ret = migshim_client_connect(c, o->socket, (int)((deadline - migvm_now_ns()) / 1000000) + 1,
					     why, sizeof(why));
		if (ret == 0)
			break;
		if ((ret != -ENOENT && ret != -ECONNREFUSED) || migvm_now_ns() > deadline) {
			migshim_client_destroy(c);
			snprintf(r->reason, sizeof(r->reason), "migdp at %s: %s", o->socket,
				 why[0] ? why : strerror(-ret));
			return -1;
		}
		usleep(50000);
	}
	*cp = c;
	return 0;
}

/* Push the pages of @p bm (@p npages from @p gpa), then end round @p n,
 * final or not; a full ring is retried. */
static int
push(struct migshim_client *c, const uint64_t *bm, uint64_t npages, uint64_t gpa,
     uint64_t n, bool final)
{
	struct migshim_bitmap_iter it;

	migshim_bitmap_iter_init(&it, bm, npages, gpa, MAX_RUN, BLOCK_PAGES);
	while (npages > 0 && migshim_client_push_bitmap(c, &it) == -EAGAIN)
		usleep(50);
	while (migshim_client_end_round(c, n, final) == -EAGAIN)
		usleep(50);
	return 0;
}

struct src {
	const struct migvm_live_opts *o;
	struct migvm *vm;
	struct migshim_client *c;
	struct migvm_live_result *r;
	uint64_t *bm, npages;
	uint8_t *dev;
	unsigned throttle;
	uint64_t tsc_per_write;      /* the guest's pace before any throttle */
	bool params_dirty;           /* we wrote its parameter page */
	bool paused;
};

/* KVM's dirty log, plus the parameter page when the host wrote it (a
 * host write is not in KVM's log). */
static void
harvest(struct src *s)
{
	migvm_harvest(s->vm, s->bm);
	if (s->params_dirty) {
		uint64_t page = MIGVM_PARAMS_GPA / 4096;

		s->bm[page / 64] |= 1ull << (page % 64);
		s->params_dirty = false;
	}
}

/* Throttle: the guest paces itself on its parameter page; slow it to
 * (100 - pct)% of its rate (a real hypervisor would take CPU time from
 * the vCPUs; this guest catches up after a stop, so it is told). */
static void
throttle(struct src *s, unsigned pct)
{
	volatile struct migvm_params *p = (volatile struct migvm_params *)
		(migvm_mem(s->vm) + MIGVM_PARAMS_GPA);

	if (s->tsc_per_write == 0)
		s->tsc_per_write = p->tsc_per_write;
	s->throttle = pct < 100 ? pct : 99;
	if (s->tsc_per_write != 0)
		p->tsc_per_write = s->tsc_per_write * 100 / (100 - s->throttle);
	s->params_dirty = true;
}

/* Stop the vCPUs, the last dirty pages, the vCPU state as the device
 * state (round n + 1, final). */
static int
pause_vm(struct src *s, uint64_t n)
{
	struct devstate *h = (struct devstate *)s->dev;
	struct migvm_counters k;
	uint64_t words = (DEV_SIZE / 4096 + 63) / 64, i;
	ssize_t len;

	migvm_pause(s->vm);
	s->paused = true;
	s->r->pause_ns = migvm_now_ns();
	harvest(s);
	push(s->c, s->bm, s->npages, 0, n, false);
	len = migvm_capture(s->vm, s->dev + sizeof(*h), DEV_SIZE - sizeof(*h));
	if (len < 0)
		return fail(s->r, "cannot capture the vCPU state");
	migvm_counters(s->vm, &k);
	*h = (struct devstate){.magic = DEV_MAGIC, .pause_ns = s->r->pause_ns,
		.len = (uint64_t)len, .writes = k.writes, .verify_passes = k.verify_passes};
	memset(s->bm, 0, words * sizeof(*s->bm));
	for (i = 0; i < ((uint64_t)len + sizeof(*h) + 4095) / 4096; i++)
		s->bm[i / 64] |= 1ull << (i % 64);
	push(s->c, s->bm, DEV_SIZE / 4096, DEV_GPA, n + 1, true);
	s->r->device_state_bytes = (uint64_t)len + sizeof(*h);
	return 0;
}

/* One event from migdp: 1 when the migration is over for us. */
static int
on_event(struct src *s, const struct migshim_event *ev)
{
	switch (ev->type) {
	case MIGSHIM_EV_ROUND:
		harvest(s);
		push(s->c, s->bm, s->npages, 0, ev->arg, false);
		s->r->rounds++;
		return 0;
	case MIGSHIM_EV_THROTTLE:
		throttle(s, ev->value);
		if (s->throttle > s->r->throttle_max_pct)
			s->r->throttle_max_pct = s->throttle;
		return 0;
	case MIGSHIM_EV_PAUSE:
		return pause_vm(s, ev->arg) < 0 ? -1 : 0;
	case MIGSHIM_EV_COMPLETED:
		s->r->completed = true;
		s->r->handed_over_unconfirmed = ev->value == 0;
		return 1;
	case MIGSHIM_EV_FAILED:
		snprintf(s->r->reason, sizeof(s->r->reason), "migdp: %s", ev->reason);
		s->r->resumed_after_failure = s->paused; /* it runs on here */
		if (s->paused)
			migvm_resume(s->vm);
		s->paused = false;
		return 1;
	default:
		return 0;
	}
}

int
migvm_live_source(const struct migvm_live_opts *o, struct migvm *vm,
		  struct migvm_live_result *r)
{
	struct src s = {.o = o, .vm = vm, .r = r, .npages = migvm_npages(vm)};
	struct pollfd pfd = {.events = POLLIN};
	uint64_t deadline;
	int devfd, ret = 0;

	devfd = memfd_of(DEV_SIZE);
	s.dev = devfd < 0 ? MAP_FAILED : mmap(NULL, DEV_SIZE, PROT_READ | PROT_WRITE,
					      MAP_SHARED, devfd, 0);
	s.bm = calloc((s.npages + 63) / 64 + 64, sizeof(uint64_t));
	if (s.dev == MAP_FAILED || s.bm == NULL)
		return fail(r, "out of memory");
	if (connect_shim(o, &s.c, migvm_memfd(vm), devfd, r) < 0)
		return -1;
	/* The dirty log from now on; round 1 is all of RAM. */
	migvm_harvest(vm, s.bm);
	memset(s.bm, 0xff, (s.npages + 63) / 64 * sizeof(uint64_t));
	push(s.c, s.bm, s.npages, 0, 1, false);
	r->rounds = 1;
	pfd.fd = migshim_client_fd(s.c);
	deadline = migvm_now_ns() + (uint64_t)o->timeout_s * 1000000000ull;
	while (ret == 0) {
		struct migshim_event ev;
		int e = migshim_client_poll_event(s.c, &ev);

		if (e == -EPIPE) {
			ret = fail(r, "migdp closed the session");
			break;
		}
		if (e == 0) {
			ret = on_event(&s, &ev);
			continue;
		}
		if (migvm_now_ns() > deadline) {
			ret = fail(r, "migration not over before --timeout");
			break;
		}
		poll(&pfd, 1, 20);
	}
	migshim_client_destroy(s.c);
	munmap(s.dev, DEV_SIZE);
	close(devfd);
	free(s.bm);
	if (!r->completed) {
		/* The VM runs on here: it must go on writing and verifying. */
		struct migvm_counters k0, k1;
		uint64_t until = migvm_now_ns() + (uint64_t)o->run_after_ms * 1000000ull;

		if (s.paused)
			migvm_resume(vm);
		migvm_counters(vm, &k0);
		do {
			usleep(20000);
			migvm_counters(vm, &k1);
		} while (migvm_now_ns() < until || (k1.verify_passes < k0.verify_passes + 2 &&
					      migvm_now_ns() < until + 10000000000ull));
		r->writes_after_resume = k1.writes - k0.writes;
		r->verify_passes_after_resume = k1.verify_passes - k0.verify_passes;
		r->mismatches = k1.mismatches;
		r->verified = k1.mismatches == 0 && r->verify_passes_after_resume >= 2 &&
			      r->writes_after_resume > 0 && !k1.failed;
	}
	return r->completed ? 0 : -1;
}

int
migvm_live_destination(const struct migvm_live_opts *o, struct migvm_live_result *r)
{
	struct pollfd pfd = {.events = POLLIN};
	struct migshim_client *c = NULL;
	struct migshim_event ev;
	struct migvm_counters k0, k1;
	const struct devstate *h;
	struct migvm *vm;
	uint8_t *dev;
	int ramfd, devfd, e;
	uint64_t deadline;

	ramfd = memfd_create("migvm-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	devfd = memfd_of(DEV_SIZE);
	if (ramfd < 0 || devfd < 0 || ftruncate(ramfd, (off_t)o->mem) < 0)
		return fail(r, "cannot make guest memory");
	dev = mmap(NULL, DEV_SIZE, PROT_READ, MAP_SHARED, devfd, 0);
	if (dev == MAP_FAILED || connect_shim(o, &c, ramfd, devfd, r) < 0)
		return -1;
	pfd.fd = migshim_client_fd(c);
	deadline = migvm_now_ns() + (uint64_t)o->timeout_s * 1000000000ull;
	for (;;) {
		e = migshim_client_poll_event(c, &ev);
		if (e == -EPIPE || migvm_now_ns() > deadline) {
			migshim_client_destroy(c);
			return fail(r, e == -EPIPE ? "migdp closed the session" :
				    "no RESUME before --timeout");
		}
		if (e == 0 && ev.type == MIGSHIM_EV_FAILED) {
			snprintf(r->reason, sizeof(r->reason), "migdp: %s", ev.reason);
			migshim_client_destroy(c);
			return -1;
		}
		if (e == 0 && ev.type == MIGSHIM_EV_RESUME)
			break;
		poll(&pfd, 1, 100);
	}
	/* The VM on the memory migdp wrote, its vCPUs as they left. */
	h = (const struct devstate *)dev;
	if (h->magic != DEV_MAGIC || h->len > DEV_SIZE - sizeof(*h)) {
		migshim_client_destroy(c);
		return fail(r, "device state: not a migvm vCPU state");
	}
	vm = migvm_create(o->mem, 1, ramfd, 1);
	if (vm == NULL || migvm_restore(vm, dev + sizeof(*h), h->len) < 0 ||
	    migvm_start(vm) < 0) {
		migshim_client_destroy(c);
		return fail(r, "cannot restore the VM");
	}
	r->resume_ns = migvm_now_ns();
	r->pause_ns = h->pause_ns;
	r->migdp_verified = ev.value != 0;
	migvm_counters(vm, &k0);
	/* The guest checks every page it wrote, over and over: it must pass
	 * at least twice more, with no mismatch, and go on writing. */
	deadline = migvm_now_ns() + (uint64_t)o->run_after_ms * 1000000ull;
	do {
		usleep(20000);
		migvm_counters(vm, &k1);
	} while (migvm_now_ns() < deadline || (k1.verify_passes < k0.verify_passes + 2 &&
					 migvm_now_ns() < deadline + 10000000000ull));
	r->writes = k1.writes;
	r->writes_after_resume = k1.writes - k0.writes;
	r->verify_passes_after_resume = k1.verify_passes - k0.verify_passes;
	r->mismatches = k1.mismatches;
	r->verified = r->migdp_verified && k1.mismatches == 0 &&
		      r->verify_passes_after_resume >= 2 && r->writes_after_resume > 0 &&
		      !k1.failed;
	if (!r->verified)
		snprintf(r->reason, sizeof(r->reason), "after resume: %llu mismatches, %llu "
			 "verification passes, %llu writes%s",
			 (unsigned long long)k1.mismatches,
			 (unsigned long long)r->verify_passes_after_resume,
			 (unsigned long long)r->writes_after_resume,
			 r->migdp_verified ? "" : ", migdp did not verify");
	r->completed = true;
	migvm_destroy(vm);
	migshim_client_destroy(c);
	munmap(dev, DEV_SIZE);
	close(devfd);
	return r->verified ? 0 : -1;
}
