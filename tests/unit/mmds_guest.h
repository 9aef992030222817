/*
 * A guest's side of MMDS's network path for tests: frames built as a
 * guest's stack builds them (ARP requests, IPv4/TCP with checksums) and
 * the responder's frames parsed and checked (tests/unit/mmds_guest.c).
 */
#ifndef WISP_TESTS_MMDS_GUEST_H
#define WISP_TESTS_MMDS_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MG_MMDS_IP 0xa9fea9feu /* 169.254.169.254 */

/* One guest TCP endpoint: its addresses and where its stream stands. */
struct mg {
	uint8_t mac[6];
	uint32_t ip, dst;
	uint16_t port, dport;
	uint32_t seq, ack;
	uint16_t win, mss; /* mss: the SYN's MSS option, 0 for none */
};

/* A parsed frame from the responder. */
struct mg_seg {
	bool arp;
	uint8_t dst_mac[6], src_mac[6];
	uint32_t src, dst;
	uint16_t sport, dport, win, mss;
	uint32_t seq, ack;
	uint8_t flags, ttl;
	const uint8_t *data;
	size_t len;
};

void mg_init(struct mg *g, uint16_t port);
/* An ARP request from @g for @tpa into @f: its length (42). */
size_t mg_arp(const struct mg *g, uint32_t tpa, uint8_t *f);
/* A segment from @g (its seq and ack) with @flags and @len bytes. */
size_t mg_tcp(const struct mg *g, uint8_t flags, const void *data, size_t len,
              uint8_t *f);
/* The IPv4 and TCP checksums of a frame mg_tcp() wrote, rewritten. */
void mg_fix_csum(uint8_t *f, size_t len);
/*
 * Parse @f (@len bytes) from the responder: false unless it is a
 * well-formed ARP reply or IPv4/TCP frame with correct checksums.
 */
bool mg_parse(const uint8_t *f, size_t len, struct mg_seg *s);

#endif
