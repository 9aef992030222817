#!/usr/bin/env python3
"""Write well-formed virtio-net inputs as seeds for fuzz_net.

An input is 2 feature bytes (offload bits, MRG_RXBUF, queue size
exponents in the top 3 bits, INDIRECT/EVENT_IDX), two big-endian frame
lengths, the frames the peer sends, then the guest memory fuzz_net maps
at 0: receive queue at 0x1000 (descriptors, available ring at 0x2000,
used ring at 0x3000), transmit queue at 0x4000 (0x5000, 0x6000).
"""
import os
import struct
import sys

NEXT, WRITE = 1, 2


def frame(n, gso=0, flags=0):
    hdr = struct.pack("<BBHHHHH", flags, gso, 0, 0, 0, 0, 0)
    eth = b"\xff" * 6 + b"\x06\x00\x00\x00\x00\x01" + b"\x88\xb5"
    return hdr + eth + bytes(range(256))[: n - len(eth)] * 1


def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff


MMDS_IP = bytes([169, 254, 169, 254])
GUEST_IP = bytes([169, 254, 0, 2])
MAC = b"\x06\x00\x00\x00\x00\x01"


def mmds_arp():
    """The guest asks who has 169.254.169.254 (MMDS on fuzz_net's eth)."""
    return (b"\xff" * 6 + MAC + b"\x08\x06" +
            struct.pack(">HHBBH", 1, 0x0800, 6, 4, 1) + MAC + GUEST_IP +
            bytes(6) + MMDS_IP)


def mmds_syn():
    """A SYN to MMDS's port 80 with an MSS option, checksums right."""
    tcp = struct.pack(">HHIIBBHHH", 40000, 80, 1000, 0, 6 << 4, 0x02,
                      65535, 0, 0) + b"\x02\x04\x05\xb4"
    ip = struct.pack(">BBHHHBBH", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64,
                     6, 0) + GUEST_IP + MMDS_IP
    ip = ip[:10] + struct.pack(">H", csum(ip)) + ip[12:]
    ph = GUEST_IP + MMDS_IP + struct.pack(">BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack(">H", csum(ph + tcp)) + tcp[18:]
    return b"\x06\x01\x23\x45\x67\x01" + MAC + b"\x08\x00" + ip + tcp


def seed(mrg, rxbuf, nrx, txlens, peer, txframes=None):
    mem = bytearray(0xc000)
    for i in range(nrx):
        struct.pack_into("<QIHH", mem, 0x1000 + 16 * i, 0x8000 + i * rxbuf,
                         rxbuf, WRITE, 0)
        struct.pack_into("<H", mem, 0x2004 + 2 * i, i)
    struct.pack_into("<HH", mem, 0x2000, 0, nrx)
    d, at = 0, 0xa000
    for i, n in enumerate(txlens):
        struct.pack_into("<QIHH", mem, 0x4000 + 16 * d, at, 12, NEXT, d + 1)
        struct.pack_into("<QIHH", mem, 0x4000 + 16 * (d + 1), at + 16, n, 0, 0)
        mem[at + 16:at + 16 + n] = (txframes[i] if txframes
                                    else frame(n)[12:12 + n])
        struct.pack_into("<H", mem, 0x5004 + 2 * i, d)
        d, at = d + 2, at + 16 + n
    struct.pack_into("<HH", mem, 0x5000, 0, len(txlens))
    f0 = 0x03 | 3 << 5                      # CSUM, GUEST_CSUM; 8 entries
    f1 = (0x80 if mrg else 0) | 3 << 5      # MRG_RXBUF; 8 entries
    lens = [len(p) for p in peer] + [0] * (2 - len(peer))
    return bytes([f0, f1]) + struct.pack(">HH", *lens) + b"".join(peer) + mem


def main(out):
    os.makedirs(out, exist_ok=True)
    seeds = {
        "plain": seed(False, 2048, 4, [60, 200], [frame(100), frame(1514)]),
        "mrg": seed(True, 512, 8, [1514], [frame(1514), frame(60)]),
        "tiny": seed(True, 12, 8, [], [frame(64)]),
        # to MMDS: answered by wisp into the receive buffers, not the tap
        "mmds": seed(True, 2048, 4, [len(mmds_arp()), len(mmds_syn())], [],
                     [mmds_arp(), mmds_syn()]),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
