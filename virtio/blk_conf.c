/*
 * virtio-blk's configuration (vmm/vdev.h, struct vdev_conf): the drives
 * of struct config, as the INI file, Firecracker's JSON, the REST API and
 * a snapshot give them.
 */
#include "blk.h"
#include "vdev.h"

static void *item(struct config *c, unsigned i)
{
	return &c->drives[i];
}

static void set_count(struct config *c, unsigned n)
{
	c->ndrives = n;
}

const struct vdev_conf blk_conf = {
	.max = CONFIG_MAX_DRIVES,
	.item = item,
	.set_count = set_count,
	.snap = &blk_snapcfg,
};
