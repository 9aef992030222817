#include "virtio.h"
#include "probe.h"

#define POLL_LIMIT 50000000u

uint32_t vdev_rd(const struct vdev *d, uint32_t off)
{
	return *(volatile uint32_t *)phys(d->base + off);
}

void vdev_wr(const struct vdev *d, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)phys(d->base + off) = v;
}

uint8_t vdev_cfg8(const struct vdev *d, uint32_t off)
{
	return *(volatile uint8_t *)phys(d->base + VIO_CONFIG + off);
}

uint64_t parse_hex(const char *p)
{
	uint64_t v = 0;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	for (;; p++) {
		unsigned dg;

		if (*p >= '0' && *p <= '9')
			dg = (unsigned)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			dg = (unsigned)(*p - 'a' + 10);
		else if (*p >= 'A' && *p <= 'F')
			dg = (unsigned)(*p - 'A' + 10);
		else
			return v;
		v = v << 4 | dg;
	}
}

bool vdev_find(struct vdev *d, const char *cmdline, uint32_t id)
{
	static const char key[] = "virtio_mmio.device=";

	for (const char *p = cmdline; *p; p++) {
		bool match = true;

		for (unsigned i = 0; key[i] && match; i++)
			match = p[i] == key[i];
		if (!match)
			continue;
		const char *at = p;
		while (*at && *at != '@' && *at != ' ')
			at++;
		if (*at != '@')
			continue;
		d->base = parse_hex(at + 1);
		if (vdev_rd(d, VIO_MAGIC) == 0x74726976 &&
		    vdev_rd(d, VIO_VERSION) == 2 &&
		    vdev_rd(d, VIO_DEVICE_ID) == id)
			return true;
	}
	return false;
}

uint64_t vdev_features(const struct vdev *d)
{
	uint64_t f;

	vdev_wr(d, VIO_DEV_FEAT_SEL, 0);
	f = vdev_rd(d, VIO_DEV_FEAT);
	vdev_wr(d, VIO_DEV_FEAT_SEL, 1);
	return f | (uint64_t)vdev_rd(d, VIO_DEV_FEAT) << 32;
}

bool vdev_negotiate(const struct vdev *d, uint64_t features)
{
	features |= VIO_F_VERSION_1;
	vdev_wr(d, VIO_STATUS, 0);
	vdev_wr(d, VIO_STATUS, 1);
	vdev_wr(d, VIO_STATUS, 3);
	vdev_wr(d, VIO_DRV_FEAT_SEL, 0);
	vdev_wr(d, VIO_DRV_FEAT, (uint32_t)features);
	vdev_wr(d, VIO_DRV_FEAT_SEL, 1);
	vdev_wr(d, VIO_DRV_FEAT, (uint32_t)(features >> 32));
	vdev_wr(d, VIO_STATUS, 0xb);
	return vdev_rd(d, VIO_STATUS) & 8;
}

void vdev_queue(const struct vdev *d, unsigned q, struct vring *r)
{
	for (unsigned i = 0; i < 2 + r->num + 1; i++)
		r->avail[i] = 0;
	for (unsigned i = 0; i < 1 + 2 * r->num + 1; i++)
		r->used[i] = 0;
	r->next_avail = r->seen_used = 0;
	vdev_wr(d, VIO_QUEUE_SEL, q);
	vdev_wr(d, VIO_QUEUE_NUM, r->num);
	vdev_wr(d, VIO_DESC, (uint32_t)(uintptr_t)r->desc);
	vdev_wr(d, VIO_DESC + 4, 0);
	vdev_wr(d, VIO_AVAIL, (uint32_t)(uintptr_t)r->avail);
	vdev_wr(d, VIO_AVAIL + 4, 0);
	vdev_wr(d, VIO_USED, (uint32_t)(uintptr_t)r->used);
	vdev_wr(d, VIO_USED + 4, 0);
	vdev_wr(d, VIO_QUEUE_READY, 1);
}

void vdev_driver_ok(const struct vdev *d)
{
	vdev_wr(d, VIO_STATUS, 0xf);
}

void vdev_notify(const struct vdev *d, unsigned q)
{
	vdev_wr(d, VIO_NOTIFY, q);
}

bool vdev_wait_needs_reset(const struct vdev *d)
{
	for (uint32_t n = 0; n < POLL_LIMIT; n++)
		if (vdev_rd(d, VIO_STATUS) & VIO_S_NEEDS_RESET)
			return true;
	return false;
}

void vring_post(struct vring *r, uint16_t head)
{
	r->avail[2 + r->next_avail % r->num] = head;
	vbarrier();
	r->avail[1] = ++r->next_avail;
	vbarrier();
}

bool vring_used(struct vring *r, uint32_t *id, uint32_t *len)
{
	unsigned e;

	if ((uint16_t)(r->used[0] >> 16) == r->seen_used)
		return false;
	vbarrier();
	e = r->seen_used % r->num;
	*id = r->used[1 + 2 * e];
	*len = r->used[2 + 2 * e];
	r->seen_used++;
	return true;
}

uint64_t arg_u64(const char *cmdline, const char *key, uint64_t def)
{
	for (const char *p = cmdline; *p; p++) {
		unsigned i = 0;

		while (key[i] && p[i] == key[i])
			i++;
		if (key[i] || (p != cmdline && p[-1] != ' '))
			continue;
		uint64_t v = 0;
		for (p += i; *p >= '0' && *p <= '9'; p++)
			v = v * 10 + (uint64_t)(*p - '0');
		return v;
	}
	return def;
}

bool arg_is(const char *cmdline, const char *word)
{
	for (const char *p = cmdline; *p; p++) {
		unsigned i = 0;

		while (word[i] && p[i] == word[i])
			i++;
		if (!word[i] && (p == cmdline || p[-1] == ' ') &&
		    (p[i] == ' ' || p[i] == '\0'))
			return true;
	}
	return false;
}
