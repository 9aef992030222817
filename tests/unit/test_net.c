/*
 * virtio-net frames and headers without KVM or a tap: a fake driver in
 * fake guest RAM, the real transport, queues and io_uring, and a
 * SOCK_SEQPACKET pair standing in for the tap (one frame per read and
 * write, as a tap with a vnet header behaves).
 */
#include "unit.h"
#include "fake_driver.h"
#include "mmds.h"
#include "mmds_guest.h"
#include "net.h"

#include <errno.h>
#include <jansson.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define MEM   (1u << 20)
#define BASE  0xc0001000ULL
#define QN    8
#define RXD   0x1000
#define RXA   0x2000
#define RXU   0x3000
#define TXD   0x4000
#define TXA   0x5000
#define TXU   0x6000
#define RXBUF 0x10000 /* rx buffer i at RXBUF + i * 0x1000 */
#define TXBUF 0x20000
#define F(b)  (1ULL << (b))

static struct vm vm;
static struct uring ur;
static struct net n;
static int sp[2];
static uint16_t rxpos, txpos;

static struct mmds *store;

/* The configuration's MTU for the next attach() (0: the "tap's", 1500). */
static unsigned cfg_mtu;

/* The device on the socketpair; reaching MMDS @m when not NULL. */
static void attach(struct mmds *m)
{
	struct rate_limiter_config none = { 0 };
	struct net_options o = {
		.id = "eth0",
		.mac = { 6, 0, 0, 0, 0, 1 },
		.mtu = cfg_mtu,
		.rx = &none,
		.tx = &none,
		.mmds = m,
		.mmds_ipv4 = MG_MMDS_IP,
	};
	char err[256];

	fake_vm_init(&vm, MEM);
	ck_assert_int_eq(uring_init(&ur, 64), 0);
	ck_assert_int_eq(
	        socketpair(AF_UNIX,
	                   SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	                   sp),
	        0);
	ck_assert_int_eq(net_attach(&n, &vm, &ur, NULL, &o, sp[0], 1500, BASE,
	                            5, err, sizeof(err)),
	                 0);
	rxpos = txpos = 0;
}

static void setup(void)
{
	attach(NULL);
}

static void teardown(void)
{
	net_destroy(&n); /* closes sp[0] */
	close(sp[1]);
	uring_destroy(&ur);
	free(vm.mem);
}

static void start(uint64_t features)
{
	uint64_t kick;

	fake_negotiate(&vm, BASE, F(VIRTIO_F_VERSION_1) | features);
	fake_queue_n(&vm, BASE, 0, QN, RXD, RXA, RXU);
	fake_queue_n(&vm, BASE, 1, QN, TXD, TXA, TXU);
	fake_driver_ok(&vm, BASE);
	ck_assert_uint_eq(fake_rd(&vm, BASE + VIRTIO_MMIO_STATUS), 0x0f);
	/* DRIVER_OK kicks the receive queue for the event loop */
	ck_assert_int_eq(read(n.t.notify_fd[0], &kick, 8), 8);
}

/* Run completions until nothing more comes for a while. */
static void settle(void)
{
	struct __kernel_timespec ts = { .tv_nsec = 20 * 1000 * 1000 };
	struct io_uring_cqe *cqe;

	uring_run(&ur);
	while (io_uring_wait_cqe_timeout(&ur.ring, &cqe, &ts) == 0)
		uring_run(&ur);
}

static void kick(unsigned q)
{
	virtio_mmio_notify(&n.t, q);
	settle();
}

/* A frame of @len bytes: broadcast, our MAC, EtherType 0x88b5, pattern. */
static void frame(uint8_t *f, size_t len, uint8_t seed)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, "\x06\0\0\0\0\x01\x88\xb5", 8);
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(seed + i);
}

/* Queue a transmit chain: header (@hdr) and frame @f in two descriptors. */
static void tx_bytes(const uint8_t *hdr, const uint8_t *f, size_t len)
{
	uint16_t d = (uint16_t)(2 * (txpos % (QN / 2)));
	uint64_t at = TXBUF + (uint64_t)(txpos % (QN / 2)) * 0x11000;

	memcpy(vm.mem + at, hdr, NET_HDR_LEN);
	memcpy(vm.mem + at + 16, f, len);
	fake_desc(&vm, TXD, d, at, NET_HDR_LEN, VRING_DESC_F_NEXT,
	          (uint16_t)(d + 1));
	fake_desc(&vm, TXD, d + 1u, at + 16, (uint32_t)len, 0, 0);
	fake_offer(&vm, TXA, QN, txpos++, d);
}

