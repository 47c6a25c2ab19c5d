/* SPDX-License-Identifier: BSD-3-Clause */
/* migguest --live as a real process against this test playing migdp:
 * round 1 holds every RAM page once; a later round holds every page that
 * changed (a copy taken as the rounds are popped ends equal to the paused
 * source); PAUSE gives the final dirty set, then the device state, final;
 * THROTTLE is reported; FAILED resumes the VM; a destination checks the
 * device state and the RAM on RESUME and runs on from the vCPU state. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cu_main.h"
#include "genmem.h"
#include "guest_devstate.h"
#include "guest_run.h"
#include "migshim.h"

#define MB (1024ull * 1024)
#define PAGE MIGSHIM_PAGE_SIZE
#define BLOCK (2 * MB)
#define DEV_SIZE (64 * 1024)

/* The test's side of a session: the guest's regions and what a migdp
 * destination would hold of them (copied as descriptors are popped). */
struct peer {
	struct migshim_server *srv;
	struct migshim_session *ss;
	unsigned nr;
	uint8_t *ram, *dev;
	uint64_t npages, dev_pages;
	uint8_t *copy, *dev_copy;
};

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Accept the guest on @p path; two regions: RAM at 0, device state. */
static int
peer_accept(struct peer *p, const char *path, enum migshim_role role)
{
	struct migshim_region_info ram, dev;

	memset(p, 0, sizeof(*p));
	p->srv = migshim_server_create(path, role, 0);
	if (p->srv == NULL)
		return -1;
	p->ss = migshim_server_accept(p->srv, 20000);
	if (p->ss == NULL || migshim_session_nregions(p->ss) != 2 ||
	    migshim_session_region(p->ss, 0, &ram) < 0 ||
	    migshim_session_region(p->ss, 1, &dev) < 0)
		return -1;
	CU_ASSERT_EQUAL(ram.gpa, 0);
	CU_ASSERT_EQUAL(ram.flags, 0);
	CU_ASSERT_EQUAL(dev.gpa, GUEST_DEVSTATE_GPA);
	CU_ASSERT_EQUAL(dev.size, DEV_SIZE);
	CU_ASSERT_EQUAL(dev.flags, MIGSHIM_REGION_DEVICE_STATE);
	p->nr = migshim_session_nrings(p->ss);
	p->ram = ram.hva;
	p->npages = ram.size / PAGE;
	p->dev = dev.hva;
	p->dev_pages = dev.size / PAGE;
	p->copy = calloc(p->npages, PAGE);
	p->dev_copy = calloc(p->dev_pages, PAGE);
	return p->copy != NULL && p->dev_copy != NULL ? 0 : -1;
}

static void
peer_close(struct peer *p)
{
	if (p->ss != NULL)
		migshim_session_close(p->ss);
	if (p->srv != NULL)
		migshim_server_destroy(p->srv);
	free(p->copy);
	free(p->dev_copy);
}

/* Pop round @p round from every ring, up to its marker (final or not as
 * @p final says): count each page in @p seen (RAM) or @p dev_seen and copy
 * it. @return the number of wrong things (wrong ring, outside the regions,
 * wrong marker, no marker within 10 s). */
static unsigned
collect(struct peer *p, uint64_t round, bool final, uint8_t *seen,
	uint8_t *dev_seen)
{
	bool done[MIGSHIM_MAX_RINGS] = {false};
	unsigned r, ndone = 0, bad = 0;
	uint64_t deadline = mono_ns() + 10000000000ull, pg, i;
	struct migshim_desc d;
	bool any;

	while (ndone < p->nr && mono_ns() < deadline) {
		any = false;
		for (r = 0; r < p->nr; r++) {
			if (done[r] || migshim_session_pop(p->ss, r, &d, 1) == 0)
				continue;
			any = true;
			if (d.flags & MIGSHIM_DESC_END_OF_ROUND) {
				bad += d.gpa != round ||
				       !(d.flags & MIGSHIM_DESC_FINAL) != !final;
				done[r] = true;
				ndone++;
				continue;
			}
			bad += (d.gpa / BLOCK) % p->nr != r;
			for (i = 0; i < d.npages; i++) {
				pg = d.gpa / PAGE + i;
				if (pg < p->npages) {
					seen[pg]++;
					memcpy(p->copy + pg * PAGE,
					       p->ram + pg * PAGE, PAGE);
				} else if (pg >= GUEST_DEVSTATE_GPA / PAGE &&
					   pg - GUEST_DEVSTATE_GPA / PAGE <
					   p->dev_pages) {
					pg -= GUEST_DEVSTATE_GPA / PAGE;
					dev_seen[pg]++;
					memcpy(p->dev_copy + pg * PAGE,
					       p->dev + pg * PAGE, PAGE);
				} else {
					bad++;
				}
			}
		}
		if (!any)
			usleep(200);
	}
	return bad + (p->nr - ndone);
}

