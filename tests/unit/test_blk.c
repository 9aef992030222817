/*
 * virtio-blk end to end without KVM: a fake driver in fake guest RAM,
 * the real transport and queue code, a real io_uring and an image file.
 */
#include "unit.h"
#include "blk.h"
#include "fake_driver.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#define MEM   (1u << 20)
#define BASE  0xc0001000ULL
#define DESC  0x1000
#define AVAIL 0x2000
#define USED  0x3000
#define HDR   0x8000
#define DATA  0x9000
#define STAT  0xf000
#define QN    8
#define IMG   (64 * 1024)

static struct vm vm;
static struct uring ur;
static struct blk blk;
static char img[] = "/tmp/wisp-blk-XXXXXX";
static uint16_t pos;

static void open_blk_id(bool ro, const char *id)
{
	char err[256];
	struct blk_options o = { .path = img, .read_only = ro, .id = id };

	ck_assert_int_eq(
	        blk_init(&blk, &vm, &ur, &o, BASE, 5, err, sizeof(err)), 0);
	fake_negotiate(&vm, BASE,
	               1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_BLK_F_FLUSH |
	                       (ro ? 1ULL << VIRTIO_BLK_F_RO : 0));
	fake_queue(&vm, BASE, QN, DESC, AVAIL, USED);
	fake_driver_ok(&vm, BASE);
	ck_assert_uint_eq(fake_rd(&vm, BASE + VIRTIO_MMIO_STATUS) & 0x4f, 0x0f);
}

static void open_blk(bool ro)
{
	open_blk_id(ro, "disk0");
}

static void setup(void)
{
	int fd = mkstemp(img);
	uint8_t pattern[IMG];

	for (unsigned i = 0; i < IMG; i++)
		pattern[i] = (uint8_t)(i / 512 + 1); /* sector n holds n+1 */
	ck_assert_int_eq(write(fd, pattern, IMG), IMG);
	close(fd);
	fake_vm_init(&vm, MEM);
	ck_assert_int_eq(uring_init(&ur, 64), 0);
	pos = 0;
}

static void teardown(void)
{
	blk_destroy(&blk);
	uring_destroy(&ur);
	free(vm.mem);
	unlink(img);
	strcpy(img, "/tmp/wisp-blk-XXXXXX");
}

/* Submit header + @len data bytes (@write: device-readable) + status. */
static void request(uint32_t type, uint64_t sector, uint32_t len,
                    bool data_writable)
{
	uint8_t hdr[16] = { 0 };

	memcpy(hdr, &type, 4);
	memcpy(hdr + 8, &sector, 8);
	memcpy(vm.mem + HDR, hdr, 16);
	vm.mem[STAT] = 0xff;
	fake_desc(&vm, DESC, 0, HDR, 16, VRING_DESC_F_NEXT, 1);
	if (len) {
		fake_desc(&vm, DESC, 1, DATA, len,
		          VRING_DESC_F_NEXT |
		                  (data_writable ? VRING_DESC_F_WRITE : 0),
		          2);
		fake_desc(&vm, DESC, 2, STAT, 1, VRING_DESC_F_WRITE, 0);
	} else {
		fake_desc(&vm, DESC, 1, STAT, 1, VRING_DESC_F_WRITE, 0);
	}
	fake_offer(&vm, AVAIL, QN, pos++, 0);
	virtio_mmio_notify(&blk.t, 0);
	uring_run(&ur); /* what the event loop does after a notify */
	/* Wait for io_uring to finish whatever was queued. */
	while (blk.inflight) {
		struct io_uring_cqe *cqe;

		ck_assert_int_eq(io_uring_wait_cqe(&ur.ring, &cqe), 0);
		uring_run(&ur);
	}
	ck_assert_uint_eq(fake_used_idx(&vm, USED), pos);
}

START_TEST(read_sectors)
{
	open_blk(false);
	request(VIRTIO_BLK_T_IN, 3, 1024, true);
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(vm.mem[DATA], 4);
	ck_assert_uint_eq(vm.mem[DATA + 1023], 5);
	uint32_t len;
	memcpy(&len, vm.mem + USED + 8, 4);
	ck_assert_uint_eq(len, 1025); /* data + status */
}
END_TEST

START_TEST(write_flush_read_back)
{
	open_blk(false);
	memset(vm.mem + DATA, 0xab, 512);
	request(VIRTIO_BLK_T_OUT, 10, 512, false);
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_OK);
	request(VIRTIO_BLK_T_FLUSH, 0, 0, false);
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_OK);

	int fd = open(img, O_RDONLY);
	uint8_t b[512];
	ck_assert_int_eq(pread(fd, b, 512, 10 * 512), 512);
	close(fd);
	ck_assert_uint_eq(b[0], 0xab);
	ck_assert_uint_eq(b[511], 0xab);
}
END_TEST

