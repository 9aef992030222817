#include "fcjson.h"
#include "log.h"
#include "metrics.h"
#include "util.h"
#include "vmm.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum ftype { F_BOOL, F_UINT, F_STR, F_OBJ, F_ARRAY };

struct field {
	const char *name;
	enum ftype type;
	bool required;
};

static const char *type_name(enum ftype t)
{
	static const char *const names[] = {
		[F_BOOL] = "a boolean", [F_UINT] = "a non-negative integer",
		[F_STR] = "a string",   [F_OBJ] = "an object",
		[F_ARRAY] = "an array",
	};
	return names[t];
}

static bool has_type(json_t *v, enum ftype t)
{
	switch (t) {
	case F_BOOL:
		return json_is_boolean(v);
	case F_UINT:
		return json_is_integer(v) && json_integer_value(v) >= 0;
	case F_STR:
		return json_is_string(v);
	case F_OBJ:
		return json_is_object(v);
	case F_ARRAY:
		return json_is_array(v);
	}
	return false;
}

/*
 * @o is an object whose keys are all in @f, each of its type (null stands
 * for an absent optional field), with every required field present.
 */
static int check(json_t *o, const char *what, const struct field *f, size_t n,
                 char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	if (!json_is_object(o))
		return util_err(err, errlen,
		                "%s: the body must be a JSON object", what);
	json_object_foreach(o, key, v)
	{
		size_t i;

		for (i = 0; i < n && strcmp(key, f[i].name); i++)
			;
		if (i == n)
			return util_err(err, errlen, "%s: unknown field '%s'",
			                what, key);
		if (json_is_null(v) && !f[i].required)
			continue;
		if (!has_type(v, f[i].type))
			return util_err(err, errlen, "%s: '%s' must be %s",
			                what, key, type_name(f[i].type));
	}
	for (size_t i = 0; i < n; i++)
		if (f[i].required && !json_object_get(o, f[i].name))
			return util_err(err, errlen, "%s: missing field '%s'",
			                what, f[i].name);
	return 0;
}

/* The field's value when given and not null, else NULL. */
static json_t *get(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	return json_is_null(v) ? NULL : v;
}

static uint64_t get_u64(json_t *o, const char *name, uint64_t def)
{
	json_t *v = get(o, name);

	return v ? (uint64_t)json_integer_value(v) : def;
}

static bool get_bool(json_t *o, const char *name, bool def)
{
	json_t *v = get(o, name);

	return v ? json_is_true(v) : def;
}

static const char *get_str(json_t *o, const char *name)
{
	json_t *v = get(o, name);

	return v ? json_string_value(v) : NULL;
}

/* A path the VMM will open: not empty, not too long, and there. */
static int check_path(const char *what, const char *field, const char *p,
                      int mode, char *err, size_t errlen)
{
	if (!*p || strlen(p) >= CONFIG_PATH_MAX)
		return util_err(err, errlen, "%s: '%s' is empty or too long",
		                what, field);
	if (access(p, mode) < 0)
		return util_err(err, errlen, "%s: %s '%s': %s", what, field, p,
		                strerror(errno));
	return 0;
}

/* Resource ids: what an INI section name and a URL segment can hold. */
static int check_id(const char *what, const char *id, char *err, size_t errlen)
{
	if (!config_id_ok(id))
		return util_err(
		        err, errlen,
		        "%s: the id must be 1-%d letters, digits, '_' or "
		        "'-'",
		        what, CONFIG_ID_MAX - 1);
	return 0;
}

