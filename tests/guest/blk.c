/*
 * A minimal virtio-blk driver for the probe guest: one queue of 8, polled
 * (interrupts stay off), talking to the device in the first virtio slot
 * through the virtio-mmio registers. The hostile scenario breaks the ring
 * on purpose, checks the device reports DEVICE_NEEDS_RESET, and recovers.
 */
#include "probe.h"

#define QSZ        64
#define POLL_LIMIT 50000000u

enum {
	R_MAGIC = 0x000,
	R_VERSION = 0x004,
	R_DEVICE_ID = 0x008,
	R_DRV_FEAT = 0x020,
	R_DRV_FEAT_SEL = 0x024,
	R_QUEUE_SEL = 0x030,
	R_QUEUE_NUM = 0x038,
	R_QUEUE_READY = 0x044,
	R_NOTIFY = 0x050,
	R_STATUS = 0x070,
	R_DESC = 0x080,
	R_AVAIL = 0x090,
	R_USED = 0x0a0,
	R_CONFIG = 0x100,
};

#define S_OK        0
#define S_IOERR     1
#define T_IN        0
#define T_OUT       1
#define T_FLUSH     4
#define T_GET_ID    8
#define F_NEXT      1
#define F_WRITE     2
#define NEEDS_RESET 0x40

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static volatile struct desc desc[QSZ] __attribute__((aligned(16)));
static volatile uint16_t avail[2 + QSZ + 1] __attribute__((aligned(4)));
static volatile uint32_t used[1 + 2 * QSZ + 1] __attribute__((aligned(4)));
static uint8_t hdr[16] __attribute__((aligned(16)));
static uint8_t buf[512] __attribute__((aligned(512)));
static volatile uint8_t status;
static uint16_t next_avail, seen_used;
static uint64_t vbase; /* the virtio-blk transport in use */

static uint32_t rd(uint32_t off)
{
	return *(volatile uint32_t *)phys(vbase + off);
}

static void wr(uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)phys(vbase + off) = v;
}

