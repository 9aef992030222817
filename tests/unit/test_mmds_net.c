/*
 * MMDS's network path (virtio/mmds_net.c, mmds_tcp.c) from the guest's
 * side: ARP, the TCP handshake, a GET and its response, the FIN; V2
 * tokens through TCP; what is dropped (bad checksums, truncated or
 * malformed headers, other protocols); resets; the connection and reset
 * limits; a request larger than the buffer; sequence numbers across
 * 2^32; out-of-order data; retransmission and eviction on a test clock.
 */
#include "unit.h"
#include "metrics.h"
#include "mmds.h"
#include "mmds_guest.h"
#include "mmds_net.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_MAX 1514

static struct mmds *store;
static struct mmds_net *ns;
static uint64_t clock_ms;
static uint8_t out[FRAME_MAX];
static char vm_id[] = "vm-net";

static void setup(void)
{
	json_t *v = json_loads("{\"latest\": {\"meta-data\": {\"ami-id\": "
	                       "\"ami-12345678\"}}}",
	                       0, NULL);
	char err[128];
	int st;

	store = mmds_new(vm_id);
	ck_assert_ptr_nonnull(store);
	ck_assert_int_eq(mmds_put(store, v, &st, err, sizeof(err)), 0);
	json_decref(v);
	ns = mmds_net_new(store, MG_MMDS_IP, FRAME_MAX);
	ck_assert_ptr_nonnull(ns);
	clock_ms = 1000000;
	mmds_net_test_clock(ns, &clock_ms);
}

static void teardown(void)
{
	mmds_net_free(ns);
	mmds_free(store);
}

static uint64_t counter(_Atomic uint64_t *c)
{
	return atomic_load(c);
}

/* @g sends @flags and @data; its sequence number moves on. */
static void gsend(struct mg *g, uint8_t flags, const char *data)
{
	uint8_t f[FRAME_MAX];
	size_t len = data ? strlen(data) : 0;
	size_t n = mg_tcp(g, flags, data, len, f);

	ck_assert(mmds_net_is_for(ns, f, n));
	mmds_net_rx(ns, f, n, false);
	g->seq += (uint32_t)len + ((flags & 0x03) ? 1 : 0);
}

/* The next frame from the responder, parsed; false when none. */
static bool grecv(struct mg_seg *s)
{
	size_t n = mmds_net_next(ns, out, sizeof(out));

	if (!n)
		return false;
	ck_assert_msg(mg_parse(out, n, s), "malformed output frame");
	return true;
}

static void expect_none(void)
{
	struct mg_seg s;

	ck_assert(!mmds_net_pending(ns));
	ck_assert(!grecv(&s));
}

/* @g sends @flags and @data: a reset comes back, then nothing. */
static void expect_reset_for(struct mg *g, uint8_t flags, const char *data)
{
	struct mg_seg s;

	gsend(g, flags, data);
	ck_assert(grecv(&s));
	ck_assert(s.flags & 0x04);
	expect_none();
}

/* The handshake from @g: the SYN-ACK checked, the ACK sent. */
static void handshake(struct mg *g)
{
	struct mg_seg s;
	uint32_t isn = g->seq;

	gsend(g, 0x02, NULL);
	ck_assert(mmds_net_pending(ns));
	ck_assert(grecv(&s));
	ck_assert_uint_eq(s.flags, 0x12); /* SYN|ACK */
	ck_assert_uint_eq(s.ack, isn + 1);
	ck_assert_uint_eq(s.sport, 80);
	ck_assert_uint_eq(s.dport, g->port);
	ck_assert_uint_eq(s.src, MG_MMDS_IP);
	ck_assert_uint_eq(s.dst, g->ip);
	ck_assert_uint_eq(s.mss, g->mss ? g->mss : 536);
	ck_assert_uint_eq(s.win, MMDS_NET_RCV_BUF);
	ck_assert_mem_eq(s.src_mac, mmds_net_mac, 6);
	ck_assert_mem_eq(s.dst_mac, g->mac, 6);
	g->ack = s.seq + 1;
	gsend(g, 0x10, NULL);
	ck_assert(!grecv(&s)); /* nothing to say to a bare ACK */
}

/*
 * Send request @req from @g and collect the response (acknowledging
 * each segment) into @resp: its length.
 */
