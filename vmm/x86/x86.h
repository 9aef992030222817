/*
 * x86_64 direct boot: guest memory layout, kernel image parsing and
 * loading, the boot structures a kernel reads (boot_params, PVH
 * start_info, e820, MP table) and the vCPU state at reset.
 *
 * Parsers work on plain buffers and never touch a VM, so the unit tests
 * feed them crafted files directly.
 */
#ifndef WISP_X86_H
#define WISP_X86_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "log.h"

struct vm;
struct vcpu;
struct kvm_cpuid2;

/* Guest memory layout (see docs/architecture.md). */
#define X86_GDT_ADDR       0x500ULL
#define X86_IDT_ADDR       0x520ULL
#define X86_PVH_INFO_ADDR  0x6000ULL /* hvm_start_info, memmap, modlist */
#define X86_ZERO_PAGE_ADDR 0x7000ULL /* boot_params */
#define X86_BOOT_STACK     0x8ff0ULL
#define X86_PML4_ADDR      0x9000ULL
#define X86_PDPTE_ADDR     0xa000ULL
#define X86_PDE_ADDR       0xb000ULL
#define X86_CMDLINE_ADDR   0x20000ULL
#define X86_CMDLINE_MAX    2048       /* Linux's COMMAND_LINE_SIZE, with NUL */
#define X86_EBDA_START     0x9fc00ULL /* MP table lives here */
#define X86_HIMEM_START    0x100000ULL
#define X86_BIOS_END       0x100000ULL
#define X86_IOAPIC_ADDR    0xfec00000ULL
#define X86_LAPIC_ADDR     0xfee00000ULL
#define X86_E820_MAX       8

enum kernel_kind {
	KERNEL_ELF_PVH, /* ELF with a Xen PVH entry note: 32-bit entry */
	KERNEL_ELF_64,  /* ELF vmlinux: Linux 64-bit boot protocol */
	KERNEL_BZIMAGE, /* bzImage: 64-bit entry of the boot protocol */
};

#define KERNEL_MAX_SEGS 16

struct kernel_seg {
	uint64_t gpa;    /* where it goes in guest RAM */
	uint64_t offset; /* where its bytes start in the file */
	uint64_t filesz; /* bytes copied from the file */
	uint64_t memsz;  /* bytes in guest RAM; the rest is zeroed */
};

struct kernel_image {
	enum kernel_kind kind;
	uint64_t entry; /* guest physical address of the first instruction */
	unsigned nseg;
	struct kernel_seg seg[KERNEL_MAX_SEGS];
	/* bzImage only: the setup header to copy into boot_params. */
	uint64_t setup_hdr_off, setup_hdr_len;
	uint32_t initrd_addr_max; /* highest initrd byte the kernel takes */
};

/*
 * Parse a kernel image of @len bytes, checking that every segment lies in
 * guest RAM between 1 MiB and @ram_top (bytes of RAM below the MMIO hole)
 * and that segments do not overlap. On error returns -1 with a sentence in
 * @err that names what is wrong. Never reads past @len.
 */
int kernel_parse(const uint8_t *buf, size_t len, uint64_t ram_top,
                 struct kernel_image *img, char *err, size_t errlen);

/* Copy a parsed image into guest RAM (zeroing bss). */
int kernel_load(struct vm *vm, const uint8_t *buf,
                const struct kernel_image *img);

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* 1 RAM, 2 reserved */
};

#define E820_RAM      1
#define E820_RESERVED 2

/*
 * The guest's memory map for @mem_size bytes of RAM laid out as vm.c does
 * (low RAM up to the MMIO hole, the rest above 4 GiB). Returns the number
 * of entries written to @e (at most X86_E820_MAX).
 */
unsigned e820_build(uint64_t mem_size, struct e820_entry *e);

/*
 * Join the user's @base command line and @extra (may be NULL) into @out
 * (X86_CMDLINE_MAX bytes). Returns -1 with a message when the result with
 * its NUL is longer than X86_CMDLINE_MAX.
 */
