/*
 * Kernel image parsing: ELF64 (with or without a PVH entry note), ELF32
 * with a PVH entry note (as QEMU and Xen boot it), and bzImage. Every offset
 * and size read from the file is checked against the file length and the
 * guest's RAM before it is used.
 */
#include "util.h"
#include "x86.h"
#include "../util.h"

#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Xen's ELF note type for the 32-bit PVH entry point. */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define ELF_MAX_PHDRS            64

/* bzImage setup header fields (Documentation/x86/boot.rst offsets). */
#define BZ_SETUP_SECTS     0x1f1
#define BZ_HDR_START       0x1f1
#define BZ_JUMP_LEN        0x201 /* header ends at 0x202 + this byte */
#define BZ_BOOT_FLAG       0x1fe
#define BZ_HEADER_MAGIC    0x202
#define BZ_VERSION         0x206
#define BZ_LOADFLAGS       0x211
#define BZ_INITRD_ADDR_MAX 0x22c
#define BZ_XLOADFLAGS      0x236
#define BZ_INIT_SIZE       0x260
#define BZ_HDR_LIMIT       0x290 /* where boot_params' hdr field ends */
#define BZ_MIN_LEN         (BZ_INIT_SIZE + 4)
#define BZ_LOADED_HIGH     0x01
#define BZ_XLF_KERNEL_64   0x01
#define BZ_ENTRY64_OFFSET  0x200

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* [off, off + n) lies inside a buffer of @len bytes. */
static bool in_file(uint64_t off, uint64_t n, size_t len)
{
	uint64_t end;

	return util_add_ok(off, n, &end) && end <= len;
}

static int add_seg(struct kernel_image *img, const struct kernel_seg *s,
                   uint64_t ram_top, char *err, size_t errlen)
{
	uint64_t end;

	if (img->nseg == KERNEL_MAX_SEGS)
		return util_err(err, errlen, "more than %d loadable segments",
		                KERNEL_MAX_SEGS);
	if (s->filesz > s->memsz)
		return util_err(
		        err, errlen,
		        "segment at 0x%llx: file size 0x%llx exceeds its "
		        "memory size 0x%llx",
		        (unsigned long long)s->gpa,
		        (unsigned long long)s->filesz,
		        (unsigned long long)s->memsz);
	if (!util_add_ok(s->gpa, s->memsz, &end) || s->gpa < X86_HIMEM_START ||
	    end > ram_top)
		return util_err(
		        err, errlen,
		        "segment [0x%llx, +0x%llx) is outside guest RAM "
		        "(1 MiB to 0x%llx): give the VM more memory or "
		        "check the image",
		        (unsigned long long)s->gpa,
		        (unsigned long long)s->memsz,
		        (unsigned long long)ram_top);
	for (unsigned i = 0; i < img->nseg; i++) {
		const struct kernel_seg *o = &img->seg[i];

		if (s->gpa < o->gpa + o->memsz && o->gpa < end)
			return util_err(err, errlen,
			                "segments at 0x%llx and 0x%llx overlap",
			                (unsigned long long)o->gpa,
			                (unsigned long long)s->gpa);
	}
	img->seg[img->nseg++] = *s;
	return 0;
}

/* Look for the Xen PVH entry note in one PT_NOTE segment. */
static bool find_pvh_note(const uint8_t *p, uint64_t n, uint64_t *entry)
{
	uint64_t off = 0;

	while (n - off >= 12) {
		uint32_t namesz = rd32(p + off), descsz = rd32(p + off + 4);
		uint32_t type = rd32(p + off + 8);
		uint64_t name_off = off + 12;
		uint64_t desc_off = name_off + ALIGN_UP((uint64_t)namesz, 4);
		uint64_t next = desc_off + ALIGN_UP((uint64_t)descsz, 4);

		if (next > n || next <= off)
			return false;
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 &&
		    !memcmp(p + name_off, "Xen", 4)) {
			if (descsz == 4)
				*entry = rd32(p + desc_off);
			else if (descsz == 8)
				*entry = rd32(p + desc_off) |
				         (uint64_t)rd32(p + desc_off + 4) << 32;
			else
				return false;
			return true;
		}
		off = next;
	}
	return false;
}

static bool entry_in_segment(const struct kernel_image *img, uint64_t entry)
{
	for (unsigned i = 0; i < img->nseg; i++)
		if (entry >= img->seg[i].gpa &&
		    entry - img->seg[i].gpa < img->seg[i].filesz)
			return true;
	return false;
}

/* An ELF header or program header, whichever the class. */
struct elf_hdr {
	bool is64;
	uint16_t type, machine, phentsize, phnum;
	uint64_t entry, phoff;
};

