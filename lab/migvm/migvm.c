/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * migvm: run the KVM guest for a while, harvesting KVM's dirty log every
 * period; with --restore-test, move it half way into a new VM (fresh
 * memfd, memory copied, vCPU state restored) and check that it goes on
 * and still verifies. Exits 0 when the guest made progress with no
 * mismatch, 1 otherwise, 2 on bad usage or a VM that cannot be made.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "migvm.h"
#include "migvm_live.h"

#define MAX_HARVESTS 4096

struct opts {
	uint64_t mem;
	double seconds;
	unsigned dirty_ms;
	int json, restore_test, quiet;
	struct migvm_workload w;
	/* --live: migrated through libmigshim and migdp */
	int live;
	struct migvm_live_opts l;
};

struct run {
	uint64_t harvest[MAX_HARVESTS];
	unsigned nharvest;
	uint64_t dirty_total;
	uint64_t *bm;
	/* --restore-test */
	struct migvm_counters at_pause;
	uint64_t downtime_ns;
	size_t state_bytes;
	int restored;
};

static int
parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || v == 0)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: migvm [--mem SIZE] [--seconds N] [--rate WRITES/S] [--hot-pages N]\n"
		"             [--hot-pct P] [--seed N] [--verify-every WRITES]\n"
		"             [--dirty-log-every MS] [--restore-test] [--json] [--quiet]\n"
		"       migvm --live --role source|destination --socket PATH [--name VM]\n"
		"             [--channels N] [--mem SIZE] [--rate W/S] [--timeout SEC]\n"
		"             [--run-after-ms MS]   (migrated by migdp through libmigshim)\n");
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"mem", required_argument, NULL, 'm'},
		{"seconds", required_argument, NULL, 's'},
		{"rate", required_argument, NULL, 'r'},
		{"hot-pages", required_argument, NULL, 'h'},
		{"hot-pct", required_argument, NULL, 'p'},
		{"seed", required_argument, NULL, 'S'},
		{"verify-every", required_argument, NULL, 'v'},
		{"dirty-log-every", required_argument, NULL, 'd'},
		{"restore-test", no_argument, NULL, 'R'},
		{"json", no_argument, NULL, 'j'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'H'},
		{"live", no_argument, NULL, 'L'},
		{"role", required_argument, NULL, 'o'},
		{"socket", required_argument, NULL, 'k'},
		{"name", required_argument, NULL, 'n'},
		{"channels", required_argument, NULL, 'c'},
		{"timeout", required_argument, NULL, 't'},
		{"run-after-ms", required_argument, NULL, 'a'},
		{NULL, 0, NULL, 0}};
	int c;

	memset(o, 0, sizeof(*o));
	o->mem = 64ull << 20;
	o->seconds = 2;
	o->dirty_ms = 100;
	o->w.rate = 10000;
	o->w.hot_pct = 100;
	o->w.seed = 1;
	o->w.verify_every = 20000;
	o->w.report_every = 4096;
	o->l = (struct migvm_live_opts){.source = true, .name = "migvm", .channels = 1,
					.timeout_s = 60, .run_after_ms = 1000};
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (parse_size(optarg, &o->mem) < 0)
				return -1;
			break;
		case 's': o->seconds = atof(optarg); break;
		case 'r': o->w.rate = strtoull(optarg, NULL, 0); break;
		case 'h': o->w.hot_pages = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'p': o->w.hot_pct = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'S': o->w.seed = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'v': o->w.verify_every = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'd': o->dirty_ms = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'R': o->restore_test = 1; break;
		case 'j': o->json = 1; break;
		case 'q': o->quiet = 1; break;
		case 'H': usage(stdout); exit(0);
		case 'L': o->live = 1; break;
		case 'o':
			if (strcmp(optarg, "source") != 0 && strcmp(optarg, "destination") != 0)
				return -1;
			o->l.source = strcmp(optarg, "source") == 0;
			break;
		case 'k': o->l.socket = optarg; break;
		case 'n': o->l.name = optarg; break;
		case 'c': o->l.channels = (unsigned)strtoul(optarg, NULL, 0); break;
		case 't': o->l.timeout_s = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'a': o->l.run_after_ms = (unsigned)strtoul(optarg, NULL, 0); break;
		default: return -1;
		}
	}
	o->l.mem = o->mem;
	if (o->live && (o->l.socket == NULL || o->l.channels == 0))
		return -1;
	return optind == argc && o->seconds > 0 ? 0 : -1;
}

