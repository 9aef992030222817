/*
 * libFuzzer target: virtio-vsock from a hostile driver. The fuzzer writes
 * all guest memory behind the three queues (rings, headers, payloads,
 * rx and event buffers); the device runs through the real transport and
 * queue code against real Unix sockets in /dev/shm: a host listener on
 * port 1 (so REQUESTs connect), which accepts, writes and hangs up as the
 * input says, and a host program that connects with a CONNECT line.
 * Checks: no memory error (ASan), the connection count stays in bounds,
 * every rx packet is a header and at most VSOCK_MAX_PKT of payload, and a
 * driver reset (finished by the event loop) leaves no connection and no
 * descriptor behind, also one that comes while the host is sending.
 */
#include "log.h"
#include "vm.h"
#include "vsock_conn.h"

#include <dirent.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

#define MEM          (64 * 1024)
#define BASE         0xc0001000ULL
#define TOP          "/dev/shm/wisp-fuzz-vsock"
#define UDS          TOP "/v.sock"
#define MAXH         16
#define TX_AVAIL_IDX (0x3800 + 2)

static struct vm vm;
static struct evloop loop;
static struct vsock v;
static int lfd = -1;

struct watch {
	struct ev_handler h;
	unsigned q;
};
static struct watch watches[3];

static void on_notify(struct ev_handler *h, uint32_t events)
{
	uint64_t n;

	if (read(h->fd, &n, sizeof(n)) == sizeof(n))
		virtio_mmio_notify(&v.t, ((struct watch *)h)->q);
}

static void reg(uint64_t off, uint32_t val)
{
	uint8_t d[4];

	memcpy(d, &val, 4);
	bus_access(&vm.mmio, BASE + off, d, 4, true);
}

static uint32_t reg_rd(uint64_t off)
{
	uint8_t d[4];
	uint32_t val;

	bus_access(&vm.mmio, BASE + off, d, 4, false);
	memcpy(&val, d, 4);
	return val;
}

static void pump(void)
{
	for (unsigned i = 0; i < 64 && evloop_run_once(&loop, 0) > 0; i++)
		;
}

static unsigned open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static void init_once(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char err[256];

	log_set_level(LOG_ERROR); /* guest-caused warnings are expected */
	mkdir(TOP, 0700);
	unlink(UDS);
	unlink(UDS "_1");
	vm.vm_fd = -1;
	vm.mem = calloc(1, MEM);
	vm.mem_size = vm.low_size = MEM;
	bus_init(&vm.mmio, "mmio");
	if (!vm.mem || evloop_init(&loop) < 0 ||
	    vsock_init(&v, &vm, &loop, 3, UDS, BASE, 5, err, sizeof(err)) < 0)
		abort();
	for (unsigned q = 0; q < 3; q++) {
		watches[q] =
		        (struct watch){ { v.t.notify_fd[q], on_notify, NULL },
			                q };
		if (evloop_add(&loop, &watches[q].h, EPOLLIN) < 0)
			abort();
	}
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s_1", UDS);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(lfd, 64) < 0)
		abort();
}

/* The host program of the test: connect and send a CONNECT line. */
static int host_connect(const uint8_t *extra, size_t n)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	static const char line[] = "CONNECT 1\n";

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", UDS);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		abort();
	if (send(fd, line, sizeof(line) - 1, MSG_NOSIGNAL) < 0 ||
	    (n && send(fd, extra, n, MSG_NOSIGNAL) < 0))
		abort();
	return fd;
}

/* The host listener's side: accept, then write, half close or hang up. */
static void host_serve(int *fds, unsigned *nfds, uint8_t how,
                       const uint8_t *bytes, size_t n)
{
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		if (*nfds < MAXH)
			fds[(*nfds)++] = fd;
		else
			close(fd);
	}
	for (unsigned i = 0; i < *nfds; i++) {
		if (fds[i] < 0)
			continue;
		if ((how & 1) && n)
			(void)!send(fds[i], bytes, n, MSG_NOSIGNAL);
		if (how & 2)
			shutdown(fds[i], SHUT_WR);
		if (how & 4) {
			close(fds[i]);
			fds[i] = -1;
		}
	}
}

/* The host takes little: guest data has to wait in the device's ring. */
static void host_slow(void)
{
	int small = 4096;

	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		if (v.conns[i].fd >= 0)
			setsockopt(v.conns[i].fd, SOL_SOCKET, SO_SNDBUF, &small,
			           sizeof(small));
}

