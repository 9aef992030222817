/*
 * A minimal virtio-net driver for the probe guest: polled, one receive
 * and one transmit queue. Test frames carry EtherType 0x88b5 (local
 * experimental) and a payload the host side (tests/integration/
 * net_peer.py) can check byte for byte:
 *
 *   dst ff:ff:ff:ff:ff:ff, src, 0x88b5, seq (u32 BE), len (u16 BE),
 *   then byte k of the frame (k >= 20) = (seq * 7 + k) & 0xff
 *
 * Frame i is 60 + (i * 331) % 1455 bytes long, so sizes run from the
 * Ethernet minimum to a full 1514-byte frame.
 */
#include "inet.h"
#include "probe.h"
#include "virtio.h"

#define NQ       64
#define RXBUF    2048
#define MRGBUF   512
#define HDR      12
#define MAXF     1514
#define ETYPE_HI 0x88
#define ETYPE_LO 0xb5
#define POLL     200000000u

#define NET_F_CSUM      (1ULL << 0)
#define NET_F_MAC       (1ULL << 5)
#define NET_F_MRG_RXBUF (1ULL << 15)
#define NET_F_HOST_TSO4 (1ULL << 11)

static volatile struct vdesc rxd[NQ] __attribute__((aligned(16)));
static volatile uint16_t rxa[2 + NQ + 1] __attribute__((aligned(4)));
static volatile uint32_t rxu[1 + 2 * NQ + 1] __attribute__((aligned(4)));
static volatile struct vdesc txd[NQ] __attribute__((aligned(16)));
static volatile uint16_t txa[2 + NQ + 1] __attribute__((aligned(4)));
static volatile uint32_t txu[1 + 2 * NQ + 1] __attribute__((aligned(4)));
static struct vring rxq = { NQ, rxd, rxa, rxu, 0, 0 };
static struct vring txq = { NQ, txd, txa, txu, 0, 0 };

static uint8_t rxbuf[NQ][RXBUF] __attribute__((aligned(64)));
static uint8_t txhdr[NQ / 2][HDR];
static uint8_t txbuf[NQ / 2][MAXF] __attribute__((aligned(64)));
static uint8_t frame[MAXF + 64];
static struct vdev dev;
static uint8_t mac[6];
static unsigned txfree = NQ / 2, txnext;
static bool mrg, in_user;

/* Ring 3 cannot print: it goes back to ring 0, which does. */
__attribute__((noreturn)) static void net_fail(const char *why)
{
	if (in_user)
		user_exit(why);
	fail(why);
}

static uint32_t frame_len(uint32_t seq)
{
	return 60 + (seq * 331) % 1455;
}

static void make_frame(uint8_t *f, uint32_t seq, uint32_t len)
{
	for (int i = 0; i < 6; i++) {
		f[i] = 0xff;
		f[6 + i] = mac[i];
	}
	f[12] = ETYPE_HI;
	f[13] = ETYPE_LO;
	f[14] = (uint8_t)(seq >> 24);
	f[15] = (uint8_t)(seq >> 16);
	f[16] = (uint8_t)(seq >> 8);
	f[17] = (uint8_t)seq;
	f[18] = (uint8_t)(len >> 8);
	f[19] = (uint8_t)len;
	for (uint32_t k = 20; k < len; k++)
		f[k] = (uint8_t)(seq * 7 + k);
}

/* A frame from the host: seq, or -1 when it is not a good test frame. */
static int64_t check_frame(const uint8_t *f, uint32_t len)
{
	uint32_t seq, flen;

	if (len < 20 || f[12] != ETYPE_HI || f[13] != ETYPE_LO)
		return -2; /* someone else's frame: ignore */
	seq = (uint32_t)f[14] << 24 | (uint32_t)f[15] << 16 |
	      (uint32_t)f[16] << 8 | f[17];
	flen = (uint32_t)f[18] << 8 | f[19];
	if (flen != len || len != frame_len(seq))
		return -1;
	for (uint32_t k = 20; k < len; k++)
		if (f[k] != (uint8_t)(seq * 7 + k))
			return -1;
	return seq;
}

