/*
 * virtio-vsock without KVM: a fake driver in fake guest RAM drives the
 * real transport, queue and device code; the host side is real Unix
 * sockets in a temporary directory, served by a real event loop.
 */
#include "unit.h"
#include "fake_driver.h"
#include "util.h"
#include "vcpu_thread.h"
#include "vsock_conn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MEM   (8u << 20)
#define BASE  0xc0001000ULL
#define QN    64
#define SLOTS (QN / 2) /* two descriptors a chain */
#define RXBUF 4096
#define CID   3

/* Rings of queue q, and the buffers behind them. */
#define DESC(q)     (0x1000 + 0x2000 * (q))
#define AVAIL(q)    (DESC(q) + 0x800)
#define USED(q)     (DESC(q) + 0x1000)
#define RX_HDR(s)   (0x10000 + 0x40 * (s))
#define RX_DATA(s)  (0x100000 + RXBUF * (s))
#define TX_HDR(s)   (0x20000 + 0x40 * (s))
#define TX_DATA(s)  (0x400000 + 0x10000 * (s))
#define EV_BUF(s)   (0x30000 + 0x10 * (s))
#define GUEST_ALLOC (64 * 1024)

static struct vm vm;
static struct evloop loop;
static struct vsock vs;
static char dir[] = "/tmp/wisp-vsock-XXXXXX";
static char path[128];

/* What the fake driver has put on and taken off each queue. */
static uint16_t avail_idx[3], used_seen[3];
static bool rx_single; /* rx buffers as one descriptor (newer Linux) */

struct watch {
	struct ev_handler h;
	unsigned q;
};
static struct watch watches[3];

static void on_notify(struct ev_handler *h, uint32_t events)
{
	uint64_t n;

	if (read(h->fd, &n, sizeof(n)) == sizeof(n))
		virtio_mmio_notify(&vs.t, ((struct watch *)h)->q);
}

/* Run the event loop until nothing is left to do. */
static void pump(void)
{
	while (evloop_run_once(&loop, 0) > 0)
		;
}

/* Run it for about @ms (timeouts). */
static void pump_for(unsigned ms)
{
	uint64_t end = util_now_us() + ms * 1000ULL;

	while (util_now_us() < end)
		evloop_run_once(&loop, 5);
	pump();
}

static void notify(unsigned q)
{
	fake_wr(&vm, BASE + VIRTIO_MMIO_QUEUE_NOTIFY, q);
	pump();
}

static uint32_t status(void)
{
	return fake_rd(&vm, BASE + VIRTIO_MMIO_STATUS);
}

static void setq(unsigned q)
{
	fake_wr(&vm, BASE + VIRTIO_MMIO_QUEUE_SEL, q);
	fake_wr(&vm, BASE + VIRTIO_MMIO_QUEUE_NUM, QN);
	fake_wr(&vm, BASE + VIRTIO_MMIO_QUEUE_DESC_LOW, DESC(q));
	fake_wr(&vm, BASE + VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL(q));
	fake_wr(&vm, BASE + VIRTIO_MMIO_QUEUE_USED_LOW, USED(q));
	fake_wr(&vm, BASE + VIRTIO_MMIO_QUEUE_READY, 1);
}

/* Offer rx chain @s (header and data buffers, device-writable). */
static void offer_rx(unsigned s)
{
	if (rx_single) {
		fake_desc(&vm, DESC(0), 2 * s, RX_DATA(s), RXBUF,
		          VRING_DESC_F_WRITE, 0);
	} else {
		fake_desc(&vm, DESC(0), 2 * s, RX_HDR(s), VSOCK_HDR_SIZE,
		          VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2 * s + 1);
		fake_desc(&vm, DESC(0), 2 * s + 1, RX_DATA(s), RXBUF,
		          VRING_DESC_F_WRITE, 0);
	}
	fake_offer(&vm, AVAIL(0), QN, avail_idx[0]++, (uint16_t)(2 * s));
}

/* The driver from reset to DRIVER_OK with @nrx rx buffers posted; the
 * event loop has not run yet. */
static void driver_init(unsigned nrx)
{
	fake_wr(&vm, BASE + VIRTIO_MMIO_STATUS, 0);
	memset(vm.mem + DESC(0), 0, 0x6000);
	memset(avail_idx, 0, sizeof(avail_idx));
	memset(used_seen, 0, sizeof(used_seen));
	fake_negotiate(&vm, BASE, 1ULL << VIRTIO_F_VERSION_1);
	for (unsigned q = 0; q < 3; q++)
		setq(q);
	for (unsigned s = 0; s < nrx; s++)
		offer_rx(s);
	fake_driver_ok(&vm, BASE);
	ck_assert_uint_eq(status() & 0x4f, 0x0f);
}

static void driver_start(unsigned nrx)
{
	driver_init(nrx);
	pump();
}

static void open_vsock(const char *uds)
{
	char err[256];

	ck_assert_msg(vsock_init(&vs, &vm, &loop, CID, uds, BASE, 5, err,
	                         sizeof(err)) == 0,
	              "%s", err);
	for (unsigned q = 0; q < 3; q++) {
		watches[q] = (struct watch){
			.h = { vs.t.notify_fd[q], on_notify, NULL },
			.q = q,
		};
		ck_assert_int_eq(evloop_add(&loop, &watches[q].h, EPOLLIN), 0);
	}
}

static void close_vsock(void)
{
	for (unsigned q = 0; q < 3; q++)
		evloop_del(&loop, &watches[q].h);
	vsock_destroy(&vs);
}

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	fake_vm_init(&vm, MEM);
	ck_assert_int_eq(evloop_init(&loop), 0);
	rx_single = false;
	open_vsock(path);
	driver_start(SLOTS);
}

static void teardown(void)
{
	char cmd[64];

	close_vsock();
	evloop_destroy(&loop);
	free(vm.mem);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(dir, "/tmp/wisp-vsock-XXXXXX");
}

/* A header from the guest (cid 3) to the host, with the guest's credit. */
static struct vsock_hdr ghdr(uint16_t op, uint32_t src, uint32_t dst,
                             uint32_t len, uint32_t fwd_cnt)
{
	return (struct vsock_hdr){
		.src_cid = CID,
		.dst_cid = VSOCK_HOST_CID,
		.src_port = src,
		.dst_port = dst,
		.len = len,
		.type = VIRTIO_VSOCK_TYPE_STREAM,
		.op = op,
		.buf_alloc = GUEST_ALLOC,
		.fwd_cnt = fwd_cnt,
	};
}

/* Post a tx packet (the header, then @len bytes of @data if any). */
static void post_raw(const struct vsock_hdr *h, const void *data, uint32_t len)
{
	unsigned s = avail_idx[1] % SLOTS;

	memcpy(vm.mem + TX_HDR(s), h, sizeof(*h));
	if (len)
		memcpy(vm.mem + TX_DATA(s), data, len);
	fake_desc(&vm, DESC(1), 2 * s, TX_HDR(s), VSOCK_HDR_SIZE,
	          len ? VRING_DESC_F_NEXT : 0, 2 * s + 1);
	fake_desc(&vm, DESC(1), 2 * s + 1, TX_DATA(s), len, 0, 0);
	fake_offer(&vm, AVAIL(1), QN, avail_idx[1]++, (uint16_t)(2 * s));
}

