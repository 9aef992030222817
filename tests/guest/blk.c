/*
 * A minimal virtio-blk driver for the probe guest: one queue of 8, polled
 * (interrupts stay off), talking to the device in the first virtio slot
 * through the virtio-mmio registers. The hostile scenario breaks the ring
 * on purpose, checks the device reports DEVICE_NEEDS_RESET, and recovers.
 */
#include "probe.h"
#include "virtio.h"

#define QSZ        64
#define POLL_LIMIT 50000000u

#define S_OK     0
#define S_IOERR  1
#define T_IN     0
#define T_OUT    1
#define T_FLUSH  4
#define T_GET_ID 8
#define F_NEXT   VD_F_NEXT
#define F_WRITE  VD_F_WRITE

static volatile struct vdesc desc[QSZ] __attribute__((aligned(16)));
static volatile uint16_t avail[2 + QSZ + 1] __attribute__((aligned(4)));
static volatile uint32_t used[1 + 2 * QSZ + 1] __attribute__((aligned(4)));
static struct vring ring = { QSZ, desc, avail, used, 0, 0 };
static uint8_t hdr[16] __attribute__((aligned(16)));
static uint8_t buf[512] __attribute__((aligned(512)));
static volatile uint8_t status;
static struct vdev dev; /* the virtio-blk transport in use */

static uint32_t rd(uint32_t off)
{
	return vdev_rd(&dev, off);
}

static void find_device(const char *cmdline)
{
	if (!vdev_find(&dev, cmdline, 2))
		fail("no virtio-blk announced on the command line");
}

static void dev_init(void)
{
	if (!vdev_negotiate(&dev, 0))
		fail("FEATURES_OK refused");
	vdev_queue(&dev, 0, &ring);
	vdev_driver_ok(&dev);
}

/* Publish @head and kick the device. */
static void kick(uint16_t head)
{
	vring_post(&ring, head);
	vdev_notify(&dev, 0);
}

static void wait_used(void)
{
	uint32_t id, len;

	for (uint32_t n = 0; !vring_used(&ring, &id, &len); n++)
		if (n == POLL_LIMIT)
			fail("virtio-blk request timed out");
}

/* One request: header, optional data, status. Returns the status. */
static uint8_t request(uint32_t type, uint64_t sector, uint32_t len,
                       bool device_writes)
{
	for (unsigned i = 0; i < 16; i++)
		hdr[i] = 0;
	*(uint32_t *)hdr = type;
	*(uint64_t *)(hdr + 8) = sector;
	status = 0xff;
	desc[0] = (struct vdesc){ (uintptr_t)hdr, 16, F_NEXT, 1 };
	if (len) {
		desc[1] =
		        (struct vdesc){ (uintptr_t)buf, len,
			                F_NEXT | (device_writes ? F_WRITE : 0),
			                2 };
		desc[2] = (struct vdesc){ (uintptr_t)&status, 1, F_WRITE, 0 };
	} else {
		desc[1] = (struct vdesc){ (uintptr_t)&status, 1, F_WRITE, 0 };
	}
	kick(0);
	wait_used();
	return status;
}

static bool same(const uint8_t *a, const char *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (a[i] != (uint8_t)b[i])
			return false;
	return true;
}

static uint64_t capacity(void)
{
	return rd(VIO_CONFIG) | (uint64_t)rd(VIO_CONFIG + 4) << 32;
}

void scenario_blk_rw(const struct boot *b)
{
	static const char msg[] = "probe-wrote-this";

	find_device(b->cmdline);
	dev_init();
	if (request(T_IN, 0, 512, true) != S_OK || !same(buf, "WISPDISK", 8))
		fail("sector 0 does not hold WISPDISK");
	put_str("probe: blk read ok\n");
	for (unsigned i = 0; i < 512; i++)
		buf[i] = i < sizeof(msg) - 1 ? (uint8_t)msg[i] : 0;
	if (request(T_OUT, 1, 512, false) != S_OK)
		fail("write of sector 1");
	if (request(T_FLUSH, 0, 0, false) != S_OK)
		fail("flush");
	for (unsigned i = 0; i < 512; i++)
		buf[i] = 0;
	if (request(T_IN, 1, 512, true) != S_OK || !same(buf, msg, 16))
		fail("sector 1 did not read back");
	put_str("probe: blk write, flush, read back ok\n");
	if (request(T_GET_ID, 0, 20, true) != S_OK)
		fail("GET_ID");
	buf[20] = 0;
	put_str("probe: blk id ");
	put_str((const char *)buf);
	put_str("\n");
	if (request(T_IN, capacity(), 512, true) != S_IOERR)
		fail("read past the end was not IOERR");
	if (request(T_IN, capacity() - 1, 1024, true) != S_IOERR)
		fail("read across the end was not IOERR");
	put_str("probe: blk out-of-range ioerr ok\n");
	put_str("probe: blk-rw ok\n");
	probe_exit(0);
}

/*
 * count with blk=1: each line's number is written to sector 1 (8 bytes,
 * little-endian) and read back, so a restored VM must carry on with the
 * device's queue where the snapshot left it.
 */
