/*
 * virtio-net's configuration (vmm/vdev.h, struct vdev_conf): the network
 * interfaces of struct config, as the INI file ([net.ID]), Firecracker's
 * JSON and REST API (/network-interfaces/{id}) and a snapshot (with
 * PUT /snapshot/load's network_overrides) give them.
 */
#include "jbody.h"
#include "metrics.h"
#include "net.h"
#include "snapconfig.h"
#include "util.h"
#include "vdev.h"
#include "vmm.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static void *item(struct config *c, unsigned i)
{
	return &c->nets[i];
}

static void set_count(struct config *c, unsigned n)
{
	c->nnets = n;
}

/* "xx:xx:xx:xx:xx:xx" -> @mac; -1 when it is not one. */
static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char end;

	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3],
	           &v[4], &v[5], &end) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[3 * i]) ||
		    !isxdigit((unsigned char)s[3 * i + 1]) ||
		    (i < 5 && s[3 * i + 2] != ':'))
			return -1;
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

/* A usable network interface name (for a tap): 1-15 bytes, no '/', ':'. */
static bool ifname_ok(const char *name)
{
	return *name && strlen(name) < CONFIG_IFNAME_MAX &&
	       !strpbrk(name, "/: \t\n");
}

/* The slot of interface @id, or -1. */
static int find(const struct config *c, const char *id)
{
	for (unsigned i = 0; i < c->nnets; i++)
		if (!strcmp(c->nets[i].id, id))
			return (int)i;
	return -1;
}

#define TERMINATED(s) (memchr(s, 0, sizeof(s)) != NULL)

static int check(const struct config *c, unsigned i, char *err, size_t errlen)
{
	const struct net_config *n = &c->nets[i];

	if (!TERMINATED(n->id) || !TERMINATED(n->host_dev_name))
		return util_err(err, errlen,
		                "interface %u: a string runs past its end", i);
	if (!config_id_ok(n->id))
		return util_err(
		        err, errlen,
		        "interface %u: iface_id '%s' is not 1-%d letters, "
		        "digits or '_'",
		        i, n->id, CONFIG_ID_MAX - 1);
	if (!ifname_ok(n->host_dev_name))
		return util_err(
		        err, errlen,
		        "interface '%s': host_dev_name '%s' is not an "
		        "interface name (1-%d characters, no '/', ':' or "
		        "spaces)%s",
		        n->id, n->host_dev_name, CONFIG_IFNAME_MAX - 1,
		        n->host_dev_name[0] ? "" : ": no tap given");
	if (n->mtu && n->mtu < 68)
		return util_err(err, errlen,
		                "interface '%s': mtu %u is not in 68..65535",
		                n->id, n->mtu);
	if (n->has_mac && (n->mac[0] & 1))
		return util_err(err, errlen,
		                "interface '%s': guest_mac "
		                "%02x:%02x:%02x:%02x:%02x:%02x is a multicast "
		                "address",
		                n->id, n->mac[0], n->mac[1], n->mac[2],
		                n->mac[3], n->mac[4], n->mac[5]);
	for (unsigned j = 0; j < i; j++) {
		const struct net_config *o = &c->nets[j];

		if (!strcmp(o->id, n->id))
			return util_err(err, errlen,
			                "iface_id '%s' is given twice", n->id);
		if (!strcmp(o->host_dev_name, n->host_dev_name))
			return util_err(
			        err, errlen,
			        "interfaces '%s' and '%s' have the same "
			        "host_dev_name '%s'",
			        o->id, n->id, n->host_dev_name);
		if (n->has_mac && o->has_mac && !memcmp(o->mac, n->mac, 6))
			return util_err(
			        err, errlen,
			        "interfaces '%s' and '%s' have the same "
			        "guest_mac",
			        o->id, n->id);
	}
	return 0;
}