static void put_mac(const uint8_t *m)
{
	for (int i = 0; i < 6; i++) {
		put_str(i ? ":" : "");
		put_str((const char[]){ "0123456789abcdef"[m[i] >> 4],
		                        "0123456789abcdef"[m[i] & 15], 0 });
	}
}

static void rx_post(uint16_t i)
{
	rxd[i] = (struct vdesc){ (uintptr_t)rxbuf[i], mrg ? MRGBUF : RXBUF,
		                 VD_F_WRITE, 0 };
	vring_post(&rxq, i);
}

static void net_init(const struct boot *b, uint64_t features)
{
	if (!vdev_find(&dev, b->cmdline, 1))
		fail("no virtio-net announced on the command line");
	mrg = features & NET_F_MRG_RXBUF;
	if (!vdev_negotiate(&dev, features | NET_F_MAC))
		fail("virtio-net refused the features");
	for (int i = 0; i < 6; i++)
		mac[i] = vdev_cfg8(&dev, (uint32_t)i);
	vdev_queue(&dev, 0, &rxq);
	vdev_queue(&dev, 1, &txq);
	vdev_driver_ok(&dev);
	txfree = NQ / 2;
	txnext = 0;
}

/* Reclaim sent frames; true when any slot is free. */
static bool tx_reap(void)
{
	uint32_t id, len;

	while (vring_used(&txq, &id, &len))
		txfree++;
	return txfree > 0;
}

/* Queue frame @f (@len bytes) behind a zeroed or given header. */
static void tx_send(const uint8_t *f, uint32_t len, const uint8_t *hdr)
{
	unsigned slot;

	for (uint32_t n = 0; !tx_reap(); n++)
		if (n == POLL)
			net_fail("virtio-net transmit timed out");
	slot = txnext++ % (NQ / 2);
	txfree--;
	for (int i = 0; i < HDR; i++)
		txhdr[slot][i] = hdr ? hdr[i] : 0;
	for (uint32_t i = 0; i < len; i++)
		txbuf[slot][i] = f[i];
	txd[2 * slot] = (struct vdesc){ (uintptr_t)txhdr[slot], HDR, VD_F_NEXT,
		                        (uint16_t)(2 * slot + 1) };
	txd[2 * slot + 1] = (struct vdesc){ (uintptr_t)txbuf[slot], len, 0, 0 };
	vring_post(&txq, (uint16_t)(2 * slot));
	vdev_notify(&dev, 1);
}

static void tx_flush(void)
{
	for (uint32_t n = 0; txfree < NQ / 2; n++) {
		tx_reap();
		if (n == POLL)
			fail("virtio-net transmit did not complete");
	}
}

void scenario_net_tx(const struct boot *b)
{
	uint64_t n = arg_u64(b->cmdline, "n=", 32);
	uint8_t f[MAXF];

	net_init(b, 0);
	for (uint32_t seq = 0; seq < n; seq++) {
		make_frame(f, seq, frame_len(seq));
		tx_send(f, frame_len(seq), 0);
	}
	tx_flush();
	put_str("probe: net tx ");
	put_u64(n);
	put_str(" frames mac ");
	put_mac(mac);
	put_str("\n");
	probe_exit(0);
}

/*
 * The next received frame into @frame: one buffer, or with MRG_RXBUF as
 * many as its header's num_buffers says. Returns its length (without
 * the header) and how many buffers it took.
 */
static uint32_t rx_frame(unsigned *nbufs)
{
	uint32_t id, len, total = 0;
	unsigned want = 1;

	for (unsigned got = 0; got < want;) {
		for (uint32_t n = 0; !vring_used(&rxq, &id, &len); n++)
			if (n == POLL)
				net_fail("virtio-net receive timed out");
		if (id >= NQ || len > (mrg ? MRGBUF : RXBUF))
			net_fail("virtio-net used entry out of range");
		if (got == 0) {
			if (len < HDR)
				net_fail("received buffer without a header");
			want = rxbuf[id][10] | rxbuf[id][11] << 8;
			if (want < 1 || (!mrg && want != 1) || want > NQ)
				net_fail("bad num_buffers");
			for (uint32_t k = HDR; k < len; k++)
				frame[total++] = rxbuf[id][k];
		} else {
			for (uint32_t k = 0; k < len; k++)
				if (total < sizeof(frame))
					frame[total++] = rxbuf[id][k];
		}
		got++;
		rx_post((uint16_t)id);
	}
	vdev_notify(&dev, 0);
	*nbufs = want;
	return total;
}

