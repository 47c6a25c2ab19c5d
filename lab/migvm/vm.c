/* SPDX-License-Identifier: BSD-3-Clause */
/* The VM: guest RAM in a sealed memfd registered with KVM's dirty log, the
 * guest program and its parameter block, the dirty-log harvest. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "migvm_priv.h"

#define TSS_GPA 0xfffbd000ull /* three pages KVM needs, outside RAM */
#define MEM_MIN (2ull << 20)
#define MEM_MAX (2ull << 30)  /* the guest's identity map, below TSS_GPA */

static void
kick_handler(int sig)
{
	(void)sig; /* only there to interrupt KVM_RUN with EINTR */
}

static int
install_kick(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	return sigaction(MIGVM_KICK_SIGNAL, &sa, NULL);
}

static int
new_memfd(uint64_t bytes)
{
	int fd = memfd_create("migvm-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)bytes) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int
open_kvm(struct migvm *vm)
{
	struct kvm_userspace_memory_region r;

	vm->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm < 0)
		return -1;
	if (ioctl(vm->kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		errno = ENOTSUP;
		return -1;
	}
	vm->vmfd = ioctl(vm->kvm, KVM_CREATE_VM, 0);
	if (vm->vmfd < 0)
		return -1;
	if (ioctl(vm->vmfd, KVM_SET_TSS_ADDR, TSS_GPA) < 0)
		return -1;
	memset(&r, 0, sizeof(r));
	r.slot = 0;
	r.flags = KVM_MEM_LOG_DIRTY_PAGES;
	r.guest_phys_addr = 0;
	r.memory_size = vm->mem_bytes;
	r.userspace_addr = (uintptr_t)vm->mem;
	return ioctl(vm->vmfd, KVM_SET_USER_MEMORY_REGION, &r);
}

struct migvm *
migvm_create(uint64_t mem_bytes, unsigned nvcpus, int memfd, int quiet)
{
	struct migvm *vm;
	unsigned i;
	int e;

	if (mem_bytes < MEM_MIN || mem_bytes > MEM_MAX ||
	    mem_bytes % MIGVM_PAGE_SIZE != 0 || nvcpus == 0 ||
	    nvcpus > MIGVM_MAX_VCPUS) {
		errno = EINVAL;
		return NULL;
	}
	if (install_kick() < 0)
		return NULL;
	vm = calloc(1, sizeof(*vm));
	if (vm == NULL)
		return NULL;
	vm->kvm = vm->vmfd = -1;
	vm->mem = MAP_FAILED;
	vm->mem_bytes = mem_bytes;
	vm->npages = mem_bytes / MIGVM_PAGE_SIZE;
	vm->nvcpus = 0;
	vm->quiet = quiet != 0;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	vm->memfd = memfd >= 0 ? memfd : new_memfd(mem_bytes);
	if (vm->memfd < 0)
		goto err;
	vm->mem = mmap(NULL, mem_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
		       vm->memfd, 0);
	if (vm->mem == MAP_FAILED || open_kvm(vm) < 0)
		goto err;
	for (i = 0; i < nvcpus; i++) {
		if (migvm_vcpu_init(vm, i) < 0) {
			e = errno;
			migvm_vcpu_fini(&vm->vcpu[i]);
			errno = e;
			goto err;
		}
		vm->nvcpus++;
	}
	return vm;
err:
	e = errno;
	migvm_destroy(vm);
	errno = e;
	return NULL;
}

/* The GDT and the page tables (PML4, PDPT, two PDs at MIGVM_PT_GPA). */
static void
write_gdt(struct migvm *vm)
{
	/* null, 64-bit code (DPL 3, execute/read), flat data (DPL 3, read/write) */
	static const uint64_t gdt[3] = {0, 0x00affa000000ffffull,
					0x00cff2000000ffffull};

	uint64_t *pml4 = (uint64_t *)(vm->mem + MIGVM_PT_GPA);
	uint64_t *pdpt = pml4 + 512, *pd = pml4 + 1024;
	unsigned i;

	memcpy(vm->mem + MIGVM_GDT_GPA, gdt, sizeof(gdt));
	/* Identity map of the first 2 GiB in 2 MiB pages (present, writable). */
	memset(pml4, 0, 4 * MIGVM_PAGE_SIZE);
	pml4[0] = (MIGVM_PT_GPA + MIGVM_PAGE_SIZE) | 7;
	pdpt[0] = (MIGVM_PT_GPA + 2 * MIGVM_PAGE_SIZE) | 7;
	pdpt[1] = (MIGVM_PT_GPA + 3 * MIGVM_PAGE_SIZE) | 7;
	for (i = 0; i < 1024; i++)
		pd[i] = ((uint64_t)i << 21) | 0x87;
}

static void
flat_segment(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->dpl = 3;
	s->db = 1;
	s->s = 1;
	s->g = 1;
}

/* A vCPU at the guest's entry: 64-bit mode at CPL 3, IOPL 3, flat
 * segments, the identity map of write_gdt(), interrupts off (guest_abi.h
 * says why CPL 3). */
static int
set_entry_state(struct migvm_vcpu *v)
{
	struct kvm_sregs sr;
	struct kvm_regs r;

	if (ioctl(v->fd, KVM_GET_SREGS, &sr) < 0)
		return -errno;
	flat_segment(&sr.cs, MIGVM_SEL_CODE | 3, 11);
	sr.cs.db = 0;
	sr.cs.l = 1;
	flat_segment(&sr.ds, MIGVM_SEL_DATA | 3, 3);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	sr.gdt.base = MIGVM_GDT_GPA;
	sr.gdt.limit = 3 * 8 - 1;
	sr.idt.base = 0;
	sr.idt.limit = 0;
	sr.cr3 = MIGVM_PT_GPA;
	sr.cr4 = 0x20;         /* PAE */
	sr.cr0 = 0x80000011u;  /* PG, PE, ET */
	sr.efer = 0x500;       /* LME, LMA */
	if (ioctl(v->fd, KVM_SET_SREGS, &sr) < 0)
		return -errno;
	memset(&r, 0, sizeof(r));
	r.rip = MIGVM_IMAGE_GPA;
	r.rsp = MIGVM_STACK_TOP;
	r.rflags = 0x3002; /* IOPL 3: OUT from CPL 3 */
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		return -errno;
	return 0;
}

int
migvm_load_guest(struct migvm *vm, const struct migvm_workload *w)
{
	volatile struct migvm_params *p = migvm_params(vm);
	uint64_t first = (MIGVM_GENTAB_GPA + vm->npages * 4 +
			  MIGVM_PAGE_SIZE - 1) / MIGVM_PAGE_SIZE;
	uint64_t tsc_hz = (uint64_t)vm->tsc_khz * 1000;
	unsigned i;
	int rc;

	if (migvm_guest_image_size > MIGVM_IMAGE_MAX || first + 1 > vm->npages ||
	    w->hot_pages > vm->npages - first || w->hot_pct > 100)
		return -EINVAL;
	memcpy(vm->mem + MIGVM_IMAGE_GPA, migvm_guest_image,
	       migvm_guest_image_size);
	write_gdt(vm);
	memset((void *)p, 0, sizeof(*p));
	p->magic = MIGVM_PARAMS_MAGIC;
	p->version = MIGVM_PARAMS_VERSION;
	p->npages = (uint32_t)vm->npages;
	p->first_page = (uint32_t)first;
	p->gentab_gpa = MIGVM_GENTAB_GPA;
	p->hot_pages = w->hot_pages;
	p->hot_pct = w->hot_pages != 0 ? w->hot_pct : 100;
	p->seed = w->seed;
	p->verify_every = w->verify_every;
	p->report_every = w->report_every;
	p->tsc_per_write = w->rate != 0 ? tsc_hz / w->rate : 0;
	p->tsc_slack = tsc_hz / 100;       /* 10 ms */
	p->tsc_min_idle = tsc_hz / 20000;  /* 50 us */
	for (i = 0; i < vm->nvcpus; i++) {
		rc = set_entry_state(&vm->vcpu[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int64_t
migvm_harvest(struct migvm *vm, uint64_t *bm)
{
	struct kvm_dirty_log log;
	uint64_t i, n = 0, words = (vm->npages + 63) / 64;

	memset(&log, 0, sizeof(log));
	log.slot = 0;
	log.dirty_bitmap = bm;
	if (ioctl(vm->vmfd, KVM_GET_DIRTY_LOG, &log) < 0)
		return -errno;
	for (i = 0; i < words; i++)
		n += (uint64_t)__builtin_popcountll(bm[i]);
	return (int64_t)n;
}

void
migvm_counters(struct migvm *vm, struct migvm_counters *c)
{
	volatile struct migvm_params *p = migvm_params(vm);

	memset(c, 0, sizeof(*c));
	c->writes = p->writes;
	c->verify_passes = p->verify_passes;
	c->pages_verified = p->pages_verified;
	c->mismatches = p->mismatches;
	c->bad_page = p->bad_page;
	c->state = p->state;
	c->exits = atomic_load(&vm->exits);
	c->idle_ns = atomic_load(&vm->idle_ns);
	c->failed = atomic_load(&vm->failed);
}

uint8_t *
migvm_mem(struct migvm *vm)
{
	return vm->mem;
}

uint64_t
migvm_npages(const struct migvm *vm)
{
	return vm->npages;
}

int
migvm_memfd(const struct migvm *vm)
{
	return vm->memfd;
}

void
migvm_destroy(struct migvm *vm)
{
	unsigned i;

	if (vm == NULL)
		return;
	migvm_vcpus_stop(vm);
	for (i = 0; i < vm->nvcpus; i++)
		migvm_vcpu_fini(&vm->vcpu[i]);
	if (vm->vmfd >= 0)
		close(vm->vmfd);
	if (vm->kvm >= 0)
		close(vm->kvm);
	if (vm->mem != MAP_FAILED)
		munmap(vm->mem, vm->mem_bytes);
	if (vm->memfd >= 0)
		close(vm->memfd);
	pthread_cond_destroy(&vm->cond);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}