struct elf_phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

static int elf_header(const uint8_t *buf, size_t len, struct elf_hdr *h,
                      char *err, size_t errlen)
{
	Elf64_Ehdr e64;
	Elf32_Ehdr e32;

	if (len < EI_NIDENT || len < sizeof(e32))
		return util_err(err, errlen, "truncated ELF header (%zu bytes)",
		                len);
	if (buf[EI_CLASS] != ELFCLASS64 && buf[EI_CLASS] != ELFCLASS32)
		return util_err(err, errlen,
		                "not a 64-bit or 32-bit ELF (class %u)",
		                buf[EI_CLASS]);
	if (buf[EI_DATA] != ELFDATA2LSB)
		return util_err(err, errlen, "not a little-endian ELF");
	if (buf[EI_CLASS] == ELFCLASS64) {
		if (len < sizeof(e64))
			return util_err(err, errlen,
			                "truncated ELF header (%zu bytes)",
			                len);
		memcpy(&e64, buf, sizeof(e64));
		*h = (struct elf_hdr){ .is64 = true,
			               .type = e64.e_type,
			               .machine = e64.e_machine,
			               .phentsize = e64.e_phentsize,
			               .phnum = e64.e_phnum,
			               .entry = e64.e_entry,
			               .phoff = e64.e_phoff };
	} else {
		memcpy(&e32, buf, sizeof(e32));
		*h = (struct elf_hdr){ .type = e32.e_type,
			               .machine = e32.e_machine,
			               .phentsize = e32.e_phentsize,
			               .phnum = e32.e_phnum,
			               .entry = e32.e_entry,
			               .phoff = e32.e_phoff };
	}
	/* A 32-bit ELF is an i386 (or x32-style x86_64) image. */
	if (h->machine != EM_X86_64 && (h->is64 || h->machine != EM_386))
		return util_err(
		        err, errlen, "ELF for machine %u, not x86_64 (%u)%s",
		        h->machine, EM_X86_64, h->is64 ? "" : " or i386 (3)");
	if (h->type != ET_EXEC)
		return util_err(err, errlen,
		                "ELF type %u is not an executable (ET_EXEC)",
		                h->type);
	if (h->phentsize !=
	            (h->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)) ||
	    h->phnum == 0 || h->phnum > ELF_MAX_PHDRS)
		return util_err(
		        err, errlen,
		        "bad program header table (%u entries of %u bytes)",
		        h->phnum, h->phentsize);
	if (!in_file(h->phoff, (uint64_t)h->phnum * h->phentsize, len))
		return util_err(
		        err, errlen,
		        "program headers at 0x%llx lie past the end of the "
		        "file (%zu bytes)",
		        (unsigned long long)h->phoff, len);
	return 0;
}

/* Program header @i (in the file: elf_header() checked the table). */
static struct elf_phdr elf_phdr(const uint8_t *buf, const struct elf_hdr *h,
                                unsigned i)
{
	const uint8_t *p = buf + h->phoff + (uint64_t)i * h->phentsize;
	Elf64_Phdr p64;
	Elf32_Phdr p32;

	if (h->is64) {
		memcpy(&p64, p, sizeof(p64));
		return (struct elf_phdr){ p64.p_type, p64.p_offset, p64.p_paddr,
			                  p64.p_filesz, p64.p_memsz };
	}
	memcpy(&p32, p, sizeof(p32));
	return (struct elf_phdr){ .type = p32.p_type,
		                  .offset = p32.p_offset,
		                  .paddr = p32.p_paddr,
		                  .filesz = p32.p_filesz,
		                  .memsz = p32.p_memsz };
}

static int parse_elf(const uint8_t *buf, size_t len, uint64_t ram_top,
                     struct kernel_image *img, char *err, size_t errlen)
{
	struct elf_hdr eh = { 0 };
	uint64_t pvh_entry = 0;
	bool pvh = false;

