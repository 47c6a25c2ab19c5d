/* SPDX-License-Identifier: BSD-3-Clause */
/* migguest: a hypervisor stand-in on libmigshim.
 * Without --live (static): source guest RAM (memfd, hugetlb with
 * --hugepages) from an image or generated, handed to migdp, every page
 * pushed once, the final round marked, then wait for COMPLETED/FAILED;
 * destination: empty guest RAM handed to migdp, wait for COMPLETED, digest
 * what arrived. With --live the guest runs: vCPU threads write its memory
 * and a dirty log follows them through migdp's pre-copy rounds, pause,
 * device state and resume (guest_live.c, guest_live_dst.c).
 * Progress on stderr; the last stdout line is one JSON object. Exit: 0
 * completed, 1 failed, 2 bad usage, 128+N on signal N. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest.h"
#include "guest_devstate.h"

static const char *const workload_names[] = {
	[GUEST_WL_IDLE] = "idle", [GUEST_WL_STEADY] = "steady",
	[GUEST_WL_HOT] = "hot", [GUEST_WL_STREAM] = "stream"};

static const char usage[] =
	"usage: migguest --role source|destination --socket PATH --mem SIZE\n"
	"       [--image FILE] [--mix zero=..,text=..,binary=..,random=..]\n"
	"       [--files-dir DIR] [--seed N] [--channels N] [--hugepages]\n"
	"       [--timeout SEC] [--name NAME]\n"
	"       [--live [--workload idle|steady|hot|stream] [--dirty-rate N]\n"
	"        [--vcpus N] [--hot-pages N] [--device-state SIZE]\n"
	"        [--run-after-ms MS] [--no-verify]]\n"
	"SIZE takes K, M, G (binary); --mem defaults to the image's size (a\n"
	"destination uses only the size of --image). Default mix\n"
	GENMEM_DEFAULT_MIX ". --timeout (default 30, 0: none) bounds the wait\n"
	"for migdp, then the migration. --name: the VM's name given to migdp\n"
	"(default migguest).\n"
	"Without --live the guest is static: a source pushes every page once,\n"
	"final, a destination waits for COMPLETED. With --live it runs:\n"
	"  --workload      what the vCPUs write (default idle): steady: random\n"
	"                  pages of all RAM; hot: 90% of writes to the hot set;\n"
	"                  stream: a sequential sweep; a write is 256 bytes\n"
	"  --dirty-rate N  page writes per second, all vCPUs (default 1000;\n"
	"                  K, M: x1000, x1000000)\n"
	"  --vcpus N       vCPU threads (default 1, at most 64)\n"
	"  --hot-pages N   hot set of `hot` (default 1% of the RAM's pages)\n"
	"  --device-state SIZE  device-state region at gpa 1<<40 (default 1M,\n"
	"                  0: none, at most 256M); both roles give the same\n"
	"  --run-after-ms MS  destination: how long the VM runs after RESUME;\n"
	"                  source: after FAILED (default 200)\n"
	"  --no-verify     no full-memory digests\n"
	"A live source follows migdp's events (ROUND, THROTTLE, PAUSE,\n"
	"COMPLETED, FAILED); a live destination waits for RESUME.\n";

static bool
parse_ulong(const char *s, unsigned long min, unsigned long max,
	    unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 0);
	return s[0] >= '0' && s[0] <= '9' && *end == '\0' && errno == 0 &&
	       *v >= min && *v <= max;
}

/* A rate: digits with an optional K (x1000) or M (x1000000). */
static bool
parse_rate(const char *s, uint64_t *v)
{
	unsigned long long n, mul = 1;
	char *end;

	errno = 0;
	n = strtoull(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || errno != 0)
		return false;
	if (*end == 'k' || *end == 'K')
		mul = 1000;
	else if (*end == 'm' || *end == 'M')
		mul = 1000000;
	if (mul > 1)
		end++;
	if (*end != '\0' || n > UINT64_MAX / mul / 2)
		return false;
	*v = n * mul;
	return true;
}

/* --device-state: 0, or a size rounded up to the page, at most 256M. */
static bool
parse_devstate(const char *s, uint64_t *v)
{
	if (strcmp(s, "0") == 0) {
		*v = 0;
		return true;
	}
	if (genmem_parse_size(s, v) < 0 || *v > GUEST_DEVSTATE_MAX)
		return false;
	*v = (*v + MIGSHIM_PAGE_SIZE - 1) / MIGSHIM_PAGE_SIZE * MIGSHIM_PAGE_SIZE;
	return true;
}

static bool
parse_workload(const char *s, enum guest_workload_kind *k)
{
	unsigned i;

	for (i = 0; i < sizeof(workload_names) / sizeof(workload_names[0]); i++)
		if (strcmp(s, workload_names[i]) == 0) {
			*k = (enum guest_workload_kind)i;
			return true;
		}
	return false;
}