/* The same with a pattern frame of @len bytes. */
static void tx_chain(const uint8_t *hdr, size_t len, uint8_t seed)
{
	static uint8_t f[0x11000];

	frame(f, len, seed);
	tx_bytes(hdr, f, len);
}

static void rx_post(unsigned i, uint32_t len, uint16_t flags)
{
	fake_desc(&vm, RXD, i, RXBUF + i * 0x1000ULL, len, flags, 0);
	fake_offer(&vm, RXA, QN, rxpos++, (uint16_t)i);
}

static uint32_t used_len(uint64_t used, unsigned k)
{
	uint32_t v;

	memcpy(&v, vm.mem + used + 4 + 8 * k + 4, 4);
	return v;
}

static uint32_t used_id(uint64_t used, unsigned k)
{
	uint32_t v;

	memcpy(&v, vm.mem + used + 4 + 8 * k, 4);
	return v;
}

static const uint8_t zero_hdr[NET_HDR_LEN];

START_TEST(tx_frames_reach_the_tap_whole)
{
	uint8_t got[2048], want[2048];

	start(F(VIRTIO_NET_F_MAC));
	tx_chain(zero_hdr, 60, 1);
	tx_chain(zero_hdr, 1514, 2);
	kick(NET_TXQ);
	ck_assert_uint_eq(fake_used_idx(&vm, TXU), 2);
	ck_assert_int_eq(recv(sp[1], got, sizeof(got), 0), NET_HDR_LEN + 60);
	frame(want, 60, 1);
	ck_assert_mem_eq(got + NET_HDR_LEN, want, 60);
	ck_assert_int_eq(recv(sp[1], got, sizeof(got), 0), NET_HDR_LEN + 1514);
	frame(want, 1514, 2);
	ck_assert_mem_eq(got + NET_HDR_LEN, want, 1514);
	ck_assert_int_eq(recv(sp[1], got, sizeof(got), 0), -1);
	ck_assert_uint_eq(n.stats.tx_packets_count, 2);
	ck_assert_uint_eq(n.stats.tx_bytes_count, 1574);
	/* the MAC is in the configuration space */
	ck_assert_uint_eq(fake_rd(&vm, BASE + 0x100) & 0xff, 6);
}
END_TEST

/* The guest is told the tap's MTU, or the configuration's. */
static unsigned config_mtu(void)
{
	return fake_rd(&vm, BASE + 0x100 + 8) >> 16; /* offset 10 */
}

START_TEST(mtu_told_the_guest)
{
	ck_assert_uint_eq(config_mtu(), 1500);
	teardown();
	cfg_mtu = 9000;
	attach(NULL);
	cfg_mtu = 0;
	ck_assert_uint_eq(config_mtu(), 9000);
	ck_assert_uint_eq(n.frame_mtu, 9000);
	teardown();
	cfg_mtu = 576;
	attach(NULL);
	cfg_mtu = 0;
	ck_assert_uint_eq(config_mtu(), 576);
	ck_assert_uint_eq(n.frame_mtu, 1500); /* the tap's frames still fit */
}
END_TEST

