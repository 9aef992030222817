/*
 * What the metadata service's files share (mmds.h is the interface):
 * the store's state, a growable output buffer, the serializer and the
 * token authority.
 */
#ifndef WISP_MMDS_INT_H
#define WISP_MMDS_INT_H

#include "mmds.h"
#include "sha256.h"

#include <jansson.h>

#define MMDS_TOKEN_BYTES                                                       \
	36                  /* nonce 12, expiry 8, tag 16: Firecracker's size  \
	                     */
#define MMDS_TOKEN_CHARS 48 /* its base64 */
#define MMDS_TOKEN_MAX   70 /* longer tokens are refused unread */

struct mmds {
	json_t *data; /* the document; JSON null until the first PUT */
	bool initialised;
	size_t limit;
	int version; /* 1 or 2 */
	bool imds_compat;
	const char *vm_id;
	uint8_t key[SHA256_LEN]; /* the token MAC's, random per process */
	uint64_t tokens;         /* tokens made: their nonces */
	uint64_t skew_ms;        /* mmds_test_advance_clock() */
};

/* A growable buffer; once an append fails, @oom stays set. */
struct mmds_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

void mmds_buf_put(struct mmds_buf *b, const void *p, size_t n);
void mmds_buf_str(struct mmds_buf *b, const char *s);

/*
 * @v as compact JSON (mmds_json_dumps()) appended to @b; with @b->p NULL
 * and @count_only, only @b->len grows, and stops being exact once past
 * @max (the size check need not walk a huge document to the end).
 */
void mmds_json_write(struct mmds_buf *b, const json_t *v, bool count_only,
                     size_t max);

/* Containers nested in @v (a scalar is 0), counted up to @max + 1. */
unsigned mmds_json_depth(const json_t *v, unsigned max);

/* A piece of the guest's request; @p NULL when absent. */
struct mmds_slice {
	const uint8_t *p;
	size_t n;
};

enum mmds_method { MMDS_GET, MMDS_PUT, MMDS_PATCH, MMDS_DELETE };

/* What of a guest's request head the service looks at. */
struct mmds_req {
	enum mmds_method method;
	bool http10;
	struct mmds_slice uri; /* the request target as sent */
	bool accept_json;      /* Accept: application/json (else text/plain) */
	/* The last of these custom headers; names as sent, trimmed. */
	struct mmds_slice token;               /* X-metadata-token's value */
	struct mmds_slice ttl_name, ttl_value; /* X-metadata-token-ttl-... */
	struct mmds_slice xff_name;            /* X-Forwarded-For */
};

/*
 * Parse a request head as Firecracker's HTTP library does. 0, or the
 * status of the error answer (400 or 501) with its body in @msg.
 */
int mmds_http_parse(const uint8_t *p, size_t len, struct mmds_req *r,
                    struct mmds_buf *msg);

/* Rust's u32::from_str: an optional '+', then decimal digits that fit. */
bool mmds_parse_u32(struct mmds_slice s, uint32_t *out);

/* CLOCK_MONOTONIC in ms, plus the tests' skew. */
uint64_t mmds_now_ms(const struct mmds *m);

/* A token for @ttl seconds (1..MMDS_TOKEN_TTL_MAX) in @out (NUL-ended). */
void mmds_token_new(struct mmds *m, uint32_t ttl,
                    char out[MMDS_TOKEN_CHARS + 1]);
/* Made by this process for this VM, and not expired. */
bool mmds_token_valid(const struct mmds *m, const uint8_t *tok, size_t len);

#endif
