#include "net.h"
#include "iov.h"
#include "log.h"
#include "metrics.h"
#include "mmds_net.h"
#include "tap.h"
#include "util.h"
#include "vm.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define F(bit) (1ULL << (bit))
/* Offloads from the guest (HOST_*) and to it (GUEST_*): the tap's. */
#define NET_FEATURES                                                           \
	(F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) |                   \
	 F(VIRTIO_NET_F_MTU) | F(VIRTIO_NET_F_MAC) |                           \
	 F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) |             \
	 F(VIRTIO_NET_F_GUEST_UFO) | F(VIRTIO_NET_F_HOST_TSO4) |               \
	 F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_HOST_UFO) |                \
	 F(VIRTIO_NET_F_MRG_RXBUF))

/* How long a failing tap is left alone before the next read. */
#define RX_BACKOFF_NS (100 * 1000 * 1000ULL)

static bool negotiated(const struct net *n, unsigned bit)
{
	return n->t.drv_features & F(bit);
}

static void publish(struct net *n, unsigned qi)
{
	if (vq_publish(&n->t.vq[qi]))
		virtio_mmio_signal_used(&n->t);
}

/* ---- receive ------------------------------------------------------------ */

/*
 * Chains move from the ring into reads: a read covers the chains one frame
 * may need (all of a largest frame with MRG_RXBUF, else one). Chains a
 * read did not fill, or that a read under construction could not use,
 * wait in the pool (held[], their iovecs in rx_iov[]) and go first next
 * time. Up to NET_RX_BATCH reads go out hard-linked, so the kernel runs
 * them one after the other: frames keep the tap's order, and a busy tap
 * fills the whole batch in one submit. The next batch starts when the
 * last read of this one has completed.
 */

static void rx_fill(struct net *n);

/* Forget the chains taken (reset): they are the driver's again. */
static void rx_drop_held(struct net *n)
{
	n->nheld = n->nheld_iov = 0;
	memset(n->rx_taken, 0, sizeof(n->rx_taken));
}

/*
 * The device holds head @h (in the pool or in a read) until it is used.
 * A driver that posts a head again before it came back breaks the ring:
 * with it refused, the chains held never outnumber the queue's heads,
 * and held[] cannot overflow.
 */
static bool rx_take_head(struct net *n, uint16_t h)
{
	if (n->rx_taken[h]) {
		virtio_mmio_needs_reset(&n->t, "receive head posted again "
		                               "while the device holds it");
		return false;
	}
	n->rx_taken[h] = true;
	return true;
}

/* Put chain @c (its iovecs at @iov) at the front of the pool. */
static void pool_unget(struct net *n, const struct net_rxchain *c,
                       const struct iovec *iov)
{
	/*
	 * Heads are distinct, so held[] has room; the iovecs may not fit
	 * for a driver that posts hundreds of tiny buffers a chain. The
	 * chain is then dropped and the device stops until reset.
	 */
	if (n->nheld == VQ_MAX_SIZE || n->nheld_iov + c->niov > NET_RX_IOV) {
		n->rx_taken[c->head] = false;
		virtio_mmio_needs_reset(&n->t, "receive buffers too "
		                               "fragmented to hold");
		return;
	}
	memmove(n->held + 1, n->held, n->nheld * sizeof(n->held[0]));
	memmove(n->rx_iov + c->niov, n->rx_iov,
	        n->nheld_iov * sizeof(n->rx_iov[0]));
	for (unsigned i = 1; i <= n->nheld; i++)
		n->held[i].iov0 += c->niov;
	n->held[0] = (struct net_rxchain){ c->head, 0, c->niov, c->len };
	memcpy(n->rx_iov, iov, c->niov * sizeof(iov[0]));
	n->nheld++;
	n->nheld_iov += c->niov;
}

/* Hand the chains of @r back to the pool, last first (order kept). */
static void read_unget(struct net *n, struct net_rxread *r, unsigned from)
{
	for (unsigned i = r->nchain; i-- > from;)
		pool_unget(n, &r->chain[i], r->iov + r->chain[i].iov0);
	r->nchain = from;
}

/*
 * The next chain into read @r: from the pool, else from the ring. 0 when
 * it was added, 1 when none is there, 2 when it does not fit in @r (it
 * then waits in the pool), -1 when the ring broke.
 */
