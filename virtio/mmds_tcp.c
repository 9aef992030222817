/*
 * MMDS's TCP endpoint (mmds_tcp.h): the connection state machine and the
 * request/response buffers, behaving as Firecracker's does towards a
 * guest. Everything here works on a segment mmds_net.c has checked; no
 * length in it is trusted beyond the slices it holds.
 */
#include "mmds_tcp.h"
#include "metrics.h"
#include "mmds.h"

#include <stdlib.h>
#include <string.h>

/* Connection state bits. */
#define ST_SYN_RCVD    0x01
#define ST_SYNACK_SENT 0x02
#define ST_ESTAB       0x04
#define ST_FIN_SENT    0x08
#define ST_FIN_ACKED   0x10
#define ST_RESET       0x20

/* What tcp_conn_recv() saw that was unusual (Firecracker's counters). */
#define RX_UNUSUAL   0x1
#define RX_RESETTING 0x2
#define RX_ERROR     0x4 /* the segment could not be taken at all */

/* a after b, and a at or after b, modulo 2^32 within a window. */
static bool seq_after(uint32_t a, uint32_t b)
{
	return a != b && a - b < TCP_MAX_WINDOW;
}

static bool seq_at_or_after(uint32_t a, uint32_t b)
{
	return a - b < TCP_MAX_WINDOW;
}

/*
 * The MSS option of @s: 0 with *@mss (the default when absent), -1 when
 * the options are malformed or the value is out of range. Options are
 * walked while four bytes are left, as Firecracker walks them.
 */
static int parse_mss(const struct tcp_seg *s, uint16_t *mss)
{
	const uint8_t *b = s->opt;
	size_t i = 0;

	*mss = TCP_MSS_DEFAULT;
	while (i + 3 < s->optlen) {
		if (b[i] == 0) /* end of options */
			break;
		if (b[i] == 1) { /* no-op */
			i++;
			continue;
		}
		if (b[i] == 2) {
			uint16_t v = (uint16_t)(b[i + 2] << 8 | b[i + 3]);

			if (v < TCP_MSS_MIN || v > TCP_MSS_MAX)
				return -1;
			*mss = v;
			return 0;
		}
		if (b[i + 1] < 2)
			return -1;
		i += b[i + 1];
	}
	return 0;
}

bool tcp_is_syn(const struct tcp_seg *s)
{
	return s->flags == TCP_SYN && s->len == 0;
}

struct tcp_rst tcp_rst_for(const struct tcp_seg *s)
{
	if (s->flags & TCP_ACK)
		return (struct tcp_rst){ s->ack, 0, TCP_RST };
	return (struct tcp_rst){ 0, s->seq + (uint32_t)s->len,
		                 TCP_RST | TCP_ACK };
}

struct tcp_rst tcp_rst_of(const struct tcp_conn *c)
{
	if (c->state & ST_ESTAB)
		return (struct tcp_rst){ c->first_not_sent, 0, TCP_RST };
	return (struct tcp_rst){ 0, c->ack_to_send, TCP_RST | TCP_ACK };
}

bool tcp_conn_open(struct tcp_conn *c, const struct tcp_seg *s, uint32_t raddr,
                   uint32_t isn, uint16_t mss_cap, uint64_t now)
{
	uint16_t mss;

	if (!tcp_is_syn(s) || parse_mss(s, &mss) < 0)
		return false;
	memset(c, 0, offsetof(struct tcp_conn, rbuf));
	c->resp = NULL;
	c->resp_len = 0;
	c->used = true;
	c->raddr = raddr;
	c->rport = s->sport;
	c->mss = mss < mss_cap ? mss : mss_cap;
	c->ack_to_send = s->seq + 1;
	c->highest_ack = isn;
	c->first_not_sent = isn + 1;
	c->remote_edge = c->first_not_sent + s->win;
	c->local_edge = c->ack_to_send + MMDS_NET_RCV_BUF;
	c->resp_seq = c->first_not_sent;
	c->state = ST_SYN_RCVD;
	c->last_rx = now;
	return true;
}

void tcp_conn_close(struct tcp_conn *c)
{
	free(c->resp);
	c->resp = NULL;
	c->resp_len = 0;
	c->used = false;
}

/* The same SYN again (a retransmission): same sequence, same MSS. */
static bool same_syn(const struct tcp_conn *c, const struct tcp_seg *s)
{
	uint16_t mss;

	return tcp_is_syn(s) && c->ack_to_send == s->seq + 1 &&
	       parse_mss(s, &mss) == 0 && mss == c->mss;
}

