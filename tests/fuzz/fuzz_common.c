/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "codec/codec.h"
#include "fuzz_common.h"

#define DICT_PAGES 128u

struct migdp_flow
fuzz_flow(uint16_t mtu)
{
	struct migdp_flow fl = {
		.src_mac = {{0x02, 0, 0, 0, 0, 1}},
		.dst_mac = {{0x02, 0, 0, 0, 0, 2}},
		.src_ip = FUZZ_SRC_IP, .dst_ip = FUZZ_DST_IP,
		.src_port = FUZZ_SRC_PORT, .dst_port = FUZZ_DST_PORT,
		.channel = 0, .mtu = mtu, .session = FUZZ_SESSION,
	};

	return fl;
}

struct migdp_local
fuzz_local(void)
{
	struct migdp_local loc = {.ip = FUZZ_DST_IP, .port = FUZZ_DST_PORT};

	return loc;
}

void
fuzz_page(uint8_t *page, uint32_t seed)
{
	static const char *const words[] = {
		"migdp ", "guest ", "page ", "dirty ", "round ", "frame ", "zstd ",
		"channel ", "commit ", "0x1000 ", "\n", "\t", "kernel ", "memory ",
		"the ", "of ",
	};
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	size_t off = 0, n;

	while (off < MIGDP_PAGE_SIZE) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = strlen(words[x % RTE_DIM(words)]);
		n = RTE_MIN(n, MIGDP_PAGE_SIZE - off);
		memcpy(page + off, words[x % RTE_DIM(words)], n);
		off += n;
	}
}

struct migdp_codec_dict *
fuzz_dict(void)
{
	struct migdp_dict_params p = {.samples = DICT_PAGES, .dict_size = 4096};
	struct migdp_codec_dict *d;
	struct iovec mem;
	uint8_t *pages;
	uint32_t i;

	pages = malloc((size_t)DICT_PAGES * MIGDP_PAGE_SIZE);
	if (pages == NULL)
		return NULL;
	for (i = 0; i < DICT_PAGES; i++)
		fuzz_page(pages + (size_t)i * MIGDP_PAGE_SIZE, 1000 + i);
	mem = (struct iovec){.iov_base = pages,
			     .iov_len = (size_t)DICT_PAGES * MIGDP_PAGE_SIZE};
	d = migdp_dict_train(&mem, 1, &p);
	free(pages);
	if (d != NULL && migdp_dict_prepare(d, MIGDP_CODEC_DEFAULT_LEVEL) < 0) {
		migdp_dict_free(d);
		d = NULL;
	}
	return d;
}

void *
fuzz_guarded_alloc(size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *p;

	len = (len + pg - 1) & ~(pg - 1);
	p = mmap(NULL, len + 2 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (mprotect(p + pg, len, PROT_READ | PROT_WRITE) < 0) {
		munmap(p, len + 2 * pg);
		return NULL;
	}
	return p + pg;
}
