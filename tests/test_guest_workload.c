/* SPDX-License-Identifier: BSD-3-Clause */
/* The lab guest's vCPUs alone (no migdp): every workload dirties exactly
 * what its dirty log reports (the log against a diff of memory), pause
 * stops the writes, throttle slows them, resume restarts them, and the
 * digest kept as pages change is the digest of memory. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cu_main.h"
#include "guest_workload.h"

#define PG 4096u
#define NPAGES 4096u /* 16 MiB */

static uint8_t *mem, *snap;
static uint64_t bm[NPAGES / 64];

static struct guest_workload *
start(enum guest_workload_kind kind, unsigned nvcpus, uint64_t rate)
{
	struct guest_workload_params p = {
		.mem = mem, .npages = NPAGES, .kind = kind, .rate = rate,
		.nvcpus = nvcpus, .hot_pages = 40, .seed = 7, .track_digest = true};
	unsigned i;

	for (i = 0; i < NPAGES * PG / 8; i++)
		((uint64_t *)mem)[i] = i * 0x9e3779b97f4a7c15ull;
	memcpy(snap, mem, (size_t)NPAGES * PG);
	return guest_workload_start(&p);
}

/* Pages that differ from the snapshot, against the harvested log. */
static void
check_log(struct guest_workload *w, const char *what, uint64_t *changed)
{
	uint64_t i, logged = 0, missing = 0, extra = 0;

	guest_workload_harvest(w, bm);
	*changed = 0;
	for (i = 0; i < NPAGES; i++) {
		bool diff = memcmp(mem + i * PG, snap + i * PG, PG) != 0;
		bool set = (bm[i / 64] >> (i % 64)) & 1;

		*changed += diff;
		logged += set;
		missing += diff && !set;
		extra += set && !diff;
	}
	if (missing || extra)
		printf("\n  %s: %llu changed, %llu logged, %llu not logged, %llu logged unchanged\n",
		       what, (unsigned long long)*changed, (unsigned long long)logged,
		       (unsigned long long)missing, (unsigned long long)extra);
	CU_ASSERT_EQUAL(missing, 0);
	CU_ASSERT_EQUAL(extra, 0);
}

static void
test_log_matches_memory(void)
{
	static const struct { enum guest_workload_kind k; const char *name; } kinds[] = {
		{GUEST_WL_IDLE, "idle"}, {GUEST_WL_STEADY, "steady"},
		{GUEST_WL_HOT, "hot"}, {GUEST_WL_STREAM, "stream"},
	};
	char hex[GENMEM_DIGEST_HEX_LEN], want[GENMEM_DIGEST_HEX_LEN];
	unsigned i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct guest_workload *w = start(kinds[i].k, 2, 20000);
		uint64_t changed;

		CU_ASSERT_FATAL(w != NULL);
		usleep(100000);
		guest_workload_pause(w);
		check_log(w, kinds[i].name, &changed);
		if (kinds[i].k == GUEST_WL_IDLE) {
			CU_ASSERT_EQUAL(changed, 0);
		} else {
			CU_ASSERT(changed > 0);
		}
		if (kinds[i].k == GUEST_WL_HOT) /* 90% of writes in 40 pages */
			CU_ASSERT(changed < NPAGES / 4);
		guest_workload_digest(w, hex);
		guest_mem_digest(mem, NPAGES, want);
		CU_ASSERT_STRING_EQUAL(hex, want);
		guest_workload_destroy(w);
	}
}

/* Paused: nothing moves; resumed: writes again, and the digest moves
 * with memory; throttled at 99%: far fewer writes than unthrottled. */
static void
test_pause_resume_throttle(void)
{
	struct guest_workload *w = start(GUEST_WL_STEADY, 1, 50000);
	char d1[GENMEM_DIGEST_HEX_LEN], d2[GENMEM_DIGEST_HEX_LEN], m[GENMEM_DIGEST_HEX_LEN];
	uint64_t n0, n1, n2, full, slow;

	CU_ASSERT_FATAL(w != NULL);
	usleep(50000);
	guest_workload_pause(w);
	n0 = guest_workload_writes(w);
	guest_workload_digest(w, d1);
	memcpy(snap, mem, (size_t)NPAGES * PG);
	usleep(50000);
	CU_ASSERT_EQUAL(guest_workload_writes(w), n0);
	CU_ASSERT(memcmp(snap, mem, (size_t)NPAGES * PG) == 0);
	guest_workload_resume(w);
	usleep(100000);
	guest_workload_pause(w);
	n1 = guest_workload_writes(w);
	full = n1 - n0;
	CU_ASSERT(full > 0);
	guest_workload_digest(w, d2);
	guest_mem_digest(mem, NPAGES, m);
	CU_ASSERT_STRING_NOT_EQUAL(d1, d2);
	CU_ASSERT_STRING_EQUAL(d2, m);
	guest_workload_throttle(w, 99);
	guest_workload_resume(w);
	usleep(100000);
	guest_workload_pause(w);
	n2 = guest_workload_writes(w);
	slow = n2 - n1;
	printf("\n  writes in 100 ms: %llu unthrottled, %llu at 99%%\n",
	       (unsigned long long)full, (unsigned long long)slow);
	CU_ASSERT(slow * 10 < full);
	guest_workload_destroy(w);
}

int
main(void)
{
	static const struct cu_test tests[] = {
		{"log_matches_memory_every_workload", test_log_matches_memory},
		{"pause_resume_throttle_digest", test_pause_resume_throttle},
		{NULL, NULL},
	};

	mem = aligned_alloc(PG, (size_t)NPAGES * PG);
	snap = malloc((size_t)NPAGES * PG);
	if (mem == NULL || snap == NULL)
		return 1;
	if (cu_add_suite("guest_workload", NULL, NULL, tests) < 0)
		return 1;
	return cu_run();
}
