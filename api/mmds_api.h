/*
 * The metadata service's host side: the /mmds resources, the
 * "mmds-config" section of GET /vm/config and --config-file, and
 * --metadata. The store itself is vmm/mmds.h's.
 */
#ifndef WISP_MMDS_API_H
#define WISP_MMDS_API_H

#include "config.h"

#include <jansson.h>
#include <stddef.h>

struct vmm;

/*
 * PUT (replace), PATCH (merge) and GET /mmds. 0 (GET: the body,
 * malloc'd), or -1 (NULL) with the message in @err and *@status 400 or
 * 413. After the start only a VM with an MMDS configuration has a store
 * the API reaches, as in Firecracker.
 */
int mmds_api_put(struct vmm *m, json_t *body, int *status, char *err,
                 size_t errlen);
int mmds_api_patch(struct vmm *m, json_t *body, int *status, char *err,
                   size_t errlen);
char *mmds_api_get(struct vmm *m, int *status, char *err, size_t errlen);

/*
 * PUT /mmds/config and the "mmds-config" section: version "V1" | "V2"
 * (V1), network_interfaces (required: ids of configured interfaces),
 * ipv4_address (link-local, 169.254.169.254), imds_compat (false). The
 * whole body is checked before anything changes. 0 or -1 with @err.
 */
int fc_mmds_config(struct vmm *m, json_t *body, char *err, size_t errlen);
/* Its GET /vm/config form (a new reference; null when not set). */
json_t *fc_mmds_config_json(const struct config *c);

/* --metadata: @path's JSON put into the store. 0 or -1 with @err. */
int mmds_api_load_file(struct vmm *m, const char *path, char *err,
                       size_t errlen);

#endif
