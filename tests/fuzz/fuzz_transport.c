/*
 * libFuzzer target: the virtio-mmio transport as a state machine, under
 * blk, net and vsock. The input is a program for a hostile driver and
 * its host: register writes at any offset, in any order (status writes
 * and resets, queue registers rewritten while requests are in flight,
 * feature selects, configuration space), ring contents written into guest
 * RAM (descriptors, available entries, a head posted again while it is in
 * flight), notifications, turns of the event loop, io_uring completions
 * in any order with real, short or failed results (fake_uring.h), and
 * what the host side does (frames from the tap's peer, vsock programs,
 * a drive swapped). At the end every request still in flight completes,
 * as it would while the VMM goes on.
 *
 * Input: one byte choosing the device (modulo 3) and its options (the
 * rest of the byte), then operations, an opcode byte and its arguments
 * each. Checks: no memory error (ASan, and the guard pages around guest
 * RAM), no undefined behaviour (UBSan), and each device's own (check()).
 */
#include "fake_uring.h"
#include "fuzz_transport.h"
#include "log.h"

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

#define PAGE 4096

enum op {
	OP_REG,       /* a register from the table, any value */
	OP_RAW,       /* any offset, size and value: registers or config */
	OP_READ,      /* a read of any offset and size */
	OP_INIT,      /* reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK */
	OP_QUEUE,     /* QueueSel, QueueNum, the rings, QueueReady = 1 */
	OP_GO,        /* DRIVER_OK */
	OP_DESC,      /* one descriptor in the driver's table */
	OP_AVAIL,     /* post a head (any, in flight or not) */
	OP_IDX,       /* the available index, any value */
	OP_MEM,       /* bytes anywhere in guest RAM */
	OP_CHAIN,     /* a well-formed request, written and posted */
	OP_NOTIFY,    /* QueueNotify, then the event loop's turn */
	OP_PUMP,      /* the event loop's turn */
	OP_COMPLETE,  /* one io_uring request ends (its batch, or not yet) */
	OP_RING_FULL, /* the next submissions find the ring full */
	OP_HOST,      /* the host side acts */
	OP_COUNT,
};

/* Registers a driver writes, so that one byte reaches each. */
static const uint16_t regs[] = {
	VIRTIO_MMIO_DEVICE_FEATURES_SEL,
	VIRTIO_MMIO_DRIVER_FEATURES,
	VIRTIO_MMIO_DRIVER_FEATURES_SEL,
	VIRTIO_MMIO_QUEUE_SEL,
	VIRTIO_MMIO_QUEUE_NUM,
	VIRTIO_MMIO_QUEUE_READY,
	VIRTIO_MMIO_QUEUE_NOTIFY,
	VIRTIO_MMIO_INTERRUPT_ACK,
	VIRTIO_MMIO_STATUS,
	VIRTIO_MMIO_QUEUE_DESC_LOW,
	VIRTIO_MMIO_QUEUE_DESC_HIGH,
	VIRTIO_MMIO_QUEUE_AVAIL_LOW,
	VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
	VIRTIO_MMIO_QUEUE_USED_LOW,
	VIRTIO_MMIO_QUEUE_USED_HIGH,
};

static const char *const op_names[] = {
	"reg",  "raw",      "read",      "init", "queue", "go",
	"desc", "avail",    "idx",       "mem",  "chain", "notify",
	"pump", "complete", "ring_full", "host",
};

static const struct fz_dev *const devs[] = { &fz_blk, &fz_net, &fz_vsock };
static bool tracing; /* FUZZ_TRANSPORT_TRACE: say what each step does */

/*
 * Where the transport stood while requests were in flight, when one of
 * them completed (0), at the end of the input (1) and when the event
 * loop took its turn (2), per device. libFuzzer counts each state as a
 * feature of its own (extra counters), so the first input that has a
 * request in flight while a queue is switched off, resized or reset is
 * kept and mutated further, though no new branch of the device code ran.
 * The queue bits are about queues that went ready at some point.
 */
enum {
	ST_DRIVER_OK = 1 << 0,
	ST_NEEDS_RESET = 1 << 1,
	ST_QUEUE_OFF = 1 << 2,  /* is not ready any more */
	ST_QUEUE_ZERO = 1 << 3, /* its size is 0 now */
	ST_RESIZED = 1 << 4,    /* its size differs from when it went ready */
	ST_RESET = 1 << 5,      /* a driver reset came with requests out */
	ST_FLUSH = 1 << 6,      /* a batch's flush is still to run */
	ST_COUNT = 1 << 7,
};
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t
        states[3][3][ST_COUNT];

