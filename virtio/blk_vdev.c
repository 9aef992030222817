/*
 * virtio-blk in the device registry (vmm/vdev.h): one device per
 * configured drive, the root drive first.
 */
#include "blk.h"
#include "vdev.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STAT_NAME(name) #name,
static const char *const stat_names[] = { BLK_STATS(STAT_NAME) };
#undef STAT_NAME
_Static_assert(sizeof(struct blk_stats) ==
                       ARRAY_SIZE(stat_names) * sizeof(uint64_t),
               "blk_stats is all uint64_t");
_Static_assert(ARRAY_SIZE(stat_names) <= VDEV_MAX_STATS, "blk counters");
_Static_assert(sizeof(struct blk_snap) <= VDEV_SNAP_MAX, "blk snapshot");

static unsigned count(const struct config *c)
{
	return c->ndrives;
}

static const char *id(const struct config *c, unsigned i)
{
	return c->drives[i].id;
}

/*
 * The root drive goes first (it becomes /dev/vda); a writable drive must
 * be writable now; root= unless the user gave one.
 */
static int boot_args(struct config *c, const char *user, char *out, size_t len,
                     char *err, size_t errlen)
{
	const struct drive_config *d = &c->drives[0];

	for (unsigned i = 1; i < c->ndrives; i++) {
		if (c->drives[i].root) {
			struct drive_config t = c->drives[0];

			c->drives[0] = c->drives[i];
			c->drives[i] = t;
		}
	}
	for (unsigned i = 0; i < c->ndrives; i++) {
		const struct drive_config *w = &c->drives[i];

		if (!w->read_only && access(w->path, W_OK) < 0) {
			snprintf(err, errlen,
			         "drive '%s': path '%s': %s (make it "
			         "read-only?)",
			         w->id, w->path, strerror(errno));
			return -1;
		}
	}
	if (!d->root || strstr(user, "root="))
		return 0;
	if (d->partuuid[0])
		snprintf(out, len, " root=PARTUUID=%s %s", d->partuuid,
		         d->read_only ? "ro" : "rw");
	else
		snprintf(out, len, " root=/dev/vda %s",
		         d->read_only ? "ro" : "rw");
	return 0;
}

static struct blk *blk_of(struct virtio_mmio *t)
{
	return container_of(t, struct blk, t);
}

static void destroy(struct virtio_mmio *t)
{
	struct blk *b = blk_of(t);

	blk_destroy(b);
	free(b);
}

static struct virtio_mmio *create(const struct vdev_env *env, unsigned i,
                                  char *err, size_t errlen)
{
	const struct drive_config *d = &env->cfg->drives[i];
	struct blk_options o = {
		.path = d->path,
		.read_only = d->read_only,
		.direct = d->direct,
		.no_flush = d->no_flush,
		.id = d->id,
		.rl = &d->rl,
		.loop = env->loop,
	};
	/* calloc: the request slots' pages are touched only when used. */
	struct blk *b = calloc(1, sizeof(*b));

	if (!b) {
		snprintf(err, errlen, "drive '%s': out of memory", d->id);
		return NULL;
	}
	b->fd = b->timer.fd = -1; /* what blk_destroy() leaves alone */
	if (blk_init(b, env->vm, env->uring, &o, env->base, env->irq, err,
	             errlen) < 0) {
		destroy(&b->t);
		return NULL;
	}
	return &b->t;
}

static void save(struct virtio_mmio *t, void *snap)
{
	blk_save(blk_of(t), snap);
}

static int restore(struct virtio_mmio *t, const void *snap, char *err,
                   size_t errlen)
{
	return blk_restore(blk_of(t), snap, err, errlen);
}

static void stats(struct virtio_mmio *t, uint64_t *now, uint64_t **reported)
{
	struct blk *b = blk_of(t);

	memcpy(now, &b->stats, sizeof(b->stats));
	*reported = (uint64_t *)&b->reported;
}

const struct vdev_type vdev_blk = {
	.conf = &blk_conf,
	.name = "block",
	.count = count,
	.id = id,
	.uring = true,
	.boot_args = boot_args,
	.create = create,
	.destroy = destroy,
	.snap_size = sizeof(struct blk_snap),
	.save = save,
	.restore = restore,
	.group = "block",
	.dev_prefix = "block_",
	.stat_names = stat_names,
	.nstats = ARRAY_SIZE(stat_names),
	.stats = stats,
};
