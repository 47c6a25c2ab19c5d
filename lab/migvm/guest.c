/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The migvm guest: a freestanding x86-64 program (no libc, no interrupts)
 * that writes pages of its memory at the rate migvm asked for, keeps a
 * generation per page, and verifies every page it wrote every
 * verify_every writes. It talks to migvm only through the parameter block
 * and OUT to the ports of guest_abi.h.
 */
#include <stdint.h>

#include "guest_abi.h"

#define WORDS (MIGVM_PAGE_SIZE / 4)

static volatile struct migvm_params *const prm =
	(volatile struct migvm_params *)(uintptr_t)MIGVM_PARAMS_GPA;

static inline void
outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void
outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint64_t
rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static void
puts_port(const char *s)
{
	while (*s != '\0')
		outb(MIGVM_PORT_CONSOLE, (uint8_t)*s++);
}

static uint32_t
xorshift32(uint32_t *x)
{
	uint32_t v = *x;

	v ^= v << 13;
	v ^= v >> 17;
	v ^= v << 5;
	*x = v;
	return v;
}

/* The stream's seed for (page, gen): never 0 (xorshift32's fixed point). */
static uint32_t
page_seed(uint32_t page, uint32_t gen, uint32_t seed)
{
	uint32_t x = page * 0x9e3779b1u ^ gen * 0x85ebca77u ^ seed * 0xc2b2ae3du;

	x ^= x >> 15;
	x *= 0x2c1b3c6du;
	x ^= x >> 12;
	return x != 0 ? x : 0x6d2b79f5u;
}

static void
fill_page(uint32_t *w, uint32_t page, uint32_t gen, uint32_t seed)
{
	uint32_t x = page_seed(page, gen, seed);
	unsigned i;

	w[0] = page;
	w[1] = gen;
	for (i = 2; i < WORDS; i++)
		w[i] = xorshift32(&x);
}

/* @return WORDS when the page is right, else its first wrong word. */
static unsigned
check_page(const uint32_t *w, uint32_t page, uint32_t gen, uint32_t seed)
{
	uint32_t x = page_seed(page, gen, seed);
	unsigned i;

	if (w[0] != page)
		return 0;
	if (w[1] != gen)
		return 1;
	for (i = 2; i < WORDS; i++)
		if (w[i] != xorshift32(&x))
			return i;
	return WORDS;
}

static void
verify_all(uint32_t *gentab, uint32_t first, uint32_t npages, uint32_t seed)
{
	uint64_t checked = 0;
	uint32_t p;

	for (p = first; p < npages; p++) {
		uint32_t g = gentab[p];
		unsigned bad;

		if (g == 0)
			continue;
		checked++;
		bad = check_page((const uint32_t *)(uintptr_t)(p * MIGVM_PAGE_SIZE), p, g, seed);
		if (bad == WORDS)
			continue;
		prm->mismatches++;
		prm->bad_page = p;
		prm->bad_gen = g;
		prm->bad_word = bad;
		outl(MIGVM_PORT_EVENT, MIGVM_EV_MISMATCH);
	}
	prm->pages_verified += checked;
	prm->verify_passes++;
	outl(MIGVM_PORT_EVENT, MIGVM_EV_VERIFY);
}

/* Wait until the next write is due (rate pacing on the TSC). */
static void
pace(uint64_t *next, uint64_t per, uint64_t slack, uint64_t min_idle)
{
	uint64_t now = rdtsc();

	while (now < *next) {
		uint64_t ahead = *next - now;

		if (ahead >= min_idle)
			outl(MIGVM_PORT_IDLE,
			     ahead > 0xffffffffu ? 0xffffffffu : (uint32_t)ahead);
		else
			__asm__ volatile("pause");
		now = rdtsc();
	}
	/* After a stop (a pause, a migration) do not race to catch up. */
	if (now - *next > slack)
		*next = now;
	*next += per;
}

void guest_main(void);

void
guest_main(void)
{
	uint32_t npages = prm->npages, first = prm->first_page;
	uint32_t hot = prm->hot_pages, hot_pct = prm->hot_pct, seed = prm->seed;
	uint32_t verify_every = prm->verify_every, report_every = prm->report_every;
	uint64_t per = prm->tsc_per_write, slack = prm->tsc_slack;
	uint64_t min_idle = prm->tsc_min_idle, next;
	uint32_t *gentab = (uint32_t *)(uintptr_t)prm->gentab_gpa;
	uint32_t rng = seed | 1u, since_verify = 0, since_report = 0;
	uint32_t span;

	if (prm->magic != MIGVM_PARAMS_MAGIC ||
	    prm->version != MIGVM_PARAMS_VERSION || first >= npages ||
	    (uintptr_t)(gentab + npages) > (uintptr_t)first * MIGVM_PAGE_SIZE ||
	    hot > npages - first || hot_pct > 100) {
		puts_port("migvm guest: bad parameters\n");
		prm->state = 2;
		outl(MIGVM_PORT_EVENT, MIGVM_EV_BADPARAM);
		return;
	}
	span = npages - first;
	if (hot == 0)
		hot = span;
	prm->state = 1;
	puts_port("migvm guest: running\n");
	outl(MIGVM_PORT_EVENT, MIGVM_EV_START);
	next = rdtsc();
	for (;;) {
		uint32_t p, g;

		per = prm->tsc_per_write; /* the host may slow us (throttle) */
		if (per != 0)
			pace(&next, per, slack, min_idle);
		if (xorshift32(&rng) % 100 < hot_pct)
			p = first + xorshift32(&rng) % hot;
		else
			p = first + xorshift32(&rng) % span;
		g = gentab[p] + 1;
		if (g == 0)
			g = 1;
		gentab[p] = g;
		fill_page((uint32_t *)(uintptr_t)(p * MIGVM_PAGE_SIZE), p, g, seed);
		prm->writes++;
		if (report_every != 0 && ++since_report >= report_every) {
			since_report = 0;
			outl(MIGVM_PORT_EVENT, MIGVM_EV_PROGRESS);
		}
		if (verify_every != 0 && ++since_verify >= verify_every) {
			since_verify = 0;
			verify_all(gentab, first, npages, seed);
		}
	}
}