START_TEST(out_of_range_is_ioerr)
{
	open_blk(false);
	request(VIRTIO_BLK_T_IN, IMG / 512, 512, true); /* one past the end */
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_IOERR);
	request(VIRTIO_BLK_T_IN, IMG / 512 - 1, 1024, true); /* straddles */
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_IOERR);
	request(VIRTIO_BLK_T_IN, UINT64_MAX / 4, 512, true); /* overflows */
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_IOERR);
	request(VIRTIO_BLK_T_IN, 0, 100, true); /* not whole sectors */
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_IOERR);
	request(0x77, 0, 0, false); /* unknown type */
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_UNSUPP);
	/* The device still works. */
	request(VIRTIO_BLK_T_IN, 0, 512, true);
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_OK);
}
END_TEST

START_TEST(read_only_refuses_writes)
{
	open_blk(true);
	memset(vm.mem + DATA, 0xcd, 512);
	request(VIRTIO_BLK_T_OUT, 0, 512, false);
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_IOERR);
	int fd = open(img, O_RDONLY);
	uint8_t b;
	ck_assert_int_eq(pread(fd, &b, 1, 0), 1);
	close(fd);
	ck_assert_uint_eq(b, 1); /* unchanged */
	request(VIRTIO_BLK_T_IN, 0, 512, true);
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_OK);
}
END_TEST

/* DISCARD and WRITE_ZEROES: one 16-byte segment {sector, count, flags}. */
static void range_request_flags(uint32_t type, uint64_t sector, uint32_t count,
                                uint32_t flags)
{
	memcpy(vm.mem + DATA, &sector, 8);
	memcpy(vm.mem + DATA + 8, &count, 4);
	memcpy(vm.mem + DATA + 12, &flags, 4);
	request(type, 0, 16, false);
}

static void range_request(uint32_t type, uint64_t sector, uint32_t count)
{
	range_request_flags(type, sector, count, 0);
}

static uint8_t image_byte(off_t off)
{
	int fd = open(img, O_RDONLY);
	uint8_t b = 0xee;

	ck_assert_int_eq(pread(fd, &b, 1, off), 1);
	close(fd);
	return b;
}

START_TEST(discard_and_write_zeroes)
{
	open_blk(false);
	range_request(VIRTIO_BLK_T_WRITE_ZEROES, 4, 2);
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(image_byte(4 * 512), 0);
	ck_assert_uint_eq(image_byte(6 * 512 - 1), 0);
	ck_assert_uint_eq(image_byte(6 * 512), 7); /* sector 6 untouched */
	range_request(VIRTIO_BLK_T_DISCARD, 8, 8);
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(image_byte(8 * 512), 0); /* a hole reads as 0 */
	range_request(VIRTIO_BLK_T_DISCARD, IMG / 512 - 1, 2); /* past end */
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(image_byte(IMG - 1), IMG / 512); /* untouched */
	/* A flag the device does not know, UNMAP on a DISCARD: UNSUPP. */
	range_request_flags(VIRTIO_BLK_T_WRITE_ZEROES, 6, 1, 1u << 1);
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_UNSUPP);
	range_request_flags(VIRTIO_BLK_T_DISCARD, 6, 1, 1);
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_UNSUPP);
	ck_assert_uint_eq(image_byte(6 * 512), 7);
	range_request_flags(VIRTIO_BLK_T_WRITE_ZEROES, 6, 1, 1); /* UNMAP */
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(image_byte(6 * 512), 0);
}
END_TEST

START_TEST(get_id_and_config)
{
	open_blk(false);
	request(VIRTIO_BLK_T_GET_ID, 0, 20, true);
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_OK);
	ck_assert_str_eq((char *)vm.mem + DATA, "disk0");

	/* capacity in 512-byte sectors at config offset 0 */
	uint32_t lo = fake_rd(&vm, BASE + 0x100);
	ck_assert_uint_eq(lo, IMG / 512);
}
END_TEST

/* A 20-character id is all 20 bytes, with no NUL (virtio 1.2, 5.2.6). */
START_TEST(get_id_of_twenty_bytes)
{
	open_blk_id(false, "abcdefghijklmnopqrst");
	memset(vm.mem + DATA, 0x55, 21);
	request(VIRTIO_BLK_T_GET_ID, 0, 20, true);
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_OK);
	ck_assert(!memcmp(vm.mem + DATA, "abcdefghijklmnopqrst", 20));
	ck_assert_uint_eq(vm.mem[DATA + 20], 0x55);
}
END_TEST

