#include "fcjson.h"
#include "jbody.h"
#include "log.h"
#include "metrics.h"
#include "util.h"
#include "vdev.h"
#include "vmm.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const huge_names[] = {
	[HUGE_PAGES_NONE] = "None",
	[HUGE_PAGES_2M] = "2M",
	[HUGE_PAGES_THP] = "Transparent",
};

const char *fc_huge_pages_name(enum huge_pages h)
{
	return (unsigned)h < ARRAY_SIZE(huge_names) ? huge_names[h] : "None";
}

int fc_huge_pages(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(huge_names); i++)
		if (!strcmp(s, huge_names[i]))
			return (int)i;
	return -1;
}

int fc_machine_config(struct config *c, json_t *body, bool patch, char *err,
                      size_t errlen)
{
	static const struct jb_field f[] = {
		{ "vcpu_count", JB_UINT, true },
		{ "mem_size_mib", JB_UINT, true },
		{ "smt", JB_BOOL, false },
		{ "track_dirty_pages", JB_BOOL, false },
		{ "huge_pages", JB_STR, false },
		{ "cpu_template", JB_STR, false },
	};
	struct jb_field fp[ARRAY_SIZE(f)];
	const char *w = "machine-config", *s;
	uint64_t vcpus, mem;
	bool smt, dirty;
	enum huge_pages huge;

	memcpy(fp, f, sizeof(f));
	for (size_t i = 0; patch && i < ARRAY_SIZE(fp); i++)
		fp[i].required = false;
	if (jb_check(body, w, fp, ARRAY_SIZE(fp), err, errlen) < 0)
		return -1;
	if (patch && !json_object_size(body))
		return util_err(err, errlen, "%s: empty PATCH request", w);
	vcpus = jb_u64(body, "vcpu_count", patch ? c->vcpus : 1);
	mem = jb_u64(body, "mem_size_mib", patch ? c->mem_mib : 128);
	smt = jb_bool(body, "smt", patch ? c->smt : false);
	dirty = jb_bool(body, "track_dirty_pages",
	                patch ? c->track_dirty_pages : false);
	huge = patch ? c->huge_pages : HUGE_PAGES_NONE;
	if ((s = jb_str(body, "huge_pages"))) {
		int h = fc_huge_pages(s);

		if (h < 0)
			return util_err(err, errlen,
			                "%s: huge_pages '%s' is not None, "
			                "Transparent or 2M",
			                w, s);
		huge = (enum huge_pages)h;
	}
	if ((s = jb_str(body, "cpu_template")) && strcmp(s, "None"))
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
	/* Firecracker's rule: SMT pairs vCPUs into cores. */
	if (smt && vcpus > 1 && vcpus % 2)
		return util_err(err, errlen,
		                "%s: vcpu_count %llu with smt: 1 or an even "
		                "number of vCPUs",
		                w, (unsigned long long)vcpus);
	c->vcpus = (unsigned)vcpus;
	c->mem_mib = mem;
	c->smt = smt;
	c->track_dirty_pages = dirty;
	c->huge_pages = huge;
	/* Firecracker: a PATCH's "None" drops a PUT /cpu-config template;
	 * a PUT's (read as absent) keeps it. */
	if (patch && jb_str(body, "cpu_template"))
		memset(&c->cpu, 0, sizeof(c->cpu));
	return 0;
}

