#!/usr/bin/env python3
"""Write valid wisp snapshot state files as seeds for fuzz_snapfile.

Each seed is one mode byte (odd: fuzz_snapfile fixes magic, version and
CRC up before parsing) and a state file as vmm/snapfile.h lays it out.
config_records() and parse_records() are the CONFIG section's encoding
(vmm/snapconfig.h), for the seeds and for tests/integration/snap_mutate.py.
"""
import os
import struct
import sys

END = 0xFFFFFFFF
SNAP_VERSION = 2
SEC_CONFIG = 2
SNAPCFG_VERSION = 1
SKIPPABLE = 0x8000
# enum snapcfg_tag of vmm/snapconfig.h
TAGS = {
    "vcpus": 0x0001, "mem_mib": 0x0002, "huge_pages": 0x0003,
    "drives": 0x0004, "nets": 0x0005,
    "drive_id": 0x0101, "drive_path": 0x0102, "drive_root": 0x0103,
    "drive_read_only": 0x0104, "drive_cache": 0x0105,
    "drive_io_sync": 0x0106, "drive_partuuid": 0x0107,
    "drive_bandwidth": 0x0108, "drive_ops": 0x0109,
    "net_id": 0x0201, "net_tap": 0x0202, "net_mac": 0x0203,
    "net_rx_bandwidth": 0x0204, "net_rx_ops": 0x0205,
    "net_tx_bandwidth": 0x0206, "net_tx_ops": 0x0207,
    "vsock_cid": 0x0301, "vsock_uds": 0x0302, "vsock_id": 0x0303,
}


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


def state_file(sections, version=SNAP_VERSION):
    out = bytearray(b"WISPSNAP" + struct.pack("<II", version, 0))
    for typ, index, payload in sections:
        out += struct.pack("<IIQ", typ, index, len(payload)) + payload
        out += bytes(-len(payload) % 8)
    out += struct.pack("<IIQ", END, 0, len(sections))
    return bytes(out + struct.pack("<Q", crc64_xz(out)))


def config_records(records, version=SNAPCFG_VERSION):
    """A CONFIG section from [tag, index, value] records."""
    out = bytearray(struct.pack("<I", version))
    for tag, index, value in records:
        out += struct.pack("<HHI", tag, index, len(value)) + value
    return bytes(out)


def parse_records(payload):
    """(version, [[tag, index, value]]) of a well-formed CONFIG section."""
    version, off, out = struct.unpack_from("<I", payload)[0], 4, []
    while off < len(payload):
        tag, index, n = struct.unpack_from("<HHI", payload, off)
        out.append([tag, index, bytearray(payload[off + 8:off + 8 + n])])
        off += 8 + n
    return version, out


def config_seed():
    """A machine with every field set: one drive, one interface, vsock."""
    t, u32, u64 = TAGS, (lambda v: struct.pack("<I", v)), (lambda v: struct.pack("<Q", v))
    bucket = struct.pack("<QQQ", 1 << 20, 4096, 100)
    return config_records([
        (t["vcpus"], 0, u32(2)), (t["mem_mib"], 0, u64(128)),
        (t["huge_pages"], 0, b"\0"), (t["drives"], 0, u32(1)),
        (t["nets"], 0, u32(1)),
        (t["drive_id"], 0, b"root\0"), (t["drive_path"], 0, b"/x.img\0"),
        (t["drive_root"], 0, b"\1"), (t["drive_read_only"], 0, b"\0"),
        (t["drive_cache"], 0, b"\1"), (t["drive_io_sync"], 0, b"\0"),
        (t["drive_partuuid"], 0, b"0eaf-01\0"),
        (t["drive_bandwidth"], 0, bucket), (t["drive_ops"], 0, bucket),
        (t["net_id"], 0, b"eth0\0"), (t["net_tap"], 0, b"tap0\0"),
        (t["net_mac"], 0, bytes([6, 0, 0, 0, 0, 1])),
        (t["net_rx_bandwidth"], 0, bucket), (t["net_tx_ops"], 0, bucket),
        (t["vsock_cid"], 0, u32(3)), (t["vsock_uds"], 0, b"/v.sock\0"),
        (t["vsock_id"], 0, b"v0\0"),
    ])


def main():
    assert crc64_xz(b"123456789") == 0x995DC9BBDF1939FA
    out = sys.argv[1]
    seeds = {
        "empty": [],
        "one": [(1, 0, b"hello")],
        "vcpus": [(0x43505530, i, bytes(range(i, i + 40))) for i in range(4)],
        "mixed": [(1, 0, b""), (2, 0, b"x" * 8), (2, 1, b"y" * 9),
                  (3, 7, bytes(300))],
        "config": [(1, 0, bytes(64)), (SEC_CONFIG, 0, config_seed())],
    }
    for name, sections in seeds.items():
        for mode in (0, 1):
            with open(os.path.join(out, f"seed-{name}-{mode}"), "wb") as f:
                f.write(bytes([mode]) + state_file(sections))


if __name__ == "__main__":
    main()
