/* SPDX-License-Identifier: BSD-3-Clause */
/* The page codec on one core, on a memory image or a generated mix: per
 * method and zstd level (with and without a trained dictionary) input and
 * output MB/s, ratio and decompression MB/s; zero detection (AVX2 and
 * portable), memcpy, CRC32C and XXH3 of the same data; dictionary training
 * time; and the issue #4 target ratios. One JSON object per line.
 * Usage: migdp-codec-bench [--image FILE | --mem SIZE] [--mix MIX]
 *        [--files DIR] [--seed N] [--rounds N] [--cpu N] */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "codec/codec.h"
#include "genmem.h"

#define PG MIGDP_PAGE_SIZE
#define CHUNK 1024u /* pages compressed, then decompressed, per timing */
#define MAXRES 16

struct image {
	uint8_t *mem;        /* the image */
	uint8_t *dst[2];     /* decoded in place / through scratch (cold) */
	uint64_t npages;
	uint32_t *nz;        /* indexes of non-zero pages */
	uint64_t nnz;
};

struct result {
	int level;           /* 0: raw */
	bool dict;
	double in_mbps, out_mbps, ratio, dec_mbps, dec_scratch_mbps;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
load_file(const char *path, struct image *im)
{
	int fd = open(path, O_RDONLY);
	off_t len = fd < 0 ? -1 : lseek(fd, 0, SEEK_END);
	size_t got = 0;
	ssize_t n;

	if (len < (off_t)PG) {
		fprintf(stderr, "codec-bench: %s: %s\n", path,
			fd < 0 ? strerror(errno) : "smaller than a page");
		return -1;
	}
	im->npages = (uint64_t)len / PG;
	im->mem = aligned_alloc(PG, im->npages * PG);
	if (im->mem == NULL)
		return -1;
	while (got < im->npages * PG &&
	       (n = pread(fd, im->mem + got, im->npages * PG - got, (off_t)got)) > 0)
		got += (size_t)n;
	close(fd);
	return got == im->npages * PG ? 0 : -1;
}

/* Best of @p rounds of @p fn over the image; returns MB/s of @p bytes. */
#define BEST(rounds, bytes, body) __extension__ ({ \
	double _best = 1e30, _t; unsigned _r; \
	for (_r = 0; _r < (rounds); _r++) { \
		_t = now_s(); body; _t = now_s() - _t; \
		if (_t < _best) _best = _t; } \
	(double)(bytes) / _best / 1e6; })

static volatile uint64_t sink; /* keeps results observable */

/* memcpy, zero detection, checksums. @p zero_mbps: best implementation
 * on all-zero memory of the image's size (worst case: every byte read),
 * @p zero_scattered: on the image's own zero pages, in image order. */
static void
bench_basics(struct image *im, unsigned rounds, double *memcpy_mbps,
	     double *zero_mbps, double *zero_scattered)
{
	uint64_t i, acc = 0, nzero = im->npages - im->nnz;
	uint32_t *zl = malloc((nzero + 1) * sizeof(*zl)), k = 0, j = 0;
	const char *impl[] = {"avx2", "portable"};
	double img, zp, all;
	unsigned m;

	for (i = 0; i < im->npages; i++) /* zero pages: read in full */
		if (j < im->nnz && im->nz[j] == i)
			j++;
		else
			zl[k++] = (uint32_t)i;
	*memcpy_mbps = BEST(rounds, im->npages * PG,
			    memcpy(im->dst[0], im->mem, im->npages * PG));
	printf("{\"benchmark\":\"codec\",\"method\":\"memcpy\",\"mbps\":%.0f}\n",
	       *memcpy_mbps);
	memset(im->dst[0], 0, im->npages * PG); /* worst case: all zero, read whole */
	*zero_mbps = 0;
	*zero_scattered = 0;
	for (m = 0; m < RTE_DIM(impl); m++) {
		if (migdp_zero_select(impl[m]) != 0)
			continue;
		img = BEST(rounds, im->npages * PG,
			   for (i = 0; i < im->npages; i++)
				   acc += migdp_page_is_zero(im->mem + i * PG));
		zp = BEST(rounds, nzero * PG, for (i = 0; i < nzero; i++)
				acc += migdp_page_is_zero(im->mem + (uint64_t)zl[i] * PG));
		all = BEST(rounds, im->npages * PG,
			   acc += migdp_zero_run(im->dst[0], (uint32_t)im->npages));
		printf("{\"benchmark\":\"codec\",\"method\":\"zero_detect\","
		       "\"impl\":\"%s\",\"image_mbps\":%.0f,\"zero_pages_mbps\":%.0f,"
		       "\"all_zero_mbps\":%.0f}\n", impl[m], img, zp, all);
		if (all > *zero_mbps)
			*zero_mbps = all;
		if (zp > *zero_scattered)
			*zero_scattered = zp;
	}
	migdp_zero_select(NULL);
	img = BEST(rounds, im->npages * PG, for (i = 0; i < im->npages; i++)
			acc += migdp_crc32c(im->mem + i * PG, PG));
	zp = BEST(rounds, im->npages * PG, for (i = 0; i < im->npages; i++)
			acc += XXH3_64bits(im->mem + i * PG, PG));
	printf("{\"benchmark\":\"codec\",\"method\":\"checksum\",\"page\":%u,"
	       "\"crc32c_mbps\":%.0f,\"xxh3_mbps\":%.0f}\n", PG, img, zp);
	sink = acc;
	free(zl);
}

