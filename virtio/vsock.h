/*
 * virtio-vsock (virtio 1.2, 5.10) with Firecracker's host side: each guest
 * AF_VSOCK stream connection is one host AF_UNIX stream connection.
 *
 *   host -> guest  a host program connects to uds_path and writes
 *                  "CONNECT <port>\n"; the guest's <port> gets a REQUEST
 *                  from a host port >= 2^30, and once the guest answers
 *                  (RESPONSE) the program reads "OK <host port>\n" and
 *                  bytes flow; a guest RST closes the program's socket.
 *   guest -> host  a REQUEST to host port P connects to "<uds_path>_P":
 *                  RESPONSE when connected, RST when nobody listens.
 *
 * A packet is a 44-byte header (struct vsock_hdr) and its payload. The rx
 * queue (0) carries packets to the guest, tx (1) packets from it, the
 * event queue (2) only TRANSPORT_RESET. Flow control is by credit
 * (5.10.6.3): each side announces buf_alloc (its receive buffer) and
 * fwd_cnt (bytes it has passed on) in every packet, and the sender keeps
 * what is in flight, tx_cnt - peer fwd_cnt, within the peer's buf_alloc.
 * We never send the guest more than it allows; a guest that sends us more
 * than we allow broke the protocol and its connection is reset.
 *
 * Every header field and every ring field is hostile. A chain that cannot
 * hold a header, or whose buffers point the wrong way for its queue,
 * breaks the device (DEVICE_NEEDS_RESET); a header that makes no sense
 * (bad type, bad op, a length past the chain's data, a connection that
 * does not exist) costs the guest that connection: an RST.
 *
 * A driver reset closes every connection the guest knows of; a host
 * connection whose REQUEST has not gone out yet waits for the next
 * driver, as it waits for the first one while the guest boots.
 *
 * Threads: the host sockets, the listener and the kill timer are served
 * on the event loop; the transport calls in from vCPU threads (reset) and
 * from the loop (queues), always under t->lock, which every handler here
 * takes as well. Nothing blocks: host sockets are non-blocking and the
 * device stops reading them while the guest posts no rx buffers.
 *
 * Only the loop touches host sockets and the timer. A reset on a vCPU
 * marks the device (reset_pending) and wakes the loop (reset_fd); the
 * loop closes the connections before anything else it does for the
 * device (vsock_settle(), first in every handler), so a new driver's
 * packets never meet the old driver's connections, and a vCPU's seccomp
 * filter needs neither close, epoll_ctl nor timerfd_settime.
 */
#ifndef WISP_VIRTIO_VSOCK_H
#define WISP_VIRTIO_VSOCK_H

#include "evloop.h"
#include "mmio.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VSOCK_HOST_CID 2
#define VSOCK_HDR_SIZE 44
#ifndef VSOCK_MAX_CONNS
#define VSOCK_MAX_CONNS 1023 /* per device, as Firecracker */
#endif
/* What we buffer per connection for a host socket that does not keep up
 * (allocated on first use), announced to the guest as our buf_alloc. */
#define VSOCK_BUF_ALLOC (256 * 1024)
#define VSOCK_MAX_PKT   (64 * 1024) /* payload of one packet to the guest */
/* Tell the guest about freed space once it believes it has this or less. */
#define VSOCK_CREDIT_LOW   (64 * 1024)
#define VSOCK_LOCAL_PORT0  (1u << 30) /* host ports for host connections */
#define VSOCK_LINE_MAX     32         /* "CONNECT <port>\n" */
#define VSOCK_TIMEOUT_MS   2000       /* CONNECT line, REQUEST, shutdown */
#define VSOCK_RST_QUEUE    64         /* RSTs for packets of no connection */
#define VSOCK_HASH_BUCKETS 256

/* The packet header, little-endian on the wire (x86: as it is). */
struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t type, op;
	uint32_t flags;
	uint32_t buf_alloc, fwd_cnt;
} __attribute__((packed));
_Static_assert(sizeof(struct vsock_hdr) == VSOCK_HDR_SIZE, "vsock header");

