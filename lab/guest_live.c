/* SPDX-License-Identifier: BSD-3-Clause */
/* migguest --live: the session set-up, and the source's pre-copy.
 *
 * Source, as a hypervisor does it: the vCPUs run from the start with dirty
 * logging on; once connected the log is cleared and round 1 pushes every
 * RAM page. Then migdp leads:
 *   ROUND n     harvest the log, push it, end round n;
 *   THROTTLE p  vCPUs at (100 - p)% of their rate;
 *   PAUSE n     stop the vCPUs (barrier), harvest, push, end round n; write
 *               the device state, push its pages, end round n + 1 final;
 *   COMPLETED   the VM runs at the destination: stop for good;
 *   FAILED      resume the vCPUs if paused, run --run-after-ms, exit 1.
 * Events that come while a push waits for room are applied (THROTTLE) or
 * kept in order for the loop. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest.h"
#include "guest_live.h"

#define MAX_PENDING 16

struct live_src {
	const struct guest_opts *o;
	struct guest *g;
	struct guest_result *r;
	struct migshim_client *c;
	struct guest_workload *w;
	uint64_t npages;
	uint64_t *bm; /* private: the harvested log */
	struct migshim_event pending[MAX_PENDING];
	unsigned npending;
	double deadline;
	bool gone; /* migdp closed the session */
};

void
guest_result_round(struct guest_result *r, uint64_t round, uint64_t pages,
		   uint64_t descs)
{
	struct guest_round *n = realloc(r->rounds,
					(r->nrounds + 1) * sizeof(*n));

	if (n == NULL)
		return; /* the report misses a round; the migration does not */
	r->rounds = n;
	r->rounds[r->nrounds++] = (struct guest_round){round, pages, descs};
	r->pages += pages;
	r->descs += descs;
}

static void
log_event(const struct migshim_event *ev)
{
	fprintf(stderr, "migguest: event %s value %u arg %llu %s\n",
		migshim_event_name(ev->type), ev->value,
		(unsigned long long)ev->arg, ev->reason);
}

static void
throttle(struct live_src *s, unsigned pct)
{
	guest_workload_throttle(s->w, pct);
	if (pct > s->r->throttle_max)
		s->r->throttle_max = pct;
}

/* While a push waits: take one event. @return true when the session ends
 * (an end event is queued, migdp is gone, a signal, the timeout). */
static bool
push_wait(struct live_src *s)
{
	struct migshim_event ev;
	unsigned i;
	int ret = migshim_client_poll_event(s->c, &ev);

	if (ret == -EPIPE)
		s->gone = true;
	if (ret == 0) {
		log_event(&ev);
		if (ev.type == MIGSHIM_EV_THROTTLE)
			throttle(s, ev.value);
		else if (s->npending < MAX_PENDING)
			s->pending[s->npending++] = ev;
	}
	for (i = 0; i < s->npending; i++)
		if (s->pending[i].type == MIGSHIM_EV_COMPLETED ||
		    s->pending[i].type == MIGSHIM_EV_FAILED)
			return true;
	if (s->gone || guest_stop_sig || guest_expired(s->deadline))
		return true;
	usleep(50);
	return false;
}

/* Push the pages set in @p bm (@p npages bits from @p gpa) and end round
 * @p round. @return 0, or -1 when the session ended meanwhile. */
static int
push_round(struct live_src *s, const uint64_t *bm, uint64_t npages,
	   uint64_t gpa, uint64_t round, bool final)
{
	struct migshim_bitmap_iter it;
	struct migshim_desc d;
	uint64_t pages = 0, descs = 0;

	migshim_bitmap_iter_init(&it, bm, npages, gpa, GUEST_MAX_RUN,
				 GUEST_BLOCK_PAGES);
	while (migshim_bitmap_iter_next(&it, &d)) {
		descs++;
		pages += d.npages;
	}
	migshim_bitmap_iter_init(&it, bm, npages, gpa, GUEST_MAX_RUN,
				 GUEST_BLOCK_PAGES);
	while (migshim_client_push_bitmap(s->c, &it) == -EAGAIN)
		if (push_wait(s))
			return -1;
	while (migshim_client_end_round(s->c, round, final) == -EAGAIN)
		if (push_wait(s))
			return -1;
	guest_result_round(s->r, round, pages, descs);
	fprintf(stderr, "migguest: round %llu%s: %llu pages in %llu "
		"descriptors\n", (unsigned long long)round, final ? " (final)" : "",
		(unsigned long long)pages, (unsigned long long)descs);
	return 0;
}