static uint64_t
count_set(const uint8_t *v, uint64_t n, uint8_t want)
{
	uint64_t i, c = 0;

	for (i = 0; i < n; i++)
		c += v[i] == want;
	return c;
}

static uint64_t
count_nonzero(const uint8_t *v, uint64_t n)
{
	return n - count_set(v, n, 0);
}

/* Round @p n of the JSON "rounds": its pages, -1 if missing. */
static long long
json_round_pages(const struct guest_run *g, uint64_t n)
{
	json_t *a = json_object_get(g->json, "rounds"), *e;
	size_t i;

	json_array_foreach(a, i, e)
		if ((uint64_t)json_integer_value(json_object_get(e, "round")) == n)
			return json_integer_value(json_object_get(e, "pages"));
	return -1;
}

static bool
jbool(const struct guest_run *g, const char *key)
{
	return json_is_true(json_object_get(g->json, key));
}

static const char *const src_args[] = {
	"--role", "source", "--socket", NULL, "--mem", "8M", "--channels", "2",
	"--live", "--workload", "steady", "--dirty-rate", "2K", "--vcpus", "2",
	"--device-state", "64K", "--name", "vm-live", "--seed", "5",
	"--run-after-ms", "1000", "--timeout", "30", "--hot-pages", "32", NULL};

/* Round 1, then ROUND 2 after a while: every page that changed in between
 * is in round 2. @p s1 gets the RAM after round 1. */
static void
first_rounds(struct peer *p, uint8_t *seen, uint8_t *dev_seen, uint8_t *s1,
	     uint8_t *s2)
{
	uint64_t pg, changed = 0, lost = 0;

	CU_ASSERT_EQUAL(collect(p, 1, false, seen, dev_seen), 0);
	CU_ASSERT_EQUAL(count_set(seen, p->npages, 1), p->npages);
	CU_ASSERT_EQUAL(count_nonzero(dev_seen, p->dev_pages), 0);
	memcpy(s1, p->ram, p->npages * PAGE);
	usleep(300000);
	memcpy(s2, p->ram, p->npages * PAGE);
	usleep(5000); /* a write's dirty bit follows its bytes */
	memset(seen, 0, p->npages);
	send_event(p->ss, MIGSHIM_EV_ROUND, 0, 2, "");
	CU_ASSERT_EQUAL(collect(p, 2, false, seen, dev_seen), 0);
	CU_ASSERT(count_nonzero(seen, p->npages) > 0);
	CU_ASSERT_EQUAL(count_set(seen, p->npages, 1),
			count_nonzero(seen, p->npages));
	CU_ASSERT_EQUAL(count_nonzero(dev_seen, p->dev_pages), 0);
	for (pg = 0; pg < p->npages; pg++) {
		if (memcmp(s1 + pg * PAGE, s2 + pg * PAGE, PAGE) == 0)
			continue;
		changed++;
		lost += seen[pg] == 0;
	}
	CU_ASSERT(changed > 0);
	CU_ASSERT_EQUAL(lost, 0);
}

/* PAUSE 3: the final dirty set in round 3, the device state in round 4
 * (final); the memory no longer changes; the header is valid. */
static void
pause_rounds(struct peer *p, uint8_t *seen, uint8_t *dev_seen, uint8_t *snap,
	     struct guest_devstate *h, uint64_t *round3)
{
	char hex[GENMEM_DIGEST_HEX_LEN], err[128] = "";
	uint64_t t0 = mono_ns();

