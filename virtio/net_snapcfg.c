/*
 * virtio-net's records in a snapshot's CONFIG section (vmm/snapconfig.h
 * has the format and the tags): one set per network interface, after the
 * machine's count of interfaces.
 */
#include "snapconfig.h"
#include "util.h"

#include <string.h>

/* SNAPCFG_NET_MAC: the guest's MAC, a record when it has one. */
static bool mac_get(const void *item, uint8_t *v)
{
	const struct net_config *n = item;

	memcpy(v, n->mac, 6);
	return n->has_mac;
}

static void mac_set(void *item, const uint8_t *v)
{
	struct net_config *n = item;

	memcpy(n->mac, v, 6);
	n->has_mac = true;
}

/* SNAPCFG_NET_MTU: a record when the configuration names one. */
static bool mtu_get(const void *item, uint8_t *v)
{
	const struct net_config *n = item;

	v[0] = (uint8_t)n->mtu;
	v[1] = (uint8_t)(n->mtu >> 8);
	return n->mtu != 0;
}

static void mtu_set(void *item, const uint8_t *v)
{
	((struct net_config *)item)->mtu = (uint16_t)(v[0] | v[1] << 8);
}

#define F(member, tag, kind, required, name)                                   \
	SNAPCFG_FIELD(struct net_config, member, tag, kind, required, name)

static const struct snapcfg_field fields[] = {
	F(id, SNAPCFG_NET_ID, SNAPCFG_STR, true, "iface_id"),
	F(host_dev_name, SNAPCFG_NET_TAP, SNAPCFG_STR, true, "host_dev_name"),
	SNAPCFG_CUSTOM_FIELD(SNAPCFG_NET_MAC, 6, 0, mac_get, mac_set,
	                     "guest_mac"),
	SNAPCFG_CUSTOM_FIELD(SNAPCFG_NET_MTU, 2, 0, mtu_get, mtu_set, "mtu"),
	F(rx.bandwidth, SNAPCFG_NET_RX_BANDWIDTH, SNAPCFG_BUCKET, false,
	  "rx_rate_limiter.bandwidth"),
	F(rx.ops, SNAPCFG_NET_RX_OPS, SNAPCFG_BUCKET, false,
	  "rx_rate_limiter.ops"),
	F(tx.bandwidth, SNAPCFG_NET_TX_BANDWIDTH, SNAPCFG_BUCKET, false,
	  "tx_rate_limiter.bandwidth"),
	F(tx.ops, SNAPCFG_NET_TX_OPS, SNAPCFG_BUCKET, false,
	  "tx_rate_limiter.ops"),
};

const struct snapcfg_type net_snapcfg = {
	.scope = 0x02,
	.count_tag = SNAPCFG_NETS,
	.count_name = "network-interfaces",
	.name = "interface",
	.plural = "network interfaces",
	.fields = fields,
	.nfields = ARRAY_SIZE(fields),
};
