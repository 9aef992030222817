/*
 * vsock connections: the state machine of one guest stream and its host
 * Unix socket, credit in both directions, and the host side's CONNECT
 * line. Everything runs under the transport's lock (vsock_conn.h).
 */
#include "vsock_conn.h"
#include "iov.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define SHUT_BOTH (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)

static unsigned bucket(uint32_t port)
{
	return (port * 2654435761u) >> 24; /* Knuth's multiplicative hash */
}

struct vsock_conn *vsock_conn_find(struct vsock *v, uint32_t local,
                                   uint32_t peer)
{
	for (struct vsock_conn *c = v->hash[bucket(local)]; c; c = c->hnext)
		if (c->local_port == local && c->peer_port == peer)
			return c;
	return NULL;
}

bool vsock_port_used(struct vsock *v, uint32_t port)
{
	for (struct vsock_conn *c = v->hash[bucket(port)]; c; c = c->hnext)
		if (c->local_port == port)
			return true;
	return false;
}

void vsock_conn_hash(struct vsock *v, struct vsock_conn *c)
{
	unsigned b = bucket(c->local_port);

	c->hnext = v->hash[b];
	v->hash[b] = c;
	c->hashed = true;
}

static void hash_del(struct vsock *v, struct vsock_conn *c)
{
	struct vsock_conn **p = &v->hash[bucket(c->local_port)];

	while (*p && *p != c)
		p = &(*p)->hnext;
	if (*p)
		*p = c->hnext;
	c->hashed = false;
}

static void dequeue(struct vsock *v, struct vsock_conn *c)
{
	if (!c->queued)
		return;
	if (c->qprev)
		c->qprev->qnext = c->qnext;
	else
		v->qhead = c->qnext;
	if (c->qnext)
		c->qnext->qprev = c->qprev;
	else
		v->qtail = c->qprev;
	c->qnext = c->qprev = NULL;
	c->queued = false;
}

struct vsock_conn *vsock_conn_alloc(struct vsock *v)
{
	if (v->nconns >= VSOCK_MAX_CONNS)
		return NULL;
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns[v->cursor];

		v->cursor = (v->cursor + 1) % VSOCK_MAX_CONNS;
		if (c->state == VSOCK_FREE) {
			v->nconns++;
			return c;
		}
	}
	return NULL;
}

/*
 * Edge-triggered for input, so data the guest has no room for does not
 * wake the loop again and again. evloop has no EPOLL_CTL_MOD: the output
 * bit changes only when the host stops or resumes draining.
 */
int vsock_conn_watch(struct vsock *v, struct vsock_conn *c, bool out)
{
	uint32_t ev = EPOLLIN | EPOLLRDHUP | EPOLLET | (out ? EPOLLOUT : 0);

	if (c->fd < 0 || (c->watched && c->watch_out == out))
		return 0;
	if (c->watched)
		evloop_del(v->loop, &c->h);
	c->watched = false;
	c->h.fd = c->fd;
	if (evloop_add(v->loop, &c->h, ev) < 0) {
		v->stats.conn_event_fails++;
		return -1;
	}
	c->watched = true;
	c->watch_out = out;
	return 0;
}

/* Close the host socket and drop what it did not take. */
static void close_host(struct vsock *v, struct vsock_conn *c)
{
	if (c->fd < 0)
		return;
	if (c->watched)
		evloop_del(v->loop, &c->h);
	close(c->fd);
	c->fd = -1;
	c->watched = false;
	free(c->buf);
	c->buf = NULL;
	c->buf_len = 0;
	vsock_listen_resume(v);
}

void vsock_conn_free(struct vsock *v, struct vsock_conn *c)
{
	struct ev_handler h = c->h;

	close_host(v, c);
	if (c->hashed)
		hash_del(v, c);
	dequeue(v, c);
	if (c->counted)
		v->stats.conns_removed++;
	/* The handler stays valid: an event of this batch may still come. */
	*c = (struct vsock_conn){ .h = h, .v = v, .fd = -1 };
	v->nconns--;
}

