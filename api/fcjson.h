/*
 * Firecracker's JSON bodies (the same for API requests and for the
 * sections of a --config-file) to and from wisp's one configuration:
 * the machine's resources here, each device type's in its *_conf.c
 * (vmm/vdev.h, struct vdev_conf).
 *
 * Every parser checks the whole body before it changes anything: unknown
 * fields, wrong types, missing required fields and bad values are refused
 * with a message that names the resource and the field, and @c is left as
 * it was. Whether the VM's state allows the change is the caller's check.
 */
#ifndef WISP_FCJSON_H
#define WISP_FCJSON_H

#include "config.h"
#include "snapshot.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct vmm;

/* Firecracker's kernel command line when boot-source has no boot_args. */
#define FC_DEFAULT_BOOT_ARGS                                                   \
	"reboot=k panic=1 pci=off nomodule 8250.nr_uarts=0 i8042.noaux "       \
	"i8042.nomux i8042.nopnp i8042.dumbkbd"

/* PUT (@patch false: absent optional fields take defaults) or PATCH. */
/* huge_pages as Firecracker names it; fc_huge_pages() is -1 for another
 * name. */
const char *fc_huge_pages_name(enum huge_pages h);
int fc_huge_pages(const char *s);

int fc_machine_config(struct config *c, json_t *body, bool patch, char *err,
                      size_t errlen);
int fc_boot_source(struct config *c, json_t *body, char *err, size_t errlen);
int fc_logger(json_t *body, char *err, size_t errlen);
/* PUT /serial: where the console goes (a file or FIFO; none: stdout) and
 * its rate limiter; the whole body replaces what was set. */
int fc_serial(struct config *c, json_t *body, char *err, size_t errlen);
/* PUT /cpu-config (cpuconf.c): a custom CPU template replaces the last. */
int fc_cpu_config(struct config *c, json_t *body, char *err, size_t errlen);
int fc_metrics(json_t *body, char *err, size_t errlen);

/* PUT /snapshot/create. */
struct fc_snapshot_create {
	char state_path[CONFIG_PATH_MAX], mem_path[CONFIG_PATH_MAX];
	bool diff;
};
int fc_snapshot_create(json_t *body, struct fc_snapshot_create *c, char *err,
                       size_t errlen);
/* PUT /snapshot/load: the state file must be readable now. */
int fc_snapshot_load(json_t *body, struct snapshot_load *l, char *err,
                     size_t errlen);

/* GET /machine-config and GET /vm/config bodies (new references). */
json_t *fc_machine_config_json(const struct config *c);
json_t *fc_vm_config_json(const struct config *c);

/*
 * Fill @m's configuration from a Firecracker JSON config file. Returns 0,
 * or -1 with "FILE: resource: message" in @err.
 */
int fcjson_load_file(struct vmm *m, const char *path, char *err, size_t errlen);

#endif
