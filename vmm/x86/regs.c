/*
 * vCPU state at reset: MSRs, FPU, local APIC wiring and, for the boot
 * vCPU, the registers and segments that enter the kernel.
 */
#include "x86.h"
#include "../log.h"
#include "../util.h"
#include "../vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

/* GDT slots; selectors are slot * 8. */
#define GDT_CODE 1
#define GDT_DATA 2
#define GDT_TSS  3

/* Flat descriptors: base 0, limit 4 GiB (or the 104-byte TSS). */
#define DESC_CODE64 0x00af9b000000ffffULL
#define DESC_CODE32 0x00cf9b000000ffffULL
#define DESC_DATA   0x00cf93000000ffffULL
#define DESC_TSS    0x00008b0000000067ULL

#define CR0_PE   (1ULL << 0)
#define CR0_ET   (1ULL << 4)
#define CR0_PG   (1ULL << 31)
#define CR4_PAE  (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define APIC_LVT_LINT0   0x350
#define APIC_LVT_LINT1   0x360
#define APIC_MODE_NMI    0x4
#define APIC_MODE_EXTINT 0x7

void x86_gdt_write(uint8_t *p, enum kernel_kind kind)
{
	uint64_t gdt[4] = {
		0,
		kind == KERNEL_ELF_PVH ? DESC_CODE32 : DESC_CODE64,
		DESC_DATA,
		DESC_TSS,
	};

	memcpy(p, gdt, sizeof(gdt));
}

/* The hidden part of a segment register, as loading @d would set it. */
static struct kvm_segment seg_from_desc(uint64_t d, uint16_t sel)
{
	uint64_t limit = (d & 0xffff) | ((d >> 32) & 0xf0000);
	unsigned access = (d >> 40) & 0xff, flags = (d >> 52) & 0xf;
	struct kvm_segment s = {
		.base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000),
		.selector = sel,
		.type = access & 0xf,
		.present = (access >> 7) & 1,
		.dpl = (access >> 5) & 3,
		.s = (access >> 4) & 1,
		.avl = flags & 1,
		.l = (flags >> 1) & 1,
		.db = (flags >> 2) & 1,
		.g = (flags >> 3) & 1,
	};

	s.limit = (uint32_t)(s.g ? (limit << 12) | 0xfff : limit);
	s.unusable = !s.present;
	return s;
}

static int set_msrs(struct vcpu *v)
{
	static const struct {
		uint32_t index;
		uint64_t value;
	} boot_msrs[] = {
		{ 0x174, 0 },      /* IA32_SYSENTER_CS */
		{ 0x175, 0 },      /* IA32_SYSENTER_ESP */
		{ 0x176, 0 },      /* IA32_SYSENTER_EIP */
		{ 0xc0000081, 0 }, /* STAR */
		{ 0xc0000082, 0 }, /* LSTAR */
		{ 0xc0000083, 0 }, /* CSTAR */
		{ 0xc0000084, 0 }, /* SYSCALL_MASK */
		{ 0xc0000102, 0 }, /* KERNEL_GS_BASE */
		{ 0x10, 0 },       /* TSC */
		{ 0x1a0, 1 },      /* MISC_ENABLE: fast strings */
		{ 0x2ff,
		  (1 << 11) | 6 }, /* MTRR default: enabled, write-back */
	};
	size_t n = ARRAY_SIZE(boot_msrs);
	struct kvm_msrs *m = calloc(1, sizeof(*m) + n * sizeof(m->entries[0]));
	int ret;

	if (!m)
		return -1;
	m->nmsrs = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		m->entries[i].index = boot_msrs[i].index;
		m->entries[i].data = boot_msrs[i].value;
	}
	ret = ioctl(v->fd, KVM_SET_MSRS, m);
	free(m);
	if (ret < 0 || (size_t)ret != n) {
		log_err("vcpu %u: KVM_SET_MSRS stopped at MSR 0x%x: %s", v->id,
		        ret < 0 ? 0 : boot_msrs[ret].index,
		        ret < 0 ? strerror(errno) : "refused");
		return -1;
	}
	return 0;
}

static int set_lapic(struct vcpu *v)
{
	struct kvm_lapic_state l;
	uint32_t r;

	if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0) {
		log_err("vcpu %u: KVM_GET_LAPIC: %s", v->id, strerror(errno));
		return -1;
	}
	memcpy(&r, &l.regs[APIC_LVT_LINT0], 4);
	r = (r & ~0x700u) | (APIC_MODE_EXTINT << 8);
	memcpy(&l.regs[APIC_LVT_LINT0], &r, 4);
	memcpy(&r, &l.regs[APIC_LVT_LINT1], 4);
	r = (r & ~0x700u) | (APIC_MODE_NMI << 8);
	memcpy(&l.regs[APIC_LVT_LINT1], &r, 4);
	if (ioctl(v->fd, KVM_SET_LAPIC, &l) < 0) {
		log_err("vcpu %u: KVM_SET_LAPIC: %s", v->id, strerror(errno));
		return -1;
	}
	return 0;
}

static int set_boot_regs(struct vcpu *v, enum kernel_kind kind, uint64_t entry)
{
	bool pvh = kind == KERNEL_ELF_PVH;
	struct kvm_regs r = { .rflags = 0x2, .rip = entry };
	struct kvm_sregs s;
	struct kvm_segment code, data;

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		log_err("vcpu 0: KVM_GET_SREGS: %s", strerror(errno));
		return -1;
	}
	code = seg_from_desc(pvh ? DESC_CODE32 : DESC_CODE64, GDT_CODE * 8);
	data = seg_from_desc(DESC_DATA, GDT_DATA * 8);
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.tr = seg_from_desc(DESC_TSS, GDT_TSS * 8);
	s.gdt.base = X86_GDT_ADDR;
	s.gdt.limit = 4 * 8 - 1;
	s.idt.base = X86_IDT_ADDR;
	s.idt.limit = 7;
	/* Caching on (CD and NW clear), as firmware would leave it. */
	s.cr0 = CR0_PE | CR0_ET;
	s.cr4 = 0;
	s.efer = 0;
	if (pvh) {
		/* PVH: 32-bit flat protected mode, paging off, EBX = info. */
		r.rbx = X86_PVH_INFO_ADDR;
	} else {
		/* Linux 64-bit boot protocol: long mode, RSI = boot_params. */
		s.cr3 = X86_PML4_ADDR;
		s.cr4 |= CR4_PAE;
		s.cr0 |= CR0_PG;
		s.efer |= EFER_LME | EFER_LMA;
		r.rsi = X86_ZERO_PAGE_ADDR;
		r.rsp = r.rbp = X86_BOOT_STACK;
	}
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0) {
		log_err("vcpu 0: KVM_SET_SREGS: %s", strerror(errno));
		return -1;
	}
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0) {
		log_err("vcpu 0: KVM_SET_REGS: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int x86_vcpu_setup(struct vcpu *v, const struct cpu_template *cpu,
                   enum kernel_kind kind, uint64_t entry, char *err,
                   size_t errlen)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

	if (x86_cpuid_set(v) < 0 ||
	    (cpu && x86_template_msrs(v, cpu, err, errlen) < 0) ||
	    set_msrs(v) < 0)
		return -1;
	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0) {
		log_err("vcpu %u: KVM_SET_FPU: %s", v->id, strerror(errno));
		return -1;
	}
	if (set_lapic(v) < 0)
		return -1;
	/* Other vCPUs wait for INIT/SIPI from the boot vCPU. */
	if (v->id == 0)
		return set_boot_regs(v, kind, entry);
	return 0;
}