/* One option of getopt's code @p c; exits on --help. @return ok. */
static bool
parse_one(int c, struct guest_opts *o, const char **files_dir)
{
	unsigned long v;

	switch (c) {
	case 'r':
		o->role = strcmp(optarg, "source") == 0 ? MIGSHIM_ROLE_SOURCE :
			  strcmp(optarg, "destination") == 0 ?
			  MIGSHIM_ROLE_DESTINATION : 0;
		return o->role != 0;
	case 's': o->socket = optarg; return true;
	case 'i': o->image = optarg; return true;
	case 'x': o->mix_text = optarg; return true;
	case 'f': *files_dir = optarg; return true;
	case 'H': o->hugepages = true; return true;
	case 'L': o->live = true; return true;
	case 'V': o->no_verify = true; return true;
	case 'n': o->name = optarg; return strlen(optarg) < MIGSHIM_NAME_LEN;
	case 'm': return genmem_parse_size(optarg, &o->mem) == 0;
	case 'S': return parse_ulong(optarg, 0, ULONG_MAX, &o->seed);
	case 'c': return parse_ulong(optarg, 1, MIGSHIM_MAX_RINGS, &o->channels);
	case 't': return parse_ulong(optarg, 0, 86400, &o->timeout_s);
	case 'w': return parse_workload(optarg, &o->workload);
	case 'd': return parse_rate(optarg, &o->dirty_rate);
	case 'v': return parse_ulong(optarg, 1, GUEST_MAX_VCPUS, &o->vcpus);
	case 'p':
		if (!parse_ulong(optarg, 1, ULONG_MAX, &v))
			return false;
		o->hot_pages = v;
		return true;
	case 'D': return parse_devstate(optarg, &o->device_state);
	case 'a': return parse_ulong(optarg, 0, 3600000, &o->run_after_ms);
	case 'h': fputs(usage, stdout); exit(0);
	default: return false;
	}
}

static int
parse_args(int argc, char **argv, struct guest_opts *o)
{
	static const struct option lo[] = {
		{"role", 1, NULL, 'r'}, {"socket", 1, NULL, 's'},
		{"mem", 1, NULL, 'm'}, {"image", 1, NULL, 'i'},
		{"mix", 1, NULL, 'x'}, {"files-dir", 1, NULL, 'f'},
		{"seed", 1, NULL, 'S'}, {"channels", 1, NULL, 'c'},
		{"hugepages", 0, NULL, 'H'}, {"timeout", 1, NULL, 't'},
		{"name", 1, NULL, 'n'}, {"live", 0, NULL, 'L'},
		{"workload", 1, NULL, 'w'}, {"dirty-rate", 1, NULL, 'd'},
		{"vcpus", 1, NULL, 'v'}, {"hot-pages", 1, NULL, 'p'},
		{"device-state", 1, NULL, 'D'}, {"run-after-ms", 1, NULL, 'a'},
		{"no-verify", 0, NULL, 'V'},
		{"help", 0, NULL, 'h'}, {NULL, 0, NULL, 0}};
	const char *files_dir = NULL;
	char err[128] = "";
	bool ok = true;
	int c;

	*o = (struct guest_opts){.mix_text = GENMEM_DEFAULT_MIX, .seed = 1,
				 .channels = 1, .timeout_s = 30,
				 .name = "migguest", .dirty_rate = 1000,
				 .vcpus = 1, .device_state = 1u << 20,
				 .run_after_ms = 200};
	while (ok && (c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		ok = parse_one(c, o, &files_dir);
		if (!ok && c != '?')
			fprintf(stderr, "migguest: bad value '%s'\n", optarg);
	}
	if (ok && (optind != argc || o->role == 0 || o->socket == NULL ||
		   (o->mem == 0 && o->image == NULL))) {
		fprintf(stderr, "migguest: --role, --socket and --mem are needed\n");
		ok = false;
	}
	if (ok && genmem_parse_mix(o->mix_text, &o->mix, err, sizeof(err)) < 0) {
		fprintf(stderr, "migguest: --mix: %s\n", err);
		ok = false;
	}
	o->mix.files_dir = files_dir;
	return ok ? 0 : -1;
}

static json_t *
rounds_json(const struct guest_result *r)
{
	json_t *a = json_array();
	unsigned i;

	for (i = 0; i < r->nrounds; i++)
		json_array_append_new(a, json_pack(
			"{s:I, s:I, s:I}", "round", (json_int_t)r->rounds[i].round,
			"pages", (json_int_t)r->rounds[i].pages,
			"descriptors", (json_int_t)r->rounds[i].descs));
	return a;
}

static void
print_json(const struct guest_opts *o, const struct guest *g,
	   const struct guest_result *r)
{
	bool src = o->role == MIGSHIM_ROLE_SOURCE;
	json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:b}",
			      "role", src ? "source" : "destination",
			      "status", r->status, "reason", r->reason,
			      "guest_bytes", (json_int_t)g->size,
			      "digest", r->digest,
			      "event_arg", (json_int_t)r->event_arg,
			      "channels", (json_int_t)o->channels,
			      "hugepages", o->hugepages);
	json_t *more = src ?
		json_pack("{s:I, s:I, s:f, s:f, s:s, s:s, s:b}",
			  "pages", (json_int_t)r->pages,
			  "descriptors", (json_int_t)r->descs,
			  "fill_ms", r->fill_ms, "push_ms", r->push_ms,
			  "digest_after", r->digest_after,
			  "digest_at_pause", r->digest_at_pause,
			  "handed_over_unconfirmed", r->unconfirmed) :
		json_pack("{s:b, s:o, s:f, s:I}", "verified", r->verified,
			  "downtime_ms", r->have_downtime ?
			  json_real(r->downtime_ms) : json_null(),
			  "verify_ms", r->verify_ms,
			  "resumed_writes", (json_int_t)r->resumed_writes);
	json_t *live = json_pack(
		"{s:b, s:s, s:s, s:I, s:I, s:I, s:o, s:I, s:b, s:I, s:I, s:b}",
		"live", o->live, "name", o->name,
		"workload", workload_names[o->workload],
		"vcpus", (json_int_t)o->vcpus,
		"dirty_rate", (json_int_t)o->dirty_rate,
		"writes", (json_int_t)r->writes, "rounds", rounds_json(r),
		"throttle_max_pct", (json_int_t)r->throttle_max,
		"paused", r->paused, "pause_ns", (json_int_t)r->pause_ns,
		"device_state_bytes", (json_int_t)g->dev_size,
		"resumed_after_failure", r->resumed_after_failure);
	json_t *times = json_pack("{s:f, s:f, s:f}", "alloc_ms", r->alloc_ms,
				  "wait_ms", r->wait_ms, "digest_ms", r->digest_ms);

	json_object_update(j, more);
	json_object_update(j, live);
	json_object_update(j, times);
	json_dumpf(j, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6));
	printf("\n");
	fflush(stdout);
	json_decref(more);
	json_decref(live);
	json_decref(times);
	json_decref(j);
}

