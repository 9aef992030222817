/*
 * A minimal virtio-vsock driver for the probe guest: three queues of 64,
 * polled (interrupts stay off), one connection at a time, credit kept
 * both ways. It finds the device (id 19) among the transports the command
 * line announces. Scenarios:
 *
 *   vsock-host     listen on vport= (5000); a host program connects
 *                  through uds_path; echo its bytes XORed with 0x5a (so
 *                  an echo by the VMM itself cannot pass) until it shuts
 *                  down; REQUESTs for other ports get RST
 *   vsock-guest    connect to hport= + 1 (nobody listens: RST), then to
 *                  hport= (6000): send n= bytes, receive m= bytes with a
 *                  16 KiB window, check both patterns and the shutdowns
 *   vsock-hostile  broken tx and rx chains: NEEDS_RESET each time, and
 *                  the device works again after a reset
 *   vsock-bench    connect to hport=, then from ring 3 send (dir=g2h) or
 *                  receive (dir=h2g) n= MiB; the host times it
 *   vsock-reset    rounds= times: connect to hport=, wait for the host's
 *                  bytes, reset the device while they flow (the host
 *                  must see its connection end); then one connection
 *                  both ways, as vsock-guest, on the device re-initialised
 *                  once more; with wait, then wait for Ctrl-Alt-Del
 *
 * Byte i of a stream is byte i % 8 of pat(i / 8); the guest's outgoing
 * stream repeats every 64 KiB (it sends from one buffer).
 */
#include "probe.h"
#include "virtio.h"

#define QSZ    64
#define RXN    32 /* rx buffers, one descriptor each (header + data) */
#define RXDATA 65536
#define TXN    16 /* tx slots: header and data descriptors */
#define EVN    4
#define HDR    44
#define PATLEN 65536
#define WAIT   (1ULL << 35) /* TSC cycles: 8-16 s */

enum {
	OP_REQUEST = 1,
	OP_RESPONSE,
	OP_RST,
	OP_SHUTDOWN,
	OP_RW,
	OP_CREDIT_UPDATE,
	OP_CREDIT_REQUEST
};
#define SHUT_RCV    1
#define SHUT_SEND   2
#define F_NEXT      VD_F_NEXT
#define F_WRITE     VD_F_WRITE
#define NEEDS_RESET VIO_S_NEEDS_RESET
#define HOST_CID    2

struct hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

struct ring {
	volatile struct vdesc desc[QSZ] __attribute__((aligned(16)));
	volatile uint16_t avail[2 + QSZ + 1] __attribute__((aligned(4)));
	volatile uint32_t used[1 + 2 * QSZ + 1] __attribute__((aligned(4)));
};

/* One connection, from the guest's side. */
struct conn {
	uint32_t port, peer; /* ours, the host's */
	uint32_t buf_alloc;  /* our window, announced */
	uint32_t fwd_cnt;    /* bytes we consumed */
	uint32_t fwd_told;   /* fwd_cnt in our last packet */
	uint32_t rx_cnt;     /* payload received */
	uint32_t tx_cnt;     /* payload sent */
	uint32_t peer_alloc, peer_fwd;
	bool established, rst, peer_shut_send;
	unsigned stalls; /* times we waited for the host's credit */
};

static struct ring rq[3];
static struct vring vr[3] = {
	{ QSZ, rq[0].desc, rq[0].avail, rq[0].used, 0, 0 },
	{ QSZ, rq[1].desc, rq[1].avail, rq[1].used, 0, 0 },
	{ QSZ, rq[2].desc, rq[2].avail, rq[2].used, 0, 0 },
};
static struct vdev dev;
static uint8_t rxbuf[RXN][HDR + RXDATA] __attribute__((aligned(64)));
static struct hdr txhdr[TXN];
static uint8_t pattern[PATLEN] __attribute__((aligned(64)));
static uint8_t echo[32768] __attribute__((aligned(64)));
static volatile uint32_t evbuf[EVN];
static uint64_t cid, deadline;
static uint32_t tx_posted, tx_done;
static struct conn cn;
static const char *cmdline;
static bool in_user; /* ring 3: no port I/O, failures fault */

static uint32_t rd(uint32_t off)
{
	return vdev_rd(&dev, off);
}

