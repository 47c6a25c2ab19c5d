/* SPDX-License-Identifier: BSD-3-Clause */
/* migguest: a hypervisor stand-in on libmigshim (first form: one round).
 * Source: guest RAM (memfd, hugetlb with --hugepages) from an image or
 * generated, handed to migdp, every page pushed once, the final round
 * marked, then wait for COMPLETED/FAILED. Destination: empty guest RAM handed
 * to migdp, wait for COMPLETED, digest what arrived. Progress on stderr; the
 * last stdout line is one JSON object. Exit: 0 completed, 1 failed, 2 bad
 * usage, 128+N on signal N. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "genmem.h"
#include "migshim.h"

#define BLOCK_PAGES 512 /* migshim's default block: 2 MiB */
#define MAX_RUN 512
#define RING_SIZE 4096

struct opts {
	enum migshim_role role;
	const char *socket, *image, *mix_text;
	uint64_t mem; /* 0: the image's size */
	struct migdp_genmix mix;
	unsigned long seed, channels, timeout_s;
	bool hugepages;
};

struct guest {
	int fd;
	uint8_t *mem;
	uint64_t size;
};

struct result {
	const char *status;
	char reason[320];
	char digest[GENMEM_DIGEST_HEX_LEN];
	char digest_after[GENMEM_DIGEST_HEX_LEN]; /* source: at the end */
	uint64_t pages, descs, event_arg;
	uint32_t event_value;
	double alloc_ms, fill_ms, push_ms, wait_ms, digest_ms;
};

static volatile sig_atomic_t stop_sig;

static void
on_signal(int sig)
{
	stop_sig = sig;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static const char usage[] =
	"usage: migguest --role source|destination --socket PATH --mem SIZE\n"
	"       [--image FILE] [--mix zero=..,text=..,binary=..,random=..]\n"
	"       [--files-dir DIR] [--seed N] [--channels N] [--hugepages]\n"
	"       [--timeout SEC]\n"
	"SIZE takes K, M, G (binary); --mem defaults to the image's size (a\n"
	"destination uses only the size of --image). Default mix\n"
	GENMEM_DEFAULT_MIX ". --timeout (default 30, 0: none) bounds the wait\n"
	"for migdp, then the migration.\n";

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

static int
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"role", 1, NULL, 'r'}, {"socket", 1, NULL, 's'},
		{"mem", 1, NULL, 'm'}, {"image", 1, NULL, 'i'},
		{"mix", 1, NULL, 'x'}, {"files-dir", 1, NULL, 'f'},
		{"seed", 1, NULL, 'S'}, {"channels", 1, NULL, 'c'},
		{"hugepages", 0, NULL, 'H'}, {"timeout", 1, NULL, 't'},
		{"help", 0, NULL, 'h'}, {NULL, 0, NULL, 0}};
	const char *files_dir = NULL;
	char err[128] = "";
	bool ok = true;
	int c;

	*o = (struct opts){.mix_text = GENMEM_DEFAULT_MIX, .seed = 1,
			   .channels = 1, .timeout_s = 30};
	while (ok && (c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'r':
			o->role = strcmp(optarg, "source") == 0 ? MIGSHIM_ROLE_SOURCE :
				  strcmp(optarg, "destination") == 0 ?
				  MIGSHIM_ROLE_DESTINATION : 0;
			ok = o->role != 0;
			break;
		case 's': o->socket = optarg; break;
		case 'i': o->image = optarg; break;
		case 'x': o->mix_text = optarg; break;
		case 'f': files_dir = optarg; break;
		case 'H': o->hugepages = true; break;
		case 'm': ok = genmem_parse_size(optarg, &o->mem) == 0; break;
		case 'S': ok = parse_ulong(optarg, 0, ULONG_MAX, &o->seed); break;
		case 'c':
			ok = parse_ulong(optarg, 1, MIGSHIM_MAX_RINGS, &o->channels);
			break;
		case 't': ok = parse_ulong(optarg, 0, 86400, &o->timeout_s); break;
		case 'h': fputs(usage, stdout); exit(0);
		default: return -1;
		}
		if (!ok)
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

/* Record why we fail in @p r. @return -1. */
static int __attribute__((format(printf, 2, 3)))
fail(struct result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	return -1;
}

/* Free huge pages and their size, from /proc/meminfo. */
static uint64_t
hugepages_free(uint64_t *hp_size)
{
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long long v, nfree = 0;
	char line[128];

	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "HugePages_Free: %llu", &v) == 1)
			nfree = v;
		else if (sscanf(line, "Hugepagesize: %llu kB", &v) == 1)
			*hp_size = v << 10;
	}
	if (f != NULL)
		fclose(f);
	return nfree;
}