static int read_take(struct net *n, struct net_rxread *r)
{
	struct vq *q = &n->t.vq[NET_RXQ];
	struct vq_chain *c = &n->chain;
	struct net_rxchain h;
	const struct iovec *iov;

	if (n->nheld) {
		h = n->held[0];
		iov = n->rx_iov;
	} else {
		for (;;) {
			enum vq_pop_result res = vq_pop(q, n->t.vm, c);

			if (res == VQ_BROKEN) {
				virtio_mmio_needs_reset(&n->t, q->error);
				return -1;
			}
			if (res == VQ_CHAIN)
				break;
			if (!vq_enable_notify(q))
				return 1;
		}
		if (c->nout || c->in_len < NET_HDR_LEN) {
			virtio_mmio_needs_reset(
			        &n->t, c->nout ? "readable buffer in the "
			                         "receive queue"
			                       : "receive buffer smaller "
			                         "than the header");
			return -1;
		}
		if (!rx_take_head(n, c->head))
			return -1;
		h = (struct net_rxchain){ c->head, 0, c->nin, c->in_len };
		iov = c->iov;
	}
	if (r->nchain == NET_READ_CHAINS || r->niov + h.niov > NET_READ_IOV) {
		if (!n->nheld)
			pool_unget(n, &h, iov);
		return 2;
	}
	if (n->nheld) {
		/* Off the pool's front. */
		n->nheld--;
		n->nheld_iov -= h.niov;
		memmove(n->held, n->held + 1, n->nheld * sizeof(n->held[0]));
		memcpy(r->iov + r->niov, iov, h.niov * sizeof(iov[0]));
		memmove(n->rx_iov, n->rx_iov + h.niov,
		        n->nheld_iov * sizeof(n->rx_iov[0]));
		for (unsigned i = 0; i < n->nheld; i++)
			n->held[i].iov0 -= h.niov;
	} else {
		memcpy(r->iov + r->niov, iov, h.niov * sizeof(iov[0]));
	}
	h.iov0 = r->niov;
	r->chain[r->nchain++] = h;
	r->niov += h.niov;
	r->len += h.len;
	return 0;
}

/*
 * Fill read @r with chains; @taken is what the batch's earlier reads
 * hold. True when it is ready to go; false when the driver has not
 * posted enough (its chains wait in the pool).
 */
static bool read_build(struct net *n, struct net_rxread *r, unsigned taken)
{
	int ret = 0;

	r->nchain = r->niov = 0;
	r->len = 0;
	while (n->mrg ? r->len < n->rx_need : r->nchain == 0) {
		ret = read_take(n, r);
		if (ret)
			break;
	}
	if (ret < 0 || !r->nchain) {
		read_unget(n, r, 0);
		return false;
	}
	/*
	 * Short of a largest frame: wait for more buffers, unless the read
	 * is full or every chain of the queue is taken already.
	 */
	if (ret == 1 && taken + r->nchain + n->nheld < n->t.vq[NET_RXQ].size) {
		read_unget(n, r, 0);
		return false;
	}
	return true;
}

/* Hand @len bytes read into @r to the guest: used entries, num_buffers. */
static void rx_deliver(struct net *n, struct net_rxread *r, uint64_t len)
{
	struct vq *q = &n->t.vq[NET_RXQ];
	const struct net_rxchain *first = &r->chain[0];
	uint64_t left = len;
	uint16_t k = 0;
	uint8_t zero = 0;

	while (left && k < r->nchain) {
		uint64_t take = MIN(left, r->chain[k].len);

		vq_push(q, r->chain[k].head, (uint32_t)take);
		n->rx_taken[r->chain[k].head] = false;
		left -= take;
		k++;
	}
	vm_mark_dirty_iov(n->t.vm, r->iov, r->niov, len);
	iov_copy_to(r->iov, first->niov, 10, &k, sizeof(k));
	/* The tap may flag checksums the driver did not ask to hear of. */
	if (!n->guest_csum)
		iov_copy_to(r->iov, first->niov, 0, &zero, 1);
	n->stats.rx_packets_count++;
	n->stats.rx_bytes_count += len - NET_HDR_LEN;
	if (rl_active(&n->rl_rx))
		rl_charge(&n->rl_rx, len - NET_HDR_LEN, 1, rl_now_ns());
	uring_defer(n->uring, &n->rx_flush);
	/* Chains the frame did not need go back to the pool. */
	read_unget(n, r, k);
}

/*
 * Cancel the tap reads in flight: their chains come back to the pool.
 * Again every millisecond until the batch is over (a read hard-linked
 * behind a cancelled one starts when that one ends).
 */
static void rx_cancel_reads(struct net *n)
{
	uring_cancel_file(n->uring, n->slot);
	rl_timer_arm(&n->rx_timer, 1000 * 1000);
}

/*
 * Write the frames MMDS's responder has for the guest into receive
 * chains, taken as a read takes them (the pool first): one chain, or
 * with MRG_RXBUF as many as the largest frame needs or the driver has
 * posted (the responder cuts data to fit). When the reads in flight hold
 * every chain, they are cancelled (@mmds_want) and this runs again when
 * they are back.
 */
