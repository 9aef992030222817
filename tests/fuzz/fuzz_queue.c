/*
 * libFuzzer target: a split virtqueue whose guest memory (rings, indirect
 * tables, buffers) is entirely fuzzer bytes, as a hostile driver could
 * write it. Every chain vq_pop() accepts must point only into guest RAM,
 * respect the readable-then-writable order and stay within the queue's
 * limits; the device side then completes it as a device would.
 */
#include "queue.h"
#include "vm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

#define MEM (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct vq_chain c;
	struct vm vm = { 0 };
	struct vq q;
	uint8_t cfg;

	if (len < 1)
		return 0;
	cfg = data[0];
	vm.mem = calloc(1, MEM);
	vm.mem_size = vm.low_size = MEM;
	memcpy(vm.mem, data + 1, len - 1 < MEM ? len - 1 : MEM);

	vq_reset(&q, (uint16_t)(1u << (cfg & 7))); /* 1 .. 128 */
	q.s.desc_gpa = 0x1000;
	q.s.avail_gpa = 0x2000;
	q.s.used_gpa = 0x3000;
	q.s.ready = true;
	q.indirect = cfg & 0x10;
	q.event_idx = cfg & 0x20;
	if (vq_activate(&q, &vm) < 0)
		abort(); /* these addresses are always valid */

	for (int n = 0; n < 4 * VQ_MAX_SIZE; n++) {
		enum vq_pop_result r = vq_pop(&q, &vm, &c);

		if (r != VQ_CHAIN)
			break;
		if (c.nout + c.nin > VQ_MAX_SEGS || c.head >= q.s.num)
			abort();
		for (unsigned i = 0; i < c.nout + c.nin; i++) {
			uint8_t *p = c.iov[i].iov_base;

			if (p < vm.mem || p > vm.mem + MEM ||
			    c.iov[i].iov_len > (size_t)(vm.mem + MEM - p))
				abort();
			/* Touch it as a device would; ASan checks the bounds.
			 */
			if (c.iov[i].iov_len && i >= c.nout)
				p[c.iov[i].iov_len - 1] = 0xa5;
			else if (c.iov[i].iov_len)
				(void)*(volatile uint8_t *)p;
		}
		vq_push(&q, c.head, (uint32_t)c.in_len);
		vq_publish(&q);
	}
	vq_enable_notify(&q);
	free(vm.mem);
	return 0;
}
