#!/usr/bin/env python3
"""Write well-formed virtio-vsock queue images as seeds for fuzz_vsock.

Each seed is a config byte (queue size exponent, INDIRECT/EVENT_IDX bits,
0x40: a host program connects with "CONNECT 1", 0x80: transport reset),
a byte saying what the host listener does (1: write, 2: half close, 4:
hang up; again in bits 3-5 for its second turn; 0x40: wisp's sockets
take little, so guest data waits in its buffer) and the guest memory
fuzz_vsock maps at 0: queue q's descriptors at 0x1000 + 0x2000 q, its
available ring 0x800 and its used ring 0x1000 above them.
"""
import os
import struct
import sys

REQUEST, RESPONSE, RST, SHUTDOWN, RW, CREDIT_UPDATE, CREDIT_REQUEST = range(1, 8)
NEXT, WRITE = 1, 2
HOST_PORT0 = 1 << 30


def hdr(op, src_port, dst_port, length=0, flags=0, typ=1, dst_cid=2):
    return struct.pack("<QQIIIHHIII", 3, dst_cid, src_port, dst_port,
                       length, typ, op, flags, 64 * 1024, 0)


def image(tx_packets, nrx, nev):
    mem = bytearray(0x10000)
    # rx: nrx chains of a 44-byte header and 1 KiB of data.
    for i in range(nrx):
        h, d = 0x7000 + 64 * i, 0x8000 + 1024 * i
        struct.pack_into("<QIHH", mem, 0x1000 + 32 * i, h, 44, WRITE | NEXT,
                         2 * i + 1)
        struct.pack_into("<QIHH", mem, 0x1010 + 32 * i, d, 1024, WRITE, 0)
        struct.pack_into("<H", mem, 0x1800 + 4 + 2 * i, 2 * i)
    struct.pack_into("<H", mem, 0x1802, nrx)
    # tx: one chain per packet, header then payload (up to 23 KiB in all).
    pa = 0xa400
    for i, (h, payload) in enumerate(tx_packets):
        ha = 0xa000 + 64 * i
        mem[ha:ha + 44] = h
        mem[pa:pa + len(payload)] = payload
        struct.pack_into("<QIHH", mem, 0x3000 + 32 * i, ha, 44,
                         NEXT if payload else 0, 2 * i + 1)
        struct.pack_into("<QIHH", mem, 0x3010 + 32 * i, pa, len(payload), 0,
                         0)
        struct.pack_into("<H", mem, 0x3800 + 4 + 2 * i, 2 * i)
        pa += len(payload)
    struct.pack_into("<H", mem, 0x3802, len(tx_packets))
    # event buffers, 4 bytes each.
    for i in range(nev):
        struct.pack_into("<QIHH", mem, 0x5000 + 16 * i, 0xd000 + 16 * i, 4,
                         WRITE, 0)
        struct.pack_into("<H", mem, 0x5800 + 4 + 2 * i, i)
    struct.pack_into("<H", mem, 0x5802, nev)
    return mem


def main(out):
    os.makedirs(out, exist_ok=True)
    data = b"guest data\n"
    cases = {
        # guest connects to port 1, sends data, closes; the host writes.
        "guest-connect": (4, 0o11, [(hdr(REQUEST, 1000, 1), b""),
                                    (hdr(RW, 1000, 1, len(data)), data),
                                    (hdr(SHUTDOWN, 1000, 1, 0, 3), b"")], 8, 0),
        # the host connects; the guest answers and talks.
        "host-connect": (4 | 0x40, 0, [(hdr(RESPONSE, 1, HOST_PORT0), b""),
                                       (hdr(RW, 1, HOST_PORT0, 5), b"hello"),
                                       (hdr(CREDIT_REQUEST, 1, HOST_PORT0),
                                        b"")], 8, 0),
        # packets for no connection, a bad type, a refused port.
        "strays": (3, 0, [(hdr(RW, 5, 6, 3), b"abc"),
                          (hdr(REQUEST, 5, 6, typ=2), b""),
                          (hdr(REQUEST, 5, 7), b""),
                          (hdr(CREDIT_UPDATE, 5, 6, dst_cid=9), b"")], 4, 0),
        # a slow host: 20000 bytes from the guest wait in the device's buffer.
        "slow-host": (4, 0x40, [(hdr(REQUEST, 1000, 1), b""),
                                (hdr(RW, 1000, 1, 20000),
                                 bytes(range(256)) * 78 + bytes(32))], 8, 0),
        # a connection, then a transport reset with event buffers.
        "reset": (3 | 0x80, 0o44, [(hdr(REQUEST, 1000, 1), b"")], 4, 2),
    }
    for name, (cfg, how, tx, nrx, nev) in cases.items():
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(bytes([cfg, how]) + bytes(image(tx, nrx, nev)))


if __name__ == "__main__":
    main(sys.argv[1])