static void rx_mmds(struct net *n)
{
	struct net_rxread *r = &n->mmds_rd;
	uint64_t need = NET_HDR_LEN + n->mmds_frame_max;

	n->mmds_want = false;
	if (!n->mmds || !n->active || n->quiesced ||
	    !n->t.vq[NET_RXQ].s.ready ||
	    (n->t.status & VIRTIO_CONFIG_S_NEEDS_RESET))
		return;
	while (mmds_net_pending(n->mmds)) {
		size_t len;
		int ret = 0;

		r->nchain = r->niov = 0;
		r->len = 0;
		while (n->mrg ? r->len < need : r->nchain == 0) {
			ret = read_take(n, r);
			if (ret)
				break;
		}
		if (ret < 0) {
			read_unget(n, r, 0);
			return;
		}
		if (!r->nchain) {
			if (n->rx_inflight) {
				n->mmds_want = true;
				rx_cancel_reads(n);
			}
			return;
		}
		len = mmds_net_next(n->mmds, n->mmds_out + NET_HDR_LEN,
		                    (size_t)(MIN(r->len, need) - NET_HDR_LEN));
		if (!len) {
			read_unget(n, r, 0);
			return;
		}
		memset(n->mmds_out, 0, NET_HDR_LEN);
		iov_copy_to(r->iov, r->niov, 0, n->mmds_out, NET_HDR_LEN + len);
		METRIC_INC(mmds, tx_frames);
		atomic_fetch_add_explicit(&metrics.mmds_tx_bytes, len,
		                          memory_order_relaxed);
		rx_deliver(n, r, NET_HDR_LEN + len);
	}
}

/* After a batch of completions: one used-index update per queue. */
static void on_rx_flush(struct uring_flush *f)
{
	struct net *n = container_of(f, struct net, rx_flush);

	pthread_mutex_lock(&n->t.lock);
	publish(n, NET_RXQ);
	pthread_mutex_unlock(&n->t.lock);
}

static void on_tx_flush(struct uring_flush *f)
{
	struct net *n = container_of(f, struct net, tx_flush);

	pthread_mutex_lock(&n->t.lock);
	publish(n, NET_TXQ);
	pthread_mutex_unlock(&n->t.lock);
}

static void on_rx_done(struct uring_req *ur, int res)
{
	struct net_rxread *r = (struct net_rxread *)ur;
	struct net *n = r->net;

	pthread_mutex_lock(&n->t.lock);
	n->rx_inflight--;
	n->rx_busy = n->rx_inflight > 0;
	if (!vq_current(&n->t.vq[NET_RXQ], r->gen) || !n->active) {
		/* The driver reset the device meanwhile: its chains are gone.
		 */
	} else if (res >= NET_HDR_LEN + NET_ETH_HLEN) {
		rx_deliver(n, r, (uint64_t)res);
	} else if (res == -ECANCELED) {
		read_unget(n, r, 0); /* cancelled: the chains serve again */
	} else {
		read_unget(n, r, 0); /* the chains serve again */
		n->stats.rx_fails++;
		if (res != -EFAULT) {
			log_limited(&n->t.rl, LOG_WARN,
			            "net '%s': tap read: %s", n->id,
			            res < 0 ? strerror(-res) : "short frame");
			/* Leave a failing tap alone for a while: no spinning.
			 */
			n->rx_backoff = true;
			rl_timer_arm(&n->rx_timer, RX_BACKOFF_NS);
		}
		/* -EFAULT: a frame larger than the buffers; the tap dropped it.
		 */
	}
	if (!n->rx_inflight)
		rx_fill(n); /* queued; uring_run() sends it */
	else if (n->mmds_want)
		uring_cancel_file(n->uring, n->slot); /* the next one too */
	pthread_mutex_unlock(&n->t.lock);
}

