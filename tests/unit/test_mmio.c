/*
 * The virtio-mmio transport through its registers, with a fake device:
 * identity, feature negotiation, the status machine, queue setup,
 * notifications, interrupts, reset and DEVICE_NEEDS_RESET.
 */
#include "unit.h"
#include "mmio.h"
#include "vm.h"

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEM  (1u << 20)
#define BASE 0xc0001000ULL

static struct vm vm;
static struct virtio_mmio t;
static unsigned activated, resets, notified;

static int fake_activate(struct virtio_mmio *m)
{
	activated++;
	return 0;
}

static void fake_reset(struct virtio_mmio *m)
{
	resets++;
}

static void fake_notify(struct virtio_mmio *m, unsigned q)
{
	notified++;
}

static void fake_config_read(struct virtio_mmio *m, uint64_t off, uint8_t *data,
                             uint32_t size)
{
	memset(data, (int)(0x40 + off), size);
}

static const struct virtio_ops fake_ops = {
	.name = "fake",
	.device_id = 2,
	.nqueues = 1,
	.features = 1ULL << 5,
	.config_read = fake_config_read,
	.activate = fake_activate,
	.reset = fake_reset,
	.queue_notify = fake_notify,
};

static void setup(void)
{
	memset(&vm, 0, sizeof(vm));
	vm.vm_fd = -1; /* no KVM: eventfds stay unbound */
	vm.mem = calloc(1, MEM);
	vm.mem_size = vm.low_size = MEM;
	bus_init(&vm.mmio, "mmio");
	activated = resets = notified = 0;
	ck_assert_int_eq(virtio_mmio_init(&t, &vm, &fake_ops, NULL, BASE, 5),
	                 0);
}

static void teardown(void)
{
	virtio_mmio_destroy(&t);
	free(vm.mem);
}

static uint32_t rd(uint64_t off)
{
	uint8_t d[4];
	uint32_t v;

	ck_assert(bus_access(&vm.mmio, BASE + off, d, 4, false));
	memcpy(&v, d, 4);
	return v;
}

static void wr(uint64_t off, uint32_t v)
{
	uint8_t d[4];

	memcpy(d, &v, 4);
	ck_assert(bus_access(&vm.mmio, BASE + off, d, 4, true));
}

static uint64_t drain(int fd)
{
	uint64_t n = 0;

	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

/* ACKNOWLEDGE, DRIVER, features, FEATURES_OK as a driver does. */
static void negotiate(uint64_t features)
{
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS,
	   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE |
	                               VIRTIO_CONFIG_S_DRIVER |
	                               VIRTIO_CONFIG_S_FEATURES_OK);
}

static void setup_queue(uint64_t desc)
{
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x2000);
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, 0x3000);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
}

#define ALL_OK                                                                 \
	(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |                \
	 VIRTIO_CONFIG_S_FEATURES_OK)

START_TEST(identity)
{
	ck_assert_uint_eq(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_VERSION), 2);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_DEVICE_ID), 2);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_VENDOR_ID), VIRTIO_VENDOR_ID);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_DEVICE_FEATURES) & 1, 1); /* V1 */
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_DEVICE_FEATURES) & (1u << 5), 1u << 5);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), VQ_MAX_SIZE);
	wr(VIRTIO_MMIO_QUEUE_SEL, 1); /* no such queue */
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	uint8_t cfg[2];
	ck_assert(bus_access(&vm.mmio, BASE + 0x102, cfg, 2, false));
	ck_assert_uint_eq(cfg[0], 0x42);
	/* No shared memory region: its length reads as -1. */
	ck_assert_uint_eq(rd(VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffff);
}
END_TEST

START_TEST(features_negotiated)
{
	negotiate(1ULL << VIRTIO_F_VERSION_1 | 1ULL << 5 | 1ULL << 29);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS), ALL_OK);
	ck_assert(t.vq[0].event_idx);
	ck_assert(!t.vq[0].indirect);
	/* Features are frozen once FEATURES_OK is set. */
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 0);
	ck_assert_uint_eq(t.drv_features & (1ULL << 5), 1ULL << 5);
}
END_TEST

START_TEST(features_refused)
{
	negotiate(1ULL << 5); /* legacy driver: no VERSION_1 */
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK,
	                  0);
	wr(VIRTIO_MMIO_STATUS, 0);
	negotiate(1ULL << VIRTIO_F_VERSION_1 | 1ULL << 7); /* not offered */
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK,
	                  0);
}
END_TEST

START_TEST(queue_and_driver_ok)
{
	negotiate(1ULL << VIRTIO_F_VERSION_1);
	setup_queue(0x1000);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 1);
	ck_assert_uint_eq(t.vq[0].s.num, 8);
	/* Addresses are frozen while the queue is ready. */
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x5000);
	ck_assert_uint_eq(t.vq[0].s.desc_gpa, 0x1000);
	wr(VIRTIO_MMIO_STATUS, ALL_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	ck_assert_uint_eq(activated, 1);

	/* A notification goes to the event loop's eventfd, then the device. */
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert_uint_eq(drain(t.notify_fd[0]), 1);
	virtio_mmio_notify(&t, 0);
	ck_assert_uint_eq(notified, 1);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 9); /* no such queue: ignored */

	virtio_mmio_signal_used(&t);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS),
	                  VIRTIO_MMIO_INT_VRING);
	ck_assert_uint_eq(drain(t.irq_fd), 1);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}