START_TEST(tx_malformed_frames_are_dropped)
{
	uint8_t csum[NET_HDR_LEN] = { VIRTIO_NET_HDR_F_NEEDS_CSUM };
	uint8_t tso4[NET_HDR_LEN] = { 0, VIRTIO_NET_HDR_GSO_TCPV4 };
	uint8_t bad[NET_HDR_LEN] = { 0, 7 };
	uint8_t got[16];

	start(0); /* no CSUM, no HOST_TSO4 */
	tx_chain(csum, 100, 1);
	tx_chain(tso4, 100, 1);
	tx_chain(bad, 100, 1);
	tx_chain(zero_hdr, 13, 1); /* shorter than an Ethernet header */
	kick(NET_TXQ);
	ck_assert_uint_eq(fake_used_idx(&vm, TXU), 4);
	ck_assert_uint_eq(n.stats.tx_malformed_frames, 4);
	ck_assert_int_eq(recv(sp[1], got, sizeof(got), 0), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert(!(n.t.status & VIRTIO_CONFIG_S_NEEDS_RESET));
	/* a good frame after them goes */
	tx_chain(zero_hdr, 64, 3);
	kick(NET_TXQ);
	ck_assert_int_eq(recv(sp[1], got, sizeof(got), MSG_TRUNC),
	                 NET_HDR_LEN + 64);
}
END_TEST

START_TEST(tx_offloads_pass_when_negotiated)
{
	uint8_t tso4[NET_HDR_LEN] = { VIRTIO_NET_HDR_F_NEEDS_CSUM,
		                      VIRTIO_NET_HDR_GSO_TCPV4 };
	uint8_t got[NET_HDR_LEN + 200];

	uint8_t ecn[NET_HDR_LEN] = { VIRTIO_NET_HDR_F_NEEDS_CSUM,
		                     VIRTIO_NET_HDR_GSO_TCPV4 |
		                             VIRTIO_NET_HDR_GSO_ECN };

	start(F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4));
	tx_chain(tso4, 200, 1);
	kick(NET_TXQ);
	ck_assert_int_eq(recv(sp[1], got, sizeof(got), 0), NET_HDR_LEN + 200);
	ck_assert_mem_eq(got, tso4, NET_HDR_LEN);
	/* ECN needs HOST_ECN, which wisp does not offer: dropped. */
	tx_chain(ecn, 200, 1);
	kick(NET_TXQ);
	ck_assert_uint_eq(n.stats.tx_malformed_frames, 1);
	ck_assert_int_eq(recv(sp[1], got, sizeof(got), 0), -1);
}
END_TEST

/* Send @len frame bytes behind a header with @flags into the "tap". */
static void peer_send(size_t len, uint8_t seed, uint8_t flags)
{
	uint8_t b[NET_HDR_LEN + 2048] = { flags };

	frame(b + NET_HDR_LEN, len, seed);
	ck_assert_int_eq(send(sp[1], b, NET_HDR_LEN + len, 0),
	                 (ssize_t)(NET_HDR_LEN + len));
}

static uint16_t num_buffers(unsigned i)
{
	uint16_t v;

	memcpy(&v, vm.mem + RXBUF + i * 0x1000ULL + 10, 2);
	return v;
}

START_TEST(rx_one_buffer_per_frame)
{
	uint8_t want[2048];

	start(0);
	rx_post(0, 2048, VRING_DESC_F_WRITE);
	rx_post(1, 2048, VRING_DESC_F_WRITE);
	peer_send(100, 1, 0);
	peer_send(1514, 2, 0);
	kick(NET_RXQ);
	ck_assert_uint_eq(fake_used_idx(&vm, RXU), 2);
	ck_assert_uint_eq(used_len(RXU, 0), NET_HDR_LEN + 100);
	ck_assert_uint_eq(used_len(RXU, 1), NET_HDR_LEN + 1514);
	ck_assert_uint_eq(num_buffers(0), 1);
	frame(want, 1514, 2);
	ck_assert_mem_eq(vm.mem + RXBUF + 0x1000 + NET_HDR_LEN, want, 1514);
	ck_assert_uint_eq(n.stats.rx_packets_count, 2);
}
END_TEST

START_TEST(rx_mergeable_buffers)
{
	uint8_t want[1400], got[1400];

	start(F(VIRTIO_NET_F_MRG_RXBUF));
	for (unsigned i = 0; i < QN; i++)
		rx_post(i, 512, VRING_DESC_F_WRITE);
	peer_send(1400, 7, 0); /* 1412 bytes: 512 + 512 + 388 */
	peer_send(60, 8, 0);
	kick(NET_RXQ);
	ck_assert_uint_eq(fake_used_idx(&vm, RXU), 4);
	ck_assert_uint_eq(used_id(RXU, 0), 0);
	ck_assert_uint_eq(used_len(RXU, 0), 512);
	ck_assert_uint_eq(used_len(RXU, 1), 512);
	ck_assert_uint_eq(used_len(RXU, 2), 388);
	ck_assert_uint_eq(num_buffers(0), 3);
	/* the second frame starts in the next chain, the fourth */
	ck_assert_uint_eq(used_id(RXU, 3), 3);
	ck_assert_uint_eq(used_len(RXU, 3), NET_HDR_LEN + 60);
	ck_assert_uint_eq(num_buffers(3), 1);
	memcpy(got, vm.mem + RXBUF + NET_HDR_LEN, 500);
	memcpy(got + 500, vm.mem + RXBUF + 0x1000, 512);
	memcpy(got + 1012, vm.mem + RXBUF + 0x2000, 388);
	frame(want, 1400, 7);
	ck_assert_mem_eq(got, want, 1400);
}
END_TEST