int cmdline_build(char *out, const char *base, const char *extra, char *err,
                  size_t errlen);

/*
 * Write an MP table (Intel MP spec 1.4) for @ncpus CPUs, one I/O APIC and
 * ISA IRQs 0-15 into @buf of @len bytes, which the guest sees at @gpa.
 * Returns bytes used or -1 when it does not fit.
 */
int mptable_build(uint8_t *buf, size_t len, uint64_t gpa, unsigned ncpus);

struct boot_setup {
	const struct kernel_image *img;
	const uint8_t *kernel_buf;
	const char *cmdline;
	uint64_t initrd_gpa, initrd_size; /* size 0: no initrd */
};

/*
 * Write boot_params or the PVH start_info, e820, command line, page
 * tables, GDT and MP table into guest RAM. Returns -1 with a logged reason.
 */
int x86_boot_setup(struct vm *vm, const struct boot_setup *bs);

/* Where an initrd of @size bytes goes: page aligned at the top of low RAM
 * and below @max_addr. Returns 0 and sets *@gpa or -1 when it cannot fit
 * above @min_gpa. */
int x86_initrd_place(uint64_t low_ram, uint64_t size, uint64_t min_gpa,
                     uint64_t max_addr, uint64_t *gpa);

/*
 * Build the filtered CPUID table once per VM from KVM_GET_SUPPORTED_CPUID:
 * @cpu's CPUID modifiers first (NULL: none), then wisp's rules (see the
 * tables in cpuid.c; the kvm-pvm quirks when vm->pvm) and the topology,
 * which win over the template. 0, or -1 (a template error in @err).
 */
int x86_cpuid_init(struct vm *vm, const struct cpu_template *cpu, char *err,
                   size_t errlen);

/*
 * A custom CPU template (cputmpl.c). x86_cpuid_template: @t's CPUID
 * modifiers on the table @c; a leaf and subleaf @c lacks is refused, as
 * Firecracker does. x86_template_caps: each kvm_capabilities entry that
 * is not "!N" must be supported by /dev/kvm (@kvm_fd). x86_template_msrs:
 * read, modify and write @t's MSRs on vCPU @v. Each 0, or -1 with the
 * message in @err.
 */
struct kvm_cpuid_entry2;
/* The register @r of the CPUID entry @e. */
uint32_t *x86_cpuid_reg(struct kvm_cpuid_entry2 *e, enum cpu_reg r);
int x86_cpuid_template(struct kvm_cpuid2 *c, const struct cpu_template *t,
                       char *err, size_t errlen);
int x86_template_caps(int kvm_fd, const struct cpu_template *t, char *err,
                      size_t errlen);
int x86_template_msrs(struct vcpu *v, const struct cpu_template *t, char *err,
                      size_t errlen);

/* KVM_GET_SUPPORTED_CPUID into vm->cpuid_kvm, once per /dev/kvm fd;
 * errors logged at @lvl. */
int x86_cpuid_fetch(struct vm *vm, enum log_level lvl);

/* Write the 4-entry boot GDT for @kind into @p (32 bytes). */
void x86_gdt_write(uint8_t *p, enum kernel_kind kind);

/* Give vCPU @v the VM's CPUID with its own APIC id filled in. */
int x86_cpuid_set(struct vcpu *v);

/* Kernel command-line words the kvm-pvm host needs. */
const char *x86_pvm_cmdline(void);

/*
 * Per-vCPU state at reset: CPUID, @cpu's MSR modifiers (NULL: none), the
 * boot MSRs, FPU, LAPIC LINT0/1; for vCPU 0 also the registers that enter
 * the kernel for @kind at @entry. 0, or -1 (logged; a template's error
 * also in @err).
 */
int x86_vcpu_setup(struct vcpu *v, const struct cpu_template *cpu,
                   enum kernel_kind kind, uint64_t entry, char *err,
                   size_t errlen);

#endif
