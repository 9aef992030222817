/*
 * virtio-blk (virtio 1.2, 5.2) over a raw image file, served by io_uring.
 *
 * A request is a chain: a 16-byte header the device reads (type, sector),
 * data, and a status byte the device writes last. Sizes and offsets past
 * the end of the image are answered with IOERR and never reach the host;
 * a chain without room for the header or the status, or a head reused
 * while in flight, breaks the device (DEVICE_NEEDS_RESET).
 */
#ifndef WISP_VIRTIO_BLK_H
#define WISP_VIRTIO_BLK_H

#include "evloop.h"
#include "mmio.h"
#include "ratelimit.h"
#include "uring.h"

#include <linux/virtio_blk.h>

#define BLK_ID_LEN  VIRTIO_BLK_ID_BYTES /* 20 */
#define BLK_SEG_MAX (VQ_MAX_SEGS - 2)   /* data segments: header + status */

struct blk;

struct blk_req {
	struct uring_req ur; /* first: the completion callback */
	struct blk *blk;
	bool busy;
	uint16_t head;
	uint32_t gen;     /* its queue's generation when it was taken */
	uint8_t *status;  /* the guest's status byte */
	uint32_t written; /* bytes written into the chain on success */
	uint64_t expect;  /* bytes the operation must move */
	bool reads;       /* the host writes @iov: a read from the image */
	unsigned niov;
	struct iovec iov[VQ_MAX_SEGS];
};

struct blk_options {
	const char *path;
	bool read_only;
	bool direct;    /* O_DIRECT: buffers must be 512-byte aligned */
	bool no_flush;  /* do not offer FLUSH (Firecracker's "Unsafe") */
	const char *id; /* serial the guest sees (GET_ID); NULL: the path */
	/* The rate limiter and the loop its timer runs on; NULL: none. */
	const struct rate_limiter_config *rl;
	struct evloop *loop;
};

/*
 * Counters for metrics; the event loop thread writes and reads them.
 * invalid_reqs_count: requests answered IOERR or UNSUPP.
 */
#define BLK_STATS(X)                                                           \
	X(read_count)                                                          \
	X(write_count)                                                         \
	X(flush_count)                                                         \
	X(read_bytes)                                                          \
	X(write_bytes)                                                         \
	X(invalid_reqs_count)                                                  \
	X(rate_limiter_throttled_events)
#define BLK_STAT_FIELD(name) uint64_t name;
struct blk_stats {
	BLK_STATS(BLK_STAT_FIELD)
};
#undef BLK_STAT_FIELD

struct blk {
	struct virtio_mmio t;
	struct uring *uring;
	int fd;
	int slot;      /* @fd in the ring's file table */
	uint64_t size; /* bytes; a multiple of 512 is exposed */
	bool read_only, direct;
	char id[BLK_ID_LEN]; /* GET_ID's bytes: no NUL when 20 long */
	struct virtio_blk_config cfg;
	unsigned inflight;
	struct blk_stats stats, reported; /* reported: at the last flush */
	struct vq_chain chain;            /* scratch for vq_pop() */
	struct blk_req req[VQ_MAX_SIZE];
	struct uring_flush flush; /* publish after a batch of completions */

	/* Rate limiting: a throttled chain waits in @held for the timer. */
	struct rate_limiter rl;
	struct rl_timer timer;
	struct ev_handler h_timer;
	struct evloop *loop;
	bool holding;
	struct vq_chain held;
};

/*
 * Open the image and attach a virtio-blk device at @base/@irq. Returns 0,
 * or -1 with a message naming the file in @err.
 */
int blk_init(struct blk *b, struct vm *vm, struct uring *u,
             const struct blk_options *o, uint64_t base, unsigned irq,
             char *err, size_t errlen);
void blk_destroy(struct blk *b);

/*
 * Serve the drive from @path from now on (same mode and flags): requests
 * in flight finish on the old file, the capacity is read again and the
 * driver gets a configuration change interrupt. Event loop thread. Returns
 * 0, or -1 with a message in @err and the old file kept.
 */
int blk_set_path(struct blk *b, const char *path, char *err, size_t errlen);

/*
 * A new rate limiter from the API (PATCH): full buckets, in effect at
 * once. Event loop thread; needs blk_options.loop at init.
 */
void blk_set_rate_limiter(struct blk *b, const struct rate_limiter_config *rl);

/* What a snapshot keeps beyond the transport: a throttled request. */
struct blk_snap {
	uint32_t holding, held_head;
};
/* The VM is paused and requests in flight have completed (uring_drain). */
void blk_save(struct blk *b, struct blk_snap *s);
/* After virtio_mmio_restore(): take the throttled request back. */
int blk_restore(struct blk *b, const struct blk_snap *s, char *err,
                size_t errlen);

#endif
