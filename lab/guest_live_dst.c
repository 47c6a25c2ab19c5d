/* SPDX-License-Identifier: BSD-3-Clause */
/* migguest --live, destination: wait for RESUME, load the device state,
 * check the RAM against the digest the source took when it paused, and run
 * the VM on from the vCPU state the device state carries. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guest_live.h"

/* The VM runs here for --run-after-ms, continuing from @p h (NULL: from
 * scratch). */
static int
run_resumed(const struct guest_opts *o, struct guest *g,
	    const struct guest_devstate *h, struct guest_result *r)
{
	struct guest_workload *w = guest_live_workload(o, g, h);
	double end = guest_now_ms() + (double)o->run_after_ms;
	uint64_t before = h != NULL ? h->writes : 0;

	if (w == NULL)
		return guest_fail(r, "vCPU threads: %s", strerror(errno));
	while (!guest_stop_sig && guest_now_ms() < end)
		usleep(10000);
	r->writes = guest_workload_writes(w);
	r->resumed_writes = r->writes - before;
	guest_workload_destroy(w);
	return guest_stop_sig ? -1 : 0;
}

/* RESUME: migdp verified (@p migdp_ok) and let the source go. */
static int
resume(const struct guest_opts *o, struct guest *g, bool migdp_ok,
       struct guest_result *r)
{
	uint64_t resume_ns = guest_now_ns();
	struct guest_devstate h;
	bool have_dev = g->dev_size > 0, match = true;
	char err[128];
	double t;

	if (have_dev &&
	    guest_devstate_read(g->dev_mem, g->dev_size, &h, err, sizeof(err)) < 0) {
		r->verified = false;
		return guest_fail(r, "%s: the VM cannot resume", err);
	}
	if (have_dev && h.pause_ns > 0 && resume_ns > h.pause_ns) {
		r->have_downtime = true;
		r->downtime_ms = (double)(resume_ns - h.pause_ns) / 1e6;
		r->pause_ns = h.pause_ns;
	}
	if (!o->no_verify) {
		t = guest_now_ms();
		guest_mem_digest(g->mem, g->size / GENMEM_PAGE_SIZE, r->digest);
		r->verify_ms = guest_now_ms() - t;
		match = !have_dev || strcmp(r->digest, h.digest) == 0;
	}
	r->verified = migdp_ok && match;
	if (!migdp_ok)
		guest_fail(r, "migdp did not verify the memory");
	else if (!match)
		guest_fail(r, "RAM digest %s, the source's at pause %s",
			   r->digest, h.digest[0] ? h.digest : "(none)");
	fprintf(stderr, "migguest: resumed, %s, downtime %.1f ms\n",
		r->verified ? "verified" : "NOT verified", r->downtime_ms);
	return run_resumed(o, g, have_dev ? &h : NULL, r);
}

int
guest_live_destination(const struct guest_opts *o, struct guest *g,
		       struct migshim_client *c, struct guest_result *r)
{
	struct pollfd pfd = {.fd = migshim_client_fd(c), .events = POLLIN};
	double deadline = guest_deadline(o->timeout_s), t = guest_now_ms();
	struct migshim_event ev;
	int ret;

	for (;;) {
		ret = migshim_client_poll_event(c, &ev);
		if (ret == -EPIPE)
			return guest_fail(r, "migdp closed the session");
		if (ret == -EAGAIN) {
			if (guest_stop_sig)
				return -1;
			if (guest_expired(deadline))
				return guest_fail(r, "no RESUME before --timeout");
			poll(&pfd, 1, 100);
			continue;
		}
		fprintf(stderr, "migguest: event %s value %u arg %llu %s\n",
			migshim_event_name(ev.type), ev.value,
			(unsigned long long)ev.arg, ev.reason);
		r->event_arg = ev.arg;
		r->event_value = ev.value;
		r->wait_ms = guest_now_ms() - t;
		switch (ev.type) {
		case MIGSHIM_EV_RESUME:
			return resume(o, g, ev.value != 0, r);
		case MIGSHIM_EV_COMPLETED:
			/* A one-shot migration: nothing to resume. */
			r->verified = ev.value != 0;
			return 0;
		case MIGSHIM_EV_FAILED:
			return guest_fail(r, "migdp: %s (%s)", ev.reason[0] ?
					  ev.reason : "failed",
					  strerror((int)ev.value));
		default:
			break;
		}
	}
}
