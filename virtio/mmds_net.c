/*
 * The guest's network path to MMDS (mmds_net.h): Ethernet, ARP and IPv4
 * in and out, the table of TCP connections and the resets waiting to go.
 * The TCP endpoint itself is mmds_tcp.c.
 *
 * Every read of a guest frame is bounded by the length the caller gives
 * (its own copy of the frame): each layer checks its header against what
 * is left before it looks inside, and hands the next layer a slice.
 */
#include "mmds_net.h"
#include "metrics.h"
#include "mmds_tcp.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

const uint8_t mmds_net_mac[6] = { 0x06, 0x01, 0x23, 0x45, 0x67, 0x01 };

#define ETH_HLEN       14
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP  0x0806
#define ARP_LEN        28 /* Ethernet/IPv4 ARP body */
#define IP_HLEN        20
#define IP_PROTO_TCP   6
#define IP_TTL         1 /* Firecracker's */
#define TCP_HLEN       20
#define TCP_HLEN_MAX   60
#define OUT_HLEN       (ETH_HLEN + IP_HLEN + TCP_HLEN)

struct mmds_net {
	struct mmds *mmds;
	uint32_t ipv4;
	size_t frame_max;
	const uint64_t *test_ms;
	uint32_t rng;
	uint8_t remote_mac[6]; /* where our frames go: the guest's */
	bool arp_pending;
	uint32_t arp_dest; /* the address that asked */
	unsigned nrst;
	struct {
		uint32_t raddr;
		uint16_t rport;
		struct tcp_rst r;
	} rst[MMDS_NET_MAX_RSTS];
	struct tcp_conn conn[MMDS_NET_MAX_CONNS];
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* The ones' complement sum of @len bytes at @p, added to @sum. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2) {
		sum += get16(p + i);
		sum = (sum & 0xffff) + (sum >> 16);
	}
	if (len & 1) {
		sum += (uint32_t)p[len - 1] << 8;
		sum = (sum & 0xffff) + (sum >> 16);
	}
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The TCP checksum of @seg (@len bytes) between @src and @dst. */
static uint16_t tcp_csum(uint32_t src, uint32_t dst, const uint8_t *seg,
                         size_t len)
{
	uint8_t ph[12];

	put32(ph, src);
	put32(ph + 4, dst);
	ph[8] = 0;
	ph[9] = IP_PROTO_TCP;
	put16(ph + 10, (uint16_t)len);
	return csum_fold(csum_add(csum_add(0, ph, sizeof(ph)), seg, len));
}