/* Does the guest know the connection (so it must hear of its end)? */
static bool guest_knows(const struct vsock_conn *c)
{
	return c->state == VSOCK_PEER_INIT || c->state == VSOCK_ESTABLISHED ||
	       (c->state == VSOCK_LOCAL_INIT &&
	        !(c->pending & VSOCK_PEND_REQUEST));
}

bool vsock_conn_announced(const struct vsock_conn *c)
{
	return c->state != VSOCK_LINE && !(c->state == VSOCK_LOCAL_INIT &&
	                                   (c->pending & VSOCK_PEND_REQUEST));
}

void vsock_conn_kill(struct vsock *v, struct vsock_conn *c, const char *why)
{
	if (c->state == VSOCK_CLOSING)
		return;
	if (why)
		log_limited(&v->rl, LOG_WARN,
		            "virtio-vsock: %s (host port %u, guest port %u): "
		            "connection reset",
		            why, c->local_port, c->peer_port);
	if (c->counted)
		v->stats.conns_killed++;
	if (!guest_knows(c)) {
		vsock_conn_free(v, c);
		return;
	}
	close_host(v, c);
	c->state = VSOCK_CLOSING;
	c->pending = VSOCK_PEND_RST;
	c->expiry_us = 0;
	vsock_conn_sched(v, c);
}

void vsock_conn_expire_in(struct vsock *v, struct vsock_conn *c, unsigned ms)
{
	c->expiry_us = util_now_us() + (uint64_t)ms * 1000;
	vsock_timer_arm(v, c->expiry_us);
}

static uint32_t credit(const struct vsock_conn *c)
{
	return vsock_credit(c->peer_buf_alloc, c->rx_cnt, c->peer_fwd_cnt);
}

/* May we read the host socket for the guest now? */
static bool wants_read(const struct vsock_conn *c)
{
	return c->state == VSOCK_ESTABLISHED && c->readable && !c->host_eof &&
	       !(c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV) &&
	       (credit(c) || !c->credit_asked);
}

bool vsock_conn_has_rx(const struct vsock_conn *c)
{
	return c->pending || wants_read(c);
}

void vsock_conn_sched(struct vsock *v, struct vsock_conn *c)
{
	if (c->queued || c->state == VSOCK_FREE || !vsock_conn_has_rx(c))
		return;
	c->qnext = NULL;
	c->qprev = v->qtail;
	if (v->qtail)
		v->qtail->qnext = c;
	else
		v->qhead = c;
	v->qtail = c;
	c->queued = true;
}

/*
 * Both directions finished (the guest will send no more and all it sent
 * reached the host; the host will send no more or the guest will take no
 * more): end the connection with an RST, as Firecracker does.
 */
static void check_done(struct vsock *v, struct vsock_conn *c)
{
	bool g2h = (c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) && !c->buf_len;
	bool h2g = c->host_eof || (c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV);

	if (c->state != VSOCK_ESTABLISHED || !g2h || !h2g)
		return;
	close_host(v, c);
	c->state = VSOCK_CLOSING;
	c->pending |= VSOCK_PEND_RST;
	c->expiry_us = 0;
	vsock_conn_sched(v, c);
}

/*
 * After we passed data on: if the guest believes our buffer is nearly
 * full while it is not, tell it, or it stops sending for nothing.
 */
static void credit_check(struct vsock_conn *c)
{
	uint32_t unseen = c->fwd_cnt - c->fwd_cnt_sent;
	uint64_t seen_used = (uint64_t)c->buf_len + unseen;

	if (unseen && seen_used + VSOCK_CREDIT_LOW >= VSOCK_BUF_ALLOC)
		c->pending |= VSOCK_PEND_CREDIT_UPDATE;
}

/* The guest sends no more: tell the host once we passed everything on. */
static void shut_host_write(struct vsock_conn *c)
{
	if (!(c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) || c->buf_len ||
	    c->host_wr_shut || c->fd < 0)
		return;
	shutdown(c->fd, SHUT_WR);
	c->host_wr_shut = true;
}