	memset(seen, 0, p->npages);
	send_event(p->ss, MIGSHIM_EV_PAUSE, 0, 3, "");
	CU_ASSERT_EQUAL(collect(p, 3, false, seen, dev_seen), 0);
	CU_ASSERT_EQUAL(count_nonzero(dev_seen, p->dev_pages), 0);
	*round3 = count_nonzero(seen, p->npages);
	memset(seen, 0, p->npages);
	CU_ASSERT_EQUAL(collect(p, 4, true, seen, dev_seen), 0);
	CU_ASSERT_EQUAL(count_nonzero(seen, p->npages), 0);
	CU_ASSERT_EQUAL(count_set(dev_seen, p->dev_pages, 1), p->dev_pages);
	memcpy(snap, p->ram, p->npages * PAGE);
	usleep(100000);
	CU_ASSERT(memcmp(snap, p->ram, p->npages * PAGE) == 0);
	/* What a destination holds now is the paused source. */
	CU_ASSERT(memcmp(p->copy, p->ram, p->npages * PAGE) == 0);
	CU_ASSERT(memcmp(p->dev_copy, p->dev, p->dev_pages * PAGE) == 0);
	CU_ASSERT_EQUAL(guest_devstate_read(p->dev, p->dev_pages * PAGE, h, err,
					    sizeof(err)), 0);
	fprintf(stderr, "%s", err);
	guest_mem_digest(p->ram, p->npages, hex);
	CU_ASSERT_STRING_EQUAL(h->digest, hex);
	CU_ASSERT_EQUAL(h->nvcpus, 2);
	CU_ASSERT(h->writes > 0);
	CU_ASSERT(h->vcpu[0].writes + h->vcpu[1].writes == h->writes);
	CU_ASSERT(h->pause_ns > t0 && h->pause_ns < mono_ns());
}

struct live_src_run {
	char path[108];
	struct guest_run g;
	struct peer p;
	uint8_t *seen, *dev_seen, *s1, *s2;
	struct guest_devstate h;
	uint64_t round3;
};

/* A live source of @p workload, connected. */
static void
live_src_start(struct live_src_run *t, const char *workload)
{
	const char *args[sizeof(src_args) / sizeof(src_args[0])];

	memcpy(args, src_args, sizeof(args));
	sock_path(t->path, sizeof(t->path));
	args[3] = t->path;
	args[10] = workload;
	start(&t->g, args);
	CU_ASSERT_FATAL(peer_accept(&t->p, t->path, MIGSHIM_ROLE_SOURCE) == 0);
	CU_ASSERT_STRING_EQUAL(migshim_session_name(t->p.ss), "vm-live");
	CU_ASSERT_EQUAL(t->p.nr, 2);
	t->seen = calloc(t->p.npages, 1);
	t->dev_seen = calloc(t->p.dev_pages, 1);
	t->s1 = malloc(t->p.npages * PAGE);
	t->s2 = malloc(t->p.npages * PAGE);
	CU_ASSERT_FATAL(t->seen && t->dev_seen && t->s1 && t->s2);
}

static void
live_src_done(struct live_src_run *t)
{
	json_decref(t->g.json);
	peer_close(&t->p);
	free(t->seen);
	free(t->dev_seen);
	free(t->s1);
	free(t->s2);
}

