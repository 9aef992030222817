/*
 * The guest's CPUID: what KVM supports on this host, filtered by the
 * tables below, with the topology of this VM filled in.
 */
#include "x86.h"
#include "../log.h"
#include "../util.h"
#include "../vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

struct cpuid_rule {
	uint32_t leaf;
	int subleaf; /* -1: every subleaf */
	int reg;     /* -1: zero the whole leaf */
	uint32_t clear;
	uint32_t set;
	const char *why;
};

#define BIT(n) (1u << (n))

/* Applied on every host. */
static const struct cpuid_rule base_rules[] = {
	{ 0x1, -1, CPU_ECX, 0, BIT(31), "hypervisor present" },
	{ 0x6, -1, -1, 0, 0, "no thermal or power management interface" },
	{ 0xa, -1, -1, 0, 0, "no performance monitoring unit" },
};

/*
 * Applied on kvm-pvm hosts (docs/architecture.md): features the host's emulator
 * lacks or does not hide, and KVM PV features that rely on hypercalls, which
 * hang the vCPU there.
 */
static const struct cpuid_rule pvm_rules[] = {
	{ 0x1, -1, CPU_ECX,
	  BIT(12) | BIT(23) | BIT(26) | BIT(27) | BIT(28) | BIT(29), 0,
	  "fma, popcnt, xsave, osxsave, avx, f16c" },
	/*
	 * fsgsbase: with it, the guest kernel switches a task's FS base with
	 * WRFSBASE, which the hardware runs natively in the guest's ring 3
	 * behind the emulator's back; under load a user task then came back
	 * with a stale FS base and died reading its TLS through it (a 2-vCPU
	 * boot's `cat` segfaulted at fs:-0x90 = 0). Without it the guest
	 * writes MSR_FS_BASE, which the host emulates and keeps.
	 */
	{ 0x7, 0, CPU_EBX,
	  BIT(0) | BIT(5) | BIT(7) | BIT(9) | BIT(16) | BIT(17) | BIT(20) |
	          BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31),
	  0, "fsgsbase, avx2, smep, erms, smap, avx512" },
	{ 0x7, 0, CPU_ECX, BIT(1) | BIT(6) | BIT(11) | BIT(12) | BIT(14), 0,
	  "avx512 (ecx)" },
	{ 0x7, 0, CPU_EDX, BIT(2) | BIT(3) | BIT(4) | BIT(8) | BIT(23), 0,
	  "fsrm, avx512 (edx)" },
	{ 0xd, -1, -1, 0, 0, "no xsave state" },
	{ 0x40000001, -1, CPU_EAX,
	  BIT(4) | BIT(7) | BIT(9) | BIT(10) | BIT(11) | BIT(13) | BIT(14) |
	          BIT(16),
	  0,
	  "async-pf, pv-unhalt, pv-tlb-flush, pv-send-ipi, pv-sched-yield, "
	  "map-gpa-range" },
};

/* Removing these makes Linux fix the rest. */
static const char pvm_cmdline[] =
        "noxsave nofsgsbase clearcpuid=smap,smep,popcnt,rep_good,erms,fsrm";

const char *x86_pvm_cmdline(void)
{
	return pvm_cmdline;
}

uint32_t *x86_cpuid_reg(struct kvm_cpuid_entry2 *e, enum cpu_reg r)
{
	switch (r) {
	case CPU_EAX:
		return &e->eax;
	case CPU_EBX:
		return &e->ebx;
	case CPU_ECX:
		return &e->ecx;
	default:
		return &e->edx;
	}
}

static void apply_rules(struct kvm_cpuid2 *c, const struct cpuid_rule *r,
                        size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (uint32_t j = 0; j < c->nent; j++) {
			struct kvm_cpuid_entry2 *e = &c->entries[j];

			if (e->function != r[i].leaf ||
			    (r[i].subleaf >= 0 &&
			     e->index != (uint32_t)r[i].subleaf))
				continue;
			if (r[i].reg < 0) {
				e->eax = e->ebx = e->ecx = e->edx = 0;
				continue;
			}
			uint32_t *reg =
			        x86_cpuid_reg(e, (enum cpu_reg)r[i].reg);
			*reg = (*reg & ~r[i].clear) | r[i].set;
		}
	}
}

