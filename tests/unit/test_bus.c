/* The PIO/MMIO bus: overlap checks and dispatch at range edges. */
#include "unit.h"
#include "bus.h"

#include <errno.h>
#include <string.h>

static uint64_t last_off;
static unsigned hits;

static void rd(void *opaque, uint64_t off, uint8_t *data, uint32_t size)
{
	last_off = off;
	hits++;
	memset(data, 0xab, size);
}

static void wr(void *opaque, uint64_t off, const uint8_t *data, uint32_t size)
{
	last_off = off;
	hits++;
}

#define DEV(n, b, l)                                                           \
	{                                                                      \
		.name = n, .base = b, .len = l, .read = rd, .write = wr        \
	}

START_TEST(bus_overlaps)
{
	struct bus b;
	struct bus_dev a = DEV("a", 0x100, 0x10), same = DEV("same", 0x100, 1),
	               tail = DEV("tail", 0x10f, 4),
	               head = DEV("head", 0xf0, 0x11),
	               around = DEV("around", 0, 0x1000),
	               below = DEV("below", 0xf0, 0x10),
	               above = DEV("above", 0x110, 0x10),
	               empty = DEV("empty", 0x500, 0),
	               wrap = DEV("wrap", UINT64_MAX - 1, 4);

	bus_init(&b, "test");
	ck_assert_int_eq(bus_add(&b, &a), 0);
	ck_assert_int_eq(bus_add(&b, &same), -EEXIST);
	ck_assert_int_eq(bus_add(&b, &tail), -EEXIST);
	ck_assert_int_eq(bus_add(&b, &head), -EEXIST);
	ck_assert_int_eq(bus_add(&b, &around), -EEXIST);
	ck_assert_int_eq(bus_add(&b, &below), 0);
	ck_assert_int_eq(bus_add(&b, &above), 0);
	ck_assert_int_eq(bus_add(&b, &empty), -EINVAL);
	ck_assert_int_eq(bus_add(&b, &wrap), -EINVAL);
	ck_assert_uint_eq(b.n, 3);
	/* Kept sorted for the binary search. */
	ck_assert_ptr_eq(b.devs[0], &below);
	ck_assert_ptr_eq(b.devs[1], &a);
	ck_assert_ptr_eq(b.devs[2], &above);
}
END_TEST

START_TEST(bus_dispatch_edges)
{
	struct bus b;
	struct bus_dev a = DEV("a", 0x100, 0x10), c = DEV("c", 0x110, 0x10);
	uint8_t data[8];

	bus_init(&b, "test");
	ck_assert_int_eq(bus_add(&b, &a), 0);
	ck_assert_int_eq(bus_add(&b, &c), 0);
	ck_assert_ptr_eq(bus_find(&b, 0x100, 1), &a);
	ck_assert_ptr_eq(bus_find(&b, 0x10f, 1), &a);
	ck_assert_ptr_eq(bus_find(&b, 0x10c, 4), &a);
	ck_assert_ptr_eq(bus_find(&b, 0x110, 1), &c);
	ck_assert_ptr_null(bus_find(&b, 0xff, 1));
	ck_assert_ptr_null(bus_find(&b, 0x120, 1));
	/* An access that straddles two devices belongs to neither. */
	ck_assert_ptr_null(bus_find(&b, 0x10e, 4));
	ck_assert_ptr_null(bus_find(&b, UINT64_MAX, 8));
	ck_assert_ptr_null(bus_find(&b, 0x100, 0));

	hits = 0;
	ck_assert(bus_access(&b, 0x114, data, 4, false));
	ck_assert_uint_eq(last_off, 4);
	ck_assert_uint_eq(data[3], 0xab);
	ck_assert(!bus_access(&b, 0x200, data, 2, false));
	ck_assert_uint_eq(data[0], 0xff); /* unmapped reads as all ones */
	ck_assert(!bus_access(&b, 0x200, data, 2, true));
	ck_assert_uint_eq(hits, 1);
}
END_TEST

Suite *bus_suite(void)
{
	Suite *s = suite_create("bus");
	TCase *tc = tcase_create("bus");

	tcase_add_test(tc, bus_overlaps);
	tcase_add_test(tc, bus_dispatch_edges);
	suite_add_tcase(s, tc);
	return s;
}
