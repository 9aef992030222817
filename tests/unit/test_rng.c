/*
 * virtio-rng without KVM: a fake driver in fake guest RAM, the real
 * transport and queue code; the host's getrandom, a failing one and a
 * rate limiter that holds requests back (and a snapshot of a held one).
 */
#include "unit.h"
#include "evloop.h"
#include "fake_driver.h"
#include "rng.h"

#include <string.h>
#include <unistd.h>

#define MEM   (1u << 20)
#define BASE  0xc0001000ULL
#define DESC  0x1000
#define AVAIL 0x2000
#define USED  0x3000
#define BUF   0x10000
#define QN    8

static struct vm vm;
static struct evloop loop;
static struct rng rng;
static uint16_t pos;

static void up(const struct rate_limiter_config *rl)
{
	char err[256];

	ck_assert_msg(rng_init(&rng, &vm, rl ? &loop : NULL, rl, BASE, 5, err,
	                       sizeof(err)) == 0,
	              "%s", err);
	ck_assert_uint_eq(fake_rd(&vm, BASE + VIRTIO_MMIO_DEVICE_ID), 4);
	fake_negotiate(&vm, BASE, 1ULL << VIRTIO_F_VERSION_1);
	fake_queue(&vm, BASE, QN, DESC, AVAIL, USED);
	fake_driver_ok(&vm, BASE);
	ck_assert_uint_eq(fake_rd(&vm, BASE + VIRTIO_MMIO_STATUS) & 0x4f, 0x0f);
}

static void setup(void)
{
	fake_vm_init(&vm, MEM);
	ck_assert_int_eq(evloop_init(&loop), 0);
	pos = 0;
}

static void teardown(void)
{
	rng_destroy(&rng);
	evloop_destroy(&loop);
	free(vm.mem);
}

/* The used length of the entry at position @p. */
static uint32_t used_len(uint16_t p)
{
	uint32_t len;

	memcpy(&len, vm.mem + USED + 4 + 8 * (p % QN) + 4, 4);
	return len;
}