static void rx_fill(struct net *n)
{
	unsigned nread = 0, max = rl_active(&n->rl_rx) ? 1 : NET_RX_BATCH;
	unsigned taken = 0;
	uint64_t now;

	rx_mmds(n); /* MMDS's frames first, into chains no read holds */
	if (!n->active || n->rx_inflight || n->rx_backoff || n->quiesced ||
	    !n->t.vq[NET_RXQ].s.ready ||
	    (n->t.status & VIRTIO_CONFIG_S_NEEDS_RESET))
		return;
	/* The offloads the driver accepted, before the first frame. */
	if (n->offload_dirty) {
		n->offload_dirty = false;
		if (n->is_tap && tap_set_offload(n->tap_fd, n->offload) < 0) {
			virtio_mmio_needs_reset(&n->t, "the tap refused the "
			                               "offloads");
			return;
		}
	}
	now = rl_now_ns();
	if (rl_active(&n->rl_rx) && !rl_may_start(&n->rl_rx, now)) {
		n->stats.rx_rate_limiter_throttled++;
		rl_timer_arm(&n->rx_timer, rl_wait_ns(&n->rl_rx, 0, 0, now));
		return;
	}
	while (nread < max && read_build(n, &n->rd[nread], taken))
		taken += n->rd[nread++].nchain;
	if (!nread) {
		/* Wait for the driver: it will notify the queue. */
		n->stats.no_rx_avail_buffer++;
		return;
	}
	for (unsigned i = 0; i < nread; i++) {
		struct net_rxread *r = &n->rd[i];
		struct io_uring_sqe *sqe = uring_sqe(n->uring, &r->ur);

		if (!sqe) {
			/* The ring is full: what did not go waits. */
			for (unsigned k = nread; k-- > i;)
				read_unget(n, &n->rd[k], 0);
			nread = i;
			break;
		}
		io_uring_prep_readv(sqe, n->slot, r->iov, r->niov, 0);
		uring_prep_fixed(sqe);
		if (i + 1 < nread)
			sqe->flags |= IOSQE_IO_HARDLINK;
		r->gen = vq_gen(&n->t.vq[NET_RXQ]);
	}
	n->rx_inflight = nread;
	n->rx_busy = nread > 0;
}

/* Reads from before a driver reset still hold the old buffers. */
static void rx_cancel_stale(struct net *n)
{
	if (!n->rx_busy || vq_current(&n->t.vq[NET_RXQ], n->rd[0].gen))
		return;
	rx_cancel_reads(n);
}

static void on_rx_timer(struct ev_handler *h, uint32_t events)
{
	struct net *n = h->opaque;

	pthread_mutex_lock(&n->t.lock);
	rl_timer_ack(&n->rx_timer);
	rx_cancel_stale(n);
	n->rx_backoff = false;
	rx_fill(n);
	pthread_mutex_unlock(&n->t.lock);
	uring_run(n->uring);
}

/* ---- transmit ----------------------------------------------------------- */

static void on_tx_done(struct uring_req *ur, int res)
{
	struct net_txreq *r = (struct net_txreq *)ur;
	struct net *n = r->net;

	pthread_mutex_lock(&n->t.lock);
	n->tx_inflight--;
	r->busy = false;
	if (vq_current(&n->t.vq[NET_TXQ], r->gen)) {
		if (res == (int)(r->frame + NET_HDR_LEN)) {
			n->stats.tx_packets_count++;
			n->stats.tx_bytes_count += r->frame;
		} else {
			n->stats.tx_fails++;
			log_limited(&n->t.rl, LOG_WARN,
			            "net '%s': tap write: %s", n->id,
			            res < 0 ? strerror(-res) : "short write");
		}
		vq_push(&n->t.vq[NET_TXQ], r->head, 0);
		uring_defer(n->uring, &n->tx_flush);
	} else if (n->tx_holding && n->tx_held.head == r->head) {
		/* A frame of the new driver waited for this slot. */
		uint64_t one = 1;

		if (write(n->t.notify_fd[NET_TXQ], &one, sizeof(one)) < 0)
			log_limited(&n->t.rl, LOG_WARN, "net '%s': tx kick: %s",
			            n->id, strerror(errno));
	}
	pthread_mutex_unlock(&n->t.lock);
}

/*
 * Check a frame's header against what was negotiated. Frames that break
 * it are malformed (dropped and counted), not hostile: the ring is fine.
 */
static bool tx_header_ok(const struct net *n, const uint8_t *hdr,
                         uint32_t frame)
{
	uint8_t flags = hdr[0], gso = hdr[1] & ~VIRTIO_NET_HDR_GSO_ECN;

	if (frame < NET_ETH_HLEN || frame > NET_MAX_FRAME)
		return false;
	if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    !negotiated(n, VIRTIO_NET_F_CSUM))
		return false;
	/* ECN only with a GSO type, and only with HOST_ECN (5.1.6.2). */
	if ((hdr[1] & VIRTIO_NET_HDR_GSO_ECN) &&
	    (gso == VIRTIO_NET_HDR_GSO_NONE ||
	     !negotiated(n, VIRTIO_NET_F_HOST_ECN)))
		return false;
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return true;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return negotiated(n, VIRTIO_NET_F_HOST_TSO4);
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return negotiated(n, VIRTIO_NET_F_HOST_TSO6);
	case VIRTIO_NET_HDR_GSO_UDP:
		return negotiated(n, VIRTIO_NET_F_HOST_UFO);
	default:
		return false;
	}
}

/*
 * Send @r now if the limiter lets it; false when throttled. A request
 * that cannot even be queued is answered at once (*@done set).
 */
