/*
 * snapcfg_check(): a restored configuration obeys the rules a fresh one
 * does (api/fcjson.c for the API, vmm/config.c for the INI file), with
 * the same value checks where they are shared (config_id_ok() ...), so a
 * state file cannot give wisp a machine no request could have asked for.
 */
#include "util.h"
#include "snapconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* @s is a string within its array of @size bytes. */
static bool terminated(const char *s, size_t size)
{
	return memchr(s, 0, size) != NULL;
}

#define TERMINATED(s) terminated(s, sizeof(s))

static int check_machine(const struct config *c, char *err, size_t errlen)
{
	if (c->vcpus < 1 || c->vcpus > CONFIG_MAX_VCPUS)
		return util_err(err, errlen, "vcpu_count %u is not in 1..%d",
		                c->vcpus, CONFIG_MAX_VCPUS);
	if (c->mem_mib < CONFIG_MIN_MEM_MIB || c->mem_mib > CONFIG_MAX_MEM_MIB)
		return util_err(err, errlen,
		                "mem_size_mib %llu is not in %llu..%llu",
		                (unsigned long long)c->mem_mib,
		                CONFIG_MIN_MEM_MIB, CONFIG_MAX_MEM_MIB);
	if (c->huge_pages != HUGE_PAGES_NONE && c->huge_pages != HUGE_PAGES_2M)
		return util_err(err, errlen, "huge_pages %d is not None or 2M",
		                (int)c->huge_pages);
	if (c->huge_pages == HUGE_PAGES_2M && c->mem_mib % 2)
		return util_err(
		        err, errlen,
		        "mem_size_mib %llu is not a multiple of the 2 MiB "
		        "huge page",
		        (unsigned long long)c->mem_mib);
	if (c->ndrives > CONFIG_MAX_DRIVES)
		return util_err(err, errlen, "%u drives, at most %d",
		                c->ndrives, CONFIG_MAX_DRIVES);
	if (c->nnets > CONFIG_MAX_NETS)
		return util_err(err, errlen,
		                "%u network interfaces, at most %d", c->nnets,
		                CONFIG_MAX_NETS);
	return 0;
}

static int check_drive(const struct config *c, unsigned i, char *err,
                       size_t errlen)
{
	const struct drive_config *d = &c->drives[i];

	if (!TERMINATED(d->id) || !TERMINATED(d->path) ||
	    !TERMINATED(d->partuuid))
		return util_err(err, errlen,
		                "drive %u: a string runs past its end", i);
	if (!config_id_ok(d->id))
		return util_err(err, errlen,
		                "drive %u: drive_id '%s' is not 1-%d letters, "
		                "digits, '_' or '-'",
		                i, d->id, CONFIG_ID_MAX - 1);
	if (!d->path[0])
		return util_err(err, errlen,
		                "drive '%s': path_on_host is empty", d->id);
	if (d->partuuid[0] && !config_partuuid_ok(d->partuuid))
		return util_err(
		        err, errlen,
		        "drive '%s': partuuid '%s' is not a partition UUID",
		        d->id, d->partuuid);
	if (d->direct && d->no_flush)
		return util_err(
		        err, errlen,
		        "drive '%s': cache_type is both Unsafe and O_DIRECT",
		        d->id);
	for (unsigned j = 0; j < i; j++) {
		if (!strcmp(c->drives[j].id, d->id))
			return util_err(err, errlen,
			                "drive_id '%s' is given twice", d->id);
		if (d->root && c->drives[j].root)
			return util_err(
			        err, errlen,
			        "drives '%s' and '%s' are both the root "
			        "device",
			        c->drives[j].id, d->id);
	}
	return 0;
}

static int check_net(const struct config *c, unsigned i, char *err,
                     size_t errlen)
{
	const struct net_config *n = &c->nets[i];

	if (!TERMINATED(n->id) || !TERMINATED(n->host_dev_name))
		return util_err(err, errlen,
		                "interface %u: a string runs past its end", i);
	if (!config_id_ok(n->id))
		return util_err(
		        err, errlen,
		        "interface %u: iface_id '%s' is not 1-%d letters, "
		        "digits, '_' or '-'",
		        i, n->id, CONFIG_ID_MAX - 1);
	if (!config_ifname_ok(n->host_dev_name))
		return util_err(
		        err, errlen,
		        "interface '%s': host_dev_name '%s' is not an "
		        "interface name (1-%d characters, no '/', ':' or "
		        "spaces)",
		        n->id, n->host_dev_name, CONFIG_IFNAME_MAX - 1);
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

static int check_vsock(const struct vsock_config *v, char *err, size_t errlen)
{
	if (!TERMINATED(v->uds_path) || !TERMINATED(v->id))
		return util_err(err, errlen,
		                "vsock: a string runs past its end");
	if (!config_cid_ok(v->guest_cid))
		return util_err(err, errlen,
		                "vsock: guest_cid %u is not in 3..4294967294",
		                v->guest_cid);
	if (!v->uds_path[0])
		return util_err(err, errlen, "vsock: uds_path is empty");
	if (v->id[0] && !config_id_ok(v->id))
		return util_err(
		        err, errlen,
		        "vsock: vsock_id '%s' is not 1-%d letters, digits, "
		        "'_' or '-'",
		        v->id, CONFIG_ID_MAX - 1);
	return 0;
}

int snapcfg_check(const struct config *c, char *err, size_t errlen)
{
	if (check_machine(c, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < c->ndrives; i++)
		if (check_drive(c, i, err, errlen) < 0)
			return -1;
	for (unsigned i = 0; i < c->nnets; i++)
		if (check_net(c, i, err, errlen) < 0)
			return -1;
	return c->vsock.present ? check_vsock(&c->vsock, err, errlen) : 0;
}
