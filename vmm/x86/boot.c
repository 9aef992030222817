/*
 * The structures a kernel reads at boot, written into guest RAM: Linux's
 * boot_params ("zero page") or the PVH start_info, the e820 map, the
 * command line, identity page tables, the GDT and the MP table.
 */
#include "x86.h"
#include "../log.h"
#include "../util.h"
#include "../vm.h"

#include <stdio.h>
#include <string.h>

/* boot_params offsets (Documentation/arch/x86/zero-page.rst). */
#define BP_EXT_RAMDISK_IMAGE  0x0c0
#define BP_EXT_RAMDISK_SIZE   0x0c4
#define BP_EXT_CMD_LINE_PTR   0x0c8
#define BP_E820_ENTRIES       0x1e8
#define BP_BOOT_FLAG          0x1fe
#define BP_HEADER             0x202
#define BP_VERSION            0x206
#define BP_TYPE_OF_LOADER     0x210
#define BP_LOADFLAGS          0x211
#define BP_RAMDISK_IMAGE      0x218
#define BP_RAMDISK_SIZE       0x21c
#define BP_HEAP_END_PTR       0x224
#define BP_CMD_LINE_PTR       0x228
#define BP_KERNEL_ALIGNMENT   0x230
#define BP_CMDLINE_SIZE       0x238
#define BP_E820_TABLE         0x2d0
#define BP_E820_ENTRY_SIZE    20
#define BP_SIZE               4096
#define LOADFLAG_CAN_USE_HEAP 0x80

/* PVH start_info (Xen's public hvm/start_info.h), version 1. */
#define PVH_MAGIC         0x336ec578
#define PVH_INFO_SIZE     56
#define PVH_MEMMAP_ADDR   (X86_PVH_INFO_ADDR + 0x40)
#define PVH_MEMMAP_ENTRY  24
#define PVH_MODLIST_ADDR  (PVH_MEMMAP_ADDR + X86_E820_MAX * PVH_MEMMAP_ENTRY)
#define PVH_MODLIST_ENTRY 32

static void wr8(uint8_t *p, uint8_t v)
{
	p[0] = v;
}

static void wr16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2); /* x86 host and guest are both little-endian */
}

static void wr32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void wr64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

unsigned e820_build(uint64_t mem_size, struct e820_entry *e)
{
	uint64_t low = MIN(mem_size, VM_MMIO_HOLE_START);
	unsigned n = 0;

	/* Below 1 MiB: RAM up to the EBDA, which holds the MP table. */
	e[n++] = (struct e820_entry){ 0, X86_EBDA_START, E820_RAM };
	e[n++] = (struct e820_entry){ X86_EBDA_START,
		                      X86_BIOS_END - X86_EBDA_START,
		                      E820_RESERVED };
	if (low > X86_HIMEM_START)
		e[n++] = (struct e820_entry){ X86_HIMEM_START,
			                      low - X86_HIMEM_START, E820_RAM };
	if (mem_size > low)
		e[n++] = (struct e820_entry){ VM_MMIO_HOLE_END, mem_size - low,
			                      E820_RAM };
	return n;
}

int cmdline_build(char *out, const char *base, const char *extra, char *err,
                  size_t errlen)
{
	int n;

	if (extra && *extra)
		n = snprintf(out, X86_CMDLINE_MAX, "%s%s%s", base,
		             *base ? " " : "", extra);
	else
		n = snprintf(out, X86_CMDLINE_MAX, "%s", base);
	if (n < 0 || n >= X86_CMDLINE_MAX) {
		snprintf(err, errlen,
		         "kernel command line is %d bytes, more than the %d "
		         "the kernel accepts",
		         n, X86_CMDLINE_MAX - 1);
		return -1;
	}
	return 0;
}

int x86_initrd_place(uint64_t low_ram, uint64_t size, uint64_t min_gpa,
                     uint64_t max_addr, uint64_t *gpa)
{
	uint64_t top = MIN(low_ram, max_addr + 1);

	if (size > top)
		return -1;
	*gpa = ALIGN_DOWN(top - size, 4096);
	return *gpa >= min_gpa ? 0 : -1;
}

/* MP spec 1.4 entry types and sizes. */
#define MP_PROCESSOR  0
#define MP_BUS        1
#define MP_IOAPIC     2
#define MP_INTSRC     3
#define MP_LINTSRC    4
#define MP_FPS_SIZE   16
#define MP_HDR_SIZE   44
#define MP_CPU_SIZE   20
#define MP_ENT_SIZE   8
#define MP_IRQ_INT    0
#define MP_IRQ_NMI    1
#define MP_IRQ_EXTINT 3
/* Every I/O APIC pin, as Firecracker lists them: ISA IRQ n -> pin n. */
#define MP_IRQS 24

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;

	while (n--)
		sum = (uint8_t)(sum + *p++);
	return (uint8_t)-sum;
}

