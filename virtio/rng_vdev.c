/* virtio-rng in the device registry (vmm/vdev.h): one when configured. */
#include "rng.h"
#include "util.h"
#include "vdev.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STAT_NAME(name) #name,
static const char *const stat_names[] = { RNG_STATS(STAT_NAME) };
#undef STAT_NAME
_Static_assert(sizeof(struct rng_stats) ==
                       ARRAY_SIZE(stat_names) * sizeof(uint64_t),
               "rng_stats is all uint64_t");
_Static_assert(ARRAY_SIZE(stat_names) <= VDEV_MAX_STATS, "rng counters");
_Static_assert(sizeof(struct rng_snap) <= VDEV_SNAP_MAX, "rng snapshot");

static unsigned count(const struct config *c)
{
	return c->entropy.present ? 1 : 0;
}

static const char *id(const struct config *c, unsigned i)
{
	(void)c;
	(void)i;
	return "entropy";
}

static struct rng *rng_of(struct virtio_mmio *t)
{
	return container_of(t, struct rng, t);
}

static void destroy(struct virtio_mmio *t)
{
	struct rng *r = rng_of(t);

	rng_destroy(r);
	free(r);
}

static struct virtio_mmio *create(const struct vdev_env *env, unsigned i,
                                  char *err, size_t errlen)
{
	struct rng *r = calloc(1, sizeof(*r));

	(void)i;
	if (!r) {
		snprintf(err, errlen, "entropy: out of memory");
		return NULL;
	}
	/* rng_init() undoes itself when it fails. */
	if (rng_init(r, env->vm, env->loop, &env->cfg->entropy.rl, env->base,
	             env->irq, err, errlen) < 0) {
		free(r);
		return NULL;
	}
	return &r->t;
}

static void save(struct virtio_mmio *t, void *snap)
{
	rng_save(rng_of(t), snap);
}

static int restore(struct virtio_mmio *t, const void *snap, char *err,
                   size_t errlen)
{
	return rng_restore(rng_of(t), snap, err, errlen);
}

static void stats(struct virtio_mmio *t, uint64_t *now, uint64_t **reported)
{
	struct rng *r = rng_of(t);

	pthread_mutex_lock(&r->t.lock);
	memcpy(now, &r->stats, sizeof(r->stats));
	pthread_mutex_unlock(&r->t.lock);
	*reported = (uint64_t *)&r->reported;
}

const struct vdev_type vdev_rng = {
	.conf = &rng_conf,
	.name = "entropy",
	.count = count,
	.id = id,
	.create = create,
	.destroy = destroy,
	.snap_size = sizeof(struct rng_snap),
	.save = save,
	.restore = restore,
	.group = "entropy",
	.stat_names = stat_names,
	.nstats = ARRAY_SIZE(stat_names),
	.stats = stats,
};
