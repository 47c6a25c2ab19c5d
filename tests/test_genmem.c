/* SPDX-License-Identifier: BSD-3-Clause */
/* The guest memory generator: mix and size parsing, exact proportions of
 * each page kind (classified from the bytes alone), determinism, pages cut
 * from real files, how well each kind compresses, the digest, and the
 * fill on several threads giving the bytes of the fill on one. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include "cu_main.h"
#include "genmem.h"

#define PAGE GENMEM_PAGE_SIZE
#define MB (1024ull * 1024)

static void
test_parse_mix_good(void)
{
	struct migdp_genmix m;
	char err[128];

	CU_ASSERT_EQUAL(genmem_parse_mix("zero=30,text=55,binary=0,random=15",
					 &m, err, sizeof(err)), 0);
	CU_ASSERT(m.zero == 30 && m.text == 55 && m.binary == 0 &&
		  m.random == 15 && m.files_dir == NULL);
	CU_ASSERT_EQUAL(genmem_parse_mix("random=100", &m, err, sizeof(err)), 0);
	CU_ASSERT(m.zero == 0 && m.text == 0 && m.binary == 0 && m.random == 100);
	CU_ASSERT_EQUAL(genmem_parse_mix("binary=50,zero=50", &m, NULL, 0), 0);
	CU_ASSERT(m.zero == 50 && m.binary == 50 && m.text == 0);
	CU_ASSERT_EQUAL(genmem_parse_mix(GENMEM_DEFAULT_MIX, &m, NULL, 0), 0);
}

static void
test_parse_mix_bad(void)
{
	static const char *const bad[] = {
		"zero=30,text=55,binary=0,random=10", /* 95 */
		"zero=30,text=55,binary=0,random=16", /* 101 */
		"zero=30,foo=70", "garbage", "", "zero=", "zero=abc",
		"zero=50,zero=50", "zero=30,,text=70", "zero=30,text=70,",
		",zero=100", "zero=-5,text=105", "zero=+50,text=50",
		"zero=4294967396", "zero= 50,text=50", "zero=50 ,text=50",
		"ZERO=100", "zero:100", "zero=100=0", "zero=101",
		"zero=99999999999999999999999", NULL};
	struct migdp_genmix m = {.zero = 7}, m0 = m;
	char err[128];
	unsigned i;

	for (i = 0; bad[i] != NULL; i++) {
		err[0] = '\0';
		CU_ASSERT_EQUAL(genmem_parse_mix(bad[i], &m, err, sizeof(err)),
				-EINVAL);
		CU_ASSERT(err[0] != '\0');
		CU_ASSERT(memcmp(&m, &m0, sizeof(m)) == 0);
	}
	CU_ASSERT_EQUAL(genmem_parse_mix(NULL, &m, NULL, 0), -EINVAL);
	genmem_parse_mix("zero=30,text=60", &m, err, sizeof(err));
	CU_ASSERT(strstr(err, "90") != NULL);
	genmem_parse_mix("zero=30,blob=70", &m, err, sizeof(err));
	CU_ASSERT(strstr(err, "blob") != NULL);
}

static void
test_parse_size(void)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {{"4096", 4096}, {"64M", 64 * MB}, {"1G", 1024 * MB},
		    {"2KiB", 2048}, {"3k", 3072}, {"1MB", MB},
		    {"2T", 2ull << 40}};
	static const char *const bad[] = {"0", "12X", "M", "", "-1", "1.5G",
					  "1 G", "1GiBs", "0x10", NULL};
	uint64_t v;
	unsigned i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CU_ASSERT_EQUAL(genmem_parse_size(good[i].s, &v), 0);
		CU_ASSERT_EQUAL(v, good[i].v);
	}
	for (i = 0; bad[i] != NULL; i++)
		CU_ASSERT_EQUAL(genmem_parse_size(bad[i], &v), -EINVAL);
	CU_ASSERT_EQUAL(genmem_parse_size("99999999999999999999999", &v), -ERANGE);
	CU_ASSERT_EQUAL(genmem_parse_size("17179869184G", &v), -ERANGE);
}

