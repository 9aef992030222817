/*
 * A custom CPU template (PUT /cpu-config, api/cpuconf.c) applied at
 * InstanceStart, in Firecracker's order: the CPUID modifiers change
 * KVM's supported table before wisp's own rules and the topology
 * (cpuid.c), and the MSR modifiers change each vCPU's MSRs after its
 * CPUID is set and before the boot MSRs, which win where both name one.
 */
#include "x86.h"
#include "../log.h"
#include "../vm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

int x86_cpuid_template(struct kvm_cpuid2 *c, const struct cpu_template *t,
                       char *err, size_t errlen)
{
	for (unsigned i = 0; i < t->nleaves; i++) {
		const struct cpu_leaf_mod *l = &t->leaves[i];
		struct kvm_cpuid_entry2 *e = NULL;

		for (uint32_t j = 0; j < c->nent && !e; j++)
			if (c->entries[j].function == l->leaf &&
			    c->entries[j].index == l->subleaf)
				e = &c->entries[j];
		if (!e) {
			snprintf(err, errlen,
			         "cpu-config: CPUID leaf 0x%x subleaf 0x%x is "
			         "not supported by KVM on this host",
			         l->leaf, l->subleaf);
			return -1;
		}
		e->flags = l->flags;
		for (unsigned k = l->first; k < l->first + l->n; k++) {
			const struct cpu_reg_mod *m = &t->regmods[k];
			uint32_t *r = x86_cpuid_reg(e, m->reg);

			*r = (*r & ~m->filter) | (m->value & m->filter);
		}
	}
	return 0;
}

int x86_template_caps(int kvm_fd, const struct cpu_template *t, char *err,
                      size_t errlen)
{
	for (unsigned i = 0; i < t->ncaps; i++) {
		const struct cpu_kvm_cap *k = &t->caps[i];

		/* "!N": wisp checks no list of its own to take N out of. */
		if (k->remove)
			continue;
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, (unsigned long)k->cap) <=
		    0) {
			snprintf(
			        err, errlen,
			        "cpu-config: KVM on this host lacks capability "
			        "%u (kvm_capabilities)",
			        k->cap);
			return -1;
		}
	}
	return 0;
}

/* One MSR of vCPU @v: read (@set false) or written. */
static int msr_io(struct vcpu *v, bool set, uint32_t index, uint64_t *data)
{
	struct {
		struct kvm_msrs m;
		struct kvm_msr_entry e;
	} b = { .m.nmsrs = 1, .e = { .index = index, .data = *data } };
	int n = ioctl(v->fd, set ? KVM_SET_MSRS : KVM_GET_MSRS, &b);

	*data = b.e.data;
	return n == 1 ? 0 : -1;
}

int x86_template_msrs(struct vcpu *v, const struct cpu_template *t, char *err,
                      size_t errlen)
{
	/* Read on each vCPU (Firecracker reads vCPU 0's and writes them
	 * everywhere): an MSR of one vCPU's own keeps its own bits. */
	for (unsigned i = 0; i < t->nmsrs; i++) {
		const struct cpu_msr_mod *m = &t->msrs[i];
		uint64_t val = 0;
		bool got = msr_io(v, false, m->addr, &val) == 0;

		val = (val & ~m->filter) | (m->value & m->filter);
		if (!got || msr_io(v, true, m->addr, &val) < 0) {
			snprintf(err, errlen,
			         "cpu-config: vcpu %u: KVM cannot %s MSR 0x%x "
			         "on "
			         "this host",
			         v->id, got ? "set" : "read", m->addr);
			log_err("%s", err);
			return -1;
		}
	}
	return 0;
}