START_TEST(malformed_request_needs_reset)
{
	open_blk(false);
	/* A header shorter than 16 bytes and no status byte. */
	fake_desc(&vm, DESC, 0, HDR, 8, 0, 0);
	fake_offer(&vm, AVAIL, QN, pos++, 0);
	virtio_mmio_notify(&blk.t, 0);
	ck_assert_uint_eq(fake_rd(&vm, BASE + VIRTIO_MMIO_STATUS) &
	                          VIRTIO_CONFIG_S_NEEDS_RESET,
	                  VIRTIO_CONFIG_S_NEEDS_RESET);
	/* After a reset the device serves again. */
	fake_wr(&vm, BASE + VIRTIO_MMIO_STATUS, 0);
	memset(vm.mem + USED, 0, 0x100);
	pos = 0;
	fake_negotiate(&vm, BASE, 1ULL << VIRTIO_F_VERSION_1);
	fake_queue(&vm, BASE, QN, DESC, AVAIL, USED);
	fake_driver_ok(&vm, BASE);
	request(VIRTIO_BLK_T_IN, 1, 512, true);
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(vm.mem[DATA], 2);
}
END_TEST

/* Post a read of sector 1 into DATA and kick; io_uring has not run. */
static void post_read_no_wait(void)
{
	uint8_t hdr[16] = { 0 };
	uint32_t type = VIRTIO_BLK_T_IN;
	uint64_t sector = 1;

	memcpy(hdr, &type, 4);
	memcpy(hdr + 8, &sector, 8);
	memcpy(vm.mem + HDR, hdr, 16);
	vm.mem[STAT] = 0xff;
	fake_desc(&vm, DESC, 0, HDR, 16, VRING_DESC_F_NEXT, 1);
	fake_desc(&vm, DESC, 1, DATA, 512,
	          VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	fake_desc(&vm, DESC, 2, STAT, 1, VRING_DESC_F_WRITE, 0);
	fake_offer(&vm, AVAIL, QN, pos++, 0);
	virtio_mmio_notify(&blk.t, 0);
}

static void run_until_idle(void)
{
	uring_run(&ur);
	while (blk.inflight) {
		struct io_uring_cqe *cqe;

		ck_assert_int_eq(io_uring_wait_cqe(&ur.ring, &cqe), 0);
		uring_run(&ur);
	}
}

/*
 * A driver that rewrites the queue registers while a request is in
 * flight (QueueReady 0, then QueueNum 0 or larger than the ring mapped)
 * is ignored: the completion lands in the ring set up at DRIVER_OK.
 * Before the registers were frozen, QueueNum 0 made the completion
 * divide by zero and kill the VMM.
 */
START_TEST(queue_registers_frozen_at_driver_ok)
{
	static const uint32_t nums[] = { 0, 256, 3 };

	open_blk(false);
	for (unsigned i = 0; i < 3; i++) {
		post_read_no_wait();
		fake_wr(&vm, BASE + VIRTIO_MMIO_QUEUE_SEL, 0);
		fake_wr(&vm, BASE + VIRTIO_MMIO_QUEUE_READY, 0);
		fake_wr(&vm, BASE + VIRTIO_MMIO_QUEUE_NUM, nums[i]);
		fake_wr(&vm, BASE + VIRTIO_MMIO_QUEUE_USED_LOW, MEM - 8);
		fake_wr(&vm, BASE + VIRTIO_MMIO_QUEUE_READY, 1);
		ck_assert_uint_eq(fake_rd(&vm, BASE + VIRTIO_MMIO_QUEUE_READY),
		                  1);
		run_until_idle();
		ck_assert_uint_eq(fake_used_idx(&vm, USED), pos);
		ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_OK);
		ck_assert_uint_eq(vm.mem[DATA], 2);
	}
	ck_assert_uint_ge(blk.t.queue_writes_ignored, 12);
	ck_assert_uint_eq(fake_rd(&vm, BASE + VIRTIO_MMIO_STATUS) &
	                          VIRTIO_CONFIG_S_NEEDS_RESET,
	                  0);
}
END_TEST

/*
 * A reset while a read is in flight: the completion and the flush after
 * it find the queue gone and touch no ring; the device then serves a
 * driver that sets it up again, at other ring addresses and size.
 */
