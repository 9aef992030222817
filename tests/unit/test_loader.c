/* Kernel image parsing: valid images and every way a file can be wrong. */
#include "unit.h"
#include "x86/x86.h"

#include <elf.h>
#include <stdint.h>
#include <string.h>

#define RAM (128ULL << 20)

static uint8_t img_buf[64 * 1024];
static char err[512];
static struct kernel_image img;

/* An ELF with @nph program headers right after the ELF header. */
static size_t make_elf(unsigned nph)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img_buf;

	memset(img_buf, 0, sizeof(img_buf));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = 0x100000;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = (uint16_t)nph;
	return sizeof(img_buf);
}

static Elf64_Phdr *phdr(unsigned i)
{
	return (Elf64_Phdr *)(img_buf + sizeof(Elf64_Ehdr)) + i;
}

static void set_load(unsigned i, uint64_t off, uint64_t gpa, uint64_t filesz,
                     uint64_t memsz)
{
	*phdr(i) = (Elf64_Phdr){ .p_type = PT_LOAD,
		                 .p_offset = off,
		                 .p_paddr = gpa,
		                 .p_vaddr = gpa,
		                 .p_filesz = filesz,
		                 .p_memsz = memsz };
}

static int parse(size_t len)
{
	return kernel_parse(img_buf, len, RAM, &img, err, sizeof(err));
}

#define ck_parse_fails(len, text)                                              \
	do {                                                                   \
		ck_assert_int_eq(parse(len), -1);                              \
		ck_assert_msg(strstr(err, text), "error '%s' lacks '%s'", err, \
		              text);                                           \
	} while (0)

START_TEST(elf_valid)
{
	size_t len = make_elf(1);

	set_load(0, 0x1000, 0x100000, 0x2000, 0x3000);
	ck_assert_int_eq(parse(len), 0);
	ck_assert_int_eq(img.kind, KERNEL_ELF_64);
	ck_assert_uint_eq(img.entry, 0x100000);
	ck_assert_uint_eq(img.nseg, 1);
	ck_assert_uint_eq(img.seg[0].memsz, 0x3000);
}
END_TEST

/* A PVH note with a descriptor of @descsz bytes pointing at @entry. */
static void add_pvh_note(unsigned i, uint32_t descsz, uint64_t entry)
{
	uint8_t *n = img_buf + 0x800;
	uint32_t hdr[3] = { 4, descsz, 18 };

	memcpy(n, hdr, sizeof(hdr));
	memcpy(n + 12, "Xen", 4);
	memcpy(n + 16, &entry, descsz);
	*phdr(i) = (Elf64_Phdr){ .p_type = PT_NOTE,
		                 .p_offset = 0x800,
		                 .p_filesz = 16 + descsz };
}

START_TEST(elf_pvh_note)
{
	size_t len = make_elf(2);

	set_load(0, 0x1000, 0x100000, 0x2000, 0x2000);
	add_pvh_note(1, _i ? 8 : 4, 0x100040);
	ck_assert_int_eq(parse(len), 0);
	ck_assert_int_eq(img.kind, KERNEL_ELF_PVH);
	ck_assert_uint_eq(img.entry, 0x100040);
}
END_TEST

START_TEST(elf_pvh_entry_outside)
{
	size_t len = make_elf(2);

	set_load(0, 0x1000, 0x100000, 0x2000, 0x2000);
	add_pvh_note(1, 8, 0x900000);
	ck_parse_fails(len, "not in a loaded segment");
}
END_TEST

/*
 * An ELF32 image (i386, as a PVH kernel or unikernel may ship): a load
 * segment at @gpa of 0x2000 bytes, and a PVH note at 0x800 unless
 * !@note.
 */
static size_t make_elf32(bool note, uint16_t machine, uint32_t entry)
{
	Elf32_Ehdr *eh = (Elf32_Ehdr *)img_buf;
	Elf32_Phdr *ph = (Elf32_Phdr *)(img_buf + sizeof(*eh));
	uint32_t hdr[3] = { 4, 4, 18 };

	memset(img_buf, 0, sizeof(img_buf));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS32;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = machine;
	eh->e_version = EV_CURRENT;
	eh->e_entry = 0x100000;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(Elf32_Phdr);
	eh->e_phnum = note ? 2 : 1;
	ph[0] = (Elf32_Phdr){ .p_type = PT_LOAD,
		              .p_offset = 0x1000,
		              .p_paddr = 0x100000,
		              .p_vaddr = 0x100000,
		              .p_filesz = 0x2000,
		              .p_memsz = 0x3000 };
	if (note) {
		memcpy(img_buf + 0x800, hdr, sizeof(hdr));
		memcpy(img_buf + 0x80c, "Xen", 4);
		memcpy(img_buf + 0x810, &entry, 4);
		ph[1] = (Elf32_Phdr){ .p_type = PT_NOTE,
			              .p_offset = 0x800,
			              .p_filesz = 20 };
	}
	return sizeof(img_buf);
}

