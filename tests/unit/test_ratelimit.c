/* Token-bucket arithmetic: rates, bursts, overdraws and waits. */
#include "unit.h"
#include "ratelimit.h"

#define MS 1000000ULL
#define S  1000000000ULL

static struct rate_limiter make(uint64_t size, uint64_t refill_ms,
                                uint64_t burst, uint64_t ops_size,
                                uint64_t ops_ms)
{
	struct rate_limiter rl = { 0 };
	struct rate_limiter_config c = {
		.bandwidth = { .set = true,
		               .size = size,
		               .refill_time_ms = refill_ms,
		               .one_time_burst = burst },
		.ops = { .set = ops_size != 0,
		         .size = ops_size,
		         .refill_time_ms = ops_ms },
	};

	rl_configure(&rl, &c, 1000 * S);
	return rl;
}

START_TEST(zero_means_unlimited)
{
	struct rate_limiter rl = make(0, 100, 5, 0, 0);

	ck_assert(!rl_active(&rl));
	for (int i = 0; i < 1000; i++)
		ck_assert(rl_consume(&rl, 1ULL << 40, 1, 1000 * S));
	rl = make(100, 0, 0, 0, 0);
	ck_assert(!rl_active(&rl));
	ck_assert_uint_eq(rl_wait_ns(&rl, 1ULL << 40, 1, 1000 * S), 0);
}
END_TEST

START_TEST(starts_full_then_refills_at_rate)
{
	/* 1000 bytes per 100 ms = 10000 B/s */
	struct rate_limiter rl = make(1000, 100, 0, 0, 0);
	uint64_t t = 1000 * S;

	ck_assert(rl_consume(&rl, 600, 1, t));
	ck_assert(rl_consume(&rl, 400, 1, t));
	ck_assert(!rl_consume(&rl, 1, 1, t));
	ck_assert_uint_eq(rl.throttled, 1);
	/* 1 byte takes 100 us */
	ck_assert_uint_eq(rl_wait_ns(&rl, 1, 1, t), 100000);
	ck_assert(!rl_consume(&rl, 1, 1, t + 99999));
	ck_assert(rl_consume(&rl, 1, 1, t + 100000));
	/* 500 bytes take 50 ms from now */
	ck_assert_uint_eq(rl_wait_ns(&rl, 500, 1, t + 100000), 50 * MS);
	ck_assert(rl_consume(&rl, 500, 1, t + 100000 + 50 * MS));
}
END_TEST

START_TEST(no_fraction_lost)
{
	/* 3 tokens a microsecond: many tiny refills must add up exactly. */
	struct rate_limiter rl = { 0 };
	struct rate_limiter_config c = {
		.bandwidth = { .set = true, .size = 3000, .refill_time_ms = 1 },
	};
	uint64_t t = 5 * S, got = 0;

	rl_configure(&rl, &c, t);
	ck_assert(rl_consume(&rl, 3000, 0, t));
	/* 1 ms in steps of 7 ns, taking a token whenever one is there */
	for (uint64_t s = 7; s <= MS; s += 7)
		while (rl_consume(&rl, 1, 0, t + s))
			got++;
	/* 1 ms refills 3000 tokens; the last 6 ns of it are not stepped */
	ck_assert_uint_ge(got, 2999);
	ck_assert_uint_le(got, 3000);
}
END_TEST

START_TEST(one_time_burst_first_and_once)
{
	struct rate_limiter rl = make(100, 1000, 1000, 0, 0);
	uint64_t t = 1000 * S;

	ck_assert(rl_consume(&rl, 1100, 1, t)); /* burst + bucket */
	ck_assert(!rl_consume(&rl, 1, 1, t));
	/* a full refill later only the bucket is back, not the burst */
	ck_assert(rl_consume(&rl, 100, 1, t + S));
	ck_assert(!rl_consume(&rl, 1, 1, t + S));
}
END_TEST

