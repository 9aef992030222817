/*
 * Network byte order and the Internet checksum, for the probe guest's
 * frames (net.c) and the unit tests' guest (tests/unit/mmds_guest.c):
 * freestanding, header only.
 */
#ifndef WISP_TESTS_GUEST_INET_H
#define WISP_TESTS_GUEST_INET_H

#include <stddef.h>
#include <stdint.h>

static inline void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static inline uint32_t get16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static inline uint32_t get32(const uint8_t *p)
{
	return get16(p) << 16 | get16(p + 2);
}

/* The ones' complement of the sum of @len bytes at @p, from @sum on. */
static inline uint16_t inet_csum(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		sum += i & 1 ? p[i] : (uint32_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The TCP pseudo header's sum for a segment of @len bytes. */
static inline uint32_t inet_pseudo(uint32_t src, uint32_t dst, size_t len)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 6 +
	       (uint32_t)len;
}

#endif