/* Guest RAM of --mem (or the image's size) rounded up to the (huge) page:
 * zeros, prefaulted, since first touch is slow. */
static int
guest_alloc(struct guest *g, const struct opts *o, struct result *r)
{
	bool huge = o->hugepages;
	uint64_t hp = 2u << 20, nfree = huge ? hugepages_free(&hp) : 0;
	uint64_t size = o->mem;
	struct stat st = {.st_size = 0};
	double t = now_ms();

	if (size == 0 && (stat(o->image, &st) < 0 || st.st_size == 0))
		return fail(r, "image %s: empty or unreadable", o->image);
	size = size ? size : (uint64_t)st.st_size;
	hp = huge ? hp : MIGSHIM_PAGE_SIZE;
	g->size = (size + hp - 1) / hp * hp;
	if (huge && nfree * hp < g->size)
		return fail(r, "--hugepages: need %llu pages of %llu kB, %llu free "
			    "(reserve them in /proc/sys/vm/nr_hugepages)",
			    (unsigned long long)(g->size / hp),
			    (unsigned long long)(hp >> 10), (unsigned long long)nfree);
	g->fd = memfd_create("migguest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING | (huge ? MFD_HUGETLB : 0));
	if (g->fd < 0 || ftruncate(g->fd, (off_t)g->size) < 0)
		return fail(r, "guest RAM: %s", strerror(errno));
	g->mem = mmap(NULL, g->size, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_POPULATE, g->fd, 0);
	if (g->mem == MAP_FAILED)
		return fail(r, "guest RAM mmap: %s", strerror(errno));
	r->alloc_ms = now_ms() - t;
	return 0;
}

/* The image's bytes at gpa 0; the rest stays zero. */
static int
guest_load_image(struct guest *g, const char *path, struct result *r)
{
	uint64_t got = 0;
	struct stat st;
	ssize_t n = 1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0)
		return fail(r, "image %s: %s", path, strerror(errno));
	if ((uint64_t)st.st_size > g->size)
		n = -1;
	while (n > 0 && got < (uint64_t)st.st_size) {
		n = pread(fd, g->mem + got, st.st_size - got, got);
		got += n > 0 ? (uint64_t)n : 0;
	}
	close(fd);
	return n > 0 ? 0 : fail(r, "image %s: %s", path,
				n < 0 ? "larger than --mem" : "short read");
}

static double
deadline_of(unsigned long timeout_s)
{
	return timeout_s ? now_ms() + timeout_s * 1e3 : 0;
}

static bool
expired(double deadline)
{
	return deadline > 0 && now_ms() >= deadline;
}

/* Connect, retrying while nobody listens at the path yet. */
static int
connect_retry(struct migshim_client *c, const struct opts *o, struct result *r)
{
	double deadline = deadline_of(o->timeout_s);
	char msg[256];
	int ret;

	for (;;) {
		ret = migshim_client_connect(c, o->socket, deadline > 0 ?
					     (int)(deadline - now_ms()) + 1 : -1,
					     msg, sizeof(msg));
		if (ret == 0 || stop_sig)
			return ret;
		if (ret != -ENOENT && ret != -ECONNREFUSED && ret != -EAGAIN)
			break;
		if (expired(deadline))
			return fail(r, "no migdp at %s after %lu s: %s", o->socket,
				    o->timeout_s, strerror(-ret));
		usleep(50000);
	}
	if (msg[0] != '\0')
		return fail(r, "migdp refused: %s", msg);
	return fail(r, "connect %s: %s", o->socket, strerror(-ret));
}

