/*
 * virtio-vsock's configuration (vmm/vdev.h, struct vdev_conf): the one
 * vsock device of struct config, as the INI file, Firecracker's JSON, the
 * REST API and a snapshot give it.
 */
#include "vdev.h"
#include "vsock.h"

static void *item(struct config *c, unsigned i)
{
	(void)i;
	return &c->vsock;
}

static void set_count(struct config *c, unsigned n)
{
	c->vsock.present = n != 0;
}

const struct vdev_conf vsock_conf = {
	.max = 1,
	.item = item,
	.set_count = set_count,
	.snap = &vsock_snapcfg,
};