static size_t request(struct mg *g, const char *req, char *resp, size_t cap)
{
	struct mg_seg s;
	size_t got = 0;

	gsend(g, 0x18, req);
	while (grecv(&s)) {
		ck_assert(s.flags & 0x10);
		ck_assert_uint_eq(s.ack, g->seq);
		if (!s.len)
			continue;
		ck_assert_uint_eq(s.seq, g->ack);
		ck_assert(got + s.len < cap);
		memcpy(resp + got, s.data, s.len);
		got += s.len;
		g->ack += (uint32_t)s.len;
		gsend(g, 0x10, NULL);
	}
	resp[got] = '\0';
	return got;
}

/* The guest closes: FIN, then our FIN|ACK, and the connection is gone. */
static void close_conn(struct mg *g)
{
	struct mg_seg s;
	uint64_t gone = counter(&metrics.mmds_connections_destroyed);

	gsend(g, 0x11, NULL);
	ck_assert(grecv(&s));
	ck_assert_uint_eq(s.flags, 0x11); /* FIN|ACK */
	ck_assert_uint_eq(s.ack, g->seq);
	ck_assert_uint_eq(s.seq, g->ack);
	ck_assert_uint_eq(counter(&metrics.mmds_connections_destroyed),
	                  gone + 1);
	expect_none();
}

START_TEST(arp_request_gets_the_mmds_mac)
{
	struct mg g;
	uint8_t f[64];
	static const uint8_t want[42] = { /* to the guest, from MMDS, ARP */
		                          0x06, 0, 0, 0, 0, 0x01, 0x06, 0x01,
		                          0x23, 0x45, 0x67, 0x01, 0x08, 0x06,
		                          /* Ethernet, IPv4, 6, 4, reply */
		                          0, 1, 0x08, 0, 6, 4, 0, 2,
		                          /* sender: the MMDS MAC and address */
		                          0x06, 0x01, 0x23, 0x45, 0x67, 0x01,
		                          169, 254, 169, 254,
		                          /* target: the guest */
		                          0x06, 0, 0, 0, 0, 0x01, 169, 254, 0, 2
	};
	size_t n;

	mg_init(&g, 1);
	n = mg_arp(&g, MG_MMDS_IP, f);
	ck_assert(mmds_net_is_for(ns, f, n));
	mmds_net_rx(ns, f, n, false);
	ck_assert(mmds_net_pending(ns));
	/* no room: it waits */
	ck_assert_uint_eq(mmds_net_next(ns, out, 41), 0);
	ck_assert_uint_eq(mmds_net_next(ns, out, sizeof(out)), 42);
	ck_assert_mem_eq(out, want, 42);
	expect_none();
	/* for another address: not ours */
	n = mg_arp(&g, 0xa9fe0001, f);
	ck_assert(!mmds_net_is_for(ns, f, n));
	/* ours but not a request (a reply): taken, dropped */
	n = mg_arp(&g, MG_MMDS_IP, f);
	f[21] = 2;
	mmds_net_rx(ns, f, n, false);
	expect_none();
	/* too short to hold the target address: not ours */
	ck_assert(!mmds_net_is_for(ns, f, 41));
}
END_TEST

START_TEST(get_over_tcp_then_fin)
{
	struct mg g;
	char resp[4096];
	uint64_t made = counter(&metrics.mmds_connections_created);

	mg_init(&g, 40000);
	handshake(&g);
	ck_assert_uint_eq(counter(&metrics.mmds_connections_created), made + 1);
	request(&g, "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n", resp,
	        sizeof(resp));
	ck_assert_msg(!strncmp(resp, "HTTP/1.1 200", 12), "%s", resp);
	ck_assert_str_eq(strstr(resp, "\r\n\r\n") + 4, "ami-12345678");
	/* a second request on the same connection */
	request(&g, "GET /latest/meta-data/ HTTP/1.1\r\n\r\n", resp,
	        sizeof(resp));
	ck_assert_str_eq(strstr(resp, "\r\n\r\n") + 4, "ami-id");
	close_conn(&g);
}
END_TEST

