/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * migvm, the KVM VMM of the lab (no migdp): the guest runs and verifies
 * itself, KVM's dirty log covers every page that changed, pause stops the
 * guest, a page corrupted behind its back is caught by its own check, and
 * a VM rebuilt from (memory image + captured vCPU state) goes on. Skips
 * (77) where /dev/kvm cannot be opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cu_main.h"
#include "migvm.h"

#define MEM (8ull << 20) /* 2048 pages */
#define PG MIGVM_PAGE_SIZE

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static struct migvm *
start_vm(uint32_t verify_every)
{
	struct migvm_workload w = {.rate = 0, .hot_pct = 100, .seed = 42,
				   .verify_every = verify_every,
				   .report_every = 0};
	struct migvm *vm = migvm_create(MEM, 1, -1, 1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(vm);
	CU_ASSERT_EQUAL_FATAL(migvm_load_guest(vm, &w), 0);
	CU_ASSERT_EQUAL_FATAL(migvm_start(vm), 0);
	return vm;
}

/* Poll the guest's counters until @p field exceeds @p min or @p ms pass. */
#define WAIT_FOR(vm, field, min, ms) wait_for(vm, offsetof(struct migvm_counters, field), min, ms)
static uint64_t
wait_for(struct migvm *vm, size_t off, uint64_t min, unsigned ms)
{
	struct migvm_counters c;
	uint64_t v = 0;
	unsigned t;

	for (t = 0; t <= ms; t += 10) {
		migvm_counters(vm, &c);
		memcpy(&v, (char *)&c + off, sizeof(v));
		if (v > min || c.failed)
			break;
		sleep_ms(10);
	}
	return v;
}

static const uint32_t *
gentab(struct migvm *vm)
{
	return (const uint32_t *)(migvm_mem(vm) + MIGVM_GENTAB_GPA);
}

static void
test_runs(void)
{
	struct migvm *vm = start_vm(8);
	struct migvm_counters c;

	sleep_ms(1000);
	migvm_pause(vm);
	migvm_counters(vm, &c);
	printf(" [%llu writes in 1 s, %llu passes] ", (unsigned long long)c.writes,
	       (unsigned long long)c.verify_passes);
	CU_ASSERT(c.writes > 0);
	CU_ASSERT(c.verify_passes > 0);
	CU_ASSERT_EQUAL(c.mismatches, 0);
	CU_ASSERT_EQUAL(c.failed, 0);
	CU_ASSERT_EQUAL(c.state, 1);
	migvm_destroy(vm);
}

static void
test_dirty_log(void)
{
	struct migvm *vm = start_vm(0);
	uint64_t npages = migvm_npages(vm), i, changed = 0, missing = 0;
	uint64_t *bm = calloc((npages + 63) / 64, 8);
	uint8_t *snap = malloc(MEM), *mem = migvm_mem(vm);
	int64_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(bm);
	CU_ASSERT_PTR_NOT_NULL_FATAL(snap);
	WAIT_FOR(vm, writes, 0, 2000);
	/* A harvest while paused opens the period; the snapshot is its start. */
	migvm_pause(vm);
	CU_ASSERT(migvm_harvest(vm, bm) >= 0);
	memcpy(snap, mem, MEM);
	migvm_resume(vm);
	sleep_ms(300);
	migvm_pause(vm);
	n = migvm_harvest(vm, bm);
	CU_ASSERT(n > 0);
	for (i = 0; i < npages; i++) {
		int diff = memcmp(mem + i * PG, snap + i * PG, PG) != 0;
		int set = (bm[i / 64] >> (i % 64)) & 1;

		changed += diff;
		missing += diff && !set;
	}
	printf(" [%lld logged, %llu changed] ", (long long)n,
	       (unsigned long long)changed);
	CU_ASSERT(changed > 0);
	CU_ASSERT_EQUAL(missing, 0);
	/* Paused: nothing changes, nothing is logged. */
	memcpy(snap, mem, MEM);
	sleep_ms(100);
	CU_ASSERT_EQUAL(memcmp(snap, mem, MEM), 0);
	CU_ASSERT_EQUAL(migvm_harvest(vm, bm), 0);
	migvm_destroy(vm);
	free(bm);
	free(snap);
}

static void
test_corruption_caught(void)
{
	struct migvm *vm = start_vm(4);
	const uint32_t *gen = gentab(vm);
	struct migvm_counters c;
	uint64_t p, hit = 0;

	WAIT_FOR(vm, writes, 24, 5000);
	migvm_pause(vm);
	migvm_counters(vm, &c);
	CU_ASSERT_EQUAL(c.mismatches, 0);
	/* Flip a word in every page written so far: too many for the guest
	 * to rewrite them all before its next pass. */
	for (p = 0; p < migvm_npages(vm); p++)
		if (gen[p] != 0 && hit < 16) {
			((uint32_t *)(migvm_mem(vm) + p * PG))[100] ^= 1;
			hit++;
		}
	CU_ASSERT(hit > 0);
	migvm_resume(vm);
	WAIT_FOR(vm, mismatches, 0, 10000);
	migvm_pause(vm);
	migvm_counters(vm, &c);
	printf(" [%llu pages corrupted, %llu mismatches] ", (unsigned long long)hit,
	       (unsigned long long)c.mismatches);
	CU_ASSERT(c.mismatches > 0);
	CU_ASSERT(gen[c.bad_page] != 0);
	migvm_destroy(vm);
}

static void
test_capture_restore(void)
{
	struct migvm *vm = start_vm(8), *nvm;
	struct migvm_counters before, after;
	size_t len = migvm_state_size(vm);
	void *state = malloc(len), *image = malloc(MEM);
	ssize_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(state);
	CU_ASSERT_PTR_NOT_NULL_FATAL(image);
	WAIT_FOR(vm, verify_passes, 0, 5000);
	migvm_pause(vm);
	migvm_counters(vm, &before);
	CU_ASSERT(before.verify_passes > 0);
	n = migvm_capture(vm, state, len);
	CU_ASSERT_EQUAL_FATAL(n, (ssize_t)len);
	memcpy(image, migvm_mem(vm), MEM);
	migvm_destroy(vm);

	nvm = migvm_create(MEM, 1, -1, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(nvm);
	memcpy(migvm_mem(nvm), image, MEM);
	/* Not ours: refused. */
	CU_ASSERT_EQUAL(migvm_restore(nvm, image, len), -EINVAL);
	CU_ASSERT_EQUAL_FATAL(migvm_restore(nvm, state, len), 0);
	CU_ASSERT_EQUAL_FATAL(migvm_start(nvm), 0);
	WAIT_FOR(nvm, verify_passes, before.verify_passes + 1, 10000);
	migvm_pause(nvm);
	migvm_counters(nvm, &after);
	printf(" [writes %llu -> %llu, passes %llu -> %llu] ",
	       (unsigned long long)before.writes, (unsigned long long)after.writes,
	       (unsigned long long)before.verify_passes,
	       (unsigned long long)after.verify_passes);
	CU_ASSERT(after.writes > before.writes);
	CU_ASSERT(after.verify_passes > before.verify_passes + 1);
	CU_ASSERT_EQUAL(after.mismatches, 0);
	CU_ASSERT_EQUAL(after.failed, 0);
	migvm_destroy(nvm);
	free(state);
	free(image);
}

static const struct cu_test tests[] = {
	{"guest runs and verifies itself", test_runs},
	{"dirty log covers every changed page; pause stops it", test_dirty_log},
	{"a corrupted page is caught by the guest", test_corruption_caught},
	{"capture and restore into a new VM", test_capture_restore},
	{NULL, NULL}};

int
main(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		cu_skip("cannot open /dev/kvm: migvm needs KVM");
	close(fd);
	if (cu_add_suite("migvm", NULL, NULL, tests) < 0)
		return 1;
	return cu_run();
}
