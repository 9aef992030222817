#include "routes.h"
#include "blk.h"
#include "fcjson.h"
#include "jbody.h"
#include "log.h"
#include "metrics.h"
#include "mmds_api.h"
#include "net.h"
#include "util.h"
#include "vmm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_AFTER_START                                                        \
	"The requested operation is not supported after starting the "         \
	"microVM."
#define MSG_BEFORE_START                                                       \
	"The requested operation is not supported before starting the "        \
	"microVM."

enum when { ANY, PRE_BOOT, POST_BOOT };

struct ctx {
	struct vmm *m;
	const struct http_request *req;
	struct api_response *resp;
	const struct route *r;
	/* The {id} of /drives/{id}, /network-interfaces/{id}; what follows
	 * the path and a '/' for routes with sub-paths (NULL: nothing). */
	const char *id;
	json_t *body;
	char err[CONFIG_PATH_MAX + 256];
};

struct route {
	const char *path; /* a trailing '/' takes one more segment: the id */
	enum http_method method;
	enum when when;
	bool body; /* a JSON body is required */
	/* Returns 0 (the response is 204 unless resp->body was set) or -1
	 * with the message in ctx->err. */
	int (*fn)(struct ctx *x);
	_Atomic uint64_t *count, *fails; /* metrics, or NULL */
	const struct vdev_conf *conf;    /* a device type's resource */
	bool subpaths; /* also path/anything (x->id): /mmds/... */
	bool any_json; /* the body may be any JSON value, not only an object */
};

static void respond(struct api_response *r, int status, json_t *body)
{
	r->status = status;
	r->body = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER)
	               : NULL;
	json_decref(body);
}

static void fault(struct api_response *r, int status, const char *msg)
{
	respond(r, status, json_pack("{s:s}", "fault_message", msg));
}

static int get_instance(struct ctx *x)
{
	respond(x->resp, 200,
	        json_pack("{s:s, s:s, s:s, s:s}", "id", x->m->id, "state",
	                  vmm_state_name(vmm_state(x->m)), "vmm_version",
	                  WISP_VERSION, "app_name", "wisp"));
	return 0;
}

static int get_version(struct ctx *x)
{
	respond(x->resp, 200,
	        json_pack("{s:s}", "firecracker_version", WISP_VERSION));
	return 0;
}

static int get_vm_config(struct ctx *x)
{
	respond(x->resp, 200, fc_vm_config_json(&x->m->cfg));
	return 0;
}

static int get_machine(struct ctx *x)
{
	respond(x->resp, 200, fc_machine_config_json(&x->m->cfg));
	return 0;
}

static int put_machine(struct ctx *x)
{
	return fc_machine_config(&x->m->cfg, x->body, false, x->err,
	                         sizeof(x->err));
}

static int patch_machine(struct ctx *x)
{
	return fc_machine_config(&x->m->cfg, x->body, true, x->err,
	                         sizeof(x->err));
}

static int put_boot(struct ctx *x)
{
	return fc_boot_source(&x->m->cfg, x->body, x->err, sizeof(x->err));
}

/* A resource's id in its path is checked before its body, as
 * Firecracker does. */
static int put_dev(struct ctx *x)
{
	if (x->id &&
	    jb_id(x->r->conf->api_path, x->id, x->err, sizeof(x->err)) < 0)
		return -1;
	return x->r->conf->put(&x->m->cfg, x->id, x->body, x->err,
	                       sizeof(x->err));
}

static int patch_dev(struct ctx *x)
{
	if (x->id &&
	    jb_id(x->r->conf->api_path, x->id, x->err, sizeof(x->err)) < 0)
		return -1;
	return x->r->conf->patch(x->m, x->id, x->body, x->err, sizeof(x->err));
}

static int put_logger(struct ctx *x)
{
	return fc_logger(x->body, x->err, sizeof(x->err));
}

static int put_serial(struct ctx *x)
{
	return fc_serial(&x->m->cfg, x->body, x->err, sizeof(x->err));
}

static int put_cpu_config(struct ctx *x)
{
	return fc_cpu_config(&x->m->cfg, x->body, x->err, sizeof(x->err));
}