/* Every rx packet the device produced is a header and a bounded payload. */
static void check_rx(uint16_t qsize)
{
	const uint8_t *used = vm.mem + 0x2000;
	uint16_t n = v.t.vq[0].s.used_idx; /* entries the device wrote */

	for (uint16_t i = 0; i < n && i < qsize; i++) {
		uint32_t l;

		memcpy(&l, used + 4 + 8 * i + 4, 4);
		if (l < VSOCK_HDR_SIZE || l > VSOCK_HDR_SIZE + VSOCK_MAX_PKT)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static unsigned runs, fds_base;
	int hfds[MAXH], cfd = -1;
	unsigned nh = 0;
	uint8_t cfg, how;
	uint16_t qsize, avail;
	const uint8_t *tail;
	size_t ntail;

	if (lfd < 0)
		init_once();
	if (len < 2)
		return 0;
	cfg = data[0];
	how = data[1];
	qsize = (uint16_t)(1u << (cfg & 7)); /* 1 .. 128 */
	/* The host writes the input's last bytes, up to 512 of them. */
	ntail = len - 2 < 512 ? len - 2 : 512;
	tail = data + len - ntail;

	/* Power-on state: no connection, no descriptor left over. */
	reg(VIRTIO_MMIO_STATUS, 0);
	pump();
	if (v.nconns)
		abort();
	if (runs++ % 64 == 0) {
		unsigned n = open_fds();

		if (!fds_base)
			fds_base = n;
		else if (n > fds_base + 4)
			abort();
	}
	memset(vm.mem, 0, MEM);
	memcpy(vm.mem, data + 2, len - 2 < MEM ? len - 2 : MEM);
	v.last_local_port = VSOCK_LOCAL_PORT0 - 1; /* the fuzzer can answer */
	/*
	 * A guest talks after it heard back: the first tx chain comes alone
	 * (DRIVER_OK already serves the queues), so a REQUEST's RESPONSE
	 * and a host connection's REQUEST reach rx before the rest is read.
	 */
	memcpy(&avail, vm.mem + TX_AVAIL_IDX, 2);
	if (avail > 1)
		memcpy(vm.mem + TX_AVAIL_IDX, &(uint16_t){ 1 }, 2);

	/* A host program connected while the driver was away: its REQUEST
	 * waits for the driver, then goes out before the guest's tx. */
	if (cfg & 0x40) {
		cfd = host_connect(tail, ntail);
		pump();
	}
	reg(VIRTIO_MMIO_STATUS, 3);
	reg(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg(VIRTIO_MMIO_DRIVER_FEATURES, 1);
	reg(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	reg(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)cfg << 24 & (3u << 28));
	reg(VIRTIO_MMIO_STATUS, 0xb);
	for (unsigned q = 0; q < 3; q++) {
		reg(VIRTIO_MMIO_QUEUE_SEL, q);
		reg(VIRTIO_MMIO_QUEUE_NUM, qsize);
		reg(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000 + 0x2000 * q);
		reg(VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x1800 + 0x2000 * q);
		reg(VIRTIO_MMIO_QUEUE_USED_LOW, 0x2000 + 0x2000 * q);
		reg(VIRTIO_MMIO_QUEUE_READY, 1);
	}
	reg(VIRTIO_MMIO_STATUS, 0xf);

	virtio_mmio_notify(&v.t, 0);
	virtio_mmio_notify(&v.t, 1);
	pump();
	if (how & 0x40)
		host_slow();
	memcpy(vm.mem + TX_AVAIL_IDX, &avail, 2);
	virtio_mmio_notify(&v.t, 1);
	pump();
	host_serve(hfds, &nh, how, tail, ntail);
	/* A reset as the host's bytes arrive: the loop's teardown first. */
	if (cfg & 0x08)
		reg(VIRTIO_MMIO_STATUS, 0);
	pump();
	if (cfg & 0x80)
		vsock_transport_reset(&v);
	virtio_mmio_notify(&v.t, 2);
	virtio_mmio_notify(&v.t, 0);
	host_serve(hfds, &nh, how >> 3, tail, ntail);
	pump();
	if (v.nconns > VSOCK_MAX_CONNS)
		abort();
	if (!(reg_rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET))
		check_rx(qsize);
	for (unsigned i = 0; i < nh; i++)
		if (hfds[i] >= 0)
			close(hfds[i]);
	if (cfd >= 0)
		close(cfd);
	pump();
	return 0;
}