static bool tx_send(struct net *n, struct net_txreq *r, bool *done)
{
	struct io_uring_sqe *sqe;
	uint64_t now;

	if (rl_active(&n->rl_tx)) {
		now = rl_now_ns();
		if (!rl_consume(&n->rl_tx, r->frame, 1, now)) {
			n->stats.tx_rate_limiter_throttled++;
			rl_timer_arm(&n->tx_timer,
			             rl_wait_ns(&n->rl_tx, r->frame, 1, now));
			return false;
		}
	}
	sqe = uring_sqe(n->uring, &r->ur);
	if (!sqe) {
		n->stats.tx_fails++;
		r->busy = false;
		vq_push(&n->t.vq[NET_TXQ], r->head, 0);
		*done = true;
		return true;
	}
	io_uring_prep_writev(sqe, n->slot, r->iov, r->niov, 0);
	uring_prep_fixed(sqe);
	n->tx_inflight++;
	return true;
}

/*
 * Turn chain @c into a request: a checked copy of the header, then the
 * frame from guest memory. NULL when the frame was dropped (*@done set)
 * or the device broke.
 */
static struct net_txreq *tx_prepare(struct net *n, const struct vq_chain *c,
                                    bool *done)
{
	struct net_txreq *r = &n->tx[c->head];
	uint64_t frame;

	if (r->busy) {
		virtio_mmio_needs_reset(&n->t,
		                        "transmit head reused in flight");
		return NULL;
	}
	if (c->nin) {
		virtio_mmio_needs_reset(
		        &n->t, "writable buffer in the transmit queue");
		return NULL;
	}
	*r = (struct net_txreq){
		.ur.done = on_tx_done,
		.net = n,
		.busy = true,
		.head = c->head,
		.gen = vq_gen(&n->t.vq[NET_TXQ]),
	};
	frame = c->out_len >= NET_HDR_LEN ? c->out_len - NET_HDR_LEN : 0;
	if (c->out_len < NET_HDR_LEN ||
	    !iov_copy_from(c->iov, c->nout, 0, r->hdr, NET_HDR_LEN) ||
	    !tx_header_ok(n, r->hdr, (uint32_t)MIN(frame, UINT32_MAX))) {
		n->stats.tx_malformed_frames++;
		r->busy = false;
		vq_push(&n->t.vq[NET_TXQ], c->head, 0);
		*done = true;
		return NULL;
	}
	r->frame = (uint32_t)frame;
	r->iov[0] = (struct iovec){ r->hdr, NET_HDR_LEN };
	/* The frame after our checked copy of the header. */
	r->niov = 1 +
	          iov_slice(c->iov, c->nout, NET_HDR_LEN, SIZE_MAX, r->iov + 1);
	return r;
}

/*
 * Whether request @r (chain @c) is a frame for MMDS; if so it was handed
 * to the responder and completed, with no tap write (its answers go out
 * at the end of the drain, rx_mmds()). The first bytes are
 * copied to decide, the rest after them when it is MMDS's: each byte of
 * guest memory is read once, and only the copy is parsed.
 */
static bool tx_mmds(struct net *n, const struct vq_chain *c,
                    struct net_txreq *r)
{
	size_t peek = MIN(r->frame, MMDS_NET_PEEK);