static void wr(uint32_t off, uint32_t v)
{
	vdev_wr(&dev, off, v);
}

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* Ring 3 cannot print: it goes back to ring 0, which does. */
__attribute__((noreturn)) static void vs_fail(const char *why)
{
	if (in_user)
		user_exit(why);
	fail(why);
}

static void arm(void)
{
	deadline = rdtsc() + WAIT;
}

static void check_time(const char *what)
{
	if (rdtsc() > deadline)
		vs_fail(what);
}

/* The same for a short wait inside a longer one. */
static void wait_tx(bool (*done)(void), const char *what)
{
	uint64_t end = rdtsc() + WAIT;

	while (!done())
		if (rdtsc() > end)
			vs_fail(what);
}

static uint64_t pat(uint64_t k)
{
	return k * 0x9e3779b97f4a7c15ULL + 0x0123456789abcdefULL;
}

static void find_device(void)
{
	if (!vdev_find(&dev, cmdline, 19))
		fail("no virtio-vsock announced on the command line");
}

static uint16_t used_idx(const struct vring *r)
{
	return (uint16_t)(r->used[0] >> 16); /* flags low, idx high */
}

static void offer(struct vring *r, uint16_t head)
{
	vring_post(r, head);
}

static void rx_post(unsigned i)
{
	rq[0].desc[i] =
	        (struct vdesc){ (uintptr_t)rxbuf[i], HDR + RXDATA, F_WRITE, 0 };
	offer(&vr[0], (uint16_t)i);
}

/* Reset, VERSION_1 only, three queues, rx and event buffers, DRIVER_OK. */
static void vs_init(void)
{
	if (!vdev_negotiate(&dev, 0))
		fail("FEATURES_OK refused");
	cid = rd(VIO_CONFIG) | (uint64_t)rd(VIO_CONFIG + 4) << 32;
	for (unsigned q = 0; q < 3; q++)
		vdev_queue(&dev, q, &vr[q]);
	for (unsigned i = 0; i < RXN; i++)
		rx_post(i);
	for (unsigned i = 0; i < EVN; i++) {
		rq[2].desc[i] =
		        (struct vdesc){ (uintptr_t)&evbuf[i], 4, F_WRITE, 0 };
		offer(&vr[2], (uint16_t)i);
	}
	tx_posted = tx_done = 0;
	wr(VIO_STATUS, 0xf);
	wr(VIO_NOTIFY, 0);
	wr(VIO_NOTIFY, 2);
}

static void conn_reset(uint32_t port, uint32_t peer, uint32_t window)
{
	cn = (struct conn){ .port = port, .peer = peer, .buf_alloc = window };
}

static uint32_t peer_credit(void)
{
	uint32_t in_flight = cn.tx_cnt - cn.peer_fwd;

	return in_flight >= cn.peer_alloc ? 0 : cn.peer_alloc - in_flight;
}

static void tx_reap(void)
{
	uint16_t u = used_idx(&vr[1]);

	tx_done += (uint16_t)(u - vr[1].seen_used);
	vr[1].seen_used = u;
}

static bool tx_room(void)
{
	tx_reap();
	return tx_posted - tx_done < TXN;
}

static bool tx_idle(void)
{
	tx_reap();
	return tx_done == tx_posted;
}

/* Queue a packet (@data stays untouched until the device used it). */
static void tx_post(uint16_t op, uint32_t sport, uint32_t dport, uint32_t flags,
                    const void *data, uint32_t len)
{
	unsigned s;

	wait_tx(tx_room, "tx queue never drained");
	s = tx_posted++ % TXN;
	txhdr[s] = (struct hdr){
		.src_cid = cid,
		.dst_cid = HOST_CID,
		.src_port = sport,
		.dst_port = dport,
		.len = len,
		.type = 1,
		.op = op,
		.flags = flags,
		.buf_alloc = cn.buf_alloc,
		.fwd_cnt = cn.fwd_cnt,
	};
	cn.fwd_told = cn.fwd_cnt;
	rq[1].desc[2 * s] =
	        (struct vdesc){ (uintptr_t)&txhdr[s], HDR, len ? F_NEXT : 0,
		                (uint16_t)(2 * s + 1) };
	rq[1].desc[2 * s + 1] = (struct vdesc){ (uintptr_t)data, len, 0, 0 };
	offer(&vr[1], (uint16_t)(2 * s));
}