/* Append [skip, skip + len) of @iov to the ring. */
static void ring_put(struct vsock_conn *c, const struct iovec *iov, unsigned n,
                     size_t skip, size_t len)
{
	for (unsigned i = 0; i < n && len; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		p += skip;
		l = MIN(l - skip, len);
		skip = 0;
		len -= l;
		while (l) {
			uint32_t at =
			        (c->buf_head + c->buf_len) % VSOCK_BUF_ALLOC;
			size_t k = MIN(l, (size_t)(VSOCK_BUF_ALLOC - at));

			memcpy(c->buf + at, p, k);
			c->buf_len += (uint32_t)k;
			p += k;
			l -= k;
		}
	}
}

static ssize_t send_iov(int fd, const struct iovec *iov, unsigned n)
{
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = n };
	ssize_t r;

	do /* MSG_NOSIGNAL: a host that went away is EPIPE, not SIGPIPE */
		r = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	return r;
}

/* Write buffered data while the host socket takes it. */
static void flush(struct vsock *v, struct vsock_conn *c)
{
	while (c->buf_len && c->fd >= 0) {
		uint32_t first = MIN(c->buf_len, VSOCK_BUF_ALLOC - c->buf_head);
		struct iovec io[2] = { { c->buf + c->buf_head, first },
			               { c->buf, c->buf_len - first } };
		ssize_t n = send_iov(c->fd, io, io[1].iov_len ? 2 : 1);

		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			v->stats.tx_flush_fails++;
			vsock_conn_kill(v, c, NULL);
			return;
		}
		c->buf_head = (c->buf_head + (uint32_t)n) % VSOCK_BUF_ALLOC;
		c->buf_len -= (uint32_t)n;
		c->fwd_cnt += (uint32_t)n;
		v->stats.tx_bytes_count += (uint64_t)n;
	}
	if (c->buf_len)
		return;
	if (vsock_conn_watch(v, c, false) < 0) {
		vsock_conn_kill(v, c, NULL);
		return;
	}
	shut_host_write(c);
	credit_check(c);
	check_done(v, c);
}

/* Guest payload for the host: straight to the socket, the rest buffered. */
static void to_host(struct vsock *v, struct vsock_conn *c,
                    const struct iovec *data, unsigned n, uint32_t len)
{
	size_t done = 0;

	if (!c->buf_len) {
		ssize_t w = send_iov(c->fd, data, n);

		if (w < 0 && errno != EAGAIN) {
			v->stats.tx_write_fails++;
			vsock_conn_kill(v, c, NULL);
			return;
		}
		done = w > 0 ? (size_t)w : 0;
		c->fwd_cnt += (uint32_t)done;
		v->stats.tx_bytes_count += done;
	}
	if (done < len) {
		if (!c->buf && !(c->buf = malloc(VSOCK_BUF_ALLOC))) {
			vsock_conn_kill(v, c, "out of memory for the buffer");
			return;
		}
		ring_put(c, data, n, done, len - done);
		if (vsock_conn_watch(v, c, true) < 0) {
			vsock_conn_kill(v, c, NULL);
			return;
		}
	}
	credit_check(c);
}