uint8_t fz_u8(struct fz_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

uint16_t fz_u16(struct fz_in *in)
{
	uint16_t lo = fz_u8(in);

	return (uint16_t)(lo | fz_u8(in) << 8);
}

uint32_t fz_u32(struct fz_in *in)
{
	uint32_t lo = fz_u16(in);

	return lo | (uint32_t)fz_u16(in) << 16;
}

uint32_t fz_val(struct fz_in *in)
{
	uint8_t b = fz_u8(in);

	return b < 0xf0 ? b : b < 0xf8 ? fz_u16(in) : fz_u32(in);
}

static void mmio(struct fz *f, uint64_t off, uint32_t v, unsigned size,
                 bool write)
{
	uint8_t d[4];

	memcpy(d, &v, 4);
	bus_access(&f->vm.mmio, FZ_BASE + off, d, size, write);
	if (tracing)
		fprintf(stderr, "  %s 0x%03x/%u = 0x%x\n",
		        write ? "write" : "read", (unsigned)off, size,
		        write ? v : d[0] | d[1] << 8 | d[2] << 16 | d[3] << 24);
}

/* A driver's register write; the driver remembers what it wrote. */
static void reg(struct fz *f, uint64_t off, uint32_t v)
{
	struct fz_queue *q = &f->q[f->sel % VIRTIO_MMIO_MAX_QUEUE];

	switch (off) {
	case VIRTIO_MMIO_QUEUE_SEL:
		f->sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		q->num = (uint16_t)v;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
		q->desc = v;
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
		q->avail = v;
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
		q->used = v;
		break;
	case VIRTIO_MMIO_STATUS:
		if (!v) { /* the rings start over */
			for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUE; i++)
				f->q[i].avail_idx = 0;
			if (fake_uring_pending())
				f->reset_inflight = true;
		}
		break;
	}
	mmio(f, off, v, 4, true);
	if (off == VIRTIO_MMIO_QUEUE_READY && f->sel < f->t->ops->nqueues &&
	    f->t->vq[f->sel].s.ready)
		f->ready_num[f->sel] = f->t->vq[f->sel].s.num;
}

/* Guest RAM at @gpa, if all @len bytes are there (the driver's view). */
static uint8_t *ram(struct fz *f, uint64_t gpa, size_t len)
{
	return gpa < FZ_MEM && len <= FZ_MEM - gpa ? f->vm.mem + gpa : NULL;
}

static void put16(struct fz *f, uint64_t gpa, uint16_t v)
{
	uint8_t *p = ram(f, gpa, 2);

	if (p)
		memcpy(p, &v, 2);
}