enum vsock_conn_state {
	VSOCK_FREE,
	VSOCK_LINE,        /* host socket accepted, "CONNECT <port>" awaited */
	VSOCK_LOCAL_INIT,  /* REQUEST to the guest queued or sent */
	VSOCK_PEER_INIT,   /* the guest's REQUEST connected; RESPONSE queued */
	VSOCK_ESTABLISHED, /* data flows (maybe one way after a SHUTDOWN) */
	VSOCK_CLOSING,     /* host socket closed; an RST for the guest queued */
};

/* Packets a connection owes the guest (vsock_conn.pending). */
enum {
	VSOCK_PEND_RST = 1 << 0,
	VSOCK_PEND_RESPONSE = 1 << 1,
	VSOCK_PEND_REQUEST = 1 << 2,
	VSOCK_PEND_CREDIT_UPDATE = 1 << 3,
};

/*
 * One connection, plain data but for the socket. Counters are free-running
 * u32s (they wrap; only differences count), named from our side: rx is
 * towards the guest, tx from it.
 */
struct vsock_conn {
	struct ev_handler h; /* the host socket on the event loop */
	struct vsock *v;
	enum vsock_conn_state state;
	int fd;         /* host socket; -1 once closed */
	bool watched;   /* h is in the epoll set */
	bool watch_out; /* ... with EPOLLOUT (buffered data to write) */
	bool readable;  /* the socket may have data (edge seen, no EAGAIN) */
	bool counted;   /* in conns_added (a connection, not a line) */
	bool hashed;    /* ports known, in the hash */
	uint32_t local_port; /* the host's end */
	uint32_t peer_port;  /* the guest's end */
	unsigned pending;    /* VSOCK_PEND_* */
	uint32_t guest_shut; /* VIRTIO_VSOCK_SHUTDOWN_* the guest sent */
	bool host_eof;       /* the host will send no more; guest told */
	bool host_wr_shut;   /* shutdown(SHUT_WR) done on the host socket */
	bool credit_asked;   /* CREDIT_REQUEST sent, no packet since */
	uint64_t expiry_us;  /* kill at this time (0: no timer) */

	/* Host -> guest: the guest's credit. */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	uint32_t rx_cnt; /* payload bytes sent to the guest */

	/* Guest -> host: bytes the host socket did not take yet. */
	uint32_t fwd_cnt;      /* payload bytes written to the host socket */
	uint32_t fwd_cnt_sent; /* fwd_cnt in our last packet to the guest */
	uint8_t *buf;          /* ring of VSOCK_BUF_ALLOC, or NULL */
	uint32_t buf_head, buf_len;

	char line[VSOCK_LINE_MAX]; /* the CONNECT line so far */
	unsigned line_len;

	struct vsock_conn *hnext;         /* hash chain (by local_port) */
	struct vsock_conn *qnext, *qprev; /* rx queue: owes the guest */
	bool queued;
};

/* X(name): the counters of the metrics' "vsock" group (Firecracker's). */
#define VSOCK_STATS(X)                                                         \
	X(activate_fails)                                                      \
	X(rx_queue_event_count)                                                \
	X(tx_queue_event_count)                                                \
	X(ev_queue_event_count)                                                \
	X(rx_packets_count)                                                    \
	X(tx_packets_count)                                                    \
	X(rx_bytes_count)                                                      \
	X(tx_bytes_count)                                                      \
	X(conns_added)                                                         \
	X(conns_killed)                                                        \
	X(conns_removed)                                                       \
	X(conn_event_fails)                                                    \
	X(muxer_event_fails)                                                   \
	X(rx_read_fails)                                                       \
	X(tx_write_fails)                                                      \
	X(tx_flush_fails)

#define VSOCK_STATS_FIELD(name) uint64_t name;
struct vsock_stats {
	VSOCK_STATS(VSOCK_STATS_FIELD)
};
#undef VSOCK_STATS_FIELD