/* The guest's answer to our REQUEST: tell the host program its port. */
static void established(struct vsock *v, struct vsock_conn *c)
{
	char ok[24];
	int n = snprintf(ok, sizeof(ok), "OK %u\n", c->local_port);

	c->state = VSOCK_ESTABLISHED;
	c->expiry_us = 0;
	/* Bytes the host sent after its CONNECT line wait in the socket. */
	c->readable = true;
	/* A fresh socket takes a dozen bytes; if not, something is wrong. */
	if (send(c->fd, ok, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n)
		vsock_conn_kill(v, c, NULL);
}

void vsock_conn_tx(struct vsock *v, struct vsock_conn *c,
                   const struct vsock_hdr *h, const struct iovec *data,
                   unsigned ndata)
{
	/* Every packet carries the guest's current credit (5.10.6.3). */
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->credit_asked = false;

	switch (h->op) {
	case VIRTIO_VSOCK_OP_RST:
		vsock_conn_free(v, c);
		return;
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state == VSOCK_LOCAL_INIT &&
		    !(c->pending & VSOCK_PEND_REQUEST))
			established(v, c);
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (c->state != VSOCK_ESTABLISHED)
			break;
		/* The hints are permanent: bits only add up. */
		c->guest_shut |= h->flags & SHUT_BOTH;
		if (c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV)
			c->readable = false; /* nobody wants host data now */
		shut_host_write(c);
		/* Closed by the guest with data the host does not take. */
		if (c->guest_shut == SHUT_BOTH && c->buf_len)
			vsock_conn_expire_in(v, c, v->timeout_ms);
		check_done(v, c);
		break;
	case VIRTIO_VSOCK_OP_RW:
		if (c->state != VSOCK_ESTABLISHED ||
		    (c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_SEND)) {
			vsock_conn_kill(v, c, "guest data out of place");
			return;
		}
		if (h->len > VSOCK_BUF_ALLOC - c->buf_len) {
			vsock_conn_kill(v, c,
			                "guest sent more than its credit");
			return;
		}
		if (h->len)
			to_host(v, c, data, ndata, h->len);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		break; /* taken above */
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->pending |= VSOCK_PEND_CREDIT_UPDATE;
		break;
	case VIRTIO_VSOCK_OP_REQUEST:
		break; /* for a connection that exists: a stray, ignored */
	default:
		vsock_conn_kill(v, c, "unknown op");
		return;
	}
	vsock_conn_sched(v, c);
}

/*
 * Did the host close its socket entirely, not just its write side? (Only
 * asked while our write side is open: after our own shutdown the socket
 * hangs up either way.)
 */
static bool host_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLHUP);
}

/* Read host data for the guest: an RW packet, the host's EOF, or nothing. */
static bool read_host(struct vsock *v, struct vsock_conn *c,
                      struct vsock_hdr *h, const struct iovec *data,
                      unsigned ndata, uint32_t cap)
{
	struct iovec io[VQ_MAX_SEGS];
	uint32_t room = MIN(cap, credit(c));
	unsigned n;
	ssize_t r;

	if (!credit(c)) {
		/* Out of credit: ask once; the guest's next packet resets. */
		c->credit_asked = true;
		h->op = VIRTIO_VSOCK_OP_CREDIT_REQUEST;
		return true;
	}
	if (!room) {
		/* A buffer with no room past the header (no driver posts
		 * one): fill it with news that is always true, keep the
		 * data for the next buffer. */
		h->op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
		return true;
	}
	n = iov_slice(data, ndata, 0, room, io);
	do
		r = readv(c->fd, io, (int)n);
	while (r < 0 && errno == EINTR);
	if (r > 0) {
		h->op = VIRTIO_VSOCK_OP_RW;
		h->len = (uint32_t)r;
		c->rx_cnt += (uint32_t)r;
		v->stats.rx_bytes_count += (uint64_t)r;
		return true;
	}
	if (r == 0) {
		/*
		 * EOF: the host sends no more. It may still read (a half
		 * close), so the guest may go on sending, unless the host
		 * closed the socket: then the guest should not send either,
		 * and has a little while to answer with its RST.
		 */
		c->host_eof = true;
		h->op = VIRTIO_VSOCK_OP_SHUTDOWN;
		h->flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
		if (!c->host_wr_shut && host_gone(c->fd)) {
			h->flags |= VIRTIO_VSOCK_SHUTDOWN_RCV;
			vsock_conn_expire_in(v, c, v->timeout_ms);
		}
		check_done(v, c);
		return true;
	}
	c->readable = false;
	if (errno == EAGAIN)
		return false;
	v->stats.rx_read_fails++;
	vsock_conn_kill(v, c, NULL);
	return false;
}