static uint64_t now_ms(const struct mmds_net *ns)
{
	struct timespec ts;

	if (ns->test_ms)
		return *ns->test_ms;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Initial sequence numbers: xorshift32, seeded at creation. */
static uint32_t next_isn(struct mmds_net *ns)
{
	uint32_t x = ns->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	ns->rng = x;
	return x;
}

struct mmds_net *mmds_net_new(struct mmds *m, uint32_t ipv4, size_t frame_max)
{
	struct mmds_net *ns = calloc(1, sizeof(*ns));
	struct timespec ts;

	if (!ns)
		return NULL;
	ns->mmds = m;
	ns->ipv4 = ipv4;
	/* Room for a segment with a byte of data, whatever the caller. */
	ns->frame_max = frame_max > OUT_HLEN + 4 ? frame_max : OUT_HLEN + 4;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns->rng = (uint32_t)ts.tv_nsec ^ (uint32_t)(uintptr_t)ns ^ 0x9e3779b9u;
	if (!ns->rng)
		ns->rng = 1;
	return ns;
}

void mmds_net_free(struct mmds_net *ns)
{
	if (!ns)
		return;
	for (unsigned i = 0; i < MMDS_NET_MAX_CONNS; i++)
		if (ns->conn[i].used)
			tcp_conn_close(&ns->conn[i]);
	free(ns);
}

void mmds_net_test_clock(struct mmds_net *ns, const uint64_t *ms)
{
	ns->test_ms = ms;
	ns->rng = 0x12345678; /* and the same sequence numbers every run */
}

bool mmds_net_is_for(const struct mmds_net *ns, const uint8_t *hdr, size_t len)
{
	if (len < ETH_HLEN)
		return false;
	switch (get16(hdr + 12)) {
	case ETHERTYPE_ARP: /* the target protocol address */
		return len >= ETH_HLEN + ARP_LEN &&
		       get32(hdr + ETH_HLEN + 24) == ns->ipv4;
	case ETHERTYPE_IPV4: /* the destination address */
		return len >= ETH_HLEN + IP_HLEN &&
		       get32(hdr + ETH_HLEN + 16) == ns->ipv4;
	default:
		return false;
	}
}

/* An ARP request for our address (the caller checked the target). */
static void arp_rx(struct mmds_net *ns, const uint8_t *a, size_t len)
{
	/* Ethernet (1), IPv4, 6- and 4-byte addresses, a request (1). */
	if (len < ARP_LEN || get16(a) != 1 || get16(a + 2) != ETHERTYPE_IPV4 ||
	    a[4] != 6 || a[5] != 4 || get16(a + 6) != 1) {
		METRIC_INC(mmds, rx_bad_eth);
		return;
	}
	memcpy(ns->remote_mac, a + 8, 6);
	ns->arp_dest = get32(a + 14);
	ns->arp_pending = true;
}

static struct tcp_conn *conn_find(struct mmds_net *ns, uint32_t raddr,
                                  uint16_t rport)
{
	for (unsigned i = 0; i < MMDS_NET_MAX_CONNS; i++) {
		struct tcp_conn *c = &ns->conn[i];

		if (c->used && c->raddr == raddr && c->rport == rport)
			return c;
	}
	return NULL;
}

static void conn_remove(struct tcp_conn *c)
{
	tcp_conn_close(c);
	METRIC_INC(mmds, connections_destroyed);
}

static void rst_queue(struct mmds_net *ns, uint32_t raddr, uint16_t rport,
                      struct tcp_rst r)
{
	if (ns->nrst == MMDS_NET_MAX_RSTS) {
		METRIC_INC(mmds, tx_errors); /* dropped: too many waiting */
		return;
	}
	ns->rst[ns->nrst].raddr = raddr;
	ns->rst[ns->nrst].rport = rport;
	ns->rst[ns->nrst].r = r;
	ns->nrst++;
}

/* A SYN with no connection: open one, evicting an idle one if full. */
static void conn_new(struct mmds_net *ns, const struct tcp_seg *s,
                     uint32_t raddr, uint64_t now)
{
	struct tcp_conn *free_c = NULL, *idle = NULL;
	size_t room = ns->frame_max - OUT_HLEN; /* frame_max > OUT_HLEN */
	uint16_t cap = (uint16_t)(room < TCP_MSS_MAX ? room : TCP_MSS_MAX);

	for (unsigned i = 0; i < MMDS_NET_MAX_CONNS; i++) {
		struct tcp_conn *c = &ns->conn[i];

		if (!c->used && !free_c)
			free_c = c;
		else if (c->used && !idle && tcp_conn_evictable(c, now))
			idle = c;
	}
	if (!free_c && !idle) {
		rst_queue(ns, raddr, s->sport, tcp_rst_for(s));
		return;
	}
	if (!free_c) {
		rst_queue(ns, idle->raddr, idle->rport, tcp_rst_of(idle));
		conn_remove(idle);
		free_c = idle;
	}
	if (!tcp_conn_open(free_c, s, raddr, next_isn(ns), cap, now))
		return; /* a malformed SYN: nothing, as Firecracker */
	METRIC_INC(mmds, connections_created);
}

/* A TCP segment @t (@len bytes) from @src; the caller checked the IP. */
static void tcp_rx(struct mmds_net *ns, uint32_t src, const uint8_t *t,
                   size_t len, bool csum_partial)
{
	struct tcp_seg s;
	struct tcp_conn *c;
	size_t hl;
	uint64_t now = now_ms(ns);

	if (len < TCP_HLEN)
		goto bad;
	hl = (size_t)(t[12] >> 4) * 4;
	if (hl < TCP_HLEN || hl > len)
		goto bad;
	if (!csum_partial && tcp_csum(src, ns->ipv4, t, len) != 0)
		goto bad;
	s = (struct tcp_seg){
		.sport = get16(t),
		.dport = get16(t + 2),
		.seq = get32(t + 4),
		.ack = get32(t + 8),
		.flags = t[13],
		.win = get16(t + 14),
		.opt = t + TCP_HLEN,
		.optlen = hl - TCP_HLEN,
		.data = t + hl,
		.len = len - hl,
	};
	if (s.dport != MMDS_NET_PORT)
		goto bad;
	METRIC_INC(mmds, rx_count);
	c = conn_find(ns, src, s.sport);
	if (c) {
		tcp_conn_recv(c, &s, ns->mmds, now);
		if (tcp_conn_done(c))
			conn_remove(c);
	} else if (s.flags == TCP_SYN) {
		conn_new(ns, &s, src, now);
	} else if (!(s.flags & TCP_RST)) {
		rst_queue(ns, src, s.sport, tcp_rst_for(&s));
	}
	return;
bad:
	METRIC_INC(mmds, rx_accepted_err);
}

/* An IPv4 packet for our address (the caller checked the destination). */
static void ipv4_rx(struct mmds_net *ns, const uint8_t *ip, size_t len,
                    bool csum_partial)
{
	size_t hl, total;

	if (len < IP_HLEN || ip[0] >> 4 != 4)
		goto bad;
	hl = (size_t)(ip[0] & 0xf) * 4;
	total = get16(ip + 2);
	/* Ethernet may pad a short packet: the total length rules. */
	if (hl < IP_HLEN || total < hl || total > len ||
	    csum_fold(csum_add(0, ip, hl)) != 0)
		goto bad;
	if (ip[9] != IP_PROTO_TCP || (get16(ip + 6) & 0x3fff)) {
		/* Not TCP, or a fragment: unusual, and dropped. */
		METRIC_INC(mmds, rx_accepted_unusual);
		return;
	}
	/* Frames go back where TCP came from. */
	memcpy(ns->remote_mac, ip - ETH_HLEN + 6, 6);
	tcp_rx(ns, get32(ip + 12), ip + hl, total - hl, csum_partial);
	return;
bad:
	METRIC_INC(mmds, rx_bad_eth);
}

void mmds_net_rx(struct mmds_net *ns, const uint8_t *frame, size_t len,
                 bool csum_partial)
{
	METRIC_INC(mmds, rx_accepted);
	if (!mmds_net_is_for(ns, frame, len)) {
		METRIC_INC(mmds, rx_bad_eth);
		return;
	}
	if (get16(frame + 12) == ETHERTYPE_ARP)
		arp_rx(ns, frame + ETH_HLEN, len - ETH_HLEN);
	else
		ipv4_rx(ns, frame + ETH_HLEN, len - ETH_HLEN, csum_partial);
}

bool mmds_net_pending(struct mmds_net *ns)
{
	uint64_t now = now_ms(ns), when;

	if (ns->arp_pending || ns->nrst)
		return true;
	for (unsigned i = 0; i < MMDS_NET_MAX_CONNS; i++) {
		enum tcp_status st;

		if (!ns->conn[i].used)
			continue;
		st = tcp_conn_status(&ns->conn[i], &when);
		if (st == TCP_AVAILABLE || (st == TCP_TIMEOUT && now >= when))
			return true;
	}
	return false;
}

static void eth_header(const struct mmds_net *ns, uint8_t *buf, uint16_t type)
{
	memcpy(buf, ns->remote_mac, 6);
	memcpy(buf + 6, mmds_net_mac, 6);
	put16(buf + 12, type);
}

static size_t arp_reply(struct mmds_net *ns, uint8_t *buf)
{
	uint8_t *a = buf + ETH_HLEN;

	eth_header(ns, buf, ETHERTYPE_ARP);
	put16(a, 1);
	put16(a + 2, ETHERTYPE_IPV4);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 2); /* a reply */
	memcpy(a + 8, mmds_net_mac, 6);
	put32(a + 14, ns->ipv4);
	memcpy(a + 18, ns->remote_mac, 6);
	put32(a + 24, ns->arp_dest);
	ns->arp_pending = false;
	return ETH_HLEN + ARP_LEN;
}