/* ... and notify: the device takes it. */
static void send_raw(const struct vsock_hdr *h, const void *data, uint32_t len)
{
	post_raw(h, data, len);
	notify(1);
}

static void send_pkt(uint16_t op, uint32_t src, uint32_t dst, uint32_t fwd,
                     const void *data, uint32_t len)
{
	struct vsock_hdr h = ghdr(op, src, dst, len, fwd);

	send_raw(&h, data, len);
}

struct pkt {
	struct vsock_hdr h;
	uint32_t used_len;
	uint8_t data[RXBUF];
};

/* The next packet for the guest, its buffer posted again; false if none. */
static bool recv_pkt(struct pkt *p)
{
	uint8_t *e;
	uint32_t id;
	unsigned s;

	pump();
	if (fake_used_idx(&vm, USED(0)) == used_seen[0])
		return false;
	e = vm.mem + USED(0) + 4 + 8 * (used_seen[0] % QN);
	memcpy(&id, e, 4);
	memcpy(&p->used_len, e + 4, 4);
	used_seen[0]++;
	s = id / 2;
	ck_assert_uint_lt(s, SLOTS);
	ck_assert_uint_ge(p->used_len, VSOCK_HDR_SIZE);
	if (rx_single) {
		memcpy(&p->h, vm.mem + RX_DATA(s), VSOCK_HDR_SIZE);
		memcpy(p->data, vm.mem + RX_DATA(s) + VSOCK_HDR_SIZE,
		       p->used_len - VSOCK_HDR_SIZE);
	} else {
		memcpy(&p->h, vm.mem + RX_HDR(s), VSOCK_HDR_SIZE);
		memcpy(p->data, vm.mem + RX_DATA(s),
		       p->used_len - VSOCK_HDR_SIZE);
	}
	ck_assert_uint_eq(p->used_len, VSOCK_HDR_SIZE + p->h.len);
	ck_assert_uint_eq(p->h.src_cid, VSOCK_HOST_CID);
	ck_assert_uint_eq(p->h.dst_cid, CID);
	ck_assert_uint_eq(p->h.type, VIRTIO_VSOCK_TYPE_STREAM);
	offer_rx(s);
	notify(0);
	return true;
}

static struct pkt expect_op(uint16_t op, uint32_t src, uint32_t dst)
{
	struct pkt p;

	ck_assert_msg(recv_pkt(&p), "no packet, want op %u", op);
	ck_assert_uint_eq(p.h.op, op);
	ck_assert_uint_eq(p.h.src_port, src);
	ck_assert_uint_eq(p.h.dst_port, dst);
	return p;
}

static void expect_nothing(void)
{
	struct pkt p;

	ck_assert_msg(!recv_pkt(&p), "unexpected packet op %u", p.h.op);
}

static int listen_at(const char *p)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", p);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 2048), 0);
	return fd;
}

static int listen_port(uint32_t port)
{
	char p[160];

	snprintf(p, sizeof(p), "%s_%u", path, port);
	return listen_at(p);
}

static int connect_to(const char *p)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", p);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Read exactly @n bytes from the host end (the device serves meanwhile). */
static void host_read(int fd, void *buf, size_t n)
{
	size_t got = 0;

	for (unsigned i = 0; i < 1000 && got < n; i++) {
		ssize_t r =
		        recv(fd, (uint8_t *)buf + got, n - got, MSG_DONTWAIT);

		if (r > 0)
			got += (size_t)r;
		else if (r == 0)
			break;
		else
			pump_for(1);
	}
	ck_assert_uint_eq(got, n);
}

/* The host end sees EOF (or a reset) within a moment. */
static void host_expect_eof(int fd)
{
	char c;
	ssize_t r = -1;

	for (unsigned i = 0; i < 200; i++) {
		pump();
		r = recv(fd, &c, 1, MSG_DONTWAIT);
		if (r >= 0 || errno != EAGAIN)
			break;
		usleep(1000);
	}
	ck_assert_msg(r == 0 || (r < 0 && errno == ECONNRESET),
	              "no EOF: recv %zd", r);
}

/* A guest connection to host port @port from guest port @gport. */
static int guest_connect(int lfd, uint32_t gport, uint32_t port)
{
	int fd;

	send_pkt(VIRTIO_VSOCK_OP_REQUEST, gport, port, 0, NULL, 0);
	struct pkt p = expect_op(VIRTIO_VSOCK_OP_RESPONSE, port, gport);
	ck_assert_uint_eq(p.h.buf_alloc, VSOCK_BUF_ALLOC);
	ck_assert_uint_eq(p.h.fwd_cnt, 0);
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
	ck_assert_int_ge(fd, 0);
	return fd;
}