bool vsock_conn_rx(struct vsock *v, struct vsock_conn *c, struct vsock_hdr *h,
                   const struct iovec *data, unsigned ndata, uint32_t cap)
{
	bool made = true;

	*h = (struct vsock_hdr){
		.src_cid = VSOCK_HOST_CID,
		.dst_cid = v->guest_cid,
		.src_port = c->local_port,
		.dst_port = c->peer_port,
		.type = VIRTIO_VSOCK_TYPE_STREAM,
		.buf_alloc = VSOCK_BUF_ALLOC,
		.fwd_cnt = c->fwd_cnt,
	};
	if (c->pending & VSOCK_PEND_RST) {
		c->pending = 0;
		h->op = VIRTIO_VSOCK_OP_RST;
	} else if (c->pending & VSOCK_PEND_RESPONSE) {
		c->pending &= ~VSOCK_PEND_RESPONSE;
		c->state = VSOCK_ESTABLISHED;
		h->op = VIRTIO_VSOCK_OP_RESPONSE;
	} else if (c->pending & VSOCK_PEND_REQUEST) {
		c->pending &= ~VSOCK_PEND_REQUEST;
		h->op = VIRTIO_VSOCK_OP_REQUEST;
		vsock_conn_expire_in(v, c, v->timeout_ms);
	} else if (!wants_read(c) || !read_host(v, c, h, data, ndata, cap)) {
		if (c->pending & VSOCK_PEND_RST) /* the read failed */
			return vsock_conn_rx(v, c, h, data, ndata, cap);
		made = c->pending & VSOCK_PEND_CREDIT_UPDATE;
		h->op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
	}
	if (made) {
		/* Any packet tells the guest our credit. */
		c->pending &= ~VSOCK_PEND_CREDIT_UPDATE;
		c->fwd_cnt_sent = c->fwd_cnt;
	}
	return made;
}

void vsock_conn_sent(struct vsock *v, struct vsock_conn *c, uint16_t op)
{
	if (op == VIRTIO_VSOCK_OP_RST)
		vsock_conn_free(v, c);
	else
		vsock_conn_sched(v, c);
}

/* The host socket's events (event loop thread). */
static void conn_event(struct ev_handler *eh, uint32_t events)
{
	struct vsock_conn *c = eh->opaque;
	struct vsock *v = c->v;

	pthread_mutex_lock(&v->t.lock);
	vsock_settle(v);
	/* A slot freed (or reused) by an earlier handler of this batch. */
	if (c->state == VSOCK_FREE || c->fd < 0)
		goto out;
	if (c->state == VSOCK_LINE) {
		vsock_uds_read_line(v, c);
		goto run;
	}
	/*
	 * A host program that gave up (closed its socket) before the guest
	 * heard of its connection: retrying agents must not pile up here.
	 */
	if ((events & (EPOLLHUP | EPOLLERR)) && !vsock_conn_announced(c)) {
		vsock_conn_free(v, c);
		goto run;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->readable = !(c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV);
	/*
	 * The host closed its socket (a hang-up while our write side is
	 * open) and we will not read it again (it half closed before, or the
	 * guest takes no more): nothing can flow either way.
	 */
	if ((events & EPOLLHUP) && !c->host_wr_shut &&
	    c->state == VSOCK_ESTABLISHED &&
	    (c->host_eof || (c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV))) {
		vsock_conn_kill(v, c, NULL);
		goto run;
	}
	if (c->buf_len && (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
		flush(v, c);
	if (c->state != VSOCK_FREE)
		vsock_conn_sched(v, c);
run:
	vsock_run(v);
out:
	pthread_mutex_unlock(&v->t.lock);
}

void vsock_conn_slot_init(struct vsock *v, struct vsock_conn *c)
{
	*c = (struct vsock_conn){
		.h = { .fd = -1, .cb = conn_event, .opaque = c },
		.v = v,
		.fd = -1,
	};
}
