#include "state.h"
#include "log.h"
#include "util.h"
#include "vm.h"
#include "x86.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

/* The MSRs KVM can save and restore on this host (KVM_GET_MSR_INDEX_LIST). */
static int msr_list(struct vm *vm, uint32_t *idx, uint32_t *n)
{
	struct {
		struct kvm_msr_list l;
		uint32_t idx[X86_STATE_MAX_MSRS];
	} buf = { .l.nmsrs = X86_STATE_MAX_MSRS };

	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &buf) < 0) {
		log_err("KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
		return -1;
	}
	*n = buf.l.nmsrs;
	memcpy(idx, buf.idx, *n * sizeof(idx[0]));
	return 0;
}

/*
 * Read every listed MSR. KVM_GET_MSRS stops at the first it cannot read
 * (the list names MSRs of features this guest was not given): skip that
 * one and read on, keeping the ones that were read.
 */
static int save_msrs(struct vcpu *v, struct x86_vcpu_state *s)
{
	uint32_t idx[X86_STATE_MAX_MSRS], n, done = 0;
	struct {
		struct kvm_msrs m;
		struct kvm_msr_entry e[X86_STATE_MAX_MSRS];
	} buf;

	if (msr_list(v->vm, idx, &n) < 0)
		return -1;
	s->nmsrs = 0;
	while (done < n) {
		int got;

		memset(&buf, 0, sizeof(buf));
		buf.m.nmsrs = n - done;
		for (uint32_t i = 0; i < buf.m.nmsrs; i++)
			buf.e[i].index = idx[done + i];
		got = ioctl(v->fd, KVM_GET_MSRS, &buf);
		if (got < 0) {
			log_err("vcpu %u: KVM_GET_MSRS: %s", v->id,
			        strerror(errno));
			return -1;
		}
		memcpy(&s->msrs[s->nmsrs], buf.e,
		       (size_t)got * sizeof(buf.e[0]));
		s->nmsrs += (uint32_t)got;
		done += (uint32_t)got + 1; /* the one after: unreadable */
	}
	return 0;
}

/* One KVM_GET_* or KVM_SET_* ioctl for vCPU @v: logs and returns -1 if it
 * fails. */
#define VCPU_IOCTL(fd, req, p)                                                 \
	do {                                                                   \
		if (ioctl(fd, req, p) < 0) {                                   \
			log_err("vcpu %u: %s: %s", v->id, #req,                \
			        strerror(errno));                              \
			return -1;                                             \
		}                                                              \
	} while (0)

int x86_vcpu_save(struct vcpu *v, struct x86_vcpu_state *s)
{
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[X86_STATE_MAX_CPUID];
	} cpuid = { .c.nent = X86_STATE_MAX_CPUID };
	int khz;

	memset(s, 0, sizeof(*s));
	VCPU_IOCTL(v->fd, KVM_GET_REGS, &s->regs);
	VCPU_IOCTL(v->fd, KVM_GET_SREGS, &s->sregs);
	s->has_xsave =
	        ioctl(v->vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0;
	if (s->has_xsave)
		VCPU_IOCTL(v->fd, KVM_GET_XSAVE, &s->xsave);
	else
		VCPU_IOCTL(v->fd, KVM_GET_FPU, &s->fpu);
	s->has_xcrs =
	        ioctl(v->vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0;
	if (s->has_xcrs)
		VCPU_IOCTL(v->fd, KVM_GET_XCRS, &s->xcrs);
	VCPU_IOCTL(v->fd, KVM_GET_DEBUGREGS, &s->debugregs);
	VCPU_IOCTL(v->fd, KVM_GET_LAPIC, &s->lapic);
	VCPU_IOCTL(v->fd, KVM_GET_VCPU_EVENTS, &s->events);
	VCPU_IOCTL(v->fd, KVM_GET_MP_STATE, &s->mp_state);
	VCPU_IOCTL(v->fd, KVM_GET_CPUID2, &cpuid);
	s->ncpuid = cpuid.c.nent;
	memcpy(s->cpuid, cpuid.e, s->ncpuid * sizeof(s->cpuid[0]));
	khz = ioctl(v->fd, KVM_GET_TSC_KHZ);
	s->tsc_khz = khz > 0 ? (uint32_t)khz : 0;
	return save_msrs(v, s);
}

int x86_vcpu_restore(struct vcpu *v, const struct x86_vcpu_state *s)
{
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[X86_STATE_MAX_CPUID];
	} cpuid;
	struct {
		struct kvm_msrs m;
		struct kvm_msr_entry e[X86_STATE_MAX_MSRS];
	} msrs;
	int ret;

	if (!x86_vcpu_state_ok(s))
		return -1;
	memset(&cpuid, 0, sizeof(cpuid));
	cpuid.c.nent = s->ncpuid;
	memcpy(cpuid.e, s->cpuid, s->ncpuid * sizeof(s->cpuid[0]));
	/* CPUID first: it decides which MSRs and XSAVE state exist. */
	VCPU_IOCTL(v->fd, KVM_SET_CPUID2, &cpuid);
	/* The guest's TSC runs at the rate it booted with, where KVM can. */
	if (s->tsc_khz && ioctl(v->fd, KVM_GET_TSC_KHZ) != (int)s->tsc_khz &&
	    ioctl(v->fd, KVM_SET_TSC_KHZ, s->tsc_khz) < 0)
		log_warn("vcpu %u: cannot set the TSC to %u kHz: %s", v->id,
		         s->tsc_khz, strerror(errno));
	VCPU_IOCTL(v->fd, KVM_SET_MP_STATE, &s->mp_state);
	VCPU_IOCTL(v->fd, KVM_SET_REGS, &s->regs);
	VCPU_IOCTL(v->fd, KVM_SET_SREGS, &s->sregs);
	if (s->has_xsave)
		VCPU_IOCTL(v->fd, KVM_SET_XSAVE, &s->xsave);
	else
		VCPU_IOCTL(v->fd, KVM_SET_FPU, &s->fpu);
	if (s->has_xcrs)
		VCPU_IOCTL(v->fd, KVM_SET_XCRS, &s->xcrs);
	VCPU_IOCTL(v->fd, KVM_SET_DEBUGREGS, &s->debugregs);
	VCPU_IOCTL(v->fd, KVM_SET_LAPIC, &s->lapic);
	memset(&msrs, 0, sizeof(msrs));
	msrs.m.nmsrs = s->nmsrs;
	memcpy(msrs.e, s->msrs, s->nmsrs * sizeof(s->msrs[0]));
	ret = ioctl(v->fd, KVM_SET_MSRS, &msrs);
	if (ret != (int)s->nmsrs) {
		log_err("vcpu %u: KVM_SET_MSRS stopped at %d of %u (MSR 0x%x)",
		        v->id, ret, s->nmsrs,
		        ret >= 0 && ret < (int)s->nmsrs ? s->msrs[ret].index
		                                        : 0);
		return -1;
	}
	VCPU_IOCTL(v->fd, KVM_SET_VCPU_EVENTS, &s->events);
	return 0;
}

