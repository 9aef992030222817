#!/usr/bin/env python3
"""Write well-formed driver programs as seeds for fuzz_transport.

An input is one byte choosing the device (modulo 3: blk, net, vsock;
the rest of the byte its options), then operations: an opcode byte
(enum op in fuzz_transport.c) and its arguments, little-endian. Each
seed sets the device up as a Linux driver does (reset, ACKNOWLEDGE,
DRIVER, features, FEATURES_OK, every queue, DRIVER_OK), posts
requests, notifies and completes them, so that the fuzzer starts with a
working device and spends its time on orderings.
"""
import os
import struct
import sys

(REG, RAW, READ, INIT, QUEUE, GO, DESC, AVAIL, IDX, MEM, CHAIN, NOTIFY,
 PUMP, COMPLETE, RING_FULL, HOST) = range(16)
BLK, NET, VSOCK = 0, 1, 2
INDIRECT, EVENT_IDX = 1 << 28, 1 << 29


def u8(v):
    return struct.pack("<B", v & 0xff)


def u16(v):
    return struct.pack("<H", v & 0xffff)


def u32(v):
    return struct.pack("<I", v & 0xffffffff)


def val(v):
    """fz_val(): one byte below 0xf0, else a tag and a u16 or a u32."""
    if v < 0xf0:
        return u8(v)
    if v <= 0xffff:
        return u8(0xf0) + u16(v)
    return u8(0xf8) + u32(v)


def init(features):
    return u8(INIT) + u32(features) + u8(0)


def queue(sel, log2, base):
    """Descriptors at base, available ring at +0x1000, used at +0x1800."""
    return (u8(QUEUE) + u8(sel) + u8(log2) + u16(base) + u16(base + 0x1000)
            + u16(base + 0x1800))


def chain(q, head, args, how=0):
    return u8(CHAIN) + u8(q) + u8(how) + u8(head) + args


def notify(q):
    return u8(NOTIFY) + u8(q)


def complete(k=0, mode=0, v=0):
    """mode: 0 real result, 1 short, 2 an error; | 0x80: no flush yet"""
    return u8(COMPLETE) + u8(k) + u8(mode) + val(v)


def blk_req(kind, sector=0, nsec=1, extra=b""):
    """kind indexes fuzz_transport_dev.c's types[]: 0 IN, 1 OUT, 2
    FLUSH, 3 GET_ID, 4 DISCARD, 5 WRITE_ZEROES."""
    return u8(kind) + u8(sector) + u8(nsec) + extra


def blk_seeds():
    feat = (1 << 2) | (1 << 6) | (1 << 9) | (1 << 13) | (1 << 14)
    setup = u8(BLK) + init(feat | INDIRECT) + queue(0, 3, 0x1000) + u8(GO)
    out = {}
    reqs = {
        "in": blk_req(0, 2, 1), "out": blk_req(1, 3, 2),
        "flush": blk_req(2), "getid": blk_req(3),
        "discard": blk_req(4, extra=u8(8) + u8(8) + u8(0)),
        "wz": blk_req(5, extra=u8(16) + u8(8) + u8(1)),
    }
    for name, req in reqs.items():
        out["blk-" + name] = (setup + chain(0, 0, req) + notify(0)
                              + complete() + u8(PUMP))
    # Two reads, the second completing first, then a short one.
    out["blk-two"] = (setup + chain(0, 0, blk_req(0, 0, 1))
                      + chain(0, 3, blk_req(0, 4, 2), how=1) + notify(0)
                      + complete(1) + complete(0, 1, 100) + u8(PUMP))
    # Requests left in flight: they complete after whatever a mutation
    # appends (the target completes everything at the end).
    out["blk-inflight"] = (setup + chain(0, 0, blk_req(0, 1, 1))
                           + chain(0, 3, blk_req(1, 5, 1)) + notify(0))
    # The rings at the very end of guest RAM (the guard page follows).
    out["blk-top"] = (u8(BLK) + init(feat) + u8(QUEUE) + u8(0) + u8(3)
                      + u16(0xff00) + u16(0xff80) + u16(0xffb8) + u8(GO)
                      + chain(0, 2, blk_req(0, 7, 1)) + notify(0))
    # EVENT_IDX, a queue of 256 and a write that fails.
    out["blk-evt"] = (u8(BLK) + init(feat | EVENT_IDX)
                      + queue(0, 8, 0x1000) + u8(GO)
                      + chain(0, 7, blk_req(1, 1, 1)) + notify(0)
                      + complete(0, 2, 0) + u8(PUMP))
    return out