static void desc(struct fz *f, const struct fz_queue *q, uint16_t i,
                 uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *p = ram(f, q->desc + 16 * (uint64_t)i, 16);

	if (!p)
		return;
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

/* Publish @head: ring entry, then the index (x86 keeps the order). */
static void post(struct fz *f, struct fz_queue *q, uint16_t head)
{
	if (!q->num)
		return;
	put16(f, q->avail + 4 + 2 * (uint64_t)(q->avail_idx % q->num), head);
	q->avail_idx++;
	put16(f, q->avail + 2, q->avail_idx);
}

static void on_notify(struct ev_handler *h, uint32_t events)
{
	struct fz *f = h->opaque;
	uint64_t n;

	(void)events;
	if (read(h->fd, &n, sizeof(n)) != sizeof(n))
		return;
	for (unsigned q = 0; q < f->t->ops->nqueues; q++)
		if (f->t->notify_fd[q] == h->fd)
			virtio_mmio_notify(f->t, q);
	uring_run(&f->uring);
}

static void note_state(struct fz *f, unsigned when)
{
	unsigned st = f->reset_inflight ? ST_RESET : 0;

	if (!fake_uring_pending())
		return;
	if (f->t->status & VIRTIO_CONFIG_S_DRIVER_OK)
		st |= ST_DRIVER_OK;
	if (f->t->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		st |= ST_NEEDS_RESET;
	if (f->uring.flush)
		st |= ST_FLUSH;
	for (unsigned i = 0; i < f->t->ops->nqueues; i++) {
		const struct vq_state *q = &f->t->vq[i].s;

		if (!f->ready_num[i])
			continue;
		if (!q->ready)
			st |= ST_QUEUE_OFF;
		if (!q->num)
			st |= ST_QUEUE_ZERO;
		if (q->num != f->ready_num[i])
			st |= ST_RESIZED;
	}
	states[f->dev][when][st]++;
}

void fz_pump(struct fz *f)
{
	note_state(f, 2);
	for (unsigned i = 0; i < 64 && evloop_run_once(&f->loop, 0) > 0; i++)
		;
	uring_run(&f->uring);
}

/* A well-formed chain at @head, direct or in an indirect table. */
static void chain(struct fz *f, const struct fz_dev *d, struct fz_in *in)
{
	unsigned qi = fz_u8(in) % f->t->ops->nqueues;
	struct fz_queue *q = &f->q[qi];
	uint8_t how = fz_u8(in);
	uint8_t pick = fz_u8(in);
	uint16_t head = q->num ? pick % q->num : 0;
	uint64_t at = FZ_BUFS + (uint64_t)(head % FZ_NSLOT) * FZ_SLOT;
	uint64_t table = at + FZ_SLOT - 16 * FZ_SEGS; /* indirect */
	struct fz_seg seg[FZ_SEGS];
	unsigned n = d->chain(f, in, qi, at, seg);

	if (!n || !q->num)
		return;
	for (unsigned i = 0; i < n; i++) {
		uint16_t fl = (i + 1 < n ? VRING_DESC_F_NEXT : 0) |
		              (seg[i].write ? VRING_DESC_F_WRITE : 0);

		if (how & 1) {
			uint8_t *p = ram(f, table + 16 * i, 16);
			uint16_t next = (uint16_t)(i + 1);

			memcpy(p, &seg[i].gpa, 8);
			memcpy(p + 8, &seg[i].len, 4);
			memcpy(p + 12, &fl, 2);
			memcpy(p + 14, &next, 2);
		} else {
			desc(f, q, (uint16_t)((head + i) % q->num), seg[i].gpa,
			     seg[i].len, fl,
			     (uint16_t)((head + i + 1) % q->num));
		}
	}
	if (how & 1)
		desc(f, q, head, table, 16 * n, VRING_DESC_F_INDIRECT, 0);
	if (!(how & 2))
		post(f, q, head);
}

static void queue_setup(struct fz *f, struct fz_in *in)
{
	uint32_t sel = fz_u8(in) % VIRTIO_MMIO_MAX_QUEUE;
	uint32_t num = 1u << (fz_u8(in) % 9);

	reg(f, VIRTIO_MMIO_QUEUE_SEL, sel);
	reg(f, VIRTIO_MMIO_QUEUE_NUM, num);
	reg(f, VIRTIO_MMIO_QUEUE_DESC_LOW, fz_u16(in) & ~15u);
	reg(f, VIRTIO_MMIO_QUEUE_AVAIL_LOW, fz_u16(in) & ~1u);
	reg(f, VIRTIO_MMIO_QUEUE_USED_LOW, fz_u16(in) & ~3u);
	reg(f, VIRTIO_MMIO_QUEUE_READY, 1);
}

static void driver_init(struct fz *f, struct fz_in *in)
{
	uint32_t lo = fz_u32(in), hi = fz_u8(in);

	reg(f, VIRTIO_MMIO_STATUS, 0);
	reg(f, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	reg(f, VIRTIO_MMIO_STATUS,
	    VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	reg(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	/* VERSION_1 (bit 32) unless the input's high byte says otherwise */
	reg(f, VIRTIO_MMIO_DRIVER_FEATURES, hi & 0x80 ? hi : 1);
	reg(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	reg(f, VIRTIO_MMIO_DRIVER_FEATURES, lo);
	reg(f, VIRTIO_MMIO_STATUS,
	    VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	            VIRTIO_CONFIG_S_FEATURES_OK);
}

static void run_op(struct fz *f, const struct fz_dev *d, struct fz_in *in)
{
	uint8_t op = fz_u8(in) % OP_COUNT, b;
	struct fz_queue *q;
	uint16_t off, n;
	uint8_t *p;

	if (tracing)
		fprintf(stderr, "%s (%u in flight)\n", op_names[op],
		        fake_uring_pending());

	switch (op) {
	case OP_REG:
		b = fz_u8(in) % (sizeof(regs) / sizeof(regs[0]));
		reg(f, regs[b], fz_val(in));
		break;
	case OP_RAW:
		off = fz_u16(in) % VIRTIO_MMIO_SLOT;
		b = fz_u8(in);
		mmio(f, off, fz_val(in), 1u << (b % 3), true);
		break;
	case OP_READ:
		off = fz_u16(in) % VIRTIO_MMIO_SLOT;
		mmio(f, off, 0, 1u << (fz_u8(in) % 3), false);
		break;
	case OP_INIT:
		driver_init(f, in);
		break;
	case OP_QUEUE:
		queue_setup(f, in);
		break;
	case OP_GO:
		reg(f, VIRTIO_MMIO_STATUS, 0xf);
		break;
	case OP_DESC: {
		uint16_t i, fl, next;
		uint32_t dl;
		uint64_t addr;

		q = &f->q[fz_u8(in) % VIRTIO_MMIO_MAX_QUEUE];
		i = (uint16_t)fz_val(in);
		addr = fz_u16(in);
		dl = fz_val(in);
		fl = fz_u8(in) & 7;
		next = (uint16_t)fz_val(in);
		desc(f, q, q->num ? i % q->num : i, addr, dl, fl, next);
		break;
	}
	case OP_AVAIL:
		q = &f->q[fz_u8(in) % VIRTIO_MMIO_MAX_QUEUE];
		post(f, q, (uint16_t)fz_val(in));
		break;
	case OP_IDX:
		q = &f->q[fz_u8(in) % VIRTIO_MMIO_MAX_QUEUE];
		q->avail_idx = (uint16_t)fz_val(in);
		put16(f, q->avail + 2, q->avail_idx);
		break;
	case OP_MEM:
		off = fz_u16(in);
		n = fz_u8(in);
		n = (uint16_t)(n < in->n ? n : in->n);
		p = ram(f, off, n);
		if (p)
			memcpy(p, in->p, n);
		in->p += n;
		in->n -= n;
		break;
	case OP_CHAIN:
		chain(f, d, in);
		break;
	case OP_NOTIFY:
		reg(f, VIRTIO_MMIO_QUEUE_NOTIFY, fz_u8(in) % 4);
		fz_pump(f);
		break;
	case OP_PUMP:
		fz_pump(f);
		break;
	case OP_COMPLETE: {
		uint8_t k = fz_u8(in), mode = fz_u8(in);

		note_state(f, 0);
		fake_uring_complete(k, mode, fz_val(in));
		/* A batch ends with its flushes, unless more of it follows;
		 * vCPUs may write registers in between either way. */
		if (!(mode & 0x80))
			uring_run(&f->uring);
		break;
	}
	case OP_RING_FULL:
		fake_uring_fail_next(fz_u8(in) % 4);
		break;
	case OP_HOST:
		d->host(f, in);
		break;
	}
}

/* FUZZ_TRANSPORT_TRACE set: where an input left the device. */
static void trace(struct fz *f, const struct fz_dev *d, const char *when)
{
	fprintf(stderr, "%s %s: status 0x%x, %u in flight", d->name, when,
	        f->t->status, fake_uring_pending());
	for (unsigned i = 0; i < f->t->ops->nqueues; i++) {
		const struct vq *q = &f->t->vq[i];

		fprintf(stderr, "; q%u %s num %u avail %u used %u", i,
		        q->s.ready ? "ready" : "off", q->s.num, q->s.last_avail,
		        q->s.used_idx);
	}
	fprintf(stderr, "\n");
}

/* Guest RAM between two pages nothing may touch. */
static uint8_t *guarded_ram(void)
{
	uint8_t *m = mmap(NULL, FZ_MEM + 2 * PAGE, PROT_NONE,
	                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED ||
	    mprotect(m + PAGE, FZ_MEM, PROT_READ | PROT_WRITE) < 0)
		abort();
	return m + PAGE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct fz f;
	static struct ev_handler watch[VIRTIO_MMIO_MAX_QUEUE];
	struct fz_in in = { data, len };
	const struct fz_dev *d;
	uint8_t first;

	if (!f.vm.mem) {
		tracing = getenv("FUZZ_TRANSPORT_TRACE");
		if (!tracing)
			log_set_level(LOG_ERROR); /* guest-caused warnings */
		f.vm.vm_fd = -1;
		f.vm.mem = guarded_ram();
		f.vm.mem_size = f.vm.low_size = FZ_MEM;
		if (uring_init(&f.uring, 64) < 0)
			abort();
	}
	if (len < 2)
		return 0;
	first = fz_u8(&in);
	f.dev = first % 3;
	d = devs[f.dev];
	f.flags = first / 3;
	f.sel = 0;
	f.reset_inflight = false;
	memset(f.q, 0, sizeof(f.q));
	memset(f.ready_num, 0, sizeof(f.ready_num));
	memset(f.vm.mem, 0, FZ_MEM);
	bus_init(&f.vm.mmio, "mmio");
	if (evloop_init(&f.loop) < 0 || d->init(&f) < 0)
		abort();
	for (unsigned q = 0; q < f.t->ops->nqueues; q++) {
		watch[q] =
		        (struct ev_handler){ f.t->notify_fd[q], on_notify, &f };
		if (evloop_add(&f.loop, &watch[q], EPOLLIN) < 0)
			abort();
	}

	while (in.n)
		run_op(&f, d, &in);
	if (tracing)
		trace(&f, d, "ops done");

	/* The VMM goes on: what is in flight completes, then the loop. */
	note_state(&f, 1);
	fake_uring_complete_all(&f.uring);
	fz_pump(&f);
	fake_uring_complete_all(&f.uring);
	if (tracing)
		trace(&f, d, "completed");
	d->check(&f);
	d->fini(&f);
	uring_destroy(&f.uring); /* forget what the device left behind */
	uring_init(&f.uring, 64);
	evloop_destroy(&f.loop);
	f.t = NULL;
	return 0;
}