void scenario_net_rx(const struct boot *b)
{
	uint64_t n = arg_u64(b->cmdline, "n=", 32), bytes = 0, good = 0;
	unsigned maxbufs = 0;

	net_init(b, arg_is(b->cmdline, "mrg") ? NET_F_MRG_RXBUF : 0);
	for (uint16_t i = 0; i < NQ; i++)
		rx_post(i);
	vdev_notify(&dev, 0);
	put_str("probe: net rx ready mac ");
	put_mac(mac);
	put_str("\n");
	while (good < n) {
		unsigned nb;
		uint32_t len = rx_frame(&nb);
		int64_t seq = check_frame(frame, len);

		if (seq == -2)
			continue;
		if (seq < 0 || (uint64_t)seq != good)
			fail("received frame is not the one sent");
		good++;
		bytes += len;
		if (nb > maxbufs)
			maxbufs = nb;
	}
	put_str("probe: net rx ");
	put_u64(good);
	put_str(" frames ok bytes=");
	put_u64(bytes);
	put_str(" maxbufs=");
	put_u64(maxbufs);
	put_str("\n");
	probe_exit(0);
}

static void expect_reset(const struct boot *b, const char *what)
{
	uint8_t f[MAXF];

	if (!vdev_wait_needs_reset(&dev))
		fail(what);
	put_str("probe: hostile ");
	put_str(what);
	put_str(": needs reset\n");
	net_init(b, 0);
	make_frame(f, 0, frame_len(0));
	tx_send(f, frame_len(0), 0);
	tx_flush();
}

/*
 * Broken rings must stop the device (NEEDS_RESET) and nothing else;
 * malformed frames are dropped without harm. The host counts the good
 * frames that reach the tap: 6, a seq 0 after each of the 5 recoveries
 * and a seq 1 after the malformed ones.
 */
void scenario_net_hostile(const struct boot *b)
{
	uint8_t f[MAXF], gso[HDR] = { 0, 1 }; /* GSO_TCPV4 */

	net_init(b, 0);
	/* transmit chain with a writable buffer */
	txd[0] = (struct vdesc){ (uintptr_t)txhdr[0], HDR, VD_F_NEXT, 1 };
	txd[1] = (struct vdesc){ (uintptr_t)txbuf[0], 100, VD_F_WRITE, 0 };
	vring_post(&txq, 0);
	vdev_notify(&dev, 1);
	expect_reset(b, "writable transmit buffer");

	/* receive chain with a readable buffer */
	rxd[0] = (struct vdesc){ (uintptr_t)rxbuf[0], RXBUF, 0, 0 };
	vring_post(&rxq, 0);
	vdev_notify(&dev, 0);
	expect_reset(b, "readable receive buffer");

	/* receive buffer too small for the header */
	rxd[0] = (struct vdesc){ (uintptr_t)rxbuf[0], 8, VD_F_WRITE, 0 };
	vring_post(&rxq, 0);
	vdev_notify(&dev, 0);
	expect_reset(b, "tiny receive buffer");

	/* MRG_RXBUF with tiny buffers, one head posted again while held */
	net_init(b, NET_F_MRG_RXBUF);
	for (unsigned k = 0; k < 4; k++) {
		rxd[0] = (struct vdesc){ (uintptr_t)rxbuf[0], 16, VD_F_WRITE,
			                 0 };
		vring_post(&rxq, 0);
		vdev_notify(&dev, 0);
	}
	expect_reset(b, "receive head posted twice");

	/* transmit head out of range */
	vring_post(&txq, NQ + 5);
	vdev_notify(&dev, 1);
	expect_reset(b, "transmit head out of range");

	/* malformed frames: too short, and GSO that was not negotiated */
	make_frame(f, 1, frame_len(1));
	tx_send(f, 5, 0);
	tx_send(f, frame_len(1), gso);
	tx_send(f, frame_len(1), 0);
	tx_flush();
	if (vdev_rd(&dev, VIO_STATUS) & VIO_S_NEEDS_RESET)
		fail("a malformed frame broke the device");
	put_str("probe: malformed frames dropped\n");
	put_str("probe: net-hostile ok\n");
	probe_exit(0);
}