static void reset(struct tcp_conn *c, const struct tcp_rst *r)
{
	if (!c->rst_pending) {
		c->rst = *r;
		c->rst_pending = true;
	}
}

static int reset_for(struct tcp_conn *c, const struct tcp_seg *s)
{
	struct tcp_rst r = tcp_rst_for(s);

	reset(c, &r);
	return RX_UNUSUAL | RX_RESETTING;
}

/* The acknowledgement in @s; RX_* bits, or -1 when it resets @c. */
static int take_ack(struct tcp_conn *c, const struct tcp_seg *s, uint64_t now)
{
	uint32_t ack = s->ack, edge;
	int st = 0;

	if (!seq_at_or_after(ack, c->highest_ack) ||
	    !seq_at_or_after(c->first_not_sent, ack)) {
		/* Acknowledges what was never sent (or long ago). */
		return (c->state & ST_ESTAB) ? RX_UNUSUAL : -1;
	}
	c->rto_count = 0;
	if (ack == c->highest_ack && ack != c->first_not_sent) {
		if (!(c->state & ST_ESTAB))
			return -1;
		c->dup_ack = true;
		st |= RX_UNUSUAL;
	} else {
		c->highest_ack = ack;
		c->rto_start = now;
		if (!(c->state & ST_ESTAB) && (c->state & ST_SYNACK_SENT))
			c->state |= ST_ESTAB;
		if ((c->state & ST_FIN_SENT) && ack == c->first_not_sent)
			c->state |= ST_FIN_ACKED;
	}
	if (c->state & ST_ESTAB) {
		edge = ack + s->win;
		if (seq_after(edge, c->remote_edge))
			c->remote_edge = edge;
		else if (edge != c->remote_edge)
			st |= RX_UNUSUAL; /* the guest shrank its window */
	}
	return st;
}

/*
 * The connection's part of a segment: RX_* bits; the payload it accepts
 * is appended to rbuf.
 */
static int conn_recv(struct tcp_conn *c, const struct tcp_seg *s, uint64_t now)
{
	bool ack_it = false;
	uint32_t end;
	int st = 0;

	if (c->rst_pending || (c->state & ST_RESET))
		return RX_ERROR;
	if (s->flags & TCP_RST) {
		/* Only a reset inside our receive window counts. */
		if (seq_at_or_after(s->seq, c->ack_to_send) &&
		    seq_after(c->local_edge, s->seq))
			c->state |= ST_RESET;
		return RX_UNUSUAL;
	}
	if (!(c->state & ST_SYNACK_SENT)) {
		/* Nothing sent yet: only the same SYN again is fine. */
		return same_syn(c, s) ? 0 : reset_for(c, s);
	}
	if (!(c->state & ST_ESTAB) && same_syn(c, s)) {
		c->state &= (uint8_t)~ST_SYNACK_SENT; /* send it again */
		return 0;
	}
	if (s->flags & TCP_SYN)
		return reset_for(c, s);
	if (s->flags & TCP_ACK) {
		int a = take_ack(c, s, now);

		if (a < 0)
			return reset_for(c, s);
		st |= a;
	}
	if (!(c->state & ST_ESTAB))
		return st;
	if (s->len > MMDS_NET_RCV_BUF - c->rlen)
		return RX_ERROR; /* more than the buffer has room for */
	end = s->seq + (uint32_t)s->len;
	if (s->len) {
		if (c->fin_rcvd && !seq_at_or_after(c->fin_seq, end))
			return st | RX_UNUSUAL; /* data after the FIN */
		if (!seq_at_or_after(c->local_edge, end))
			return st | RX_UNUSUAL; /* beyond the window */
		if (s->seq != c->ack_to_send) {
			/* Out of order or overlapping: say what we expect. */
			c->pending_ack = true;
			return st | RX_UNUSUAL;
		}
		c->ack_to_send = end;
		ack_it = true;
	}
	if ((s->flags & TCP_FIN) && !c->fin_rcvd) {
		if (end == c->ack_to_send) {
			c->fin_rcvd = true;
			c->fin_seq = end;
			c->ack_to_send++;
			ack_it = true;
		} else {
			st |= RX_UNUSUAL;
		}
	}
	if (ack_it) {
		c->pending_ack = true;
		memcpy(c->rbuf + c->rlen, s->data, s->len);
		c->rlen += s->len;
	}
	return st;
}