START_TEST(response_is_cut_to_mss_and_window)
{
	struct mg g;
	struct mg_seg s;
	char big[3000], put[3100];
	json_t *v;
	char err[128];
	int st;
	size_t seen = 0;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(put, sizeof(put), "{\"k\": \"%s\"}", big);
	v = json_loads(put, 0, NULL);
	ck_assert_int_eq(mmds_put(store, v, &st, err, sizeof(err)), 0);
	json_decref(v);
	mg_init(&g, 40001);
	g.mss = 200;
	g.win = 1000;
	handshake(&g);
	gsend(&g, 0x18, "GET /k HTTP/1.1\r\n\r\n");
	/* the window: 1000 bytes in segments of at most 200, then wait */
	while (grecv(&s)) {
		ck_assert_uint_le(s.len, 200);
		seen += s.len;
	}
	ck_assert_uint_eq(seen, 1000);
	/* acknowledged: the rest comes */
	g.ack += 1000;
	g.win = 65535;
	gsend(&g, 0x10, NULL);
	while (grecv(&s))
		seen += s.len;
	ck_assert_uint_gt(seen, 3000);
}
END_TEST

START_TEST(v2_token_through_tcp)
{
	struct mg g;
	char resp[4096], req[512];
	const char *tok;

	mmds_set_version(store, 2, false);
	mg_init(&g, 40002);
	handshake(&g);
	request(&g, "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n", resp,
	        sizeof(resp));
	ck_assert_msg(!strncmp(resp, "HTTP/1.1 401", 12), "%s", resp);
	request(&g,
	        "PUT /latest/api/token HTTP/1.1\r\n"
	        "X-metadata-token-ttl-seconds: 60\r\n\r\n",
	        resp, sizeof(resp));
	ck_assert_msg(!strncmp(resp, "HTTP/1.1 200", 12), "%s", resp);
	tok = strstr(resp, "\r\n\r\n") + 4;
	ck_assert_uint_eq(strlen(tok), 48);
	snprintf(req, sizeof(req),
	         "GET /latest/meta-data/ami-id HTTP/1.1\r\n"
	         "X-metadata-token: %s\r\n\r\n",
	         tok);
	request(&g, req, resp, sizeof(resp));
	ck_assert_msg(!strncmp(resp, "HTTP/1.1 200", 12), "%s", resp);
	ck_assert_str_eq(strstr(resp, "\r\n\r\n") + 4, "ami-12345678");
	close_conn(&g);
}
END_TEST

START_TEST(bad_checksums_are_dropped)
{
	struct mg g;
	uint8_t f[FRAME_MAX];
	size_t n;
	uint64_t err = counter(&metrics.mmds_rx_accepted_err);
	uint64_t eth = counter(&metrics.mmds_rx_bad_eth);

	mg_init(&g, 40003);
	n = mg_tcp(&g, 0x02, NULL, 0, f);
	f[14 + 20 + 16] ^= 1; /* the TCP checksum */
	mmds_net_rx(ns, f, n, false);
	expect_none();
	ck_assert_uint_eq(counter(&metrics.mmds_rx_accepted_err), err + 1);
	n = mg_tcp(&g, 0x02, NULL, 0, f);
	f[14 + 10] ^= 1; /* the IPv4 header checksum */
	mmds_net_rx(ns, f, n, false);
	expect_none();
	ck_assert_uint_eq(counter(&metrics.mmds_rx_bad_eth), eth + 1);
	/* a partial checksum the guest left to the device passes */
	n = mg_tcp(&g, 0x02, NULL, 0, f);
	f[14 + 20 + 16] ^= 1;
	mmds_net_rx(ns, f, n, true);
	ck_assert(mmds_net_pending(ns));
}
END_TEST

START_TEST(truncated_and_malformed_headers)
{
	struct mg g;
	uint8_t f[FRAME_MAX], c[FRAME_MAX];
	size_t n;

	mg_init(&g, 40004);
	n = mg_tcp(&g, 0x02, NULL, 0, f);
	/* every prefix: never a connection, never a read past it */
	for (size_t k = 0; k < n; k++) {
		uint8_t *p = malloc(k ? k : 1);

		memcpy(p, f, k);
		if (mmds_net_is_for(ns, p, k))
			mmds_net_rx(ns, p, k, false);
		free(p);
		expect_none();
	}
	/* IHL under 5, over the packet; total length over the frame */
	struct {
		size_t off;
		uint8_t v;
	} bad[] = { { 14, 0x44 },           { 14, 0x4f }, { 14, 0x55 },
		    { 16, 0xff },           { 17, 0x00 }, /* total length 0xff..
		                                             / 0 */
		    { 14 + 20 + 12, 0x40 }, /* TCP data offset 4 */
		    { 14 + 20 + 12, 0xf0 }, /* 60: past the packet */
		    { 14 + 9, 17 } };       /* UDP */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(c, f, n);
		c[bad[i].off] = bad[i].v;
		mg_fix_csum(c, n);
		mmds_net_rx(ns, c, n, false);
		expect_none();
	}
	/* Ethernet padding after the packet is fine */
	memcpy(c, f, n);
	memset(c + n, 0, 10);
	mmds_net_rx(ns, c, n + 10, false);
	ck_assert(mmds_net_pending(ns));
}
END_TEST

