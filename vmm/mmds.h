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
 *
 * The files: mmds.c the store (put, merge patch, limits), mmds_json.c
 * its compact JSON as Firecracker writes it, mmds_http.c the guest's
 * request head, mmds_serve.c the guest's answers, mmds_token.c the V2
 * session tokens.
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
/* serde_json's recursion limit: Firecracker refuses deeper documents. */
#define MMDS_MAX_DEPTH 127

/* The API's messages for the store's errors, Firecracker's words. */
#define MMDS_MSG_NOT_INIT "MMDS error: The MMDS data store is not initialized."
#define MMDS_MSG_TOO_LARGE                                                     \
	"MMDS limit exceeded error: The MMDS patch request doesn't fit."

struct mmds;

/*
 * A new, uninitialised store (GET /mmds says so until a PUT); NULL when
 * out of memory or the system has no randomness for the token key.
 * @vm_id is kept, not copied: tokens are bound to it when they are made,
 * so it must outlive the store (struct vmm's id, which --id sets after
 * the store is made).
 */
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
 * @v as Firecracker writes it (serde_json's compact form: object keys in
 * byte order, the shortest decimal that reads back as the same double):
 * malloc'd and NUL-terminated, its length in *@len; NULL when out of
 * memory. The size limit counts these bytes.
 */
char *mmds_json_dumps(const struct json_t *v, size_t *len);

/*
 * One guest HTTP request, @len bytes through the blank line that ends
 * its head: the whole response (status line, headers, body) malloc'd in
 * *@out, its length returned; 0 only when out of memory. Every request,
 * however malformed, gets a response as Firecracker's MMDS gives it.
 */
size_t mmds_http(struct mmds *m, const uint8_t *req, size_t len, uint8_t **out);

/* Tests: move the clock tokens expire by forward (ms). */
void mmds_test_advance_clock(struct mmds *m, uint64_t ms);

#endif
