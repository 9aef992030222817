/* A guest's side of MMDS's network path for tests (mmds_guest.h). */
#include "mmds_guest.h"
#include "../guest/inet.h"

#include <string.h>

void mg_init(struct mg *g, uint16_t port)
{
	static const uint8_t mac[6] = { 0x06, 0, 0, 0, 0, 0x01 };

	memset(g, 0, sizeof(*g));
	memcpy(g->mac, mac, 6);
	g->ip = 0xa9fe0002; /* 169.254.0.2 */
	g->dst = MG_MMDS_IP;
	g->port = port;
	g->dport = 80;
	g->seq = 1000;
	g->win = 65535;
	g->mss = 1460;
}

size_t mg_arp(const struct mg *g, uint32_t tpa, uint8_t *f)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, g->mac, 6);
	put16(f + 12, 0x0806);
	put16(f + 14, 1);
	put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, 1);
	memcpy(f + 22, g->mac, 6);
	put32(f + 28, g->ip);
	memset(f + 32, 0, 6);
	put32(f + 38, tpa);
	return 42;
}

size_t mg_tcp(const struct mg *g, uint8_t flags, const void *data, size_t len,
              uint8_t *f)
{
	size_t hl = (flags & 0x02) && g->mss ? 24 : 20;
	uint8_t *ip = f + 14, *t = ip + 20;

	memcpy(f, "\x06\x01\x23\x45\x67\x01", 6);
	memcpy(f + 6, g->mac, 6);
	put16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint32_t)(20 + hl + len));
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = 6;
	put32(ip + 12, g->ip);
	put32(ip + 16, g->dst);
	memset(t, 0, hl);
	put16(t, g->port);
	put16(t + 2, g->dport);
	put32(t + 4, g->seq);
	put32(t + 8, g->ack);
	t[12] = (uint8_t)(hl / 4 << 4);
	t[13] = flags;
	put16(t + 14, g->win);
	if (hl == 24) {
		t[20] = 2;
		t[21] = 4;
		put16(t + 22, g->mss);
	}
	if (len)
		memcpy(t + hl, data, len);
	mg_fix_csum(f, 14 + 20 + hl + len);
	return 14 + 20 + hl + len;
}

void mg_fix_csum(uint8_t *f, size_t len)
{
	uint8_t *ip = f + 14, *t = ip + 20;
	size_t tl = len - 34;

	put16(ip + 10, 0);
	put16(ip + 10, inet_csum(0, ip, 20));
	put16(t + 16, 0);
	put16(t + 16, inet_csum(inet_pseudo(get32(ip + 12), get32(ip + 16), tl),
	                        t, tl));
}

bool mg_parse(const uint8_t *f, size_t len, struct mg_seg *s)
{
	const uint8_t *ip = f + 14, *t;
	size_t total, hl;

	memset(s, 0, sizeof(*s));
	if (len < 14)
		return false;
	memcpy(s->dst_mac, f, 6);
	memcpy(s->src_mac, f + 6, 6);
	if (get16(f + 12) == 0x0806) {
		s->arp = true;
		s->src = get32(f + 28);
		s->dst = get32(f + 38);
		return len == 42 && get16(f + 20) == 2;
	}
	if (get16(f + 12) != 0x0800 || len < 34 || ip[0] != 0x45 ||
	    inet_csum(0, ip, 20) != 0)
		return false;
	total = get16(ip + 2);
	if (total + 14 != len || ip[9] != 6 || total < 40)
		return false;
	t = ip + 20;
	hl = (size_t)(t[12] >> 4) * 4;
	if (hl < 20 || hl > total - 20 ||
	    inet_csum(inet_pseudo(get32(ip + 12), get32(ip + 16), total - 20),
	              t, total - 20) != 0)
		return false;
	s->ttl = ip[8];
	s->src = get32(ip + 12);
	s->dst = get32(ip + 16);
	s->sport = (uint16_t)get16(t);
	s->dport = (uint16_t)get16(t + 2);
	s->seq = get32(t + 4);
	s->ack = get32(t + 8);
	s->flags = t[13];
	s->win = (uint16_t)get16(t + 14);
	if (hl >= 24 && t[20] == 2)
		s->mss = (uint16_t)get16(t + 22);
	s->data = t + hl;
	s->len = total - 20 - hl;
	return true;
}
