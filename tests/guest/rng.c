/*
 * A polled virtio-rng driver for the probe guest (virtio 1.2, 5.4): one
 * request queue of device-writable buffers the device fills with
 * entropy. The scenario asks for 64 bytes twice (they must differ and
 * not be zero), posts a device-readable buffer (answered with 0 bytes)
 * and asks for more than the device gives in one request (64 KiB).
 */
#include "probe.h"
#include "virtio.h"

#define NQ      8
#define BIG     (96 * 1024)
#define DEV_RNG 4

static volatile struct vdesc d[NQ] __attribute__((aligned(16)));
static volatile uint16_t a[2 + NQ + 1] __attribute__((aligned(4)));
static volatile uint32_t u[1 + 2 * NQ + 1] __attribute__((aligned(4)));
static struct vring q = { NQ, d, a, u, 0, 0 };
static struct vdev dev;
static uint8_t small[2][64] __attribute__((aligned(64)));
static uint8_t big[BIG] __attribute__((aligned(4096)));

/* One buffer as one chain at head 0; the length the device used. */
static uint32_t ask(void *buf, uint32_t len, uint16_t flags)
{
	uint32_t id, used;

	d[0].addr = (uint64_t)(uintptr_t)buf;
	d[0].len = len;
	d[0].flags = flags;
	d[0].next = 0;
	vbarrier();
	vring_post(&q, 0);
	vdev_notify(&dev, 0);
	for (uint64_t spin = 0; !vring_used(&q, &id, &used); spin++)
		if (spin > 200000000u) {
			put_str("probe: rng FAIL no answer\n");
			probe_exit(1);
		}
	return used;
}

static bool zero(const uint8_t *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

void scenario_rng(const struct boot *b)
{
	uint32_t n0, n1, nro, nbig;
	bool differ = false;

	if (!vdev_find(&dev, b->cmdline, DEV_RNG) || !vdev_negotiate(&dev, 0)) {
		put_str("probe: rng FAIL no device\n");
		probe_exit(1);
	}
	vdev_queue(&dev, 0, &q);
	vdev_driver_ok(&dev);
	n0 = ask(small[0], 64, VD_F_WRITE);
	n1 = ask(small[1], 64, VD_F_WRITE);
	for (unsigned i = 0; i < 64; i++)
		differ |= small[0][i] != small[1][i];
	nro = ask(small[0], 64, 0); /* nothing the device may write */
	nbig = ask(big, BIG, VD_F_WRITE);
	put_str("probe: rng ");
	put_u64(n0);
	put_str(" ");
	put_u64(n1);
	put_str(" ");
	put_u64(nro);
	put_str(" ");
	put_u64(nbig);
	put_str("\n");
	if (n0 != 64 || n1 != 64 || !differ || zero(small[1], 64) || nro != 0 ||
	    nbig != 64 * 1024 || zero(big, 64 * 1024) ||
	    !zero(big + 64 * 1024, BIG - 64 * 1024) ||
	    (vdev_rd(&dev, VIO_STATUS) & VIO_S_NEEDS_RESET)) {
		put_str("probe: rng FAIL\n");
		probe_exit(1);
	}
	put_str("probe: rng ok\n");
	probe_exit(0);
}