/* Round 1: the log is cleared, every RAM page goes. */
static int
first_round(struct live_src *s)
{
	uint64_t words = (s->npages + 63) / 64;
	double t = guest_now_ms();
	int ret;

	guest_workload_harvest(s->w, s->bm);
	memset(s->bm, 0xff, words * sizeof(*s->bm));
	ret = push_round(s, s->bm, s->npages, 0, 1, false);
	s->r->push_ms = guest_now_ms() - t;
	return ret;
}

/* The device state: header (with the vCPUs' state) and filler. */
static void
write_device_state(struct live_src *s)
{
	struct guest_devstate h = {
		.nvcpus = (uint32_t)s->o->vcpus, .pause_ns = s->r->pause_ns,
		.writes = guest_workload_writes(s->w), .seed = s->o->seed};

	snprintf(h.digest, sizeof(h.digest), "%s", s->r->digest_at_pause);
	guest_workload_state(s->w, h.vcpu);
	guest_devstate_write(s->g->dev_mem, s->g->dev_size, &h);
}

/* PAUSE n: the switchover. */
static int
pause_vm(struct live_src *s, uint64_t n)
{
	uint64_t dev_pages = s->g->dev_size / MIGSHIM_PAGE_SIZE;

	guest_workload_pause(s->w);
	s->r->pause_ns = guest_now_ns();
	s->r->paused = true;
	guest_workload_harvest(s->w, s->bm);
	if (push_round(s, s->bm, s->npages, 0, n, false) < 0)
		return -1;
	/* Kept as the vCPUs wrote: no pass over memory while paused. */
	if (!s->o->no_verify)
		guest_workload_digest(s->w, s->r->digest_at_pause);
	if (dev_pages == 0)
		return push_round(s, s->bm, 0, GUEST_DEVSTATE_GPA, n + 1, true);
	write_device_state(s);
	memset(s->bm, 0xff, (dev_pages + 63) / 64 * sizeof(*s->bm));
	return push_round(s, s->bm, dev_pages, GUEST_DEVSTATE_GPA, n + 1, true);
}

/* The VM runs on here for --run-after-ms (resumed if it was paused). */
static void
run_on(struct live_src *s, bool resume)
{
	double end = guest_now_ms() + (double)s->o->run_after_ms;

	if (resume && s->r->paused) {
		guest_workload_resume(s->w);
		s->r->resumed_after_failure = true;
	}
	while (!guest_stop_sig && guest_now_ms() < end)
		usleep(10000);
}

/* Next event: a kept one first, else wait up to 100 ms.
 * @return 0, -EAGAIN (none yet) or -EPIPE. */
static int
next_event(struct live_src *s, struct migshim_event *ev)
{
	struct pollfd pfd = {.fd = migshim_client_fd(s->c), .events = POLLIN};
	int ret;

	if (s->npending > 0) {
		*ev = s->pending[0];
		memmove(s->pending, s->pending + 1,
			--s->npending * sizeof(*ev));
		return 0;
	}
	if (s->gone)
		return -EPIPE;
	ret = migshim_client_poll_event(s->c, ev);
	if (ret == -EAGAIN) {
		poll(&pfd, 1, 100);
		ret = migshim_client_poll_event(s->c, ev);
	}
	if (ret == 0)
		log_event(ev);
	return ret;
}

/* One event. @return 1 completed, -1 failed, 0 go on. */
static int
handle(struct live_src *s, const struct migshim_event *ev)
{
	struct guest_result *r = s->r;

	r->event_arg = ev->arg;
	r->event_value = ev->value;
	switch (ev->type) {
	case MIGSHIM_EV_ROUND:
		/* A push cut short left its reason for the loop. */
		guest_workload_harvest(s->w, s->bm);
		push_round(s, s->bm, s->npages, 0, ev->arg, false);
		return 0;
	case MIGSHIM_EV_THROTTLE:
		throttle(s, ev->value);
		return 0;
	case MIGSHIM_EV_PAUSE:
		if (r->paused)
			return guest_fail(r, "PAUSE %llu: already paused",
					  (unsigned long long)ev->arg);
		pause_vm(s, ev->arg); /* cut short: as for ROUND */
		return 0;
	case MIGSHIM_EV_COMPLETED:
		snprintf(r->reason, sizeof(r->reason), "%s", ev->reason);
		r->unconfirmed = ev->value == 0;
		return 1;
	case MIGSHIM_EV_FAILED:
		guest_fail(r, "migdp: %s (%s)", ev->reason[0] ? ev->reason :
			   "failed", strerror((int)ev->value));
		run_on(s, true);
		return -1;
	default:
		fprintf(stderr, "migguest: event %u ignored\n", ev->type);
		return 0;
	}
}

