/*
 * The CPU topology wisp shows a guest, without KVM: a made-up table as
 * KVM_GET_SUPPORTED_CPUID might give it, through x86_cpuid_init(). With
 * SMT, vCPUs pair into cores on Intel's leaves and AMD's alike.
 */
#include "unit.h"
#include "util.h"
#include "vm.h"
#include "x86/x86.h"

#include <stdlib.h>
#include <string.h>

static const struct kvm_cpuid_entry2 host[] = {
	{ .function = 0x1, .ebx = 0x00010800 },
	{ .function = 0x4, .index = 0, .eax = 1 << 5 }, /* L1 */
	{ .function = 0x4, .index = 2, .eax = 2 << 5 }, /* L2 */
	{ .function = 0x4, .index = 3, .eax = 3 << 5 }, /* L3 */
	{ .function = 0xb, .index = 0 },
	{ .function = 0xb, .index = 1 },
	{ .function = 0x80000008, .ecx = 0x703f }, /* the host's 64 */
	{ .function = 0x8000001d, .index = 0, .eax = 1 << 5 },
	{ .function = 0x8000001d, .index = 3, .eax = 3 << 5 },
	{ .function = 0x8000001e, .ebx = 0x0100, .ecx = 0x0101 },
};

static struct vm vm;

static const struct kvm_cpuid_entry2 *leaf(uint32_t fn, uint32_t index)
{
	for (uint32_t i = 0; i < vm.cpuid->nent; i++)
		if (vm.cpuid->entries[i].function == fn &&
		    vm.cpuid->entries[i].index == index)
			return &vm.cpuid->entries[i];
	ck_abort_msg("no leaf 0x%x.%u", fn, index);
	return NULL;
}

static void topology(unsigned nvcpus, unsigned tpc)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + sizeof(host));

	ck_assert_ptr_nonnull(c);
	c->nent = ARRAY_SIZE(host);
	memcpy(c->entries, host, sizeof(host));
	memset(&vm, 0, sizeof(vm));
	vm.cpuid_kvm = c;
	vm.nvcpus = nvcpus;
	vm.threads_per_core = tpc;
	char err[256];

	ck_assert_msg(x86_cpuid_init(&vm, NULL, err, sizeof(err)) == 0, "%s",
	              err);
}

static void teardown(void)
{
	free(vm.cpuid);
	free(vm.cpuid_kvm);
}

#define SHARING(e) (((e)->eax >> 14) & 0xfff)

START_TEST(smt_pairs_vcpus_into_cores)
{
	topology(4, 2);
	ck_assert_uint_eq((leaf(0x1, 0)->ebx >> 16) & 0xff, 4);
	ck_assert_uint_eq(leaf(0x4, 0)->eax >> 26, 1); /* 2 cores - 1 */
	ck_assert_uint_eq(SHARING(leaf(0x4, 0)), 1);   /* L1: 2 threads */
	ck_assert_uint_eq(SHARING(leaf(0x4, 2)), 1);
	ck_assert_uint_eq(SHARING(leaf(0x4, 3)), 3); /* L3: all four */
	ck_assert_uint_eq(leaf(0xb, 0)->ebx, 2);     /* threads a core */
	ck_assert_uint_eq(leaf(0xb, 0)->eax, 1);     /* their id bits */
	ck_assert_uint_eq(leaf(0xb, 1)->ebx, 4);
	ck_assert_uint_eq(leaf(0xb, 1)->eax, 2);
	ck_assert_uint_eq(leaf(0x80000008, 0)->ecx & 0xff, 3);
	ck_assert_uint_eq((leaf(0x8000001e, 0)->ebx >> 8) & 0xff, 1);
	ck_assert_uint_eq(SHARING(leaf(0x8000001d, 0)), 1);
	ck_assert_uint_eq(SHARING(leaf(0x8000001d, 3)), 3);
}
END_TEST

/* Without SMT: one thread a core, whatever the host has. */
START_TEST(one_thread_a_core)
{
	topology(6, 1);
	ck_assert_uint_eq(leaf(0x4, 0)->eax >> 26, 5);
	ck_assert_uint_eq(SHARING(leaf(0x4, 0)), 0);
	ck_assert_uint_eq(SHARING(leaf(0x4, 3)), 5);
	ck_assert_uint_eq(leaf(0xb, 0)->ebx, 1);
	ck_assert_uint_eq(leaf(0xb, 0)->eax, 0);
	ck_assert_uint_eq(leaf(0xb, 1)->ebx, 6);
	ck_assert_uint_eq(leaf(0xb, 1)->eax, 3); /* 6 ids need 3 bits */
	ck_assert_uint_eq(leaf(0x80000008, 0)->ecx & 0xff, 5);
	ck_assert_uint_eq((leaf(0x8000001e, 0)->ebx >> 8) & 0xff, 0);
	ck_assert_uint_eq(leaf(0x8000001e, 0)->ecx, 0); /* one node */
}
END_TEST

Suite *cpuid_suite(void)
{
	Suite *s = suite_create("cpuid");
	TCase *tc = tcase_create("topology");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, smt_pairs_vcpus_into_cores);
	tcase_add_test(tc, one_thread_a_core);
	suite_add_tcase(s, tc);
	return s;
}