void count_blk_init(const struct boot *b)
{
	find_device(b->cmdline);
	dev_init();
}

void count_blk_step(uint64_t n)
{
	for (unsigned i = 0; i < 512; i++)
		buf[i] = 0;
	*(uint64_t *)buf = n;
	if (request(T_OUT, 1, 512, false) != S_OK)
		fail("count: the write of sector 1");
	*(uint64_t *)buf = 0;
	if (request(T_IN, 1, 512, true) != S_OK || *(uint64_t *)buf != n)
		fail("count: sector 1 did not read back");
}

void scenario_blk_ro(const struct boot *b)
{
	find_device(b->cmdline);
	dev_init();
	if (request(T_OUT, 0, 512, false) != S_IOERR)
		fail("write to a read-only drive was not IOERR");
	if (request(T_IN, 0, 512, true) != S_OK || !same(buf, "WISPDISK", 8))
		fail("read from the read-only drive");
	put_str("probe: blk-ro ok\n");
	probe_exit(0);
}

static void expect_needs_reset(const char *what)
{
	if (!vdev_wait_needs_reset(&dev))
		fail(what);
	put_str("probe: hostile ");
	put_str(what);
	put_str(": needs reset\n");
	dev_init(); /* reset and start over */
	if (request(T_IN, 0, 512, true) != S_OK || !same(buf, "WISPDISK", 8))
		fail("device did not recover after reset");
}

void scenario_blk_hostile(const struct boot *b)
{
	find_device(b->cmdline);
	dev_init();
	kick(QSZ + 100); /* head index out of range */
	expect_needs_reset("head out of range");

	desc[0] = (struct vdesc){ (uintptr_t)hdr, 16, F_NEXT, 1 };
	desc[1] = (struct vdesc){ (uintptr_t)buf, 512, F_NEXT, 0 };
	kick(0); /* 0 -> 1 -> 0 ... */
	expect_needs_reset("descriptor loop");

	desc[0] = (struct vdesc){ 0x7fff00000000ULL, 16, F_NEXT, 1 };
	desc[1] = (struct vdesc){ (uintptr_t)&status, 1, F_WRITE, 0 };
	kick(0);
	expect_needs_reset("buffer outside RAM");

	desc[0] = (struct vdesc){ (uintptr_t)hdr, 16, F_NEXT, 1 };
	desc[1] = (struct vdesc){ (uintptr_t)buf, 0xffffffffu, F_WRITE, 0 };
	kick(0);
	expect_needs_reset("4 GiB buffer");

	avail[1] = (uint16_t)(ring.next_avail + 1000); /* index far ahead */
	vdev_notify(&dev, 0);
	expect_needs_reset("avail index far ahead");

	put_str("probe: blk-hostile ok\n");
	probe_exit(0);
}

/*
 * blk-bench: bench=4k (random 4 KiB reads) or bench=1m (sequential 1 MiB
 * reads) or bench=none (setup only, the baseline), n=COUNT requests, with
 * up to DEPTH in flight, driven from ring 3. The host times the whole run
 * and subtracts the baseline.
 */
#define DEPTH    16
#define BIG      (1u << 20)
#define BIG_SLOT 4

static uint8_t bigbuf[BIG_SLOT][BIG] __attribute__((aligned(4096)));
static uint8_t bhdr[DEPTH][16] __attribute__((aligned(16)));
static volatile uint8_t bstat[DEPTH];

struct bench {
	bool big;
	uint64_t n, cap, rng, next_seq;
	unsigned depth;
};

static struct bench bench;
static void bench_report(void)
{
	put_str("probe: bench done\n");
}

static void bench_submit(struct bench *bp, unsigned slot)
{
	uint64_t sector;
	uint32_t len = bp->big ? BIG : 4096;
	uint16_t head = (uint16_t)(3 * slot);

	if (bp->big) {
		sector = bp->next_seq;
		bp->next_seq =
		        (bp->next_seq + BIG / 512) % (bp->cap - BIG / 512);
	} else {
		bp->rng ^= bp->rng << 13; /* xorshift64 */
		bp->rng ^= bp->rng >> 7;
		bp->rng ^= bp->rng << 17;
		sector = (bp->rng % (bp->cap / 8)) * 8;
	}
	*(uint32_t *)bhdr[slot] = T_IN;
	*(uint64_t *)(bhdr[slot] + 8) = sector;
	desc[head] = (struct vdesc){ (uintptr_t)bhdr[slot], 16, F_NEXT,
		                     (uint16_t)(head + 1) };
	desc[head + 1] =
	        (struct vdesc){ bp->big ? (uintptr_t)bigbuf[slot]
		                        : (uintptr_t)bigbuf[0] + 4096 * slot,
		                len, F_NEXT | F_WRITE, (uint16_t)(head + 2) };
	desc[head + 2] =
	        (struct vdesc){ (uintptr_t)&bstat[slot], 1, F_WRITE, 0 };
	vring_post(&ring, head);
}