static int put_metrics(struct ctx *x)
{
	return fc_metrics(x->body, x->err, sizeof(x->err));
}

/* The one-field bodies of /actions and /vm. */
static const char *one_string(struct ctx *x, const char *what,
                              const char *field)
{
	const char *key;
	json_t *v;

	json_object_foreach(x->body, key, v)
	{
		if (strcmp(key, field)) {
			snprintf(x->err, sizeof(x->err),
			         "%s: unknown field '%s'", what, key);
			return NULL;
		}
	}
	v = json_object_get(x->body, field);
	if (!json_is_string(v)) {
		snprintf(x->err, sizeof(x->err),
		         v ? "%s: '%s' must be a string"
		           : "%s: missing field '%s'",
		         what, field);
		return NULL;
	}
	return json_string_value(v);
}

static bool started(struct vmm *m)
{
	return vmm_state(m) != VMM_NOT_STARTED;
}

static int put_actions(struct ctx *x)
{
	const char *a = one_string(x, "actions", "action_type");
	bool usage;

	if (!a)
		return -1;
	if (!strcmp(a, "InstanceStart")) {
		if (started(x->m))
			return snprintf(x->err, sizeof(x->err),
			                MSG_AFTER_START),
			       -1;
		if (vmm_start(x->m, x->err, sizeof(x->err), &usage) < 0)
			return -1;
		return 0;
	}
	/* Any time, as in Firecracker: the counters so far, devices once
	 * there are some. */
	if (!strcmp(a, "FlushMetrics"))
		return metrics_flush(x->m) < 0
		               ? (snprintf(x->err, sizeof(x->err),
		                           "actions: cannot write the metrics "
		                           "(see the log)"),
		                  -1)
		               : 0;
	if (!strcmp(a, "SendCtrlAltDel")) {
		if (!started(x->m))
			return snprintf(x->err, sizeof(x->err),
			                MSG_BEFORE_START),
			       -1;
		if (vmm_ctrl_alt_del(x->m) < 0)
			return snprintf(x->err, sizeof(x->err),
			                "actions: the guest's keyboard buffer "
			                "is full (it does not read its i8042)"),
			       -1;
		return 0;
	}
	snprintf(x->err, sizeof(x->err),
	         "actions: action_type '%s' is not InstanceStart, "
	         "SendCtrlAltDel or FlushMetrics",
	         a);
	return -1;
}

static int patch_vm(struct ctx *x)
{
	const char *s = one_string(x, "vm", "state");
	uint64_t t0 = util_now_us();

	if (!s)
		return -1;
	if (!strcmp(s, "Paused")) {
		vmm_pause(x->m);
		METRIC_SET(pause_vm_us, util_now_us() - t0);
		return 0;
	}
	if (!strcmp(s, "Resumed")) {
		vmm_resume(x->m);
		METRIC_SET(resume_vm_us, util_now_us() - t0);
		return 0;
	}
	snprintf(x->err, sizeof(x->err),
	         "vm: state '%s' is not Paused or Resumed", s);
	return -1;
}

static int put_snapshot_create(struct ctx *x)
{
	struct fc_snapshot_create c;
	uint64_t t0 = util_now_us();

	if (fc_snapshot_create(x->body, &c, x->err, sizeof(x->err)) < 0 ||
	    vmm_snapshot_create(x->m, c.state_path, c.mem_path, c.diff, x->err,
	                        sizeof(x->err)) < 0)
		return -1;
	if (c.diff)
		METRIC_SET(diff_create_snapshot_us, util_now_us() - t0);
	else
		METRIC_SET(full_create_snapshot_us, util_now_us() - t0);
	return 0;
}

static int put_snapshot_load(struct ctx *x)
{
	struct snapshot_load *l = malloc(sizeof(*l));
	uint64_t t0 = util_now_us();
	int rc = -1;

	if (!l) {
		snprintf(x->err, sizeof(x->err), "out of memory");
		return -1;
	}
	if (fc_snapshot_load(x->body, l, x->err, sizeof(x->err)) == 0 &&
	    vmm_snapshot_load(x->m, l, x->err, sizeof(x->err)) == 0) {
		METRIC_SET(load_snapshot_us, util_now_us() - t0);
		rc = 0;
	}
	json_decref(l->overrides);
	free(l);
	return rc;
}