static void
test_live_source_steady(void)
{
	struct live_src_run t;
	long long r2;

	live_src_start(&t, "steady");
	first_rounds(&t.p, t.seen, t.dev_seen, t.s1, t.s2);
	r2 = (long long)count_nonzero(t.seen, t.p.npages);
	pause_rounds(&t.p, t.seen, t.dev_seen, t.s1, &t.h, &t.round3);
	send_event(t.p.ss, MIGSHIM_EV_COMPLETED, 1, 0, "");
	CU_ASSERT_EQUAL_FATAL(finish(&t.g, 10000), 0);
	CU_ASSERT_EQUAL(exit_code(&t.g), 0);
	CU_ASSERT_FATAL(t.g.json != NULL);
	CU_ASSERT_STRING_EQUAL(jstr(&t.g, "status"), "completed");
	CU_ASSERT(jbool(&t.g, "live"));
	CU_ASSERT_STRING_EQUAL(jstr(&t.g, "name"), "vm-live");
	CU_ASSERT_STRING_EQUAL(jstr(&t.g, "workload"), "steady");
	CU_ASSERT_EQUAL(jint(&t.g, "vcpus"), 2);
	CU_ASSERT_EQUAL(jint(&t.g, "dirty_rate"), 2000);
	CU_ASSERT_EQUAL(jint(&t.g, "writes"), (long long)t.h.writes);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(t.g.json, "rounds")), 4);
	CU_ASSERT_EQUAL(json_round_pages(&t.g, 1), (long long)t.p.npages);
	CU_ASSERT_EQUAL(json_round_pages(&t.g, 2), r2);
	CU_ASSERT_EQUAL(json_round_pages(&t.g, 3), (long long)t.round3);
	CU_ASSERT_EQUAL(json_round_pages(&t.g, 4), (long long)t.p.dev_pages);
	CU_ASSERT_EQUAL(jint(&t.g, "throttle_max_pct"), 0);
	CU_ASSERT(jbool(&t.g, "paused"));
	CU_ASSERT_EQUAL((uint64_t)jint(&t.g, "pause_ns"), t.h.pause_ns);
	CU_ASSERT_EQUAL(jint(&t.g, "device_state_bytes"), DEV_SIZE);
	CU_ASSERT_STRING_EQUAL(jstr(&t.g, "digest_at_pause"), t.h.digest);
	CU_ASSERT_STRING_EQUAL(jstr(&t.g, "digest_after"), t.h.digest);
	CU_ASSERT(!jbool(&t.g, "resumed_after_failure"));
	CU_ASSERT(!jbool(&t.g, "handed_over_unconfirmed"));
	CU_ASSERT(migshim_session_peer_gone(t.p.ss));
	live_src_done(&t);
}

/* THROTTLE 50 then 90; FAILED after PAUSE: the VM runs on. */
static void
test_live_source_throttle_failed(void)
{
	struct live_src_run t;

	live_src_start(&t, "steady");
	CU_ASSERT_EQUAL(collect(&t.p, 1, false, t.seen, t.dev_seen), 0);
	send_event(t.p.ss, MIGSHIM_EV_THROTTLE, 50, 0, "");
	send_event(t.p.ss, MIGSHIM_EV_THROTTLE, 90, 0, "");
	send_event(t.p.ss, MIGSHIM_EV_ROUND, 0, 2, "");
	CU_ASSERT_EQUAL(collect(&t.p, 2, false, t.seen, t.dev_seen), 0);
	pause_rounds(&t.p, t.seen, t.dev_seen, t.s1, &t.h, &t.round3);
	send_event(t.p.ss, MIGSHIM_EV_FAILED, ECONNRESET, 0, "link down");
	usleep(400000); /* 90% throttled: 200 writes/s */
	CU_ASSERT(memcmp(t.s1, t.p.ram, t.p.npages * PAGE) != 0);
	CU_ASSERT_EQUAL_FATAL(finish(&t.g, 10000), 0);
	CU_ASSERT_EQUAL(exit_code(&t.g), 1);
	CU_ASSERT_FATAL(t.g.json != NULL);
	CU_ASSERT_STRING_EQUAL(jstr(&t.g, "status"), "failed");
	CU_ASSERT(strstr(jstr(&t.g, "reason"), "link down") != NULL);
	CU_ASSERT(jbool(&t.g, "resumed_after_failure"));
	CU_ASSERT(jbool(&t.g, "paused"));
	CU_ASSERT_EQUAL(jint(&t.g, "throttle_max_pct"), 90);
	CU_ASSERT(jint(&t.g, "writes") > (long long)t.h.writes);
	live_src_done(&t);
}

/* COMPLETED 0: handed over without the destination's confirmation. */
static void
test_live_source_unconfirmed(void)
{
	struct live_src_run t;

	live_src_start(&t, "steady");
	CU_ASSERT_EQUAL(collect(&t.p, 1, false, t.seen, t.dev_seen), 0);
	pause_rounds(&t.p, t.seen, t.dev_seen, t.s1, &t.h, &t.round3);
	send_event(t.p.ss, MIGSHIM_EV_COMPLETED, 0, 0, "");
	CU_ASSERT_EQUAL_FATAL(finish(&t.g, 10000), 0);
	CU_ASSERT_EQUAL(exit_code(&t.g), 0);
	CU_ASSERT_STRING_EQUAL(jstr(&t.g, "status"), "completed");
	CU_ASSERT(jbool(&t.g, "handed_over_unconfirmed"));
	CU_ASSERT(!jbool(&t.g, "resumed_after_failure"));
	live_src_done(&t);
}