START_TEST(resets)
{
	struct mg g;
	struct mg_seg s;

	mg_init(&g, 40005);
	/* an ACK to no connection: RST with its ack as seq */
	g.ack = 0x11223344;
	gsend(&g, 0x10, NULL);
	ck_assert(grecv(&s));
	ck_assert_uint_eq(s.flags, 0x04);
	ck_assert_uint_eq(s.seq, 0x11223344);
	/* data without ACK to no connection: RST|ACK past the data */
	g.seq = 500;
	gsend(&g, 0x08, "abc");
	ck_assert(grecv(&s));
	ck_assert_uint_eq(s.flags, 0x14);
	ck_assert_uint_eq(s.ack, 503);
	/* a RST to no connection: nothing */
	gsend(&g, 0x04, NULL);
	expect_none();
	/* a RST in the window ends a connection, silently */
	handshake(&g);
	gsend(&g, 0x04, NULL);
	expect_none();
	/* ... and it is gone: the next ACK is answered with a reset */
	gsend(&g, 0x10, NULL);
	ck_assert(grecv(&s));
	ck_assert_uint_eq(s.flags, 0x04);
	/* a RST outside the window is ignored */
	mg_init(&g, 40006);
	handshake(&g);
	g.seq += 100000;
	gsend(&g, 0x04, NULL);
	g.seq -= 100000;
	request(&g, "GET /latest/ HTTP/1.1\r\n\r\n", (char[512]){ 0 }, 512);
	/* a SYN on an established connection resets it */
	expect_reset_for(&g, 0x02, NULL);
}
END_TEST

START_TEST(connection_limit_and_eviction)
{
	struct mg g[MMDS_NET_MAX_CONNS + 2];
	struct mg_seg s;

	for (unsigned i = 0; i < MMDS_NET_MAX_CONNS; i++) {
		mg_init(&g[i], (uint16_t)(1000 + i));
		handshake(&g[i]);
	}
	/* one more: reset */
	mg_init(&g[MMDS_NET_MAX_CONNS], 2000);
	gsend(&g[MMDS_NET_MAX_CONNS], 0x02, NULL);
	ck_assert(grecv(&s));
	ck_assert_uint_eq(s.flags, 0x14);
	ck_assert_uint_eq(s.dport, 2000);
	expect_none();
	/* 40 s later every one is idle: one is evicted with a reset */
	clock_ms += 40001;
	mg_init(&g[MMDS_NET_MAX_CONNS + 1], 2001);
	gsend(&g[MMDS_NET_MAX_CONNS + 1], 0x02, NULL);
	ck_assert(grecv(&s));
	ck_assert_uint_eq(s.flags, 0x04);
	ck_assert_uint_lt(s.dport, 1000 + MMDS_NET_MAX_CONNS);
	ck_assert(grecv(&s));
	ck_assert_uint_eq(s.flags, 0x12);
	ck_assert_uint_eq(s.dport, 2001);
}
END_TEST

START_TEST(syn_flood_is_bounded)
{
	struct mg g;
	struct mg_seg s;
	unsigned frames = 0;

	mg_init(&g, 1);
	for (unsigned i = 0; i < 5000; i++) {
		g.port = (uint16_t)(1 + i);
		gsend(&g, 0x02, NULL);
	}
	while (grecv(&s))
		frames++;
	ck_assert_uint_eq(frames, MMDS_NET_MAX_CONNS + MMDS_NET_MAX_RSTS);
}
END_TEST