START_TEST(rx_waits_for_buffers)
{
	int pending;

	start(F(VIRTIO_NET_F_MRG_RXBUF));
	peer_send(100, 1, 0);
	peer_send(200, 2, 0);
	kick(NET_RXQ);
	/* nothing posted: nothing read, the frames stay in the "tap" */
	ck_assert(!n.rx_busy);
	ck_assert_int_eq(ioctl(sp[0], FIONREAD, &pending), 0);
	ck_assert_int_gt(pending, 0);
	ck_assert_uint_gt(n.stats.no_rx_avail_buffer, 0);
	/* one 512-byte buffer is not enough for a largest frame: still wait */
	rx_post(0, 512, VRING_DESC_F_WRITE);
	kick(NET_RXQ);
	ck_assert_uint_eq(fake_used_idx(&vm, RXU), 0);
	for (unsigned i = 1; i < 4; i++)
		rx_post(i, 512, VRING_DESC_F_WRITE);
	kick(NET_RXQ);
	ck_assert_uint_eq(fake_used_idx(&vm, RXU), 2);
	ck_assert_uint_eq(used_len(RXU, 0), NET_HDR_LEN + 100);
	ck_assert_uint_eq(used_len(RXU, 1), NET_HDR_LEN + 200);
}
END_TEST

START_TEST(rx_checksum_flags_only_when_asked)
{
	start(0);
	rx_post(0, 2048, VRING_DESC_F_WRITE);
	peer_send(100, 1, VIRTIO_NET_HDR_F_DATA_VALID);
	kick(NET_RXQ);
	ck_assert_uint_eq(fake_used_idx(&vm, RXU), 1);
	ck_assert_uint_eq(vm.mem[RXBUF], 0); /* no GUEST_CSUM: cleared */
}
END_TEST

START_TEST(rx_checksum_flags_kept_with_guest_csum)
{
	start(F(VIRTIO_NET_F_GUEST_CSUM));
	rx_post(0, 2048, VRING_DESC_F_WRITE);
	peer_send(100, 1, VIRTIO_NET_HDR_F_DATA_VALID);
	kick(NET_RXQ);
	ck_assert_uint_eq(vm.mem[RXBUF], VIRTIO_NET_HDR_F_DATA_VALID);
}
END_TEST

static void expect_reset(void)
{
	ck_assert(fake_rd(&vm, BASE + VIRTIO_MMIO_STATUS) &
	          VIRTIO_CONFIG_S_NEEDS_RESET);
}

START_TEST(hostile_readable_rx_buffer)
{
	start(0);
	rx_post(0, 2048, 0);
	kick(NET_RXQ);
	expect_reset();
}
END_TEST

START_TEST(hostile_rx_buffer_smaller_than_header)
{
	start(F(VIRTIO_NET_F_MRG_RXBUF));
	rx_post(0, 11, VRING_DESC_F_WRITE);
	kick(NET_RXQ);
	expect_reset();
}
END_TEST

START_TEST(hostile_writable_tx_buffer)
{
	start(0);
	fake_desc(&vm, TXD, 0, TXBUF, NET_HDR_LEN, VRING_DESC_F_NEXT, 1);
	fake_desc(&vm, TXD, 1, TXBUF + 16, 64, VRING_DESC_F_WRITE, 0);
	fake_offer(&vm, TXA, QN, 0, 0);
	kick(NET_TXQ);
	expect_reset();
}
END_TEST

START_TEST(reset_forgets_taken_buffers)
{
	start(F(VIRTIO_NET_F_MRG_RXBUF));
	rx_post(0, 512, VRING_DESC_F_WRITE);
	rx_post(1, 512, VRING_DESC_F_WRITE);
	kick(NET_RXQ); /* taken, not enough for a read */
	ck_assert_uint_eq(n.nheld, 2);
	fake_wr(&vm, BASE + VIRTIO_MMIO_STATUS, 0);
	ck_assert_uint_eq(n.nheld, 0);
	ck_assert(!n.active);
}
END_TEST

