#!/usr/bin/env python3
"""Write valid wisp snapshot state files as seeds for fuzz_snapfile.

Each seed is one mode byte (odd: fuzz_snapfile fixes magic, version and
CRC up before parsing) and a state file as vmm/snapfile.h lays it out.
"""
import os
import struct
import sys

END = 0xFFFFFFFF


TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ (0xC96C5795D7870F42 if _c & 1 else 0)
    TABLE.append(_c)


def crc64_xz(data):
    crc = 0xFFFFFFFFFFFFFFFF
    for b in data:
        crc = TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF


def state_file(sections):
    out = bytearray(b"WISPSNAP" + struct.pack("<II", 1, 0))
    for typ, index, payload in sections:
        out += struct.pack("<IIQ", typ, index, len(payload)) + payload
        out += bytes(-len(payload) % 8)
    out += struct.pack("<IIQ", END, 0, len(sections))
    return bytes(out + struct.pack("<Q", crc64_xz(out)))


def main():
    assert crc64_xz(b"123456789") == 0x995DC9BBDF1939FA
    out = sys.argv[1]
    seeds = {
        "empty": [],
        "one": [(1, 0, b"hello")],
        "vcpus": [(0x43505530, i, bytes(range(i, i + 40))) for i in range(4)],
        "mixed": [(1, 0, b""), (2, 0, b"x" * 8), (2, 1, b"y" * 9),
                  (3, 7, bytes(300))],
    }
    for name, sections in seeds.items():
        for mode in (0, 1):
            with open(os.path.join(out, f"seed-{name}-{mode}"), "wb") as f:
                f.write(bytes([mode]) + state_file(sections))


if __name__ == "__main__":
    main()