static int bucket(json_t *o, const char *what, struct bucket_config *b,
                  char *err, size_t errlen)
{
	static const struct field f[] = {
		{ "size", F_UINT, true },
		{ "one_time_burst", F_UINT, false },
		{ "refill_time", F_UINT, true },
	};

	memset(b, 0, sizeof(*b));
	if (!o)
		return 0;
	if (check(o, what, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	b->size = get_u64(o, "size", 0);
	b->one_time_burst = get_u64(o, "one_time_burst", 0);
	b->refill_time_ms = get_u64(o, "refill_time", 0);
	/* Firecracker: a bucket of size or refill time 0 is no limit. */
	b->set = b->size && b->refill_time_ms;
	return 0;
}

static int rate_limiter(json_t *o, const char *what,
                        struct rate_limiter_config *rl, char *err,
                        size_t errlen)
{
	static const struct field f[] = {
		{ "bandwidth", F_OBJ, false },
		{ "ops", F_OBJ, false },
	};
	char w[96];

	memset(rl, 0, sizeof(*rl));
	if (!o)
		return 0;
	if (check(o, what, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	snprintf(w, sizeof(w), "%s.bandwidth", what);
	if (bucket(get(o, "bandwidth"), w, &rl->bandwidth, err, errlen) < 0)
		return -1;
	snprintf(w, sizeof(w), "%s.ops", what);
	return bucket(get(o, "ops"), w, &rl->ops, err, errlen);
}

int fc_machine_config(struct config *c, json_t *body, bool patch, char *err,
                      size_t errlen)
{
	static const struct field f[] = {
		{ "vcpu_count", F_UINT, true },
		{ "mem_size_mib", F_UINT, true },
		{ "smt", F_BOOL, false },
		{ "track_dirty_pages", F_BOOL, false },
		{ "huge_pages", F_STR, false },
		{ "cpu_template", F_STR, false },
	};
	struct field fp[ARRAY_SIZE(f)];
	const char *w = "machine-config", *s;
	uint64_t vcpus, mem;
	bool smt, dirty;
	enum huge_pages huge;

	memcpy(fp, f, sizeof(f));
	for (size_t i = 0; patch && i < ARRAY_SIZE(fp); i++)
		fp[i].required = false;
	if (check(body, w, fp, ARRAY_SIZE(fp), err, errlen) < 0)
		return -1;
	if (patch && !json_object_size(body))
		return util_err(err, errlen, "%s: empty PATCH request", w);
	vcpus = get_u64(body, "vcpu_count", patch ? c->vcpus : 1);
	mem = get_u64(body, "mem_size_mib", patch ? c->mem_mib : 128);
	smt = get_bool(body, "smt", patch ? c->smt : false);
	dirty = get_bool(body, "track_dirty_pages",
	                 patch ? c->track_dirty_pages : false);
	huge = patch ? c->huge_pages : HUGE_PAGES_NONE;
	if ((s = get_str(body, "huge_pages"))) {
		if (!strcmp(s, "None"))
			huge = HUGE_PAGES_NONE;
		else if (!strcmp(s, "2M"))
			huge = HUGE_PAGES_2M;
		else
			return util_err(err, errlen,
			                "%s: huge_pages '%s' is not None or 2M",
			                w, s);
	}
	if ((s = get_str(body, "cpu_template")) && strcmp(s, "None"))
		return util_err(
		        err, errlen,
		        "%s: cpu_template '%s': wisp has no CPU templates "
		        "(only None)",
		        w, s);
	if (vcpus < 1 || vcpus > CONFIG_MAX_VCPUS)
		return util_err(err, errlen,
		                "%s: vcpu_count %llu is not in 1..%d", w,
		                (unsigned long long)vcpus, CONFIG_MAX_VCPUS);
	if (mem < CONFIG_MIN_MEM_MIB || mem > CONFIG_MAX_MEM_MIB)
		return util_err(err, errlen,
		                "%s: mem_size_mib %llu is not in %llu..%llu", w,
		                (unsigned long long)mem, CONFIG_MIN_MEM_MIB,
		                CONFIG_MAX_MEM_MIB);
	if (huge == HUGE_PAGES_2M && mem % 2)
		return util_err(
		        err, errlen,
		        "%s: mem_size_mib %llu is not a multiple of the "
		        "2 MiB huge page",
		        w, (unsigned long long)mem);
	if (smt)
		return util_err(
		        err, errlen,
		        "%s: smt: wisp offers no SMT topology (only false)", w);
	c->vcpus = (unsigned)vcpus;
	c->mem_mib = mem;
	c->smt = smt;
	c->track_dirty_pages = dirty;
	c->huge_pages = huge;
	return 0;
}

int fc_boot_source(struct config *c, json_t *body, char *err, size_t errlen)
{
	static const struct field f[] = {
		{ "kernel_image_path", F_STR, true },
		{ "initrd_path", F_STR, false },
		{ "boot_args", F_STR, false },
	};
	const char *w = "boot-source", *kernel, *initrd, *args;
	char *dup;

	if (check(body, w, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	kernel = get_str(body, "kernel_image_path");
	initrd = get_str(body, "initrd_path");
	args = get_str(body, "boot_args");
	if (check_path(w, "kernel_image_path", kernel, R_OK, err, errlen) < 0 ||
	    (initrd &&
	     check_path(w, "initrd_path", initrd, R_OK, err, errlen) < 0))
		return -1;
	if (!args)
		args = FC_DEFAULT_BOOT_ARGS;
	if (strlen(args) >= X86_CMDLINE_MAX)
		return util_err(err, errlen,
		                "%s: boot_args is longer than the %d bytes of "
		                "Linux's command line",
		                w, X86_CMDLINE_MAX - 1);
	dup = strdup(args);
	if (!dup)
		return util_err(err, errlen, "%s: out of memory", w);
	snprintf(c->kernel, sizeof(c->kernel), "%s", kernel);
	snprintf(c->initrd, sizeof(c->initrd), "%s", initrd ? initrd : "");
	free(c->cmdline);
	c->cmdline = dup;
	return 0;
}

int fc_drive(struct config *c, const char *path_id, json_t *body, char *err,
             size_t errlen)
{
	static const struct field f[] = {
		{ "drive_id", F_STR, true },
		{ "path_on_host", F_STR, false },
		{ "is_root_device", F_BOOL, true },
		{ "is_read_only", F_BOOL, false },
		{ "partuuid", F_STR, false },
		{ "cache_type", F_STR, false },
		{ "io_engine", F_STR, false },
		{ "rate_limiter", F_OBJ, false },
		{ "socket", F_STR, false },
	};
	const char *w = "drives", *id, *path, *s;
	struct drive_config d = { 0 };
	struct stat st;
	int slot = -1;

	if (check(body, w, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	id = get_str(body, "drive_id");
	if (path_id && strcmp(id, path_id))
		return util_err(
		        err, errlen,
		        "%s: drive_id '%s' does not match '%s' in the path", w,
		        id, path_id);
	if (check_id(w, id, err, errlen) < 0)
		return -1;
	if (get(body, "socket"))
		return util_err(
		        err, errlen,
		        "%s: socket: vhost-user drives are not supported", w);
	path = get_str(body, "path_on_host");
	if (!path)
		return util_err(err, errlen, "%s: missing field 'path_on_host'",
		                w);
	snprintf(d.id, sizeof(d.id), "%s", id);
	d.root = get_bool(body, "is_root_device", false);
	d.read_only = get_bool(body, "is_read_only", false);
	if (check_path(w, "path_on_host", path,
	               d.read_only ? R_OK : R_OK | W_OK, err, errlen) < 0)
		return -1;
	if (stat(path, &st) < 0 ||
	    (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)))
		return util_err(err, errlen,
		                "%s: path_on_host '%s' is not a file or block "
		                "device",
		                w, path);
	snprintf(d.path, sizeof(d.path), "%s", path);
	if ((s = get_str(body, "partuuid"))) {
		if (!config_partuuid_ok(s))
			return util_err(
			        err, errlen,
			        "%s: partuuid '%s' is not a partition UUID", w,
			        s);
		snprintf(d.partuuid, sizeof(d.partuuid), "%s", s);
	}
	/* Firecracker's default, Unsafe: the guest is offered no FLUSH. */
	d.no_flush = true;
	if ((s = get_str(body, "cache_type"))) {
		if (!strcmp(s, "Writeback"))
			d.no_flush = false;
		else if (strcmp(s, "Unsafe"))
			return util_err(err, errlen,
			                "%s: cache_type '%s' is not Unsafe or "
			                "Writeback",
			                w, s);
	}
	if ((s = get_str(body, "io_engine"))) {
		if (!strcmp(s, "Sync"))
			d.io_sync = true;
		else if (strcmp(s, "Async"))
			return util_err(
			        err, errlen,
			        "%s: io_engine '%s' is not Sync or Async", w,
			        s);
	}
	if (rate_limiter(get(body, "rate_limiter"), "drives: rate_limiter",
	                 &d.rl, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < c->ndrives; i++) {
		if (!strcmp(c->drives[i].id, id))
			slot = (int)i;
		else if (d.root && c->drives[i].root)
			return util_err(
			        err, errlen,
			        "%s: drive '%s' is already the root device", w,
			        c->drives[i].id);
	}
	if (slot < 0) {
		if (c->ndrives == CONFIG_MAX_DRIVES)
			return util_err(err, errlen, "%s: at most %d drives", w,
			                CONFIG_MAX_DRIVES);
		slot = (int)c->ndrives++;
	}
	c->drives[slot] = d;
	return 0;
}

int fc_drive_patch(const char *path_id, json_t *body, struct fc_drive_patch *p,
                   char *err, size_t errlen)
{
	static const struct field f[] = {
		{ "drive_id", F_STR, true },
		{ "path_on_host", F_STR, false },
		{ "rate_limiter", F_OBJ, false },
	};
	const char *w = "drives", *id, *path;

	memset(p, 0, sizeof(*p));
	if (check(body, w, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	id = get_str(body, "drive_id");
	if (strcmp(id, path_id))
		return util_err(
		        err, errlen,
		        "%s: drive_id '%s' does not match '%s' in the path", w,
		        id, path_id);
	if ((path = get_str(body, "path_on_host"))) {
		if (!*path || strlen(path) >= sizeof(p->path))
			return util_err(
			        err, errlen,
			        "%s: 'path_on_host' is empty or too long", w);
		p->has_path = true;
		snprintf(p->path, sizeof(p->path), "%s", path);
	}
	if (get(body, "rate_limiter")) {
		p->has_rl = true;
		if (rate_limiter(get(body, "rate_limiter"),
		                 "drives: rate_limiter", &p->rl, err,
		                 errlen) < 0)
			return -1;
	}
	if (!p->has_path && !p->has_rl)
		return util_err(err, errlen,
		                "%s: nothing to change (give path_on_host or "
		                "rate_limiter)",
		                w);
	return 0;
}

int fc_net(struct config *c, const char *path_id, json_t *body, char *err,
           size_t errlen)
{
	static const struct field f[] = {
		{ "iface_id", F_STR, true },
		{ "host_dev_name", F_STR, true },
		{ "guest_mac", F_STR, false },
		{ "rx_rate_limiter", F_OBJ, false },
		{ "tx_rate_limiter", F_OBJ, false },
	};
	const char *w = "network-interfaces", *id, *dev, *mac;
	struct net_config n = { 0 };
	int slot = -1;

	if (check(body, w, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	id = get_str(body, "iface_id");
	if (path_id && strcmp(id, path_id))
		return util_err(
		        err, errlen,
		        "%s: iface_id '%s' does not match '%s' in the path", w,
		        id, path_id);
	if (check_id(w, id, err, errlen) < 0)
		return -1;
	dev = get_str(body, "host_dev_name");
	if (!config_ifname_ok(dev))
		return util_err(
		        err, errlen,
		        "%s: host_dev_name '%s' is not an interface name "
		        "(1-%d characters, no '/', ':' or spaces)",
		        w, dev, CONFIG_IFNAME_MAX - 1);
	snprintf(n.id, sizeof(n.id), "%s", id);
	snprintf(n.host_dev_name, sizeof(n.host_dev_name), "%s", dev);
	if ((mac = get_str(body, "guest_mac"))) {
		if (config_parse_mac(mac, n.mac) < 0)
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
	if (rate_limiter(get(body, "rx_rate_limiter"),
	                 "network-interfaces: rx_rate_limiter", &n.rx, err,
	                 errlen) < 0 ||
	    rate_limiter(get(body, "tx_rate_limiter"),
	                 "network-interfaces: tx_rate_limiter", &n.tx, err,
	                 errlen) < 0)
		return -1;
	for (unsigned i = 0; i < c->nnets; i++) {
		const struct net_config *o = &c->nets[i];

		if (!strcmp(o->id, id)) {
			slot = (int)i;
			continue;
		}
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

int fc_net_patch(struct config *c, const char *path_id, json_t *body,
                 bool *has_rx, bool *has_tx, char *err, size_t errlen)
{
	static const struct field f[] = {
		{ "iface_id", F_STR, true },
		{ "rx_rate_limiter", F_OBJ, false },
		{ "tx_rate_limiter", F_OBJ, false },
	};
	const char *w = "network-interfaces", *id;
	struct rate_limiter_config rx, tx;
	struct net_config *n = NULL;

	if (check(body, w, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	id = get_str(body, "iface_id");
	if (strcmp(id, path_id))
		return util_err(
		        err, errlen,
		        "%s: iface_id '%s' does not match '%s' in the path", w,
		        id, path_id);
	for (unsigned i = 0; i < c->nnets; i++)
		if (!strcmp(c->nets[i].id, id))
			n = &c->nets[i];
	if (!n)
		return util_err(err, errlen, "%s: no interface '%s'", w, id);
	if (rate_limiter(get(body, "rx_rate_limiter"),
	                 "network-interfaces: rx_rate_limiter", &rx, err,
	                 errlen) < 0 ||
	    rate_limiter(get(body, "tx_rate_limiter"),
	                 "network-interfaces: tx_rate_limiter", &tx, err,
	                 errlen) < 0)
		return -1;
	*has_rx = get(body, "rx_rate_limiter");
	*has_tx = get(body, "tx_rate_limiter");
	if (*has_rx)
		n->rx = rx;
	if (*has_tx)
		n->tx = tx;
	return 0;
}

int fc_vsock(struct config *c, json_t *body, char *err, size_t errlen)
{
	static const struct field f[] = {
		{ "guest_cid", F_UINT, true },
		{ "uds_path", F_STR, true },
		{ "vsock_id", F_STR, false },
	};
	const char *w = "vsock", *uds, *id;
	uint64_t cid;

	if (check(body, w, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	cid = get_u64(body, "guest_cid", 0);
	uds = get_str(body, "uds_path");
	id = get_str(body, "vsock_id");
	if (!config_cid_ok(cid))
		return util_err(err, errlen,
		                "%s: guest_cid %llu is not in 3..4294967294", w,
		                (unsigned long long)cid);
	if (!*uds || strlen(uds) >= CONFIG_UDS_MAX)
		return util_err(
		        err, errlen,
		        "%s: uds_path must be 1-%d bytes (a Unix socket "
		        "path)",
		        w, CONFIG_UDS_MAX - 1);
	if (id && check_id(w, id, err, errlen) < 0)
		return -1;
	c->vsock.present = true;
	c->vsock.guest_cid = (uint32_t)cid;
	snprintf(c->vsock.uds_path, sizeof(c->vsock.uds_path), "%s", uds);
	snprintf(c->vsock.id, sizeof(c->vsock.id), "%s", id ? id : "");
	return 0;
}

int fc_logger(json_t *body, char *err, size_t errlen)
{
	static const struct field f[] = {
		{ "log_path", F_STR, false },
		{ "level", F_STR, false },
		{ "show_level", F_BOOL, false },
		{ "show_log_origin", F_BOOL, false },
		{ "module", F_STR, false },
	};
	const char *w = "logger", *path, *level, *module;
	char why[CONFIG_PATH_MAX + 64];
	int lvl = log_get_level();

	if (check(body, w, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	path = get_str(body, "log_path");
	level = get_str(body, "level");
	module = get_str(body, "module");
	if (level && (lvl = log_parse_level(level)) < LOG_OFF)
		return util_err(
		        err, errlen,
		        "%s: level '%s' is not Off, Error, Warning, Info, "
		        "Debug or Trace",
		        w, level);
	if (module && *module)
		return util_err(err, errlen,
		                "%s: module: wisp has no per-module log filter",
		                w);
	if (path && log_set_path(path, why, sizeof(why)) < 0)
		return util_err(err, errlen, "%s: log_path %s", w, why);
	log_set_level((enum log_level)lvl);
	log_set_format(get_bool(body, "show_level", log_get_show_level()),
	               get_bool(body, "show_log_origin", log_get_origin()));
	return 0;
}

int fc_metrics(json_t *body, char *err, size_t errlen)
{
	static const struct field f[] = {
		{ "metrics_path", F_STR, true },
	};
	char why[CONFIG_PATH_MAX + 64];

	if (check(body, "metrics", f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	if (metrics_set_path(get_str(body, "metrics_path"), why, sizeof(why)) <
	    0)
		return util_err(err, errlen, "metrics: metrics_path %s", why);
	return 0;
}

/* A path wisp will create: not empty, short enough. */
static int out_path(const char *what, const char *field, const char *p,
                    char *dst, char *err, size_t errlen)
{
	if (!*p || strlen(p) >= CONFIG_PATH_MAX)
		return util_err(err, errlen,
		                "%s: '%s' must be a path of 1-%d bytes", what,
		                field, CONFIG_PATH_MAX - 1);
	snprintf(dst, CONFIG_PATH_MAX, "%s", p);
	return 0;
}

int fc_snapshot_create(json_t *body, struct fc_snapshot_create *c, char *err,
                       size_t errlen)
{
	static const struct field f[] = {
		{ "snapshot_path", F_STR, true },
		{ "mem_file_path", F_STR, true },
		{ "snapshot_type", F_STR, false },
		{ "version", F_STR, false }, /* Firecracker < 1.5; ignored */
	};
	const char *w = "snapshot/create", *type;

	memset(c, 0, sizeof(*c));
	if (check(body, w, f, ARRAY_SIZE(f), err, errlen) < 0 ||
	    out_path(w, "snapshot_path", get_str(body, "snapshot_path"),
	             c->state_path, err, errlen) < 0 ||
	    out_path(w, "mem_file_path", get_str(body, "mem_file_path"),
	             c->mem_path, err, errlen) < 0)
		return -1;
	type = get_str(body, "snapshot_type");
	if (type && strcmp(type, "Full") && strcmp(type, "Diff"))
		return util_err(err, errlen,
		                "%s: snapshot_type '%s' is not Full or Diff", w,
		                type);
	c->diff = type && !strcmp(type, "Diff");
	if (!strcmp(c->state_path, c->mem_path))
		return util_err(
		        err, errlen,
		        "%s: snapshot_path and mem_file_path are the same "
		        "file",
		        w);
	return 0;
}

int fc_snapshot_load(json_t *body, struct snapshot_load *l, char *err,
                     size_t errlen)
{
	static const struct field f[] = {
		{ "snapshot_path", F_STR, true },
		{ "mem_file_path", F_STR, false }, /* deprecated: mem_backend */
		{ "mem_backend", F_OBJ, false },
		{ "enable_diff_snapshots", F_BOOL, false }, /* deprecated */
		{ "track_dirty_pages", F_BOOL, false },
		{ "resume_vm", F_BOOL, false },
		{ "network_overrides", F_ARRAY, false },
		{ "vsock_override", F_OBJ, false },
	};
	static const struct field mb[] = {
		{ "backend_type", F_STR, true },
		{ "backend_path", F_STR, true },
	};
	static const struct field nf[] = {
		{ "iface_id", F_STR, true },
		{ "host_dev_name", F_STR, true },
	};
	static const struct field vf[] = {
		{ "uds_path", F_STR, true },
	};
	const char *w = "snapshot/load", *path;
	json_t *mem = NULL, *nets, *vs, *v;
	size_t i;

	memset(l, 0, sizeof(*l));
	if (check(body, w, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	path = get_str(body, "snapshot_path");
	if (check_path(w, "snapshot_path", path, R_OK, err, errlen) < 0)
		return -1;
	snprintf(l->state_path, sizeof(l->state_path), "%s", path);
	mem = get(body, "mem_backend");
	if (!mem == !get(body, "mem_file_path"))
		return util_err(err, errlen,
		                "%s: give exactly one of mem_backend and "
		                "mem_file_path",
		                w);
	if (mem) {
		const char *type;

		if (check(mem, "snapshot/load: mem_backend", mb, ARRAY_SIZE(mb),
		          err, errlen) < 0)
			return -1;
		type = get_str(mem, "backend_type");
		if (strcmp(type, "File") && strcmp(type, "Uffd"))
			return util_err(
			        err, errlen,
			        "%s: mem_backend: backend_type '%s' is not "
			        "File or Uffd",
			        w, type);
		l->uffd = !strcmp(type, "Uffd");
		path = get_str(mem, "backend_path");
	} else {
		path = get_str(body, "mem_file_path");
	}
	if (l->uffd) {
		if (!*path || strlen(path) >= CONFIG_UDS_MAX)
			return util_err(
			        err, errlen,
			        "%s: mem_backend: backend_path must be a "
			        "Unix socket path of 1-%d bytes",
			        w, CONFIG_UDS_MAX - 1);
	} else if (check_path(w,
	                      mem ? "mem_backend.backend_path"
	                          : "mem_file_path",
	                      path, R_OK, err, errlen) < 0) {
		return -1;
	}
	snprintf(l->mem_path, sizeof(l->mem_path), "%s", path);
	l->track_dirty_pages =
	        get_bool(body, "track_dirty_pages",
	                 get_bool(body, "enable_diff_snapshots", false));
	l->resume = get_bool(body, "resume_vm", false);
	nets = get(body, "network_overrides");
	json_array_foreach(nets, i, v)
	{
		const char *id, *dev;

		if (i == CONFIG_MAX_NETS)
			return util_err(err, errlen,
			                "%s: at most %d network_overrides", w,
			                CONFIG_MAX_NETS);
		if (check(v, "snapshot/load: network_overrides", nf,
		          ARRAY_SIZE(nf), err, errlen) < 0)
			return -1;
		id = get_str(v, "iface_id");
		dev = get_str(v, "host_dev_name");
		if (check_id("snapshot/load: network_overrides", id, err,
		             errlen) < 0)
			return -1;
		if (!config_ifname_ok(dev))
			return util_err(
			        err, errlen,
			        "%s: network_overrides: host_dev_name '%s' "
			        "is not an interface name",
			        w, dev);
		snprintf(l->net[i].iface_id, sizeof(l->net[i].iface_id), "%s",
		         id);
		snprintf(l->net[i].host_dev_name,
		         sizeof(l->net[i].host_dev_name), "%s", dev);
		l->nnet = (unsigned)i + 1;
	}
	vs = get(body, "vsock_override");
	if (vs) {
		const char *uds;

		if (check(vs, "snapshot/load: vsock_override", vf,
		          ARRAY_SIZE(vf), err, errlen) < 0)
			return -1;
		uds = get_str(vs, "uds_path");
		if (!*uds || strlen(uds) >= CONFIG_UDS_MAX)
			return util_err(
			        err, errlen,
			        "%s: vsock_override: uds_path must be 1-%d "
			        "bytes",
			        w, CONFIG_UDS_MAX - 1);
		snprintf(l->vsock_uds, sizeof(l->vsock_uds), "%s", uds);
	}
	return 0;
}