static void tx_kick(void)
{
	vbarrier();
	wr(VIO_NOTIFY, 1);
}

static void send_ctl(uint16_t op, uint32_t flags)
{
	tx_post(op, cn.port, cn.peer, flags, 0, 0);
	tx_kick();
}

/* Wait until the device took everything (a buffer is about to change). */
static void tx_wait(void)
{
	wait_tx(tx_idle, "tx packet never used");
}

/*
 * What a scenario does with a stream's data and with a REQUEST for a
 * connection it does not have (listening).
 */
struct handler {
	void (*data)(const uint8_t *p, uint32_t len);
	void (*request)(const struct hdr *h);
};

static void maybe_credit_update(void)
{
	if (cn.fwd_cnt - cn.fwd_told >= cn.buf_alloc / 2)
		send_ctl(OP_CREDIT_UPDATE, 0);
}

static void handle(const struct hdr *h, const uint8_t *data,
                   const struct handler *hd)
{
	if (h->src_cid != HOST_CID || h->dst_cid != cid || h->type != 1)
		vs_fail("device sent a packet with a bad header");
	if (h->dst_port != cn.port || h->src_port != cn.peer ||
	    (!cn.established && h->op == OP_REQUEST)) {
		if (h->op == OP_REQUEST && hd->request)
			hd->request(h);
		else if (h->op == OP_REQUEST)
			tx_post(OP_RST, h->dst_port, h->src_port, 0, 0, 0);
		return;
	}
	cn.peer_alloc = h->buf_alloc;
	cn.peer_fwd = h->fwd_cnt;
	switch (h->op) {
	case OP_RESPONSE:
		cn.established = true;
		break;
	case OP_RST:
		cn.rst = true;
		break;
	case OP_SHUTDOWN:
		if (h->flags & SHUT_SEND)
			cn.peer_shut_send = true;
		break;
	case OP_RW:
		if (!cn.established || cn.peer_shut_send)
			vs_fail("data outside a connection");
		/* The device may not send past what we allowed it. */
		if (cn.rx_cnt + h->len - cn.fwd_told > cn.buf_alloc)
			vs_fail("device sent past our credit");
		cn.rx_cnt += h->len;
		hd->data(data, h->len);
		break;
	case OP_CREDIT_REQUEST:
		tx_post(OP_CREDIT_UPDATE, cn.port, cn.peer, 0, 0, 0);
		break;
	default:
		break;
	}
}

/*
 * Take up to @max packets the device has written (the buffers go back to
 * it); true if there was one. A waiter takes one at a time, so what
 * follows the packet it waits for is left to the code after it.
 */
static bool poll_rx_max(const struct handler *hd, unsigned max)
{
	unsigned n = 0;
	uint16_t posted_tx = (uint16_t)tx_posted;

	while (n < max && used_idx(&vr[0]) != vr[0].seen_used) {
		unsigned e = vr[0].seen_used % QSZ;
		uint32_t id = rq[0].used[1 + 2 * e];
		uint32_t len = rq[0].used[2 + 2 * e];
		const struct hdr *h = (const struct hdr *)rxbuf[id % RXN];

		vbarrier();
		if (id >= RXN || len < HDR || len != HDR + h->len)
			vs_fail("rx used entry does not match its packet");
		vr[0].seen_used++;
		handle(h, rxbuf[id] + HDR, hd);
		rx_post(id);
		n++;
	}
	if (n) {
		vbarrier();
		wr(VIO_NOTIFY, 0);
	}
	if ((uint16_t)tx_posted != posted_tx)
		tx_kick();
	return n;
}

static bool poll_rx(const struct handler *hd)
{
	return poll_rx_max(hd, QSZ);
}

/* Poll until @done() holds or time runs out (@what says what failed). */
static void wait_for(bool (*done)(void), const struct handler *hd,
                     const char *what)
{
	arm();
	while (!done()) {
		poll_rx_max(hd, 1);
		check_time(what);
	}
}

static void ignore_data(const uint8_t *p, uint32_t len)
{
	vs_fail("unexpected data");
}

static const struct handler quiet = { .data = ignore_data };

