/*
 * MMDS, the microVM metadata service (Firecracker's, versions 1 and 2):
 * a JSON document the host puts over the API (PUT/PATCH/GET /mmds) or
 * with --metadata, that the guest reads over HTTP at a link-local
 * address (169.254.169.254 by default) through the network interfaces
 * PUT /mmds/config names. The guest's frames to that address never
 * reach the tap: virtio/mmds_net.c answers them (ARP, IPv4, a minimal
 * TCP) and hands each complete HTTP request to mmds_http() here.
 *
 * One store per VMM (struct vmm .mmds), used on the event loop thread
 * only (the API's handlers and the net devices' queue work run there),
 * so it takes no lock.
 */
#ifndef WISP_MMDS_H
#define WISP_MMDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t;

/* Firecracker's defaults. */
#define MMDS_DEFAULT_IPV4       0xa9fea9feu /* 169.254.169.254 */
#define MMDS_DEFAULT_SIZE_LIMIT 51200       /* bytes of compact JSON */
#define MMDS_TOKEN_TTL_MAX      21600       /* seconds */

struct mmds;

/* A new, uninitialised store (GET /mmds says so until a PUT); NULL. */
struct mmds *mmds_new(const char *vm_id);
void mmds_free(struct mmds *m);

/* The largest store in bytes of compact JSON (--mmds-size-limit). */
void mmds_set_size_limit(struct mmds *m, size_t limit);

/* Version 1 (tokens optional) or 2 (required); imds_compat: answer in
 * IMDS text whatever the guest's Accept. */
void mmds_set_version(struct mmds *m, int version, bool imds_compat);

/*
 * PUT /mmds (replace) and PATCH /mmds (RFC 7396 merge patch) of @v;
 * GET /mmds (a new reference). 0, or -1 with @err: 413 when the result
 * would exceed the size limit (the store is unchanged), 400 otherwise
 * (a PATCH before any PUT); *@status says which.
 */
int mmds_put(struct mmds *m, struct json_t *v, int *status, char *err,
             size_t errlen);
int mmds_patch(struct mmds *m, struct json_t *v, int *status, char *err,
               size_t errlen);
struct json_t *mmds_get(const struct mmds *m, int *status, char *err,
                        size_t errlen);

/*
 * One guest HTTP request, @len bytes through the blank line that ends
 * its head: the whole response (status line, headers, body) malloc'd in
 * *@out, its length returned; 0 only when out of memory. Every request,
 * however malformed, gets a response as Firecracker's MMDS gives it.
 */
size_t mmds_http(struct mmds *m, const uint8_t *req, size_t len, uint8_t **out);

#endif