	if (elf_header(buf, len, &eh, err, errlen) < 0)
		return -1;
	img->kind = KERNEL_ELF_64;
	for (unsigned i = 0; i < eh.phnum; i++) {
		struct elf_phdr ph = elf_phdr(buf, &eh, i);

		if (ph.type == PT_NOTE) {
			if (!in_file(ph.offset, ph.filesz, len))
				return util_err(
				        err, errlen,
				        "note segment %u lies past the end "
				        "of the file",
				        i);
			if (!pvh)
				pvh = find_pvh_note(buf + ph.offset, ph.filesz,
				                    &pvh_entry);
			continue;
		}
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		if (!in_file(ph.offset, ph.filesz, len))
			return util_err(
			        err, errlen,
			        "segment %u [0x%llx, +0x%llx) lies past "
			        "the end of the file (%zu bytes): truncated "
			        "image?",
			        i, (unsigned long long)ph.offset,
			        (unsigned long long)ph.filesz, len);
		struct kernel_seg s = {
			.gpa = ph.paddr,
			.offset = ph.offset,
			.filesz = ph.filesz,
			.memsz = ph.memsz,
		};
		if (add_seg(img, &s, ram_top, err, errlen) < 0)
			return -1;
	}
	if (!img->nseg)
		return util_err(err, errlen, "ELF has no loadable segment");
	/* A 32-bit image has no 64-bit entry: only PVH's 32-bit one. */
	if (!eh.is64 && !pvh)
		return util_err(err, errlen,
		                "a 32-bit ELF needs a PVH entry note "
		                "(XEN_ELFNOTE_PHYS32_ENTRY) to be booted");
	if (pvh) {
		img->kind = KERNEL_ELF_PVH;
		img->entry = pvh_entry;
	} else {
		img->entry = eh.entry;
	}
	if (!entry_in_segment(img, img->entry))
		return util_err(
		        err, errlen,
		        "%s entry point 0x%llx is not in a loaded segment",
		        pvh ? "PVH" : "ELF", (unsigned long long)img->entry);
	return 0;
}

static int parse_bzimage(const uint8_t *buf, size_t len, uint64_t ram_top,
                         struct kernel_image *img, char *err, size_t errlen)
{
	unsigned setup_sects = buf[BZ_SETUP_SECTS];
	uint16_t version = rd16(buf + BZ_VERSION);
	uint64_t kernel_off, init_size, hdr_end;

	if (version < 0x020c)
		return util_err(
		        err, errlen,
		        "bzImage boot protocol %u.%02u is older than 2.12 "
		        "(no 64-bit entry)",
		        version >> 8, version & 0xff);
	if (!(rd16(buf + BZ_XLOADFLAGS) & BZ_XLF_KERNEL_64))
		return util_err(err, errlen,
		                "bzImage has no 64-bit entry point (a 32-bit "
		                "kernel?)");
	if (!(buf[BZ_LOADFLAGS] & BZ_LOADED_HIGH))
		return util_err(
		        err, errlen,
		        "bzImage wants to load at 0x10000 (zImage), which "
		        "is not supported");
	if (!setup_sects)
		setup_sects = 4;
	kernel_off = (uint64_t)(setup_sects + 1) * 512;
	if (kernel_off >= len)
		return util_err(
		        err, errlen,
		        "bzImage setup (%llu bytes) fills the whole file: "
		        "truncated image?",
		        (unsigned long long)kernel_off);
	hdr_end = 0x202 + (uint64_t)buf[BZ_JUMP_LEN];
	img->kind = KERNEL_BZIMAGE;
	img->setup_hdr_off = BZ_HDR_START;
	img->setup_hdr_len =
	        MIN(hdr_end, (uint64_t)BZ_HDR_LIMIT) - BZ_HDR_START;
	img->initrd_addr_max = rd32(buf + BZ_INITRD_ADDR_MAX);

	struct kernel_seg s = {
		.gpa = X86_HIMEM_START,
		.offset = kernel_off,
		.filesz = len - kernel_off,
	};
	/* The decompressor needs init_size bytes from the load address. */
	init_size = rd32(buf + BZ_INIT_SIZE);
	s.memsz = MAX(s.filesz, init_size);
	if (add_seg(img, &s, ram_top, err, errlen) < 0)
		return -1;
	img->entry = X86_HIMEM_START + BZ_ENTRY64_OFFSET;
	return 0;
}

int kernel_parse(const uint8_t *buf, size_t len, uint64_t ram_top,
                 struct kernel_image *img, char *err, size_t errlen)
{
	memset(img, 0, sizeof(*img));
	if (len >= SELFMAG && !memcmp(buf, ELFMAG, SELFMAG))
		return parse_elf(buf, len, ram_top, img, err, errlen);
	if (len >= BZ_MIN_LEN && rd16(buf + BZ_BOOT_FLAG) == 0xaa55 &&
	    !memcmp(buf + BZ_HEADER_MAGIC, "HdrS", 4))
		return parse_bzimage(buf, len, ram_top, img, err, errlen);
	if (len < BZ_MIN_LEN)
		return util_err(
		        err, errlen,
		        "not a kernel: %zu bytes is too short for an ELF "
		        "or bzImage",
		        len);
	return util_err(err, errlen,
	                "not a kernel: neither an ELF (vmlinux) nor a bzImage");
}
