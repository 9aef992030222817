/*
 * Between the parts of fuzz_transport: the driver and its operations
 * (fuzz_transport.c) and the devices under test (fuzz_transport_dev.c).
 *
 * The harness plays the guest driver and the host around one device:
 * guest RAM of FZ_MEM bytes between two PROT_NONE guard pages (a device
 * write past the end of guest RAM faults at once), the transport's
 * registers on an MMIO bus without KVM, an event loop that serves queue
 * notifications as the VMM's does, and the fake io_uring (fake_uring.h)
 * whose requests end when and how the input says.
 */
#ifndef WISP_FUZZ_TRANSPORT_H
#define WISP_FUZZ_TRANSPORT_H

#include "evloop.h"
#include "mmio.h"
#include "vm.h"

#include <stddef.h>
#include <stdint.h>

#define FZ_MEM  (64 * 1024)
#define FZ_BASE 0xc0001000ULL
#define FZ_IRQ  5
/* Buffers of well-formed chains: a slot of FZ_SLOT bytes per head
 * (modulo FZ_NSLOT) from FZ_BUFS up; the rings go below, where the
 * driver puts them. */
#define FZ_BUFS  0x8000
#define FZ_SLOT  0x800
#define FZ_NSLOT 16
#define FZ_SEGS  4 /* segments of a well-formed chain, at most */

/*
 * The input, read front to back; past its end every value is 0. A
 * value (fz_val) is one byte below 0xf0, else a u16 (0xf0..0xf7) or a
 * u32 (0xf8..0xff) follows: small values are short to write.
 */
struct fz_in {
	const uint8_t *p;
	size_t n;
};
uint8_t fz_u8(struct fz_in *in);
uint16_t fz_u16(struct fz_in *in);
uint32_t fz_u32(struct fz_in *in);
uint32_t fz_val(struct fz_in *in);

/* A queue as the driver set it up (what it believes, right or wrong). */
struct fz_queue {
	uint16_t num;
	uint64_t desc, avail, used;
	uint16_t avail_idx; /* the next index the driver publishes */
};

struct fz {
	struct vm vm;
	struct evloop loop;
	struct uring uring;
	struct virtio_mmio *t; /* the device's transport */
	unsigned dev;          /* which one: blk, net, vsock */
	uint8_t flags;         /* the input's device options */
	uint32_t sel;          /* QueueSel as the driver wrote it */
	struct fz_queue q[VIRTIO_MMIO_MAX_QUEUE];
	uint16_t ready_num[VIRTIO_MMIO_MAX_QUEUE]; /* size when it went ready */
	bool reset_inflight; /* a driver reset with requests in flight */
};

/* One buffer of a well-formed chain. */
struct fz_seg {
	uint64_t gpa;
	uint32_t len;
	bool write; /* the device writes it */
};

struct fz_dev {
	const char *name;
	/* Attach the device (f->t set) for one input. 0 or -1. */
	int (*init)(struct fz *f);
	/*
	 * Write the buffers of a well-formed request for queue @q into
	 * guest RAM at @at (FZ_SLOT bytes), the shape read from @in; the
	 * segments go to @seg. Returns how many (0: nothing to post).
	 */
	unsigned (*chain)(struct fz *f, struct fz_in *in, unsigned q,
	                  uint64_t at, struct fz_seg *seg);
	/* The host side does something (@in says what). */
	void (*host)(struct fz *f, struct fz_in *in);
	/* What every input must leave true; abort() otherwise. */
	void (*check)(struct fz *f);
	/* Detach the device; requests in flight have ended. */
	void (*fini)(struct fz *f);
};

extern const struct fz_dev fz_blk, fz_net, fz_vsock;

/* The event loop's turn: queue notifications, host sockets, then the
 * ring's submissions and deferred flushes (uring_run). */
void fz_pump(struct fz *f);

#endif
