#!/usr/bin/env python3
"""Write well-formed virtio-blk queue images as seeds for fuzz_blk.

Each seed is one config byte (queue size exponent, INDIRECT/EVENT_IDX
bits) and the guest memory fuzz_blk maps at 0: descriptor table at
0x1000, available ring at 0x2000, used ring at 0x3000, one request.
"""
import os
import struct
import sys

T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WZ = 0, 1, 4, 8, 11, 13
NEXT, WRITE = 1, 2


def seed(kind, sector, datalen, writable):
    mem = bytearray(0x9400)
    hdr, data, status = 0x8000, 0x8100, 0x9300
    struct.pack_into("<IIQ", mem, hdr, kind, 0, sector)
    descs = [(hdr, 16, NEXT, 1)]
    if datalen:
        descs.append((data, datalen, NEXT | (WRITE if writable else 0), 2))
    descs.append((status, 1, WRITE, 0))
    for i, (addr, ln, fl, nx) in enumerate(descs):
        struct.pack_into("<QIHH", mem, 0x1000 + 16 * i, addr, ln, fl, nx)
    struct.pack_into("<HHH", mem, 0x2000, 0, 1, 0)  # flags, idx, ring[0]
    if kind in (T_DISCARD, T_WZ):
        struct.pack_into("<QII", mem, data, 8, 8, 0)
    return bytes([3]) + bytes(mem)  # queue size 8


def main(out):
    os.makedirs(out, exist_ok=True)
    cases = {
        "in": (T_IN, 2, 512, True), "out": (T_OUT, 3, 1024, False),
        "flush": (T_FLUSH, 0, 0, False), "getid": (T_GET_ID, 0, 20, True),
        "discard": (T_DISCARD, 0, 16, False), "wz": (T_WZ, 0, 16, False),
    }
    for name, args in cases.items():
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(seed(*args))


if __name__ == "__main__":
    main(sys.argv[1])
