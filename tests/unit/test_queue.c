/*
 * Split virtqueues against crafted rings: good chains, and every way a
 * driver can break one. A broken ring must be reported, never followed.
 */
#include "unit.h"
#include "queue.h"
#include "vm.h"

#include <stdlib.h>
#include <string.h>

#define MEM      (1u << 20)
#define DESC_GPA 0x1000
#define AVAIL    0x2000
#define USED     0x3000
#define BUF      0x10000
#define QSIZE    8

static struct vm vm;
static struct vq q;
static struct vq_chain c;

static void setup(void)
{
	memset(&vm, 0, sizeof(vm));
	vm.mem = calloc(1, MEM);
	vm.mem_size = vm.low_size = MEM;
	vq_reset(&q, QSIZE);
	q.s.desc_gpa = DESC_GPA;
	q.s.avail_gpa = AVAIL;
	q.s.used_gpa = USED;
	q.s.ready = true;
	ck_assert_int_eq(vq_activate(&q, &vm), 0);
}

static void teardown(void)
{
	free(vm.mem);
}

static void set_desc(uint8_t *table, unsigned i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next)
{
	uint8_t *d = table + 16 * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                 uint16_t next)
{
	set_desc(vm.mem + DESC_GPA, i, addr, len, flags, next);
}

/* Publish @head at avail position @pos and bump avail->idx to @pos + 1. */
static void offer(uint16_t pos, uint16_t head)
{
	uint16_t idx = (uint16_t)(pos + 1);

	memcpy(vm.mem + AVAIL + 4 + 2 * (pos % QSIZE), &head, 2);
	memcpy(vm.mem + AVAIL + 2, &idx, 2);
}

#define ck_broken(msg)                                                         \
	do {                                                                   \
		ck_assert_int_eq(vq_pop(&q, &vm, &c), VQ_BROKEN);              \
		ck_assert_ptr_nonnull(q.error);                                \
		ck_assert_msg(strstr(q.error, msg), "error '%s' lacks '%s'",   \
		              q.error, msg);                                   \
	} while (0)

START_TEST(empty_ring)
{
	ck_assert_int_eq(vq_pop(&q, &vm, &c), VQ_EMPTY);
}
END_TEST

