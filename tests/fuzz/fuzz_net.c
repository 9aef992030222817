/*
 * libFuzzer target: virtio-net from a hostile driver and a hostile peer.
 * The fuzzer writes all guest memory behind both queues (rings, headers,
 * frames) and the frames arriving from the "tap" (a SOCK_SEQPACKET pair,
 * one frame per read like a tap); the device runs through the real
 * transport, queue code and io_uring. Checks: no memory error (ASan), and
 * nothing reaches the peer that is not a whole chain's frame behind a
 * 12-byte header.
 */
#include "metrics.h"
#include "mmds.h"
#include "net.h"
#include "vm.h"

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* The mmds counters the network stack bumps; metrics.c is not linked. */
struct metrics metrics;

#define MEM  (64 * 1024)
#define BASE 0xc0001000ULL

static void reg(struct vm *vm, uint64_t off, uint32_t v)
{
	uint8_t d[4];

	memcpy(d, &v, 4);
	bus_access(&vm->mmio, BASE + off, d, 4, true);
}

static void queue(struct vm *vm, unsigned q, unsigned num, uint32_t at)
{
	reg(vm, VIRTIO_MMIO_QUEUE_SEL, q);
	reg(vm, VIRTIO_MMIO_QUEUE_NUM, num);
	reg(vm, VIRTIO_MMIO_QUEUE_DESC_LOW, at);
	reg(vm, VIRTIO_MMIO_QUEUE_AVAIL_LOW, at + 0x1000);
	reg(vm, VIRTIO_MMIO_QUEUE_USED_LOW, at + 0x2000);
	reg(vm, VIRTIO_MMIO_QUEUE_READY, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct net n;
	static struct uring u;
	static bool ready;
	struct rate_limiter_config none = { 0 };
	/* MMDS on the interface: frames to its address go to the stack. */
	static struct mmds *store;
	struct net_options o = { .id = "fuzz",
		                 .rx = &none,
		                 .tx = &none,
		                 .mmds_ipv4 = MMDS_DEFAULT_IPV4 };
	struct vm vm = { .vm_fd = -1 };
	uint8_t buf[NET_HDR_LEN + NET_MAX_FRAME];
	char err[256];
	int sp[2];
	size_t off;

	if (!ready) {
		if (uring_init(&u, 64) < 0 || !(store = mmds_new("fuzz")))
			abort();
		ready = true;
	}
	o.mmds = store;
	if (len < 8)
		return 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
	               0, sp) < 0)
		abort();
	vm.mem = calloc(1, MEM);
	vm.mem_size = vm.low_size = MEM;
	/* data: 2 bytes features, 2 frame lengths, frames, guest memory */
	off = 6;
	for (int i = 0; i < 2; i++) {
		size_t fl = (size_t)data[2 + 2 * i] << 8 | data[3 + 2 * i];

		fl = fl < len - off ? fl : len - off;
		if (fl && send(sp[1], data + off, fl, 0) < 0)
			break;
		off += fl;
	}
	memcpy(vm.mem, data + off, len - off < MEM ? len - off : MEM);
	bus_init(&vm.mmio, "mmio");
	if (net_attach(&n, &vm, &u, NULL, &o, sp[0], 1500, BASE, 5, err,
	               sizeof(err)) < 0)
		abort();

	reg(&vm, VIRTIO_MMIO_STATUS, 3);
	reg(&vm, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg(&vm, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	reg(&vm, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	/* any mix of the offered offloads, MRG_RXBUF, INDIRECT, EVENT_IDX */
	reg(&vm, VIRTIO_MMIO_DRIVER_FEATURES,
	    (uint32_t)(data[0] | data[1] << 8) & 0xddab |
	            ((uint32_t)data[1] << 24 & (3u << 28)));
	reg(&vm, VIRTIO_MMIO_STATUS, 0xb);
	queue(&vm, 0, 1u << (data[0] >> 5), 0x1000);
	queue(&vm, 1, 1u << (data[1] >> 5), 0x4000);
	reg(&vm, VIRTIO_MMIO_STATUS, 0xf);

	for (int round = 0; round < 3; round++) {
		virtio_mmio_notify(&n.t, 1);
		virtio_mmio_notify(&n.t, 0);
		uring_run(&u);
		while (n.tx_inflight) {
			struct io_uring_cqe *cqe;

			if (io_uring_wait_cqe(&u.ring, &cqe) < 0)
				abort();
			uring_run(&u);
		}
		uring_run(&u);
	}
	/* What the device sent: each a header and a frame of sane size. */
	for (;;) {
		ssize_t got = recv(sp[1], buf, sizeof(buf), MSG_TRUNC);

		if (got < 0)
			break;
		if (got < NET_HDR_LEN + NET_ETH_HLEN ||
		    got > NET_HDR_LEN + NET_MAX_FRAME)
			abort();
	}
	net_destroy(&n); /* cancels the read still waiting, closes sp[0] */
	close(sp[1]);
	free(vm.mem);
	return 0;
}
