/*
 * The whole configuration as Firecracker's JSON: GET /vm/config renders
 * it, a --config-file is read into it. Both use the shapes of the API
 * bodies (fcjson.c), so a file written from GET /vm/config boots the same
 * VM again.
 */
#include "fcjson.h"
#include "log.h"
#include "metrics.h"
#include "util.h"
#include "vmm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define CONFIG_FILE_MAX (1 * MIB)

json_t *fc_machine_config_json(const struct config *c)
{
	return json_pack("{s:i, s:I, s:b, s:b, s:s}", "vcpu_count",
	                 (int)c->vcpus, "mem_size_mib", (json_int_t)c->mem_mib,
	                 "smt", c->smt, "track_dirty_pages",
	                 c->track_dirty_pages, "huge_pages",
	                 c->huge_pages == HUGE_PAGES_2M ? "2M" : "None");
}

static json_t *bucket_json(const struct bucket_config *b)
{
	json_t *o;

	if (!b->set)
		return json_null();
	o = json_pack("{s:I, s:I}", "size", (json_int_t)b->size, "refill_time",
	              (json_int_t)b->refill_time_ms);
	json_object_set_new(
	        o, "one_time_burst",
	        b->one_time_burst ? json_integer((json_int_t)b->one_time_burst)
	                          : json_null());
	return o;
}

static json_t *rl_json(const struct rate_limiter_config *rl)
{
	if (!rl->bandwidth.set && !rl->ops.set)
		return json_null();
	return json_pack("{s:o, s:o}", "bandwidth", bucket_json(&rl->bandwidth),
	                 "ops", bucket_json(&rl->ops));
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

json_t *fc_vm_config_json(const struct config *c)
{
	json_t *root = json_object(), *boot, *drives = json_array(),
	       *nets = json_array();

	boot = json_pack("{s:s, s:o}", "kernel_image_path", c->kernel,
	                 "initrd_path", str_or_null(c->initrd));
	if (c->cmdline)
		json_object_set_new(boot, "boot_args", json_string(c->cmdline));
	/* Root first, as it boots: it becomes /dev/vda. */
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < c->ndrives; i++) {
			const struct drive_config *d = &c->drives[i];

			if (d->root != !pass)
				continue;
			json_array_append_new(
			        drives,
			        json_pack(
			                "{s:s, s:o, s:b, s:s, s:b, s:s, s:o, "
			                "s:s, s:n}",
			                "drive_id", d->id, "partuuid",
			                str_or_null(d->partuuid),
			                "is_root_device", d->root, "cache_type",
			                d->no_flush ? "Unsafe" : "Writeback",
			                "is_read_only", d->read_only,
			                "path_on_host", d->path, "rate_limiter",
			                rl_json(&d->rl), "io_engine",
			                d->io_sync ? "Sync" : "Async",
			                "socket"));
		}
	}
	for (unsigned i = 0; i < c->nnets; i++) {
		const struct net_config *n = &c->nets[i];
		char mac[18];

		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
		         n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4],
		         n->mac[5]);
		json_array_append_new(
		        nets,
		        json_pack("{s:s, s:s, s:o, s:o, s:o}", "iface_id",
		                  n->id, "host_dev_name", n->host_dev_name,
		                  "guest_mac",
		                  n->has_mac ? json_string(mac) : json_null(),
		                  "rx_rate_limiter", rl_json(&n->rx),
		                  "tx_rate_limiter", rl_json(&n->tx)));
	}
	json_object_set_new(root, "balloon", json_null());
	json_object_set_new(root, "drives", drives);
	json_object_set_new(root, "boot-source", boot);
	json_object_set_new(root, "cpu-config", json_null());
	json_object_set_new(
	        root, "logger",
	        *log_get_path() ? json_pack("{s:s, s:s, s:b, s:b}", "log_path",
	                                    log_get_path(), "level",
	                                    log_level_name(log_get_level()),
	                                    "show_level", log_get_show_level(),
	                                    "show_log_origin", log_get_origin())
	                        : json_null());
	json_object_set_new(root, "machine-config", fc_machine_config_json(c));
	json_object_set_new(
	        root, "metrics",
	        *metrics_get_path()
	                ? json_pack("{s:s}", "metrics_path", metrics_get_path())
	                : json_null());
	json_object_set_new(root, "mmds-config", json_null());
	json_object_set_new(root, "network-interfaces", nets);
	json_object_set_new(root, "vsock",
	                    c->vsock.present
	                            ? json_pack("{s:I, s:s}", "guest_cid",
	                                        (json_int_t)c->vsock.guest_cid,
	                                        "uds_path", c->vsock.uds_path)
	                            : json_null());
	json_object_set_new(root, "entropy", json_null());
	return root;
}