/* hot: round 2 holds the whole hot set (pages 0..31) and few others;
 * stream: each vCPU's sweep is one run (two where it crosses a block). */
static void
live_source_shape(const char *workload)
{
	struct live_src_run t;
	uint64_t hot = 0, cold;
	unsigned i;

	live_src_start(&t, workload);
	CU_ASSERT_EQUAL(collect(&t.p, 1, false, t.seen, t.dev_seen), 0);
	memset(t.seen, 0, t.p.npages);
	usleep(300000);
	send_event(t.p.ss, MIGSHIM_EV_ROUND, 0, 2, "");
	CU_ASSERT_EQUAL(collect(&t.p, 2, false, t.seen, t.dev_seen), 0);
	for (i = 0; i < 32; i++)
		hot += t.seen[i] != 0;
	cold = count_nonzero(t.seen, t.p.npages) - hot;
	pause_rounds(&t.p, t.seen, t.dev_seen, t.s1, &t.h, &t.round3);
	send_event(t.p.ss, MIGSHIM_EV_COMPLETED, 1, 0, "");
	CU_ASSERT_EQUAL_FATAL(finish(&t.g, 10000), 0);
	CU_ASSERT_EQUAL(exit_code(&t.g), 0);
	CU_ASSERT_STRING_EQUAL(jstr(&t.g, "workload"), workload);
	if (strcmp(workload, "hot") == 0) {
		CU_ASSERT_EQUAL(hot, 32);
		CU_ASSERT(cold > 0 && cold * 3 < t.h.writes);
	} else {
		json_t *r2 = json_array_get(json_object_get(t.g.json, "rounds"), 1);

		CU_ASSERT(cold > 100);
		CU_ASSERT(json_integer_value(json_object_get(r2, "descriptors")) <= 4);
	}
	live_src_done(&t);
}

static void
test_live_source_hot(void)
{
	live_source_shape("hot");
}

static void
test_live_source_stream(void)
{
	live_source_shape("stream");
}

enum dst_case { DST_GOOD, DST_BAD_PAGE, DST_BAD_MAGIC };

/* The destination: RAM and a device state of the layout migguest writes,
 * put into its regions as migdp would, then RESUME. */