/*
 * net-bench: dir=tx sends n= frames of size= bytes as fast as the device
 * takes them; dir=rx counts n= test-EtherType frames the host floods in.
 * Both loops run in ring 3 (see run_user); the host times the run.
 */
struct nbench {
	bool rx;
	uint64_t n, size, done, bytes;
};

static struct nbench nb;

static void nbench_report(void)
{
	put_str(nb.rx ? "probe: net bench rx " : "probe: net bench tx ");
	put_u64(nb.done);
	put_str(" frames bytes=");
	put_u64(nb.bytes);
	put_str("\n");
}

static void nbench_tx(struct nbench *b)
{
	uint64_t posted = 0;
	uint32_t id, len;

	while (b->done < b->n) {
		bool kick = false;

		while (posted < b->n && posted - b->done < NQ) {
			uint16_t i = (uint16_t)(posted % NQ);

			txd[i] =
			        (struct vdesc){ (uintptr_t)rxbuf[i],
				                HDR + (uint32_t)b->size, 0, 0 };
			vring_post(&txq, i);
			posted++;
			kick = true;
		}
		if (kick)
			vdev_notify(&dev, 1);
		while (vring_used(&txq, &id, &len)) {
			b->done++;
			b->bytes += b->size;
		}
	}
}

static void nbench_rx(struct nbench *b)
{
	uint32_t id, len;

	while (b->done < b->n) {
		bool kick = false;

		while (b->done < b->n && vring_used(&rxq, &id, &len)) {
			if (id >= NQ)
				user_exit("used entry out of range");
			if (len >= HDR + 14 &&
			    rxbuf[id][HDR + 12] == ETYPE_HI &&
			    rxbuf[id][HDR + 13] == ETYPE_LO) {
				b->done++;
				b->bytes += len - HDR;
			}
			rxd[id] = (struct vdesc){ (uintptr_t)rxbuf[id], RXBUF,
				                  VD_F_WRITE, 0 };
			vring_post(&rxq, (uint16_t)id);
			kick = true;
		}
		if (kick)
			vdev_notify(&dev, 0);
	}
}

static void nbench_user(void *arg)
{
	struct nbench *b = arg;

	/* every transmit buffer holds the same frame (made here: fast) */
	for (unsigned i = 0; !b->rx && i < NQ; i++) {
		for (int k = 0; k < HDR; k++)
			rxbuf[i][k] = 0;
		make_frame(rxbuf[i] + HDR, 0, (uint32_t)b->size);
	}
	if (b->rx)
		nbench_rx(b);
	else
		nbench_tx(b);
	user_exit(NULL);
}

void scenario_net_bench(const struct boot *b)
{
	nb.rx = arg_is(b->cmdline, "dir=rx");
	nb.n = arg_u64(b->cmdline, "n=", 10000);
	nb.size = arg_u64(b->cmdline, "size=", MAXF);
	if (nb.size < 60 || nb.size > MAXF)
		fail("size= must be 60..1514");
	net_init(b, 0);
	for (uint16_t i = 0; nb.rx && i < NQ; i++)
		rx_post(i);
	vdev_notify(&dev, 0);
	put_str(nb.rx ? "probe: net bench rx ready\n"
	              : "probe: net bench tx start\n");
	run_user(nbench_user, &nb, nbench_report);
}

/* ---- MMDS: ARP, then one HTTP GET over a minimal TCP ------------------- */

#define MMDS_IP  0xa9fea9feu /* 169.254.169.254 */
#define GUEST_IP 0xa9fe0002u /* 169.254.0.2 */
#define GPORT    49152

static uint8_t mmds_mac[6];
static uint32_t gseq, gack;
/* Our port; a segment to any other is counted (mmds-hostile). */
static uint16_t gport = GPORT;
static unsigned stray;
static bool bad_csum; /* the next segment's TCP checksum is wrong */

