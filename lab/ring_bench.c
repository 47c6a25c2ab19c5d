/* SPDX-License-Identifier: BSD-3-Clause */
/* Ring benchmark: descriptors per second between two processes on two
 * cores, through (1) the bare ring with bursts and (2) the whole shim path
 * (client push into a session, server pop with validation). Prints one JSON
 * object. Usage: migshim-ring-bench [--count N] [--run PAGES] [--ring N] */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "migshim.h"

#define BURST 32

struct opts {
	uint64_t count;
	uint32_t run;
	uint32_t ring;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void
pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu % sysconf(_SC_NPROCESSORS_ONLN), &set);
	(void)sched_setaffinity(0, sizeof(set), &set);
}

/* Descriptor i: runs of 1..run pages walking through 1 GiB of guest RAM,
 * each inside one 2 MiB block so that the session accepts it. */
static void
make_desc(uint64_t i, uint32_t run, struct migshim_desc *d)
{
	uint32_t n = 1 + (uint32_t)(i % run);

	d->gpa = ((i * 512) % (1ull << 30)) & ~((1ull << 21) - 1);
	d->gpa += (i % 8) * 4096;
	d->npages = n;
	d->flags = 0;
}

/* (1) Bare ring, bursts of 32, producer in a child process. */
static int
bench_ring(const struct opts *o, double *secs, uint64_t *pages)
{
	size_t len = migshim_ring_memsize(o->ring, sizeof(struct migshim_desc));
	void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	struct migshim_ring cons;
	struct migshim_desc out[BURST];
	uint64_t got = 0, pg = 0;
	double t0;
	unsigned n, i;
	pid_t pid;
	int st;

	if (mem == MAP_FAILED || migshim_ring_init(&cons, mem, o->ring, 16) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		struct migshim_ring prod;
		struct migshim_desc in[BURST];
		uint64_t seq = 0;

		pin(1);
		migshim_ring_attach(&prod, mem, o->ring, 16, true);
		while (seq < o->count) {
			unsigned k = o->count - seq < BURST ? (unsigned)(o->count - seq) : BURST;

			for (i = 0; i < k; i++)
				make_desc(seq + i, o->run, &in[i]);
			n = migshim_ring_enqueue_burst(&prod, in, k);
			seq += n;
		}
		_exit(0);
	}
	pin(0);
	t0 = now_s();
	while (got < o->count) {
		n = migshim_ring_dequeue_burst(&cons, out, BURST);
		for (i = 0; i < n; i++)
			pg += out[i].npages;
		got += n;
	}
	*secs = now_s() - t0;
	*pages = pg;
	waitpid(pid, &st, 0);
	munmap(mem, len);
	return 0;
}

/* (2) The shim: a hypervisor child pushes one descriptor at a time with
 * migshim_client_push(); migdp's side pops with validation. */
static int
bench_session(const struct opts *o, double *secs, uint64_t *pages,
	      uint64_t *refused)
{
	char path[108];
	struct migshim_server *s;
	struct migshim_session *ss;
	struct migshim_session_stats st;
	struct migshim_desc out[BURST];
	uint64_t got = 0, pg = 0;
	unsigned n, i;
	double t0;
	pid_t pid;
	int status, b;

	snprintf(path, sizeof(path), "/tmp/migshim-bench-%d.sock", (int)getpid());
	s = migshim_server_create(path, MIGSHIM_ROLE_SOURCE, 0);
	if (s == NULL)
		return -1;
	*refused = 0;
	pid = fork();
	if (pid == 0) {
		struct migshim_client_params p = {.role = MIGSHIM_ROLE_SOURCE,
						  .nrings = 1,
						  .ring_size = o->ring};
		struct migshim_client *c = migshim_client_create(&p);
		struct migshim_desc d;
		int fd = memfd_create("bench-guest", MFD_ALLOW_SEALING);
		uint64_t seq = 0;
		char err[256];

		pin(1);
		if (c == NULL || fd < 0 || ftruncate(fd, 1ll << 30) < 0 ||
		    migshim_client_add_region(c, fd, 0, 0, 1ull << 30) < 0 ||
		    migshim_client_connect(c, path, 5000, err, sizeof(err)) < 0)
			_exit(1);
		while (seq < o->count) {
			make_desc(seq, o->run, &d);
			if (migshim_client_push(c, &d) == 0)
				seq++;
		}
		/* Stay until migdp has read everything. */
		while (migshim_client_poll_event(c, (struct migshim_event[1]){0}) == -EAGAIN)
			usleep(1000);
		_exit(0);
	}
	pin(0);
	ss = migshim_server_accept(s, 10000);
	if (ss == NULL)
		return -1;
	t0 = now_s();
	while (got + *refused < o->count) {
		n = migshim_session_pop(ss, 0, out, BURST);
		for (i = 0; i < n; i++)
			pg += out[i].npages;
		got += n;
		if (n == 0) { /* a refused descriptor never arrives: count them */
			migshim_session_stats(ss, &st);
			for (*refused = 0, b = 1; b < MIGSHIM_BAD_MAX; b++)
				*refused += st.bad[b];
		}
	}
	*secs = now_s() - t0;
	*pages = pg;
	migshim_session_close(ss);
	waitpid(pid, &status, 0);
	migshim_server_destroy(s);
	return 0;
}

static json_t *
result(const char *mode, const struct opts *o, double secs, uint64_t pages)
{
	return json_pack("{s:s, s:I, s:f, s:f, s:f, s:f}",
			 "mode", mode, "descriptors", (json_int_t)o->count,
			 "seconds", secs,
			 "desc_per_sec", (double)o->count / secs,
			 "pages_per_sec", (double)pages / secs,
			 "gib_described_per_sec",
			 (double)pages * 4096 / secs / (1 << 30));
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"count", required_argument, NULL, 'c'},
		{"run", required_argument, NULL, 'r'},
		{"ring", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	struct opts o = {.count = 50000000, .run = 16, .ring = 4096};
	double secs;
	uint64_t pages, refused = 0;
	json_t *out, *res;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o.count = strtoull(optarg, NULL, 0); break;
		case 'r': o.run = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 's': o.ring = (uint32_t)strtoul(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: %s [--count N] [--run PAGES] [--ring N]\n",
				argv[0]);
			return 2;
		}
	}
	if (o.count == 0 || o.run == 0 || o.run > 512 ||
	    migshim_ring_memsize(o.ring, 16) == 0) {
		fprintf(stderr, "bad arguments: count > 0, run 1..512, ring a power of two\n");
		return 2;
	}
	res = json_array();
	if (bench_ring(&o, &secs, &pages) < 0)
		return 1;
	json_array_append_new(res, result("ring_burst32", &o, secs, pages));
	if (bench_session(&o, &secs, &pages, &refused) < 0 || refused != 0) {
		fprintf(stderr, "session benchmark failed (%llu refused)\n",
			(unsigned long long)refused);
		return 1;
	}
	json_array_append_new(res, result("shim_push_pop_validated", &o, secs, pages));
	out = json_pack("{s:s, s:i, s:i, s:f, s:o}", "benchmark", "migshim_ring",
			"ring_size", (int)o.ring, "cores",
			(int)sysconf(_SC_NPROCESSORS_ONLN),
			"avg_pages_per_desc", (o.run + 1) / 2.0, "results", res);
	json_dumpf(out, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(out);
	return 0;
}