int mptable_build(uint8_t *buf, size_t len, uint64_t gpa, unsigned ncpus)
{
	size_t need = MP_FPS_SIZE + MP_HDR_SIZE + ncpus * MP_CPU_SIZE +
	              (2 + MP_IRQS + 2) * MP_ENT_SIZE;
	uint8_t *fps = buf, *hdr = buf + MP_FPS_SIZE;
	uint8_t *p = hdr + MP_HDR_SIZE;
	uint8_t ioapic_id = (uint8_t)ncpus;
	uint16_t entries = 0;

	if (need > len || ncpus == 0 || ncpus > 254)
		return -1;
	memset(buf, 0, need);

	for (unsigned i = 0; i < ncpus; i++, entries++, p += MP_CPU_SIZE) {
		wr8(p, MP_PROCESSOR);
		wr8(p + 1, (uint8_t)i);         /* local APIC id */
		wr8(p + 2, 0x14);               /* local APIC version */
		wr8(p + 3, i == 0 ? 0x3 : 0x1); /* enabled, BSP */
		wr32(p + 4, 0x600);             /* family 6 signature */
		wr32(p + 8, 0x201);             /* FPU, APIC */
	}
	wr8(p, MP_BUS);
	memcpy(p + 2, "ISA   ", 6);
	p += MP_ENT_SIZE, entries++;
	wr8(p, MP_IOAPIC);
	wr8(p + 1, ioapic_id);
	wr8(p + 2, 0x11); /* version */
	wr8(p + 3, 1);    /* enabled */
	wr32(p + 4, (uint32_t)X86_IOAPIC_ADDR);
	p += MP_ENT_SIZE, entries++;
	/*
	 * IRQ n is wired to I/O APIC pin n, as KVM routes GSIs; pins 16-23
	 * are listed too (as ISA, edge, active high) for the virtio devices
	 * beyond IRQ 15.
	 */
	for (unsigned irq = 0; irq < MP_IRQS; irq++) {
		wr8(p, MP_INTSRC);
		wr8(p + 1, MP_IRQ_INT);
		wr8(p + 5, (uint8_t)irq);
		wr8(p + 6, ioapic_id);
		wr8(p + 7, (uint8_t)irq);
		p += MP_ENT_SIZE, entries++;
	}
	/* Local APIC LINT0 takes the PIC (ExtINT), LINT1 takes NMI. */
	wr8(p, MP_LINTSRC);
	wr8(p + 1, MP_IRQ_EXTINT);
	wr8(p + 6, 0xff);
	wr8(p + 7, 0);
	p += MP_ENT_SIZE, entries++;
	wr8(p, MP_LINTSRC);
	wr8(p + 1, MP_IRQ_NMI);
	wr8(p + 6, 0xff);
	wr8(p + 7, 1);
	p += MP_ENT_SIZE, entries++;

	memcpy(hdr, "PCMP", 4);
	wr16(hdr + 4, (uint16_t)(p - hdr)); /* base table length */
	wr8(hdr + 6, 4);                    /* spec 1.4 */
	memcpy(hdr + 8, "WISP    ", 8);
	memcpy(hdr + 16, "MICROVM     ", 12);
	wr16(hdr + 34, entries);
	wr32(hdr + 36, (uint32_t)X86_LAPIC_ADDR);
	wr8(hdr + 7, checksum(hdr, (size_t)(p - hdr)));

	memcpy(fps, "_MP_", 4);
	wr32(fps + 4, (uint32_t)(gpa + MP_FPS_SIZE));
	wr8(fps + 8, 1); /* length in 16-byte units */
	wr8(fps + 9, 4);
	wr8(fps + 10, checksum(fps, MP_FPS_SIZE));
	return (int)need;
}

/* Identity-map the first 1 GiB with 2 MiB pages for the 64-bit entry. */
static int write_page_tables(struct vm *vm)
{
	uint8_t *pml4 = vm_gpa(vm, X86_PML4_ADDR, 4096);
	uint8_t *pdpte = vm_gpa(vm, X86_PDPTE_ADDR, 4096);
	uint8_t *pde = vm_gpa(vm, X86_PDE_ADDR, 4096);

	if (!pml4 || !pdpte || !pde)
		return -1;
	wr64(pml4, X86_PDPTE_ADDR | 0x3); /* present, writable */
	wr64(pdpte, X86_PDE_ADDR | 0x3);
	for (uint64_t i = 0; i < 512; i++)
		wr64(pde + i * 8, (i << 21) | 0x83); /* + page size */
	return 0;
}

static void write_e820_bp(uint8_t *bp, const struct e820_entry *e, unsigned n)
{
	wr8(bp + BP_E820_ENTRIES, (uint8_t)n);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = bp + BP_E820_TABLE + i * BP_E820_ENTRY_SIZE;

		wr64(p, e[i].addr);
		wr64(p + 8, e[i].size);
		wr32(p + 16, e[i].type);
	}
}