/* --live: one JSON line, as the lab guests print (docs: README, migvm). */
static int
live(const struct opts *o)
{
	struct migvm_live_result r = {0};
	struct migvm *vm = NULL;
	int rc;

	if (o->l.source) {
		vm = migvm_create(o->mem, 1, -1, o->quiet);
		rc = vm == NULL ? -ENODEV : migvm_load_guest(vm, &o->w);
		if (rc == 0)
			rc = migvm_start(vm);
		if (rc < 0) {
			fprintf(stderr, "migvm: cannot start the guest: %s\n", strerror(-rc));
			return 2;
		}
		rc = migvm_live_source(&o->l, vm, &r);
		migvm_destroy(vm);
	} else {
		rc = migvm_live_destination(&o->l, &r);
	}
	printf("{\"role\":\"%s\",\"status\":\"%s\",\"reason\":\"%s\",\"name\":\"%s\","
	       "\"live\":true,\"workload\":\"kvm\",\"guest_bytes\":%llu,\"dirty_rate\":%llu,"
	       "\"verified\":%s,\"rounds\":%u,\"throttle_max_pct\":%u,"
	       "\"resumed_after_failure\":%s,\"handed_over_unconfirmed\":%s,"
	       "\"device_state_bytes\":%llu,\"pause_ns\":%llu,\"downtime_ms\":%.3f,"
	       "\"writes_after_resume\":%llu,\"verify_passes_after_resume\":%llu,"
	       "\"mismatches\":%llu}\n",
	       o->l.source ? "source" : "destination", rc == 0 ? "completed" : "failed",
	       r.reason, o->l.name, (unsigned long long)o->mem, (unsigned long long)o->w.rate,
	       r.verified ? "true" : "false", r.rounds,
	       r.throttle_max_pct, r.resumed_after_failure ? "true" : "false",
	       r.handed_over_unconfirmed ? "true" : "false",
	       (unsigned long long)r.device_state_bytes, (unsigned long long)r.pause_ns,
	       r.resume_ns > r.pause_ns && r.pause_ns ? (double)(r.resume_ns - r.pause_ns) / 1e6 : 0.0,
	       (unsigned long long)r.writes_after_resume,
	       (unsigned long long)r.verify_passes_after_resume,
	       (unsigned long long)r.mismatches);
	fflush(stdout);
	return rc == 0 ? 0 : 1;
}

/* Pause, capture, destroy, rebuild from (memory image + state), resume. */
static struct migvm *
move_vm(struct migvm *vm, const struct opts *o, struct run *r)
{
	uint64_t t0, bytes = migvm_npages(vm) * MIGVM_PAGE_SIZE;
	size_t len = migvm_state_size(vm);
	void *state = malloc(len), *image = malloc(bytes);
	struct migvm *nvm = NULL;
	ssize_t n;

	if (state == NULL || image == NULL)
		goto out;
	t0 = migvm_now_ns();
	migvm_pause(vm);
	migvm_counters(vm, &r->at_pause);
	n = migvm_capture(vm, state, len);
	if (n < 0) {
		fprintf(stderr, "migvm: capture: %s\n", strerror((int)-n));
		goto out;
	}
	r->state_bytes = (size_t)n;
	memcpy(image, migvm_mem(vm), bytes);
	migvm_destroy(vm);
	vm = NULL;
	nvm = migvm_create(bytes, 1, -1, o->quiet);
	if (nvm == NULL) {
		perror("migvm: create (restore)");
		goto out;
	}
	memcpy(migvm_mem(nvm), image, bytes);
	if (migvm_restore(nvm, state, (size_t)n) < 0 || migvm_start(nvm) < 0) {
		fprintf(stderr, "migvm: restore failed\n");
		migvm_destroy(nvm);
		nvm = NULL;
		goto out;
	}
	r->downtime_ns = migvm_now_ns() - t0;
	r->restored = 1;
out:
	if (vm != NULL)
		migvm_destroy(vm);
	free(state);
	free(image);
	return nvm;
}

static void
harvest(struct migvm *vm, struct run *r)
{
	int64_t n = migvm_harvest(vm, r->bm);

	if (n < 0)
		return;
	if (r->nharvest < MAX_HARVESTS)
		r->harvest[r->nharvest++] = (uint64_t)n;
	r->dirty_total += (uint64_t)n;
}

