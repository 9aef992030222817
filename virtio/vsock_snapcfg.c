/*
 * virtio-vsock's records in a snapshot's CONFIG section
 * (vmm/snapconfig.h has the format and the tags): the VM has vsock when
 * any of them is there.
 */
#include "snapconfig.h"
#include "util.h"

#define F(member, tag, kind, required, name)                                   \
	SNAPCFG_FIELD(struct vsock_config, member, tag, kind, required, name)

static const struct snapcfg_field fields[] = {
	F(guest_cid, SNAPCFG_VSOCK_CID, SNAPCFG_U32, true, "guest_cid"),
	F(uds_path, SNAPCFG_VSOCK_UDS, SNAPCFG_STR, true, "uds_path"),
	F(id, SNAPCFG_VSOCK_ID, SNAPCFG_STR, false, "vsock_id"),
};

const struct snapcfg_type vsock_snapcfg = {
	.scope = 0x03,
	.name = "vsock",
	.fields = fields,
	.nfields = ARRAY_SIZE(fields),
};
