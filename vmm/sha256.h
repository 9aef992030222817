/*
 * SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104), for the metadata
 * service's session tokens (mmds_token.c): small enough to carry in the
 * tree rather than link a crypto library into a static binary for one
 * keyed hash. Checked against the published test vectors in
 * tests/unit/test_mmds.c.
 */
#ifndef WISP_SHA256_H
#define WISP_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN   32
#define SHA256_BLOCK 64

struct sha256 {
	uint32_t h[8];
	uint64_t len; /* bytes hashed so far */
	uint8_t buf[SHA256_BLOCK];
	size_t nbuf;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *p, size_t n);
void sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN]);

/* HMAC-SHA-256 of @msg under @key (any length). */
void sha256_hmac(const void *key, size_t klen, const void *msg, size_t mlen,
                 uint8_t out[SHA256_LEN]);

#endif
