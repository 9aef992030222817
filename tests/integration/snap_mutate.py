#!/usr/bin/env python3
"""Hostile state files for the snapshot tier: a good state file with
bytes changed inside one section's payload and the container made valid
again (CRC-64/XZ fixed), so the load gets past the container checks and
every device and KVM state check is what stands in the way.

  snap_mutate.py STATE OUTDIR PER_SECTION SEED

writes OUTDIR/<type>-<n>.state for every section type of STATE but the
first (INFO), PER_SECTION files each, and prints their names.
"""
import os
import random
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "fuzz"))
from snap_seeds import END, state_file  # noqa: E402


def sections(buf):
    off, out = 16, []
    while True:
        typ, index, length = struct.unpack_from("<IIQ", buf, off)
        off += 16
        if typ == END:
            return out
        out.append([typ, index, bytearray(buf[off:off + length])])
        off += length + (-length % 8)


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


def main(a):
    good = sections(open(a[1], "rb").read())
    rng = random.Random(int(a[4]))
    types = sorted({t for t, _, p in good if t != 1 and p})
    for typ in types:
        for n in range(int(a[3])):
            secs = [[t, i, bytearray(p)] for t, i, p in good]
            mutate(rng, rng.choice([s for s in secs if s[0] == typ])[2])
            name = os.path.join(a[2], f"{typ}-{n}.state")
            open(name, "wb").write(state_file(secs))
            print(name)


if __name__ == "__main__":
    main(sys.argv)
