/* SPDX-License-Identifier: BSD-3-Clause */
/* migdp-genimage: write a guest memory image file with the project's page
 * generator (genmem), for tools that take an image (migrate-image.sh, the
 * QEMU comparison, migdp-codec-bench --image). With the same --mem, --mix,
 * --files-dir and --seed, the file holds the bytes migguest would generate
 * for its source guest. Prints one JSON object: size, mix, seed, XXH3-128
 * digest (as migguest reports it) and the pages of each kind.
 *
 * migdp-genimage --out FILE --mem SIZE [--mix MIX] [--files-dir DIR]
 *                [--seed N] */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "genmem.h"

static const char usage[] =
	"usage: migdp-genimage --out FILE --mem SIZE [--mix MIX]\n"
	"       [--files-dir DIR] [--seed N]\n"
	"SIZE takes K, M, G (binary), rounded up to 4 KiB pages. Default mix\n"
	GENMEM_DEFAULT_MIX ", seed 1 (migguest's default).\n";

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"out", 1, NULL, 'o'}, {"mem", 1, NULL, 'm'},
		{"mix", 1, NULL, 'x'}, {"files-dir", 1, NULL, 'f'},
		{"seed", 1, NULL, 'S'}, {"help", 0, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *out = NULL, *mix_text = GENMEM_DEFAULT_MIX, *files = NULL;
	uint64_t mem = 0, counts[GENMEM_NKINDS] = {0}, i, npages;
	unsigned long long seed = 1;
	struct migdp_genmix mix;
	char err[128] = "", digest[GENMEM_DIGEST_HEX_LEN], *end;
	double t0, fill_ms;
	uint8_t *p;
	json_t *j;
	int c, fd, ret;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'x': mix_text = optarg; break;
		case 'f': files = optarg; break;
		case 'm':
			if (genmem_parse_size(optarg, &mem) < 0) {
				fprintf(stderr, "migdp-genimage: bad --mem '%s'\n", optarg);
				return 2;
			}
			break;
		case 'S':
			errno = 0;
			seed = strtoull(optarg, &end, 0);
			if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' || errno) {
				fprintf(stderr, "migdp-genimage: bad --seed '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind != argc || out == NULL || mem == 0) {
		fputs(usage, stderr);
		return 2;
	}
	if (genmem_parse_mix(mix_text, &mix, err, sizeof(err)) < 0) {
		fprintf(stderr, "migdp-genimage: --mix: %s\n", err);
		return 2;
	}
	mix.files_dir = files;
	mem = (mem + GENMEM_PAGE_SIZE - 1) / GENMEM_PAGE_SIZE * GENMEM_PAGE_SIZE;

	fd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)mem) < 0) {
		fprintf(stderr, "migdp-genimage: %s: %s\n", out, strerror(errno));
		return 1;
	}
	p = mmap(NULL, mem, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "migdp-genimage: mmap %s: %s\n", out, strerror(errno));
		return 1;
	}
	t0 = now_ms();
	ret = genmem_fill(p, mem, &mix, seed);
	fill_ms = now_ms() - t0;
	if (ret < 0) {
		fprintf(stderr, "migdp-genimage: generating from %s: %s\n",
			files ? files : "the mix", strerror(-ret));
		unlink(out);
		return 1;
	}
	genmem_digest(p, mem, digest);
	if (msync(p, mem, MS_SYNC) < 0 || munmap(p, mem) < 0 || close(fd) < 0) {
		fprintf(stderr, "migdp-genimage: writing %s: %s\n", out, strerror(errno));
		unlink(out);
		return 1;
	}
	npages = mem / GENMEM_PAGE_SIZE;
	for (i = 0; i < npages; i++)
		counts[genmem_page_kind(&mix, seed, i)]++;
	j = json_pack("{s:s, s:I, s:s, s:s?, s:I, s:s, s:f, s:{s:I, s:I, s:I, s:I}}",
		      "image", out, "guest_bytes", (json_int_t)mem,
		      "mix", mix_text, "files_dir", files,
		      "seed", (json_int_t)seed, "digest", digest, "fill_ms", fill_ms,
		      "pages", "zero", (json_int_t)counts[GENMEM_ZERO],
		      "text", (json_int_t)counts[GENMEM_TEXT],
		      "binary", (json_int_t)counts[GENMEM_BINARY],
		      "random", (json_int_t)counts[GENMEM_RANDOM]);
	json_dumpf(j, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6));
	putchar('\n');
	json_decref(j);
	return 0;
}