static void eth(uint8_t *f, const uint8_t *dst, uint32_t type)
{
	for (int i = 0; i < 6; i++) {
		f[i] = dst ? dst[i] : 0xff;
		f[6 + i] = mac[i];
	}
	put16(f + 12, type);
}

/* A TCP segment to MMDS's port 80 with @flags and @len bytes of @data. */
static void tcp_send(uint8_t flags, const char *data, uint32_t len)
{
	uint8_t f[MAXF];
	uint8_t *ip = f + 14, *t = ip + 20;
	uint32_t tl = 20 + len;

	eth(f, mmds_mac, 0x0800);
	for (int i = 0; i < 40; i++)
		ip[i] = 0;
	ip[0] = 0x45;
	put16(ip + 2, 20 + tl);
	ip[8] = 64;
	ip[9] = 6;
	put32(ip + 12, GUEST_IP);
	put32(ip + 16, MMDS_IP);
	put16(ip + 10, inet_csum(0, ip, 20));
	put16(t, gport);
	put16(t + 2, 80);
	put32(t + 4, gseq);
	put32(t + 8, gack);
	t[12] = 5 << 4;
	t[13] = flags;
	put16(t + 14, 8192);
	for (uint32_t i = 0; i < len; i++)
		t[20 + i] = (uint8_t)data[i];
	put16(t + 16, inet_csum(inet_pseudo(GUEST_IP, MMDS_IP, tl), t, tl) ^
	                      (bad_csum ? 0x5a5a : 0));
	bad_csum = false;
	tx_send(f, 14 + 20 + tl, 0);
	gseq += len + ((flags & 3) ? 1 : 0);
}

/* The next TCP segment from MMDS to our port: its header, or NULL. */
static const uint8_t *tcp_recv(uint32_t *dlen)
{
	for (int tries = 0; tries < 100000; tries++) { /* the tap's too */
		unsigned nb;
		uint32_t len = rx_frame(&nb);
		const uint8_t *ip = frame + 14, *t = ip + 20;

		if (len < 54 || get16(frame + 12) != 0x0800 || ip[9] != 6 ||
		    get32(ip + 12) != MMDS_IP || inet_csum(0, ip, 20) != 0)
			continue;
		if (get16(t + 2) != gport) {
			stray++;
			continue;
		}
		*dlen = get16(ip + 2) - 20 - (uint32_t)(t[12] >> 4) * 4;
		return t;
	}
	net_fail("mmds: no TCP segment from the service");
}

static bool mem_is(const char *p, const char *s)
{
	while (*s)
		if (*p++ != *s++)
			return false;
	return true;
}

/* Where the body of the response in @r (@n bytes) starts, or 0. */
static uint32_t body_at(const char *r, uint32_t n)
{
	for (uint32_t i = 0; i + 4 <= n; i++)
		if (mem_is(r + i, "\r\n\r\n"))
			return i + 4;
	return 0;
}

/* Whether the head and as much body as its Content-Length says are in. */
static bool resp_whole(const char *r, uint32_t n)
{
	uint32_t body = body_at(r, n), len = 0;

	if (!body)
		return false;
	for (uint32_t i = 0; i + 16 < body; i++) {
		if (!mem_is(r + i, "Content-Length: "))
			continue;
		for (const char *p = r + i + 16; *p >= '0' && *p <= '9'; p++)
			len = len * 10 + (uint32_t)(*p - '0');
		return n >= body + len;
	}
	return true;
}