/* One method/level over every non-zero page, chunk by chunk: compress,
 * then decompress in place, then through the scratch page. */
static int
bench_codec(struct image *im, const struct migdp_codec_ops *ops, int level,
	    struct migdp_codec_dict *dict, const char *trainer,
	    struct result *res)
{
	struct migdp_codec_ctx *c = migdp_codec_ctx_create(
		&(struct migdp_codec_ctx_params){.level = level ? level : 1,
						 .dict = dict});
	uint8_t *out = malloc((size_t)CHUNK * PG);
	uint32_t len[CHUNK];
	double tc = 0, td = 0, ts = 0, t;
	uint64_t c0, i, n, outb = 0, bad = 0;
	uint8_t *src, *dst;

	if (c == NULL || out == NULL)
		return -1;
	memset(im->dst[0], 0x5a, im->npages * PG); /* no result of a former run */
	memset(im->dst[1], 0x5a, im->npages * PG);
	for (c0 = 0; c0 < im->nnz; c0 += CHUNK) {
		n = RTE_MIN((uint64_t)CHUNK, im->nnz - c0);
		t = now_s();
		for (i = 0; i < n; i++) {
			int r = ops->compress(c, im->mem + (uint64_t)im->nz[c0 + i] * PG,
					      1, out + i * PG, PG);
			len[i] = r > 0 ? (uint32_t)r : 0; /* 0: sent raw */
		}
		tc += now_s() - t;
		for (int pass = 0; pass < 2; pass++) {
			t = now_s();
			for (i = 0; i < n; i++) {
				src = im->mem + (uint64_t)im->nz[c0 + i] * PG;
				dst = im->dst[pass] + (uint64_t)im->nz[c0 + i] * PG;
				if (len[i] == 0)
					memcpy(dst, src, PG);
				else if (pass == 0)
					bad += ops->decompress(c, out + i * PG, len[i], dst, 1) != 0;
				else if (ops->decompress(c, out + i * PG, len[i],
							 c->scratch, 1) == 0)
					memcpy(dst, c->scratch, PG);
			}
			*(pass == 0 ? &td : &ts) += now_s() - t;
		}
		for (i = 0; i < n; i++) {
			outb += len[i] ? len[i] : PG;
			src = im->mem + (uint64_t)im->nz[c0 + i] * PG;
			bad += memcmp(im->dst[0] + (src - im->mem), src, PG) != 0;
			bad += memcmp(im->dst[1] + (src - im->mem), src, PG) != 0;
		}
	}
	migdp_codec_ctx_free(c);
	free(out);
	if (bad) {
		fprintf(stderr, "codec-bench: %s level %d: %lu pages differ\n",
			ops->name, level, (unsigned long)bad);
		return -1;
	}
	*res = (struct result){.level = level, .dict = dict != NULL,
		.in_mbps = im->nnz * PG / tc / 1e6, .out_mbps = outb / tc / 1e6,
		.ratio = (double)im->nnz * PG / outb,
		.dec_mbps = im->nnz * PG / td / 1e6,
		.dec_scratch_mbps = im->nnz * PG / ts / 1e6};
	printf("{\"benchmark\":\"codec\",\"method\":\"%s\",\"level\":%d,"
	       "\"dict\":%s%s%s,\"in_mbps\":%.0f,\"out_mbps\":%.0f,\"ratio\":%.3f,"
	       "\"image_ratio\":%.3f,\"dec_mbps\":%.0f,\"dec_scratch_mbps\":%.0f}\n",
	       ops->name, level, dict ? "\"" : "", dict ? trainer : "false",
	       dict ? "\"" : "", res->in_mbps,
	       res->out_mbps, res->ratio, (double)im->npages * PG / outb,
	       res->dec_mbps, res->dec_scratch_mbps);
	return 0;
}

