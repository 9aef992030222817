/*
 * MMDS V2 session tokens: stateless and unforgeable. A token is the
 * base64 (standard alphabet, padded) of 36 bytes: a 12-byte nonce, the
 * expiry (ms of CLOCK_MONOTONIC, u64 little endian) encrypted, and a
 * 16-byte tag. All three come from HMAC-SHA-256 under a key drawn from
 * getrandom() when the store is made, each use with its own label: the
 * nonce is the MAC of a counter, the expiry is XORed with the MAC of the
 * nonce (a keystream: the guest learns neither the host's uptime nor how
 * many tokens were made), and the tag is the first half of the MAC of
 * nonce, encrypted expiry and "microvmid=<VM id>" (encrypt, then MAC).
 * Nothing is kept per token: a token is valid while its tag checks and
 * its expiry is ahead of the clock. A new process (a restored snapshot)
 * has a new key, so earlier tokens stop working, as with Firecracker,
 * whose tokens have the same size (AES-GCM there; the guest only echoes
 * them back).
 */
#include "mmds_int.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

#define NONCE_LEN 12
#define TAG_LEN   16
#define ID_MAX    64

static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

uint64_t mmds_now_ms(const struct mmds *m)
{
	return util_now_us() / 1000 + m->skew_ms;
}

/* HMAC of @label ("nonce", "expiry", "tag") followed by @n bytes. */
static void mac(const struct mmds *m, const char *label, const uint8_t *p,
                size_t n, uint8_t out[SHA256_LEN])
{
	uint8_t msg[8 + NONCE_LEN + 8 + 10 + ID_MAX];
	size_t l = strlen(label) + 1; /* the NUL ends the label */

	memcpy(msg, label, l);
	memcpy(msg + l, p, n);
	sha256_hmac(m->key, sizeof(m->key), msg, l + n, out);
}

/* The tag of @t (nonce and encrypted expiry) for this VM. */
static void tag(const struct mmds *m, const uint8_t *t, uint8_t out[TAG_LEN])
{
	uint8_t msg[NONCE_LEN + 8 + 10 + ID_MAX], h[SHA256_LEN];
	const char *id = m->vm_id ? m->vm_id : "";
	size_t idlen = strnlen(id, ID_MAX);

	memcpy(msg, t, NONCE_LEN + 8);
	memcpy(msg + NONCE_LEN + 8, "microvmid=", 10);
	memcpy(msg + NONCE_LEN + 18, id, idlen);
	mac(m, "tag", msg, NONCE_LEN + 18 + idlen, h);
	memcpy(out, h, TAG_LEN);
}

/* Expiry <-> its ciphertext in @t (after the nonce): the same XOR. */
static void crypt_expiry(const struct mmds *m, uint8_t *t)
{
	uint8_t ks[SHA256_LEN];

	mac(m, "expiry", t, NONCE_LEN, ks);
	for (unsigned i = 0; i < 8; i++)
		t[NONCE_LEN + i] ^= ks[i];
}

void mmds_token_new(struct mmds *m, uint32_t ttl,
                    char out[MMDS_TOKEN_CHARS + 1])
{
	uint8_t t[MMDS_TOKEN_BYTES], ctr[8], h[SHA256_LEN];
	uint64_t expiry = mmds_now_ms(m) + (uint64_t)ttl * 1000;
	size_t o = 0;

	m->tokens++;
	for (unsigned i = 0; i < 8; i++) {
		ctr[i] = (uint8_t)(m->tokens >> (8 * i));
		t[NONCE_LEN + i] = (uint8_t)(expiry >> (8 * i));
	}
	mac(m, "nonce", ctr, sizeof(ctr), h);
	memcpy(t, h, NONCE_LEN);
	crypt_expiry(m, t);
	tag(m, t, t + NONCE_LEN + 8);
	for (size_t i = 0; i < MMDS_TOKEN_BYTES; i += 3) {
		uint32_t v = (uint32_t)t[i] << 16 | (uint32_t)t[i + 1] << 8 |
		             t[i + 2];

		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = b64[(v >> 6) & 63];
		out[o++] = b64[v & 63];
	}
	out[o] = '\0';
}

static int b64_value(uint8_t c)
{
	const char *p = c ? memchr(b64, c, 64) : NULL;

	return p ? (int)(p - b64) : -1;
}

/*
 * Strict base64 (what Firecracker's decoder accepts): whole quads,
 * '=' only as the padding of the last one, and the bits padding drops
 * all zero. The decoded length in *@n, at most @max bytes.
 */
static bool b64_decode(const uint8_t *s, size_t len, uint8_t *out, size_t max,
                       size_t *n)
{
	*n = 0;
	if (len % 4)
		return false;
	for (size_t i = 0; i < len; i += 4) {
		int v[4], pad = 0;
		uint32_t w = 0;

		for (unsigned j = 0; j < 4; j++) {
			v[j] = b64_value(s[i + j]);
			if (s[i + j] == '=' && i + 4 == len && j >= 2)
				pad++;
			else if (v[j] < 0 || pad)
				return false;
		}
		for (unsigned j = 0; j < 4; j++)
			w = w << 6 | (uint32_t)(v[j] < 0 ? 0 : v[j]);
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			return false;
		for (int j = 0; j < 3 - pad; j++) {
			if (*n == max)
				return false;
			out[(*n)++] = (uint8_t)(w >> (16 - 8 * j));
		}
	}
	return true;
}

bool mmds_token_valid(const struct mmds *m, const uint8_t *tok, size_t len)
{
	uint8_t t[MMDS_TOKEN_BYTES], want[TAG_LEN], diff = 0;
	uint64_t expiry = 0;
	size_t n;

	if (len > MMDS_TOKEN_MAX || !b64_decode(tok, len, t, sizeof(t), &n) ||
	    n != sizeof(t))
		return false;
	tag(m, t, want);
	/* In constant time: the guest must not learn the tag byte by byte. */
	for (unsigned i = 0; i < TAG_LEN; i++)
		diff |= (uint8_t)(want[i] ^ t[NONCE_LEN + 8 + i]);
	if (diff)
		return false;
	crypt_expiry(m, t);
	for (unsigned i = 0; i < 8; i++)
		expiry |= (uint64_t)t[NONCE_LEN + i] << (8 * i);
	return expiry > mmds_now_ms(m);
}