/* The device up with every receive buffer posted; then MMDS's MAC by ARP. */
static void mmds_start(const struct boot *b)
{
	uint8_t f[64];

	net_init(b, arg_is(b->cmdline, "mrg") ? NET_F_MRG_RXBUF : 0);
	for (uint16_t i = 0; i < NQ; i++)
		rx_post(i);
	vdev_notify(&dev, 0);
	/* Who has 169.254.169.254? */
	eth(f, 0, 0x0806);
	put16(f + 14, 1);
	put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, 1);
	for (int i = 0; i < 6; i++) {
		f[22 + i] = mac[i];
		f[32 + i] = 0;
	}
	put32(f + 28, GUEST_IP);
	put32(f + 38, MMDS_IP);
	tx_send(f, 42, 0);
	for (;;) {
		unsigned nb;
		uint32_t len = rx_frame(&nb);

		if (len >= 42 && get16(frame + 12) == 0x0806 &&
		    get16(frame + 20) == 2 && get32(frame + 28) == MMDS_IP)
			break;
	}
	for (int i = 0; i < 6; i++)
		mmds_mac[i] = frame[22 + i];
	put_str("probe: mmds arp ");
	put_mac(mmds_mac);
	put_str("\n");
}

/* SYN, SYN-ACK, ACK. */
static void mmds_connect(void)
{
	const uint8_t *t;
	uint32_t dlen;

	gseq = 1000;
	gack = 0;
	tcp_send(0x02, 0, 0);
	t = tcp_recv(&dlen);
	if (t[13] != 0x12 || get32(t + 8) != gseq)
		fail("mmds: no SYN-ACK");
	gack = get32(t + 4) + 1;
	tcp_send(0x10, 0, 0);
}

static const char mmds_req[] = "GET /probe HTTP/1.1\r\n"
                               "Accept: text/plain\r\n\r\n";

/* The response to what was sent on the open connection (mmds_get()). */
static uint32_t mmds_answer(char *resp, uint32_t size)
{
	const uint8_t *t;
	uint32_t got = 0, dlen;

	do {
		t = tcp_recv(&dlen);
		if (t[13] & 0x05)
			net_fail("mmds: reset or FIN by the service");
		if (get32(t + 4) == gack && dlen) {
			for (uint32_t i = 0; i < dlen && got < size - 1; i++)
				resp[got++] = (char)t[(t[12] >> 4) * 4 + i];
			gack += dlen;
			tcp_send(0x10, 0, 0);
		}
	} while (!resp_whole(resp, got));
	resp[got] = 0;
	return got;
}

/*
 * Request @req on the open connection: its response into @resp (at most
 * @size - 1 bytes, NUL-terminated), in order, each segment acknowledged,
 * until the head and its Content-Length of body are in. Its length.
 */
static uint32_t mmds_ask(const char *req, char *resp, uint32_t size)
{
	uint32_t n = 0;

	while (req[n])
		n++;
	tcp_send(0x18, req, n);
	return mmds_answer(resp, size);
}

static uint32_t mmds_get(char *resp, uint32_t size)
{
	return mmds_ask(mmds_req, resp, size);
}

/* Our FIN, then theirs, acknowledged. */
static void mmds_close(void)
{
	const uint8_t *t;
	uint32_t dlen;

	tcp_send(0x11, 0, 0);
	do {
		t = tcp_recv(&dlen);
		if (t[13] & 0x04)
			net_fail("mmds: reset by the service");
	} while (!(t[13] & 0x01));
	gack++;
	tcp_send(0x10, 0, 0);
	tx_flush();
}

static bool status_is_200(const char *r, uint32_t n)
{
	return n > 12 && r[9] == '2' && r[10] == '0' && r[11] == '0';
}

/* "probe: mmds <what>status=NNN body=..." of a response. */
static void mmds_report(const char *what, const char *resp, uint32_t got)
{
	put_str("probe: mmds ");
	put_str(what);
	put_str("status=");
	put_str((const char[]){ got > 12 ? resp[9] : '?',
	                        got > 12 ? resp[10] : '?',
	                        got > 12 ? resp[11] : '?', 0 });
	put_str(" body=");
	if (body_at(resp, got))
		put_str(resp + body_at(resp, got));
	put_str("\n");
}

void scenario_mmds(const struct boot *b)
{
	static char resp[4096];
	uint32_t got;

	mmds_start(b);
	mmds_connect();
	got = mmds_get(resp, sizeof(resp));
	mmds_close();
	mmds_report("", resp, got);
	probe_exit(0);
}

