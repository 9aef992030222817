/*
 * The probe guest's virtio-mmio helpers: find a device the command line
 * announces, negotiate features, set up split rings and move buffers.
 * Everything polls; interrupts stay off.
 */
#ifndef WISP_PROBE_VIRTIO_H
#define WISP_PROBE_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

enum {
	VIO_MAGIC = 0x000,
	VIO_VERSION = 0x004,
	VIO_DEVICE_ID = 0x008,
	VIO_DEV_FEAT = 0x010,
	VIO_DEV_FEAT_SEL = 0x014,
	VIO_DRV_FEAT = 0x020,
	VIO_DRV_FEAT_SEL = 0x024,
	VIO_QUEUE_SEL = 0x030,
	VIO_QUEUE_NUM = 0x038,
	VIO_QUEUE_READY = 0x044,
	VIO_NOTIFY = 0x050,
	VIO_STATUS = 0x070,
	VIO_DESC = 0x080,
	VIO_AVAIL = 0x090,
	VIO_USED = 0x0a0,
	VIO_CONFIG = 0x100,
};

#define VIO_S_NEEDS_RESET 0x40
#define VIO_F_VERSION_1   (1ULL << 32)
#define VD_F_NEXT         1
#define VD_F_WRITE        2

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

/* A split ring in static memory the driver owns. */
struct vring {
	unsigned num;
	volatile struct vdesc *desc;
	volatile uint16_t *avail; /* flags, idx, ring[num], used_event */
	volatile uint32_t *used;  /* flags | idx << 16, {id, len}[num] */
	uint16_t next_avail, seen_used;
};

struct vdev {
	uint64_t base;
};

uint32_t vdev_rd(const struct vdev *d, uint32_t off);
void vdev_wr(const struct vdev *d, uint32_t off, uint32_t v);
uint8_t vdev_cfg8(const struct vdev *d, uint32_t off);

/*
 * The device of type @id among the transports the command line announces
 * (virtio_mmio.device=<size>@<base>:<irq>); wisp and QEMU microvm place
 * them differently. false when there is none.
 */
bool vdev_find(struct vdev *d, const char *cmdline, uint32_t id);

/* Reset, then ACK, DRIVER, @features | VERSION_1, FEATURES_OK. */
bool vdev_negotiate(const struct vdev *d, uint64_t features);
/* Offered features (all 64 bits). */
uint64_t vdev_features(const struct vdev *d);
/* Clear @r's rings and hand them to the device as queue @q. */
void vdev_queue(const struct vdev *d, unsigned q, struct vring *r);
void vdev_driver_ok(const struct vdev *d);
void vdev_notify(const struct vdev *d, unsigned q);
/* Wait (bounded) until the device says DEVICE_NEEDS_RESET. */
bool vdev_wait_needs_reset(const struct vdev *d);

/* Put @head on the available ring (visible at once). */
void vring_post(struct vring *r, uint16_t head);
/* The next used entry, if the device has published one. */
bool vring_used(struct vring *r, uint32_t *id, uint32_t *len);

/* Compiler barrier: x86 keeps stores in order. */
static inline void vbarrier(void)
{
	__asm__ volatile("" ::: "memory");
}

/* Command-line helpers: KEY<decimal> and whole words. */
uint64_t arg_u64(const char *cmdline, const char *key, uint64_t def);
bool arg_is(const char *cmdline, const char *word);
uint64_t parse_hex(const char *p);

#endif