/* Events until the end. A push cut short (an end event, a lost migdp, a
 * signal, the timeout) ends here: through the kept events or the checks. */
static int
source_loop(struct live_src *s)
{
	struct migshim_event ev;
	int ret, st = 0;

	first_round(s);
	while (st == 0) {
		if (guest_stop_sig)
			return -1;
		ret = next_event(s, &ev);
		if (ret == 0)
			st = handle(s, &ev);
		else if (ret == -EPIPE)
			st = guest_fail(s->r, "migdp closed the session");
		else if (guest_expired(s->deadline))
			st = guest_fail(s->r, "migration not over before --timeout");
	}
	/* Without migdp's word the outcome is unknown: a paused VM stays
	 * paused (it may run at the destination), a running one runs on. */
	if (st < 0 && !s->r->resumed_after_failure && !guest_stop_sig &&
	    !s->r->paused)
		run_on(s, false);
	return st > 0 ? 0 : -1;
}

static int
live_source(const struct guest_opts *o, struct guest *g,
	    struct migshim_client *c, struct guest_workload *w,
	    struct guest_result *r)
{
	struct live_src s = {.o = o, .g = g, .r = r, .c = c, .w = w,
			     .npages = g->size / MIGSHIM_PAGE_SIZE,
			     .deadline = guest_deadline(o->timeout_s)};
	uint64_t words = (s.npages + 63) / 64, dev_words;
	double t = guest_now_ms();
	int ret;

	dev_words = (g->dev_size / MIGSHIM_PAGE_SIZE + 63) / 64;
	s.bm = calloc(words > dev_words ? words : dev_words, sizeof(*s.bm));
	if (s.bm == NULL)
		return guest_fail(r, "out of memory");
	ret = source_loop(&s);
	r->wait_ms = guest_now_ms() - t;
	free(s.bm);
	return ret;
}

int
guest_live_session(const struct guest_opts *o, struct guest *g,
		   struct guest_result *r)
{
	struct migshim_client *c = guest_client_create(o);
	struct guest_workload *w = NULL;
	int ret = -1;

	if (c == NULL || migshim_client_add_region(c, g->fd, 0, 0, g->size) < 0 ||
	    (g->dev_size > 0 &&
	     migshim_client_add_device_state(c, g->dev_fd, 0, GUEST_DEVSTATE_GPA,
					     g->dev_size) < 0)) {
		guest_fail(r, "shim: %s", strerror(errno));
		goto out;
	}
	if (o->role == MIGSHIM_ROLE_SOURCE) {
		w = guest_live_workload(o, g, NULL);
		if (w == NULL) {
			guest_fail(r, "vCPU threads: %s", strerror(errno));
			goto out;
		}
	}
	if (guest_connect(c, o, r) < 0)
		goto out;
	fprintf(stderr, "migguest: %s connected to migdp at %s, %lu channel(s), "
		"live\n", o->name, o->socket, o->channels);
	if (o->role == MIGSHIM_ROLE_SOURCE)
		ret = live_source(o, g, c, w, r);
	else
		ret = guest_live_destination(o, g, c, r);
out:
	if (w != NULL) {
		r->writes = guest_workload_writes(w);
		guest_workload_destroy(w);
	}
	migshim_client_destroy(c);
	return ret;
}

struct guest_workload *
guest_live_workload(const struct guest_opts *o, const struct guest *g,
		    const struct guest_devstate *from)
{
	uint64_t npages = g->size / MIGSHIM_PAGE_SIZE;
	struct guest_workload_params p = {
		.mem = g->mem, .npages = npages, .kind = o->workload,
		.rate = o->dirty_rate, .nvcpus = (unsigned)o->vcpus,
		.hot_pages = o->hot_pages ? o->hot_pages :
			     (npages / 100 ? npages / 100 : 1),
		.seed = o->seed,
		/* The source keeps its digest for the device state. */
		.track_digest = !o->no_verify && from == NULL};

	if (from != NULL) {
		p.nvcpus = from->nvcpus; /* the VM's, as it left the source */
		p.seed = from->seed;
		p.from = from->vcpu;
	}
	return guest_workload_start(&p);
}
