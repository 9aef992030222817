#!/usr/bin/env python3
"""Hostile state files for the snapshot tier: a good state file with
bytes changed inside one section's payload and the container made valid
again (CRC-64/XZ fixed), so the load gets past the container checks and
every device and KVM state check is what stands in the way.

  snap_mutate.py STATE OUTDIR PER_SECTION SEED

writes OUTDIR/<type>-<n>.state for every section type of STATE but the
first (INFO), PER_SECTION files each, and prints their names.

  snap_mutate.py config STATE OUTDIR

writes one file for each way the CONFIG section (vmm/snapconfig.h) can
be malformed or out of range, and prints "FILE<tab>WHAT", WHAT being a
piece of the message its load must be refused with, or LOADS for a file
that must load (an unknown tag a reader may skip). STATE must be of
format version 2 with a drive, an interface and vsock; of format
version 1, the raw structure is mutated instead.
"""
import os
import random
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "fuzz"))
from snap_seeds import (END, SEC_CONFIG, SKIPPABLE, TAGS,  # noqa: E402
                        config_records, parse_records, state_file)


def sections(buf):
    off, out = 16, []
    while True:
        typ, index, length = struct.unpack_from("<IIQ", buf, off)
        off += 16
        if typ == END:
            return out
        out.append([typ, index, bytearray(buf[off:off + length])])
        off += length + (-length % 8)


def version_of(buf):
    return struct.unpack_from("<I", buf, 8)[0]


def mutate(rng, p):
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(p))
        how = rng.randrange(3)
        if how == 0 or i + 4 > len(p):
            p[i] = rng.randrange(256)
        elif how == 1:
            p[i:i + 4] = b"\xff\xff\xff\xff"
        else:
            p[i:i + 4] = struct.pack("<I", rng.randrange(1 << 32))


def random_mutants(a):
    buf = open(a[1], "rb").read()
    good, version = sections(buf), version_of(buf)
    rng = random.Random(int(a[4]))
    types = sorted({t for t, _, p in good if t != 1 and p})
    for typ in types:
        for n in range(int(a[3])):
            secs = [[t, i, bytearray(p)] for t, i, p in good]
            mutate(rng, rng.choice([s for s in secs if s[0] == typ])[2])
            name = os.path.join(a[2], f"{typ}-{n}.state")
            open(name, "wb").write(state_file(secs, version))
            print(name)


def find(recs, tag, index=0):
    for r in recs:
        if r[0] == TAGS[tag] and r[1] == index:
            return r
    raise SystemExit(f"snap_mutate: the state file has no {tag} record")


def record_mutants(payload):
    """(name, new CONFIG payload, WHAT) for a records section."""
    version, good = parse_records(payload)
    enc = config_records(good, version)
    u32 = lambda v: struct.pack("<I", v)  # noqa: E731

    def edit(tag, value, index=0):
        recs = [[t, i, bytearray(v)] for t, i, v in good]
        find(recs, tag, index)[2] = bytearray(value)
        return config_records(recs, version)

    def add(tag, index, value):
        return config_records(good + [[tag, index, value]], version)

    path = bytes(find(good, "drive_path")[2])
    yield "truncated-record", enc[:-3], "past the section's end"
    yield "truncated-head", enc + bytes(5), "is cut short"
    oversized = bytearray(enc)
    oversized[8:12] = u32(0xFFFFFFFF)  # the first record's length
    yield "oversized-length", bytes(oversized), "past the section's end"
    yield "unknown-tag", add(0x0777, 0, b"\1"), "tag 0x0777 is unknown"
    yield "skippable-tag", add(SKIPPABLE | 0x0777, 0, b"new"), "LOADS"
    yield "bool-2", edit("drive_read_only", b"\2"), \
        "is_read_only): 2 is not one of its values (a boolean: 0 or 1)"
    yield "path-unterminated", edit("drive_path", path[:-1] + b"x"), \
        "path_on_host): the string is not NUL-terminated"
    yield "path-too-long", edit("drive_path", b"/" * 4096 + b"\0"), \
        "a string of 4097 bytes, the field holds 4096"
    yield "version-2", config_records(good, 2), \
        "encoding version 2; this wisp reads version 1"
    yield "twice", add(TAGS["vcpus"], 0, u32(1)), "given twice"
    yield "no-path", config_records(
        [r for r in good if r[0] != TAGS["drive_path"]], version), \
        "drive 0: path_on_host is missing"
    yield "vcpus-0", edit("vcpus", u32(0)), "vcpu_count 0 is not in 1..32"
    yield "slot-past-count", add(TAGS["drive_root"], 1, b"\0"), \
        "records for drive 1, of 1 drives"
    yield "bad-id", edit("drive_id", b"d/0\0"), "drive_id 'd/0' is not"
    yield "bad-tap", edit("net_tap", b"a/b\0"), \
        "host_dev_name 'a/b' is not an interface name"
    yield "multicast", edit("net_mac", b"\1\0\0\0\0\1"), \
        "is a multicast address"
    yield "cache-3", edit("drive_cache", b"\3"), "cache_type): 3 is not"