START_TEST(read_then_write_chain)
{
	desc(0, BUF, 16, VRING_DESC_F_NEXT, 5);
	desc(5, BUF + 0x100, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	desc(2, BUF + 0x400, 1, VRING_DESC_F_WRITE, 0);
	offer(0, 0);
	ck_assert_int_eq(vq_pop(&q, &vm, &c), VQ_CHAIN);
	ck_assert_uint_eq(c.head, 0);
	ck_assert_uint_eq(c.nout, 1);
	ck_assert_uint_eq(c.nin, 2);
	ck_assert_uint_eq(c.out_len, 16);
	ck_assert_uint_eq(c.in_len, 513);
	ck_assert_ptr_eq(c.iov[1].iov_base, vm.mem + BUF + 0x100);
	ck_assert_int_eq(vq_pop(&q, &vm, &c), VQ_EMPTY);

	vq_push(&q, c.head, 513);
	ck_assert(vq_publish(&q));
	uint16_t used_idx;
	uint32_t id, len;
	memcpy(&used_idx, vm.mem + USED + 2, 2);
	memcpy(&id, vm.mem + USED + 4, 4);
	memcpy(&len, vm.mem + USED + 8, 4);
	ck_assert_uint_eq(used_idx, 1);
	ck_assert_uint_eq(id, 0);
	ck_assert_uint_eq(len, 513);
}
END_TEST

START_TEST(wrapped_indexes)
{
	/* The 16-bit indexes wrap; the ring position is idx % size. */
	q.s.last_avail = 65534;
	desc(3, BUF, 8, 0, 0);
	offer(65534, 3);
	ck_assert_int_eq(vq_pop(&q, &vm, &c), VQ_CHAIN);
	offer(65535, 3);
	ck_assert_int_eq(vq_pop(&q, &vm, &c), VQ_CHAIN);
	ck_assert_uint_eq(q.s.last_avail, 0);
	ck_assert_int_eq(vq_pop(&q, &vm, &c), VQ_EMPTY);
}
END_TEST

START_TEST(index_too_far_ahead)
{
	uint16_t idx = QSIZE + 1;

	memcpy(vm.mem + AVAIL + 2, &idx, 2);
	ck_broken("more than a queue ahead");
}
END_TEST

START_TEST(head_out_of_range)
{
	offer(0, QSIZE);
	ck_broken("head index out of range");
	offer(0, 0xffff);
	ck_broken("head index out of range");
}
END_TEST

START_TEST(next_out_of_range)
{
	desc(0, BUF, 8, VRING_DESC_F_NEXT, QSIZE);
	offer(0, 0);
	ck_broken("next index out of range");
}
END_TEST

START_TEST(chain_loops)
{
	desc(0, BUF, 8, VRING_DESC_F_NEXT, 1);
	desc(1, BUF, 8, VRING_DESC_F_NEXT, 0);
	offer(0, 0);
	ck_broken("loop");
	desc(0, BUF, 8, VRING_DESC_F_NEXT, 0); /* points at itself */
	ck_broken("loop");
}
END_TEST

START_TEST(buffer_lengths)
{
	desc(0, BUF, 0, 0, 0); /* zero length: allowed, nothing to move */
	offer(0, 0);
	ck_assert_int_eq(vq_pop(&q, &vm, &c), VQ_CHAIN);
	ck_assert_uint_eq(c.out_len, 0);
	desc(0, BUF, 0xffffffff, 0, 0); /* 4 GiB in a 1 MiB guest */
	offer(1, 0);
	ck_broken("outside guest RAM");
}
END_TEST

START_TEST(buffer_addresses)
{
	desc(0, MEM - 4, 8, 0, 0); /* straddles the end of RAM */
	offer(0, 0);
	ck_broken("outside guest RAM");
	desc(0, UINT64_MAX - 3, 8, 0, 0); /* wraps */
	ck_broken("outside guest RAM");
}
END_TEST

START_TEST(writable_then_readable)
{
	desc(0, BUF, 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	desc(1, BUF, 8, 0, 0);
	offer(0, 0);
	ck_broken("readable descriptor after a writable one");
}
END_TEST

START_TEST(indirect_good)
{
	uint8_t *table = vm.mem + 0x8000;

	q.indirect = true;
	set_desc(table, 0, BUF, 4, VRING_DESC_F_NEXT, 1);
	set_desc(table, 1, BUF + 8, 100, VRING_DESC_F_WRITE, 0);
	desc(4, 0x8000, 32, VRING_DESC_F_INDIRECT, 0);
	offer(0, 4);
	ck_assert_int_eq(vq_pop(&q, &vm, &c), VQ_CHAIN);
	ck_assert_uint_eq(c.head, 4);
	ck_assert_uint_eq(c.nout, 1);
	ck_assert_uint_eq(c.nin, 1);
	ck_assert_uint_eq(c.in_len, 100);
}
END_TEST

START_TEST(indirect_bad)
{
	uint8_t *table = vm.mem + 0x8000;

	set_desc(table, 0, BUF, 4, 0, 0);
	desc(0, 0x8000, 16, VRING_DESC_F_INDIRECT, 0);
	offer(0, 0);
	ck_broken("not negotiated");

	q.indirect = true;
	desc(0, 0x8000, 17, VRING_DESC_F_INDIRECT, 0);
	ck_broken("bad indirect table length");
	desc(0, 0x8000, 0, VRING_DESC_F_INDIRECT, 0);
	ck_broken("bad indirect table length");
	desc(0, 0x8000, 16 * (VQ_MAX_SEGS + 1), VRING_DESC_F_INDIRECT, 0);
	ck_broken("bad indirect table length");
	desc(0, MEM - 16, 32, VRING_DESC_F_INDIRECT, 0);
	ck_broken("indirect table outside guest RAM");
	desc(0, 0x8000, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	ck_broken("indirect descriptor with NEXT");

	set_desc(table, 0, 0x8000, 16, VRING_DESC_F_INDIRECT, 0);
	desc(0, 0x8000, 16, VRING_DESC_F_INDIRECT, 0);
	ck_broken("nested indirect");

	set_desc(table, 0, BUF, 4, VRING_DESC_F_NEXT, 1);
	set_desc(table, 1, BUF, 4, VRING_DESC_F_NEXT, 0);
	desc(0, 0x8000, 32, VRING_DESC_F_INDIRECT, 0);
	ck_broken("loop in an indirect table");

	set_desc(table, 0, BUF, 4, VRING_DESC_F_NEXT, 2);
	desc(0, 0x8000, 32, VRING_DESC_F_INDIRECT, 0);
	ck_broken("indirect next index out of range");

	desc(0, BUF, 4, VRING_DESC_F_NEXT, 1);
	desc(1, 0x8000, 16, VRING_DESC_F_INDIRECT, 0);
	ck_broken("indirect descriptor inside a chain");
}
END_TEST

START_TEST(activate_checks)
{
	vq_reset(&q, 6);
	q.s.desc_gpa = DESC_GPA;
	q.s.avail_gpa = AVAIL;
	q.s.used_gpa = USED;
	ck_assert_int_eq(vq_activate(&q, &vm), -1); /* not a power of 2 */
	q.s.num = 512;
	ck_assert_int_eq(vq_activate(&q, &vm), -1); /* above QueueNumMax */
	q.s.num = QSIZE;
	q.s.desc_gpa = DESC_GPA + 8;
	ck_assert_int_eq(vq_activate(&q, &vm), -1);
	ck_assert_ptr_nonnull(strstr(q.error, "misaligned"));
	q.s.desc_gpa = MEM - 64; /* table runs past RAM */
	ck_assert_int_eq(vq_activate(&q, &vm), -1);
	ck_assert_ptr_nonnull(strstr(q.error, "outside guest RAM"));
	q.s.desc_gpa = DESC_GPA;
	ck_assert_int_eq(vq_activate(&q, &vm), 0);
}
END_TEST

START_TEST(interrupt_suppression)
{
	uint16_t v;

	desc(0, BUF, 8, 0, 0);
	/* Without EVENT_IDX: NO_INTERRUPT in avail->flags is honoured. */
	v = VRING_AVAIL_F_NO_INTERRUPT;
	memcpy(vm.mem + AVAIL, &v, 2);
	vq_push(&q, 0, 0);
	ck_assert(!vq_publish(&q));
	v = 0;
	memcpy(vm.mem + AVAIL, &v, 2);
	vq_push(&q, 0, 0);
	ck_assert(vq_publish(&q));

	/* EVENT_IDX: interrupt only when used_event is crossed. */
	q.event_idx = true;
	v = 5; /* used_event: interrupt once used idx passes 5 */
	memcpy(vm.mem + AVAIL + 4 + 2 * QSIZE, &v, 2);
	vq_push(&q, 0, 0);
	ck_assert(vq_publish(&q)); /* first publish always notifies */
	vq_push(&q, 0, 0);         /* used idx 4 */
	ck_assert(!vq_publish(&q));
	vq_push(&q, 0, 0); /* used idx 5 */
	ck_assert(!vq_publish(&q));
	vq_push(&q, 0, 0); /* used idx 6: 5 was crossed */
	ck_assert(vq_publish(&q));
	ck_assert(vq_need_event(0xffff, 0, 0xfffe)); /* across the wrap */
}
END_TEST

START_TEST(enable_notify_sees_late_buffers)
{
	q.event_idx = true;
	ck_assert(!vq_enable_notify(&q));
	uint16_t ev;
	memcpy(&ev, vm.mem + USED + 4 + 8 * QSIZE, 2);
	ck_assert_uint_eq(ev, q.s.last_avail);
	desc(0, BUF, 8, 0, 0);
	offer(0, 0);
	ck_assert(vq_enable_notify(&q)); /* must drain again */
}
END_TEST

Suite *queue_suite(void)
{
	Suite *s = suite_create("virtqueue");
	TCase *tc = tcase_create("split");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, empty_ring);
	tcase_add_test(tc, read_then_write_chain);
	tcase_add_test(tc, wrapped_indexes);
	tcase_add_test(tc, index_too_far_ahead);
	tcase_add_test(tc, head_out_of_range);
	tcase_add_test(tc, next_out_of_range);
	tcase_add_test(tc, chain_loops);
	tcase_add_test(tc, buffer_lengths);
	tcase_add_test(tc, buffer_addresses);
	tcase_add_test(tc, writable_then_readable);
	tcase_add_test(tc, indirect_good);
	tcase_add_test(tc, indirect_bad);
	tcase_add_test(tc, activate_checks);
	tcase_add_test(tc, interrupt_suppression);
	tcase_add_test(tc, enable_notify_sees_late_buffers);
	suite_add_tcase(s, tc);
	return s;
}
