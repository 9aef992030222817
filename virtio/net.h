/*
 * virtio-net (virtio 1.2, 5.1) on a tap device, both directions through
 * io_uring.
 *
 *   receive queue 0   the driver posts writable chains; the device fills
 *                     them with a 12-byte virtio_net_hdr_v1 and a frame
 *   transmit queue 1  readable chains: a header and a frame
 *
 * Receive: chains are taken from the ring until they could hold the
 * largest frame the negotiated features allow (with MRG_RXBUF a frame may
 * span several chains; num_buffers says how many), then one readv goes to
 * the tap straight into them. One read is in flight at a time, so frames
 * reach the guest in the tap's order; a read that finds data completes
 * inline, so a busy tap is drained without waiting on the event loop.
 * With no buffers posted nothing is read: frames wait in the tap's own
 * queue (the host's txqueuelen bounds it), none is dropped inside wisp.
 *
 * Transmit: each chain becomes one writev from guest memory, with the
 * header copied and checked first (offloads the driver did not negotiate
 * are refused), so what the tap sees is what was checked.
 *
 * MMDS: on an interface PUT /mmds/config names, a frame for the MMDS
 * address (decided from a copy of its first bytes) is not written to the
 * tap: the rest of it is copied once, handed to the responder
 * (mmds_net.h) and the chain completed. The responder's frames are
 * written into receive chains the device takes as a read would (the
 * pool first, then the ring), next to the tap's reads; when a read in
 * flight holds every chain it is cancelled, its chains come back, and
 * MMDS's frames go first. With no buffers posted they wait: the
 * responder keeps what it owes as state, bounded, not as frames.
 *
 * Rate limiters (rx and tx, bytes and operations) throttle the queue and
 * arm a timerfd; nothing polls. Hostile chains (readable buffers in the
 * receive queue, writable ones in the transmit queue, buffers too small
 * for the header) set DEVICE_NEEDS_RESET; the VM goes on.
 */
#ifndef WISP_VIRTIO_NET_H
#define WISP_VIRTIO_NET_H

#include "evloop.h"
#include "mmio.h"
#include "ratelimit.h"
#include "uring.h"

#include <linux/virtio_net.h>

#define NET_RXQ       0
#define NET_TXQ       1
#define NET_HDR_LEN   12    /* struct virtio_net_hdr_v1 */
#define NET_MAX_FRAME 65550 /* 64 KiB of GSO payload and its headers */
#define NET_ETH_HLEN  14
/* Reads in one hard-linked batch, and what one read may cover. */
#define NET_RX_BATCH    8
#define NET_READ_CHAINS 64
#define NET_READ_IOV    VQ_MAX_SEGS
/* iovecs of the chains waiting for a read: what a batch may hand back. */
#define NET_RX_IOV (NET_RX_BATCH * NET_READ_IOV)

struct net;

struct net_txreq {
	struct uring_req ur; /* first: the completion callback */
	struct net *net;
	bool busy;
	uint16_t head;
	uint32_t gen;
	uint32_t frame; /* bytes of the frame, without the header */
	uint8_t hdr[NET_HDR_LEN];
	unsigned niov;
	struct iovec iov[VQ_MAX_SEGS + 1];
};

struct net_rxchain {
	uint16_t head;
	unsigned iov0, niov; /* its part of the iovec array it sits in */
	uint64_t len;
};

/* One readv into the chains of one frame. */
struct net_rxread {
	struct uring_req ur; /* first: the completion callback */
	struct net *net;
	uint32_t gen;
	unsigned nchain, niov;
	uint64_t len;
	struct net_rxchain chain[NET_READ_CHAINS];
	struct iovec iov[NET_READ_IOV];
};

/* Counters for metrics (Firecracker's names); event loop thread. */
#define NET_STATS(X)                                                           \
	X(rx_bytes_count)                                                      \
	X(rx_packets_count)                                                    \
	X(rx_fails)                                                            \
	X(rx_queue_event_count)                                                \
	X(no_rx_avail_buffer)                                                  \
	X(rx_rate_limiter_throttled)                                           \
	X(tx_bytes_count)                                                      \
	X(tx_packets_count)                                                    \
	X(tx_fails)                                                            \
	X(tx_queue_event_count)                                                \
	X(tx_malformed_frames)                                                 \
	X(tx_rate_limiter_throttled)
#define NET_STAT_FIELD(name) uint64_t name;
struct net_stats {
	NET_STATS(NET_STAT_FIELD)
};
#undef NET_STAT_FIELD