/* A section that wisp does not have: only null (absent) is accepted. */
static bool unsupported(const char *key)
{
	static const char *const keys[] = { "balloon", "mmds-config", "entropy",
		                            "cpu-config" };

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!strcmp(key, keys[i]))
			return true;
	return false;
}

static int load(struct vmm *m, json_t *root, char *err, size_t errlen)
{
	struct config *c = &m->cfg;
	json_t *v, *e;
	const char *key;
	size_t i;

	if (!json_is_object(root))
		return snprintf(err, errlen,
		                "the file must hold a JSON object"),
		       -1;
	json_object_foreach(root, key, v)
	{
		if (unsupported(key) && !json_is_null(v))
			return snprintf(err, errlen,
			                "%s: not supported by wisp", key),
			       -1;
		if (!unsupported(key) && strcmp(key, "boot-source") &&
		    strcmp(key, "drives") && strcmp(key, "machine-config") &&
		    strcmp(key, "network-interfaces") && strcmp(key, "vsock") &&
		    strcmp(key, "logger") && strcmp(key, "metrics"))
			return snprintf(err, errlen, "unknown section '%s'",
			                key),
			       -1;
	}
	/* Firecracker's order: logger and metrics first, to see the rest. */
	if ((v = json_object_get(root, "logger")) && !json_is_null(v) &&
	    fc_logger(v, err, errlen) < 0)
		return -1;
	if ((v = json_object_get(root, "metrics")) && !json_is_null(v) &&
	    fc_metrics(v, err, errlen) < 0)
		return -1;
	if ((v = json_object_get(root, "machine-config")) && !json_is_null(v) &&
	    fc_machine_config(c, v, false, err, errlen) < 0)
		return -1;
	v = json_object_get(root, "boot-source");
	if (!v)
		return snprintf(err, errlen, "missing section 'boot-source'"),
		       -1;
	if (fc_boot_source(c, v, err, errlen) < 0)
		return -1;
	v = json_object_get(root, "drives");
	if (v && !json_is_array(v))
		return snprintf(err, errlen, "drives: must be an array"), -1;
	json_array_foreach(v, i, e) if (fc_drive(c, NULL, e, err, errlen) <
	                                0) return -1;
	v = json_object_get(root, "network-interfaces");
	if (v && !json_is_null(v) && !json_is_array(v))
		return snprintf(err, errlen,
		                "network-interfaces: must be an array"),
		       -1;
	json_array_foreach(v, i, e) if (fc_net(c, NULL, e, err, errlen) <
	                                0) return -1;
	if ((v = json_object_get(root, "vsock")) && !json_is_null(v) &&
	    fc_vsock(c, v, err, errlen) < 0)
		return -1;
	return 0;
}

int fcjson_load_file(struct vmm *m, const char *path, char *err, size_t errlen)
{
	char msg[CONFIG_PATH_MAX + 256];
	json_error_t je;
	uint8_t *buf;
	size_t len;
	json_t *root;
	int ret;

	ret = util_read_file(path, CONFIG_FILE_MAX, &buf, &len);
	if (ret < 0) {
		snprintf(err, errlen, "%s: %s", path,
		         ret == -EFBIG ? "larger than 1 MiB" : strerror(-ret));
		return -1;
	}
	root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
	free(buf);
	if (!root) {
		snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.column,
		         je.text);
		return -1;
	}
	ret = load(m, root, msg, sizeof(msg));
	json_decref(root);
	if (ret < 0)
		snprintf(err, errlen, "%s: %s", path, msg);
	return ret;
}