END_TEST

/*
 * The queue registers take writes only between FEATURES_OK and
 * DRIVER_OK; before and after, writes are ignored and counted, and the
 * ring size used for indexing stays the one mapped at QueueReady.
 */
START_TEST(queue_registers_only_during_setup)
{
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, 4); /* before FEATURES_OK */
	ck_assert_uint_eq(t.vq[0].s.num, VQ_MAX_SIZE);
	ck_assert_uint_eq(t.queue_writes_ignored, 1);
	negotiate(1ULL << VIRTIO_F_VERSION_1);
	setup_queue(0x1000);
	ck_assert_uint_eq(t.vq[0].size, 8);
	/* Ready 0 during setup unmaps the queue and moves its generation. */
	uint32_t gen = vq_gen(&t.vq[0]);
	wr(VIRTIO_MMIO_QUEUE_READY, 0);
	ck_assert(!vq_current(&t.vq[0], gen));
	ck_assert_uint_eq(t.vq[0].size, 0);
	setup_queue(0x1000);
	wr(VIRTIO_MMIO_STATUS, ALL_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	gen = vq_gen(&t.vq[0]);
	unsigned long before = t.queue_writes_ignored;
	wr(VIRTIO_MMIO_QUEUE_READY, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, 0);
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, 0x8000);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	ck_assert_uint_eq(t.queue_writes_ignored, before + 4);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 1);
	ck_assert_uint_eq(t.vq[0].s.num, 8);
	ck_assert_uint_eq(t.vq[0].size, 8);
	ck_assert(vq_current(&t.vq[0], gen));
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET,
	                  0);
	/* A reset ends the queue's generation. */
	wr(VIRTIO_MMIO_STATUS, 0);
	ck_assert(!vq_current(&t.vq[0], gen));
}
END_TEST

START_TEST(bad_queue_needs_reset)
{
	negotiate(1ULL << VIRTIO_F_VERSION_1);
	setup_queue(0x1008); /* misaligned descriptor table */
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET,
	                  VIRTIO_CONFIG_S_NEEDS_RESET);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS),
	                  VIRTIO_MMIO_INT_CONFIG);
	ck_assert_uint_eq(drain(t.irq_fd), 1);
	/* A broken device serves nothing until reset. */
	wr(VIRTIO_MMIO_STATUS, ALL_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	virtio_mmio_notify(&t, 0);
	ck_assert_uint_eq(notified, 0);
	/* Reset brings it back. */
	wr(VIRTIO_MMIO_STATUS, 0);
	ck_assert_uint_eq(resets, 2); /* init + this one */
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS), 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	negotiate(1ULL << VIRTIO_F_VERSION_1);
	setup_queue(0x1000);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 1);
}
END_TEST

START_TEST(protocol_violations)
{
	/* DRIVER_OK without FEATURES_OK. */
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE |
	                               VIRTIO_CONFIG_S_DRIVER |
	                               VIRTIO_CONFIG_S_DRIVER_OK);
	ck_assert_uint_eq(activated, 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET,
	                  VIRTIO_CONFIG_S_NEEDS_RESET);
	wr(VIRTIO_MMIO_STATUS, 0);
	/* Clearing a status bit other than by reset. */
	negotiate(1ULL << VIRTIO_F_VERSION_1);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET,
	                  VIRTIO_CONFIG_S_NEEDS_RESET);
	/* Narrow or unaligned register accesses do nothing. */
	uint8_t b = 0xff;
	ck_assert(bus_access(&vm.mmio, BASE + VIRTIO_MMIO_STATUS, &b, 1, true));
	ck_assert(bus_access(&vm.mmio, BASE + VIRTIO_MMIO_MAGIC_VALUE + 1, &b,
	                     1, false));
	ck_assert_uint_eq(b, 0);
}
END_TEST

START_TEST(cmdline_word)
{
	char buf[64];

	ck_assert_int_eq(virtio_mmio_cmdline(&t, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "virtio_mmio.device=4K@0xc0001000:5");
	ck_assert_int_eq(virtio_mmio_cmdline(&t, buf, 10), -1);
}
END_TEST

Suite *mmio_suite(void)
{
	Suite *s = suite_create("virtio-mmio");
	TCase *tc = tcase_create("transport");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, identity);
	tcase_add_test(tc, features_negotiated);
	tcase_add_test(tc, features_refused);
	tcase_add_test(tc, queue_and_driver_ok);
	tcase_add_test(tc, bad_queue_needs_reset);
	tcase_add_test(tc, queue_registers_only_during_setup);
	tcase_add_test(tc, protocol_violations);
	tcase_add_test(tc, cmdline_word);
	suite_add_tcase(s, tc);
	return s;
}