/* One look at migdp: 1 completed, -1 failed, stopped or timed out (reason
 * in @p r), 0 not yet. */
static int
check(struct migshim_client *c, double deadline, struct result *r)
{
	struct migshim_event ev;
	int ret = migshim_client_poll_event(c, &ev);

	if (ret == -EPIPE)
		return fail(r, "migdp closed the session");
	if (ret == 0) {
		fprintf(stderr, "migguest: event %s value %u arg %llu %s\n",
			migshim_event_name(ev.type), ev.value,
			(unsigned long long)ev.arg, ev.reason);
		r->event_arg = ev.arg;
		r->event_value = ev.value;
		if (ev.type == MIGSHIM_EV_COMPLETED || ev.type == MIGSHIM_EV_RESUME) {
			snprintf(r->reason, sizeof(r->reason), "%s", ev.reason);
			return 1;
		}
		if (ev.type == MIGSHIM_EV_FAILED)
			return fail(r, "migdp: %s (%s)", ev.reason[0] ?
				    ev.reason : "failed", strerror((int)ev.value));
	}
	if (stop_sig)
		return -1;
	if (expired(deadline))
		return fail(r, "migration not over before --timeout");
	return 0;
}

/* Every page once, then the final end-of-round marker. A full ring is
 * retried after 50 us, while watching for migdp's end. */
static int
push_all(struct migshim_client *c, const struct guest *g, double deadline,
	 struct result *r)
{
	uint64_t npages = g->size / MIGSHIM_PAGE_SIZE, words = (npages + 63) / 64;
	uint64_t *bm = malloc(words * sizeof(*bm));
	struct migshim_bitmap_iter it;
	struct migshim_desc d;
	int st = 0;

	if (bm == NULL)
		return fail(r, "out of memory");
	memset(bm, 0xff, words * sizeof(*bm));
	migshim_bitmap_iter_init(&it, bm, npages, 0, MAX_RUN, BLOCK_PAGES);
	while (migshim_bitmap_iter_next(&it, &d))
		r->descs++;
	migshim_bitmap_iter_init(&it, bm, npages, 0, MAX_RUN, BLOCK_PAGES);
	while (st == 0 && migshim_client_push_bitmap(c, &it) == -EAGAIN &&
	       (st = check(c, deadline, r)) == 0)
		usleep(50);
	while (st == 0 && migshim_client_end_round(c, 1, true) == -EAGAIN &&
	       (st = check(c, deadline, r)) == 0)
		usleep(50);
	free(bm);
	if (st > 0)
		return fail(r, "migdp completed before every page was pushed");
	r->pages = st == 0 ? npages : 0;
	return st;
}

/* Source guest RAM: an image or generated content, then read-only. */
static int
prepare_source(const struct opts *o, struct guest *g, struct result *r)
{
	double t;
	int ret;

	if (guest_alloc(g, o, r) < 0)
		return -1;
	t = now_ms();
	if (o->image != NULL) {
		if (guest_load_image(g, o->image, r) < 0)
			return -1;
	} else if ((ret = genmem_fill(g->mem, g->size, &o->mix, o->seed)) < 0) {
		return fail(r, "generating from %s: %s", o->mix.files_dir ?
			    o->mix.files_dir : "the mix", strerror(-ret));
	}
	mprotect(g->mem, g->size, PROT_READ); /* it must not change now */
	r->fill_ms = now_ms() - t;
	t = now_ms();
	genmem_digest(g->mem, g->size, r->digest);
	r->digest_ms = now_ms() - t;
	fprintf(stderr, "migguest: source guest of %llu bytes (%s) ready in "
		"%.0f ms, digest %s\n", (unsigned long long)g->size,
		o->image ? o->image : o->mix_text, r->alloc_ms + r->fill_ms,
		r->digest);
	return 0;
}