/*
 * /mmds: GET and PATCH ignore a sub-path (Firecracker's routing); PUT
 * /mmds/config configures the service before the start, PUT of any
 * other sub-path is refused.
 */
static int get_mmds(struct ctx *x)
{
	char *body =
	        mmds_api_get(x->m, &x->resp->status, x->err, sizeof(x->err));

	if (!body)
		return -1;
	x->resp->status = 200;
	x->resp->body = body;
	return 0;
}

static int put_mmds(struct ctx *x)
{
	const char *sub = x->id;
	size_t seg = sub ? strcspn(sub, "/") : 0;

	if (!sub || !*sub)
		return mmds_api_put(x->m, x->body, &x->resp->status, x->err,
		                    sizeof(x->err));
	if (seg == 6 && !strncmp(sub, "config", 6)) {
		json_error_t je;
		json_t *cfg;
		int rc;

		if (started(x->m))
			return snprintf(x->err, sizeof(x->err),
			                MSG_AFTER_START),
			       -1;
		/* A configuration, read as every other body is: no NUL in
		 * its strings, no duplicate keys. */
		cfg = json_loadb((const char *)x->req->body, x->req->body_len,
		                 JSON_REJECT_DUPLICATES, &je);
		if (!cfg)
			return snprintf(
			               x->err, sizeof(x->err),
			               "the body is not valid JSON: %s at line "
			               "%d column %d",
			               je.text, je.line, je.column),
			       -1;
		rc = fc_mmds_config(x->m, cfg, x->err, sizeof(x->err));
		json_decref(cfg);
		return rc;
	}
	snprintf(x->err, sizeof(x->err),
	         "Unrecognized PUT request path `%.*s`.", (int)MIN(seg, 256),
	         sub);
	return -1;
}

static int patch_mmds(struct ctx *x)
{
	return mmds_api_patch(x->m, x->body, &x->resp->status, x->err,
	                      sizeof(x->err));
}

#define M(group, name) (&metrics.group##_##name)

