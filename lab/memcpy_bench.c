/* SPDX-License-Identifier: BSD-3-Clause */
/* Single-core memcpy bandwidth, the yardstick of the transfer benchmark:
 * copies a prefaulted buffer (hugepages when reserved) several times and
 * prints JSON. Usage: migdp-memcpy-bench [--mib N] [--rounds N] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *
area(size_t len, int *huge)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);

	*huge = p != MAP_FAILED;
	if (p == MAP_FAILED)
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"mib", required_argument, NULL, 'm'},
		{"rounds", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	size_t mib = 256, len;
	unsigned rounds = 5, i;
	double best = 0, t;
	int c, h1, h2;
	char *src, *dst;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'm')
			mib = strtoul(optarg, NULL, 0);
		else if (c == 'r')
			rounds = (unsigned)strtoul(optarg, NULL, 0);
		else
			return 2;
	}
	len = mib << 20;
	src = area(len, &h1);
	dst = area(len, &h2);
	if (src == NULL || dst == NULL || rounds == 0) {
		fprintf(stderr, "memcpy-bench: cannot map 2 x %zu MiB\n", mib);
		return 1;
	}
	memset(src, 0x5a, len);
	memset(dst, 0, len);
	for (i = 0; i < rounds; i++) { /* best of N: least disturbed by others */
		t = now_s();
		memcpy(dst, src, len);
		t = now_s() - t;
		if (len / t > best)
			best = (double)len / t;
		src[i] ^= dst[len - 1 - i]; /* keep the copy observable */
	}
	printf("{\"benchmark\":\"memcpy\",\"mib\":%zu,\"rounds\":%u,\"hugepages\":%s,"
	       "\"bytes_per_sec\":%.0f,\"gbps\":%.2f}\n", mib, rounds,
	       h1 && h2 ? "true" : "false", best, best * 8 / 1e9);
	return 0;
}