static uint64_t parse_hex(const char *p)
{
	uint64_t v = 0;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	for (;; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (*p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			return v;
		v = v << 4 | d;
	}
}

/*
 * The first virtio-blk among the transports the command line announces
 * (virtio_mmio.device=<size>@<base>:<irq>): wisp and QEMU microvm place
 * them differently.
 */
static void find_device(const char *cmdline)
{
	static const char key[] = "virtio_mmio.device=";

	for (const char *p = cmdline; *p; p++) {
		bool match = true;

		for (unsigned i = 0; key[i] && match; i++)
			match = p[i] == key[i];
		if (!match)
			continue;
		const char *at = p;
		while (*at && *at != '@' && *at != ' ')
			at++;
		if (*at != '@')
			continue;
		vbase = parse_hex(at + 1);
		if (rd(R_MAGIC) == 0x74726976 && rd(R_DEVICE_ID) == 2)
			return;
	}
	fail("no virtio-blk announced on the command line");
}

static void barrier(void)
{
	__asm__ volatile("" ::: "memory"); /* x86 keeps stores in order */
}

static void dev_init(void)
{
	if (rd(R_MAGIC) != 0x74726976 || rd(R_VERSION) != 2 ||
	    rd(R_DEVICE_ID) != 2)
		fail("virtio-blk transport is not version 2");
	wr(R_STATUS, 0);
	wr(R_STATUS, 1);
	wr(R_STATUS, 3);
	wr(R_DRV_FEAT_SEL, 0);
	wr(R_DRV_FEAT, 0);
	wr(R_DRV_FEAT_SEL, 1);
	wr(R_DRV_FEAT, 1); /* VIRTIO_F_VERSION_1 */
	wr(R_STATUS, 0xb);
	if (!(rd(R_STATUS) & 8))
		fail("FEATURES_OK refused");
	for (unsigned i = 0; i < sizeof(avail) / 2; i++)
		avail[i] = 0;
	for (unsigned i = 0; i < sizeof(used) / 4; i++)
		used[i] = 0;
	next_avail = seen_used = 0;
	wr(R_QUEUE_SEL, 0);
	wr(R_QUEUE_NUM, QSZ);
	wr(R_DESC, (uint32_t)(uintptr_t)desc);
	wr(R_DESC + 4, 0);
	wr(R_AVAIL, (uint32_t)(uintptr_t)avail);
	wr(R_AVAIL + 4, 0);
	wr(R_USED, (uint32_t)(uintptr_t)used);
	wr(R_USED + 4, 0);
	wr(R_QUEUE_READY, 1);
	wr(R_STATUS, 0xf);
}

/* Publish head 0 and kick the device. */
static void kick(uint16_t head)
{
	avail[2 + next_avail % QSZ] = head;
	barrier();
	avail[1] = ++next_avail;
	barrier();
	wr(R_NOTIFY, 0);
}

static void wait_used(void)
{
	/* used[0] holds flags (low half) and idx (high half). */
	for (uint32_t n = 0; (uint16_t)(used[0] >> 16) == seen_used; n++)
		if (n == POLL_LIMIT)
			fail("virtio-blk request timed out");
	seen_used++;
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
	desc[0] = (struct desc){ (uintptr_t)hdr, 16, F_NEXT, 1 };
	if (len) {
		desc[1] = (struct desc){ (uintptr_t)buf, len,
			                 F_NEXT | (device_writes ? F_WRITE : 0),
			                 2 };
		desc[2] = (struct desc){ (uintptr_t)&status, 1, F_WRITE, 0 };
	} else {
		desc[1] = (struct desc){ (uintptr_t)&status, 1, F_WRITE, 0 };
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
	return rd(R_CONFIG) | (uint64_t)rd(R_CONFIG + 4) << 32;
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
	uint32_t n;

	for (n = 0; n < POLL_LIMIT && !(rd(R_STATUS) & NEEDS_RESET); n++)
		;
	if (n == POLL_LIMIT)
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

	desc[0] = (struct desc){ (uintptr_t)hdr, 16, F_NEXT, 1 };
	desc[1] = (struct desc){ (uintptr_t)buf, 512, F_NEXT, 0 };
	kick(0); /* 0 -> 1 -> 0 ... */
	expect_needs_reset("descriptor loop");

	desc[0] = (struct desc){ 0x7fff00000000ULL, 16, F_NEXT, 1 };
	desc[1] = (struct desc){ (uintptr_t)&status, 1, F_WRITE, 0 };
	kick(0);
	expect_needs_reset("buffer outside RAM");

	desc[0] = (struct desc){ (uintptr_t)hdr, 16, F_NEXT, 1 };
	desc[1] = (struct desc){ (uintptr_t)buf, 0xffffffffu, F_WRITE, 0 };
	kick(0);
	expect_needs_reset("4 GiB buffer");

	avail[1] = (uint16_t)(next_avail + 1000); /* index far ahead */
	wr(R_NOTIFY, 0);
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
static uint8_t user_stack[16384] __attribute__((aligned(16)));
static const char *bench_error; /* set in ring 3, reported in ring 0 */

void probe_user_returned(void);

/*
 * Back to ring 0, which reports and exits: touch an address outside the
 * probe's 4 GiB map, and the page fault enters start.S's user_return.
 */
__attribute__((noreturn)) static void user_exit(const char *error)
{
	bench_error = error;
	*(volatile uint8_t *)phys(0x400000000000ULL) =
	        0; /* PML4[128]: absent */
	__builtin_unreachable();
}

void probe_user_returned(void)
{
	if (bench_error)
		fail(bench_error);
	put_str("probe: bench done\n");
	probe_exit(0);
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
	desc[head] = (struct desc){ (uintptr_t)bhdr[slot], 16, F_NEXT,
		                    (uint16_t)(head + 1) };
	desc[head + 1] =
	        (struct desc){ bp->big ? (uintptr_t)bigbuf[slot]
		                       : (uintptr_t)bigbuf[0] + 4096 * slot,
		               len, F_NEXT | F_WRITE, (uint16_t)(head + 2) };
	desc[head + 2] =
	        (struct desc){ (uintptr_t)&bstat[slot], 1, F_WRITE, 0 };
	avail[2 + next_avail % QSZ] = head;
	barrier();
	avail[1] = ++next_avail;
}

static void bench_user(void *arg)
{
	struct bench *bp = arg;
	uint64_t issued = 0, done = 0;

	for (unsigned s = 0; s < bp->depth && issued < bp->n; s++, issued++)
		bench_submit(bp, s);
	barrier();
	if (issued)
		wr(R_NOTIFY, 0);
	while (done < bp->n) {
		uint16_t now = (uint16_t)(used[0] >> 16);
		bool kicked = false;

		while (seen_used != now) {
			unsigned e = seen_used % QSZ;
			unsigned slot = used[1 + 2 * e] / 3;

			if (slot >= bp->depth || bstat[slot] != S_OK)
				user_exit("bench request failed");
			seen_used++;
			done++;
			if (issued < bp->n) {
				bench_submit(bp, slot);
				issued++;
				kicked = true;
			}
		}
		if (kicked) {
			barrier();
			wr(R_NOTIFY, 0);
		}
	}
	user_exit(NULL);
}

static uint64_t arg_u64(const char *cmdline, const char *key, uint64_t def)
{
	for (const char *p = cmdline; *p; p++) {
		unsigned i = 0;

		while (key[i] && p[i] == key[i])
			i++;
		if (key[i] || (p != cmdline && p[-1] != ' '))
			continue;
		uint64_t v = 0;
		for (p += i; *p >= '0' && *p <= '9'; p++)
			v = v * 10 + (uint64_t)(*p - '0');
		return v;
	}
	return def;
}

static bool arg_is(const char *cmdline, const char *word)
{
	for (const char *p = cmdline; *p; p++) {
		unsigned i = 0;

		while (word[i] && p[i] == word[i])
			i++;
		if (!word[i] && (p == cmdline || p[-1] == ' ') &&
		    (p[i] == ' ' || p[i] == '\0'))
			return true;
	}
	return false;
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
	enter_user(bench_user, &bench, user_stack + sizeof(user_stack));
}
