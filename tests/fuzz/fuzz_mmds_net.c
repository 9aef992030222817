/*
 * libFuzzer target: what a guest sends MMDS's network stack
 * (virtio/mmds_net.c, mmds_tcp.c), frame by frame, with the guest
 * reading the responder's frames whenever the input says so.
 *
 * The first byte: bit 0 V2, bit 1 a receive buffer cap under MSS (data
 * cut to fit). Then steps, each an opcode byte (low 3 bits) and its
 * operands:
 *   0 raw frame      a length byte pair, then that many bytes, as is
 *   1 TCP segment    guest g (byte & 3), flags, a byte of modes (bit 0:
 *                    seq from the next 4 bytes, else the guest's own;
 *                    bit 1: ack from 4 bytes, else what it has seen;
 *                    bit 2: the TCP checksum broken; bit 3: passed as a
 *                    partial checksum), a payload length, the payload
 *   2 ARP request    for the MMDS address, or (operand bit 0) another
 *   3 guest reads    the responder's next frame into a buffer of a
 *                    size the operand picks (from 42 bytes on)
 *   4 time passes    operand * 100 ms
 *   5 a request      guest g sends a canned GET or token PUT, in order
 *   others           the guest reads until nothing is left
 * Every frame out must be well formed (checksums right, its length what
 * the IPv4 header says, no larger than the buffer), and at the end the
 * responder must drain in a bounded number of frames.
 */
#include "metrics.h"
#include "mmds.h"
#include "mmds_guest.h"
#include "mmds_net.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

struct metrics metrics;

#define check(x)                                                               \
	do {                                                                   \
		if (!(x))                                                      \
			abort();                                               \
	} while (0)

#define FRAME_MAX 1514
#define GUESTS    4

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t byte(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint32_t word(struct in *in)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v = v << 8 | byte(in);
	return v;
}

static struct mmds *store;
static struct mmds_net *ns;
static uint64_t clock_ms;
static struct mg g[GUESTS];
static uint8_t frame[65536 + 64], out[FRAME_MAX];

static void guest_read(size_t cap)
{
	struct mg_seg s;
	size_t n = mmds_net_next(ns, out, cap);

	if (!n)
		return;
	check(n <= cap && n <= FRAME_MAX);
	check(mg_parse(out, n, &s));
	if (s.arp)
		return;
	check(s.src == MG_MMDS_IP && s.sport == 80);
	/* the guest takes what it is sent, in order */
	for (unsigned i = 0; i < GUESTS; i++) {
		if (g[i].port != s.dport)
			continue;
		if (s.flags & 0x02)
			g[i].ack = s.seq + 1;
		else if (s.seq == g[i].ack)
			g[i].ack += (uint32_t)s.len + (s.flags & 0x01);
	}
}

static void send_tcp(struct in *in)
{
	struct mg *m = &g[byte(in) % GUESTS];
	uint8_t flags = byte(in), mode = byte(in);
	size_t plen = byte(in), n;
	struct mg saved = *m;
	uint8_t payload[256];

	if (mode & 1)
		m->seq = word(in);
	if (mode & 2)
		m->ack = word(in);
	for (size_t i = 0; i < plen; i++)
		payload[i] = byte(in);
	n = mg_tcp(m, flags, payload, plen, frame);
	if (mode & 4)
		frame[14 + 20 + 16] ^= 0x5a;
	check(mmds_net_is_for(ns, frame, n));
	mmds_net_rx(ns, frame, n, mode & 8);
	if (mode & 3)
		*m = saved;
	else
		m->seq += (uint32_t)plen + ((flags & 0x03) ? 1 : 0);
}

static void send_request(struct in *in)
{
	static const char *const reqs[] = {
		"GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n",
		"PUT /latest/api/token HTTP/1.1\r\n"
		"X-metadata-token-ttl-seconds: 60\r\n\r\n",
		"GET / HTTP/1.1\r\nAccept: application/json\r\n\r\n",
		"GET /latest/meta-data/ HTTP/1.0\n\n",
	};
	uint8_t b = byte(in);
	struct mg *m = &g[b % GUESTS];
	const char *r = reqs[(b >> 2) % 4];
	size_t n = mg_tcp(m, 0x18, r, strlen(r), frame);

	mmds_net_rx(ns, frame, n, false);
	m->seq += (uint32_t)strlen(r);
}

static void setup(void)
{
	json_t *v = json_loads("{\"latest\": {\"meta-data\": {\"ami-id\": "
	                       "\"ami-1\", \"user-data\": \"x\"}}}",
	                       0, NULL);
	char err[128];
	int st;

	store = mmds_new("fuzz-vm");
	check(store && v);
	check(mmds_put(store, v, &st, err, sizeof(err)) == 0);
	json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct in in = { data, len };
	uint8_t cfg = byte(&in);
	size_t cap_max = cfg & 2 ? 300 : FRAME_MAX;
	unsigned steps = 0, drained = 0;

	if (!store)
		setup();
	mmds_set_version(store, cfg & 1 ? 2 : 1, false);
	ns = mmds_net_new(store, MG_MMDS_IP, FRAME_MAX);
	check(ns);
	clock_ms = 1000000;
	mmds_net_test_clock(ns, &clock_ms);
	for (unsigned i = 0; i < GUESTS; i++) {
		mg_init(&g[i], (uint16_t)(40000 + i));
		g[i].mss = (uint16_t)(i == 1 ? 100 : 1460);
	}
	while (in.n && steps++ < 4096) {
		uint8_t op = byte(&in);
		size_t n;

		switch (op & 7) {
		case 0:
			n = (size_t)byte(&in) << 8 | byte(&in);
			n = n < in.n ? n : in.n;
			memcpy(frame, in.p, n);
			in.p += n;
			in.n -= n;
			if (mmds_net_is_for(ns, frame, n))
				mmds_net_rx(ns, frame, n, op & 8);
			break;
		case 1:
			send_tcp(&in);
			break;
		case 2:
			n = mg_arp(&g[0], op & 8 ? 0x0a000001 : MG_MMDS_IP,
			           frame);
			if (mmds_net_is_for(ns, frame, n))
				mmds_net_rx(ns, frame, n, false);
			break;
		case 3:
			n = 42 + byte(&in) * 6;
			guest_read(n < cap_max ? n : cap_max);
			break;
		case 4:
			clock_ms += (uint64_t)byte(&in) * 100;
			break;
		case 5:
			send_request(&in);
			break;
		default:
			while (mmds_net_pending(ns) && drained++ < 100000)
				guest_read(cap_max);
			break;
		}
	}
	/* Everything owed drains, and in bounded frames: no loop forever. */
	drained = 0;
	while (mmds_net_pending(ns) && drained < 100000) {
		guest_read(cap_max);
		drained++;
	}
	check(drained < 100000);
	mmds_net_free(ns);
	ns = NULL;
	return 0;
}