	if (!iov_copy_from(c->iov, c->nout, NET_HDR_LEN, n->mmds_in, peek) ||
	    !mmds_net_is_for(n->mmds, n->mmds_in, peek))
		return false;
	if (iov_copy_from(c->iov, c->nout, NET_HDR_LEN + peek,
	                  n->mmds_in + peek, r->frame - peek))
		mmds_net_rx(n->mmds, n->mmds_in, r->frame,
		            r->hdr[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM);
	r->busy = false;
	vq_push(&n->t.vq[NET_TXQ], r->head, 0);
	return true;
}

/*
 * Send chain @c, or keep it: false when the queue must stop for now
 * (throttled, waiting for a slot, or the device broke).
 */
static bool tx_take(struct net *n, const struct vq_chain *c, bool *done)
{
	struct net_txreq *r = &n->tx[c->head];

	if (r->busy && !vq_current(&n->t.vq[NET_TXQ], r->gen)) {
		/*
		 * A write from before a reset still holds the head's slot
		 * (its completion comes back to it), and a driver may post
		 * the head again at once: the chain waits for that
		 * completion, which kicks the queue.
		 */
		if (c != &n->tx_held)
			memcpy(&n->tx_held, c, sizeof(*c));
		n->tx_holding = true;
		return false;
	}
	r = tx_prepare(n, c, done);
	if (!r)
		return !(n->t.status & VIRTIO_CONFIG_S_NEEDS_RESET);
	if (n->mmds && tx_mmds(n, c, r)) {
		*done = true;
		return true;
	}
	if (!tx_send(n, r, done)) {
		n->tx_wait = r->head;
		return false;
	}
	return true;
}

static void tx_drain(struct net *n)
{
	struct vq *q = &n->t.vq[NET_TXQ];
	bool done = false;

	if (!n->active || !q->s.ready ||
	    (n->t.status & VIRTIO_CONFIG_S_NEEDS_RESET))
		return;
	if (n->tx_wait >= 0) {
		if (!tx_send(n, &n->tx[n->tx_wait], &done))
			return;
		n->tx_wait = -1;
	}
	if (n->tx_holding) {
		n->tx_holding = false;
		if (!tx_take(n, &n->tx_held, &done))
			goto out;
	}
	for (unsigned i = 0;; i++) {
		enum vq_pop_result res;

		if (i == VIRTIO_MMIO_BUDGET) {
			virtio_mmio_kick(&n->t, NET_TXQ);
			break;
		}
		res = vq_pop(q, n->t.vm, &n->chain);
		if (res == VQ_BROKEN) {
			virtio_mmio_needs_reset(&n->t, q->error);
			break;
		}
		if (res == VQ_EMPTY) {
			if (!vq_enable_notify(q))
				break;
			continue;
		}
		if (!tx_take(n, &n->chain, &done))
			break;
	}
out:
	/* The caller's uring_run() sends what was queued. */
	if (done)
		publish(n, NET_TXQ);
	/* What MMDS's responder has to say to the frames it took. */
	rx_mmds(n);
}

static void on_tx_timer(struct ev_handler *h, uint32_t events)
{
	struct net *n = h->opaque;

	pthread_mutex_lock(&n->t.lock);
	rl_timer_ack(&n->tx_timer);
	tx_drain(n);
	pthread_mutex_unlock(&n->t.lock);
	uring_run(n->uring);
}

/* ---- the device -----------------------------------------------------------
 */

static void net_notify(struct virtio_mmio *t, unsigned q)
{
	struct net *n = t->dev;

	if (q == NET_TXQ) {
		n->stats.tx_queue_event_count++;
		tx_drain(n);
		return;
	}
	n->stats.rx_queue_event_count++;
	rx_cancel_stale(n);
	rx_fill(n);
}

/*
 * DRIVER_OK, on a vCPU thread under the lock: work out the offloads and
 * the receive buffer size, then let the event loop start reading. The
 * event loop sets the tap's offloads (rx_fill): vCPU threads touch no
 * host file but KVM's, and only it may use the io_uring.
 */
static int net_activate(struct virtio_mmio *t)
{
	struct net *n = t->dev;
	unsigned tun = 0;
	uint64_t one = 1;
	bool gso;

	n->mrg = negotiated(n, VIRTIO_NET_F_MRG_RXBUF);
	n->guest_csum = negotiated(n, VIRTIO_NET_F_GUEST_CSUM);
	gso = negotiated(n, VIRTIO_NET_F_GUEST_TSO4) ||
	      negotiated(n, VIRTIO_NET_F_GUEST_TSO6) ||
	      negotiated(n, VIRTIO_NET_F_GUEST_UFO);
	if (n->guest_csum) {
		tun |= TUN_F_CSUM;
		if (negotiated(n, VIRTIO_NET_F_GUEST_TSO4))
			tun |= TUN_F_TSO4;
		if (negotiated(n, VIRTIO_NET_F_GUEST_TSO6))
			tun |= TUN_F_TSO6;
		if (negotiated(n, VIRTIO_NET_F_GUEST_UFO))
			tun |= TUN_F_UFO;
	}
	n->offload = tun;
	n->offload_dirty = true;
	log_debug("net '%s': features 0x%llx, tap offloads 0x%x", n->id,
	          (unsigned long long)t->drv_features, tun);
	/* Ethernet + VLAN tag around an MTU-sized packet, or a GSO frame. */
	n->rx_need = NET_HDR_LEN +
	             (gso ? NET_MAX_FRAME : n->frame_mtu + NET_ETH_HLEN + 4);
	n->active = true;
	if (write(t->notify_fd[NET_RXQ], &one, sizeof(one)) < 0)
		log_warn("net '%s': rx kick: %s", n->id, strerror(errno));
	return 0;
}

/* Driver reset, on a vCPU thread under the lock. */
static void net_reset(struct virtio_mmio *t)
{
	struct net *n = t->dev;

	if (!n)
		return; /* the transport's own reset at init */
	n->active = false;
	rx_drop_held(n);
	/* A throttled frame was never sent: its slot is free again. */
	if (n->tx_wait >= 0)
		n->tx[n->tx_wait].busy = false;
	n->tx_wait = -1;
	n->tx_holding = false;
	n->mmds_want = false;
}

static void net_config_read(struct virtio_mmio *t, uint64_t off, uint8_t *data,
                            uint32_t size)
{
	struct net *n = t->dev;

	if (off < sizeof(n->cfg) && size <= sizeof(n->cfg) - off)
		memcpy(data, (uint8_t *)&n->cfg + off, size);
}

static const struct virtio_ops net_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.nqueues = 2,
	.features = NET_FEATURES,
	.config_read = net_config_read,
	.activate = net_activate,
	.reset = net_reset,
	.queue_notify = net_notify,
};

