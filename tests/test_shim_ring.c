/* SPDX-License-Identifier: BSD-3-Clause */
/* Rings: empty, full, wrap-around, corrupt indices, and two processes
 * moving ten million descriptors through shared memory. */
#include <errno.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cu_main.h"
#include "migshim.h"

static void *
shared_area(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	CU_ASSERT_FATAL(p != MAP_FAILED);
	return p;
}

static void
test_geometry(void)
{
	CU_ASSERT(migshim_ring_memsize(4096, 16) > 4096 * 16);
	CU_ASSERT_EQUAL(migshim_ring_memsize(3000, 16), 0);
	CU_ASSERT_EQUAL(migshim_ring_memsize(1, 16), 0);
	CU_ASSERT_EQUAL(migshim_ring_memsize(MIGSHIM_MAX_RING_SIZE * 2, 16), 0);
	CU_ASSERT_EQUAL(migshim_ring_memsize(16, 12), 0);
	CU_ASSERT_EQUAL(migshim_ring_memsize(16, 0), 0);
}

static void
test_empty_full_wrap(void)
{
	size_t len = migshim_ring_memsize(8, 16);
	void *mem = shared_area(len);
	struct migshim_ring prod, cons;
	struct migshim_desc d, out[16];
	uint64_t next_in = 0, next_out = 0;
	unsigned i, round, n;

	CU_ASSERT_EQUAL_FATAL(migshim_ring_init(&prod, mem, 8, 16), 0);
	CU_ASSERT_EQUAL_FATAL(migshim_ring_attach(&cons, mem, 8, 16, false), 0);
	CU_ASSERT_EQUAL(migshim_ring_dequeue_burst(&cons, out, 4), 0);
	CU_ASSERT_EQUAL(migshim_ring_count(&cons), 0);
	CU_ASSERT_EQUAL(migshim_ring_free_count(&prod), 8);
	for (i = 0; i < 8; i++) {
		d = (struct migshim_desc){.gpa = next_in++, .npages = 1};
		CU_ASSERT_EQUAL(migshim_ring_enqueue(&prod, &d), 0);
	}
	d.gpa = 999;
	CU_ASSERT_EQUAL(migshim_ring_enqueue(&prod, &d), -EAGAIN);
	CU_ASSERT_EQUAL(migshim_ring_free_count(&prod), 0);
	CU_ASSERT_EQUAL(migshim_ring_count(&cons), 8);
	/* Odd burst sizes make every slot boundary a wrap point in turn. */
	for (round = 0; round < 100; round++) {
		n = migshim_ring_dequeue_burst(&cons, out, 3);
		CU_ASSERT_EQUAL(n, 3);
		for (i = 0; i < n; i++)
			CU_ASSERT_EQUAL(out[i].gpa, next_out++);
		struct migshim_desc in[5];
		for (i = 0; i < 5; i++)
			in[i] = (struct migshim_desc){.gpa = next_in + i, .npages = 1};
		n = migshim_ring_enqueue_burst(&prod, in, 5);
		CU_ASSERT_EQUAL(n, 3); /* only the 3 freed slots */
		next_in += n;
	}
	n = migshim_ring_dequeue_burst(&cons, out, 16);
	CU_ASSERT_EQUAL(n, 8);
	for (i = 0; i < n; i++)
		CU_ASSERT_EQUAL(out[i].gpa, next_out++);
	CU_ASSERT_EQUAL(next_out, next_in);
	munmap(mem, len);
}

/* Minimal view of the shared header, to play a hostile producer. */
static void
test_corrupt_head(void)
{
	size_t len = migshim_ring_memsize(8, 16);
	uint8_t *mem = shared_area(len);
	struct migshim_ring prod, cons;
	struct migshim_desc d = {.gpa = 1, .npages = 1}, out[8];

	CU_ASSERT_EQUAL_FATAL(migshim_ring_init(&prod, mem, 8, 16), 0);
	CU_ASSERT_EQUAL_FATAL(migshim_ring_attach(&cons, mem, 8, 16, false), 0);
	CU_ASSERT_EQUAL(migshim_ring_enqueue(&prod, &d), 0);
	/* A hostile producer publishes a head 1000 entries ahead of the tail,
	 * which no ring of 8 can hold (head sits at byte 128 of the header). */
	*(volatile uint32_t *)(mem + 128) = 1000;
	CU_ASSERT_EQUAL(migshim_ring_dequeue_burst(&cons, out, 8), 0);
	CU_ASSERT(cons.corrupt >= 1);
	/* Attaching with another geometry than announced is refused. */
	CU_ASSERT_EQUAL(migshim_ring_attach(&cons, mem, 16, 16, false), -EPROTO);
	CU_ASSERT_EQUAL(migshim_ring_attach(&cons, mem, 8, 64, false), -EPROTO);
	memset(mem, 0, len);
	CU_ASSERT_EQUAL(migshim_ring_attach(&cons, mem, 8, 16, false), -EPROTO);
	munmap(mem, len);
}

#define XPROC_COUNT 10000000u
#define XPROC_RING 4096u

/* Producer in a child process, consumer here: every descriptor arrives,
 * once, in order. Descriptors carry a sequence in gpa and a check value. */
static void
test_two_processes(void)
{
	size_t len = migshim_ring_memsize(XPROC_RING, 16);
	void *mem = shared_area(len);
	struct migshim_ring cons;
	struct migshim_desc out[64];
	uint64_t expect = 0, bad = 0;
	unsigned n, i;
	pid_t pid;
	int status;

	CU_ASSERT_EQUAL_FATAL(migshim_ring_init(&cons, mem, XPROC_RING, 16), 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct migshim_ring prod;
		struct migshim_desc in[32];
		uint64_t seq = 0;

		if (migshim_ring_attach(&prod, mem, XPROC_RING, 16, true) < 0)
			_exit(2);
		while (seq < XPROC_COUNT) {
			unsigned k = XPROC_COUNT - seq < 32 ? XPROC_COUNT - seq : 32;

			for (i = 0; i < k; i++)
				in[i] = (struct migshim_desc){
					.gpa = seq + i,
					.npages = (uint32_t)((seq + i) * 2654435761u),
					.flags = (uint32_t)(seq + i) ^ 0x5a5a5a5au};
			n = migshim_ring_enqueue_burst(&prod, in, k);
			if (n == 0)
				sched_yield();
			seq += n;
		}
		_exit(0);
	}
	while (expect < XPROC_COUNT) {
		n = migshim_ring_dequeue_burst(&cons, out, 64);
		if (n == 0) {
			sched_yield();
			continue;
		}
		for (i = 0; i < n; i++, expect++)
			if (out[i].gpa != expect ||
			    out[i].npages != (uint32_t)(expect * 2654435761u) ||
			    out[i].flags != ((uint32_t)expect ^ 0x5a5a5a5au))
				bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(expect, XPROC_COUNT);
	/* Nothing more than what was sent. */
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CU_ASSERT_EQUAL(migshim_ring_dequeue_burst(&cons, out, 64), 0);
	CU_ASSERT_EQUAL(cons.corrupt, 0);
	munmap(mem, len);
}

int
main(void)
{
	static const struct cu_test ring[] = {
		{"geometry", test_geometry},
		{"empty_full_wrap", test_empty_full_wrap},
		{"corrupt_head", test_corrupt_head},
		{"two_processes_10M", test_two_processes},
		{NULL, NULL},
	};

	if (cu_add_suite("ring", NULL, NULL, ring) < 0)
		return 1;
	return cu_run();
}
