/*
 * Scatter-gather helpers against a flat buffer: a list of uneven pieces
 * (one of them empty) over one array must behave like that array.
 */
#include "unit.h"
#include "iov.h"

#include <stdint.h>
#include <string.h>

#define FLAT 64

static uint8_t flat[FLAT];
/* 64 bytes in pieces of 1, 0, 7, 16, 3, 37. */
static struct iovec pieces[6];

static void setup(void)
{
	static const size_t len[] = { 1, 0, 7, 16, 3, 37 };
	size_t at = 0;

	for (unsigned i = 0; i < FLAT; i++)
		flat[i] = (uint8_t)(i * 7 + 1);
	for (unsigned i = 0; i < 6; i++) {
		pieces[i] = (struct iovec){ flat + at, len[i] };
		at += len[i];
	}
}

START_TEST(len_sums_the_pieces)
{
	ck_assert_uint_eq(iov_len(pieces, 6), FLAT);
	ck_assert_uint_eq(iov_len(pieces, 3), 8);
	ck_assert_uint_eq(iov_len(pieces, 0), 0);
}
END_TEST

START_TEST(copy_from_every_range)
{
	for (size_t off = 0; off <= FLAT; off++) {
		for (size_t len = 0; off + len <= FLAT; len++) {
			uint8_t got[FLAT];

			memset(got, 0xee, sizeof(got));
			ck_assert(iov_copy_from(pieces, 6, off, got, len));
			ck_assert_mem_eq(got, flat + off, len);
			/* Nothing written past @len. */
			if (len < FLAT)
				ck_assert_uint_eq(got[len], 0xee);
		}
	}
}
END_TEST

START_TEST(copy_to_every_range)
{
	uint8_t want[FLAT], src[FLAT];

	for (unsigned i = 0; i < FLAT; i++)
		src[i] = (uint8_t)(0x80 | i);
	for (size_t off = 0; off <= FLAT; off++) {
		for (size_t len = 0; off + len <= FLAT; len++) {
			setup();
			memcpy(want, flat, FLAT);
			memcpy(want + off, src, len);
			ck_assert(iov_copy_to(pieces, 6, off, src, len));
			ck_assert_mem_eq(flat, want, FLAT);
		}
	}
}
END_TEST

START_TEST(short_list_copies_what_it_has)
{
	uint8_t got[FLAT] = { 0 }, src[FLAT];

	/* The first three pieces hold 8 bytes: 6 from offset 2. */
	ck_assert(!iov_copy_from(pieces, 3, 2, got, 10));
	ck_assert_mem_eq(got, flat + 2, 6);
	ck_assert_uint_eq(got[6], 0);
	ck_assert(!iov_copy_from(pieces, 6, FLAT, got, 1));
	memset(src, 0x5a, sizeof(src));
	ck_assert(!iov_copy_to(pieces, 3, 5, src, 4));
	ck_assert_uint_eq(flat[4], (uint8_t)(4 * 7 + 1));
	ck_assert_uint_eq(flat[5], 0x5a);
	ck_assert_uint_eq(flat[7], 0x5a);
	ck_assert_uint_eq(flat[8], (uint8_t)(8 * 7 + 1));
	/* An empty copy always succeeds, even past the end. */
	ck_assert(iov_copy_from(pieces, 6, 2 * FLAT, got, 0));
}
END_TEST

START_TEST(slice_every_range)
{
	for (size_t skip = 0; skip <= FLAT + 1; skip++) {
		for (size_t max = 0; max <= FLAT + 1; max++) {
			struct iovec out[6];
			size_t want = skip >= FLAT
			                      ? 0
			                      : (FLAT - skip < max ? FLAT - skip
			                                           : max);
			unsigned n = iov_slice(pieces, 6, skip, max, out);
			uint8_t got[FLAT];

			ck_assert_uint_le(n, 6);
			ck_assert_uint_eq(iov_len(out, n), want);
			for (unsigned i = 0; i < n; i++)
				ck_assert_uint_gt(out[i].iov_len, 0);
			ck_assert(iov_copy_from(out, n, 0, got, want));
			ck_assert_mem_eq(got, flat + skip, want);
		}
	}
}
END_TEST

START_TEST(slice_all_and_pieces_kept)
{
	struct iovec out[6];
	unsigned n = iov_slice(pieces, 6, 3, SIZE_MAX, out);

	/* 1 | 0 | 7 | 16 | 3 | 37 from offset 3: 5 of the third piece on. */
	ck_assert_uint_eq(n, 4);
	ck_assert_ptr_eq(out[0].iov_base, flat + 3);
	ck_assert_uint_eq(out[0].iov_len, 5);
	ck_assert_ptr_eq(out[1].iov_base, pieces[3].iov_base);
	ck_assert_uint_eq(out[3].iov_len, 37);
	n = iov_slice(pieces, 6, 0, 9, out);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(out[2].iov_len, 1);
}
END_TEST

Suite *iov_suite(void)
{
	Suite *s = suite_create("iov");
	TCase *tc = tcase_create("helpers");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, len_sums_the_pieces);
	tcase_add_test(tc, copy_from_every_range);
	tcase_add_test(tc, copy_to_every_range);
	tcase_add_test(tc, short_list_copies_what_it_has);
	tcase_add_test(tc, slice_every_range);
	tcase_add_test(tc, slice_all_and_pieces_kept);
	suite_add_tcase(s, tc);
	return s;
}
