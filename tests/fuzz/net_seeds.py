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


def seed(mrg, rxbuf, nrx, txlens, peer):
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
        mem[at + 16:at + 16 + n] = frame(n)[12:12 + n]
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
    }
    for name, data in seeds.items():
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