/* Kind of a page from its bytes alone. */
static enum genmem_kind
classify(const uint8_t *p)
{
	unsigned hist[256] = {0}, i;
	bool zero = true, text = true;
	double h = 0, q;

	for (i = 0; i < PAGE; i++) {
		hist[p[i]]++;
		zero = zero && p[i] == 0;
		text = text && ((p[i] >= 0x20 && p[i] < 0x7f) || p[i] == '\n' ||
				p[i] == '\t');
	}
	if (zero)
		return GENMEM_ZERO;
	if (text)
		return GENMEM_TEXT;
	for (i = 0; i < 256; i++) {
		q = (double)hist[i] / PAGE;
		if (hist[i])
			h -= q * log2(q);
	}
	return h > 7.5 ? GENMEM_RANDOM : GENMEM_BINARY;
}

static void
test_proportions(void)
{
	const size_t len = 64 * MB, npages = len / PAGE;
	struct migdp_genmix m = {.zero = 30, .text = 30, .binary = 25,
				 .random = 15};
	const unsigned want[GENMEM_NKINDS] = {30, 30, 25, 15};
	uint8_t *buf = malloc(len);
	size_t n[GENMEM_NKINDS] = {0}, i, mismatch = 0, runs = 0;
	enum genmem_kind k, prev = GENMEM_NKINDS;

	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT_EQUAL_FATAL(genmem_fill(buf, len, &m, 42), 0);
	for (i = 0; i < npages; i++) {
		k = classify(buf + i * PAGE);
		n[k]++;
		mismatch += k != genmem_page_kind(&m, 42, i);
		runs += k != prev;
		prev = k;
	}
	CU_ASSERT_EQUAL(mismatch, 0);
	for (k = 0; k < GENMEM_NKINDS; k++) {
		printf("\n    %-6s %5.2f%% (want %u%%)", genmem_kind_name(k),
		       100.0 * (double)n[k] / (double)npages, want[k]);
		CU_ASSERT(fabs(100.0 * (double)n[k] / (double)npages - want[k]) < 1.0);
	}
	/* Spread, not in bands: many changes of kind along the buffer. */
	CU_ASSERT(runs > npages / 2);
	free(buf);
}

static void
test_determinism(void)
{
	const size_t len = 8 * MB + 100; /* a partial last page too */
	struct migdp_genmix m = {.zero = 10, .text = 40, .binary = 30,
				 .random = 20};
	uint8_t *a = malloc(len), *b = malloc(len), *c = malloc(3 * PAGE);
	char da[GENMEM_DIGEST_HEX_LEN], db[GENMEM_DIGEST_HEX_LEN];

	CU_ASSERT_FATAL(a != NULL && b != NULL && c != NULL);
	CU_ASSERT_EQUAL(genmem_fill(a, len, &m, 1), 0);
	memset(b, 0x55, len);
	CU_ASSERT_EQUAL(genmem_fill(b, len, &m, 1), 0);
	CU_ASSERT(memcmp(a, b, len) == 0);
	genmem_digest(a, len, da);
	genmem_digest(b, len, db);
	CU_ASSERT_STRING_EQUAL(da, db);
	CU_ASSERT_EQUAL(strlen(da), 32);
	CU_ASSERT_EQUAL(strspn(da, "0123456789abcdef"), 32);
	/* A prefix is the start of the same memory. */
	CU_ASSERT_EQUAL(genmem_fill(c, 2 * PAGE + 7, &m, 1), 0);
	CU_ASSERT(memcmp(a, c, 2 * PAGE + 7) == 0);
	/* Another seed: other memory. */
	CU_ASSERT_EQUAL(genmem_fill(b, len, &m, 2), 0);
	genmem_digest(b, len, db);
	CU_ASSERT_STRING_NOT_EQUAL(da, db);
	/* Bad mix: refused, nothing written. */
	m.random = 21;
	memset(c, 0x55, PAGE);
	CU_ASSERT_EQUAL(genmem_fill(c, PAGE, &m, 1), -EINVAL);
	CU_ASSERT_EQUAL(c[0], 0x55);
	free(a);
	free(b);
	free(c);
}