/* One chain of @n buffers of @len bytes each, @flags, and a notify. */
static void post(unsigned n, uint32_t len, uint16_t flags)
{
	for (unsigned i = 0; i < n; i++)
		fake_desc(
		        &vm, DESC, i, BUF + (uint64_t)i * len, len,
		        (uint16_t)(flags | (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
		        (uint16_t)(i + 1));
	fake_offer(&vm, AVAIL, QN, pos++, 0);
	virtio_mmio_notify(&rng.t, 0);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

START_TEST(fills_buffers)
{
	up(NULL);
	post(1, 64, VRING_DESC_F_WRITE);
	ck_assert_uint_eq(fake_used_idx(&vm, USED), 1);
	ck_assert_uint_eq(used_len(0), 64);
	ck_assert(!all_zero(vm.mem + BUF, 64));
	ck_assert(all_zero(vm.mem + BUF + 64, 64)); /* not past the buffer */
	/* Three buffers of one chain, every one filled. */
	memset(vm.mem + BUF, 0, 3 * 4096);
	post(3, 4096, VRING_DESC_F_WRITE);
	ck_assert_uint_eq(used_len(1), 3 * 4096);
	for (unsigned i = 0; i < 3; i++)
		ck_assert(!all_zero(vm.mem + BUF + i * 4096 + 4000, 96));
	ck_assert_uint_eq(rng.stats.entropy_bytes, 64 + 3 * 4096);
	ck_assert_uint_eq(rng.stats.entropy_event_count, 2);
}
END_TEST

/* A request is at most RNG_MAX_REQ bytes, whatever the chain claims. */
START_TEST(capped)
{
	up(NULL);
	memset(vm.mem + BUF, 0, 3 * 32768);
	post(3, 32768, VRING_DESC_F_WRITE);
	ck_assert_uint_eq(used_len(0), RNG_MAX_REQ);
	ck_assert(all_zero(vm.mem + BUF + RNG_MAX_REQ, 32768));
}
END_TEST

static bool fail_fill(void *p, size_t len)
{
	(void)p;
	(void)len;
	return false;
}

/* A device-readable buffer and a host failure: 0 bytes, counted. */
START_TEST(refusals)
{
	bool (*saved)(void *, size_t) = rng_fill;

	up(NULL);
	post(1, 64, 0);
	ck_assert_uint_eq(fake_used_idx(&vm, USED), 1);
	ck_assert_uint_eq(used_len(0), 0);
	ck_assert(all_zero(vm.mem + BUF, 64));
	ck_assert_uint_eq(rng.stats.entropy_event_fails, 1);
	rng_fill = fail_fill;
	post(1, 64, VRING_DESC_F_WRITE);
	rng_fill = saved;
	ck_assert_uint_eq(used_len(1), 0);
	ck_assert_uint_eq(rng.stats.host_rng_fails, 1);
	/* The device goes on. */
	post(1, 16, VRING_DESC_F_WRITE);
	ck_assert_uint_eq(used_len(2), 16);
	ck_assert(!(fake_rd(&vm, BASE + VIRTIO_MMIO_STATUS) &
	            VIRTIO_CONFIG_S_NEEDS_RESET));
}
END_TEST

/* A second vCPU, as it were: each fill offers the same chain again. */
static bool refill(void *p, size_t len)
{
	memset(p, 0xa5, len);
	fake_offer(&vm, AVAIL, QN, pos++, 0);
	return true;
}

static uint64_t drain_fd(int fd)
{
	uint64_t v = 0;

	return read(fd, &v, sizeof(v)) == sizeof(v) ? v : 0;
}

/*
 * A guest that keeps its ring full gets VIRTIO_MMIO_BUDGET chains per
 * turn of the event loop, and the device kicks itself for the rest:
 * the loop (the API, signals, other devices) is never held. A notify
 * that finds nothing raises no interrupt.
 */
START_TEST(one_notify_is_bounded)
{
	bool (*saved)(void *, size_t) = rng_fill;

	up(NULL);
	drain_fd(rng.t.irq_fd);
	virtio_mmio_notify(&rng.t, 0);
	ck_assert_uint_eq(drain_fd(rng.t.irq_fd), 0);
	rng_fill = refill;
	post(1, 16, VRING_DESC_F_WRITE);
	ck_assert_uint_eq(fake_used_idx(&vm, USED), VIRTIO_MMIO_BUDGET);
	ck_assert_uint_eq(drain_fd(rng.t.notify_fd[0]), 1);
	ck_assert_uint_ge(drain_fd(rng.t.irq_fd), 1);
	virtio_mmio_notify(&rng.t, 0); /* the loop's next turn */
	rng_fill = saved;
	ck_assert_uint_eq(fake_used_idx(&vm, USED), 2 * VIRTIO_MMIO_BUDGET);
	ck_assert_uint_eq(drain_fd(rng.t.notify_fd[0]), 1);
}
END_TEST

/*
 * 100 bytes per 10 s: the first request passes, the second is held
 * (not answered, the timer armed), saved and restored as held; a reset
 * drops it.
 */
START_TEST(rate_limited)
{
	struct rate_limiter_config rl = {
		.bandwidth = { .set = true,
		               .size = 100,
		               .refill_time_ms = 10000 },
	};
	struct rng_snap s;
	char err[256];

	up(&rl);
	post(1, 100, VRING_DESC_F_WRITE);
	ck_assert_uint_eq(fake_used_idx(&vm, USED), 1);
	post(1, 100, VRING_DESC_F_WRITE);
	ck_assert_uint_eq(fake_used_idx(&vm, USED), 1);
	ck_assert(rng.holding && rng.timer.armed);
	ck_assert_uint_eq(rng.stats.entropy_rate_limiter_throttled, 1);
	rng_save(&rng, &s);
	ck_assert(s.holding == 1 && s.held_head == 0);
	rng.holding = false;
	ck_assert_int_eq(rng_restore(&rng, &s, err, sizeof(err)), 0);
	ck_assert(rng.holding);
	s.holding = 7;
	ck_assert_int_eq(rng_restore(&rng, &s, err, sizeof(err)), -1);
	s = (struct rng_snap){ .holding = 1, .held_head = 70000 };
	ck_assert_int_eq(rng_restore(&rng, &s, err, sizeof(err)), -1);
	fake_wr(&vm, BASE + VIRTIO_MMIO_STATUS, 0);
	ck_assert(!rng.holding);
}
END_TEST

Suite *rng_suite(void)
{
	Suite *s = suite_create("virtio-rng");
	TCase *tc = tcase_create("requests");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, fills_buffers);
	tcase_add_test(tc, capped);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, rate_limited);
	tcase_add_test(tc, one_notify_is_bounded);
	suite_add_tcase(s, tc);
	return s;
}