START_TEST(config_space_and_features)
{
	uint32_t lo, hi;

	ck_assert_uint_eq(fake_rd(&vm, BASE + VIRTIO_MMIO_DEVICE_ID), 19);
	lo = fake_rd(&vm, BASE + 0x100);
	hi = fake_rd(&vm, BASE + 0x104);
	ck_assert_uint_eq(lo, CID);
	ck_assert_uint_eq(hi, 0);
	fake_wr(&vm, BASE + VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	/* No SEQPACKET (bit 1), no device bits at all: streams only. */
	ck_assert_uint_eq(
	        fake_rd(&vm, BASE + VIRTIO_MMIO_DEVICE_FEATURES) & 0xffffff, 0);
}
END_TEST

START_TEST(unknown_connection_gets_rst)
{
	static const uint16_t ops[] = { VIRTIO_VSOCK_OP_RESPONSE,
		                        VIRTIO_VSOCK_OP_SHUTDOWN,
		                        VIRTIO_VSOCK_OP_RW,
		                        VIRTIO_VSOCK_OP_CREDIT_UPDATE,
		                        VIRTIO_VSOCK_OP_CREDIT_REQUEST,
		                        VIRTIO_VSOCK_OP_INVALID,
		                        99 };

	for (unsigned i = 0; i < ARRAY_SIZE(ops); i++) {
		send_pkt(ops[i], 5555, 1234, 0, "x", 1);
		struct pkt p = expect_op(VIRTIO_VSOCK_OP_RST, 1234, 5555);
		ck_assert_uint_eq(p.h.len, 0);
	}
	/* An RST for nothing is not answered. */
	send_pkt(VIRTIO_VSOCK_OP_RST, 5555, 1234, 0, NULL, 0);
	expect_nothing();
	ck_assert_uint_eq(status() & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}
END_TEST

START_TEST(bad_header_fields_get_rst)
{
	struct vsock_hdr h;
	int lfd = listen_port(6000);

	h = ghdr(VIRTIO_VSOCK_OP_REQUEST, 1000, 6000, 0, 0);
	h.type = VIRTIO_VSOCK_TYPE_SEQPACKET;
	send_raw(&h, NULL, 0);
	expect_op(VIRTIO_VSOCK_OP_RST, 6000, 1000);
	h = ghdr(VIRTIO_VSOCK_OP_REQUEST, 1000, 6000, 0, 0);
	h.dst_cid = 5; /* not the host */
	send_raw(&h, NULL, 0);
	expect_op(VIRTIO_VSOCK_OP_RST, 6000, 1000);
	h = ghdr(VIRTIO_VSOCK_OP_REQUEST, 1000, 6000, 0, 0);
	h.src_cid = 4; /* not this guest */
	send_raw(&h, NULL, 0);
	expect_op(VIRTIO_VSOCK_OP_RST, 6000, 1000);
	h = ghdr(VIRTIO_VSOCK_OP_REQUEST, 1000, 6000, 100, 0);
	send_raw(&h, NULL, 0); /* len 100, no data in the chain */
	expect_op(VIRTIO_VSOCK_OP_RST, 6000, 1000);
	/* None of them connected anything. */
	ck_assert_int_lt(accept(lfd, NULL, NULL), 0);

	/* On a live connection, a bad packet resets that connection. */
	int fd = guest_connect(lfd, 1000, 6000);
	h = ghdr(VIRTIO_VSOCK_OP_RW, 1000, 6000, 5000, 0);
	send_raw(&h, "abcd", 4); /* 5000 claimed, 4 there */
	expect_op(VIRTIO_VSOCK_OP_RST, 6000, 1000);
	host_expect_eof(fd);
	ck_assert_uint_eq(vs.nconns, 0);
	ck_assert_uint_eq(vs.stats.conns_killed, 1);
	ck_assert_uint_eq(status() & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	close(fd);
	close(lfd);
}
END_TEST

static void expect_needs_reset(void)
{
	ck_assert_uint_eq(status() & VIRTIO_CONFIG_S_NEEDS_RESET,
	                  VIRTIO_CONFIG_S_NEEDS_RESET);
	/* After a reset the device serves again. */
	driver_start(SLOTS);
	send_pkt(VIRTIO_VSOCK_OP_REQUEST, 1, 2, 0, NULL, 0);
	expect_op(VIRTIO_VSOCK_OP_RST, 2, 1);
}

START_TEST(short_header_needs_reset)
{
	struct vsock_hdr h = ghdr(VIRTIO_VSOCK_OP_REQUEST, 1, 2, 0, 0);

	memcpy(vm.mem + TX_HDR(0), &h, sizeof(h));
	fake_desc(&vm, DESC(1), 0, TX_HDR(0), 20, 0, 0);
	fake_offer(&vm, AVAIL(1), QN, avail_idx[1]++, 0);
	notify(1);
	expect_needs_reset();
}
END_TEST

START_TEST(header_split_across_descriptors)
{
	struct vsock_hdr h = ghdr(VIRTIO_VSOCK_OP_REQUEST, 7, 8, 0, 0);

	/* 44 bytes as 20 + 24: legal, the header is the first 44 bytes. */
	memcpy(vm.mem + TX_HDR(0), &h, 20);
	memcpy(vm.mem + TX_DATA(0), (uint8_t *)&h + 20, 24);
	fake_desc(&vm, DESC(1), 0, TX_HDR(0), 20, VRING_DESC_F_NEXT, 1);
	fake_desc(&vm, DESC(1), 1, TX_DATA(0), 24, 0, 0);
	fake_offer(&vm, AVAIL(1), QN, avail_idx[1]++, 0);
	notify(1);
	expect_op(VIRTIO_VSOCK_OP_RST, 8, 7); /* nobody on port 8 */
}
END_TEST

START_TEST(tx_writable_needs_reset)
{
	struct vsock_hdr h = ghdr(VIRTIO_VSOCK_OP_REQUEST, 1, 2, 0, 0);

	memcpy(vm.mem + TX_HDR(0), &h, sizeof(h));
	fake_desc(&vm, DESC(1), 0, TX_HDR(0), VSOCK_HDR_SIZE, VRING_DESC_F_NEXT,
	          1);
	fake_desc(&vm, DESC(1), 1, TX_DATA(0), 100, VRING_DESC_F_WRITE, 0);
	fake_offer(&vm, AVAIL(1), QN, avail_idx[1]++, 0);
	notify(1);
	expect_needs_reset();
}
END_TEST

START_TEST(rx_readable_needs_reset)
{
	driver_start(0);
	fake_desc(&vm, DESC(0), 0, RX_HDR(0), VSOCK_HDR_SIZE, 0, 0);
	fake_offer(&vm, AVAIL(0), QN, avail_idx[0]++, 0);
	notify(0);
	/* The device looks at the buffer only when it has a packet. */
	ck_assert_uint_eq(status() & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	send_pkt(VIRTIO_VSOCK_OP_REQUEST, 1, 2, 0, NULL, 0);
	expect_needs_reset();
}
END_TEST

START_TEST(rx_short_needs_reset)
{
	driver_start(0);
	fake_desc(&vm, DESC(0), 0, RX_HDR(0), 40, VRING_DESC_F_WRITE, 0);
	fake_offer(&vm, AVAIL(0), QN, avail_idx[0]++, 0);
	notify(0);
	send_pkt(VIRTIO_VSOCK_OP_REQUEST, 1, 2, 0, NULL, 0);
	expect_needs_reset();
}
END_TEST

START_TEST(tx_loop_needs_reset)
{
	fake_desc(&vm, DESC(1), 0, TX_HDR(0), VSOCK_HDR_SIZE, VRING_DESC_F_NEXT,
	          1);
	fake_desc(&vm, DESC(1), 1, TX_DATA(0), 10, VRING_DESC_F_NEXT, 0);
	fake_offer(&vm, AVAIL(1), QN, avail_idx[1]++, 0);
	notify(1);
	expect_needs_reset();
}
END_TEST

START_TEST(guest_connect_refused)
{
	send_pkt(VIRTIO_VSOCK_OP_REQUEST, 1000, 7, 0, NULL, 0);
	expect_op(VIRTIO_VSOCK_OP_RST, 7, 1000);
	ck_assert_uint_eq(vs.nconns, 0);
	ck_assert_uint_eq(vs.stats.conns_added, 0);
}
END_TEST

START_TEST(guest_connect_path_too_long)
{
	char longp[128];

	close_vsock();
	bus_init(&vm.mmio, "mmio");
	/* 100 bytes: "<path>_7" fits sun_path, "<path>_1234567" does not. */
	snprintf(longp, sizeof(longp), "%s/%0*d", dir, (int)(99 - strlen(dir)),
	         0);
	ck_assert_uint_eq(strlen(longp), 100);
	open_vsock(longp);
	driver_start(SLOTS);
	char p7[128];
	snprintf(p7, sizeof(p7), "%s_7", longp);
	int lfd = listen_at(p7);
	send_pkt(VIRTIO_VSOCK_OP_REQUEST, 1000, 7, 0, NULL, 0);
	expect_op(VIRTIO_VSOCK_OP_RESPONSE, 7, 1000);
	send_pkt(VIRTIO_VSOCK_OP_REQUEST, 1000, 1234567, 0, NULL, 0);
	expect_op(VIRTIO_VSOCK_OP_RST, 1234567, 1000);
	close(lfd);
}
END_TEST

START_TEST(guest_connect_data_and_shutdown)
{
	int lfd = listen_port(6000), fd;
	struct vsock_hdr h;
	char buf[16];
	struct pkt p;

	fd = guest_connect(lfd, 1000, 6000);
	ck_assert_uint_eq(vs.stats.conns_added, 1);
	send_pkt(VIRTIO_VSOCK_OP_RW, 1000, 6000, 0, "hello", 5);
	host_read(fd, buf, 5);
	ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
	ck_assert_int_eq(write(fd, "world", 5), 5);
	p = expect_op(VIRTIO_VSOCK_OP_RW, 6000, 1000);
	ck_assert_uint_eq(p.h.len, 5);
	ck_assert_int_eq(memcmp(p.data, "world", 5), 0);
	ck_assert_uint_eq(p.h.fwd_cnt, 5); /* the 5 bytes we passed on */

	/* The guest sends no more: the host reads EOF but may still write. */
	h = ghdr(VIRTIO_VSOCK_OP_SHUTDOWN, 1000, 6000, 0, 5);
	h.flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
	send_raw(&h, NULL, 0);
	host_expect_eof(fd);
	ck_assert_int_eq(write(fd, "late", 4), 4);
	p = expect_op(VIRTIO_VSOCK_OP_RW, 6000, 1000);
	ck_assert_int_eq(memcmp(p.data, "late", 4), 0);
	ck_assert_uint_eq(vs.nconns, 1);
	/* The host is done too: SHUTDOWN(SEND) for the guest, then RST. */
	shutdown(fd, SHUT_WR);
	p = expect_op(VIRTIO_VSOCK_OP_SHUTDOWN, 6000, 1000);
	ck_assert_uint_eq(p.h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	expect_op(VIRTIO_VSOCK_OP_RST, 6000, 1000);
	ck_assert_uint_eq(vs.nconns, 0);
	ck_assert_uint_eq(vs.stats.conns_removed, 1);
	ck_assert_uint_eq(vs.stats.conns_killed, 0);
	close(fd);
	close(lfd);
}
END_TEST

START_TEST(host_close_and_guest_silence)
{
	int lfd = listen_port(6000), fd;
	struct pkt p;

	vs.timeout_ms = 50;
	fd = guest_connect(lfd, 1000, 6000);
	close(fd); /* gone entirely: the guest should stop sending too */
	p = expect_op(VIRTIO_VSOCK_OP_SHUTDOWN, 6000, 1000);
	ck_assert_uint_eq(p.h.flags, VIRTIO_VSOCK_SHUTDOWN_RCV |
	                                     VIRTIO_VSOCK_SHUTDOWN_SEND);
	expect_nothing();
	/* The guest never answers with its RST: ours after the timeout. */
	pump_for(100);
	expect_op(VIRTIO_VSOCK_OP_RST, 6000, 1000);
	ck_assert_uint_eq(vs.nconns, 0);
	close(lfd);
}
END_TEST

START_TEST(guest_close_flushes_then_rst)
{
	int lfd = listen_port(6000), fd;
	char buf[8];

	fd = guest_connect(lfd, 1000, 6000);
	send_pkt(VIRTIO_VSOCK_OP_RW, 1000, 6000, 0, "bye!", 4);
	/* Linux's close(): both flags. All data was passed on: RST now. */
	struct vsock_hdr h = ghdr(VIRTIO_VSOCK_OP_SHUTDOWN, 1000, 6000, 0, 0);
	h.flags = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
	send_raw(&h, NULL, 0);
	expect_op(VIRTIO_VSOCK_OP_RST, 6000, 1000);
	host_read(fd, buf, 4);
	ck_assert_int_eq(memcmp(buf, "bye!", 4), 0);
	host_expect_eof(fd);
	close(fd);
	close(lfd);
}
END_TEST

/* The host side: connect to uds_path, send @line, get the REQUEST. */
static int host_connect(const char *line, uint32_t want_port, uint32_t *local)
{
	int fd = connect_to(path);

	ck_assert_int_eq(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	pump();
	struct pkt p;
	ck_assert(recv_pkt(&p));
	ck_assert_uint_eq(p.h.op, VIRTIO_VSOCK_OP_REQUEST);
	ck_assert_uint_eq(p.h.dst_port, want_port);
	ck_assert_uint_eq(p.h.buf_alloc, VSOCK_BUF_ALLOC);
	*local = p.h.src_port;
	return fd;
}

START_TEST(host_connect_flow)
{
	uint32_t lp, lp2;
	char ok[32] = { 0 };
	int fd = host_connect("CONNECT 5000\nEARLY", 5000, &lp), fd2;
	struct pkt p;

	ck_assert_uint_eq(lp, VSOCK_LOCAL_PORT0);
	/* Nothing reaches the host program before the guest accepts. */
	ck_assert_int_lt(recv(fd, ok, sizeof(ok), MSG_DONTWAIT), 0);
	send_pkt(VIRTIO_VSOCK_OP_RESPONSE, 5000, lp, 0, NULL, 0);
	host_read(fd, ok, strlen("OK 1073741824\n"));
	ck_assert_str_eq(ok, "OK 1073741824\n");
	/* The bytes after the newline were data, not lost. */
	p = expect_op(VIRTIO_VSOCK_OP_RW, lp, 5000);
	ck_assert_uint_eq(p.h.len, 5);
	ck_assert_int_eq(memcmp(p.data, "EARLY", 5), 0);
	/* A second host connection: its own port. */
	fd2 = host_connect("connect 5000\n", 5000, &lp2);
	ck_assert_uint_eq(lp2, VSOCK_LOCAL_PORT0 + 1);
	/* The guest refuses this one: the host program sees EOF, no OK. */
	send_pkt(VIRTIO_VSOCK_OP_RST, 5000, lp2, 0, NULL, 0);
	host_expect_eof(fd2);
	/* The guest resets the first one: EOF as well. */
	send_pkt(VIRTIO_VSOCK_OP_RST, 5000, lp, 0, NULL, 0);
	host_expect_eof(fd);
	ck_assert_uint_eq(vs.nconns, 0);
	expect_nothing();
	close(fd);
	close(fd2);
}
END_TEST

START_TEST(connect_line_parsing)
{
	static const struct {
		const char *s;
		bool ok;
		uint32_t port;
	} cases[] = {
		{ "CONNECT 52", true, 52 },
		{ "connect 52", true, 52 },
		{ "CoNnEcT\t52", true, 52 },
		{ "CONNECT   52  ", true, 52 },
		{ "CONNECT 52\r", true, 52 },
		{ "CONNECT 0", true, 0 },
		{ "CONNECT 4294967295", true, UINT32_MAX },
		{ "CONNECT 4294967296", false, 0 },
		{ "CONNECT 99999999999999999999", false, 0 },
		{ "", false, 0 },
		{ "CONNECT", false, 0 },
		{ "CONNECT ", false, 0 },
		{ "CONNECT52", false, 0 },
		{ "CONNECTT 52", false, 0 },
		{ "CONNECT x", false, 0 },
		{ "CONNECT 52x", false, 0 },
		{ "CONNECT -1", false, 0 },
		{ "CONNECT +1", false, 0 },
		{ "CONNECT 5 2", false, 0 },
		{ "LISTEN 52", false, 0 },
	};

	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		uint32_t port = 12345;
		bool ok = vsock_parse_connect(cases[i].s, strlen(cases[i].s),
		                              &port);

		ck_assert_msg(ok == cases[i].ok, "'%s'", cases[i].s);
		if (ok)
			ck_assert_uint_eq(port, cases[i].port);
	}
	/* The length counts, not a NUL. */
	uint32_t port;
	ck_assert(vsock_parse_connect("CONNECT 123456", 10, &port));
	ck_assert_uint_eq(port, 12);
}
END_TEST

START_TEST(connect_line_split_bad_and_slow)
{
	char junk[40];
	uint32_t lp;
	int fd, bad, slow;
	struct pkt p;

	vs.timeout_ms = 50;
	/* Split across writes, one byte at a time at the end. */
	fd = connect_to(path);
	ck_assert_int_eq(write(fd, "CONN", 4), 4);
	pump();
	ck_assert_int_eq(write(fd, "ECT 7", 5), 5);
	pump();
	ck_assert_int_eq(write(fd, "7", 1), 1);
	pump();
	expect_nothing();
	ck_assert_int_eq(write(fd, "\n", 1), 1);
	pump();
	ck_assert(recv_pkt(&p));
	ck_assert_uint_eq(p.h.op, VIRTIO_VSOCK_OP_REQUEST);
	ck_assert_uint_eq(p.h.dst_port, 77);
	lp = p.h.src_port;

	/* 40 bytes without a newline; a port that is not a number. */
	memset(junk, 'A', sizeof(junk));
	bad = connect_to(path);
	ck_assert_int_eq(write(bad, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	host_expect_eof(bad);
	close(bad);
	bad = connect_to(path);
	ck_assert_int_eq(write(bad, "CONNECT abc\n", 12), 12);
	host_expect_eof(bad);
	close(bad);
	/* None of them reached the guest. */
	expect_nothing();
	ck_assert_uint_eq(vs.nconns, 1);
	/* Nothing at all: closed after the timeout; and the guest that
	 * never answered the REQUEST gets an RST, its host end EOF. */
	slow = connect_to(path);
	pump_for(150);
	host_expect_eof(slow);
	close(slow);
	expect_op(VIRTIO_VSOCK_OP_RST, lp, 77);
	host_expect_eof(fd);
	ck_assert_uint_eq(vs.nconns, 0);
	close(fd);
}
END_TEST

START_TEST(credit_arithmetic)
{
	ck_assert_uint_eq(vsock_credit(1000, 0, 0), 1000);
	ck_assert_uint_eq(vsock_credit(1000, 600, 100), 500);
	ck_assert_uint_eq(vsock_credit(1000, 1000, 0), 0);
	/* Counters across the 2^32 wrap: 0x110 bytes in flight. */
	ck_assert_uint_eq(vsock_credit(1000, 0x10, 0xffffff00u), 1000 - 0x110);
	ck_assert_uint_eq(vsock_credit(UINT32_MAX, 5, 5), UINT32_MAX);
	/* Nonsense from a peer means no credit, never 4 GiB of it. */
	ck_assert_uint_eq(vsock_credit(1000, 5, 10), 0); /* fwd ahead */
	ck_assert_uint_eq(vsock_credit(100, 500, 0), 0); /* shrank */
	ck_assert_uint_eq(vsock_credit(0, 0, 0), 0);
}
END_TEST

/*
 * The host sends @total bytes; the guest, with @alloc of buffer, takes
 * them and announces what it consumed only when the device asks (or runs
 * dry). Its fwd_cnt starts at @fwd0 (the wrap test starts near 2^32).
 */
static void credit_flow(uint32_t alloc, uint32_t total, uint32_t fwd0)
{
	int lfd = listen_port(6000), fd;
	uint8_t src[8192], got[8192];
	uint32_t fwd = fwd0, recvd = 0, window = 0;
	struct vsock_conn *c;
	struct vsock_hdr h;

	ck_assert_uint_le(total, sizeof(src));
	for (unsigned i = 0; i < total; i++)
		src[i] = (uint8_t)(i * 7 + i / 256);
	fd = guest_connect(lfd, 1000, 6000);
	c = vsock_conn_find(&vs, 6000, 1000);
	ck_assert_ptr_nonnull(c);
	c->rx_cnt = fwd0; /* as if 4 GiB - fwd0 bytes had gone before */
	h = ghdr(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1000, 6000, 0, fwd);
	h.buf_alloc = alloc;
	send_raw(&h, NULL, 0);
	ck_assert_int_eq(write(fd, src, total), (ssize_t)total);
	while (recvd < total) {
		struct pkt p;

		ck_assert_msg(recv_pkt(&p), "stalled at %u", recvd);
		if (p.h.op == VIRTIO_VSOCK_OP_CREDIT_REQUEST) {
			/* Out of credit: exactly a window's worth came. */
			ck_assert_uint_eq(window, alloc);
			fwd += window;
			window = 0;
			h = ghdr(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 1000, 6000, 0,
			         fwd);
			h.buf_alloc = alloc;
			send_raw(&h, NULL, 0);
			continue;
		}
		ck_assert_uint_eq(p.h.op, VIRTIO_VSOCK_OP_RW);
		window += p.h.len;
		ck_assert_uint_le(window, alloc); /* never past its credit */
		memcpy(got + recvd, p.data, p.h.len);
		recvd += p.h.len;
	}
	ck_assert_int_eq(memcmp(got, src, total), 0);
	ck_assert_uint_eq(c->rx_cnt, (uint32_t)(fwd0 + total));
	close(fd);
	close(lfd);
}

START_TEST(guest_credit_respected)
{
	credit_flow(1000, 5000, 0);
}
END_TEST

START_TEST(guest_credit_across_wrap)
{
	credit_flow(1000, 5000, 0xfffffe00u);
}
END_TEST

START_TEST(guest_over_credit_reset)
{
	int lfd = listen_port(6000), fd, small = 4096;
	static uint8_t chunk[65536];
	struct vsock_conn *c;
	struct pkt p;

	fd = guest_connect(lfd, 1000, 6000);
	c = vsock_conn_find(&vs, 6000, 1000);
	/* The host reads nothing; its socket takes little. */
	ck_assert_int_eq(
	        setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)),
	        0);
	for (unsigned i = 0; i < VSOCK_BUF_ALLOC / sizeof(chunk); i++)
		send_pkt(VIRTIO_VSOCK_OP_RW, 1000, 6000, 0, chunk,
		         sizeof(chunk));
	ck_assert_uint_gt(c->buf_len, 0);
	ck_assert_uint_le(c->buf_len, VSOCK_BUF_ALLOC);
	/* Within credit so far; nothing but credit news for the guest. */
	while (recv_pkt(&p))
		ck_assert_uint_eq(p.h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	ck_assert_uint_eq(vs.nconns, 1);
	/* 64 KiB more than it may send: the connection is reset. */
	send_pkt(VIRTIO_VSOCK_OP_RW, 1000, 6000, 0, chunk, sizeof(chunk));
	expect_op(VIRTIO_VSOCK_OP_RST, 6000, 1000);
	ck_assert_uint_eq(vs.nconns, 0);
	ck_assert_uint_eq(vs.stats.conns_killed, 1);
	close(fd);
	close(lfd);
}
END_TEST

START_TEST(device_sends_credit_updates)
{
	int lfd = listen_port(6000), fd;
	static uint8_t chunk[65536], sink[65536];
	struct pkt p;

	fd = guest_connect(lfd, 1000, 6000);
	/* 128 KiB passed on: the guest still believes in 128 KiB free. */
	for (unsigned i = 0; i < 2; i++) {
		send_pkt(VIRTIO_VSOCK_OP_RW, 1000, 6000, 0, chunk,
		         sizeof(chunk));
		host_read(fd, sink, sizeof(sink));
	}
	expect_nothing();
	/* 64 KiB more: it believes in 64 KiB; it is told all is free. */
	send_pkt(VIRTIO_VSOCK_OP_RW, 1000, 6000, 0, chunk, sizeof(chunk));
	host_read(fd, sink, sizeof(sink));
	p = expect_op(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 6000, 1000);
	ck_assert_uint_eq(p.h.fwd_cnt, 3 * sizeof(chunk));
	ck_assert_uint_eq(p.h.buf_alloc, VSOCK_BUF_ALLOC);
	expect_nothing();
	/* A CREDIT_REQUEST is answered. */
	send_pkt(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 1000, 6000, 0, NULL, 0);
	p = expect_op(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 6000, 1000);
	ck_assert_uint_eq(p.h.fwd_cnt, 3 * sizeof(chunk));
	ck_assert_uint_eq(vs.stats.tx_bytes_count, 3 * sizeof(chunk));
	close(fd);
	close(lfd);
}
END_TEST

START_TEST(buffered_data_reaches_host)
{
	int lfd = listen_port(6000), fd, small = 4096;
	static uint8_t chunk[65536], sink[4 * 65536];
	struct vsock_conn *c;
	struct pkt p;
	uint32_t last_fwd = 0;

	for (unsigned i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t)(i ^ (i >> 8));
	fd = guest_connect(lfd, 1000, 6000);
	c = vsock_conn_find(&vs, 6000, 1000);
	ck_assert_int_eq(
	        setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)),
	        0);
	for (unsigned i = 0; i < 4; i++)
		send_pkt(VIRTIO_VSOCK_OP_RW, 1000, 6000, 0, chunk,
		         sizeof(chunk));
	ck_assert_uint_gt(c->buf_len, 0);
	/* The host drains: the buffer empties, in order, EPOLLOUT does it. */
	host_read(fd, sink, sizeof(sink));
	for (unsigned i = 0; i < 4; i++)
		ck_assert_int_eq(
		        memcmp(sink + i * sizeof(chunk), chunk, sizeof(chunk)),
		        0);
	ck_assert_uint_eq(c->buf_len, 0);
	ck_assert(!c->watch_out);
	while (recv_pkt(&p))
		last_fwd = p.h.fwd_cnt;
	/* The guest was told enough to go on sending. */
	ck_assert_uint_gt(VSOCK_BUF_ALLOC - (sizeof(sink) - last_fwd),
	                  VSOCK_CREDIT_LOW);
	close(fd);
	close(lfd);
}
END_TEST

START_TEST(no_rx_buffers_back_pressure)
{
	int lfd = listen_port(6000), fd, n;
	static uint8_t big[100000];
	struct vsock_conn *c;
	unsigned got = 0;
	struct pkt p;

	/* One rx buffer: the RESPONSE takes it, and the driver is slow. */
	driver_start(1);
	send_pkt(VIRTIO_VSOCK_OP_REQUEST, 1000, 6000, 0, NULL, 0);
	ck_assert_uint_eq(fake_used_idx(&vm, USED(0)), 1);
	used_seen[0] = 1;
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
	ck_assert_int_ge(fd, 0);
	c = vsock_conn_find(&vs, 6000, 1000);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
	/* Nothing spins: the loop goes quiet, the data stays unread. */
	pump();
	ck_assert_int_eq(evloop_run_once(&loop, 20), 0);
	ck_assert_int_eq(ioctl(c->fd, FIONREAD, &n), 0);
	ck_assert_int_eq(n, (int)sizeof(big));
	ck_assert_uint_eq(vs.stats.rx_bytes_count, 0);
	/* Buffers arrive: the data flows, as far as the guest's credit. */
	for (unsigned s = 0; s < SLOTS; s++)
		offer_rx(s);
	notify(0);
	while (got < GUEST_ALLOC && recv_pkt(&p)) {
		ck_assert_uint_eq(p.h.op, VIRTIO_VSOCK_OP_RW);
		got += p.h.len;
	}
	ck_assert_uint_eq(got, GUEST_ALLOC);
	ck_assert(recv_pkt(&p));
	ck_assert_uint_eq(p.h.op, VIRTIO_VSOCK_OP_CREDIT_REQUEST);
	close(fd);
	close(lfd);
}
END_TEST

static unsigned open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void reset_device(void *unused)
{
	fake_wr(&vm, BASE + VIRTIO_MMIO_STATUS, 0);
}

START_TEST(driver_reset_drops_connections)
{
	int lfd = listen_port(6000), g, h, first;
	unsigned before, after, n;
	uint32_t lp;

	g = guest_connect(lfd, 1000, 6000);
	h = host_connect("CONNECT 5000\n", 5000, &lp);
	send_pkt(VIRTIO_VSOCK_OP_RESPONSE, 5000, lp, 0, NULL, 0);
	ck_assert_uint_eq(vs.nconns, 2);
	before = open_fds();
	/* On a vCPU: no socket, epoll or timer call; nothing closed yet. */
	n = vcpu_thread_run(reset_device, NULL, vcpu_thread_socket_calls,
	                    vcpu_thread_nsocket_calls, -1, &first);
	ck_assert_msg(n == 0, "the vCPU made system call %d", first);
	ck_assert_uint_eq(open_fds(), before);
	ck_assert_uint_eq(vs.nconns, 2);
	/* The event loop closes them. */
	pump();
	after = open_fds();
	ck_assert_uint_eq(before - after, 2); /* both host sockets closed */
	ck_assert_uint_eq(vs.nconns, 0);
	host_expect_eof(g);
	{
		char ok[32];
		host_read(h, ok, strlen("OK 1073741824\n"));
		host_expect_eof(h);
	}
	/* Power-on state again: a new connection works. */
	driver_start(SLOTS);
	close(g);
	g = guest_connect(lfd, 1000, 6000);
	close(g);
	close(h);
	/* A host connection the guest has not heard of yet (no rx buffer
	 * for its REQUEST) waits through a reset for the next driver. */
	driver_start(0);
	h = connect_to(path);
	ck_assert_int_eq(write(h, "CONNECT 5000\n", 13), 13);
	pump();
	ck_assert_uint_eq(vs.nconns, 1);
	driver_start(0);
	ck_assert_uint_eq(vs.nconns, 1);
	/* One that gives up before the guest hears of it leaves nothing
	 * behind (agents retry while the guest boots). */
	int quitter = connect_to(path);
	ck_assert_int_eq(write(quitter, "CONNECT 5001\n", 13), 13);
	pump();
	ck_assert_uint_eq(vs.nconns, 2);
	close(quitter);
	pump();
	ck_assert_uint_eq(vs.nconns, 1);
	driver_start(SLOTS);
	expect_op(VIRTIO_VSOCK_OP_REQUEST, VSOCK_LOCAL_PORT0 + 1, 5000);
	expect_nothing();
	/* Once it has, a reset closes it. */
	fake_wr(&vm, BASE + VIRTIO_MMIO_STATUS, 0);
	pump();
	ck_assert_uint_eq(vs.nconns, 0);
	host_expect_eof(h);
	close(h);
	close(lfd);
}
END_TEST

/*
 * The loop may serve the new driver's tx queue before it sees the
 * reset's own event: the old connections go first all the same, so a
 * REQUEST on the same ports is a new connection, not a stray.
 */
START_TEST(reset_settles_before_new_driver)
{
	struct vsock_hdr h = ghdr(VIRTIO_VSOCK_OP_REQUEST, 1000, 6000, 0, 0);
	int lfd = listen_port(6000), g, g2;

	g = guest_connect(lfd, 1000, 6000);
	driver_init(SLOTS); /* reset, and the driver is back at once */
	ck_assert_uint_eq(vs.nconns, 1);
	post_raw(&h, NULL, 0);
	virtio_mmio_notify(&vs.t, 1);
	ck_assert_uint_eq(vs.nconns, 1);
	g2 = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
	ck_assert_int_ge(g2, 0);
	host_expect_eof(g);
	expect_op(VIRTIO_VSOCK_OP_RESPONSE, 6000, 1000);
	expect_nothing();
	ck_assert_int_eq(write(g2, "new", 3), 3);
	struct pkt p = expect_op(VIRTIO_VSOCK_OP_RW, 6000, 1000);
	ck_assert_int_eq(memcmp(p.data, "new", 3), 0);
	close(g);
	close(g2);
	close(lfd);
}
END_TEST

/* Whatever the host had sent, then EOF (or a reset) within a moment. */
static void host_drain_eof(int fd)
{
	char buf[4096];
	ssize_t r = -1;

	for (unsigned i = 0; i < 200; i++) {
		pump();
		while ((r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			;
		if (r == 0 || errno != EAGAIN)
			break;
		usleep(1000);
	}
	ck_assert_msg(r == 0 || (r < 0 && errno == ECONNRESET),
	              "no EOF: recv %zd", r);
}

/*
 * A guest that resets again and again, on a vCPU, while bytes flow both
 * ways and the host keeps sending: no socket call on the vCPU, every
 * host end sees its connection end, no descriptor or slot is left.
 */
START_TEST(reset_loop_leaks_nothing)
{
	int lfd = listen_port(6000), first;
	static uint8_t junk[8192];
	unsigned base = open_fds();

	for (unsigned r = 0; r < 64; r++) {
		uint32_t lp;
		int g = guest_connect(lfd, 1000 + r, 6000);
		int h = host_connect("CONNECT 5000\n", 5000, &lp);

		send_pkt(VIRTIO_VSOCK_OP_RESPONSE, 5000, lp, 0, NULL, 0);
		ck_assert_int_eq(write(g, junk, sizeof(junk)), sizeof(junk));
		send_pkt(VIRTIO_VSOCK_OP_RW, 1000 + r, 6000, 0, junk, 4096);
		/* The device's socket stays open until the loop runs. */
		unsigned n = vcpu_thread_run(
		        reset_device, NULL, vcpu_thread_socket_calls,
		        vcpu_thread_nsocket_calls, -1, &first);

		ck_assert_msg(n == 0, "the vCPU made system call %d", first);
		ck_assert_int_eq(write(h, junk, sizeof(junk)), sizeof(junk));
		if (r % 2)
			pump(); /* or the driver is back before the loop ran */
		driver_start(SLOTS);
		expect_nothing();
		host_drain_eof(g);
		host_drain_eof(h);
		close(g);
		close(h);
	}
	ck_assert_uint_eq(vs.nconns, 0);
	ck_assert_ptr_null(vs.qhead);
	ck_assert_uint_eq(vs.stats.conns_removed, vs.stats.conns_added);
	ck_assert_uint_eq(open_fds(), base);
	close(lfd);
}
END_TEST

static uint32_t event_used(unsigned *len)
{
	uint8_t *e = vm.mem + USED(2) + 4 + 8 * (used_seen[2] % QN);
	uint32_t id, ev;

	memcpy(&id, e, 4);
	memcpy(len, e + 4, 4);
	used_seen[2]++;
	memcpy(&ev, vm.mem + EV_BUF(id), 4);
	return ev;
}

START_TEST(transport_reset_event)
{
	int lfd = listen_port(6000), g;
	unsigned len;

	g = guest_connect(lfd, 1000, 6000);
	/* No event buffer yet: the event waits for one. */
	vsock_transport_reset(&vs);
	host_expect_eof(g);
	ck_assert_uint_eq(vs.nconns, 0);
	ck_assert_uint_eq(fake_used_idx(&vm, USED(2)), 0);
	memset(vm.mem + EV_BUF(0), 0xff, 4);
	fake_desc(&vm, DESC(2), 0, EV_BUF(0), 4, VRING_DESC_F_WRITE, 0);
	fake_offer(&vm, AVAIL(2), QN, avail_idx[2]++, 0);
	notify(2);
	ck_assert_uint_eq(fake_used_idx(&vm, USED(2)), 1);
	ck_assert_uint_eq(event_used(&len), VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	ck_assert_uint_eq(len, 4);
	/* With a buffer posted, it goes at once; only one per reset. */
	memset(vm.mem + EV_BUF(1), 0xff, 4);
	fake_desc(&vm, DESC(2), 1, EV_BUF(1), 4, VRING_DESC_F_WRITE, 0);
	fake_offer(&vm, AVAIL(2), QN, avail_idx[2]++, 1);
	fake_desc(&vm, DESC(2), 2, EV_BUF(2), 4, VRING_DESC_F_WRITE, 0);
	fake_offer(&vm, AVAIL(2), QN, avail_idx[2]++, 2);
	notify(2);
	ck_assert_uint_eq(fake_used_idx(&vm, USED(2)), 1);
	vsock_transport_reset(&vs);
	ck_assert_uint_eq(fake_used_idx(&vm, USED(2)), 2);
	ck_assert_uint_eq(event_used(&len), VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	close(g);
	close(lfd);
}
END_TEST

START_TEST(connection_limit)
{
	struct rlimit rl;
	static int fds[VSOCK_MAX_CONNS];
	int lfd, h;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = MIN(rl.rlim_max, (rlim_t)4 * VSOCK_MAX_CONNS);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_uint_ge(rl.rlim_cur, 2 * VSOCK_MAX_CONNS + 64);
	lfd = listen_port(6000);
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		fds[i] = guest_connect(lfd, 10000 + i, 6000);
	ck_assert_uint_eq(vs.nconns, VSOCK_MAX_CONNS);
	/* One more from the guest: refused. */
	send_pkt(VIRTIO_VSOCK_OP_REQUEST, 9999, 6000, 0, NULL, 0);
	expect_op(VIRTIO_VSOCK_OP_RST, 6000, 9999);
	ck_assert_int_lt(accept(lfd, NULL, NULL), 0);
	/* One more from the host: accepted and closed at once. */
	h = connect_to(path);
	host_expect_eof(h);
	close(h);
	/* One goes: there is room again. */
	send_pkt(VIRTIO_VSOCK_OP_RST, 10000, 6000, 0, NULL, 0);
	host_expect_eof(fds[0]);
	close(fds[0]);
	fds[0] = guest_connect(lfd, 9999, 6000);
	ck_assert_uint_eq(vs.nconns, VSOCK_MAX_CONNS);
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		close(fds[i]);
	close(lfd);
}
END_TEST

START_TEST(uds_path_stale_live_and_bad)
{
	char err[256], other[160], file[160];
	struct vsock v2;
	int fd;

	/* A live socket (ours, open): refused. */
	ck_assert_int_eq(vsock_init(&v2, &vm, &loop, CID, path, BASE + 0x1000,
	                            6, err, sizeof(err)),
	                 -1);
	ck_assert_ptr_nonnull(strstr(err, "in use by another process"));
	/* Left behind by a dead process: replaced. */
	snprintf(other, sizeof(other), "%s/stale.sock", dir);
	fd = listen_at(other);
	close(fd); /* the file stays, nobody listens */
	ck_assert_int_eq(vsock_init(&v2, &vm, &loop, CID, other, BASE + 0x1000,
	                            6, err, sizeof(err)),
	                 0);
	fd = connect_to(other); /* the new listener answers */
	close(fd);
	vsock_destroy(&v2);
	ck_assert_int_eq(access(other, F_OK), -1); /* removed on destroy */
	/* Not a socket: not ours to delete. */
	snprintf(file, sizeof(file), "%s/file", dir);
	close(open(file, O_CREAT | O_WRONLY, 0600));
	ck_assert_int_eq(vsock_init(&v2, &vm, &loop, CID, file, BASE + 0x1000,
	                            6, err, sizeof(err)),
	                 -1);
	ck_assert_ptr_nonnull(strstr(err, "not a socket"));
	ck_assert_int_eq(access(file, F_OK), 0);
	/* Too long for sun_path. */
	char longp[200];
	memset(longp, 'x', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	ck_assert_int_eq(vsock_init(&v2, &vm, &loop, CID, longp, BASE + 0x1000,
	                            6, err, sizeof(err)),
	                 -1);
	ck_assert_ptr_nonnull(strstr(err, "must be 1 to 107"));
}
END_TEST

START_TEST(single_buffer_rx)
{
	int lfd, fd;
	struct pkt p;

	/* Newer Linux posts header and data as one buffer. */
	rx_single = true;
	driver_start(SLOTS);
	lfd = listen_port(6000);
	fd = guest_connect(lfd, 1000, 6000);
	ck_assert_int_eq(write(fd, "0123456789", 10), 10);
	p = expect_op(VIRTIO_VSOCK_OP_RW, 6000, 1000);
	ck_assert_uint_eq(p.h.len, 10);
	ck_assert_int_eq(memcmp(p.data, "0123456789", 10), 0);
	close(fd);
	close(lfd);
}
END_TEST

START_TEST(header_only_rx_buffer)
{
	int lfd = listen_port(6000), fd;
	struct pkt p;

	fd = guest_connect(lfd, 1000, 6000);
	driver_start(0);
	close(fd);
	send_pkt(VIRTIO_VSOCK_OP_REQUEST, 1000, 6000, 0, NULL, 0);
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
	/* Buffers of exactly a header: the RESPONSE, then no room for data. */
	for (unsigned s = 0; s < 2; s++) {
		fake_desc(&vm, DESC(0), 2 * s, RX_HDR(s), VSOCK_HDR_SIZE,
		          VRING_DESC_F_WRITE, 0);
		fake_offer(&vm, AVAIL(0), QN, avail_idx[0]++,
		           (uint16_t)(2 * s));
	}
	notify(0);
	ck_assert_int_eq(write(fd, "data", 4), 4);
	pump();
	ck_assert_uint_eq(fake_used_idx(&vm, USED(0)), 2);
	used_seen[0] = 2;
	memcpy(&p.h, vm.mem + RX_HDR(0), VSOCK_HDR_SIZE);
	ck_assert_uint_eq(p.h.op, VIRTIO_VSOCK_OP_RESPONSE);
	memcpy(&p.h, vm.mem + RX_HDR(1), VSOCK_HDR_SIZE);
	/* Not a CREDIT_REQUEST: the guest's credit is fine. */
	ck_assert_uint_eq(p.h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	ck_assert_uint_eq(p.h.len, 0);
	/* A real buffer: the data comes. */
	offer_rx(2);
	notify(0);
	p = expect_op(VIRTIO_VSOCK_OP_RW, 6000, 1000);
	ck_assert_int_eq(memcmp(p.data, "data", 4), 0);
	close(fd);
	close(lfd);
}
END_TEST

Suite *vsock_suite(void)
{
	Suite *s = suite_create("virtio-vsock");
	TCase *tc = tcase_create("device");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, config_space_and_features);
	tcase_add_test(tc, unknown_connection_gets_rst);
	tcase_add_test(tc, bad_header_fields_get_rst);
	tcase_add_test(tc, short_header_needs_reset);
	tcase_add_test(tc, header_split_across_descriptors);
	tcase_add_test(tc, tx_writable_needs_reset);
	tcase_add_test(tc, rx_readable_needs_reset);
	tcase_add_test(tc, rx_short_needs_reset);
	tcase_add_test(tc, tx_loop_needs_reset);
	tcase_add_test(tc, guest_connect_refused);
	tcase_add_test(tc, guest_connect_path_too_long);
	tcase_add_test(tc, guest_connect_data_and_shutdown);
	tcase_add_test(tc, host_close_and_guest_silence);
	tcase_add_test(tc, guest_close_flushes_then_rst);
	tcase_add_test(tc, host_connect_flow);
	tcase_add_test(tc, connect_line_parsing);
	tcase_add_test(tc, connect_line_split_bad_and_slow);
	tcase_add_test(tc, credit_arithmetic);
	tcase_add_test(tc, guest_credit_respected);
	tcase_add_test(tc, guest_credit_across_wrap);
	tcase_add_test(tc, guest_over_credit_reset);
	tcase_add_test(tc, device_sends_credit_updates);
	tcase_add_test(tc, buffered_data_reaches_host);
	tcase_add_test(tc, no_rx_buffers_back_pressure);
	tcase_add_test(tc, driver_reset_drops_connections);
	tcase_add_test(tc, reset_settles_before_new_driver);
	tcase_add_test(tc, reset_loop_leaks_nothing);
	tcase_add_test(tc, transport_reset_event);
	tcase_add_test(tc, connection_limit);
	tcase_add_test(tc, uds_path_stale_live_and_bad);
	tcase_add_test(tc, single_buffer_rx);
	tcase_add_test(tc, header_only_rx_buffer);
	suite_add_tcase(s, tc);
	return s;
}