struct net_options {
	const char *id;  /* for messages */
	const char *tap; /* host_dev_name */
	uint8_t mac[6];
	unsigned mtu; /* told the guest; 0: the tap's */
	const struct rate_limiter_config *rx, *tx;
	/* This interface reaches MMDS (mmds_net.h) at @mmds_ipv4, or NULL. */
	struct mmds *mmds;
	uint32_t mmds_ipv4;
};

struct net {
	struct virtio_mmio t;
	struct uring *uring;
	unsigned frame_mtu; /* the larger of the tap's and the guest's MTU */
	struct evloop *loop;
	int tap_fd;
	int slot;    /* @tap_fd in the ring's file table */
	bool is_tap; /* offloads are set on it (net_attach: any fd) */
	char id[32], tap[16];
	struct virtio_net_config cfg;
	bool active; /* DRIVER_OK seen: serve the queues */
	bool mrg, guest_csum;
	unsigned offload;   /* TUN_F_* the driver accepted */
	bool offload_dirty; /* not set on the tap yet */
	uint64_t rx_need;   /* buffer bytes a read needs */

	/* Receive: a batch of reads in flight, and the pool of chains. */
	struct net_rxread rd[NET_RX_BATCH];
	unsigned rx_inflight; /* reads of the batch not completed yet */
	bool rx_busy;         /* rx_inflight > 0 */
	struct uring_flush rx_flush, tx_flush; /* publish after a batch */
	bool rx_backoff; /* the tap failed; retry on rx_timer */
	bool quiesced;   /* a snapshot is being taken: no reads */
	unsigned nheld, nheld_iov;
	struct net_rxchain held[VQ_MAX_SIZE];
	bool rx_taken[VQ_MAX_SIZE]; /* heads in the pool or in a read */
	struct iovec rx_iov[NET_RX_IOV];

	/* Transmit: one request per head; @tx_wait is throttled, or -1. */
	struct net_txreq tx[VQ_MAX_SIZE];
	int tx_wait;
	/* A chain waiting for its head's slot (a write from before reset). */
	bool tx_holding;
	struct vq_chain tx_held;
	unsigned tx_inflight;

	struct rate_limiter rl_rx, rl_tx;
	struct rl_timer rx_timer, tx_timer;
	struct ev_handler h_rx_timer, h_tx_timer;
	struct net_stats stats, reported; /* reported: at the last flush */
	struct vq_chain chain;            /* scratch for vq_pop() */

	/*
	 * MMDS (mmds_net.h), when this interface serves it: the guest's
	 * frames for it (one copy, @mmds_in), the responder's output
	 * (@mmds_out: a header and a frame) into chains of @mmds_rd.
	 * @mmds_want: output waits for chains a tap read holds (the read
	 * is being cancelled).
	 */
	struct mmds_net *mmds;
	uint8_t *mmds_in, *mmds_out;
	size_t mmds_frame_max;
	bool mmds_want;
	struct net_rxread mmds_rd;
};

/*
 * Open the tap and attach a virtio-net device at @base/@irq whose rate
 * limiter timers run on @loop. Returns 0, or -1 with a message in @err.
 */
int net_init(struct net *n, struct vm *vm, struct uring *u, struct evloop *loop,
             const struct net_options *o, uint64_t base, unsigned irq,
             char *err, size_t errlen);
/*
 * The same on an fd that is already open and behaves like a tap (one
 * frame per read and write, a 12-byte header first): a socketpair in
 * tests and fuzzing. No offload ioctls; @loop may be NULL (no limiter
 * timers then).
 */
int net_attach(struct net *n, struct vm *vm, struct uring *u,
               struct evloop *loop, const struct net_options *o, int fd,
               unsigned mtu, uint64_t base, unsigned irq, char *err,
               size_t errlen);
/* Waits for a read in flight to end first: guest RAM may go next. */
void net_destroy(struct net *n);

/*
 * Snapshots. net_quiesce: no new reads, the ones in flight cancelled and
 * waited for (their chains back in the pool), writes finished; the VM
 * is paused. net_unquiesce: reading again. What is kept beyond the
 * transport: the chains the device holds, in order, and a throttled
 * frame; restored after virtio_mmio_restore() by walking those heads in
 * the restored guest memory again.
 */
struct net_snap {
	uint32_t npool;
	int32_t tx_wait;
	uint16_t pool[VQ_MAX_SIZE];
};
void net_quiesce(struct net *n);
void net_unquiesce(struct net *n);
void net_save(struct net *n, struct net_snap *s);
int net_restore(struct net *n, const struct net_snap *s, char *err,
                size_t errlen);

/* New limiters from the API (PATCH): full buckets. Event loop thread. */
void net_set_rate_limiters(struct net *n, const struct rate_limiter_config *rx,
                           const struct rate_limiter_config *tx);

#endif
