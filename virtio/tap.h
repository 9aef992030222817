/*
 * The host side of a virtio-net device: an existing tap interface opened
 * with a virtio-net header on every frame (IFF_VNET_HDR), so checksum and
 * segmentation offloads pass between the guest and the host stack without
 * the VMM touching packet contents. wisp never creates or configures a
 * tap: the host's network setup (rootfs-tools/net-setup.sh) does.
 */
#ifndef WISP_VIRTIO_TAP_H
#define WISP_VIRTIO_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Attach to tap @name: non-blocking, no packet-information prefix, a
 * 12-byte virtio_net_hdr_v1 in front of each frame, no offloads yet.
 * Returns the fd and the interface's MTU in @mtu, or -1 with a message
 * in @err (no such interface, not a tap, busy, no permission).
 */
int tap_open(const char *name, unsigned *mtu, char *err, size_t errlen);

/*
 * What the tap may hand us: TUN_F_* bits for the offloads the guest
 * accepted (checksum, TSO4/6, UFO). 0 or -1 (logged).
 */
int tap_set_offload(int fd, unsigned tun_flags);

#endif
