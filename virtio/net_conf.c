/*
 * virtio-net's configuration (vmm/vdev.h, struct vdev_conf): the network
 * interfaces of struct config, as the INI file, Firecracker's JSON, the
 * REST API and a snapshot give them.
 */
#include "net.h"
#include "vdev.h"

static void *item(struct config *c, unsigned i)
{
	return &c->nets[i];
}

static void set_count(struct config *c, unsigned n)
{
	c->nnets = n;
}

const struct vdev_conf net_conf = {
	.max = CONFIG_MAX_NETS,
	.item = item,
	.set_count = set_count,
	.snap = &net_snapcfg,
};