static void
on_signal(int sig)
{
	guest_stop_sig = sig;
}

/* What the memory holds at the end: a static destination's digest of what
 * arrived (a live one digested at RESUME); a source's, which must be what
 * it was for a static guest. */
static void
final_digests(const struct guest_opts *o, struct guest *g,
	      struct guest_result *r)
{
	double t;

	if (g->mem == MAP_FAILED || o->no_verify)
		return;
	if (o->role == MIGSHIM_ROLE_DESTINATION && !o->live) {
		t = guest_now_ms();
		genmem_digest(g->mem, g->size, r->digest);
		r->digest_ms = guest_now_ms() - t;
	}
	/* A running guest's digests are the order-free kind of its device
	 * state (guest_devstate.h); a static one's, XXH3-128 of it all. */
	if (o->role == MIGSHIM_ROLE_SOURCE && o->live)
		guest_mem_digest(g->mem, g->size / GENMEM_PAGE_SIZE, r->digest_after);
	else if (o->role == MIGSHIM_ROLE_SOURCE)
		genmem_digest(g->mem, g->size, r->digest_after);
}

int
main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	struct guest g = {.fd = -1, .mem = MAP_FAILED, .dev_fd = -1,
			  .dev_mem = MAP_FAILED};
	struct guest_result r = {.status = "failed"};
	struct guest_opts o;
	int ret;

	if (parse_args(argc, argv, &o) < 0) {
		fputs(usage, stderr);
		return 2;
	}
	/* Until the guest is ready a signal kills us as usual (nothing is
	 * shared yet); from then on it ends the session cleanly. */
	if (o.role == MIGSHIM_ROLE_SOURCE)
		ret = guest_prepare_source(&o, &g, &r);
	else
		ret = guest_alloc(&g, &o, &r);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (ret == 0)
		ret = o.live ? guest_live_session(&o, &g, &r) :
			       guest_static_session(&o, &g, &r);
	final_digests(&o, &g, &r);
	if (ret != 0 && guest_stop_sig)
		guest_fail(&r, "interrupted by %s", strsignal(guest_stop_sig));
	r.status = ret == 0 ? "completed" : "failed";
	fprintf(stderr, "migguest: %s%s%s\n", r.status, r.reason[0] ? ": " : "",
		r.reason);
	print_json(&o, &g, &r);
	free(r.rounds);
	if (g.mem != MAP_FAILED)
		munmap(g.mem, g.size);
	if (g.dev_mem != MAP_FAILED)
		munmap(g.dev_mem, g.dev_size);
	if (g.fd >= 0)
		close(g.fd);
	if (g.dev_fd >= 0)
		close(g.dev_fd);
	return ret == 0 ? 0 : guest_stop_sig ? 128 + guest_stop_sig : 1;
}