def net_seeds():
    # CSUM, GUEST_CSUM, MTU, MAC, MRG_RXBUF
    feat = (1 << 0) | (1 << 1) | (1 << 3) | (1 << 5) | (1 << 15)
    setup = (u8(NET) + init(feat | INDIRECT) + queue(0, 3, 0x1000)
             + queue(1, 3, 0x3000) + u8(GO))
    frame = bytes(12) + b"\xff" * 6 + b"\x02" + bytes(5) + b"\x88\xb5" \
        + bytes(range(46))
    rx = chain(0, 0, u8(0x80) + u16(0))            # one full buffer
    tx = chain(1, 0, u8(0) + u16(60))              # header + 60 bytes
    send = u8(HOST) + u8(0) + u16(len(frame)) + frame
    drain = u8(HOST) + u8(1)
    return {
        "net-rx": (setup + rx + send + notify(0) + u8(PUMP) + complete()
                   + u8(PUMP)),
        "net-tx": setup + tx + notify(1) + complete() + u8(PUMP) + drain,
        "net-both": (setup + rx + chain(0, 1, u8(0x81) + u16(0)) + tx
                     + chain(1, 2, u8(0x40) + u16(100)) + send + notify(1)
                     + notify(0) + complete(1) + complete(0) + complete()
                     + u8(PUMP) + drain),
        "net-plain": (u8(NET) + init(1 << 5) + queue(0, 4, 0x1000)
                      + queue(1, 4, 0x3000) + u8(GO) + rx + send
                      + notify(0) + complete() + u8(PUMP)),
    }


def vsock_seeds():
    setup = (u8(VSOCK) + init(INDIRECT) + queue(0, 3, 0x0000)
             + queue(1, 3, 0x2000) + queue(2, 3, 0x4000) + u8(GO))
    rx = b"".join(chain(0, i, u8(0) + u16(0x400)) for i in range(4))
    ev = chain(2, 0, u8(0) + u16(8))

    def tx(head, op, dst=0, payload=0, flags=0):
        # how 0: cid 3 -> 2, stream; src port 1024, dst port by selector
        return chain(1, head, u8(0) + u16(payload) + u8(2) + u8(dst)
                     + u8(op) + u8(flags))
    accept = u8(HOST) + u8(1) + u8(0)
    connect = u8(HOST) + u8(0) + u8(1)    # CONNECT 1024
    write = u8(HOST) + u8(2) + u8(0) + u8(2) + bytes(range(32))
    return {
        "vsock-guest": (setup + rx + ev + notify(0) + tx(0, 1) + notify(1)
                        + u8(PUMP) + accept + u8(PUMP) + write + u8(PUMP)
                        + tx(1, 5, payload=64) + notify(1) + u8(PUMP)
                        + tx(2, 4, flags=3) + notify(1) + u8(PUMP)),
        "vsock-host": (setup + rx + connect + u8(PUMP) + notify(0)
                       + tx(0, 2, dst=1) + notify(1) + u8(PUMP) + write
                       + u8(PUMP) + u8(HOST) + u8(6) + u8(0) + notify(2)),
    }


def main(out):
    os.makedirs(out, exist_ok=True)
    for seeds in (blk_seeds(), net_seeds(), vsock_seeds()):
        for name, data in seeds.items():
            with open(os.path.join(out, "seed-" + name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