static void
destination(enum dst_case what)
{
	const char *args[] = {"--role", "destination", "--socket", NULL,
			      "--mem", "4M", "--live", "--workload", "steady",
			      "--dirty-rate", "2000", "--device-state", "64K",
			      "--run-after-ms", "300", "--timeout", "20", NULL};
	struct migdp_genmix m = {.text = 50, .binary = 25, .random = 25};
	struct guest_devstate h = {.nvcpus = 2, .seed = 9,
				   .vcpu = {{0x1234567, 600}, {0x7654321, 400}},
				   .writes = 1000};
	char path[108], want[GENMEM_DIGEST_HEX_LEN];
	struct guest_run g;
	struct peer p;

	sock_path(path, sizeof(path));
	args[3] = path;
	start(&g, args);
	CU_ASSERT_FATAL(peer_accept(&p, path, MIGSHIM_ROLE_DESTINATION) == 0);
	CU_ASSERT_EQUAL(genmem_fill(p.ram, p.npages * PAGE, &m, 9), 0);
	guest_mem_digest(p.ram, p.npages, want);
	snprintf(h.digest, sizeof(h.digest), "%s", want);
	h.pause_ns = mono_ns();
	guest_devstate_write(p.dev, p.dev_pages * PAGE, &h);
	if (what == DST_BAD_PAGE)
		p.ram[100 * PAGE + 7] ^= 0x40;
	if (what == DST_BAD_MAGIC)
		p.dev[0] ^= 0xff;
	usleep(20000);
	send_event(p.ss, MIGSHIM_EV_RESUME, 1, 0, "");
	CU_ASSERT_EQUAL_FATAL(finish(&g, 10000), 0);
	CU_ASSERT_FATAL(g.json != NULL);
	CU_ASSERT_STRING_EQUAL(jstr(&g, "role"), "destination");
	CU_ASSERT(jbool(&g, "live"));
	CU_ASSERT_EQUAL(jbool(&g, "verified"), what == DST_GOOD);
	if (what == DST_BAD_MAGIC) {
		CU_ASSERT_EQUAL(exit_code(&g), 1);
		CU_ASSERT_STRING_EQUAL(jstr(&g, "status"), "failed");
		CU_ASSERT(strstr(jstr(&g, "reason"), "bad magic") != NULL);
		CU_ASSERT_EQUAL(jint(&g, "resumed_writes"), 0);
		goto out;
	}
	CU_ASSERT_EQUAL(exit_code(&g), 0);
	CU_ASSERT_STRING_EQUAL(jstr(&g, "status"), "completed");
	if (what == DST_GOOD)
		CU_ASSERT_STRING_EQUAL(jstr(&g, "digest"), want);
	if (what == DST_BAD_PAGE)
		CU_ASSERT(strstr(jstr(&g, "reason"), want) != NULL);
	CU_ASSERT(json_real_value(json_object_get(g.json, "downtime_ms")) > 0);
	CU_ASSERT(json_real_value(json_object_get(g.json, "downtime_ms")) < 60000);
	CU_ASSERT(json_is_number(json_object_get(g.json, "verify_ms")));
	CU_ASSERT(jint(&g, "resumed_writes") > 0);
	CU_ASSERT_EQUAL(jint(&g, "writes"), 1000 + jint(&g, "resumed_writes"));
	CU_ASSERT_EQUAL((uint64_t)jint(&g, "pause_ns"), h.pause_ns);
	guest_mem_digest(p.ram, p.npages, want);
	CU_ASSERT_STRING_NOT_EQUAL(jstr(&g, "digest"), want); /* it ran */
out:
	json_decref(g.json);
	peer_close(&p);
}

static void
test_live_destination_verified(void)
{
	destination(DST_GOOD);
}

static void
test_live_destination_bad_page(void)
{
	destination(DST_BAD_PAGE);
}

static void
test_live_destination_bad_magic(void)
{
	destination(DST_BAD_MAGIC);
}

/* Bad values of the live options exit 2. */
static void
test_live_usage(void)
{
	const char *bad[][12] = {
		{"--role", "source", "--socket", "/tmp/x", "--mem", "1M",
		 "--live", "--workload", "busy", NULL},
		{"--role", "source", "--socket", "/tmp/x", "--mem", "1M",
		 "--live", "--vcpus", "0", NULL},
		{"--role", "source", "--socket", "/tmp/x", "--mem", "1M",
		 "--live", "--vcpus", "65", NULL},
		{"--role", "source", "--socket", "/tmp/x", "--mem", "1M",
		 "--live", "--device-state", "257M", NULL},
		{"--role", "source", "--socket", "/tmp/x", "--mem", "1M",
		 "--live", "--dirty-rate", "1Q", NULL},
		{"--role", "source", "--socket", "/tmp/x", "--mem", "1M",
		 "--name", "a-name-far-too-long-for-the-shim-x", NULL},
	};
	struct guest_run g;
	unsigned i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		start(&g, bad[i]);
		CU_ASSERT_EQUAL_FATAL(finish(&g, 5000), 0);
		CU_ASSERT_EQUAL(exit_code(&g), 2);
		json_decref(g.json);
	}
}

int
migguest_live_suite(void)
{
	static const struct cu_test tests[] = {
		{"live_source_steady", test_live_source_steady},
		{"live_source_throttle_failed", test_live_source_throttle_failed},
		{"live_source_unconfirmed", test_live_source_unconfirmed},
		{"live_source_hot", test_live_source_hot},
		{"live_source_stream", test_live_source_stream},
		{"live_destination_verified", test_live_destination_verified},
		{"live_destination_bad_page", test_live_destination_bad_page},
		{"live_destination_bad_magic", test_live_destination_bad_magic},
		{"live_usage", test_live_usage},
		{NULL, NULL}};

	return cu_add_suite("migguest_live", NULL, NULL, tests);
}