static void
report(const struct opts *o, const struct run *r, const struct migvm_counters *c,
       double secs, int ok)
{
	unsigned i;

	if (!o->json) {
		printf("migvm: %s: %" PRIu64 " writes, %" PRIu64 " verification passes, "
		       "%" PRIu64 " mismatches, %.0f dirty pages/s\n",
		       ok ? "ok" : "FAILED", c->writes, c->verify_passes,
		       c->mismatches, r->dirty_total / secs);
		return;
	}
	printf("{\"ok\":%s,\"mem_bytes\":%" PRIu64 ",\"seconds\":%.3f,\"rate\":%" PRIu64
	       ",\"hot_pages\":%u,\"writes\":%" PRIu64 ",\"verify_passes\":%" PRIu64
	       ",\"pages_verified\":%" PRIu64 ",\"mismatches\":%" PRIu64
	       ",\"exits\":%" PRIu64 ",\"idle_ns\":%" PRIu64
	       ",\"dirty_log_every_ms\":%u,\"dirty_pages_per_s\":%.0f,\"harvests\":[",
	       ok ? "true" : "false", o->mem, secs, o->w.rate, o->w.hot_pages,
	       c->writes, c->verify_passes, c->pages_verified, c->mismatches,
	       c->exits, c->idle_ns, o->dirty_ms, r->dirty_total / secs);
	for (i = 0; i < r->nharvest; i++)
		printf("%s%" PRIu64, i ? "," : "", r->harvest[i]);
	printf("]");
	if (o->restore_test)
		printf(",\"restore\":{\"done\":%s,\"writes_at_pause\":%" PRIu64
		       ",\"verify_passes_at_pause\":%" PRIu64 ",\"state_bytes\":%zu"
		       ",\"downtime_us\":%" PRIu64 "}",
		       r->restored ? "true" : "false", r->at_pause.writes,
		       r->at_pause.verify_passes, r->state_bytes, r->downtime_ns / 1000);
	printf("}\n");
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct run *r;
	struct migvm *vm;
	struct migvm_counters c;
	uint64_t t0, end, next;
	int ok, rc;

	if (parse_opts(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	if (o.live)
		return live(&o);
	r = calloc(1, sizeof(*r));
	vm = migvm_create(o.mem, 1, -1, o.quiet);
	if (r == NULL || vm == NULL) {
		perror("migvm: create");
		return 2;
	}
	r->bm = calloc((migvm_npages(vm) + 63) / 64, sizeof(uint64_t));
	rc = migvm_load_guest(vm, &o.w);
	if (rc == 0)
		rc = migvm_start(vm);
	if (r->bm == NULL || rc < 0) {
		fprintf(stderr, "migvm: cannot start the guest: %s\n", strerror(-rc));
		return 2;
	}
	migvm_harvest(vm, r->bm); /* the load itself is not a write */
	t0 = migvm_now_ns();
	end = t0 + (uint64_t)(o.seconds * 1e9);
	next = t0 + (uint64_t)o.dirty_ms * 1000000ull;
	while (migvm_now_ns() < end && vm != NULL) {
		uint64_t t = migvm_now_ns(), stop = o.dirty_ms ? next : end;

		if (o.restore_test && !r->restored && t >= t0 + (end - t0) / 2) {
			vm = move_vm(vm, &o, r);
			continue;
		}
		if (stop > end)
			stop = end;
		if (stop > t)
			usleep((useconds_t)((stop - t) / 1000 < 20000 ? (stop - t) / 1000 : 20000));
		if (o.dirty_ms && migvm_now_ns() >= next) {
			harvest(vm, r);
			next += (uint64_t)o.dirty_ms * 1000000ull;
		}
	}
	if (vm == NULL)
		return 1;
	migvm_pause(vm);
	migvm_counters(vm, &c);
	ok = c.writes > 0 && c.mismatches == 0 && !c.failed &&
	     (!o.restore_test || (r->restored && c.writes > r->at_pause.writes &&
				  c.verify_passes > r->at_pause.verify_passes));
	report(&o, r, &c, (migvm_now_ns() - t0) / 1e9, ok);
	migvm_destroy(vm);
	free(r->bm);
	free(r);
	return ok ? 0 : 1;
}