int net_attach(struct net *n, struct vm *vm, struct uring *u,
               struct evloop *loop, const struct net_options *o, int fd,
               unsigned mtu, uint64_t base, unsigned irq, char *err,
               size_t errlen)
{
	uint64_t now = rl_now_ns();

	memset(n, 0, sizeof(*n));
	n->rx_timer.fd = n->tx_timer.fd = -1;
	n->tap_fd = fd;
	/* The ring reaches the tap only through its file table. */
	n->slot = uring_file_add(u, fd);
	if (n->slot < 0) {
		snprintf(err, errlen, "net '%s': io_uring: %s", o->id,
		         strerror(-n->slot));
		return -1;
	}
	n->uring = u;
	n->loop = loop;
	n->tx_wait = -1;
	for (unsigned i = 0; i < NET_RX_BATCH; i++)
		n->rd[i] =
		        (struct net_rxread){ .ur.done = on_rx_done, .net = n };
	n->mmds_rd.net = n;
	/* The guest is told the configuration's MTU, else the tap's; a
	 * read is sized for the larger, so no tap frame is cut. */
	n->cfg.mtu = (uint16_t)(o->mtu ? o->mtu : mtu);
	n->frame_mtu = MAX(mtu, (unsigned)n->cfg.mtu);
	if (o->mmds) {
		n->mmds_frame_max = n->cfg.mtu + NET_ETH_HLEN;
		n->mmds =
		        mmds_net_new(o->mmds, o->mmds_ipv4, n->mmds_frame_max);
		n->mmds_in = malloc(NET_MAX_FRAME);
		n->mmds_out = malloc(NET_HDR_LEN + n->mmds_frame_max);
		if (!n->mmds || !n->mmds_in || !n->mmds_out)
			goto fail;
	}
	n->rx_flush.fn = on_rx_flush;
	n->tx_flush.fn = on_tx_flush;
	snprintf(n->id, sizeof(n->id), "%s", o->id);
	snprintf(n->tap, sizeof(n->tap), "%s", o->tap ? o->tap : "");
	memcpy(n->cfg.mac, o->mac, 6);
	n->cfg.max_virtqueue_pairs = 1;
	rl_configure(&n->rl_rx, o->rx, now);
	rl_configure(&n->rl_tx, o->tx, now);
	if (rl_timer_init(&n->rx_timer) < 0 || rl_timer_init(&n->tx_timer) < 0)
		goto fail;
	n->h_rx_timer = (struct ev_handler){ n->rx_timer.fd, on_rx_timer, n };
	n->h_tx_timer = (struct ev_handler){ n->tx_timer.fd, on_tx_timer, n };
	if (loop && (evloop_add(loop, &n->h_rx_timer, EPOLLIN) < 0 ||
	             evloop_add(loop, &n->h_tx_timer, EPOLLIN) < 0))
		goto fail;
	if (virtio_mmio_init(&n->t, vm, &net_ops, n, base, irq) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "net '%s': cannot attach the device", o->id);
	return -1;
}

int net_init(struct net *n, struct vm *vm, struct uring *u, struct evloop *loop,
             const struct net_options *o, uint64_t base, unsigned irq,
             char *err, size_t errlen)
{
	unsigned mtu;
	int fd = tap_open(o->tap, &mtu, err, errlen);

	if (fd < 0)
		return -1;
	if (net_attach(n, vm, u, loop, o, fd, mtu, base, irq, err, errlen) < 0)
		return -1; /* net_destroy() closes the tap */
	n->is_tap = true;
	return 0;
}

void net_set_rate_limiters(struct net *n, const struct rate_limiter_config *rx,
                           const struct rate_limiter_config *tx)
{
	uint64_t now = rl_now_ns(), one = 1;

	pthread_mutex_lock(&n->t.lock);
	if (rx)
		rl_configure(&n->rl_rx, rx, now);
	if (tx)
		rl_configure(&n->rl_tx, tx, now);
	pthread_mutex_unlock(&n->t.lock);
	/* Whatever waited on the old limits may go now: look again. */
	if (rx && write(n->t.notify_fd[NET_RXQ], &one, sizeof(one)) < 0)
		log_warn("net '%s': rx kick: %s", n->id, strerror(errno));
	if (tx && write(n->t.notify_fd[NET_TXQ], &one, sizeof(one)) < 0)
		log_warn("net '%s': tx kick: %s", n->id, strerror(errno));
}