static const struct route routes[] = {
	{ "/", HTTP_METHOD_GET, ANY, false, get_instance,
	  M(get_api_requests, instance_info_count), NULL, NULL, false, false },
	{ "/version", HTTP_METHOD_GET, ANY, false, get_version,
	  M(get_api_requests, vmm_version_count), NULL, NULL, false, false },
	{ "/vm/config", HTTP_METHOD_GET, ANY, false, get_vm_config,
	  M(get_api_requests, vm_config_count), NULL, NULL, false, false },
	{ "/machine-config", HTTP_METHOD_GET, ANY, false, get_machine,
	  M(get_api_requests, machine_cfg_count), NULL, NULL, false, false },
	{ "/machine-config", HTTP_METHOD_PUT, PRE_BOOT, true, put_machine,
	  M(put_api_requests, machine_cfg_count),
	  M(put_api_requests, machine_cfg_fails), NULL, false, false },
	{ "/machine-config", HTTP_METHOD_PATCH, PRE_BOOT, true, patch_machine,
	  M(patch_api_requests, machine_cfg_count),
	  M(patch_api_requests, machine_cfg_fails), NULL, false, false },
	{ "/boot-source", HTTP_METHOD_PUT, PRE_BOOT, true, put_boot,
	  M(put_api_requests, boot_source_count),
	  M(put_api_requests, boot_source_fails), NULL, false, false },
	{ "/actions", HTTP_METHOD_PUT, ANY, true, put_actions,
	  M(put_api_requests, actions_count),
	  M(put_api_requests, actions_fails), NULL, false, false },
	{ "/snapshot/create", HTTP_METHOD_PUT, POST_BOOT, true,
	  put_snapshot_create, M(put_api_requests, snapshot_create_count),
	  M(put_api_requests, snapshot_create_fails), NULL, false, false },
	{ "/snapshot/load", HTTP_METHOD_PUT, PRE_BOOT, true, put_snapshot_load,
	  M(put_api_requests, snapshot_load_count),
	  M(put_api_requests, snapshot_load_fails), NULL, false, false },
	{ "/vm", HTTP_METHOD_PATCH, POST_BOOT, true, patch_vm,
	  M(patch_api_requests, vm_count), M(patch_api_requests, vm_fails),
	  NULL, false, false },
	{ "/logger", HTTP_METHOD_PUT, PRE_BOOT, true, put_logger,
	  M(put_api_requests, logger_count), M(put_api_requests, logger_fails),
	  NULL, false, false },
	{ "/metrics", HTTP_METHOD_PUT, PRE_BOOT, true, put_metrics,
	  M(put_api_requests, metrics_count),
	  M(put_api_requests, metrics_fails), NULL, false, false },
	{ "/cpu-config", HTTP_METHOD_PUT, PRE_BOOT, true, put_cpu_config,
	  M(put_api_requests, cpu_cfg_count),
	  M(put_api_requests, cpu_cfg_fails), NULL, false, false },
	{ "/serial", HTTP_METHOD_PUT, PRE_BOOT, true, put_serial,
	  M(put_api_requests, serial_count), M(put_api_requests, serial_fails),
	  NULL, false, false },
	{ .path = "/mmds",
	  .method = HTTP_METHOD_GET,
	  .when = ANY,
	  .fn = get_mmds,
	  .count = M(get_api_requests, mmds_count),
	  .subpaths = true },
	{ .path = "/mmds",
	  .method = HTTP_METHOD_PUT,
	  .when = ANY,
	  .body = true,
	  .fn = put_mmds,
	  .count = M(put_api_requests, mmds_count),
	  .fails = M(put_api_requests, mmds_fails),
	  .subpaths = true,
	  .any_json = true },
	{ .path = "/mmds",
	  .method = HTTP_METHOD_PATCH,
	  .when = ANY,
	  .body = true,
	  .fn = patch_mmds,
	  .count = M(patch_api_requests, mmds_count),
	  .fails = M(patch_api_requests, mmds_fails),
	  .subpaths = true,
	  .any_json = true },
};

/* The device types' resources: PUT before boot, PATCH after. */
static struct route dev_routes[2 * VMM_MAX_VIRTIO];
static size_t ndev_routes;

static void dev_routes_init(void)
{
	for (const struct vdev_type *const *ty = vdev_types;
	     *ty && ndev_routes + 2 <= ARRAY_SIZE(dev_routes); ty++) {
		const struct vdev_conf *f = (*ty)->conf;

		if (!f->api_path)
			continue;
		dev_routes[ndev_routes++] = (struct route){
			.path = f->api_path,
			.method = HTTP_METHOD_PUT,
			.when = PRE_BOOT,
			.body = true,
			.fn = put_dev,
			.count = f->put_count,
			.fails = f->put_fails,
			.conf = f,
		};
		if (f->patch)
			dev_routes[ndev_routes++] = (struct route){
				.path = f->api_path,
				.method = HTTP_METHOD_PATCH,
				.when = POST_BOOT,
				.body = true,
				.fn = patch_dev,
				.count = f->patch_count,
				.fails = f->patch_fails,
				.conf = f,
			};
	}
}

/* Does @path name @r's resource? Sets @id for the "/x/" routes. */
static bool path_matches(const struct route *r, const char *path,
                         const char **id)
{
	size_t n = strlen(r->path);

	*id = NULL;
	if (r->subpaths) {
		if (strncmp(path, r->path, n) || (path[n] && path[n] != '/'))
			return false;
		*id = path[n] ? path + n + 1 : NULL;
		return true;
	}
	if (r->path[n - 1] != '/' || n == 1)
		return !strcmp(path, r->path);
	if (strncmp(path, r->path, n) || strchr(path + n, '/'))
		return false;
	*id = path + n;
	return true;
}