/* Segment @o to @raddr:@rport as a whole frame into @buf; its length. */
static size_t tcp_frame(const struct mmds_net *ns, uint8_t *buf, uint32_t raddr,
                        uint16_t rport, const struct tcp_out *o)
{
	uint8_t *ip = buf + ETH_HLEN, *t = ip + IP_HLEN;
	size_t hl = TCP_HLEN + (o->mss ? 4 : 0), tl = hl + o->len;

	eth_header(ns, buf, ETHERTYPE_IPV4);
	memset(ip, 0, IP_HLEN);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(IP_HLEN + tl));
	ip[8] = IP_TTL;
	ip[9] = IP_PROTO_TCP;
	put32(ip + 12, ns->ipv4);
	put32(ip + 16, raddr);
	put16(ip + 10, csum_fold(csum_add(0, ip, IP_HLEN)));
	memset(t, 0, TCP_HLEN);
	put16(t, MMDS_NET_PORT);
	put16(t + 2, rport);
	put32(t + 4, o->seq);
	put32(t + 8, o->ack);
	t[12] = (uint8_t)(hl / 4) << 4;
	t[13] = o->flags;
	put16(t + 14, o->win);
	if (o->mss) {
		t[20] = 2;
		t[21] = 4;
		put16(t + 22, o->mss);
	}
	if (o->len)
		memcpy(t + hl, o->data, o->len);
	put16(t + 16, tcp_csum(ns->ipv4, raddr, t, tl));
	return ETH_HLEN + IP_HLEN + tl;
}

