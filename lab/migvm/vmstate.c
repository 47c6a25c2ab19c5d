/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vCPU state to and from a buffer, so that a VM rebuilt elsewhere from
 * (memory image + this buffer) continues where it stopped.
 *
 * Saved per vCPU, in the order they are restored: special registers
 * (segments, descriptor tables, CR0/2/3/4/8, EFER, APIC base), general
 * registers (with RIP and RFLAGS), the legacy FPU/SSE image (KVM_GET_FPU)
 * and, where KVM has it, the XSAVE area (4 KiB, KVM_GET_XSAVE) and XCR0,
 * the MSRs below, and the pending events (exception, interrupt shadow,
 * NMI). Not saved: an in-kernel LAPIC, PIT or IOAPIC (migvm creates none,
 * the guest runs with interrupts off), kvmclock (the guest does not use
 * it), nested state.
 *
 * The buffer: a header (magic, version, vCPUs, pages, flags) then one
 * struct vcpu_state per vCPU, host byte order (both ends on one machine).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "migvm_priv.h"

#define STATE_MAGIC "MIGVMST1"
#define STATE_VERSION 1u
#define HAS_XSAVE 1u
#define HAS_XCRS 2u

/* The MSRs a flat guest without a kernel needs: the TSC (its pacing clock) last,
 * so that the guest's clock restarts where it stopped. */
static const uint32_t saved_msrs[] = {
	0x174, /* IA32_SYSENTER_CS */
	0x175, /* IA32_SYSENTER_ESP */
	0x176, /* IA32_SYSENTER_EIP */
	0x277, /* IA32_PAT */
	0x1a0, /* IA32_MISC_ENABLE */
	0xc0000081, /* STAR */
	0xc0000082, /* LSTAR */
	0xc0000084, /* SFMASK */
	0xc0000102, /* KERNEL_GS_BASE */
	0x10,  /* IA32_TSC */
};
#define NMSRS (sizeof(saved_msrs) / sizeof(saved_msrs[0]))

struct state_hdr {
	char magic[8];
	uint32_t version;
	uint32_t nvcpus;
	uint64_t npages;
	uint32_t flags;
	uint32_t vcpu_size;
};

struct vcpu_state {
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_fpu fpu;
	struct kvm_xsave xsave;
	struct kvm_xcrs xcrs;
	struct kvm_vcpu_events events;
	struct kvm_msr_entry msrs[NMSRS];
};

struct msr_buf {
	struct kvm_msrs hdr;
	struct kvm_msr_entry e[NMSRS];
};

static uint32_t
state_flags(struct migvm *vm)
{
	uint32_t f = 0;

	if (ioctl(vm->kvm, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0)
		f |= HAS_XSAVE;
	if (ioctl(vm->kvm, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0)
		f |= HAS_XCRS;
	return f;
}

size_t
migvm_state_size(const struct migvm *vm)
{
	return sizeof(struct state_hdr) + vm->nvcpus * sizeof(struct vcpu_state);
}

static int
get_vcpu(struct migvm_vcpu *v, struct vcpu_state *s, uint32_t flags)
{
	struct msr_buf m;
	unsigned i;

	memset(s, 0, sizeof(*s));
	if (ioctl(v->fd, KVM_GET_SREGS, &s->sregs) < 0 ||
	    ioctl(v->fd, KVM_GET_REGS, &s->regs) < 0 ||
	    ioctl(v->fd, KVM_GET_FPU, &s->fpu) < 0 ||
	    ((flags & HAS_XSAVE) && ioctl(v->fd, KVM_GET_XSAVE, &s->xsave) < 0) ||
	    ((flags & HAS_XCRS) && ioctl(v->fd, KVM_GET_XCRS, &s->xcrs) < 0) ||
	    ioctl(v->fd, KVM_GET_VCPU_EVENTS, &s->events) < 0)
		return -errno;
	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = NMSRS;
	for (i = 0; i < NMSRS; i++)
		m.e[i].index = saved_msrs[i];
	if (ioctl(v->fd, KVM_GET_MSRS, &m) != (int)NMSRS)
		return -EIO;
	memcpy(s->msrs, m.e, sizeof(s->msrs));
	return 0;
}

static int
set_vcpu(struct migvm_vcpu *v, const struct vcpu_state *s, uint32_t flags)
{
	struct kvm_vcpu_events ev = s->events;
	struct msr_buf m;

	if (ioctl(v->fd, KVM_SET_SREGS, &s->sregs) < 0 ||
	    ioctl(v->fd, KVM_SET_REGS, &s->regs) < 0 ||
	    ioctl(v->fd, KVM_SET_FPU, &s->fpu) < 0 ||
	    ((flags & HAS_XSAVE) && ioctl(v->fd, KVM_SET_XSAVE, &s->xsave) < 0) ||
	    ((flags & HAS_XCRS) && ioctl(v->fd, KVM_SET_XCRS, &s->xcrs) < 0))
		return -errno;
	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = NMSRS;
	memcpy(m.e, s->msrs, sizeof(m.e));
	if (ioctl(v->fd, KVM_SET_MSRS, &m) != (int)NMSRS)
		return -EIO;
	ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
	if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	return 0;
}

ssize_t
migvm_capture(struct migvm *vm, void *buf, size_t len)
{
	struct state_hdr h;
	struct vcpu_state *s;
	unsigned i;
	int rc;

	if (len < migvm_state_size(vm))
		return -ENOSPC;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, STATE_MAGIC, sizeof(h.magic));
	h.version = STATE_VERSION;
	h.nvcpus = vm->nvcpus;
	h.npages = vm->npages;
	h.flags = state_flags(vm);
	h.vcpu_size = sizeof(struct vcpu_state);
	s = malloc(sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	memcpy(buf, &h, sizeof(h));
	for (i = 0; i < vm->nvcpus; i++) {
		rc = get_vcpu(&vm->vcpu[i], s, h.flags);
		if (rc < 0) {
			free(s);
			return rc;
		}
		memcpy((char *)buf + sizeof(h) + i * sizeof(*s), s, sizeof(*s));
	}
	free(s);
	return (ssize_t)migvm_state_size(vm);
}

int
migvm_restore(struct migvm *vm, const void *buf, size_t len)
{
	struct state_hdr h;
	struct vcpu_state *s;
	unsigned i;
	int rc = 0;

	if (len < sizeof(h))
		return -EINVAL;
	memcpy(&h, buf, sizeof(h));
	if (memcmp(h.magic, STATE_MAGIC, sizeof(h.magic)) != 0 ||
	    h.version != STATE_VERSION || h.nvcpus != vm->nvcpus ||
	    h.npages != vm->npages || h.vcpu_size != sizeof(struct vcpu_state) ||
	    (h.flags & ~state_flags(vm)) != 0 || len < migvm_state_size(vm))
		return -EINVAL;
	s = malloc(sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	for (i = 0; i < vm->nvcpus && rc == 0; i++) {
		memcpy(s, (const char *)buf + sizeof(h) + i * sizeof(*s), sizeof(*s));
		rc = set_vcpu(&vm->vcpu[i], s, h.flags);
	}
	free(s);
	return rc;
}
