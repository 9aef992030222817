/*
 * virtio-vsock in the device registry (vmm/vdev.h): at most one device,
 * when the configuration has a vsock section.
 */
#include "vsock.h"
#include "vdev.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STAT_NAME(name) #name,
static const char *const stat_names[] = { VSOCK_STATS(STAT_NAME) };
#undef STAT_NAME
_Static_assert(sizeof(struct vsock_stats) ==
                       ARRAY_SIZE(stat_names) * sizeof(uint64_t),
               "vsock_stats is all uint64_t");
_Static_assert(ARRAY_SIZE(stat_names) <= VDEV_MAX_STATS, "vsock counters");
_Static_assert(sizeof(struct vsock_snap) <= VDEV_SNAP_MAX, "vsock snapshot");

static unsigned count(const struct config *c)
{
	return c->vsock.present ? 1 : 0;
}

static const char *id(const struct config *c, unsigned i)
{
	return c->vsock.id;
}

static struct vsock *vsock_of(struct virtio_mmio *t)
{
	return container_of(t, struct vsock, t);
}

static void destroy(struct virtio_mmio *t)
{
	struct vsock *v = vsock_of(t);

	vsock_destroy(v);
	free(v);
}

static struct virtio_mmio *create(const struct vdev_env *env, unsigned i,
                                  char *err, size_t errlen)
{
	const struct vsock_config *c = &env->cfg->vsock;
	struct vsock *v = calloc(1, sizeof(*v));

	if (!v) {
		snprintf(err, errlen, "vsock: out of memory");
		return NULL;
	}
	/* vsock_init() undoes itself when it fails. */
	if (vsock_init(v, env->vm, env->loop, c->guest_cid, c->uds_path,
	               env->base, env->irq, err, errlen) < 0) {
		free(v);
		return NULL;
	}
	return &v->t;
}

static void save(struct virtio_mmio *t, void *snap)
{
	vsock_save(vsock_of(t), snap);
}

static int restore(struct virtio_mmio *t, const void *snap, char *err,
                   size_t errlen)
{
	return vsock_restore(vsock_of(t), snap, err, errlen);
}

static void stats(struct virtio_mmio *t, uint64_t *now, uint64_t **reported)
{
	struct vsock *v = vsock_of(t);
	struct vsock_stats s;

	vsock_get_stats(v, &s);
	memcpy(now, &s, sizeof(s));
	*reported = (uint64_t *)&v->reported;
}

/* A clean exit leaves no socket file behind. */
static void exit_cleanup(struct virtio_mmio *t)
{
	struct vsock *v = vsock_of(t);

	if (v->uds_path[0])
		unlink(v->uds_path);
}

const struct vdev_type vdev_vsock = {
	.conf = &vsock_conf,
	.name = "vsock",
	.count = count,
	.id = id,
	.create = create,
	.destroy = destroy,
	.snap_size = sizeof(struct vsock_snap),
	.save = save,
	.restore = restore,
	.group = "vsock",
	.stat_names = stat_names,
	.nstats = ARRAY_SIZE(stat_names),
	.stats = stats,
	.exit_cleanup = exit_cleanup,
};
