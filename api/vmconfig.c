/*
 * The whole configuration as Firecracker's JSON: GET /vm/config renders
 * it, a --config-file is read into it. Both use the shapes of the API
 * bodies (fcjson.c), so a file written from GET /vm/config boots the same
 * VM again.
 */
#include "fcjson.h"
#include "jbody.h"
#include "log.h"
#include "metrics.h"
#include "mmds_api.h"
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
	                 fc_huge_pages_name(c->huge_pages));
}

/* PUT /logger's body as Firecracker shows it (module only when set). */
static json_t *logger_json(void)
{
	json_t *o;

	if (!*log_get_path())
		return json_null();
	o = json_pack("{s:s, s:s, s:b, s:b}", "log_path", log_get_path(),
	              "level", log_level_name(log_get_level()), "show_level",
	              log_get_show_level(), "show_log_origin",
	              log_get_origin());
	if (o && *log_get_module())
		json_object_set_new(o, "module", json_string(log_get_module()));
	return o;
}

/* PUT /metrics' body as Firecracker shows it (properties only when set). */
static json_t *metrics_json(void)
{
	json_t *o;

	if (!*metrics_get_path())
		return json_null();
	o = json_pack("{s:s, s:b}", "metrics_path", metrics_get_path(),
	              "emit_id", metrics_get_emit_id());
	if (o && metrics_get_properties())
		json_object_set(o, "properties", metrics_get_properties());
	return o;
}

json_t *fc_vm_config_json(const struct config *c)
{
	json_t *root = json_object(), *boot;

	boot = json_pack("{s:s, s:o}", "kernel_image_path", c->kernel,
	                 "initrd_path", jb_str_or_null(c->initrd));
	if (c->cmdline)
		json_object_set_new(boot, "boot_args", json_string(c->cmdline));
	json_object_set_new(root, "balloon", json_null());
	json_object_set_new(root, "boot-source", boot);
	json_object_set_new(root, "cpu-config", json_null());
	json_object_set_new(root, "logger", logger_json());
	json_object_set_new(root, "machine-config", fc_machine_config_json(c));
	json_object_set_new(root, "metrics", metrics_json());
	json_object_set_new(root, "mmds-config", fc_mmds_config_json(c));
	for (const struct vdev_type *const *ty = vdev_types; *ty; ty++)
		json_object_set_new(root, (*ty)->conf->json_key,
		                    (*ty)->conf->get(c));
	return root;
}

/* The device type whose section is @key, or NULL. */
static const struct vdev_conf *dev_section(const char *key)
{
	for (const struct vdev_type *const *ty = vdev_types; *ty; ty++)
		if (!strcmp((*ty)->conf->json_key, key))
			return (*ty)->conf;
	return NULL;
}

/* A device type's section: an array of PUT bodies, or one (or null). */
static int load_dev(struct config *c, const struct vdev_conf *f, json_t *v,
                    char *err, size_t errlen)
{
	json_t *e;
	size_t i;

	if (!v || json_is_null(v))
		return 0;
	if (!f->json_array)
		return f->put(c, NULL, v, err, errlen);
	if (!json_is_array(v))
		return util_err(err, errlen, "%s: must be an array",
		                f->json_key);
	json_array_foreach(v, i, e) if (f->put(c, NULL, e, err, errlen) <
	                                0) return -1;
	return 0;
}

/* A section that wisp does not have: only null (absent) is accepted. */
static bool unsupported(const char *key)
{
	static const char *const keys[] = { "balloon" };

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!strcmp(key, keys[i]))
			return true;
	return false;
}

/* "cpu-config": a template, or the path of a file that holds one. */
static int cpu_config(struct config *c, json_t *v, char *err, size_t errlen)
{
	char msg[CONFIG_PATH_MAX + 256];
	json_t *t;
	int ret;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return fc_cpu_config(c, v, err, errlen);
	if (!(t = jb_read_file(json_string_value(v), CONFIG_FILE_MAX, msg,
	                       sizeof(msg))))
		return util_err(err, errlen, "cpu-config: %s", msg);
	ret = fc_cpu_config(c, t, msg, sizeof(msg));
	json_decref(t);
	if (ret < 0)
		util_err(err, errlen, "%s: %s", json_string_value(v), msg);
	return ret;
}

static int load(struct vmm *m, json_t *root, char *err, size_t errlen)
{
	struct config *c = &m->cfg;
	json_t *v;
	const char *key;

	if (!json_is_object(root))
		return snprintf(err, errlen,
		                "the file must hold a JSON object"),
		       -1;
	json_object_foreach(root, key, v)
	{
		if (unsupported(key) && !json_is_null(v))
			return util_err(err, errlen,
			                "%s: not supported by wisp", key);
		if (!unsupported(key) && !dev_section(key) &&
		    strcmp(key, "boot-source") &&
		    strcmp(key, "machine-config") && strcmp(key, "logger") &&
		    strcmp(key, "metrics") && strcmp(key, "mmds-config") &&
		    strcmp(key, "cpu-config"))
			return util_err(err, errlen, "unknown section '%s'",
			                key);
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
		return util_err(err, errlen, "missing section 'boot-source'");
	if (fc_boot_source(c, v, err, errlen) < 0)
		return -1;
	for (const struct vdev_type *const *ty = vdev_types; *ty; ty++)
		if (load_dev(c, (*ty)->conf,
		             json_object_get(root, (*ty)->conf->json_key), err,
		             errlen) < 0)
			return -1;
	if (cpu_config(c, json_object_get(root, "cpu-config"), err, errlen) < 0)
		return -1;
	/* After the interfaces it names, as in Firecracker. */
	if ((v = json_object_get(root, "mmds-config")) && !json_is_null(v) &&
	    fc_mmds_config(m, v, err, errlen) < 0)
		return -1;
	return 0;
}

int fcjson_load_file(struct vmm *m, const char *path, char *err, size_t errlen)
{
	char msg[CONFIG_PATH_MAX + 256];
	json_t *root;
	int ret;

	if (!(root = jb_read_file(path, CONFIG_FILE_MAX, err, errlen)))
		return -1;
	ret = load(m, root, msg, sizeof(msg));
	json_decref(root);
	if (ret < 0)
		snprintf(err, errlen, "%s: %s", path, msg);
	return ret;
}
