/*
 * Between the parts of the vsock device: vsock.c (queues, timer, resets),
 * vsock_conn.c (one connection: host socket I/O, credit, the state
 * machine) and vsock_uds.c (the listener, CONNECT lines, connects to
 * <uds_path>_<port>). Everything here runs under the transport's lock.
 */
#ifndef WISP_VIRTIO_VSOCK_CONN_H
#define WISP_VIRTIO_VSOCK_CONN_H

#include "vsock.h"

#include <linux/virtio_vsock.h>
#include <string.h>
#include <sys/uio.h>

/* The slot for (@local, @peer), or NULL. */
struct vsock_conn *vsock_conn_find(struct vsock *v, uint32_t local,
                                   uint32_t peer);
/* Is @port the host end of a live connection? */
bool vsock_port_used(struct vsock *v, uint32_t port);

/* A free slot (counted in nconns), or NULL at the connection limit. */
struct vsock_conn *vsock_conn_alloc(struct vsock *v);
/* Its ports are set: find it by them from now on. */
void vsock_conn_hash(struct vsock *v, struct vsock_conn *c);
/* Watch @c's socket on the loop (@out: for writing too). 0 or -1. */
int vsock_conn_watch(struct vsock *v, struct vsock_conn *c, bool out);

/* vsock_uds.c: listen on @path (replacing a stale socket). 0 or -1. */
int vsock_uds_listen(struct vsock *v, const char *path, char *err,
                     size_t errlen);
/* vsock_uds.c: the listener is readable (event loop). */
void vsock_uds_accept(struct ev_handler *h, uint32_t events);
/* vsock_uds.c: read a host socket's CONNECT line. */
void vsock_uds_read_line(struct vsock *v, struct vsock_conn *c);
/* vsock_uds.c: the guest's REQUEST for no connection: connect to
 * "<uds_path>_<port>", RESPONSE when connected, RST otherwise. */
void vsock_uds_connect(struct vsock *v, const struct vsock_hdr *h);

/*
 * A packet from the guest for @c (its ports match): @data holds h->len
 * payload bytes (already checked against the chain).
 */
void vsock_conn_tx(struct vsock *v, struct vsock_conn *c,
                   const struct vsock_hdr *h, const struct iovec *data,
                   unsigned ndata);

/*
 * Fill the next packet @c owes the guest: the header in @h (addresses and
 * credit included) and up to @cap payload bytes read into @data. Returns
 * false when @c has nothing to say (after a read found no data, say).
 */
bool vsock_conn_rx(struct vsock *v, struct vsock_conn *c, struct vsock_hdr *h,
                   const struct iovec *data, unsigned ndata, uint32_t cap);

/* After @c sent its packet: an RST frees the slot. */
void vsock_conn_sent(struct vsock *v, struct vsock_conn *c, uint16_t op);

/* Does @c owe the guest a packet? Queue it for the rx queue if so. */
bool vsock_conn_has_rx(const struct vsock_conn *c);
void vsock_conn_sched(struct vsock *v, struct vsock_conn *c);

/*
 * Give up on @c (protocol error, host socket failure, timeout): close the
 * host socket and, if the guest knows the connection, send it an RST.
 */
void vsock_conn_kill(struct vsock *v, struct vsock_conn *c, const char *why);
/* Has the guest heard of @c (not a CONNECT line or a REQUEST to come)? */
bool vsock_conn_announced(const struct vsock_conn *c);
/* Forget @c at once (the guest reset it, or the device is reset). */
void vsock_conn_free(struct vsock *v, struct vsock_conn *c);

/* Arm @c's kill timer @ms from now. */
void vsock_conn_expire_in(struct vsock *v, struct vsock_conn *c, unsigned ms);

/* Set up an unused slot (its event handler stays valid while unused). */
void vsock_conn_slot_init(struct vsock *v, struct vsock_conn *c);

/*
 * vsock.c: finish a driver reset a vCPU asked for (close the connections
 * the guest knew): first thing in every event loop handler, under the
 * lock.
 */
void vsock_settle(struct vsock *v);
/* vsock.c: serve the queues after a connection changed. */
void vsock_run(struct vsock *v);
/* vsock.c: an RST from host port @local to guest port @peer. */
void vsock_queue_rst(struct vsock *v, uint32_t local, uint32_t peer);
/* vsock.c: make sure the kill timer fires by @at_us (CLOCK_MONOTONIC). */
void vsock_timer_arm(struct vsock *v, uint64_t at_us);
/* vsock_uds.c: a descriptor was freed; accept host connections again. */
void vsock_listen_resume(struct vsock *v);

#endif