static void
test_digest(void)
{
	const size_t len = 4 * MB;
	uint8_t *a = calloc(1, len);
	char d0[GENMEM_DIGEST_HEX_LEN], d1[GENMEM_DIGEST_HEX_LEN];
	size_t pos[] = {0, 1, len / 2, len - 1};
	unsigned i;

	CU_ASSERT_FATAL(a != NULL);
	genmem_digest(a, len, d0);
	for (i = 0; i < sizeof(pos) / sizeof(pos[0]); i++) {
		a[pos[i]] ^= 1;
		genmem_digest(a, len, d1);
		CU_ASSERT_STRING_NOT_EQUAL(d0, d1);
		a[pos[i]] ^= 1;
	}
	genmem_digest(a, len, d1);
	CU_ASSERT_STRING_EQUAL(d0, d1);
	/* Length matters, even for zeros. */
	genmem_digest(a, len - 1, d1);
	CU_ASSERT_STRING_NOT_EQUAL(d0, d1);
	genmem_digest(NULL, 0, d1);
	CU_ASSERT_EQUAL(strlen(d1), 32);
	free(a);
}

static void
write_file(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* Pages of real files: every page is a page of one of the files (the last
 * one zero-padded), all-zero file pages are never used, symlinks are not
 * followed. */
static void
test_files_dir(void)
{
	char dir[] = "/tmp/genmem-test-XXXXXX", path[256];
	struct migdp_genmix m = {.text = 100};
	uint8_t a[3 * PAGE], b[PAGE], pages[4][PAGE], *buf;
	size_t i, j, seen[4] = {0}, n = 256;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	memset(a, 'a', sizeof(a));
	memset(a + PAGE, 0, PAGE); /* an all-zero page inside a file */
	memset(b, 'b', sizeof(b));
	snprintf(path, sizeof(path), "%s/a", dir);
	write_file(path, a, 2 * PAGE + 100);
	snprintf(path, sizeof(path), "%s/sub", dir);
	CU_ASSERT_FATAL(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/sub/b", dir);
	write_file(path, b, PAGE);
	snprintf(path, sizeof(path), "%s/link", dir);
	CU_ASSERT(symlink("/etc/passwd", path) == 0);
	memcpy(pages[0], a, PAGE);
	memset(pages[1], 0, PAGE);
	memcpy(pages[1], a + 2 * PAGE, 100);
	memcpy(pages[2], b, PAGE);
	memset(pages[3], 0, PAGE);

	buf = malloc(n * PAGE);
	CU_ASSERT_FATAL(buf != NULL);
	m.files_dir = dir;
	CU_ASSERT_EQUAL(genmem_fill(buf, n * PAGE, &m, 5), 0);
	for (i = 0; i < n; i++) {
		for (j = 0; j < 4; j++)
			if (memcmp(buf + i * PAGE, pages[j], PAGE) == 0)
				break;
		seen[j < 4 ? j : 3]++;
		CU_ASSERT(j < 3);
	}
	CU_ASSERT(seen[0] > 0 && seen[1] > 0 && seen[2] > 0);

	m.files_dir = "/nonexistent-genmem-dir";
	CU_ASSERT_EQUAL(genmem_fill(buf, PAGE, &m, 5), -ENOENT);
	snprintf(path, sizeof(path), "%s/sub/b", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub", dir);
	m.files_dir = path; /* empty now */
	CU_ASSERT_EQUAL(genmem_fill(buf, PAGE, &m, 5), -ENOENT);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/a", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/link", dir);
	unlink(path);
	CU_ASSERT_EQUAL(rmdir(dir), 0);
	free(buf);
}

/* A files directory for the parallel fill: files of distinct text and
 * binary pages, sizes not page multiples, so that a page cut from the
 * wrong place of the corpus shows. Returns 0 or -1. */
static int
make_files_dir(char *dir, unsigned nfiles)
{
	struct migdp_genmix m = {.text = 50, .binary = 50};
	const size_t max = 9 * PAGE;
	uint8_t *data = malloc(max);
	char path[256];
	unsigned i;

	if (data == NULL || mkdtemp(dir) == NULL) {
		free(data);
		return -1;
	}
	for (i = 0; i < nfiles; i++) {
		size_t len = (i % 9 + 1) * PAGE - 37 * i;

		CU_ASSERT_EQUAL(genmem_fill(data, len, &m, 1000 + i), 0);
		snprintf(path, sizeof(path), "%s/f%02u", dir, i);
		write_file(path, data, len);
	}
	free(data);
	return 0;
}

static void
remove_files_dir(const char *dir, unsigned nfiles)
{
	char path[256];
	unsigned i;

	for (i = 0; i < nfiles; i++) {
		snprintf(path, sizeof(path), "%s/f%02u", dir, i);
		unlink(path);
	}
	CU_ASSERT_EQUAL(rmdir(dir), 0);
}

/* The fill on 2, 3 and 7 threads (and on as many as the CPUs) is the fill
 * on one thread, byte for byte: lengths that are no multiple of the page
 * size nor of the thread count, ranges cut inside a group of 100 pages,
 * fewer pages than threads. */
static void
test_threads_same_bytes(void)
{
	static const size_t lens[] = {1237 * PAGE + 321, 250 * PAGE, 5 * PAGE + 1,
				      3 * PAGE, 100, 0};
	static const unsigned threads[] = {2, 3, 7, 0};
	const unsigned nfiles = 12;
	const size_t max = 1238 * PAGE;
	char dir[] = "/tmp/genmem-mt-XXXXXX";
	struct migdp_genmix m;
	uint8_t *one = malloc(max + 1), *many = malloc(max + 1);
	unsigned mix, l, t;

	CU_ASSERT_FATAL(one != NULL && many != NULL);
	CU_ASSERT_FATAL(make_files_dir(dir, nfiles) == 0);
	for (mix = 0; mix < 2; mix++) {
		CU_ASSERT_EQUAL(genmem_parse_mix(GENMEM_DEFAULT_MIX, &m, NULL, 0), 0);
		m.files_dir = mix ? dir : NULL;
		for (l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
			memset(one, 0xa5, max + 1);
			CU_ASSERT_EQUAL(genmem_fill_threads(one, lens[l], &m, 3, 1), 0);
			CU_ASSERT_EQUAL(one[lens[l]], 0xa5); /* nothing past the end */
			for (t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
				memset(many, 0x5a, max + 1);
				CU_ASSERT_EQUAL(genmem_fill_threads(many, lens[l], &m, 3,
								    threads[t]), 0);
				CU_ASSERT(memcmp(one, many, lens[l]) == 0);
				CU_ASSERT_EQUAL(many[lens[l]], 0x5a);
			}
			CU_ASSERT_EQUAL(genmem_fill(many, lens[l], &m, 3), 0);
			CU_ASSERT(memcmp(one, many, lens[l]) == 0);
		}
	}
	/* More threads than allowed: capped, same bytes. */
	m.files_dir = NULL;
	CU_ASSERT_EQUAL(genmem_fill_threads(one, max, &m, 4, 1), 0);
	CU_ASSERT_EQUAL(genmem_fill_threads(many, max, &m, 4, 1000), 0);
	CU_ASSERT(memcmp(one, many, max) == 0);
	/* Errors as on one thread, nothing written. */
	m.random++;
	memset(many, 0x5a, PAGE);
	CU_ASSERT_EQUAL(genmem_fill_threads(many, max, &m, 4, 3), -EINVAL);
	CU_ASSERT_EQUAL(many[0], 0x5a);
	m.random--;
	m.files_dir = "/nonexistent-genmem-dir";
	CU_ASSERT_EQUAL(genmem_fill_threads(many, max, &m, 4, 3), -ENOENT);
	remove_files_dir(dir, nfiles);
	free(one);
	free(many);
}

/* The bytes of the serial generator from before the fill had threads (the
 * default mix, seed 1, 4 MiB and 100 bytes): the content of a seed must not
 * change under the tools and the images measured with it. */
static void
test_known_digest(void)
{
	const size_t len = 4 * MB + 100;
	struct migdp_genmix m;
	uint8_t *buf = malloc(len);
	char d[GENMEM_DIGEST_HEX_LEN];

	CU_ASSERT_FATAL(buf != NULL);
	genmem_parse_mix(GENMEM_DEFAULT_MIX, &m, NULL, 0);
	CU_ASSERT_EQUAL(genmem_fill_threads(buf, len, &m, 1, 3), 0);
	genmem_digest(buf, len, d);
	CU_ASSERT_STRING_EQUAL(d, "331e38b9883013f9971913e1cd396faa");
	free(buf);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Fill speed on one thread and on all (printed, not asserted: the machine
 * may be busy). The memory is faulted in and filled once first. */
static void
test_threads_speed(void)
{
	const size_t len = 256 * MB;
	struct migdp_genmix m;
	uint8_t *buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	double t, one, all;

	CU_ASSERT_FATAL(buf != MAP_FAILED);
	genmem_parse_mix(GENMEM_DEFAULT_MIX, &m, NULL, 0);
	CU_ASSERT_EQUAL(genmem_fill(buf, len, &m, 1), 0);
	t = now_s();
	CU_ASSERT_EQUAL(genmem_fill_threads(buf, len, &m, 1, 1), 0);
	one = now_s() - t;
	t = now_s();
	CU_ASSERT_EQUAL(genmem_fill(buf, len, &m, 1), 0);
	all = now_s() - t;
	printf("\n    256 MiB default mix: 1 thread %.0f MB/s, all CPUs %.0f MB/s",
	       (double)len / one / 1e6, (double)len / all / 1e6);
	munmap(buf, len);
}

/* zstd level 1 on independent 4 KiB pages of one kind. */
static double
zstd_ratio(const char *mix)
{
	const size_t len = 16 * MB;
	struct migdp_genmix m;
	uint8_t *buf = malloc(len), out[2 * PAGE];
	ZSTD_CCtx *z = ZSTD_createCCtx();
	size_t off, n, total = 0;

	if (buf == NULL || z == NULL || genmem_parse_mix(mix, &m, NULL, 0) < 0 ||
	    genmem_fill(buf, len, &m, 9) < 0)
		return 0;
	for (off = 0; off < len; off += PAGE) {
		n = ZSTD_compressCCtx(z, out, sizeof(out), buf + off, PAGE, 1);
		total += ZSTD_isError(n) || n > PAGE ? PAGE : n;
	}
	ZSTD_freeCCtx(z);
	free(buf);
	return (double)len / (double)total;
}

static void
test_compressibility(void)
{
	double text = zstd_ratio("text=100"), bin = zstd_ratio("binary=100");
	double rnd = zstd_ratio("random=100");

	printf("\n    zstd-1 per page: text %.2fx binary %.2fx random %.2fx",
	       text, bin, rnd);
	CU_ASSERT(text >= 2.0 && text <= 5.0);
	CU_ASSERT(bin >= 2.0 && bin <= 4.5);
	CU_ASSERT(rnd < 1.01);
}

int
main(void)
{
	static const struct cu_test tests[] = {
		{"parse_mix_good", test_parse_mix_good},
		{"parse_mix_bad", test_parse_mix_bad},
		{"parse_size", test_parse_size},
		{"proportions_64MiB", test_proportions},
		{"determinism", test_determinism},
		{"digest", test_digest},
		{"files_dir", test_files_dir},
		{"compressibility", test_compressibility},
		{"threads_same_bytes", test_threads_same_bytes},
		{"known_digest", test_known_digest},
		{"threads_speed", test_threads_speed},
		{NULL, NULL}};

	if (cu_add_suite("genmem", NULL, NULL, tests) < 0)
		return 1;
	return cu_run();
}
