/*
 * virtio-vsock's configuration (vmm/vdev.h, struct vdev_conf): the one
 * vsock device of struct config, as the INI file ([vsock]), Firecracker's
 * JSON and REST API (/vsock) and a snapshot (with PUT /snapshot/load's
 * vsock_override) give it.
 */
#include "jbody.h"
#include "metrics.h"
#include "snapconfig.h"
#include "util.h"
#include "vdev.h"
#include "vsock.h"

#include <stdio.h>
#include <string.h>

static void *item(struct config *c, unsigned i)
{
	(void)i;
	return &c->vsock;
}

static void set_count(struct config *c, unsigned n)
{
	c->vsock.present = n != 0;
}

/* A vsock guest CID: 0-2 are the hypervisor, local and host addresses. */
static bool cid_ok(uint64_t cid)
{
	return cid >= 3 && cid <= UINT32_MAX - 1;
}

#define TERMINATED(s) (memchr(s, 0, sizeof(s)) != NULL)

static int check(const struct config *c, unsigned i, char *err, size_t errlen)
{
	const struct vsock_config *v = &c->vsock;

	(void)i;
	if (!TERMINATED(v->uds_path) || !TERMINATED(v->id))
		return util_err(err, errlen,
		                "vsock: a string runs past its end");
	if (!v->uds_path[0])
		return util_err(err, errlen,
		                "vsock: needs both guest_cid and uds_path "
		                "(uds_path is empty)");
	return 0;
}

/* A Unix socket path: 1 .. CONFIG_UDS_MAX - 1 bytes. */
static bool uds_ok(const char *p)
{
	return *p && strlen(p) < CONFIG_UDS_MAX;
}

/* [vsock]: guest_cid, uds_path. */
static int ini_key(struct config *c, const struct config_ini_key *k, char *err,
                   size_t errlen)
{
	uint64_t v;

	c->vsock.present = true;
	if (!strcmp(k->key, "guest_cid")) {
		if (!util_parse_u64(k->value, &v) || !cid_ok(v))
			return config_ini_err(k, err, errlen,
			                      "'%s' is not a number in "
			                      "3..4294967294",
			                      k->value);
		c->vsock.guest_cid = (uint32_t)v;
		return 0;
	}
	if (!strcmp(k->key, "uds_path")) {
		if (!uds_ok(k->value))
			return config_ini_err(k, err, errlen,
			                      "must be 1-%d bytes (a Unix "
			                      "socket path)",
			                      CONFIG_UDS_MAX - 1);
		snprintf(c->vsock.uds_path, sizeof(c->vsock.uds_path), "%s",
		         k->value);
		return 0;
	}
	return config_ini_err(k, err, errlen, "unknown key");
}

static int put(struct config *c, const char *path_id, json_t *body, char *err,
               size_t errlen)
{
	static const struct jb_field f[] = {
		{ "guest_cid", JB_UINT, true },
		{ "uds_path", JB_STR, true },
		{ "vsock_id", JB_STR, false },
	};
	const char *w = "vsock", *uds, *id;
	uint64_t cid;

	(void)path_id;
	if (jb_check(body, w, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	cid = jb_u64(body, "guest_cid", 0);
	uds = jb_str(body, "uds_path");
	id = jb_str(body, "vsock_id");
	/* Any u32, as Firecracker takes it (firecracker-containerd sends
	 * 0 and talks to the guest through uds_path only). */
	if (cid > UINT32_MAX)
		return util_err(err, errlen,
		                "%s: guest_cid %llu is not a 32-bit number", w,
		                (unsigned long long)cid);
	if (!uds_ok(uds))
		return util_err(
		        err, errlen,
		        "%s: uds_path must be 1-%d bytes (a Unix socket "
		        "path)",
		        w, CONFIG_UDS_MAX - 1);
	/* Deprecated and unused, as in Firecracker, which takes any string:
	 * only its length is wisp's. */
	if (id && strlen(id) >= sizeof(c->vsock.id))
		return util_err(err, errlen,
		                "%s: vsock_id is longer than %zu bytes", w,
		                sizeof(c->vsock.id) - 1);
	c->vsock.present = true;
	c->vsock.guest_cid = (uint32_t)cid;
	snprintf(c->vsock.uds_path, sizeof(c->vsock.uds_path), "%s", uds);
	snprintf(c->vsock.id, sizeof(c->vsock.id), "%s", id ? id : "");
	return 0;
}

static json_t *get(const struct config *c)
{
	if (!c->vsock.present)
		return json_null();
	return json_pack("{s:I, s:s}", "guest_cid",
	                 (json_int_t)c->vsock.guest_cid, "uds_path",
	                 c->vsock.uds_path);
}

/* PUT /snapshot/load's vsock_override: the socket path of a clone. */
static int override(struct config *c, json_t *v, char *err, size_t errlen)
{
	static const struct jb_field f[] = {
		{ "uds_path", JB_STR, true },
	};
	const char *w = "snapshot/load: vsock_override", *uds;

	if (jb_check(v, w, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	uds = jb_str(v, "uds_path");
	if (!uds_ok(uds))
		return util_err(err, errlen, "%s: uds_path must be 1-%d bytes",
		                w, CONFIG_UDS_MAX - 1);
	if (!c->vsock.present)
		return util_err(err, errlen,
		                "%s: the snapshot has no vsock device", w);
	snprintf(c->vsock.uds_path, sizeof(c->vsock.uds_path), "%s", uds);
	return 0;
}

#define M(group, name) (&metrics.group##_##name)

const struct vdev_conf vsock_conf = {
	.max = 1,
	.size = sizeof(struct vsock_config),
	.item = item,
	.set_count = set_count,
	.snap = &vsock_snapcfg,
	.check = check,
	.ini_section = "vsock",
	.ini_key = ini_key,
	.json_key = "vsock",
	.api_path = "/vsock",
	.put = put,
	.get = get,
	.put_count = M(put_api_requests, vsock_count),
	.put_fails = M(put_api_requests, vsock_fails),
	.override_key = "vsock_override",
	.override = override,
};