/* [net.ID]: tap, mac, rx_bandwidth, rx_ops, tx_bandwidth, tx_ops. */
static int ini_key(struct config *c, const struct config_ini_key *k, char *err,
                   size_t errlen)
{
	int slot = find(c, k->id);
	struct net_config *n;

	if (slot < 0) {
		if (c->nnets == CONFIG_MAX_NETS)
			return util_err(err, errlen,
			                "[%s]: more than %d interfaces",
			                k->section, CONFIG_MAX_NETS);
		slot = (int)c->nnets++;
		memset(&c->nets[slot], 0, sizeof(c->nets[slot]));
		snprintf(c->nets[slot].id, sizeof(c->nets[slot].id), "%s",
		         k->id);
	}
	n = &c->nets[slot];
	if (!strcmp(k->key, "tap")) {
		if (!ifname_ok(k->value))
			return config_ini_err(
			        k, err, errlen,
			        "'%s' is not an interface name (1-%d "
			        "characters, no '/', ':' or spaces)",
			        k->value, CONFIG_IFNAME_MAX - 1);
		snprintf(n->host_dev_name, sizeof(n->host_dev_name), "%s",
		         k->value);
		return 0;
	}
	if (!strcmp(k->key, "mac")) {
		if (parse_mac(k->value, n->mac) < 0 || (n->mac[0] & 1))
			return config_ini_err(k, err, errlen,
			                      "'%s' is not a unicast MAC "
			                      "address (xx:xx:xx:xx:xx:xx)",
			                      k->value);
		n->has_mac = true;
		return 0;
	}
	if (!strcmp(k->key, "rx_bandwidth"))
		return config_ini_bucket(k, &n->rx.bandwidth, err, errlen);
	if (!strcmp(k->key, "rx_ops"))
		return config_ini_bucket(k, &n->rx.ops, err, errlen);
	if (!strcmp(k->key, "tx_bandwidth"))
		return config_ini_bucket(k, &n->tx.bandwidth, err, errlen);
	if (!strcmp(k->key, "tx_ops"))
		return config_ini_bucket(k, &n->tx.ops, err, errlen);
	return config_ini_err(k, err, errlen, "unknown key");
}

/* The rx and tx rate limiters of @body into @n (@keep: a PATCH). */
static int limiters(struct net_config *n, json_t *body, bool keep, char *err,
                    size_t errlen)
{
	return jb_rate_limiter(jb_get(body, "rx_rate_limiter"),
	                       "network-interfaces: rx_rate_limiter", &n->rx,
	                       keep, err, errlen) < 0 ||
	                       jb_rate_limiter(
	                               jb_get(body, "tx_rate_limiter"),
	                               "network-interfaces: tx_rate_limiter",
	                               &n->tx, keep, err, errlen) < 0
	               ? -1
	               : 0;
}