START_TEST(reset_with_request_in_flight)
{
	open_blk(false);
	post_read_no_wait();
	fake_wr(&vm, BASE + VIRTIO_MMIO_STATUS, 0);
	memset(vm.mem + USED, 0, 0x100);
	run_until_idle();
	ck_assert_uint_eq(fake_used_idx(&vm, USED), 0);
	ck_assert_uint_eq(vm.mem[STAT], 0xff); /* not reported */
	/* Set up again with a smaller ring, then a request goes through. */
	pos = 0;
	fake_negotiate(&vm, BASE, 1ULL << VIRTIO_F_VERSION_1);
	fake_queue(&vm, BASE, QN, DESC, AVAIL, USED);
	fake_driver_ok(&vm, BASE);
	request(VIRTIO_BLK_T_IN, 2, 512, true);
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(vm.mem[DATA], 3);
}
END_TEST

/*
 * A read whose data buffer the device may only read, or a write whose
 * data buffer it may only write, is refused: answering it OK would tell
 * the driver data moved that never did.
 */
/*
 * A driver that resets with a read in flight and posts the same head
 * again at once: the new request waits for the old one's completion
 * (which is dropped) instead of breaking the device, then completes.
 */
START_TEST(head_reposted_after_reset_waits)
{
	uint64_t kicks;

	open_blk(false);
	post_read_no_wait();
	fake_wr(&vm, BASE + VIRTIO_MMIO_STATUS, 0);
	memset(vm.mem + USED, 0, 0x100);
	memset(vm.mem + AVAIL, 0, 0x100);
	pos = 0;
	fake_negotiate(&vm, BASE, 1ULL << VIRTIO_F_VERSION_1);
	fake_queue(&vm, BASE, QN, DESC, AVAIL, USED);
	fake_driver_ok(&vm, BASE);
	post_read_no_wait(); /* head 0 again, its old request in flight */
	ck_assert_uint_eq(fake_rd(&vm, BASE + VIRTIO_MMIO_STATUS) &
	                          VIRTIO_CONFIG_S_NEEDS_RESET,
	                  0);
	ck_assert(blk.holding);
	run_until_idle(); /* the stale read completes and kicks the queue */
	ck_assert_int_eq(read(blk.t.notify_fd[0], &kicks, sizeof(kicks)), 8);
	ck_assert_uint_eq(fake_used_idx(&vm, USED), 0);
	virtio_mmio_notify(&blk.t, 0); /* what the event loop then does */
	run_until_idle();
	ck_assert_uint_eq(fake_used_idx(&vm, USED), 1);
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(vm.mem[DATA], 2);
}
END_TEST

START_TEST(data_direction_refused)
{
	open_blk(false);
	memset(vm.mem + DATA, 0x5a, 512);
	request(VIRTIO_BLK_T_IN, 1, 512, false);
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(vm.mem[DATA], 0x5a); /* nothing read into it */
	request(VIRTIO_BLK_T_OUT, 1, 512, true);
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(image_byte(512), 2); /* nothing written */
	ck_assert_uint_eq(blk.stats.invalid_reqs_count, 2);
	/* The device goes on. */
	request(VIRTIO_BLK_T_IN, 1, 512, true);
	ck_assert_uint_eq(vm.mem[STAT], VIRTIO_BLK_S_OK);
}
END_TEST

START_TEST(missing_image)
{
	char err[256];
	struct blk_options o = { .path = "/nonexistent/disk.img" };

	ck_assert_int_eq(
	        blk_init(&blk, &vm, &ur, &o, BASE, 5, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/disk.img"));
	blk.fd = -1;
}
END_TEST

Suite *blk_suite(void)
{
	Suite *s = suite_create("virtio-blk");
	TCase *tc = tcase_create("requests");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, read_sectors);
	tcase_add_test(tc, write_flush_read_back);
	tcase_add_test(tc, out_of_range_is_ioerr);
	tcase_add_test(tc, read_only_refuses_writes);
	tcase_add_test(tc, get_id_and_config);
	tcase_add_test(tc, get_id_of_twenty_bytes);
	tcase_add_test(tc, discard_and_write_zeroes);
	tcase_add_test(tc, malformed_request_needs_reset);
	tcase_add_test(tc, queue_registers_frozen_at_driver_ok);
	tcase_add_test(tc, reset_with_request_in_flight);
	tcase_add_test(tc, data_direction_refused);
	tcase_add_test(tc, head_reposted_after_reset_waits);
	tcase_add_test(tc, missing_image);
	suite_add_tcase(s, tc);
	return s;
}