/*
 * MRG_RXBUF with tiny buffers, and one head posted again and again while
 * the device holds it: the device stops (NEEDS_RESET) at the first head
 * it already holds, so its pool never holds more chains than the queue
 * has heads, and the VMM goes on.
 */
START_TEST(rx_head_posted_twice_needs_reset)
{
	start(F(VIRTIO_NET_F_MRG_RXBUF));
	for (unsigned k = 0; k < 3 * QN; k++) {
		uint16_t head = 0, idx = (uint16_t)(rxpos + 1);

		fake_desc(&vm, RXD, 0, RXBUF, 16, VRING_DESC_F_WRITE, 0);
		memcpy(vm.mem + RXA + 4 + 2 * (rxpos % QN), &head, 2);
		memcpy(vm.mem + RXA + 2, &idx, 2);
		rxpos++;
		kick(NET_RXQ);
	}
	ck_assert_uint_eq(fake_rd(&vm, BASE + VIRTIO_MMIO_STATUS) &
	                          VIRTIO_CONFIG_S_NEEDS_RESET,
	                  VIRTIO_CONFIG_S_NEEDS_RESET);
	ck_assert_uint_le(n.nheld, QN);
	/* A reset brings it back. */
	fake_wr(&vm, BASE + VIRTIO_MMIO_STATUS, 0);
	ck_assert_uint_eq(n.nheld, 0);
}
END_TEST

/*
 * A reset while a tap write is in flight (the tap is full), and the new
 * driver posts the same head at once: the frame waits for the old
 * write's slot instead of breaking the device, and goes out after it.
 */
START_TEST(tx_head_reposted_after_reset_waits)
{
	uint8_t fill[NET_HDR_LEN + 1514] = { 0 }, got[2048];
	uint64_t kicks;
	int sent = 0;

	start(0);
	while (send(sp[0], fill, sizeof(fill), MSG_DONTWAIT) > 0)
		sent++; /* the tap's queue is full now */
	tx_chain(zero_hdr, 60, 1);
	kick(NET_TXQ);
	ck_assert_uint_eq(n.tx_inflight, 1); /* waits for room */
	fake_wr(&vm, BASE + VIRTIO_MMIO_STATUS, 0);
	memset(vm.mem + TXA, 0, 0x1000);
	memset(vm.mem + TXU, 0, 0x1000);
	txpos = 0;
	start(0);
	tx_chain(zero_hdr, 100, 2); /* head 0 again */
	kick(NET_TXQ);
	ck_assert_uint_eq(fake_rd(&vm, BASE + VIRTIO_MMIO_STATUS) &
	                          VIRTIO_CONFIG_S_NEEDS_RESET,
	                  0);
	ck_assert(n.tx_holding);
	/* The peer reads: the old write ends and kicks the queue. */
	for (int i = 0; i < sent; i++)
		ck_assert_int_eq(recv(sp[1], got, sizeof(got), 0),
		                 (int)sizeof(fill));
	settle();
	ck_assert_uint_eq(n.tx_inflight, 0);
	ck_assert_int_eq(read(n.t.notify_fd[NET_TXQ], &kicks, 8), 8);
	ck_assert_int_eq(recv(sp[1], got, sizeof(got), 0), NET_HDR_LEN + 60);
	ck_assert_uint_eq(fake_used_idx(&vm, TXU), 0); /* not reported */
	kick(NET_TXQ);
	ck_assert(!n.tx_holding);
	ck_assert_uint_eq(fake_used_idx(&vm, TXU), 1);
	ck_assert_int_eq(recv(sp[1], got, sizeof(got), 0), NET_HDR_LEN + 100);
}
END_TEST