START_TEST(elf32_pvh)
{
	size_t len = make_elf32(true, EM_386, 0x100040);

	ck_assert_msg(parse(len) == 0, "%s", err);
	ck_assert_int_eq(img.kind, KERNEL_ELF_PVH);
	ck_assert_uint_eq(img.entry, 0x100040);
	ck_assert_uint_eq(img.nseg, 1);
	ck_assert_uint_eq(img.seg[0].gpa, 0x100000);
	ck_assert_uint_eq(img.seg[0].filesz, 0x2000);
	ck_assert_uint_eq(img.seg[0].memsz, 0x3000);
	len = make_elf32(true, EM_X86_64, 0x100040);
	ck_assert_msg(parse(len) == 0, "%s", err);

	/* No 64-bit entry to fall back on. */
	len = make_elf32(false, EM_386, 0);
	ck_parse_fails(len, "a 32-bit ELF needs a PVH entry note");
	len = make_elf32(true, EM_ARM, 0x100040);
	ck_parse_fails(len, "not x86_64 (62) or i386 (3)");
	len = make_elf32(true, EM_386, 0x900000);
	ck_parse_fails(len, "not in a loaded segment");
	len = make_elf32(true, EM_386, 0x100040);
	((Elf32_Ehdr *)img_buf)->e_phoff = (uint32_t)len - 10;
	ck_parse_fails(len, "past the end of the file");
	len = make_elf32(true, EM_386, 0x100040);
	ck_parse_fails(sizeof(Elf32_Ehdr) - 1, "truncated ELF header");
	/* The note's segment past the end of the file. */
	len = make_elf32(true, EM_386, 0x100040);
	((Elf32_Phdr *)(img_buf + sizeof(Elf32_Ehdr)))[1].p_offset =
	        (uint32_t)len - 4;
	ck_parse_fails(len, "note segment 1 lies past the end");
}
END_TEST

START_TEST(elf_truncated_header)
{
	make_elf(1);
	ck_parse_fails(40, "truncated ELF header");
	ck_parse_fails(sizeof(Elf64_Ehdr) - 1, "truncated ELF header");
}
END_TEST

START_TEST(elf_wrong_arch)
{
	size_t len = make_elf(1);

	set_load(0, 0x1000, 0x100000, 0x100, 0x100);
	((Elf64_Ehdr *)img_buf)->e_machine = EM_AARCH64;
	ck_parse_fails(len, "not x86_64");
	make_elf(1);
	img_buf[EI_CLASS] = ELFCLASSNONE;
	ck_parse_fails(len, "not a 64-bit or 32-bit ELF");
	/* An ELF64's header read as an ELF32's: its table does not fit. */
	make_elf(1);
	img_buf[EI_CLASS] = ELFCLASS32;
	ck_parse_fails(len, "bad program header table");
	make_elf(1);
	((Elf64_Ehdr *)img_buf)->e_type = ET_DYN;
	ck_parse_fails(len, "not an executable");
}
END_TEST

START_TEST(elf_phdrs_past_end)
{
	size_t len = make_elf(1);

	((Elf64_Ehdr *)img_buf)->e_phoff = len - 10;
	ck_parse_fails(len, "program headers");
	((Elf64_Ehdr *)img_buf)->e_phoff = UINT64_MAX - 8;
	ck_parse_fails(len, "program headers");
	make_elf(0);
	ck_parse_fails(len, "program header table");
	make_elf(1000);
	ck_parse_fails(len, "program header table");
}
END_TEST

START_TEST(elf_segment_past_end)
{
	size_t len = make_elf(1);

	set_load(0, 0x1000, 0x100000, len, len);
	ck_parse_fails(len, "past the end of the file");
	set_load(0, UINT64_MAX - 0x10, 0x100000, 0x100, 0x100);
	ck_parse_fails(len, "past the end of the file");
}
END_TEST

START_TEST(elf_segment_outside_ram)
{
	size_t len = make_elf(1);

	set_load(0, 0x1000, 0x1000, 0x100, 0x100); /* below 1 MiB */
	ck_parse_fails(len, "outside guest RAM");
	set_load(0, 0x1000, RAM - 0x1000, 0x100, 0x2000); /* past the top */
	ck_parse_fails(len, "outside guest RAM");
	set_load(0, 0x1000, UINT64_MAX - 0xfff, 0x100, 0x2000); /* wraps */
	ck_parse_fails(len, "outside guest RAM");
	set_load(0, 0x1000, 0x100000, 0x100, 1ULL << 40); /* oversized */
	ck_parse_fails(len, "outside guest RAM");
}
END_TEST

