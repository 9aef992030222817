/*
 * The guest's network path to MMDS (vmm/mmds.h): a minimal ARP, IPv4 and
 * TCP responder that answers, inside wisp, the frames a guest sends on a
 * virtio-net interface PUT /mmds/config names, as Firecracker's does.
 *
 *   ARP     a request for the MMDS address is answered with the MMDS MAC
 *           (MMDS_NET_MAC); other ARP frames for that address are dropped
 *   IPv4    to the MMDS address: TCP to port 80 is served, anything else
 *           (UDP, ICMP, another port, a malformed packet) is dropped
 *   TCP     passive open only, one request at a time per connection: the
 *           bytes up to the first blank line (LF LF or LF CR LF) go to
 *           mmds_http(), and its response is sent back within the
 *           guest's window, then the connection closes when the guest's
 *           FIN arrives and the response is acknowledged
 *
 * Which frames are for MMDS (mmds_net_is_for) is decided from the first
 * MMDS_NET_PEEK bytes alone, as Firecracker decides it: an ARP frame
 * whose target protocol address is the MMDS address, or an IPv4 frame
 * whose destination is. Such a frame never reaches the tap, whatever
 * else it holds; every other frame passes untouched.
 *
 * The guest is hostile. mmds_net_rx() reads only the @len bytes it is
 * given (the device's own copy of the frame, never guest memory), checks
 * every length and offset (IPv4 IHL and total length against the frame,
 * the TCP data offset and options against the packet), verifies the
 * IPv4 header checksum and, unless the guest left it to the device
 * (@csum_partial), the TCP checksum; a frame that fails is dropped and
 * counted. Memory is fixed when the responder is made: at most
 * MMDS_NET_MAX_CONNS connections of MMDS_NET_RCV_BUF bytes of request
 * each (a request that fills it without ending is answered with a
 * reset), at most MMDS_NET_MAX_RSTS resets waiting to be sent (more are
 * dropped and counted in mmds.tx_errors); the only allocation after that
 * is a connection's response, which the store's size limit bounds. A SYN
 * when every connection is taken evicts one idle for 40 s, else it is
 * answered with a reset.
 *
 * Output is made on demand: the responder keeps what it owes the guest
 * (an ARP reply, resets, acknowledgements, response data, a FIN) as
 * state and writes the next frame only when the device has a receive
 * buffer for it (mmds_net_next), so nothing queues up while the guest
 * posts none. Retransmission (1.2 s, 15 times, then a reset) happens
 * when the device next asks for a frame, as in Firecracker: no timer.
 *
 * Connections are not saved in a snapshot: a restored VM starts with
 * none (the guest's TCP sees resets or retries).
 *
 * Single-threaded: the event loop's, like the store. No locks.
 */
#ifndef WISP_VIRTIO_MMDS_NET_H
#define WISP_VIRTIO_MMDS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mmds;
struct mmds_net;

/* The service's own MAC, Firecracker's: 06:01:23:45:67:01. */
extern const uint8_t mmds_net_mac[6];
#define MMDS_NET_PORT      80
#define MMDS_NET_MAX_CONNS 30
#define MMDS_NET_MAX_RSTS  100
#define MMDS_NET_RCV_BUF   2500
/* Bytes of a frame mmds_net_is_for() looks at (Ethernet + an ARP body). */
#define MMDS_NET_PEEK 42
/* The smallest output frame: an ARP reply. */
#define MMDS_NET_MIN_FRAME 42

/*
 * A responder for the store @m at @ipv4 (host byte order); it writes
 * frames of at most @frame_max bytes (Ethernet header on). NULL when out
 * of memory. mmds_net_free(NULL) does nothing.
 */
struct mmds_net *mmds_net_new(struct mmds *m, uint32_t ipv4, size_t frame_max);
void mmds_net_free(struct mmds_net *ns);

/* Whether a frame that starts with @hdr (its first @len bytes) is MMDS's. */
bool mmds_net_is_for(const struct mmds_net *ns, const uint8_t *hdr, size_t len);

/*
 * A frame mmds_net_is_for() chose, @len bytes: take it (and count it).
 * @csum_partial: the guest's virtio header asked the device to complete
 * the checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM), so the TCP checksum field
 * holds a partial sum and is not checked.
 */
void mmds_net_rx(struct mmds_net *ns, const uint8_t *frame, size_t len,
                 bool csum_partial);

/* Whether mmds_net_next() has a frame to write now. */
bool mmds_net_pending(struct mmds_net *ns);

/*
 * Write the next frame for the guest into @buf (@cap bytes, at least
 * MMDS_NET_MIN_FRAME; data segments are cut to fit): its length, or 0
 * when there is nothing to send (or it does not fit).
 */
size_t mmds_net_next(struct mmds_net *ns, uint8_t *buf, size_t cap);

/* Tests: replace the clock (milliseconds) with *@ms; NULL: the real one. */
void mmds_net_test_clock(struct mmds_net *ns, const uint64_t *ms);

#endif
