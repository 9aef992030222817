#!/usr/bin/env python3
"""Write guest conversations with MMDS's network stack as seeds for
fuzz_mmds_net (the step format is in tests/fuzz/fuzz_mmds_net.c)."""
import os
import sys

RAW, TCP, ARP, READ, TIME, REQ, DRAIN = 0, 1, 2, 3, 4, 5, 6
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10


def tcp(g, flags, payload=b"", mode=0, seq=0, ack=0):
    """A segment step: guest, flags, modes, payload length, the seq and
    ack the modes ask for, the payload."""
    b = bytes([TCP, g, flags, mode, len(payload)])
    if mode & 1:
        b += seq.to_bytes(4, "big")
    if mode & 2:
        b += ack.to_bytes(4, "big")
    return b + payload


def read(size=255):
    return bytes([READ, size])


HANDSHAKE = tcp(0, SYN, b"", 0, 0, 0) + read() + tcp(0, ACK, b"", 0, 0, 0)
GET = b"GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n"

SEEDS = {
    "arp": bytes([0, ARP]) + read() + bytes([ARP | 8]) + read(),
    "get": bytes([0]) + HANDSHAKE + tcp(0, PSH | ACK, GET, 0, 0, 0)
    + read() + tcp(0, ACK, b"", 0, 0, 0) + tcp(0, FIN | ACK, b"", 0, 0, 0)
    + read() + bytes([DRAIN]),
    "request-v2": bytes([1]) + HANDSHAKE + bytes([REQ, 0]) + read()
    + tcp(0, ACK, b"", 0, 0, 0) + bytes([REQ, 4]) + bytes([DRAIN]),
    "small-buffers": bytes([2]) + tcp(1, SYN, b"", 0, 0, 0) + read(10)
    + tcp(1, ACK, b"", 0, 0, 0) + bytes([REQ, 9]) + read(20) + read(20)
    + bytes([TIME, 13]) + bytes([DRAIN]),
    "rst-and-bad-csum": bytes([0]) + HANDSHAKE + tcp(0, RST, b"", 0, 0, 0)
    + tcp(2, SYN, b"", 4, 0, 0) + tcp(3, ACK, b"x", 3, 7, 9)
    + bytes([DRAIN]),
    "retransmit": bytes([0]) + HANDSHAKE + bytes([REQ, 0]) + read()
    + bytes([TIME, 13, READ, 255, TIME, 255, DRAIN]),
    "raw": bytes([0, RAW, 0, 42]) + b"\xff" * 6 + b"\x06\0\0\0\0\x01"
    + b"\x08\x06" + bytes(24) + bytes([169, 254, 169, 254]) + read(),
}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, "mmds-net-" + name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