int fc_boot_source(struct config *c, json_t *body, char *err, size_t errlen)
{
	static const struct jb_field f[] = {
		{ "kernel_image_path", JB_STR, true },
		{ "initrd_path", JB_STR, false },
		{ "boot_args", JB_STR, false },
	};
	const char *w = "boot-source", *kernel, *initrd, *args;
	char *dup;

	if (jb_check(body, w, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	kernel = jb_str(body, "kernel_image_path");
	initrd = jb_str(body, "initrd_path");
	args = jb_str(body, "boot_args");
	if (jb_path(w, "kernel_image_path", kernel, R_OK, err, errlen) < 0 ||
	    (initrd &&
	     jb_path(w, "initrd_path", initrd, R_OK, err, errlen) < 0))
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

int fc_logger(json_t *body, char *err, size_t errlen)
{
	static const struct jb_field f[] = {
		{ "log_path", JB_STR, false },
		{ "level", JB_STR, false },
		{ "show_level", JB_BOOL, false },
		{ "show_log_origin", JB_BOOL, false },
		{ "module", JB_STR, false },
	};
	const char *w = "logger", *path, *level, *module;
	char why[CONFIG_PATH_MAX + 64];
	int lvl = log_get_level();

	if (jb_check(body, w, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	path = jb_str(body, "log_path");
	level = jb_str(body, "level");
	module = jb_str(body, "module");
	if (level && (lvl = log_parse_level(level)) < LOG_OFF)
		return util_err(
		        err, errlen,
		        "%s: level '%s' is not Off, Error, Warning, Info, "
		        "Debug or Trace",
		        w, level);
	if (module && strlen(module) >= 64)
		return util_err(err, errlen,
		                "%s: module: '%s' is longer than 63 bytes", w,
		                module);
	if (path && log_set_path(path, why, sizeof(why)) < 0)
		return util_err(err, errlen, "%s: log_path %s", w, why);
	log_set_level((enum log_level)lvl);
	if (module)
		log_set_module(module);
	log_set_format(jb_bool(body, "show_level", log_get_show_level()),
	               jb_bool(body, "show_log_origin", log_get_origin()));
	return 0;
}

int fc_metrics(json_t *body, char *err, size_t errlen)
{
	static const struct jb_field f[] = {
		{ "metrics_path", JB_STR, true },
		{ "emit_id", JB_BOOL, false },
		{ "properties", JB_OBJ, false },
	};
	char why[CONFIG_PATH_MAX + 64];
	json_t *props, *v;
	const char *key;

	if (jb_check(body, "metrics", f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	props = json_object_get(body, "properties");
	json_object_foreach(props, key, v)
	{
		if (!json_is_string(v))
			return util_err(err, errlen,
			                "metrics: properties: '%s' must be a "
			                "string",
			                key);
	}
	if (metrics_set_path(jb_str(body, "metrics_path"), why, sizeof(why)) <
	    0)
		return util_err(err, errlen, "metrics: metrics_path %s", why);
	metrics_set_extras(jb_bool(body, "emit_id", false), props);
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

int fc_serial(struct config *c, json_t *body, char *err, size_t errlen)
{
	static const struct jb_field f[] = {
		{ "serial_out_path", JB_STR, false },
		{ "rate_limiter", JB_OBJ, false },
	};
	const char *w = "serial", *path;
	char out[CONFIG_PATH_MAX] = "";
	struct bucket_config b;

	if (jb_check(body, w, f, ARRAY_SIZE(f), err, errlen) < 0 ||
	    jb_bucket(jb_get(body, "rate_limiter"), "serial: rate_limiter", &b,
	              err, errlen) < 0)
		return -1;
	path = jb_str(body, "serial_out_path");
	if (path && out_path(w, "serial_out_path", path, out, err, errlen) < 0)
		return -1;
	/* As Firecracker: a file takes the output and stdin is not read;
	 * without one, stdout and stdin are the console again. */
	snprintf(c->serial_out, sizeof(c->serial_out), "%s", out);
	c->serial_in = !path;
	c->serial_rl = b;
	return 0;
}

int fc_snapshot_create(json_t *body, struct fc_snapshot_create *c, char *err,
                       size_t errlen)
{
	static const struct jb_field f[] = {
		{ "snapshot_path", JB_STR, true },
		{ "mem_file_path", JB_STR, true },
		{ "snapshot_type", JB_STR, false },
		{ "version", JB_STR, false }, /* Firecracker < 1.5; ignored */
	};
	const char *w = "snapshot/create", *type;

	memset(c, 0, sizeof(*c));
	if (jb_check(body, w, f, ARRAY_SIZE(f), err, errlen) < 0 ||
	    out_path(w, "snapshot_path", jb_str(body, "snapshot_path"),
	             c->state_path, err, errlen) < 0 ||
	    out_path(w, "mem_file_path", jb_str(body, "mem_file_path"),
	             c->mem_path, err, errlen) < 0)
		return -1;
	type = jb_str(body, "snapshot_type");
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

/*
 * The device types' fields of a load body (network_overrides ...): moved
 * from @body's copy @rest into @l->overrides, for vmm_snapshot_load().
 */
static int take_overrides(json_t *body, json_t *rest, struct snapshot_load *l,
                          char *err, size_t errlen)
{
	for (const struct vdev_type *const *ty = vdev_types; *ty; ty++) {
		const char *key = (*ty)->conf->override_key;
		json_t *v = key ? jb_get(body, key) : NULL;

		if (key)
			json_object_del(rest, key);
		if (!v)
			continue;
		if (!l->overrides && !(l->overrides = json_object()))
			return util_err(err, errlen, "out of memory");
		json_object_set(l->overrides, key, v);
	}
	return 0;
}

int fc_snapshot_load(json_t *body, struct snapshot_load *l, char *err,
                     size_t errlen)
{
	static const struct jb_field f[] = {
		{ "snapshot_path", JB_STR, true },
		{ "mem_file_path", JB_STR,
		  false }, /* deprecated: mem_backend */
		{ "mem_backend", JB_OBJ, false },
		{ "enable_diff_snapshots", JB_BOOL, false }, /* deprecated */
		{ "track_dirty_pages", JB_BOOL, false },
		{ "resume_vm", JB_BOOL, false },
		{ "clock_realtime", JB_BOOL, false },
		{ "huge_pages", JB_STR, false },
	};
	static const struct jb_field mb[] = {
		{ "backend_type", JB_STR, true },
		{ "backend_path", JB_STR, true },
	};
	const char *w = "snapshot/load", *path;
	json_t *mem = NULL, *rest = NULL;
	int rc = -1;

	memset(l, 0, sizeof(*l));
	if (!json_is_object(body))
		return jb_check(body, w, f, ARRAY_SIZE(f), err, errlen);
	if (!(rest = json_copy(body)))
		return util_err(err, errlen, "out of memory");
	if (take_overrides(body, rest, l, err, errlen) < 0 ||
	    jb_check(rest, w, f, ARRAY_SIZE(f), err, errlen) < 0)
		goto out;
	path = jb_str(body, "snapshot_path");
	if (jb_path(w, "snapshot_path", path, R_OK, err, errlen) < 0)
		goto out;
	snprintf(l->state_path, sizeof(l->state_path), "%s", path);
	mem = jb_get(body, "mem_backend");
	if (!mem == !jb_get(body, "mem_file_path")) {
		util_err(err, errlen,
		         "%s: give exactly one of mem_backend and "
		         "mem_file_path",
		         w);
		goto out;
	}
	if (mem) {
		const char *type;

		if (jb_check(mem, "snapshot/load: mem_backend", mb,
		             ARRAY_SIZE(mb), err, errlen) < 0)
			goto out;
		type = jb_str(mem, "backend_type");
		if (strcmp(type, "File") && strcmp(type, "Uffd")) {
			util_err(err, errlen,
			         "%s: mem_backend: backend_type '%s' is not "
			         "File or Uffd",
			         w, type);
			goto out;
		}
		l->uffd = !strcmp(type, "Uffd");
		path = jb_str(mem, "backend_path");
	} else {
		path = jb_str(body, "mem_file_path");
	}
	if (l->uffd) {
		if (!*path || strlen(path) >= CONFIG_UDS_MAX) {
			util_err(err, errlen,
			         "%s: mem_backend: backend_path must be a "
			         "Unix socket path of 1-%d bytes",
			         w, CONFIG_UDS_MAX - 1);
			goto out;
		}
	} else if (jb_path(w,
	                   mem ? "mem_backend.backend_path" : "mem_file_path",
	                   path, R_OK, err, errlen) < 0) {
		goto out;
	}
	snprintf(l->mem_path, sizeof(l->mem_path), "%s", path);
	l->track_dirty_pages =
	        jb_bool(body, "track_dirty_pages",
	                jb_bool(body, "enable_diff_snapshots", false));
	l->resume = jb_bool(body, "resume_vm", false);
	l->clock_realtime = jb_bool(body, "clock_realtime", false);
	if ((path = jb_str(body, "huge_pages")) && strcmp(path, "Snapshot")) {
		int h = fc_huge_pages(path);

		if (h < 0) {
			util_err(err, errlen,
			         "%s: huge_pages '%s' is not Snapshot, None, "
			         "Transparent or 2M",
			         w, path);
			goto out;
		}
		l->huge_set = true;
		l->huge_pages = (enum huge_pages)h;
		/* Firecracker's rule: hugetlbfs pages need a handler. */
		if (l->huge_pages == HUGE_PAGES_2M && !l->uffd) {
			util_err(err, errlen,
			         "%s: huge_pages 2M needs the Uffd memory "
			         "backend",
			         w);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(rest);
	if (rc < 0) {
		json_decref(l->overrides);
		l->overrides = NULL;
	}
	return rc;
}