void net_quiesce(struct net *n)
{
	pthread_mutex_lock(&n->t.lock);
	n->quiesced = true;
	pthread_mutex_unlock(&n->t.lock);
	if (n->rx_busy)
		uring_cancel_wait(n->uring, n->slot, &n->rx_busy);
	uring_drain(n->uring);
}

void net_unquiesce(struct net *n)
{
	uint64_t one = 1;

	pthread_mutex_lock(&n->t.lock);
	n->quiesced = false;
	pthread_mutex_unlock(&n->t.lock);
	if (write(n->t.notify_fd[NET_RXQ], &one, sizeof(one)) < 0)
		log_warn("net '%s': rx kick: %s", n->id, strerror(errno));
}

void net_save(struct net *n, struct net_snap *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&n->t.lock);
	s->npool = n->nheld;
	for (unsigned i = 0; i < n->nheld; i++)
		s->pool[i] = n->held[i].head;
	/*
	 * A frame held for a slot is restored as a throttled one: requests
	 * in flight have completed by now (quiesce), so its slot is free.
	 */
	s->tx_wait = n->tx_wait >= 0 ? n->tx_wait
	             : n->tx_holding ? n->tx_held.head
	                             : -1;
	pthread_mutex_unlock(&n->t.lock);
}

int net_restore(struct net *n, const struct net_snap *s, char *err,
                size_t errlen)
{
	struct vq *rxq = &n->t.vq[NET_RXQ];
	int rc = -1;

	pthread_mutex_lock(&n->t.lock);
	if (s->npool > VQ_MAX_SIZE ||
	    (s->npool && (!rxq->s.ready || s->npool > rxq->size))) {
		snprintf(err, errlen, "net '%s': %u held receive chains", n->id,
		         s->npool);
		goto out;
	}
	rx_drop_held(n);
	for (unsigned i = 0; i < s->npool; i++) {
		struct net_rxchain *h;

		if (vq_chain_at(rxq, n->t.vm, s->pool[i], &n->chain) < 0 ||
		    n->chain.nout || n->chain.in_len < NET_HDR_LEN ||
		    n->nheld_iov + n->chain.nin > NET_RX_IOV ||
		    n->rx_taken[n->chain.head]) {
			snprintf(err, errlen, "net '%s': held chain %u: %s",
			         n->id, s->pool[i],
			         rxq->error ? rxq->error
			                    : "not a receive buffer");
			goto out;
		}
		n->rx_taken[n->chain.head] = true;
		h = &n->held[n->nheld++];
		*h = (struct net_rxchain){ n->chain.head, n->nheld_iov,
			                   n->chain.nin, n->chain.in_len };
		memcpy(n->rx_iov + n->nheld_iov, n->chain.iov,
		       n->chain.nin * sizeof(n->chain.iov[0]));
		n->nheld_iov += n->chain.nin;
	}
	n->tx_wait = -1;
	if (s->tx_wait >= 0) {
		struct vq *txq = &n->t.vq[NET_TXQ];
		struct net_txreq *r;
		bool done = false;

		if (s->tx_wait >= VQ_MAX_SIZE ||
		    vq_chain_at(txq, n->t.vm, (uint16_t)s->tx_wait, &n->chain) <
		            0 ||
		    !(r = tx_prepare(n, &n->chain, &done))) {
			snprintf(err, errlen, "net '%s': the throttled frame",
			         n->id);
			goto out;
		}
		n->tx_wait = r->head;
		rl_timer_arm(&n->tx_timer, 1);
	}
	rc = 0;
out:
	pthread_mutex_unlock(&n->t.lock);
	return rc;
}

void net_destroy(struct net *n)
{
	/* Nothing may start a read again once the ones in flight end. */
	if (n->t.ops) {
		pthread_mutex_lock(&n->t.lock);
		n->active = false;
		pthread_mutex_unlock(&n->t.lock);
	}
	if (n->rx_busy)
		uring_cancel_wait(n->uring, n->slot, &n->rx_busy);
	if (n->h_rx_timer.cb && n->loop)
		evloop_del(n->loop, &n->h_rx_timer);
	if (n->h_tx_timer.cb && n->loop)
		evloop_del(n->loop, &n->h_tx_timer);
	n->h_rx_timer.cb = n->h_tx_timer.cb = NULL;
	rl_timer_destroy(&n->rx_timer);
	rl_timer_destroy(&n->tx_timer);
	virtio_mmio_destroy(&n->t);
	if (n->slot >= 0 && n->uring)
		uring_file_del(n->uring, n->slot);
	n->slot = -1;
	if (n->tap_fd >= 0)
		close(n->tap_fd);
	n->tap_fd = -1;
	mmds_net_free(n->mmds);
	free(n->mmds_in);
	free(n->mmds_out);
	n->mmds = NULL;
	n->mmds_in = n->mmds_out = NULL;
}