/* Hand the guest to migdp and see the migration through. */
static int
session(const struct opts *o, struct guest *g, struct result *r)
{
	struct migshim_client_params p = {
		.role = o->role, .nrings = (uint32_t)o->channels,
		.ring_size = RING_SIZE, .max_run_pages = MAX_RUN,
		.block_pages = BLOCK_PAGES};
	struct migshim_client *c = migshim_client_create(&p);
	struct pollfd pfd = {.events = POLLIN};
	double deadline, t;
	int st = -1;

	if (c == NULL || migshim_client_add_region(c, g->fd, 0, 0, g->size) < 0)
		fail(r, "shim: %s", strerror(errno));
	else if (connect_retry(c, o, r) == 0)
		st = 0;
	if (st < 0)
		goto out;
	fprintf(stderr, "migguest: connected to migdp at %s, %lu channel(s)\n",
		o->socket, o->channels);
	deadline = deadline_of(o->timeout_s);
	t = now_ms();
	if (o->role == MIGSHIM_ROLE_SOURCE) {
		st = push_all(c, g, deadline, r);
		r->push_ms = now_ms() - t;
		if (st < 0)
			goto out;
		fprintf(stderr, "migguest: %llu pages pushed in %llu descriptors "
			"(%.1f ms), final round marked\n", (unsigned long long)r->pages,
			(unsigned long long)r->descs, r->push_ms);
	}
	t = now_ms();
	pfd.fd = migshim_client_fd(c);
	while ((st = check(c, deadline, r)) == 0)
		poll(&pfd, 1, 100);
	r->wait_ms = now_ms() - t;
out:
	migshim_client_destroy(c);
	return st > 0 ? 0 : -1;
}

static void
print_json(const struct opts *o, const struct guest *g, const struct result *r)
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
		json_pack("{s:I, s:I, s:f, s:f, s:s}", "pages", (json_int_t)r->pages,
			  "descriptors", (json_int_t)r->descs,
			  "fill_ms", r->fill_ms, "push_ms", r->push_ms,
			  "digest_after", r->digest_after) :
		json_pack("{s:b}", "verified", strcmp(r->status, "completed") == 0 &&
			  r->event_value != 0);
	json_t *times = json_pack("{s:f, s:f, s:f}", "alloc_ms", r->alloc_ms,
				  "wait_ms", r->wait_ms, "digest_ms", r->digest_ms);

	json_object_update(j, more);
	json_object_update(j, times);
	json_dumpf(j, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6));
	printf("\n");
	fflush(stdout);
	json_decref(more);
	json_decref(times);
	json_decref(j);
}

int
main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	struct guest g = {.fd = -1, .mem = MAP_FAILED};
	struct result r = {.status = "failed"};
	struct opts o;
	double t;
	int ret;

	if (parse_args(argc, argv, &o) < 0) {
		fputs(usage, stderr);
		return 2;
	}
	/* Until the guest is ready a signal kills us as usual (nothing is
	 * shared yet); from then on it ends the session cleanly. */
	if (o.role == MIGSHIM_ROLE_SOURCE)
		ret = prepare_source(&o, &g, &r);
	else
		ret = guest_alloc(&g, &o, &r);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (ret == 0)
		ret = session(&o, &g, &r);
	if (o.role == MIGSHIM_ROLE_DESTINATION && g.mem != MAP_FAILED) {
		t = now_ms();
		genmem_digest(g.mem, g.size, r.digest);
		r.digest_ms = now_ms() - t;
	}
	/* The source's memory must be what it was, whatever happened. */
	if (o.role == MIGSHIM_ROLE_SOURCE && g.mem != MAP_FAILED)
		genmem_digest(g.mem, g.size, r.digest_after);
	if (ret != 0 && stop_sig)
		fail(&r, "interrupted by %s", strsignal(stop_sig));
	r.status = ret == 0 ? "completed" : "failed";
	fprintf(stderr, "migguest: %s%s%s\n", r.status, r.reason[0] ? ": " : "",
		r.reason);
	print_json(&o, &g, &r);
	if (g.mem != MAP_FAILED)
		munmap(g.mem, g.size);
	if (g.fd >= 0)
		close(g.fd);
	return ret == 0 ? 0 : stop_sig ? 128 + stop_sig : 1;
}