START_TEST(request_larger_than_the_buffer)
{
	struct mg g;
	struct mg_seg s;
	char chunk[1251];
	uint64_t err;

	memset(chunk, 'x', sizeof(chunk) - 1);
	chunk[sizeof(chunk) - 1] = '\0';
	mg_init(&g, 40007);
	handshake(&g);
	/* one segment over the buffer: not taken, not acknowledged */
	{
		uint8_t f[FRAME_MAX * 3];
		static char huge[MMDS_NET_RCV_BUF + 1];
		size_t n;

		memset(huge, 'y', sizeof(huge));
		err = counter(&metrics.mmds_rx_accepted_err);
		n = mg_tcp(&g, 0x10, huge, sizeof(huge), f);
		mmds_net_rx(ns, f, n, false);
		ck_assert_uint_eq(counter(&metrics.mmds_rx_accepted_err),
		                  err + 1);
		expect_none();
	}
	/* 2500 bytes with no end of request: reset */
	gsend(&g, 0x10, chunk);
	ck_assert(grecv(&s));
	ck_assert_uint_eq(s.flags, 0x10);
	expect_reset_for(&g, 0x10, chunk);
}
END_TEST

START_TEST(sequence_numbers_wrap)
{
	struct mg g;
	char resp[4096];

	mg_init(&g, 40008);
	g.seq = 0xfffffff0u;
	handshake(&g);
	request(&g, "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n", resp,
	        sizeof(resp));
	ck_assert_str_eq(strstr(resp, "\r\n\r\n") + 4, "ami-12345678");
	ck_assert_uint_lt(g.seq, 0x100);
	close_conn(&g);
}
END_TEST

START_TEST(out_of_order_and_overlap)
{
	struct mg g;
	struct mg_seg s;
	char resp[4096];
	uint32_t at;

	mg_init(&g, 40009);
	handshake(&g);
	at = g.seq;
	/* ahead of what we expect: an ACK for what we expect, no data */
	g.seq += 10;
	gsend(&g, 0x18, "HTTP/1.1\r\n\r\n");
	ck_assert(grecv(&s));
	ck_assert_uint_eq(s.ack, at);
	ck_assert_uint_eq(s.len, 0);
	expect_none();
	/* behind (an overlap): the same */
	g.seq = at - 5;
	gsend(&g, 0x18, "xxxxxGET /latest/ HTTP/1.1\r\n\r\n");
	ck_assert(grecv(&s));
	ck_assert_uint_eq(s.ack, at);
	expect_none();
	g.seq = at;
	request(&g, "GET /latest/ HTTP/1.1\r\n\r\n", resp, sizeof(resp));
	ck_assert_str_eq(strstr(resp, "\r\n\r\n") + 4, "meta-data/");
}
END_TEST

START_TEST(retransmits_then_gives_up)
{
	struct mg g;
	struct mg_seg s, first;
	unsigned n = 0;

	mg_init(&g, 40010);
	handshake(&g);
	gsend(&g, 0x18, "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n");
	ck_assert(grecv(&first));
	ck_assert_uint_gt(first.len, 0);
	expect_none();
	/* not acknowledged: sent again after 1.2 s, 14 times, then RST */
	for (;;) {
		clock_ms += 1200;
		ck_assert(mmds_net_pending(ns));
		ck_assert(grecv(&s));
		if (s.flags & 0x04)
			break;
		ck_assert_uint_eq(s.seq, first.seq);
		ck_assert_uint_eq(s.len, first.len);
		n++;
	}
	ck_assert_uint_eq(n, 14);
	expect_none();
}
END_TEST

Suite *mmds_net_suite(void)
{
	Suite *s = suite_create("mmds_net");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, arp_request_gets_the_mmds_mac);
	tcase_add_test(tc, get_over_tcp_then_fin);
	tcase_add_test(tc, response_is_cut_to_mss_and_window);
	tcase_add_test(tc, v2_token_through_tcp);
	tcase_add_test(tc, bad_checksums_are_dropped);
	tcase_add_test(tc, truncated_and_malformed_headers);
	tcase_add_test(tc, resets);
	tcase_add_test(tc, connection_limit_and_eviction);
	tcase_add_test(tc, syn_flood_is_bounded);
	tcase_add_test(tc, request_larger_than_the_buffer);
	tcase_add_test(tc, sequence_numbers_wrap);
	tcase_add_test(tc, out_of_order_and_overlap);
	tcase_add_test(tc, retransmits_then_gives_up);
	suite_add_tcase(s, tc);
	return s;
}
