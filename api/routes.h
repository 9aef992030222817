/*
 * The REST API's resources: Firecracker's paths and bodies (see
 * docs/api.md). Each request is decoded and applied on the VMM's event
 * loop thread, where the configuration and the VM's state live.
 */
#ifndef WISP_ROUTES_H
#define WISP_ROUTES_H

#include "http.h"
#include "server.h"

struct vmm;

/* The API server's handler (server.h); @m is the struct vmm. */
void routes_handle(void *m, const struct http_request *req,
                   struct api_response *resp);

#endif