START_TEST(elf_overlap_and_sizes)
{
	size_t len = make_elf(2);

	set_load(0, 0x1000, 0x100000, 0x1000, 0x2000);
	set_load(1, 0x2000, 0x101000, 0x1000, 0x1000);
	ck_parse_fails(len, "overlap");
	make_elf(1);
	set_load(0, 0x1000, 0x100000, 0x2000, 0x1000);
	ck_parse_fails(len, "exceeds its memory size");
	make_elf(1);
	*phdr(0) = (Elf64_Phdr){ .p_type = PT_DYNAMIC };
	ck_parse_fails(len, "no loadable segment");
}
END_TEST

/* A bzImage with protocol @version and @xlf xloadflags. */
static size_t make_bz(uint16_t version, uint16_t xlf, uint8_t setup_sects)
{
	memset(img_buf, 0, sizeof(img_buf));
	img_buf[0x1f1] = setup_sects;
	img_buf[0x1fe] = 0x55;
	img_buf[0x1ff] = 0xaa;
	img_buf[0x201] = 0x6a; /* header runs to 0x26c */
	memcpy(img_buf + 0x202, "HdrS", 4);
	memcpy(img_buf + 0x206, &version, 2);
	img_buf[0x211] = 0x01; /* LOADED_HIGH */
	memcpy(img_buf + 0x236, &xlf, 2);
	uint32_t init_size = 0x100000, addr_max = 0x7fffffff;
	memcpy(img_buf + 0x260, &init_size, 4);
	memcpy(img_buf + 0x22c, &addr_max, 4);
	return sizeof(img_buf);
}

START_TEST(bzimage_valid)
{
	size_t len = make_bz(0x020f, 1, 4);

	ck_assert_int_eq(parse(len), 0);
	ck_assert_int_eq(img.kind, KERNEL_BZIMAGE);
	ck_assert_uint_eq(img.entry, 0x100200);
	ck_assert_uint_eq(img.seg[0].offset, 5 * 512);
	ck_assert_uint_eq(img.seg[0].filesz, len - 5 * 512);
	ck_assert_uint_eq(img.seg[0].memsz, 0x100000);
	ck_assert_uint_eq(img.setup_hdr_len, 0x26c - 0x1f1);
	ck_assert_uint_eq(img.initrd_addr_max, 0x7fffffff);
}
END_TEST

START_TEST(bzimage_bad)
{
	ck_parse_fails(make_bz(0x0206, 1, 4), "older than 2.12");
	ck_parse_fails(make_bz(0x020f, 0, 4), "no 64-bit entry");
	ck_parse_fails(make_bz(0x020f, 1, 200), "truncated");
	make_bz(0x020f, 1, 4);
	img_buf[0x211] = 0;
	ck_parse_fails(sizeof(img_buf), "zImage");
	make_bz(0x020f, 1, 4);
	uint32_t huge = 0xffffffff;
	memcpy(img_buf + 0x260, &huge, 4); /* init_size beyond RAM */
	ck_parse_fails(sizeof(img_buf), "outside guest RAM");
}
END_TEST

START_TEST(not_a_kernel)
{
	memset(img_buf, 'x', sizeof(img_buf));
	ck_parse_fails(sizeof(img_buf), "neither an ELF");
	ck_parse_fails(0, "too short");
}
END_TEST

Suite *loader_suite(void)
{
	Suite *s = suite_create("loader");
	TCase *tc = tcase_create("kernel_parse");

	tcase_add_test(tc, elf_valid);
	tcase_add_loop_test(tc, elf_pvh_note, 0, 2);
	tcase_add_test(tc, elf_pvh_entry_outside);
	tcase_add_test(tc, elf_truncated_header);
	tcase_add_test(tc, elf32_pvh);
	tcase_add_test(tc, elf_wrong_arch);
	tcase_add_test(tc, elf_phdrs_past_end);
	tcase_add_test(tc, elf_segment_past_end);
	tcase_add_test(tc, elf_segment_outside_ram);
	tcase_add_test(tc, elf_overlap_and_sizes);
	tcase_add_test(tc, bzimage_valid);
	tcase_add_test(tc, bzimage_bad);
	tcase_add_test(tc, not_a_kernel);
	suite_add_tcase(s, tc);
	return s;
}