START_TEST(oversized_request_overdraws_once_full)
{
	/* 1000 B per second; a 5000-byte request */
	struct rate_limiter rl = make(1000, 1000, 0, 0, 0);
	uint64_t t = 1000 * S;

	ck_assert(rl_consume(&rl, 10, 1, t));
	/* not full: wait until it is (10 bytes: 10 ms) */
	ck_assert(!rl_consume(&rl, 5000, 1, t));
	ck_assert_uint_eq(rl_wait_ns(&rl, 5000, 1, t), 10 * MS);
	ck_assert(rl_consume(&rl, 5000, 1, t + 10 * MS));
	/* 4000 bytes of debt, then a full bucket before the next big one */
	ck_assert_uint_eq(rl_wait_ns(&rl, 1, 1, t + 10 * MS), 4 * S + MS);
	ck_assert_uint_eq(rl_wait_ns(&rl, 5000, 1, t + 10 * MS), 5 * S);
	ck_assert(!rl_consume(&rl, 1, 1, t + 10 * MS + 4 * S));
	ck_assert(rl_consume(&rl, 1, 1, t + 10 * MS + 4 * S + MS));
}
END_TEST

START_TEST(both_buckets_must_agree)
{
	/* plenty of bytes, 2 ops per second */
	struct rate_limiter rl = make(1 << 30, 1000, 0, 2, 1000);
	uint64_t t = 1000 * S;

	ck_assert(rl_consume(&rl, 100, 1, t));
	ck_assert(rl_consume(&rl, 100, 1, t));
	ck_assert(!rl_consume(&rl, 100, 1, t));
	/* nothing was taken from the bytes bucket by the refusal */
	ck_assert_int_eq(rl.bytes.budget, (1 << 30) - 200);
	ck_assert_uint_eq(rl_wait_ns(&rl, 100, 1, t), 500 * MS);
}
END_TEST

START_TEST(may_start_then_charge)
{
	struct rate_limiter rl = make(1500, 10, 0, 0, 0);
	uint64_t t = 1000 * S;

	ck_assert(rl_may_start(&rl, t));
	rl_charge(&rl, 9000, 1, t); /* a frame much bigger than asked */
	ck_assert(!rl_may_start(&rl, t));
	/* 7500 of debt + 1 token at 1500 per 10 ms: 50 ms + 6667 ns */
	ck_assert_uint_eq(rl_wait_ns(&rl, 0, 0, t), 50 * MS + 6667);
	ck_assert(rl_may_start(&rl, t + 50 * MS + 6667));
}
END_TEST

START_TEST(long_run_rate)
{
	/* 10 MiB/s as 1 MiB per 100 ms, 64 KiB frames for 5 s of time */
	struct rate_limiter rl = make(1 << 20, 100, 0, 0, 0);
	uint64_t t = 1000 * S, start = t, sent = 0;

	while (sent < 50ULL << 20) {
		if (rl_consume(&rl, 65536, 1, t))
			sent += 65536;
		else
			t += rl_wait_ns(&rl, 65536, 1, t);
	}
	/* the first MiB is the full bucket, the other 49 take 4.9 s */
	ck_assert_uint_ge(t - start, 4890 * MS);
	ck_assert_uint_le(t - start, 4900 * MS);
}
END_TEST

START_TEST(huge_values_do_not_overflow)
{
	struct rate_limiter rl =
	        make(UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, 1);
	uint64_t t = 1000 * S;

	ck_assert(rl_consume(&rl, UINT64_MAX, 1, t));
	ck_assert(rl_consume(&rl, UINT64_MAX, 1, t));
	ck_assert(!rl_consume(&rl, UINT64_MAX, 1, t + 1));
	ck_assert_uint_gt(rl_wait_ns(&rl, UINT64_MAX, 1, t + 1), 0);
	rl = make(1, 1, 0, 0, 0);
	ck_assert(rl_consume(&rl, UINT64_MAX, 1, t));
	ck_assert(!rl_consume(&rl, 1, 1, t));
	ck_assert_uint_gt(rl_wait_ns(&rl, 1, 1, t), 0);
}
END_TEST

Suite *ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("buckets");

	tcase_add_test(tc, zero_means_unlimited);
	tcase_add_test(tc, starts_full_then_refills_at_rate);
	tcase_add_test(tc, no_fraction_lost);
	tcase_add_test(tc, one_time_burst_first_and_once);
	tcase_add_test(tc, oversized_request_overdraws_once_full);
	tcase_add_test(tc, both_buckets_must_agree);
	tcase_add_test(tc, may_start_then_charge);
	tcase_add_test(tc, long_run_rate);
	tcase_add_test(tc, huge_values_do_not_overflow);
	suite_add_tcase(s, tc);
	return s;
}