size_t mmds_net_next(struct mmds_net *ns, uint8_t *buf, size_t cap)
{
	uint64_t now = now_ms(ns), when;
	struct tcp_out o;

	if (cap > ns->frame_max)
		cap = ns->frame_max;
	if (ns->arp_pending && cap >= ETH_HLEN + ARP_LEN) {
		METRIC_INC(mmds, tx_count);
		return arp_reply(ns, buf);
	}
	if (cap < OUT_HLEN + 4) /* room for a SYN-ACK's option */
		return 0;
	if (ns->nrst) {
		/* Last in, first out, as Firecracker. */
		unsigned k = --ns->nrst;

		o = (struct tcp_out){ .seq = ns->rst[k].r.seq,
			              .ack = ns->rst[k].r.ack,
			              .flags = ns->rst[k].r.flags,
			              .win = TCP_RST_WINDOW };
		METRIC_INC(mmds, tx_count);
		return tcp_frame(ns, buf, ns->rst[k].raddr, ns->rst[k].rport,
		                 &o);
	}
	for (unsigned i = 0; i < MMDS_NET_MAX_CONNS; i++) {
		struct tcp_conn *c = &ns->conn[i];
		enum tcp_status st;
		size_t len;

		if (!c->used)
			continue;
		st = tcp_conn_status(c, &when);
		if (st == TCP_NOTHING || (st == TCP_TIMEOUT && now < when))
			continue;
		if (!tcp_conn_write(c, cap - OUT_HLEN, now, &o)) {
			if (tcp_conn_done(c))
				conn_remove(c);
			continue;
		}
		len = tcp_frame(ns, buf, c->raddr, c->rport, &o);
		if (tcp_conn_done(c))
			conn_remove(c);
		METRIC_INC(mmds, tx_count);
		return len;
	}
	return 0;
}
