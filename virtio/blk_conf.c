/*
 * virtio-blk's configuration (vmm/vdev.h, struct vdev_conf): the drives
 * of struct config, as the INI file ([drive.ID]), Firecracker's JSON and
 * REST API (/drives/{id}) and a snapshot give them.
 */
#include "blk.h"
#include "jbody.h"
#include "log.h"
#include "metrics.h"
#include "snapconfig.h"
#include "util.h"
#include "vdev.h"
#include "vmm.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void *item(struct config *c, unsigned i)
{
	return &c->drives[i];
}

static void set_count(struct config *c, unsigned n)
{
	c->ndrives = n;
}

/* A partition UUID for root=PARTUUID=: 1-39 hex digits and '-'. */
static bool partuuid_ok(const char *s)
{
	return *s && strlen(s) < sizeof(((struct drive_config *)0)->partuuid) &&
	       strspn(s, "0123456789abcdefABCDEF-") == strlen(s);
}

/* The slot of drive @id, or -1. */
static int find(const struct config *c, const char *id)
{
	for (unsigned i = 0; i < c->ndrives; i++)
		if (!strcmp(c->drives[i].id, id))
			return (int)i;
	return -1;
}

#define TERMINATED(s) (memchr(s, 0, sizeof(s)) != NULL)