static struct migdp_codec_dict *
bench_dict(struct image *im, enum migdp_dict_trainer tr, const char *name,
	   const int *levels, unsigned nlevels)
{
	struct iovec iov = {.iov_base = im->mem, .iov_len = im->npages * PG};
	struct migdp_codec_dict *d;
	double t = now_s(), tp;
	unsigned i;
	size_t len = 0;

	d = migdp_dict_train(&iov, 1, &(struct migdp_dict_params){.trainer = tr});
	t = now_s() - t;
	if (d == NULL) {
		fprintf(stderr, "codec-bench: %s training: %s\n", name, strerror(errno));
		return NULL;
	}
	tp = now_s();
	for (i = 0; i < nlevels; i++)
		migdp_dict_prepare(d, levels[i]);
	tp = now_s() - tp;
	migdp_dict_data(d, &len);
	printf("{\"benchmark\":\"codec\",\"method\":\"dict_train\",\"trainer\":\"%s\","
	       "\"samples\":2048,\"dict_bytes\":%zu,\"train_s\":%.3f,"
	       "\"prepare_%u_levels_s\":%.3f}\n", name, len, t, nlevels, tp);
	return d;
}

/* The fastest zstd level of @p r (with or without dictionary) whose ratio
 * is within 15% of level 1's: the second target. */
static void
target_fast(const struct result *r, unsigned nr, bool dict)
{
	const struct result *l1 = NULL, *best = NULL;
	const char *sep = "";
	unsigned i;

	for (i = 0; i < nr; i++)
		if (r[i].level == 1 && r[i].dict == dict)
			l1 = &r[i];
	if (l1 == NULL)
		return;
	printf("{\"benchmark\":\"codec\",\"target\":\"fast_level_vs_l1\",\"dict\":%s,"
	       "\"levels\":[", dict ? "true" : "false");
	for (i = 0; i < nr; i++) {
		if (r[i].level == 0 || r[i].dict != dict)
			continue;
		printf("%s{\"level\":%d,\"speed_vs_l1\":%.2f,\"ratio_loss_pct\":%.1f}",
		       sep, r[i].level,
		       r[i].in_mbps / l1->in_mbps, 100 * (1 - r[i].ratio / l1->ratio));
		sep = ",";
		if (r[i].ratio >= 0.85 * l1->ratio &&
		    (best == NULL || r[i].in_mbps > best->in_mbps))
			best = &r[i];
	}
	printf("],\"best_level\":%d,\"speed_vs_l1\":%.2f,\"ratio_loss_pct\":%.1f,"
	       "\"goal\":\">= 2x at <= 15%% loss\",\"pass\":%s}\n", best->level,
	       best->in_mbps / l1->in_mbps, 100 * (1 - best->ratio / l1->ratio),
	       best->in_mbps >= 2 * l1->in_mbps ? "true" : "false");
}

/* Dictionary vs none at level 1: the third target. */
static void
target_dict(const struct result *r, unsigned nr)
{
	const struct result *with = NULL, *without = NULL;
	unsigned i;

	for (i = 0; i < nr; i++)
		if (r[i].level == 1)
			*(r[i].dict ? &with : &without) = &r[i];
	if (with == NULL || without == NULL)
		return;
	printf("{\"benchmark\":\"codec\",\"target\":\"dict_gain_l1\","
	       "\"ratio_no_dict\":%.3f,\"ratio_dict\":%.3f,\"gain_pct\":%.1f,"
	       "\"goal\":\">= 10\",\"pass\":%s}\n", without->ratio, with->ratio,
	       100 * (with->ratio / without->ratio - 1),
	       with->ratio >= 1.10 * without->ratio ? "true" : "false");
}

