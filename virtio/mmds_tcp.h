/*
 * MMDS's TCP endpoint (mmds_tcp.c), inside virtio/mmds_net.c: one
 * passively opened connection, its request buffer and its response, the
 * state machine Firecracker's MMDS runs (no congestion control, no
 * window scaling, no options but MSS, one request at a time).
 *
 * mmds_net.c parses and checks the frame and hands a struct tcp_seg
 * whose slices lie inside it; it writes the headers of what
 * tcp_conn_write() describes. Sequence numbers compare modulo 2^32
 * within TCP_MAX_WINDOW, as Firecracker compares them.
 */
#ifndef WISP_VIRTIO_MMDS_TCP_H
#define WISP_VIRTIO_MMDS_TCP_H

#include "mmds_net.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

#define TCP_MAX_WINDOW  1073725440u
#define TCP_MSS_DEFAULT 536
#define TCP_MSS_MIN     100
#define TCP_MSS_MAX     (65535 - 20 - 20)
#define TCP_RTO_MS      1200
#define TCP_RTO_MAX     15
#define TCP_EVICT_MS    40000
#define TCP_RST_WINDOW  10000

/* A checked segment: @opt and @data lie inside the frame. */
struct tcp_seg {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags; /* the byte after the data offset: CWR ... FIN */
	uint16_t win;
	const uint8_t *opt, *data;
	size_t optlen, len;
};

/* A reset to send: RST with seq, or RST|ACK with ack (Firecracker's). */
struct tcp_rst {
	uint32_t seq, ack;
	uint8_t flags;
};

/* What to write: headers from these, then @len bytes of @data. */
struct tcp_out {
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	uint16_t mss; /* an MSS option (SYN-ACK), or 0 */
	const uint8_t *data;
	size_t len;
};

enum tcp_status { TCP_NOTHING, TCP_AVAILABLE, TCP_TIMEOUT };

struct tcp_conn {
	bool used;
	uint32_t raddr; /* the guest's address and port */
	uint16_t rport;

	uint32_t ack_to_send, highest_ack, first_not_sent;
	uint32_t local_edge, remote_edge; /* the windows' right edges */
	uint64_t rto_start;
	unsigned rto_count;
	uint32_t fin_seq; /* the guest's, when fin_rcvd */
	uint32_t send_fin;
	bool fin_rcvd, send_fin_set, rst_pending, pending_ack, dup_ack;
	struct tcp_rst rst;
	uint16_t mss;
	uint8_t state; /* TCP_ST_* bits */

	uint64_t last_rx;
	bool stop_receiving;
	size_t rlen; /* request bytes in rbuf */
	uint8_t rbuf[MMDS_NET_RCV_BUF];
	uint8_t *resp; /* malloc'd by mmds_http(), or NULL */
	size_t resp_len;
	uint32_t resp_seq; /* the sequence number of resp[0] */
};

/* Whether @s is a valid SYN: only SYN set, no data. */
bool tcp_is_syn(const struct tcp_seg *s);
/* The reset Firecracker answers @s with when it has no connection. */
struct tcp_rst tcp_rst_for(const struct tcp_seg *s);
/* The reset that ends @c (eviction). */
struct tcp_rst tcp_rst_of(const struct tcp_conn *c);

/*
 * Open @c (not in use) for SYN @s from @raddr: false when @s is not a
 * valid SYN or its MSS option is malformed. @isn: our initial sequence
 * number; @mss_cap: the largest payload our frames may carry.
 */
bool tcp_conn_open(struct tcp_conn *c, const struct tcp_seg *s, uint32_t raddr,
                   uint32_t isn, uint16_t mss_cap, uint64_t now);
/* Free what @c holds and mark it unused. */
void tcp_conn_close(struct tcp_conn *c);

/* Segment @s for @c; a complete request goes to mmds_http(@m). */
void tcp_conn_recv(struct tcp_conn *c, const struct tcp_seg *s, struct mmds *m,
                   uint64_t now);

/*
 * The next segment @c sends, its payload cut to @room bytes: true with
 * *@o filled, false when there is none now (or it failed: counted).
 */
bool tcp_conn_write(struct tcp_conn *c, size_t room, uint64_t now,
                    struct tcp_out *o);

/* Whether @c has a segment now, or (TCP_TIMEOUT) at *@when. */
enum tcp_status tcp_conn_status(const struct tcp_conn *c, uint64_t *when);
/* Reset, or both FINs exchanged: the connection may go. */
bool tcp_conn_done(const struct tcp_conn *c);
bool tcp_conn_evictable(const struct tcp_conn *c, uint64_t now);

#endif