def legacy_mutants(payload):
    """The same for the raw structure of format version 1."""
    def at(off, value):
        p = bytearray(payload)
        p[off:off + len(value)] = value
        return bytes(p)

    drive = 24
    yield "v1-short", payload[:-1], "format version 1 has 35696"
    yield "v1-bool-2", at(drive + 4129, b"\2"), \
        "is_read_only of slot 0 is 2, not a boolean (0 or 1)"
    yield "v1-unterminated", at(drive, b"a" * 32), \
        "drive_id of slot 0 is not NUL-terminated"
    yield "v1-huge-2", at(4, struct.pack("<I", 2)), \
        "huge_pages 2 is not None or 2M"
    yield "v1-drives-9", at(16, struct.pack("<I", 9)), "9 drives"


# vCPU 0's counts of MSRs and CPUID leaves (struct x86_vcpu_state ends
# with nmsrs, 4 bytes of padding, 256 MSRs of 16 bytes, ncpuid, 128
# leaves of 40 bytes and 4 of padding), over their arrays: refused before
# anything reads the arrays.
SEC_VCPU = 4
NCPUID_FROM_END = 128 * 40 + 4 + 4
NMSRS_FROM_END = NCPUID_FROM_END + 256 * 16 + 4 + 4


def vcpu_mutants(payload):
    for name, back in (("ncpuid", NCPUID_FROM_END),
                       ("nmsrs", NMSRS_FROM_END)):
        p = bytearray(payload)
        off = len(p) - back
        p[off:off + 4] = struct.pack("<I", 0xffffffff)
        yield f"vcpu0-{name}", bytes(p), "4294967295 " + \
            ("CPUID leaves" if name == "ncpuid" else "MSRs, at most")


def config_mutants(a):
    buf = open(a[2], "rb").read()
    good, version = sections(buf), version_of(buf)
    payload = bytes([p for t, i, p in good if t == SEC_CONFIG][0])
    vcpu0 = bytes([p for t, i, p in good if t == SEC_VCPU and i == 0][0])
    each = legacy_mutants if version == 1 else record_mutants
    muts = [(SEC_CONFIG, m) for m in each(payload)]
    if version != 1:
        muts += [(SEC_VCPU, m) for m in vcpu_mutants(vcpu0)]
    for typ, (name, new, what) in muts:
        secs = [[t, i, new if (t, i) == (typ, 0) else p]
                for t, i, p in good]
        path = os.path.join(a[3], f"{name}.state")
        open(path, "wb").write(state_file(secs, version))
        print(f"{path}\t{what}")


if __name__ == "__main__":
    if sys.argv[1] == "config":
        config_mutants(sys.argv)
    else:
        random_mutants(sys.argv)