int x86_vm_save(struct vm *vm, struct x86_vm_state *s)
{
	memset(s, 0, sizeof(*s));
	s->pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
	s->pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	s->ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &s->pic_master) < 0 ||
	    ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &s->pic_slave) < 0 ||
	    ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &s->ioapic) < 0 ||
	    ioctl(vm->vm_fd, KVM_GET_PIT2, &s->pit) < 0 ||
	    ioctl(vm->vm_fd, KVM_GET_CLOCK, &s->clock) < 0) {
		log_err("VM state: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int x86_vm_restore(struct vm *vm, const struct x86_vm_state *s, bool realtime)
{
	struct kvm_clock_data clock = { .clock = s->clock.clock };

	if (realtime) {
		clock.flags = KVM_CLOCK_REALTIME;
		clock.realtime = s->clock.realtime;
	}

	if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &s->pic_master) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &s->pic_slave) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &s->ioapic) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_PIT2, &s->pit) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock) < 0) {
		log_err("VM state restore: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* The registers of CPUID @leaf/@index in @e[0..n), or NULL. */
static const struct kvm_cpuid_entry2 *
leaf(const struct kvm_cpuid_entry2 *e, uint32_t n, uint32_t fn, uint32_t index)
{
	for (uint32_t i = 0; i < n; i++)
		if (e[i].function == fn && e[i].index == index)
			return &e[i];
	return NULL;
}

bool x86_vcpu_state_ok(const struct x86_vcpu_state *s)
{
	return s->ncpuid <= X86_STATE_MAX_CPUID &&
	       s->nmsrs <= X86_STATE_MAX_MSRS;
}

int x86_cpuid_compatible(struct vcpu *v, const struct x86_vcpu_state *s,
                         char *err, size_t errlen)
{
	static const struct {
		uint32_t fn, index;
	} feature_leaves[] = { { 1, 0 }, { 7, 0 }, { 0x80000001, 0 } };
	static const char *const names[] = { "ecx", "edx", "ebx" };

	if (!x86_vcpu_state_ok(s)) {
		snprintf(err, errlen,
		         "%u CPUID leaves and %u MSRs, at most %d and %d",
		         s->ncpuid, s->nmsrs, X86_STATE_MAX_CPUID,
		         X86_STATE_MAX_MSRS);
		return -1;
	}
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[X86_STATE_MAX_CPUID];
	} host = { .c.nent = X86_STATE_MAX_CPUID };

	/*
	 * What this host gives a guest is what KVM reports after it took our
	 * table: on kvm-pvm that is the real CPU's features, not those of
	 * KVM_GET_SUPPORTED_CPUID. The snapshot's own CPUID is set
	 * over it by x86_vcpu_restore().
	 */
	if (x86_cpuid_set(v) < 0 || ioctl(v->fd, KVM_GET_CPUID2, &host) < 0) {
		snprintf(err, errlen, "cannot read this host's CPUID: %s",
		         strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(feature_leaves); i++) {
		const struct kvm_cpuid_entry2 *g =
		        leaf(s->cpuid, s->ncpuid, feature_leaves[i].fn,
		             feature_leaves[i].index);
		const struct kvm_cpuid_entry2 *h =
		        leaf(host.e, host.c.nent, feature_leaves[i].fn,
		             feature_leaves[i].index);
		/* Leaf 1 EBX holds the APIC id and counts, not features. */
		uint32_t gr[3] = { g ? g->ecx : 0, g ? g->edx : 0,
			           g && feature_leaves[i].fn == 7 ? g->ebx
			                                          : 0 };
		uint32_t hr[3] = { h ? h->ecx : 0, h ? h->edx : 0,
			           h && feature_leaves[i].fn == 7 ? h->ebx
			                                          : 0 };

		for (int r = 0; r < 3; r++) {
			uint32_t missing = gr[r] & ~hr[r];

			/* Leaf 1 ECX bit 27 (OSXSAVE) follows the guest's CR4.
			 */
			if (feature_leaves[i].fn == 1 && r == 0)
				missing &= ~(1u << 27);
			if (missing) {
				snprintf(err, errlen,
				         "the snapshot's guest uses CPU "
				         "features "
				         "this host does not offer (CPUID 0x%x "
				         "%s bits 0x%08x)",
				         feature_leaves[i].fn, names[r],
				         missing);
				return -1;
			}
		}
	}
	return 0;
}
