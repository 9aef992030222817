/*
 * virtio-rng's records in a snapshot's CONFIG section (vmm/snapconfig.h
 * has the format and the tags): SNAPCFG_ENTROPY says the VM has the
 * device, the buckets its rate limiter.
 */
#include "snapconfig.h"
#include "util.h"

#define F(member, tag, kind, required, name)                                   \
	SNAPCFG_FIELD(struct entropy_config, member, tag, kind, required, name)

static const struct snapcfg_field fields[] = {
	F(present, SNAPCFG_ENTROPY, SNAPCFG_BOOL, true, "entropy"),
	F(rl.bandwidth, SNAPCFG_ENTROPY_BANDWIDTH, SNAPCFG_BUCKET, false,
	  "rate_limiter.bandwidth"),
	F(rl.ops, SNAPCFG_ENTROPY_OPS, SNAPCFG_BUCKET, false,
	  "rate_limiter.ops"),
};

const struct snapcfg_type rng_snapcfg = {
	.scope = 0x04,
	.name = "entropy",
	.fields = fields,
	.nfields = ARRAY_SIZE(fields),
};