START_TEST(reset_cancels_reads_in_flight)
{
	start(0);
	for (unsigned i = 0; i < QN; i++)
		rx_post(i, 2048, VRING_DESC_F_WRITE);
	kick(NET_RXQ); /* a batch of hard-linked reads waits for frames */
	ck_assert(n.rx_busy);
	ck_assert_uint_eq(n.rx_inflight, NET_RX_BATCH);
	/* the driver resets and starts over with new rings */
	fake_wr(&vm, BASE + VIRTIO_MMIO_STATUS, 0);
	memset(vm.mem + RXA, 0, 0x1000);
	memset(vm.mem + RXU, 0, 0x1000);
	rxpos = 0;
	start(0);
	rx_post(0, 2048, VRING_DESC_F_WRITE);
	kick(NET_RXQ);
	/* the stale reads are cancelled one by one, by the timer */
	for (int i = 0;
	     i < 100 && n.rx_busy && !vq_current(&n.t.vq[NET_RXQ], n.rd[0].gen);
	     i++) {
		n.h_rx_timer.cb(&n.h_rx_timer, 0);
		settle();
	}
	kick(NET_RXQ);
	peer_send(100, 9, 0);
	settle();
	/* the frame lands in the new ring, not in a stale buffer */
	ck_assert_uint_eq(fake_used_idx(&vm, RXU), 1);
	ck_assert_uint_eq(used_len(RXU, 0), NET_HDR_LEN + 100);
}
END_TEST

/* ---- MMDS on this interface ---------------------------------------- */

static void setup_mmds(void)
{
	json_t *v = json_loads("{\"k\": \"the-value\"}", 0, NULL);
	char err[128];
	int st;

	store = mmds_new("vm-net");
	ck_assert_int_eq(mmds_put(store, v, &st, err, sizeof(err)), 0);
	json_decref(v);
	attach(store);
}

static void teardown_mmds(void)
{
	teardown();
	mmds_free(store);
}

/* Receive chain @i holds a frame from MMDS: parsed into @s. */
static void rx_mmds_frame(unsigned k, unsigned i, struct mg_seg *s)
{
	uint32_t len = used_len(RXU, k);

	ck_assert_uint_eq(used_id(RXU, k), i);
	ck_assert_uint_gt(len, NET_HDR_LEN);
	ck_assert_uint_eq(num_buffers(i), 1);
	ck_assert_uint_eq(vm.mem[RXBUF + i * 0x1000ULL], 0); /* no flags */
	ck_assert(mg_parse(vm.mem + RXBUF + i * 0x1000ULL + NET_HDR_LEN,
	                   len - NET_HDR_LEN, s));
}

static void tap_is_empty(void)
{
	uint8_t got[16];

	ck_assert_int_eq(recv(sp[1], got, sizeof(got), 0), -1);
	ck_assert_int_eq(errno, EAGAIN);
}

START_TEST(mmds_frames_never_reach_the_tap)
{
	struct mg g;
	struct mg_seg s;
	uint8_t f[256], got[NET_HDR_LEN + 256];
	size_t len;

	start(F(VIRTIO_NET_F_MRG_RXBUF));
	rx_post(0, 2048, VRING_DESC_F_WRITE);
	rx_post(1, 2048, VRING_DESC_F_WRITE);
	mg_init(&g, 1234);
	tx_bytes(zero_hdr, f, mg_arp(&g, MG_MMDS_IP, f));
	kick(NET_TXQ);
	ck_assert_uint_eq(fake_used_idx(&vm, TXU), 1);
	tap_is_empty();
	ck_assert_uint_eq(fake_used_idx(&vm, RXU), 1);
	rx_mmds_frame(0, 0, &s);
	ck_assert(s.arp);
	/* a SYN: the SYN-ACK lands in the next chain */
	tx_bytes(zero_hdr, f, mg_tcp(&g, 0x02, NULL, 0, f));
	kick(NET_TXQ);
	tap_is_empty();
	ck_assert_uint_eq(fake_used_idx(&vm, RXU), 2);
	rx_mmds_frame(1, 1, &s);
	ck_assert_uint_eq(s.flags, 0x12);
	/* UDP to the address: dropped, not sent on */
	len = mg_tcp(&g, 0x02, NULL, 0, f);
	f[14 + 9] = 17;
	mg_fix_csum(f, len);
	tx_bytes(zero_hdr, f, len);
	kick(NET_TXQ);
	tap_is_empty();
	/* to another address: the tap's, untouched */
	g.dst = 0x0a000001;
	len = mg_tcp(&g, 0x02, NULL, 0, f);
	tx_bytes(zero_hdr, f, len);
	kick(NET_TXQ);
	ck_assert_int_eq(recv(sp[1], got, sizeof(got), 0),
	                 (ssize_t)(NET_HDR_LEN + len));
	ck_assert_mem_eq(got + NET_HDR_LEN, f, len);
	ck_assert_uint_eq(fake_used_idx(&vm, TXU), 4);
	ck_assert_uint_eq(n.stats.tx_packets_count, 1);
}
END_TEST