static bool got_answer(void)
{
	return cn.established || cn.rst;
}

static bool got_rst(void)
{
	return cn.rst;
}

/* REQUEST to host port @peer; true when it answered RESPONSE. */
static bool vs_connect(uint32_t port, uint32_t peer, uint32_t window)
{
	conn_reset(port, peer, window);
	send_ctl(OP_REQUEST, 0);
	wait_for(got_answer, &quiet, "no answer to REQUEST");
	return cn.established;
}

/* ---- vsock-host: echo for a host program -------------------------- */

static uint32_t echo_head, echo_len, refused, listen_port;

static void echo_data(const uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		uint32_t at = (echo_head + echo_len) % sizeof(echo);

		echo[at] = p[i] ^ 0x5a;
		echo_len++;
	}
}

static void echo_request(const struct hdr *h)
{
	if (h->dst_port != listen_port || cn.established) {
		refused++;
		tx_post(OP_RST, h->dst_port, h->src_port, 0, 0, 0);
		return;
	}
	conn_reset(listen_port, h->src_port, sizeof(echo));
	cn.established = true;
	cn.peer_alloc = h->buf_alloc;
	cn.peer_fwd = h->fwd_cnt;
	tx_post(OP_RESPONSE, cn.port, cn.peer, 0, 0, 0);
}

static const struct handler echoer = { echo_data, echo_request };

static bool host_connected(void)
{
	return cn.established;
}

void scenario_vsock_host(const struct boot *b)
{
	uint64_t echoed = 0;

	cmdline = b->cmdline;
	find_device();
	vs_init();
	listen_port = (uint32_t)arg_u64(cmdline, "vport=", 5000);
	conn_reset(0, 0, 0);
	put_str("probe: vsock listening\n");
	wait_for(host_connected, &echoer, "no host connection");
	arm();
	while (!cn.peer_shut_send || echo_len) {
		/* Send what is echoed, as far as the host's credit goes. */
		uint32_t n = echo_len, room = peer_credit();

		if (n > sizeof(echo) - echo_head)
			n = sizeof(echo) - echo_head;
		if (n > room)
			n = room;
		if (n) {
			tx_post(OP_RW, cn.port, cn.peer, 0, echo + echo_head,
			        n);
			tx_kick();
			tx_wait(); /* the ring space is reused next */
			cn.tx_cnt += n;
			cn.fwd_cnt += n; /* consumed once echoed */
			echo_head = (echo_head + n) % sizeof(echo);
			echo_len -= n;
			echoed += n;
			maybe_credit_update();
			arm();
		}
		if (cn.rst)
			fail("connection reset during the echo");
		poll_rx(&echoer);
		check_time("echo stalled");
	}
	send_ctl(OP_SHUTDOWN, SHUT_RCV | SHUT_SEND);
	wait_for(got_rst, &echoer, "no RST after our SHUTDOWN");
	put_str("probe: vsock-host refused ");
	put_u64(refused);
	put_str(" echoed ");
	put_u64(echoed);
	put_str(" ok\n");
	probe_exit(0);
}

/* ---- vsock-guest: both directions and both shutdowns --------------- */

static uint64_t h2g_off;
static bool h2g_bad;

/* Check host data: byte i of the stream is byte i % 8 of pat(i / 8). */
static void check_data(const uint8_t *p, uint32_t len)
{
	uint32_t i = 0;

	for (; i < len && (h2g_off & 7); i++, h2g_off++)
		h2g_bad |= p[i] !=
		           (uint8_t)(pat(h2g_off / 8) >> (h2g_off % 8 * 8));
	for (; i + 8 <= len; i += 8, h2g_off += 8)
		h2g_bad |= *(const uint64_t *)(p + i) != pat(h2g_off / 8);
	for (; i < len; i++, h2g_off++)
		h2g_bad |= p[i] !=
		           (uint8_t)(pat(h2g_off / 8) >> (h2g_off % 8 * 8));
	cn.fwd_cnt += len;
	maybe_credit_update();
}

static const struct handler checker = { .data = check_data };

static void fill_pattern(void)
{
	for (unsigned k = 0; k < PATLEN / 8; k++)
		((uint64_t *)pattern)[k] = pat(k);
}

