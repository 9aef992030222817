/*
 * virtio-net in the device registry (vmm/vdev.h): one device per
 * configured network interface, each on its tap.
 */
#include "net.h"
#include "vdev.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STAT_NAME(name) #name,
static const char *const stat_names[] = { NET_STATS(STAT_NAME) };
#undef STAT_NAME
_Static_assert(sizeof(struct net_stats) ==
                       ARRAY_SIZE(stat_names) * sizeof(uint64_t),
               "net_stats is all uint64_t");
_Static_assert(ARRAY_SIZE(stat_names) <= VDEV_MAX_STATS, "net counters");
_Static_assert(sizeof(struct net_snap) <= VDEV_SNAP_MAX, "net snapshot");

static unsigned count(const struct config *c)
{
	return c->nnets;
}

static const char *id(const struct config *c, unsigned i)
{
	return c->nets[i].id;
}

/*
 * The MAC the guest sees on interface @c: its guest_mac, or one made from
 * the VM id and the interface id, the same on every run (locally
 * administered, 06:...).
 */
static void guest_mac(const char *vm_id, const struct net_config *c,
                      uint8_t mac[6])
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	if (c->has_mac) {
		memcpy(mac, c->mac, 6);
		return;
	}
	for (const char *p = vm_id; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	h = (h ^ '/') * 0x100000001b3ULL;
	for (const char *p = c->id; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	/* Locally administered, unicast. */
	mac[0] = 0x06;
	for (int i = 1; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * i));
}

static struct net *net_of(struct virtio_mmio *t)
{
	return container_of(t, struct net, t);
}

static void destroy(struct virtio_mmio *t)
{
	struct net *n = net_of(t);

	net_destroy(n);
	free(n);
}

static struct virtio_mmio *create(const struct vdev_env *env, unsigned i,
                                  char *err, size_t errlen)
{
	const struct net_config *c = &env->cfg->nets[i];
	struct net_options o = {
		.id = c->id,
		.tap = c->host_dev_name,
		.mtu = c->mtu,
		.rx = &c->rx,
		.tx = &c->tx,
	};
	/* calloc: the request slots' pages are touched only when used. */
	struct net *n = calloc(1, sizeof(*n));

	if (!n) {
		snprintf(err, errlen, "net '%s': out of memory", c->id);
		return NULL;
	}
	/* What net_destroy() leaves alone. */
	n->tap_fd = n->rx_timer.fd = n->tx_timer.fd = -1;
	guest_mac(env->vm_id, c, o.mac);
	/* PUT /mmds/config named this interface: it reaches MMDS. */
	for (unsigned k = 0; env->cfg->mmds.set && k < env->cfg->mmds.nifaces;
	     k++) {
		if (!strcmp(env->cfg->mmds.ifaces[k], c->id)) {
			o.mmds = env->mmds;
			o.mmds_ipv4 = env->cfg->mmds.ipv4;
		}
	}
	if (net_init(n, env->vm, env->uring, env->loop, &o, env->base, env->irq,
	             err, errlen) < 0) {
		destroy(&n->t);
		return NULL;
	}
	return &n->t;
}

static void save(struct virtio_mmio *t, void *snap)
{
	net_save(net_of(t), snap);
}

static int restore(struct virtio_mmio *t, const void *snap, char *err,
                   size_t errlen)
{
	return net_restore(net_of(t), snap, err, errlen);
}

/*
 * No tap read in flight while guest RAM is saved, and none left posted
 * when the VM ends: it would keep the tap attached after the process is
 * gone, until the kernel's deferred ring teardown gets to it, and a VM
 * started at once on the same tap would find it busy.
 */
static void quiesce(struct virtio_mmio *t, bool on)
{
	if (on)
		net_quiesce(net_of(t));
	else
		net_unquiesce(net_of(t));
}

static void stats(struct virtio_mmio *t, uint64_t *now, uint64_t **reported)
{
	struct net *n = net_of(t);

	memcpy(now, &n->stats, sizeof(n->stats));
	*reported = (uint64_t *)&n->reported;
}

/* The event loop sets the offloads the driver accepted on the tap. */
static int filter_fd(struct virtio_mmio *t)
{
	return net_of(t)->tap_fd;
}

const struct vdev_type vdev_net = {
	.conf = &net_conf,
	.name = "net",
	.count = count,
	.id = id,
	.uring = true,
	.create = create,
	.destroy = destroy,
	.snap_size = sizeof(struct net_snap),
	.save = save,
	.restore = restore,
	.quiesce = quiesce,
	.group = "net",
	.dev_prefix = "net_",
	.stat_names = stat_names,
	.nstats = ARRAY_SIZE(stat_names),
	.stats = stats,
	.filter_fd = filter_fd,
};