START_TEST(mmds_output_waits_for_buffers_and_reads)
{
	struct mg g;
	struct mg_seg s;
	uint8_t f[256];
	const char *get = "GET /k HTTP/1.1\r\n\r\n";

	start(0);
	mg_init(&g, 1234);
	/* no buffer posted: the SYN-ACK waits */
	tx_bytes(zero_hdr, f, mg_tcp(&g, 0x02, NULL, 0, f));
	kick(NET_TXQ);
	ck_assert_uint_eq(fake_used_idx(&vm, RXU), 0);
	rx_post(0, 2048, VRING_DESC_F_WRITE);
	kick(NET_RXQ);
	ck_assert_uint_eq(fake_used_idx(&vm, RXU), 1);
	rx_mmds_frame(0, 0, &s);
	ck_assert_uint_eq(s.flags, 0x12);
	g.seq++;
	g.ack = s.seq + 1;
	/* the next buffer goes to a tap read, which waits */
	rx_post(1, 2048, VRING_DESC_F_WRITE);
	kick(NET_RXQ);
	ck_assert(n.rx_busy);
	/* the response needs it: the read is cancelled, MMDS goes first */
	tx_bytes(zero_hdr, f, mg_tcp(&g, 0x10, NULL, 0, f));
	tx_bytes(zero_hdr, f, mg_tcp(&g, 0x18, get, strlen(get), f));
	kick(NET_TXQ);
	settle();
	tap_is_empty();
	ck_assert_uint_eq(fake_used_idx(&vm, RXU), 2);
	rx_mmds_frame(1, 1, &s);
	ck_assert_uint_eq(s.ack, g.seq + strlen(get));
	ck_assert(s.len > 12 && !memcmp(s.data, "HTTP/1.1 200", 12));
	ck_assert(!memcmp(s.data + s.len - 9, "the-value", 9));
	ck_assert_uint_eq(n.stats.rx_fails, 0);
	/* and the tap's frames still come */
	rx_post(2, 2048, VRING_DESC_F_WRITE);
	kick(NET_RXQ);
	peer_send(100, 3, 0);
	settle();
	ck_assert_uint_eq(fake_used_idx(&vm, RXU), 3);
	ck_assert_uint_eq(used_id(RXU, 2), 2);
	ck_assert_uint_eq(used_len(RXU, 2), NET_HDR_LEN + 100);
}
END_TEST

Suite *net_suite(void)
{
	Suite *s = suite_create("net");
	TCase *tc = tcase_create("frames");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, tx_frames_reach_the_tap_whole);
	tcase_add_test(tc, tx_malformed_frames_are_dropped);
	tcase_add_test(tc, mtu_told_the_guest);
	tcase_add_test(tc, tx_offloads_pass_when_negotiated);
	tcase_add_test(tc, rx_one_buffer_per_frame);
	tcase_add_test(tc, rx_mergeable_buffers);
	tcase_add_test(tc, rx_waits_for_buffers);
	tcase_add_test(tc, rx_checksum_flags_only_when_asked);
	tcase_add_test(tc, rx_checksum_flags_kept_with_guest_csum);
	tcase_add_test(tc, hostile_readable_rx_buffer);
	tcase_add_test(tc, hostile_rx_buffer_smaller_than_header);
	tcase_add_test(tc, hostile_writable_tx_buffer);
	tcase_add_test(tc, reset_forgets_taken_buffers);
	tcase_add_test(tc, reset_cancels_reads_in_flight);
	tcase_add_test(tc, rx_head_posted_twice_needs_reset);
	tcase_add_test(tc, tx_head_reposted_after_reset_waits);
	suite_add_tcase(s, tc);
	tc = tcase_create("mmds");
	tcase_add_checked_fixture(tc, setup_mmds, teardown_mmds);
	tcase_add_test(tc, mmds_frames_never_reach_the_tap);
	tcase_add_test(tc, mmds_output_waits_for_buffers_and_reads);
	suite_add_tcase(s, tc);
	return s;
}
