/*
 * libFuzzer target: virtio-blk requests from a hostile driver. The fuzzer
 * writes all guest memory behind the queue (rings, headers, buffers,
 * status bytes); the device runs through the real transport, queue code
 * and io_uring against a small image in /dev/shm. Checks: no memory error
 * (ASan), the image never grows, and the device either serves or marks
 * itself NEEDS_RESET.
 */
#include "blk.h"
#include "vm.h"

#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

#define MEM  (64 * 1024)
#define BASE 0xc0001000ULL
#define IMG  "/dev/shm/wisp-fuzz-blk.img"

static void reg(struct vm *vm, uint64_t off, uint32_t v)
{
	uint8_t d[4];

	memcpy(d, &v, 4);
	bus_access(&vm->mmio, BASE + off, d, 4, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct blk b;
	static struct uring u;
	static bool ready;
	struct blk_options o = { .path = IMG };
	struct vm vm = { .vm_fd = -1 };
	char err[256];
	struct stat st;

	if (!ready) {
		int fd = open(IMG, O_RDWR | O_CREAT | O_TRUNC, 0600);

		if (fd < 0 || ftruncate(fd, 64 * 1024) < 0)
			abort();
		close(fd);
		if (uring_init(&u, 64) < 0)
			abort();
		ready = true;
	}
	if (len < 2)
		return 0;
	vm.mem = calloc(1, MEM);
	vm.mem_size = vm.low_size = MEM;
	memcpy(vm.mem, data + 1, len - 1 < MEM ? len - 1 : MEM);
	bus_init(&vm.mmio, "mmio");
	if (blk_init(&b, &vm, &u, &o, BASE, 5, err, sizeof(err)) < 0)
		abort();

	reg(&vm, VIRTIO_MMIO_STATUS, 3);
	reg(&vm, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg(&vm, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	reg(&vm, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	reg(&vm, VIRTIO_MMIO_DRIVER_FEATURES,
	    (uint32_t)data[0] << 28 & (3u << 28)); /* ind/evt */
	reg(&vm, VIRTIO_MMIO_STATUS, 0xb);
	reg(&vm, VIRTIO_MMIO_QUEUE_NUM, 1u << (data[0] & 7));
	reg(&vm, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	reg(&vm, VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x2000);
	reg(&vm, VIRTIO_MMIO_QUEUE_USED_LOW, 0x3000);
	reg(&vm, VIRTIO_MMIO_QUEUE_READY, 1);
	reg(&vm, VIRTIO_MMIO_STATUS, 0xf);

	virtio_mmio_notify(&b.t, 0);
	uring_run(&u);
	while (b.inflight) {
		struct io_uring_cqe *cqe;

		if (io_uring_wait_cqe(&u.ring, &cqe) < 0)
			abort();
		uring_run(&u);
	}
	if (stat(IMG, &st) < 0 || st.st_size != 64 * 1024)
		abort(); /* nothing may write past the end of the image */
	blk_destroy(&b);
	free(vm.mem);
	return 0;
}