/* Send up to @left bytes of the pattern stream now; returns how many. */
static uint32_t send_some(uint64_t left)
{
	uint32_t off = cn.tx_cnt % PATLEN, n = PATLEN - off;
	uint32_t room = peer_credit();

	if (n > left)
		n = (uint32_t)left;
	if (n > room)
		n = room;
	if (n) {
		tx_post(OP_RW, cn.port, cn.peer, 0, pattern + off, n);
		cn.tx_cnt += n;
	}
	return n;
}

void scenario_vsock_guest(const struct boot *b)
{
	uint32_t hport, window = 16384;
	uint64_t n, m, sent = 0;
	bool stalled = false, shut = false;

	cmdline = b->cmdline;
	hport = (uint32_t)arg_u64(cmdline, "hport=", 6000);
	n = arg_u64(cmdline, "n=", 1 << 20);
	m = arg_u64(cmdline, "m=", 1 << 17);
	find_device();
	vs_init();
	fill_pattern();
	if (vs_connect(1234, hport + 1, window))
		fail("connected to a port nobody listens on");
	put_str("probe: vsock refused ok\n");
	if (!vs_connect(1235, hport, window))
		fail("host listener refused the connection");
	put_str("probe: vsock connected\n");
	arm();
	while (sent < n || !shut || cn.rx_cnt < m || !cn.peer_shut_send) {
		if (cn.rst)
			fail("connection reset before both sides were done");
		uint32_t k = sent < n ? send_some(n - sent) : 0;

		if (k) {
			sent += k;
			stalled = false;
			arm();
		} else if (sent < n && !stalled) {
			stalled = true; /* out of the host's credit */
			cn.stalls++;
		}
		if (sent == n && !shut) {
			tx_post(OP_SHUTDOWN, cn.port, cn.peer, SHUT_SEND, 0, 0);
			shut = true;
		}
		tx_reap();
		if (k || shut)
			tx_kick();
		if (poll_rx(&checker))
			arm();
		check_time("transfer stalled");
	}
	if (h2g_bad || cn.rx_cnt != m)
		fail("host data did not match its pattern");
	/* Both directions shut: the device ends it with an RST. */
	wait_for(got_rst, &checker, "no RST after both shutdowns");
	put_str("probe: vsock-guest sent ");
	put_u64(sent);
	put_str(" received ");
	put_u64(cn.rx_cnt);
	put_str(" stalls ");
	put_u64(cn.stalls);
	put_str(" ok\n");
	probe_exit(0);
}

/* ---- vsock-hostile: broken rings ---------------------------------- */

static void expect_needs_reset(const char *what)
{
	arm();
	while (!(rd(VIO_STATUS) & NEEDS_RESET))
		check_time(what);
	put_str("probe: hostile ");
	put_str(what);
	put_str(": needs reset\n");
	vs_init(); /* reset and start over: the device must serve again */
	if (vs_connect(4000, 1, 4096))
		fail("port 1 accepted after a reset");
}

static void tx_raw(uint16_t head)
{
	offer(&vr[1], head);
	tx_kick();
}

void scenario_vsock_hostile(const struct boot *b)
{
	cmdline = b->cmdline;
	find_device();
	vs_init();
	conn_reset(4000, 1, 4096);
	txhdr[0] = (struct hdr){ .src_cid = cid,
		                 .dst_cid = HOST_CID,
		                 .dst_port = 1,
		                 .type = 1,
		                 .op = OP_REQUEST };

	rq[1].desc[0] = (struct vdesc){ (uintptr_t)&txhdr[0], 20, 0, 0 };
	tx_raw(0); /* a header of 20 bytes */
	expect_needs_reset("short header");

	rq[1].desc[0] = (struct vdesc){ (uintptr_t)&txhdr[0], HDR, F_NEXT, 1 };
	rq[1].desc[1] = (struct vdesc){ (uintptr_t)echo, 64, F_WRITE, 0 };
	tx_raw(0); /* a tx packet the device is to write into */
	expect_needs_reset("writable tx buffer");

	rq[1].desc[0] = (struct vdesc){ (uintptr_t)&txhdr[0], HDR, F_NEXT, 1 };
	rq[1].desc[1] = (struct vdesc){ (uintptr_t)echo, 64, F_NEXT, 0 };
	tx_raw(0); /* 0 -> 1 -> 0 ... */
	expect_needs_reset("descriptor loop");

	/* Only rx buffers the device cannot write; then it has to answer. */
	vs_init();
	for (unsigned i = 0; i < RXN; i++)
		rq[0].desc[i].flags = 0;
	send_ctl(OP_REQUEST, 0);
	expect_needs_reset("read-only rx buffer");

	put_str("probe: vsock-hostile ok\n");
	probe_exit(0);
}