/* The flags of the next segment from MMDS to any port; its port. */
static uint8_t any_segment(uint16_t *port)
{
	for (;;) {
		unsigned nb;
		uint32_t len = rx_frame(&nb);
		const uint8_t *ip = frame + 14, *t = ip + 20;

		if (len >= 54 && get16(frame + 12) == 0x0800 && ip[9] == 6 &&
		    get32(ip + 12) == MMDS_IP) {
			*port = get16(t + 2);
			return t[13];
		}
	}
}

static uint64_t rdtsc(void);

/*
 * A session token of @ttl seconds (PUT /latest/api/token on the open
 * connection) and, in @req, a GET of /probe that carries it. The
 * token's length.
 */
static uint32_t token_get(char *req, const char *ttl, char *resp, uint32_t size)
{
	static const char put[] = "PUT /latest/api/token HTTP/1.1\r\n"
	                          "X-metadata-token-ttl-seconds: ";
	char head[128];
	uint32_t n = 0, got, body, tlen = 0;

	for (const char *p = put; *p;)
		head[n++] = *p++;
	for (const char *p = ttl; *p;)
		head[n++] = *p++;
	for (const char *p = "\r\n\r\n"; *p;)
		head[n++] = *p++;
	head[n] = 0;
	got = mmds_ask(head, resp, size);
	body = body_at(resp, got);
	n = 0;
	for (const char *p = "GET /probe HTTP/1.1\r\nX-metadata-token: "; *p;)
		req[n++] = *p++;
	for (uint32_t i = 0; body && i < got - body && tlen < 100; i++, tlen++)
		req[n++] = resp[body + i];
	for (const char *p = "\r\n\r\n"; *p;)
		req[n++] = *p++;
	req[n] = 0;
	return tlen;
}

/*
 * mmds-hostile, against a V2 service: a SYN with a bad checksum gets no
 * answer; a GET with a forged token 401; the token flow (PUT, then GET
 * with it) 200, also with a segment sent twice; a request that fills the
 * connection's buffer without ending a reset; 40 SYNs at once at most 30
 * connections and resets for the rest; and after all that the service
 * still answers, and a token past its TTL is refused. Each step prints its
 * line; the host checks them.
 */
void scenario_mmds_hostile(const struct boot *b)
{
	static char resp[4096], req[512];
	/* 100 bytes: 25 of them fill a connection's 2500-byte buffer. */
	static const char pad[] =
	        "X-Pad: "
	        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
	unsigned synack = 0, rst = 0, n = 0;
	uint32_t got, s;
	uint16_t port;

	mmds_start(b);
	/* A bad checksum on port GPORT + 1, then a good SYN on GPORT: the
	 * first answer is the good one's, and nothing comes for the other. */
	gport = GPORT + 1;
	gseq = 1000;
	gack = 0;
	bad_csum = true;
	tcp_send(0x02, 0, 0);
	gport = GPORT;
	mmds_connect();
	put_str(stray ? "probe: mmds FAIL a bad checksum was answered\n"
	              : "probe: mmds bad checksum ignored\n");
	got = mmds_ask(
	        "GET /probe HTTP/1.1\r\nX-metadata-token: "
	        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n\r\n",
	        resp, sizeof(resp));
	mmds_report("forged token ", resp, got);
	n = token_get(req, "60", resp, sizeof(resp));
	put_str("probe: mmds token ");
	put_u64(n);
	put_str(" bytes\n");
	/* The GET with the token, its first 8 bytes sent twice. */
	for (n = 0; req[n];)
		n++;
	s = gseq;
	tcp_send(0x18, req, 8);
	gseq = s;
	tcp_send(0x18, req, 8);
	tcp_send(0x18, req + 8, n - 8);
	got = mmds_answer(resp, sizeof(resp));
	mmds_report("token, a segment twice, ", resp, got);
	mmds_close();

	/* 2500 bytes of a request head that never ends: a reset. */
	gport = GPORT + 2;
	mmds_connect();
	for (int i = 0; i < 40; i++) {
		const uint8_t *t;
		uint32_t dlen;

		tcp_send(0x18, pad, sizeof(pad) - 1);
		do
			t = tcp_recv(&dlen);
		while (!(t[13] & 0x14)); /* an ACK or a reset */
		if (t[13] & 0x04) {
			put_str("probe: mmds endless request reset after ");
			put_u64((uint64_t)(i + 1) * (sizeof(pad) - 1));
			put_str(" bytes\n");
			break;
		}
	}

	/* A flood of 40 SYNs, then every connection it got reset. */
	for (uint16_t i = 0; i < 40; i++) {
		gport = (uint16_t)(GPORT + 100 + i);
		gseq = 5000;
		tcp_send(0x02, 0, 0);
	}
	tx_flush();
	for (int i = 0; i < 40; i++) {
		uint8_t fl = any_segment(&port);

		if (port < GPORT + 100 || port >= GPORT + 140) {
			i--;
			continue;
		}
		if (fl & 0x04)
			rst++;
		else if ((fl & 0x12) == 0x12) {
			synack++;
			gport = port;
			gseq = 5001;
			tcp_send(0x04, 0, 0);
		}
	}
	put_str("probe: mmds flood ");
	put_u64(synack);
	put_str(" connections ");
	put_u64(rst);
	put_str(" resets\n");
	/* The service still serves. */
	gport = GPORT + 200;
	mmds_connect();
	got = mmds_ask(req, resp, sizeof(resp));
	mmds_report("after all that ", resp, got);
	/* A token of 1 s, used 2^33 TSC ticks later (over a second at any
	 * TSC rate below 8.5 GHz): refused. */
	token_get(req, "1", resp, sizeof(resp));
	for (uint64_t t0 = rdtsc(); rdtsc() - t0 < (1ULL << 33);)
		;
	got = mmds_ask(req, resp, sizeof(resp));
	mmds_close();
	mmds_report("expired token ", resp, got);
	probe_exit(0);
}