static const char *method_name(enum http_method m)
{
	static const char *const names[] = {
		[HTTP_METHOD_GET] = "GET",         [HTTP_METHOD_PUT] = "PUT",
		[HTTP_METHOD_PATCH] = "PATCH",     [HTTP_METHOD_POST] = "POST",
		[HTTP_METHOD_DELETE] = "DELETE",   [HTTP_METHOD_HEAD] = "HEAD",
		[HTTP_METHOD_OPTIONS] = "OPTIONS",
	};
	return (unsigned)m < ARRAY_SIZE(names) && names[m] ? names[m] : "?";
}

static void dispatch(struct ctx *x)
{
	const struct http_request *req = x->req;
	const struct route *r = NULL;
	static bool dev_routes_done;
	json_error_t je;
	int ret;

	if (!dev_routes_done) {
		dev_routes_init(); /* the event loop's thread only */
		dev_routes_done = true;
	}

	for (size_t i = 0; i < ARRAY_SIZE(routes) + ndev_routes; i++) {
		const struct route *c =
		        i < ARRAY_SIZE(routes)
		                ? &routes[i]
		                : &dev_routes[i - ARRAY_SIZE(routes)];
		const char *id;

		if (!path_matches(c, req->path, &id))
			continue;
		if (c->method == req->method) {
			r = c;
			x->id = id;
		}
	}
	/* An unknown path and a method a path does not take are 400, as
	 * Firecracker answers them. */
	if (!r) {
		snprintf(x->err, sizeof(x->err),
		         "Invalid request method and/or path: %s %s.",
		         method_name(req->method), req->path);
		fault(x->resp, 400, x->err);
		return;
	}
	if (r->count)
		atomic_fetch_add(r->count, 1);
	if (r->body) {
		if (!req->body_len) {
			fault(x->resp, 400,
			      req->method == HTTP_METHOD_PATCH
			              ? "Empty PATCH request."
			              : "Empty PUT request.");
			goto failed;
		}
		/* A document for the metadata store is any JSON value,
		 * read as Firecracker reads it: NUL in strings allowed, the
		 * last of duplicate keys kept. */
		x->body = json_loadb((const char *)req->body, req->body_len,
		                     r->any_json
		                             ? JSON_DECODE_ANY | JSON_ALLOW_NUL
		                             : JSON_REJECT_DUPLICATES,
		                     &je);
		if (!x->body) {
			snprintf(x->err, sizeof(x->err),
			         "the body is not valid JSON: %s at line %d "
			         "column %d",
			         je.text, je.line, je.column);
			fault(x->resp, 400, x->err);
			goto failed;
		}
		if (!r->any_json && !json_is_object(x->body)) {
			fault(x->resp, 400, "the body must be a JSON object");
			goto failed;
		}
	} else if (req->body_len) {
		fault(x->resp, 400, "GET request cannot have a body.");
		goto failed;
	}
	if (r->when == PRE_BOOT && started(x->m)) {
		fault(x->resp, 400, MSG_AFTER_START);
		goto failed;
	}
	if (r->when == POST_BOOT && !started(x->m)) {
		fault(x->resp, 400, MSG_BEFORE_START);
		goto failed;
	}
	x->resp->status = 0;
	x->r = r;
	ret = r->fn(x);
	if (ret < 0) {
		int status = x->resp->status ? x->resp->status : 400;

		free(x->resp->body);
		fault(x->resp, status, x->err);
		log_info("API %s %s: %d %s", method_name(req->method),
		         req->path, status, x->err);
		goto failed;
	}
	if (!x->resp->status)
		respond(x->resp, 204, NULL);
	json_decref(x->body);
	return;
failed:
	json_decref(x->body);
	if (r->fails)
		atomic_fetch_add(r->fails, 1);
}

static void on_loop(struct vmm *m, void *arg)
{
	struct ctx *x = arg;

	x->m = m;
	dispatch(x);
}

void routes_handle(void *m, const struct http_request *req,
                   struct api_response *resp)
{
	struct ctx *x = calloc(1, sizeof(*x));

	if (!x) {
		resp->status = 500;
		resp->body = NULL;
		return;
	}
	x->req = req;
	x->resp = resp;
	if (vmm_call(m, on_loop, x) < 0)
		fault(resp, 400, "the microVM is shutting down");
	free(x);
}