struct vsock {
	struct virtio_mmio t; /* first: the transport */
	bool inited;
	struct evloop *loop;
	uint64_t guest_cid;
	char uds_path[108]; /* sizeof(sun_path) */
	int listen_fd, timer_fd;
	int reset_fd;       /* eventfd: a vCPU reset the driver */
	bool reset_pending; /* its connections are still to be closed */
	struct ev_handler h_listen, h_timer, h_reset;
	bool listen_paused;  /* out of fds: accept again when one closes */
	unsigned timeout_ms; /* VSOCK_TIMEOUT_MS; shorter in tests */
	uint64_t timer_at;   /* the kill timer is armed for this time, or 0 */

	struct vsock_conn *conns; /* VSOCK_MAX_CONNS slots */
	unsigned nconns;          /* slots in use */
	unsigned cursor;          /* where to look for a free slot */
	struct vsock_conn *hash[VSOCK_HASH_BUCKETS];
	struct vsock_conn *qhead, *qtail; /* connections that owe packets */
	uint32_t last_local_port;

	/* RSTs for packets that belong to no connection: (src, dst) ports. */
	uint32_t rst[VSOCK_RST_QUEUE][2];
	unsigned rst_head, rst_len;
	bool tx_stalled; /* tx waits for room in rst[] */

	struct vq_chain rx_chain; /* an rx buffer taken but not filled */
	bool rx_held;
	bool event_pending;    /* TRANSPORT_RESET not yet delivered */
	struct vq_chain chain; /* scratch for vq_pop() */

	struct vsock_stats stats, reported; /* reported: at the last flush */
	struct log_ratelimit rl;
};

/*
 * Listen on @uds_path (a stale socket file is replaced; a live one, a
 * file that is not a socket or a path too long for sun_path is refused)
 * and attach the device at @base/@irq, serving its sockets on @loop.
 * Returns 0, or -1 with a message naming the path in @err.
 */
int vsock_init(struct vsock *v, struct vm *vm, struct evloop *loop,
               uint64_t guest_cid, const char *uds_path, uint64_t base,
               unsigned irq, char *err, size_t errlen);
/* Close every connection and the listener, unlink uds_path. */
void vsock_destroy(struct vsock *v);

/*
 * Close every connection and send VIRTIO_VSOCK_EVENT_TRANSPORT_RESET on
 * the event queue (at once, or when the driver posts an event buffer), so
 * guest agents reconnect: what a restored snapshot needs. Event loop.
 */
void vsock_transport_reset(struct vsock *v);

/*
 * Snapshots keep the queues (the transport) and the one rx buffer the
 * device may hold; connections are not kept: vsock_restore() ends with
 * vsock_transport_reset(), as Firecracker's restore does.
 */
struct vsock_snap {
	uint32_t rx_held, rx_head;
};
void vsock_save(struct vsock *v, struct vsock_snap *s);
int vsock_restore(struct vsock *v, const struct vsock_snap *s, char *err,
                  size_t errlen);

/* A copy of the counters, taken under the lock. */
void vsock_get_stats(struct vsock *v, struct vsock_stats *out);

/*
 * "CONNECT <port>" (the keyword in any case, blanks around the decimal
 * u32 port; @len bytes without the newline) -> @port. False otherwise.
 */
bool vsock_parse_connect(const char *line, size_t len, uint32_t *port);

/*
 * What a peer with @buf_alloc that has passed on @fwd_cnt bytes can take
 * after we sent it @tx_cnt bytes (u32 counters that wrap). A peer whose
 * numbers do not add up (fwd_cnt ahead of tx_cnt, a smaller buf_alloc
 * than what is in flight) can take nothing, not 4 GiB.
 */
static inline uint32_t vsock_credit(uint32_t buf_alloc, uint32_t tx_cnt,
                                    uint32_t fwd_cnt)
{
	uint32_t in_flight = tx_cnt - fwd_cnt;

	return in_flight >= buf_alloc ? 0 : buf_alloc - in_flight;
}

#endif
