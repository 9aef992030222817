/*
 * A fake guest for device tests: guest RAM without KVM (vm_gpa() needs
 * only mem, mem_size and low_size) and a tiny virtio driver that works
 * through the MMIO registers the way Linux's virtio_mmio does.
 */
#ifndef WISP_FAKE_DRIVER_H
#define WISP_FAKE_DRIVER_H

#include "bus.h"
#include "vm.h"

#include <check.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdlib.h>
#include <string.h>

static inline void fake_vm_init(struct vm *vm, size_t mem)
{
	memset(vm, 0, sizeof(*vm));
	vm->vm_fd = -1;
	vm->mem = calloc(1, mem);
	vm->mem_size = vm->low_size = mem;
	bus_init(&vm->mmio, "mmio");
}

static inline uint32_t fake_rd(struct vm *vm, uint64_t addr)
{
	uint8_t d[4];
	uint32_t v;

	ck_assert(bus_access(&vm->mmio, addr, d, 4, false));
	memcpy(&v, d, 4);
	return v;
}

static inline void fake_wr(struct vm *vm, uint64_t addr, uint32_t v)
{
	uint8_t d[4];

	memcpy(d, &v, 4);
	ck_assert(bus_access(&vm->mmio, addr, d, 4, true));
}

/* ACKNOWLEDGE, DRIVER, write @features, FEATURES_OK. */
static inline void fake_negotiate(struct vm *vm, uint64_t base,
                                  uint64_t features)
{
	fake_wr(vm, base + VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	fake_wr(vm, base + VIRTIO_MMIO_STATUS,
	        VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	fake_wr(vm, base + VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	fake_wr(vm, base + VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	fake_wr(vm, base + VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	fake_wr(vm, base + VIRTIO_MMIO_DRIVER_FEATURES,
	        (uint32_t)(features >> 32));
	fake_wr(vm, base + VIRTIO_MMIO_STATUS,
	        VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	                VIRTIO_CONFIG_S_FEATURES_OK);
}

/* Queue @q of @num entries at the given rings, then ready. */
static inline void fake_queue_n(struct vm *vm, uint64_t base, uint32_t q,
                                uint32_t num, uint64_t desc, uint64_t avail,
                                uint64_t used)
{
	fake_wr(vm, base + VIRTIO_MMIO_QUEUE_SEL, q);
	fake_wr(vm, base + VIRTIO_MMIO_QUEUE_NUM, num);
	fake_wr(vm, base + VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	fake_wr(vm, base + VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	fake_wr(vm, base + VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	fake_wr(vm, base + VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	fake_wr(vm, base + VIRTIO_MMIO_QUEUE_READY, 1);
}

static inline void fake_queue(struct vm *vm, uint64_t base, uint32_t num,
                              uint64_t desc, uint64_t avail, uint64_t used)
{
	fake_queue_n(vm, base, 0, num, desc, avail, used);
}

static inline void fake_driver_ok(struct vm *vm, uint64_t base)
{
	fake_wr(vm, base + VIRTIO_MMIO_STATUS,
	        fake_rd(vm, base + VIRTIO_MMIO_STATUS) |
	                VIRTIO_CONFIG_S_DRIVER_OK);
}

/* Descriptor @i of the table at @table. */
static inline void fake_desc(struct vm *vm, uint64_t table, unsigned i,
                             uint64_t addr, uint32_t len, uint16_t flags,
                             uint16_t next)
{
	uint8_t *d = vm->mem + table + 16 * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Offer @head at position @pos of the available ring (size @num). */
static inline void fake_offer(struct vm *vm, uint64_t avail, uint16_t num,
                              uint16_t pos, uint16_t head)
{
	uint16_t idx = (uint16_t)(pos + 1);

	memcpy(vm->mem + avail + 4 + 2 * (pos % num), &head, 2);
	memcpy(vm->mem + avail + 2, &idx, 2);
}

static inline uint16_t fake_used_idx(struct vm *vm, uint64_t used)
{
	uint16_t v;

	memcpy(&v, vm->mem + used + 2, 2);
	return v;
}

#endif