static int put(struct config *c, const char *path_id, json_t *body, char *err,
               size_t errlen)
{
	static const struct jb_field f[] = {
		{ "iface_id", JB_STR, true },
		{ "host_dev_name", JB_STR, true },
		{ "guest_mac", JB_STR, false },
		{ "mtu", JB_UINT, false },
		{ "rx_rate_limiter", JB_OBJ, false },
		{ "tx_rate_limiter", JB_OBJ, false },
	};
	const char *w = "network-interfaces", *id, *dev, *mac;
	uint64_t mtu;
	struct net_config n = { 0 };
	int slot;

	if (jb_check(body, w, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	id = jb_str(body, "iface_id");
	if (path_id && strcmp(id, path_id))
		return util_err(
		        err, errlen,
		        "The id from the path [%s] does not match the id "
		        "from the body [%s]!",
		        path_id, id);
	if (jb_id(w, id, err, errlen) < 0)
		return -1;
	dev = jb_str(body, "host_dev_name");
	if (!ifname_ok(dev))
		return util_err(
		        err, errlen,
		        "%s: host_dev_name '%s' is not an interface name "
		        "(1-%d characters, no '/', ':' or spaces)",
		        w, dev, CONFIG_IFNAME_MAX - 1);
	snprintf(n.id, sizeof(n.id), "%s", id);
	snprintf(n.host_dev_name, sizeof(n.host_dev_name), "%s", dev);
	if ((mac = jb_str(body, "guest_mac"))) {
		if (parse_mac(mac, n.mac) < 0)
			return util_err(
			        err, errlen,
			        "%s: guest_mac '%s' is not a MAC address "
			        "(xx:xx:xx:xx:xx:xx)",
			        w, mac);
		if (n.mac[0] & 1)
			return util_err(
			        err, errlen,
			        "%s: guest_mac '%s' is a multicast address", w,
			        mac);
		n.has_mac = true;
	}
	/* Firecracker's range; absent: wisp tells the guest the tap's. */
	mtu = jb_u64(body, "mtu", 0);
	if (jb_get(body, "mtu") && (mtu < 68 || mtu > 65535))
		return util_err(err, errlen, "%s: mtu %llu is not in 68..65535",
		                w, (unsigned long long)mtu);
	n.mtu = (uint16_t)mtu;
	if (limiters(&n, body, false, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < c->nnets; i++) {
		const struct net_config *o = &c->nets[i];

		if (!strcmp(o->id, id))
			continue;
		if (n.has_mac && o->has_mac && !memcmp(o->mac, n.mac, 6))
			return util_err(
			        err, errlen,
			        "%s: guest_mac %s is already used by '%s'", w,
			        mac, o->id);
		if (!strcmp(o->host_dev_name, dev))
			return util_err(
			        err, errlen,
			        "%s: host_dev_name '%s' is already used by "
			        "'%s'",
			        w, dev, o->id);
	}
	slot = find(c, id);
	if (slot < 0) {
		if (c->nnets == CONFIG_MAX_NETS)
			return util_err(err, errlen,
			                "%s: at most %d interfaces", w,
			                CONFIG_MAX_NETS);
		slot = (int)c->nnets++;
	}
	c->nets[slot] = n;
	return 0;
}

/*
 * PATCH /network-interfaces/{id} on a running VM: the rate limiters; a
 * limiter or bucket the body does not name keeps its value.
 */
static int patch(struct vmm *m, const char *path_id, json_t *body, char *err,
                 size_t errlen)
{
	static const struct jb_field f[] = {
		{ "iface_id", JB_STR, true },
		{ "rx_rate_limiter", JB_OBJ, false },
		{ "tx_rate_limiter", JB_OBJ, false },
	};
	const char *w = "network-interfaces", *id;
	struct config *c = &m->cfg;
	struct virtio_mmio *t;
	struct net_config n;
	int slot;

	if (jb_check(body, w, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	id = jb_str(body, "iface_id");
	if (strcmp(id, path_id))
		return util_err(
		        err, errlen,
		        "The id from the path [%s] does not match the id "
		        "from the body [%s]!",
		        path_id, id);
	slot = find(c, id);
	if (slot < 0 || !(t = vdev_find(m, &vdev_net, (unsigned)slot)))
		return util_err(err, errlen, "%s: no interface '%s'", w, id);
	n = c->nets[slot];
	if (limiters(&n, body, true, err, errlen) < 0)
		return -1;
	c->nets[slot] = n;
	net_set_rate_limiters(t->dev,
	                      jb_get(body, "rx_rate_limiter") ? &n.rx : NULL,
	                      jb_get(body, "tx_rate_limiter") ? &n.tx : NULL);
	return 0;
}

static json_t *get(const struct config *c)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < c->nnets; i++) {
		const struct net_config *n = &c->nets[i];
		char mac[18];

		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
		         n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4],
		         n->mac[5]);
		json_t *o = json_pack(
		        "{s:s, s:s, s:o, s:o, s:o}", "iface_id", n->id,
		        "host_dev_name", n->host_dev_name, "guest_mac",
		        n->has_mac ? json_string(mac) : json_null(),
		        "rx_rate_limiter", jb_rate_limiter_json(&n->rx),
		        "tx_rate_limiter", jb_rate_limiter_json(&n->tx));

		if (o && n->mtu)
			json_object_set_new(o, "mtu", json_integer(n->mtu));
		json_array_append_new(a, o);
	}
	return a;
}

/* PUT /snapshot/load's network_overrides: a tap of its own per clone. */
static int override(struct config *c, json_t *v, char *err, size_t errlen)
{
	static const struct jb_field f[] = {
		{ "iface_id", JB_STR, true },
		{ "host_dev_name", JB_STR, true },
	};
	const char *w = "snapshot/load: network_overrides";
	json_t *e;
	size_t k;

	if (!json_is_array(v))
		return util_err(err, errlen, "%s: must be an array", w);
	json_array_foreach(v, k, e)
	{
		const char *id, *dev;
		int slot;

		if (jb_check(e, w, f, ARRAY_SIZE(f), err, errlen) < 0)
			return -1;
		id = jb_str(e, "iface_id");
		dev = jb_str(e, "host_dev_name");
		if (!ifname_ok(dev))
			return util_err(err, errlen,
			                "%s: host_dev_name '%s' is not an "
			                "interface name",
			                w, dev);
		slot = find(c, id);
		if (slot < 0)
			return util_err(
			        err, errlen,
			        "%s: the snapshot has no interface '%s'", w,
			        id);
		snprintf(c->nets[slot].host_dev_name,
		         sizeof(c->nets[slot].host_dev_name), "%s", dev);
	}
	return 0;
}

#define M(group, name) (&metrics.group##_##name)

const struct vdev_conf net_conf = {
	.max = CONFIG_MAX_NETS,
	.size = sizeof(struct net_config),
	.item = item,
	.set_count = set_count,
	.snap = &net_snapcfg,
	.check = check,
	.ini_section = "net",
	.ini_id = true,
	.ini_key = ini_key,
	.json_key = "network-interfaces",
	.json_array = true,
	.api_path = "/network-interfaces/",
	.put = put,
	.patch = patch,
	.get = get,
	.put_count = M(put_api_requests, network_count),
	.put_fails = M(put_api_requests, network_fails),
	.patch_count = M(patch_api_requests, network_count),
	.patch_fails = M(patch_api_requests, network_fails),
	.override_key = "network_overrides",
	.override = override,
};