static int
usage(void)
{
	fprintf(stderr, "usage: migdp-codec-bench [--image FILE | --mem SIZE] "
		"[--mix MIX] [--files DIR|''] [--seed N] [--rounds N] [--cpu N]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"image", required_argument, NULL, 'i'},
		{"mem", required_argument, NULL, 'm'},
		{"mix", required_argument, NULL, 'x'},
		{"files", required_argument, NULL, 'f'},
		{"seed", required_argument, NULL, 's'},
		{"rounds", required_argument, NULL, 'r'},
		{"cpu", required_argument, NULL, 'c'},
		{NULL, 0, NULL, 0},
	};
	static const int levels[] = {1, -1, -3, -5, -7, 3};
	const char *image = NULL, *mix = "zero=30,text=55,random=15";
	const char *files = "/usr";
	uint64_t size = 256ull << 20, seed = 1, i;
	struct migdp_codec_dict *dict;
	struct result res[MAXRES], l1opt;
	unsigned rounds = 3, nres = 0, k;
	struct migdp_genmix m;
	struct image im = {0};
	double cp, zr, zs;
	int c, cpu = sched_getcpu();
	cpu_set_t set;
	char err[128];

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'i': image = optarg; break;
		case 'm': if (genmem_parse_size(optarg, &size) < 0) return usage(); break;
		case 'x': mix = optarg; break;
		case 'f': files = optarg[0] ? optarg : NULL; break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'r': rounds = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'c': cpu = atoi(optarg); break;
		default: return usage();
		}
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set); /* one core, best effort */
	if (rounds == 0)
		return usage();
	if (image != NULL) {
		if (load_file(image, &im) < 0)
			return 1;
	} else {
		if (genmem_parse_mix(mix, &m, err, sizeof(err)) < 0) {
			fprintf(stderr, "codec-bench: --mix: %s\n", err);
			return 2;
		}
		m.files_dir = files;
		im.npages = size / PG;
		im.mem = aligned_alloc(PG, im.npages * PG);
		if (im.mem == NULL || genmem_fill(im.mem, im.npages * PG, &m, seed) < 0) {
			fprintf(stderr, "codec-bench: cannot generate %s\n", mix);
			return 1;
		}
	}
	im.dst[0] = aligned_alloc(PG, im.npages * PG);
	im.dst[1] = aligned_alloc(PG, im.npages * PG);
	im.nz = malloc(im.npages * sizeof(*im.nz));
	if (im.dst[0] == NULL || im.dst[1] == NULL || im.nz == NULL)
		return 1;
	memset(im.dst[0], 0x5a, im.npages * PG); /* fault them in */
	memset(im.dst[1], 0x5a, im.npages * PG);
	for (i = 0; i < im.npages; i++)
		if (!migdp_page_is_zero(im.mem + i * PG))
			im.nz[im.nnz++] = (uint32_t)i;
	printf("{\"benchmark\":\"codec\",\"input\":\"%s\",\"mix\":\"%s\",\"files\":\"%s\","
	       "\"mib\":%lu,\"pages\":%lu,\"zero_pages\":%lu,\"cpu\":%d,"
	       "\"zero_impl\":\"%s\"}\n", image ? image : "generated",
	       image ? "" : mix, image || files == NULL ? "" : files,
	       (unsigned long)(im.npages * PG >> 20), (unsigned long)im.npages,
	       (unsigned long)(im.npages - im.nnz), cpu, migdp_zero_impl());
	bench_basics(&im, rounds, &cp, &zr, &zs);
	if (bench_codec(&im, &migdp_codec_raw, 0, NULL, NULL, &res[nres++]) < 0)
		return 1;
	for (k = 0; k < RTE_DIM(levels); k++)
		if (bench_codec(&im, &migdp_codec_zstd, levels[k], NULL, NULL,
				&res[nres++]) < 0)
			return 1;
	dict = bench_dict(&im, MIGDP_DICT_FASTCOVER, "fastcover", levels,
			  RTE_DIM(levels));
	for (k = 0; dict != NULL && k < RTE_DIM(levels); k++)
		if (bench_codec(&im, &migdp_codec_zstd, levels[k], dict,
				"fastcover", &res[nres++]) < 0)
			return 1;
	migdp_dict_free(dict);
	dict = bench_dict(&im, MIGDP_DICT_OPTIMIZE, "optimize", levels, 1);
	if (dict != NULL && bench_codec(&im, &migdp_codec_zstd, 1, dict,
					"optimize", &l1opt) < 0)
		return 1;
	migdp_dict_free(dict);
	printf("{\"benchmark\":\"codec\",\"target\":\"zero_detect_vs_memcpy\","
	       "\"zero_mbps\":%.0f,\"memcpy_mbps\":%.0f,\"ratio\":%.2f,"
	       "\"scattered_zero_pages_ratio\":%.2f,\"goal\":\">= 2\",\"pass\":%s}\n",
	       zr, cp, zr / cp, zs / cp, zr >= 2 * cp ? "true" : "false");
	target_fast(res, nres, false);
	target_fast(res, nres, true);
	target_dict(res, nres);
	free(im.mem);
	free(im.dst[0]);
	free(im.dst[1]);
	free(im.nz);
	return 0;
}
