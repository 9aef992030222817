/*
 * virtio-vsock: the device (its queues, the kill timer, resets). One
 * connection's logic is in vsock_conn.c, the host's Unix sockets in
 * vsock_uds.c; see vsock.h for the whole picture.
 */
#include "vsock_conn.h"
#include "iov.h"
#include "log.h"
#include "util.h"
#include "vm.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define RXQ 0
#define TXQ 1
#define EVQ 2
/* Chains served per call before the loop gets a turn (then a self-kick). */
#define BUDGET VIRTIO_MMIO_BUDGET

static bool live(const struct vsock *v)
{
	return (v->t.status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	       !(v->t.status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/* Serve queue @q again from the event loop, as if the guest notified. */
static void kick(struct vsock *v, unsigned q)
{
	if (virtio_mmio_kick(&v->t, q) < 0)
		v->stats.muxer_event_fails++;
}

void vsock_queue_rst(struct vsock *v, uint32_t local, uint32_t peer)
{
	unsigned i = (v->rst_head + v->rst_len) % VSOCK_RST_QUEUE;

	/* tx stops before the queue can overflow (tx_drain). */
	if (v->rst_len == VSOCK_RST_QUEUE)
		return;
	v->rst[i][0] = local;
	v->rst[i][1] = peer;
	v->rst_len++;
}

/* Take an rx buffer (or keep the one taken): 1, 0 for none, -1 broken. */
static int rx_take(struct vsock *v)
{
	struct vq *q = &v->t.vq[RXQ];
	struct vq_chain *c = &v->rx_chain;

	while (!v->rx_held) {
		enum vq_pop_result r = vq_pop(q, v->t.vm, c);

		if (r == VQ_BROKEN) {
			virtio_mmio_needs_reset(&v->t, q->error);
			return -1;
		}
		if (r == VQ_EMPTY) {
			if (vq_enable_notify(q))
				continue;
			return 0; /* back-pressure: wait for the driver */
		}
		if (c->nout) {
			virtio_mmio_needs_reset(&v->t,
			                        "rx buffer the device cannot "
			                        "write");
			return -1;
		}
		if (c->in_len < VSOCK_HDR_SIZE) {
			virtio_mmio_needs_reset(&v->t, "rx buffer shorter than "
			                               "a packet header");
			return -1;
		}
		v->rx_held = true;
	}
	return 1;
}

/* Packets for the guest, while it posts buffers and we have something. */
static void rx_fill(struct vsock *v)
{
	struct vq *q = &v->t.vq[RXQ];
	struct vq_chain *rc = &v->rx_chain;
	struct iovec data[VQ_MAX_SEGS];
	unsigned pushed = 0;

	while (live(v) && q->s.ready && (v->rst_len || v->qhead)) {
		struct vsock_conn *c = NULL;
		struct vsock_hdr h;
		unsigned nd;
		uint32_t cap;

		if (pushed == BUDGET) {
			kick(v, RXQ);
			break;
		}
		if (rx_take(v) <= 0)
			break;
		cap = (uint32_t)MIN(rc->in_len - VSOCK_HDR_SIZE,
		                    (uint64_t)VSOCK_MAX_PKT);
		nd = iov_slice(rc->iov, rc->nin, VSOCK_HDR_SIZE, cap, data);
		if (v->rst_len) {
			h = (struct vsock_hdr){
				.src_cid = VSOCK_HOST_CID,
				.dst_cid = v->guest_cid,
				.src_port = v->rst[v->rst_head][0],
				.dst_port = v->rst[v->rst_head][1],
				.type = VIRTIO_VSOCK_TYPE_STREAM,
				.op = VIRTIO_VSOCK_OP_RST,
			};
			v->rst_head = (v->rst_head + 1) % VSOCK_RST_QUEUE;
			v->rst_len--;
		} else {
			c = v->qhead;
			c->queued = false;
			v->qhead = c->qnext;
			if (v->qhead)
				v->qhead->qprev = NULL;
			else
				v->qtail = NULL;
			c->qnext = NULL;
			/* Nothing to say after all: it stays off the queue. */
			if (!vsock_conn_rx(v, c, &h, data, nd, cap))
				continue;
		}
		iov_copy_to(rc->iov, rc->nin, 0, &h, sizeof(h));
		vm_mark_dirty_iov(v->t.vm, rc->iov, rc->nin,
		                  VSOCK_HDR_SIZE + h.len);
		vq_push(q, rc->head, VSOCK_HDR_SIZE + h.len);
		v->rx_held = false;
		v->stats.rx_packets_count++;
		pushed++;
		if (c)
			vsock_conn_sent(v, c, h.op);
	}
	if (pushed && vq_publish(q))
		virtio_mmio_signal_used(&v->t);
}

/* One packet from the guest, its header at least in the chain. */
static void tx_packet(struct vsock *v, const struct vq_chain *ch)
{
	struct iovec data[VQ_MAX_SEGS];
	uint64_t room = ch->out_len - VSOCK_HDR_SIZE;
	struct vsock_conn *c;
	struct vsock_hdr h;
	unsigned nd = 0;

	iov_copy_from(ch->iov, ch->nout, 0, &h, sizeof(h));
	v->stats.tx_packets_count++;
	if (h.src_cid != v->guest_cid || h.dst_cid != VSOCK_HOST_CID) {
		/* Not from this guest to the host: no connection of ours. */
		log_limited(&v->rl, LOG_DEBUG,
		            "virtio-vsock: packet from cid %llu to cid %llu",
		            (unsigned long long)h.src_cid,
		            (unsigned long long)h.dst_cid);
		if (h.op != VIRTIO_VSOCK_OP_RST)
			vsock_queue_rst(v, h.dst_port, h.src_port);
		return;
	}
	c = vsock_conn_find(v, h.dst_port, h.src_port);
	if (h.type != VIRTIO_VSOCK_TYPE_STREAM || h.len > room) {
		log_limited(&v->rl, LOG_WARN,
		            "virtio-vsock: bad packet (type %u, len %u in a "
		            "%llu-byte buffer): reset",
		            h.type, h.len, (unsigned long long)room);
		if (c)
			vsock_conn_kill(v, c, NULL);
		else if (h.op != VIRTIO_VSOCK_OP_RST)
			vsock_queue_rst(v, h.dst_port, h.src_port);
		return;
	}
	if (!c) {
		if (h.op == VIRTIO_VSOCK_OP_REQUEST)
			vsock_uds_connect(v, &h);
		else if (h.op != VIRTIO_VSOCK_OP_RST)
			vsock_queue_rst(v, h.dst_port, h.src_port);
		return;
	}
	if (h.op == VIRTIO_VSOCK_OP_RW)
		nd = iov_slice(ch->iov, ch->nout, VSOCK_HDR_SIZE, h.len, data);
	vsock_conn_tx(v, c, &h, data, nd);
}

static void tx_drain(struct vsock *v)
{
	struct vq *q = &v->t.vq[TXQ];
	unsigned pushed = 0;

	v->tx_stalled = false;
	while (live(v) && q->s.ready) {
		enum vq_pop_result r;

		/*
		 * Each packet may need an RST of its own; with no room left
		 * for one, tx waits for the guest to take rx (5.10.6.1).
		 */
		if (v->rst_len == VSOCK_RST_QUEUE) {
			v->tx_stalled = true;
			break;
		}
		if (pushed == BUDGET) {
			kick(v, TXQ);
			break;
		}
		r = vq_pop(q, v->t.vm, &v->chain);
		if (r == VQ_BROKEN) {
			virtio_mmio_needs_reset(&v->t, q->error);
			break;
		}
		if (r == VQ_EMPTY) {
			if (vq_enable_notify(q))
				continue;
			break;
		}
		if (v->chain.nin) {
			virtio_mmio_needs_reset(
			        &v->t, "tx packet with a buffer for the "
			               "device to write");
			break;
		}
		if (v->chain.out_len < VSOCK_HDR_SIZE) {
			virtio_mmio_needs_reset(&v->t, "tx packet shorter than "
			                               "its header");
			break;
		}
		tx_packet(v, &v->chain);
		vq_push(q, v->chain.head, 0);
		pushed++;
	}
	if (pushed && vq_publish(q))
		virtio_mmio_signal_used(&v->t);
}

/* Deliver a pending TRANSPORT_RESET into an event buffer. */
static void event_deliver(struct vsock *v)
{
	struct vq *q = &v->t.vq[EVQ];
	uint32_t id = VIRTIO_VSOCK_EVENT_TRANSPORT_RESET;

	while (v->event_pending && live(v) && q->s.ready) {
		enum vq_pop_result r = vq_pop(q, v->t.vm, &v->chain);

		if (r == VQ_BROKEN) {
			virtio_mmio_needs_reset(&v->t, q->error);
			return;
		}
		if (r == VQ_EMPTY) {
			if (vq_enable_notify(q))
				continue;
			return;
		}
		if (v->chain.nout || v->chain.in_len < sizeof(id)) {
			virtio_mmio_needs_reset(&v->t, "bad event buffer");
			return;
		}
		iov_copy_to(v->chain.iov, v->chain.nin, 0, &id, sizeof(id));
		vm_mark_dirty_iov(v->t.vm, v->chain.iov, v->chain.nin,
		                  sizeof(id));
		vq_push(q, v->chain.head, sizeof(id));
		v->event_pending = false;
		if (vq_publish(q))
			virtio_mmio_signal_used(&v->t);
	}
}

void vsock_run(struct vsock *v)
{
	rx_fill(v);
	if (v->tx_stalled && v->rst_len < VSOCK_RST_QUEUE) {
		tx_drain(v);
		rx_fill(v);
	}
}

static void vsock_notify(struct virtio_mmio *t, unsigned q)
{
	struct vsock *v = t->dev;

	vsock_settle(v);
	if (q == RXQ) {
		v->stats.rx_queue_event_count++;
	} else if (q == TXQ) {
		v->stats.tx_queue_event_count++;
		tx_drain(v);
	} else {
		v->stats.ev_queue_event_count++;
		event_deliver(v);
	}
	vsock_run(v);
}

/* Close the connections (@all, or those the guest heard of). */
static void close_all(struct vsock *v, bool all)
{
	for (unsigned i = 0; v->conns && i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns[i];

		if (c->state != VSOCK_FREE && (all || vsock_conn_announced(c)))
			vsock_conn_free(v, c);
	}
	v->rst_len = v->rst_head = 0;
	v->tx_stalled = false;
}

/*
 * Driver reset (vCPU thread): every connection the guest knows goes (the
 * host sees EOF), on the event loop (vsock_settle()): here only what
 * needs no system call. Host connections whose REQUEST has not gone out
 * yet wait for the next driver, as they do before the guest's first one:
 * Linux resets the device when its driver loads.
 */
static void vsock_reset(struct virtio_mmio *t)
{
	struct vsock *v = t->dev;
	uint64_t one = 1;

	if (!v)
		return;
	v->rx_held = false;
	v->event_pending = false;
	v->rst_len = v->rst_head = 0; /* RSTs for the old driver's ports */
	v->tx_stalled = false;
	if (!v->nconns || v->reset_pending)
		return;
	v->reset_pending = true;
	if (write(v->reset_fd, &one, sizeof(one)) < 0)
		v->stats.muxer_event_fails++;
}

void vsock_settle(struct vsock *v)
{
	if (!v->reset_pending)
		return;
	v->reset_pending = false;
	close_all(v, false);
}

/* A vCPU reset the driver: close what it knew before it starts again. */
static void on_reset(struct ev_handler *h, uint32_t events)
{
	struct vsock *v = h->opaque;
	uint64_t n;

	if (read(h->fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		v->stats.muxer_event_fails++;
	pthread_mutex_lock(&v->t.lock);
	vsock_settle(v);
	vsock_run(v);
	pthread_mutex_unlock(&v->t.lock);
}

/* Serve what queued up before DRIVER_OK (host CONNECTs, say). */
static int vsock_activate(struct virtio_mmio *t)
{
	kick(t->dev, RXQ);
	kick(t->dev, TXQ);
	return 0;
}

static void vsock_config_read(struct virtio_mmio *t, uint64_t off,
                              uint8_t *data, uint32_t size)
{
	struct vsock *v = t->dev;
	uint64_t cid = v->guest_cid; /* struct virtio_vsock_config */

	if (off < sizeof(cid) && size <= sizeof(cid) - off)
		memcpy(data, (uint8_t *)&cid + off, size);
}

static const struct virtio_ops vsock_ops = {
	.name = "virtio-vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.nqueues = 3,
	.features = 0, /* streams only: no SEQPACKET */
	.config_read = vsock_config_read,
	.activate = vsock_activate,
	.reset = vsock_reset,
	.queue_notify = vsock_notify,
};

void vsock_transport_reset(struct vsock *v)
{
	pthread_mutex_lock(&v->t.lock);
	v->reset_pending = false; /* what it would close goes now */
	close_all(v, true);
	v->event_pending = true;
	event_deliver(v);
	pthread_mutex_unlock(&v->t.lock);
}

void vsock_get_stats(struct vsock *v, struct vsock_stats *out)
{
	pthread_mutex_lock(&v->t.lock);
	*out = v->stats;
	pthread_mutex_unlock(&v->t.lock);
}

void vsock_timer_arm(struct vsock *v, uint64_t at_us)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(at_us / 1000000),
		              .tv_nsec = (long)(at_us % 1000000) * 1000 },
	};

	if (v->timer_at && v->timer_at <= at_us)
		return;
	v->timer_at = at_us;
	if (timerfd_settime(v->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		v->stats.muxer_event_fails++;
}

/* Connections whose time is up: a CONNECT line, a REQUEST or a close. */
static void on_timer(struct ev_handler *h, uint32_t events)
{
	struct vsock *v = h->opaque;
	uint64_t n, now = util_now_us(), next = 0;

	if (read(h->fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		v->stats.muxer_event_fails++;
	pthread_mutex_lock(&v->t.lock);
	vsock_settle(v);
	v->timer_at = 0;
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns[i];

		if (c->state == VSOCK_FREE || !c->expiry_us)
			continue;
		if (c->expiry_us > now) {
			next = next && next < c->expiry_us ? next
			                                   : c->expiry_us;
			continue;
		}
		if (c->state == VSOCK_LINE)
			log_limited(
			        &v->rl, LOG_INFO,
			        "virtio-vsock: no CONNECT line from the host "
			        "in %u ms: closed",
			        v->timeout_ms);
		vsock_conn_kill(v, c, NULL);
	}
	if (next)
		vsock_timer_arm(v, next);
	vsock_run(v);
	pthread_mutex_unlock(&v->t.lock);
}

/* Undo what vsock_init() got to. */
static void release(struct vsock *v)
{
	if (v->h_listen.cb && !v->listen_paused)
		evloop_del(v->loop, &v->h_listen);
	if (v->h_timer.cb)
		evloop_del(v->loop, &v->h_timer);
	if (v->h_reset.cb)
		evloop_del(v->loop, &v->h_reset);
	v->h_listen.cb = v->h_timer.cb = v->h_reset.cb = NULL;
	if (v->t.ops) {
		pthread_mutex_lock(&v->t.lock);
		v->reset_pending = false;
		close_all(v, true);
		pthread_mutex_unlock(&v->t.lock);
		virtio_mmio_destroy(&v->t);
	}
	if (v->listen_fd >= 0)
		close(v->listen_fd);
	if (v->uds_path[0])
		unlink(v->uds_path);
	if (v->timer_fd >= 0)
		close(v->timer_fd);
	if (v->reset_fd >= 0)
		close(v->reset_fd);
	v->listen_fd = v->timer_fd = v->reset_fd = -1;
	v->uds_path[0] = '\0';
	free(v->conns);
	v->conns = NULL;
	v->inited = false;
}

int vsock_init(struct vsock *v, struct vm *vm, struct evloop *loop,
               uint64_t guest_cid, const char *uds_path, uint64_t base,
               unsigned irq, char *err, size_t errlen)
{
	memset(v, 0, sizeof(*v));
	v->listen_fd = v->timer_fd = v->reset_fd = -1;
	v->loop = loop;
	v->guest_cid = guest_cid;
	v->timeout_ms = VSOCK_TIMEOUT_MS;
	v->last_local_port = VSOCK_LOCAL_PORT0 - 1;
	v->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(5);
	if (vsock_uds_listen(v, uds_path, err, errlen) < 0)
		goto fail;
	v->timer_fd =
	        timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	v->reset_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	/* calloc: the slots' pages are touched only as connections come. */
	v->conns = calloc(VSOCK_MAX_CONNS, sizeof(*v->conns));
	if (v->timer_fd < 0 || v->reset_fd < 0 || !v->conns) {
		snprintf(err, errlen, "vsock: %s", strerror(errno));
		goto fail;
	}
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		vsock_conn_slot_init(v, &v->conns[i]);
	if (virtio_mmio_init(&v->t, vm, &vsock_ops, v, base, irq) < 0) {
		snprintf(err, errlen, "vsock: cannot attach the device");
		goto fail;
	}
	/* Last: from here the loop thread may call in. */
	v->h_listen = (struct ev_handler){ v->listen_fd, vsock_uds_accept, v };
	v->h_timer = (struct ev_handler){ v->timer_fd, on_timer, v };
	v->h_reset = (struct ev_handler){ v->reset_fd, on_reset, v };
	if (evloop_add(loop, &v->h_listen, EPOLLIN) < 0 ||
	    evloop_add(loop, &v->h_timer, EPOLLIN) < 0 ||
	    evloop_add(loop, &v->h_reset, EPOLLIN) < 0) {
		snprintf(err, errlen, "vsock: cannot watch %s", uds_path);
		goto fail;
	}
	v->inited = true;
	return 0;
fail:
	release(v);
	return -1;
}

void vsock_destroy(struct vsock *v)
{
	if (v->inited)
		release(v);
}

void vsock_save(struct vsock *v, struct vsock_snap *s)
{
	pthread_mutex_lock(&v->t.lock);
	*s = (struct vsock_snap){ .rx_held = v->rx_held,
		                  .rx_head =
		                          v->rx_held ? v->rx_chain.head : 0 };
	pthread_mutex_unlock(&v->t.lock);
}

int vsock_restore(struct vsock *v, const struct vsock_snap *s, char *err,
                  size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&v->t.lock);
	if (s->rx_held) {
		if (s->rx_head > UINT16_MAX ||
		    vq_chain_at(&v->t.vq[RXQ], v->t.vm, (uint16_t)s->rx_head,
		                &v->rx_chain) < 0) {
			snprintf(err, errlen, "vsock: the held rx buffer: %s",
			         v->t.vq[RXQ].error ? v->t.vq[RXQ].error
			                            : "bad head");
			rc = -1;
		} else if (v->rx_chain.nout ||
		           v->rx_chain.in_len < VSOCK_HDR_SIZE) {
			/* What rx_take() checks of a chain it holds. */
			snprintf(err, errlen,
			         "vsock: the held rx buffer is not a writable "
			         "buffer of a packet header or more");
			rc = -1;
		} else {
			v->rx_held = true;
		}
	}
	pthread_mutex_unlock(&v->t.lock);
	if (!rc)
		vsock_transport_reset(v);
	return rc;
}
