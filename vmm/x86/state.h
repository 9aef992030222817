/*
 * What KVM holds of an x86 VM, as plain data for snapshots: each vCPU's
 * registers, FPU/XSAVE, XCRs, debug registers, local APIC, MSRs, pending
 * events, MP state, CPUID and TSC frequency; the VM's PIC pair, I/O APIC,
 * PIT and kvmclock. Get while every vCPU is parked (out of KVM_RUN); set
 * on fresh vCPUs before they first run.
 */
#ifndef WISP_X86_STATE_H
#define WISP_X86_STATE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct vcpu;

#define X86_STATE_MAX_MSRS  256
#define X86_STATE_MAX_CPUID 128

struct x86_vcpu_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xsave xsave; /* 4 KiB legacy area + XSAVE header */
	struct kvm_fpu fpu;     /* when the host has no XSAVE */
	struct kvm_xcrs xcrs;
	struct kvm_debugregs debugregs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp_state;
	uint32_t tsc_khz;
	uint32_t has_xsave, has_xcrs;
	uint32_t nmsrs;
	struct kvm_msr_entry msrs[X86_STATE_MAX_MSRS];
	uint32_t ncpuid;
	struct kvm_cpuid_entry2 cpuid[X86_STATE_MAX_CPUID];
};

struct x86_vm_state {
	struct kvm_irqchip pic_master, pic_slave, ioapic;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
};

/* Read vCPU @v's state (it must not be in KVM_RUN). 0 or -1 (logged). */
int x86_vcpu_save(struct vcpu *v, struct x86_vcpu_state *s);
/* The counts of @s within its arrays (a state file is untrusted). */
bool x86_vcpu_state_ok(const struct x86_vcpu_state *s);
/* Give a fresh vCPU @v the state @s, in the order KVM needs; -1 for a
 * state that is not x86_vcpu_state_ok(). */
int x86_vcpu_restore(struct vcpu *v, const struct x86_vcpu_state *s);

int x86_vm_save(struct vm *vm, struct x86_vm_state *s);
/* @realtime: kvmclock advanced by the wall-clock time since the save
 * (KVM_CLOCK_REALTIME; the caller checked that @s holds it). */
int x86_vm_restore(struct vm *vm, const struct x86_vm_state *s, bool realtime);

/*
 * Can this host run a vCPU with the CPUID of @s? Every feature bit the
 * snapshot's guest was shown (leaf 1 and 7 registers, extended leaf
 * 0x80000001) must be one this host gives a guest of wisp's (read back
 * from @v, a fresh vCPU, after setting wisp's table). Returns 0, or -1
 * with the first missing leaf and bits in @err.
 */
int x86_cpuid_compatible(struct vcpu *v, const struct x86_vcpu_state *s,
                         char *err, size_t errlen);

#endif