static unsigned bits_for(unsigned n)
{
	unsigned b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

/*
 * One package of nvcpus logical CPUs: @tpc threads per core (2 with SMT,
 * vCPUs 2k and 2k+1 the threads of core k), nvcpus / tpc cores. Intel's
 * leaves (1, 4, 0xb) and AMD's (0x80000008, 0x8000001d, 0x8000001e)
 * both, as Linux reads one or the other by vendor; the per-vCPU fields
 * are x86_cpuid_set()'s.
 */
static void set_topology(struct kvm_cpuid2 *c, unsigned nvcpus, unsigned tpc)
{
	unsigned cores = nvcpus / tpc;

	for (uint32_t j = 0; j < c->nent; j++) {
		struct kvm_cpuid_entry2 *e = &c->entries[j];
		unsigned level;

		switch (e->function) {
		case 0x1:
			e->ebx = (e->ebx & 0x0000ffff) | (nvcpus << 16);
			if (nvcpus > 1)
				e->edx |= BIT(28); /* HTT: count is valid */
			break;
		case 0x4:
			level = (e->eax >> 5) & 7;
			e->eax = (e->eax & 0x3fff) | ((cores - 1) << 26) |
			         ((level == 3 ? nvcpus - 1 : tpc - 1) << 14);
			break;
		case 0xb:
			if (e->index == 0) {
				e->eax = bits_for(tpc);
				e->ebx = tpc;
				e->ecx = (1 << 8) | 0; /* SMT level */
			} else if (e->index == 1) {
				e->eax = bits_for(tpc) + bits_for(cores);
				e->ebx = nvcpus;
				e->ecx = (2 << 8) | 1; /* core level */
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		case 0x1f:
			/* Zeroed: Linux then reads the topology from 0xb. */
			e->eax = e->ebx = e->ecx = e->edx = 0;
			break;
		case 0x80000008:
			/* ApicIdSize 7 (up to 128), NC: logical CPUs - 1. */
			e->ecx =
			        (e->ecx & ~0xf0ffu) | (7u << 12) | (nvcpus - 1);
			break;
		case 0x8000001d:
			level = (e->eax >> 5) & 7;
			if (level >= 1 && level <= 3)
				e->eax = (e->eax & ~(0xfffu << 14)) |
				         ((level == 3 ? nvcpus - 1 : tpc - 1)
				          << 14);
			break;
		case 0x8000001e:
			/* One node; the per-vCPU ids are set per vCPU. */
			e->ebx = (tpc - 1) << 8;
			e->ecx = 0;
			break;
		}
	}
}

int x86_cpuid_fetch(struct vm *vm, enum log_level lvl)
{
	unsigned nent = 128;
	struct kvm_cpuid2 *c = NULL;

	if (vm->cpuid_kvm)
		return 0;
	for (;;) {
		c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		if (!c)
			return -1;
		c->nent = nent;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		free(c);
		if (errno != E2BIG || nent >= 4096) {
			log_at(lvl, "KVM_GET_SUPPORTED_CPUID: %s",
			       strerror(errno));
			return -1;
		}
		nent *= 2;
	}
	vm->cpuid_kvm = c;
	return 0;
}

int x86_cpuid_init(struct vm *vm, const struct cpu_template *cpu, char *err,
                   size_t errlen)
{
	struct kvm_cpuid2 *c;
	size_t size;

	if (x86_cpuid_fetch(vm, LOG_ERROR) < 0)
		return -1;
	size = sizeof(*c) + vm->cpuid_kvm->nent * sizeof(c->entries[0]);
	c = malloc(size);
	if (!c)
		return -1;
	memcpy(c, vm->cpuid_kvm, size);
	/* The template first, as Firecracker applies it to KVM's table and
	 * normalizes after: wisp's rules and the kvm-pvm quirks win. */
	if (cpu && x86_cpuid_template(c, cpu, err, errlen) < 0) {
		log_err("%s", err);
		free(c);
		return -1;
	}
	apply_rules(c, base_rules, ARRAY_SIZE(base_rules));
	if (vm->pvm) {
		apply_rules(c, pvm_rules, ARRAY_SIZE(pvm_rules));
		char what[512] = "";
		size_t off = 0;

		for (size_t i = 0; i < ARRAY_SIZE(pvm_rules); i++)
			off += (size_t)snprintf(what + off, sizeof(what) - off,
			                        "%s%s", i ? "; " : "",
			                        pvm_rules[i].why);
		log_info("kvm-pvm host: CPUID masked (%s); kernel command line "
		         "gets '%s'",
		         what, pvm_cmdline);
	}
	set_topology(c, vm->nvcpus,
	             vm->threads_per_core ? vm->threads_per_core : 1);
	vm->cpuid = c;
	return 0;
}

int x86_cpuid_set(struct vcpu *v)
{
	struct kvm_cpuid2 *tmpl = v->vm->cpuid;
	size_t size = sizeof(*tmpl) + tmpl->nent * sizeof(tmpl->entries[0]);
	struct kvm_cpuid2 *c = malloc(size);
	int ret;

	if (!c)
		return -1;
	memcpy(c, tmpl, size);
	for (uint32_t j = 0; j < c->nent; j++) {
		struct kvm_cpuid_entry2 *e = &c->entries[j];

		if (e->function == 0x1)
			e->ebx = (e->ebx & 0x00ffffff) | (v->id << 24);
		else if (e->function == 0xb)
			e->edx = v->id; /* x2APIC id */
		else if (e->function == 0x8000001e) {
			unsigned tpc = v->vm->threads_per_core
			                       ? v->vm->threads_per_core
			                       : 1;

			e->eax = v->id; /* extended APIC id */
			e->ebx = (e->ebx & ~0xffu) | (v->id / tpc); /* core */
		}
	}
	ret = ioctl(v->fd, KVM_SET_CPUID2, c);
	free(c);
	if (ret < 0) {
		log_err("vcpu %u: KVM_SET_CPUID2: %s", v->id, strerror(errno));
		return -1;
	}
	return 0;
}