static int check(const struct config *c, unsigned i, char *err, size_t errlen)
{
	const struct drive_config *d = &c->drives[i];

	if (!TERMINATED(d->id) || !TERMINATED(d->path) ||
	    !TERMINATED(d->partuuid))
		return util_err(err, errlen,
		                "drive %u: a string runs past its end", i);
	if (!config_id_ok(d->id))
		return util_err(err, errlen,
		                "drive %u: drive_id '%s' is not 1-%d letters, "
		                "digits or '_'",
		                i, d->id, CONFIG_ID_MAX - 1);
	if (!d->path[0])
		return util_err(err, errlen,
		                "drive '%s': no path (path_on_host)", d->id);
	if (d->partuuid[0] && !partuuid_ok(d->partuuid))
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

/* [drive.ID]: path, root, read_only, cache (writeback|none), bandwidth,
 * ops. */
static int ini_key(struct config *c, const struct config_ini_key *k, char *err,
                   size_t errlen)
{
	int slot = find(c, k->id);
	struct drive_config *d;
	bool *flag = NULL;

	if (slot < 0) {
		if (c->ndrives == CONFIG_MAX_DRIVES)
			return util_err(err, errlen,
			                "[%s]: more than %d drives", k->section,
			                CONFIG_MAX_DRIVES);
		slot = (int)c->ndrives++;
		memset(&c->drives[slot], 0, sizeof(c->drives[slot]));
		snprintf(c->drives[slot].id, sizeof(c->drives[slot].id), "%s",
		         k->id);
	}
	d = &c->drives[slot];
	if (!strcmp(k->key, "path"))
		return config_ini_path(k, d->path, true, err, errlen);
	if (!strcmp(k->key, "bandwidth"))
		return config_ini_bucket(k, &d->rl.bandwidth, err, errlen);
	if (!strcmp(k->key, "ops"))
		return config_ini_bucket(k, &d->rl.ops, err, errlen);
	if (!strcmp(k->key, "cache")) {
		if (strcmp(k->value, "writeback") && strcmp(k->value, "none"))
			return config_ini_err(k, err, errlen,
			                      "'%s' is not writeback or none",
			                      k->value);
		d->direct = !strcmp(k->value, "none");
		return 0;
	}
	if (!strcmp(k->key, "root"))
		flag = &d->root;
	else if (!strcmp(k->key, "read_only"))
		flag = &d->read_only;
	else
		return config_ini_err(k, err, errlen, "unknown key");
	if (config_ini_bool(k->value, flag) < 0)
		return config_ini_err(k, err, errlen, "'%s' is not yes or no",
		                      k->value);
	return 0;
}

/* A drive's enumerations from the body into @d; 0 or -1. */
static int put_modes(struct drive_config *d, json_t *body, char *err,
                     size_t errlen)
{
	const char *s;

	if ((s = jb_str(body, "partuuid"))) {
		if (!partuuid_ok(s))
			return util_err(
			        err, errlen,
			        "drives: partuuid '%s' is not a partition UUID",
			        s);
		snprintf(d->partuuid, sizeof(d->partuuid), "%s", s);
	}
	/* Firecracker's default, Unsafe: the guest is offered no FLUSH. */
	d->no_flush = true;
	if ((s = jb_str(body, "cache_type"))) {
		if (!strcmp(s, "Writeback"))
			d->no_flush = false;
		else if (strcmp(s, "Unsafe"))
			return util_err(err, errlen,
			                "drives: cache_type '%s' is not Unsafe "
			                "or Writeback",
			                s);
	}
	if ((s = jb_str(body, "io_engine"))) {
		if (!strcmp(s, "Sync"))
			d->io_sync = true;
		else if (strcmp(s, "Async"))
			return util_err(
			        err, errlen,
			        "drives: io_engine '%s' is not Sync or Async",
			        s);
	}
	return 0;
}

static int put(struct config *c, const char *path_id, json_t *body, char *err,
               size_t errlen)
{
	static const struct jb_field f[] = {
		{ "drive_id", JB_STR, true },
		{ "path_on_host", JB_STR, false },
		{ "is_root_device", JB_BOOL, true },
		{ "is_read_only", JB_BOOL, false },
		{ "partuuid", JB_STR, false },
		{ "cache_type", JB_STR, false },
		{ "io_engine", JB_STR, false },
		{ "rate_limiter", JB_OBJ, false },
		{ "socket", JB_STR, false },
	};
	const char *w = "drives", *id, *path;
	struct drive_config d = { 0 };
	struct stat st;
	int slot;

	if (jb_check(body, w, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	id = jb_str(body, "drive_id");
	if (path_id && strcmp(id, path_id))
		return util_err(err, errlen, JB_ID_MISMATCH);
	if (jb_id(w, id, err, errlen) < 0)
		return -1;
	if (jb_get(body, "socket"))
		return util_err(
		        err, errlen,
		        "%s: socket: vhost-user drives are not supported", w);
	path = jb_str(body, "path_on_host");
	if (!path)
		return util_err(err, errlen, "%s: missing field 'path_on_host'",
		                w);
	snprintf(d.id, sizeof(d.id), "%s", id);
	d.root = jb_bool(body, "is_root_device", false);
	d.read_only = jb_bool(body, "is_read_only", false);
	if (jb_path(w, "path_on_host", path, d.read_only ? R_OK : R_OK | W_OK,
	            err, errlen) < 0)
		return -1;
	if (stat(path, &st) < 0 ||
	    (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)))
		return util_err(err, errlen,
		                "%s: path_on_host '%s' is not a file or block "
		                "device",
		                w, path);
	snprintf(d.path, sizeof(d.path), "%s", path);
	if (put_modes(&d, body, err, errlen) < 0 ||
	    jb_rate_limiter(jb_get(body, "rate_limiter"),
	                    "drives: rate_limiter", &d.rl, false, err,
	                    errlen) < 0)
		return -1;
	for (unsigned i = 0; i < c->ndrives; i++)
		if (d.root && c->drives[i].root && strcmp(c->drives[i].id, id))
			return util_err(
			        err, errlen,
			        "%s: drive '%s' is already the root device", w,
			        c->drives[i].id);
	slot = find(c, id);
	if (slot < 0) {
		if (c->ndrives == CONFIG_MAX_DRIVES)
			return util_err(err, errlen, "%s: at most %d drives", w,
			                CONFIG_MAX_DRIVES);
		slot = (int)c->ndrives++;
	}
	c->drives[slot] = d;
	return 0;
}

/*
 * PATCH /drives/{id} on a running VM: a new backing file (the guest sees
 * the new size on its next configuration read) and rate limiter buckets
 * (a bucket the body does not name keeps its value).
 */
static int patch(struct vmm *m, const char *path_id, json_t *body, char *err,
                 size_t errlen)
{
	static const struct jb_field f[] = {
		{ "drive_id", JB_STR, true },
		{ "path_on_host", JB_STR, false },
		{ "rate_limiter", JB_OBJ, false },
	};
	const char *w = "drives", *id, *path;
	struct config *c = &m->cfg;
	struct drive_config *d;
	struct rate_limiter_config rl;
	struct virtio_mmio *t;
	int slot;

	if (jb_check(body, w, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	id = jb_str(body, "drive_id");
	if (strcmp(id, path_id))
		return util_err(err, errlen, JB_ID_MISMATCH);
	slot = find(c, id);
	if (slot < 0 || !(t = vdev_find(m, &vdev_blk, (unsigned)slot)))
		return util_err(err, errlen, "%s: no drive '%s'", w, id);
	d = &c->drives[slot];
	path = jb_str(body, "path_on_host");
	if (!path && !jb_get(body, "rate_limiter"))
		return util_err(err, errlen,
		                "%s: nothing to change (give path_on_host or "
		                "rate_limiter)",
		                w);
	if (path && (!*path || strlen(path) >= sizeof(d->path)))
		return util_err(err, errlen,
		                "%s: 'path_on_host' is empty or too long", w);
	rl = d->rl;
	if (jb_rate_limiter(jb_get(body, "rate_limiter"),
	                    "drives: rate_limiter", &rl, true, err, errlen) < 0)
		return -1;
	if (path) {
		if (blk_set_path(t->dev, path, err, errlen) < 0)
			return -1;
		snprintf(d->path, sizeof(d->path), "%s", path);
		log_info("drive '%s' now backed by '%s'", d->id, d->path);
	}
	if (jb_get(body, "rate_limiter")) {
		d->rl = rl;
		blk_set_rate_limiter(t->dev, &d->rl);
	}
	return 0;
}

static json_t *drive_json(const struct drive_config *d)
{
	return json_pack("{s:s, s:o, s:b, s:s, s:b, s:s, s:o, s:s, s:n}",
	                 "drive_id", d->id, "partuuid",
	                 jb_str_or_null(d->partuuid), "is_root_device", d->root,
	                 "cache_type", d->no_flush ? "Unsafe" : "Writeback",
	                 "is_read_only", d->read_only, "path_on_host", d->path,
	                 "rate_limiter", jb_rate_limiter_json(&d->rl),
	                 "io_engine", d->io_sync ? "Sync" : "Async", "socket");
}

/* The drives, the root first as it boots: it becomes /dev/vda. */
static json_t *get(const struct config *c)
{
	json_t *a = json_array();

	for (int pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < c->ndrives; i++)
			if (c->drives[i].root == !pass)
				json_array_append_new(
				        a, drive_json(&c->drives[i]));
	return a;
}

#define M(group, name) (&metrics.group##_##name)

const struct vdev_conf blk_conf = {
	.max = CONFIG_MAX_DRIVES,
	.size = sizeof(struct drive_config),
	.item = item,
	.set_count = set_count,
	.snap = &blk_snapcfg,
	.check = check,
	.ini_section = "drive",
	.ini_id = true,
	.ini_key = ini_key,
	.json_key = "drives",
	.json_array = true,
	.api_path = "/drives/",
	.put = put,
	.patch = patch,
	.get = get,
	.put_count = M(put_api_requests, drive_count),
	.put_fails = M(put_api_requests, drive_fails),
	.patch_count = M(patch_api_requests, drive_count),
	.patch_fails = M(patch_api_requests, drive_fails),
};
