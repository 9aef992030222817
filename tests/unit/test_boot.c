/* Boot structures: e820, command line, MP table, initrd placement. */
#include "unit.h"
#include "util.h"
#include "x86/x86.h"

#include <string.h>

START_TEST(e820_small)
{
	struct e820_entry e[X86_E820_MAX];
	unsigned n = e820_build(128 * MIB, e);

	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(e[0].addr, 0);
	ck_assert_uint_eq(e[0].size, 0x9fc00);
	ck_assert_uint_eq(e[0].type, E820_RAM);
	ck_assert_uint_eq(e[1].type, E820_RESERVED);
	ck_assert_uint_eq(e[1].addr + e[1].size, 0x100000);
	ck_assert_uint_eq(e[2].addr, 0x100000);
	ck_assert_uint_eq(e[2].addr + e[2].size, 128 * MIB);
}
END_TEST

START_TEST(e820_split_at_hole)
{
	struct e820_entry e[X86_E820_MAX];
	unsigned n = e820_build(4 * GIB, e);

	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(e[2].addr + e[2].size, 3 * GIB);
	ck_assert_uint_eq(e[3].addr, 4 * GIB);
	ck_assert_uint_eq(e[3].size, 1 * GIB);
	/* Exactly up to the hole: no high entry. */
	ck_assert_uint_eq(e820_build(3 * GIB, e), 3);
}
END_TEST

START_TEST(cmdline_join_and_limit)
{
	char out[X86_CMDLINE_MAX], err[256], big[X86_CMDLINE_MAX + 8];

	ck_assert_int_eq(cmdline_build(out, "console=ttyS0", "noxsave", err,
	                               sizeof(err)),
	                 0);
	ck_assert_str_eq(out, "console=ttyS0 noxsave");
	ck_assert_int_eq(cmdline_build(out, "a", NULL, err, sizeof(err)), 0);
	ck_assert_str_eq(out, "a");
	ck_assert_int_eq(cmdline_build(out, "", "b", err, sizeof(err)), 0);
	ck_assert_str_eq(out, "b");

	/* 2047 bytes and the NUL fit; one more does not. */
	memset(big, 'x', sizeof(big));
	big[X86_CMDLINE_MAX - 1] = '\0';
	ck_assert_int_eq(cmdline_build(out, big, NULL, err, sizeof(err)), 0);
	big[X86_CMDLINE_MAX - 1] = 'x';
	big[X86_CMDLINE_MAX] = '\0';
	ck_assert_int_eq(cmdline_build(out, big, NULL, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "more than the 2047"));
	big[X86_CMDLINE_MAX - 3] = '\0';
	ck_assert_int_eq(cmdline_build(out, big, "yy", err, sizeof(err)), -1);
}
END_TEST

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

START_TEST(mptable_checksums_and_cpus)
{
	uint8_t buf[1024];
	unsigned ncpus = (unsigned)_i;
	int n = mptable_build(buf, sizeof(buf), 0x9fc00, ncpus);
	uint16_t len, count;
	unsigned cpus = 0;

	ck_assert_int_gt(n, 0);
	ck_assert_mem_eq(buf, "_MP_", 4);
	ck_assert_uint_eq(sum(buf, 16), 0);
	ck_assert_mem_eq(buf + 16, "PCMP", 4);
	memcpy(&len, buf + 16 + 4, 2);
	memcpy(&count, buf + 16 + 34, 2);
	ck_assert_uint_eq(sum(buf + 16, len), 0);
	for (uint8_t *p = buf + 16 + 44; p < buf + 16 + len;) {
		if (*p == 0) {
			ck_assert_uint_eq(p[1], cpus); /* APIC id */
			ck_assert_uint_eq(p[3] & 2, cpus == 0 ? 2 : 0);
			cpus++;
			p += 20;
		} else {
			p += 8;
		}
	}
	ck_assert_uint_eq(cpus, ncpus);
	ck_assert_uint_eq(count, ncpus + 2 + 24 + 2);
}
END_TEST

START_TEST(mptable_too_small)
{
	uint8_t buf[64];

	ck_assert_int_eq(mptable_build(buf, sizeof(buf), 0x9fc00, 1), -1);
	ck_assert_int_eq(mptable_build(buf, sizeof(buf), 0x9fc00, 0), -1);
}
END_TEST

START_TEST(initrd_place)
{
	uint64_t gpa;

	ck_assert_int_eq(
	        x86_initrd_place(128 * MIB, 1000, 2 * MIB, UINT32_MAX, &gpa),
	        0);
	ck_assert_uint_eq(gpa, 128 * MIB - 4096);
	ck_assert_uint_eq(gpa % 4096, 0);
	/* Capped by the kernel's initrd_addr_max. */
	ck_assert_int_eq(
	        x86_initrd_place(128 * MIB, 4096, 2 * MIB, 64 * MIB - 1, &gpa),
	        0);
	ck_assert_uint_eq(gpa, 64 * MIB - 4096);
	/* Does not fit above the kernel, or at all. */
	ck_assert_int_eq(x86_initrd_place(128 * MIB, 127 * MIB, 2 * MIB,
	                                  UINT32_MAX, &gpa),
	                 -1);
	ck_assert_int_eq(
	        x86_initrd_place(128 * MIB, UINT64_MAX, 0, UINT32_MAX, &gpa),
	        -1);
}
END_TEST

Suite *boot_suite(void)
{
	Suite *s = suite_create("boot");
	TCase *tc = tcase_create("structures");

	tcase_add_test(tc, e820_small);
	tcase_add_test(tc, e820_split_at_hole);
	tcase_add_test(tc, cmdline_join_and_limit);
	tcase_add_loop_test(tc, mptable_checksums_and_cpus, 1, 33);
	tcase_add_test(tc, mptable_too_small);
	tcase_add_test(tc, initrd_place);
	suite_add_tcase(s, tc);
	return s;
}