/* ---- vsock-bench: ring 3 ------------------------------------------ */

static uint64_t bench_bytes;
static bool bench_g2h;

static void count_data(const uint8_t *p, uint32_t len)
{
	cn.fwd_cnt += len;
	maybe_credit_update();
}

static const struct handler counter = { .data = count_data };

static void bench_report(void)
{
	put_str("probe: bench done\n");
}

static void bench_user(void *unused)
{
	uint64_t sent = 0;

	in_user = true;
	arm();
	if (bench_g2h) {
		while (sent < bench_bytes) {
			uint32_t k = send_some(bench_bytes - sent);

			sent += k;
			tx_reap();
			if (k)
				tx_kick();
			if (k || poll_rx(&counter))
				arm();
			check_time("bench stalled");
		}
	} else {
		while (cn.rx_cnt < bench_bytes) {
			if (poll_rx(&counter))
				arm();
			check_time("bench stalled");
		}
	}
	send_ctl(OP_SHUTDOWN, SHUT_RCV | SHUT_SEND);
	wait_for(got_rst, &counter, "no RST after SHUTDOWN");
	user_exit(NULL);
}

void scenario_vsock_bench(const struct boot *b)
{
	cmdline = b->cmdline;
	bench_g2h = arg_is(cmdline, "dir=g2h");
	bench_bytes = arg_u64(cmdline, "n=", 64) << 20;
	find_device();
	vs_init();
	fill_pattern();
	if (!vs_connect(1236, (uint32_t)arg_u64(cmdline, "hport=", 7000),
	                1u << 20))
		fail("bench host listener refused the connection");
	put_str("probe: vsock bench connected\n");
	run_user(bench_user, 0, bench_report);
}

/* ---- vsock-reset: resets while the host sends --------------------- */

static bool got_data(void)
{
	return cn.rx_cnt > 0 || cn.rst;
}

void scenario_vsock_reset(const struct boot *b)
{
	uint32_t hport;
	uint64_t rounds, sent = 0;
	bool shut = false;

	cmdline = b->cmdline;
	hport = (uint32_t)arg_u64(cmdline, "hport=", 6000);
	rounds = arg_u64(cmdline, "rounds=", 8);
	find_device();
	fill_pattern();
	for (uint64_t r = 0; r < rounds; r++) {
		vs_init(); /* a reset: the last round's connection goes */
		if (!vs_connect((uint32_t)(2000 + r), hport, 16384))
			fail("the host refused a connection after a reset");
		wait_for(got_data, &counter, "no data from the host");
		if (cn.rst)
			fail("connection reset before the device was");
	}
	vs_init();
	if (!vs_connect(3000, hport, 16384))
		fail("the host refused the last connection");
	arm();
	while (sent < 4096 || cn.rx_cnt < 4096 || !cn.peer_shut_send) {
		uint32_t k = sent < 4096 ? send_some(4096 - sent) : 0;

		if (cn.rst)
			fail("the last connection was reset");
		sent += k;
		if (sent == 4096 && !shut) {
			tx_post(OP_SHUTDOWN, cn.port, cn.peer, SHUT_SEND, 0, 0);
			shut = true;
			k = 1;
		}
		if (k)
			tx_kick();
		tx_reap();
		if (poll_rx(&checker))
			arm();
		check_time("the last connection stalled");
	}
	if (h2g_bad || cn.rx_cnt != 4096)
		fail("host data did not match its pattern");
	wait_for(got_rst, &checker, "no RST after both shutdowns");
	put_str("probe: vsock-reset rounds ");
	put_u64(rounds);
	put_str(" ok\n");
	if (arg_is(cmdline, "wait"))
		wait_ctrl_alt_del();
	probe_exit(0);
}