/* The end of the first request in rbuf (after LF LF or LF CR LF), or 0. */
static size_t request_end(const struct tcp_conn *c)
{
	const uint8_t *b = c->rbuf;

	if (c->rlen <= 2)
		return 0;
	for (size_t i = 0; i + 1 < c->rlen; i++) {
		if (b[i] != '\n')
			continue;
		if (b[i + 1] == '\n')
			return i + 2;
		if (i + 3 <= c->rlen && b[i + 1] == '\r' && b[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* We took @n bytes out of rbuf: the window opens by as much. */
static void open_window(struct tcp_conn *c, uint32_t n)
{
	uint32_t cur = c->local_edge - c->ack_to_send;

	if (cur == 0)
		c->pending_ack = true; /* a window update */
	if ((uint64_t)cur + n > TCP_MAX_WINDOW)
		c->local_edge = c->ack_to_send + TCP_MAX_WINDOW;
	else
		c->local_edge += n;
}

static void send_reset(struct tcp_conn *c)
{
	struct tcp_rst r = tcp_rst_of(c);

	reset(c, &r);
}

void tcp_conn_recv(struct tcp_conn *c, const struct tcp_seg *s, struct mmds *m,
                   uint64_t now)
{
	size_t end;
	int st;

	if (c->stop_receiving)
		return;
	c->last_rx = now;
	st = conn_recv(c, s, now);
	if (st & RX_ERROR) {
		METRIC_INC(mmds, rx_accepted_err);
		return;
	}
	if (st & RX_UNUSUAL) {
		METRIC_INC(mmds, rx_accepted_unusual);
		if (st & RX_RESETTING) {
			c->stop_receiving = true;
			return;
		}
	}
	/* The whole response acknowledged: ready for the next request. */
	if (c->resp && c->highest_ack == c->resp_seq + (uint32_t)c->resp_len) {
		free(c->resp);
		c->resp = NULL;
		c->resp_seq = c->highest_ack;
		c->resp_len = 0;
	}
	if (!c->resp) {
		end = request_end(c);
		if (end) {
			c->resp_len = mmds_http(m, c->rbuf, end, &c->resp);
			if (!c->resp_len) {
				free(c->resp);
				c->resp = NULL;
				send_reset(c); /* out of memory */
				c->stop_receiving = true;
				return;
			}
			c->resp_seq = c->first_not_sent;
			memmove(c->rbuf, c->rbuf + end, c->rlen - end);
			c->rlen -= end;
			open_window(c, (uint32_t)end);
		}
		if (c->rlen == MMDS_NET_RCV_BUF) {
			/* A request larger than the buffer: reset. */
			send_reset(c);
			c->stop_receiving = true;
			return;
		}
	}
	if (c->fin_rcvd && !c->resp && !c->send_fin_set) {
		c->send_fin = c->first_not_sent;
		c->send_fin_set = true;
	}
}

static uint16_t local_window(const struct tcp_conn *c)
{
	uint32_t w = c->local_edge - c->ack_to_send;

	return w > 0xffff ? 0xffff : (uint16_t)w;
}

/* A segment without data: a reset, the SYN-ACK, an ACK, maybe a FIN. */
static void control(struct tcp_conn *c, struct tcp_out *o)
{
	*o = (struct tcp_out){ .seq = c->highest_ack,
		               .ack = c->ack_to_send,
		               .win = local_window(c) };
	if (c->rst_pending) {
		o->seq = c->rst.seq;
		o->ack = c->rst.ack;
		o->flags = c->rst.flags;
	} else if (!(c->state & ST_ESTAB)) {
		o->flags = TCP_SYN | TCP_ACK;
		o->seq = c->first_not_sent - 1;
		o->mss = c->mss;
	} else {
		o->flags = TCP_ACK;
		if (c->send_fin_set && !(c->state & ST_FIN_ACKED) &&
		    seq_at_or_after(o->seq, c->send_fin)) {
			o->flags |= TCP_FIN;
			o->seq = c->send_fin;
		}
	}
	c->pending_ack = false;
	c->dup_ack = false;
}

static bool rto_expired(const struct tcp_conn *c, uint64_t now)
{
	return now - c->rto_start >= TCP_RTO_MS;
}

static bool can_send_first_fin(const struct tcp_conn *c)
{
	return !(c->state & ST_FIN_SENT) && c->send_fin_set &&
	       c->send_fin == c->highest_ack;
}

/* Where the data we may send ends: the response's end or the guest's
 * window, whichever comes first. */
static uint32_t data_limit(const struct tcp_conn *c)
{
	uint32_t end = c->resp_seq + (uint32_t)c->resp_len;

	return seq_at_or_after(c->remote_edge, end) ? end : c->remote_edge;
}

/* Data from @seq on, at most @room bytes: false when there is none. */
static bool data(struct tcp_conn *c, uint32_t seq, size_t room, bool rto,
                 uint64_t now, struct tcp_out *o)
{
	uint32_t lim = data_limit(c), off = seq - c->resp_seq, next;
	size_t n;

	if (!c->resp || off > c->resp_len || !seq_after(lim, seq))
		return false;
	n = lim - seq;
	if (n > c->mss)
		n = c->mss;
	if (n > room)
		n = room;
	if (!n)
		return false;
	*o = (struct tcp_out){ .seq = seq,
		               .ack = c->ack_to_send,
		               .flags = TCP_ACK,
		               .win = local_window(c),
		               .data = c->resp + off,
		               .len = n };
	c->pending_ack = false;
	c->dup_ack = false;
	next = seq + (uint32_t)n;
	if (c->send_fin_set && next == c->send_fin) {
		o->flags |= TCP_FIN;
		next++;
		c->state |= ST_FIN_SENT;
	}
	if (rto || c->first_not_sent == c->highest_ack)
		c->rto_start = now;
	if (seq_after(next, c->first_not_sent))
		c->first_not_sent = next;
	return true;
}

bool tcp_conn_write(struct tcp_conn *c, size_t room, uint64_t now,
                    struct tcp_out *o)
{
	bool rto = false, fin;
	uint32_t seq;

	if (c->state & ST_RESET) {
		METRIC_INC(mmds, tx_errors);
		return false;
	}
	if (!c->rst_pending && c->highest_ack != c->first_not_sent &&
	    rto_expired(c, now) && (c->state & ST_SYNACK_SENT)) {
		/* Time to send again; too many times: give up. */
		if (++c->rto_count >= TCP_RTO_MAX)
			send_reset(c);
		else
			rto = true;
	}
	if (c->rst_pending) {
		control(c, o);
		c->state |= ST_RESET;
		return true;
	}
	if (!(c->state & ST_SYNACK_SENT) || (!(c->state & ST_ESTAB) && rto)) {
		control(c, o);
		c->state |= ST_SYNACK_SENT;
		c->rto_start = now;
		return true;
	}
	if (!(c->state & ST_ESTAB))
		return false;
	if (rto && c->send_fin_set && c->highest_ack == c->send_fin) {
		control(c, o); /* the FIN again */
		c->rto_start = now;
		return true;
	}
	seq = rto || c->dup_ack ? c->highest_ack : c->first_not_sent;
	if (data(c, seq, room, rto, now, o))
		return true;
	fin = can_send_first_fin(c);
	if (c->pending_ack || fin) {
		control(c, o);
		if (fin) {
			c->first_not_sent++;
			c->state |= ST_FIN_SENT;
		}
		return true;
	}
	c->dup_ack = false;
	return false;
}

enum tcp_status tcp_conn_status(const struct tcp_conn *c, uint64_t *when)
{
	uint32_t seq;

	if (c->state & ST_RESET)
		return TCP_NOTHING;
	if (c->rst_pending || !(c->state & ST_SYNACK_SENT))
		return TCP_AVAILABLE;
	if (c->state & ST_ESTAB) {
		seq = c->dup_ack ? c->highest_ack : c->first_not_sent;
		if ((c->resp && seq - c->resp_seq <= c->resp_len &&
		     seq_after(data_limit(c), seq)) ||
		    c->pending_ack || can_send_first_fin(c))
			return TCP_AVAILABLE;
	}
	if (c->highest_ack != c->first_not_sent) {
		*when = c->rto_start + TCP_RTO_MS;
		return TCP_TIMEOUT;
	}
	return TCP_NOTHING;
}

bool tcp_conn_done(const struct tcp_conn *c)
{
	return (c->state & ST_RESET) ||
	       (c->fin_rcvd && (c->state & ST_FIN_SENT));
}

bool tcp_conn_evictable(const struct tcp_conn *c, uint64_t now)
{
	return now - c->last_rx > TCP_EVICT_MS;
}