static void bench_user(void *arg)
{
	struct bench *bp = arg;
	uint64_t issued = 0, done = 0;

	for (unsigned s = 0; s < bp->depth && issued < bp->n; s++, issued++)
		bench_submit(bp, s);
	if (issued)
		vdev_notify(&dev, 0);
	while (done < bp->n) {
		uint32_t id, len;
		bool kicked = false;

		while (vring_used(&ring, &id, &len)) {
			unsigned slot = id / 3;

			if (slot >= bp->depth || bstat[slot] != S_OK)
				user_exit("bench request failed");
			done++;
			if (issued < bp->n) {
				bench_submit(bp, slot);
				issued++;
				kicked = true;
			}
		}
		if (kicked)
			vdev_notify(&dev, 0);
	}
	user_exit(NULL);
}

void scenario_blk_bench(const struct boot *b)
{
	find_device(b->cmdline);
	dev_init();
	bench.big = arg_is(b->cmdline, "bench=1m");
	bench.n = arg_is(b->cmdline, "bench=none")
	                  ? 0
	                  : arg_u64(b->cmdline, "n=", 1000);
	bench.cap = capacity();
	bench.rng = 0x9e3779b97f4a7c15ULL;
	bench.depth = bench.big ? BIG_SLOT : DEPTH;
	if (bench.cap < 2 * BIG / 512)
		fail("bench image must be at least 2 MiB");
	run_user(bench_user, &bench, bench_report);
}

/*
 * blk-requeue: an attacker's ordering. Reads are in flight (cache=none
 * makes them slow enough) when the driver rewrites the queue registers:
 * QueueReady 0, QueueNum 0 or larger than the ring, another used ring,
 * QueueReady 1. The device must ignore the writes, finish every read
 * into the ring set up at DRIVER_OK and go on; the VMM must live. Then
 * the same with a reset while reads are in flight, and reads and writes
 * whose data buffers point the wrong way (refused with IOERR).
 */
/* A 4 KiB read into each big slot, sector @step * slot, and a kick. */
static void post_reads(uint64_t step)
{
	for (unsigned s = 0; s < BIG_SLOT; s++) {
		*(uint32_t *)bhdr[s] = T_IN;
		*(uint64_t *)(bhdr[s] + 8) = step * s;
		bstat[s] = 0xff;
		desc[3 * s] = (struct vdesc){ (uintptr_t)bhdr[s], 16, F_NEXT,
			                      (uint16_t)(3 * s + 1) };
		desc[3 * s + 1] = (struct vdesc){ (uintptr_t)bigbuf[s], 4096,
			                          F_NEXT | F_WRITE,
			                          (uint16_t)(3 * s + 2) };
		desc[3 * s + 2] =
		        (struct vdesc){ (uintptr_t)&bstat[s], 1, F_WRITE, 0 };
		vring_post(&ring, (uint16_t)(3 * s));
	}
	vdev_notify(&dev, 0);
}

static void requeue_round(uint32_t num)
{
	uint32_t id, len, done = 0;

	post_reads(0);
	for (volatile unsigned spin = 0; spin < 2000; spin++)
		;
	vdev_wr(&dev, VIO_QUEUE_SEL, 0);
	vdev_wr(&dev, VIO_QUEUE_READY, 0);
	vdev_wr(&dev, VIO_QUEUE_NUM, num);
	vdev_wr(&dev, VIO_USED, (uint32_t)(uintptr_t)bigbuf[BIG_SLOT - 1]);
	vdev_wr(&dev, VIO_QUEUE_READY, 1);
	if (rd(VIO_QUEUE_READY) != 1)
		fail("QueueReady changed after DRIVER_OK");
	for (uint32_t n = 0; done < BIG_SLOT; n++) {
		if (vring_used(&ring, &id, &len)) {
			if (id % 3 || id / 3 >= BIG_SLOT ||
			    bstat[id / 3] != S_OK)
				fail("requeue: a read did not complete OK");
			done++;
		} else if (n == POLL_LIMIT) {
			fail("requeue: reads lost after the register writes");
		}
	}
	if (rd(VIO_STATUS) & VIO_S_NEEDS_RESET)
		fail("requeue: the device stopped");
}

void scenario_blk_requeue(const struct boot *b)
{
	find_device(b->cmdline);
	dev_init();
	requeue_round(0);
	requeue_round(256);
	requeue_round(3);
	put_str("probe: blk requeue ignored ok\n");

	/* A reset with reads in flight, then a fresh setup serves. */
	post_reads(8);
	vdev_wr(&dev, VIO_STATUS, 0);
	dev_init();
	if (request(T_IN, 0, 512, true) != S_OK || !same(buf, "WISPDISK", 8))
		fail("device did not serve after a reset with reads in flight");
	put_str("probe: blk reset in flight ok\n");

	/* Data buffers the wrong way round. */
	if (request(T_IN, 0, 512, false) != S_IOERR)
		fail("a read into a device-readable buffer was not refused");
	if (request(T_OUT, 0, 512, true) != S_IOERR)
		fail("a write from a device-writable buffer was not refused");
	if (request(T_IN, 0, 512, true) != S_OK || !same(buf, "WISPDISK", 8))
		fail("sector 0 changed or the device stopped");
	put_str("probe: blk wrong direction ioerr ok\n");
	probe_exit(0);
}