/*
 * mmds-bench: w= warm-up requests, then n= timed ones, all GETs on one
 * kept-open connection (MMDS, as Firecracker's, answers any number of
 * requests on a connection). Each is timed with rdtsc from queueing the
 * request to the response whole and its last segment's ACK queued; the
 * loop runs in ring 3 (natively on kvm-pvm). Ring 0 then prints the raw
 * TSC deltas, MMDS_LINE to a line, for the host to convert.
 */
#define MMDS_MAXN 20000
#define MMDS_LINE 16

static struct {
	uint64_t n, warm;
	uint32_t bytes;
	uint32_t dt[MMDS_MAXN];
} mb;

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static void mbench_report(void)
{
	put_str("probe: mmds bench n=");
	put_u64(mb.n);
	put_str(" bytes=");
	put_u64(mb.bytes);
	put_str("\n");
	for (uint64_t i = 0; i < mb.n; i++) {
		if (i % MMDS_LINE == 0)
			put_str("probe: mmds tsc");
		put_str(" ");
		put_u64(mb.dt[i]);
		if (i % MMDS_LINE == MMDS_LINE - 1 || i + 1 == mb.n)
			put_str("\n");
	}
	put_str("probe: mmds bench done\n");
}

static void mbench_user(void *unused)
{
	static char resp[4096];

	(void)unused;
	in_user = true;
	for (uint64_t i = 0; i < mb.warm + mb.n; i++) {
		uint64_t t0 = rdtsc(), t1;
		uint32_t got = mmds_get(resp, sizeof(resp));

		t1 = rdtsc();
		if (!status_is_200(resp, got))
			user_exit("mmds bench: a response other than 200");
		if (i >= mb.warm)
			mb.dt[i - mb.warm] = t1 - t0 > 0xffffffffu
			                             ? 0xffffffffu
			                             : (uint32_t)(t1 - t0);
		mb.bytes = got;
	}
	mmds_close();
	user_exit(NULL);
}

void scenario_mmds_bench(const struct boot *b)
{
	mb.n = arg_u64(b->cmdline, "n=", 2000);
	mb.warm = arg_u64(b->cmdline, "w=", 200);
	if (mb.n < 1 || mb.n > MMDS_MAXN)
		fail("n= must be 1..20000");
	mmds_start(b);
	mmds_connect();
	put_str("probe: mmds bench connected\n");
	run_user(mbench_user, 0, mbench_report);
}