static int write_zero_page(struct vm *vm, const struct boot_setup *bs,
                           const struct e820_entry *e, unsigned n)
{
	uint8_t *bp = vm_gpa(vm, X86_ZERO_PAGE_ADDR, BP_SIZE);
	const struct kernel_image *img = bs->img;

	if (!bp)
		return -1;
	memset(bp, 0, BP_SIZE);
	if (img->kind == KERNEL_BZIMAGE) {
		/* Start from the image's own setup header, as boot.rst asks. */
		memcpy(bp + img->setup_hdr_off,
		       bs->kernel_buf + img->setup_hdr_off, img->setup_hdr_len);
	} else {
		wr16(bp + BP_BOOT_FLAG, 0xaa55);
		memcpy(bp + BP_HEADER, "HdrS", 4);
		wr16(bp + BP_VERSION, 0x020f);
		wr32(bp + BP_KERNEL_ALIGNMENT, 0x1000000);
	}
	wr8(bp + BP_TYPE_OF_LOADER, 0xff); /* undefined loader */
	wr8(bp + BP_LOADFLAGS, bp[BP_LOADFLAGS] | LOADFLAG_CAN_USE_HEAP);
	wr16(bp + BP_HEAP_END_PTR, 0xfe00);
	wr32(bp + BP_CMD_LINE_PTR, (uint32_t)X86_CMDLINE_ADDR);
	wr32(bp + BP_EXT_CMD_LINE_PTR, 0);
	wr32(bp + BP_CMDLINE_SIZE, (uint32_t)strlen(bs->cmdline));
	if (bs->initrd_size) {
		wr32(bp + BP_RAMDISK_IMAGE, (uint32_t)bs->initrd_gpa);
		wr32(bp + BP_RAMDISK_SIZE, (uint32_t)bs->initrd_size);
		wr32(bp + BP_EXT_RAMDISK_IMAGE,
		     (uint32_t)(bs->initrd_gpa >> 32));
		wr32(bp + BP_EXT_RAMDISK_SIZE,
		     (uint32_t)(bs->initrd_size >> 32));
	}
	write_e820_bp(bp, e, n);
	return 0;
}

static int write_pvh_info(struct vm *vm, const struct boot_setup *bs,
                          const struct e820_entry *e, unsigned n)
{
	uint8_t *si = vm_gpa(vm, X86_PVH_INFO_ADDR, 0x1000);
	uint8_t *mm = si + (PVH_MEMMAP_ADDR - X86_PVH_INFO_ADDR);
	uint8_t *mod = si + (PVH_MODLIST_ADDR - X86_PVH_INFO_ADDR);

	if (!si)
		return -1;
	memset(si, 0, 0x1000);
	wr32(si, PVH_MAGIC);
	wr32(si + 4, 1); /* version: has the memory map */
	wr64(si + 24, X86_CMDLINE_ADDR);
	wr64(si + 40, PVH_MEMMAP_ADDR);
	wr32(si + 48, n);
	for (unsigned i = 0; i < n; i++) {
		wr64(mm + i * PVH_MEMMAP_ENTRY, e[i].addr);
		wr64(mm + i * PVH_MEMMAP_ENTRY + 8, e[i].size);
		wr32(mm + i * PVH_MEMMAP_ENTRY + 16, e[i].type);
	}
	if (bs->initrd_size) {
		wr32(si + 12, 1); /* nr_modules */
		wr64(si + 16, PVH_MODLIST_ADDR);
		wr64(mod, bs->initrd_gpa);
		wr64(mod + 8, bs->initrd_size);
	}
	return 0;
}

int kernel_load(struct vm *vm, const uint8_t *buf,
                const struct kernel_image *img)
{
	for (unsigned i = 0; i < img->nseg; i++) {
		const struct kernel_seg *s = &img->seg[i];
		uint8_t *dst = vm_gpa(vm, s->gpa, s->memsz);

		if (!dst)
			return -1;
		/*
		 * The rest up to memsz (bss) is left alone: fresh anonymous
		 * guest RAM reads as zero, and writing it would commit pages
		 * the guest may never touch.
		 */
		memcpy(dst, buf + s->offset, s->filesz);
	}
	return 0;
}

int x86_boot_setup(struct vm *vm, const struct boot_setup *bs)
{
	struct e820_entry e[X86_E820_MAX];
	unsigned n = e820_build(vm->mem_size, e);
	size_t cl = strlen(bs->cmdline) + 1;
	uint8_t *p;
	int ret;

	p = vm_gpa(vm, X86_CMDLINE_ADDR, cl);
	if (!p || cl > X86_CMDLINE_MAX)
		return -1;
	memcpy(p, bs->cmdline, cl);

	p = vm_gpa(vm, X86_EBDA_START, X86_BIOS_END - X86_EBDA_START);
	if (!p)
		return -1;
	ret = mptable_build(p, 0xa0000 - X86_EBDA_START, X86_EBDA_START,
	                    vm->nvcpus);
	if (ret < 0) {
		log_err("MP table for %u vCPUs does not fit", vm->nvcpus);
		return -1;
	}

	p = vm_gpa(vm, X86_GDT_ADDR, 4 * 8);
	if (!p)
		return -1;
	x86_gdt_write(p, bs->img->kind);
	p = vm_gpa(vm, X86_IDT_ADDR, 8);
	if (!p)
		return -1;
	memset(p, 0, 8);

	if (bs->img->kind == KERNEL_ELF_PVH)
		return write_pvh_info(vm, bs, e, n);
	if (write_page_tables(vm) < 0)
		return -1;
	return write_zero_page(vm, bs, e, n);
}
