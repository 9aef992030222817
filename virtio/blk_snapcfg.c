/*
 * virtio-blk's records in a snapshot's CONFIG section (vmm/snapconfig.h
 * has the format and the tags): one set per drive, after the machine's
 * count of drives.
 */
#include "snapconfig.h"
#include "util.h"

/* SNAPCFG_DRIVE_CACHE: the host cache mode, from direct and no_flush. */
static bool cache_get(const void *item, uint8_t *v)
{
	const struct drive_config *d = item;

	v[0] = d->direct     ? SNAPCFG_CACHE_NONE
	       : d->no_flush ? SNAPCFG_CACHE_UNSAFE
	                     : SNAPCFG_CACHE_WRITEBACK;
	return true;
}

static void cache_set(void *item, const uint8_t *v)
{
	struct drive_config *d = item;

	d->direct = v[0] == SNAPCFG_CACHE_NONE;
	d->no_flush = v[0] == SNAPCFG_CACHE_UNSAFE;
}

#define F(member, tag, kind, required, name)                                   \
	SNAPCFG_FIELD(struct drive_config, member, tag, kind, required, name)

static const struct snapcfg_field fields[] = {
	F(id, SNAPCFG_DRIVE_ID, SNAPCFG_STR, true, "drive_id"),
	F(path, SNAPCFG_DRIVE_PATH, SNAPCFG_STR, true, "path_on_host"),
	F(root, SNAPCFG_DRIVE_ROOT, SNAPCFG_BOOL, false, "is_root_device"),
	F(read_only, SNAPCFG_DRIVE_READ_ONLY, SNAPCFG_BOOL, false,
	  "is_read_only"),
	SNAPCFG_CUSTOM_FIELD(SNAPCFG_DRIVE_CACHE, 1, SNAPCFG_CACHE_NONE,
	                     cache_get, cache_set, "cache_type"),
	F(io_sync, SNAPCFG_DRIVE_IO_SYNC, SNAPCFG_BOOL, false, "io_engine"),
	F(partuuid, SNAPCFG_DRIVE_PARTUUID, SNAPCFG_STR, false, "partuuid"),
	F(rl.bandwidth, SNAPCFG_DRIVE_BANDWIDTH, SNAPCFG_BUCKET, false,
	  "rate_limiter.bandwidth"),
	F(rl.ops, SNAPCFG_DRIVE_OPS, SNAPCFG_BUCKET, false, "rate_limiter.ops"),
};

const struct snapcfg_type blk_snapcfg = {
	.scope = 0x01,
	.count_tag = SNAPCFG_DRIVES,
	.count_name = "drives",
	.name = "drive",
	.plural = "drives",
	.fields = fields,
	.nfields = ARRAY_SIZE(fields),
};
