#!/usr/bin/env python3
"""The host end of the probe guest's virtio-net tests, on a tap interface.

  net_peer.py recv IFACE COUNT TIMEOUT   print each test frame's seq; exit 0
                                         when COUNT arrived, all well formed
  net_peer.py send IFACE COUNT           send COUNT test frames, seq 0..
  net_peer.py flood IFACE SECONDS        send 1514-byte test frames as fast
                                         as the tap takes them, for SECONDS

Test frames are what tests/guest/net.c builds: EtherType 0x88b5, seq (u32
BE), length (u16 BE), then byte k = (seq * 7 + k) & 0xff, frame i being
60 + (i * 331) % 1455 bytes long. Other frames on the tap (the host's own
IPv6 chatter, say) are ignored.
"""
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETYPE = 0x88B5


def frame_len(seq):
    return 60 + (seq * 331) % 1455


def make_frame(seq, src=b"\x02\x00\x00\x00\x00\x01"):
    n = frame_len(seq)
    head = b"\xff" * 6 + src + struct.pack(">HIH", ETYPE, seq, n)
    return head + bytes((seq * 7 + k) & 0xFF for k in range(20, n))


def check(f):
    """(seq, src mac) of a good test frame, None for other traffic."""
    if len(f) < 20 or struct.unpack(">H", f[12:14])[0] != ETYPE:
        return None
    seq, n = struct.unpack(">IH", f[14:20])
    if n != len(f) or n != frame_len(seq):
        raise ValueError(f"frame seq {seq}: length {len(f)}, header says {n}")
    want = bytes((seq * 7 + k) & 0xFF for k in range(20, n))
    if f[20:] != want:
        raise ValueError(f"frame seq {seq}: payload differs")
    return seq, f[6:12].hex(":")


def recv(iface, count, timeout):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    s.settimeout(0.2)
    print("listening", flush=True)
    got, end = 0, time.monotonic() + timeout
    while got < count and time.monotonic() < end:
        try:
            f, addr = s.recvfrom(65536)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        try:
            r = check(f)
        except ValueError as e:
            print(f"bad {e}", flush=True)
            return 1
        if r:
            print(f"frame {r[0]} from {r[1]} len {len(f)}", flush=True)
            got += 1
    # Nothing more may come: a frame past COUNT is a failure too.
    s.settimeout(0.3)
    try:
        while True:
            f, addr = s.recvfrom(65536)
            if addr[2] != socket.PACKET_OUTGOING and check(f):
                print(f"extra frame {check(f)[0]}", flush=True)
                return 1
    except socket.timeout:
        pass
    print(f"received {got} of {count}", flush=True)
    return 0 if got == count else 1


def send(iface, count):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    for seq in range(count):
        s.send(make_frame(seq))
    print(f"sent {count}", flush=True)
    return 0


def flood(iface, seconds):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    f, sent, end = make_frame(1244), 0, time.monotonic() + seconds  # 1514 bytes
    while time.monotonic() < end:
        for _ in range(256):
            try:
                s.send(f)
                sent += 1
            except (BlockingIOError, OSError):
                time.sleep(0.0005)
    print(f"flooded {sent}", flush=True)
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "flood":
        return flood(argv[2], float(argv[3]))
    if len(argv) >= 4 and argv[1] == "recv":
        return recv(argv[2], int(argv[3]), float(argv[4]) if len(argv) > 4 else 10)
    if len(argv) == 4 and argv[1] == "send":
        return send(argv[2], int(argv[3]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
